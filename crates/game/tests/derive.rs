//! `#[derive(Wire)]` against the real `tickroom::wire` traits: the schema
//! fields it declares, that what it writes fits those fields' slots and
//! reads back, and the errors a bad input gives. (The macro's own compile
//! errors are unit-tested in `crates/derive`.)

extern crate tickroom_game as tickroom;

use std::collections::HashMap;

use bevy_ecs::entity::Entity;
use bevy_ecs::world::World;
use tickroom::protocol::state::{Field, FieldType, Scalar, Schema, Shape, Slot, Value};
use tickroom::wire::{EntityMap, NoEntities, Wire, WireError, shape_of};
use tickroom_derive::Wire;

#[derive(Wire, Debug, Clone, PartialEq)]
struct PlayerShip {
    hp: u8,
    heading: i16,
    score: u32,
    born: i64,
    seed: u64,
    alive: bool,
    spin: f32,
    callsign: String,
    ammo: [i16; 3],
    #[wire(fixed(i32, 100))]
    x: f32,
    #[wire(fixed(i16, 8))]
    y: f64,
    #[wire(text(8))]
    motto: String,
    #[wire(skip)]
    cache: Vec<u32>,
    #[wire(rename = "team-id")]
    team: u16,
    #[wire(rename = "kind", fixed(u8, 2))]
    r#type: f32,
}

#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(name = "input")]
struct Controls {
    thrust: bool,
    #[wire(fixed(i8, 100))]
    turn: f32,
}

#[derive(Wire, Debug, PartialEq)]
struct Tick;

#[derive(Wire, Debug, PartialEq)]
struct Empty {}

#[derive(Wire, Debug, PartialEq)]
struct LocalOnly {
    #[wire(skip)]
    frames: u32,
}

#[derive(Wire, Debug, PartialEq)]
struct Hit {
    target: Entity,
    by: Option<Entity>,
    assist: Option<Entity>,
}

#[derive(Wire, Debug, PartialEq)]
#[wire(crate = "tickroom_game", name = "ping")]
struct PingEvent {
    seq: u32,
    #[wire(text(4))]
    note: String,
}

fn ship() -> PlayerShip {
    PlayerShip {
        hp: 200,
        heading: -1234,
        score: u32::MAX,
        born: i64::MIN,
        seed: u64::MAX,
        alive: true,
        spin: -1.5e-3,
        callsign: "Ünïcode ok".into(),
        ammo: [i16::MIN, 0, i16::MAX],
        x: -12.25,
        y: 3.125,
        motto: "to sea".into(),
        cache: vec![1, 2, 3],
        team: 7,
        r#type: 1.5,
    }
}

fn written<T: Wire>(value: &T, map: &dyn EntityMap) -> Vec<Value> {
    let mut out = Vec::new();
    value.write(map, &mut out);
    out
}

fn read_all<T: Wire>(values: &[Value], map: &dyn EntityMap) -> Result<T, WireError> {
    let mut iter = values.iter();
    let value = T::read(&mut iter, map)?;
    assert_eq!(iter.len(), 0, "read left values unread");
    Ok(value)
}

/// Every value fits its slot of `T`'s shape, one value per slot.
fn assert_fits<T: Wire>(values: &[Value]) {
    let slots = Shape::new(T::NAME, T::fields()).slots();
    assert_eq!(values.len(), slots.len(), "{}: values per slot", T::NAME);
    for (i, (slot, value)) in slots.iter().zip(values).enumerate() {
        let fits = match (slot, value) {
            (Slot::Int { min, max, .. }, Value::Int(v)) => (*min..=*max).contains(v),
            (Slot::F32, Value::Int(v)) => (0..=i64::from(u32::MAX)).contains(v),
            (Slot::Text { max_bytes }, Value::Text(t)) => t.len() <= usize::from(*max_bytes),
            _ => false,
        };
        assert!(
            fits,
            "{}: slot {i} {slot:?} does not fit {value:?}",
            T::NAME
        );
    }
}

#[derive(Debug, Default)]
struct Entities {
    ids: HashMap<Entity, u32>,
    entities: HashMap<u32, Entity>,
}

impl Entities {
    fn add(&mut self, entity: Entity, id: u32) {
        self.ids.insert(entity, id);
        self.entities.insert(id, entity);
    }
}

impl EntityMap for Entities {
    fn net_id(&self, entity: Entity) -> u32 {
        self.ids.get(&entity).copied().unwrap_or(0)
    }
    fn entity(&self, id: u32) -> Option<Entity> {
        self.entities.get(&id).copied()
    }
}

#[test]
fn fields_follow_declaration_order_with_attributes_applied() {
    let scalar = FieldType::Scalar;
    assert_eq!(
        PlayerShip::fields(),
        vec![
            Field::new("hp", scalar(Scalar::U8)),
            Field::new("heading", scalar(Scalar::I16)),
            Field::new("score", scalar(Scalar::U32)),
            Field::new("born", scalar(Scalar::I64)),
            Field::new("seed", scalar(Scalar::U64)),
            Field::new("alive", scalar(Scalar::Bool)),
            Field::new("spin", scalar(Scalar::F32)),
            Field::new("callsign", FieldType::Text { max_bytes: 64 }),
            Field::new(
                "ammo",
                FieldType::Array {
                    item: Box::new(scalar(Scalar::I16)),
                    len: 3
                }
            ),
            Field::new(
                "x",
                FieldType::Fixed {
                    repr: Scalar::I32,
                    scale: 100
                }
            ),
            Field::new(
                "y",
                FieldType::Fixed {
                    repr: Scalar::I16,
                    scale: 8
                }
            ),
            Field::new("motto", FieldType::Text { max_bytes: 8 }),
            Field::new("team-id", scalar(Scalar::U16)),
            Field::new(
                "kind",
                FieldType::Fixed {
                    repr: Scalar::U8,
                    scale: 2
                }
            ),
        ]
    );
    assert_eq!(
        Hit::fields(),
        vec![
            Field::new("target", FieldType::Entity),
            Field::new("by", FieldType::Entity),
            Field::new("assist", FieldType::Entity),
        ]
    );
}

#[test]
fn names_are_snake_case_unless_overridden() {
    assert_eq!(PlayerShip::NAME, "player_ship");
    assert_eq!(LocalOnly::NAME, "local_only");
    assert_eq!(Controls::NAME, "input");
    assert_eq!(PingEvent::NAME, "ping");
    assert_eq!(shape_of::<Hit>().name, "hit");
}

#[test]
fn unit_empty_and_all_skipped_structs_have_no_fields_or_values() {
    assert_eq!(Tick::NAME, "tick");
    assert!(Tick::fields().is_empty());
    assert!(Empty::fields().is_empty());
    assert!(LocalOnly::fields().is_empty());
    assert!(written(&Tick, &NoEntities).is_empty());
    assert!(written(&Empty {}, &NoEntities).is_empty());
    assert!(written(&LocalOnly { frames: 9 }, &NoEntities).is_empty());
    assert_eq!(read_all::<Tick>(&[], &NoEntities), Ok(Tick));
    assert_eq!(read_all::<Empty>(&[], &NoEntities), Ok(Empty {}));
    assert_eq!(
        read_all::<LocalOnly>(&[], &NoEntities),
        Ok(LocalOnly { frames: 0 })
    );
}

#[test]
fn write_then_read_gives_the_value_back_one_value_per_slot() {
    let ship = ship();
    let values = written(&ship, &NoEntities);
    assert_fits::<PlayerShip>(&values);
    assert_eq!(values.len(), 16);
    // Fixed-point slots hold round(x * scale); the u64 is held bit for bit.
    assert_eq!(values[4], Value::Int(-1));
    assert_eq!(values[11], Value::Int(-1225));
    assert_eq!(values[12], Value::Int(25));
    assert_eq!(values[15], Value::Int(3));
    let back: PlayerShip = read_all(&values, &NoEntities).unwrap();
    // Skipped fields come back as their default.
    assert_eq!(
        back,
        PlayerShip {
            cache: Vec::new(),
            ..ship
        }
    );

    let controls = Controls {
        thrust: true,
        turn: -0.5,
    };
    let values = written(&controls, &NoEntities);
    assert_fits::<Controls>(&values);
    assert_eq!(read_all::<Controls>(&values, &NoEntities), Ok(controls));
}

#[test]
fn texts_are_cut_to_their_bound_at_a_character_boundary() {
    let ship = PlayerShip {
        motto: "ahoy ahøy".into(), // 'ø' is bytes 7..9: cut before it
        callsign: "c".repeat(100),
        ..ship()
    };
    let values = written(&ship, &NoEntities);
    assert_fits::<PlayerShip>(&values);
    assert_eq!(values[7], Value::Text("c".repeat(64).into()));
    assert_eq!(values[13], Value::Text("ahoy ah".into()));
}

#[test]
fn the_fields_make_a_valid_schema() {
    let schema = Schema::new(
        "g",
        1,
        vec![
            shape_of::<PlayerShip>(),
            shape_of::<Hit>(),
            shape_of::<Tick>(),
        ],
        Shape::new(Controls::NAME, Controls::fields()),
        vec![shape_of::<PingEvent>(), shape_of::<LocalOnly>()],
    )
    .unwrap();
    assert_eq!(schema.component_id("player_ship"), Some(1));
    assert_eq!(
        schema.layout(1).map(<[Slot]>::len),
        Some(written(&ship(), &NoEntities).len())
    );
    assert_eq!(schema.input().name, "input");
}

#[test]
fn fixed_point_saturates_to_its_representation() {
    let huge = PlayerShip {
        x: 1e12,
        y: -1e12,
        r#type: f32::NAN,
        ..ship()
    };
    let values = written(&huge, &NoEntities);
    assert_fits::<PlayerShip>(&values);
    assert_eq!(values[11], Value::Int(i32::MAX.into()));
    assert_eq!(values[12], Value::Int(i16::MIN.into()));
    assert_eq!(values[15], Value::Int(0));
    let back: PlayerShip = read_all(&values, &NoEntities).unwrap();
    assert_eq!(back.x, (f64::from(i32::MAX) / 100.0) as f32);
    assert_eq!(back.y, f64::from(i16::MIN) / 8.0);

    let turn = written(
        &Controls {
            thrust: false,
            turn: 2.0,
        },
        &NoEntities,
    );
    assert_eq!(turn[1], Value::Int(i8::MAX.into()));
}

#[test]
fn entities_travel_as_network_ids() {
    let mut world = World::new();
    let (a, b) = (world.spawn_empty().id(), world.spawn_empty().id());
    let mut map = Entities::default();
    map.add(a, 7);
    map.add(b, 9);
    let hit = Hit {
        target: a,
        by: Some(b),
        assist: None,
    };
    let values = written(&hit, &map);
    assert_eq!(values, [Value::Int(7), Value::Int(9), Value::Int(0)]);
    assert_fits::<Hit>(&values);
    assert_eq!(read_all::<Hit>(&values, &map), Ok(hit));

    let unknown = [Value::Int(42), Value::Int(0), Value::Int(0)];
    assert_eq!(
        read_all::<Hit>(&unknown, &map),
        Err(WireError::UnknownEntity("hit.target", 42))
    );
    let unknown = [Value::Int(7), Value::Int(43), Value::Int(0)];
    assert_eq!(
        read_all::<Hit>(&unknown, &map),
        Err(WireError::UnknownEntity("hit.by", 43))
    );
    // A client (no entities) cannot resolve any id.
    assert_eq!(
        read_all::<Hit>(&values, &NoEntities),
        Err(WireError::UnknownEntity("hit.target", 7))
    );
}

#[test]
fn values_that_do_not_fit_are_refused_naming_the_field() {
    let values = written(&ship(), &NoEntities);
    for cut in 0..values.len() {
        assert!(
            matches!(
                read_all::<PlayerShip>(&values[..cut], &NoEntities),
                Err(WireError::Missing(_))
            ),
            "cut at {cut}"
        );
    }
    assert_eq!(
        read_all::<PlayerShip>(&values[..1], &NoEntities),
        Err(WireError::Missing("player_ship.heading"))
    );
    assert_eq!(
        read_all::<PlayerShip>(&values[..15], &NoEntities),
        Err(WireError::Missing("player_ship.kind"))
    );

    let mut text_for_int = values.clone();
    text_for_int[0] = Value::Text("200".into());
    assert_eq!(
        read_all::<PlayerShip>(&text_for_int, &NoEntities),
        Err(WireError::Mismatch("player_ship.hp"))
    );
    let mut int_for_text = values.clone();
    int_for_text[13] = Value::Int(1);
    assert_eq!(
        read_all::<PlayerShip>(&int_for_text, &NoEntities),
        Err(WireError::Mismatch("player_ship.motto"))
    );
    let mut text_for_renamed = values.clone();
    text_for_renamed[14] = Value::Text("7".into());
    assert_eq!(
        read_all::<PlayerShip>(&text_for_renamed, &NoEntities),
        Err(WireError::Mismatch("player_ship.team-id"))
    );
    let mut out_of_range = values.clone();
    out_of_range[0] = Value::Int(256);
    assert_eq!(
        read_all::<PlayerShip>(&out_of_range, &NoEntities),
        Err(WireError::Mismatch("player_ship.hp"))
    );
    let mut not_a_bool = values;
    not_a_bool[5] = Value::Int(2);
    assert_eq!(
        read_all::<PlayerShip>(&not_a_bool, &NoEntities),
        Err(WireError::Mismatch("player_ship.alive"))
    );
}

#[test]
fn a_custom_crate_path_works() {
    let ping = PingEvent {
        seq: 3,
        note: "hi".into(),
    };
    let values = written(&ping, &NoEntities);
    assert_eq!(values, [Value::Int(3), Value::Text("hi".into())]);
    assert_fits::<PingEvent>(&values);
    assert_eq!(read_all::<PingEvent>(&values, &NoEntities), Ok(ping));
}
