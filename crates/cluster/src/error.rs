//! Every way an input to this crate can be refused: a bad node id, weight,
//! URL or peer list, or a membership or claim operation that breaks a rule.
//!
//! Nothing here panics on bad input; each refusal is one documented variant,
//! with the offending value, so the caller can log it or show it to whoever
//! wrote the configuration.

/// Why a value or an operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A node id is empty, longer than [`crate::node::MAX_NODE_ID_BYTES`] or
    /// has a character outside `A-Z a-z 0-9 - _ .`.
    #[error("invalid node id `{id}`: node ids are 1 to 64 characters of A-Z a-z 0-9 - _ .")]
    InvalidNodeId {
        /// The refused id, as given.
        id: String,
    },
    /// A node weight of 0 (weights are relative shares, at least 1).
    #[error("invalid node weight 0: weights are at least 1")]
    ZeroWeight,
    /// A node URL does not follow [`crate::node::WsUrl`]'s grammar.
    #[error("invalid node URL `{url}`: {reason}")]
    InvalidUrl {
        /// The refused URL, as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A peer list entry has no `=` (entries are `id=ws-url`).
    #[error("peer entry `{entry}` is not id=ws-url")]
    PeerEntry {
        /// The entry, as written.
        entry: String,
    },
    /// A peer list names no peer.
    #[error("the peer list is empty: expected id=ws-url entries separated by commas")]
    NoPeers,
    /// Two peers of a list have the same id.
    #[error("peer `{id}` is listed twice")]
    DuplicatePeer {
        /// The repeated id.
        id: String,
    },
    /// Two peers of a list have the same URL.
    #[error("URL `{url}` is listed for two peers")]
    DuplicateUrl {
        /// The repeated URL.
        url: String,
    },
    /// A static cluster's peer list does not name the node itself.
    #[error("this node `{id}` is not in the peer list")]
    SelfNotInPeers {
        /// This node's id.
        id: String,
    },
    /// A lease given to a member or a claim ends at or before `now`.
    #[error("lease until {lease_until} ms is not after now ({now} ms)")]
    LeaseInPast {
        /// The lease's end.
        lease_until: u64,
        /// The time of the operation.
        now: u64,
    },
    /// No member has this id.
    #[error("node `{id}` is not a member")]
    UnknownNode {
        /// The id.
        id: String,
    },
    /// The member's lease has run out: it must join again.
    #[error("node `{id}`'s membership lease has run out")]
    NodeNotLive {
        /// The id.
        id: String,
    },
    /// A draining member cannot claim a new room.
    #[error("node `{id}` is draining and takes no new rooms")]
    NodeDraining {
        /// The id.
        id: String,
    },
    /// The room has a live claim by another node.
    #[error("room `{room}` is already claimed by `{owner}`")]
    AlreadyClaimed {
        /// The room.
        room: String,
        /// Its owner.
        owner: String,
    },
    /// The room has no (live) claim.
    #[error("room `{room}` is not claimed")]
    NotClaimed {
        /// The room.
        room: String,
    },
    /// The room's claim belongs to another node.
    #[error("room `{room}` is claimed by `{owner}`, not by this owner")]
    NotOwner {
        /// The room.
        room: String,
        /// Its owner.
        owner: String,
    },
    /// No live `Up` member can take a new room.
    #[error("no live member takes new rooms")]
    NoLiveNode,
    /// A load bound's ε is negative, infinite or NaN (the text is the value).
    #[error("invalid load bound epsilon {0}: it must be a finite number of at least 0")]
    InvalidEpsilon(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
