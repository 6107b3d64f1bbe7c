//! Rooms: the sans-IO logic ([`core`]), the shell that runs it on a tick
//! worker ([`host`]), and the handle the I/O side reaches a room through.
//!
//! Layers, top to bottom: connections and the registry hold a [`RoomHandle`];
//! a tick worker owns the [`host::RoomHost`]; the host owns the
//! [`core::RoomCore`] and its players' mailboxes. The room never calls the
//! registry: it reports its status to its worker, and publishes what others
//! may read (tick, player count, closed) through [`RoomShared`] atomics.

pub mod core;
pub mod game;
#[cfg(test)]
mod harness;
pub mod host;
#[cfg(test)]
mod record_tests;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use crossbeam_channel::Sender;
use tickroom_sim::SimConfig;
use tokio::sync::oneshot;

pub use self::core::{ConnId, JoinRefused, Joined, ResumeClaim};
use crate::{close::CloseRequest, mailbox::Mailbox};

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
}

/// One input on its way from a reader task to a room.
#[derive(Debug, Clone, Copy)]
pub struct InputMsg {
    /// The sending connection.
    pub conn: ConnId,
    /// The input's sequence number.
    pub seq: u32,
    /// The newest tick the client had received.
    pub ack_tick: u32,
    /// Steering, as on the wire.
    pub steer: [i8; 2],
    /// When the reader took the input's frame off the socket (the start of
    /// the input-latency histograms).
    pub received: Instant,
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
    pub inputs: Sender<InputMsg>,
    /// What the room publishes.
    pub shared: Arc<RoomShared>,
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
    /// The simulation's rules.
    pub sim: SimConfig,
    /// Whether and how rooms record themselves (`--record-dir`).
    pub recording: Option<core::RecordSettings>,
    /// Simulation steps per frame (`--sim-rate` ÷ `--tick-rate`).
    pub steps_per_frame: u32,
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
            sim: self.sim.clone(),
            recording: self.recording,
            steps_per_frame: self.steps_per_frame,
        }
    }
}
