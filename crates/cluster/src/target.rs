//! The answer a caller acts on: run the room here, or send the player to
//! another node. It names the node and its URL, never a socket or a
//! connection: reaching the node is the caller's business.

use crate::node::{NodeId, WsUrl};

/// Where a room runs, from the asking node's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This node (the `self_id` the state was built with) runs the room.
    Local,
    /// Another node runs it; players belong at `url`.
    Remote {
        /// The node.
        node: NodeId,
        /// Its base WebSocket URL.
        url: WsUrl,
    },
}

impl Target {
    /// Whether this node runs the room.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Local)
    }
}
