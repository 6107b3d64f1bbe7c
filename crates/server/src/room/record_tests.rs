//! Recording and replay, property-tested: random rooms (joins, resumes,
//! leaves, drops, inputs, grace expiries, frames dropped on the way to
//! clients) run through [`RoomCore`] with recording on, for the arena and
//! for a small game that is nothing like it ("drops": discrete inputs,
//! entities spawned and despawned every step, events); the records are
//! written in the file format and replayed by
//! [`crate::recording::replay`], which must reproduce every tick's frame
//! checksum, every keyframe, and the players.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use proptest::prelude::*;
use tickroom_game::Games;
use tickroom_protocol::{
    record::{
        self, Block, Continuation, ContinueCause, EndReason, EndRecord, PreviousRecording,
        RecordHeader,
    },
    state::Frame,
};
use tickroom_sim::{Arena, SteerInput};

use super::core::{ConnId, CoreSettings, Output, RecordSettings, ResumeClaim, RoomCore};
use crate::recording::replay::{Replay, ReplayOptions};

#[path = "../../../game/tests/support/drops.rs"]
#[allow(
    dead_code,
    reason = "shared with the game crate's tests, which use all of it"
)]
mod drops;

/// The games these tests record: the arena and "drops".
fn games() -> Games {
    let mut g = Games::new();
    g.register::<Arena>().expect("the arena registers");
    g.register::<drops::Drops>().expect("drops registers");
    g
}

/// The game's input for an `Op::Input`'s two bytes.
fn input_data(game: &str, d: [i8; 2]) -> Vec<u8> {
    let games = games();
    let catalogue = games.get(game).expect("a game").catalogue().clone();
    let mut out = Vec::new();
    match game {
        "arena" => catalogue.encode_input(&SteerInput { x: d[0], y: d[1] }, &mut out),
        _ => catalogue.encode_input(
            &drops::Act {
                kind: (d[0] & 1) as u8,
                dx: i16::from(d[1]),
            },
            &mut out,
        ),
    }
    out
}

/// The game config the tests use (a small arena with pellets that respawn fast).
fn config(game: &str) -> serde_json::Value {
    match game {
        "arena" => serde_json::json!({
            "pellet_count": 40, "width": 300.0, "height": 200.0, "pellet_respawn_ticks": 3
        }),
        _ => serde_json::json!({"ttl": 3, "rain_steps": 2}),
    }
}

const PERIOD: Duration = Duration::from_millis(50);

/// One thing that happens to the room between or at ticks.
#[derive(Debug, Clone)]
enum Op {
    Join,
    /// Resume the n-th session seen (if it can).
    Resume(usize),
    /// End the n-th live connection, on purpose or not.
    Leave(usize, bool),
    /// An input from the n-th live connection.
    Input(usize, u8, [i8; 2]),
    /// A tick; each bit of the mask drops the frame of one connection.
    Tick(u32),
    /// Time passes (past the resume grace, sometimes).
    Wait(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Join),
        1 => any::<usize>().prop_map(Op::Resume),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(n, e)| Op::Leave(n, e)),
        8 => (any::<usize>(), 1u8..4, any::<[i8; 2]>()).prop_map(|(n, s, d)| Op::Input(n, s, d)),
        6 => any::<u32>().prop_map(Op::Tick),
        1 => any::<u8>().prop_map(Op::Wait),
    ]
}

fn settings(keyframe_every: u32, steps_per_frame: u32) -> CoreSettings {
    CoreSettings {
        capacity: 12,
        idle_timeout: Duration::from_secs(60),
        resume_grace: Duration::from_millis(400),
        history: super::core::HISTORY,
        max_unacked: 6,
        recording: Some(RecordSettings { keyframe_every }),
        steps_per_frame,
    }
}

/// Runs `ops` live in an arena room; returns the recording's bytes and each
/// tick's checksum.
fn record_room(ops: &[Op], keyframe_every: u32) -> (Vec<u8>, Vec<(u32, u32)>, usize) {
    record_room_at("arena", ops, keyframe_every, 1)
}

/// [`record_room`] with `steps_per_frame` simulation steps per frame (each
/// `Op::Tick` is one step).
fn record_room_at(
    game: &str,
    ops: &[Op],
    keyframe_every: u32,
    steps_per_frame: u32,
) -> (Vec<u8>, Vec<(u32, u32)>, usize) {
    let mut live = Live::new(game, keyframe_every, steps_per_frame);
    live.run(ops);
    live.end(EndReason::RoomClosed)
}

/// A recording room run live: its core, the recording so far, and what the
/// test's clients hold.
struct Live {
    game: String,
    steps_per_frame: u32,
    header: RecordHeader,
    core: RoomCore,
    now: Instant,
    file: Vec<u8>,
    live: Vec<ConnId>,
    sessions: Vec<ResumeClaim>,
    taken: BTreeMap<ConnId, u32>,
    next_conn: ConnId,
    /// Each frame's (tick, checksum).
    ticks: Vec<(u32, u32)>,
    joins: usize,
    /// Joins a tick recorded (the events after the last tick are in no record).
    joins_recorded: usize,
    last_tick: u32,
}

impl Live {
    fn new(game: &str, keyframe_every: u32, steps_per_frame: u32) -> Live {
        let settings = settings(keyframe_every, steps_per_frame);
        let now = Instant::now();
        let games = games();
        let entry = games.get(game).expect("a game");
        let config = entry.config(Some(&config(game))).expect("a valid config");
        let (seed, rate) = (5, 20 * steps_per_frame);
        let room = entry.new_room(&config, seed, rate).expect("a room");
        let core = RoomCore::new(settings, room, now, 9);
        let header = RecordHeader {
            protocol_version: tickroom_protocol::PROTOCOL_VERSION,
            game: game.into(),
            game_version: entry.version(),
            schema_hash: entry.catalogue().schema().hash(),
            config: config.to_string(),
            seed,
            step_rate_hz: rate,
            server_version: "test".into(),
            room: "prop".into(),
            node: "n".into(),
            started_unix_ms: 1,
            capacity: 12,
            keyframe_every,
            steps_per_frame,
        };
        let mut file = record::preamble().to_vec();
        record::append_block(&Block::Header(header.clone()), &mut file);
        Live {
            game: game.into(),
            steps_per_frame,
            header,
            core,
            now,
            file,
            live: Vec::new(),
            sessions: Vec::new(),
            taken: BTreeMap::new(),
            next_conn: 1,
            ticks: Vec::new(),
            joins: 0,
            joins_recorded: 0,
            last_tick: 0,
        }
    }

    /// The room as a new owner takes it over between two ticks (a hand-off
    /// when `cause` says so, a restore from a snapshot otherwise): a core
    /// restored from the game's save and the sessions, its recording
    /// starting with the continuation. The clients keep their sessions.
    fn continued(&self, cause: ContinueCause, file: &str) -> Live {
        let games = games();
        let entry = games.get(&self.game).expect("a game");
        let config = entry.config(Some(&config(&self.game))).expect("a config");
        let mut state = Vec::new();
        self.core.game().save(&mut state).expect("the room saves");
        let mut room = entry
            .new_room(&config, self.header.seed, self.header.step_rate_hz)
            .expect("a room");
        room.restore(&state).expect("the state restores");
        let (sessions, next_player_id) = self.core.sessions();
        let now = self.now + PERIOD;
        let settings = settings(self.header.keyframe_every, self.steps_per_frame);
        let core = RoomCore::restored(settings, room, now, 11, &sessions, next_player_id);
        let mut header = self.header.clone();
        header.node = "m".into();
        let mut out = record::preamble().to_vec();
        record::append_block(&Block::Header(header.clone()), &mut out);
        record::append_block(
            &Block::Continues(Continuation {
                cause,
                from: Some(PreviousRecording {
                    node: "n".into(),
                    file: file.into(),
                }),
                step: self.core.step_number() as u32,
                pending: self.core.pending_events().to_vec(),
                state,
            }),
            &mut out,
        );
        Live {
            game: self.game.clone(),
            steps_per_frame: self.steps_per_frame,
            header,
            core,
            now,
            file: out,
            live: Vec::new(),
            sessions: self.sessions.clone(),
            taken: BTreeMap::new(),
            next_conn: self.next_conn,
            ticks: Vec::new(),
            joins: 0,
            joins_recorded: 0,
            last_tick: self.core.step_number() as u32,
        }
    }

    fn drain(&mut self, mask: u32) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Frame { conn, tick, .. } => {
                    let bit = (conn % 32) as u32;
                    if mask & (1 << bit) == 0 {
                        self.taken.insert(conn, tick);
                    }
                }
                Output::Close { conn, .. } => {
                    self.live.retain(|c| *c != conn);
                    self.taken.remove(&conn);
                }
                Output::Record(r) => {
                    if let Some(sum) = r.checksum {
                        self.ticks.push((r.tick / self.steps_per_frame, sum.0));
                    }
                    record::append_block(&Block::Tick(r), &mut self.file);
                }
                Output::Keyframe(k) => record::append_block(&Block::Keyframe(k), &mut self.file),
                Output::Event { .. } => {}
            }
        }
    }

    fn run(&mut self, ops: &[Op]) {
        for op in ops {
            match *op {
                Op::Join => {
                    let conn = self.next_conn;
                    self.next_conn += 1;
                    let name = if conn.is_multiple_of(3) {
                        String::new()
                    } else {
                        format!("p{conn}")
                    };
                    if let Ok(j) = self.core.join(conn, name, None) {
                        self.live.push(conn);
                        self.joins += 1;
                        self.sessions.push(ResumeClaim {
                            player: j.player_id,
                            session: j.session,
                        });
                    }
                }
                Op::Resume(n) if !self.sessions.is_empty() => {
                    let conn = self.next_conn;
                    self.next_conn += 1;
                    let claim = self.sessions[n % self.sessions.len()];
                    if let Ok(j) = self.core.join(conn, format!("r{conn}"), Some(claim)) {
                        self.live.push(conn);
                        if !j.resumed {
                            self.joins += 1;
                        }
                        self.sessions.push(ResumeClaim {
                            player: j.player_id,
                            session: j.session,
                        });
                    }
                }
                Op::Resume(_) => {}
                Op::Leave(n, explicit) if !self.live.is_empty() => {
                    let conn = self.live.remove(n % self.live.len());
                    self.taken.remove(&conn);
                    self.core.leave(self.now, conn, explicit);
                }
                Op::Leave(..) => {}
                Op::Input(n, step, steer) if !self.live.is_empty() => {
                    let conn = self.live[n % self.live.len()];
                    let ack = self.taken.get(&conn).copied().unwrap_or(0);
                    let seq = self.core.tick_number() * 4 + u32::from(step);
                    self.core
                        .input(conn, seq, ack, &input_data(&self.game, steer));
                }
                Op::Input(..) => {}
                Op::Tick(mask) => {
                    self.now += PERIOD;
                    let t = self.taken.clone();
                    self.core.tick(self.now, |conn| t.get(&conn).copied());
                    self.last_tick = self.core.step_number() as u32;
                    self.joins_recorded = self.joins;
                    self.drain(mask);
                }
                Op::Wait(ms) => self.now += Duration::from_millis(u64::from(ms) * 4),
            }
            self.drain(0);
        }
    }

    /// The recording, ended with `reason`, each frame's (tick, checksum)
    /// and the joins recorded.
    fn end(mut self, reason: EndReason) -> (Vec<u8>, Vec<(u32, u32)>, usize) {
        record::append_block(
            &Block::End(EndRecord {
                last_tick: self.last_tick,
                reason,
            }),
            &mut self.file,
        );
        (self.file, self.ticks, self.joins_recorded)
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_recorded_room_replays_bit_for_bit(
        game in prop_oneof![Just("arena"), Just("drops")],
        ops in prop::collection::vec(op(), 1..400),
        every in 0u32..7,
        steps_per_frame in prop_oneof![Just(1u32), Just(3u32)],
    ) {
        let (file, ticks, joins) = record_room_at(game, &ops, every, steps_per_frame);
        let replay = Replay::open(&file[..], &games()).expect("header");
        let mut replayed = Vec::new();
        let mut scratch = Vec::new();
        let summary = replay.run(ReplayOptions::default(), |_, f: &Frame| {
            replayed.push((f.tick, f.checksum(&mut scratch)))
        });
        prop_assert!(summary.divergence.is_none(), "{:?}", summary.divergence);
        prop_assert!(summary.read_error.is_none(), "{:?}", summary.read_error);
        prop_assert!(summary.end.is_some());
        prop_assert_eq!(&replayed, &ticks);
        prop_assert_eq!(summary.players.len(), joins);
        if every > 0 {
            prop_assert_eq!(summary.keyframes as usize, ticks.iter().filter(|(t, _)| t.is_multiple_of(every)).count());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// A damaged recording (bytes changed behind a recomputed CRC, so the
    /// decoder and the replay see them) never panics the replay.
    #[test]
    fn a_damaged_recording_never_panics_the_replay(
        ops in prop::collection::vec(op(), 1..120),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let (file, _, _) = record_room(&ops, 4);
        let mut reader = record::RecordReader::new(&file[..]).expect("valid");
        let mut blocks = Vec::new();
        while let Some(b) = reader.next_block().expect("valid") {
            blocks.push(b);
        }
        let mut payloads: Vec<Vec<u8>> = blocks
            .iter()
            .map(|b| {
                let mut p = Vec::new();
                tickroom_protocol::codec::encode_record_block_into(b, &mut p);
                p
            })
            .collect();
        let total: usize = payloads.iter().map(Vec::len).sum();
        let mut i = at.index(total);
        for p in &mut payloads {
            if i < p.len() {
                p[i] = byte;
                break;
            }
            i -= p.len();
        }
        let mut damaged = record::preamble().to_vec();
        for p in &payloads {
            damaged.extend_from_slice(&(p.len() as u32).to_le_bytes());
            damaged.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
            damaged.extend_from_slice(p);
        }
        if let Ok(replay) = Replay::open(&damaged[..], &games()) {
            let _ = replay.run(ReplayOptions::default(), |_, _| {});
        }
    }
}

/// Replays `a` to where `b` starts, checks the pair there, then replays
/// `b`: the check and `b`'s summary, and `b`'s replayed (tick, checksum)s.
fn replay_pair(
    a: &[u8],
    b: &[u8],
) -> (
    crate::recording::replay::ContinuationCheck,
    crate::recording::replay::Summary,
    Vec<(u32, u32)>,
) {
    let games = games();
    let mut first = Replay::open(a, &games).expect("the first header");
    let second = Replay::open(b, &games).expect("the second header and state");
    let step = second.continuation().expect("a continuation").step;
    let options = ReplayOptions {
        until_step: Some(step),
        ..ReplayOptions::default()
    };
    while first.next_frame(options).is_some() {}
    let check = crate::recording::replay::check_continuation(&mut first, &second);
    let mut replayed = Vec::new();
    let mut scratch = Vec::new();
    let summary = second.run(ReplayOptions::default(), |_, f: &Frame| {
        replayed.push((f.tick, f.checksum(&mut scratch)))
    });
    (check, summary, replayed)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    /// A room handed to a new owner between two ticks (or restored there
    /// from a snapshot while the old owner played on) is recorded there in
    /// a file that starts from its state: that file replays bit for bit on
    /// its own, and the first file replayed to the hand-off step, with the
    /// joins, leaves and resumes applied after its last tick, is in exactly
    /// that state.
    #[test]
    fn a_continued_recording_replays_and_meets_the_one_it_continues(
        game in prop_oneof![Just("arena"), Just("drops")],
        before in prop::collection::vec(op(), 1..200),
        after in prop::collection::vec(op(), 1..200),
        lost in prop::collection::vec(op(), 0..40),
        steps_per_frame in prop_oneof![Just(1u32), Just(3u32)],
        handed_off in any::<bool>(),
    ) {
        let mut a = Live::new(game, 4, steps_per_frame);
        a.run(&before);
        let cause = if handed_off { ContinueCause::HandOff } else { ContinueCause::Restored };
        let mut b = a.continued(cause, "prop@1-1.tickrec");
        let step = a.core.step_number() as u32;
        let a_file = if handed_off {
            a.end(EndReason::HandedOff).0
        } else {
            // The old owner played on after its snapshot, then died: no End.
            a.run(&lost);
            a.file
        };
        b.run(&after);
        let (b_file, b_ticks, _) = b.end(EndReason::RoomClosed);
        let (check, summary, replayed) = replay_pair(&a_file, &b_file);
        prop_assert!(check.matched, "{:?}", check.detail);
        prop_assert_eq!(check.step, step);
        prop_assert!(summary.divergence.is_none(), "{:?}", summary.divergence);
        prop_assert!(summary.read_error.is_none(), "{:?}", summary.read_error);
        prop_assert_eq!(&replayed, &b_ticks);
        let from = summary.continues.expect("continues");
        prop_assert_eq!(from.step, step);
        prop_assert_eq!(from.file.as_deref(), Some("prop@1-1.tickrec"));
    }
}

#[test]
fn a_continuation_from_another_state_is_named_at_the_hand_off() {
    let mut ops = vec![Op::Join, Op::Join, Op::Tick(0)];
    for i in 0..20 {
        ops.push(Op::Input(i, 1, [90, -40]));
        ops.push(Op::Tick(0));
    }
    // Two rooms played alike, then steered apart for two steps.
    let mut a = Live::new("arena", 4, 1);
    a.run(&ops);
    a.run(&[Op::Input(0, 1, [-90, 40]), Op::Tick(0), Op::Tick(0)]);
    let mut other = Live::new("arena", 4, 1);
    other.run(&ops);
    other.run(&[Op::Input(0, 1, [90, -40]), Op::Tick(0), Op::Tick(0)]);
    let b = other.continued(ContinueCause::HandOff, "prop@1-1.tickrec");
    let b_file = b.end(EndReason::RoomClosed).0;
    let (check, ..) = replay_pair(&a.end(EndReason::HandedOff).0, &b_file);
    assert!(!check.matched);
    assert_eq!(check.step, 23);
    assert!(
        check.detail.iter().any(|d| d.starts_with("entity ")),
        "{:?}",
        check.detail
    );
    // A continuation whose step is not its state's is refused when opened.
    let mut bad = record::preamble().to_vec();
    let mut reader = record::RecordReader::new(&b_file[..]).expect("valid");
    while let Some(block) = reader.next_block().expect("valid") {
        let block = match block {
            Block::Continues(mut c) => {
                c.step = 21;
                Block::Continues(c)
            }
            Block::Tick(_) | Block::Keyframe(_) | Block::End(_) => continue,
            other => other,
        };
        record::append_block(&block, &mut bad);
    }
    let err = Replay::open(&bad[..], &games()).unwrap_err().to_string();
    assert!(err.contains("step 23") && err.contains("step 21"), "{err}");
}

#[test]
fn a_first_recording_cut_before_the_snapshot_leaves_the_point_unchecked() {
    let mut ops = vec![Op::Join, Op::Tick(0)];
    for i in 0..10 {
        ops.push(Op::Input(i, 1, [60, 30]));
        ops.push(Op::Tick(0));
    }
    let mut a = Live::new("drops", 0, 1);
    a.run(&ops);
    let b = a.continued(ContinueCause::Restored, "prop@1-1.tickrec");
    // The old node died with only its first five ticks on disk.
    let mut cut = record::preamble().to_vec();
    let mut reader = record::RecordReader::new(&a.file[..]).expect("valid");
    while let Some(block) = reader.next_block().expect("valid") {
        if matches!(&block, Block::Tick(t) if t.tick > 5) {
            break;
        }
        record::append_block(&block, &mut cut);
    }
    let (check, summary, _) = replay_pair(&cut, &b.end(EndReason::RoomClosed).0);
    assert!(!check.matched && check.unchecked, "{check:?}");
    assert!(
        check.detail[0].contains("ends at step 5") && check.detail[0].contains("step 11"),
        "{:?}",
        check.detail
    );
    assert!(
        summary.divergence.is_none(),
        "the second still replays alone"
    );
}

#[test]
fn a_changed_input_is_caught_with_the_entity_that_differs() {
    let mut ops = vec![Op::Join, Op::Join, Op::Tick(0)];
    for i in 0..30u8 {
        ops.push(Op::Input(0, 1, [100, i as i8]));
        ops.push(Op::Input(1, 1, [-100, 50]));
        ops.push(Op::Tick(0));
    }
    let (file, ticks, _) = record_room(&ops, 10);
    assert_eq!(ticks.len(), 31);
    // Rewrite tick 5's record: player 1 steers elsewhere.
    let mut reader = record::RecordReader::new(&file[..]).unwrap();
    let mut tampered = record::preamble().to_vec();
    while let Some(mut block) = reader.next_block().unwrap() {
        if let Block::Tick(t) = &mut block
            && t.tick == 5
        {
            t.inputs[0].data = input_data("arena", [-100, -100]);
        }
        record::append_block(&block, &mut tampered);
    }
    let summary = Replay::open(&tampered[..], &games())
        .unwrap()
        .run(ReplayOptions::default(), |_, _| {});
    let d = summary.divergence.expect("a divergence");
    assert_eq!(d.tick, 5);
    assert_ne!(d.recorded, d.replayed);
    assert!(
        d.detail.iter().any(|l| l.contains("keyframe of tick 10")),
        "{:?}",
        d.detail
    );
    // The first player's entity (network ids start past the arena's 40
    // pellets) differs in its position.
    assert!(
        d.detail
            .iter()
            .any(|l| l.starts_with("entity ") && l.contains("pos.x") || l.contains("pos.y")),
        "{:?}",
        d.detail
    );
    assert_eq!(summary.ticks, 5);
}

#[test]
fn until_stops_early_and_a_truncated_file_says_so() {
    let mut ops = vec![Op::Join];
    ops.extend((0..20).map(|_| Op::Tick(0)));
    let (file, _, _) = record_room(&ops, 0);
    let s = Replay::open(&file[..], &games()).unwrap().run(
        ReplayOptions {
            until: Some(7),
            ..ReplayOptions::default()
        },
        |_, _| {},
    );
    assert_eq!(
        (s.ticks, s.last_tick, s.stopped_at_until),
        (7, Some(7), true)
    );
    let cut = &file[..file.len() - 30];
    let s = Replay::open(cut, &games())
        .unwrap()
        .run(ReplayOptions::default(), |_, _| {});
    assert!(
        s.read_error
            .as_deref()
            .is_some_and(|e| e.contains("truncated")),
        "{:?}",
        s.read_error
    );
    assert!(s.ticks > 10 && s.divergence.is_none());
    assert!(!s.is_clean());
}

#[test]
fn another_game_version_or_an_unknown_game_is_refused_by_name() {
    let (file, _, _) = record_room(&[Op::Join, Op::Tick(0)], 0);
    let rewrite = |edit: &dyn Fn(&mut RecordHeader)| {
        let mut reader = record::RecordReader::new(&file[..]).unwrap();
        let mut other = record::preamble().to_vec();
        while let Some(mut block) = reader.next_block().unwrap() {
            if let Block::Header(h) = &mut block {
                edit(h);
            }
            record::append_block(&block, &mut other);
        }
        other
    };
    let newer = rewrite(&|h| {
        h.game_version = tickroom_sim::SIM_VERSION + 1;
        h.server_version = "9.9.9".into();
    });
    let err = Replay::open(&newer[..], &games()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("arena version {}", tickroom_sim::SIM_VERSION + 1)),
        "{err}"
    );
    assert!(err.contains("9.9.9"), "{err}");
    let unknown = rewrite(&|h| h.game = "chess".into());
    let err = Replay::open(&unknown[..], &games())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"chess\"") && err.contains("arena, drops"),
        "{err}"
    );
    let bad = rewrite(&|h| h.config = r#"{"width": -1}"#.into());
    let err = Replay::open(&bad[..], &games()).unwrap_err().to_string();
    assert!(err.contains("width"), "{err}");
}

#[test]
fn a_game_with_spawns_despawns_and_events_replays_bit_for_bit() {
    let mut ops = vec![Op::Join, Op::Join, Op::Tick(0)];
    for i in 0..40i8 {
        ops.push(Op::Input(0, 1, [1, i]));
        ops.push(Op::Input(1, 2, [i % 2, -i]));
        ops.push(Op::Tick(if i % 5 == 0 { 1 } else { 0 }));
    }
    let (file, ticks, joins) = record_room_at("drops", &ops, 4, 1);
    assert_eq!((ticks.len(), joins), (41, 2));
    let summary = Replay::open(&file[..], &games())
        .unwrap()
        .run(ReplayOptions::default(), |_, _| {});
    assert!(summary.is_clean(), "{summary}");
    assert_eq!(summary.keyframes, 10);
}
