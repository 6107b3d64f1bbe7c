//! Bad input gets a clear answer and loses nothing: each kind closes only the
//! offending connection with its RFC 6455 close code, and the room and every
//! other player carry on.

use bytes::Bytes;
use futures_util::SinkExt;
use tickroom_protocol::{self as proto, ClientMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::util::{
    Client, Ws, expect_close, join_msg, metric, open, send, start, test_config, wait_metric, within,
};

/// What a bad client does after connecting.
#[derive(Debug, Clone, Copy)]
enum Bad {
    Text,
    InvalidUtf8Text,
    Garbage,
    Oversized,
    WrongVersion,
    InputBeforeJoin,
    SecondJoin,
    Flood,
    /// An Input whose data is not the arena's input.
    NotTheGamesInput,
}

async fn misbehave(ws: &mut Ws, bad: Bad) {
    within(
        format!("the server to take {bad:?}"),
        misbehave_unbounded(ws, bad),
    )
    .await;
}

async fn misbehave_unbounded(ws: &mut Ws, bad: Bad) {
    let binary = |b: Vec<u8>| Message::Binary(Bytes::from(b));
    let input_with = |seq, data| {
        proto::encode_client(&ClientMsg::Input(proto::Input {
            seq,
            ack_tick: 0,
            data,
        }))
    };
    let input = |seq| {
        let mut data = Vec::new();
        tickroom_sim::catalogue().encode_input(&tickroom_sim::SteerInput { x: 1, y: 1 }, &mut data);
        input_with(seq, data)
    };
    match bad {
        Bad::Text => ws.send(Message::text("{\"join\":1}")).await.expect("send"),
        Bad::InvalidUtf8Text => {
            // A text frame whose payload is not UTF-8, built by hand.
            let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
                vec![0xC3, 0x28],
                tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
                    tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
                ),
                true,
            );
            ws.send(Message::Frame(frame)).await.expect("send");
        }
        Bad::Garbage => ws.send(binary(vec![0xFF, 0x00, 0x13])).await.expect("send"),
        Bad::Oversized => ws.send(binary(vec![1; 4096])).await.expect("send"),
        Bad::WrongVersion => {
            let msg = ClientMsg::Join(proto::Join {
                version: proto::PROTOCOL_VERSION + 1,
                name: "future".into(),
                resume: String::new(),
            });
            send(ws, &msg).await;
        }
        Bad::InputBeforeJoin => ws.send(binary(input(1))).await.expect("send"),
        Bad::SecondJoin => send(ws, &join_msg("again")).await,
        Bad::Flood => {
            for seq in 1..=400 {
                if ws.send(binary(input(seq))).await.is_err() {
                    break;
                }
            }
        }
        Bad::NotTheGamesInput => {
            // The arena's input is two bytes; five 0xFF do not decode as one.
            ws.send(binary(input_with(1, vec![0xFF; 5])))
                .await
                .expect("send");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_input_closes_only_its_connection_with_the_right_code() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut bystander = Client::join(addr, "bad-room", "calm").await;

    // (what, joins first?, expected close code)
    let cases = [
        (Bad::Text, true, 1003),
        (Bad::InvalidUtf8Text, true, 1007),
        (Bad::Garbage, true, 1007),
        (Bad::Oversized, true, 1009),
        (Bad::WrongVersion, false, 1002),
        (Bad::InputBeforeJoin, false, 1008),
        (Bad::SecondJoin, true, 1008),
        (Bad::Flood, true, 1008),
        (Bad::NotTheGamesInput, true, 1007),
        (Bad::Garbage, false, 1007),
        (Bad::Text, false, 1003),
    ];
    for (bad, joins, want) in cases {
        let mut ws = open(addr, "room=bad-room", None).await;
        if joins {
            send(&mut ws, &join_msg("rude")).await;
        }
        misbehave(&mut ws, bad).await;
        let (code, reason) = expect_close(&mut ws).await;
        assert_eq!(code, want, "{bad:?}: closed with {code} ({reason})");
        assert!(!reason.is_empty(), "{bad:?}: the close carries a reason");

        // The room carries on for everyone else: consecutive frames keep coming.
        let a = bystander.snapshot().await.tick;
        let b = bystander.snapshot().await.tick;
        assert!(b > a, "{bad:?}: the room kept ticking");
    }
    // A connection is counted when its task ends, which can be a little after
    // the client read the close: wait for each count, then check it is exact.
    for (code, n) in [
        ("1003", 2.0),
        ("1007", 4.0),
        ("1009", 1.0),
        ("1002", 1.0),
        ("1008", 3.0),
    ] {
        let series = format!("tickroom_connections_closed_total{{code=\"{code}\"}}");
        wait_metric(addr, &series, n).await;
        assert_eq!(metric(addr, &series).await, n, "{series}");
    }
    // The bystander is still in the room, alone.
    let s = bystander.snapshot().await;
    assert_eq!(s.players.len(), 1);
    assert_eq!(s.players[0].id, bystander.player_id);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_when_the_join_times_out() {
    let server = start(tickroom_server::Config {
        join_timeout: std::time::Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let mut ws = open(server.local_addr(), "room=quiet", None).await;
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!((code, reason.as_str()), (1008, "no Join in time"));
    server.shutdown().await;
}
