//! Per-address rate limits: how many connection handshakes and invite redemptions one network
//! address may make, as token buckets that refill over a minute. In memory: a restart forgives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket per address.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    /// At most `per_minute` events per address per minute (bursts up to that many); 0 turns
    /// the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one event for `addr`; `false` if it is over its limit.
    pub fn allow(&self, addr: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let cap = f64::from(self.per_minute);
        // A panic while holding this lock cannot leave a bucket half-updated in a way that
        // matters (each is one tuple), so a poisoned lock is used as it is.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 100_000 {
            // Forget full buckets rather than grow without bound under a spray of addresses.
            buckets
                .retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * cap / 60.0 < cap);
        }
        let (tokens, at) = buckets.entry(addr).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * cap / 60.0).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_over_the_limit_is_refused_per_address() {
        let limit = RateLimit::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!((0..3).all(|_| limit.allow(a)));
        assert!(!limit.allow(a));
        assert!(limit.allow(b));
        assert!((0..1000).all(|_| RateLimit::new(0).allow(a)));
    }
}
