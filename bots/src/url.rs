//! Turning the `--url` base (`http://127.0.0.1:8080`) into the WebSocket
//! endpoint each bot opens (`ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17`)
//! and the `host:port` to resolve once for the whole swarm.
//!
//! Hand-written on purpose: the accepted forms are few (http, https, ws, wss
//! with an optional path prefix) and a URL crate would be the swarm's
//! biggest dependency.

use crate::Error;

/// The parsed server location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `true` for https/wss (mapped to `wss://`).
    pub secure: bool,
    /// Host as written in the URL (IPv6 literals keep their brackets).
    pub host: String,
    /// Port, explicit or the scheme's default (80/443).
    pub port: u16,
    /// Path of the WebSocket endpoint, e.g. `/ws` or `/game/ws`.
    pub path: String,
}

impl Target {
    /// Parses a base URL. `http`/`ws` map to `ws://`, `https`/`wss` to
    /// `wss://`; the path gets `/ws` appended unless it already ends in `/ws`.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let bad = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url
            .trim()
            .split_once("://")
            .ok_or_else(|| bad("missing scheme (http://, https://, ws:// or wss://)"))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(bad("scheme must be http, https, ws or wss")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        if rest.contains('?') {
            return Err(bad("the base URL must not have a query"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(bad("user info is not supported"));
        }
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(after) = authority.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| bad("unclosed IPv6 bracket"))?;
            let host = &authority[..end + 2];
            let port = match &after[end + 1..] {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| bad("invalid port"))?,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, port.parse().map_err(|_| bad("invalid port"))?),
                None => (authority, default_port),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("missing host"));
        }
        let trimmed = path.trim_end_matches('/');
        let path = if trimmed.ends_with("/ws") {
            trimmed.to_owned()
        } else {
            format!("{trimmed}/ws")
        };
        Ok(Target {
            secure,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// The endpoint without a query: `ws://host:port/ws`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}:{}{}", self.host, self.port, self.path)
    }

    /// The full URL one bot opens.
    pub fn ws_url(&self, room: &str, name: &str) -> String {
        format!(
            "{}?room={}&name={}",
            self.endpoint(),
            percent_encode(room),
            percent_encode(name)
        )
    }

    /// The host without IPv6 brackets, for the resolver.
    pub fn resolve_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(base: &str) -> String {
        Target::parse(base).unwrap().ws_url("bots-0", "bot-17")
    }

    #[test]
    fn derives_the_websocket_url() {
        assert_eq!(
            ws("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17"
        );
        assert_eq!(
            ws("http://127.0.0.1:8080/"),
            "ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17"
        );
        assert_eq!(
            ws("https://example.com"),
            "wss://example.com:443/ws?room=bots-0&name=bot-17"
        );
        assert_eq!(
            ws("http://example.com/game/"),
            "ws://example.com:80/game/ws?room=bots-0&name=bot-17"
        );
        assert_eq!(
            ws("ws://localhost:9000/ws"),
            "ws://localhost:9000/ws?room=bots-0&name=bot-17"
        );
        assert_eq!(
            ws("HTTP://[::1]:8080"),
            "ws://[::1]:8080/ws?room=bots-0&name=bot-17"
        );
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(t.resolve_host(), "::1");
        assert_eq!(t.port, 8080);
    }

    #[test]
    fn encodes_room_and_name() {
        let t = Target::parse("http://h:1").unwrap();
        assert_eq!(
            t.ws_url("a b&c", "é"),
            "ws://h:1/ws?room=a%20b%26c&name=%C3%A9"
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "127.0.0.1:8080",
            "ftp://h",
            "http://",
            "http://h:port",
            "http://h:99999",
            "http://u@h",
            "http://h/?x=1",
            "http://[::1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
