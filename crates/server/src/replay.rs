//! Replaying a room recording ([`tickroom_protocol::record`]): re-runs the
//! room offline from its event log through the same [`Game`] the live room
//! ran, checks every tick's frame checksum against the recorded one and
//! every keyframe field by field, and reports what it found ([`Summary`]).
//! Used by `tickroom replay FILE` and by the recordings endpoints that feed
//! the browser viewer. Sans-IO apart from reading the given reader.

use std::{collections::BTreeMap, io::Read};

use serde::Serialize;
use tickroom_protocol::{
    Checksum, Snapshot,
    record::{Block, EndRecord, RecordError, RecordHeader, RecordReader, RoomEvent},
    replica::Frame,
};
use tickroom_sim::SIM_VERSION;

use crate::{
    recording::sim_config_of,
    room::game::{EventMismatch, Game},
};

/// Why a recording could not be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file is unreadable before its first tick.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The recording is of other simulation rules.
    #[error(
        "recorded with simulation version {found} (tickroom {server}); this build replays version {supported} only: use a tickroom build of that version"
    )]
    SimVersion {
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
    /// The recorded arena (what a viewer draws).
    pub arena: ArenaSummary,
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
    /// Stopped at `--until`.
    pub stopped_at_until: bool,
}

/// The arena's size and radii, from the recorded rules.
#[derive(Debug, Clone, Serialize)]
pub struct ArenaSummary {
    /// Width, arena units.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Player circle radius.
    pub player_radius: f32,
    /// Pellet circle radius.
    pub pellet_radius: f32,
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
}

/// A recording being replayed.
#[derive(Debug)]
pub struct Replay<R> {
    reader: RecordReader<R>,
    header: RecordHeader,
    game: Game,
    prev: Option<Frame>,
    summary: Summary,
    /// Divergence found, waiting for a keyframe to name the entities.
    pending: Option<Divergence>,
    done: bool,
}

impl<R: Read> Replay<R> {
    /// Reads the header and checks the versions and rules.
    pub fn open(inner: R) -> Result<Replay<R>, ReplayError> {
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
        if header.sim_version != SIM_VERSION {
            return Err(ReplayError::SimVersion {
                found: header.sim_version,
                server: header.server_version.clone(),
                supported: SIM_VERSION,
            });
        }
        let sim = sim_config_of(&header.rules);
        sim.validate()
            .map_err(|e| ReplayError::Rules(e.to_string()))?;
        let k = header.steps_per_frame;
        if k == 0 || !header.rules.tick_rate_hz.is_multiple_of(k) {
            return Err(ReplayError::Rules(format!(
                "{k} steps per frame do not divide the step rate of {} Hz",
                header.rules.tick_rate_hz
            )));
        }
        let summary = Summary {
            room: header.room.clone(),
            node: header.node.clone(),
            server_version: header.server_version.clone(),
            started_unix_ms: header.started_unix_ms,
            tick_rate_hz: header.rules.tick_rate_hz / header.steps_per_frame.max(1),
            sim_rate_hz: header.rules.tick_rate_hz,
            arena: ArenaSummary {
                width: header.rules.width,
                height: header.rules.height,
                player_radius: header.rules.player_radius,
                pellet_radius: header.rules.pellet_radius,
            },
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
            stopped_at_until: false,
        };
        Ok(Replay {
            reader,
            game: Game::new(sim, false, header.steps_per_frame),
            header,
            prev: None,
            summary,
            pending: None,
            done: false,
        })
    }

    /// The recording's header.
    pub fn header(&self) -> &RecordHeader {
        &self.header
    }

    /// Replays the next tick and returns its frame; `None` at the end (of
    /// the file, at `until`, at a read error, or once a divergence has been
    /// described). A read error or divergence is in the summary.
    pub fn next_frame(&mut self, options: ReplayOptions) -> Option<&Frame> {
        while !self.done {
            let block = match self.reader.next_block() {
                Ok(Some(b)) => b,
                Ok(None) => {
                    if self.summary.end.is_none() {
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
                Block::Header(_) => {} // Refused by the reader.
                Block::End(end) => self.summary.end = Some(EndSummary::from(&end)),
                Block::Keyframe(k) => self.check_keyframe(&k),
                Block::Tick(record) => {
                    let k = u64::from(self.game.steps_per_frame());
                    // The frame this step belongs to (built at its last step).
                    let frame_of = u64::from(record.tick).div_ceil(k) as u32;
                    if options.until.is_some_and(|u| frame_of > u) {
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
                    let replayed = self.game.replay_tick(&record, self.prev.as_mut());
                    let frame = match replayed {
                        Ok(frame) => frame,
                        Err(mismatch) => {
                            self.diverge(frame_of, record.tick, record.checksum, mismatch);
                            return None;
                        }
                    };
                    self.summary.steps += 1;
                    self.summary.inputs += record.inputs.len() as u64;
                    let step_matches = self.game.step_number() == u64::from(record.tick);
                    let Some(frame) = frame else {
                        if !step_matches || record.checksum.is_some() {
                            self.pending = Some(Divergence {
                                tick: frame_of,
                                step: record.tick,
                                recorded: record.checksum.map(|c| c.0),
                                replayed: None,
                                detail: vec![format!(
                                    "the replay is at step {} without a frame where the record has step {} {}",
                                    self.game.step_number(),
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
                    self.summary.peak_players = self.summary.peak_players.max(frame.players.len());
                    let checksum = frame.checksum();
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
                                    self.game.step_number(),
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

    /// Replays to the end (or `until`) and returns the summary.
    pub fn run(mut self, options: ReplayOptions, mut each: impl FnMut(&Frame)) -> Summary {
        while let Some(frame) = self.next_frame(options) {
            each(frame);
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

    fn check_keyframe(&mut self, k: &Snapshot) {
        let Some(prev) = &self.prev else { return };
        self.summary.keyframes += 1;
        let diffs = differences(k, prev);
        if diffs.is_empty() {
            return;
        }
        match &mut self.pending {
            Some(d) => {
                d.detail
                    .push(format!("at the keyframe of tick {}:", k.tick));
                d.detail.extend(diffs);
            }
            None => {
                // The checksum matched but a field it does not cover (a name) differs.
                self.pending = Some(Divergence {
                    tick: k.tick,
                    step: self.game.step_number() as u32,
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

/// Most differences listed for one keyframe.
const MAX_DIFFERENCES: usize = 8;

/// How the replayed frame differs from a recorded keyframe, entity by entity.
pub fn differences(recorded: &Snapshot, replayed: &Frame) -> Vec<String> {
    let mut out = Vec::new();
    let rec: BTreeMap<u32, _> = recorded.players.iter().map(|p| (p.id, p)).collect();
    let rep: BTreeMap<u32, _> = replayed.players.iter().map(|p| (p.id, p)).collect();
    for (id, r) in &rec {
        match rep.get(id) {
            None => out.push(format!("player {id}: recorded, missing from the replay")),
            Some(p) if p != r => out.push(format!(
                "player {id}: recorded pos {:?} vel {:?} score {} seq {}, replayed pos {:?} vel {:?} score {} seq {}",
                r.pos, r.vel, r.score, r.last_input_seq, p.pos, p.vel, p.score, p.last_input_seq
            )),
            Some(_) => {}
        }
    }
    for id in rep.keys().filter(|id| !rec.contains_key(id)) {
        out.push(format!("player {id}: in the replay, not recorded"));
    }
    let rec: BTreeMap<u16, _> = recorded.pellets.iter().map(|p| (p.id, p.pos)).collect();
    let rep: BTreeMap<u16, _> = replayed.pellets.iter().map(|p| (p.id, p.pos)).collect();
    for id in rec
        .keys()
        .chain(rep.keys().filter(|id| !rec.contains_key(id)))
    {
        let (a, b) = (rec.get(id), rep.get(id));
        if a != b {
            out.push(format!("pellet {id}: recorded {a:?}, replayed {b:?}"));
        }
    }
    let names = |roster: &[tickroom_protocol::PlayerInfo]| {
        roster
            .iter()
            .map(|p| (p.id, p.name.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    if !replayed.roster.is_empty() && names(&recorded.roster) != names(&replayed.roster) {
        out.push("the player names differ".into());
    }
    if out.len() > MAX_DIFFERENCES {
        let more = out.len() - MAX_DIFFERENCES;
        out.truncate(MAX_DIFFERENCES);
        out.push(format!("... and {more} more"));
    }
    out
}

/// One replayed frame as `--export jsonl` writes it (arena units).
#[derive(Debug, Serialize)]
pub struct ExportFrame<'a> {
    /// The tick.
    pub tick: u32,
    /// The frame checksum (as recorded, when the replay matched).
    pub checksum: u32,
    /// Players, by id.
    pub players: Vec<ExportPlayer<'a>>,
    /// Live pellets, by id.
    pub pellets: Vec<ExportPellet>,
}

/// A player in an [`ExportFrame`].
#[derive(Debug, Serialize)]
pub struct ExportPlayer<'a> {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: &'a str,
    /// Position, arena units (as quantized on the wire).
    pub pos: [f32; 2],
    /// Velocity, units/s (as quantized on the wire).
    pub vel: [f32; 2],
    /// Pellets eaten.
    pub score: u32,
    /// Newest input sequence number applied.
    pub last_input_seq: u32,
}

/// A pellet in an [`ExportFrame`].
#[derive(Debug, Serialize)]
pub struct ExportPellet {
    /// Its slot id.
    pub id: u16,
    /// Position, arena units.
    pub pos: [f32; 2],
}

impl<'a> ExportFrame<'a> {
    /// The export form of `frame`.
    pub fn of(frame: &'a Frame) -> ExportFrame<'a> {
        use tickroom_protocol::quant::{pos_from_wire, vel_from_wire};
        let name = |id: u32| {
            frame
                .roster
                .binary_search_by_key(&id, |p| p.id)
                .map_or("", |i| frame.roster[i].name.as_str())
        };
        ExportFrame {
            tick: frame.tick,
            checksum: frame.checksum().0,
            players: frame
                .players
                .iter()
                .map(|p| ExportPlayer {
                    id: p.id,
                    name: name(p.id),
                    pos: [pos_from_wire(p.pos[0]), pos_from_wire(p.pos[1])],
                    vel: [vel_from_wire(p.vel[0]), vel_from_wire(p.vel[1])],
                    score: p.score,
                    last_input_seq: p.last_input_seq,
                })
                .collect(),
            pellets: frame
                .pellets
                .iter()
                .map(|q| ExportPellet {
                    id: q.id,
                    pos: [pos_from_wire(q.pos[0]), pos_from_wire(q.pos[1])],
                })
                .collect(),
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
