//! The server processes a level runs and what the bench reads of them: a
//! `tickroom` child ([`ServerProcess`]: started pinned with the bench's
//! flags, stopped by pid), its listening address and health, `/metrics`
//! scrapes and `/proc` CPU and RSS over a window ([`sample_window`]), and a
//! level's sample per node slot ([`LevelSample`], whose [`Span`]s let a
//! rolling restart add up the processes that held a slot). Below the
//! harness and `rolling.rs`, which both use it.

use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use tickroom_bots::{http, process, prom::Scrape};

use crate::config::BenchConfig;

/// A process the window sampler watches: its `/metrics` (if it has one)
/// and its `/proc` CPU and RSS.
pub struct Target {
    pub addr: Option<SocketAddr>,
    pub pid: u32,
}

/// What the sampler saw of one [`Target`].
struct ProcessWindow {
    /// Scrapes at the start and end of the window (`None` without an address).
    m0: Option<Result<Scrape>>,
    m1: Option<Result<Scrape>>,
    /// CPU use over the window (100 = one core).
    cpu_percent: Option<f64>,
    /// RSS at the end of the window, MiB.
    rss_mib: Option<f64>,
}

/// The measured window: one [`ProcessWindow`] per target, in order, and
/// the bots' own CPU.
pub struct WindowSample {
    procs: Vec<ProcessWindow>,
    bots_cpu: Option<f64>,
    secs: f64,
}

/// One process's part of a node's window: its `/metrics` at the part's
/// start (an empty scrape for a process started inside the window: its
/// counters began at zero) and at its end.
pub struct Span {
    /// Scrape at the start.
    pub start: Scrape,
    /// Scrape at the end (the window's, or just before the process's SIGTERM).
    pub end: Scrape,
}

/// What the window saw of one node slot.
pub struct NodeWindow {
    /// One span per process that held the slot in the window, in order.
    pub spans: Vec<Span>,
    /// CPU of those processes over the window, summed (100 = one core).
    pub cpu_percent: Option<f64>,
    /// RSS of the slot's last process at the end of the window, MiB.
    pub rss_mib: Option<f64>,
}

/// A level's measured window, whichever way it was sampled.
pub struct LevelSample {
    /// Per node, in order.
    pub nodes: Vec<NodeWindow>,
    /// The fleet's `redis-server` CPU (100 = one core).
    pub redis_cpu: Option<f64>,
    /// This process's CPU (the bots).
    pub bots_cpu: Option<f64>,
    /// Length of the window, s.
    pub secs: f64,
}

impl LevelSample {
    /// The first `nodes` targets of a fixed-pid window are the nodes, the
    /// next (if any) Redis; a failed scrape fails the level.
    pub fn from_window(sample: WindowSample, nodes: usize) -> Result<LevelSample> {
        let mut procs = sample.procs.into_iter();
        let mut out = Vec::with_capacity(nodes);
        for p in procs.by_ref().take(nodes) {
            let (start, end) = (p.m0.context("no scrape")??, p.m1.context("no scrape")??);
            out.push(NodeWindow {
                spans: vec![Span { start, end }],
                cpu_percent: p.cpu_percent,
                rss_mib: p.rss_mib,
            });
        }
        Ok(LevelSample {
            nodes: out,
            redis_cpu: procs.next().and_then(|p| p.cpu_percent),
            bots_cpu: sample.bots_cpu,
            secs: sample.secs,
        })
    }
}

/// Waits `after`, then scrapes and reads `/proc` for every target (and this
/// process) at the start and the end of `window`.
pub async fn sample_window(targets: &[Target], after: Duration, window: Duration) -> WindowSample {
    async fn scrapes(targets: &[Target]) -> Vec<Option<Result<Scrape>>> {
        let mut out = Vec::with_capacity(targets.len());
        for t in targets {
            out.push(match t.addr {
                Some(addr) => Some(scrape(addr).await),
                None => None,
            });
        }
        out
    }
    let cpu_of = |targets: &[Target]| -> Vec<Option<process::CpuTimes>> {
        targets
            .iter()
            .map(|t| process::cpu_times_of(t.pid))
            .collect()
    };
    tokio::time::sleep(after).await;
    let t0 = Instant::now();
    let m0 = scrapes(targets).await;
    let (s0, b0) = (cpu_of(targets), process::cpu_times());
    tokio::time::sleep(window).await;
    let m1 = scrapes(targets).await;
    let (s1, b1) = (cpu_of(targets), process::cpu_times());
    let secs = t0.elapsed().as_secs_f64();
    let pct = |a: Option<process::CpuTimes>, b: Option<process::CpuTimes>| {
        a.zip(b)
            .map(|(a, b)| ((b.user_s + b.sys_s) - (a.user_s + a.sys_s)) / secs * 100.0)
    };
    let procs = m0
        .into_iter()
        .zip(m1)
        .zip(s0.into_iter().zip(s1))
        .zip(targets)
        .map(|(((m0, m1), (a, b)), t)| ProcessWindow {
            m0,
            m1,
            cpu_percent: pct(a, b),
            rss_mib: rss_mib(t.pid),
        })
        .collect();
    WindowSample {
        procs,
        bots_cpu: pct(b0, b1),
        secs,
    }
}

/// Resident memory of `pid`, MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    process::memory_of(pid).map(|m| m.rss_kib as f64 / 1024.0)
}

/// Stops every server: SIGTERM to all first, so they drain at once, then
/// waits for each.
pub fn stop_all(servers: &mut [ServerProcess]) {
    for s in servers.iter_mut() {
        s.terminate();
    }
    for s in servers.iter_mut() {
        s.stop();
    }
}

/// The servers' `RUST_LOG`: warnings, and the one info line that says where
/// each listens.
pub const LOG_FILTER: &str = "warn,tickroom_server::server=info";

/// The child server process; stopped with SIGTERM (then SIGKILL) on drop.
pub struct ServerProcess {
    child: Option<Child>,
    terminated: bool,
}

impl ServerProcess {
    /// Starts the server on `bind` (`127.0.0.1:0` lets it pick the port)
    /// with the bench's flags, then `extra`, logging to `log` at `log_filter`.
    pub fn start(
        config: &BenchConfig,
        log: &Path,
        extra: &[String],
        bind: &str,
        log_filter: &str,
    ) -> Result<ServerProcess> {
        let log = std::fs::File::create(log)?;
        let mut cmd = match &config.server_cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&config.server_bin);
                c
            }
            None => Command::new(&config.server_bin),
        };
        cmd.arg("--bind")
            .arg(bind)
            .arg("--workers")
            .arg(config.server_workers.to_string())
            .arg("--room-capacity")
            .arg(config.per_room.to_string())
            .args(&config.server_args)
            .args(extra)
            .env("RUST_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", config.server_bin.display()))?;
        Ok(ServerProcess {
            child: Some(child),
            terminated: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Its exit status once it has exited (reaping it), `None` while it runs.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => child.try_wait(),
            None => Err(std::io::Error::other(
                "the server process was already stopped",
            )),
        }
    }

    /// Sends SIGTERM (once) without waiting.
    pub fn terminate(&mut self) {
        if let Some(child) = &self.child
            && !self.terminated
        {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            self.terminated = true;
        }
    }

    /// SIGTERM, up to 10 s for the drain, then SIGKILL.
    pub fn stop(&mut self) {
        self.terminate();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The address the server logged as listening on, read from its log file
/// (bounded: a server that never says fails the level).
pub async fn listening_addr_in(log: &Path) -> Result<SocketAddr> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = text.lines().find_map(process::listening_addr) {
            return Ok(addr);
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the server logged no listening address within 20 s; its log ({}):\n{text}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Limit for one request to the server under test.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn wait_ready(addr: SocketAddr) -> Result<()> {
    for _ in 0..200 {
        if let Ok(Ok(r)) = tokio::time::timeout(HTTP_TIMEOUT, http::get(addr, "/healthz")).await
            && r.status == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    anyhow::bail!("server at {addr} did not become healthy")
}

pub async fn scrape(addr: SocketAddr) -> Result<Scrape> {
    let r = tokio::time::timeout(HTTP_TIMEOUT, http::get(addr, "/metrics")).await??;
    anyhow::ensure!(r.status == 200, "/metrics answered {}", r.status);
    Ok(Scrape::parse(&r.text()))
}
