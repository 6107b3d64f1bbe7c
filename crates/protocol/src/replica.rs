//! A client's copy of a room's state, rebuilt from full [`Snapshot`]s and
//! [`Delta`]s, and the server-side [`diff`] that produces those deltas.
//!
//! Both halves live here so one piece of code defines what a delta means:
//! `Replica::apply(diff(a, b)) == b` exactly, for every pair of frames up to
//! [`MAX_BASE_AGE`] ticks apart, whatever players joined or left between them
//! (the tests check it by property, including random drop patterns). Frames
//! are canonical ([`settle_velocities`]): a velocity within [`VEL_TOLERANCE`]
//! of the one derived from the last move *is* the derived one, so a steady
//! mover costs no velocity bytes and the client's copy still hashes to the
//! server's [`checksum`]. `clients/js/src/protocol.js` mirrors [`Replica`] and
//! [`checksum`].

use crate::{
    Checksum, Delta, MAX_BASE_AGE, NewPlayer, Pellet, PlayerInfo, PlayerState, ScoreFix, Snapshot,
    VelocityFix,
};

/// Largest velocity error (quantized units) the server folds into the
/// velocity derived from the move ([`settle_velocities`]). One position step
/// of rounding is `tick_rate` units of velocity (20 at 20 Hz).
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
    /// Names sorted by id (the same ids as `players`).
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

    /// This frame's [`checksum`].
    pub fn checksum(&self) -> Checksum {
        checksum(self)
    }
}

/// The frame checksum a [`Delta`] carries: MurmurHash3 (x86, 32-bit, seed 0)
/// of this sequence of little-endian `u32` words:
/// `tick`, the number of players, then per player `id`, `pos[0] | pos[1] << 16`,
/// `vel[0] as u16 | (vel[1] as u16) << 16`, `score`, `last_input_seq`; then
/// the number of pellets, and per pellet `id | pos[0] << 16`, `pos[1]`.
/// Names are not covered. Cheap (five words a player) and the same in JS.
pub fn checksum(f: &Frame) -> Checksum {
    let mut h = Murmur3::default();
    h.word(f.tick);
    h.word(f.players.len() as u32);
    for p in &f.players {
        h.word(p.id);
        h.word(u32::from(p.pos[0]) | u32::from(p.pos[1]) << 16);
        h.word(u32::from(p.vel[0] as u16) | u32::from(p.vel[1] as u16) << 16);
        h.word(p.score);
        h.word(p.last_input_seq);
    }
    h.word(f.pellets.len() as u32);
    for q in &f.pellets {
        h.word(u32::from(q.id) | u32::from(q.pos[0]) << 16);
        h.word(u32::from(q.pos[1]));
    }
    Checksum(h.finish())
}

/// MurmurHash3_x86_32 over whole 4-byte blocks, seed 0.
#[derive(Default)]
struct Murmur3 {
    h: u32,
    len: u32,
}

impl Murmur3 {
    fn word(&mut self, w: u32) {
        let k = w
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593);
        self.h = (self.h ^ k)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
        self.len = self.len.wrapping_add(4);
    }

    fn finish(&self) -> u32 {
        let mut h = self.h ^ self.len;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}

/// The velocity a client derives from a move of `step` quantized units over
/// `age` ticks: `trunc(step × rate / age)`, clamped to `i16`.
fn derived_vel(step: i32, rate: i32, age: i32) -> i16 {
    (step * rate / age.max(1)).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Makes `cur` canonical against the frame of the tick before it: every
/// player's velocity within [`VEL_TOLERANCE`] (per axis) of the velocity
/// derived from its move since `prev` becomes exactly that derived velocity.
/// The server calls it once per frame before publishing; clients never do.
/// Does nothing unless `prev` is the frame of `cur.tick - 1`.
pub fn settle_velocities(prev: &Frame, cur: &mut Frame, tick_rate_hz: u16) {
    if cur.tick != prev.tick.wrapping_add(1) {
        return;
    }
    let rate = i32::from(tick_rate_hz.max(1));
    let mut j = 0;
    for p in &mut cur.players {
        while j < prev.players.len() && prev.players[j].id < p.id {
            j += 1;
        }
        let Some(a) = prev.players.get(j).filter(|a| a.id == p.id) else {
            continue;
        };
        let derived = [0, 1]
            .map(|axis| derived_vel(i32::from(p.pos[axis]) - i32::from(a.pos[axis]), rate, 1));
        if (0..2)
            .all(|axis| (i32::from(p.vel[axis]) - i32::from(derived[axis])).abs() <= VEL_TOLERANCE)
        {
            p.vel = derived;
        }
    }
}

/// Why a delta could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// A delta arrived before any full snapshot (or after a checksum mismatch).
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
    /// `moves` or `acks` do not match the number of remaining players.
    #[error("delta lists {moves} moves and {acks} acks for {players} players")]
    Shape {
        /// Entries in `moves`.
        moves: usize,
        /// Entries in `acks`.
        acks: usize,
        /// Players of the base frame that remain.
        players: usize,
    },
    /// `removed`, `changed` or a fix names a player that is not in the frame.
    #[error("delta names unknown player {0}")]
    UnknownPlayer(u32),
    /// `added` names a player that is already in the frame, or is not sorted.
    #[error("delta adds player {0}, who is already there")]
    DuplicatePlayer(u32),
    /// The frame the delta produced does not hash to its checksum: a bug on
    /// one side. The replica drops its frame and waits for a full snapshot.
    #[error("frame {tick} hashes to {got:08x}, the delta says {want:08x}")]
    ChecksumMismatch {
        /// The produced frame's tick.
        tick: u32,
        /// The delta's checksum.
        want: u32,
        /// The produced frame's checksum.
        got: u32,
    },
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

    /// Applies a delta to the held frame. On a shape error the replica is
    /// unchanged; on a checksum mismatch it holds no frame until the next
    /// full snapshot.
    pub fn apply_delta(&mut self, d: &Delta) -> Result<&Frame, ApplyError> {
        let frame = self.frame.as_mut().ok_or(ApplyError::NoBase(d.tick))?;
        check(frame, d)?;
        apply_checked(frame, d, self.tick_rate);
        let got = checksum(frame);
        if got != d.checksum {
            self.frame = None;
            return Err(ApplyError::ChecksumMismatch {
                tick: d.tick,
                want: d.checksum.0,
                got: got.0,
            });
        }
        Ok(self
            .frame
            .as_ref()
            .unwrap_or_else(|| unreachable!("just applied")))
    }
}

/// Everything [`apply_checked`] relies on, checked without changing `frame`.
fn check(frame: &Frame, d: &Delta) -> Result<(), ApplyError> {
    let age = u32::from(d.base_age);
    let need = d.tick.wrapping_sub(age);
    if age == 0 || frame.tick != need {
        return Err(ApplyError::WrongBase {
            have: frame.tick,
            need,
        });
    }
    let present = |id: u32| frame.players.binary_search_by_key(&id, |p| p.id).is_ok();
    let mut last = None;
    for &id in &d.removed {
        if !present(id) || last.is_some_and(|l| l >= id) {
            return Err(ApplyError::UnknownPlayer(id));
        }
        last = Some(id);
    }
    let removed = |id: u32| d.removed.binary_search(&id).is_ok();
    let n = frame.players.len() - d.removed.len();
    if d.moves.len() != n || d.acks.len() != n {
        return Err(ApplyError::Shape {
            moves: d.moves.len(),
            acks: d.acks.len(),
            players: n,
        });
    }
    let fixed = d
        .velocities
        .iter()
        .map(|v| v.id)
        .chain(d.scores.iter().map(|s| s.id))
        .chain(d.changed.iter().map(|c| c.id));
    for id in fixed {
        if !present(id) || removed(id) {
            return Err(ApplyError::UnknownPlayer(id));
        }
    }
    let mut last = None;
    for a in &d.added {
        let id = a.state.id;
        if (present(id) && !removed(id)) || last.is_some_and(|l| l >= id) {
            return Err(ApplyError::DuplicatePlayer(id));
        }
        last = Some(id);
    }
    Ok(())
}

fn apply_checked(frame: &mut Frame, d: &Delta, rate: i32) {
    if !d.removed.is_empty() {
        let gone = |id: u32| d.removed.binary_search(&id).is_ok();
        frame.players.retain(|p| !gone(p.id));
        frame.roster.retain(|r| !gone(r.id));
    }
    let age = i32::from(d.base_age);
    for ((p, m), a) in frame.players.iter_mut().zip(&d.moves).zip(&d.acks) {
        for (axis, &mv) in m.iter().enumerate() {
            let step = i32::from(mv);
            p.pos[axis] = (i32::from(p.pos[axis]) + step).clamp(0, i32::from(u16::MAX)) as u16;
            p.vel[axis] = derived_vel(step, rate, age);
        }
        p.last_input_seq = p.last_input_seq.wrapping_add(u32::from(*a));
    }
    let index = |players: &[PlayerState], id: u32| players.binary_search_by_key(&id, |p| p.id).ok();
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
    for added in &d.added {
        let id = added.state.id;
        let i = frame.players.partition_point(|p| p.id < id);
        frame.players.insert(i, added.state);
        let info = PlayerInfo {
            id,
            name: added.name.clone(),
        };
        match frame.roster.binary_search_by_key(&id, |r| r.id) {
            Ok(i) => frame.roster[i] = info,
            Err(i) => frame.roster.insert(i, info),
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
}

/// The delta from frame `base` to frame `cur` (players of both sorted by id),
/// with `checksum` the checksum of `cur` (computed once per frame by the
/// caller, shared by every delta to it). `None` when `cur` is not 1 to
/// [`MAX_BASE_AGE`] ticks after `base`: then only a full snapshot will do.
/// `tick_rate_hz` must be the room's, as the client derives velocities with it.
pub fn diff(base: &Frame, cur: &Frame, checksum: Checksum, tick_rate_hz: u16) -> Option<Delta> {
    let age = cur.tick.wrapping_sub(base.tick);
    if age == 0 || age > MAX_BASE_AGE {
        return None;
    }
    let rate = i32::from(tick_rate_hz.max(1));
    let mut d = Delta {
        tick: cur.tick,
        base_age: age as u8,
        checksum,
        removed: Vec::new(),
        moves: Vec::with_capacity(cur.players.len()),
        acks: Vec::with_capacity(cur.players.len()),
        velocities: Vec::new(),
        scores: Vec::new(),
        changed: Vec::new(),
        added: Vec::new(),
        pellets_removed: Vec::new(),
        pellets_added: Vec::new(),
    };
    // Merge the two sorted player lists.
    let (mut i, mut j) = (0, 0);
    while i < base.players.len() || j < cur.players.len() {
        let a = base.players.get(i);
        let b = cur.players.get(j);
        match (a, b) {
            (Some(a), Some(b)) if a.id == b.id => {
                let name = name_of(cur, j, b.id).unwrap_or("");
                // A base frame may carry no roster (the server keeps names only
                // in its newest frame): only a name the base does hold can differ.
                if name_of(base, i, a.id).is_none_or(|old| old == name) {
                    diff_player(a, b, rate, age as i32, &mut d);
                } else {
                    // Another name under the same id (a player left and one
                    // joined under its id, or a rename): moves and fixes never
                    // touch the roster, so it leaves and joins again.
                    d.removed.push(a.id);
                    d.added.push(NewPlayer {
                        state: *b,
                        name: name.to_owned(),
                    });
                }
                i += 1;
                j += 1;
            }
            (Some(a), b) if b.is_none_or(|b| a.id < b.id) => {
                d.removed.push(a.id);
                i += 1;
            }
            (_, Some(b)) => {
                let name = name_of(cur, j, b.id).unwrap_or("").to_owned();
                d.added.push(NewPlayer { state: *b, name });
                j += 1;
            }
            (_, None) => unreachable!("the loop condition holds one of them"),
        }
    }
    d.pellets_removed = base
        .pellets
        .iter()
        .filter(|p| cur.pellets.binary_search_by_key(&p.id, |q| q.id).is_err())
        .map(|p| p.id)
        .collect();
    d.pellets_added = cur
        .pellets
        .iter()
        .filter(|p| {
            base.pellets
                .binary_search_by_key(&p.id, |q| q.id)
                .map_or(true, |i| base.pellets[i] != **p)
        })
        .copied()
        .collect();
    Some(d)
}

/// The roster name of player `id`, the `k`-th player of `f` (its roster is
/// sorted by id like its players, so usually at the same index); `None` when
/// the roster does not name it.
fn name_of(f: &Frame, k: usize, id: u32) -> Option<&str> {
    f.roster
        .get(k)
        .filter(|r| r.id == id)
        .or_else(|| {
            f.roster
                .binary_search_by_key(&id, |r| r.id)
                .ok()
                .map(|k| &f.roster[k])
        })
        .map(|r| r.name.as_str())
}

/// One player present in both frames.
fn diff_player(a: &PlayerState, b: &PlayerState, rate: i32, age: i32, d: &mut Delta) {
    let step = |axis: usize| i32::from(b.pos[axis]) - i32::from(a.pos[axis]);
    let (dx, dy) = (step(0), step(1));
    let ack = b.last_input_seq.wrapping_sub(a.last_input_seq);
    let fits = i8::try_from(dx).is_ok() && i8::try_from(dy).is_ok() && ack <= u32::from(u8::MAX);
    if !fits {
        d.moves.push([0, 0]);
        d.acks.push(0);
        d.changed.push(*b);
        return;
    }
    d.moves.push([dx as i8, dy as i8]);
    d.acks.push(ack as u8);
    if [derived_vel(dx, rate, age), derived_vel(dy, rate, age)] != b.vel {
        d.velocities.push(VelocityFix {
            id: b.id,
            vel: b.vel,
        });
    }
    if a.score != b.score {
        d.scores.push(ScoreFix {
            id: b.id,
            score: b.score,
        });
    }
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

    fn delta(a: &Frame, b: &Frame) -> Delta {
        diff(a, b, b.checksum(), 20).expect("within the history")
    }

    fn replica_at(a: &Frame) -> Replica {
        let mut r = Replica::new(20);
        r.apply_snapshot(a.to_snapshot());
        r
    }

    #[test]
    fn a_steady_mover_costs_three_bytes_and_no_fix() {
        let a = frame(7, vec![player(1, [1000, 1000], [400, 0], 0, 10)], vec![]);
        // Moved 20 steps in x in one tick at 20 Hz: velocity 400 derives exactly.
        let b = frame(8, vec![player(1, [1020, 1000], [400, 0], 0, 12)], vec![]);
        let d = delta(&a, &b);
        assert_eq!(
            (d.base_age, &d.moves, &d.acks),
            (1, &vec![[20, 0]], &vec![2])
        );
        assert!(d.changed.is_empty() && d.velocities.is_empty() && d.added.is_empty());
        assert_eq!(replica_at(&a).apply_delta(&d).expect("applies"), &b);
    }

    #[test]
    fn settled_velocities_are_the_derived_ones_within_the_tolerance() {
        let a = frame(
            1,
            vec![
                player(1, [100, 100], [0, 0], 0, 0),
                player(2, [0, 0], [0, 0], 0, 0),
            ],
            vec![],
        );
        let mut b = frame(
            2,
            vec![
                player(1, [110, 100], [215, -30], 0, 0),
                player(2, [5, 0], [-300, 0], 0, 0),
            ],
            vec![],
        );
        settle_velocities(&a, &mut b, 20);
        assert_eq!(
            b.players[0].vel,
            [200, 0],
            "within 40 of the derived velocity"
        );
        assert_eq!(
            b.players[1].vel,
            [-300, 0],
            "a bump keeps its exact velocity"
        );
        let d = delta(&a, &b);
        assert_eq!(
            d.velocities,
            [VelocityFix {
                id: 2,
                vel: [-300, 0]
            }]
        );
        assert_eq!(replica_at(&a).apply_delta(&d).expect("applies"), &b);
        // Not the previous tick: nothing to settle against.
        let mut c = frame(4, b.players.clone(), vec![]);
        settle_velocities(&a, &mut c, 20);
        assert_eq!(c.players, b.players);
    }

    #[test]
    fn jumps_go_in_changed_and_scores_in_their_list() {
        let a = frame(
            1,
            vec![
                player(1, [0, 0], [0, 0], 0, 0),
                player(2, [500, 500], [0, 0], 3, 0),
            ],
            vec![],
        );
        let b = frame(
            2,
            vec![
                player(1, [300, 0], [0, 0], 0, 0),
                player(2, [500, 500], [0, 0], 4, 300),
            ],
            vec![],
        );
        let d = delta(&a, &b);
        assert_eq!(
            d.changed.iter().map(|p| p.id).collect::<Vec<_>>(),
            [1, 2],
            "too far, too many acks"
        );
        let c = frame(
            3,
            vec![
                player(1, [300, 0], [0, 0], 0, 0),
                player(2, [500, 500], [0, 0], 5, 300),
            ],
            vec![],
        );
        assert_eq!(delta(&b, &c).scores, [ScoreFix { id: 2, score: 5 }]);
        assert_eq!(replica_at(&a).apply_delta(&d).expect("applies"), &b);
    }

    #[test]
    fn a_delta_can_skip_frames_the_client_never_got() {
        let a = frame(
            10,
            vec![player(1, [1000, 1000], [0, 0], 0, 5)],
            vec![Pellet { id: 1, pos: [9, 9] }],
        );
        let b = frame(
            13,
            vec![player(1, [1060, 970], [400, -200], 1, 9)],
            vec![Pellet { id: 2, pos: [3, 3] }],
        );
        let d = delta(&a, &b);
        assert_eq!(d.base_age, 3);
        assert_eq!(d.moves, [[60, -30]]);
        assert!(
            d.velocities.is_empty(),
            "60 steps over 3 ticks at 20 Hz is 400"
        );
        assert_eq!(
            (d.pellets_removed.as_slice(), d.pellets_added.len()),
            (&[1u16][..], 1)
        );
        assert_eq!(replica_at(&a).apply_delta(&d).expect("applies"), &b);
        // Beyond the largest age, or no age at all: only a full snapshot will do.
        assert_eq!(
            diff(
                &a,
                &frame(10 + MAX_BASE_AGE + 1, vec![], vec![]),
                Checksum(0),
                20
            ),
            None
        );
        assert_eq!(diff(&a, &a, Checksum(0), 20), None);
        // Ticks wrap.
        let wrap = frame(u32::MAX, a.players.clone(), vec![]);
        let next = frame(1, a.players.clone(), vec![]);
        assert_eq!(
            replica_at(&wrap)
                .apply_delta(&delta(&wrap, &next))
                .expect("applies")
                .tick,
            1
        );
    }

    #[test]
    fn joins_and_leaves_are_a_few_bytes_not_a_snapshot() {
        let a = frame(
            1,
            vec![
                player(1, [0, 0], [0, 0], 0, 0),
                player(2, [50, 50], [0, 0], 2, 0),
                player(3, [9, 9], [0, 0], 0, 0),
            ],
            vec![],
        );
        let mut b = frame(
            2,
            vec![
                player(1, [1, 0], [20, 0], 0, 0),
                player(3, [9, 9], [0, 0], 0, 0),
                player(4, [700, 700], [0, 0], 0, 0),
            ],
            vec![],
        );
        b.roster[2].name = "newcomer".into();
        let d = delta(&a, &b);
        assert_eq!(d.removed, [2]);
        assert_eq!(d.moves.len(), 2);
        assert_eq!(
            d.added,
            [NewPlayer {
                state: b.players[2],
                name: "newcomer".into()
            }]
        );
        assert_eq!(replica_at(&a).apply_delta(&d).expect("applies"), &b);
        // In a 50-player room a join plus a leave costs a few bytes over a
        // plain delta (the newcomer's state and name), not a snapshot each.
        let many = |tick, skip: u32, extra: Option<u32>| {
            let ids = (1..=50).filter(|&id| id != skip).chain(extra);
            frame(
                tick,
                ids.map(|id| player(id, [id as u16 * 300, 9000], [0, 0], id, id))
                    .collect(),
                vec![],
            )
        };
        let len = |a: &Frame, b: &Frame| {
            crate::encode_server(&crate::ServerMsg::Delta(delta(a, b))).len()
        };
        let a = many(1, 0, None);
        let (churned, plain) = (many(2, 7, Some(51)), many(2, 0, None));
        let d = delta(&a, &churned);
        assert_eq!((d.removed.as_slice(), d.added.len()), (&[7u32][..], 1));
        assert!(
            len(&a, &churned) <= len(&a, &plain) + 24,
            "{} vs {} bytes",
            len(&a, &churned),
            len(&a, &plain)
        );
    }

    #[test]
    fn a_new_name_under_an_old_id_reaches_the_roster() {
        // Found by tests/fuzz.rs: `diff` matched players by id only, so a
        // player who left and one who joined under the same id within the
        // delta's window (or a rename) kept the old name on the client, and
        // the checksum (names are not covered) could not tell.
        let a = frame(
            1,
            vec![
                player(1, [0, 0], [0, 0], 0, 0),
                player(2, [50, 50], [0, 0], 2, 0),
            ],
            vec![],
        );
        let mut b = frame(
            3,
            vec![
                player(1, [1, 0], [10, 0], 0, 0),
                player(2, [9000, 9000], [0, 0], 0, 0),
            ],
            vec![],
        );
        b.roster[1].name = "someone else".into();
        let d = delta(&a, &b);
        assert_eq!(d.removed, [2]);
        assert_eq!(
            d.added,
            [NewPlayer {
                state: b.players[1],
                name: "someone else".into()
            }]
        );
        assert_eq!(replica_at(&a).apply_delta(&d).expect("applies"), &b);
        // Same names: the compact form, as before.
        let c = frame(4, b.players.clone(), vec![]);
        let mut c = Frame {
            roster: b.roster.clone(),
            ..c
        };
        c.players[0].pos = [2, 0];
        let d = delta(&b, &c);
        assert!(d.removed.is_empty() && d.added.is_empty());
        assert_eq!(replica_at(&b).apply_delta(&d).expect("applies"), &c);
    }

    #[test]
    fn the_checksum_is_pinned() {
        // Pinned against an independent MurmurHash3 (Python's mmh3); the JS
        // client checks the same values through the vectors file.
        let f = frame(
            42,
            vec![player(7, [1, 2], [-3, 4], 5, 6)],
            vec![Pellet {
                id: 9,
                pos: [10, 11],
            }],
        );
        assert_eq!(checksum(&Frame::default()), Checksum(0xd941_144b));
        assert_eq!(f.checksum(), Checksum(0x17cb_4a7c));
        let mut g = f.clone();
        g.players[0].vel[1] = 5;
        assert_ne!(g.checksum(), f.checksum());
        g.players[0].vel[1] = 4;
        g.roster[0].name = "renamed".into();
        assert_eq!(g.checksum(), f.checksum(), "names are not covered");
    }

    #[test]
    fn deltas_that_do_not_fit_are_refused_without_changing_the_replica() {
        let a = frame(
            5,
            vec![
                player(1, [0, 0], [0, 0], 0, 0),
                player(2, [0, 0], [0, 0], 0, 0),
            ],
            vec![],
        );
        let d = delta(&a, &frame(6, a.players.clone(), vec![]));
        assert_eq!(Replica::new(20).apply_delta(&d), Err(ApplyError::NoBase(6)));
        let mut r = replica_at(&a);
        let refused = |r: &mut Replica, bad: Delta| r.apply_delta(&bad).expect_err("refused");
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    base_age: 2,
                    ..d.clone()
                }
            ),
            ApplyError::WrongBase { have: 5, need: 4 }
        );
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    base_age: 0,
                    ..d.clone()
                }
            ),
            ApplyError::WrongBase { have: 5, need: 6 }
        );
        assert!(matches!(
            refused(
                &mut r,
                Delta {
                    moves: vec![],
                    ..d.clone()
                }
            ),
            ApplyError::Shape { .. }
        ));
        assert!(matches!(
            refused(
                &mut r,
                Delta {
                    removed: vec![1],
                    ..d.clone()
                }
            ),
            ApplyError::Shape { .. }
        ));
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    removed: vec![9],
                    ..d.clone()
                }
            ),
            ApplyError::UnknownPlayer(9)
        );
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    removed: vec![2, 1],
                    moves: vec![],
                    acks: vec![],
                    ..d.clone()
                }
            ),
            ApplyError::UnknownPlayer(1)
        );
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    changed: vec![player(9, [0, 0], [0, 0], 0, 0)],
                    ..d.clone()
                }
            ),
            ApplyError::UnknownPlayer(9)
        );
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    scores: vec![ScoreFix { id: 8, score: 1 }],
                    ..d.clone()
                }
            ),
            ApplyError::UnknownPlayer(8)
        );
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    velocities: vec![VelocityFix { id: 7, vel: [1, 1] }],
                    ..d.clone()
                }
            ),
            ApplyError::UnknownPlayer(7)
        );
        let removed_then_fixed = Delta {
            removed: vec![2],
            moves: vec![[0, 0]],
            acks: vec![0],
            scores: vec![ScoreFix { id: 2, score: 1 }],
            ..d.clone()
        };
        assert_eq!(
            refused(&mut r, removed_then_fixed),
            ApplyError::UnknownPlayer(2)
        );
        let again = NewPlayer {
            state: a.players[0],
            name: String::new(),
        };
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    added: vec![again],
                    ..d.clone()
                }
            ),
            ApplyError::DuplicatePlayer(1)
        );
        let unsorted = vec![
            NewPlayer {
                state: player(9, [0, 0], [0, 0], 0, 0),
                name: String::new(),
            },
            NewPlayer {
                state: player(8, [0, 0], [0, 0], 0, 0),
                name: String::new(),
            },
        ];
        assert_eq!(
            refused(
                &mut r,
                Delta {
                    added: unsorted,
                    ..d.clone()
                }
            ),
            ApplyError::DuplicatePlayer(8)
        );
        assert_eq!(
            r.frame(),
            Some(&a),
            "shape errors leave the replica as it was"
        );
        // A checksum mismatch means the copies diverged: the frame is dropped.
        let wrong = Delta {
            checksum: Checksum(d.checksum.0 ^ 1),
            ..d.clone()
        };
        assert!(matches!(
            refused(&mut r, wrong),
            ApplyError::ChecksumMismatch { tick: 6, .. }
        ));
        assert_eq!(r.frame(), None);
        assert_eq!(r.apply_delta(&d), Err(ApplyError::NoBase(6)));
    }

    fn arb_pellets() -> impl Strategy<Value = Vec<Pellet>> {
        prop::collection::btree_map(0u16..40, any::<[u16; 2]>(), 0..30)
            .prop_map(|m| m.into_iter().map(|(id, pos)| Pellet { id, pos }).collect())
    }

    /// One tick of a random room: players move (now and then far), bump,
    /// score, get inputs acknowledged, join and leave; pellets change.
    #[derive(Debug, Clone)]
    struct Step {
        moves: Vec<(i32, i32, bool, i32, u32, u32)>,
        leave: Vec<usize>,
        join: Vec<([u16; 2], [i16; 2])>,
        pellets: Option<Vec<Pellet>>,
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        (
            prop::collection::vec(
                (
                    -30i32..30,
                    -30i32..30,
                    prop::bool::weighted(0.05),
                    -4i32..4,
                    0u32..2,
                    0u32..4,
                ),
                12,
            ),
            prop::collection::vec(0usize..12, 0..2),
            prop::collection::vec((any::<[u16; 2]>(), any::<[i16; 2]>()), 0..2),
            prop::option::weighted(0.2, arb_pellets()),
        )
            .prop_map(|(moves, leave, join, pellets)| Step {
                moves,
                leave,
                join,
                pellets,
            })
    }

    /// The server's frames for `steps`, canonical as the room publishes them.
    fn frames_for(first: &Frame, steps: &[Step]) -> Vec<Frame> {
        let mut frames = vec![first.clone()];
        let mut next_id = first.players.iter().map(|p| p.id).max().unwrap_or(0) + 1;
        for step in steps {
            let prev = frames.last().expect("one at least").clone();
            let mut players: Vec<PlayerState> = prev
                .players
                .iter()
                .zip(step.moves.iter().cycle())
                .map(|(p, &(dx, dy, jump, bump, dscore, dseq))| {
                    let mv = |v: u16, d: i32| {
                        (i32::from(v) + if jump { d * 20 } else { d }).clamp(0, 65535) as u16
                    };
                    let pos = [mv(p.pos[0], dx), mv(p.pos[1], dy)];
                    let vel = |axis: usize| {
                        ((i32::from(pos[axis]) - i32::from(p.pos[axis])) * 20 + bump * 25)
                            .clamp(-32768, 32767) as i16
                    };
                    player(
                        p.id,
                        pos,
                        [vel(0), vel(1)],
                        p.score + dscore,
                        p.last_input_seq.wrapping_add(dseq),
                    )
                })
                .collect();
            for &k in &step.leave {
                if k < players.len() {
                    players.remove(k);
                }
            }
            for &(pos, vel) in &step.join {
                players.push(player(next_id, pos, vel, 0, 0));
                next_id += 1;
            }
            let mut cur = frame(
                prev.tick.wrapping_add(1),
                players,
                step.pellets.clone().unwrap_or(prev.pellets.clone()),
            );
            settle_velocities(&prev, &mut cur, 20);
            frames.push(cur);
        }
        frames
    }

    proptest! {
        /// For random frame sequences with random drop patterns and roster
        /// changes, applying what a client was sent (a full snapshot first,
        /// then each frame it got as a delta against the newest frame it was
        /// sent) reproduces the server's frame exactly, checksum included.
        #[test]
        fn what_a_client_was_sent_reproduces_every_frame_exactly(
            ids in prop::collection::btree_set(1u32..1000, 0..12),
            start in any::<u32>(),
            steps in prop::collection::vec(arb_step(), 1..40),
            sent in prop::collection::vec(prop::bool::weighted(0.6), 40),
            pellets in arb_pellets(),
        ) {
            let first = frame(start, ids.iter().map(|&id| player(id, [30_000, 30_000], [0, 0], 0, 0)).collect(), pellets);
            let frames = frames_for(&first, &steps);
            let mut r = replica_at(&first);
            let mut base = &frames[0];
            for (cur, &was_sent) in frames[1..].iter().zip(&sent) {
                if !was_sent {
                    continue; // dropped from the mailbox: never a baseline
                }
                let d = delta(base, cur);
                let bytes = crate::encode_server(&crate::ServerMsg::Delta(d.clone()));
                prop_assert_eq!(crate::decode_server(&bytes), Ok(crate::ServerMsg::Delta(d.clone())));
                let got = r.apply_delta(&d).expect("applies");
                prop_assert_eq!(got, cur);
                base = cur;
            }
        }
    }
}
