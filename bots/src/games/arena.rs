//! The arena's behaviours (the demo game, `tickroom_sim`): `wander` steers
//! at full deflection in a smoothly changing random direction, turning back
//! from the walls; `chase` steers toward the nearest live pellet. Both send
//! the arena's [`SteerInput`].
//!
//! They read the frame as the arena's [`tickroom_sim::ArenaView`] does
//! (players by their `player` component, positions in `pos` at
//! [`POS_SCALE`], pellets by `pellet`), but only what they need and without
//! allocating: a whole `ArenaView` (names, velocities, scores) costs about
//! 7 µs, which at 1,000 bots × 30 inputs/s is a fifth of the bots' core in
//! `tickroom-bench`. A test checks both readings agree on a real frame.

use tickroom_protocol::state::{EntityRef, Frame, Schema, Value};
use tickroom_sim::{ArenaConfig, POS_SCALE, SteerInput, catalogue};

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
    /// The room's component ids (from its schema).
    ids: Option<Ids>,
    /// Own entity's network id, as last found.
    me: Option<u32>,
    /// Live pellets' centres, refilled from each frame (chasers only).
    pellets: Vec<[f32; 2]>,
}

/// The ids of the components the behaviours read.
#[derive(Debug, Clone, Copy)]
struct Ids {
    player: u8,
    pos: u8,
    pellet: u8,
}

/// A `pos` component's centre, in arena units.
fn centre(values: Option<&[Value]>) -> Option<[f32; 2]> {
    match values? {
        [Value::Int(x), Value::Int(y)] => {
            let scale = POS_SCALE as f32;
            Some([*x as f32 / scale, *y as f32 / scale])
        }
        _ => None,
    }
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
            ids: None,
            me: None,
            pellets: Vec::new(),
        }
    }

    /// Own centre in `frame`, once own entity is in it.
    fn find_me(&mut self, frame: &Frame, player_id: u32) -> Option<[f32; 2]> {
        let ids = self.ids?;
        let is_me = |e: &EntityRef<'_>| {
            e.get(ids.player).and_then(<[Value]>::first) == Some(&Value::Int(player_id.into()))
        };
        let e = match self.me.and_then(|id| frame.get(id)).filter(is_me) {
            Some(e) => e,
            None => {
                let e = frame.entities().find(is_me)?;
                self.me = Some(e.id());
                e
            }
        };
        centre(e.get(ids.pos))
    }

    /// Refills `pellets` from `frame`.
    fn find_pellets(&mut self, frame: &Frame) {
        self.pellets.clear();
        let Some(ids) = self.ids else { return };
        self.pellets.extend(
            frame
                .entities()
                .filter(|e| e.get(ids.pellet).is_some())
                .filter_map(|e| centre(e.get(ids.pos))),
        );
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
        let id = |name| schema.component_id(name).ok_or("not-arena-schema");
        self.ids = Some(Ids {
            player: id("player")?,
            pos: id("pos")?,
            pellet: id("pellet")?,
        });
        self.me = None;
        let config: ArenaConfig = serde_json::from_str(config).map_err(|_| "arena-config")?;
        self.size = [config.width, config.height];
        Ok(())
    }

    fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>> {
        let me = view.frame.and_then(|f| self.find_me(f, view.player_id));
        match view.frame {
            Some(frame) if self.goal == Goal::Chase => self.find_pellets(frame),
            _ => self.pellets.clear(),
        }
        let pellets = std::mem::take(&mut self.pellets);
        let [x, y] = self.steer(me, &pellets);
        self.pellets = pellets;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tickroom::{GameRoom, PlayerId, Room};
    use tickroom_protocol::state::{Frame, decode_values};
    use tickroom_sim::{Arena, ArenaView};

    /// The steering an input encodes, as the arena reads it.
    fn steer(data: &[u8]) -> [i8; 2] {
        let mut values = Vec::new();
        decode_values(catalogue().input_slots(), data, &mut values).expect("an arena input");
        let int = |i: usize| match &values[i] {
            tickroom_protocol::state::Value::Int(n) => *n as i8,
            tickroom_protocol::state::Value::Text(_) => panic!("text"),
        };
        [int(0), int(1)]
    }

    fn angle(s: [i8; 2]) -> f32 {
        (s[1] as f32).atan2(s[0] as f32)
    }

    fn steering(goal: Goal, seed: u64) -> Steering {
        let mut s = Steering::new(Rng::new(seed), 30, goal);
        s.size = [1000.0, 1000.0];
        s
    }

    /// A real arena room of the default config with `players` players
    /// (ids 1..), stepped `steps` times, and its frame.
    fn arena(players: u32, steps: u32) -> (GameRoom<Arena>, Frame) {
        let mut room = GameRoom::<Arena>::new(catalogue().clone(), &ArenaConfig::default(), 7, 20);
        for id in 1..=players {
            room.join(PlayerId(id), &format!("bot-{id}")).unwrap();
        }
        for _ in 0..steps {
            room.step();
        }
        let mut frame = Frame::default();
        room.build_frame(steps, &mut frame).unwrap();
        (room, frame)
    }

    #[test]
    fn chase_steers_toward_the_nearest_pellet() {
        let mut b = steering(Goal::Chase, 1);
        let pellets = [[500.0, 500.0], [100.0, 40.0], [300.0, 100.0]];
        let [x, y] = b.steer(Some([100.0, 100.0]), &pellets);
        let data = {
            let mut d = Vec::new();
            catalogue().encode_input(&SteerInput::from_direction(x, y), &mut d);
            d
        };
        assert_eq!(steer(&data), [0, -127]);
    }

    #[test]
    fn wander_turns_smoothly_at_full_deflection() {
        let mut b = steering(Goal::Wander, 42);
        let q = |[x, y]: [f32; 2]| {
            let s = SteerInput::from_direction(x, y);
            [s.x, s.y]
        };
        let mut prev = q(b.steer(Some([500.0, 500.0]), &[]));
        let mut total_turn = 0.0;
        for _ in 0..300 {
            let s = q(b.steer(Some([500.0, 500.0]), &[]));
            let len = ((s[0] as f32).powi(2) + (s[1] as f32).powi(2)).sqrt();
            assert!((len - 127.0).abs() < 2.0, "{s:?}");
            let d = wrap_angle(angle(s) - angle(prev)).abs();
            assert!(d < 0.2, "jumped {d} rad in one input");
            total_turn += d;
            prev = s;
        }
        assert!(total_turn > 0.1, "never turned");
    }

    #[test]
    fn wander_turns_away_from_walls() {
        let mut b = steering(Goal::Wander, 3);
        // Heading straight into the left wall.
        b.heading = std::f32::consts::PI;
        for _ in 0..60 {
            b.steer(Some([5.0, 500.0]), &[]);
        }
        assert!(
            b.steer(Some([5.0, 500.0]), &[])[0] > 0.0,
            "still steering into the wall"
        );
    }

    #[test]
    fn plays_a_real_arena_frame() {
        let (_, frame) = arena(3, 5);
        let schema = catalogue().schema();
        let config = serde_json::to_string(&ArenaConfig::default()).unwrap();
        for (entry, id) in [(0, 2), (1, 3)] {
            let mut play = (GAME.behaviours[entry].new)(Rng::new(9), 30);
            play.start(schema, &config).unwrap();
            let view = View {
                schema,
                frame: Some(&frame),
                player_id: id,
            };
            let s = steer(&play.input(&view).expect("an input"));
            assert!(s != [0, 0], "{s:?}");
        }
        // A chaser heads for the nearest live pellet of the frame.
        let seen = ArenaView::read(schema, &frame).unwrap();
        let me = seen.player(1).unwrap().pos;
        let target = seen
            .pellets
            .iter()
            .map(|p| p.pos - me)
            .min_by(|a, b| a.length_squared().total_cmp(&b.length_squared()))
            .unwrap();
        let mut chase = (GAME.behaviours[1].new)(Rng::new(9), 30);
        chase.start(schema, &config).unwrap();
        let view = View {
            schema,
            frame: Some(&frame),
            player_id: 1,
        };
        let s = steer(&chase.input(&view).unwrap());
        let wanted = SteerInput::from_direction(target.x, target.y);
        assert_eq!(s, [wanted.x, wanted.y]);
    }

    #[test]
    fn reads_a_frame_as_the_arenas_own_view_does() {
        let (_, frame) = arena(20, 30);
        let schema = catalogue().schema();
        let seen = ArenaView::read(schema, &frame).unwrap();
        let mut b = steering(Goal::Chase, 1);
        b.start(schema, "{}").unwrap();
        for p in &seen.players {
            assert_eq!(b.find_me(&frame, p.id), Some(p.pos.to_array()), "{p:?}");
            // Found again through the remembered entity.
            assert_eq!(b.me, Some(p.entity));
            assert_eq!(b.find_me(&frame, p.id), Some(p.pos.to_array()));
        }
        assert_eq!(b.find_me(&frame, 99), None);
        b.find_pellets(&frame);
        let pellets: Vec<[f32; 2]> = seen.pellets.iter().map(|p| p.pos.to_array()).collect();
        assert!(!pellets.is_empty());
        assert_eq!(b.pellets, pellets);
    }

    #[test]
    fn refuses_a_room_that_is_not_the_arena() {
        let mut play = (GAME.behaviours[0].new)(Rng::new(1), 30);
        let other = tickroom_protocol::state::Schema::new(
            "other",
            1,
            vec![],
            tickroom_protocol::state::Shape::new("go", vec![]),
            vec![],
        )
        .unwrap();
        assert_eq!(play.start(&other, "{}"), Err("not-arena-input"));
        let no_pellets = tickroom_protocol::state::Schema::new(
            "arena",
            1,
            vec![],
            catalogue().schema().input().clone(),
            vec![],
        )
        .unwrap();
        assert_eq!(play.start(&no_pellets, "{}"), Err("not-arena-schema"));
        assert_eq!(
            play.start(catalogue().schema(), "{\"width\":\"wide\"}"),
            Err("arena-config")
        );
        let mut b = steering(Goal::Wander, 1);
        assert_eq!(b.start(catalogue().schema(), "{}"), Ok(()));
        assert_eq!(b.size, [1600.0, 1000.0], "the default config's");
    }
}
