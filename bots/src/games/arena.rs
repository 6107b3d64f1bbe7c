//! The arena's behaviours (the demo game, `tickroom_sim`): `wander` steers
//! at full deflection in a smoothly changing random direction, turning back
//! from the walls; `chase` steers toward the nearest live pellet. Both read
//! the frame with the arena's own [`ArenaView`] and send its [`SteerInput`].

use tickroom_protocol::state::Schema;
use tickroom_sim::{ArenaConfig, ArenaView, SteerInput, catalogue};

use super::{GameBehaviours, PlayEntry};
use crate::{
    Rng,
    behaviour::{Play, View},
};

/// The arena's behaviours.
pub(super) const GAME: GameBehaviours = GameBehaviours {
    game: "arena",
    behaviours: &[
        PlayEntry {
            name: "wander",
            about: "Steers at full deflection in a smoothly changing random direction, turning back from the walls.",
            new: |rng, hz| Box::new(Steering::new(rng, hz, Goal::Wander)),
        },
        PlayEntry {
            name: "chase",
            about: "Steers toward the nearest pellet of the newest frame (wanders when it sees none).",
            new: |rng, hz| Box::new(Steering::new(rng, hz, Goal::Chase)),
        },
    ],
    bench_mix: "wander=90,chase=10",
};

/// Largest turn rate of a wandering bot, radians per second.
const MAX_TURN: f32 = 2.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Wander,
    Chase,
}

/// Both behaviours: a heading that wanders, and for a chaser the pellets.
#[derive(Debug)]
struct Steering {
    goal: Goal,
    rng: Rng,
    /// Current heading in radians.
    heading: f32,
    /// Current turn rate in radians per second (a random walk).
    turn: f32,
    /// Seconds between two inputs.
    dt: f32,
    /// The arena's size, from the room's config.
    size: [f32; 2],
}

impl Steering {
    fn new(mut rng: Rng, input_hz: u32, goal: Goal) -> Self {
        let heading = rng.range_f32(-std::f32::consts::PI, std::f32::consts::PI);
        Self {
            goal,
            rng,
            heading,
            turn: 0.0,
            dt: 1.0 / input_hz.max(1) as f32,
            size: [0.0; 2],
        }
    }

    /// The next steering direction, from own position `me` (once known)
    /// and, for a chaser, the live pellets.
    fn steer(&mut self, me: Option<[f32; 2]>, pellets: &[[f32; 2]]) -> [f32; 2] {
        if self.goal == Goal::Chase
            && let Some(to) = nearest(me, pellets)
        {
            return to;
        }
        self.wander(me)
    }

    fn wander(&mut self, me: Option<[f32; 2]>) -> [f32; 2] {
        let dt = self.dt;
        self.turn =
            (self.turn + self.rng.range_f32(-1.0, 1.0) * 6.0 * dt).clamp(-MAX_TURN, MAX_TURN);
        self.heading += self.turn * dt;
        // Near a wall, turn toward the centre instead of grinding along it.
        if let Some([x, y]) = me {
            let [w, h] = self.size;
            let margin = 0.1 * w.min(h);
            if w > 0.0 && h > 0.0 && (x < margin || y < margin || x > w - margin || y > h - margin)
            {
                let to_centre = (h / 2.0 - y).atan2(w / 2.0 - x);
                let diff = wrap_angle(to_centre - self.heading);
                self.heading += diff * (4.0 * dt).min(1.0);
            }
        }
        self.heading = wrap_angle(self.heading);
        [self.heading.cos(), self.heading.sin()]
    }
}

impl Play for Steering {
    fn start(&mut self, schema: &Schema, config: &str) -> Result<(), &'static str> {
        // The input this module encodes must be the room's.
        if schema.input_layout() != catalogue().input_slots() {
            return Err("not-arena-input");
        }
        let config: ArenaConfig = serde_json::from_str(config).map_err(|_| "arena-config")?;
        self.size = [config.width, config.height];
        Ok(())
    }

    fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>> {
        let seen = view
            .frame
            .and_then(|frame| ArenaView::read(view.schema, frame).ok());
        let (me, pellets) = match &seen {
            Some(seen) => (
                seen.player(view.player_id).map(|p| p.pos.to_array()),
                seen.pellets.iter().map(|p| p.pos.to_array()).collect(),
            ),
            None => (None, Vec::new()),
        };
        let [x, y] = self.steer(me, &pellets);
        let mut data = Vec::with_capacity(2);
        catalogue().encode_input(&SteerInput::from_direction(x, y), &mut data);
        Some(data)
    }
}

/// Direction (not normalised) from own position to the nearest pellet.
fn nearest(me: Option<[f32; 2]>, pellets: &[[f32; 2]]) -> Option<[f32; 2]> {
    let [x, y] = me?;
    pellets
        .iter()
        .map(|&[px, py]| [px - x, py - y])
        .min_by(|a, b| (a[0] * a[0] + a[1] * a[1]).total_cmp(&(b[0] * b[0] + b[1] * b[1])))
}

/// An angle folded into `[-π, π)`.
fn wrap_angle(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    (a + PI).rem_euclid(TAU) - PI
}
