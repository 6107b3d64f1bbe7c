//! The real `tickroom` binary drains on SIGTERM: connected clients get close
//! code 1001 and the process exits successfully.
//!
//! The child binds port 0 itself and the test reads the address it got from
//! its "tickroom listening addr=…" log line: picking a free port here and
//! handing it over would race with every other test binding port 0. Every
//! wait is bounded and says what it waited for; the child is killed if the
//! test fails half-way.

mod common;

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    process::{Child, Command},
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tickroom_protocol::{self as proto, ClientMsg};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

/// Bound for each step; only a hang trips it.
const PATIENCE: Duration = Duration::from_secs(10);

/// The child process, killed on drop unless it already exited.
struct Tickroom {
    child: Child,
    /// Everything it logged so far, for failure messages.
    log: Arc<Mutex<Vec<String>>>,
}

impl Tickroom {
    /// Starts `tickroom` on `127.0.0.1:0` and waits for the address it bound.
    async fn start() -> (Tickroom, SocketAddr) {
        let mut child = common::tickroom(false).spawn().expect("start tickroom");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = oneshot::channel();
        let lines = Arc::clone(&log);
        // Reads stderr to the end, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
                lines.lock().expect("log lock").push(line);
            }
        });
        let server = Tickroom { child, log };
        let addr = match tokio::time::timeout(PATIENCE, rx).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => panic!(
                "tickroom ended its log without a listening line:\n{}",
                server.log()
            ),
            Err(_) => panic!(
                "tickroom logged no listening line within {PATIENCE:?}:\n{}",
                server.log()
            ),
        };
        (server, addr)
    }

    fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }
}

impl Drop for Tickroom {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

use tickroom_bots::process::listening_addr;

#[test]
fn the_listening_line_gives_the_address() {
    let line = "2026-01-01T00:00:00.000000Z  INFO tickroom_server::server: tickroom listening addr=127.0.0.1:41234 workers=1 tick_rate=20";
    assert_eq!(listening_addr(line), Some(([127, 0, 0, 1], 41234).into()));
    assert_eq!(listening_addr("INFO draining connections=0"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_clients_with_1001_and_exits_cleanly() {
    let (mut server, addr) = Tickroom::start().await;

    // The port is bound and served before the listening line is logged.
    let url = format!("ws://{addr}/ws?room=sig");
    let (mut ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(url))
        .await
        .expect("the WebSocket handshake within the patience bound")
        .expect("WebSocket handshake");
    let join = ClientMsg::Join(proto::Join {
        version: proto::PROTOCOL_VERSION,
        name: "sig".into(),
        resume: String::new(),
    });
    ws.send(Message::Binary(Bytes::from(proto::encode_client(&join))))
        .await
        .expect("send join");
    let first = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a Welcome within the patience bound")
        .expect("welcome")
        .expect("ok");
    assert!(matches!(
        proto::decode_server(&first.into_data()),
        Ok(proto::ServerMsg::Welcome(_))
    ));

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());

    // Snapshots may come first; the close must come within the bound.
    let code = tokio::time::timeout(PATIENCE, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
                Some(Ok(_)) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame within the patience bound after SIGTERM");
    assert_eq!(code, 1001);
    drop(ws);

    // The drain waits up to 5 s for clients; ours is gone, so it exits at once.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait for tickroom") {
            break exit;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "tickroom did not exit within {PATIENCE:?} of SIGTERM:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        exit.success(),
        "tickroom exited with {exit}:\n{}",
        server.log()
    );
}
