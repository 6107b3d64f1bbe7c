//! A room as it lives on a tick-worker thread: the simulation, its players'
//! mailboxes, and the channels the I/O side feeds it through.
//!
//! # One tick, in order
//! 1. **Commands**: drain the control channel (join, leave, shutdown). A join
//!    adds the player to the simulation and answers the connection at once.
//! 2. **Inputs**: drain exactly the inputs queued before this tick started (in
//!    arrival order; per player the newest steering wins, and the newest
//!    sequence number becomes the player's acknowledgement). Inputs arriving
//!    while this tick runs wait for the next one.
//! 3. **Step**: run the simulation's schedule once.
//! 4. **Encode**: build one snapshot and encode it once into `Bytes`.
//! 5. **Broadcast**: put a clone of those bytes into every player's mailbox and
//!    wake its writer. Nothing here waits on a socket.
//!
//! The room never blocks: every channel operation is `try_*`, replies go
//! through oneshot channels, and writes go through [`Mailbox`].

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use tickroom_protocol::{
    self as proto, quant,
    replica::{self, Frame},
};
use tickroom_sim::{PelletView, PlayerId, PlayerView, Room as Sim, SimConfig, Vec2};
use tokio::sync::oneshot;

use crate::{
    mailbox::{CloseRequest, Mailbox},
    metrics::Metrics,
    registry::Registry,
    signing,
};

/// Sent to a connection whose player was taken back by a resume elsewhere.
pub const RESUMED_ELSEWHERE: CloseRequest = CloseRequest {
    code: 1000,
    reason: "resumed on another connection",
};

/// Commands a room's thread receives; one closed set, no callbacks.
#[derive(Debug)]
pub enum RoomCmd {
    /// A connection asks to join with a display name.
    Join {
        /// Display name (already validated).
        name: String,
        /// Where the room puts this player's frames.
        mailbox: Arc<Mailbox>,
        /// A verified resume claim: take back this player if its session is
        /// still this one; otherwise join fresh.
        resume: Option<ResumeClaim>,
        /// The answer: the player's id or why not.
        reply: oneshot::Sender<Result<Joined, JoinRefused>>,
    },
    /// A player's connection ended.
    Leave {
        /// The player's id.
        player: u32,
        /// The session that ended (a Leave from a replaced session is ignored).
        session: u64,
        /// The player left on purpose (or was thrown out): remove it now.
        /// Otherwise the entity waits the resume grace period.
        explicit: bool,
    },
    /// Close every player with this request and end the room.
    Shutdown(CloseRequest),
}

/// A claim from a verified resume token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeClaim {
    /// The player to take back.
    pub player: u32,
    /// The session the token was issued for.
    pub session: u64,
}

/// One input on its way from a reader task to a room.
#[derive(Debug, Clone, Copy)]
pub struct InputMsg {
    /// The sending player.
    pub player: u32,
    /// The input's sequence number.
    pub seq: u32,
    /// Steering, as on the wire.
    pub steer: [i8; 2],
}

/// A successful join.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The new player's id.
    pub player_id: u32,
    /// The room's tick at the join.
    pub tick: u32,
    /// The arena and movement rules.
    pub arena: proto::Arena,
    /// This connection's session (goes into the resume token).
    pub session: u64,
    /// Whether an earlier player was taken back.
    pub resumed: bool,
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinRefused {
    /// The room is at capacity (close code 1013).
    Full,
    /// The room is shutting down (close code 1001).
    Closing,
}

/// The I/O side's handle on a room: clone it freely.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    /// Room id, as in the URL.
    pub id: Arc<str>,
    /// Distinguishes this room from a later one with the same id.
    pub serial: u64,
    /// Join, leave, shutdown: never dropped.
    pub control: Sender<RoomCmd>,
    /// Inputs: bounded; a full queue drops the input (counted).
    pub inputs: Sender<InputMsg>,
    /// The room's newest tick, for pongs.
    pub tick: Arc<AtomicU32>,
    /// Players in the room now (connected or within their resume grace).
    pub players: Arc<AtomicUsize>,
}

/// Room settings taken from the server config.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// Maximum players.
    pub capacity: usize,
    /// Input queue bound.
    pub input_queue: usize,
    /// How long the room may stay empty before it closes.
    pub idle_timeout: Duration,
    /// How long a disconnected player's entity waits for a resume.
    pub resume_grace: Duration,
    /// The simulation's rules.
    pub sim: SimConfig,
}

struct PlayerSlot {
    name: String,
    /// `None` while disconnected (waiting for a resume).
    mailbox: Option<Arc<Mailbox>>,
    /// The current connection's session; a resume must name it.
    session: u64,
    /// When the connection dropped, while waiting for a resume.
    gone_since: Option<Instant>,
    last_seq: u32,
    steer: Option<[i8; 2]>,
    /// The next frame must be a full snapshot (just joined).
    needs_full: bool,
}

/// Whether a room goes on after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomStatus {
    /// Keep ticking.
    Running,
    /// The room has ended; drop it.
    Closed,
}

/// A room on its worker thread.
pub struct RoomHost {
    id: Arc<str>,
    serial: u64,
    finished: bool,
    sim: Sim,
    settings: RoomSettings,
    control: Receiver<RoomCmd>,
    inputs: Receiver<InputMsg>,
    players: BTreeMap<u32, PlayerSlot>,
    next_player_id: u32,
    /// The frame sent last tick (what every client holds once it read it).
    prev: Option<Frame>,
    roster_dirty: bool,
    empty_since: Option<Instant>,
    closing: bool,
    registry: Arc<Registry>,
    metrics: Metrics,
    tick_shared: Arc<AtomicU32>,
    players_shared: Arc<AtomicUsize>,
    // Scratch buffers reused every tick.
    step_inputs: Vec<(PlayerId, Vec2)>,
    player_views: Vec<PlayerView>,
    pellet_views: Vec<PelletView>,
}

impl std::fmt::Debug for RoomHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomHost")
            .field("id", &self.id)
            .field("players", &self.players.len())
            .field("tick", &self.sim.tick())
            .finish_non_exhaustive()
    }
}

impl RoomHost {
    /// A new room and the handle the I/O side uses to reach it.
    pub fn new(
        id: Arc<str>,
        serial: u64,
        settings: RoomSettings,
        registry: Arc<Registry>,
        metrics: Metrics,
        now: Instant,
    ) -> (RoomHost, RoomHandle) {
        let (control_tx, control) = crossbeam_channel::unbounded();
        let (inputs_tx, inputs) = crossbeam_channel::bounded(settings.input_queue);
        let tick_shared = Arc::new(AtomicU32::new(0));
        let players_shared = Arc::new(AtomicUsize::new(0));
        let host = RoomHost {
            id: Arc::clone(&id),
            serial,
            finished: false,
            sim: Sim::new(settings.sim.clone()),
            settings,
            control,
            inputs,
            players: BTreeMap::new(),
            next_player_id: 1,
            prev: None,
            roster_dirty: true,
            empty_since: Some(now),
            closing: false,
            registry,
            metrics,
            tick_shared: Arc::clone(&tick_shared),
            players_shared: Arc::clone(&players_shared),
            step_inputs: Vec::new(),
            player_views: Vec::new(),
            pellet_views: Vec::new(),
        };
        let handle = RoomHandle {
            id,
            serial,
            control: control_tx,
            inputs: inputs_tx,
            tick: tick_shared,
            players: players_shared,
        };
        (host, handle)
    }

    /// The room's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs one tick (see the module docs for the order of work).
    pub fn tick(&mut self, now: Instant) -> RoomStatus {
        self.drain_commands(now);
        if self.finished {
            return RoomStatus::Closed;
        }
        self.drain_inputs();
        self.sim.step(&self.step_inputs);
        self.tick_shared
            .store(self.sim.tick() as u32, Ordering::Relaxed);
        self.broadcast();
        self.check_idle(now)
    }

    /// Ends the room now: every player gets `req`, pending joins are refused.
    pub fn shutdown(&mut self, req: CloseRequest) -> RoomStatus {
        self.closing = true;
        for mailbox in self.players.values().filter_map(|p| p.mailbox.as_ref()) {
            mailbox.close(req);
        }
        self.finish()
    }

    fn finish(&mut self) -> RoomStatus {
        if self.finished {
            return RoomStatus::Closed;
        }
        self.finished = true;
        self.registry.remove(&self.id, self.serial);
        // Refuse anything that raced in.
        while let Ok(cmd) = self.control.try_recv() {
            if let RoomCmd::Join { reply, .. } = cmd {
                let _ = reply.send(Err(JoinRefused::Closing));
            }
        }
        self.metrics.players.decrement(self.players.len() as f64);
        self.players.clear();
        self.players_shared.store(0, Ordering::Relaxed);
        RoomStatus::Closed
    }

    fn drain_commands(&mut self, now: Instant) {
        self.expire_grace(now);
        loop {
            match self.control.try_recv() {
                Ok(RoomCmd::Join {
                    name,
                    mailbox,
                    resume,
                    reply,
                }) => self.join(name, mailbox, resume, reply),
                Ok(RoomCmd::Leave {
                    player,
                    session,
                    explicit,
                }) => self.leave(player, session, explicit, now),
                Ok(RoomCmd::Shutdown(req)) => {
                    self.shutdown(req);
                    return;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    fn join(
        &mut self,
        name: String,
        mailbox: Arc<Mailbox>,
        resume: Option<ResumeClaim>,
        reply: oneshot::Sender<Result<Joined, JoinRefused>>,
    ) {
        if self.closing {
            let _ = reply.send(Err(JoinRefused::Closing));
            return;
        }
        if let Some(claim) = resume
            && let Some(slot) = self.players.get_mut(&claim.player)
            && slot.session == claim.session
        {
            // Take the player back: same entity, id, position and score.
            let session = signing::random_u64();
            let joined = Joined {
                player_id: claim.player,
                tick: self.sim.tick() as u32,
                arena: arena_of(self.sim.config()),
                session,
                resumed: true,
            };
            if reply.send(Ok(joined)).is_err() {
                return; // The connection gave up; the old session stays valid.
            }
            if let Some(old) = slot.mailbox.replace(mailbox) {
                old.close(RESUMED_ELSEWHERE);
            }
            slot.session = session;
            slot.gone_since = None;
            slot.needs_full = true;
            return;
        }
        if self.players.len() >= self.settings.capacity {
            let _ = reply.send(Err(JoinRefused::Full));
            return;
        }
        let id = self.next_player_id;
        self.next_player_id = self.next_player_id.wrapping_add(1).max(1);
        if !self.sim.add_player(PlayerId(id)) {
            // Ids are unique per room; this would be a bug, not bad input.
            tracing::error!(room = %self.id, id, "player id already in use");
            let _ = reply.send(Err(JoinRefused::Closing));
            return;
        }
        let name = if name.is_empty() {
            format!("player-{id}")
        } else {
            name
        };
        let session = signing::random_u64();
        let joined = Joined {
            player_id: id,
            tick: self.sim.tick() as u32,
            arena: arena_of(self.sim.config()),
            session,
            resumed: false,
        };
        if reply.send(Ok(joined)).is_err() {
            // The connection gave up waiting; undo.
            self.sim.remove_player(PlayerId(id));
            return;
        }
        self.players.insert(
            id,
            PlayerSlot {
                name,
                mailbox: Some(mailbox),
                session,
                gone_since: None,
                last_seq: 0,
                steer: None,
                needs_full: true,
            },
        );
        self.metrics.players.increment(1.0);
        self.players_shared
            .store(self.players.len(), Ordering::Relaxed);
        self.roster_dirty = true;
        self.empty_since = None;
    }

    fn leave(&mut self, player: u32, session: u64, explicit: bool, now: Instant) {
        let Some(slot) = self.players.get_mut(&player) else {
            return;
        };
        if slot.session != session {
            return; // A replaced connection ending: the player lives on.
        }
        if explicit {
            self.remove(player);
        } else {
            // Keep the entity for a resume; it coasts to a stop meanwhile.
            slot.mailbox = None;
            slot.gone_since = Some(now);
            slot.steer = Some([0, 0]);
        }
    }

    /// Removes players whose resume grace is over.
    fn expire_grace(&mut self, now: Instant) {
        let grace = self.settings.resume_grace;
        let expired: Vec<u32> = self
            .players
            .iter()
            .filter(|(_, s)| {
                s.gone_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= grace)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.remove(id);
        }
    }

    fn remove(&mut self, player: u32) {
        if self.players.remove(&player).is_some() {
            self.sim.remove_player(PlayerId(player));
            self.metrics.players.decrement(1.0);
            self.players_shared
                .store(self.players.len(), Ordering::Relaxed);
            self.roster_dirty = true;
        }
    }

    fn drain_inputs(&mut self) {
        self.step_inputs.clear();
        // Only what was queued before this tick started: later inputs belong to the next tick.
        let queued = self.inputs.len();
        for msg in self.inputs.try_iter().take(queued) {
            if let Some(slot) = self.players.get_mut(&msg.player) {
                slot.last_seq = slot.last_seq.max(msg.seq);
                slot.steer = Some(msg.steer);
            }
        }
        for (&id, slot) in &mut self.players {
            if let Some(steer) = slot.steer.take() {
                let (x, y) = quant::steer_from_wire(steer);
                self.step_inputs.push((PlayerId(id), Vec2::new(x, y)));
            }
        }
    }

    /// This tick's frame as the wire carries it.
    fn build_frame(&mut self) -> Frame {
        self.sim.read_players(&mut self.player_views);
        let players = self
            .player_views
            .iter()
            .map(|p| player_to_wire(p, self.players.get(&p.id.0).map_or(0, |s| s.last_seq)))
            .collect();
        let pellets = match self.prev.take() {
            // Pellets did not change: reuse last tick's list.
            Some(prev) if !self.sim.pellets_changed() => prev.pellets,
            _ => {
                self.sim.read_pellets(&mut self.pellet_views);
                self.pellet_views.iter().map(pellet_to_wire).collect()
            }
        };
        let roster = self
            .players
            .iter()
            .map(|(&id, s)| proto::PlayerInfo {
                id,
                name: s.name.clone(),
            })
            .collect();
        Frame {
            tick: self.sim.tick() as u32,
            players,
            pellets,
            roster,
        }
    }

    /// Encodes this tick once as a delta (when the players are the same as
    /// last tick) and, only if someone needs it, once as a full snapshot; puts
    /// the right one into every mailbox. A client whose previous frame is still
    /// unsent (it fell behind) or who just joined gets the full snapshot, so
    /// every delta a client receives applies to the frame it holds.
    fn broadcast(&mut self) {
        let prev = self.prev.take();
        let frame = self.build_frame();
        let tick_rate = self.settings.sim.tick_rate_hz as u16;
        let delta = match &prev {
            Some(prev) if !self.roster_dirty => replica::diff(prev, &frame, tick_rate),
            _ => None,
        }
        .map(|d| encode_frame(&self.metrics, &proto::ServerMsg::Delta(d)));
        let mut full: Option<Bytes> = None;
        let mut stale = 0;
        for slot in self.players.values_mut() {
            let Some(mailbox) = &slot.mailbox else {
                continue;
            };
            let behind = mailbox.has_pending();
            let bytes = match &delta {
                Some(delta) if !slot.needs_full && !behind => delta.clone(),
                _ => full
                    .get_or_insert_with(|| {
                        encode_frame(
                            &self.metrics,
                            &proto::ServerMsg::Snapshot(frame.to_snapshot()),
                        )
                    })
                    .clone(),
            };
            slot.needs_full = false;
            if mailbox.put(bytes) {
                stale += 1;
            }
        }
        if stale > 0 {
            self.metrics.frames_dropped_stale.increment(stale);
        }
        self.roster_dirty = false;
        self.prev = Some(frame);
    }

    fn check_idle(&mut self, now: Instant) -> RoomStatus {
        if !self.players.is_empty() {
            self.empty_since = None;
            return RoomStatus::Running;
        }
        let since = *self.empty_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.settings.idle_timeout
            && self
                .registry
                .remove_if_idle(&self.id, self.serial, &self.control)
        {
            self.closing = true;
            return self.finish();
        }
        RoomStatus::Running
    }
}

/// Encodes one frame (delta or full snapshot) once, recording its size.
fn encode_frame(metrics: &Metrics, msg: &proto::ServerMsg) -> Bytes {
    let bytes = Bytes::from(proto::encode_server(msg));
    metrics.snapshot_bytes.record(bytes.len() as f64);
    bytes
}

/// A simulated player as the wire carries it (quantized).
pub fn player_to_wire(p: &PlayerView, last_input_seq: u32) -> proto::PlayerState {
    proto::PlayerState {
        id: p.id.0,
        pos: [quant::pos_to_wire(p.pos.x), quant::pos_to_wire(p.pos.y)],
        vel: [quant::vel_to_wire(p.vel.x), quant::vel_to_wire(p.vel.y)],
        score: p.score,
        last_input_seq,
    }
}

/// A live pellet as the wire carries it (quantized).
pub fn pellet_to_wire(p: &PelletView) -> proto::Pellet {
    proto::Pellet {
        id: p.id,
        pos: [quant::pos_to_wire(p.pos.x), quant::pos_to_wire(p.pos.y)],
    }
}

/// The protocol's view of the simulation's rules, for clients' prediction.
pub fn arena_of(c: &SimConfig) -> proto::Arena {
    proto::Arena {
        width: c.width,
        height: c.height,
        player_radius: c.player_radius,
        pellet_radius: c.pellet_radius,
        accel: c.accel,
        max_speed: c.max_speed,
        friction: c.friction,
    }
}
