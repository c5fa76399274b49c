//! Giving memory the relay freed back to the system, once documents leave memory.
//!
//! glibc's malloc keeps freed pages in its arenas, mapped and resident, unless they sit at the
//! top of one. Measured (`groundwork-load documents`, with valgrind's massif beside it): after
//! 5,000 groups' documents were served and unloaded, one arena held 58 MB resident while the
//! relay's live heap was 9 MB, and the relay stayed at 5.6x its empty size. Trying other
//! allocators did not help: mimalloc (with decommitting purges) left it at 3.5x of a larger
//! empty size. `malloc_trim` returns every free page of every arena.

use std::time::{Duration, Instant};

/// At most this often: trimming walks every arena under its lock.
const EVERY: Duration = Duration::from_secs(10);

/// Trims after documents were unloaded, no more often than [`EVERY`].
#[derive(Debug)]
pub struct Trimmer {
    last: Instant,
    owed: bool,
}

impl Default for Trimmer {
    fn default() -> Self {
        Trimmer {
            last: Instant::now(),
            owed: false,
        }
    }
}

impl Trimmer {
    /// Documents left memory; the pages they held go back at the next chance.
    pub fn unloaded(&mut self) {
        self.owed = true;
    }

    /// Gives freed pages back if documents left memory since the last time and it is time.
    pub fn tick(&mut self) {
        if self.owed && self.last.elapsed() >= EVERY {
            self.owed = false;
            self.last = Instant::now();
            release_freed_pages();
        }
    }
}

/// Asks the allocator to return the free pages of its arenas to the system.
fn release_freed_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` takes no pointer from us; it walks glibc's own free lists under
    // each arena's lock (safe beside other threads' allocations) and only releases pages that
    // no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}
