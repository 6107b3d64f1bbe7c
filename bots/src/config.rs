//! What a swarm run is asked to do: [`SwarmConfig`] (a plain struct, what the
//! CLI's arguments turn into and what tests build directly), the room
//! placement, the behaviour mix, and [`SwarmConfig::plan`], which resolves
//! the mix for the run's game and expands all of it into one [`BotPlan`]
//! per bot.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use crate::{BehaviourKind, Error, games, rng::splitmix64};

/// Everything a swarm run needs. `Default` gives a 50-bot, one-room run of
/// [`games::DEFAULT_GAME`]'s default behaviour against
/// `http://127.0.0.1:8080` until shutdown.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// Base URL of the server (`http://host:port`); see [`crate::url::Target`].
    pub url: String,
    /// The game the bots play: rooms they create on join are of this game
    /// (`/ws?game=`), and a room of another game is a connect error.
    pub game: String,
    /// How many bots, in which rooms.
    pub placement: Placement,
    /// Room ids are `{room_prefix}-{n}`.
    pub room_prefix: String,
    /// When set, each room is created before its bots join, through the
    /// room API (`POST /rooms` with this `config`, the game, and the room's
    /// bot count as its capacity), instead of by the first bot's join with
    /// the game's defaults.
    pub room_config: Option<serde_json::Value>,
    /// Bot names are `{name_prefix}-{n}` (at most 24 bytes in total).
    pub name_prefix: String,
    /// New connections per second while the swarm ramps up.
    pub ramp_per_sec: f64,
    /// Inputs per second per bot (1..=60: the server allows about 60).
    pub input_hz: u32,
    /// Which behaviours, in which proportions; empty ([`Mix::default`]):
    /// the game's default behaviour ([`games::default_play`]).
    pub mix: Mix,
    /// How long to run; `None` runs until the shutdown future completes.
    pub duration: Option<Duration>,
    /// Seed for every bot's RNG (bot `n` gets a seed derived from it and `n`).
    pub seed: u64,
    /// Print a live one-line progress display on stderr once per second.
    pub progress: bool,
    /// Reconnect (with backoff) after the server closes a connection or a
    /// connect attempt fails, instead of ending the bot.
    pub reconnect: bool,
    /// Limit for TCP connect + WebSocket handshake + Welcome.
    pub connect_timeout: Duration,
    /// How long a bot waits for the server's close reply at the end of a run.
    pub close_timeout: Duration,
    /// When set, figures gathered before this point in the run (ramp-up and
    /// warm-up) are discarded, and the report covers only the rest: the
    /// steady-state window the bench harness measures.
    pub measure_after: Option<Duration>,
    /// Pause between two wake-ups of a `slow-reader` bot, each of which reads
    /// everything its socket holds (default 333 ms).
    pub slow_read_interval: Duration,
    /// PEM file of certificates to trust for `https://`/`wss://` servers besides the
    /// webpki roots (a private CA or a self-signed test server's certificate).
    pub tls_ca: Option<std::path::PathBuf>,
    /// Where the bots' measurements are also recorded as Prometheus metrics
    /// (served by [`crate::exporter::serve`], `--metrics-addr`).
    pub metrics: Option<Arc<crate::exporter::BotMetrics>>,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            url: "http://127.0.0.1:8080".to_owned(),
            game: games::DEFAULT_GAME.to_owned(),
            placement: Placement::Fill {
                bots: 50,
                per_room: 50,
            },
            room_prefix: "bots".to_owned(),
            room_config: None,
            name_prefix: "bot".to_owned(),
            ramp_per_sec: 200.0,
            input_hz: 30,
            mix: Mix::default(),
            duration: None,
            seed: 1,
            progress: false,
            reconnect: true,
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(1),
            measure_after: None,
            slow_read_interval: Duration::from_millis(333),
            tls_ca: None,
            metrics: None,
        }
    }
}

/// How bots are spread over rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// `bots` bots filling rooms of `per_room` in order (the last room may be
    /// partly filled).
    Fill {
        /// Total number of bots.
        bots: usize,
        /// Bots per room.
        per_room: usize,
    },
    /// Exactly `rooms` rooms of `per_room` bots each.
    Rooms {
        /// Number of rooms.
        rooms: usize,
        /// Bots per room.
        per_room: usize,
    },
}

impl Placement {
    /// Number of bots in each room, in room order.
    pub fn room_sizes(&self) -> Vec<usize> {
        match *self {
            Placement::Fill { bots, per_room } => {
                let per_room = per_room.max(1);
                let mut sizes = vec![per_room; bots / per_room];
                if bots % per_room > 0 {
                    sizes.push(bots % per_room);
                }
                sizes
            }
            Placement::Rooms { rooms, per_room } => vec![per_room; rooms],
        }
    }

    /// Total number of bots.
    pub fn total_bots(&self) -> usize {
        self.room_sizes().iter().sum()
    }
}

/// Behaviours and their weights, e.g. `wander=80,chase=10,slow-reader=5,churn=5`.
/// Names are checked against the run's game when it starts
/// ([`SwarmConfig::kinds`]); the empty mix ([`Mix::default`]) is the game's
/// default behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mix {
    /// Canonical names ([`games::normalize`]) and weights above 0.
    entries: Vec<(String, u32)>,
}

impl Mix {
    /// Every bot has behaviour `name`.
    pub fn single(name: &str) -> Self {
        Mix {
            entries: vec![(games::normalize(name), 1)],
        }
    }

    /// The behaviours and their weights, as given.
    pub fn entries(&self) -> &[(String, u32)] {
        &self.entries
    }

    /// This mix, or for the empty one game `game`'s default behaviour.
    pub fn or_default_for(&self, game: &str) -> Mix {
        if self.entries.is_empty() {
            Mix::single(games::default_play(game).name)
        } else {
            self.clone()
        }
    }

    /// Behaviours for `n` bots (one room), as places in [`Self::entries`]:
    /// each behaviour gets its share of `n` rounded by largest remainder (so
    /// 50 bots at `wander=92,slow-reader=8` are exactly 46 + 4), interleaved
    /// so equal kinds are spread out.
    pub fn assign(&self, n: usize) -> Vec<usize> {
        let total: u64 = self.entries.iter().map(|&(_, w)| u64::from(w)).sum();
        if total == 0 || n == 0 {
            return Vec::new();
        }
        let n64 = n as u64;
        let mut counts: Vec<u64> = self
            .entries
            .iter()
            .map(|&(_, w)| n64 * u64::from(w) / total)
            .collect();
        let mut left = n64 - counts.iter().sum::<u64>();
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        // Largest fractional remainder first; ties go to the earlier entry.
        order.sort_by_key(|&i| std::cmp::Reverse(n64 * u64::from(self.entries[i].1) % total));
        for &i in order.iter().cycle() {
            if left == 0 {
                break;
            }
            counts[i] += 1;
            left -= 1;
        }
        // Smooth weighted round-robin over the exact counts.
        let mut current = vec![0i64; counts.len()];
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            for (c, &k) in current.iter_mut().zip(&counts) {
                *c += k as i64;
            }
            let pick = (0..current.len())
                .max_by_key(|&i| (current[i], std::cmp::Reverse(i)))
                .unwrap_or(0);
            current[pick] -= n as i64;
            out.push(pick);
        }
        out
    }
}

impl FromStr for Mix {
    type Err = Error;

    /// `name=weight` pairs separated by commas; a lone `name` means a
    /// weight of 1. Only the syntax is checked here: which names exist
    /// depends on the game.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut entries: Vec<(String, u32)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = match part.split_once('=') {
                Some((name, w)) => (
                    name,
                    w.trim()
                        .trim_end_matches('%')
                        .parse::<u32>()
                        .map_err(|_| Error::parse("mix", s, format!("bad weight in {part:?}")))?,
                ),
                None => (part, 1),
            };
            let name = games::normalize(name);
            let valid =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return Err(Error::parse(
                    "mix",
                    s,
                    format!("bad behaviour name in {part:?}"),
                ));
            }
            if entries.iter().any(|(k, _)| *k == name) {
                return Err(Error::parse("mix", s, format!("{name} given twice")));
            }
            if weight > 0 {
                entries.push((name, weight));
            }
        }
        if entries.is_empty() {
            return Err(Error::parse("mix", s, "no behaviour with a weight above 0"));
        }
        Ok(Mix { entries })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, w)) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={w}")?;
        }
        Ok(())
    }
}

/// One bot of the run, fully decided before it starts.
#[derive(Debug, Clone)]
pub struct BotPlan {
    /// Index in connect order (0-based).
    pub index: usize,
    /// Room id.
    pub room: Arc<str>,
    /// Display name.
    pub name: String,
    /// Behaviour.
    pub kind: BehaviourKind,
    /// Seed of this bot's RNG.
    pub seed: u64,
}

impl SwarmConfig {
    /// Checks the values a run cannot work with, and resolves the mix for
    /// the game (an unknown behaviour is an error here, before any bot starts).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(Error::InvalidConfig(m.to_owned()));
        let (rooms, per_room) = match self.placement {
            Placement::Fill { bots, per_room } => (bots, per_room),
            Placement::Rooms { rooms, per_room } => (rooms, per_room),
        };
        if rooms == 0 || per_room == 0 {
            return bad("no bots to run (bots, rooms and per-room must be above 0)");
        }
        if !(1..=60).contains(&self.input_hz) {
            return bad("input rate must be 1..=60 Hz (the server allows about 60 inputs/s)");
        }
        if !(self.ramp_per_sec.is_finite() && self.ramp_per_sec > 0.0) {
            return bad("ramp must be a positive number of connections per second");
        }
        let longest = format!("{}-{}", self.name_prefix, self.placement.total_bots());
        if longest.len() > tickroom_protocol::MAX_NAME_BYTES {
            return bad("name prefix too long: names must fit in 24 bytes");
        }
        games::check_name(&self.game)?;
        self.kinds().map(drop)
    }

    /// The run's behaviours: the mix (or the game's default) resolved for
    /// the game, in mix order (a kind's index is its place here).
    pub fn kinds(&self) -> Result<Vec<BehaviourKind>, Error> {
        self.mix
            .or_default_for(&self.game)
            .entries()
            .iter()
            .enumerate()
            .map(|(i, (name, _))| games::resolve(&self.game, name, i))
            .collect()
    }

    /// One plan per bot, in connect order: room 0 filled first, then room
    /// 1...; fails like [`Self::kinds`].
    pub fn plan(&self) -> Result<Vec<BotPlan>, Error> {
        let kinds = self.kinds()?;
        let mix = self.mix.or_default_for(&self.game);
        let mut plans = Vec::with_capacity(self.placement.total_bots());
        for (r, size) in self.placement.room_sizes().into_iter().enumerate() {
            let room: Arc<str> = format!("{}-{r}", self.room_prefix).into();
            for k in mix.assign(size) {
                let index = plans.len();
                plans.push(BotPlan {
                    index,
                    room: room.clone(),
                    name: format!("{}-{index}", self.name_prefix),
                    kind: kinds[k],
                    seed: splitmix64(self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9)),
                });
            }
        }
        Ok(plans)
    }
}

/// Parses `--room-config`: a JSON object (the game checks its fields when
/// the room is created).
pub fn parse_room_config(input: &str) -> Result<serde_json::Value, Error> {
    match serde_json::from_str(input) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::parse("room config", input, "not a JSON object")),
        Err(e) => Err(Error::parse("room config", input, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_room_config_is_a_json_object() {
        assert_eq!(
            super::parse_room_config(r#"{"view_radius": 20000}"#).unwrap(),
            serde_json::json!({"view_radius": 20000})
        );
        for bad in ["[1]", "7", "{", ""] {
            let e = super::parse_room_config(bad).unwrap_err().to_string();
            assert!(e.contains("room config"), "{bad}: {e}");
        }
    }

    use super::*;

    /// How many of the assigned bots have behaviour `name`.
    fn count(mix: &Mix, assigned: &[usize], name: &str) -> usize {
        assigned
            .iter()
            .filter(|&&i| mix.entries()[i].0 == name)
            .count()
    }

    fn entries(mix: &Mix) -> Vec<(&str, u32)> {
        mix.entries()
            .iter()
            .map(|(n, w)| (n.as_str(), *w))
            .collect()
    }

    #[test]
    fn fills_rooms_in_order() {
        let p = Placement::Fill {
            bots: 120,
            per_room: 50,
        };
        assert_eq!(p.room_sizes(), vec![50, 50, 20]);
        assert_eq!(p.total_bots(), 120);
        let p = Placement::Fill {
            bots: 100,
            per_room: 50,
        };
        assert_eq!(p.room_sizes(), vec![50, 50]);
        let p = Placement::Rooms {
            rooms: 4,
            per_room: 3,
        };
        assert_eq!(p.room_sizes(), vec![3; 4]);
        assert_eq!(p.total_bots(), 12);
    }

    #[test]
    fn plan_names_rooms_and_bots() {
        let config = SwarmConfig {
            placement: Placement::Fill {
                bots: 7,
                per_room: 3,
            },
            room_prefix: "load".into(),
            ..SwarmConfig::default()
        };
        let plan = config.plan().unwrap();
        let rooms: Vec<&str> = plan.iter().map(|p| &*p.room).collect();
        assert_eq!(
            rooms,
            [
                "load-0", "load-0", "load-0", "load-1", "load-1", "load-1", "load-2"
            ]
        );
        assert_eq!(plan[4].name, "bot-4");
        assert_eq!(plan[4].index, 4);
        let mut seeds: Vec<u64> = plan.iter().map(|p| p.seed).collect();
        seeds.dedup();
        assert_eq!(seeds.len(), 7);
        // No mix: the game's default behaviour.
        assert!(plan.iter().all(|p| p.kind.name() == "wander"));
        let cards = SwarmConfig {
            game: "cards".into(),
            ..config
        };
        assert!(
            cards
                .plan()
                .unwrap()
                .iter()
                .all(|p| p.kind.name() == "random")
        );
    }

    #[test]
    fn plan_resolves_the_mix_for_the_game() {
        let config = SwarmConfig {
            placement: Placement::Fill {
                bots: 4,
                per_room: 4,
            },
            mix: "chase=1,slow-reader=1".parse().unwrap(),
            ..SwarmConfig::default()
        };
        let kinds: Vec<(&str, usize)> = config
            .plan()
            .unwrap()
            .iter()
            .map(|p| (p.kind.name(), p.kind.index()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("chase", 0),
                ("slow-reader", 1),
                ("chase", 0),
                ("slow-reader", 1)
            ]
        );
        let cards = SwarmConfig {
            game: "cards".into(),
            ..config
        };
        let err = cards.validate().unwrap_err().to_string();
        assert!(err.contains("chase") && err.contains("cards"), "{err}");
    }

    #[test]
    fn parses_mixes() {
        let mix: Mix = "wander=80, chase=10,slow_reader=5,Churn=5".parse().unwrap();
        assert_eq!(
            entries(&mix),
            [
                ("wander", 80),
                ("chase", 10),
                ("slow-reader", 5),
                ("churn", 5)
            ]
        );
        assert_eq!(mix.to_string(), "wander=80,chase=10,slow-reader=5,churn=5");
        let mix: Mix = "idle".parse().unwrap();
        assert_eq!(entries(&mix), [("idle", 1)]);
        let mix: Mix = "wander=90%,idle=0,chase=10%".parse().unwrap();
        assert_eq!(entries(&mix), [("wander", 90), ("chase", 10)]);
        // Names are the game's business: checked when the run starts.
        assert!("fly=3".parse::<Mix>().is_ok());
        for bad in [
            "",
            "fly high=3",
            "slow-reader=1,slow_reader=1",
            "wander=x",
            "wander=1,wander=2",
            "idle=0",
            "wander=-1",
        ] {
            assert!(bad.parse::<Mix>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn assigns_exact_shares_spread_out() {
        let mix: Mix = "wander=92,slow-reader=8".parse().unwrap();
        let a = mix.assign(50);
        assert_eq!(a.len(), 50);
        assert_eq!(count(&mix, &a, "slow-reader"), 4);
        assert_eq!(count(&mix, &a, "wander"), 46);
        // Spread: no two slow readers next to each other.
        assert!(a.windows(2).all(|w| w != [1, 1]));

        let mix: Mix = "wander=80,chase=10,slow-reader=5,churn=5".parse().unwrap();
        let a = mix.assign(50);
        assert_eq!(
            ["wander", "chase", "slow-reader", "churn"].map(|k| count(&mix, &a, k)),
            [40, 5, 3, 2]
        );
        let a = mix.assign(7);
        assert_eq!(a.len(), 7);
        assert_eq!(count(&mix, &a, "wander"), 6);

        let mix: Mix = "wander=1,chase=1,idle=1".parse().unwrap();
        let a = mix.assign(4);
        assert_eq!(
            ["wander", "chase", "idle"].map(|k| count(&mix, &a, k)),
            [2, 1, 1]
        );
        assert!(mix.assign(0).is_empty());
    }

    #[test]
    fn validates() {
        assert!(SwarmConfig::default().validate().is_ok());
        let bad = [
            SwarmConfig {
                input_hz: 61,
                ..SwarmConfig::default()
            },
            SwarmConfig {
                input_hz: 0,
                ..SwarmConfig::default()
            },
            SwarmConfig {
                ramp_per_sec: 0.0,
                ..SwarmConfig::default()
            },
            SwarmConfig {
                placement: Placement::Fill {
                    bots: 0,
                    per_room: 50,
                },
                ..SwarmConfig::default()
            },
            SwarmConfig {
                name_prefix: "a-very-long-bot-name-prefix".into(),
                ..SwarmConfig::default()
            },
            SwarmConfig {
                game: "no game".into(),
                ..SwarmConfig::default()
            },
            SwarmConfig {
                mix: "sprint".parse().unwrap(),
                ..SwarmConfig::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }
}
