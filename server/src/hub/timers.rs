//! The hub thread's one timer table: every deadline the loop wakes for, in one place, so the
//! loop sleeps until the earliest and then runs what fell due (quinn's `TimerTable`).

use std::time::{Duration, Instant};

/// A deadline the hub thread keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// The periodic tick: the hub's retries, roster pushes, unloading idle documents, expired
    /// tokens, staff and quota reads.
    Tick,
    /// Reading the change log other nodes write, when no notification came (PostgreSQL only).
    ReadLog,
    /// A new connection's offers fall due (it sent nothing, or its opening burst ended).
    Offers,
    /// Looking for contacts past their group's retention (months turn over while nothing
    /// changes).
    Retention,
    /// Purging expired nonces and tokens.
    Purge,
    /// Pruning the change log.
    PruneLog,
}

impl Timer {
    const ALL: [Timer; 6] = [
        Timer::Tick,
        Timer::ReadLog,
        Timer::Offers,
        Timer::Retention,
        Timer::Purge,
        Timer::PruneLog,
    ];

    /// How often a repeating timer runs (`None`: set by its owner as needed).
    pub(super) fn every(self, tick: Duration) -> Option<Duration> {
        match self {
            Timer::Tick => Some(tick),
            Timer::ReadLog => Some(LOG_EVERY),
            Timer::Offers => None,
            Timer::Retention => Some(RETENTION_EVERY),
            Timer::Purge => Some(Duration::from_secs(60)),
            Timer::PruneLog => Some(Duration::from_secs(60)),
        }
    }
}

/// How often a node reads the change log when no notification came (a lost NOTIFY, or a
/// listener reconnecting, costs at most this).
pub(super) const LOG_EVERY: Duration = Duration::from_millis(500);

/// How often contacts past their groups' retention are looked for (months turn over while
/// nothing changes); a lead's new setting takes effect at once.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// When each timer next falls due (`None`: not set).
#[derive(Debug, Default)]
pub(super) struct TimerTable {
    at: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// Sets `timer` to fall due at `at` (`None` stops it).
    pub(super) fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.at[timer as usize] = at;
    }

    /// The earliest deadline set.
    pub(super) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// Takes the timers due at `now`: each is unset, and a repeating one set again one period
    /// from `now` (a loop that fell behind runs it once, not once per period missed).
    pub(super) fn expired(&mut self, now: Instant, tick: Duration) -> Vec<Timer> {
        let mut due = Vec::new();
        for timer in Timer::ALL {
            let slot = &mut self.at[timer as usize];
            if slot.is_some_and(|at| at <= now) {
                *slot = timer.every(tick).map(|every| now + every);
                due.push(timer);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_wakes_for_the_earliest_and_repeats_what_repeats() {
        let start = Instant::now();
        let tick = Duration::from_secs(1);
        let mut timers = TimerTable::default();
        assert_eq!(timers.next(), None, "nothing set, nothing to wake for");
        timers.set(Timer::Tick, Some(start + tick));
        timers.set(Timer::Offers, Some(start + Duration::from_millis(300)));
        assert_eq!(timers.next(), Some(start + Duration::from_millis(300)));
        assert!(timers.expired(start, tick).is_empty(), "nothing due yet");

        let later = start + Duration::from_millis(300);
        assert_eq!(timers.expired(later, tick), vec![Timer::Offers]);
        assert_eq!(
            timers.next(),
            Some(start + tick),
            "offers do not repeat by themselves"
        );

        // Far behind: the tick runs once and is set one period from now.
        let much_later = start + Duration::from_secs(10);
        assert_eq!(timers.expired(much_later, tick), vec![Timer::Tick]);
        assert_eq!(timers.next(), Some(much_later + tick));
    }
}
