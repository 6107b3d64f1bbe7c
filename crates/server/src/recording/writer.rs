//! The recorder's writer thread: the only code that touches recording files.
//! It encodes the blocks rooms hand it, appends them to one file per room,
//! flushes every [`FLUSH_EVERY`](super::FLUSH_EVERY) and at each file's end,
//! and keeps the caps: a file that would pass `max_file_bytes` is ended (its
//! room plays on unrecorded), and the directory is kept under
//! `max_dir_bytes` by removing the oldest finished recordings first (when
//! only open ones are left, the one that would pass the cap is ended).

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::{BufWriter, Write},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use crossbeam_channel::{Receiver, TryRecvError};
use tickroom_protocol::record::{self, Block, Continuation, EndReason, EndRecord, RecordHeader};

use super::{DRAIN_EVERY, FLUSH_EVERY, RecordConfig, WriterMsg, file_name, list};
use crate::metrics::RecordMetrics;

/// Bytes kept free in a file for its End block.
const END_RESERVE: u64 = 64;

struct OpenFile {
    name: String,
    started: u64,
    out: BufWriter<File>,
    bytes: u64,
    last_tick: u32,
    gone: Arc<AtomicBool>,
}

struct Writer {
    config: RecordConfig,
    metrics: RecordMetrics,
    open: HashMap<u64, OpenFile>,
    /// Finished recordings by (start, name): the removal order.
    finished: BTreeMap<(u64, String), u64>,
    /// Bytes of every recording, open and finished.
    total: u64,
    scratch: Vec<u8>,
}

/// The thread's body: runs until [`WriterMsg::Stop`] or every sender is gone.
pub(super) fn run(config: RecordConfig, rx: Receiver<WriterMsg>, metrics: RecordMetrics) {
    let mut w = Writer {
        finished: BTreeMap::new(),
        total: 0,
        open: HashMap::new(),
        scratch: Vec::new(),
        metrics,
        config,
    };
    match list(&w.config.dir) {
        Ok(existing) => {
            for l in existing {
                w.total += l.bytes;
                w.finished.insert((l.started_unix_ms, l.file), l.bytes);
            }
        }
        Err(e) => {
            tracing::error!(dir = %w.config.dir.display(), error = %e, "cannot list the recording directory")
        }
    }
    w.make_room(0);
    let mut last_flush = Instant::now();
    'run: loop {
        loop {
            match rx.try_recv() {
                Ok(WriterMsg::Stop) | Err(TryRecvError::Disconnected) => break 'run,
                Ok(msg) => w.handle(msg),
                Err(TryRecvError::Empty) => break,
            }
        }
        std::thread::sleep(DRAIN_EVERY);
        if last_flush.elapsed() >= FLUSH_EVERY {
            last_flush = Instant::now();
            // Rooms gone without their End reaching us: take what they sent first.
            let gone: Vec<u64> = w
                .open
                .iter()
                .filter(|(_, f)| f.gone.load(Ordering::Acquire))
                .map(|(&k, _)| k)
                .collect();
            if !gone.is_empty() {
                let mut stop = false;
                while let Ok(msg) = rx.try_recv() {
                    if matches!(msg, WriterMsg::Stop) {
                        stop = true;
                        break;
                    }
                    w.handle(msg);
                }
                for key in gone {
                    w.end(key, EndReason::Abandoned);
                }
                if stop {
                    break;
                }
            }
            w.flush_all();
        }
    }
    let keys: Vec<u64> = w.open.keys().copied().collect();
    for key in keys {
        w.end(key, EndReason::Abandoned);
    }
}

impl Writer {
    fn handle(&mut self, msg: WriterMsg) {
        match msg {
            WriterMsg::Start {
                key,
                header,
                continues,
                gone,
            } => self.start(key, *header, continues.map(|c| *c), gone),
            WriterMsg::Tick { key, record } => {
                let tick = record.tick;
                if self.append(key, &Block::Tick(record)) {
                    self.metrics.ticks.increment(1);
                    if let Some(f) = self.open.get_mut(&key) {
                        f.last_tick = tick;
                    }
                }
            }
            WriterMsg::Keyframe { key, frame } => {
                self.append(key, &Block::Keyframe(frame));
            }
            WriterMsg::End { key, reason } => self.end(key, reason),
            WriterMsg::FlushThen { key, then } => {
                let failed = self
                    .open
                    .get_mut(&key)
                    .is_some_and(|f| f.out.flush().is_err());
                if failed {
                    self.metrics.stopped_io_error.increment(1);
                    tracing::error!(key, "recording flush failed; recording ended");
                    self.close(key);
                }
                (then.0)();
            }
            WriterMsg::Stop => {}
        }
    }

    fn start(
        &mut self,
        key: u64,
        header: RecordHeader,
        continues: Option<Continuation>,
        gone: Arc<AtomicBool>,
    ) {
        let name = file_name(&header.room, header.started_unix_ms, key);
        let path = self.path(&name);
        let started = header.started_unix_ms;
        self.scratch.clear();
        self.scratch.extend_from_slice(&record::preamble());
        record::append_block(&Block::Header(header), &mut self.scratch);
        if let Some(c) = continues {
            let at = self.scratch.len();
            record::append_block(&Block::Continues(c), &mut self.scratch);
            let len = self.scratch.len() - at - record::BLOCK_HEAD_BYTES;
            if len == 0 || len > record::MAX_RECORD_BLOCK_BYTES {
                self.metrics.stopped_io_error.increment(1);
                tracing::error!(file = %name, bytes = len, limit = record::MAX_RECORD_BLOCK_BYTES, "the room's saved state is too large for a recording block; the room goes unrecorded");
                return;
            }
        }
        let file = match File::options().write(true).create_new(true).open(&path) {
            Ok(f) => f,
            Err(e) => {
                self.metrics.stopped_io_error.increment(1);
                tracing::error!(file = %path.display(), error = %e, "cannot create a recording; the room goes unrecorded");
                return;
            }
        };
        self.metrics.started.increment(1);
        self.metrics.active.increment(1.0);
        self.open.insert(
            key,
            OpenFile {
                name,
                started,
                out: BufWriter::with_capacity(16 * 1024, file),
                bytes: 0,
                last_tick: 0,
                gone,
            },
        );
        // The header (and continuation) built above are still in `scratch`.
        self.write_scratch(key);
    }

    /// Appends a block within the caps; `false` if the file is (now) ended.
    fn append(&mut self, key: u64, block: &Block) -> bool {
        let Some(f) = self.open.get(&key) else {
            return false;
        };
        let (bytes, name) = (f.bytes, f.name.clone());
        self.scratch.clear();
        record::append_block(block, &mut self.scratch);
        let len = self.scratch.len() as u64;
        if bytes + len + END_RESERVE > self.config.max_file_bytes {
            self.metrics.stopped_file_cap.increment(1);
            tracing::warn!(file = %name, cap = self.config.max_file_bytes, "recording reached --record-max-file-bytes; the room goes on unrecorded");
            self.end(key, EndReason::SizeCap);
            return false;
        }
        if !self.make_room(len + END_RESERVE) {
            self.metrics.stopped_dir_cap.increment(1);
            tracing::warn!(file = %name, cap = self.config.max_dir_bytes, "recording directory full (--record-max-bytes) and nothing finished left to remove; recording ended");
            self.end(key, EndReason::DirectoryCap);
            return false;
        }
        self.write_scratch(key)
    }

    /// Writes `scratch` to `key`'s file; on failure the file is dropped.
    fn write_scratch(&mut self, key: u64) -> bool {
        let Some(f) = self.open.get_mut(&key) else {
            return false;
        };
        match f.out.write_all(&self.scratch) {
            Ok(()) => {
                let len = self.scratch.len() as u64;
                f.bytes += len;
                self.total += len;
                self.metrics.bytes.increment(len);
                true
            }
            Err(e) => {
                let name = f.name.clone();
                self.metrics.stopped_io_error.increment(1);
                tracing::error!(file = %name, error = %e, "recording write failed; recording ended");
                self.close(key);
                false
            }
        }
    }

    /// Writes the End block, flushes and closes.
    fn end(&mut self, key: u64, reason: EndReason) {
        let Some(f) = self.open.get(&key) else {
            return;
        };
        self.scratch.clear();
        record::append_block(
            &Block::End(EndRecord {
                last_tick: f.last_tick,
                reason,
            }),
            &mut self.scratch,
        );
        if self.write_scratch(key) {
            self.close(key);
        }
    }

    /// Flushes and forgets an open file (it counts as finished).
    fn close(&mut self, key: u64) {
        let Some(mut f) = self.open.remove(&key) else {
            return;
        };
        if let Err(e) = f.out.flush() {
            self.metrics.stopped_io_error.increment(1);
            tracing::error!(file = %f.name, error = %e, "recording flush failed");
        }
        self.metrics.active.decrement(1.0);
        self.finished.insert((f.started, f.name), f.bytes);
    }

    fn flush_all(&mut self) {
        let mut failed = Vec::new();
        for (&key, f) in &mut self.open {
            if let Err(e) = f.out.flush() {
                tracing::error!(file = %f.name, error = %e, "recording flush failed; recording ended");
                failed.push(key);
            }
        }
        for key in failed {
            self.metrics.stopped_io_error.increment(1);
            self.close(key);
        }
    }

    /// Removes the oldest finished recordings until `extra` more bytes fit
    /// under the directory cap; `false` if they still do not.
    fn make_room(&mut self, extra: u64) -> bool {
        while self.total + extra > self.config.max_dir_bytes {
            let Some(((_, name), bytes)) = self.finished.pop_first() else {
                return false;
            };
            let path = self.path(&name);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    self.metrics.removed.increment(1);
                    tracing::info!(file = %name, bytes, "removed the oldest recording (--record-max-bytes)");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot remove an old recording");
                }
            }
            self.total = self.total.saturating_sub(bytes);
        }
        true
    }

    fn path(&self, name: &str) -> PathBuf {
        self.config.dir.join(name)
    }
}
