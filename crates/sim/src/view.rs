//! The arena as a client sees it: players and pellets read out of a generic
//! frame with the arena's schema (what the bots' behaviours, the tests'
//! clients and tools look at). Positions come back in arena units, as the
//! wire quantized them; velocities are not on the wire (see `Arena::declare`).

use glam::Vec2;
use tickroom::protocol::state::{Frame, Schema, ValueRef, Values};

use crate::game::POS_SCALE;

/// A player in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenPlayer {
    /// Its entity's network id.
    pub entity: u32,
    /// Its player id.
    pub id: u32,
    /// Its display name.
    pub name: String,
    /// Whether its connection is up.
    pub connected: bool,
    /// Centre, arena units.
    pub pos: Vec2,
    /// Pellets eaten.
    pub score: u32,
}

/// A live pellet in a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeenPellet {
    /// Its entity's network id (new on every respawn).
    pub entity: u32,
    /// Its slot (`0..pellet_count`).
    pub slot: u16,
    /// Centre, arena units.
    pub pos: Vec2,
}

/// An arena frame read out (see the module docs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArenaView {
    /// The frame's tick.
    pub tick: u32,
    /// Players, by entity id.
    pub players: Vec<SeenPlayer>,
    /// Live pellets, by entity id.
    pub pellets: Vec<SeenPellet>,
}

/// Why a frame is not an arena frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an arena frame: {0}")]
pub struct NotArena(&'static str);

fn vec2(values: Option<Values<'_>>, scale: u32) -> Vec2 {
    match values.map(|v| (v.len(), v.int(0), v.int(1))) {
        Some((2, Some(x), Some(y))) => Vec2::new(x as f32 / scale as f32, y as f32 / scale as f32),
        _ => Vec2::ZERO,
    }
}

impl ArenaView {
    /// Reads `frame`, whose game has `schema` (the arena's).
    pub fn read(schema: &Schema, frame: &Frame) -> Result<Self, NotArena> {
        let id = |name| schema.component_id(name).ok_or(NotArena(name));
        let (player, pos, score, pellet) = (id("player")?, id("pos")?, id("score")?, id("pellet")?);
        let mut view = ArenaView {
            tick: frame.tick,
            ..ArenaView::default()
        };
        for e in frame.entities() {
            if let Some(p) = e.get(player) {
                let (3, Some(pid), Some(ValueRef::Text(name)), Some(connected)) =
                    (p.len(), p.int(0), p.get(1), p.int(2))
                else {
                    return Err(NotArena("player"));
                };
                view.players.push(SeenPlayer {
                    entity: e.id(),
                    id: pid as u32,
                    name: name.to_owned(),
                    connected: connected != 0,
                    pos: vec2(e.get(pos), POS_SCALE),
                    score: e.get(score).and_then(|s| s.int(0)).unwrap_or(0) as u32,
                });
            } else if let Some(p) = e.get(pellet) {
                view.pellets.push(SeenPellet {
                    entity: e.id(),
                    slot: p.int(0).unwrap_or(0) as u16,
                    pos: vec2(e.get(pos), POS_SCALE),
                });
            }
        }
        Ok(view)
    }

    /// The player with id `id`.
    pub fn player(&self, id: u32) -> Option<&SeenPlayer> {
        self.players.iter().find(|p| p.id == id)
    }
}
