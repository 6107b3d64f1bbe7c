//! Cross-language test vectors: the browser client's hand-written codec
//! (`clients/js/src/protocol.js`) must produce and accept exactly the bytes this crate
//! does. This test builds one message per interesting case, encodes it with the
//! real codec and compares the result with the committed fixture
//! `clients/js/test/vectors.json` (each case: the message as JSON fields plus its
//! hex bytes), which `clients/js/test/protocol.test.mjs` replays under node.
//!
//! `client_refused` lists client messages that encode but that
//! [`decode_client`] refuses (a resume token or name too long, a message over
//! the size limit); the JS decoder must refuse them too.
//!
//! The fixture also holds *replica vectors*: sequences of full snapshots and
//! deltas (deltas made by the real [`replica::diff`] of canonical server
//! frames, against the previous tick's frame or older ones, or built by hand
//! for edge cases and refusals), each with the frame the Rust [`Replica`]
//! holds after applying it (none after a checksum mismatch), or the error it
//! refuses the delta with. `clients/js/test/replica.test.mjs` replays them
//! through the JS `Replica` and compares every field. `checksums` pins frame
//! checksums ([`replica::checksum`]) so the JS hash is checked on its own,
//! and `settle` holds [`replica::settle_velocities`] cases for the JS mirror
//! the netcode tests' fake server uses.
//!
//! The test fails when the committed file differs from what Rust generates;
//! after an intended wire change, regenerate it with
//! `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test vectors`.

#[path = "support/fixture.rs"]
mod fixture;

use std::fmt::Write as _;

use tickroom_protocol::{
    Arena, Checksum, ClientMsg, Delta, ErrorMsg, Input, Join, MAX_CLIENT_MESSAGE_BYTES,
    MAX_NAME_BYTES, MAX_TOKEN_BYTES, NewPlayer, PROTOCOL_VERSION, Pellet, Ping, PlayerInfo,
    PlayerState, Pong, ScoreFix, ServerMsg, Snapshot, VelocityFix, Welcome, decode_client,
    decode_server, encode_client, encode_server,
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
            ("sim_rate_hz", num(w.sim_rate_hz)),
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
            ("base_age", num(d.base_age)),
            ("checksum", num(d.checksum.0)),
            ("removed", J::Arr(d.removed.iter().map(num).collect())),
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
                "added",
                J::Arr(
                    d.added
                        .iter()
                        .map(|a| obj(vec![("state", player_json(&a.state)), ("name", s(&a.name))]))
                        .collect(),
                ),
            ),
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

fn player_json(p: &PlayerState) -> J {
    obj(vec![
        ("id", num(p.id)),
        ("pos", pair(p.pos)),
        ("vel", pair(p.vel)),
        ("score", num(p.score)),
        ("last_input_seq", num(p.last_input_seq)),
    ])
}

fn players_json(players: &[PlayerState]) -> J {
    J::Arr(players.iter().map(player_json).collect())
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
        ApplyError::DuplicatePlayer(id) => {
            obj(vec![("kind", s("DuplicatePlayer")), ("id", num(id))])
        }
        ApplyError::ChecksumMismatch { tick, want, got } => obj(vec![
            ("kind", s("ChecksumMismatch")),
            ("tick", num(tick)),
            ("want", num(want)),
            ("got", num(got)),
        ]),
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
                sim_rate_hz: 20,
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
                sim_rate_hz: 20,
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
                sim_rate_hz: 60,
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
                sim_rate_hz: 502,
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
        ("delta_empty", ServerMsg::Delta(empty_delta(1, 1, 0))),
        (
            "delta_moves_and_acks_only",
            ServerMsg::Delta(Delta {
                moves: vec![[0, 0], [-128, 127], [127, -128], [-1, 1], [64, -64]],
                acks: vec![0, 255, 1, 250, 251],
                ..empty_delta(251, 1, u32::MAX)
            }),
        ),
        // The documented layout example of codec.rs: the checksum is four
        // raw little-endian bytes, not a varint.
        (
            "delta_checksum_bytes",
            ServerMsg::Delta(Delta {
                moves: vec![[1, -1]],
                acks: vec![2],
                ..empty_delta(300, 1, 0xA1B2_C3D4)
            }),
        ),
        (
            "delta_changed_and_pellets",
            ServerMsg::Delta(Delta {
                moves: vec![[3, -2], [0, 0], [-64, 0]],
                acks: vec![2, 0, 1],
                changed: vec![
                    player(2, [6_000, 100], [-2_560, 2_540], 7, 70_000),
                    player(u32::MAX, [65_535, 0], [-32_768, 32_767], u32::MAX, u32::MAX),
                ],
                pellets_removed: vec![0, 250, 251, 65_535],
                pellets_added: vec![pellet(3, [1_000, 2_000]), pellet(300, [65_535, 0])],
                ..empty_delta(65_536, 2, 251)
            }),
        ),
        (
            "delta_large_ticks_oldest_base_pellets_only",
            ServerMsg::Delta(Delta {
                moves: vec![[0, 0]],
                acks: vec![0],
                pellets_removed: vec![17],
                ..empty_delta(u32::MAX, 255, 0x8000_0000)
            }),
        ),
        (
            "delta_velocities_and_scores_only",
            ServerMsg::Delta(Delta {
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
                ..empty_delta(300, 1, 0xD941_144B)
            }),
        ),
        (
            "delta_removed_only",
            ServerMsg::Delta(Delta {
                removed: vec![1, 250, 251, 65_536, u32::MAX],
                moves: vec![[2, 0]],
                acks: vec![1],
                ..empty_delta(4_000, 3, 0x0102_0304)
            }),
        ),
        (
            "delta_added_with_names",
            ServerMsg::Delta(Delta {
                added: vec![
                    new_player(player(3, [3_200, 2_000], [0, 0], 0, 0), "Zoë"),
                    new_player(player(251, [0, 65_535], [-1, 1], 250, 251), ""),
                    new_player(
                        player(70_000, [65_535, 1], [-32_768, 32_767], u32::MAX, u32::MAX),
                        "日本語日本語日本",
                    ),
                    new_player(player(u32::MAX, [1, 2], [3, -4], 5, 6), "🎮 gamer"),
                ],
                ..empty_delta(4_001, 1, 0xFFFF_FFFE)
            }),
        ),
        (
            "delta_removed_and_added_across_dropped_frames",
            ServerMsg::Delta(Delta {
                removed: vec![2, 7],
                moves: vec![[10, -10], [0, 0]],
                acks: vec![3, 0],
                added: vec![new_player(player(9, [100, 108], [0, 160], 0, 0), "dave")],
                ..empty_delta(111, 3, 0x00FB_FC00)
            }),
        ),
        (
            "delta_every_list",
            ServerMsg::Delta(Delta {
                removed: vec![4],
                moves: vec![[-128, 127], [3, 0], [0, -2]],
                acks: vec![255, 1, 0],
                velocities: vec![VelocityFix {
                    id: 2,
                    vel: [-300, 400],
                }],
                scores: vec![ScoreFix { id: 2, score: 6 }, ScoreFix { id: 3, score: 1 }],
                changed: vec![player(1, [12_800, 8_000], [1_280, 0], 2, 70_000)],
                added: vec![new_player(player(5, [640, 480], [20, -20], 0, 0), "eve")],
                pellets_removed: vec![5],
                pellets_added: vec![pellet(5, [640, 480]), pellet(251, [0, 65_535])],
                ..empty_delta(70_001, 7, 0x17CB_4A7C)
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

/// A delta of `tick` against the frame `base_age` ticks older, with
/// `checksum` and every list empty.
fn empty_delta(tick: u32, base_age: u8, checksum: u32) -> Delta {
    Delta {
        tick,
        base_age,
        checksum: Checksum(checksum),
        removed: vec![],
        moves: vec![],
        acks: vec![],
        velocities: vec![],
        scores: vec![],
        changed: vec![],
        added: vec![],
        pellets_removed: vec![],
        pellets_added: vec![],
    }
}

fn new_player(state: PlayerState, name: &str) -> NewPlayer {
    NewPlayer {
        state,
        name: name.into(),
    }
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
    /// The delta [`replica::diff`] makes from the first server frame to the
    /// second, with the second's checksum.
    Diff(&'static str, Frame, Frame),
    /// A hand-built delta that applies, for what `diff` never produces; its
    /// checksum is filled in: that of the frame it makes from the replica's.
    Sealed(&'static str, Delta),
    /// A hand-built message as is (a delta the replica refuses).
    Raw(&'static str, ServerMsg),
}

/// A frame with a roster naming every player.
fn frame(tick: u32, players: Vec<PlayerState>, pellets: Vec<Pellet>) -> Frame {
    let roster = players
        .iter()
        .map(|p| {
            let name = match p.id {
                1 => "alice".to_owned(),
                2 => "bob".to_owned(),
                7 => "Zoë".to_owned(),
                8 => "carol 🎮".to_owned(),
                9 => "dave".to_owned(),
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

/// The room's frame one tick after `prev` at 20 Hz, canonical as the server
/// publishes it ([`replica::settle_velocities`]).
fn tick_after(prev: &Frame, players: Vec<PlayerState>, pellets: Vec<Pellet>) -> Frame {
    let mut cur = frame(prev.tick.wrapping_add(1), players, pellets);
    replica::settle_velocities(prev, &mut cur, 20);
    cur
}

/// The checksum of the frame `d` makes from `replica`'s frame, as the server
/// would have sent it: `d` applied to a copy of the replica.
fn seal(replica: &Replica, d: &Delta, name: &str) -> Checksum {
    match replica.clone().apply_delta(d) {
        Ok(f) => f.checksum(),
        Err(ApplyError::ChecksumMismatch { got, .. }) => Checksum(got),
        Err(e) => panic!("{name}: a sealed delta must apply: {e}"),
    }
}

/// Runs `steps` through a Rust [`Replica`] and records, per step, the message
/// (fields and bytes), the delta's origin, and the replica's frame afterwards
/// (none after a checksum mismatch) or the error it refused the message with.
fn replica_sequence(name: &'static str, tick_rate_hz: u16, steps: Vec<Step>) -> J {
    let mut replica = Replica::new(tick_rate_hz);
    let mut server_frames: Vec<Frame> = Vec::new();
    let mut remember = |f: &Frame| match server_frames.iter().find(|g| g.tick == f.tick) {
        Some(g) => assert_eq!(g, f, "one server frame per tick"),
        None => server_frames.push(f.clone()),
    };
    let mut out = Vec::new();
    for step in steps {
        let (step_name, msg, diff_of, sealed) = match step {
            Step::Full(n, f) => {
                remember(&f);
                (n, ServerMsg::Snapshot(f.to_snapshot()), None, false)
            }
            Step::Diff(n, base, cur) => {
                remember(&base);
                remember(&cur);
                let d = replica::diff(&base, &cur, cur.checksum(), tick_rate_hz)
                    .expect("within the history");
                (n, ServerMsg::Delta(d), Some((base, cur)), false)
            }
            Step::Sealed(n, mut d) => {
                d.checksum = seal(&replica, &d, n);
                (n, ServerMsg::Delta(d), None, true)
            }
            Step::Raw(n, msg) => (n, msg, None, false),
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
            // What v4 promises: the server's frame exactly.
            (Ok(got), Some((_, cur))) => assert_eq!(got, cur, "{step_name}: the server's frame"),
            (Err(ApplyError::ChecksumMismatch { .. }), _) => {
                assert_eq!(replica.frame(), None, "{step_name}: the frame is dropped")
            }
            (Err(_), _) => assert_eq!(replica.frame(), before.as_ref(), "{step_name}: unchanged"),
            (Ok(_), None) => {}
        }
        assert!(!sealed || result.is_ok(), "{step_name}: applies");
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

/// The delta `diff` makes from `base` to `cur` at 20 Hz, for the asserts
/// that say what a sequence covers.
fn diff20(base: &Frame, cur: &Frame) -> Delta {
    replica::diff(base, cur, cur.checksum(), 20).expect("within the history")
}

/// The sequences of `vectors.json`'s `replica` list.
fn replica_cases() -> Vec<J> {
    vec![main_sequence(), edge_sequence(), wrap_sequence()]
}

/// A 20 Hz room as one client sees it: a full snapshot, deltas against the
/// previous tick and against older frames (the ones in between were dropped
/// for it), players leaving and joining as delta operations, every refusal,
/// a checksum mismatch and the full snapshot that recovers from it.
fn main_sequence() -> J {
    let p = player;
    let f100 = frame(
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
    // velocity (210) is within the tolerance of the one derived from its move
    // (200), so the server publishes 200; player 7's input sequence wraps.
    let f101 = tick_after(
        &f100,
        vec![
            p(1, [3_210, 1_995], [210, -100], 0, 12),
            p(2, [864, 3_600], [1_280, 0], 2, 501),
            p(7, [5_985, 120], [-300, 400], 5, 4),
            p(300, [328, 3_000], [0, 0], 0, 0),
        ],
        f100.pellets.clone(),
    );
    assert_eq!(f101.players[0].vel, [200, -100], "settled");
    // Player 1 eats a pellet (a score fix), player 2 jumps 200 steps with 300
    // inputs applied and scores (too far for a move: its whole state goes in
    // `changed`, the score with it), player 7 is bumped (its velocity is not
    // the derived one: a velocity fix), player 300 makes the largest moves an
    // i8 carries. Pellets 0 and 3 are eaten, 17 respawns elsewhere, 5 and
    // 65535 appear.
    let f102 = tick_after(
        &f101,
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
    // Quiet: player 1 stops, player 7 acknowledges 255 inputs at once. This
    // frame never reaches the client (dropped from its mailbox).
    let f103 = tick_after(
        &f102,
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
    // Sent as a delta against 102 (two ticks): velocities derive from the
    // move over two ticks, so player 1 (who stopped and started again) needs
    // a fix, player 2's two-tick move (128 steps) overflows an i8 and goes in
    // `changed`, player 7's 255 acks still fit.
    let f104 = tick_after(
        &f103,
        vec![
            p(1, [3_230, 1_990], [200, 0], 1, 13),
            p(2, [1_192, 3_600], [1_280, 0], 3, 803),
            p(7, [5_966, 141], [-200, 200], 5, 260),
            p(300, [202, 3_129], [20, 20], 0, 1),
        ],
        f103.pellets.clone(),
    );
    let d = diff20(&f102, &f104);
    assert_eq!((d.base_age, d.velocities.len(), d.changed.len()), (2, 1, 1));
    // Player 2 leaves at 105; player 7 eats pellet 17 at 106; the client
    // gets 107 as a delta against 104 (three ticks), with player 2 removed.
    let f105 = tick_after(
        &f104,
        vec![
            p(1, [3_240, 1_990], [200, 0], 1, 14),
            p(7, [5_956, 151], [-200, 200], 5, 260),
            p(300, [203, 3_130], [20, 20], 0, 1),
        ],
        f104.pellets.clone(),
    );
    let f106 = tick_after(
        &f105,
        vec![
            p(1, [3_250, 1_990], [200, 0], 1, 15),
            p(7, [5_946, 161], [-200, 200], 6, 261),
            p(300, [204, 3_131], [20, 20], 0, 1),
        ],
        vec![pellet(5, [500, 500]), pellet(65_535, [6_000, 3_900])],
    );
    let f107 = tick_after(
        &f106,
        vec![
            p(1, [3_259, 1_990], [180, 0], 1, 16),
            p(7, [5_936, 171], [-200, 200], 6, 262),
            p(300, [204, 3_131], [0, 0], 0, 1),
        ],
        f106.pellets.clone(),
    );
    let d = diff20(&f104, &f107);
    assert_eq!(
        (d.base_age, &d.removed[..], d.velocities.len()),
        (3, &[2][..], 2)
    );
    // Player 8 joins: one delta operation, with its name.
    let f108 = tick_after(
        &f107,
        vec![
            p(1, [3_268, 1_990], [180, 0], 1, 17),
            p(7, [5_926, 181], [-200, 200], 6, 263),
            p(8, [3_200, 2_000], [0, 0], 0, 0),
            p(300, [204, 3_131], [0, 0], 0, 1),
        ],
        f107.pellets.clone(),
    );
    // Players 9 and 10 join at 109, 7 and 10 leave at 110, player 8 eats
    // pellet 5 at 111; the client gets 111 against 108: 7 removed and 9
    // added in one delta, 10 never shows up.
    let f109 = tick_after(
        &f108,
        vec![
            p(1, [3_277, 1_990], [180, 0], 1, 18),
            p(7, [5_916, 191], [-200, 200], 6, 264),
            p(8, [3_210, 2_000], [200, 0], 0, 1),
            p(9, [100, 100], [0, 0], 0, 0),
            p(10, [50, 50], [0, 0], 0, 0),
            p(300, [204, 3_131], [0, 0], 0, 1),
        ],
        f108.pellets.clone(),
    );
    let f110 = tick_after(
        &f109,
        vec![
            p(1, [3_286, 1_990], [180, 0], 1, 19),
            p(8, [3_220, 2_000], [200, 0], 0, 2),
            p(9, [100, 100], [0, 0], 0, 0),
            p(300, [204, 3_131], [0, 0], 0, 1),
        ],
        f109.pellets.clone(),
    );
    let f111 = tick_after(
        &f110,
        vec![
            p(1, [3_295, 1_990], [180, 0], 1, 20),
            p(8, [3_230, 2_000], [200, 0], 1, 3),
            p(9, [100, 108], [0, 160], 0, 1),
            p(300, [204, 3_131], [0, 0], 0, 1),
        ],
        vec![pellet(65_535, [6_000, 3_900])],
    );
    let d = diff20(&f108, &f111);
    assert_eq!(
        (d.base_age, &d.removed[..], d.added.len()),
        (3, &[7][..], 1)
    );
    // Then steady: players 1, 8 and 9 walk on, pellet 5 respawns.
    let walk = |prev: &Frame, pellets: Vec<Pellet>| {
        let players = prev
            .players
            .iter()
            .map(|q| {
                let step = match q.id {
                    1 => [9, 0],
                    8 => [10, 0],
                    9 => [0, 8],
                    _ => [0, 0],
                };
                let seq = q.last_input_seq + u32::from(q.id != 300);
                let pos = [q.pos[0] + step[0], q.pos[1] + step[1]];
                p(q.id, pos, q.vel, q.score, seq)
            })
            .collect();
        tick_after(prev, players, pellets)
    };
    let f112 = walk(
        &f111,
        vec![pellet(5, [900, 900]), pellet(65_535, [6_000, 3_900])],
    );
    let f113 = walk(&f112, f112.pellets.clone());
    let f114 = walk(&f113, f113.pellets.clone());

    // Refused deltas, all for the frame of tick 111 (players 1, 8, 9, 300).
    let held = Delta {
        moves: vec![[0, 0]; 4],
        acks: vec![0; 4],
        ..empty_delta(112, 1, 0)
    };
    let bad = |d: Delta| ServerMsg::Delta(d);
    let n = |count: usize| (vec![[0i8, 0]; count], vec![0u8; count]);
    let vel = |id: u32, vel: [i16; 2]| VelocityFix { id, vel };
    let score = |id: u32, score: u32| ScoreFix { id, score };
    let joiner = |id: u32| new_player(p(id, [10, 10], [0, 0], 0, 0), "");
    let with_players = |count: usize, d: Delta| {
        let (moves, acks) = n(count);
        Delta { moves, acks, ..d }
    };
    let mut mismatch = diff20(&f111, &f112);
    mismatch.checksum = Checksum(mismatch.checksum.0 ^ 1);

    replica_sequence(
        "drops_roster_changes_and_refusals_20hz",
        20,
        vec![
            Step::Diff("delta_before_any_snapshot", f100.clone(), f101.clone()),
            Step::Full("full_snapshot", f100.clone()),
            Step::Diff("delta_steady_moves", f100, f101.clone()),
            Step::Diff("delta_jump_bump_score_and_pellets", f101, f102.clone()),
            Step::Diff("delta_against_a_frame_two_ticks_old", f102, f104.clone()),
            Step::Diff("delta_three_ticks_with_a_leave", f104, f107.clone()),
            Step::Diff("delta_with_a_join", f107, f108.clone()),
            Step::Diff("delta_with_a_leave_and_a_join", f108, f111.clone()),
            Step::Diff("delta_wrong_base", f110, f112.clone()),
            Step::Raw(
                "delta_base_age_zero",
                bad(Delta {
                    base_age: 0,
                    ..held.clone()
                }),
            ),
            Step::Raw("delta_wrong_shape", bad(with_players(3, held.clone()))),
            Step::Raw(
                "delta_acks_short",
                bad(Delta {
                    acks: vec![0; 3],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_removed_leaves_fewer_players",
                bad(Delta {
                    removed: vec![8],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_removed_unknown_player",
                bad(with_players(
                    3,
                    Delta {
                        removed: vec![7],
                        ..held.clone()
                    },
                )),
            ),
            // Checked before the shape: the first unknown id is reported.
            Step::Raw(
                "delta_removed_unknown_player_and_wrong_shape",
                bad(Delta {
                    removed: vec![8, 10],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_removed_unsorted",
                bad(with_players(
                    2,
                    Delta {
                        removed: vec![9, 1],
                        ..held.clone()
                    },
                )),
            ),
            Step::Raw(
                "delta_removed_twice",
                bad(with_players(
                    2,
                    Delta {
                        removed: vec![8, 8],
                        ..held.clone()
                    },
                )),
            ),
            Step::Raw(
                "delta_unknown_player",
                bad(Delta {
                    changed: vec![p(6, [0, 0], [0, 0], 0, 0)],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_unknown_player_in_velocities",
                bad(Delta {
                    velocities: vec![vel(1, [40, 0]), vel(7, [1, 1])],
                    ..held.clone()
                }),
            ),
            // Known ids in `velocities` and `changed`: nothing of it applies.
            Step::Raw(
                "delta_unknown_player_in_scores",
                bad(Delta {
                    moves: vec![[1, 1]; 4],
                    velocities: vec![vel(8, [0, 0])],
                    scores: vec![score(1, 2), score(6, 1)],
                    changed: vec![p(9, [0, 0], [0, 0], 0, 0)],
                    ..held.clone()
                }),
            ),
            // The first unknown id in velocities, scores, changed order.
            Step::Raw(
                "delta_unknown_players_everywhere",
                bad(Delta {
                    velocities: vec![vel(5, [0, 0])],
                    scores: vec![score(6, 1)],
                    changed: vec![p(4, [0, 0], [0, 0], 0, 0)],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_wrong_shape_and_unknown_player",
                bad(with_players(
                    3,
                    Delta {
                        velocities: vec![vel(5, [0, 0])],
                        ..held.clone()
                    },
                )),
            ),
            Step::Raw(
                "delta_fix_for_a_removed_player",
                bad(with_players(
                    3,
                    Delta {
                        removed: vec![8],
                        scores: vec![score(8, 2)],
                        ..held.clone()
                    },
                )),
            ),
            Step::Raw(
                "delta_adds_a_present_player",
                bad(Delta {
                    added: vec![joiner(11), joiner(300)],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_adds_unsorted",
                bad(Delta {
                    added: vec![joiner(12), joiner(11)],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_adds_twice",
                bad(Delta {
                    added: vec![joiner(11), joiner(11)],
                    ..held.clone()
                }),
            ),
            Step::Raw(
                "delta_unknown_fix_and_duplicate_join",
                bad(Delta {
                    velocities: vec![vel(5, [0, 0])],
                    added: vec![joiner(1)],
                    ..held.clone()
                }),
            ),
            // The right delta with a wrong checksum: the copies diverged, the
            // replica drops its frame and refuses deltas until a full snapshot.
            Step::Raw("delta_checksum_mismatch", ServerMsg::Delta(mismatch)),
            Step::Diff("delta_after_the_mismatch", f111, f112.clone()),
            Step::Full("full_snapshot_recovers", f113.clone()),
            Step::Diff("delta_after_the_recovery", f113, f114),
        ],
    )
}

/// Hand-built deltas at 300 Hz, where derived velocities overflow i16:
/// positions and velocities clamp, input sequences wrap, a pellet removed
/// and added in one delta comes back, a pellet added twice keeps the last
/// position, `changed` naming a player twice keeps the last entry, as do
/// repeated velocity and score fixes; velocities derived over several ticks
/// truncate toward zero; a player leaves and one with the same id joins in
/// one delta; players join before and after the others, everyone leaves,
/// and players join an empty room.
fn edge_sequence() -> J {
    let p = player;
    let e7 = Frame {
        tick: 7,
        players: vec![
            p(1, [5, 65_530], [0, 0], 0, u32::MAX - 1),
            p(2, [65_535, 0], [0, 0], 0, 0),
        ],
        pellets: vec![pellet(2, [10, 10]), pellet(4, [20, 20])],
        roster: vec![info(1, "edge"), info(2, "")],
    };
    let two = |tick: u32, base_age: u8, moves: Vec<[i8; 2]>, acks: Vec<u8>| Delta {
        moves,
        acks,
        ..empty_delta(tick, base_age, 0)
    };
    replica_sequence(
        "clamps_wraps_repeats_and_roster_300hz",
        300,
        vec![
            Step::Full("full_snapshot", e7),
            Step::Sealed(
                "delta_clamps_and_wraps",
                Delta {
                    pellets_removed: vec![9, 2],
                    pellets_added: vec![
                        pellet(4, [21, 21]),
                        pellet(1, [1, 1]),
                        pellet(2, [2, 2]),
                        pellet(9, [9, 9]),
                        pellet(9, [90, 90]),
                    ],
                    ..two(8, 1, vec![[-128, 127], [127, -128]], vec![255, 0])
                },
            ),
            Step::Sealed(
                "delta_changed_twice_and_all_pellets_gone",
                Delta {
                    changed: vec![
                        p(1, [100, 100], [5, 5], 1, 3),
                        p(1, [200, 200], [6, -6], 2, 4),
                    ],
                    pellets_removed: vec![1, 2, 4, 9],
                    ..two(9, 1, vec![[1, 1], [0, 0]], vec![0, 1])
                },
            ),
            Step::Sealed(
                "delta_small_moves_at_300hz",
                Delta {
                    pellets_added: vec![pellet(0, [0, 0])],
                    ..two(10, 1, vec![[-1, 2], [0, -1]], vec![1, 1])
                },
            ),
            // Fixes apply in order (the last one for an id wins), velocities
            // before scores, and `changed` replaces what they set.
            Step::Sealed(
                "delta_fixes_repeat_and_yield_to_changed",
                Delta {
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
                    ..two(11, 1, vec![[2, -1], [0, 0]], vec![0, 3])
                },
            ),
            // -300/7 = -42.9 derives -42, 127 × 300 / 7 = 5442.9 derives 5442.
            Step::Sealed(
                "delta_over_seven_ticks_truncates_toward_zero",
                two(18, 7, vec![[-1, 1], [127, -128]], vec![0, 2]),
            ),
            Step::Sealed(
                "delta_against_the_oldest_base",
                two(273, 255, vec![[1, -1], [-128, 127]], vec![1, 0]),
            ),
            Step::Sealed(
                "delta_removes_and_adds_the_same_id",
                Delta {
                    removed: vec![2],
                    added: vec![new_player(p(2, [7, 7], [1, 1], 0, 0), "again")],
                    ..two(274, 1, vec![[0, 0]], vec![0])
                },
            ),
            Step::Sealed(
                "delta_adds_before_and_after_the_others",
                Delta {
                    added: vec![
                        new_player(p(0, [0, 0], [0, 0], 0, 0), "zero"),
                        new_player(
                            p(
                                u32::MAX,
                                [65_535, 65_535],
                                [-32_768, 32_767],
                                u32::MAX,
                                u32::MAX,
                            ),
                            "日本語日本語日本",
                        ),
                    ],
                    ..two(275, 1, vec![[0, 0], [0, 0]], vec![0, 0])
                },
            ),
            Step::Sealed(
                "delta_everyone_leaves",
                Delta {
                    removed: vec![0, 1, 2, u32::MAX],
                    pellets_removed: vec![0],
                    ..two(276, 1, vec![], vec![])
                },
            ),
            Step::Sealed(
                "delta_players_join_an_empty_room",
                Delta {
                    added: vec![
                        new_player(p(5, [50, 50], [3, 3], 1, 2), "five"),
                        new_player(p(6, [60, 60], [0, 0], 0, 0), ""),
                    ],
                    ..two(280, 4, vec![], vec![])
                },
            ),
        ],
    )
}

/// Ticks wrap: a delta over three ticks across `u32::MAX`, then one against
/// a frame 255 ticks old, where a one-step move derives velocity 0 (-20/255
/// truncated; not -0 in JS).
fn wrap_sequence() -> J {
    let p = player;
    let w0 = frame(
        u32::MAX - 1,
        vec![
            p(1, [1_000, 1_000], [0, 0], 0, 0),
            p(2, [2_000, 2_000], [200, 0], 0, 0),
        ],
        vec![],
    );
    let w1 = tick_after(
        &w0,
        vec![
            p(1, [1_000, 1_000], [0, 0], 0, 0),
            p(2, [2_010, 2_000], [200, 0], 0, 1),
        ],
        vec![],
    );
    let w2 = tick_after(
        &w1,
        vec![
            p(1, [1_000, 999], [0, -20], 0, 0),
            p(2, [2_020, 2_000], [200, 0], 0, 2),
        ],
        vec![],
    );
    let w3 = tick_after(
        &w2,
        vec![
            p(1, [1_000, 999], [0, 0], 0, 0),
            p(2, [2_030, 2_000], [200, 0], 0, 3),
        ],
        vec![],
    );
    assert_eq!(w3.tick, 1);
    let stopped = vec![
        p(1, [1_000, 998], [0, 0], 0, 0),
        p(2, [2_030, 2_000], [0, 0], 0, 3),
    ];
    let w255 = frame(255, stopped.clone(), vec![pellet(1, [5, 5])]);
    let w256 = tick_after(&w255, stopped, vec![pellet(1, [5, 5])]);
    let d = diff20(&w3, &w256);
    assert!(d.base_age == 255 && d.velocities.is_empty() && d.moves[0] == [0, -1]);
    replica_sequence(
        "ticks_wrap_and_the_oldest_base_20hz",
        20,
        vec![
            Step::Full("full_snapshot", w0.clone()),
            Step::Diff("delta_across_the_wrap", w0, w3.clone()),
            Step::Diff("delta_against_a_frame_255_ticks_old", w3, w256),
        ],
    )
}

/// Frames and their checksums (`checksums` in the fixture), so the JS hash
/// is checked on its own. The first two are pinned against an independent
/// MurmurHash3 (replica.rs `the_checksum_is_pinned`).
fn checksum_cases() -> Vec<(&'static str, Frame)> {
    let p = player;
    let pinned = frame(
        42,
        vec![p(7, [1, 2], [-3, 4], 5, 6)],
        vec![pellet(9, [10, 11])],
    );
    let mut renamed = pinned.clone();
    renamed.roster[0].name = "renamed".into();
    vec![
        ("empty_frame", Frame::default()),
        ("one_player_one_pellet", pinned),
        ("names_are_not_covered", renamed),
        (
            "extremes",
            frame(
                u32::MAX,
                vec![
                    p(0, [0, 65_535], [-32_768, 32_767], u32::MAX, 0),
                    p(u32::MAX, [65_535, 0], [-1, 1], 0, u32::MAX),
                ],
                vec![pellet(0, [65_535, 65_535]), pellet(65_535, [0, 0])],
            ),
        ),
        (
            "fifty_players_and_260_pellets",
            frame(
                1_000_000,
                (1..=50u16)
                    .map(|id| {
                        let i = i16::try_from(id).expect("small");
                        p(
                            u32::from(id) * 7,
                            [id * 1_000, 65_535 - id],
                            [i * -300, i * 77],
                            u32::from(id),
                            u32::from(id) << 24,
                        )
                    })
                    .collect(),
                (0..260u16)
                    .map(|id| pellet(id, [id * 250, 65_535 - id * 3]))
                    .collect(),
            ),
        ),
    ]
}

/// `settle_velocities` cases (`settle` in the fixture): (name, tick rate,
/// previous frame, frame before settling).
fn settle_cases() -> Vec<(&'static str, u16, Frame, Frame)> {
    let p = player;
    let prev = frame(
        1,
        vec![
            p(1, [100, 100], [0, 0], 0, 0),
            p(2, [0, 0], [0, 0], 0, 0),
            p(3, [500, 500], [0, 0], 0, 0),
            p(4, [1_000, 1_000], [0, 0], 0, 0),
            p(6, [0, 60_000], [0, 0], 0, 0),
        ],
        vec![],
    );
    // Player 1 within the tolerance on both axes, 2 bumped on one axis, 3
    // exactly at the tolerance, 4 one past it, 5 just joined, 6 jumped so far
    // that the derived velocity clamps to the i16 range.
    let raw = frame(
        2,
        vec![
            p(1, [110, 100], [215, -30], 0, 0),
            p(2, [5, 0], [-300, 0], 0, 0),
            p(3, [500, 500], [40, -40], 0, 0),
            p(4, [1_000, 1_000], [41, 0], 0, 0),
            p(5, [9, 9], [7, 7], 0, 0),
            p(6, [2_000, 58_000], [32_740, -32_768], 0, 0),
        ],
        vec![],
    );
    let later = Frame {
        tick: 3,
        ..raw.clone()
    };
    let at300 = frame(2, vec![p(1, [101, 99], [310, -290], 0, 0)], vec![]);
    vec![
        ("within_and_beyond_the_tolerance", 20, prev.clone(), raw),
        ("not_the_previous_tick", 20, prev.clone(), later),
        ("at_300hz", 300, prev, at300),
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
    let cases = checksum_cases();
    // Pinned independently (Python's mmh3), not just what this crate computes.
    assert_eq!(cases[0].1.checksum(), Checksum(0xd941_144b));
    assert_eq!(cases[1].1.checksum(), Checksum(0x17cb_4a7c));
    assert_eq!(cases[2].1.checksum(), cases[1].1.checksum());
    let checksums = cases
        .iter()
        .map(|(name, f)| {
            obj(vec![
                ("name", s(name)),
                ("frame", frame_json(f)),
                ("checksum", num(f.checksum().0)),
            ])
        })
        .collect();
    let settle = settle_cases()
        .into_iter()
        .map(|(name, rate, prev, raw)| {
            let mut settled = raw.clone();
            replica::settle_velocities(&prev, &mut settled, rate);
            obj(vec![
                ("name", s(name)),
                ("tick_rate_hz", num(rate)),
                ("prev", frame_json(&prev)),
                ("raw", frame_json(&raw)),
                ("settled", frame_json(&settled)),
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
        ("checksums", J::Arr(checksums)),
        ("settle", J::Arr(settle)),
    ]);
    let mut out = String::new();
    doc.write(&mut out, 0);
    out.push('\n');
    out
}

#[test]
fn committed_vectors_match_the_rust_codec() {
    fixture::check_committed("vectors.json", &generate(), "vectors");
}
