//! tickroom: put your game on an authoritative multiplayer server.
//!
//! This is the one crate a game depends on. A game is a type implementing
//! [`Game`]: its replicated components, input and events derive [`Wire`],
//! its rules are ordinary bevy_ecs systems, and the engine steps each room
//! at a fixed rate and sends every client what changed since the frame that
//! client last received. A room saves to bytes and restores in another
//! process ([`persist`]: hand-offs between nodes, crash restores). See
//! `docs/game-api.md` for a whole game.

pub use tickroom_derive::Wire;
pub use tickroom_game::*;
/// The server: its config (every flag), [`server::Server`] for embedding
/// and tests.
pub use tickroom_server as server;

/// Runs a tickroom server hosting `games` with every flag the `tickroom`
/// binary has (clap + environment: cluster, hardening, TLS, recording,
/// metrics), until SIGINT/SIGTERM; `<binary> replay FILE` replays a
/// recording of any of them. A studio's whole `main`:
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     let games = tickroom::Games::new();
///     // games.register::<MyGame>().expect("my game's declarations are valid");
///     tickroom::serve(games)
/// }
/// ```
pub fn serve(games: Games) -> std::process::ExitCode {
    tickroom_server::cli::main(games)
}

/// What a game's files usually import.
pub mod prelude {
    /// For entity links in persisted resources (`#[derive(Resource,
    /// MapEntities)]`, see [`crate::persist`]).
    pub use crate::bevy_ecs::entity::MapEntities;
    pub use crate::bevy_ecs::prelude::*;
    pub use crate::{
        Declare, Departure, Eye, Game, InputMode, Inputs, NetId, Outbox, Player, PlayerId, Players,
        Refusal, Replicated, RoomConfig, RoomRng, SeenBy, Setup, StepInfo,
    };
    pub use tickroom_derive::Wire;
    pub use tickroom_game::wire::Wire;
}
