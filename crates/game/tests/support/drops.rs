//! "drops", a small test game nothing like the arena: every input is a
//! discrete action (move a step, or drop something), drops live a few steps
//! and despawn, a rain drop spawns at a random place and falls every step,
//! and events go to one player, to all, or to all but one. Shared by the
//! room tests; built only on the public game API.

use serde::{Deserialize, Serialize};
use tickroom::bevy_ecs::prelude::*;
use tickroom::{
    Declare, Game, Inputs, Outbox, PlayerId, Players, Replicated, RoomConfig, RoomRng, Setup,
};
use tickroom_derive::Wire;

#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
pub struct Pos {
    #[wire(fixed(i32, 100))]
    pub x: f32,
    #[wire(fixed(i32, 100))]
    pub y: f32,
}

#[derive(Component, Wire, Debug, Clone, Copy, PartialEq)]
pub struct Drop {
    pub owner: Option<Entity>,
    pub ttl: u8,
}

#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
pub struct Score {
    pub points: u32,
}

/// Rain falls one unit a step and goes at the bottom.
#[derive(Component, Wire, Debug, Clone, Copy, Default, PartialEq)]
pub struct Rain {
    pub fallen: u8,
}

#[derive(Wire, Debug, Clone, Copy, Default, PartialEq)]
pub struct Act {
    /// 0: move by `dx`; 1: drop something here.
    pub kind: u8,
    pub dx: i16,
}

/// To every other player: someone dropped something.
#[derive(Wire, Debug, Clone, PartialEq)]
pub struct Dropped {
    pub by: u32,
}

/// To the owner: its drop ran out and scored.
#[derive(Wire, Debug, Clone, PartialEq)]
pub struct Scored {
    pub points: u32,
}

#[derive(Resource, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DropsConfig {
    /// Steps a drop lives.
    pub ttl: u8,
    /// Steps rain falls before it goes.
    pub rain_steps: u8,
}

impl Default for DropsConfig {
    fn default() -> Self {
        Self {
            ttl: 2,
            rain_steps: 1,
        }
    }
}

impl RoomConfig for DropsConfig {
    fn validate(&self) -> Result<(), String> {
        if self.ttl == 0 {
            return Err("ttl must be at least 1".into());
        }
        Ok(())
    }
}

#[derive(Debug)]
pub struct Drops;

impl Game for Drops {
    const NAME: &'static str = "drops";
    const VERSION: u32 = 1;
    type Input = Act;
    type Config = DropsConfig;

    fn declare(game: &mut Declare) {
        game.replicate::<Pos>()
            .replicate::<Drop>()
            .replicate::<Score>()
            .replicate::<Rain>()
            .event::<Dropped>()
            .event::<Scored>();
    }

    fn setup(room: &mut Setup<'_>, _: &DropsConfig) {
        room.add_systems((act, age_drops, rain).chain());
    }

    fn validate_input(input: &Act) -> Result<(), &'static str> {
        if input.kind > 1 {
            return Err("unknown action");
        }
        Ok(())
    }

    fn joined(world: &mut World, _: PlayerId, entity: Entity) {
        world
            .entity_mut(entity)
            .insert((Pos::default(), Score::default()));
    }
}

fn act(
    mut commands: Commands,
    inputs: Res<Inputs<Act>>,
    config: Res<DropsConfig>,
    mut pos: Query<&mut Pos>,
    mut out: ResMut<Outbox>,
) {
    for i in &inputs {
        let Ok(mut p) = pos.get_mut(i.entity) else {
            continue;
        };
        match i.input.kind {
            0 => p.x += f32::from(i.input.dx),
            _ => {
                commands.spawn((
                    *p,
                    Drop {
                        owner: Some(i.entity),
                        ttl: config.ttl,
                    },
                    Replicated,
                ));
                out.to_all_but(i.player, &Dropped { by: i.player.0 });
            }
        }
    }
}

fn age_drops(
    mut commands: Commands,
    mut drops: Query<(Entity, &mut Drop)>,
    mut scores: Query<(&tickroom::Player, &mut Score)>,
    mut out: ResMut<Outbox>,
    players: Res<Players>,
) {
    for (e, mut d) in &mut drops {
        d.ttl = d.ttl.saturating_sub(1);
        if d.ttl == 0 {
            commands.entity(e).despawn();
            if let Some(owner) = d.owner
                && let Ok((p, mut s)) = scores.get_mut(owner)
                && players.entity(p.id) == Some(owner)
            {
                s.points += 1;
                out.to(p.id, &Scored { points: s.points });
            }
        }
    }
}

fn rain(
    mut commands: Commands,
    mut rng: ResMut<RoomRng>,
    config: Res<DropsConfig>,
    mut drops: Query<(Entity, &mut Rain)>,
) {
    for (e, mut r) in &mut drops {
        r.fallen += 1;
        if r.fallen >= config.rain_steps {
            commands.entity(e).despawn();
        }
    }
    let x = rng.range_f32(0.0, 100.0);
    commands.spawn((Pos { x, y: 0.0 }, Rain::default(), Replicated));
}
