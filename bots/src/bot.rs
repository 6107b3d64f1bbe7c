//! One bot: a tokio task that connects, joins its room, plays until the run
//! stops, and reconnects when its connection ends (churn by design, or the
//! server/network by accident).
//!
//! Against a cluster a bot connects through its entry node (one of the
//! `--url` list) and follows where the server sends it: a close 4001
//! `node=<id>` is resolved with the entry's `GET /cluster` and followed at
//! once; 4001 with another reason and 1001 `draining...` go back through the
//! entry at once (a drained entry is rotated away from). At most
//! [`MAX_HOPS`] of those in a row without a Welcome, then the usual backoff.
//! A connection lost after a Welcome, or an attempt that failed, goes back
//! through the entry with backoff; a failed attempt at the entry itself
//! rotates to the next entry.
//!
//! Per connection it keeps only what a player keeps: the room's frame (a
//! [`Replica`] rebuilt from each state and checked against its checksum),
//! the newest tick, and a ring of recent input send times. What it sends is
//! its behaviour's ([`crate::behaviour::Play`]): the bot itself knows no
//! game. Measurements go into the bot's [`Pending`] buffer and reach a shared
//! shard about once a second, so the hot path (decode a state, apply it,
//! record a few numbers) never takes a contended lock.

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
    decode_server, encode_client, state::Replica,
};
use tokio::{
    net::TcpSocket,
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
    cluster::{CloseKind, ClusterView},
    dns::resolve,
    http,
    stats::{AckRing, FrameAge, Pending, Shard, TickTracker, us32},
    tls::{Stream, Tls},
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
    /// For a run of `kinds` behaviours.
    pub(crate) fn new(shards: usize, live: bool, kinds: usize) -> Self {
        Shared {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Shard::new(live, kinds)))
                .collect(),
            connected: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    fn us_since_epoch(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }
}

/// One entry node of the `--url` list, resolved once for the whole swarm.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub target: Target,
    pub addr: SocketAddr,
}

/// Run-wide settings every bot reads.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    /// Bot `n` starts with entry `n % len` (never empty).
    pub entries: Vec<Entry>,
    /// The game the bots play (`/ws?game=`, checked against each Welcome).
    pub game: String,
    pub input_hz: u32,
    pub reconnect: bool,
    pub connect_timeout: Duration,
    pub close_timeout: Duration,
    /// Pause between two reads of a slow reader.
    pub slow_read_interval: Duration,
    /// For `wss://` destinations.
    pub tls: Tls,
    /// The swarm's Prometheus metrics, when exported.
    pub metrics: Option<Arc<crate::exporter::BotMetrics>>,
}

/// One connection, owned whole by its bot's task: reads and writes take no
/// lock (a split into sink and stream halves would put a `BiLock` on both).
type Ws = WebSocketStream<Stream>;

/// How often a bot moves its measurements into its shard.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Reconnect backoff after a failure: doubles from MIN to MAX, with jitter.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The longest pause after an owner named by a redirect refused a connect.
const OWNER_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Immediate reconnects (redirect follows, 4001 and drain rejoins) allowed in
/// a row without reaching Welcome; the next one waits for the backoff.
pub(crate) const MAX_HOPS: u32 = 4;
/// Longest random pause before rejoining after a drain (spreads the herd).
const DRAIN_JITTER: Duration = Duration::from_millis(250);
/// Limit for resolving a redirect (`GET /cluster` and the member's host), and
/// never more than the connect timeout.
const FOLLOW_TIMEOUT: Duration = Duration::from_secs(3);

/// A small WebSocket configuration: thousands of bots must fit in memory, and
/// a state is a few KiB at most.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_SERVER_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_SERVER_MESSAGE_BYTES))
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// The run is stopping.
    Stop,
    /// A churning bot left on purpose.
    Churn,
    /// The server or network ended a connection that had reached Welcome.
    Lost,
    /// The connection never reached Welcome.
    Failed,
    /// The server sent the bot elsewhere (close 4001, or 1001 `draining`),
    /// before (`joined` false) or after its Welcome.
    Moved { to: Move, joined: bool },
}

/// Where a close frame sent the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Move {
    /// 4001 `node=<id>`: to that node, at once.
    Owner(String),
    /// 4001 with another reason: back through the entry, at once.
    Entry,
    /// 1001 `draining`: through an entry other than a drained one, after a
    /// small jitter.
    Drain,
}

impl End {
    /// The end a close frame (`code`, `reason`) asks for, if it is one of
    /// the cluster's.
    fn moved(code: u16, reason: &str, joined: bool) -> Option<End> {
        let to = match CloseKind::of(code, reason) {
            CloseKind::Redirect(node) => Move::Owner(node.to_owned()),
            CloseKind::Elsewhere => Move::Entry,
            CloseKind::Draining => Move::Drain,
            CloseKind::Other => return None,
        };
        Some(End::Moved { to, joined })
    }
}

/// Where the next connect goes.
#[derive(Debug, Clone)]
struct Dest {
    addr: SocketAddr,
    /// The full WebSocket URL, room and name included.
    url: String,
    /// `Some(host)` for `wss://`: the name the server's certificate must carry.
    tls_host: Option<String>,
    /// `true` for a node a redirect named, `false` for the bot's entry.
    owner: bool,
}

/// Why a connect did not reach Welcome.
#[derive(Debug)]
enum Refused {
    /// A short reason key for the report.
    Failed(String),
    /// The server closed the WebSocket with this code and reason.
    Closed(u16, String),
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
    /// The room's frame, rebuilt from whole frames and deltas.
    replica: Replica,
    /// Staleness of each frame on arrival.
    age: FrameAge,
}

struct Bot {
    plan: BotPlan,
    ctx: Arc<Ctx>,
    /// Index in `ctx.entries` of the bot's entry node.
    entry: usize,
    /// Where the next connect goes.
    dest: Dest,
    /// Immediate reconnects since the last Welcome (see [`MAX_HOPS`]).
    hops: u32,
    /// When the last connection ended by the server or network (after its
    /// Welcome) ended; cleared by the next Welcome, which records the rejoin.
    dropped_at: Option<Instant>,
    behaviour: Behaviour,
    pending: Pending,
    next_flush: Instant,
    /// The resume token from the last Welcome, used after a churn drop.
    resume_token: Option<String>,
    /// When the last frame arrived on a connection a 4001 `node=<id>` moved
    /// (its room was handed there), until the first frame after it: the
    /// player's gap across the hand-off.
    moved_at: Option<Instant>,
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
    let entry = plan.index % ctx.entries.len();
    let mut bot = Bot {
        dest: entry_dest(&ctx, entry, &plan),
        entry,
        hops: 0,
        dropped_at: None,
        plan,
        ctx,
        behaviour,
        pending: Pending::new(),
        resume_token: None,
        moved_at: None,
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
            // Following a redirect is part of connecting, even without
            // reconnects.
            End::Moved {
                to: Move::Owner(_),
                joined: false,
            } => match bot.after_move(end, &mut backoff, &mut stop).await {
                // Without reconnects, a redirect that leads nowhere ends the bot.
                Some(_) if !bot.ctx.reconnect && !bot.dest.owner => break,
                Some(pause) => pause,
                None => break,
            },
            _ if !bot.ctx.reconnect => break,
            End::Lost => {
                // Through the entry: a lost owner may be dead, and its rooms
                // are placed again elsewhere.
                bot.back_to_entry();
                backoff = BACKOFF_MIN;
                bot.backoff(&mut backoff)
            }
            End::Failed if bot.dest.owner => {
                // The owner a redirect named refused: most likely it died and
                // the entry still sees its lease, which runs out within
                // seconds. Retry through the entry at most a second apart, so
                // the player is back soon after the room is placed afresh.
                bot.back_to_entry();
                backoff = backoff.min(OWNER_BACKOFF_MAX);
                bot.backoff(&mut backoff).min(OWNER_BACKOFF_MAX)
            }
            End::Failed => {
                bot.rotate();
                bot.backoff(&mut backoff)
            }
            End::Moved { .. } => match bot.after_move(end, &mut backoff, &mut stop).await {
                Some(pause) => pause,
                None => break,
            },
        };
        tokio::select! {
            _ = time::sleep(pause) => {}
            _ = stop.changed() => break,
        }
    }
    bot.flush();
}

/// The destination of a connect through entry `entry`.
fn entry_dest(ctx: &Ctx, entry: usize, plan: &BotPlan) -> Dest {
    let e = &ctx.entries[entry];
    Dest {
        addr: e.addr,
        url: e.target.ws_url(&plan.room, &plan.name, &ctx.game),
        tls_host: e.target.secure.then(|| e.target.host.clone()),
        owner: false,
    }
}

impl Bot {
    /// The next connect goes through the bot's entry.
    fn back_to_entry(&mut self) {
        if self.dest.owner {
            self.dest = entry_dest(&self.ctx, self.entry, &self.plan);
        }
    }

    /// The next connect goes through the next entry of the list.
    fn rotate(&mut self) {
        let n = self.ctx.entries.len();
        if n > 1 || self.dest.owner {
            self.entry = (self.entry + 1) % n;
            self.dest = entry_dest(&self.ctx, self.entry, &self.plan);
        }
    }

    /// The jittered pause of the exponential backoff, which it doubles.
    fn backoff(&mut self, backoff: &mut Duration) -> Duration {
        let pause = backoff.mul_f32(0.5 + self.behaviour.jitter());
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
        pause
    }

    /// Chooses the next destination after an [`End::Moved`] and returns the
    /// pause before connecting there; `None` when the run stopped meanwhile.
    async fn after_move(
        &mut self,
        end: End,
        backoff: &mut Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Duration> {
        let End::Moved { to, joined } = end else {
            return Some(Duration::ZERO);
        };
        if joined {
            *backoff = BACKOFF_MIN;
        }
        if self.hops >= MAX_HOPS {
            // Sent around without ever being let in: back off at the entry.
            self.hops = 0;
            self.back_to_entry();
            self.connect_failed("redirect-loop".to_owned());
            return Some(self.backoff(backoff));
        }
        self.hops += 1;
        match to {
            Move::Entry => {
                self.back_to_entry();
                Some(Duration::ZERO)
            }
            Move::Drain => {
                self.pending.c.drain_rejoins += 1;
                if self.dest.owner {
                    self.back_to_entry();
                } else {
                    self.rotate();
                }
                Some(DRAIN_JITTER.mul_f32(self.behaviour.jitter()))
            }
            Move::Owner(node) => {
                let found = tokio::select! {
                    r = self.follow(&node) => r,
                    _ = stop.changed() => return None,
                };
                match found {
                    Ok(dest) => {
                        self.pending.c.redirects += 1;
                        self.dest = dest;
                        Some(Duration::ZERO)
                    }
                    Err(reason) => {
                        tracing::debug!(bot = self.plan.index, %node, %reason, "cannot follow redirect");
                        self.back_to_entry();
                        self.connect_failed(reason);
                        Some(self.backoff(backoff))
                    }
                }
            }
        }
    }

    /// Resolves node `node` with the entry's `GET /cluster` (then, if the
    /// entry does not answer, each other entry's: a draining entry that just
    /// handed the room off may be gone): the destination of a connect to its
    /// room, or the entry's short reason key.
    async fn follow(&self, node: &str) -> Result<Dest, String> {
        let n = self.ctx.entries.len();
        let mut first = None;
        for i in 0..n {
            match self.follow_via((self.entry + i) % n, node).await {
                Ok(dest) => return Ok(dest),
                // The entry answered: what it says stands.
                Err(reason)
                    if !reason.starts_with("cluster-error")
                        && !reason.starts_with("cluster-timeout") =>
                {
                    return Err(first.unwrap_or(reason));
                }
                Err(reason) => {
                    first.get_or_insert(reason);
                }
            }
        }
        Err(first.unwrap_or_else(|| "cluster-error".to_owned()))
    }

    async fn follow_via(&self, entry: usize, node: &str) -> Result<Dest, String> {
        let entry = &self.ctx.entries[entry];
        let limit = self.ctx.connect_timeout.min(FOLLOW_TIMEOUT);
        let path = entry.target.http_path("/cluster");
        let tls = entry
            .target
            .secure
            .then(|| (&self.ctx.tls, entry.target.host.as_str()));
        let response = time::timeout(limit, http::get_over(entry.addr, tls, &path))
            .await
            .map_err(|_| "cluster-timeout".to_owned())?
            .map_err(|_| "cluster-error".to_owned())?;
        if response.status != 200 {
            return Err(format!("cluster-http-{}", response.status));
        }
        let view = ClusterView::parse(&response.body).map_err(|_| "cluster-json".to_owned())?;
        let member = view.member(node).ok_or_else(|| "unknown-node".to_owned())?;
        let target = Target::parse(&member.url).map_err(|_| "member-url".to_owned())?;
        let addrs = time::timeout(limit, resolve(&target))
            .await
            .map_err(|_| "member-resolve".to_owned())?
            .map_err(|_| "member-resolve".to_owned())?;
        let addr = *addrs.first().ok_or_else(|| "member-resolve".to_owned())?;
        Ok(Dest {
            addr,
            url: target.ws_url(&self.plan.room, &self.plan.name, &self.ctx.game),
            tls_host: target.secure.then(|| target.host.clone()),
            owner: true,
        })
    }

    fn flush(&mut self) {
        let shards = &self.ctx.shared.shards;
        let mut shard = shards[self.plan.index % shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = &self.ctx.metrics {
            m.record(&self.pending, self.plan.kind.is_slow_reader());
            m.set_connected(self.ctx.shared.connected.load(Ordering::Relaxed));
        }
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
        // Single use: an attempt that reached the server may have spent it.
        let token = self.resume_token.take();
        let connecting = time::timeout(
            self.ctx.connect_timeout,
            connect(
                self.dest.addr,
                &self.dest.url,
                self.dest.tls_host.as_deref().map(|h| (&self.ctx.tls, h)),
                &self.plan,
                self.behaviour.recv_buffer(),
                token.clone().unwrap_or_default(),
            ),
        );
        let result = tokio::select! {
            r = connecting => r,
            _ = stop.changed() => return End::Stop,
        };
        let (mut ws, welcome) = match result {
            Ok(Ok(connected)) => connected,
            Ok(Err(Refused::Closed(code, reason))) => {
                tracing::debug!(bot = self.plan.index, code, %reason, "closed before the Welcome");
                let moved = End::moved(code, &reason, false);
                // Refused before a Welcome: the server took no player back,
                // so the token still names the player's session.
                self.resume_token = token;
                return match moved {
                    // A redirect is the way in, not a failure.
                    Some(
                        end @ End::Moved {
                            to: Move::Owner(_), ..
                        },
                    ) => end,
                    Some(end) => {
                        self.connect_failed(format!("close-{code}"));
                        end
                    }
                    None => self.connect_failed(format!("close-{code}")),
                };
            }
            Ok(Err(Refused::Failed(reason))) => {
                // No Welcome came: the token was not spent.
                self.resume_token = token;
                return self.connect_failed(reason);
            }
            // The Welcome may have been sent: the token may be spent.
            Err(_) => return self.connect_failed("timeout".to_owned()),
        };
        // The room must be of the bots' game, with a schema that decodes and
        // that the behaviour can play; if not, this is no way in.
        let joined = if welcome.game == self.ctx.game {
            Replica::from_welcome(&welcome)
                .map_err(|_| "bad-schema")
                .and_then(|replica| {
                    self.behaviour
                        .start(replica.schema(), &welcome.config)
                        .map(|()| replica)
                })
        } else {
            Err("wrong-game")
        };
        let replica = match joined {
            Ok(replica) => replica,
            Err(reason) => {
                tracing::debug!(bot = self.plan.index, game = %welcome.game, "cannot play this room");
                close(&mut ws, self.ctx.close_timeout).await;
                return self.connect_failed(reason.to_owned());
            }
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
        self.hops = 0;
        if let Some(dropped) = self.dropped_at.take() {
            self.pending
                .rejoin_us
                .push(us32((connected_at - dropped).as_micros() as u64));
        }

        let mut s = Session {
            player_id: welcome.player_id,
            welcome_tick: welcome.tick,
            ticks: TickTracker::default(),
            ring: AckRing::after(self.seq),
            seq: self.seq,
            last_arrival: None,
            missed: 0,
            non_increasing: 0,
            replica,
            age: FrameAge::new(welcome.tick_rate_hz),
        };
        // Timers: the input interval, plus the read gate of a slow reader and
        // the lifetime of a churner, only for the bots that have one.
        let period = Duration::from_secs_f64(1.0 / f64::from(self.ctx.input_hz));
        let first_input = time::Instant::now() + period.mul_f32(self.behaviour.jitter());
        let mut inputs = time::interval_at(first_input, period);
        inputs.set_missed_tick_behavior(MissedTickBehavior::Delay);
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
                _ = inputs.tick() => {
                    let view = View {
                        schema: s.replica.schema(),
                        frame: s.replica.frame(),
                        player_id: s.player_id,
                    };
                    let Some(data) = self.behaviour.input(&view) else {
                        continue;
                    };
                    s.seq += 1;
                    let input = Input {
                        seq: s.seq,
                        ack_tick: s.ticks.newest().unwrap_or(s.welcome_tick),
                        data,
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
        if matches!(end, End::Lost | End::Moved { .. }) {
            self.dropped_at = Some(Instant::now());
        }
        if let End::Moved {
            to: Move::Owner(_),
            joined: true,
        } = &end
        {
            // A playing bot sent to a named node: its room was handed there
            // (a draining owner), so its token must take the player back.
            self.pending_resume = self.resume_token.is_some();
            self.moved_at = s.last_arrival;
        }
        self.seq = s.seq;
        let c = &mut self.pending.c;
        c.connected_us += connected_at.elapsed().as_micros() as u64;
        c.connections_with_gaps += u64::from(s.missed > 0);
        c.connections_with_non_increasing += u64::from(s.non_increasing > 0);
        end
    }

    /// Counts a connect attempt that failed for `reason`.
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
                let (code, reason) = frame.map_or((CloseCode::Status, Default::default()), |f| {
                    (f.code, f.reason)
                });
                let code = u16::from(code);
                let lost = self.lost(code.to_string());
                return Some(End::moved(code, &reason, true).unwrap_or(lost));
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
        let state = match decode_server(bytes) {
            Ok(ServerMsg::State(state)) => state,
            Ok(ServerMsg::Error(e)) => {
                tracing::debug!(bot = self.plan.index, code = e.code, message = %e.message, "server error");
                p.c.server_errors += 1;
                return;
            }
            Ok(ServerMsg::Welcome(_) | ServerMsg::Pong(_)) => return,
            Err(e) => {
                tracing::debug!(bot = self.plan.index, error = %e, "undecodable message");
                p.c.decode_errors += 1;
                return;
            }
        };
        let now_us = self.ctx.shared.us_since_epoch(now);
        let latency = &mut p.latency_us;
        let acked = s.ring.ack(state.ack_seq, now_us, |l| latency.push(us32(l)));
        p.c.inputs_acked += u64::from(acked);
        let applied = match s.replica.apply(&state) {
            Ok(applied) => applied,
            Err(e) => {
                tracing::debug!(bot = self.plan.index, error = %e, "state the replica refused");
                p.c.decode_errors += 1;
                return;
            }
        };
        // The frame is kept either way; a mismatch is a bug to count.
        p.c.checksum_mismatches += u64::from(!applied.checksum_ok);
        p.c.snapshots += 1;
        let step = s.ticks.observe(applied.tick);
        p.c.missed_ticks += step.missed;
        p.c.non_increasing_ticks += step.non_increasing;
        s.missed += step.missed;
        s.non_increasing += step.non_increasing;
        if let Some(prev) = s.last_arrival {
            p.interarrival_us
                .push(us32((now - prev).as_micros() as u64));
        } else if let Some(moved) = self.moved_at.take() {
            p.handoff_gap_us
                .push(us32((now - moved).as_micros() as u64));
        }
        s.last_arrival = Some(now);
        p.frame_age_us
            .push(us32(s.age.observe(applied.tick, now_us)));
    }
}

/// TCP connect to `addr`, WebSocket handshake for `url`, Join, and the wait
/// for Welcome. Errors are short reason keys for the report, or the close
/// frame the server answered with.
async fn connect(
    addr: SocketAddr,
    url: &str,
    tls: Option<(&Tls, &str)>,
    plan: &BotPlan,
    recv_buffer: Option<u32>,
    resume: String,
) -> Result<(Ws, Welcome), Refused> {
    let failed = Refused::Failed;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| failed(io_reason("socket", &e)))?;
    if let Some(size) = recv_buffer {
        // Best effort: the kernel may round it, a refusal only weakens the test.
        let _ = socket.set_recv_buffer_size(size);
    }
    // Inputs are tiny and latency is what we measure: no Nagle.
    let _ = socket.set_nodelay(true);
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| failed(io_reason("tcp", &e)))?;
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some((tls, host)) => tls
            .connect(host, tcp)
            .await
            .map_err(|e| failed(io_reason("tls", &e)))?,
    };
    let (mut ws, _response) = client_async_with_config(url, stream, Some(ws_config()))
        .await
        .map_err(|e| {
            failed(match e {
                tungstenite::Error::Http(response) => {
                    http_reason(response.status().as_u16(), response.body().as_deref())
                }
                e => format!("handshake-{}", ended_by(&e)),
            })
        })?;
    let join = ClientMsg::Join(Join {
        version: PROTOCOL_VERSION,
        name: plan.name.clone(),
        resume,
    });
    if let Err(e) = ws.send(Message::binary(encode_client(&join))).await {
        // A server that closes right after the upgrade (a redirect) may have
        // reset the connection before the Join arrived: its close frame can
        // still be waiting in the receive buffer.
        if let Ok(Some(Ok(Message::Close(Some(frame))))) =
            time::timeout(CLOSE_PEEK, ws.next()).await
        {
            return Err(Refused::Closed(frame.code.into(), frame.reason.to_string()));
        }
        return Err(failed(format!("join-{}", ended_by(&e))));
    }
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => match decode_server(&bytes) {
                Ok(ServerMsg::Welcome(welcome)) => return Ok((ws, welcome)),
                Ok(_) => {}
                Err(_) => return Err(failed("decode".to_owned())),
            },
            Some(Ok(Message::Close(frame))) => {
                return Err(match frame {
                    Some(f) => Refused::Closed(f.code.into(), f.reason.to_string()),
                    None => Refused::Closed(CloseCode::Status.into(), String::new()),
                });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(failed(ended_by(&e).to_owned())),
            None => return Err(failed("eof".to_owned())),
        }
    }
}

/// Reason key for a WebSocket upgrade the server answered with `status`:
/// `http-503`; for a 400, with the `code` of the server's JSON error when
/// there is one (`http-400-unknown_game`: the server does not host the
/// bots' game).
fn http_reason(status: u16, body: Option<&[u8]>) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        code: String,
    }
    let code = body
        .filter(|_| status == 400)
        .and_then(|b| serde_json::from_slice::<ApiError>(b).ok())
        .map(|e| e.code)
        .filter(|c| {
            (1..=40).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    match code {
        Some(code) => format!("http-{status}-{code}"),
        None => format!("http-{status}"),
    }
}

/// How long a failed Join send looks for a close frame already received.
const CLOSE_PEEK: Duration = Duration::from_millis(100);

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_refusals_name_the_servers_code_for_a_bad_request() {
        let body = br#"{"code":"unknown_game","message":"no game \"cards\""}"#;
        assert_eq!(http_reason(400, Some(body)), "http-400-unknown_game");
        assert_eq!(http_reason(503, Some(body)), "http-503");
        assert_eq!(http_reason(400, Some(b"oops")), "http-400");
        assert_eq!(http_reason(400, None), "http-400");
        let odd = br#"{"code":"a b"}"#;
        assert_eq!(http_reason(400, Some(odd)), "http-400");
    }
}
