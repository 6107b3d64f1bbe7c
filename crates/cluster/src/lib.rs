//! Which tickroom process runs a room. Every process of a cluster answers
//! "where does room `id` live?" the same way, from the same inputs, so a
//! player can reach any process and be sent to the one that runs the room.
//!
//! This crate is sans-IO, like `tickroom-protocol`: it never touches a
//! socket, a thread or a clock, and holds no randomness. Time comes in as a
//! plain `u64` of milliseconds (`now`), and the caller keeps the state in
//! step with whatever shares it between processes. It must never use a
//! per-process hasher (std's `RandomState`/`DefaultHasher`): placement is
//! only consistent because [`hash`] is a fixed function, pinned by golden
//! vectors.
//!
//! - [`node`]: node ids and weights.
//! - [`hash`]: the one placement hash (xxh3-64 over a documented byte layout)
//!   and the weighted score.
//! - [`hrw`]: rendezvous placement, weighted, with an optional load bound.
//! - [`directory`]: dynamic clusters: members with leases, draining, and
//!   sticky room claims; placement with the load bound.
//! - [`peers`]: static clusters, a fixed `id=ws-url` list with pure HRW.
//! - [`Target`]: the answer, "this node" or "node X at URL".

pub mod directory;
mod error;
pub mod hash;
pub mod hrw;
pub mod node;
pub mod peers;
mod target;

pub use directory::{Directory, DirectoryConfig, Placement};
pub use error::{Error, Result};
pub use node::{NodeId, Weight, WsUrl};
pub use peers::{Peer, StaticCluster, parse_peers};
pub use target::Target;
