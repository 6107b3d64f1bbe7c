//! One room lookup in `tickroom-cluster` for 3, 20 and 100 nodes: the pure
//! rendezvous winner (`hrw::winner`), the bounded-load choice
//! (`hrw::bounded`, ε = 0.25, uneven loads), and `Directory::place` for a
//! room nobody has claimed (a claim lookup that misses, then the bounded
//! choice among the live members). Time per lookup; room ids cycle through
//! 1,024 generated-looking ids so no single hash is measured.

use std::{hint::black_box, time::Duration};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tickroom_cluster::{
    Directory, DirectoryConfig, NodeId, Weight, WsUrl,
    directory::Member,
    hrw::{self, Candidate, LoadBound},
};

const SIZES: [usize; 3] = [3, 20, 100];

fn rooms() -> Vec<String> {
    // Shaped like the server's generated ids: `r-` and ten characters.
    (0..1024u64)
        .map(|i| format!("r-{:010x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 24))
        .collect()
}

fn nodes(n: usize) -> Vec<NodeId> {
    (0..n)
        .map(|i| NodeId::new(&format!("node-{i}")).unwrap())
        .collect()
}

/// About 50 rooms a node, unevenly (40 to 59), so some candidates are near
/// the cap.
fn load(i: usize) -> u64 {
    40 + (i as u64 * 7) % 20
}

fn placement(c: &mut Criterion) {
    let rooms = rooms();
    let mut group = c.benchmark_group("placement");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let ids = nodes(n);
        let candidates: Vec<Candidate<'_>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| Candidate {
                id,
                weight: Weight::ONE,
                load: load(i),
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("hrw", n), &candidates, |b, cands| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 1023;
                hrw::winner(black_box(&rooms[i]), cands.iter().copied())
            })
        });
        group.bench_with_input(BenchmarkId::new("bounded", n), &candidates, |b, cands| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 1023;
                hrw::bounded(
                    black_box(&rooms[i]),
                    cands.iter().copied(),
                    LoadBound::default(),
                )
            })
        });

        let mut dir = Directory::new(ids[0].clone(), DirectoryConfig::default());
        for (i, id) in ids.iter().enumerate() {
            let url = WsUrl::new(&format!("ws://10.0.0.{}:8080", i + 1)).unwrap();
            dir.join(Member::new(id.clone(), url, u64::MAX), 0).unwrap();
            for r in 0..load(i) {
                dir.claim(&format!("claimed-{i}-{r}"), id, u64::MAX, 0)
                    .unwrap();
            }
        }
        group.bench_with_input(BenchmarkId::new("directory_new_room", n), &dir, |b, dir| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & 1023;
                dir.place(black_box(&rooms[i]), 1).is_ok()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, placement);
criterion_main!(benches);
