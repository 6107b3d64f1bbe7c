//! One bot: a tokio task that connects, joins its room, plays until the run
//! stops, and reconnects when its connection ends (churn by design, or the
//! server/network by accident).
//!
//! Per connection it keeps only what a player keeps: the newest tick, its own
//! position, the pellet list if it chases, and a ring of recent input send
//! times. Measurements go into the bot's [`Pending`] buffer and reach a shared
//! shard about once a second, so the hot path (decode a snapshot, find our
//! entry, record two numbers) never takes a contended lock.

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tickroom_protocol::{
    ClientMsg, Input, Join, MAX_SERVER_MESSAGE_BYTES, PROTOCOL_VERSION, ServerMsg, Welcome,
    decode_server, encode_client,
    quant::{pos_from_wire, vel_from_wire},
    replica::{ApplyError, Replica},
};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::watch,
    time::{self, MissedTickBehavior, Sleep},
};
use tokio_tungstenite::{
    WebSocketStream, client_async_with_config,
    tungstenite::{
        self, Message,
        error::ProtocolError,
        protocol::{CloseFrame, WebSocketConfig, frame::coding::CloseCode},
    },
};

use crate::{
    Behaviour, BotPlan, View,
    stats::{AckRing, FrameAge, Pending, Shard, TickTracker, us32},
    url::Target,
};

/// State shared by every bot of a run.
#[derive(Debug)]
pub(crate) struct Shared {
    pub shards: Box<[Mutex<Shard>]>,
    /// Bots currently past Welcome.
    pub connected: AtomicUsize,
    /// Time origin for the `u64` microsecond stamps in [`AckRing`].
    pub epoch: Instant,
}

impl Shared {
    pub(crate) fn new(shards: usize, live: bool) -> Self {
        Shared {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::new(live)))
                .collect(),
            connected: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    fn us_since_epoch(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }
}

/// Run-wide settings every bot reads.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    pub target: Target,
    pub addrs: Vec<SocketAddr>,
    pub input_hz: u32,
    pub reconnect: bool,
    pub connect_timeout: Duration,
    pub close_timeout: Duration,
    /// Pause between two reads of a slow reader.
    pub slow_read_interval: Duration,
}

/// One connection, owned whole by its bot's task: reads and writes take no
/// lock (a split into sink and stream halves would put a `BiLock` on both).
type Ws = WebSocketStream<TcpStream>;

/// How often a bot moves its measurements into its shard.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Reconnect backoff after a failure: doubles from MIN to MAX, with jitter.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A small WebSocket configuration: thousands of bots must fit in memory, and
/// a snapshot is a few KiB at most.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES))
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The run is stopping.
    Stop,
    /// A churning bot left on purpose.
    Churn,
    /// The server or network ended a connection that had reached Welcome.
    Lost,
    /// The connection never reached Welcome.
    Failed,
}

/// Per-connection state.
struct Session {
    player_id: u32,
    welcome_tick: u32,
    ticks: TickTracker,
    ring: AckRing,
    seq: u32,
    last_arrival: Option<Instant>,
    missed: u64,
    non_increasing: u64,
    view: View,
    /// The room state rebuilt from full snapshots and deltas.
    replica: Replica,
    /// Staleness of each frame on arrival.
    age: FrameAge,
}

struct Bot {
    plan: BotPlan,
    ctx: Arc<Ctx>,
    url: String,
    behaviour: Behaviour,
    pending: Pending,
    next_flush: Instant,
    /// The resume token from the last Welcome, used after a churn drop.
    resume_token: Option<String>,
    /// The next connect is a reconnect after a churn drop.
    pending_resume: bool,
    /// The last input sequence number sent; numbering continues across
    /// reconnects, since a resumed player keeps its acknowledged sequence.
    seq: u32,
}

/// Runs one bot until `stop` turns true (or, without reconnecting, until its
/// connection ends), then flushes its last measurements.
pub(crate) async fn run_bot(plan: BotPlan, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut behaviour = Behaviour::new(plan.kind, plan.seed, ctx.input_hz);
    let next_flush = Instant::now() + FLUSH_EVERY.mul_f32(behaviour.jitter());
    let mut bot = Bot {
        url: ctx.target.ws_url(&plan.room, &plan.name),
        plan,
        ctx,
        behaviour,
        pending: Pending::new(),
        resume_token: None,
        pending_resume: false,
        seq: 0,
        next_flush,
    };
    let mut backoff = BACKOFF_MIN;
    loop {
        if *stop.borrow() {
            break;
        }
        let end = bot.session(&mut stop).await;
        bot.flush();
        let pause = match end {
            End::Stop => break,
            End::Churn => bot.behaviour.reconnect_pause(),
            End::Lost | End::Failed if !bot.ctx.reconnect => break,
            End::Lost | End::Failed => {
                if end == End::Lost {
                    backoff = BACKOFF_MIN;
                }
                let pause = backoff.mul_f32(0.5 + bot.behaviour.jitter());
                backoff = (backoff * 2).min(BACKOFF_MAX);
                pause
            }
        };
        tokio::select! {
            _ = time::sleep(pause) => {}
            _ = stop.changed() => break,
        }
    }
    bot.flush();
}

impl Bot {
    fn flush(&mut self) {
        let shards = &self.ctx.shared.shards;
        let mut shard = shards[self.plan.index % shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        shard.absorb(self.plan.kind, &mut self.pending);
        self.next_flush = Instant::now() + FLUSH_EVERY;
    }

    fn maybe_flush(&mut self, now: Instant) {
        if now >= self.next_flush {
            self.flush();
        }
    }

    /// One connection, from TCP connect to its end.
    async fn session(&mut self, stop: &mut watch::Receiver<bool>) -> End {
        let started = Instant::now();
        let connecting = time::timeout(
            self.ctx.connect_timeout,
            connect(
                &self.ctx,
                &self.url,
                &self.plan,
                self.behaviour.recv_buffer(),
                self.resume_token.take().unwrap_or_default(),
            ),
        );
        let result = tokio::select! {
            r = connecting => r,
            _ = stop.changed() => return End::Stop,
        };
        let (mut ws, welcome) = match result {
            Ok(Ok(connected)) => connected,
            Ok(Err(reason)) => return self.connect_failed(reason),
            Err(_) => return self.connect_failed("timeout".to_owned()),
        };
        let connected_at = Instant::now();
        let shared = self.ctx.shared.clone();
        shared.connected.fetch_add(1, Ordering::Relaxed);
        self.pending.c.connections += 1;
        let took = us32((connected_at - started).as_micros() as u64);
        self.pending.connect_us.push(took);
        if welcome.resumed {
            self.pending.c.resumes += 1;
            self.pending.resume_us.push(took);
        } else if self.pending_resume {
            self.pending.c.resume_misses += 1;
        }
        self.pending_resume = false;
        self.resume_token = Some(welcome.resume_token.clone());

        let mut s = Session {
            player_id: welcome.player_id,
            welcome_tick: welcome.tick,
            ticks: TickTracker::default(),
            ring: AckRing::after(self.seq),
            seq: self.seq,
            last_arrival: None,
            missed: 0,
            non_increasing: 0,
            view: View {
                arena: [welcome.arena.width, welcome.arena.height],
                ..View::default()
            },
            replica: Replica::new(welcome.tick_rate_hz),
            age: FrameAge::new(welcome.tick_rate_hz),
        };
        // Timers: the input interval, plus the read gate of a slow reader and
        // the lifetime of a churner, only for the bots that have one.
        let period = Duration::from_secs_f64(1.0 / f64::from(self.ctx.input_hz));
        let first_input = time::Instant::now() + period.mul_f32(self.behaviour.jitter());
        let mut inputs = time::interval_at(first_input, period);
        inputs.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let sends_inputs = self.behaviour.sends_inputs();
        let leave_at = self.behaviour.session_lifetime().map(time::sleep);
        tokio::pin!(leave_at);
        let read_gate = self
            .behaviour
            .read_interval()
            .map(|_| time::sleep(Duration::ZERO));
        tokio::pin!(read_gate);
        let mut gate_open = true;
        // One wait on the stop signal for the whole connection, registered
        // with the watch channel once rather than on every turn of the loop.
        let stopped = stop.changed();
        tokio::pin!(stopped);

        // One task, one loop: `select!` drops the futures of the branches
        // that did not fire before running a body, so a body may write to
        // `ws` (and `ws.next()` is cancel-safe: a partly read message stays
        // buffered in the stream).
        let end = loop {
            tokio::select! {
                _ = &mut stopped => {
                    close(&mut ws, self.ctx.close_timeout).await;
                    break End::Stop;
                }
                msg = ws.next(), if gate_open => {
                    let now = Instant::now();
                    if let Some(end) = self.on_message(msg, now, &mut s) {
                        break end;
                    }
                    if let Some(gate) = read_gate.as_mut().as_pin_mut() {
                        // A slow reader is a client that runs only now and
                        // then (a busy device, a background tab): when it
                        // runs it takes everything its socket holds, then
                        // sleeps. Old frames it finds were queued in its
                        // own and the server's buffers; frame age shows them.
                        let mut ended = None;
                        while let Some(msg) = ws.next().now_or_never() {
                            ended = self.on_message(msg, now, &mut s);
                            if ended.is_some() {
                                break;
                            }
                        }
                        if let Some(end) = ended {
                            break end;
                        }
                        gate_open = false;
                        gate.reset((now + self.ctx.slow_read_interval).into());
                    }
                    self.maybe_flush(now);
                }
                _ = until(read_gate.as_mut().as_pin_mut()), if !gate_open => gate_open = true,
                _ = inputs.tick(), if sends_inputs => {
                    s.seq += 1;
                    let input = Input {
                        seq: s.seq,
                        ack_tick: s.ticks.newest().unwrap_or(s.welcome_tick),
                        steer: self.behaviour.steer(&s.view),
                    };
                    let now = Instant::now();
                    s.ring.sent(s.seq, shared.us_since_epoch(now));
                    let bytes = encode_client(&ClientMsg::Input(input));
                    if let Err(e) = ws.send(Message::binary(bytes)).await {
                        break self.lost(ended_by(&e).to_owned());
                    }
                    self.pending.c.inputs_sent += 1;
                    self.maybe_flush(now);
                }
                _ = until(leave_at.as_mut().as_pin_mut()), if leave_at.is_some() => {
                    // A network blip: drop the TCP connection without a Leave or a
                    // close frame, then reconnect with the resume token.
                    self.pending.c.churn_leaves += 1;
                    self.pending_resume = true;
                    break End::Churn;
                }
            }
        };
        shared.connected.fetch_sub(1, Ordering::Relaxed);
        self.seq = s.seq;
        let c = &mut self.pending.c;
        c.connected_us += connected_at.elapsed().as_micros() as u64;
        c.connections_with_gaps += u64::from(s.missed > 0);
        c.connections_with_non_increasing += u64::from(s.non_increasing > 0);
        end
    }

    fn connect_failed(&mut self, reason: String) -> End {
        tracing::debug!(bot = self.plan.index, %reason, "connect failed");
        self.pending.c.connect_errors += 1;
        self.pending.connect_errors.push(reason);
        End::Failed
    }

    fn lost(&mut self, reason: String) -> End {
        tracing::debug!(bot = self.plan.index, %reason, "disconnected");
        self.pending.c.disconnects += 1;
        self.pending.disconnects.push(reason);
        End::Lost
    }

    /// One read from the WebSocket; `Some` when the connection ended.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tungstenite::Error>>,
        now: Instant,
        s: &mut Session,
    ) -> Option<End> {
        match msg {
            Some(Ok(Message::Binary(bytes))) => self.on_binary(&bytes, now, s),
            Some(Ok(Message::Text(text))) => {
                self.pending.c.bytes_received += text.len() as u64;
                self.pending.c.messages_received += 1;
                self.pending.c.decode_errors += 1;
            }
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(CloseCode::Status, |f| f.code);
                return Some(self.lost(u16::from(code).to_string()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Some(self.lost(ended_by(&e).to_owned())),
            None => return Some(self.lost("eof".to_owned())),
        }
        None
    }

    fn on_binary(&mut self, bytes: &[u8], now: Instant, s: &mut Session) {
        let p = &mut self.pending;
        p.c.bytes_received += bytes.len() as u64;
        p.c.messages_received += 1;
        let frame = match decode_server(bytes) {
            Ok(ServerMsg::Snapshot(snap)) => Ok(s.replica.apply_snapshot(snap)),
            Ok(ServerMsg::Delta(delta)) => s.replica.apply_delta(&delta).map_err(|e| {
                if matches!(e, ApplyError::ChecksumMismatch { .. }) {
                    p.c.checksum_mismatches += 1;
                }
                e.to_string()
            }),
            Ok(ServerMsg::Error(e)) => {
                tracing::debug!(bot = self.plan.index, code = e.code, message = %e.message, "server error");
                p.c.server_errors += 1;
                return;
            }
            Ok(ServerMsg::Welcome(_) | ServerMsg::Pong(_)) => return,
            Err(e) => Err(e.to_string()),
        };
        match frame {
            Ok(frame) => {
                p.c.snapshots += 1;
                let step = s.ticks.observe(frame.tick);
                p.c.missed_ticks += step.missed;
                p.c.non_increasing_ticks += step.non_increasing;
                s.missed += step.missed;
                s.non_increasing += step.non_increasing;
                if let Some(prev) = s.last_arrival {
                    p.interarrival_us
                        .push(us32((now - prev).as_micros() as u64));
                }
                s.last_arrival = Some(now);
                let now_us = self.ctx.shared.us_since_epoch(now);
                p.frame_age_us.push(us32(s.age.observe(frame.tick, now_us)));
                if let Ok(i) = frame.players.binary_search_by_key(&s.player_id, |m| m.id) {
                    let me = &frame.players[i];
                    s.view.me = Some([pos_from_wire(me.pos[0]), pos_from_wire(me.pos[1])]);
                    s.view.vel = [vel_from_wire(me.vel[0]), vel_from_wire(me.vel[1])];
                    let latency = &mut p.latency_us;
                    let acked = s
                        .ring
                        .ack(me.last_input_seq, now_us, |l| latency.push(us32(l)));
                    p.c.inputs_acked += u64::from(acked);
                }
                if self.behaviour.wants_pellets() {
                    s.view.pellets.clear();
                    s.view.pellets.extend(
                        frame
                            .pellets
                            .iter()
                            .map(|q| [pos_from_wire(q.pos[0]), pos_from_wire(q.pos[1])]),
                    );
                }
            }
            Err(e) => {
                tracing::debug!(bot = self.plan.index, error = %e, "undecodable message or delta");
                p.c.decode_errors += 1;
            }
        }
    }
}
/// TCP connect, WebSocket handshake, Join, and the wait for Welcome. Errors
/// are short reason keys for the report.
async fn connect(
    ctx: &Ctx,
    url: &str,
    plan: &BotPlan,
    recv_buffer: Option<u32>,
    resume: String,
) -> Result<(Ws, Welcome), String> {
    let addr = ctx.addrs[plan.index % ctx.addrs.len()];
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| io_reason("socket", &e))?;
    if let Some(size) = recv_buffer {
        // Best effort: the kernel may round it, a refusal only weakens the test.
        let _ = socket.set_recv_buffer_size(size);
    }
    // Inputs are tiny and latency is what we measure: no Nagle.
    let _ = socket.set_nodelay(true);
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| io_reason("tcp", &e))?;
    let (mut ws, _response) = client_async_with_config(url, tcp, Some(ws_config()))
        .await
        .map_err(|e| match e {
            tungstenite::Error::Http(response) => format!("http-{}", response.status().as_u16()),
            e => format!("handshake-{}", ended_by(&e)),
        })?;
    let join = ClientMsg::Join(Join {
        version: PROTOCOL_VERSION,
        name: plan.name.clone(),
        resume,
    });
    ws.send(Message::binary(encode_client(&join)))
        .await
        .map_err(|e| format!("join-{}", ended_by(&e)))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => match decode_server(&bytes) {
                Ok(ServerMsg::Welcome(welcome)) => return Ok((ws, welcome)),
                Ok(_) => {}
                Err(_) => return Err("decode".to_owned()),
            },
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(CloseCode::Status, |f| f.code);
                return Err(format!("close-{}", u16::from(code)));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ended_by(&e).to_owned()),
            None => return Err("eof".to_owned()),
        }
    }
}

/// Reason key for a connection that ended without a close frame.
fn ended_by(e: &tungstenite::Error) -> &'static str {
    match e {
        tungstenite::Error::ConnectionClosed
        | tungstenite::Error::AlreadyClosed
        | tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => "eof",
        tungstenite::Error::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            "eof"
        }
        _ => "error",
    }
}

fn io_reason(stage: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let what = match e.kind() {
        ConnectionRefused => "refused",
        ConnectionReset => "reset",
        TimedOut => "timeout",
        AddrNotAvailable | AddrInUse => "no-local-port",
        _ if e.raw_os_error() == Some(24) => "too-many-open-files",
        _ => "error",
    };
    format!("{stage}-{what}")
}

/// Ends a connection politely at the end of a run: a close frame, then
/// whatever the server still sends until its close reply (bounded).
async fn close(ws: &mut Ws, limit: Duration) {
    let _ = time::timeout(limit, async {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "run finished".into(),
        };
        if ws.send(Message::Close(Some(frame))).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}

/// Waits for an optional timer: forever when there is none.
async fn until(timer: Option<Pin<&mut Sleep>>) {
    match timer {
        Some(timer) => timer.await,
        None => std::future::pending().await,
    }
}
