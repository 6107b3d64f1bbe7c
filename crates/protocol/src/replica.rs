//! A client's copy of a room's state, rebuilt from full [`Snapshot`]s and
//! [`Delta`]s, and the server-side [`diff`] that produces those deltas.
//!
//! Both halves live here so one piece of code defines what a delta means:
//! `Replica::apply(diff(a, b)) == b` for every pair of frames with the same
//! players (velocities excepted where documented on [`Delta`]), which the
//! tests check by property. `assets/protocol.js` mirrors [`Replica`].

use crate::{Delta, Pellet, PlayerInfo, PlayerState, ScoreFix, Snapshot, VelocityFix};

/// Largest velocity error (quantized units) the derivation from the move may
/// make before the exact velocity is sent in `velocities` instead. One
/// position step of rounding is `tick_rate` units of velocity (20 at 20 Hz).
pub const VEL_TOLERANCE: i32 = 40;

/// The state of one frame, as the wire carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frame {
    /// The frame's tick.
    pub tick: u32,
    /// Players sorted by id.
    pub players: Vec<PlayerState>,
    /// Live pellets sorted by id.
    pub pellets: Vec<Pellet>,
    /// Names sorted by id.
    pub roster: Vec<PlayerInfo>,
}

impl From<Snapshot> for Frame {
    fn from(s: Snapshot) -> Frame {
        Frame {
            tick: s.tick,
            players: s.players,
            pellets: s.pellets,
            roster: s.roster,
        }
    }
}

impl Frame {
    /// The full snapshot of this frame.
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            tick: self.tick,
            players: self.players.clone(),
            pellets: self.pellets.clone(),
            roster: self.roster.clone(),
        }
    }
}

/// Why a delta could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A delta arrived before any full snapshot.
    #[error("delta for tick {0} before any full snapshot")]
    NoBase(u32),
    /// The delta is relative to another frame than the one held.
    #[error("delta based on tick {need}, but the replica holds tick {have}")]
    WrongBase {
        /// Tick the replica holds.
        have: u32,
        /// Tick the delta needs.
        need: u32,
    },
    /// `moves` or `acks` do not match the number of players.
    #[error("delta lists {moves} moves and {acks} acks for {players} players")]
    Shape {
        /// Entries in `moves`.
        moves: usize,
        /// Entries in `acks`.
        acks: usize,
        /// Players in the base frame.
        players: usize,
    },
    /// `changed` names a player that is not in the frame.
    #[error("delta changes unknown player {0}")]
    UnknownPlayer(u32),
}

/// A client's copy of the room state.
#[derive(Debug, Clone)]
pub struct Replica {
    frame: Option<Frame>,
    tick_rate: i32,
}

impl Replica {
    /// An empty replica for a room ticking at `tick_rate_hz` (from the Welcome).
    pub fn new(tick_rate_hz: u16) -> Self {
        Replica {
            frame: None,
            tick_rate: i32::from(tick_rate_hz.max(1)),
        }
    }

    /// The current frame, once a full snapshot arrived.
    pub fn frame(&self) -> Option<&Frame> {
        self.frame.as_ref()
    }

    /// Replaces the state with a full snapshot.
    pub fn apply_snapshot(&mut self, s: Snapshot) -> &Frame {
        self.frame.insert(Frame::from(s))
    }

    /// Applies a delta to the held frame. On error the replica is unchanged.
    pub fn apply_delta(&mut self, d: &Delta) -> Result<&Frame, ApplyError> {
        let frame = self.frame.as_mut().ok_or(ApplyError::NoBase(d.tick))?;
        let base = d.tick.wrapping_sub(1);
        if frame.tick != base {
            return Err(ApplyError::WrongBase {
                have: frame.tick,
                need: base,
            });
        }
        let n = frame.players.len();
        if d.moves.len() != n || d.acks.len() != n {
            return Err(ApplyError::Shape {
                moves: d.moves.len(),
                acks: d.acks.len(),
                players: n,
            });
        }
        let known = |id: u32| frame.players.binary_search_by_key(&id, |p| p.id).is_ok();
        let ids = d
            .velocities
            .iter()
            .map(|v| v.id)
            .chain(d.scores.iter().map(|s| s.id))
            .chain(d.changed.iter().map(|c| c.id));
        for id in ids {
            if !known(id) {
                return Err(ApplyError::UnknownPlayer(id));
            }
        }
        for ((p, m), a) in frame.players.iter_mut().zip(&d.moves).zip(&d.acks) {
            for (axis, &mv) in m.iter().enumerate() {
                let step = i32::from(mv);
                p.pos[axis] = (i32::from(p.pos[axis]) + step).clamp(0, i32::from(u16::MAX)) as u16;
                p.vel[axis] =
                    (step * self.tick_rate).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
            }
            p.last_input_seq = p.last_input_seq.wrapping_add(u32::from(*a));
        }
        let index =
            |players: &[PlayerState], id: u32| players.binary_search_by_key(&id, |p| p.id).ok();
        for v in &d.velocities {
            if let Some(i) = index(&frame.players, v.id) {
                frame.players[i].vel = v.vel;
            }
        }
        for sc in &d.scores {
            if let Some(i) = index(&frame.players, sc.id) {
                frame.players[i].score = sc.score;
            }
        }
        for c in &d.changed {
            if let Some(i) = index(&frame.players, c.id) {
                frame.players[i] = *c;
            }
        }
        if !d.pellets_removed.is_empty() {
            frame.pellets.retain(|p| !d.pellets_removed.contains(&p.id));
        }
        for added in &d.pellets_added {
            match frame.pellets.binary_search_by_key(&added.id, |p| p.id) {
                Ok(i) => frame.pellets[i] = *added,
                Err(i) => frame.pellets.insert(i, *added),
            }
        }
        frame.tick = d.tick;
        Ok(frame)
    }
}

/// The delta from frame `base` to frame `cur` (players of both sorted by id),
/// or `None` when a full snapshot is needed: the players differ, or `cur` is
/// not the tick right after `base`.
/// `tick_rate_hz` must be the room's, as the client derives velocities with it.
pub fn diff(base: &Frame, cur: &Frame, tick_rate_hz: u16) -> Option<Delta> {
    if cur.tick != base.tick.wrapping_add(1)
        || base.players.len() != cur.players.len()
        || base
            .players
            .iter()
            .zip(&cur.players)
            .any(|(a, b)| a.id != b.id)
    {
        return None;
    }
    let rate = i32::from(tick_rate_hz.max(1));
    let mut moves = Vec::with_capacity(cur.players.len());
    let mut acks = Vec::with_capacity(cur.players.len());
    let mut changed = Vec::new();
    let mut velocities = Vec::new();
    let mut scores = Vec::new();
    for (a, b) in base.players.iter().zip(&cur.players) {
        let step = |axis: usize| i32::from(b.pos[axis]) - i32::from(a.pos[axis]);
        let (dx, dy) = (step(0), step(1));
        let ack = b.last_input_seq.wrapping_sub(a.last_input_seq);
        let fits =
            i8::try_from(dx).is_ok() && i8::try_from(dy).is_ok() && ack <= u32::from(u8::MAX);
        let derived_ok = (i32::from(b.vel[0]) - dx * rate).abs() <= VEL_TOLERANCE
            && (i32::from(b.vel[1]) - dy * rate).abs() <= VEL_TOLERANCE;
        if fits {
            moves.push([dx as i8, dy as i8]);
            acks.push(ack as u8);
        } else {
            moves.push([0, 0]);
            acks.push(0);
        }
        if !fits {
            changed.push(*b);
            continue;
        }
        if !derived_ok {
            velocities.push(VelocityFix {
                id: b.id,
                vel: b.vel,
            });
        }
        if a.score != b.score {
            scores.push(ScoreFix {
                id: b.id,
                score: b.score,
            });
        }
    }
    let pellets_removed = base
        .pellets
        .iter()
        .filter(|p| cur.pellets.binary_search_by_key(&p.id, |q| q.id).is_err())
        .map(|p| p.id)
        .collect();
    let pellets_added = cur
        .pellets
        .iter()
        .filter(|p| {
            base.pellets
                .binary_search_by_key(&p.id, |q| q.id)
                .map_or(true, |i| base.pellets[i] != **p)
        })
        .copied()
        .collect();
    Some(Delta {
        tick: cur.tick,
        moves,
        acks,
        velocities,
        scores,
        changed,
        pellets_removed,
        pellets_added,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn player(id: u32, pos: [u16; 2], vel: [i16; 2], score: u32, seq: u32) -> PlayerState {
        PlayerState {
            id,
            pos,
            vel,
            score,
            last_input_seq: seq,
        }
    }

    fn frame(tick: u32, players: Vec<PlayerState>, pellets: Vec<Pellet>) -> Frame {
        let roster = players
            .iter()
            .map(|p| PlayerInfo {
                id: p.id,
                name: format!("p{}", p.id),
            })
            .collect();
        Frame {
            tick,
            players,
            pellets,
            roster,
        }
    }

    #[test]
    fn a_steady_mover_costs_three_bytes_and_no_change_entry() {
        let a = frame(7, vec![player(1, [1000, 1000], [400, 0], 0, 10)], vec![]);
        // Moved 20 steps in x in one tick at 20 Hz: velocity 400 derives exactly.
        let b = frame(8, vec![player(1, [1020, 1000], [400, 0], 0, 12)], vec![]);
        let d = diff(&a, &b, 20).expect("same players");
        assert_eq!(d.moves, vec![[20, 0]]);
        assert_eq!(d.acks, vec![2]);
        assert!(d.changed.is_empty());
        let mut r = Replica::new(20);
        r.apply_snapshot(a.to_snapshot());
        assert_eq!(r.apply_delta(&d).expect("applies"), &b);
    }

    #[test]
    fn jumps_go_in_changed_scores_and_bumps_in_their_lists() {
        let a = frame(
            1,
            vec![
                player(1, [0, 0], [0, 0], 0, 0),
                player(2, [500, 500], [0, 0], 3, 0),
                player(3, [9, 9], [0, 0], 0, 0),
            ],
            vec![],
        );
        let b = frame(
            2,
            vec![
                player(1, [300, 0], [0, 0], 0, 0),
                player(2, [500, 500], [0, 0], 4, 0),
                player(3, [10, 9], [-300, 0], 0, 0),
            ],
            vec![],
        );
        let d = diff(&a, &b, 20).expect("same players");
        let ids = |v: Vec<u32>| v;
        assert_eq!(
            ids(d.changed.iter().map(|p| p.id).collect()),
            [1],
            "too far for a move"
        );
        assert_eq!(d.scores, [ScoreFix { id: 2, score: 4 }]);
        assert_eq!(
            d.velocities,
            [VelocityFix {
                id: 3,
                vel: [-300, 0]
            }]
        );
        let mut r = Replica::new(20);
        r.apply_snapshot(a.to_snapshot());
        assert_eq!(r.apply_delta(&d).expect("applies"), &b);
    }

    #[test]
    fn a_gap_between_frames_needs_a_full_snapshot() {
        let a = frame(1, vec![player(1, [0, 0], [0, 0], 0, 0)], vec![]);
        let b = frame(3, a.players.clone(), vec![]);
        assert_eq!(diff(&a, &b, 20), None);
        let wrap = frame(u32::MAX, a.players.clone(), vec![]);
        let next = frame(0, a.players.clone(), vec![]);
        let d = diff(&wrap, &next, 20).expect("ticks wrap");
        let mut r = Replica::new(20);
        r.apply_snapshot(wrap.to_snapshot());
        assert_eq!(r.apply_delta(&d).expect("applies").tick, 0);
    }

    #[test]
    fn a_different_player_set_needs_a_full_snapshot() {
        let a = frame(1, vec![player(1, [0, 0], [0, 0], 0, 0)], vec![]);
        let b = frame(2, vec![player(2, [0, 0], [0, 0], 0, 0)], vec![]);
        assert_eq!(diff(&a, &b, 20), None);
        let c = frame(2, vec![], vec![]);
        assert_eq!(diff(&a, &c, 20), None);
    }

    #[test]
    fn deltas_that_do_not_fit_are_refused_without_changing_the_replica() {
        let a = frame(5, vec![player(1, [0, 0], [0, 0], 0, 0)], vec![]);
        let mut r = Replica::new(20);
        let d = diff(&a, &frame(6, a.players.clone(), vec![]), 20).expect("delta");
        assert_eq!(r.apply_delta(&d), Err(ApplyError::NoBase(6)));
        r.apply_snapshot(a.to_snapshot());
        let wrong = Delta {
            tick: 5,
            ..d.clone()
        };
        assert_eq!(
            r.apply_delta(&wrong),
            Err(ApplyError::WrongBase { have: 5, need: 4 })
        );
        let short = Delta {
            moves: vec![],
            ..d.clone()
        };
        assert!(matches!(
            r.apply_delta(&short),
            Err(ApplyError::Shape { .. })
        ));
        let stranger = Delta {
            changed: vec![player(9, [0, 0], [0, 0], 0, 0)],
            ..d.clone()
        };
        assert_eq!(r.apply_delta(&stranger), Err(ApplyError::UnknownPlayer(9)));
        let stranger_score = Delta {
            scores: vec![ScoreFix { id: 8, score: 1 }],
            ..d.clone()
        };
        assert_eq!(
            r.apply_delta(&stranger_score),
            Err(ApplyError::UnknownPlayer(8))
        );
        let stranger_vel = Delta {
            velocities: vec![VelocityFix { id: 7, vel: [1, 1] }],
            ..d.clone()
        };
        assert_eq!(
            r.apply_delta(&stranger_vel),
            Err(ApplyError::UnknownPlayer(7))
        );
        assert_eq!(r.frame(), Some(&a));
        assert!(r.apply_delta(&d).is_ok());
    }

    fn arb_pellets() -> impl Strategy<Value = Vec<Pellet>> {
        prop::collection::btree_map(0u16..40, any::<[u16; 2]>(), 0..30)
            .prop_map(|m| m.into_iter().map(|(id, pos)| Pellet { id, pos }).collect())
    }

    proptest! {
        /// Applying the diff of two frames to the first yields the second, with
        /// velocities either exact (in `changed`) or within the tolerance of the truth.
        #[test]
        fn apply_of_diff_reproduces_the_frame(
            ids in prop::collection::btree_set(1u32..1000, 0..60),
            seed in prop::collection::vec((any::<[u16; 2]>(), any::<[i16; 2]>(), 0u32..5, any::<u32>()), 60),
            change in prop::collection::vec((-70i32..70, -70i32..70, 0u32..3, prop::bool::weighted(0.05), 0u32..300, -3i32..3), 60),
            pellets_a in arb_pellets(),
            pellets_b in arb_pellets(),
        ) {
            let ids: Vec<u32> = ids.into_iter().collect();
            let a_players: Vec<PlayerState> = ids.iter().zip(&seed).map(|(&id, &(pos, vel, score, seq))| player(id, pos, vel, score, seq)).collect();
            let b_players: Vec<PlayerState> = a_players.iter().zip(&change).map(|(p, &(dx, dy, dscore, jump, dseq, verr))| {
                let mv = |v: u16, d: i32| (i32::from(v) + if jump { d * 10 } else { d }).clamp(0, 65535) as u16;
                let pos = [mv(p.pos[0], dx), mv(p.pos[1], dy)];
                let real = |axis: usize| ((i32::from(pos[axis]) - i32::from(p.pos[axis])) * 20 + verr * 30).clamp(-32768, 32767) as i16;
                player(p.id, pos, [real(0), real(1)], p.score + dscore, p.last_input_seq.wrapping_add(dseq))
            }).collect();
            let a = frame(100, a_players, pellets_a);
            let b = frame(101, b_players, pellets_b);
            let d = diff(&a, &b, 20).expect("same players");
            let mut r = Replica::new(20);
            r.apply_snapshot(a.to_snapshot());
            let got = r.apply_delta(&d).expect("applies").clone();
            prop_assert_eq!(got.tick, b.tick);
            prop_assert_eq!(&got.pellets, &b.pellets);
            prop_assert_eq!(got.players.len(), b.players.len());
            for (g, want) in got.players.iter().zip(&b.players) {
                prop_assert_eq!((g.id, g.pos, g.score, g.last_input_seq), (want.id, want.pos, want.score, want.last_input_seq));
                for axis in 0..2 {
                    prop_assert!((i32::from(g.vel[axis]) - i32::from(want.vel[axis])).abs() <= VEL_TOLERANCE);
                }
            }
            // Round-trips through the codec too.
            let bytes = crate::encode_server(&crate::ServerMsg::Delta(d.clone()));
            prop_assert_eq!(crate::decode_server(&bytes), Ok(crate::ServerMsg::Delta(d)));
        }
    }
}
