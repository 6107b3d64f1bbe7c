//! Two rooms with the same seed, config and calls build the same frames
//! and send the same events, step after step (recordings replay on it).

use tickroom::protocol::state::Frame;

use super::*;

/// Player `id`'s scripted input at step `t`: it turns, strafes and fires.
fn scripted(t: u32, id: u32) -> SkirmishInput {
    let wave = |k: u32| (((t * k + id * 31) % 255) as i32 - 127) as i8;
    SkirmishInput {
        mx: wave(7),
        my: wave(11),
        aim: ((t * 13 + id * 5) % 628) as f32 / 100.0 - std::f32::consts::PI,
        fire: (t + id).is_multiple_of(3),
    }
}

/// The frames and events of `steps` steps of a small crowded room.
fn run(seed: u64, steps: u32) -> (Vec<Frame>, Vec<OutEvent>) {
    let config = SkirmishConfig {
        size: 1500.0,
        pickups: 10,
        walls: 8,
        pickup_respawn_s: 2.0,
        ..SkirmishConfig::default()
    };
    let mut r = room(&config, seed);
    let (mut frames, mut events) = (Vec::new(), Vec::new());
    for t in 0..steps {
        if t.is_multiple_of(50) {
            let id = t / 50 + 1;
            r.join(PlayerId(id), &format!("p{id}")).unwrap();
        }
        for id in 1..=t / 50 + 1 {
            if (t + id).is_multiple_of(2) {
                send(&mut r, id, scripted(t, id));
            }
        }
        r.step();
        r.drain_events(&mut events);
        let mut frame = Frame::default();
        r.build_frame(t + 1, &mut frame).unwrap();
        frames.push(frame);
    }
    (frames, events)
}

#[test]
fn the_same_seed_and_inputs_build_the_same_frames_for_200_steps() {
    let (frames, events) = run(7, 200);
    let (again, events_again) = run(7, 200);
    for (t, (a, b)) in frames.iter().zip(&again).enumerate() {
        assert_eq!(a, b, "frame {t}");
    }
    assert_eq!(events, events_again);
    let r = room(&SkirmishConfig::default(), 7);
    let hits = of_type::<crate::Hit>(&r, &events).len();
    assert!(hits > 0, "the scenario has hits ({} events)", events.len());
    let (other, _) = run(8, 1);
    assert_ne!(frames[0], other[0], "another seed, another map");
}
