//! The behaviours the bots know, by game: the play behaviours
//! ([`crate::Play`]) of the games that have their own ([`GAMES`]: the
//! arena's in `arena.rs`, skirmish's in `skirmish.rs`), the two that play any game from its schema
//! alone ([`GENERIC`]: `random`, `idle`), and the connection behaviours
//! that play a game's default ([`CONNECTIONS`]: `slow-reader`, `churn`).
//!
//! Any game can be swarmed: one the bots have no behaviours for gets the
//! generic ones, and `random` is its default. To give a game its own: a
//! module here with its [`GameBehaviours`], listed in [`GAMES`]. Only the
//! game modules know a game; the swarm sees [`BehaviourKind`]s.

mod arena;
#[cfg(test)]
mod arena_tests;
mod generic;
mod skirmish;

use crate::{
    Error,
    behaviour::{BehaviourKind, Connection, NewPlay},
};

/// One play behaviour.
#[derive(Debug, Clone, Copy)]
pub struct PlayEntry {
    /// Its name in `--behaviour`, `--mix` and reports.
    pub name: &'static str,
    /// One line for help and docs.
    pub about: &'static str,
    /// Makes a bot's [`crate::behaviour::Play`].
    pub new: NewPlay,
}

/// A game the bots have behaviours of their own for.
#[derive(Debug, Clone, Copy)]
pub struct GameBehaviours {
    /// The game's name, as `--game` and the server's Welcome say it.
    pub game: &'static str,
    /// Its behaviours; the first is the game's default (what slow readers
    /// and churners play, and the mix when none is given).
    pub behaviours: &'static [PlayEntry],
    /// The mix `tickroom-bench` runs unless given `--mix`.
    pub bench_mix: &'static str,
}

/// The games with behaviours of their own.
pub const GAMES: &[GameBehaviours] = &[arena::GAME, skirmish::GAME];

/// The game `--game` defaults to: the demo the `tickroom` binary serves.
pub const DEFAULT_GAME: &str = arena::GAME.game;

/// Behaviours for any game, from its schema alone.
pub const GENERIC: &[PlayEntry] = &[generic::RANDOM, generic::IDLE];

/// Connection behaviours: they play the game's default behaviour.
pub const CONNECTIONS: &[(&str, Connection)] = &[
    ("slow-reader", Connection::SlowReader),
    ("churn", Connection::Churn),
];

/// The behaviours of game `game`, if the bots have any of its own.
pub fn game(game: &str) -> Option<&'static GameBehaviours> {
    GAMES.iter().find(|g| g.game == game)
}

/// What game `game` plays by default: its first behaviour, else `random`.
pub fn default_play(game: &str) -> PlayEntry {
    self::game(game).map_or(generic::RANDOM, |g| g.behaviours[0])
}

/// The mix `tickroom-bench` runs for `game` unless given one: the game's
/// own, else its default behaviour.
pub fn bench_mix(game: &str) -> &'static str {
    self::game(game).map_or(default_play(game).name, |g| g.bench_mix)
}

/// Every behaviour name valid for `game`: its own, the generic ones, the
/// connection ones.
pub fn names(game: &str) -> Vec<&'static str> {
    let own = self::game(game).map_or(&[][..], |g| g.behaviours);
    own.iter()
        .chain(GENERIC)
        .map(|p| p.name)
        .chain(CONNECTIONS.iter().map(|&(n, _)| n))
        .collect()
}

/// A behaviour name as written (any case, `_` for `-`) in its canonical
/// form.
pub fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

/// Behaviour `name` of game `game`, the `index`th of its run.
pub fn resolve(game: &str, name: &str, index: usize) -> Result<BehaviourKind, Error> {
    let wanted = normalize(name);
    let own = self::game(game).map_or(&[][..], |g| g.behaviours);
    if let Some(p) = own.iter().chain(GENERIC).find(|p| p.name == wanted) {
        return Ok(BehaviourKind::new(p.name, index, Connection::Steady, p.new));
    }
    if let Some(&(n, connection)) = CONNECTIONS.iter().find(|&&(n, _)| n == wanted) {
        return Ok(BehaviourKind::new(
            n,
            index,
            connection,
            default_play(game).new,
        ));
    }
    Err(Error::UnknownBehaviour {
        game: game.to_owned(),
        name: name.to_owned(),
        known: names(game).join(", "),
    })
}

/// Checks that `game` can be a game's name (1 to 64 ASCII letters, digits,
/// `_` or `-`, as a schema's). Whether the server hosts it, only the server
/// says: a room of another game is a connect error `wrong-game`, an
/// unknown game the server's refusal.
pub fn check_name(game: &str) -> Result<(), Error> {
    let ok = !game.is_empty()
        && game.len() <= tickroom_protocol::state::schema::MAX_NAME_BYTES
        && game
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "game name {game:?}: use 1 to 64 ASCII letters, digits, '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_per_game() {
        let kind = resolve("arena", "Slow_Reader", 3).unwrap();
        assert_eq!(
            (kind.name(), kind.index(), kind.connection()),
            ("slow-reader", 3, Connection::SlowReader)
        );
        assert_eq!(resolve("arena", "wander", 0).unwrap().name(), "wander");
        assert_eq!(resolve("arena", "RANDOM", 0).unwrap().name(), "random");
        // A game the bots have no behaviours for gets the generic ones.
        assert_eq!(resolve("cards", "churn", 0).unwrap().name(), "churn");
        assert_eq!(resolve("cards", "idle", 0).unwrap().name(), "idle");
        let err = resolve("cards", "chase", 0).unwrap_err().to_string();
        assert!(
            err.contains("\"chase\"")
                && err.contains("\"cards\"")
                && err.contains("random, idle, slow-reader, churn"),
            "{err}"
        );
        assert!(resolve("arena", "sprint", 0).is_err());
        assert_eq!(
            names("arena"),
            ["wander", "chase", "random", "idle", "slow-reader", "churn"]
        );
        assert_eq!(
            names("skirmish"),
            [
                "hunter",
                "wanderer",
                "random",
                "idle",
                "slow-reader",
                "churn"
            ]
        );
    }

    #[test]
    fn defaults_per_game() {
        assert_eq!(default_play("arena").name, "wander");
        assert_eq!(default_play("cards").name, "random");
        assert_eq!(bench_mix("arena"), "wander=90,chase=10");
        assert_eq!(default_play("skirmish").name, "hunter");
        assert_eq!(bench_mix("skirmish"), "hunter");
        assert_eq!(bench_mix("cards"), "random");
    }

    #[test]
    fn game_names_are_checked() {
        assert!(check_name("arena").is_ok());
        assert!(check_name("my_game-2").is_ok());
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
