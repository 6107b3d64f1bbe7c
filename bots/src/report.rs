//! The figures of a finished run: [`Report`] (serializable, what `--json`
//! writes and what tests assert on) and its human-readable summary table
//! (its `Display`).
//!
//! Figures are grouped three ways: all bots, "normal" bots (every behaviour
//! but slow-reader) and slow readers, plus one group per behaviour. Slow
//! readers are meant to fall behind, so fail-if conditions and the live
//! latency display look at the normal group.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

pub use crate::stats::Summary;
use crate::stats::{Counters, KindTotals};

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The WebSocket endpoint the bots used (the entry endpoints, comma-separated,
    /// when `--url` listed several).
    pub endpoint: String,
    /// The game the bots played.
    #[serde(default)]
    pub game: String,
    /// Seed the bots' RNGs were derived from.
    pub seed: u64,
    /// Bots planned.
    pub bots: usize,
    /// Rooms used.
    pub rooms: usize,
    /// Inputs per second per bot.
    pub input_hz: u32,
    /// The behaviour mix, as `kind=weight,...`.
    pub mix: String,
    /// Wall-clock seconds from the first connection attempt to the stop, or,
    /// with `measure_after`, the length of the measured window.
    pub duration_s: f64,
    /// All bots.
    pub all: GroupReport,
    /// Every bot but the slow readers.
    pub normal: GroupReport,
    /// Slow readers only.
    pub slow_readers: GroupReport,
    /// One group per behaviour present in the run, by name.
    pub behaviours: BTreeMap<String, GroupReport>,
    /// The bot process's own CPU and memory.
    pub process: ProcessReport,
}

/// Figures for a group of bots.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupReport {
    /// Bots in the group.
    pub bots: usize,
    /// Raw event counts.
    #[serde(flatten)]
    pub counts: Counters,
    /// Connect errors by reason (`"tcp"`, `"handshake"`, `"timeout"`, `"http-503"`,
    /// `"http-400-unknown_game"`, `"close-1013"`, `"wrong-game"`, ...).
    pub connect_error_reasons: BTreeMap<String, u64>,
    /// Disconnects by close code (`"1008"`, ...) or `"eof"` / `"error"` for
    /// connections that ended without a close frame.
    pub disconnects_by_reason: BTreeMap<String, u64>,
    /// Time from starting the TCP connect to receiving Welcome.
    pub connect_ms: Option<Summary>,
    /// Time from starting a reconnect to the Welcome that took the player back (churn bots).
    pub resume_ms: Option<Summary>,
    /// Time from the end of a connection the server or network ended (lost,
    /// drained, moved elsewhere) to the next Welcome, wherever it came from.
    #[serde(default)]
    pub rejoin_ms: Option<Summary>,
    /// Per hand-off (a 4001 `node=<id>` move), the player's gap between its
    /// last frame before and its first frame after.
    #[serde(default)]
    pub handoff_gap_ms: Option<Summary>,
    /// Time between two consecutive frames of one connection.
    pub interarrival_ms: Option<Summary>,
    /// How much later than its connection's freshest frame each frame
    /// arrived, on the tick grid: old frames held in kernel buffers show here.
    pub frame_age_ms: Option<Summary>,
    /// Time from sending an input until the first state whose `ack_seq`
    /// covers it (one sample per input).
    pub ack_latency_ms: Option<Summary>,
    /// `missed_ticks / (snapshots + missed_ticks)`: share of ticks never seen.
    pub missed_tick_fraction: f64,
    /// Seconds of connected time, summed over the group's connections.
    pub connected_bot_seconds: f64,
    /// Bytes received per connected bot per second.
    pub bytes_per_bot_s: f64,
    /// Messages received per connected bot per second.
    pub messages_per_bot_s: f64,
}

impl GroupReport {
    pub(crate) fn from_totals(bots: usize, t: &KindTotals) -> GroupReport {
        let c = t.c;
        let seen = c.snapshots + c.missed_ticks;
        let secs = c.connected_us as f64 / 1e6;
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        GroupReport {
            bots,
            counts: c,
            connect_error_reasons: t.connect_errors.clone(),
            disconnects_by_reason: t.disconnects.clone(),
            connect_ms: Summary::from_option(&t.connect),
            resume_ms: Summary::from_option(&t.resume),
            rejoin_ms: Summary::from_option(&t.rejoin),
            handoff_gap_ms: Summary::from_option(&t.handoff_gap),
            interarrival_ms: Summary::from_option(&t.interarrival),
            frame_age_ms: Summary::from_option(&t.frame_age),
            ack_latency_ms: Summary::from_option(&t.latency),
            missed_tick_fraction: if seen > 0 {
                c.missed_ticks as f64 / seen as f64
            } else {
                0.0
            },
            connected_bot_seconds: secs,
            bytes_per_bot_s: per_s(c.bytes_received),
            messages_per_bot_s: per_s(c.messages_received),
        }
    }
}

/// The bot process's CPU and memory (Linux; `None` elsewhere).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessReport {
    /// CPU seconds in user mode during the run.
    pub cpu_user_s: Option<f64>,
    /// CPU seconds in the kernel during the run.
    pub cpu_sys_s: Option<f64>,
    /// (user + sys) / wall time × 100: 100 means one core busy all the time.
    pub cpu_percent: Option<f64>,
    /// RSS before the first bot started.
    pub rss_start_kib: Option<u64>,
    /// RSS just before the bots were told to stop (all of them connected).
    pub rss_loaded_kib: Option<u64>,
    /// Peak RSS of the process (`VmHWM`).
    pub rss_peak_kib: Option<u64>,
    /// RSS after every bot ended.
    pub rss_final_kib: Option<u64>,
    /// (loaded - start) / bots: memory cost of one connected bot.
    pub rss_per_bot_kib: Option<f64>,
}

fn ms(s: &Option<Summary>, f: impl Fn(&Summary) -> f64) -> String {
    s.as_ref()
        .map_or_else(|| "-".to_owned(), |s| format!("{:.2}", f(s)))
}

fn reasons(r: &BTreeMap<String, u64>) -> String {
    if r.is_empty() {
        return "none".to_owned();
    }
    r.iter()
        .map(|(k, v)| format!("{k}×{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "?".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tickroom-bots: {} bots in {} rooms of {} for {:.1} s at {} inputs/s (mix {}, seed {})",
            self.bots, self.rooms, self.game, self.duration_s, self.input_hz, self.mix, self.seed
        )?;
        writeln!(f, "endpoint: {}", self.endpoint)?;
        let groups = [&self.all, &self.normal, &self.slow_readers];
        let row =
            |f: &mut fmt::Formatter<'_>, label: &str, cell: &dyn Fn(&GroupReport) -> String| {
                write!(f, "{label:<28}")?;
                for g in groups {
                    write!(f, "{:>14}", cell(g))?;
                }
                writeln!(f)
            };
        writeln!(f)?;
        writeln!(
            f,
            "{:<28}{:>14}{:>14}{:>14}",
            "", "all", "normal", "slow-reader"
        )?;
        row(f, "bots", &|g| g.bots.to_string())?;
        row(f, "connections", &|g| g.counts.connections.to_string())?;
        row(f, "connect errors", &|g| {
            g.counts.connect_errors.to_string()
        })?;
        row(f, "connect p50 ms", &|g| ms(&g.connect_ms, |s| s.p50))?;
        row(f, "connect p99 ms", &|g| ms(&g.connect_ms, |s| s.p99))?;
        row(f, "snapshots", &|g| g.counts.snapshots.to_string())?;
        row(f, "missed ticks", &|g| g.counts.missed_ticks.to_string())?;
        row(f, "missed ticks %", &|g| {
            format!("{:.3}", g.missed_tick_fraction * 100.0)
        })?;
        row(f, "connections with gaps", &|g| {
            g.counts.connections_with_gaps.to_string()
        })?;
        row(f, "non-increasing ticks", &|g| {
            g.counts.non_increasing_ticks.to_string()
        })?;
        row(f, "inter-arrival p50 ms", &|g| {
            ms(&g.interarrival_ms, |s| s.p50)
        })?;
        row(f, "inter-arrival p99 ms", &|g| {
            ms(&g.interarrival_ms, |s| s.p99)
        })?;
        row(f, "inter-arrival max ms", &|g| {
            ms(&g.interarrival_ms, |s| s.max)
        })?;
        row(f, "frame age p50 ms", &|g| ms(&g.frame_age_ms, |s| s.p50))?;
        row(f, "frame age p99 ms", &|g| ms(&g.frame_age_ms, |s| s.p99))?;
        row(f, "frame age max ms", &|g| ms(&g.frame_age_ms, |s| s.max))?;
        row(f, "inputs sent", &|g| g.counts.inputs_sent.to_string())?;
        row(f, "inputs acked", &|g| g.counts.inputs_acked.to_string())?;
        row(f, "ack latency samples", &|g| {
            g.ack_latency_ms.map_or(0, |s| s.count).to_string()
        })?;
        row(f, "ack latency p50 ms", &|g| {
            ms(&g.ack_latency_ms, |s| s.p50)
        })?;
        row(f, "ack latency p99 ms", &|g| {
            ms(&g.ack_latency_ms, |s| s.p99)
        })?;
        row(f, "ack latency p99.9 ms", &|g| {
            ms(&g.ack_latency_ms, |s| s.p999)
        })?;
        row(f, "ack latency max ms", &|g| {
            ms(&g.ack_latency_ms, |s| s.max)
        })?;
        row(f, "recv KiB/bot/s", &|g| {
            format!("{:.2}", g.bytes_per_bot_s / 1024.0)
        })?;
        row(f, "recv msgs/bot/s", &|g| {
            format!("{:.2}", g.messages_per_bot_s)
        })?;
        row(f, "decode errors", &|g| g.counts.decode_errors.to_string())?;
        row(f, "checksum mismatches", &|g| {
            g.counts.checksum_mismatches.to_string()
        })?;
        row(f, "disconnects", &|g| g.counts.disconnects.to_string())?;
        row(f, "churn leaves", &|g| g.counts.churn_leaves.to_string())?;
        row(f, "resumes", &|g| g.counts.resumes.to_string())?;
        row(f, "resume misses", &|g| g.counts.resume_misses.to_string())?;
        row(f, "resume p50 ms", &|g| ms(&g.resume_ms, |s| s.p50))?;
        row(f, "resume p99 ms", &|g| ms(&g.resume_ms, |s| s.p99))?;
        row(f, "redirects", &|g| g.counts.redirects.to_string())?;
        row(f, "drain rejoins", &|g| g.counts.drain_rejoins.to_string())?;
        row(f, "rejoin p50 ms", &|g| ms(&g.rejoin_ms, |s| s.p50))?;
        row(f, "rejoin p99 ms", &|g| ms(&g.rejoin_ms, |s| s.p99))?;
        row(f, "rejoin max ms", &|g| ms(&g.rejoin_ms, |s| s.max))?;
        row(f, "hand-off gap p50 ms", &|g| {
            ms(&g.handoff_gap_ms, |s| s.p50)
        })?;
        row(f, "hand-off gap p99 ms", &|g| {
            ms(&g.handoff_gap_ms, |s| s.p99)
        })?;
        row(f, "hand-off gap max ms", &|g| {
            ms(&g.handoff_gap_ms, |s| s.max)
        })?;
        writeln!(f)?;
        writeln!(
            f,
            "disconnects by reason:    {}",
            reasons(&self.all.disconnects_by_reason)
        )?;
        writeln!(
            f,
            "connect errors by reason: {}",
            reasons(&self.all.connect_error_reasons)
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<14}{:>7}{:>8}{:>11}{:>9}{:>10}{:>11}{:>9}{:>12}",
            "behaviour",
            "bots",
            "conns",
            "snapshots",
            "missed",
            "missed %",
            "gap conns",
            "non-inc",
            "ack p99 ms"
        )?;
        for (name, g) in &self.behaviours {
            writeln!(
                f,
                "{:<14}{:>7}{:>8}{:>11}{:>9}{:>10.3}{:>11}{:>9}{:>12}",
                name,
                g.bots,
                g.counts.connections,
                g.counts.snapshots,
                g.counts.missed_ticks,
                g.missed_tick_fraction * 100.0,
                g.counts.connections_with_gaps,
                g.counts.non_increasing_ticks,
                ms(&g.ack_latency_ms, |s| s.p99)
            )?;
        }
        writeln!(f)?;
        let p = &self.process;
        match (p.cpu_user_s, p.cpu_sys_s, p.cpu_percent) {
            (Some(u), Some(s), Some(pct)) => writeln!(
                f,
                "process cpu: {u:.2} s user + {s:.2} s sys = {pct:.1}% of one core"
            )?,
            _ => writeln!(f, "process cpu: unavailable")?,
        }
        writeln!(
            f,
            "process rss: start {}, loaded {}, peak {}, final {}, per bot {}",
            mib(p.rss_start_kib),
            mib(p.rss_loaded_kib),
            mib(p.rss_peak_kib),
            mib(p.rss_final_kib),
            p.rss_per_bot_kib
                .map_or_else(|| "?".to_owned(), |k| format!("{k:.1} KiB"))
        )
    }
}
