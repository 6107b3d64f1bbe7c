//! The directory of live rooms: room id → handle plus what the room API
//! knows about the room (capacity, public flag, metadata, creation time, seats
//! reserved for outstanding join tickets). A room is created on its first
//! WebSocket join (public, default capacity, no metadata) or through the room
//! API, and started through the [`Placement`] (today: the least-loaded tick
//! worker). The registry never names workers or their messages, and rooms
//! never call it: a room that closes sets its [`RoomShared::closed`] flag and
//! the registry forgets it at the next lookup. Nothing on the tick path takes
//! the registry's lock.
//!
//! Room ids are opaque strings from the URL (validated by [`valid_room_id`]);
//! keeping the directory behind this one type is what lets a consistent-hash
//! ring sit in front of it later (a node answers only for the ids it owns).
//!
//! Seats: a room's occupancy is its players (the room thread's count) plus
//! its unexpired reservations. Reserving and choosing a room for matchmaking
//! happen under the directory's one lock, so concurrent matchmakes never hand
//! out more seats than a room has. The room thread still enforces capacity on
//! join (1013), so nothing can overfill a room; a reservation only keeps others
//! from taking the seat.
//!
//! Limits on starting rooms ([`Registry::with_limits`]): at most `--max-rooms`
//! live rooms ([`RoomError::TooManyRooms`]), and the creator's address charged
//! in the [`CreationLimiter`] ([`RoomError::TooManyCreations`]), both checked
//! under the directory's lock only when a room would really start, and
//! counted in `tickroom_rooms_refused_total`.
//!
//! [`RoomShared::closed`]: crate::room::RoomShared::closed

use std::{
    cmp::Reverse,
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Map, Value};
use tickroom_protocol::record::ContinueCause;
use tokio::sync::oneshot;

use crate::{
    metrics::RoomLimitMetrics,
    net::close::CloseRequest,
    room::{
        RoomCmd, RoomGame, RoomHandle, RoomSettings,
        placement::{Placement, PlacementError},
        room_limits::{CreationLimiter, DEFAULT_TABLE_CAP},
        snapshot::RoomSnapshot,
    },
    signing::random_u64,
    tickets::{Ticket, TicketBook, TicketError},
};

/// Longest room id, in bytes.
pub const MAX_ROOM_ID_BYTES: usize = 64;

/// Whether `id` is a usable room id: 1 to 64 of `A-Z a-z 0-9 - _ .`.
pub fn valid_room_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ROOM_ID_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A fresh room id: `r-` and ten lowercase base32 characters (50 random bits).
pub fn generated_room_id() -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bits = random_u64();
    let mut id = String::from("r-");
    for _ in 0..10 {
        id.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    id
}

/// Why the registry could not give a room to a WebSocket join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The server is draining; no new joins.
    #[error("the server is draining")]
    Draining,
    /// No tick worker is running.
    #[error("no tick worker is running")]
    NoWorker,
    /// The node runs `--max-rooms` rooms: no new one starts.
    #[error("this node runs as many rooms as it may (--max-rooms)")]
    TooManyRooms,
    /// The creator's address started `--room-creations-per-ip` rooms this minute.
    #[error("too many new rooms from this address; retry in a minute")]
    TooManyCreations,
    /// The room exists and runs another game than the one asked for.
    #[error("the room runs {0}, not the game asked for")]
    OtherGame(&'static str),
}

/// Why a room API operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// The server is draining; no new rooms or seats.
    #[error("the server is shutting down")]
    Draining,
    /// No tick worker is running.
    #[error("no tick worker is running")]
    NoWorker,
    /// A room with the requested id exists.
    #[error("a room with this id exists")]
    Exists,
    /// No room has this id.
    #[error("no room with this id")]
    NotFound,
    /// Every seat is taken by a player or a reservation.
    #[error("the room is full")]
    Full,
    /// The node runs `--max-rooms` rooms: no new one starts.
    #[error("this node runs as many rooms as it may (--max-rooms)")]
    TooManyRooms,
    /// The creator's address started `--room-creations-per-ip` rooms this minute.
    #[error("too many new rooms from this address; retry in a minute")]
    TooManyCreations,
    /// The room runs another game than the one asked for.
    #[error("the room runs {0}, not the game asked for")]
    OtherGame(&'static str),
}

impl From<PlacementError> for RegistryError {
    fn from(e: PlacementError) -> RegistryError {
        match e {
            PlacementError::NoWorker => RegistryError::NoWorker,
            // The config was checked when the room was asked for: a game
            // whose rooms then fail to start has a bug; logged, and the room
            // is unavailable like one with no worker.
            PlacementError::Game(why) => {
                tracing::error!(error = %why, "a game failed to start a room with a config it accepted");
                RegistryError::NoWorker
            }
        }
    }
}

impl From<RegistryError> for RoomError {
    fn from(e: RegistryError) -> RoomError {
        match e {
            RegistryError::Draining => RoomError::Draining,
            RegistryError::NoWorker => RoomError::NoWorker,
            RegistryError::TooManyRooms => RoomError::TooManyRooms,
            RegistryError::TooManyCreations => RoomError::TooManyCreations,
            RegistryError::OtherGame(g) => RoomError::OtherGame(g),
        }
    }
}

/// What the room API knows about a room besides its handle.
#[derive(Debug, Clone)]
pub struct RoomInfo {
    /// Its game and config.
    pub game: RoomGame,
    /// Players the room holds (its thread enforces this).
    pub capacity: usize,
    /// Listed by `GET /rooms` and eligible for matchmaking.
    pub public: bool,
    /// Free-form JSON given at creation (empty for rooms made by a join).
    pub metadata: Arc<Map<String, Value>>,
    /// When the room was created.
    pub created: Instant,
}

/// How to create a room through the API (values already validated).
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// Its game and config.
    pub game: RoomGame,
    /// The id to use; `None` generates one ([`generated_room_id`]).
    pub id: Option<String>,
    /// Players the room holds.
    pub capacity: usize,
    /// Listed and matchmade.
    pub public: bool,
    /// Free-form metadata.
    pub metadata: Map<String, Value>,
}

/// One room as the API shows it.
#[derive(Debug, Clone)]
pub struct RoomSummary {
    /// Room id.
    pub id: Arc<str>,
    /// Its game.
    pub game: &'static str,
    /// Its game's config.
    pub config: Arc<Value>,
    /// Players in the room (connected or within their resume grace).
    pub players: usize,
    /// Seats held for unexpired, unredeemed tickets.
    pub reserved: usize,
    /// Players the room holds.
    pub capacity: usize,
    /// Listed and matchmade.
    pub public: bool,
    /// Metadata given at creation.
    pub metadata: Arc<Map<String, Value>>,
    /// Time since creation.
    pub age: Duration,
}

/// What [`Registry::matchmake_or`] does when no live room fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewRoom {
    /// Start a room with a generated id.
    Generate,
    /// Start this room (its id was placed on this node).
    Id(Arc<str>),
    /// Start nothing: [`RoomError::NotFound`].
    Nothing,
}

/// A seat held for the holder of one ticket (same nonce) until it expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// The ticket's nonce.
    pub nonce: u64,
    /// The ticket's expiry, in Unix milliseconds.
    pub expires_ms: u64,
}

#[derive(Debug)]
struct Entry {
    handle: RoomHandle,
    info: RoomInfo,
    reservations: Vec<Reservation>,
}

impl Entry {
    fn prune(&mut self, now_ms: u64) {
        self.reservations.retain(|r| r.expires_ms > now_ms);
    }

    fn occupied(&self) -> usize {
        self.handle.shared.players() + self.reservations.len()
    }

    /// Reserves a seat if one is free (call after [`Entry::prune`]).
    fn reserve(&mut self, ttl_ms: u64, now_ms: u64) -> Option<Reservation> {
        if self.occupied() >= self.info.capacity {
            return None;
        }
        let r = Reservation {
            nonce: random_u64(),
            expires_ms: now_ms.saturating_add(ttl_ms),
        };
        self.reservations.push(r);
        // The room must not close as idle while the ticket may still come.
        self.handle.shared.hold_until(r.expires_ms);
        Some(r)
    }

    fn summary(&self, now: Instant) -> RoomSummary {
        RoomSummary {
            id: Arc::clone(&self.handle.id),
            game: self.info.game.name(),
            config: Arc::clone(&self.info.game.config),
            players: self.handle.shared.players(),
            reserved: self.reservations.len(),
            capacity: self.info.capacity,
            public: self.info.public,
            metadata: Arc::clone(&self.info.metadata),
            age: now.saturating_duration_since(self.info.created),
        }
    }
}

type Rooms = HashMap<Arc<str>, Entry>;

/// All live rooms of this process.
#[derive(Debug)]
pub struct Registry {
    rooms: Mutex<Rooms>,
    placement: Arc<dyn Placement>,
    settings: RoomSettings,
    draining: AtomicBool,
    next_serial: AtomicU64,
    tickets: TicketBook,
    max_rooms: usize,
    creations: Mutex<CreationLimiter>,
    limit_metrics: RoomLimitMetrics,
}

impl Registry {
    /// A registry starting rooms through `placement`.
    pub fn new(placement: Arc<dyn Placement>, settings: RoomSettings) -> Self {
        Registry {
            rooms: Mutex::new(HashMap::new()),
            placement,
            settings,
            draining: AtomicBool::new(false),
            next_serial: AtomicU64::new(1),
            tickets: TicketBook::new(),
            max_rooms: usize::MAX,
            creations: Mutex::new(CreationLimiter::new(0, 1)),
            limit_metrics: RoomLimitMetrics::noop(),
        }
    }

    /// This registry with at most `max_rooms` live rooms and at most
    /// `creations_per_min` rooms started per creator address a minute (0: no
    /// limit), its refusals counted in `metrics`.
    pub fn with_limits(
        mut self,
        max_rooms: usize,
        creations_per_min: u32,
        metrics: RoomLimitMetrics,
    ) -> Self {
        self.max_rooms = max_rooms;
        self.creations = Mutex::new(CreationLimiter::new(creations_per_min, DEFAULT_TABLE_CAP));
        self.limit_metrics = metrics;
        self
    }

    /// Spends one room creation for `creator` (`None`: not limited per
    /// address), unless room `room` is live already (nothing would start).
    /// For a creation decided here but made elsewhere: a WebSocket join for
    /// a room the join will start, or a request forwarded to the node that
    /// will start the room.
    pub fn charge_creation(
        &self,
        room: Option<&str>,
        creator: Option<IpAddr>,
    ) -> Result<(), RoomError> {
        let Some(ip) = creator else {
            return Ok(());
        };
        if room.is_some_and(|id| self.contains(id)) {
            return Ok(());
        }
        self.take_creation(ip).map_err(RoomError::from)
    }

    fn take_creation(&self, ip: IpAddr) -> Result<(), RegistryError> {
        let mut limiter = self.creations.lock().unwrap_or_else(|e| e.into_inner());
        if limiter.try_take(ip, Instant::now()) {
            Ok(())
        } else {
            self.limit_metrics.refused_creation_rate.increment(1);
            Err(RegistryError::TooManyCreations)
        }
    }

    fn lock(&self) -> MutexGuard<'_, Rooms> {
        // Critical sections leave the map consistent at every step: a poisoned
        // lock holds a usable map. Rooms that closed are forgotten here.
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.retain(|_, e| !e.handle.shared.is_closed());
        rooms
    }

    /// Starts a room and records it, unless the node runs `--max-rooms`
    /// rooms or `creator` (`None`: not limited per address) is over its
    /// creations. Called with the lock held.
    fn spawn<'a>(
        &self,
        rooms: &'a mut Rooms,
        id: Arc<str>,
        info: RoomInfo,
        creator: Option<IpAddr>,
    ) -> Result<&'a mut Entry, RegistryError> {
        if rooms.len() >= self.max_rooms {
            self.limit_metrics.refused_max_rooms.increment(1);
            return Err(RegistryError::TooManyRooms);
        }
        if let Some(ip) = creator {
            self.take_creation(ip)?;
        }
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let settings = self.settings_for(&info);
        let handle = self.placement.start(Arc::clone(&id), serial, &settings)?;
        let entry = Entry {
            handle,
            info,
            reservations: Vec::new(),
        };
        Ok(rooms.entry(id).insert_entry(entry).into_mut())
    }

    /// This node's room settings with `info`'s capacity, game and listing.
    fn settings_for(&self, info: &RoomInfo) -> RoomSettings {
        RoomSettings {
            capacity: info.capacity,
            game: info.game.clone(),
            public: info.public,
            metadata: Arc::clone(&info.metadata),
            ..self.settings.clone()
        }
    }

    /// What a room created by a WebSocket join (or by matchmaking) gets.
    fn default_info(&self, metadata: Map<String, Value>) -> RoomInfo {
        RoomInfo {
            game: self.settings.game.clone(),
            capacity: self.settings.capacity,
            public: true,
            metadata: Arc::new(metadata),
            created: Instant::now(),
        }
    }

    /// The handle of room `id`, creating the room (public, default capacity,
    /// no metadata, of `game` or the default game) if it does not exist. An
    /// existing room of another game than `game` names is refused.
    pub fn get_or_create(
        &self,
        id: &str,
        game: Option<&RoomGame>,
    ) -> Result<RoomHandle, RegistryError> {
        if self.is_draining() {
            return Err(RegistryError::Draining);
        }
        let mut rooms = self.lock();
        if let Some(entry) = rooms.get(id) {
            if let Some(g) = game
                && g.name() != entry.info.game.name()
            {
                return Err(RegistryError::OtherGame(entry.info.game.name()));
            }
            return Ok(entry.handle.clone());
        }
        let mut info = self.default_info(Map::new());
        if let Some(g) = game {
            info.game = g.clone();
        }
        Ok(self
            .spawn(&mut rooms, Arc::from(id), info, None)?
            .handle
            .clone())
    }

    /// Creates a room through the API: [`RoomError::Exists`] if the id is taken.
    pub fn create(&self, options: RoomOptions) -> Result<RoomSummary, RoomError> {
        self.create_by(options, None)
    }

    /// [`Registry::create`], the room's start charged to `creator` (`None`:
    /// not limited per address).
    pub fn create_by(
        &self,
        options: RoomOptions,
        creator: Option<IpAddr>,
    ) -> Result<RoomSummary, RoomError> {
        if self.is_draining() {
            return Err(RoomError::Draining);
        }
        let mut rooms = self.lock();
        let id: Arc<str> = match options.id {
            Some(id) if rooms.contains_key(id.as_str()) => return Err(RoomError::Exists),
            Some(id) => Arc::from(id),
            None => fresh_id(&rooms),
        };
        let info = RoomInfo {
            game: options.game,
            capacity: options.capacity,
            public: options.public,
            metadata: Arc::new(options.metadata),
            created: Instant::now(),
        };
        let entry = self.spawn(&mut rooms, id, info, creator)?;
        Ok(entry.summary(Instant::now()))
    }

    /// Room `id` as the API shows it.
    pub fn summary(&self, id: &str, now_ms: u64) -> Option<RoomSummary> {
        let mut rooms = self.lock();
        let entry = rooms.get_mut(id)?;
        entry.prune(now_ms);
        Some(entry.summary(Instant::now()))
    }

    /// Every public room, sorted by id.
    pub fn list_public(&self, now_ms: u64) -> Vec<RoomSummary> {
        let now = Instant::now();
        let mut list: Vec<RoomSummary> = self
            .lock()
            .values_mut()
            .filter(|e| e.info.public)
            .map(|e| {
                e.prune(now_ms);
                e.summary(now)
            })
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }

    /// Holds a seat in room `id` for `ttl_ms`: [`RoomError::Full`] when
    /// players plus unexpired reservations fill it.
    pub fn reserve(&self, id: &str, ttl_ms: u64, now_ms: u64) -> Result<Reservation, RoomError> {
        if self.is_draining() {
            return Err(RoomError::Draining);
        }
        let mut rooms = self.lock();
        let entry = rooms.get_mut(id).ok_or(RoomError::NotFound)?;
        entry.prune(now_ms);
        entry.reserve(ttl_ms, now_ms).ok_or(RoomError::Full)
    }

    /// Quick match: a seat in the fullest public room with a free seat whose
    /// metadata has every key/value of `filter` (ties: fewer free seats, then
    /// the older room), or else in a new public room with default capacity
    /// and `filter` as its metadata.
    pub fn matchmake(
        &self,
        filter: &Map<String, Value>,
        ttl_ms: u64,
        now_ms: u64,
    ) -> Result<(Arc<str>, Reservation), RoomError> {
        self.matchmake_or(filter, None, ttl_ms, now_ms, NewRoom::Generate, None)
    }

    /// [`Registry::matchmake`] among the rooms of `game` (`None`: the
    /// default game; a room it starts runs that game with its default
    /// config), choosing what happens when no room fits:
    /// [`NewRoom::Id`] starts that room (a cluster node placed the id here),
    /// [`NewRoom::Nothing`] answers [`RoomError::NotFound`]. A room started
    /// is charged to `creator` (`None`: not limited per address).
    pub fn matchmake_or(
        &self,
        filter: &Map<String, Value>,
        game: Option<&RoomGame>,
        ttl_ms: u64,
        now_ms: u64,
        new_room: NewRoom,
        creator: Option<IpAddr>,
    ) -> Result<(Arc<str>, Reservation), RoomError> {
        if self.is_draining() {
            return Err(RoomError::Draining);
        }
        let game = game.unwrap_or(&self.settings.game);
        let mut rooms = self.lock();
        let best = rooms
            .values_mut()
            .filter(|e| {
                e.info.public
                    && e.info.game.name() == game.name()
                    && filter
                        .iter()
                        .all(|(k, v)| e.info.metadata.get(k) == Some(v))
            })
            .filter_map(|e| {
                e.prune(now_ms);
                let occupied = e.occupied();
                let free = e.info.capacity.checked_sub(occupied).filter(|&f| f > 0)?;
                Some((
                    Reverse(occupied),
                    free,
                    e.info.created,
                    Arc::clone(&e.handle.id),
                ))
            })
            .min();
        let entry = match best {
            Some((.., id)) => rooms
                .get_mut(&id)
                .unwrap_or_else(|| unreachable!("chosen under the same lock")),
            None => {
                let id = match new_room {
                    NewRoom::Generate => fresh_id(&rooms),
                    NewRoom::Id(id) if rooms.contains_key(&id) => return Err(RoomError::Full),
                    NewRoom::Id(id) => id,
                    NewRoom::Nothing => return Err(RoomError::NotFound),
                };
                let info = RoomInfo {
                    game: game.clone(),
                    ..self.default_info(filter.clone())
                };
                self.spawn(&mut rooms, id, info, creator)?
            }
        };
        let id = Arc::clone(&entry.handle.id);
        let seat = entry.reserve(ttl_ms, now_ms).ok_or(RoomError::Full)?;
        Ok((id, seat))
    }

    /// Redeems a verified ticket: marks it used on this node (single use). Its
    /// seat stays reserved until [`Registry::release_reservation`].
    pub fn redeem(&self, ticket: &Ticket, now_ms: u64) -> Result<(), TicketError> {
        // The seat stays reserved until the room has answered the join
        // (`release_reservation`), so a matchmake in between cannot give it away.
        self.tickets.redeem(ticket, now_ms)
    }

    /// Frees the seat a redeemed ticket reserved, once the room answered its join.
    pub fn release_reservation(&self, room: &str, nonce: u64) {
        if let Some(entry) = self.lock().get_mut(room) {
            entry.reservations.retain(|r| r.nonce != nonce);
        }
    }

    /// Number of live rooms.
    pub fn room_count(&self) -> usize {
        self.lock().len()
    }

    /// The ids of every live room.
    pub fn room_ids(&self) -> Vec<Arc<str>> {
        self.lock().keys().cloned().collect()
    }

    /// Whether room `id` is live here.
    pub fn contains(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Players in every live room.
    pub fn players(&self) -> usize {
        self.lock()
            .values()
            .map(|e| e.handle.shared.players())
            .sum()
    }

    /// Asks room `id` to close its players with `req` and end (another node
    /// owns it now). Returns whether the room was live.
    pub fn close_room(&self, id: &str, req: CloseRequest) -> bool {
        match self.lock().remove(id) {
            Some(entry) => {
                let _ = entry.handle.control.send(RoomCmd::Shutdown(req));
                true
            }
            None => false,
        }
    }

    /// Asks room `id` to freeze for a hand-off: the answer is its snapshot,
    /// once its thread gets to it. `None` if the room is not live here.
    pub fn freeze(&self, id: &str) -> Option<oneshot::Receiver<RoomSnapshot>> {
        let (tx, rx) = oneshot::channel();
        let rooms = self.lock();
        let entry = rooms.get(id)?;
        entry
            .handle
            .control
            .send(RoomCmd::Freeze { reply: tx })
            .ok()?;
        Some(rx)
    }

    /// Lets a frozen room carry on (its hand-off failed).
    pub fn thaw(&self, id: &str) {
        if let Some(entry) = self.lock().get(id) {
            let _ = entry.handle.control.send(RoomCmd::Thaw);
        }
    }

    /// Starts room `snap.room` from its snapshot, whose game state `game` was
    /// restored already (with `room_game`, this node's entry of its game):
    /// a hand-off from a draining node, or a dead node's room. Refused while
    /// draining, when the room is live here, or at `--max-rooms`. `cause`
    /// goes into its recording's continuation.
    pub fn adopt(
        &self,
        snap: &RoomSnapshot,
        room_game: RoomGame,
        game: Box<dyn tickroom_game::Room>,
        cause: ContinueCause,
    ) -> Result<RoomHandle, RoomError> {
        if self.is_draining() {
            return Err(RoomError::Draining);
        }
        let mut rooms = self.lock();
        if rooms.contains_key(snap.room.as_str()) {
            return Err(RoomError::Exists);
        }
        if rooms.len() >= self.max_rooms {
            self.limit_metrics.refused_max_rooms.increment(1);
            return Err(RoomError::TooManyRooms);
        }
        let metadata = match serde_json::from_str::<Value>(&snap.metadata) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let info = RoomInfo {
            game: room_game,
            capacity: snap.capacity as usize,
            public: snap.public,
            metadata: Arc::new(metadata),
            created: Instant::now(),
        };
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let settings = self.settings_for(&info);
        let id: Arc<str> = Arc::from(snap.room.as_str());
        let handle = self
            .placement
            .adopt(Arc::clone(&id), serial, &settings, snap, game, cause)
            .map_err(RegistryError::from)?;
        rooms.insert(
            id,
            Entry {
                handle: handle.clone(),
                info,
                reservations: Vec::new(),
            },
        );
        Ok(handle)
    }

    /// This node's settings for rooms (the new owner checks a snapshot's
    /// step rate against them).
    pub fn settings(&self) -> &RoomSettings {
        &self.settings
    }

    /// Stops new joins and rooms but lets the live rooms run (a cluster
    /// node's drain: its players finish before [`Registry::drain`] closes
    /// the rest).
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Stops new joins and asks every room to close its players with `req`.
    pub fn drain(&self, req: CloseRequest) {
        self.draining.store(true, Ordering::Release);
        for entry in self.lock().values() {
            let _ = entry.handle.control.send(RoomCmd::Shutdown(req));
        }
    }

    /// Whether [`Registry::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Tells every room runner to stop once its rooms are gone.
    pub fn stop_workers(&self) {
        self.placement.stop();
    }
}

/// A generated id no live room has.
fn fresh_id(rooms: &Rooms) -> Arc<str> {
    loop {
        let id = generated_room_id();
        if !rooms.contains_key(id.as_str()) {
            return Arc::from(id);
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::{
        metrics::Metrics,
        room::host::{RoomHost, RoomStatus},
        tickets::unix_ms,
    };

    /// Starts real room hosts but never ticks them unless a test does
    /// (players stay 0).
    #[derive(Debug, Default)]
    struct Parked {
        hosts: Mutex<Vec<RoomHost>>,
    }

    impl Placement for Parked {
        fn start(
            &self,
            id: Arc<str>,
            serial: u64,
            settings: &RoomSettings,
        ) -> Result<RoomHandle, PlacementError> {
            let (host, handle) = RoomHost::new(
                id,
                serial,
                settings,
                Metrics::new(),
                Instant::now(),
                serial,
                serial,
                None,
            )
            .expect("the arena starts");
            self.hosts.lock().expect("hosts").push(host);
            Ok(handle)
        }

        fn adopt(
            &self,
            id: Arc<str>,
            serial: u64,
            settings: &RoomSettings,
            snap: &RoomSnapshot,
            game: Box<dyn tickroom_game::Room>,
            _cause: ContinueCause,
        ) -> Result<RoomHandle, PlacementError> {
            let (host, handle) = RoomHost::restored(
                id,
                serial,
                settings,
                Metrics::new(),
                Instant::now(),
                serial,
                snap,
                game,
                None,
            );
            self.hosts.lock().expect("hosts").push(host);
            Ok(handle)
        }

        fn stop(&self) {}
    }

    fn registry(capacity: usize) -> (Arc<Registry>, Arc<Parked>) {
        let settings = RoomSettings {
            capacity,
            input_queue: 16,
            idle_timeout: Duration::from_secs(30),
            resume_grace: Duration::from_secs(10),
            max_unacked: 10,
            game: arena(),
            step_rate_hz: 20,
            recording: None,
            steps_per_frame: 1,
            snapshots: None,
            public: true,
            metadata: Arc::default(),
        };
        let parked = Arc::new(Parked::default());
        (Arc::new(Registry::new(parked.clone(), settings)), parked)
    }

    fn arena() -> RoomGame {
        let mut games = tickroom_game::Games::new();
        games.register::<tickroom_sim::Arena>().expect("registers");
        RoomGame::new(games.get("arena").expect("registered").clone(), None).expect("defaults")
    }

    fn options(id: Option<&str>, capacity: usize, public: bool) -> RoomOptions {
        RoomOptions {
            game: arena(),
            id: id.map(str::to_owned),
            capacity,
            public,
            metadata: Map::new(),
        }
    }

    const TTL: u64 = 1_000;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = generated_room_id();
        assert!(
            valid_room_id(&a) && a.starts_with("r-") && a.len() == 12,
            "{a}"
        );
        assert_ne!(a, generated_room_id());
    }

    #[test]
    fn api_rooms_carry_their_options_and_ids_are_unique() {
        let (reg, _rx) = registry(50);
        let mut meta = Map::new();
        meta.insert("mode".into(), Value::from("duel"));
        let room = reg
            .create(RoomOptions {
                metadata: meta.clone(),
                ..options(Some("arena"), 2, false)
            })
            .expect("created");
        assert_eq!(
            (&*room.id, room.capacity, room.public, &*room.metadata),
            ("arena", 2, false, &meta)
        );
        assert_eq!(
            reg.create(options(Some("arena"), 2, true)).map(|r| r.id),
            Err(RoomError::Exists)
        );
        let generated = reg.create(options(None, 3, true)).expect("created");
        assert!(generated.id.starts_with("r-"));
        // A room made by a join: public, default capacity, no metadata.
        reg.get_or_create("lobby", None).expect("created");
        let lobby = reg.summary("lobby", 0).expect("listed");
        assert_eq!((lobby.capacity, lobby.public), (50, true));
        assert!(lobby.metadata.is_empty());
        assert_eq!(
            reg.create(options(Some("lobby"), 2, true)).map(|r| r.id),
            Err(RoomError::Exists)
        );
        // Only public rooms are listed, sorted by id; private ones are still found by id.
        let listed: Vec<_> = reg.list_public(0).into_iter().map(|r| r.id).collect();
        assert_eq!(listed, [Arc::from("lobby"), generated.id]);
        assert!(reg.summary("arena", 0).is_some());
        assert!(reg.summary("nope", 0).is_none());
    }

    #[test]
    fn reservations_fill_a_room_until_they_expire_or_are_redeemed() {
        let (reg, _rx) = registry(50);
        reg.create(options(Some("duo"), 2, true)).expect("created");
        let a = reg.reserve("duo", TTL, 0).expect("seat 1");
        reg.reserve("duo", TTL, 0).expect("seat 2");
        assert_eq!(reg.reserve("duo", TTL, 0), Err(RoomError::Full));
        assert_eq!(reg.summary("duo", 0).map(|r| r.reserved), Some(2));
        assert_eq!(reg.reserve("nope", TTL, 0), Err(RoomError::NotFound));
        // Redeeming frees the seat (its holder takes it as a player), once.
        let ticket = Ticket {
            room: "duo".into(),
            expires_ms: a.expires_ms,
            nonce: a.nonce,
        };
        assert_eq!(reg.redeem(&ticket, 10), Ok(()));
        assert_eq!(
            reg.summary("duo", 10).map(|r| r.reserved),
            Some(2),
            "held until the join is answered"
        );
        reg.release_reservation("duo", ticket.nonce);
        assert_eq!(reg.summary("duo", 10).map(|r| r.reserved), Some(1));
        assert_eq!(reg.redeem(&ticket, 10), Err(TicketError::Used));
        // Expired reservations free their seats.
        assert_eq!(reg.summary("duo", TTL).map(|r| r.reserved), Some(0));
        reg.reserve("duo", TTL, TTL).expect("seat free again");
    }

    #[test]
    fn matchmaking_fills_the_fullest_public_room_first() {
        let (reg, _rx) = registry(2);
        let (first, _) = reg.matchmake(&Map::new(), TTL, 0).expect("new room");
        let (second, _) = reg.matchmake(&Map::new(), TTL, 0).expect("same room");
        let (third, _) = reg.matchmake(&Map::new(), TTL, 0).expect("another room");
        assert_eq!(first, second);
        assert_ne!(first, third);
        // Fullest first, whatever the capacity; private rooms are never chosen.
        reg.create(options(Some("big"), 10, true)).expect("created");
        reg.create(options(Some("secret"), 10, false))
            .expect("created");
        for _ in 0..5 {
            reg.reserve("big", TTL, 0).expect("seat");
            reg.reserve("secret", TTL, 0).expect("seat");
        }
        let (room, _) = reg.matchmake(&Map::new(), TTL, 0).expect("seat");
        assert_eq!(&*room, "big");
        // A metadata filter picks only matching rooms, and a new room gets it.
        let mut filter = Map::new();
        filter.insert("mode".into(), Value::from("duel"));
        let (duel, _) = reg.matchmake(&filter, TTL, 0).expect("new room");
        assert!(![&first, &third, &room].contains(&&duel));
        assert_eq!(
            reg.summary(&duel, 0).map(|r| r.metadata),
            Some(Arc::new(filter))
        );
    }

    #[test]
    fn a_draining_registry_gives_no_rooms_or_seats() {
        let (reg, _rx) = registry(2);
        reg.create(options(Some("a"), 2, true)).expect("created");
        reg.drain(CloseRequest {
            code: 1001,
            reason: "going away",
        });
        assert_eq!(reg.reserve("a", TTL, 0), Err(RoomError::Draining));
        assert_eq!(
            reg.matchmake(&Map::new(), TTL, 0).map(|r| r.0),
            Err(RoomError::Draining)
        );
        assert_eq!(
            reg.create(options(None, 2, true)).map(|r| r.id),
            Err(RoomError::Draining)
        );
        assert_eq!(
            reg.get_or_create("b", None).err(),
            Some(RegistryError::Draining)
        );
    }

    #[test]
    fn an_idle_room_stays_while_a_ticket_holds_a_seat_and_then_is_forgotten() {
        let (reg, parked) = registry(2);
        reg.create(options(Some("held"), 2, true)).expect("created");
        reg.create(options(Some("free"), 2, true)).expect("created");
        reg.reserve("held", 60_000, unix_ms()).expect("seat");
        // A seat whose ticket already expired holds nothing.
        reg.reserve("free", 1, unix_ms() - 10_000).expect("seat");
        let later = Instant::now() + Duration::from_secs(31);
        let statuses: Vec<_> = parked
            .hosts
            .lock()
            .expect("hosts")
            .iter_mut()
            .map(|h| (h.id().to_owned(), h.tick(later)))
            .collect();
        assert_eq!(
            statuses,
            [
                ("held".to_owned(), RoomStatus::Running),
                ("free".to_owned(), RoomStatus::Closed)
            ]
        );
        assert_eq!(reg.room_count(), 1, "the closed room is forgotten");
        assert!(reg.summary("free", unix_ms()).is_none());
        // A join for the closed id makes a new room.
        let again = reg.get_or_create("free", None).expect("new room");
        assert!(!again.shared.is_closed());
        assert_eq!(reg.room_count(), 2);
    }

    #[test]
    fn max_rooms_and_creations_per_address_refuse_only_new_rooms() {
        let (reg, parked) = registry(2);
        let metrics = Metrics::new();
        let reg = Arc::new(Arc::try_unwrap(reg).expect("sole owner").with_limits(
            3,
            2,
            metrics.room_limits.clone(),
        ));
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        // Two rooms from one address, then its third is refused (and costs nothing).
        // (private: the matchmake below must start a room, not fill this one)
        reg.create_by(options(Some("a"), 2, false), Some(ip))
            .expect("first");
        reg.matchmake_or(&Map::new(), None, TTL, 0, NewRoom::Id("b".into()), Some(ip))
            .expect("second");
        assert_eq!(
            reg.create_by(options(Some("c"), 2, true), Some(ip))
                .map(|r| r.id),
            Err(RoomError::TooManyCreations)
        );
        assert_eq!(
            reg.charge_creation(Some("d"), Some(ip)),
            Err(RoomError::TooManyCreations)
        );
        // A live room costs nothing, and a taken id is not a creation.
        assert_eq!(reg.charge_creation(Some("a"), Some(ip)), Ok(()));
        assert_eq!(
            reg.create_by(options(Some("a"), 2, true), Some(ip))
                .map(|r| r.id),
            Err(RoomError::Exists)
        );
        // The third room fills --max-rooms; then nothing new starts, by any path.
        reg.get_or_create("c", None).expect("third");
        assert_eq!(
            reg.get_or_create("d", None).err(),
            Some(RegistryError::TooManyRooms)
        );
        assert_eq!(
            reg.create(options(None, 2, true)).map(|r| r.id),
            Err(RoomError::TooManyRooms)
        );
        // Matchmaking fills the free seats of live rooms (b: 1, c: 2), then
        // would need a new room.
        let seats = (0..10)
            .map(|_| reg.matchmake_or(&Map::new(), None, TTL, 0, NewRoom::Id("e".into()), None))
            .take_while(Result::is_ok)
            .count();
        assert_eq!(seats, 3);
        assert_eq!(
            reg.matchmake_or(&Map::new(), None, TTL, 0, NewRoom::Id("e".into()), None)
                .map(|r| r.0),
            Err(RoomError::TooManyRooms)
        );
        // Existing rooms still hand out seats and joins.
        reg.reserve("a", TTL, 0).expect("seat");
        reg.get_or_create("a", None).expect("live room");
        assert_eq!(reg.room_count(), 3);
        let text = metrics.render();
        for needle in [
            "tickroom_rooms_refused_total{reason=\"max_rooms\"} 4",
            "tickroom_rooms_refused_total{reason=\"creation_rate\"} 2",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        drop(parked);
    }

    #[test]
    fn room_ids_are_checked() {
        for ok in ["lobby", "a", "bots-0", "Room_1.x", &"r".repeat(64)] {
            assert!(valid_room_id(ok), "{ok}");
        }
        for bad in ["", "with space", "ünï", "a/b", "x?y", &"r".repeat(65)] {
            assert!(!valid_room_id(bad), "{bad}");
        }
    }
}
