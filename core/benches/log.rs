//! Log one contact durably into a contacts document of 10k entries. Target: p50 <= 1 ms,
//! p99 <= 5 ms. Criterion reports the median (over a document growing from 8,000 to about
//! 11,800 contacts); a separate pass of 2,000 individually timed calls from 10,000 prints p50/p99, since a durable write's tail is what a canvasser feels. The store is a real
//! file with the durability a phone has (WAL, fsync on commit).

// Benchmarks are binaries: a failed setup should stop them loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{contact, percentile, store_with};
use criterion::{Criterion, criterion_group, criterion_main};

fn log_contact(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (mut device, group) = store_with(dir.path(), 10_000);
    // Load the document once, as an app that is already open has it.
    device.log_contact(&group, contact(0)).unwrap();

    let mut samples: Vec<Duration> = (0..2_000)
        .map(|i| {
            let start = Instant::now();
            device.log_contact(&group, contact(i)).unwrap();
            start.elapsed()
        })
        .collect();
    samples.sort();
    eprintln!(
        "log_contact into 10k, 2000 single calls: p50 {:?}  p99 {:?}  max {:?}",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0),
    );

    // Criterion's warm-up and samples log about 3,800 more, past what one month's document
    // may hold (1 MiB, about 12,500 contacts) if they started at 12,000: they run on a store
    // of their own that starts at 8,000, so the document they write grows through 10,000.
    let dir = tempfile::tempdir().unwrap();
    let (mut device, group) = store_with(dir.path(), 8_000);
    device.log_contact(&group, contact(0)).unwrap();
    let mut i = 0;
    c.bench_function("log_contact_durably_in_10k", |b| {
        b.iter(|| {
            i += 1;
            device.log_contact(&group, contact(i)).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = log_contact
}
criterion_main!(benches);
