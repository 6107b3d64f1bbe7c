//! The run itself: resolve the server (each entry of a `--url` list) once, spawn the bots at the ramp rate,
//! show progress, stop on the deadline or the shutdown future, wait for the
//! bots to close, and merge their measurements into a [`Report`].

use std::{
    future::Future,
    sync::{Arc, PoisonError, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio::{sync::watch, task::JoinSet, time};

use crate::{
    BotPlan, Error, GroupReport, ProcessReport, Report, SwarmConfig,
    bot::{Ctx, Entry, Shared, run_bot},
    dns::resolve,
    process,
    progress::{ProgressLine, ProgressWriter},
    stats::{Counters, KindTotals, Summary, new_histogram},
    tls::Tls,
    url,
};

/// How long one `POST /rooms` of [`create_rooms`] may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Creates every room of the run through the room API with `room_config`
/// (entries taken in turn; a cluster places each room where it belongs), so
/// the bots join rooms of that config rather than the game's defaults.
async fn create_rooms(
    config: &SwarmConfig,
    entries: &[Entry],
    room_config: &serde_json::Value,
    tls: &Tls,
) -> Result<(), Error> {
    for (r, size) in config.placement.room_sizes().into_iter().enumerate() {
        let entry = &entries[r % entries.len()];
        let id = format!("{}-{r}", config.room_prefix);
        let body = serde_json::json!({
            "id": id,
            "game": config.game,
            "config": room_config,
            "capacity": size.max(1),
        });
        let secure = entry.target.secure;
        let tls = secure.then_some((tls, entry.target.host.as_str()));
        let path = entry.target.http_path("/rooms");
        let request = crate::http::request_over(
            entry.addr,
            tls,
            "POST",
            &path,
            &[("content-type", "application/json")],
            body.to_string(),
        );
        let response = time::timeout(CREATE_TIMEOUT, request)
            .await
            .map_err(|_| Error::InvalidConfig(format!("POST {path} for room {id}: timed out")))??;
        if response.status != 201 {
            return Err(Error::InvalidConfig(format!(
                "--room-config: creating room {id} got HTTP {}: {}",
                response.status,
                response.text()
            )));
        }
    }
    Ok(())
}

/// Bots per shard of the shared measurements (more shards, less contention;
/// fewer, less memory).
const BOTS_PER_SHARD: usize = 64;
const MAX_SHARDS: usize = 64;
/// Extra time, beyond the close timeout, the bots get to finish after a stop.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Runs a swarm until `config.duration` elapses, `shutdown` completes, or
/// (without reconnecting) every bot's connection has ended; then returns the
/// merged figures.
///
/// Fails only before any bot starts: invalid configuration (a behaviour the
/// game does not have among them), a URL that is not a server, a host that
/// does not resolve (any entry of a `url` list). Everything that goes wrong
/// for a bot afterwards is counted in the report (a server that does not
/// host the game: connect errors `http-400-unknown_game`; a room of another
/// game: `close-1008` or `wrong-game`).
pub async fn run(config: SwarmConfig, shutdown: impl Future<Output = ()>) -> Result<Report, Error> {
    config.validate()?;
    let mut entries = Vec::new();
    let tls = Tls::new(config.tls_ca.as_deref())?;
    for target in url::parse_list(&config.url)? {
        let addr = resolve(&target).await?[0];
        entries.push(Entry { target, addr });
    }
    let endpoint = entries
        .iter()
        .map(|e| e.target.endpoint())
        .collect::<Vec<_>>()
        .join(",");
    let kinds = config.kinds()?;
    let plans = config.plan()?;
    let bots = plans.len();
    let mut bots_per_kind = vec![0usize; kinds.len()];
    for p in &plans {
        bots_per_kind[p.kind.index()] += 1;
    }
    let rooms = config.placement.room_sizes().len();
    tracing::info!(bots, rooms, game = %config.game, %endpoint, entries = entries.len(), "starting swarm");
    if let Some(room_config) = &config.room_config {
        create_rooms(&config, &entries, room_config, &tls).await?;
    }

    let shards = bots.div_ceil(BOTS_PER_SHARD).clamp(1, MAX_SHARDS);
    let shared = Arc::new(Shared::new(shards, config.progress, kinds.len()));
    let ctx = Arc::new(Ctx {
        shared: shared.clone(),
        entries,
        game: config.game.clone(),
        input_hz: config.input_hz,
        reconnect: config.reconnect,
        connect_timeout: config.connect_timeout,
        close_timeout: config.close_timeout,
        slow_read_interval: config.slow_read_interval,
        tls,
        metrics: config.metrics.clone(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    let cpu_start = process::cpu_times();
    let rss_start = process::memory().map(|m| m.rss_kib);
    let started = Instant::now();
    let mut spawner = tokio::spawn(spawn_all(plans, ctx, stop_rx, config.ramp_per_sec));

    tokio::pin!(shutdown);
    let deadline = time::sleep(config.duration.unwrap_or(Duration::MAX / 4));
    tokio::pin!(deadline);
    let mut ticker = time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut progress = config
        .progress
        .then(|| Progress::new(ProgressWriter::new()));
    let mut spawner_done = false;
    let measure = time::sleep(config.measure_after.unwrap_or(Duration::MAX / 4));
    tokio::pin!(measure);
    let mut window_start: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = &mut measure, if config.measure_after.is_some() && window_start.is_none() => {
                for shard in shared.shards.iter() {
                    let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
                    for kind in shard.kinds.iter_mut() {
                        kind.start_window();
                    }
                }
                window_start = Some(Instant::now());
            }
            _ = &mut deadline, if config.duration.is_some() => break,
            _ = &mut spawner => {
                spawner_done = true;
                break;
            }
            _ = ticker.tick() => {
                if let Some(p) = &mut progress {
                    p.show(&shared, bots, started.elapsed());
                }
            }
        }
    }
    let rss_loaded = process::memory().map(|m| m.rss_kib);
    let duration = window_start.unwrap_or(started).elapsed();
    let _ = stop_tx.send(true);
    let stopping = Instant::now();
    if !spawner_done
        && time::timeout(config.close_timeout + STOP_GRACE, &mut spawner)
            .await
            .is_err()
    {
        tracing::warn!("some bots did not stop in time; their last second of figures is lost");
        spawner.abort();
        let _ = spawner.await;
    }
    tracing::debug!(took = ?stopping.elapsed(), "bots stopped");
    if let Some(p) = &mut progress {
        p.writer.finish();
    }
    let wall = started.elapsed();
    let cpu_end = process::cpu_times();
    let mem_end = process::memory();

    let mut per_kind: Vec<KindTotals> = kinds.iter().map(|_| KindTotals::default()).collect();
    for shard in shared.shards.iter() {
        let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        for (total, k) in per_kind.iter_mut().zip(&shard.kinds) {
            total.merge(k);
        }
    }
    let mut all = KindTotals::default();
    let mut normal = KindTotals::default();
    let mut slow = KindTotals::default();
    let mut behaviours = std::collections::BTreeMap::new();
    let (mut normal_bots, mut slow_bots) = (0, 0);
    for &kind in &kinds {
        let totals = &per_kind[kind.index()];
        let n = bots_per_kind[kind.index()];
        all.merge(totals);
        if kind.is_slow_reader() {
            slow.merge(totals);
            slow_bots += n;
        } else {
            normal.merge(totals);
            normal_bots += n;
        }
        if n > 0 {
            behaviours.insert(kind.name().to_owned(), GroupReport::from_totals(n, totals));
        }
    }

    let mut proc_report = ProcessReport {
        rss_start_kib: rss_start,
        rss_loaded_kib: rss_loaded,
        // VmHWM lags VmRSS slightly (per-thread counters are folded in lazily).
        rss_peak_kib: mem_end.map(|m| m.peak_kib.max(rss_loaded.unwrap_or(0))),
        rss_final_kib: mem_end.map(|m| m.rss_kib),
        rss_per_bot_kib: rss_start
            .zip(rss_loaded)
            .map(|(a, b)| b.saturating_sub(a) as f64 / bots as f64),
        ..ProcessReport::default()
    };
    if let (Some(a), Some(b)) = (cpu_start, cpu_end) {
        let (user, sys) = (b.user_s - a.user_s, b.sys_s - a.sys_s);
        proc_report.cpu_user_s = Some(user);
        proc_report.cpu_sys_s = Some(sys);
        proc_report.cpu_percent = Some((user + sys) / wall.as_secs_f64().max(1e-9) * 100.0);
    }

    Ok(Report {
        endpoint,
        game: config.game.clone(),
        seed: config.seed,
        bots,
        rooms,
        input_hz: config.input_hz,
        mix: config.mix.or_default_for(&config.game).to_string(),
        duration_s: duration.as_secs_f64(),
        all: GroupReport::from_totals(bots, &all),
        normal: GroupReport::from_totals(normal_bots, &normal),
        slow_readers: GroupReport::from_totals(slow_bots, &slow),
        behaviours,
        process: proc_report,
    })
}

/// Starts the bots at `ramp` per second, then waits for all of them.
async fn spawn_all(plans: Vec<BotPlan>, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>, ramp: f64) {
    let mut set = JoinSet::new();
    let start = time::Instant::now();
    for (i, plan) in plans.into_iter().enumerate() {
        let at = start + Duration::from_secs_f64(i as f64 / ramp);
        tokio::select! {
            _ = time::sleep_until(at) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        set.spawn(run_bot(plan, ctx.clone(), stop.clone()));
    }
    while set.join_next().await.is_some() {}
}

/// Collects the live figures from the shards once a second.
struct Progress {
    writer: ProgressWriter,
    last: Instant,
    errors: u64,
}

impl Progress {
    fn new(writer: ProgressWriter) -> Self {
        Progress {
            writer,
            last: Instant::now(),
            errors: 0,
        }
    }

    fn show(&mut self, shared: &Shared, bots: usize, elapsed: Duration) {
        let mut c = Counters::default();
        let mut latency = new_histogram();
        for shard in shared.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(live) = &mut shard.live {
                c.add(&live.c);
                live.c = Counters::default();
                let _ = latency.add(&live.latency);
                live.latency.reset();
            }
        }
        let now = Instant::now();
        let secs = now.duration_since(self.last).as_secs_f64().max(1e-3);
        self.last = now;
        self.errors += c.connect_errors + c.disconnects;
        let latency_ms = Summary::from_histogram(&latency).map(|s| (s.p50, s.p99));
        self.writer.show(&ProgressLine {
            elapsed,
            connected: shared.connected.load(Ordering::Relaxed),
            bots,
            snapshots_per_s: c.snapshots as f64 / secs,
            inputs_per_s: c.inputs_sent as f64 / secs,
            latency_ms,
            missed_ticks: c.missed_ticks,
            errors: self.errors,
        });
    }
}
