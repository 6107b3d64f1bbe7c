//! Connection-level I/O and its guards, below the rooms: how a socket is
//! accepted ([`handshakes`], [`tls`]), admitted at the WebSocket upgrade
//! ([`limits`], [`origin`]), paced ([`ratelimit`]) and ended ([`close`]),
//! and the newest-frame [`mailbox`] a room's tick and a connection's task
//! meet in.
//!
//! The bottom layer of the server: nothing here names a room, the registry,
//! the cluster, the shared state, a connection task or a route. Inside,
//! `close`, `origin`, `ratelimit` and `tls` name nothing of the crate;
//! `mailbox` names `close`, `limits` names `origin`, and `handshakes` names
//! `limits`. From outside the folder it names only `config` (the `Config`
//! that [`limits::Limits::new`] reads its caps from) and `error`. `config`
//! in turn validates `--allowed-origins` and `--trusted-proxies` with
//! `origin` and `limits::parse_cidrs`: a two-way tie between `config` and
//! `limits` that predates this folder.

pub mod close;
pub mod handshakes;
pub mod limits;
pub mod mailbox;
pub mod origin;
pub mod ratelimit;
pub mod tls;
