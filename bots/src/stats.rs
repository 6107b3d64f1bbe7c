//! Measuring without contending: each bot measures into its own small
//! [`Pending`] buffer (counters and raw samples, no histograms), and about
//! once a second moves it into one of a few shared [`Shard`]s under a mutex
//! held for microseconds. Shards own the HDR histograms, one set per
//! behaviour, and are merged once at the end of the run.
//!
//! Also here: the pure per-connection trackers, [`TickTracker`] (gaps in the
//! frame tick sequence) and [`AckRing`] (input-to-acknowledgement latency,
//! from each state's `ack_seq`).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::BehaviourKind;

/// Highest value the histograms keep, in microseconds (one minute); larger
/// samples are clamped to it.
const HIST_MAX_US: u64 = 60_000_000;

/// A histogram of microseconds, 1 µs to 60 s, three significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("static histogram bounds are valid")
}

/// What one frame's tick says about the sequence so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TickStep {
    /// Ticks skipped between the previous newest tick and this one.
    pub missed: u64,
    /// 1 if this tick is not newer than the newest seen (duplicate or reordered).
    pub non_increasing: u64,
}

/// Follows one connection's frame ticks. The first frame sets the
/// baseline; after it, a tick `k` above the newest counts `k - 1` missed
/// ticks, and a tick not above it counts as non-increasing (and is not a gap).
#[derive(Debug, Clone, Default)]
pub(crate) struct TickTracker {
    newest: Option<u32>,
}

impl TickTracker {
    pub(crate) fn observe(&mut self, tick: u32) -> TickStep {
        match self.newest {
            None => {
                self.newest = Some(tick);
                TickStep::default()
            }
            Some(newest) if tick > newest => {
                self.newest = Some(tick);
                TickStep {
                    missed: u64::from(tick - newest - 1),
                    non_increasing: 0,
                }
            }
            Some(_) => TickStep {
                missed: 0,
                non_increasing: 1,
            },
        }
    }

    /// The newest tick seen (the `ack_tick` of the next input).
    pub(crate) fn newest(&self) -> Option<u32> {
        self.newest
    }
}

/// Send times of the most recent inputs, to measure how long each waited for
/// a state acknowledging it. Slots are indexed by `seq % RING`; an input
/// not acknowledged before its slot is reused is simply not measured.
#[derive(Debug, Clone)]
pub(crate) struct AckRing {
    slots: Box<[(u32, u64)]>,
    acked: u32,
}

/// Inputs remembered per connection (over 4 s at 30 Hz).
pub(crate) const ACK_RING: usize = 128;

impl AckRing {
    pub(crate) fn new() -> Self {
        AckRing {
            slots: vec![(0, 0); ACK_RING].into_boxed_slice(),
            acked: 0,
        }
    }

    /// A ring for a connection whose inputs continue after `seq` (sent on an
    /// earlier connection): acknowledgements up to `seq` are not this one's.
    pub(crate) fn after(seq: u32) -> Self {
        AckRing {
            acked: seq,
            ..AckRing::new()
        }
    }

    /// Input `seq` (≥ 1) was sent at `t_us`.
    pub(crate) fn sent(&mut self, seq: u32, t_us: u64) {
        self.slots[seq as usize % ACK_RING] = (seq, t_us);
    }

    /// A state received at `now_us` reports `last_input_seq` (its
    /// `ack_seq`); calls
    /// `record(latency_us)` once for every input it newly acknowledges that
    /// is still remembered. Returns how many inputs it acknowledged.
    pub(crate) fn ack(
        &mut self,
        last_input_seq: u32,
        now_us: u64,
        mut record: impl FnMut(u64),
    ) -> u32 {
        if last_input_seq <= self.acked {
            return 0;
        }
        let from = (self.acked + 1).max(last_input_seq.saturating_sub(ACK_RING as u32 - 1));
        for seq in from..=last_input_seq {
            let (s, t) = self.slots[seq as usize % ACK_RING];
            if s == seq {
                record(now_us.saturating_sub(t));
            }
        }
        let newly = last_input_seq - self.acked;
        self.acked = last_input_seq;
        newly
    }
}

/// How stale each frame of one connection is when it arrives, without a
/// shared clock: a frame of tick `k` arriving at `t` has the offset
/// `t - k × period`; the smallest offset seen on the connection is its
/// freshest frame (network floor), and a frame's **age** is its offset above
/// that floor. A reader whose kernel buffers hold old frames sees large ages;
/// one whose stale frames were dropped in the server's mailbox does not.
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameAge {
    period_us: u64,
    floor: Option<i64>,
}

impl FrameAge {
    /// For a room ticking at `tick_rate_hz`.
    pub(crate) fn new(tick_rate_hz: u16) -> Self {
        FrameAge {
            period_us: 1_000_000 / u64::from(tick_rate_hz.max(1)),
            floor: None,
        }
    }

    /// A frame of `tick` arrived at `now_us`: its age in microseconds.
    pub(crate) fn observe(&mut self, tick: u32, now_us: u64) -> u64 {
        let offset = now_us as i64 - (u64::from(tick) * self.period_us) as i64;
        let floor = self.floor.map_or(offset, |f| f.min(offset));
        self.floor = Some(floor);
        (offset - floor) as u64
    }
}

macro_rules! counters {
    ($($(#[$m:meta])* $field:ident,)*) => {
        /// Plain event counts; summed across bots, shards and behaviours.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Counters {
            $($(#[$m])* pub $field: u64,)*
        }

        impl Counters {
            pub(crate) fn add(&mut self, other: &Counters) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

counters! {
    /// Connections that reached Welcome.
    connections,
    /// Connect attempts that failed (TCP, handshake, no Welcome, timeout).
    connect_errors,
    /// Frames received (states that decoded; the name predates protocol v6).
    snapshots,
    /// Ticks skipped in the frame sequences.
    missed_ticks,
    /// Snapshots whose tick was not above the newest seen.
    non_increasing_ticks,
    /// Connections that saw at least one missed tick.
    connections_with_gaps,
    /// Connections that saw at least one non-increasing tick.
    connections_with_non_increasing,
    /// Inputs sent.
    inputs_sent,
    /// Inputs acknowledged by a state's `ack_seq` (measured or not).
    inputs_acked,
    /// WebSocket payload bytes received.
    bytes_received,
    /// WebSocket data messages received.
    messages_received,
    /// Messages that did not decode, or states the replica refused.
    decode_errors,
    /// States whose rebuilt frame did not hash to their checksum (must stay 0).
    checksum_mismatches,
    /// `ServerMsg::Error` messages received.
    server_errors,
    /// Connections ended by the server or the network (not by the bot).
    disconnects,
    /// Connections a churning bot dropped on purpose (no Leave: a network blip).
    churn_leaves,
    /// Reconnects that took back the same player with a resume token.
    resumes,
    /// Reconnects with a resume token that got a fresh player instead.
    resume_misses,
    /// Microseconds spent connected (after Welcome), summed over connections.
    connected_us,
    /// Closes 4001 `node=<id>` followed to the owner node's URL (over the
    /// whole run, like connections, even with a measurement window).
    redirects,
    /// Reconnects through the entry URL after a close 1001 `draining...`.
    drain_rejoins,
}

/// Reason keys for disconnects and connect errors are short strings: a close
/// code (`"1008"`) or `"eof"`, `"error"`, `"timeout"`, `"tcp"`, ...
pub(crate) type Reasons = BTreeMap<String, u64>;

/// One bot's measurements since its last flush. No histograms: raw samples
/// in microseconds, a few dozen per second.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub c: Counters,
    pub connect_us: Vec<u32>,
    /// Time from starting a reconnect to a Welcome that resumed the player.
    pub resume_us: Vec<u32>,
    /// Time from the end of a connection the server or network ended (lost,
    /// drained, moved) to the next Welcome.
    pub rejoin_us: Vec<u32>,
    /// From the last frame before a 4001 `node=<id>` move (a hand-off) to
    /// the first frame after it.
    pub handoff_gap_us: Vec<u32>,
    pub interarrival_us: Vec<u32>,
    /// Per frame: how much later than its connection's freshest frame it
    /// arrived, on the tick grid (see [`FrameAge`]).
    pub frame_age_us: Vec<u32>,
    pub latency_us: Vec<u32>,
    pub disconnects: Vec<String>,
    pub connect_errors: Vec<String>,
}

impl Pending {
    pub(crate) fn new() -> Self {
        Pending {
            interarrival_us: Vec::with_capacity(32),
            frame_age_us: Vec::with_capacity(32),
            latency_us: Vec::with_capacity(64),
            ..Pending::default()
        }
    }

    fn clear(&mut self) {
        self.c = Counters::default();
        self.connect_us.clear();
        self.resume_us.clear();
        self.rejoin_us.clear();
        self.handoff_gap_us.clear();
        self.interarrival_us.clear();
        self.frame_age_us.clear();
        self.latency_us.clear();
        self.disconnects.clear();
        self.connect_errors.clear();
    }
}

/// Microseconds as `u32` for the pending buffers (saturating at ~71 min).
pub(crate) fn us32(us: u64) -> u32 {
    u32::try_from(us).unwrap_or(u32::MAX)
}

/// Everything measured for one behaviour (in one shard, or merged).
#[derive(Debug, Default)]
pub(crate) struct KindTotals {
    pub c: Counters,
    pub connect: Option<Histogram<u64>>,
    pub resume: Option<Histogram<u64>>,
    pub rejoin: Option<Histogram<u64>>,
    pub handoff_gap: Option<Histogram<u64>>,
    pub interarrival: Option<Histogram<u64>>,
    pub frame_age: Option<Histogram<u64>>,
    pub latency: Option<Histogram<u64>>,
    pub disconnects: Reasons,
    pub connect_errors: Reasons,
}

fn record_all(hist: &mut Option<Histogram<u64>>, samples: &[u32]) {
    if samples.is_empty() {
        return;
    }
    let h = hist.get_or_insert_with(new_histogram);
    for &s in samples {
        h.saturating_record(u64::from(s).max(1));
    }
}

fn merge_hist(into: &mut Option<Histogram<u64>>, from: &Option<Histogram<u64>>) {
    if let Some(from) = from {
        let h = into.get_or_insert_with(new_histogram);
        // Same bounds everywhere, so adding cannot fail.
        let _ = h.add(from);
    }
}

fn merge_reasons(into: &mut Reasons, from: &Reasons) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

impl KindTotals {
    fn absorb(&mut self, p: &Pending) {
        self.c.add(&p.c);
        record_all(&mut self.connect, &p.connect_us);
        record_all(&mut self.resume, &p.resume_us);
        record_all(&mut self.rejoin, &p.rejoin_us);
        record_all(&mut self.handoff_gap, &p.handoff_gap_us);
        record_all(&mut self.interarrival, &p.interarrival_us);
        record_all(&mut self.frame_age, &p.frame_age_us);
        record_all(&mut self.latency, &p.latency_us);
        for r in &p.disconnects {
            *self.disconnects.entry(r.clone()).or_default() += 1;
        }
        for r in &p.connect_errors {
            *self.connect_errors.entry(r.clone()).or_default() += 1;
        }
    }

    /// Starts a measurement window: drops the steady-state figures gathered so
    /// far (counters other than connections, connect errors and redirects,
    /// which count how the bots got in over the whole run; snapshot
    /// inter-arrival, input-to-ack latency).
    pub(crate) fn start_window(&mut self) {
        let connections = self.c.connections;
        let connect_errors = self.c.connect_errors;
        let redirects = self.c.redirects;
        self.c = Counters::default();
        self.c.connections = connections;
        self.c.connect_errors = connect_errors;
        self.c.redirects = redirects;
        self.interarrival = None;
        self.frame_age = None;
        self.latency = None;
    }

    /// Adds another total (from another shard or behaviour) into this one.
    pub(crate) fn merge(&mut self, other: &KindTotals) {
        self.c.add(&other.c);
        merge_hist(&mut self.connect, &other.connect);
        merge_hist(&mut self.resume, &other.resume);
        merge_hist(&mut self.rejoin, &other.rejoin);
        merge_hist(&mut self.handoff_gap, &other.handoff_gap);
        merge_hist(&mut self.interarrival, &other.interarrival);
        merge_hist(&mut self.frame_age, &other.frame_age);
        merge_hist(&mut self.latency, &other.latency);
        merge_reasons(&mut self.disconnects, &other.disconnects);
        merge_reasons(&mut self.connect_errors, &other.connect_errors);
    }
}

/// Figures since the progress display last looked (not slow readers' latency:
/// the live percentiles are the normal bots').
#[derive(Debug)]
pub(crate) struct Live {
    pub c: Counters,
    pub latency: Histogram<u64>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            c: Counters::default(),
            latency: new_histogram(),
        }
    }
}

/// The shared half of the measurements for a group of bots.
#[derive(Debug)]
pub(crate) struct Shard {
    /// One per behaviour of the run, by [`BehaviourKind::index`].
    pub kinds: Vec<KindTotals>,
    pub live: Option<Live>,
}

impl Shard {
    /// A shard for a run of `kinds` behaviours.
    pub(crate) fn new(live: bool, kinds: usize) -> Self {
        Shard {
            kinds: (0..kinds).map(|_| KindTotals::default()).collect(),
            live: live.then(Live::default),
        }
    }

    /// Moves a bot's pending measurements in and empties the buffer.
    pub(crate) fn absorb(&mut self, kind: BehaviourKind, p: &mut Pending) {
        self.kinds[kind.index()].absorb(p);
        if let Some(live) = &mut self.live {
            live.c.add(&p.c);
            if !kind.is_slow_reader() {
                for &s in &p.latency_us {
                    live.latency.saturating_record(u64::from(s).max(1));
                }
            }
        }
        p.clear();
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub count: u64,
    /// Smallest sample.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
}

impl Summary {
    /// The summary of a histogram of microseconds; `None` when it is empty.
    pub(crate) fn from_histogram(h: &Histogram<u64>) -> Option<Summary> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Some(Summary {
            count: h.len(),
            min: ms(h.min()),
            mean: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        })
    }

    pub(crate) fn from_option(h: &Option<Histogram<u64>>) -> Option<Summary> {
        h.as_ref().and_then(Summary::from_histogram)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_age_is_the_delay_above_the_connections_freshest_frame() {
        let mut age = FrameAge::new(20);
        assert_eq!(age.observe(10, 1_000_000), 0);
        assert_eq!(age.observe(11, 1_050_000), 0, "on the grid");
        assert_eq!(age.observe(12, 1_130_000), 30_000, "30 ms late");
        assert_eq!(
            age.observe(20, 1_400_000),
            0,
            "a fresher frame lowers the floor"
        );
        assert_eq!(age.observe(21, 1_600_000), 150_000);
    }

    #[test]
    fn first_snapshot_sets_the_baseline() {
        let mut t = TickTracker::default();
        assert_eq!(t.newest(), None);
        assert_eq!(t.observe(1000), TickStep::default());
        assert_eq!(t.newest(), Some(1000));
    }

    #[test]
    fn counts_gaps_duplicates_and_reordering() {
        let mut t = TickTracker::default();
        let ticks = [5, 6, 7, 10, 10, 9, 11, 20, 21];
        let steps: Vec<TickStep> = ticks.iter().map(|&k| t.observe(k)).collect();
        let missed: Vec<u64> = steps.iter().map(|s| s.missed).collect();
        let dup: Vec<u64> = steps.iter().map(|s| s.non_increasing).collect();
        assert_eq!(missed, [0, 0, 0, 2, 0, 0, 0, 8, 0]);
        assert_eq!(dup, [0, 0, 0, 0, 1, 1, 0, 0, 0]);
        assert_eq!(t.newest(), Some(21));
    }

    #[test]
    fn consecutive_ticks_have_no_gaps_up_to_the_top() {
        let mut t = TickTracker::default();
        let total: u64 = (u32::MAX - 100..=u32::MAX)
            .map(|k| t.observe(k).missed)
            .sum();
        assert_eq!(total, 0);
        assert_eq!(t.observe(0).non_increasing, 1);
    }

    #[test]
    fn one_latency_per_acknowledged_input() {
        let mut ring = AckRing::new();
        for seq in 1..=5 {
            ring.sent(seq, u64::from(seq) * 1000);
        }
        let mut got = Vec::new();
        // Snapshot at 10 ms acknowledges inputs 1..=3.
        assert_eq!(ring.ack(3, 10_000, |l| got.push(l)), 3);
        assert_eq!(got, [9000, 8000, 7000]);
        // The same or an older acknowledgement measures nothing again.
        assert_eq!(ring.ack(3, 11_000, |l| got.push(l)), 0);
        assert_eq!(ring.ack(2, 11_000, |l| got.push(l)), 0);
        assert_eq!(ring.ack(5, 12_000, |l| got.push(l)), 2);
        assert_eq!(got, [9000, 8000, 7000, 8000, 7000]);
    }

    #[test]
    fn inputs_overwritten_in_the_ring_are_not_measured() {
        let mut ring = AckRing::new();
        let n = ACK_RING as u32 + 10;
        for seq in 1..=n {
            ring.sent(seq, u64::from(seq));
        }
        let mut got = 0;
        assert_eq!(ring.ack(n, 1_000_000, |_| got += 1), n);
        assert_eq!(got, ACK_RING);
        // An acknowledgement of an input never sent (a confused server) is ignored.
        let mut got = 0;
        ring.ack(n + 50, 2_000_000, |_| got += 1);
        assert_eq!(got, 0);
    }

    #[test]
    fn summary_percentiles_of_known_samples() {
        let mut h = new_histogram();
        for ms in 1..=1000u64 {
            h.record(ms * 1000).unwrap();
        }
        let s = Summary::from_histogram(&h).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 1e-9;
        assert_eq!(s.count, 1000);
        assert!(close(s.min, 1.0), "{s:?}");
        assert!(close(s.p50, 500.0), "{s:?}");
        assert!(close(s.p90, 900.0), "{s:?}");
        assert!(close(s.p99, 990.0), "{s:?}");
        assert!(close(s.p999, 999.0), "{s:?}");
        assert!(close(s.max, 1000.0), "{s:?}");
        assert!(close(s.mean, 500.5), "{s:?}");
        assert_eq!(Summary::from_histogram(&new_histogram()), None);
    }

    #[test]
    fn shards_merge_pending_buffers() {
        let kind = |name, i| crate::games::resolve("test-game", name, i).unwrap();
        let mut shard = Shard::new(true, 2);
        let mut p = Pending::new();
        p.c.snapshots = 3;
        p.latency_us.extend([1000, 2000]);
        p.disconnects.push("1008".into());
        shard.absorb(kind("slow-reader", 1), &mut p);
        assert!(p.latency_us.is_empty() && p.c == Counters::default());
        p.c.snapshots = 2;
        p.latency_us.push(3000);
        p.disconnects.push("1008".into());
        p.connect_errors.push("timeout".into());
        shard.absorb(kind("random", 0), &mut p);

        let mut all = KindTotals::default();
        for k in &shard.kinds {
            all.merge(k);
        }
        assert_eq!(all.c.snapshots, 5);
        assert_eq!(all.latency.as_ref().unwrap().len(), 3);
        assert_eq!(all.disconnects["1008"], 2);
        assert_eq!(all.connect_errors["timeout"], 1);
        // Live latency leaves slow readers out.
        let live = shard.live.as_ref().unwrap();
        assert_eq!(live.latency.len(), 1);
        assert_eq!(live.c.snapshots, 5);
    }
}
