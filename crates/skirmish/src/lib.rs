//! skirmish: tickroom's second bundled game, a top-down free-for-all
//! shooter on a big map (up to 100 players a room) where each player is
//! sent only what its ship sees. The wire contract (component, input and
//! event names and types) is shared with the browser page and the bots;
//! the rules below are exact, because the page predicts its own ship with
//! them.
//!
//! # Entities
//! - Each player's entity gets a [`Score`]. It has no position, so every
//!   player is sent every score, as it is every [`Wall`].
//! - Each player has one [`Ship`] entity (spawned when it joins, despawned
//!   when it leaves) with an [`tickroom::Eye`] of radius `view_radius`: its
//!   player is sent the global entities, its own ship and every ship,
//!   bullet and pickup within that radius ([`Pos`] is the interest
//!   position).
//! - [`Bullet`]s fly on a fixed path; [`Pickup`]s sit at places drawn at
//!   setup; walls are drawn at setup too (rounded to tenths, as the wire
//!   carries them), none covering the centre or a spawn point.
//!
//! A *free spot* is the first of up to 32 candidates uniform in
//! `[r, size − r]²` (`x` drawn before `y`) clear of every wall and two
//! radii from every live ship, or else the map's centre. Ships join at the
//! config's `spawn_points` in join order while it has points left, else at
//! a free spot; they respawn at one; pickup places are drawn the same way
//! at setup.
//!
//! # One step
//! All randomness comes from the room's `RoomRng`, time from `StepInfo`
//! (`dt` seconds a step). In this order:
//! 1. **Controls.** Every input in arrival order sets its ship's held
//!    movement `(mx, my)` and `aim` (the newest wins), alive or not.
//! 2. **Movement**, every live ship: `dir = (mx, my) / 127`, divided by its
//!    length if that is over 1; `v = dir · ship_speed`;
//!    `x' = clamp(x + vx·dt, r, size − r)`, kept only if `(x', y)` is not
//!    strictly inside a wall grown by `r` (else `x' = x`); then
//!    `y' = clamp(y + vy·dt, r, size − r)`, kept only if `(x', y')` is not
//!    (else `y' = y`). `r` = [`SHIP_RADIUS`]. `vx`, `vy` are `v` even when
//!    a wall stops the ship.
//! 3. **Bullets**, in network-id order: a bullet born at step `b` is at
//!    `p(n) = (x0, y0) + (vx, vy)·n·dt` after `n` steps; during step `s` it
//!    flies from `p(n − 1)` to `p(n)`, `n = s + 1 − b`, cut where its
//!    range ends. The first wall or live ship of another owner it meets on
//!    that segment (the nearest along it; a ship when the bullet comes
//!    within `r` of its centre, so a fast bullet never skips one) stops it:
//!    the ship loses [`BULLET_DAMAGE`] health (down to 0). Otherwise it is
//!    despawned once it has flown `bullet_range` or `p(n)` is off the map.
//! 4. **Hits**, in the same order: a `boom` to the players that see the
//!    point, then for a ship a `hit` to the shooter and the victim. At 0
//!    health the ship is destroyed where it is (`alive = false`, velocity
//!    0), the victim's deaths and the shooter's kills (if it is still in
//!    the room) go up, everyone gets a `kill`.
//! 5. **Fire.** Every input with `fire`, in arrival order, fires one bullet
//!    if its ship is alive and `step ≥` the gun's ready step (which then
//!    becomes `step + fire_cooldown_steps`); a press in the cooldown is
//!    counted ([`PressesInCooldown`]). The bullet starts at the ship's
//!    centre + `(cos aim, sin aim) ·` [`MUZZLE_DISTANCE`] with velocity
//!    `(cos aim, sin aim) · bullet_speed`, both rounded to tenths, and
//!    `born = step + 1`: it appears in the next frame at its start.
//! 6. **Pickups**, in place order: a pickup is taken by the lowest-id live
//!    ship below full health within `r +` [`PICKUP_RADIUS`] of it (healed
//!    up to [`MAX_HEALTH`]); its place gets a new pickup entity
//!    `pickup_respawn_s` later.
//! 7. **Respawn**, destroyed ships in owner order: while waiting, the
//!    player gets `respawn { seconds }` whenever the whole seconds left
//!    (rounded up) change, so 3, 2, 1 by default, the first in the step it
//!    died; `respawn_s` after its death the ship respawns at a free spot
//!    with full health.

mod bullets;
mod components;
mod config;
mod map;
mod pickups;
mod ships;
#[cfg(test)]
mod tests;

use bevy_ecs::prelude::{Entity, IntoScheduleConfigs, World};
use tickroom::{Declare, Departure, Game, PlayerId, RoomRng, Setup};

pub use components::{
    Boom, Bullet, Hit, Kill, Pickup, Pos, Respawn, Score, Ship, SkirmishInput, Wall,
};
pub use config::{
    BULLET_DAMAGE, MAX_HEALTH, MUZZLE_DISTANCE, PICKUP_HEAL, PICKUP_RADIUS, SHIP_RADIUS,
    SkirmishConfig,
};
pub use ships::PressesInCooldown;

use bullets::{Impacts, apply_hits, fly_bullets};
use map::Map;
use pickups::{Slots, place_pickups, take_and_refill_pickups};
use ships::{
    Controls, Gun, Life, OwnShip, SpawnPointsTaken, fire, hold_controls, move_ships, respawn_ships,
    spawn_ship,
};

/// The game (see the crate docs for its rules).
#[derive(Debug, Clone, Copy, Default)]
pub struct Skirmish;

impl Game for Skirmish {
    const NAME: &'static str = "skirmish";
    // 2: the engine gives network ids in the order entities become
    // replicated, no longer by entity id, so that a restored room gives the
    // same ones; once bevy reuses entity indices (after a hundred-odd
    // bullets are gone), bullets fired in one step may get theirs in
    // another order than version 1 gave.
    const VERSION: u32 = 2;
    type Input = SkirmishInput;
    type Config = SkirmishConfig;

    fn declare(game: &mut Declare) {
        game.replicate::<Ship>()
            .replicate::<Bullet>()
            .replicate::<Pickup>()
            .replicate::<Wall>()
            .replicate::<Score>()
            .event::<Hit>()
            .event::<Kill>()
            .event::<Respawn>()
            .event::<Boom>()
            .interest::<Pos>(|p| [p.x, p.y]);
        // What a saved room must carry besides the wire's exact bullets,
        // pickups, walls and scores (`tickroom::persist`): ships exactly
        // (the wire's are in tenths), interest positions, held controls,
        // guns' cooldowns, respawn timers, the player-to-ship links, the
        // pickup places and the counters. `Map` is setup's; `Impacts` is
        // empty between steps.
        game.persist::<Ship>()
            .persist::<Pos>()
            .persist::<OwnShip>()
            .persist::<Controls>()
            .persist::<Gun>()
            .persist::<Life>()
            .persist_resource::<Slots>()
            .persist_resource::<PressesInCooldown>()
            .persist_resource::<SpawnPointsTaken>();
    }

    fn setup(room: &mut Setup<'_>, config: &SkirmishConfig) {
        let world = room.world();
        let map = Map::generate(
            &mut world.resource_mut::<RoomRng>(),
            config.size,
            config.walls,
            &config.spawn_points,
        );
        for &wall in &map.walls {
            world.spawn((wall, tickroom::Replicated));
        }
        world.insert_resource(map);
        place_pickups(world, config);
        world.init_resource::<Impacts>();
        world.init_resource::<PressesInCooldown>();
        world.init_resource::<SpawnPointsTaken>();
        room.add_systems(
            (
                hold_controls,
                move_ships,
                fly_bullets,
                apply_hits,
                fire,
                take_and_refill_pickups,
                respawn_ships,
            )
                .chain(),
        );
    }

    /// Refuses movement outside -127..=127 and an aim outside -π..=π (at
    /// the wire's thousandth).
    fn validate_input(input: &SkirmishInput) -> Result<(), &'static str> {
        if input.mx == i8::MIN || input.my == i8::MIN {
            return Err("mx and my must be in -127..=127");
        }
        if !(-MAX_AIM..=MAX_AIM).contains(&input.aim) {
            return Err("aim must be in -pi..=pi radians");
        }
        Ok(())
    }

    fn joined(world: &mut World, player: PlayerId, entity: Entity) {
        world.entity_mut(entity).insert(Score::default());
        spawn_ship(world, player, entity);
    }

    /// Its ship stops while it may come back.
    fn disconnected(world: &mut World, _: PlayerId, entity: Entity) {
        if let Some(&OwnShip(ship)) = world.get::<OwnShip>(entity)
            && let Some(mut controls) = world.get_mut::<Controls>(ship)
        {
            *controls = Controls::default();
        }
    }

    fn left(world: &mut World, _: PlayerId, entity: Entity, _: Departure) {
        if let Some(&OwnShip(ship)) = world.get::<OwnShip>(entity) {
            world.despawn(ship);
        }
    }
}

/// π rounded up to the input's thousandths (what a client sends for π).
const MAX_AIM: f32 = 3142.0 / 1000.0;
