//! The pieces `tickroom-bench --nodes N` needs beyond one server: a private
//! `redis-server` for the fleet's membership and room claims (started once
//! per run on a free loopback port, no persistence, stopped by pid at the end
//! or on drop), and the wait until every node's `GET /cluster` lists the
//! whole fleet.

use std::{
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tickroom_bots::http;

/// How long Redis may take to answer PING after it was started.
const REDIS_READY: Duration = Duration::from_secs(10);
/// How long the nodes may take to see each other in `GET /cluster`.
const MEMBERSHIP_READY: Duration = Duration::from_secs(30);
/// Limit for one request while waiting.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A `redis-server` child on `127.0.0.1`, stopped (SIGTERM, then SIGKILL)
/// by pid on drop; its scratch directory is removed then.
pub struct RedisProcess {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisProcess {
    /// Starts `bin` on a free loopback port (pinned with `taskset -c cpus`
    /// when given), logging to `log`, and waits (bounded) until it answers
    /// PING.
    pub async fn start(bin: &Path, cpus: Option<&str>, log: &Path) -> anyhow::Result<RedisProcess> {
        if which(bin).is_none() {
            bail!(
                "`{}` not found on PATH: --nodes > 1 needs a Redis server for the fleet \
                 (`apt-get install redis-server`, or pass --redis-server <path>)",
                bin.display()
            );
        }
        let dir = std::env::temp_dir().join(format!("tickroom-bench-redis-{}", std::process::id()));
        // Redis cannot bind port 0 and report it, so take a free port from the
        // kernel and hand it over; the short race is retried below.
        let mut last_err = None;
        for _ in 0..3 {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating Redis's scratch directory {}", dir.display()))?;
            let port = free_port()?;
            let log_file = std::fs::File::create(log)?;
            let mut cmd = match cpus {
                Some(cpus) => {
                    let mut c = Command::new("taskset");
                    c.arg("-c").arg(cpus).arg(bin);
                    c
                }
                None => Command::new(bin),
            };
            cmd.arg("--port")
                .arg(port.to_string())
                .args(["--bind", "127.0.0.1"])
                .args(["--save", ""])
                .args(["--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .args(["--daemonize", "no"])
                .stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file);
            let child = cmd
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let mut redis = RedisProcess {
                child: Some(child),
                port,
                dir: dir.clone(),
            };
            match redis.wait_ready().await {
                Ok(()) => return Ok(redis),
                Err(e) => {
                    redis.stop();
                    last_err = Some(e);
                }
            }
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        Err(last_err
            .unwrap_or_else(|| anyhow::anyhow!("redis-server did not start"))
            .context(format!("redis-server's log ({}):\n{text}", log.display())))
    }

    /// The URL the nodes are given (`redis://127.0.0.1:PORT/`).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The child's pid (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + REDIS_READY;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("redis-server exited at start ({status})");
            }
            if let Ok(Ok(true)) = tokio::time::timeout(REQUEST_TIMEOUT, ping(addr)).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("redis-server on {addr} did not answer PING within {REDIS_READY:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, up to 5 s, then SIGKILL; removes the scratch directory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut exited = false;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !exited {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The full path of `bin` if it is a path that exists or a name on `PATH`.
fn which(bin: &Path) -> Option<PathBuf> {
    if bin.components().count() > 1 {
        return bin.exists().then(|| bin.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(bin))
        .find(|p| p.is_file())
}

/// A loopback port nothing listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `PING` in Redis's inline protocol; `true` on `+PONG`.
async fn ping(addr: SocketAddr) -> std::io::Result<bool> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"PING\r\n").await?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).await?;
    Ok(buf[..n].starts_with(b"+PONG"))
}

/// The part of `GET /cluster` the harness reads.
#[derive(Debug, Deserialize)]
struct ClusterInfo {
    members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
struct Member {
    id: String,
    state: String,
}

/// Waits (bounded) until `GET /cluster` on every node lists exactly the
/// `ids`, all `up`.
pub async fn wait_for_members(addrs: &[SocketAddr], ids: &[String]) -> anyhow::Result<()> {
    let deadline = Instant::now() + MEMBERSHIP_READY;
    let mut want = ids.to_vec();
    want.sort_unstable();
    loop {
        let mut last = String::new();
        let mut all = true;
        for &addr in addrs {
            match members_of(addr).await {
                Ok(seen) if seen == want => {}
                Ok(seen) => {
                    all = false;
                    last = format!("{addr} lists {seen:?}");
                }
                Err(e) => {
                    all = false;
                    last = format!("{addr}: {e:#}");
                }
            }
        }
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the nodes did not all list {want:?} in GET /cluster within {MEMBERSHIP_READY:?} (last: {last})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The sorted ids of the `up` members a node lists.
async fn members_of(addr: SocketAddr) -> anyhow::Result<Vec<String>> {
    let r = tokio::time::timeout(REQUEST_TIMEOUT, http::get(addr, "/cluster")).await??;
    anyhow::ensure!(r.status == 200, "GET /cluster answered {}", r.status);
    let info: ClusterInfo = serde_json::from_slice(&r.body).context("GET /cluster body")?;
    let mut ids: Vec<String> = info
        .members
        .into_iter()
        .filter(|m| m.state == "up")
        .map(|m| m.id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}
