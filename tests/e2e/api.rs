//! The room API and join tickets against a real server: every endpoint's
//! success and error bodies, rooms of a game with a config, quick-match filling rooms (reservations counted
//! before anyone joins), and tickets at the WebSocket upgrade (single use,
//! expiry, bound to a room, forged, `--auth required`).

use std::{collections::BTreeSet, net::SocketAddr, time::Duration};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tickroom_protocol::{self as proto, ServerMsg};
use tickroom_server::{Config, config::AuthMode};
use tickroom_sim::ArenaConfig;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Error as WsError, Message},
};

use crate::util::{Ws, eventually, join_msg, open, send, start, test_config, within};

/// One HTTP/1.1 request with a JSON body; returns the status and the body
/// parsed as JSON (`Value::Null` when empty or not JSON).
async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let body = body.unwrap_or("");
    let extra = format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    let (status, _, bytes) = crate::util::request(addr, method, path, &extra, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    request(addr, "GET", path, None).await
}

async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, Value) {
    request(addr, "POST", path, Some(body)).await
}

/// Asserts a JSON error: status and stable code, with a message.
#[track_caller]
fn assert_error((status, body): &(u16, Value), want_status: u16, want_code: &str) {
    assert_eq!(
        (*status, body["code"].as_str()),
        (want_status, Some(want_code)),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A ticket for `room` from `POST /rooms/{room}/join`.
async fn ticket_for(addr: SocketAddr, room: &str) -> String {
    let (status, body) = post(addr, &format!("/rooms/{room}/join"), "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room"], room);
    body["ticket"].as_str().expect("ticket").to_owned()
}

/// Opens `/ws?{query}` and sends Join: the Welcome and the open socket, or the
/// close code and reason the server answered with.
async fn try_join(addr: SocketAddr, query: &str) -> Result<(Ws, proto::Welcome), (u16, String)> {
    let mut ws = open(addr, query, None).await;
    send(&mut ws, &join_msg("api")).await;
    let answer = within("a Welcome or a close", async {
        loop {
            let msg = ws
                .next()
                .await
                .expect("stream open")
                .expect("no WebSocket error");
            match msg {
                Message::Binary(b) => match proto::decode_server(&b).expect("decodes") {
                    ServerMsg::Welcome(w) => return Ok(w),
                    other => panic!("expected Welcome, got {other:?}"),
                },
                Message::Close(Some(frame)) => {
                    return Err((u16::from(frame.code), frame.reason.to_string()));
                }
                Message::Close(None) => return Err((1005, String::new())),
                _ => {}
            }
        }
    })
    .await;
    answer.map(|welcome| (ws, welcome))
}

/// Joins with `ticket` into `room`; panics unless welcomed there.
async fn join_with(addr: SocketAddr, room: &str, ticket: &str) -> Ws {
    match try_join(addr, &format!("room={room}&ticket={ticket}")).await {
        Ok((ws, welcome)) => {
            assert_eq!(welcome.room, room);
            ws
        }
        Err(close) => panic!("refused: {close:?}"),
    }
}

/// The close a join with `ticket` into `room` gets; panics if welcomed.
async fn refused(addr: SocketAddr, room: &str, ticket: &str) -> (u16, String) {
    match try_join(addr, &format!("room={room}&ticket={ticket}")).await {
        Ok(_) => panic!("welcomed with a ticket that should be refused"),
        Err(close) => close,
    }
}

fn secret(s: &str) -> Option<tickroom_server::config::Secret> {
    Some(s.parse().expect("any string is a secret"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_created_listed_and_shown() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let (status, body) = get(addr, "/rooms").await;
    assert_eq!((status, body), (200, json!({ "rooms": [] })));

    // All defaults: generated id, the server's capacity, public, no metadata.
    let (status, made) = post(addr, "/rooms", "").await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("r-"), "{id}");
    assert_eq!(
        (&made["capacity"], &made["public"], &made["metadata"]),
        (&json!(50), &json!(true), &json!({}))
    );
    assert_eq!(
        (&made["players"], &made["reserved"]),
        (&json!(0), &json!(0))
    );
    assert!(made["age"].is_u64(), "{made}");

    // Every option, private.
    let options =
        r#"{"id":"arena","capacity":4,"public":false,"metadata":{"mode":"duel","map":{"size":3}}}"#;
    let (status, arena) = post(addr, "/rooms", options).await;
    assert_eq!(status, 201, "{arena}");
    assert_eq!(
        (&arena["id"], &arena["capacity"], &arena["public"]),
        (&json!("arena"), &json!(4), &json!(false))
    );
    assert_eq!(
        arena["metadata"],
        json!({ "mode": "duel", "map": { "size": 3 } })
    );

    // Listed: public rooms only. Shown: any room by id.
    let (_, list) = get(addr, "/rooms").await;
    let ids: Vec<&str> = list["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let (status, shown) = get(addr, "/rooms/arena").await;
    assert_eq!((status, &shown["metadata"]["mode"]), (200, &json!("duel")));

    assert_error(&get(addr, "/rooms/nowhere").await, 404, "room_not_found");
    assert_error(
        &post(addr, "/rooms", r#"{"id":"arena"}"#).await,
        409,
        "room_exists",
    );
    assert_error(
        &post(addr, "/rooms", &format!(r#"{{"id":"{id}"}}"#)).await,
        409,
        "room_exists",
    );
    // A room made by a plain WebSocket join exists too.
    let (_ws, _) = try_join(addr, "room=walkin").await.expect("anonymous join");
    assert_error(
        &post(addr, "/rooms", r#"{"id":"walkin"}"#).await,
        409,
        "room_exists",
    );
    let (status, walkin) = get(addr, "/rooms/walkin").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&walkin["capacity"], &walkin["public"], &walkin["metadata"]),
        (&json!(50), &json!(true), &json!({}))
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_stable_json_errors() {
    let server = start(Config {
        max_room_capacity: 100,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    for bad_json in ["{", "{\"capacity\": }", "nope"] {
        assert_error(&post(addr, "/rooms", bad_json).await, 400, "bad_json");
        assert_error(&post(addr, "/matchmake", bad_json).await, 400, "bad_json");
    }
    for (body, code) in [
        ("[1, 2]", "invalid_body"),
        (r#"{"capacity": 0}"#, "invalid_capacity"),
        (r#"{"capacity": 101}"#, "invalid_capacity"),
        (r#"{"capacity": -1}"#, "invalid_capacity"),
        (r#"{"capacity": 2.5}"#, "invalid_capacity"),
        (r#"{"capacity": "4"}"#, "invalid_capacity"),
        (r#"{"metadata": [1]}"#, "invalid_metadata"),
        (r#"{"metadata": "x"}"#, "invalid_metadata"),
        (r#"{"id": "has space"}"#, "invalid_id"),
        (r#"{"id": ""}"#, "invalid_id"),
        (r#"{"id": 7}"#, "invalid_id"),
        (r#"{"public": "yes"}"#, "invalid_public"),
        (r#"{"capacty": 4}"#, "unknown_field"),
    ] {
        assert_error(&post(addr, "/rooms", body).await, 422, code);
    }
    // Metadata is limited to 4 KiB of JSON; the whole body to 16 KiB.
    let big = format!(r#"{{"metadata": {{"blob": "{}"}}}}"#, "x".repeat(4200));
    assert_error(&post(addr, "/rooms", &big).await, 422, "invalid_metadata");
    assert_error(
        &post(addr, "/matchmake", &big).await,
        422,
        "invalid_metadata",
    );
    let huge = format!(r#"{{"metadata": {{"blob": "{}"}}}}"#, "x".repeat(20_000));
    assert_error(&post(addr, "/rooms", &huge).await, 413, "body_too_large");
    assert_error(
        &post(addr, "/matchmake", r#"{"mode": 1}"#).await,
        422,
        "unknown_field",
    );
    // The largest capacity is allowed.
    let (status, body) = post(addr, "/rooms", r#"{"capacity": 100}"#).await;
    assert_eq!(status, 201, "{body}");
    // Unknown rooms and wrong methods.
    assert_error(
        &post(addr, "/rooms/nowhere/join", "").await,
        404,
        "room_not_found",
    );
    assert_error(
        &post(addr, "/rooms/bad%20id/join", "").await,
        404,
        "room_not_found",
    );
    assert_error(
        &request(addr, "DELETE", "/rooms", None).await,
        405,
        "method_not_allowed",
    );
    // Nothing was created by the failed requests.
    let (_, list) = get(addr, "/rooms").await;
    assert_eq!(list["rooms"].as_array().map(Vec::len), Some(1));
    server.shutdown().await;
}

/// The arena config in a room's JSON (or a Welcome): every field there,
/// read back as the game reads it.
#[track_caller]
fn full_arena_config(v: &Value) -> ArenaConfig {
    let fields = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .unwrap_or_else(|| panic!("a config object: {v}"))
            .keys()
            .cloned()
            .collect()
    };
    let all = serde_json::to_value(ArenaConfig::default()).expect("the config serializes");
    assert_eq!(fields(v), fields(&all), "every field of the config: {v}");
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("an arena config ({e}): {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_know_their_game_and_its_config() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    // No game, no config: the default game (the arena) with its defaults.
    let (status, plain) = post(addr, "/rooms", r#"{"id":"plain"}"#).await;
    assert_eq!(status, 201, "{plain}");
    assert_eq!(plain["game"], "arena", "{plain}");
    assert_eq!(full_arena_config(&plain["config"]), ArenaConfig::default());

    // A game by name and part of a config: the rest are the game's defaults.
    let small = ArenaConfig {
        width: 800.0,
        pellet_count: 10,
        ..ArenaConfig::default()
    };
    let body = r#"{"id":"small","game":"arena","config":{"width":800,"pellet_count":10}}"#;
    let (status, made) = post(addr, "/rooms", body).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["game"], "arena", "{made}");
    assert_eq!(full_arena_config(&made["config"]), small);
    // Shown and listed with both.
    let (status, shown) = get(addr, "/rooms/small").await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["game"], "arena", "{shown}");
    assert_eq!(full_arena_config(&shown["config"]), small);
    let (_, list) = get(addr, "/rooms").await;
    let listed = list["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["id"] == "small")
        .unwrap_or_else(|| panic!("small is listed: {list}"));
    assert_eq!(listed["game"], "arena", "{list}");
    assert_eq!(full_arena_config(&listed["config"]), small);

    // Its players are told the game and the config the room runs.
    let (_ws, welcome) = try_join(addr, "room=small").await.expect("joins small");
    assert_eq!(welcome.game, "arena");
    let told: Value = serde_json::from_str(&welcome.config).expect("the Welcome's config is JSON");
    assert_eq!(full_arena_config(&told), small);
    // And it runs it: 10 pellet slots (a player may have eaten some: a
    // pellet respawns later) in an 800-wide arena.
    let mut c = crate::util::Client::join(addr, "small", "looker").await;
    let frame = c.snapshot().await;
    assert!(!frame.pellets.is_empty(), "{frame:?}");
    assert!(
        frame
            .pellets
            .iter()
            .all(|p| p.slot < 10 && p.pos.x <= 800.0),
        "{frame:?}"
    );

    // A room made by a join with `&game=` is of that game, with its defaults.
    let (_walkin, welcome) = try_join(addr, "room=walkin&game=arena")
        .await
        .expect("joins");
    assert_eq!(welcome.game, "arena");
    let (_, walkin) = get(addr, "/rooms/walkin").await;
    assert_eq!(walkin["game"], "arena", "{walkin}");
    assert_eq!(full_arena_config(&walkin["config"]), ArenaConfig::default());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_game_or_a_bad_config_is_a_400_naming_what_is_wrong() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let unknown = post(addr, "/rooms", r#"{"game":"nope"}"#).await;
    assert_error(&unknown, 400, "unknown_game");
    let message = unknown.1["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("nope") && message.contains("arena"),
        "names the game asked for and the games hosted: {message}"
    );
    for (config, field) in [
        (r#"{"width":-1}"#, "width"),
        (r#"{"player_radius":0}"#, "player_radius"),
        (r#"{"widht":800}"#, "widht"),
    ] {
        let body = format!(r#"{{"config":{config}}}"#);
        let bad = post(addr, "/rooms", &body).await;
        assert_error(&bad, 400, "invalid_config");
        let message = bad.1["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "{body}: names `{field}`: {message}"
        );
    }
    // Nothing was created by the failed requests.
    let (_, list) = get(addr, "/rooms").await;
    assert_eq!(list, json!({ "rooms": [] }));

    // A WebSocket join naming an unknown game is answered before the
    // upgrade: a 400 with the same JSON error, and no room.
    let url = format!("ws://{addr}/ws?room=x&game=nope");
    let answer = within("the answer to the upgrade", connect_async(url.as_str())).await;
    let Err(WsError::Http(response)) = answer else {
        panic!("the upgrade must be refused with an HTTP answer, got {answer:?}");
    };
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default())
        .expect("a JSON error body");
    assert_error(&(response.status().as_u16(), body), 400, "unknown_game");
    assert_error(&get(addr, "/rooms/x").await, 404, "room_not_found");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_match_fills_a_room_before_opening_another() {
    let server = start(Config {
        room_capacity: 2,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut rooms = Vec::new();
    for _ in 0..3 {
        let (status, body) = post(addr, "/matchmake", "").await;
        assert_eq!(status, 200, "{body}");
        rooms.push(body["room"].as_str().expect("room").to_owned());
    }
    assert_eq!(rooms[0], rooms[1], "the second player fills the first room");
    assert_ne!(rooms[0], rooms[2], "the third opens another room");
    // Nobody joined: the two seats are held by reservations.
    let (_, first) = get(addr, &format!("/rooms/{}", rooms[0])).await;
    assert_eq!(
        (&first["players"], &first["reserved"]),
        (&json!(0), &json!(2))
    );
    assert_error(
        &post(addr, &format!("/rooms/{}/join", rooms[0]), "").await,
        409,
        "room_full",
    );
    // The half-full second room is the next match.
    let (_, fourth) = post(addr, "/matchmake", "{}").await;
    assert_eq!(fourth["room"], rooms[2].as_str());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_match_prefers_the_fullest_public_room() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    for options in [
        r#"{"id":"emptyish","capacity":4}"#,
        r#"{"id":"busy","capacity":4}"#,
        r#"{"id":"private","capacity":4,"public":false}"#,
    ] {
        assert_eq!(post(addr, "/rooms", options).await.0, 201);
    }
    let _p1 = ticket_for(addr, "emptyish").await;
    for _ in 0..2 {
        ticket_for(addr, "busy").await;
    }
    for _ in 0..3 {
        ticket_for(addr, "private").await;
    }
    let (_, matched) = post(addr, "/matchmake", "").await;
    assert_eq!(matched["room"], "busy");
    // A metadata filter only matches rooms with those values, and a new room gets them.
    let (status, _) = post(
        addr,
        "/rooms",
        r#"{"id":"duel-1","capacity":2,"metadata":{"mode":"duel"}}"#,
    )
    .await;
    assert_eq!(status, 201);
    let filter = r#"{"metadata":{"mode":"duel"}}"#;
    let (_, a) = post(addr, "/matchmake", filter).await;
    let (_, b) = post(addr, "/matchmake", filter).await;
    let (_, c) = post(addr, "/matchmake", filter).await;
    assert_eq!(
        (&a["room"], &b["room"]),
        (&json!("duel-1"), &json!("duel-1"))
    );
    let opened = c["room"].as_str().expect("room");
    assert!(opened.starts_with("r-"), "{opened}");
    let (_, room) = get(addr, &format!("/rooms/{opened}")).await;
    assert_eq!(room["metadata"], json!({ "mode": "duel" }));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matchmade_ticket_joins_through_its_ws_url() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let (status, body) = post(addr, "/matchmake", "").await;
    assert_eq!(status, 200, "{body}");
    let room = body["room"].as_str().expect("room");
    let ticket = body["ticket"].as_str().expect("ticket");
    assert_eq!(body["expires_in"], json!(30.0));
    let ws_url = body["ws_url"].as_str().expect("ws_url");
    assert_eq!(
        ws_url,
        format!("ws://{addr}/ws?room={room}&ticket={ticket}")
    );
    let query = ws_url
        .strip_prefix(&format!("ws://{addr}/ws?"))
        .expect("ws_url on the Host asked");
    let (ws, welcome) = try_join(addr, query).await.expect("welcomed");
    assert_eq!(welcome.room, room);
    // The player is listed; the seat is no longer a reservation.
    let entry = eventually("the player to be listed", || async {
        let (_, list) = get(addr, "/rooms").await;
        let entry = list["rooms"][0].clone();
        if entry["players"] == json!(1) {
            Ok(entry)
        } else {
            Err(list)
        }
    })
    .await;
    assert_eq!(
        (&entry["id"], &entry["reserved"]),
        (&json!(room), &json!(0))
    );
    drop(ws);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_works_once_and_only_for_its_room() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    for id in ["one", "two"] {
        assert_eq!(
            post(addr, "/rooms", &format!(r#"{{"id":"{id}"}}"#)).await.0,
            201
        );
    }
    let ticket = ticket_for(addr, "one").await;
    assert_eq!(
        refused(addr, "two", &ticket).await,
        (1008, "ticket is for another room".to_owned())
    );
    // Refused elsewhere, it is still good for its own room, once.
    let _ws = join_with(addr, "one", &ticket).await;
    assert_eq!(
        refused(addr, "one", &ticket).await,
        (1008, "ticket already used".to_owned())
    );
    assert!(
        crate::util::metric(addr, "tickroom_connections_closed_total{code=\"1008\"}").await >= 2.0
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_expires() {
    let server = start(Config {
        ticket_ttl: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    assert_eq!(post(addr, "/rooms", r#"{"id":"brief"}"#).await.0, 201);
    let ticket = ticket_for(addr, "brief").await;
    // Not a race: the ticket was issued before it reached us, so after this
    // it is older than its 0.3 s however slow the machine.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        refused(addr, "brief", &ticket).await,
        (1008, "ticket expired".to_owned())
    );
    // Its reservation expired with it.
    let (_, room) = get(addr, "/rooms/brief").await;
    assert_eq!(room["reserved"], json!(0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tickets_are_refused_and_a_shared_secret_works_across_nodes() {
    let shared_secret = "a secret both nodes know, 32 bytes";
    let a = start(Config {
        secret: secret(shared_secret),
        ..test_config()
    })
    .await;
    let b = start(Config {
        secret: secret(shared_secret),
        ..test_config()
    })
    .await;
    let other = start(Config {
        secret: secret("some other secret of 30 bytes."),
        ..test_config()
    })
    .await;
    let (addr_a, addr_b, addr_other) = (a.local_addr(), b.local_addr(), other.local_addr());
    assert_eq!(post(addr_a, "/rooms", r#"{"id":"shared"}"#).await.0, 201);

    // Flip one character of the payload, then of the tag.
    let ticket = ticket_for(addr_a, "shared").await;
    let flip = |i: usize| {
        let mut t = ticket.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).expect("ascii")
    };
    for forged in [
        flip(2),
        flip(ticket.len() - 2),
        "garbage".to_owned(),
        String::new(),
    ] {
        assert_eq!(
            refused(addr_a, "shared", &forged).await,
            (1008, "invalid ticket".to_owned())
        );
    }
    // Another secret does not verify it; the same secret on another node does.
    assert_eq!(
        refused(addr_other, "shared", &ticket).await,
        (1008, "invalid ticket".to_owned())
    );
    let _ws = join_with(addr_b, "shared", &ticket).await;
    for s in [a, b, other] {
        s.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_required_only_a_ticket_joins() {
    let server = start(Config {
        auth: AuthMode::Required,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let refusal = try_join(addr, "room=lobby").await.err();
    assert_eq!(refusal, Some((1008, "ticket required".to_owned())));
    let (status, body) = post(addr, "/matchmake", "").await;
    assert_eq!(status, 200, "{body}");
    let room = body["room"].as_str().expect("room");
    let ticket = body["ticket"].as_str().expect("ticket");
    let (ws, welcome) = match try_join(addr, &format!("room={room}&ticket={ticket}")).await {
        Ok(ok) => ok,
        Err(close) => panic!("refused: {close:?}"),
    };
    // A dropped player comes back with its resume token alone, no new ticket.
    drop(ws);
    let mut back = open(addr, &format!("room={room}"), None).await;
    let resume = proto::ClientMsg::Join(proto::Join {
        version: proto::PROTOCOL_VERSION,
        name: "api".into(),
        resume: welcome.resume_token.clone(),
    });
    send(&mut back, &resume).await;
    match crate::util::recv(&mut back).await {
        ServerMsg::Welcome(w) => {
            assert!(w.resumed, "resumed without a ticket");
            assert_eq!(w.player_id, welcome.player_id);
        }
        other => panic!("expected Welcome, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_made_through_the_api_enforces_its_capacity() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    assert_eq!(
        post(addr, "/rooms", r#"{"id":"solo","capacity":1}"#)
            .await
            .0,
        201
    );
    let _first = try_join(addr, "room=solo").await.expect("first player");
    let second = try_join(addr, "room=solo").await.err();
    assert_eq!(second, Some((1013, "room full".to_owned())));
    // The API sees the player and refuses a ticket too.
    eventually("the player to be counted", || async {
        let (_, room) = get(addr, "/rooms/solo").await;
        if room["players"] == json!(1) {
            Ok(())
        } else {
            Err(room)
        }
    })
    .await;
    assert_error(&post(addr, "/rooms/solo/join", "").await, 409, "room_full");
    server.shutdown().await;
}
