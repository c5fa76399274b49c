//! The hub thread's clock: the system's, or one a simulator moves by hand. Every time the relay's
//! host logic reads (its timers, the hub's milliseconds, the wall time that stamps changes and
//! expires invites and tokens) comes from here, so a seeded run replays exactly.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use groundwork_core::time::now_ms;

/// Where the hub thread's time comes from.
#[derive(Clone, Debug)]
pub struct Clock {
    /// The instant the clock started.
    base: Instant,
    /// The wall time (Unix ms) at `base`.
    wall_base: i64,
    /// A hand-moved clock's milliseconds since `base` (`None`: the system's clock).
    hand: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self {
            base: Instant::now(),
            wall_base: now_ms(),
            hand: None,
        }
    }

    /// A clock that stands still at `wall` (Unix ms) until moved with [`Clock::advance`] (a
    /// simulator's).
    pub fn manual(wall: i64) -> Self {
        Self {
            base: Instant::now(),
            wall_base: wall,
            hand: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Moves a hand-moved clock on by `ms` (the system's clock moves by itself).
    pub fn advance(&self, ms: u64) {
        if let Some(hand) = &self.hand {
            hand.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// How long since the clock started.
    pub fn elapsed(&self) -> Duration {
        match &self.hand {
            Some(hand) => Duration::from_millis(hand.load(Ordering::Relaxed)),
            None => self.base.elapsed(),
        }
    }

    /// Now, as an instant (for timers and durations).
    pub fn instant(&self) -> Instant {
        self.base + self.elapsed()
    }

    /// Now, as wall time (Unix ms: stamps on changes, expiry of invites and tokens).
    pub fn wall_ms(&self) -> i64 {
        match &self.hand {
            Some(_) => self.wall_base + self.elapsed().as_millis() as i64,
            None => now_ms(),
        }
    }
}
