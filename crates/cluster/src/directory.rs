//! The state of a dynamic cluster as one node sees it: the live members and
//! who owns which room. A sans-IO model of what the nodes share (through
//! Redis, later): the caller feeds in every membership and claim record it
//! learns, with the time, and asks where a room runs.
//!
//! **Members** have an id, a URL, a weight, a state (`Up`, or `Draining`:
//! keeps its rooms, takes no new ones) and a membership lease: a member is
//! live while `now < lease_until` (milliseconds, the caller's clock), renewed
//! by [`Directory::heartbeat`].
//!
//! **Claims** make ownership sticky: room → owner with its own lease. A claim
//! is live while its lease runs *and* its owner is a live member; a claim
//! whose owner's membership lease ran out, or whose owner left, is void at
//! once (every query ignores it, before [`Directory::expire`] sweeps it), and
//! a void claim never comes back: an owner that rejoins after its lease ran
//! out starts with no rooms.
//!
//! **Placement** ([`Directory::place`]): a room with a live claim runs at its
//! owner (draining or not). Otherwise it goes to the rendezvous winner among
//! the live `Up` members (weights honoured), with the load bound of
//! [`crate::hrw::bounded`] when configured (the default, ε = 0.25), where a
//! member's load is the number of claims recorded for it, swept or not: call
//! [`Directory::expire`] on the caller's lease timer. The answer is
//! [`Target::Local`] when that is this node (`self_id`).
//!
//! Every membership change returns [`Change`]s to log and count. This type
//! never reads a clock, never talks to a peer and never uses a per-process
//! hasher; its maps are ordered, so its answers and its change lists are the
//! same on every node fed the same records.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    Error, Result,
    hrw::{Candidate, LoadBound, bounded, winner},
    node::{NodeId, Weight, WsUrl},
    target::Target,
};

/// How a [`Directory`] places rooms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DirectoryConfig {
    /// The load bound for new rooms; `None` for pure rendezvous hashing.
    pub load_bound: Option<LoadBound>,
}

impl Default for DirectoryConfig {
    /// A load bound of ε = 0.25.
    fn default() -> Self {
        Self {
            load_bound: Some(LoadBound::default()),
        }
    }
}

/// Whether a member takes new rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Takes new rooms.
    Up,
    /// Keeps the rooms it owns, takes no new ones (shutting down).
    Draining,
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: NodeId,
    /// Where players reach it.
    pub url: WsUrl,
    /// Its share of new rooms.
    pub weight: Weight,
    /// Up or draining.
    pub state: MemberState,
    /// The membership lease: live while `now < lease_until` (ms).
    pub lease_until: u64,
    /// The games it hosts, sorted; empty when it did not say (a node of a
    /// build before games were listed), which counts as every game.
    pub games: Vec<String>,
}

impl Member {
    /// An `Up` member of weight 1 that hosts every game.
    pub fn new(id: NodeId, url: WsUrl, lease_until: u64) -> Self {
        Self {
            id,
            url,
            weight: Weight::ONE,
            state: MemberState::Up,
            lease_until,
            games: Vec::new(),
        }
    }

    fn live(&self, now: u64) -> bool {
        now < self.lease_until
    }

    /// Whether it can run a room of `game` (`None`: any game).
    pub fn hosts(&self, game: Option<&str>) -> bool {
        match game {
            None => true,
            Some(g) => self.games.is_empty() || self.games.iter().any(|h| h == g),
        }
    }
}

/// Who owns a room, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The node running the room.
    pub owner: NodeId,
    /// The claim lease: live while `now < lease_until` (ms) and the owner is
    /// a live member.
    pub lease_until: u64,
}

/// Where a room runs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// This node, or another at its URL.
    pub target: Target,
    /// An existing claim, or a fresh choice.
    pub basis: Basis,
}

/// Why a [`Placement`] names its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// The room has a live claim there: it is running, go there.
    Claimed {
        /// When the claim lapses unless renewed (ms).
        lease_until: u64,
    },
    /// Nobody owns the room: this is where it should start; whoever starts
    /// it must [`Directory::claim`] it.
    Chosen {
        /// The load bound passed over the rendezvous winner.
        diverted: bool,
    },
}

/// What [`Directory::claim`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The room had no claim.
    New,
    /// The owner already held it; its lease is extended.
    Renewed,
    /// The room's previous claim was void (lease run out, or its owner's);
    /// it is replaced.
    TookOver {
        /// The void claim's owner.
        previous: NodeId,
    },
}

/// One change of membership or ownership, to log and count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A member that was not known (or whose lease had run out) joined.
    Joined {
        /// The member.
        node: NodeId,
    },
    /// A live member rejoined with another URL, weight or state.
    Updated {
        /// The member.
        node: NodeId,
    },
    /// A member started draining.
    Draining {
        /// The member.
        node: NodeId,
    },
    /// A draining member takes new rooms again.
    Undrained {
        /// The member.
        node: NodeId,
    },
    /// A member left; its claims are gone.
    Left {
        /// The member.
        node: NodeId,
        /// The rooms it owned (claims voided), in id order.
        rooms: Vec<Arc<str>>,
    },
    /// A member's lease ran out (swept by [`Directory::expire`], or found by
    /// a rejoin); its claims are gone.
    Expired {
        /// The member.
        node: NodeId,
        /// The rooms it owned (claims voided), in id order.
        rooms: Vec<Arc<str>>,
    },
    /// A claim's lease ran out while its owner was live.
    ClaimExpired {
        /// The room.
        room: Arc<str>,
        /// The owner it had.
        owner: NodeId,
    },
}

impl Change {
    /// A stable snake_case name for a metric label.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Joined { .. } => "joined",
            Self::Updated { .. } => "updated",
            Self::Draining { .. } => "draining",
            Self::Undrained { .. } => "undrained",
            Self::Left { .. } => "left",
            Self::Expired { .. } => "expired",
            Self::ClaimExpired { .. } => "claim_expired",
        }
    }
}

/// A member and the number of claims recorded for it.
#[derive(Debug, Clone)]
struct Entry {
    member: Member,
    rooms: u64,
}

/// Members and room claims, seen from node `self_id` (see the module doc).
#[derive(Debug, Clone)]
pub struct Directory {
    self_id: NodeId,
    config: DirectoryConfig,
    members: BTreeMap<NodeId, Entry>,
    claims: BTreeMap<Arc<str>, Claim>,
}

impl Directory {
    /// An empty directory for node `self_id` (which is not a member until it
    /// joins).
    pub fn new(self_id: NodeId, config: DirectoryConfig) -> Self {
        Self {
            self_id,
            config,
            members: BTreeMap::new(),
            claims: BTreeMap::new(),
        }
    }

    /// This node's id.
    pub fn self_id(&self) -> &NodeId {
        &self.self_id
    }

    /// How this directory places rooms.
    pub fn config(&self) -> DirectoryConfig {
        self.config
    }

    // ----- membership -----

    /// Adds `member`, or replaces the record of a member with its id.
    /// Returns `Joined` for a new member (preceded by `Expired` with its
    /// voided rooms when the old record's lease had run out), `Updated` when
    /// a live member's URL, weight or state changed, nothing for a plain
    /// lease renewal. `member.lease_until` must be after `now`.
    pub fn join(&mut self, member: Member, now: u64) -> Result<Vec<Change>> {
        check_lease(member.lease_until, now)?;
        let mut changes = Vec::new();
        let id = member.id.clone();
        if let Some(entry) = self.members.get_mut(&id)
            && entry.member.live(now)
        {
            let old = &entry.member;
            if (&old.url, old.weight, old.state, &old.games)
                != (&member.url, member.weight, member.state, &member.games)
            {
                changes.push(Change::Updated { node: id });
            }
            entry.member = member;
            return Ok(changes);
        }
        if self.members.contains_key(&id) {
            let rooms = self.remove_member(&id);
            changes.push(Change::Expired {
                node: id.clone(),
                rooms,
            });
        }
        self.members.insert(id.clone(), Entry { member, rooms: 0 });
        changes.push(Change::Joined { node: id });
        Ok(changes)
    }

    /// Extends live member `id`'s lease to `lease_until` (after `now`). A
    /// member whose lease ran out must [`join`](Self::join) again.
    pub fn heartbeat(&mut self, id: &NodeId, lease_until: u64, now: u64) -> Result<()> {
        check_lease(lease_until, now)?;
        self.live_entry_mut(id, now)?.member.lease_until = lease_until;
        Ok(())
    }

    /// Removes member `id` and every claim it holds.
    pub fn leave(&mut self, id: &NodeId) -> Result<Change> {
        if !self.members.contains_key(id) {
            return Err(Error::UnknownNode { id: id.to_string() });
        }
        let rooms = self.remove_member(id);
        Ok(Change::Left {
            node: id.clone(),
            rooms,
        })
    }

    /// Sets live member `id` draining (no new rooms) or back up. Returns the
    /// change, or `None` if it was already in that state.
    pub fn set_draining(
        &mut self,
        id: &NodeId,
        draining: bool,
        now: u64,
    ) -> Result<Option<Change>> {
        let member = &mut self.live_entry_mut(id, now)?.member;
        let state = if draining {
            MemberState::Draining
        } else {
            MemberState::Up
        };
        if member.state == state {
            return Ok(None);
        }
        member.state = state;
        let node = id.clone();
        Ok(Some(if draining {
            Change::Draining { node }
        } else {
            Change::Undrained { node }
        }))
    }

    /// Sweeps what is void at `now`: members whose lease ran out (with their
    /// claims), then claims whose lease ran out. In id order.
    pub fn expire(&mut self, now: u64) -> Vec<Change> {
        let dead: Vec<NodeId> = self
            .members
            .values()
            .filter(|e| !e.member.live(now))
            .map(|e| e.member.id.clone())
            .collect();
        let mut changes: Vec<Change> = dead
            .into_iter()
            .map(|id| {
                let rooms = self.remove_member(&id);
                Change::Expired { node: id, rooms }
            })
            .collect();
        let members = &mut self.members;
        self.claims.retain(|room, claim| {
            if now < claim.lease_until {
                return true;
            }
            if let Some(entry) = members.get_mut(&claim.owner) {
                entry.rooms -= 1;
            }
            changes.push(Change::ClaimExpired {
                room: room.clone(),
                owner: claim.owner.clone(),
            });
            false
        });
        changes
    }

    /// Member `id`'s record, live or not (until swept).
    pub fn member(&self, id: &NodeId) -> Option<&Member> {
        self.members.get(id).map(|e| &e.member)
    }

    /// Every member record, live or not (until swept), in id order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values().map(|e| &e.member)
    }

    /// Whether `id` is a member whose lease runs at `now`.
    pub fn is_live(&self, id: &NodeId, now: u64) -> bool {
        self.members.get(id).is_some_and(|e| e.member.live(now))
    }

    /// The claims recorded for member `id` (its load for placement), swept
    /// or not; 0 for a stranger.
    pub fn load(&self, id: &NodeId) -> u64 {
        self.members.get(id).map_or(0, |e| e.rooms)
    }

    /// Sets the load member `id` reports for itself (its room count), for a
    /// caller that learns loads from the members' own records rather than
    /// from every claim (the server's Redis mode: a node reads the member
    /// records once a heartbeat, never every claim key). Claims recorded
    /// later move the figure from there. [`Error::UnknownNode`] for a
    /// stranger.
    pub fn report_load(&mut self, id: &NodeId, rooms: u64) -> Result<()> {
        match self.members.get_mut(id) {
            Some(e) => {
                e.rooms = rooms;
                Ok(())
            }
            None => Err(Error::UnknownNode { id: id.to_string() }),
        }
    }

    // ----- claims -----

    /// Records that `owner` runs `room` until `lease_until` (after `now`).
    /// `owner` must be a live member, and `Up` unless it already holds the
    /// room; a live claim by another node is refused (first claim wins); a
    /// void one is replaced.
    pub fn claim(
        &mut self,
        room: &str,
        owner: &NodeId,
        lease_until: u64,
        now: u64,
    ) -> Result<ClaimOutcome> {
        check_lease(lease_until, now)?;
        let state = self.live_entry_mut(owner, now)?.member.state;
        let previous = match self.claims.get(room) {
            Some(c) if self.claim_live(c, now) => {
                if c.owner != *owner {
                    return Err(Error::AlreadyClaimed {
                        room: room.to_owned(),
                        owner: c.owner.to_string(),
                    });
                }
                self.claims.get_mut(room).expect("just read").lease_until = lease_until;
                return Ok(ClaimOutcome::Renewed);
            }
            Some(c) => Some(c.owner.clone()),
            None => None,
        };
        if state == MemberState::Draining {
            return Err(Error::NodeDraining {
                id: owner.to_string(),
            });
        }
        if let Some(previous) = &previous
            && let Some(entry) = self.members.get_mut(previous)
        {
            entry.rooms -= 1;
        }
        self.claims.insert(
            Arc::from(room),
            Claim {
                owner: owner.clone(),
                lease_until,
            },
        );
        self.members.get_mut(owner).expect("live member").rooms += 1;
        Ok(match previous {
            Some(previous) => ClaimOutcome::TookOver { previous },
            None => ClaimOutcome::New,
        })
    }

    /// Extends `owner`'s live claim on `room` to `lease_until` (after `now`).
    /// Draining owners may renew.
    pub fn renew(&mut self, room: &str, owner: &NodeId, lease_until: u64, now: u64) -> Result<()> {
        check_lease(lease_until, now)?;
        check_owner(room, self.owner(room, now), owner)?;
        if let Some(c) = self.claims.get_mut(room) {
            c.lease_until = lease_until;
        }
        Ok(())
    }

    /// Drops `owner`'s claim on `room` (the room closed), live or void.
    pub fn release(&mut self, room: &str, owner: &NodeId) -> Result<()> {
        check_owner(room, self.claims.get(room), owner)?;
        self.claims.remove(room);
        if let Some(entry) = self.members.get_mut(owner) {
            entry.rooms -= 1;
        }
        Ok(())
    }

    /// `room`'s live claim at `now`, if any.
    pub fn owner(&self, room: &str, now: u64) -> Option<&Claim> {
        self.claims.get(room).filter(|c| self.claim_live(c, now))
    }

    /// Every recorded claim, live or void (until swept), in room id order.
    pub fn claims(&self) -> impl Iterator<Item = (&str, &Claim)> {
        self.claims.iter().map(|(room, c)| (&**room, c))
    }

    // ----- placement -----

    /// Where `room` runs at `now` (see the module doc): its live claim's
    /// owner, else the (bounded-load) rendezvous choice among live `Up`
    /// members. [`Error::NoLiveNode`] when there is none.
    pub fn place(&self, room: &str, now: u64) -> Result<Placement> {
        self.place_game(room, None, now)
    }

    /// [`Directory::place`] for a room of `game`: a new room is placed only
    /// among the members that host it ([`Member::hosts`]); a running room
    /// stays where its claim is. With every member hosting every game (a
    /// homogeneous fleet) this is [`Directory::place`]. [`Error::NoLiveNode`]
    /// when no live `Up` member hosts the game.
    pub fn place_game(&self, room: &str, game: Option<&str>, now: u64) -> Result<Placement> {
        if let Some(c) = self.owner(room, now) {
            return Ok(Placement {
                target: self.target(&c.owner),
                basis: Basis::Claimed {
                    lease_until: c.lease_until,
                },
            });
        }
        let candidates = self
            .members
            .values()
            .filter(move |e| {
                e.member.state == MemberState::Up && e.member.live(now) && e.member.hosts(game)
            })
            .map(|e| Candidate {
                id: &e.member.id,
                weight: e.member.weight,
                load: e.rooms,
            });
        let (node, diverted) = match self.config.load_bound {
            Some(bound) => {
                let choice = bounded(room, candidates, bound).ok_or(Error::NoLiveNode)?;
                (choice.node, choice.diverted())
            }
            None => (winner(room, candidates).ok_or(Error::NoLiveNode)?, false),
        };
        Ok(Placement {
            target: self.target(node),
            basis: Basis::Chosen { diverted },
        })
    }

    // ----- internals -----

    fn target(&self, node: &NodeId) -> Target {
        if *node == self.self_id {
            return Target::Local;
        }
        Target::Remote {
            node: node.clone(),
            url: self.members[node].member.url.clone(),
        }
    }

    fn claim_live(&self, claim: &Claim, now: u64) -> bool {
        now < claim.lease_until && self.is_live(&claim.owner, now)
    }

    fn live_entry_mut(&mut self, id: &NodeId, now: u64) -> Result<&mut Entry> {
        match self.members.get_mut(id) {
            None => Err(Error::UnknownNode { id: id.to_string() }),
            Some(e) if !e.member.live(now) => Err(Error::NodeNotLive { id: id.to_string() }),
            Some(e) => Ok(e),
        }
    }

    /// Removes member `id` and its claims; returns the rooms, in id order.
    fn remove_member(&mut self, id: &NodeId) -> Vec<Arc<str>> {
        self.members.remove(id);
        let mut rooms = Vec::new();
        self.claims.retain(|room, c| {
            let mine = c.owner == *id;
            if mine {
                rooms.push(room.clone());
            }
            !mine
        });
        rooms
    }
}

/// `claim` (of `room`) exists and is `owner`'s.
fn check_owner(room: &str, claim: Option<&Claim>, owner: &NodeId) -> Result<()> {
    match claim {
        None => Err(Error::NotClaimed {
            room: room.to_owned(),
        }),
        Some(c) if c.owner != *owner => Err(Error::NotOwner {
            room: room.to_owned(),
            owner: c.owner.to_string(),
        }),
        Some(_) => Ok(()),
    }
}

fn check_lease(lease_until: u64, now: u64) -> Result<()> {
    if lease_until > now {
        Ok(())
    } else {
        Err(Error::LeaseInPast { lease_until, now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn member(name: &str, lease_until: u64) -> Member {
        Member::new(
            id(name),
            WsUrl::new(&format!("ws://{name}:8080")).unwrap(),
            lease_until,
        )
    }

    /// Nodes a, b, c with leases until 10,000 ms, seen from a.
    fn three() -> Directory {
        let mut d = Directory::new(id("a"), DirectoryConfig::default());
        for n in ["a", "b", "c"] {
            assert_eq!(
                d.join(member(n, 10_000), 0).unwrap(),
                [Change::Joined { node: id(n) }]
            );
        }
        d
    }

    #[test]
    fn reported_loads_steer_bounded_placement() {
        let mut d = three();
        let rooms: Vec<String> = (0..300).map(|i| format!("r{i}")).collect();
        let winner_a: Vec<&String> = rooms
            .iter()
            .filter(|r| chosen(&d, r, 1) == id("a"))
            .collect();
        assert!(!winner_a.is_empty());
        // a reports far more than its share: rooms whose winner is a go elsewhere.
        d.report_load(&id("a"), 1_000).unwrap();
        d.report_load(&id("b"), 10).unwrap();
        d.report_load(&id("c"), 10).unwrap();
        for r in &winner_a {
            assert_ne!(chosen(&d, r, 1), id("a"), "{r}");
        }
        assert_eq!(d.load(&id("a")), 1_000);
        assert!(matches!(
            d.report_load(&id("zz"), 1),
            Err(Error::UnknownNode { .. })
        ));
    }

    fn chosen(d: &Directory, room: &str, now: u64) -> NodeId {
        let p = d.place(room, now).unwrap();
        assert!(matches!(p.basis, Basis::Chosen { .. }), "{room}: {p:?}");
        node_of(d, &p.target)
    }

    fn node_of(d: &Directory, t: &Target) -> NodeId {
        match t {
            Target::Local => d.self_id().clone(),
            Target::Remote { node, .. } => node.clone(),
        }
    }

    #[test]
    fn empty_has_no_node() {
        let d = Directory::new(id("a"), DirectoryConfig::default());
        assert_eq!(d.place("lobby", 0), Err(Error::NoLiveNode));
        let mut d = three();
        for n in ["a", "b", "c"] {
            d.set_draining(&id(n), true, 0).unwrap();
        }
        assert_eq!(d.place("lobby", 0), Err(Error::NoLiveNode));
        assert_eq!(three().place("lobby", 10_000), Err(Error::NoLiveNode));
    }

    #[test]
    fn claims_are_sticky_and_first_wins() {
        let mut d = three();
        let owner = chosen(&d, "lobby", 1);
        let other = if owner == id("b") { id("c") } else { id("b") };
        // Someone else got there first: its claim stands, placement follows it.
        assert_eq!(d.claim("lobby", &other, 5_000, 1), Ok(ClaimOutcome::New));
        assert_eq!(
            d.claim("lobby", &owner, 5_000, 2),
            Err(Error::AlreadyClaimed {
                room: "lobby".into(),
                owner: other.to_string()
            })
        );
        let p = d.place("lobby", 2).unwrap();
        assert_eq!(p.basis, Basis::Claimed { lease_until: 5_000 });
        assert_eq!(
            p.target,
            Target::Remote {
                node: other.clone(),
                url: WsUrl::new(&format!("ws://{other}:8080")).unwrap()
            }
        );
        assert_eq!(d.load(&other), 1);
        assert_eq!(
            d.claim("lobby", &other, 6_000, 3),
            Ok(ClaimOutcome::Renewed)
        );
        assert_eq!(
            d.renew("lobby", &owner, 7_000, 3),
            Err(Error::NotOwner {
                room: "lobby".into(),
                owner: other.to_string()
            })
        );
        d.renew("lobby", &other, 7_000, 3).unwrap();
        assert_eq!(d.owner("lobby", 3).unwrap().lease_until, 7_000);
        assert_eq!(
            d.release("lobby", &owner),
            Err(Error::NotOwner {
                room: "lobby".into(),
                owner: other.to_string()
            })
        );
        d.release("lobby", &other).unwrap();
        assert_eq!(d.load(&other), 0);
        assert_eq!(
            d.release("lobby", &other),
            Err(Error::NotClaimed {
                room: "lobby".into()
            })
        );
        assert_eq!(
            d.renew("lobby", &other, 8_000, 4),
            Err(Error::NotClaimed {
                room: "lobby".into()
            })
        );
        assert_eq!(chosen(&d, "lobby", 4), owner);
    }

    #[test]
    fn local_and_remote() {
        let mut d = three();
        let a = id("a");
        d.claim("mine", &a, 5_000, 0).unwrap();
        assert_eq!(d.place("mine", 0).unwrap().target, Target::Local);
        assert!(d.place("mine", 0).unwrap().target.is_local());
        d.claim("theirs", &id("b"), 5_000, 0).unwrap();
        assert!(!d.place("theirs", 0).unwrap().target.is_local());
    }

    #[test]
    fn draining_keeps_rooms_and_takes_none() {
        let mut d = three();
        let b = id("b");
        d.claim("kept", &b, 5_000, 0).unwrap();
        assert_eq!(
            d.set_draining(&b, true, 1).unwrap(),
            Some(Change::Draining { node: b.clone() })
        );
        assert_eq!(d.set_draining(&b, true, 1).unwrap(), None);
        assert_eq!(d.member(&b).unwrap().state, MemberState::Draining);
        // Its room stays; its claim renews.
        assert_eq!(
            d.place("kept", 2).unwrap().basis,
            Basis::Claimed { lease_until: 5_000 }
        );
        d.renew("kept", &b, 6_000, 2).unwrap();
        assert_eq!(d.claim("kept", &b, 6_500, 2), Ok(ClaimOutcome::Renewed));
        // No new room goes to it, and it cannot claim one.
        for i in 0..300 {
            assert_ne!(chosen(&d, &format!("r-{i}"), 2), b);
        }
        assert_eq!(
            d.claim("new", &b, 5_000, 2),
            Err(Error::NodeDraining { id: "b".into() })
        );
        assert_eq!(
            d.set_draining(&b, false, 3).unwrap(),
            Some(Change::Undrained { node: b.clone() })
        );
        assert_eq!(d.claim("new", &b, 5_000, 3), Ok(ClaimOutcome::New));
    }

    /// A member whose lease ran out loses its rooms at once, before any
    /// sweep, and for good.
    #[test]
    fn dead_owner_claims_are_void_at_once() {
        let mut d = three();
        let (b, c) = (id("b"), id("c"));
        d.claim("r1", &b, 50_000, 0).unwrap();
        d.claim("r2", &b, 50_000, 0).unwrap();
        d.heartbeat(&id("a"), 20_000, 1).unwrap();
        d.heartbeat(&c, 20_000, 1).unwrap();
        assert_eq!(d.owner("r1", 9_999).unwrap().owner, b);
        // b's membership lease ends at 10,000: at that instant its claims are void.
        assert_eq!(d.owner("r1", 10_000), None);
        assert!(!d.is_live(&b, 10_000));
        assert_ne!(chosen(&d, "r1", 10_000), b);
        assert_eq!(
            d.claim("r1", &c, 30_000, 10_000),
            Ok(ClaimOutcome::TookOver {
                previous: b.clone()
            })
        );
        assert_eq!((d.load(&b), d.load(&c)), (1, 1));
        assert_eq!(
            d.heartbeat(&b, 30_000, 10_001),
            Err(Error::NodeNotLive { id: "b".into() })
        );
        assert_eq!(
            d.claim("r3", &b, 30_000, 10_001),
            Err(Error::NodeNotLive { id: "b".into() })
        );
        // Rejoining does not bring r2 back.
        assert_eq!(
            d.join(member("b", 40_000), 10_002).unwrap(),
            [
                Change::Expired {
                    node: b.clone(),
                    rooms: vec![Arc::from("r2")]
                },
                Change::Joined { node: b.clone() }
            ]
        );
        assert_eq!(d.owner("r2", 10_002), None);
        assert_eq!(d.load(&b), 0);
    }

    #[test]
    fn expire_sweeps_members_then_claims() {
        let mut d = three();
        let (a, b, c) = (id("a"), id("b"), id("c"));
        d.heartbeat(&a, 20_000, 0).unwrap();
        d.heartbeat(&c, 20_000, 0).unwrap();
        d.claim("b1", &b, 15_000, 0).unwrap();
        d.claim("c1", &c, 5_000, 0).unwrap();
        d.claim("c2", &c, 15_000, 0).unwrap();
        d.claim("a1", &a, 5_000, 0).unwrap();
        assert_eq!(d.expire(4_999), []);
        // At 5,000 the claim leases of a1 and c1 lapse: void already, swept now.
        assert_eq!(d.owner("a1", 5_000), None);
        assert_eq!(
            d.expire(5_000),
            [
                Change::ClaimExpired {
                    room: "a1".into(),
                    owner: a.clone()
                },
                Change::ClaimExpired {
                    room: "c1".into(),
                    owner: c.clone()
                },
            ]
        );
        assert_eq!((d.load(&a), d.load(&c)), (0, 1));
        assert_eq!(
            d.expire(10_000),
            [Change::Expired {
                node: b.clone(),
                rooms: vec!["b1".into()]
            }]
        );
        assert_eq!(d.member(&b), None);
        assert_eq!(d.claims().count(), 1);
        assert_eq!(d.members().count(), 2);
    }

    #[test]
    fn membership_records() {
        let mut d = three();
        let b = id("b");
        // A plain renewal through join changes nothing visible.
        assert_eq!(d.join(member("b", 12_000), 1).unwrap(), []);
        let mut moved = member("b", 12_000);
        moved.url = WsUrl::new("wss://b.example.com").unwrap();
        assert_eq!(
            d.join(moved.clone(), 1).unwrap(),
            [Change::Updated { node: b.clone() }]
        );
        assert_eq!(d.member(&b), Some(&moved));
        d.claim("r", &b, 5_000, 1).unwrap();
        assert_eq!(
            d.leave(&b),
            Ok(Change::Left {
                node: b.clone(),
                rooms: vec!["r".into()]
            })
        );
        assert_eq!(d.owner("r", 1), None);
        assert_eq!(d.leave(&b), Err(Error::UnknownNode { id: "b".into() }));
        assert_eq!(
            d.heartbeat(&b, 20_000, 1),
            Err(Error::UnknownNode { id: "b".into() })
        );
        assert_eq!(
            d.set_draining(&b, true, 1),
            Err(Error::UnknownNode { id: "b".into() })
        );
        assert_eq!(
            d.join(member("d", 5), 5),
            Err(Error::LeaseInPast {
                lease_until: 5,
                now: 5
            })
        );
        assert_eq!(
            d.claim("r", &id("a"), 1, 1),
            Err(Error::LeaseInPast {
                lease_until: 1,
                now: 1
            })
        );
        assert_eq!(
            Error::LeaseInPast {
                lease_until: 1,
                now: 2
            }
            .to_string(),
            "lease until 1 ms is not after now (2 ms)"
        );
    }

    #[test]
    fn change_kinds() {
        let n = id("n");
        let kinds: Vec<&str> = [
            Change::Joined { node: n.clone() },
            Change::Updated { node: n.clone() },
            Change::Draining { node: n.clone() },
            Change::Undrained { node: n.clone() },
            Change::Left {
                node: n.clone(),
                rooms: vec![],
            },
            Change::Expired {
                node: n.clone(),
                rooms: vec![],
            },
            Change::ClaimExpired {
                room: "r".into(),
                owner: n,
            },
        ]
        .iter()
        .map(Change::kind)
        .collect();
        assert_eq!(
            kinds,
            [
                "joined",
                "updated",
                "draining",
                "undrained",
                "left",
                "expired",
                "claim_expired"
            ]
        );
    }

    /// Pure HRW (no bound) puts a room where `hrw::winner` does; the bound
    /// diverts a room from a full winner and says so.
    #[test]
    fn bound_or_not() {
        let mut pure = Directory::new(id("a"), DirectoryConfig { load_bound: None });
        for n in ["a", "b", "c"] {
            pure.join(member(n, 10_000), 0).unwrap();
        }
        let nodes = [id("a"), id("b"), id("c")];
        let winner_of = |room: &str| {
            winner(room, nodes.iter().map(Candidate::new))
                .unwrap()
                .clone()
        };
        // Fill the winner of "lobby" with rooms it wins, in both directories.
        let mut bound = three();
        let w = winner_of("lobby");
        let mut filled = 0;
        for i in 0.. {
            let room = format!("fill-{i}");
            if winner_of(&room) == w {
                pure.claim(&room, &w, 10_000, 0).unwrap();
                bound.claim(&room, &w, 10_000, 0).unwrap();
                filled += 1;
                if filled == 10 {
                    break;
                }
            }
        }
        assert_eq!(chosen(&pure, "lobby", 0), w);
        assert_eq!(
            pure.place("lobby", 0).unwrap().basis,
            Basis::Chosen { diverted: false }
        );
        // Bound: cap ceil(11 × 1.25 / 3) = 5 < 10 ⇒ the next in line.
        let p = bound.place("lobby", 0).unwrap();
        assert_eq!(p.basis, Basis::Chosen { diverted: true });
        assert_ne!(node_of(&bound, &p.target), w);
    }

    #[test]
    fn a_new_room_goes_only_to_members_that_host_its_game() {
        let mut d = Directory::new(id("a"), DirectoryConfig::default());
        let mut a = member("a", 10_000);
        a.games = vec!["arena".into()];
        let mut b = member("b", 10_000);
        b.games = vec!["arena".into(), "skirmish".into()];
        let c = member("c", 10_000); // says nothing: hosts every game
        for m in [a, b, c] {
            d.join(m, 0).unwrap();
        }
        for i in 0..200 {
            let room = format!("r{i}");
            let node = |game| match d.place_game(&room, game, 1).unwrap().target {
                Target::Local => "a".to_owned(),
                Target::Remote { node, .. } => node.to_string(),
            };
            assert!(["b", "c"].contains(&node(Some("skirmish")).as_str()));
            assert_eq!(node(Some("chess")), "c", "only c may host chess");
            // Without a game, or for a game all host: the plain placement.
            assert_eq!(
                d.place_game(&room, None, 1).unwrap(),
                d.place(&room, 1).unwrap()
            );
        }
        let mut only = Directory::new(id("a"), DirectoryConfig::default());
        let mut a = member("a", 10_000);
        a.games = vec!["arena".into()];
        only.join(a, 0).unwrap();
        assert!(matches!(
            only.place_game("x", Some("chess"), 1),
            Err(Error::NoLiveNode)
        ));
        // A running room stays where it is, whatever is asked.
        only.claim("x", &id("a"), 5_000, 1).unwrap();
        assert_eq!(
            only.place_game("x", Some("chess"), 1).unwrap().target,
            Target::Local
        );
    }
}
