//! A small HTTP/1.1 client for the end-to-end tests and the bench harness:
//! one request on a fresh TCP connection to a server's address, on hyper's
//! client connection API, with the whole body read into memory.
//!
//! It is meant for loopback servers under test: no pooling, redirects,
//! proxies or timeouts of its own (wrap a call in `tokio::time::timeout`);
//! [`get_over`] speaks TLS to an `https://` server (the bots' `GET /cluster`). The request target is sent exactly as given, so a
//! test can send paths a browser would normalise (`/../x`).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, header::HOST};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{
    Error,
    tls::{Stream, Tls},
};

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code (`200`).
    pub status: u16,
    /// Header fields in the order received, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The whole body (empty for `HEAD` and `304`).
    pub body: Bytes,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` on `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> Result<Response, Error> {
    request(addr, "GET", path, &[], Bytes::new()).await
}

/// `GET path` on `addr`, over TLS with server name `host` when `tls` is given.
pub async fn get_over(
    addr: SocketAddr,
    tls: Option<(&Tls, &str)>,
    path: &str,
) -> Result<Response, Error> {
    request_over(addr, tls, "GET", path, &[], Bytes::new()).await
}

/// One request on a fresh connection to `addr`. `headers` are sent as given
/// (a `Host` naming `addr` is added unless one is given; hyper adds
/// `content-length` for a non-empty body unless one is given).
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Response, Error> {
    request_over(addr, None, method, path, headers, body).await
}

/// [`request`], over TLS with server name `host` when `tls` is `Some((tls, host))`.
pub async fn request_over(
    addr: SocketAddr,
    tls: Option<(&Tls, &str)>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Response, Error> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let fail = |e: Box<dyn std::error::Error + Send + Sync>| Error::Http {
        request: format!("{method} {scheme}://{addr}{path}"),
        source: e,
    };
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).map_err(|e| fail(e.into()))?)
        .uri(path);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header(HOST, addr.to_string());
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req
        .body(Full::new(body.into()))
        .map_err(|e| fail(e.into()))?;

    let tcp = TcpStream::connect(addr).await.map_err(|e| fail(e.into()))?;
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some((tls, host)) => tls.connect(host, tcp).await.map_err(|e| fail(e.into()))?,
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(e.into()))?;
    let exchange = async move {
        let response = sender.send_request(req).await?;
        let (parts, body) = response.into_parts();
        Ok::<_, hyper::Error>((parts, body.collect().await?.to_bytes()))
    };
    // The connection future does the I/O: drive it alongside the exchange
    // (no spawned task outlives the call). It ends when the exchange drops
    // its sender; the exchange reports any failure of it.
    tokio::pin!(conn, exchange);
    let mut conn_done = false;
    let (parts, body) = loop {
        tokio::select! {
            r = &mut exchange => break r.map_err(|e| fail(e.into()))?,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    };
    Ok(Response {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A one-shot server that answers `reply` and returns what it was sent.
    async fn serve_once(reply: &'static str) -> (SocketAddr, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let complete = |got: &[u8]| {
                let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return false;
                };
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: ")?.parse().ok())
                    .unwrap_or(0);
                got.len() >= end + 4 + length
            };
            while !complete(&got) {
                let n = tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "client closed early");
                got.extend_from_slice(&buf[..n]);
            }
            tcp.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8(got).unwrap()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn sends_the_request_as_given_and_reads_the_whole_response() {
        let (addr, server) =
            serve_once("HTTP/1.1 201 Created\r\nX-Thing: a b\r\nContent-Length: 5\r\n\r\nhello")
                .await;
        let r = request(
            addr,
            "POST",
            "/../rooms?x=1",
            &[("Content-Type", "application/json")],
            "body",
        )
        .await
        .unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.header("x-thing"), Some("a b"));
        assert_eq!(r.header("Content-Length"), Some("5"));
        assert_eq!(r.text(), "hello");
        let sent = server.await.unwrap().to_ascii_lowercase();
        assert!(
            sent.starts_with("post /../rooms?x=1 http/1.1\r\n"),
            "{sent}"
        );
        assert!(sent.contains(&format!("host: {addr}\r\n")), "{sent}");
        assert!(
            sent.contains("content-type: application/json\r\n"),
            "{sent}"
        );
        assert!(sent.contains("content-length: 4\r\n"), "{sent}");
        assert!(sent.ends_with("\r\n\r\nbody"), "{sent}");
    }

    #[tokio::test]
    async fn reads_a_body_delimited_by_the_close() {
        let (addr, _server) =
            serve_once("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end").await;
        let r = get(addr, "/metrics").await.unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "until the end"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_naming_the_request() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = get(addr, "/healthz").await.unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("GET http://{addr}/healthz")),
            "{e}"
        );
    }
}
