//! The arena's JS port (`assets/arena.js`, the demo's prediction model)
//! against its Rust rules: this test writes the fixture
//! `clients/js/test/sim_vectors.json` from [`tickroom_sim::movement_step`]
//! and fails when the committed one is stale; `clients/js/test/arena.test.mjs`
//! replays it and checks the JS computes the same numbers bit for bit.

/// The committed fixture `clients/js/test/sim_vectors.json` replays recorded
/// steering inputs through [`tickroom_sim::movement_step`] (rules 1–3) at
/// step rates of 20, 30, 40 and 60 Hz (a `--sim-rate` server steps at the
/// last two), and lists the per-step constants (`dt`, `friction^dt`) of
/// [`tickroom_sim::Kinematics`] at every rate up to `MAX_TICK_RATE_HZ`;
/// `clients/js/test/arena.test.mjs` checks that the client package's
/// port (`assets/arena.js`) agrees bit for bit. Regenerate after an intended rule
/// change with `UPDATE_VECTORS=1 cargo test -p tickroom-sim --test js_vectors`.
#[test]
fn sim_vectors_match_the_rust_movement_rules() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../clients/js/test/sim_vectors.json");
    let fresh = sim_vectors::generate();
    if std::env::var_os("UPDATE_VECTORS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("write clients/js/test/sim_vectors.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "clients/js/test/sim_vectors.json is out of date with tickroom_sim::movement_step; \
         regenerate it with `UPDATE_VECTORS=1 cargo test -p tickroom-sim --test js_vectors` \
         and check the JS port (`node --test clients/js/test/`)"
    );
}

mod sim_vectors {
    use tickroom_sim::{Kinematics, MAX_TICK_RATE_HZ, SimConfig, Vec2, movement_step};

    /// A number for the fixture; non-finite steering inputs become the
    /// strings "NaN", "inf" and "-inf" (JSON has no such numbers).
    fn n(v: f32) -> String {
        if v.is_nan() {
            "\"NaN\"".into()
        } else if v == f32::INFINITY {
            "\"inf\"".into()
        } else if v == f32::NEG_INFINITY {
            "\"-inf\"".into()
        } else {
            serde_json::to_string(&v).unwrap_or_default()
        }
    }

    /// Deterministic pseudo-random steering in [-1.2, 1.2]² (so some
    /// inputs are longer than 1 and get clamped).
    struct Lcg(u32);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((self.0 >> 8) as f32 / (1u32 << 24) as f32) * 2.4 - 1.2
        }
    }

    fn hold(steps: &mut Vec<Vec2>, steer: Vec2, n: usize) {
        steps.extend(std::iter::repeat_n(steer, n));
    }

    fn case(name: &str, config: &SimConfig, start: Vec2, inputs: &[Vec2]) -> String {
        let kin = Kinematics::from_config(config);
        let mut out = format!(
            "    {{\n      \"name\": \"{name}\",\n      \"tick_rate_hz\": {},\n      \"dt\": {},\n      \"friction_factor\": {},\n      \"arena\": {{ \"width\": {}, \"height\": {}, \"player_radius\": {}, \"pellet_radius\": {}, \"accel\": {}, \"max_speed\": {}, \"friction\": {} }},\n      \"start\": {{ \"pos\": [{}, {}], \"vel\": [0.0, 0.0] }},\n      \"steps\": [\n",
            config.tick_rate_hz,
            n(kin.dt),
            n(kin.friction_factor),
            n(config.width),
            n(config.height),
            n(config.player_radius),
            n(config.pellet_radius),
            n(config.accel),
            n(config.max_speed),
            n(config.friction),
            n(start.x),
            n(start.y),
        );
        let (mut pos, mut vel) = (start, Vec2::ZERO);
        for (i, steer) in inputs.iter().enumerate() {
            (pos, vel) = movement_step(pos, vel, *steer, config);
            out.push_str(&format!(
                "        [{}, {}, {}, {}, {}, {}]{}\n",
                n(steer.x),
                n(steer.y),
                n(pos.x),
                n(pos.y),
                n(vel.x),
                n(vel.y),
                if i + 1 < inputs.len() { "," } else { "" }
            ));
        }
        out.push_str("      ]\n    }");
        out
    }

    /// The default arena's script: into every wall, coasting, clamped,
    /// analogue and non-finite steering, then random holds; each steer is
    /// held `m` times as many steps (so at `m` times the step rate it
    /// lasts as long and reaches the same walls).
    fn default_script(rng: &mut Lcg, m: usize) -> Vec<Vec2> {
        let mut a = Vec::new();
        hold(&mut a, Vec2::new(1.0, 0.0), 30 * m); // into the right wall
        hold(&mut a, Vec2::new(-0.6, -0.8), 20 * m);
        hold(&mut a, Vec2::ZERO, 15 * m); // coasting on friction alone
        hold(&mut a, Vec2::new(3.0, 4.0), 10 * m); // longer than 1: clamped
        let wire = tickroom_sim::SteerInput { x: -90, y: 37 }.direction();
        hold(&mut a, wire, 10 * m); // as a wire input arrives
        hold(&mut a, Vec2::new(0.1, -0.05), 10 * m); // gentle analogue steer
        hold(&mut a, Vec2::new(f32::NAN, 0.5), 3 * m);
        hold(&mut a, Vec2::new(f32::INFINITY, f32::NEG_INFINITY), 2 * m);
        hold(&mut a, Vec2::new(1e20, -1e20), 2 * m); // |v|² overflows
        hold(&mut a, Vec2::new(-1.0, -1.0), 60 * m); // up into the top wall
        hold(&mut a, Vec2::new(-1.0, 0.0), 60 * m); // along it into the left wall
        hold(&mut a, Vec2::new(0.0, 1.0), 70 * m); // down to the bottom wall
        for _ in 0..12 {
            let steer = Vec2::new(rng.next(), rng.next());
            hold(&mut a, steer, 5 * m);
        }
        a
    }

    /// Random steering for the small arena, each held `m` steps.
    fn random_script(rng: &mut Lcg, m: usize) -> Vec<Vec2> {
        let mut b = Vec::new();
        for _ in 0..40 {
            let steer = Vec2::new(rng.next(), rng.next());
            hold(&mut b, steer, m);
        }
        b
    }

    /// `[rate, dt, friction^dt]` of [`Kinematics`] for every step rate
    /// up to `MAX_TICK_RATE_HZ`, at the default friction and at `other`.
    fn rates(other: f32) -> String {
        let rows: Vec<String> = (1..=MAX_TICK_RATE_HZ)
            .map(|rate| {
                let at = |friction| {
                    Kinematics::from_config(&SimConfig {
                        tick_rate_hz: rate,
                        friction,
                        ..SimConfig::default()
                    })
                };
                let (d, o) = (at(SimConfig::default().friction), at(other));
                format!(
                    "    [{rate}, {}, {}, {}]",
                    n(d.dt),
                    n(d.friction_factor),
                    n(o.friction_factor)
                )
            })
            .collect();
        rows.join(",\n")
    }

    pub fn generate() -> String {
        let default = SimConfig::default();
        let mut rng = Lcg(0x7157);
        let a = default_script(&mut rng, 1);
        let small = SimConfig {
            width: 300.0,
            height: 200.0,
            player_radius: 10.0,
            accel: 2000.0,
            max_speed: 500.0,
            friction: 0.2,
            tick_rate_hz: 30,
            ..SimConfig::default()
        };
        let b = random_script(&mut rng, 3);
        // The rates a `--sim-rate` server steps at (60 Hz: three steps
        // per 20 Hz frame).
        let mut rng = Lcg(0x60);
        let at60 = SimConfig {
            tick_rate_hz: 60,
            ..SimConfig::default()
        };
        let a60 = default_script(&mut rng, 3);
        let small40 = SimConfig {
            tick_rate_hz: 40,
            ..small.clone()
        };
        let b40 = random_script(&mut rng, 4);
        format!(
            "{{\n  \"about\": \"Generated by crates/sim/tests/js_vectors.rs from tickroom_sim::movement_step; regenerate with UPDATE_VECTORS=1 cargo test -p tickroom-sim --test js_vectors. Each case: the step rate, Kinematics' dt and friction^dt, and each step: [steer_x, steer_y, pos_x, pos_y, vel_x, vel_y] after the step. rates: [step_rate_hz, dt, friction^dt at rates_friction[0], at rates_friction[1]].\",\n  \"cases\": [\n{},\n{},\n{},\n{}\n  ],\n  \"rates_friction\": [{}, {}],\n  \"rates\": [\n{}\n  ]\n}}\n",
            case("default_arena_20hz", &default, Vec2::new(1500.0, 500.0), &a),
            case("small_arena_30hz", &small, Vec2::new(150.0, 100.0), &b),
            case("default_arena_60hz", &at60, Vec2::new(1500.0, 500.0), &a60),
            case("small_arena_40hz", &small40, Vec2::new(150.0, 100.0), &b40),
            n(default.friction),
            n(small.friction),
            rates(small.friction),
        )
    }
}
