//! The arena through the engine's calls (the way the server will host it):
//! registered by name, configured from JSON, steered with encoded inputs,
//! read out as generic frames. Its frames say exactly what the arena's own
//! API says about the same room, quantized as the wire carries it.

use tickroom::protocol::state::{Frame, Value};
use tickroom::{Games, PlayerId};
use tickroom_sim::{Arena, ArenaConfig, POS_SCALE, Room, SimConfig, SteerInput};

fn games() -> Games {
    let mut g = Games::new();
    g.register::<Arena>().expect("the arena registers");
    g
}

fn steer_bytes(room: &dyn tickroom::Room, x: i8, y: i8) -> Vec<u8> {
    let mut bytes = Vec::new();
    room.catalogue()
        .encode_input(&SteerInput { x, y }, &mut bytes);
    bytes
}

fn fixed(v: f32, scale: u32) -> Value {
    Value::Int((v * scale as f32).round() as i64)
}

#[test]
fn the_schema_lists_the_arenas_components_and_its_steering_input() {
    let g = games();
    let schema = g.get("arena").unwrap().catalogue().schema().clone();
    let names: Vec<&str> = schema
        .components()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["pellet", "player", "pos", "score"],
        "velocities stay on the server"
    );
    assert_eq!(schema.input().name, "steer");
    assert_eq!(schema.version(), tickroom_sim::SIM_VERSION);
    // Two bytes per steering input at most (two i8 varints of 1..2 bytes each).
    assert!(g.get("arena").unwrap().catalogue().max_input_bytes() <= 18);
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let g = games();
    let arena = g.get("arena").unwrap();
    for (json, says) in [
        (
            serde_json::json!({"width": 20000.0}),
            "`width` must be at most",
        ),
        (serde_json::json!({"friction": 0.0}), "friction"),
        (serde_json::json!({"pellet_count": 70000}), "pellet_count"),
        (serde_json::json!({"tick_rate_hz": 60}), "unknown field"),
    ] {
        let err = arena.config(Some(&json)).expect_err("refused");
        assert!(err.message.contains(says), "{json}: {err}");
    }
    let canonical = arena
        .config(Some(&serde_json::json!({"pellet_count": 3})))
        .unwrap();
    assert_eq!(canonical["pellet_count"], 3);
    assert_eq!(canonical["width"], 1600.0);
}

#[test]
fn frames_built_through_the_engine_say_what_the_arenas_own_api_says() {
    let seed = 0x5eed;
    let config = SimConfig {
        seed,
        pellet_count: 40,
        width: 500.0,
        height: 400.0,
        ..SimConfig::default()
    };
    let g = games();
    let entry = g.get("arena").unwrap();
    let json = entry
        .config(Some(
            &serde_json::to_value(ArenaConfig::from(&config)).unwrap(),
        ))
        .unwrap();
    let mut engine = entry.new_room(&json, seed, config.tick_rate_hz).unwrap();
    let mut direct = Room::new(config);
    for id in 1..=6 {
        engine.join(PlayerId(id), &format!("p{id}")).unwrap();
        assert!(direct.add_player(PlayerId(id)));
    }
    let schema = engine.catalogue().schema().clone();
    let c = |n: &str| schema.component_id(n).unwrap();
    let mut frame = Frame::default();
    let (mut players, mut pellets) = (Vec::new(), Vec::new());
    let mut eaten = 0;
    for t in 0..200u32 {
        let mut inputs = Vec::new();
        for id in 1..=6u32 {
            if (t + id) % 4 == 0 {
                let s = SteerInput {
                    x: ((t * 37 + id * 11) % 255) as i8,
                    y: ((t * 13 + id * 7) % 255) as i8,
                };
                let bytes = steer_bytes(&*engine, s.x, s.y);
                engine.input(PlayerId(id), &bytes).unwrap();
                inputs.push((PlayerId(id), s.direction()));
            }
        }
        engine.step();
        direct.step(&inputs);
        engine.build_frame(t + 1, &mut frame).unwrap();
        direct.read_players(&mut players);
        direct.read_pellets(&mut pellets);
        let in_frame: Vec<_> = frame
            .entities()
            .filter(|e| e.get(c("player")).is_some())
            .collect();
        assert_eq!(in_frame.len(), players.len());
        for (e, p) in in_frame.iter().zip(&players) {
            assert_eq!(e.get(c("player")).unwrap().int(0), Some(p.id.0.into()));
            assert_eq!(
                e.get(c("pos")).unwrap(),
                [fixed(p.pos.x, POS_SCALE), fixed(p.pos.y, POS_SCALE)]
            );
            assert_eq!(e.get(c("score")).unwrap(), [Value::Int(p.score.into())]);
        }
        let live: Vec<_> = frame
            .entities()
            .filter(|e| e.get(c("pellet")).is_some())
            .collect();
        assert_eq!(
            live.len(),
            pellets.len(),
            "dead pellets leave the frame at tick {t}"
        );
        let mut slots: Vec<Value> = live
            .iter()
            .map(|e| e.get(c("pellet")).unwrap().get(0).unwrap().to_value())
            .collect();
        slots.sort_by_key(|v| if let Value::Int(n) = v { *n } else { -1 });
        let want: Vec<Value> = pellets.iter().map(|p| Value::Int(p.id.into())).collect();
        assert_eq!(slots, want);
        eaten = players.iter().map(|p| p.score).sum::<u32>();
    }
    assert!(
        eaten > 0,
        "the scenario eats pellets, so pellets leave and come back"
    );
}
