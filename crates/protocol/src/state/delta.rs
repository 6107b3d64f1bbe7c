//! Deltas between two frames, for any schema: which entities despawned,
//! which changed (only their changed components, and in those only the
//! changed slots, integers as zig-zag differences), which spawned. A full
//! frame is the delta from nothing, so one decoder reads both, and its
//! bytes are the frame's canonical encoding (what the checksum covers).
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

use std::collections::HashMap;

use super::DecodeError;
use super::frame::{Component, Entity, Frame, Value};
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
    /// Shape key (removed, changed, field masks...) -> index.
    shape_ids: HashMap<Vec<u64>, u32>,
    shapes: Vec<u64>,
    n_shapes: u32,
    key: Vec<u64>,
    /// Per changed base entity, in order: (its index in `new`, shape).
    changed: Vec<(usize, u32)>,
    spawned: Vec<(usize, u32)>,
    despawned: Vec<u32>,
    bitmap: Vec<u8>,
}

impl Encoder {
    /// Appends the delta from `base` (`None`: from nothing) to `new`.
    /// Both frames must fit `schema` (frames built through [`Entity::set`]
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
        self.n_shapes = 0;
        self.changed.clear();
        self.spawned.clear();
        self.despawned.clear();
        let empty = Frame::default();
        let b = base.unwrap_or(&empty);
        let base_n = b.entities().len();
        self.bitmap.clear();
        self.bitmap.resize(base_n.div_ceil(8), 0);

        // Walk both id-sorted lists once.
        let (be, ne) = (b.entities(), new.entities());
        let (mut i, mut j) = (0, 0);
        while i < be.len() || j < ne.len() {
            match (be.get(i), ne.get(j)) {
                (Some(x), Some(y)) if x.id == y.id => {
                    if self.shape_of(schema, Some(x), y) {
                        self.bitmap[i / 8] |= 1 << (i % 8);
                        let shape = self.intern();
                        self.changed.push((j, shape));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(x), y) if y.is_none_or(|y| x.id < y.id) => {
                    self.despawned.push(x.id);
                    i += 1;
                }
                (_, Some(_)) => {
                    // Shaped below: spawns come after the changed on the wire,
                    // and shapes are numbered in order of first use there.
                    self.spawned.push((j, 0));
                    j += 1;
                }
                (_, None) => unreachable!("the loop runs while either list has entities"),
            }
        }

        for k in 0..self.spawned.len() {
            self.shape_of(schema, None, &ne[self.spawned[k].0]);
            self.spawned[k].1 = self.intern();
        }

        put_varint(out, new.tick.into());
        put_varint(
            out,
            base.map_or(0, |b| new.tick.wrapping_sub(b.tick)).into(),
        );
        put_ids(out, self.despawned.iter().copied());
        put_varint(out, self.n_shapes.into());
        out.extend(self.shapes.iter().flat_map(|&m| varint_bytes(m)));
        out.extend_from_slice(&self.bitmap);
        for &(j, shape) in &self.changed {
            put_varint(out, shape.into());
            let y = &ne[j];
            put_values(out, schema, b.get(y.id), y);
        }
        put_varint(out, self.spawned.len() as u64);
        let mut prev: Option<u32> = None;
        for &(j, shape) in &self.spawned {
            let y = &ne[j];
            put_varint(out, gap(prev, y.id).into());
            prev = Some(y.id);
            put_varint(out, shape.into());
            put_values(out, schema, None, y);
        }
    }

    /// Puts the shape of `new` against `base` in `self.key`; whether
    /// anything changed.
    fn shape_of(&mut self, schema: &Schema, base: Option<&Entity>, new: &Entity) -> bool {
        let mut removed = 0u64;
        let mut changed = 0u64;
        self.key.clear();
        self.key.extend([0, 0]);
        let none: &[Component] = &[];
        let bc = base.map_or(none, Entity::components);
        let nc = new.components();
        let (mut i, mut j) = (0, 0);
        while i < bc.len() || j < nc.len() {
            match (bc.get(i), nc.get(j)) {
                (Some(x), Some(y)) if x.id == y.id => {
                    let mask = field_mask(&x.values, &y.values, None);
                    if mask != 0 {
                        changed |= 1 << y.id;
                        self.key.push(mask);
                    }
                    i += 1;
                    j += 1;
                }
                (Some(x), y) if y.is_none_or(|y| x.id < y.id) => {
                    removed |= 1 << x.id;
                    i += 1;
                }
                (_, Some(y)) => {
                    let layout = schema.layout(y.id).unwrap_or_default();
                    changed |= 1 << y.id;
                    self.key.push(field_mask(&[], &y.values, Some(layout)));
                    j += 1;
                }
                (_, None) => unreachable!(),
            }
        }
        self.key[0] = removed;
        self.key[1] = changed;
        removed != 0 || changed != 0
    }

    fn intern(&mut self) -> u32 {
        if let Some(&id) = self.shape_ids.get(self.key.as_slice()) {
            return id;
        }
        let id = self.n_shapes;
        self.n_shapes += 1;
        self.shapes.extend_from_slice(&self.key);
        self.shape_ids.insert(self.key.clone(), id);
        id
    }
}

fn varint_bytes(v: u64) -> impl Iterator<Item = u8> {
    let mut buf = Vec::with_capacity(9);
    put_varint(&mut buf, v);
    buf.into_iter()
}

/// Which slots of `new` differ from `base` (or, with `zeros`, from zero).
fn field_mask(base: &[Value], new: &[Value], zeros: Option<&[Slot]>) -> u64 {
    let mut mask = 0;
    for (k, v) in new.iter().enumerate() {
        let differs = match zeros {
            Some(layout) => layout.get(k).is_some_and(|&s| *v != Value::zero(s)),
            None => base.get(k) != Some(v),
        };
        if differs {
            mask |= 1 << k;
        }
    }
    mask
}

fn gap(prev: Option<u32>, id: u32) -> u32 {
    prev.map_or(id, |p| id - p - 1)
}

fn put_ids(out: &mut Vec<u8>, ids: impl ExactSizeIterator<Item = u32>) {
    put_varint(out, ids.len() as u64);
    let mut prev = None;
    for id in ids {
        put_varint(out, gap(prev, id).into());
        prev = Some(id);
    }
}

/// The changed slots' values of `new` against `base` (or zeros).
fn put_values(out: &mut Vec<u8>, schema: &Schema, base: Option<&Entity>, new: &Entity) {
    for c in new.components() {
        let layout = schema.layout(c.id).unwrap_or_default();
        let old = base.and_then(|b| b.get(c.id));
        for (k, (v, &slot)) in c.values.iter().zip(layout).enumerate() {
            let was = old.map_or_else(|| Value::zero(slot), |o| o[k].clone());
            if *v == was {
                continue;
            }
            match (slot, v, &was) {
                (Slot::Int { bool: true, .. }, _, _) => {}
                (Slot::Int { .. }, Value::Int(n), Value::Int(o)) => {
                    put_varint(out, zigzag(n.wrapping_sub(*o)))
                }
                (Slot::F32, Value::Int(n), _) => out.extend_from_slice(&(*n as u32).to_le_bytes()),
                (Slot::Text { .. }, Value::Text(t), _) => put_str(out, t),
                _ => debug_assert!(false, "value does not fit its slot"),
            }
        }
    }
}

/// Decodes `bytes` (a delta from `base`, or a full frame when `base` is
/// `None`) into the frame it describes. The header's base tick must be
/// `base`'s (read it first with [`read_header`]).
pub fn apply(schema: &Schema, base: Option<&Frame>, bytes: &[u8]) -> Result<Frame, DecodeError> {
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
    let mut slots_left = MAX_FRAME_SLOTS;

    let despawned = read_ids(&mut r)?;
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
    let bitmap = r.take(b.entities().len().div_ceil(8))?;
    let mut used = 0usize;

    let mut out: Vec<Entity> = Vec::with_capacity(b.entities().len());
    let mut gone = despawned.iter().peekable();
    for (i, e) in b.entities().iter().enumerate() {
        let is_changed = bitmap[i / 8] & (1 << (i % 8)) != 0;
        if gone.peek() == Some(&&e.id) {
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
            let e = read_entity(&mut r, schema, Some(e), e.id, shape, &mut slots_left)?;
            out.push(e);
        } else {
            slots_left = take_slots(slots_left, e)?;
            out.push(e.clone());
        }
    }
    if gone.peek().is_some() {
        return Err(DecodeError::Malformed {
            at: r.pos(),
            what: "despawn of an unknown entity",
        });
    }
    let n = b.entities().len();
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
    let mut spawned = Vec::with_capacity(n_spawned);
    let mut prev: Option<u32> = None;
    for _ in 0..n_spawned {
        let at = r.pos();
        let g = r.varint_u32()?;
        let id = match prev {
            None => Some(g),
            Some(p) => p.checked_add(g).and_then(|v| v.checked_add(1)),
        }
        .ok_or(DecodeError::Malformed {
            at,
            what: "entity id past u32",
        })?;
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
        spawned.push(read_entity(
            &mut r,
            schema,
            None,
            id,
            shape,
            &mut slots_left,
        )?);
    }
    if used != shapes.len() {
        return Err(DecodeError::Malformed {
            at: r.pos(),
            what: "a shape no entity uses",
        });
    }
    r.finish()?;
    let entities = merge(out, spawned)?;
    Ok(Frame::from_sorted(h.tick, entities))
}

#[derive(Debug, PartialEq, Eq)]
struct ShapeDef {
    removed: u64,
    changed: u64,
    fields: Vec<u64>,
}

fn bits(mask: u64) -> impl Iterator<Item = u8> {
    (0..64u8).filter(move |&k| mask & (1 << k) != 0)
}

fn take_slots(left: usize, e: &Entity) -> Result<usize, DecodeError> {
    let n: usize = e.components().iter().map(|c| c.values.len()).sum();
    left.checked_sub(n).ok_or(DecodeError::Limit {
        what: "value slots in a frame",
        max: MAX_FRAME_SLOTS,
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
        let at = r.pos();
        let g = r.varint_u32()?;
        let id = match prev {
            None => Some(g),
            Some(p) => p.checked_add(g).and_then(|v| v.checked_add(1)),
        }
        .ok_or(DecodeError::Malformed {
            at,
            what: "entity id past u32",
        })?;
        ids.push(id);
        prev = Some(id);
    }
    Ok(ids)
}

/// One entity from its base (or nothing) and a shape's values.
fn read_entity(
    r: &mut Reader<'_>,
    schema: &Schema,
    base: Option<&Entity>,
    id: u32,
    shape: &ShapeDef,
    slots_left: &mut usize,
) -> Result<Entity, DecodeError> {
    let at = r.pos();
    let mut e = base.cloned().unwrap_or_else(|| Entity::new(id));
    let had = e.mask();
    if shape.removed & !had != 0 {
        return Err(DecodeError::Malformed {
            at,
            what: "removes a component the entity lacks",
        });
    }
    for c in bits(shape.removed) {
        e.remove(c);
    }
    for (c, &mask) in bits(shape.changed).zip(&shape.fields) {
        let layout = schema.layout(c).unwrap_or_default();
        let existed = had & (1 << c) != 0;
        if existed && mask == 0 {
            return Err(DecodeError::Malformed {
                at: r.pos(),
                what: "a changed component with no changed slot",
            });
        }
        let mut values: Vec<Value> = match e.get(c) {
            Some(v) => v.to_vec(),
            None => layout.iter().map(|&s| Value::zero(s)).collect(),
        };
        for k in bits(mask) {
            let k = usize::from(k);
            let at = r.pos();
            let (Some(&slot), Some(v)) = (layout.get(k), values.get_mut(k)) else {
                return Err(DecodeError::Malformed {
                    at,
                    what: "slot past the component",
                });
            };
            *v = match (slot, &*v) {
                (Slot::Int { bool: true, .. }, Value::Int(o)) => Value::Int(1 - o),
                (Slot::Int { min, max, .. }, Value::Int(o)) => {
                    let d = unzigzag(r.varint()?);
                    let n = o.wrapping_add(d);
                    if d == 0 || n < min || n > max {
                        return Err(DecodeError::Malformed {
                            at,
                            what: "integer delta out of its type's range",
                        });
                    }
                    Value::Int(n)
                }
                (Slot::F32, Value::Int(o)) => {
                    let n = i64::from(u32::from_le_bytes(r.take(4)?.try_into().unwrap_or([0; 4])));
                    if n == *o {
                        return Err(DecodeError::Malformed {
                            at,
                            what: "an unchanged float sent",
                        });
                    }
                    Value::Int(n)
                }
                (Slot::Text { max_bytes }, Value::Text(o)) => {
                    let t = r.str(usize::from(max_bytes))?;
                    if t == &**o {
                        return Err(DecodeError::Malformed {
                            at,
                            what: "an unchanged text sent",
                        });
                    }
                    Value::Text(t.into())
                }
                _ => {
                    return Err(DecodeError::Malformed {
                        at,
                        what: "value of the wrong kind",
                    });
                }
            };
        }
        e.put(Component {
            id: c,
            values: values.into_boxed_slice(),
        });
    }
    *slots_left = take_slots(*slots_left, &e)?;
    Ok(e)
}

/// Merges the surviving (id-sorted) and spawned (id-ascending) entities.
fn merge(old: Vec<Entity>, new: Vec<Entity>) -> Result<Vec<Entity>, DecodeError> {
    if new.is_empty() {
        return Ok(old);
    }
    let mut out = Vec::with_capacity(old.len() + new.len());
    let mut a = old.into_iter().peekable();
    let mut b = new.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.id == y.id => {
                return Err(DecodeError::Malformed {
                    at: 0,
                    what: "a spawn of an entity that exists",
                });
            }
            (Some(x), Some(y)) if x.id < y.id => a.next(),
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    Ok(out)
}

/// CRC-32 of `frame`'s canonical encoding (its delta from nothing),
/// written into `scratch` (reused between calls).
pub fn checksum(schema: &Schema, frame: &Frame, enc: &mut Encoder, scratch: &mut Vec<u8>) -> u32 {
    scratch.clear();
    enc.encode(schema, None, frame, scratch);
    crc32fast::hash(scratch)
}
