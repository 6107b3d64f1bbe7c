//! Property tests of placement over 10,000+ room ids: spread, what moves when
//! a node joins or leaves, the load bound, and dead nodes' claims.
//!
//! Each property runs a handful of cases (each case places 10,000 or 20,000
//! rooms) from a fixed seed, so a run is reproducible; the tolerances are
//! wide enough (see each test) that other seeds pass too. Run with
//! `-- --nocapture` to see the measured figures.

use std::collections::BTreeSet;

use proptest::{
    prelude::*,
    sample::Index,
    test_runner::{Config, RngSeed},
};
use tickroom_cluster::{
    Directory, DirectoryConfig, NodeId, Target, Weight, WsUrl,
    directory::{Basis, Member},
    hrw::{self, Candidate, LoadBound},
};

const ROOMS: usize = 10_000;

fn config() -> Config {
    Config {
        cases: 6,
        rng_seed: RngSeed::Fixed(12),
        failure_persistence: None,
        max_shrink_iters: 32,
        ..Config::default()
    }
}

/// `count` distinct node ids.
fn node_ids(count: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<NodeId>> {
    prop::collection::btree_set("[a-z][a-z0-9-]{0,11}", count)
        .prop_map(|ids| ids.iter().map(|s| NodeId::new(s).unwrap()).collect())
}

/// A prefix for room ids, so every case hashes other rooms.
fn prefix() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,8}-"
}

fn rooms(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}

fn url(id: &NodeId) -> WsUrl {
    WsUrl::new(&format!("ws://{id}.example:8080")).unwrap()
}

fn directory(ids: &[NodeId], config: DirectoryConfig, lease_until: u64) -> Directory {
    let mut d = Directory::new(ids[0].clone(), config);
    for id in ids {
        d.join(Member::new(id.clone(), url(id), lease_until), 0)
            .unwrap();
    }
    d
}

fn owner_of(d: &Directory, room: &str, now: u64) -> (NodeId, Basis) {
    let p = d.place(room, now).unwrap();
    let node = match p.target {
        Target::Local => d.self_id().clone(),
        Target::Remote { node, .. } => node,
    };
    (node, p.basis)
}

/// Places and claims every room in turn, as nodes starting rooms would.
fn fill(d: &mut Directory, rooms: &[String], now: u64) {
    for room in rooms {
        let (node, basis) = owner_of(d, room, now);
        assert!(matches!(basis, Basis::Chosen { .. }), "{room} was claimed");
        d.claim(room, &node, u64::MAX, now).unwrap();
    }
}

/// 5 standard deviations of a share `p` of `n` trials: a binomial share this
/// far off happens about once in 1.7 million cases.
fn five_sigma(p: f64, n: usize) -> f64 {
    5.0 * (p * (1.0 - p) / n as f64).sqrt()
}

proptest! {
    #![proptest_config(config())]

    /// Pure HRW over 3 to 20 equal nodes: the fullest node holds at most
    /// 1.15× the mean. With 20,000 rooms over 20 nodes (the worst case here)
    /// a node's count is about 1,000 ± 31, so 1.15× is 4.9 standard
    /// deviations: about 1 case in 100,000 would fail by chance.
    #[test]
    fn spread_over_equal_nodes(ids in node_ids(3..=20), prefix in prefix()) {
        let rooms = rooms(&prefix, 2 * ROOMS);
        let mut counts = vec![0u32; ids.len()];
        for room in &rooms {
            let w = hrw::winner(room, ids.iter().map(Candidate::new)).unwrap();
            counts[ids.iter().position(|id| id == w).unwrap()] += 1;
        }
        let mean = rooms.len() as f64 / ids.len() as f64;
        let max = f64::from(*counts.iter().max().unwrap());
        let min = f64::from(*counts.iter().min().unwrap());
        println!(
            "spread: {} nodes, {} rooms: max/mean {:.3}, min/mean {:.3}",
            ids.len(), rooms.len(), max / mean, min / mean
        );
        prop_assert!(max / mean <= 1.15, "{counts:?}");
    }

    /// Adding a node to N: under pure HRW it takes the rooms it now wins,
    /// about 1/(N+1) of them, and nothing else moves; in a directory every
    /// claimed room stays where it is, and of new rooms it takes about
    /// 1/(N+1) (pure HRW). Tolerance: 5 standard deviations of a binomial
    /// share of 10,000 (at most ±0.022, at N = 3).
    #[test]
    fn adding_a_node(all in node_ids(4..=21), new in any::<Index>(), prefix in prefix()) {
        let new = new.get(&all).clone();
        let old: Vec<NodeId> = all.iter().filter(|id| **id != new).cloned().collect();
        let n = old.len();
        let p = 1.0 / (n + 1) as f64;
        let tolerance = five_sigma(p, ROOMS);
        let rooms = rooms(&prefix, ROOMS);

        // Pure HRW, the same rooms before and after.
        let mut moved = 0;
        for room in &rooms {
            let before = hrw::winner(room, old.iter().map(Candidate::new)).unwrap();
            let after = hrw::winner(room, all.iter().map(Candidate::new)).unwrap();
            if before != after {
                prop_assert_eq!(after, &new, "{} moved between old nodes", room);
                moved += 1;
            }
        }
        let moved_share = f64::from(moved) / ROOMS as f64;

        // Directory: claims stay put.
        let mut d = directory(&old, DirectoryConfig::default(), u64::MAX);
        fill(&mut d, &rooms, 0);
        let owners: Vec<NodeId> = rooms.iter().map(|r| d.owner(r, 0).unwrap().owner.clone()).collect();
        d.join(Member::new(new.clone(), url(&new), u64::MAX), 1).unwrap();
        for (room, owner) in rooms.iter().zip(&owners) {
            let (node, basis) = owner_of(&d, room, 1);
            prop_assert!(matches!(basis, Basis::Claimed { .. }), "{:?}", basis);
            prop_assert_eq!(&node, owner, "claimed room {} moved", room);
        }
        // With the load bound (ε = 0.25) too, once N ≥ 4: the old nodes'
        // N/(N+1) × 1.25 of the mean stays under their cap (reported).
        let fresh = rooms_with(&prefix, "new", ROOMS);
        let bounded_share = share_of(&d, &fresh, &new);

        // Pure HRW directory (claims would not change where new rooms go):
        // new rooms split 1/(N+1).
        let pure = directory(&all, DirectoryConfig { load_bound: None }, u64::MAX);
        let new_share = share_of(&pure, &fresh, &new);
        println!(
            "add: {n} -> {} nodes: expected {p:.4} ± {tolerance:.4}; moved (pure HRW) {moved_share:.4}; \
             new rooms to the newcomer {new_share:.4} (pure), {bounded_share:.4} (bounded)",
            n + 1
        );
        prop_assert!((moved_share - p).abs() <= tolerance, "moved {moved_share}");
        prop_assert!((new_share - p).abs() <= tolerance, "new {new_share}");
    }

    /// Removing a node re-places only its rooms: pure HRW keeps every other
    /// room's winner, and a directory keeps every other claim; the removed
    /// node's rooms go to the others.
    #[test]
    fn removing_a_node(all in node_ids(4..=20), gone in any::<Index>(), prefix in prefix()) {
        let gone = gone.get(&all).clone();
        let rest: Vec<NodeId> = all.iter().filter(|id| **id != gone).cloned().collect();
        let rooms = rooms(&prefix, ROOMS);
        let mut d = directory(&all, DirectoryConfig::default(), u64::MAX);
        fill(&mut d, &rooms, 0);
        let owners: Vec<NodeId> = rooms.iter().map(|r| d.owner(r, 0).unwrap().owner.clone()).collect();
        let left = d.leave(&gone).unwrap();
        let tickroom_cluster::directory::Change::Left { rooms: voided, .. } = left else {
            panic!("{left:?}");
        };
        let expected: BTreeSet<&str> = rooms
            .iter()
            .zip(&owners)
            .filter(|(_, o)| **o == gone)
            .map(|(r, _)| r.as_str())
            .collect();
        prop_assert_eq!(voided.iter().map(|r| &**r).collect::<BTreeSet<_>>(), expected.clone());

        let mut hrw_moved = 0;
        for (room, owner) in rooms.iter().zip(&owners) {
            let (node, basis) = owner_of(&d, room, 1);
            prop_assert_ne!(&node, &gone);
            if *owner == gone {
                prop_assert!(matches!(basis, Basis::Chosen { .. }), "{:?}", basis);
            } else {
                prop_assert!(matches!(basis, Basis::Claimed { .. }), "{:?}", basis);
                prop_assert_eq!(&node, owner);
            }
            let before = hrw::winner(room, all.iter().map(Candidate::new)).unwrap();
            let after = hrw::winner(room, rest.iter().map(Candidate::new)).unwrap();
            if before != after {
                prop_assert_eq!(before, &gone, "{} moved off a remaining node", room);
                hrw_moved += 1;
            }
        }
        println!(
            "remove: {} -> {} nodes: re-placed {:.4} of claimed rooms, {:.4} under pure HRW (1/N = {:.4})",
            all.len(),
            rest.len(),
            expected.len() as f64 / ROOMS as f64,
            f64::from(hrw_moved) / ROOMS as f64,
            1.0 / all.len() as f64
        );
    }

    /// The load bound, placing and claiming rooms one by one, with weights
    /// 1 to 4 and ε of 0 (the tightest), 0.25 (the default) or anything up
    /// to 0.5.
    ///
    /// 1. Half the nodes take 10,000 rooms: after every placement no node
    ///    holds more than its cap, `ceil(total × (1 + ε) × w / W)`.
    /// 2. The other half joins (empty) and 5,000 more rooms come: the early
    ///    nodes now sit above their caps, which no placement can fix, so the
    ///    property is per placement: a room never goes to a node at its cap
    ///    while another is below its own, and it goes to the first node in
    ///    HRW order that is below (checked in both phases).
    #[test]
    fn load_bound_holds(
        ids in node_ids(3..=20),
        weights in prop::collection::vec(1u32..=4, 20),
        epsilon in prop_oneof![Just(0.0), Just(LoadBound::DEFAULT_EPSILON), 0.0f64..=0.5],
        prefix in prefix(),
    ) {
        let bound = LoadBound::new(epsilon).unwrap();
        let members: Vec<(NodeId, Weight)> = ids
            .iter()
            .zip(&weights)
            .map(|(id, &w)| (id.clone(), Weight::new(w).unwrap()))
            .collect();
        let (early, late) = members.split_at(members.len().div_ceil(2));
        let mut d = Directory::new(ids[0].clone(), DirectoryConfig { load_bound: Some(bound) });
        let join = |d: &mut Directory, group: &[(NodeId, Weight)]| {
            for (id, weight) in group {
                let mut m = Member::new(id.clone(), url(id), u64::MAX);
                m.weight = *weight;
                d.join(m, 0).unwrap();
            }
        };
        join(&mut d, early);
        let rooms = rooms(&prefix, ROOMS + ROOMS / 2);
        let mut diverted = [0u32; 2];
        let mut worst_after_join = 0.0f64;
        for (i, room) in rooms.iter().enumerate() {
            let phase = usize::from(i >= ROOMS);
            if i == ROOMS {
                join(&mut d, late);
            }
            let present: Vec<(NodeId, Weight)> =
                d.members().map(|m| (m.id.clone(), m.weight)).collect();
            let total: u64 = present.iter().map(|(id, _)| d.load(id)).sum();
            let weight: u64 = present.iter().map(|(_, w)| u64::from(w.get())).sum();
            let cap = |w: Weight| bound.cap(total, w, weight);
            if i == ROOMS {
                worst_after_join = present
                    .iter()
                    .map(|(id, w)| d.load(id) as f64 / cap(*w) as f64)
                    .fold(0.0, f64::max);
            }
            let (node, basis) = owner_of(&d, room, 0);
            let Basis::Chosen { diverted: was_diverted } = basis else { panic!("{basis:?}") };
            diverted[phase] += u32::from(was_diverted);
            let order = hrw::ranking(
                room,
                present.iter().map(|(id, w)| Candidate { id, weight: *w, load: 0 }),
            );
            let first_below = order
                .iter()
                .find(|id| {
                    let w = present.iter().find(|(p, _)| p == **id).unwrap().1;
                    d.load(id) < cap(w)
                })
                .expect("the caps add up to more than the rooms");
            prop_assert_eq!(*first_below, &node, "room {} ({})", i, room);
            d.claim(room, &node, u64::MAX, 0).unwrap();
            if phase == 0 {
                for (id, w) in &present {
                    prop_assert!(
                        d.load(id) <= cap(*w),
                        "after room {}: {} holds {} > cap {}", i, id, d.load(id), cap(*w)
                    );
                }
            }
        }
        let share = |group: &[(NodeId, Weight)]| -> f64 {
            let total: u64 = group.iter().map(|(id, _)| d.load(id)).sum();
            let weight: u64 = group.iter().map(|(_, w)| u64::from(w.get())).sum();
            group
                .iter()
                .map(|(id, w)| {
                    d.load(id) as f64 / (total as f64 * f64::from(w.get()) / weight as f64)
                })
                .fold(0.0, f64::max)
        };
        println!(
            "bound: ε {epsilon:.3}, {} then {} nodes: diverted {} of {ROOMS} rooms, then {} of {}; \
             after the late joins the fullest early node held {worst_after_join:.2}× its cap; \
             at the end the fullest node holds {:.3}× its weighted share",
            early.len(),
            members.len(),
            diverted[0],
            diverted[1],
            ROOMS / 2,
            share(&members)
        );
    }

    /// A node whose membership lease ran out loses its claims at once: its
    /// rooms are re-placed among the living before any sweep, every other
    /// room stays, and the sweep then reports exactly its rooms.
    #[test]
    fn dead_node_claims_are_void(ids in node_ids(3..=20), dead in any::<Index>(), prefix in prefix()) {
        const T: u64 = 60_000;
        let dead = dead.get(&ids).clone();
        let rooms = rooms(&prefix, ROOMS);
        let mut d = directory(&ids, DirectoryConfig::default(), T);
        fill(&mut d, &rooms, 0);
        for id in ids.iter().filter(|id| **id != dead) {
            d.heartbeat(id, 2 * T, T - 1).unwrap();
        }
        let owners: Vec<NodeId> = rooms.iter().map(|r| d.owner(r, T - 1).unwrap().owner.clone()).collect();
        let mut replaced = Vec::new();
        for (room, owner) in rooms.iter().zip(&owners) {
            let (node, basis) = owner_of(&d, room, T);
            prop_assert_ne!(&node, &dead);
            if *owner == dead {
                prop_assert!(matches!(basis, Basis::Chosen { .. }), "{:?}", basis);
                replaced.push(node);
            } else {
                prop_assert_eq!(basis, Basis::Claimed { lease_until: u64::MAX });
                prop_assert_eq!(&node, owner);
            }
        }
        let expected: Vec<&str> = rooms
            .iter()
            .zip(&owners)
            .filter(|(_, o)| **o == dead)
            .map(|(r, _)| r.as_str())
            .collect();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort_unstable();
        let swept = d.expire(T);
        prop_assert_eq!(swept.len(), 1);
        let tickroom_cluster::directory::Change::Expired { node, rooms: voided } = &swept[0] else {
            panic!("{swept:?}");
        };
        prop_assert_eq!(node, &dead);
        prop_assert_eq!(voided.iter().map(|r| &**r).collect::<Vec<_>>(), expected_sorted);
        // The sweep changes no answer.
        for (room, node) in expected.iter().zip(&replaced) {
            prop_assert_eq!(&owner_of(&d, room, T).0, node);
        }
        let living = ids.len() - 1;
        let most = (0..living)
            .map(|i| {
                let id = ids.iter().filter(|id| **id != dead).nth(i).unwrap();
                replaced.iter().filter(|n| *n == id).count()
            })
            .max()
            .unwrap_or(0);
        println!(
            "dead: {} nodes, {} rooms of the dead one re-placed among {living}: fullest took {:.3}× the mean",
            ids.len(),
            expected.len(),
            most as f64 / (expected.len() as f64 / living as f64)
        );
    }
}

fn rooms_with(prefix: &str, tag: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{tag}-{i}")).collect()
}

/// The share of `rooms` (unclaimed) that `d` would place on `node`.
fn share_of(d: &Directory, rooms: &[String], node: &NodeId) -> f64 {
    let hits = rooms
        .iter()
        .filter(|r| owner_of(d, r, 1).0 == *node)
        .count();
    hits as f64 / rooms.len() as f64
}
