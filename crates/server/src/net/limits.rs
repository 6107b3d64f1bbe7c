//! Connection caps at the WebSocket upgrade: live connections per node
//! (`--max-connections`) and per client address (`--max-connections-per-ip`),
//! the client address itself (the TCP peer, or what a `--trusted-proxies`
//! proxy forwarded), and the origin rules ([`crate::net::origin`]). A
//! connection that passes holds a [`Slot`] for its whole life; dropping it
//! gives the places back.
//!
//! IPv6 clients are counted by their /64 (one subscriber's usual share), so
//! a client cannot step around its cap by walking its own prefix; IPv4-mapped
//! IPv6 addresses count as their IPv4 address.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::http::{HeaderMap, header};

use crate::{Config, net::origin::OriginPolicy};

/// An IP network (`10.0.0.0/8`, `::1/128`, or a bare address for one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let bad =
            || format!("{s:?}: expected an address or CIDR block, e.g. 10.0.0.0/8 or ::1/128");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr {
            addr: addr.to_canonical(),
            prefix: if addr.is_ipv6() && addr.to_canonical().is_ipv4() {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }

    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Parses a comma- or space-separated `--trusted-proxies` list.
pub fn parse_cidrs(list: &str) -> Result<Vec<Cidr>, String> {
    list.split([',', ' '])
        .filter(|s| !s.trim().is_empty())
        .map(Cidr::parse)
        .collect()
}

/// The client's address: the TCP `peer`, unless the peer is a trusted proxy;
/// then the nearest address in `X-Forwarded-For` (else `Forwarded: for=`)
/// that is not itself a trusted proxy, read from the right (the entries on
/// the left are whatever the client wrote). Unparseable entries stop the walk
/// at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let hops: Vec<&str> = if xff.is_empty() {
        headers
            .get_all(header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|elem| {
                elem.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| v.trim())
                })
            })
            .collect()
    } else {
        xff
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// One forwarded hop: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]:5678`, or the quoted forms of `Forwarded`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = hop.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    hop.strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .and_then(|h| h.parse().ok())
}

/// The key a client is counted under: its IPv4 address, or its IPv6 /64.
pub(crate) fn ip_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & (u128::MAX << 64);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// Why a connection was refused before its upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `--max-connections` live WebSockets on this node.
    Node,
    /// `--max-connections-per-ip` live WebSockets from this client.
    Ip,
}

#[derive(Debug, Default)]
struct Counts {
    node: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// The upgrade's limits: origin rules, trusted proxies and live counts.
#[derive(Debug)]
pub struct Limits {
    /// Which origins may upgrade.
    pub origins: OriginPolicy,
    trusted: Vec<Cidr>,
    max_node: usize,
    max_ip: usize,
    limit_loopback: bool,
    counts: Arc<Counts>,
}

/// One WebSocket's places in the node and per-address counts; given back
/// when dropped (moved into the connection's task).
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Counts>,
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counts.node.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut map = self.counts.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

impl Limits {
    /// The limits `config` asks for (validated beforehand: a bad list is an error here too).
    pub fn new(config: &Config) -> Result<Limits, String> {
        Ok(Limits {
            origins: OriginPolicy::parse(config.allowed_origins.as_deref(), config.require_origin)?,
            trusted: parse_cidrs(config.trusted_proxies.as_deref().unwrap_or(""))?,
            max_node: config.max_connections,
            max_ip: config.max_connections_per_ip,
            limit_loopback: config.limit_loopback,
            counts: Arc::default(),
        })
    }

    /// The client address of a request from `peer` (see [`client_ip`]).
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer, headers, &self.trusted)
    }

    /// Whether the per-address handshake cap applies to a TCP `peer`:
    /// not to loopback (unless `--limit-loopback`) nor to a trusted proxy,
    /// whose sockets carry many clients.
    pub fn caps_pending(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        let exempt_loopback = peer.is_loopback() && !self.limit_loopback;
        let proxy = self.trusted.iter().any(|c| c.contains(peer));
        !exempt_loopback && !proxy
    }

    /// Takes a place for a new WebSocket from `client`, or says which cap is full.
    pub fn reserve(&self, client: IpAddr) -> Result<Slot, Refusal> {
        let counts = &self.counts;
        counts
            .node
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_node).then_some(n + 1)
            })
            .map_err(|_| Refusal::Node)?;
        let mut slot = Slot {
            counts: Arc::clone(counts),
            ip: None,
        };
        if client.is_loopback() && !self.limit_loopback {
            return Ok(slot);
        }
        let key = ip_key(client);
        let mut map = counts.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= self.max_ip {
            drop(map);
            return Err(Refusal::Ip); // `slot` gives the node place back.
        }
        *n += 1;
        slot.ip = Some(key);
        Ok(slot)
    }

    /// WebSockets holding a place right now.
    pub fn live(&self) -> usize {
        self.counts.node.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn cidrs_contain_their_addresses() {
        let net = Cidr::parse("10.1.0.0/16").expect("parses");
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .expect("parses")
                .contains(ip("8.8.8.8"))
        );
        let one = Cidr::parse("127.0.0.1").expect("parses");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = Cidr::parse("2001:db8::/32").expect("parses");
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_cidrs("127.0.0.1/32, 10.0.0.0/8")
                .expect("parses")
                .len(),
            2
        );
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = parse_cidrs("127.0.0.1/32,10.0.0.0/8").expect("parses");
        let xff = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")]);
        // Untrusted peer: the header is the client's own words.
        assert_eq!(client_ip(ip("5.5.5.5"), &xff, &trusted), ip("5.5.5.5"));
        // Trusted: the rightmost untrusted hop, not the client-written left one.
        assert_eq!(client_ip(ip("127.0.0.1"), &xff, &trusted), ip("1.2.3.4"));
        let fwd = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &fwd, &trusted),
            ip("2001:db8::1")
        );
        let junk = headers(&[("x-forwarded-for", "1.2.3.4, garbage")]);
        assert_eq!(client_ip(ip("127.0.0.1"), &junk, &trusted), ip("127.0.0.1"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }

    fn limits(max_node: usize, max_ip: usize, limit_loopback: bool) -> Limits {
        Limits {
            origins: OriginPolicy::parse(None, false).expect("defaults"),
            trusted: Vec::new(),
            max_node,
            max_ip,
            limit_loopback,
            counts: Arc::default(),
        }
    }

    #[test]
    fn slots_are_capped_and_given_back() {
        let l = limits(3, 2, false);
        let a = ip("1.2.3.4");
        let s1 = l.reserve(a).expect("first");
        let _s2 = l.reserve(a).expect("second");
        assert_eq!(l.reserve(a).unwrap_err(), Refusal::Ip);
        assert_eq!(
            l.live(),
            2,
            "a refused reservation gives its node place back"
        );
        let _s3 = l
            .reserve(ip("127.0.0.1"))
            .expect("loopback is exempt from the per-address cap");
        assert_eq!(l.reserve(ip("9.9.9.9")).unwrap_err(), Refusal::Node);
        drop(s1);
        let _s4 = l.reserve(a).expect("a place given back is free again");
        let strict = limits(10, 1, true);
        let _l1 = strict.reserve(ip("127.0.0.1")).expect("first");
        assert_eq!(strict.reserve(ip("127.0.0.1")).unwrap_err(), Refusal::Ip);
    }

    #[test]
    fn the_limit_flags_parse_and_nonsense_is_rejected_with_the_flag_named() {
        let c = Config::try_parse_from([
            "tickroom",
            "--header-read-timeout",
            "2s",
            "--allowed-origins",
            "https://*.example.com,http://localhost:*",
            "--trusted-proxies",
            "10.0.0.0/8 ::1",
            "--max-connections-per-ip",
            "8",
            "--limit-loopback",
            "--tcp-keepalive",
            "0s",
        ])
        .expect("parses");
        c.validate().expect("valid");
        let l = Limits::new(&c).expect("limits");
        assert_eq!(l.trusted.len(), 2);
        assert!(
            !l.origins
                .allows(Some("http://evil.example"), None, Vec::<String>::new)
        );
        type Breaker = fn(&mut Config);
        let cases: [(&str, Breaker); 5] = [
            ("--allowed-origins", |c| {
                c.allowed_origins = Some("example.com".into())
            }),
            ("--trusted-proxies", |c| {
                c.trusted_proxies = Some("10.0.0.0/40".into())
            }),
            ("--max-head-bytes", |c| c.max_head_bytes = 4096),
            ("--header-read-timeout", |c| {
                c.header_read_timeout = Duration::ZERO
            }),
            ("--tcp-keepalive", |c| {
                c.tcp_keepalive = Duration::from_millis(10)
            }),
        ];
        for (flag, break_it) in cases {
            let mut c = Config::default();
            break_it(&mut c);
            let err = c.validate().expect_err(flag).to_string();
            assert!(err.contains(flag), "{err}");
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let l = limits(10, 1, false);
        let _a = l.reserve(ip("2001:db8:1:2::1")).expect("first");
        assert_eq!(
            l.reserve(ip("2001:db8:1:2::ffff")).unwrap_err(),
            Refusal::Ip
        );
        let _b = l.reserve(ip("2001:db8:1:3::1")).expect("another /64");
        let _c = l.reserve(ip("::ffff:1.2.3.4")).expect("mapped v4");
        assert_eq!(l.reserve(ip("1.2.3.4")).unwrap_err(), Refusal::Ip);
    }
}
