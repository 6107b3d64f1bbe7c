//! Ships: spawned with their players, steered by held controls, firing on
//! presses, respawning after a countdown. The state clients never see (held
//! movement, the gun's cooldown, the respawn timer) lives here too.

use bevy_ecs::prelude::{
    Commands, Component, Entity, Local, Mut, Query, Res, ResMut, Resource, World,
};
use serde::{Deserialize, Serialize};
use tickroom::{Eye, Inputs, Outbox, PlayerId, Replicated, RoomRng, StepInfo};

use crate::components::{Bullet, Pos, Respawn, Ship, SkirmishInput};
use crate::config::{MAX_HEALTH, MUZZLE_DISTANCE, SHIP_RADIUS, SkirmishConfig};
use crate::map::{Map, to_tenths};

// Everything here but `live_centres` is saved with the room (serde; see
// `Skirmish::declare`), the ship link mapped to the restored entity.

/// On a player's entity: its ship.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy)]
pub(crate) struct OwnShip(#[entities] pub Entity);

/// A ship's held movement, from its player's newest input.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct Controls {
    pub mx: i8,
    pub my: i8,
}

/// A ship's gun: the first step it may fire at.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct Gun {
    pub ready_at: u64,
}

/// A destroyed ship's respawn timer (meaningless while it is alive).
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct Life {
    /// The step it respawns during.
    pub respawn_at: u64,
    /// The last countdown second sent to its player (0: none yet).
    pub announced: u8,
}

/// Fire presses ignored because their ship's gun was cooling down, since
/// the room began (not an error: a client may press as often as it likes).
#[derive(Resource, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PressesInCooldown(pub u64);

/// Centres of the live ships, for a free spot away from them.
fn live_centres(ships: impl Iterator<Item = Ship>) -> Vec<[f32; 2]> {
    ships.filter(|s| s.alive).map(|s| [s.x, s.y]).collect()
}

/// How many of the config's `spawn_points` joining players have taken.
#[derive(Resource, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct SpawnPointsTaken(pub usize);

/// Spawns `player`'s ship at the next of the config's spawn points, or at
/// a free spot once they are all taken, and links it to the player's entity
/// `entity`.
pub(crate) fn spawn_ship(world: &mut World, player: PlayerId, entity: Entity) {
    let config = world.resource::<SkirmishConfig>();
    let view_radius = config.view_radius;
    let taken = world.resource::<SpawnPointsTaken>().0;
    let point = config.spawn_points.get(taken).copied();
    let [x, y] = match point {
        Some(point) => {
            world.resource_mut::<SpawnPointsTaken>().0 += 1;
            point
        }
        None => {
            let others = live_centres(world.query::<&Ship>().iter(world).copied());
            world.resource_scope(|world, mut rng: Mut<RoomRng>| {
                world.resource::<Map>().free_spot(&mut rng, &others)
            })
        }
    };
    let ship = Ship {
        owner: player.0,
        x,
        y,
        vx: 0.0,
        vy: 0.0,
        aim: 0.0,
        health: MAX_HEALTH,
        alive: true,
    };
    let eye = Eye {
        player,
        radius: view_radius,
    };
    let id = world
        .spawn((
            ship,
            Pos { x, y },
            eye,
            Replicated,
            Controls::default(),
            Gun::default(),
            Life::default(),
        ))
        .id();
    world.entity_mut(entity).insert(OwnShip(id));
}

/// The held controls of every input, in arrival order (the newest wins):
/// movement and aim, alive or not.
pub(crate) fn hold_controls(
    inputs: Res<Inputs<SkirmishInput>>,
    owners: Query<&OwnShip>,
    mut ships: Query<(&mut Controls, &mut Ship)>,
) {
    for i in &inputs {
        let Ok(&OwnShip(ship)) = owners.get(i.entity) else {
            continue;
        };
        if let Ok((mut controls, mut ship)) = ships.get_mut(ship) {
            *controls = Controls {
                mx: i.input.mx,
                my: i.input.my,
            };
            ship.aim = i.input.aim;
        }
    }
}

/// The unit-or-shorter direction of held movement `(mx, my)`.
pub(crate) fn direction(mx: i8, my: i8) -> [f32; 2] {
    let (dx, dy) = (f32::from(mx) / 127.0, f32::from(my) / 127.0);
    let len = (dx * dx + dy * dy).sqrt();
    if len > 1.0 {
        [dx / len, dy / len]
    } else {
        [dx, dy]
    }
}

/// Moves every live ship one step: `v = direction · speed`, each axis
/// clamped to `[r, size − r]`; then `x` is put back if the centre is
/// inside a wall grown by `r`, then `y` likewise (so a ship slides along
/// a wall).
pub(crate) fn move_ships(
    config: Res<SkirmishConfig>,
    map: Res<Map>,
    step: Res<StepInfo>,
    mut ships: Query<(&Controls, &mut Ship, &mut Pos)>,
) {
    let (lo, hi) = (SHIP_RADIUS, map.size - SHIP_RADIUS);
    for (controls, mut ship, mut pos) in &mut ships {
        if !ship.alive {
            continue;
        }
        let [dx, dy] = direction(controls.mx, controls.my);
        let (vx, vy) = (dx * config.ship_speed, dy * config.ship_speed);
        let mut x = (ship.x + vx * step.dt).clamp(lo, hi);
        if map.blocks(x, ship.y, SHIP_RADIUS) {
            x = ship.x;
        }
        let mut y = (ship.y + vy * step.dt).clamp(lo, hi);
        if map.blocks(x, y, SHIP_RADIUS) {
            y = ship.y;
        }
        *ship = Ship {
            x,
            y,
            vx,
            vy,
            ..*ship
        };
        *pos = Pos { x, y };
    }
}

/// One bullet per fire press, in arrival order, from a live ship whose gun
/// is ready, aimed by that press's own `aim`; its start and velocity are
/// rounded to tenths (what clients get), so they compute exactly the
/// server's path.
pub(crate) fn fire(
    inputs: Res<Inputs<SkirmishInput>>,
    config: Res<SkirmishConfig>,
    step: Res<StepInfo>,
    owners: Query<&OwnShip>,
    mut guns: Query<(&Ship, &mut Gun)>,
    mut in_cooldown: ResMut<PressesInCooldown>,
    mut commands: Commands,
) {
    for i in inputs.iter().filter(|i| i.input.fire) {
        let Ok(&OwnShip(ship)) = owners.get(i.entity) else {
            continue;
        };
        let Ok((ship, mut gun)) = guns.get_mut(ship) else {
            continue;
        };
        if !ship.alive {
            continue;
        }
        if step.step < gun.ready_at {
            in_cooldown.0 += 1;
            continue;
        }
        gun.ready_at = step.step + u64::from(config.fire_cooldown_steps);
        let (sin, cos) = i.input.aim.sin_cos();
        let bullet = Bullet {
            owner: ship.owner,
            x0: to_tenths(ship.x + cos * MUZZLE_DISTANCE),
            y0: to_tenths(ship.y + sin * MUZZLE_DISTANCE),
            vx: to_tenths(cos * config.bullet_speed),
            vy: to_tenths(sin * config.bullet_speed),
            born: u32::try_from(step.step + 1).unwrap_or(u32::MAX),
        };
        let pos = Pos {
            x: bullet.x0,
            y: bullet.y0,
        };
        commands.spawn((bullet, pos, Replicated));
    }
}

/// Destroyed ships, in owner order: each sends its player the countdown's
/// whole seconds left when they change, and respawns when its time comes
/// at a free spot (away from the live ships) with full health.
pub(crate) fn respawn_ships(
    step: Res<StepInfo>,
    map: Res<Map>,
    mut rng: ResMut<RoomRng>,
    mut outbox: ResMut<Outbox>,
    mut waiting: Local<Vec<(u32, Entity)>>,
    mut ships: Query<(Entity, &mut Ship, &mut Pos, &mut Life)>,
) {
    waiting.clear();
    waiting.extend(
        ships
            .iter()
            .filter(|(_, s, _, _)| !s.alive)
            .map(|(e, s, _, _)| (s.owner, e)),
    );
    waiting.sort_unstable();
    for &(owner, entity) in waiting.iter() {
        let Ok((_, _, _, mut life)) = ships.get_mut(entity) else {
            continue;
        };
        let left = life.respawn_at.saturating_sub(step.step);
        if left > 0 {
            let seconds = u8::try_from(left.div_ceil(u64::from(step.rate_hz))).unwrap_or(u8::MAX);
            if life.announced != seconds {
                life.announced = seconds;
                outbox.to(PlayerId(owner), &Respawn { seconds });
            }
            continue;
        }
        let others = live_centres(ships.iter().map(|(_, s, _, _)| *s));
        let [x, y] = map.free_spot(&mut rng, &others);
        if let Ok((_, mut ship, mut pos, _)) = ships.get_mut(entity) {
            *ship = Ship {
                x,
                y,
                health: MAX_HEALTH,
                alive: true,
                ..*ship
            };
            *pos = Pos { x, y };
        }
    }
}
