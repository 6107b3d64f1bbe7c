//! Interest management's encoding cost (`Encoder::encode_view` with a
//! shared `ViewCache`) on a skirmish-like room: 100 ships moving on a
//! 6000 × 6000 map, 300 bullets that never change after their spawn, 40
//! pickups and 100 global player entities, each player seeing a 900-unit
//! disc around its ship. Per room frame: every client's message
//!
//! - `views shared pieces`: the engine's way (each entity coded once per
//!   frame and base, reused by every view that has it);
//! - `views one by one`: each view cut out as a frame and encoded alone (what
//!   a per-view encoder without the cache costs);
//! - `everything visible`: one delta for everyone (the arena's way; the
//!   floor, and what a room without interest management sends).
//!
//! Bytes per client are printed once for both.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickroom_protocol::state::{
    Canonical, Encoder, Field, FieldType, Frame, Scalar, Schema, Shape, Value, ViewCache,
};

const PLAYERS: u32 = 100;
const BULLETS: u32 = 300;
const PICKUPS: u32 = 40;
const MAP: i64 = 60_000; // tenths of a unit
const RADIUS: i64 = 9_000;

fn schema() -> Schema {
    let int = |s| FieldType::Scalar(s);
    let comps = vec![
        Shape::new(
            "ship",
            vec![
                Field::new("x", int(Scalar::I32)),
                Field::new("y", int(Scalar::I32)),
                Field::new("vx", int(Scalar::I32)),
                Field::new("vy", int(Scalar::I32)),
                Field::new("health", int(Scalar::U8)),
            ],
        ),
        Shape::new(
            "bullet",
            vec![
                Field::new("x0", int(Scalar::I32)),
                Field::new("y0", int(Scalar::I32)),
                Field::new("vx", int(Scalar::I32)),
                Field::new("vy", int(Scalar::I32)),
                Field::new("born", int(Scalar::U32)),
            ],
        ),
        Shape::new(
            "pickup",
            vec![
                Field::new("x", int(Scalar::I32)),
                Field::new("y", int(Scalar::I32)),
            ],
        ),
        Shape::new(
            "score",
            vec![
                Field::new("kills", int(Scalar::U16)),
                Field::new("deaths", int(Scalar::U16)),
            ],
        ),
    ];
    let input = Shape::new("input", vec![Field::new("x", int(Scalar::I8))]);
    Schema::new("views-bench", 1, comps, input, vec![]).expect("valid schema")
}

fn splitmix(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The room at tick `t`, and each entity's position (none: global).
fn room(schema: &Schema, t: u32) -> (Frame, Vec<Option<(i64, i64)>>) {
    let id = |n: &str| schema.component_id(n).expect("component");
    let (ship, bullet, pickup, score) = (id("ship"), id("bullet"), id("pickup"), id("score"));
    let mut seed = 5;
    let mut f = Frame::new(t);
    let mut at = Vec::new();
    let mut next = 1;
    let mut begin = |f: &mut Frame| {
        f.begin(next).expect("ascending");
        next += 1;
    };
    for p in 0..PLAYERS {
        begin(&mut f);
        f.set(
            schema,
            score,
            &[Value::Int(i64::from(p % 3)), Value::Int(0)],
        )
        .expect("fits");
        at.push(None);
    }
    let t = i64::from(t);
    for _ in 0..PLAYERS {
        let (x, y) = (
            splitmix(&mut seed) as i64 % MAP,
            splitmix(&mut seed) as i64 % MAP,
        );
        let (vx, vy) = (
            splitmix(&mut seed) as i64 % 60 - 30,
            splitmix(&mut seed) as i64 % 60 - 30,
        );
        let (x, y) = (x.abs() + vx * t, y.abs() + vy * t);
        begin(&mut f);
        f.set(
            schema,
            ship,
            &[
                Value::Int(x),
                Value::Int(y),
                Value::Int(vx),
                Value::Int(vy),
                Value::Int(100),
            ],
        )
        .expect("fits");
        at.push(Some((x, y)));
    }
    for _ in 0..BULLETS {
        let (x, y) = (
            splitmix(&mut seed) as i64 % MAP,
            splitmix(&mut seed) as i64 % MAP,
        );
        let (vx, vy) = (450, -450);
        begin(&mut f);
        f.set(
            schema,
            bullet,
            &[
                Value::Int(x.abs()),
                Value::Int(y.abs()),
                Value::Int(vx),
                Value::Int(vy),
                Value::Int(7),
            ],
        )
        .expect("fits");
        at.push(Some((x.abs() + vx * t / 20, y.abs() + vy * t / 20)));
    }
    for _ in 0..PICKUPS {
        let (x, y) = (
            splitmix(&mut seed) as i64 % MAP,
            splitmix(&mut seed) as i64 % MAP,
        );
        begin(&mut f);
        f.set(schema, pickup, &[Value::Int(x.abs()), Value::Int(y.abs())])
            .expect("fits");
        at.push(Some((x.abs(), y.abs())));
    }
    (f, at)
}

/// Each player's view: the globals, its ship and what is within the radius.
fn views(at: &[Option<(i64, i64)>]) -> Vec<Vec<u32>> {
    (0..PLAYERS as usize)
        .map(|p| {
            let (sx, sy) = at[PLAYERS as usize + p].expect("a ship");
            (0..at.len() as u32)
                .filter(|&i| match at[i as usize] {
                    None => true,
                    Some((x, y)) => (x - sx).pow(2) + (y - sy).pow(2) <= RADIUS * RADIUS,
                })
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let schema = schema();
    let (base, base_at) = room(&schema, 100);
    let (new, new_at) = room(&schema, 101);
    let (bv, nv) = (views(&base_at), views(&new_at));
    let mut enc = Encoder::default();
    let mut cache = ViewCache::default();
    let mut canonical = Canonical::default();
    let mut out = Vec::new();
    let mut scratch = Vec::new();
    {
        let (mut view_bytes, mut all_bytes) = (0, 0);
        cache.reset();
        for p in 0..PLAYERS as usize {
            out.clear();
            enc.encode_view(
                &schema,
                Some((&base, &bv[p])),
                &new,
                &nv[p],
                &mut cache,
                &mut out,
            );
            view_bytes += out.len();
        }
        out.clear();
        enc.encode(&schema, Some(&base), &new, &mut out);
        all_bytes += out.len();
        let in_view: usize = nv.iter().map(Vec::len).sum();
        println!(
            "views: {} entities, {:.1} in view on average; delta per client {:.0} B (view) vs {} B (everything)",
            new.len(),
            in_view as f64 / f64::from(PLAYERS),
            view_bytes as f64 / f64::from(PLAYERS),
            all_bytes
        );
    }
    let mut g = c.benchmark_group("views");
    g.bench_function("views shared pieces (100 clients)", |b| {
        b.iter(|| {
            cache.reset();
            canonical.write(&new);
            for p in 0..PLAYERS as usize {
                out.clear();
                enc.encode_view(
                    &schema,
                    Some((&base, &bv[p])),
                    &new,
                    &nv[p],
                    &mut cache,
                    &mut out,
                );
                black_box(canonical.view_checksum(&nv[p], &mut scratch));
            }
            black_box(out.len())
        })
    });
    let (mut sb, mut sn) = (Frame::default(), Frame::default());
    g.bench_function("views one by one (100 clients)", |b| {
        b.iter(|| {
            for p in 0..PLAYERS as usize {
                base.subset(&bv[p], &mut sb);
                new.subset(&nv[p], &mut sn);
                out.clear();
                enc.encode(&schema, Some(&sb), &sn, &mut out);
                black_box(sn.checksum(&mut scratch));
            }
            black_box(out.len())
        })
    });
    g.bench_function("everything visible (one delta)", |b| {
        b.iter(|| {
            out.clear();
            enc.encode(&schema, Some(&base), &new, &mut out);
            black_box(new.checksum(&mut scratch));
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
