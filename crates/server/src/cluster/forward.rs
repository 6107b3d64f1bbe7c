//! Carries a room API request to the node that owns the room, and its answer
//! back: any node answers the room API, the owner decides. One request per
//! fresh HTTP/1.1 connection on hyper's client connection API, bounded by
//! [`FORWARD_TIMEOUT`]; a forwarded request carries [`FORWARDED_BY`], and a
//! node never forwards a request that has it (no loops when two nodes'
//! views briefly disagree: the second answers from what it has).
//!
//! Peers are reached over plain HTTP at their API URL (the public URL's
//! `http://` form, or `ws://` → `http://` for a static peer); an `https://`
//! peer cannot be forwarded to (put the nodes' own addresses in their
//! records, e.g. `--public-url` per node behind the proxy, or terminate TLS
//! in front of the fleet only).

use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Peer;

/// The header a forwarded request carries: the id of the node that forwarded it.
pub const FORWARDED_BY: &str = "x-tickroom-forwarded-by";
/// The room id a forwarded `POST /matchmake` may start when no room fits.
pub const MATCHMAKE_ROOM: &str = "x-tickroom-room";
/// Bound on one forwarded request, connect to last byte.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest answer accepted from a peer.
const MAX_ANSWER_BYTES: usize = 4 << 20;

/// Why a forward failed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The peer's API URL is not plain `http://host[:port][/path]`.
    #[error("cannot forward to {0:?}: only http:// peers")]
    Url(String),
    /// Connecting, sending or reading failed.
    #[error("{0}")]
    Io(String),
    /// No answer within [`FORWARD_TIMEOUT`].
    #[error("no answer within {FORWARD_TIMEOUT:?}")]
    Timeout,
}

/// A peer's answer, whole.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() = self.status;
        for name in [
            header::CONTENT_TYPE,
            header::LOCATION,
            header::CACHE_CONTROL,
        ] {
            if let Some(v) = self.headers.get(&name) {
                resp.headers_mut().insert(name, v.clone());
            }
        }
        resp
    }
}

/// Sends `method path_and_query` with `body` to `peer`, as forwarded by node
/// `from`, with the extra `headers`; returns its answer.
pub async fn forward(
    peer: &Peer,
    from: &str,
    method: Method,
    path_and_query: &str,
    headers: &[(&'static str, String)],
    body: Bytes,
) -> Result<Answer, ForwardError> {
    tokio::time::timeout(
        FORWARD_TIMEOUT,
        send(peer, from, method, path_and_query, headers, body),
    )
    .await
    .unwrap_or(Err(ForwardError::Timeout))
}

async fn send(
    peer: &Peer,
    from: &str,
    method: Method,
    path_and_query: &str,
    headers: &[(&'static str, String)],
    body: Bytes,
) -> Result<Answer, ForwardError> {
    let bad = || ForwardError::Url(peer.api_url.clone());
    let uri: Uri = peer.api_url.parse().map_err(|_| bad())?;
    if uri.scheme_str() != Some("http") {
        return Err(bad());
    }
    let authority = uri.authority().ok_or_else(bad)?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let prefix = uri.path().trim_end_matches('/');
    let io = |e: &dyn std::fmt::Display| ForwardError::Io(e.to_string());
    let stream = TcpStream::connect((authority.host().trim_matches(['[', ']']), port))
        .await
        .map_err(|e| io(&e))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| io(&e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("{prefix}{path_and_query}"))
        .header(header::HOST, authority.as_str())
        .header(FORWARDED_BY, from)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            req = req.header(*name, v);
        }
    }
    let req = req.body(Full::new(body)).map_err(|e| io(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| io(&e))?;
    let (parts, body) = resp.into_parts();
    let body = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| io(&*e))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}
