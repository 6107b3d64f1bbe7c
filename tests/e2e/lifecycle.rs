//! Room capacity, room expiry, draining on shutdown, and the HTTP endpoints.

use std::time::Duration;

use tickroom_server::Config;

use crate::util::{
    Client, eventually, expect_close, http_get, join_msg, metric, open, send, start, test_config,
    wait_metric,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_refuses_with_1013_and_the_others_play_on() {
    let server = start(Config {
        room_capacity: 2,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut a = Client::join(addr, "small", "a").await;
    let _b = Client::join(addr, "small", "b").await;
    let mut c = open(addr, "room=small", None).await;
    send(&mut c, &join_msg("c")).await;
    let (code, reason) = expect_close(&mut c).await;
    assert_eq!((code, reason.as_str()), (1013, "room full"));
    // Another room is not affected by this one's capacity.
    let _d = Client::join(addr, "other", "d").await;
    let s = a.wait_players(2).await;
    assert!(s.players.iter().any(|p| p.id == a.player_id));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_every_client_with_1001_and_stops_accepting() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut clients = vec![
        Client::join(addr, "d1", "x").await,
        Client::join(addr, "d1", "y").await,
        Client::join(addr, "d2", "z").await,
    ];
    let mut waiting = open(addr, "room=d3", None).await; // connected, not joined yet
    for c in &mut clients {
        c.snapshot().await;
    }
    let stopping = tokio::spawn(server.shutdown());
    for c in &mut clients {
        let (code, reason) = expect_close(&mut c.ws).await;
        assert_eq!((code, reason.as_str()), (1001, "going away"));
    }
    let (code, _) = expect_close(&mut waiting).await;
    assert_eq!(code, 1001);
    stopping.await.expect("shutdown completes");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the port no longer accepts connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_room_closes_after_the_idle_timeout() {
    let server = start(Config {
        room_idle: Duration::from_millis(200),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut c = Client::join(addr, "brief", "b").await;
    assert_eq!(wait_metric(addr, "tickroom_rooms", 1.0).await, 1.0);
    // Leave (a dropped connection would keep the player for the resume grace).
    send(&mut c.ws, &tickroom_protocol::ClientMsg::Leave).await;
    drop(c);
    eventually("the empty room to close", || async {
        let rooms = metric(addr, "tickroom_rooms").await;
        if rooms == 0.0 { Ok(()) } else { Err(rooms) }
    })
    .await;
    assert_eq!(metric(addr, "tickroom_players").await, 0.0);
    // The id can be used again: a new room is created on the next join.
    let mut again = Client::join(addr, "brief", "again").await;
    assert_eq!(again.player_id, 1, "a fresh room numbers players from 1");
    again.snapshot().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_endpoints_answer_and_metrics_cover_the_data_path() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut c = Client::join(addr, "m", "m").await;
    for _ in 0..5 {
        c.input([10, 0]).await;
        c.snapshot().await;
    }
    // Acknowledged means received (and counted) by the server.
    c.wait_acked(c.seq).await;
    let (status, body) = http_get(addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, body) = http_get(addr, "/ws?room=x").await;
    assert_eq!(status, 426, "a plain GET on /ws asks for an upgrade");
    assert!(body.contains("\"code\":\"websocket_required\""), "{body}");
    let (status, body) = http_get(addr, "/ws?room=no%20spaces").await;
    assert_eq!(status, 400);
    assert!(body.contains("bad_room_id"), "{body}");

    let (_, text) = http_get(addr, "/metrics").await;
    for name in [
        "tickroom_tick_duration_seconds_bucket",
        "tickroom_tick_lateness_seconds_bucket",
        "tickroom_ticks_total",
        "tickroom_ticks_overrun_total",
        "tickroom_inputs_received_total",
        "tickroom_inputs_dropped_total{reason=\"queue_full\"}",
        "tickroom_snapshots_sent_total",
        "tickroom_frames_dropped_total{reason=\"stale\"}",
        "tickroom_bytes_sent_total",
        "tickroom_bytes_received_total",
        "tickroom_connections 1",
        "tickroom_rooms 1",
        "tickroom_players 1",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}");
    }
    assert!(metric(addr, "tickroom_inputs_received_total").await >= 5.0);
    assert!(metric(addr, "tickroom_snapshots_sent_total").await >= 5.0);
    server.shutdown().await;
}
