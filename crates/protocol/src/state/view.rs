//! Per-client views of a frame, for interest management: a client whose
//! game sends it only part of each frame (its *view*: some of the frame's
//! entities) holds exactly that part, and gets deltas and checksums of it.
//! The wire format is [`super::delta`]'s, unchanged: a view is coded as
//! the frame made of its entities, so clients need nothing new.
//!
//! What is new is the cost. Coding each client's view from scratch would
//! cost clients × entities in view per frame; here each entity is coded
//! once per frame and base tick ([`ViewCache`]: its change against the
//! base frame, or its whole self for a client it enters), and a client's
//! message is assembled from those pieces. Likewise the checksum of a view
//! hashes the frame's canonical bytes of the entities in it
//! ([`Canonical`]), written once per frame.

use super::delta::{Encoder, put_ids, put_values};
use super::frame::Frame;
use super::schema::Schema;
use super::wire::put_varint;

/// A frame's canonical bytes ([`Frame::checksum`]'s) and where each
/// entity's end, so the checksum of any of its views costs one pass over
/// that view's bytes.
#[derive(Debug, Default, Clone)]
pub struct Canonical {
    tick: u32,
    bytes: Vec<u8>,
    /// Bytes before the first entity (the tick and the count).
    header: usize,
    /// Per entity, the end of its bytes.
    ends: Vec<u32>,
}

impl Canonical {
    /// Writes `frame`'s canonical bytes (replacing what was here); returns
    /// its checksum, [`Frame::checksum`]'s.
    pub fn write(&mut self, frame: &Frame) -> u32 {
        self.tick = frame.tick;
        self.bytes.clear();
        self.ends.clear();
        put_varint(&mut self.bytes, frame.tick.into());
        put_varint(&mut self.bytes, frame.len() as u64);
        self.header = self.bytes.len();
        for e in frame.entities() {
            e.put_canonical(&mut self.bytes);
            self.ends.push(self.bytes.len() as u32);
        }
        crc32fast::hash(&self.bytes)
    }

    /// The canonical bytes (what [`Frame::read_canonical`] reads back).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The checksum of the frame made of entities `view` (ascending
    /// indices): what a client holding that view computes with
    /// [`Frame::checksum`].
    pub fn view_checksum(&self, view: &[u32], scratch: &mut Vec<u8>) -> u32 {
        // The view's bytes gathered into one buffer, then hashed at once:
        // hashing each entity's few bytes alone costs several times more.
        scratch.clear();
        put_varint(scratch, self.tick.into());
        put_varint(scratch, view.len() as u64);
        let start = |i: usize| {
            if i == 0 {
                self.header
            } else {
                self.ends[i - 1] as usize
            }
        };
        // Runs of consecutive entities are one slice.
        let mut k = 0;
        while k < view.len() {
            let first = view[k] as usize;
            let mut last = first;
            while k + 1 < view.len() && view[k + 1] as usize == last + 1 {
                k += 1;
                last += 1;
            }
            scratch.extend_from_slice(&self.bytes[start(first)..self.ends[last] as usize]);
            k += 1;
        }
        crc32fast::hash(scratch)
    }
}

/// No piece yet.
const NONE: u32 = u32::MAX;

/// One entity coded against one base (or against nothing).
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Its shape key in `keys`.
    key: (u32, u32),
    /// Its values in `bytes`.
    bytes: (u32, u32),
    /// Whether it differs from the base at all.
    changed: bool,
}

/// The pieces of one frame against one base frame.
#[derive(Debug, Default)]
struct Pieces {
    /// The base's tick; `None`: against nothing (entering entities).
    base: Option<u32>,
    /// Per entity of the new frame: its piece, or [`NONE`].
    slot: Vec<u32>,
    pieces: Vec<Piece>,
    keys: Vec<u64>,
    bytes: Vec<u8>,
}

impl Pieces {
    fn reset(&mut self, base: Option<u32>, entities: usize) {
        self.base = base;
        self.slot.clear();
        self.slot.resize(entities, NONE);
        self.pieces.clear();
        self.keys.clear();
        self.bytes.clear();
    }
}

/// Entities coded once per frame and base, shared by every view encoded
/// from them ([`Encoder::encode_view`]). Reset it for each new frame;
/// allocation-free once warm.
#[derive(Debug, Default)]
pub struct ViewCache {
    tick: Option<u32>,
    /// The pieces in use this frame: against nothing first, then one per
    /// base tick seen.
    sets: Vec<Pieces>,
    used: usize,
    /// Pieces coded, and pieces reused, since the last reset.
    made: u32,
    reused: u32,
}

impl ViewCache {
    /// Forgets the last frame's pieces.
    pub fn reset(&mut self) {
        self.tick = None;
        self.used = 0;
        self.made = 0;
        self.reused = 0;
    }

    /// Entity pieces coded since the last reset, and how many times one
    /// was reused instead.
    pub fn counts(&self) -> (u32, u32) {
        (self.made, self.reused)
    }

    /// The pieces of `new` against base `base`, made empty on first use
    /// this frame.
    fn set(&mut self, base: Option<u32>, new: &Frame) -> usize {
        if self.tick != Some(new.tick) {
            self.tick = Some(new.tick);
            self.used = 0;
        }
        if let Some(k) = self.sets[..self.used].iter().position(|p| p.base == base) {
            return k;
        }
        if self.used == self.sets.len() {
            self.sets.push(Pieces::default());
        }
        self.sets[self.used].reset(base, new.len());
        self.used += 1;
        self.used - 1
    }
}

impl Encoder {
    /// Appends the delta from a client's view of `base` (the frame and the
    /// indices of the entities it held, ascending) to its view `view` of
    /// `new`; with no base, its view whole. The bytes are exactly
    /// [`Encoder::encode`]'s of the two views as frames ([`Frame::subset`]),
    /// and `cache` makes each entity's part once per frame and base for
    /// every view that has it.
    pub fn encode_view(
        &mut self,
        schema: &Schema,
        base: Option<(&Frame, &[u32])>,
        new: &Frame,
        view: &[u32],
        cache: &mut ViewCache,
        out: &mut Vec<u8>,
    ) {
        self.shape_ids.clear();
        self.shapes.clear();
        self.shape_ends.clear();
        self.changed.clear();
        self.spawned.clear();
        self.despawned.clear();
        let spawns = cache.set(None, new);
        let changes = base.map(|(b, _)| cache.set(Some(b.tick), new));
        let (bf, bv) = match base {
            Some((f, v)) => (Some(f), v),
            None => (None, &[][..]),
        };
        self.bitmap.clear();
        self.bitmap.resize(bv.len().div_ceil(8), 0);
        let (mut i, mut j) = (0, 0);
        while i < bv.len() || j < view.len() {
            let x = match bf {
                Some(b) if i < bv.len() => Some(b.ids()[bv[i] as usize]),
                _ => None,
            };
            let y = view.get(j).map(|&n| new.ids()[n as usize]);
            match (x, y) {
                (Some(x), Some(y)) if x == y => {
                    let (b, n) = (bv[i] as usize, view[j] as usize);
                    let set = changes.unwrap_or(spawns);
                    // Most entities in a view were coded for an earlier
                    // view already: look the piece up without the call.
                    let k = match cache.sets[set].slot[n] {
                        NONE => self.piece(schema, cache, set, bf.map(|f| f.entity(b)), new, n),
                        k => {
                            cache.reused += 1;
                            k as usize
                        }
                    };
                    let p = cache.sets[set].pieces[k];
                    if p.changed {
                        self.bitmap[i / 8] |= 1 << (i % 8);
                        let shape = self.intern_piece(&cache.sets[set].keys, p.key);
                        self.changed.push((n, shape));
                    }
                    i += 1;
                    j += 1;
                }
                (Some(x), y) if y.is_none_or(|y| x < y) => {
                    self.despawned.push(x);
                    i += 1;
                }
                _ => {
                    self.spawned.push((view[j] as usize, 0));
                    j += 1;
                }
            }
        }
        for s in 0..self.spawned.len() {
            let n = self.spawned[s].0;
            let k = self.piece(schema, cache, spawns, None, new, n);
            let key = cache.sets[spawns].pieces[k].key;
            self.spawned[s].1 = self.intern_piece(&cache.sets[spawns].keys, key);
        }

        put_varint(out, new.tick.into());
        put_varint(out, bf.map_or(0, |b| new.tick.wrapping_sub(b.tick)).into());
        put_ids(out, self.despawned.iter().copied());
        put_varint(out, self.shape_ends.len() as u64);
        for &m in &self.shapes {
            put_varint(out, m);
        }
        out.extend_from_slice(&self.bitmap);
        if let Some(set) = changes {
            let pieces = &cache.sets[set];
            for &(n, shape) in &self.changed {
                put_varint(out, shape.into());
                let p = pieces.pieces[pieces.slot[n] as usize];
                out.extend_from_slice(&pieces.bytes[p.bytes.0 as usize..p.bytes.1 as usize]);
            }
        }
        put_varint(out, self.spawned.len() as u64);
        let pieces = &cache.sets[spawns];
        let mut prev: Option<u32> = None;
        for &(n, shape) in &self.spawned {
            let id = new.ids()[n];
            put_varint(out, super::delta::gap(prev, id).into());
            prev = Some(id);
            put_varint(out, shape.into());
            let p = pieces.pieces[pieces.slot[n] as usize];
            out.extend_from_slice(&pieces.bytes[p.bytes.0 as usize..p.bytes.1 as usize]);
        }
    }

    /// The piece of entity `n` of `new` in pieces `set` (against `base`,
    /// that set's base entity), made if it is not there yet.
    fn piece(
        &mut self,
        schema: &Schema,
        cache: &mut ViewCache,
        set: usize,
        base: Option<super::EntityRef<'_>>,
        new: &Frame,
        n: usize,
    ) -> usize {
        let pieces = &mut cache.sets[set];
        if pieces.slot[n] != NONE {
            cache.reused += 1;
            return pieces.slot[n] as usize;
        }
        cache.made += 1;
        let y = new.entity(n);
        let changed = self.shape_of(base, y);
        let k0 = pieces.keys.len() as u32;
        pieces.keys.extend_from_slice(&self.key);
        let b0 = pieces.bytes.len() as u32;
        if changed {
            put_values(&mut pieces.bytes, schema, base, y);
        }
        pieces.pieces.push(Piece {
            key: (k0, pieces.keys.len() as u32),
            bytes: (b0, pieces.bytes.len() as u32),
            changed,
        });
        let k = pieces.pieces.len() - 1;
        pieces.slot[n] = k as u32;
        k
    }

    /// Interns a piece's shape key in this message's shape table.
    fn intern_piece(&mut self, keys: &[u64], (from, to): (u32, u32)) -> u32 {
        self.key.clear();
        self.key
            .extend_from_slice(&keys[from as usize..to as usize]);
        self.intern()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Field, FieldType, Scalar, Shape, Value, apply};
    use std::sync::Arc;

    fn schema() -> Schema {
        let pos = Shape {
            name: "pos".into(),
            fields: vec![
                Field::new("x", FieldType::Scalar(Scalar::I32)),
                Field::new("y", FieldType::Scalar(Scalar::I32)),
            ],
        };
        let tag = Shape {
            name: "tag".into(),
            fields: vec![
                Field::new("name", FieldType::Text { max_bytes: 8 }),
                Field::new("on", FieldType::Scalar(Scalar::Bool)),
            ],
        };
        let input = Shape {
            name: "input".into(),
            fields: vec![Field::new("x", FieldType::Scalar(Scalar::I8))],
        };
        Schema::new("views", 1, vec![pos, tag], input, vec![]).unwrap()
    }

    /// A frame of `n` entities (ids with gaps), drifting with `t`; some
    /// with a text, some without one of the components.
    fn frame(schema: &Schema, t: u32, n: u32) -> Frame {
        let mut f = Frame::new(t);
        for k in 0..n {
            f.begin(k * 3 + 1).unwrap();
            if k % 4 != 3 {
                let x = i64::from(k) * 10 + i64::from(t % (k + 2));
                f.set(schema, 0, &[Value::Int(x), Value::Int(-(i64::from(k)))])
                    .unwrap();
            }
            if k % 3 == 0 {
                let name: Arc<str> = format!("e{}", (k + t / 4) % 7).into();
                f.set(
                    schema,
                    1,
                    &[Value::Text(name), Value::Int(i64::from((t + k) % 2))],
                )
                .unwrap();
            }
        }
        f
    }

    fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z ^ (z >> 27)
    }

    fn random_view(seed: &mut u64, n: usize) -> Vec<u32> {
        (0..n as u32)
            .filter(|_| !rng(seed).is_multiple_of(3))
            .collect()
    }

    #[test]
    fn a_view_encodes_exactly_as_the_frame_of_its_entities_would() {
        let s = schema();
        let mut enc = Encoder::default();
        let mut plain = Encoder::default();
        let mut cache = ViewCache::default();
        let mut seed = 1;
        let (mut sb, mut sn) = (Frame::default(), Frame::default());
        for t in 1..60u32 {
            let base = frame(&s, t, 20 + t % 5);
            let new = frame(&s, t + 1 + t % 3, 22 + t % 4);
            cache.reset();
            // Several clients per frame, some sharing a base: pieces are reused.
            for _ in 0..4 {
                let bv = random_view(&mut seed, base.len());
                let nv = random_view(&mut seed, new.len());
                base.subset(&bv, &mut sb);
                new.subset(&nv, &mut sn);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                enc.encode_view(&s, Some((&base, &bv)), &new, &nv, &mut cache, &mut a);
                plain.encode(&s, Some(&sb), &sn, &mut b);
                assert_eq!(a, b, "delta, tick {t}");
                assert_eq!(apply(&s, Some(&sb), &a).unwrap(), sn);
                let (mut a, mut b) = (Vec::new(), Vec::new());
                enc.encode_view(&s, None, &new, &nv, &mut cache, &mut a);
                plain.encode(&s, None, &sn, &mut b);
                assert_eq!(a, b, "whole, tick {t}");
            }
            let (made, reused) = cache.counts();
            assert!(
                reused > 0 && made > 0,
                "tick {t}: made {made}, reused {reused}"
            );
        }
    }

    #[test]
    fn a_views_checksum_is_the_checksum_of_the_frame_of_its_entities() {
        let s = schema();
        let mut canonical = Canonical::default();
        let (mut scratch, mut sub) = (Vec::new(), Frame::default());
        let mut seed = 9;
        for t in 0..40 {
            let f = frame(&s, t, t % 13);
            let whole = canonical.write(&f);
            assert_eq!(whole, f.checksum(&mut scratch));
            assert_eq!(canonical.bytes(), &scratch[..]);
            let all: Vec<u32> = (0..f.len() as u32).collect();
            assert_eq!(canonical.view_checksum(&all, &mut scratch), whole);
            for _ in 0..5 {
                let v = random_view(&mut seed, f.len());
                f.subset(&v, &mut sub);
                let want = sub.checksum(&mut scratch);
                assert_eq!(canonical.view_checksum(&v, &mut scratch), want, "tick {t}");
            }
        }
    }
}
