//! The running server: binds the port, starts the tick workers, joins its
//! cluster, serves HTTP, and drains on shutdown. A single node stops
//! accepting, closes every client with 1001 and waits up to the drain
//! timeout for them to go. A cluster node first marks itself draining (no new
//! rooms or joins) and lets its rooms run until they are empty or the drain
//! timeout passes, then closes the rest with 1001 "rejoin through the
//! matchmaker", releases its claims and leaves the cluster.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tickroom_game::Games;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
    task::JoinHandle as TaskHandle,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{
    Config, Error, Result,
    cluster::{Cluster, configured_node_id},
    http,
    metrics::Metrics,
    net::{
        close,
        handshakes::{Admitted, HandshakeSlots, Refused},
        limits::Limits,
        tls::Tls,
    },
    recording::{RecordConfig, Recorder, RecorderThread},
    room::{
        RoomSettings, SnapshotSink, core::RecordSettings, registry::Registry, worker::WorkerPool,
    },
    signing::Signer,
    state::Shared,
};

/// The game of rooms that name none: `--default-game`, else the only game,
/// else the first by name.
fn default_game(config: &Config, games: &Games) -> Result<crate::room::RoomGame> {
    let known = || games.names().collect::<Vec<_>>().join(", ");
    let entry = match &config.default_game {
        Some(name) => games.get(name).cloned().ok_or_else(|| {
            Error::Config(format!(
                "--default-game {name:?}: no such game; this server hosts: {}",
                known()
            ))
        })?,
        None => games
            .names()
            .next()
            .and_then(|n| games.get(n).cloned())
            .ok_or_else(|| {
                Error::Config("no game registered: register one with Games::register".into())
            })?,
    };
    crate::room::RoomGame::new(entry, None)
        .map_err(|e| Error::Config(format!("the default game's default config: {e}")))
}

/// A running server. Drop it only after [`Server::shutdown`]: dropping it
/// without shutting down leaves the tick workers running.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    admin: Option<(watch::Sender<bool>, TaskHandle<std::io::Result<()>>)>,
    shared: Arc<Shared>,
    drain_tx: watch::Sender<bool>,
    http: TaskHandle<std::io::Result<()>>,
    upkeep: TaskHandle<()>,
    workers: Vec<JoinHandle<()>>,
    recorder: Option<RecorderThread>,
}

impl Server {
    /// Validates `config`, binds its address, starts the tick workers and
    /// serves `games`. Must be called inside a tokio runtime.
    pub async fn start(config: Config, games: Games) -> Result<Server> {
        config.validate()?;
        let listener = TcpListener::bind(config.bind).await?;
        Server::start_on(config, listener, games).await
    }

    /// [`Server::start`] on a listener bound beforehand (`config.bind` is
    /// ignored): a test or an embedder that must know every node's port
    /// before any node starts (a static `--peers` list) binds them first.
    pub async fn start_on(config: Config, listener: TcpListener, games: Games) -> Result<Server> {
        config.validate()?;
        let default_game = default_game(&config, &games)?;
        // Read once, before anything starts: a bad file fails the start naming it.
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::load(cert, key)?),
            _ => None,
        };
        let metrics = Metrics::new();
        metrics
            .connection_task_bytes
            .set(crate::http::conn::task_bytes() as f64);
        // The tick workers' schedule: one simulation step (a tick without
        // --sim-rate).
        let period = config.step_period();
        let steps_per_frame = config.steps_per_frame();
        // --room-snapshots: rooms queue their snapshots for one writer task.
        let (snapshots, snapshot_rx) = match config.room_snapshots {
            Some(every) => {
                let (tx, rx) = tokio::sync::mpsc::channel(crate::handoff::SNAPSHOT_QUEUE);
                let every_steps = (every.as_secs_f64() * f64::from(config.sim_rate()))
                    .round()
                    .max(1.0) as u64;
                (Some(SnapshotSink { every_steps, tx }), Some((rx, every)))
            }
            None => (None, None),
        };
        let settings = RoomSettings {
            capacity: config.room_capacity,
            input_queue: config.input_queue,
            idle_timeout: config.room_idle,
            resume_grace: config.resume_grace,
            max_unacked: config.max_unacked_ticks(),
            game: default_game.clone(),
            step_rate_hz: config.sim_rate(),
            recording: config.record_dir.as_ref().map(|_| RecordSettings {
                keyframe_every: config.record_keyframe_ticks(),
            }),
            steps_per_frame,
            snapshots,
            public: true,
            metadata: Arc::default(),
        };
        let (recorder, recorder_thread) = match &config.record_dir {
            Some(dir) => {
                let (r, t) = Recorder::start(
                    RecordConfig {
                        dir: dir.clone(),
                        max_file_bytes: config.record_max_file_bytes,
                        max_dir_bytes: config.record_max_bytes,
                        node: configured_node_id(&config),
                        nice: config.io_nice,
                    },
                    metrics.record.clone(),
                )
                .map_err(|e| Error::Config(format!("--record-dir {}: {e}", dir.display())))?;
                tracing::info!(dir = %dir.display(), "recording every room");
                (Some(r), Some(t))
            }
            None => (None, None),
        };
        let (pool, workers) =
            WorkerPool::start(config.worker_count(), period, &metrics).map_err(Error::Worker)?;
        let pool = pool.with_recorder(recorder);
        let registry = Arc::new(Registry::new(Arc::new(pool), settings).with_limits(
            config.max_rooms,
            config.room_creations_per_ip,
            metrics.room_limits.clone(),
        ));

        let addr = listener.local_addr()?;
        let admin_listener = match config.admin_bind {
            Some(at) => Some(
                TcpListener::bind(at)
                    .await
                    .map_err(|e| Error::Config(format!("--admin-bind {at}: {e}")))?,
            ),
            None => None,
        };
        let admin_addr = match &admin_listener {
            Some(l) => Some(l.local_addr()?),
            None => None,
        };
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(config.ws_read_buffer)
            .write_buffer_size(0)
            .max_write_buffer_size(config.ws_max_write_buffer)
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        let signer = match &config.secret {
            Some(secret) => Signer::new(secret.expose())
                .ok_or_else(|| Error::Config("--secret must be at least 16 bytes".into()))?,
            None => {
                tracing::warn!(
                    "no --secret: tickets and resume tokens verify on this process only"
                );
                Signer::random()?
            }
        };
        let limits = Limits::new(&config).map_err(Error::Config)?;
        if limits.origins.allows_any() {
            tracing::warn!(
                "--allowed-origins *: pages on any site may open WebSockets to this server"
            );
        }
        check_nofile(config.max_connections);
        let cluster = Cluster::new(
            &config,
            addr,
            &metrics,
            games.names().map(str::to_owned).collect(),
        )?;
        cluster.start(Arc::clone(&registry)).await;
        if let (Some((rx, every)), Some(m)) = (snapshot_rx, cluster.membership()) {
            crate::handoff::write_snapshots(Arc::clone(m), rx, every, metrics.clone());
        }
        let (drain_tx, drain) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            metrics: metrics.clone(),
            registry,
            drain,
            live_connections: AtomicUsize::new(0),
            ws_config,
            signer,
            next_conn: AtomicU64::new(1),
            cluster,
            drain_request: tokio::sync::Notify::new(),
            limits,
            games,
            default_game,
        });

        let app = http::router(Arc::clone(&shared));
        let tls_names = tls.as_ref().map(|t| t.names.clone());
        let http = tokio::spawn(serve_http(
            listener,
            app,
            Arc::clone(&shared),
            tls,
            shared.drain.clone(),
        ));
        // The operator's listener serves on through the drain (`/readyz`
        // answers 503 there) and stops last.
        let admin = admin_listener.map(|listener| {
            let (stop_tx, stop) = watch::channel(false);
            let task = tokio::spawn(serve_http(
                listener,
                http::admin_router(Arc::clone(&shared)),
                Arc::clone(&shared),
                None,
                stop,
            ));
            (stop_tx, task)
        });
        let upkeep_metrics = metrics.clone();
        let upkeep = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                upkeep_metrics.upkeep();
            }
        });
        // `crates/server/tests/signal.rs` finds the port of `--bind …:0` in this line's `addr=`.
        tracing::info!(
            %addr,
            workers = workers.len(),
            tick_rate = shared.config.tick_rate,
            node = %shared.cluster.me().id,
            mode = shared.cluster.mode_name(),
            url = shared.cluster.me().ws_url.as_str(),
            tls = tls_names.as_deref().unwrap_or("off"),
            admin = admin_addr.map_or_else(|| "on the main port".to_owned(), |a| a.to_string()),
            "tickroom listening"
        );
        Ok(Server {
            addr,
            admin_addr,
            admin,
            shared,
            drain_tx,
            http,
            upkeep,
            workers,
            recorder: recorder_thread,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operator listener's address (`--admin-bind`), when it has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The Prometheus text of this server's metrics (as served at `/metrics`).
    pub fn render_metrics(&self) -> String {
        self.shared.metrics.render()
    }

    /// Open WebSocket connections.
    pub fn connections(&self) -> usize {
        self.shared.live_connections.load(Ordering::Acquire)
    }

    /// Drains and stops: no new connections, every client closed with 1001
    /// ("going away"), then waits up to the drain timeout for them to go.
    pub async fn shutdown(self) {
        let deadline = Instant::now() + self.shared.config.drain;
        tracing::info!(connections = self.connections(), "draining");
        let registry = &self.shared.registry;
        if self.shared.cluster.is_clustered() {
            // No new rooms or joins here; the rooms run on until they empty.
            registry.begin_drain();
            self.shared.cluster.set_draining().await;
            // Hand each room, live, to another node; what stays drains as before.
            crate::handoff::hand_off_rooms(&self.shared, deadline).await;
            while registry.players() > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let left = registry.players();
            tracing::info!(players = left, "drain: closing the remaining players");
            registry.drain(close::DRAIN_REJOIN);
            let _ = self.drain_tx.send(true);
            // Their rooms are placed afresh on their next join.
            self.shared.cluster.leave(registry).await;
            let closing = Instant::now() + Duration::from_secs(2);
            while self.connections() > 0 && Instant::now() < closing.max(deadline) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        } else {
            let _ = self.drain_tx.send(true);
            registry.drain(close::DRAIN);
        }
        while self.connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if self.connections() > 0 {
            tracing::warn!(
                left = self.connections(),
                "drain timeout: exiting with clients still connected"
            );
        }
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let _ = tokio::time::timeout(remaining, self.http).await;
        if let Some((stop, task)) = self.admin {
            let _ = stop.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
        self.upkeep.abort();
        self.shared.registry.stop_workers();
        let workers = self.workers;
        let recorder = self.recorder;
        let _ = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
            // The rooms are gone: their recordings end and are flushed.
            if let Some(r) = recorder {
                r.finish(Duration::from_secs(5));
            }
        })
        .await;
        tracing::info!("stopped");
    }

    /// Serves until SIGINT, SIGTERM or `POST /admin/drain`, then shuts down.
    pub async fn run_until_signal(self) -> Result<()> {
        tokio::select! {
            r = shutdown_signal() => r?,
            () = self.shared.drain_request.notified() => {}
        }
        self.shutdown().await;
        Ok(())
    }

    /// Waits for `POST /admin/drain` (for embedders that handle signals themselves).
    pub async fn drain_requested(&self) {
        self.shared.drain_request.notified().await;
    }
}

async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// The accept loop: each TCP connection served by hyper's HTTP/1 server with
/// the head limits (`--header-read-timeout`, `--max-head-bytes`), at most
/// `--max-handshakes` of them waiting for their first request head. Stops
/// accepting when the drain starts, lets every connection finish its request
/// in flight (upgraded WebSockets are the connections' own tasks), and
/// returns when they have. With built-in TLS each connection's TLS handshake
/// comes first, within `--header-read-timeout` and holding its handshake slot.
async fn serve_http(
    listener: TcpListener,
    app: Router,
    shared: Arc<Shared>,
    tls: Option<Tls>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let config = &shared.config;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_head_bytes);
    let handshakes = HandshakeSlots::new(config.max_handshakes, config.max_handshakes_per_ip);
    let svc = TowerToHyperService::new(app);
    // Every connection task holds a sender; all gone = all finished.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|d| *d) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: wait for some to close.
                tracing::warn!(error = %e, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(250)) => continue,
                    _ = stop.wait_for(|d| *d) => break,
                }
            }
        };
        let capped = shared.limits.caps_pending(peer.ip());
        let slot = match handshakes.admit(peer.ip(), capped) {
            Ok(slot) => slot,
            Err(why) => {
                match why {
                    Refused::Busy => shared.metrics.refused.handshakes_busy.increment(1),
                    Refused::PerAddress => shared.metrics.refused.handshakes_per_ip.increment(1),
                }
                tracing::debug!(%peer, ?why, "no handshake slot: closed at accept");
                drop(tcp);
                continue;
            }
        };
        if slot.displaced {
            shared.metrics.refused.handshake_shed.increment(1);
        }
        tune_socket(&tcp, config);
        let ctx = ConnCtx {
            builder: builder.clone(),
            svc: svc.clone(),
            shared: Arc::clone(&shared),
            _alive: alive.clone(),
            stop: stop.clone(),
        };
        match &tls {
            None => {
                tokio::spawn(serve_connection(ctx, tcp, peer, slot));
            }
            Some(tls) => {
                let acceptor = tls.acceptor.clone();
                tokio::spawn(async move {
                    let mut slot = slot;
                    let limit = ctx.shared.config.header_read_timeout;
                    let handshake = tokio::time::timeout(limit, acceptor.accept(tcp));
                    let outcome = tokio::select! {
                        r = handshake => r,
                        () = slot.shed.wait() => {
                            tracing::debug!(%peer, "shed during its TLS handshake: closed");
                            return;
                        }
                    };
                    let stream = match outcome {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            ctx.shared.metrics.refused.tls_handshake.increment(1);
                            tracing::debug!(%peer, error = %e, "TLS handshake failed: closed");
                            return;
                        }
                        Err(_) => {
                            ctx.shared.metrics.refused.tls_handshake.increment(1);
                            tracing::debug!(%peer, "no TLS handshake in time: closed");
                            return;
                        }
                    };
                    serve_connection(ctx, stream, peer, slot).await;
                });
            }
        }
    }
    drop(listener);
    drop(alive);
    let _ = all_done.recv().await;
    Ok(())
}

/// What every connection of one listener shares.
struct ConnCtx {
    builder: http1::Builder,
    svc: TowerToHyperService<Router>,
    shared: Arc<Shared>,
    /// Held until the connection ends: the listener's drain waits for all.
    _alive: mpsc::Sender<()>,
    /// Flips to `true` when the listener stops: connections finish their
    /// request in flight and close.
    stop: watch::Receiver<bool>,
}

/// One HTTP connection, over plain TCP or TLS; its handshake slot is given
/// back when its first request head has arrived or it closes, and the
/// connection is closed at once if a newcomer takes the slot first
/// ([`crate::net::handshakes`]).
async fn serve_connection<S>(ctx: ConnCtx, io: S, peer: SocketAddr, slot: Admitted)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ConnCtx {
        builder,
        svc,
        shared,
        _alive,
        mut stop,
    } = ctx;
    let Admitted {
        pending, mut shed, ..
    } = slot;
    let pending = Arc::new(std::sync::Mutex::new(pending));
    let first_head = Arc::clone(&pending);
    let service = service_fn(move |mut req: hyper::Request<Incoming>| {
        first_head
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release();
        req.extensions_mut().insert(ConnectInfo(peer));
        hyper::service::Service::call(&svc, req)
    });
    let conn = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = false;
    let result = loop {
        tokio::select! {
            r = conn.as_mut() => break r,
            _ = stop.wait_for(|d| *d), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = shed.wait() => {
                // Counted where the newcomer was admitted.
                tracing::debug!(%peer, "shed before its first request head: closed");
                return;
            }
        }
    };
    let Err(e) = result else { return };
    let in_handshake = pending.lock().unwrap_or_else(|e| e.into_inner()).is_held();
    let refused = &shared.metrics.refused;
    if e.is_parse_too_large() {
        refused.head_too_large.increment(1);
        tracing::debug!(%peer, "request head too large: 431");
    } else if e.is_timeout() {
        // An idle kept-alive connection closed at the same timeout is no refusal.
        if in_handshake {
            refused.header_timeout.increment(1);
            tracing::debug!(%peer, "no complete request head in time: closed");
        }
    } else {
        tracing::debug!(%peer, error = %e, "HTTP connection error");
    }
}

/// Errors of one accepted connection (not of the listener): accept again at once.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// TCP_NODELAY, SO_SNDBUF, TCP_NOTSENT_LOWAT and keepalive on an accepted socket.
fn tune_socket(tcp: &TcpStream, config: &Config) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY");
    }
    let sock = socket2::SockRef::from(tcp);
    if let Some(size) = config.tcp_send_buffer
        && let Err(e) = sock.set_send_buffer_size(size)
    {
        tracing::warn!(error = %e, "could not set SO_SNDBUF");
    }
    if config.tcp_notsent_lowat > 0
        && let Err(e) = sock.set_tcp_notsent_lowat(config.tcp_notsent_lowat)
    {
        tracing::warn!(error = %e, "could not set TCP_NOTSENT_LOWAT");
    }
    let idle = config.tcp_keepalive;
    if !idle.is_zero() {
        let keepalive = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval((idle / 3).max(Duration::from_secs(1)))
            .with_retries(2);
        if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
            tracing::warn!(error = %e, "could not set TCP keepalive");
        }
    }
}

/// File descriptors kept for everything that is not a client socket
/// (listener, Redis, logs, the runtime).
const NOFILE_MARGIN: u64 = 256;

/// Raises RLIMIT_NOFILE's soft limit to its hard one (once per process,
/// logged), and warns when `max_connections` will not fit under it.
fn check_nofile(max_connections: usize) {
    static LIMIT: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    let limit = *LIMIT.get_or_init(raise_nofile);
    if let Some(limit) = limit
        && max_connections as u64 > limit.saturating_sub(NOFILE_MARGIN)
    {
        tracing::warn!(
            max_connections,
            nofile = limit,
            "--max-connections is above the open-file limit less {NOFILE_MARGIN}: \
             connections past it fail at accept; raise the hard limit (ulimit -Hn, LimitNOFILE=)"
        );
    }
}

/// The soft open-file limit after raising it (`None`: unlimited or unknown).
fn raise_nofile() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let before = getrlimit(Resource::Nofile);
        if before.current == before.maximum {
            tracing::info!(nofile = ?before.current, "open-file limit");
            return before.current;
        }
        let raised = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(from = ?before.current, to = ?before.maximum, "raised the open-file limit");
                before.maximum
            }
            Err(e) => {
                tracing::warn!(error = %e, nofile = ?before.current, "could not raise the open-file limit");
                before.current
            }
        }
    }
    #[cfg(not(unix))]
    None
}
