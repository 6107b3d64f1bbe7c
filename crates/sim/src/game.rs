//! The arena as a tickroom game: [`Arena`] implements [`tickroom::Game`] on
//! the rules of this crate, so the engine hosts it like any other game. What
//! reaches clients: every player's `player` (the engine's), `pos` and
//! `score`, and every live pellet's `pellet` and `pos`; steering is held per
//! player and only the newest input of a step counts. Velocities are not
//! sent (see [`Arena::declare`]), but a saved room carries them, with the
//! exact positions and the pellets' timers (`tickroom::persist`).

use bevy_ecs::prelude::{Entity, IntoScheduleConfigs, Resource, With, World};
use glam::Vec2;
use serde::{Deserialize, Serialize};
use tickroom::protocol::state::{Field, FieldType, Scalar, Value};
use tickroom::wire::{EntityMap, FixedPoint, Wire, WireError};
use tickroom::{Declare, Game, InputMode, PlayerId, Replicated, RoomConfig, RoomRng, Setup};

use crate::input::SteerInput;
use crate::systems::{
    Config, Motion, Pellet, PelletSlots, PelletState, PelletsChanged, Position, Score, Steer,
    Velocity, apply_inputs, bump_players, eat_and_respawn_pellets, movement, random_center,
};
use crate::{Kinematics, SPAWN_ATTEMPTS, SimConfig};

/// Positions travel in quarter units (`u16`: up to 16,383.75).
pub const POS_SCALE: u32 = 4;
/// The largest arena side a `u16` position at [`POS_SCALE`] can hold.
pub const MAX_SIDE: f32 = u16::MAX as f32 / POS_SCALE as f32;

/// A room's arena and rules (the room API's `config`). The step rate is the
/// server's (`--sim-rate`) and the seed the room's, so neither is here.
#[derive(Resource, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ArenaConfig {
    pub width: f32,
    pub height: f32,
    pub player_radius: f32,
    pub pellet_radius: f32,
    pub accel: f32,
    pub max_speed: f32,
    pub friction: f32,
    pub pellet_count: usize,
    pub pellet_respawn_ticks: u32,
}

impl Default for ArenaConfig {
    fn default() -> Self {
        Self::from(&SimConfig::default())
    }
}

impl From<&SimConfig> for ArenaConfig {
    fn from(c: &SimConfig) -> Self {
        Self {
            width: c.width,
            height: c.height,
            player_radius: c.player_radius,
            pellet_radius: c.pellet_radius,
            accel: c.accel,
            max_speed: c.max_speed,
            friction: c.friction,
            pellet_count: c.pellet_count,
            pellet_respawn_ticks: c.pellet_respawn_ticks,
        }
    }
}

impl ArenaConfig {
    /// The full rules at `rate_hz` steps a second.
    pub fn rules(&self, rate_hz: u32, seed: u64) -> SimConfig {
        SimConfig {
            width: self.width,
            height: self.height,
            player_radius: self.player_radius,
            pellet_radius: self.pellet_radius,
            accel: self.accel,
            max_speed: self.max_speed,
            friction: self.friction,
            pellet_count: self.pellet_count,
            pellet_respawn_ticks: self.pellet_respawn_ticks,
            tick_rate_hz: rate_hz,
            seed,
        }
    }
}

impl RoomConfig for ArenaConfig {
    fn validate(&self) -> Result<(), String> {
        self.rules(20, 0).validate().map_err(|e| e.to_string())?;
        for (field, v) in [("width", self.width), ("height", self.height)] {
            if v > MAX_SIDE {
                return Err(format!("`{field}` must be at most {MAX_SIDE}, got {v}"));
            }
        }
        Ok(())
    }
}

/// The arena game (see the crate docs for its rules).
#[derive(Debug, Clone, Copy, Default)]
pub struct Arena;

impl Game for Arena {
    const NAME: &'static str = "arena";
    const VERSION: u32 = crate::SIM_VERSION;
    const INPUTS: InputMode = InputMode::Newest;
    type Input = SteerInput;
    type Config = ArenaConfig;

    fn declare(game: &mut Declare) {
        // Velocities stay on the server: one changes nearly every frame a
        // player steers and would cost more than its position; clients
        // derive it from positions and their own prediction
        // (assets/arena.js `settle`), as the hand-tuned v5 protocol did.
        game.replicate::<Position>()
            .replicate::<Score>()
            .replicate::<Pellet>();
        // What a saved room must carry besides the wire's exact `score` and
        // `pellet`: exact positions (the wire's are in quarter units),
        // velocities, held steering, dead pellets' countdowns and the
        // pellet slots (entity links). `Config` and `Motion` are setup's.
        game.persist::<Position>()
            .persist::<Velocity>()
            .persist::<Steer>()
            .persist::<PelletState>()
            .persist_resource::<PelletsChanged>()
            .persist_resource::<PelletSlots>();
    }

    fn setup(room: &mut Setup<'_>, config: &ArenaConfig) {
        let world = room.world();
        let rate = world.resource::<tickroom::StepInfo>().rate_hz;
        let rules = config.rules(rate, 0);
        let mut slots = Vec::with_capacity(rules.pellet_count.min(crate::MAX_PELLETS));
        for i in 0..rules.pellet_count {
            let Ok(id) = u16::try_from(i) else { break };
            let pos = random_center(
                &mut world.resource_mut::<RoomRng>(),
                &rules,
                rules.pellet_radius,
            );
            let entity = world
                .spawn((Pellet { id }, PelletState::Live, Position(pos), Replicated))
                .id();
            slots.push(entity);
        }
        world.insert_resource(Motion(Kinematics::from_config(&rules)));
        world.insert_resource(Config(rules));
        world.insert_resource(PelletsChanged(true));
        world.insert_resource(PelletSlots(slots));
        room.add_systems(
            (
                apply_inputs,
                movement,
                bump_players,
                eat_and_respawn_pellets,
            )
                .chain(),
        );
    }

    fn joined(world: &mut World, _: PlayerId, entity: Entity) {
        let pos = spawn_position(world);
        world.entity_mut(entity).insert((
            Position(pos),
            Velocity::default(),
            Steer::default(),
            Score::default(),
        ));
    }

    fn disconnected(world: &mut World, _: PlayerId, entity: Entity) {
        // It coasts to a stop while it waits for a resume.
        if let Some(mut steer) = world.get_mut::<Steer>(entity) {
            steer.0 = Vec2::ZERO;
        }
    }
}

/// The spawn centre: drawn like a pellet's (radius `player_radius`, `x`
/// then `y`) up to [`SPAWN_ATTEMPTS`] times; the first candidate that
/// overlaps no player (centre distance >= `2 * player_radius`) is taken,
/// otherwise the candidate farthest from its nearest player (earliest on
/// ties).
fn spawn_position(world: &mut World) -> Vec2 {
    let config = world.resource::<Config>().0.clone();
    let r = config.player_radius;
    let clear_sq = (2.0 * r) * (2.0 * r);
    let others: Vec<Vec2> = world
        .query_filtered::<&Position, With<tickroom::Player>>()
        .iter(world)
        .map(|p| p.0)
        .collect();
    let mut rng = world.resource_mut::<RoomRng>();
    let mut best = (f32::NEG_INFINITY, Vec2::ZERO);
    for _ in 0..SPAWN_ATTEMPTS {
        let candidate = random_center(&mut rng, &config, r);
        let nearest_sq = others
            .iter()
            .map(|o| (*o - candidate).length_squared())
            .fold(f32::INFINITY, f32::min);
        if nearest_sq >= clear_sq {
            return candidate;
        }
        if nearest_sq > best.0 {
            best = (nearest_sq, candidate);
        }
    }
    best.1
}

/// A `Vec2` as two fixed-point fields `x`, `y`.
fn vec2_fields(repr: Scalar, scale: u32) -> Vec<Field> {
    vec![
        Field::new("x", f32::fixed_type(repr, scale)),
        Field::new("y", f32::fixed_type(repr, scale)),
    ]
}

fn read_vec2(
    values: &mut std::slice::Iter<'_, Value>,
    repr: Scalar,
    scale: u32,
    at: &'static str,
) -> Result<Vec2, WireError> {
    let x = f32::read_fixed(values, repr, scale, at)?;
    let y = f32::read_fixed(values, repr, scale, at)?;
    Ok(Vec2::new(x, y))
}

impl Wire for Position {
    const NAME: &'static str = "pos";
    fn fields() -> Vec<Field> {
        vec2_fields(Scalar::U16, POS_SCALE)
    }
    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        self.0.x.write_fixed(Scalar::U16, POS_SCALE, out);
        self.0.y.write_fixed(Scalar::U16, POS_SCALE, out);
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        _: &dyn EntityMap,
    ) -> Result<Self, WireError> {
        read_vec2(values, Scalar::U16, POS_SCALE, "pos").map(Position)
    }
}

impl Wire for Score {
    const NAME: &'static str = "score";
    fn fields() -> Vec<Field> {
        vec![Field::new("points", FieldType::Scalar(Scalar::U32))]
    }
    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(self.0.into()));
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        m: &dyn EntityMap,
    ) -> Result<Self, WireError> {
        <u32 as tickroom::wire::WireField>::read(values, m, "score.points").map(Score)
    }
}

/// Pellets carry their slot id (`0..pellet_count`).
impl Wire for Pellet {
    const NAME: &'static str = "pellet";
    fn fields() -> Vec<Field> {
        vec![Field::new("slot", FieldType::Scalar(Scalar::U16))]
    }
    fn write(&self, _: &dyn EntityMap, out: &mut Vec<Value>) {
        out.push(Value::Int(self.id.into()));
    }
    fn read(
        values: &mut std::slice::Iter<'_, Value>,
        m: &dyn EntityMap,
    ) -> Result<Self, WireError> {
        <u16 as tickroom::wire::WireField>::read(values, m, "pellet.slot").map(|id| Pellet { id })
    }
}
