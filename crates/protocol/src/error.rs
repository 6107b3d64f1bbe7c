//! Errors from decoding bytes into protocol messages.
//!
//! Decoding arbitrary bytes must never panic: every way a message can be wrong
//! is one variant here, so the server can map it onto a WebSocket close code.

/// Why bytes could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message is longer than the protocol allows for its direction.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Length of the offending message in bytes.
        len: usize,
        /// The limit it broke.
        max: usize,
    },
    /// The bytes are not a valid encoding of any message (unknown tag,
    /// truncated field, invalid UTF-8, ...). The text describes where.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A message decoded, but bytes were left over after it.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// A well-formed message broke a protocol rule (e.g. a name too long).
    #[error("invalid message: {0}")]
    Invalid(&'static str),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
