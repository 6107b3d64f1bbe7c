//! Spawn points: the config's `spawn_points` place the first players'
//! ships in join order, the rest spawn at free spots, and walls keep clear
//! of every point.

use tickroom::Departure;

use super::*;

#[test]
fn players_take_the_spawn_points_in_join_order_then_free_spots() {
    let points = vec![[2950.0, 3000.0], [3050.0, 3000.0], [700.0, 700.5]];
    let config = SkirmishConfig {
        spawn_points: points.clone(),
        ..SkirmishConfig::default()
    };
    let mut r = room(&config, 7);
    // Join order, not id order.
    for id in [5, 2, 9, 4] {
        r.join(PlayerId(id), &format!("p{id}")).unwrap();
    }
    for (id, at) in [(5, points[0]), (2, points[1]), (9, points[2])] {
        let s = ship(&mut r, id);
        assert_eq!([s.x, s.y], at, "player {id}");
    }
    // Past the list: a free spot, clear of walls and of the other ships.
    let s = ship(&mut r, 4);
    let map = r.world().resource::<Map>().clone();
    assert!(!map.blocks(s.x, s.y, crate::SHIP_RADIUS), "{s:?}");
    assert!(!points.contains(&[s.x, s.y]), "{s:?}");
    // A player who leaves does not give its point back: the next join gets
    // a free spot too.
    assert!(r.leave(PlayerId(5), Departure::Left));
    r.join(PlayerId(6), "p6").unwrap();
    let s = ship(&mut r, 6);
    assert_ne!([s.x, s.y], points[0]);
}

#[test]
fn walls_keep_clear_of_the_spawn_points() {
    // Many walls on a small map, so that unconstrained draws would cover
    // some of the points.
    let points: Vec<[f32; 2]> = (0..40)
        .map(|i| {
            [
                100.0 + 200.0 * (i % 5) as f32,
                100.0 + 200.0 * (i / 5 % 5) as f32,
            ]
        })
        .collect();
    for seed in 0..20 {
        let config = SkirmishConfig {
            size: 1000.0,
            walls: 100,
            pickups: 0,
            spawn_points: points.clone(),
            ..SkirmishConfig::default()
        };
        let r = room(&config, seed);
        let map = r.world().resource::<Map>().clone();
        assert!(!map.walls.is_empty(), "seed {seed}: some walls fit");
        for &[x, y] in &points {
            assert!(
                !map.blocks(x, y, crate::SHIP_RADIUS),
                "seed {seed}: a wall covers ({x}, {y})"
            );
        }
    }
    // The same seed without spawn points draws a wall over one of them.
    let config = SkirmishConfig {
        size: 1000.0,
        walls: 100,
        pickups: 0,
        ..SkirmishConfig::default()
    };
    let r = room(&config, 0);
    let map = r.world().resource::<Map>().clone();
    assert!(
        points
            .iter()
            .any(|&[x, y]| map.blocks(x, y, crate::SHIP_RADIUS))
    );
}
