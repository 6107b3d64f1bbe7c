//! Cross-language test vectors: the browser client's hand-written codec
//! (`assets/protocol.js`) must produce and accept exactly the bytes this crate
//! does. This test builds one message per interesting case, encodes it with the
//! real codec and compares the result with the committed fixture
//! `assets/test/vectors.json` (each case: the message as JSON fields plus its
//! hex bytes), which `assets/test/protocol.test.mjs` replays under node.
//!
//! The test fails when the committed file differs from what Rust generates;
//! after an intended wire change, regenerate it with
//! `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors`.

use std::fmt::Write as _;
use std::path::PathBuf;

use tickroom_protocol::{
    Arena, ClientMsg, ErrorMsg, Input, Join, PROTOCOL_VERSION, Pellet, Ping, PlayerInfo,
    PlayerState, Pong, ServerMsg, Snapshot, Welcome, decode_client, decode_server, encode_client,
    encode_server,
};

/// A JSON value, just enough to write the fixture without a JSON dependency.
enum J {
    Num(String),
    Str(String),
    Null,
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

fn num(v: impl std::fmt::Display) -> J {
    J::Num(v.to_string())
}

/// An `f32` as the shortest decimal that reads back as the same `f32` (Rust's
/// `Display`); the node test compares with `Math.fround` of it.
fn float(v: f32) -> J {
    assert!(v.is_finite(), "JSON has no NaN or infinity");
    J::Num(format!("{v:?}"))
}

fn s(v: &str) -> J {
    J::Str(v.to_owned())
}

fn obj(fields: Vec<(&'static str, J)>) -> J {
    J::Obj(fields)
}

impl J {
    /// Writes pretty JSON: objects one field per line, arrays of scalars inline.
    fn write(&self, out: &mut String, indent: usize) {
        match self {
            J::Num(n) => out.push_str(n),
            J::Null => out.push_str("null"),
            J::Str(text) => {
                out.push('"');
                for c in text.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            J::Arr(items) if items.iter().all(|i| matches!(i, J::Num(_) | J::Str(_))) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write(out, indent);
                }
                out.push(']');
            }
            J::Arr(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    push_indent(out, indent + 1);
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                push_indent(out, indent);
                out.push(']');
            }
            J::Obj(fields) => {
                out.push_str("{\n");
                for (i, (key, value)) in fields.iter().enumerate() {
                    push_indent(out, indent + 1);
                    let _ = write!(out, "\"{key}\": ");
                    value.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                push_indent(out, indent);
                out.push('}');
            }
        }
    }
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn pair<T: std::fmt::Display>(v: [T; 2]) -> J {
    let [a, b] = v;
    J::Arr(vec![num(a), num(b)])
}

fn server_json(msg: &ServerMsg) -> J {
    match msg {
        ServerMsg::Welcome(w) => obj(vec![
            ("type", s("Welcome")),
            ("version", num(w.version)),
            ("player_id", num(w.player_id)),
            ("room", s(&w.room)),
            ("tick_rate_hz", num(w.tick_rate_hz)),
            ("tick", num(w.tick)),
            (
                "arena",
                obj(vec![
                    ("width", float(w.arena.width)),
                    ("height", float(w.arena.height)),
                    ("player_radius", float(w.arena.player_radius)),
                    ("pellet_radius", float(w.arena.pellet_radius)),
                    ("accel", float(w.arena.accel)),
                    ("max_speed", float(w.arena.max_speed)),
                    ("friction", float(w.arena.friction)),
                ]),
            ),
        ]),
        ServerMsg::Snapshot(snap) => obj(vec![
            ("type", s("Snapshot")),
            ("tick", num(snap.tick)),
            (
                "players",
                J::Arr(
                    snap.players
                        .iter()
                        .map(|p| {
                            obj(vec![
                                ("id", num(p.id)),
                                ("pos", pair(p.pos)),
                                ("vel", pair(p.vel)),
                                ("score", num(p.score)),
                                ("last_input_seq", num(p.last_input_seq)),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "pellets",
                snap.pellets.as_ref().map_or(J::Null, |list| {
                    J::Arr(
                        list.iter()
                            .map(|p| obj(vec![("id", num(p.id)), ("pos", pair(p.pos))]))
                            .collect(),
                    )
                }),
            ),
            (
                "roster",
                snap.roster.as_ref().map_or(J::Null, |list| {
                    J::Arr(
                        list.iter()
                            .map(|p| obj(vec![("id", num(p.id)), ("name", s(&p.name))]))
                            .collect(),
                    )
                }),
            ),
        ]),
        ServerMsg::Pong(p) => obj(vec![
            ("type", s("Pong")),
            ("nonce", num(p.nonce)),
            ("tick", num(p.tick)),
        ]),
        ServerMsg::Error(e) => obj(vec![
            ("type", s("Error")),
            ("code", num(e.code)),
            ("message", s(&e.message)),
        ]),
    }
}

fn client_json(msg: &ClientMsg) -> J {
    match msg {
        ClientMsg::Join(j) => obj(vec![
            ("type", s("Join")),
            ("version", num(j.version)),
            ("name", s(&j.name)),
        ]),
        ClientMsg::Input(i) => obj(vec![
            ("type", s("Input")),
            ("seq", num(i.seq)),
            ("ack_tick", num(i.ack_tick)),
            ("steer", pair(i.steer)),
        ]),
        ClientMsg::Ping(p) => obj(vec![("type", s("Ping")), ("nonce", num(p.nonce))]),
        ClientMsg::Leave => obj(vec![("type", s("Leave"))]),
    }
}

fn default_arena() -> Arena {
    Arena {
        width: 1600.0,
        height: 1000.0,
        player_radius: 18.0,
        pellet_radius: 6.0,
        accel: 1400.0,
        max_speed: 320.0,
        friction: 0.05,
    }
}

fn player(id: u32, pos: [u16; 2], vel: [i16; 2], score: u32, last_input_seq: u32) -> PlayerState {
    PlayerState {
        id,
        pos,
        vel,
        score,
        last_input_seq,
    }
}

fn server_cases() -> Vec<(&'static str, ServerMsg)> {
    vec![
        (
            "welcome_default_arena",
            ServerMsg::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                player_id: 7,
                room: "lobby".into(),
                tick_rate_hz: 20,
                tick: 0,
                arena: default_arena(),
            }),
        ),
        (
            "welcome_large_varints_and_odd_floats",
            ServerMsg::Welcome(Welcome {
                version: u16::MAX,
                player_id: 4_000_000_000,
                room: "salle-été_2.b".into(),
                tick_rate_hz: 251,
                tick: 65_536,
                arena: Arena {
                    width: 0.1,
                    height: 3.4e38,
                    player_radius: 1e-7,
                    pellet_radius: -2.5,
                    accel: 0.0,
                    max_speed: 123.456,
                    friction: 1.0,
                },
            }),
        ),
        (
            "snapshot_empty_options_absent",
            ServerMsg::Snapshot(Snapshot {
                tick: 0,
                players: vec![],
                pellets: None,
                roster: None,
            }),
        ),
        (
            "snapshot_boundaries_options_present",
            ServerMsg::Snapshot(Snapshot {
                tick: 250,
                players: vec![
                    player(1, [0, 65_535], [-32_768, 32_767], 0, 0),
                    player(250, [250, 251], [-1, 1], 250, 251),
                    player(251, [12_800, 8_000], [125, -126], 65_535, 65_536),
                    player(u32::MAX, [1, 2], [-125, 126], u32::MAX, 4_294_967_294),
                ],
                pellets: Some(vec![
                    Pellet {
                        id: 0,
                        pos: [48, 48],
                    },
                    Pellet {
                        id: 65_535,
                        pos: [12_752, 7_952],
                    },
                ]),
                roster: Some(vec![
                    PlayerInfo {
                        id: 1,
                        name: "alice".into(),
                    },
                    PlayerInfo {
                        id: 250,
                        name: "Zoë".into(),
                    },
                    PlayerInfo {
                        id: 251,
                        name: "日本語の名前".into(),
                    },
                    PlayerInfo {
                        id: u32::MAX,
                        name: "🎮 gamer".into(),
                    },
                    PlayerInfo {
                        id: 3,
                        name: String::new(),
                    },
                ]),
            }),
        ),
        (
            "snapshot_present_but_empty_lists",
            ServerMsg::Snapshot(Snapshot {
                tick: 65_535,
                players: vec![player(9, [6_400, 4_000], [0, 0], 3, 12)],
                pellets: Some(vec![]),
                roster: Some(vec![]),
            }),
        ),
        (
            "snapshot_roster_only",
            ServerMsg::Snapshot(Snapshot {
                tick: 70_000,
                players: vec![player(2, [100, 200], [-8, 16], 1, 99)],
                pellets: None,
                roster: Some(vec![PlayerInfo {
                    id: 2,
                    name: "bob".into(),
                }]),
            }),
        ),
        (
            "snapshot_lists_longer_than_250",
            ServerMsg::Snapshot(Snapshot {
                tick: 1_000_000,
                players: (1..=3)
                    .map(|id| player(id, [id as u16 * 800, 4_000], [0, -40], id, id * 10))
                    .collect(),
                pellets: Some(
                    (0..260u16)
                        .map(|id| Pellet {
                            id,
                            pos: [id * 40, 8_000 - id * 20],
                        })
                        .collect(),
                ),
                roster: None,
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
    let join = |name: &str| {
        ClientMsg::Join(Join {
            version: PROTOCOL_VERSION,
            name: name.into(),
        })
    };
    let input = |seq, ack_tick, steer| {
        ClientMsg::Input(Input {
            seq,
            ack_tick,
            steer,
        })
    };
    vec![
        ("join_ascii", join("alice")),
        ("join_empty_name", join("")),
        ("join_utf8_name", join("Zoë 🎮")),
        ("join_24_byte_name", join("日本語日本語日本")),
        (
            "join_other_version",
            ClientMsg::Join(Join {
                version: 65_535,
                name: "v".into(),
            }),
        ),
        ("input_zero", input(0, 0, [0, 0])),
        ("input_documented_layout", input(300, 7, [-1, 127])),
        ("input_i8_extremes", input(250, 251, [-128, 127])),
        ("input_u32_max", input(u32::MAX, 65_536, [127, -128])),
        (
            "input_negative_steer",
            input(65_535, 4_000_000_000, [-127, -64]),
        ),
        ("ping_zero", ClientMsg::Ping(Ping { nonce: 0 })),
        ("ping_u32", ClientMsg::Ping(Ping { nonce: 70_000 })),
        ("ping_max", ClientMsg::Ping(Ping { nonce: u32::MAX })),
        ("leave", ClientMsg::Leave),
    ]
}

fn generate() -> String {
    let server = server_cases()
        .into_iter()
        .map(|(name, msg)| {
            let bytes = encode_server(&msg);
            assert_eq!(
                decode_server(&bytes).as_ref(),
                Ok(&msg),
                "{name} round-trips"
            );
            obj(vec![
                ("name", s(name)),
                ("msg", server_json(&msg)),
                ("hex", J::Str(hex(&bytes))),
            ])
        })
        .collect();
    let client = client_cases()
        .into_iter()
        .map(|(name, msg)| {
            let bytes = encode_client(&msg);
            assert_eq!(
                decode_client(&bytes).as_ref(),
                Ok(&msg),
                "{name} round-trips"
            );
            obj(vec![
                ("name", s(name)),
                ("msg", client_json(&msg)),
                ("hex", J::Str(hex(&bytes))),
            ])
        })
        .collect();
    let doc = obj(vec![
        (
            "about",
            s(
                "Generated by crates/protocol/tests/vectors.rs; regenerate with UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors",
            ),
        ),
        ("protocol_version", num(PROTOCOL_VERSION)),
        ("server", J::Arr(server)),
        ("client", J::Arr(client)),
    ]);
    let mut out = String::new();
    doc.write(&mut out, 0);
    out.push('\n');
    out
}

#[test]
fn committed_vectors_match_the_rust_codec() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/test/vectors.json");
    let fresh = generate();
    if std::env::var_os("UPDATE_VECTORS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("write assets/test/vectors.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "assets/test/vectors.json is out of date with the Rust codec; regenerate it with \
         `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors` and check the JS \
         codec (`node --test assets/test/`)"
    );
}
