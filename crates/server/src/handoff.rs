//! Room hand-offs: a draining node gives each of its rooms, whole and live,
//! to the node placement picks among the others, so a rolling deploy ends
//! no match (Redis mode). Both sides are here:
//!
//! - **Old owner** ([`hand_off_rooms`]): per room, freeze it between two
//!   ticks ([`crate::room::registry::Registry::freeze`]), send its snapshot
//!   to the target's `POST /internal/handoff` signed with `--secret`, and on
//!   the target's yes close each player with 4001 `node=<target>` (clients
//!   resume there with their tokens). On any failure (no other node, the
//!   target refuses or does not answer in time) the room thaws and drains as
//!   without hand-off; logged and counted.
//! - **New owner** ([`adopt`]): check the signature, restore the game's room
//!   from the snapshot, take the claim over from the old owner in one Redis
//!   script (it moves only if the old owner still holds it), then start the
//!   room; its players wait their resume grace.
//! - **Crash restore** (`--room-snapshots`): every room writes its snapshot
//!   to Redis on an interval ([`write_snapshots`]); when its owner dies, the
//!   node that takes its claim starts it from the newest one
//!   ([`restore_from_snapshot`]) instead of empty.
//!
//! The claim moves before the room starts here, and the old owner leaves
//! the claim alone while it hands the room off, so no heartbeat on either
//! side fences the room in between (see [`crate::cluster::membership`]).
//! Static-peer mode does not hand off: placement there is a fixed function
//! of the list, which still names the draining node.

use std::{
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, Instant},
};

use axum::{
    body::Bytes,
    http::{HeaderMap, Method, StatusCode},
};
use tickroom_protocol::record::ContinueCause;
use tokio::{sync::Semaphore, task::JoinSet};

use crate::{
    cluster::{forward, membership::Membership},
    metrics::{HandoffFailure, Metrics},
    net::close::{self, CloseRequest, ELSEWHERE_CODE, ELSEWHERE_PREFIX},
    room::{RoomGame, SnapshotWrite, registry::RoomError, snapshot::RoomSnapshot},
    state::Shared,
};

/// The new owner's route.
pub const HANDOFF_PATH: &str = "/internal/handoff";
/// The header carrying the snapshot's tag under `--secret`.
pub const SIGNATURE_HEADER: &str = "x-tickroom-signature";
/// The header carrying the old owner's claim value (`<node>#<incarnation>`).
pub const HOLDER_HEADER: &str = "x-tickroom-holder";
/// The signing domain of a handed-off snapshot.
pub const DOMAIN: &str = "tickroom-handoff-v1";
/// Rooms handed off at once.
const PARALLEL: usize = 8;
/// Longest wait for a room to answer its freeze (it does on its next tick).
const FREEZE_WAIT: Duration = Duration::from_secs(1);
/// Snapshots queued for the writer at most (a full queue drops the newest).
pub const SNAPSHOT_QUEUE: usize = 1024;

/// What [`hand_off_rooms`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HandoffSummary {
    /// Rooms handed to another node.
    pub handed: usize,
    /// Rooms that stay here (and drain as without hand-off).
    pub kept: usize,
}

/// The 4001 close that sends a handed-off room's players to `node`. Close
/// reasons are `'static`: each distinct node id is kept once for the life
/// of the process (a fleet has few).
pub fn to_node(node: &str) -> CloseRequest {
    static REASONS: OnceLock<Mutex<Vec<&'static str>>> = OnceLock::new();
    let reason = format!("{ELSEWHERE_PREFIX}{node}");
    let mut reasons = REASONS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let reason = match reasons.iter().find(|r| **r == reason) {
        Some(r) => *r,
        None => {
            let r: &'static str = Box::leak(reason.into_boxed_str());
            reasons.push(r);
            r
        }
    };
    close::close(ELSEWHERE_CODE, reason)
}

/// Hands every room of this draining node to another node (see the module
/// docs), at most [`PARALLEL`] at once, giving up on what is left at
/// `deadline`. Does nothing outside Redis mode, or without `--secret` (the
/// target could not verify the room, nor the players their resume tokens).
pub async fn hand_off_rooms(shared: &Arc<Shared>, deadline: Instant) -> HandoffSummary {
    let rooms = shared.registry.room_ids();
    let mut summary = HandoffSummary::default();
    if rooms.is_empty() || !shared.cluster.hands_off() || !shared.config.handoff {
        return summary;
    }
    if shared.config.secret.is_none() {
        tracing::warn!(
            rooms = rooms.len(),
            "drain: rooms are not handed off without --secret (the other nodes could not verify them)"
        );
        summary.kept = rooms.len();
        return summary;
    }
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(PARALLEL));
    let mut tasks = JoinSet::new();
    for room in rooms {
        let (shared, slots) = (Arc::clone(shared), Arc::clone(&slots));
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.ok()?;
            if Instant::now() >= deadline {
                return Some(false);
            }
            let res = hand_off(&shared, &room, deadline).await;
            if let Err(why) = res {
                shared.metrics.cluster.handoff.failed(why);
            }
            Some(res.is_ok())
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Some(true)) => summary.handed += 1,
            _ => summary.kept += 1,
        }
    }
    tracing::info!(
        handed = summary.handed,
        kept = summary.kept,
        took_ms = started.elapsed().as_millis() as u64,
        "drain: rooms handed off"
    );
    summary
}

/// Hands one room off (see the module docs).
async fn hand_off(shared: &Shared, room: &str, deadline: Instant) -> Result<(), HandoffFailure> {
    let Some(m) = shared.cluster.membership() else {
        return Err(HandoffFailure::NoTarget);
    };
    let Some(game) = shared
        .registry
        .summary(room, crate::tickets::unix_ms())
        .map(|s| s.game)
    else {
        return Err(HandoffFailure::Freeze);
    };
    let Some((peer, _)) = m.handoff_target(room, game) else {
        tracing::info!(
            room,
            game,
            "drain: no other node hosts the room's game; it stays"
        );
        return Err(HandoffFailure::NoTarget);
    };
    let metrics = &shared.metrics.cluster.handoff;
    metrics.started.increment(1);
    m.set_handing(room, true);
    let frozen = match shared.registry.freeze(room) {
        Some(f) => tokio::time::timeout(FREEZE_WAIT, f)
            .await
            .ok()
            .and_then(Result::ok),
        None => None,
    };
    let Some(snap) = frozen else {
        // The room ended meanwhile (or its thread is stuck): nothing to hand.
        m.set_handing(room, false);
        shared.registry.thaw(room);
        return Err(HandoffFailure::Freeze);
    };
    let bytes = snap.encode();
    metrics.bytes.record(bytes.len() as f64);
    let tag = shared.signer.tag(DOMAIN, &bytes);
    let left = deadline.saturating_duration_since(Instant::now());
    let answer = tokio::time::timeout(
        left,
        forward::forward(
            &peer,
            shared.cluster.me().id.as_str(),
            Method::POST,
            HANDOFF_PATH,
            &[
                (SIGNATURE_HEADER, tag),
                (HOLDER_HEADER, m.holder().to_owned()),
            ],
            Bytes::from(bytes),
        ),
    )
    .await;
    match answer {
        Ok(Ok(a)) if a.status == StatusCode::OK => {
            m.forget(room);
            shared.registry.close_room(room, to_node(peer.id.as_str()));
            metrics.completed.increment(1);
            tracing::info!(room, to = %peer.id, players = snap.sessions.len(), tick = snap.tick, "room handed off");
            Ok(())
        }
        other => {
            let why = match other {
                Ok(Ok(a)) => format!(
                    "{}: {}",
                    a.status,
                    String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
                ),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer before the drain deadline".into(),
            };
            tracing::warn!(room, to = %peer.id, error = why, "hand-off failed: the room stays and drains here");
            // If the target took the claim after all, the next heartbeat
            // here fences this copy (4001): its players find the new owner.
            m.set_handing(room, false);
            shared.registry.thaw(room);
            Err(HandoffFailure::Refused)
        }
    }
}

/// Why a hand-off was refused here, as the HTTP answer says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status.
    pub status: StatusCode,
    /// The JSON error's `code`.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

/// Hand-offs whose bodies are read and restored at once: a bound on the
/// memory senders can make a node hold (each body up to
/// `MAX_ROOM_STATE_BYTES`); later ones wait, their bodies unread.
pub const ADOPTING_AT_ONCE: usize = 8;

/// A hand-off request its headers admit: what [`adopt`] needs of them.
#[derive(Debug)]
pub struct Admitted<'a> {
    membership: &'a Arc<Membership>,
    /// The signature over the body, not yet checked.
    tag: &'a str,
    /// The old owner's claim value.
    holder: &'a str,
}

/// The refusals a hand-off request gets from its headers alone, before its
/// body (up to 16 MiB) is read: this node cannot take rooms (not in a Redis
/// cluster, no `--secret`, draining), or the request is not a hand-off (no
/// signature, no holder).
pub fn admissible<'a>(shared: &'a Shared, headers: &'a HeaderMap) -> Result<Admitted<'a>, Refusal> {
    let Some(membership) = shared.cluster.membership() else {
        return Err(refuse(
            StatusCode::CONFLICT,
            "not_clustered",
            "this node is not in a Redis cluster",
        ));
    };
    if shared.config.secret.is_none() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "no_secret",
            "this node has no --secret: it cannot verify a handed-off room",
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(tag) = header(SIGNATURE_HEADER) else {
        return Err(bad_signature());
    };
    let Some(holder) = header(HOLDER_HEADER) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "no_holder",
            format!("missing {HOLDER_HEADER}"),
        ));
    };
    if shared.registry.is_draining() {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this node is draining too",
        ));
    }
    Ok(Admitted {
        membership,
        tag,
        holder,
    })
}

fn bad_signature() -> Refusal {
    refuse(
        StatusCode::UNAUTHORIZED,
        "bad_signature",
        "the room is not signed with this fleet's --secret",
    )
}

/// Takes over a room handed off by a draining node (see the module docs):
/// `body` is its snapshot, `admitted` what its headers said.
pub async fn adopt(
    shared: &Arc<Shared>,
    admitted: Admitted<'_>,
    body: Bytes,
) -> Result<(), Refusal> {
    let Admitted {
        membership: m,
        tag,
        holder,
    } = admitted;
    if !shared.signer.check_tag(DOMAIN, &body, tag) {
        return Err(bad_signature());
    }
    let from = holder.to_owned();
    let snap = RoomSnapshot::decode(&body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, "bad_snapshot", e.to_string()))?;
    let (room_game, game) = restore(shared, snap.clone()).await?;
    let room = snap.room.clone();
    match m.take_over(&room, &from).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(refuse(
                StatusCode::CONFLICT,
                "claim_moved",
                "the sender does not hold the room's claim",
            ));
        }
        Err(e) => {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "redis",
                format!("the claim could not be moved: {e}"),
            ));
        }
    }
    match shared
        .registry
        .adopt(&snap, room_game, game, ContinueCause::HandOff)
    {
        Ok(_) => {
            shared.metrics.cluster.handoff.adopted.increment(1);
            tracing::info!(
                room,
                from,
                players = snap.sessions.len(),
                tick = snap.tick,
                "room taken over"
            );
            Ok(())
        }
        Err(e) => {
            m.give_back(&room, &from).await;
            let status = match e {
                RoomError::Exists => StatusCode::CONFLICT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            Err(refuse(status, "not_started", e.to_string()))
        }
    }
}

/// The snapshot's game, made into this node's room of it (off the async
/// threads: a large room takes a moment).
pub async fn restore(
    shared: &Shared,
    snap: RoomSnapshot,
) -> Result<(RoomGame, Box<dyn tickroom_game::Room>), Refusal> {
    let config = serde_json::from_str::<serde_json::Value>(&snap.config)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, "bad_snapshot", e.to_string()))?;
    let room_game = shared
        .room_game(Some(&snap.game), Some(&config))
        .map_err(|e| refuse(StatusCode::CONFLICT, "unknown_game", e.to_string()))?;
    let registry = Arc::clone(&shared.registry);
    let game = room_game.clone();
    tokio::task::spawn_blocking(move || snap.restore_game(&game, registry.settings()))
        .await
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map(|room| (room_game, room))
        .map_err(|e| {
            refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_restored",
                e.to_string(),
            )
        })
}

/// `--room-snapshots`: writes the rooms' snapshots to Redis as they come,
/// and deletes a room's when it ends here (see [`crate::room::SnapshotSink`]).
pub fn write_snapshots(
    m: Arc<Membership>,
    mut rx: tokio::sync::mpsc::Receiver<SnapshotWrite>,
    every: Duration,
    metrics: Metrics,
) {
    let ttl = m.snapshot_ttl(every);
    tokio::spawn(async move {
        let h = &metrics.cluster.handoff;
        while let Some((room, bytes)) = rx.recv().await {
            let done = match &bytes {
                Some(b) if b.len() > tickroom_protocol::codec::MAX_ROOM_STATE_BYTES => {
                    tracing::warn!(%room, bytes = b.len(), "room snapshot over the size bound: not kept");
                    h.snapshot_errors.increment(1);
                    continue;
                }
                Some(b) => m.put_snapshot(&room, b, ttl).await,
                None => m.drop_snapshot(&room).await,
            };
            match (done, bytes) {
                (Ok(()), Some(b)) => {
                    h.snapshots_written.increment(1);
                    h.snapshot_bytes.record(b.len() as f64);
                }
                (Ok(()), None) => {}
                (Err(e), _) => {
                    tracing::debug!(%room, error = %e, "room snapshot not written");
                    h.snapshot_errors.increment(1);
                }
            }
        }
    });
}

/// The game of room `room`'s snapshot, when `--room-snapshots` is on, the
/// room is not live here and Redis keeps a readable snapshot of it (its
/// owner died): what a lookup needs to place the room again.
pub async fn snapshot_game(shared: &Shared, room: &str) -> Option<String> {
    if shared.config.room_snapshots.is_none() || shared.registry.contains(room) {
        return None;
    }
    let m = shared.cluster.membership()?;
    let (_, bytes) = m.get_snapshot(room).await.ok()??;
    let snap = RoomSnapshot::decode(&bytes).ok()?;
    (snap.room == room).then_some(snap.game)
}

/// Before a join starts room `room` here: when `--room-snapshots` is on and
/// Redis keeps a snapshot of it (its owner died: this node holds its claim
/// now), the room starts from that snapshot instead of empty, and its
/// players resume with their tokens. Nothing happens when the room is live
/// here or no snapshot is kept; a snapshot that cannot be restored is
/// logged and the room starts empty.
pub async fn restore_from_snapshot(shared: &Shared, room: &str) {
    if shared.config.room_snapshots.is_none() || shared.registry.contains(room) {
        return;
    }
    let Some(m) = shared.cluster.membership() else {
        return;
    };
    // One restore at a time, so two joins racing to a dead node's room
    // never start it twice (the second finds it live).
    static RESTORING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = RESTORING.lock().await;
    if shared.registry.contains(room) {
        return;
    }
    let (writer, bytes) = match m.get_snapshot(room).await {
        Ok(Some(found)) => found,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(room, error = %e, "could not read the room's snapshot: it starts empty");
            return;
        }
    };
    let snap = match RoomSnapshot::decode(&bytes) {
        Ok(s) if s.room == room => s,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(room, error = %e, "the room's snapshot is unreadable: it starts empty");
            return;
        }
    };
    let (room_game, game) = match restore(shared, snap.clone()).await {
        Ok(r) => r,
        Err(r) => {
            tracing::warn!(
                room,
                error = r.message,
                "the room's snapshot could not be restored: it starts empty"
            );
            return;
        }
    };
    match shared
        .registry
        .adopt(&snap, room_game, game, ContinueCause::Restored)
    {
        Ok(_) => {
            shared.metrics.cluster.handoff.restored.increment(1);
            let age_ms = crate::tickets::unix_ms().saturating_sub(snap.taken_unix_ms);
            tracing::info!(
                room,
                from = writer,
                players = snap.sessions.len(),
                tick = snap.tick,
                age_ms,
                "room restored from its snapshot"
            );
        }
        Err(e) => tracing::debug!(room, error = %e, "room not restored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_reasons_are_kept_once_and_fit_a_close_frame() {
        let a = to_node("node-a");
        let b = to_node("node-a");
        assert_eq!(a.code, 4001);
        assert_eq!(a.reason, "node=node-a");
        assert!(std::ptr::eq(a.reason, b.reason));
        let long = "n".repeat(tickroom_cluster::node::MAX_NODE_ID_BYTES);
        assert!(to_node(&long).reason.len() <= 123);
    }
}
