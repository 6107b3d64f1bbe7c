//! The [`Game`] trait: everything a studio writes to put its game on
//! tickroom, in one place. Its name and version, its input type and how
//! inputs arrive, its room config, its declarations (replicated components,
//! events), the per-room setup (resources, systems, the map) and the hooks
//! the engine calls as players come and go.
//!
//! # Determinism
//! A room's whole state must follow from its seed, its config and the calls
//! the engine makes (joins, leaves, inputs, steps), in order: recordings
//! replay on that, and hand-offs restore on it. So a game:
//! - draws randomness only from [`crate::RoomRng`], never `rand::thread_rng`
//!   or a `HashMap` with a random hasher it iterates;
//! - reads time only from [`crate::StepInfo`] (steps, not the clock);
//! - gets inputs only from [`crate::Inputs`];
//! - orders anything whose order matters by a stable key ([`crate::NetId`],
//!   [`crate::PlayerId`], its own ids), never by `Entity` or query order: a
//!   replay reproduces those, but a restored room has other entity ids and
//!   another storage order;
//! - persists the state a hand-off must carry (below).
//!
//! The engine runs the room's schedule with the single-threaded executor, so
//! systems run in the order their `.chain()` and `.before()` say and never in
//! parallel.
//!
//! # Hand-offs and snapshots
//! A room saves to bytes ([`crate::Room::save`]) and restores into a new
//! room of the same game, config, seed and step rate, in another process
//! ([`crate::Room::restore`]): a live room handed off between nodes, or one
//! brought back after a crash from its last periodic snapshot. The engine
//! saves its own state (the step, the [`crate::RoomRng`], network ids,
//! players, eyes), every replicated component as its wire values (quantized
//! as clients see them, entity references as network ids) and, exactly
//! (serde), what the game persists with [`Declare::persist`] and
//! [`Declare::persist_resource`]. Setup runs again on a restore, so what it
//! derives from the config and seed and never changes needs nothing. The
//! rule: persist every component and resource that changes in play and is
//! not exactly replicated (timers, velocities, held controls, positions the
//! wire quantizes, links between entities), and mark its entity fields
//! `#[entities]` so they follow the restored entities. A restored room then
//! goes on exactly as the saved one would have. See [`crate::persist`].

use bevy_ecs::prelude::{IntoScheduleConfigs, Resource, Schedule, World};
use bevy_ecs::system::ScheduleSystem;
use serde::{Serialize, de::DeserializeOwned};

use crate::declare::Declare;
use crate::wire::Wire;
use crate::world::PlayerId;

/// How a game receives inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputMode {
    /// Every input, in arrival order, at the next step (a press between two
    /// steps is never lost). The default.
    #[default]
    Every,
    /// Only each player's newest input at the next step (for held
    /// controls, where an older input is stale).
    Newest,
}

/// A room's settings, from the `config` of the room API's create body (a
/// JSON object; fields left out take their defaults, so derive `Default`
/// and put `#[serde(default, deny_unknown_fields)]` on it). Inserted into
/// the room's `World` as a resource, so systems read it with `Res<C>`.
pub trait RoomConfig: Resource + Serialize + DeserializeOwned + Default + Clone {
    /// Checks the values; the message is returned to the API caller (a 400)
    /// or the joining client (close 1008).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Why a player may not join (the reason reaches the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Why a player leaves the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// It left on purpose or was thrown out.
    Left,
    /// Its resume grace ran out.
    Expired,
}

/// A game (see the module docs). Implement it on a unit struct; every
/// function is called by the engine, in a room's `World`.
pub trait Game: Send + Sync + Sized + 'static {
    /// The game's name: in the room API (`"game": "arena"`), the schema and
    /// recordings. ASCII letters, digits, `_` or `-`.
    const NAME: &'static str;
    /// Bump it whenever a change makes the same inputs give other frames:
    /// recordings of another version are refused, not misreplayed.
    const VERSION: u32;
    /// How inputs arrive (default: every one).
    const INPUTS: InputMode = InputMode::Every;

    /// What a player sends (`#[derive(Wire)]`). Inputs are decoded and
    /// checked against the field types before [`Game::validate_input`].
    type Input: Wire + Clone + std::fmt::Debug;
    /// A room's settings.
    type Config: RoomConfig;

    /// Declares the replicated components and the events.
    fn declare(game: &mut Declare);

    /// Sets up a new room: resources, systems, the initial entities.
    fn setup(room: &mut Setup<'_>, config: &Self::Config);

    /// Checks an input the wire types allow before the game sees it; an
    /// input refused here is dropped and counted (the connection stays).
    fn validate_input(input: &Self::Input) -> Result<(), &'static str> {
        let _ = input;
        Ok(())
    }

    /// May this player join? Called before its entity exists.
    fn admit(world: &World, player: PlayerId, name: &str) -> Result<(), Refusal> {
        let _ = (world, player, name);
        Ok(())
    }

    /// Player `player` joined: the engine spawned its entity (with
    /// [`crate::Player`] and [`crate::Replicated`]); give it the game's
    /// components, spawn anything else it brings.
    fn joined(world: &mut World, player: PlayerId, entity: bevy_ecs::entity::Entity);

    /// Its connection dropped; its resume grace begins (the entity stays).
    fn disconnected(world: &mut World, player: PlayerId, entity: bevy_ecs::entity::Entity) {
        let _ = (world, player, entity);
    }

    /// It came back within its grace.
    fn resumed(world: &mut World, player: PlayerId, entity: bevy_ecs::entity::Entity) {
        let _ = (world, player, entity);
    }

    /// It leaves for good; the engine despawns its entity after this.
    fn left(world: &mut World, player: PlayerId, entity: bevy_ecs::entity::Entity, why: Departure) {
        let _ = (world, player, entity, why);
    }
}

/// What [`Game::setup`] gets: the new room's `World` (insert resources,
/// spawn the map) and its step schedule (add systems).
pub struct Setup<'a> {
    world: &'a mut World,
    schedule: &'a mut Schedule,
}

impl std::fmt::Debug for Setup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup").finish_non_exhaustive()
    }
}

impl<'a> Setup<'a> {
    /// The setup of a room with this world and schedule.
    pub(crate) fn new(world: &'a mut World, schedule: &'a mut Schedule) -> Self {
        Self { world, schedule }
    }

    /// The room's world.
    pub fn world(&mut self) -> &mut World {
        self.world
    }

    /// Adds systems to the step schedule, as `Schedule::add_systems` does
    /// (order them with `.chain()`; they never run in parallel).
    pub fn add_systems<M>(
        &mut self,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.schedule.add_systems(systems);
        self
    }
}
