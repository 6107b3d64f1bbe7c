//! Which browser origins may open a WebSocket (`--allowed-origins`): pure
//! matching, no I/O. A page on another site must not be able to play with its
//! visitors' browsers (cross-site WebSocket hijacking), so the upgrade checks
//! the `Origin` header a browser always sends against:
//!
//! - the rules: exact origins (`https://play.example.com`), patterns with a
//!   wildcard subdomain or port (`https://*.example.com`, `http://localhost:*`),
//!   or `*` (anything); by default the loopback names on any port;
//! - this server's own origin: the request's `Host` as `http://host` and
//!   `https://host` (a TLS proxy in front keeps the Host), and the origins of
//!   this node's and every cluster member's public URL (a page served by one
//!   node may open a socket to another), given by the caller.
//!
//! Origins compare by scheme, host (case-insensitive) and port, with the
//! scheme's default port (80, 443) the same as none; `null` and other schemes
//! match only `*`.

use std::fmt;

/// The rules used without `--allowed-origins`.
pub const DEFAULT_RULES: &str = "http://localhost:*,http://127.0.0.1:*,http://[::1]:*";

/// A parsed origin: `scheme://host[:port]`, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: &'static str,
    host: String,
    /// `None` for the scheme's default port.
    port: Option<u16>,
}

impl Origin {
    /// Parses an `Origin` header value or a base URL (`http`, `https`, and
    /// `ws`/`wss` as their HTTP forms); a path after the authority is
    /// ignored. `None` for anything else (including `null`).
    pub fn parse(s: &str) -> Option<Origin> {
        let s = s.trim();
        let (scheme, rest) = s.split_once("://")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => "http",
            "https" | "wss" => "https",
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        Origin::from_authority(scheme, authority)
    }

    /// `scheme://authority`, where the authority is `host[:port]` as in a
    /// `Host` header.
    pub fn from_authority(scheme: &'static str, authority: &str) -> Option<Origin> {
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            None => None,
            Some(p) => {
                let p: u16 = p.parse().ok()?;
                (p != default_port(scheme)).then_some(p)
            }
        };
        valid_host(host).then(|| Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

/// `host[:port]` with IPv6 literals in brackets; the host keeps its brackets.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => Some((host, None)),
            _ => Some((host, Some(rest.strip_prefix(':')?))),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => Some((host, Some(port))),
            None => Some((authority, None)),
        }
    }
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':')
        })
}

/// One `--allowed-origins` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// `*`.
    Any,
    /// `scheme://[*.]host[:port|:*]`.
    Pattern {
        scheme: &'static str,
        /// Matched exactly, or as a suffix `.host` when `subdomains`.
        host: String,
        subdomains: bool,
        /// `None`: any port.
        port: Option<Option<u16>>,
    },
}

impl Rule {
    fn parse(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(Rule::Any);
        }
        let bad = || {
            format!(
                "{s:?}: an origin is scheme://host[:port], e.g. https://*.example.com or http://localhost:*"
            )
        };
        let (scheme, authority) = s.split_once("://").ok_or_else(bad)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => return Err(bad()),
        };
        if authority.contains(['/', '?', '#']) {
            return Err(format!("{s:?}: an origin has no path"));
        }
        let (host, any_port) = match authority.strip_suffix(":*") {
            Some(host) => (host, true),
            None => (authority, false),
        };
        let (host, subdomains) = match host.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (host, false),
        };
        if host.contains('*') {
            return Err(format!(
                "{s:?}: `*` may only stand for the subdomains (`*.host`) or the port (`:*`)"
            ));
        }
        let origin = Origin::from_authority(scheme, host).ok_or_else(bad)?;
        if any_port && origin.port.is_some() {
            return Err(bad());
        }
        Ok(Rule::Pattern {
            scheme,
            host: origin.host,
            subdomains,
            port: if any_port { None } else { Some(origin.port) },
        })
    }

    fn matches(&self, o: &Origin) -> bool {
        match self {
            Rule::Any => true,
            Rule::Pattern {
                scheme,
                host,
                subdomains,
                port,
            } => {
                let host_ok = if *subdomains {
                    o.host
                        .strip_suffix(host.as_str())
                        .is_some_and(|head| head.len() > 1 && head.ends_with('.'))
                } else {
                    o.host == *host
                };
                *scheme == o.scheme && host_ok && port.is_none_or(|p| p == o.port)
            }
        }
    }
}

/// The origin rules of one server.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    rules: Vec<Rule>,
    require: bool,
}

impl OriginPolicy {
    /// Parses `--allowed-origins` (comma-separated; `None` for the
    /// defaults, [`DEFAULT_RULES`]); `require` refuses requests without an
    /// `Origin` header (`--require-origin`).
    pub fn parse(list: Option<&str>, require: bool) -> Result<OriginPolicy, String> {
        let rules = list
            .unwrap_or(DEFAULT_RULES)
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Rule::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_some() && rules.is_empty() {
            return Err("--allowed-origins lists no origin".into());
        }
        Ok(OriginPolicy { rules, require })
    }

    /// Whether `*` is among the rules (every origin allowed).
    pub fn allows_any(&self) -> bool {
        self.rules.contains(&Rule::Any)
    }

    /// Whether a request with this `Origin` header (`None`: absent) and this
    /// `Host` header may upgrade. `own` yields this node's and the cluster
    /// members' public URLs (any form [`Origin::parse`] takes); it is only
    /// called when the rules and the Host did not decide.
    pub fn allows<I, S>(
        &self,
        origin: Option<&str>,
        host: Option<&str>,
        own: impl FnOnce() -> I,
    ) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let Some(origin) = origin else {
            return !self.require;
        };
        if self.allows_any() {
            return true;
        }
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        if self.rules.iter().any(|r| r.matches(&origin)) {
            return true;
        }
        if let Some(host) = host
            && Origin::from_authority(origin.scheme, host.trim()).is_some_and(|h| h == origin)
        {
            return true;
        }
        own()
            .into_iter()
            .any(|url| Origin::parse(url.as_ref()).is_some_and(|o| o == origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Vec<&'static str> {
        Vec::new()
    }

    #[test]
    fn origins_parse_and_normalise() {
        let o = Origin::parse("HTTPS://Play.Example.COM:443").expect("parses");
        assert_eq!(o.to_string(), "https://play.example.com");
        assert_eq!(
            Origin::parse("ws://10.0.0.1:8080/n/a").map(|o| o.to_string()),
            Some("http://10.0.0.1:8080".into())
        );
        assert_eq!(
            Origin::parse("http://[::1]:9000").map(|o| o.to_string()),
            Some("http://[::1]:9000".into())
        );
        for bad in [
            "null",
            "",
            "file://x",
            "http://",
            "http://a:99999",
            "http://u@h",
            "chrome-extension://abc",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_defaults_allow_loopback_pages_on_any_port_only() {
        let p = OriginPolicy::parse(None, false).expect("defaults parse");
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://localhost",
        ] {
            assert!(p.allows(Some(ok), None, none), "{ok}");
        }
        for no in [
            "https://localhost:3000",
            "http://evil.example",
            "http://localhost.evil.example",
            "null",
        ] {
            assert!(!p.allows(Some(no), None, none), "{no}");
        }
    }

    #[test]
    fn the_own_host_and_the_cluster_members_are_allowed() {
        let p = OriginPolicy::parse(Some("https://app.example.com"), false).expect("parses");
        let host = Some("game.example.com");
        assert!(p.allows(Some("https://game.example.com"), host, none));
        assert!(p.allows(Some("http://game.example.com"), host, none));
        assert!(!p.allows(Some("https://game.example.com:8443"), host, none));
        assert!(!p.allows(Some("https://evil.example"), host, none));
        let members = || ["ws://10.0.0.2:8080", "wss://b.example.com/n/b"];
        assert!(p.allows(Some("http://10.0.0.2:8080"), host, members));
        assert!(p.allows(Some("https://b.example.com"), host, members));
        assert!(!p.allows(Some("http://b.example.com"), host, members));
        // The explicit list replaces the loopback defaults.
        assert!(!p.allows(Some("http://localhost:3000"), host, none));
    }

    #[test]
    fn patterns_match_subdomains_and_ports() {
        let p = OriginPolicy::parse(Some("https://*.example.com, http://dev.test:*"), false)
            .expect("parses");
        for ok in [
            "https://a.example.com",
            "https://a.b.example.com:443",
            "http://dev.test:5173",
            "http://dev.test",
        ] {
            assert!(p.allows(Some(ok), None, none), "{ok}");
        }
        for no in [
            "https://example.com",
            "https://badexample.com",
            "http://a.example.com",
            "https://a.example.com:8443",
            "http://x.dev.test:1",
        ] {
            assert!(!p.allows(Some(no), None, none), "{no}");
        }
    }

    #[test]
    fn star_allows_everything_and_no_origin_depends_on_require() {
        let any = OriginPolicy::parse(Some("*"), false).expect("parses");
        assert!(any.allows_any());
        assert!(any.allows(Some("null"), None, none));
        assert!(any.allows(None, None, none));
        let strict = OriginPolicy::parse(None, true).expect("parses");
        assert!(!strict.allows(None, Some("localhost"), none));
        assert!(strict.allows(Some("http://localhost:1"), None, none));
    }

    #[test]
    fn bad_rules_are_rejected() {
        for bad in [
            "example.com",
            "ftp://x",
            "https://ex*ample.com",
            "https://a.com/path",
            "https://a.com:8080:*",
            ",",
        ] {
            assert!(OriginPolicy::parse(Some(bad), false).is_err(), "{bad}");
        }
    }
}
