//! How a game's Rust types become schema fields and value slots: the [`Wire`]
//! trait that `#[derive(Wire)]` implements for a component, an input or an
//! event, and the [`WireField`] trait that says how each field type is held
//! (integers of every width, `bool`, `f32`, fixed-point reals, short texts,
//! small fixed arrays, entity references).
//!
//! Values are plain [`Value`]s so the engine builds frames, and decodes
//! inputs, for any game without knowing its types; the derive only spells
//! out, per field, the calls below.

use bevy_ecs::entity::Entity;
use tickroom_protocol::state::{Field, FieldType, Scalar, Value};

/// Why values could not become a game type (a client sent an input or the
/// engine read a frame that does not fit it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer values than the type's fields need.
    #[error("{0}: too few values")]
    Missing(&'static str),
    /// A value of the wrong kind or out of the field's range.
    #[error("{0}: a value does not fit its field")]
    Mismatch(&'static str),
    /// An entity reference to an entity the room does not have.
    #[error("{0}: unknown entity {1}")]
    UnknownEntity(&'static str, u32),
}

/// Maps the room's entities to the network ids clients know them by (and
/// back), for fields that reference entities.
pub trait EntityMap {
    /// The network id of `entity`, or 0 when it is not replicated.
    fn net_id(&self, entity: Entity) -> u32;
    /// The entity with network id `id`, if the room has it.
    fn entity(&self, id: u32) -> Option<Entity>;
}

/// An [`EntityMap`] that knows no entity (for types with no entity fields,
/// and for decoding on a client, which has no `Entity`s).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEntities;

impl EntityMap for NoEntities {
    fn net_id(&self, _: Entity) -> u32 {
        0
    }
    fn entity(&self, _: u32) -> Option<Entity> {
        None
    }
}

/// A struct-like type on the wire: a replicated component, the game's input,
/// or an event. Implement it with `#[derive(Wire)]`, which takes the name
/// from the type (`PlayerShip` becomes `player_ship`; override with
/// `#[wire(name = "ship")]`) and each field's wire type from its Rust type
/// or its `#[wire(...)]` attribute.
pub trait Wire: Sized + Send + Sync + 'static {
    /// The name in the schema (ASCII letters, digits, `_`, `-`).
    const NAME: &'static str;
    /// The fields, in declaration order.
    fn fields() -> Vec<Field>;
    /// Appends one value per slot of the fields, in order.
    fn write(&self, map: &dyn EntityMap, out: &mut Vec<Value>);
    /// Reads back what [`Wire::write`] wrote, consuming the values it uses.
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        map: &dyn EntityMap,
    ) -> Result<Self, WireError>;
}

/// A field type with a default wire type. Implemented for the integers,
/// `bool`, `f32` (its 4 bytes), `String` (at most 64 bytes; set another
/// bound with `#[wire(text(N))]`, which only `String` fields take),
/// [`Entity`] and `Option<Entity>` (network ids, 0 for none) and arrays of
/// these of up to 32 items.
pub trait WireField: Sized {
    /// The field's wire type.
    fn field_type() -> FieldType;
    /// Appends its slots.
    fn write(&self, map: &dyn EntityMap, out: &mut Vec<Value>);
    /// Reads its slots.
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        map: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError>;
}

fn next_int(values: &mut std::slice::Iter<'_, Value>, at: &'static str) -> Result<i64, WireError> {
    match values.next() {
        Some(Value::Int(v)) => Ok(*v),
        Some(Value::Text(_)) => Err(WireError::Mismatch(at)),
        None => Err(WireError::Missing(at)),
    }
}

/// The next slot as a `u32` (a float's bits, a network id).
fn next_u32(values: &mut std::slice::Iter<'_, Value>, at: &'static str) -> Result<u32, WireError> {
    u32::try_from(next_int(values, at)?).map_err(|_| WireError::Mismatch(at))
}

macro_rules! int_field {
    ($($t:ty => $s:ident),* $(,)?) => {$(
        impl WireField for $t {
            fn field_type() -> FieldType {
                FieldType::Scalar(Scalar::$s)
            }
            fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
                out.push(Value::Int(*self as i64));
            }
            fn read(
                values: &mut std::slice::Iter<'_, Value>,
                _: &dyn EntityMap,
                at: &'static str,
            ) -> Result<Self, WireError> {
                let v = next_int(values, at)?;
                // A u64 is held bit for bit in an i64.
                if Scalar::$s == Scalar::U64 {
                    return Ok(v as $t);
                }
                <$t>::try_from(v).map_err(|_| WireError::Mismatch(at))
            }
        }
    )*};
}

int_field!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, i8 => I8, i16 => I16, i32 => I32, i64 => I64);

impl WireField for bool {
    fn field_type() -> FieldType {
        FieldType::Scalar(Scalar::Bool)
    }
    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(i64::from(*self)));
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        _: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError> {
        match next_int(values, at)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Mismatch(at)),
        }
    }
}

impl WireField for f32 {
    fn field_type() -> FieldType {
        FieldType::Scalar(Scalar::F32)
    }
    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(i64::from(self.to_bits())));
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        _: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError> {
        let bits = next_u32(values, at)?;
        Ok(f32::from_bits(bits))
    }
}

/// The bound of a `String` field without `#[wire(text(N))]`.
pub const DEFAULT_TEXT_BYTES: u16 = 64;

impl WireField for String {
    fn field_type() -> FieldType {
        text_type(DEFAULT_TEXT_BYTES)
    }
    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        write_text(self, DEFAULT_TEXT_BYTES, out);
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        _: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError> {
        read_text(values, at)
    }
}

impl WireField for Entity {
    fn field_type() -> FieldType {
        FieldType::Entity
    }
    fn write(&self, map: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(map.net_id(*self).into()));
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        map: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError> {
        let id = next_u32(values, at)?;
        map.entity(id).ok_or(WireError::UnknownEntity(at, id))
    }
}

impl WireField for Option<Entity> {
    fn field_type() -> FieldType {
        FieldType::Entity
    }
    fn write(&self, map: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(self.map_or(0, |e| map.net_id(e)).into()));
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        map: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError> {
        match next_u32(values, at)? {
            0 => Ok(None),
            id => map
                .entity(id)
                .map(Some)
                .ok_or(WireError::UnknownEntity(at, id)),
        }
    }
}

impl<T: WireField, const N: usize> WireField for [T; N] {
    fn field_type() -> FieldType {
        FieldType::Array {
            item: Box::new(T::field_type()),
            // Past u8, Schema::new refuses the length (the limit is 32).
            len: u8::try_from(N).unwrap_or(u8::MAX),
        }
    }
    fn write(&self, map: &dyn EntityMap, out: &mut Vec<Value>) {
        for item in self {
            item.write(map, out);
        }
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        map: &dyn EntityMap,
        at: &'static str,
    ) -> Result<Self, WireError> {
        let items = (0..N)
            .map(|_| T::read(values, map, at))
            .collect::<Result<Vec<T>, _>>()?;
        items.try_into().map_err(|_| WireError::Missing(at))
    }
}

/// A text field of at most `max_bytes` bytes (`#[wire(text(N))]`).
pub fn text_type(max_bytes: u16) -> FieldType {
    FieldType::Text { max_bytes }
}

/// Appends `s` cut to at most `max_bytes` bytes, at a character boundary
/// (a longer text would not fit its field).
pub fn write_text(s: &str, max_bytes: u16, out: &mut Vec<Value>) {
    let mut end = s.len().min(usize::from(max_bytes));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push(Value::Text(s[..end].into()));
}

/// Reads a text field.
pub fn read_text(
    values: &mut std::slice::Iter<'_, Value>,
    at: &'static str,
) -> Result<String, WireError> {
    match values.next() {
        Some(Value::Text(t)) => Ok(t.to_string()),
        Some(Value::Int(_)) => Err(WireError::Mismatch(at)),
        None => Err(WireError::Missing(at)),
    }
}

/// A real number held as a fixed-point integer (`#[wire(fixed(REPR, SCALE))]`
/// on an `f32` or `f64` field): `round(x * scale)`, saturated to `repr`'s
/// range (NaN is 0); the client divides by `scale`.
pub trait FixedPoint: Sized {
    /// The field's wire type.
    fn fixed_type(repr: Scalar, scale: u32) -> FieldType {
        FieldType::Fixed { repr, scale }
    }
    /// Appends the fixed-point slot.
    fn write_fixed(&self, repr: Scalar, scale: u32, out: &mut Vec<Value>);
    /// Reads the fixed-point slot back (as the client would see it),
    /// refusing an integer outside `repr`.
    fn read_fixed(
        values: &mut std::slice::Iter<'_, Value>,
        repr: Scalar,
        scale: u32,
        at: &'static str,
    ) -> Result<Self, WireError>;
}

/// The next integer, which must be in `repr`'s range.
fn next_fixed(
    values: &mut std::slice::Iter<'_, Value>,
    repr: Scalar,
    at: &'static str,
) -> Result<i64, WireError> {
    let v = next_int(values, at)?;
    let (min, max) = repr.range();
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(WireError::Mismatch(at))
    }
}

/// `round(x * scale)` saturated into `repr`'s range.
pub fn to_fixed(x: f64, repr: Scalar, scale: u32) -> i64 {
    let (min, max) = repr.range();
    let v = (x * f64::from(scale)).round();
    if v.is_nan() {
        0
    } else if v <= min as f64 {
        min
    } else if v >= max as f64 {
        max
    } else {
        v as i64
    }
}

impl FixedPoint for f32 {
    fn write_fixed(&self, repr: Scalar, scale: u32, out: &mut Vec<Value>) {
        out.push(Value::Int(to_fixed(f64::from(*self), repr, scale)));
    }
    fn read_fixed(
        values: &mut std::slice::Iter<'_, Value>,
        repr: Scalar,
        scale: u32,
        at: &'static str,
    ) -> Result<Self, WireError> {
        Ok((next_fixed(values, repr, at)? as f64 / f64::from(scale.max(1))) as f32)
    }
}

impl FixedPoint for f64 {
    fn write_fixed(&self, repr: Scalar, scale: u32, out: &mut Vec<Value>) {
        out.push(Value::Int(to_fixed(*self, repr, scale)));
    }
    fn read_fixed(
        values: &mut std::slice::Iter<'_, Value>,
        repr: Scalar,
        scale: u32,
        at: &'static str,
    ) -> Result<Self, WireError> {
        Ok(next_fixed(values, repr, at)? as f64 / f64::from(scale.max(1)))
    }
}

/// The schema shape of a [`Wire`] type.
pub fn shape_of<T: Wire>() -> tickroom_protocol::state::Shape {
    tickroom_protocol::state::Shape::new(T::NAME, T::fields())
}
