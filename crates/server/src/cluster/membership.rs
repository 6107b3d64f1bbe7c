//! Redis mode: this node's membership record, the member set, and room
//! claims, kept in Redis with leases on Redis's own clock.
//!
//! **Keys** (prefix `p`, `--redis-prefix`):
//! - `p:nodes`: the set of member ids (a hint for the scan; an id whose
//!   record is gone is removed from it).
//! - `p:node:<id>`: the member record (JSON: id, public WebSocket URL, API
//!   URL, weight, state, rooms owned, incarnation), `PX` the membership lease
//!   (`--cluster-lease`, 3 s by default), rewritten every third of it.
//! - `p:room:<room>`: the claim, `<node>#<incarnation>`, `PX` three leases,
//!   renewed with the record.
//!
//! **Claims** are taken and renewed by one Lua script (`CLAIM`). The node
//! that places a room writes its claim, for itself or for the peer it chose
//! (which finds the claim naming it when the player or the forwarded request
//! arrives, and renews it from then on), so the first placement to reach
//! Redis decides even while two nodes' views differ. A claim is taken when
//! the key is absent (`SET NX`'s rule), already the holder's, or
//! *void*: its owner's record is gone or names another incarnation (the
//! owner died or restarted), so a dead node's rooms are placed afresh within
//! its membership lease, not the claim's. Every heartbeat re-asserts every
//! room running here through the same script; a room some other node holds
//! by then (it claimed the room while this node was cut off from Redis) is
//! closed here with 4001 (fencing: never two live owners once Redis is
//! reachable). The incarnation (random per process) keeps a restarted node
//! from inheriting the rooms its previous process held.
//!
//! **Time**: leases are `PX` expiries, so Redis's clock decides them; the
//! heartbeat script also returns Redis's `TIME`, which places rooms with the
//! [`Directory`] on Redis's clock, advanced locally between heartbeats.
//!
//! **Outages**: a failed round trip is logged (once per outage), counted and
//! retried on the next heartbeat (the connection manager reconnects with
//! backoff). Rooms running here keep running and keep their players; no room
//! is placed anywhere while this node cannot read the claims.
//!
//! Standalone Redis (or a primary) only: the scripts touch keys they are not
//! given (Redis Cluster would refuse them).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex, MutexGuard, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use redis::{AsyncCommands, Script, aio::ConnectionManager};
use serde::{Deserialize, Serialize};
use tickroom_cluster::{
    Directory, DirectoryConfig, NodeId, Target, Weight, WsUrl,
    directory::{Member, MemberState},
};

use super::{Located, MemberView, Peer, Route};
use crate::{Config, Error, Result, metrics::Metrics, net::close, room::registry::Registry};

/// Takes or renews claims. KEYS: claim keys. ARGV: the holder `<node>#<inc>`, the
/// claim lease in ms, the member-record key prefix. Returns, per key, the
/// claim's holder after the call (the given one if it holds it now).
const CLAIM: &str = r#"
local out = {}
for i, key in ipairs(KEYS) do
  local cur = redis.call('GET', key)
  local held = false
  if cur and cur ~= ARGV[1] then
    local sep = string.find(cur, '#', 1, true)
    if sep then
      local rec = redis.call('GET', ARGV[3] .. string.sub(cur, 1, sep - 1))
      if rec then
        local ok, m = pcall(cjson.decode, rec)
        held = ok and type(m) == 'table' and m.inc == string.sub(cur, sep + 1)
      end
    end
  end
  if held then
    out[i] = cur
  else
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    out[i] = ARGV[1]
  end
end
return out
"#;

/// Moves a claim from one holder to another in one step (a hand-off).
/// KEYS[1]: the claim key. ARGV: the holder it must have now, the new
/// holder, the claim lease in ms. Returns 1 if moved, else 0 (the claim is
/// not the old holder's any more: nothing changes).
const MOVE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

/// Deletes a room snapshot if this node wrote it. KEYS[1]: the snapshot
/// key. ARGV[1]: `<node>#<inc>` (a snapshot starts with it and a newline).
const FORGET_SNAPSHOT: &str = r#"
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '\n' then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// Drops claims that are still ours. KEYS: claim keys. ARGV: `<node>#<inc>`.
const RELEASE: &str = r#"
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"#;

/// Writes our record (unless ARGV[3] is empty) and reads every member.
/// KEYS[1]: the member set. ARGV: record key prefix, our id, our record,
/// lease ms. Returns Redis's TIME (seconds, microseconds), the record our
/// key held before this write (empty if none), then each live member's
/// record and remaining lease in ms; drops dead ids from the set.
const HEARTBEAT: &str = r#"
local prev = redis.call('GET', ARGV[1] .. ARGV[2]) or ''
if ARGV[3] ~= '' then
  redis.call('SET', ARGV[1] .. ARGV[2], ARGV[3], 'PX', ARGV[4])
  redis.call('SADD', KEYS[1], ARGV[2])
end
local t = redis.call('TIME')
local out = {t[1], t[2], prev}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rec = redis.call('GET', ARGV[1] .. id)
  if rec then
    table.insert(out, rec)
    table.insert(out, tostring(redis.call('PTTL', ARGV[1] .. id)))
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
"#;

/// Removes our record. KEYS[1]: the member set. ARGV: record key, our id.
const DEREGISTER: &str = r#"
redis.call('DEL', ARGV[1])
redis.call('SREM', KEYS[1], ARGV[2])
return 1
"#;

/// A member record as stored in `p:node:<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    url: String,
    api: String,
    weight: u32,
    state: String,
    rooms: u64,
    inc: String,
    /// The games the node hosts (absent in records of older builds: any).
    #[serde(default)]
    games: Vec<String>,
}

/// A claim this node took that no room runs under yet is released after this.
const UNUSED_CLAIM: Duration = Duration::from_secs(5);
/// Claims per script call (bounds one call's run time inside Redis).
const CLAIM_BATCH: usize = 256;

/// What this node knows of the cluster, rebuilt every heartbeat.
#[derive(Debug)]
struct View {
    dir: Directory,
    /// Per member: its peer address and incarnation.
    peers: HashMap<NodeId, (Peer, String)>,
    /// Redis's clock at the last heartbeat (ms) and when that was here.
    clock: Option<(u64, Instant)>,
}

/// This node's membership in a Redis-backed cluster.
pub struct Membership {
    me: Peer,
    /// The games this node hosts (in its record).
    games: Vec<String>,
    /// `<node>#<incarnation>`: the value of our claims.
    holder: String,
    inc: String,
    weight: Weight,
    lease: Duration,
    claim_lease: Duration,
    nodes_key: String,
    node_prefix: String,
    room_prefix: String,
    snap_prefix: String,
    conn: ConnectionManager,
    view: RwLock<View>,
    /// Claims taken here: room → when first taken.
    owned: Mutex<HashMap<Arc<str>, Instant>>,
    /// Rooms being handed to another node: their claims are neither renewed
    /// nor fenced here until the hand-off ends.
    handing: Mutex<std::collections::HashSet<Arc<str>>>,
    up: AtomicBool,
    draining: AtomicBool,
    /// Set by [`Membership::leave`]: the heartbeat stops writing.
    left: AtomicBool,
    /// Whether a heartbeat has written our record.
    registered: AtomicBool,
    /// Held through a heartbeat and through leaving, so no heartbeat in
    /// flight writes the record back after the node left.
    beating: tokio::sync::Mutex<()>,
    metrics: Metrics,
    claim: Script,
    moving: Script,
    forget_snapshot: Script,
    release: Script,
    heartbeat: Script,
    deregister: Script,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("me", &self.me)
            .field("holder", &self.holder)
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// A membership for `me` on the Redis at `url` (nothing is sent yet).
    pub fn new(
        me: Peer,
        url: &str,
        config: &Config,
        metrics: Metrics,
        games: Vec<String>,
    ) -> Result<Membership> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Config(format!("--redis: not a Redis URL: {e}")))?;
        let lease = config.cluster_lease;
        let beat = lease / 3;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(beat.max(Duration::from_millis(100))))
            .set_response_timeout(Some(beat.max(Duration::from_millis(100))))
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_lazy_with_config(client, manager)
            .map_err(|e| Error::Config(format!("--redis: {e}")))?;
        let inc = format!("{:016x}", crate::signing::random_u64());
        let p = &config.redis_prefix;
        let weight = Weight::new(config.node_weight)
            .map_err(|e| Error::Config(format!("--node-weight: {e}")))?;
        let dir = Directory::new(me.id.clone(), DirectoryConfig::default());
        metrics.cluster.redis_up.set(0.0);
        Ok(Membership {
            games,
            holder: format!("{}#{inc}", me.id),
            me,
            inc,
            weight,
            lease,
            claim_lease: lease * 3,
            nodes_key: format!("{p}:nodes"),
            node_prefix: format!("{p}:node:"),
            room_prefix: format!("{p}:room:"),
            snap_prefix: format!("{p}:snap:"),
            conn,
            view: RwLock::new(View {
                dir,
                peers: HashMap::new(),
                clock: None,
            }),
            owned: Mutex::new(HashMap::new()),
            handing: Mutex::new(std::collections::HashSet::new()),
            up: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            left: AtomicBool::new(false),
            registered: AtomicBool::new(false),
            beating: tokio::sync::Mutex::new(()),
            metrics,
            claim: Script::new(CLAIM),
            moving: Script::new(MOVE),
            forget_snapshot: Script::new(FORGET_SNAPSHOT),
            release: Script::new(RELEASE),
            heartbeat: Script::new(HEARTBEAT),
            deregister: Script::new(DEREGISTER),
        })
    }

    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(|e| e.into_inner())
    }

    fn owned(&self) -> MutexGuard<'_, HashMap<Arc<str>, Instant>> {
        self.owned.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn claim_key(&self, room: &str) -> String {
        format!("{}{room}", self.room_prefix)
    }

    /// Runs the first heartbeat, then keeps beating every third of the lease.
    pub async fn start(self: &Arc<Self>, registry: Arc<Registry>) {
        self.beat(&registry).await;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(me.lease / 3);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            while !me.left.load(Ordering::Acquire) {
                every.tick().await;
                me.beat(&registry).await;
            }
        });
    }

    /// One heartbeat: record and member set, then claims. Never fails: an
    /// error marks Redis down until the next success.
    async fn beat(&self, registry: &Registry) {
        let _beating = self.beating.lock().await;
        if self.left.load(Ordering::Acquire) {
            return;
        }
        let rooms = registry.room_count() as u64;
        match self.sync_members(rooms).await {
            Ok(()) => {}
            Err(e) => return self.failed(&e),
        }
        if let Err(e) = self.renew(registry).await {
            return self.failed(&e);
        }
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!(node = %self.me.id, "redis reachable: membership and claims up to date");
        }
        self.metrics.cluster.redis_up.set(1.0);
    }

    fn failed(&self, e: &redis::RedisError) {
        self.metrics.cluster.redis_errors.increment(1);
        self.metrics.cluster.redis_up.set(0.0);
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(error = %e, "redis unreachable: running rooms keep ticking; no room is placed until it returns");
        } else {
            tracing::debug!(error = %e, "redis still unreachable");
        }
    }

    fn record(&self, rooms: u64) -> String {
        let draining = self.draining.load(Ordering::Acquire);
        let record = Record {
            id: self.me.id.to_string(),
            url: self.me.ws_url.to_string(),
            api: self.me.api_url.clone(),
            weight: self.weight.get(),
            state: if draining { "draining" } else { "up" }.into(),
            rooms,
            inc: self.inc.clone(),
            games: self.games.clone(),
        };
        serde_json::to_string(&record).unwrap_or_default()
    }

    /// Writes our record (unless `register` is off) and rebuilds the view.
    async fn sync_members(&self, rooms: u64) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let out: Vec<String> = self
            .heartbeat
            .key(&self.nodes_key)
            .arg(&self.node_prefix)
            .arg(self.me.id.as_str())
            .arg(self.record(rooms))
            .arg(self.lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        let (secs, micros) = match (out.first(), out.get(1)) {
            (Some(s), Some(us)) => (
                s.parse::<u64>().unwrap_or(0),
                us.parse::<u64>().unwrap_or(0),
            ),
            _ => (0, 0),
        };
        let now = secs * 1000 + micros / 1000;
        self.check_own_record(out.get(2).map_or("", String::as_str));
        let mut records = BTreeMap::new();
        for pair in out[3.min(out.len())..].chunks(2) {
            let [rec, pttl] = pair else { continue };
            let Ok(rec) = serde_json::from_str::<Record>(rec) else {
                tracing::warn!("ignoring an unreadable member record in redis");
                continue;
            };
            let pttl = pttl.parse::<i64>().unwrap_or(-1);
            if pttl <= 0 {
                continue;
            }
            records.insert(rec.id.clone(), (rec, now + pttl as u64));
        }
        self.apply(now, records);
        Ok(())
    }

    /// Warns when the record under our id was written by another process
    /// since our last heartbeat: two nodes share one `--node-id`, and their
    /// rooms and claims will fight.
    fn check_own_record(&self, prev: &str) {
        let first = !self.registered.swap(true, Ordering::AcqRel);
        if first || prev.is_empty() {
            // Absent (lease lapsed), or the previous process of this node.
            return;
        }
        if let Ok(rec) = serde_json::from_str::<Record>(prev)
            && rec.inc != self.inc
        {
            tracing::error!(
                node = %self.me.id,
                other_url = rec.url,
                "another process is registered under this node id: give every node its own --node-id"
            );
        }
    }

    /// Feeds the member records into the directory, logging and counting
    /// every change.
    fn apply(&self, now: u64, records: BTreeMap<String, (Record, u64)>) {
        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
        let mut changes = Vec::new();
        let mut peers = HashMap::new();
        let mut loads = Vec::new();
        for (rec, lease_until) in records.into_values() {
            let (Ok(id), Ok(url)) = (NodeId::new(&rec.id), WsUrl::new(&rec.url)) else {
                tracing::warn!(id = rec.id, "ignoring an invalid member record in redis");
                continue;
            };
            // A new incarnation of a known id is a new member: its old claims are void.
            if let Some((_, inc)) = view.peers.get(&id)
                && *inc != rec.inc
                && let Ok(change) = view.dir.leave(&id)
            {
                changes.push(change);
            }
            let member = Member {
                id: id.clone(),
                url: url.clone(),
                weight: Weight::new(rec.weight).unwrap_or(Weight::ONE),
                state: if rec.state == "draining" {
                    MemberState::Draining
                } else {
                    MemberState::Up
                },
                lease_until,
                games: rec.games.clone(),
            };
            // A state change alone is a drain (or its end), not an update.
            if let Ok(Some(change)) =
                view.dir
                    .set_draining(&id, member.state == MemberState::Draining, now)
            {
                changes.push(change);
            }
            match view.dir.join(member, now) {
                Ok(c) => changes.extend(c),
                Err(e) => tracing::debug!(error = %e, "member record not applied"),
            }
            loads.push((id.clone(), rec.rooms));
            let peer = Peer {
                id: id.clone(),
                ws_url: url,
                api_url: rec.api,
            };
            peers.insert(id, (peer, rec.inc));
        }
        let gone: Vec<NodeId> = view
            .dir
            .members()
            .map(|m| m.id.clone())
            .filter(|id| !peers.contains_key(id))
            .collect();
        for id in gone {
            if let Ok(change) = view.dir.leave(&id) {
                changes.push(change);
            }
        }
        changes.extend(view.dir.expire(now));
        for (id, rooms) in loads {
            let _ = view.dir.report_load(&id, rooms);
        }
        view.peers = peers;
        view.clock = Some((now, Instant::now()));
        let live = view.dir.members().filter(|m| now < m.lease_until).count();
        drop(view);
        self.metrics.cluster.members.set(live as f64);
        for change in changes {
            self.metrics.cluster.membership_change(change.kind());
            tracing::info!(change = change.kind(), ?change, "cluster membership");
        }
    }

    /// Redis's clock now (ms), if we have heard from Redis at all.
    fn now(&self) -> Option<u64> {
        let (at, when) = self.view().clock?;
        Some(at + when.elapsed().as_millis() as u64)
    }

    /// The live peer a claim value `<node>#<inc>` names, or `None` if the
    /// claim is void (owner gone or another incarnation). `Some(None)`: ours.
    fn holder_peer(&self, holder: &str, now: u64) -> Option<Option<Peer>> {
        if holder == self.holder {
            return Some(None);
        }
        let (node, inc) = holder.split_once('#')?;
        let node = NodeId::new(node).ok()?;
        let view = self.view();
        let (peer, live_inc) = view.peers.get(&node)?;
        (live_inc == inc && view.dir.is_live(&peer.id, now)).then(|| Some(peer.clone()))
    }

    fn up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// See [`super::Cluster::route`].
    pub async fn route(&self, room: &str, game: Option<&str>) -> Route {
        if self.owned().contains_key(room) {
            return Route::Local;
        }
        let Some(now) = self.now().filter(|_| self.up()) else {
            return Route::Unavailable;
        };
        match self.read_claim(room, now).await {
            Err(()) => return Route::Unavailable,
            Ok(Some(None)) => {
                self.owned().insert(Arc::from(room), Instant::now());
                return Route::Local;
            }
            Ok(Some(Some(peer))) => return Route::Remote(peer),
            Ok(None) => {}
        }
        let target = match self.view().dir.place_game(room, game, now) {
            Ok(p) => p.target,
            Err(_) => return Route::Unavailable,
        };
        // The claim is written here, for whichever node the placement chose:
        // the first placement to reach Redis decides, so two nodes whose views
        // differ for a moment (loads a heartbeat apart) never send a player,
        // or a forwarded request, back and forth. The chosen node finds its
        // own claim on arrival and renews it from then on.
        let holder = match target {
            Target::Local => self.holder.clone(),
            Target::Remote { node, .. } => match self.view().peers.get(&node) {
                Some((_, inc)) => format!("{node}#{inc}"),
                None => return Route::Unavailable,
            },
        };
        self.take(room, &holder, now).await
    }

    /// Claims `room` for `holder` (this node's or a peer's `<node>#<inc>`),
    /// or learns who beat us to it.
    async fn take(&self, room: &str, holder: &str, now: u64) -> Route {
        let mut conn = self.conn.clone();
        let res: redis::RedisResult<Vec<String>> = self
            .claim
            .key(self.claim_key(room))
            .arg(holder)
            .arg(self.claim_lease.as_millis() as u64)
            .arg(&self.node_prefix)
            .invoke_async(&mut conn)
            .await;
        match res {
            Ok(holders) => match holders.first().map(|h| self.holder_peer(h, now)) {
                placed @ Some(Some(_)) if holders.first().map(String::as_str) == Some(holder) => {
                    // Our placement won: count the room against its node at
                    // once, so the next placements here see it before that
                    // node's next record reports it (the load bound).
                    if let Some((node, _)) = holder.split_once('#')
                        && let Ok(node) = NodeId::new(node)
                    {
                        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
                        let load = view.dir.load(&node);
                        let _ = view.dir.report_load(&node, load + 1);
                    }
                    match placed {
                        Some(Some(Some(peer))) => Route::Remote(peer),
                        _ => {
                            self.owned().insert(Arc::from(room), Instant::now());
                            self.metrics.cluster.rooms_owned.increment(1.0);
                            Route::Local
                        }
                    }
                }
                Some(Some(None)) => {
                    self.owned().insert(Arc::from(room), Instant::now());
                    self.metrics.cluster.rooms_owned.increment(1.0);
                    Route::Local
                }
                Some(Some(Some(peer))) => Route::Remote(peer),
                _ => Route::Unavailable,
            },
            Err(e) => {
                self.failed(&e);
                Route::Unavailable
            }
        }
    }

    /// The claim on `room`: `Ok(None)` unowned (or void), `Ok(Some(None))`
    /// ours, `Ok(Some(Some(peer)))` a live peer's; `Err` if Redis failed.
    async fn read_claim(
        &self,
        room: &str,
        now: u64,
    ) -> std::result::Result<Option<Option<Peer>>, ()> {
        let mut conn = self.conn.clone();
        match conn.get::<_, Option<String>>(self.claim_key(room)).await {
            Ok(Some(holder)) => Ok(self.holder_peer(&holder, now)),
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed(&e);
                Err(())
            }
        }
    }

    /// See [`super::Cluster::locate`].
    pub async fn locate(&self, room: &str) -> Located {
        if self.owned().contains_key(room) {
            return Located::Local;
        }
        let Some(now) = self.now().filter(|_| self.up()) else {
            return Located::Unavailable;
        };
        match self.read_claim(room, now).await {
            Err(()) => Located::Unavailable,
            Ok(Some(None)) => Located::Local,
            Ok(Some(Some(peer))) => Located::Remote(peer),
            Ok(None) => Located::Unowned,
        }
    }

    /// Re-asserts the claim of every room running here (and of claims taken
    /// for rooms about to start); closes the rooms another node holds now;
    /// releases claims no room used.
    async fn renew(&self, registry: &Registry) -> redis::RedisResult<()> {
        let running = registry.room_ids();
        let (keep, stale) = {
            let mut owned = self.owned();
            for id in &running {
                owned.entry(Arc::clone(id)).or_insert_with(Instant::now);
            }
            let stale: Vec<Arc<str>> = owned
                .iter()
                .filter(|(id, since)| since.elapsed() > UNUSED_CLAIM && !registry.contains(id))
                .map(|(id, _)| Arc::clone(id))
                .collect();
            for id in &stale {
                owned.remove(id);
            }
            let handing = self.handing.lock().unwrap_or_else(|e| e.into_inner());
            let keep: Vec<Arc<str>> = owned
                .keys()
                .filter(|id| !handing.contains(*id))
                .cloned()
                .collect();
            (keep, stale)
        };
        self.release_claims(&stale).await?;
        let mut conn = self.conn.clone();
        let mut fenced = Vec::new();
        for batch in keep.chunks(CLAIM_BATCH) {
            let mut call = self.claim.prepare_invoke();
            for id in batch {
                call.key(self.claim_key(id));
            }
            call.arg(&self.holder)
                .arg(self.claim_lease.as_millis() as u64)
                .arg(&self.node_prefix);
            let holders: Vec<String> = call.invoke_async(&mut conn).await?;
            for (id, holder) in batch.iter().zip(holders) {
                if holder != self.holder {
                    fenced.push((Arc::clone(id), holder));
                }
            }
        }
        let mut owned_count = keep.len();
        for (id, holder) in fenced {
            owned_count -= 1;
            self.owned().remove(&id);
            self.metrics.cluster.claim_renew_failures.increment(1);
            let closed = registry.close_room(&id, close::FENCED);
            tracing::warn!(room = %id, holder, closed, "another node holds this room now: closing the copy here");
        }
        self.metrics.cluster.rooms_owned.set(owned_count as f64);
        Ok(())
    }

    async fn release_claims(&self, rooms: &[Arc<str>]) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        for batch in rooms.chunks(CLAIM_BATCH) {
            let mut call = self.release.prepare_invoke();
            for id in batch {
                call.key(self.claim_key(id));
            }
            call.arg(&self.holder);
            let _: i64 = call.invoke_async(&mut conn).await?;
        }
        Ok(())
    }

    /// Where room `room` of `game` goes when this node hands it off: the
    /// node placement picks among the other live `Up` members, with its
    /// claim value. `None` when no other member hosts the game (or Redis
    /// has not been heard from).
    pub fn handoff_target(&self, room: &str, game: &str) -> Option<(Peer, String)> {
        let now = self.now().filter(|_| self.up())?;
        let view = self.view();
        let placed = view.dir.place_game(room, Some(game), now).ok()?;
        let Target::Remote { node, .. } = placed.target else {
            return None;
        };
        let (peer, inc) = view.peers.get(&node)?;
        Some((peer.clone(), format!("{node}#{inc}")))
    }

    /// This node's claim value, `<node>#<incarnation>`.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Marks `room` as being handed off (`true`) or not any more: while
    /// marked, heartbeats leave its claim alone.
    pub fn set_handing(&self, room: &str, on: bool) {
        let mut handing = self.handing.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            handing.insert(Arc::from(room));
        } else {
            handing.remove(room);
        }
    }

    /// The room was handed off: it is not this node's any more.
    pub fn forget(&self, room: &str) {
        self.owned().remove(room);
        self.set_handing(room, false);
    }

    /// Takes over `room`'s claim from `from` (the draining owner's claim
    /// value) in one step. `Ok(false)`: the claim is not `from`'s (it
    /// lapsed, or another node holds it): nothing changed.
    pub async fn take_over(&self, room: &str, from: &str) -> redis::RedisResult<bool> {
        let mut conn = self.conn.clone();
        let moved: i64 = self
            .moving
            .key(self.claim_key(room))
            .arg(from)
            .arg(&self.holder)
            .arg(self.claim_lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await
            .inspect_err(|e| self.failed(e))?;
        if moved == 1 {
            self.owned().insert(Arc::from(room), Instant::now());
            self.metrics.cluster.rooms_owned.increment(1.0);
        }
        Ok(moved == 1)
    }

    /// Gives `room`'s claim back to `to` after a take-over whose room could
    /// not start here.
    pub async fn give_back(&self, room: &str, to: &str) {
        let mut conn = self.conn.clone();
        let res: redis::RedisResult<i64> = self
            .moving
            .key(self.claim_key(room))
            .arg(&self.holder)
            .arg(to)
            .arg(self.claim_lease.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        if let Err(e) = res {
            self.failed(&e);
        }
        self.owned().remove(room);
    }

    /// Writes room `room`'s snapshot (`p:snap:<room>`: this node's claim
    /// value, a newline, the bytes), expiring after `ttl`.
    pub async fn put_snapshot(
        &self,
        room: &str,
        bytes: &[u8],
        ttl: Duration,
    ) -> redis::RedisResult<()> {
        let mut value = Vec::with_capacity(self.holder.len() + 1 + bytes.len());
        value.extend_from_slice(self.holder.as_bytes());
        value.push(b'\n');
        value.extend_from_slice(bytes);
        let mut conn = self.conn.clone();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let res: redis::RedisResult<()> = conn
            .pset_ex(format!("{}{room}", self.snap_prefix), value, ttl_ms)
            .await;
        res.inspect_err(|e| self.failed(e))
    }

    /// Deletes room `room`'s snapshot if this node wrote it (the room ended
    /// here; a newer owner's snapshot stays).
    pub async fn drop_snapshot(&self, room: &str) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let _: i64 = self
            .forget_snapshot
            .key(format!("{}{room}", self.snap_prefix))
            .arg(&self.holder)
            .invoke_async(&mut conn)
            .await
            .inspect_err(|e| self.failed(e))?;
        Ok(())
    }

    /// Room `room`'s newest snapshot, if one is kept: who wrote it (its
    /// claim value) and the bytes.
    pub async fn get_snapshot(&self, room: &str) -> redis::RedisResult<Option<(String, Vec<u8>)>> {
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> = conn
            .get(format!("{}{room}", self.snap_prefix))
            .await
            .inspect_err(|e| self.failed(e))?;
        Ok(value.and_then(|v| {
            let nl = v.iter().position(|&b| b == b'\n')?;
            let holder = String::from_utf8(v[..nl].to_vec()).ok()?;
            Some((holder, v[nl + 1..].to_vec()))
        }))
    }

    /// How long a snapshot written every `every` is kept: past the claim
    /// lease (a dead owner's rooms are placed afresh within it) and two
    /// intervals, so the newest is always there while it matters.
    pub fn snapshot_ttl(&self, every: Duration) -> Duration {
        self.claim_lease + every * 2
    }

    /// The live members, sorted by id.
    pub fn members(&self) -> Vec<MemberView> {
        let view = self.view();
        let Some(now) = self.now() else {
            return Vec::new();
        };
        view.dir
            .members()
            .filter(|m| now < m.lease_until)
            .map(|m| MemberView {
                id: m.id.to_string(),
                url: m.url.to_string(),
                state: match m.state {
                    MemberState::Up => "up",
                    MemberState::Draining => "draining",
                },
                rooms: view.dir.load(&m.id),
                games: m.games.clone(),
            })
            .collect()
    }

    /// Whether a live `Up` member other than this node hosts `game`.
    pub fn others_host(&self, game: &str) -> bool {
        let Some(now) = self.now() else {
            return false;
        };
        self.view().dir.members().any(|m| {
            m.id != self.me.id
                && m.state == MemberState::Up
                && now < m.lease_until
                && !m.games.is_empty()
                && m.hosts(Some(game))
        })
    }

    /// Every other live member.
    pub fn others(&self) -> Vec<Peer> {
        let Some(now) = self.now() else {
            return Vec::new();
        };
        let view = self.view();
        view.peers
            .values()
            .filter(|(p, _)| p.id != self.me.id && view.dir.is_live(&p.id, now))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Marks this node draining in its record at once.
    pub async fn set_draining(&self) {
        self.draining.store(true, Ordering::Release);
        let rooms = self.owned().len() as u64;
        if let Err(e) = self.sync_members(rooms).await {
            self.failed(&e);
        }
    }

    /// Releases every claim held here and removes the record.
    pub async fn leave(&self, registry: &Registry) {
        // No heartbeat may write the record or a claim back after this.
        let _beating = self.beating.lock().await;
        self.left.store(true, Ordering::Release);
        let mut rooms: Vec<Arc<str>> = self.owned().drain().map(|(id, _)| id).collect();
        rooms.extend(registry.room_ids());
        rooms.sort();
        rooms.dedup();
        let mut conn = self.conn.clone();
        let released = self.release_claims(&rooms).await;
        let removed: redis::RedisResult<i64> = self
            .deregister
            .key(&self.nodes_key)
            .arg(format!("{}{}", self.node_prefix, self.me.id))
            .arg(self.me.id.as_str())
            .invoke_async(&mut conn)
            .await;
        match released.and(removed.map(drop)) {
            Ok(()) => tracing::info!(rooms = rooms.len(), "left the cluster: claims released"),
            Err(e) => {
                self.failed(&e);
                tracing::warn!(error = %e, "could not leave the cluster cleanly: claims lapse with the lease");
            }
        }
        self.metrics.cluster.rooms_owned.set(0.0);
    }
}
