//! The game driven step by step through the engine's room, as the server
//! drives it but without a server or a clock: players join, inputs are
//! queued, the room steps, events are drained and frames built. Each file
//! tests one part of the rules; this one holds what they share.

mod combat;
mod config;
mod determinism;
mod fire;
mod movement;
mod persist;
mod pickups;
mod schema;
mod spawn;

use bevy_ecs::prelude::Entity;
use tickroom::protocol::state::decode_event;
use tickroom::wire::{NoEntities, Wire};
use tickroom::{Audience, GameRoom, Games, NetId, OutEvent, PlayerId, Room};

use crate::components::{Bullet, Pickup, Pos, Ship, SkirmishInput};
use crate::map::Map;
use crate::{Skirmish, SkirmishConfig};

/// Steps a second in every test room.
const RATE: u32 = 20;
/// Seconds a step, as the room computes it.
const DT: f32 = 1.0 / RATE as f32;

fn games() -> Games {
    let mut games = Games::new();
    games.register::<Skirmish>().expect("skirmish registers");
    games
}

/// A room with `config` and `seed`.
fn room(config: &SkirmishConfig, seed: u64) -> GameRoom<Skirmish> {
    let catalogue = games().get("skirmish").unwrap().catalogue().clone();
    GameRoom::new(catalogue, config, seed, RATE)
}

/// The default map without walls or pickups.
fn bare() -> SkirmishConfig {
    SkirmishConfig {
        walls: 0,
        pickups: 0,
        ..SkirmishConfig::default()
    }
}

/// A bare room with players `ids`, their ships at `spots`.
fn arena(ships: &[(u32, [f32; 2])]) -> GameRoom<Skirmish> {
    let mut r = room(&bare(), 1);
    for &(id, at) in ships {
        r.join(PlayerId(id), &format!("p{id}")).unwrap();
        place(&mut r, id, at);
    }
    r
}

fn input(mx: i8, my: i8, aim: f32, fire: bool) -> SkirmishInput {
    SkirmishInput { mx, my, aim, fire }
}

fn send(r: &mut GameRoom<Skirmish>, id: u32, i: SkirmishInput) {
    r.queue_input(PlayerId(id), i).expect("input queued");
}

fn ship_entity(r: &mut GameRoom<Skirmish>, id: u32) -> Entity {
    let world = r.world_mut();
    let mut q = world.query::<(Entity, &Ship)>();
    q.iter(world)
        .find(|(_, s)| s.owner == id)
        .map(|(e, _)| e)
        .expect("the player has a ship")
}

fn ship(r: &mut GameRoom<Skirmish>, id: u32) -> Ship {
    let e = ship_entity(r, id);
    *r.world().get::<Ship>(e).unwrap()
}

/// Changes player `id`'s ship with `edit`, keeping its `Pos` on it.
fn edit_ship(r: &mut GameRoom<Skirmish>, id: u32, edit: impl FnOnce(&mut Ship)) {
    let e = ship_entity(r, id);
    let world = r.world_mut();
    let mut ship = world.get_mut::<Ship>(e).unwrap();
    edit(&mut ship);
    let pos = Pos {
        x: ship.x,
        y: ship.y,
    };
    *world.get_mut::<Pos>(e).unwrap() = pos;
}

fn place(r: &mut GameRoom<Skirmish>, id: u32, [x, y]: [f32; 2]) {
    edit_ship(r, id, |s| {
        s.x = x;
        s.y = y;
    });
}

/// The map's walls become `walls`.
fn set_walls(r: &mut GameRoom<Skirmish>, walls: Vec<crate::Wall>) {
    r.world_mut().resource_mut::<Map>().walls = walls;
}

/// The bullets in network-id order, with their interest positions.
fn bullets(r: &mut GameRoom<Skirmish>) -> Vec<(Bullet, Pos)> {
    let world = r.world_mut();
    let mut q = world.query::<(&NetId, &Bullet, &Pos)>();
    let mut all: Vec<_> = q.iter(world).map(|(n, b, p)| (*n, *b, *p)).collect();
    all.sort_by_key(|(n, _, _)| *n);
    all.into_iter().map(|(_, b, p)| (b, p)).collect()
}

fn pickups(r: &mut GameRoom<Skirmish>) -> Vec<Pickup> {
    let world = r.world_mut();
    let mut q = world.query::<&Pickup>();
    q.iter(world).copied().collect()
}

/// Steps `n` times, keeping the events.
fn steps(r: &mut GameRoom<Skirmish>, n: u32, events: &mut Vec<OutEvent>) {
    for _ in 0..n {
        r.step();
        r.drain_events(events);
    }
}

/// The events of type `E` among `events`, with their audiences.
fn of_type<E: Wire>(r: &GameRoom<Skirmish>, events: &[OutEvent]) -> Vec<(Audience, E)> {
    let schema = r.catalogue().schema();
    let mut values = Vec::new();
    events
        .iter()
        .filter_map(|e| {
            let id = decode_event(schema, &e.bytes, &mut values).expect("event decodes");
            (schema.events()[id].name == E::NAME).then(|| {
                let event = E::read(&mut values.iter(), &NoEntities).expect("event reads");
                (e.to, event)
            })
        })
        .collect()
}

fn only(ids: &[u32]) -> Vec<Audience> {
    ids.iter().map(|&id| Audience::Only(PlayerId(id))).collect()
}
