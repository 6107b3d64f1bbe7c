//! Node ids, weights and URLs: the facts about a process that placement
//! hashes, scales by, and sends players to.
//!
//! A node id is chosen by the operator (`--node-id`, or the left side of an
//! `id=ws-url` peer entry) and must be the same string on every process that
//! refers to that node: it is hashed, byte for byte, into every placement.
//! Ids follow the room-id alphabet (`A-Z a-z 0-9 - _ .`, 1 to 64 bytes), so
//! they never contain the hash layout's 0xFF separator, `=`, `,` or
//! whitespace. This module never normalises an id (no case folding, no
//! trimming inside [`NodeId::new`]): two spellings are two nodes.
//!
//! A [`WsUrl`] is the base WebSocket URL of a node, as players must reach it
//! (the caller appends the endpoint and query, e.g. `/ws?room=…`). Its
//! grammar is deliberately narrow, so gluing a path to it is always safe.

use std::{fmt, num::NonZeroU32, str::FromStr, sync::Arc};

use crate::{Error, Result};

/// Longest node id, in bytes.
pub const MAX_NODE_ID_BYTES: usize = 64;

/// A validated node id; cheap to clone (shared string). Ordered by its
/// bytes, which is the tie-break order of placement.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// `id` if it is 1 to [`MAX_NODE_ID_BYTES`] bytes of `A-Z a-z 0-9 - _ .`.
    pub fn new(id: &str) -> Result<Self> {
        let valid = !id.is_empty()
            && id.len() <= MAX_NODE_ID_BYTES
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(Arc::from(id)))
        } else {
            Err(Error::InvalidNodeId { id: id.to_owned() })
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id's bytes, as [`crate::hash::hash`] feeds them to xxh3.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl FromStr for NodeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A node's relative share of new rooms: a node of weight 2 gets about twice
/// the rooms of a node of weight 1 (see [`crate::hash::score`]). At least 1;
/// the default is 1. Integer, so every process compares weights exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(NonZeroU32);

impl Weight {
    /// Weight 1, the default.
    pub const ONE: Self = Self(NonZeroU32::MIN);

    /// `weight` if it is at least 1.
    pub fn new(weight: u32) -> Result<Self> {
        NonZeroU32::new(weight).map(Self).ok_or(Error::ZeroWeight)
    }

    /// The weight as a number.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl Default for Weight {
    fn default() -> Self {
        Self::ONE
    }
}

/// Longest node URL, in bytes.
pub const MAX_URL_BYTES: usize = 512;

/// A node's base WebSocket URL: `ws://` or `wss://`, a host (a name or IPv4
/// address of `A-Z a-z 0-9 . -`, or a bracketed IPv6 address), an optional
/// `:port` (1 to 65535) and an optional path of `A-Z a-z 0-9 - . _ ~ / %`; no
/// user, query or fragment; at most [`MAX_URL_BYTES`]. Kept as written (no
/// normalisation); cheap to clone.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WsUrl(Arc<str>);

impl WsUrl {
    /// `url` if it follows the grammar above.
    pub fn new(url: &str) -> Result<Self> {
        match check_url(url) {
            Ok(()) => Ok(Self(Arc::from(url))),
            Err(reason) => Err(Error::InvalidUrl {
                url: url.to_owned(),
                reason,
            }),
        }
    }

    /// The URL as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_url(url: &str) -> std::result::Result<(), &'static str> {
    if url.len() > MAX_URL_BYTES {
        return Err("longer than 512 bytes");
    }
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or("it must start with ws:// or wss://")?;
    if rest.contains(['?', '#']) {
        return Err("a node URL has no query or fragment");
    }
    if rest.contains('@') {
        return Err("a node URL has no user name");
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("an IPv6 host needs its closing ]")?;
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err("a bracketed host must be an IPv6 address");
        }
        match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("only a :port may follow the host")?,
            ),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err("it has no host");
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            return Err("the host has a character outside A-Z a-z 0-9 . -");
        }
        port
    };
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return Err("the port must be a number from 1 to 65535");
        }
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/' | b'%'))
    {
        return Err("the path has a character outside A-Z a-z 0-9 - . _ ~ / %");
    }
    Ok(())
}

impl FromStr for WsUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl fmt::Display for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for WsUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        let long = "n".repeat(MAX_NODE_ID_BYTES);
        let too_long = "n".repeat(MAX_NODE_ID_BYTES + 1);
        for (id, ok) in [
            ("a", true),
            ("node-1", true),
            ("eu-west.a_2", true),
            (long.as_str(), true),
            ("", false),
            (too_long.as_str(), false),
            ("a b", false),
            (" a", false),
            ("a=b", false),
            ("a,b", false),
            ("a/b", false),
            ("nœud", false),
        ] {
            assert_eq!(NodeId::new(id).is_ok(), ok, "{id:?}");
        }
        assert_eq!(
            NodeId::new("a b").unwrap_err().to_string(),
            "invalid node id `a b`: node ids are 1 to 64 characters of A-Z a-z 0-9 - _ ."
        );
        assert_eq!("x".parse::<NodeId>().unwrap().as_str(), "x");
    }

    #[test]
    fn weights() {
        assert_eq!(Weight::new(0), Err(Error::ZeroWeight));
        assert_eq!(Weight::new(3).unwrap().get(), 3);
        assert_eq!(Weight::default(), Weight::ONE);
        assert_eq!(Weight::ONE.get(), 1);
    }

    #[test]
    fn urls() {
        let long = format!("ws://h/{}", "p".repeat(MAX_URL_BYTES));
        for (url, reason) in [
            ("ws://10.0.0.2:8080", None),
            ("wss://play.example.com", None),
            ("ws://h", None),
            ("ws://h/", None),
            ("wss://edge-1.example.com:443/tickroom/", None),
            ("ws://[::1]:8080", None),
            ("ws://[fe80::1]", None),
            ("ws://h/a%20b", None),
            ("ws://h:1", None),
            ("ws://h:65535", None),
            ("", Some("it must start with ws:// or wss://")),
            ("http://h", Some("it must start with ws:// or wss://")),
            ("WS://h", Some("it must start with ws:// or wss://")),
            ("h:8080", Some("it must start with ws:// or wss://")),
            ("ws://", Some("it has no host")),
            ("ws:///x", Some("it has no host")),
            ("ws://:80", Some("it has no host")),
            ("ws://u@h", Some("a node URL has no user name")),
            (
                "ws://h h",
                Some("the host has a character outside A-Z a-z 0-9 . -"),
            ),
            ("ws://h:", Some("the port must be a number from 1 to 65535")),
            (
                "ws://h:0",
                Some("the port must be a number from 1 to 65535"),
            ),
            (
                "ws://h:65536",
                Some("the port must be a number from 1 to 65535"),
            ),
            (
                "ws://h:99999",
                Some("the port must be a number from 1 to 65535"),
            ),
            (
                "ws://h:+80",
                Some("the port must be a number from 1 to 65535"),
            ),
            (
                "ws://h:80:80",
                Some("the port must be a number from 1 to 65535"),
            ),
            ("ws://[::1", Some("an IPv6 host needs its closing ]")),
            ("ws://[]", Some("a bracketed host must be an IPv6 address")),
            ("ws://[h]", Some("a bracketed host must be an IPv6 address")),
            ("ws://[::1]x", Some("only a :port may follow the host")),
            ("ws://h?room=a", Some("a node URL has no query or fragment")),
            (
                "ws://h/?room=a",
                Some("a node URL has no query or fragment"),
            ),
            ("ws://h/#f", Some("a node URL has no query or fragment")),
            (
                "ws://h/a|b",
                Some("the path has a character outside A-Z a-z 0-9 - . _ ~ / %"),
            ),
            (
                "ws://h/a b",
                Some("the path has a character outside A-Z a-z 0-9 - . _ ~ / %"),
            ),
            (long.as_str(), Some("longer than 512 bytes")),
        ] {
            match (WsUrl::new(url), reason) {
                (Ok(u), None) => assert_eq!(u.as_str(), url),
                (
                    Err(Error::InvalidUrl {
                        url: got,
                        reason: r,
                    }),
                    Some(reason),
                ) => {
                    assert_eq!((got.as_str(), r), (url, reason));
                }
                (got, _) => panic!("{url:?}: {got:?}, expected {reason:?}"),
            }
        }
        assert_eq!(
            WsUrl::new("http://h").unwrap_err().to_string(),
            "invalid node URL `http://h`: it must start with ws:// or wss://"
        );
    }
}
