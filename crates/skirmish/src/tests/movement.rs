//! Movement follows the formula the page predicts with: held direction
//! times speed, clamped to the map, pushed back out of walls one axis at a
//! time.

use super::*;
use crate::Wall;

/// `from` moved one step with `(mx, my)` at the default speed, per the
/// spec, without walls or edges.
fn spec_step(from: [f32; 2], mx: i8, my: i8) -> [f32; 2] {
    let (dx, dy) = (f32::from(mx) / 127.0, f32::from(my) / 127.0);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let speed = SkirmishConfig::default().ship_speed;
    [
        from[0] + dx / len * speed * DT,
        from[1] + dy / len * speed * DT,
    ]
}

#[test]
fn a_ship_moves_by_its_held_direction_times_its_speed() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    let mut at = [1000.0, 1000.0];
    for (mx, my) in [(127, 0), (127, 127), (64, -30), (0, 0), (-127, 5)] {
        send(&mut r, 1, input(mx, my, 0.0, false));
        for _ in 0..3 {
            // Held until the next input.
            r.step();
            at = spec_step(at, mx, my);
            let s = ship(&mut r, 1);
            assert!(
                (s.x - at[0]).abs() < 1e-3 && (s.y - at[1]).abs() < 1e-3,
                "({mx}, {my}): {s:?}, want {at:?}"
            );
        }
        let s = ship(&mut r, 1);
        let [dx, dy] = spec_step([0.0, 0.0], mx, my);
        assert_eq!([s.vx * DT, s.vy * DT], [dx, dy], "velocity of ({mx}, {my})");
    }
}

#[test]
fn the_newest_input_of_a_step_is_the_held_one() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    send(&mut r, 1, input(127, 0, 0.5, false));
    send(&mut r, 1, input(0, 127, -1.0, false));
    r.step();
    let s = ship(&mut r, 1);
    assert_eq!((s.x, s.aim), (1000.0, -1.0));
    assert!(s.y > 1000.0);
}

#[test]
fn ships_stay_inside_the_map() {
    let size = SkirmishConfig::default().size;
    let mut r = arena(&[(1, [25.0, size - 25.0])]);
    send(&mut r, 1, input(-127, 127, 0.0, false));
    r.step();
    let s = ship(&mut r, 1);
    assert_eq!([s.x, s.y], [20.0, size - 20.0]);
}

#[test]
fn a_wall_pushes_a_ship_back_one_axis_at_a_time() {
    let mut r = arena(&[(1, [1075.0, 1000.0])]);
    // Grown by the ship's radius, it starts at x = 1080.
    let wall = Wall {
        x: 1100.0,
        y: 0.0,
        w: 100.0,
        h: 2000.0,
    };
    set_walls(&mut r, vec![wall]);
    send(&mut r, 1, input(127, 0, 0.0, false));
    r.step();
    assert_eq!(ship(&mut r, 1).x, 1075.0, "x put back");
    // Diagonally into the wall: x stays, y slides.
    send(&mut r, 1, input(127, 127, 0.0, false));
    r.step();
    let s = ship(&mut r, 1);
    assert_eq!(s.x, 1075.0);
    assert!((s.y - spec_step([1075.0, 1000.0], 127, 127)[1]).abs() < 1e-3);
    // Away from it, the ship moves.
    send(&mut r, 1, input(-127, 0, 0.0, false));
    r.step();
    assert!(ship(&mut r, 1).x < 1075.0);
}

#[test]
fn a_disconnected_players_ship_stops() {
    let mut r = arena(&[(1, [1000.0, 1000.0])]);
    send(&mut r, 1, input(127, 0, 0.0, false));
    r.step();
    assert!(r.disconnected(PlayerId(1)));
    let x = ship(&mut r, 1).x;
    r.step();
    assert_eq!(ship(&mut r, 1).x, x);
}
