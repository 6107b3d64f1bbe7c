//! `docs/game-api.md` shows the example game exactly as it is compiled:
//! every line of `examples/dots/game.rs` and `main.rs` is in the page, so
//! the documented game is the one CI builds, and the game itself plays as
//! the page says (inputs in arrival order, waves to everyone else).

use std::path::Path;

#[path = "../examples/dots/game.rs"]
mod game;

use game::{Dot, Dots, Step, Waved};
use tickroom::protocol::state::{Value, decode_event};
use tickroom::{Audience, Games, OutEvent, PlayerId};

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_page_shows_the_example_as_it_is_compiled() {
    let page = read("../../docs/game-api.md");
    for file in ["examples/dots/game.rs", "examples/dots/main.rs"] {
        let code = read(file);
        assert!(
            page.contains(&format!("```rust\n{code}```")),
            "docs/game-api.md does not show {file} as it is: paste it again"
        );
    }
}

#[test]
fn dots_registers_plays_and_sends_waves_to_everyone_else() {
    let mut games = Games::new();
    games.register::<Dots>().expect("dots registers");
    let entry = games.get("dots").expect("registered");
    assert!(
        entry
            .config(Some(&serde_json::json!({"size": -1})))
            .is_err()
    );
    let config = entry
        .config(Some(&serde_json::json!({"speed": 1.0})))
        .unwrap();
    let mut room = entry.new_room(&config, 3, 20).unwrap();
    room.join(PlayerId(1), "a").unwrap();
    room.join(PlayerId(2), "b").unwrap();
    let schema = room.catalogue().schema().clone();
    let dot = schema.component_id("dot").expect("dot");
    let mut frame = tickroom::protocol::state::Frame::default();
    room.build_frame(0, &mut frame).unwrap();
    let at = |f: &tickroom::protocol::state::Frame, player: u32| -> Vec<Value> {
        let p = schema.component_id("player").unwrap();
        f.entities()
            .find(|e| e.get(p).is_some_and(|v| v.int(0) == Some(player.into())))
            .and_then(|e| e.get(dot))
            .expect("the player's dot")
            .to_vec()
    };
    let before = at(&frame, 1);
    for step in [
        Step {
            dx: 1,
            dy: 0,
            wave: false,
        },
        Step {
            dx: 1,
            dy: 0,
            wave: true,
        },
    ] {
        let mut bytes = Vec::new();
        room.catalogue().encode_input(&step, &mut bytes);
        room.input(PlayerId(1), &bytes).unwrap();
    }
    room.step();
    room.build_frame(1, &mut frame).unwrap();
    let after = at(&frame, 1);
    let x = |v: &[Value]| match v[0] {
        Value::Int(n) => n,
        Value::Text(_) => -1,
    };
    // Two steps of 1 unit (tenths on the wire), unless a wall stopped it.
    assert!(
        x(&after) == x(&before) + 20 || x(&after) == 1000,
        "{before:?} -> {after:?}"
    );
    let mut events = Vec::new();
    room.drain_events(&mut events);
    let [OutEvent { to, bytes }] = &events[..] else {
        panic!("one wave: {events:?}")
    };
    assert_eq!(*to, Audience::AllBut(PlayerId(1)));
    let mut values = Vec::new();
    let id = decode_event(&schema, bytes, &mut values).unwrap();
    assert_eq!(schema.events()[id].name, "waved");
    assert_eq!(values, [Value::Int(1)]);
    let _ = (Dot::default(), Waved { by: 0 });
}
