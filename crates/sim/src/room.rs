//! [`Room`]: one arena room driven directly, with the arena's own types
//! (steering vectors, player and pellet views): a [`GameRoom`] of [`Arena`]
//! behind a small owned API, for the rules' tests, benches and tools that
//! step the arena without the engine's wire types.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bevy_ecs::prelude::Entity;
use glam::Vec2;
use tickroom::{Catalogue, Departure, Game, GameRoom, Players, Room as _, StepInfo};

use crate::game::{Arena, ArenaConfig};
use crate::kinematics::sanitize_steer;
use crate::systems::{
    Pellet, PelletSlots, PelletState, PelletsChanged, Position, Score, Steer, Velocity,
};
use crate::{PelletView, PlayerId, PlayerView, SimConfig};

/// Spawn positions tried when a player joins before settling for the least
/// crowded one.
pub const SPAWN_ATTEMPTS: usize = 8;

/// The arena's compiled declarations (its schema), made once.
pub fn catalogue() -> &'static Arc<Catalogue> {
    static CATALOGUE: OnceLock<Arc<Catalogue>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut games = tickroom::Games::new();
        games
            .register::<Arena>()
            .expect("the arena's declarations are a valid schema (tested)");
        games
            .get(Arena::NAME)
            .expect("just registered")
            .catalogue()
            .clone()
    })
}

/// One room's game: a bevy_ecs `World` stepped by a single-threaded
/// `Schedule`. `Send`, so it can move to a tick-worker thread.
pub struct Room {
    config: SimConfig,
    room: GameRoom<Arena>,
}

impl fmt::Debug for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Room")
            .field("config", &self.config)
            .field("tick", &self.tick())
            .field("players", &self.player_count())
            .field("pellets_changed", &self.pellets_changed())
            .finish_non_exhaustive()
    }
}

impl Room {
    /// Creates a room with `config.pellet_count` live pellets (ids
    /// `0..pellet_count`) at seeded random positions, drawn in id order, `x`
    /// then `y`. Never panics; on a config that fails
    /// [`SimConfig::validate`] the game is meaningless (pellets beyond id 65535
    /// are not created).
    pub fn new(config: SimConfig) -> Room {
        let room = GameRoom::<Arena>::new(
            catalogue().clone(),
            &ArenaConfig::from(&config),
            config.seed,
            config.tick_rate_hz,
        );
        Room { config, room }
    }

    /// The configuration the room was created with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Number of [`Room::step`] calls so far.
    pub fn tick(&self) -> u64 {
        self.room.world().resource::<StepInfo>().step
    }

    /// The engine-side room (for building frames of it).
    pub fn game_room(&mut self) -> &mut GameRoom<Arena> {
        &mut self.room
    }

    fn entity(&self, id: PlayerId) -> Option<Entity> {
        self.room.world().resource::<Players>().entity(id)
    }

    /// Adds a player with zero velocity, zero steer and score 0. Returns
    /// `false` (and changes nothing) if `id` is already present.
    ///
    /// The spawn centre is drawn like a pellet's (radius `player_radius`, `x`
    /// then `y`) up to [`SPAWN_ATTEMPTS`] times; the first candidate that
    /// overlaps no player (centre distance >= `2 * player_radius`) is taken,
    /// otherwise the candidate farthest from its nearest player (earliest on
    /// ties).
    pub fn add_player(&mut self, id: PlayerId) -> bool {
        self.room.join(id, "").is_ok()
    }

    /// Removes a player. Returns `false` if `id` is absent.
    pub fn remove_player(&mut self, id: PlayerId) -> bool {
        self.room.leave(id, Departure::Left)
    }

    /// Number of players in the room.
    pub fn player_count(&self) -> usize {
        self.room.player_count()
    }

    /// Runs the schedule once (rules 1-6, see the crate docs).
    ///
    /// `inputs` are steering directions in arrival order; a later entry for the
    /// same player overrides an earlier one, and the result is held until that
    /// player's next input. Unknown ids are ignored; each direction is
    /// sanitised (non-finite components -> 0, length clamped to 1).
    pub fn step(&mut self, inputs: &[(PlayerId, Vec2)]) {
        // Rule 1 with the arena's own vectors (the wire's steering goes
        // through the game's input instead).
        for &(id, dir) in inputs {
            if let Some(e) = self.entity(id)
                && let Some(mut steer) = self.room.world_mut().get_mut::<Steer>(e)
            {
                steer.0 = sanitize_steer(dir);
            }
        }
        self.room.step();
    }

    /// Clears `out` and fills it with every player, sorted by id.
    pub fn read_players(&self, out: &mut Vec<PlayerView>) {
        out.clear();
        let world = self.room.world();
        for (id, e) in world.resource::<Players>().iter() {
            let (Some(pos), Some(vel), Some(score)) = (
                world.get::<Position>(e),
                world.get::<Velocity>(e),
                world.get::<Score>(e),
            ) else {
                continue;
            };
            out.push(PlayerView {
                id,
                pos: pos.0,
                vel: vel.0,
                score: score.0,
            });
        }
    }

    /// Clears `out` and fills it with the live pellets, sorted by id.
    pub fn read_pellets(&self, out: &mut Vec<PelletView>) {
        out.clear();
        let world = self.room.world();
        let Some(slots) = world.get_resource::<PelletSlots>() else {
            return;
        };
        for &entity in &slots.0 {
            let (Some(pellet), Some(PelletState::Live), Some(pos)) = (
                world.get::<Pellet>(entity),
                world.get::<PelletState>(entity),
                world.get::<Position>(entity),
            ) else {
                continue;
            };
            out.push(PelletView {
                id: pellet.id,
                pos: pos.0,
            });
        }
    }

    /// Whether any pellet was eaten or respawned during the last step (`true`
    /// after [`Room::new`] until the first step).
    pub fn pellets_changed(&self) -> bool {
        self.room
            .world()
            .get_resource::<PelletsChanged>()
            .is_some_and(|c| c.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kinematics;
    use tickroom::RoomRng;

    const A: PlayerId = PlayerId(1);
    const B: PlayerId = PlayerId(2);

    impl Room {
        /// Test hook: teleports a player and sets its velocity.
        fn place(&mut self, id: PlayerId, pos: Vec2, vel: Vec2) {
            let entity = self.entity(id).expect("player");
            let world = self.room.world_mut();
            if let Some(mut p) = world.get_mut::<Position>(entity) {
                p.0 = pos;
            }
            if let Some(mut v) = world.get_mut::<Velocity>(entity) {
                v.0 = vel;
            }
        }

        /// Test hook: moves a pellet.
        fn place_pellet(&mut self, id: u16, pos: Vec2) {
            let world = self.room.world_mut();
            let entity = world.resource::<PelletSlots>().0[usize::from(id)];
            if let Some(mut p) = world.get_mut::<Position>(entity) {
                p.0 = pos;
            }
        }

        fn steer_of(&self, id: PlayerId) -> Vec2 {
            self.room
                .world()
                .get::<Steer>(self.entity(id).expect("player"))
                .map_or(Vec2::NAN, |s| s.0)
        }

        fn pellet_state(&self, id: u16) -> PelletState {
            let world = self.room.world();
            let slots = &world.resource::<PelletSlots>().0;
            *world
                .get::<PelletState>(slots[usize::from(id)])
                .expect("pellet")
        }

        fn pellet_pos(&self, id: u16) -> Vec2 {
            let world = self.room.world();
            let slots = &world.resource::<PelletSlots>().0;
            world
                .get::<Position>(slots[usize::from(id)])
                .expect("pellet")
                .0
        }
    }

    fn no_pellets() -> SimConfig {
        SimConfig {
            pellet_count: 0,
            ..Default::default()
        }
    }

    fn player(room: &Room, id: PlayerId) -> PlayerView {
        let mut out = Vec::new();
        room.read_players(&mut out);
        out.into_iter()
            .find(|p| p.id == id)
            .expect("player present")
    }

    fn room_with(ids: &[PlayerId], config: SimConfig) -> Room {
        let mut room = Room::new(config);
        for &id in ids {
            assert!(room.add_player(id));
        }
        room
    }

    #[test]
    fn room_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Room>();
    }

    #[test]
    fn new_room_has_all_pellets_live_inside_the_arena() {
        let config = SimConfig::default();
        let room = Room::new(config.clone());
        let mut pellets = Vec::new();
        room.read_pellets(&mut pellets);
        assert_eq!(pellets.len(), config.pellet_count);
        for (i, p) in pellets.iter().enumerate() {
            assert_eq!(usize::from(p.id), i);
            let r = config.pellet_radius;
            assert!(p.pos.x >= r && p.pos.x <= config.width - r, "{p:?}");
            assert!(p.pos.y >= r && p.pos.y <= config.height - r, "{p:?}");
        }
        assert!(room.pellets_changed());
        assert_eq!(room.tick(), 0);
        assert_eq!(room.player_count(), 0);
    }

    #[test]
    fn add_and_remove_semantics() {
        let mut room = Room::new(no_pellets());
        assert!(room.add_player(A));
        assert!(!room.add_player(A), "duplicate id");
        assert!(room.add_player(B));
        assert_eq!(room.player_count(), 2);
        let a = player(&room, A);
        assert_eq!((a.vel, a.score), (Vec2::ZERO, 0));
        assert!(room.remove_player(A));
        assert!(!room.remove_player(A), "already removed");
        assert!(!room.remove_player(PlayerId(99)));
        assert_eq!(room.player_count(), 1);
        let mut out = Vec::new();
        room.read_players(&mut out);
        assert_eq!(out.iter().map(|p| p.id).collect::<Vec<_>>(), vec![B]);
        // Re-adding a removed id works and starts fresh.
        assert!(room.add_player(A));
        room.read_players(&mut out);
        assert_eq!(out.iter().map(|p| p.id).collect::<Vec<_>>(), vec![A, B]);
    }

    #[test]
    fn spawns_do_not_overlap_when_there_is_room() {
        let config = no_pellets();
        let ids: Vec<PlayerId> = (0..40).map(PlayerId).collect();
        let room = room_with(&ids, config.clone());
        let mut out = Vec::new();
        room.read_players(&mut out);
        assert_eq!(out.len(), 40);
        for (i, a) in out.iter().enumerate() {
            for b in &out[i + 1..] {
                assert!(
                    a.pos.distance(b.pos) >= 2.0 * config.player_radius,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn read_players_is_sorted_by_id() {
        let ids = [PlayerId(7), PlayerId(3), PlayerId(11), PlayerId(0)];
        let room = room_with(&ids, no_pellets());
        let mut out = vec![player(&room, PlayerId(7))]; // stale content is cleared
        room.read_players(&mut out);
        let got: Vec<u32> = out.iter().map(|p| p.id.0).collect();
        assert_eq!(got, vec![0, 3, 7, 11]);
    }

    #[test]
    fn steering_accelerates_in_the_steer_direction() {
        let mut room = room_with(&[A], no_pellets());
        room.place(A, Vec2::new(800.0, 500.0), Vec2::ZERO);
        let dir = Vec2::new(0.6, -0.8);
        room.step(&[(A, dir)]);
        let a = player(&room, A);
        let k = Kinematics::from_config(room.config());
        assert_eq!(
            (a.pos, a.vel),
            k.step(Vec2::new(800.0, 500.0), Vec2::ZERO, dir)
        );
        assert!(a.vel.normalize().dot(dir) > 0.9999, "{:?}", a.vel);
        assert!(a.pos.x > 800.0 && a.pos.y < 500.0);
        assert_eq!(room.tick(), 1);
    }

    #[test]
    fn steer_persists_across_steps_until_next_input() {
        let mut room = room_with(&[A], no_pellets());
        room.place(A, Vec2::new(200.0, 500.0), Vec2::ZERO);
        room.step(&[(A, Vec2::X)]);
        let v1 = player(&room, A).vel.x;
        room.step(&[]);
        room.step(&[]);
        let v3 = player(&room, A).vel.x;
        assert!(
            v3 > v1,
            "still accelerating with no new input: {v1} -> {v3}"
        );
        assert_eq!(room.steer_of(A), Vec2::X);
        // A new input replaces the held steer; zero steer means coasting.
        room.step(&[(A, Vec2::ZERO)]);
        assert_eq!(room.steer_of(A), Vec2::ZERO);
        assert!(player(&room, A).vel.x < v3);
    }

    #[test]
    fn later_input_for_same_player_wins() {
        let mut room = room_with(&[A], no_pellets());
        room.step(&[(A, Vec2::X), (A, Vec2::Y), (A, -Vec2::Y)]);
        assert_eq!(room.steer_of(A), -Vec2::Y);
    }

    #[test]
    fn speed_never_exceeds_max_speed() {
        let mut room = room_with(&[A], no_pellets());
        let max = room.config().max_speed;
        // Bounce between the walls at full steer for a while.
        for i in 0..400 {
            let dir = if (i / 60) % 2 == 0 {
                Vec2::new(1.0, 0.3)
            } else {
                Vec2::new(-1.0, -0.2)
            };
            room.step(&[(A, dir)]);
            let speed = player(&room, A).vel.length();
            assert!(speed <= max * (1.0 + 1e-6), "tick {i}: {speed}");
        }
        // Long straight run reaches the cap (with these defaults the
        // friction-limited terminal speed is far above it).
        room.place(A, Vec2::new(20.0, 500.0), Vec2::ZERO);
        for _ in 0..30 {
            room.step(&[(A, Vec2::X)]);
        }
        let speed = player(&room, A).vel.length();
        assert!((speed - max).abs() < 1e-2, "{speed}");
    }

    #[test]
    fn coasting_decays_by_friction() {
        let mut room = room_with(&[A], no_pellets());
        room.place(A, Vec2::new(800.0, 500.0), Vec2::new(100.0, -50.0));
        // One second of coasting keeps `friction` of the velocity.
        for _ in 0..room.config().tick_rate_hz {
            room.step(&[]);
        }
        let v = player(&room, A).vel;
        let expect = Vec2::new(100.0, -50.0) * room.config().friction;
        assert!((v - expect).length() < 1e-3, "{v:?} vs {expect:?}");
    }

    #[test]
    fn players_stay_inside_and_outward_velocity_is_zeroed() {
        let config = no_pellets();
        let r = config.player_radius;
        let mut room = room_with(&[A], config.clone());
        room.place(
            A,
            Vec2::new(r + 1.0, config.height - r - 1.0),
            Vec2::new(-300.0, 300.0),
        );
        room.step(&[(A, Vec2::new(-1.0, 1.0))]);
        let a = player(&room, A);
        assert_eq!(a.pos, Vec2::new(r, config.height - r));
        assert_eq!(a.vel, Vec2::ZERO);
        // Along a wall: the tangential component survives.
        room.place(A, Vec2::new(800.0, r), Vec2::new(200.0, -200.0));
        room.step(&[]);
        let a = player(&room, A);
        assert_eq!(a.pos.y, r);
        assert_eq!(a.vel.y, 0.0);
        assert!(a.vel.x > 0.0);
        // Steering into a corner for a long time never leaves the arena.
        for _ in 0..100 {
            room.step(&[(A, Vec2::new(1.0, 1.0))]);
            let a = player(&room, A);
            assert!(a.pos.x >= r && a.pos.x <= config.width - r);
            assert!(a.pos.y >= r && a.pos.y <= config.height - r);
        }
    }

    #[test]
    fn overlapping_players_are_separated_and_bounce() {
        let config = no_pellets();
        let r = config.player_radius;
        let mut room = room_with(&[A, B], config);
        // Head-on, closing at 200 units/s each, already overlapping after movement.
        room.place(A, Vec2::new(500.0, 500.0), Vec2::new(200.0, 0.0));
        room.place(B, Vec2::new(530.0, 500.0), Vec2::new(-200.0, 0.0));
        room.step(&[]);
        let (a, b) = (player(&room, A), player(&room, B));
        assert!(
            (b.pos.distance(a.pos) - 2.0 * r).abs() < 1e-3,
            "separated to touching: {a:?} {b:?}"
        );
        assert!(a.pos.x < b.pos.x, "order kept");
        assert!(
            a.vel.x < 0.0 && b.vel.x > 0.0,
            "velocities exchanged: {a:?} {b:?}"
        );
        assert!((a.vel.x + b.vel.x).abs() < 1e-3, "momentum conserved");
        // Next step they move apart and no longer touch.
        room.step(&[]);
        let (a, b) = (player(&room, A), player(&room, B));
        assert!(b.pos.distance(a.pos) > 2.0 * r);
    }

    #[test]
    fn coincident_players_separate_deterministically() {
        let mut room = room_with(&[A, B], no_pellets());
        room.place(A, Vec2::new(400.0, 400.0), Vec2::ZERO);
        room.place(B, Vec2::new(400.0, 400.0), Vec2::ZERO);
        room.step(&[]);
        let (a, b) = (player(&room, A), player(&room, B));
        assert_eq!(a.pos, Vec2::new(418.0, 400.0), "lower id pushed towards +x");
        assert_eq!(b.pos, Vec2::new(382.0, 400.0));
    }

    #[test]
    fn bump_against_a_wall_stays_in_bounds() {
        let config = no_pellets();
        let r = config.player_radius;
        let mut room = room_with(&[A, B], config);
        room.place(A, Vec2::new(r, 500.0), Vec2::ZERO);
        room.place(B, Vec2::new(r + 10.0, 500.0), Vec2::ZERO);
        room.step(&[]);
        let (a, b) = (player(&room, A), player(&room, B));
        assert!(a.pos.x >= r && b.pos.x >= r, "{a:?} {b:?}");
    }

    /// Four pellets: 3 at (400, 400), the others far from everyone.
    fn pellet_room(respawn: u32) -> Room {
        let config = SimConfig {
            pellet_count: 4,
            pellet_respawn_ticks: respawn,
            ..Default::default()
        };
        let mut room = room_with(&[A, B], config);
        for id in 0..3 {
            room.place_pellet(id, Vec2::new(1000.0 + 100.0 * f32::from(id), 800.0));
        }
        room.place_pellet(3, Vec2::new(400.0, 400.0));
        room
    }

    #[test]
    fn pellet_under_player_is_eaten_once_and_respawns() {
        let mut room = pellet_room(5);
        let config = room.config().clone();
        // Both reach pellet 3 (17 and 19 < 24) without touching each other
        // (36 apart); the lower id gets it.
        room.place(A, Vec2::new(383.0, 400.0), Vec2::ZERO);
        room.place(B, Vec2::new(419.0, 400.0), Vec2::ZERO);
        room.step(&[]);
        assert_eq!(room.pellet_state(3), PelletState::Dead { respawn_in: 5 });
        assert!(room.pellets_changed());
        assert_eq!((player(&room, A).score, player(&room, B).score), (1, 0));
        let mut pellets = Vec::new();
        room.read_pellets(&mut pellets);
        assert_eq!(
            pellets.iter().map(|p| p.id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );

        // Staying put does not eat it again while dead.
        room.step(&[]);
        assert_eq!((player(&room, A).score, player(&room, B).score), (1, 0));
        assert!(!room.pellets_changed());
        assert_eq!(room.pellet_state(3), PelletState::Dead { respawn_in: 4 });

        // Nobody around for the rest: dead for respawn_ticks steps in total.
        room.remove_player(A);
        room.remove_player(B);
        for _ in 0..3 {
            room.step(&[]);
            assert!(!room.pellets_changed());
        }
        assert_eq!(room.pellet_state(3), PelletState::Dead { respawn_in: 1 });
        room.step(&[]);
        assert_eq!(room.pellet_state(3), PelletState::Live);
        assert!(room.pellets_changed());
        room.read_pellets(&mut pellets);
        assert_eq!(pellets.len(), 4);
        let p = room.pellet_pos(3);
        let r = config.pellet_radius;
        assert!(p.x >= r && p.x <= config.width - r && p.y >= r && p.y <= config.height - r);
        room.step(&[]);
        assert!(!room.pellets_changed());
    }

    #[test]
    fn pellet_exactly_at_reach_is_not_eaten() {
        let mut room = pellet_room(5);
        room.place(A, Vec2::new(424.0, 400.0), Vec2::ZERO);
        room.place(B, Vec2::new(1500.0, 100.0), Vec2::ZERO);
        room.step(&[]);
        assert_eq!(room.pellet_state(3), PelletState::Live);
        assert!(!room.pellets_changed());
        room.place(A, Vec2::new(423.9, 400.0), Vec2::ZERO);
        room.step(&[]);
        assert!(matches!(room.pellet_state(3), PelletState::Dead { .. }));
    }

    #[test]
    fn unknown_ids_ignored_and_bad_steer_sanitised() {
        let mut room = room_with(&[A], no_pellets());
        room.step(&[(PlayerId(404), Vec2::X)]);
        assert_eq!(room.player_count(), 1);
        assert_eq!(room.steer_of(A), Vec2::ZERO);
        room.step(&[(A, Vec2::new(f32::NAN, 0.5))]);
        assert_eq!(room.steer_of(A), Vec2::new(0.0, 0.5));
        room.step(&[(A, Vec2::new(1e30, 0.0))]);
        assert_eq!(room.steer_of(A), Vec2::X);
        room.step(&[(A, Vec2::new(f32::INFINITY, f32::NEG_INFINITY))]);
        assert_eq!(room.steer_of(A), Vec2::ZERO);
        let a = player(&room, A);
        assert!(a.pos.is_finite() && a.vel.is_finite());
        assert!(a.vel.length() <= room.config().max_speed * (1.0 + 1e-6));
    }

    #[test]
    fn same_seed_and_inputs_give_identical_rooms() {
        fn run(seed: u64) -> (Vec<PlayerView>, Vec<PelletView>, u64) {
            let config = SimConfig {
                seed,
                pellet_respawn_ticks: 7,
                ..Default::default()
            };
            let mut room = Room::new(config);
            let mut script = RoomRng::new(99);
            for id in 0..12 {
                room.add_player(PlayerId(id));
            }
            let mut inputs = Vec::new();
            for tick in 0..200u32 {
                inputs.clear();
                for id in 0..14 {
                    if script.next_f32() < 0.3 {
                        let dir =
                            Vec2::new(script.range_f32(-1.5, 1.5), script.range_f32(-1.5, 1.5));
                        inputs.push((PlayerId(id), dir));
                    }
                }
                if tick == 50 {
                    room.remove_player(PlayerId(3));
                }
                if tick == 80 {
                    room.add_player(PlayerId(20));
                }
                room.step(&inputs);
            }
            let (mut players, mut pellets) = (Vec::new(), Vec::new());
            room.read_players(&mut players);
            room.read_pellets(&mut pellets);
            (players, pellets, room.tick())
        }
        let first = run(5);
        assert_eq!(first, run(5));
        assert_eq!(first.2, 200);
        assert!(
            first.0.iter().map(|p| p.score).sum::<u32>() > 0,
            "someone ate something"
        );
        assert_ne!(
            first.1,
            run(6).1,
            "a different seed gives a different arena"
        );
    }

    #[test]
    fn invalid_config_does_not_panic() {
        let bad = SimConfig {
            width: 10.0,
            height: -4.0,
            tick_rate_hz: 0,
            friction: 0.0,
            pellet_count: 3,
            ..Default::default()
        };
        let mut room = Room::new(bad);
        room.add_player(A);
        room.add_player(B);
        room.step(&[(A, Vec2::X)]);
        let mut out = Vec::new();
        room.read_players(&mut out);
        room.read_pellets(&mut Vec::new());
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn debug_output_is_compact() {
        let room = Room::new(no_pellets());
        let s = format!("{room:?}");
        assert!(s.starts_with("Room {") && s.contains("tick: 0"), "{s}");
    }
}
