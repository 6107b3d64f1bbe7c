//! The recordings endpoints, for operators and the browser viewer
//! (`/?replay=<file>`). Only with `--record-dir`, and behind the operator
//! token like `/admin/drain` (`Authorization: Bearer <--api-token>`):
//!
//! - `GET /recordings`: the recordings on this node, newest first;
//! - `GET /recordings/{file}`: a full replay's [`Summary`] (ticks, players,
//!   divergence, how the file ended);
//! - `GET /recordings/{file}/frames?from=T&count=N`: the replayed frames of
//!   ticks `T..T+N` (`N` ≤ [`MAX_FRAMES`]) as `application/octet-stream`:
//!   per frame a `u32` little-endian length, then a protocol `Snapshot`
//!   message exactly as the WebSocket carries it.
//!
//! Replays run on the blocking pool (niced like the I/O threads), at most
//! [`MAX_REPLAYS`] at once.
//!
//! [`Summary`]: crate::recording::replay::Summary

use std::{path::PathBuf, sync::Arc};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};
use tickroom_protocol::{Checksum, ServerMsg, codec::encode_server_into, state::Encoder};
use tokio::sync::Semaphore;

use crate::{
    http::{admin::refusal, http_error::error},
    recording::{
        self, Listing,
        replay::{Replay, ReplayError, ReplayOptions},
    },
    state::Shared,
};

/// Most frames one `frames` request returns.
pub const MAX_FRAMES: u32 = 600;

/// Frames a `frames` request returns when it names no count.
pub const DEFAULT_FRAMES: u32 = 100;

/// Replays running at once (each is one core's worth of work while it runs).
pub const MAX_REPLAYS: usize = 2;

static REPLAYS: Semaphore = Semaphore::const_new(MAX_REPLAYS);

/// The recordings routes (mounted by [`crate::http::router`]).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/recordings", get(list))
        .route("/recordings/{file}", get(summary))
        .route("/recordings/{file}/frames", get(frames))
}

#[derive(Debug, Serialize)]
struct ListBody {
    recordings: Vec<Listing>,
}

/// The recording directory, if the caller may read it.
fn gate(shared: &Shared, headers: &HeaderMap) -> Result<PathBuf, Box<Response>> {
    if let Some(refused) = refusal(shared, headers) {
        if shared.config.api_token.is_some() {
            shared.metrics.room_limits.api_unauthorized.increment(1);
        }
        return Err(Box::new(refused));
    }
    shared.config.record_dir.clone().ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "recording_disabled",
            "this server records nothing: start it with --record-dir",
        ))
    })
}

/// The path of recording `file` in `dir`, if the name is one.
fn file_path(dir: PathBuf, file: &str) -> Result<PathBuf, Box<Response>> {
    if !recording::valid_file_name(file) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_file",
            "not a recording's file name (see GET /recordings)",
        )));
    }
    let path = dir.join(file);
    if !path.is_file() {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no recording {file:?} on this node"),
        )));
    }
    Ok(path)
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let dir = match gate(&shared, &headers) {
        Ok(dir) => dir,
        Err(resp) => return *resp,
    };
    match tokio::task::spawn_blocking(move || recording::list(&dir)).await {
        Ok(Ok(recordings)) => no_store(Json(ListBody { recordings }).into_response()),
        Ok(Err(e)) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "recording_dir_unreadable",
            format!("cannot list --record-dir: {e}"),
        ),
        Err(_) => internal(),
    }
}

fn internal() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the replay failed unexpectedly",
    )
}

fn unreadable(e: ReplayError) -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unreadable_recording",
        e.to_string(),
    )
}

/// Runs `job` on the blocking pool once a replay slot is free.
async fn replaying<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Box<Response>> {
    let _slot = REPLAYS.acquire().await.map_err(|_| Box::new(internal()))?;
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|_| Box::new(internal()))
}

async fn summary(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let path = match gate(&shared, &headers).and_then(|dir| file_path(dir, &file)) {
        Ok(path) => path,
        Err(resp) => return *resp,
    };
    let games = shared.games.clone();
    let result = replaying(move || {
        let f = std::fs::File::open(&path).map_err(|e| ReplayError::Record(e.into()))?;
        Replay::open(std::io::BufReader::new(f), &games)
            .map(|r| r.run(ReplayOptions::default(), |_, _| {}))
    })
    .await;
    match result {
        Ok(Ok(summary)) => no_store(Json(summary).into_response()),
        Ok(Err(e)) => unreadable(e),
        Err(resp) => *resp,
    }
}

#[derive(Debug, Deserialize)]
struct FramesQuery {
    from: Option<u32>,
    count: Option<u32>,
}

async fn frames(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(file): Path<String>,
    Query(q): Query<FramesQuery>,
) -> Response {
    let path = match gate(&shared, &headers).and_then(|dir| file_path(dir, &file)) {
        Ok(path) => path,
        Err(resp) => return *resp,
    };
    let from = q.from.unwrap_or(0);
    let count = q.count.unwrap_or(DEFAULT_FRAMES).clamp(1, MAX_FRAMES);
    let until = from.saturating_add(count - 1);
    let games = shared.games.clone();
    let result = replaying(move || {
        let f = std::fs::File::open(&path).map_err(|e| ReplayError::Record(e.into()))?;
        let mut replay = Replay::open(std::io::BufReader::new(f), &games)?;
        let schema = replay.schema().clone();
        let mut encoder = Encoder::default();
        let mut scratch = Vec::new();
        let mut whole = Vec::new();
        let mut body = Vec::new();
        let mut frames = 0u32;
        let options = ReplayOptions {
            until: Some(until),
            ..ReplayOptions::default()
        };
        while let Some(frame) = replay.next_frame(options) {
            if frame.tick < from {
                continue;
            }
            let start = body.len();
            body.extend_from_slice(&[0; 4]);
            // Each frame whole (a delta from nothing), as a State a client decodes.
            whole.clear();
            encoder.encode(&schema, None, frame, &mut whole);
            let state = ServerMsg::State(tickroom_protocol::State {
                ack_seq: 0,
                events: Vec::new(),
                checksum: Checksum(frame.checksum(&mut scratch)),
                frame: whole.clone(),
            });
            encode_server_into(&state, &mut body);
            let len = (body.len() - start - 4) as u32;
            body[start..start + 4].copy_from_slice(&len.to_le_bytes());
            frames += 1;
        }
        Ok::<_, ReplayError>((body, frames))
    })
    .await;
    match result {
        Ok(Ok((body, frames))) => {
            let mut resp = (StatusCode::OK, body).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert("x-tickroom-frames", HeaderValue::from(frames));
            no_store(resp)
        }
        Ok(Err(e)) => unreadable(e),
        Err(resp) => *resp,
    }
}
