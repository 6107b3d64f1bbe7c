//! The game-agnostic state codec (`tickroom_protocol::state`) on a busy
//! 50-player arena room (its real frames, read out of its World), and on a
//! room of 50 moving players plus 500 other entities of which 10% change per
//! tick. Times per room frame for building the frame, encoding the delta,
//! applying it and the checksum; byte sizes printed once.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickroom_benches::{busy_room, consecutive_frames, frame_of};
use tickroom_protocol::state::{
    self, Encoder, Field, FieldType, Frame, Scalar, Schema, Shape, Value,
};

/// A schema of movers and crates for the crowd case.
fn crowd_schema() -> Schema {
    let pair = |s: Scalar| FieldType::Array {
        item: Box::new(FieldType::Scalar(s)),
        len: 2,
    };
    let comps = vec![
        Shape::new(
            "body",
            vec![
                Field::new("pos", pair(Scalar::U16)),
                Field::new("vel", pair(Scalar::I16)),
            ],
        ),
        Shape::new(
            "score",
            vec![Field::new("score", FieldType::Scalar(Scalar::U32))],
        ),
    ];
    let input = Shape::new(
        "input",
        vec![Field::new("x", FieldType::Scalar(Scalar::I8))],
    );
    Schema::new("crowd-bench", 1, comps, input, vec![]).expect("valid schema")
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
    let (schema, a, b) = consecutive_frames(50);
    let mut g = c.benchmark_group("state");
    let mut enc = Encoder::default();
    let (mut delta, mut full) = (Vec::new(), Vec::new());
    enc.encode(&schema, Some(&a), &b, &mut delta);
    enc.encode(&schema, None, &b, &mut full);
    eprintln!(
        "arena 50 players (+ live pellets): delta {} bytes, full {} bytes",
        delta.len(),
        full.len()
    );
    let mut room = busy_room(50, 200);
    g.bench_function("build_arena_50", |bn| {
        bn.iter(|| frame_of(black_box(&mut room)))
    });
    g.bench_function("encode_delta_arena_50", |bn| {
        let mut out = Vec::with_capacity(4096);
        bn.iter(|| {
            out.clear();
            enc.encode(&schema, Some(black_box(&a)), black_box(&b), &mut out);
            out.len()
        })
    });
    g.bench_function("apply_delta_arena_50", |bn| {
        bn.iter(|| state::apply(&schema, Some(black_box(&a)), black_box(&delta)).is_ok())
    });
    g.bench_function("checksum_arena_50", |bn| {
        let mut scratch = Vec::new();
        bn.iter(|| black_box(&b).checksum(&mut scratch))
    });

    let schema = crowd_schema();
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
