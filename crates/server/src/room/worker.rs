//! Tick workers: dedicated OS threads (not the tokio runtime) that each own
//! many rooms and step every one of them against absolute deadlines.
//!
//! Room `r`'s tick `k` is due at `t0(r) + k·period`, so ticks never drift. Each
//! room's `t0` is staggered across the period (golden-ratio spacing) so rooms
//! created together do not all tick at the same instant. A tick that starts
//! late is measured (lateness histogram); a room that falls more than
//! [`MAX_CATCH_UP`] periods behind skips the missed ticks (counted) instead of
//! running them back to back, so catch-up is bounded.
//!
//! [`WorkerPool`] is the local [`Placement`]: it starts a room on the
//! least-loaded worker. Workers know nothing of the registry: each counts its
//! own rooms in an atomic the pool reads.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tickroom_game::Room;
use tickroom_protocol::record::{Continuation, ContinueCause};

use crate::{
    metrics::Metrics,
    recording::{Recorder, RoomRecorder, RoomToRecord},
    room::{
        RoomHandle, RoomSettings,
        host::{RoomHost, RoomStatus},
        placement::{Placement, PlacementError},
        snapshot::RoomSnapshot,
    },
    signing,
    tickets::unix_ms,
};

/// How many periods behind a room may fall before missed ticks are skipped.
pub const MAX_CATCH_UP: u32 = 2;

/// Messages to a worker thread.
#[derive(Debug)]
pub enum WorkerMsg {
    /// Start ticking this room.
    AddRoom(Box<RoomHost>),
    /// Exit now; rooms still present are dropped.
    Shutdown,
}

struct Scheduled {
    room: Box<RoomHost>,
    next_due: Instant,
}

/// Deadline bookkeeping for one room, separated from the thread for testing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Ticks skipped before running this one.
    pub skipped: u32,
    /// How late this tick starts.
    pub lateness: Duration,
}

/// Given a tick due at `due` and the time `now` it can start, how late it is
/// and how many ticks to skip; advances `due` to this tick's (possibly moved)
/// deadline plus one period.
pub fn advance(due: &mut Instant, now: Instant, period: Duration) -> Due {
    let mut lateness = now.saturating_duration_since(*due);
    let mut skipped = 0;
    if lateness > period * MAX_CATCH_UP {
        skipped = (lateness.as_nanos() / period.as_nanos().max(1)) as u32;
        *due += period * skipped;
        lateness = now.saturating_duration_since(*due);
    }
    *due += period;
    Due { skipped, lateness }
}

/// A tick worker as the pool sees it.
#[derive(Debug)]
struct WorkerSlot {
    tx: Sender<WorkerMsg>,
    rooms: Arc<AtomicUsize>,
}

/// The tick-worker threads of this process, as the local [`Placement`].
#[derive(Debug)]
pub struct WorkerPool {
    slots: Vec<WorkerSlot>,
    metrics: Metrics,
    /// Records every room started here (`--record-dir`), when set.
    recorder: Option<Recorder>,
}

impl WorkerPool {
    /// Starts `count` workers ticking every `period`; their thread handles
    /// are for joining at shutdown (after [`Placement::stop`]).
    pub fn start(
        count: usize,
        period: Duration,
        metrics: &Metrics,
    ) -> std::io::Result<(WorkerPool, Vec<JoinHandle<()>>)> {
        let mut slots = Vec::new();
        let mut threads = Vec::new();
        for index in 0..count {
            let (tx, rx) = crossbeam_channel::unbounded();
            let rooms = Arc::new(AtomicUsize::new(0));
            let (counter, m) = (Arc::clone(&rooms), metrics.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("tick-worker-{index}"))
                    .spawn(move || run(index, rx, period, counter, m))?,
            );
            slots.push(WorkerSlot { tx, rooms });
        }
        Ok((
            WorkerPool {
                slots,
                metrics: metrics.clone(),
                recorder: None,
            },
            threads,
        ))
    }

    /// Records every room this pool starts with `recorder`.
    pub fn with_recorder(mut self, recorder: Option<Recorder>) -> WorkerPool {
        self.recorder = recorder;
        self
    }
}

impl WorkerPool {
    /// The recorder of a room starting now, when this pool records and
    /// `settings` ask for it; `continues` (made only then) for a room taken
    /// over from a snapshot.
    fn recorder_for(
        &self,
        id: &str,
        serial: u64,
        settings: &RoomSettings,
        capacity: usize,
        seed: u64,
        continues: impl FnOnce() -> Option<Continuation>,
    ) -> Option<RoomRecorder> {
        let (recorder, rec) = self.recorder.as_ref().zip(settings.recording)?;
        let continues = continues();
        Some(recorder.room(RoomToRecord {
            key: serial,
            room: id,
            started_unix_ms: unix_ms(),
            capacity,
            game: &settings.game,
            seed,
            step_rate_hz: settings.step_rate_hz,
            keyframe_every: rec.keyframe_every,
            steps_per_frame: settings.steps_per_frame,
            continues,
        }))
    }

    fn least_busy(&self) -> Option<&WorkerSlot> {
        self.slots
            .iter()
            .min_by_key(|w| w.rooms.load(Ordering::Relaxed))
    }

    fn run_on(&self, worker: &WorkerSlot, host: RoomHost) -> Result<(), PlacementError> {
        // Counted before it is sent, so a burst of creations spreads out.
        worker.rooms.fetch_add(1, Ordering::Relaxed);
        if worker.tx.send(WorkerMsg::AddRoom(Box::new(host))).is_err() {
            worker.rooms.fetch_sub(1, Ordering::Relaxed);
            return Err(PlacementError::NoWorker);
        }
        Ok(())
    }
}

impl Placement for WorkerPool {
    fn start(
        &self,
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
    ) -> Result<RoomHandle, PlacementError> {
        let worker = self.least_busy().ok_or(PlacementError::NoWorker)?;
        let game_seed = signing::random_u64();
        let recorder =
            self.recorder_for(&id, serial, settings, settings.capacity, game_seed, || None);
        let (host, handle) = RoomHost::new(
            id,
            serial,
            settings,
            self.metrics.clone(),
            Instant::now(),
            signing::random_u64(),
            game_seed,
            recorder,
        )
        .map_err(|e| PlacementError::Game(e.to_string()))?;
        self.run_on(worker, host)?;
        Ok(handle)
    }

    fn adopt(
        &self,
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
        snap: &RoomSnapshot,
        game: Box<dyn Room>,
        cause: ContinueCause,
    ) -> Result<RoomHandle, PlacementError> {
        let worker = self.least_busy().ok_or(PlacementError::NoWorker)?;
        // The saved state is copied into the recording only when it records.
        let continues = || {
            Some(Continuation {
                cause,
                from: snap.recording.as_ref().map(|r| r.from.clone()),
                step: u32::try_from(snap.steps).unwrap_or(u32::MAX),
                pending: snap
                    .recording
                    .as_ref()
                    .map(|r| r.pending.clone())
                    .unwrap_or_default(),
                state: snap.state.clone(),
            })
        };
        let capacity = snap.capacity as usize;
        let recorder =
            self.recorder_for(&id, serial, settings, capacity, snap.game_seed, continues);
        let (host, handle) = RoomHost::restored(
            id,
            serial,
            settings,
            self.metrics.clone(),
            Instant::now(),
            signing::random_u64(),
            snap,
            game,
            recorder,
        );
        self.run_on(worker, host)?;
        Ok(handle)
    }

    fn stop(&self) {
        for w in &self.slots {
            let _ = w.tx.send(WorkerMsg::Shutdown);
        }
    }
}

fn run(
    index: usize,
    rx: Receiver<WorkerMsg>,
    period: Duration,
    room_count: Arc<AtomicUsize>,
    metrics: Metrics,
) {
    let mut rooms: Vec<Scheduled> = Vec::new();
    let mut added: u64 = 0;
    loop {
        let next_due = rooms.iter().map(|r| r.next_due).min();
        let msg = match next_due {
            Some(due) => rx.recv_deadline(due),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match msg {
            Ok(WorkerMsg::AddRoom(room)) => {
                // Golden-ratio phase: successive rooms land far apart in the period.
                let phase = (added as f64 * 0.618_033_988_75).fract();
                added += 1;
                rooms.push(Scheduled {
                    room,
                    next_due: Instant::now() + period.mul_f64(phase),
                });
            }
            // Rooms were already asked to close (a drain); whatever is left is dropped.
            Ok(WorkerMsg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let mut i = 0;
        while i < rooms.len() {
            let now = Instant::now();
            let slot = &mut rooms[i];
            if slot.next_due > now {
                i += 1;
                continue;
            }
            let due = advance(&mut slot.next_due, now, period);
            if due.skipped > 0 {
                metrics.ticks_skipped.increment(u64::from(due.skipped));
            }
            metrics.tick_lateness.record(due.lateness.as_secs_f64());
            let status = slot.room.tick(now);
            let took = now.elapsed();
            metrics.tick_duration.record(took.as_secs_f64());
            metrics.ticks.increment(1);
            if took > period {
                metrics.ticks_overrun.increment(1);
            }
            if status == RoomStatus::Closed {
                let gone = rooms.swap_remove(i);
                tracing::debug!(room = gone.room.id(), worker = index, "room closed");
                room_count.fetch_sub(1, Ordering::Relaxed);
            } else {
                i += 1;
            }
        }
    }
    for slot in &rooms {
        tracing::debug!(
            room = slot.room.id(),
            worker = index,
            "room dropped at shutdown"
        );
    }
    room_count.fetch_sub(rooms.len(), Ordering::Relaxed);
    rooms.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Duration = Duration::from_millis(50);

    #[test]
    fn on_time_ticks_follow_absolute_deadlines_without_drift() {
        let t0 = Instant::now();
        let mut due = t0;
        for k in 0..100u32 {
            // Start each tick a little late; the next deadline still lands on the grid.
            let d = advance(&mut due, t0 + P * k + Duration::from_millis(3), P);
            assert_eq!(d.skipped, 0);
            assert_eq!(d.lateness, Duration::from_millis(3));
            assert_eq!(due, t0 + P * (k + 1));
        }
    }

    #[test]
    fn a_slightly_late_room_catches_up_without_skipping() {
        let t0 = Instant::now();
        let mut due = t0;
        let d = advance(&mut due, t0 + Duration::from_millis(80), P);
        assert_eq!(d.skipped, 0);
        assert_eq!(due, t0 + P, "the next tick is already due: it runs at once");
    }

    #[test]
    fn a_room_far_behind_skips_and_rejoins_the_grid() {
        let t0 = Instant::now();
        let mut due = t0;
        let d = advance(&mut due, t0 + Duration::from_millis(1030), P);
        assert_eq!(d.skipped, 20);
        assert_eq!(d.lateness, Duration::from_millis(30));
        assert_eq!(due, t0 + P * 21);
    }
}
