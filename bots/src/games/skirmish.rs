//! skirmish's behaviours (the shooter, `crates/skirmish`): `hunter` seeks
//! the nearest live enemy ship it sees, aims at it with a small random
//! error and fires when it is within [`FIRE_RANGE`] (every input: the
//! game's cooldown decides which presses shoot), and otherwise roams from
//! one random point of the map to the next; `wanderer` only roams.
//!
//! They know skirmish by its wire contract only, as its page does: the
//! `ship` component (`owner`, `x`, `y`, `alive`; the position's scale is
//! read from the schema), an input `mx`, `my` (`i8`), `aim` (fixed-point
//! radians) and `fire` (bool), and `size` in the room's config. A room
//! whose schema or config breaks it is refused at the Welcome (connect
//! errors `not-skirmish-input`, `not-skirmish-schema`, `skirmish-config`).
//! Interest management means a bot sees only the ships near its own, which
//! is all a hunter needs.

use tickroom_protocol::state::{FieldType, Frame, Scalar, Schema, Value, Values, encode_values};

use super::{GameBehaviours, PlayEntry};
use crate::{
    Rng,
    behaviour::{Play, View},
};

/// skirmish's behaviours.
pub(super) const GAME: GameBehaviours = GameBehaviours {
    game: "skirmish",
    behaviours: &[
        PlayEntry {
            name: "hunter",
            about: "Seeks the nearest live enemy ship it sees, aims at it and fires within 700 units; roams when it sees none.",
            new: |rng, hz| Box::new(Pilot::new(rng, hz, Role::Hunter)),
        },
        PlayEntry {
            name: "wanderer",
            about: "Roams from one random point of the map to the next, never firing.",
            new: |rng, hz| Box::new(Pilot::new(rng, hz, Role::Wanderer)),
        },
    ],
    bench_mix: "hunter",
};

/// A hunter fires at an enemy this close (map units).
const FIRE_RANGE: f32 = 700.0;
/// Closer than this, a hunter circles its target instead of closing in.
const CLOSE_RANGE: f32 = 250.0;
/// Largest aim error either way, radians.
const AIM_ERROR: f32 = 0.05;
/// A roaming bot picks its next point when this close to the current one.
const WAYPOINT_REACHED: f32 = 150.0;
/// Seconds a roaming bot heads for one point before it gives up (a wall
/// may be in the way).
const WAYPOINT_PATIENCE_S: (f32, f32) = (4.0, 10.0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Hunter,
    Wanderer,
}

/// What the behaviours read, found in the room's schema at start.
#[derive(Debug, Clone, Copy)]
struct Contract {
    ship: u8,
    /// Slots of the `ship` fields read.
    owner: usize,
    x: usize,
    y: usize,
    alive: usize,
    /// What `x`, `y` integers are divided by to get map units.
    pos_scale: f32,
    /// What an aim in radians is multiplied by on the wire.
    aim_scale: f32,
}

/// One ship of a frame, as the behaviours see it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SeenShip {
    owner: u32,
    at: [f32; 2],
    alive: bool,
}

impl Contract {
    fn of(schema: &Schema) -> Result<Self, &'static str> {
        let aim_scale = input_aim_scale(schema).ok_or("not-skirmish-input")?;
        let bad = "not-skirmish-schema";
        let ship = schema.component_id("ship").ok_or(bad)?;
        let fields = &schema.components()[usize::from(ship)].fields;
        // Every field one slot, so a field's place is its slot.
        if fields
            .iter()
            .any(|f| !matches!(f.ty, FieldType::Scalar(_) | FieldType::Fixed { .. }))
        {
            return Err(bad);
        }
        let slot = |name: &str| fields.iter().position(|f| f.name == name).ok_or(bad);
        let (x, y) = (slot("x")?, slot("y")?);
        let pos_scale = match (&fields[x].ty, &fields[y].ty) {
            (FieldType::Fixed { scale, .. }, FieldType::Fixed { scale: s, .. }) if scale == s => {
                *scale as f32
            }
            _ => return Err(bad),
        };
        Ok(Self {
            ship,
            owner: slot("owner")?,
            x,
            y,
            alive: slot("alive")?,
            pos_scale,
            aim_scale,
        })
    }

    /// A `ship` component's values, if they read as one.
    fn read(&self, values: Values<'_>) -> Option<SeenShip> {
        let owner = u32::try_from(values.int(self.owner)?).ok()?;
        let coord = |slot| values.int(slot).map(|v| v as f32 / self.pos_scale);
        Some(SeenShip {
            owner,
            at: [coord(self.x)?, coord(self.y)?],
            alive: values.int(self.alive)? != 0,
        })
    }

    /// Every ship of `frame`.
    fn ships<'a>(&self, frame: &'a Frame) -> impl Iterator<Item = (u32, SeenShip)> + 'a {
        let c = *self;
        frame
            .entities()
            .filter_map(move |e| Some((e.id(), c.read(e.get(c.ship)?)?)))
    }
}

/// The scale of the input's `aim`, if the input is `mx: i8, my: i8,
/// aim: fixed, fire: bool`.
fn input_aim_scale(schema: &Schema) -> Option<f32> {
    match schema.input().fields.as_slice() {
        [mx, my, aim, fire]
            if (
                mx.name.as_str(),
                my.name.as_str(),
                aim.name.as_str(),
                fire.name.as_str(),
            ) == ("mx", "my", "aim", "fire")
                && mx.ty == FieldType::Scalar(Scalar::I8)
                && my.ty == FieldType::Scalar(Scalar::I8)
                && fire.ty == FieldType::Scalar(Scalar::Bool) =>
        {
            match aim.ty {
                FieldType::Fixed { scale, .. } => Some(scale as f32),
                _ => None,
            }
        }
        _ => None,
    }
}

/// One input, before encoding.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Controls {
    /// Movement direction (length at most 1).
    towards: [f32; 2],
    /// Radians.
    aim: f32,
    fire: bool,
}

/// Both behaviours: a roaming waypoint and, for a hunter, a target.
#[derive(Debug)]
struct Pilot {
    role: Role,
    rng: Rng,
    /// Seconds between two inputs.
    dt: f32,
    /// The map's side, from the room's config.
    size: f32,
    contract: Option<Contract>,
    /// Own ship's network id, as last found.
    me: Option<u32>,
    /// Where it roams to, and for how many more seconds.
    waypoint: Option<([f32; 2], f32)>,
    /// The last aim sent (kept while the ship is down).
    aim: f32,
}

impl Pilot {
    fn new(rng: Rng, input_hz: u32, role: Role) -> Self {
        Self {
            role,
            rng,
            dt: 1.0 / input_hz.max(1) as f32,
            size: 0.0,
            contract: None,
            me: None,
            waypoint: None,
            aim: 0.0,
        }
    }

    /// Own ship in `frame`: the one at the remembered id if it is still
    /// ours, else the `ship` whose `owner` is `player`.
    fn own_ship(&mut self, c: &Contract, frame: &Frame, player: u32) -> Option<SeenShip> {
        let remembered = self
            .me
            .and_then(|id| frame.get(id))
            .and_then(|e| c.read(e.get(c.ship)?))
            .filter(|s| s.owner == player);
        if remembered.is_some() {
            return remembered;
        }
        let (id, ship) = c.ships(frame).find(|(_, s)| s.owner == player)?;
        self.me = Some(id);
        Some(ship)
    }

    /// What to do this input with own ship `me` and, for a hunter, the
    /// nearest live enemy.
    fn decide(&mut self, me: SeenShip, enemy: Option<[f32; 2]>) -> Controls {
        match enemy {
            Some(at) if self.role == Role::Hunter => self.hunt(me.at, at),
            _ => self.roam(me.at),
        }
    }

    fn hunt(&mut self, me: [f32; 2], enemy: [f32; 2]) -> Controls {
        let (dx, dy) = (enemy[0] - me[0], enemy[1] - me[1]);
        let distance = dx.hypot(dy);
        let towards = if distance > CLOSE_RANGE {
            [dx, dy]
        } else {
            [-dy, dx]
        };
        Controls {
            towards: unit(towards),
            aim: dy.atan2(dx) + self.rng.range_f32(-AIM_ERROR, AIM_ERROR),
            fire: distance <= FIRE_RANGE,
        }
    }

    fn roam(&mut self, me: [f32; 2]) -> Controls {
        let (to, patience) = match self.waypoint {
            Some((to, left)) if left > 0.0 && distance(me, to) > WAYPOINT_REACHED => (to, left),
            _ => self.new_waypoint(),
        };
        self.waypoint = Some((to, patience - self.dt));
        let (dx, dy) = (to[0] - me[0], to[1] - me[1]);
        Controls {
            towards: unit([dx, dy]),
            aim: dy.atan2(dx),
            fire: false,
        }
    }

    fn new_waypoint(&mut self) -> ([f32; 2], f32) {
        let margin = 0.05 * self.size;
        let mut coord = || self.rng.range_f32(margin, self.size - margin);
        let to = [coord(), coord()];
        let (lo, hi) = WAYPOINT_PATIENCE_S;
        (to, self.rng.range_f32(lo, hi))
    }

    /// The encoded input for `controls`.
    fn encode(&mut self, c: &Contract, schema: &Schema, controls: Controls) -> Vec<u8> {
        self.aim = wrap_angle(controls.aim);
        let [mx, my] = controls
            .towards
            .map(|v| (v * 127.0).round().clamp(-127.0, 127.0) as i64);
        let values = [
            Value::Int(mx),
            Value::Int(my),
            Value::Int((self.aim * c.aim_scale).round() as i64),
            Value::Int(controls.fire.into()),
        ];
        let mut data = Vec::with_capacity(8);
        encode_values(schema.input_layout(), &values, &mut data);
        data
    }
}

impl Play for Pilot {
    fn start(&mut self, schema: &Schema, config: &str) -> Result<(), &'static str> {
        self.contract = Some(Contract::of(schema)?);
        self.me = None;
        self.waypoint = None;
        let config: serde_json::Value =
            serde_json::from_str(config).map_err(|_| "skirmish-config")?;
        let size = config.get("size").and_then(serde_json::Value::as_f64);
        self.size = size.filter(|s| *s > 0.0).ok_or("skirmish-config")? as f32;
        Ok(())
    }

    fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>> {
        let c = self.contract?;
        let me = view
            .frame
            .and_then(|f| self.own_ship(&c, f, view.player_id))
            .filter(|s| s.alive);
        let controls = match (me, view.frame) {
            (Some(me), Some(frame)) => {
                let enemy = nearest_enemy(&c, frame, me);
                self.decide(me, enemy)
            }
            // No ship yet, or down: stay put, keep the aim.
            _ => Controls {
                towards: [0.0, 0.0],
                aim: self.aim,
                fire: false,
            },
        };
        Some(self.encode(&c, view.schema, controls))
    }
}

/// The nearest live ship of another owner in `frame`.
fn nearest_enemy(c: &Contract, frame: &Frame, me: SeenShip) -> Option<[f32; 2]> {
    c.ships(frame)
        .map(|(_, s)| s)
        .filter(|s| s.alive && s.owner != me.owner)
        .map(|s| s.at)
        .min_by(|a, b| distance(me.at, *a).total_cmp(&distance(me.at, *b)))
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    (b[0] - a[0]).hypot(b[1] - a[1])
}

/// `v` scaled to length 1 (zero stays zero).
fn unit([x, y]: [f32; 2]) -> [f32; 2] {
    let len = x.hypot(y);
    if len > 0.0 {
        [x / len, y / len]
    } else {
        [0.0, 0.0]
    }
}

/// An angle folded into `[-π, π)`.
fn wrap_angle(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    (a + PI).rem_euclid(TAU) - PI
}

/// A schema with skirmish's wire contract, as the game declares it
/// (`crates/skirmish/src/components.rs`: its components, the engine's
/// `player`, its input and events), for tests.
#[cfg(test)]
pub(super) fn test_schema() -> Schema {
    use tickroom_protocol::state::{Field, Shape};
    let tenths = || FieldType::Fixed {
        repr: Scalar::I32,
        scale: 10,
    };
    let aim = || FieldType::Fixed {
        repr: Scalar::I16,
        scale: 1000,
    };
    let int = FieldType::Scalar;
    let shape = |name: &str, fields: Vec<(&str, FieldType)>| {
        Shape::new(
            name,
            fields
                .into_iter()
                .map(|(n, ty)| Field::new(n, ty))
                .collect(),
        )
    };
    let xy = |more: &[(&'static str, FieldType)]| {
        let mut fields = vec![("x", tenths()), ("y", tenths())];
        fields.extend_from_slice(more);
        fields
    };
    let components = vec![
        shape(
            "bullet",
            vec![
                ("owner", int(Scalar::U32)),
                ("x0", tenths()),
                ("y0", tenths()),
                ("vx", tenths()),
                ("vy", tenths()),
                ("born", int(Scalar::U32)),
            ],
        ),
        shape("pickup", xy(&[("heal", int(Scalar::U8))])),
        shape(
            "player",
            vec![
                ("id", int(Scalar::U32)),
                ("name", FieldType::Text { max_bytes: 32 }),
                ("connected", int(Scalar::Bool)),
            ],
        ),
        shape(
            "score",
            vec![("kills", int(Scalar::U16)), ("deaths", int(Scalar::U16))],
        ),
        shape(
            "ship",
            [("owner", int(Scalar::U32))]
                .into_iter()
                .chain(xy(&[
                    ("vx", tenths()),
                    ("vy", tenths()),
                    ("aim", aim()),
                    ("health", int(Scalar::U8)),
                    ("alive", int(Scalar::Bool)),
                ]))
                .collect(),
        ),
        shape("wall", xy(&[("w", tenths()), ("h", tenths())])),
    ];
    let input = shape(
        "skirmish_input",
        vec![
            ("mx", int(Scalar::I8)),
            ("my", int(Scalar::I8)),
            ("aim", aim()),
            ("fire", int(Scalar::Bool)),
        ],
    );
    let events = vec![
        shape("boom", xy(&[])),
        shape(
            "hit",
            vec![
                ("shooter", int(Scalar::U32)),
                ("victim", int(Scalar::U32)),
                ("damage", int(Scalar::U8)),
                ("health", int(Scalar::U8)),
            ],
        ),
        shape(
            "kill",
            vec![("killer", int(Scalar::U32)), ("victim", int(Scalar::U32))],
        ),
        shape("respawn", vec![("seconds", int(Scalar::U8))]),
    ];
    Schema::new("skirmish", 1, components, input, events).expect("a valid schema")
}

/// A frame of [`test_schema`]: per ship `(owner, centre, alive)`, its
/// player's entity then the ship's (ids 1, 2, 3...).
#[cfg(test)]
pub(super) fn test_frame(schema: &Schema, ships: &[(u32, [f32; 2], bool)]) -> Frame {
    let c = |name| schema.component_id(name).unwrap();
    let tenths = |v: f32| Value::Int((v * 10.0).round() as i64);
    let mut f = Frame::new(1);
    for (k, &(owner, [x, y], alive)) in ships.iter().enumerate() {
        let player = [
            Value::Int(owner.into()),
            Value::Text(format!("bot-{owner}").into()),
            Value::Int(1),
        ];
        f.begin(2 * k as u32 + 1).unwrap();
        f.set(schema, c("player"), &player).unwrap();
        let health = if alive { 100 } else { 0 };
        let ship = [
            Value::Int(owner.into()),
            tenths(x),
            tenths(y),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            Value::Int(health),
            Value::Int(alive.into()),
        ];
        f.begin(2 * k as u32 + 2).unwrap();
        f.set(schema, c("ship"), &ship).unwrap();
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickroom_protocol::state::decode_values;

    /// An input as the game reads it: `(mx, my, aim in radians, fire)`.
    fn decode(data: &[u8]) -> (i8, i8, f32, bool) {
        let mut values = Vec::new();
        decode_values(test_schema().input_layout(), data, &mut values).expect("a skirmish input");
        let int = |i: usize| match &values[i] {
            Value::Int(n) => *n,
            Value::Text(_) => panic!("text"),
        };
        let (mx, my) = (int(0) as i8, int(1) as i8);
        assert!(mx != i8::MIN && my != i8::MIN, "the game refuses -128");
        // The game takes an aim up to π rounded to the wire's thousandths.
        assert!(int(2).abs() <= 3142, "the game refuses aim {}", int(2));
        (mx, my, int(2) as f32 / 1000.0, int(3) == 1)
    }

    fn pilot(role: Role, seed: u64) -> Pilot {
        let mut p = Pilot::new(Rng::new(seed), 30, role);
        p.start(&test_schema(), r#"{"size":6000.0,"walls":12}"#)
            .unwrap();
        p
    }

    /// Player 7's input for a frame of `ships`.
    fn play(p: &mut Pilot, ships: &[(u32, [f32; 2], bool)]) -> (i8, i8, f32, bool) {
        let schema = test_schema();
        let frame = test_frame(&schema, ships);
        let view = View {
            schema: &schema,
            frame: Some(&frame),
            player_id: 7,
        };
        decode(&p.input(&view).expect("an input"))
    }

    #[test]
    fn a_hunter_aims_at_the_nearest_live_enemy_and_fires_within_range() {
        let mut p = pilot(Role::Hunter, 1);
        let ships = [
            (3, [1100.0, 1000.0], false),
            (7, [1000.0, 1000.0], true),
            (4, [1300.0, 1400.0], true),
            (5, [3000.0, 3000.0], true),
        ];
        let want = 400f32.atan2(300.0);
        let mut aims = Vec::new();
        for _ in 0..50 {
            let (mx, my, aim, fire) = play(&mut p, &ships);
            assert!(fire, "500 units away");
            assert_eq!((mx, my), (76, 102), "closing in");
            assert!((aim - want).abs() <= AIM_ERROR + 0.001, "{aim} for {want}");
            aims.push(aim);
        }
        aims.dedup();
        assert!(aims.len() > 10, "a small random error: {aims:?}");
        assert_eq!(p.me, Some(4), "own ship remembered");
    }

    #[test]
    fn a_hunter_holds_fire_out_of_range_and_circles_up_close() {
        let mut p = pilot(Role::Hunter, 2);
        let far = [(7, [1000.0, 1000.0], true), (4, [1800.0, 1000.0], true)];
        let (mx, my, _, fire) = play(&mut p, &far);
        assert_eq!((mx, my, fire), (127, 0, false));
        let close = [(7, [1000.0, 1000.0], true), (4, [1100.0, 1000.0], true)];
        let (mx, my, _, fire) = play(&mut p, &close);
        assert_eq!((mx, my, fire), (0, 127, true));
    }

    #[test]
    fn with_no_enemy_in_sight_it_roams_without_firing() {
        for role in [Role::Hunter, Role::Wanderer] {
            let mut p = pilot(role, 3);
            let mut headings = Vec::new();
            for step in 0..2000 {
                // The ship reaches each waypoint as soon as it heads there.
                let at = p.waypoint.map_or([3000.0, 3000.0], |(to, _)| to);
                let enemy = (4, [at[0] + 300.0, at[1]], true);
                let ships = [(7, at, true), enemy];
                let shown = if role == Role::Hunter {
                    &ships[..1]
                } else {
                    &ships[..]
                };
                let (mx, my, _, fire) = play(&mut p, shown);
                assert!(!fire, "{role:?} at step {step}");
                let len = f32::from(mx).hypot(f32::from(my));
                assert!(len > 120.0 || len == 0.0, "{mx}, {my}");
                headings.push((mx, my));
            }
            headings.sort_unstable();
            headings.dedup();
            assert!(headings.len() > 10, "{role:?} roams: {headings:?}");
        }
    }

    #[test]
    fn a_destroyed_or_missing_ship_stays_put() {
        let mut p = pilot(Role::Hunter, 4);
        let down = [(7, [1000.0, 1000.0], false), (4, [1100.0, 1000.0], true)];
        assert_eq!(play(&mut p, &down), (0, 0, 0.0, false));
        let missing = [(4, [1100.0, 1000.0], true)];
        assert_eq!(play(&mut p, &missing), (0, 0, 0.0, false));
    }

    #[test]
    fn refuses_a_room_that_is_not_skirmish() {
        use tickroom_protocol::state::{Field, Shape};
        let skirmish = test_schema();
        let config = r#"{"size":6000.0}"#;
        let mut p = (GAME.behaviours[0].new)(Rng::new(1), 30);
        let with_input = |fields| {
            Schema::new(
                "skirmish",
                1,
                skirmish.components().to_vec(),
                Shape::new("i", fields),
                vec![],
            )
            .unwrap()
        };
        let i8x = |name: &str| Field::new(name, FieldType::Scalar(Scalar::I8));
        assert_eq!(
            p.start(&with_input(vec![i8x("mx"), i8x("my")]), config),
            Err("not-skirmish-input")
        );
        let no_ships = Schema::new(
            "skirmish",
            1,
            vec![skirmish.components()[0].clone()],
            skirmish.input().clone(),
            vec![],
        )
        .unwrap();
        assert_eq!(p.start(&no_ships, config), Err("not-skirmish-schema"));
        assert_eq!(p.start(&skirmish, "{}"), Err("skirmish-config"));
        assert_eq!(p.start(&skirmish, config), Ok(()));
        let mut fresh = (GAME.behaviours[0].new)(Rng::new(1), 30);
        let view = View {
            schema: &skirmish,
            frame: None,
            player_id: 1,
        };
        assert_eq!(fresh.input(&view), None, "no input before a start");
    }
}
