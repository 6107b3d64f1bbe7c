//! Turning the `--url` base (`http://127.0.0.1:8080`) into the WebSocket
//! endpoint each bot opens
//! (`ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17&game=cards`)
//! and the `host:port` to resolve once for the whole swarm. `--url` may list
//! several entry URLs of one cluster, separated by commas ([`parse_list`]).
//!
//! Parsing is `http::Uri`'s (the crate hyper and tungstenite already bring:
//! no new dependency, unlike `url` and its IDNA tables) and percent-encoding
//! is `percent-encoding`'s; this module only decides which URLs a swarm
//! accepts: http, https, ws or wss, no user info, no query, a valid port.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::Error;

/// What [`percent_encode`] leaves alone: RFC 3986's unreserved characters.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
    /// A fragment is ignored.
    pub fn parse(url: &str) -> Result<Target, Error> {
        let bad = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let uri: http::Uri = url.trim().parse().map_err(|_| bad("not a valid URL"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad("missing scheme (http://, https://, ws:// or wss://)"))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(bad("scheme must be http, https, ws or wss")),
        };
        if uri.query().is_some() {
            return Err(bad("the base URL must not have a query"));
        }
        let authority = uri.authority().ok_or_else(|| bad("missing host"))?.as_str();
        if authority.contains('@') {
            return Err(bad("user info is not supported"));
        }
        let host = uri.host().filter(|h| !h.is_empty() && *h != "[]");
        let host = host.ok_or_else(|| bad("missing host"))?;
        // `http::Uri` keeps a port it cannot read (`h:port`, `h:99999`, `h:`)
        // in the authority but reports none: only a bare host gets the default.
        let port = match uri.port_u16() {
            Some(port) => port,
            None if authority == host => {
                if secure {
                    443
                } else {
                    80
                }
            }
            None => return Err(bad("invalid port")),
        };
        let trimmed = uri.path().trim_end_matches('/');
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

    /// The full URL one bot opens: its room, its name, and the game a
    /// room created by this join is of.
    pub fn ws_url(&self, room: &str, name: &str, game: &str) -> String {
        format!(
            "{}?room={}&name={}&game={}",
            self.endpoint(),
            percent_encode(room),
            percent_encode(name),
            percent_encode(game)
        )
    }

    /// The path of an HTTP endpoint `rest` (`/cluster`) under the same base
    /// as the WebSocket endpoint: `/game/ws` gives `/game/cluster`.
    pub fn http_path(&self, rest: &str) -> String {
        let base = self.path.strip_suffix("/ws").unwrap_or(&self.path);
        format!("{base}{rest}")
    }

    /// The host without IPv6 brackets, for the resolver.
    pub fn resolve_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

/// Parses a comma-separated list of base URLs (one or more; spaces around
/// the commas are ignored), each as [`Target::parse`].
pub fn parse_list(urls: &str) -> Result<Vec<Target>, Error> {
    let targets = urls
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(Target::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err(Error::InvalidUrl {
            url: urls.to_owned(),
            reason: "no URL given",
        });
    }
    Ok(targets)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(base: &str) -> String {
        Target::parse(base)
            .unwrap()
            .ws_url("bots-0", "bot-17", "cards")
    }

    #[test]
    fn derives_the_websocket_url() {
        assert_eq!(
            ws("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("http://127.0.0.1:8080/"),
            "ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("https://example.com"),
            "wss://example.com:443/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("http://example.com/game/"),
            "ws://example.com:80/game/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("ws://localhost:9000/ws"),
            "ws://localhost:9000/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("HTTP://[::1]:8080"),
            "ws://[::1]:8080/ws?room=bots-0&name=bot-17&game=cards"
        );
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(t.resolve_host(), "::1");
        assert_eq!(t.port, 8080);
        // Surrounding spaces, a fragment, the host's case, other schemes' defaults.
        assert_eq!(
            ws(" http://127.0.0.1:8080/#top "),
            "ws://127.0.0.1:8080/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("WSS://Game.Example.com/play"),
            "wss://Game.Example.com:443/play/ws?room=bots-0&name=bot-17&game=cards"
        );
        assert_eq!(
            ws("ws://[::1]/ws/"),
            "ws://[::1]:80/ws?room=bots-0&name=bot-17&game=cards"
        );
    }

    #[test]
    fn encodes_room_and_name() {
        let t = Target::parse("http://h:1").unwrap();
        assert_eq!(
            t.ws_url("a b&c", "é", "my_game-2"),
            "ws://h:1/ws?room=a%20b%26c&name=%C3%A9&game=my_game-2"
        );
        assert_eq!(percent_encode("A-z_0.9~/?#"), "A-z_0.9~%2F%3F%23");
    }

    #[test]
    fn parses_url_lists() {
        let one = parse_list("http://127.0.0.1:8080").unwrap();
        assert_eq!(one, vec![Target::parse("http://127.0.0.1:8080").unwrap()]);
        let list =
            parse_list(" http://127.0.0.1:8080 ,http://127.0.0.1:8081/game,ws://[::1]:9/ws,")
                .unwrap();
        let endpoints: Vec<String> = list.iter().map(Target::endpoint).collect();
        assert_eq!(
            endpoints,
            [
                "ws://127.0.0.1:8080/ws",
                "ws://127.0.0.1:8081/game/ws",
                "ws://[::1]:9/ws"
            ]
        );
        for bad in ["", " , ", "http://h:1,ftp://h", "http://h:1,127.0.0.1:2"] {
            assert!(parse_list(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn http_paths_share_the_base() {
        let path = |base: &str| Target::parse(base).unwrap().http_path("/cluster");
        assert_eq!(path("http://h:1"), "/cluster");
        assert_eq!(path("http://h:1/"), "/cluster");
        assert_eq!(path("http://h:1/ws"), "/cluster");
        assert_eq!(path("http://h:1/game/"), "/game/cluster");
        assert_eq!(path("ws://h:1/game/ws"), "/game/cluster");
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "127.0.0.1:8080",
            "ftp://h",
            "http://",
            "http://h:port",
            "http://h:99999",
            "http://h:",
            "http://u@h",
            "http://u:p@h:1",
            "http://h/?x=1",
            "http://h:1?",
            "http://[::1",
            "http://[]:1",
            "http://h/a b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad} parsed");
        }
    }
}
