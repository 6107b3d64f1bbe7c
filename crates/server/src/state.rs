//! [`Shared`]: what every connection and route reads. A leaf below the HTTP
//! and connection modules: it names the registry, config, metrics and signer,
//! and none of the modules that use it.

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use tokio::sync::{Notify, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{
    Config, cluster::Cluster, limits::Limits, metrics::Metrics, registry::Registry, room::ConnId,
    signing::Signer,
};

/// State shared by every connection and route.
#[derive(Debug)]
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// This server's metrics.
    pub metrics: Metrics,
    /// Live rooms.
    pub registry: Arc<Registry>,
    /// Becomes `true` when the server starts draining.
    pub drain: watch::Receiver<bool>,
    /// Open WebSocket connections (for the drain to wait on).
    pub live_connections: AtomicUsize,
    /// WebSocket limits applied to every connection.
    pub ws_config: WebSocketConfig,
    /// Signs and verifies join tickets and resume tokens.
    pub signer: Signer,
    /// The next connection id.
    pub next_conn: AtomicU64,
    /// This node's cluster (single, static or Redis).
    pub cluster: Cluster,
    /// Notified by `POST /admin/drain`: the server drains as on SIGTERM.
    pub drain_request: Notify,
    /// Origin rules and connection caps checked before a WebSocket upgrade (issue 13).
    pub limits: Limits,
}

impl Shared {
    /// A connection id no other connection of this process has.
    pub fn conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}
