//! Session resume: a dropped player comes back as itself (same id, position,
//! score) within the grace period, with a token that works once and only for
//! its room; after the grace period, or after a Leave, it gets a fresh player.

use std::{net::SocketAddr, time::Duration};

use tickroom_protocol::{self as proto, ClientMsg, ServerMsg};
use tickroom_server::Config;
use tickroom_sim::{SeenPlayer, SteerInput};

use crate::util::{Client, eventually, expect_close, metric, open, recv, send, start, test_config};

fn join_with(name: &str, resume: &str) -> ClientMsg {
    ClientMsg::Join(proto::Join {
        version: proto::PROTOCOL_VERSION,
        name: name.into(),
        resume: resume.into(),
    })
}

/// Connects to `room` and joins with `token` (the Welcome says whether it resumed).
async fn rejoin(addr: SocketAddr, room: &str, token: &str) -> Client {
    Client::join_resuming(addr, room, "back", token).await
}

/// Steers toward the nearest pellet until the own score is at least 1.
async fn score_a_pellet(c: &mut Client) -> SeenPlayer {
    for _ in 0..600 {
        let frame = c.snapshot().await;
        let me = c.me(&frame).clone();
        if me.score > 0 {
            return me;
        }
        let target = frame
            .pellets
            .iter()
            .map(|p| p.pos - me.pos)
            .min_by(|a, b| a.length().total_cmp(&b.length()))
            .expect("pellets exist");
        let steer = SteerInput::from_direction(target.x, target.y);
        c.input([steer.x, steer.y]).await;
    }
    panic!("never ate a pellet");
}

/// Ticks a position must hold to count as standing still. The arena sends
/// no velocities, and positions in quarter units: a player still creeping
/// along moves less than a quarter unit in 10 ticks only below ~1.3 units/s,
/// and friction then stops it within half a unit.
const STILL_TICKS: u32 = 10;

/// Reads frames until the own player stands still (its position unchanged
/// for [`STILL_TICKS`]); returns its state then.
async fn at_rest(c: &mut Client) -> SeenPlayer {
    let mut since: Option<(u32, SeenPlayer)> = None;
    for _ in 0..600 {
        let frame = c.snapshot().await;
        let now = c.me(&frame).clone();
        match &since {
            Some((tick, held)) if held.pos == now.pos => {
                if frame.tick - tick >= STILL_TICKS {
                    return now;
                }
            }
            _ => since = Some((frame.tick, now)),
        }
    }
    panic!("still moving after 600 frames: {since:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_player_resumes_as_itself_and_the_token_works_once() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut watcher = Client::join(addr, "resume-1", "watcher").await;
    let mut c = Client::join(addr, "resume-1", "blip").await;
    assert!(!c.welcome.resumed);
    let token = c.welcome.resume_token.clone();
    assert!(!token.is_empty());
    score_a_pellet(&mut c).await;
    // Stop steering and coast to rest: where the player is then does not
    // depend on how many ticks pass before the server notices the drop.
    let stop = c.input([0, 0]).await;
    c.wait_acked(stop).await;
    let before = at_rest(&mut c).await;
    let id = c.player_id;
    // Skip the watcher's frames from before the second player joined.
    watcher.wait_players(2).await;

    // The network drops: no Leave, no close frame.
    drop(c);
    // Meanwhile the entity stays in the room for everyone else.
    for _ in 0..5 {
        let f = watcher.snapshot().await;
        assert!(
            f.players.iter().any(|p| p.id == id),
            "the entity waits for its player"
        );
    }

    let mut back = rejoin(addr, "resume-1", &token).await;
    assert!(back.welcome.resumed, "the token takes the player back");
    assert_eq!(back.player_id, id, "same player id");
    assert_ne!(
        back.welcome.resume_token, token,
        "every Welcome brings a new token"
    );
    let state = loop {
        match recv(&mut back.ws).await {
            ServerMsg::State(s) => break s,
            ServerMsg::Pong(_) => {}
            other => panic!("a resume starts with a frame, got {other:?}"),
        }
    };
    let (applied, first) = back.apply_state(&state);
    assert!(applied.full, "a resume starts with a whole frame");
    let me = first.player(id).expect("own player");
    assert_eq!(me.score, before.score, "same score");
    // It was at rest, and nobody steers it while it is away.
    assert!(
        me.pos.distance(before.pos) < 1.0,
        "same position: {:?} then {:?}",
        before.pos,
        me.pos
    );

    // The old token is used up: it now gets a fresh player.
    let mut again = rejoin(addr, "resume-1", &token).await;
    assert!(!again.welcome.resumed);
    assert_ne!(again.player_id, id);
    let f = again.snapshot().await;
    assert_eq!(
        f.players.len(),
        3,
        "watcher, the resumed player, the fresh one"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resuming_while_the_old_connection_lives_takes_it_over() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let mut old = Client::join(addr, "resume-2", "twin").await;
    let token = old.welcome.resume_token.clone();
    let mut new = rejoin(addr, "resume-2", &token).await;
    assert!(new.welcome.resumed);
    assert_eq!(new.player_id, old.player_id);
    let (code, reason) = expect_close(&mut old.ws).await;
    assert_eq!(
        (code, reason.as_str()),
        (1000, "resumed on another connection")
    );
    // The old connection's end does not remove the player.
    for _ in 0..5 {
        let f = new.snapshot().await;
        assert_eq!(f.players.len(), 1);
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_period_or_a_leave_the_token_is_dead() {
    let server = start(Config {
        resume_grace: Duration::from_secs(5),
        ..test_config()
    })
    .await;
    let addr = server.local_addr();
    let mut watcher = Client::join(addr, "resume-3", "watcher").await;

    // A Leave removes the player at once: no resume.
    let mut leaver = Client::join(addr, "resume-3", "leaver").await;
    let leaver_token = leaver.welcome.resume_token.clone();
    send(&mut leaver.ws, &ClientMsg::Leave).await;
    assert_eq!(expect_close(&mut leaver.ws).await.0, 1000);
    watcher.wait_players(1).await;
    let fresh = rejoin(addr, "resume-3", &leaver_token).await;
    assert!(!fresh.welcome.resumed, "a Leave ends the session for good");
    drop(fresh);

    // A dropped player outlives its connection, waits the grace period (5 s),
    // then is removed. Asserted in order, not in ticks or seconds: a starved
    // machine ticks late or skips ticks, while the grace is wall-clock time.
    let dropped = Client::join(addr, "resume-3", "late").await;
    let (id, token) = (dropped.player_id, dropped.welcome.resume_token.clone());
    // Skip the watcher's frames from before the late player joined.
    let mut present = false;
    for _ in 0..200 {
        if watcher.snapshot().await.players.iter().any(|p| p.id == id) {
            present = true;
            break;
        }
    }
    assert!(present, "the late player never showed up in the room");
    drop(dropped);
    // Once its connection is gone the server has told the room (the drop is
    // sent before the connection is counted out); every frame built after the
    // room's next tick still has the entity.
    eventually("the dropped connections to be closed", || async {
        let open = metric(addr, "tickroom_connections").await;
        if open <= 1.0 { Ok(()) } else { Err(open) }
    })
    .await;
    let after_drop = watcher.room_tick().await + 1;
    let mut outlived = false;
    let mut frames = 0;
    loop {
        let f = watcher.snapshot().await;
        frames += 1;
        let there = f.players.iter().any(|p| p.id == id);
        if f.tick > after_drop {
            if !there {
                break;
            }
            outlived = true;
        }
        assert!(frames < 20 * 60, "the grace period never ended");
    }
    assert!(
        outlived,
        "the entity stayed in the room after its connection was gone"
    );
    let late = rejoin(addr, "resume-3", &token).await;
    assert!(
        !late.welcome.resumed,
        "after the grace period a fresh player"
    );
    assert_ne!(late.player_id, id);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_foreign_tokens_are_refused_with_1008() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    let c = Client::join(addr, "resume-4", "owner").await;
    let token = c.welcome.resume_token.clone();

    let mut foreign = open(addr, "room=resume-5", None).await;
    send(&mut foreign, &join_with("thief", &token)).await;
    assert_eq!(
        expect_close(&mut foreign).await,
        (1008, "resume token for another room".to_owned())
    );

    let (payload, tag) = token.split_once('.').expect("payload.tag");
    let mut bytes: Vec<char> = tag.chars().collect();
    bytes[0] = if bytes[0] == 'A' { 'B' } else { 'A' };
    let forged = format!("{payload}.{}", bytes.into_iter().collect::<String>());
    for bad in [forged.as_str(), "garbage", "a.b"] {
        let mut ws = open(addr, "room=resume-4", None).await;
        send(&mut ws, &join_with("forger", bad)).await;
        assert_eq!(
            expect_close(&mut ws).await,
            (1008, "invalid resume token".to_owned()),
            "{bad}"
        );
    }
    // A token from another server (another secret) is forged as far as this one knows.
    let other = start(test_config()).await;
    let mut ws = open(other.local_addr(), "room=resume-4", None).await;
    send(&mut ws, &join_with("stranger", &token)).await;
    assert_eq!(expect_close(&mut ws).await.0, 1008);
    other.shutdown().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.shutdown().await;
}
