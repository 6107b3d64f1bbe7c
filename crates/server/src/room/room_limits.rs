//! Limits on starting rooms (issue 13): how many rooms one client address
//! may start per minute ([`CreationLimiter`], a token bucket per address in a
//! table of bounded size), and which address a request counts against
//! ([`client_ip`], [`creator`]). The node-wide `--max-rooms` cap is checked by
//! the [`crate::room::registry`] under its lock, which also charges this
//! limiter, so a refused or failed creation costs nothing.
//!
//! The limiter is pure: it reads no clock (every call is given `now`), so it
//! is tested on a manual clock. IPv6 addresses are limited per /64 (one host
//! usually holds a whole /64); IPv4-mapped IPv6 addresses count as IPv4.

use std::{
    collections::{HashMap, VecDeque},
    net::{IpAddr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant},
};

use axum::{extract::ConnectInfo, http::Extensions};

use crate::config::Config;

/// Most addresses the limiter tracks; beyond it the oldest entry is forgotten.
pub const DEFAULT_TABLE_CAP: usize = 100_000;

/// The window the per-address budget refills over.
pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Room creations per address: each address may start `per_window` rooms at
/// once and then one every `WINDOW / per_window` (a token bucket of
/// `per_window` tokens refilled over [`WINDOW`]). At most `cap` addresses are
/// tracked: an address whose bucket has refilled is forgotten, and when the
/// table is full the longest-tracked address is evicted (it starts afresh).
#[derive(Debug)]
pub struct CreationLimiter {
    per_window: u32,
    window: Duration,
    cap: usize,
    buckets: HashMap<IpAddr, Bucket>,
    /// Every key of `buckets`, in insertion order (entries are removed only
    /// from its front, so both always hold the same keys).
    order: VecDeque<IpAddr>,
}

impl CreationLimiter {
    /// `per_window` creations per [`WINDOW`] per address (0: no limit), for
    /// at most `cap` addresses (at least 1).
    pub fn new(per_window: u32, cap: usize) -> CreationLimiter {
        CreationLimiter::with_window(per_window, WINDOW, cap)
    }

    /// [`CreationLimiter::new`] over another window (for tests).
    pub fn with_window(per_window: u32, window: Duration, cap: usize) -> CreationLimiter {
        CreationLimiter {
            per_window,
            window,
            cap: cap.max(1),
            buckets: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether the limit is on.
    pub fn enabled(&self) -> bool {
        self.per_window > 0
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    fn refill_rate(&self) -> f64 {
        f64::from(self.per_window) / self.window.as_secs_f64()
    }

    fn tokens_at(&self, b: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        (b.tokens + elapsed * self.refill_rate()).min(f64::from(self.per_window))
    }

    /// Whether `ip` may start a room at `now` without spending anything.
    pub fn allows(&self, ip: IpAddr, now: Instant) -> bool {
        !self.enabled()
            || self
                .buckets
                .get(&limit_key(ip))
                .is_none_or(|b| self.tokens_at(b, now) >= 1.0)
    }

    /// Spends one creation for `ip` at `now`; `false` (nothing spent) when
    /// the address is over its budget.
    pub fn try_take(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.enabled() {
            return true;
        }
        let key = limit_key(ip);
        self.forget_refilled(now);
        if let Some(b) = self.buckets.get(&key).copied() {
            let tokens = self.tokens_at(&b, now);
            if tokens < 1.0 {
                return false;
            }
            self.buckets.insert(
                key,
                Bucket {
                    tokens: tokens - 1.0,
                    last: now.max(b.last),
                },
            );
            return true;
        }
        while self.buckets.len() >= self.cap {
            self.pop_front();
        }
        self.buckets.insert(
            key,
            Bucket {
                tokens: f64::from(self.per_window) - 1.0,
                last: now,
            },
        );
        self.order.push_back(key);
        true
    }

    /// Drops the front entries whose buckets are full again (tracking them
    /// would change nothing).
    fn forget_refilled(&mut self, now: Instant) {
        while let Some(front) = self.order.front()
            && self
                .buckets
                .get(front)
                .is_none_or(|b| self.tokens_at(b, now) >= f64::from(self.per_window))
        {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some(key) = self.order.pop_front() {
            self.buckets.remove(&key);
        }
    }
}

/// The key an address is limited under: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 by its /64.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client address of a request: its TCP peer (from axum's
/// `ConnectInfo`). The one place that decides it, so a trusted-proxy-aware
/// version can replace it.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// The address a room creation counts against, or `None` when it is not
/// limited per address: the limit is off, the client is on loopback (without
/// `--limit-loopback`), or another node of the cluster forwarded the request
/// (`forwarded`: the entry node counted it against the client; here the peer
/// is that node).
pub fn creator(config: &Config, forwarded: bool, client: Option<IpAddr>) -> Option<IpAddr> {
    let ip = client?;
    if config.room_creations_per_ip == 0 || forwarded {
        return None;
    }
    let loopback = match limit_key(ip) {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(_) => ip.is_loopback(),
    };
    if loopback && !config.limit_loopback {
        return None;
    }
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn an_address_gets_its_budget_then_one_per_refill_interval() {
        let t0 = Instant::now();
        let mut l = CreationLimiter::new(3, 100);
        let a = ip("203.0.113.7");
        assert!((0..3).all(|_| l.try_take(a, t0)), "the budget at once");
        assert!(!l.try_take(a, t0), "the fourth is over");
        assert!(!l.allows(a, t0));
        // 3 per minute: one every 20 s.
        assert!(!l.try_take(a, t0 + Duration::from_secs(19)));
        assert!(l.try_take(a, t0 + Duration::from_secs(20)));
        assert!(!l.try_take(a, t0 + Duration::from_secs(21)));
        // Other addresses have their own budget.
        assert!(l.try_take(ip("203.0.113.8"), t0 + Duration::from_secs(21)));
        // After a whole window the budget is back, and no more.
        let later = t0 + Duration::from_secs(600);
        assert_eq!((0..10).filter(|_| l.try_take(a, later)).count(), 3);
    }

    #[test]
    fn a_steady_creator_at_the_rate_is_never_refused() {
        let t0 = Instant::now();
        let mut l = CreationLimiter::new(60, 10);
        let a = ip("198.51.100.1");
        for i in 0..600u64 {
            assert!(l.try_take(a, t0 + Duration::from_secs(i)), "creation {i}");
        }
    }

    #[test]
    fn refused_attempts_spend_nothing_and_a_clock_going_back_is_harmless() {
        let t0 = Instant::now() + Duration::from_secs(100);
        let mut l = CreationLimiter::new(1, 10);
        let a = ip("192.0.2.1");
        assert!(l.try_take(a, t0));
        for s in 1..60 {
            assert!(!l.try_take(a, t0 + Duration::from_secs(s)));
        }
        assert!(
            l.try_take(a, t0 + Duration::from_secs(60)),
            "refusals cost nothing"
        );
        assert!(!l.try_take(a, t0), "an earlier instant refills nothing");
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_refilled_addresses() {
        let t0 = Instant::now();
        let mut l = CreationLimiter::new(2, 4);
        for i in 0..1000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.try_take(addr, t0));
            assert!(l.tracked() <= 4);
        }
        // The oldest were evicted: the first address starts afresh.
        let first = ip("10.0.0.0");
        assert!(l.try_take(first, t0) && l.try_take(first, t0));
        assert!(!l.try_take(first, t0));
        // Once every bucket has refilled, the next call forgets them.
        assert!(l.try_take(ip("10.9.9.9"), t0 + Duration::from_secs(60)));
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t0 = Instant::now();
        let mut l = CreationLimiter::new(1, 10);
        assert!(l.try_take(ip("2001:db8:1:2::1"), t0));
        assert!(!l.try_take(ip("2001:db8:1:2:ffff::9"), t0), "same /64");
        assert!(l.try_take(ip("2001:db8:1:3::1"), t0), "another /64");
        assert!(l.try_take(ip("192.0.2.5"), t0));
        assert!(!l.try_take(ip("::ffff:192.0.2.5"), t0), "mapped = IPv4");
    }

    #[test]
    fn zero_means_no_limit() {
        let t0 = Instant::now();
        let mut l = CreationLimiter::new(0, 1);
        assert!((0..1000).all(|_| l.try_take(ip("192.0.2.1"), t0)));
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn loopback_and_forwarded_requests_are_not_limited_per_address() {
        let mut config = Config::default();
        let outside = Some(ip("203.0.113.1"));
        assert_eq!(creator(&config, false, outside), outside);
        assert_eq!(creator(&config, true, outside), None, "forwarded");
        assert_eq!(creator(&config, false, None), None, "unknown peer");
        for lo in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(creator(&config, false, Some(ip(lo))), None, "{lo}");
        }
        config.limit_loopback = true;
        assert_eq!(
            creator(&config, false, Some(ip("127.0.0.1"))),
            Some(ip("127.0.0.1"))
        );
        config.room_creations_per_ip = 0;
        assert_eq!(creator(&config, false, outside), None, "limit off");
    }
}
