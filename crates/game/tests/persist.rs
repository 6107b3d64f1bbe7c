//! Saving a room and restoring it in a new one ("orbit", a small test game
//! with the state a hand-off must carry): exact positions the wire sends in
//! tenths, velocities and cooldowns clients never see, markers that follow
//! a player or setup's beacon (an `#[entities]` link), a resource that
//! changes in play and links an entity, and rocks setup places at random
//! and the wire carries in tenths. A restored room must go on exactly as
//! the saved one does, and bad bytes must be refused, never panic.

extern crate tickroom_game as tickroom;

use std::marker::PhantomData;

use bevy_ecs::entity::MapEntities;
use bevy_ecs::prelude::*;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use tickroom::protocol::state::{Canonical, Frame};
use tickroom::{
    Declare, Departure, Game, GameEntry, Games, Inputs, NetId, OutEvent, Outbox, PersistError,
    Player, PlayerId, Players, Replicated, Room, RoomConfig, RoomRng, Setup, StepInfo,
};
use tickroom_derive::Wire;

/// A player's or a marker's place: sent in tenths, kept exact (persisted).
#[derive(Component, Wire, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
struct Body {
    #[wire(fixed(i32, 10))]
    x: f32,
    #[wire(fixed(i32, 10))]
    y: f32,
}

/// A player's velocity: never sent.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
struct Vel(f32, f32);

/// The first step a player may tag again: never sent.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, Default, PartialEq)]
struct Cooldown {
    ready_at: u64,
}

/// Markers that ran out: sent exactly, so not persisted.
#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Score {
    points: u32,
}

/// A marker: its owner (a wire entity reference) and steps left.
#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
struct Marker {
    owner: Entity,
    ttl: u8,
}

/// What a marker follows: a player, or setup's beacon.
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
struct Follow {
    #[entities]
    target: Entity,
}

/// A rock: placed by setup at random, sent in tenths, not persisted (it
/// comes back as clients see it).
#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
struct Rock {
    #[wire(fixed(i32, 10))]
    x: f32,
    #[wire(fixed(i32, 10))]
    y: f32,
}

/// Setup's beacon: neither replicated nor persisted (a restore keeps it).
#[derive(Component, Debug, Clone, Copy, PartialEq)]
struct Anchor {
    x: f32,
    y: f32,
}

/// The beacon's entity: made by setup, never changes.
#[derive(Resource, Debug, Clone, Copy)]
struct Beacon(Entity);

/// Tags so far and the last tagger: changes in play, links an entity.
#[derive(Resource, MapEntities, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[component(map_entities)]
struct Tally {
    #[entities]
    last: Option<Entity>,
    tags: u32,
}

/// Persisted by one variant only (other declarations).
#[derive(Component, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
struct Extra;

#[derive(Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Push {
    dx: i8,
    dy: i8,
    tag: bool,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Tagged {
    by: u32,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Scored {
    points: u32,
}

#[derive(Resource, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct OrbitConfig {
    rocks: u8,
    ttl: u8,
}

impl Default for OrbitConfig {
    fn default() -> Self {
        Self { rocks: 5, ttl: 4 }
    }
}

impl RoomConfig for OrbitConfig {}

/// What differs between the game's builds in the refusal tests.
trait Variant: Send + Sync + 'static {
    const NAME: &'static str = "orbit";
    const VERSION: u32 = 1;
    const EXTRA: bool = false;
}

#[derive(Debug)]
struct Base;
impl Variant for Base {}

#[derive(Debug)]
struct Renamed;
impl Variant for Renamed {
    const NAME: &'static str = "orbit-b";
}

#[derive(Debug)]
struct Bumped;
impl Variant for Bumped {
    const VERSION: u32 = 2;
}

#[derive(Debug)]
struct MorePersisted;
impl Variant for MorePersisted {
    const EXTRA: bool = true;
}

#[derive(Debug)]
struct Orbit<V>(PhantomData<fn() -> V>);

impl<V: Variant> Game for Orbit<V> {
    const NAME: &'static str = V::NAME;
    const VERSION: u32 = V::VERSION;
    type Input = Push;
    type Config = OrbitConfig;

    fn declare(game: &mut Declare) {
        game.replicate::<Body>()
            .replicate::<Score>()
            .replicate::<Marker>()
            .replicate::<Rock>()
            .event::<Tagged>()
            .event::<Scored>()
            .persist::<Body>()
            .persist::<Vel>()
            .persist::<Cooldown>()
            .persist::<Follow>()
            .persist_resource::<Tally>();
        if V::EXTRA {
            game.persist::<Extra>();
        }
    }

    fn setup(room: &mut Setup<'_>, config: &OrbitConfig) {
        let world = room.world();
        for _ in 0..config.rocks {
            let mut rng = world.resource_mut::<RoomRng>();
            let rock = Rock {
                x: rng.range_f32(0.0, 100.0),
                y: rng.range_f32(0.0, 100.0),
            };
            world.spawn((rock, Replicated));
        }
        let beacon = world.spawn(Anchor { x: 50.0, y: 50.0 }).id();
        world.insert_resource(Beacon(beacon));
        world.init_resource::<Tally>();
        room.add_systems((push, drift, follow).chain());
    }

    fn joined(world: &mut World, player: PlayerId, entity: Entity) {
        let at = player.0 as f32 * 7.3;
        world.entity_mut(entity).insert((
            Body { x: at, y: at / 3.0 },
            Vel::default(),
            Cooldown::default(),
            Score::default(),
        ));
    }

    fn left(world: &mut World, _: PlayerId, entity: Entity, _: Departure) {
        let mut q = world.query::<(Entity, &Marker)>();
        let mine: Vec<Entity> = q
            .iter(world)
            .filter(|(_, m)| m.owner == entity)
            .map(|(e, _)| e)
            .collect();
        for e in mine {
            world.despawn(e);
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "a system's data access")]
fn push(
    mut commands: Commands,
    inputs: Res<Inputs<Push>>,
    step: Res<StepInfo>,
    config: Res<OrbitConfig>,
    beacon: Res<Beacon>,
    mut tally: ResMut<Tally>,
    mut out: ResMut<Outbox>,
    mut players: Query<(&Body, &mut Vel, &mut Cooldown)>,
) {
    for i in &inputs {
        let Ok((body, mut vel, mut cooldown)) = players.get_mut(i.entity) else {
            continue;
        };
        vel.0 += f32::from(i.input.dx) * 0.37;
        vel.1 += f32::from(i.input.dy) * 0.37;
        if i.input.tag && step.step >= cooldown.ready_at {
            cooldown.ready_at = step.step + 3;
            tally.tags += 1;
            tally.last = Some(i.entity);
            let target = if tally.tags.is_multiple_of(3) {
                beacon.0
            } else {
                i.entity
            };
            commands.spawn((
                *body,
                Marker {
                    owner: i.entity,
                    ttl: config.ttl,
                },
                Follow { target },
                Replicated,
            ));
            out.to_all(&Tagged { by: i.player.0 });
        }
    }
}

/// Players drift, in id order, with a random nudge each.
fn drift(
    players: Res<Players>,
    step: Res<StepInfo>,
    mut rng: ResMut<RoomRng>,
    mut bodies: Query<(&mut Body, &mut Vel)>,
) {
    for (_, e) in players.iter() {
        let Ok((mut body, mut vel)) = bodies.get_mut(e) else {
            continue;
        };
        vel.0 += rng.range_f32(-0.5, 0.5);
        vel.1 += rng.range_f32(-0.5, 0.5);
        body.x += vel.0 * step.dt;
        body.y += vel.1 * step.dt;
        vel.0 *= 0.9;
        vel.1 *= 0.9;
    }
}

/// Markers, in network-id order, move halfway to what they follow; one
/// that runs out scores for its owner.
fn follow(
    mut commands: Commands,
    mut markers: Query<(Entity, &NetId, &mut Marker, &Follow), Without<Player>>,
    mut bodies: Query<&mut Body>,
    anchors: Query<&Anchor>,
    mut scores: Query<(&Player, &mut Score)>,
    mut out: ResMut<Outbox>,
) {
    let mut order: Vec<(NetId, Entity)> = markers.iter().map(|(e, n, _, _)| (*n, e)).collect();
    order.sort_unstable();
    for (_, e) in order {
        let Ok((_, _, mut marker, follow)) = markers.get_mut(e) else {
            continue;
        };
        let to = match (bodies.get(follow.target), anchors.get(follow.target)) {
            (Ok(b), _) => Some((b.x, b.y)),
            (_, Ok(a)) => Some((a.x, a.y)),
            _ => None,
        };
        if let (Some((x, y)), Ok(mut body)) = (to, bodies.get_mut(e)) {
            body.x += (x - body.x) / 2.0;
            body.y += (y - body.y) / 2.0;
        }
        marker.ttl = marker.ttl.saturating_sub(1);
        if marker.ttl == 0 {
            commands.entity(e).despawn();
            if let Ok((p, mut s)) = scores.get_mut(marker.owner) {
                s.points += 1;
                out.to(p.id, &Scored { points: s.points });
            }
        }
    }
}

fn entry<V: Variant>() -> std::sync::Arc<dyn GameEntry> {
    let mut games = Games::new();
    games.register::<Orbit<V>>().expect("orbit registers");
    games.get(V::NAME).expect("registered").clone()
}

fn room_of<V: Variant>(config: serde_json::Value, seed: u64) -> Box<dyn Room> {
    let entry = entry::<V>();
    let config = entry.config(Some(&config)).expect("valid config");
    entry.new_room(&config, seed, 20).expect("room")
}

fn new_room() -> Box<dyn Room> {
    room_of::<Base>(serde_json::json!({}), 11)
}

/// What happens before step `t`: joins, leaves, a disconnect and a resume,
/// and every player's input.
fn script(room: &mut dyn Room, t: u32) {
    match t {
        0 => {
            for id in 1..=4 {
                room.join(PlayerId(id), &format!("p{id}")).unwrap();
            }
        }
        60 => room.join(PlayerId(5), "late").unwrap(),
        120 => assert!(room.leave(PlayerId(2), Departure::Left)),
        150 => assert!(room.disconnected(PlayerId(3))),
        170 => assert!(room.resumed(PlayerId(3))),
        310 => room.join(PlayerId(6), "after").unwrap(),
        340 => assert!(room.leave(PlayerId(4), Departure::Expired)),
        _ => {}
    }
    let players: Vec<PlayerId> = room
        .world()
        .resource::<Players>()
        .iter()
        .map(|(p, _)| p)
        .collect();
    for p in players {
        let wave = |k: u32| (((t * k + p.0 * 37) % 201) as i32 - 100) as i8;
        let push = Push {
            dx: wave(13),
            dy: wave(17),
            tag: (t + p.0).is_multiple_of(2),
        };
        let mut bytes = Vec::new();
        room.catalogue().encode_input(&push, &mut bytes);
        room.input(p, &bytes).unwrap();
    }
}

/// Runs steps `from..to` of the script, draining events.
fn run(room: &mut dyn Room, from: u32, to: u32, events: &mut Vec<OutEvent>) {
    for t in from..to {
        script(room, t);
        room.step();
        room.drain_events(events);
    }
}

/// The canonical bytes of the room's frame at `tick`.
fn frame_bytes(room: &mut dyn Room, tick: u32) -> Vec<u8> {
    let mut frame = Frame::default();
    room.build_frame(tick, &mut frame).expect("frame builds");
    let mut canonical = Canonical::default();
    canonical.write(&frame);
    canonical.bytes().to_vec()
}

fn players(room: &dyn Room) -> Vec<(u32, String, bool)> {
    let world = room.world();
    world
        .resource::<Players>()
        .iter()
        .map(|(id, e)| {
            let p = world.get::<Player>(e).expect("a player's entity");
            (id.0, p.name.to_string(), p.connected)
        })
        .collect()
}

fn save(room: &dyn Room) -> Vec<u8> {
    let mut bytes = Vec::new();
    room.save(&mut bytes).expect("the room saves");
    bytes
}

const SAVED_AT: u32 = 300;

/// A room run to [`SAVED_AT`] (hundreds of markers spawned and despawned),
/// and its save.
fn saved_room() -> (Box<dyn Room>, Vec<u8>) {
    let mut room = new_room();
    let mut events = Vec::new();
    run(room.as_mut(), 0, SAVED_AT, &mut events);
    let bytes = save(room.as_ref());
    (room, bytes)
}

#[test]
fn a_restored_room_goes_on_exactly_as_the_saved_one() {
    let (mut a, bytes) = saved_room();
    let mut b = new_room();
    b.restore(&bytes).expect("restores");
    assert_eq!(b.steps(), a.steps());
    assert_eq!(b.player_count(), a.player_count());
    assert_eq!(players(b.as_ref()), players(a.as_ref()));
    assert_eq!(
        b.world().resource::<Tally>().tags,
        a.world().resource::<Tally>().tags
    );
    assert_eq!(
        frame_bytes(b.as_mut(), SAVED_AT),
        frame_bytes(a.as_mut(), SAVED_AT),
        "the frame at the save"
    );
    let (mut events_a, mut events_b) = (Vec::new(), Vec::new());
    for t in SAVED_AT..SAVED_AT + 120 {
        run(a.as_mut(), t, t + 1, &mut events_a);
        run(b.as_mut(), t, t + 1, &mut events_b);
        assert_eq!(events_b, events_a, "events of step {t}");
        assert_eq!(
            frame_bytes(b.as_mut(), t + 1),
            frame_bytes(a.as_mut(), t + 1),
            "frame after step {t}"
        );
        assert_eq!(players(b.as_ref()), players(a.as_ref()));
    }
    assert!(
        events_a.len() > 100,
        "the scenario tags and scores ({} events)",
        events_a.len()
    );
}

#[test]
fn saving_a_restored_room_gives_the_bytes_it_was_restored_from() {
    let (_, bytes) = saved_room();
    let mut b = new_room();
    b.restore(&bytes).unwrap();
    assert_eq!(save(b.as_ref()), bytes);
}

#[test]
fn the_same_bytes_restored_twice_give_the_same_room() {
    let (_, bytes) = saved_room();
    let (mut b, mut c) = (new_room(), new_room());
    b.restore(&bytes).unwrap();
    c.restore(&bytes).unwrap();
    let (mut eb, mut ec) = (Vec::new(), Vec::new());
    for t in SAVED_AT..SAVED_AT + 60 {
        run(b.as_mut(), t, t + 1, &mut eb);
        run(c.as_mut(), t, t + 1, &mut ec);
        assert_eq!(
            frame_bytes(b.as_mut(), t + 1),
            frame_bytes(c.as_mut(), t + 1)
        );
    }
    assert_eq!(eb, ec);
    assert_eq!(save(b.as_ref()), save(c.as_ref()));
}

#[test]
fn exact_state_comes_back_exactly_and_wire_state_as_clients_see_it() {
    let (a, bytes) = saved_room();
    let mut b = new_room();
    b.restore(&bytes).unwrap();
    let bodies = |room: &dyn Room| {
        let world = room.world();
        world
            .resource::<Players>()
            .iter()
            .map(|(p, e)| {
                (
                    p,
                    *world.get::<Body>(e).unwrap(),
                    *world.get::<Vel>(e).unwrap(),
                    *world.get::<Cooldown>(e).unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(bodies(b.as_ref()), bodies(a.as_ref()));
    // Not in tenths: the exact value came back, not the wire's.
    assert!(
        bodies(a.as_ref())
            .iter()
            .any(|(_, body, _, _)| { (body.x * 10.0).round() / 10.0 != body.x })
    );
    // Rocks come back in tenths, as sent.
    let mut ra = rock_list(a.as_ref());
    let rb = rock_list(b.as_ref());
    assert_eq!(ra.len(), 5);
    for r in &mut ra {
        *r = ((r.0 * 10.0).round() / 10.0, (r.1 * 10.0).round() / 10.0);
    }
    assert_eq!(rb, ra);
    // The tally's link is the restored room's entity of the same player.
    let last = |room: &dyn Room| {
        let world = room.world();
        let e = world.resource::<Tally>().last.expect("someone tagged");
        world.get::<Player>(e).expect("a player").id
    };
    assert_eq!(last(b.as_ref()), last(a.as_ref()));
    // Markers follow the same players, or setup's beacon (kept as it was).
    let follows = |room: &dyn Room| {
        let world = room.world();
        let beacon = world.resource::<Beacon>().0;
        let mut out: Vec<(u32, Option<PlayerId>)> = world
            .iter_entities()
            .filter_map(|e| {
                let f = e.get::<Follow>()?;
                let to = world.get::<Player>(f.target).map(|p| p.id);
                assert!(to.is_some() || f.target == beacon, "{f:?}");
                Some((e.get::<NetId>()?.0, to))
            })
            .collect();
        out.sort_unstable();
        out
    };
    let fa = follows(a.as_ref());
    assert!(fa.iter().any(|(_, to)| to.is_none()) && fa.iter().any(|(_, to)| to.is_some()));
    assert_eq!(follows(b.as_ref()), fa);
}

/// Rocks' places, in network-id order.
fn rock_list(room: &dyn Room) -> Vec<(f32, f32)> {
    let world = room.world();
    let mut out: Vec<(u32, f32, f32)> = world
        .iter_entities()
        .filter_map(|e| {
            let r = e.get::<Rock>()?;
            Some((e.get::<NetId>()?.0, r.x, r.y))
        })
        .collect();
    out.sort_by_key(|r| r.0);
    out.into_iter().map(|(_, x, y)| (x, y)).collect()
}

#[test]
fn a_save_of_another_game_version_or_declarations_is_refused() {
    let (_, bytes) = saved_room();
    type Case = (Box<dyn Room>, fn(&PersistError) -> bool);
    let cases: [Case; 5] = [
        (room_of::<Renamed>(serde_json::json!({}), 11), |e| {
            matches!(e, PersistError::OtherGame { .. })
        }),
        (room_of::<Bumped>(serde_json::json!({}), 11), |e| {
            matches!(
                e,
                PersistError::OtherVersion {
                    expected: 2,
                    found: 1
                }
            )
        }),
        (room_of::<MorePersisted>(serde_json::json!({}), 11), |e| {
            matches!(e, PersistError::OtherDeclarations { .. })
        }),
        (room_of::<Base>(serde_json::json!({}), 12), |e| {
            matches!(e, PersistError::OtherRoom)
        }),
        (room_of::<Base>(serde_json::json!({ "ttl": 5 }), 11), |e| {
            matches!(e, PersistError::OtherRoom)
        }),
    ];
    for (mut room, ok) in cases {
        let err = room.restore(&bytes).expect_err("refused");
        assert!(ok(&err), "unexpected {err:?}");
        assert_eq!(room.steps(), 0);
    }
}

#[test]
fn only_a_new_room_restores() {
    let (_, bytes) = saved_room();
    let mut stepped = new_room();
    stepped.step();
    assert!(matches!(
        stepped.restore(&bytes),
        Err(PersistError::NotNew(_))
    ));
    let mut joined = new_room();
    joined.join(PlayerId(1), "p").unwrap();
    assert!(matches!(
        joined.restore(&bytes),
        Err(PersistError::NotNew(_))
    ));
    // Joined and left: no player, no step, still not new.
    assert!(joined.leave(PlayerId(1), Departure::Left));
    assert!(matches!(
        joined.restore(&bytes),
        Err(PersistError::NotNew(_))
    ));
    let mut restored = new_room();
    restored.restore(&bytes).unwrap();
    assert!(matches!(
        restored.restore(&bytes),
        Err(PersistError::NotNew(_))
    ));
}

#[test]
fn a_room_that_refused_bytes_is_still_new_and_unchanged() {
    let (_, bytes) = saved_room();
    let mut fresh = new_room();
    let expected = frame_bytes(fresh.as_mut(), 0);
    let mut room = new_room();
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(
            room.restore(&bytes[..cut]),
            Err(PersistError::Undecodable(_))
        ));
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        room.restore(&trailing),
        Err(PersistError::Undecodable(_))
    ));
    assert_eq!(frame_bytes(room.as_mut(), 0), expected);
    room.restore(&bytes).expect("still new: it restores");
}

#[test]
fn every_cut_of_a_save_is_refused() {
    let mut room = new_room();
    let mut events = Vec::new();
    run(room.as_mut(), 0, 40, &mut events);
    let bytes = save(room.as_ref());
    let mut target = new_room();
    for cut in 0..bytes.len() {
        assert!(target.restore(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

/// A save of a short scenario, made once.
fn small_save() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let mut room = new_room();
        let mut events = Vec::new();
        run(room.as_mut(), 0, 30, &mut events);
        save(room.as_ref())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn flipped_bits_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
        let mut bytes = small_save().to_vec();
        for (at, bit) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let mut room = new_room();
        if room.restore(&bytes).is_ok() {
            // Whatever came back builds a frame.
            let mut frame = Frame::default();
            let _ = room.build_frame(0, &mut frame);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut room = new_room();
        let _ = room.restore(&bytes);
    }
}

#[test]
fn a_persisted_type_declared_twice_is_refused() {
    #[derive(Debug)]
    struct Twice;
    impl Game for Twice {
        const NAME: &'static str = "twice";
        const VERSION: u32 = 1;
        type Input = Push;
        type Config = OrbitConfig;
        fn declare(game: &mut Declare) {
            game.persist::<Vel>().persist::<Cooldown>().persist::<Vel>();
        }
        fn setup(_: &mut Setup<'_>, _: &OrbitConfig) {}
        fn joined(_: &mut World, _: PlayerId, _: Entity) {}
    }
    let err = Games::new()
        .register::<Twice>()
        .map(|_| ())
        .expect_err("refused");
    assert!(err.to_string().contains("Vel"), "{err}");
}

#[test]
fn network_ids_go_to_the_last_replicated_first() {
    // Setup replicates its rocks in the order it draws them; the last gets
    // id 1 (what entity order gave on fresh entity indices, so frames of
    // earlier builds are unchanged), whatever the entity ids.
    let room = new_room();
    let mut rng = RoomRng::new(11);
    let mut drawn: Vec<(f32, f32)> = (0..5)
        .map(|_| (rng.range_f32(0.0, 100.0), rng.range_f32(0.0, 100.0)))
        .collect();
    drawn.reverse();
    assert_eq!(rock_list(room.as_ref()), drawn);
}
