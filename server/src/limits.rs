//! Rate limits, as token buckets in memory (a restart forgives): how many connection
//! handshakes and invite redemptions one network address may make per minute, and how many
//! frames per second one device may send.

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

/// Frames per second one device may send, over all its connections (an anonymous peer counts
/// as its address): a token bucket holding a burst, refilled at the rate. A device opening
/// hundreds of documents at once stays within the burst; a flood is slowed to the rate, so
/// that it costs the relay little of its CPU and no one else their turn. Over the rate a
/// frame is not refused: the connection's task waits before reading on (backpressure).
#[derive(Debug)]
pub struct FrameRate {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// The number of buckets at which full ones are swept out next.
    sweep_at: std::sync::atomic::AtomicUsize,
}

/// The fewest buckets a sweep waits for.
const SWEEP_AT_LEAST: usize = 1024;

impl FrameRate {
    /// `per_second` sustained, bursts up to `burst` frames; a rate of 0 turns it off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
            sweep_at: std::sync::atomic::AtomicUsize::new(SWEEP_AT_LEAST),
        }
    }

    /// Takes one frame for `who`: `None` if it may go now, else how long until it may.
    pub fn take(&self, who: &str) -> Option<std::time::Duration> {
        if self.per_second <= 0.0 {
            return None;
        }
        let now = Instant::now();
        // One tuple per entry: a poisoned lock is used as it is (see RateLimit::allow).
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A full bucket says nothing a new one would not: they go once the map has doubled
        // since the last sweep (so a relay that met many devices once keeps none of them).
        if buckets.len() >= self.sweep_at.load(std::sync::atomic::Ordering::Relaxed) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < burst);
            self.sweep_at.store(
                (buckets.len() * 2).max(SWEEP_AT_LEAST),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        let (tokens, at) = buckets.entry(who.to_owned()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(std::time::Duration::from_secs_f64(
                (1.0 - *tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_seen_once_leave_no_bucket_behind() {
        // A bucket refills within a microsecond here, so every sender's is full again at once.
        let rate = FrameRate::new(10_000_000, 1);
        for i in 0..20_000 {
            assert!(rate.take(&format!("device:{i}")).is_none());
        }
        let kept = rate.buckets.lock().map(|b| b.len()).unwrap_or(usize::MAX);
        assert!(
            kept <= 2 * SWEEP_AT_LEAST,
            "{kept} buckets kept for 20,000 senders seen once"
        );
    }

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

    #[test]
    fn frames_past_the_burst_wait_for_the_rate_per_sender() {
        let rate = FrameRate::new(100, 5);
        assert!(
            (0..5).all(|_| rate.take("a").is_none()),
            "the burst goes at once"
        );
        let wait = rate.take("a").unwrap_or_default();
        assert!(
            wait > std::time::Duration::ZERO && wait <= std::time::Duration::from_millis(10),
            "the sixth waits about a hundredth of a second: {wait:?}"
        );
        assert!(
            rate.take("b").is_none(),
            "another sender has its own bucket"
        );
        assert!((0..1000).all(|_| FrameRate::new(0, 1).take("a").is_none()));
    }
}
