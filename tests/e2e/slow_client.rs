//! A slow player never hurts a room: its stale frames are dropped and counted,
//! everyone else keeps getting frames in order, and a client that makes no
//! progress at all is closed with 1008 "too slow".

use std::time::Duration;

use tickroom_server::Config;

use crate::util::{Client, join_msg, metric, open, send, start, test_config};

const STALE: &str = "tickroom_frames_dropped_total{reason=\"stale\"}";
const CLOSED_1008: &str = "tickroom_connections_closed_total{code=\"1008\"}";

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
async fn a_reader_that_stops_loses_stale_frames_while_the_others_play_on() {
    let server = start(Config {
        slow_client: Duration::from_secs(120),
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
    // and at least 300 ticks have reached the others.
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
    // The normal readers kept getting frames all along. How many ticks they
    // missed is up to the machine (a starved one drops some of theirs as
    // stale too), so it is shown, not asserted.
    println!("normal clients received {received:?} frames and missed {missed:?} ticks");
    let stale = metric(addr, STALE).await - before;
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
        slow_client: Duration::from_millis(500),
        ..backs_up_fast()
    })
    .await;
    let addr = server.local_addr();
    let mut normal = Client::join(addr, "stall", "ok").await;
    let mut slow = open(addr, "room=stall", Some(2048)).await;
    send(&mut slow, &join_msg("stuck")).await;

    // Keep the normal client reading while waiting: a reader that stops is
    // what this test is about, not what it should do itself.
    let mut prev = normal.snapshot().await.tick;
    let mut frames = 0;
    loop {
        let s = normal.snapshot().await;
        assert!(s.tick > prev, "ticks strictly increase");
        prev = s.tick;
        frames += 1;
        if metric(addr, CLOSED_1008).await >= 1.0 {
            break;
        }
        assert!(
            frames < 5000,
            "the stalled client was not closed with 1008 in {frames} frames"
        );
    }
    assert_eq!(
        metric(addr, CLOSED_1008).await,
        1.0,
        "the stalled client, and only it, was closed with 1008"
    );
    // The room carries on for the others: frames built after the close keep
    // coming. (The stalled player itself waits out its resume grace: a
    // connection closed as too slow may come back with its token.)
    let tick = normal.room_tick().await;
    let mut frames = 0;
    while normal.snapshot().await.tick <= tick + 1 {
        frames += 1;
        assert!(frames < 5000, "no frame after tick {tick}");
    }
    drop(slow);
    server.shutdown().await;
}
