//! Deploys that end no match (issue 25), with real `tickroom` processes and
//! a real Redis:
//!
//! - **Rolling restart**: three nodes with `--secret`; rooms spread over
//!   them, each with test players steering for pellets; every node in turn
//!   drains (SIGTERM), exits and starts again. Each draining node hands its
//!   rooms to the others; every player follows 4001 `node=<new>` and resumes
//!   with its token. At the end: no player lost, every player kept its id,
//!   no score went down, no position jumped, every client's ticks strictly
//!   increased across every hand-off, no checksum mismatch.
//! - **Crash**: `--room-snapshots 1s`; the node running a room is killed
//!   (`kill -9`); its players come back (through a survivor) into the room
//!   restored from its newest snapshot: same ids, scores at least those seen
//!   two snapshot intervals before the kill, ticks not reset. A second room
//!   of the dead node, whose player had left (its seat within the resume
//!   grace), is brought back by the room API alone: `POST
//!   /rooms/{id}/join` on the survivor answers a ticket for the restored
//!   room (not 404), and `GET /rooms/{id}` shows its player and its tick.
//! - **Recordings** (`--record-dir`, one directory per node): every room's
//!   recordings across the nodes form one chain, each file continuing the
//!   one before it, and `tickroom replay` of the chain matches every tick and
//!   every hand-off point (the state the new owner started from is the old
//!   recording's, replayed to that step).
//!
//! Counts and order only; every wait is bounded and says what it waited
//! for. Needs `redis-server` (skipped loudly without it, failed under
//! `CI=true`).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tickroom_bots::{Placement, SwarmConfig};
use tickroom_protocol::{self as proto, ClientMsg, ServerMsg, state::Replica};
use tickroom_sim::{ArenaView, SteerInput};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    cluster::{create_room_with, unique_prefix},
    support::{
        client::{Attempt, attempt_resuming, lists_members, resolve, try_json, until},
        node::{Node, NodeArgs, tickroom_bin},
        redis::{self, RedisServer},
    },
    util::{TempDir, games, metric},
};

/// The fleet's shared secret (resume tokens and hand-offs verify anywhere).
const SECRET: &str = "handoff-test-secret-0123456789";
/// Membership lease of every node.
const LEASE: Duration = Duration::from_secs(2);
/// Bound on membership changes showing in `/cluster`.
const MEMBERSHIP: Duration = Duration::from_secs(20);
/// Bound on a draining node exiting (its `--drain` is 10 s).
const EXIT: Duration = Duration::from_secs(30);
/// Bound on every player playing again after a restart or a kill.
const BACK: Duration = Duration::from_secs(40);
/// Rooms in the rolling restart, and players per room.
const ROOMS: usize = 4;
const PER_ROOM: usize = 2;
/// Bots per room besides the test players.
const BOTS_PER_ROOM: usize = 3;
/// The rooms' arena: small and full of pellets, so players score steadily.
fn room_body(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "config": {"width": 500.0, "height": 500.0, "pellet_count": 120},
    })
}

/// A node's arguments; it records into `records/<id>` (kept across its
/// restarts).
fn node_args(
    redis: &RedisServer,
    prefix: &str,
    id: &str,
    snapshots: bool,
    port: u16,
    records: &Path,
) -> NodeArgs {
    let mut extra: Vec<String> = [
        "--secret",
        SECRET,
        "--room-idle",
        "10m",
        "--drain",
        "10s",
        "--resume-grace",
        "30s",
    ]
    .map(String::from)
    .to_vec();
    if snapshots {
        extra.extend(["--room-snapshots".to_owned(), "1s".to_owned()]);
    }
    extra.extend([
        "--record-dir".to_owned(),
        records.join(id).display().to_string(),
    ]);
    NodeArgs {
        id: id.to_owned(),
        redis_url: redis.url(),
        prefix: prefix.to_owned(),
        lease: format!("{}s", LEASE.as_secs()),
        extra,
        port,
    }
}

/// What one player saw, kept by its task.
#[derive(Debug, Clone, Default)]
struct Log {
    /// Its player id (from the first Welcome).
    player: Option<u32>,
    /// Welcomes that gave another player id, or a fresh player where a
    /// resume was asked for.
    lost_identity: Vec<String>,
    /// Frames applied, and the newest frame's tick.
    frames: u64,
    tick: u32,
    /// Frames whose tick was not above the one before.
    non_increasing: u32,
    /// Frames whose checksum did not match.
    mismatches: u32,
    /// Its score and position in the newest frame.
    score: u32,
    pos: [f32; 2],
    /// Times its score went down, and positions that jumped across a
    /// reconnect further than the gap allows.
    score_drops: Vec<String>,
    jumps: Vec<String>,
    /// 4001 `node=` closes followed, other reconnects (drops, 1001s), and
    /// resumes that got back in.
    redirects: u32,
    reconnects: u32,
    resumes: u32,
    /// Per reconnect: the tick and score before, and in the first frame after.
    across: Vec<(u32, u32, u32, u32)>,
    /// The node it is connected to now.
    node: String,
    /// A failure that stopped it.
    failed: Option<String>,
    /// How each reconnect went.
    trail: Vec<String>,
}

/// A test player: joins, steers for the nearest pellet, acknowledges frames,
/// and follows the server wherever it sends it, resuming with its token.
struct Player {
    name: String,
    log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Player {
    fn log(&self) -> Log {
        self.log.lock().expect("player log").clone()
    }
}

/// The live nodes' addresses, for players to enter by.
type Entries = Arc<Mutex<Vec<(String, SocketAddr)>>>;

fn spawn_player(room: &str, name: &str, entries: Entries, stop: watch::Receiver<bool>) -> Player {
    let log = Arc::new(Mutex::new(Log::default()));
    let task = tokio::spawn(play(
        room.to_owned(),
        name.to_owned(),
        entries,
        Arc::clone(&log),
        stop,
    ));
    Player {
        name: name.to_owned(),
        log,
        task,
    }
}

/// How far a player may move in `ticks` ticks (max speed 250 units/s at
/// 20 Hz, with a margin), plus a unit for quantized positions.
fn reach(ticks: u32) -> f32 {
    300.0 * ticks as f32 / 20.0 + 2.0
}

async fn play(
    room: String,
    name: String,
    entries: Entries,
    log: Arc<Mutex<Log>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut token = String::new();
    // Where to connect next: a node a 4001 named, else an entry.
    let mut target: Option<(String, SocketAddr)> = None;
    let mut entry_turn = 0usize;
    let mut backoff = Duration::from_millis(50);
    let mut seq = 0u32;
    let give_up = |why: String| {
        log.lock().expect("player log").failed = Some(why);
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let (node, addr) = match target.take() {
            Some(t) => t,
            None => {
                let list = entries.lock().expect("entries").clone();
                if list.is_empty() {
                    return give_up("no live node to enter by".into());
                }
                entry_turn += 1;
                list[entry_turn % list.len()].clone()
            }
        };
        let (mut ws, welcome) = match attempt_resuming(addr, &room, &name, &token).await {
            Attempt::Welcome(ws, w) => (ws, w),
            Attempt::Closed(4001, reason) if reason.starts_with("node=") => {
                let owner = reason["node=".len()..].to_owned();
                log.lock()
                    .expect("player log")
                    .trail
                    .push(format!("{node}: 4001 {reason}"));
                if let Ok(a) = resolve(addr, &owner).await {
                    target = Some((owner, a));
                } else {
                    tokio::time::sleep(backoff).await;
                }
                continue;
            }
            other => {
                let line = match other {
                    Attempt::Closed(code, reason) => format!("{node}: {code} {reason}"),
                    Attempt::Failed(why) => format!("{node}: {why}"),
                    Attempt::Welcome(..) => unreachable!(),
                };
                log.lock().expect("player log").trail.push(line);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        {
            let mut l = log.lock().expect("player log");
            l.node = node.clone();
            match l.player {
                None => l.player = Some(welcome.player_id),
                Some(id) if id != welcome.player_id || !welcome.resumed => {
                    let line = format!(
                        "on {node} at tick {}: player {} (resumed: {}) instead of {id}",
                        welcome.tick, welcome.player_id, welcome.resumed
                    );
                    l.lost_identity.push(line);
                }
                Some(_) => l.resumes += 1,
            }
        }
        token = welcome.resume_token.clone();
        let mut replica = match Replica::from_welcome(&welcome) {
            Ok(r) => r,
            Err(e) => return give_up(format!("the welcome's schema: {e}")),
        };
        let player = welcome.player_id;
        let mut first = true;
        let mut inputs = tokio::time::interval(Duration::from_millis(50));
        let mut steer = SteerInput { x: 0, y: 0 };
        // How this connection ended: a node to follow, or back to an entry.
        let next = loop {
            tokio::select! {
                _ = stop.changed() => {
                    let _ = SinkExt::close(&mut ws).await;
                    return;
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Binary(b))) => {
                        let Ok(ServerMsg::State(s)) = proto::decode_server(&b) else { continue };
                        let applied = match replica.apply(&s) {
                            Ok(a) => a,
                            Err(e) => return give_up(format!("a frame does not apply: {e}")),
                        };
                        let Some(frame) = replica.frame() else { continue };
                        let Ok(view) = ArenaView::read(replica.schema(), frame) else {
                            return give_up("not an arena frame".into());
                        };
                        let me = view.player(player).cloned();
                        let mut l = log.lock().expect("player log");
                        if !applied.checksum_ok {
                            l.mismatches += 1;
                        }
                        if l.frames > 0 && applied.tick <= l.tick {
                            l.non_increasing += 1;
                        }
                        if let Some(me) = me {
                            let pos = [me.pos.x, me.pos.y];
                            if first && l.frames > 0 {
                                let gap = applied.tick.saturating_sub(l.tick).max(1);
                                let (dx, dy) = (pos[0] - l.pos[0], pos[1] - l.pos[1]);
                                let moved = (dx * dx + dy * dy).sqrt();
                                if moved > reach(gap) {
                                    let line = format!("{moved:.1} units in {gap} ticks at tick {}", applied.tick);
                                    l.jumps.push(line);
                                }
                                let (tick, score) = (l.tick, l.score);
                                l.across.push((tick, score, applied.tick, me.score));
                            }
                            if me.score < l.score {
                                let line = format!("{} → {} at tick {} on {node}", l.score, me.score, applied.tick);
                                l.score_drops.push(line);
                            }
                            l.score = me.score;
                            l.pos = pos;
                            // Steer for the nearest pellet.
                            if let Some(p) = view.pellets.iter().min_by(|a, b| {
                                (a.pos - me.pos).length().total_cmp(&(b.pos - me.pos).length())
                            }) {
                                let d = p.pos - me.pos;
                                steer = SteerInput::from_direction(d.x, d.y);
                            }
                        }
                        first = false;
                        l.frames += 1;
                        l.tick = applied.tick;
                    }
                    Some(Ok(Message::Close(Some(frame)))) => {
                        let (code, reason) = (u16::from(frame.code), frame.reason.to_string());
                        let mut l = log.lock().expect("player log");
                        l.trail.push(format!("{node}: closed {code} {reason}"));
                        if code == 4001 && let Some(owner) = reason.strip_prefix("node=") {
                            l.redirects += 1;
                            break Some(owner.to_owned());
                        }
                        l.reconnects += 1;
                        break None;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        let mut l = log.lock().expect("player log");
                        l.trail.push(format!("{node}: connection dropped"));
                        l.reconnects += 1;
                        break None;
                    }
                },
                _ = inputs.tick() => {
                    seq += 1;
                    let mut data = Vec::new();
                    tickroom_sim::catalogue().encode_input(&steer, &mut data);
                    let tick = log.lock().expect("player log").tick;
                    let input = ClientMsg::Input(proto::Input { seq, ack_tick: tick, data });
                    if ws.send(Message::Binary(Bytes::from(proto::encode_client(&input)))).await.is_err() {
                        log.lock().expect("player log").reconnects += 1;
                        break None;
                    }
                }
            }
        };
        if let Some(owner) = next {
            match resolve(addr, &owner).await {
                Ok(a) => target = Some((owner, a)),
                Err(e) => log.lock().expect("player log").trail.push(e),
            }
        }
    }
}

/// Waits until every player is connected and has seen `more` frames since
/// `since` (per player), none failed.
async fn all_playing(players: &[Player], since: &[u64], more: u64, why: &str) {
    until(
        format!("every player to play {more} more frames ({why})"),
        BACK,
        || async {
            let mut behind = Vec::new();
            for (p, &from) in players.iter().zip(since) {
                let l = p.log();
                if let Some(f) = &l.failed {
                    panic!("{} failed: {f}; trail: {:?}", p.name, l.trail);
                }
                if l.frames < from + more {
                    behind.push(format!(
                        "{} ({} frames, on {}, trail {:?})",
                        p.name,
                        l.frames - from,
                        l.node,
                        l.trail.last()
                    ));
                }
            }
            if behind.is_empty() {
                Ok(())
            } else {
                Err(behind)
            }
        },
    )
    .await;
}

fn frames(players: &[Player]) -> Vec<u64> {
    players.iter().map(|p| p.log().frames).collect()
}

async fn wait_members(nodes: &[Node], why: &str) {
    let mut want: Vec<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    want.sort();
    for n in nodes {
        until(
            format!("{}'s /cluster to list {want:?} ({why})", n.id),
            MEMBERSHIP,
            || lists_members(n.addr, &want),
        )
        .await;
    }
}

fn set_entries(entries: &Entries, nodes: &[Node]) {
    *entries.lock().expect("entries") = nodes.iter().map(|n| (n.id.clone(), n.addr)).collect();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_hands_every_room_on_and_loses_no_player() {
    if !redis::required_by("handoff::rolling_restart") {
        return;
    }
    let started = Instant::now();
    let say = |what: &str| eprintln!("handoff [{:>7.2?}] {what}", started.elapsed());
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let records = TempDir::new("handoff-records");
    let ids = ["ha", "hb", "hc"];
    let mut nodes = Vec::new();
    for id in ids {
        nodes.push(Node::start(&node_args(&redis, &prefix, id, false, 0, &records.0)).await);
    }
    wait_members(&nodes, "start").await;
    let mut owners = Vec::new();
    for i in 0..ROOMS {
        let room = format!("match-{i}");
        owners.push(create_room_with(nodes[i % nodes.len()].addr, &room_body(&room)).await);
    }
    say(&format!("rooms placed on {owners:?}"));
    let entries: Entries = Arc::default();
    set_entries(&entries, &nodes);
    let (stop_tx, stop) = watch::channel(false);
    let mut players = Vec::new();
    for i in 0..ROOMS {
        for j in 0..PER_ROOM {
            let name = format!("p{i}-{j}");
            players.push(spawn_player(
                &format!("match-{i}"),
                &name,
                Arc::clone(&entries),
                stop.clone(),
            ));
        }
    }
    // Bots in the same rooms, entering by every node.
    let urls: Vec<String> = nodes.iter().map(|n| format!("http://{}", n.addr)).collect();
    let swarm = SwarmConfig {
        url: urls.join(","),
        placement: Placement::Rooms {
            rooms: ROOMS,
            per_room: BOTS_PER_ROOM,
        },
        room_prefix: "match".to_owned(),
        mix: "wander".parse().expect("mix"),
        ramp_per_sec: 100.0,
        duration: None,
        connect_timeout: Duration::from_secs(30),
        seed: 25,
        ..SwarmConfig::default()
    };
    let (bots_stop, mut bots_stopped) = watch::channel(false);
    let bots = tokio::spawn(tickroom_bots::run(swarm, async move {
        let _ = bots_stopped.wait_for(|s| *s).await;
    }));
    all_playing(&players, &vec![0; players.len()], 40, "joined").await;
    say("every player plays");
    for id in ids {
        let at = nodes.iter().position(|n| n.id == id).expect("node");
        let mut node = nodes.remove(at);
        set_entries(&entries, &nodes);
        let before = frames(&players);
        let owned = metric(node.addr, "tickroom_rooms").await;
        node.sigterm();
        let status = node.wait_exit(EXIT).await;
        let log = node.log();
        let handed = log.matches("room handed off").count();
        let failed = log.matches("hand-off failed").count();
        say(&format!(
            "{id} drained ({status}) owning {owned} rooms: {handed} handed off, {failed} failed"
        ));
        assert_eq!(failed, 0, "{id}'s hand-offs failed:\n{}", node.log_tail(60));
        assert_eq!(
            handed as f64,
            owned,
            "{id} handed off every room it owned:\n{}",
            node.log_tail(60)
        );
        all_playing(&players, &before, 20, &format!("{id} drained")).await;
        // On its old port: the bots' entry list still names it.
        let port = node.addr.port();
        drop(node);
        let again = Node::start(&node_args(&redis, &prefix, id, false, port, &records.0)).await;
        nodes.push(again);
        set_entries(&entries, &nodes);
        wait_members(&nodes, &format!("{id} back")).await;
        say(&format!("{id} back"));
    }
    let before = frames(&players);
    all_playing(&players, &before, 20, "after the rolling restart").await;
    let _ = stop_tx.send(true);
    let _ = bots_stop.send(true);
    let report = tokio::time::timeout(Duration::from_secs(30), bots)
        .await
        .expect("the bots stop within 30 s")
        .expect("the bots' task")
        .expect("the swarm ran");
    let c = &report.all.counts;
    eprintln!(
        "handoff   bots: {} connections, {} redirects, {} resumes, {} resume misses, {} checksum mismatches",
        c.connections, c.redirects, c.resumes, c.resume_misses, c.checksum_mismatches
    );
    eprintln!(
        "handoff   bots: connect errors {:?}, disconnects {:?}",
        report.all.connect_error_reasons, report.all.disconnects_by_reason
    );
    assert_eq!(report.bots, ROOMS * BOTS_PER_ROOM);
    assert_eq!(c.checksum_mismatches, 0, "bots: checksum mismatches");
    assert_eq!(c.decode_errors, 0, "bots: decode errors");
    assert_eq!(c.resume_misses, 0, "bots: a hand-off lost a bot's player");
    assert!(
        c.redirects >= ROOMS as u64,
        "bots followed the hand-offs: {c:?}"
    );
    let mut adopted = 0.0;
    for n in &nodes {
        adopted += metric(n.addr, "tickroom_handoffs_adopted_total").await;
    }
    let mut redirects = 0;
    for p in &players {
        let l = p.log();
        redirects += l.redirects;
        let who = format!("{} (player {:?}): trail {:?}", p.name, l.player, l.trail);
        assert!(l.failed.is_none(), "{who}: {:?}", l.failed);
        assert!(l.lost_identity.is_empty(), "{who}: {:?}", l.lost_identity);
        assert_eq!(l.non_increasing, 0, "{who}: ticks went back");
        assert_eq!(l.mismatches, 0, "{who}: checksum mismatches");
        assert!(l.score_drops.is_empty(), "{who}: {:?}", l.score_drops);
        assert!(l.jumps.is_empty(), "{who}: {:?}", l.jumps);
        assert!(l.redirects >= 1, "{who}: its room was never handed off");
        assert_eq!(
            l.resumes,
            l.redirects + l.reconnects,
            "{who}: every reconnect resumed"
        );
        eprintln!(
            "handoff   {}: player {:?}, {} frames, score {}, {} hand-offs, {} other reconnects, across {:?}",
            p.name, l.player, l.frames, l.score, l.redirects, l.reconnects, l.across
        );
        p.task.abort();
    }
    assert!(
        adopted >= ROOMS as f64,
        "the nodes adopted {adopted} rooms, fewer than {ROOMS}"
    );
    say(&format!(
        "{redirects} hand-offs followed, {adopted} rooms adopted by the nodes up now"
    ));
    stop_all(nodes).await;
    let chains = replay_chains(&records.0);
    say(&format!("recordings replayed as chains: {chains:?}"));
    assert_eq!(chains.len(), ROOMS, "one chain of recordings per room");
    let hand_offs: usize = chains.values().map(|n| n - 1).sum();
    assert!(
        chains.values().all(|&n| n >= 2),
        "every room was handed off, so it has a recording on at least two nodes: {chains:?}"
    );
    assert!(
        hand_offs as f64 >= adopted,
        "{hand_offs} hand-off points checked, fewer than the {adopted} adoptions"
    );
}

/// Drains every node at once and waits for their exits: with no node left
/// to take their rooms, the rooms close and their recordings end.
async fn stop_all(mut nodes: Vec<Node>) {
    for n in &nodes {
        n.sigterm();
    }
    for n in &mut nodes {
        n.wait_exit(EXIT).await;
    }
}

/// Every room's recordings in `root`'s node directories as one chain per
/// room (the first continuing nothing, each next one naming the one before
/// it), each chain replayed by `tickroom replay` with every tick and every
/// hand-off point matching; returns each room's number of files.
fn replay_chains(root: &Path) -> BTreeMap<String, usize> {
    struct Rec {
        path: PathBuf,
        node: String,
        file: String,
        from: Option<(String, String)>,
    }
    let games = games();
    let mut by_room: BTreeMap<String, Vec<Rec>> = BTreeMap::new();
    for dir in std::fs::read_dir(root).expect("the recordings root") {
        let dir = dir.expect("a node directory").path();
        for f in std::fs::read_dir(&dir).expect("a node's recordings") {
            let path = f.expect("a recording").path();
            let file = std::fs::File::open(&path).expect("open a recording");
            let replay = tickroom_server::recording::replay::Replay::open(
                std::io::BufReader::new(file),
                &games,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let from = replay
                .continuation()
                .and_then(|c| c.from.as_ref())
                .map(|f| (f.node.clone(), f.file.clone()));
            by_room
                .entry(replay.header().room.clone())
                .or_default()
                .push(Rec {
                    node: replay.header().node.clone(),
                    file: path
                        .file_name()
                        .expect("a file name")
                        .to_string_lossy()
                        .into_owned(),
                    path,
                    from,
                });
        }
    }
    let mut out = BTreeMap::new();
    for (room, mut recs) in by_room {
        let names: Vec<String> = recs
            .iter()
            .map(|r| format!("{}/{}", r.node, r.file))
            .collect();
        let first = recs
            .iter()
            .position(|r| r.from.is_none())
            .unwrap_or_else(|| panic!("room {room}: no recording starts it: {names:?}"));
        let mut chain = vec![recs.swap_remove(first)];
        while let Some(at) = recs.iter().position(|r| {
            let last = chain.last().expect("a file");
            r.from.as_ref() == Some(&(last.node.clone(), last.file.clone()))
        }) {
            chain.push(recs.swap_remove(at));
        }
        assert!(
            recs.is_empty(),
            "room {room}: recordings outside its one chain ({:?}); all: {names:?}",
            recs.iter().map(|r| &r.file).collect::<Vec<_>>()
        );
        let out_put = std::process::Command::new(tickroom_bin())
            .arg("replay")
            .args(chain.iter().map(|r| &r.path))
            .output()
            .expect("run tickroom replay");
        let text = String::from_utf8_lossy(&out_put.stdout);
        assert!(
            out_put.status.success(),
            "room {room}: tickroom replay of {names:?} exited {}:\n{text}{}",
            out_put.status,
            String::from_utf8_lossy(&out_put.stderr)
        );
        assert_eq!(
            text.matches("the state matches").count(),
            chain.len() - 1,
            "room {room}: every hand-off point checked:\n{text}"
        );
        out.insert(room, chain.len());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_rooms_come_back_from_their_snapshots() {
    if !redis::required_by("handoff::crash_restore") {
        return;
    }
    let started = Instant::now();
    let say = |what: &str| eprintln!("handoff [{:>7.2?}] {what}", started.elapsed());
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let records = TempDir::new("crash-records");
    let mut nodes = Vec::new();
    for id in ["ka", "kb"] {
        nodes.push(Node::start(&node_args(&redis, &prefix, id, true, 0, &records.0)).await);
    }
    wait_members(&nodes, "start").await;
    let owner = create_room_with(nodes[0].addr, &room_body("crash")).await;
    say(&format!("room on {owner}"));
    // A room on the same node that only the room API will bring back.
    let mut api_room = None;
    for i in 0..32 {
        let id = format!("api-{i}");
        if create_room_with(nodes[0].addr, &room_body(&id)).await == owner {
            api_room = Some(id);
            break;
        }
    }
    let api_room = api_room.expect("one of 32 rooms lands on the crash room's node");
    let entries: Entries = Arc::default();
    set_entries(&entries, &nodes);
    let (stop_tx, stop) = watch::channel(false);
    let (api_stop_tx, api_stop) = watch::channel(false);
    let api_player = spawn_player(&api_room, "api", Arc::clone(&entries), api_stop);
    let players: Vec<Player> = (0..2)
        .map(|j| {
            spawn_player(
                "crash",
                &format!("k{j}"),
                Arc::clone(&entries),
                stop.clone(),
            )
        })
        .collect();
    until("both players to score", BACK, || async {
        let scores: Vec<u32> = players.iter().map(|p| p.log().score).collect();
        if scores.iter().all(|&s| s >= 2) {
            Ok(())
        } else {
            Err(scores)
        }
    })
    .await;
    // The API room's player goes quiet (its connection drops; its seat waits
    // the 30 s resume grace), so only the room API can bring the room back.
    let api_seen = api_player.log().tick;
    assert!(api_seen > 0, "the API room's player got frames");
    let _ = api_stop_tx.send(true);
    api_player.task.abort();
    // What a snapshot taken after this holds at least (one is written every
    // second; wait two before the kill).
    let seen: Vec<(u32, u32, Option<u32>)> = players
        .iter()
        .map(|p| {
            let l = p.log();
            (l.tick, l.score, l.player)
        })
        .collect();
    let snapshots_before = {
        let n = nodes.iter().find(|n| n.id == owner).expect("owner");
        until(
            "two snapshots of the room after the scores were read",
            BACK,
            || async {
                let written = metric(n.addr, "tickroom_room_snapshots_written_total").await;
                let at = seen.iter().map(|s| s.0).max().unwrap_or(0);
                let tick = players.iter().map(|p| p.log().tick).min().unwrap_or(0);
                if tick >= at + 50 {
                    Ok(written)
                } else {
                    Err(tick)
                }
            },
        )
        .await
    };
    let at = nodes.iter().position(|n| n.id == owner).expect("owner");
    let mut dead = nodes.remove(at);
    set_entries(&entries, &nodes);
    let before = frames(&players);
    dead.kill9();
    say(&format!(
        "{owner} killed after writing {snapshots_before} snapshots"
    ));
    all_playing(&players, &before, 20, "after the kill").await;
    let _ = stop_tx.send(true);
    let survivor = &nodes[0];
    assert_eq!(
        metric(survivor.addr, "tickroom_rooms_restored_total").await,
        1.0,
        "{} restored the room from its snapshot",
        survivor.id
    );
    // The room API brings the other room back: a join ticket, not a 404,
    // and the room holds its player's seat (a fresh room would be empty)
    // (while the dead node's lease runs, the survivor may still relay to it).
    let join = format!("/rooms/{api_room}/join");
    let ticket = until(
        format!("POST {join} on the survivor to grant a ticket"),
        BACK,
        || async {
            match try_json(survivor.addr, "POST", &join, None).await {
                Ok((200, body)) => Ok(body),
                Ok((status, body)) => Err(format!("{status} {body}")),
                Err(e) => Err(e),
            }
        },
    )
    .await;
    assert_eq!(ticket["room"], api_room.as_str(), "{ticket}");
    assert_eq!(
        metric(survivor.addr, "tickroom_rooms_restored_total").await,
        2.0,
        "the API join restored {api_room} from its snapshot"
    );
    let (status, room) = try_json(survivor.addr, "GET", &format!("/rooms/{api_room}"), None)
        .await
        .expect("GET the restored room");
    assert_eq!(status, 200, "{room}");
    assert_eq!(room["players"], 1, "its player's seat came back: {room}");
    assert_eq!(room["node"], survivor.id.as_str(), "{room}");
    for (p, (tick, score, id)) in players.iter().zip(&seen) {
        let l = p.log();
        let who = format!("{} (player {:?}): trail {:?}", p.name, l.player, l.trail);
        assert!(l.failed.is_none(), "{who}: {:?}", l.failed);
        assert!(l.lost_identity.is_empty(), "{who}: {:?}", l.lost_identity);
        assert_eq!(l.player, *id, "{who}");
        assert_eq!(l.mismatches, 0, "{who}: checksum mismatches");
        let &(_, _, tick_after, score_after) = l.across.last().expect("it came back");
        assert!(
            tick_after > *tick,
            "{who}: back at tick {tick_after}, not after the {tick} seen before the snapshot"
        );
        assert!(
            score_after >= *score,
            "{who}: score {score_after} after the restore, below the {score} before the snapshot"
        );
        eprintln!(
            "handoff   {}: before the kill {:?}, across {:?}",
            p.name,
            (tick, score),
            l.across
        );
        p.task.abort();
    }
    // The dead node's recording stops where it died; the survivor's starts
    // from the snapshot and names it.
    stop_all(nodes).await;
    let chains = replay_chains(&records.0);
    assert_eq!(
        chains.get("crash"),
        Some(&2),
        "the room's recording continues on the survivor: {chains:?}"
    );
    assert_eq!(
        chains.get(&api_room),
        Some(&2),
        "{api_room}'s recording continues on the survivor: {chains:?}"
    );
}

/// A raw HTTP/1.1 request on a fresh connection; the status line and body of
/// the answer, which must come within `PROMPT` (the body need not be sent).
async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PROMPT: Duration = Duration::from_secs(5);
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("write the head");
    s.write_all(body).await.expect("write the body");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let answer = tokio::time::timeout(PROMPT, async {
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some((h, b)) = text.split_once("\r\n\r\n")
                && b.contains('}')
            {
                return (h.to_owned(), b.to_owned());
            }
            if n == 0 {
                return (text.into_owned(), String::new());
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no answer within {PROMPT:?} to {head:?}"));
    let status = answer
        .0
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer.1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_hand_off_is_refused_and_an_unsigned_one_before_its_body() {
    if !redis::required_by("handoff::forged") {
        return;
    }
    let redis = RedisServer::start();
    let prefix = unique_prefix();
    let records = TempDir::new("forged-records");
    let node = Node::start(&node_args(&redis, &prefix, "fa", false, 0, &records.0)).await;
    let path = tickroom_server::handoff::HANDOFF_PATH;
    let holder = tickroom_server::handoff::HOLDER_HEADER;
    let signature = tickroom_server::handoff::SIGNATURE_HEADER;
    let t0 = Instant::now();
    // No signature, 8 MB promised and never sent: refused from the headers.
    let (status, body) = raw(
        node.addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\n{holder}: fz#1\r\nContent-Length: 8000000\r\n\r\n"
        ),
        b"",
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("bad_signature"), "{body}");
    // Whole requests carrying `junk` under the signature `tag`.
    let junk = b"not a room";
    let post_junk = |tag: String| {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\n{holder}: fz#1\r\n{signature}: {tag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            junk.len()
        );
        async move { raw(node.addr, &head, junk).await }
    };
    // A signature that is not the fleet's.
    let (status, body) = post_junk("AAAA".to_owned()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("bad_signature"), "{body}");
    // Signed with the fleet's secret but not a snapshot: a clear 400.
    let signer = tickroom_server::signing::Signer::new(SECRET.as_bytes()).expect("a secret");
    let (status, body) = post_junk(signer.tag(tickroom_server::handoff::DOMAIN, junk)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("bad_snapshot"), "{body}");
    eprintln!("forged hand-offs refused in {:?}", t0.elapsed());
    // The node took no room and still serves.
    assert_eq!(metric(node.addr, "tickroom_rooms").await, 0.0);
    assert_eq!(
        metric(node.addr, "tickroom_handoffs_adopted_total").await,
        0.0
    );
}
