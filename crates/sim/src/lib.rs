//! The demo arena game's rules, as bevy_ecs components, resources and systems.
//!
//! This crate is sans-IO: no networking, threads, clock or OS randomness. A
//! [`Room`] is advanced only by [`Room::step`], and two rooms built from the
//! same [`SimConfig`] (including `seed`) that receive the same calls
//! (`add_player`, `remove_player`, `step` with the same inputs, in the same
//! order) are bit-for-bit identical. The server owns the clock and the sockets;
//! this document is also the specification for the JS client-side prediction
//! port, so it states the rules exactly.
//!
//! # World
//!
//! The arena is the rectangle `[0, width] x [0, height]` (default
//! 1600 x 1000). All arithmetic is IEEE `f32`. Players are circles of radius
//! `R = player_radius` (18) with a centre `pos`, a velocity `vel` (units/s), a
//! held steering vector `steer` and a `score`. Pellets are circles of radius
//! `r = pellet_radius` (6) with stable ids `0..pellet_count` (100); each is
//! either live (has a centre) or dead (waiting `respawn_in` steps).
//!
//! One step lasts `dt = 1 / tick_rate_hz` seconds (20 Hz: `dt = 0.05`). The
//! per-step friction factor is `k = friction.powf(dt)` (`0.05^0.05 ≈ 0.86089`),
//! computed once per room.
//!
//! # One step
//!
//! [`Room::step`] runs these rules in this order:
//!
//! 1. **Inputs.** For each `(id, dir)` in arrival order, if `id` is a player
//!    its `steer` becomes `sanitize(dir)` (so the last entry per player wins).
//!    `sanitize`: each non-finite component becomes `0`; then if
//!    `|dir|² > 1` the vector is divided by `|dir|` (length 1); shorter
//!    vectors are kept as they are. Steering is a *held* state: players without
//!    an input this step keep their previous `steer`. New players start with
//!    `steer = (0, 0)`. Unknown ids are ignored.
//! 2. **Movement**, every player independently:
//!    ```text
//!    vel = (vel + steer * (accel * dt)) * k
//!    if |vel|² > max_speed²:  vel = vel * (max_speed / |vel|)
//!    pos = pos + vel * dt
//!    ```
//! 3. **Bounds**, every player, each axis separately, with `lo = R` and
//!    `hi = width - R` (x) or `height - R` (y):
//!    if `pos < lo` then `pos = lo` and `vel = max(vel, 0)`;
//!    else if `pos > hi` then `pos = hi` and `vel = min(vel, 0)`.
//!    That is, only the velocity component pointing out of the arena is
//!    zeroed. Rules 2 and 3 together are [`movement_step`] /
//!    [`Kinematics::step`].
//! 4. **Bumps.** Players sorted by id ascending; for every pair `(a, b)` with
//!    `a` before `b`, visited `(0,1), (0,2), ..., (0,n-1), (1,2), ...`, each
//!    pair seeing the positions and velocities already changed by earlier
//!    pairs ([`bump`]):
//!    ```text
//!    d = b.pos - a.pos
//!    if |d|² >= (2R)²: skip
//!    n = d / |d|   or, if |d| <= 1e-6, n = (-1, 0)   (lower id pushed to +x)
//!    overlap = 2R - |d|
//!    a.pos -= n * (overlap / 2) ;  b.pos += n * (overlap / 2)
//!    if (b.vel - a.vel) · n < 0:           (approaching)
//!        an = a.vel · n ; bn = b.vel · n
//!        a.vel += n * (bn - an) ; b.vel += n * (an - bn)
//!    ```
//!    (an equal-mass elastic exchange of the normal components). After all
//!    pairs, rule 3 is applied to every player again.
//! 5. **Pellets**, in pellet id order:
//!    - a dead pellet sets `respawn_in = max(respawn_in - 1, 0)`; if that is
//!      `0` it respawns: it becomes live at a new random centre (see
//!      *Randomness*) and is then treated as live for the rest of this rule;
//!      otherwise it stays dead and nothing else happens to it this step;
//!    - a live pellet is eaten by the player with the lowest id whose centre
//!      satisfies `|pos - pellet|² < (R + r)²` (strict). That player's score
//!      increases by 1 and the pellet becomes dead with
//!      `respawn_in = pellet_respawn_ticks`.
//!
//!    So a pellet eaten during step `t` is dead after steps `t .. t+N-1` and
//!    live again after step `t+N` (`N = pellet_respawn_ticks`, where `0` acts
//!    like `1`). [`Room::pellets_changed`] reports whether any pellet was
//!    eaten or respawned during the last step.
//! 6. **Tick.** The step counter ([`Room::tick`]) increases by 1.
//!
//! Players do not collide with pellets physically, and pellets never move while
//! live.
//!
//! # Randomness
//!
//! A room has one SplitMix64 generator seeded with `seed`:
//! `state += 0x9E3779B97F4A7C15; z = state; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
//! z = (z ^ z>>27) * 0x94D049BB133111EB; return z ^ z>>31` (wrapping `u64`).
//! A uniform `u` in `[0, 1)` is `(next >> 40) as f32 / 2^24`. A random centre
//! for a circle of radius `ρ` is `x = ρ + u1 * ((width - ρ) - ρ)`, then
//! `y = ρ + u2 * ((height - ρ) - ρ)` (`u1` drawn before `u2`). Draws happen, in order: in [`Room::new`] for pellets
//! `0..pellet_count`; in [`Room::add_player`] (up to [`SPAWN_ATTEMPTS`]
//! candidates); in rule 5 for each respawn. Clients never need to replicate
//! the generator: pellet positions and spawns come from the server.
//!
//! # Example
//!
//! ```
//! use tickroom_sim::{PlayerId, Room, SimConfig, Vec2};
//!
//! let config = SimConfig::default();
//! config.validate().expect("defaults are valid");
//! let mut room = Room::new(config);
//! room.add_player(PlayerId(1));
//! room.step(&[(PlayerId(1), Vec2::new(1.0, 0.0))]); // held until the next input
//! room.step(&[]);
//! let mut players = Vec::new();
//! room.read_players(&mut players);
//! assert!(players[0].vel.x > 0.0);
//! assert_eq!(room.tick(), 2);
//! ```
//!
//! # ECS layout
//!
//! Each rule is a system in one chained, single-threaded bevy_ecs `Schedule`
//! (rules 2 and 3 share the `movement` system, which calls
//! [`Kinematics::step`]). The ECS types are private; [`Room`] is the API.

mod config;
mod game;
mod input;
mod kinematics;
mod room;
mod systems;
mod view;

pub use glam::Vec2;

pub use config::{ConfigError, MAX_PELLETS, MAX_TICK_RATE_HZ, SimConfig};
pub use game::{Arena, ArenaConfig, MAX_SIDE, POS_SCALE};
pub use input::SteerInput;
pub use kinematics::{
    Body, COINCIDENT_EPSILON, Kinematics, bump, movement_step, reaches, resolve_bumps,
    sanitize_steer,
};
pub use room::{Room, SPAWN_ATTEMPTS, catalogue};
pub use view::{ArenaView, NotArena, SeenPellet, SeenPlayer};

/// The version of the rules above. Two builds with the same `SIM_VERSION`
/// produce bit-for-bit the same rooms from the same calls, so a room recorded
/// by one replays exactly on the other; a recording of another version is
/// refused. Bump it with any change that alters a step's outcome (a rule, an
/// order, a float operation, the generator, a default that recordings do not
/// carry); `tests/sim_version.rs` pins a scenario's outcome to catch a change
/// that forgot to.
pub const SIM_VERSION: u32 = 1;

/// A player's id, chosen by the server (unique within a room).
pub use tickroom::PlayerId;

/// A snapshot of one player, as filled in by [`Room::read_players`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerView {
    /// The player's id.
    pub id: PlayerId,
    /// Circle centre.
    pub pos: Vec2,
    /// Velocity, units/s.
    pub vel: Vec2,
    /// Pellets eaten.
    pub score: u32,
}

/// A snapshot of one live pellet, as filled in by [`Room::read_pellets`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PelletView {
    /// Stable slot id in `0..pellet_count`.
    pub id: u16,
    /// Circle centre.
    pub pos: Vec2,
}
