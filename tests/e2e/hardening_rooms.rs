//! Limits on starting rooms and the API token, against a real server:
//! `--max-rooms` (API 503 `too_many_rooms`, WebSocket 1013 "too many rooms",
//! live rooms unaffected), `--room-creations-per-ip` with `--limit-loopback`
//! (429 `too_many_room_creations`, WebSocket 1008 "too many new rooms";
//! loopback exempt without it), `--api-token` on the room API's writes and,
//! with `--api-token-for-reads`, its reads; every refusal counted.

use std::net::SocketAddr;

use serde_json::Value;
use tickroom_server::Config;

use crate::util::{Client, expect_close, join_msg, metric, open, send, start, test_config};

const TOKEN: &str = "api-token-0123456789abcdef";

/// An HTTP answer: status, headers (names lower-cased) and the body as JSON
/// (`Value::Null` when empty or not JSON).
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Answer {
    /// Asserts a JSON error with this status and code, and a message.
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["code"].as_str()),
            (status, Some(code)),
            "{}",
            self.body
        );
        assert!(
            self.body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `method path` with a JSON `body` and, if given, `Authorization: Bearer <token>`.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let mut extra = format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        extra.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let (status, headers, bytes) = crate::util::request(addr, method, path, &extra, body).await;
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Opens `/ws?room={room}`, sends Join and returns the server's close.
async fn refused_join(addr: SocketAddr, room: &str) -> (u16, String) {
    let mut ws = open(addr, &format!("room={room}"), None).await;
    send(&mut ws, &join_msg("refused")).await;
    expect_close(&mut ws).await
}

const MAX_ROOMS: &str = r#"tickroom_rooms_refused_total{reason="max_rooms"}"#;
const CREATION_RATE: &str = r#"tickroom_rooms_refused_total{reason="creation_rate"}"#;
const UNAUTHORIZED: &str = "tickroom_api_unauthorized_total";

#[tokio::test]
async fn max_rooms_refuses_new_rooms_while_live_rooms_keep_working() {
    let server = start(Config {
        max_rooms: 2,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut first = Client::join(addr, "one", "first").await;
    let created = call(addr, "POST", "/rooms", None, r#"{"id":"two"}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);

    // A third room, by any path, is refused.
    call(addr, "POST", "/rooms", None, r#"{"id":"three"}"#)
        .await
        .assert_error(503, "too_many_rooms");
    let filter = r#"{"metadata":{"mode":"new"}}"#;
    call(addr, "POST", "/matchmake", None, filter)
        .await
        .assert_error(503, "too_many_rooms");
    assert_eq!(
        refused_join(addr, "three").await,
        (1013, "too many rooms".to_owned())
    );

    // The live rooms still take players, tickets and matchmaking.
    let mut second = Client::join(addr, "one", "second").await;
    first.wait_players(2).await;
    second.wait_players(2).await;
    let ticket = call(addr, "POST", "/rooms/two/join", None, "").await;
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let matched = call(addr, "POST", "/matchmake", None, "").await;
    assert_eq!(matched.status, 200, "{}", matched.body);
    assert_eq!(metric(addr, MAX_ROOMS).await, 3.0);
    assert_eq!(metric(addr, CREATION_RATE).await, 0.0);
    server.shutdown().await;
}

#[tokio::test]
async fn room_creations_per_address_are_limited_with_limit_loopback() {
    // Two per minute: a refill (30 s) never comes within the test.
    let server = start(Config {
        room_creations_per_ip: 2,
        limit_loopback: true,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let created = call(addr, "POST", "/rooms", None, r#"{"id":"mine"}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let filter = r#"{"metadata":{"mode":"a"}}"#;
    let matched = call(addr, "POST", "/matchmake", None, filter).await;
    assert_eq!(matched.status, 200, "{}", matched.body);

    // The third new room is refused on every path.
    call(addr, "POST", "/rooms", None, "")
        .await
        .assert_error(429, "too_many_room_creations");
    call(
        addr,
        "POST",
        "/matchmake",
        None,
        r#"{"metadata":{"mode":"b"}}"#,
    )
    .await
    .assert_error(429, "too_many_room_creations");
    assert_eq!(
        refused_join(addr, "fresh").await,
        (1008, "too many new rooms".to_owned())
    );
    // What starts no room is not limited: a taken id, a seat, a join.
    call(addr, "POST", "/rooms", None, r#"{"id":"mine"}"#)
        .await
        .assert_error(409, "room_exists");
    let seat = call(addr, "POST", "/matchmake", None, filter).await;
    assert_eq!(seat.status, 200, "{}", seat.body);
    assert_eq!(seat.body["room"], matched.body["room"]);
    let mut player = Client::join(addr, "mine", "player").await;
    player.wait_players(1).await;
    assert_eq!(metric(addr, CREATION_RATE).await, 3.0);
    server.shutdown().await;
}

#[tokio::test]
async fn loopback_is_exempt_without_limit_loopback() {
    let server = start(Config {
        room_creations_per_ip: 1,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    for _ in 0..3 {
        let created = call(addr, "POST", "/rooms", None, "").await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let mut player = Client::join(addr, "by-join", "p").await;
    player.wait_players(1).await;
    assert_eq!(metric(addr, CREATION_RATE).await, 0.0);
    server.shutdown().await;
}

/// Asserts that `method path` is refused without the token (401 with
/// `WWW-Authenticate: Bearer`) and with a wrong one (403), and returns the
/// answer with the token.
async fn gated(addr: SocketAddr, method: &str, path: &str, body: &str) -> Answer {
    let none = call(addr, method, path, None, body).await;
    none.assert_error(401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"), "{path}");
    call(addr, method, path, Some("not-the-token-0123456789"), body)
        .await
        .assert_error(403, "forbidden");
    call(addr, method, path, Some(TOKEN), body).await
}

#[tokio::test]
async fn the_api_token_gates_writes_and_reads_stay_open() {
    let server = start(Config {
        api_token: Some(TOKEN.parse().expect("token")),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let created = gated(addr, "POST", "/rooms", r#"{"id":"gated"}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let ticket = gated(addr, "POST", "/rooms/gated/join", "").await;
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let matched = gated(addr, "POST", "/matchmake", "").await;
    assert_eq!(matched.status, 200, "{}", matched.body);
    // Reads need no token.
    let list = call(addr, "GET", "/rooms", None, "").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let room = call(addr, "GET", "/rooms/gated", None, "").await;
    assert_eq!(room.status, 200, "{}", room.body);
    assert_eq!(metric(addr, UNAUTHORIZED).await, 6.0);
    server.shutdown().await;
}

#[tokio::test]
async fn api_token_for_reads_gates_the_reads_too() {
    let server = start(Config {
        api_token: Some(TOKEN.parse().expect("token")),
        api_token_for_reads: true,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let list = gated(addr, "GET", "/rooms", "").await;
    assert_eq!(list.status, 200, "{}", list.body);
    gated(addr, "GET", "/rooms/nowhere", "")
        .await
        .assert_error(404, "room_not_found");
    let created = call(addr, "POST", "/rooms", Some(TOKEN), r#"{"id":"r"}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let room = call(addr, "GET", "/rooms/r", Some(TOKEN), "").await;
    assert_eq!(room.status, 200, "{}", room.body);
    // The rest of the port stays open: health, metrics, the demo client.
    let (status, _) = crate::util::http_get(addr, "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(metric(addr, UNAUTHORIZED).await, 4.0);
    server.shutdown().await;
}
