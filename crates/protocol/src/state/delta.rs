//! Deltas between two frames, for any schema: which entities despawned,
//! which changed (only their changed components, and in those only the
//! changed slots, integers as zig-zag differences), which spawned. A full
//! frame is the delta from nothing, so one decoder reads both. (The
//! checksum is [`super::Frame::checksum`], over simpler bytes a client
//! computes without this encoder.)
//!
//! Layout (varints as in [`super::wire`]):
//! ```text
//! tick, base age (0: from nothing; else tick - base tick)
//! despawned: count, ids (the first whole, then each minus the previous minus 1)
//! shapes: count, each: removed-component mask, changed-component mask,
//!         then per changed component (by id) its changed-slot mask
//! changed: a bitmap over the base's entities (ceil(n/8) bytes, bit i of
//!          byte i/8 for the i-th by id), then per set bit: shape index, values
//! spawned: count, each: id (gap-coded like despawned), shape index, values
//! ```
//! A changed slot's value is, by slot: an integer's zig-zag difference from
//! the base (never 0), nothing for a bool (it flipped), a float's 4 bytes,
//! a text whole. A component the base entity lacks is coded against zeros
//! and empty texts. Shapes are listed in order of first use. Every rule
//! above is checked when decoding, so a state has exactly one encoding.

use std::{collections::HashMap, sync::Arc};

use super::DecodeError;
use super::frame::{EntityRef, Frame, ValueRef, Values};
use super::schema::{Schema, Slot};
use super::wire::{Reader, put_str, put_varint, unzigzag, zigzag};

/// Most entities a frame may hold.
pub const MAX_ENTITIES: usize = 1 << 16;
/// Most value slots a whole frame may hold (entities × their components'
/// slots): what bounds a client's memory for one frame.
pub const MAX_FRAME_SLOTS: usize = 1 << 18;

/// The start of an encoded delta: which frame it makes, from which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeltaHeader {
    pub tick: u32,
    /// The base frame's tick; `None` for a full frame.
    pub base_tick: Option<u32>,
}

/// Reads a delta's header, to pick its base.
pub fn read_header(bytes: &[u8]) -> Result<DeltaHeader, DecodeError> {
    let mut r = Reader::new(bytes);
    header(&mut r)
}

fn header(r: &mut Reader<'_>) -> Result<DeltaHeader, DecodeError> {
    let tick = r.varint_u32()?;
    let at = r.pos();
    let age = r.varint_u32()?;
    let base_tick = match age {
        0 => None,
        age => Some(tick.checked_sub(age).ok_or(DecodeError::Malformed {
            at,
            what: "base older than tick 0",
        })?),
    };
    Ok(DeltaHeader { tick, base_tick })
}

/// Reused buffers for encoding (one per encoder thread keeps encoding
/// allocation-free once warm).
#[derive(Debug, Default)]
pub struct Encoder {
    /// Shape key (removed, changed, field masks...) -> index, past the few
    /// shapes the linear search covers.
    pub(crate) shape_ids: HashMap<Vec<u64>, u32>,
    /// The shapes' keys, back to back, and where each one ends.
    pub(crate) shapes: Vec<u64>,
    pub(crate) shape_ends: Vec<u32>,
    pub(crate) key: Vec<u64>,
    /// Per changed base entity, in order: (its index in `new`, shape).
    pub(crate) changed: Vec<(usize, u32)>,
    pub(crate) spawned: Vec<(usize, u32)>,
    pub(crate) despawned: Vec<u32>,
    pub(crate) bitmap: Vec<u8>,
}

/// Shapes looked up by a linear search before the hash map is used.
const LINEAR_SHAPES: usize = 8;

impl Encoder {
    /// Appends the delta from `base` (`None`: from nothing) to `new`.
    /// Both frames must fit `schema` (frames built through [`Frame::set`]
    /// do); `base`'s tick must be below `new`'s.
    pub fn encode(
        &mut self,
        schema: &Schema,
        base: Option<&Frame>,
        new: &Frame,
        out: &mut Vec<u8>,
    ) {
        self.shape_ids.clear();
        self.shapes.clear();
        self.shape_ends.clear();
        self.changed.clear();
        self.spawned.clear();
        self.despawned.clear();
        let empty = Frame::default();
        let b = base.unwrap_or(&empty);
        self.bitmap.clear();
        self.bitmap.resize(b.len().div_ceil(8), 0);

        // Walk both id-sorted lists once.
        let (bi, ni) = (b.ids(), new.ids());
        let (mut i, mut j) = (0, 0);
        while i < bi.len() || j < ni.len() {
            match (bi.get(i), ni.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    if self.shape_of(Some(b.entity(i)), new.entity(j)) {
                        self.bitmap[i / 8] |= 1 << (i % 8);
                        let shape = self.intern();
                        self.changed.push((j, shape));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(&x), y) if y.is_none_or(|&y| x < y) => {
                    self.despawned.push(x);
                    i += 1;
                }
                _ => {
                    // Shaped below: spawns come after the changed on the wire,
                    // and shapes are numbered in order of first use there.
                    self.spawned.push((j, 0));
                    j += 1;
                }
            }
        }
        for k in 0..self.spawned.len() {
            self.shape_of(None, new.entity(self.spawned[k].0));
            self.spawned[k].1 = self.intern();
        }

        put_varint(out, new.tick.into());
        put_varint(
            out,
            base.map_or(0, |b| new.tick.wrapping_sub(b.tick)).into(),
        );
        put_ids(out, self.despawned.iter().copied());
        put_varint(out, self.shape_ends.len() as u64);
        for &m in &self.shapes {
            put_varint(out, m);
        }
        out.extend_from_slice(&self.bitmap);
        for &(j, shape) in &self.changed {
            put_varint(out, shape.into());
            let y = new.entity(j);
            put_values(out, schema, b.get(y.id()), y);
        }
        put_varint(out, self.spawned.len() as u64);
        let mut prev: Option<u32> = None;
        for &(j, shape) in &self.spawned {
            let y = new.entity(j);
            put_varint(out, gap(prev, y.id()).into());
            prev = Some(y.id());
            put_varint(out, shape.into());
            put_values(out, schema, None, y);
        }
    }

    /// Puts the shape of `new` against `base` in `self.key`; whether
    /// anything changed.
    pub(crate) fn shape_of(&mut self, base: Option<EntityRef<'_>>, new: EntityRef<'_>) -> bool {
        let mut removed = 0u64;
        let mut changed = 0u64;
        self.key.clear();
        self.key.extend([0, 0]);
        let mut bc = base.into_iter().flat_map(|b| b.components()).peekable();
        let mut nc = new.components().peekable();
        loop {
            match (bc.peek(), nc.peek()) {
                (Some(&(x, xv)), Some(&(y, yv))) if x == y => {
                    let mask = field_mask(xv, yv);
                    if mask != 0 {
                        changed |= 1 << y;
                        self.key.push(mask);
                    }
                    bc.next();
                    nc.next();
                }
                (Some(&(x, _)), y) if y.is_none_or(|&(y, _)| x < y) => {
                    removed |= 1 << x;
                    bc.next();
                }
                (_, Some(&(y, yv))) => {
                    changed |= 1 << y;
                    self.key.push(zero_mask(yv));
                    nc.next();
                }
                (_, None) => break,
            }
        }
        self.key[0] = removed;
        self.key[1] = changed;
        removed != 0 || changed != 0
    }

    pub(crate) fn intern(&mut self) -> u32 {
        let n = self.shape_ends.len();
        if n <= LINEAR_SHAPES {
            let mut start = 0;
            for (k, &end) in self.shape_ends.iter().enumerate() {
                if self.shapes[start..end as usize] == self.key[..] {
                    return k as u32;
                }
                start = end as usize;
            }
        } else if let Some(&id) = self.shape_ids.get(self.key.as_slice()) {
            return id;
        }
        if n == LINEAR_SHAPES {
            // Past the linear search's reach: index every shape so far.
            let mut start = 0;
            for (k, &end) in self.shape_ends.iter().enumerate() {
                self.shape_ids
                    .insert(self.shapes[start..end as usize].to_vec(), k as u32);
                start = end as usize;
            }
        }
        if n >= LINEAR_SHAPES {
            self.shape_ids.insert(self.key.clone(), n as u32);
        }
        self.shapes.extend_from_slice(&self.key);
        self.shape_ends.push(self.shapes.len() as u32);
        n as u32
    }
}

/// Which slots of `new` differ from `base`.
fn field_mask(base: Values<'_>, new: Values<'_>) -> u64 {
    let mut mask = 0;
    if !base.has_text() && !new.has_text() {
        for (k, (a, b)) in base.ints().iter().zip(new.ints()).enumerate() {
            if a != b {
                mask |= 1 << k;
            }
        }
        return mask;
    }
    for (k, (a, b)) in base.iter().zip(new.iter()).enumerate() {
        if a != b {
            mask |= 1 << k;
        }
    }
    mask
}

/// Which slots of `new` are not zero.
fn zero_mask(new: Values<'_>) -> u64 {
    let mut mask = 0;
    for (k, v) in new.iter().enumerate() {
        if !v.is_zero() {
            mask |= 1 << k;
        }
    }
    mask
}

pub(crate) fn gap(prev: Option<u32>, id: u32) -> u32 {
    prev.map_or(id, |p| id - p - 1)
}

pub(crate) fn put_ids(out: &mut Vec<u8>, ids: impl ExactSizeIterator<Item = u32>) {
    put_varint(out, ids.len() as u64);
    let mut prev = None;
    for id in ids {
        put_varint(out, gap(prev, id).into());
        prev = Some(id);
    }
}

/// The changed slots' values of `new` against `base` (or zeros).
pub(crate) fn put_values(
    out: &mut Vec<u8>,
    schema: &Schema,
    base: Option<EntityRef<'_>>,
    new: EntityRef<'_>,
) {
    for (c, values) in new.components() {
        let layout = schema.layout(c).unwrap_or_default();
        let old = base.and_then(|b| b.get(c));
        if !values.has_text() && old.is_none_or(|o| !o.has_text()) {
            // Integers only (most components): compare and code the raw
            // slots; against nothing, every slot is against 0.
            let olds = old.map(|o| o.ints());
            for (k, (&n, &slot)) in values.ints().iter().zip(layout).enumerate() {
                let o = olds.and_then(|o| o.get(k)).copied().unwrap_or(0);
                if n == o {
                    continue;
                }
                match slot {
                    Slot::Int { bool: true, .. } => {}
                    Slot::Int { .. } => put_varint(out, zigzag(n.wrapping_sub(o))),
                    Slot::F32 => out.extend_from_slice(&(n as u32).to_le_bytes()),
                    Slot::Text { .. } => debug_assert!(false, "a text slot without a text"),
                }
            }
            continue;
        }
        for (k, (v, &slot)) in values.iter().zip(layout).enumerate() {
            let was = old.and_then(|o| o.get(k));
            let unchanged = match was {
                Some(w) => w == v,
                None => v.is_zero(),
            };
            if unchanged {
                continue;
            }
            match (slot, v) {
                (Slot::Int { bool: true, .. }, _) => {}
                (Slot::Int { .. }, ValueRef::Int(n)) => {
                    let o = match was {
                        Some(ValueRef::Int(o)) => o,
                        _ => 0,
                    };
                    put_varint(out, zigzag(n.wrapping_sub(o)));
                }
                (Slot::F32, ValueRef::Int(n)) => out.extend_from_slice(&(n as u32).to_le_bytes()),
                (Slot::Text { .. }, ValueRef::Text(t)) => put_str(out, t),
                _ => debug_assert!(false, "value does not fit its slot"),
            }
        }
    }
}

/// Decodes `bytes` (a delta from `base`, or a full frame when `base` is
/// `None`) into the frame it describes. The header's base tick must be
/// `base`'s (read it first with [`read_header`]).
pub fn apply(schema: &Schema, base: Option<&Frame>, bytes: &[u8]) -> Result<Frame, DecodeError> {
    let mut out = Frame::default();
    apply_into(schema, base, bytes, &mut out)?;
    Ok(out)
}

/// [`apply`] into `out` (emptied first, its allocations kept), so a client
/// that alternates two frames allocates nothing per state once they have
/// grown. On an error `out` holds a partial frame.
pub fn apply_into(
    schema: &Schema,
    base: Option<&Frame>,
    bytes: &[u8],
    out: &mut Frame,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes);
    let h = header(&mut r)?;
    if h.base_tick != base.map(|b| b.tick) {
        return Err(DecodeError::WrongBase {
            wanted: h.base_tick,
            have: base.map(|b| b.tick),
        });
    }
    let empty = Frame::default();
    let b = base.unwrap_or(&empty);

    let despawned = read_ids(&mut r)?;
    let shapes = read_shapes(&mut r, schema)?;
    let bitmap = r.take(b.len().div_ceil(8))?;
    let mut used = 0usize;

    out.clear(h.tick);
    let mut gone = despawned.iter().peekable();
    for (i, e) in b.entities().enumerate() {
        let is_changed = bitmap[i / 8] & (1 << (i % 8)) != 0;
        if gone.peek() == Some(&&e.id()) {
            gone.next();
            if is_changed {
                return Err(DecodeError::Malformed {
                    at: r.pos(),
                    what: "a despawned entity marked changed",
                });
            }
            continue;
        }
        if is_changed {
            let at = r.pos();
            let shape = read_shape(&mut r, &shapes, &mut used)?;
            if shape.removed == 0 && shape.changed == 0 {
                return Err(DecodeError::Malformed {
                    at,
                    what: "a changed entity with nothing changed",
                });
            }
            read_entity(&mut r, schema, Some(e), e.id(), shape, out)?;
        } else {
            out.copy_entity(e);
        }
        check_slots(out)?;
    }
    if gone.peek().is_some() {
        return Err(DecodeError::Malformed {
            at: r.pos(),
            what: "despawn of an unknown entity",
        });
    }
    let n = b.len();
    if !n.is_multiple_of(8) && bitmap.last().is_some_and(|&l| l >> (n % 8) != 0) {
        return Err(DecodeError::Malformed {
            at: r.pos(),
            what: "bits past the last entity",
        });
    }
    // Spawns: each at least 2 bytes (an id, a shape).
    let n_spawned = r.count(2)?;
    if out.len() + n_spawned > MAX_ENTITIES {
        return Err(DecodeError::Limit {
            what: "entities in a frame",
            max: MAX_ENTITIES,
        });
    }
    if n_spawned == 0 {
        if used != shapes.len() {
            return Err(DecodeError::Malformed {
                at: r.pos(),
                what: "a shape no entity uses",
            });
        }
        r.finish()?;
        return Ok(());
    }
    let mut spawned = Frame::new(h.tick);
    let mut prev: Option<u32> = None;
    for _ in 0..n_spawned {
        let at = r.pos();
        let id = next_id(&mut r, prev)?;
        prev = Some(id);
        // An entity of the base (even a despawned one) is changed, never
        // spawned: one state, one encoding.
        if b.get(id).is_some() {
            return Err(DecodeError::Malformed {
                at,
                what: "a spawn of an entity the base has",
            });
        }
        let shape = read_shape(&mut r, &shapes, &mut used)?;
        if shape.removed != 0 {
            return Err(DecodeError::Malformed {
                at,
                what: "a spawn removes a component",
            });
        }
        read_entity(&mut r, schema, None, id, shape, &mut spawned)?;
        if out.slots() + spawned.slots() > MAX_FRAME_SLOTS {
            return Err(DecodeError::Limit {
                what: "value slots in a frame",
                max: MAX_FRAME_SLOTS,
            });
        }
    }
    if used != shapes.len() {
        return Err(DecodeError::Malformed {
            at: r.pos(),
            what: "a shape no entity uses",
        });
    }
    r.finish()?;
    *out = merge(h.tick, out, &spawned);
    Ok(())
}

fn check_slots(f: &Frame) -> Result<(), DecodeError> {
    if f.slots() > MAX_FRAME_SLOTS {
        return Err(DecodeError::Limit {
            what: "value slots in a frame",
            max: MAX_FRAME_SLOTS,
        });
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
struct ShapeDef {
    removed: u64,
    changed: u64,
    fields: Vec<u64>,
}

fn read_shapes(r: &mut Reader<'_>, schema: &Schema) -> Result<Vec<ShapeDef>, DecodeError> {
    // Shapes: each at least 2 bytes.
    let n_shapes = r.count(2)?;
    let mut shapes: Vec<ShapeDef> = Vec::with_capacity(n_shapes);
    for _ in 0..n_shapes {
        let at = r.pos();
        let removed = r.varint()?;
        let changed = r.varint()?;
        if removed & changed != 0 {
            return Err(DecodeError::Malformed {
                at,
                what: "a component both removed and changed",
            });
        }
        let n = schema.components().len();
        if n < 64 && (removed | changed) >> n != 0 {
            return Err(DecodeError::Malformed {
                at,
                what: "unknown component in a shape",
            });
        }
        let mut fields = Vec::with_capacity(changed.count_ones() as usize);
        for id in bits(changed) {
            let at = r.pos();
            let mask = r.varint()?;
            let n = schema.layout(id).map_or(0, <[Slot]>::len);
            if n < 64 && mask >> n != 0 {
                return Err(DecodeError::Malformed {
                    at,
                    what: "slot mask past the component's slots",
                });
            }
            fields.push(mask);
        }
        let def = ShapeDef {
            removed,
            changed,
            fields,
        };
        if shapes.contains(&def) {
            return Err(DecodeError::Malformed {
                at,
                what: "shape listed twice",
            });
        }
        shapes.push(def);
    }
    Ok(shapes)
}

/// The set bits of `mask`, lowest first (one step per set bit: this runs
/// per component of every changed entity a client applies).
fn bits(mut mask: u64) -> impl Iterator<Item = u8> {
    std::iter::from_fn(move || {
        let k = mask.trailing_zeros();
        mask &= mask.wrapping_sub(1);
        (k < 64).then_some(k as u8)
    })
}

/// A shape index; shapes must be first used in list order.
fn read_shape<'s>(
    r: &mut Reader<'_>,
    shapes: &'s [ShapeDef],
    used: &mut usize,
) -> Result<&'s ShapeDef, DecodeError> {
    let at = r.pos();
    let k = usize::try_from(r.varint()?).unwrap_or(usize::MAX);
    if k > *used || k >= shapes.len() {
        return Err(DecodeError::Malformed {
            at,
            what: "shape index",
        });
    }
    if k == *used {
        *used += 1;
    }
    Ok(&shapes[k])
}

fn read_ids(r: &mut Reader<'_>) -> Result<Vec<u32>, DecodeError> {
    let n = r.count(1)?;
    let mut ids = Vec::with_capacity(n);
    let mut prev: Option<u32> = None;
    for _ in 0..n {
        let id = next_id(r, prev)?;
        ids.push(id);
        prev = Some(id);
    }
    Ok(ids)
}

/// The next id of an ascending, gap-coded list (see [`gap`]).
fn next_id(r: &mut Reader<'_>, prev: Option<u32>) -> Result<u32, DecodeError> {
    let at = r.pos();
    let g = r.varint_u32()?;
    match prev {
        None => Some(g),
        Some(p) => p.checked_add(g).and_then(|v| v.checked_add(1)),
    }
    .ok_or(DecodeError::Malformed {
        at,
        what: "entity id past u32",
    })
}

/// Appends to `out` one entity: its base (or nothing) with a shape's changes.
fn read_entity(
    r: &mut Reader<'_>,
    schema: &Schema,
    base: Option<EntityRef<'_>>,
    id: u32,
    shape: &ShapeDef,
    out: &mut Frame,
) -> Result<(), DecodeError> {
    let at = r.pos();
    let had = base.map_or(0, |b| b.mask());
    if shape.removed & !had != 0 {
        return Err(DecodeError::Malformed {
            at,
            what: "removes a component the entity lacks",
        });
    }
    out.begin_unchecked(id);
    let keep = (had | shape.changed) & !shape.removed;
    let mut masks = shape.fields.iter();
    for c in bits(keep) {
        let old = base.and_then(|b| b.get(c));
        if shape.changed & (1 << c) == 0 {
            if let Some(v) = old {
                out.push_values(v);
            }
            out.push_comp(c);
            continue;
        }
        let mask = masks.next().copied().unwrap_or(0);
        if old.is_some() && mask == 0 {
            return Err(DecodeError::Malformed {
                at: r.pos(),
                what: "a changed component with no changed slot",
            });
        }
        let layout = schema.layout(c).unwrap_or_default();
        if layout.len() < 64 && mask >> layout.len() != 0 {
            return Err(DecodeError::Malformed {
                at: r.pos(),
                what: "slot past the component",
            });
        }
        for (k, &slot) in layout.iter().enumerate() {
            let was = match old {
                Some(v) => v.get(k).unwrap_or(ValueRef::Int(0)),
                None => match slot {
                    Slot::Text { .. } => ValueRef::Text(""),
                    _ => ValueRef::Int(0),
                },
            };
            if mask & (1 << k) == 0 {
                match (old, was) {
                    (Some(v), _) => out.push_from(v.frame(), v.slot_range().start + k),
                    (None, ValueRef::Int(n)) => out.push_int(n),
                    (None, ValueRef::Text(_)) => out.push_text(Arc::from("")),
                }
                continue;
            }
            let at = r.pos();
            match (slot, was) {
                (Slot::Int { bool: true, .. }, ValueRef::Int(o)) => out.push_int(1 - o),
                (Slot::Int { min, max, .. }, ValueRef::Int(o)) => {
                    let d = unzigzag(r.varint()?);
                    let n = o.wrapping_add(d);
                    if d == 0 || n < min || n > max {
                        return Err(DecodeError::Malformed {
                            at,
                            what: "integer delta out of its type's range",
                        });
                    }
                    out.push_int(n);
                }
                (Slot::F32, ValueRef::Int(o)) => {
                    let n = i64::from(u32::from_le_bytes(r.take(4)?.try_into().unwrap_or([0; 4])));
                    if n == o {
                        return Err(DecodeError::Malformed {
                            at,
                            what: "an unchanged float sent",
                        });
                    }
                    out.push_int(n);
                }
                (Slot::Text { max_bytes }, ValueRef::Text(o)) => {
                    let t = r.str(usize::from(max_bytes))?;
                    if t == o {
                        return Err(DecodeError::Malformed {
                            at,
                            what: "an unchanged text sent",
                        });
                    }
                    out.push_text(Arc::from(t));
                }
                _ => {
                    return Err(DecodeError::Malformed {
                        at,
                        what: "value of the wrong kind",
                    });
                }
            }
        }
        out.push_comp(c);
    }
    Ok(())
}

/// Merges the survivors and the spawned (each id-sorted, no id in both).
fn merge(tick: u32, old: &Frame, new: &Frame) -> Frame {
    let mut out = Frame::new(tick);
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let take_old = j == new.len() || (i < old.len() && old.ids()[i] < new.ids()[j]);
        if take_old {
            out.copy_entity(old.entity(i));
            i += 1;
        } else {
            out.copy_entity(new.entity(j));
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn bits_lists_the_set_bits_lowest_first() {
        for mask in [
            0u64,
            1,
            0b1011_0100,
            1 << 63,
            u64::MAX,
            0x8000_0000_0000_0001,
        ] {
            let slow: Vec<u8> = (0..64u8).filter(|&k| mask & (1 << k) != 0).collect();
            assert_eq!(super::bits(mask).collect::<Vec<_>>(), slow, "{mask:#x}");
        }
    }
}
