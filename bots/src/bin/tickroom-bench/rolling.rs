//! `tickroom-bench --nodes N --rolling-restart`: the rolling restart of
//! `scripts/rolling-restart`, run by the bench inside each level's measured
//! window, so the hand-off figures (each player's gap between frames across
//! a hand-off, resume misses, each node's drain time) come with the level's
//! other figures from one command instead of a hand-run script.
//!
//! After the warm-up, each node in turn: a scrape of its `/metrics`, SIGTERM
//! (it hands its rooms to the others and closes its players with 4001
//! `node=<id>`), a bounded wait for its exit (its `--drain` plus
//! [`EXIT_MARGIN`]), a new process with the same flags on the same port and
//! node id, a bounded wait until every node's `GET /cluster` lists the whole
//! fleet up, a bounded wait until every bot is connected again (the nodes'
//! `tickroom_connections` add up to the players), and the settle pause
//! (`--rolling-settle`, 5 s like the script's: the nodes' views of the
//! fleet refresh about once a second, and a real rollout waits too); then
//! the next node. The window then runs on until it is at least as long
//! as planned: a level whose restarts take longer than `--window` is
//! measured for as long as they take, and says so ([`RollingFigures`]).
//!
//! The nodes need a shared `--secret` (else a drain keeps its rooms: the
//! others could not verify them) and a `--drain` long enough for the
//! hand-offs: [`RollingArgs`] adds both unless `--server-arg` sets them.
//!
//! A node slot's figures add up the processes that held it: `/metrics`
//! deltas per process (from the window's start or the process's start, to
//! just before its SIGTERM or the window's end), and CPU time per process
//! (up to its exit, so the drain counts), over the whole window. What falls
//! between a node's last scrape and its exit (the hand-off itself) is in
//! its CPU but not in its tick figures. RSS at the end is the last
//! process's, and its growth per player is still against the first
//! process's idle RSS (same binary, same flags).
//!
//! Every wait here is bounded and fails the level with what it waited for;
//! it never kills anything but the processes the bench started.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use tickroom_bots::{Report, duration::parse_duration, process, prom::Scrape};

use crate::{
    config::BenchConfig,
    fleet,
    servers::{self, LevelSample, NodeWindow, ServerProcess, Span},
};

/// `--drain` given to every node unless `--server-arg` sets one: ample for
/// the hand-offs (200 rooms take under a second), and the exit wait's bound.
pub const DRAIN: Duration = Duration::from_secs(20);
/// How much longer than its `--drain` a node may take to exit after SIGTERM.
pub const EXIT_MARGIN: Duration = Duration::from_secs(10);
/// How long the bots may take to be connected again after a restart before
/// the next node drains anyway (with a warning).
const RECONNECT_MAX: Duration = Duration::from_secs(20);
/// How often a drained node's exit is polled.
const POLL: Duration = Duration::from_millis(20);
/// How often the fleet's connections are counted after a restart.
const RECONNECT_POLL: Duration = Duration::from_millis(200);
/// The nodes' `RUST_LOG` in a rolling level: the listening line, and the
/// drain's hand-off summary (`drain: rooms handed off handed=… kept=…`).
pub const LOG_FILTER: &str = "warn,tickroom_server::server=info,tickroom_server::handoff=info";

/// The flags a rolling level adds to every node, and the drain in effect.
#[derive(Debug, Clone, PartialEq)]
pub struct RollingArgs {
    /// Appended to each node's flags.
    pub extra: Vec<String>,
    /// The nodes' `--drain` (ours, or the one in `--server-arg`).
    pub drain: Duration,
}

impl RollingArgs {
    /// `--secret secret` unless `server_args` has a `--secret`, and
    /// `--drain 20s` unless it has a `--drain` (which must then parse).
    pub fn new(server_args: &[String], secret: &str) -> Result<RollingArgs> {
        let mut extra = Vec::new();
        if server_arg_value(server_args, "--secret").is_none() {
            extra.extend(["--secret".to_owned(), secret.to_owned()]);
        }
        let drain = match server_arg_value(server_args, "--drain") {
            Some(v) => parse_duration(v)
                .with_context(|| format!("--server-arg --drain {v:?}: not a duration"))?,
            None => {
                extra.extend(["--drain".to_owned(), format!("{}s", DRAIN.as_secs())]);
                DRAIN
            }
        };
        Ok(RollingArgs { extra, drain })
    }
}

/// The value of `flag` in server flags given as `--flag value` or
/// `--flag=value` (the last one wins); `None` when absent.
pub fn server_arg_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut found = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == flag {
            found = it.next().map(String::as_str);
        } else if let Some(v) = a.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            found = Some(v);
        }
    }
    found
}

/// A secret shared by the run's nodes (at least the server's 16 bytes):
/// only they see it, on loopback, so the pid and the clock make it unique
/// enough.
pub fn bench_secret() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("tickroom-bench-{}-{nanos:x}", std::process::id())
}

/// CPU seconds of one node slot over the window: per process, its CPU
/// time at the end (its last reading before exit, or the window's end)
/// minus at the start (the window's start, or zero for a process started
/// inside the window). `None` when any reading is missing.
pub fn cpu_seconds(
    parts: &[(Option<process::CpuTimes>, Option<process::CpuTimes>)],
) -> Option<f64> {
    parts
        .iter()
        .map(|(a, b)| {
            let (a, b) = (a.as_ref()?, b.as_ref()?);
            Some((b.user_s + b.sys_s) - (a.user_s + a.sys_s))
        })
        .sum()
}

/// The drain summary a node logs (`drain: rooms handed off handed=7 kept=0
/// took_ms=140`): rooms handed off and kept; the last such line of `log`.
pub fn handoff_summary(log: &str) -> Option<(u64, u64)> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("drain: rooms handed off"))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    Some((field("handed")?, field("kept")?))
}

/// One node's restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restart {
    /// The node's id.
    pub node: String,
    /// When it got SIGTERM, seconds into the window.
    pub at_s: f64,
    /// Rooms it ran just before (gauge `tickroom_rooms`).
    pub rooms_before: u64,
    /// Players it held just before (gauge `tickroom_players`).
    pub players_before: u64,
    /// SIGTERM to exit, ms.
    pub drain_ms: f64,
    /// Rooms its drain handed off and kept, from its log (absent when it
    /// logged no summary: no room, or hand-off off).
    pub rooms_handed: Option<u64>,
    /// See `rooms_handed`.
    pub rooms_kept: Option<u64>,
    /// Its exit status, as the OS gave it.
    pub exit: String,
    /// Start of the new process to every node listing the fleet up, ms.
    pub up_ms: f64,
    /// Start of the new process to every bot connected again, ms (absent
    /// when they were not within 20 s; the next node drained anyway).
    pub reconnected_ms: Option<f64>,
    /// The old and the new process.
    pub pids: [u32; 2],
}

/// A rolling level's figures (in the level's JSON as `rolling`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RollingFigures {
    /// Hand-offs the bots saw in the window (one per player per 4001
    /// `node=<id>` move that got a frame after it).
    pub handoffs: u64,
    /// Each player's gap across a hand-off, last frame before to first
    /// after: p50 / p99 / max, ms (all bots).
    pub handoff_gap_ms: [Option<f64>; 3],
    /// Reconnects with a resume token that got a fresh player (must be 0).
    pub resume_misses: u64,
    /// Reconnects that took back the same player.
    pub resumes: u64,
    /// Each node's restart, in order.
    pub restarts: Vec<Restart>,
    /// Seconds from the window's start until the last node was back.
    pub restarts_s: f64,
    /// The window asked for (`--window`), s.
    pub planned_window_s: f64,
    /// The window measured, s: at least the planned one, longer when the
    /// restarts took longer.
    pub window_s: f64,
    /// Whether the restarts outlasted the planned window (so it was extended).
    pub extended: bool,
}

impl RollingFigures {
    /// The bots' hand-off figures with the sampler's restarts.
    pub fn new(
        bots: &Report,
        restarts: Vec<Restart>,
        restarts_s: f64,
        planned: Duration,
        window_s: f64,
    ) -> RollingFigures {
        let gap = bots.all.handoff_gap_ms;
        RollingFigures {
            handoffs: gap.map_or(0, |s| s.count),
            handoff_gap_ms: [gap.map(|s| s.p50), gap.map(|s| s.p99), gap.map(|s| s.max)],
            resume_misses: bots.all.counts.resume_misses,
            resumes: bots.all.counts.resumes,
            restarts,
            restarts_s,
            planned_window_s: planned.as_secs_f64(),
            window_s,
            extended: restarts_s > planned.as_secs_f64(),
        }
    }
}

/// A node slot: its id, where it listens, its flags, and its process.
pub struct Slot {
    /// The node's id.
    pub id: String,
    /// Its address (kept across restarts).
    pub addr: SocketAddr,
    /// Its flags after the bench's own (cluster, secret, drain).
    pub args: Vec<String>,
    /// Its first process's log; a restart logs beside it (`…-restarted.log`).
    pub log: PathBuf,
    /// The process now holding the slot.
    pub process: ServerProcess,
}

/// What a rolling level's sampler needs besides the slots.
pub struct Plan<'a> {
    /// The bench's settings (server binary, flags, pinning).
    pub config: &'a BenchConfig,
    /// The fleet's Redis, sampled for CPU like the single-pid window.
    pub redis_pid: Option<u32>,
    /// From the swarm's start to the window's (ramp + warm-up).
    pub after: Duration,
    /// The planned window.
    pub window: Duration,
    /// Players the swarm plans.
    pub players: usize,
    /// The nodes' `--drain`.
    pub drain: Duration,
    /// Pause after a node is back and the bots reconnected, before the next.
    pub settle: Duration,
}

/// A rolling level's window: the usual sample, and the restarts.
pub struct RollingSample {
    /// The window, per node slot.
    pub window: LevelSample,
    /// Each node's restart, in order.
    pub restarts: Vec<Restart>,
    /// Seconds from the window's start until the last node was back.
    pub restarts_s: f64,
}

/// One slot's window so far: finished spans and CPU parts, and the open one.
struct Track {
    spans: Vec<Span>,
    cpu: Vec<(Option<process::CpuTimes>, Option<process::CpuTimes>)>,
    open_start: Scrape,
    open_cpu: Option<process::CpuTimes>,
}

/// Waits `plan.after`, then measures the window while restarting every
/// slot in turn (see the module docs); returns when the window is over.
pub async fn measure(plan: &Plan<'_>, slots: &mut [Slot]) -> Result<RollingSample> {
    tokio::time::sleep(plan.after).await;
    let t0 = Instant::now();
    let bots0 = process::cpu_times();
    let redis0 = plan.redis_pid.and_then(process::cpu_times_of);
    let mut tracks = Vec::with_capacity(slots.len());
    for slot in slots.iter() {
        let open_start = servers::scrape(slot.addr)
            .await
            .with_context(|| format!("scraping node {} at the start of the window", slot.id))?;
        tracks.push(Track {
            spans: Vec::new(),
            cpu: Vec::new(),
            open_start,
            open_cpu: process::cpu_times_of(slot.process.pid()),
        });
    }
    let addrs: Vec<SocketAddr> = slots.iter().map(|s| s.addr).collect();
    let ids: Vec<String> = slots.iter().map(|s| s.id.clone()).collect();
    let mut restarts = Vec::with_capacity(slots.len());
    for i in 0..slots.len() {
        let (restart, started) = drain_and_start(plan, &mut slots[i], &mut tracks[i], t0).await?;
        fleet::wait_for_members(&addrs, &ids)
            .await
            .with_context(|| {
                format!("rolling restart: after node {} started again", slots[i].id)
            })?;
        let up_ms = ms(started.elapsed());
        let reconnected_ms = wait_for_connections(&addrs, plan.players)
            .await
            .then(|| ms(started.elapsed()));
        if reconnected_ms.is_none() {
            tracing::warn!(
                node = %slots[i].id,
                players = plan.players,
                "rolling restart: the bots were not all connected again within {RECONNECT_MAX:?}; going on"
            );
        }
        tracing::info!(
            node = %restart.node,
            drain_ms = restart.drain_ms,
            up_ms,
            reconnected_ms,
            "node restarted"
        );
        restarts.push(Restart {
            up_ms,
            reconnected_ms,
            ..restart
        });
        if i + 1 < slots.len() {
            tokio::time::sleep(plan.settle).await;
        }
    }
    let restarts_s = t0.elapsed().as_secs_f64();
    if let Some(rest) = plan.window.checked_sub(t0.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    let mut nodes = Vec::with_capacity(slots.len());
    for (slot, mut track) in slots.iter().zip(tracks) {
        let end = servers::scrape(slot.addr)
            .await
            .with_context(|| format!("scraping node {} at the end of the window", slot.id))?;
        let pid = slot.process.pid();
        track.cpu.push((track.open_cpu, process::cpu_times_of(pid)));
        let start = std::mem::replace(&mut track.open_start, Scrape::parse(""));
        track.spans.push(Span { start, end });
        nodes.push((track, servers::rss_mib(pid)));
    }
    let (redis1, bots1) = (
        plan.redis_pid.and_then(process::cpu_times_of),
        process::cpu_times(),
    );
    let secs = t0.elapsed().as_secs_f64();
    let pct = |cpu_s: Option<f64>| cpu_s.map(|c| c / secs * 100.0);
    let nodes = nodes
        .into_iter()
        .map(|(track, rss_mib)| NodeWindow {
            cpu_percent: pct(cpu_seconds(&track.cpu)),
            spans: track.spans,
            rss_mib,
        })
        .collect();
    Ok(RollingSample {
        window: LevelSample {
            nodes,
            redis_cpu: pct(cpu_seconds(&[(redis0, redis1)])),
            bots_cpu: pct(cpu_seconds(&[(bots0, bots1)])),
            secs,
        },
        restarts,
        restarts_s,
    })
}

/// One slot's drain and new start: closes its process's span at a scrape
/// just before SIGTERM, waits (bounded) for the exit, starts the new
/// process on the same address and waits until it answers. Returns the
/// restart (its `up_ms` and `reconnected_ms` are the caller's to fill) and
/// when the new process was started.
async fn drain_and_start(
    plan: &Plan<'_>,
    slot: &mut Slot,
    track: &mut Track,
    t0: Instant,
) -> Result<(Restart, Instant)> {
    let before = servers::scrape(slot.addr)
        .await
        .with_context(|| format!("scraping node {} before its SIGTERM", slot.id))?;
    let gauge = |name: &str| before.value(name).unwrap_or(0.0).max(0.0) as u64;
    let (rooms_before, players_before) = (gauge("tickroom_rooms"), gauge("tickroom_players"));
    let old_pid = slot.process.pid();
    let mut last_cpu = process::cpu_times_of(old_pid);
    let at_s = t0.elapsed().as_secs_f64();
    tracing::info!(node = %slot.id, pid = old_pid, rooms_before, players_before, "rolling restart: SIGTERM");
    slot.process.terminate();
    let sigterm = Instant::now();
    let bound = plan.drain + EXIT_MARGIN;
    let status = loop {
        // Read before reaping: a zombie's times are its whole life's.
        if let Some(cpu) = process::cpu_times_of(old_pid) {
            last_cpu = Some(cpu);
        }
        if let Some(status) = slot
            .process
            .try_wait()
            .with_context(|| format!("waiting for node {} (pid {old_pid}) to exit", slot.id))?
        {
            break status;
        }
        if sigterm.elapsed() > bound {
            bail!(
                "rolling restart: node {} (pid {old_pid}) did not exit within {bound:?} of its SIGTERM \
                 (--drain {:?} + {EXIT_MARGIN:?}); its log: {}",
                slot.id,
                plan.drain,
                slot.log.display()
            );
        }
        tokio::time::sleep(POLL).await;
    };
    let drain_ms = ms(sigterm.elapsed());
    if !status.success() {
        tracing::warn!(node = %slot.id, %status, "rolling restart: the drained node exited with a failure");
    }
    let old_log = std::fs::read_to_string(&slot.log)
        .with_context(|| format!("reading {}", slot.log.display()))?;
    let handed = handoff_summary(&old_log);
    let span_start = std::mem::replace(&mut track.open_start, Scrape::parse(""));
    track.spans.push(Span {
        start: span_start,
        end: before,
    });
    track.cpu.push((track.open_cpu, last_cpu));
    // The new process's counters and CPU start at zero inside the window.
    track.open_cpu = Some(process::CpuTimes::default());

    slot.log = restarted_log(&slot.log);
    let spawned = Instant::now();
    slot.process = ServerProcess::start(
        plan.config,
        &slot.log,
        &slot.args,
        &slot.addr.to_string(),
        LOG_FILTER,
    )?;
    let addr = servers::listening_addr_in(&slot.log).await?;
    if addr != slot.addr {
        bail!(
            "rolling restart: node {} came back on {addr}, not {} (its log: {})",
            slot.id,
            slot.addr,
            slot.log.display()
        );
    }
    servers::wait_ready(addr).await?;
    let restart = Restart {
        node: slot.id.clone(),
        at_s,
        rooms_before,
        players_before,
        drain_ms,
        rooms_handed: handed.map(|h| h.0),
        rooms_kept: handed.map(|h| h.1),
        exit: status.to_string(),
        up_ms: 0.0,
        reconnected_ms: None,
        pids: [old_pid, slot.process.pid()],
    };
    Ok((restart, spawned))
}

/// `server-…-n0.log` → `server-…-n0-restarted.log`.
fn restarted_log(log: &Path) -> PathBuf {
    let stem = log.file_stem().map_or_else(
        || "server".to_owned(),
        |s| {
            s.to_string_lossy()
                .trim_end_matches("-restarted")
                .to_owned()
        },
    );
    log.with_file_name(format!("{stem}-restarted.log"))
}

/// Waits (up to [`RECONNECT_MAX`]) until the nodes' open WebSockets
/// (`tickroom_connections`) add up to `players`: every bot is connected
/// again (a handed-off room counts its players in `tickroom_players` before
/// they resume, so that gauge would not do). `false` when they did not in
/// time. A node that does not answer counts none.
async fn wait_for_connections(addrs: &[SocketAddr], players: usize) -> bool {
    let deadline = Instant::now() + RECONNECT_MAX;
    loop {
        let mut open = 0.0;
        for &addr in addrs {
            if let Ok(m) = servers::scrape(addr).await {
                open += m.get("tickroom_connections").max(0.0);
            }
        }
        if open >= players as f64 {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(RECONNECT_POLL).await;
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn finds_a_server_flag_in_either_form() {
        let args = strings(&["--drain", "30s", "--ws-read-buffer=2048", "--secret=abc"]);
        assert_eq!(server_arg_value(&args, "--drain"), Some("30s"));
        assert_eq!(server_arg_value(&args, "--secret"), Some("abc"));
        assert_eq!(server_arg_value(&args, "--ws-read-buffer"), Some("2048"));
        assert_eq!(server_arg_value(&args, "--drain-secs"), None);
        assert_eq!(server_arg_value(&strings(&["--drain"]), "--drain"), None);
        // Not a prefix match: --secretive is another flag.
        assert_eq!(
            server_arg_value(&strings(&["--secretive=1"]), "--secret"),
            None
        );
    }

    #[test]
    fn adds_secret_and_drain_unless_given() {
        let r = RollingArgs::new(&[], "0123456789abcdef").unwrap();
        assert_eq!(
            r.extra,
            strings(&["--secret", "0123456789abcdef", "--drain", "20s"])
        );
        assert_eq!(r.drain, DRAIN);
        let r = RollingArgs::new(
            &strings(&["--secret=mine-mine-mine-mine", "--drain", "45s"]),
            "x",
        )
        .unwrap();
        assert!(r.extra.is_empty());
        assert_eq!(r.drain, Duration::from_secs(45));
        assert!(RollingArgs::new(&strings(&["--drain=soon"]), "x").is_err());
        assert!(bench_secret().len() >= 16);
    }

    #[test]
    fn cpu_adds_up_the_processes_of_a_slot() {
        let t = |user_s, sys_s| Some(process::CpuTimes { user_s, sys_s });
        // The old process from the window's start to its exit, the new one
        // from zero to the window's end.
        let parts = [
            (t(10.0, 2.0), t(13.0, 2.5)),
            (Some(process::CpuTimes::default()), t(1.5, 0.5)),
        ];
        assert_eq!(cpu_seconds(&parts), Some(5.5));
        assert_eq!(cpu_seconds(&[]), Some(0.0));
        assert_eq!(cpu_seconds(&[(t(1.0, 0.0), None)]), None);
        assert_eq!(
            cpu_seconds(&[(t(1.0, 0.0), t(2.0, 0.0)), (None, t(1.0, 0.0))]),
            None
        );
    }

    #[test]
    fn reads_the_drain_summary_from_a_node_log() {
        let log = "2026-12-07T10:00:00Z  INFO tickroom_server::server: tickroom listening addr=127.0.0.1:4000 workers=1\n\
                   2026-12-07T10:00:09Z  INFO tickroom_server::handoff: room handed off room=r-1 to=n1 players=50 tick=100\n\
                   2026-12-07T10:00:09Z  INFO tickroom_server::handoff: drain: rooms handed off handed=7 kept=1 took_ms=140\n";
        assert_eq!(handoff_summary(log), Some((7, 1)));
        assert_eq!(handoff_summary("nothing here\n"), None);
    }

    #[test]
    fn a_restart_logs_beside_the_first_process() {
        let log = Path::new("/tmp/bench/server-4-rooms-n1.log");
        let once = restarted_log(log);
        assert_eq!(
            once,
            Path::new("/tmp/bench/server-4-rooms-n1-restarted.log")
        );
        assert_eq!(restarted_log(&once), once);
    }
}
