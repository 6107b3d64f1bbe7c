//! A static cluster (`--peers`) of three real servers in this process, on
//! listeners bound first so the peer list names their ports: every node
//! places every room on the same owner, the room API answers on any node
//! (forwarded to the owner), a WebSocket join at a wrong node is closed with
//! 4001 naming the owner and following it reaches the room, `/n/{node}/ws`
//! serves the node it names, and the operator endpoint and the room API's
//! writes refuse without the token (which every node shares: forwarded
//! requests carry the client's `Authorization`).

use std::{collections::BTreeMap, net::SocketAddr};

use serde_json::Value;
use tickroom_protocol::ServerMsg;
use tickroom_server::Server;
use tokio::net::TcpListener;

use crate::util::{
    Client, expect_close, games, http_get, join_msg, open, recv, request, send, test_config,
};

const TOKEN: &str = "operator-token-0123456789";

/// Three nodes `a`, `b`, `c` of one static cluster; the addresses by id.
async fn three_nodes() -> (Vec<Server>, BTreeMap<String, SocketAddr>) {
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    let ids = ["a", "b", "c"];
    let addrs: BTreeMap<String, SocketAddr> = ids
        .iter()
        .zip(&listeners)
        .map(|(id, l)| (id.to_string(), l.local_addr().expect("addr")))
        .collect();
    let peers: Vec<String> = addrs
        .iter()
        .map(|(id, a)| format!("{id}=ws://{a}"))
        .collect();
    let mut servers = Vec::new();
    for (id, listener) in ids.iter().zip(listeners) {
        let mut config = test_config();
        config.node_id = Some((*id).into());
        config.peers = Some(peers.join(","));
        config.api_token = Some(TOKEN.parse().expect("token"));
        // A cluster node's drain lets rooms run on until empty: not for long here.
        config.drain = std::time::Duration::from_secs(1);
        config.secret = Some("a-shared-secret-of-the-fleet".parse().expect("secret"));
        servers.push(
            Server::start_on(config, listener, games())
                .await
                .expect("node starts"),
        );
    }
    (servers, addrs)
}

/// A request with the fleet's API token; the status and the JSON body.
async fn json(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    json_as(addr, method, path, &auth, body).await
}

/// A request with the header lines `extra` (no token unless they carry one).
async fn json_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> (u16, Value) {
    let (status, _, body) = request(addr, method, path, extra, body).await;
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{method} {path} answered non-JSON ({e}): {body:?}"));
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_peers_place_route_and_forward() {
    let (servers, addrs) = three_nodes().await;
    let node_addrs: Vec<SocketAddr> = addrs.values().copied().collect();

    // Every node lists the same three members.
    for &addr in &node_addrs {
        let (status, body) = json(addr, "GET", "/cluster", "").await;
        assert_eq!(status, 200);
        assert_eq!(body["mode"], "static");
        let ids: Vec<&str> = body["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| m["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, ["a", "b", "c"], "{body}");
    }

    // 30 rooms created through rotating nodes; every node names the same owner.
    let mut owners = BTreeMap::new();
    for i in 0..30 {
        let entry = node_addrs[i % 3];
        let room = format!("room-{i}");
        let (status, body) = json(entry, "POST", "/rooms", &format!(r#"{{"id":"{room}"}}"#)).await;
        assert_eq!(status, 201, "create {room} at {entry}: {body}");
        let owner = body["node"].as_str().expect("node").to_owned();
        for &addr in &node_addrs {
            let (status, seen) = json(addr, "GET", &format!("/rooms/{room}"), "").await;
            assert_eq!(status, 200, "{room} at {addr}: {seen}");
            assert_eq!(
                seen["node"],
                owner.as_str(),
                "{room}: owner seen from {addr}"
            );
        }
        owners.insert(room, owner);
    }
    let used: std::collections::BTreeSet<&String> = owners.values().collect();
    assert_eq!(
        used.len(),
        3,
        "30 rooms over three nodes use all three: {owners:?}"
    );

    // A second create of the same id, at any node, is a conflict at the owner.
    let (status, body) = json(node_addrs[1], "POST", "/rooms", r#"{"id":"room-0"}"#).await;
    assert_eq!(status, 409, "{body}");

    // The fleet-wide list holds all 30, each with its owner.
    let (status, list) = json(node_addrs[2], "GET", "/rooms", "").await;
    assert_eq!(status, 200);
    let listed: BTreeMap<String, String> = list["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["node"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(listed, owners);
    assert_eq!(list["unreachable"], serde_json::json!([]));

    // A ticket from a non-owner names the owner's URL and works there.
    let (room, owner) = owners
        .iter()
        .find(|(_, o)| o.as_str() != "a")
        .expect("a room not on a");
    let (status, grant) = json(addrs["a"], "POST", &format!("/rooms/{room}/join"), "").await;
    assert_eq!(status, 200, "{grant}");
    let ws_url = grant["ws_url"].as_str().expect("ws_url");
    let owner_addr = addrs[owner];
    assert!(
        ws_url.starts_with(&format!("ws://{owner_addr}/ws?room={room}&ticket=")),
        "{ws_url}"
    );
    let query = ws_url.split_once('?').expect("query").1;
    let mut ws = open(owner_addr, query, None).await;
    send(&mut ws, &join_msg("ticketed")).await;
    assert!(matches!(recv(&mut ws).await, ServerMsg::Welcome(_)));

    // A join at a wrong node: 4001 naming the owner; following it reaches the room.
    let mut ws = open(addrs["a"], &format!("room={room}&name=lost"), None).await;
    send(&mut ws, &join_msg("lost")).await;
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(
        (code, reason.as_str()),
        (4001, format!("node={owner}").as_str())
    );
    let (_, cluster) = json(addrs["a"], "GET", "/cluster", "").await;
    let url = cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == owner.as_str())
        .and_then(|m| m["url"].as_str())
        .expect("the owner's url")
        .to_owned();
    assert_eq!(url, format!("ws://{owner_addr}"));
    let player = Client::join(owner_addr, room, "found").await;
    assert_eq!(player.welcome.room, *room);
    assert!(crate::util::metric(addrs["a"], "tickroom_cluster_misrouted_joins_total").await >= 1.0);

    // Matchmaking at any node hands out a seat on the owner of the room it picks.
    let (status, grant) = json(
        addrs["b"],
        "POST",
        "/matchmake",
        r#"{"metadata":{"mode":"duel"}}"#,
    )
    .await;
    assert_eq!(status, 200, "{grant}");
    let room = grant["room"].as_str().expect("room");
    let (_, seen) = json(addrs["c"], "GET", &format!("/rooms/{room}"), "").await;
    let owner_addr = addrs[seen["node"].as_str().expect("node")];
    assert!(
        grant["ws_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("ws://{owner_addr}/"))
    );

    // Path routing: /n/{node}/ws serves the node it names, 404 for another.
    let (room, owner) = owners.iter().next().expect("a room");
    let owner_addr = addrs[owner];
    let mut ws = crate::util::open_path(owner_addr, &format!("/n/{owner}/ws?room={room}")).await;
    send(&mut ws, &join_msg("routed")).await;
    assert!(matches!(recv(&mut ws).await, ServerMsg::Welcome(_)));
    let other = addrs.keys().find(|id| *id != owner).expect("another node");
    let (status, body) = http_get(owner_addr, &format!("/n/{other}/ws?room={room}")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("wrong_node"), "{body}");

    // The operator endpoint: 401 without a token, 403 with a wrong one.
    let (status, body) = json_as(addrs["a"], "POST", "/admin/drain", "", "").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    // So do the room API's writes, at the entry node and at the owner.
    for &addr in &node_addrs {
        let (status, body) = json_as(addr, "POST", "/rooms", "", r#"{"id":"no-token"}"#).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    }
    let (status, _, body) = request(
        addrs["a"],
        "POST",
        "/admin/drain",
        "Authorization: Bearer wrong-token-0123456789\r\n",
        "",
    )
    .await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));

    for s in servers {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn drain_endpoint_is_disabled_without_a_token() {
    let server = crate::util::start(test_config()).await;
    let addr = server.local_addr();
    let (status, body) = json_as(addr, "POST", "/admin/drain", "", "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("admin_disabled"))
    );
    let (status, body) = json(addr, "GET", "/cluster", "").await;
    assert_eq!(status, 200);
    assert_eq!(body["mode"], "single");
    assert_eq!(body["members"].as_array().map(Vec::len), Some(1));
    server.shutdown().await;
}
