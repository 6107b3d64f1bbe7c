//! A Redis-backed cluster of real `tickroom` processes (the contract of
//! issue 12), in one test that walks through its life:
//!
//! a. three nodes find each other through Redis (`GET /cluster`);
//! b. rooms made through any node are placed on one owner that every node
//!    agrees on, spread over the fleet, all listed by `GET /rooms`;
//! c. a WebSocket join at the wrong node is closed with `4001 node=<owner>`,
//!    and following it gets in;
//! d. a node is killed (`kill -9`): its players drop and get back in through
//!    the entry node on a live owner; everyone else stays connected;
//! e. a fourth node joins: new rooms land on it, no room moves;
//! f. a node drains on SIGTERM: its players are closed with 1001 `draining…`,
//!    it exits and leaves `/cluster`, its rooms move;
//! g. Redis goes away: rooms keep ticking, errors are counted, a new room is
//!    refused with 1013; Redis comes back empty on its port: the nodes register
//!    again and re-claim their rooms where they are.
//!
//! Each step's waits are bounded and name what they waited for; timings are
//! printed, never asserted. Needs `redis-server` (skipped loudly without it,
//! failed under `CI=true`).

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    support::{
        client::{
            Attempt, End, Session, attempt, join_via, json, lists_members, owner, try_json, until,
        },
        node::{Node, NodeArgs, tickroom_bin},
        redis::{self, RedisServer},
    },
    util::metric,
};

/// Rooms made at the start, and again when the fourth node has joined.
const ROOMS: usize = 30;
/// Membership lease of every node: a dead node's rooms are free after it.
const LEASE: Duration = Duration::from_secs(3);
/// Bound on membership changes showing in `/cluster` (a few leases).
const MEMBERSHIP: Duration = Duration::from_secs(20);
/// Bound on a dropped player getting back in (the lease running out included).
const REJOIN: Duration = Duration::from_secs(30);
/// Bound on a connection noticing its node died or drained.
const NOTICE: Duration = Duration::from_secs(15);
/// Bound on a draining node exiting.
const EXIT: Duration = Duration::from_secs(20);
/// Bound on a room ticking a few more times.
const TICKS: Duration = Duration::from_secs(10);

/// The test's Redis and its live nodes.
struct Fleet {
    redis: RedisServer,
    prefix: String,
    nodes: Vec<Node>,
    started: Instant,
}

impl Fleet {
    fn log(&self, what: &str) {
        eprintln!("cluster [{:>7.2?}] {what}", self.started.elapsed());
    }

    async fn add(&mut self, id: &str) {
        let node = Node::start(&NodeArgs {
            id: id.to_owned(),
            redis_url: self.redis.url(),
            prefix: self.prefix.clone(),
            lease: format!("{}s", LEASE.as_secs()),
            // Rooms without players stay for the whole test; a drain waits
            // 3 s for rooms to empty before closing their players.
            extra: ["--room-idle", "10m", "--drain", "3s"]
                .map(String::from)
                .to_vec(),
            port: 0,
        })
        .await;
        self.log(&format!(
            "node {id} up at {} (pid {}) in {:.2?}",
            node.addr,
            node.pid(),
            node.uptime()
        ));
        self.nodes.push(node);
    }

    fn node(&self, id: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no live node {id}"))
    }

    fn addr(&self, id: &str) -> SocketAddr {
        self.node(id).addr
    }

    /// Removes node `id` from the fleet (to kill or drain it).
    fn take(&mut self, id: &str) -> Node {
        let at = self
            .nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or_else(|| panic!("no live node {id}"));
        self.nodes.remove(at)
    }

    /// The live nodes' ids, sorted (as `/cluster` lists members).
    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.nodes.iter().map(|n| n.id.clone()).collect();
        ids.sort();
        ids
    }

    /// Waits until every live node's `/cluster` lists exactly the live nodes.
    async fn wait_membership(&self, why: &str) {
        let ids = self.ids();
        let want: Vec<&str> = ids.iter().map(String::as_str).collect();
        let t = Instant::now();
        for node in &self.nodes {
            until(
                format!("{}'s /cluster to list {want:?} ({why})", node.id),
                MEMBERSHIP,
                || lists_members(node.addr, &want),
            )
            .await;
        }
        self.log(&format!(
            "every node lists {want:?} ({why}) after {:.2?}",
            t.elapsed()
        ));
    }
}

/// A `--redis-prefix` no other run shares.
pub(crate) fn unique_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("t{}-{nanos}", std::process::id())
}

/// Rooms per owner.
fn spread(owners: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for node in owners.values() {
        *counts.entry(node.clone()).or_default() += 1;
    }
    counts
}

/// `POST /rooms {"id": room}` at `addr`: the owner it names. A 503 (the
/// nodes disagree while membership changes, `misrouted`) is retried, bounded
/// by [`MEMBERSHIP`]; the retries are printed.
async fn create_room(addr: SocketAddr, room: &str) -> String {
    create_room_with(addr, &json!({ "id": room })).await
}

/// `POST /rooms` with `body` (which names the room's `id`) at `addr`,
/// retried like [`create_room`]: the owner it names.
pub(crate) async fn create_room_with(addr: SocketAddr, body: &Value) -> String {
    let room = body["id"]
        .as_str()
        .expect("the body names the room")
        .to_owned();
    let refusals = std::sync::Mutex::new(Vec::new());
    let body = until(
        format!("POST /rooms {room} at {addr} to answer 201"),
        MEMBERSHIP,
        || async {
            match try_json(addr, "POST", "/rooms", Some(body)).await {
                Ok((201, body)) => Ok(body),
                Ok((503, body)) => {
                    let code = body["code"].as_str().unwrap_or("?").to_owned();
                    refusals.lock().expect("refusals lock").push(code);
                    Err(body.to_string())
                }
                Ok((status, body)) => panic!("POST /rooms {room} at {addr}: {status} {body}"),
                Err(e) => Err(e),
            }
        },
    )
    .await;
    let refusals = refusals.into_inner().expect("refusals lock");
    if let Some(first) = refusals.first() {
        eprintln!(
            "cluster   POST /rooms {room} answered 503 {} times (first: {first}) before 201",
            refusals.len()
        );
    }
    assert_eq!(body["id"], room, "{body}");
    body["node"]
        .as_str()
        .unwrap_or_else(|| panic!("POST /rooms {room}: no `node` in {body}"))
        .to_owned()
}

/// The ids `GET /rooms` at `addr` lists.
async fn listed(addr: SocketAddr) -> Result<BTreeSet<String>, String> {
    let (status, body) = try_json(addr, "GET", "/rooms", None).await?;
    let rooms = body["rooms"]
        .as_array()
        .filter(|_| status == 200)
        .ok_or_else(|| format!("GET /rooms at {addr}: {status} {body}"))?;
    Ok(rooms
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect())
}

/// Every room in `expected` is answered by `GET /rooms/{id}` at `addr` with
/// its expected owner; otherwise the differences.
async fn owners_match(
    addr: SocketAddr,
    expected: &BTreeMap<String, String>,
) -> Result<(), Vec<String>> {
    let mut wrong = Vec::new();
    for (room, want) in expected {
        match owner(addr, room).await {
            Ok(got) if got == *want => {}
            Ok(got) => wrong.push(format!("{room}: {got}, was {want}")),
            Err(e) => wrong.push(e),
        }
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong) }
}

/// Joins `room` through n1 for each entry (in parallel), bounded by [`REJOIN`]
/// each; prints how long each took, counted from `since`.
async fn rejoin_all(
    fleet: &Fleet,
    rooms: &[String],
    suffix: &str,
    since: Instant,
) -> Vec<(String, Session)> {
    let entry = fleet.addr("n1");
    let joins = rooms.iter().map(|room| async move {
        let name = format!("p-{room}-{suffix}");
        let joined = join_via("n1", entry, room, &name, REJOIN).await;
        let took = since.elapsed();
        (room.clone(), name, joined, took)
    });
    let mut out = Vec::new();
    let mut max = Duration::ZERO;
    for (room, name, joined, took) in join_all(joins).await {
        eprintln!(
            "cluster   {room} back in on {} after {took:.2?} ({} tries in {:.2?}: {})",
            joined.node,
            joined.tries,
            joined.elapsed,
            joined.summary()
        );
        max = max.max(took);
        out.push((room, Session::run(joined, &name)));
    }
    fleet.log(&format!(
        "{} players back in; the slowest after {max:.2?}",
        out.len()
    ));
    out
}

/// Every session is still connected and sees its room tick at least `ticks`
/// more times (all rooms at once: the wait is the slowest room's, not a sum).
async fn all_ticking(sessions: &BTreeMap<String, Session>, ticks: u32, why: &str) {
    let from: Vec<u32> = sessions.values().map(|s| s.seen().last_tick).collect();
    for (s, from) in sessions.values().zip(from) {
        assert_eq!(
            s.seen().ended,
            None,
            "{} in {} on {} lost its connection ({why})",
            s.name,
            s.room,
            s.node
        );
        s.wait_tick(from.wrapping_add(ticks), TICKS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_places_rooms_survives_node_death_drain_and_a_redis_outage() {
    const TEST: &str =
        "cluster::a_redis_cluster_places_rooms_survives_node_death_drain_and_a_redis_outage";
    if !redis::required_by(TEST) {
        return;
    }
    // Built (if out of date) before anything is timed.
    let bin = tokio::task::spawn_blocking(tickroom_bin)
        .await
        .expect("find the tickroom binary");
    let redis = tokio::task::block_in_place(RedisServer::start);
    let mut fleet = Fleet {
        redis,
        prefix: unique_prefix(),
        nodes: Vec::new(),
        started: Instant::now(),
    };
    fleet.log(&format!(
        "redis at {} (prefix {}), nodes run {}",
        fleet.redis.url(),
        fleet.prefix,
        bin.display()
    ));

    // a. Three nodes find each other.
    for id in ["n1", "n2", "n3"] {
        fleet.add(id).await;
    }
    fleet.wait_membership("three nodes started").await;
    for node in &fleet.nodes {
        let (status, body) = json(node.addr, "GET", "/cluster", None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["node"], &body["mode"]),
            (&json!(node.id), &json!("redis")),
            "{body}"
        );
    }

    // b. Rooms made through any node have one owner every node agrees on.
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let entries = ["n1", "n2", "n3"];
    for i in 0..ROOMS {
        let room = format!("room-{i}");
        let owner = create_room(fleet.addr(entries[i % 3]), &room).await;
        owners.insert(room, owner);
    }
    for node in &fleet.nodes {
        if let Err(wrong) = owners_match(node.addr, &owners).await {
            panic!(
                "{} disagrees with the owners POST /rooms named: {wrong:#?}",
                node.id
            );
        }
    }
    let counts = spread(&owners);
    fleet.log(&format!("{ROOMS} rooms made; owners: {counts:?}"));
    assert!(
        counts.len() >= 2,
        "{ROOMS} rooms all landed on one node: {counts:?}"
    );
    for owner in counts.keys() {
        assert!(
            entries.contains(&owner.as_str()),
            "unknown owner {owner}: {counts:?}"
        );
    }
    let all: BTreeSet<String> = owners.keys().cloned().collect();
    for node in &fleet.nodes {
        until(
            format!("GET /rooms at {} to list all {ROOMS} rooms", node.id),
            MEMBERSHIP,
            || async {
                let ids = listed(node.addr).await?;
                if ids == all {
                    Ok(())
                } else {
                    Err(format!(
                        "missing {:?}, extra {:?}",
                        all.difference(&ids).collect::<Vec<_>>(),
                        ids.difference(&all).collect::<Vec<_>>()
                    ))
                }
            },
        )
        .await;
    }
    fleet.log("every node lists every room");

    // c. A join at the wrong node is sent to the owner, and following it gets in.
    let (moved_room, moved_owner) = owners
        .iter()
        .find(|(_, node)| *node != "n1")
        .map(|(r, n)| (r.clone(), n.clone()))
        .expect("a room not on n1 (they are spread over two nodes or more)");
    let n1 = fleet.addr("n1");
    match attempt(n1, &moved_room, "misrouted").await {
        Attempt::Closed(4001, reason) => assert_eq!(
            reason,
            format!("node={moved_owner}"),
            "4001's reason names the owner of {moved_room}"
        ),
        other => panic!("a join of {moved_room} (on {moved_owner}) at n1 got {other:?}, not 4001"),
    }
    assert!(
        metric(n1, "tickroom_cluster_misrouted_joins_total").await >= 1.0,
        "n1 counted no misrouted join"
    );
    let joined = join_via("n1", n1, &moved_room, "p-followed", REJOIN).await;
    assert_eq!(
        joined.node, moved_owner,
        "following 4001 lands at the owner"
    );
    assert_eq!(joined.tries, 2, "one 4001, then in: {:?}", joined.trail);
    fleet.log(&format!(
        "a join of {moved_room} at n1 was sent to {moved_owner} and got in"
    ));
    let mut sessions: BTreeMap<String, Session> = BTreeMap::new();
    sessions.insert(moved_room.clone(), Session::run(joined, "p-followed"));

    // d. One player per room, joined at its owner; then the busiest node but
    //    n1 is killed.
    for (room, node) in &owners {
        if sessions.contains_key(room) {
            continue;
        }
        let name = format!("p-{room}");
        let joined = join_via(node, fleet.addr(node), room, &name, REJOIN).await;
        assert_eq!(
            (joined.node.as_str(), joined.tries),
            (node.as_str(), 1),
            "a join of {room} at its owner gets in at once: {:?}",
            joined.trail
        );
        sessions.insert(room.clone(), Session::run(joined, &name));
    }
    all_ticking(&sessions, 3, "players joined").await;
    fleet.log(&format!("{} players in", sessions.len()));

    let victim = ["n2", "n3"]
        .into_iter()
        .max_by_key(|id| counts.get(*id).copied().unwrap_or(0))
        .expect("two candidates")
        .to_owned();
    let survivor = if victim == "n2" { "n3" } else { "n2" }.to_owned();
    let (dropped, kept): (Vec<String>, Vec<String>) = sessions
        .values()
        .map(|s| s.room.clone())
        .partition(|room| sessions[room].node == victim);
    let mut dead = fleet.take(&victim);
    let killed_at = Instant::now();
    dead.kill9();
    fleet.log(&format!(
        "killed {victim} (-9) with {} players; {} players elsewhere",
        dropped.len(),
        kept.len()
    ));
    drop(dead);
    for room in &dropped {
        let end = sessions[room].wait_end(NOTICE).await;
        assert!(
            matches!(end, End::Dropped(_) | End::Closed(1006, _)),
            "a player of killed {victim} in {room} saw {end:?}, not a dropped connection"
        );
        sessions.remove(room);
    }
    fleet.log(&format!(
        "{victim}'s players saw their connections drop after {:.2?}",
        killed_at.elapsed()
    ));
    for (room, session) in rejoin_all(&fleet, &dropped, "2", killed_at).await {
        assert_ne!(session.node, victim, "{room} was rejoined on the dead node");
        owners.insert(room.clone(), session.node.clone());
        sessions.insert(room, session);
    }
    all_ticking(&sessions, 3, "after the kill").await;
    if let Err(wrong) = owners_match(n1, &owners).await {
        panic!("after the kill, n1's owners differ from where players got in: {wrong:#?}");
    }
    fleet.wait_membership(&format!("{victim} killed")).await;

    // e. A fourth node joins; new rooms land on it too, none moves.
    fleet.add("n4").await;
    fleet.wait_membership("n4 started").await;
    let mut fresh: BTreeMap<String, String> = BTreeMap::new();
    for i in 0..ROOMS {
        let room = format!("fresh-{i}");
        let owner = create_room(n1, &room).await;
        fresh.insert(room, owner);
    }
    let fresh_counts = spread(&fresh);
    fleet.log(&format!(
        "{ROOMS} fresh rooms made at n1; owners: {fresh_counts:?}"
    ));
    assert!(
        fresh_counts.get("n4").is_some_and(|&n| n > 0),
        "no fresh room landed on the new node n4: {fresh_counts:?}"
    );
    assert!(
        !fresh_counts.contains_key(&victim),
        "a fresh room landed on the dead {victim}: {fresh_counts:?}"
    );
    if let Err(wrong) = owners_match(fleet.addr("n4"), &fresh).await {
        panic!("n4 disagrees with the owners POST /rooms named: {wrong:#?}");
    }
    for node in &fleet.nodes {
        if let Err(wrong) = owners_match(node.addr, &owners).await {
            panic!(
                "after n4 joined, {} shows rooms that moved: {wrong:#?}",
                node.id
            );
        }
    }
    // A player on n4 too, so whichever node drains next has players.
    let on_n4 = fresh
        .iter()
        .find(|(_, node)| *node == "n4")
        .map(|(room, _)| room.clone())
        .expect("a fresh room on n4 (checked above)");
    let joined = join_via("n4", fleet.addr("n4"), &on_n4, "p-n4", REJOIN).await;
    sessions.insert(on_n4.clone(), Session::run(joined, "p-n4"));
    owners.extend(fresh);
    all_ticking(&sessions, 3, "after n4 joined").await;
    fleet.log("no room moved when n4 joined");

    // f. The busier of the survivor and n4 drains on SIGTERM.
    let players_on = |id: &str| sessions.values().filter(|s| s.node == id).count();
    let drained = [survivor.as_str(), "n4"]
        .into_iter()
        .max_by_key(|id| players_on(id))
        .expect("two candidates")
        .to_owned();
    let leaving: Vec<String> = sessions
        .values()
        .filter(|s| s.node == drained)
        .map(|s| s.room.clone())
        .collect();
    assert!(!leaving.is_empty(), "{drained} has players");
    let mut draining = fleet.take(&drained);
    let termed_at = Instant::now();
    draining.sigterm();
    fleet.log(&format!(
        "SIGTERM to {drained} with {} players",
        leaving.len()
    ));
    for room in &leaving {
        let end = sessions[room].wait_end(NOTICE).await;
        match &end {
            End::Closed(1001, reason) if reason.starts_with("draining") => {}
            other => panic!(
                "a player of draining {drained} in {room} saw {other:?}, not 1001 `draining…`"
            ),
        }
        sessions.remove(room);
    }
    let status = draining.wait_exit(EXIT).await;
    fleet.log(&format!(
        "{drained} closed its players and exited ({status}) {:.2?} after SIGTERM",
        termed_at.elapsed()
    ));
    assert!(
        status.success(),
        "{drained} exited with {status} after SIGTERM:\n{}",
        draining.log_tail(100)
    );
    drop(draining);
    for (room, session) in rejoin_all(&fleet, &leaving, "3", termed_at).await {
        assert_ne!(
            session.node, drained,
            "{room} was rejoined on the drained node"
        );
        owners.insert(room.clone(), session.node.clone());
        sessions.insert(room, session);
    }
    // The drained node's rooms without players are gone with it.
    owners.retain(|room, node| *node != drained || sessions.contains_key(room));
    fleet.wait_membership(&format!("{drained} drained")).await;
    all_ticking(&sessions, 3, "after the drain").await;

    // g. Redis goes away: rooms keep ticking, new rooms are refused.
    let errors_before = metric(n1, "tickroom_cluster_redis_errors_total").await;
    let down_at = Instant::now();
    tokio::task::block_in_place(|| fleet.redis.stop());
    fleet.log("redis stopped");
    let errors = until("n1 to count Redis errors", MEMBERSHIP, || async {
        let now = metric(n1, "tickroom_cluster_redis_errors_total").await;
        if now > errors_before {
            Ok(now)
        } else {
            Err(now)
        }
    })
    .await;
    until(
        "n1's tickroom_cluster_redis_up to be 0",
        MEMBERSHIP,
        || async {
            let up = metric(n1, "tickroom_cluster_redis_up").await;
            if up == 0.0 { Ok(()) } else { Err(up) }
        },
    )
    .await;
    fleet.log(&format!(
        "n1 counts Redis errors ({errors_before} -> {errors}) and reports Redis down after {:.2?}",
        down_at.elapsed()
    ));
    let refused = until(
        "a join of a new room at n1 to be refused with 1013",
        MEMBERSHIP,
        || async {
            match attempt(n1, "outage-room", "p-outage").await {
                Attempt::Closed(1013, reason) => Ok(reason),
                Attempt::Welcome(_, w) => {
                    panic!("n1 started a new room without Redis: Welcome {w:?}")
                }
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    fleet.log(&format!(
        "a new room's join at n1 is refused: 1013 {refused:?}"
    ));
    let made: Result<(u16, Value), String> =
        try_json(n1, "POST", "/rooms", Some(&json!({ "id": "outage-http" }))).await;
    fleet.log(&format!("POST /rooms at n1 without Redis: {made:?}"));
    // Down for longer than a lease: rooms run on regardless.
    let outage = LEASE + Duration::from_secs(1);
    if let Some(left) = outage.checked_sub(down_at.elapsed()) {
        tokio::time::sleep(left).await;
    }
    all_ticking(&sessions, 10, "Redis down").await;
    fleet.log(&format!(
        "every room ticked on with Redis down for {:.2?}",
        down_at.elapsed()
    ));

    // Redis comes back, empty, on its port: the nodes register again and
    // re-claim their rooms where they are.
    tokio::task::block_in_place(|| fleet.redis.restart());
    let up_at = Instant::now();
    fleet.log(&format!(
        "redis back on port {} after {:.2?} down",
        fleet.redis.port(),
        down_at.elapsed()
    ));
    fleet.wait_membership("Redis came back").await;
    for node in &fleet.nodes {
        until(
            format!("{}'s tickroom_cluster_redis_up to be 1", node.id),
            MEMBERSHIP,
            || async {
                let up = metric(node.addr, "tickroom_cluster_redis_up").await;
                if up == 1.0 { Ok(()) } else { Err(up) }
            },
        )
        .await;
    }
    // Rooms with players must keep their owner; with the rest, too.
    until(
        "every running room to be answered with its owner again",
        MEMBERSHIP,
        || owners_match(n1, &owners),
    )
    .await;
    fleet.log(&format!(
        "{} rooms re-claimed where they were {:.2?} after Redis came back",
        owners.len(),
        up_at.elapsed()
    ));
    all_ticking(&sessions, 3, "Redis back").await;
    fleet.log(&format!(
        "done: {} players connected on {:?}",
        sessions.len(),
        spread(
            &sessions
                .values()
                .map(|s| (s.room.clone(), s.node.clone()))
                .collect()
        )
    ));
}

/// Fencing: when another node holds a room's claim in Redis (as after a
/// partition during which it claimed the room), the node running it closes
/// its copy at its next heartbeat with 4001 "room lives elsewhere", counts a
/// claim renew failure, and a rejoin through the entry lands on the holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_claim_closes_its_copy_of_the_room() {
    const TEST: &str = "cluster::a_node_that_lost_its_claim_closes_its_copy_of_the_room";
    if !redis::required_by(TEST) {
        return;
    }
    tokio::task::spawn_blocking(tickroom_bin)
        .await
        .expect("find the tickroom binary");
    let redis = tokio::task::block_in_place(RedisServer::start);
    let mut fleet = Fleet {
        redis,
        prefix: unique_prefix(),
        nodes: Vec::new(),
        started: Instant::now(),
    };
    for id in ["n1", "n2"] {
        fleet.add(id).await;
    }
    fleet.wait_membership("two nodes started").await;
    // A room on n1, with a player in it.
    // The first id whose rendezvous winner is n1 (a pure function of the ids).
    let pair = tickroom_cluster::StaticCluster::parse(
        tickroom_cluster::NodeId::new("n1").expect("id"),
        "n1=ws://n1:1,n2=ws://n2:1",
    )
    .expect("peers");
    let room = (0..)
        .map(|i| format!("fence-{i}"))
        .find(|r| pair.place(r).is_local())
        .expect("some room id hashes to n1");
    let n1 = fleet.addr("n1");
    let joined = join_via("n1", n1, &room, "fenced", REJOIN).await;
    assert_eq!(joined.node, "n1", "{}", joined.summary());
    let player = Session::run(joined, "fenced");
    player.wait_tick(player.seen().last_tick + 5, TICKS).await;

    // n2 "claimed it meanwhile": its holder value written over n1's claim.
    let redis_addr = fleet.redis.addr();
    let record = redis::command(redis_addr, &["GET", &format!("{}:node:n2", fleet.prefix)])
        .expect("GET n2's record")
        .expect("n2 is registered");
    let record: Value = serde_json::from_str(&record).expect("n2's record is JSON");
    let holder = format!("n2#{}", record["inc"].as_str().expect("inc"));
    let key = format!("{}:room:{room}", fleet.prefix);
    let before = redis::command(redis_addr, &["GET", &key]).expect("GET the claim");
    assert!(
        before.as_deref().is_some_and(|h| h.starts_with("n1#")),
        "n1 holds {room}: {before:?}"
    );
    redis::command(redis_addr, &["SET", &key, &holder, "PX", "30000"]).expect("SET the claim");
    fleet.log(&format!("claim of {room} given to {holder}"));

    // n1 closes its copy at its next heartbeat.
    let end = player.wait_end(NOTICE).await;
    assert_eq!(
        end,
        End::Closed(4001, "room lives elsewhere".into()),
        "n1 closes the copy it lost"
    );
    assert!(metric(n1, "tickroom_cluster_claim_renew_failures_total").await >= 1.0);
    // The claim stays n2's, and a rejoin through n1 lands there.
    let after = redis::command(redis_addr, &["GET", &key]).expect("GET the claim");
    assert_eq!(
        after.as_deref(),
        Some(holder.as_str()),
        "n1 did not take it back"
    );
    let joined = join_via("n1", n1, &room, "fenced", REJOIN).await;
    assert_eq!(joined.node, "n2", "{}", joined.summary());
    fleet.log(&format!("rejoined {room} on n2: {}", joined.summary()));
}
