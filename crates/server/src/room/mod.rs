//! Rooms: the sans-IO logic ([`core`]), the shell that runs it on a tick
//! worker ([`host`]), and the handle the I/O side reaches a room through;
//! and what runs rooms on this node: the tick-worker threads ([`worker`]),
//! the one interface rooms are started through ([`placement`]), the
//! directory of live rooms ([`registry`]) and its limits on starting them
//! ([`room_limits`]).
//!
//! The layer above `net`: it names `net` (`close`, `mailbox`), `recording`,
//! `metrics`, `tickets`, `signing` and `config`, and never `cluster`,
//! `state`, a connection task or a route. Inside, top to bottom: `registry`
//! (over `placement` and `room_limits`) and `worker` (the local
//! `Placement`, owning the hosts); `placement` and `host`; this module's
//! handle; `core`.
//! `recording` names this module's `RoomGame` while `host` and `worker`
//! hand it their records: a tie both ways between the two folders (not
//! between files) that predates them.
//!
//! Layers, top to bottom: connections and the registry hold a [`RoomHandle`];
//! a tick worker owns the [`host::RoomHost`]; the host owns the
//! [`core::RoomCore`] and its players' mailboxes. The room never calls the
//! registry: it reports its status to its worker, and publishes what others
//! may read (tick, player count, closed) through [`RoomShared`] atomics.

pub mod core;
#[cfg(test)]
mod handoff_tests;
#[cfg(test)]
mod harness;
pub mod host;
pub mod placement;
#[cfg(test)]
mod record_tests;
pub mod registry;
pub mod room_limits;
pub mod snapshot;
#[cfg(test)]
mod view_tests;
pub mod worker;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crossbeam_channel::{Sender, TrySendError};
use tickroom_game::GameEntry;
use tokio::sync::oneshot;

pub use self::core::{ConnId, JoinRefused, Joined, ResumeClaim};
use crate::net::{close::CloseRequest, mailbox::Mailbox};

/// Commands a room's thread receives; one closed set, no callbacks.
#[derive(Debug)]
pub enum RoomCmd {
    /// A connection asks to join with a display name.
    Join {
        /// The connection.
        conn: ConnId,
        /// Display name (already cleaned).
        name: String,
        /// Where the room puts this connection's frames.
        mailbox: Arc<Mailbox>,
        /// A verified resume claim: take back this player if its session is
        /// still this one; otherwise join fresh.
        resume: Option<ResumeClaim>,
        /// The answer.
        reply: oneshot::Sender<Result<Joined, JoinRefused>>,
    },
    /// A connection ended.
    Leave {
        /// The connection.
        conn: ConnId,
        /// The player left on purpose (or was thrown out): remove it now.
        /// Otherwise the entity waits the resume grace period.
        explicit: bool,
    },
    /// Close every player with this request and end the room.
    Shutdown(CloseRequest),
    /// Stop between two ticks and answer with the room's snapshot. The room
    /// stays, frozen (no steps, inputs dropped and counted, joins refused),
    /// until [`RoomCmd::Thaw`] or [`RoomCmd::Shutdown`].
    Freeze {
        /// The answer.
        reply: oneshot::Sender<snapshot::RoomSnapshot>,
    },
    /// Carry on after a freeze (its hand-off failed).
    Thaw,
}

/// One input on its way from a reader task to a room.
#[derive(Debug, Clone)]
pub struct InputMsg {
    /// The sending connection.
    pub conn: ConnId,
    /// The input's sequence number.
    pub seq: u32,
    /// The newest tick the client had received.
    pub ack_tick: u32,
    /// The game's input, as on the wire (already checked against the
    /// game's input type by the reader).
    pub data: InputData,
    /// When the reader took the input's frame off the socket (the start of
    /// the input-latency histograms).
    pub received: Stamp,
}

/// A game input's bytes: inline up to [`InputData::INLINE`] bytes (every
/// input of the bundled games), on the heap past that, so the common input
/// costs no allocation on its way to the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputData {
    /// Up to [`InputData::INLINE`] bytes: the length and the bytes.
    Inline(u8, [u8; InputData::INLINE]),
    /// Longer inputs.
    Heap(Box<[u8]>),
}

impl InputData {
    /// The longest input held inline.
    pub const INLINE: usize = 22;

    /// `bytes`, inline if they fit.
    pub fn new(bytes: &[u8]) -> Self {
        if bytes.len() <= Self::INLINE {
            let mut buf = [0; Self::INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            InputData::Inline(bytes.len() as u8, buf)
        } else {
            InputData::Heap(bytes.into())
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            InputData::Inline(len, buf) => &buf[..usize::from(*len)],
            InputData::Heap(b) => b,
        }
    }
}

/// An instant as microseconds since the process's first stamp, in 4 bytes
/// (an `Instant` takes 16, and every room's input queue has a slot per
/// input it can hold: 1,024 × 16 bytes more per room, measured in issue 22).
/// Wraps after 71 minutes; differences are taken modulo that, so a span
/// under it is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(u32);

impl Stamp {
    /// The stamp of `at` (an instant after the process's first stamp; an
    /// earlier one stamps as the first).
    pub fn at(at: Instant) -> Stamp {
        let micros = at.saturating_duration_since(stamp_epoch()).as_micros();
        // Truncation is the wrap-around.
        Stamp(micros as u32)
    }

    /// How long before `later` this stamp was (zero if `later` is earlier).
    pub fn elapsed_at(self, later: Instant) -> Duration {
        let now = Stamp::at(later).0;
        let span = now.wrapping_sub(self.0);
        // A "span" in the upper half is a later stamp: clamp it to zero.
        if span > u32::MAX / 2 {
            Duration::ZERO
        } else {
            Duration::from_micros(u64::from(span))
        }
    }
}

/// The process-wide origin of [`Stamp`]s.
fn stamp_epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// What a room publishes for the I/O side to read without asking it.
#[derive(Debug, Default)]
pub struct RoomShared {
    /// The room's newest tick, for pongs.
    pub tick: AtomicU32,
    /// Players in the room (connected or within their resume grace).
    pub players: AtomicUsize,
    /// The room has stopped taking joins: look it up afresh.
    pub closed: AtomicBool,
    /// The room must not close as idle before this Unix time (ms): a join
    /// ticket holds a seat in it until then.
    pub hold_until_ms: AtomicU64,
}

impl RoomShared {
    /// Whether the room stopped taking joins.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Players in the room now.
    pub fn players(&self) -> usize {
        self.players.load(Ordering::Relaxed)
    }

    /// Keeps the room from closing as idle until `until_ms` (Unix ms).
    pub fn hold_until(&self, until_ms: u64) {
        self.hold_until_ms.fetch_max(until_ms, Ordering::AcqRel);
    }
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
    pub inputs: InputSender,
    /// What the room publishes.
    pub shared: Arc<RoomShared>,
    /// Its game and config.
    pub game: RoomGame,
}

/// The sending side of a room's input queue: at most `capacity` inputs wait
/// (give or take one per I/O thread sending at the same instant); past it an
/// input is refused as [`TrySendError::Full`], never waited for.
///
/// The queue is crossbeam's linked list of 31-slot blocks, allocated as
/// inputs arrive and freed as the room takes them: an idle or lightly
/// loaded room holds one block, where a bounded (array) channel holds
/// `--input-queue` slots from its start (32 KiB a room at the default, or
/// 0.6 KiB per player in 50-player rooms: issue 22 measured it).
#[derive(Debug, Clone)]
pub struct InputSender {
    tx: Sender<InputMsg>,
    capacity: usize,
}

impl InputSender {
    /// A queue of at most `capacity` waiting inputs, and its receiving end.
    pub fn queue(capacity: usize) -> (InputSender, crossbeam_channel::Receiver<InputMsg>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (InputSender { tx, capacity }, rx)
    }

    /// Queues `msg` unless the queue is full or the room is gone.
    pub fn try_send(&self, msg: InputMsg) -> Result<(), TrySendError<InputMsg>> {
        if self.tx.len() >= self.capacity {
            return Err(TrySendError::Full(msg));
        }
        self.tx
            .send(msg)
            .map_err(|e| TrySendError::Disconnected(e.0))
    }
}

/// A room's game and its config: every field, defaults filled in, as the
/// game's [`GameEntry::config`] returned it (so it is valid).
#[derive(Debug, Clone)]
pub struct RoomGame {
    /// The game.
    pub entry: Arc<dyn GameEntry>,
    /// Its config for this room.
    pub config: Arc<serde_json::Value>,
}

impl RoomGame {
    /// Game `entry` with `config` (`None`: its defaults), checked.
    pub fn new(
        entry: Arc<dyn GameEntry>,
        config: Option<&serde_json::Value>,
    ) -> Result<Self, tickroom_game::ConfigError> {
        let config = Arc::new(entry.config(config)?);
        Ok(Self { entry, config })
    }

    /// The game's name.
    pub fn name(&self) -> &'static str {
        self.entry.name()
    }
}

/// A room's settings, from the server config and the room API.
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
    /// Flow control window, in ticks (see [`core::CoreSettings::max_unacked`]).
    pub max_unacked: u32,
    /// The room's game and config.
    pub game: RoomGame,
    /// Simulation steps per second (`--sim-rate`).
    pub step_rate_hz: u32,
    /// Whether and how rooms record themselves (`--record-dir`).
    pub recording: Option<core::RecordSettings>,
    /// Simulation steps per frame (`--sim-rate` ÷ `--tick-rate`).
    pub steps_per_frame: u32,
    /// Where rooms send their periodic snapshots (`--room-snapshots`).
    pub snapshots: Option<SnapshotSink>,
    /// Listed and matchmade (the room API's; kept in snapshots).
    pub public: bool,
    /// The room API's metadata (kept in snapshots).
    pub metadata: Arc<serde_json::Map<String, serde_json::Value>>,
}

/// A room snapshot on its way to Redis: `Some` bytes to keep, `None` when
/// the room ended here (its snapshot goes).
pub type SnapshotWrite = (Arc<str>, Option<Vec<u8>>);

/// Where rooms send their periodic snapshots (`--room-snapshots`): a
/// bounded queue a writer task empties into Redis. A full queue drops the
/// snapshot (counted): the next one follows an interval later.
#[derive(Debug, Clone)]
pub struct SnapshotSink {
    /// Steps between two snapshots of a room.
    pub every_steps: u64,
    /// The writer's queue.
    pub tx: tokio::sync::mpsc::Sender<SnapshotWrite>,
}

impl RoomSettings {
    /// The core's share of these settings.
    pub fn core(&self) -> core::CoreSettings {
        core::CoreSettings {
            capacity: self.capacity,
            idle_timeout: self.idle_timeout,
            resume_grace: self.resume_grace,
            history: core::HISTORY,
            max_unacked: self.max_unacked,
            recording: self.recording,
            steps_per_frame: self.steps_per_frame,
        }
    }
}

#[cfg(test)]
mod stamp_tests {
    use super::*;

    #[test]
    fn a_stamp_measures_the_span_to_a_later_instant() {
        // Stamps count from the process's first one: take it before `t0`.
        Stamp::at(Instant::now());
        let t0 = Instant::now();
        let s = Stamp::at(t0);
        let later = t0 + Duration::from_micros(12_345);
        // Both ends are truncated to whole microseconds.
        let span = s.elapsed_at(later).as_micros();
        assert!((12_344..=12_346).contains(&span), "{span}");
        assert_eq!(s.elapsed_at(t0), Duration::ZERO);
        // An earlier "later" is no negative span.
        let s = Stamp::at(later);
        assert_eq!(s.elapsed_at(t0), Duration::ZERO);
    }

    fn input(seq: u32) -> InputMsg {
        InputMsg {
            conn: 1,
            seq,
            ack_tick: 0,
            data: InputData::new(&[1, 2]),
            received: Stamp::at(Instant::now()),
        }
    }

    #[test]
    fn the_input_queue_refuses_past_its_capacity_and_frees_as_it_is_read() {
        let (tx, rx) = InputSender::queue(3);
        for seq in 0..3 {
            tx.try_send(input(seq)).expect("room for it");
        }
        assert!(matches!(tx.try_send(input(3)), Err(TrySendError::Full(m)) if m.seq == 3));
        let taken: Vec<u32> = rx.try_iter().take(2).map(|m| m.seq).collect();
        assert_eq!(taken, [0, 1], "in arrival order");
        tx.try_send(input(4)).expect("room again");
        assert_eq!(rx.len(), 2);
        drop(rx);
        assert!(matches!(
            tx.try_send(input(5)),
            Err(TrySendError::Disconnected(_))
        ));
    }

    #[test]
    fn an_input_on_its_way_to_a_room_fits_its_byte_budget() {
        // A queued input holds its game's bytes inline (22 of them) rather
        // than a heap allocation each; the queue grows with use (issue 22),
        // so this is per input waiting, not per slot.
        assert_eq!(std::mem::size_of::<InputMsg>(), 48);
    }

    #[test]
    fn input_bytes_stay_inline_up_to_their_bound_and_read_back() {
        for len in [0, 1, InputData::INLINE, InputData::INLINE + 1, 200] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let data = InputData::new(&bytes);
            assert_eq!(data.as_slice(), &bytes[..]);
            assert_eq!(
                matches!(data, InputData::Inline(..)),
                len <= InputData::INLINE
            );
        }
    }
}
