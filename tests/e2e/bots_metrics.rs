//! The bots' own `/metrics` (`tickroom-bots --metrics-addr`): while a swarm
//! plays against a real server, its exporter serves the input-to-ack,
//! inter-arrival, frame-age and connect histograms and the frame, input and
//! byte counters; once the swarm ends, the exported totals equal the
//! report's. Counts only.

use std::time::Duration;

use tickroom_bots::{
    Placement, SwarmConfig,
    exporter::{self, BotMetrics},
    prom::Scrape,
};

use crate::util::{poll_until, start, test_config};

async fn scrape(addr: std::net::SocketAddr) -> Scrape {
    let r = tickroom_bots::http::request(addr, "GET", "/metrics", &[], bytes::Bytes::new())
        .await
        .expect("the bots' /metrics answers");
    assert_eq!(r.status, 200);
    Scrape::parse(&String::from_utf8_lossy(&r.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_export_what_they_measure_and_the_totals_match_the_report() {
    let server = start(test_config()).await;
    let metrics = BotMetrics::new();
    let at = exporter::start("127.0.0.1:0".parse().expect("addr"), metrics.clone())
        .await
        .expect("the exporter binds");
    let config = SwarmConfig {
        url: format!("http://{}", server.local_addr()),
        placement: Placement::Rooms {
            rooms: 1,
            per_room: 6,
        },
        ramp_per_sec: 500.0,
        duration: None,
        metrics: Some(metrics),
        seed: 3,
        ..SwarmConfig::default()
    };
    // Runs until the exporter shows frames, acknowledged inputs and a full
    // set of histograms (each bot flushes about once a second).
    let live = async move {
        poll_until(
            "the bots' /metrics to show frames, acks and every histogram",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || async move {
                let m = scrape(at).await;
                let seen = [
                    "tickroom_bots_snapshots_total",
                    "tickroom_bots_inputs_acked_total",
                    "tickroom_bots_ack_latency_seconds_count",
                    "tickroom_bots_interarrival_seconds_count",
                    "tickroom_bots_frame_age_seconds_count",
                    "tickroom_bots_connect_seconds_count",
                ]
                .map(|s| (s, m.get(s)));
                if seen.iter().all(|(_, v)| *v > 0.0) && m.get("tickroom_bots_connected") == 6.0 {
                    Ok(())
                } else {
                    Err(format!(
                        "{seen:?}, connected {}",
                        m.get("tickroom_bots_connected")
                    ))
                }
            },
        )
        .await;
    };
    let report = tickroom_bots::run(config, live)
        .await
        .expect("the swarm runs");
    let m = scrape(at).await;
    let c = &report.all.counts;
    for (series, want) in [
        ("tickroom_bots_snapshots_total", c.snapshots),
        ("tickroom_bots_inputs_sent_total", c.inputs_sent),
        ("tickroom_bots_inputs_acked_total", c.inputs_acked),
        ("tickroom_bots_bytes_received_total", c.bytes_received),
        ("tickroom_bots_missed_ticks_total", c.missed_ticks),
        (
            "tickroom_bots_checksum_mismatches_total",
            c.checksum_mismatches,
        ),
    ] {
        assert_eq!(
            m.get(series),
            want as f64,
            "{series} against the report:\n{report}"
        );
    }
    assert_eq!(
        m.get("tickroom_bots_connect_seconds_count"),
        c.connections as f64,
        "one connect sample per connection"
    );
    server.shutdown().await;
}
