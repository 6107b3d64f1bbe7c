//! Where a game's systems send events to players: the [`Outbox`] resource
//! every room has, the [`Audience`] an event is for, and the encoded
//! [`OutEvent`]s the room hands on after each step. Its own module so the
//! world's plain types ([`crate::world`]) need not know the game's
//! declarations, which encode the events.

use std::sync::Arc;

use bevy_ecs::prelude::{Entity, Resource};
use tickroom_protocol::state::Value;

use crate::declare::Catalogue;
use crate::wire::Wire;
use crate::world::PlayerId;

/// Who an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every player.
    All,
    /// One player.
    Only(PlayerId),
    /// Every player but one.
    AllBut(PlayerId),
    /// The players that see this entity at the end of the step (see
    /// [`crate::interest`]; everyone when the game declared no interest or
    /// the entity has no position; no one once it is despawned).
    Seeing(Entity),
    /// The players with an [`crate::Eye`] within its radius of this point
    /// (everyone when the game declared no interest).
    Near {
        /// The point, in the position's units (rounded).
        x: i32,
        y: i32,
    },
}

impl Audience {
    /// Whether `player` gets it, for the audiences that name players
    /// ([`Audience::Seeing`] and [`Audience::Near`] depend on the world:
    /// the room resolves them into [`Audience::Only`]s, and this says
    /// false).
    pub fn includes(self, player: PlayerId) -> bool {
        match self {
            Audience::All => true,
            Audience::Only(p) => p == player,
            Audience::AllBut(p) => p != player,
            Audience::Seeing(_) | Audience::Near { .. } => false,
        }
    }
}

/// An event ready for the wire: its schema id and values, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutEvent {
    /// Who it is for.
    pub to: Audience,
    /// The event id (its place in the schema's events) then its values.
    pub bytes: Vec<u8>,
}

/// Where systems send events to players: `outbox.to_all(&Hit { .. })`.
/// Events reach their players with the next frame each one's connection
/// takes, once and in order.
#[derive(Resource)]
pub struct Outbox {
    catalogue: Arc<Catalogue>,
    pub(crate) queued: Vec<OutEvent>,
    scratch: Vec<Value>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("queued", &self.queued.len())
            .finish()
    }
}

impl Outbox {
    pub(crate) fn new(catalogue: Arc<Catalogue>) -> Self {
        Self {
            catalogue,
            queued: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Sends `event` to every player.
    pub fn to_all<E: Wire>(&mut self, event: &E) {
        self.send(Audience::All, event);
    }

    /// Sends `event` to one player.
    pub fn to<E: Wire>(&mut self, player: PlayerId, event: &E) {
        self.send(Audience::Only(player), event);
    }

    /// Sends `event` to every player but `player`.
    pub fn to_all_but<E: Wire>(&mut self, player: PlayerId, event: &E) {
        self.send(Audience::AllBut(player), event);
    }

    /// Sends `event` to the players that see `entity` (a hit on a ship is
    /// not sent to players far away). With interest management off, that is
    /// everyone.
    pub fn to_seeing<E: Wire>(&mut self, entity: Entity, event: &E) {
        self.send(Audience::Seeing(entity), event);
    }

    /// Sends `event` to the players that see the point (`x`, `y`): an
    /// explosion where a despawned bullet was. With interest management off,
    /// that is everyone.
    pub fn to_near<E: Wire>(&mut self, x: f32, y: f32, event: &E) {
        let round = |v: f32| v.round().clamp(i32::MIN as f32, i32::MAX as f32) as i32;
        self.send(
            Audience::Near {
                x: round(x),
                y: round(y),
            },
            event,
        );
    }

    /// Sends `event` to `to`.
    ///
    /// # Panics
    /// If `E` was not declared with [`crate::Declare::event`] (a bug in the
    /// game, caught by its first test).
    pub fn send<E: Wire>(&mut self, to: Audience, event: &E) {
        self.scratch.clear();
        event.write(&crate::wire::NoEntities, &mut self.scratch);
        let bytes = self
            .catalogue
            .encode_event(E::NAME, &self.scratch)
            .unwrap_or_else(|| panic!("event {:?} was not declared with Declare::event", E::NAME));
        self.queued.push(OutEvent { to, bytes });
    }
}
