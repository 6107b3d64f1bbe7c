//! Pickups heal a damaged ship that touches them and come back at the same
//! place after their delay, as a new entity.

use super::*;
use crate::{MAX_HEALTH, PICKUP_HEAL};

/// `d` units beside `pickup`, toward the map's middle.
fn beside(pickup: &Pickup, d: f32) -> [f32; 2] {
    let toward_middle = if pickup.x < bare().size / 2.0 {
        1.0
    } else {
        -1.0
    };
    [pickup.x + toward_middle * d, pickup.y]
}

/// A room with one pickup that refills after one second, and player 1's
/// ship 100 units from it.
fn one_pickup() -> (GameRoom<Skirmish>, Pickup) {
    let config = SkirmishConfig {
        pickups: 1,
        pickup_respawn_s: 1.0,
        ..bare()
    };
    let mut r = room(&config, 5);
    let [pickup] = pickups(&mut r)[..] else {
        panic!("one pickup")
    };
    r.join(PlayerId(1), "p").unwrap();
    place(&mut r, 1, beside(&pickup, 100.0));
    (r, pickup)
}

#[test]
fn a_damaged_ship_takes_a_pickup_and_it_comes_back_at_the_same_place() {
    let (mut r, pickup) = one_pickup();
    assert_eq!(pickup.heal, PICKUP_HEAL);
    edit_ship(&mut r, 1, |s| s.health = 50);
    r.step();
    assert_eq!(pickups(&mut r).len(), 1, "out of reach");
    place(&mut r, 1, beside(&pickup, 30.0));
    r.step();
    assert_eq!(ship(&mut r, 1).health, 50 + PICKUP_HEAL);
    assert!(pickups(&mut r).is_empty(), "taken");
    place(&mut r, 1, beside(&pickup, 500.0));
    for _ in 1..RATE {
        r.step();
        assert!(pickups(&mut r).is_empty(), "not yet");
    }
    r.step();
    assert_eq!(pickups(&mut r), [pickup], "back where it was");
}

#[test]
fn healing_stops_at_full_health_and_a_full_ship_leaves_the_pickup() {
    let (mut r, pickup) = one_pickup();
    place(&mut r, 1, [pickup.x, pickup.y]);
    r.step();
    assert_eq!(pickups(&mut r).len(), 1, "not needed at full health");
    edit_ship(&mut r, 1, |s| s.health = MAX_HEALTH - 1);
    r.step();
    assert_eq!(ship(&mut r, 1).health, MAX_HEALTH);
    assert!(pickups(&mut r).is_empty());
}
