//! The room API: JSON over HTTP on the server's one port, for lobbies and
//! matchmakers to list and create rooms and to hand players join tickets.
//!
//! | route | what |
//! |---|---|
//! | `GET /rooms` | public rooms |
//! | `POST /rooms` | create a room (`id`, `capacity`, `public`, `metadata`) |
//! | `GET /rooms/{id}` | one room (public or not) |
//! | `POST /rooms/{id}/join` | a join ticket for that room |
//! | `POST /matchmake` | a ticket for the fullest public room of a game (`game`, default: the default game) with space, or a new one |
//! | `GET /games`, `GET /games/{name}`, `GET /games/{name}/schema` | the games this node hosts, one described, its schema bytes |
//!
//! In a cluster every node answers every route: a request for a room that
//! lives elsewhere is forwarded to its owner ([`crate::cluster::forward`])
//! and the owner's answer returned, so `ws_url` names the owner and its
//! ticket's seat is held there. `GET /rooms` lists the fleet's public rooms
//! (each with its `node`; peers that did not answer are listed under
//! `unreachable`). `POST /matchmake` fills this node's fullest fitting room,
//! else places a fresh room id by rendezvous hashing and has its owner fill
//! its own fullest fitting room or start that one (rooms are packed per
//! node; new rooms spread over the fleet).
//!
//! Access: with `--api-token`, `POST /rooms`, `POST /rooms/{id}/join` and
//! `POST /matchmake` need `Authorization: Bearer <token>` (401 `unauthorized`
//! without it, 403 `forbidden` with another one;
//! [`crate::http::admin::refusal`]), and so do the two reads with
//! `--api-token-for-reads`. A forwarded request carries the client's
//! `Authorization`, so every node of a cluster must share the token. Starting a
//! room is limited per node (`--max-rooms`: 503 `too_many_rooms`) and per
//! client address (`--room-creations-per-ip`: 429 `too_many_room_creations`,
//! counted by the node the client reached: [`crate::room::room_limits`]).
//!
//! Every error is `{ "code": "<stable_snake_case>", "message": "..." }`:
//! 400 `bad_json` / `unknown_game` / `invalid_config`, 413 `body_too_large`, 422 `invalid_<field>` /
//! `invalid_body` / `unknown_field`, 404 `room_not_found` / `game_not_found`, 409 `room_exists` /
//! `room_full`, 429 `too_many_room_creations`, 503 `draining` /
//! `cluster_unavailable` / `misrouted` / `too_many_rooms`, 502
//! `peer_unreachable`, 401 `unauthorized`, 403 `forbidden`. A ticket is granted with a seat reserved for
//! it (see [`crate::room::registry`]); the ticket itself is in
//! [`crate::tickets`]. `docs/api.md` and `docs/openapi.yaml` describe the same
//! API for clients.

use std::{net::IpAddr, sync::Arc};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, Path, State,
        rejection::{BytesRejection, PathRejection},
    },
    http::{Extensions, HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    cluster::{
        Located, Peer, Route,
        forward::{FORWARDED_BY, MATCHMAKE_ROOM, forward},
    },
    http::{admin, http_error::error},
    room::{
        RoomGame,
        registry::{
            NewRoom, Reservation, RoomError, RoomOptions, RoomSummary, generated_room_id,
            valid_room_id,
        },
        room_limits::{self, client_ip},
    },
    state::{GameChoiceError, Shared},
    tickets::{Ticket, unix_ms},
};

/// Largest request body, in bytes (413 beyond).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Largest `metadata` object, serialized as compact JSON, in bytes (422 beyond).
pub const MAX_METADATA_BYTES: usize = 4 * 1024;

/// The room API's routes (mounted by [`crate::http::router`]).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/rooms", get(list_rooms).post(create_room))
        .route("/rooms/{id}", get(get_room))
        .route("/rooms/{id}/join", post(join_room))
        .route("/matchmake", post(matchmake))
        .route("/games", get(list_games))
        .route("/games/{name}", get(get_game))
        .route("/games/{name}/schema", get(get_schema))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// A room as the API shows it.
#[derive(Debug, Serialize)]
struct RoomBody<'a> {
    id: &'a str,
    /// Its game.
    game: &'a str,
    /// Its game's config (every field).
    config: &'a Value,
    /// The node that runs it.
    node: &'a str,
    /// Players in the room now.
    players: usize,
    /// Seats held for outstanding tickets.
    reserved: usize,
    capacity: usize,
    public: bool,
    metadata: &'a Map<String, Value>,
    /// Whole seconds since creation.
    age: u64,
}

impl<'a> RoomBody<'a> {
    fn new(s: &'a RoomSummary, node: &'a str) -> RoomBody<'a> {
        RoomBody {
            id: &s.id,
            game: s.game,
            config: &s.config,
            node,
            players: s.players,
            reserved: s.reserved,
            capacity: s.capacity,
            public: s.public,
            metadata: &s.metadata,
            age: s.age.as_secs(),
        }
    }
}

#[derive(Debug, Serialize)]
struct RoomList<'a> {
    rooms: Vec<RoomBody<'a>>,
}

/// The fleet's rooms: this node's and its peers' (as JSON), and the peers
/// that did not answer.
#[derive(Debug, Serialize)]
struct FleetList {
    rooms: Vec<Value>,
    unreachable: Vec<String>,
}

/// A granted ticket. The ticket is a credential: this body is never logged.
#[derive(Serialize)]
struct TicketBody<'a> {
    room: &'a str,
    ws_url: String,
    ticket: String,
    /// Seconds the ticket stays valid.
    expires_in: f64,
}

/// A failed request: its status and the stable `code` and `message` of the JSON body.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 422: the body is well-formed JSON but a value is unusable.
    fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
}

impl From<RoomError> for ApiError {
    fn from(e: RoomError) -> ApiError {
        let (status, code) = match e {
            RoomError::Draining => (StatusCode::SERVICE_UNAVAILABLE, "draining"),
            RoomError::NoWorker => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            RoomError::Exists => (StatusCode::CONFLICT, "room_exists"),
            RoomError::NotFound => (StatusCode::NOT_FOUND, "room_not_found"),
            RoomError::Full => (StatusCode::CONFLICT, "room_full"),
            RoomError::OtherGame(_) => (StatusCode::CONFLICT, "other_game"),
            RoomError::TooManyRooms => (StatusCode::SERVICE_UNAVAILABLE, "too_many_rooms"),
            RoomError::TooManyCreations => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_room_creations")
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

/// 503: this node cannot read the cluster's state.
fn cluster_unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "cluster_unavailable",
        "this node cannot reach the cluster's state (Redis) right now; retry shortly",
    )
}

/// 503: a forwarded request reached a node that does not think it owns the room.
fn misrouted() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "misrouted",
        "the nodes disagree about where this room lives (membership is changing); retry shortly",
    )
}

/// Whether another node forwarded this request (so it must not be forwarded again).
fn forwarded(headers: &HeaderMap) -> bool {
    headers.contains_key(FORWARDED_BY)
}

/// The refusal of a request without the API token, when the route needs it:
/// the routes that change something need it whenever `--api-token` is set,
/// the reads (`write == false`) only with `--api-token-for-reads`.
fn gate(shared: &Shared, headers: &HeaderMap, write: bool) -> Option<Response> {
    let config = &shared.config;
    if config.api_token.is_none() || !(write || config.api_token_for_reads) {
        return None;
    }
    let refusal = admin::refusal(shared, headers)?;
    shared.metrics.room_limits.api_unauthorized.increment(1);
    Some(refusal)
}

/// The address a room this request starts counts against (`None`: not
/// limited per address; a request forwarded by another node was counted there).
fn creator(shared: &Shared, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
    let forwarded = shared.cluster.is_clustered() && forwarded(headers);
    room_limits::creator(&shared.config, forwarded, client_ip(extensions))
}

/// The `Authorization` header of `headers`, to pass on to a peer.
fn authorization(headers: &HeaderMap) -> Option<(&'static str, String)> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|auth| ("authorization", auth.to_owned()))
}

/// Forwards a request to `peer` and returns its answer (502 if it gave none).
async fn relay(
    shared: &Shared,
    peer: &Peer,
    method: axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    extra: Vec<(&'static str, String)>,
    body: Bytes,
) -> Response {
    shared.metrics.cluster.forwarded_requests.increment(1);
    let mut pass = extra;
    pass.extend(authorization(headers));
    let me = shared.cluster.me().id.as_str();
    match forward(peer, me, method, path, &pass, body).await {
        Ok(answer) => answer.into_response(),
        Err(e) => {
            shared.metrics.cluster.peer_errors.increment(1);
            tracing::warn!(peer = %peer.id, error = %e, path, "forwarding a room API request failed");
            error(
                StatusCode::BAD_GATEWAY,
                "peer_unreachable",
                format!(
                    "node {} (which runs this room) did not answer: {e}",
                    peer.id
                ),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.code, self.message)
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed on this path",
    )
}

/// The request body as a JSON object; an empty body is an empty object.
fn json_object(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request bodies are at most {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_body", rejection.body_text())
        }
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid(
            "invalid_body",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

fn reject_unknown(body: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::invalid(
            "unknown_field",
            format!("unknown field `{k}`; expected one of: {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `metadata`: absent or null is empty; otherwise an object of at most [`MAX_METADATA_BYTES`].
fn metadata(body: &mut Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    match body.remove("metadata") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => {
            let size = serde_json::to_vec(&m).map_or(usize::MAX, |v| v.len());
            if size > MAX_METADATA_BYTES {
                Err(ApiError::invalid(
                    "invalid_metadata",
                    format!(
                        "metadata is at most {MAX_METADATA_BYTES} bytes of JSON ({size} given)"
                    ),
                ))
            } else {
                Ok(m)
            }
        }
        Some(_) => Err(ApiError::invalid(
            "invalid_metadata",
            "metadata must be a JSON object",
        )),
    }
}

/// `game` (absent or null: the default game) and `config` (absent or null:
/// the game's defaults; otherwise an object the game checks).
fn room_game(shared: &Shared, body: &mut Map<String, Value>) -> Result<RoomGame, ApiError> {
    let name = match body.remove("game") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err(ApiError::invalid("invalid_game", "game must be a string")),
    };
    let config = match body.remove("config") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_config",
                "config must be a JSON object",
            ));
        }
    };
    shared
        .room_game(name.as_deref(), config.as_ref())
        .map_err(|e| match e {
            // 400: the request names a game or a config this server cannot run.
            GameChoiceError::UnknownGame { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "unknown_game", e.to_string())
            }
            GameChoiceError::Config(c) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_config", c.to_string())
            }
        })
}

/// The game `name` with its default config, or 400 `unknown_game`.
fn room_game_named(shared: &Shared, name: &str) -> Result<RoomGame, ApiError> {
    shared
        .room_game(Some(name), None)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "unknown_game", e.to_string()))
}

/// The options of `POST /rooms`, validated against the server's config.
fn room_options(shared: &Shared, mut body: Map<String, Value>) -> Result<RoomOptions, ApiError> {
    reject_unknown(
        &body,
        &["id", "game", "config", "capacity", "public", "metadata"],
    )?;
    let game = room_game(shared, &mut body)?;
    let config = &shared.config;
    let id = match body.remove("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if valid_room_id(&id) => Some(id),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_id",
                "id must be 1 to 64 characters of A-Z a-z 0-9 - _ .",
            ));
        }
    };
    let max = config.max_room_capacity;
    let capacity = match body.remove("capacity") {
        None | Some(Value::Null) => config.room_capacity,
        Some(v) => v
            .as_u64()
            .and_then(|c| usize::try_from(c).ok())
            .filter(|c| (1..=max).contains(c))
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_capacity",
                    format!("capacity must be an integer from 1 to {max}"),
                )
            })?,
    };
    let public = match body.remove("public") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => b,
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_public",
                "public must be true or false",
            ));
        }
    };
    let metadata = metadata(&mut body)?;
    Ok(RoomOptions {
        game,
        id,
        capacity,
        public,
        metadata,
    })
}

/// `ws://<Host>` (or `wss://` behind a proxy saying `X-Forwarded-Proto: https`);
/// empty (a path-only URL) when the request has no usable Host header.
fn ws_origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
                })
        });
    let Some(host) = host else {
        return String::new();
    };
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if secure { "wss" } else { "ws" })
}

fn ttl_ms(shared: &Shared) -> u64 {
    // Validated to [1 ms, 1 h].
    (shared.config.ticket_ttl.as_millis() as u64).max(1)
}

/// Signs the ticket for `seat` in `room` and builds the response.
fn grant(shared: &Shared, headers: &HeaderMap, room: Arc<str>, seat: Reservation) -> Response {
    let ticket = Ticket {
        room: room.to_string(),
        expires_ms: seat.expires_ms,
        nonce: seat.nonce,
    }
    .sign(&shared.signer);
    // Room ids (A-Z a-z 0-9 - _ .) and tickets (base64url and '.') need no URL escaping.
    let base = match shared.cluster.ws_base() {
        Some(base) => base.to_owned(),
        None => ws_origin(headers),
    };
    let ws_url = format!("{base}/ws?room={room}&ticket={ticket}");
    let body = TicketBody {
        room: &room,
        ws_url,
        ticket,
        expires_in: shared.config.ticket_ttl.as_secs_f64(),
    };
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// `GET /games`: the games this node hosts.
async fn list_games(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = gate(&shared, &headers, false) {
        return refusal;
    }
    let default = shared.default_game.name();
    let games: Vec<Value> = shared
        .games
        .names()
        .filter_map(|n| shared.games.get(n))
        .map(|g| {
            serde_json::json!({
                "name": g.name(),
                "version": g.version(),
                "schema_hash": format!("{:016x}", g.catalogue().schema().hash()),
                "default": g.name() == default,
            })
        })
        .collect();
    Json(serde_json::json!({ "games": games })).into_response()
}

/// The game `name` hosts here, or 404 `game_not_found`.
fn hosted_game(
    shared: &Shared,
    name: Result<Path<String>, PathRejection>,
) -> Result<Arc<dyn tickroom_game::GameEntry>, ApiError> {
    let name = name.map(|Path(n)| n).unwrap_or_default();
    shared.games.get(&name).cloned().ok_or_else(|| {
        let hosted: Vec<&str> = shared.games.names().collect();
        ApiError::new(
            StatusCode::NOT_FOUND,
            "game_not_found",
            format!("this node hosts no game {name:?}; it hosts {hosted:?}"),
        )
    })
}

/// `GET /games/{name}`: a game's version, default config and schema (every
/// component, field and wire type, the input and the events) as JSON.
async fn get_game(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    if let Some(refusal) = gate(&shared, &headers, false) {
        return Ok(refusal);
    }
    let game = hosted_game(&shared, name)?;
    let schema = game.catalogue().schema();
    let shape = |id: Option<usize>, s: &tickroom_protocol::state::Shape| {
        let fields: Vec<Value> = s
            .fields
            .iter()
            .map(|f| serde_json::json!({ "name": f.name, "type": f.ty.to_string() }))
            .collect();
        let mut v = serde_json::json!({ "name": s.name, "fields": fields });
        if let Some(id) = id {
            v["id"] = id.into();
        }
        v
    };
    let components: Vec<Value> = schema
        .components()
        .iter()
        .enumerate()
        .map(|(i, c)| shape(Some(i), c))
        .collect();
    let events: Vec<Value> = schema
        .events()
        .iter()
        .enumerate()
        .map(|(i, e)| shape(Some(i), e))
        .collect();
    let default_config = game.config(None).unwrap_or(Value::Null);
    Ok(Json(serde_json::json!({
        "name": game.name(),
        "version": game.version(),
        "schema_hash": format!("{:016x}", schema.hash()),
        "default": game.name() == shared.default_game.name(),
        "default_config": default_config,
        "components": components,
        "input": shape(None, schema.input()),
        "events": events,
    }))
    .into_response())
}

/// `GET /games/{name}/schema`: the schema's bytes, exactly as the Welcome
/// carries them (a client that caches schemas by hash fetches it once).
async fn get_schema(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    if let Some(refusal) = gate(&shared, &headers, false) {
        return Ok(refusal);
    }
    let game = hosted_game(&shared, name)?;
    let schema = game.catalogue().schema();
    let etag = format!("\"{:016x}\"", schema.hash());
    let mut resp = (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Bytes::from(game.catalogue().schema_bytes().to_vec()),
    )
        .into_response();
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}

async fn list_rooms(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = gate(&shared, &headers, false) {
        return refusal;
    }
    let summaries = shared.registry.list_public(unix_ms());
    let node = shared.cluster.me().id.as_str();
    let local = summaries.iter().map(|s| RoomBody::new(s, node));
    if !shared.cluster.is_clustered() || forwarded(&headers) {
        return Json(RoomList {
            rooms: local.collect(),
        })
        .into_response();
    }
    let mut rooms: Vec<Value> = local.filter_map(|r| serde_json::to_value(r).ok()).collect();
    let mut unreachable = Vec::new();
    let peers = shared.cluster.others();
    // The peers need the token too under --api-token-for-reads.
    let pass: Vec<_> = authorization(&headers).into_iter().collect();
    let answers = futures_util::future::join_all(peers.iter().map(|peer| {
        let me = shared.cluster.me().id.as_str();
        forward(
            peer,
            me,
            axum::http::Method::GET,
            "/rooms",
            &pass,
            Bytes::new(),
        )
    }))
    .await;
    for (peer, answer) in peers.iter().zip(answers) {
        let listed = answer
            .ok()
            .filter(|a| a.status == StatusCode::OK)
            .and_then(|a| {
                serde_json::from_slice::<Value>(&a.body)
                    .ok()?
                    .get_mut("rooms")
                    .map(Value::take)
            });
        match listed {
            Some(Value::Array(list)) => rooms.extend(list),
            _ => {
                shared.metrics.cluster.peer_errors.increment(1);
                tracing::warn!(peer = %peer.id, "a peer did not list its rooms");
                unreachable.push(peer.id.to_string());
            }
        }
    }
    rooms.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    unreachable.sort();
    Json(FleetList { rooms, unreachable }).into_response()
}

async fn create_room(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if let Some(refusal) = gate(&shared, &headers, true) {
        return Ok(refusal);
    }
    let creator = creator(&shared, &headers, &extensions);
    let body = json_object(body)?;
    if let Some(Value::String(game)) = body.get("game")
        && shared.games.get(game).is_none()
        && shared.cluster.elsewhere_hosts(game)
    {
        let game = game.clone();
        return create_elsewhere(&shared, &headers, creator, body, &game).await;
    }
    let mut options = room_options(&shared, body.clone())?;
    if shared.cluster.is_clustered() {
        let id = options.id.take().unwrap_or_else(generated_room_id);
        options.id = Some(id.clone());
        match shared.cluster.route(&id, Some(options.game.name())).await {
            Route::Local => {}
            Route::Remote(_) if forwarded(&headers) => return Err(misrouted()),
            Route::Remote(peer) => {
                // Counted here, against the client; the owner sees this node.
                shared.registry.charge_creation(None, creator)?;
                let mut body = body;
                body.insert("id".into(), Value::String(id));
                let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
                let method = axum::http::Method::POST;
                return Ok(relay(&shared, &peer, method, "/rooms", &headers, vec![], body).await);
            }
            Route::Unavailable => return Err(cluster_unavailable()),
        }
    }
    let room = shared.registry.create_by(options, creator)?;
    let node = shared.cluster.me().id.as_str();
    let mut resp = (StatusCode::CREATED, Json(RoomBody::new(&room, node))).into_response();
    // Room ids are valid header characters.
    if let Ok(location) = header::HeaderValue::from_str(&format!("/rooms/{}", room.id)) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    Ok(resp)
}

/// `POST /rooms` of a game this node does not host but another live member
/// does: placed among the members that host it and relayed there, which
/// checks the rest of the body (a mixed fleet answers like one node).
async fn create_elsewhere(
    shared: &Shared,
    headers: &HeaderMap,
    creator: Option<IpAddr>,
    mut body: Map<String, Value>,
    game: &str,
) -> Result<Response, ApiError> {
    let id = match body.get("id") {
        None | Some(Value::Null) => generated_room_id(),
        Some(Value::String(id)) if valid_room_id(id) => id.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_id",
                "id must be 1 to 64 characters of A-Z a-z 0-9 - _ .",
            ));
        }
    };
    match shared.cluster.route(&id, Some(game)).await {
        Route::Remote(_) if forwarded(headers) => Err(misrouted()),
        Route::Remote(peer) => {
            shared.registry.charge_creation(None, creator)?;
            body.insert("id".into(), Value::String(id));
            let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
            let method = axum::http::Method::POST;
            Ok(relay(shared, &peer, method, "/rooms", headers, vec![], body).await)
        }
        // Claimed here before (by an older run of this node): not a game it runs.
        Route::Local => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_game",
            format!("room {id:?} is claimed by this node, which does not host game {game:?}"),
        )),
        Route::Unavailable => Err(cluster_unavailable()),
    }
}

/// The `{id}` of the path; an undecodable one names no room.
fn room_id(id: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    match id {
        Ok(Path(id)) if valid_room_id(&id) => Ok(id),
        _ => Err(RoomError::NotFound.into()),
    }
}

/// Where an existing room `id` lives: `Ok(None)` here, `Ok(Some(peer))` at
/// a peer this request should be forwarded to.
async fn owner_of(
    shared: &Shared,
    id: &str,
    headers: &HeaderMap,
) -> Result<Option<Peer>, ApiError> {
    if forwarded(headers) || shared.registry.contains(id) {
        return Ok(None);
    }
    match shared.cluster.locate(id).await {
        Located::Local => Ok(None),
        Located::Remote(peer) => Ok(Some(peer)),
        Located::Unowned => Err(RoomError::NotFound.into()),
        Located::Unavailable => Err(cluster_unavailable()),
    }
}

/// [`owner_of`] for a caller about to use the room (look it up, join it):
/// with `--room-snapshots`, a room whose owner died and whose snapshot
/// Redis still keeps is placed again (claimed by the node placement picks
/// among those hosting its game) and, when that is this node, restored from
/// the snapshot before the caller goes on, as a WebSocket join does.
async fn owner_restoring(
    shared: &Shared,
    id: &str,
    headers: &HeaderMap,
) -> Result<Option<Peer>, ApiError> {
    match owner_of(shared, id, headers).await {
        Ok(Some(peer)) => return Ok(Some(peer)),
        Ok(None) => {}
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            let Some(game) = crate::handoff::snapshot_game(shared, id).await else {
                return Err(e);
            };
            match shared.cluster.route(id, Some(&game)).await {
                Route::Local => {}
                Route::Remote(peer) => return Ok(Some(peer)),
                Route::Unavailable => return Err(cluster_unavailable()),
            }
        }
        Err(e) => return Err(e),
    }
    crate::handoff::restore_from_snapshot(shared, id).await;
    Ok(None)
}

async fn get_room(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(refusal) = gate(&shared, &headers, false) {
        return Ok(refusal);
    }
    let id = room_id(id)?;
    if let Some(peer) = owner_restoring(&shared, &id, &headers).await? {
        let path = format!("/rooms/{id}");
        let method = axum::http::Method::GET;
        return Ok(relay(
            &shared,
            &peer,
            method,
            &path,
            &headers,
            vec![],
            Bytes::new(),
        )
        .await);
    }
    let room = shared
        .registry
        .summary(&id, unix_ms())
        .ok_or(RoomError::NotFound)?;
    let node = shared.cluster.me().id.as_str();
    Ok(Json(RoomBody::new(&room, node)).into_response())
}

async fn join_room(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(refusal) = gate(&shared, &headers, true) {
        return Ok(refusal);
    }
    let id = room_id(id)?;
    if let Some(peer) = owner_restoring(&shared, &id, &headers).await? {
        let path = format!("/rooms/{id}/join");
        let method = axum::http::Method::POST;
        return Ok(relay(
            &shared,
            &peer,
            method,
            &path,
            &headers,
            vec![],
            Bytes::new(),
        )
        .await);
    }
    let seat = shared.registry.reserve(&id, ttl_ms(&shared), unix_ms())?;
    Ok(grant(&shared, &headers, Arc::from(id), seat))
}

async fn matchmake(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if let Some(refusal) = gate(&shared, &headers, true) {
        return Ok(refusal);
    }
    let creator = creator(&shared, &headers, &extensions);
    let mut body = json_object(body)?;
    reject_unknown(&body, &["metadata", "game"])?;
    let raw = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let filter = metadata(&mut body)?;
    // The game's rooms only; `None` (here): one another member hosts.
    let (game, game_name) = match body.remove("game") {
        None | Some(Value::Null) => (Some(shared.default_game.clone()), None),
        Some(Value::String(name))
            if shared.games.get(&name).is_none() && shared.cluster.elsewhere_hosts(&name) =>
        {
            (None, Some(name))
        }
        Some(Value::String(name)) => (Some(room_game_named(&shared, &name)?), None),
        Some(_) => {
            return Err(ApiError::invalid("invalid_game", "game must be a string"));
        }
    };
    let game_name = game
        .as_ref()
        .map_or_else(|| game_name.unwrap_or_default(), |g| g.name().to_owned());
    let ttl = ttl_ms(&shared);
    if !shared.cluster.is_clustered() {
        let new = NewRoom::Generate;
        let (room, seat) =
            shared
                .registry
                .matchmake_or(&filter, game.as_ref(), ttl, unix_ms(), new, creator)?;
        return Ok(grant(&shared, &headers, room, seat));
    }
    // A forwarded matchmake names the room id it placed here.
    let placed = headers
        .get(MATCHMAKE_ROOM)
        .and_then(|v| v.to_str().ok())
        .filter(|id| valid_room_id(id));
    if forwarded(&headers) {
        let Some(id) = placed else {
            return Err(misrouted());
        };
        let Some(game) = &game else {
            return Err(misrouted());
        };
        if shared.cluster.route(id, Some(game.name())).await != Route::Local {
            return Err(misrouted());
        }
        let new = NewRoom::Id(Arc::from(id));
        let (room, seat) =
            shared
                .registry
                .matchmake_or(&filter, Some(game), ttl, unix_ms(), new, None)?;
        return Ok(grant(&shared, &headers, room, seat));
    }
    // This node's own rooms first (none while it drains, none of a game it
    // does not host).
    if !shared.registry.is_draining()
        && let Some(game) = &game
    {
        match shared.registry.matchmake_or(
            &filter,
            Some(game),
            ttl,
            unix_ms(),
            NewRoom::Nothing,
            None,
        ) {
            Ok((room, seat)) => return Ok(grant(&shared, &headers, room, seat)),
            Err(RoomError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let id = generated_room_id();
    // A new room of the game, with its default config, among the members that host it.
    match shared.cluster.route(&id, Some(&game_name)).await {
        Route::Local => {
            let Some(game) = &game else {
                // Claimed here before (by an older run of this node).
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_game",
                    format!("this node does not host game {game_name:?}"),
                ));
            };
            let new = NewRoom::Id(Arc::from(id));
            let (room, seat) =
                shared
                    .registry
                    .matchmake_or(&filter, Some(game), ttl, unix_ms(), new, creator)?;
            Ok(grant(&shared, &headers, room, seat))
        }
        Route::Remote(peer) => {
            // Counted here, against the client; the owner sees this node.
            shared.registry.charge_creation(None, creator)?;
            let extra = vec![(MATCHMAKE_ROOM, id)];
            let method = axum::http::Method::POST;
            Ok(relay(&shared, &peer, method, "/matchmake", &headers, extra, raw).await)
        }
        Route::Unavailable => Err(cluster_unavailable()),
    }
}
