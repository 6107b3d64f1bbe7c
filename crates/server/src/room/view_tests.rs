//! Interest management through [`RoomCore`], on the manual-clock
//! [`Harness`]: a small test game ("beacons": each player is a marker on a
//! line that sees 250 units around it, beacons every 200 units, one global
//! board) where players move, leave each other's view and come back, drop
//! and resume, and send events that follow visibility. Checked on what each
//! client's replica holds and on the bytes that reached it.

use serde::{Deserialize, Serialize};
use tickroom::bevy_ecs::prelude::*;
use tickroom::{
    Declare, Eye, Game, Games, Inputs, Outbox, PlayerId, Replicated, RoomConfig, SeenBy, Setup,
};
use tickroom_derive::Wire;
use tickroom_protocol::state::Frame;

use super::core::ConnId;
use super::harness::{Got, Harness, settings};

/// Where a marker is (not replicated: the position interest reads).
#[derive(Component, Debug, Clone, Copy, PartialEq)]
struct Pos {
    x: f32,
    y: f32,
}

/// A marker as clients see it.
#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Mark {
    x: i32,
    y: i32,
}

/// A global entity: sent to everyone.
#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Board {
    round: u32,
}

/// Move to (`x`, `y`); `ping`: send a [`Ping`] near there and a [`Seen`]
/// to whoever sees the mover.
#[derive(Wire, Debug, Clone, Copy, Default, PartialEq)]
struct Goto {
    x: i32,
    y: i32,
    ping: bool,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Ping {
    by: u32,
}

#[derive(Wire, Debug, Clone, PartialEq)]
struct Seen {
    by: u32,
}

#[derive(Resource, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct BeaconsConfig {
    /// A player the beacon at 1400 is shown to wherever it is ([`SeenBy`]).
    watcher: Option<u32>,
}

impl RoomConfig for BeaconsConfig {}

const RADIUS: f32 = 250.0;

#[derive(Debug)]
struct Beacons;

impl Game for Beacons {
    const NAME: &'static str = "beacons";
    const VERSION: u32 = 1;
    type Input = Goto;
    type Config = BeaconsConfig;

    fn declare(game: &mut Declare) {
        game.replicate::<Mark>()
            .replicate::<Board>()
            .event::<Ping>()
            .event::<Seen>()
            .interest::<Pos>(|p| [p.x, p.y]);
    }

    fn setup(room: &mut Setup<'_>, config: &BeaconsConfig) {
        let world = room.world();
        world.spawn((Board { round: 1 }, Replicated));
        for k in 0..=10 {
            let x = k * 200;
            let mut beacon = world.spawn((
                Mark { x, y: 0 },
                Pos {
                    x: x as f32,
                    y: 0.0,
                },
                Replicated,
            ));
            if let (1400, Some(p)) = (x, config.watcher) {
                beacon.insert(SeenBy(vec![PlayerId(p)]));
            }
        }
        room.add_systems(go);
    }

    fn joined(world: &mut World, player: PlayerId, entity: Entity) {
        world.entity_mut(entity).insert((
            Mark { x: 0, y: 0 },
            Pos { x: 0.0, y: 0.0 },
            Eye {
                player,
                radius: RADIUS,
            },
        ));
    }
}

fn go(inputs: Res<Inputs<Goto>>, mut marks: Query<(&mut Mark, &mut Pos)>, mut out: ResMut<Outbox>) {
    for i in &inputs {
        if let Ok((mut m, mut p)) = marks.get_mut(i.entity) {
            *m = Mark {
                x: i.input.x,
                y: i.input.y,
            };
            *p = Pos {
                x: i.input.x as f32,
                y: i.input.y as f32,
            };
        }
        if i.input.ping {
            out.to_near(i.input.x as f32, i.input.y as f32, &Ping { by: i.player.0 });
            out.to_seeing(i.entity, &Seen { by: i.player.0 });
        }
    }
}

fn games() -> Games {
    let mut g = Games::new();
    g.register::<Beacons>().expect("beacons registers");
    g
}

fn harness() -> Harness {
    harness_with(None)
}

fn harness_with(config: Option<serde_json::Value>) -> Harness {
    let games = games();
    let entry = games.get("beacons").expect("registered");
    let config = entry.config(config.as_ref()).expect("a valid config");
    let room = entry.new_room(&config, 3, 20).expect("a room");
    Harness::with_room(settings(16), room)
}

/// The Goto input's bytes.
fn goto(h: &Harness, x: i32, y: i32, ping: bool) -> Vec<u8> {
    let mut data = Vec::new();
    h.core
        .catalogue()
        .encode_input(&Goto { x, y, ping }, &mut data);
    data
}

/// The x of every marker `conn`'s client holds (beacons and players), and
/// whether it holds the board.
fn marks(h: &Harness, conn: ConnId) -> (Vec<i32>, bool) {
    let f = h.frame(conn);
    let schema = h.core.catalogue().schema();
    let mark = schema.component_id("mark").expect("mark");
    let board = schema.component_id("board").expect("board");
    let mut xs: Vec<i32> = f
        .entities()
        .filter_map(|e| e.get(mark)?.int(0))
        .map(|x| x as i32)
        .collect();
    xs.sort_unstable();
    (xs, f.entities().any(|e| e.get(board).is_some()))
}

/// What the room's game says player `conn`'s view is this tick, as the
/// frame of its entities.
fn expected(h: &Harness, player: u32) -> Frame {
    let frame = h.core.frame().expect("a frame");
    let view = h
        .core
        .game()
        .views()
        .expect("beacons declares interest")
        .of(PlayerId(player))
        .expect("the player is in the room");
    let mut sub = Frame::default();
    frame.subset(view, &mut sub);
    sub
}

#[test]
fn a_player_holds_exactly_what_is_within_its_radius_as_it_moves() {
    let mut h = harness();
    let a = h.join_as(1, "a", None).expect("joins").player_id;
    h.step();
    h.read_all();
    // At 0: beacons at 0 and 200, itself at 0, the board.
    assert_eq!(marks(&h, 1), (vec![0, 0, 200], true));
    assert_eq!(h.frame(1), &expected(&h, a));
    let data = goto(&h, 1000, 0, false);
    h.input_data(1, 1, &data);
    h.step();
    h.read_all();
    assert_eq!(marks(&h, 1), (vec![800, 1000, 1000, 1200], true));
    assert_eq!(h.frame(1), &expected(&h, a));
    // Off the line: nothing but itself and the board.
    let data = goto(&h, 1000, 5000, false);
    h.input_data(1, 2, &data);
    h.step();
    h.read_all();
    assert_eq!(marks(&h, 1), (vec![1000], true));
}

#[test]
fn a_hidden_player_is_never_in_the_bytes_until_it_comes_into_view() {
    let mut h = harness();
    h.join_as(1, "alice", None).expect("joins");
    h.join_as(2, "zz-hidden-zz", None).expect("joins");
    let far = goto(&h, 2000, 0, false);
    h.input_data(2, 1, &far);
    h.step();
    let secret = b"zz-hidden-zz";
    let contains = |bytes: &[u8]| bytes.windows(secret.len()).any(|w| w == secret);
    // Both joined at 0, so the first whole frame has the other; from the
    // second tick on, the hidden one is 2000 away.
    h.read_raw(1);
    for t in 0..20 {
        h.input_data(2, 2 + t, &far);
        h.step();
        let (_, bytes, _) = h.read_raw(1);
        assert!(!bytes.is_empty(), "tick {t}: a frame each tick");
        assert!(
            !contains(&bytes),
            "tick {t}: the hidden player's name reached alice"
        );
        h.read_raw(2);
        assert_eq!(
            marks(&h, 1).0,
            vec![0, 0, 200],
            "tick {t}: alice holds only what is near"
        );
    }
    // Alice walks over: the name comes, whole, in a spawn.
    let near = goto(&h, 1900, 0, false);
    h.input_data(1, 1, &near);
    h.step();
    let (_, bytes, _) = h.read_raw(1);
    assert!(contains(&bytes), "once in view the player is sent");
    assert_eq!(marks(&h, 1).0, vec![1800, 1900, 2000, 2000]);
}

#[test]
fn an_entity_that_comes_back_into_view_is_sent_whole_again() {
    let mut h = harness();
    let a = h.join_as(1, "a", None).expect("joins").player_id;
    let mut seq = 0;
    let mut go = |h: &mut Harness, x: i32| {
        seq += 1;
        let data = goto(h, x, 0, false);
        h.input_data(1, seq, &data);
        h.step();
        h.read_all();
    };
    go(&mut h, 0);
    let schema = h.core.catalogue().schema().clone();
    let mark = schema.component_id("mark").unwrap();
    let beacon_200 = |f: &Frame| {
        f.entities()
            .find(|e| e.get(mark).and_then(|v| v.int(0)) == Some(200))
            .map(|e| e.id())
    };
    let id = beacon_200(h.frame(1)).expect("beacon 200 in view at 0");
    go(&mut h, 1000);
    assert_eq!(beacon_200(h.frame(1)), None, "out of view: despawned");
    go(&mut h, 100);
    // Back: the same network id, whole and equal to the server's.
    assert_eq!(beacon_200(h.frame(1)), Some(id));
    assert_eq!(h.frame(1), &expected(&h, a));
}

#[test]
fn a_resumed_player_gets_its_view_whole() {
    let mut h = harness();
    let joined = h.join_as(1, "a", None).expect("joins");
    let data = goto(&h, 600, 0, false);
    h.input_data(1, 1, &data);
    h.steps(3);
    h.read_all();
    h.leave(1, false);
    h.steps(2);
    let claim = Harness::claim(&joined);
    let back = h.join_as(2, "a", claim).expect("resumes");
    assert!(back.resumed);
    h.step();
    let (got, _, _) = h.read_raw(2);
    assert!(matches!(got, Got::Full { .. }), "{got:?}");
    assert_eq!(marks(&h, 2), (vec![400, 600, 600, 800], true));
    assert_eq!(h.frame(2), &expected(&h, back.player_id));
}

#[test]
fn events_near_a_place_reach_exactly_the_players_that_see_it_once() {
    let mut h = harness();
    for (conn, x) in [(1, 0), (2, 200), (3, 2000)] {
        h.join_as(conn, &format!("p{conn}"), None).expect("joins");
        let data = goto(&h, x, 0, false);
        h.input_data(conn, 1, &data);
    }
    h.step();
    h.read_all();
    // Player 1 pings at 0: 1 and 2 (200 away) see the place and the mover;
    // 3 (2000 away) sees neither.
    let data = goto(&h, 0, 0, true);
    h.input_data(1, 2, &data);
    h.step();
    let mut got = Vec::new();
    for conn in 1..=3 {
        let (_, _, events) = h.read_raw(conn);
        got.push(events.len());
    }
    assert_eq!(got, vec![2, 2, 0], "ping + seen to 1 and 2, nothing to 3");
    h.step();
    for conn in 1..=3 {
        let (_, _, events) = h.read_raw(conn);
        assert!(events.is_empty(), "conn {conn}: an event came twice");
    }
}

#[test]
fn seen_by_shows_an_entity_to_a_player_wherever_it_is() {
    let mut h = harness_with(Some(serde_json::json!({"watcher": 1})));
    for conn in [1, 2] {
        h.join_as(conn, "p", None).expect("joins");
        let data = goto(&h, 0, 9000, false);
        h.input_data(conn, 1, &data);
    }
    h.step();
    h.read_all();
    // Player 1 is shown the beacon at 1400 although it is far away; player
    // 2, at the same place, only itself and player 1.
    assert_eq!(marks(&h, 1).0, vec![0, 0, 1400]);
    assert_eq!(marks(&h, 2).0, vec![0, 0]);
}

/// Random walks, joins, leaves, drops, resumes and frames left unread (so
/// baselines are older than the last frame): every client that read a
/// frame holds exactly its view of that tick, and every checksum matches
/// (the harness asserts that on each read).
#[test]
fn random_play_reproduces_every_clients_view_exactly() {
    let mut rng = tickroom::RoomRng::new(11);
    let mut h = harness();
    let mut players: Vec<(ConnId, u32, Option<super::core::Joined>)> = Vec::new();
    let mut next_conn = 1;
    let (mut seq, mut checked) = (0, 0);
    for tick in 0..400 {
        match rng.below(20) {
            0 if players.len() < 12 => {
                let j = h.join_as(next_conn, "p", None).expect("joins");
                players.push((next_conn, j.player_id, Some(j)));
                next_conn += 1;
            }
            1 if !players.is_empty() => {
                let k = rng.below(players.len() as u32) as usize;
                let (conn, _, _) = players.remove(k);
                h.leave(conn, true);
            }
            2 if !players.is_empty() => {
                // Drop and resume on a new connection.
                let k = rng.below(players.len() as u32) as usize;
                let (conn, id, joined) = players[k].clone();
                h.leave(conn, false);
                let back = h
                    .join_as(next_conn, "p", joined.as_ref().and_then(Harness::claim))
                    .expect("resumes");
                assert_eq!(back.player_id, id);
                players[k] = (next_conn, id, Some(back));
                next_conn += 1;
            }
            _ => {}
        }
        for &(conn, _, _) in &players {
            if rng.below(3) == 0 {
                seq += 1;
                let x = rng.below(2400) as i32 - 200;
                let y = rng.below(600) as i32 - 300;
                let data = goto(&h, x, y, rng.below(10) == 0);
                h.input_data(conn, seq, &data);
            }
        }
        h.step();
        for &(conn, id, _) in &players {
            // Some clients skip reads: their next delta is from further back.
            if rng.below(4) != 0 {
                let now = h.core.tick_number();
                let (got, _, _) = h.read_raw(conn);
                if let Got::Full { tick: t } | Got::Delta { tick: t, .. } = got
                    && t == now
                {
                    assert_eq!(h.frame(conn), &expected(&h, id), "tick {tick}, conn {conn}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} views were checked");
}
