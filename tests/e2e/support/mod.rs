//! Helpers for the multi-process cluster tests: a throwaway Redis server, a
//! `tickroom` node as a child process, and cluster-aware clients (joins that
//! follow `4001 node=<owner>`, players read in the background).

/// `redis-server` on a free port, stopped by pid, restartable on its port.
pub mod redis;

/// The real `tickroom` binary as a cluster node.
pub mod node;

/// HTTP and WebSocket clients that know about the cluster.
pub mod client;
