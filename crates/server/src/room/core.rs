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
//!    ([`replica::settle_velocities`]), hashed, and kept in a short history
//!    (steps 2-4 are the [`Game`]'s: what frames say);
//! 5. every connected player gets one frame: a delta against the newest frame
//!    its connection was actually sent (its *baseline*, supplied by the
//!    caller), or a full snapshot when it has none, just joined or resumed, or
//!    its baseline is no longer in the history. Each distinct payload is
//!    encoded once per tick and shared;
//! 6. an empty room reports [`Status::Idle`] once it has been empty for the
//!    idle timeout;
//! 7. when recording, the tick's [`TickRecord`] (and every
//!    `keyframe_every`-th tick the whole frame) is output for the shell to
//!    write.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    time::{Duration, Instant},
};

use bytes::Bytes;
use tickroom_protocol::{
    self as proto,
    record::TickRecord,
    replica::{self, Frame},
};
use tickroom_sim::{SimConfig, SplitMix64};

use super::game::{Game, Removal};
pub use super::game::{arena_of, pellet_to_wire, player_to_wire};
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
    /// Record every step (see [`Output::Record`]), when set.
    pub recording: Option<RecordSettings>,
    /// Simulation steps per frame: [`RoomCore::tick`] steps once per call
    /// and builds and sends a frame every this many calls (`sim.tick_rate_hz`
    /// is the step rate).
    pub steps_per_frame: u32,
}

/// How a room records itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSettings {
    /// Output the whole frame after every this many ticks (0: never).
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
    /// Recording: what the tick just run applied, and its checksum.
    Record(TickRecord),
    /// Recording: the whole frame of the tick just recorded.
    Keyframe(proto::Snapshot),
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

/// A player's connection state (its game state is the [`Game`]'s).
#[derive(Debug)]
struct Player {
    /// The current connection, `None` while waiting for a resume.
    conn: Option<ConnId>,
    /// The current connection's session; a resume must name it.
    session: u64,
    /// When the connection dropped, while waiting for a resume.
    gone_since: Option<Instant>,
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
    game: Game,
    rng: SplitMix64,
    players: BTreeMap<u32, Player>,
    conns: HashMap<ConnId, u32>,
    /// Recent frames, oldest first; the newest is the last tick's.
    history: VecDeque<Frame>,
    empty_since: Option<Instant>,
    closed: bool,
    out: VecDeque<Output>,
    stats: TickStats,
    // Scratch reused every tick.
    encoded: Vec<(u32, Bytes)>,
}

impl RoomCore {
    /// A new, empty room; `seed` feeds its session nonces.
    pub fn new(settings: CoreSettings, now: Instant, seed: u64) -> RoomCore {
        RoomCore {
            game: Game::new(
                settings.sim.clone(),
                settings.recording.is_some(),
                settings.steps_per_frame,
            ),
            settings: CoreSettings {
                history: settings.history.clamp(1, HISTORY),
                ..settings
            },
            rng: SplitMix64::new(seed),
            players: BTreeMap::new(),
            conns: HashMap::new(),
            history: VecDeque::new(),
            empty_since: Some(now),
            closed: false,
            out: VecDeque::new(),
            stats: TickStats::default(),
            encoded: Vec::new(),
        }
    }

    /// The room's newest tick (0 before the first).
    pub fn tick_number(&self) -> u32 {
        self.game.tick_number()
    }

    /// Simulation steps so far (ticks × steps per frame).
    pub fn step_number(&self) -> u64 {
        self.game.step_number()
    }

    /// Players in the room, connected or within their resume grace.
    pub fn player_count(&self) -> usize {
        self.players.len()
    }

    /// The arena and movement rules, as the Welcome carries them.
    pub fn arena(&self) -> proto::Arena {
        arena_of(self.game.config())
    }

    /// What the last tick encoded.
    pub fn stats(&self) -> &TickStats {
        &self.stats
    }

    /// Stops recording (the shell could not keep up): no more
    /// [`Output::Record`]s.
    pub fn stop_recording(&mut self) {
        self.settings.recording = None;
        self.game.stop_recording();
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
            self.game.resumed(claim.player);
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
        // Ids are unique per room; a refusal would be a bug, not bad input.
        let id = self.game.join(name).ok_or(JoinRefused::Closing)?;
        self.players.insert(
            id,
            Player {
                conn: Some(conn),
                session,
                gone_since: None,
                needs_full: true,
                acked: None,
            },
        );
        self.conns.insert(conn, id);
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
            self.remove(id, Removal::Left);
        } else if let Some(p) = self.players.get_mut(&id) {
            p.conn = None;
            p.gone_since = Some(now);
            self.game.disconnected(id);
        }
    }

    /// An input from connection `conn`, for the next tick: its sequence
    /// number, the newest tick its client had received, and its steering.
    /// Inputs from unknown or replaced connections are ignored.
    pub fn input(&mut self, conn: ConnId, seq: u32, ack_tick: u32, steer: [i8; 2]) {
        let now = self.tick_number();
        if let Some((&id, p)) = self
            .conns
            .get(&conn)
            .and_then(|id| self.players.get_mut(id).map(|p| (id, p)))
        {
            self.game.input(id, seq, steer);
            let newest = p.acked.map_or(ack_tick, |(a, _)| a.max(ack_tick));
            p.acked = Some((newest.min(now), now));
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
        self.expire_grace(now);
        let frame = self.game.step(self.history.back_mut());
        let framed = frame.is_some();
        if let Some(frame) = frame {
            self.publish(frame, &mut baseline);
        }
        if let Some(record) = self.game.take_record() {
            self.out.push_back(Output::Record(record));
            let every = self.settings.recording.map_or(0, |r| r.keyframe_every);
            if framed
                && every > 0
                && self.tick_number().is_multiple_of(every)
                && let Some(frame) = self.history.back()
            {
                self.out.push_back(Output::Keyframe(frame.to_snapshot()));
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
            self.remove(id, Removal::Expired);
        }
    }

    fn remove(&mut self, id: u32, why: Removal) {
        if let Some(p) = self.players.remove(&id) {
            if let Some(conn) = p.conn {
                self.conns.remove(&conn);
            }
            self.game.remove(id, why);
        }
    }

    fn publish(&mut self, mut frame: Frame, baseline: &mut impl FnMut(ConnId) -> Option<u32>) {
        let checksum = frame.checksum();
        let tick = frame.tick;
        let rate = self.game.frame_rate() as u16;
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
