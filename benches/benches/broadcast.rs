//! The broadcast half of a tick: one encoded frame put into 50 players'
//! mailboxes (a baseline read, a `Bytes` clone, a mutex each), and each
//! writer taking it (its own acknowledgement put in front). Time per room
//! tick.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use tickroom_server::net::mailbox::Mailbox;

fn broadcast(c: &mut Criterion) {
    let mailboxes: Vec<Arc<Mailbox>> = (0..50).map(|_| Arc::new(Mailbox::new())).collect();
    let frame = Bytes::from(vec![7u8; 700]);
    c.bench_function("broadcast_to_50_mailboxes", |b| {
        b.iter(|| {
            let mut stale = 0u32;
            for m in &mailboxes {
                stale += u32::from(m.begin_frame().stale);
                m.put(7, 3, frame.clone());
            }
            // Drain so every iteration measures the common case (writer kept up).
            for m in &mailboxes {
                m.try_take();
            }
            stale
        })
    });
}

criterion_group!(benches, broadcast);
criterion_main!(benches);
