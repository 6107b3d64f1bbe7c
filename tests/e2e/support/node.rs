//! One cluster node: the real `tickroom` binary as a child process, on
//! `127.0.0.1:0` with `--node-id`, `--redis`, `--redis-prefix` and a short
//! `--cluster-lease`. Its address comes from its "tickroom listening addr=…"
//! log line; its stderr is drained into a buffer for failure messages (the
//! tail is printed when a test panics with the node alive). It can be killed
//! with SIGKILL ([`Node::kill9`]) or asked to drain with SIGTERM
//! ([`Node::sigterm`]); it is killed on drop.
//!
//! The binary is the one cargo builds next to this test binary
//! (`target/<profile>/tickroom`), brought up to date once per run with
//! `cargo build -p tickroom-cli --bin tickroom` (a no-op under
//! `cargo test --workspace`, which built it already), or `$TICKROOM_BIN`.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::util::run_with_limit;

/// How long a node has to log its listening line (a debug build on a busy machine).
pub const START_LIMIT: Duration = Duration::from_secs(30);

/// Lines of a node's log kept for failure messages (the newest).
const LOG_LINES: usize = 2000;

/// Bound on building the binary when it is out of date (only a hang trips it).
const BUILD_LIMIT: Duration = Duration::from_secs(1800);

/// The `tickroom` binary to run, built (once per process) if out of date.
pub fn tickroom_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(find_or_build).clone()
}

fn find_or_build() -> PathBuf {
    if let Some(bin) = std::env::var_os("TICKROOM_BIN") {
        return PathBuf::from(bin);
    }
    // This test binary is `<target>/<profile>/deps/e2e-…`.
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let bin = profile_dir.join("tickroom");
    match std::env::var_os("CARGO") {
        Some(cargo) => {
            let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => "dev",
                Some(other) => other,
            };
            let target = profile_dir.parent().expect("<target> above <profile>");
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-p", "tickroom-cli", "--bin", "tickroom"])
                .args(["--profile", profile])
                .env("CARGO_TARGET_DIR", target)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            let started = Instant::now();
            let (code, _, err, timed_out) = run_with_limit(cmd, BUILD_LIMIT);
            assert!(
                code == Some(0) && !timed_out,
                "`cargo build -p tickroom-cli --bin tickroom` failed (exit {code:?}, \
                 timed out: {timed_out}):\n{err}"
            );
            eprintln!(
                "cluster: tickroom binary up to date in {:.1?}: {}",
                started.elapsed(),
                bin.display()
            );
        }
        None => eprintln!(
            "cluster: not run by cargo ($CARGO unset): using {} as it is",
            bin.display()
        ),
    }
    assert!(
        bin.is_file(),
        "no tickroom binary at {} (build it with `cargo build -p tickroom-cli`, or set TICKROOM_BIN)",
        bin.display()
    );
    bin
}

/// What starting a node takes beyond the defaults.
#[derive(Debug, Clone)]
pub struct NodeArgs {
    pub id: String,
    pub redis_url: String,
    pub prefix: String,
    /// `--cluster-lease`, e.g. `3s`.
    pub lease: String,
    /// More flags, appended as they are.
    pub extra: Vec<String>,
    /// The loopback port to listen on (0: any free one); a restarted node
    /// keeps its port so clients holding its URL reach it again.
    pub port: u16,
}

/// A running `tickroom` node; killed on drop.
#[derive(Debug)]
pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    started: Instant,
}

impl Node {
    /// Starts a node and waits (bounded) for its listening line.
    pub async fn start(args: &NodeArgs) -> Node {
        let mut cmd = Command::new(tickroom_bin());
        cmd.env_clear()
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .args(["--bind", &format!("127.0.0.1:{}", args.port)])
            .args(["--workers", "1"])
            .args(["--node-id", &args.id])
            .args(["--redis", &args.redis_url])
            .args(["--redis-prefix", &args.prefix])
            .args(["--cluster-lease", &args.lease])
            .args(&args.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start tickroom node {}: {e}", args.id));
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::channel();
        let lines = Arc::clone(&log);
        // Reads stderr to the end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = tickroom_bots::process::listening_addr(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
                let mut lines = lines.lock().expect("node log lock");
                if lines.len() >= LOG_LINES {
                    lines.drain(..LOG_LINES / 2);
                }
                lines.push(line);
            }
        });
        let mut node = Node {
            id: args.id.clone(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            log,
            started,
        };
        node.addr = match tokio::time::timeout(START_LIMIT, rx).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => panic!(
                "node {} ended its log without a listening line (exit: {:?}):\n{}",
                node.id,
                node.child.try_wait(),
                node.log()
            ),
            Err(_) => panic!(
                "node {} logged no listening line within {START_LIMIT:?}:\n{}",
                node.id,
                node.log()
            ),
        };
        node
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything kept of its log.
    pub fn log(&self) -> String {
        self.log.lock().expect("node log lock").join("\n")
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let lines = self.log.lock().expect("node log lock");
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// How long since it was started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// `kill -9`: the process dies at once, its connections just drop.
    /// Waits for it to be gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (the node drains, then exits).
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{name} {} failed: {status}",
            self.pid()
        );
    }

    /// Waits (bounded by `limit`) for the process to exit; panics with its
    /// log if it did not.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the node") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not exit within {limit:?}:\n{}",
                self.id,
                self.log_tail(200)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- node {} ({}) log tail ----\n{}\n---- end of node {} ----",
                self.id,
                self.addr,
                self.log_tail(80),
                self.id
            );
        }
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
