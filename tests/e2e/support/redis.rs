//! A throwaway `redis-server` for cluster tests: on a free `127.0.0.1` port,
//! no persistence (`--save "" --appendonly no`), its own temporary `--dir`,
//! in the foreground so it is stopped by pid. [`RedisServer::stop`] and
//! [`RedisServer::restart`] make "Redis goes away and comes back (empty) on
//! the same port".
//!
//! Every wait is bounded: the server must answer `PING` within
//! [`START_LIMIT`] of being started, or the start is retried on another port
//! (or, for a restart, on the same port) a few times, then it panics with what
//! redis-server printed.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::util::{capture_output, free_port, required_program, temp_dir};

/// How long a started redis-server has to answer `PING`.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// Starts tried before giving up (each on a fresh port, or the same port for a restart).
const ATTEMPTS: usize = 5;

/// Whether `redis-server` can be run here.
pub fn available() -> bool {
    crate::util::runs("redis-server")
}

/// `true` when a test that needs redis-server should run; `false` (after a
/// loud message) when it should be skipped. Under `CI=true` a missing
/// redis-server fails the test instead: CI must not pass by skipping.
pub fn required_by(test: &str) -> bool {
    required_program(
        test,
        "redis-server is",
        available(),
        "install it with `apt-get install -y redis-server` (scripts/test does, as root)",
    )
}

/// A running (or stopped) redis-server; killed and waited for on drop, its
/// directory removed.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    /// What the current process printed (stdout and stderr), for failure messages.
    log: Arc<Mutex<Vec<u8>>>,
}

/// Sends `PING` over raw RESP and reads the answer; `true` on `+PONG`.
pub fn ping(addr: SocketAddr) -> bool {
    let limit = Duration::from_millis(500);
    let Ok(mut tcp) = TcpStream::connect_timeout(&addr, limit) else {
        return false;
    };
    if tcp.set_read_timeout(Some(limit)).is_err() || tcp.set_write_timeout(Some(limit)).is_err() {
        return false;
    }
    if tcp.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    let mut got = 0;
    while got < answer.len() {
        match tcp.read(&mut answer[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    &answer[..got] == b"+PONG\r\n"
}

/// Sends one command over raw RESP and returns its reply as text: a simple
/// or bulk string as is, an integer as digits, a nil as `None`; an error
/// reply or a broken connection is `Err`.
pub fn command(addr: SocketAddr, args: &[&str]) -> Result<Option<String>, String> {
    let limit = Duration::from_secs(2);
    let mut tcp = TcpStream::connect_timeout(&addr, limit).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    tcp.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tcp.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("connection closed after {buf:?}"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let Some(line_end) = text.find("\r\n") else {
            continue;
        };
        let (kind, line) = (&text[..1], &text[1..line_end]);
        match kind {
            "+" | ":" => return Ok(Some(line.to_owned())),
            "-" => return Err(line.to_owned()),
            "$" if line == "-1" => return Ok(None),
            "$" => {
                let len: usize = line.parse().map_err(|_| format!("bad reply {text:?}"))?;
                let start = line_end + 2;
                if text.len() >= start + len {
                    return Ok(Some(text[start..start + len].to_owned()));
                }
            }
            _ => return Err(format!("unexpected reply {text:?}")),
        }
    }
}

impl RedisServer {
    /// Starts redis-server on a free port; panics (with its output) if no
    /// start answered `PING` after a few ports.
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: 0,
            dir: temp_dir("redis"),
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        for _ in 0..ATTEMPTS {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!(
            "redis-server did not answer PING in {ATTEMPTS} starts:\n{}",
            server.log()
        );
    }

    /// The port it listens on (the same across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The URL for `tickroom --redis`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Whether it answers `PING` now.
    pub fn ping(&self) -> bool {
        ping(self.addr())
    }

    /// What the current (or last) process printed.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().expect("redis log lock")).into_owned()
    }

    /// Kills the server (SIGKILL, by pid) and waits for it; nothing is saved.
    /// A no-op when it is not running.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops it if running, then starts it again, empty, on the same port;
    /// panics (with its output) if it does not answer `PING` after a few tries.
    pub fn restart(&mut self) {
        self.stop();
        for _ in 0..ATTEMPTS {
            if self.spawn() {
                return;
            }
            // The port may linger for a moment; try again shortly.
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "redis-server did not come back on port {} in {ATTEMPTS} starts:\n{}",
            self.port,
            self.log()
        );
    }

    /// Starts a process on `self.port` and waits until it answers `PING`:
    /// `true` then; `false` (the process killed) if it exited or stayed silent
    /// for [`START_LIMIT`].
    fn spawn(&mut self) -> bool {
        self.log.lock().expect("redis log lock").clear();
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run redis-server (is it installed?): {e}"));
        capture_output(&mut child, &self.log);
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if self.ping() {
                self.child = Some(child);
                return true;
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn redis_server_starts_answers_ping_stops_and_restarts_on_its_port() {
    if !required_by("redis_server_starts_answers_ping_stops_and_restarts_on_its_port") {
        return;
    }
    let mut redis = RedisServer::start();
    let port = redis.port();
    assert!(redis.ping(), "PING after start:\n{}", redis.log());
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));

    redis.stop();
    assert!(!redis.ping(), "PING answered after stop");
    redis.stop(); // twice is fine

    redis.restart();
    assert_eq!(redis.port(), port, "restart keeps the port");
    assert!(redis.ping(), "PING after restart:\n{}", redis.log());

    let addr = redis.addr();
    drop(redis);
    assert!(!ping(addr), "PING answered after drop");
}
