//! A game's schema: what its replicated components, its input and its events
//! look like on the wire, field by field. The server sends it (or its hash)
//! in the welcome and the browser builds its decoder from it, so a client
//! decodes a game it was never compiled for.
//!
//! Component ids are the components' places in the schema's list sorted by
//! name, never the order a game happened to register them in; the hash
//! covers every name, type and id, so two builds that disagree on any of
//! them refuse each other instead of misreading (lightyear#952).

use super::wire::{Reader, put_str, put_varint};
use super::{DecodeError, SchemaError};

/// Most components a game may register (a component mask is one u64).
pub const MAX_COMPONENTS: usize = 64;
/// Most value slots one component may have (arrays count an element each;
/// a field mask is one u64).
pub const MAX_SLOTS: usize = 64;
/// Longest name of a game, component, field, input or event.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest array field.
pub const MAX_ARRAY_LEN: u8 = 32;
/// Largest `max_bytes` a text field may declare.
pub const MAX_TEXT_BYTES: u16 = 1024;
/// Most event types a game may declare.
pub const MAX_EVENTS: usize = 256;
/// Largest encoded schema.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// A number or flag on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// 0 or 1.
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    /// An IEEE-754 single, sent as its 4 bytes (never delta-coded).
    F32,
}

impl Scalar {
    const ALL: [Scalar; 10] = [
        Scalar::Bool,
        Scalar::U8,
        Scalar::U16,
        Scalar::U32,
        Scalar::U64,
        Scalar::I8,
        Scalar::I16,
        Scalar::I32,
        Scalar::I64,
        Scalar::F32,
    ];

    fn tag(self) -> u8 {
        Self::ALL.iter().position(|&s| s == self).unwrap_or(0) as u8
    }

    /// The values a slot of this type may hold (an F32 holds its bits).
    pub fn range(self) -> (i64, i64) {
        match self {
            Scalar::Bool => (0, 1),
            Scalar::U8 => (0, u8::MAX.into()),
            Scalar::U16 => (0, u16::MAX.into()),
            Scalar::U32 | Scalar::F32 => (0, u32::MAX.into()),
            // A u64 is held bit for bit in an i64.
            Scalar::U64 | Scalar::I64 => (i64::MIN, i64::MAX),
            Scalar::I8 => (i8::MIN.into(), i8::MAX.into()),
            Scalar::I16 => (i16::MIN.into(), i16::MAX.into()),
            Scalar::I32 => (i32::MIN.into(), i32::MAX.into()),
        }
    }

    fn is_integer(self) -> bool {
        !matches!(self, Scalar::Bool | Scalar::F32)
    }
}

/// A field's wire type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldType {
    Scalar(Scalar),
    /// A real number sent as the integer `round(x * scale)` in `repr`; the
    /// client divides by `scale`. Deltas cost what the integer's do.
    Fixed {
        repr: Scalar,
        scale: u32,
    },
    /// UTF-8 text of at most `max_bytes` bytes, sent whole when it changes.
    Text {
        max_bytes: u16,
    },
    /// `len` items of one scalar, fixed-point or entity type, each its own
    /// slot (so one changed item costs one item).
    Array {
        item: Box<FieldType>,
        len: u8,
    },
    /// Another entity's network id (a u32).
    Entity,
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scalar::Bool => "bool",
            Scalar::U8 => "u8",
            Scalar::U16 => "u16",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::I8 => "i8",
            Scalar::I16 => "i16",
            Scalar::I32 => "i32",
            Scalar::I64 => "i64",
            Scalar::F32 => "f32",
        })
    }
}

/// The type as the docs and `GET /games/{name}` write it: `u16`,
/// `fixed(i32, 100)`, `text(24)`, `[u8; 4]`, `entity`.
impl std::fmt::Display for FieldType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldType::Scalar(s) => s.fmt(f),
            FieldType::Fixed { repr, scale } => write!(f, "fixed({repr}, {scale})"),
            FieldType::Text { max_bytes } => write!(f, "text({max_bytes})"),
            FieldType::Array { item, len } => write!(f, "[{item}; {len}]"),
            FieldType::Entity => f.write_str("entity"),
        }
    }
}

/// How one value slot is held, compared and coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// An integer in `min..=max` (bools, integers, fixed-point, entity ids),
    /// delta-coded as a zig-zag varint; a bool's change is its flip.
    Int { min: i64, max: i64, bool: bool },
    /// A float's bits, sent as 4 bytes when they change.
    F32,
    /// Text, sent whole when it changes.
    Text { max_bytes: u16 },
}

impl FieldType {
    fn push_slots(&self, out: &mut Vec<Slot>) {
        match self {
            FieldType::Scalar(Scalar::F32) => out.push(Slot::F32),
            FieldType::Scalar(s) | FieldType::Fixed { repr: s, .. } => {
                let (min, max) = s.range();
                out.push(Slot::Int {
                    min,
                    max,
                    bool: *s == Scalar::Bool,
                });
            }
            FieldType::Entity => out.push(Slot::Int {
                min: 0,
                max: u32::MAX.into(),
                bool: false,
            }),
            FieldType::Text { max_bytes } => out.push(Slot::Text {
                max_bytes: *max_bytes,
            }),
            FieldType::Array { item, len } => {
                for _ in 0..*len {
                    item.push_slots(out);
                }
            }
        }
    }

    fn validate(&self, at: &str) -> Result<(), SchemaError> {
        let bad = |why: &'static str| {
            Err(SchemaError::BadType {
                at: at.to_owned(),
                why,
            })
        };
        match self {
            FieldType::Scalar(_) | FieldType::Entity => Ok(()),
            FieldType::Fixed { repr, scale } => {
                if !repr.is_integer() {
                    return bad("a fixed-point field's representation must be an integer type");
                }
                if *scale == 0 {
                    return bad("a fixed-point field's scale must be at least 1");
                }
                Ok(())
            }
            FieldType::Text { max_bytes } => {
                if *max_bytes == 0 || *max_bytes > MAX_TEXT_BYTES {
                    return bad("a text field's max_bytes must be 1..=1024");
                }
                Ok(())
            }
            FieldType::Array { item, len } => {
                if *len == 0 || *len > MAX_ARRAY_LEN {
                    return bad("an array's length must be 1..=32");
                }
                match **item {
                    FieldType::Text { .. } | FieldType::Array { .. } => {
                        bad("array items must be scalars, fixed-point numbers or entity ids")
                    }
                    _ => item.validate(at),
                }
            }
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FieldType::Scalar(s) => out.extend_from_slice(&[0, s.tag()]),
            FieldType::Fixed { repr, scale } => {
                out.extend_from_slice(&[1, repr.tag()]);
                put_varint(out, (*scale).into());
            }
            FieldType::Text { max_bytes } => {
                out.push(2);
                put_varint(out, (*max_bytes).into());
            }
            FieldType::Array { item, len } => {
                out.extend_from_slice(&[3, *len]);
                item.encode(out);
            }
            FieldType::Entity => out.push(4),
        }
    }

    fn decode(r: &mut Reader<'_>, depth: u8) -> Result<Self, DecodeError> {
        let at = r.pos();
        let scalar = |r: &mut Reader<'_>| {
            let at = r.pos();
            Scalar::ALL
                .get(usize::from(r.u8()?))
                .copied()
                .ok_or(DecodeError::Malformed {
                    at,
                    what: "scalar type",
                })
        };
        Ok(match r.u8()? {
            0 => FieldType::Scalar(scalar(r)?),
            1 => FieldType::Fixed {
                repr: scalar(r)?,
                scale: r.varint_u32()?,
            },
            2 => FieldType::Text {
                max_bytes: u16::try_from(r.varint()?).map_err(|_| DecodeError::Malformed {
                    at,
                    what: "text limit",
                })?,
            },
            3 if depth == 0 => {
                let len = r.u8()?;
                FieldType::Array {
                    item: Box::new(FieldType::decode(r, 1)?),
                    len,
                }
            }
            4 => FieldType::Entity,
            _ => {
                return Err(DecodeError::Malformed {
                    at,
                    what: "field type",
                });
            }
        })
    }
}

/// A named field of a component, an input or an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
}

impl Field {
    /// A field called `name` of type `ty`.
    pub fn new(name: impl Into<String>, ty: FieldType) -> Self {
        Self {
            name: name.into(),
            ty,
        }
    }
}

/// A struct-like type: a component, the input, or an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    pub name: String,
    pub fields: Vec<Field>,
}

impl Shape {
    /// A type called `name` with these fields, in wire order.
    pub fn new(name: impl Into<String>, fields: Vec<Field>) -> Self {
        Self {
            name: name.into(),
            fields,
        }
    }

    /// Its value slots in order (arrays expanded).
    pub fn slots(&self) -> Vec<Slot> {
        let mut out = Vec::new();
        for f in &self.fields {
            f.ty.push_slots(&mut out);
        }
        out
    }

    fn validate(&self, kind: &'static str) -> Result<(), SchemaError> {
        check_name(kind, &self.name)?;
        let mut names: Vec<&str> = Vec::with_capacity(self.fields.len());
        for f in &self.fields {
            let at = format!("{}.{}", self.name, f.name);
            check_name("field", &f.name)?;
            if names.contains(&f.name.as_str()) {
                return Err(SchemaError::Duplicate {
                    kind: "field",
                    name: at,
                });
            }
            names.push(&f.name);
            f.ty.validate(&at)?;
        }
        let slots = self.slots().len();
        if slots > MAX_SLOTS {
            return Err(SchemaError::TooManySlots {
                name: self.name.clone(),
                slots,
            });
        }
        Ok(())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, &self.name);
        put_varint(out, self.fields.len() as u64);
        for f in &self.fields {
            put_str(out, &f.name);
            f.ty.encode(out);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.str(MAX_NAME_BYTES)?.to_owned();
        // A field takes at least 3 bytes (empty name, a tag, a type).
        let n = r.count(3)?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.str(MAX_NAME_BYTES)?.to_owned();
            fields.push(Field {
                name,
                ty: FieldType::decode(r, 0)?,
            });
        }
        Ok(Self { name, fields })
    }
}

fn check_name(kind: &'static str, name: &str) -> Result<(), SchemaError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SchemaError::BadName {
            kind,
            name: name.to_owned(),
        })
    }
}

/// Everything a client needs to decode one game's frames, send its input
/// and read its events. Built with [`Schema::new`], which validates it and
/// sorts the components and events by name (their ids are their places).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    game: String,
    version: u32,
    components: Vec<Shape>,
    input: Shape,
    events: Vec<Shape>,
    /// Per component, its slots (derived from `components`).
    layouts: Vec<Vec<Slot>>,
    /// The input's slots, and per event its slots (derived).
    input_layout: Vec<Slot>,
    event_layouts: Vec<Vec<Slot>>,
    hash: u64,
}

impl Schema {
    /// Validates a game's declarations: names (ASCII letters, digits, `_`,
    /// `-`; 1..=64 bytes) unique within their kind, types within their
    /// limits, at most [`MAX_COMPONENTS`] components of at most
    /// [`MAX_SLOTS`] slots each. A game that breaks one fails here, at
    /// registration, never at play.
    pub fn new(
        game: impl Into<String>,
        version: u32,
        mut components: Vec<Shape>,
        input: Shape,
        mut events: Vec<Shape>,
    ) -> Result<Self, SchemaError> {
        let game = game.into();
        check_name("game", &game)?;
        if components.len() > MAX_COMPONENTS {
            return Err(SchemaError::TooMany {
                kind: "components",
                count: components.len(),
                max: MAX_COMPONENTS,
            });
        }
        if events.len() > MAX_EVENTS {
            return Err(SchemaError::TooMany {
                kind: "events",
                count: events.len(),
                max: MAX_EVENTS,
            });
        }
        components.sort_by(|a, b| a.name.cmp(&b.name));
        events.sort_by(|a, b| a.name.cmp(&b.name));
        for (kind, list) in [("component", &components), ("event", &events)] {
            for (i, s) in list.iter().enumerate() {
                s.validate(kind)?;
                if i > 0 && list[i - 1].name == s.name {
                    return Err(SchemaError::Duplicate {
                        kind,
                        name: s.name.clone(),
                    });
                }
            }
        }
        input.validate("input")?;
        let layouts = components.iter().map(Shape::slots).collect();
        let input_layout = input.slots();
        let event_layouts = events.iter().map(Shape::slots).collect();
        let mut schema = Self {
            game,
            version,
            components,
            input,
            events,
            layouts,
            input_layout,
            event_layouts,
            hash: 0,
        };
        let bytes = schema.encode();
        if bytes.len() > MAX_SCHEMA_BYTES {
            return Err(SchemaError::TooMany {
                kind: "schema bytes",
                count: bytes.len(),
                max: MAX_SCHEMA_BYTES,
            });
        }
        schema.hash = fnv1a64(&bytes);
        Ok(schema)
    }

    /// The game's name.
    pub fn game(&self) -> &str {
        &self.game
    }

    /// The game's version (bumped whenever its rules or schema change).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The components, in id order.
    pub fn components(&self) -> &[Shape] {
        &self.components
    }

    /// The id of the component called `name`.
    pub fn component_id(&self, name: &str) -> Option<u8> {
        self.components
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .ok()
            .map(|i| i as u8)
    }

    /// The slots of component `id`.
    pub fn layout(&self, id: u8) -> Option<&[Slot]> {
        self.layouts.get(usize::from(id)).map(Vec::as_slice)
    }

    /// The input's value slots.
    pub fn input_layout(&self) -> &[Slot] {
        &self.input_layout
    }

    /// The value slots of event `id` (its place in [`Schema::events`]).
    pub fn event_layout(&self, id: usize) -> Option<&[Slot]> {
        self.event_layouts.get(id).map(Vec::as_slice)
    }

    /// The id of the event called `name`.
    pub fn event_id(&self, name: &str) -> Option<usize> {
        self.events
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
    }

    /// The input type.
    pub fn input(&self) -> &Shape {
        &self.input
    }

    /// The event types, in id order.
    pub fn events(&self) -> &[Shape] {
        &self.events
    }

    /// FNV-1a 64 of [`Schema::encode`]'s bytes: what a client that cached
    /// a schema compares.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The canonical bytes: game, version, components, input, events.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, &self.game);
        put_varint(&mut out, self.version.into());
        for list in [&self.components, &self.events] {
            put_varint(&mut out, list.len() as u64);
            for s in list {
                s.encode(&mut out);
            }
        }
        self.input.encode(&mut out);
        out
    }

    /// Decodes and validates a schema; the bytes must be the canonical
    /// encoding (components and events in name order).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_SCHEMA_BYTES {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_SCHEMA_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        let game = r.str(MAX_NAME_BYTES)?.to_owned();
        let version = r.varint_u32()?;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            // A shape takes at least 2 bytes (an empty name, no fields).
            let n = r.count(2)?;
            for _ in 0..n {
                list.push(Shape::decode(&mut r)?);
            }
        }
        let input = Shape::decode(&mut r)?;
        r.finish()?;
        let [components, events] = lists;
        let schema =
            Schema::new(game, version, components, input, events).map_err(DecodeError::Schema)?;
        if schema.encode() != bytes {
            return Err(DecodeError::Malformed {
                at: 0,
                what: "schema not in canonical order",
            });
        }
        Ok(schema)
    }
}

/// FNV-1a, 64 bits: small enough to write again in any client.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn wire_types_display_as_the_docs_write_them() {
        let shown: Vec<String> = [
            FieldType::Scalar(Scalar::U16),
            FieldType::Fixed {
                repr: Scalar::I32,
                scale: 100,
            },
            FieldType::Text { max_bytes: 24 },
            FieldType::Array {
                item: Box::new(FieldType::Scalar(Scalar::Bool)),
                len: 4,
            },
            FieldType::Entity,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            ["u16", "fixed(i32, 100)", "text(24)", "[bool; 4]", "entity"]
        );
    }

    use super::*;

    fn pos() -> Field {
        Field::new(
            "pos",
            FieldType::Array {
                item: Box::new(FieldType::Fixed {
                    repr: Scalar::I32,
                    scale: 4,
                }),
                len: 2,
            },
        )
    }

    fn schema(order: [&str; 2]) -> Schema {
        let comps = order
            .iter()
            .map(|&n| {
                Shape::new(
                    n,
                    vec![pos(), Field::new("hp", FieldType::Scalar(Scalar::U8))],
                )
            })
            .collect();
        let input = Shape::new(
            "input",
            vec![Field::new("fire", FieldType::Scalar(Scalar::Bool))],
        );
        let events = vec![Shape::new("hit", vec![Field::new("by", FieldType::Entity)])];
        Schema::new("demo", 1, comps, input, events).unwrap()
    }

    #[test]
    fn ids_come_from_names_not_registration_order() {
        let a = schema(["ship", "bullet"]);
        let b = schema(["bullet", "ship"]);
        assert_eq!(a, b);
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.component_id("bullet"), Some(0));
        assert_eq!(a.component_id("ship"), Some(1));
        assert_eq!(a.component_id("nope"), None);
        assert_eq!(a.layout(1).map(<[Slot]>::len), Some(3));
    }

    #[test]
    fn a_schema_decodes_to_itself_and_any_change_changes_the_hash() {
        let a = schema(["ship", "bullet"]);
        let bytes = a.encode();
        assert_eq!(Schema::decode(&bytes), Ok(a.clone()));
        let renamed = Schema::new(
            "demo",
            1,
            vec![Shape::new(
                "ship",
                vec![pos(), Field::new("hp", FieldType::Scalar(Scalar::U16))],
            )],
            a.input().clone(),
            a.events().to_vec(),
        )
        .unwrap();
        assert_ne!(renamed.hash(), a.hash());
    }

    #[test]
    fn bad_declarations_fail_at_registration_with_what_is_wrong() {
        let input = Shape::new("input", vec![]);
        let one =
            |fields| Schema::new("g", 1, vec![Shape::new("c", fields)], input.clone(), vec![]);
        let too_many: Vec<Field> = (0..65)
            .map(|i| Field::new(format!("f{i}"), FieldType::Scalar(Scalar::U8)))
            .collect();
        assert_eq!(
            one(too_many),
            Err(SchemaError::TooManySlots {
                name: "c".into(),
                slots: 65
            })
        );
        let dup = vec![
            Field::new("a", FieldType::Entity),
            Field::new("a", FieldType::Entity),
        ];
        assert_eq!(
            one(dup),
            Err(SchemaError::Duplicate {
                kind: "field",
                name: "c.a".into()
            })
        );
        assert!(matches!(
            one(vec![Field::new(
                "x",
                FieldType::Fixed {
                    repr: Scalar::F32,
                    scale: 2
                }
            )]),
            Err(SchemaError::BadType { .. })
        ));
        assert!(matches!(
            one(vec![Field::new("x", FieldType::Text { max_bytes: 0 })]),
            Err(SchemaError::BadType { .. })
        ));
        let nested = FieldType::Array {
            item: Box::new(FieldType::Text { max_bytes: 4 }),
            len: 2,
        };
        assert!(matches!(
            one(vec![Field::new("x", nested)]),
            Err(SchemaError::BadType { .. })
        ));
        assert!(matches!(
            one(vec![Field::new("has space", FieldType::Entity)]),
            Err(SchemaError::BadName { .. })
        ));
        let comps = (0..65)
            .map(|i| Shape::new(format!("c{i}"), vec![]))
            .collect();
        assert!(matches!(
            Schema::new("g", 1, comps, input.clone(), vec![]),
            Err(SchemaError::TooMany { .. })
        ));
        let twice = vec![Shape::new("c", vec![]), Shape::new("c", vec![])];
        assert_eq!(
            Schema::new("g", 1, twice, input, vec![]),
            Err(SchemaError::Duplicate {
                kind: "component",
                name: "c".into()
            })
        );
    }

    #[test]
    fn non_canonical_or_truncated_schema_bytes_are_refused() {
        let bytes = schema(["a", "b"]).encode();
        for cut in 0..bytes.len() {
            assert!(Schema::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Schema::decode(&longer), Err(DecodeError::TrailingBytes(1)));
    }

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }
}
