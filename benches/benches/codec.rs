//! Codec costs for a 50-player arena room on the wire: a whole frame and a
//! delta as the room encodes them (`Encoder::encode`, then the State
//! message), decoding them as a bot does (the message, then `apply` and the
//! checksum), and decoding one client input (the message, then the check of
//! its data against the game's input). Sizes printed once.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickroom_benches::consecutive_frames;
use tickroom_protocol::{
    self as proto, Checksum, ClientMsg,
    state::{self, Encoder, check_values},
};

fn codec(c: &mut Criterion) {
    let (schema, prev, cur) = consecutive_frames(50);
    let mut scratch = Vec::new();
    let checksum = Checksum(cur.checksum(&mut scratch));
    let mut enc = Encoder::default();
    let (mut delta, mut full) = (Vec::new(), Vec::new());
    enc.encode(&schema, Some(&prev), &cur, &mut delta);
    enc.encode(&schema, None, &cur, &mut full);
    let mut group = c.benchmark_group("codec");
    for (label, frame) in [("full_frame", &full), ("delta", &delta)] {
        let tail = proto::encode_state_tail(checksum, frame);
        let mut msg = Vec::new();
        proto::encode_state(7, std::iter::empty(), &tail, &mut msg);
        eprintln!("50_players/{label}: {} bytes", msg.len());
        group.throughput(Throughput::Bytes(msg.len() as u64));
        group.bench_function(format!("decode_50_players/{label}"), |b| {
            b.iter(|| proto::decode_server(black_box(&msg)).is_ok())
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_delta_50_players", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            enc.encode(&schema, Some(black_box(&prev)), black_box(&cur), &mut out);
            out.len()
        })
    });
    group.bench_function("checksum_50_players", |b| {
        b.iter(|| black_box(&cur).checksum(&mut scratch))
    });
    group.bench_function("apply_delta_50_players", |b| {
        b.iter(|| state::apply(&schema, Some(black_box(&prev)), black_box(&delta)).is_ok())
    });
    let mut data = Vec::new();
    tickroom_sim::catalogue().encode_input(&tickroom_sim::SteerInput { x: -90, y: 90 }, &mut data);
    let input = proto::encode_client(&ClientMsg::Input(proto::Input {
        seq: 123_456,
        ack_tick: 98_765,
        data,
    }));
    group.bench_function("decode_input", |b| {
        b.iter(|| match proto::decode_client(black_box(&input)) {
            Ok(ClientMsg::Input(i)) => check_values(schema.input_layout(), &i.data).is_ok(),
            _ => false,
        })
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
