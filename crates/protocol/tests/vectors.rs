//! Cross-language test vectors: the browser client's hand-written codec
//! (`assets/protocol.js`) must produce and accept exactly the bytes this crate
//! does. This test builds one message per interesting case, encodes it with the
//! real codec and compares the result with the committed fixture
//! `assets/test/vectors.json` (each case: the message as JSON fields plus its
//! hex bytes), which `assets/test/protocol.test.mjs` replays under node.
//!
//! `client_refused` lists client messages that encode but that
//! [`decode_client`] refuses (a resume token or name too long, a message over
//! the size limit); the JS decoder must refuse them too.
//!
//! The fixture also holds *replica vectors*: sequences of full snapshots and
//! deltas (deltas made by the real [`replica::diff`] of server frames, or built
//! by hand for edge cases), each with the frame the Rust [`Replica`] holds
//! after applying it, or the error it refuses the delta with.
//! `assets/test/replica.test.mjs` replays them through the JS `Replica` and
//! compares every field.
//!
//! The test fails when the committed file differs from what Rust generates;
//! after an intended wire change, regenerate it with
//! `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors`.

use std::fmt::Write as _;
use std::path::PathBuf;

use tickroom_protocol::{
    Arena, ClientMsg, Delta, ErrorMsg, Input, Join, MAX_CLIENT_MESSAGE_BYTES, MAX_NAME_BYTES,
    MAX_TOKEN_BYTES, PROTOCOL_VERSION, Pellet, Ping, PlayerInfo, PlayerState, Pong, ScoreFix,
    ServerMsg, Snapshot, VelocityFix, Welcome, decode_client, decode_server, encode_client,
    encode_server,
    replica::{self, ApplyError, Frame, Replica},
};

/// A JSON value, just enough to write the fixture without a JSON dependency.
enum J {
    Num(String),
    Bool(bool),
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
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
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
            J::Arr(items)
                if items
                    .iter()
                    .all(|i| matches!(i, J::Num(_) | J::Bool(_) | J::Str(_))) =>
            {
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
            ("resume_token", s(&w.resume_token)),
            ("resumed", J::Bool(w.resumed)),
        ]),
        ServerMsg::Snapshot(snap) => obj(vec![
            ("type", s("Snapshot")),
            ("tick", num(snap.tick)),
            ("players", players_json(&snap.players)),
            ("pellets", pellets_json(&snap.pellets)),
            ("roster", roster_json(&snap.roster)),
        ]),
        ServerMsg::Delta(d) => obj(vec![
            ("type", s("Delta")),
            ("tick", num(d.tick)),
            ("moves", J::Arr(d.moves.iter().map(|m| pair(*m)).collect())),
            ("acks", J::Arr(d.acks.iter().map(num).collect())),
            (
                "velocities",
                J::Arr(
                    d.velocities
                        .iter()
                        .map(|v| obj(vec![("id", num(v.id)), ("vel", pair(v.vel))]))
                        .collect(),
                ),
            ),
            (
                "scores",
                J::Arr(
                    d.scores
                        .iter()
                        .map(|sc| obj(vec![("id", num(sc.id)), ("score", num(sc.score))]))
                        .collect(),
                ),
            ),
            ("changed", players_json(&d.changed)),
            (
                "pellets_removed",
                J::Arr(d.pellets_removed.iter().map(num).collect()),
            ),
            ("pellets_added", pellets_json(&d.pellets_added)),
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

fn players_json(players: &[PlayerState]) -> J {
    J::Arr(
        players
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
    )
}

fn pellets_json(pellets: &[Pellet]) -> J {
    J::Arr(
        pellets
            .iter()
            .map(|p| obj(vec![("id", num(p.id)), ("pos", pair(p.pos))]))
            .collect(),
    )
}

fn roster_json(roster: &[PlayerInfo]) -> J {
    J::Arr(
        roster
            .iter()
            .map(|p| obj(vec![("id", num(p.id)), ("name", s(&p.name))]))
            .collect(),
    )
}

fn frame_json(f: &Frame) -> J {
    obj(vec![
        ("tick", num(f.tick)),
        ("players", players_json(&f.players)),
        ("pellets", pellets_json(&f.pellets)),
        ("roster", roster_json(&f.roster)),
    ])
}

fn apply_error_json(e: &ApplyError) -> J {
    match e {
        ApplyError::NoBase(tick) => obj(vec![("kind", s("NoBase")), ("tick", num(tick))]),
        ApplyError::WrongBase { have, need } => obj(vec![
            ("kind", s("WrongBase")),
            ("have", num(have)),
            ("need", num(need)),
        ]),
        ApplyError::Shape {
            moves,
            acks,
            players,
        } => obj(vec![
            ("kind", s("Shape")),
            ("moves", num(moves)),
            ("acks", num(acks)),
            ("players", num(players)),
        ]),
        ApplyError::UnknownPlayer(id) => obj(vec![("kind", s("UnknownPlayer")), ("id", num(id))]),
    }
}

fn client_json(msg: &ClientMsg) -> J {
    match msg {
        ClientMsg::Join(j) => obj(vec![
            ("type", s("Join")),
            ("version", num(j.version)),
            ("name", s(&j.name)),
            ("resume", s(&j.resume)),
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

fn pellet(id: u16, pos: [u16; 2]) -> Pellet {
    Pellet { id, pos }
}

fn info(id: u32, name: &str) -> PlayerInfo {
    PlayerInfo {
        id,
        name: name.into(),
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
                resume_token: LOBBY_TOKEN.into(),
                resumed: false,
            }),
        ),
        (
            "welcome_resumed",
            ServerMsg::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                player_id: 7,
                room: "lobby".into(),
                tick_rate_hz: 20,
                tick: 1_234,
                arena: default_arena(),
                resume_token: RESUMED_TOKEN.into(),
                resumed: true,
            }),
        ),
        (
            "welcome_empty_token_not_resumed",
            ServerMsg::Welcome(Welcome {
                version: PROTOCOL_VERSION,
                player_id: 250,
                room: "r".into(),
                tick_rate_hz: 30,
                tick: 251,
                arena: default_arena(),
                resume_token: String::new(),
                resumed: false,
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
                resume_token: longest_token(),
                resumed: true,
            }),
        ),
        (
            "snapshot_empty_lists",
            ServerMsg::Snapshot(Snapshot {
                tick: 0,
                players: vec![],
                pellets: vec![],
                roster: vec![],
            }),
        ),
        (
            "snapshot_boundaries",
            ServerMsg::Snapshot(Snapshot {
                tick: 250,
                players: vec![
                    player(1, [0, 65_535], [-32_768, 32_767], 0, 0),
                    player(250, [250, 251], [-1, 1], 250, 251),
                    player(251, [12_800, 8_000], [125, -126], 65_535, 65_536),
                    player(u32::MAX, [1, 2], [-125, 126], u32::MAX, 4_294_967_294),
                ],
                pellets: vec![pellet(0, [24, 24]), pellet(65_535, [6_376, 3_976])],
                roster: vec![
                    info(1, "alice"),
                    info(250, "Zoë"),
                    info(251, "日本語の名前"),
                    info(u32::MAX, "🎮 gamer"),
                    info(3, ""),
                ],
            }),
        ),
        (
            "snapshot_players_but_no_pellets_or_names",
            ServerMsg::Snapshot(Snapshot {
                tick: 65_535,
                players: vec![player(9, [3_200, 2_000], [0, 0], 3, 12)],
                pellets: vec![],
                roster: vec![],
            }),
        ),
        (
            "snapshot_roster_only",
            ServerMsg::Snapshot(Snapshot {
                tick: 70_000,
                players: vec![],
                pellets: vec![],
                roster: vec![info(2, "bob")],
            }),
        ),
        (
            "snapshot_lists_longer_than_250",
            ServerMsg::Snapshot(Snapshot {
                tick: 1_000_000,
                players: (1..=3)
                    .map(|id| player(id, [id as u16 * 400, 2_000], [0, -20], id, id * 10))
                    .collect(),
                pellets: (0..260u16)
                    .map(|id| pellet(id, [id * 20, 4_000 - id * 10]))
                    .collect(),
                roster: (1..=3).map(|id| info(id, &format!("p{id}"))).collect(),
            }),
        ),
        (
            "delta_empty",
            ServerMsg::Delta(Delta {
                tick: 1,
                moves: vec![],
                acks: vec![],
                velocities: vec![],
                scores: vec![],
                changed: vec![],
                pellets_removed: vec![],
                pellets_added: vec![],
            }),
        ),
        (
            "delta_moves_and_acks_only",
            ServerMsg::Delta(Delta {
                tick: 251,
                moves: vec![[0, 0], [-128, 127], [127, -128], [-1, 1], [64, -64]],
                acks: vec![0, 255, 1, 250, 251],
                velocities: vec![],
                scores: vec![],
                changed: vec![],
                pellets_removed: vec![],
                pellets_added: vec![],
            }),
        ),
        (
            "delta_changed_and_pellets",
            ServerMsg::Delta(Delta {
                tick: 65_536,
                moves: vec![[3, -2], [0, 0], [-64, 0]],
                acks: vec![2, 0, 1],
                velocities: vec![],
                scores: vec![],
                changed: vec![
                    player(2, [6_000, 100], [-2_560, 2_540], 7, 70_000),
                    player(u32::MAX, [65_535, 0], [-32_768, 32_767], u32::MAX, u32::MAX),
                ],
                pellets_removed: vec![0, 250, 251, 65_535],
                pellets_added: vec![pellet(3, [1_000, 2_000]), pellet(300, [65_535, 0])],
            }),
        ),
        (
            "delta_large_ticks_pellets_only",
            ServerMsg::Delta(Delta {
                tick: u32::MAX,
                moves: vec![[0, 0]],
                acks: vec![0],
                velocities: vec![],
                scores: vec![],
                changed: vec![],
                pellets_removed: vec![17],
                pellets_added: vec![],
            }),
        ),
        (
            "delta_velocities_and_scores_only",
            ServerMsg::Delta(Delta {
                tick: 300,
                moves: vec![[1, -1], [0, 0], [-5, 7], [0, 0], [2, 2]],
                acks: vec![1, 0, 3, 0, 1],
                velocities: vec![
                    VelocityFix {
                        id: 1,
                        vel: [-32_768, 32_767],
                    },
                    VelocityFix {
                        id: 250,
                        vel: [0, -1],
                    },
                    VelocityFix {
                        id: 251,
                        vel: [125, -126],
                    },
                    VelocityFix {
                        id: u32::MAX,
                        vel: [-2_560, 2_540],
                    },
                ],
                scores: vec![
                    ScoreFix { id: 1, score: 0 },
                    ScoreFix {
                        id: 250,
                        score: 250,
                    },
                    ScoreFix {
                        id: 251,
                        score: 251,
                    },
                    ScoreFix {
                        id: 65_536,
                        score: 65_535,
                    },
                    ScoreFix {
                        id: u32::MAX,
                        score: u32::MAX,
                    },
                ],
                changed: vec![],
                pellets_removed: vec![],
                pellets_added: vec![],
            }),
        ),
        (
            "delta_every_list",
            ServerMsg::Delta(Delta {
                tick: 70_001,
                moves: vec![[-128, 127], [3, 0], [0, -2]],
                acks: vec![255, 1, 0],
                velocities: vec![VelocityFix {
                    id: 2,
                    vel: [-300, 400],
                }],
                scores: vec![ScoreFix { id: 2, score: 6 }, ScoreFix { id: 3, score: 1 }],
                changed: vec![player(1, [12_800, 8_000], [1_280, 0], 2, 70_000)],
                pellets_removed: vec![5],
                pellets_added: vec![pellet(5, [640, 480]), pellet(251, [0, 65_535])],
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

/// A resume token as the server makes them for room `lobby`
/// (`base64url(payload).base64url(tag)`; the codec treats it as any string).
const LOBBY_TOKEN: &str = "BWxvYmJ5BwAAADQSvu_erQAA.q3Xr0Xk1n2t3gG4m8tPq-6Wv0yq2cF_7u0XbJm1e3kQ";

/// The token a resumed Welcome brings (a new one every time).
const RESUMED_TOKEN: &str = "BWxvYmJ5BwAAAMzMu6qZiAAA.Wc0aI8lq7m3oV_2x9Xr4t1NnJ8kZpQ-eYb6d5fGh0sA";

/// A token of exactly [`MAX_TOKEN_BYTES`], the longest the server accepts.
fn longest_token() -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut token: String = (0..MAX_TOKEN_BYTES)
        .map(|i| char::from(alphabet[(i * 7) % alphabet.len()]))
        .collect();
    token.replace_range(103..104, ".");
    token
}

fn client_cases() -> Vec<(&'static str, ClientMsg)> {
    let join = |name: &str| {
        ClientMsg::Join(Join {
            version: PROTOCOL_VERSION,
            name: name.into(),
            resume: String::new(),
        })
    };
    let resume = |name: &str, token: &str| {
        ClientMsg::Join(Join {
            version: PROTOCOL_VERSION,
            name: name.into(),
            resume: token.into(),
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
                resume: String::new(),
            }),
        ),
        ("join_with_resume_token", resume("alice", LOBBY_TOKEN)),
        (
            "join_empty_name_with_resume_token",
            resume("", RESUMED_TOKEN),
        ),
        (
            "join_longest_name_and_token",
            resume("日本語日本語日本", &longest_token()),
        ),
        (
            "join_other_version_with_resume_token",
            ClientMsg::Join(Join {
                version: 65_535,
                name: "Zoë 🎮".into(),
                resume: "x.y".into(),
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
    ]
}

/// How one message of a replica sequence is made.
enum Step {
    /// A full snapshot of a server frame.
    Full(&'static str, Frame),
    /// The delta [`replica::diff`] makes from the first server frame to the second.
    Diff(&'static str, Frame, Frame),
    /// A hand-built message, for what `diff` never produces.
    Raw(&'static str, ServerMsg),
}

/// A frame with a roster naming every player `name_of(id)`.
fn frame(tick: u32, players: Vec<PlayerState>, pellets: Vec<Pellet>) -> Frame {
    let roster = players
        .iter()
        .map(|p| {
            let name = match p.id {
                1 => "alice".to_owned(),
                2 => "bob".to_owned(),
                7 => "Zoë".to_owned(),
                300 => "日本語".to_owned(),
                id => format!("player-{id}"),
            };
            PlayerInfo { id: p.id, name }
        })
        .collect();
    Frame {
        tick,
        players,
        pellets,
        roster,
    }
}

/// Runs `steps` through a Rust [`Replica`] and records, per step, the message
/// (fields and bytes), the delta's origin, and the replica's frame afterwards
/// or the error it refused the message with.
fn replica_sequence(name: &'static str, tick_rate_hz: u16, steps: Vec<Step>) -> J {
    let mut replica = Replica::new(tick_rate_hz);
    let mut server_frames: Vec<Frame> = Vec::new();
    let mut remember = |f: &Frame| match server_frames.iter().find(|g| g.tick == f.tick) {
        Some(g) => assert_eq!(g, f, "one server frame per tick"),
        None => server_frames.push(f.clone()),
    };
    let mut out = Vec::new();
    for step in steps {
        let (step_name, msg, diff_of) = match step {
            Step::Full(n, f) => {
                remember(&f);
                (n, ServerMsg::Snapshot(f.to_snapshot()), None)
            }
            Step::Diff(n, base, cur) => {
                remember(&base);
                remember(&cur);
                let d = replica::diff(&base, &cur, tick_rate_hz).expect("same players");
                (n, ServerMsg::Delta(d), Some((base, cur)))
            }
            Step::Raw(n, msg) => (n, msg, None),
        };
        let bytes = encode_server(&msg);
        let decoded = decode_server(&bytes).expect("round-trips");
        assert_eq!(decoded, msg, "{step_name} round-trips");
        let before = replica.frame().cloned();
        let result = match decoded {
            ServerMsg::Snapshot(snap) => Ok(replica.apply_snapshot(snap).clone()),
            ServerMsg::Delta(d) => replica.apply_delta(&d).cloned(),
            other => panic!("{step_name}: not a frame message: {other:?}"),
        };
        match (&result, &diff_of) {
            (Ok(got), Some((_, cur))) => {
                // The reconstruction is the server's frame up to the velocity
                // tolerance (which is what `diff` promises).
                assert_eq!(
                    (got.tick, &got.pellets, &got.roster),
                    (cur.tick, &cur.pellets, &cur.roster)
                );
                for (g, want) in got.players.iter().zip(&cur.players) {
                    assert_eq!(
                        (g.id, g.pos, g.score, g.last_input_seq),
                        (want.id, want.pos, want.score, want.last_input_seq)
                    );
                    for (got_v, want_v) in g.vel.iter().zip(&want.vel) {
                        let err = (i32::from(*got_v) - i32::from(*want_v)).abs();
                        assert!(err <= replica::VEL_TOLERANCE, "{step_name}: velocity");
                    }
                    // Velocities sent in `velocities` or `changed` are exact.
                    if let ServerMsg::Delta(d) = &msg {
                        let fixed = d.velocities.iter().map(|v| v.id);
                        if fixed
                            .chain(d.changed.iter().map(|c| c.id))
                            .any(|id| id == g.id)
                        {
                            assert_eq!(g.vel, want.vel, "{step_name}: exact velocity");
                        }
                    }
                }
            }
            (Err(_), _) => assert_eq!(replica.frame(), before.as_ref(), "{step_name}: unchanged"),
            _ => {}
        }
        out.push(obj(vec![
            ("name", s(step_name)),
            ("msg", server_json(&msg)),
            ("hex", J::Str(hex(&bytes))),
            (
                "diff_of",
                diff_of.map_or(J::Null, |(base, cur)| {
                    J::Arr(vec![num(base.tick), num(cur.tick)])
                }),
            ),
            (
                "error",
                result.as_ref().err().map_or(J::Null, apply_error_json),
            ),
            ("frame", replica.frame().map_or(J::Null, frame_json)),
        ]));
    }
    obj(vec![
        ("name", s(name)),
        ("tick_rate_hz", num(tick_rate_hz)),
        (
            "server_frames",
            J::Arr(server_frames.iter().map(frame_json).collect()),
        ),
        ("steps", J::Arr(out)),
    ])
}

/// The sequences of `vectors.json`'s `replica` list.
fn replica_cases() -> Vec<J> {
    let p = player;
    let f0 = frame(
        100,
        vec![
            p(1, [3_200, 2_000], [0, 0], 0, 10),
            p(2, [800, 3_600], [1_280, 0], 2, 500),
            p(7, [6_000, 100], [-300, 400], 5, 4_294_967_290),
            p(300, [328, 3_000], [0, 0], 0, 0),
        ],
        vec![
            pellet(0, [24, 24]),
            pellet(3, [1_000, 2_000]),
            pellet(17, [2_000, 1_000]),
            pellet(251, [6_352, 3_952]),
        ],
    );
    // Steady movement: every player fits the compact form. Player 1's true
    // velocity (210) is within the tolerance of the derived one (200), so the
    // replica ends up with 200; player 7's input sequence wraps around.
    let f1 = frame(
        101,
        vec![
            p(1, [3_210, 1_995], [210, -100], 0, 12),
            p(2, [864, 3_600], [1_280, 0], 2, 501),
            p(7, [5_985, 120], [-300, 400], 5, 4),
            p(300, [328, 3_000], [0, 0], 0, 0),
        ],
        f0.pellets.clone(),
    );
    // Player 1 eats a pellet (a score fix), player 2 jumps 200 steps with 300
    // inputs applied and scores (too far for a move: its whole state goes in
    // `changed`, the score with it), player 7 is bumped (its velocity is not
    // derivable: a velocity fix), player 300 makes the largest moves an i8
    // carries. Pellets 0 and 3 are eaten, 17 respawns elsewhere, 5 and 65535
    // appear.
    let f2 = frame(
        102,
        vec![
            p(1, [3_220, 1_990], [200, -100], 1, 13),
            p(2, [1_064, 3_600], [1_280, 0], 3, 801),
            p(7, [5_986, 121], [-500, 200], 5, 5),
            p(300, [200, 3_127], [-2_560, 2_540], 0, 1),
        ],
        vec![
            pellet(5, [500, 500]),
            pellet(17, [2_400, 800]),
            pellet(251, [6_352, 3_952]),
            pellet(65_535, [6_000, 3_900]),
        ],
    );
    // Quiet again: player 1 stops, player 7 acknowledges 255 inputs at once.
    let f3 = frame(
        103,
        vec![
            p(1, [3_220, 1_990], [0, 0], 1, 13),
            p(2, [1_128, 3_600], [1_280, 0], 3, 802),
            p(7, [5_976, 131], [-200, 200], 5, 260),
            p(300, [201, 3_128], [20, 20], 0, 1),
        ],
        vec![
            pellet(5, [500, 500]),
            pellet(17, [2_400, 800]),
            pellet(65_535, [6_000, 3_900]),
        ],
    );
    // Player 300 left and player 8 joined: a full snapshot, then deltas again.
    let f10 = frame(
        110,
        vec![
            p(1, [3_220, 1_990], [0, 0], 1, 20),
            p(2, [1_500, 3_600], [1_280, 0], 3, 810),
            p(7, [5_900, 200], [-200, 200], 6, 270),
            p(8, [3_200, 2_000], [0, 0], 0, 0),
        ],
        f3.pellets.clone(),
    );
    // Player 8 bumps into player 1 and eats pellet 17 on the way: two
    // velocity fixes (one only on the y axis) and a score fix for the same
    // player.
    let f11 = frame(
        111,
        vec![
            p(1, [3_221, 1_990], [20, 60], 1, 21),
            p(2, [1_564, 3_600], [1_280, 0], 3, 811),
            p(7, [5_890, 210], [-200, 200], 6, 272),
            p(8, [3_203, 2_000], [-100, 0], 1, 1),
        ],
        vec![pellet(5, [500, 500]), pellet(65_535, [6_000, 3_900])],
    );
    let bad_base = replica::diff(&f2, &f3, 20).expect("same players");
    let next = |velocities: Vec<VelocityFix>,
                scores: Vec<ScoreFix>,
                changed: Vec<PlayerState>,
                moves: Vec<[i8; 2]>| {
        ServerMsg::Delta(Delta {
            tick: 104,
            acks: vec![0; moves.len()],
            moves,
            velocities,
            scores,
            changed,
            pellets_removed: vec![],
            pellets_added: vec![],
        })
    };
    let vel = |id: u32, vel: [i16; 2]| VelocityFix { id, vel };
    let score = |id: u32, score: u32| ScoreFix { id, score };
    let main = replica_sequence(
        "joins_moves_and_refusals_20hz",
        20,
        vec![
            Step::Diff("delta_before_any_snapshot", f0.clone(), f1.clone()),
            Step::Full("full_snapshot", f0.clone()),
            Step::Diff("delta_steady_moves", f0, f1.clone()),
            Step::Diff("delta_jump_bump_score_and_pellets", f1, f2.clone()),
            Step::Diff("delta_quiet", f2.clone(), f3.clone()),
            Step::Raw("delta_wrong_base", ServerMsg::Delta(bad_base)),
            Step::Raw(
                "delta_wrong_shape",
                next(vec![], vec![], vec![], vec![[0, 0]; 3]),
            ),
            Step::Raw(
                "delta_unknown_player",
                next(
                    vec![],
                    vec![],
                    vec![p(8, [0, 0], [0, 0], 0, 0)],
                    vec![[0, 0]; 4],
                ),
            ),
            Step::Raw(
                "delta_unknown_player_in_velocities",
                next(
                    vec![vel(1, [40, 0]), vel(9, [1, 1])],
                    vec![],
                    vec![],
                    vec![[0, 0]; 4],
                ),
            ),
            // Known ids in `velocities` and `changed`: nothing of it applies.
            Step::Raw(
                "delta_unknown_player_in_scores",
                next(
                    vec![vel(7, [0, 0])],
                    vec![score(1, 2), score(6, 1)],
                    vec![p(2, [0, 0], [0, 0], 0, 0)],
                    vec![[1, 1]; 4],
                ),
            ),
            // The first unknown id in velocities, scores, changed order.
            Step::Raw(
                "delta_unknown_players_everywhere",
                next(
                    vec![vel(5, [0, 0])],
                    vec![score(6, 1)],
                    vec![p(4, [0, 0], [0, 0], 0, 0)],
                    vec![[0, 0]; 4],
                ),
            ),
            Step::Full("full_snapshot_after_join_and_leave", f10.clone()),
            Step::Diff("delta_after_the_new_snapshot", f10, f11),
        ],
    );

    // Hand-built deltas at 300 Hz, where derived velocities overflow i16:
    // positions and velocities clamp, input sequences wrap, a pellet removed
    // and added in one delta comes back, a pellet added twice keeps the last
    // position, `changed` naming a player twice keeps the last entry, as do
    // repeated velocity and score fixes.
    let e7 = Frame {
        tick: 7,
        players: vec![
            p(1, [5, 65_530], [0, 0], 0, u32::MAX - 1),
            p(2, [65_535, 0], [0, 0], 0, 0),
        ],
        pellets: vec![pellet(2, [10, 10]), pellet(4, [20, 20])],
        roster: vec![info(1, "edge"), info(2, "")],
    };
    let edges = replica_sequence(
        "clamps_wraps_and_repeats_300hz",
        300,
        vec![
            Step::Full("full_snapshot", e7),
            Step::Raw(
                "delta_clamps_and_wraps",
                ServerMsg::Delta(Delta {
                    tick: 8,
                    moves: vec![[-128, 127], [127, -128]],
                    acks: vec![255, 0],
                    velocities: vec![],
                    scores: vec![],
                    changed: vec![],
                    pellets_removed: vec![9, 2],
                    pellets_added: vec![
                        pellet(4, [21, 21]),
                        pellet(1, [1, 1]),
                        pellet(2, [2, 2]),
                        pellet(9, [9, 9]),
                        pellet(9, [90, 90]),
                    ],
                }),
            ),
            Step::Raw(
                "delta_changed_twice_and_all_pellets_gone",
                ServerMsg::Delta(Delta {
                    tick: 9,
                    moves: vec![[1, 1], [0, 0]],
                    acks: vec![0, 1],
                    velocities: vec![],
                    scores: vec![],
                    changed: vec![
                        p(1, [100, 100], [5, 5], 1, 3),
                        p(1, [200, 200], [6, -6], 2, 4),
                    ],
                    pellets_removed: vec![1, 2, 4, 9],
                    pellets_added: vec![],
                }),
            ),
            Step::Raw(
                "delta_small_moves_at_300hz",
                ServerMsg::Delta(Delta {
                    tick: 10,
                    moves: vec![[-1, 2], [0, -1]],
                    acks: vec![1, 1],
                    velocities: vec![],
                    scores: vec![],
                    changed: vec![],
                    pellets_removed: vec![],
                    pellets_added: vec![pellet(0, [0, 0])],
                }),
            ),
            // Fixes apply in order (the last one for an id wins), velocities
            // before scores, and `changed` replaces what they set.
            Step::Raw(
                "delta_fixes_repeat_and_yield_to_changed",
                ServerMsg::Delta(Delta {
                    tick: 11,
                    moves: vec![[2, -1], [0, 0]],
                    acks: vec![0, 3],
                    velocities: vec![
                        VelocityFix { id: 1, vel: [5, 5] },
                        VelocityFix {
                            id: 2,
                            vel: [100, -100],
                        },
                        VelocityFix {
                            id: 1,
                            vel: [-32_768, 32_767],
                        },
                    ],
                    scores: vec![
                        ScoreFix { id: 2, score: 9 },
                        ScoreFix { id: 1, score: 4 },
                        ScoreFix {
                            id: 1,
                            score: u32::MAX,
                        },
                    ],
                    changed: vec![p(2, [300, 300], [1, 2], 3, 50)],
                    pellets_removed: vec![],
                    pellets_added: vec![],
                }),
            ),
        ],
    );
    vec![main, edges]
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
    let client_refused = refused_client_cases()
        .into_iter()
        .map(|(name, bytes)| {
            let err = decode_client(&bytes).expect_err(name);
            obj(vec![
                ("name", s(name)),
                ("hex", J::Str(hex(&bytes))),
                ("error", s(&err.to_string())),
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
        ("client_refused", J::Arr(client_refused)),
        ("replica", J::Arr(replica_cases())),
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
