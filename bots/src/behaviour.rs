//! What a bot does: how it steers and how it treats its connection.
//!
//! Every behaviour is plain code in this one file: a [`BehaviourKind`] (the
//! name used by `--behaviour` and `--mix`, and the key figures are reported
//! under) and a [`Behaviour`] holding the bot's steering state and RNG. To add
//! one: add a variant to [`BehaviourKind`] (and to `ALL`/`name`), then a match
//! arm in [`Behaviour::steer`] and in whichever connection knobs it changes
//! ([`Behaviour::read_interval`], [`Behaviour::session_lifetime`], ...).

use std::{fmt, str::FromStr, time::Duration};

use tickroom_protocol::quant::steer_to_wire;

use crate::{Error, Rng};

/// The behaviours a bot can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BehaviourKind {
    /// Steers in a smoothly changing random direction, turning back from walls.
    Wander,
    /// Steers toward the nearest pellet of the latest pellet list.
    Chase,
    /// Stays connected and sends zero-steer inputs (a player who went AFK
    /// with the tab open).
    Idle,
    /// Wanders, but reads at most ~3 WebSocket messages per second with a
    /// small receive buffer, so TCP backs up and the server must cope.
    SlowReader,
    /// Wanders for a random few seconds, leaves, and reconnects.
    Churn,
}

impl BehaviourKind {
    /// Every behaviour, in report order.
    pub const ALL: [BehaviourKind; 5] = [
        BehaviourKind::Wander,
        BehaviourKind::Chase,
        BehaviourKind::Idle,
        BehaviourKind::SlowReader,
        BehaviourKind::Churn,
    ];

    /// Number of behaviours (length of [`Self::ALL`]).
    pub const COUNT: usize = Self::ALL.len();

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            BehaviourKind::Wander => "wander",
            BehaviourKind::Chase => "chase",
            BehaviourKind::Idle => "idle",
            BehaviourKind::SlowReader => "slow-reader",
            BehaviourKind::Churn => "churn",
        }
    }

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Slow readers are reported apart: they are meant to see gaps.
    pub fn is_slow_reader(self) -> bool {
        self == BehaviourKind::SlowReader
    }
}

impl fmt::Display for BehaviourKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BehaviourKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        BehaviourKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s) || k.name().replace('-', "_") == s)
            .ok_or_else(|| {
                let names: Vec<_> = BehaviourKind::ALL.iter().map(|k| k.name()).collect();
                Error::parse(
                    "behaviour",
                    s,
                    format!("expected one of {}", names.join(", ")),
                )
            })
    }
}

/// What a bot knows when it steers, in world units (updated from snapshots).
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Own position, once a snapshot containing this bot has arrived.
    pub me: Option<[f32; 2]>,
    /// Own velocity.
    pub vel: [f32; 2],
    /// Arena size (from the Welcome).
    pub arena: [f32; 2],
    /// Latest pellet positions (kept only for behaviours that want them).
    pub pellets: Vec<[f32; 2]>,
}

/// One bot's behaviour and steering state.
#[derive(Debug, Clone)]
pub struct Behaviour {
    kind: BehaviourKind,
    rng: Rng,
    /// Current heading in radians.
    heading: f32,
    /// Current turn rate in radians per second (a random walk).
    turn: f32,
    /// Seconds between two `steer` calls.
    dt: f32,
}

/// How often a slow reader wakes up and reads everything its socket holds.
const SLOW_READ_INTERVAL: Duration = Duration::from_millis(333);
/// Receive buffer a slow reader asks the kernel for, so backpressure reaches
/// the server within seconds instead of after megabytes.
const SLOW_RECV_BUFFER: u32 = 2048;
/// How long a churning bot stays connected, in milliseconds.
const CHURN_LIFETIME_MS: (u64, u64) = (1_500, 6_000);
/// Largest turn rate of a wandering bot, radians per second.
const MAX_TURN: f32 = 2.5;

impl Behaviour {
    /// A behaviour of `kind` with its own RNG, steering `input_hz` times a second.
    pub fn new(kind: BehaviourKind, seed: u64, input_hz: u32) -> Self {
        let mut rng = Rng::new(seed);
        let heading = rng.range_f32(-std::f32::consts::PI, std::f32::consts::PI);
        Behaviour {
            kind,
            rng,
            heading,
            turn: 0.0,
            dt: 1.0 / input_hz.max(1) as f32,
        }
    }

    /// Which behaviour this is.
    pub fn kind(&self) -> BehaviourKind {
        self.kind
    }

    /// The next steering input.
    pub fn steer(&mut self, view: &View) -> [i8; 2] {
        match self.kind {
            BehaviourKind::Idle => [0, 0],
            BehaviourKind::Chase => match nearest(view) {
                Some([dx, dy]) => steer_to_wire(dx, dy),
                None => self.wander(view),
            },
            BehaviourKind::Wander | BehaviourKind::SlowReader | BehaviourKind::Churn => {
                self.wander(view)
            }
        }
    }

    /// Whether the bot sends inputs at all. Every kind does, at `--input-hz`
    /// (at least 1 a second), idle bots too ([0, 0]): that is what keeps a
    /// connection alive under the server's `--idle-timeout` (a bot answers
    /// the server's pings only when it reads).
    pub fn sends_inputs(&self) -> bool {
        true
    }

    /// Whether the bot keeps the pellet list (costs memory and decode work).
    pub fn wants_pellets(&self) -> bool {
        self.kind == BehaviourKind::Chase
    }

    /// Minimum time between two reads from the socket (`None`: read at once).
    pub fn read_interval(&self) -> Option<Duration> {
        (self.kind == BehaviourKind::SlowReader).then_some(SLOW_READ_INTERVAL)
    }

    /// Kernel receive buffer to request before connecting (`None`: default).
    pub fn recv_buffer(&self) -> Option<u32> {
        (self.kind == BehaviourKind::SlowReader).then_some(SLOW_RECV_BUFFER)
    }

    /// How long the next connection should last before the bot leaves on
    /// its own (`None`: until the run ends).
    pub fn session_lifetime(&mut self) -> Option<Duration> {
        (self.kind == BehaviourKind::Churn).then(|| {
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

    fn wander(&mut self, view: &View) -> [i8; 2] {
        let dt = self.dt;
        self.turn =
            (self.turn + self.rng.range_f32(-1.0, 1.0) * 6.0 * dt).clamp(-MAX_TURN, MAX_TURN);
        self.heading += self.turn * dt;
        // Near a wall, turn toward the centre instead of grinding along it.
        if let Some([x, y]) = view.me {
            let [w, h] = view.arena;
            let margin = 0.1 * w.min(h);
            if w > 0.0 && h > 0.0 && (x < margin || y < margin || x > w - margin || y > h - margin)
            {
                let to_centre = (h / 2.0 - y).atan2(w / 2.0 - x);
                let diff = wrap_angle(to_centre - self.heading);
                self.heading += diff * (4.0 * dt).min(1.0);
            }
        }
        self.heading = wrap_angle(self.heading);
        steer_to_wire(self.heading.cos(), self.heading.sin())
    }
}

/// Direction (not normalised) from own position to the nearest pellet.
fn nearest(view: &View) -> Option<[f32; 2]> {
    let [x, y] = view.me?;
    view.pellets
        .iter()
        .map(|&[px, py]| [px - x, py - y])
        .min_by(|a, b| (a[0] * a[0] + a[1] * a[1]).total_cmp(&(b[0] * b[0] + b[1] * b[1])))
}

/// An angle folded into `[-π, π)`.
fn wrap_angle(a: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    (a + PI).rem_euclid(TAU) - PI
}

#[cfg(test)]
mod tests {
    use super::*;

    fn angle(s: [i8; 2]) -> f32 {
        (s[1] as f32).atan2(s[0] as f32)
    }

    #[test]
    fn names_round_trip() {
        for kind in BehaviourKind::ALL {
            assert_eq!(kind.name().parse::<BehaviourKind>().unwrap(), kind);
            assert_eq!(BehaviourKind::ALL[kind.index()], kind);
        }
        assert_eq!(
            "slow_reader".parse::<BehaviourKind>().unwrap(),
            BehaviourKind::SlowReader
        );
        assert!("sprint".parse::<BehaviourKind>().is_err());
    }

    #[test]
    fn idle_sends_zero_steer() {
        let mut b = Behaviour::new(BehaviourKind::Idle, 1, 30);
        assert_eq!(b.steer(&View::default()), [0, 0]);
    }

    #[test]
    fn chase_steers_toward_the_nearest_pellet() {
        let mut b = Behaviour::new(BehaviourKind::Chase, 1, 30);
        let view = View {
            me: Some([100.0, 100.0]),
            arena: [1000.0, 1000.0],
            pellets: vec![[500.0, 500.0], [100.0, 40.0], [300.0, 100.0]],
            ..View::default()
        };
        assert_eq!(b.steer(&view), [0, -127]);
    }

    #[test]
    fn wander_turns_smoothly_at_full_deflection() {
        let mut b = Behaviour::new(BehaviourKind::Wander, 42, 30);
        let view = View {
            me: Some([500.0, 500.0]),
            arena: [1000.0, 1000.0],
            ..View::default()
        };
        let mut prev = b.steer(&view);
        let mut total_turn = 0.0;
        for _ in 0..300 {
            let s = b.steer(&view);
            let len = ((s[0] as f32).powi(2) + (s[1] as f32).powi(2)).sqrt();
            assert!((len - 127.0).abs() < 2.0, "{s:?}");
            let d = wrap_angle(angle(s) - angle(prev)).abs();
            assert!(d < 0.2, "jumped {d} rad in one input");
            total_turn += d;
            prev = s;
        }
        assert!(total_turn > 0.1, "never turned");
    }

    #[test]
    fn wander_turns_away_from_walls() {
        let mut b = Behaviour::new(BehaviourKind::Wander, 3, 30);
        // Heading straight into the left wall.
        b.heading = std::f32::consts::PI;
        let view = View {
            me: Some([5.0, 500.0]),
            arena: [1000.0, 1000.0],
            ..View::default()
        };
        for _ in 0..60 {
            b.steer(&view);
        }
        assert!(b.steer(&view)[0] > 0, "still steering into the wall");
    }

    #[test]
    fn connection_knobs_by_kind() {
        let mut slow = Behaviour::new(BehaviourKind::SlowReader, 1, 30);
        assert!(slow.read_interval().is_some() && slow.recv_buffer().is_some());
        assert!(slow.session_lifetime().is_none());
        let mut churn = Behaviour::new(BehaviourKind::Churn, 1, 30);
        let life = churn.session_lifetime().unwrap();
        assert!(life >= Duration::from_millis(1_500) && life < Duration::from_secs(6));
        assert!(churn.read_interval().is_none());
        assert!(Behaviour::new(BehaviourKind::Chase, 1, 30).wants_pellets());
    }

    #[test]
    fn every_kind_sends_inputs_so_the_server_hears_from_it() {
        for kind in BehaviourKind::ALL {
            assert!(Behaviour::new(kind, 1, 1).sends_inputs(), "{kind}");
        }
    }
}
