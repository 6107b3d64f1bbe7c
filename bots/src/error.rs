//! The swarm library's one error type: everything that can stop a run before
//! it starts (bad configuration, a behaviour the game does not have,
//! unusable URL, unresolvable host) or a value from being parsed, and a
//! failed request of [`crate::http`]. Failures of single bots are not
//! errors: they are counted in the [`crate::Report`].

/// Why a swarm could not run, or why a textual option could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server URL cannot be turned into a WebSocket URL.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server's host name did not resolve to any address.
    #[error("could not resolve {host}")]
    Resolve {
        /// `host:port` that was looked up.
        host: String,
        /// The resolver's error, if it reported one.
        #[source]
        source: Option<std::io::Error>,
    },
    /// The configuration is inconsistent (zero bots, input rate out of range, ...).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A behaviour of the mix that the run's game does not have.
    #[error("no behaviour {name:?} for game {game:?}: expected one of {known}")]
    UnknownBehaviour {
        /// The run's game.
        game: String,
        /// The behaviour as given.
        name: String,
        /// The behaviours the game has, comma-separated.
        known: String,
    },
    /// A textual value (duration, mix, fail-if condition, ...) did not parse.
    #[error("invalid {what} {input:?}: {reason}")]
    Parse {
        /// What kind of value was being parsed.
        what: &'static str,
        /// The offending text.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// An HTTP request of [`crate::http`] failed (connect, I/O, or a
    /// malformed response).
    #[error("{request}: {source}")]
    Http {
        /// Method and URL of the request.
        request: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn parse(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Error::Parse {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}
