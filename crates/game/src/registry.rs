//! [`Games`]: the games a server hosts, by name. Registering a game
//! compiles its declarations into its schema once (a game that breaks a
//! limit fails here, at start-up, never in play); afterwards the server
//! parses room configs and makes rooms of any registered game through the
//! type-erased [`GameEntry`].

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use tickroom_protocol::state::SchemaError;

use crate::declare::{Catalogue, Declare};
use crate::game::{Game, RoomConfig};
use crate::room::{GameRoom, Room};

/// Why a room config was refused (a 400 `invalid_config`, or close 1008).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config for game {game:?}: {message}")]
pub struct ConfigError {
    /// The game.
    pub game: &'static str,
    /// What is wrong, for the caller.
    pub message: String,
}

/// Why a game could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// Its declarations are not a valid schema.
    #[error("game {game:?}: {source}")]
    Schema {
        game: &'static str,
        #[source]
        source: SchemaError,
    },
    /// Another game has its name.
    #[error("two games are called {0:?}")]
    Duplicate(&'static str),
    /// Its default config does not pass its own validation.
    #[error("game {game:?}: its default config is invalid: {message}")]
    BadDefault { game: &'static str, message: String },
}

/// One registered game, its types erased.
pub trait GameEntry: Send + Sync + std::fmt::Debug {
    /// Its name.
    fn name(&self) -> &'static str;
    /// Its version.
    fn version(&self) -> u32;
    /// Its compiled declarations.
    fn catalogue(&self) -> &Arc<Catalogue>;
    /// Parses and validates a room config (`None` or `null`: the defaults)
    /// into the canonical config: every field, defaults filled in. That is
    /// what room info shows and recordings keep.
    fn config(&self, json: Option<&serde_json::Value>) -> Result<serde_json::Value, ConfigError>;
    /// A new room with a config [`GameEntry::config`] returned.
    fn new_room(
        &self,
        config: &serde_json::Value,
        seed: u64,
        rate_hz: u32,
    ) -> Result<Box<dyn Room>, ConfigError>;
}

struct Entry<G: Game> {
    catalogue: Arc<Catalogue>,
    game: PhantomData<fn() -> G>,
}

impl<G: Game> std::fmt::Debug for Entry<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameEntry")
            .field("name", &G::NAME)
            .field("version", &G::VERSION)
            .finish_non_exhaustive()
    }
}

impl<G: Game> Entry<G> {
    fn parse(&self, json: Option<&serde_json::Value>) -> Result<G::Config, ConfigError> {
        let err = |message: String| ConfigError {
            game: G::NAME,
            message,
        };
        let config: G::Config = match json {
            None | Some(serde_json::Value::Null) => G::Config::default(),
            // The error names the field (`speed: invalid type ...`).
            Some(v) => serde_path_to_error::deserialize(v.clone()).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                err(if path == "." {
                    inner.to_string()
                } else {
                    format!("{path}: {inner}")
                })
            })?,
        };
        config.validate().map_err(err)?;
        Ok(config)
    }
}

impl<G: Game> GameEntry for Entry<G> {
    fn name(&self) -> &'static str {
        G::NAME
    }

    fn version(&self) -> u32 {
        G::VERSION
    }

    fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    fn config(&self, json: Option<&serde_json::Value>) -> Result<serde_json::Value, ConfigError> {
        let config = self.parse(json)?;
        // Through text, so an f32 field shows as the f32 it is (0.05, not
        // 0.05000000074505806, which is what an f64 widening would show).
        serde_json::to_string(&config)
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| ConfigError {
                game: G::NAME,
                message: e.to_string(),
            })
    }

    fn new_room(
        &self,
        config: &serde_json::Value,
        seed: u64,
        rate_hz: u32,
    ) -> Result<Box<dyn Room>, ConfigError> {
        let config = self.parse(Some(config))?;
        Ok(Box::new(GameRoom::<G>::new(
            self.catalogue.clone(),
            &config,
            seed,
            rate_hz,
        )))
    }
}

/// The games a server hosts (see the module docs).
#[derive(Debug, Default, Clone)]
pub struct Games {
    by_name: BTreeMap<&'static str, Arc<dyn GameEntry>>,
}

impl Games {
    /// No games yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers game `G`: checks its declarations and its default config.
    pub fn register<G: Game>(&mut self) -> Result<&mut Self, RegisterError> {
        if self.by_name.contains_key(G::NAME) {
            return Err(RegisterError::Duplicate(G::NAME));
        }
        let mut declare = Declare::default();
        G::declare(&mut declare);
        // Every game's players are entities with the engine's `player`.
        declare.replicate::<crate::world::Player>();
        let catalogue =
            Catalogue::new::<G::Input>(G::NAME, G::VERSION, declare).map_err(|source| {
                RegisterError::Schema {
                    game: G::NAME,
                    source,
                }
            })?;
        G::Config::default()
            .validate()
            .map_err(|message| RegisterError::BadDefault {
                game: G::NAME,
                message,
            })?;
        self.by_name.insert(
            G::NAME,
            Arc::new(Entry::<G> {
                catalogue: Arc::new(catalogue),
                game: PhantomData,
            }),
        );
        Ok(self)
    }

    /// The game called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn GameEntry>> {
        self.by_name.get(name)
    }

    /// Every game's name, sorted.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &'static str> + '_ {
        self.by_name.keys().copied()
    }

    /// How many games.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
