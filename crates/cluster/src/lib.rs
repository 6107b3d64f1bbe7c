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
//! - [`node`]: node ids, weights and URLs.
//! - [`hash`]: the one placement hash (xxh3-64 over a documented byte layout)
//!   and the weighted score.
//! - [`hrw`]: rendezvous placement, weighted, with an optional load bound.
//! - [`directory`]: dynamic clusters: members with leases, draining, and
//!   sticky room claims; placement with the load bound.
//! - [`peers`]: static clusters, a fixed `id=ws-url` list with pure HRW.
//! - [`Target`]: the answer, "this node" or "node X at URL".
//!
//! ```
//! use tickroom_cluster::{Directory, DirectoryConfig, NodeId, Target, WsUrl};
//! use tickroom_cluster::directory::{Basis, Member};
//!
//! let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
//! let mut dir = Directory::new(a.clone(), DirectoryConfig::default());
//! let now = 1_000; // ms, from the caller's clock
//! for (id, url) in [(&a, "ws://10.0.0.1:8080"), (&b, "ws://10.0.0.2:8080")] {
//!     for change in dir.join(Member::new(id.clone(), WsUrl::new(url)?, now + 10_000), now)? {
//!         println!("cluster {}: {change:?}", change.kind());
//!     }
//! }
//! let placement = dir.place("lobby", now)?;
//! assert!(matches!(placement.basis, Basis::Chosen { .. }));
//! let owner = match &placement.target {
//!     Target::Local => a.clone(),                 // start it here, then claim it
//!     Target::Remote { node, .. } => node.clone(), // send the player to its URL
//! };
//! dir.claim("lobby", &owner, now + 30_000, now)?;
//! assert_eq!(dir.place("lobby", now + 1)?.target, placement.target); // sticky
//! # Ok::<(), tickroom_cluster::Error>(())
//! ```

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
