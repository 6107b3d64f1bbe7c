//! [`RoomHost`]: the thin shell that runs one [`RoomCore`] on a tick-worker
//! thread. It owns the room's channels and its players' mailboxes, feeds the
//! core the commands and inputs that arrived since the last tick, hands it
//! each connection's baseline, delivers what the core outputs, and turns the
//! core's stats into metrics. It never blocks: every channel operation is
//! `try_*`, replies go through oneshot channels, frames through [`Mailbox`]es.
//! It never names the registry: closing is reported to the worker (and to
//! lookups through [`RoomShared::closed`]).
//!
//! One tick: (1) drain the control channel (joins answered at once, leaves,
//! shutdown); (2) give the core exactly the inputs queued before this tick
//! started (later ones wait for the next tick); (3) `core.tick`; (4) deliver
//! outputs; (5) publish tick and player count; (6) if the core is idle and no
//! command or ticket is waiting for the room, close it.

use std::{
    collections::HashMap,
    sync::{Arc, atomic::Ordering},
    time::Instant,
};

use crossbeam_channel::{Receiver, TryRecvError};
use tickroom_protocol::record::EndReason;

use super::{
    InputMsg, InputSender, RoomCmd, RoomGame, RoomHandle, RoomSettings, RoomShared, SnapshotSink,
    core::{ConnId, JoinRefused, Output, RoomCore, Status},
    snapshot::{RoomSnapshot, SnapshotRecording},
};
use crate::{
    metrics::Metrics,
    net::{close::CloseRequest, mailbox::Mailbox},
    recording::{AfterFlush, RoomRecorder},
    tickets::unix_ms,
};

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
    core: RoomCore,
    control: Receiver<RoomCmd>,
    inputs: Receiver<InputMsg>,
    mailboxes: HashMap<ConnId, Arc<Mailbox>>,
    shared: Arc<RoomShared>,
    metrics: Metrics,
    /// Players last added to the process-wide gauge.
    counted_players: usize,
    /// Where the core's records go, while recording.
    recorder: Option<RoomRecorder>,
    finished: bool,
    /// What a snapshot of this room names besides its state.
    origin: Origin,
    /// Frozen for a hand-off: no steps until thawed or shut down.
    frozen: bool,
    /// A restored room: when its snapshot was taken (Unix ms), until its
    /// first frame goes out (the hand-off gap).
    restored_at_ms: Option<u64>,
    /// `--room-snapshots`: where they go, and steps since the last one.
    snapshots: Option<SnapshotSink>,
    since_snapshot: u64,
}

/// How a room was made, for its snapshots.
#[derive(Debug, Clone)]
struct Origin {
    game: RoomGame,
    game_seed: u64,
    capacity: usize,
    step_rate_hz: u32,
    steps_per_frame: u32,
    public: bool,
    metadata: Arc<serde_json::Map<String, serde_json::Value>>,
}

/// The core's settings and the recorder a room keeps: it records only with
/// both a recorder and recording settings.
fn core_and_recorder(
    settings: &RoomSettings,
    recorder: Option<RoomRecorder>,
) -> (super::core::CoreSettings, Option<RoomRecorder>) {
    let mut core = settings.core();
    if recorder.is_none() {
        core.recording = None;
    }
    let recorder = recorder.filter(|_| core.recording.is_some());
    (core, recorder)
}

impl std::fmt::Debug for RoomHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomHost")
            .field("id", &self.id)
            .field("connections", &self.mailboxes.len())
            .field("tick", &self.core.tick_number())
            .finish_non_exhaustive()
    }
}

impl RoomHost {
    /// A new room of `settings.game` and the handle the I/O side uses to
    /// reach it; `seed` feeds its session nonces and `game_seed` its game's
    /// randomness. With a `recorder` (and `settings.recording`) the room
    /// records itself.
    #[expect(
        clippy::too_many_arguments,
        reason = "a room's identity, rules, seeds and sinks: each its own"
    )]
    pub fn new(
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
        metrics: Metrics,
        now: Instant,
        seed: u64,
        game_seed: u64,
        recorder: Option<RoomRecorder>,
    ) -> Result<(RoomHost, RoomHandle), tickroom_game::ConfigError> {
        let game = settings.game.entry.new_room(
            &settings.game.config,
            game_seed,
            settings.step_rate_hz,
        )?;
        let (core_settings, recorder) = core_and_recorder(settings, recorder);
        let core = RoomCore::new(core_settings, game, now, seed);
        Ok(Self::around(
            id, serial, settings, metrics, core, game_seed, recorder,
        ))
    }

    /// A room restored from `snap` (its game already restored: `game`),
    /// whose players wait for their resumes. With a `recorder` (one whose
    /// header is followed by the snapshot's state, see
    /// [`tickroom_protocol::record::Continuation`]) it records from there.
    #[expect(
        clippy::too_many_arguments,
        reason = "a room's identity, rules, seed, clock and the state it resumes: each its own"
    )]
    pub fn restored(
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
        metrics: Metrics,
        now: Instant,
        seed: u64,
        snap: &RoomSnapshot,
        game: Box<dyn tickroom_game::Room>,
        recorder: Option<RoomRecorder>,
    ) -> (RoomHost, RoomHandle) {
        let (core_settings, recorder) = core_and_recorder(settings, recorder);
        let core = RoomCore::restored(
            core_settings,
            game,
            now,
            seed,
            &snap.sessions,
            snap.next_player_id,
        );
        let (mut host, handle) = Self::around(
            id,
            serial,
            settings,
            metrics,
            core,
            snap.game_seed,
            recorder,
        );
        host.restored_at_ms = Some(snap.taken_unix_ms);
        // Its first snapshot here goes out on its first tick.
        host.since_snapshot = u64::MAX / 2;
        host.publish();
        (host, handle)
    }

    fn around(
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
        metrics: Metrics,
        core: RoomCore,
        game_seed: u64,
        recorder: Option<RoomRecorder>,
    ) -> (RoomHost, RoomHandle) {
        let (control_tx, control) = crossbeam_channel::unbounded();
        let (inputs_tx, inputs) = InputSender::queue(settings.input_queue);
        let shared = Arc::new(RoomShared::default());
        metrics.rooms.increment(1.0);
        let host = RoomHost {
            id: Arc::clone(&id),
            core,
            control,
            inputs,
            mailboxes: HashMap::new(),
            shared: Arc::clone(&shared),
            metrics,
            counted_players: 0,
            recorder,
            finished: false,
            origin: Origin {
                game: settings.game.clone(),
                game_seed,
                capacity: settings.capacity,
                step_rate_hz: settings.step_rate_hz,
                steps_per_frame: settings.steps_per_frame.max(1),
                public: settings.public,
                metadata: Arc::clone(&settings.metadata),
            },
            frozen: false,
            restored_at_ms: None,
            snapshots: settings.snapshots.clone(),
            since_snapshot: 0,
        };
        let handle = RoomHandle {
            id,
            serial,
            control: control_tx,
            inputs: inputs_tx,
            shared,
            game: settings.game.clone(),
        };
        (host, handle)
    }

    /// The room's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs one tick (see the module docs for the order of work).
    pub fn tick(&mut self, now: Instant) -> RoomStatus {
        if self.finished {
            return RoomStatus::Closed;
        }
        if self.drain_commands(now) == Status::Closed {
            return self.finish();
        }
        if self.frozen {
            // Handed off or about to be: what arrives now is not played here.
            let dropped = self.inputs.try_iter().count();
            if dropped > 0 {
                self.metrics
                    .cluster
                    .handoff
                    .inputs_dropped
                    .increment(dropped as u64);
            }
            return RoomStatus::Running;
        }
        // Only what was queued before this tick started: later inputs belong to the next tick.
        let queued = self.inputs.len();
        // Every input taken below was queued before this instant, and the
        // step that applies them starts right after (receipt → applied).
        let step_start = Instant::now();
        for msg in self.inputs.try_iter().take(queued) {
            self.metrics
                .input_apply_delay
                .record(msg.received.elapsed_at(step_start).as_secs_f64());
            self.core
                .input(msg.conn, msg.seq, msg.ack_tick, msg.data.as_slice());
        }
        let mut stale = 0;
        let mailboxes = &self.mailboxes;
        let status = self.core.tick(now, |conn| {
            let b = mailboxes.get(&conn)?.begin_frame();
            stale += u64::from(b.stale);
            b.taken
        });
        if stale > 0 {
            self.metrics.frames_dropped_stale.increment(stale);
        }
        let held = self.core.stats().held;
        if held > 0 {
            self.metrics.frames_held_unacked.increment(u64::from(held));
        }
        let stats = self.core.stats();
        for &size in &stats.encoded_sizes {
            self.metrics.snapshot_bytes.record(size as f64);
        }
        if stats.inputs_refused > 0 {
            self.metrics
                .inputs_refused
                .increment(u64::from(stats.inputs_refused));
        }
        if stats.events > 0 {
            self.metrics.events.increment(u64::from(stats.events));
        }
        if stats.view_pieces > 0 {
            let m = &self.metrics;
            m.view_pieces.increment(u64::from(stats.view_pieces));
            m.view_pieces_reused
                .increment(u64::from(stats.view_pieces_reused));
        }
        if let Some(e) = &stats.frame_error {
            self.metrics.frame_errors.increment(1);
            tracing::error!(room = %self.id, error = %e, "the frame could not be built; no frame this tick");
        }
        self.deliver();
        self.publish();
        self.maybe_snapshot();
        if status == Status::Idle && self.may_close() {
            return self.close_idle();
        }
        RoomStatus::Running
    }

    /// `--room-snapshots`: every `every_steps` steps a room with players
    /// sends its snapshot to the writer (dropped, and counted, when the
    /// writer's queue is full).
    fn maybe_snapshot(&mut self) {
        let Some(sink) = &self.snapshots else {
            return;
        };
        self.since_snapshot = self.since_snapshot.saturating_add(1);
        if self.since_snapshot < sink.every_steps || self.core.player_count() == 0 {
            return;
        }
        self.since_snapshot = 0;
        let bytes = self.snapshot().encode();
        self.send_snapshot(Some(bytes));
    }

    /// Hands a snapshot (or its deletion: `None`) to the snapshot writer.
    /// While recording, only once the recording's ticks up to here are
    /// written out: a snapshot in Redis is never ahead of the recording a
    /// restore will continue (a killed node's file reaches its step).
    fn send_snapshot(&mut self, bytes: Option<Vec<u8>>) {
        let Some(sink) = &self.snapshots else {
            return;
        };
        let tx = sink.tx.clone();
        let errors = self.metrics.cluster.handoff.snapshot_errors.clone();
        let id = Arc::clone(&self.id);
        let send = AfterFlush(Box::new(move || {
            if tx.try_send((id, bytes)).is_err() {
                errors.increment(1);
            }
        }));
        let send = match &mut self.recorder {
            Some(r) => r.after_flush(send).err(),
            None => Some(send),
        };
        if let Some(send) = send {
            (send.0)();
        }
    }

    /// The room as a snapshot (see [`super::snapshot`]).
    fn snapshot(&self) -> RoomSnapshot {
        let mut state = Vec::new();
        let saved = self.core.game().save(&mut state);
        if let Err(e) = &saved {
            tracing::error!(room = %self.id, error = %e, "the game could not save the room");
        }
        let (sessions, next_player_id) = self.core.sessions();
        let o = &self.origin;
        RoomSnapshot {
            format: super::snapshot::FORMAT,
            room: self.id.to_string(),
            game: o.game.name().to_owned(),
            game_version: o.game.entry.version(),
            config: o.game.config.to_string(),
            game_seed: o.game_seed,
            step_rate_hz: o.step_rate_hz,
            steps_per_frame: o.steps_per_frame,
            capacity: u32::try_from(o.capacity).unwrap_or(u32::MAX),
            public: o.public,
            metadata: serde_json::Value::Object((*o.metadata).clone()).to_string(),
            tick: self.core.tick_number(),
            steps: self.core.step_number(),
            taken_unix_ms: unix_ms(),
            next_player_id,
            sessions,
            // An empty state is refused by the new owner: the hand-off fails.
            state: if saved.is_ok() { state } else { Vec::new() },
            recording: self
                .recorder
                .as_ref()
                .filter(|r| r.is_recording())
                .map(|r| SnapshotRecording {
                    from: r.name().clone(),
                    pending: self.core.pending_events().to_vec(),
                }),
        }
    }

    /// Ends the room now: every player gets `req`, pending joins are refused.
    pub fn shutdown(&mut self, req: CloseRequest) -> RoomStatus {
        self.core.shutdown(req);
        self.finish()
    }

    fn drain_commands(&mut self, now: Instant) -> Status {
        loop {
            match self.control.try_recv() {
                Ok(RoomCmd::Join { reply, .. }) if self.frozen => {
                    // Sent elsewhere: the join comes back through its entry.
                    let _ = reply.send(Err(JoinRefused::Closing));
                }
                Ok(RoomCmd::Join {
                    conn,
                    name,
                    mailbox,
                    resume,
                    reply,
                }) => {
                    if reply.is_closed() {
                        continue; // The connection gave up waiting.
                    }
                    let joined = self.core.join(conn, name, resume);
                    if joined.is_ok() {
                        self.mailboxes.insert(conn, mailbox);
                    }
                    if reply.send(joined).is_err() {
                        // It gave up just now: its player waits the grace like a drop.
                        self.core.leave(now, conn, false);
                        self.mailboxes.remove(&conn);
                    }
                    self.deliver(); // A resume may have closed an older connection.
                }
                Ok(RoomCmd::Leave { conn, explicit }) => {
                    self.core.leave(now, conn, explicit);
                    self.mailboxes.remove(&conn);
                }
                Ok(RoomCmd::Shutdown(req)) => return self.core.shutdown(req),
                Ok(RoomCmd::Freeze { reply }) => {
                    // Between two ticks: every input given so far has been
                    // stepped, and the last frame acked each player's newest.
                    self.frozen = true;
                    let _ = reply.send(self.snapshot());
                    // Later commands (joins) wait for the thaw or the end.
                    return Status::Running;
                }
                Ok(RoomCmd::Thaw) => self.frozen = false,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Status::Running,
            }
        }
    }

    fn deliver(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Frame {
                    conn,
                    tick,
                    ack,
                    tail,
                } => {
                    if let Some(m) = self.mailboxes.get(&conn) {
                        m.put(tick, ack, tail);
                        if let Some(taken) = self.restored_at_ms.take() {
                            let gap = unix_ms().saturating_sub(taken);
                            self.metrics.cluster.handoff.gap.record(gap as f64 / 1000.0);
                        }
                    }
                }
                Output::Event { conn, bytes } => {
                    if let Some(m) = self.mailboxes.get(&conn)
                        && !m.push_event(bytes)
                    {
                        // Its reader fell a whole event queue behind.
                        self.metrics.events_overflow.increment(1);
                        m.close(crate::net::close::TOO_SLOW);
                    }
                }
                Output::Close { conn, req } => {
                    if let Some(m) = self.mailboxes.remove(&conn) {
                        m.close(req);
                    }
                }
                Output::Record(record) => {
                    if let Some(r) = &mut self.recorder {
                        r.tick(record);
                    }
                }
                Output::Keyframe(frame) => {
                    if let Some(r) = &mut self.recorder {
                        r.keyframe(frame);
                    }
                }
            }
        }
        if self.recorder.as_ref().is_some_and(|r| !r.is_recording()) {
            // It stopped (queue full): the core need not build records any more.
            self.recorder = None;
            self.core.stop_recording();
        }
    }

    fn publish(&mut self) {
        self.shared
            .tick
            .store(self.core.tick_number(), Ordering::Relaxed);
        let players = self.core.player_count();
        self.shared.players.store(players, Ordering::Relaxed);
        if players != self.counted_players {
            self.metrics
                .players
                .increment(players as f64 - self.counted_players as f64);
            self.counted_players = players;
        }
    }

    /// An idle room closes only if no command waits for it and no ticket
    /// holds a seat in it, so a racing join is never lost.
    fn may_close(&self) -> bool {
        self.control.is_empty() && self.shared.hold_until_ms.load(Ordering::Acquire) <= unix_ms()
    }

    fn close_idle(&mut self) -> RoomStatus {
        // Lookups see the flag and make a new room; anything that raced in
        // before it is refused below and retries there.
        self.shared.closed.store(true, Ordering::Release);
        self.core.shutdown(crate::net::close::GOING_AWAY);
        self.finish()
    }

    fn finish(&mut self) -> RoomStatus {
        if self.finished {
            return RoomStatus::Closed;
        }
        self.finished = true;
        self.shared.closed.store(true, Ordering::Release);
        // Its snapshot goes with it (after any still on its way), unless it
        // was handed off (frozen).
        if !self.frozen {
            self.send_snapshot(None);
        }
        self.deliver();
        while let Ok(cmd) = self.control.try_recv() {
            if let RoomCmd::Join { reply, .. } = cmd {
                let _ = reply.send(Err(JoinRefused::Closing));
            }
        }
        self.mailboxes.clear();
        // Its End goes to the writer now, not when the host is dropped; a
        // room that ends frozen was handed off (a failed hand-off thaws it).
        if let Some(r) = self.recorder.take() {
            r.end(if self.frozen {
                EndReason::HandedOff
            } else {
                EndReason::RoomClosed
            });
        }
        self.shared.players.store(0, Ordering::Relaxed);
        self.metrics.players.decrement(self.counted_players as f64);
        self.counted_players = 0;
        self.metrics.rooms.decrement(1.0);
        RoomStatus::Closed
    }
}

impl Drop for RoomHost {
    fn drop(&mut self) {
        // A room dropped at shutdown still leaves the gauges right.
        if !self.finished {
            self.core.shutdown(crate::net::close::GOING_AWAY);
            self.finish();
        }
    }
}
