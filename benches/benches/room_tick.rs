//! A whole room tick as the tick worker runs it, without the thread: the
//! sans-IO `RoomCore` with 50 connected players of the arena steering,
//! stepped once: grace and inputs (decoded by the game), the game's step,
//! frame build and checksum, one delta encode shared by all, 50 outputs
//! drained. Two cases: every client took last
//! tick's frame (the common case), and five clients lagging a few ticks
//! (more baselines, more encodes); and the common case with recording on
//! (the tick's record built and handed out, a keyframe every 200 ticks; the
//! writer thread's encoding is not in it). Time per room tick.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use tickroom_server::room::core::{CoreSettings, HISTORY, Output, RecordSettings, RoomCore};

fn room(players: u64, recording: bool) -> (RoomCore, Instant) {
    let now = Instant::now();
    let mut games = tickroom_game::Games::new();
    games.register::<tickroom_sim::Arena>().expect("registers");
    let entry = games.get("arena").expect("registered");
    let config = entry.config(None).expect("defaults");
    let game = entry.new_room(&config, 7, 20).expect("a room");
    let mut core = RoomCore::new(
        CoreSettings {
            capacity: 50,
            idle_timeout: Duration::from_secs(30),
            resume_grace: Duration::from_secs(10),
            history: HISTORY,
            max_unacked: 10,
            recording: recording.then_some(RecordSettings {
                keyframe_every: 200,
            }),
            steps_per_frame: 1,
        },
        game,
        now,
        7,
    );
    for conn in 0..players {
        core.join(conn, format!("p{conn}"), None)
            .expect("room has space");
    }
    (core, now)
}

fn room_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("room_tick_50_players");
    for (label, lagging, recording) in [
        ("all_current", 0u64, false),
        ("five_lagging", 5, false),
        ("all_current_recording", 0, true),
    ] {
        let (mut core, mut now) = room(50, recording);
        let mut tick = 0u32;
        let catalogue = core.catalogue().clone();
        let mut data = Vec::new();
        group.bench_function(label, |b| {
            b.iter(|| {
                now += Duration::from_millis(50);
                for conn in 0..50u64 {
                    let a = (conn as u32 * 37 + tick) as f32 * 0.1;
                    data.clear();
                    catalogue.encode_input(
                        &tickroom_sim::SteerInput::from_direction(a.cos(), a.sin()),
                        &mut data,
                    );
                    core.input(conn, tick, tick, &data);
                }
                let newest = tick;
                core.tick(now, |conn| {
                    Some(if conn < lagging {
                        newest.saturating_sub(1 + (conn as u32 % 4))
                    } else {
                        newest
                    })
                });
                tick = core.tick_number();
                let mut frames = 0;
                while let Some(out) = core.poll_output() {
                    match out {
                        Output::Frame { tail, .. } => frames += black_box(tail).len(),
                        Output::Record(r) => frames += black_box(r).inputs.len(),
                        _ => {}
                    }
                }
                frames
            })
        });
    }
    group.finish();
}

criterion_group!(benches, room_tick);
criterion_main!(benches);
