//! dots: the minimal tickroom game of `docs/game-api.md`, whole. Every
//! player is a dot on a square board; it steps where its player says, and a
//! wave tells everyone else. The engine does the rest: ids and sessions,
//! resume, the schema the browser decodes, per-client deltas, recording.

use serde::{Deserialize, Serialize};
use tickroom::prelude::*;

/// Where a player's dot is: sent to clients as two fixed-point numbers
/// (tenths of a unit, in an i32 each), saved with the room exactly.
#[derive(Component, Wire, Serialize, Deserialize, Clone, Copy, Default, Debug, PartialEq)]
pub struct Dot {
    #[wire(fixed(i32, 10))]
    pub x: f32,
    #[wire(fixed(i32, 10))]
    pub y: f32,
}

/// What a player sends: a step, and maybe a wave. Every input reaches the
/// game (the default `InputMode::Every`), so no wave is lost.
#[derive(Wire, Clone, Copy, Default, Debug)]
pub struct Step {
    pub dx: i8,
    pub dy: i8,
    pub wave: bool,
}

/// Sent to everyone else when a player waves.
#[derive(Wire, Clone, Debug, PartialEq)]
pub struct Waved {
    pub by: u32,
}

/// A room's settings (`POST /rooms {"game": "dots", "config": {...}}`).
#[derive(Resource, Serialize, Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct DotsConfig {
    /// The board's side.
    pub size: f32,
    /// Units a full step moves.
    pub speed: f32,
}

impl Default for DotsConfig {
    fn default() -> Self {
        Self {
            size: 100.0,
            speed: 0.5,
        }
    }
}

impl RoomConfig for DotsConfig {
    fn validate(&self) -> Result<(), String> {
        if !(self.size > 0.0 && self.size <= 100_000.0) {
            return Err(format!("size must be in (0, 100000], got {}", self.size));
        }
        if !(self.speed > 0.0 && self.speed <= self.size) {
            return Err(format!("speed must be in (0, size], got {}", self.speed));
        }
        Ok(())
    }
}

/// The game.
#[derive(Debug)]
pub struct Dots;

impl Game for Dots {
    const NAME: &'static str = "dots";
    const VERSION: u32 = 1;
    type Input = Step;
    type Config = DotsConfig;

    fn declare(game: &mut Declare) {
        // Dots move by fractions of a tenth: a hand-off carries them exactly.
        game.replicate::<Dot>().event::<Waved>().persist::<Dot>();
    }

    fn setup(room: &mut Setup<'_>, _: &DotsConfig) {
        room.add_systems(walk);
    }

    fn joined(world: &mut World, _: PlayerId, entity: Entity) {
        let size = world.resource::<DotsConfig>().size;
        let mut rng = world.resource_mut::<RoomRng>();
        let dot = Dot {
            x: rng.range_f32(0.0, size),
            y: rng.range_f32(0.0, size),
        };
        world.entity_mut(entity).insert(dot);
    }
}

/// Moves each dot by its player's steps, in the order they arrived.
fn walk(
    inputs: Res<Inputs<Step>>,
    config: Res<DotsConfig>,
    mut dots: Query<&mut Dot>,
    mut outbox: ResMut<Outbox>,
) {
    for i in &inputs {
        if let Ok(mut dot) = dots.get_mut(i.entity) {
            let step = |at: f32, d: i8| (at + f32::from(d) * config.speed).clamp(0.0, config.size);
            dot.x = step(dot.x, i.input.dx);
            dot.y = step(dot.y, i.input.dy);
        }
        if i.input.wave {
            outbox.to_all_but(i.player, &Waved { by: i.player.0 });
        }
    }
}
