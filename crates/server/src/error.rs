//! The server library's error type.

/// What can go wrong starting or running a server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is unusable; the text names the flag.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Binding or serving the listening socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A tick-worker thread could not be started.
    #[error("could not start tick worker: {0}")]
    Worker(std::io::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
