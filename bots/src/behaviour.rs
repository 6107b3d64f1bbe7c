//! What a bot does: how it plays its room's game and how it treats its
//! connection. The two are apart so the swarm never needs to know a game:
//!
//! - **Play** ([`Play`]) is game code: given a [`View`] of the newest frame
//!   (the bot's [`tickroom_protocol::state::Replica`]), it returns the next
//!   input's bytes. A game's own behaviours live in its module of
//!   [`crate::games`]; `random` and `idle` play any game from its schema
//!   alone.
//! - **Connection** ([`Connection`]) is the swarm's: a steady player, a slow
//!   reader (reads in bursts with a small receive buffer), a churner (drops
//!   its connection now and then and resumes).
//!
//! A [`BehaviourKind`] is one name of `--behaviour`/`--mix` resolved for the
//! run's game ([`crate::games::resolve`]): `slow-reader` and `churn` are
//! connections that play the game's default behaviour; every other name is
//! a steady connection with that play. Figures are reported per name.
//! Nothing in this file names a game.

use std::{fmt, time::Duration};

use tickroom_protocol::state::{EntityRef, Frame, Schema};

use crate::Rng;

/// How a bot treats its connection, whatever the game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Connection {
    /// Reads everything at once, stays until the run ends.
    Steady,
    /// Reads at most ~3 times per second with a small receive buffer, so TCP
    /// backs up and the server must cope.
    SlowReader,
    /// Leaves after a random few seconds (dropping TCP without a `Leave`, a
    /// network blip) and comes back with its resume token.
    Churn,
}

/// What a play behaviour sees when it picks the next input.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The room's game schema (from the Welcome).
    pub schema: &'a Schema,
    /// The newest frame, once one arrived.
    pub frame: Option<&'a Frame>,
    /// This bot's player id (its entity's `player` component carries it).
    pub player_id: u32,
}

impl<'a> View<'a> {
    /// This bot's own entity in the frame: the one whose `player` component
    /// (the engine's, on every player's entity; its first field is the
    /// player id) carries [`Self::player_id`]. `hint` is the entity found
    /// last time, looked up first and kept up to date, so the search runs
    /// only when the entity changed.
    pub fn me(&self, hint: &mut Option<u32>) -> Option<EntityRef<'a>> {
        let frame = self.frame?;
        let player = self.schema.component_id("player")?;
        let id = i64::from(self.player_id);
        let is_me = |e: &EntityRef<'_>| e.get(player).and_then(|p| p.int(0)) == Some(id);
        if let Some(e) = hint.and_then(|h| frame.get(h)).filter(is_me) {
            return Some(e);
        }
        let e = frame.entities().find(is_me)?;
        *hint = Some(e.id());
        Some(e)
    }
}

/// How a bot plays one game: frames in, inputs out.
///
/// One value per bot, made by a [`NewPlay`] with the bot's own RNG; it
/// lives across the bot's connections. Must never block: it runs on the
/// bot's task between two WebSocket reads.
pub trait Play: Send + Sync + fmt::Debug {
    /// A connection was welcomed into a room with `schema` and `config` (the
    /// Welcome's JSON). `Err(reason)` refuses the room (a game this play
    /// cannot read): the bot closes the connection and counts a connect
    /// error with that short reason key.
    fn start(&mut self, schema: &Schema, config: &str) -> Result<(), &'static str> {
        let _ = (schema, config);
        Ok(())
    }

    /// The next input's `data` (the game's input, encoded with the
    /// schema's input layout); `None` sends nothing this time. Called at
    /// `--input-hz`.
    fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>>;
}

/// Makes one bot's [`Play`] from its RNG and its input rate.
pub type NewPlay = fn(Rng, u32) -> Box<dyn Play>;

/// One behaviour of a run: a `--mix` name resolved for the run's game (see
/// the module docs and [`crate::games::resolve`]).
#[derive(Debug, Clone, Copy)]
pub struct BehaviourKind {
    name: &'static str,
    /// Place in the run's list of behaviours (its figures' slot).
    index: usize,
    connection: Connection,
    play: NewPlay,
}

impl PartialEq for BehaviourKind {
    fn eq(&self, other: &Self) -> bool {
        (self.name, self.index, self.connection) == (other.name, other.index, other.connection)
    }
}

impl Eq for BehaviourKind {}

impl BehaviourKind {
    /// A behaviour called `name`, the `index`th of its run.
    pub fn new(name: &'static str, index: usize, connection: Connection, play: NewPlay) -> Self {
        Self {
            name,
            index,
            connection,
            play,
        }
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// Place in the run's list of behaviours.
    pub fn index(self) -> usize {
        self.index
    }

    /// How it treats its connection.
    pub fn connection(self) -> Connection {
        self.connection
    }

    /// Slow readers are reported apart: they are meant to see gaps.
    pub fn is_slow_reader(self) -> bool {
        self.connection == Connection::SlowReader
    }
}

impl fmt::Display for BehaviourKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// One bot's behaviour: its play and its connection knobs.
#[derive(Debug)]
pub struct Behaviour {
    kind: BehaviourKind,
    /// For the connection's timing (phases, jitter, lifetimes); the play
    /// has its own.
    rng: Rng,
    play: Box<dyn Play>,
}

/// How often a slow reader wakes up and reads everything its socket holds.
const SLOW_READ_INTERVAL: Duration = Duration::from_millis(333);
/// Receive buffer a slow reader asks the kernel for, so backpressure reaches
/// the server within seconds instead of after megabytes.
const SLOW_RECV_BUFFER: u32 = 2048;
/// Mixed into a bot's seed for its play's RNG (the connection's RNG takes
/// the seed as it is).
const PLAY_SEED_SALT: u64 = 0x9A7E_5EED;
/// How long a churning bot stays connected, in milliseconds.
const CHURN_LIFETIME_MS: (u64, u64) = (1_500, 6_000);

impl Behaviour {
    /// A behaviour of `kind` with RNGs from `seed`, sending `input_hz`
    /// inputs a second.
    pub fn new(kind: BehaviourKind, seed: u64, input_hz: u32) -> Self {
        let play = (kind.play)(Rng::new(seed ^ PLAY_SEED_SALT), input_hz.max(1));
        Behaviour {
            kind,
            rng: Rng::new(seed),
            play,
        }
    }

    /// Which behaviour this is.
    pub fn kind(&self) -> BehaviourKind {
        self.kind
    }

    /// See [`Play::start`].
    pub fn start(&mut self, schema: &Schema, config: &str) -> Result<(), &'static str> {
        self.play.start(schema, config)
    }

    /// The next input's data (see [`Play::input`]). Every behaviour of the
    /// swarm sends inputs at `--input-hz`, idle ones too (the game's zero
    /// input): that is what keeps a connection alive under the server's
    /// `--idle-timeout`.
    pub fn input(&mut self, view: &View<'_>) -> Option<Vec<u8>> {
        self.play.input(view)
    }

    /// Minimum time between two reads from the socket (`None`: read at once).
    pub fn read_interval(&self) -> Option<Duration> {
        (self.kind.connection == Connection::SlowReader).then_some(SLOW_READ_INTERVAL)
    }

    /// Kernel receive buffer to request before connecting (`None`: default).
    pub fn recv_buffer(&self) -> Option<u32> {
        (self.kind.connection == Connection::SlowReader).then_some(SLOW_RECV_BUFFER)
    }

    /// How long the next connection should last before the bot leaves on
    /// its own (`None`: until the run ends).
    pub fn session_lifetime(&mut self) -> Option<Duration> {
        (self.kind.connection == Connection::Churn).then(|| {
            Duration::from_millis(self.rng.range_u64(CHURN_LIFETIME_MS.0, CHURN_LIFETIME_MS.1))
        })
    }

    /// A random pause before the bot reconnects after churning, so churners
    /// do not reconnect in lockstep.
    pub fn reconnect_pause(&mut self) -> Duration {
        Duration::from_millis(self.rng.range_u64(100, 1_000))
    }

    /// A value in `[0, 1)` from the bot's RNG (for timer phases, backoff jitter).
    pub fn jitter(&mut self) -> f32 {
        self.rng.f32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::resolve;

    #[test]
    fn connection_knobs_by_kind() {
        let kind = |name| resolve("test-game", name, 0).unwrap();
        let mut slow = Behaviour::new(kind("slow-reader"), 1, 30);
        assert!(slow.read_interval().is_some() && slow.recv_buffer().is_some());
        assert!(slow.session_lifetime().is_none());
        assert!(slow.kind().is_slow_reader());
        let mut churn = Behaviour::new(kind("churn"), 1, 30);
        let life = churn.session_lifetime().unwrap();
        assert!(life >= Duration::from_millis(1_500) && life < Duration::from_secs(6));
        assert!(churn.read_interval().is_none());
        for name in ["idle", "random"] {
            let mut b = Behaviour::new(kind(name), 1, 30);
            assert_eq!(b.kind().connection(), Connection::Steady, "{name}");
            assert!(b.read_interval().is_none() && b.session_lifetime().is_none());
        }
    }
}
