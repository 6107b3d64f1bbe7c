//! The game-agnostic state codec (`tickroom_protocol::state`) beside the
//! arena's hand-tuned one, in one run: a busy 50-player arena room (players
//! and pellets as entities; with and without velocities replicated), and a
//! room of 50 moving players plus 500 other entities of which 10% change per
//! tick. Times per room frame for building the generic frame, encoding the
//! delta, applying it and the checksum; byte sizes printed once.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickroom_benches::consecutive_frames;
use tickroom_protocol::{
    self as proto, ServerMsg,
    replica::{self, Frame as ArenaFrame},
    state::{self, Encoder, Field, FieldType, Frame, Scalar, Schema, Shape, Value},
};

/// Pellets' network ids sit above every player's.
const PELLET_BASE: u32 = 1 << 20;

fn arena_schema(with_vel: bool) -> Schema {
    let pair = |s: Scalar| FieldType::Array {
        item: Box::new(FieldType::Scalar(s)),
        len: 2,
    };
    let mut body = vec![Field::new("pos", pair(Scalar::U16))];
    if with_vel {
        body.push(Field::new("vel", pair(Scalar::I16)));
    }
    let comps = vec![
        Shape::new("body", body),
        Shape::new(
            "score",
            vec![Field::new("score", FieldType::Scalar(Scalar::U32))],
        ),
        Shape::new("pellet", vec![Field::new("pos", pair(Scalar::U16))]),
    ];
    let input = Shape::new(
        "input",
        vec![Field::new(
            "steer",
            FieldType::Array {
                item: Box::new(FieldType::Fixed {
                    repr: Scalar::I8,
                    scale: 127,
                }),
                len: 2,
            },
        )],
    );
    Schema::new("arena-bench", 1, comps, input, vec![]).expect("valid schema")
}

/// The arena frame as generic entities (what a game on the API would build).
fn generic(schema: &Schema, f: &ArenaFrame, with_vel: bool) -> Frame {
    let body = schema.component_id("body").expect("body");
    let score = schema.component_id("score").expect("score");
    let pellet = schema.component_id("pellet").expect("pellet");
    let mut out = Frame::new(f.tick);
    for p in &f.players {
        out.begin(p.id).expect("ascending ids");
        let v = [
            Value::Int(p.pos[0].into()),
            Value::Int(p.pos[1].into()),
            Value::Int(p.vel[0].into()),
            Value::Int(p.vel[1].into()),
        ];
        out.set(schema, body, &v[..if with_vel { 4 } else { 2 }])
            .expect("fits");
        out.set(schema, score, &[Value::Int(p.score.into())])
            .expect("fits");
    }
    for q in &f.pellets {
        out.begin(PELLET_BASE + u32::from(q.id))
            .expect("ascending ids");
        out.set(
            schema,
            pellet,
            &[Value::Int(q.pos[0].into()), Value::Int(q.pos[1].into())],
        )
        .expect("fits");
    }
    out
}

/// 50 movers and 500 crates (hp, position); tick `t` moves every mover and
/// changes the hp of one crate in ten.
fn crowd(schema: &Schema, t: u32) -> Frame {
    let body = schema.component_id("body").expect("body");
    let score = schema.component_id("score").expect("score");
    let mut out = Frame::new(t);
    for id in 0..550u32 {
        out.begin(id).expect("ascending ids");
        if id < 50 {
            let x = 1000 + i64::from(t) * i64::from(id % 7);
            out.set(
                schema,
                body,
                &[
                    Value::Int(x),
                    Value::Int(2000 - i64::from(t)),
                    Value::Int(3),
                    Value::Int(-1),
                ],
            )
            .expect("fits");
        } else {
            out.set(
                schema,
                body,
                &[
                    Value::Int(i64::from(id) * 10),
                    Value::Int(500),
                    Value::Int(0),
                    Value::Int(0),
                ],
            )
            .expect("fits");
            let hp = 100 - i64::from(t) * i64::from(id % 10 == (t % 10));
            out.set(schema, score, &[Value::Int(hp.max(0))])
                .expect("fits");
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let (prev, cur) = consecutive_frames(50);
    let arena_delta = replica::diff(&prev, &cur, cur.checksum(), 20).expect("consecutive frames");
    let arena_bytes = proto::encode_server(&ServerMsg::Delta(arena_delta)).len();
    let arena_full = proto::encode_server(&ServerMsg::Snapshot(cur.to_snapshot())).len();
    eprintln!(
        "arena 50 players, hand-tuned: delta {arena_bytes} bytes, snapshot {arena_full} bytes (with names)"
    );

    let mut g = c.benchmark_group("state");
    for with_vel in [false, true] {
        let label = if with_vel { "with_vel" } else { "pos_only" };
        let schema = arena_schema(with_vel);
        let (a, b) = (
            generic(&schema, &prev, with_vel),
            generic(&schema, &cur, with_vel),
        );
        let mut enc = Encoder::default();
        let (mut delta, mut full) = (Vec::new(), Vec::new());
        enc.encode(&schema, Some(&a), &b, &mut delta);
        enc.encode(&schema, None, &b, &mut full);
        eprintln!(
            "arena 50 players, generic {label}: delta {} bytes, full {} bytes",
            delta.len(),
            full.len()
        );
        g.bench_function(format!("build_arena_50/{label}"), |bn| {
            bn.iter(|| generic(&schema, black_box(&cur), with_vel))
        });
        g.bench_function(format!("encode_delta_arena_50/{label}"), |bn| {
            let mut out = Vec::with_capacity(4096);
            bn.iter(|| {
                out.clear();
                enc.encode(&schema, Some(black_box(&a)), black_box(&b), &mut out);
                out.len()
            })
        });
        g.bench_function(format!("apply_delta_arena_50/{label}"), |bn| {
            bn.iter(|| state::apply(&schema, Some(black_box(&a)), black_box(&delta)).is_ok())
        });
        g.bench_function(format!("checksum_arena_50/{label}"), |bn| {
            let mut scratch = Vec::new();
            bn.iter(|| black_box(&b).checksum(&mut scratch))
        });
    }
    g.bench_function("arena_hand_tuned_diff_50", |bn| {
        bn.iter(|| replica::diff(black_box(&prev), black_box(&cur), cur.checksum(), 20))
    });

    let schema = arena_schema(true);
    let (a, b) = (crowd(&schema, 10), crowd(&schema, 11));
    let mut enc = Encoder::default();
    let mut delta = Vec::new();
    enc.encode(&schema, Some(&a), &b, &mut delta);
    eprintln!(
        "50 movers + 500 entities, 10% changing: delta {} bytes",
        delta.len()
    );
    g.bench_function("encode_delta_50_plus_500", |bn| {
        let mut out = Vec::with_capacity(8192);
        bn.iter(|| {
            out.clear();
            enc.encode(&schema, Some(black_box(&a)), black_box(&b), &mut out);
            out.len()
        })
    });
    g.bench_function("apply_delta_50_plus_500", |bn| {
        bn.iter(|| state::apply(&schema, Some(black_box(&a)), black_box(&delta)).is_ok())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
