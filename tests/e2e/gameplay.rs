//! The happy path: players join rooms, send inputs and receive 20 Hz frames.

use tickroom_protocol::{self as proto, ClientMsg, ServerMsg};

use crate::util::{Client, Frame, recv, send, start, test_config, within};

/// Steers toward the arena's centre along x, so a wall cannot stop the player.
fn steer_inward(c: &Client, s: &Frame) -> i8 {
    let width = c.config()["width"]
        .as_f64()
        .expect("the config has a width") as f32;
    if c.me(s).pos.x < width / 2.0 {
        127
    } else {
        -127
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_in_one_room_get_increasing_ticks_and_move_where_they_steer() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for name in ["ann", "bob", "cy"] {
        clients.push(Client::join(addr, "arena-1", name).await);
    }
    for c in &clients {
        assert_eq!(c.welcome.version, proto::PROTOCOL_VERSION);
        assert_eq!(c.welcome.tick_rate_hz, 20);
        assert_eq!(c.welcome.room, "arena-1");
    }
    let ids: Vec<u32> = clients.iter().map(|c| c.player_id).collect();
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "ids are unique: {ids:?}"
    );

    for c in &mut clients {
        let first = c.snapshot().await;
        let dir = steer_inward(c, &first);
        let start_x = c.me(&first).pos.x;
        let mut prev = first.tick;
        let mut last_seq = 0;
        for _ in 0..12 {
            last_seq = c.input([dir, 0]).await;
            let s = c.snapshot().await;
            assert!(
                s.tick > prev,
                "ticks strictly increase: {} after {prev}",
                s.tick
            );
            prev = s.tick;
        }
        // Inputs are applied within a tick or two, and the steer is held.
        let mut last = c.wait_acked(last_seq).await;
        assert_eq!(c.ack, last_seq, "the newest input is acknowledged");
        // However few ticks the frames read so far spanned (a starved client
        // reads a backlog quickly), the player keeps moving where it steers.
        let moved_along =
            |c: &Client, f: &Frame| (c.me(f).pos.x - start_x) * f32::from(dir.signum());
        for _ in 0..200 {
            if moved_along(c, &last) > 20.0 {
                break;
            }
            let s = c.snapshot().await;
            assert!(s.tick > prev, "ticks strictly increase");
            prev = s.tick;
            last = s;
        }
        assert!(
            moved_along(c, &last) > 20.0,
            "player {} steered {dir} along x but moved only {} in 200 frames",
            c.player_id,
            moved_along(c, &last)
        );
        // Every frame lists every player, with their names.
        assert_eq!(last.players.len(), 3);
        let mut names: Vec<String> = last.players.iter().map(|p| p.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["ann", "bob", "cy"]);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_player_gets_a_full_snapshot_then_compact_deltas() {
    let server = start(test_config()).await;
    let mut c = Client::join(server.local_addr(), "fresh", "zed").await;
    let state = loop {
        match recv(&mut c.ws).await {
            ServerMsg::State(s) => break s,
            ServerMsg::Pong(_) => {}
            other => panic!("the first message after a join is a frame, got {other:?}"),
        }
    };
    let (applied, first) = c.apply_state(&state);
    assert!(
        applied.full,
        "the first frame after a join is a whole frame"
    );
    assert_eq!(first.players.len(), 1);
    // Every room draws its own map (its seed is its own): a player may spawn
    // on a pellet and eat it in the step its first frame shows.
    assert_eq!(
        first.pellets.len() + first.players[0].score as usize,
        100,
        "every pellet is live or eaten"
    );
    assert_eq!(first.players[0].name, "zed");
    assert_eq!(first.players[0].id, c.player_id);
    let mut prev = first.tick;
    let before = c.fulls + c.deltas;
    // While nobody joins or leaves, every further frame is a delta that
    // applies. A whole frame comes again only after the client fell behind,
    // which shows as a gap in the ticks (a starved machine can cause that).
    for i in 0..20 {
        c.input([127, (i * 13 % 255 - 127) as i8]).await;
        let fulls = c.fulls;
        let s = c.snapshot().await;
        assert!(s.tick > prev, "ticks strictly increase");
        if c.fulls > fulls {
            assert!(
                s.tick > prev + 1,
                "a whole frame at tick {} right after tick {prev}, with nobody joining or leaving",
                s.tick
            );
        }
        prev = s.tick;
    }
    assert_eq!(c.fulls + c.deltas - before, 20);
    assert!(c.deltas > 0, "deltas while the room is stable");
    assert!(c.ack <= c.seq, "never acknowledges an input not sent");
    c.wait_acked(c.seq).await;
    assert_eq!(c.ack, c.seq, "inputs acknowledged through deltas");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_are_isolated() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut a = Client::join(addr, "iso-a", "alice").await;
    let mut b1 = Client::join(addr, "iso-b", "bob").await;
    let _b2 = Client::join(addr, "iso-b", "bea").await;
    b1.wait_players(2).await;
    for _ in 0..5 {
        b1.input([127, 127]).await;
        let sa = a.snapshot().await;
        assert_eq!(sa.players.len(), 1, "room a sees only its own player");
        assert_eq!(sa.players[0].id, a.player_id);
        let sb = b1.snapshot().await;
        assert_eq!(sb.players.len(), 2, "room b sees its two players");
    }
    // Player ids are per room: each room numbers its own players from 1.
    assert_eq!(a.player_id, 1);
    assert_eq!(b1.player_id, 1);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_its_nonce() {
    let server = start(test_config()).await;
    let mut c = Client::join(server.local_addr(), "pings", "p").await;
    for nonce in [7, 8, 9] {
        send(&mut c.ws, &ClientMsg::Ping(proto::Ping { nonce })).await;
        // Frames keep coming meanwhile: bounded, so a lost Pong fails here.
        within(format!("the Pong to ping {nonce}"), async {
            loop {
                match recv(&mut c.ws).await {
                    ServerMsg::Pong(p) => {
                        assert_eq!(p.nonce, nonce);
                        break;
                    }
                    ServerMsg::State(_) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
        .await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_closes_normally_and_frees_the_slot() {
    let server = start(tickroom_server::Config {
        room_capacity: 1,
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut c = Client::join(addr, "solo", "one").await;
    send(&mut c.ws, &ClientMsg::Leave).await;
    let (code, _) = crate::util::expect_close(&mut c.ws).await;
    assert_eq!(code, 1000);
    // The slot is free again once the room processed the leave.
    let mut again = Client::join(addr, "solo", "two").await;
    let s = again.snapshot().await;
    assert_eq!(s.players.len(), 1);
    assert_eq!(s.players[0].id, again.player_id);
    server.shutdown().await;
}
