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
    record::{self, Block, EndReason, EndRecord, RecordHeader},
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
    let settings = settings(keyframe_every, steps_per_frame);
    let mut now = Instant::now();
    let games = games();
    let entry = games.get(game).expect("a game");
    let config = entry.config(Some(&config(game))).expect("a valid config");
    let (seed, rate) = (5, 20 * steps_per_frame);
    let room = entry.new_room(&config, seed, rate).expect("a room");
    let mut core = RoomCore::new(settings.clone(), room, now, 9);
    let mut file = record::preamble().to_vec();
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
    record::append_block(&Block::Header(header), &mut file);
    let mut live: Vec<ConnId> = Vec::new();
    let mut sessions: Vec<ResumeClaim> = Vec::new();
    let mut taken: BTreeMap<ConnId, u32> = BTreeMap::new();
    let mut next_conn = 1;
    let mut ticks = Vec::new();
    let mut joins = 0;
    // Joins a tick recorded (the events after the last tick are in no record).
    let mut joins_recorded = 0;
    let mut last_tick = 0;
    let drain = |core: &mut RoomCore,
                 file: &mut Vec<u8>,
                 live: &mut Vec<ConnId>,
                 taken: &mut BTreeMap<ConnId, u32>,
                 ticks: &mut Vec<(u32, u32)>,
                 mask: u32| {
        while let Some(out) = core.poll_output() {
            match out {
                Output::Frame { conn, tick, .. } => {
                    let bit = (conn % 32) as u32;
                    if mask & (1 << bit) == 0 {
                        taken.insert(conn, tick);
                    }
                }
                Output::Close { conn, .. } => {
                    live.retain(|c| *c != conn);
                    taken.remove(&conn);
                }
                Output::Record(r) => {
                    if let Some(sum) = r.checksum {
                        ticks.push((r.tick / steps_per_frame, sum.0));
                    }
                    record::append_block(&Block::Tick(r), file);
                }
                Output::Keyframe(k) => record::append_block(&Block::Keyframe(k), file),
                Output::Event { .. } => {}
            }
        }
    };
    for op in ops {
        match *op {
            Op::Join => {
                let conn = next_conn;
                next_conn += 1;
                if let Ok(j) = core.join(
                    conn,
                    if conn % 3 == 0 {
                        String::new()
                    } else {
                        format!("p{conn}")
                    },
                    None,
                ) {
                    live.push(conn);
                    joins += 1;
                    sessions.push(ResumeClaim {
                        player: j.player_id,
                        session: j.session,
                    });
                }
            }
            Op::Resume(n) if !sessions.is_empty() => {
                let conn = next_conn;
                next_conn += 1;
                let claim = sessions[n % sessions.len()];
                if let Ok(j) = core.join(conn, format!("r{conn}"), Some(claim)) {
                    live.push(conn);
                    if !j.resumed {
                        joins += 1;
                    }
                    sessions.push(ResumeClaim {
                        player: j.player_id,
                        session: j.session,
                    });
                }
            }
            Op::Resume(_) => {}
            Op::Leave(n, explicit) if !live.is_empty() => {
                let conn = live.remove(n % live.len());
                taken.remove(&conn);
                core.leave(now, conn, explicit);
            }
            Op::Leave(..) => {}
            Op::Input(n, step, steer) if !live.is_empty() => {
                let conn = live[n % live.len()];
                let ack = taken.get(&conn).copied().unwrap_or(0);
                let seq = core.tick_number() * 4 + u32::from(step);
                core.input(conn, seq, ack, &input_data(game, steer));
            }
            Op::Input(..) => {}
            Op::Tick(mask) => {
                now += PERIOD;
                let t = taken.clone();
                core.tick(now, |conn| t.get(&conn).copied());
                last_tick = core.step_number() as u32;
                joins_recorded = joins;
                drain(
                    &mut core, &mut file, &mut live, &mut taken, &mut ticks, mask,
                );
            }
            Op::Wait(ms) => now += Duration::from_millis(u64::from(ms) * 4),
        }
        drain(&mut core, &mut file, &mut live, &mut taken, &mut ticks, 0);
    }
    record::append_block(
        &Block::End(EndRecord {
            last_tick,
            reason: EndReason::RoomClosed,
        }),
        &mut file,
    );
    (file, ticks, joins_recorded)
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
    let s = Replay::open(&file[..], &games())
        .unwrap()
        .run(ReplayOptions { until: Some(7) }, |_, _| {});
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
