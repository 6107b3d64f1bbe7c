//! Shared fixtures for the micro-benchmarks in `benches/benches/`: arena rooms
//! with a given number of players in a realistic mid-game state, and the
//! frames the server would build for them.

use tickroom_game::Room as _;
use tickroom_protocol::state::{Frame, Schema};
use tickroom_sim::{PlayerId, Room, SimConfig, Vec2};

/// A room with `players` players after `warmup` steps of everyone steering in
/// slowly rotating directions (so players are spread out, moving and bumping).
pub fn busy_room(players: u32, warmup: u32) -> Room {
    let mut room = Room::new(SimConfig::default());
    for id in 1..=players {
        room.add_player(PlayerId(id));
    }
    for t in 0..warmup {
        room.step(&inputs(players, t));
    }
    room
}

/// One steering input per player for tick `t`.
pub fn inputs(players: u32, t: u32) -> Vec<(PlayerId, Vec2)> {
    (1..=players)
        .map(|id| {
            let a = (id * 37 + t) as f32 * 0.1;
            (PlayerId(id), Vec2::new(a.cos(), a.sin()))
        })
        .collect()
}

/// The frame the server would build for `room`.
pub fn frame_of(room: &mut Room) -> Frame {
    let tick = room.tick() as u32;
    let mut frame = Frame::default();
    room.game_room()
        .build_frame(tick, &mut frame)
        .expect("an arena frame fits the limits");
    frame
}

/// The arena's schema and two consecutive frames of a busy room:
/// (schema, previous, current).
pub fn consecutive_frames(players: u32) -> (Schema, Frame, Frame) {
    let mut room = busy_room(players, 200);
    let prev = frame_of(&mut room);
    room.step(&inputs(players, 200));
    let cur = frame_of(&mut room);
    (tickroom_sim::catalogue().schema().clone(), prev, cur)
}
