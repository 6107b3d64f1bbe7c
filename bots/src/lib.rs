//! tickroom-bots: a headless swarm of real WebSocket players, for load tests
//! and for the end-to-end tests that need many clients at once.
//!
//! Each bot is one lightweight tokio task speaking the real protocol
//! ([`tickroom_protocol`]) over tokio-tungstenite: it joins a room of its
//! game, sends inputs at a fixed rate, rebuilds the room's frame from every
//! state through the game's schema ([`tickroom_protocol::state::Replica`])
//! and measures what a player would feel (connect time, frame gaps and
//! jitter, and the latency from sending an input until a state acknowledges
//! it). The swarm knows no game: what a bot sends is its behaviour's
//! ([`behaviour::Play`], frame in, input out), and [`games`] holds the
//! behaviours: each game's own and the generic ones that play any game.
//!
//! The library entry point is [`run`]: it takes a [`SwarmConfig`] and a
//! shutdown future and returns a [`Report`] with the merged figures. The
//! `tickroom-bots` binary is a thin CLI around it.
//!
//! `https://`/`wss://` URLs connect over TLS ([`tls`]): the webpki roots are
//! trusted, and with [`SwarmConfig::tls_ca`] the certificates of one more PEM file.
//!
//! Against a cluster, `--url` may list several entry nodes; a bot follows
//! the server's redirects (close 4001 `node=<id>`, resolved with
//! `GET /cluster`) and drains (close 1001 `draining...`): see [`cluster`].
//!
//! [`http`] and [`prom`] are the one HTTP client and Prometheus reader shared
//! by the end-to-end tests and the `tickroom-bench` harness.

pub mod behaviour;
mod bot;
pub mod cluster;
pub mod config;
mod dns;
pub mod duration;
mod error;
pub mod exporter;
pub mod fail_if;
#[cfg(test)]
mod follow_tests;
pub mod games;
pub mod http;
pub mod process;
mod progress;
pub mod prom;
mod report;
mod rng;
mod stats;
mod swarm;
pub mod tls;
pub mod url;

pub use behaviour::{Behaviour, BehaviourKind, Connection, Play, View};
pub use config::{BotPlan, Mix, Placement, SwarmConfig};
pub use error::Error;
pub use fail_if::FailIf;
pub use report::{GroupReport, ProcessReport, Report, Summary};
pub use rng::Rng;
pub use stats::Counters;
pub use swarm::run;
