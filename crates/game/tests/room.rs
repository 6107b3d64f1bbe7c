//! A room of a game that is not the arena ("drops", tests/support/drops.rs),
//! driven step by step through the engine's calls: players, discrete inputs
//! in arrival order, entities spawned and despawned every step, events to
//! one, all and all but one, and frames a client rebuilds exactly.

extern crate tickroom_game as tickroom;

#[path = "support/drops.rs"]
mod drops;

use drops::{Act, Drops, DropsConfig};
use tickroom::protocol::state::{self, Frame, Value};
use tickroom::{Audience, Departure, Games, InputError, OutEvent, PlayerId, Room};

fn games() -> Games {
    let mut g = Games::new();
    g.register::<Drops>().expect("drops registers");
    g
}

fn room(config: serde_json::Value, seed: u64) -> Box<dyn Room> {
    let games = games();
    let entry = games.get("drops").expect("registered");
    let config = entry.config(Some(&config)).expect("valid config");
    entry.new_room(&config, seed, 20).expect("room")
}

fn input(room: &dyn Room, act: Act) -> Vec<u8> {
    let mut bytes = Vec::new();
    room.catalogue().encode_input(&act, &mut bytes);
    bytes
}

fn frame(room: &mut dyn Room, tick: u32) -> Frame {
    let mut f = Frame::default();
    room.build_frame(tick, &mut f).expect("frame builds");
    f
}

/// Entities in `f` that have component `name`.
fn with(room: &dyn Room, f: &Frame, name: &str) -> Vec<u32> {
    let c = room
        .catalogue()
        .schema()
        .component_id(name)
        .expect("component");
    f.entities()
        .filter(|e| e.get(c).is_some())
        .map(|e| e.id())
        .collect()
}

fn value(room: &dyn Room, f: &Frame, id: u32, comp: &str, slot: usize) -> Value {
    let c = room
        .catalogue()
        .schema()
        .component_id(comp)
        .expect("component");
    f.get(id)
        .and_then(|e| e.get(c))
        .and_then(|v| v.get(slot))
        .expect("entity has it")
        .to_value()
}

#[test]
fn the_schema_names_the_game_and_lists_its_components_sorted_with_the_engines_player() {
    let registered = games();
    let schema = registered
        .get("drops")
        .unwrap()
        .catalogue()
        .schema()
        .clone();
    assert_eq!(schema.game(), "drops");
    assert_eq!(schema.version(), 1);
    let names: Vec<&str> = schema
        .components()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["drop", "player", "pos", "rain", "score"]);
    let events: Vec<&str> = schema.events().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(events, ["dropped", "scored"]);
    assert_eq!(schema.input().name, "act");
    // The same declarations give the same schema, byte for byte.
    assert_eq!(
        games().get("drops").unwrap().catalogue().schema().hash(),
        schema.hash()
    );
}

#[test]
fn registering_twice_and_bad_configs_are_refused_with_reasons() {
    let mut g = games();
    assert!(matches!(
        g.register::<Drops>(),
        Err(tickroom::RegisterError::Duplicate("drops"))
    ));
    let entry = g.get("drops").unwrap();
    let err = entry
        .config(Some(&serde_json::json!({"ttl": 0})))
        .unwrap_err();
    assert!(err.message.contains("ttl must be at least 1"), "{err}");
    let err = entry
        .config(Some(&serde_json::json!({"speed": 3})))
        .unwrap_err();
    assert!(err.message.contains("unknown field"), "{err}");
    let err = entry
        .config(Some(&serde_json::json!({"ttl": "x"})))
        .unwrap_err();
    assert!(err.message.starts_with("ttl: invalid type"), "{err}");
    // Defaults are filled in.
    assert_eq!(
        entry.config(Some(&serde_json::json!({"ttl": 5}))).unwrap(),
        serde_json::json!({"ttl": 5, "rain_steps": 1})
    );
    assert_eq!(
        entry.config(None).unwrap(),
        serde_json::to_value(DropsConfig::default()).unwrap()
    );
}

#[test]
fn a_joined_player_is_a_replicated_entity_with_its_name_and_the_games_components() {
    let mut r = room(serde_json::json!({}), 7);
    r.join(PlayerId(4), "ada").unwrap();
    let f = frame(&mut *r, 0);
    let players = with(&*r, &f, "player");
    assert_eq!(players.len(), 1);
    let id = players[0];
    assert_eq!(value(&*r, &f, id, "player", 0), Value::Int(4));
    assert_eq!(value(&*r, &f, id, "player", 1), Value::Text("ada".into()));
    assert_eq!(value(&*r, &f, id, "player", 2), Value::Int(1));
    assert_eq!(with(&*r, &f, "score"), [id]);
    assert!(
        r.join(PlayerId(4), "again").is_err(),
        "one entity per player id"
    );

    r.disconnected(PlayerId(4));
    let f = frame(&mut *r, 1);
    assert_eq!(
        value(&*r, &f, id, "player", 2),
        Value::Int(0),
        "shown as away"
    );
    r.resumed(PlayerId(4));
    let f = frame(&mut *r, 2);
    assert_eq!(value(&*r, &f, id, "player", 2), Value::Int(1));
    assert!(r.leave(PlayerId(4), Departure::Left));
    let f = frame(&mut *r, 3);
    assert!(with(&*r, &f, "player").is_empty(), "its entity is gone");
    assert!(!r.leave(PlayerId(4), Departure::Left));
    assert_eq!(r.player_count(), 0);
}

#[test]
fn every_input_between_two_steps_applies_in_arrival_order() {
    let mut r = room(serde_json::json!({"ttl": 3}), 1);
    r.join(PlayerId(1), "a").unwrap();
    let f = frame(&mut *r, 0);
    let me = with(&*r, &f, "player")[0];
    // Move +5, drop, move -2, drop: two drops at x = 5 and x = 3.
    for act in [
        Act { kind: 0, dx: 5 },
        Act { kind: 1, dx: 0 },
        Act { kind: 0, dx: -2 },
        Act { kind: 1, dx: 0 },
    ] {
        let bytes = input(&*r, act);
        r.input(PlayerId(1), &bytes).unwrap();
    }
    r.step();
    let f = frame(&mut *r, 1);
    assert_eq!(value(&*r, &f, me, "pos", 0), Value::Int(300));
    let drops = with(&*r, &f, "drop");
    assert_eq!(drops.len(), 2, "both presses landed");
    let mut xs: Vec<i64> = drops
        .iter()
        .map(|&d| match value(&*r, &f, d, "pos", 0) {
            Value::Int(n) => n,
            Value::Text(_) => -1,
        })
        .collect();
    xs.sort_unstable();
    assert_eq!(xs, [300, 500], "each drop where its press left the player");
    assert!(drops.iter().all(|&d| d > me), "net ids only grow");
    // A drop's owner is its owner's network id.
    for d in drops {
        assert_eq!(value(&*r, &f, d, "drop", 0), Value::Int(me.into()));
    }
}

#[test]
fn bad_inputs_are_refused_each_with_its_reason_and_nothing_is_queued() {
    let mut r = room(serde_json::json!({}), 1);
    r.join(PlayerId(1), "a").unwrap();
    let good = input(&*r, Act { kind: 1, dx: 0 });
    let too_long = vec![0u8; 64];
    assert!(matches!(
        r.input(PlayerId(1), &too_long),
        Err(InputError::TooLong { len: 64, .. })
    ));
    assert!(matches!(
        r.input(PlayerId(1), &good[..1]),
        Err(InputError::Decode(_))
    ));
    let refused = input(&*r, Act { kind: 9, dx: 0 });
    assert_eq!(
        r.input(PlayerId(1), &refused),
        Err(InputError::Invalid("unknown action"))
    );
    assert_eq!(
        r.input(PlayerId(2), &good),
        Err(InputError::UnknownPlayer(PlayerId(2)))
    );
    r.step();
    let f = frame(&mut *r, 1);
    assert!(with(&*r, &f, "drop").is_empty());
}

#[test]
fn entities_spawn_and_despawn_every_step_and_events_reach_exactly_their_audience() {
    let mut r = room(serde_json::json!({"ttl": 2}), 3);
    r.join(PlayerId(1), "a").unwrap();
    r.join(PlayerId(2), "b").unwrap();
    let drop = input(&*r, Act { kind: 1, dx: 0 });
    r.input(PlayerId(1), &drop).unwrap();
    let mut events = Vec::new();
    let mut rain_seen = Vec::new();
    for tick in 1..=3 {
        r.step();
        let f = frame(&mut *r, tick);
        let rain = with(&*r, &f, "rain");
        assert_eq!(rain.len(), 1, "one rain drop lives each step");
        rain_seen.push(rain[0]);
        r.drain_events(&mut events);
        if tick == 2 {
            assert!(with(&*r, &f, "drop").is_empty(), "the drop ran out");
        }
    }
    rain_seen.dedup();
    assert_eq!(
        rain_seen.len(),
        3,
        "a new rain entity every step, never an id reused"
    );
    let schema = r.catalogue().schema().clone();
    let decoded: Vec<(Audience, String, Vec<Value>)> = events
        .iter()
        .map(|OutEvent { to, bytes }| {
            let mut v = Vec::new();
            let id = state::decode_event(&schema, bytes, &mut v).expect("event decodes");
            (*to, schema.events()[id].name.clone(), v)
        })
        .collect();
    assert_eq!(
        decoded,
        [
            (
                Audience::AllBut(PlayerId(1)),
                "dropped".into(),
                vec![Value::Int(1)]
            ),
            (
                Audience::Only(PlayerId(1)),
                "scored".into(),
                vec![Value::Int(1)]
            ),
        ]
    );
    assert!(!decoded[0].0.includes(PlayerId(1)) && decoded[0].0.includes(PlayerId(2)));
}

/// Runs a scripted session and returns every frame.
fn script(seed: u64) -> Vec<Frame> {
    let mut r = room(serde_json::json!({"ttl": 3, "rain_steps": 2}), seed);
    let mut frames = vec![frame(&mut *r, 0)];
    for tick in 1..40u32 {
        if tick % 7 == 1 {
            r.join(PlayerId(tick), &format!("p{tick}")).unwrap();
        }
        if tick % 11 == 0 {
            r.leave(PlayerId(tick - 10), Departure::Expired);
        }
        for p in 1..tick {
            let act = Act {
                kind: u8::from((tick + p) % 3 == 0),
                dx: (tick as i16 % 5) - 2,
            };
            let bytes = input(&*r, act);
            let _ = r.input(PlayerId(p), &bytes);
        }
        r.step();
        frames.push(frame(&mut *r, tick));
    }
    frames
}

#[test]
fn the_same_seed_and_calls_give_the_same_frames_and_a_client_rebuilds_each_one() {
    let a = script(99);
    assert_eq!(a, script(99), "deterministic");
    assert_ne!(a, script(100), "the seed reaches the game");
    let schema = games().get("drops").unwrap().catalogue().schema().clone();
    let mut enc = state::Encoder::default();
    let mut client: Option<Frame> = None;
    for f in &a {
        let mut bytes = Vec::new();
        enc.encode(&schema, client.as_ref(), f, &mut bytes);
        let got = state::apply(&schema, client.as_ref(), &bytes).expect("delta applies");
        assert_eq!(&got, f);
        client = Some(got);
    }
}
