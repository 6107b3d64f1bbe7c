//! Rendezvous (highest-random-weight) placement, optionally with bounded
//! load: the pure functions that pick a node for a room.
//!
//! **Order.** For room `r`, every candidate node `n` is ranked by its
//! [`score`] (see [`crate::hash`]): the higher the score, the earlier in the
//! HRW order, ties broken by the full 64-bit hash and then by the node id's
//! bytes, so the order is total and the same on every process. When all
//! candidates have the same weight the score is increasing in the hash, so
//! the order is that of the hashes themselves and no floating point is
//! involved; with unequal weights it uses `f64::ln`, which Rust does not
//! promise to round identically on every platform, so nodes built for
//! different targets could disagree on a room whose two best scores are
//! within an ulp or so of each other: run one build across a weighted
//! cluster (equal weights are exact everywhere). Removing a node moves
//! only the rooms it won; adding one moves only the rooms it now wins
//! (about `w_new / Σw` of them).
//!
//! **Bounded load** ([`bounded`]): each candidate also reports its current
//! load (rooms it holds). With `total` the sum of the candidates' loads, `W`
//! the sum of their weights and `ε` the [`LoadBound`]'s epsilon, a node of
//! weight `w` may take the room while its load is below its cap
//!
//! ```text
//! cap(w) = ceil((total + 1) × (1 + ε) × w / W)      (in f64, in that order)
//! ```
//!
//! i.e. (1 + ε) times its weighted share of the rooms *including the one
//! being placed*; with equal weights, `ceil((total + 1) × (1 + ε) / n)`. The
//! room goes to the first node in HRW order whose load is below its cap, so a
//! node never passes its cap while another is below its own. If none is
//! below, the HRW winner takes it; since the caps add up to at least
//! `total + 1` that cannot happen below 2^53 rooms (where `f64` stops
//! counting exactly and the `u64` sum may saturate), but the rule keeps the
//! function total. The cap is at least 1, so an
//! empty node always qualifies.
//!
//! These functions never allocate (except [`ranking`]) and keep no state:
//! the same candidates give the same answer everywhere.

use std::cmp::Ordering;

use crate::{
    Error, Result,
    hash::{RoomHasher, score},
    node::{NodeId, Weight},
};

/// One node as placement sees it: its id, weight and current load (rooms).
/// [`winner`] and [`ranking`] ignore the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// The node.
    pub id: &'a NodeId,
    /// Its relative share of rooms.
    pub weight: Weight,
    /// Rooms it holds now (only [`bounded`] reads it).
    pub load: u64,
}

impl<'a> Candidate<'a> {
    /// A candidate of weight 1 and load 0.
    pub fn new(id: &'a NodeId) -> Self {
        Self {
            id,
            weight: Weight::ONE,
            load: 0,
        }
    }
}

/// The "(1 + ε) × mean" load bound of [`bounded`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadBound {
    epsilon: f64,
}

impl LoadBound {
    /// ε = 0.25: no node takes a new room once it holds more than 1.25× its
    /// share.
    pub const DEFAULT_EPSILON: f64 = 0.25;

    /// A bound of `(1 + epsilon)` × the weighted mean; `epsilon` must be
    /// finite and at least 0.
    pub fn new(epsilon: f64) -> Result<Self> {
        if epsilon.is_finite() && epsilon >= 0.0 {
            Ok(Self { epsilon })
        } else {
            Err(Error::InvalidEpsilon(epsilon.to_string()))
        }
    }

    /// The ε this bound was made with.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// `ceil((total_load + 1) × (1 + ε) × weight / total_weight)`: the most
    /// rooms a node of `weight` may hold after taking one more, when the
    /// candidates hold `total_load` rooms and weigh `total_weight` together.
    pub fn cap(&self, total_load: u64, weight: Weight, total_weight: u64) -> u64 {
        let share = (total_load as f64 + 1.0) * (1.0 + self.epsilon) * f64::from(weight.get())
            / total_weight.max(1) as f64;
        share.ceil() as u64
    }
}

impl Default for LoadBound {
    /// ε = [`LoadBound::DEFAULT_EPSILON`].
    fn default() -> Self {
        Self {
            epsilon: Self::DEFAULT_EPSILON,
        }
    }
}

/// What [`bounded`] chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice<'a> {
    /// The node that takes the room.
    pub node: &'a NodeId,
    /// The pure HRW winner; differs from `node` when the load bound diverted
    /// the room.
    pub hrw_winner: &'a NodeId,
    /// The chosen node's cap (see the module doc).
    pub cap: u64,
    /// No candidate was below its cap, so the HRW winner took the room over
    /// its cap.
    pub all_full: bool,
}

impl Choice<'_> {
    /// Whether the load bound sent the room past the HRW winner.
    pub fn diverted(&self) -> bool {
        self.node != self.hrw_winner
    }
}

/// What one pass over the candidates learns before ranking them.
struct Totals {
    weight: u64,
    load: u64,
    /// Weights differ, so ranking needs the scores, not just the hashes.
    weighted: bool,
}

fn totals<'a>(nodes: impl Iterator<Item = Candidate<'a>>) -> Option<Totals> {
    let mut first = None;
    let mut totals = Totals {
        weight: 0,
        load: 0,
        weighted: false,
    };
    for c in nodes {
        let w = *first.get_or_insert(c.weight);
        totals.weighted |= c.weight != w;
        totals.weight += u64::from(c.weight.get());
        totals.load = totals.load.saturating_add(c.load);
    }
    first.map(|_| totals)
}

/// A candidate with its rank for one room.
#[derive(Clone, Copy)]
struct Ranked<'a> {
    candidate: Candidate<'a>,
    hash: u64,
    /// 0 when all weights are equal (then the hash alone orders).
    score: f64,
}

impl<'a> Ranked<'a> {
    fn new(room: &mut RoomHasher<'_>, candidate: Candidate<'a>, weighted: bool) -> Self {
        let h = room.hash(candidate.id);
        let score = if weighted {
            score(h, candidate.weight)
        } else {
            0.0
        };
        Self {
            candidate,
            hash: h,
            score,
        }
    }

    /// HRW order: `Greater` means `self` comes first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.hash.cmp(&other.hash))
            .then_with(|| self.candidate.id.cmp(other.candidate.id))
    }
}

/// The pure HRW winner for `room` among `nodes` (weights honoured, loads
/// ignored); `None` when there are no nodes.
pub fn winner<'a, I>(room: &str, nodes: I) -> Option<&'a NodeId>
where
    I: IntoIterator<Item = Candidate<'a>>,
    I::IntoIter: Clone,
{
    let nodes = nodes.into_iter();
    let weighted = totals(nodes.clone())?.weighted;
    let mut room = RoomHasher::new(room);
    nodes
        .map(|c| Ranked::new(&mut room, c, weighted))
        .max_by(Ranked::cmp)
        .map(|r| r.candidate.id)
}

/// The HRW winner for `room` among `nodes` that is below its load cap, or the
/// HRW winner if none is (see the module doc); `None` when there are no
/// nodes.
pub fn bounded<'a, I>(room: &str, nodes: I, bound: LoadBound) -> Option<Choice<'a>>
where
    I: IntoIterator<Item = Candidate<'a>>,
    I::IntoIter: Clone,
{
    let nodes = nodes.into_iter();
    let totals = totals(nodes.clone())?;
    let mut hasher = RoomHasher::new(room);
    let mut best: Option<Ranked<'a>> = None;
    let mut best_below: Option<(Ranked<'a>, u64)> = None;
    for c in nodes {
        let r = Ranked::new(&mut hasher, c, totals.weighted);
        if best.is_none_or(|b| r.cmp(&b).is_gt()) {
            best = Some(r);
        }
        let cap = bound.cap(totals.load, c.weight, totals.weight);
        if c.load < cap && best_below.is_none_or(|(b, _)| r.cmp(&b).is_gt()) {
            best_below = Some((r, cap));
        }
    }
    let best = best?;
    let hrw_winner = best.candidate.id;
    Some(match best_below {
        Some((r, cap)) => Choice {
            node: r.candidate.id,
            hrw_winner,
            cap,
            all_full: false,
        },
        None => Choice {
            node: hrw_winner,
            hrw_winner,
            cap: bound.cap(totals.load, best.candidate.weight, totals.weight),
            all_full: true,
        },
    })
}

/// Every node in HRW order for `room`, first the winner (weights honoured,
/// loads ignored). For diagnostics and tests; placement needs only the first.
pub fn ranking<'a, I>(room: &str, nodes: I) -> Vec<&'a NodeId>
where
    I: IntoIterator<Item = Candidate<'a>>,
    I::IntoIter: Clone,
{
    let nodes = nodes.into_iter();
    let Some(totals) = totals(nodes.clone()) else {
        return Vec::new();
    };
    let mut room = RoomHasher::new(room);
    let mut ranked: Vec<Ranked<'a>> = nodes
        .map(|c| Ranked::new(&mut room, c, totals.weighted))
        .collect();
    ranked.sort_by(|a, b| b.cmp(a));
    ranked.into_iter().map(|r| r.candidate.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash;

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| NodeId::new(n).unwrap()).collect()
    }

    fn equal(nodes: &[NodeId]) -> impl Iterator<Item = Candidate<'_>> + Clone {
        nodes.iter().map(Candidate::new)
    }

    fn weighted<'a>(
        nodes: &'a [NodeId],
        weights: &'a [u32],
    ) -> impl Iterator<Item = Candidate<'a>> + Clone {
        nodes.iter().zip(weights).map(|(id, &w)| Candidate {
            id,
            weight: Weight::new(w).unwrap(),
            load: 0,
        })
    }

    /// HRW orders for four nodes, equal and weighted 1, 2, 3, 4, computed
    /// independently (libxxhash through ctypes, Python's `math.log`); they pin
    /// the order and tie rules, not only the hash.
    #[test]
    fn golden_rankings() {
        let nodes = ids(&["node-a", "node-b", "node-c", "node-d"]);
        let weights = [1, 2, 3, 4];
        for (room, equal_order, weighted_order) in [
            ("lobby", "cbda", "cdba"),
            ("arena-7", "cadb", "cdba"),
            ("r-abcdefghij", "dbac", "dbca"),
            ("duel-1", "acdb", "cdab"),
            ("duel-2", "adcb", "adcb"),
            ("x", "bdca", "bdca"),
            ("room.with.dots", "bcad", "bcda"),
            ("Z", "bacd", "bcda"),
        ] {
            let letters = |order: Vec<&NodeId>| -> String {
                order
                    .iter()
                    .map(|id| id.as_str().chars().last().unwrap())
                    .collect()
            };
            assert_eq!(letters(ranking(room, equal(&nodes))), equal_order, "{room}");
            assert_eq!(
                letters(ranking(room, weighted(&nodes, &weights))),
                weighted_order,
                "{room} weighted"
            );
            assert_eq!(
                winner(room, equal(&nodes)).unwrap().as_str(),
                format!("node-{}", &equal_order[..1])
            );
            assert_eq!(
                winner(room, weighted(&nodes, &weights)).unwrap().as_str(),
                format!("node-{}", &weighted_order[..1])
            );
        }
    }

    /// With equal weights the order is the hashes' (no `ln`), and it is the
    /// order the scores give, whatever the common weight.
    #[test]
    fn equal_weights_order_by_hash_as_the_scores_do() {
        let nodes = ids(&["a", "b", "c", "d", "e", "f", "g"]);
        for i in 0..1_000 {
            let room = format!("room-{i}");
            let by_hash = ranking(&room, equal(&nodes));
            let by_score = {
                let mut v: Vec<&NodeId> = nodes.iter().collect();
                v.sort_by(|a, b| {
                    let (ha, hb) = (hash(a, &room), hash(b, &room));
                    score(hb, Weight::ONE)
                        .total_cmp(&score(ha, Weight::ONE))
                        .then(hb.cmp(&ha))
                });
                v
            };
            assert_eq!(by_hash, by_score, "{room}");
            assert_eq!(ranking(&room, weighted(&nodes, &[5; 7])), by_hash);
        }
    }

    /// Weight 2 takes about twice the rooms of weight 1. Over 10,000 rooms the
    /// shares (1/4, 1/4, 1/2) have standard deviations of about 0.0043 and
    /// 0.005, so the ratio of the heavy node's share to a light one's has one
    /// of about 0.04: ±0.2 is five of them.
    #[test]
    fn weight_two_takes_twice_the_share() {
        let nodes = ids(&["light-1", "light-2", "heavy"]);
        let weights = [1, 1, 2];
        let mut counts = [0u32; 3];
        const ROOMS: u32 = 10_000;
        for i in 0..ROOMS {
            let room = format!("r-{i}");
            let w = winner(&room, weighted(&nodes, &weights)).unwrap();
            counts[nodes.iter().position(|n| n == w).unwrap()] += 1;
        }
        let share = |c: u32| f64::from(c) / f64::from(ROOMS);
        let ratios = [
            f64::from(counts[2]) / f64::from(counts[0]),
            f64::from(counts[2]) / f64::from(counts[1]),
        ];
        println!(
            "weighted 1,1,2 over {ROOMS} rooms: shares {:.4} {:.4} {:.4}, heavy/light {:.3} {:.3}",
            share(counts[0]),
            share(counts[1]),
            share(counts[2]),
            ratios[0],
            ratios[1]
        );
        for r in ratios {
            assert!((1.8..=2.2).contains(&r), "{counts:?}");
        }
    }

    #[test]
    fn no_nodes_no_answer() {
        let none: Vec<NodeId> = Vec::new();
        assert_eq!(winner("lobby", equal(&none)), None);
        assert_eq!(bounded("lobby", equal(&none), LoadBound::default()), None);
        assert!(ranking("lobby", equal(&none)).is_empty());
    }

    #[test]
    fn caps() {
        let b = LoadBound::default();
        let one = Weight::ONE;
        // ceil((total + 1) × 1.25 / n)
        for (total, n, cap) in [
            (0, 3, 1),
            (2, 3, 2),
            (11, 4, 4),
            (12, 4, 5),
            (99, 4, 32),
            (9_999, 20, 625),
        ] {
            assert_eq!(b.cap(total, one, n), cap, "total {total}, n {n}");
        }
        let zero = LoadBound::new(0.0).unwrap();
        assert_eq!(zero.cap(11, one, 4), 3);
        assert_eq!(zero.cap(12, one, 4), 4);
        // Weight 2 of 4: half the rooms, times 1.25.
        assert_eq!(b.cap(99, Weight::new(2).unwrap(), 4), 63);
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            assert!(matches!(LoadBound::new(bad), Err(Error::InvalidEpsilon(_))));
        }
        assert_eq!(b.epsilon(), 0.25);
    }

    /// The load bound walks the HRW order: the first node below its cap
    /// takes the room.
    #[test]
    fn bounded_takes_the_next_below_its_cap() {
        let nodes = ids(&["node-a", "node-b", "node-c", "node-d"]);
        // "lobby" ranks c, b, d, a. Loads sum to 12 ⇒ cap ceil(13 × 1.25 / 4) = 5.
        for (loads, expected) in [
            ([3, 3, 3, 3], "node-c"),
            ([4, 4, 4, 0], "node-c"),
            ([2, 3, 5, 2], "node-b"),
            ([1, 5, 5, 1], "node-d"),
            ([0, 6, 6, 0], "node-d"),
            ([7, 0, 0, 5], "node-c"),
        ] {
            let candidates = nodes.iter().zip(loads).map(|(id, load)| Candidate {
                id,
                weight: Weight::ONE,
                load,
            });
            let choice = bounded("lobby", candidates, LoadBound::default()).unwrap();
            assert_eq!(choice.node.as_str(), expected, "{loads:?}");
            assert_eq!(choice.hrw_winner.as_str(), "node-c");
            assert_eq!(choice.diverted(), expected != "node-c", "{loads:?}");
            assert!(!choice.all_full);
            assert_eq!(choice.cap, 5);
            // Without a bound (ε so large the cap is never reached) it is pure HRW.
            let loose = LoadBound::new(1e9).unwrap();
            let candidates = nodes.iter().zip(loads).map(|(id, load)| Candidate {
                id,
                weight: Weight::ONE,
                load,
            });
            assert_eq!(
                bounded("lobby", candidates, loose).unwrap().node.as_str(),
                "node-c"
            );
        }
    }

    /// Every node at its cap cannot happen with the loads the candidates
    /// report (the caps add up to more than their sum); only a total that
    /// saturates gets there, and then the HRW winner takes the room.
    #[test]
    fn all_full_falls_back_to_the_winner() {
        let nodes = ids(&["node-a", "node-b", "node-c", "node-d"]);
        let candidates = nodes.iter().map(|id| Candidate {
            id,
            weight: Weight::ONE,
            load: u64::MAX,
        });
        let choice = bounded("lobby", candidates, LoadBound::default()).unwrap();
        assert_eq!(choice.node.as_str(), "node-c");
        assert!(choice.all_full && !choice.diverted());
    }
}
