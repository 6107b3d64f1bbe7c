//! What the engine puts in every room's `World` for the game's systems: the
//! [`Replicated`] marker and the [`NetId`] it earns, each player's
//! [`Player`] entity, this step's [`Inputs`], the [`Players`] index, the
//! seeded [`RoomRng`] and the [`StepInfo`] (and, in [`crate::outbox`], the
//! [`crate::Outbox`] for events).
//!
//! These are the only ways a game learns about players, time and chance, so
//! a room that gets the same calls in the same order ends in the same state
//! (recordings replay on it).

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy_ecs::lifecycle::HookContext;
use bevy_ecs::prelude::{Component, Entity, Resource};
use bevy_ecs::world::DeferredWorld;
use tickroom_protocol::state::{Field, FieldType, Scalar, Value};

use crate::wire::{EntityMap, Wire, WireError, read_text, text_type, write_text};

/// A player's id, unique within its room for the room's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PlayerId(pub u32);

impl std::fmt::Display for PlayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Marks an entity whose registered components are sent to clients.
/// Entities without it, and components the game did not register with
/// [`crate::Declare::replicate`], never leave the server. It brings a
/// [`NetId`] along (0 until the engine gives the entity its id).
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[require(NetId)]
#[component(on_add = replicated_added)]
pub struct Replicated;

/// The entities [`Replicated`] was added to since the engine last gave out
/// network ids, in that order.
#[derive(Resource, Debug, Default)]
pub(crate) struct NewlyReplicated(pub(crate) Vec<Entity>);

fn replicated_added(mut world: DeferredWorld<'_>, hook: HookContext) {
    if let Some(mut newly) = world.get_resource_mut::<NewlyReplicated>() {
        newly.0.push(hook.entity);
    }
}

/// The id clients know a replicated entity by: given by the engine after
/// the step in which [`Replicated`] was added, the last added first (so it
/// follows the order of the game's spawns and inserts: a replay, or a room
/// restored from a save, gives the same ids), never reused within a room;
/// 0 before that, and again once `Replicated` is removed (a later
/// `Replicated` earns a new id). It comes with `Replicated` and is set in
/// place, so replicating an entity moves it between archetypes once, not
/// twice.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetId(pub u32);

/// Longest player name, in bytes (the engine cuts longer names).
pub const MAX_PLAYER_NAME_BYTES: u16 = 32;

/// The engine's component on each player's entity, replicated to everyone
/// as the schema's `player` component (`id`, `name`). The engine spawns the
/// entity before [`crate::Game::joined`] and despawns it after
/// [`crate::Game::left`]; the game adds its own components to it.
#[derive(Component, Debug, Clone, PartialEq, Eq)]
pub struct Player {
    /// The player's id.
    pub id: PlayerId,
    /// Its display name (at most [`MAX_PLAYER_NAME_BYTES`]; shared, so a
    /// frame takes it without a copy).
    pub name: Arc<str>,
    /// Whether its connection is up (false while its resume grace runs).
    pub connected: bool,
}

impl Wire for Player {
    const NAME: &'static str = "player";

    fn fields() -> Vec<Field> {
        vec![
            Field::new("id", FieldType::Scalar(Scalar::U32)),
            Field::new("name", text_type(MAX_PLAYER_NAME_BYTES)),
            Field::new("connected", FieldType::Scalar(Scalar::Bool)),
        ]
    }

    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(self.id.0.into()));
        if self.name.len() <= usize::from(MAX_PLAYER_NAME_BYTES) {
            out.push(Value::Text(self.name.clone()));
        } else {
            write_text(&self.name, MAX_PLAYER_NAME_BYTES, out);
        }
        out.push(Value::Int(self.connected.into()));
    }

    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        map: &dyn EntityMap,
    ) -> Result<Self, WireError> {
        use crate::wire::WireField;
        Ok(Player {
            id: PlayerId(u32::read(values, map, "player.id")?),
            name: read_text(values, "player.name")?.into(),
            connected: bool::read(values, map, "player.connected")?,
        })
    }
}

/// One input as a system sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerInput<I> {
    /// Who sent it.
    pub player: PlayerId,
    /// The player's entity.
    pub entity: Entity,
    /// The input, decoded and validated.
    pub input: I,
}

/// The inputs this step applies, in arrival order: every input received
/// since the last step ([`crate::InputMode::Every`]) or each player's newest
/// ([`crate::InputMode::Newest`]). Emptied after every step.
#[derive(Resource, Debug)]
pub struct Inputs<I: Send + Sync + 'static> {
    pub(crate) list: Vec<PlayerInput<I>>,
}

impl<I: Send + Sync + 'static> Inputs<I> {
    /// The inputs, in arrival order.
    pub fn iter(&self) -> std::slice::Iter<'_, PlayerInput<I>> {
        self.list.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none this step.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a, I: Send + Sync + 'static> IntoIterator for &'a Inputs<I> {
    type Item = &'a PlayerInput<I>;
    type IntoIter = std::slice::Iter<'a, PlayerInput<I>>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// The players in the room (connected or within their resume grace) and
/// their entities, in id order.
#[derive(Resource, Debug, Default, Clone)]
pub struct Players {
    pub(crate) by_id: BTreeMap<PlayerId, Entity>,
}

impl Players {
    /// The entity of player `id`.
    pub fn entity(&self, id: PlayerId) -> Option<Entity> {
        self.by_id.get(&id).copied()
    }

    /// Every player and its entity, in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (PlayerId, Entity)> + '_ {
        self.by_id.iter().map(|(&id, &e)| (id, e))
    }

    /// How many players.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the room has no player.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The room's random numbers: SplitMix64 seeded by the engine (the seed is
/// in the recording), so a replay draws the same numbers. The only
/// randomness a game may use.
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub struct RoomRng {
    state: u64,
}

impl RoomRng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Its whole state (a saved room carries it; [`RoomRng::new`] of it
    /// goes on with the same numbers).
    pub(crate) fn state(&self) -> u64 {
        self.state
    }

    /// The next 64 random bits (SplitMix64, Steele, Lea & Flood 2014).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`: the top 24 bits over 2^24 (exact in `f32`).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// `lo + next_f32() * (hi - lo)`.
    pub fn range_f32(&mut self, lo: f32, hi: f32) -> f32 {
        lo + self.next_f32() * (hi - lo)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by Lemire's multiply-shift.
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u64() as u32) * u64::from(n)) >> 32) as u32
    }
}

/// Where the room is in time: the step being run and its length. The game
/// reads time only from here.
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// Steps run before this one (0 during the first).
    pub step: u64,
    /// Steps per second.
    pub rate_hz: u32,
    /// Seconds per step (`1 / rate_hz`).
    pub dt: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_room_rng_is_the_reference_splitmix64_stream() {
        // Reference values for seed 0 (the original C implementation).
        let mut r = RoomRng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn floats_and_ranges_stay_in_their_bounds() {
        let mut r = RoomRng::new(42);
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&r.next_f32()));
            assert!((18.0..=1582.0).contains(&r.range_f32(18.0, 1582.0)));
            assert!(r.below(7) < 7);
        }
        assert_eq!(r.below(0), 0);
    }
}
