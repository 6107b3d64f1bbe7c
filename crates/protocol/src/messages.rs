//! The protocol's message types: plain data, integers and short strings only.
//!
//! Positions and velocities are quantized (see [`crate::quant`]); nothing here
//! depends on the simulation's types. Changing any type in this file changes
//! the wire format and needs a [`PROTOCOL_VERSION`] bump and new test vectors
//! for the JS client.

use bincode::{
    BorrowDecode, Decode, Encode,
    de::{BorrowDecoder, Decoder},
    enc::Encoder,
    error::{DecodeError, EncodeError},
};

/// Version of this wire format. A client sends it in [`Join`]; the server
/// closes a connection that speaks another version (close code 1002).
pub const PROTOCOL_VERSION: u16 = 5;

/// Longest resume token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 160;

/// Longest player name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 24;

/// Longest encoded client message the server accepts, in bytes. Larger
/// WebSocket messages are refused with close code 1009.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 256;

/// Longest encoded server message a client should accept, in bytes.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 64 * 1024;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum ClientMsg {
    /// First message on a connection: the protocol version spoken and a
    /// display name. The room comes from the WebSocket URL (`/ws?room=`).
    Join(Join),
    /// One steering input.
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
    /// take back the same player (id, position, score) within the server's
    /// grace period; empty for a fresh join. A token that is no longer valid
    /// (grace over, already used) gets a fresh player; a forged one, or one for
    /// another room, is refused (close code 1008).
    pub resume: String,
}

/// A steering input, sent at the client's input rate (typically 30 Hz).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Input {
    /// Client-chosen sequence number, increasing by one per input. Snapshots
    /// report the newest sequence number the room has applied for each player
    /// ([`PlayerState::last_input_seq`]).
    pub seq: u32,
    /// The newest snapshot tick this client had received when it sent the input.
    pub ack_tick: u32,
    /// Steering direction, each component in -127..=127 (see
    /// [`crate::quant::steer_to_wire`]); the simulation clamps its length to 1.
    pub steer: [i8; 2],
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
    /// Answer to [`ClientMsg::Join`]: who you are and how the room runs.
    Welcome(Welcome),
    /// The room's state after one tick.
    Snapshot(Snapshot),
    /// Answer to a [`ClientMsg::Ping`].
    Pong(Pong),
    /// A non-fatal problem; fatal ones close the WebSocket with a close code.
    Error(ErrorMsg),
    /// The room's state after one tick, as a change from the previous tick's
    /// frame this client received (see [`Delta`] and [`crate::replica`]).
    Delta(Delta),
}

/// Sent once, right after a successful join.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Welcome {
    /// The protocol version the server speaks (equal to the client's).
    pub version: u16,
    /// The id of this client's player in snapshots.
    pub player_id: u32,
    /// The room's id, as given in the URL.
    pub room: String,
    /// Ticks per second (snapshots arrive at this rate).
    pub tick_rate_hz: u16,
    /// Simulation steps per second: a whole multiple of `tick_rate_hz`
    /// (`--sim-rate`; equal to it by default). Inputs apply at step
    /// boundaries; a client predicts its own player one step at a time
    /// (`dt = 1 / sim_rate_hz`) and interpolates the others at the frame rate.
    pub sim_rate_hz: u16,
    /// The room's current tick.
    pub tick: u32,
    /// The arena and movement rules, so clients can predict their own player.
    pub arena: Arena,
    /// Send this in [`Join::resume`] to get this player back after a dropped
    /// connection (once; every Welcome brings a new one). A credential: do not log it.
    pub resume_token: String,
    /// Whether this join took back an earlier player.
    pub resumed: bool,
}

/// The arena's size and the movement rules of the simulation, for client-side
/// prediction. Values are in world units and seconds.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct Arena {
    /// Width of the arena (x from 0 to width).
    pub width: f32,
    /// Height of the arena (y from 0 to height).
    pub height: f32,
    /// Radius of every player's circle.
    pub player_radius: f32,
    /// Radius of every pellet.
    pub pellet_radius: f32,
    /// Acceleration at full steering deflection, units/s².
    pub accel: f32,
    /// Speed limit, units/s.
    pub max_speed: f32,
    /// Velocity decay per second when not steering (fraction kept after 1 s).
    pub friction: f32,
}

/// The room's full state after tick `tick` (a keyframe). A client gets one
/// after joining or resuming, and when the newest frame it was sent is older
/// than the room's frame history; otherwise it gets a [`Delta`]. One encoded
/// snapshot is shared by every player it goes to in a tick.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Snapshot {
    /// The tick this state is the result of; strictly increasing per room.
    pub tick: u32,
    /// Every player in the room, sorted by id.
    pub players: Vec<PlayerState>,
    /// Every live pellet, sorted by id.
    pub pellets: Vec<Pellet>,
    /// Every player's display name, sorted by id.
    pub roster: Vec<PlayerInfo>,
}

/// Longest distance, in ticks, between a [`Delta`] and the frame it applies to.
pub const MAX_BASE_AGE: u32 = 255;

/// The room's state after tick `tick`, as a change from the frame of tick
/// `tick - base_age` (the newest frame this client was sent; usually the
/// previous tick's, further back when frames were dropped for a slow reader).
///
/// Applying it, in this order ([`crate::replica::Replica`] does):
/// 1. the players listed in `removed` leave (with their roster entries);
/// 2. every remaining player of the base frame, in id order, moves by
///    `moves[i]` (quantized units) and its acknowledged input sequence
///    advances by `acks[i]`; its velocity becomes the one derived from the
///    move, `trunc(move × tick_rate_hz / base_age)` per axis;
/// 3. `velocities` sets exact velocities where the derived one differs,
///    `scores` sets new scores, and every entry of `changed` replaces the
///    player with its id (for moves or acks too large for the compact form);
/// 4. the players in `added` join with their full state and name;
/// 5. pellets in `pellets_removed` go, those in `pellets_added` are inserted
///    or replaced;
/// 6. the result must hash to `checksum` ([`crate::replica::checksum`]);
///    anything else is a bug, which clients count.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Delta {
    /// The tick this state is the result of.
    pub tick: u32,
    /// How many ticks older the base frame is (1 ..= [`MAX_BASE_AGE`]); the
    /// delta applies to the frame of tick `tick - base_age` (wrapping).
    pub base_age: u8,
    /// Checksum of the frame this delta produces.
    pub checksum: Checksum,
    /// Ids of the base frame's players that left, sorted.
    pub removed: Vec<u32>,
    /// Per remaining player of the base frame, in its order: position change.
    pub moves: Vec<[i8; 2]>,
    /// Per remaining player of the base frame, in its order: `last_input_seq` increase.
    pub acks: Vec<u8>,
    /// Exact velocities where the derived one would be off.
    pub velocities: Vec<VelocityFix>,
    /// New scores.
    pub scores: Vec<ScoreFix>,
    /// Players whose full state replaces the derived one.
    pub changed: Vec<PlayerState>,
    /// Players who joined since the base frame, sorted by id.
    pub added: Vec<NewPlayer>,
    /// Ids of pellets no longer live.
    pub pellets_removed: Vec<u16>,
    /// Pellets that appeared or moved.
    pub pellets_added: Vec<Pellet>,
}

/// A player who joined since a [`Delta`]'s base frame.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct NewPlayer {
    /// Its full state.
    pub state: PlayerState,
    /// Its display name.
    pub name: String,
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

/// A player's exact velocity in a [`Delta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct VelocityFix {
    /// Player id.
    pub id: u32,
    /// Velocity, quantized with [`crate::quant::vel_to_wire`].
    pub vel: [i16; 2],
}

/// A player's new score in a [`Delta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct ScoreFix {
    /// Player id.
    pub id: u32,
    /// Pellets collected.
    pub score: u32,
}

/// One player's state in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct PlayerState {
    /// Player id (see [`Welcome::player_id`]).
    pub id: u32,
    /// Position, quantized with [`crate::quant::pos_to_wire`].
    pub pos: [u16; 2],
    /// Velocity, quantized with [`crate::quant::vel_to_wire`].
    pub vel: [i16; 2],
    /// Pellets collected.
    pub score: u32,
    /// Newest [`Input::seq`] the room has applied for this player (0: none).
    pub last_input_seq: u32,
}

/// One live pellet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Pellet {
    /// Pellet slot id, stable across respawns.
    pub id: u16,
    /// Position, quantized with [`crate::quant::pos_to_wire`].
    pub pos: [u16; 2],
}

/// A player's display data.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PlayerInfo {
    /// Player id.
    pub id: u32,
    /// Display name.
    pub name: String,
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
