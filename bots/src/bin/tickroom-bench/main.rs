//! `tickroom-bench`: the load harness. Builds and starts the release server,
//! sweeps load levels with the bot swarm (server and bots pinned to different
//! cores), prints a table, and writes JSON and an SVG plot under
//! `target/bench/`. See `harness.rs` for what is measured. With
//! `--nodes N` each level runs N nodes sharing a private Redis (`fleet.rs`);
//! with `--rolling-restart` as well, each level restarts them one by one in
//! its window and reports the hand-offs the players saw (`rolling.rs`).

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};
use tickroom_bots::{Mix, SwarmConfig, config::parse_room_config, duration::parse_duration, games};

mod ceiling;
mod config;
mod fleet;
mod harness;
mod rolling;
mod servers;
mod svg;

use harness as bench;

/// Load benchmark of the tickroom server.
///
/// Starts a release server (or a fleet with --nodes), sweeps load levels of bot players against it with server
/// and bots pinned to separate cores, and reports per level tick time and
/// lateness, input-to-ack latency, bytes and CPU and memory per player,
/// against the machine's own ceiling, and the capacity found.
#[derive(Debug, Parser)]
#[command(name = "tickroom-bench", version)]
struct Args {
    /// Rooms per level, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10,25,50,100,150,200")]
    levels: Vec<usize>,
    /// Players per room.
    #[arg(long, default_value_t = 50)]
    per_room: usize,
    /// Inputs per second per bot.
    #[arg(long, default_value_t = 30)]
    input_hz: u32,
    /// The game the bots play (their rooms are created on join with it);
    /// the server must host it (see --server-bin).
    #[arg(long, env = "TICKROOM_BOTS_GAME", default_value = games::DEFAULT_GAME)]
    game: String,
    /// Bot behaviour mix [default: the game's bench mix (the default game's
    /// is wander=90,chase=10), else its default behaviour].
    #[arg(long)]
    mix: Option<Mix>,
    /// Create each room first with this game config (JSON; the room's
    /// capacity is --per-room), e.g. skirmish's '{"view_radius": 20000}'
    /// to measure it with everything visible.
    #[arg(long, value_parser = parse_room_config)]
    room_config: Option<serde_json::Value>,
    /// New connections per second while ramping.
    #[arg(long, default_value_t = 1000.0)]
    ramp: f64,
    /// Settling time after the ramp, before measuring.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
    /// Measured window per level.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    window: Duration,
    /// The `tickroom` binary [default: built with cargo next to this binary].
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Extra server flag (repeatable), e.g. --server-arg=--ws-read-buffer=2048.
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// CPUs for the server (taskset list).
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// CPUs for the bots (taskset list).
    #[arg(long, default_value = "1")]
    bot_cpus: String,
    /// Do not pin server and bots to CPUs.
    #[arg(long)]
    no_pin: bool,
    /// Server tick workers.
    #[arg(long, default_value_t = 1)]
    server_workers: usize,
    /// Output directory.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Measure every level even after one is over capacity.
    #[arg(long)]
    keep_going: bool,
    /// How long to measure the machine's ceiling (small loopback write()s per
    /// second on the server's core), once per distinct player count.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    ceiling_duration: Duration,
    /// Skip the ceiling measurement (and so the efficiency column).
    #[arg(long)]
    no_ceiling: bool,
    /// Server nodes per level. Above 1: a fleet of N `tickroom` processes
    /// (all on --server-cpus) sharing a private `redis-server`, the bots
    /// entering through all N nodes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    nodes: u16,
    /// The `redis-server` binary for --nodes > 1.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
    /// In each level's window, restart every node in turn (SIGTERM, wait
    /// for its exit, start it again on its port, wait for the fleet and for
    /// every bot to be connected again, pause --rolling-settle), as
    /// `scripts/rolling-restart` does, and report the hand-offs the bots
    /// saw: count, gap p50/p99/max, resume misses, and each node's drain
    /// time. The window lasts at least as long as the restarts. The nodes
    /// get a shared --secret and --drain 20s unless --server-arg sets them.
    /// The capacity limits are judged as usual, restarts included (add
    /// --keep-going to measure every level). Needs --nodes 2 or more.
    #[arg(long)]
    rolling_restart: bool,
    /// With --rolling-restart: the pause after a node is back (and every bot
    /// connected again) before the next node drains.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    rolling_settle: Duration,
}

impl Args {
    /// Checks what clap cannot say alone.
    fn validate(&self) -> anyhow::Result<()> {
        if self.rolling_restart && self.nodes < 2 {
            bail!(
                "--rolling-restart needs a fleet to hand rooms to: pass --nodes 2 or more (got --nodes {})",
                self.nodes
            );
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Err(e) = args.validate() {
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, format!("{e:#}"))
            .exit();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if !args.no_pin {
        // Before the runtime exists, so every thread it starts inherits the mask.
        let status = Command::new("taskset")
            .args(["-a", "-cp", &args.bot_cpus, &std::process::id().to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .context("running taskset (util-linux) to pin the bots; use --no-pin without it")?;
        if !status.success() {
            bail!("taskset could not pin the bots to CPUs {}", args.bot_cpus);
        }
    }
    let mix = match &args.mix {
        Some(mix) => mix.clone(),
        None => games::bench_mix(&args.game).parse()?,
    };
    // A game or behaviour the bots cannot play fails now, not after the build.
    SwarmConfig {
        game: args.game.clone(),
        mix: mix.clone(),
        ..SwarmConfig::default()
    }
    .validate()?;
    let server_bin = match args.server_bin.clone() {
        Some(p) => p,
        None => build_server()?,
    };
    let config = bench::BenchConfig {
        levels: args.levels.clone(),
        per_room: args.per_room,
        input_hz: args.input_hz,
        game: args.game.clone(),
        mix,
        room_config: args.room_config.clone(),
        ramp_per_sec: args.ramp,
        warmup: args.warmup,
        window: args.window,
        server_bin,
        server_args: args.server_arg.clone(),
        server_cpus: (!args.no_pin).then(|| args.server_cpus.clone()),
        bot_cpus: (!args.no_pin).then(|| args.bot_cpus.clone()),
        ceiling: (!args.no_ceiling).then_some(args.ceiling_duration),
        server_workers: args.server_workers,
        out_dir: args.out.clone(),
        keep_going: args.keep_going,
        nodes: usize::from(args.nodes),
        redis_bin: args.redis_server.clone(),
        rolling_restart: args.rolling_restart,
        rolling_settle: args.rolling_settle,
    };
    // Pinned to one core, the bots run on a current-thread runtime: it saves
    // the cross-thread wake-ups of a one-worker multi-thread runtime.
    let runtime = if args.no_pin {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    eprintln!("{}", bench::header_for(config.nodes));
    let report = runtime.block_on(bench::run(&config))?;

    println!(
        "\nmachine: {}\npinning: {}\ngame: {} (mix {})\n",
        report.machine, report.pinning, report.game, config.mix
    );
    if let Some(caption) = bench::caption(&report) {
        println!("{caption}\n");
    }
    println!("{}", bench::header_for(report.nodes));
    for level in &report.levels {
        println!("{}", bench::rows(level));
    }
    let rolling: Vec<String> = report
        .levels
        .iter()
        .filter_map(bench::rolling_line)
        .collect();
    if !rolling.is_empty() {
        println!("\n{}", rolling.join("\n"));
    }
    println!("\n{}", bench::summary(&report));
    std::fs::create_dir_all(&args.out)?;
    let json = args.out.join("latest.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)?)?;
    let svg = args.out.join("sweep.svg");
    std::fs::write(&svg, bench::plot(&report))?;
    println!("wrote {} and {}", json.display(), svg.display());
    Ok(())
}

/// Builds the release server with cargo and returns its path (next to this binary).
fn build_server() -> anyhow::Result<PathBuf> {
    let here = std::env::current_exe()?;
    let dir = here.parent().context("binary has no directory")?;
    let bin = dir.join("tickroom");
    if let Ok(cargo) = std::env::var("CARGO") {
        eprintln!("building the release server…");
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "-p",
                "tickroom-cli",
                "--bin",
                "tickroom",
            ])
            .status()?;
        if !status.success() {
            bail!("cargo build of the server failed");
        }
    }
    if !bin.exists() {
        bail!(
            "no server binary at {}; build it with `cargo build --release -p tickroom-cli` or pass --server-bin",
            bin.display()
        );
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("tickroom-bench").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn rolling_restart_needs_a_fleet() {
        let err = parse(&["--rolling-restart"]).validate().unwrap_err();
        assert!(err.to_string().contains("--nodes 2 or more"), "{err}");
        assert!(
            parse(&["--nodes", "1", "--rolling-restart"])
                .validate()
                .is_err()
        );
        assert!(
            parse(&["--nodes", "2", "--rolling-restart"])
                .validate()
                .is_ok()
        );
        assert!(parse(&["--nodes", "3"]).validate().is_ok());
        assert!(parse(&[]).validate().is_ok());
    }
}
