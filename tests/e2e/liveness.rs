//! The idle rule (`--idle-timeout`): a joined client the server hears nothing
//! from (no message, ping or pong) is pinged after half the timeout and
//! closed with 1008 "idle timeout" at all of it, its player kept for the
//! resume grace; a client that only answers the server's pings stays; the
//! room's other players play on throughout.

use std::time::Duration;

use futures_util::StreamExt;
use tickroom_protocol::ServerMsg;
use tickroom_server::Config;
use tokio_tungstenite::tungstenite::Message;

use crate::util::{
    Client, join_msg, metric, open, recv, send, start, test_config, wait_metric, within,
};

const IDLE_CLOSED: &str = "tickroom_connections_idle_closed_total";
const IDLE_PINGS: &str = "tickroom_idle_pings_sent_total";
const CLOSED_1008: &str = "tickroom_connections_closed_total{code=\"1008\"}";

/// A short idle timeout; the resume grace and the slow-client rule well
/// beyond it, so neither decides what these tests see.
fn short_idle() -> Config {
    Config {
        idle_timeout: Duration::from_secs(2),
        resume_grace: Duration::from_secs(60),
        slow_client: Duration::from_secs(120),
        ..test_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_is_closed_as_idle_and_its_player_resumes() {
    let server = start(short_idle()).await;
    let addr = server.local_addr();
    let mut other = Client::join(addr, "idle-room", "alive").await;

    // Joins, then neither reads nor writes again (a pulled cable): its
    // socket stays open, with a small receive buffer, and is never polled.
    let mut dead = open(addr, "room=idle-room", Some(2048)).await;
    send(&mut dead, &join_msg("cable")).await;
    let welcome = match recv(&mut dead).await {
        ServerMsg::Welcome(w) => w,
        other => panic!("expected Welcome, got {other:?}"),
    };
    other.wait_players(2).await;

    // The other player reads and sends inputs all along, and keeps getting
    // frames in order while the dead one is found out and closed.
    let mut prev = other.snapshot().await.tick;
    let mut frames = 0u32;
    loop {
        let s = other.snapshot().await;
        assert!(s.tick > prev, "ticks strictly increase");
        prev = s.tick;
        frames += 1;
        if frames.is_multiple_of(4) {
            other.input([0, 0]).await;
            if metric(addr, IDLE_CLOSED).await >= 1.0 {
                break;
            }
        }
        assert!(
            frames < 5000,
            "the dead peer was not closed as idle in {frames} frames"
        );
    }
    assert_eq!(metric(addr, IDLE_CLOSED).await, 1.0, "only the dead peer");
    wait_metric(addr, CLOSED_1008, 1.0).await;
    assert_eq!(metric(addr, CLOSED_1008).await, 1.0, "closed with 1008");
    // Silent for half the timeout before all of it, the dead peer was pinged
    // (whether the ping got out past its full buffers is up to the kernel).
    assert!(metric(addr, IDLE_PINGS).await >= 1.0);

    // Its player waits out the resume grace: its token takes it back.
    let mut back = Client::join_resuming(addr, "idle-room", "cable", &welcome.resume_token).await;
    assert!(back.welcome.resumed, "the idle-closed player resumed");
    assert_eq!(back.player_id, welcome.player_id, "as the same player");
    assert_eq!(back.wait_players(2).await.players.len(), 2);
    // And the room carries on for the other player.
    let tick = other.room_tick().await;
    let mut after = 0;
    while other.snapshot().await.tick <= tick + 1 {
        after += 1;
        assert!(after < 5000, "no frame after tick {tick}");
    }
    drop(dead);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_only_answers_pings_stays_connected() {
    let server = start(Config {
        // Frames keep coming to a client that acknowledges none (it sends
        // nothing at all), so "still receiving frames" means something.
        max_unacked: Duration::ZERO,
        ..short_idle()
    })
    .await;
    let addr = server.local_addr();
    let mut quiet = Client::join(addr, "ping-room", "quiet").await;
    let mut other = Client::join(addr, "ping-room", "talker").await;

    // The quiet client reads everything (tungstenite answers each ping with
    // a pong as it reads) and sends nothing else. Each server ping comes
    // after half the timeout of silence, so six of them span at least three
    // idle timeouts.
    let mut pings = 0u32;
    let mut frames = 0u32;
    let mut reads = 0u32;
    while pings < 6 {
        let msg = within("a frame or ping for the quiet client", quiet.ws.next())
            .await
            .expect("the quiet client's stream is open")
            .expect("no WebSocket error on the quiet client");
        match msg {
            Message::Ping(_) => pings += 1,
            Message::Binary(_) => frames += 1,
            Message::Close(frame) => panic!("the quiet client was closed: {frame:?}"),
            _ => {}
        }
        reads += 1;
        assert!(reads < 20_000, "only {pings} pings in {reads} messages");
        // The other player, in the same room, plays on meanwhile.
        if reads.is_multiple_of(8) {
            other.input([0, 0]).await;
            other.snapshot().await;
        }
    }
    assert!(frames > 0, "the quiet client got frames between the pings");
    // Still receiving frames, several idle timeouts later (read raw, like
    // the loop above: the replica missed those frames).
    let mut later = 0u32;
    loop {
        match recv(&mut quiet.ws).await {
            ServerMsg::State(_) => break,
            _ => later += 1,
        }
        assert!(later < 1000, "no frame after the pings");
    }
    assert_eq!(
        metric(addr, IDLE_CLOSED).await,
        0.0,
        "nobody was idle-closed"
    );
    assert!(metric(addr, IDLE_PINGS).await >= 6.0);
    assert!(other.snapshot().await.tick > 0);
    server.shutdown().await;
}
