//! A room frozen into a snapshot and taken back by a new core, as the new
//! owner of a hand-off (or of a crash restore) does, on a manual clock: the
//! players resume as themselves, where they were, the ticks go on, and what
//! the old room acknowledged stays acknowledged. And the host's freeze: no
//! step while frozen, inputs that arrive then dropped and counted.

use std::time::{Duration, Instant};

use tickroom_game::Games;
use tickroom_sim::Arena;

use super::{
    RoomCmd, RoomGame, RoomSettings,
    core::RoomCore,
    harness::{Got, Harness, arena, settings},
    host::RoomHost,
};
use crate::metrics::Metrics;

/// A room with two players who moved and acknowledged inputs, frozen: its
/// game state, sessions, next player id, tick, and each player's view then.
fn played_room() -> (Harness, Vec<u8>, Vec<super::snapshot::SavedSession>, u32) {
    let mut h = Harness::new(settings(8));
    h.join(1, None).expect("joins");
    h.join(2, None).expect("joins");
    for seq in 1..=30 {
        h.input(1, seq, [100, 40]);
        h.input(2, seq, [-60, 90]);
        h.step();
        h.read_all();
    }
    let mut state = Vec::new();
    h.core.game().save(&mut state).expect("the arena saves");
    let (sessions, next) = h.core.sessions();
    (h, state, sessions, next)
}

#[test]
fn a_restored_room_takes_its_players_back_where_they_were() {
    let (old, state, sessions, next) = played_room();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.last_seq == 30), "{sessions:?}");
    let before = old.view(1);
    let tick = old.core.tick_number();

    let mut game = arena(20);
    game.restore(&state).expect("the arena restores");
    let now = Instant::now();
    let core = RoomCore::restored(settings(8), game, now, 43, &sessions, next);
    let mut new = Harness::with_core(core, now);
    assert_eq!(
        new.core.tick_number(),
        tick,
        "the ticks go on from the freeze"
    );
    assert_eq!(
        new.core.player_count(),
        2,
        "both players wait for their resumes"
    );

    // Player 1 resumes with its session (what its token names).
    let s1 = sessions.iter().find(|s| s.player == 1).expect("player 1");
    let claim = super::ResumeClaim {
        player: 1,
        session: s1.session,
    };
    let joined = new.join(11, Some(claim)).expect("resumes");
    assert!(joined.resumed);
    assert_eq!(joined.player_id, 1);
    assert_eq!(joined.tick, tick);
    new.step();
    assert_eq!(
        new.read(11),
        Got::Full { tick: tick + 1 },
        "a whole frame first"
    );
    assert_eq!(
        new.ack(11),
        30,
        "what the old room acknowledged stays acknowledged"
    );
    let after = new.view(11);
    for id in [1, 2] {
        let (b, a) = (
            before.player(id).expect("before"),
            after.player(id).expect("after"),
        );
        assert_eq!(a.score, b.score, "player {id}'s score");
        assert_eq!(a.name, b.name, "player {id}'s name");
        // One step later: at most one step's travel (320 units/s at 20 Hz).
        assert!(
            (a.pos - b.pos).length() <= 17.0,
            "player {id}: {:?} → {:?}",
            b.pos,
            a.pos
        );
    }
    assert!(
        !after.player(2).expect("2").connected,
        "player 2 waits for its resume"
    );

    // A stale session (the old token spent on another connection) joins fresh.
    let wrong = super::ResumeClaim {
        player: 2,
        session: s1.session ^ 1,
    };
    let fresh = new.join(12, Some(wrong)).expect("joins fresh");
    assert!(!fresh.resumed);
    assert_eq!(
        fresh.player_id, next,
        "new players get ids after the old room's"
    );

    // Player 2 never comes back: its grace runs out on the new owner's clock.
    new.steps(10 * 20 + 1);
    new.read_all();
    assert_eq!(
        new.core.player_count(),
        2,
        "1 and the fresh player stay; 2 left"
    );
    assert!(new.view(11).player(2).is_none());
}

#[test]
fn a_state_of_another_game_or_a_used_room_is_refused() {
    let (old, state, _, _) = played_room();
    // Into a room that already played.
    let mut used = arena(20);
    used.step();
    assert!(
        used.restore(&state).is_err(),
        "a room that stepped is not new"
    );
    // Garbage and truncations never panic.
    let mut fresh = arena(20);
    assert!(fresh.restore(b"not a room").is_err());
    for cut in [0, 1, state.len() / 2, state.len() - 1] {
        assert!(arena(20).restore(&state[..cut]).is_err(), "cut at {cut}");
    }
    drop(old);
}

fn room_game() -> RoomGame {
    let mut games = Games::new();
    games.register::<Arena>().expect("the arena registers");
    RoomGame::new(games.get("arena").expect("registered").clone(), None).expect("defaults")
}

fn room_settings() -> RoomSettings {
    RoomSettings {
        capacity: 8,
        input_queue: 16,
        idle_timeout: Duration::from_secs(30),
        resume_grace: Duration::from_secs(10),
        max_unacked: 10,
        game: room_game(),
        step_rate_hz: 20,
        recording: None,
        steps_per_frame: 1,
        snapshots: None,
        public: true,
        metadata: std::sync::Arc::default(),
    }
}

#[test]
fn a_frozen_host_steps_no_more_drops_late_inputs_and_thaws() {
    let metrics = Metrics::new();
    let settings = room_settings();
    let now = Instant::now();
    let (mut host, handle) = RoomHost::new(
        "frozen".into(),
        1,
        &settings,
        metrics.clone(),
        now,
        1,
        2,
        None,
    )
    .expect("starts");
    for i in 1..=3 {
        host.tick(now + Duration::from_millis(50 * i));
    }
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    handle
        .control
        .send(RoomCmd::Freeze { reply: tx })
        .expect("sent");
    host.tick(now + Duration::from_millis(200));
    let snap = rx
        .try_recv()
        .expect("the freeze is answered on the next tick");
    assert_eq!(snap.room, "frozen");
    assert_eq!(snap.steps, 3, "frozen before the fourth step");
    assert_eq!(snap.game, "arena");
    assert!(!snap.state.is_empty());
    let decoded = super::snapshot::RoomSnapshot::decode(&snap.encode()).expect("decodes");
    assert_eq!(decoded, snap);
    // Frozen: no steps; a late input is dropped and counted.
    let late = super::InputMsg {
        conn: 9,
        seq: 1,
        ack_tick: 0,
        data: super::InputData::new(&[0, 0]),
        received: super::Stamp::at(Instant::now()),
    };
    handle.inputs.try_send(late).expect("queued");
    host.tick(now + Duration::from_millis(250));
    host.tick(now + Duration::from_millis(300));
    assert_eq!(
        handle
            .shared
            .tick
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
    assert!(
        metrics
            .render()
            .contains("tickroom_handoff_inputs_dropped_total 1"),
        "the late input is counted"
    );
    // The snapshot restores into the same game.
    let game = snap
        .restore_game(&settings.game, &settings)
        .expect("restores");
    assert_eq!(game.steps(), 3);
    // Thawed: it steps again.
    handle.control.send(RoomCmd::Thaw).expect("sent");
    host.tick(now + Duration::from_millis(350));
    assert_eq!(
        handle
            .shared
            .tick
            .load(std::sync::atomic::Ordering::Relaxed),
        4
    );
}
