//! The rules as bevy_ecs components, resources and systems, and the schedule
//! that chains them in the documented order.
//!
//! Everything here is crate-private: the server only sees [`crate::Room`], so the
//! ECS layout can change without touching its callers. The arithmetic lives in
//! [`crate::kinematics`]; systems only gather, order and write back.

use bevy_ecs::entity::MapEntities;
use bevy_ecs::prelude::{
    Commands, Component, Entity, Local, Query, Res, ResMut, Resource, With, Without,
};
use glam::Vec2;
use serde::{Deserialize, Serialize};
use tickroom::{Inputs, Player, Replicated, RoomRng};

use crate::input::SteerInput;
use crate::kinematics::{Body, Kinematics, reaches, resolve_bumps, sanitize_steer};
use crate::{PlayerId, SimConfig};

// ---- components ------------------------------------------------------------

// The state a saved room carries exactly (see `Arena::declare`) derives
// serde; `Score` and `Pellet` travel exactly on the wire, so they need not.

/// Circle centre of a player or pellet.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct Position(pub(crate) Vec2);

/// Player velocity, units/s.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct Velocity(pub(crate) Vec2);

/// Held steering direction (already sanitised); persists until the next input.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct Steer(pub(crate) Vec2);

/// Pellets eaten.
#[derive(Component, Debug, Clone, Copy, Default)]
pub(crate) struct Score(pub(crate) u32);

/// Marks a pellet entity and carries its stable slot id.
#[derive(Component, Debug, Clone, Copy)]
pub(crate) struct Pellet {
    pub(crate) id: u16,
}

/// Whether a pellet can be eaten, or how many steps until it respawns.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PelletState {
    Live,
    Dead { respawn_in: u32 },
}

// ---- resources ---------------------------------------------------------------

/// The room's configuration.
#[derive(Resource, Debug, Clone)]
pub(crate) struct Config(pub(crate) SimConfig);

/// Rules 2 and 3's constants, derived once from [`Config`].
#[derive(Resource, Debug, Clone, Copy)]
pub(crate) struct Motion(pub(crate) Kinematics);

/// Whether any pellet was eaten or respawned during the last step.
#[derive(Resource, Serialize, Deserialize, Debug, Clone, Copy, Default)]
pub(crate) struct PelletsChanged(pub(crate) bool);

/// Pellet entities indexed by pellet id, so pellets are visited in id order.
/// Saved with the room, its entities mapped to the restored ones.
#[derive(Resource, MapEntities, Serialize, Deserialize, Debug, Clone, Default)]
#[component(map_entities)]
pub(crate) struct PelletSlots(#[entities] pub(crate) Vec<Entity>);

/// A uniformly random centre for a circle of radius `r` inside the arena:
/// `x` is drawn first, then `y`.
pub(crate) fn random_center(rng: &mut RoomRng, config: &SimConfig, r: f32) -> Vec2 {
    let x = rng.range_f32(r, config.width - r);
    let y = rng.range_f32(r, config.height - r);
    Vec2::new(x, y)
}

// ---- systems -------------------------------------------------------------------

/// Rule 1: the last input of the step for each player becomes its held steer.
pub(crate) fn apply_inputs(inputs: Res<Inputs<SteerInput>>, mut steers: Query<&mut Steer>) {
    for i in &inputs {
        if let Ok(mut steer) = steers.get_mut(i.entity) {
            steer.0 = sanitize_steer(i.input.direction());
        }
    }
}

/// Rules 2 and 3 for every player independently.
pub(crate) fn movement(
    motion: Res<Motion>,
    mut players: Query<(&Steer, &mut Position, &mut Velocity)>,
) {
    let k = motion.0;
    for (steer, mut pos, mut vel) in &mut players {
        (pos.0, vel.0) = k.step(pos.0, vel.0, steer.0);
    }
}

/// Rule 4: pairwise bumps in id order, then bounds again.
pub(crate) fn bump_players(
    config: Res<Config>,
    motion: Res<Motion>,
    mut ids: Local<Vec<(PlayerId, Entity)>>,
    mut bodies: Local<Vec<Body>>,
    mut players: Query<(Entity, &Player, &mut Position, &mut Velocity)>,
) {
    ids.clear();
    ids.extend(
        players
            .iter()
            .map(|(entity, player, _, _)| (player.id, entity)),
    );
    if ids.len() < 2 {
        return;
    }
    ids.sort_unstable_by_key(|&(id, _)| id);
    bodies.clear();
    for &(_, entity) in ids.iter() {
        if let Ok((_, _, pos, vel)) = players.get(entity) {
            bodies.push(Body {
                pos: pos.0,
                vel: vel.0,
            });
        }
    }
    resolve_bumps(&mut bodies, config.0.player_radius, &motion.0);
    for (&(_, entity), body) in ids.iter().zip(bodies.iter()) {
        if let Ok((_, _, mut pos, mut vel)) = players.get_mut(entity) {
            pos.0 = body.pos;
            vel.0 = body.vel;
        }
    }
}

/// Pellets' mutable state; `Without<Player>` proves to bevy that these
/// `Position`s are disjoint from the players' ones read alongside.
type PelletQuery<'w, 's> = Query<
    'w,
    's,
    (&'static mut PelletState, &'static mut Position),
    (With<Pellet>, Without<Player>),
>;

/// Rule 5: in pellet id order, a dead pellet counts down and respawns at 0; a
/// live pellet (including one that just respawned) is eaten by the lowest-id
/// player that reaches it.
#[expect(
    clippy::too_many_arguments,
    reason = "a bevy system's parameters are its data access"
)]
pub(crate) fn eat_and_respawn_pellets(
    config: Res<Config>,
    slots: Res<PelletSlots>,
    mut rng: ResMut<RoomRng>,
    mut commands: Commands,
    mut changed: ResMut<PelletsChanged>,
    mut eaters: Local<Vec<(PlayerId, Entity, Vec2)>>,
    mut players: Query<(Entity, &Player, &Position, &mut Score)>,
    mut pellets: PelletQuery,
) {
    let config = &config.0;
    eaters.clear();
    eaters.extend(
        players
            .iter()
            .map(|(entity, player, pos, _)| (player.id, entity, pos.0)),
    );
    eaters.sort_unstable_by_key(|&(id, _, _)| id);

    let mut any_change = false;
    for &pellet in &slots.0 {
        let Ok((mut state, mut pos)) = pellets.get_mut(pellet) else {
            continue;
        };
        if let PelletState::Dead { respawn_in } = *state {
            let left = respawn_in.saturating_sub(1);
            if left == 0 {
                pos.0 = random_center(&mut rng, config, config.pellet_radius);
                *state = PelletState::Live;
                commands.entity(pellet).insert(Replicated);
                any_change = true;
            } else {
                *state = PelletState::Dead { respawn_in: left };
                continue;
            }
        }
        let eater = eaters.iter().find(|&&(_, _, player_pos)| {
            reaches(
                player_pos,
                pos.0,
                config.player_radius,
                config.pellet_radius,
            )
        });
        if let Some(&(_, entity, _)) = eater {
            if let Ok((_, _, _, mut score)) = players.get_mut(entity) {
                score.0 = score.0.saturating_add(1);
            }
            *state = PelletState::Dead {
                respawn_in: config.pellet_respawn_ticks,
            };
            // A dead pellet leaves clients' frames; it comes back as a new entity.
            commands.entity(pellet).remove::<Replicated>();
            any_change = true;
        }
    }
    changed.0 = any_change;
}
