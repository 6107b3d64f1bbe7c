//! Codec costs: encoding one room's snapshot (50 players, with and without the
//! pellet list and roster — time per snapshot, and its size in bytes printed
//! once), decoding one client input, and decoding a snapshot as a bot does.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickroom_benches::{busy_room, snapshot_of};
use tickroom_protocol::{self as proto, ClientMsg};

fn codec(c: &mut Criterion) {
    let room = busy_room(50, 200);
    let mut group = c.benchmark_group("codec");
    for (label, with_pellets) in [("players_only", false), ("with_pellets_and_roster", true)] {
        let msg = snapshot_of(&room, with_pellets);
        let bytes = proto::encode_server(&msg);
        eprintln!("snapshot_50_players/{label}: {} bytes", bytes.len());
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("encode_snapshot_50_players/{label}"), |b| {
            let mut buf = Vec::with_capacity(4096);
            b.iter(|| {
                buf.clear();
                proto::codec::encode_server_into(black_box(&msg), &mut buf);
                buf.len()
            })
        });
        group.bench_function(format!("decode_snapshot_50_players/{label}"), |b| {
            b.iter(|| proto::decode_server(black_box(&bytes)).is_ok())
        });
    }
    let input = proto::encode_client(&ClientMsg::Input(proto::Input {
        seq: 123_456,
        ack_tick: 98_765,
        steer: [-90, 90],
    }));
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_input", |b| {
        b.iter(|| proto::decode_client(black_box(&input)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
