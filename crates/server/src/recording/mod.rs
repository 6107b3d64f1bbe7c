//! Room recording (`--record-dir`): the thin I/O shell that takes the
//! [`TickRecord`]s a recording [`RoomCore`](crate::room::core::RoomCore)
//! outputs and gets them onto disk without ever making a tick wait.
//!
//! Each room's host holds a [`RoomRecorder`]; it hands records to the one
//! writer thread (`writer`) through a bounded channel with `try_send`.
//! When the channel is full the room's recording stops for good (a gap
//! would make the rest unreplayable), logged once and counted; the room
//! plays on. The writer encodes, appends and flushes (every second and at the
//! end), names files after the room and its start time, and keeps the file
//! and directory size caps. The file format is [`tickroom_protocol::record`].
//! [`replay`] re-runs a finished recording offline, for the `replay`
//! subcommand and the recordings endpoints.
//!
//! The layer: `recording` names `metrics`, `priority` and `room`'s
//! `RoomGame`; `replay` names nothing of the crate (only the protocol and
//! game crates). The room's `host` and the tick `worker` hand records to
//! [`RoomRecorder`] and [`Recorder`], so `room/` and this folder name each
//! other, though no two files do.

pub mod replay;
mod writer;

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use crossbeam_channel::{Sender, TrySendError};
use serde::Serialize;
use tickroom_protocol::{
    PROTOCOL_VERSION,
    record::{Continuation, EndReason, PreviousRecording, RecordHeader, TickRecord},
};

use crate::{metrics::RecordMetrics, room::RoomGame};

/// File name suffix of recordings.
pub const SUFFIX: &str = ".tickrec";

/// Blocks the writer's queue holds (all rooms together): about 4 s of 50
/// busy rooms at 20 Hz.
pub const QUEUE_BLOCKS: usize = 8192;

/// How often the writer flushes open files (and ends those of rooms gone).
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// How often the writer takes what the rooms queued. It sleeps in between
/// instead of waiting on the channel, so a room's `try_send` never has a
/// sleeping thread to wake (no syscall on the tick thread) and the writer
/// wakes 20 times a second, not once per record; the queue holds well over
/// this long of records.
pub const DRAIN_EVERY: Duration = Duration::from_millis(50);

/// Where and how much to record.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The directory (created if missing).
    pub dir: PathBuf,
    /// Largest file; its room's recording ends there.
    pub max_file_bytes: u64,
    /// Largest total of the directory's recordings; the oldest go first.
    pub max_dir_bytes: u64,
    /// This node's id, for headers.
    pub node: String,
    /// Added to the writer thread's nice value (`--io-nice`): tick workers
    /// preempt it.
    pub nice: i32,
}

/// A room about to be recorded.
#[derive(Debug, Clone)]
pub struct RoomToRecord<'a> {
    /// Unique per process (the room's serial).
    pub key: u64,
    /// The room's id.
    pub room: &'a str,
    /// When it starts, Unix ms.
    pub started_unix_ms: u64,
    /// Its capacity.
    pub capacity: usize,
    /// Its game and config.
    pub game: &'a RoomGame,
    /// Its game's random seed.
    pub seed: u64,
    /// Simulation steps per second.
    pub step_rate_hz: u32,
    /// A keyframe every this many frames.
    pub keyframe_every: u32,
    /// Simulation steps per frame.
    pub steps_per_frame: u32,
    /// Set when the room continues from a saved state (handed over, or
    /// restored from a snapshot): written after the header.
    pub continues: Option<Continuation>,
}

/// A message to the writer thread.
#[derive(Debug)]
enum WriterMsg {
    Start {
        key: u64,
        header: Box<RecordHeader>,
        continues: Option<Box<Continuation>>,
        /// Set when the room's recorder is gone (its End may have been lost).
        gone: Arc<AtomicBool>,
    },
    Tick {
        key: u64,
        record: TickRecord,
    },
    Keyframe {
        key: u64,
        frame: Vec<u8>,
    },
    End {
        key: u64,
        reason: EndReason,
    },
    /// Flush the file, then run `then` (on the writer thread).
    FlushThen {
        key: u64,
        then: AfterFlush,
    },
    /// End everything and exit.
    Stop,
}

/// Work to run once a recording's blocks so far are written out.
pub struct AfterFlush(pub Box<dyn FnOnce() + Send>);

impl std::fmt::Debug for AfterFlush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterFlush")
    }
}

/// The process's recorder: starts room recordings. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: Sender<WriterMsg>,
    node: String,
    metrics: RecordMetrics,
}

/// The writer thread, for stopping it at shutdown.
#[derive(Debug)]
pub struct RecorderThread {
    tx: Sender<WriterMsg>,
    thread: JoinHandle<()>,
}

impl Recorder {
    /// Creates the directory if needed and starts the writer thread.
    pub fn start(
        config: RecordConfig,
        metrics: RecordMetrics,
    ) -> std::io::Result<(Recorder, RecorderThread)> {
        std::fs::create_dir_all(&config.dir)?;
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_BLOCKS);
        let node = config.node.clone();
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("tickroom-recorder".into())
            .spawn(move || {
                if let Err(e) = crate::priority::set_current_thread_nice(config.nice) {
                    tracing::warn!(error = %e, "could not lower the recorder thread's priority");
                }
                writer::run(config, rx, m)
            })?;
        let recorder = Recorder {
            tx: tx.clone(),
            node,
            metrics,
        };
        Ok((recorder, RecorderThread { tx, thread }))
    }

    /// A recorder for a room starting now.
    pub fn room(&self, r: RoomToRecord<'_>) -> RoomRecorder {
        let (key, room) = (r.key, r.room);
        let header = RecordHeader {
            protocol_version: PROTOCOL_VERSION,
            game: r.game.name().to_owned(),
            game_version: r.game.entry.version(),
            schema_hash: r.game.entry.catalogue().schema().hash(),
            config: r.game.config.to_string(),
            seed: r.seed,
            step_rate_hz: r.step_rate_hz,
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            room: room.to_owned(),
            node: self.node.clone(),
            started_unix_ms: r.started_unix_ms,
            capacity: r.capacity.min(u32::MAX as usize) as u32,
            keyframe_every: r.keyframe_every,
            steps_per_frame: r.steps_per_frame,
        };
        let gone = Arc::new(AtomicBool::new(false));
        let mut rec = RoomRecorder {
            key,
            tx: self.tx.clone(),
            metrics: self.metrics.clone(),
            room: room.into(),
            state: State::Recording,
            gone: Arc::clone(&gone),
            name: PreviousRecording {
                node: self.node.clone(),
                file: file_name(room, r.started_unix_ms, key),
            },
        };
        let _ = rec.send(WriterMsg::Start {
            key,
            header: Box::new(header),
            continues: r.continues.map(Box::new),
            gone,
        });
        rec
    }
}

impl RecorderThread {
    /// Ends every recording still open, flushes, and waits (at most `limit`)
    /// for the writer to finish. Call after the rooms are gone.
    pub fn finish(self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        if self.tx.send_timeout(WriterMsg::Stop, limit).is_err() {
            tracing::warn!(
                "recorder did not take its stop message; recordings may lack their End block"
            );
            return;
        }
        while !self.thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        } else {
            tracing::warn!("recorder still writing at exit; recordings may lack their End block");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Recording,
    /// Stopped for good (the queue was full, or the writer is gone).
    Stopped,
}

/// One room's side of its recording, owned by its host.
#[derive(Debug)]
pub struct RoomRecorder {
    key: u64,
    tx: Sender<WriterMsg>,
    metrics: RecordMetrics,
    room: Arc<str>,
    state: State,
    gone: Arc<AtomicBool>,
    /// This node and the file's name, for a recording that continues it.
    name: PreviousRecording,
}

impl RoomRecorder {
    /// The recording's node and file name (what a continuation names).
    pub fn name(&self) -> &PreviousRecording {
        &self.name
    }

    /// Ends the recording now with `reason` (never waits).
    pub fn end(mut self, reason: EndReason) {
        if self.state == State::Recording {
            let key = self.key;
            let _ = self.send(WriterMsg::End { key, reason });
            // Sent (or the queue was full and the writer ends it as abandoned).
            self.state = State::Stopped;
        }
    }

    /// Hands a tick's record to the writer (never waits).
    pub fn tick(&mut self, record: TickRecord) {
        let key = self.key;
        let _ = self.send(WriterMsg::Tick { key, record });
    }

    /// Hands a keyframe (a whole frame, encoded) to the writer (never waits).
    pub fn keyframe(&mut self, frame: Vec<u8>) {
        let key = self.key;
        let _ = self.send(WriterMsg::Keyframe { key, frame });
    }

    /// Whether this room is still being recorded.
    pub fn is_recording(&self) -> bool {
        self.state == State::Recording
    }

    /// Runs `then` on the writer thread once every block handed over so
    /// far is written to the file (in the kernel's hands: a process killed
    /// after that loses none of it). Hands `then` back when the room is not
    /// being recorded any more (the caller runs it).
    pub fn after_flush(&mut self, then: AfterFlush) -> Result<(), AfterFlush> {
        let key = self.key;
        match self.send(WriterMsg::FlushThen { key, then }) {
            Ok(()) => Ok(()),
            Err(WriterMsg::FlushThen { then, .. }) => Err(then),
            // `send` hands back the message it was given.
            Err(_) => Ok(()),
        }
    }

    fn send(&mut self, msg: WriterMsg) -> Result<(), WriterMsg> {
        if self.state != State::Recording {
            return Err(msg);
        }
        match self.tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) => {
                self.state = State::Stopped;
                self.metrics.stopped_queue_full.increment(1);
                tracing::error!(
                    room = %self.room,
                    "recording stopped: the recorder's queue is full (disk too slow?); the room goes on unrecorded"
                );
                // Best effort: the writer also notices the room is gone.
                let _ = self.tx.try_send(WriterMsg::End {
                    key: self.key,
                    reason: EndReason::QueueFull,
                });
                Err(msg)
            }
            Err(TrySendError::Disconnected(msg)) => {
                self.state = State::Stopped;
                Err(msg)
            }
        }
    }
}

impl Drop for RoomRecorder {
    fn drop(&mut self) {
        if self.state == State::Recording {
            let _ = self.tx.try_send(WriterMsg::End {
                key: self.key,
                reason: EndReason::RoomClosed,
            });
        }
        // Released after the last send: the writer reads it with Acquire, so
        // everything sent before is in the channel when it sees `true`.
        self.gone.store(true, Ordering::Release);
    }
}

/// The file name of a room's recording: `<room>@<start unix ms>-<key>.tickrec`.
pub fn file_name(room: &str, started_unix_ms: u64, key: u64) -> String {
    format!("{room}@{started_unix_ms}-{key}{SUFFIX}")
}

/// Whether `name` can be a recording's file name (and nothing else: no path
/// separators, no leading dot), for names that come from a request.
pub fn valid_file_name(name: &str) -> bool {
    name.len() <= 128
        && name.ends_with(SUFFIX)
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// One recording in the directory.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listing {
    /// File name (what `/?replay=` and `tickroom replay` take).
    pub file: String,
    /// Its room.
    pub room: String,
    /// When the room started, Unix ms.
    pub started_unix_ms: u64,
    /// Size on disk.
    pub bytes: u64,
}

/// The recordings in `dir`, newest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<Listing>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        if !valid_file_name(&file) {
            continue;
        }
        let Some((room, started)) = parse_file_name(&file) else {
            continue;
        };
        let bytes = entry.metadata().map_or(0, |m| m.len());
        out.push(Listing {
            room: room.to_owned(),
            started_unix_ms: started,
            file,
            bytes,
        });
    }
    out.sort_by(|a, b| {
        b.started_unix_ms
            .cmp(&a.started_unix_ms)
            .then_with(|| b.file.cmp(&a.file))
    });
    Ok(out)
}

/// `(room, started_unix_ms)` of a name made by [`file_name`].
fn parse_file_name(name: &str) -> Option<(&str, u64)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (room, rest) = stem.rsplit_once('@')?;
    let (started, _key) = rest.split_once('-')?;
    Some((room, started.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip_and_refuse_paths() {
        let name = file_name("lobby.eu-1", 1_764_633_600_123, 7);
        assert_eq!(name, "lobby.eu-1@1764633600123-7.tickrec");
        assert!(valid_file_name(&name));
        assert_eq!(
            parse_file_name(&name),
            Some(("lobby.eu-1", 1_764_633_600_123))
        );
        for bad in [
            "../x@1-1.tickrec",
            "a/b@1-1.tickrec",
            ".hidden@1-1.tickrec",
            "x@1-1.tickrec.bak",
            "x@1-1.txt",
            "",
        ] {
            assert!(!valid_file_name(bad), "{bad:?}");
        }
    }
}
