//! A game that is not the arena, written outside the engine crates on the
//! public API (the docs' `dots`, `crates/tickroom/examples/dots/`), hosted
//! beside the arena by one server: a room of it created over the API with
//! its own config, played by real WebSocket clients (a step and a wave: the
//! other player gets the event, once, with the next frame), swarmed by bots
//! with the generic `random` behaviour (no code of the bots knows dots),
//! recorded, and replayed bit for bit.

use std::time::Duration;

use serde_json::json;
use tickroom_bots::{Placement, SwarmConfig};
use tickroom_protocol::{
    ClientMsg, ServerMsg,
    state::{Replica, Value, decode_event},
};
use tickroom_server::{Config, Server};

use crate::{
    dots,
    support::{
        client::{json, lists_members, try_json, until},
        redis::{self, RedisServer},
    },
    util::{
        TempDir, expect_close, games, join_msg, open, recv, replay_all_clean, send, test_config,
        within,
    },
};

/// Bound on membership changes showing in `/cluster` (a few leases).
const MEMBERSHIP: Duration = Duration::from_secs(20);

/// A joined raw client of a dots room: its socket, id and replica.
struct Player {
    ws: crate::util::Ws,
    id: u32,
    replica: Replica,
    seq: u32,
    tick: u32,
}

impl Player {
    async fn join(addr: std::net::SocketAddr, name: &str) -> Player {
        let mut ws = open(addr, "room=d1&game=dots", None).await;
        send(&mut ws, &join_msg(name)).await;
        let ServerMsg::Welcome(w) = recv(&mut ws).await else {
            panic!("{name}: no Welcome")
        };
        assert_eq!(w.game, "dots");
        let config: serde_json::Value = serde_json::from_str(&w.config).expect("JSON config");
        assert_eq!(
            config,
            json!({"size": 50.0, "speed": 0.5}),
            "the room's config"
        );
        let replica = Replica::from_welcome(&w).expect("the schema decodes");
        let names: Vec<&str> = replica
            .schema()
            .components()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["dot", "player"]);
        Player {
            ws,
            id: w.player_id,
            replica,
            seq: 0,
            tick: 0,
        }
    }

    /// Reads the next state: its events, decoded by name and values.
    async fn next(&mut self) -> Vec<(String, Vec<Value>)> {
        loop {
            let ServerMsg::State(state) = recv(&mut self.ws).await else {
                continue;
            };
            let applied = self.replica.apply(&state).expect("the state applies");
            assert!(applied.checksum_ok, "checksum at tick {}", applied.tick);
            self.tick = applied.tick;
            let schema = self.replica.schema();
            return state
                .events
                .iter()
                .map(|e| {
                    let mut values = Vec::new();
                    let id = decode_event(schema, e, &mut values).expect("the event decodes");
                    (schema.events()[id].name.clone(), values)
                })
                .collect();
        }
    }

    /// This player's dot's x, tenths of a unit.
    fn x(&self) -> i64 {
        let schema = self.replica.schema();
        let (player, dot) = (
            schema.component_id("player").unwrap(),
            schema.component_id("dot").unwrap(),
        );
        let frame = self.replica.frame().expect("a frame");
        let me = frame
            .entities()
            .find(|e| {
                e.get(player)
                    .is_some_and(|p| p.int(0) == Some(self.id.into()))
            })
            .expect("own entity");
        me.get(dot).expect("a dot").int(0).expect("x is a number")
    }

    async fn step(&mut self, dx: i8, wave: bool) {
        self.seq += 1;
        let mut data = Vec::new();
        dots_catalogue().encode_input(&dots::Step { dx, dy: 0, wave }, &mut data);
        let msg = ClientMsg::Input(tickroom_protocol::Input {
            seq: self.seq,
            ack_tick: self.tick,
            data,
        });
        send(&mut self.ws, &msg).await;
    }
}

fn dots_catalogue() -> std::sync::Arc<tickroom::Catalogue> {
    let mut g = tickroom::Games::new();
    g.register::<dots::Dots>().expect("dots registers");
    g.get("dots").expect("registered").catalogue().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_that_is_not_the_arena_is_hosted_played_swarmed_recorded_and_replayed() {
    let dir = TempDir::new("dots");
    let mut hosted = games();
    hosted.register::<dots::Dots>().expect("dots registers");
    let server = Server::start(
        Config {
            record_dir: Some(dir.0.clone()),
            ..test_config()
        },
        hosted.clone(),
    )
    .await
    .expect("starts");
    let addr = server.local_addr();

    // A dots room over the API, with its own config.
    let (status, room) = json(
        addr,
        "POST",
        "/rooms",
        Some(&json!({"id": "d1", "game": "dots", "config": {"size": 50}})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    assert_eq!(room["game"], "dots");
    assert_eq!(room["config"], json!({"size": 50.0, "speed": 0.5}));
    let (status, body) = json(
        addr,
        "POST",
        "/rooms",
        Some(&json!({"game": "dots", "config": {"speed": 101}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_config");
    assert!(
        body["message"].as_str().unwrap_or("").contains("speed"),
        "{body}"
    );

    // Two players: ada steps right twice and waves; bob gets the wave once.
    let mut ada = Player::join(addr, "ada").await;
    let mut bob = Player::join(addr, "bob").await;
    ada.next().await;
    let start = ada.x();
    ada.step(1, false).await;
    ada.step(1, true).await;
    let mut waves = Vec::new();
    within("bob to get ada's wave and ada to move", async {
        for _ in 0..200 {
            waves.extend(bob.next().await);
            ada.next().await;
            if !waves.is_empty() && ada.x() != start {
                break;
            }
        }
    })
    .await;
    assert_eq!(
        waves,
        [("waved".to_owned(), vec![Value::Int(ada.id.into())])],
        "one wave, from ada"
    );
    // Two steps of half a unit (tenths on the wire), unless the wall stopped it.
    assert!(
        ada.x() == start + 10 || ada.x() == 500,
        "{start} -> {}",
        ada.x()
    );
    for _ in 0..5 {
        assert!(ada.next().await.is_empty(), "ada gets no wave of her own");
    }

    // Bots that know nothing of dots play it from its schema.
    let report = tickroom_bots::run(
        SwarmConfig {
            url: format!("http://{addr}"),
            game: "dots".into(),
            placement: Placement::Rooms {
                rooms: 2,
                per_room: 5,
            },
            mix: "random".parse().expect("mix"),
            duration: Some(Duration::from_secs(3)),
            connect_timeout: Duration::from_secs(30),
            seed: 3,
            ..SwarmConfig::default()
        },
        std::future::pending::<()>(),
    )
    .await
    .expect("the swarm runs");
    let all = &report.all.counts;
    assert_eq!(
        all.connect_errors, 0,
        "{:?}",
        report.all.connect_error_reasons
    );
    assert_eq!((all.decode_errors, all.checksum_mismatches), (0, 0));
    assert!(all.snapshots > 0 && all.inputs_acked > 0, "{all:?}");
    let refused =
        crate::util::metric(addr, "tickroom_inputs_dropped_total{reason=\"refused\"}").await;
    assert_eq!(refused, 0.0, "random inputs fit the game's input");

    drop((ada, bob));
    server.shutdown().await;

    // Every room's recording replays to its End, each frame's checksum matched.
    let recorded = replay_all_clean(&dir.0, &hosted);
    assert!(
        recorded.len() >= 3,
        "d1 and the bots' two rooms: {recorded:?}"
    );
    let dots_rooms = recorded.iter().filter(|g| *g == "dots").count();
    assert!(dots_rooms >= 3, "every room here ran dots");
}

/// A mixed fleet on one Redis: node `a` hosts only the arena, node `b` only
/// dots. Each lists its games in `/cluster`; a room of either game created
/// through either node lands on the node that hosts it (relayed); a join at
/// the other node is sent there with 4001 `node=<id>`; a config the owner
/// refuses comes back through the relay; a game no node hosts is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_fleet_places_each_game_on_a_node_that_hosts_it() {
    const TEST: &str = "second_game::a_mixed_fleet_places_each_game_on_a_node_that_hosts_it";
    if !redis::required_by(TEST) {
        return;
    }
    let redis = tokio::task::block_in_place(RedisServer::start);
    let prefix = format!("mixed-{}", std::process::id());
    let node = |id: &str| Config {
        node_id: Some(id.to_owned()),
        redis: Some(redis.url().parse().expect("a Redis URL")),
        redis_prefix: prefix.clone(),
        ..test_config()
    };
    let mut dots_only = tickroom_server::Games::new();
    dots_only.register::<dots::Dots>().expect("dots registers");
    let a = Server::start(node("a"), games())
        .await
        .expect("node a starts");
    let b = Server::start(node("b"), dots_only)
        .await
        .expect("node b starts");
    let (a_addr, b_addr) = (a.local_addr(), b.local_addr());
    for addr in [a_addr, b_addr] {
        until(
            format!("{addr}'s /cluster to list a and b"),
            MEMBERSHIP,
            || lists_members(addr, &["a", "b"]),
        )
        .await;
    }
    let (_, cluster) = json(a_addr, "GET", "/cluster", None).await;
    let games_of = |id: &str| {
        cluster["members"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["id"] == id))
            .map(|m| m["games"].clone())
    };
    assert_eq!(games_of("a"), Some(json!(["arena"])), "{cluster}");
    assert_eq!(games_of("b"), Some(json!(["dots"])), "{cluster}");

    // Rooms through each node, of each game: every one on its game's node,
    // whatever its id hashes to.
    for i in 0..6 {
        for (via, game, host) in [(a_addr, "dots", "b"), (b_addr, "arena", "a")] {
            let id = format!("mix-{game}-{i}");
            let body = until(
                format!("POST /rooms {id} ({game}) at {via} to answer 201"),
                MEMBERSHIP,
                || async {
                    match try_json(
                        via,
                        "POST",
                        "/rooms",
                        Some(&json!({"id": id, "game": game})),
                    )
                    .await?
                    {
                        (201, body) => Ok(body),
                        (status, body) => Err(format!("{status} {body}")),
                    }
                },
            )
            .await;
            assert_eq!(
                (body["game"].as_str(), body["node"].as_str()),
                (Some(game), Some(host)),
                "{body}"
            );
        }
    }

    // A join at the node without the game is sent to the one with it.
    let mut ws = open(a_addr, "room=mix-ws&game=dots", None).await;
    send(&mut ws, &join_msg("wanderer")).await;
    assert_eq!(expect_close(&mut ws).await, (4001, "node=b".to_owned()));
    let mut ws = open(b_addr, "room=mix-ws&game=dots", None).await;
    send(&mut ws, &join_msg("wanderer")).await;
    let ServerMsg::Welcome(w) = recv(&mut ws).await else {
        panic!("no Welcome at b")
    };
    assert_eq!(w.game, "dots");

    // The owner checks the config, through the relay.
    let (status, body) = try_json(
        a_addr,
        "POST",
        "/rooms",
        Some(&json!({"game": "dots", "config": {"size": -1}})),
    )
    .await
    .expect("POST /rooms answers");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_config")),
        "{body}"
    );
    // A game no node hosts.
    // Matchmaking for dots through a: a dots room, on b.
    let (status, ticket) = try_json(a_addr, "POST", "/matchmake", Some(&json!({"game": "dots"})))
        .await
        .expect("POST /matchmake answers");
    assert_eq!(status, 200, "{ticket}");
    let ws_url = ticket["ws_url"].as_str().expect("a ws_url");
    assert!(
        ws_url.starts_with(&format!("ws://{b_addr}/")),
        "the ticket is b's: {ws_url}"
    );
    let room = ticket["room"].as_str().expect("a room");
    let (_, info) = json(b_addr, "GET", &format!("/rooms/{room}"), None).await;
    assert_eq!(info["game"], "dots", "{info}");
    let (status, body) = try_json(a_addr, "POST", "/rooms", Some(&json!({"game": "chess"})))
        .await
        .expect("POST /rooms answers");
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("unknown_game")),
        "{body}"
    );
    let mut ws_refused = crate::util::request(a_addr, "GET", "/ws?game=chess", "", "").await;
    ws_refused.2.truncate(200);
    assert_eq!(
        ws_refused.0,
        400,
        "{:?}",
        String::from_utf8_lossy(&ws_refused.2)
    );

    a.shutdown().await;
    b.shutdown().await;
}

/// `GET /games` lists what a node hosts; `GET /games/{name}` describes a
/// game (version, default config, every component, field and wire type);
/// `GET /games/{name}/schema` is the schema's bytes, the ones a Welcome
/// carries; an unknown game is a 404 in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_games_a_node_hosts_are_described_over_http() {
    let mut hosted = games();
    hosted.register::<dots::Dots>().expect("dots registers");
    let server = Server::start(test_config(), hosted)
        .await
        .expect("server starts");
    let addr = server.local_addr();
    let (status, list) = json(addr, "GET", "/games", None).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["games"]
        .as_array()
        .expect("a games array")
        .iter()
        .map(|g| g["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, ["arena", "dots"], "{list}");
    assert_eq!(list["games"][0]["default"], true, "{list}");

    let (status, game) = json(addr, "GET", "/games/dots", None).await;
    assert_eq!(status, 200, "{game}");
    assert_eq!(game["default_config"], json!({"size": 100.0, "speed": 0.5}));
    let catalogue = dots_catalogue();
    let schema = catalogue.schema();
    assert_eq!(
        game["schema_hash"],
        format!("{:016x}", schema.hash()),
        "{game}"
    );
    let described: Vec<(String, Vec<(String, String)>)> = game["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| {
            let fields = c["fields"]
                .as_array()
                .expect("fields")
                .iter()
                .map(|f| (f["name"].to_string(), f["type"].to_string()))
                .collect();
            (c["name"].to_string(), fields)
        })
        .collect();
    let expected: Vec<(String, Vec<(String, String)>)> = schema
        .components()
        .iter()
        .map(|c| {
            let fields = c
                .fields
                .iter()
                .map(|f| {
                    (
                        json!(f.name).to_string(),
                        json!(f.ty.to_string()).to_string(),
                    )
                })
                .collect();
            (json!(c.name).to_string(), fields)
        })
        .collect();
    assert_eq!(described, expected);
    assert_eq!(game["events"][0]["name"], "waved", "{game}");
    assert_eq!(game["input"]["fields"][2]["type"], "bool", "{game}");

    // The bytes are the Welcome's.
    let (status, headers, bytes) =
        crate::util::request(addr, "GET", "/games/dots/schema", "", "").await;
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "etag" && *v == format!("\"{:016x}\"", schema.hash())),
        "{headers:?}"
    );
    let mut ws = open(addr, "room=described&game=dots", None).await;
    send(&mut ws, &join_msg("reader")).await;
    let ServerMsg::Welcome(w) = recv(&mut ws).await else {
        panic!("no Welcome")
    };
    assert_eq!(
        bytes, w.schema,
        "the schema endpoint serves the Welcome's bytes"
    );

    let (status, body) = json(addr, "GET", "/games/chess", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("game_not_found")),
        "{body}"
    );
    server.shutdown().await;
}

/// `POST /matchmake` matches within one game: `{"game": "dots"}` fills dots
/// rooms only and starts a dots room when none has a seat; no game means the
/// default game; an unknown game is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matchmaking_keeps_each_game_to_its_own_rooms() {
    let mut hosted = games();
    hosted.register::<dots::Dots>().expect("dots registers");
    let server = Server::start(test_config(), hosted)
        .await
        .expect("server starts");
    let addr = server.local_addr();
    let matchmake = |body: serde_json::Value| async move {
        let (status, ticket) = json(addr, "POST", "/matchmake", Some(&body)).await;
        assert_eq!(status, 200, "{body}: {ticket}");
        let room = ticket["room"].as_str().expect("a room").to_owned();
        let (_, info) = json(addr, "GET", &format!("/rooms/{room}"), None).await;
        (room, info["game"].as_str().expect("a game").to_owned())
    };
    let (arena_room, game) = matchmake(json!({})).await;
    assert_eq!(game, "arena", "no game: the default game");
    let (dots_room, game) = matchmake(json!({"game": "dots"})).await;
    assert_eq!(game, "dots");
    assert_ne!(
        dots_room, arena_room,
        "a dots match never lands in an arena room"
    );
    for _ in 0..3 {
        assert_eq!(
            matchmake(json!({"game": "dots"})).await,
            (dots_room.clone(), "dots".into())
        );
        assert_eq!(
            matchmake(json!({})).await,
            (arena_room.clone(), "arena".into())
        );
    }
    let (status, body) = json(addr, "POST", "/matchmake", Some(&json!({"game": "chess"}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("unknown_game")),
        "{body}"
    );
    let (status, body) = json(addr, "POST", "/matchmake", Some(&json!({"game": 7}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_game")),
        "{body}"
    );
    server.shutdown().await;
}
