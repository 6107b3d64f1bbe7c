//! Server configuration: one struct, parsed from command-line flags and
//! environment variables by clap, with documented defaults and a `validate()`
//! that rejects nonsense before anything starts.
//!
//! Durations take a unit (`--slow-client 10s`, `--join-timeout 500ms`,
//! humantime's syntax). The flags before that, `--slow-client-secs 10` and the
//! like with their `TICKROOM_*_SECS` variables, still work, hidden from
//! `--help`; when both spellings are given the new one wins.

use std::{ffi::OsString, net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, CommandFactory, FromArgMatches, Parser, parser::ValueSource};

use crate::{Error, Result};

/// Default `--tcp-notsent-lowat`: about ten deltas of a 50-player room (see
/// docs/perf for the measurement that chose it).
pub const DEFAULT_NOTSENT_LOWAT: u32 = 2048;

/// Everything the server can be told at start-up. Every field has a flag and an
/// environment variable; the defaults run the demo game on `127.0.0.1:8080`.
/// Parse it with [`Config::parse`] (which also reads the old `*-secs` flags).
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to serve HTTP and WebSocket (`/ws`) on.
    #[arg(long, env = "TICKROOM_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// A second address for the operator's endpoints (`/healthz`, `/readyz`, `/metrics`,
    /// `/admin/*`), which then leave `--bind`: probes and scrapes never compete with
    /// players for a handshake slot. Unset: they are served on `--bind`.
    #[arg(long, env = "TICKROOM_ADMIN_BIND")]
    pub admin_bind: Option<SocketAddr>,

    /// The game of rooms created without naming one (a join's `/ws?room=` without
    /// `&game=`, a `POST /rooms` without `"game"`). Unset: the only game the server
    /// hosts, or the first by name when it hosts several.
    #[arg(long, env = "TICKROOM_DEFAULT_GAME")]
    pub default_game: Option<String>,

    /// Room ticks per second (each tick steps the simulation and sends one snapshot).
    #[arg(long, env = "TICKROOM_TICK_RATE", default_value_t = 20)]
    pub tick_rate: u32,

    /// Tick-worker OS threads that step rooms; 0 means one per CPU core.
    #[arg(long, env = "TICKROOM_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Players a room holds; a join beyond that is refused with close code 1013.
    #[arg(long, env = "TICKROOM_ROOM_CAPACITY", default_value_t = 50)]
    pub room_capacity: usize,

    /// How long an empty room lives before it is closed (e.g. `30s`, `2m`).
    #[arg(long, env = "TICKROOM_ROOM_IDLE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub room_idle: Duration,

    /// How long a client may make no write progress before it is closed (1008 "too slow").
    #[arg(long, env = "TICKROOM_SLOW_CLIENT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub slow_client: Duration,

    /// Flow control: a client whose inputs report (`ack_tick`) none of the frames sent to it
    /// in this span gets no new frames until it catches up, so frames do not pile up old in
    /// buffers on the way (rounded up to whole ticks; `0s` disables).
    #[arg(long, env = "TICKROOM_MAX_UNACKED", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub max_unacked: Duration,

    /// How long a new WebSocket has to send its Join message.
    #[arg(long, env = "TICKROOM_JOIN_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub join_timeout: Duration,

    /// How long to wait for clients to close on SIGINT/SIGTERM before exiting anyway.
    #[arg(long, env = "TICKROOM_DRAIN", default_value = "5s", value_parser = humantime::parse_duration)]
    pub drain: Duration,

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
    /// idle client). An input is about 13 bytes framed, so 256 bytes hold a burst of ~19 inputs
    /// (a client at 30 Hz sends one per read); the buffer grows for a larger message (at most
    /// 256 bytes of payload) and reads happen in chunks of this size.
    #[arg(long, env = "TICKROOM_WS_READ_BUFFER", default_value_t = 256)]
    pub ws_read_buffer: usize,

    /// Secret for signing join tickets and resume tokens (at least 16 bytes; share it
    /// across nodes so any node verifies them). Unset: a random secret per process.
    #[arg(long, env = "TICKROOM_SECRET", hide_env_values = true)]
    pub secret: Option<Secret>,

    /// Whether a WebSocket join needs a ticket from the room API: `optional`
    /// (anonymous joins allowed, the demo default) or `required` (1008 without one).
    #[arg(long, env = "TICKROOM_AUTH", value_enum, default_value_t = AuthMode::Optional)]
    pub auth: AuthMode,

    /// How long a join ticket stays valid (at most 1h).
    #[arg(long, env = "TICKROOM_TICKET_TTL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub ticket_ttl: Duration,

    /// How long a disconnected player's entity waits for a resume (5s to 1h).
    #[arg(long, env = "TICKROOM_RESUME_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub resume_grace: Duration,

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

    /// This node's id in a cluster (`A-Z a-z 0-9 - _ .`, at most 64 bytes): hashed into every
    /// room placement, so it must be stable across restarts. Unset: the host name.
    #[arg(long, env = "TICKROOM_NODE_ID")]
    pub node_id: Option<String>,

    /// The URL players and the other nodes reach this node at (`http://…` or `https://…`,
    /// optionally with a path such as `https://game.example.com/n/node-1` behind a proxy);
    /// its WebSocket form (`ws://…`/`wss://…`) goes into the `ws_url` of room API answers.
    /// Unset: this node's own `--peers` entry, else `http://<bound address>` (`https://` with
    /// `--tls-cert`).
    #[arg(long, env = "TICKROOM_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Redis mode: the plain `http://` URL the other nodes forward room API requests to,
    /// when the public URL is not reachable that way (e.g. `https://` on a TLS proxy).
    /// Unset: the public URL's `http(s)://` form.
    #[arg(long, env = "TICKROOM_INTERNAL_URL")]
    pub internal_url: Option<String>,

    /// Static cluster: every node as `id=ws-url`, comma- or space-separated, this node
    /// included (e.g. `a=ws://tick-0.tick:8080,b=ws://tick-1.tick:8080`); rooms go to their
    /// rendezvous winner over the list. Unset (and no `--redis`): a single node.
    #[arg(long, env = "TICKROOM_PEERS", conflicts_with = "redis")]
    pub peers: Option<String>,

    /// Dynamic cluster: membership and room claims on this Redis (`redis://host:6379/0`).
    #[arg(long, env = "TICKROOM_REDIS_URL", hide_env_values = true)]
    pub redis: Option<Secret>,

    /// Prefix of every Redis key this fleet uses (several fleets may share one Redis).
    #[arg(long, env = "TICKROOM_REDIS_PREFIX", default_value = "tickroom")]
    pub redis_prefix: String,

    /// Membership lease in Redis mode: a node that has not renewed its record for this long
    /// is dead and its rooms are placed afresh; renewed every third of it.
    #[arg(long, env = "TICKROOM_CLUSTER_LEASE", default_value = "3s", value_parser = humantime::parse_duration)]
    pub cluster_lease: Duration,

    /// On a drain (SIGTERM, `POST /admin/drain`), hand each room, live, to the node
    /// placement picks among the others (Redis mode, with `--secret`): players resume
    /// there with their ids and scores. `false`: rooms run until empty or `--drain`.
    #[arg(long, env = "TICKROOM_HANDOFF", default_value_t = true, action = clap::ArgAction::Set)]
    pub handoff: bool,

    /// Redis mode: every this often each room writes its state to Redis, so when this
    /// node dies its rooms come back on a survivor from their newest snapshot (at most
    /// this much play is lost). Off by default.
    #[arg(long, env = "TICKROOM_ROOM_SNAPSHOTS", value_parser = humantime::parse_duration)]
    pub room_snapshots: Option<Duration>,

    /// This node's share of new rooms against the others (Redis mode), at least 1.
    #[arg(long, env = "TICKROOM_NODE_WEIGHT", default_value_t = 1)]
    pub node_weight: u32,

    /// Operator token: when set, `POST /admin/drain` with `Authorization: Bearer <token>`
    /// drains this node; unset, the operator endpoints are disabled.
    #[arg(long, env = "TICKROOM_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<Secret>,

    /// Serve the browser demo client from this directory instead of the copy built into
    /// the binary (for editing `assets/` without rebuilding); unset serves the built-in copy.
    #[arg(long, env = "TICKROOM_ASSETS_DIR")]
    pub assets_dir: Option<PathBuf>,

    // ----- rooms and API access (issue 13) -----
    /// Most live rooms on this node: the API answers 503 `too_many_rooms` and a WebSocket
    /// join that would start a room is closed with 1013 "too many rooms" beyond it.
    #[arg(long, env = "TICKROOM_MAX_ROOMS", default_value_t = 10_000)]
    pub max_rooms: usize,

    /// Rooms one client address may start per minute (API and WebSocket joins; IPv6 by
    /// /64); beyond it 429 `too_many_room_creations` / 1008 "too many new rooms".
    /// 0 disables the limit. Loopback is exempt unless `--limit-loopback`.
    #[arg(long, env = "TICKROOM_ROOM_CREATIONS_PER_IP", default_value_t = 60)]
    pub room_creations_per_ip: u32,

    /// With `--api-token`, `GET /rooms` and `GET /rooms/{id}` need the token too
    /// (the routes that change something always do).
    #[arg(long, env = "TICKROOM_API_TOKEN_FOR_READS")]
    pub api_token_for_reads: bool,

    /// Apply the per-address limits to loopback clients too (exempt by default, so
    /// local tools and a proxy on the same host are not limited as one client).
    #[arg(long, env = "TICKROOM_LIMIT_LOOPBACK")]
    pub limit_loopback: bool,

    // ----- HTTP limits (issue 13) -----
    /// How long a client has to send a complete request head (and the wait for the next
    /// one on a kept-alive connection) before the connection is closed.
    #[arg(long, env = "TICKROOM_HEADER_READ_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Largest request head (request line and headers) read, in bytes, at least 8192;
    /// a larger one is answered 431.
    #[arg(long, env = "TICKROOM_MAX_HEAD_BYTES", default_value_t = 16384)]
    pub max_head_bytes: usize,

    /// TCP connections accepted whose first request head has not arrived yet; one more is
    /// closed at once.
    #[arg(long, env = "TICKROOM_MAX_HANDSHAKES", default_value_t = 1024)]
    pub max_handshakes: usize,

    /// Of `--max-handshakes`, how many one client address (an IPv6 /64) may hold (a value
    /// above `--max-handshakes` is no cap); one more is closed at once. Loopback and `--trusted-proxies` peers are exempt unless
    /// `--limit-loopback`. When every slot is taken, a newcomer from a lighter address
    /// takes the place of the heaviest address's oldest socket.
    #[arg(long, env = "TICKROOM_MAX_HANDSHAKES_PER_IP", default_value_t = 32)]
    pub max_handshakes_per_ip: usize,

    /// Origins whose pages may open a WebSocket, comma-separated: exact origins, patterns
    /// (`https://*.example.com`, `http://localhost:*`) or `*` (any). Unset: loopback pages
    /// on any port. This node's own origin and the cluster members' are always allowed.
    #[arg(long, env = "TICKROOM_ALLOWED_ORIGINS")]
    pub allowed_origins: Option<String>,

    /// Refuse WebSocket upgrades without an `Origin` header (non-browser clients send none).
    #[arg(long, env = "TICKROOM_REQUIRE_ORIGIN")]
    pub require_origin: bool,

    /// Live WebSocket connections this node takes; one more is answered 503.
    #[arg(long, env = "TICKROOM_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Live WebSocket connections from one client address (an IPv6 /64); one more is
    /// answered 429. Loopback is exempt unless `--limit-loopback`.
    #[arg(long, env = "TICKROOM_MAX_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_connections_per_ip: usize,

    /// Proxies (CIDR blocks or addresses, comma-separated) whose `X-Forwarded-For` or
    /// `Forwarded` header names the client address; from anyone else they are ignored.
    #[arg(long, env = "TICKROOM_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,

    /// TCP keepalive on accepted sockets: idle time before the first probe (then two more
    /// probes a third of it apart); `0s` disables.
    #[arg(long, env = "TICKROOM_TCP_KEEPALIVE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub tcp_keepalive: Duration,

    // ----- liveness (issue 13) -----
    /// A joined connection that received nothing (no message, ping or pong) for half of this
    /// is sent a WebSocket ping; for all of it, it is closed with 1008 "idle timeout" and its
    /// player enters the resume grace (1s to 1h, longer than one tick).
    #[arg(long, env = "TICKROOM_IDLE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,

    // ----- TLS (issue 13) -----
    /// Serve HTTPS and `wss://` with this PEM certificate chain (the leaf first), read once
    /// at start; needs `--tls-key`. For a single node: a fleet terminates TLS at its load
    /// balancer instead (docs/deploy.md).
    #[arg(long, env = "TICKROOM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "TICKROOM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    // ----- recording (issue 14) -----
    /// Record every room into this directory (created if missing): one file per room,
    /// named `<room>@<start unix ms>-<n>.tickrec`, replayable with `tickroom replay FILE`
    /// and watchable at `/?replay=<file>` (with `--api-token`). Unset: nothing is recorded.
    #[arg(long, env = "TICKROOM_RECORD_DIR")]
    pub record_dir: Option<PathBuf>,

    /// Largest recording file (`64MiB`, `500kB`, bytes); its room plays on unrecorded after it.
    #[arg(long, env = "TICKROOM_RECORD_MAX_FILE_BYTES", default_value = "64MiB", value_parser = parse_bytes)]
    pub record_max_file_bytes: u64,

    /// Largest total of the recordings in `--record-dir`; the oldest finished ones are
    /// removed first to stay under it.
    #[arg(long, env = "TICKROOM_RECORD_MAX_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    pub record_max_bytes: u64,

    /// A recording stores the whole frame this often (a check point that names the
    /// entity a divergent replay differs in).
    #[arg(long, env = "TICKROOM_RECORD_KEYFRAME_EVERY", default_value = "10s", value_parser = humantime::parse_duration)]
    pub record_keyframe_every: Duration,

    // ----- sub-steps (issue 15) -----
    /// Simulation steps per second, a whole multiple of `--tick-rate` (at most 240): each
    /// step applies the inputs that arrived before it, every (sim-rate / tick-rate)-th
    /// also builds and sends the frame. Finer input response, same state rate. Unset:
    /// equal to `--tick-rate` (one step per frame).
    #[arg(long, env = "TICKROOM_SIM_RATE")]
    pub sim_rate: Option<u32>,
}

/// A byte size: `1GiB`, `64 MiB`, `500kB`, `4096`.
fn parse_bytes(s: &str) -> std::result::Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("{s:?} is not a byte size (like 64MiB or 1GB): {e}"))
}

/// The command line: the config, and the flags durations had before they
/// took units.
#[derive(Debug, Parser)]
#[command(
    name = "tickroom",
    version,
    about = "tickroom: an authoritative multiplayer game server"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(flatten)]
    legacy: LegacySecs,
}

/// `--slow-client-secs 10` and the like: plain seconds, hidden from `--help`,
/// kept so existing scripts and environments keep working.
#[derive(Debug, Args)]
struct LegacySecs {
    #[arg(long, env = "TICKROOM_ROOM_IDLE_SECS", hide = true, value_parser = parse_secs)]
    room_idle_secs: Option<Duration>,
    #[arg(long, env = "TICKROOM_SLOW_CLIENT_SECS", hide = true, value_parser = parse_secs)]
    slow_client_secs: Option<Duration>,
    #[arg(long, env = "TICKROOM_JOIN_TIMEOUT_SECS", hide = true, value_parser = parse_secs)]
    join_timeout_secs: Option<Duration>,
    #[arg(long, env = "TICKROOM_DRAIN_SECS", hide = true, value_parser = parse_secs)]
    drain_secs: Option<Duration>,
    #[arg(long, env = "TICKROOM_TICKET_TTL_SECS", hide = true, value_parser = parse_secs)]
    ticket_ttl_secs: Option<Duration>,
    #[arg(long, env = "TICKROOM_RESUME_GRACE_SECS", hide = true, value_parser = parse_secs)]
    resume_grace_secs: Option<Duration>,
}

/// A number of seconds, as the `*-secs` flags take (`10`, `0.5`).
fn parse_secs(s: &str) -> std::result::Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a number of seconds, got {s:?}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?} seconds: {e}"))
}

impl Default for Config {
    fn default() -> Self {
        // Must match the clap defaults (a unit test checks that parsing no
        // arguments yields the same).
        Config::parse_from_defaults()
    }
}

impl Config {
    /// Parses the process's arguments and environment; prints the error (or
    /// `--help`) and exits on failure, like clap's `Parser::parse`.
    pub fn parse() -> Config {
        Config::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first is the program name) and the environment.
    /// A `*-secs` flag or variable applies unless the new spelling of the same
    /// setting was given at the same level or a higher one (command line over
    /// environment over default).
    pub fn try_parse_from<I, T>(args: I) -> std::result::Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let Cli { mut config, legacy } = Cli::from_arg_matches(&matches)?;
        let rank = |id: &str| match matches.value_source(id) {
            Some(ValueSource::CommandLine) => 2,
            Some(ValueSource::EnvVariable) => 1,
            _ => 0,
        };
        for (field, new, old, value) in [
            (
                &mut config.room_idle,
                "room_idle",
                "room_idle_secs",
                legacy.room_idle_secs,
            ),
            (
                &mut config.slow_client,
                "slow_client",
                "slow_client_secs",
                legacy.slow_client_secs,
            ),
            (
                &mut config.join_timeout,
                "join_timeout",
                "join_timeout_secs",
                legacy.join_timeout_secs,
            ),
            (&mut config.drain, "drain", "drain_secs", legacy.drain_secs),
            (
                &mut config.ticket_ttl,
                "ticket_ttl",
                "ticket_ttl_secs",
                legacy.ticket_ttl_secs,
            ),
            (
                &mut config.resume_grace,
                "resume_grace",
                "resume_grace_secs",
                legacy.resume_grace_secs,
            ),
        ] {
            if let Some(v) = value
                && rank(old) > rank(new)
            {
                *field = v;
            }
        }
        Ok(config)
    }

    fn parse_from_defaults() -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_bind: None,
            default_game: None,
            tick_rate: 20,
            workers: 0,
            room_capacity: 50,
            room_idle: Duration::from_secs(30),
            slow_client: Duration::from_secs(10),
            max_unacked: Duration::from_millis(500),
            join_timeout: Duration::from_secs(5),
            drain: Duration::from_secs(5),
            max_message_bytes: tickroom_protocol::MAX_CLIENT_MESSAGE_BYTES,
            max_msgs_per_sec: 80.0,
            msg_burst: 40.0,
            input_queue: 1024,
            ws_read_buffer: 256,
            secret: None,
            auth: AuthMode::Optional,
            ticket_ttl: Duration::from_secs(30),
            resume_grace: Duration::from_secs(10),
            max_room_capacity: 200,
            io_nice: 5,
            tcp_send_buffer: None,
            tcp_notsent_lowat: DEFAULT_NOTSENT_LOWAT,
            ws_max_write_buffer: 256 * 1024,
            assets_dir: None,
            node_id: None,
            public_url: None,
            internal_url: None,
            peers: None,
            redis: None,
            redis_prefix: "tickroom".to_owned(),
            cluster_lease: Duration::from_secs(3),
            handoff: true,
            room_snapshots: None,
            node_weight: 1,
            api_token: None,
            // ----- rooms and API access (issue 13) -----
            max_rooms: 10_000,
            room_creations_per_ip: 60,
            api_token_for_reads: false,
            limit_loopback: false,
            // ----- HTTP limits (issue 13) -----
            header_read_timeout: Duration::from_secs(5),
            max_head_bytes: 16384,
            max_handshakes: 1024,
            max_handshakes_per_ip: 32,
            allowed_origins: None,
            require_origin: false,
            max_connections: 10_000,
            max_connections_per_ip: 64,
            trusted_proxies: None,
            tcp_keepalive: Duration::from_secs(30),
            // ----- liveness (issue 13) -----
            idle_timeout: Duration::from_secs(10),
            // ----- TLS (issue 13) -----
            tls_cert: None,
            tls_key: None,
            // ----- recording (issue 14) -----
            record_dir: None,
            record_max_file_bytes: 64 << 20,
            record_max_bytes: 1 << 30,
            record_keyframe_every: Duration::from_secs(10),
            // ----- sub-steps (issue 15) -----
            sim_rate: None,
        }
    }

    /// The flow-control window in ticks (see `--max-unacked`).
    pub fn max_unacked_ticks(&self) -> u32 {
        (self.max_unacked.as_secs_f64() * f64::from(self.tick_rate)).ceil() as u32
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
            ("--room-idle", self.room_idle),
            ("--slow-client", self.slow_client),
            ("--join-timeout", self.join_timeout),
            ("--drain", self.drain),
        ] {
            if v.is_zero() || v >= Duration::from_secs(1_000_000) {
                return Err(Error::Config(format!(
                    "{name} must be above 0 and below 1000000s"
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
        const HOUR: Duration = Duration::from_secs(3600);
        if self.ticket_ttl < Duration::from_millis(1) || self.ticket_ttl > HOUR {
            return bad("--ticket-ttl must be between 1ms and 1h");
        }
        if !(Duration::from_secs(5)..=HOUR).contains(&self.resume_grace) {
            return bad("--resume-grace must be between 5s and 1h");
        }
        if let Some(every) = self.room_snapshots {
            if self.redis.is_none() {
                return bad("--room-snapshots needs --redis (snapshots are kept in Redis)");
            }
            if !(Duration::from_millis(100)..=HOUR).contains(&every) {
                return bad("--room-snapshots must be between 100ms and 1h");
            }
        }
        if !(Duration::from_millis(300)..=Duration::from_secs(600)).contains(&self.cluster_lease) {
            return bad("--cluster-lease must be between 300ms and 10m");
        }
        if self.node_weight == 0 || self.node_weight > 1_000_000 {
            return bad("--node-weight must be between 1 and 1000000");
        }
        if self.redis_prefix.is_empty()
            || self.redis_prefix.len() > 64
            || !self.redis_prefix.bytes().all(|b| b.is_ascii_graphic())
        {
            return bad("--redis-prefix must be 1 to 64 printable ASCII characters");
        }
        if let Some(token) = &self.api_token
            && token.expose().len() < crate::signing::MIN_SECRET_BYTES
        {
            return bad("--api-token must be at least 16 bytes");
        }
        if self.peers.is_some() && self.redis.is_some() {
            return bad("--peers and --redis are two kinds of cluster: give one");
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
        // ----- rooms and API access (issue 13) -----
        if self.max_rooms == 0 || self.max_rooms > 10_000_000 {
            return bad("--max-rooms must be between 1 and 10000000");
        }
        if self.room_creations_per_ip > 1_000_000 {
            return bad("--room-creations-per-ip must be at most 1000000 (0 = no limit)");
        }
        if self.api_token_for_reads && self.api_token.is_none() {
            return bad("--api-token-for-reads needs --api-token");
        }
        // ----- HTTP limits (issue 13) -----
        if self.header_read_timeout < Duration::from_millis(100)
            || self.header_read_timeout > Duration::from_secs(600)
        {
            return bad("--header-read-timeout must be between 100ms and 10m");
        }
        if !(8192..=1 << 20).contains(&self.max_head_bytes) {
            return bad("--max-head-bytes must be between 8192 and 1048576");
        }
        if self.max_handshakes == 0 || self.max_handshakes > 1_000_000 {
            return bad("--max-handshakes must be between 1 and 1000000");
        }
        if let Some(admin) = self.admin_bind
            && admin == self.bind
            && admin.port() != 0
        {
            return bad("--admin-bind must differ from --bind");
        }
        if self.max_handshakes_per_ip == 0 {
            return bad("--max-handshakes-per-ip must be at least 1");
        }
        if self.max_connections == 0 {
            return bad("--max-connections must be at least 1");
        }
        if self.max_connections_per_ip == 0 {
            return bad("--max-connections-per-ip must be at least 1");
        }
        if !self.tcp_keepalive.is_zero() && self.tcp_keepalive < Duration::from_secs(1) {
            return bad("--tcp-keepalive must be 0s (off) or at least 1s");
        }
        crate::net::origin::OriginPolicy::parse(
            self.allowed_origins.as_deref(),
            self.require_origin,
        )
        .map_err(|e| Error::Config(format!("--allowed-origins: {e}")))?;
        if let Some(list) = &self.trusted_proxies {
            crate::net::limits::parse_cidrs(list)
                .map_err(|e| Error::Config(format!("--trusted-proxies: {e}")))?;
        }
        // ----- liveness (issue 13) -----
        if !(Duration::from_secs(1)..=HOUR).contains(&self.idle_timeout)
            || self.idle_timeout <= self.tick_period()
        {
            return bad("--idle-timeout must be between 1s and 1h, and longer than one tick");
        }
        // ----- TLS (issue 13) -----
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return bad("--tls-cert needs --tls-key"),
            (None, Some(_)) => return bad("--tls-key needs --tls-cert"),
            _ => {}
        }
        // ----- recording (issue 14) -----
        if self.record_max_file_bytes < 64 * 1024 {
            return bad("--record-max-file-bytes must be at least 64KiB");
        }
        if self.record_max_bytes < self.record_max_file_bytes {
            return bad("--record-max-bytes must be at least --record-max-file-bytes");
        }
        if !(self.tick_period()..=HOUR).contains(&self.record_keyframe_every) {
            return bad("--record-keyframe-every must be between one tick and 1h");
        }
        // ----- sub-steps (issue 15) -----
        if let Some(rate) = self.sim_rate
            && (rate == 0 || rate > 240 || !rate.is_multiple_of(self.tick_rate))
        {
            return bad("--sim-rate must be a whole multiple of --tick-rate, at most 240");
        }
        Ok(())
    }

    /// Recording: a keyframe every this many ticks (`--record-keyframe-every`).
    pub fn record_keyframe_ticks(&self) -> u32 {
        (self.record_keyframe_every.as_secs_f64() * f64::from(self.tick_rate)).round() as u32
    }

    /// Simulation steps per second (`--sim-rate`, else `--tick-rate`).
    pub fn sim_rate(&self) -> u32 {
        self.sim_rate.unwrap_or(self.tick_rate)
    }

    /// Simulation steps per frame (1 without `--sim-rate`).
    pub fn steps_per_frame(&self) -> u32 {
        (self.sim_rate() / self.tick_rate.max(1)).max(1)
    }

    /// The simulation step's period (the tick workers' schedule).
    pub fn step_period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.sim_rate().max(1)))
    }

    /// The tick period.
    pub fn tick_period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.tick_rate as f64)
    }

    /// Whether built-in TLS is on (`--tls-cert` and `--tls-key`).
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// Worker threads actually used (resolves 0 to the core count).
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.workers
        }
    }
}

/// A secret from the command line or environment; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret as text.
    pub fn expose_str(&self) -> &str {
        &self.0
    }

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

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["tickroom"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv).expect("parses")
    }

    #[test]
    fn durations_take_units() {
        let c = parse(&[
            "--room-idle",
            "2m",
            "--slow-client",
            "250ms",
            "--join-timeout",
            "1.5s",
            "--drain",
            "1m 30s",
            "--ticket-ttl",
            "1h",
            "--resume-grace",
            "45s",
        ]);
        assert_eq!(c.room_idle, Duration::from_secs(120));
        assert_eq!(c.slow_client, Duration::from_millis(250));
        assert_eq!(c.join_timeout, Duration::from_millis(1500));
        assert_eq!(c.drain, Duration::from_secs(90));
        assert_eq!(c.ticket_ttl, Duration::from_secs(3600));
        assert_eq!(c.resume_grace, Duration::from_secs(45));
        c.validate().expect("valid");
        for bad in ["10", "ten seconds", "-1s", ""] {
            assert!(
                Config::try_parse_from(["tickroom", "--slow-client", bad]).is_err(),
                "--slow-client {bad:?} parsed"
            );
        }
    }

    #[test]
    fn sim_rate_is_a_whole_multiple_of_the_tick_rate() {
        let c = parse(&["--sim-rate", "60"]);
        assert_eq!((c.sim_rate(), c.steps_per_frame()), (60, 3));
        assert!(c.validate().is_ok());
        let d = parse(&[]);
        assert_eq!((d.sim_rate(), d.steps_per_frame()), (20, 1));
        for bad in [
            &["--sim-rate", "50"][..],
            &["--sim-rate", "0"],
            &["--sim-rate", "260"],
        ] {
            let err = parse(bad).validate().expect_err("refused").to_string();
            assert!(err.contains("--sim-rate"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_old_secs_flags_still_work_and_the_new_ones_win() {
        let c = parse(&[
            "--room-idle-secs",
            "0.2",
            "--slow-client-secs",
            "0.5",
            "--join-timeout-secs",
            "3",
            "--drain-secs",
            "7",
            "--ticket-ttl-secs",
            "60",
            "--resume-grace-secs",
            "5",
        ]);
        assert_eq!(c.room_idle, Duration::from_millis(200));
        assert_eq!(c.slow_client, Duration::from_millis(500));
        assert_eq!(c.join_timeout, Duration::from_secs(3));
        assert_eq!(c.drain, Duration::from_secs(7));
        assert_eq!(c.ticket_ttl, Duration::from_secs(60));
        assert_eq!(c.resume_grace, Duration::from_secs(5));
        // Both spellings on the command line: the new one, in either order.
        for args in [
            ["--drain", "2s", "--drain-secs", "9"],
            ["--drain-secs", "9", "--drain", "2s"],
        ] {
            assert_eq!(parse(&args).drain, Duration::from_secs(2), "{args:?}");
        }
        for bad in ["-1", "NaN", "1e30", "5s"] {
            assert!(
                Config::try_parse_from(["tickroom", "--drain-secs", bad]).is_err(),
                "--drain-secs {bad:?} parsed"
            );
        }
        // Hidden from --help, which shows the new spelling.
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("--slow-client <SLOW_CLIENT>"), "{help}");
        assert!(!help.contains("-secs"), "{help}");
    }

    #[test]
    fn nonsense_is_rejected_with_the_flag_named() {
        type Breaker = fn(&mut Config);
        let cases: [(&str, Breaker); 5] = [
            ("--tick-rate", |c| c.tick_rate = 0),
            ("--room-capacity", |c| c.room_capacity = 0),
            ("--drain", |c| c.drain = Duration::ZERO),
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

    #[test]
    fn idle_timeout_takes_a_unit_and_is_bounded() {
        assert_eq!(
            parse(&["--idle-timeout", "2s"]).idle_timeout,
            Duration::from_secs(2)
        );
        for (timeout, tick_rate, ok) in [
            ("1s", 20, true),
            ("1h", 20, true),
            ("999ms", 20, false),
            ("1h 1s", 20, false),
            ("1s", 1, false),
            ("1100ms", 1, true),
        ] {
            let mut c = parse(&["--idle-timeout", timeout]);
            c.tick_rate = tick_rate;
            match c.validate() {
                Ok(()) => assert!(ok, "--idle-timeout {timeout} at {tick_rate} Hz passed"),
                Err(e) => {
                    assert!(!ok, "--idle-timeout {timeout} at {tick_rate} Hz: {e}");
                    assert!(e.to_string().contains("--idle-timeout"), "{e}");
                }
            }
        }
    }
}
