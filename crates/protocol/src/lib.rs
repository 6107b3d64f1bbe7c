//! tickroom's wire protocol: the messages a client and a server exchange over a
//! WebSocket, and the one binary codec that turns them into bytes.
//!
//! This crate is sans-IO: it never touches a socket, a thread or a clock. The
//! server, the bots and the browser client (mirrored by hand in
//! `clients/js/src/protocol.js`, kept honest by cross-language test vectors) all speak
//! exactly these types, and only these types cross the wire: a game's own
//! data travels inside them as bytes its [`state::Schema`] describes, and the
//! protocol is versioned by [`PROTOCOL_VERSION`].
//!
//! Every WebSocket binary message carries exactly one [`ClientMsg`] or
//! [`ServerMsg`], encoded by [`codec`]. Text messages are not part of the
//! protocol. [`record`] is the file format of room recordings, built from
//! the same types and codec. [`state`] is replication for any game: a
//! schema, frames of entities and the deltas between them.

pub mod codec;
mod error;
mod messages;
pub mod record;
pub mod state;

pub use codec::{
    decode_client, decode_server, encode_client, encode_server, encode_state, encode_state_tail,
};
pub use error::{Error, Result};
pub use messages::*;
