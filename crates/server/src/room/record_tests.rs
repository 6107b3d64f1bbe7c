//! Recording and replay, property-tested: random rooms (joins, resumes,
//! leaves, drops, inputs, grace expiries, frames dropped on the way to
//! clients) run through [`RoomCore`] with recording on; the records are
//! written in the file format and replayed by [`crate::replay`], which must
//! reproduce every tick's frame checksum, every keyframe, and the players.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use proptest::prelude::*;
use tickroom_protocol::record::{self, Block, EndReason, EndRecord, RecordHeader};
use tickroom_sim::{SIM_VERSION, SimConfig};

use super::core::{ConnId, CoreSettings, Output, RecordSettings, ResumeClaim, RoomCore};
use crate::{
    recording::rules_of,
    replay::{Replay, ReplayOptions},
};

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
        sim: SimConfig {
            seed: 5,
            pellet_count: 40,
            width: 300.0,
            height: 200.0,
            pellet_respawn_ticks: 3,
            tick_rate_hz: 20 * steps_per_frame,
            ..SimConfig::default()
        },
        recording: Some(RecordSettings { keyframe_every }),
        steps_per_frame,
    }
}

/// Runs `ops` live; returns the recording's bytes and each tick's checksum.
fn record_room(ops: &[Op], keyframe_every: u32) -> (Vec<u8>, Vec<(u32, u32)>, usize) {
    record_room_at(ops, keyframe_every, 1)
}

/// [`record_room`] with `steps_per_frame` simulation steps per frame (each
/// `Op::Tick` is one step).
fn record_room_at(
    ops: &[Op],
    keyframe_every: u32,
    steps_per_frame: u32,
) -> (Vec<u8>, Vec<(u32, u32)>, usize) {
    let settings = settings(keyframe_every, steps_per_frame);
    let mut now = Instant::now();
    let mut core = RoomCore::new(settings.clone(), now, 9);
    let mut file = record::preamble().to_vec();
    let header = RecordHeader {
        protocol_version: tickroom_protocol::PROTOCOL_VERSION,
        sim_version: SIM_VERSION,
        server_version: "test".into(),
        room: "prop".into(),
        node: "n".into(),
        started_unix_ms: 1,
        rules: rules_of(&settings.sim),
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
                core.input(conn, seq, ack, steer);
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
        ops in prop::collection::vec(op(), 1..400),
        every in 0u32..7,
        steps_per_frame in prop_oneof![Just(1u32), Just(3u32)],
    ) {
        let (file, ticks, joins) = record_room_at(&ops, every, steps_per_frame);
        let replay = Replay::open(&file[..]).expect("header");
        let mut replayed = Vec::new();
        let summary = replay.run(ReplayOptions::default(), |f| replayed.push((f.tick, f.checksum().0)));
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
        if let Ok(replay) = Replay::open(&damaged[..]) {
            let _ = replay.run(ReplayOptions::default(), |_| {});
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
            t.inputs[0].steer = [-100, -100];
        }
        record::append_block(&block, &mut tampered);
    }
    let summary = Replay::open(&tampered[..])
        .unwrap()
        .run(ReplayOptions::default(), |_| {});
    let d = summary.divergence.expect("a divergence");
    assert_eq!(d.tick, 5);
    assert_ne!(d.recorded, d.replayed);
    assert!(
        d.detail.iter().any(|l| l.contains("keyframe of tick 10")),
        "{:?}",
        d.detail
    );
    assert!(
        d.detail.iter().any(|l| l.starts_with("player 1:")),
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
    let s = Replay::open(&file[..])
        .unwrap()
        .run(ReplayOptions { until: Some(7) }, |_| {});
    assert_eq!(
        (s.ticks, s.last_tick, s.stopped_at_until),
        (7, Some(7), true)
    );
    let cut = &file[..file.len() - 30];
    let s = Replay::open(cut)
        .unwrap()
        .run(ReplayOptions::default(), |_| {});
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
fn another_sim_version_is_refused_by_name() {
    let (file, _, _) = record_room(&[Op::Join, Op::Tick(0)], 0);
    let mut reader = record::RecordReader::new(&file[..]).unwrap();
    let mut other = record::preamble().to_vec();
    while let Some(mut block) = reader.next_block().unwrap() {
        if let Block::Header(h) = &mut block {
            h.sim_version = SIM_VERSION + 1;
            h.server_version = "9.9.9".into();
        }
        record::append_block(&block, &mut other);
    }
    let err = Replay::open(&other[..]).unwrap_err().to_string();
    assert!(
        err.contains(&format!("simulation version {}", SIM_VERSION + 1)),
        "{err}"
    );
    assert!(err.contains("9.9.9"), "{err}");
}
