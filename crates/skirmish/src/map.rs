//! The map: its walls, drawn from the room's seed at setup, and the free
//! spots ships and pickups are placed at. Everything a client must agree on
//! (wall rectangles) is rounded to the wire's tenth of a unit, so the page
//! predicts its ship against exactly the walls the server uses.

use bevy_ecs::prelude::Resource;
use tickroom::RoomRng;

use crate::components::Wall;
use crate::config::SHIP_RADIUS;

/// Candidates drawn for a free spot before falling back to the centre.
const SPAWN_ATTEMPTS: u32 = 32;
/// Candidates drawn for one wall before it is left out.
const WALL_ATTEMPTS: u32 = 16;
/// A wall's thickness range, in units (whatever the map's size).
const WALL_THICKNESS: (f32, f32) = (60.0, 160.0);
/// A wall's length range on the default 6000-unit map (scaled with it).
const WALL_LENGTH: (f32, f32) = (300.0, 900.0);

/// The room's map, inserted at setup.
#[derive(Resource, Debug, Clone, PartialEq)]
pub(crate) struct Map {
    /// The square's side.
    pub size: f32,
    /// The walls, in the order they were drawn (their entities' order).
    pub walls: Vec<Wall>,
}

/// `v` rounded to a tenth: what a `fixed(i32, 10)` field carries.
pub(crate) fn to_tenths(v: f32) -> f32 {
    (v * 10.0).round() / 10.0
}

impl Wall {
    /// Whether `(x, y)` is strictly inside this wall grown by `margin` on
    /// every side (a ship's centre against its radius).
    pub fn contains(&self, x: f32, y: f32, margin: f32) -> bool {
        x > self.x - margin
            && x < self.x + self.w + margin
            && y > self.y - margin
            && y < self.y + self.h + margin
    }
}

impl Map {
    /// A map of side `size` with up to `walls` walls from `rng`. Each wall
    /// is a bar, horizontal or vertical, placed uniformly inside the map; a
    /// draw that would cover the centre or one of `spawn_points` (grown by
    /// a ship's radius) is drawn again, so the centre is always a free spot
    /// and a ship never spawns inside a wall.
    pub fn generate(rng: &mut RoomRng, size: f32, walls: u32, spawn_points: &[[f32; 2]]) -> Self {
        let centre = size / 2.0;
        let clear = |w: &Wall| {
            !w.contains(centre, centre, SHIP_RADIUS)
                && !spawn_points
                    .iter()
                    .any(|&[x, y]| w.contains(x, y, SHIP_RADIUS))
        };
        let walls = (0..walls)
            .filter_map(|_| {
                (0..WALL_ATTEMPTS)
                    .map(|_| random_wall(rng, size))
                    .find(clear)
            })
            .collect();
        Self { size, walls }
    }

    /// Whether a circle of radius `r` centred at `(x, y)` overlaps a wall.
    pub fn blocks(&self, x: f32, y: f32, r: f32) -> bool {
        self.walls.iter().any(|w| w.contains(x, y, r))
    }

    /// A spot for a ship (or a pickup, which must be where a ship can go):
    /// up to [`SPAWN_ATTEMPTS`] candidates uniform in `[r, size − r]²`
    /// (`x` drawn before `y`, `r` the ship's radius), the first clear of
    /// every wall and at least two radii from every point of `ships`;
    /// otherwise the map's centre.
    pub fn free_spot(&self, rng: &mut RoomRng, ships: &[[f32; 2]]) -> [f32; 2] {
        let (lo, hi) = (SHIP_RADIUS, self.size - SHIP_RADIUS);
        let clear = (2.0 * SHIP_RADIUS) * (2.0 * SHIP_RADIUS);
        (0..SPAWN_ATTEMPTS)
            .map(|_| [rng.range_f32(lo, hi), rng.range_f32(lo, hi)])
            .find(|&[x, y]| {
                !self.blocks(x, y, SHIP_RADIUS)
                    && ships
                        .iter()
                        .all(|&[sx, sy]| (sx - x).powi(2) + (sy - y).powi(2) >= clear)
            })
            .unwrap_or([self.size / 2.0; 2])
    }
}

/// One wall: thickness, then length (scaled with the map), then whether it
/// is vertical, then its min corner `x`, `y`; all rounded to tenths.
fn random_wall(rng: &mut RoomRng, size: f32) -> Wall {
    let scale = size / 6000.0;
    let thickness = rng.range_f32(WALL_THICKNESS.0, WALL_THICKNESS.1);
    let length = rng
        .range_f32(WALL_LENGTH.0 * scale, WALL_LENGTH.1 * scale)
        .max(thickness);
    let (w, h) = if rng.below(2) == 0 {
        (length, thickness)
    } else {
        (thickness, length)
    };
    let (w, h) = (to_tenths(w), to_tenths(h));
    Wall {
        x: to_tenths(rng.range_f32(0.0, size - w)),
        y: to_tenths(rng.range_f32(0.0, size - h)),
        w,
        h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walls_are_inside_the_map_clear_of_the_centre_and_in_tenths() {
        for seed in 0..50 {
            let mut rng = RoomRng::new(seed);
            let size = [1000.0, 6000.0][seed as usize % 2];
            let map = Map::generate(&mut rng, size, 30, &[]);
            assert!(!map.walls.is_empty());
            for w in &map.walls {
                assert!(w.x >= 0.0 && w.y >= 0.0, "{w:?}");
                assert!(w.x + w.w <= size + 0.1 && w.y + w.h <= size + 0.1, "{w:?}");
                assert!(w.w.min(w.h) >= WALL_THICKNESS.0 - 0.1, "{w:?}");
                assert!(!w.contains(size / 2.0, size / 2.0, SHIP_RADIUS), "{w:?}");
                for v in [w.x, w.y, w.w, w.h] {
                    assert_eq!(v, to_tenths(v));
                }
            }
        }
    }

    #[test]
    fn a_free_spot_is_clear_of_walls_and_ships_or_the_centre() {
        let mut rng = RoomRng::new(9);
        let map = Map::generate(&mut rng, 6000.0, 40, &[]);
        let ships = [[3000.0, 3000.0], [1000.0, 1000.0]];
        for _ in 0..200 {
            let [x, y] = map.free_spot(&mut rng, &ships);
            assert!(!map.blocks(x, y, SHIP_RADIUS));
            for [sx, sy] in ships {
                assert!((sx - x).hypot(sy - y) >= 2.0 * SHIP_RADIUS);
            }
        }
        let full = Map {
            size: 1000.0,
            walls: vec![Wall {
                x: 0.0,
                y: 0.0,
                w: 1000.0,
                h: 1000.0,
            }],
        };
        assert_eq!(full.free_spot(&mut rng, &[]), [500.0, 500.0]);
    }
}
