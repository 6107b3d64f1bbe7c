//! Cross-language vectors of the game-agnostic state codec: the browser's
//! decoder (`clients/js/src/state.js`) must read exactly what
//! `tickroom_protocol::state` writes. This builds a schema with every slot
//! kind, a sequence of frames with spawns, despawns, components added and
//! removed, bool flips, text changes, float bits, 64-bit and negative
//! values, deltas against the previous frame and an older one, and bytes the
//! decoder must refuse; it compares the result with the committed fixture
//! `clients/js/test/state_vectors.json`, which `state.test.mjs` replays.
//!
//! After an intended change, regenerate it with
//! `UPDATE_VECTORS=1 cargo test -p tickroom-protocol --test state_vectors`.

#[path = "support/fixture.rs"]
mod fixture;
// This test uses the schema and frame builder, not the proptest strategies.
#[allow(dead_code)]
#[path = "support/state_gen.rs"]
mod state_gen;

use serde_json::{Value as Json, json};
use state_gen::{Spec, frame, schema};
use tickroom_protocol::state::{Encoder, Frame, ValueRef, apply};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A frame as JSON: integers as decimal strings (JS numbers cannot hold
/// every i64), texts as `{"text": ...}`.
fn frame_json(f: &Frame) -> Json {
    let entities: Vec<Json> = f
        .entities()
        .map(|e| {
            let comps: Vec<Json> = e
                .components()
                .map(|(id, values)| {
                    let values: Vec<Json> = values
                        .iter()
                        .map(|v| match v {
                            ValueRef::Int(n) => json!(n.to_string()),
                            ValueRef::Text(t) => json!({ "text": t }),
                        })
                        .collect();
                    json!({ "id": id, "values": values })
                })
                .collect();
            json!({ "id": e.id(), "components": comps })
        })
        .collect();
    json!({ "tick": f.tick, "entities": entities })
}

fn spec(id: u32, mask: u8, raw: [i64; 6], text: &str) -> Spec {
    Spec {
        id,
        mask,
        raw,
        text: text.into(),
    }
}

/// Frames 1..=6: each step exercises something the decoder must do.
fn sequence() -> Vec<Vec<Spec>> {
    let a = [100, -5, 0x3F80_0000, 7, 1, -3];
    vec![
        // 1: three entities, every component kind.
        vec![
            spec(1, 0b011, a, "ab"),
            spec(4, 0b001, a, ""),
            spec(9, 0b100, a, ""),
        ],
        // 2: moves, a bool flip, a text change, a big u64, float bits.
        vec![
            spec(1, 0b011, [101, -7, 0x4000_0000, 7, i64::MIN, 127], "abc"),
            spec(4, 0b001, [100, -5, 0x3F80_0000, 0, 0, 0], ""),
            spec(9, 0b100, a, ""),
        ],
        // 3: a despawn (4), a spawn (6), a component added (9 gets body).
        vec![
            spec(1, 0b011, [101, -7, 0x4000_0000, 7, i64::MIN, 127], "abc"),
            spec(6, 0b010, [255, 1, 0, u32::MAX.into(), i64::MAX, -128], "é"),
            spec(9, 0b101, a, ""),
        ],
        // 4: a component removed (1 loses ship), a spawn below every id (0).
        vec![
            spec(0, 0b000, a, ""),
            spec(1, 0b001, [101, -7, 0x4000_0000, 0, 0, 0], ""),
            spec(6, 0b010, [255, 1, 0, u32::MAX.into(), i64::MAX, -128], "é"),
            spec(9, 0b101, a, ""),
        ],
        // 5: nothing changes.
        vec![
            spec(0, 0b000, a, ""),
            spec(1, 0b001, [101, -7, 0x4000_0000, 0, 0, 0], ""),
            spec(6, 0b010, [255, 1, 0, u32::MAX.into(), i64::MAX, -128], "é"),
            spec(9, 0b101, a, ""),
        ],
        // 6: everything despawns but one, which changes a lot.
        vec![spec(
            6,
            0b111,
            [-(1 << 31), (1 << 31) - 1, 0xFFFF_FFFF, 0, -1, 0],
            "zz",
        )],
    ]
}

#[test]
fn committed_state_vectors_match_the_rust_codec() {
    let s = schema();
    let mut enc = Encoder::default();
    let frames: Vec<Frame> = sequence()
        .iter()
        .enumerate()
        .map(|(i, specs)| frame(&s, i as u32 + 1, specs))
        .collect();
    let mut scratch = Vec::new();
    let mut steps = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        // A full frame first, then deltas from the previous and from two back.
        let bases: Vec<Option<&Frame>> = match k {
            0 => vec![None],
            1 => vec![None, Some(&frames[0])],
            _ => vec![Some(&frames[k - 1]), Some(&frames[k - 2])],
        };
        for base in bases {
            let mut bytes = Vec::new();
            enc.encode(&s, base, f, &mut bytes);
            assert_eq!(apply(&s, base, &bytes).as_ref(), Ok(f));
            steps.push(json!({
                "base": base.map(|b| b.tick),
                "hex": hex(&bytes),
                "frame": frame_json(f),
                "checksum": f.checksum(&mut scratch),
            }));
        }
    }
    // Bytes the decoder must refuse, each from a valid delta (frame 3 from 2).
    let mut good = Vec::new();
    enc.encode(&s, Some(&frames[1]), &frames[2], &mut good);
    let mut refused = Vec::new();
    let mut refuse = |why: &str, base: Option<&Frame>, bytes: Vec<u8>| {
        let err = apply(&s, base, &bytes).expect_err(why);
        refused.push(json!({ "why": why, "rust": err.to_string(), "base": base.map(|b| b.tick), "hex": hex(&bytes) }));
    };
    refuse(
        "truncated",
        Some(&frames[1]),
        good[..good.len() - 1].to_vec(),
    );
    refuse(
        "trailing byte",
        Some(&frames[1]),
        [&good[..], &[0]].concat(),
    );
    refuse("wrong base", Some(&frames[0]), good.clone());
    refuse("no base given", None, good.clone());
    let mut bad_marker = good.clone();
    bad_marker[0] = 254;
    refuse("bad varint marker", Some(&frames[1]), bad_marker);
    let mut non_canonical = vec![251, 3, 0];
    non_canonical.extend_from_slice(&good[1..]);
    refuse("non-canonical varint", Some(&frames[1]), non_canonical);
    // A full frame of one entity whose u8 slot is pushed past 255.
    let mut one = Frame::new(1);
    one.begin(1).expect("first");
    one.set(&s, 1, &state_gen::values(1, &[255, 0, 0, 0, 0, 0], ""))
        .expect("fits");
    let mut full = Vec::new();
    enc.encode(&s, None, &one, &mut full);
    // The hp delta is the zig-zag of 255 (510 = 251 0xFE 0x01); make it 256.
    let at = full
        .windows(3)
        .position(|w| w == [251, 0xFE, 0x01])
        .expect("hp delta");
    full[at + 1] = 0x00;
    full[at + 2] = 0x02;
    refuse("u8 out of range", None, full);

    let doc = json!({
        "schema": { "hex": hex(&s.encode()), "hash": s.hash().to_string(), "game": s.game(), "version": s.version(),
            "components": s.components().iter().enumerate().map(|(i, c)| json!({ "name": c.name, "slots": s.layout(i as u8).map_or(0, <[_]>::len) })).collect::<Vec<_>>() },
        "steps": steps,
        "refused": refused,
    });
    let fresh = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    fixture::check_committed("state_vectors.json", &fresh, "state_vectors");
}
