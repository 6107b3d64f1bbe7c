//! Cross-language test vectors of the message codec: the browser client's
//! hand-written codec (`clients/js/src/protocol.js`) must produce and accept
//! exactly the bytes this crate does. This test builds one message per
//! interesting case, encodes it with the real codec and compares the result
//! with the committed fixture `clients/js/test/vectors.json` (each case: the
//! message as JSON fields plus its hex bytes), which
//! `clients/js/test/protocol.test.mjs` replays under node.
//!
//! - `client` and `server`: every message variant, with byte strings
//!   (`Input.data`, `Welcome.schema`, `State.events` and `State.frame`) as
//!   hex. The Welcomes carry real schemas and the States real frames and
//!   events ([`Schema::new`], [`Encoder`], [`encode_event`]), so the JS
//!   client can be run over them end to end.
//! - `client_refused`: client messages that encode but that
//!   [`decode_client`] refuses (a resume token or name too long, input data
//!   over [`MAX_INPUT_BYTES`], a message over the size limit); the JS decoder
//!   must refuse them too.
//! - `messages`: a game's inputs and events on their own
//!   ([`encode_values`], [`encode_event`]) for a schema with every slot kind,
//!   each with its slot values, and bytes the decoders must refuse
//!   (`clients/js/test/state.test.mjs` replays them at the slot level,
//!   `replica.test.mjs` by name).
//!
//! Frames themselves are the state codec's: `state_vectors.rs` covers them.
//!
//! The test fails when the committed file differs from what Rust generates;
//! after an intended wire change, regenerate it with
//! `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors`.

#[path = "support/fixture.rs"]
mod fixture;

use serde_json::{Value as Json, json};
use tickroom_protocol::state::{
    Encoder, Field, FieldType, Frame, Scalar, Schema, Shape, Value, decode_event, decode_values,
    encode_event, encode_values,
};
use tickroom_protocol::{
    Checksum, ClientMsg, ErrorMsg, Input, Join, MAX_CLIENT_MESSAGE_BYTES, MAX_EVENTS_PER_STATE,
    MAX_INPUT_BYTES, MAX_NAME_BYTES, MAX_SERVER_MESSAGE_BYTES, MAX_TOKEN_BYTES, PROTOCOL_VERSION,
    Ping, Pong, ServerMsg, State, Welcome, decode_client, decode_server, encode_client,
    encode_server,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Slot values as JSON: integers as decimal strings (JS numbers cannot hold
/// every i64), texts as `{"text": ...}` (as `state_vectors.json` writes them).
fn values_json(values: &[Value]) -> Json {
    values
        .iter()
        .map(|v| match v {
            Value::Int(n) => json!(n.to_string()),
            Value::Text(t) => json!({ "text": &**t }),
        })
        .collect()
}

fn client_json(msg: &ClientMsg) -> Json {
    match msg {
        ClientMsg::Join(j) => json!({
            "type": "Join", "version": j.version, "name": j.name, "resume": j.resume,
        }),
        ClientMsg::Input(i) => json!({
            "type": "Input", "seq": i.seq, "ack_tick": i.ack_tick, "data": hex(&i.data),
        }),
        ClientMsg::Ping(p) => json!({ "type": "Ping", "nonce": p.nonce }),
        ClientMsg::Leave => json!({ "type": "Leave" }),
    }
}

fn server_json(msg: &ServerMsg) -> Json {
    match msg {
        ServerMsg::Welcome(w) => json!({
            "type": "Welcome",
            "version": w.version,
            "player_id": w.player_id,
            "room": w.room,
            "game": w.game,
            "tick_rate_hz": w.tick_rate_hz,
            "sim_rate_hz": w.sim_rate_hz,
            "tick": w.tick,
            "schema": hex(&w.schema),
            "config": w.config,
            "resume_token": w.resume_token,
            "resumed": w.resumed,
        }),
        ServerMsg::State(s) => json!({
            "type": "State",
            "ack_seq": s.ack_seq,
            "events": s.events.iter().map(|e| hex(e)).collect::<Vec<_>>(),
            "checksum": s.checksum.0,
            "frame": hex(&s.frame),
        }),
        ServerMsg::Pong(p) => json!({ "type": "Pong", "nonce": p.nonce, "tick": p.tick }),
        ServerMsg::Error(e) => json!({ "type": "Error", "code": e.code, "message": e.message }),
    }
}

fn fixed(repr: Scalar, scale: u32) -> FieldType {
    FieldType::Fixed { repr, scale }
}

fn scalar(s: Scalar) -> FieldType {
    FieldType::Scalar(s)
}

/// The arena's schema as the game declares it (crates/sim/src/game.rs, with
/// the engine's `player` component), built by hand: this crate's tests do
/// not depend on the game.
fn arena_schema() -> Schema {
    let xy = |repr| {
        vec![
            Field::new("x", fixed(repr, 4)),
            Field::new("y", fixed(repr, 4)),
        ]
    };
    Schema::new(
        "arena",
        1,
        vec![
            Shape::new("pos", xy(Scalar::U16)),
            Shape::new("vel", xy(Scalar::I16)),
            Shape::new("score", vec![Field::new("points", scalar(Scalar::U32))]),
            Shape::new("pellet", vec![Field::new("slot", scalar(Scalar::U16))]),
            Shape::new(
                "player",
                vec![
                    Field::new("id", scalar(Scalar::U32)),
                    Field::new("name", FieldType::Text { max_bytes: 32 }),
                    Field::new("connected", scalar(Scalar::Bool)),
                ],
            ),
        ],
        Shape::new(
            "steer",
            vec![
                Field::new("x", scalar(Scalar::I8)),
                Field::new("y", scalar(Scalar::I8)),
            ],
        ),
        vec![],
    )
    .expect("the arena's schema")
}

/// A schema whose input and events have every slot kind (the `messages`
/// vectors, and the State with events).
fn message_schema() -> Schema {
    let every = || {
        vec![
            Field::new("flag", scalar(Scalar::Bool)),
            Field::new("small", scalar(Scalar::I8)),
            Field::new("byte", scalar(Scalar::U8)),
            Field::new("short", scalar(Scalar::I16)),
            Field::new("count", scalar(Scalar::U32)),
            Field::new("big", scalar(Scalar::U64)),
            Field::new("signed", scalar(Scalar::I64)),
            Field::new("angle", scalar(Scalar::F32)),
            Field::new("aim", fixed(Scalar::I16, 100)),
            Field::new("target", FieldType::Entity),
            Field::new("say", FieldType::Text { max_bytes: 8 }),
            Field::new(
                "cells",
                FieldType::Array {
                    item: Box::new(scalar(Scalar::U8)),
                    len: 3,
                },
            ),
        ]
    };
    Schema::new(
        "cards",
        7,
        vec![Shape::new(
            "hand",
            vec![Field::new("cards", scalar(Scalar::U8))],
        )],
        Shape::new("play", every()),
        vec![
            Shape::new("dealt", every()),
            Shape::new("ping", vec![]),
            Shape::new(
                "chat",
                vec![
                    Field::new("from", FieldType::Entity),
                    Field::new("text", FieldType::Text { max_bytes: 64 }),
                ],
            ),
        ],
    )
    .expect("the message schema")
}

/// Values for the `every()` shape of [`message_schema`].
#[allow(clippy::too_many_arguments)]
fn every(
    flag: bool,
    small: i8,
    byte: u8,
    short: i16,
    count: u32,
    big: u64,
    signed: i64,
    angle: f32,
    aim: i16,
    target: u32,
    say: &str,
    cells: [u8; 3],
) -> Vec<Value> {
    let mut v = vec![
        Value::Int(flag.into()),
        Value::Int(small.into()),
        Value::Int(byte.into()),
        Value::Int(short.into()),
        Value::Int(count.into()),
        Value::Int(big as i64),
        Value::Int(signed),
        Value::Int(angle.to_bits().into()),
        Value::Int(aim.into()),
        Value::Int(target.into()),
        Value::Text(say.into()),
    ];
    v.extend(cells.iter().map(|&c| Value::Int(c.into())));
    v
}

/// Two frames of the arena: a player and two pellets, then the player moved.
fn arena_frames(s: &Schema) -> (Frame, Frame) {
    let id = |name| s.component_id(name).expect("component");
    let make = |tick: u32, x: i64, score: i64| {
        let mut f = Frame::new(tick);
        f.begin(1).expect("ascending");
        f.set(s, id("pellet"), &[Value::Int(0)]).expect("fits");
        f.set(s, id("pos"), &[Value::Int(96), Value::Int(96)])
            .expect("fits");
        f.begin(2).expect("ascending");
        f.set(s, id("pellet"), &[Value::Int(1)]).expect("fits");
        f.set(s, id("pos"), &[Value::Int(6_000), Value::Int(3_000)])
            .expect("fits");
        f.begin(7).expect("ascending");
        f.set(
            s,
            id("player"),
            &[Value::Int(3), Value::Text("Zoë".into()), Value::Int(1)],
        )
        .expect("fits");
        f.set(s, id("pos"), &[Value::Int(x), Value::Int(2_000)])
            .expect("fits");
        f.set(s, id("score"), &[Value::Int(score)]).expect("fits");
        f.set(s, id("vel"), &[Value::Int(-1_280), Value::Int(0)])
            .expect("fits");
        f
    };
    (make(100, 3_200, 0), make(101, 3_136, 1))
}

/// A resume token as the server makes them for room `lobby`
/// (`base64url(payload).base64url(tag)`; the codec treats it as any string).
const LOBBY_TOKEN: &str = "BWxvYmJ5BwAAADQSvu_erQAA.q3Xr0Xk1n2t3gG4m8tPq-6Wv0yq2cF_7u0XbJm1e3kQ";

/// The token a resumed Welcome brings (a new one every time).
const RESUMED_TOKEN: &str = "BWxvYmJ5BwAAAMzMu6qZiAAA.Wc0aI8lq7m3oV_2x9Xr4t1NnJ8kZpQ-eYb6d5fGh0sA";

/// The arena's default config, as the server puts it in a Welcome.
const ARENA_CONFIG: &str = r#"{"width":1600.0,"height":1000.0,"player_radius":18.0,"pellet_radius":6.0,"accel":1400.0,"max_speed":320.0,"friction":0.05,"pellet_count":100,"pellet_respawn_ticks":40}"#;

/// A token of exactly [`MAX_TOKEN_BYTES`], the longest the server accepts.
fn longest_token() -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut token: String = (0..MAX_TOKEN_BYTES)
        .map(|i| char::from(alphabet[(i * 7) % alphabet.len()]))
        .collect();
    token.replace_range(103..104, ".");
    token
}

fn server_cases() -> Vec<(&'static str, ServerMsg)> {
    let arena = arena_schema();
    let cards = message_schema();
    let mut enc = Encoder::default();
    let (f100, f101) = arena_frames(&arena);
    let mut scratch = Vec::new();
    let mut full = Vec::new();
    enc.encode(&arena, None, &f100, &mut full);
    let mut delta = Vec::new();
    enc.encode(&arena, Some(&f100), &f101, &mut delta);
    let event = |name: &str, values: &[Value]| {
        let mut out = Vec::new();
        let id = cards.event_id(name).expect("event");
        encode_event(&cards, id, values, &mut out).expect("encodes");
        out
    };
    let welcome = |player_id, room: &str, tick, resume_token: &str, resumed| Welcome {
        version: PROTOCOL_VERSION,
        player_id,
        room: room.into(),
        game: "arena".into(),
        tick_rate_hz: 20,
        sim_rate_hz: 20,
        tick,
        schema: arena.encode(),
        config: ARENA_CONFIG.into(),
        resume_token: resume_token.into(),
        resumed,
    };
    vec![
        (
            "welcome_arena",
            ServerMsg::Welcome(welcome(7, "lobby", 0, LOBBY_TOKEN, false)),
        ),
        (
            "welcome_resumed",
            ServerMsg::Welcome(welcome(7, "lobby", 1_234, RESUMED_TOKEN, true)),
        ),
        (
            "welcome_empty_token_not_resumed_60hz_steps",
            ServerMsg::Welcome(Welcome {
                player_id: 250,
                room: "r".into(),
                sim_rate_hz: 60,
                tick: 251,
                ..welcome(0, "", 0, "", false)
            }),
        ),
        (
            "welcome_another_game_large_varints",
            ServerMsg::Welcome(Welcome {
                version: u16::MAX,
                player_id: 4_000_000_000,
                room: "salle-été_2.b".into(),
                game: "cards".into(),
                tick_rate_hz: 251,
                sim_rate_hz: 502,
                tick: 65_536,
                schema: cards.encode(),
                config: "{}".into(),
                resume_token: longest_token(),
                resumed: true,
            }),
        ),
        (
            "state_full_frame",
            ServerMsg::State(State {
                ack_seq: 0,
                events: vec![],
                checksum: Checksum(f100.checksum(&mut scratch)),
                frame: full,
            }),
        ),
        (
            "state_delta",
            ServerMsg::State(State {
                ack_seq: 12,
                events: vec![],
                checksum: Checksum(f101.checksum(&mut scratch)),
                frame: delta,
            }),
        ),
        // The documented layout example of codec.rs: the checksum is four
        // raw little-endian bytes, not a varint.
        (
            "state_documented_layout",
            ServerMsg::State(State {
                ack_seq: 300,
                events: vec![vec![1, 2]],
                checksum: Checksum(0xA1B2_C3D4),
                frame: vec![9, 0],
            }),
        ),
        (
            "state_with_events",
            ServerMsg::State(State {
                ack_seq: u32::MAX,
                events: vec![
                    event("ping", &[]),
                    event(
                        "chat",
                        &[Value::Int(70_000), Value::Text("gg — 日本".into())],
                    ),
                    event(
                        "dealt",
                        &every(
                            true,
                            -128,
                            255,
                            -300,
                            65_536,
                            u64::MAX,
                            i64::MIN,
                            -1.5,
                            -314,
                            0,
                            "",
                            [0, 251, 255],
                        ),
                    ),
                ],
                checksum: Checksum(0x00FB_FC00),
                frame: vec![251, 0x2C, 0x01, 0, 0, 0, 0],
            }),
        ),
        (
            "state_many_events_and_a_long_frame",
            ServerMsg::State(State {
                ack_seq: 251,
                events: (0..251).map(|_| event("ping", &[])).collect(),
                checksum: Checksum(0xFFFF_FFFF),
                frame: (0..300u32).map(|i| (i % 256) as u8).collect(),
            }),
        ),
        ("pong_small", ServerMsg::Pong(Pong { nonce: 1, tick: 2 })),
        (
            "pong_max",
            ServerMsg::Pong(Pong {
                nonce: u32::MAX,
                tick: 65_535,
            }),
        ),
        (
            "error",
            ServerMsg::Error(ErrorMsg {
                code: 65_535,
                message: "room full — try another \"room\"".into(),
            }),
        ),
    ]
}

fn client_cases() -> Vec<(&'static str, ClientMsg)> {
    let join = |name: &str, resume: &str| {
        ClientMsg::Join(Join {
            version: PROTOCOL_VERSION,
            name: name.into(),
            resume: resume.into(),
        })
    };
    let input = |seq, ack_tick, data: Vec<u8>| {
        ClientMsg::Input(Input {
            seq,
            ack_tick,
            data,
        })
    };
    let arena = arena_schema();
    let steer = |x: i64, y: i64| {
        let mut out = Vec::new();
        encode_values(
            arena.input_layout(),
            &[Value::Int(x), Value::Int(y)],
            &mut out,
        );
        out
    };
    vec![
        ("join_ascii", join("alice", "")),
        ("join_empty_name", join("", "")),
        ("join_utf8_name", join("Zoë 🎮", "")),
        ("join_24_byte_name", join("日本語日本語日本", "")),
        (
            "join_other_version",
            ClientMsg::Join(Join {
                version: 65_535,
                name: "v".into(),
                resume: String::new(),
            }),
        ),
        ("join_with_resume_token", join("alice", LOBBY_TOKEN)),
        ("join_empty_name_with_resume_token", join("", RESUMED_TOKEN)),
        (
            "join_longest_name_and_token",
            join("日本語日本語日本", &longest_token()),
        ),
        ("input_no_data", input(0, 0, vec![])),
        ("input_one_byte", input(1, 250, vec![0xFF])),
        ("input_documented_layout", input(300, 7, vec![0xFF, 0x7F])),
        ("input_arena_steer", input(251, 251, steer(-127, 127))),
        ("input_arena_steer_zero", input(65_536, 65_535, steer(0, 0))),
        (
            "input_longest_data",
            input(
                u32::MAX,
                4_000_000_000,
                (0..MAX_INPUT_BYTES).map(|i| (i * 7 % 256) as u8).collect(),
            ),
        ),
        ("ping_zero", ClientMsg::Ping(Ping { nonce: 0 })),
        ("ping_u32", ClientMsg::Ping(Ping { nonce: 70_000 })),
        ("ping_max", ClientMsg::Ping(Ping { nonce: u32::MAX })),
        ("leave", ClientMsg::Leave),
    ]
}

/// Client messages that encode, but that the server's `decode_client` refuses
/// (so the JS `decodeClient` must too): each breaks one protocol limit.
fn refused_client_cases() -> Vec<(&'static str, Vec<u8>)> {
    let join = |name: String, resume: String| {
        encode_client(&ClientMsg::Join(Join {
            version: PROTOCOL_VERSION,
            name,
            resume,
        }))
    };
    let over_limit = {
        // 1 (variant) + 1 (version) + 1 + 24 (name) + 1 + 229 (token): one byte too many.
        let bytes = join("n".repeat(MAX_NAME_BYTES), "t".repeat(229));
        assert_eq!(bytes.len(), MAX_CLIENT_MESSAGE_BYTES + 1);
        bytes
    };
    let input_over_limit = {
        // 1 + 1 + 1 + 3 (length 251) + 251 data bytes: over the size limit too.
        let bytes = encode_client(&ClientMsg::Input(Input {
            seq: 1,
            ack_tick: 1,
            data: vec![0; 251],
        }));
        assert!(bytes.len() > MAX_CLIENT_MESSAGE_BYTES);
        bytes
    };
    vec![
        (
            "join_token_one_byte_too_long",
            join("alice".into(), "t".repeat(MAX_TOKEN_BYTES + 1)),
        ),
        (
            "join_name_one_byte_too_long",
            join("n".repeat(MAX_NAME_BYTES + 1), String::new()),
        ),
        ("join_one_byte_over_the_size_limit", over_limit),
        (
            "input_data_one_byte_too_long",
            encode_client(&ClientMsg::Input(Input {
                seq: 1,
                ack_tick: 0,
                data: vec![7; MAX_INPUT_BYTES + 1],
            })),
        ),
        ("input_over_the_size_limit", input_over_limit),
    ]
}

/// The `messages` section: the message schema, inputs and events with
/// their values, and bytes the decoders refuse.
fn messages() -> Json {
    let s = message_schema();
    let input_cases: Vec<(&str, Vec<Value>)> = vec![
        (
            "zeros",
            every(false, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, "", [0, 0, 0]),
        ),
        (
            "lows",
            every(
                false,
                -128,
                0,
                -32_768,
                0,
                0,
                i64::MIN,
                f32::MIN,
                -32_768,
                0,
                "",
                [0, 0, 0],
            ),
        ),
        (
            "highs",
            every(
                true,
                127,
                255,
                32_767,
                u32::MAX,
                u64::MAX,
                i64::MAX,
                f32::MAX,
                32_767,
                u32::MAX,
                "12345678",
                [255, 255, 255],
            ),
        ),
        (
            "around_the_varint_markers",
            every(
                true,
                -126,
                251,
                -126,
                250,
                251,
                -126,
                0.1,
                125,
                65_536,
                "héllo",
                [250, 251, 252],
            ),
        ),
    ];
    let mut scratch = Vec::new();
    let inputs: Vec<Json> = input_cases
        .iter()
        .map(|(name, values)| {
            let mut bytes = Vec::new();
            encode_values(s.input_layout(), values, &mut bytes);
            decode_values(s.input_layout(), &bytes, &mut scratch).expect("decodes");
            assert_eq!(&scratch, values, "{name} round-trips");
            json!({ "name": name, "values": values_json(values), "hex": hex(&bytes) })
        })
        .collect();
    let event_cases: Vec<(&str, Vec<Value>)> = vec![
        ("ping", vec![]),
        ("chat", vec![Value::Int(1), Value::Text("".into())]),
        (
            "chat",
            vec![
                Value::Int(u32::MAX.into()),
                Value::Text("🎮".repeat(16).into()),
            ],
        ),
        ("dealt", input_cases[2].1.clone()),
        ("dealt", input_cases[3].1.clone()),
    ];
    let events: Vec<Json> = event_cases
        .iter()
        .map(|(name, values)| {
            let id = s.event_id(name).expect("event");
            let mut bytes = Vec::new();
            encode_event(&s, id, values, &mut bytes).expect("encodes");
            assert_eq!(decode_event(&s, &bytes, &mut scratch), Ok(id));
            assert_eq!(&scratch, values, "{name} round-trips");
            json!({ "name": name, "id": id, "values": values_json(values), "hex": hex(&bytes) })
        })
        .collect();

    // Bytes the decoders refuse, each from a valid one.
    let mut good = Vec::new();
    encode_values(s.input_layout(), &input_cases[0].1, &mut good);
    let mut refused_inputs = Vec::new();
    let mut refuse_input = |why: &str, bytes: Vec<u8>| {
        let err = decode_values(s.input_layout(), &bytes, &mut scratch).expect_err(why);
        refused_inputs.push(json!({ "why": why, "rust": err.to_string(), "hex": hex(&bytes) }));
    };
    refuse_input("truncated", good[..good.len() - 1].to_vec());
    refuse_input("trailing byte", [&good[..], &[0]].concat());
    refuse_input("empty", vec![]);
    let mut bad_bool = good.clone();
    bad_bool[0] = 2;
    refuse_input("a bool of 2", bad_bool);
    // `small` (i8) is the second slot: zig-zag 256 (= 128) is past 127.
    let mut wide = good.clone();
    wide.splice(1..2, [251, 0x00, 0x01]);
    refuse_input("an i8 of 128", wide);
    let mut marker = good.clone();
    marker[1] = 254;
    refuse_input("a bad varint marker", marker);
    let mut non_canonical = good.clone();
    non_canonical.splice(1..2, [251, 0, 0]);
    refuse_input("a non-canonical varint", non_canonical);
    let mut long = Vec::new();
    let mut values = input_cases[0].1.clone();
    values[10] = Value::Text("123456789".into());
    encode_values(s.input_layout(), &values, &mut long);
    refuse_input("a text past its limit", long);
    let mut bad_utf8 = Vec::new();
    values[10] = Value::Text("ab".into());
    encode_values(s.input_layout(), &values, &mut bad_utf8);
    let at = bad_utf8
        .windows(3)
        .position(|w| w == [2, b'a', b'b'])
        .expect("the text");
    bad_utf8[at + 1] = 0xFF;
    refuse_input("invalid UTF-8", bad_utf8);

    let mut refused_events = Vec::new();
    let mut refuse_event = |why: &str, bytes: Vec<u8>| {
        let err = decode_event(&s, &bytes, &mut scratch).expect_err(why);
        refused_events.push(json!({ "why": why, "rust": err.to_string(), "hex": hex(&bytes) }));
    };
    refuse_event("an unknown event id", vec![3]);
    refuse_event("no event id", vec![]);
    refuse_event("ping with a trailing byte", vec![2, 0]);
    let mut chat = Vec::new();
    encode_event(&s, 0, &[Value::Int(5), Value::Text("hi".into())], &mut chat).expect("encodes");
    refuse_event("chat cut short", chat[..chat.len() - 1].to_vec());

    json!({
        "schema": { "hex": hex(&s.encode()), "hash": s.hash().to_string() },
        "inputs": inputs,
        "events": events,
        "refused_inputs": refused_inputs,
        "refused_events": refused_events,
    })
}

fn generate() -> String {
    let server: Vec<Json> = server_cases()
        .into_iter()
        .map(|(name, msg)| {
            let bytes = encode_server(&msg);
            assert_eq!(
                decode_server(&bytes).as_ref(),
                Ok(&msg),
                "{name} round-trips"
            );
            json!({ "name": name, "msg": server_json(&msg), "hex": hex(&bytes) })
        })
        .collect();
    let client: Vec<Json> = client_cases()
        .into_iter()
        .map(|(name, msg)| {
            let bytes = encode_client(&msg);
            assert_eq!(
                decode_client(&bytes).as_ref(),
                Ok(&msg),
                "{name} round-trips"
            );
            json!({ "name": name, "msg": client_json(&msg), "hex": hex(&bytes) })
        })
        .collect();
    let client_refused: Vec<Json> = refused_client_cases()
        .into_iter()
        .map(|(name, bytes)| {
            let err = decode_client(&bytes).expect_err(name);
            json!({ "name": name, "hex": hex(&bytes), "error": err.to_string() })
        })
        .collect();
    let doc = json!({
        "about": "Generated by crates/protocol/tests/vectors.rs; regenerate with UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors",
        "protocol_version": PROTOCOL_VERSION,
        "limits": {
            "max_name_bytes": MAX_NAME_BYTES,
            "max_token_bytes": MAX_TOKEN_BYTES,
            "max_client_message_bytes": MAX_CLIENT_MESSAGE_BYTES,
            "max_input_bytes": MAX_INPUT_BYTES,
            "max_events_per_state": MAX_EVENTS_PER_STATE,
            "max_server_message_bytes": MAX_SERVER_MESSAGE_BYTES,
        },
        "server": server,
        "client": client,
        "client_refused": client_refused,
        "messages": messages(),
    });
    serde_json::to_string_pretty(&doc).expect("json") + "\n"
}

#[test]
fn committed_vectors_match_the_rust_codec() {
    fixture::check_committed("vectors.json", &generate(), "vectors");
}
