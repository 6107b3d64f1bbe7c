//! Test helpers: a server on `127.0.0.1:0`, a WebSocket test client that
//! speaks the protocol, and HTTP requests and `/metrics` samples through the
//! client and parser the bench harness uses too (`tickroom_bots::{http, prom}`).
//!
//! Every wait is bounded: [`within`] and [`eventually`] panic after
//! [`PATIENCE`] with what was awaited, and every helper that reads or writes a
//! socket goes through them. A count of frames bounds a loop over frames.

use std::{
    fmt,
    future::Future,
    io::Read,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tickroom_protocol::{
    self as proto, ClientMsg, ServerMsg,
    state::{Applied, Replica},
};
use tickroom_server::{Config, Server};
use tickroom_sim::{ArenaView, SeenPlayer};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{
    WebSocketStream, client_async,
    tungstenite::{Message, protocol::frame::coding::CloseCode},
};

/// Generous bound for anything that should happen within a few ticks; only a
/// hang trips it (tests never assert durations).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Awaits `fut` for at most [`PATIENCE`]; panics naming `what` if it takes longer.
pub async fn within<T>(what: impl fmt::Display, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(PATIENCE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {PATIENCE:?} waiting for {what}"),
    }
}

/// Polls `probe` every 20 ms until it returns `Ok`, for at most [`PATIENCE`];
/// then panics naming `what` and the last `Err` (what was seen instead).
pub async fn eventually<T, E, F, Fut>(what: impl fmt::Display, probe: F) -> T
where
    E: fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    poll_until(what, PATIENCE, Duration::from_millis(20), probe).await
}

/// Polls `probe` every `every` until it returns `Ok`, for at most `limit`;
/// then panics naming `what` and the last `Err` (what was seen instead).
pub async fn poll_until<T, E, F, Fut>(
    what: impl fmt::Display,
    limit: Duration,
    every: Duration,
    mut probe: F,
) -> T
where
    E: fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = None;
    loop {
        match tokio::time::timeout_at(deadline, probe()).await {
            Ok(Ok(v)) => return v,
            Ok(Err(seen)) => last = Some(seen),
            Err(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            match last {
                Some(seen) => {
                    panic!("timed out after {limit:?} waiting for {what}; last seen: {seen:?}")
                }
                None => panic!("timed out after {limit:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// Runs `cmd` to completion or until `limit`, collecting stdout and stderr;
/// returns the exit code, both outputs and whether it was killed at the limit.
/// At the limit the child is killed. Output that a process it started still
/// holds open (node's Chromium, say) is waited for a few seconds only.
/// Blocking: call it from `spawn_blocking` in async tests.
pub fn run_with_limit(mut cmd: Command, limit: Duration) -> (Option<i32>, String, String, bool) {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run `{program}` (is it installed?): {e}"));
    // Each pipe is read on a thread into a shared buffer, so what was read is
    // there even if a leftover process keeps the pipe open.
    let drain = |mut r: Box<dyn Read + Send>| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = r.read(&mut chunk) {
                sink.lock()
                    .expect("output lock")
                    .extend_from_slice(&chunk[..n]);
            }
        });
        (reader, buf)
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().expect("wait for the child") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("wait after kill");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let until = Instant::now() + Duration::from_secs(5);
    let collect = |(reader, buf): (std::thread::JoinHandle<()>, Arc<Mutex<Vec<u8>>>)| {
        while !reader.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut text = String::from_utf8_lossy(&buf.lock().expect("output lock")).into_owned();
        if !reader.is_finished() {
            text.push_str(&format!(
                "\n(`{program}` exited, but a process it started still holds this output open)"
            ));
        }
        text
    };
    (status.code(), collect(out), collect(err), timed_out)
}

/// A config for tests: ephemeral port, two workers.
pub fn test_config() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().expect("addr"),
        workers: 2,
        ..Config::default()
    }
}

/// Starts a server with `config` hosting the arena.
pub async fn start(config: Config) -> Server {
    Server::start(config, games()).await.expect("server starts")
}

pub type Ws = WebSocketStream<TcpStream>;

/// Opens a WebSocket to `/ws?{query}` without joining. `recv_buffer` shrinks
/// the client's kernel receive buffer (to make a slow reader back up fast).
pub async fn open(addr: SocketAddr, query: &str, recv_buffer: Option<u32>) -> Ws {
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let url = format!("ws://{addr}/ws?{query}");
    within(format!("the WebSocket handshake with {url}"), async {
        let tcp = socket.connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (ws, _) = client_async(url.as_str(), tcp)
            .await
            .expect("WebSocket handshake");
        ws
    })
    .await
}

/// Opens a WebSocket to `path_and_query` (any path, e.g. `/n/b/ws?room=x`
/// through a proxy) without joining.
pub async fn open_path(addr: SocketAddr, path_and_query: &str) -> Ws {
    let url = format!("ws://{addr}{path_and_query}");
    within(format!("the WebSocket handshake with {url}"), async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (ws, _) = client_async(url.as_str(), tcp)
            .await
            .expect("WebSocket handshake");
        ws
    })
    .await
}

/// A joined player of the arena.
pub struct Client {
    pub ws: Ws,
    pub player_id: u32,
    pub welcome: proto::Welcome,
    pub seq: u32,
    pub last_tick: u32,
    /// The newest input sequence number the room says it applied.
    pub ack: u32,
    /// The room state rebuilt from whole frames and deltas.
    pub replica: Replica,
    /// Whole frames and deltas received.
    pub fulls: u32,
    pub deltas: u32,
}

pub async fn send(ws: &mut Ws, msg: &ClientMsg) {
    let bytes = Bytes::from(proto::encode_client(msg));
    within(
        "the server to take a message",
        ws.send(Message::Binary(bytes)),
    )
    .await
    .expect("send");
}

pub fn join_msg(name: &str) -> ClientMsg {
    ClientMsg::Join(proto::Join {
        version: proto::PROTOCOL_VERSION,
        name: name.into(),
        resume: String::new(),
    })
}

/// Reads the next protocol message; panics on close, error or timeout.
pub async fn recv(ws: &mut Ws) -> ServerMsg {
    within("a message from the server", async {
        loop {
            let msg = ws
                .next()
                .await
                .expect("stream open")
                .expect("no WebSocket error");
            match msg {
                Message::Binary(b) => {
                    return proto::decode_server(&b).expect("server message decodes");
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    })
    .await
}

/// Reads until the server closes; returns the close code and reason.
/// Frames before the close are skipped (for at most [`PATIENCE`]: a room
/// ticking on forever does not keep this waiting).
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    within("the server to close the connection", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => {
                    return (u16::from(CloseCode::Status), String::new());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("connection failed instead of closing: {e}"),
                None => panic!("connection ended without a close frame"),
            }
        }
    })
    .await
}

impl Client {
    /// Connects to `room` and joins as `name`.
    pub async fn join(addr: SocketAddr, room: &str, name: &str) -> Client {
        Client::join_resuming(addr, room, name, "").await
    }

    /// Connects to `room` and joins as `name` with a resume token (empty for
    /// a fresh join); the Welcome says whether the player was taken back.
    pub async fn join_resuming(addr: SocketAddr, room: &str, name: &str, resume: &str) -> Client {
        let mut ws = open(addr, &format!("room={room}"), None).await;
        let join = ClientMsg::Join(proto::Join {
            version: proto::PROTOCOL_VERSION,
            name: name.into(),
            resume: resume.into(),
        });
        send(&mut ws, &join).await;
        match recv(&mut ws).await {
            ServerMsg::Welcome(welcome) => Client {
                ws,
                player_id: welcome.player_id,
                seq: 0,
                last_tick: 0,
                ack: 0,
                replica: Replica::from_welcome(&welcome).expect("the welcome's schema decodes"),
                fulls: 0,
                deltas: 0,
                welcome,
            },
            other => panic!("expected Welcome, got {other:?}"),
        }
    }

    /// The room state after the next frame (pongs are skipped). Every delta
    /// must apply to the state held and hash to the server's checksum.
    pub async fn snapshot(&mut self) -> Frame {
        loop {
            let msg = recv(&mut self.ws).await;
            if let Some(frame) = self.apply(msg) {
                return frame;
            }
        }
    }

    /// Applies a state to the replica; `None` for other messages.
    fn apply(&mut self, msg: ServerMsg) -> Option<Frame> {
        let ServerMsg::State(state) = msg else {
            return None;
        };
        Some(self.apply_state(&state).1)
    }

    /// Applies one state to the replica (it must apply and hash to the
    /// server's checksum); what applying found, and the frame it made.
    pub fn apply_state(&mut self, state: &proto::State) -> (Applied, Frame) {
        let applied = self
            .replica
            .apply(state)
            .expect("every delta applies to the frame held");
        assert!(
            applied.checksum_ok,
            "checksum mismatch at tick {}",
            applied.tick
        );
        if applied.full {
            self.fulls += 1;
        } else {
            self.deltas += 1;
        }
        self.ack = state.ack_seq;
        self.last_tick = applied.tick;
        let frame = self.replica.frame().expect("a frame");
        let view = ArenaView::read(self.replica.schema(), frame).expect("an arena frame");
        (applied, view)
    }

    /// The room's config, from the Welcome (every field, defaults filled in).
    pub fn config(&self) -> serde_json::Value {
        serde_json::from_str(&self.welcome.config).expect("the Welcome's config is JSON")
    }

    /// Pings and returns the room's newest tick when the server answered.
    /// Every frame that comes before the Pong is applied to the replica, so
    /// any frame read later with a tick above the returned one plus one was
    /// built after the room had handled everything sent before the ping.
    pub async fn room_tick(&mut self) -> u32 {
        let nonce = 0x7157_u32.wrapping_add(self.seq);
        send(&mut self.ws, &ClientMsg::Ping(proto::Ping { nonce })).await;
        within("the Pong to a ping", async {
            loop {
                let msg = recv(&mut self.ws).await;
                match msg {
                    ServerMsg::Pong(p) if p.nonce == nonce => return p.tick,
                    other => {
                        self.apply(other);
                    }
                }
            }
        })
        .await
    }

    /// Reads frames until one lists exactly `n` players (joins and leaves
    /// land on the room's next tick); returns it.
    pub async fn wait_players(&mut self, n: usize) -> Frame {
        let mut seen = 0;
        for _ in 0..200 {
            let s = self.snapshot().await;
            seen = s.players.len();
            if seen == n {
                return s;
            }
        }
        panic!("the room never had {n} players in 200 frames (last: {seen})");
    }

    /// Reads frames until the room acknowledges input `seq`; returns that
    /// frame. Bounded by a count of frames: inputs apply on the next tick.
    pub async fn wait_acked(&mut self, seq: u32) -> Frame {
        for _ in 0..200 {
            let s = self.snapshot().await;
            if self.ack >= seq {
                return s;
            }
        }
        panic!(
            "input {seq} was not acknowledged in 200 frames (last acknowledged: {})",
            self.ack
        );
    }

    /// Sends one input steering `steer`; returns its sequence number.
    pub async fn input(&mut self, steer: [i8; 2]) -> u32 {
        self.seq += 1;
        let mut data = Vec::new();
        tickroom_sim::catalogue().encode_input(
            &tickroom_sim::SteerInput {
                x: steer[0],
                y: steer[1],
            },
            &mut data,
        );
        let msg = ClientMsg::Input(proto::Input {
            seq: self.seq,
            ack_tick: self.last_tick,
            data,
        });
        send(&mut self.ws, &msg).await;
        self.seq
    }

    /// This client's own player in a frame.
    pub fn me<'a>(&self, s: &'a Frame) -> &'a SeenPlayer {
        s.player(self.player_id).expect("own player in the frame")
    }
}

/// An arena room's frame as a client sees it.
pub type Frame = ArenaView;

/// The games the tests' servers host: the arena (the demo).
pub fn games() -> tickroom_server::Games {
    let mut games = tickroom_server::Games::new();
    games
        .register::<tickroom_sim::Arena>()
        .expect("the arena registers");
    games
}

/// One HTTP/1.1 request on a fresh connection (`extra` is raw header lines,
/// each ending in CRLF; `body` is sent as is); returns the status, the
/// headers (names lower-cased) and the body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers: Vec<(&str, &str)> = extra
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header line `Name: value`");
            (k.trim(), v.trim())
        })
        .collect();
    let body = bytes::Bytes::copy_from_slice(body.as_bytes());
    let r = tokio::time::timeout(
        PATIENCE,
        tickroom_bots::http::request(addr, method, path, &headers, body),
    )
    .await
    .expect("response in time")
    .expect("HTTP request");
    (r.status, r.headers, r.body.to_vec())
}

/// GET `path` over a fresh HTTP/1.1 connection; returns status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = request(addr, "GET", path, "", "").await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The value of one sample in `/metrics`, as written there (e.g.
/// `tickroom_ticks_total` or `tickroom_frames_dropped_total{reason="stale"}`);
/// 0 when absent.
pub async fn metric(addr: SocketAddr, series: &str) -> f64 {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    tickroom_bots::prom::Scrape::parse(&body).get(series)
}

/// Waits (polling `/metrics`) until `series` reaches at least `at_least`;
/// returns its value then. Panics after [`PATIENCE`], naming the series.
pub async fn wait_metric(addr: SocketAddr, series: &str, at_least: f64) -> f64 {
    eventually(format!("`{series}` to reach {at_least}"), || async {
        let v = metric(addr, series).await;
        if v >= at_least { Ok(v) } else { Err(v) }
    })
    .await
}

/// A fresh empty directory `tickroom-<tag>-…` under the system's temporary
/// directory (unique per process, call and time).
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "tickroom-{tag}-{}-{}-{nanos}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Replays every recording in `dir` (in name order) with `games`; each must
/// end clean (every frame's checksum matched, ending as recorded) and have
/// ticks. Returns each one's game.
pub fn replay_all_clean(dir: &std::path::Path, games: &tickroom_server::Games) -> Vec<String> {
    use tickroom_server::recording::replay::{Replay, ReplayOptions};
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the record dir {}: {e}", dir.display()))
        .map(|e| e.expect("a dir entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let f = std::fs::File::open(file).expect("open a recording");
            let summary = Replay::open(std::io::BufReader::new(f), games)
                .expect("the header reads")
                .run(ReplayOptions::default(), |_, _| {});
            assert!(summary.is_clean(), "{}:\n{summary}", file.display());
            assert!(summary.ticks > 0, "{}: no ticks", file.display());
            summary.game
        })
        .collect()
}

/// A [`temp_dir`] removed when dropped (a failing test's too).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(temp_dir(tag))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on right now: bind `127.0.0.1:0`, read it, release
/// it. Another process may take it before the caller does: callers retry.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0 to pick a port")
        .port()
}

/// Copies everything `child` prints (stdout and stderr) into `log`, on two
/// threads, for failure messages.
pub fn capture_output(child: &mut Child, log: &Arc<Mutex<Vec<u8>>>) {
    let pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ];
    for mut pipe in pipes.into_iter().flatten() {
        let sink = Arc::clone(log);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock()
                    .expect("output lock")
                    .extend_from_slice(&chunk[..n]);
            }
        });
    }
}

/// Runs `cmd` under `limit` ([`run_with_limit`]), failing the test with its
/// output unless it exits 0 in time; its stdout.
pub fn run_ok(what: &str, cmd: Command, limit: Duration) -> String {
    let (code, stdout, stderr, timed_out) = run_with_limit(cmd, limit);
    assert!(
        code == Some(0) && !timed_out,
        "{what} failed (exit {code:?}{}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        if timed_out {
            format!(", killed after {limit:?}")
        } else {
            String::new()
        }
    );
    stdout
}

/// Whether `program --version` runs and succeeds here (output discarded).
pub fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `true` when a test that needs an outside program (`what`, found when
/// `available`) should run; `false` (after a loud message) when it should be
/// skipped. Under `CI=true` a missing program fails the test instead: CI
/// must not pass by skipping. `how` says how to install it.
pub fn required_program(test: &str, what: &str, available: bool, how: &str) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: {what} missing (CI=true, so this fails instead of skipping); {how}");
    }
    eprintln!("\n!!!!!!!!\n!!! SKIPPED {test}: {what} missing; {how}\n!!!!!!!!\n");
    false
}
