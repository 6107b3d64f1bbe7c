//! A game's declarations ([`Declare`]: its replicated components and its
//! events, beside its input type, and the state it persists across a
//! hand-off) and what the engine compiles them into ([`Catalogue`]): the
//! validated [`Schema`] clients decode with, per component the functions
//! that read it out of the `World` into a frame and back, and per persisted
//! type the functions that save and restore it (see [`crate::persist`]).
//!
//! Declared once per game at registration, never per room, so every room of
//! a game (and every build of it with the same declarations) has the same
//! schema, ids and hash.

use std::any::TypeId;
use std::sync::Arc;

use bevy_ecs::entity::EntityMapper;
use bevy_ecs::prelude::{Component, Resource, World};
use bevy_ecs::world::{EntityRef, EntityWorldMut};
use serde::{Serialize, de::DeserializeOwned};
use tickroom_protocol::codec;
use tickroom_protocol::state::{
    Schema, SchemaError, Shape, Slot, Value, encode_event, max_encoded_len,
};

use crate::wire::{EntityMap, Wire, WireError, shape_of};

/// Reads one component of an entity into values; false when the entity has
/// none.
pub(crate) type WriteFn = fn(&EntityRef<'_>, &dyn EntityMap, &mut Vec<Value>) -> bool;

/// Reads one component back from all of `values` (what a [`WriteFn`]
/// wrote) and, given an entity, inserts it there (without one it only
/// checks that the values make the component).
pub(crate) type ReadFn =
    fn(&[Value], &dyn EntityMap, Option<&mut EntityWorldMut<'_>>) -> Result<(), WireError>;

fn read_component<C: Component + Wire>(
    values: &[Value],
    map: &dyn EntityMap,
    into: Option<&mut EntityWorldMut<'_>>,
) -> Result<(), WireError> {
    let mut values = values.iter();
    let c = C::read(&mut values, map)?;
    if values.next().is_some() {
        return Err(WireError::Mismatch(C::NAME));
    }
    if let Some(entity) = into {
        entity.insert(c);
    }
    Ok(())
}

/// Appends one persisted component of an entity, its entity links written
/// through the mapper; false (nothing appended) when the entity has none.
pub(crate) type SaveComponentFn = fn(
    &EntityRef<'_>,
    &mut dyn EntityMapper,
    &mut Vec<u8>,
) -> Result<bool, tickroom_protocol::Error>;

/// Decodes one persisted component (inserted later, once the entities it
/// links to exist).
pub(crate) type LoadComponentFn =
    fn(&[u8]) -> Result<Box<dyn LoadedComponent>, tickroom_protocol::Error>;

/// Appends one persisted resource, its entity links written through the
/// mapper; false when the world has none.
pub(crate) type SaveResourceFn =
    fn(&World, &mut dyn EntityMapper, &mut Vec<u8>) -> Result<bool, tickroom_protocol::Error>;

/// Decodes one persisted resource.
pub(crate) type LoadResourceFn =
    fn(&[u8]) -> Result<Box<dyn LoadedResource>, tickroom_protocol::Error>;

/// A decoded persisted component, waiting for its entity.
pub(crate) trait LoadedComponent {
    /// Maps its entity links (`Component::map_entities`).
    fn map_entities(&mut self, mapper: &mut dyn EntityMapper);
    /// Inserts it on `entity`.
    fn insert_on(self: Box<Self>, entity: &mut EntityWorldMut<'_>);
}

/// A decoded persisted resource, waiting for the restored world.
pub(crate) trait LoadedResource {
    /// Maps its entity links (`Component::map_entities`).
    fn map_entities(&mut self, mapper: &mut dyn EntityMapper);
    /// Inserts it into `world`, replacing setup's.
    fn insert_into(self: Box<Self>, world: &mut World);
}

/// A decoded `T`.
struct Decoded<T>(T);

impl<C: Component> LoadedComponent for Decoded<C> {
    fn map_entities(&mut self, mut mapper: &mut dyn EntityMapper) {
        C::map_entities(&mut self.0, &mut mapper);
    }
    fn insert_on(self: Box<Self>, entity: &mut EntityWorldMut<'_>) {
        entity.insert(self.0);
    }
}

impl<R: Resource> LoadedResource for Decoded<R> {
    fn map_entities(&mut self, mut mapper: &mut dyn EntityMapper) {
        R::map_entities(&mut self.0, &mut mapper);
    }
    fn insert_into(self: Box<Self>, world: &mut World) {
        world.insert_resource(self.0);
    }
}

/// Counts the entities mapped through it.
struct Counting<'a> {
    inner: &'a mut dyn EntityMapper,
    calls: usize,
}

impl EntityMapper for Counting<'_> {
    fn get_mapped(&mut self, source: bevy_ecs::entity::Entity) -> bevy_ecs::entity::Entity {
        self.calls += 1;
        self.inner.get_mapped(source)
    }
    fn set_mapped(&mut self, source: bevy_ecs::entity::Entity, target: bevy_ecs::entity::Entity) {
        self.inner.set_mapped(source, target);
    }
}

/// Appends `value` with its entity links mapped through `mapper`: it is
/// encoded, and if its `map_entities` maps any entity, decoded, mapped and
/// encoded again (so a type needs no `Clone`, and one without links costs
/// one encode and one decode).
fn encode_mapped<T: Component + Serialize + DeserializeOwned>(
    value: &T,
    mapper: &mut dyn EntityMapper,
    out: &mut Vec<u8>,
) -> Result<(), tickroom_protocol::Error> {
    let start = out.len();
    codec::encode_serde(value, out)?;
    let mut copy: T = match codec::decode_serde(&out[start..]) {
        Ok(copy) => copy,
        Err(e) => {
            out.truncate(start);
            return Err(e);
        }
    };
    let mut counting = Counting {
        inner: mapper,
        calls: 0,
    };
    T::map_entities(&mut copy, &mut counting);
    if counting.calls > 0 {
        out.truncate(start);
        codec::encode_serde(&copy, out)?;
    }
    Ok(())
}

fn save_component<C: Component + Serialize + DeserializeOwned>(
    e: &EntityRef<'_>,
    mapper: &mut dyn EntityMapper,
    out: &mut Vec<u8>,
) -> Result<bool, tickroom_protocol::Error> {
    match e.get::<C>() {
        Some(c) => encode_mapped(c, mapper, out).map(|()| true),
        None => Ok(false),
    }
}

fn load_component<C: Component + DeserializeOwned>(
    bytes: &[u8],
) -> Result<Box<dyn LoadedComponent>, tickroom_protocol::Error> {
    Ok(Box::new(Decoded(codec::decode_serde::<C>(bytes)?)))
}

fn save_resource<R: Resource + Serialize + DeserializeOwned>(
    world: &World,
    mapper: &mut dyn EntityMapper,
    out: &mut Vec<u8>,
) -> Result<bool, tickroom_protocol::Error> {
    match world.get_resource::<R>() {
        Some(r) => encode_mapped(r, mapper, out).map(|()| true),
        None => Ok(false),
    }
}

fn load_resource<R: Resource + DeserializeOwned>(
    bytes: &[u8],
) -> Result<Box<dyn LoadedResource>, tickroom_protocol::Error> {
    Ok(Box::new(Decoded(codec::decode_serde::<R>(bytes)?)))
}

/// A component type declared with [`Declare::persist`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PersistedComponent {
    /// Its Rust type name (in errors and in the persist hash).
    pub(crate) name: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) save: SaveComponentFn,
    pub(crate) load: LoadComponentFn,
}

/// A resource type declared with [`Declare::persist_resource`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PersistedResource {
    /// Its Rust type name (in errors and in the persist hash).
    pub(crate) name: &'static str,
    pub(crate) type_id: TypeId,
    pub(crate) save: SaveResourceFn,
    pub(crate) load: LoadResourceFn,
}

/// A replicated component: its shape, type and how it is read out of the
/// world and back.
type Replicate = (Shape, TypeId, WriteFn, ReadFn);

fn write_component<C: Component + Wire>(
    e: &EntityRef<'_>,
    map: &dyn EntityMap,
    out: &mut Vec<Value>,
) -> bool {
    match e.get::<C>() {
        Some(c) => {
            c.write(map, out);
            true
        }
        None => false,
    }
}

/// Reads an entity's position for interest management; `None` when it has
/// no position component (a global entity).
pub(crate) type PositionFn = Arc<dyn Fn(&EntityRef<'_>) -> Option<[f32; 2]> + Send + Sync>;

/// The position a game declared with [`Declare::interest`].
#[derive(Clone)]
pub(crate) struct Interest {
    /// The component's name, for debugging.
    name: &'static str,
    pub(crate) position: PositionFn,
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interest")
            .field("position", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a game declares in [`crate::Game::declare`]: the components sent to
/// clients, the events it sends them, for interest management where its
/// entities are, and the state a hand-off must carry besides what is
/// replicated ([`Declare::persist`], [`Declare::persist_resource`]).
#[derive(Debug, Default)]
pub struct Declare {
    components: Vec<Replicate>,
    events: Vec<(Shape, TypeId)>,
    interest: Option<Interest>,
    persisted: Vec<PersistedComponent>,
    persisted_resources: Vec<PersistedResource>,
}

impl Declare {
    /// Sends component `C` of every [`crate::Replicated`] entity to clients,
    /// as a schema component named `C::NAME` with `C`'s wire fields.
    ///
    /// A saved room ([`crate::persist`]) carries `C` as these wire values
    /// too, unless `C` is also persisted ([`Declare::persist`]): a lossy
    /// field (fixed-point, a cut text) comes back as clients see it.
    pub fn replicate<C: Component + Wire>(&mut self) -> &mut Self {
        self.components.push((
            shape_of::<C>(),
            TypeId::of::<C>(),
            write_component::<C>,
            read_component::<C>,
        ));
        self
    }

    /// Saves component `C` with the room ([`crate::persist`]): state a
    /// hand-off must carry that is not, or not exactly, in a replicated
    /// component (timers, velocities, exact positions the wire quantizes,
    /// links to other entities). Mark the fields that hold entities
    /// (`Entity`, `Option<Entity>`, `Vec<Entity>`, ...) `#[entities]` (in
    /// `#[derive(Component)]`): a restored room's entities have other ids,
    /// and they are mapped through it. A replicated `C` persisted too is
    /// saved only this way, exactly. Declaring one type twice is an error.
    ///
    /// ```ignore
    /// #[derive(Component, Serialize, Deserialize)]
    /// struct Target(#[entities] Option<Entity>);
    ///
    /// game.persist::<Velocity>().persist::<Target>();
    /// ```
    pub fn persist<C: Component + Serialize + DeserializeOwned>(&mut self) -> &mut Self {
        self.persisted.push(PersistedComponent {
            name: std::any::type_name::<C>(),
            type_id: TypeId::of::<C>(),
            save: save_component::<C>,
            load: load_component::<C>,
        });
        self
    }

    /// Saves resource `R` with the room ([`crate::persist`]): one that
    /// changes during play. Resources setup derives from the config and
    /// seed and never changes need not be: setup runs again on a restore.
    /// The restored `R` replaces setup's. Entity links are mapped as for
    /// [`Declare::persist`]; in a resource, mark them `#[entities]` with
    /// `#[derive(Resource, MapEntities)]` and `#[component(map_entities)]`.
    pub fn persist_resource<R: Resource + Serialize + DeserializeOwned>(&mut self) -> &mut Self {
        self.persisted_resources.push(PersistedResource {
            name: std::any::type_name::<R>(),
            type_id: TypeId::of::<R>(),
            save: save_resource::<R>,
            load: load_resource::<R>,
        });
        self
    }

    /// Declares event type `E` (sent with [`crate::Outbox`]).
    pub fn event<E: Wire>(&mut self) -> &mut Self {
        self.events.push((shape_of::<E>(), TypeId::of::<E>()));
        self
    }

    /// Turns on interest management: a replicated entity with component
    /// `P` is at `position(p)` and is sent only to the players that see it
    /// (an [`crate::Eye`] within its radius, or [`crate::SeenBy`]); one
    /// without `P` is sent to everyone. See [`crate::interest`] for the
    /// rules and their cost. Without this call every player is sent
    /// everything. `P` need not be replicated itself; positions that are not
    /// finite are seen by no eye. Declaring it twice keeps the last.
    ///
    /// ```ignore
    /// game.replicate::<Ship>()
    ///     .interest::<Ship>(|s| [s.x, s.y]);
    /// ```
    pub fn interest<P: Component>(&mut self, position: fn(&P) -> [f32; 2]) -> &mut Self {
        self.interest = Some(Interest {
            name: std::any::type_name::<P>(),
            position: Arc::new(move |e: &EntityRef<'_>| e.get::<P>().map(position)),
        });
        self
    }
}

/// How a saved room carries one replicated component (per schema id).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Restorer {
    pub(crate) read: ReadFn,
    /// Whether it is saved as its wire values: not when it is persisted
    /// (saved exactly) or the engine's `player` (saved with the entity).
    pub(crate) from_wire: bool,
}

/// A game's compiled declarations (see the module docs).
#[derive(Debug)]
pub struct Catalogue {
    schema: Schema,
    /// `schema.encode()`, made once (every welcome carries it).
    schema_bytes: Vec<u8>,
    /// Per schema component id, how to read it from an entity.
    writers: Vec<WriteFn>,
    /// Per schema component id, how a saved room carries it.
    restorers: Vec<Restorer>,
    input_slots: Vec<Slot>,
    max_input_bytes: usize,
    interest: Option<Interest>,
    persisted: Vec<PersistedComponent>,
    persisted_resources: Vec<PersistedResource>,
    persist_hash: u64,
}

/// The version of the saved-room layout ([`crate::persist`]), in the
/// persist hash: a build that saves rooms otherwise refuses other builds'.
pub(crate) const PERSIST_FORMAT: u32 = 1;

/// Refuses a type declared twice in `list`.
fn no_duplicate<T>(
    list: &[T],
    id: impl Fn(&T) -> TypeId,
    name: impl Fn(&T) -> String,
    kind: &'static str,
) -> Result<(), SchemaError> {
    for (i, item) in list.iter().enumerate() {
        if list[..i].iter().any(|other| id(other) == id(item)) {
            return Err(SchemaError::Duplicate {
                kind,
                name: name(item),
            });
        }
    }
    Ok(())
}

impl Catalogue {
    /// Validates and compiles the declarations of game `name`, `version`,
    /// whose input type is `I` (the engine's `player` component already
    /// among them: [`crate::Games::register`] adds it).
    pub fn new<I: Wire>(name: &str, version: u32, declared: Declare) -> Result<Self, SchemaError> {
        no_duplicate(
            &declared.components,
            |c| c.1,
            |c| c.0.name.clone(),
            "component type",
        )?;
        no_duplicate(
            &declared.persisted,
            |p| p.type_id,
            |p| p.name.to_owned(),
            "persisted component type",
        )?;
        no_duplicate(
            &declared.persisted_resources,
            |p| p.type_id,
            |p| p.name.to_owned(),
            "persisted resource type",
        )?;
        let shapes = declared
            .components
            .iter()
            .map(|(s, _, _, _)| s.clone())
            .collect();
        let events = declared.events.into_iter().map(|(s, _)| s).collect();
        let schema = Schema::new(name, version, shapes, shape_of::<I>(), events)?;
        // Ids are places in the schema's name-sorted list.
        let mut writers = vec![declared.components[0].2; schema.components().len()];
        let mut restorers = vec![
            Restorer {
                read: declared.components[0].3,
                from_wire: false,
            };
            schema.components().len()
        ];
        for (shape, type_id, write, read) in &declared.components {
            if let Some(id) = schema.component_id(&shape.name) {
                writers[usize::from(id)] = *write;
                restorers[usize::from(id)] = Restorer {
                    read: *read,
                    from_wire: *type_id != TypeId::of::<crate::world::Player>()
                        && !declared.persisted.iter().any(|p| p.type_id == *type_id),
                };
            }
        }
        let persist_hash =
            persist_hash(&schema, &declared.persisted, &declared.persisted_resources);
        let input_slots = schema.input_layout().to_vec();
        let max_input_bytes = max_encoded_len(&input_slots);
        if max_input_bytes > tickroom_protocol::MAX_INPUT_BYTES {
            return Err(SchemaError::TooMany {
                kind: "bytes in the largest input",
                count: max_input_bytes,
                max: tickroom_protocol::MAX_INPUT_BYTES,
            });
        }
        Ok(Self {
            schema_bytes: schema.encode(),
            schema,
            writers,
            restorers,
            input_slots,
            max_input_bytes,
            interest: declared.interest,
            persisted: declared.persisted,
            persisted_resources: declared.persisted_resources,
            persist_hash,
        })
    }

    /// A hash of what a saved room of this game holds ([`crate::persist`]):
    /// the game's name and version, its schema's hash, and the persisted
    /// components and resources by type name, in declaration order. A room
    /// restores only a save with the same hash.
    pub fn persist_hash(&self) -> u64 {
        self.persist_hash
    }

    pub(crate) fn restorers(&self) -> &[Restorer] {
        &self.restorers
    }

    pub(crate) fn persisted(&self) -> &[PersistedComponent] {
        &self.persisted
    }

    pub(crate) fn persisted_resources(&self) -> &[PersistedResource] {
        &self.persisted_resources
    }

    /// The schema clients decode with.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The schema's encoding (what a welcome carries).
    pub fn schema_bytes(&self) -> &[u8] {
        &self.schema_bytes
    }

    /// The input's value slots.
    pub fn input_slots(&self) -> &[Slot] {
        &self.input_slots
    }

    /// The most bytes an encoded input can take.
    pub fn max_input_bytes(&self) -> usize {
        self.max_input_bytes
    }

    /// Appends `input` encoded as an [`tickroom_protocol::Input`]'s `data`
    /// (what a client of this game sends; for bots, tests and tools).
    pub fn encode_input<I: Wire>(&self, input: &I, out: &mut Vec<u8>) {
        let mut values = Vec::new();
        input.write(&crate::wire::NoEntities, &mut values);
        tickroom_protocol::state::encode_values(&self.input_slots, &values, out);
    }

    /// Whether the game declared interest management
    /// ([`Declare::interest`]): its players are sent only what they see.
    pub fn has_interest(&self) -> bool {
        self.interest.is_some()
    }

    pub(crate) fn interest(&self) -> Option<&Interest> {
        self.interest.as_ref()
    }

    pub(crate) fn writers(&self) -> &[WriteFn] {
        &self.writers
    }

    /// The bytes of event `name` with `values`: its id (a varint) then its
    /// values. `None` if the game declared no such event.
    pub(crate) fn encode_event(&self, name: &str, values: &[Value]) -> Option<Vec<u8>> {
        let id = self.schema.event_id(name)?;
        let mut out = Vec::with_capacity(2 + values.len() * 2);
        encode_event(&self.schema, id, values, &mut out)?;
        Some(out)
    }
}

/// FNV-1a 64 over the saved-room format, the game, its version, its schema's
/// hash and the persisted types' names, in order (a name is followed by a 0
/// byte, components by a 1 before the resources).
fn persist_hash(
    schema: &Schema,
    persisted: &[PersistedComponent],
    resources: &[PersistedResource],
) -> u64 {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&PERSIST_FORMAT.to_le_bytes());
    bytes.extend_from_slice(schema.game().as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&schema.version().to_le_bytes());
    bytes.extend_from_slice(&schema.hash().to_le_bytes());
    for name in persisted.iter().map(|p| p.name) {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
    }
    bytes.push(1);
    for name in resources.iter().map(|p| p.name) {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
    }
    tickroom_protocol::state::schema::fnv1a64(&bytes)
}
