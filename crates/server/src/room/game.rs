//! [`Game`]: the part of a room that decides what its frames say, and so the
//! part a recording must capture: the simulation, each player's display
//! name, newest input sequence number and pending steering, and the building
//! of the canonical [`Frame`] every tick. Connections, sessions, resume
//! grace, baselines and flow control live in [`super::core`] and change only
//! how frames are delivered, never what they contain.
//!
//! A live room drives a `Game` through [`RoomCore`](super::core::RoomCore);
//! when recording, every call that changes the game is written into the
//! tick's [`TickRecord`] as it happens. A replay drives a fresh `Game` with
//! the same record through [`Game::replay_tick`], which makes the same calls
//! in the same order, so both run the one code path that builds frames.
//! Sans-IO: no clock, no socket, no randomness but the simulation's seeded
//! generator.

use std::collections::BTreeMap;

use tickroom_protocol::{
    self as proto, quant,
    record::{AppliedInput, RoomEvent, TickRecord},
    replica::{self, Frame},
};
use tickroom_sim::{PelletView, PlayerId, PlayerView, Room as Sim, SimConfig, Vec2};

/// One player's part of the game.
#[derive(Debug)]
struct Seat {
    name: String,
    /// Newest input sequence number received (frames carry it).
    last_seq: u32,
    /// `last_seq` as of the last recorded input (recordings store advances).
    recorded_seq: u32,
    /// Steering to apply at the next step.
    steer: Option<[i8; 2]>,
}

/// Why a player's entity leaves the game.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// It left on purpose or was thrown out.
    Left,
    /// Its resume grace ran out.
    Expired,
}

/// Where a replayed tick parted from its record before any frame was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventMismatch {
    /// The replayed join got another player id than the recorded one.
    #[error("player {recorded} joined, but the replay gave the joiner id {replayed:?}")]
    JoinId {
        /// The id in the record.
        recorded: u32,
        /// The id the replay assigned (`None`: it could not join).
        replayed: Option<u32>,
    },
    /// The record joins more players than the room's capacity.
    #[error("the record brings the room past its capacity of {0} players")]
    OverCapacity(u32),
    /// An event or input names a player the replayed room does not have.
    #[error("the record names player {0}, who is not in the replayed room")]
    UnknownPlayer(u32),
}

/// The simulation plus what frames say about players (see the module docs).
#[derive(Debug)]
pub struct Game {
    sim: Sim,
    /// Simulation steps per frame (`--sim-rate` ÷ `--tick-rate`).
    steps_per_frame: u32,
    seats: BTreeMap<u32, Seat>,
    next_player_id: u32,
    roster_dirty: bool,
    /// The tick being recorded (events so far), when recording.
    record: Option<TickRecord>,
    /// A finished tick's record, until taken.
    finished: Option<TickRecord>,
    // Scratch reused every tick.
    step_inputs: Vec<(PlayerId, Vec2)>,
    player_views: Vec<PlayerView>,
    pellet_views: Vec<PelletView>,
}

impl Game {
    /// A new game on `sim`'s rules (`tick_rate_hz` is the step rate), a
    /// frame every `steps_per_frame` steps; `recording` keeps a
    /// [`TickRecord`] of every step.
    pub fn new(sim: SimConfig, recording: bool, steps_per_frame: u32) -> Game {
        Game {
            sim: Sim::new(sim),
            steps_per_frame: steps_per_frame.max(1),
            seats: BTreeMap::new(),
            next_player_id: 1,
            roster_dirty: true,
            record: recording.then(TickRecord::default),
            finished: None,
            step_inputs: Vec::new(),
            player_views: Vec::new(),
            pellet_views: Vec::new(),
        }
    }

    /// The newest frame's tick (0 before the first): steps ÷ steps per frame.
    pub fn tick_number(&self) -> u32 {
        (self.sim.tick() / u64::from(self.steps_per_frame)) as u32
    }

    /// Simulation steps so far.
    pub fn step_number(&self) -> u64 {
        self.sim.tick()
    }

    /// Frames per second (the step rate ÷ steps per frame).
    pub fn frame_rate(&self) -> u32 {
        (self.sim.config().tick_rate_hz / self.steps_per_frame).max(1)
    }

    /// Simulation steps per frame.
    pub fn steps_per_frame(&self) -> u32 {
        self.steps_per_frame
    }

    /// Players in the game.
    pub fn player_count(&self) -> usize {
        self.seats.len()
    }

    /// Whether `id` is in the game.
    pub fn has(&self, id: u32) -> bool {
        self.seats.contains_key(&id)
    }

    /// The simulation's rules.
    pub fn config(&self) -> &SimConfig {
        self.sim.config()
    }

    /// Whether ticks are recorded.
    pub fn is_recording(&self) -> bool {
        self.record.is_some()
    }

    /// Stops recording for good.
    pub fn stop_recording(&mut self) {
        self.record = None;
        self.finished = None;
    }

    /// A new player (its entity spawned); an empty `name` becomes
    /// `player-<id>`. `None` if the simulation refused the id (a bug).
    pub fn join(&mut self, name: String) -> Option<u32> {
        let id = self.next_player_id;
        if !self.sim.add_player(PlayerId(id)) {
            return None;
        }
        self.next_player_id = self.next_player_id.wrapping_add(1).max(1);
        let name = if name.is_empty() {
            format!("player-{id}")
        } else {
            name
        };
        self.note(|| RoomEvent::Joined {
            player: id,
            name: name.clone(),
        });
        self.seats.insert(
            id,
            Seat {
                name,
                last_seq: 0,
                recorded_seq: 0,
                steer: None,
            },
        );
        self.roster_dirty = true;
        Some(id)
    }

    /// A disconnected player was taken back (nothing in the game changes;
    /// recorded for the story).
    pub fn resumed(&mut self, id: u32) {
        if self.has(id) {
            self.note(|| RoomEvent::Resumed { player: id });
        }
    }

    /// A player's connection dropped: it coasts to a stop while it waits.
    pub fn disconnected(&mut self, id: u32) {
        if let Some(seat) = self.seats.get_mut(&id) {
            seat.steer = Some([0, 0]);
            self.note(|| RoomEvent::Disconnected { player: id });
        }
    }

    /// Removes a player's entity; `false` if it was not in the game.
    pub fn remove(&mut self, id: u32, why: Removal) -> bool {
        if self.seats.remove(&id).is_none() {
            return false;
        }
        self.sim.remove_player(PlayerId(id));
        self.roster_dirty = true;
        self.note(|| match why {
            Removal::Left => RoomEvent::Left { player: id },
            Removal::Expired => RoomEvent::Expired { player: id },
        });
        true
    }

    /// An input for the next step: the newest sequence number becomes the
    /// player's acknowledgement, the newest steering wins.
    pub fn input(&mut self, id: u32, seq: u32, steer: [i8; 2]) {
        if let Some(seat) = self.seats.get_mut(&id) {
            seat.last_seq = seat.last_seq.max(seq);
            seat.steer = Some(steer);
        }
    }

    /// Applies the pending inputs and steps the simulation once; on every
    /// `steps_per_frame`-th step returns the frame, made canonical against
    /// `prev` (the previous frame, whose roster it may take over). When
    /// recording, the step's record is then ready in [`Game::take_record`].
    pub fn step(&mut self, prev: Option<&mut Frame>) -> Option<Frame> {
        self.step_inputs.clear();
        for (&id, seat) in &mut self.seats {
            if let Some(steer) = seat.steer.take() {
                let (x, y) = quant::steer_from_wire(steer);
                self.step_inputs.push((PlayerId(id), Vec2::new(x, y)));
                if let Some(record) = &mut self.record {
                    record.inputs.push(AppliedInput {
                        player: id,
                        seq_advance: seat.last_seq.wrapping_sub(seat.recorded_seq),
                        steer,
                    });
                    seat.recorded_seq = seat.last_seq;
                }
            }
        }
        self.sim.step(&self.step_inputs);
        let frame = self
            .sim
            .tick()
            .is_multiple_of(u64::from(self.steps_per_frame))
            .then(|| self.build_frame(prev));
        if let Some(record) = &mut self.record {
            // The next tick's record starts with room for this one's inputs.
            let next = TickRecord {
                inputs: Vec::with_capacity(record.inputs.len()),
                ..TickRecord::default()
            };
            let mut done = std::mem::replace(record, next);
            done.tick = self.sim.tick() as u32;
            done.checksum = frame.as_ref().map(Frame::checksum);
            self.finished = Some(done);
        }
        frame
    }

    /// The record of the tick just stepped, once.
    pub fn take_record(&mut self) -> Option<TickRecord> {
        self.finished.take()
    }

    /// Replays one recorded step: its events, then its inputs, then the
    /// step. Returns the frame when the step built one (compare its checksum
    /// with the record's), or where the events disagree with this game.
    pub fn replay_tick(
        &mut self,
        record: &TickRecord,
        prev: Option<&mut Frame>,
    ) -> Result<Option<Frame>, EventMismatch> {
        for event in &record.events {
            match event {
                RoomEvent::Joined { player, name } => {
                    let replayed = self.join(name.clone());
                    if replayed != Some(*player) {
                        return Err(EventMismatch::JoinId {
                            recorded: *player,
                            replayed,
                        });
                    }
                }
                RoomEvent::Resumed { player } => {
                    if !self.has(*player) {
                        return Err(EventMismatch::UnknownPlayer(*player));
                    }
                    self.resumed(*player);
                }
                RoomEvent::Disconnected { player } => {
                    if !self.has(*player) {
                        return Err(EventMismatch::UnknownPlayer(*player));
                    }
                    self.disconnected(*player);
                }
                RoomEvent::Left { player } => {
                    if !self.remove(*player, Removal::Left) {
                        return Err(EventMismatch::UnknownPlayer(*player));
                    }
                }
                RoomEvent::Expired { player } => {
                    if !self.remove(*player, Removal::Expired) {
                        return Err(EventMismatch::UnknownPlayer(*player));
                    }
                }
            }
        }
        // Exactly the recorded steering applies (a disconnect's release is
        // among the inputs when it applied).
        for seat in self.seats.values_mut() {
            seat.steer = None;
        }
        for input in &record.inputs {
            let Some(seat) = self.seats.get_mut(&input.player) else {
                return Err(EventMismatch::UnknownPlayer(input.player));
            };
            seat.last_seq = seat.last_seq.wrapping_add(input.seq_advance);
            seat.steer = Some(input.steer);
        }
        Ok(self.step(prev))
    }

    /// This tick's frame, canonical against the previous one.
    fn build_frame(&mut self, mut prev: Option<&mut Frame>) -> Frame {
        self.sim.read_players(&mut self.player_views);
        let players = self
            .player_views
            .iter()
            .map(|v| player_to_wire(v, self.seats.get(&v.id.0).map_or(0, |s| s.last_seq)))
            .collect();
        let pellets = match &prev {
            Some(prev) if !self.sim.pellets_changed() => prev.pellets.clone(),
            _ => {
                self.sim.read_pellets(&mut self.pellet_views);
                self.pellet_views.iter().map(pellet_to_wire).collect()
            }
        };
        // Only the newest frame keeps names (full snapshots and joins need them).
        let roster = match &mut prev {
            Some(prev) if !self.roster_dirty && !prev.roster.is_empty() => {
                std::mem::take(&mut prev.roster)
            }
            _ => self
                .seats
                .iter()
                .map(|(&id, s)| proto::PlayerInfo {
                    id,
                    name: s.name.clone(),
                })
                .collect(),
        };
        self.roster_dirty = false;
        let mut frame = Frame {
            tick: self.tick_number(),
            players,
            pellets,
            roster,
        };
        if let Some(prev) = prev {
            replica::settle_velocities(prev, &mut frame, self.frame_rate() as u16);
        }
        frame
    }

    /// Notes an event in the tick being recorded.
    fn note(&mut self, event: impl FnOnce() -> RoomEvent) {
        if let Some(record) = &mut self.record {
            record.events.push(event());
        }
    }
}

/// A simulated player as the wire carries it (quantized).
pub fn player_to_wire(p: &PlayerView, last_input_seq: u32) -> proto::PlayerState {
    proto::PlayerState {
        id: p.id.0,
        pos: [quant::pos_to_wire(p.pos.x), quant::pos_to_wire(p.pos.y)],
        vel: [quant::vel_to_wire(p.vel.x), quant::vel_to_wire(p.vel.y)],
        score: p.score,
        last_input_seq,
    }
}

/// A live pellet as the wire carries it (quantized).
pub fn pellet_to_wire(p: &PelletView) -> proto::Pellet {
    proto::Pellet {
        id: p.id,
        pos: [quant::pos_to_wire(p.pos.x), quant::pos_to_wire(p.pos.y)],
    }
}

/// The protocol's view of the simulation's rules, for clients' prediction.
pub fn arena_of(c: &SimConfig) -> proto::Arena {
    proto::Arena {
        width: c.width,
        height: c.height,
        player_radius: c.player_radius,
        pellet_radius: c.pellet_radius,
        accel: c.accel,
        max_speed: c.max_speed,
        friction: c.friction,
    }
}
