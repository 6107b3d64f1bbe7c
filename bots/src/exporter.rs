//! The swarm's own Prometheus metrics (`tickroom-bots --metrics-addr`): the
//! same measurements the report prints (input-to-ack latency, frame
//! inter-arrival and age, connect time as histograms; snapshots, missed
//! ticks, bytes, inputs, errors as counters; bots connected), so a load test
//! can be watched live beside the server in one dashboard. Each bot's
//! buffered samples are recorded when it flushes them (about once a
//! second), through a recorder of its own (no global state), and served at
//! `GET /metrics` by [`serve`]. No per-bot or per-room label.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn,
};
use hyper_util::rt::TokioIo;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::stats::Pending;

/// Bucket bounds for the latency histograms, seconds (1 ms … 1 s).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0,
];

/// The swarm's metrics; cheap to share (`Arc`).
pub struct BotMetrics {
    handle: PrometheusHandle,
    ack: Histogram,
    interarrival: Histogram,
    frame_age: Histogram,
    connect: Histogram,
    snapshots: Counter,
    missed_ticks: Counter,
    bytes: Counter,
    inputs_sent: Counter,
    inputs_acked: Counter,
    connect_errors: Counter,
    disconnects: Counter,
    checksum_mismatches: Counter,
    connected: Gauge,
    connected_now: AtomicUsize,
}

impl std::fmt::Debug for BotMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotMetrics { .. }")
    }
}

impl BotMetrics {
    /// A fresh recorder with every series registered.
    pub fn new() -> Arc<BotMetrics> {
        let names = [
            "tickroom_bots_ack_latency_seconds",
            "tickroom_bots_interarrival_seconds",
            "tickroom_bots_frame_age_seconds",
            "tickroom_bots_connect_seconds",
        ];
        let builder = names.iter().fold(PrometheusBuilder::new(), |b, name| {
            b.set_buckets_for_metric(Matcher::Full((*name).to_owned()), LATENCY_BUCKETS)
                .expect("bucket list is a non-empty constant")
        });
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let meta = Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));
        let hist = |name: &'static str, help: &'static str| {
            recorder.describe_histogram(
                KeyName::from_const_str(name),
                Some(Unit::Seconds),
                SharedString::const_str(help),
            );
            recorder.register_histogram(&Key::from_static_name(name), &meta)
        };
        let counter = |name: &'static str, help: &'static str| {
            recorder.describe_counter(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
            recorder.register_counter(&Key::from_static_name(name), &meta)
        };
        let connected_name = "tickroom_bots_connected";
        recorder.describe_gauge(
            KeyName::from_const_str(connected_name),
            None,
            SharedString::const_str("Bots past Welcome now."),
        );
        Arc::new(BotMetrics {
            ack: hist(
                names[0],
                "Input sent to the first frame acknowledging it (slow readers excluded).",
            ),
            interarrival: hist(names[1], "Time between two frames on one connection."),
            frame_age: hist(
                names[2],
                "How much later than its connection's freshest frame a frame arrived, on the tick grid.",
            ),
            connect: hist(names[3], "TCP connect to Welcome."),
            snapshots: counter(
                "tickroom_bots_snapshots_total",
                "Frames (snapshots and deltas) received.",
            ),
            missed_ticks: counter(
                "tickroom_bots_missed_ticks_total",
                "Ticks skipped in the frame sequences.",
            ),
            bytes: counter(
                "tickroom_bots_bytes_received_total",
                "WebSocket payload bytes received.",
            ),
            inputs_sent: counter("tickroom_bots_inputs_sent_total", "Inputs sent."),
            inputs_acked: counter(
                "tickroom_bots_inputs_acked_total",
                "Inputs acknowledged by a frame.",
            ),
            connect_errors: counter(
                "tickroom_bots_connect_errors_total",
                "Connect attempts that failed.",
            ),
            disconnects: counter(
                "tickroom_bots_disconnects_total",
                "Connections the server or network ended.",
            ),
            checksum_mismatches: counter(
                "tickroom_bots_checksum_mismatches_total",
                "States whose rebuilt frame did not match their checksum (must stay 0).",
            ),
            connected: recorder.register_gauge(&Key::from_static_name(connected_name), &meta),
            connected_now: AtomicUsize::new(0),
            handle,
        })
    }

    /// Records a bot's buffered measurements (before the buffer is emptied).
    pub(crate) fn record(&self, p: &Pending, slow_reader: bool) {
        let secs = |h: &Histogram, samples: &[u32]| {
            for &us in samples {
                h.record(f64::from(us) / 1e6);
            }
        };
        if !slow_reader {
            secs(&self.ack, &p.latency_us);
        }
        secs(&self.interarrival, &p.interarrival_us);
        secs(&self.frame_age, &p.frame_age_us);
        secs(&self.connect, &p.connect_us);
        let c = &p.c;
        self.snapshots.increment(c.snapshots);
        self.missed_ticks.increment(c.missed_ticks);
        self.bytes.increment(c.bytes_received);
        self.inputs_sent.increment(c.inputs_sent);
        self.inputs_acked.increment(c.inputs_acked);
        self.connect_errors.increment(c.connect_errors);
        self.disconnects.increment(p.disconnects.len() as u64);
        self.checksum_mismatches.increment(c.checksum_mismatches);
    }

    /// Sets the bots-connected gauge.
    pub(crate) fn set_connected(&self, n: usize) {
        self.connected_now.store(n, Ordering::Relaxed);
        self.connected.set(n as f64);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, metrics: Arc<BotMetrics>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let m = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let m = Arc::clone(&m);
                async move {
                    if req.uri().path() == "/metrics" {
                        Response::builder()
                            .header("content-type", "text/plain; version=0.0.4")
                            .body(Full::new(Bytes::from(m.render())))
                    } else {
                        Response::builder()
                            .status(StatusCode::NOT_FOUND)
                            .body(Full::new(Bytes::from_static(b"only /metrics here\n")))
                    }
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// Binds `addr` and serves the swarm's metrics there in a task; returns the
/// bound address.
pub async fn start(addr: SocketAddr, metrics: Arc<BotMetrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener, metrics));
    Ok(bound)
}
