//! A game's room at run time: [`GameRoom`] holds one room's bevy_ecs
//! `World` and `Schedule` and makes the engine's calls on it (players come
//! and go, inputs are decoded and queued, the schedule steps, entities earn
//! network ids, the frame is read out). [`Room`] is the same behind a trait
//! object, so the server hosts rooms of any game without knowing its types.
//!
//! Sans-IO: no clock, socket or OS randomness; the seed and the step rate
//! come in as arguments, so a test or a replay drives it step by step.

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy_ecs::prelude::{Entity, Schedule, World};
use bevy_ecs::schedule::{ScheduleLabel, SingleThreadedExecutor};
use tickroom_protocol::state::{DecodeError, Frame, FrameError, Value, decode_values};

use crate::declare::Catalogue;
use crate::game::{Departure, Game, InputMode, Refusal, Setup};
use crate::interest::{Eye, Placed, SeenBy, ViewBuilder, Views};
use crate::outbox::{Audience, OutEvent, Outbox};
use crate::persist::PersistError;
use crate::wire::{EntityMap, WireError};
use crate::world::{
    Inputs, NetId, NewlyReplicated, Player, PlayerId, PlayerInput, Players, Replicated, RoomRng,
    StepInfo,
};

/// The label of every room's step schedule.
#[derive(ScheduleLabel, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomStep;

/// Why an input was not queued (the connection is not closed for it, but
/// it is counted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Longer than the input type can be.
    #[error("input of {len} bytes; this game's inputs take at most {max}")]
    TooLong { len: usize, max: usize },
    /// Not an encoding of the input type.
    #[error("input: {0}")]
    Decode(#[from] DecodeError),
    /// Values that do not make the game's input type.
    #[error("input: {0}")]
    Wire(#[from] WireError),
    /// Refused by [`Game::validate_input`].
    #[error("input refused: {0}")]
    Invalid(&'static str),
    /// From a player not in the room.
    #[error("input from player {0}, who is not in the room")]
    UnknownPlayer(PlayerId),
}

/// One room of some game, as the engine drives it (see the module docs).
pub trait Room: Send + std::fmt::Debug {
    /// The game's compiled declarations (its schema).
    fn catalogue(&self) -> &Arc<Catalogue>;
    /// Steps run so far.
    fn steps(&self) -> u64;
    /// Players in the room.
    fn player_count(&self) -> usize;
    /// Player `player` (a new id) joins with `name`: asks the game
    /// ([`Game::admit`]), spawns its entity and calls [`Game::joined`].
    fn join(&mut self, player: PlayerId, name: &str) -> Result<(), Refusal>;
    /// Its connection dropped ([`Game::disconnected`]); false if unknown.
    fn disconnected(&mut self, player: PlayerId) -> bool;
    /// It came back ([`Game::resumed`]); false if unknown.
    fn resumed(&mut self, player: PlayerId) -> bool;
    /// It leaves ([`Game::left`], then its entity is despawned); false if
    /// unknown.
    fn leave(&mut self, player: PlayerId, why: Departure) -> bool;
    /// An encoded input from `player` for the next step.
    fn input(&mut self, player: PlayerId, bytes: &[u8]) -> Result<(), InputError>;
    /// Runs one step: the queued inputs, the game's systems, network ids.
    fn step(&mut self);
    /// Reads every replicated entity into `frame` (cleared first) and, when
    /// the game declared interest, what each player sees of it
    /// ([`Room::views`]).
    fn build_frame(&mut self, tick: u32, frame: &mut Frame) -> Result<(), FrameError>;
    /// Per player, the entities of the last built frame it is sent; `None`
    /// when the game declared no interest (everyone is sent everything).
    fn views(&self) -> Option<&Views>;
    /// Moves the events sent since the last call into `out`, in order, each
    /// addressed to [`Audience::All`], [`Audience::Only`] or
    /// [`Audience::AllBut`] ([`Audience::Seeing`] and [`Audience::Near`]
    /// are resolved here, into one event per player that sees it).
    fn drain_events(&mut self, out: &mut Vec<OutEvent>);
    /// The room's world, for tests and tools that look inside.
    fn world(&self) -> &World;
    /// The room's whole state as bytes (see [`crate::persist`]): what
    /// [`Room::restore`] needs on a new room of the same game, config and
    /// seed. Save between two steps, after [`Room::drain_events`]: inputs
    /// queued for the next step and events not drained are not saved.
    fn save(&self, out: &mut Vec<u8>) -> Result<(), PersistError>;
    /// Restores `bytes` from [`Room::save`] into this room, which must be
    /// new (made by [`crate::GameEntry::new_room`] with the same config,
    /// seed and step rate; no player joined, no step run). On error the room
    /// is unchanged (still new): everything is decoded and checked before
    /// its world is touched.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), PersistError>;
}

/// One room of game `G` (see the module docs).
pub struct GameRoom<G: Game> {
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) world: World,
    schedule: Schedule,
    /// Inputs queued for the next step.
    pub(crate) pending: Vec<PlayerInput<G::Input>>,
    /// Replicated entities by network id.
    pub(crate) net: BTreeMap<u32, Entity>,
    pub(crate) next_net_id: u32,
    /// The last frame's views, when the game declared interest.
    pub(crate) views: Option<Views>,
    /// A hash of the config, seed and step rate setup ran with (a save
    /// restores only into a room set up alike).
    pub(crate) setup_hash: u64,
    /// Whether the room is as setup left it: no player joined, no step run,
    /// nothing restored (only such a room restores a save).
    pub(crate) pristine: bool,
    view_builder: ViewBuilder,
    // Scratch reused every call.
    values: Vec<Value>,
    fresh: Vec<Entity>,
}

impl<G: Game> std::fmt::Debug for GameRoom<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameRoom")
            .field("game", &G::NAME)
            .field("steps", &self.steps())
            .field("entities", &self.net.len())
            .finish_non_exhaustive()
    }
}

impl<G: Game> GameRoom<G> {
    /// A new room of `G` with `config` (already validated), stepping
    /// `rate_hz` times a second, its randomness seeded with `seed`.
    pub fn new(catalogue: Arc<Catalogue>, config: &G::Config, seed: u64, rate_hz: u32) -> Self {
        let mut world = World::new();
        let rate_hz = rate_hz.max(1);
        world.insert_resource(StepInfo {
            step: 0,
            rate_hz,
            dt: 1.0 / rate_hz as f32,
        });
        world.insert_resource(RoomRng::new(seed));
        world.insert_resource(Players::default());
        world.insert_resource(Inputs::<G::Input> { list: Vec::new() });
        world.insert_resource(Outbox::new(catalogue.clone()));
        world.init_resource::<NewlyReplicated>();
        world.insert_resource(config.clone());
        let mut schedule = Schedule::new(RoomStep);
        schedule.set_executor(SingleThreadedExecutor::new());
        G::setup(&mut Setup::new(&mut world, &mut schedule), config);
        let mut room = Self {
            catalogue,
            world,
            schedule,
            pending: Vec::new(),
            net: BTreeMap::new(),
            next_net_id: 1,
            views: None,
            setup_hash: crate::persist::setup_hash(config, seed, rate_hz),
            pristine: true,
            view_builder: ViewBuilder::default(),
            values: Vec::new(),
            fresh: Vec::new(),
        };
        // The map spawned in setup is replicated from the first frame.
        room.assign_net_ids();
        room
    }

    /// Queues a typed input from `player` for the next step, as
    /// [`Room::input`] does with bytes (for tests, tools and bots that hold
    /// the game's types).
    pub fn queue_input(&mut self, player: PlayerId, input: G::Input) -> Result<(), InputError> {
        let entity = self
            .player_entity(player)
            .ok_or(InputError::UnknownPlayer(player))?;
        G::validate_input(&input).map_err(InputError::Invalid)?;
        let input = PlayerInput {
            player,
            entity,
            input,
        };
        match G::INPUTS {
            InputMode::Newest => match self.pending.iter_mut().find(|i| i.player == player) {
                Some(slot) => *slot = input,
                None => self.pending.push(input),
            },
            InputMode::Every => self.pending.push(input),
        }
        Ok(())
    }

    /// The room's world.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    fn player_entity(&self, player: PlayerId) -> Option<Entity> {
        self.world.resource::<Players>().entity(player)
    }

    /// Gives new replicated entities their network ids and forgets the ones
    /// gone or no longer replicated. New ids go in the reverse of the order
    /// `Replicated` was added: a replay and a room restored from a save
    /// reproduce that order, where entity ids (which a restored room does
    /// not have) play no part. Reversed, because for entities on fresh
    /// entity indices (every entity until bevy reuses an index) it is the
    /// entity order earlier builds gave ids in (bevy orders entities by
    /// their index's inverted bits), so their frames are unchanged.
    fn assign_net_ids(&mut self) {
        let world = &self.world;
        let stripped = &mut self.fresh;
        stripped.clear();
        self.net.retain(|&id, &mut e| match world.get_entity(e) {
            Ok(r) if r.get::<NetId>() == Some(&NetId(id)) => {
                // No longer replicated: a later `Replicated` earns a new id.
                if !r.contains::<Replicated>() {
                    stripped.push(e);
                }
                r.contains::<Replicated>()
            }
            _ => false,
        });
        for i in 0..self.fresh.len() {
            if let Some(mut id) = self.world.get_mut::<NetId>(self.fresh[i]) {
                *id = NetId(0);
            }
        }
        self.fresh.clear();
        std::mem::swap(
            &mut self.fresh,
            &mut self.world.resource_mut::<NewlyReplicated>().0,
        );
        for &e in self.fresh.iter().rev() {
            // Gone again, no longer replicated, or already given its id
            // (replicated twice in one step).
            let fresh = self
                .world
                .get_entity(e)
                .is_ok_and(|r| r.contains::<Replicated>() && r.get::<NetId>() == Some(&NetId(0)));
            if !fresh {
                continue;
            }
            let id = self.next_net_id;
            self.next_net_id = self.next_net_id.saturating_add(1);
            if let Some(mut n) = self.world.get_mut::<NetId>(e) {
                *n = NetId(id);
            }
            self.net.insert(id, e);
        }
        self.fresh.clear();
    }
}

/// Entity references in frames: network ids from the world.
struct WorldMap<'w> {
    world: &'w World,
    net: &'w BTreeMap<u32, Entity>,
}

impl EntityMap for WorldMap<'_> {
    fn net_id(&self, entity: Entity) -> u32 {
        self.world.get::<NetId>(entity).map_or(0, |n| n.0)
    }
    fn entity(&self, id: u32) -> Option<Entity> {
        self.net.get(&id).copied()
    }
}

impl<G: Game> Room for GameRoom<G> {
    fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    fn steps(&self) -> u64 {
        self.world.resource::<StepInfo>().step
    }

    fn player_count(&self) -> usize {
        self.world.resource::<Players>().len()
    }

    fn join(&mut self, player: PlayerId, name: &str) -> Result<(), Refusal> {
        if self.player_entity(player).is_some() {
            return Err(Refusal(format!("player {player} is already in the room")));
        }
        G::admit(&self.world, player, name)?;
        let entity = self
            .world
            .spawn((
                Player {
                    id: player,
                    name: name.into(),
                    connected: true,
                },
                Replicated,
            ))
            .id();
        self.world
            .resource_mut::<Players>()
            .by_id
            .insert(player, entity);
        self.pristine = false;
        G::joined(&mut self.world, player, entity);
        self.assign_net_ids();
        Ok(())
    }

    fn disconnected(&mut self, player: PlayerId) -> bool {
        let Some(entity) = self.player_entity(player) else {
            return false;
        };
        if let Some(mut p) = self.world.get_mut::<Player>(entity) {
            p.connected = false;
        }
        G::disconnected(&mut self.world, player, entity);
        true
    }

    fn resumed(&mut self, player: PlayerId) -> bool {
        let Some(entity) = self.player_entity(player) else {
            return false;
        };
        if let Some(mut p) = self.world.get_mut::<Player>(entity) {
            p.connected = true;
        }
        G::resumed(&mut self.world, player, entity);
        true
    }

    fn leave(&mut self, player: PlayerId, why: Departure) -> bool {
        let Some(entity) = self.player_entity(player) else {
            return false;
        };
        G::left(&mut self.world, player, entity, why);
        self.world.resource_mut::<Players>().by_id.remove(&player);
        // The game may have despawned it already.
        if let Ok(e) = self.world.get_entity_mut(entity) {
            e.despawn();
        }
        self.pending.retain(|i| i.player != player);
        self.assign_net_ids();
        true
    }

    fn input(&mut self, player: PlayerId, bytes: &[u8]) -> Result<(), InputError> {
        let max = self.catalogue.max_input_bytes();
        if bytes.len() > max {
            return Err(InputError::TooLong {
                len: bytes.len(),
                max,
            });
        }
        decode_values(self.catalogue.input_slots(), bytes, &mut self.values)?;
        let map = WorldMap {
            world: &self.world,
            net: &self.net,
        };
        let mut values = self.values.iter();
        let input = <G::Input as crate::wire::Wire>::read(&mut values, &map)?;
        if values.next().is_some() {
            return Err(InputError::Wire(WireError::Mismatch(
                <G::Input as crate::wire::Wire>::NAME,
            )));
        }
        self.queue_input(player, input)
    }

    fn step(&mut self) {
        self.pristine = false;
        {
            let mut inputs = self.world.resource_mut::<Inputs<G::Input>>();
            std::mem::swap(&mut inputs.list, &mut self.pending);
        }
        self.schedule.run(&mut self.world);
        std::mem::swap(
            &mut self.world.resource_mut::<Inputs<G::Input>>().list,
            &mut self.pending,
        );
        self.pending.clear();
        self.world.resource_mut::<StepInfo>().step += 1;
        self.world.clear_trackers();
        self.assign_net_ids();
    }

    fn build_frame(&mut self, tick: u32, frame: &mut Frame) -> Result<(), FrameError> {
        frame.clear(tick);
        let map = WorldMap {
            world: &self.world,
            net: &self.net,
        };
        let schema = self.catalogue.schema();
        let writers = self.catalogue.writers();
        let interest = self.catalogue.interest();
        let vb = &mut self.view_builder;
        vb.clear();
        let mut index = 0u32;
        for (&id, &entity) in &self.net {
            let Ok(e) = self.world.get_entity(entity) else {
                continue;
            };
            frame.begin(id)?;
            for (c, write) in writers.iter().enumerate() {
                self.values.clear();
                if write(&e, &map, &mut self.values) {
                    frame.set(schema, c as u8, &self.values)?;
                }
            }
            if let Some(interest) = interest {
                let at = (interest.position)(&e);
                match at {
                    Some([x, y]) => {
                        vb.placed.push(Placed { index, x, y });
                        if let Some(seen) = e.get::<SeenBy>() {
                            vb.grants.extend(seen.0.iter().map(|&p| (p, index)));
                        }
                    }
                    None => vb.global.push(index),
                }
                if let Some(eye) = e.get::<Eye>() {
                    let [x, y] = at.unwrap_or([f32::NAN; 2]);
                    vb.eyes.push((eye.player, index, x, y, eye.radius));
                }
            }
            index += 1;
        }
        if interest.is_some() {
            let views = self.views.get_or_insert_with(Views::default);
            let players = self.world.resource::<Players>().by_id.keys().copied();
            vb.build(players, views);
        }
        Ok(())
    }

    fn views(&self) -> Option<&Views> {
        self.views.as_ref()
    }

    fn drain_events(&mut self, out: &mut Vec<OutEvent>) {
        let queued = std::mem::take(&mut self.world.resource_mut::<Outbox>().queued);
        let placed = |a: &Audience| matches!(a, Audience::Seeing(_) | Audience::Near { .. });
        let Some(interest) = self
            .catalogue
            .interest()
            .filter(|_| queued.iter().any(|e| placed(&e.to)))
        else {
            out.extend(queued.into_iter().map(|e| OutEvent {
                to: if placed(&e.to) { Audience::All } else { e.to },
                bytes: e.bytes,
            }));
            return;
        };
        // Every eye's player, entity and position, now.
        let mut eyes = Vec::new();
        let mut q = self.world.query::<(Entity, &Eye)>();
        for (entity, eye) in q.iter(&self.world) {
            let Ok(e) = self.world.get_entity(entity) else {
                continue;
            };
            let [x, y] = (interest.position)(&e).unwrap_or([f32::NAN; 2]);
            eyes.push((eye.player, entity, x, y, eye.radius));
        }
        eyes.sort_by_key(|e| e.0);
        let players: Vec<PlayerId> = self
            .world
            .resource::<Players>()
            .by_id
            .keys()
            .copied()
            .collect();
        // The players (in the room, in id order, once each) with an eye that
        // sees (`x`, `y`), or that is on `entity`.
        let seeing = |x: f32, y: f32, entity: Option<Entity>, to: &mut Vec<PlayerId>| {
            for &(p, e, ex, ey, r) in &eyes {
                let (dx, dy) = (x - ex, y - ey);
                if (entity == Some(e) || dx * dx + dy * dy <= r * r)
                    && to.last() != Some(&p)
                    && players.binary_search(&p).is_ok()
                {
                    to.push(p);
                }
            }
        };
        let mut to = Vec::new();
        for event in queued {
            to.clear();
            match event.to {
                Audience::Near { x, y } => seeing(x as f32, y as f32, None, &mut to),
                Audience::Seeing(entity) => {
                    let Ok(e) = self.world.get_entity(entity) else {
                        continue;
                    };
                    let Some([x, y]) = (interest.position)(&e) else {
                        out.push(OutEvent {
                            to: Audience::All,
                            bytes: event.bytes,
                        });
                        continue;
                    };
                    seeing(x, y, Some(entity), &mut to);
                    if let Some(seen) = e.get::<SeenBy>() {
                        to.extend(seen.0.iter().filter(|p| players.binary_search(p).is_ok()));
                        to.sort_unstable();
                        to.dedup();
                    }
                }
                to => {
                    out.push(OutEvent {
                        to,
                        bytes: event.bytes,
                    });
                    continue;
                }
            };
            for &p in &to {
                out.push(OutEvent {
                    to: Audience::Only(p),
                    bytes: event.bytes.clone(),
                });
            }
        }
    }

    fn world(&self) -> &World {
        &self.world
    }

    fn save(&self, out: &mut Vec<u8>) -> Result<(), PersistError> {
        let room = crate::persist::RoomState {
            catalogue: &self.catalogue,
            net: &self.net,
            next_net_id: self.next_net_id,
            setup_hash: self.setup_hash,
        };
        crate::persist::save(&self.world, room, out)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        let restored = crate::persist::restore(
            &mut self.world,
            &self.catalogue,
            self.setup_hash,
            self.pristine,
            bytes,
        )?;
        self.net = restored.net;
        self.next_net_id = restored.next_net_id;
        self.pending.clear();
        self.views = None;
        self.pristine = false;
        Ok(())
    }
}
