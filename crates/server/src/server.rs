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

use axum::serve::ListenerExt;
use tickroom_sim::SimConfig;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle as TaskHandle};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{
    Config, Error, Result, close, cluster::Cluster, http, metrics::Metrics, registry::Registry,
    room::RoomSettings, signing::Signer, state::Shared, worker::WorkerPool,
};

/// A running server. Drop it only after [`Server::shutdown`]: dropping it
/// without shutting down leaves the tick workers running.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    drain_tx: watch::Sender<bool>,
    http: TaskHandle<std::io::Result<()>>,
    upkeep: TaskHandle<()>,
    workers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Validates `config`, binds its address, starts the tick workers and
    /// serves. Must be called inside a tokio runtime.
    pub async fn start(config: Config) -> Result<Server> {
        config.validate()?;
        let listener = TcpListener::bind(config.bind).await?;
        Server::start_on(config, listener).await
    }

    /// [`Server::start`] on a listener bound beforehand (`config.bind` is
    /// ignored): a test or an embedder that must know every node's port
    /// before any node starts (a static `--peers` list) binds them first.
    pub async fn start_on(config: Config, listener: TcpListener) -> Result<Server> {
        config.validate()?;
        let metrics = Metrics::new();
        let period = config.tick_period();
        let settings = RoomSettings {
            capacity: config.room_capacity,
            input_queue: config.input_queue,
            idle_timeout: config.room_idle,
            resume_grace: config.resume_grace,
            max_unacked: config.max_unacked_ticks(),
            sim: SimConfig {
                tick_rate_hz: config.tick_rate,
                ..SimConfig::default()
            },
        };
        let (pool, workers) =
            WorkerPool::start(config.worker_count(), period, &metrics).map_err(Error::Worker)?;
        let registry = Arc::new(Registry::new(Arc::new(pool), settings).with_limits(
            config.max_rooms,
            config.room_creations_per_ip,
            metrics.room_limits.clone(),
        ));

        let addr = listener.local_addr()?;
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
        let cluster = Cluster::new(&config, addr, &metrics)?;
        cluster.start(Arc::clone(&registry)).await;
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
        });

        let app = http::router(Arc::clone(&shared));
        let send_buffer = shared.config.tcp_send_buffer;
        let notsent_lowat = shared.config.tcp_notsent_lowat;
        let listener = listener.tap_io(move |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "could not set TCP_NODELAY");
            }
            let sock = socket2::SockRef::from(&*tcp);
            if let Some(size) = send_buffer
                && let Err(e) = sock.set_send_buffer_size(size)
            {
                tracing::warn!(error = %e, "could not set SO_SNDBUF");
            }
            if notsent_lowat > 0
                && let Err(e) = sock.set_tcp_notsent_lowat(notsent_lowat)
            {
                tracing::warn!(error = %e, "could not set TCP_NOTSENT_LOWAT");
            }
        });
        let mut stop = shared.drain.clone();
        let http = tokio::spawn(async move {
            // The TCP peer of each request (`room_limits::client_ip`).
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|d| *d).await;
                })
                .await
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
            "tickroom listening"
        );
        Ok(Server {
            addr,
            shared,
            drain_tx,
            http,
            upkeep,
            workers,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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
        self.upkeep.abort();
        self.shared.registry.stop_workers();
        let workers = self.workers;
        let _ = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
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
