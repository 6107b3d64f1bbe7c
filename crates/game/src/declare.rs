//! A game's declarations ([`Declare`]: its replicated components and its
//! events, beside its input type) and what the engine compiles them into
//! ([`Catalogue`]): the validated [`Schema`] clients decode with, and per
//! component the function that reads it out of the `World` into a frame.
//!
//! Declared once per game at registration, never per room, so every room of
//! a game (and every build of it with the same declarations) has the same
//! schema, ids and hash.

use std::any::TypeId;
use std::sync::Arc;

use bevy_ecs::prelude::Component;
use bevy_ecs::world::EntityRef;
use tickroom_protocol::state::{
    Schema, SchemaError, Shape, Slot, Value, encode_event, max_encoded_len,
};

use crate::wire::{EntityMap, Wire, shape_of};

/// Reads one component of an entity into values; false when the entity has
/// none.
pub(crate) type WriteFn = fn(&EntityRef<'_>, &dyn EntityMap, &mut Vec<Value>) -> bool;

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
/// clients, the events it sends them and, for interest management, where
/// its entities are.
#[derive(Debug, Default)]
pub struct Declare {
    components: Vec<(Shape, TypeId, WriteFn)>,
    events: Vec<(Shape, TypeId)>,
    interest: Option<Interest>,
}

impl Declare {
    /// Sends component `C` of every [`crate::Replicated`] entity to clients,
    /// as a schema component named `C::NAME` with `C`'s wire fields.
    pub fn replicate<C: Component + Wire>(&mut self) -> &mut Self {
        self.components
            .push((shape_of::<C>(), TypeId::of::<C>(), write_component::<C>));
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

/// A game's compiled declarations (see the module docs).
#[derive(Debug)]
pub struct Catalogue {
    schema: Schema,
    /// `schema.encode()`, made once (every welcome carries it).
    schema_bytes: Vec<u8>,
    /// Per schema component id, how to read it from an entity.
    writers: Vec<WriteFn>,
    input_slots: Vec<Slot>,
    max_input_bytes: usize,
    interest: Option<Interest>,
}

impl Catalogue {
    /// Validates and compiles the declarations of game `name`, `version`,
    /// whose input type is `I` (the engine's `player` component already
    /// among them: [`crate::Games::register`] adds it).
    pub fn new<I: Wire>(name: &str, version: u32, declared: Declare) -> Result<Self, SchemaError> {
        for (i, (_, t, _)) in declared.components.iter().enumerate() {
            if declared.components[..i].iter().any(|(_, u, _)| u == t) {
                return Err(SchemaError::Duplicate {
                    kind: "component type",
                    name: declared.components[i].0.name.clone(),
                });
            }
        }
        let shapes = declared
            .components
            .iter()
            .map(|(s, _, _)| s.clone())
            .collect();
        let events = declared.events.into_iter().map(|(s, _)| s).collect();
        let schema = Schema::new(name, version, shapes, shape_of::<I>(), events)?;
        // Ids are places in the schema's name-sorted list.
        let mut writers = vec![declared.components[0].2; schema.components().len()];
        for (shape, _, write) in &declared.components {
            if let Some(id) = schema.component_id(&shape.name) {
                writers[usize::from(id)] = *write;
            }
        }
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
            input_slots,
            max_input_bytes,
            interest: declared.interest,
        })
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
