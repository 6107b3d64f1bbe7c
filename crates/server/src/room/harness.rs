//! A deterministic harness for [`RoomCore`]: a manual clock and in-memory
//! connections (a real [`Mailbox`] each, and a client [`Replica`] that applies
//! exactly what its connection took), stepped explicitly, with the arena as
//! the room's game (or any room: [`Harness::with_room`]). Every room rule is tested here in milliseconds, with no
//! socket, thread or sleep.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use tickroom_game::{Games, Room};
use tickroom_protocol::{
    ServerMsg, decode_server,
    state::{Frame, Replica, read_header},
};
use tickroom_sim::{Arena, ArenaView, SteerInput};

use super::core::{
    ConnId, CoreSettings, JoinRefused, Joined, Output, ResumeClaim, RoomCore, Status,
};
use crate::net::{
    close::{CloseRequest, GOING_AWAY, RESUMED_ELSEWHERE},
    mailbox::{Mailbox, Next},
};

const PERIOD: Duration = Duration::from_millis(50);

/// What one read of a connection got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Got {
    Nothing,
    Full {
        tick: u32,
    },
    Delta {
        tick: u32,
        base_age: u32,
        /// Players who appeared and left (by the client's view).
        added: usize,
        removed: usize,
    },
}

/// One in-memory connection: its mailbox and what the client holds.
struct Client {
    mailbox: Mailbox,
    replica: Replica,
    /// The newest input sequence number the room says it applied.
    ack: u32,
    closed: Option<CloseRequest>,
}

pub(super) struct Harness {
    pub(super) core: RoomCore,
    now: Instant,
    clients: BTreeMap<ConnId, Client>,
    last_status: Status,
}

pub(super) fn settings(capacity: usize) -> CoreSettings {
    CoreSettings {
        capacity,
        idle_timeout: Duration::from_secs(30),
        resume_grace: Duration::from_secs(10),
        history: super::core::HISTORY,
        max_unacked: 10,
        recording: None,
        steps_per_frame: 1,
    }
}

/// An arena room stepping `rate_hz` times a second.
pub(super) fn arena(rate_hz: u32) -> Box<dyn Room> {
    let mut games = Games::new();
    games.register::<Arena>().expect("the arena registers");
    let entry = games.get("arena").expect("registered");
    let config = entry.config(None).expect("defaults");
    entry.new_room(&config, 7, rate_hz).expect("a room")
}

impl Harness {
    pub(super) fn new(settings: CoreSettings) -> Harness {
        let rate = 20 * settings.steps_per_frame.max(1);
        Harness::with_room(settings, arena(rate))
    }

    /// A harness around a room of any game.
    pub(super) fn with_room(settings: CoreSettings, room: Box<dyn Room>) -> Harness {
        let now = Instant::now();
        Harness::with_core(RoomCore::new(settings, room, now, 42), now)
    }

    /// A harness around a core made at `now` (a restored one).
    pub(super) fn with_core(core: RoomCore, now: Instant) -> Harness {
        Harness {
            core,
            now,
            clients: BTreeMap::new(),
            last_status: Status::Running,
        }
    }

    pub(super) fn join(
        &mut self,
        conn: ConnId,
        resume: Option<ResumeClaim>,
    ) -> Result<Joined, JoinRefused> {
        self.join_as(conn, &format!("c{conn}"), resume)
    }

    /// Joins `conn` with a display name.
    pub(super) fn join_as(
        &mut self,
        conn: ConnId,
        name: &str,
        resume: Option<ResumeClaim>,
    ) -> Result<Joined, JoinRefused> {
        let joined = self.core.join(conn, name.to_owned(), resume)?;
        self.clients.insert(
            conn,
            Client {
                mailbox: Mailbox::new(),
                replica: Replica::new(joined.catalogue.schema().clone()),
                ack: 0,
                closed: None,
            },
        );
        self.deliver();
        Ok(joined)
    }

    pub(super) fn claim(joined: &Joined) -> Option<ResumeClaim> {
        Some(ResumeClaim {
            player: joined.player_id,
            session: joined.session,
        })
    }

    /// The arena's steering input as its client sends it.
    fn steer(&self, steer: [i8; 2]) -> Vec<u8> {
        let mut data = Vec::new();
        self.core.catalogue().encode_input(
            &SteerInput {
                x: steer[0],
                y: steer[1],
            },
            &mut data,
        );
        data
    }

    /// An input from `conn`'s client, acknowledging the newest tick it holds.
    pub(super) fn input(&mut self, conn: ConnId, seq: u32, steer: [i8; 2]) {
        let ack = self
            .clients
            .get(&conn)
            .and_then(|c| c.replica.frame())
            .map_or(0, |f| f.tick);
        let data = self.steer(steer);
        self.core.input(conn, seq, ack, &data);
    }

    /// Input bytes of the room's game from `conn`'s client, acknowledging
    /// the newest tick it holds.
    pub(super) fn input_data(&mut self, conn: ConnId, seq: u32, data: &[u8]) {
        let ack = self
            .clients
            .get(&conn)
            .and_then(|c| c.replica.frame())
            .map_or(0, |f| f.tick);
        self.core.input(conn, seq, ack, data);
    }

    /// An input that acknowledges tick `ack`.
    fn input_acking(&mut self, conn: ConnId, seq: u32, ack: u32) {
        let data = self.steer([0, 0]);
        self.core.input(conn, seq, ack, &data);
    }

    pub(super) fn leave(&mut self, conn: ConnId, explicit: bool) {
        self.core.leave(self.now, conn, explicit);
    }

    /// Advances the clock one period and runs a tick.
    pub(super) fn step(&mut self) -> Status {
        self.now += PERIOD;
        let clients = &self.clients;
        self.last_status = self.core.tick(self.now, |conn| {
            clients.get(&conn)?.mailbox.begin_frame().taken
        });
        self.deliver();
        self.last_status
    }

    pub(super) fn steps(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }

    fn deliver(&mut self) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Frame {
                    conn,
                    tick,
                    ack,
                    tail,
                } => {
                    self.clients[&conn].mailbox.put(tick, ack, tail);
                }
                Output::Event { conn, bytes } => {
                    assert!(self.clients[&conn].mailbox.push_event(bytes));
                }
                Output::Close { conn, req } => {
                    let c = self.clients.get_mut(&conn).expect("known connection");
                    c.closed.get_or_insert(req);
                    c.mailbox.close(req);
                }
                // Recording is tested in `record_tests`.
                Output::Record(_) | Output::Keyframe(_) => {}
            }
        }
    }

    /// The client of `conn` reads what its mailbox holds and applies it.
    pub(super) fn read(&mut self, conn: ConnId) -> Got {
        self.read_raw(conn).0
    }

    /// [`Harness::read`], with the message's bytes as they went on the wire
    /// and the events that came with it.
    pub(super) fn read_raw(&mut self, conn: ConnId) -> (Got, Vec<u8>, Vec<Vec<u8>>) {
        let c = self.clients.get_mut(&conn).expect("known connection");
        let Some(Next::Frame(bytes)) = c.mailbox.try_take() else {
            return (Got::Nothing, Vec::new(), Vec::new());
        };
        let ServerMsg::State(state) = decode_server(&bytes).expect("decodes") else {
            panic!("conn {conn}: not a state");
        };
        let header = read_header(&state.frame).expect("a header");
        let before = c
            .replica
            .frame()
            .map(|f| player_ids(c.replica.schema(), f))
            .unwrap_or_default();
        let applied = c
            .replica
            .apply(&state)
            .unwrap_or_else(|e| panic!("conn {conn}: {e}"));
        assert!(
            applied.checksum_ok,
            "conn {conn}: checksum mismatch at tick {}",
            applied.tick
        );
        c.ack = state.ack_seq;
        let after = player_ids(c.replica.schema(), c.replica.frame().expect("a frame"));
        let got = match header.base_tick {
            None => Got::Full { tick: applied.tick },
            Some(base) => Got::Delta {
                tick: applied.tick,
                base_age: applied.tick - base,
                added: after.iter().filter(|p| !before.contains(p)).count(),
                removed: before.iter().filter(|p| !after.contains(p)).count(),
            },
        };
        let events = state.events.clone();
        (got, bytes.to_vec(), events)
    }

    pub(super) fn read_all(&mut self) {
        let conns: Vec<ConnId> = self.clients.keys().copied().collect();
        for conn in conns {
            self.read(conn);
        }
    }

    /// What `conn`'s client holds, as the arena's view.
    pub(super) fn view(&self, conn: ConnId) -> ArenaView {
        let c = &self.clients[&conn];
        ArenaView::read(c.replica.schema(), c.replica.frame().expect("a frame"))
            .expect("an arena frame")
    }

    pub(super) fn frame(&self, conn: ConnId) -> &Frame {
        self.clients[&conn].replica.frame().expect("a frame")
    }

    pub(super) fn ack(&self, conn: ConnId) -> u32 {
        self.clients[&conn].ack
    }

    pub(super) fn closed(&self, conn: ConnId) -> Option<CloseRequest> {
        self.clients[&conn].closed
    }
}

/// The ids of the players in a frame (the engine's `player` component, of
/// any game).
fn player_ids(schema: &tickroom_protocol::state::Schema, f: &Frame) -> Vec<u32> {
    let player = schema
        .component_id("player")
        .expect("every game has players");
    f.entities()
        .filter_map(|e| e.get(player)?.int(0))
        .map(|id| id as u32)
        .collect()
}

#[test]
fn joins_fill_the_room_to_capacity_then_are_refused() {
    let mut h = Harness::new(settings(2));
    let a = h.join(1, None).expect("first");
    let b = h.join(2, None).expect("second");
    assert_ne!(a.player_id, b.player_id);
    assert_eq!(h.join(3, None).err(), Some(JoinRefused::Full));
    assert_eq!(
        h.core.join(1, String::new(), None).err(),
        Some(JoinRefused::DuplicateConnection)
    );
    h.leave(1, true);
    assert_eq!(
        h.core.player_count(),
        1,
        "an explicit leave frees the seat at once"
    );
    h.join(3, None).expect("the freed seat");
}

#[test]
fn a_new_player_gets_a_full_snapshot_then_deltas_that_reproduce_the_room() {
    let mut h = Harness::new(settings(4));
    h.join(1, None).expect("join");
    h.join(2, None).expect("join");
    h.step();
    assert_eq!(h.read(1), Got::Full { tick: 1 });
    assert_eq!(h.read(2), Got::Full { tick: 1 });
    let start = h.view(1).players[0].pos;
    let toward_centre = if start.x < 800.0 { 127 } else { -127 };
    for tick in 2..40 {
        h.input(1, tick, [toward_centre, 0]);
        h.step();
        assert_eq!(
            h.read(1),
            Got::Delta {
                tick,
                base_age: 1,
                added: 0,
                removed: 0
            }
        );
        assert_eq!(
            h.read(2),
            Got::Delta {
                tick,
                base_age: 1,
                added: 0,
                removed: 0
            }
        );
        let stats = h.core.stats();
        assert_eq!(
            (stats.deltas_encoded, stats.snapshots_encoded),
            (1, 0),
            "one encode for both"
        );
    }
    // Every delta checked its checksum; both copies agree, and player 1 moved as steered.
    assert_eq!(h.frame(1), h.frame(2));
    let me = h.view(1).players[0].clone();
    assert_eq!(h.ack(1), 39);
    assert_eq!(
        me.pos.x > start.x,
        toward_centre > 0,
        "{start:?} -> {:?}",
        me.pos
    );
}

#[test]
fn inputs_given_before_a_tick_apply_in_it_and_later_ones_in_the_next() {
    let mut h = Harness::new(settings(2));
    h.join(1, None).expect("join");
    h.step();
    h.read(1);
    h.input(1, 5, [0, 127]);
    h.step();
    h.input(1, 6, [0, 127]); // arrives while tick 2's frame is on its way
    h.read(1);
    assert_eq!(h.ack(1), 5);
    h.step();
    h.read(1);
    assert_eq!(h.ack(1), 6);
    // An older sequence number never lowers the acknowledgement; unknown connections are ignored.
    h.input(1, 2, [0, 0]);
    h.input(99, 100, [0, 0]);
    h.step();
    h.read(1);
    assert_eq!(h.ack(1), 6);
}

#[test]
fn a_client_that_falls_behind_gets_a_delta_from_what_it_was_sent() {
    let mut h = Harness::new(settings(4));
    h.join(1, None).expect("join");
    h.join(2, None).expect("join");
    h.step();
    h.read_all();
    // Client 2 stops reading for three ticks: its frames are overwritten unsent.
    for _ in 0..3 {
        h.step();
        h.read(1);
    }
    let got = h.read(2);
    assert_eq!(
        got,
        Got::Delta {
            tick: 4,
            base_age: 3,
            added: 0,
            removed: 0
        },
        "against tick 1, the last it took"
    );
    assert_eq!(h.frame(2), h.frame(1));
    // Two baselines this tick: two encodes, each shared.
    h.step();
    assert_eq!(h.core.stats().deltas_encoded, 1);
    h.read_all();
    // Far behind (past the history): a full snapshot.
    for _ in 0..(super::core::HISTORY + 2) {
        h.step();
        h.read(1);
    }
    assert!(matches!(h.read(2), Got::Full { .. }));
    assert_eq!(h.frame(2), h.frame(1));
}

#[test]
fn a_frame_taken_but_not_yet_read_is_a_baseline_and_dropped_ones_never_are() {
    let mut h = Harness::new(settings(2));
    h.join(1, None).expect("join");
    h.step();
    h.read(1);
    h.step(); // tick 2 put
    h.step(); // tick 2 dropped unsent, tick 3 put
    assert_eq!(
        h.read(1),
        Got::Delta {
            tick: 3,
            base_age: 2,
            added: 0,
            removed: 0
        }
    );
}

#[test]
fn joins_and_leaves_reach_the_others_as_small_deltas() {
    let mut h = Harness::new(settings(50));
    for conn in 1..=20 {
        h.join(conn, None).expect("join");
    }
    h.step();
    h.read_all();
    h.step();
    h.read_all();
    let plain = h.core.stats().encoded_sizes.clone();
    h.join(21, None).expect("join");
    h.step();
    assert_eq!(
        h.read(1),
        Got::Delta {
            tick: 3,
            base_age: 1,
            added: 1,
            removed: 0
        }
    );
    assert_eq!(h.read(21), Got::Full { tick: 3 });
    assert_eq!(h.frame(1), h.frame(21));
    assert_eq!(
        h.view(1).players.last().map(|p| p.name.as_str()),
        Some("c21")
    );
    let stats = h.core.stats();
    assert_eq!(
        (
            stats.deltas_encoded,
            stats.snapshots_encoded,
            stats.full_frames
        ),
        (1, 1, 1)
    );
    let (delta, full) = (stats.encoded_sizes[0], stats.encoded_sizes[1]);
    assert!(
        delta < plain[0] + 32 && delta * 4 < full,
        "join delta {delta} B, plain {} B, full {full} B",
        plain[0]
    );
    h.read_all();
    h.leave(5, true);
    h.step();
    assert_eq!(
        h.read(1),
        Got::Delta {
            tick: 4,
            base_age: 1,
            added: 0,
            removed: 1
        }
    );
    assert_eq!(h.view(1).players.len(), 20);
    assert!(h.view(1).players.iter().all(|p| p.name != "c5"));
}

#[test]
fn a_dropped_player_resumes_within_the_grace_as_itself() {
    let mut h = Harness::new(settings(2));
    let a = h.join(1, None).expect("join");
    h.join(2, None).expect("join");
    for seq in 1..10 {
        h.input(1, seq, [127, 127]);
        h.step();
        h.read_all();
    }
    let before = h.view(2).players[0].clone();
    let before_ack = h.ack(1);
    h.leave(1, false);
    h.steps(20); // 1 s of the 10 s grace
    assert_eq!(h.core.player_count(), 2, "the entity waits for a resume");
    assert_eq!(
        h.join(3, None).err(),
        Some(JoinRefused::Full),
        "its seat is held"
    );
    let back = h.join(3, Harness::claim(&a)).expect("resume");
    assert!(back.resumed);
    assert_eq!(back.player_id, a.player_id);
    assert_ne!(
        back.session, a.session,
        "a new session, so the old token is spent"
    );
    h.step();
    assert!(
        matches!(h.read(3), Got::Full { .. }),
        "a resumed player starts from a full snapshot"
    );
    let me = h.view(3).players[0].clone();
    assert_eq!((me.id, me.score), (before.id, before.score));
    assert_eq!(h.ack(3), before_ack, "its acknowledgement carries over");
    // The spent token gets a fresh player, not the same one again.
    h.leave(2, true);
    let fresh = h.join(4, Harness::claim(&a)).expect("join");
    assert!(!fresh.resumed);
    assert_ne!(fresh.player_id, a.player_id);
}

#[test]
fn after_the_grace_the_player_is_gone_and_a_resume_joins_fresh() {
    let mut h = Harness::new(settings(2));
    let a = h.join(1, None).expect("join");
    h.join(2, None).expect("join");
    h.step();
    h.read_all();
    h.leave(1, false);
    h.steps(199);
    assert_eq!(h.core.player_count(), 2, "still inside the 10 s grace");
    h.step();
    assert_eq!(h.core.player_count(), 1, "removed when the grace ends");
    h.read(2);
    assert_eq!(h.view(2).players.len(), 1);
    let again = h.join(3, Harness::claim(&a)).expect("join");
    assert!(!again.resumed);
}

#[test]
fn a_resume_takes_over_a_live_connection() {
    let mut h = Harness::new(settings(2));
    let a = h.join(1, None).expect("join");
    h.step();
    h.read(1);
    let back = h.join(2, Harness::claim(&a)).expect("resume");
    assert!(back.resumed);
    assert_eq!(h.closed(1), Some(RESUMED_ELSEWHERE));
    // The old connection's inputs and its leave change nothing now.
    h.input(1, 77, [127, 0]);
    h.leave(1, true);
    h.step();
    assert_eq!(h.core.player_count(), 1);
    assert!(matches!(h.read(2), Got::Full { .. }));
    assert_eq!(h.ack(2), 0);
    assert_eq!(
        h.read(1),
        Got::Nothing,
        "a closed connection gets no frames"
    );
}

#[test]
fn an_empty_room_reports_idle_after_the_timeout() {
    let mut h = Harness::new(settings(2));
    h.steps(599);
    assert_eq!(h.last_status, Status::Running, "29.95 s empty");
    assert_eq!(h.step(), Status::Idle);
    // Someone joining makes it busy again, and the idle clock starts over when it empties.
    h.join(1, None).expect("join");
    assert_eq!(h.step(), Status::Running);
    h.leave(1, true);
    h.steps(600); // the first tick after the leave starts the idle clock
    assert_eq!(h.last_status, Status::Running);
    assert_eq!(h.step(), Status::Idle);
}

#[test]
fn a_player_in_its_grace_keeps_the_room_from_idling() {
    let mut h = Harness::new(CoreSettings {
        idle_timeout: Duration::from_secs(1),
        ..settings(2)
    });
    h.join(1, None).expect("join");
    h.leave(1, false);
    h.steps(100);
    assert_eq!(
        h.last_status,
        Status::Running,
        "5 s: the player may still resume"
    );
    h.steps(100 + 20);
    assert_eq!(h.last_status, Status::Idle, "grace over, then 1 s empty");
}

#[test]
fn shutdown_closes_every_player_and_refuses_joins() {
    let mut h = Harness::new(settings(4));
    h.join(1, None).expect("join");
    h.join(2, None).expect("join");
    h.step();
    assert_eq!(h.core.shutdown(GOING_AWAY), Status::Closed);
    h.deliver();
    assert_eq!(
        (h.closed(1), h.closed(2)),
        (Some(GOING_AWAY), Some(GOING_AWAY))
    );
    assert_eq!(
        h.core.join(3, String::new(), None).err(),
        Some(JoinRefused::Closing)
    );
    assert_eq!(h.step(), Status::Closed);
}

/// Bytes the room hands each connection over `ticks` ticks of a 50-player
/// room whose clients read every frame, with `churn` (a leave and a fresh
/// join every second) or without.
fn bytes_per_player(ticks: u32, churn: bool) -> f64 {
    let mut h = Harness::new(settings(60));
    let mut next_conn: ConnId = 1;
    for _ in 0..50 {
        h.join(next_conn, None).expect("join");
        next_conn += 1;
    }
    h.step();
    h.read_all();
    let (mut bytes, mut frames) = (0usize, 0usize);
    for tick in 0..ticks {
        if churn && tick % 20 == 10 {
            let oldest = *h.clients.keys().next().expect("a client");
            h.leave(oldest, true);
            h.clients.remove(&oldest);
            h.join(next_conn, None).expect("join");
            next_conn += 1;
        }
        let conns: Vec<ConnId> = h.clients.keys().copied().collect();
        for conn in conns {
            let a = (conn as u32 * 37 + tick) as f32 * 0.1;
            h.input(
                conn,
                tick + 1,
                [(a.cos() * 127.0) as i8, (a.sin() * 127.0) as i8],
            );
        }
        h.now += PERIOD;
        let clients = &h.clients;
        h.core.tick(h.now, |conn| {
            clients.get(&conn)?.mailbox.begin_frame().taken
        });
        while let Some(out) = h.core.poll_output() {
            if let Output::Frame {
                conn,
                tick,
                ack,
                tail,
            } = out
            {
                // The tail plus the player's own ack (a few bytes).
                bytes += tail.len() + 6;
                frames += 1;
                h.clients[&conn].mailbox.put(tick, ack, tail);
            }
        }
        h.read_all();
    }
    bytes as f64 / frames as f64
}

#[test]
fn a_join_and_a_leave_every_second_cost_under_a_tenth_more_bytes() {
    let plain = bytes_per_player(400, false);
    let churned = bytes_per_player(400, true);
    println!(
        "bytes per player per frame: {plain:.1} without churn, {churned:.1} with a join and a leave every second ({:.3}x)",
        churned / plain
    );
    assert!(
        churned <= plain * 1.10,
        "{churned:.1} vs {plain:.1} bytes per frame"
    );
}

#[test]
fn a_client_that_acknowledges_nothing_new_is_held_back_until_it_does() {
    let mut h = Harness::new(settings(4));
    h.join(1, None).expect("join");
    h.join(2, None).expect("join");
    h.step();
    h.read_all();
    let acked = h.frame(1).tick;
    // Client 1 takes every frame but its inputs keep reporting the old tick
    // (frames pile up somewhere between it and us); client 2 sends no inputs.
    let mut got = 0;
    for seq in 1..=30 {
        h.input_acking(1, seq, acked);
        h.step();
        if h.read(1) != Got::Nothing {
            got += 1;
        }
        assert_ne!(
            h.read(2),
            Got::Nothing,
            "a client without inputs is never held"
        );
    }
    assert_eq!(got, 10, "frames stop once 10 ticks are unacknowledged");
    assert!(h.core.stats().held >= 1);
    // It catches up: frames resume, as a delta from the last frame it got.
    let holds = h.frame(1).tick;
    h.input_acking(1, 31, holds);
    h.step();
    assert!(matches!(h.read(1), Got::Delta { base_age, .. } if base_age > 1));
    h.read(2);
    assert!(
        h.frame(1) == h.frame(2),
        "both hold tick {}",
        h.frame(2).tick
    );
    // Its inputs stop: after the window it is no longer held.
    for seq in 32..40 {
        h.input_acking(1, seq, acked);
    }
    for _ in 0..12 {
        h.step();
        h.read(2);
        h.read(1);
    }
    assert!(
        h.frame(1) == h.frame(2),
        "stale acknowledgements stop holding it"
    );
}

/// Sub-steps (`--sim-rate`): 60 Hz steps, a frame every third step.
fn sub_step_settings() -> CoreSettings {
    CoreSettings {
        steps_per_frame: 3,
        ..settings(4)
    }
}

#[test]
fn with_sub_steps_a_frame_goes_out_every_third_step_with_consecutive_ticks() {
    let mut h = Harness::new(sub_step_settings());
    h.join(1, None).expect("joins");
    let mut got = Vec::new();
    for _ in 0..9 {
        h.step();
        got.push(h.read(1));
    }
    assert_eq!(
        got,
        [
            Got::Nothing,
            Got::Nothing,
            Got::Full { tick: 1 },
            Got::Nothing,
            Got::Nothing,
            Got::Delta {
                tick: 2,
                base_age: 1,
                added: 0,
                removed: 0
            },
            Got::Nothing,
            Got::Nothing,
            Got::Delta {
                tick: 3,
                base_age: 1,
                added: 0,
                removed: 0
            },
        ]
    );
    assert_eq!(h.core.tick_number(), 3);
    assert_eq!(h.core.step_number(), 9);
}

#[test]
fn with_sub_steps_an_input_applies_at_the_next_step_not_the_next_frame() {
    // Two rooms, the same steering: one gets it before step 1 of a frame,
    // the other before step 3. Both frames acknowledge it, and the one that
    // steered two steps earlier has moved further.
    let mut early = Harness::new(sub_step_settings());
    let mut late = Harness::new(sub_step_settings());
    for h in [&mut early, &mut late] {
        h.join(1, None).expect("joins");
        h.steps(3);
        h.read(1);
    }
    early.input(1, 1, [127, 0]);
    early.steps(3);
    late.steps(2);
    late.input(1, 1, [127, 0]);
    late.step();
    for h in [&mut early, &mut late] {
        h.read(1);
    }
    let (a, b) = (
        early.view(1).players[0].clone(),
        late.view(1).players[0].clone(),
    );
    assert_eq!((early.ack(1), late.ack(1)), (1, 1));
    assert_eq!(early.frame(1).tick, 2);
    assert!(
        a.pos.x > b.pos.x,
        "steered two steps earlier, so further along: {a:?} vs {b:?}"
    );
}
