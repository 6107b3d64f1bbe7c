//! The wire contract the page and the bots are written against: the
//! schema's names and field types, and which entities each player is sent.

use tickroom::protocol::state::{FieldType, Frame, Scalar};

use super::*;

/// `(name, type)` of each field of `shape`.
fn fields(shape: &tickroom::protocol::state::Shape) -> Vec<(&str, FieldType)> {
    shape
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.ty.clone()))
        .collect()
}

#[test]
fn the_schema_is_the_specs() {
    let games = games();
    let catalogue = games.get("skirmish").unwrap().catalogue().clone();
    let schema = catalogue.schema();
    assert!(catalogue.has_interest());
    let tenths = FieldType::Fixed {
        repr: Scalar::I32,
        scale: 10,
    };
    let aim = FieldType::Fixed {
        repr: Scalar::I16,
        scale: 1000,
    };
    let int = FieldType::Scalar;
    let want = [
        (
            "bullet",
            vec![
                ("owner", int(Scalar::U32)),
                ("x0", tenths.clone()),
                ("y0", tenths.clone()),
                ("vx", tenths.clone()),
                ("vy", tenths.clone()),
                ("born", int(Scalar::U32)),
            ],
        ),
        (
            "pickup",
            vec![
                ("x", tenths.clone()),
                ("y", tenths.clone()),
                ("heal", int(Scalar::U8)),
            ],
        ),
        ("player", fields(&schema.components()[2])),
        (
            "score",
            vec![("kills", int(Scalar::U16)), ("deaths", int(Scalar::U16))],
        ),
        (
            "ship",
            vec![
                ("owner", int(Scalar::U32)),
                ("x", tenths.clone()),
                ("y", tenths.clone()),
                ("vx", tenths.clone()),
                ("vy", tenths.clone()),
                ("aim", aim.clone()),
                ("health", int(Scalar::U8)),
                ("alive", int(Scalar::Bool)),
            ],
        ),
        (
            "wall",
            vec![
                ("x", tenths.clone()),
                ("y", tenths.clone()),
                ("w", tenths.clone()),
                ("h", tenths.clone()),
            ],
        ),
    ];
    let got: Vec<_> = schema
        .components()
        .iter()
        .map(|c| (c.name.as_str(), fields(c)))
        .collect();
    assert_eq!(got, want);
    assert_eq!(schema.input().name, "skirmish_input");
    assert_eq!(
        fields(schema.input()),
        [
            ("mx", int(Scalar::I8)),
            ("my", int(Scalar::I8)),
            ("aim", aim),
            ("fire", int(Scalar::Bool)),
        ]
    );
    let events: Vec<_> = schema
        .events()
        .iter()
        .map(|e| (e.name.as_str(), fields(e)))
        .collect();
    assert_eq!(
        events,
        [
            ("boom", vec![("x", tenths.clone()), ("y", tenths)]),
            (
                "hit",
                vec![
                    ("shooter", int(Scalar::U32)),
                    ("victim", int(Scalar::U32)),
                    ("damage", int(Scalar::U8)),
                    ("health", int(Scalar::U8)),
                ]
            ),
            (
                "kill",
                vec![("killer", int(Scalar::U32)), ("victim", int(Scalar::U32))]
            ),
            ("respawn", vec![("seconds", int(Scalar::U8))]),
        ]
    );
}

#[test]
fn a_player_is_sent_the_walls_the_scores_and_what_its_ship_sees() {
    let config = SkirmishConfig {
        pickups: 0,
        ..SkirmishConfig::default()
    };
    let mut r = room(&config, 3);
    for (id, at) in [
        (1, [1000.0, 1000.0]),
        (2, [1500.0, 1000.0]),
        (3, [5000.0, 5000.0]),
    ] {
        r.join(PlayerId(id), "p").unwrap();
        place(&mut r, id, at);
    }
    let mut frame = Frame::default();
    r.build_frame(0, &mut frame).unwrap();
    let schema = r.catalogue().schema().clone();
    let ship = schema.component_id("ship").unwrap();
    let wall = schema.component_id("wall").unwrap();
    let score = schema.component_id("score").unwrap();
    let views = r.views().expect("the game declares interest").clone();
    let sent = |id: u32| {
        let view = views.of(PlayerId(id)).unwrap();
        let entity = |i: &u32| frame.entity(*i as usize);
        let owners: Vec<i64> = view
            .iter()
            .map(entity)
            .filter_map(|e| e.get(ship).and_then(|s| s.int(0)))
            .collect();
        let walls = view
            .iter()
            .map(entity)
            .filter(|e| e.get(wall).is_some())
            .count();
        let scores = view
            .iter()
            .map(entity)
            .filter(|e| e.get(score).is_some())
            .count();
        (owners, walls, scores)
    };
    assert_eq!(sent(1), (vec![1, 2], config.walls as usize, 3));
    assert_eq!(sent(3), (vec![3], config.walls as usize, 3));
}
