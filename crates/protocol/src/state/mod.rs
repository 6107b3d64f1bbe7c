//! Replication for any game: a game's [`Schema`] says what its replicated
//! components look like on the wire, a [`Frame`] holds every replicated
//! entity at one tick as plain values, and [`delta`] codes one frame against
//! another (or against nothing, which is a frame's canonical encoding) so
//! that a client rebuilds exactly the server's frame without being compiled
//! for the game.
//!
//! Sans-IO and game-agnostic: nothing here names a game, reads a clock or
//! touches a socket. Limits are explicit ([`schema::MAX_COMPONENTS`],
//! [`schema::MAX_SLOTS`], [`delta::MAX_ENTITIES`], [`delta::MAX_FRAME_SLOTS`]):
//! a game that breaks one fails at registration ([`SchemaError`]), bytes
//! that break one fail to decode ([`DecodeError`]), never silently.

pub mod delta;
mod frame;
pub mod message;
mod replica;
pub mod schema;
mod view;
mod wire;

pub use delta::{DeltaHeader, Encoder, apply, apply_into, read_header};
pub use frame::{EntityRef, Frame, Value, ValueRef, Values, ValuesIter};
pub use message::{
    check_values, decode_event, decode_values, encode_event, encode_values, max_encoded_len,
};
pub use replica::{Applied, Replica};
pub use schema::{Field, FieldType, Scalar, Schema, Shape, Slot};
pub use view::{Canonical, ViewCache};
pub(crate) use wire::put_varint;

/// Why a game's declarations cannot be a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A name is empty, longer than 64 bytes, or has a character other than
    /// an ASCII letter, digit, `_` or `-`.
    #[error("bad {kind} name {name:?}: use 1 to 64 ASCII letters, digits, '_' or '-'")]
    BadName { kind: &'static str, name: String },
    /// Two of one kind share a name.
    #[error("two {kind}s are called {name:?}")]
    Duplicate { kind: &'static str, name: String },
    /// A field's type breaks a rule.
    #[error("{at}: {why}")]
    BadType { at: String, why: &'static str },
    /// A component has more value slots than a mask holds.
    #[error(
        "component {name:?} has {slots} value slots (arrays count an item each); the most is 64"
    )]
    TooManySlots { name: String, slots: usize },
    /// More of something than the protocol allows.
    #[error("{count} {kind}; the most is {max}")]
    TooMany {
        kind: &'static str,
        count: usize,
        max: usize,
    },
}

/// Why a frame could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The schema has no component with this id.
    #[error("no component with id {0}")]
    UnknownComponent(u8),
    /// Values that do not match the component's slots (count, kind, range
    /// or text length).
    #[error("entity {entity}: values do not fit component {component}")]
    BadValues { entity: u32, component: u8 },
    /// [`Frame::set`] before any [`Frame::begin`].
    #[error("a component set before any entity was begun")]
    NoEntity,
    /// [`Frame::set`] of a component id not above the entity's last one.
    #[error("entity {entity}: component {component} set out of id order")]
    ComponentOutOfOrder { entity: u32, component: u8 },
    /// [`Frame::begin`] of an id not above the last one.
    #[error("entity {0} begun out of id order")]
    OutOfOrder(u32),
}

/// Why bytes could not be decoded into a schema or a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes ended inside a value.
    #[error("truncated at byte {at}")]
    Truncated { at: usize },
    /// The bytes break a rule of the encoding (named by `what`).
    #[error("malformed at byte {at}: {what}")]
    Malformed { at: usize, what: &'static str },
    /// Bytes were left after a whole value.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// Longer than allowed.
    #[error("{len} bytes; the most is {max}")]
    TooLarge { len: usize, max: usize },
    /// A decoded schema breaks a schema rule.
    #[error("schema: {0}")]
    Schema(SchemaError),
    /// A delta from another base than the one given.
    #[error("delta from base {wanted:?}, given base {have:?}")]
    WrongBase {
        wanted: Option<u32>,
        have: Option<u32>,
    },
    /// The frame would break a limit.
    #[error("more {what} than {max}")]
    Limit { what: &'static str, max: usize },
}
