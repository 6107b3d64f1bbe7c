//! Cost of one simulation step per room (time per `Room::step`), for 1, 10, 25
//! and 50 players with the default 100 pellets, every player sending an input.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tickroom_benches::{busy_room, inputs};

fn sim_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim_step_per_room");
    for players in [1u32, 10, 25, 50] {
        let mut room = busy_room(players, 200);
        let batches: Vec<_> = (0..64).map(|t| inputs(players, t)).collect();
        let mut t = 0usize;
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{players}_players")),
            &players,
            |b, _| {
                b.iter(|| {
                    room.step(&batches[t % batches.len()]);
                    t += 1;
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, sim_step);
criterion_main!(benches);
