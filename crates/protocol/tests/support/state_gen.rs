//! Random frames of a test schema with every slot kind, shared by the state
//! codec's property tests (`state.rs`) and its fuzzing (`fuzz.rs`).

use proptest::prelude::*;
use tickroom_protocol::state::{Field, FieldType, Frame, Scalar, Schema, Shape, Value};

pub fn schema() -> Schema {
    let pos = FieldType::Array {
        item: Box::new(FieldType::Fixed {
            repr: Scalar::I32,
            scale: 4,
        }),
        len: 2,
    };
    let body = Shape::new(
        "body",
        vec![
            Field::new("pos", pos),
            Field::new("angle", FieldType::Scalar(Scalar::F32)),
        ],
    );
    let ship = Shape::new(
        "ship",
        vec![
            Field::new("hp", FieldType::Scalar(Scalar::U8)),
            Field::new("alive", FieldType::Scalar(Scalar::Bool)),
            Field::new("name", FieldType::Text { max_bytes: 12 }),
            Field::new("target", FieldType::Entity),
            Field::new("big", FieldType::Scalar(Scalar::U64)),
            Field::new("small", FieldType::Scalar(Scalar::I8)),
        ],
    );
    let tag = Shape::new("tag", vec![]);
    let input = Shape::new(
        "input",
        vec![Field::new("fire", FieldType::Scalar(Scalar::Bool))],
    );
    Schema::new("props", 3, vec![ship, body, tag], input, vec![]).expect("valid schema")
}

/// Values for component `id` of the test schema, from raw numbers.
pub fn values(id: u8, raw: &[i64; 6], text: &str) -> Vec<Value> {
    match id {
        // body: pos[2] (i32), angle (f32 bits)
        0 => vec![
            Value::Int(raw[0].clamp(i32::MIN.into(), i32::MAX.into())),
            Value::Int(raw[1].clamp(i32::MIN.into(), i32::MAX.into())),
            Value::Int(raw[2] & 0xFFFF_FFFF),
        ],
        // ship: hp u8, alive bool, name, target u32, big u64, small i8
        1 => vec![
            Value::Int(raw[0] & 0xFF),
            Value::Int(raw[1] & 1),
            Value::Text(text.into()),
            Value::Int(raw[3] & 0xFFFF_FFFF),
            Value::Int(raw[4]),
            Value::Int(raw[5].clamp(-128, 127)),
        ],
        _ => vec![],
    }
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub id: u32,
    /// Which of the 3 components it has.
    pub mask: u8,
    pub raw: [i64; 6],
    pub text: String,
}

fn num() -> impl Strategy<Value = i64> {
    prop_oneof![
        -3i64..3,
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        250i64..260
    ]
}

pub fn spec() -> impl Strategy<Value = Spec> {
    (
        0u32..40,
        0u8..8,
        [num(), num(), num(), num(), num(), num()],
        "[a-z\u{e9}]{0,6}",
    )
        .prop_map(|(id, mask, raw, text)| Spec {
            id,
            mask,
            raw,
            text,
        })
}

pub fn frame(schema: &Schema, tick: u32, specs: &[Spec]) -> Frame {
    let mut by_id = std::collections::BTreeMap::new();
    for s in specs {
        by_id.insert(s.id, s);
    }
    let mut f = Frame::new(tick);
    for (&id, s) in &by_id {
        f.begin(id).expect("ids ascend");
        for c in 0..3u8 {
            if s.mask & (1 << c) != 0 {
                f.set(schema, c, &values(c, &s.raw, &s.text))
                    .expect("values fit");
            }
        }
    }
    f
}
