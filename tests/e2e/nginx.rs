//! The nginx config of `docs/deploy/nginx.conf`, run by a real nginx
//! (Debian's package) in front of a two-node static cluster whose public
//! URLs are paths on nginx (`http://127.0.0.1:<nginx>/n/<node>`): the room
//! API through nginx hands out `ws_url`s through nginx that reach the owner,
//! a join at the wrong node's path gets 4001 naming the owner, and following
//! it through `GET /cluster` reaches the room; an unknown node's path is 404.
//!
//! Needs `/usr/sbin/nginx` (or `$NGINX`); `scripts/test` installs it.
//! Without it the test is skipped with a loud message, except under
//! `CI=true`, where it fails. nginx runs in a temp dir on a free loopback
//! port, in the foreground, and is stopped by its pid.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use serde_json::Value;
use tickroom_protocol::ServerMsg;
use tickroom_server::Server;
use tokio::net::TcpListener;

use crate::util::{
    eventually, expect_close, games, join_msg, open_path, recv, request, send, test_config,
};

/// nginx, stopped (SIGTERM, then SIGKILL) and reaped when dropped.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The documented config with the test's nodes filled in.
fn config(dir: &Path, listen: SocketAddr, nodes: &BTreeMap<String, SocketAddr>) -> String {
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy/nginx.conf"),
    )
    .expect("docs/deploy/nginx.conf");
    let mut upstreams = String::new();
    let mut map = String::new();
    for (id, addr) in nodes {
        upstreams.push_str(&format!(
            "    upstream tickroom_n_{id} {{ server {addr}; }}\n"
        ));
        map.push_str(&format!("        {id} tickroom_n_{id};\n"));
    }
    let all: String = nodes.values().map(|a| format!(" server {a};")).collect();
    upstreams.push_str(&format!("    upstream tickroom_any {{{all} }}\n"));
    template
        .replace("@DIR@", &dir.display().to_string())
        .replace("@LISTEN@", &listen.to_string())
        .replace("@UPSTREAMS@\n", &upstreams)
        .replace("@NODES@\n", &map)
}

fn nginx_binary() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var("NGINX").unwrap_or_else(|_| "/usr/sbin/nginx".into()));
    path.exists().then_some(path)
}

async fn json(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, _, body) = request(addr, method, path, "", body).await;
    let value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{method} {path} via nginx answered non-JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_routes_paths_to_nodes() {
    let Some(nginx) = nginx_binary() else {
        let why = "nginx not installed (/usr/sbin/nginx)";
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "the nginx test cannot run under CI: {why}; scripts/test installs it"
        );
        let bar = "!".repeat(72);
        eprintln!(
            "\n{bar}\nSKIPPED: nginx_routes_paths_to_nodes: {why} — run scripts/test\n{bar}\n"
        );
        return;
    };
    // nginx's port: free now, taken by nginx a moment later (retried below if lost).
    let front = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let front_addr = front.local_addr().expect("addr");
    drop(front);

    let mut listeners = Vec::new();
    for _ in 0..2 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    let nodes: BTreeMap<String, SocketAddr> = ["a", "b"]
        .iter()
        .zip(&listeners)
        .map(|(id, l)| (id.to_string(), l.local_addr().expect("addr")))
        .collect();
    let public = |id: &str| format!("http://{front_addr}/n/{id}");
    let peers: Vec<String> = nodes
        .keys()
        .map(|id| format!("{id}=ws://{front_addr}/n/{id}"))
        .collect();
    let mut servers = Vec::new();
    for (id, listener) in nodes.keys().zip(listeners) {
        let mut c = test_config();
        c.node_id = Some(id.clone());
        c.public_url = Some(public(id));
        c.peers = Some(peers.join(","));
        servers.push(
            Server::start_on(c, listener, games())
                .await
                .expect("node starts"),
        );
    }

    let dir = std::env::temp_dir().join(format!(
        "tickroom-nginx-{}-{}",
        std::process::id(),
        front_addr.port()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("nginx.conf"), config(&dir, front_addr, &nodes)).expect("write config");
    let child = Command::new(&nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let mut proxy = Nginx { child, dir };
    let proxy_ref = &mut proxy;
    let up = eventually("nginx to answer GET /cluster", || async {
        match tickroom_bots::http::get(front_addr, "/cluster").await {
            Ok(r) if r.status == 200 => Ok(()),
            Ok(r) => Err(format!("status {}", r.status)),
            Err(e) => Err(e.to_string()),
        }
    });
    // nginx exiting (a bad config, a port taken) fails at once, with its log.
    let exited = async {
        loop {
            if let Ok(Some(status)) = proxy_ref.child.try_wait() {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        () = up => {}
        status = exited => {
            let log = std::fs::read_to_string(proxy.dir.join("error.log")).unwrap_or_default();
            panic!("nginx exited ({status}): {log}");
        }
    }

    // /cluster through nginx names each node by its path on nginx.
    let (_, cluster) = json(front_addr, "GET", "/cluster", "").await;
    let urls: BTreeMap<String, String> = cluster["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["url"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(urls["b"], format!("ws://{front_addr}/n/b"));

    // Rooms made through nginx, a ticket each: ws_url goes through nginx to the owner.
    let mut on_b = None;
    for i in 0..20 {
        let room = format!("via-nginx-{i}");
        // A metadata filter no room has yet: a fresh room each time.
        let filter = format!(r#"{{"metadata":{{"test":"{room}"}}}}"#);
        let (status, grant) = json(front_addr, "POST", "/matchmake", &filter).await;
        assert_eq!(status, 200, "{grant}");
        let ws_url = grant["ws_url"].as_str().expect("ws_url").to_owned();
        let path = ws_url
            .strip_prefix(&format!("ws://{front_addr}"))
            .unwrap_or_else(|| panic!("{room}: ws_url {ws_url} is not on nginx"));
        assert!(
            path.starts_with("/n/a/ws?") || path.starts_with("/n/b/ws?"),
            "{ws_url}"
        );
        if path.starts_with("/n/b/") && on_b.is_none() {
            let mut ws = open_path(front_addr, path).await;
            send(&mut ws, &join_msg("ticketed")).await;
            assert!(
                matches!(recv(&mut ws).await, ServerMsg::Welcome(_)),
                "{ws_url}"
            );
            on_b = Some(grant["room"].as_str().expect("room").to_owned());
        }
    }
    let room = on_b.expect("one of 20 matchmade rooms lands on b");

    // A join at a's path for b's room: 4001 naming b; b's path reaches the room.
    let mut ws = open_path(front_addr, &format!("/n/a/ws?room={room}&name=lost")).await;
    send(&mut ws, &join_msg("lost")).await;
    assert_eq!(expect_close(&mut ws).await, (4001, "node=b".to_owned()));
    let mut ws = open_path(front_addr, &format!("/n/b/ws?room={room}&name=found")).await;
    send(&mut ws, &join_msg("found")).await;
    match recv(&mut ws).await {
        ServerMsg::Welcome(w) => assert_eq!(w.room, room),
        other => panic!("expected Welcome via nginx, got {other:?}"),
    }

    // An unknown node's path is nginx's 404.
    let (status, body) = json(front_addr, "GET", "/n/zz/ws", "").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("unknown_node")));

    drop(proxy);
    for s in servers {
        s.shutdown().await;
    }
}
