//! What a client reaches on the server's port, the top layer below
//! `server`: the router (this module), the WebSocket connection task it
//! upgrades to ([`conn`]), the room API ([`api`]), the operator endpoints
//! ([`admin`]), the recordings ([`recordings_http`]), the demo files
//! ([`assets`]) and the one JSON error shape ([`http_error`]).
//!
//! It names the layers below it (`state`, `cluster`, `room`, `recording`,
//! `net`, `config`, `tickets`, `signing`); nothing below names it, and only
//! `server` above does. Inside, this module names the others; `conn` and
//! `http_error` name none of them, and the route modules name `http_error` (and
//! `api` and `recordings_http` name `admin`'s `refusal`).
//!
//! HTTP routes on the server's one port: the WebSocket upgrade at `/ws`
//! (also `/n/{node}/ws`, for a proxy that routes by path; where join tickets
//! are checked and a room living on another node is answered with 4001),
//! the room API ([`api`]: `/rooms`, `/matchmake`), `/cluster` and
//! `/admin/drain` ([`admin`]), the recordings
//! ([`recordings_http`]), Prometheus metrics at `/metrics`, liveness
//! and readiness checks (`/healthz`, `/readyz`; these, `/metrics` and
//! `/admin/*` move to their own listener with `--admin-bind`), and the
//! browser demo client at `/` (every other GET path falls through to
//! [`assets`]).
//!
//! The upgrade is done here by hand (hyper's `upgrade::on` plus the RFC 6455
//! accept key) and the raw connection handed to tokio-tungstenite 0.30; axum's
//! own `ws` feature would pin an older tungstenite.

pub mod admin;
pub mod api;
pub mod assets;
pub mod conn;
pub mod http_error;
pub mod recordings_http;

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use self::{conn::Admission, http_error::error};
use crate::{
    cluster::Route,
    config::AuthMode,
    net::{
        close::{self, CLUSTER_UNAVAILABLE, DRAIN_REJOIN, TOO_MANY_NEW_ROOMS},
        limits::{Refusal, Slot},
    },
    room::{registry::valid_room_id, room_limits},
    state::Shared,
    tickets::{Ticket, TicketError, TicketToken, unix_ms},
};

/// The room a client joins when the URL names none.
pub const DEFAULT_ROOM: &str = "lobby";

/// The routes of the server's port (`--bind`): the players' and the room
/// API's, and the operator's ([`admin_router`]) unless `--admin-bind` gives
/// those a listener of their own.
pub fn router(shared: Arc<Shared>) -> Router {
    let routes = Router::new()
        .route("/ws", get(ws_upgrade))
        .route("/n/{node}/ws", get(ws_upgrade_at))
        .merge(api::routes())
        .merge(admin::routes())
        .merge(recordings_http::routes());
    let routes = if shared.config.admin_bind.is_none() {
        routes.merge(operator_routes())
    } else {
        routes
    };
    routes.fallback(assets::serve).with_state(shared)
}

/// The operator's routes: `/healthz` (alive), `/readyz` (taking players),
/// `/metrics` and `/admin/*`; served on `--admin-bind` when set, and on the
/// main port otherwise. Anything else there is a JSON 404.
pub fn admin_router(shared: Arc<Shared>) -> Router {
    operator_routes()
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "not_found",
                "the admin listener serves /healthz, /readyz, /metrics and /admin/*",
            )
        })
        .with_state(shared)
}

fn operator_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(admin::operator_routes())
}

#[derive(Debug, Deserialize)]
struct WsParams {
    room: Option<String>,
    /// The game of the room, if the join creates it (and the game it must
    /// run if it exists); the default game when absent.
    game: Option<String>,
    name: Option<String>,
    /// A join ticket from the room API (its `Debug` is redacted).
    ticket: Option<TicketToken>,
}

/// Whether a join to `room` may go ahead: a ticket, when given, must be
/// valid for `room`, unexpired and unused (it is redeemed here; its seat is
/// freed once the room answers the join); without one, anyone may join under
/// `--auth optional`, and only a player resuming its session under `required`.
fn admit(
    shared: &Shared,
    room: &str,
    ticket: Option<&TicketToken>,
) -> Result<Admission, TicketError> {
    let now = unix_ms();
    match ticket {
        Some(token) => {
            let ticket = Ticket::verify(&shared.signer, &token.0, room, now)?;
            shared.registry.redeem(&ticket, now)?;
            Ok(Admission::Ticket {
                nonce: ticket.nonce,
            })
        }
        None if shared.config.auth == AuthMode::Required => Ok(Admission::ResumeOnly),
        None => Ok(Admission::Anonymous),
    }
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// `/n/{node}/ws`: the WebSocket endpoint behind a proxy that routes by
/// node; a path naming another node is a proxy misconfiguration (404).
async fn ws_upgrade_at(
    State(shared): State<Arc<Shared>>,
    Path(node): Path<String>,
    params: Query<WsParams>,
    req: Request,
) -> Response {
    if node != shared.cluster.me().id.as_str() {
        return error(
            StatusCode::NOT_FOUND,
            "wrong_node",
            format!(
                "this is node {}, not {node}: check the proxy's routes",
                shared.cluster.me().id
            ),
        );
    }
    ws_upgrade(State(shared), params, req).await
}

async fn ws_upgrade(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<WsParams>,
    mut req: Request,
) -> Response {
    let room = params.room.unwrap_or_else(|| DEFAULT_ROOM.to_owned());
    if !valid_room_id(&room) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_room_id",
            "room ids are 1 to 64 characters of A-Z a-z 0-9 - _ .",
        );
    }
    // A game another member hosts (in a mixed fleet) is routed there.
    let mut hosted_elsewhere = None;
    let game = match &params.game {
        None => None,
        Some(name) => match shared.room_game(Some(name), None) {
            Ok(g) => Some(g),
            Err(_) if shared.cluster.elsewhere_hosts(name) => {
                hosted_elsewhere = Some(name.as_str());
                None
            }
            Err(e) => return error(StatusCode::BAD_REQUEST, "unknown_game", e.to_string()),
        },
    };
    if let Some(name) = &params.name
        && name.len() > tickroom_protocol::MAX_NAME_BYTES
    {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_name",
            "names are at most 24 bytes",
        );
    }
    let headers = req.headers();
    if !header_has_token(headers, header::UPGRADE, "websocket")
        || !header_has_token(headers, header::CONNECTION, "upgrade")
    {
        return error(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_required",
            "this endpoint speaks WebSocket only: send an Upgrade: websocket request",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut resp = error(
            StatusCode::UPGRADE_REQUIRED,
            "websocket_version",
            "only WebSocket version 13 is supported",
        );
        resp.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return resp;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return error(
            StatusCode::BAD_REQUEST,
            "websocket_key",
            "missing Sec-WebSocket-Key",
        );
    };
    let clustered = shared.cluster.is_clustered();
    if shared.registry.is_draining() && !clustered {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the server is shutting down",
        );
    }
    // Origin and connection caps: answered before the upgrade, and before a
    // ticket is redeemed or a room claimed.
    let slot = match limit_upgrade(&shared, &req) {
        Ok(slot) => slot,
        Err(resp) => return resp,
    };
    // Refusals after the upgrade are close frames, so browsers see code and
    // reason; a draining cluster node sends its players to the matchmaker.
    let admission = if shared.registry.is_draining() {
        Admission::Close(DRAIN_REJOIN)
    } else {
        let game_name = match (&game, hosted_elsewhere) {
            (Some(g), _) => g.name(),
            (None, Some(name)) => name,
            (None, None) => shared.default_game.name(),
        };
        match shared.cluster.route(&room, Some(game_name)).await {
            // Claimed here before (by an older run of this node): not a game it runs.
            Route::Local if hosted_elsewhere.is_some() => Admission::Close(close::close(
                1008,
                "this node does not host the room's game",
            )),
            Route::Local
                if shared
                    .registry
                    .charge_creation(Some(&room), ws_creator(&shared, &req))
                    .is_err() =>
            {
                // The join would start a room and its address is over its
                // creations (counted by the registry); before the ticket is spent.
                Admission::Close(TOO_MANY_NEW_ROOMS)
            }
            Route::Local => {
                // Checked before the upgrade (a ticket is redeemed even if the
                // upgrade then fails); a refused ticket is answered with 1008
                // and its reason, counted like any connection.
                admit(&shared, &room, params.ticket.as_ref()).unwrap_or_else(|why| {
                    tracing::debug!(%room, reason = why.close_reason(), "join refused");
                    Admission::Close(close::close(1008, why.close_reason()))
                })
            }
            Route::Remote(peer) => {
                shared.metrics.cluster.misrouted_joins.increment(1);
                tracing::debug!(%room, owner = %peer.id, "join for a room on another node");
                Admission::Elsewhere(peer.id.to_string())
            }
            Route::Unavailable => Admission::Close(CLUSTER_UNAVAILABLE),
        }
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(conn::accept(
        on_upgrade,
        room,
        game,
        params.name,
        admission,
        shared,
        slot,
    ));
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The address a room this WebSocket join would start counts against.
fn ws_creator(shared: &Shared, req: &Request) -> Option<std::net::IpAddr> {
    // Joins are never forwarded between nodes.
    room_limits::creator(
        &shared.config,
        false,
        room_limits::client_ip(req.extensions()),
    )
}

/// The origin check and the connection caps of one upgrade request: its
/// [`Slot`] when it may go ahead, else the refusal (counted).
#[allow(
    clippy::result_large_err,
    reason = "the refusal is the response itself, built once per refused upgrade"
)]
fn limit_upgrade(shared: &Shared, req: &Request) -> Result<Slot, Response> {
    let headers = req.headers();
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let allowed = shared.limits.origins.allows(origin, host, || {
        let mut own = vec![shared.cluster.me().ws_url.to_string()];
        own.extend(shared.cluster.members(0, false).into_iter().map(|m| m.url));
        own
    });
    if !allowed {
        shared.metrics.refused.origin.increment(1);
        tracing::debug!(
            origin = origin.unwrap_or("(none)"),
            "WebSocket origin refused"
        );
        let message = match origin {
            Some(o) => format!("WebSocket connections from pages at {o:?} are not allowed here"),
            None => "this server requires an Origin header on WebSocket upgrades".to_owned(),
        };
        return Err(error(StatusCode::FORBIDDEN, "origin_forbidden", message));
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let client = shared.limits.client_ip(peer, headers);
    shared.limits.reserve(client).map_err(|why| match why {
        Refusal::Node => {
            shared.metrics.refused.node_connections.increment(1);
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_connections",
                "this node has as many connections as it takes: try again later",
            )
        }
        Refusal::Ip => {
            shared.metrics.refused.ip_connections.increment(1);
            tracing::debug!(%client, "per-address connection cap reached");
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_connections_from_address",
                "too many connections from your address",
            )
        }
    })
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

/// Liveness: the process serves HTTP (also while it drains: a liveness probe
/// that failed then would restart a node in the middle of its drain).
async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let body = if shared.registry.is_draining() {
        "ok: draining\n"
    } else {
        "ok\n"
    };
    (StatusCode::OK, body).into_response()
}

/// Readiness: 200 while the node takes players, 503 `draining` once it drains.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.registry.is_draining() {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "the server is shutting down",
        )
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}
