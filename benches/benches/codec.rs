//! Codec costs for a 50-player room: encoding a full snapshot and a delta
//! (time per message; sizes printed once), decoding them as a bot does,
//! computing the delta (`diff`) and applying it (`Replica::apply_delta`), and
//! decoding one client input.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickroom_benches::consecutive_frames;
use tickroom_protocol::{
    self as proto, ClientMsg, ServerMsg,
    replica::{self, Replica},
};

fn codec(c: &mut Criterion) {
    let (prev, cur) = consecutive_frames(50);
    let full = ServerMsg::Snapshot(cur.to_snapshot());
    let checksum = cur.checksum();
    let delta_msg = replica::diff(&prev, &cur, checksum, 20).expect("consecutive frames");
    let delta = ServerMsg::Delta(delta_msg.clone());
    let mut group = c.benchmark_group("codec");
    for (label, msg) in [("full_snapshot", &full), ("delta", &delta)] {
        let bytes = proto::encode_server(msg);
        eprintln!("50_players/{label}: {} bytes", bytes.len());
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("encode_50_players/{label}"), |b| {
            let mut buf = Vec::with_capacity(4096);
            b.iter(|| {
                buf.clear();
                proto::codec::encode_server_into(black_box(msg), &mut buf);
                buf.len()
            })
        });
        group.bench_function(format!("decode_50_players/{label}"), |b| {
            b.iter(|| proto::decode_server(black_box(&bytes)).is_ok())
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("diff_50_players", |b| {
        b.iter(|| replica::diff(black_box(&prev), black_box(&cur), checksum, 20))
    });
    group.bench_function("checksum_50_players", |b| {
        b.iter(|| replica::checksum(black_box(&cur)))
    });
    group.bench_function("apply_delta_50_players", |b| {
        let mut r = Replica::new(20);
        b.iter(|| {
            r.apply_snapshot(prev.to_snapshot());
            r.apply_delta(black_box(&delta_msg)).is_ok()
        })
    });
    let input = proto::encode_client(&ClientMsg::Input(proto::Input {
        seq: 123_456,
        ack_tick: 98_765,
        steer: [-90, 90],
    }));
    group.bench_function("decode_input", |b| {
        b.iter(|| proto::decode_client(black_box(&input)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
