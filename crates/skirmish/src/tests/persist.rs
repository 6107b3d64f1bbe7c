//! A saved room restored in a new one goes on exactly as the saved room
//! does (`tickroom::persist`): bullets in flight, pickups taken and
//! refilling, ships destroyed and counting down to their respawn, players
//! joining and leaving; the same frames, views and events every step.

use tickroom::protocol::state::{Canonical, Frame};
use tickroom::{Departure, Room};

use super::*;
use crate::PressesInCooldown;
use crate::pickups::{SlotState, Slots};
use crate::ships::OwnShip;

/// Player `id`'s input at step `t`: it turns, strafes and fires often.
fn scripted(t: u32, id: u32) -> SkirmishInput {
    let wave = |k: u32| (((t * k + id * 31) % 255) as i32 - 127) as i8;
    SkirmishInput {
        mx: wave(7),
        my: wave(11),
        aim: ((t * 13 + id * 5) % 628) as f32 / 100.0 - std::f32::consts::PI,
        fire: (t + id).is_multiple_of(2),
    }
}

/// A small crowded map: ships meet, fight, die and respawn; pickups go
/// and come back.
fn crowded() -> GameRoom<Skirmish> {
    let config = SkirmishConfig {
        size: 1200.0,
        pickups: 12,
        walls: 6,
        pickup_respawn_s: 2.0,
        view_radius: 400.0,
        ..SkirmishConfig::default()
    };
    room(&config, 21)
}

/// Before step `t`: players join (a few at a time), one leaves, one
/// drops and comes back, then everyone's input.
fn script(r: &mut GameRoom<Skirmish>, t: u32) {
    if t.is_multiple_of(10) && t < 120 {
        for id in t / 10 * 2 + 1..=t / 10 * 2 + 2 {
            r.join(PlayerId(id), &format!("p{id}")).unwrap();
        }
    }
    match t {
        150 => assert!(r.leave(PlayerId(3), Departure::Left)),
        160 => assert!(r.disconnected(PlayerId(5))),
        300 => r.join(PlayerId(40), "late").unwrap(),
        320 => assert!(r.leave(PlayerId(6), Departure::Expired)),
        330 => assert!(r.resumed(PlayerId(5))),
        _ => {}
    }
    let ids: Vec<u32> = r
        .world()
        .resource::<tickroom::Players>()
        .iter()
        .map(|(p, _)| p.0)
        .collect();
    for id in ids {
        send(r, id, scripted(t, id));
    }
}

fn step(r: &mut GameRoom<Skirmish>, t: u32, events: &mut Vec<OutEvent>) {
    script(r, t);
    r.step();
    r.drain_events(events);
}

fn frame_bytes(r: &mut GameRoom<Skirmish>, tick: u32) -> Vec<u8> {
    let mut frame = Frame::default();
    r.build_frame(tick, &mut frame).expect("frame builds");
    let mut canonical = Canonical::default();
    canonical.write(&frame);
    canonical.bytes().to_vec()
}

fn save(r: &GameRoom<Skirmish>) -> Vec<u8> {
    let mut bytes = Vec::new();
    r.save(&mut bytes).expect("saves");
    bytes
}

/// Whether the room has a bullet in flight, a destroyed ship waiting to
/// respawn and an empty pickup place.
fn busy(r: &mut GameRoom<Skirmish>) -> bool {
    let dead = {
        let world = r.world_mut();
        let mut q = world.query::<&Ship>();
        q.iter(world).any(|s| !s.alive)
    };
    let empty = r
        .world()
        .resource::<Slots>()
        .0
        .iter()
        .any(|s| matches!(s.state, SlotState::Empty { .. }));
    dead && empty && !bullets(r).is_empty()
}

#[test]
fn a_restored_room_builds_the_same_frames_views_and_events_for_150_steps() {
    let mut a = crowded();
    let mut events_a = Vec::new();
    // On past 200 steps (hundreds of bullets spawned and gone) to a step
    // with everything alive at once.
    let mut t = 0;
    while t < 200 || !busy(&mut a) {
        step(&mut a, t, &mut events_a);
        t += 1;
        assert!(t < 1000, "the scenario never got busy");
    }
    let saved_at = t;
    let bytes = save(&a);
    let mut b = crowded();
    b.restore(&bytes).expect("restores");
    assert_eq!(b.steps(), a.steps());
    assert_eq!(b.player_count(), a.player_count());
    assert_eq!(save(&b), bytes, "save, restore, save: the same bytes");
    assert_eq!(frame_bytes(&mut b, saved_at), frame_bytes(&mut a, saved_at));
    assert_eq!(b.views(), a.views());
    assert_eq!(
        b.world().resource::<PressesInCooldown>(),
        a.world().resource::<PressesInCooldown>()
    );
    let (mut events_a, mut events_b) = (Vec::new(), Vec::new());
    let (mut hits, mut respawns) = (0, 0);
    for t in saved_at..saved_at + 150 {
        step(&mut a, t, &mut events_a);
        step(&mut b, t, &mut events_b);
        assert_eq!(events_b, events_a, "events of step {t}");
        assert_eq!(
            frame_bytes(&mut b, t + 1),
            frame_bytes(&mut a, t + 1),
            "frame after step {t}"
        );
        assert!(a.views().is_some());
        assert_eq!(b.views(), a.views(), "views after step {t}");
        hits += of_type::<crate::Hit>(&a, &events_a).len();
        respawns += of_type::<crate::Respawn>(&a, &events_a).len();
        events_a.clear();
        events_b.clear();
    }
    assert!(hits > 0 && respawns > 0, "{hits} hits, {respawns} respawns");
}

#[test]
fn links_and_timers_come_back_on_the_restored_entities() {
    let mut a = crowded();
    let mut events = Vec::new();
    for t in 0..260 {
        step(&mut a, t, &mut events);
    }
    let mut b = crowded();
    b.restore(&save(&a)).unwrap();
    // Each player's link leads to its own ship.
    let links = |r: &mut GameRoom<Skirmish>| {
        let world = r.world_mut();
        let mut q = world.query::<(&tickroom::Player, &OwnShip)>();
        let pairs: Vec<(PlayerId, Entity)> = q.iter(world).map(|(p, o)| (p.id, o.0)).collect();
        let mut out: Vec<(u32, u32)> = pairs
            .into_iter()
            .map(|(p, ship)| (p.0, world.get::<Ship>(ship).expect("a ship").owner))
            .collect();
        out.sort_unstable();
        out
    };
    let la = links(&mut a);
    assert!(la.iter().all(|(p, owner)| p == owner) && !la.is_empty());
    assert_eq!(links(&mut b), la);
    // Pickup places hold pickups of the restored room.
    let world = b.world_mut();
    let held: Vec<Entity> = world
        .resource::<Slots>()
        .0
        .iter()
        .filter_map(|s| match s.state {
            SlotState::Holding(e) => Some(e),
            SlotState::Empty { .. } => None,
        })
        .collect();
    assert!(!held.is_empty());
    for e in held {
        assert!(world.get::<Pickup>(e).is_some());
    }
}

#[test]
fn a_saved_room_of_100_players_takes_tens_of_kib() {
    let mut r = room(&SkirmishConfig::default(), 3);
    for id in 1..=100 {
        r.join(PlayerId(id), &format!("player-{id}")).unwrap();
    }
    let mut events = Vec::new();
    for t in 0..100 {
        for id in 1..=100 {
            send(&mut r, id, scripted(t, id));
        }
        r.step();
        r.drain_events(&mut events);
    }
    let started = std::time::Instant::now();
    let bytes = save(&r);
    let saved_in = started.elapsed();
    let mut back = room(&SkirmishConfig::default(), 3);
    let started = std::time::Instant::now();
    back.restore(&bytes).unwrap();
    let restored_in = started.elapsed();
    println!(
        "a saved skirmish room with 100 players, {} bullets in flight and 40 pickup places: \
         {} bytes (saved in {saved_in:?}, restored in {restored_in:?})",
        bullets(&mut r).len(),
        bytes.len()
    );
    assert!(bytes.len() < 128 * 1024, "{} bytes", bytes.len());
    assert_eq!(frame_bytes(&mut back, 100), frame_bytes(&mut r, 100));
}
