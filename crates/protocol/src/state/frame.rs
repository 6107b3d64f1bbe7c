//! A frame: what every replicated entity looks like at one tick, as plain
//! values a schema describes. The engine builds one per frame tick from the
//! room's ECS world; the client rebuilds the same from deltas. Entities are
//! kept sorted by network id and components by id, so two equal states are
//! equal frames, with one canonical encoding and one checksum.
//!
//! Storage is flat (ids, component ranges and values in four vectors), so
//! building or rebuilding a frame allocates nothing per entity once the
//! vectors have grown.

use super::schema::{Schema, Slot};
use super::wire::{Reader, put_str, put_varint, unzigzag, zigzag};
use super::{DecodeError, FrameError};

/// One value slot: an integer (bools, integers, fixed-point, entity ids and
/// a float's bits) or a text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    Text(std::sync::Arc<str>),
}

impl Value {
    /// The zero a slot starts from (what a newly added component's values
    /// are delta-coded against).
    pub(crate) fn zero(slot: Slot) -> Self {
        match slot {
            Slot::Text { .. } => Value::Text(std::sync::Arc::from("")),
            _ => Value::Int(0),
        }
    }

    /// Whether this is its slot's zero.
    pub(crate) fn is_zero(&self) -> bool {
        match self {
            Value::Int(v) => *v == 0,
            Value::Text(t) => t.is_empty(),
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

/// Every replicated entity at one tick, sorted by network id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Frame {
    pub tick: u32,
    ids: Vec<u32>,
    /// Per entity, the end of its components in `comps`.
    ends: Vec<u32>,
    /// Per component: its id and the end of its values in `values`.
    comps: Vec<(u8, u32)>,
    values: Vec<Value>,
}

impl Frame {
    /// An empty frame at `tick`.
    pub fn new(tick: u32) -> Self {
        Self {
            tick,
            ..Self::default()
        }
    }

    /// An empty frame with room for as many entities, components and
    /// values as `like` has, so building the next tick's frame like it
    /// allocates once per vector.
    pub fn with_capacity_of(like: &Frame) -> Self {
        Self {
            tick: 0,
            ids: Vec::with_capacity(like.ids.len()),
            ends: Vec::with_capacity(like.ends.len()),
            comps: Vec::with_capacity(like.comps.len()),
            values: Vec::with_capacity(like.values.len()),
        }
    }

    /// Empties the frame for `tick`, keeping its allocations.
    pub fn clear(&mut self, tick: u32) {
        self.tick = tick;
        self.ids.clear();
        self.ends.clear();
        self.comps.clear();
        self.values.clear();
    }

    /// Starts the next entity; ids must ascend.
    pub fn begin(&mut self, id: u32) -> Result<(), FrameError> {
        if self.ids.last().is_some_and(|&l| l >= id) {
            return Err(FrameError::OutOfOrder(id));
        }
        self.begin_unchecked(id);
        Ok(())
    }

    pub(crate) fn begin_unchecked(&mut self, id: u32) {
        self.ids.push(id);
        self.ends.push(self.comps.len() as u32);
    }

    /// Gives the entity begun last component `id`; component ids must ascend
    /// within an entity and the values must fit the schema.
    pub fn set(&mut self, schema: &Schema, id: u8, values: &[Value]) -> Result<(), FrameError> {
        let layout = schema.layout(id).ok_or(FrameError::UnknownComponent(id))?;
        let entity = *self.ids.last().ok_or(FrameError::NoEntity)?;
        if values.len() != layout.len() || values.iter().zip(layout).any(|(v, &s)| !v.fits(s)) {
            return Err(FrameError::BadValues {
                entity,
                component: id,
            });
        }
        if self
            .last_entity_comps()
            .last()
            .is_some_and(|&(c, _)| c >= id)
        {
            return Err(FrameError::ComponentOutOfOrder {
                entity,
                component: id,
            });
        }
        self.values.extend_from_slice(values);
        self.push_comp(id);
        Ok(())
    }

    /// Appends values to the entity begun last (checked by the caller).
    pub(crate) fn values_mut(&mut self) -> &mut Vec<Value> {
        &mut self.values
    }

    /// Closes a component whose values were just appended.
    pub(crate) fn push_comp(&mut self, id: u8) {
        self.comps.push((id, self.values.len() as u32));
        if let Some(e) = self.ends.last_mut() {
            *e = self.comps.len() as u32;
        }
    }

    /// Copies a whole entity of another frame.
    pub(crate) fn copy_entity(&mut self, e: EntityRef<'_>) {
        self.begin_unchecked(e.id());
        for (c, v) in e.components() {
            self.values.extend_from_slice(v);
            self.push_comp(c);
        }
    }

    fn last_entity_comps(&self) -> &[(u8, u32)] {
        let n = self.ids.len();
        let start = if n >= 2 { self.ends[n - 2] as usize } else { 0 };
        &self.comps[start..]
    }

    /// How many entities.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many value slots in all.
    pub fn slots(&self) -> usize {
        self.values.len()
    }

    /// Entity `i` in id order.
    pub fn entity(&self, i: usize) -> EntityRef<'_> {
        EntityRef { frame: self, i }
    }

    /// The entities, in network-id order.
    pub fn entities(&self) -> impl ExactSizeIterator<Item = EntityRef<'_>> {
        (0..self.ids.len()).map(|i| EntityRef { frame: self, i })
    }

    /// The entity with network id `id`.
    pub fn get(&self, id: u32) -> Option<EntityRef<'_>> {
        self.ids
            .binary_search(&id)
            .ok()
            .map(|i| EntityRef { frame: self, i })
    }

    /// The network ids, ascending.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// CRC-32 (IEEE) of the frame's canonical bytes, written into `scratch`
    /// (reused between calls): the tick, the entity count, then per entity
    /// its id and component count, per component its id and value count,
    /// per value an integer's zig-zag varint or a text's length and bytes.
    /// Equal frames have equal bytes, and a client that rebuilt the frame
    /// computes the same without the schema or the delta encoder.
    pub fn checksum(&self, scratch: &mut Vec<u8>) -> u32 {
        scratch.clear();
        // Most values and headers take one byte.
        scratch.reserve(self.values.len() + 2 * self.comps.len() + 3 * self.ids.len() + 10);
        put_varint(scratch, self.tick.into());
        put_varint(scratch, self.ids.len() as u64);
        for e in self.entities() {
            put_varint(scratch, e.id().into());
            put_varint(scratch, e.len() as u64);
            for (c, values) in e.components() {
                scratch.push(c);
                put_varint(scratch, values.len() as u64);
                for v in values {
                    match v {
                        Value::Int(n) => put_varint(scratch, zigzag(*n)),
                        Value::Text(t) => put_str(scratch, t),
                    }
                }
            }
        }
        crc32fast::hash(scratch)
    }

    /// Rebuilds in place (keeping the allocations) the frame whose canonical
    /// bytes [`Frame::checksum`] wrote. A room keeps its older frames as
    /// these bytes, a tenth of the frame's size, and reads one back only
    /// when a client's baseline is that old. Bytes that are not a canonical
    /// frame of `schema` are refused, never misread.
    pub fn read_canonical(&mut self, schema: &Schema, bytes: &[u8]) -> Result<(), DecodeError> {
        let mut r = Reader::new(bytes);
        let bad = |r: &Reader<'_>, what| DecodeError::Malformed { at: r.pos(), what };
        self.clear(r.varint_u32()?);
        let entities = r.count(2)?;
        for _ in 0..entities {
            let id = r.varint_u32()?;
            if self.ids.last().is_some_and(|&l| l >= id) {
                return Err(bad(&r, "entity ids not ascending"));
            }
            self.begin_unchecked(id);
            let comps = r.count(2)?;
            let mut last = None;
            for _ in 0..comps {
                let c = r.u8()?;
                let layout = schema
                    .layout(c)
                    .ok_or_else(|| bad(&r, "unknown component"))?;
                if last.is_some_and(|l| l >= c) {
                    return Err(bad(&r, "component ids not ascending"));
                }
                last = Some(c);
                if r.count(1)? != layout.len() {
                    return Err(bad(&r, "value count differs from the component's"));
                }
                for &slot in layout {
                    let v = match slot {
                        Slot::Text { max_bytes } => {
                            Value::Text(r.str(usize::from(max_bytes))?.into())
                        }
                        _ => Value::Int(unzigzag(r.varint()?)),
                    };
                    if !v.fits(slot) {
                        return Err(bad(&r, "value out of its slot's range"));
                    }
                    self.values.push(v);
                }
                self.push_comp(c);
            }
        }
        r.finish()
    }
}

/// One entity of a frame.
#[derive(Debug, Clone, Copy)]
pub struct EntityRef<'a> {
    frame: &'a Frame,
    i: usize,
}

impl<'a> EntityRef<'a> {
    /// Its network id.
    pub fn id(&self) -> u32 {
        self.frame.ids[self.i]
    }

    fn comp_range(&self) -> std::ops::Range<usize> {
        let start = if self.i == 0 {
            0
        } else {
            self.frame.ends[self.i - 1] as usize
        };
        start..self.frame.ends[self.i] as usize
    }

    /// How many components.
    pub fn len(&self) -> usize {
        self.comp_range().len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.comp_range().is_empty()
    }

    /// Its components in id order: (id, values).
    pub fn components(self) -> impl ExactSizeIterator<Item = (u8, &'a [Value])> + use<'a> {
        let f = self.frame;
        self.comp_range().map(move |k| {
            let start = if k == 0 { 0 } else { f.comps[k - 1].1 as usize };
            (f.comps[k].0, &f.values[start..f.comps[k].1 as usize])
        })
    }

    /// Component `id`'s values, if it has it.
    pub fn get(self, id: u8) -> Option<&'a [Value]> {
        self.components().find(|&(c, _)| c == id).map(|(_, v)| v)
    }

    /// Component presence as a mask (bit = component id).
    pub(crate) fn mask(self) -> u64 {
        self.components().fold(0, |m, (c, _)| m | 1 << c)
    }
}

impl PartialEq for EntityRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id() && self.components().eq(other.components())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Field, FieldType, Scalar, Shape};

    fn schema() -> Schema {
        let c = Shape::new(
            "c",
            vec![
                Field::new("n", FieldType::Scalar(Scalar::I32)),
                Field::new("t", FieldType::Text { max_bytes: 8 }),
            ],
        );
        Schema::new(
            "g",
            1,
            vec![c, Shape::new("d", vec![])],
            Shape::new("i", vec![]),
            vec![],
        )
        .unwrap()
    }

    fn frame(tick: u32, n: i64, t: &str, with_d: bool) -> Frame {
        let s = schema();
        let mut f = Frame::new(tick);
        f.begin(3).unwrap();
        f.set(&s, 0, &[Value::Int(n), Value::Text(t.into())])
            .unwrap();
        if with_d {
            f.set(&s, 1, &[]).unwrap();
        }
        f
    }

    #[test]
    fn canonical_bytes_read_back_into_the_same_frame_and_misfits_are_refused() {
        let s = schema();
        let mut scratch = Vec::new();
        let mut back = frame(1, 0, "zz", true);
        for f in [
            frame(7, -2, "ab", false),
            frame(8, i64::from(i32::MIN), "", true),
            Frame::new(9),
        ] {
            f.checksum(&mut scratch);
            back.read_canonical(&s, &scratch).unwrap();
            assert_eq!(back, f);
        }
        frame(7, -2, "ab", false).checksum(&mut scratch);
        for (at, byte) in [(3, 9), (4, 5), (5, 3), (6, 254)] {
            let mut bad = scratch.clone();
            bad[at] = byte;
            assert!(back.read_canonical(&s, &bad).is_err(), "byte {at} = {byte}");
        }
        assert!(
            back.read_canonical(&s, &scratch[..scratch.len() - 1])
                .is_err()
        );
        let mut long = scratch.clone();
        long.push(0);
        assert!(back.read_canonical(&s, &long).is_err());
    }

    #[test]
    fn the_checksum_is_the_crc_of_the_documented_bytes_and_sees_every_change() {
        let mut scratch = Vec::new();
        let sum = frame(7, -2, "ab", false).checksum(&mut scratch);
        // tick 7, 1 entity, id 3 with 1 component: id 0, 2 values: zigzag(-2) = 3, "ab".
        assert_eq!(scratch, [7, 1, 3, 1, 0, 2, 3, 2, b'a', b'b']);
        assert_eq!(sum, crc32fast::hash(&scratch));
        for other in [
            frame(8, -2, "ab", false),
            frame(7, 2, "ab", false),
            frame(7, -2, "ac", false),
            frame(7, -2, "ab", true),
        ] {
            assert_ne!(other.checksum(&mut scratch), sum, "{other:?}");
        }
        assert_eq!(frame(7, -2, "ab", false).checksum(&mut scratch), sum);
    }
}
