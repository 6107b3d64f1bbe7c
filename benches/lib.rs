//! Shared fixtures for the micro-benchmarks in `benches/benches/`: rooms with a
//! given number of players in a realistic mid-game state, and the snapshot the
//! server would encode for them.

use tickroom_protocol::{self as proto, replica::Frame};
use tickroom_server::room::core::{pellet_to_wire, player_to_wire};
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

/// The frame the server would build for `room` (wire values, as in a full snapshot).
pub fn frame_of(room: &Room) -> Frame {
    let mut players = Vec::new();
    room.read_players(&mut players);
    let mut pellets = Vec::new();
    room.read_pellets(&mut pellets);
    Frame {
        tick: room.tick() as u32,
        players: players
            .iter()
            .map(|p| player_to_wire(p, 1000 + p.id.0 + room.tick() as u32))
            .collect(),
        pellets: pellets.iter().map(pellet_to_wire).collect(),
        roster: players
            .iter()
            .map(|p| proto::PlayerInfo {
                id: p.id.0,
                name: format!("player-{}", p.id.0),
            })
            .collect(),
    }
}

/// Two consecutive frames of a busy 50-player room: (previous, current).
pub fn consecutive_frames(players: u32) -> (Frame, Frame) {
    let mut room = busy_room(players, 200);
    let prev = frame_of(&room);
    room.step(&inputs(players, 200));
    // Canonical, as the room publishes it.
    let mut cur = frame_of(&room);
    tickroom_protocol::replica::settle_velocities(&prev, &mut cur, 20);
    (prev, cur)
}
