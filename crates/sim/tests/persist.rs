//! A saved arena room restored in a new one goes on exactly as the saved
//! room does: the same frames every step while players steer, bump, eat,
//! join and leave, and pellets die and respawn.

use tickroom::protocol::state::{Canonical, Frame};
use tickroom::{Departure, Games, PlayerId, Room};
use tickroom_sim::{Arena, SteerInput};

fn new_room(config: serde_json::Value, seed: u64) -> Box<dyn Room> {
    let mut games = Games::new();
    games.register::<Arena>().expect("the arena registers");
    let entry = games.get("arena").unwrap();
    let config = entry.config(Some(&config)).expect("valid config");
    entry.new_room(&config, seed, 20).expect("room")
}

/// A small crowded arena: players bump, pellets are eaten and respawn.
fn crowded() -> Box<dyn Room> {
    new_room(
        serde_json::json!({
            "width": 500.0,
            "height": 400.0,
            "pellet_count": 60,
            "pellet_respawn_ticks": 15,
        }),
        0xA7E4,
    )
}

/// Before step `t`: joins, leaves, a disconnect, and steering.
fn script(room: &mut dyn Room, t: u32) {
    if t < 12 {
        room.join(PlayerId(t + 1), &format!("p{}", t + 1)).unwrap();
    }
    match t {
        90 => assert!(room.leave(PlayerId(4), Departure::Left)),
        110 => assert!(room.disconnected(PlayerId(6))),
        230 => room.join(PlayerId(20), "late").unwrap(),
        260 => assert!(room.leave(PlayerId(9), Departure::Expired)),
        _ => {}
    }
    steer(room, t);
}

/// Every third step of each player, some steering.
fn steer(room: &mut dyn Room, t: u32) {
    let ids: Vec<PlayerId> = room
        .world()
        .resource::<tickroom::Players>()
        .iter()
        .map(|(p, _)| p)
        .collect();
    for p in ids {
        if !(t + p.0).is_multiple_of(3) {
            continue;
        }
        let steer = SteerInput {
            x: ((t * 37 + p.0 * 11) % 255) as u8 as i8,
            y: ((t * 13 + p.0 * 7) % 255) as u8 as i8,
        };
        let mut bytes = Vec::new();
        room.catalogue().encode_input(&steer, &mut bytes);
        room.input(p, &bytes).unwrap();
    }
}

fn frame_bytes(room: &mut dyn Room, tick: u32) -> Vec<u8> {
    let mut frame = Frame::default();
    room.build_frame(tick, &mut frame).expect("frame builds");
    let mut canonical = Canonical::default();
    canonical.write(&frame);
    canonical.bytes().to_vec()
}

fn save(room: &dyn Room) -> Vec<u8> {
    let mut bytes = Vec::new();
    room.save(&mut bytes).expect("saves");
    bytes
}

fn step(room: &mut dyn Room, t: u32) {
    script(room, t);
    room.step();
    room.drain_events(&mut Vec::new());
}

#[test]
fn a_restored_arena_builds_the_same_frames_as_the_saved_one_for_150_steps() {
    const SAVED_AT: u32 = 200;
    let mut a = crowded();
    for t in 0..SAVED_AT {
        step(a.as_mut(), t);
    }
    let bytes = save(a.as_ref());
    let mut b = crowded();
    b.restore(&bytes).expect("restores");
    assert_eq!(b.steps(), a.steps());
    assert_eq!(b.player_count(), a.player_count());
    assert_eq!(
        save(b.as_ref()),
        bytes,
        "save, restore, save: the same bytes"
    );
    assert_eq!(
        frame_bytes(b.as_mut(), SAVED_AT),
        frame_bytes(a.as_mut(), SAVED_AT)
    );
    let pellets = |room: &mut dyn Room, tick| {
        let mut frame = Frame::default();
        room.build_frame(tick, &mut frame).unwrap();
        let c = room.catalogue().schema().component_id("pellet").unwrap();
        frame.entities().filter(|e| e.get(c).is_some()).count()
    };
    let mut fewest = usize::MAX;
    for t in SAVED_AT..SAVED_AT + 150 {
        step(a.as_mut(), t);
        step(b.as_mut(), t);
        assert_eq!(
            frame_bytes(b.as_mut(), t + 1),
            frame_bytes(a.as_mut(), t + 1),
            "frame after step {t}"
        );
        fewest = fewest.min(pellets(a.as_mut(), t + 1));
    }
    assert!(fewest < 60, "pellets were eaten (at least {fewest} live)");
    assert_eq!(save(b.as_ref()).len(), save(a.as_ref()).len());
}

#[test]
fn a_saved_arena_of_50_players_takes_a_few_kib() {
    let mut room = new_room(serde_json::json!({}), 7);
    for id in 1..=50 {
        room.join(PlayerId(id), &format!("player-{id}")).unwrap();
    }
    for t in 0..100 {
        steer(room.as_mut(), t);
        room.step();
    }
    let started = std::time::Instant::now();
    let bytes = save(room.as_ref());
    let saved_in = started.elapsed();
    let mut back = new_room(serde_json::json!({}), 7);
    let started = std::time::Instant::now();
    back.restore(&bytes).unwrap();
    let restored_in = started.elapsed();
    println!(
        "a saved arena room with 50 players and 100 pellets: {} bytes \
         (saved in {saved_in:?}, restored in {restored_in:?})",
        bytes.len()
    );
    assert!(bytes.len() < 16 * 1024, "{} bytes", bytes.len());
    assert_eq!(
        frame_bytes(back.as_mut(), 100),
        frame_bytes(room.as_mut(), 100)
    );
}
