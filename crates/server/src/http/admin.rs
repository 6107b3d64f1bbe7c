//! Cluster and operator endpoints: `GET /cluster` (who is in this node's
//! cluster and where players reach them: how a client resolves the node id a
//! 4001 close names) and `POST /admin/drain` (drain this node as SIGTERM
//! would; needs `Authorization: Bearer <--api-token>`, disabled without one)
//! and `POST /internal/handoff` (a draining node hands this node a room,
//! signed with the fleet's `--secret`: [`crate::handoff`]).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;

use crate::{cluster::MemberView, http::http_error::error, state::Shared};

/// The cluster route, for players and peers (mounted by [`crate::http::router`]).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/cluster", get(cluster))
        .route(crate::handoff::HANDOFF_PATH, post(handoff))
}

/// `POST /internal/handoff`: a draining node hands this node one of its
/// rooms (signed with the fleet's `--secret`; see [`crate::handoff`]). What
/// the headers alone refuse is refused before the body is read; at most
/// [`crate::handoff::ADOPTING_AT_ONCE`] bodies are read and restored at once.
async fn handoff(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    static ADOPTING: tokio::sync::Semaphore =
        tokio::sync::Semaphore::const_new(crate::handoff::ADOPTING_AT_ONCE);
    let refused = |r: crate::handoff::Refusal| {
        tracing::warn!(code = r.code, message = r.message, "hand-off refused");
        error(r.status, r.code, r.message)
    };
    let admitted = match crate::handoff::admissible(&shared, &headers) {
        Ok(admitted) => admitted,
        Err(r) => return refused(r),
    };
    // The semaphore is never closed.
    let Ok(_turn) = ADOPTING.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "busy", "retry");
    };
    let limit = tickroom_protocol::codec::MAX_ROOM_STATE_BYTES;
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "unreadable_body",
                format!("the snapshot could not be read within {limit} bytes: {e}"),
            );
        }
    };
    match crate::handoff::adopt(&shared, admitted, body).await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"ok": true}))).into_response(),
        Err(r) => refused(r),
    }
}

/// The operator routes under `/admin/` (on `--admin-bind` when set, see
/// [`crate::http::admin_router`]).
pub fn operator_routes() -> Router<Arc<Shared>> {
    Router::new().route("/admin/drain", post(drain))
}

#[derive(Debug, Serialize)]
struct ClusterBody {
    node: String,
    mode: &'static str,
    members: Vec<MemberView>,
}

async fn cluster(State(shared): State<Arc<Shared>>) -> Response {
    let c = &shared.cluster;
    let members = c.members(shared.registry.room_count(), shared.registry.is_draining());
    let mut resp = Json(ClusterBody {
        node: c.me().id.to_string(),
        mode: c.mode_name(),
        members,
    })
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Equal contents, compared in time that depends only on the lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `None` when `headers` carry the operator token; the refusal otherwise.
pub fn refusal(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &shared.config.api_token else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "operator endpoints are disabled: start the server with --api-token",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
    match given {
        None => {
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "send Authorization: Bearer <operator token>",
            );
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(resp)
        }
        Some(given) if same_secret(given.as_bytes(), token.expose()) => None,
        Some(_) => Some(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the operator token is wrong",
        )),
    }
}

#[derive(Debug, Serialize)]
struct DrainBody {
    draining: bool,
    /// Seconds the rooms may still run before their players are closed.
    deadline_secs: f64,
}

async fn drain(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = refusal(&shared, &headers) {
        if shared.config.api_token.is_some() {
            shared.metrics.room_limits.api_unauthorized.increment(1);
        }
        return refusal;
    }
    tracing::info!("drain requested through POST /admin/drain");
    shared.drain_request.notify_one();
    (
        StatusCode::ACCEPTED,
        Json(DrainBody {
            draining: true,
            deadline_secs: shared.config.drain.as_secs_f64(),
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!same_secret(b"0123456789abcdef", b"0123456789abcdeF"));
        assert!(!same_secret(b"0123456789abcdef", b"0123456789abcde"));
        assert!(same_secret(b"", b""));
    }
}
