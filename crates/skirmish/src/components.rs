//! The wire contract shared with the browser page and the bots
//! (`/work/skirmish-spec.md`): the replicated components, the input and the
//! events, with their schema names and field types. Changing a name or a
//! type here changes what clients decode; bump [`crate::Skirmish`]'s
//! `VERSION` with any change that alters frames.

use bevy_ecs::prelude::Component;
use serde::{Deserialize, Serialize};
use tickroom::Wire;

/// Where a ship, bullet or pickup is, for interest management
/// (`Declare::interest`). Not replicated: clients read positions from each
/// entity's own component. Walls and players have none, so everyone is sent
/// them. Saved with the room (exact, unlike the wire's tenths).
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
pub struct Pos {
    /// Map units, `0` at the left edge.
    pub x: f32,
    /// Map units, `0` at the top edge (y grows downward).
    pub y: f32,
}

/// A player's ship (schema `ship`): one per player, on its own entity.
/// Saved with the room exactly (serde), not as the wire's tenths.
#[derive(Component, Wire, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
pub struct Ship {
    /// The owner's player id.
    pub owner: u32,
    /// Centre.
    #[wire(fixed(i32, 10))]
    pub x: f32,
    #[wire(fixed(i32, 10))]
    pub y: f32,
    /// Velocity, units per second (0 while destroyed).
    #[wire(fixed(i32, 10))]
    pub vx: f32,
    #[wire(fixed(i32, 10))]
    pub vy: f32,
    /// Held aim, radians (0 = +x, y downward).
    #[wire(fixed(i16, 1000))]
    pub aim: f32,
    /// 0 to [`crate::MAX_HEALTH`].
    pub health: u8,
    /// False from its destruction until it respawns: it stays where it died
    /// (its player keeps its view), does not move and is not hit.
    pub alive: bool,
}

/// A bullet in flight (schema `bullet`): constant for its whole life, so
/// it costs nothing after its spawn. At step `s` it is at
/// `(x0 + vx·(s − born)·dt, y0 + vy·(s − born)·dt)`.
#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
pub struct Bullet {
    /// The shooter's player id.
    pub owner: u32,
    /// Where it starts, at step `born`.
    #[wire(fixed(i32, 10))]
    pub x0: f32,
    #[wire(fixed(i32, 10))]
    pub y0: f32,
    /// Velocity, units per second.
    #[wire(fixed(i32, 10))]
    pub vx: f32,
    #[wire(fixed(i32, 10))]
    pub vy: f32,
    /// The step it first exists after: the firing step's
    /// `StepInfo::step + 1`.
    pub born: u32,
}

/// A health pack (schema `pickup`).
#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
pub struct Pickup {
    /// Centre.
    #[wire(fixed(i32, 10))]
    pub x: f32,
    #[wire(fixed(i32, 10))]
    pub y: f32,
    /// Health it gives.
    pub heal: u8,
}

/// A static wall (schema `wall`): the rectangle `[x, x + w] × [y, y + h]`.
#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
pub struct Wall {
    /// Min corner.
    #[wire(fixed(i32, 10))]
    pub x: f32,
    #[wire(fixed(i32, 10))]
    pub y: f32,
    /// Width and height.
    #[wire(fixed(i32, 10))]
    pub w: f32,
    #[wire(fixed(i32, 10))]
    pub h: f32,
}

/// A player's tally (schema `score`), on its player entity (no position,
/// so every player is sent every score).
#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Score {
    /// Ships it destroyed.
    pub kills: u16,
    /// Times its ship was destroyed.
    pub deaths: u16,
}

/// What a player sends (schema `skirmish_input`): held controls and a press.
#[derive(Wire, Debug, Clone, Copy, Default, PartialEq)]
pub struct SkirmishInput {
    /// Movement, -127..=127 each; the direction is `(mx, my) / 127`, its
    /// length clamped to 1.
    pub mx: i8,
    pub my: i8,
    /// Aim, radians in -π..=π (0 = +x, y downward).
    #[wire(fixed(i16, 1000))]
    pub aim: f32,
    /// One shot, if the ship is alive and its gun has cooled down.
    pub fire: bool,
}

/// A bullet hit a ship: sent to the shooter and the victim.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Player ids.
    pub shooter: u32,
    pub victim: u32,
    /// Health taken.
    pub damage: u8,
    /// The victim's health after the hit.
    pub health: u8,
}

/// A ship was destroyed: sent to everyone (the kill feed).
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    /// Player ids.
    pub killer: u32,
    pub victim: u32,
}

/// The respawn countdown: sent to the destroyed ship's player once per
/// second of it (3, 2, 1 by default).
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Respawn {
    /// Whole seconds left, rounded up.
    pub seconds: u8,
}

/// A bullet hit something here: sent to the players that see the point.
#[derive(Wire, Debug, Clone, Copy, PartialEq)]
pub struct Boom {
    #[wire(fixed(i32, 10))]
    pub x: f32,
    #[wire(fixed(i32, 10))]
    pub y: f32,
}
