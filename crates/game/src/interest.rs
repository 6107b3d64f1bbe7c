//! Interest management: which replicated entities each player is sent.
//!
//! A game that declares a position ([`crate::Declare::interest`]) turns it
//! on. Then, every frame, a player is sent:
//! - every replicated entity without that position component (*global*
//!   entities: the players' own [`crate::Player`] entities, a scoreboard);
//! - every entity it has an [`Eye`] on, and every positioned entity within
//!   that eye's radius of it (a disc; a player may have several eyes);
//! - every positioned entity whose [`SeenBy`] names it, wherever it is.
//!
//! Nothing else: an entity out of a player's view is never in its frames
//! (the engine sends a despawn when it leaves and the whole entity when it
//! comes back), so a client cannot learn from the wire where it is. A game
//! that declares no position sends everything to everyone.
//!
//! The query is a uniform grid of the positioned entities, rebuilt every
//! frame (cells as wide as the widest eye), so a frame's visibility costs
//! about entities + Σ entities near each eye, never players × entities.
//! [`Views`] is its result; sans-IO and deterministic like the rest.

use bevy_ecs::prelude::Component;

use crate::world::PlayerId;

/// A player's point of view on an entity (its ship, its unit): the player
/// is sent this entity and every positioned entity within `radius` of it.
/// Put it on a replicated entity that has the game's position component
/// ([`crate::Declare::interest`]); on one without, it shows only itself.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Eye {
    /// Whose eye it is.
    pub player: PlayerId,
    /// How far it sees, in the position's units.
    pub radius: f32,
}

/// A positioned entity also sent to these players wherever it is (a
/// teammate's ship, a quest target).
#[derive(Component, Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenBy(pub Vec<PlayerId>);

/// Per player, the frame entities it is sent this frame: indices into the
/// frame's entities (ascending, so in network-id order). Built with the
/// frame when the game declared interest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Views {
    /// Per player in id order: the player and the end of its indices.
    players: Vec<(PlayerId, u32)>,
    indices: Vec<u32>,
}

impl Views {
    /// The frame indices player `p` is sent (`None`: not in the room when
    /// the frame was built).
    pub fn of(&self, p: PlayerId) -> Option<&[u32]> {
        let k = self.players.binary_search_by_key(&p, |&(q, _)| q).ok()?;
        let start = if k == 0 { 0 } else { self.players[k - 1].1 };
        Some(&self.indices[start as usize..self.players[k].1 as usize])
    }

    /// Every player's view, in player-id order.
    pub fn iter(&self) -> impl Iterator<Item = (PlayerId, &[u32])> + '_ {
        let mut start = 0;
        self.players.iter().map(move |&(p, end)| {
            let s = &self.indices[start as usize..end as usize];
            start = end;
            (p, s)
        })
    }
}

/// What the frame builder tells the grid about one frame entity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placed {
    /// Its index in the frame.
    pub index: u32,
    pub x: f32,
    pub y: f32,
}

/// Builds [`Views`] (scratch kept between frames, so a warm room
/// allocates nothing here).
#[derive(Debug, Default)]
pub(crate) struct ViewBuilder {
    /// Entities without a position: sent to everyone.
    pub global: Vec<u32>,
    /// Positioned entities.
    pub placed: Vec<Placed>,
    /// Eyes: (player, frame index of the entity, x, y, radius); x/y NaN
    /// when the entity has no position.
    pub eyes: Vec<(PlayerId, u32, f32, f32, f32)>,
    /// `SeenBy` grants: (player, frame index).
    pub grants: Vec<(PlayerId, u32)>,
    grid: Grid,
    scratch: Vec<u32>,
}

/// A uniform grid of the placed entities, as a dense block of cells
/// (row-major from `origin`) holding the entities cell by cell: a query
/// reads its cells' entities directly, with no search and no hashing.
#[derive(Debug, Default)]
struct Grid {
    /// A cell's side: at least the widest eye's radius, so a disc overlaps
    /// at most 3 × 3 cells.
    cell: f32,
    origin: (i64, i64),
    width: i64,
    height: i64,
    /// Per cell, where its entities start in `by_cell` (one more at the end).
    starts: Vec<u32>,
    by_cell: Vec<Placed>,
}

impl Grid {
    /// Most cells per placed entity (plus a constant) before the cells are
    /// made wider: entities spread over a huge area cost no huge block.
    const CELLS_PER_ENTITY: i64 = 4;

    fn cell_of(&self, x: f32, y: f32) -> (i64, i64) {
        (
            i64::from(cell_of(x, self.cell)),
            i64::from(cell_of(y, self.cell)),
        )
    }

    /// Rebuilds it over `placed` (finite positions) with cells at least
    /// `widest` wide.
    fn fill(&mut self, placed: &[Placed], widest: f32) {
        self.cell = widest;
        let limit = Self::CELLS_PER_ENTITY * placed.len() as i64 + 64;
        loop {
            let (mut lo, mut hi) = ((i64::MAX, i64::MAX), (i64::MIN, i64::MIN));
            for p in placed {
                let (cx, cy) = self.cell_of(p.x, p.y);
                lo = (lo.0.min(cx), lo.1.min(cy));
                hi = (hi.0.max(cx), hi.1.max(cy));
            }
            if placed.is_empty() {
                (lo, hi) = ((0, 0), (0, 0));
            }
            self.origin = lo;
            (self.width, self.height) = (hi.0 - lo.0 + 1, hi.1 - lo.1 + 1);
            if self.width.saturating_mul(self.height) <= limit || !self.cell.is_finite() {
                break;
            }
            self.cell *= 2.0;
        }
        let cells = (self.width * self.height) as usize;
        self.starts.clear();
        self.starts.resize(cells + 1, 0);
        for p in placed {
            let k = self.index(self.cell_of(p.x, p.y));
            self.starts[k + 1] += 1;
        }
        for k in 0..cells {
            self.starts[k + 1] += self.starts[k];
        }
        self.by_cell.clear();
        self.by_cell.resize(
            placed.len(),
            Placed {
                index: 0,
                x: 0.0,
                y: 0.0,
            },
        );
        // Counting sort (stable); `starts[k]` walks to the cell's end and
        // is put back after.
        for p in placed {
            let k = self.index(self.cell_of(p.x, p.y));
            self.by_cell[self.starts[k] as usize] = *p;
            self.starts[k] += 1;
        }
        for k in (1..=cells).rev() {
            self.starts[k] = self.starts[k - 1];
        }
        self.starts[0] = 0;
    }

    fn index(&self, (cx, cy): (i64, i64)) -> usize {
        ((cy - self.origin.1) * self.width + (cx - self.origin.0)) as usize
    }

    /// Appends the frame index of every entity within `r` of (`x`, `y`).
    fn near(&self, x: f32, y: f32, r: f32, out: &mut Vec<u32>) {
        let r2 = r * r;
        let (x0, y0) = self.cell_of(x - r, y - r);
        let (x1, y1) = self.cell_of(x + r, y + r);
        let clamp_x = |c: i64| c.clamp(self.origin.0, self.origin.0 + self.width - 1);
        let clamp_y = |c: i64| c.clamp(self.origin.1, self.origin.1 + self.height - 1);
        if x1 < self.origin.0
            || y1 < self.origin.1
            || x0 >= self.origin.0 + self.width
            || y0 >= self.origin.1 + self.height
        {
            return;
        }
        for cy in clamp_y(y0)..=clamp_y(y1) {
            let row = self.index((clamp_x(x0), cy));
            let end = self.index((clamp_x(x1), cy)) + 1;
            let (from, to) = (self.starts[row] as usize, self.starts[end] as usize);
            for q in &self.by_cell[from..to] {
                let (dx, dy) = (q.x - x, q.y - y);
                if dx * dx + dy * dy <= r2 {
                    out.push(q.index);
                }
            }
        }
    }
}

fn cell_of(v: f32, cell: f32) -> i32 {
    // Saturating float-to-int: far or infinite positions land in the edge cells.
    (v / cell).floor() as i32
}

impl ViewBuilder {
    /// Empties it for the next frame.
    pub fn clear(&mut self) {
        self.global.clear();
        self.placed.clear();
        self.eyes.clear();
        self.grants.clear();
    }

    /// The views of `players` (ascending ids) from what was collected.
    pub fn build(&mut self, players: impl Iterator<Item = PlayerId>, out: &mut Views) {
        out.players.clear();
        out.indices.clear();
        self.placed.retain(|p| p.x.is_finite() && p.y.is_finite());
        let widest = self
            .eyes
            .iter()
            .map(|e| e.4)
            .filter(|r| r.is_finite())
            .fold(1.0f32, f32::max);
        self.grid.fill(&self.placed, widest);
        self.eyes.sort_by_key(|e| e.0);
        self.grants.sort_unstable();
        let (mut e, mut g) = (0, 0);
        // Frame indices ascend as entities are read, so the global ones are
        // sorted already: each view sorts only what it sees near, then
        // merges the two.
        debug_assert!(self.global.is_sorted());
        for p in players {
            let s = &mut self.scratch;
            s.clear();
            while e < self.eyes.len() && self.eyes[e].0 < p {
                e += 1;
            }
            while e < self.eyes.len() && self.eyes[e].0 == p {
                let (_, own, x, y, r) = self.eyes[e];
                s.push(own);
                e += 1;
                if x.is_finite() && y.is_finite() && r >= 0.0 {
                    self.grid.near(x, y, r.min(f32::MAX / 4.0), s);
                }
            }
            while g < self.grants.len() && self.grants[g].0 < p {
                g += 1;
            }
            while g < self.grants.len() && self.grants[g].0 == p {
                s.push(self.grants[g].1);
                g += 1;
            }
            s.sort_unstable();
            s.dedup();
            merge_sorted(&self.global, s, &mut out.indices);
            out.players.push((p, out.indices.len() as u32));
        }
    }
}

/// Appends the union of two ascending, duplicate-free lists, ascending.
fn merge_sorted(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(index: u32, x: f32, y: f32) -> Placed {
        Placed { index, x, y }
    }

    /// Every positioned entity within the radius, by brute force.
    fn brute(b: &ViewBuilder, p: PlayerId) -> Vec<u32> {
        let mut v = b.global.clone();
        for &(q, own, x, y, r) in &b.eyes {
            if q != p {
                continue;
            }
            v.push(own);
            for e in &b.placed {
                let (dx, dy) = (e.x - x, e.y - y);
                if e.x.is_finite() && e.y.is_finite() && dx * dx + dy * dy <= r * r {
                    v.push(e.index);
                }
            }
        }
        v.extend(b.grants.iter().filter(|g| g.0 == p).map(|g| g.1));
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn a_player_sees_the_global_entities_its_eye_and_what_is_within_the_radius() {
        let mut b = ViewBuilder::default();
        b.global.extend([0, 1]);
        b.placed.extend([
            placed(2, 0.0, 0.0),
            placed(3, 99.0, 0.0),
            placed(4, 101.0, 0.0),
            placed(5, 5000.0, 5000.0),
        ]);
        b.eyes.push((PlayerId(1), 2, 0.0, 0.0, 100.0));
        b.eyes.push((PlayerId(2), 5, 5000.0, 5000.0, 100.0));
        b.grants.push((PlayerId(2), 4));
        let mut views = Views::default();
        b.build(
            [PlayerId(1), PlayerId(2), PlayerId(3)].into_iter(),
            &mut views,
        );
        assert_eq!(views.of(PlayerId(1)), Some(&[0, 1, 2, 3][..]));
        assert_eq!(views.of(PlayerId(2)), Some(&[0, 1, 4, 5][..]));
        // No eye: only the global entities.
        assert_eq!(views.of(PlayerId(3)), Some(&[0, 1][..]));
        assert_eq!(views.of(PlayerId(4)), None);
        assert_eq!(views.iter().count(), 3);
    }

    #[test]
    fn the_grid_finds_exactly_what_a_brute_force_search_finds() {
        // A fixed pseudo-random layout (SplitMix64), eyes of several radii,
        // entities on cell borders, negative and far coordinates.
        let mut rng = crate::RoomRng::new(7);
        for round in 0..50 {
            let mut b = ViewBuilder::default();
            let n = 1 + rng.below(300);
            for i in 0..n {
                let x = rng.range_f32(-3000.0, 3000.0);
                let y = rng.range_f32(-3000.0, 3000.0);
                let (x, y) = if i % 17 == 0 {
                    (x.round(), 0.0)
                } else {
                    (x, y)
                };
                // Some rounds spread far apart: the grid widens its cells.
                let (x, y) = if round % 5 == 0 && i % 2 == 0 {
                    (x * 1e6, y * 1e4)
                } else {
                    (x, y)
                };
                b.placed.push(placed(i + 10, x, y));
            }
            b.placed.push(placed(n + 10, f32::NAN, 0.0));
            b.global.extend(0..3);
            for p in 1..=8u32 {
                let eye = rng.below(n) as usize;
                let e = b.placed[eye];
                let r = [0.0, 50.0, 400.0, 1200.0][(p + round) as usize % 4];
                b.eyes.push((PlayerId(p), e.index, e.x, e.y, r));
                if p % 3 == 0 {
                    b.grants.push((PlayerId(p), 10 + rng.below(n)));
                }
            }
            let mut views = Views::default();
            let players: Vec<PlayerId> = (1..=9).map(PlayerId).collect();
            let expected: Vec<Vec<u32>> = players.iter().map(|&p| brute(&b, p)).collect();
            b.build(players.iter().copied(), &mut views);
            for (p, want) in players.iter().zip(expected) {
                assert_eq!(
                    views.of(*p).unwrap(),
                    &want[..],
                    "round {round}, player {p}"
                );
            }
        }
    }
}
