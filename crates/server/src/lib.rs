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
//! Modules form layers, bottom to top (a module names only those below it):
//! - the leaves at the crate root: `error`, `signing` and `tickets`,
//!   `bucket_histogram` and `metrics`, `priority`, `config`;
//! - [`net`]: connection-level I/O and its guards (`close`, `origin`,
//!   `limits`, `tls`, `ratelimit`, then `handshakes` over `limits` and
//!   `mailbox` over `close`);
//! - [`room`]: rooms and what runs them on this node (`core` below `host`,
//!   `placement`, `room_limits`, then `worker` and `registry`), with
//!   [`recording`] (the room's records onto disk, and `replay`);
//! - [`cluster`]: which node runs a room, over the registry;
//! - [`state`]: what every connection and route reads;
//! - [`handoff`]: a draining node's rooms to the fleet, and a dead node's
//!   rooms back from their snapshots (over `state`, `cluster` and `room`);
//! - [`http`]: what a client reaches on the port (`http_error` and `conn`,
//!   then `api`, `admin`, `assets` and `recordings_http`, then the router);
//! - [`server`]; and the command line, [`cli`] with its `replay` subcommand.
//!
//! Two ties run both ways, and predate the folders: `config` checks its
//! flags with `net::origin` and `net::limits::parse_cidrs` while
//! `net::limits` reads the `Config`; and `recording` names the room's
//! `RoomGame` while the room's `host` and `worker` hand records to
//! `recording` (folder to folder, no two files naming each other).

pub mod bucket_histogram;
pub mod cli;
mod cli_replay;
pub mod cluster;
pub mod config;
mod error;
pub mod handoff;
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
