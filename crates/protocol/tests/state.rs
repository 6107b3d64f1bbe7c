//! Properties of the game-agnostic state codec (`tickroom_protocol::state`)
//! on random frames of a schema with every slot kind: a delta rebuilds its
//! frame exactly, whatever was spawned, despawned, added or removed; every
//! encoding is canonical (what decodes re-encodes to the same bytes); and a
//! moving entity costs what the arena's hand-tuned move did.

#[path = "support/state_gen.rs"]
mod state_gen;

use proptest::prelude::*;
use state_gen::{Spec, frame, schema, spec};
use tickroom_protocol::state::{Encoder, Frame, FrameError, Value, apply, read_header};

/// A sequence of frames where some entities persist and change a little.
fn frames() -> impl Strategy<Value = Vec<Vec<Spec>>> {
    prop::collection::vec(prop::collection::vec(spec(), 0..30), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_delta_rebuilds_its_frame_and_is_canonical(seq in frames()) {
        let s = schema();
        let mut enc = Encoder::default();
        let frames: Vec<Frame> = seq.iter().enumerate().map(|(t, specs)| frame(&s, 10 + t as u32, specs)).collect();
        for (k, f) in frames.iter().enumerate() {
            let mut full = Vec::new();
            enc.encode(&s, None, f, &mut full);
            let rebuilt = apply(&s, None, &full);
            prop_assert_eq!(rebuilt.as_ref(), Ok(f));
            for base in &frames[..k] {
                let mut bytes = Vec::new();
                enc.encode(&s, Some(base), f, &mut bytes);
                let h = read_header(&bytes).expect("header");
                prop_assert_eq!(h.base_tick, Some(base.tick));
                let got = apply(&s, Some(base), &bytes);
                prop_assert_eq!(got.as_ref(), Ok(f));
                let mut again = Vec::new();
                enc.encode(&s, Some(base), &got.expect("checked"), &mut again);
                prop_assert_eq!(again, bytes);
            }
        }
    }
}

#[test]
fn a_delta_from_the_wrong_base_is_refused() {
    let s = schema();
    let mut enc = Encoder::default();
    let a = frame(&s, 1, &[]);
    let b = frame(&s, 2, &[]);
    let mut bytes = Vec::new();
    enc.encode(&s, Some(&a), &b, &mut bytes);
    assert!(apply(&s, Some(&b), &bytes).is_err());
    assert!(apply(&s, None, &bytes).is_err());
}

/// The arena's hand-tuned delta spent 3 bytes per moving player (a 2-byte
/// move and an ack byte, which the engine now sends per client outside the
/// shared delta): 50 bodies moving a few units each cost 3 bytes each (a
/// shape index and two 1-byte differences), plus a bit each in the changed
/// bitmap and a header with the shape table.
#[test]
fn fifty_moving_bodies_cost_under_three_bytes_each() {
    let s = schema();
    let mut enc = Encoder::default();
    let at = |tick: u32, step: i64| {
        let specs: Vec<Spec> = (0..50)
            .map(|id| Spec {
                id,
                mask: 1,
                raw: [100 + step * (i64::from(id) % 5 - 2), 200 - step, 7, 0, 0, 0],
                text: String::new(),
            })
            .collect();
        frame(&s, tick, &specs)
    };
    let (a, b) = (at(1, 0), at(2, 3));
    let mut bytes = Vec::new();
    enc.encode(&s, Some(&a), &b, &mut bytes);
    assert_eq!(apply(&s, Some(&a), &bytes), Ok(b));
    assert!(
        bytes.len() <= 50 * 3 + 7 + 12,
        "{} bytes for 50 movers",
        bytes.len()
    );
}

#[test]
fn values_that_do_not_fit_their_slots_are_refused_when_set() {
    let s = schema();
    let ship = |hp: i64, alive: i64, name: &str| {
        vec![
            Value::Int(hp),
            Value::Int(alive),
            Value::Text(name.into()),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
        ]
    };
    let mut f = Frame::new(1);
    assert_eq!(f.set(&s, 1, &ship(1, 1, "")), Err(FrameError::NoEntity));
    f.begin(5).unwrap();
    let bad = Err(FrameError::BadValues {
        entity: 5,
        component: 1,
    });
    assert_eq!(f.set(&s, 1, &ship(256, 0, "")), bad);
    assert_eq!(f.set(&s, 1, &ship(1, 2, "")), bad);
    assert_eq!(f.set(&s, 1, &ship(1, 1, "0123456789abc")), bad);
    assert!(f.set(&s, 0, &[Value::Int(0)]).is_err());
    assert_eq!(f.set(&s, 9, &[]), Err(FrameError::UnknownComponent(9)));
    assert_eq!(f.set(&s, 2, &[]), Ok(()));
    assert_eq!(
        f.set(&s, 1, &ship(1, 1, "")),
        Err(FrameError::ComponentOutOfOrder {
            entity: 5,
            component: 1
        })
    );
    assert_eq!(f.begin(5), Err(FrameError::OutOfOrder(5)));
    assert_eq!(f.len(), 1);
    assert_eq!(f.get(5).map(|e| e.len()), Some(1));
}
