//! [`Shared`]: what every connection and route reads. A leaf below the HTTP
//! and connection modules: it names the registry, config, metrics and signer,
//! and none of the modules that use it.

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use tokio::sync::{Notify, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use tickroom_game::Games;

use crate::{
    Config,
    cluster::Cluster,
    metrics::Metrics,
    net::limits::Limits,
    room::{ConnId, RoomGame, registry::Registry},
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
    /// The games this server hosts.
    pub games: Games,
    /// The game of rooms created without naming one (its default config).
    pub default_game: RoomGame,
}

impl Shared {
    /// The room game for `name` with `config` (`None`: the default game;
    /// no config: the game's defaults), or the API's error for it.
    pub fn room_game(
        &self,
        name: Option<&str>,
        config: Option<&serde_json::Value>,
    ) -> std::result::Result<RoomGame, GameChoiceError> {
        let entry = match name {
            None if config.is_none() => return Ok(self.default_game.clone()),
            None => self.default_game.entry.clone(),
            Some(n) => self
                .games
                .get(n)
                .cloned()
                .ok_or_else(|| GameChoiceError::UnknownGame {
                    name: n.to_owned(),
                    known: self.games.names().collect::<Vec<_>>().join(", "),
                })?,
        };
        RoomGame::new(entry, config).map_err(GameChoiceError::Config)
    }
}

/// Why a room cannot be of the game asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GameChoiceError {
    /// No game of that name is registered.
    #[error("unknown game {name:?}; this server hosts: {known}")]
    UnknownGame {
        /// The name asked for.
        name: String,
        /// The games hosted, comma-separated.
        known: String,
    },
    /// The config does not fit the game.
    #[error(transparent)]
    Config(tickroom_game::ConfigError),
}

impl Shared {
    /// A connection id no other connection of this process has.
    pub fn conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}
