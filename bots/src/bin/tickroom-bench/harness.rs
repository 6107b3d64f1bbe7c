//! The load harness behind `tickroom-bench`: starts the release server as a
//! child process, sweeps load levels with the bot swarm, and for each level
//! records what the server saw (from its own `/metrics` and `/proc`) and what
//! the players felt (from the bots), over a steady-state window after ramp-up
//! and warm-up. It stops at the first level past capacity and writes a table,
//! JSON and an SVG plot.
//!
//! **Capacity** is the largest level at which, in the window: tick duration
//! p99 < 10% of the tick period, tick start lateness p99 < 2 ms, missed ticks
//! < 0.1% of ticks, and input-to-acknowledgement p99 < 60 ms (normal bots).
//!
//! Absolute figures on shared VMs move by 2x between days, so the run first
//! measures the machine (see `ceiling.rs`): the small `write()`s per second
//! one core manages to as many loopback sockets as the level has players.
//! Each level's **efficiency** is the server's (frames written + inputs read)
//! per second, from `/metrics`, over (that ceiling × the server's cores used,
//! from `/proc`): 1.0 would be a server doing nothing but bare writes.
//!
//! With `nodes > 1` each level runs a fleet instead of one server: N
//! `tickroom` processes sharing a private `redis-server` (see `fleet.rs`),
//! the bots spread over all N entry URLs and following the 4001 redirects
//! to each room's owner. Every node is sampled like the single server; the
//! level's server figures are the fleet's sums (rates, counts, CPU, RSS)
//! and the worst node's quantiles, so the capacity limits hold the worst
//! node to them, and efficiency is against the summed server CPU.
//!
//! With `rolling_restart` each fleet level also restarts every node in turn
//! during its window (see `rolling.rs`): a node's figures then add up the
//! processes that held its slot (its [`Span`]s), and the level carries the
//! hand-off figures the bots measured.

use std::{collections::BTreeMap, time::Duration};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use tickroom_bots::{Placement, Report, SwarmConfig, prom::WindowHistogram};

pub use crate::config::BenchConfig;
use crate::{
    ceiling::{self, Ceiling, CeilingConfig},
    fleet::{self, RedisProcess},
    rolling::{self, RollingFigures},
    servers::{
        LOG_FILTER, LevelSample, ServerProcess, Span, Target, listening_addr_in, rss_mib,
        sample_window, stop_all, wait_ready,
    },
    svg,
};

/// Tick period of the server under test (it runs its default 20 Hz).
const TICK_PERIOD_MS: f64 = 50.0;
/// Capacity limits (see the module docs).
pub const LIMIT_TICK_P99_MS: f64 = TICK_PERIOD_MS * 0.10;
/// Tick start lateness p99 limit.
pub const LIMIT_LATENESS_P99_MS: f64 = 2.0;
/// Missed-tick share limit.
pub const LIMIT_MISSED: f64 = 0.001;
/// Input-to-ack p99 limit.
pub const LIMIT_ACK_P99_MS: f64 = 60.0;
/// The bots' CPU (of their cores) from which they, not the server, may be
/// what limits a level: their latency and bytes then measure the bench.
pub const BOTS_SATURATED_CPU: f64 = 95.0;

/// The server's side of one level, over the window.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerFigures {
    /// Tick duration p50, ms (interpolated within histogram buckets).
    pub tick_p50_ms: Option<f64>,
    /// Tick duration p99, ms.
    pub tick_p99_ms: Option<f64>,
    /// Upper bound of the slowest tick's bucket, ms.
    pub tick_max_bound_ms: Option<f64>,
    /// Tick start lateness p99, ms.
    pub lateness_p99_ms: Option<f64>,
    /// Room ticks run in the window.
    pub ticks: f64,
    /// Ticks longer than the period.
    pub overrun: f64,
    /// Ticks skipped after falling behind.
    pub skipped: f64,
    /// Frames dropped as stale.
    pub frames_dropped_stale: f64,
    /// Frames dropped because the connection was closing.
    pub frames_dropped_closed: f64,
    /// Inputs dropped because a room queue was full.
    pub inputs_dropped: f64,
    /// Bytes written per second.
    pub bytes_out_per_s: f64,
    /// Snapshot frames written per second (`tickroom_snapshots_sent_total`).
    pub frames_per_s: f64,
    /// Inputs read per second (`tickroom_inputs_received_total`).
    pub inputs_per_s: f64,
    /// CPU use of the server process (100 = one core).
    pub cpu_percent: Option<f64>,
    /// Server RSS with no player, MiB.
    pub rss_idle_mib: Option<f64>,
    /// Server RSS at the end of the window, MiB.
    pub rss_loaded_mib: Option<f64>,
    /// (loaded - idle) / players, KiB.
    pub kib_per_player: Option<f64>,
    /// Input receipt → queued, ms: p50, p99 and the slowest sample's bucket
    /// bound (`tickroom_input_queue_delay_seconds`).
    #[serde(default)]
    pub input_queue_ms: [Option<f64>; 3],
    /// Input receipt → applied, ms: p50, p99, slowest bucket bound
    /// (`tickroom_input_apply_delay_seconds`).
    #[serde(default)]
    pub input_apply_ms: [Option<f64>; 3],
    /// Bytes of one connection task's state, as the server exports it
    /// (`tickroom_connection_task_bytes`; absent from servers before it).
    #[serde(default)]
    pub connection_task_bytes: Option<f64>,
}

/// One node of a fleet in one level, over the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeLevel {
    /// The node's id (`n0`, `n1`, ...).
    pub node: String,
    /// Where it listened.
    pub addr: String,
    /// Players it held at the end of the window (gauge `tickroom_players`).
    pub players: u64,
    /// Rooms it ran at the end of the window (gauge `tickroom_rooms`).
    pub rooms: u64,
    /// Joins it sent elsewhere with a close 4001 since it started
    /// (`tickroom_cluster_misrouted_joins_total` at the end of the window).
    pub redirects_sent: u64,
    /// Its figures; `kib_per_player` is per player it held.
    pub server: ServerFigures,
}

/// One measured level.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Level {
    /// Rooms.
    pub rooms: usize,
    /// Players (bots).
    pub players: usize,
    /// Server figures. With several nodes: the fleet's sums (rates, counts,
    /// CPU, RSS; KiB/player over all players) and the worst node's
    /// quantiles.
    pub server: ServerFigures,
    /// Input-to-ack p50 / p99 / p99.9 of normal bots, ms.
    pub ack_ms: [Option<f64>; 3],
    /// Snapshot inter-arrival p99, ms.
    pub interarrival_p99_ms: Option<f64>,
    /// Share of ticks normal bots never saw.
    pub missed_fraction: f64,
    /// Bytes each player received per second.
    pub bytes_per_player_s: f64,
    /// Connect errors and disconnects during the level.
    pub errors: u64,
    /// CPU use of the bot process in the window (100 = one core).
    pub bots_cpu_percent: Option<f64>,
    /// The machine's ceiling for this many sockets, writes per core-second.
    pub ceiling_writes_per_core_s: Option<f64>,
    /// (frames written + inputs read) per second ÷ (ceiling × server cores used).
    pub efficiency: Option<f64>,
    /// Within the capacity definition?
    pub within_capacity: bool,
    /// Which limits it broke.
    pub broken: Vec<String>,
    /// The bots' full report.
    pub bots: Report,
    /// Players the fleet held at the end of the window (sum over `nodes`;
    /// absent for a single node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub players_held: Option<u64>,
    /// CPU use of the fleet's `redis-server` in the window (absent for a
    /// single node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_cpu_percent: Option<f64>,
    /// Per node, with several (empty, and absent from JSON, for one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeLevel>,
    /// The rolling restart of the fleet in the window, and the hand-offs the
    /// bots saw (absent without `--rolling-restart`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling: Option<RollingFigures>,
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// Machine description (CPU model, cores, memory).
    pub machine: String,
    /// The game the bots played (absent from reports before games).
    #[serde(default)]
    pub game: String,
    /// How server and bots were placed on cores.
    pub pinning: String,
    /// The machine's ceiling, once per distinct player count, in order of
    /// measurement (empty with `--no-ceiling`).
    pub ceilings: Vec<Ceiling>,
    /// Measured levels in order.
    pub levels: Vec<Level>,
    /// Players at the largest level within capacity.
    pub capacity_players: Option<usize>,
    /// Server nodes per level (absent from JSON when 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub nodes: usize,
    /// Whether every level restarted its nodes in turn (absent when not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rolling_restart: bool,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// Errors of the harness (binary-level, so anyhow).
pub type Result<T> = anyhow::Result<T>;

/// Runs the sweep. Call from a tokio runtime; progress goes to stderr.
pub async fn run(config: &BenchConfig) -> Result<BenchReport> {
    std::fs::create_dir_all(&config.out_dir)?;
    // One Redis for the whole run; each level's fleet has its own key prefix.
    let redis = if config.nodes > 1 {
        let log = config.out_dir.join("redis.log");
        let r = RedisProcess::start(&config.redis_bin, config.server_cpus.as_deref(), &log).await?;
        eprintln!("redis: {} (pid {})", r.url(), r.pid());
        Some(r)
    } else {
        None
    };
    let mut levels = Vec::new();
    let mut ceilings: BTreeMap<usize, Ceiling> = BTreeMap::new();
    let mut measured = Vec::new();
    for &rooms in &config.levels {
        let players = rooms * config.per_room;
        if let Some(duration) = config.ceiling
            && !ceilings.contains_key(&players)
        {
            let c = measure_ceiling(config, players, duration).await?;
            eprintln!("{}", describe_ceiling(&c));
            measured.push(c.clone());
            ceilings.insert(players, c);
        }
        let level = run_level(config, rooms, ceilings.get(&players), redis.as_ref()).await?;
        eprintln!("{}", rows(&level));
        if let Some(line) = rolling_line(&level) {
            eprintln!("{line}");
        }
        let ok = level.within_capacity;
        levels.push(level);
        if !ok && !config.keep_going {
            eprintln!("level over capacity: stopping the sweep");
            break;
        }
    }
    let capacity_players = levels
        .iter()
        .filter(|l| l.within_capacity)
        .map(|l| l.players)
        .max();
    drop(redis);
    Ok(BenchReport {
        machine: machine(),
        game: config.game.clone(),
        pinning: match (&config.server_cpus, config.nodes) {
            (Some(c), 1) => format!("server on CPU {c}, bots on the others (taskset)"),
            (Some(c), n) => format!(
                "{n} server nodes and redis-server all on CPU {c}, bots on the others (taskset)"
            ),
            (None, _) => "not pinned".into(),
        },
        ceilings: measured,
        levels,
        capacity_players,
        nodes: config.nodes.max(1),
        rolling_restart: config.rolling_restart,
    })
}

/// The machine's ceiling for `sockets` sockets: the writer on the server's
/// first CPU, the reader on the bots' first CPU.
async fn measure_ceiling(
    config: &BenchConfig,
    sockets: usize,
    duration: Duration,
) -> Result<Ceiling> {
    let cpu = |list: &Option<String>| list.as_deref().and_then(ceiling::first_cpu);
    let c = CeilingConfig {
        sockets,
        duration,
        writer_cpu: cpu(&config.server_cpus),
        reader_cpu: cpu(&config.bot_cpus),
    };
    eprintln!("ceiling: {sockets} loopback sockets for {duration:?}…");
    Ok(tokio::task::spawn_blocking(move || ceiling::measure(&c)).await??)
}

/// One line about a ceiling measurement.
pub fn describe_ceiling(c: &Ceiling) -> String {
    let writer = match (c.writer_cpu, c.writer_core_share) {
        (Some(cpu), Some(share)) => format!("writer had {:.0}% of CPU {cpu}", share * 100.0),
        (None, Some(share)) => format!("writer not pinned, busy {:.0}%", share * 100.0),
        (Some(cpu), None) => format!("writer on CPU {cpu}"),
        (None, None) => "writer not pinned".to_owned(),
    };
    let reader = c.reader_cpu.map_or("reader not pinned".to_owned(), |cpu| {
        format!("reader on CPU {cpu}")
    });
    format!(
        "ceiling: {} write()s per core-second to {} sockets ({}/s wall, {writer}, {reader}; {} B each, {} refused)",
        thousands(c.writes_per_core_s),
        c.sockets,
        thousands(c.writes_per_s),
        c.message_bytes,
        c.would_block,
    )
}

async fn run_level(
    config: &BenchConfig,
    rooms: usize,
    ceiling: Option<&Ceiling>,
    redis: Option<&RedisProcess>,
) -> Result<Level> {
    let players = rooms * config.per_room;
    let n = config.nodes.max(1);
    let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let prefix = format!("bench-{rooms}-{}", std::process::id());
    let roll = match redis {
        Some(_) if n > 1 && config.rolling_restart => Some(rolling::RollingArgs::new(
            &config.server_args,
            &rolling::bench_secret(),
        )?),
        _ => None,
    };
    let log_filter = if roll.is_some() {
        rolling::LOG_FILTER
    } else {
        LOG_FILTER
    };
    let mut servers = Vec::with_capacity(n);
    let mut logs = Vec::with_capacity(n);
    let mut node_args = Vec::with_capacity(n);
    for id in &ids {
        let (log, mut cluster_args) = match redis {
            Some(redis) if n > 1 => (
                config
                    .out_dir
                    .join(format!("server-{rooms}-rooms-{id}.log")),
                vec![
                    "--node-id".to_owned(),
                    id.clone(),
                    "--redis".to_owned(),
                    redis.url(),
                    "--redis-prefix".to_owned(),
                    prefix.clone(),
                ],
            ),
            _ => (
                config.out_dir.join(format!("server-{rooms}-rooms.log")),
                Vec::new(),
            ),
        };
        if let Some(roll) = &roll {
            cluster_args.extend(roll.extra.iter().cloned());
        }
        // The server binds port 0 itself and logs the address: no free-port race.
        servers.push(ServerProcess::start(
            config,
            &log,
            &cluster_args,
            "127.0.0.1:0",
            log_filter,
        )?);
        logs.push(log);
        node_args.push(cluster_args);
    }
    let pids: Vec<u32> = servers.iter().map(ServerProcess::pid).collect();
    let mut addrs = Vec::with_capacity(n);
    for log in &logs {
        let addr = listening_addr_in(log).await?;
        wait_ready(addr).await?;
        addrs.push(addr);
    }
    if n > 1 {
        fleet::wait_for_members(&addrs, &ids).await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_idle: Vec<Option<f64>> = pids.iter().map(|&pid| rss_mib(pid)).collect();

    let ramp = Duration::from_secs_f64(players as f64 / config.ramp_per_sec);
    let measure_after = ramp + config.warmup;
    let swarm = SwarmConfig {
        url: addrs
            .iter()
            .map(|a| format!("http://{a}"))
            .collect::<Vec<_>>()
            .join(","),
        placement: Placement::Rooms {
            rooms,
            per_room: config.per_room,
        },
        ramp_per_sec: config.ramp_per_sec,
        input_hz: config.input_hz,
        game: config.game.clone(),
        mix: config.mix.clone(),
        room_config: config.room_config.clone(),
        // A rolling level's window lasts as long as its restarts need: the
        // sampler ends the swarm (below).
        duration: if roll.is_some() {
            None
        } else {
            Some(measure_after + config.window)
        },
        measure_after: Some(measure_after),
        progress: false,
        ..SwarmConfig::default()
    };
    let window = config.window;
    eprintln!(
        "level: {rooms} rooms × {} = {players} players{} (ramp {ramp:.1?}, warm-up {:?}, window {window:?}{})",
        config.per_room,
        if n > 1 {
            format!(" on {n} nodes")
        } else {
            String::new()
        },
        config.warmup,
        if roll.is_some() {
            ", rolling restart: at least as long as the restarts"
        } else {
            ""
        },
    );
    let (bots, sample, restarts) = if let Some(roll) = &roll {
        let mut slots: Vec<rolling::Slot> = servers
            .into_iter()
            .zip(ids.iter().cloned())
            .zip(addrs.iter().copied())
            .zip(node_args)
            .zip(logs.iter().cloned())
            .map(|((((process, id), addr), args), log)| rolling::Slot {
                id,
                addr,
                args,
                log,
                process,
            })
            .collect();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let plan = rolling::Plan {
            config,
            redis_pid: redis.map(RedisProcess::pid),
            after: measure_after,
            window,
            players,
            drain: roll.drain,
            settle: config.rolling_settle,
        };
        let (bots, sample) = tokio::join!(
            tickroom_bots::run(swarm, async {
                // Sent or dropped: either way the window is over.
                let _ = stop_rx.await;
            }),
            async {
                let sample = rolling::measure(&plan, &mut slots).await;
                drop(stop_tx);
                sample
            }
        );
        servers = slots.into_iter().map(|s| s.process).collect();
        stop_all(&mut servers);
        let bots = bots?;
        let sample = sample?;
        let restarts = Some((sample.restarts, sample.restarts_s));
        (bots, sample.window, restarts)
    } else {
        let mut targets: Vec<Target> = addrs
            .iter()
            .zip(&pids)
            .map(|(&addr, &pid)| Target {
                addr: Some(addr),
                pid,
            })
            .collect();
        if let Some(redis) = redis {
            targets.push(Target {
                addr: None,
                pid: redis.pid(),
            });
        }
        let (bots, sample) = tokio::join!(
            tickroom_bots::run(swarm, std::future::pending::<()>()),
            sample_window(&targets, measure_after, window)
        );
        let bots = bots?;
        stop_all(&mut servers);
        (bots, LevelSample::from_window(sample, n)?, None)
    };
    let secs = sample.secs;
    let mut nodes = Vec::with_capacity(n);
    for (i, w) in sample.nodes.iter().enumerate() {
        let m1 = &w.spans.last().context("no scrape")?.end;
        let held = m1.value("tickroom_players").unwrap_or(0.0).max(0.0) as u64;
        let node_rooms = m1.value("tickroom_rooms").unwrap_or(0.0).max(0.0) as u64;
        // A single server's KiB/player is per planned player, as always.
        let per = if n == 1 { players } else { held as usize };
        let figures = server_figures(&w.spans, secs, w.cpu_percent, rss_idle[i], w.rss_mib, per);
        nodes.push(NodeLevel {
            node: ids[i].clone(),
            addr: addrs[i].to_string(),
            players: held,
            rooms: node_rooms,
            // Each process's count since its start, summed over the slot's.
            redirects_sent: w
                .spans
                .iter()
                .map(|s| s.end.get("tickroom_cluster_misrouted_joins_total").max(0.0))
                .sum::<f64>() as u64,
            server: figures,
        });
    }
    let redis_cpu_percent = sample.redis_cpu;
    let server = if n == 1 {
        nodes[0].server.clone()
    } else {
        fleet_figures(&nodes, players)
    };
    let normal = &bots.normal;
    let ack = normal.ack_latency_ms;
    let ack_ms = [ack.map(|s| s.p50), ack.map(|s| s.p99), ack.map(|s| s.p999)];
    let window_secs = bots.duration_s.max(1e-3);
    let bytes_per_player_s =
        normal.counts.bytes_received as f64 / window_secs / normal.bots.max(1) as f64;
    let errors = bots.all.counts.connect_errors + bots.all.counts.disconnects;

    let mut broken = Vec::new();
    let over = |v: Option<f64>, limit: f64| v.is_none_or(|v| v >= limit);
    // Which nodes broke a server limit, for the message (fleets only).
    let culprits = |g: &dyn Fn(&ServerFigures) -> Option<f64>, limit: f64| -> String {
        if n == 1 {
            return String::new();
        }
        let who: Vec<&str> = nodes
            .iter()
            .filter(|node| g(&node.server).is_some_and(|v| v >= limit))
            .map(|node| node.node.as_str())
            .collect();
        if who.is_empty() {
            String::new()
        } else {
            format!(" ({})", who.join(", "))
        }
    };
    if over(server.tick_p99_ms, LIMIT_TICK_P99_MS) {
        let who = culprits(&|s| s.tick_p99_ms, LIMIT_TICK_P99_MS);
        broken.push(format!("tick p99 ≥ {LIMIT_TICK_P99_MS} ms{who}"));
    }
    if over(server.lateness_p99_ms, LIMIT_LATENESS_P99_MS) {
        let who = culprits(&|s| s.lateness_p99_ms, LIMIT_LATENESS_P99_MS);
        broken.push(format!("lateness p99 ≥ {LIMIT_LATENESS_P99_MS} ms{who}"));
    }
    if normal.missed_tick_fraction >= LIMIT_MISSED {
        broken.push(format!("missed ticks ≥ {}%", LIMIT_MISSED * 100.0));
    }
    if over(ack_ms[1], LIMIT_ACK_P99_MS) {
        broken.push(format!("input-to-ack p99 ≥ {LIMIT_ACK_P99_MS} ms"));
    }
    if let Some(cpu) = sample.bots_cpu.filter(|&c| c >= BOTS_SATURATED_CPU) {
        broken.push(format!(
            "bots saturated ({cpu:.0}% of their core: the bench, not the server, may be the limit)"
        ));
    }
    if bots.all.counts.connect_errors > 0 {
        broken.push("connect errors".into());
    }
    let rolling = restarts.map(|(restarts, restarts_s)| {
        RollingFigures::new(&bots, restarts, restarts_s, window, secs)
    });
    if let Some(r) = &rolling {
        if r.resume_misses > 0 {
            broken.push("resume misses".into());
        }
        if r.handoffs == 0 {
            tracing::warn!(
                rooms,
                "rolling restart: the bots saw no hand-off (see the nodes' logs for `drain:` lines)"
            );
        }
    }
    let ceiling_writes_per_core_s = ceiling.map(|c| c.writes_per_core_s);
    let efficiency = efficiency(
        server.frames_per_s + server.inputs_per_s,
        ceiling_writes_per_core_s,
        server.cpu_percent,
    );
    let fleet = n > 1;
    Ok(Level {
        rooms,
        players,
        ack_ms,
        interarrival_p99_ms: normal.interarrival_ms.map(|s| s.p99),
        missed_fraction: normal.missed_tick_fraction,
        bytes_per_player_s,
        errors,
        bots_cpu_percent: sample.bots_cpu,
        ceiling_writes_per_core_s,
        efficiency,
        within_capacity: broken.is_empty(),
        broken,
        server,
        bots,
        players_held: fleet.then(|| nodes.iter().map(|node| node.players).sum()),
        redis_cpu_percent: if fleet { redis_cpu_percent } else { None },
        nodes: if fleet { nodes } else { Vec::new() },
        rolling,
    })
}

/// One server's figures over a window made of `spans` (one for a node that
/// ran through it, one per process for a restarted one), `secs` long in
/// all; `players` divides the RSS growth.
fn server_figures(
    spans: &[Span],
    secs: f64,
    cpu_percent: Option<f64>,
    rss_idle: Option<f64>,
    rss_loaded: Option<f64>,
    players: usize,
) -> ServerFigures {
    let histogram = |name: &str| {
        merge_histograms(
            spans
                .iter()
                .map(|s| WindowHistogram::between(&s.start, &s.end, name)),
        )
    };
    let delta = |series: &str| {
        spans
            .iter()
            .map(|s| s.end.delta(&s.start, series))
            .sum::<f64>()
    };
    let tick = histogram("tickroom_tick_duration_seconds");
    let late = histogram("tickroom_tick_lateness_seconds");
    let ms = |v: Option<f64>| v.map(|s| s * 1e3);
    let three = |name: &str| {
        let h = histogram(name);
        [
            ms(h.quantile(0.50)),
            ms(h.quantile(0.99)),
            ms(h.max_bound()),
        ]
    };
    let last = spans.last().map(|s| &s.end);
    ServerFigures {
        tick_p50_ms: ms(tick.quantile(0.50)),
        tick_p99_ms: ms(tick.quantile(0.99)),
        tick_max_bound_ms: ms(tick.max_bound()),
        lateness_p99_ms: ms(late.quantile(0.99)),
        ticks: delta("tickroom_ticks_total"),
        overrun: delta("tickroom_ticks_overrun_total"),
        skipped: delta("tickroom_ticks_skipped_total"),
        frames_dropped_stale: delta("tickroom_frames_dropped_total{reason=\"stale\"}"),
        frames_dropped_closed: delta("tickroom_frames_dropped_total{reason=\"closed\"}"),
        inputs_dropped: delta("tickroom_inputs_dropped_total{reason=\"queue_full\"}"),
        bytes_out_per_s: delta("tickroom_bytes_sent_total") / secs,
        frames_per_s: delta("tickroom_snapshots_sent_total") / secs,
        inputs_per_s: delta("tickroom_inputs_received_total") / secs,
        cpu_percent,
        rss_idle_mib: rss_idle,
        rss_loaded_mib: rss_loaded,
        // Per player held: none for a node that holds none (a node
        // restarted last in a rolling level may end empty).
        kib_per_player: rss_idle
            .zip(rss_loaded)
            .filter(|_| players > 0)
            .map(|(idle, loaded)| (loaded - idle) * 1024.0 / players as f64),
        input_queue_ms: three("tickroom_input_queue_delay_seconds"),
        input_apply_ms: three("tickroom_input_apply_delay_seconds"),
        connection_task_bytes: last
            .map(|m1| m1.get("tickroom_connection_task_bytes"))
            .filter(|b| *b > 0.0),
    }
}

/// Adds up the histograms of successive processes over one node's window
/// (bucket by bucket, matched by upper bound). One histogram comes back as
/// it went in; none gives an empty one.
pub fn merge_histograms(parts: impl IntoIterator<Item = WindowHistogram>) -> WindowHistogram {
    let mut parts = parts.into_iter();
    let Some(mut acc) = parts.next() else {
        return WindowHistogram {
            buckets: Vec::new(),
            count: 0.0,
        };
    };
    for h in parts {
        for (lo, hi, n) in h.buckets {
            match acc
                .buckets
                .iter_mut()
                .find(|b| b.1.to_bits() == hi.to_bits())
            {
                Some(b) => b.2 += n,
                None => acc.buckets.push((lo, hi, n)),
            }
        }
        acc.count += h.count;
    }
    acc.buckets.sort_by(|a, b| a.1.total_cmp(&b.1));
    // Each bucket starts where the one below ends, as `between` builds them.
    let mut lower = 0.0;
    for b in &mut acc.buckets {
        b.0 = lower;
        lower = b.1;
    }
    acc
}

/// A fleet's figures: sums of rates, counts, CPU and RSS (`None` when a
/// node lacks the figure); the worst node's quantiles among the nodes that
/// ticked (a node that got no room has none); KiB per player over all
/// `players`.
pub fn fleet_figures(nodes: &[NodeLevel], players: usize) -> ServerFigures {
    let worst = |g: &dyn Fn(&ServerFigures) -> Option<f64>| {
        nodes
            .iter()
            .filter_map(|n| g(&n.server))
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };
    let sum = |g: &dyn Fn(&ServerFigures) -> f64| nodes.iter().map(|n| g(&n.server)).sum::<f64>();
    let sum_opt = |g: &dyn Fn(&ServerFigures) -> Option<f64>| {
        nodes.iter().map(|n| g(&n.server)).sum::<Option<f64>>()
    };
    let rss_idle = sum_opt(&|s| s.rss_idle_mib);
    let rss_loaded = sum_opt(&|s| s.rss_loaded_mib);
    ServerFigures {
        tick_p50_ms: worst(&|s| s.tick_p50_ms),
        tick_p99_ms: worst(&|s| s.tick_p99_ms),
        tick_max_bound_ms: worst(&|s| s.tick_max_bound_ms),
        lateness_p99_ms: worst(&|s| s.lateness_p99_ms),
        ticks: sum(&|s| s.ticks),
        overrun: sum(&|s| s.overrun),
        skipped: sum(&|s| s.skipped),
        frames_dropped_stale: sum(&|s| s.frames_dropped_stale),
        frames_dropped_closed: sum(&|s| s.frames_dropped_closed),
        inputs_dropped: sum(&|s| s.inputs_dropped),
        bytes_out_per_s: sum(&|s| s.bytes_out_per_s),
        frames_per_s: sum(&|s| s.frames_per_s),
        inputs_per_s: sum(&|s| s.inputs_per_s),
        cpu_percent: sum_opt(&|s| s.cpu_percent),
        rss_idle_mib: rss_idle,
        rss_loaded_mib: rss_loaded,
        // Per player held: none for a node that holds none (a node
        // restarted last in a rolling level may end empty).
        kib_per_player: rss_idle
            .zip(rss_loaded)
            .filter(|_| players > 0)
            .map(|(idle, loaded)| (loaded - idle) * 1024.0 / players as f64),
        input_queue_ms: std::array::from_fn(|i| worst(&|s| s.input_queue_ms[i])),
        input_apply_ms: std::array::from_fn(|i| worst(&|s| s.input_apply_ms[i])),
        connection_task_bytes: worst(&|s| s.connection_task_bytes),
    }
}

/// A description of this machine, from `/proc`.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // Count processors from /proc (the harness itself may be pinned to fewer).
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{model}, {cores} cores, {mem_gib:.0} GiB")
}

/// Operations per second ÷ (ceiling × cores used); `None` without a ceiling
/// or a CPU figure.
pub fn efficiency(ops_per_s: f64, ceiling: Option<f64>, cpu_percent: Option<f64>) -> Option<f64> {
    let cores = cpu_percent? / 100.0;
    let ceiling = ceiling?;
    (cores > 0.0 && ceiling > 0.0).then(|| ops_per_s / (ceiling * cores))
}

/// `1234567.8` as `1,234,568`.
pub fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The line printed above the table: the machine's ceiling per player count.
pub fn caption(report: &BenchReport) -> Option<String> {
    if report.ceilings.is_empty() {
        return None;
    }
    let each: Vec<String> = report
        .ceilings
        .iter()
        .map(|c| format!("{} sockets {}", c.sockets, thousands(c.writes_per_core_s)))
        .collect();
    Some(format!(
        "machine ceiling, {}-byte write()s per second on one core to N loopback sockets: {}",
        report.ceilings[0].message_bytes,
        each.join(", ")
    ))
}

/// The closing summary: capacity, the server's CPU per player there, and the
/// ceiling at that player count.
pub fn summary(report: &BenchReport) -> String {
    let Some(n) = report.capacity_players else {
        return "capacity: no level was within all limits".to_owned();
    };
    let mut out = format!("capacity: {n} players (largest level within all limits)");
    let Some(level) = report
        .levels
        .iter()
        .rev()
        .find(|l| l.within_capacity && l.players == n)
    else {
        return out;
    };
    if let Some(cpu) = level.server.cpu_percent {
        let per_player = cpu / n.max(1) as f64;
        let whose = if report.nodes > 1 {
            format!("server CPU (all {} nodes)", report.nodes)
        } else {
            "server CPU".to_owned()
        };
        out.push_str(&format!(
            "; {whose} per player there: {per_player:.4}% of a core ({:.1} µs/s)",
            per_player / 100.0 * 1e6
        ));
    }
    if let Some(kib) = level.server.kib_per_player {
        out.push_str(&format!("; server memory {kib:.2} KiB per player"));
    }
    if let Some(bytes) = level.server.connection_task_bytes {
        out.push_str(&format!(
            ", of which a connection task's state {bytes:.0} bytes"
        ));
    }
    if let Some(c) = report.ceilings.iter().find(|c| c.sockets == n) {
        out.push_str(&format!(
            "; machine ceiling at {n} sockets: {} write()s/s per core",
            thousands(c.writes_per_core_s)
        ));
        if let Some(e) = level.efficiency {
            out.push_str(&format!(", efficiency {e:.2}"));
        }
    }
    out
}

fn f(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The table header (Markdown).
pub fn header() -> String {
    "| rooms | players | tick p50 ms | tick p99 ms | late p99 ms | overrun | missed % | ack p50 ms | ack p99 ms | ack p99.9 ms | queued p50/p99/max ms | applied p50/p99/max ms | KB/s/player | server CPU % | bots CPU % | server RSS MiB | KiB/player | frames+inputs /s | ceiling /s | efficiency | within capacity |\n\
     |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        .to_owned()
}

/// `p50/p99/max` of a latency triple, ms.
fn triple(t: &[Option<f64>; 3]) -> String {
    let one = |v: Option<f64>| match v {
        None => "-".to_owned(),
        Some(ms) if ms < 1.0 => format!("{ms:.3}"),
        Some(ms) => format!("{ms:.1}"),
    };
    format!("{}/{}/{}", one(t[0]), one(t[1]), one(t[2]))
}

/// One table row (Markdown).
pub fn row(l: &Level) -> String {
    let s = &l.server;
    format!(
        "| {} | {} | {} | {} | {} | {} | {:.3} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
        l.rooms,
        l.players,
        f(s.tick_p50_ms, 3),
        f(s.tick_p99_ms, 3),
        f(s.lateness_p99_ms, 2),
        s.overrun,
        l.missed_fraction * 100.0,
        f(l.ack_ms[0], 1),
        f(l.ack_ms[1], 1),
        f(l.ack_ms[2], 1),
        triple(&s.input_queue_ms),
        triple(&s.input_apply_ms),
        l.bytes_per_player_s / 1000.0,
        f(s.cpu_percent, 0),
        f(l.bots_cpu_percent, 0),
        f(s.rss_loaded_mib, 1),
        f(s.kib_per_player, 1),
        thousands(s.frames_per_s + s.inputs_per_s),
        l.ceiling_writes_per_core_s.map_or("-".into(), thousands),
        f(l.efficiency, 3),
        if l.within_capacity {
            "yes".to_owned()
        } else {
            format!("no: {}", l.broken.join(", "))
        },
    )
}

/// The table header for `nodes` server nodes (Markdown): today's columns
/// for one, the fleet's (a totals line per level, then a line per node) for
/// several.
pub fn header_for(nodes: usize) -> String {
    if nodes <= 1 {
        return header();
    }
    "| rooms | players | node | players held | rooms held | tick p99 ms | late p99 ms | CPU % | frames/s | KB/s out | KiB/player | ack p50 ms | ack p99 ms | missed % | KB/s/player | connect errors | redirects | bots CPU % | efficiency | within capacity |\n\
     |---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        .to_owned()
}

/// A level's table lines: [`row`] for a single node; for a fleet the
/// totals line (sums, the worst node's tick and lateness, the bots'
/// figures; redirects the bots followed), then one indented line per node
/// (its redirects column: the 4001s it sent) and one for Redis's CPU.
pub fn rows(l: &Level) -> String {
    if l.nodes.is_empty() {
        return row(l);
    }
    let s = &l.server;
    let c = &l.bots.all.counts;
    let mut out = format!(
        "| {} | {} | all {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {:.3} | {:.1} | {} | {} | {} | {} | {} |",
        l.rooms,
        l.players,
        l.nodes.len(),
        l.players_held.unwrap_or(0),
        l.nodes.iter().map(|n| n.rooms).sum::<u64>(),
        f(s.tick_p99_ms, 3),
        f(s.lateness_p99_ms, 2),
        f(s.cpu_percent, 0),
        thousands(s.frames_per_s),
        s.bytes_out_per_s / 1000.0,
        f(s.kib_per_player, 1),
        f(l.ack_ms[0], 1),
        f(l.ack_ms[1], 1),
        l.missed_fraction * 100.0,
        l.bytes_per_player_s / 1000.0,
        c.connect_errors,
        c.redirects,
        f(l.bots_cpu_percent, 0),
        f(l.efficiency, 3),
        if l.within_capacity {
            "yes".to_owned()
        } else {
            format!("no: {}", l.broken.join(", "))
        },
    );
    for n in &l.nodes {
        let s = &n.server;
        out.push_str(&format!(
            "\n|  |  | ↳ {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |  |  |  |  |  | {} |  |  |  |",
            n.node,
            n.players,
            n.rooms,
            f(s.tick_p99_ms, 3),
            f(s.lateness_p99_ms, 2),
            f(s.cpu_percent, 0),
            thousands(s.frames_per_s),
            s.bytes_out_per_s / 1000.0,
            f(s.kib_per_player, 1),
            n.redirects_sent,
        ));
    }
    if let Some(cpu) = l.redis_cpu_percent {
        out.push_str(&format!(
            "\n|  |  | ↳ redis |  |  |  |  | {cpu:.0} |  |  |  |  |  |  |  |  |  |  |  |  |"
        ));
    }
    out
}

/// The line printed below a rolling level's table lines: the hand-offs the
/// bots saw, each node's drain, and how long the window ran (`None` for a
/// level without restarts).
pub fn rolling_line(l: &Level) -> Option<String> {
    let r = l.rolling.as_ref()?;
    let gap = r.handoff_gap_ms;
    let drains: Vec<String> = r
        .restarts
        .iter()
        .map(|x| {
            let handed = match (x.rooms_handed, x.rooms_kept) {
                (Some(h), Some(k)) => format!(", {h} rooms handed off, {k} kept"),
                _ => String::new(),
            };
            let reconnected = x
                .reconnected_ms
                .map_or("not all within 20 s".to_owned(), |ms| format!("{ms:.0} ms"));
            format!(
                "{} {:.0} ms ({} rooms, {} players{handed}; fleet up again {:.0} ms, bots reconnected {reconnected} after its start)",
                x.node, x.drain_ms, x.rooms_before, x.players_before, x.up_ms
            )
        })
        .collect();
    let window = if r.extended {
        format!(
            "window {:.1} s, extended past the planned {:.0} s: the restarts took {:.1} s",
            r.window_s, r.planned_window_s, r.restarts_s
        )
    } else {
        format!(
            "window {:.1} s (restarts done after {:.1} s)",
            r.window_s, r.restarts_s
        )
    };
    Some(format!(
        "rolling restart, {} players: {} hand-offs seen by the bots, gap p50/p99/max {} ms, resume misses {}; \
         drain (SIGTERM to exit) {}; {window}; server CPU % sums each node's old and new process",
        l.players,
        r.handoffs,
        triple(&gap),
        r.resume_misses,
        drains.join(", "),
    ))
}

/// The plot of a sweep: latency, tick cost and CPU against players.
pub fn plot(report: &BenchReport) -> String {
    let pts = |g: &dyn Fn(&Level) -> Option<f64>| -> Vec<(f64, f64)> {
        report
            .levels
            .iter()
            .filter_map(|l| Some((l.players as f64, g(l)?)))
            .collect()
    };
    let series = |name: &str, color: &'static str, g: &dyn Fn(&Level) -> Option<f64>| svg::Series {
        name: name.into(),
        color,
        points: pts(g),
    };
    let title = if report.nodes > 1 {
        format!(
            "tickroom load sweep, {} nodes on one core (CPU summed, worst node's ticks) — {}",
            report.nodes, report.machine
        )
    } else {
        format!("tickroom load sweep — {}", report.machine)
    };
    svg::render(
        &title,
        "players (bots, 50 per room, inputs at 30 Hz)",
        &[
            svg::Panel {
                title: "input-to-acknowledgement latency (bots)".into(),
                y_label: "ms".into(),
                limit: Some((LIMIT_ACK_P99_MS, "p99 limit".into())),
                series: vec![
                    series("p50", "#1f77b4", &|l| l.ack_ms[0]),
                    series("p99", "#d62728", &|l| l.ack_ms[1]),
                ],
            },
            svg::Panel {
                title: "room tick duration (server /metrics)".into(),
                y_label: "ms".into(),
                limit: Some((LIMIT_TICK_P99_MS, "p99 limit".into())),
                series: vec![
                    series("p50", "#2ca02c", &|l| l.server.tick_p50_ms),
                    series("p99", "#ff7f0e", &|l| l.server.tick_p99_ms),
                ],
            },
            svg::Panel {
                title: "CPU (100% = one core)".into(),
                y_label: "%".into(),
                limit: None,
                series: vec![
                    series("server", "#9467bd", &|l| l.server.cpu_percent),
                    series("bots", "#8c564b", &|l| l.bots_cpu_percent),
                ],
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickroom_bots::prom::Scrape;

    #[test]
    fn efficiency_is_work_per_core_over_the_ceiling() {
        // 60k ops/s on half a core against 300k writes per core-second.
        assert_eq!(efficiency(60_000.0, Some(300_000.0), Some(50.0)), Some(0.4));
        assert_eq!(efficiency(60_000.0, None, Some(50.0)), None);
        assert_eq!(efficiency(60_000.0, Some(300_000.0), None), None);
        assert_eq!(efficiency(60_000.0, Some(300_000.0), Some(0.0)), None);
    }

    #[test]
    fn a_fleet_sums_its_nodes_and_keeps_the_worst_ticks() {
        let node = |id: &str, tick: Option<f64>, cpu: f64, idle: f64, loaded: f64| NodeLevel {
            node: id.into(),
            addr: "127.0.0.1:1".into(),
            players: 0,
            rooms: 0,
            redirects_sent: 0,
            server: ServerFigures {
                tick_p99_ms: tick,
                lateness_p99_ms: tick.map(|t| t * 2.0),
                frames_per_s: 1000.0,
                cpu_percent: Some(cpu),
                rss_idle_mib: Some(idle),
                rss_loaded_mib: Some(loaded),
                ..ServerFigures::default()
            },
        };
        // n2 got no room: no ticks, so no quantile, which must not count as over.
        let nodes = [
            node("n0", Some(0.5), 10.0, 8.0, 9.0),
            node("n1", Some(1.5), 20.0, 8.0, 10.0),
            node("n2", None, 1.0, 8.0, 8.0),
        ];
        let f = fleet_figures(&nodes, 3072);
        assert_eq!(f.tick_p99_ms, Some(1.5));
        assert_eq!(f.lateness_p99_ms, Some(3.0));
        assert_eq!(f.frames_per_s, 3000.0);
        assert_eq!(f.cpu_percent, Some(31.0));
        assert_eq!(f.rss_loaded_mib, Some(27.0));
        assert_eq!(f.kib_per_player, Some(1.0));
        let mut unknown = nodes.clone();
        unknown[0].server.cpu_percent = None;
        assert_eq!(fleet_figures(&unknown, 1).cpu_percent, None);
    }

    fn scrape_of(counts: [f64; 3]) -> Scrape {
        let [a, b, inf] = counts;
        Scrape::parse(&format!(
            "# TYPE h histogram\nh_bucket{{le=\"0.001\"}} {a}\nh_bucket{{le=\"0.01\"}} {b}\n\
             h_bucket{{le=\"+Inf\"}} {inf}\nh_sum 0\nh_count {inf}\n\
             # TYPE tickroom_ticks_total counter\ntickroom_ticks_total {inf}\n"
        ))
    }

    #[test]
    fn one_span_is_the_plain_window() {
        let (a, b) = (scrape_of([1.0, 2.0, 3.0]), scrape_of([5.0, 10.0, 11.0]));
        let plain = WindowHistogram::between(&a, &b, "h");
        assert_eq!(merge_histograms([plain.clone()]), plain);
        assert_eq!(merge_histograms([]).count, 0.0);
        assert_eq!(merge_histograms([]).quantile(0.5), None);
    }

    #[test]
    fn spans_of_a_restarted_node_add_up() {
        // The old process from the window's start to its SIGTERM, the new
        // one from its start (empty scrape) to the window's end.
        let spans = [
            Span {
                start: scrape_of([1.0, 2.0, 3.0]),
                end: scrape_of([5.0, 10.0, 11.0]),
            },
            Span {
                start: Scrape::parse(""),
                end: scrape_of([2.0, 2.0, 4.0]),
            },
        ];
        let h = merge_histograms(
            spans
                .iter()
                .map(|s| WindowHistogram::between(&s.start, &s.end, "h")),
        );
        assert_eq!(h.count, 12.0);
        assert_eq!(
            h.buckets,
            vec![
                (0.0, 0.001, 6.0),
                (0.001, 0.01, 4.0),
                (0.01, f64::INFINITY, 2.0)
            ]
        );
        // Counters add up the same way.
        let f = server_figures(&spans, 2.0, None, None, None, 1);
        assert_eq!(f.ticks, 12.0);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
    }
}
