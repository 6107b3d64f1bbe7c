//! Health pickups: fixed places drawn at setup, each holding a pickup
//! entity or counting down to the next one. A taken pickup is despawned
//! (clients see it go) and a new entity spawns at the same place later.

use bevy_ecs::entity::MapEntities;
use bevy_ecs::prelude::{Commands, Entity, Local, Mut, Query, Res, ResMut, Resource, World};
use serde::{Deserialize, Serialize};
use tickroom::{Replicated, RoomRng, StepInfo};

use crate::components::{Pickup, Pos, Ship};
use crate::config::{
    MAX_HEALTH, PICKUP_HEAL, PICKUP_RADIUS, SHIP_RADIUS, SkirmishConfig, steps_of,
};
use crate::map::{Map, to_tenths};

/// One pickup place.
#[derive(MapEntities, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub(crate) struct Slot {
    /// Where its pickups spawn (in tenths, as the wire carries it).
    pub at: [f32; 2],
    #[entities]
    pub state: SlotState,
}

/// Whether a place holds a pickup.
#[derive(MapEntities, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Holding(#[entities] Entity),
    /// Empty until this step.
    Empty {
        refill_at: u64,
    },
}

/// The pickup places, in the order they were drawn. Saved with the room,
/// the pickups' entities mapped to the restored ones.
#[derive(Resource, MapEntities, Serialize, Deserialize, Debug, Clone, Default)]
#[component(map_entities)]
pub(crate) struct Slots(#[entities] pub Vec<Slot>);

/// Places `config.pickups` pickups at free spots of the map (drawn from
/// the room's RNG after the walls), each with its entity.
pub(crate) fn place_pickups(world: &mut World, config: &SkirmishConfig) {
    let places: Vec<[f32; 2]> = world.resource_scope(|world, mut rng: Mut<RoomRng>| {
        let map = world.resource::<Map>();
        (0..config.pickups)
            .map(|_| map.free_spot(&mut rng, &[]).map(to_tenths))
            .collect()
    });
    let slots = places
        .into_iter()
        .map(|at| Slot {
            at,
            state: SlotState::Holding(world.spawn(pickup_at(at)).id()),
        })
        .collect();
    world.insert_resource(Slots(slots));
}

/// A pickup entity's components.
fn pickup_at([x, y]: [f32; 2]) -> (Pickup, Pos, Replicated) {
    let pickup = Pickup {
        x,
        y,
        heal: PICKUP_HEAL,
    };
    (pickup, Pos { x, y }, Replicated)
}

/// In place order: a pickup is taken by the lowest-owner live ship that
/// touches it and is not at full health (healed by its `heal`, up to the
/// maximum), and its place refills `pickup_respawn_s` later; an empty
/// place whose time has come gets a new pickup (takeable from the next
/// step).
pub(crate) fn take_and_refill_pickups(
    config: Res<SkirmishConfig>,
    step: Res<StepInfo>,
    mut slots: ResMut<Slots>,
    mut takers: Local<Vec<(u32, Entity)>>,
    mut ships: Query<(Entity, &mut Ship)>,
    pickups: Query<&Pickup>,
    mut commands: Commands,
) {
    takers.clear();
    takers.extend(
        ships
            .iter()
            .filter(|(_, s)| s.alive && s.health < MAX_HEALTH)
            .map(|(e, s)| (s.owner, e)),
    );
    takers.sort_unstable();
    let refill_at = step.step + steps_of(config.pickup_respawn_s, step.rate_hz);
    for slot in &mut slots.0 {
        match slot.state {
            SlotState::Holding(entity) => {
                let Ok(pickup) = pickups.get(entity) else {
                    continue;
                };
                if take(pickup, &takers, &mut ships) {
                    commands.entity(entity).despawn();
                    slot.state = SlotState::Empty { refill_at };
                }
            }
            SlotState::Empty { refill_at } if refill_at <= step.step => {
                slot.state = SlotState::Holding(commands.spawn(pickup_at(slot.at)).id());
            }
            SlotState::Empty { .. } => {}
        }
    }
}

/// Heals the first of `takers` (still below full health) that touches
/// `pickup`; whether one did.
fn take(pickup: &Pickup, takers: &[(u32, Entity)], ships: &mut Query<(Entity, &mut Ship)>) -> bool {
    let reach = (SHIP_RADIUS + PICKUP_RADIUS).powi(2);
    for &(_, entity) in takers {
        let Ok((_, mut ship)) = ships.get_mut(entity) else {
            continue;
        };
        let touches = (ship.x - pickup.x).powi(2) + (ship.y - pickup.y).powi(2) <= reach;
        if touches && ship.health < MAX_HEALTH {
            ship.health = ship.health.saturating_add(pickup.heal).min(MAX_HEALTH);
            return true;
        }
    }
    false
}
