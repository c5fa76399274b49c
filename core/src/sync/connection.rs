//! The device's connection to its relay as people see it: its state, the record `status` reads,
//! and the jittered exponential backoff between attempts. Pure: the dialer in `net` drives it.

use serde::Serialize;

use crate::schema::vocab::vocabulary;

vocabulary! {
    /// Where the device's connection to its relay stands.
    ConnectionState, "connection state" {
        /// Dialling the relay (or waiting for its handshake).
        Connecting = "connecting",
        /// Connected: local edits go to the relay as they are made, and the relay's arrive.
        Connected = "connected",
        /// The last attempt failed or the connection dropped; the next attempt is scheduled.
        Waiting = "waiting",
        /// No sync is running on this device.
        Offline = "offline",
    }
}

/// How often a running sync refreshes its record, so `status` in another process can tell a
/// live sync from one that was killed.
pub const HEARTBEAT_MS: i64 = 5_000;

/// A record older than this many heartbeats belongs to a sync that is gone.
const STALE_AFTER_HEARTBEATS: i64 = 3;

/// The connection as last recorded by the process running sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionRecord {
    /// The relay's URL.
    pub relay: String,
    /// Where the connection stands.
    pub state: ConnectionState,
    /// Since when (Unix ms) it has been in this state.
    pub since: i64,
    /// Failed attempts since the last successful connection.
    pub attempt: u32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When (Unix ms) the next attempt is due, while waiting.
    pub retry_at: Option<i64>,
    /// When (Unix ms) the running sync last wrote this record.
    pub heartbeat: i64,
}

impl ConnectionRecord {
    /// The record as it stands at `now`: a record whose sync stopped writing it (the process was
    /// killed, or the phone slept) reads as offline, keeping its last error.
    pub fn at(mut self, now: i64) -> Self {
        if self.state != ConnectionState::Offline
            && now - self.heartbeat > HEARTBEAT_MS * STALE_AFTER_HEARTBEATS
        {
            self.state = ConnectionState::Offline;
            self.since = self.heartbeat;
            self.retry_at = None;
        }
        self
    }
}

/// Jittered exponential backoff: the n-th consecutive failure waits a random time between half
/// and all of `min(base * 2^n, cap)`, so devices that lost the relay together do not return in
/// step ("equal jitter"). Seeded, so a test or a simulation replays exactly.
#[derive(Clone, Debug)]
pub struct Backoff {
    base_ms: u64,
    cap_ms: u64,
    failures: u32,
    rng: u64,
}

impl Backoff {
    /// Backoff from `base_ms` doubling up to `cap_ms`, jittered from `seed`.
    pub fn new(base_ms: u64, cap_ms: u64, seed: u64) -> Self {
        Backoff {
            base_ms: base_ms.max(1),
            cap_ms: cap_ms.max(base_ms.max(1)),
            failures: 0,
            // Spread nearby seeds (process ids, say) apart; xorshift must not start at zero.
            rng: splitmix64(seed) | 1,
        }
    }

    /// The wait before the next attempt, after one more failure.
    pub fn next_delay_ms(&mut self) -> u64 {
        let ceiling = self
            .base_ms
            .saturating_mul(1u64 << self.failures.min(32))
            .min(self.cap_ms);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + self.next_random() % (ceiling - half + 1)
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A connection succeeded: the next failure starts from `base_ms` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: plenty for spreading retries, and reproducible from the seed.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// One step of SplitMix64: turns any seed into a well-mixed starting state.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_cap() {
        let mut b = Backoff::new(1_000, 60_000, 7);
        let mut ceiling = 1_000;
        for _ in 0..12 {
            let d = b.next_delay_ms();
            assert!(
                (ceiling / 2..=ceiling).contains(&d),
                "{d} outside {ceiling}/2..={ceiling}"
            );
            ceiling = (ceiling * 2).min(60_000);
        }
        assert_eq!(b.failures(), 12);
        b.reset();
        assert!(b.next_delay_ms() <= 1_000);
    }

    #[test]
    fn devices_with_different_seeds_spread_out() {
        let delays: std::collections::BTreeSet<u64> = (0..20)
            .map(|seed| {
                let mut b = Backoff::new(1_000, 60_000, seed);
                (0..5).map(|_| b.next_delay_ms()).last().unwrap_or_default()
            })
            .collect();
        assert!(delays.len() > 10, "only {} distinct delays", delays.len());
    }

    #[test]
    fn same_seed_replays_the_same_delays() {
        let run = |seed| {
            let mut b = Backoff::new(500, 30_000, seed);
            (0..8).map(|_| b.next_delay_ms()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
    }

    #[test]
    fn a_record_nobody_refreshes_reads_as_offline() {
        let record = ConnectionRecord {
            relay: "ws://relay".into(),
            state: ConnectionState::Connected,
            since: 1_000,
            attempt: 0,
            last_error: None,
            retry_at: None,
            heartbeat: 10_000,
        };
        assert_eq!(
            record.clone().at(10_000 + HEARTBEAT_MS).state,
            ConnectionState::Connected
        );
        let gone = record.at(10_000 + 4 * HEARTBEAT_MS);
        assert_eq!(gone.state, ConnectionState::Offline);
        assert_eq!(gone.since, 10_000);
    }
}
