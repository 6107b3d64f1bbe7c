//! [`RoomCore`]: one room's logic as a sans-IO state machine, in the manner of
//! `quinn_proto::Connection`. Events go in (a connection joins, resumes,
//! leaves, sends input; [`RoomCore::tick`] with the time), and what the room
//! wants done comes out of [`RoomCore::poll_output`] (a frame or an event for
//! a connection, a connection to close, a record). It never touches a socket,
//! a channel, a lock, a metrics handle or the clock: time and the seed for
//! session nonces are arguments, so tests drive it on a manual clock
//! ([`super::host`] is the thread-side shell around it).
//!
//! The room's game is a [`tickroom_game::Room`] (any registered game): the
//! core owns players' ids, sessions and connections, their acknowledgements,
//! the frame history, baselines and encode-once; the game owns what the
//! frames say.
//!
//! # One tick, in order
//! 1. players whose resume grace is over leave;
//! 2. the inputs given since the last tick have gone to the game in arrival
//!    order (each player's newest sequence number becomes its
//!    acknowledgement);
//! 3. the game steps once; its events go out to their players;
//! 4. on every `steps_per_frame`-th step the frame is read out of the game,
//!    hashed, and kept in a short history (the newest as a frame, the older
//!    ones as their canonical bytes, a tenth of the size, read back only for
//!    a client whose baseline is that old);
//! 5. every connected player gets one frame: a delta against the newest frame
//!    its connection was actually sent (its *baseline*, supplied by the
//!    caller), or a whole frame when it has none, just joined or resumed, or
//!    its baseline is no longer in the history. Each distinct payload is
//!    encoded once per tick and shared; each player's own acknowledgement
//!    and events are put in front of it by its connection's writer;
//! 6. an empty room reports [`Status::Idle`] once it has been empty for the
//!    idle timeout;
//! 7. when recording, the step's [`TickRecord`] (and every
//!    `keyframe_every`-th frame the whole frame) is output for the shell to
//!    write.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use tickroom_game::{Audience, Catalogue, Departure, OutEvent, PlayerId, Room};
use tickroom_protocol::{
    Checksum, encode_state_tail,
    record::{AppliedInput, RoomEvent, TickRecord},
    state::{Canonical, Encoder, Frame, FrameError, ViewCache},
};

use super::snapshot::SavedSession;
use crate::net::close::{CloseRequest, RESUMED_ELSEWHERE};

/// Identifies one WebSocket connection to the core (unique per process).
pub type ConnId = u64;

/// How many recent frames a room keeps as possible baselines.
pub const HISTORY: usize = 32;

/// A room's rules.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    /// Maximum players (connected or within their resume grace).
    pub capacity: usize,
    /// How long the room may stay empty before it reports [`Status::Idle`].
    pub idle_timeout: Duration,
    /// How long a disconnected player's entity waits for a resume.
    pub resume_grace: Duration,
    /// Frames kept as baselines (at most [`HISTORY`]; older baselines get a
    /// whole frame).
    pub history: usize,
    /// Flow control: a connection whose client reports (`Input::ack_tick`)
    /// having received nothing of the last `max_unacked` ticks it was sent
    /// gets no new frame until it catches up, so frames do not pile up in
    /// buffers between it and the server. Applies only while its inputs keep
    /// coming (a client that stops sending inputs is never held). 0 disables.
    pub max_unacked: u32,
    /// Record every step (see [`Output::Record`]), when set.
    pub recording: Option<RecordSettings>,
    /// Simulation steps per frame: [`RoomCore::tick`] steps once per call
    /// and builds and sends a frame every this many calls.
    pub steps_per_frame: u32,
}

/// How a room records itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSettings {
    /// Output the whole frame after every this many frames (0: never).
    pub keyframe_every: u32,
}

/// A claim from a verified resume token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeClaim {
    /// The player to take back.
    pub player: u32,
    /// The session the token was issued for.
    pub session: u64,
}

/// A successful join.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The player's id.
    pub player_id: u32,
    /// The room's tick at the join.
    pub tick: u32,
    /// The room's game (its schema, for the welcome and for checking
    /// inputs before they reach the room).
    pub catalogue: Arc<Catalogue>,
    /// This connection's session (goes into the resume token).
    pub session: u64,
    /// Whether an earlier player was taken back.
    pub resumed: bool,
}

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinRefused {
    /// The room is at capacity (close code 1013).
    Full,
    /// The room is shutting down (close code 1001).
    Closing,
    /// The connection id is already in the room (a bug in the caller).
    DuplicateConnection,
    /// The game refused the player; the reason is for the client.
    Game(String),
}

/// What the room wants the shell to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Put this frame (of tick `tick`) in this connection's mailbox.
    Frame {
        /// The connection.
        conn: ConnId,
        /// The frame's tick, which becomes the connection's baseline once sent.
        tick: u32,
        /// The newest input sequence number applied for its player.
        ack: u32,
        /// The state's shared part ([`encode_state_tail`]).
        tail: Bytes,
    },
    /// Queue this event for this connection (it travels with the next frame
    /// its writer takes).
    Event {
        /// The connection.
        conn: ConnId,
        /// The event's id and values.
        bytes: Bytes,
    },
    /// Close this connection.
    Close {
        /// The connection.
        conn: ConnId,
        /// Code and reason.
        req: CloseRequest,
    },
    /// Recording: what the step just run was given, and its checksum.
    Record(TickRecord),
    /// Recording: the whole frame of the tick just recorded, encoded.
    Keyframe(Vec<u8>),
}

/// Whether a room goes on after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep ticking.
    Running,
    /// Empty for the idle timeout: the shell may close it (it keeps ticking,
    /// and reporting this, if the shell does not).
    Idle,
    /// Shut down: drop it.
    Closed,
}

/// What one tick encoded, for the shell's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickStats {
    /// Whole frames encoded (0 or 1).
    pub snapshots_encoded: u32,
    /// Deltas encoded (one per distinct baseline).
    pub deltas_encoded: u32,
    /// Size of every payload encoded, in bytes.
    pub encoded_sizes: Vec<usize>,
    /// Frames handed out (one per connected player not held).
    pub frames: u32,
    /// Of those, whole frames.
    pub full_frames: u32,
    /// Connections held back by flow control this tick.
    pub held: u32,
    /// Inputs the game refused since the last tick (bad values, or refused
    /// by its validation).
    pub inputs_refused: u32,
    /// Events sent to connections this tick.
    pub events: u32,
    /// The frame could not be built (a game past a frame limit): no frame
    /// went out this tick.
    pub frame_error: Option<FrameError>,
    /// Interest management: entity pieces coded this tick (each entity once
    /// per base it is coded against), and how many times a view reused one.
    pub view_pieces: u32,
    pub view_pieces_reused: u32,
}

impl TickStats {
    /// Zero for the next tick, keeping `encoded_sizes`' allocation.
    fn clear(&mut self) {
        let mut sizes = std::mem::take(&mut self.encoded_sizes);
        sizes.clear();
        *self = TickStats {
            encoded_sizes: sizes,
            ..TickStats::default()
        };
    }
}

/// A player's connection state (its game state is the game's).
#[derive(Debug)]
struct Player {
    /// The current connection, `None` while waiting for a resume.
    conn: Option<ConnId>,
    /// The current connection's session; a resume must name it.
    session: u64,
    /// When the connection dropped, while waiting for a resume.
    gone_since: Option<Instant>,
    /// The next frame must be a whole frame (joined or resumed).
    needs_full: bool,
    /// The newest tick the client says it received on this connection, and
    /// the room tick when it said so.
    acked: Option<(u32, u32)>,
    /// Newest input sequence number received (every frame carries it).
    last_seq: u32,
    /// `last_seq` as of the last recorded input (recordings store advances).
    recorded_seq: u32,
    /// Interest management: the views this connection was handed, newest
    /// last, as (tick, the entities' places in that tick's frame), from its
    /// baseline on (a baseline names one of them). Places, not network ids:
    /// the baseline's frame (kept whole, or read back from its canonical
    /// bytes in the same order) is indexed by them directly.
    sent: VecDeque<(u32, Arc<[u32]>)>,
}

/// One room's state machine (see the module docs).
#[derive(Debug)]
pub struct RoomCore {
    settings: CoreSettings,
    game: Box<dyn Room>,
    catalogue: Arc<Catalogue>,
    /// Session nonces (the engine's SplitMix64, seeded per room).
    rng: tickroom_game::RoomRng,
    players: BTreeMap<u32, Player>,
    conns: HashMap<ConnId, u32>,
    next_player_id: u32,
    /// Recent frames as their canonical bytes, oldest first; the newest is
    /// the last tick's (also kept whole in `newest`).
    history: VecDeque<Past>,
    /// The last tick's frame.
    newest: Option<Frame>,
    empty_since: Option<Instant>,
    closed: bool,
    out: VecDeque<Output>,
    stats: TickStats,
    /// The step being recorded (what it was given so far), when recording.
    record: Option<TickRecord>,
    // Scratch reused every tick.
    encoder: Encoder,
    encoded: Vec<(u32, Bytes)>,
    events: Vec<OutEvent>,
    bytes: Vec<u8>,
    /// The frame being published's canonical bytes.
    canonical: Canonical,
    /// Interest management: entity pieces shared by this tick's views, and
    /// the messages encoded so far this tick.
    view_cache: ViewCache,
    view_msgs: Vec<ViewMsg>,
    spare_view: Vec<u8>,
    /// A frame older than `newest`, read back to encode against (emptied
    /// after each tick).
    older: Frame,
    /// Storage for the next history entry.
    spare_bytes: Vec<u8>,
}

/// A view's message, encoded once per tick for every client with the same
/// view and the same baseline view.
#[derive(Debug)]
struct ViewMsg {
    /// The baseline's tick and view (none: a whole view).
    base: Option<(u32, Arc<[u32]>)>,
    /// A player whose view this is, and the view's hash.
    player: PlayerId,
    hash: u64,
    /// The view (places in the frame), shared by every connection it goes to.
    view: Arc<[u32]>,
    tail: Bytes,
}

/// FNV-1a over a view's indices: a quick filter before comparing views.
fn view_hash(view: &[u32]) -> u64 {
    view.iter().fold(0xcbf2_9ce4_8422_2325, |h, &i| {
        (h ^ u64::from(i)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A frame of the history, as [`Frame::checksum`]'s canonical bytes.
#[derive(Debug)]
struct Past {
    tick: u32,
    bytes: Vec<u8>,
}

impl RoomCore {
    /// A new, empty room of `game`; `seed` feeds its session nonces.
    pub fn new(settings: CoreSettings, game: Box<dyn Room>, now: Instant, seed: u64) -> RoomCore {
        let catalogue = game.catalogue().clone();
        RoomCore {
            record: settings.recording.map(|_| TickRecord::default()),
            settings: CoreSettings {
                history: settings.history.clamp(1, HISTORY),
                steps_per_frame: settings.steps_per_frame.max(1),
                ..settings
            },
            game,
            catalogue,
            rng: tickroom_game::RoomRng::new(seed),
            players: BTreeMap::new(),
            conns: HashMap::new(),
            next_player_id: 1,
            history: VecDeque::new(),
            newest: None,
            empty_since: Some(now),
            closed: false,
            out: VecDeque::new(),
            stats: TickStats::default(),
            encoder: Encoder::default(),
            encoded: Vec::new(),
            events: Vec::new(),
            bytes: Vec::new(),
            canonical: Canonical::default(),
            view_cache: ViewCache::default(),
            view_msgs: Vec::new(),
            spare_view: Vec::new(),
            older: Frame::default(),
            spare_bytes: Vec::new(),
        }
    }

    /// A room of `game`, already restored to a snapshot's state, taking back
    /// the snapshot's players: each waits for its resume (its grace starts
    /// `now`), and its first frame is whole. `seed` feeds new session nonces.
    pub fn restored(
        settings: CoreSettings,
        game: Box<dyn Room>,
        now: Instant,
        seed: u64,
        sessions: &[SavedSession],
        next_player_id: u32,
    ) -> RoomCore {
        let mut core = RoomCore::new(settings, game, now, seed);
        core.next_player_id = next_player_id.max(1);
        for s in sessions {
            core.players.insert(
                s.player,
                Player {
                    conn: None,
                    session: s.session,
                    gone_since: Some(now),
                    needs_full: true,
                    acked: None,
                    last_seq: s.last_seq,
                    recorded_seq: s.last_seq,
                    sent: VecDeque::new(),
                },
            );
            core.game.disconnected(PlayerId(s.player));
            note(&mut core.record, || RoomEvent::Disconnected {
                player: s.player,
            });
        }
        if !core.players.is_empty() {
            core.empty_since = None;
        }
        core
    }

    /// Every player's session as a snapshot keeps it, and the next player
    /// id. Taken between ticks, `last_seq` is what the last frame acked.
    pub fn sessions(&self) -> (Vec<SavedSession>, u32) {
        let sessions = self
            .players
            .iter()
            .map(|(&player, p)| SavedSession {
                player,
                session: p.session,
                last_seq: p.last_seq,
            })
            .collect();
        (sessions, self.next_player_id)
    }

    /// The room's newest tick (0 before the first): steps ÷ steps per frame.
    pub fn tick_number(&self) -> u32 {
        (self.game.steps() / u64::from(self.settings.steps_per_frame)) as u32
    }

    /// Simulation steps so far (ticks × steps per frame).
    pub fn step_number(&self) -> u64 {
        self.game.steps()
    }

    /// Players in the room, connected or within their resume grace.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// The room's game.
    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// The game's room (for tests and tools that look inside).
    pub fn game(&self) -> &dyn Room {
        &*self.game
    }

    /// What the last tick encoded.
    pub fn stats(&self) -> &TickStats {
        &self.stats
    }

    /// The newest frame (none before the first tick).
    pub fn frame(&self) -> Option<&Frame> {
        self.newest.as_ref()
    }

    /// When recording, the joins, leaves and resumes applied since the last
    /// step (in no record yet; a snapshot taken now includes them).
    pub fn pending_events(&self) -> &[RoomEvent] {
        self.record.as_ref().map_or(&[], |r| r.events.as_slice())
    }

    /// Stops recording (the shell could not keep up): no more
    /// [`Output::Record`]s.
    pub fn stop_recording(&mut self) {
        self.settings.recording = None;
        self.record = None;
    }

    /// Whether [`RoomCore::shutdown`] ran.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Connection `conn` asks to join with a display name (already cleaned),
    /// or, with a verified `resume` claim, to take back that player if its
    /// session is still the one claimed (otherwise it joins fresh).
    pub fn join(
        &mut self,
        conn: ConnId,
        name: String,
        resume: Option<ResumeClaim>,
    ) -> Result<Joined, JoinRefused> {
        if self.closed {
            return Err(JoinRefused::Closing);
        }
        if self.conns.contains_key(&conn) {
            return Err(JoinRefused::DuplicateConnection);
        }
        let session = self.rng.next_u64();
        let tick = self.tick_number();
        if let Some(claim) = resume
            && let Some(p) = self.players.get_mut(&claim.player)
            && p.session == claim.session
        {
            // Take the player back: same entity, id and state.
            if let Some(old) = p.conn.replace(conn) {
                self.conns.remove(&old);
                self.out.push_back(Output::Close {
                    conn: old,
                    req: RESUMED_ELSEWHERE,
                });
            }
            p.session = session;
            p.gone_since = None;
            p.needs_full = true;
            p.acked = None;
            p.sent.clear();
            self.conns.insert(conn, claim.player);
            self.game.resumed(PlayerId(claim.player));
            note(&mut self.record, || RoomEvent::Resumed {
                player: claim.player,
            });
            return Ok(Joined {
                player_id: claim.player,
                tick,
                catalogue: self.catalogue.clone(),
                session,
                resumed: true,
            });
        }
        if self.players.len() >= self.settings.capacity {
            return Err(JoinRefused::Full);
        }
        let id = self.next_player_id;
        let name = if name.is_empty() {
            format!("player-{id}")
        } else {
            name
        };
        self.game
            .join(PlayerId(id), &name)
            .map_err(|r| JoinRefused::Game(r.0))?;
        self.next_player_id = self.next_player_id.wrapping_add(1).max(1);
        note(&mut self.record, || RoomEvent::Joined {
            player: id,
            name: name.clone(),
        });
        self.players.insert(
            id,
            Player {
                conn: Some(conn),
                session,
                gone_since: None,
                needs_full: true,
                acked: None,
                last_seq: 0,
                recorded_seq: 0,
                sent: VecDeque::new(),
            },
        );
        self.conns.insert(conn, id);
        self.empty_since = None;
        Ok(Joined {
            player_id: id,
            tick,
            catalogue: self.catalogue.clone(),
            session,
            resumed: false,
        })
    }

    /// Connection `conn` ended. `explicit` (a Leave, or a protocol violation)
    /// removes its player now; otherwise the player waits the resume grace.
    /// A connection that was replaced by a resume, or is unknown, changes
    /// nothing.
    pub fn leave(&mut self, now: Instant, conn: ConnId, explicit: bool) {
        let Some(id) = self.conns.remove(&conn) else {
            return;
        };
        if explicit {
            self.remove(id, Departure::Left);
        } else if let Some(p) = self.players.get_mut(&id) {
            p.conn = None;
            p.gone_since = Some(now);
            self.game.disconnected(PlayerId(id));
            note(&mut self.record, || RoomEvent::Disconnected { player: id });
        }
    }

    /// An input from connection `conn`, for the next step: its sequence
    /// number, the newest tick its client had received, and the game's
    /// input bytes. Inputs from unknown or replaced connections are ignored;
    /// ones the game refuses are counted ([`TickStats::inputs_refused`]).
    pub fn input(&mut self, conn: ConnId, seq: u32, ack_tick: u32, data: &[u8]) {
        let now = self.tick_number();
        let Some((&id, p)) = self
            .conns
            .get(&conn)
            .and_then(|id| self.players.get_mut(id).map(|p| (id, p)))
        else {
            return;
        };
        p.last_seq = p.last_seq.max(seq);
        let newest = p.acked.map_or(ack_tick, |(a, _)| a.max(ack_tick));
        p.acked = Some((newest.min(now), now));
        if self.game.input(PlayerId(id), data).is_err() {
            self.stats.inputs_refused += 1;
            return;
        }
        if let Some(record) = &mut self.record {
            record.inputs.push(AppliedInput {
                player: id,
                seq_advance: p.last_seq.wrapping_sub(p.recorded_seq),
                data: data.to_vec(),
            });
            p.recorded_seq = p.last_seq;
        }
    }

    /// Runs one simulation step (see the module docs); every
    /// `steps_per_frame`-th step is a tick that builds and sends a frame.
    /// `baseline(conn)` (called on those only) must return the tick of the
    /// newest frame that connection was actually sent (taken by its writer),
    /// or `None`; frames the caller dropped unsent never count.
    pub fn tick(
        &mut self,
        now: Instant,
        mut baseline: impl FnMut(ConnId) -> Option<u32>,
    ) -> Status {
        if self.closed {
            return Status::Closed;
        }
        let refused = self.stats.inputs_refused;
        self.stats.clear();
        self.stats.inputs_refused = refused;
        self.expire_grace(now);
        self.game.step();
        self.route_events();
        let framed = self
            .game
            .steps()
            .is_multiple_of(u64::from(self.settings.steps_per_frame));
        let mut checksum = None;
        if framed {
            // Sized like the last, so one allocation per vector; the last is
            // dropped once this one is published (a room holds one whole
            // frame between ticks, rooms on a worker take turns).
            let mut frame = self
                .newest
                .as_ref()
                .map_or_else(Frame::default, Frame::with_capacity_of);
            match self.game.build_frame(self.tick_number(), &mut frame) {
                Ok(()) => {
                    let sum = Checksum(self.canonical.write(&frame));
                    checksum = Some(sum);
                    if self.game.views().is_some() {
                        self.publish_views(frame, &mut baseline);
                    } else {
                        self.publish(frame, sum, &mut baseline);
                    }
                }
                Err(e) => {
                    self.stats.frame_error = Some(e);
                }
            }
        }
        if let Some(record) = &mut self.record {
            let next = TickRecord {
                inputs: Vec::with_capacity(record.inputs.len()),
                ..TickRecord::default()
            };
            let mut done = std::mem::replace(record, next);
            done.tick = self.game.steps() as u32;
            done.checksum = checksum;
            self.out.push_back(Output::Record(done));
            let every = self.settings.recording.map_or(0, |r| r.keyframe_every);
            if checksum.is_some()
                && every > 0
                && self.tick_number().is_multiple_of(every)
                && let Some(frame) = &self.newest
            {
                let mut bytes = Vec::new();
                self.encoder
                    .encode(self.catalogue.schema(), None, frame, &mut bytes);
                self.out.push_back(Output::Keyframe(bytes));
            }
        }
        self.idle_status(now)
    }

    /// Ends the room: every connected player is closed with `req`, and
    /// later joins are refused. Returns [`Status::Closed`].
    pub fn shutdown(&mut self, req: CloseRequest) -> Status {
        if !self.closed {
            self.closed = true;
            for p in self.players.values() {
                if let Some(conn) = p.conn {
                    self.out.push_back(Output::Close { conn, req });
                }
            }
            self.players.clear();
            self.conns.clear();
            self.history.clear();
            self.newest = None;
        }
        Status::Closed
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn expire_grace(&mut self, now: Instant) {
        let grace = self.settings.resume_grace;
        let expired: Vec<u32> = self
            .players
            .iter()
            .filter(|(_, p)| {
                p.gone_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= grace)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.remove(id, Departure::Expired);
        }
    }

    fn remove(&mut self, id: u32, why: Departure) {
        if let Some(p) = self.players.remove(&id) {
            if let Some(conn) = p.conn {
                self.conns.remove(&conn);
            }
            self.game.leave(PlayerId(id), why);
            // Its inputs not yet stepped go with it (the game drops them too),
            // so the record names no player after it left.
            if let Some(record) = &mut self.record {
                record.inputs.retain(|i| i.player != id);
            }
            note(&mut self.record, || match why {
                Departure::Left => RoomEvent::Left { player: id },
                Departure::Expired => RoomEvent::Expired { player: id },
            });
        }
    }

    /// Sends the step's events to the connected players they are for (a
    /// player waiting for a resume misses them: it gets a whole frame back).
    fn route_events(&mut self) {
        self.game.drain_events(&mut self.events);
        for OutEvent { to, bytes } in self.events.drain(..) {
            let bytes = Bytes::from(bytes);
            let mut send = |p: &Player| {
                if let Some(conn) = p.conn {
                    self.stats.events += 1;
                    self.out.push_back(Output::Event {
                        conn,
                        bytes: bytes.clone(),
                    });
                }
            };
            match to {
                Audience::Only(PlayerId(id)) => {
                    if let Some(p) = self.players.get(&id) {
                        send(p);
                    }
                }
                to => {
                    for (&id, p) in &self.players {
                        if to.includes(PlayerId(id)) {
                            send(p);
                        }
                    }
                }
            }
        }
    }

    fn publish(
        &mut self,
        frame: Frame,
        checksum: Checksum,
        baseline: &mut impl FnMut(ConnId) -> Option<u32>,
    ) {
        let tick = frame.tick;
        let schema = self.catalogue.schema();
        self.encoded.clear();
        let window = self.settings.max_unacked;
        let mut full: Option<Bytes> = None;
        let mut oldest_in_use = tick;
        for p in self.players.values_mut() {
            let Some(conn) = p.conn else { continue };
            let base = baseline(conn).filter(|_| !p.needs_full);
            if let Some(b) = base
                && link_full(window, tick, b, p.acked)
            {
                // Its link is full: more frames would only queue, older and older.
                self.stats.held += 1;
                oldest_in_use = oldest_in_use.min(b);
                continue;
            }
            p.needs_full = false;
            let cached = base.and_then(|b| {
                if let Some((_, bytes)) = self.encoded.iter().find(|(t, _)| *t == b) {
                    return Some(bytes.clone());
                }
                let from = match &self.newest {
                    Some(newest) if newest.tick == b => newest,
                    _ => {
                        let past = self.history.iter().rev().find(|p| p.tick == b)?;
                        // Bytes this core wrote; a misfit would be a bug, and
                        // the player then gets a whole frame.
                        self.older.read_canonical(schema, &past.bytes).ok()?;
                        &self.older
                    }
                };
                self.bytes.clear();
                self.encoder
                    .encode(schema, Some(from), &frame, &mut self.bytes);
                let tail = Bytes::from(encode_state_tail(checksum, &self.bytes));
                self.stats.deltas_encoded += 1;
                self.stats.encoded_sizes.push(tail.len());
                self.encoded.push((b, tail.clone()));
                Some(tail)
            });
            let tail = match cached {
                Some(tail) => {
                    if let Some(b) = base {
                        oldest_in_use = oldest_in_use.min(b);
                    }
                    tail
                }
                None => {
                    self.stats.full_frames += 1;
                    full.get_or_insert_with(|| {
                        self.bytes.clear();
                        self.encoder.encode(schema, None, &frame, &mut self.bytes);
                        let tail = Bytes::from(encode_state_tail(checksum, &self.bytes));
                        self.stats.snapshots_encoded += 1;
                        self.stats.encoded_sizes.push(tail.len());
                        tail
                    })
                    .clone()
                }
            };
            self.stats.frames += 1;
            self.out.push_back(Output::Frame {
                conn,
                tick,
                ack: p.last_seq,
                tail,
            });
        }
        self.keep(frame, oldest_in_use);
    }

    /// Keeps `frame` as the newest, and in the history what a connection may
    /// still name as its baseline: frames from the oldest baseline in use on
    /// (baselines only move forward), at most `history` of them. (Ticks only
    /// grow within a room's life, far below u32::MAX at 20-60 Hz.)
    fn keep(&mut self, frame: Frame, oldest_in_use: u32) {
        let tick = frame.tick;
        let mut bytes = std::mem::take(&mut self.spare_bytes);
        bytes.clear();
        bytes.extend_from_slice(self.canonical.bytes());
        self.history.push_back(Past { tick, bytes });
        self.newest = Some(frame);
        if self.older.slots() > 0 {
            self.older = Frame::default();
        }
        while self.history.len() > self.settings.history
            || self.history.front().is_some_and(|p| p.tick < oldest_in_use)
        {
            if let Some(past) = self.history.pop_front() {
                self.spare_bytes = past.bytes;
            }
        }
    }

    /// [`RoomCore::publish`] for a game with interest management: each
    /// connection gets its own view (the entities the game's [`tickroom_game::Views`] give
    /// its player) as a delta against the view it was last sent, or whole.
    /// Messages are shared between connections whose view and baseline view
    /// are the same, and every entity is coded once per baseline tick
    /// ([`ViewCache`]), however many views have it.
    fn publish_views(&mut self, frame: Frame, baseline: &mut impl FnMut(ConnId) -> Option<u32>) {
        let Some(views) = self.game.views() else {
            return;
        };
        let tick = frame.tick;
        let schema = self.catalogue.schema();
        let window = self.settings.max_unacked;
        let history = self.settings.history;
        let mut oldest_in_use = tick;
        self.view_cache.reset();
        self.view_msgs.clear();
        for (&id, p) in self.players.iter_mut() {
            let Some(conn) = p.conn else { continue };
            let base = baseline(conn).filter(|_| !p.needs_full);
            if let Some(b) = base {
                // Baselines only move forward: older views are no use.
                while p.sent.front().is_some_and(|&(t, _)| t < b) {
                    p.sent.pop_front();
                }
                oldest_in_use = oldest_in_use.min(b);
                if link_full(window, tick, b, p.acked) {
                    self.stats.held += 1;
                    continue;
                }
            }
            p.needs_full = false;
            let view = views.of(PlayerId(id)).unwrap_or_default();
            let hash = view_hash(view);
            // The view it holds: the one sent at its baseline's tick.
            let held = base.and_then(|b| {
                let (_, places) = p.sent.iter().find(|&&(t, _)| t == b)?;
                Some((b, places.clone()))
            });
            let same = |m: &ViewMsg| {
                m.hash == hash
                    && match (&m.base, &held) {
                        (None, None) => true,
                        (Some((t, a)), Some((u, b))) => t == u && (Arc::ptr_eq(a, b) || a == b),
                        _ => false,
                    }
                    && views.of(m.player) == Some(view)
            };
            let k = match self.view_msgs.iter().position(same) {
                Some(k) => k,
                None => {
                    // Its baseline frame (a view past the frame's end would be
                    // a bug: the connection then gets its view whole).
                    let from = held.as_ref().and_then(|(b, places)| {
                        let f = match &self.newest {
                            Some(newest) if newest.tick == *b => newest,
                            _ => {
                                let past = self.history.iter().rev().find(|p| p.tick == *b)?;
                                self.older.read_canonical(schema, &past.bytes).ok()?;
                                &self.older
                            }
                        };
                        let fits = places.last().is_none_or(|&l| (l as usize) < f.len());
                        fits.then_some((f, &places[..]))
                    });
                    self.bytes.clear();
                    self.encoder.encode_view(
                        schema,
                        from,
                        &frame,
                        view,
                        &mut self.view_cache,
                        &mut self.bytes,
                    );
                    let sum = self.canonical.view_checksum(view, &mut self.spare_view);
                    let tail = Bytes::from(encode_state_tail(Checksum(sum), &self.bytes));
                    let delta = from.is_some();
                    if delta {
                        self.stats.deltas_encoded += 1;
                    } else {
                        self.stats.snapshots_encoded += 1;
                    }
                    self.stats.encoded_sizes.push(tail.len());
                    self.view_msgs.push(ViewMsg {
                        base: held.filter(|_| delta),
                        player: PlayerId(id),
                        hash,
                        view: view.into(),
                        tail,
                    });
                    self.view_msgs.len() - 1
                }
            };
            let msg = &self.view_msgs[k];
            if msg.base.is_none() {
                self.stats.full_frames += 1;
            }
            p.sent.push_back((tick, msg.view.clone()));
            while p.sent.len() > history {
                p.sent.pop_front();
            }
            self.stats.frames += 1;
            self.out.push_back(Output::Frame {
                conn,
                tick,
                ack: p.last_seq,
                tail: msg.tail.clone(),
            });
        }
        let (made, reused) = self.view_cache.counts();
        self.stats.view_pieces = made;
        self.stats.view_pieces_reused = reused;
        self.keep(frame, oldest_in_use);
    }

    fn idle_status(&mut self, now: Instant) -> Status {
        if !self.players.is_empty() {
            self.empty_since = None;
            return Status::Running;
        }
        let since = *self.empty_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.settings.idle_timeout {
            Status::Idle
        } else {
            Status::Running
        }
    }
}

/// Flow control: whether a connection whose baseline is `base` and whose
/// client last acknowledged `acked` (tick received, room tick then) should
/// be held back (see [`CoreSettings::max_unacked`]).
fn link_full(window: u32, tick: u32, base: u32, acked: Option<(u32, u32)>) -> bool {
    acked.is_some_and(|(acked, at)| {
        window > 0 && tick.saturating_sub(at) <= window && base.saturating_sub(acked) >= window
    })
}

/// Notes an event in the step being recorded.
fn note(record: &mut Option<TickRecord>, event: impl FnOnce() -> RoomEvent) {
    if let Some(record) = record {
        record.events.push(event());
    }
}
