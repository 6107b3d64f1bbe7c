//! The HTTP layer's limits (issue 13) against raw TCP clients: slow and
//! oversized request heads, silent sockets filling the handshake slots, the
//! WebSocket `Origin` check, and the node-wide and per-address connection
//! caps (with `X-Forwarded-For` only from trusted proxies). Each refusal is
//! counted in `tickroom_refused_total{reason}`, and a player already in a
//! room keeps playing through it. Requests are written byte by byte here, no
//! HTTP library in between.

use std::{net::SocketAddr, time::Duration};

use tickroom_server::Config;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::{client_async, tungstenite::client::IntoClientRequest};

use crate::util::{
    Client, eventually, http_get, join_msg, metric, recv, send, start, test_config, wait_metric,
    within,
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
    let mut tcp = connect(addr).await;
    within(
        "writing a request",
        tcp.write_all(format!("{head}\r\n").as_bytes()),
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
