//! Replaying a room recording ([`tickroom_protocol::record`]): re-runs the
//! room offline from its event log through the same game the live room ran
//! (any registered game: the header names it, its version and config),
//! checks every tick's frame checksum against the recorded one and every
//! keyframe entity by entity and field by field, and reports what it found
//! ([`Summary`]). Used by `tickroom replay FILE` and by the recordings
//! endpoints that feed the browser viewer. Sans-IO apart from reading the
//! given reader.
//!
//! A recording that continues another (a hand-off, or a restore from a dead
//! node's snapshot: [`tickroom_protocol::record::Continuation`]) replays on
//! its own from the state it starts with; [`check_continuation`] checks it
//! against the recording it continues, replayed up to the step it starts
//! from (`tickroom replay A B`).

use std::io::Read;

use serde::Serialize;
use tickroom_game::{Departure, GameEntry, Games, PlayerId, Room};
use tickroom_protocol::{
    Checksum,
    record::{
        Block, Continuation, EndRecord, RecordError, RecordHeader, RecordReader, RoomEvent,
        TickRecord,
    },
    state::{self, FieldType, Frame, Scalar, Schema, ValueRef, ValuesIter},
};

/// Where a replayed step parted from its record before any frame was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventMismatch {
    /// The game refused a recorded join.
    #[error("player {player} joined, but the replayed game refused it: {reason}")]
    JoinRefused {
        /// The player in the record.
        player: u32,
        /// The game's reason.
        reason: String,
    },
    /// The record joins more players than the room's capacity.
    #[error("the record brings the room past its capacity of {0} players")]
    OverCapacity(u32),
    /// An event or input names a player the replayed room does not have.
    #[error("the record names player {0}, who is not in the replayed room")]
    UnknownPlayer(u32),
}

/// Why a recording could not be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file is unreadable before its first tick.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The recording's game is not registered in this build.
    #[error("recorded game {game:?} is not one this build hosts ({known})")]
    UnknownGame {
        /// The recording's game.
        game: String,
        /// This build's games, comma-separated.
        known: String,
    },
    /// The recording is of another version of its game's rules.
    #[error(
        "recorded with {game} version {found} (tickroom {server}); this build replays version {supported} only: use a tickroom build of that version"
    )]
    GameVersion {
        /// The game.
        game: String,
        /// The recording's version.
        found: u32,
        /// The recording server's version.
        server: String,
        /// This build's.
        supported: u32,
    },
    /// The recorded rules are not valid rules.
    #[error("the recording's rules are invalid: {0}")]
    Rules(String),
    /// The state a continued recording starts from cannot be restored.
    #[error("the recording continues from a state the game cannot restore: {0}")]
    State(String),
}

/// The first tick where the replay and the recording part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// The frame tick.
    pub tick: u32,
    /// The simulation step (equal to `tick` at one step per frame).
    pub step: u32,
    /// The recorded checksum (`None` when the events themselves disagreed).
    pub recorded: Option<u32>,
    /// The replayed frame's checksum.
    pub replayed: Option<u32>,
    /// What differs: the entities, from the first keyframe at or after the
    /// tick, or the event that could not be replayed.
    pub detail: Vec<String>,
}

/// A player seen in a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenPlayer {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// The tick it joined at.
    pub joined_tick: u32,
}

/// Where a continued recording starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContinuedFrom {
    /// How the room came to the recording node: `handed off` or `restored
    /// from a snapshot`.
    pub cause: String,
    /// The node that recorded the room before, when it was recorded there.
    pub node: Option<String>,
    /// The recording this one continues (a file name in that node's
    /// recording directory).
    pub file: Option<String>,
    /// The step it starts from (its first tick is the next).
    pub step: u32,
    /// Players in the room at that step.
    pub players: usize,
}

/// What a replay found.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The room.
    pub room: String,
    /// The recording node.
    pub node: String,
    /// The recording server's version.
    pub server_version: String,
    /// When the room started, Unix ms.
    pub started_unix_ms: u64,
    /// Frames per second.
    pub tick_rate_hz: u32,
    /// Simulation steps per second (`tick_rate_hz` × steps per frame).
    pub sim_rate_hz: u32,
    /// The room's game.
    pub game: String,
    /// Its version.
    pub game_version: u32,
    /// The room's config.
    pub config: serde_json::Value,
    /// The game's schema ([`Schema::encode`]), for a viewer's decoder.
    pub schema: Vec<u8>,
    /// Set when the recording continues another from a saved state.
    pub continues: Option<ContinuedFrom>,
    /// Ticks (frames) replayed.
    pub ticks: u64,
    /// Simulation steps replayed.
    pub steps: u64,
    /// The first tick replayed.
    pub first_tick: Option<u32>,
    /// The last tick replayed.
    pub last_tick: Option<u32>,
    /// Match time replayed, seconds (ticks / rate).
    pub duration_secs: f64,
    /// Every player that joined, in join order.
    pub players: Vec<SeenPlayer>,
    /// Most players at once.
    pub peak_players: usize,
    /// Players taken back by a resume.
    pub resumes: u64,
    /// Connections that dropped.
    pub disconnects: u64,
    /// Players that left.
    pub leaves: u64,
    /// Players whose resume grace ran out.
    pub expiries: u64,
    /// Inputs applied.
    pub inputs: u64,
    /// Keyframes checked.
    pub keyframes: u64,
    /// The End block, when the file has one.
    pub end: Option<EndSummary>,
    /// The first divergence, if any.
    pub divergence: Option<Divergence>,
    /// Why reading stopped early (truncated, corrupt), if it did.
    pub read_error: Option<String>,
    /// The file ended, whole, without its End block (the server died, or
    /// the room is still being recorded); `read_error` says so.
    pub cut_short: bool,
    /// Stopped at `--until`.
    pub stopped_at_until: bool,
}

/// A recording's End block.
#[derive(Debug, Clone, Serialize)]
pub struct EndSummary {
    /// The last tick recorded.
    pub last_tick: u32,
    /// Why it ended.
    pub reason: String,
}

impl From<&EndRecord> for EndSummary {
    fn from(e: &EndRecord) -> Self {
        EndSummary {
            last_tick: e.last_tick,
            reason: e.reason.to_string(),
        }
    }
}

impl Summary {
    /// Whether the recording was replayed to its End with every tick matched.
    pub fn is_clean(&self) -> bool {
        self.divergence.is_none() && self.read_error.is_none() && self.end.is_some()
    }
}

/// How far to replay.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayOptions {
    /// Stop after this tick.
    pub until: Option<u32>,
    /// Stop after this simulation step (where a recording that continues
    /// this one starts).
    pub until_step: Option<u32>,
}

/// A recording being replayed.
#[derive(Debug)]
pub struct Replay<R> {
    reader: RecordReader<R>,
    header: RecordHeader,
    game: Box<dyn Room>,
    /// The game's entry and the room's config, to make the room again.
    entry: std::sync::Arc<dyn GameEntry>,
    config: serde_json::Value,
    /// Where this recording starts, when it continues another.
    continues: Option<Continuation>,
    /// The block read after the header that was not a continuation.
    peeked: Option<Result<Option<Block>, RecordError>>,
    schema: Schema,
    prev: Option<Frame>,
    scratch: Vec<u8>,
    summary: Summary,
    /// Divergence found, waiting for a keyframe to name the entities.
    pending: Option<Divergence>,
    done: bool,
}

impl<R: Read> Replay<R> {
    /// Reads the header and checks the game, its version and the rules.
    pub fn open(inner: R, games: &Games) -> Result<Replay<R>, ReplayError> {
        let mut reader = RecordReader::new(inner)?;
        let header = match reader.next_block()? {
            Some(Block::Header(h)) => h,
            // The reader refuses any other first block.
            _ => {
                return Err(ReplayError::Record(RecordError::OutOfOrder {
                    offset: reader.offset(),
                    message: "no header",
                }));
            }
        };
        let entry: &std::sync::Arc<dyn GameEntry> =
            games
                .get(&header.game)
                .ok_or_else(|| ReplayError::UnknownGame {
                    game: header.game.clone(),
                    known: games.names().collect::<Vec<_>>().join(", "),
                })?;
        if header.game_version != entry.version() {
            return Err(ReplayError::GameVersion {
                game: header.game.clone(),
                found: header.game_version,
                server: header.server_version.clone(),
                supported: entry.version(),
            });
        }
        let config: serde_json::Value = serde_json::from_str(&header.config)
            .map_err(|e| ReplayError::Rules(format!("config: {e}")))?;
        let config = entry
            .config(Some(&config))
            .map_err(|e| ReplayError::Rules(e.to_string()))?;
        let k = header.steps_per_frame;
        if k == 0 || header.step_rate_hz == 0 || !header.step_rate_hz.is_multiple_of(k) {
            return Err(ReplayError::Rules(format!(
                "{k} steps per frame do not divide the step rate of {} Hz",
                header.step_rate_hz
            )));
        }
        let mut game = entry
            .new_room(&config, header.seed, header.step_rate_hz)
            .map_err(|e| ReplayError::Rules(e.to_string()))?;
        let (continues, peeked) = match reader.next_block() {
            Ok(Some(Block::Continues(c))) => {
                game.restore(&c.state)
                    .map_err(|e| ReplayError::State(e.to_string()))?;
                if game.steps() != u64::from(c.step) {
                    return Err(ReplayError::State(format!(
                        "the state is at step {}, the continuation says step {}",
                        game.steps(),
                        c.step
                    )));
                }
                (Some(c), None)
            }
            other => (None, Some(other)),
        };
        let schema = entry.catalogue().schema().clone();
        let summary = Summary {
            room: header.room.clone(),
            node: header.node.clone(),
            server_version: header.server_version.clone(),
            started_unix_ms: header.started_unix_ms,
            tick_rate_hz: header.step_rate_hz / header.steps_per_frame.max(1),
            sim_rate_hz: header.step_rate_hz,
            game: header.game.clone(),
            game_version: header.game_version,
            config,
            schema: entry.catalogue().schema_bytes().to_vec(),
            continues: continues.as_ref().map(|c| ContinuedFrom {
                cause: c.cause.to_string(),
                node: c.from.as_ref().map(|f| f.node.clone()),
                file: c.from.as_ref().map(|f| f.file.clone()),
                step: c.step,
                players: game.player_count(),
            }),
            ticks: 0,
            steps: 0,
            first_tick: None,
            last_tick: None,
            duration_secs: 0.0,
            players: Vec::new(),
            peak_players: 0,
            resumes: 0,
            disconnects: 0,
            leaves: 0,
            expiries: 0,
            inputs: 0,
            keyframes: 0,
            end: None,
            divergence: None,
            read_error: None,
            cut_short: false,
            stopped_at_until: false,
        };
        Ok(Replay {
            reader,
            game,
            entry: std::sync::Arc::clone(entry),
            config: serde_json::Value::clone(&summary.config),
            continues,
            peeked,
            schema,
            header,
            prev: None,
            scratch: Vec::new(),
            summary,
            pending: None,
            done: false,
        })
    }

    /// The recording's header.
    pub fn header(&self) -> &RecordHeader {
        &self.header
    }

    /// The game's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The frame the last [`Replay::next_frame`] returned.
    pub fn frame(&self) -> Option<&Frame> {
        self.prev.as_ref()
    }

    /// Where the recording starts, when it continues another.
    pub fn continuation(&self) -> Option<&Continuation> {
        self.continues.as_ref()
    }

    /// The simulation steps the replayed room has run (from the
    /// continuation's step, for a continued recording).
    pub fn steps(&self) -> u64 {
        self.game.steps()
    }

    /// Replays one recorded step: its events, its inputs, the step; returns
    /// the frame when the step built one.
    fn replay_step(&mut self, record: &TickRecord) -> Result<Option<Frame>, EventMismatch> {
        let game = &mut self.game;
        apply_events(&mut **game, &record.events)?;
        for input in &record.inputs {
            if let Err(tickroom_game::InputError::UnknownPlayer(p)) =
                game.input(PlayerId(input.player), &input.data)
            {
                return Err(EventMismatch::UnknownPlayer(p.0));
            }
        }
        game.step();
        let k = u64::from(self.header.steps_per_frame.max(1));
        if !game.steps().is_multiple_of(k) {
            return Ok(None);
        }
        let mut frame = Frame::default();
        let tick = (game.steps() / k) as u32;
        // A frame past the limits is a divergence only if the live room built
        // one; an empty frame here makes the checksum say so.
        let _ = game.build_frame(tick, &mut frame);
        Ok(Some(frame))
    }

    /// Replays the next tick and returns its frame; `None` at the end (of
    /// the file, at `until`, at a read error, or once a divergence has been
    /// described). A read error or divergence is in the summary.
    pub fn next_frame(&mut self, options: ReplayOptions) -> Option<&Frame> {
        while !self.done {
            let next = match self.peeked.take() {
                Some(peeked) => peeked,
                None => self.reader.next_block(),
            };
            let block = match next {
                Ok(Some(b)) => b,
                Ok(None) => {
                    if self.summary.end.is_none() {
                        self.summary.cut_short = true;
                        self.summary.read_error = Some(format!(
                            "the file ends at byte {} without its End block: the server stopped abruptly, or the room is still being recorded",
                            self.reader.offset()
                        ));
                    }
                    self.finish();
                    return None;
                }
                Err(e) => {
                    self.summary.read_error = Some(e.to_string());
                    self.finish();
                    return None;
                }
            };
            match block {
                // Refused by the reader (a second header, a late continuation).
                Block::Header(_) | Block::Continues(_) => {}
                Block::End(end) => self.summary.end = Some(EndSummary::from(&end)),
                Block::Keyframe(k) => self.check_keyframe(&k),
                Block::Tick(record) => {
                    let k = u64::from(self.header.steps_per_frame.max(1));
                    // The frame this step belongs to (built at its last step).
                    let frame_of = u64::from(record.tick).div_ceil(k) as u32;
                    if options.until.is_some_and(|u| frame_of > u)
                        || options.until_step.is_some_and(|u| record.tick > u)
                    {
                        self.summary.stopped_at_until = true;
                        self.finish();
                        return None;
                    }
                    if self.pending.is_some() {
                        // Only looking for the keyframe that names the entities.
                        continue;
                    }
                    if let Err(mismatch) = self.within_capacity(&record.events) {
                        self.diverge(frame_of, record.tick, record.checksum, mismatch);
                        return None;
                    }
                    self.count_events(&record.events, frame_of);
                    let replayed = self.replay_step(&record);
                    let frame = match replayed {
                        Ok(frame) => frame,
                        Err(mismatch) => {
                            self.diverge(frame_of, record.tick, record.checksum, mismatch);
                            return None;
                        }
                    };
                    self.summary.steps += 1;
                    self.summary.inputs += record.inputs.len() as u64;
                    let step_matches = self.game.steps() == u64::from(record.tick);
                    let Some(frame) = frame else {
                        if !step_matches || record.checksum.is_some() {
                            self.pending = Some(Divergence {
                                tick: frame_of,
                                step: record.tick,
                                recorded: record.checksum.map(|c| c.0),
                                replayed: None,
                                detail: vec![format!(
                                    "the replay is at step {} without a frame where the record has step {} {}",
                                    self.game.steps(),
                                    record.tick,
                                    if record.checksum.is_some() {
                                        "with one"
                                    } else {
                                        "without one"
                                    }
                                )],
                            });
                        }
                        continue;
                    };
                    self.summary.ticks += 1;
                    self.summary.first_tick.get_or_insert(frame.tick);
                    self.summary.last_tick = Some(frame.tick);
                    self.summary.peak_players =
                        self.summary.peak_players.max(self.game.player_count());
                    let checksum = Checksum(frame.checksum(&mut self.scratch));
                    if !step_matches || record.checksum != Some(checksum) {
                        self.pending = Some(Divergence {
                            tick: frame.tick,
                            step: record.tick,
                            recorded: record.checksum.map(|c| c.0),
                            replayed: Some(checksum.0),
                            detail: if step_matches {
                                Vec::new()
                            } else {
                                vec![format!(
                                    "the replay reached step {} where the record has step {}",
                                    self.game.steps(),
                                    record.tick
                                )]
                            },
                        });
                    }
                    self.prev = Some(frame);
                    if self.pending.is_none() {
                        return self.prev.as_ref();
                    }
                }
            }
        }
        None
    }

    /// Replays to the end (or `until`) and returns the summary; `each`
    /// sees every frame with the game's schema.
    pub fn run(mut self, options: ReplayOptions, mut each: impl FnMut(&Schema, &Frame)) -> Summary {
        while self.next_frame(options).is_some() {
            if let Some(frame) = &self.prev {
                each(&self.schema, frame);
            }
        }
        self.into_summary()
    }

    /// What the replay found so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The summary, finished.
    pub fn into_summary(mut self) -> Summary {
        self.finish();
        self.summary
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if let Some(mut d) = self.pending.take() {
            if d.detail.is_empty() {
                d.detail.push(
                    "no keyframe after it to name the entities (only the checksum differs)".into(),
                );
            }
            self.summary.divergence = Some(d);
        }
        let rate = f64::from(self.summary.tick_rate_hz.max(1));
        self.summary.duration_secs = self.summary.ticks as f64 / rate;
    }

    fn diverge(&mut self, tick: u32, step: u32, recorded: Option<Checksum>, why: EventMismatch) {
        self.pending = Some(Divergence {
            tick,
            step,
            recorded: recorded.map(|c| c.0),
            replayed: None,
            detail: vec![why.to_string()],
        });
        self.finish();
    }

    fn check_keyframe(&mut self, k: &[u8]) {
        let Some(prev) = &self.prev else { return };
        self.summary.keyframes += 1;
        let recorded = match state::apply(&self.schema, None, k) {
            Ok(f) => f,
            Err(e) => {
                self.summary.read_error = Some(format!("a keyframe does not decode: {e}"));
                self.finish();
                return;
            }
        };
        let diffs = differences(&self.schema, &recorded, prev);
        if diffs.is_empty() {
            return;
        }
        match &mut self.pending {
            Some(d) => {
                d.detail
                    .push(format!("at the keyframe of tick {}:", recorded.tick));
                d.detail.extend(diffs);
            }
            None => {
                self.pending = Some(Divergence {
                    tick: recorded.tick,
                    step: self.game.steps() as u32,
                    recorded: None,
                    replayed: None,
                    detail: diffs,
                });
            }
        }
        self.finish();
    }

    /// A tick may not bring the room past its capacity (a damaged or forged
    /// file could otherwise make the replay spawn without bound).
    fn within_capacity(&self, events: &[RoomEvent]) -> Result<(), EventMismatch> {
        let mut players = self.game.player_count() as i64;
        for e in events {
            match e {
                RoomEvent::Joined { .. } => players += 1,
                RoomEvent::Left { .. } | RoomEvent::Expired { .. } => players -= 1,
                _ => {}
            }
            if players > i64::from(self.header.capacity) {
                return Err(EventMismatch::OverCapacity(self.header.capacity));
            }
        }
        Ok(())
    }

    fn count_events(&mut self, events: &[RoomEvent], tick: u32) {
        for e in events {
            match e {
                RoomEvent::Joined { player, name } => self.summary.players.push(SeenPlayer {
                    id: *player,
                    name: name.clone(),
                    joined_tick: tick,
                }),
                RoomEvent::Resumed { .. } => self.summary.resumes += 1,
                RoomEvent::Disconnected { .. } => self.summary.disconnects += 1,
                RoomEvent::Left { .. } => self.summary.leaves += 1,
                RoomEvent::Expired { .. } => self.summary.expiries += 1,
            }
        }
    }
}

/// How a continued recording meets the recording it continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContinuationCheck {
    /// The step the second recording starts from.
    pub step: u32,
    /// How the room came to the second recording's node.
    pub cause: String,
    /// The saved state's size, bytes.
    pub state_bytes: usize,
    /// Whether the first recording, replayed to `step`, is in exactly the
    /// state the second starts from.
    pub matched: bool,
    /// The point could not be checked: the first recording was cut short
    /// (its node died) before `step`.
    pub unchecked: bool,
    /// What differs, when it does not match.
    pub detail: Vec<String>,
}

/// Checks that `next` continues `prev` where `prev`'s replay stands: the
/// same room, game and rules, `prev` replayed exactly to the step `next`
/// starts from (run `prev` with [`ReplayOptions::until_step`] at
/// [`Continuation::step`]), and its whole saved state, once the
/// continuation's pending events are applied to it, byte for byte the state
/// `next` starts from. Call it once `prev` is done and before `next`
/// replays any tick (it gives `prev`'s room those events). On a mismatch,
/// `detail` names the entities whose replicated values differ (or says the
/// difference is in state that is not replicated).
pub fn check_continuation<A: Read, B: Read>(
    prev: &mut Replay<A>,
    next: &Replay<B>,
) -> ContinuationCheck {
    let Some(c) = next.continuation() else {
        return ContinuationCheck {
            step: 0,
            cause: String::new(),
            state_bytes: 0,
            matched: false,
            unchecked: false,
            detail: vec!["the second recording does not continue another".into()],
        };
    };
    let mut check = ContinuationCheck {
        step: c.step,
        cause: c.cause.to_string(),
        state_bytes: c.state.len(),
        matched: false,
        unchecked: false,
        detail: Vec::new(),
    };
    let (a, b) = (&prev.header, &next.header);
    let same = [
        ("room", a.room == b.room),
        ("game", a.game == b.game && a.game_version == b.game_version),
        ("config", prev.config == next.config),
        ("seed", a.seed == b.seed),
        (
            "step rate",
            a.step_rate_hz == b.step_rate_hz && a.steps_per_frame == b.steps_per_frame,
        ),
    ];
    for (what, ok) in same {
        if !ok {
            check
                .detail
                .push(format!("the recordings are of another {what}"));
        }
    }
    if !check.detail.is_empty() {
        return check;
    }
    if let Some(d) = &prev.summary.divergence {
        check.detail.push(format!(
            "the first recording diverged at tick {} before the hand-off",
            d.tick
        ));
        return check;
    }
    if prev.game.steps() < u64::from(c.step) && prev.summary.cut_short {
        check.unchecked = true;
        check.detail.push(format!(
            "the first recording ends at step {}, cut short (its node died before writing the rest), before step {}: the hand-off point cannot be checked",
            prev.game.steps(),
            c.step
        ));
        return check;
    }
    if prev.game.steps() != u64::from(c.step) {
        check.detail.push(format!(
            "the first recording replays to step {}; the second starts from step {}",
            prev.game.steps(),
            c.step
        ));
        return check;
    }
    if let Err(e) = apply_events(&mut *prev.game, &c.pending) {
        check.detail.push(format!(
            "the events between the last tick and the hand-off do not apply: {e}"
        ));
        return check;
    }
    let mut saved = Vec::new();
    if let Err(e) = prev.game.save(&mut saved) {
        check
            .detail
            .push(format!("the replayed room cannot be saved: {e}"));
        return check;
    }
    if saved == c.state {
        check.matched = true;
        return check;
    }
    check.detail = state_differences(prev, &saved, c);
    check
}

/// How `prev`'s replayed room (saved as `saved`) differs from the state `c`
/// starts from, by their frames at the continuation's step.
fn state_differences<A: Read>(prev: &Replay<A>, saved: &[u8], c: &Continuation) -> Vec<String> {
    // Both states in fresh rooms of the recording's rules (`prev`'s own
    // room is left as it is).
    let room_at = |state: &[u8]| -> Result<Box<dyn Room>, String> {
        let mut room = prev
            .entry
            .new_room(&prev.config, prev.header.seed, prev.header.step_rate_hz)
            .map_err(|e| e.to_string())?;
        room.restore(state).map_err(|e| e.to_string())?;
        Ok(room)
    };
    let mut theirs = match room_at(&c.state) {
        Ok(room) => room,
        Err(e) => return vec![format!("the continuation's state does not restore: {e}")],
    };
    let mut ours = match room_at(saved) {
        Ok(room) => room,
        Err(e) => return vec![format!("the replayed state does not restore: {e}")],
    };
    let tick = (u64::from(c.step) / u64::from(prev.header.steps_per_frame.max(1))) as u32;
    let (mut mine, mut other) = (Frame::default(), Frame::default());
    let built = ours
        .build_frame(tick, &mut mine)
        .and_then(|()| theirs.build_frame(tick, &mut other));
    if let Err(e) = built {
        return vec![format!("the frames at the hand-off cannot be built: {e}")];
    }
    let diffs = differences(&prev.schema, &other, &mine);
    if diffs.is_empty() {
        vec![format!(
            "the replicated state matches at step {}; the saved state that is not replicated differs",
            c.step
        )]
    } else {
        diffs
    }
}

/// Gives the game `events`, as the live room did.
fn apply_events(game: &mut dyn Room, events: &[RoomEvent]) -> Result<(), EventMismatch> {
    for event in events {
        let known = match event {
            RoomEvent::Joined { player, name } => {
                game.join(PlayerId(*player), name)
                    .map_err(|r| EventMismatch::JoinRefused {
                        player: *player,
                        reason: r.0,
                    })?;
                true
            }
            RoomEvent::Resumed { player } => game.resumed(PlayerId(*player)),
            RoomEvent::Disconnected { player } => game.disconnected(PlayerId(*player)),
            RoomEvent::Left { player } => game.leave(PlayerId(*player), Departure::Left),
            RoomEvent::Expired { player } => game.leave(PlayerId(*player), Departure::Expired),
        };
        if !known {
            return Err(EventMismatch::UnknownPlayer(event.player()));
        }
    }
    Ok(())
}

/// Most differences listed for one keyframe.
const MAX_DIFFERENCES: usize = 8;

/// How the replayed frame differs from a recorded keyframe: per entity, the
/// component and field that differ, with both values.
pub fn differences(schema: &Schema, recorded: &Frame, replayed: &Frame) -> Vec<String> {
    let mut out = Vec::new();
    let name = |c: u8| {
        schema
            .components()
            .get(usize::from(c))
            .map_or("?", |s| s.name.as_str())
    };
    for r in recorded.entities() {
        let Some(p) = replayed.get(r.id()) else {
            out.push(format!(
                "entity {}: recorded, missing from the replay",
                r.id()
            ));
            continue;
        };
        for (c, values) in r.components() {
            let Some(mine) = p.get(c) else {
                out.push(format!(
                    "entity {}: component {} recorded, missing from the replay",
                    r.id(),
                    name(c)
                ));
                continue;
            };
            for (slot, (a, b)) in values.iter().zip(mine).enumerate() {
                if a != b {
                    out.push(format!(
                        "entity {} {}.{}: recorded {}, replayed {}",
                        r.id(),
                        name(c),
                        slot_name(schema, c, slot),
                        show(a),
                        show(b)
                    ));
                }
            }
        }
        for (c, _) in p.components() {
            if r.get(c).is_none() {
                out.push(format!(
                    "entity {}: component {} in the replay, not recorded",
                    r.id(),
                    name(c)
                ));
            }
        }
    }
    for p in replayed.entities() {
        if recorded.get(p.id()).is_none() {
            out.push(format!("entity {}: in the replay, not recorded", p.id()));
        }
    }
    if out.len() > MAX_DIFFERENCES {
        let more = out.len() - MAX_DIFFERENCES;
        out.truncate(MAX_DIFFERENCES);
        out.push(format!("... and {more} more"));
    }
    out
}

fn show(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Int(n) => n.to_string(),
        ValueRef::Text(t) => format!("{t:?}"),
    }
}

/// The name of value slot `slot` of component `c`: its field, with the
/// item index for arrays (`pos[1]`).
fn slot_name(schema: &Schema, c: u8, slot: usize) -> String {
    let Some(shape) = schema.components().get(usize::from(c)) else {
        return slot.to_string();
    };
    let mut at = 0;
    for f in &shape.fields {
        let n = match &f.ty {
            FieldType::Array { len, .. } => usize::from(*len),
            _ => 1,
        };
        if slot < at + n {
            return match &f.ty {
                FieldType::Array { .. } => format!("{}[{}]", f.name, slot - at),
                _ => f.name.clone(),
            };
        }
        at += n;
    }
    slot.to_string()
}

/// One replayed frame as `--export jsonl` writes it: every entity with its
/// components by name, fields by name, numbers as the client reads them
/// (fixed-point divided by its scale, f32 from its bits, bools as bools).
#[derive(Debug, Serialize)]
pub struct ExportFrame {
    /// The tick.
    pub tick: u32,
    /// The frame checksum.
    pub checksum: u32,
    /// Entities, by network id.
    pub entities: Vec<ExportEntity>,
}

/// An entity in an [`ExportFrame`].
#[derive(Debug, Serialize)]
pub struct ExportEntity {
    /// Its network id.
    pub id: u32,
    /// Its components: name -> field -> value.
    pub components: serde_json::Map<String, serde_json::Value>,
}

impl ExportFrame {
    /// The export form of `frame`.
    pub fn of(schema: &Schema, frame: &Frame) -> ExportFrame {
        let mut scratch = Vec::new();
        ExportFrame {
            tick: frame.tick,
            checksum: frame.checksum(&mut scratch),
            entities: frame
                .entities()
                .map(|e| ExportEntity {
                    id: e.id(),
                    components: e
                        .components()
                        .filter_map(|(c, values)| {
                            let shape = schema.components().get(usize::from(c))?;
                            let mut values = values.iter();
                            let mut fields = serde_json::Map::new();
                            for f in &shape.fields {
                                fields.insert(f.name.clone(), json_of(&f.ty, &mut values));
                            }
                            Some((shape.name.clone(), serde_json::Value::Object(fields)))
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A field's value as JSON (see [`ExportFrame`]).
fn json_of(ty: &FieldType, values: &mut ValuesIter<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    let int = |v: Option<ValueRef<'_>>| match v {
        Some(ValueRef::Int(n)) => n,
        _ => 0,
    };
    match ty {
        FieldType::Array { item, len } => {
            J::Array((0..*len).map(|_| json_of(item, values)).collect())
        }
        FieldType::Text { .. } => match values.next() {
            Some(ValueRef::Text(t)) => J::String(t.to_owned()),
            _ => J::Null,
        },
        FieldType::Scalar(Scalar::Bool) => J::Bool(int(values.next()) != 0),
        FieldType::Scalar(Scalar::F32) => {
            let x = f32::from_bits(int(values.next()) as u32);
            serde_json::Number::from_f64(f64::from(x)).map_or(J::Null, J::Number)
        }
        FieldType::Scalar(Scalar::U64) => J::from(int(values.next()) as u64),
        FieldType::Scalar(_) | FieldType::Entity => J::from(int(values.next())),
        FieldType::Fixed { scale, .. } => {
            let x = int(values.next()) as f64 / f64::from((*scale).max(1));
            serde_json::Number::from_f64(x).map_or(J::Null, J::Number)
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let started =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.started_unix_ms);
        writeln!(
            f,
            "room        {} (node {}, tickroom {}, started {})",
            self.room,
            self.node,
            self.server_version,
            humantime::format_rfc3339_millis(started)
        )?;
        match (self.first_tick, self.last_tick) {
            (Some(a), Some(b)) => writeln!(
                f,
                "ticks       {} ({:.1} s at {} Hz), ticks {a}..={b}{}",
                self.ticks,
                self.duration_secs,
                self.tick_rate_hz,
                if self.sim_rate_hz != self.tick_rate_hz {
                    format!("; {} steps at {} Hz", self.steps, self.sim_rate_hz)
                } else {
                    String::new()
                }
            )?,
            _ => writeln!(f, "ticks       0")?,
        }
        if let Some(c) = &self.continues {
            let from = match (&c.file, &c.node) {
                (Some(file), Some(node)) => format!("{file} (node {node})"),
                _ => "a room that was not recorded".to_owned(),
            };
            writeln!(
                f,
                "continues   {from} from step {}, {}; {} players then",
                c.step, c.cause, c.players
            )?;
        }
        let names: Vec<String> = self
            .players
            .iter()
            .take(12)
            .map(|p| format!("{} (id {}, tick {})", p.name, p.id, p.joined_tick))
            .collect();
        let more = self.players.len().saturating_sub(names.len());
        writeln!(
            f,
            "players     {} joined, at most {} at once: {}{}",
            self.players.len(),
            self.peak_players,
            names.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        )?;
        writeln!(
            f,
            "events      {} resumes, {} disconnects, {} left, {} expired; {} inputs applied",
            self.resumes, self.disconnects, self.leaves, self.expiries, self.inputs
        )?;
        writeln!(f, "keyframes   {} checked", self.keyframes)?;
        match &self.end {
            Some(e) => writeln!(f, "ended       {} at tick {}", e.reason, e.last_tick)?,
            None if self.stopped_at_until => writeln!(f, "ended       (stopped at --until)")?,
            None => writeln!(f, "ended       (no End block read)")?,
        }
        if let Some(e) = &self.read_error {
            writeln!(f, "error       {e}")?;
        }
        match &self.divergence {
            None => writeln!(
                f,
                "result      every tick replayed matched its recorded checksum"
            ),
            Some(d) => {
                let hex = |c: Option<u32>| c.map_or("-".to_owned(), |c| format!("{c:08x}"));
                writeln!(
                    f,
                    "result      DIVERGED at tick {} (recorded checksum {}, replayed {})",
                    d.tick,
                    hex(d.recorded),
                    hex(d.replayed)
                )?;
                for line in &d.detail {
                    writeln!(f, "            {line}")?;
                }
                Ok(())
            }
        }
    }
}
