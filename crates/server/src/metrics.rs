//! Every metric the server exports, grouped in one place.
//!
//! Each [`Server`](crate::Server) owns its own Prometheus recorder (no global
//! state, so several servers in one test process keep separate figures) and
//! registers handles up front: the hot paths increment pre-resolved atomics and
//! never look a metric up by name. No metric carries a per-room or per-player
//! label (cardinality); labels are small closed sets (drop reason, close code).

use std::sync::Arc;

use crate::bucket_histogram::BucketHistogram;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Bucket bounds for tick duration, in seconds (20 µs … 100 ms).
const TICK_BUCKETS: &[f64] = &[
    0.000_02, 0.000_05, 0.000_1, 0.000_2, 0.000_3, 0.000_5, 0.000_75, 0.001, 0.001_5, 0.002, 0.003,
    0.005, 0.007_5, 0.01, 0.025, 0.05, 0.1,
];

/// Bucket bounds for tick start lateness, in seconds (50 µs … 250 ms).
const LATENESS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/// Bucket bounds for the input-latency histograms, in seconds (50 µs … 100 ms).
const INPUT_DELAY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
];

/// Bucket bounds for encoded snapshot size, in bytes.
/// Room states (hand-offs, snapshots): 1 KiB to 4 MiB.
const ROOM_STATE_BYTES_BUCKETS: &[f64] = &[
    1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
];
/// Freeze to first frame across a hand-off: 10 ms to 10 s.
const HANDOFF_GAP_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const SNAPSHOT_BYTES_BUCKETS: &[f64] = &[
    64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0,
];

/// Close codes that get their own `code` label; anything else is "other".
const CLOSE_CODES: &[u16] = &[1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011, 1013];

/// Handles to every metric. Cheap to clone (each handle is an `Arc`).
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
    /// The histograms recorded once per input, rendered after the exporter's.
    per_input: Arc<[Arc<BucketHistogram>; 2]>,
    /// Wall time one room tick took (drain, step, encode, broadcast).
    pub tick_duration: Histogram,
    /// How late a room tick started against its absolute deadline.
    pub tick_lateness: Histogram,
    /// Room ticks run.
    pub ticks: Counter,
    /// Ticks that took longer than the tick period.
    pub ticks_overrun: Counter,
    /// Ticks skipped because a room fell more than the catch-up bound behind.
    pub ticks_skipped: Counter,
    /// Inputs accepted into a room's queue.
    pub inputs_received: Counter,
    /// Inputs dropped because the room's queue was full.
    pub inputs_dropped_queue_full: Counter,
    /// Inputs the room's game refused (values that do not fit its input, or
    /// refused by its validation).
    pub inputs_refused: Counter,
    /// Game events queued for connections.
    pub events: Counter,
    /// Connections closed because their undelivered events passed the bound.
    pub events_overflow: Counter,
    /// Ticks whose frame could not be built (a game past a frame limit).
    pub frame_errors: Counter,
    /// Interest management: entity pieces coded for players' views (each
    /// entity once per frame and baseline), and reuses of one by another view.
    pub view_pieces: Counter,
    pub view_pieces_reused: Counter,
    /// Snapshot frames written to sockets.
    pub snapshots_sent: Counter,
    /// Encoded snapshot sizes.
    pub snapshot_bytes: Histogram,
    /// Frames overwritten in a mailbox before they were sent.
    pub frames_dropped_stale: Counter,
    /// Frames discarded because the connection was closing.
    pub frames_dropped_closed: Counter,
    /// Frames not sent to a connection whose client had not acknowledged the
    /// last flow-control window of frames.
    pub frames_held_unacked: Counter,
    /// WebSocket payload bytes written.
    pub bytes_sent: Counter,
    /// WebSocket payload bytes read.
    pub bytes_received: Counter,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Bytes of one connection task's future (set once at start): the
    /// per-player state a regression would grow (issue 22).
    pub connection_task_bytes: Gauge,
    /// WebSocket connections accepted.
    pub connections_opened: Counter,
    closed: Arc<[(u16, Counter)]>,
    closed_other: Counter,
    /// Live rooms.
    pub rooms: Gauge,
    /// Players in rooms.
    pub players: Gauge,
    /// Cluster figures (zero on a single node).
    pub cluster: ClusterMetrics,
    /// Rooms and API access refusals (issue 13).
    pub room_limits: RoomLimitMetrics,
    // ----- HTTP limits (issue 13) -----
    /// Connections and upgrades refused by the HTTP layer's limits.
    pub refused: RefusedMetrics,
    // ----- liveness (issue 13) -----
    /// Joined connections closed with 1008 "idle timeout" (nothing received for `--idle-timeout`).
    pub connections_idle_closed: Counter,
    /// WebSocket pings sent to joined connections silent for half of `--idle-timeout`.
    pub idle_pings_sent: Counter,
    // ----- recording (issue 14) -----
    /// Room recordings (`--record-dir`).
    pub record: RecordMetrics,
    // ----- input latency (issue 15) -----
    /// Receipt → queued: from the reader taking an input off the socket to
    /// the room's queue accepting it.
    pub input_queue_delay: Histogram,
    /// Receipt → applied: to the start of the simulation step that applied it.
    pub input_apply_delay: Histogram,
}

/// What `--record-dir` recording counts.
#[derive(Clone)]
pub struct RecordMetrics {
    /// Recordings open now.
    pub active: Gauge,
    /// Recordings started.
    pub started: Counter,
    /// Ticks written.
    pub ticks: Counter,
    /// Bytes written.
    pub bytes: Counter,
    /// Recordings stopped because the writer's queue was full (the tick never waits).
    pub stopped_queue_full: Counter,
    /// Recordings ended at the per-file size cap.
    pub stopped_file_cap: Counter,
    /// Recordings ended because the directory cap left no room.
    pub stopped_dir_cap: Counter,
    /// Recordings ended by a write error.
    pub stopped_io_error: Counter,
    /// Old recordings removed to keep the directory under its cap.
    pub removed: Counter,
}

impl RecordMetrics {
    /// Handles that count nowhere.
    pub fn noop() -> RecordMetrics {
        RecordMetrics {
            active: Gauge::noop(),
            started: Counter::noop(),
            ticks: Counter::noop(),
            bytes: Counter::noop(),
            stopped_queue_full: Counter::noop(),
            stopped_file_cap: Counter::noop(),
            stopped_dir_cap: Counter::noop(),
            stopped_io_error: Counter::noop(),
            removed: Counter::noop(),
        }
    }
}

impl std::fmt::Debug for RecordMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordMetrics { .. }")
    }
}

/// What the room limits and the API token count (issue 13).
#[derive(Clone)]
pub struct RoomLimitMetrics {
    /// Rooms not started because the node runs `--max-rooms`.
    pub refused_max_rooms: Counter,
    /// Rooms not started because their creator's address is over `--room-creations-per-ip`.
    pub refused_creation_rate: Counter,
    /// Room API and operator requests refused for a missing or wrong token (401/403).
    pub api_unauthorized: Counter,
}

impl RoomLimitMetrics {
    /// Handles that count nowhere (a registry built without metrics).
    pub fn noop() -> RoomLimitMetrics {
        RoomLimitMetrics {
            refused_max_rooms: Counter::noop(),
            refused_creation_rate: Counter::noop(),
            api_unauthorized: Counter::noop(),
        }
    }
}

impl std::fmt::Debug for RoomLimitMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomLimitMetrics { .. }")
    }
}

/// `tickroom_refused_total{reason}`: what the HTTP layer turned away.
#[derive(Clone)]
pub struct RefusedMetrics {
    /// A request head not complete within `--header-read-timeout` (first request only).
    pub header_timeout: Counter,
    /// A request head over `--max-head-bytes` (answered 431).
    pub head_too_large: Counter,
    /// A TCP connection closed at accept: `--max-handshakes` in progress.
    pub handshakes_busy: Counter,
    /// A TCP connection closed at accept: its address already holds
    /// `--max-handshakes-per-ip` sockets still in their handshake.
    pub handshakes_per_ip: Counter,
    /// A socket still in its handshake closed so that a newcomer from a
    /// lighter address could have its slot (the heaviest address's oldest).
    pub handshake_shed: Counter,
    /// A WebSocket upgrade from an origin not allowed (403).
    pub origin: Counter,
    /// A WebSocket upgrade over `--max-connections` (503).
    pub node_connections: Counter,
    /// A WebSocket upgrade over `--max-connections-per-ip` (429).
    pub ip_connections: Counter,
    /// A TLS handshake that failed or did not finish within `--header-read-timeout`
    /// (built-in TLS only).
    pub tls_handshake: Counter,
}

impl std::fmt::Debug for RefusedMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefusedMetrics { .. }")
    }
}

/// The kinds of membership change, as `tickroom_cluster_membership_changes_total{kind}` labels
/// (`tickroom_cluster::directory::Change::kind`).
pub const MEMBERSHIP_CHANGE_KINDS: &[&str] = &[
    "joined",
    "updated",
    "draining",
    "undrained",
    "left",
    "expired",
    "claim_expired",
];

/// What the cluster layer counts.
#[derive(Clone)]
pub struct ClusterMetrics {
    /// Live members this node sees (itself included).
    pub members: Gauge,
    /// Rooms whose claim this node holds.
    pub rooms_owned: Gauge,
    /// 1 while the last Redis round trip succeeded, else 0.
    pub redis_up: Gauge,
    /// Claims this node failed to renew (another node holds the room now).
    pub claim_renew_failures: Counter,
    /// WebSocket joins refused because another node owns the room (4001).
    pub misrouted_joins: Counter,
    /// Failed Redis operations.
    pub redis_errors: Counter,
    /// Room API requests forwarded to the owning node.
    pub forwarded_requests: Counter,
    /// Peers that did not answer a forwarded request or a fleet-wide listing.
    pub peer_errors: Counter,
    /// Room hand-offs and snapshots (issue 25).
    pub handoff: HandoffMetrics,
    changes: Arc<[(&'static str, Counter)]>,
}

/// Why a hand-off failed (the `reason` label of
/// `tickroom_handoffs_failed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoffFailure {
    /// No other live node hosts the room's game.
    NoTarget,
    /// The room did not answer the freeze (it ended meanwhile).
    Freeze,
    /// The target refused the room or could not be reached in time.
    Refused,
}

impl HandoffFailure {
    const ALL: [HandoffFailure; 3] = [Self::NoTarget, Self::Freeze, Self::Refused];

    fn label(self) -> &'static str {
        match self {
            Self::NoTarget => "no_target",
            Self::Freeze => "freeze",
            Self::Refused => "refused",
        }
    }
}

/// Hand-offs of a draining node's rooms and crash-restore snapshots.
#[derive(Clone)]
pub struct HandoffMetrics {
    /// Hand-offs this node started (as the draining owner).
    pub started: Counter,
    /// Hand-offs that completed (the target took the room and its claim).
    pub completed: Counter,
    failed: Arc<[Counter]>,
    /// Size of each hand-off's room state.
    pub bytes: Histogram,
    /// Rooms this node took over from a draining node.
    pub adopted: Counter,
    /// From the freeze on the old owner to the first frame sent here.
    pub gap: Histogram,
    /// Inputs that reached a frozen room after its last tick (dropped; the
    /// clients resend what was not acknowledged).
    pub inputs_dropped: Counter,
    /// Room snapshots written to Redis (`--room-snapshots`).
    pub snapshots_written: Counter,
    /// Snapshots that could not be written (Redis down, too large).
    pub snapshot_errors: Counter,
    /// Size of each snapshot written.
    pub snapshot_bytes: Histogram,
    /// Rooms started here from a dead owner's snapshot.
    pub restored: Counter,
}

impl std::fmt::Debug for HandoffMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HandoffMetrics { .. }")
    }
}

impl HandoffMetrics {
    /// Counts one failed hand-off.
    pub fn failed(&self, why: HandoffFailure) {
        if let Some(c) = HandoffFailure::ALL
            .iter()
            .position(|&w| w == why)
            .and_then(|i| self.failed.get(i))
        {
            c.increment(1);
        }
    }
}

impl std::fmt::Debug for ClusterMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterMetrics { .. }")
    }
}

impl ClusterMetrics {
    /// Counts one membership change by its kind.
    pub fn membership_change(&self, kind: &str) {
        if let Some((_, c)) = self.changes.iter().find(|(k, _)| *k == kind) {
            c.increment(1);
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics { .. }")
    }
}

impl Metrics {
    /// A fresh recorder with every metric registered and described.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        let builder = [
            ("tickroom_tick_duration_seconds", TICK_BUCKETS),
            ("tickroom_tick_lateness_seconds", LATENESS_BUCKETS),
            ("tickroom_snapshot_bytes", SNAPSHOT_BYTES_BUCKETS),
            ("tickroom_handoff_bytes", ROOM_STATE_BYTES_BUCKETS),
            ("tickroom_room_snapshot_bytes", ROOM_STATE_BYTES_BUCKETS),
            ("tickroom_handoff_gap_seconds", HANDOFF_GAP_BUCKETS),
        ]
        .into_iter()
        .fold(builder, |b, (name, buckets)| {
            b.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                .expect("bucket lists are non-empty constants")
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let r = Reg(&recorder);

        let tick_duration = r.histogram(
            "tickroom_tick_duration_seconds",
            Unit::Seconds,
            "Wall time of one room tick: drain inputs, step, encode, broadcast.",
        );
        let tick_lateness = r.histogram(
            "tickroom_tick_lateness_seconds",
            Unit::Seconds,
            "How late a room tick started against its absolute deadline.",
        );
        let ticks = r.counter("tickroom_ticks_total", &[], "Room ticks run.");
        let ticks_overrun = r.counter(
            "tickroom_ticks_overrun_total",
            &[],
            "Room ticks that took longer than the tick period.",
        );
        let ticks_skipped = r.counter(
            "tickroom_ticks_skipped_total",
            &[],
            "Room ticks skipped because the room fell too far behind.",
        );
        let inputs_received = r.counter(
            "tickroom_inputs_received_total",
            &[],
            "Player inputs accepted into a room queue.",
        );
        let inputs_dropped_queue_full = r.counter(
            "tickroom_inputs_dropped_total",
            &[("reason", "queue_full")],
            "Player inputs dropped, by reason.",
        );
        let inputs_refused = r.counter(
            "tickroom_inputs_dropped_total",
            &[("reason", "refused")],
            "Player inputs dropped, by reason.",
        );
        let events = r.counter(
            "tickroom_events_total",
            &[],
            "Game events queued for connections.",
        );
        let events_overflow = r.counter(
            "tickroom_events_overflow_total",
            &[],
            "Connections closed because their undelivered game events passed the bound.",
        );
        let frame_errors = r.counter(
            "tickroom_frame_errors_total",
            &[],
            "Room ticks whose frame could not be built (a game past a frame limit).",
        );
        let view_pieces = r.counter(
            "tickroom_view_pieces_total",
            &[],
            "Interest management: entity pieces coded for players' views (once per entity, frame and baseline).",
        );
        let view_pieces_reused = r.counter(
            "tickroom_view_pieces_reused_total",
            &[],
            "Interest management: entity pieces a view reused instead of coding them again.",
        );
        let snapshots_sent = r.counter(
            "tickroom_snapshots_sent_total",
            &[],
            "Snapshot frames written to sockets.",
        );
        let snapshot_bytes = r.histogram(
            "tickroom_snapshot_bytes",
            Unit::Bytes,
            "Encoded size of one room snapshot.",
        );
        let frames_dropped_stale = r.counter(
            "tickroom_frames_dropped_total",
            &[("reason", "stale")],
            "Outbound frames dropped, by reason.",
        );
        let frames_dropped_closed = r.counter(
            "tickroom_frames_dropped_total",
            &[("reason", "closed")],
            "Outbound frames dropped, by reason.",
        );
        let frames_held_unacked = r.counter(
            "tickroom_frames_dropped_total",
            &[("reason", "unacked")],
            "Outbound frames dropped, by reason.",
        );
        let bytes_sent = r.counter(
            "tickroom_bytes_sent_total",
            &[],
            "WebSocket payload bytes written.",
        );
        let bytes_received = r.counter(
            "tickroom_bytes_received_total",
            &[],
            "WebSocket payload bytes read.",
        );
        let connections = r.gauge("tickroom_connections", "Open WebSocket connections.");
        let connection_task_bytes = r.gauge(
            "tickroom_connection_task_bytes",
            "Bytes of one WebSocket connection's task state (constant for a build): memory per player a regression would grow.",
        );
        let connections_opened = r.counter(
            "tickroom_connections_opened_total",
            &[],
            "WebSocket connections accepted.",
        );
        let closed: Arc<[(u16, Counter)]> = CLOSE_CODES
            .iter()
            .map(|&code| {
                let label = code.to_string();
                (
                    code,
                    r.counter_owned(
                        "tickroom_connections_closed_total",
                        vec![Label::new("code", label)],
                        "WebSocket connections closed, by close code.",
                    ),
                )
            })
            .collect();
        let closed_other = r.counter(
            "tickroom_connections_closed_total",
            &[("code", "other")],
            "WebSocket connections closed, by close code.",
        );
        let rooms = r.gauge("tickroom_rooms", "Live rooms.");
        let players = r.gauge("tickroom_players", "Players in rooms.");
        let cluster = ClusterMetrics {
            members: r.gauge(
                "tickroom_cluster_members",
                "Live cluster members this node sees, itself included.",
            ),
            rooms_owned: r.gauge(
                "tickroom_cluster_rooms_owned",
                "Rooms whose claim this node holds.",
            ),
            redis_up: r.gauge(
                "tickroom_cluster_redis_up",
                "1 while the last Redis round trip succeeded, else 0.",
            ),
            claim_renew_failures: r.counter(
                "tickroom_cluster_claim_renew_failures_total",
                &[],
                "Room claims this node failed to renew because another node holds the room.",
            ),
            misrouted_joins: r.counter(
                "tickroom_cluster_misrouted_joins_total",
                &[],
                "WebSocket joins refused with 4001 because another node owns the room.",
            ),
            redis_errors: r.counter(
                "tickroom_cluster_redis_errors_total",
                &[],
                "Failed Redis operations.",
            ),
            forwarded_requests: r.counter(
                "tickroom_cluster_forwarded_requests_total",
                &[],
                "Room API requests forwarded to the node that owns the room.",
            ),
            peer_errors: r.counter(
                "tickroom_cluster_peer_errors_total",
                &[],
                "Peers that did not answer a forwarded request or a fleet-wide listing.",
            ),
            handoff: HandoffMetrics {
                started: r.counter(
                    "tickroom_handoffs_started_total",
                    &[],
                    "Rooms this draining node began to hand to another node.",
                ),
                completed: r.counter(
                    "tickroom_handoffs_completed_total",
                    &[],
                    "Rooms handed to another node with their claim.",
                ),
                failed: HandoffFailure::ALL
                    .iter()
                    .map(|w| {
                        r.counter(
                            "tickroom_handoffs_failed_total",
                            &[("reason", w.label())],
                            "Hand-offs that failed, by reason (the room stays and drains as without hand-off).",
                        )
                    })
                    .collect(),
                bytes: r.histogram(
                    "tickroom_handoff_bytes",
                    Unit::Bytes,
                    "Size of a handed-off room's state.",
                ),
                adopted: r.counter(
                    "tickroom_handoffs_adopted_total",
                    &[],
                    "Rooms this node took over from a draining node.",
                ),
                gap: r.histogram(
                    "tickroom_handoff_gap_seconds",
                    Unit::Seconds,
                    "From a room's freeze on its old owner to its first frame on this node.",
                ),
                inputs_dropped: r.counter(
                    "tickroom_handoff_inputs_dropped_total",
                    &[],
                    "Inputs that reached a frozen room after its last tick (clients resend them).",
                ),
                snapshots_written: r.counter(
                    "tickroom_room_snapshots_written_total",
                    &[],
                    "Room snapshots written to Redis (--room-snapshots).",
                ),
                snapshot_errors: r.counter(
                    "tickroom_room_snapshot_errors_total",
                    &[],
                    "Room snapshots not written (Redis unreachable, or over the size bound).",
                ),
                snapshot_bytes: r.histogram(
                    "tickroom_room_snapshot_bytes",
                    Unit::Bytes,
                    "Size of a room snapshot written to Redis.",
                ),
                restored: r.counter(
                    "tickroom_rooms_restored_total",
                    &[],
                    "Rooms started from a dead owner's snapshot.",
                ),
            },
            changes: MEMBERSHIP_CHANGE_KINDS
                .iter()
                .map(|&kind| {
                    (
                        kind,
                        r.counter(
                            "tickroom_cluster_membership_changes_total",
                            &[("kind", kind)],
                            "Cluster membership changes seen, by kind.",
                        ),
                    )
                })
                .collect(),
        };
        // ----- rooms and API access (issue 13) -----
        let room_limits = RoomLimitMetrics {
            refused_max_rooms: r.counter(
                "tickroom_rooms_refused_total",
                &[("reason", "max_rooms")],
                "Rooms not started, by reason.",
            ),
            refused_creation_rate: r.counter(
                "tickroom_rooms_refused_total",
                &[("reason", "creation_rate")],
                "Rooms not started, by reason.",
            ),
            api_unauthorized: r.counter(
                "tickroom_api_unauthorized_total",
                &[],
                "API requests refused for a missing or wrong Bearer token.",
            ),
        };

        // ----- HTTP limits (issue 13) -----
        let refused_help =
            "Connections and WebSocket upgrades refused by the HTTP limits, by reason.";
        let refused_reason = |reason: &'static str| {
            r.counter(
                "tickroom_refused_total",
                &[("reason", reason)],
                refused_help,
            )
        };
        let refused = RefusedMetrics {
            header_timeout: refused_reason("header_timeout"),
            head_too_large: refused_reason("head_too_large"),
            handshakes_busy: refused_reason("handshakes_busy"),
            handshakes_per_ip: refused_reason("handshakes_per_ip"),
            handshake_shed: refused_reason("handshake_shed"),
            origin: refused_reason("origin"),
            node_connections: refused_reason("node_connections"),
            ip_connections: refused_reason("ip_connections"),
            tls_handshake: refused_reason("tls_handshake"),
        };
        // ----- liveness (issue 13) -----
        let connections_idle_closed = r.counter(
            "tickroom_connections_idle_closed_total",
            &[],
            "Joined connections closed with 1008 \"idle timeout\": nothing received for --idle-timeout.",
        );
        let idle_pings_sent = r.counter(
            "tickroom_idle_pings_sent_total",
            &[],
            "WebSocket pings sent to joined connections silent for half of --idle-timeout.",
        );
        // ----- recording (issue 14) -----
        let stopped = |reason: &'static str| {
            r.counter(
                "tickroom_recordings_stopped_total",
                &[("reason", reason)],
                "Room recordings ended early (queue_full: the writer fell behind; file_cap, dir_cap: size caps; io_error).",
            )
        };
        let record = RecordMetrics {
            active: r.gauge("tickroom_recordings_active", "Room recordings open now."),
            started: r.counter(
                "tickroom_recordings_started_total",
                &[],
                "Room recordings started (--record-dir).",
            ),
            ticks: r.counter(
                "tickroom_recorded_ticks_total",
                &[],
                "Room ticks written to recordings.",
            ),
            bytes: r.counter(
                "tickroom_recorded_bytes_total",
                &[],
                "Bytes written to recordings.",
            ),
            stopped_queue_full: stopped("queue_full"),
            stopped_file_cap: stopped("file_cap"),
            stopped_dir_cap: stopped("dir_cap"),
            stopped_io_error: stopped("io_error"),
            removed: r.counter(
                "tickroom_recordings_removed_total",
                &[],
                "Oldest recordings removed to keep --record-dir under --record-max-bytes.",
            ),
        };

        // ----- input latency (issue 15) -----
        // One sample per input: fixed atomic buckets, not the exporter's
        // raw-sample store (see crate::bucket_histogram).
        let per_input = [
            Arc::new(BucketHistogram::new(
                "tickroom_input_queue_delay_seconds",
                "Input receipt to queued: from the reader taking it off the socket to the room's queue accepting it (decode, validate, rate limit, channel).",
                INPUT_DELAY_BUCKETS,
            )),
            Arc::new(BucketHistogram::new(
                "tickroom_input_apply_delay_seconds",
                "Input receipt to applied: to the start of the simulation step that applied it.",
                INPUT_DELAY_BUCKETS,
            )),
        ];
        let input_queue_delay = Histogram::from_arc(Arc::clone(&per_input[0]));
        let input_apply_delay = Histogram::from_arc(Arc::clone(&per_input[1]));

        Metrics {
            handle,
            per_input: Arc::new(per_input),
            tick_duration,
            tick_lateness,
            ticks,
            ticks_overrun,
            ticks_skipped,
            inputs_received,
            inputs_dropped_queue_full,
            inputs_refused,
            events,
            events_overflow,
            frame_errors,
            view_pieces,
            view_pieces_reused,
            snapshots_sent,
            snapshot_bytes,
            frames_dropped_stale,
            frames_dropped_closed,
            frames_held_unacked,
            bytes_sent,
            bytes_received,
            connections,
            connection_task_bytes,
            connections_opened,
            closed,
            closed_other,
            rooms,
            players,
            cluster,
            room_limits,
            refused,
            connections_idle_closed,
            idle_pings_sent,
            record,
            input_queue_delay,
            input_apply_delay,
        }
    }

    /// Counts a closed connection under its close code.
    pub fn connection_closed(&self, code: u16) {
        match self.closed.iter().find(|(c, _)| *c == code) {
            Some((_, counter)) => counter.increment(1),
            None => self.closed_other.increment(1),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = self.handle.render();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        for h in self.per_input.iter() {
            h.render_into(&mut text);
        }
        text
    }

    /// Drains histogram samples into their buckets; run periodically so memory
    /// stays bounded when nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registration helper over one recorder.
struct Reg<'a>(&'a PrometheusRecorder);

impl Reg<'_> {
    fn meta() -> Metadata<'static> {
        Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
    }

    fn counter(
        &self,
        name: &'static str,
        labels: &[(&'static str, &'static str)],
        help: &'static str,
    ) -> Counter {
        let labels = labels
            .iter()
            .map(|&(k, v)| Label::from_static_parts(k, v))
            .collect();
        self.counter_owned(name, labels, help)
    }

    fn counter_owned(&self, name: &'static str, labels: Vec<Label>, help: &'static str) -> Counter {
        self.0.describe_counter(
            KeyName::from_const_str(name),
            None,
            SharedString::const_str(help),
        );
        self.0
            .register_counter(&Key::from_parts(name, labels), &Self::meta())
    }

    fn gauge(&self, name: &'static str, help: &'static str) -> Gauge {
        self.0.describe_gauge(
            KeyName::from_const_str(name),
            None,
            SharedString::const_str(help),
        );
        self.0
            .register_gauge(&Key::from_static_name(name), &Self::meta())
    }

    fn histogram(&self, name: &'static str, unit: Unit, help: &'static str) -> Histogram {
        self.0.describe_histogram(
            KeyName::from_const_str(name),
            Some(unit),
            SharedString::const_str(help),
        );
        self.0
            .register_histogram(&Key::from_static_name(name), &Self::meta())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_renders_with_its_labels() {
        let m = Metrics::new();
        m.ticks.increment(3);
        m.frames_dropped_stale.increment(2);
        m.connection_closed(1009);
        m.connection_closed(4999);
        m.tick_duration.record(0.0004);
        m.connections.set(5.0);
        m.idle_pings_sent.increment(2);
        m.connections_idle_closed.increment(1);
        m.input_queue_delay.record(0.0003);
        m.input_apply_delay.record(0.03);
        let text = m.render();
        for needle in [
            "tickroom_ticks_total 3",
            "tickroom_frames_dropped_total{reason=\"stale\"} 2",
            "tickroom_connections_closed_total{code=\"1009\"} 1",
            "tickroom_connections_closed_total{code=\"other\"} 1",
            "tickroom_tick_duration_seconds_bucket{le=\"0.0005\"} 1",
            "tickroom_connections 5",
            "tickroom_idle_pings_sent_total 2",
            "tickroom_connections_idle_closed_total 1",
            "tickroom_input_queue_delay_seconds_bucket{le=\"0.0005\"} 1",
            "tickroom_input_apply_delay_seconds_bucket{le=\"0.02\"} 0",
            "tickroom_input_apply_delay_seconds_bucket{le=\"0.05\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn two_servers_keep_separate_figures() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.ticks.increment(1);
        assert!(b.render().contains("tickroom_ticks_total 0"));
    }
}
