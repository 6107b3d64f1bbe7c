//! Cluster-aware clients for tests: HTTP calls that report failure instead of
//! panicking (a node may be dead), `GET /cluster`, a WebSocket join that
//! follows `4001 node=<owner>` and retries through the entry node the way the
//! contract tells clients to, and a [`Session`]: a joined player read by a
//! background task (frames counted, ticks tracked, inputs acknowledging them
//! so flow control keeps frames coming) until its connection ends.
//!
//! Every wait is bounded by an explicit limit and panics naming what it
//! waited for and what it saw.

use std::{
    fmt,
    future::Future,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tickroom_protocol::{self as proto, ClientMsg, ServerMsg, state::Replica};
use tokio::{net::TcpStream, task::JoinHandle};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

/// Bound on one HTTP request or one WebSocket connect-and-join attempt.
pub const STEP: Duration = Duration::from_secs(5);

pub type ClusterWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Polls `probe` every 50 ms until it returns `Ok`, for at most `limit`;
/// then panics naming `what` and the last `Err`.
pub async fn until<T, E, F, Fut>(what: impl fmt::Display, limit: Duration, probe: F) -> T
where
    E: fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    crate::util::poll_until(what, limit, Duration::from_millis(50), probe).await
}

/// One HTTP request with an optional JSON body; the status and the body as
/// JSON (`Value::Null` when empty or not JSON), or why it failed.
pub async fn try_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let headers: &[(&str, &str)] = if body.is_empty() {
        &[]
    } else {
        &[("content-type", "application/json")]
    };
    let call = tickroom_bots::http::request(addr, method, path, headers, Bytes::from(body));
    match tokio::time::timeout(STEP, call).await {
        Ok(Ok(r)) => Ok((
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )),
        Ok(Err(e)) => Err(format!("{method} {path} at {addr}: {e}")),
        Err(_) => Err(format!(
            "{method} {path} at {addr}: no answer within {STEP:?}"
        )),
    }
}

/// [`try_json`] that must succeed (the node is meant to be up).
pub async fn json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    try_json(addr, method, path, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `GET /cluster` at `addr`: the member ids and WebSocket base urls, as listed.
pub async fn members(addr: SocketAddr) -> Result<Vec<(String, String)>, String> {
    let (status, body) = try_json(addr, "GET", "/cluster", None).await?;
    if status != 200 {
        return Err(format!("GET /cluster at {addr}: {status} {body}"));
    }
    let list = body["members"]
        .as_array()
        .ok_or_else(|| format!("GET /cluster at {addr}: no members array: {body}"))?;
    Ok(list
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap_or_default().to_owned(),
                m["url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// `GET /cluster` at `addr` lists exactly `want` (sorted ids), or what it listed.
pub async fn lists_members(addr: SocketAddr, want: &[&str]) -> Result<(), String> {
    let ids: Vec<String> = members(addr).await?.into_iter().map(|(id, _)| id).collect();
    if ids == want {
        Ok(())
    } else {
        Err(format!("{addr} lists {ids:?}"))
    }
}

/// The owner of `room` according to `GET /rooms/{room}` at `addr`.
pub async fn owner(addr: SocketAddr, room: &str) -> Result<String, String> {
    let (status, body) = try_json(addr, "GET", &format!("/rooms/{room}"), None).await?;
    match (status, body["node"].as_str()) {
        (200, Some(node)) => Ok(node.to_owned()),
        _ => Err(format!("GET /rooms/{room} at {addr}: {status} {body}")),
    }
}

/// The address in a WebSocket base url (`ws://127.0.0.1:1234`, maybe with a path).
pub fn ws_addr(url: &str) -> Option<SocketAddr> {
    let rest = url.strip_prefix("ws://")?;
    rest.split('/').next()?.parse().ok()
}

/// How one connect-and-join attempt ended.
#[derive(Debug)]
pub enum Attempt {
    Welcome(Box<ClusterWs>, proto::Welcome),
    /// The server closed with this code and reason.
    Closed(u16, String),
    /// No connection, no handshake, an error or no answer in time.
    Failed(String),
}

/// Connects to `addr`'s `/ws?room=..&name=..`, sends Join (even if the
/// server already closed: the contract allows a Join before a 4001) and
/// reads the answer, all within [`STEP`].
pub async fn attempt(addr: SocketAddr, room: &str, name: &str) -> Attempt {
    attempt_resuming(addr, room, name, "").await
}

/// [`attempt`] with a resume token (empty: a fresh join).
pub async fn attempt_resuming(addr: SocketAddr, room: &str, name: &str, resume: &str) -> Attempt {
    let url = format!("ws://{addr}/ws?room={room}&name={name}");
    let run = async {
        let mut ws = match connect_async(url.as_str()).await {
            Ok((ws, _)) => ws,
            Err(e) => return Attempt::Failed(format!("connect: {e}")),
        };
        let join = ClientMsg::Join(proto::Join {
            version: proto::PROTOCOL_VERSION,
            name: name.into(),
            resume: resume.into(),
        });
        let _ = ws
            .send(Message::Binary(Bytes::from(proto::encode_client(&join))))
            .await;
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(b))) => match proto::decode_server(&b) {
                    Ok(ServerMsg::Welcome(w)) => return Attempt::Welcome(Box::new(ws), w),
                    other => return Attempt::Failed(format!("before Welcome: {other:?}")),
                },
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Attempt::Closed(u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => return Attempt::Closed(1005, String::new()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Attempt::Failed(e.to_string()),
                None => return Attempt::Failed("ended without a close frame".into()),
            }
        }
    };
    match tokio::time::timeout(STEP, run).await {
        Ok(a) => a,
        Err(_) => Attempt::Failed(format!("no Welcome or close within {STEP:?}")),
    }
}

/// A player that got in.
#[derive(Debug)]
pub struct Joined {
    pub ws: Box<ClusterWs>,
    pub welcome: proto::Welcome,
    /// The node that answered with the Welcome.
    pub node: String,
    /// Attempts made (1 when the first one got in).
    pub tries: usize,
    /// How each failed attempt ended, in order.
    pub trail: Vec<String>,
    pub elapsed: Duration,
}

impl Joined {
    /// The trail with runs of the same outcomes counted: `3× [n1: 4001
    /// node=n3, n3: connect: …refused] then n1: 4001 node=n2`.
    pub fn summary(&self) -> String {
        let mut out: Vec<(usize, &[String])> = Vec::new();
        let mut rest = &self.trail[..];
        while !rest.is_empty() {
            // The shortest period (1 or 2 attempts) that repeats at the start.
            let period = if rest.len() >= 4 && rest[0] != rest[1] && rest[..2] == rest[2..4] {
                2
            } else {
                1
            };
            let unit = &rest[..period];
            let mut n = 0;
            while rest.len() >= period && &rest[..period] == unit {
                rest = &rest[period..];
                n += 1;
            }
            out.push((n, unit));
        }
        out.iter()
            .map(|(n, unit)| match (n, unit.len()) {
                (1, _) => unit.join(", "),
                (n, 1) => format!("{n}× {}", unit[0]),
                (n, _) => format!("{n}× [{}]", unit.join(", ")),
            })
            .collect::<Vec<_>>()
            .join(" then ")
    }
}

/// A jittered pause: `base` plus up to half of it more.
async fn pause(base: Duration) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let jitter = base.mul_f64(f64::from(nanos % 1000) / 2000.0);
    tokio::time::sleep(base + jitter).await;
}

/// Joins `room` as `name` through the entry node (`entry_id` at `entry`),
/// as the contract tells a client to: `4001 node=<owner>` is followed at
/// once to the owner's url from the entry's `GET /cluster`; any other 4001
/// and 1001 go back to the entry at once (small jitter); 1013, a refused
/// connection or a drop back off (jittered, doubling up to 1 s). Panics with
/// every attempt's outcome if no Welcome came within `limit`.
pub async fn join_via(
    entry_id: &str,
    entry: SocketAddr,
    room: &str,
    name: &str,
    limit: Duration,
) -> Joined {
    let started = Instant::now();
    let home = (entry, entry_id.to_owned());
    let mut target = home.clone();
    let mut backoff = Duration::from_millis(50);
    let mut trail = Vec::new();
    // Whether the attempt just made followed a 4001: a second follow in a row
    // backs off, so two nodes disagreeing cannot make this spin.
    let mut followed = false;
    loop {
        assert!(
            started.elapsed() < limit,
            "{name} could not join {room} through {entry_id} within {limit:?}; attempts:\n  {}",
            trail.join("\n  ")
        );
        let at = target.1.clone();
        let (line, next, wait) = match attempt(target.0, room, name).await {
            Attempt::Welcome(ws, welcome) => {
                assert_eq!(welcome.room, room, "the Welcome names the room joined");
                return Joined {
                    ws,
                    welcome,
                    node: at,
                    tries: trail.len() + 1,
                    trail,
                    elapsed: started.elapsed(),
                };
            }
            Attempt::Closed(4001, reason) if reason.starts_with("node=") => {
                let owner = reason["node=".len()..].to_owned();
                let line = format!("{at}: 4001 {reason}");
                match resolve(entry, &owner).await {
                    Ok(addr) => {
                        let wait = followed.then(|| next_backoff(&mut backoff));
                        (line, Some((addr, owner)), wait)
                    }
                    Err(e) => (
                        format!("{line}; {e}"),
                        None,
                        Some(next_backoff(&mut backoff)),
                    ),
                }
            }
            Attempt::Closed(code @ (4001 | 1001), reason) => (
                format!("{at}: {code} {reason}"),
                None,
                Some(Duration::from_millis(20)),
            ),
            Attempt::Closed(code, reason) => (
                format!("{at}: {code} {reason}"),
                None,
                Some(next_backoff(&mut backoff)),
            ),
            Attempt::Failed(why) => (
                format!("{at}: {why}"),
                None,
                Some(next_backoff(&mut backoff)),
            ),
        };
        trail.push(line);
        followed = next.is_some();
        target = next.unwrap_or_else(|| home.clone());
        if let Some(wait) = wait {
            pause(wait).await;
        }
    }
}

/// The WebSocket address of member `id` in the entry node's `GET /cluster`.
pub async fn resolve(entry: SocketAddr, id: &str) -> Result<SocketAddr, String> {
    let list = members(entry).await?;
    list.iter()
        .find(|(member, _)| member == id)
        .and_then(|(_, url)| ws_addr(url))
        .ok_or_else(|| format!("{entry}'s /cluster has no usable url for {id}: {list:?}"))
}

/// The current backoff, doubled for next time (up to 1 s).
fn next_backoff(backoff: &mut Duration) -> Duration {
    let now = *backoff;
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
    now
}

/// How a session's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A close frame from the server: code and reason.
    Closed(u16, String),
    /// No close frame: the connection dropped, or a read or write failed.
    Dropped(String),
}

/// What a session's reader saw so far.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Frames received (whole and deltas), each applied to the session's
    /// replica.
    pub frames: u64,
    /// The newest frame's tick.
    pub last_tick: u32,
    /// How the connection ended, once it did.
    pub ended: Option<End>,
}

/// A joined player, read by a background task until its connection ends.
/// The task sends an input every 100 ms acknowledging the newest tick, so the
/// server's flow control keeps sending frames.
#[derive(Debug)]
pub struct Session {
    pub room: String,
    pub name: String,
    pub node: String,
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Session {
    /// Starts reading `joined`'s connection.
    pub fn run(joined: Joined, name: &str) -> Session {
        let seen = Arc::new(Mutex::new(Seen {
            last_tick: joined.welcome.tick,
            ..Seen::default()
        }));
        let state = Arc::clone(&seen);
        let mut ws = joined.ws;
        let mut replica =
            Replica::from_welcome(&joined.welcome).expect("the welcome's schema decodes");
        let mut steer = Vec::new();
        tickroom_sim::catalogue()
            .encode_input(&tickroom_sim::SteerInput { x: 60, y: 20 }, &mut steer);
        let task = tokio::spawn(async move {
            let mut inputs = tokio::time::interval(Duration::from_millis(100));
            let mut seq = 0u32;
            let end = loop {
                tokio::select! {
                    msg = ws.next() => match msg {
                        Some(Ok(Message::Binary(b))) => {
                            let tick = match proto::decode_server(&b) {
                                Ok(ServerMsg::State(s)) => match replica.apply(&s) {
                                    Ok(applied) if applied.checksum_ok => applied.tick,
                                    Ok(applied) => break End::Dropped(format!("checksum mismatch at tick {}", applied.tick)),
                                    Err(e) => break End::Dropped(format!("frame does not apply: {e}")),
                                },
                                Ok(_) => continue,
                                Err(e) => break End::Dropped(format!("undecodable message: {e:?}")),
                            };
                            let mut seen = state.lock().expect("session lock");
                            seen.frames += 1;
                            seen.last_tick = tick;
                        }
                        Some(Ok(Message::Close(Some(frame)))) => {
                            break End::Closed(u16::from(frame.code), frame.reason.to_string());
                        }
                        Some(Ok(Message::Close(None))) => break End::Closed(1005, String::new()),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break End::Dropped(e.to_string()),
                        None => break End::Dropped("stream ended".into()),
                    },
                    _ = inputs.tick() => {
                        seq += 1;
                        let ack_tick = state.lock().expect("session lock").last_tick;
                        let input = ClientMsg::Input(proto::Input { seq, ack_tick, data: steer.clone() });
                        let bytes = Bytes::from(proto::encode_client(&input));
                        if let Err(e) = ws.send(Message::Binary(bytes)).await {
                            break End::Dropped(format!("send: {e}"));
                        }
                    }
                }
            };
            state.lock().expect("session lock").ended = Some(end);
        });
        Session {
            room: joined.welcome.room.clone(),
            name: name.to_owned(),
            node: joined.node,
            seen,
            task,
        }
    }

    /// What the reader saw so far.
    pub fn seen(&self) -> Seen {
        self.seen.lock().expect("session lock").clone()
    }

    /// Waits (bounded) for the connection to end; how it ended.
    pub async fn wait_end(&self, limit: Duration) -> End {
        until(
            format!(
                "{}'s connection to {} ({}) to end",
                self.name, self.node, self.room
            ),
            limit,
            || async { self.seen().ended.ok_or(self.seen().frames) },
        )
        .await
    }

    /// Waits (bounded) until a frame of tick `tick` or later arrived, the
    /// connection still open; that frame's tick.
    pub async fn wait_tick(&self, tick: u32, limit: Duration) -> u32 {
        until(
            format!(
                "{} in {} on {} to see tick {tick}",
                self.name, self.room, self.node
            ),
            limit,
            || async {
                let seen = self.seen();
                if let Some(end) = seen.ended {
                    panic!(
                        "{} in {} on {} lost its connection: {end:?}",
                        self.name, self.room, self.node
                    );
                }
                if seen.last_tick >= tick {
                    Ok(seen.last_tick)
                } else {
                    Err(seen)
                }
            },
        )
        .await
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}
