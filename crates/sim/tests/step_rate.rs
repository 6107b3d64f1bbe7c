//! The rules scale with the step length (`dt = 1 / tick_rate_hz`: the
//! acceleration per step, the friction factor `friction^dt`): the same
//! steering held for the same time moves a player about the same way at 20
//! and at 60 steps a second. They differ by the integration error of one
//! explicit step (smaller at 60 Hz), a few arena units over a second of
//! travel, never by a factor of the rate.

use tickroom_sim::{PlayerId, Room, SimConfig, Vec2};

fn run(rate: u32, phases: &[(Vec2, u32)]) -> (Vec2, Vec2) {
    let mut room = Room::new(SimConfig {
        tick_rate_hz: rate,
        pellet_count: 0,
        seed: 3,
        ..SimConfig::default()
    });
    assert!(room.add_player(PlayerId(1)));
    for &(steer, millis) in phases {
        room.step(&[(PlayerId(1), steer)]);
        for _ in 1..(millis * rate / 1000) {
            room.step(&[]);
        }
    }
    let mut players = Vec::new();
    room.read_players(&mut players);
    (players[0].pos, players[0].vel)
}

#[test]
fn the_same_steering_for_the_same_time_plays_the_same_at_20_and_60_hz() {
    let phases = [
        (Vec2::new(1.0, 0.0), 600),
        (Vec2::new(0.0, -1.0), 300),
        (Vec2::new(0.0, 0.0), 900),
    ];
    let (start, _) = run(20, &[]);
    let (p20, v20) = run(20, &phases);
    let (p60, v60) = run(60, &phases);
    let travelled = (p20 - start).length();
    assert!(
        travelled > 150.0,
        "the scenario moves the player ({travelled})"
    );
    let apart = (p20 - p60).length();
    eprintln!("travelled {travelled:.1}, apart {apart:.2}, velocities {v20} vs {v60}");
    assert!(
        apart < 0.05 * travelled && apart > 0.0,
        "20 Hz ended at {p20}, 60 Hz at {p60}: {apart:.1} apart after {travelled:.0} travelled"
    );
    assert!((v20 - v60).length() < 5.0, "velocities {v20} vs {v60}");
}
