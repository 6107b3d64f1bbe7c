//! A frame: what every replicated entity looks like at one tick, as plain
//! values a schema describes. The engine builds one per frame tick from the
//! room's ECS world; the client rebuilds the same from deltas. Entities are
//! kept sorted by network id and components by id, so two equal states are
//! equal frames, with one canonical encoding and one checksum.

use super::FrameError;
use super::schema::{Schema, Slot};

/// One value slot: an integer (bools, integers, fixed-point, entity ids and
/// a float's bits) or a text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    Text(Box<str>),
}

impl Value {
    /// The zero a slot starts from (what a newly added component's values
    /// are delta-coded against).
    pub(crate) fn zero(slot: Slot) -> Self {
        match slot {
            Slot::Text { .. } => Value::Text(Box::default()),
            _ => Value::Int(0),
        }
    }

    /// Whether this value may sit in `slot`.
    pub(crate) fn fits(&self, slot: Slot) -> bool {
        match (self, slot) {
            (Value::Int(v), Slot::Int { min, max, .. }) => (min..=max).contains(v),
            (Value::Int(v), Slot::F32) => (0..=i64::from(u32::MAX)).contains(v),
            (Value::Text(t), Slot::Text { max_bytes }) => t.len() <= usize::from(max_bytes),
            _ => false,
        }
    }
}

/// One component of an entity: its id in the schema and a value per slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Component {
    pub id: u8,
    pub values: Box<[Value]>,
}

/// A replicated entity: its network id and its components, by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entity {
    pub id: u32,
    components: Vec<Component>,
}

impl Entity {
    /// An entity with no components yet.
    pub fn new(id: u32) -> Self {
        Self {
            id,
            components: Vec::new(),
        }
    }

    /// The entity's components, in id order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// Component `id`'s values, if the entity has it.
    pub fn get(&self, id: u8) -> Option<&[Value]> {
        self.find(id).ok().map(|i| &*self.components[i].values)
    }

    fn find(&self, id: u8) -> Result<usize, usize> {
        self.components.binary_search_by_key(&id, |c| c.id)
    }

    /// Sets component `id` (replacing it if present); the values are checked
    /// against the schema.
    pub fn set(&mut self, schema: &Schema, id: u8, values: Vec<Value>) -> Result<(), FrameError> {
        let layout = schema.layout(id).ok_or(FrameError::UnknownComponent(id))?;
        if values.len() != layout.len() || values.iter().zip(layout).any(|(v, &s)| !v.fits(s)) {
            return Err(FrameError::BadValues {
                entity: self.id,
                component: id,
            });
        }
        self.put(Component {
            id,
            values: values.into_boxed_slice(),
        });
        Ok(())
    }

    /// Sets a component already known to fit the schema.
    pub(crate) fn put(&mut self, c: Component) {
        match self.find(c.id) {
            Ok(i) => self.components[i] = c,
            Err(i) => self.components.insert(i, c),
        }
    }

    /// Removes component `id`; whether it was there.
    pub fn remove(&mut self, id: u8) -> bool {
        match self.find(id) {
            Ok(i) => {
                self.components.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Component presence as a mask (bit = component id).
    pub(crate) fn mask(&self) -> u64 {
        self.components.iter().fold(0, |m, c| m | 1 << c.id)
    }
}

/// Every replicated entity at one tick, sorted by network id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Frame {
    pub tick: u32,
    entities: Vec<Entity>,
}

impl Frame {
    /// An empty frame at `tick`.
    pub fn new(tick: u32) -> Self {
        Self {
            tick,
            entities: Vec::new(),
        }
    }

    /// Builds a frame from entities in any order; two with one id are an error.
    pub fn from_entities(tick: u32, mut entities: Vec<Entity>) -> Result<Self, FrameError> {
        entities.sort_unstable_by_key(|e| e.id);
        if let Some(w) = entities.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(FrameError::DuplicateEntity(w[0].id));
        }
        Ok(Self { tick, entities })
    }

    /// Appends an entity whose id is above every id so far (the cheap way
    /// to build a frame from an id-sorted source).
    pub fn push(&mut self, entity: Entity) -> Result<(), FrameError> {
        if self.entities.last().is_some_and(|l| l.id >= entity.id) {
            return Err(FrameError::OutOfOrder(entity.id));
        }
        self.entities.push(entity);
        Ok(())
    }

    /// The entities, in network-id order.
    pub fn entities(&self) -> &[Entity] {
        &self.entities
    }

    /// The entity with network id `id`.
    pub fn get(&self, id: u32) -> Option<&Entity> {
        self.entities
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entities[i])
    }

    pub(crate) fn from_sorted(tick: u32, entities: Vec<Entity>) -> Self {
        debug_assert!(entities.windows(2).all(|w| w[0].id < w[1].id));
        Self { tick, entities }
    }
}
