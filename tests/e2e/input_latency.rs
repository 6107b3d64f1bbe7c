//! Input latency as the server measures it (`/metrics`): every input a
//! client sends is counted once in `tickroom_input_queue_delay_seconds`
//! (receipt → the room's queue accepted it) and once in
//! `tickroom_input_apply_delay_seconds` (receipt → the start of the step
//! that applied it), in the documented buckets, and no input is applied
//! before it was queued. Counts and order only: no latency figure is
//! asserted here (that is the benchmark's job).

use tickroom_bots::prom::Scrape;

use crate::util::{Client, http_get, start, test_config};

/// The documented bucket bounds, seconds.
const BUCKETS: [&str; 11] = [
    "5e-5", "0.0001", "0.00025", "0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1",
];

async fn scrape(addr: std::net::SocketAddr) -> (String, Scrape) {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    let scrape = Scrape::parse(&body);
    (body, scrape)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_input_is_measured_once_from_receipt_to_queued_and_to_applied() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut c = Client::join(addr, "latency", "ada").await;
    let mut last = 0;
    for i in 0..40 {
        last = c.input([100, (i * 5) as i8]).await;
        if i % 4 == 0 {
            c.snapshot().await;
        }
    }
    // Once the last input is acknowledged, every one was queued and applied.
    c.wait_acked(last).await;
    let (body, m) = scrape(addr).await;
    let received = m.get("tickroom_inputs_received_total");
    assert_eq!(received, 40.0, "{body}");
    for name in [
        "tickroom_input_queue_delay_seconds",
        "tickroom_input_apply_delay_seconds",
    ] {
        assert_eq!(
            m.get(&format!("{name}_count")),
            40.0,
            "{name}: one sample per input\n{body}"
        );
        let bounds: Vec<f64> = m.buckets(name).into_iter().map(|(le, _)| le).collect();
        let want: Vec<f64> = BUCKETS
            .iter()
            .map(|b| b.parse().expect("bound"))
            .chain([f64::INFINITY])
            .collect();
        assert_eq!(bounds, want, "{name}: the documented buckets");
    }
    // Per input, applied comes after queued: so do their sums.
    let queued = m.get("tickroom_input_queue_delay_seconds_sum");
    let applied = m.get("tickroom_input_apply_delay_seconds_sum");
    assert!(
        queued > 0.0 && applied >= queued,
        "queued sum {queued}, applied sum {applied}"
    );
    server.shutdown().await;
}
