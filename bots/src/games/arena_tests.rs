//! Tests of how a bot plays a game, against a fake arena room on loopback:
//! a Welcome with an arena-shaped schema ([`super::arena::test_schema`])
//! and config, then a state every 20 ms, delta-coded with the protocol's
//! encoder from the frame that connection was sent last and acknowledging
//! the newest input applied; each input, decoded with the schema's input
//! layout, moves the player. The bot decodes through its `Replica` and
//! answers with its behaviour's inputs. (The real arena and server are the
//! end-to-end tests': the bots never build them.)

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use tickroom_protocol::{
    Checksum, ClientMsg, PROTOCOL_VERSION, ServerMsg, State, Welcome, decode_client, encode_server,
    state::{Encoder, Frame, Value, decode_values},
};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use super::arena::{test_frame, test_schema};
use crate::{Mix, Placement, Report, SwarmConfig};

/// What the fake room saw.
#[derive(Debug, Default)]
struct Seen {
    /// Inputs that decoded as the game's.
    inputs: u64,
    /// Inputs that did not.
    refused: u64,
    /// Whether a player ever moved.
    moved: bool,
}

/// Pellets of every frame.
const PELLETS: [[f32; 2]; 3] = [[100.0, 100.0], [900.0, 500.0], [400.0, 800.0]];

/// A fake room of `game` (the Welcome says so; the schema is the arena's);
/// the state of tick `corrupt` has a wrong checksum.
async fn room(game: &'static str, corrupt: Option<u32>) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    tokio::spawn(async move {
        let mut next_player = 1;
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = shared.clone();
            let player = next_player;
            next_player += 1;
            tokio::spawn(async move {
                let _ = play(tcp, game, player, corrupt, seen).await;
            });
        }
    });
    (addr, seen)
}

/// One connection: a room of its own with this one player.
async fn play(
    tcp: tokio::net::TcpStream,
    game: &'static str,
    player: u32,
    corrupt: Option<u32>,
    seen: Arc<Mutex<Seen>>,
) -> Option<()> {
    let mut ws = tokio_tungstenite::accept_async(tcp).await.ok()?;
    loop {
        if let Message::Binary(bytes) = ws.next().await?.ok()?
            && let Ok(ClientMsg::Join(_)) = decode_client(&bytes)
        {
            break;
        }
    }
    let schema = test_schema();
    let welcome = Welcome {
        version: PROTOCOL_VERSION,
        player_id: player,
        room: "r".into(),
        game: game.into(),
        tick_rate_hz: 20,
        sim_rate_hz: 20,
        tick: 0,
        schema: schema.encode(),
        config: r#"{"width":1000.0,"height":1000.0,"pellet_count":3}"#.into(),
        resume_token: "tok".into(),
        resumed: false,
    };
    ws.send(Message::binary(encode_server(&ServerMsg::Welcome(welcome))))
        .await
        .ok()?;
    let (mut encoder, mut scratch, mut values) = (Encoder::default(), Vec::new(), Vec::new());
    let mut sent: Option<Frame> = None;
    let (mut pos, mut steer) = ([500.0f32, 500.0], [0.0f32, 0.0]);
    let mut received = 0;
    let mut tick = 0;
    let mut timer = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Some(Ok(Message::Binary(bytes))) = msg else { return Some(()) };
                if let Ok(ClientMsg::Input(input)) = decode_client(&bytes) {
                    let ok = decode_values(schema.input_layout(), &input.data, &mut values).is_ok();
                    if let [Value::Int(x), Value::Int(y)] = values.as_slice() {
                        steer = [*x as f32 / 127.0, *y as f32 / 127.0];
                    }
                    let mut seen = seen.lock().unwrap();
                    seen.inputs += u64::from(ok);
                    seen.refused += u64::from(!ok);
                    received = input.seq;
                }
            }
            _ = timer.tick() => {
                // One step: the held steering moves the player.
                let before = pos;
                pos = [0, 1].map(|i| (pos[i] + steer[i] * 5.0).clamp(0.0, 1000.0));
                if pos != before {
                    seen.lock().unwrap().moved = true;
                }
                // Every input received so far was applied by this step.
                let applied = received;
                tick += 1;
                let frame = test_frame(&schema, tick, &[(player, pos)], &PELLETS);
                let mut bytes = Vec::new();
                encoder.encode(&schema, sent.as_ref(), &frame, &mut bytes);
                let mut checksum = Checksum(frame.checksum(&mut scratch));
                if corrupt == Some(tick) {
                    checksum.0 ^= 1;
                }
                let state = State { ack_seq: applied, events: Vec::new(), checksum, frame: bytes };
                ws.send(Message::binary(encode_server(&ServerMsg::State(state)))).await.ok()?;
                sent = Some(frame);
            }
        }
    }
}

async fn swarm(addr: SocketAddr, mix: &str, bots: usize, run_for: Duration) -> Report {
    let config = SwarmConfig {
        url: format!("http://{addr}"),
        placement: Placement::Fill {
            bots,
            per_room: bots,
        },
        mix: mix.parse::<Mix>().unwrap(),
        duration: Some(run_for),
        connect_timeout: Duration::from_secs(2),
        ..SwarmConfig::default()
    };
    crate::run(config, std::future::pending()).await.unwrap()
}

#[tokio::test]
async fn bots_rebuild_the_frames_and_their_inputs_steer_the_player() {
    let (addr, seen) = room("arena", Some(10)).await;
    let report = swarm(addr, "wander=1,chase=1", 2, Duration::from_millis(1200)).await;
    let all = &report.all;
    assert_eq!(report.game, "arena");
    assert_eq!(all.counts.connections, 2, "{report}");
    assert!(all.counts.snapshots >= 20, "{report}");
    assert_eq!(all.counts.decode_errors, 0, "{report}");
    assert_eq!(all.counts.checksum_mismatches, 2, "one per bot: {report}");
    assert!(all.counts.inputs_acked > 0, "{report}");
    assert!(all.ack_latency_ms.is_some_and(|s| s.count > 0), "{report}");
    assert!(report.behaviours.contains_key("chase"), "{report}");
    let seen = seen.lock().unwrap();
    assert!(seen.inputs > 20 && seen.refused == 0, "{seen:?}");
    assert!(seen.moved, "{seen:?}");
}

#[tokio::test]
async fn the_generic_behaviours_send_inputs_the_game_takes() {
    let (addr, seen) = room("arena", None).await;
    let report = swarm(addr, "random=1,idle=1", 2, Duration::from_millis(600)).await;
    assert_eq!(report.all.counts.connections, 2, "{report}");
    assert_eq!(report.all.counts.checksum_mismatches, 0, "{report}");
    assert_eq!(report.mix, "random=1,idle=1");
    let seen = seen.lock().unwrap();
    assert!(seen.inputs > 10 && seen.refused == 0, "{seen:?}");
}

#[tokio::test]
async fn a_room_of_another_game_is_a_connect_error() {
    let (addr, seen) = room("cards", None).await;
    let report = swarm(addr, "wander", 1, Duration::from_millis(400)).await;
    let all = &report.all;
    assert_eq!(all.counts.connections, 0, "{report}");
    assert!(
        all.connect_error_reasons.get("wrong-game") >= Some(&1),
        "{report}"
    );
    assert_eq!(seen.lock().unwrap().inputs, 0);
}
