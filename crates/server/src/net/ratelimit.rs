//! Per-connection message rate limiting: a token bucket fed by the caller's
//! clock (sans-IO, so it is tested without sleeping).

use std::time::{Duration, Instant};

/// A token bucket: `rate` tokens per second up to `burst`; each message costs one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one; `false` means the sender is over its rate.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Time until one token is available (zero if one is).
    pub fn wait_time(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 5.0, t0);
        assert!(
            (0..5).all(|_| b.try_take(t0)),
            "the burst is allowed at once"
        );
        assert!(
            !b.try_take(t0),
            "the sixth message at once is over the limit"
        );
        assert!(b.wait_time() > Duration::ZERO);
        // 10/s: one token every 100 ms.
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        assert!(!b.try_take(t0 + Duration::from_millis(150)));
        assert!(b.try_take(t0 + Duration::from_millis(200)));
    }

    #[test]
    fn a_steady_sender_at_the_rate_is_never_limited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(60.0, 10.0, t0);
        for i in 0..6000u64 {
            let now = t0 + Duration::from_micros(i * 1_000_000 / 60);
            assert!(b.try_take(now), "message {i} limited");
        }
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100.0, 3.0, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.try_take(later)).count(), 3);
    }
}
