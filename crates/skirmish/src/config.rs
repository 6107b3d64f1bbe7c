//! A room's settings ([`SkirmishConfig`], the room API's `config`) and the
//! fixed rules that are not settings (radii, damage, health), in one place
//! so the rules, the tests and the docs read the same numbers.

use bevy_ecs::prelude::Resource;
use serde::{Deserialize, Serialize};
use tickroom::RoomConfig;

/// A ship's radius: for walls, the map's edge, bullets and pickups.
pub const SHIP_RADIUS: f32 = 20.0;
/// A ship's health when it spawns, and the most a pickup heals it to.
pub const MAX_HEALTH: u8 = 100;
/// Health a bullet takes from the ship it hits.
pub const BULLET_DAMAGE: u8 = 20;
/// How far from a ship's centre its bullets start (just outside its hull).
pub const MUZZLE_DISTANCE: f32 = SHIP_RADIUS + 2.0;
/// A pickup's radius: a ship takes it when their circles touch.
pub const PICKUP_RADIUS: f32 = 16.0;
/// Health a pickup gives (up to [`MAX_HEALTH`]).
pub const PICKUP_HEAL: u8 = 25;

/// A room's settings (`POST /rooms {"game": "skirmish", "config": {...}}`):
/// fields left out take their defaults, unknown ones are refused. Lengths
/// are in map units, speeds in units per second. The step rate is the
/// server's, so it is not here.
#[derive(Resource, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SkirmishConfig {
    /// The square map's side.
    pub size: f32,
    /// How far a player sees from its ship.
    pub view_radius: f32,
    /// A ship's speed at full deflection.
    pub ship_speed: f32,
    /// A bullet's speed.
    pub bullet_speed: f32,
    /// How far a bullet flies.
    pub bullet_range: f32,
    /// Steps between two shots of one ship.
    pub fire_cooldown_steps: u32,
    /// Seconds a destroyed ship waits before it respawns.
    pub respawn_s: f32,
    /// Health pickups on the map.
    pub pickups: u32,
    /// Seconds before a taken pickup comes back.
    pub pickup_respawn_s: f32,
    /// Walls on the map.
    pub walls: u32,
    /// Where ships spawn when their players join, `[x, y]` each, taken in
    /// join order: the n-th player to join gets the n-th point. Players
    /// past the end of the list, and every respawn, get a free spot; empty
    /// (the default) means every ship spawns at a free spot. Walls are
    /// drawn clear of these points, as of the map's centre, so a ship never
    /// spawns inside one (another ship may be there). For tests, tutorials
    /// and staged matches.
    pub spawn_points: Vec<[f32; 2]>,
}

impl Default for SkirmishConfig {
    fn default() -> Self {
        Self {
            size: 6000.0,
            view_radius: 900.0,
            ship_speed: 300.0,
            bullet_speed: 900.0,
            bullet_range: 1200.0,
            fire_cooldown_steps: 4,
            respawn_s: 3.0,
            pickups: 40,
            pickup_respawn_s: 10.0,
            walls: 12,
            spawn_points: Vec::new(),
        }
    }
}

/// `Ok` if `value` is in `[lo, hi]` (a NaN never is).
fn within(field: &str, value: f32, lo: f32, hi: f32) -> Result<(), String> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!("`{field}` must be in [{lo}, {hi}], got {value}"))
    }
}

/// `Ok` if `value` is in `(0, hi]`.
fn positive(field: &str, value: f32, hi: f32) -> Result<(), String> {
    if value > 0.0 && value <= hi {
        Ok(())
    } else {
        Err(format!(
            "`{field}` must be more than 0 and at most {hi}, got {value}"
        ))
    }
}

/// Spawn points a config may list (more than a room's players, with room
/// for staged matches).
const MAX_SPAWN_POINTS: usize = 1000;

/// `Ok` if every spawn point is on a map of side `size` where a ship fits:
/// `[r, size − r]` on both axes.
fn spawn_points(points: &[[f32; 2]], size: f32) -> Result<(), String> {
    if points.len() > MAX_SPAWN_POINTS {
        return Err(format!(
            "`spawn_points` may list at most {MAX_SPAWN_POINTS} points, got {}",
            points.len()
        ));
    }
    let (lo, hi) = (SHIP_RADIUS, size - SHIP_RADIUS);
    match points
        .iter()
        .position(|p| !p.iter().all(|v| (lo..=hi).contains(v)))
    {
        Some(i) => Err(format!(
            "`spawn_points[{i}]` must be on the map, each coordinate in [{lo}, {hi}] for `size` {size}, got {:?}",
            points[i]
        )),
        None => Ok(()),
    }
}

/// `Ok` if `value` is in `[lo, hi]`.
fn count(field: &str, value: u32, lo: u32, hi: u32) -> Result<(), String> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(format!("`{field}` must be in [{lo}, {hi}], got {value}"))
    }
}

impl RoomConfig for SkirmishConfig {
    /// The bounds keep the rules sound: at 10 steps a second or more a ship
    /// moves at most 100 units a step, no more than the thinnest wall is
    /// thick for its centre (walls stop ships by position, not by sweep); a
    /// countdown fits its `u8`; the map fits the wire's fixed-point `i32`;
    /// and a ship fires at most once a step.
    fn validate(&self) -> Result<(), String> {
        within("size", self.size, 1000.0, 100_000.0)?;
        positive("view_radius", self.view_radius, 100_000.0)?;
        positive("ship_speed", self.ship_speed, 1000.0)?;
        positive("bullet_speed", self.bullet_speed, 20_000.0)?;
        positive("bullet_range", self.bullet_range, 100_000.0)?;
        count("fire_cooldown_steps", self.fire_cooldown_steps, 1, 10_000)?;
        positive("respawn_s", self.respawn_s, 60.0)?;
        count("pickups", self.pickups, 0, 1000)?;
        positive("pickup_respawn_s", self.pickup_respawn_s, 3600.0)?;
        count("walls", self.walls, 0, 100)?;
        spawn_points(&self.spawn_points, self.size)
    }
}

/// `seconds` as a whole number of steps at `rate_hz`, at least 1.
pub(crate) fn steps_of(seconds: f32, rate_hz: u32) -> u64 {
    ((seconds * rate_hz as f32).round() as u64).max(1)
}
