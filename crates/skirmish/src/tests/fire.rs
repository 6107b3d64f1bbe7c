//! Fire presses: every press between two steps is applied, one bullet per
//! press when the gun is ready, presses in the cooldown ignored and
//! counted; a bullet starts at the muzzle and follows its fixed path.

use super::*;
use crate::{MUZZLE_DISTANCE, PressesInCooldown};

#[test]
fn a_press_between_two_steps_fires_one_bullet_from_the_muzzle() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    // A press, then a release, before the step: the press still counts.
    send(&mut r, 1, input(0, 0, 0.0, true));
    send(&mut r, 1, input(0, 0, 0.0, false));
    r.step();
    let fired = bullets(&mut r);
    let [(bullet, pos)] = fired.as_slice() else {
        panic!("one bullet: {fired:?}")
    };
    let bullet_speed = SkirmishConfig::default().bullet_speed;
    assert_eq!(
        *bullet,
        Bullet {
            owner: 1,
            x0: 1000.0 + MUZZLE_DISTANCE,
            y0: 1000.0,
            vx: bullet_speed,
            vy: 0.0,
            born: 1,
        }
    );
    assert_eq!([pos.x, pos.y], [bullet.x0, bullet.y0]);
}

#[test]
fn presses_in_the_cooldown_are_ignored_and_counted() {
    let cooldown = SkirmishConfig::default().fire_cooldown_steps;
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    for _ in 0..3 {
        send(&mut r, 1, input(0, 0, 0.0, true));
    }
    r.step();
    assert_eq!(bullets(&mut r).len(), 1, "one shot a step at most");
    for _ in 1..cooldown {
        send(&mut r, 1, input(0, 0, 0.0, true));
        r.step();
    }
    assert_eq!(bullets(&mut r).len(), 1, "still cooling down");
    assert_eq!(
        *r.world().resource::<PressesInCooldown>(),
        PressesInCooldown(2 + u64::from(cooldown) - 1)
    );
    send(&mut r, 1, input(0, 0, 0.0, true));
    r.step();
    let fired = bullets(&mut r);
    assert_eq!(fired.len(), 2, "ready again after the cooldown");
    assert_eq!(fired[1].0.born, cooldown + 1);
}

#[test]
fn each_press_fires_with_its_own_aim() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    send(&mut r, 1, input(0, 0, std::f32::consts::FRAC_PI_2, true));
    send(&mut r, 1, input(0, 0, 0.0, false));
    r.step();
    let (b, _) = bullets(&mut r)[0];
    assert_eq!([b.x0, b.y0, b.vx], [1000.0, 1000.0 + MUZZLE_DISTANCE, 0.0]);
    assert_eq!(ship(&mut r, 1).aim, 0.0, "the newest aim is held");
}

#[test]
fn a_bullet_is_where_its_path_says_at_every_step() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    send(&mut r, 1, input(0, 0, 0.7, true));
    r.step();
    let (b, _) = bullets(&mut r)[0];
    for s in 2..20u32 {
        r.step();
        let (now, pos) = bullets(&mut r)[0];
        assert_eq!(now, b, "constant for its whole life");
        let t = (s - b.born) as f32 * DT;
        assert!((pos.x - (b.x0 + b.vx * t)).abs() < 1e-3, "step {s}");
        assert!((pos.y - (b.y0 + b.vy * t)).abs() < 1e-3, "step {s}");
    }
}

#[test]
fn a_destroyed_ship_does_not_fire() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    edit_ship(&mut r, 1, |s| s.alive = false);
    send(&mut r, 1, input(0, 0, 0.0, true));
    r.step();
    assert!(bullets(&mut r).is_empty());
}
