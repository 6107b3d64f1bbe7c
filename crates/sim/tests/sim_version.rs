//! Pins the outcome of one busy scenario (joins, steering, bumps, pellets
//! eaten and respawned, a leave) to [`SIM_VERSION`]: if this fails, the rules
//! changed, so recordings of the old rules no longer replay. Bump
//! `SIM_VERSION` and update the pinned hash together.

use tickroom_sim::{PlayerId, Room, SIM_VERSION, SimConfig, Vec2};

/// FNV-1a over every bit of the room's observable state.
fn state_hash(room: &Room) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |w: u32| {
        for b in w.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let (mut players, mut pellets) = (Vec::new(), Vec::new());
    room.read_players(&mut players);
    room.read_pellets(&mut pellets);
    for p in &players {
        eat(p.id.0);
        for v in [p.pos.x, p.pos.y, p.vel.x, p.vel.y] {
            eat(v.to_bits());
        }
        eat(p.score);
    }
    for q in &pellets {
        eat(u32::from(q.id));
        eat(q.pos.x.to_bits());
        eat(q.pos.y.to_bits());
    }
    eat(room.tick() as u32);
    h
}

#[test]
fn a_pinned_scenario_has_the_pinned_outcome() {
    let mut room = Room::new(SimConfig {
        seed: 42,
        pellet_count: 60,
        pellet_respawn_ticks: 5,
        width: 400.0,
        height: 300.0,
        ..SimConfig::default()
    });
    for id in 1..=8 {
        assert!(room.add_player(PlayerId(id)));
    }
    for t in 0..600u32 {
        let inputs: Vec<(PlayerId, Vec2)> = (1..=8u32)
            .filter(|id| (t + id) % 3 == 0)
            .map(|id| {
                // Exact inputs (no libm): steps of 0.1 in [-1, 1] per axis.
                let x = ((t * 7 + id * 13) % 21) as f32 / 10.0 - 1.0;
                let y = ((t * 5 + id * 3) % 21) as f32 / 10.0 - 1.0;
                (PlayerId(id), Vec2::new(x, y))
            })
            .collect();
        room.step(&inputs);
        if t == 300 {
            room.remove_player(PlayerId(3));
        }
    }
    let (mut players, mut score) = (Vec::new(), 0);
    room.read_players(&mut players);
    players.iter().for_each(|p| score += p.score);
    assert!(score > 10, "the scenario should eat pellets (ate {score})");
    assert_eq!(
        (SIM_VERSION, state_hash(&room)),
        (1, 452_064_916_481_835_436),
        "the simulation's outcome changed: bump SIM_VERSION (recordings of the old rules no longer replay) and pin the new hash"
    );
}
