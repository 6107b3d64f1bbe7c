//! Behaviours for any game, built from its schema alone: `random` sends a
//! random valid value in every slot of the schema's input, `idle` the
//! game's zero input. A game nobody wrote a behaviour for can still be
//! swarmed with them.
//!
//! "Valid" is what the wire types allow: integers (fixed-point included)
//! anywhere in their type's range, bools 0 or 1, f32 in `[-1, 1)` (finite:
//! what a game reading a direction or an aim expects), texts of up to 16
//! ASCII letters (within their bound), entity references to an entity of
//! the newest frame (a reference to no entity is refused by the server).
//! Rules a game adds beyond its types may refuse some of them; the server
//! counts those.

use tickroom_protocol::state::{FieldType, Schema, Slot, Value, encode_values};

use super::PlayEntry;
use crate::{
    Rng,
    behaviour::{Play, View},
};

/// Random values in every input slot.
pub(super) const RANDOM: PlayEntry = PlayEntry {
    name: "random",
    about: "Sends a random valid value in every field of the game's input, every input.",
    new: |rng, _| Box::new(Inputs::new(Fill::Random(rng))),
};

/// The zero input (a player who went AFK with the tab open).
pub(super) const IDLE: PlayEntry = PlayEntry {
    name: "idle",
    about: "Stays connected and sends the game's zero input (0, false, empty text, no entity).",
    new: |_, _| Box::new(Inputs::new(Fill::Zero)),
};

/// How the values are chosen.
#[derive(Debug)]
enum Fill {
    Random(Rng),
    Zero,
}

/// One input slot: its [`Slot`] and whether it is an entity reference.
#[derive(Debug, Clone, Copy)]
struct Gen {
    slot: Slot,
    entity: bool,
}

/// Longest random text, in bytes.
const MAX_RANDOM_TEXT: u16 = 16;

/// Both generic behaviours: the input's slots, filled per [`Fill`].
#[derive(Debug)]
struct Inputs {
    fill: Fill,
    gens: Vec<Gen>,
    slots: Vec<Slot>,
    values: Vec<Value>,
}

impl Inputs {
    fn new(fill: Fill) -> Self {
        Self {
            fill,
            gens: Vec::new(),
            slots: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// Appends one flag per slot of `ty`: whether it is an entity reference.
fn entity_slots(ty: &FieldType, out: &mut Vec<bool>) {
    match ty {
        FieldType::Array { item, len } => {
            for _ in 0..*len {
                entity_slots(item, out);
            }
        }
        FieldType::Entity => out.push(true),
        _ => out.push(false),
    }
}

/// The input slots of `schema` and which are entity references.
fn gens(schema: &Schema) -> Vec<Gen> {
    let layout = schema.input_layout();
    let mut entity = Vec::with_capacity(layout.len());
    for f in &schema.input().fields {
        entity_slots(&f.ty, &mut entity);
    }
    // The layout is the schema's own; should the fields ever disagree with
    // it, no slot is taken for an entity.
    if entity.len() != layout.len() {
        entity = vec![false; layout.len()];
    }
    layout
        .iter()
        .zip(entity)
        .map(|(&slot, entity)| Gen { slot, entity })
        .collect()
}

/// A uniform integer in `min..=max`.
fn int_in(rng: &mut Rng, min: i64, max: i64) -> i64 {
    let span = (i128::from(max) - i128::from(min) + 1) as u128;
    if span > u128::from(u64::MAX) {
        return rng.next_u64() as i64;
    }
    (i128::from(min) + i128::from(rng.next_u64() % span as u64)) as i64
}

impl Play for Inputs {
    fn start(&mut self, schema: &Schema, _config: &str) -> Result<(), &'static str> {
        self.gens = gens(schema);
        self.slots = schema.input_layout().to_vec();
        Ok(())
    }

    fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>> {
        let ids = view.frame.map_or(&[][..], |f| f.ids());
        self.values.clear();
        for g in &self.gens {
            let v = match (&mut self.fill, g.slot) {
                (Fill::Random(rng), _) if g.entity => {
                    // No entity to name yet: wait for a frame with one.
                    if ids.is_empty() {
                        return None;
                    }
                    Value::Int(ids[rng.range_u64(0, ids.len() as u64) as usize].into())
                }
                (Fill::Random(rng), Slot::Int { min, max, .. }) => {
                    Value::Int(int_in(rng, min, max))
                }
                (Fill::Random(rng), Slot::F32) => {
                    Value::Int(rng.range_f32(-1.0, 1.0).to_bits().into())
                }
                (Fill::Random(rng), Slot::Text { max_bytes }) => {
                    let len = rng.range_u64(0, u64::from(max_bytes.min(MAX_RANDOM_TEXT)) + 1);
                    let text: String = (0..len)
                        .map(|_| char::from(b'a' + rng.range_u64(0, 26) as u8))
                        .collect();
                    Value::Text(text.into())
                }
                (Fill::Zero, Slot::Int { min, max, .. }) => Value::Int(0.clamp(min, max)),
                (Fill::Zero, Slot::F32) => Value::Int(0.0f32.to_bits().into()),
                (Fill::Zero, Slot::Text { .. }) => Value::Text(std::sync::Arc::from("")),
            };
            self.values.push(v);
        }
        let mut out = Vec::with_capacity(self.values.len() * 2);
        encode_values(&self.slots, &self.values, &mut out);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickroom_protocol::state::{Field, Frame, Scalar, Shape, decode_values};

    /// A game whose input has one of everything.
    fn schema() -> Schema {
        let input = Shape::new(
            "act",
            vec![
                Field::new("fire", FieldType::Scalar(Scalar::Bool)),
                Field::new("card", FieldType::Scalar(Scalar::U8)),
                Field::new("dx", FieldType::Scalar(Scalar::I8)),
                Field::new("big", FieldType::Scalar(Scalar::I64)),
                Field::new("word", FieldType::Scalar(Scalar::U64)),
                Field::new("aim", FieldType::Scalar(Scalar::F32)),
                Field::new(
                    "speed",
                    FieldType::Fixed {
                        repr: Scalar::I16,
                        scale: 100,
                    },
                ),
                Field::new("say", FieldType::Text { max_bytes: 5 }),
                Field::new("target", FieldType::Entity),
                Field::new(
                    "pair",
                    FieldType::Array {
                        item: Box::new(FieldType::Scalar(Scalar::U16)),
                        len: 2,
                    },
                ),
            ],
        );
        let thing = Shape::new(
            "thing",
            vec![Field::new("n", FieldType::Scalar(Scalar::U8))],
        );
        Schema::new("test-game", 1, vec![thing], input, vec![]).unwrap()
    }

    fn frame(schema: &Schema, ids: &[u32]) -> Frame {
        let mut f = Frame::new(1);
        for &id in ids {
            f.begin(id).unwrap();
            f.set(schema, 0, &[Value::Int(1)]).unwrap();
        }
        f
    }

    #[test]
    fn random_inputs_decode_with_the_schema_and_name_entities_of_the_frame() {
        let schema = schema();
        let mut play = (RANDOM.new)(Rng::new(5), 30);
        play.start(&schema, "{}").unwrap();
        let no_frame = View {
            schema: &schema,
            frame: None,
            player_id: 1,
        };
        assert_eq!(play.input(&no_frame), None, "no entity to name yet");
        let f = frame(&schema, &[4, 9, 12]);
        let view = View {
            frame: Some(&f),
            ..no_frame
        };
        let mut values = Vec::new();
        let (mut fired, mut texts, mut negative) = (0, 0, 0);
        for _ in 0..500 {
            let data = play.input(&view).expect("an input");
            assert!(data.len() <= tickroom_protocol::MAX_INPUT_BYTES);
            decode_values(schema.input_layout(), &data, &mut values).expect("valid input");
            let int = |i: usize| match &values[i] {
                Value::Int(n) => *n,
                Value::Text(_) => panic!("text in slot {i}"),
            };
            fired += int(0);
            negative += i64::from(int(2) < 0);
            let aim = f32::from_bits(int(5) as u32);
            assert!((-1.0..1.0).contains(&aim), "{aim}");
            assert!([4, 9, 12].contains(&int(8)), "{}", int(8));
            match &values[7] {
                Value::Text(t) => {
                    assert!(t.len() <= 5 && t.bytes().all(|b| b.is_ascii_lowercase()));
                    texts += usize::from(!t.is_empty());
                }
                Value::Int(_) => panic!("no text"),
            }
        }
        assert!((150..350).contains(&fired), "{fired} fires of 500");
        assert!((150..350).contains(&negative), "{negative} negative of 500");
        assert!(texts > 300, "{texts}");
    }

    #[test]
    fn idle_sends_the_zero_input() {
        let schema = schema();
        let mut play = (IDLE.new)(Rng::new(5), 30);
        play.start(&schema, "{}").unwrap();
        let view = View {
            schema: &schema,
            frame: None,
            player_id: 1,
        };
        let data = play.input(&view).expect("an input");
        let mut values = Vec::new();
        decode_values(schema.input_layout(), &data, &mut values).unwrap();
        let zero: Vec<Value> = [0, 0, 0, 0, 0, 0, 0]
            .into_iter()
            .map(Value::Int)
            .chain([Value::Text(std::sync::Arc::from(""))])
            .chain([0, 0, 0].map(Value::Int))
            .collect();
        assert_eq!(values, zero);
    }

    #[test]
    fn integers_stay_in_their_range() {
        let mut rng = Rng::new(3);
        for (min, max) in [(0, 0), (-3, 3), (0, 1), (i64::MIN, i64::MAX), (-128, 127)] {
            for _ in 0..1000 {
                let v = int_in(&mut rng, min, max);
                assert!((min..=max).contains(&v), "{v} not in {min}..={max}");
            }
        }
    }
}
