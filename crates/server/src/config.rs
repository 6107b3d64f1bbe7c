//! Server configuration: one struct, parsed from command-line flags and
//! environment variables by clap, with documented defaults and a `validate()`
//! that rejects nonsense before anything starts.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;

use crate::{Error, Result};

/// Default `--tcp-notsent-lowat`: about ten deltas of a 50-player room (see
/// docs/perf for the measurement that chose it).
pub const DEFAULT_NOTSENT_LOWAT: u32 = 2048;

/// Everything the server can be told at start-up. Every field has a flag and an
/// environment variable; the defaults run the demo game on `127.0.0.1:8080`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tickroom",
    version,
    about = "tickroom: an authoritative multiplayer game server (demo arena game included)"
)]
pub struct Config {
    /// Address to serve HTTP and WebSocket (`/ws`) on.
    #[arg(long, env = "TICKROOM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Room ticks per second (each tick steps the simulation and sends one snapshot).
    #[arg(long, env = "TICKROOM_TICK_RATE", default_value_t = 20)]
    pub tick_rate: u32,

    /// Tick-worker OS threads that step rooms; 0 means one per CPU core.
    #[arg(long, env = "TICKROOM_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Players a room holds; a join beyond that is refused with close code 1013.
    #[arg(long, env = "TICKROOM_ROOM_CAPACITY", default_value_t = 50)]
    pub room_capacity: usize,

    /// Seconds an empty room lives before it is closed.
    #[arg(long, env = "TICKROOM_ROOM_IDLE_SECS", default_value_t = 30.0)]
    pub room_idle_secs: f64,

    /// Seconds a client may make no write progress before it is closed (1008 "too slow").
    #[arg(long, env = "TICKROOM_SLOW_CLIENT_SECS", default_value_t = 10.0)]
    pub slow_client_secs: f64,

    /// Seconds a new WebSocket has to send its Join message.
    #[arg(long, env = "TICKROOM_JOIN_TIMEOUT_SECS", default_value_t = 5.0)]
    pub join_timeout_secs: f64,

    /// Seconds to wait for clients to close on SIGINT/SIGTERM before exiting anyway.
    #[arg(long, env = "TICKROOM_DRAIN_SECS", default_value_t = 5.0)]
    pub drain_secs: f64,

    /// Largest WebSocket message (and frame) accepted from a client, in bytes (1009 beyond).
    #[arg(long, env = "TICKROOM_MAX_MESSAGE_BYTES", default_value_t = tickroom_protocol::MAX_CLIENT_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Sustained messages per second a client may send (1008 "rate limit" beyond).
    #[arg(long, env = "TICKROOM_MAX_MSGS_PER_SEC", default_value_t = 80.0)]
    pub max_msgs_per_sec: f64,

    /// Burst of messages a client may send above the sustained rate.
    #[arg(long, env = "TICKROOM_MSG_BURST", default_value_t = 40.0)]
    pub msg_burst: f64,

    /// Inputs a room buffers between two ticks before it drops new ones (counted).
    #[arg(long, env = "TICKROOM_INPUT_QUEUE", default_value_t = 1024)]
    pub input_queue: usize,

    /// Per-connection WebSocket read buffer, in bytes (tungstenite's 128 KiB default costs ~100 KB per
    /// idle client; a client message is at most 256 bytes and an input about 13 framed, so 512
    /// bytes hold the largest message or a burst of ~40 inputs; it grows for a larger frame).
    #[arg(long, env = "TICKROOM_WS_READ_BUFFER", default_value_t = 512)]
    pub ws_read_buffer: usize,

    /// Secret for signing join tickets and resume tokens (at least 16 bytes; share it
    /// across nodes so any node verifies them). Unset: a random secret per process.
    #[arg(long, env = "TICKROOM_SECRET", hide_env_values = true)]
    pub secret: Option<Secret>,

    /// Whether a WebSocket join needs a ticket from the room API: `optional`
    /// (anonymous joins allowed, the demo default) or `required` (1008 without one).
    #[arg(long, env = "TICKROOM_AUTH", value_enum, default_value_t = AuthMode::Optional)]
    pub auth: AuthMode,

    /// Seconds a join ticket stays valid.
    #[arg(long, env = "TICKROOM_TICKET_TTL_SECS", default_value_t = 30.0)]
    pub ticket_ttl_secs: f64,

    /// Seconds a disconnected player's entity waits for a resume (at least 5).
    #[arg(long, env = "TICKROOM_RESUME_GRACE_SECS", default_value_t = 10.0)]
    pub resume_grace_secs: f64,

    /// Largest capacity a room created through the API may ask for.
    #[arg(long, env = "TICKROOM_MAX_ROOM_CAPACITY", default_value_t = 200)]
    pub max_room_capacity: usize,

    /// Nice value added to the I/O threads (0-19) so tick workers preempt them
    /// when a tick is due on a busy core; 0 disables.
    #[arg(long, env = "TICKROOM_IO_NICE", default_value_t = 5)]
    pub io_nice: i32,

    /// Kernel send buffer (SO_SNDBUF) per accepted socket, in bytes; unset keeps the OS default.
    /// Smaller values bound kernel memory per player and make slow readers show up sooner.
    #[arg(long, env = "TICKROOM_TCP_SEND_BUFFER")]
    pub tcp_send_buffer: Option<usize>,

    /// TCP_NOTSENT_LOWAT per accepted socket, in bytes: the most the kernel holds unsent
    /// for a connection before writes wait. Frames a slow reader cannot take then stay in
    /// its one-slot mailbox, where newer ones replace them, instead of queueing old in the
    /// kernel. 0 leaves the OS default (unbounded).
    #[arg(long, env = "TICKROOM_TCP_NOTSENT_LOWAT", default_value_t = DEFAULT_NOTSENT_LOWAT)]
    pub tcp_notsent_lowat: u32,

    /// Per-connection cap on buffered outgoing bytes before a write fails.
    #[arg(long, env = "TICKROOM_WS_MAX_WRITE_BUFFER", default_value_t = 256 * 1024)]
    pub ws_max_write_buffer: usize,

    /// Serve the browser demo client from this directory instead of the copy built into
    /// the binary (for editing `assets/` without rebuilding); unset serves the built-in copy.
    #[arg(long, env = "TICKROOM_ASSETS_DIR")]
    pub assets_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        // The clap defaults are the single source of truth; parsing no arguments
        // (and ignoring the environment) yields them.
        Config::parse_from_defaults()
    }
}

impl Config {
    fn parse_from_defaults() -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tick_rate: 20,
            workers: 0,
            room_capacity: 50,
            room_idle_secs: 30.0,
            slow_client_secs: 10.0,
            join_timeout_secs: 5.0,
            drain_secs: 5.0,
            max_message_bytes: tickroom_protocol::MAX_CLIENT_MESSAGE_BYTES,
            max_msgs_per_sec: 80.0,
            msg_burst: 40.0,
            input_queue: 1024,
            ws_read_buffer: 512,
            secret: None,
            auth: AuthMode::Optional,
            ticket_ttl_secs: 30.0,
            resume_grace_secs: 10.0,
            max_room_capacity: 200,
            io_nice: 5,
            tcp_send_buffer: None,
            tcp_notsent_lowat: DEFAULT_NOTSENT_LOWAT,
            ws_max_write_buffer: 256 * 1024,
            assets_dir: None,
        }
    }

    /// Checks that every value is usable; the message names the flag.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::Config(msg.to_owned()));
        if !(1..=240).contains(&self.tick_rate) {
            return bad("--tick-rate must be between 1 and 240");
        }
        if self.room_capacity == 0 || self.room_capacity > 10_000 {
            return bad("--room-capacity must be between 1 and 10000");
        }
        if self.workers > 1024 {
            return bad("--workers must be at most 1024 (0 = one per core)");
        }
        for (name, v) in [
            ("--room-idle-secs", self.room_idle_secs),
            ("--slow-client-secs", self.slow_client_secs),
            ("--join-timeout-secs", self.join_timeout_secs),
            ("--drain-secs", self.drain_secs),
        ] {
            if !(v.is_finite() && v > 0.0 && v < 1e6) {
                return Err(Error::Config(format!(
                    "{name} must be a positive number of seconds"
                )));
            }
        }
        if !(self.max_msgs_per_sec.is_finite() && self.max_msgs_per_sec > 0.0) {
            return bad("--max-msgs-per-sec must be positive");
        }
        if !(self.msg_burst.is_finite() && self.msg_burst >= 1.0) {
            return bad("--msg-burst must be at least 1");
        }
        if self.max_message_bytes < 16 || self.max_message_bytes > 1 << 20 {
            return bad("--max-message-bytes must be between 16 and 1048576");
        }
        if let Some(secret) = &self.secret
            && secret.expose().len() < crate::signing::MIN_SECRET_BYTES
        {
            return bad("--secret must be at least 16 bytes");
        }
        if !(self.ticket_ttl_secs.is_finite()
            && self.ticket_ttl_secs > 0.0
            && self.ticket_ttl_secs <= 3600.0)
        {
            return bad("--ticket-ttl-secs must be between 0 and 3600");
        }
        if !(self.resume_grace_secs.is_finite() && (5.0..=3600.0).contains(&self.resume_grace_secs))
        {
            return bad("--resume-grace-secs must be between 5 and 3600");
        }
        if self.max_room_capacity < self.room_capacity || self.max_room_capacity > 10_000 {
            return bad("--max-room-capacity must be at least --room-capacity and at most 10000");
        }
        if !(0..=19).contains(&self.io_nice) {
            return bad("--io-nice must be between 0 and 19");
        }
        if self.input_queue == 0 {
            return bad("--input-queue must be at least 1");
        }
        if self.ws_read_buffer < 256 {
            return bad("--ws-read-buffer must be at least 256 bytes");
        }
        if self.ws_max_write_buffer < 4096 {
            return bad("--ws-max-write-buffer must be at least 4096 bytes");
        }
        if let Some(dir) = &self.assets_dir
            && !dir.is_dir()
        {
            return Err(Error::Config(format!(
                "--assets-dir {} is not a directory",
                dir.display()
            )));
        }
        Ok(())
    }

    /// The tick period.
    pub fn tick_period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.tick_rate as f64)
    }

    /// Worker threads actually used (resolves 0 to the core count).
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.workers
        }
    }

    pub(crate) fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }
}

/// A secret from the command line or environment; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// Whether WebSocket joins need a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Tickets are checked when given; anonymous joins are allowed.
    Optional,
    /// Every join needs a valid ticket (1008 otherwise).
    Required,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_flags_and_validate() {
        let parsed = Config::try_parse_from(["tickroom"]).expect("defaults parse");
        let default = Config::default();
        assert_eq!(format!("{parsed:?}"), format!("{default:?}"));
        default.validate().expect("defaults are valid");
        assert_eq!(default.tick_period(), Duration::from_millis(50));
    }

    #[test]
    fn nonsense_is_rejected_with_the_flag_named() {
        type Breaker = fn(&mut Config);
        let cases: [(&str, Breaker); 5] = [
            ("--tick-rate", |c| c.tick_rate = 0),
            ("--room-capacity", |c| c.room_capacity = 0),
            ("--drain-secs", |c| c.drain_secs = f64::NAN),
            ("--msg-burst", |c| c.msg_burst = 0.0),
            ("--assets-dir", |c| {
                c.assets_dir = Some(PathBuf::from("/nonexistent/tickroom-assets"));
            }),
        ];
        for (flag, break_it) in cases {
            let mut c = Config::default();
            break_it(&mut c);
            let err = c.validate().expect_err(flag).to_string();
            assert!(err.contains(flag), "{err}");
        }
    }
}
