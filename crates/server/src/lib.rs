//! tickroom's server runtime: the only crate that knows about sockets, threads
//! and clocks.
//!
//! # Data path
//! ```text
//!  WebSocket ──► reader task ──decode/validate──► crossbeam input queue ─┐
//!  (tokio I/O runtime)                                                   │
//!                                    tick-worker thread (20 Hz, per room)◄┘
//!                                    drain → sim.step → encode once (Bytes)
//!                                                   │
//!  WebSocket ◄── writer task ◄── newest-frame mailbox (one slot per player)
//! ```
//! Rooms run on dedicated tick-worker threads ([`room::worker`]), never on
//! the tokio runtime; the tick never waits on a socket ([`net::mailbox`]).
//! See [`room::core`] for the order of work in one tick, [`http::conn`] for
//! a connection's life and [`net::close`] for how bad input is answered.
//!
//! Modules form layers (a module names only those below it): `signing`,
//! `tickets`, `bucket_histogram`, `metrics`, `config`, `http_error` and
//! [`net`] (connection-level I/O and its guards: `close`, `origin`, `limits`,
//! `tls`, then `handshakes` over `limits` and `mailbox` over `close`) at the
//! bottom; then [`room`] (rooms and what runs them: `room_limits`, `core`
//! below `host`, `placement`, then `worker` and `registry`); `cluster`
//! (placement across nodes, over the registry); `state`; `conn`; `api`,
//! `admin`, `assets`; `http`; `server`.

pub mod bucket_histogram;
pub mod cli;
mod cli_replay;
pub mod cluster;
pub mod config;
mod error;
pub mod http;
pub mod metrics;
pub mod net;
pub mod priority;
pub mod recording;
pub mod room;
pub mod server;
pub mod signing;
pub mod state;
pub mod tickets;

pub use config::Config;
pub use error::{Error, Result};
pub use server::Server;
pub use tickroom_game::Games;

/// Starts a server with `config` hosting `games` and serves until
/// SIGINT/SIGTERM.
pub async fn run(config: Config, games: Games) -> Result<()> {
    Server::start(config, games).await?.run_until_signal().await
}
