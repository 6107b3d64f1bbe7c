//! The protocol's message types: the envelope every game shares. A game's
//! own data travels inside as bytes its schema describes ([`crate::state`]):
//! the input a client sends, the events and the frame delta it receives, and
//! the schema itself in the [`Welcome`]. Nothing here names a game.
//! Changing any type in this file changes the wire format and needs a
//! [`PROTOCOL_VERSION`] bump and new test vectors for the JS client.

use bincode::{
    BorrowDecode, Decode, Encode,
    de::{BorrowDecoder, Decoder},
    enc::Encoder,
    error::{DecodeError, EncodeError},
};

/// Version of this wire format. A client sends it in [`Join`]; the server
/// closes a connection that speaks another version (close code 1002).
pub const PROTOCOL_VERSION: u16 = 6;

/// Longest resume token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 160;

/// Longest player name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 24;

/// Longest encoded client message the server accepts, in bytes. Larger
/// WebSocket messages are refused with close code 1009.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 256;

/// Longest game input in an [`Input`], in bytes (a game whose input can be
/// longer is refused at registration).
pub const MAX_INPUT_BYTES: usize = 200;

/// Most events one [`State`] carries.
pub const MAX_EVENTS_PER_STATE: usize = 256;

/// Longest encoded server message a client should accept, in bytes.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 64 * 1024;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ClientMsg {
    /// First message on a connection: the protocol version spoken and a
    /// display name. The room comes from the WebSocket URL (`/ws?room=`).
    Join(Join),
    /// One game input.
    Input(Input),
    /// Round-trip probe; the server answers with [`ServerMsg::Pong`] at once.
    Ping(Ping),
    /// The player leaves the room; the server closes with code 1000.
    Leave,
}

/// Opens a session in the room named by the WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Join {
    /// Must equal [`PROTOCOL_VERSION`].
    pub version: u16,
    /// Display name, at most [`MAX_NAME_BYTES`]; empty means "use the URL's
    /// `name` parameter, or a generated one".
    pub name: String,
    /// A [`Welcome::resume_token`] from an earlier connection to this room, to
    /// take back the same player (id, entity, score) within the server's
    /// grace period; empty for a fresh join. A token that is no longer valid
    /// (grace over, already used) gets a fresh player; a forged one, or one for
    /// another room, is refused (close code 1008).
    pub resume: String,
}

/// One input of the room's game, sent whenever the client has one (a held
/// control at the client's input rate, a press at once).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Input {
    /// Client-chosen sequence number, increasing by one per input. Every
    /// [`State`] reports the newest sequence number the room has applied
    /// for this client's player ([`State::ack_seq`]).
    pub seq: u32,
    /// The newest frame tick this client had received when it sent the input.
    pub ack_tick: u32,
    /// The game's input: its schema input's values
    /// ([`crate::state::encode_values`]), at most [`MAX_INPUT_BYTES`].
    pub data: Vec<u8>,
}

/// Round-trip probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Ping {
    /// Echoed back in the [`Pong`].
    pub nonce: u32,
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub enum ServerMsg {
    /// Answer to [`ClientMsg::Join`]: who you are, which game, how it runs.
    Welcome(Welcome),
    /// The room's state after one tick, and the events since the last one.
    State(State),
    /// Answer to a [`ClientMsg::Ping`].
    Pong(Pong),
    /// A non-fatal problem; fatal ones close the WebSocket with a close code.
    Error(ErrorMsg),
}

/// Sent once, right after a successful join.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Welcome {
    /// The protocol version the server speaks (equal to the client's).
    pub version: u16,
    /// This client's player id (its entity carries it in the `player`
    /// component).
    pub player_id: u32,
    /// The room's id, as given in the URL.
    pub room: String,
    /// The room's game.
    pub game: String,
    /// Frames per second ([`State`]s arrive at this rate).
    pub tick_rate_hz: u16,
    /// Simulation steps per second: a whole multiple of `tick_rate_hz`
    /// (`--sim-rate`; equal to it by default). Inputs apply at step
    /// boundaries; a client predicts its own player one step at a time
    /// (`dt = 1 / sim_rate_hz`) and interpolates the others at the frame rate.
    pub sim_rate_hz: u16,
    /// The room's current tick.
    pub tick: u32,
    /// The game's schema ([`crate::state::Schema::encode`]): what its
    /// components, input and events look like. A client builds its decoder
    /// from it; its hash is [`crate::state::Schema::hash`].
    pub schema: Vec<u8>,
    /// The room's config, as JSON (every field, defaults filled in).
    pub config: String,
    /// Send this in [`Join::resume`] to get this player back after a dropped
    /// connection (once; every Welcome brings a new one). A credential: do not log it.
    pub resume_token: String,
    /// Whether this join took back an earlier player.
    pub resumed: bool,
}

/// The room's state after one tick, for one client.
///
/// `frame` is a delta ([`crate::state::delta`]) from the newest frame this
/// client was sent (its header names both ticks), or a whole frame (a delta
/// from nothing) after a join, a resume, or when that frame is no longer in
/// the room's history. `checksum` and `frame` are the same for every client
/// with the same base; `ack_seq` and `events` are this client's.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct State {
    /// Newest [`Input::seq`] the room has applied for this client's player
    /// (0: none yet).
    pub ack_seq: u32,
    /// Events for this player since the last [`State`] it was sent, in
    /// order, each an event id and its values ([`crate::state::decode_event`]).
    /// A client that misses frames still gets every event, once.
    pub events: Vec<Vec<u8>>,
    /// [`crate::state::Frame::checksum`] of the frame this state produces.
    pub checksum: Checksum,
    /// The frame, delta-coded.
    pub frame: Vec<u8>,
}

/// A 32-bit frame checksum, always 4 little-endian bytes on the wire (a hash
/// would take 5 as a varint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Checksum(pub u32);

impl Encode for Checksum {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.0.to_le_bytes().encode(encoder)
    }
}

impl<Context> Decode<Context> for Checksum {
    fn decode<D: Decoder<Context = Context>>(decoder: &mut D) -> Result<Self, DecodeError> {
        Ok(Checksum(u32::from_le_bytes(<[u8; 4]>::decode(decoder)?)))
    }
}

impl<'de, Context> BorrowDecode<'de, Context> for Checksum {
    fn borrow_decode<D: BorrowDecoder<'de, Context = Context>>(
        decoder: &mut D,
    ) -> Result<Self, DecodeError> {
        Ok(Checksum(u32::from_le_bytes(<[u8; 4]>::borrow_decode(
            decoder,
        )?)))
    }
}

/// Answer to a [`Ping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Pong {
    /// The ping's nonce.
    pub nonce: u32,
    /// The room's newest tick when the ping was answered.
    pub tick: u32,
}

/// A non-fatal error report.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ErrorMsg {
    /// A stable machine-readable code.
    pub code: u16,
    /// A short human-readable explanation.
    pub message: String,
}
