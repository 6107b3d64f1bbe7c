//! [`RoomCore`]: one room's logic as a sans-IO state machine, in the manner of
//! `quinn_proto::Connection`. Events go in (a connection joins, resumes,
//! leaves, sends input; [`RoomCore::tick`] with the time), and what the room
//! wants done comes out of [`RoomCore::poll_output`] (a frame for a
//! connection, a connection to close). It never touches a socket, a channel, a
//! lock, a metrics handle or the clock: time and the seed for session nonces
//! are arguments, so tests drive it on a manual clock ([`super::host`] is the
//! thread-side shell around it).
//!
//! # One tick, in order
//! 1. players whose resume grace is over leave;
//! 2. the inputs given since the last tick apply (per player the newest steer
//!    wins, the newest sequence number becomes its acknowledgement);
//! 3. the simulation steps once;
//! 4. the frame is built, made canonical against the previous one
//!    ([`replica::settle_velocities`]), hashed, and kept in a short history;
//! 5. every connected player gets one frame: a delta against the newest frame
//!    its connection was actually sent (its *baseline*, supplied by the
//!    caller), or a full snapshot when it has none, just joined or resumed, or
//!    its baseline is no longer in the history. Each distinct payload is
//!    encoded once per tick and shared;
//! 6. an empty room reports [`Status::Idle`] once it has been empty for the
//!    idle timeout.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tickroom_protocol::{
    self as proto, quant,
    replica::{self, Frame},
};
use tickroom_sim::{PelletView, PlayerId, PlayerView, Room as Sim, SimConfig, SplitMix64, Vec2};

use crate::close::{CloseRequest, RESUMED_ELSEWHERE};

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
    /// full snapshot).
    pub history: usize,
    /// Flow control: a connection whose client reports (`Input::ack_tick`)
    /// having received nothing of the last `max_unacked` ticks it was sent
    /// gets no new frame until it catches up, so frames do not pile up in
    /// buffers between it and the server. Applies only while its inputs keep
    /// coming (a client that stops sending inputs is never held). 0 disables.
    pub max_unacked: u32,
    /// The simulation's rules.
    pub sim: SimConfig,
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
    /// The connection id is already in the room (a bug in the caller).
    DuplicateConnection,
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
        /// The encoded `Snapshot` or `Delta`.
        bytes: Bytes,
    },
    /// Close this connection.
    Close {
        /// The connection.
        conn: ConnId,
        /// Code and reason.
        req: CloseRequest,
    },
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
    /// Full snapshots encoded (0 or 1).
    pub snapshots_encoded: u32,
    /// Deltas encoded (one per distinct baseline).
    pub deltas_encoded: u32,
    /// Size of every payload encoded, in bytes.
    pub encoded_sizes: Vec<usize>,
    /// Frames handed out (one per connected player not held).
    pub frames: u32,
    /// Of those, full snapshots.
    pub full_frames: u32,
    /// Connections held back by flow control this tick.
    pub held: u32,
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

#[derive(Debug)]
struct Player {
    name: String,
    /// The current connection, `None` while waiting for a resume.
    conn: Option<ConnId>,
    /// The current connection's session; a resume must name it.
    session: u64,
    /// When the connection dropped, while waiting for a resume.
    gone_since: Option<Instant>,
    last_seq: u32,
    steer: Option<[i8; 2]>,
    /// The next frame must be a full snapshot (joined or resumed).
    needs_full: bool,
    /// The newest tick the client says it received on this connection, and
    /// the room tick when it said so.
    acked: Option<(u32, u32)>,
}

/// One room's state machine (see the module docs).
#[derive(Debug)]
pub struct RoomCore {
    settings: CoreSettings,
    sim: Sim,
    rng: SplitMix64,
    players: BTreeMap<u32, Player>,
    conns: HashMap<ConnId, u32>,
    next_player_id: u32,
    /// Recent frames, oldest first; the newest is the last tick's.
    history: VecDeque<Frame>,
    roster_dirty: bool,
    empty_since: Option<Instant>,
    closed: bool,
    out: VecDeque<Output>,
    stats: TickStats,
    // Scratch reused every tick.
    step_inputs: Vec<(PlayerId, Vec2)>,
    player_views: Vec<PlayerView>,
    pellet_views: Vec<PelletView>,
    encoded: Vec<(u32, Bytes)>,
}

impl RoomCore {
    /// A new, empty room; `seed` feeds its session nonces.
    pub fn new(settings: CoreSettings, now: Instant, seed: u64) -> RoomCore {
        RoomCore {
            sim: Sim::new(settings.sim.clone()),
            settings: CoreSettings {
                history: settings.history.clamp(1, HISTORY),
                ..settings
            },
            rng: SplitMix64::new(seed),
            players: BTreeMap::new(),
            conns: HashMap::new(),
            next_player_id: 1,
            history: VecDeque::new(),
            roster_dirty: true,
            empty_since: Some(now),
            closed: false,
            out: VecDeque::new(),
            stats: TickStats::default(),
            step_inputs: Vec::new(),
            player_views: Vec::new(),
            pellet_views: Vec::new(),
            encoded: Vec::new(),
        }
    }

    /// The room's newest tick (0 before the first).
    pub fn tick_number(&self) -> u32 {
        self.sim.tick() as u32
    }

    /// Players in the room, connected or within their resume grace.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// The arena and movement rules, as the Welcome carries them.
    pub fn arena(&self) -> proto::Arena {
        arena_of(self.sim.config())
    }

    /// What the last tick encoded.
    pub fn stats(&self) -> &TickStats {
        &self.stats
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
            // Take the player back: same entity, id, position and score.
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
            self.conns.insert(conn, claim.player);
            return Ok(Joined {
                player_id: claim.player,
                tick,
                arena: self.arena(),
                session,
                resumed: true,
            });
        }
        if self.players.len() >= self.settings.capacity {
            return Err(JoinRefused::Full);
        }
        let id = self.next_player_id;
        self.next_player_id = self.next_player_id.wrapping_add(1).max(1);
        if !self.sim.add_player(PlayerId(id)) {
            // Ids are unique per room; this would be a bug, not bad input.
            return Err(JoinRefused::Closing);
        }
        let name = if name.is_empty() {
            format!("player-{id}")
        } else {
            name
        };
        self.players.insert(
            id,
            Player {
                name,
                conn: Some(conn),
                session,
                gone_since: None,
                last_seq: 0,
                steer: None,
                needs_full: true,
                acked: None,
            },
        );
        self.conns.insert(conn, id);
        self.roster_dirty = true;
        self.empty_since = None;
        Ok(Joined {
            player_id: id,
            tick,
            arena: self.arena(),
            session,
            resumed: false,
        })
    }

    /// Connection `conn` ended. `explicit` (a Leave, or a protocol violation)
    /// removes its player now; otherwise the player waits the resume grace,
    /// coasting to a stop. A connection that was replaced by a resume, or is
    /// unknown, changes nothing.
    pub fn leave(&mut self, now: Instant, conn: ConnId, explicit: bool) {
        let Some(id) = self.conns.remove(&conn) else {
            return;
        };
        if explicit {
            self.remove(id);
        } else if let Some(p) = self.players.get_mut(&id) {
            p.conn = None;
            p.gone_since = Some(now);
            p.steer = Some([0, 0]);
        }
    }

    /// An input from connection `conn`, for the next tick: its sequence
    /// number, the newest tick its client had received, and its steering.
    /// Inputs from unknown or replaced connections are ignored.
    pub fn input(&mut self, conn: ConnId, seq: u32, ack_tick: u32, steer: [i8; 2]) {
        let now = self.tick_number();
        if let Some(p) = self
            .conns
            .get(&conn)
            .and_then(|id| self.players.get_mut(id))
        {
            p.last_seq = p.last_seq.max(seq);
            p.steer = Some(steer);
            let newest = p.acked.map_or(ack_tick, |(a, _)| a.max(ack_tick));
            p.acked = Some((newest.min(now), now));
        }
    }

    /// Runs one tick (see the module docs). `baseline(conn)` must return the
    /// tick of the newest frame that connection was actually sent (taken by
    /// its writer), or `None`; frames the caller dropped unsent never count.
    pub fn tick(
        &mut self,
        now: Instant,
        mut baseline: impl FnMut(ConnId) -> Option<u32>,
    ) -> Status {
        if self.closed {
            return Status::Closed;
        }
        self.expire_grace(now);
        self.apply_inputs();
        self.sim.step(&self.step_inputs);
        self.publish(&mut baseline);
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
            self.remove(id);
        }
    }

    fn remove(&mut self, id: u32) {
        if let Some(p) = self.players.remove(&id) {
            if let Some(conn) = p.conn {
                self.conns.remove(&conn);
            }
            self.sim.remove_player(PlayerId(id));
            self.roster_dirty = true;
        }
    }

    fn apply_inputs(&mut self) {
        self.step_inputs.clear();
        for (&id, p) in &mut self.players {
            if let Some(steer) = p.steer.take() {
                let (x, y) = quant::steer_from_wire(steer);
                self.step_inputs.push((PlayerId(id), Vec2::new(x, y)));
            }
        }
    }

    /// This tick's frame, canonical against the previous one.
    fn build_frame(&mut self) -> Frame {
        self.sim.read_players(&mut self.player_views);
        let players = self
            .player_views
            .iter()
            .map(|v| player_to_wire(v, self.players.get(&v.id.0).map_or(0, |p| p.last_seq)))
            .collect();
        let prev = self.history.back_mut();
        let pellets = match &prev {
            Some(prev) if !self.sim.pellets_changed() => prev.pellets.clone(),
            _ => {
                self.sim.read_pellets(&mut self.pellet_views);
                self.pellet_views.iter().map(pellet_to_wire).collect()
            }
        };
        // Only the newest frame keeps names (full snapshots and joins need them).
        let roster = match prev {
            Some(prev) if !self.roster_dirty => std::mem::take(&mut prev.roster),
            _ => self
                .players
                .iter()
                .map(|(&id, p)| proto::PlayerInfo {
                    id,
                    name: p.name.clone(),
                })
                .collect(),
        };
        self.roster_dirty = false;
        let mut frame = Frame {
            tick: self.tick_number(),
            players,
            pellets,
            roster,
        };
        if let Some(prev) = self.history.back() {
            replica::settle_velocities(prev, &mut frame, self.settings.sim.tick_rate_hz as u16);
        }
        frame
    }

    fn publish(&mut self, baseline: &mut impl FnMut(ConnId) -> Option<u32>) {
        let mut frame = self.build_frame();
        let checksum = frame.checksum();
        let tick = frame.tick;
        let rate = self.settings.sim.tick_rate_hz as u16;
        self.encoded.clear();
        self.stats.clear();
        let window = self.settings.max_unacked;
        let mut full: Option<Bytes> = None;
        let mut oldest_in_use = tick;
        for p in self.players.values_mut() {
            let Some(conn) = p.conn else { continue };
            let base = baseline(conn).filter(|_| !p.needs_full);
            if let (Some(b), Some((acked, at))) = (base, p.acked)
                && window > 0
                && tick.saturating_sub(at) <= window
                && b.saturating_sub(acked) >= window
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
                let from = self.history.iter().rev().find(|f| f.tick == b)?;
                let delta = replica::diff(from, &frame, checksum, rate)?;
                let bytes = Bytes::from(proto::encode_server(&proto::ServerMsg::Delta(delta)));
                self.stats.deltas_encoded += 1;
                self.stats.encoded_sizes.push(bytes.len());
                self.encoded.push((b, bytes.clone()));
                Some(bytes)
            });
            let bytes = match cached {
                Some(bytes) => {
                    if let Some(b) = base {
                        oldest_in_use = oldest_in_use.min(b);
                    }
                    bytes
                }
                None => {
                    self.stats.full_frames += 1;
                    full.get_or_insert_with(|| {
                        let bytes = Bytes::from(proto::encode_server(&proto::ServerMsg::Snapshot(
                            frame.to_snapshot(),
                        )));
                        self.stats.snapshots_encoded += 1;
                        self.stats.encoded_sizes.push(bytes.len());
                        bytes
                    })
                    .clone()
                }
            };
            self.stats.frames += 1;
            self.out.push_back(Output::Frame { conn, tick, bytes });
        }
        // Keep what a connection may still name as its baseline: frames from
        // the oldest baseline in use on (baselines only move forward), at
        // most `history` of them. (Ticks only grow within a room's life, far
        // below u32::MAX at 20-60 Hz.)
        let keep_from = oldest_in_use;
        if let Some(prev) = self.history.back_mut() {
            prev.roster = Vec::new();
        }
        self.history.push_back(std::mem::take(&mut frame));
        while self.history.len() > self.settings.history
            || self.history.front().is_some_and(|f| f.tick < keep_from)
        {
            self.history.pop_front();
        }
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
