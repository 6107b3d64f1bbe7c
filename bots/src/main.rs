//! The `tickroom-bots` command: parse the flags, start logging, run the
//! swarm until `--duration` or Ctrl-C, print the summary, write `--json`, and
//! exit with code 2 when a `--fail-if` condition is met.

use std::{
    io::IsTerminal,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use clap::Parser;
use tickroom_bots::{
    FailIf, Mix, Placement, SwarmConfig, config::parse_room_config, duration::parse_duration, games,
};
use tracing_subscriber::EnvFilter;

/// Headless bot swarm for tickroom: thousands of real WebSocket players in
/// one process, with latency, gap and cost figures at the end.
#[derive(Debug, Parser)]
#[command(name = "tickroom-bots", version, about)]
struct Args {
    /// Base URL of the server; the bots open `ws://HOST:PORT/ws?room=..&name=..`
    /// (`wss://` for an https:// or wss:// URL).
    /// A comma-separated list names several entry nodes of one cluster: bot n
    /// uses entry n % count, and moves to the next after a failed connect.
    #[arg(long, env = "TICKROOM_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The game to play: rooms the bots create on join are of this game, and
    /// its behaviours are available (any game can use random, idle,
    /// slow-reader and churn).
    #[arg(long, env = "TICKROOM_BOTS_GAME", default_value = games::DEFAULT_GAME)]
    game: String,
    /// Total number of bots, filling rooms of --per-room in order
    /// [default: --per-room].
    #[arg(long, conflicts_with = "rooms")]
    bots: Option<usize>,
    /// Number of rooms, each with exactly --per-room bots.
    #[arg(long)]
    rooms: Option<usize>,
    /// Bots per room.
    #[arg(long, default_value_t = 50)]
    per_room: usize,
    /// Room ids are PREFIX-0, PREFIX-1, ...
    #[arg(long, default_value = "bots")]
    room_prefix: String,
    /// Create each room before its bots join, through `POST /rooms` with
    /// this game config (JSON, e.g. '{"view_radius": 20000}') and the
    /// room's bot count as its capacity; without it, the first bot's join
    /// creates the room with the game's defaults.
    #[arg(long, value_parser = parse_room_config)]
    room_config: Option<serde_json::Value>,
    /// Bot names are PREFIX-0, PREFIX-1, ... (at most 24 bytes).
    #[arg(long, default_value = "bot")]
    name_prefix: String,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 200.0)]
    ramp: f64,
    /// Inputs per second per bot (the server accepts about 60).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
    input_hz: u32,
    /// One behaviour for every bot: one of the game's own (bots/README.md
    /// lists them) or random, idle, slow-reader, churn.
    #[arg(long, alias = "behavior", conflicts_with = "mix")]
    behaviour: Option<String>,
    /// Weighted mix of behaviours, e.g. wander=80,chase=10,slow-reader=5,churn=5
    /// [default: the game's first behaviour, or random for a game without
    /// behaviours of its own].
    #[arg(long)]
    mix: Option<Mix>,
    /// How long to run (30s, 2m, 1h30m); until Ctrl-C when absent.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Seed for the bots' RNGs [default: from the clock; printed in the summary].
    #[arg(long)]
    seed: Option<u64>,
    /// Show the live progress line even when stderr is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Never show the live progress line.
    #[arg(long, conflicts_with = "progress")]
    no_progress: bool,
    /// Also write the figures as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Exit with code 2 when a condition holds, e.g.
    /// --fail-if 'p99-latency>100ms,missed-ticks>0.1%,connect-errors>0'
    /// (repeatable, comma-separated; quoted, as `>` is a shell redirection).
    #[arg(long = "fail-if", value_name = "COND", value_delimiter = ',')]
    fail_if: Vec<FailIf>,
    /// Do not reconnect after the server closes a connection or a connect fails.
    #[arg(long)]
    no_reconnect: bool,
    /// Limit for TCP connect + WebSocket handshake + Welcome.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Pause between two reads of a slow-reader bot.
    #[arg(long, default_value = "333ms", value_parser = parse_duration)]
    slow_read_interval: Duration,
    /// Also trust the certificates in this PEM file for https:// and wss:// servers
    /// (a private CA, or a test server's self-signed certificate); the webpki roots
    /// are always trusted.
    #[arg(long, env = "TICKROOM_TLS_CA", value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Also serve the bots' figures as Prometheus metrics at
    /// `http://ADDR/metrics` while they run (input-to-ack, inter-arrival,
    /// frame age and connect histograms; frames, missed ticks, bytes, inputs,
    /// errors; bots connected), e.g. `127.0.0.1:9091`.
    #[arg(long, env = "TICKROOM_BOTS_METRICS_ADDR")]
    metrics_addr: Option<std::net::SocketAddr>,
}

impl From<&Args> for SwarmConfig {
    fn from(a: &Args) -> Self {
        let placement = match a.rooms {
            Some(rooms) => Placement::Rooms {
                rooms,
                per_room: a.per_room,
            },
            None => Placement::Fill {
                bots: a.bots.unwrap_or(a.per_room),
                per_room: a.per_room,
            },
        };
        let mix = match (&a.mix, &a.behaviour) {
            (Some(mix), _) => mix.clone(),
            (None, Some(name)) => Mix::single(name),
            (None, None) => Mix::default(),
        };
        let seed = a.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        SwarmConfig {
            url: a.url.clone(),
            game: a.game.clone(),
            placement,
            room_prefix: a.room_prefix.clone(),
            room_config: a.room_config.clone(),
            name_prefix: a.name_prefix.clone(),
            ramp_per_sec: a.ramp,
            input_hz: a.input_hz,
            mix,
            duration: a.duration,
            seed,
            progress: !a.no_progress && (a.progress || std::io::stderr().is_terminal()),
            reconnect: !a.no_reconnect,
            connect_timeout: a.connect_timeout,
            slow_read_interval: a.slow_read_interval,
            tls_ca: a.tls_ca.clone(),
            ..SwarmConfig::default()
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let mut config = SwarmConfig::from(&args);
    if let Some(addr) = args.metrics_addr {
        let metrics = tickroom_bots::exporter::BotMetrics::new();
        let bound = tickroom_bots::exporter::start(addr, metrics.clone())
            .await
            .with_context(|| format!("--metrics-addr {addr}"))?;
        eprintln!("tickroom-bots: metrics at http://{bound}/metrics");
        config.metrics = Some(metrics);
    }
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let report = tickroom_bots::run(config, ctrl_c)
        .await
        .context("bot swarm failed to start")?;
    print!("{report}");

    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    let failed: Vec<String> = args
        .fail_if
        .iter()
        .filter_map(|c| c.evaluate(&report))
        .collect();
    for f in &failed {
        eprintln!("FAIL: {f}");
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
