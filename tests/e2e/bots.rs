//! The bot swarm against a real server: 120 `tickroom-bots` players in four
//! full rooms, a few slow readers among them. Normal bots see every tick in
//! order and get their inputs acknowledged; slow readers, and only they, see
//! gaps. Asserts counts and order, never wall-clock figures.
//!
//! The run lasts 6 s because a slow reader (3 messages/s) first drains the
//! frames already queued in the kernel buffers before it reaches the newer,
//! gapped ones, about 2-3 s in with the buffers configured here.

use std::time::Duration;

use tickroom_bots::{BehaviourKind, Placement, SwarmConfig};
use tickroom_server::Config;

use crate::util::{start, test_config};

const ROOMS: usize = 4;
// 120 bots: enough to fill rooms and mix behaviours, light enough to share a
// 2-core CI machine with the other tests of this binary at 60 Hz.
const PER_ROOM: usize = 30;
const SLOW_PER_ROOM: usize = 4;
const CHURN_PER_ROOM: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_of_120_bots_plays_and_only_slow_readers_see_gaps() {
    let server = start(Config {
        // Small kernel send buffers, so a slow reader backs up within a second
        // or two instead of after megabytes.
        tcp_send_buffer: Some(4096),
        // Deltas are small (~150 bytes a tick): tick at 60 Hz so a slow
        // reader's buffers fill within the run.
        tick_rate: 60,
        // Headroom: a churner that missed its resume would need a new slot.
        room_capacity: PER_ROOM + 10,
        ..test_config()
    })
    .await;
    let config = SwarmConfig {
        url: format!("http://{}", server.local_addr()),
        placement: Placement::Rooms {
            rooms: ROOMS,
            per_room: PER_ROOM,
        },
        mix: format!(
            "wander={},chase=4,churn={CHURN_PER_ROOM},slow-reader={SLOW_PER_ROOM}",
            PER_ROOM - 4 - CHURN_PER_ROOM - SLOW_PER_ROOM
        )
        .parse()
        .expect("mix"),
        ramp_per_sec: 500.0,
        duration: Some(Duration::from_secs(8)),
        // A slow reader takes 20 frames a second of the 60 the room sends: it
        // first drains the ~100 small deltas its buffers hold, then sees gaps.
        slow_read_interval: Duration::from_millis(50),
        seed: 7,
        ..SwarmConfig::default()
    };
    let report = tickroom_bots::run(config, std::future::pending())
        .await
        .expect("the swarm runs");
    server.shutdown().await;
    println!("{report}");

    let all = &report.all;
    let normal = &report.normal;
    let slow = &report.slow_readers;
    let by = |k: BehaviourKind| &report.behaviours[k.name()];

    // Everyone got in, and every connection of every bot reached Welcome.
    assert_eq!(report.bots, ROOMS * PER_ROOM);
    assert_eq!(slow.bots, ROOMS * SLOW_PER_ROOM);
    assert_eq!(
        all.counts.connect_errors, 0,
        "{:?}",
        all.connect_error_reasons
    );
    assert_eq!(all.counts.disconnects, 0, "{:?}", all.disconnects_by_reason);
    for kind in [
        BehaviourKind::Wander,
        BehaviourKind::Chase,
        BehaviourKind::SlowReader,
    ] {
        let g = by(kind);
        assert_eq!(
            g.counts.connections, g.bots as u64,
            "{kind}: one connection per bot"
        );
    }
    let churn = by(BehaviourKind::Churn);
    // A churner is connected, or pausing after a leave, when the run stops.
    assert!(churn.counts.connections >= churn.bots as u64);
    assert!(churn.counts.churn_leaves <= churn.counts.connections);
    assert!(churn.counts.connections <= churn.bots as u64 + churn.counts.churn_leaves);
    // Churners drop their connection like a network blip and come back as
    // themselves with their resume token, well inside the grace period.
    assert!(
        churn.counts.churn_leaves > 0,
        "some churner dropped within the run"
    );
    assert_eq!(
        churn.counts.resumes + churn.counts.resume_misses,
        churn.counts.connections - churn.bots as u64
    );
    assert_eq!(churn.counts.resume_misses, 0, "every reconnect resumed");
    assert!(churn.resume_ms.is_some());

    // Normal bots: ticks strictly increase on every connection, and (nearly)
    // none are missed.
    assert!(normal.counts.snapshots > 0);
    assert_eq!(normal.counts.non_increasing_ticks, 0);
    assert_eq!(normal.counts.connections_with_non_increasing, 0);
    assert_eq!(normal.counts.decode_errors, 0);
    assert!(
        normal.missed_tick_fraction < 0.05,
        "normal bots missed {} of {} ticks",
        normal.counts.missed_ticks,
        normal.counts.snapshots + normal.counts.missed_ticks
    );

    // Inputs were acknowledged by snapshots and measured, one sample per input.
    let latency = normal
        .ack_latency_ms
        .expect("input-to-ack latencies measured");
    assert!(latency.count > 0 && latency.count <= normal.counts.inputs_acked);
    assert!(normal.counts.inputs_acked <= normal.counts.inputs_sent);
    assert!(latency.p50 <= latency.p99 && latency.p99 <= latency.max);

    // Slow readers: still in order, but they lost many ticks: far more than
    // the normal bots, and every one of them saw gaps.
    assert_eq!(slow.counts.non_increasing_ticks, 0);
    assert!(slow.counts.snapshots > 0);
    assert_eq!(
        slow.counts.connections_with_gaps, slow.bots as u64,
        "every slow reader saw gaps"
    );
    assert!(
        slow.missed_tick_fraction > 0.2
            && slow.missed_tick_fraction > 10.0 * normal.missed_tick_fraction,
        "slow readers missed {:.1}% of ticks, normal bots {:.2}%",
        slow.missed_tick_fraction * 100.0,
        normal.missed_tick_fraction * 100.0
    );
}
