//! Bullets against ships, walls, range and the map's edge; a kill, its
//! scores, its events and the respawn that follows.

use super::*;
use crate::{BULLET_DAMAGE, Boom, Hit, Kill, MAX_HEALTH, Respawn, Score, Wall};

/// Player 1 at (1000, 1000) fires along +x at player 2 at (1200, 1000):
/// the bullet starts at 1022 and flies 45 units a step, so it first comes
/// within 20 of player 2 (at x = 1180) in its fourth step of flight.
fn shootout() -> GameRoom<Skirmish> {
    let mut r = arena(&[(1, [1000.0, 1000.0]), (2, [1200.0, 1000.0])]);
    send(&mut r, 1, input(0, 0, 0.0, true));
    r
}

fn score(r: &mut GameRoom<Skirmish>, id: u32) -> Score {
    let e = r
        .world()
        .resource::<tickroom::Players>()
        .entity(PlayerId(id));
    *r.world().get::<Score>(e.unwrap()).unwrap()
}

#[test]
fn a_hit_takes_damage_and_tells_the_shooter_and_the_victim_only() {
    let mut r = shootout();
    let mut events = Vec::new();
    steps(&mut r, 4, &mut events);
    assert_eq!(ship(&mut r, 2).health, MAX_HEALTH, "not there yet");
    assert_eq!(bullets(&mut r).len(), 1);
    steps(&mut r, 1, &mut events);
    assert_eq!(ship(&mut r, 2).health, MAX_HEALTH - BULLET_DAMAGE);
    assert!(bullets(&mut r).is_empty(), "the bullet is spent");
    let hit = Hit {
        shooter: 1,
        victim: 2,
        damage: BULLET_DAMAGE,
        health: MAX_HEALTH - BULLET_DAMAGE,
    };
    let hits = of_type::<Hit>(&r, &events);
    assert_eq!(
        hits,
        only(&[1, 2])
            .into_iter()
            .map(|a| (a, hit))
            .collect::<Vec<_>>()
    );
    // A boom where the bullet met the ship, to both (each sees it).
    let booms = of_type::<Boom>(&r, &events);
    let boom = Boom {
        x: 1180.0,
        y: 1000.0,
    };
    assert_eq!(
        booms,
        only(&[1, 2])
            .into_iter()
            .map(|a| (a, boom))
            .collect::<Vec<_>>()
    );
    assert!(of_type::<Kill>(&r, &events).is_empty());
}

#[test]
fn a_boom_reaches_only_the_players_that_see_it() {
    let mut r = shootout();
    r.join(PlayerId(3), "far").unwrap();
    place(&mut r, 3, [5000.0, 5000.0]);
    let mut events = Vec::new();
    steps(&mut r, 5, &mut events);
    let to: Vec<Audience> = of_type::<Boom>(&r, &events)
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(to, only(&[1, 2]));
}

#[test]
fn a_kill_scores_tells_everyone_counts_down_to_the_victim_and_respawns_it() {
    let mut r = shootout();
    r.join(PlayerId(3), "watcher").unwrap();
    place(&mut r, 3, [5000.0, 5000.0]);
    edit_ship(&mut r, 2, |s| s.health = BULLET_DAMAGE);
    let mut events = Vec::new();
    steps(&mut r, 5, &mut events);
    let dead = ship(&mut r, 2);
    assert!(!dead.alive && dead.health == 0, "{dead:?}");
    assert_eq!(
        (dead.x, dead.y, dead.vx, dead.vy),
        (1200.0, 1000.0, 0.0, 0.0)
    );
    assert_eq!(
        score(&mut r, 2),
        Score {
            kills: 0,
            deaths: 1
        }
    );
    assert_eq!(
        score(&mut r, 1),
        Score {
            kills: 1,
            deaths: 0
        }
    );
    let kill = Kill {
        killer: 1,
        victim: 2,
    };
    assert_eq!(of_type::<Kill>(&r, &events), [(Audience::All, kill)]);
    // The countdown: 3 in the step it died, then once a second.
    let countdown = |r: &GameRoom<Skirmish>, events: &[OutEvent]| {
        of_type::<Respawn>(r, events)
            .into_iter()
            .map(|(to, e)| (to, e.seconds))
            .collect::<Vec<_>>()
    };
    let victim = Audience::Only(PlayerId(2));
    assert_eq!(countdown(&r, &events), [(victim, 3)]);
    events.clear();
    // A destroyed ship does not move and is not hit.
    send(&mut r, 2, input(127, 0, 0.0, false));
    send(&mut r, 1, input(0, 0, 0.0, true));
    steps(&mut r, RATE, &mut events);
    assert_eq!(countdown(&r, &events), [(victim, 2)]);
    assert_eq!(ship(&mut r, 2).x, 1200.0);
    assert!(of_type::<Hit>(&r, &events).is_empty());
    steps(&mut r, RATE, &mut events);
    assert_eq!(countdown(&r, &events), [(victim, 2), (victim, 1)]);
    steps(&mut r, RATE - 1, &mut events);
    assert!(!ship(&mut r, 2).alive, "one step to go");
    steps(&mut r, 1, &mut events);
    let back = ship(&mut r, 2);
    assert!(back.alive && back.health == MAX_HEALTH, "{back:?}");
    assert_eq!(countdown(&r, &events).len(), 2, "no countdown after");
}

#[test]
fn a_bullet_is_spent_at_its_range() {
    let config = SkirmishConfig::default();
    let mut r = arena(&[(1, [1000.0, 3000.0])]);
    send(&mut r, 1, input(0, 0, 0.0, true));
    // It flies ceil(range / (speed·dt)) steps after the step that fired it.
    let flights = (config.bullet_range / (config.bullet_speed * DT)).ceil() as u32;
    let mut events = Vec::new();
    steps(&mut r, flights, &mut events);
    let (b, pos) = bullets(&mut r)[0];
    assert!(pos.x - b.x0 < config.bullet_range);
    steps(&mut r, 1, &mut events);
    assert!(bullets(&mut r).is_empty());
    assert!(events.is_empty(), "no boom in the air: {events:?}");
}

#[test]
fn a_wall_stops_a_bullet_where_it_enters() {
    let mut r = arena(&[(1, [1000.0, 1000.0]), (2, [1500.0, 1000.0])]);
    let wall = Wall {
        x: 1300.0,
        y: 900.0,
        w: 100.0,
        h: 200.0,
    };
    set_walls(&mut r, vec![wall]);
    send(&mut r, 1, input(0, 0, 0.0, true));
    let mut events = Vec::new();
    steps(&mut r, 15, &mut events);
    assert!(bullets(&mut r).is_empty());
    assert_eq!(ship(&mut r, 2).health, MAX_HEALTH, "behind the wall");
    let booms: Vec<Boom> = of_type::<Boom>(&r, &events)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        booms,
        [Boom {
            x: 1300.0,
            y: 1000.0
        }; 2],
        "one per player seeing it"
    );
}

#[test]
fn a_bullet_leaving_the_map_is_despawned() {
    let size = SkirmishConfig::default().size;
    let mut r = arena(&[(1, [size - 100.0, 1000.0])]);
    send(&mut r, 1, input(0, 0, 0.0, true));
    let mut events = Vec::new();
    // Starts at size - 78: within the map after one step, out after two.
    steps(&mut r, 2, &mut events);
    assert_eq!(bullets(&mut r).len(), 1);
    steps(&mut r, 1, &mut events);
    assert!(bullets(&mut r).is_empty());
    assert!(events.is_empty());
}

#[test]
fn a_fast_bullet_does_not_pass_through_a_ship() {
    let config = SkirmishConfig {
        bullet_speed: 20_000.0,
        bullet_range: 5000.0,
        ..bare()
    };
    let mut r = room(&config, 1);
    for (id, at) in [(1, [1000.0, 1000.0]), (2, [1700.0, 1010.0])] {
        r.join(PlayerId(id), "p").unwrap();
        place(&mut r, id, at);
    }
    // 1000 units a step: from 1022 to 2022 in one, past the ship.
    send(&mut r, 1, input(0, 0, 0.0, true));
    let mut events = Vec::new();
    steps(&mut r, 2, &mut events);
    assert_eq!(ship(&mut r, 2).health, MAX_HEALTH - BULLET_DAMAGE);
}
