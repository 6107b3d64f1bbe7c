//! Room configs and inputs the game refuses, with messages that say which
//! field is wrong and why.

use serde_json::json;
use tickroom::Game;

use super::*;

fn refusal(config: serde_json::Value) -> String {
    let games = games();
    let entry = games.get("skirmish").unwrap();
    entry.config(Some(&config)).expect_err("refused").message
}

#[test]
fn the_defaults_are_the_specs_and_every_field_is_shown() {
    let games = games();
    let canonical = games.get("skirmish").unwrap().config(None).unwrap();
    assert_eq!(
        canonical,
        json!({
            "size": 6000.0, "view_radius": 900.0, "ship_speed": 300.0,
            "bullet_speed": 900.0, "bullet_range": 1200.0, "fire_cooldown_steps": 4,
            "respawn_s": 3.0, "pickups": 40, "pickup_respawn_s": 10.0, "walls": 12,
            "spawn_points": [],
        })
    );
}

#[test]
fn bad_configs_are_refused_with_the_field_and_the_bounds() {
    for (config, says) in [
        (
            json!({"size": 10}),
            "`size` must be in [1000, 100000], got 10",
        ),
        (
            json!({"view_radius": 0}),
            "`view_radius` must be more than 0 and at most 100000, got 0",
        ),
        (
            json!({"ship_speed": 5000}),
            "`ship_speed` must be more than 0",
        ),
        (json!({"bullet_speed": -1}), "`bullet_speed`"),
        (json!({"bullet_range": 0}), "`bullet_range`"),
        (
            json!({"fire_cooldown_steps": 0}),
            "`fire_cooldown_steps` must be in [1, 10000], got 0",
        ),
        (
            json!({"respawn_s": 61}),
            "`respawn_s` must be more than 0 and at most 60",
        ),
        (
            json!({"pickups": 5000}),
            "`pickups` must be in [0, 1000], got 5000",
        ),
        (json!({"pickup_respawn_s": 0}), "`pickup_respawn_s`"),
        (
            json!({"walls": 101}),
            "`walls` must be in [0, 100], got 101",
        ),
        (json!({"walls": "many"}), "walls: invalid type"),
        (
            json!({"spawn_points": [[100, 100], [10, 3000]]}),
            "`spawn_points[1]` must be on the map, each coordinate in [20, 5980] for `size` 6000, got [10.0, 3000.0]",
        ),
        (
            json!({"size": 1000, "spawn_points": [[990, 500]]}),
            "`spawn_points[0]` must be on the map, each coordinate in [20, 980]",
        ),
        (
            json!({"spawn_points": vec![[100, 100]; 1001]}),
            "`spawn_points` may list at most 1000 points, got 1001",
        ),
        (
            json!({"spawn_points": [[1, 2, 3]]}),
            "spawn_points[0]: invalid length 3",
        ),
        (json!({"tick_rate_hz": 60}), "unknown field `tick_rate_hz`"),
    ] {
        let message = refusal(config.clone());
        assert!(message.contains(says), "{config}: {message}");
    }
}

#[test]
fn inputs_outside_the_specs_ranges_are_refused() {
    let ok = input(-127, 127, std::f32::consts::PI, true);
    assert_eq!(Skirmish::validate_input(&ok), Ok(()));
    // -π as the wire carries it: rounded to a thousandth, just past -π.
    let wire_pi = (std::f32::consts::PI * 1000.0).round() / 1000.0;
    let ok = input(0, 0, -wire_pi, false);
    assert_eq!(Skirmish::validate_input(&ok), Ok(()));
    for bad in [
        input(i8::MIN, 0, 0.0, false),
        input(0, i8::MIN, 0.0, false),
        input(0, 0, 3.2, false),
        input(0, 0, f32::NAN, false),
    ] {
        assert!(Skirmish::validate_input(&bad).is_err(), "{bad:?}");
    }
}
