//! Bullets in flight and what they hit. [`fly_bullets`] moves each bullet
//! along its fixed path and finds the first thing it meets (geometry only);
//! [`apply_hits`] then does what the hits mean (health, deaths, scores,
//! events). Bullets go in network-id order and each sees the ships as the
//! earlier ones left them, so a ship destroyed by one bullet is not hit by
//! the next.

use bevy_ecs::prelude::{Commands, Entity, Local, Query, Res, ResMut, Resource};
use tickroom::{NetId, Outbox, PlayerId, Players, StepInfo};

use crate::components::{Boom, Bullet, Hit, Kill, Pos, Score, Ship, Wall};
use crate::config::{BULLET_DAMAGE, SHIP_RADIUS, SkirmishConfig, steps_of};
use crate::map::Map;
use crate::ships::Life;

/// What a bullet met this step, and where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Impact {
    pub at: [f32; 2],
    /// The ship it hit, if not a wall.
    pub ship: Option<ShipHit>,
}

/// A bullet hit a ship.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ShipHit {
    pub shooter: u32,
    pub victim: u32,
    pub entity: Entity,
    /// The victim's health after it.
    pub health: u8,
}

/// This step's impacts, in bullet order (filled by [`fly_bullets`],
/// emptied by [`apply_hits`]).
#[derive(Resource, Debug, Default)]
pub(crate) struct Impacts(pub Vec<Impact>);

/// A live ship as the bullets of this step see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    owner: u32,
    entity: Entity,
    centre: [f32; 2],
    health: u8,
}

/// The segment a bullet flies this step: from `from` along `delta`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    from: [f32; 2],
    delta: [f32; 2],
}

impl Segment {
    fn at(&self, t: f32) -> [f32; 2] {
        [
            self.from[0] + self.delta[0] * t,
            self.from[1] + self.delta[1] * t,
        ]
    }
}

/// Where `bullet` is after `n` steps of flight.
fn position(bullet: &Bullet, n: u64, dt: f32) -> [f32; 2] {
    let seconds = n as f32 * dt;
    [
        bullet.x0 + bullet.vx * seconds,
        bullet.y0 + bullet.vy * seconds,
    ]
}

/// The fraction of `s` at which it first comes within `r` of `centre`
/// (0 if it starts within), if it does.
fn circle_contact(s: &Segment, centre: [f32; 2], r: f32) -> Option<f32> {
    let f = [s.from[0] - centre[0], s.from[1] - centre[1]];
    let c = f[0] * f[0] + f[1] * f[1] - r * r;
    if c <= 0.0 {
        return Some(0.0);
    }
    let a = s.delta[0] * s.delta[0] + s.delta[1] * s.delta[1];
    let b = f[0] * s.delta[0] + f[1] * s.delta[1];
    let disc = b * b - a * c;
    if b >= 0.0 || disc < 0.0 {
        return None;
    }
    let t = (-b - disc.sqrt()) / a;
    (t <= 1.0).then_some(t)
}

/// The fraction of `s` at which it enters `wall` (0 if it starts inside),
/// if it does: the slab test.
fn wall_contact(s: &Segment, wall: &Wall) -> Option<f32> {
    // Most walls are nowhere near: their boxes do not even overlap.
    let (x1, y1) = (s.from[0] + s.delta[0], s.from[1] + s.delta[1]);
    if s.from[0].max(x1) < wall.x
        || s.from[0].min(x1) > wall.x + wall.w
        || s.from[1].max(y1) < wall.y
        || s.from[1].min(y1) > wall.y + wall.h
    {
        return None;
    }
    let (mut enter, mut exit) = (0.0f32, 1.0f32);
    for (from, delta, lo, hi) in [
        (s.from[0], s.delta[0], wall.x, wall.x + wall.w),
        (s.from[1], s.delta[1], wall.y, wall.y + wall.h),
    ] {
        if delta == 0.0 {
            if from < lo || from > hi {
                return None;
            }
            continue;
        }
        let (a, b) = ((lo - from) / delta, (hi - from) / delta);
        enter = enter.max(a.min(b));
        exit = exit.min(a.max(b));
        if enter > exit {
            return None;
        }
    }
    Some(enter)
}

/// What a segment meets first.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Contact {
    Wall,
    /// An index into the targets.
    Ship(usize),
}

/// The first wall or live enemy ship `s` meets (a wall first on a tie,
/// then the lowest owner), and where along it. `targets` are sorted by `x`,
/// so only the ships whose `x` is within a radius of the segment's are
/// tried (a bullet's step is short: a few ships at most, not all of them).
fn first_contact(s: &Segment, owner: u32, map: &Map, targets: &[Target]) -> Option<(f32, Contact)> {
    let walls = map
        .walls
        .iter()
        .filter_map(|w| wall_contact(s, w))
        .map(|t| (t, Contact::Wall));
    let (x0, x1) = (s.from[0], s.from[0] + s.delta[0]);
    let (lo, hi) = (x0.min(x1) - SHIP_RADIUS, x0.max(x1) + SHIP_RADIUS);
    let first = targets.partition_point(|t| t.centre[0] < lo);
    let ships = targets[first..]
        .iter()
        .take_while(|t| t.centre[0] <= hi)
        .enumerate()
        .filter(|(_, target)| target.owner != owner && target.health > 0)
        .filter_map(|(k, target)| {
            circle_contact(s, target.centre, SHIP_RADIUS).map(|t| (t, Contact::Ship(first + k)))
        });
    // Earliest first; on a tie a wall, then the lowest owner.
    let rank = |(t, c): &(f32, Contact)| match c {
        Contact::Wall => (*t, 0),
        Contact::Ship(k) => (*t, u64::from(targets[*k].owner) + 1),
    };
    walls.chain(ships).fold(None, |best, c| match best {
        Some(b) if rank(&b) <= rank(&c) => Some(b),
        _ => Some(c),
    })
}

/// Moves every bullet fired before this step along its path, in network-id
/// order: the segment from its last position to its next, cut where its
/// range ends. The first wall or live enemy ship on it stops it (an
/// [`Impacts`] entry); otherwise it is despawned once it has flown its
/// range or is off the map, and keeps flying if not.
#[expect(
    clippy::too_many_arguments,
    reason = "a bevy system's parameters are its data access"
)]
pub(crate) fn fly_bullets(
    config: Res<SkirmishConfig>,
    map: Res<Map>,
    step: Res<StepInfo>,
    mut impacts: ResMut<Impacts>,
    mut order: Local<Vec<(NetId, Entity)>>,
    mut targets: Local<Vec<Target>>,
    mut bullets: Query<(Entity, &NetId, &Bullet, &mut Pos)>,
    ships: Query<(Entity, &Ship)>,
    mut commands: Commands,
) {
    collect_targets(&ships, &mut targets);
    order.clear();
    order.extend(bullets.iter().map(|(e, id, _, _)| (*id, e)));
    order.sort_unstable();
    let per_step = config.bullet_speed * step.dt;
    for &(_, entity) in order.iter() {
        let Ok((_, _, bullet, mut pos)) = bullets.get_mut(entity) else {
            continue;
        };
        // At least 1: bullets fired this step are spawned after this system.
        let n = (step.step + 1)
            .saturating_sub(u64::from(bullet.born))
            .max(1);
        let (s, spent) = leg(bullet, n, step.dt, per_step, config.bullet_range);
        match first_contact(&s, bullet.owner, &map, &targets) {
            Some((t, contact)) => {
                let ship = match contact {
                    Contact::Wall => None,
                    Contact::Ship(k) => Some(strike(&mut targets[k], bullet.owner)),
                };
                impacts.0.push(Impact { at: s.at(t), ship });
            }
            None if !spent && on_map(s.at(1.0), map.size) => {
                let [x, y] = s.at(1.0);
                *pos = Pos { x, y };
                continue;
            }
            // Spent, or off the map.
            None => {}
        }
        commands.entity(entity).despawn();
    }
}

/// The segment `bullet` flies in its `n`th step of flight (`n ≥ 1`,
/// `per_step` units a step), cut where its `range` ends, and whether its
/// range ends within it.
fn leg(bullet: &Bullet, n: u64, dt: f32, per_step: f32, range: f32) -> (Segment, bool) {
    let flown = per_step * (n - 1) as f32;
    let reach = ((range - flown) / per_step).clamp(0.0, 1.0);
    let from = position(bullet, n - 1, dt);
    let to = position(bullet, n, dt);
    let delta = [(to[0] - from[0]) * reach, (to[1] - from[1]) * reach];
    (Segment { from, delta }, flown + per_step >= range)
}

/// A bullet of `shooter`'s hits `target`.
fn strike(target: &mut Target, shooter: u32) -> ShipHit {
    target.health = target.health.saturating_sub(BULLET_DAMAGE);
    ShipHit {
        shooter,
        victim: target.owner,
        entity: target.entity,
        health: target.health,
    }
}

/// Fills `targets` with the live ships, by `x` (then owner: the order is
/// the same in every replay).
fn collect_targets(ships: &Query<(Entity, &Ship)>, targets: &mut Vec<Target>) {
    targets.clear();
    targets.extend(
        ships
            .iter()
            .filter(|(_, s)| s.alive)
            .map(|(entity, s)| Target {
                owner: s.owner,
                entity,
                centre: [s.x, s.y],
                health: s.health,
            }),
    );
    targets.sort_unstable_by(|a, b| {
        a.centre[0]
            .total_cmp(&b.centre[0])
            .then(a.owner.cmp(&b.owner))
    });
}

/// Whether `(x, y)` is on the map (its edge included).
fn on_map([x, y]: [f32; 2], size: f32) -> bool {
    (0.0..=size).contains(&x) && (0.0..=size).contains(&y)
}

/// Applies this step's impacts in order: a `boom` near each; for a ship,
/// its new health and a `hit` to the shooter and the victim; at 0 health
/// the ship is destroyed where it is (its respawn timer starts), the
/// victim's deaths and the shooter's kills (if still in the room) go up,
/// and everyone gets a `kill`.
pub(crate) fn apply_hits(
    config: Res<SkirmishConfig>,
    step: Res<StepInfo>,
    players: Res<Players>,
    mut impacts: ResMut<Impacts>,
    mut outbox: ResMut<Outbox>,
    mut ships: Query<(&mut Ship, &mut Life)>,
    mut scores: Query<&mut Score>,
) {
    let respawn_at = step.step + steps_of(config.respawn_s, step.rate_hz);
    for Impact { at: [x, y], ship } in impacts.0.drain(..) {
        outbox.to_near(x, y, &Boom { x, y });
        let Some(hit) = ship else { continue };
        let event = Hit {
            shooter: hit.shooter,
            victim: hit.victim,
            damage: BULLET_DAMAGE,
            health: hit.health,
        };
        outbox.to(PlayerId(hit.shooter), &event);
        outbox.to(PlayerId(hit.victim), &event);
        let Ok((mut ship, mut life)) = ships.get_mut(hit.entity) else {
            continue;
        };
        ship.health = hit.health;
        if hit.health > 0 {
            continue;
        }
        *ship = Ship {
            vx: 0.0,
            vy: 0.0,
            alive: false,
            ..*ship
        };
        *life = Life {
            respawn_at,
            announced: 0,
        };
        let mut tally = |player: u32, add: fn(&mut Score)| {
            if let Some(mut score) = players
                .entity(PlayerId(player))
                .and_then(|e| scores.get_mut(e).ok())
            {
                add(&mut score);
            }
        };
        tally(hit.victim, |s| s.deaths = s.deaths.saturating_add(1));
        tally(hit.shooter, |s| s.kills = s.kills.saturating_add(1));
        outbox.to_all(&Kill {
            killer: hit.shooter,
            victim: hit.victim,
        });
    }
}
