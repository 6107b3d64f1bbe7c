//! A frame: what every replicated entity looks like at one tick, as plain
//! values a schema describes. The engine builds one per frame tick from the
//! room's ECS world; the client rebuilds the same from deltas. Entities are
//! kept sorted by network id and components by id, so two equal states are
//! equal frames, with one canonical encoding and one checksum.
//!
//! Storage is flat and compact: ids, component ranges and one `i64` per
//! value slot in a few vectors, with texts in a side table (a text slot
//! holds its index there, and a bit says which slots are texts). So
//! building, copying or comparing a frame is mostly copying and comparing
//! integers, a 50-player arena frame is about 8 KB, and nothing is allocated
//! per entity once the vectors have grown.

use std::sync::Arc;

use super::schema::{Schema, Slot};
use super::wire::{Reader, put_str, put_varint, unzigzag, zigzag};
use super::{DecodeError, FrameError};

/// One value slot, owned: an integer (bools, integers, fixed-point, entity
/// ids and a float's bits) or a text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    Text(Arc<str>),
}

impl Value {
    /// Whether this value may sit in `slot`.
    pub(crate) fn fits(&self, slot: Slot) -> bool {
        self.as_ref().fits(slot)
    }

    /// Borrowed.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Int(n) => ValueRef::Int(*n),
            Value::Text(t) => ValueRef::Text(t),
        }
    }
}

/// One value slot of a frame, borrowed (see [`Values`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueRef<'a> {
    Int(i64),
    Text(&'a str),
}

impl ValueRef<'_> {
    /// The integer, if it is one.
    pub fn int(self) -> Option<i64> {
        match self {
            ValueRef::Int(n) => Some(n),
            ValueRef::Text(_) => None,
        }
    }

    /// Owned.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Int(n) => Value::Int(n),
            ValueRef::Text(t) => Value::Text(Arc::from(t)),
        }
    }

    pub(crate) fn is_zero(self) -> bool {
        match self {
            ValueRef::Int(v) => v == 0,
            ValueRef::Text(t) => t.is_empty(),
        }
    }

    pub(crate) fn fits(self, slot: Slot) -> bool {
        match (self, slot) {
            (ValueRef::Int(v), Slot::Int { min, max, .. }) => (min..=max).contains(&v),
            (ValueRef::Int(v), Slot::F32) => (0..=i64::from(u32::MAX)).contains(&v),
            (ValueRef::Text(t), Slot::Text { max_bytes }) => t.len() <= usize::from(max_bytes),
            _ => false,
        }
    }
}

impl PartialEq<Value> for ValueRef<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == other.as_ref()
    }
}

impl PartialEq<ValueRef<'_>> for Value {
    fn eq(&self, other: &ValueRef<'_>) -> bool {
        self.as_ref() == *other
    }
}

/// Every replicated entity at one tick, sorted by network id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Frame {
    pub tick: u32,
    ids: Vec<u32>,
    /// Per entity, the end of its components in `comp_ids`/`comp_ends`.
    ends: Vec<u32>,
    /// Per component: its id.
    comp_ids: Vec<u8>,
    /// Per component: the end of its values in `values`.
    comp_ends: Vec<u32>,
    /// Per component: whether any of its slots is a text (most are not, and
    /// those compare and copy as plain integers).
    comp_text: Vec<bool>,
    /// Whether the component being built has a text so far.
    pending_text: bool,
    /// Per slot: the integer, or for a text its index in `texts`.
    values: Vec<i64>,
    /// Bit `i` (word `i / 64`): slot `i` is a text.
    text_bits: Vec<u64>,
    /// The texts, in slot order.
    texts: Vec<Arc<str>>,
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
            comp_ids: Vec::with_capacity(like.comp_ids.len()),
            comp_ends: Vec::with_capacity(like.comp_ends.len()),
            comp_text: Vec::with_capacity(like.comp_text.len()),
            pending_text: false,
            values: Vec::with_capacity(like.values.len()),
            text_bits: Vec::with_capacity(like.text_bits.len()),
            texts: Vec::with_capacity(like.texts.len()),
        }
    }

    /// Empties the frame for `tick`, keeping its allocations.
    pub fn clear(&mut self, tick: u32) {
        self.tick = tick;
        self.ids.clear();
        self.ends.clear();
        self.comp_ids.clear();
        self.comp_ends.clear();
        self.comp_text.clear();
        self.pending_text = false;
        self.values.clear();
        self.text_bits.clear();
        self.texts.clear();
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
        self.ends.push(self.comp_ids.len() as u32);
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
        if self.last_entity_comp_ids().last().is_some_and(|&c| c >= id) {
            return Err(FrameError::ComponentOutOfOrder {
                entity,
                component: id,
            });
        }
        for v in values {
            match v {
                Value::Int(n) => self.push_int(*n),
                Value::Text(t) => self.push_text(Arc::clone(t)),
            }
        }
        self.push_comp(id);
        Ok(())
    }

    /// Appends an integer slot to the component being built.
    #[inline]
    pub(crate) fn push_int(&mut self, n: i64) {
        if self.values.len().is_multiple_of(64) {
            self.text_bits.push(0);
        }
        self.values.push(n);
    }

    /// Appends a text slot to the component being built.
    pub(crate) fn push_text(&mut self, t: Arc<str>) {
        let slot = self.values.len();
        self.push_int(self.texts.len() as i64);
        if let Some(w) = self.text_bits.last_mut() {
            *w |= 1 << (slot % 64);
        }
        self.texts.push(t);
        self.pending_text = true;
    }

    /// Appends a slot of another frame's (a text's `Arc` is shared).
    #[inline]
    pub(crate) fn push_from(&mut self, from: &Frame, slot: usize) {
        if from.is_text(slot) {
            self.push_text(Arc::clone(&from.texts[from.values[slot] as usize]));
        } else {
            self.push_int(from.values[slot]);
        }
    }

    /// Appends a component's slots of another frame (or of this one's
    /// base).
    pub(crate) fn push_values(&mut self, v: Values<'_>) {
        let (from, range) = (v.frame, v.range());
        if v.text {
            for slot in range {
                self.push_from(from, slot);
            }
        } else {
            self.values.extend_from_slice(&from.values[range]);
            // One word of text bits per 64 slots (the new ones are 0).
            self.text_bits.resize(self.values.len().div_ceil(64), 0);
        }
    }

    /// Closes a component whose values were just appended.
    pub(crate) fn push_comp(&mut self, id: u8) {
        self.comp_ids.push(id);
        self.comp_ends.push(self.values.len() as u32);
        self.comp_text.push(std::mem::take(&mut self.pending_text));
        if let Some(e) = self.ends.last_mut() {
            *e = self.comp_ids.len() as u32;
        }
    }

    /// Copies a whole entity of another frame.
    pub(crate) fn copy_entity(&mut self, e: EntityRef<'_>) {
        self.begin_unchecked(e.id());
        for (c, v) in e.components() {
            self.push_values(v);
            self.push_comp(c);
        }
    }

    fn last_entity_comp_ids(&self) -> &[u8] {
        let n = self.ids.len();
        let start = if n >= 2 { self.ends[n - 2] as usize } else { 0 };
        &self.comp_ids[start..]
    }

    #[inline]
    fn is_text(&self, slot: usize) -> bool {
        self.text_bits[slot / 64] & (1 << (slot % 64)) != 0
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
        scratch.reserve(self.values.len() + 2 * self.comp_ids.len() + 3 * self.ids.len() + 10);
        put_varint(scratch, self.tick.into());
        put_varint(scratch, self.ids.len() as u64);
        for e in self.entities() {
            e.put_canonical(scratch);
        }
        crc32fast::hash(scratch)
    }

    /// The frame made of entities `indices` (ascending positions in this
    /// frame) at this frame's tick, into `out` (cleared first): what a
    /// client whose view is `indices` holds.
    pub fn subset(&self, indices: &[u32], out: &mut Frame) {
        out.clear(self.tick);
        for &i in indices {
            out.copy_entity(self.entity(i as usize));
        }
    }

    /// Rebuilds in place (keeping the allocations) the frame whose canonical
    /// bytes [`Frame::checksum`] wrote. A room keeps its older frames as
    /// these bytes, a fraction of the frame's size, and reads one back only
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
                    match slot {
                        Slot::Text { max_bytes } => {
                            let t = r.str(usize::from(max_bytes))?;
                            self.push_text(Arc::from(t));
                        }
                        _ => {
                            let n = unzigzag(r.varint()?);
                            if !ValueRef::Int(n).fits(slot) {
                                return Err(bad(&r, "value out of its slot's range"));
                            }
                            self.push_int(n);
                        }
                    }
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
    pub fn components(self) -> impl ExactSizeIterator<Item = (u8, Values<'a>)> + use<'a> {
        let f = self.frame;
        self.comp_range().map(move |k| {
            let start = if k == 0 { 0 } else { f.comp_ends[k - 1] };
            (
                f.comp_ids[k],
                Values {
                    frame: f,
                    start,
                    end: f.comp_ends[k],
                    text: f.comp_text[k],
                },
            )
        })
    }

    /// Component `id`'s values, if it has it.
    pub fn get(self, id: u8) -> Option<Values<'a>> {
        let range = self.comp_range();
        let k = range.start + self.frame.comp_ids[range].iter().position(|&c| c == id)?;
        let f = self.frame;
        let start = if k == 0 { 0 } else { f.comp_ends[k - 1] };
        Some(Values {
            frame: f,
            start,
            end: f.comp_ends[k],
            text: f.comp_text[k],
        })
    }

    /// Appends its canonical bytes (see [`Frame::checksum`]).
    pub(crate) fn put_canonical(self, out: &mut Vec<u8>) {
        put_varint(out, self.id().into());
        put_varint(out, self.len() as u64);
        for (c, values) in self.components() {
            out.push(c);
            put_varint(out, values.len() as u64);
            if values.has_text() {
                for v in values.iter() {
                    match v {
                        ValueRef::Int(n) => put_varint(out, zigzag(n)),
                        ValueRef::Text(t) => put_str(out, t),
                    }
                }
            } else {
                for &n in values.ints() {
                    put_varint(out, zigzag(n));
                }
            }
        }
    }

    /// Component presence as a mask (bit = component id).
    pub(crate) fn mask(self) -> u64 {
        self.frame.comp_ids[self.comp_range()]
            .iter()
            .fold(0, |m, &c| m | 1 << c)
    }
}

impl PartialEq for EntityRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id() && self.components().eq(other.components())
    }
}

/// One component's values in a frame.
#[derive(Clone, Copy)]
pub struct Values<'a> {
    frame: &'a Frame,
    start: u32,
    end: u32,
    /// Whether any slot is a text.
    text: bool,
}

impl<'a> Values<'a> {
    /// How many slots.
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The frame the values are in, and their slots there.
    pub(crate) fn frame(&self) -> &'a Frame {
        self.frame
    }

    pub(crate) fn slot_range(&self) -> std::ops::Range<usize> {
        self.range()
    }

    /// Slot `k`.
    pub fn get(&self, k: usize) -> Option<ValueRef<'a>> {
        (k < self.len()).then(|| self.at(self.start as usize + k))
    }

    /// Slot `k` as an integer (`None` past the end or for a text).
    pub fn int(&self, k: usize) -> Option<i64> {
        self.get(k).and_then(ValueRef::int)
    }

    #[inline]
    fn at(&self, slot: usize) -> ValueRef<'a> {
        let f = self.frame;
        if f.is_text(slot) {
            ValueRef::Text(&f.texts[f.values[slot] as usize])
        } else {
            ValueRef::Int(f.values[slot])
        }
    }

    /// The slots in order.
    pub fn iter(&self) -> ValuesIter<'a> {
        self.into_iter()
    }

    /// The slots, owned.
    pub fn to_vec(&self) -> Vec<Value> {
        self.iter().map(ValueRef::to_value).collect()
    }

    /// Whether any slot is a text.
    pub(crate) fn has_text(&self) -> bool {
        self.text
    }

    /// The raw slots (a text's is its index in its frame's side table).
    pub(crate) fn ints(&self) -> &'a [i64] {
        &self.frame.values[self.range()]
    }
}

impl<'a> IntoIterator for Values<'a> {
    type Item = ValueRef<'a>;
    type IntoIter = ValuesIter<'a>;

    fn into_iter(self) -> ValuesIter<'a> {
        ValuesIter {
            next: self.start as usize,
            values: self,
        }
    }
}

/// The slots of a [`Values`], in order.
#[derive(Debug, Clone)]
pub struct ValuesIter<'a> {
    values: Values<'a>,
    next: usize,
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = ValueRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<ValueRef<'a>> {
        (self.next < self.values.end as usize).then(|| {
            self.next += 1;
            self.values.at(self.next - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.values.end as usize - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ValuesIter<'_> {}

impl std::fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Values<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if !self.has_text() && !other.has_text() {
            return self.ints() == other.ints();
        }
        self.iter().eq(other.iter())
    }
}

impl PartialEq<[Value]> for Values<'_> {
    fn eq(&self, other: &[Value]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == *b)
    }
}

impl<const N: usize> PartialEq<[Value; N]> for Values<'_> {
    fn eq(&self, other: &[Value; N]) -> bool {
        *self == other[..]
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
    fn a_component_knows_whether_it_has_a_text() {
        let s = schema();
        let f = frame(1, 5, "ab", true);
        let e = f.entity(0);
        let flags: Vec<(u8, bool)> = e.components().map(|(c, v)| (c, v.has_text())).collect();
        assert_eq!(flags, [(0, true), (1, false)]);
        let mut copy = Frame::new(1);
        copy.copy_entity(e);
        assert_eq!(copy, f);
        let mut back = Frame::default();
        let mut scratch = Vec::new();
        f.checksum(&mut scratch);
        back.read_canonical(&s, &scratch).unwrap();
        assert_eq!(back, f);
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
