//! A room's whole state as bytes, and back: [`crate::Room::save`] and
//! [`crate::Room::restore`]. It exists so a live room can move to another
//! node (a hand-off: drain a node, rebalance a cluster) and so a room can
//! come back after a crash from its last periodic save, with its players'
//! entities, scores and timers, instead of starting over.
//!
//! # What is saved
//! - The engine's state: the step count, the [`crate::RoomRng`]'s state and
//!   the next network id.
//! - Every entity that has [`crate::Replicated`], [`crate::Player`],
//!   [`crate::Eye`], [`crate::SeenBy`] or a persisted component, in entity
//!   order: whether it is replicated and its [`crate::NetId`], its
//!   `Player`, `Eye` and `SeenBy`, its persisted components
//!   ([`crate::Declare::persist`], exactly, as serde encodes them) and its
//!   other replicated components as their wire values (what
//!   [`crate::Declare::replicate`] sends: quantized as clients see them,
//!   entity references as network ids).
//! - The persisted resources ([`crate::Declare::persist_resource`]).
//!
//! Nothing else is. A restore goes into a *new* room made with the same
//! game, config, seed and step rate (`GameEntry::new_room`): setup runs
//! again there and makes every resource and static entity it made the
//! first time; the restore then replaces setup's replicated and persisted
//! entities and resources with the saved ones.
//!
//! # The rules a game follows
//! - **Persist what changes in play and is not exactly replicated**:
//!   timers, velocities, held controls, exact positions the wire
//!   quantizes, links between entities, counters in resources. A resource
//!   setup derives from the config and seed and never changes needs
//!   nothing. An entity the game spawns in play needs a replicated or a
//!   persisted component, or it is not saved.
//! - **Mark entity links `#[entities]`** (`Entity`, `Option<Entity>`,
//!   `Vec<Entity>` fields of a persisted component, with
//!   `#[derive(Component)]`; in a resource, with `#[derive(Resource,
//!   MapEntities)]` and `#[component(map_entities)]`). A restored room's
//!   entities have other ids: links are saved as places in the saved
//!   entities and mapped to the new ones. A link to an entity setup made
//!   and the restore kept stays as it is; one to an entity that is not
//!   saved becomes `Entity::PLACEHOLDER`.
//! - **Order by stable keys**, never by `Entity` or query order: a
//!   restored world's entities have other ids and another storage order.
//!   Sort by [`crate::NetId`], [`crate::PlayerId`] or the game's own keys
//!   ([`crate::Game`]'s determinism rules).
//! - **Bump `Game::VERSION` when a persisted type's fields change**: the
//!   saved bytes are serde's, and the persist hash (below) knows types by
//!   name only.
//!
//! Not saved, by design: system `Local`s (keep only scratch in them),
//! change detection (`Added`/`Changed` see every restored component as new
//! at the first step after a restore, as they see setup's at a room's
//! first step), inputs queued for the next step and events not yet drained.
//! Save between two steps, after [`crate::Room::drain_events`].
//!
//! # Guarantees
//! - A restored room goes on as the saved one would have: the same calls
//!   (joins, leaves, inputs, steps) give the same frames, views and events,
//!   for a game that follows the rules above. The same bytes restored into
//!   two new rooms give identical rooms, so a recording that starts from a
//!   save replays.
//! - Saving a restored room at once gives the bytes it was restored from.
//! - A save is refused by a room of another game, another version or other
//!   declarations (the catalogue's [`crate::Catalogue::persist_hash`]: the
//!   game, its version, its schema and its persisted types' names in
//!   declaration order; type names come from the compiler, so a build by
//!   another compiler may refuse it too), another config, seed or step
//!   rate, and by a room that is not new. Bytes that do not decode are
//!   refused, never a panic.
//! - On any error the room is unchanged: everything is decoded and checked
//!   before the world is touched.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bevy_ecs::entity::{Entity, EntityGeneration, EntityIndex, EntityMapper};
use bevy_ecs::prelude::World;
use serde::{Deserialize, Serialize};
use tickroom_protocol::codec::{self, MAX_ROOM_STATE_BYTES};
use tickroom_protocol::state::{Value, decode_values, encode_values};

use crate::declare::{Catalogue, LoadedComponent, LoadedResource};
use crate::interest::{Eye, SeenBy};
use crate::outbox::Outbox;
use crate::wire::EntityMap;
use crate::world::{
    NetId, NewlyReplicated, Player, PlayerId, Players, Replicated, RoomRng, StepInfo,
};

/// Why a room could not be saved or restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// The bytes are a save of another game.
    #[error("a saved room of game {found:?}, not {expected:?}")]
    OtherGame { expected: String, found: String },
    /// Of another version of this game.
    #[error("a saved room of version {found} of the game, not {expected}")]
    OtherVersion { expected: u32, found: u32 },
    /// Of a build with other declarations (schema or persisted types).
    #[error(
        "a saved room of other declarations (persist hash {found:#018x}, not {expected:#018x})"
    )]
    OtherDeclarations { expected: u64, found: u64 },
    /// Of a room with another config, seed or step rate than this one.
    #[error("a saved room of another config, seed or step rate than this room's")]
    OtherRoom,
    /// The room is not new (it has run a step, or a player joined, or it
    /// was restored already).
    #[error("only a new room can be restored into ({0})")]
    NotNew(&'static str),
    /// The bytes are not a saved room.
    #[error("not a saved room: {0}")]
    Undecodable(String),
    /// A component or resource could not be saved or restored.
    #[error("{name}: {message}")]
    Component { name: String, message: String },
    /// The save is larger than [`MAX_ROOM_STATE_BYTES`].
    #[error("a saved room of {len} bytes; at most {max}")]
    TooLarge { len: usize, max: usize },
}

impl PersistError {
    fn component(name: &str, message: impl std::fmt::Display) -> Self {
        PersistError::Component {
            name: name.to_owned(),
            message: message.to_string(),
        }
    }
}

/// The saved room (encoded by `codec::encode_serde`).
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    header: Header,
    /// `StepInfo::step`.
    step: u64,
    /// The `RoomRng`'s state.
    rng: u64,
    next_net_id: u32,
    /// In entity order; links to the `k`th are saved as [`saved_link`]`(k)`.
    entities: Vec<SavedEntity>,
    /// Declaration index and bytes of each persisted resource present.
    resources: Vec<(u32, Vec<u8>)>,
}

/// Whose save it is.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    game: String,
    version: u32,
    persist_hash: u64,
    /// A hash of the room's config, seed and step rate.
    setup_hash: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedEntity {
    /// Its network id if it is replicated, else 0.
    net_id: u32,
    replicated: bool,
    player: Option<SavedPlayer>,
    /// Its `Eye`: player and radius.
    eye: Option<(u32, f32)>,
    seen_by: Option<Vec<u32>>,
    /// Declaration index and bytes of each persisted component it has.
    persisted: Vec<(u32, Vec<u8>)>,
    /// Schema component id and encoded wire values of each replicated
    /// component it has that is neither persisted nor the `player`.
    wire: Vec<(u8, Vec<u8>)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedPlayer {
    id: u32,
    name: String,
    connected: bool,
}

/// The generation that marks a saved link: `saved_link(k)` is the `k`th
/// saved entity. No live entity has it (an index would have to be reused
/// four billion times).
const SAVED_GENERATION: u32 = u32::MAX - 1;

fn saved_link(k: usize) -> Entity {
    u32::try_from(k)
        .ok()
        .and_then(EntityIndex::from_raw_u32)
        .map_or(Entity::PLACEHOLDER, |index| {
            Entity::from_index_and_generation(index, EntityGeneration::from_bits(SAVED_GENERATION))
        })
}

/// The place in the saved entities a saved link names.
fn saved_place(e: Entity) -> Option<usize> {
    (e.generation().to_bits() == SAVED_GENERATION).then_some(e.index_u32() as usize)
}

/// A hash of what setup made a room from (its config's encoding, its seed
/// and its step rate): a save restores only into a room set up alike.
pub(crate) fn setup_hash<C: Serialize>(config: &C, seed: u64, rate_hz: u32) -> u64 {
    let mut bytes = Vec::new();
    // A config whose `Serialize` fails hashes as empty (it cannot differ).
    let _ = codec::encode_serde(config, &mut bytes);
    bytes.extend_from_slice(&seed.to_le_bytes());
    bytes.extend_from_slice(&rate_hz.to_le_bytes());
    tickroom_protocol::state::schema::fnv1a64(&bytes)
}

/// The entities a save holds: those with `Replicated`, `Player`, `Eye`,
/// `SeenBy` or a persisted component, in entity order.
fn saved_entities(world: &World, catalogue: &Catalogue) -> Vec<Entity> {
    let components = world.components();
    let ids: Vec<_> = [
        std::any::TypeId::of::<Replicated>(),
        std::any::TypeId::of::<Player>(),
        std::any::TypeId::of::<Eye>(),
        std::any::TypeId::of::<SeenBy>(),
    ]
    .into_iter()
    .chain(catalogue.persisted().iter().map(|p| p.type_id))
    .filter_map(|t| components.get_id(t))
    .collect();
    let mut out: Vec<Entity> = world
        .archetypes()
        .iter()
        .filter(|a| ids.iter().any(|&id| a.contains(id)))
        .flat_map(|a| a.entities().iter().map(|e| e.id()))
        .collect();
    out.sort_unstable();
    out
}

/// Links as a save writes them: to the `k`th saved entity as
/// [`saved_link`]`(k)`, to a live entity not saved (setup's) as it is, to
/// anything else as `Entity::PLACEHOLDER`.
struct ToSaved<'a> {
    places: &'a HashMap<Entity, usize>,
    world: &'a World,
}

impl EntityMapper for ToSaved<'_> {
    fn get_mapped(&mut self, source: Entity) -> Entity {
        match self.places.get(&source) {
            Some(&k) => saved_link(k),
            None if self.world.entities().contains_spawned(source) => source,
            None => Entity::PLACEHOLDER,
        }
    }
    fn set_mapped(&mut self, _: Entity, _: Entity) {}
}

/// Links as a restore reads them: a saved link to its new entity, a link
/// to an entity the restore kept as it is, anything else to
/// `Entity::PLACEHOLDER`.
struct FromSaved<'a> {
    new: &'a [Entity],
    kept: &'a HashSet<Entity>,
}

impl EntityMapper for FromSaved<'_> {
    fn get_mapped(&mut self, source: Entity) -> Entity {
        match saved_place(source).and_then(|k| self.new.get(k)) {
            Some(&e) => e,
            None if self.kept.contains(&source) => source,
            None => Entity::PLACEHOLDER,
        }
    }
    fn set_mapped(&mut self, _: Entity, _: Entity) {}
}

/// Entity references in wire values: network ids of the entities being
/// restored.
struct ByNetId<'a> {
    by_net: &'a BTreeMap<u32, Entity>,
}

impl EntityMap for ByNetId<'_> {
    fn net_id(&self, _: Entity) -> u32 {
        0
    }
    fn entity(&self, id: u32) -> Option<Entity> {
        self.by_net.get(&id).copied()
    }
}

/// Entity references as the frames carry them.
struct NetIds<'w> {
    world: &'w World,
    net: &'w BTreeMap<u32, Entity>,
}

impl EntityMap for NetIds<'_> {
    fn net_id(&self, entity: Entity) -> u32 {
        self.world.get::<NetId>(entity).map_or(0, |n| n.0)
    }
    fn entity(&self, id: u32) -> Option<Entity> {
        self.net.get(&id).copied()
    }
}

/// What a room's save reads besides its world (the room's own fields).
pub(crate) struct RoomState<'a> {
    /// The game's declarations.
    pub catalogue: &'a Catalogue,
    /// Replicated entities by network id.
    pub net: &'a BTreeMap<u32, Entity>,
    /// The next network id the room gives.
    pub next_net_id: u32,
    /// The hash of the config, seed and step rate the room was made with.
    pub setup_hash: u64,
}

/// What a restore gives the room besides its world.
pub(crate) struct Restored {
    /// Replicated entities by network id.
    pub net: BTreeMap<u32, Entity>,
    /// The next network id the room gives.
    pub next_net_id: u32,
}

/// [`crate::Room::save`] of a room whose world is `world`.
pub(crate) fn save(
    world: &World,
    room: RoomState<'_>,
    out: &mut Vec<u8>,
) -> Result<(), PersistError> {
    let catalogue = room.catalogue;
    let schema = catalogue.schema();
    let entities = saved_entities(world, catalogue);
    let places: HashMap<Entity, usize> =
        entities.iter().enumerate().map(|(k, &e)| (e, k)).collect();
    let mut mapper = ToSaved {
        places: &places,
        world,
    };
    let net = NetIds {
        world,
        net: room.net,
    };
    let mut values = Vec::new();
    let mut records = Vec::with_capacity(entities.len());
    for &entity in &entities {
        let Ok(e) = world.get_entity(entity) else {
            continue;
        };
        let replicated = e.contains::<Replicated>();
        let mut persisted = Vec::new();
        for (i, p) in catalogue.persisted().iter().enumerate() {
            let mut bytes = Vec::new();
            if (p.save)(&e, &mut mapper, &mut bytes)
                .map_err(|err| PersistError::component(p.name, err))?
            {
                persisted.push((i as u32, bytes));
            }
        }
        let mut wire = Vec::new();
        for (c, (write, restorer)) in catalogue
            .writers()
            .iter()
            .zip(catalogue.restorers())
            .enumerate()
        {
            values.clear();
            if !restorer.from_wire || !write(&e, &net, &mut values) {
                continue;
            }
            let slots = schema.layout(c as u8).unwrap_or_default();
            let mut bytes = Vec::new();
            encode_values(slots, &values, &mut bytes);
            wire.push((c as u8, bytes));
        }
        records.push(SavedEntity {
            net_id: if replicated {
                e.get::<NetId>().map_or(0, |n| n.0)
            } else {
                0
            },
            replicated,
            player: e.get::<Player>().map(|p| SavedPlayer {
                id: p.id.0,
                name: p.name.to_string(),
                connected: p.connected,
            }),
            eye: e.get::<Eye>().map(|eye| (eye.player.0, eye.radius)),
            seen_by: e.get::<SeenBy>().map(|s| s.0.iter().map(|p| p.0).collect()),
            persisted,
            wire,
        });
    }
    let mut resources = Vec::new();
    for (i, r) in catalogue.persisted_resources().iter().enumerate() {
        let mut bytes = Vec::new();
        if (r.save)(world, &mut mapper, &mut bytes)
            .map_err(|err| PersistError::component(r.name, err))?
        {
            resources.push((i as u32, bytes));
        }
    }
    let saved = Saved {
        header: Header {
            game: schema.game().to_owned(),
            version: schema.version(),
            persist_hash: catalogue.persist_hash(),
            setup_hash: room.setup_hash,
        },
        step: world.resource::<StepInfo>().step,
        rng: world.resource::<RoomRng>().state(),
        next_net_id: room.next_net_id,
        entities: records,
        resources,
    };
    codec::encode_serde(&saved, out).map_err(|e| match e {
        tickroom_protocol::Error::TooLarge { len, max } => PersistError::TooLarge { len, max },
        e => PersistError::component("the saved room", e),
    })
}

/// One saved entity, decoded and checked.
struct Loading {
    net_id: Option<u32>,
    player: Option<Player>,
    eye: Option<Eye>,
    seen_by: Option<SeenBy>,
    persisted: Vec<Box<dyn LoadedComponent>>,
    /// Per wire component: its schema id and values.
    wire: Vec<(u8, Vec<Value>)>,
}

/// [`crate::Room::restore`] into `world`, of a room made with `catalogue`
/// and `setup_hash`; `pristine` is whether the room has neither stepped nor
/// been restored. The caller keeps the returned ids and drops what it held
/// for the old world (queued inputs, views).
pub(crate) fn restore(
    world: &mut World,
    catalogue: &Catalogue,
    setup_hash: u64,
    pristine: bool,
    bytes: &[u8],
) -> Result<Restored, PersistError> {
    if bytes.len() > MAX_ROOM_STATE_BYTES {
        return Err(PersistError::TooLarge {
            len: bytes.len(),
            max: MAX_ROOM_STATE_BYTES,
        });
    }
    let saved: Saved =
        codec::decode_serde(bytes).map_err(|e| PersistError::Undecodable(e.to_string()))?;
    check_header(&saved.header, catalogue, setup_hash)?;
    if !pristine || world.resource::<StepInfo>().step != 0 {
        return Err(PersistError::NotNew("it has run a step or was restored"));
    }
    if !world.resource::<Players>().is_empty() {
        return Err(PersistError::NotNew("a player joined it"));
    }
    let loading = decode_entities(&saved, catalogue)?;
    let mut resources: Vec<Box<dyn LoadedResource>> = Vec::with_capacity(saved.resources.len());
    for (n, (i, bytes)) in saved.resources.iter().enumerate() {
        let r = catalogue
            .persisted_resources()
            .get(*i as usize)
            .ok_or_else(|| PersistError::Undecodable(format!("no persisted resource {i}")))?;
        if saved.resources[..n].iter().any(|(j, _)| j == i) {
            return Err(PersistError::Undecodable(format!("{} twice", r.name)));
        }
        resources.push((r.load)(bytes).map_err(|e| PersistError::component(r.name, e))?);
    }
    // Everything decoded: from here on nothing fails.
    Ok(apply(world, catalogue, &saved, loading, resources))
}

fn check_header(h: &Header, catalogue: &Catalogue, setup_hash: u64) -> Result<(), PersistError> {
    let schema = catalogue.schema();
    if h.game != schema.game() {
        return Err(PersistError::OtherGame {
            expected: schema.game().to_owned(),
            found: h.game.clone(),
        });
    }
    if h.version != schema.version() {
        return Err(PersistError::OtherVersion {
            expected: schema.version(),
            found: h.version,
        });
    }
    if h.persist_hash != catalogue.persist_hash() {
        return Err(PersistError::OtherDeclarations {
            expected: catalogue.persist_hash(),
            found: h.persist_hash,
        });
    }
    if h.setup_hash != setup_hash {
        return Err(PersistError::OtherRoom);
    }
    Ok(())
}

/// Decodes and checks every saved entity, touching no world.
fn decode_entities(saved: &Saved, catalogue: &Catalogue) -> Result<Vec<Loading>, PersistError> {
    let bad = |what: String| PersistError::Undecodable(what);
    if saved.next_net_id == 0 {
        return Err(bad("next network id 0".into()));
    }
    // Network ids: unique, below the next one; a placeholder entity each
    // for checking entity references in wire values.
    let mut by_net = BTreeMap::new();
    let mut players = HashSet::new();
    for (k, e) in saved.entities.iter().enumerate() {
        match (e.replicated, e.net_id) {
            (false, 0) => {}
            (true, id) if id != 0 && id < saved.next_net_id => {
                if by_net.insert(id, saved_link(k)).is_some() {
                    return Err(bad(format!("network id {id} twice")));
                }
            }
            (_, id) => return Err(bad(format!("entity {k} with network id {id}"))),
        }
        if let Some(p) = &e.player
            && !players.insert(p.id)
        {
            return Err(bad(format!("player {} twice", p.id)));
        }
    }
    let check_map = ByNetId { by_net: &by_net };
    let schema = catalogue.schema();
    let mut out = Vec::with_capacity(saved.entities.len());
    for (k, e) in saved.entities.iter().enumerate() {
        let mut persisted = Vec::with_capacity(e.persisted.len());
        for (n, (i, bytes)) in e.persisted.iter().enumerate() {
            let p = catalogue
                .persisted()
                .get(*i as usize)
                .ok_or_else(|| bad(format!("entity {k}: no persisted component {i}")))?;
            if e.persisted[..n].iter().any(|(j, _)| j == i) {
                return Err(bad(format!("entity {k}: {} twice", p.name)));
            }
            persisted.push((p.load)(bytes).map_err(|err| PersistError::component(p.name, err))?);
        }
        let mut wire = Vec::with_capacity(e.wire.len());
        for (n, (c, bytes)) in e.wire.iter().enumerate() {
            let (Some(slots), Some(restorer)) = (
                schema.layout(*c),
                catalogue.restorers().get(usize::from(*c)),
            ) else {
                return Err(bad(format!("entity {k}: no component {c}")));
            };
            let name = &schema.components()[usize::from(*c)].name;
            if !restorer.from_wire || e.wire[..n].iter().any(|(d, _)| d == c) {
                return Err(bad(format!(
                    "entity {k}: component {name} not expected here"
                )));
            }
            let mut values = Vec::new();
            decode_values(slots, bytes, &mut values)
                .map_err(|err| PersistError::component(name, err))?;
            (restorer.read)(&values, &check_map, None)
                .map_err(|err| PersistError::component(name, err))?;
            wire.push((*c, values));
        }
        out.push(Loading {
            net_id: e.replicated.then_some(e.net_id),
            player: e.player.as_ref().map(|p| Player {
                id: PlayerId(p.id),
                name: Arc::from(p.name.as_str()),
                connected: p.connected,
            }),
            eye: e.eye.map(|(player, radius)| Eye {
                player: PlayerId(player),
                radius,
            }),
            seen_by: e
                .seen_by
                .as_ref()
                .map(|s| SeenBy(s.iter().map(|&p| PlayerId(p)).collect())),
            persisted,
            wire,
        });
    }
    Ok(out)
}

/// Puts the decoded save into the room's world (see the module docs).
fn apply(
    world: &mut World,
    catalogue: &Catalogue,
    saved: &Saved,
    loading: Vec<Loading>,
    mut resources: Vec<Box<dyn LoadedResource>>,
) -> Restored {
    // Setup's replicated and persisted entities go; its others stay (the
    // same entities, with the same ids, as in the saved room's world).
    for e in saved_entities(world, catalogue) {
        world.despawn(e);
    }
    let kept: HashSet<Entity> = world.iter_entities().map(|e| e.id()).collect();
    // The saved entities come back in their order: the `k`th saved gets
    // the `k`th smallest new id, so a save of the restored room lists them
    // in the same order.
    let mut new: Vec<Entity> = world
        .entity_allocator()
        .alloc_many(loading.len() as u32)
        .collect();
    new.sort_unstable();
    for &e in &new {
        // Just allocated: cannot fail.
        let _ = world.spawn_empty_at(e);
    }
    let by_net: BTreeMap<u32, Entity> = loading
        .iter()
        .zip(&new)
        .filter_map(|(l, &e)| l.net_id.map(|id| (id, e)))
        .collect();
    let mut mapper = FromSaved {
        new: &new,
        kept: &kept,
    };
    let net_map = ByNetId { by_net: &by_net };
    let restorers = catalogue.restorers();
    for (l, &entity) in loading.into_iter().zip(&new) {
        let mut e = world.entity_mut(entity);
        if let Some(player) = l.player {
            e.insert(player);
        }
        if let Some(id) = l.net_id {
            e.insert((Replicated, NetId(id)));
        }
        if let Some(eye) = l.eye {
            e.insert(eye);
        }
        if let Some(seen) = l.seen_by {
            e.insert(seen);
        }
        for (c, values) in &l.wire {
            let read = restorers[usize::from(*c)].read;
            let done = read(values, &net_map, Some(&mut e));
            debug_assert!(done.is_ok(), "checked before: {done:?}");
        }
        for mut p in l.persisted {
            p.map_entities(&mut mapper);
            p.insert_on(&mut e);
        }
    }
    for r in &mut resources {
        r.map_entities(&mut mapper);
    }
    for r in resources {
        r.insert_into(world);
    }
    world.resource_mut::<StepInfo>().step = saved.step;
    *world.resource_mut::<RoomRng>() = RoomRng::new(saved.rng);
    let players = saved_players(world);
    world.resource_mut::<Players>().by_id = players;
    world.resource_mut::<Outbox>().queued.clear();
    // Restored with their ids: none is new.
    world.resource_mut::<NewlyReplicated>().0.clear();
    world.clear_trackers();
    Restored {
        net: by_net,
        next_net_id: saved.next_net_id,
    }
}

/// Every `Player` and its entity.
fn saved_players(world: &mut World) -> BTreeMap<PlayerId, Entity> {
    let mut q = world.query::<(Entity, &Player)>();
    q.iter(world).map(|(e, p)| (p.id, e)).collect()
}
