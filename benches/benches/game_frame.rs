//! What every room on the game API pays per tick, through the real API rather
//! than hand-built frames (`state_codec` measures those): a synthetic game on
//! the public `tickroom` crate, registered with `Games`, its room a
//! `Box<dyn Room>` around a `GameRoom` in a bevy_ecs `World`. Per step of a
//! warm room: `step` (with the 50 encoded inputs queued through
//! `Room::input`), `build_frame`, encoding the delta from the previous frame
//! and applying it. Two rooms: 50 moving players alone, and the same plus 500
//! replicated crates of which 10% change every step. Byte sizes and entity
//! counts printed once per room.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use tickroom::prelude::*;
use tickroom::protocol::state::{self, Encoder, Frame};
use tickroom::{Games, Room};

const PLAYERS: u32 = 50;
/// Steps run before measuring.
const WARMUP: u32 = 100;
/// Rounds of pre-encoded inputs the step bench cycles through.
const ROUNDS: usize = 8;
/// Positions wrap to stay within ±`HALF` on each axis.
const HALF: f32 = 500.0;

#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Pos {
    #[wire(fixed(i32, 4))]
    x: f32,
    #[wire(fixed(i32, 4))]
    y: f32,
}

#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Vel {
    #[wire(fixed(i16, 4))]
    x: f32,
    #[wire(fixed(i16, 4))]
    y: f32,
}

#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Score {
    points: u32,
}

#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
struct CrateState {
    hp: u8,
    open: bool,
}

/// The held steering direction, in quarter units per step.
#[derive(Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Steer {
    x: i8,
    y: i8,
}

#[derive(Resource, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct BenchConfig {
    /// Crates spawned in setup.
    crates: u32,
    /// Percent of the crates changed every step.
    change_percent: u8,
}

impl RoomConfig for BenchConfig {
    fn validate(&self) -> Result<(), String> {
        if self.change_percent > 100 {
            return Err("change_percent is at most 100".into());
        }
        Ok(())
    }
}

/// The crates in spawn order, permuted in place by each step's draw.
#[derive(Resource, Debug, Default)]
struct Crates(Vec<Entity>);

#[derive(Debug)]
struct BenchGame;

impl Game for BenchGame {
    const NAME: &'static str = "bench";
    const VERSION: u32 = 1;
    const INPUTS: InputMode = InputMode::Newest;
    type Input = Steer;
    type Config = BenchConfig;

    fn declare(game: &mut Declare) {
        game.replicate::<Pos>()
            .replicate::<Vel>()
            .replicate::<Score>()
            .replicate::<CrateState>();
    }

    fn setup(room: &mut Setup<'_>, config: &BenchConfig) {
        let world = room.world();
        let crates = (0..config.crates)
            .map(|i| {
                let pos = Pos {
                    x: (i % 32) as f32 * 30.0 - HALF,
                    y: (i / 32) as f32 * 30.0 - HALF,
                };
                let state = CrateState {
                    hp: 100,
                    open: false,
                };
                world.spawn((pos, state, Replicated)).id()
            })
            .collect();
        world.insert_resource(Crates(crates));
        room.add_systems((steer, advance, change_crates).chain());
    }

    fn joined(world: &mut World, player: PlayerId, entity: Entity) {
        let start = (player.0 % 40) as f32 * 25.0 - HALF;
        world.entity_mut(entity).insert((
            Pos {
                x: start,
                y: -start,
            },
            Vel { x: 0.25, y: 0.25 },
            Score::default(),
        ));
    }
}

/// The newest input sets the velocity (exact in f32: quarters).
fn steer(inputs: Res<Inputs<Steer>>, mut vel: Query<&mut Vel>) {
    for i in &inputs {
        if let Ok(mut v) = vel.get_mut(i.entity) {
            v.x = f32::from(i.input.x) * 0.25;
            v.y = f32::from(i.input.y) * 0.25;
        }
    }
}

/// Every player moves by its velocity, wrapping at the edges (a point per wrap).
fn advance(mut movers: Query<(&mut Pos, &Vel, &mut Score)>) {
    let wrap = |p: &mut f32| {
        if p.abs() > HALF {
            *p -= 2.0 * HALF * p.signum();
            true
        } else {
            false
        }
    };
    for (mut p, v, mut s) in &mut movers {
        p.x += v.x;
        p.y += v.y;
        let (wx, wy) = (wrap(&mut p.x), wrap(&mut p.y));
        if wx || wy {
            s.points += 1;
        }
    }
}

/// `change_percent`% of the crates, distinct, drawn by a partial
/// Fisher-Yates shuffle: one hp less, or back to 100 and toggled open at 0.
fn change_crates(
    config: Res<BenchConfig>,
    mut rng: ResMut<RoomRng>,
    mut crates: ResMut<Crates>,
    mut states: Query<&mut CrateState>,
) {
    let list = &mut crates.0;
    let n = list.len();
    let k = n * usize::from(config.change_percent) / 100;
    for i in 0..k {
        let j = i + rng.below((n - i) as u32) as usize;
        list.swap(i, j);
        if let Ok(mut c) = states.get_mut(list[i]) {
            if c.hp == 0 {
                c.hp = 100;
                c.open = !c.open;
            } else {
                c.hp -= 1;
            }
        }
    }
}

/// Player `p`'s encoded input for round `r`: never zero on either axis, so
/// every player moves every step.
fn encoded_input(room: &dyn Room, p: u32, r: usize) -> Vec<u8> {
    let pick = |k: u32| -> i8 {
        let m = (k % 4) as i8 + 1;
        if k.is_multiple_of(3) { -m } else { m }
    };
    let steer = Steer {
        x: pick(p + r as u32),
        y: pick(p * 7 + r as u32 * 3),
    };
    let mut bytes = Vec::new();
    room.catalogue().encode_input(&steer, &mut bytes);
    bytes
}

fn queue_inputs(room: &mut dyn Room, inputs: &[Vec<u8>]) {
    for (p, bytes) in (1..=PLAYERS).zip(inputs) {
        room.input(PlayerId(p), bytes).expect("input accepted");
    }
}

fn frame_at(room: &mut dyn Room) -> Frame {
    let mut f = Frame::default();
    let tick = room.steps() as u32;
    room.build_frame(tick, &mut f).expect("frame builds");
    f
}

fn bench(c: &mut Criterion) {
    let mut games = Games::new();
    games.register::<BenchGame>().expect("registers");
    let entry = games.get(BenchGame::NAME).expect("registered");

    let mut g = c.benchmark_group("game_frame");
    for (label, crates) in [("players50", 0), ("players50_entities500", 500)] {
        let json = serde_json::json!({ "crates": crates, "change_percent": 10 });
        let config = entry.config(Some(&json)).expect("valid config");
        let mut room = entry.new_room(&config, 42, 20).expect("room");
        for p in 1..=PLAYERS {
            room.join(PlayerId(p), &format!("p{p}")).expect("joins");
        }
        let rounds: Vec<Vec<Vec<u8>>> = (0..ROUNDS)
            .map(|r| (1..=PLAYERS).map(|p| encoded_input(&*room, p, r)).collect())
            .collect();
        for t in 0..WARMUP as usize {
            queue_inputs(&mut *room, &rounds[t % ROUNDS]);
            room.step();
        }
        let prev = frame_at(&mut *room);
        queue_inputs(&mut *room, &rounds[WARMUP as usize % ROUNDS]);
        room.step();
        let cur = frame_at(&mut *room);

        let schema = room.catalogue().schema().clone();
        let mut enc = Encoder::default();
        let (mut delta, mut full) = (Vec::new(), Vec::new());
        enc.encode(&schema, Some(&prev), &cur, &mut delta);
        enc.encode(&schema, None, &cur, &mut full);
        let rebuilt = state::apply(&schema, Some(&prev), &delta).expect("delta applies");
        assert_eq!(rebuilt, cur, "the client rebuilds the frame");
        eprintln!(
            "{label}: {} entities ({} value slots), delta {} bytes, full frame {} bytes",
            cur.len(),
            cur.slots(),
            delta.len(),
            full.len()
        );

        g.bench_function(format!("{label}/step"), |b| {
            let mut r = 0;
            b.iter(|| {
                queue_inputs(&mut *room, black_box(&rounds[r]));
                room.step();
                r = (r + 1) % ROUNDS;
            })
        });
        g.bench_function(format!("{label}/build_frame"), |b| {
            let mut f = Frame::default();
            let tick = room.steps() as u32;
            b.iter(|| {
                room.build_frame(tick, &mut f).expect("frame builds");
                black_box(f.len())
            })
        });
        g.bench_function(format!("{label}/encode_delta"), |b| {
            let mut out = Vec::with_capacity(16 * 1024);
            b.iter(|| {
                out.clear();
                enc.encode(&schema, Some(black_box(&prev)), black_box(&cur), &mut out);
                out.len()
            })
        });
        g.bench_function(format!("{label}/apply_delta"), |b| {
            b.iter(|| state::apply(&schema, Some(black_box(&prev)), black_box(&delta)).is_ok())
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
