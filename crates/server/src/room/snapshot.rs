//! A room as bytes: what a draining node hands to the room's next owner, and
//! what `--room-snapshots` writes to Redis so a dead node's rooms come back
//! on the survivors. It holds everything a new owner needs to carry on where
//! the room was: the game's whole state ([`tickroom_game::Room::save`]), the
//! seed and config it was made with, the room API's view of it (capacity,
//! listing, metadata), and each player's session (id, the resume token's
//! session nonce, the newest input sequence number acknowledged), so players
//! resume on the new owner with the tokens they hold.
//!
//! A snapshot is taken between two ticks ([`super::host`]), so it holds no
//! input the game has not stepped: inputs that reach the old owner after the
//! freeze are dropped and counted, and the clients resend every input not
//! acknowledged, as after any resume.
//!
//! Encoded through the protocol's codec (bincode, one configuration); a
//! snapshot of another [`FORMAT`] is refused, not misread.

use serde::{Deserialize, Serialize};
use tickroom_game::Room;

use super::{RoomGame, RoomSettings};

/// The layout version of [`RoomSnapshot`]; bump it with any change.
pub const FORMAT: u32 = 2;

/// The recording of the room on the node that took the snapshot, so the new
/// owner's recording can name the one it continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRecording {
    /// The recording node and the file's name in its recording directory.
    pub from: tickroom_protocol::record::PreviousRecording,
    /// What the room applied after its last recorded step (see
    /// [`tickroom_protocol::record::Continuation::pending`]).
    pub pending: Vec<tickroom_protocol::record::RoomEvent>,
}

/// One player's session, as the new owner takes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSession {
    /// The player's id (its entity and state are in the game's state).
    pub player: u32,
    /// The session its resume token names.
    pub session: u64,
    /// The newest input sequence number applied (the last frame's ack).
    pub last_seq: u32,
}

/// A room between two ticks (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomSnapshot {
    /// [`FORMAT`].
    pub format: u32,
    /// The room's id.
    pub room: String,
    /// Its game's name and version.
    pub game: String,
    pub game_version: u32,
    /// The game's config (canonical JSON).
    pub config: String,
    /// The seed the game's room was made with (setup runs again with it).
    pub game_seed: u64,
    /// Steps a second and steps per frame (the new owner must match them).
    pub step_rate_hz: u32,
    pub steps_per_frame: u32,
    /// Players the room holds, whether it is listed, its metadata (JSON).
    pub capacity: u32,
    pub public: bool,
    pub metadata: String,
    /// The room's tick and step count at the freeze.
    pub tick: u32,
    pub steps: u64,
    /// When it was taken, Unix ms (for the gap the new owner measures).
    pub taken_unix_ms: u64,
    /// The next player id the room gives.
    pub next_player_id: u32,
    /// Every player, connected or within its resume grace.
    pub sessions: Vec<SavedSession>,
    /// The game's state ([`Room::save`]).
    pub state: Vec<u8>,
    /// The room's recording where the snapshot was taken, if it was being
    /// recorded (format 2).
    pub recording: Option<SnapshotRecording>,
}

/// Why a snapshot cannot be made into a room here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Not a snapshot this build reads.
    #[error("not a room snapshot: {0}")]
    Undecodable(String),
    /// A snapshot of another layout version.
    #[error("snapshot format {0}; this build reads {FORMAT}")]
    Format(u32),
    /// This node does not host the room's game (or another version of it).
    #[error("this node does not host {0}")]
    Game(String),
    /// This node steps rooms at another rate.
    #[error("the room steps {0} times a second in frames of {1}; this node: {2} in frames of {3}")]
    Rate(u32, u32, u32, u32),
    /// The game refused the config or the state.
    #[error("the game could not restore the room: {0}")]
    State(String),
}

impl RoomSnapshot {
    /// The snapshot's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // A snapshot holds only plain data: encoding cannot fail.
        let _ = tickroom_protocol::codec::encode_serde(self, &mut out);
        out
    }

    /// A snapshot from its bytes, of this build's [`FORMAT`].
    pub fn decode(bytes: &[u8]) -> Result<RoomSnapshot, RestoreError> {
        let snap: RoomSnapshot = tickroom_protocol::codec::decode_serde(bytes)
            .map_err(|e| RestoreError::Undecodable(e.to_string()))?;
        if snap.format != FORMAT {
            return Err(RestoreError::Format(snap.format));
        }
        Ok(snap)
    }

    /// The game's room, made again from the config and seed and restored to
    /// the snapshot's state, checked against this node's `settings` and
    /// `game` (the entry this node registered under the snapshot's game).
    pub fn restore_game(
        &self,
        game: &RoomGame,
        settings: &RoomSettings,
    ) -> Result<Box<dyn Room>, RestoreError> {
        if game.name() != self.game || game.entry.version() != self.game_version {
            return Err(RestoreError::Game(format!(
                "{} version {}",
                self.game, self.game_version
            )));
        }
        if settings.step_rate_hz != self.step_rate_hz
            || settings.steps_per_frame.max(1) != self.steps_per_frame.max(1)
        {
            return Err(RestoreError::Rate(
                self.step_rate_hz,
                self.steps_per_frame,
                settings.step_rate_hz,
                settings.steps_per_frame,
            ));
        }
        let mut room = game
            .entry
            .new_room(&game.config, self.game_seed, self.step_rate_hz)
            .map_err(|e| RestoreError::State(e.to_string()))?;
        room.restore(&self.state)
            .map_err(|e| RestoreError::State(e.to_string()))?;
        Ok(room)
    }
}
