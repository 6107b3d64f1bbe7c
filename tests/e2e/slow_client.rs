//! A slow player never hurts a room: its stale frames are dropped and counted,
//! everyone else keeps getting every tick, and a client that makes no progress
//! at all is closed with 1008 "too slow".

use tickroom_server::Config;

use crate::util::{Client, join_msg, metric, open, send, start, test_config, wait_metric};

const STALE: &str = "tickroom_frames_dropped_total{reason=\"stale\"}";

/// A server whose per-socket buffers are small, ticking fast, so a reader that
/// stops backs up within a second or two instead of after megabytes.
fn backs_up_fast() -> Config {
    Config {
        tick_rate: 100,
        tcp_send_buffer: Some(4096),
        ..test_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_does_not_cost_others_any_snapshots() {
    let server = start(Config {
        slow_client_secs: 120.0,
        ..backs_up_fast()
    })
    .await;
    let addr = server.local_addr();
    let mut normal = vec![
        Client::join(addr, "slow-room", "n1").await,
        Client::join(addr, "slow-room", "n2").await,
    ];
    // The slow client joins, then never reads again.
    let mut slow = open(addr, "room=slow-room", Some(2048)).await;
    send(&mut slow, &join_msg("sloth")).await;
    for c in &mut normal {
        c.wait_players(3).await;
    }

    let before = metric(addr, STALE).await;
    let mut missed = [0u32; 2];
    let mut received = [0u32; 2];
    let mut prev = [None::<u32>; 2];
    // Read until the slow client has lost many frames (its buffers are full),
    // and at least 300 ticks (3 s at 100 Hz) have passed for the others.
    loop {
        for (i, c) in normal.iter_mut().enumerate() {
            let s = c.snapshot().await;
            assert_eq!(s.players.len(), 3, "the slow player is still in the room");
            if let Some(p) = prev[i] {
                assert!(s.tick > p, "ticks strictly increase");
                missed[i] += s.tick - p - 1;
            }
            prev[i] = Some(s.tick);
            received[i] += 1;
        }
        if received[0] >= 300 && metric(addr, STALE).await - before >= 50.0 {
            break;
        }
        assert!(received[0] < 3000, "the slow client never backed up");
    }
    let stale = metric(addr, STALE).await - before;
    for (i, m) in missed.iter().enumerate() {
        // Normal readers keep up: at most a stray frame lost to scheduling noise on a busy machine.
        assert!(
            *m * 100 <= received[i],
            "normal client {i} missed {m} of {} ticks",
            received[i]
        );
    }
    assert!(
        stale >= 50.0,
        "the slow client's stale frames were dropped and counted ({stale})"
    );
    drop(slow);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_write_progress_is_closed_as_too_slow() {
    let server = start(Config {
        slow_client_secs: 0.5,
        ..backs_up_fast()
    })
    .await;
    let addr = server.local_addr();
    let mut normal = Client::join(addr, "stall", "ok").await;
    let mut slow = open(addr, "room=stall", Some(2048)).await;
    send(&mut slow, &join_msg("stuck")).await;

    let closed = wait_metric(
        addr,
        "tickroom_connections_closed_total{code=\"1008\"}",
        1.0,
    )
    .await;
    assert_eq!(closed, 1.0, "the stalled client was closed with 1008");
    // The room dropped the player and carries on.
    let mut players = 0;
    for _ in 0..200 {
        players = normal.snapshot().await.players.len();
        if players == 1 {
            break;
        }
    }
    assert_eq!(players, 1, "the stalled player left the room");
    drop(slow);
    server.shutdown().await;
}
