//! Built-in TLS (`--tls-cert`/`--tls-key`, issue 13) end to end, with a
//! self-signed certificate for `localhost`/`127.0.0.1` that each test makes
//! with `rcgen` in its own temporary directory: a tokio-tungstenite client
//! over tokio-rustls plays over `wss://`; the bot swarm plays over
//! `https://` with `tls_ca`; a client speaking plain HTTP to the TLS port is
//! closed and counted (`tickroom_refused_total{reason="tls_handshake"}`)
//! while the server carries on; and bad certificate or key files fail
//! `Server::start` naming the file.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::{CertificateDer, ServerName};
use tickroom_bots::{Placement, SwarmConfig, tls::Tls};
use tickroom_protocol::{self as proto, ServerMsg, state::Replica};
use tickroom_server::{Config, Server};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};
use tokio_tungstenite::{WebSocketStream, client_async, tungstenite::Message};

use crate::util::{eventually, games, join_msg, start, test_config, within};

/// A temporary directory holding `cert.pem` and `key.pem`; removed on drop.
struct CertDir {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

impl CertDir {
    fn new(tag: &str) -> CertDir {
        let dir =
            std::env::temp_dir().join(format!("tickroom-e2e-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("self-signed certificate");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, signing_key.serialize_pem()).expect("write key");
        CertDir {
            dir,
            cert: cert_path,
            key: key_path,
            der: cert.der().clone(),
        }
    }

    fn config(&self) -> Config {
        Config {
            tls_cert: Some(self.cert.clone()),
            tls_key: Some(self.key.clone()),
            header_read_timeout: Duration::from_secs(1),
            ..test_config()
        }
    }
}

impl Drop for CertDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A TLS connector trusting only `cert`.
fn connector(cert: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("trust the test certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

type Wss = WebSocketStream<TlsStream<TcpStream>>;

async fn open_wss(addr: SocketAddr, cert: &CertificateDer<'static>, query: &str) -> Wss {
    within("a wss:// handshake", async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("server name");
        let tls = connector(cert)
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let url = format!("wss://localhost:{}/ws?{query}", addr.port());
        let (ws, _) = client_async(url.as_str(), tls)
            .await
            .expect("WebSocket handshake over TLS");
        ws
    })
    .await
}

async fn recv(ws: &mut Wss) -> ServerMsg {
    within("a message over wss", async {
        loop {
            match ws.next().await.expect("open").expect("no error") {
                Message::Binary(b) => return proto::decode_server(&b).expect("decodes"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected message {other:?}"),
            }
        }
    })
    .await
}

/// `GET path` over TLS through the bots' HTTP client, trusting the test CA file.
async fn https_get(addr: SocketAddr, ca: &Path, path: &str) -> (u16, String) {
    let tls = Tls::new(Some(ca)).expect("trust the test certificate");
    let r = within(
        format!("GET https://{addr}{path}"),
        tickroom_bots::http::get_over(addr, Some((&tls, "127.0.0.1")), path),
    )
    .await
    .expect("https request");
    (r.status, r.text())
}

/// A sample of the server's own metrics (the TLS port serves no plain `/metrics`).
fn metric(server: &Server, series: &str) -> f64 {
    tickroom_bots::prom::Scrape::parse(&server.render_metrics()).get(series)
}

const TLS_REFUSED: &str = "tickroom_refused_total{reason=\"tls_handshake\"}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_joins_over_wss_and_receives_frames() {
    let certs = CertDir::new("wss");
    let server = start(certs.config()).await;
    let addr = server.local_addr();
    let (status, body) = https_get(addr, &certs.cert, "/healthz").await;
    assert_eq!(status, 200, "{body}");

    let mut ws = open_wss(addr, &certs.der, "room=tls-a").await;
    let join = Bytes::from(proto::encode_client(&join_msg("ann")));
    within("sending the Join", ws.send(Message::Binary(join)))
        .await
        .expect("send");
    let ServerMsg::Welcome(welcome) = recv(&mut ws).await else {
        panic!("the first message is a Welcome");
    };
    assert_eq!(welcome.room, "tls-a");
    let mut replica = Replica::from_welcome(&welcome).expect("the schema decodes");
    let mut ticks = Vec::new();
    while ticks.len() < 5 {
        if let ServerMsg::State(s) = recv(&mut ws).await {
            let applied = replica.apply(&s).expect("the frame applies");
            assert!(applied.checksum_ok, "checksum at tick {}", applied.tick);
            ticks.push(applied.tick);
        }
    }
    assert!(ticks.windows(2).all(|w| w[1] > w[0]), "{ticks:?}");
    // The room API answers wss:// URLs for this node.
    let (status, body) = https_get(addr, &certs.cert, "/cluster").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("https://") || body.contains("wss://"),
        "{body}"
    );
    drop(ws);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_play_over_https_trusting_the_test_ca() {
    let certs = CertDir::new("bots");
    let server = start(certs.config()).await;
    let addr = server.local_addr();
    let config = SwarmConfig {
        url: format!("https://127.0.0.1:{}", addr.port()),
        tls_ca: Some(certs.cert.clone()),
        placement: Placement::Fill {
            bots: 4,
            per_room: 4,
        },
        duration: Some(Duration::from_secs(2)),
        connect_timeout: Duration::from_secs(10),
        ..SwarmConfig::default()
    };
    let report = within(
        "a short bot run over TLS",
        tickroom_bots::run(config, std::future::pending()),
    )
    .await
    .expect("the swarm runs");
    server.shutdown().await;
    let all = &report.all;
    assert_eq!(report.bots, 4);
    assert_eq!(
        all.counts.connect_errors, 0,
        "{:?}",
        all.connect_error_reasons
    );
    assert!(all.counts.connections >= 4, "{:?}", all.counts);
    assert!(all.counts.snapshots > 0, "{:?}", all.counts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_is_closed_and_counted_and_the_server_carries_on() {
    let certs = CertDir::new("plain");
    let server = start(certs.config()).await;
    let addr = server.local_addr();
    assert_eq!(metric(&server, TLS_REFUSED), 0.0);

    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    within(
        "writing plain HTTP",
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    )
    .await
    .expect("write");
    let got = within("the server to close the plain connection", async {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        !String::from_utf8_lossy(&got).contains("HTTP/1.1"),
        "no HTTP answer in the clear: {got:?}"
    );
    eventually("the plain client to be counted", || async {
        let v = metric(&server, TLS_REFUSED);
        if v >= 1.0 { Ok(v) } else { Err(v) }
    })
    .await;

    // A silent TCP connection is closed at --header-read-timeout, counted too.
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut buf = [0u8; 64];
    let n = within("the silent connection to be closed", silent.read(&mut buf))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing sent to a silent client");
    eventually("the silent client to be counted", || async {
        let v = metric(&server, TLS_REFUSED);
        if v >= 2.0 { Ok(v) } else { Err(v) }
    })
    .await;

    let (status, body) = https_get(addr, &certs.cert, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_certificate_or_key_files_fail_the_start_naming_the_file() {
    let certs = CertDir::new("bad");
    let other = CertDir::new("bad-other");
    let missing = certs.dir.join("missing.pem");
    let cases: [(Option<&PathBuf>, Option<&PathBuf>, &[&str]); 5] = [
        (
            Some(&missing),
            Some(&certs.key),
            &["--tls-cert", "missing.pem", "unreadable"],
        ),
        (
            Some(&certs.cert),
            Some(&missing),
            &["--tls-key", "missing.pem", "unreadable"],
        ),
        (
            Some(&certs.key),
            Some(&certs.key),
            &["--tls-cert", "key.pem", "no certificate"],
        ),
        (
            Some(&certs.cert),
            Some(&other.key),
            &["--tls-key", "does not match"],
        ),
        (Some(&certs.cert), None, &["--tls-cert needs --tls-key"]),
    ];
    for (cert, key, expected) in cases {
        let config = Config {
            tls_cert: cert.cloned(),
            tls_key: key.cloned(),
            ..test_config()
        };
        let err = Server::start(config, games())
            .await
            .expect_err("a bad TLS pair is refused")
            .to_string();
        for part in expected {
            assert!(err.contains(part), "{err:?} names {part:?}");
        }
    }
}
