//! The game API: what a studio implements to put its game on tickroom.
//!
//! A game is a type implementing [`Game`]: its input type and room config,
//! its replicated components and events ([`Declare`]), its systems
//! ([`Setup`]) and the hooks the engine calls as players come and go. The
//! engine gives every room a bevy_ecs `World` holding the game's state and
//! the engine's resources ([`Inputs`], [`Players`], [`Outbox`], [`RoomRng`],
//! [`StepInfo`]), steps it at a fixed rate, and sends each client the
//! [`Replicated`] entities' registered components, delta-coded against what
//! that client last received, described by a schema the browser decodes
//! without being compiled for the game.
//!
//! This crate is sans-IO: rooms are stepped by calls ([`Room`]), with time
//! and randomness as arguments. A room saves to bytes and restores from
//! them in another process ([`persist`]).

// The derive names `::tickroom::...`; inside this crate that is this crate.
extern crate self as tickroom;

pub use bevy_ecs;
/// Room configs arrive and are shown as JSON.
pub use serde_json;
pub use tickroom_protocol as protocol;

mod declare;
mod game;
pub mod interest;
mod outbox;
pub mod persist;
mod registry;
mod room;
pub mod wire;
mod world;

pub use declare::{Catalogue, Declare};
pub use game::{Departure, Game, InputMode, Refusal, RoomConfig, Setup};
pub use interest::{Eye, SeenBy, Views};
pub use outbox::{Audience, OutEvent, Outbox};
pub use persist::PersistError;
pub use registry::{ConfigError, GameEntry, Games, RegisterError};
pub use room::{GameRoom, InputError, Room, RoomStep};
pub use world::{
    Inputs, MAX_PLAYER_NAME_BYTES, NetId, Player, PlayerId, PlayerInput, Players, Replicated,
    RoomRng, StepInfo,
};
