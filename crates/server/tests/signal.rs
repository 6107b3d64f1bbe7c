//! The real `tickroom` binary drains on SIGTERM: connected clients get close
//! code 1001 and the process exits successfully.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tickroom_protocol::{self as proto, ClientMsg};
use tokio_tungstenite::tungstenite::Message;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_clients_with_1001_and_exits_cleanly() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickroom"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tickroom");

    // Wait for the port to accept.
    let url = format!("ws://127.0.0.1:{port}/ws?room=sig");
    let mut ws = None;
    for _ in 0..200 {
        if let Ok((s, _)) = tokio_tungstenite::connect_async(url.as_str()).await {
            ws = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut ws = ws.expect("server came up");
    let join = ClientMsg::Join(proto::Join {
        version: proto::PROTOCOL_VERSION,
        name: "sig".into(),
        resume: String::new(),
    });
    ws.send(Message::Binary(Bytes::from(proto::encode_client(&join))))
        .await
        .expect("send join");
    let first = ws.next().await.expect("welcome").expect("ok");
    assert!(matches!(
        proto::decode_server(&first.into_data()),
        Ok(proto::ServerMsg::Welcome(_))
    ));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());

    let code = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => break u16::from(frame.code),
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, 1001);
    drop(ws);
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(exit.success(), "tickroom exited with {exit}");
}
