//! The arena's behaviours (the demo game, `crates/sim`): `wander` steers at
//! full deflection in a smoothly changing random direction, turning back
//! from the walls; `chase` steers toward the nearest live pellet.
//!
//! They know the arena by its wire contract only, as its page in the
//! browser does: a `pos` component (`x`, `y`, fixed-point: the scale is
//! read from the schema) on players and pellets, a `pellet` component on
//! pellets, the engine's `player` on players, an input of two `i8` fields
//! `x` and `y` (127 is full deflection) and `width`/`height` in the room's
//! config. A room whose schema or config breaks it is refused at the
//! Welcome ([`Play::start`]: connect errors `not-arena-input`,
//! `not-arena-schema`, `arena-config`). No Rust type of the arena crate is
//! used, so the bots build without the engine and the server.
//!
//! They read only what they need, without allocating (a wander input costs
//! about 0.2 µs; reading every player and pellet into a view costs about
//! 7 µs, which at 1,000 bots × 30 inputs/s would be a fifth of the bots'
//! core in `tickroom-bench`).

use tickroom_protocol::state::{FieldType, Frame, Scalar, Schema, Value, Values, encode_values};

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

/// What the behaviours read, found in the room's schema at start.
#[derive(Debug, Clone, Copy)]
struct Contract {
    pos: u8,
    pellet: u8,
    /// What `pos`'s integers are divided by to get arena units.
    pos_scale: f32,
}

impl Contract {
    fn of(schema: &Schema) -> Result<Self, &'static str> {
        let steer = FieldType::Scalar(Scalar::I8);
        let input = &schema.input().fields;
        let names: Vec<&str> = input.iter().map(|f| f.name.as_str()).collect();
        if names != ["x", "y"] || input.iter().any(|f| f.ty != steer) {
            return Err("not-arena-input");
        }
        let bad = "not-arena-schema";
        let id = |name| schema.component_id(name).ok_or(bad);
        let (pos, pellet) = (id("pos")?, id("pellet")?);
        id("player")?;
        let fields = &schema.components()[usize::from(pos)].fields;
        let pos_scale = match fields.as_slice() {
            [x, y] if x.name == "x" && y.name == "y" && x.ty == y.ty => match x.ty {
                FieldType::Fixed { scale, .. } => scale as f32,
                FieldType::Scalar(s) if s != Scalar::F32 && s != Scalar::Bool => 1.0,
                _ => return Err(bad),
            },
            _ => return Err(bad),
        };
        Ok(Self {
            pos,
            pellet,
            pos_scale,
        })
    }

    /// A `pos` component's centre, in arena units.
    fn centre(&self, values: Option<Values<'_>>) -> Option<[f32; 2]> {
        match values.map(|v| (v.len(), v.int(0), v.int(1)))? {
            (2, Some(x), Some(y)) => Some([x as f32 / self.pos_scale, y as f32 / self.pos_scale]),
            _ => None,
        }
    }
}

/// The arena's steering input for direction `(x, y)`: its length clamped
/// to 1, each axis rounded to 1/127 (non-finite axes are 0), as the arena's
/// own `SteerInput::from_direction`.
fn steer_input(x: f32, y: f32) -> [i8; 2] {
    let len = (x * x + y * y).sqrt();
    let (x, y) = if len > 1.0 {
        (x / len, y / len)
    } else {
        (x, y)
    };
    let q = |c: f32| {
        if c.is_nan() {
            0
        } else {
            (c * 127.0).round().clamp(-127.0, 127.0) as i8
        }
    };
    [q(x), q(y)]
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
    /// The room's schema, as far as the behaviours read it.
    contract: Option<Contract>,
    /// Own entity's network id, as last found.
    me: Option<u32>,
    /// Live pellets' centres, refilled from each frame (chasers only).
    pellets: Vec<[f32; 2]>,
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
            contract: None,
            me: None,
            pellets: Vec::new(),
        }
    }

    /// Refills `pellets` from `frame`.
    fn find_pellets(&mut self, frame: &Frame) {
        self.pellets.clear();
        let Some(c) = self.contract else { return };
        self.pellets.extend(
            frame
                .entities()
                .filter(|e| e.get(c.pellet).is_some())
                .filter_map(|e| c.centre(e.get(c.pos))),
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
        self.contract = Some(Contract::of(schema)?);
        self.me = None;
        let config: serde_json::Value = serde_json::from_str(config).map_err(|_| "arena-config")?;
        let side = |name| config.get(name).and_then(serde_json::Value::as_f64);
        let (Some(w), Some(h)) = (side("width"), side("height")) else {
            return Err("arena-config");
        };
        self.size = [w as f32, h as f32];
        Ok(())
    }

    fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>> {
        let c = self.contract?;
        let me = view.me(&mut self.me).and_then(|e| c.centre(e.get(c.pos)));
        match view.frame {
            Some(frame) if self.goal == Goal::Chase => self.find_pellets(frame),
            _ => self.pellets.clear(),
        }
        let pellets = std::mem::take(&mut self.pellets);
        let [x, y] = self.steer(me, &pellets);
        self.pellets = pellets;
        let [sx, sy] = steer_input(x, y);
        let mut data = Vec::with_capacity(2);
        encode_values(
            view.schema.input_layout(),
            &[Value::Int(sx.into()), Value::Int(sy.into())],
            &mut data,
        );
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

/// A schema with the arena's wire contract, as the arena declares it
/// (`crates/sim/src/game.rs`: its components, the engine's `player`, its
/// `steer` input), for tests.
#[cfg(test)]
pub(super) fn test_schema() -> Schema {
    use tickroom_protocol::state::{Field, Shape};
    let fixed = |repr, scale| FieldType::Fixed { repr, scale };
    let xy = |ty: FieldType| vec![Field::new("x", ty.clone()), Field::new("y", ty)];
    let scalar = FieldType::Scalar;
    Schema::new(
        "arena",
        1,
        vec![
            Shape::new("pos", xy(fixed(Scalar::U16, 4))),
            Shape::new("vel", xy(fixed(Scalar::I16, 4))),
            Shape::new("score", vec![Field::new("points", scalar(Scalar::U32))]),
            Shape::new("pellet", vec![Field::new("slot", scalar(Scalar::U16))]),
            Shape::new(
                "player",
                vec![
                    Field::new("id", scalar(Scalar::U32)),
                    Field::new("name", FieldType::Text { max_bytes: 24 }),
                    Field::new("connected", scalar(Scalar::Bool)),
                ],
            ),
        ],
        Shape::new("steer", xy(scalar(Scalar::I8))),
        vec![],
    )
    .expect("a valid schema")
}

/// A frame of [`test_schema`]: players `(id, centre)` on entities 1.., then
/// pellets at `pellets`.
#[cfg(test)]
pub(super) fn test_frame(
    schema: &Schema,
    tick: u32,
    players: &[(u32, [f32; 2])],
    pellets: &[[f32; 2]],
) -> Frame {
    let c = |name| schema.component_id(name).unwrap();
    let q = |v: f32| Value::Int((v * 4.0).round() as i64);
    let mut f = Frame::new(tick);
    let mut entity = 0;
    for &(id, [x, y]) in players {
        entity += 1;
        f.begin(entity).unwrap();
        let player = [
            Value::Int(id.into()),
            Value::Text(format!("bot-{id}").into()),
            Value::Int(1),
        ];
        let mut comps = [(c("player"), player.to_vec()), (c("pos"), vec![q(x), q(y)])];
        comps.sort_by_key(|(id, _)| *id);
        for (id, values) in comps {
            f.set(schema, id, &values).unwrap();
        }
    }
    for (slot, &[x, y]) in pellets.iter().enumerate() {
        entity += 1;
        f.begin(entity).unwrap();
        let mut comps = [
            (c("pellet"), vec![Value::Int(slot as i64)]),
            (c("pos"), vec![q(x), q(y)]),
        ];
        comps.sort_by_key(|(id, _)| *id);
        for (id, values) in comps {
            f.set(schema, id, &values).unwrap();
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickroom_protocol::state::decode_values;

    /// The steering an input encodes, as the arena reads it.
    fn steer(data: &[u8]) -> [i8; 2] {
        let mut values = Vec::new();
        decode_values(test_schema().input_layout(), data, &mut values).expect("an arena input");
        let int = |i: usize| match &values[i] {
            Value::Int(n) => *n as i8,
            Value::Text(_) => panic!("text"),
        };
        [int(0), int(1)]
    }

    fn angle(s: [i8; 2]) -> f32 {
        (s[1] as f32).atan2(s[0] as f32)
    }

    fn steering(goal: Goal, seed: u64) -> Steering {
        let mut s = Steering::new(Rng::new(seed), 30, goal);
        s.start(&test_schema(), r#"{"width":1000,"height":1000}"#)
            .unwrap();
        s
    }

    #[test]
    fn quantizes_like_the_arenas_steer_input() {
        assert_eq!(steer_input(1.0, 0.0), [127, 0]);
        assert_eq!(steer_input(0.0, -60.0), [0, -127]);
        assert_eq!(steer_input(3.0, 4.0), [76, 102]);
        assert_eq!(steer_input(0.5, -0.25), [64, -32]);
        assert_eq!(steer_input(f32::NAN, 1.0), [0, 127]);
    }

    #[test]
    fn chase_steers_toward_the_nearest_pellet() {
        let schema = test_schema();
        let frame = test_frame(
            &schema,
            1,
            &[(7, [100.0, 100.0])],
            &[[500.0, 500.0], [100.0, 40.0], [300.0, 100.0]],
        );
        let mut b = steering(Goal::Chase, 1);
        let view = View {
            schema: &schema,
            frame: Some(&frame),
            player_id: 7,
        };
        assert_eq!(steer(&b.input(&view).unwrap()), [0, -127]);
        assert_eq!(b.me, Some(1), "own entity remembered");
    }

    #[test]
    fn wander_turns_smoothly_at_full_deflection() {
        let mut b = steering(Goal::Wander, 42);
        let q = |[x, y]: [f32; 2]| steer_input(x, y);
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
        let schema = test_schema();
        let frame = test_frame(&schema, 1, &[(3, [5.0, 500.0])], &[]);
        let view = View {
            schema: &schema,
            frame: Some(&frame),
            player_id: 3,
        };
        let mut b = steering(Goal::Wander, 3);
        // Heading straight into the left wall.
        b.heading = std::f32::consts::PI;
        for _ in 0..60 {
            b.input(&view);
        }
        assert!(
            steer(&b.input(&view).unwrap())[0] > 0,
            "still steering into the wall"
        );
    }

    #[test]
    fn reads_own_centre_and_the_pellets_from_the_schemas_scale() {
        let schema = test_schema();
        let players = [(1, [10.25, 20.5]), (2, [300.0, 40.75])];
        let pellets = [[1.0, 2.0], [3.5, 4.25]];
        let frame = test_frame(&schema, 1, &players, &pellets);
        let mut b = steering(Goal::Chase, 1);
        let c = b.contract.unwrap();
        assert_eq!(c.pos_scale, 4.0);
        for (id, centre) in players {
            let view = View {
                schema: &schema,
                frame: Some(&frame),
                player_id: id,
            };
            let me = view.me(&mut b.me).and_then(|e| c.centre(e.get(c.pos)));
            assert_eq!(me, Some(centre));
        }
        b.find_pellets(&frame);
        assert_eq!(b.pellets, pellets);
    }

    #[test]
    fn refuses_a_room_that_is_not_the_arena() {
        use tickroom_protocol::state::{Field, Shape};
        let mut play = (GAME.behaviours[0].new)(Rng::new(1), 30);
        let arena = test_schema();
        let with_input = |fields| {
            Schema::new(
                "arena",
                1,
                arena.components().to_vec(),
                Shape::new("i", fields),
                vec![],
            )
            .unwrap()
        };
        let i8x = |name: &str| Field::new(name, FieldType::Scalar(Scalar::I8));
        let config = r#"{"width":1600,"height":1000}"#;
        assert_eq!(
            play.start(&with_input(vec![]), config),
            Err("not-arena-input")
        );
        let swapped = with_input(vec![i8x("y"), i8x("x")]);
        assert_eq!(play.start(&swapped, config), Err("not-arena-input"));
        let no_pellets = Schema::new(
            "arena",
            1,
            vec![arena.components()[0].clone()],
            arena.input().clone(),
            vec![],
        )
        .unwrap();
        assert_eq!(play.start(&no_pellets, config), Err("not-arena-schema"));
        assert_eq!(
            play.start(&arena, "{\"width\":\"wide\"}"),
            Err("arena-config")
        );
        assert_eq!(play.start(&arena, "[]"), Err("arena-config"));
        assert_eq!(play.start(&arena, config), Ok(()));
        // Before a start, no input.
        let mut fresh = (GAME.behaviours[0].new)(Rng::new(1), 30);
        let view = View {
            schema: &arena,
            frame: None,
            player_id: 1,
        };
        assert_eq!(fresh.input(&view), None);
    }
}
