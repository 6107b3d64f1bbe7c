//! One input or event on the wire: a shape's values, each slot in order,
//! with no delta and no mask (an input or event is sent once, whole).
//!
//! Integers are zig-zag varints of the value itself, a bool is one byte
//! 0 or 1, an f32 its 4 little-endian bytes, a text a length-prefixed UTF-8
//! string. Decoding is strict like the frames': every value in its slot's
//! range, nothing left over, so an input a client forged past its type
//! never reaches a game.

use super::DecodeError;
use super::frame::Value;
use super::schema::{Schema, Slot};
use super::wire::{Reader, put_str, put_varint, unzigzag, zigzag};

/// Appends `values` (one per slot of `slots`, each fitting it: build them
/// with the game's `Wire::write`).
pub fn encode_values(slots: &[Slot], values: &[Value], out: &mut Vec<u8>) {
    for (slot, v) in slots.iter().zip(values) {
        match (slot, v) {
            (Slot::Int { bool: true, .. }, Value::Int(n)) => out.push(u8::from(*n != 0)),
            (Slot::Int { .. }, Value::Int(n)) => put_varint(out, zigzag(*n)),
            (Slot::F32, Value::Int(n)) => out.extend_from_slice(&(*n as u32).to_le_bytes()),
            (Slot::Text { .. }, Value::Text(t)) => put_str(out, t),
            _ => debug_assert!(false, "value does not fit its slot"),
        }
    }
}

/// The most bytes a message of `slots` can take (the bound an input type's
/// encoded size is checked against at registration).
pub fn max_encoded_len(slots: &[Slot]) -> usize {
    slots
        .iter()
        .map(|s| match s {
            Slot::Int { bool: true, .. } => 1,
            Slot::Int { .. } => 9,
            Slot::F32 => 4,
            Slot::Text { max_bytes } => 3 + usize::from(*max_bytes),
        })
        .sum()
}

/// Decodes exactly one message of `slots` from `bytes` into `out` (cleared
/// first); refuses a value out of its slot's range, a non-canonical varint,
/// bad UTF-8, an over-long text and trailing bytes.
pub fn decode_values(
    slots: &[Slot],
    bytes: &[u8],
    out: &mut Vec<Value>,
) -> Result<(), DecodeError> {
    out.clear();
    read_values(slots, bytes, Some(out))
}

/// Checks that `bytes` are exactly one message of `slots`, as
/// [`decode_values`] would, without building the values (what a server's
/// reader does with every input before it queues it for the room).
pub fn check_values(slots: &[Slot], bytes: &[u8]) -> Result<(), DecodeError> {
    read_values(slots, bytes, None)
}

fn read_values(
    slots: &[Slot],
    bytes: &[u8],
    mut out: Option<&mut Vec<Value>>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes);
    for &slot in slots {
        let at = r.pos();
        let v = match slot {
            Slot::Int { bool: true, .. } => match r.u8()? {
                b @ (0 | 1) => Value::Int(b.into()),
                _ => {
                    return Err(DecodeError::Malformed {
                        at,
                        what: "a bool other than 0 or 1",
                    });
                }
            },
            Slot::Int { min, max, .. } => {
                let n = unzigzag(r.varint()?);
                if n < min || n > max {
                    return Err(DecodeError::Malformed {
                        at,
                        what: "integer out of its type's range",
                    });
                }
                Value::Int(n)
            }
            Slot::F32 => Value::Int(i64::from(u32::from_le_bytes(
                r.take(4)?.try_into().unwrap_or([0; 4]),
            ))),
            Slot::Text { max_bytes } => {
                let t = r.str(usize::from(max_bytes))?;
                match &mut out {
                    Some(_) => Value::Text(t.into()),
                    None => Value::Int(0),
                }
            }
        };
        if let Some(out) = &mut out {
            out.push(v);
        }
    }
    r.finish()
}

/// Appends event `id` of `schema` with `values`: the id as a varint, then
/// the values. `None` (nothing appended) if the schema has no such event.
pub fn encode_event(schema: &Schema, id: usize, values: &[Value], out: &mut Vec<u8>) -> Option<()> {
    let slots = schema.event_layout(id)?;
    put_varint(out, id as u64);
    encode_values(slots, values, out);
    Some(())
}

/// Decodes one event of `schema` into `out`; returns its id.
pub fn decode_event(
    schema: &Schema,
    bytes: &[u8],
    out: &mut Vec<Value>,
) -> Result<usize, DecodeError> {
    let mut r = Reader::new(bytes);
    let id = r.varint()? as usize;
    let slots = schema.event_layout(id).ok_or(DecodeError::Malformed {
        at: 0,
        what: "unknown event id",
    })?;
    decode_values(slots, &bytes[r.pos()..], out)
        .map_err(|e| shift(e, r.pos()))
        .map(|()| id)
}

/// Moves an error's byte offset by `by` (it was found in a sub-slice).
fn shift(e: DecodeError, by: usize) -> DecodeError {
    match e {
        DecodeError::Truncated { at } => DecodeError::Truncated { at: at + by },
        DecodeError::Malformed { at, what } => DecodeError::Malformed { at: at + by, what },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Field, FieldType, Scalar, Shape};

    fn slots() -> Vec<Slot> {
        Shape::new(
            "input",
            vec![
                Field::new("fire", FieldType::Scalar(Scalar::Bool)),
                Field::new(
                    "aim",
                    FieldType::Fixed {
                        repr: Scalar::I16,
                        scale: 100,
                    },
                ),
                Field::new("seq", FieldType::Scalar(Scalar::U8)),
                Field::new("angle", FieldType::Scalar(Scalar::F32)),
                Field::new("say", FieldType::Text { max_bytes: 8 }),
            ],
        )
        .slots()
    }

    #[test]
    fn values_round_trip_and_the_bound_holds() {
        let slots = slots();
        let values = vec![
            Value::Int(1),
            Value::Int(-314),
            Value::Int(255),
            Value::Int(i64::from(1.5f32.to_bits())),
            Value::Text("héllo".into()),
        ];
        let mut bytes = Vec::new();
        encode_values(&slots, &values, &mut bytes);
        assert!(bytes.len() <= max_encoded_len(&slots));
        let mut back = Vec::new();
        decode_values(&slots, &bytes, &mut back).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn out_of_range_bad_bools_long_texts_and_trailing_bytes_are_refused() {
        let slots = slots();
        let ok = |v: &[Value]| {
            let mut b = Vec::new();
            encode_values(&slots, v, &mut b);
            b
        };
        let good = ok(&[
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            Value::Text("".into()),
        ]);
        let mut out = Vec::new();
        let mut bad_bool = good.clone();
        bad_bool[0] = 2;
        assert!(decode_values(&slots, &bad_bool, &mut out).is_err());
        // 256 in a u8 slot (zig-zag 512 = 251 0x00 0x02).
        let mut wide = good.clone();
        wide.splice(2..3, [251, 0, 2]);
        assert!(decode_values(&slots, &wide, &mut out).is_err());
        let mut long = good[..good.len() - 1].to_vec();
        long.push(9);
        long.extend_from_slice(b"123456789");
        assert!(decode_values(&slots, &long, &mut out).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode_values(&slots, &trailing, &mut out),
            Err(DecodeError::TrailingBytes(1))
        ));
        assert!(decode_values(&slots, &good[..3], &mut out).is_err());
        decode_values(&slots, &good, &mut out).unwrap();
        check_values(&slots, &good).unwrap();
        for bad in [&bad_bool, &wide, &long, &trailing, &good[..3].to_vec()] {
            assert!(check_values(&slots, bad).is_err());
        }
    }
}
