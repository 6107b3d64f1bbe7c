//! Tests of how bots follow a cluster, against fake nodes on loopback: an
//! entry that redirects (close 4001 `node=<id>`) and answers `GET /cluster`,
//! and an owner that welcomes players and may drain (close 1001
//! `draining...`). The fake nodes speak just enough of the protocol.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use tickroom_protocol::{
    ClientMsg, PROTOCOL_VERSION, ServerMsg, Welcome, decode_client, encode_server,
    state::{Field, FieldType, Scalar, Schema, Shape},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_tungstenite::tungstenite::{
    Message,
    protocol::{CloseFrame, frame::coding::CloseCode},
};

use crate::{Placement, Report, SwarmConfig};

/// What a fake node does with a WebSocket connection.
#[derive(Debug, Clone)]
enum Role {
    /// Closes at once with this code and reason (after the upgrade).
    Close(u16, &'static str),
    /// Welcomes the player; the first player's connection ends after this
    /// long, when set.
    Owner {
        end_first: Option<(Duration, FirstEnd)>,
    },
}

/// How a fake owner ends its first connection.
#[derive(Debug, Clone, Copy)]
enum FirstEnd {
    /// Close 1001 `draining...`.
    Drain,
    /// Drop the TCP connection (a dead node).
    Drop,
}

/// A fake node: its address and the resume tokens of the Joins it got.
struct Node {
    addr: SocketAddr,
    joins: Arc<Mutex<Vec<String>>>,
}

/// Starts a fake node with `role`; `GET /cluster` answers `cluster()`.
async fn node(role: Role, cluster: Arc<Mutex<String>>) -> Node {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let joins = Arc::new(Mutex::new(Vec::new()));
    let seen = joins.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (role, cluster, joins) = (role.clone(), cluster.clone(), seen.clone());
            tokio::spawn(async move {
                let _ = serve(tcp, role, cluster, joins).await;
            });
        }
    });
    Node { addr, joins }
}

async fn serve(
    mut tcp: TcpStream,
    role: Role,
    cluster: Arc<Mutex<String>>,
    joins: Arc<Mutex<Vec<String>>>,
) -> Option<()> {
    let mut head = [0u8; 64];
    let n = loop {
        let n = tcp.peek(&mut head).await.ok()?;
        if n == 0 {
            return None;
        }
        if head[..n].contains(&b'\n') || n == head.len() {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    if head[..n].starts_with(b"GET /cluster ") {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let body = cluster.lock().unwrap().clone();
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        tcp.write_all(reply.as_bytes()).await.ok()?;
        return Some(());
    }
    let mut ws = tokio_tungstenite::accept_async(tcp).await.ok()?;
    match role {
        Role::Close(code, reason) => {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            ws.send(Message::Close(Some(frame))).await.ok()?;
            while let Some(Ok(_)) = ws.next().await {}
        }
        Role::Owner { end_first } => {
            let join = loop {
                if let Message::Binary(bytes) = ws.next().await?.ok()?
                    && let Ok(ClientMsg::Join(join)) = decode_client(&bytes)
                {
                    break join;
                }
            };
            let n = {
                let mut joins = joins.lock().unwrap();
                joins.push(join.resume.clone());
                joins.len()
            };
            let welcome = Welcome {
                version: PROTOCOL_VERSION,
                player_id: 1,
                room: "r".into(),
                game: GAME.into(),
                tick_rate_hz: 20,
                sim_rate_hz: 20,
                tick: 1,
                schema: schema().encode(),
                config: "{}".into(),
                resume_token: format!("tok-{n}"),
                resumed: !join.resume.is_empty(),
            };
            let bytes = encode_server(&ServerMsg::Welcome(welcome));
            ws.send(Message::binary(bytes)).await.ok()?;
            let end = end_first.filter(|_| n == 1);
            let ended = async {
                match end {
                    Some((after, _)) => tokio::time::sleep(after).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(ended);
            loop {
                tokio::select! {
                    msg = ws.next() => if !matches!(msg, Some(Ok(_))) { break },
                    _ = &mut ended => {
                        if let Some((_, FirstEnd::Drop)) = end {
                            return None;
                        }
                        let frame = CloseFrame {
                            code: CloseCode::Away,
                            reason: "draining: rejoin through the matchmaker".into(),
                        };
                        ws.send(Message::Close(Some(frame))).await.ok()?;
                        while let Some(Ok(_)) = ws.next().await {}
                        break;
                    }
                }
            }
        }
    }
    Some(())
}

fn cluster_json(members: &[(&str, SocketAddr)]) -> String {
    let members: Vec<String> = members
        .iter()
        .map(|(id, addr)| format!(r#"{{"id":"{id}","url":"ws://{addr}","state":"up","rooms":1}}"#))
        .collect();
    format!(
        r#"{{"node":"a","mode":"static","members":[{}]}}"#,
        members.join(",")
    )
}

/// The fake nodes' game: one the bots have no behaviours for, so they play
/// `random`.
const GAME: &str = "test-game";

fn schema() -> Schema {
    let input = Shape::new("go", vec![Field::new("dx", FieldType::Scalar(Scalar::I8))]);
    Schema::new(GAME, 1, vec![], input, vec![]).unwrap()
}

async fn swarm(url: String, bots: usize, run_for: Duration) -> Report {
    let config = SwarmConfig {
        url,
        game: GAME.into(),
        placement: Placement::Fill {
            bots,
            per_room: bots,
        },
        duration: Some(run_for),
        connect_timeout: Duration::from_secs(5),
        ..SwarmConfig::default()
    };
    crate::run(config, std::future::pending()).await.unwrap()
}

#[tokio::test]
async fn follows_a_redirect_and_rejoins_through_the_entry_after_a_drain() {
    let cluster = Arc::new(Mutex::new(String::new()));
    let entry = node(Role::Close(4001, "node=b"), cluster.clone()).await;
    let owner = node(
        Role::Owner {
            end_first: Some((Duration::from_millis(300), FirstEnd::Drain)),
        },
        cluster.clone(),
    )
    .await;
    *cluster.lock().unwrap() = cluster_json(&[("a", entry.addr), ("b", owner.addr)]);

    let report = swarm(
        format!("http://{}", entry.addr),
        1,
        Duration::from_millis(1500),
    )
    .await;
    let all = &report.all;
    assert_eq!(all.counts.redirects, 2, "{report}");
    assert_eq!(all.counts.drain_rejoins, 1, "{report}");
    assert_eq!(all.counts.connections, 2, "{report}");
    assert_eq!(all.counts.connect_errors, 0, "{report}");
    assert_eq!(all.disconnects_by_reason.get("1001"), Some(&1), "{report}");
    assert_eq!(all.rejoin_ms.map(|s| s.count), Some(1), "{report}");
    // The resume token of the first Welcome went along to the rejoin.
    assert_eq!(*owner.joins.lock().unwrap(), ["", "tok-1"]);
    assert!(entry.joins.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_loop_falls_back_to_the_backoff() {
    let cluster = Arc::new(Mutex::new(String::new()));
    let entry = node(Role::Close(4001, "node=a"), cluster.clone()).await;
    *cluster.lock().unwrap() = cluster_json(&[("a", entry.addr)]);

    let report = swarm(
        format!("http://{}", entry.addr),
        1,
        Duration::from_millis(800),
    )
    .await;
    let all = &report.all;
    let loops = all.connect_error_reasons.get("redirect-loop").copied();
    assert!(loops >= Some(1), "{report}");
    let loops = loops.unwrap_or(0);
    assert_eq!(all.counts.connections, 0, "{report}");
    // Four follows per round, then a backoff of at least 125 ms.
    assert!(all.counts.redirects >= 4 * loops, "{report}");
    assert!(all.counts.redirects <= 4 * (loops + 1), "{report}");
}

#[tokio::test]
async fn an_unknown_node_goes_back_to_the_entry() {
    let cluster = Arc::new(Mutex::new(String::new()));
    let entry = node(Role::Close(4001, "node=gone"), cluster.clone()).await;
    *cluster.lock().unwrap() = cluster_json(&[("a", entry.addr)]);

    let report = swarm(
        format!("http://{}", entry.addr),
        1,
        Duration::from_millis(400),
    )
    .await;
    let all = &report.all;
    assert!(
        all.connect_error_reasons.get("unknown-node") >= Some(&1),
        "{report}"
    );
    assert_eq!(all.counts.redirects, 0, "{report}");
}

#[tokio::test]
async fn another_4001_reconnects_through_the_entry_at_once() {
    let cluster = Arc::new(Mutex::new(String::new()));
    let entry = node(Role::Close(4001, "room lives elsewhere"), cluster.clone()).await;
    let report = swarm(
        format!("http://{}", entry.addr),
        1,
        Duration::from_millis(200),
    )
    .await;
    let all = &report.all;
    // Four at once (one attempt and four hops), then the backoff.
    assert!(
        all.connect_error_reasons.get("close-4001") >= Some(&5),
        "{report}"
    );
    assert_eq!(all.counts.redirects, 0, "{report}");
}

#[tokio::test]
async fn a_failed_entry_rotates_to_the_next_one() {
    let cluster = Arc::new(Mutex::new(String::new()));
    // A socket bound but never listening: connects are refused, and the port
    // stays ours for the whole test (a released port can be handed to another
    // test's fake node running in parallel, which once made this one drain).
    let dead_socket = tokio::net::TcpSocket::new_v4().unwrap();
    dead_socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let dead = dead_socket.local_addr().unwrap();
    let owner = node(Role::Owner { end_first: None }, cluster).await;
    // Bot 0 starts on the dead entry and moves on; bot 1 starts on the live one.
    let report = swarm(
        format!("http://{dead}, http://{}", owner.addr),
        2,
        Duration::from_millis(800),
    )
    .await;
    let all = &report.all;
    assert_eq!(all.counts.connections, 2, "{report}");
    assert_eq!(
        all.connect_error_reasons.get("tcp-refused"),
        Some(&1),
        "{report}"
    );
    assert_eq!(
        report.endpoint,
        format!("ws://{dead}/ws,ws://{}/ws", owner.addr)
    );
    drop(dead_socket);
}

#[tokio::test]
async fn a_lost_owner_is_rejoined_through_the_entry() {
    let cluster = Arc::new(Mutex::new(String::new()));
    let entry = node(Role::Close(4001, "node=b"), cluster.clone()).await;
    let owner = node(
        Role::Owner {
            end_first: Some((Duration::from_millis(200), FirstEnd::Drop)),
        },
        cluster.clone(),
    )
    .await;
    *cluster.lock().unwrap() = cluster_json(&[("a", entry.addr), ("b", owner.addr)]);

    let report = swarm(
        format!("http://{}", entry.addr),
        1,
        Duration::from_millis(1500),
    )
    .await;
    let all = &report.all;
    assert_eq!(all.counts.disconnects, 1, "{report}");
    assert_eq!(all.counts.redirects, 2, "{report}");
    assert_eq!(all.counts.drain_rejoins, 0, "{report}");
    assert_eq!(all.counts.connections, 2, "{report}");
    let rejoin = all.rejoin_ms.expect("a rejoin");
    // The usual backoff: 250 ms × [0.5, 1.5).
    assert!(rejoin.count == 1 && rejoin.min >= 125.0, "{report}");
    assert_eq!(*owner.joins.lock().unwrap(), ["", "tok-1"]);
}

#[tokio::test]
async fn a_drained_entry_rotates_to_the_next_one() {
    let cluster = Arc::new(Mutex::new(String::new()));
    let first = node(
        Role::Owner {
            end_first: Some((Duration::from_millis(200), FirstEnd::Drain)),
        },
        cluster.clone(),
    )
    .await;
    let second = node(Role::Owner { end_first: None }, cluster).await;
    let report = swarm(
        format!("http://{},http://{}", first.addr, second.addr),
        1,
        Duration::from_millis(1000),
    )
    .await;
    let all = &report.all;
    assert_eq!(all.counts.drain_rejoins, 1, "{report}");
    assert_eq!(all.counts.connections, 2, "{report}");
    let rejoin = all.rejoin_ms.expect("a rejoin");
    // At once (0-250 ms of jitter), not after a growing backoff; generous for a busy machine.
    assert!(rejoin.count == 1 && rejoin.max < 1000.0, "{report}");
    assert_eq!(*first.joins.lock().unwrap(), [""]);
    assert_eq!(*second.joins.lock().unwrap(), ["tok-1"]);
}
