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
    /// A load bound's ε is negative, infinite or NaN (the text is the value).
    #[error("invalid load bound epsilon {0}: it must be a finite number of at least 0")]
    InvalidEpsilon(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
