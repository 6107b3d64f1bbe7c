//! The HTTP layer's limits (issue 13) against raw TCP clients: slow and
//! oversized request heads, silent sockets filling the handshake slots, the
//! WebSocket `Origin` check, and the node-wide and per-address connection
//! caps (with `X-Forwarded-For` only from trusted proxies). Each refusal is
//! counted in `tickroom_refused_total{reason}`, and a player already in a
//! room keeps playing through it. Requests are written byte by byte here, no
//! HTTP library in between.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use tickroom_protocol::ServerMsg;
use tickroom_server::{Config, Server};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
};
use tokio_tungstenite::{client_async, tungstenite::client::IntoClientRequest};

use crate::util::{
    Client, eventually, games, http_get, join_msg, metric, recv, send, start, test_config,
    wait_metric, within,
};

fn refused(reason: &str) -> String {
    format!("tickroom_refused_total{{reason=\"{reason}\"}}")
}

/// A test config with a short head timeout and a join timeout long enough
/// that an upgraded socket that never joins stays open through a test.
fn config() -> Config {
    Config {
        header_read_timeout: Duration::from_secs(1),
        join_timeout: Duration::from_secs(60),
        ..test_config()
    }
}

async fn connect(addr: SocketAddr) -> TcpStream {
    within("a TCP connection", TcpStream::connect(addr))
        .await
        .expect("connect")
}

/// A TCP connection to `addr` from the loopback address `src` (127.0.0.0/8
/// is all on `lo`: each address is another client to the server).
async fn connect_from(src: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(src, 0))
        .unwrap_or_else(|e| panic!("binding {src} as a source address: {e}"));
    within(format!("a TCP connection from {src}"), socket.connect(addr))
        .await
        .unwrap_or_else(|e| panic!("connect from {src}: {e}"))
}

/// Reads until the server closes the connection (EOF or reset); returns what came.
async fn until_closed(tcp: &mut TcpStream, what: &str) -> Vec<u8> {
    within(format!("the server to close {what}"), async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
}

/// A raw answer: status, head and body (by Content-Length).
struct Answer {
    tcp: TcpStream,
    status: u16,
    body: String,
}

/// Writes `head` (every line ends in CRLF; the blank line is added) and
/// reads the response head and its body.
async fn raw(addr: SocketAddr, head: &str) -> Answer {
    raw_on(connect(addr).await, head, "").await
}

/// [`raw`] on a connection made beforehand, with a `body` after the head.
async fn raw_on(mut tcp: TcpStream, head: &str, body: &str) -> Answer {
    within(
        "writing a request",
        tcp.write_all(format!("{head}\r\n{body}").as_bytes()),
    )
    .await
    .expect("write");
    within("a response", async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = tcp.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before a response head: {got:?}");
            got.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&got[..end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = got[end..].to_vec();
        while body.len() < len {
            let n = tcp.read(&mut buf).await.expect("read body");
            assert!(n > 0, "connection closed inside the body");
            body.extend_from_slice(&buf[..n]);
        }
        Answer {
            tcp,
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    })
    .await
}

/// A WebSocket upgrade request for `/ws?room={room}` with `extra` header lines.
fn upgrade(addr: SocketAddr, room: &str, extra: &str) -> String {
    format!(
        "GET /ws?room={room} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}"
    )
}

fn assert_refused(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "body: {}", a.body);
    let json: serde_json::Value = serde_json::from_str(&a.body).expect("a JSON error body");
    assert_eq!(json["code"], code, "{json}");
}

/// The player still gets ticks: the room answers its ping.
async fn still_playing(c: &mut Client) {
    let before = c.room_tick().await;
    let after = c.room_tick().await;
    assert!(after >= before, "ticks went back: {before} then {after}");
    c.snapshot().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_heads_are_closed_at_the_header_timeout() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let mut player = Client::join(addr, "heads", "steady").await;

    // Slowloris: one header line a second, never the blank line.
    let mut slow = connect(addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    within("the server to close the slow head", async {
        let mut buf = [0u8; 256];
        for i in 0.. {
            tokio::select! {
                r = slow.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => panic!("an answer to a head never finished"),
                },
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if slow.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    wait_metric(addr, &refused("header_timeout"), 1.0).await;

    // A socket that sends nothing at all.
    let mut silent = connect(addr).await;
    let got = until_closed(&mut silent, "a silent socket").await;
    assert!(got.is_empty(), "a silent socket got {got:?}");
    wait_metric(addr, &refused("header_timeout"), 2.0).await;
    // Kept-alive requests are no refusal, and the player never noticed.
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    still_playing(&mut player).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_head_is_answered_431() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let limit = server_max_head();
    // Exactly the limit and no end of head: the server reads all of it (so
    // its close is a clean FIN, not a reset losing the answer) and refuses.
    let mut head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    head.resize(limit, b'a');
    let mut tcp = connect(addr).await;
    within("writing a large head", tcp.write_all(&head))
        .await
        .expect("write");
    let got = until_closed(&mut tcp, "an oversized head").await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 431"), "{text:?}");
    wait_metric(addr, &refused("head_too_large"), 1.0).await;
    // A head of ordinary size is served.
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    server.shutdown().await;
}

fn server_max_head() -> usize {
    config().max_head_bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_fill_the_handshake_slots_then_time_out() {
    let server = start(Config {
        max_handshakes: 2,
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let mut player = Client::join(addr, "busy", "steady").await;
    let mut quiet = [connect(addr).await, connect(addr).await];
    // The third is closed at once, before any timeout could have.
    let mut third = connect(addr).await;
    let got = until_closed(&mut third, "a connection past --max-handshakes").await;
    assert!(got.is_empty(), "{got:?}");
    // The joined player holds no handshake slot and plays on.
    still_playing(&mut player).await;
    for (i, q) in quiet.iter_mut().enumerate() {
        until_closed(q, &format!("silent socket {i}")).await;
    }
    // Slots free again: an ordinary request is served, and it was all counted.
    let (status, _) = eventually("a request after the silent sockets went", || async {
        let mut tcp = connect(addr).await;
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let got = until_closed(&mut tcp, "a health check").await;
        let text = String::from_utf8_lossy(&got).into_owned();
        if text.starts_with("HTTP/1.1 200") {
            Ok((200, text))
        } else {
            Err(text)
        }
    })
    .await;
    assert_eq!(status, 200);
    assert!(metric(addr, &refused("handshakes_busy")).await >= 1.0);
    assert!(metric(addr, &refused("header_timeout")).await >= 2.0);
    still_playing(&mut player).await;
    server.shutdown().await;
}

/// Opens a WebSocket with this `Origin` and joins `room`.
async fn join_with_origin(addr: SocketAddr, room: &str, origin: &str) {
    let mut req = format!("ws://{addr}/ws?room={room}")
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("origin", origin.parse().expect("header value"));
    let tcp = connect(addr).await;
    let (mut ws, _) = within(
        "a WebSocket handshake with an Origin",
        client_async(req, tcp),
    )
    .await
    .expect("an allowed origin upgrades");
    send(&mut ws, &join_msg("browser")).await;
    match recv(&mut ws).await {
        tickroom_protocol::ServerMsg::Welcome(_) => {}
        other => panic!("expected Welcome, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused_before_the_upgrade() {
    let server = start(config()).await;
    let addr = server.local_addr();
    let a = raw(
        addr,
        &upgrade(addr, "o", "Origin: https://evil.example\r\n"),
    )
    .await;
    assert_refused(&a, 403, "origin_forbidden");
    assert_eq!(metric(addr, &refused("origin")).await, 1.0);
    // The defaults: the server's own origin, loopback pages, and no Origin at all.
    join_with_origin(addr, "o", &format!("http://{addr}")).await;
    join_with_origin(addr, "o", "http://localhost:5173").await;
    Client::join(addr, "o", "no-origin").await;
    assert_eq!(metric(addr, &refused("origin")).await, 1.0);
    server.shutdown().await;

    let server = start(Config {
        allowed_origins: Some("https://*.example.com".into()),
        require_origin: true,
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let a = raw(addr, &upgrade(addr, "o", "")).await;
    assert_refused(&a, 403, "origin_forbidden");
    let a = raw(
        addr,
        &upgrade(addr, "o", "Origin: http://localhost:5173\r\n"),
    )
    .await;
    assert_refused(&a, 403, "origin_forbidden");
    join_with_origin(addr, "o", "https://play.example.com").await;
    assert_eq!(metric(addr, &refused("origin")).await, 2.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_wide_cap_answers_503() {
    let server = start(Config {
        max_connections: 2,
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let mut a = Client::join(addr, "cap", "a").await;
    let _b = Client::join(addr, "cap", "b").await;
    let third = raw(addr, &upgrade(addr, "cap", "")).await;
    assert_refused(&third, 503, "too_many_connections");
    assert_eq!(metric(addr, &refused("node_connections")).await, 1.0);
    still_playing(&mut a).await;
    server.shutdown().await;
}

/// Tries an upgrade until it is answered 101 (a place was given back);
/// returns it and how many tries were refused before.
async fn upgrade_when_free(addr: SocketAddr, room: &str) -> (Answer, f64) {
    let refusals = std::sync::atomic::AtomicU32::new(0);
    let a = eventually("a free connection place", || async {
        let a = raw(addr, &upgrade(addr, room, "")).await;
        if a.status == 101 {
            Ok(a)
        } else {
            refusals.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(a.status)
        }
    })
    .await;
    (a, f64::from(refusals.into_inner()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_address_cap_answers_429_until_a_connection_ends() {
    let server = start(Config {
        limit_loopback: true,
        max_connections_per_ip: 2,
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let mut a = Client::join(addr, "ip", "a").await;
    let b = Client::join(addr, "ip", "b").await;
    let third = raw(addr, &upgrade(addr, "ip", "")).await;
    assert_refused(&third, 429, "too_many_connections_from_address");
    assert_eq!(metric(addr, &refused("ip_connections")).await, 1.0);
    still_playing(&mut a).await;
    drop(b);
    let (_again, retries) = upgrade_when_free(addr, "ip").await;
    let fourth = raw(addr, &upgrade(addr, "ip", "")).await;
    assert_refused(&fourth, 429, "too_many_connections_from_address");
    assert_eq!(
        metric(addr, &refused("ip_connections")).await,
        2.0 + retries
    );
    still_playing(&mut a).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let xff = |ip: &str| format!("X-Forwarded-For: {ip}\r\n");
    // Untrusted: every socket is 127.0.0.1 whatever it claims.
    let server = start(Config {
        limit_loopback: true,
        max_connections_per_ip: 2,
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let mut open = Vec::new();
    for ip in ["198.51.100.1", "198.51.100.2"] {
        let a = raw(addr, &upgrade(addr, "fwd", &xff(ip))).await;
        assert_eq!(a.status, 101);
        open.push(a.tcp);
    }
    let a = raw(addr, &upgrade(addr, "fwd", &xff("198.51.100.3"))).await;
    assert_refused(&a, 429, "too_many_connections_from_address");
    drop(open);
    server.shutdown().await;

    // Trusted: each forwarded address has its own cap (loopback itself stays exempt).
    let server = start(Config {
        max_connections_per_ip: 2,
        trusted_proxies: Some("127.0.0.1/32".into()),
        ..config()
    })
    .await;
    let addr = server.local_addr();
    let mut open = Vec::new();
    for ip in ["198.51.100.1", "198.51.100.2"] {
        for _ in 0..2 {
            let a = raw(addr, &upgrade(addr, "fwd", &xff(ip))).await;
            assert_eq!(a.status, 101, "{ip}: {}", a.body);
            open.push(a.tcp);
        }
        let a = raw(addr, &upgrade(addr, "fwd", &xff(ip))).await;
        assert_refused(&a, 429, "too_many_connections_from_address");
    }
    // The proxy's own (loopback) connections are not capped.
    let mut player = Client::join(addr, "fwd", "direct").await;
    still_playing(&mut player).await;
    assert_eq!(metric(addr, &refused("ip_connections")).await, 2.0);
    drop(open);
    server.shutdown().await;
}

// ----- One address must not lock a node out (issue 22) -----

const FLOODER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const NEIGHBOUR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

/// Opens `n` TCP connections from `src` that send nothing (kept open by
/// the caller), in order: the first is the oldest the server accepts.
async fn idle_sockets(src: IpAddr, addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut flood = Vec::with_capacity(n);
    for _ in 0..n {
        flood.push(connect_from(src, addr).await);
    }
    flood
}

/// A plain request from `src` on a connection of its own.
async fn request_from(
    src: IpAddr,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Answer {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    raw_on(connect_from(src, addr).await, &head, body).await
}

/// Joins `room` over a WebSocket from `src`; the Welcome's player id.
async fn join_from(src: IpAddr, addr: SocketAddr, room: &str) -> u32 {
    let tcp = connect_from(src, addr).await;
    let url = format!("ws://{addr}/ws?room={room}");
    let (mut ws, _) = within(
        format!("a WebSocket handshake from {src}"),
        client_async(url, tcp),
    )
    .await
    .unwrap_or_else(|e| panic!("upgrade from {src}: {e}"));
    send(&mut ws, &join_msg("neighbour")).await;
    match recv(&mut ws).await {
        ServerMsg::Welcome(w) => w.player_id,
        other => panic!("expected a Welcome, got {other:?}"),
    }
}

/// Whether `tcp` is still open: nothing to read within a short wait (the
/// server neither wrote nor closed it).
async fn still_open(tcp: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_flooding_idle_sockets_locks_no_other_address_out() {
    let server = start(Config {
        limit_loopback: true,
        // The flood's held sockets stay through the test.
        header_read_timeout: Duration::from_secs(60),
        admin_bind: Some("127.0.0.1:0".parse().expect("addr")),
        ..config()
    })
    .await;
    let (addr, admin) = (
        server.local_addr(),
        server.admin_addr().expect("admin listener"),
    );
    let per_ip = test_config().max_handshakes_per_ip;
    assert!(per_ip < test_config().max_handshakes);
    let mut player = Client::join(addr, "lobby-before", "steady").await;

    const FLOOD: usize = 2000;
    let mut flood = idle_sockets(FLOODER, addr, FLOOD).await;
    // Read on the admin listener, which no flood on the game port reaches.
    let capped = (FLOOD - per_ip) as f64;
    wait_metric(admin, &refused("handshakes_per_ip"), capped).await;
    assert_eq!(metric(admin, &refused("handshakes_per_ip")).await, capped);
    assert_eq!(metric(admin, &refused("handshakes_busy")).await, 0.0);
    assert_eq!(metric(admin, &refused("handshake_shed")).await, 0.0);
    // The flood keeps its share: its first sockets are held, its last closed.
    assert!(
        still_open(&mut flood[0]).await,
        "the first flood socket holds a slot"
    );
    assert!(
        until_closed(&mut flood[FLOOD - 1], "a flood socket past the cap")
            .await
            .is_empty()
    );

    // Another address creates a room, joins it and reads the API.
    let created = request_from(NEIGHBOUR, addr, "POST", "/rooms", r#"{"id":"after-flood"}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(join_from(NEIGHBOUR, addr, "after-flood").await, 1);
    let info = request_from(NEIGHBOUR, addr, "GET", "/rooms/after-flood", "").await;
    assert_eq!(info.status, 200, "{}", info.body);
    // The probes live on the admin listener and answer there during the flood.
    assert_eq!(http_get(admin, "/healthz").await, (200, "ok\n".to_owned()));
    assert_eq!(http_get(admin, "/readyz").await.0, 200);
    let health = request_from(NEIGHBOUR, admin, "GET", "/healthz", "").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    // ... and not on the game port any more.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let moved = request_from(NEIGHBOUR, addr, "GET", path, "").await;
        assert_eq!(moved.status, 404, "{path} on the game port: {}", moved.body);
    }
    // The flood address itself is still capped, and the player plays on.
    let mut more = connect_from(FLOODER, addr).await;
    until_closed(&mut more, "one more socket from the flood address").await;
    assert_eq!(
        metric(admin, &refused("handshakes_per_ip")).await,
        capped + 1.0
    );
    assert_eq!(metric(admin, &refused("handshakes_busy")).await, 0.0);
    still_playing(&mut player).await;
    drop(flood);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_slot_taken_a_lighter_address_displaces_the_heaviests_oldest() {
    // Loopback is exempt from the per-address cap here (the default): the
    // flood takes every slot, and the shedding rule alone lets others in.
    const SLOTS: usize = 64;
    let server = start(Config {
        max_handshakes: SLOTS,
        max_handshakes_per_ip: 8,
        header_read_timeout: Duration::from_secs(60),
        ..config()
    })
    .await;
    let addr = server.local_addr();
    const FLOOD: usize = 500;
    let mut flood = idle_sockets(FLOODER, addr, FLOOD).await;
    let busy = (FLOOD - SLOTS) as f64;
    // A metric read would need a slot: read it in-process.
    let scrape = |text: String| tickroom_bots::prom::Scrape::parse(&text);
    eventually("the flood past the slots to be refused", || async {
        let v = scrape(server.render_metrics()).get(&refused("handshakes_busy"));
        if v >= busy { Ok(v) } else { Err(v) }
    })
    .await;

    // A newcomer from another address: the flood's oldest socket gives way.
    let health = request_from(NEIGHBOUR, addr, "GET", "/healthz", "").await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    assert!(
        until_closed(&mut flood[0], "the flood's oldest socket")
            .await
            .is_empty(),
        "the displaced socket is closed without an answer"
    );
    assert!(still_open(&mut flood[1]).await, "only the oldest gave way");
    assert!(still_open(&mut flood[SLOTS - 1]).await);
    // Its slot was given back when its head arrived: the next ones need no shedding.
    let created = request_from(NEIGHBOUR, addr, "POST", "/rooms", r#"{"id":"full"}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(join_from(NEIGHBOUR, addr, "full").await, 1);
    let metrics = scrape(server.render_metrics());
    assert_eq!(metrics.get(&refused("handshake_shed")), 1.0);
    assert_eq!(metrics.get(&refused("handshakes_busy")), busy);
    // Now full again (63 flood + the one taken back): the flood address,
    // the heaviest, displaces nobody: its next socket is closed at accept.
    let mut filler = connect_from(NEIGHBOUR, addr).await;
    let mut more = connect_from(FLOODER, addr).await;
    until_closed(&mut more, "one more socket from the heaviest address").await;
    assert_eq!(
        scrape(server.render_metrics()).get(&refused("handshakes_busy")),
        busy + 1.0
    );
    assert!(still_open(&mut filler).await);
    drop((flood, filler));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_answers_readyz_503_while_the_node_drains() {
    // A one-node static cluster: its drain lets rooms run until they empty,
    // so the node stays draining while a player is in.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let me = listener.local_addr().expect("addr");
    let config = Config {
        node_id: Some("solo".into()),
        peers: Some(format!("solo=ws://{me}")),
        api_token: Some("an-operator-token".parse().expect("token")),
        admin_bind: Some("127.0.0.1:0".parse().expect("addr")),
        drain: Duration::from_secs(60),
        ..test_config()
    };
    let server = Server::start_on(config, listener, games())
        .await
        .expect("starts");
    let admin = server.admin_addr().expect("admin listener");
    let mut player = Client::join(me, "stay", "stay").await;
    assert_eq!(http_get(admin, "/readyz").await, (200, "ok\n".to_owned()));
    let drain = |addr| async move {
        crate::util::request(
            addr,
            "POST",
            "/admin/drain",
            "Authorization: Bearer an-operator-token\r\n",
            "",
        )
        .await
        .0
    };
    // Not a route of the game port any more: its fallback (the demo's
    // files) takes GET and HEAD only.
    assert_eq!(drain(me).await, 405, "/admin/* moved to the admin listener");
    let (status, body) = http_get(admin, "/nowhere").await;
    assert_eq!(status, 404);
    assert!(body.contains("\"code\":\"not_found\""), "{body}");
    assert_eq!(drain(admin).await, 202);
    let stopping = tokio::spawn(async move {
        server.drain_requested().await;
        server.shutdown().await;
    });
    let (_, body) = eventually("/readyz to say the node is draining", || async {
        let got = http_get(admin, "/readyz").await;
        if got.0 == 503 { Ok(got) } else { Err(got) }
    })
    .await;
    assert!(body.contains("\"code\":\"draining\""), "{body}");
    // Alive all the same: a liveness probe must not restart a draining node.
    assert_eq!(
        http_get(admin, "/healthz").await,
        (200, "ok: draining\n".to_owned())
    );
    // Leaving on purpose empties the room at once (no resume grace).
    send(&mut player.ws, &tickroom_protocol::ClientMsg::Leave).await;
    within("the drain to finish once the room is empty", stopping)
        .await
        .expect("shutdown task");
}
