//! Where rooms run: the one narrow interface between the registry (which
//! rooms exist, what the API knows of them) and whatever starts them. Today
//! the only implementation is the local tick-worker pool
//! ([`crate::room::worker::WorkerPool`]); the cluster will add an answer
//! "remote, at this URL" behind the same interface, so the registry never
//! learns how rooms are run.

use std::sync::Arc;

use tickroom_game::Room;
use tickroom_protocol::record::ContinueCause;

use crate::room::{RoomHandle, RoomSettings, snapshot::RoomSnapshot};

/// Why a room could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// No tick worker is running.
    #[error("no tick worker is running")]
    NoWorker,
    /// The room's game could not make the room (its config was checked
    /// before, so this is a bug in the game).
    #[error("the game could not start the room: {0}")]
    Game(String),
}

/// Starts rooms.
pub trait Placement: Send + Sync + std::fmt::Debug {
    /// Starts room `id` (whose instance is `serial`) with `settings`, and
    /// returns the handle the I/O side reaches it by.
    fn start(
        &self,
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
    ) -> Result<RoomHandle, PlacementError>;

    /// Starts room `id` from a snapshot whose game state `game` was already
    /// restored (a hand-off or a crash restore): its players wait for their
    /// resumes. When recording, its recording continues the snapshot's,
    /// for `cause`.
    fn adopt(
        &self,
        id: Arc<str>,
        serial: u64,
        settings: &RoomSettings,
        snap: &RoomSnapshot,
        game: Box<dyn Room>,
        cause: ContinueCause,
    ) -> Result<RoomHandle, PlacementError>;

    /// Stops every room runner once its rooms are gone (at shutdown).
    fn stop(&self);
}
