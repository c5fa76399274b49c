//! Device store benchmarks, against the targets of the core issue:
//! - log one contact durably into a contacts document of 10k entries: p50 <= 1 ms, p99 <= 5 ms;
//! - list a page of 50 from 100k contacts: <= 5 ms;
//! - cold open of a store holding 100k contacts to its first query: <= 50 ms.
//!
//! Criterion reports medians; the log benchmark also prints its p50/p99 from a separate pass of
//! single, individually timed calls, since a durable write's tail is what a canvasser feels.
//! Stores are real files in a temporary directory, with the same durability (WAL, fsync on
//! commit) as on a phone.

// Benchmarks are binaries: a failed setup should stop them loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use groundwork_core::Device;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::vocab::{ContactResult, Interest};
use groundwork_core::store::index::ContactQuery;

fn contact(i: usize) -> NewContact {
    let mut c = NewContact::new(ContactResult::ALL[i % ContactResult::ALL.len()]);
    c.support = Some((i % 5) as u8 + 1);
    c.place = Some(format!("Turf {}", i % 40));
    c.note = Some(format!("synthetic note number {i}"));
    if i.is_multiple_of(4) {
        c.consent = true;
        c.name = Some(format!("Synthetic Person {i}"));
        c.interests = vec![Interest::Attend];
    }
    c
}

/// A store whose group holds `n` contacts, written in batches and compacted, as a store looks
/// after weeks of use.
fn store_with(dir: &Path, n: usize) -> (Device, String) {
    let mut device = Device::init(dir, "bench").unwrap();
    let group = device.create_group("Bench group", None).unwrap();
    let mut i = 0;
    while i < n {
        let batch: Vec<NewContact> = (i..(i + 1000).min(n)).map(contact).collect();
        i += batch.len();
        device.log_contacts(&group, batch).unwrap();
    }
    device.compact_all().unwrap();
    (device, group)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

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

    let mut i = 0;
    c.bench_function("log_contact_durably_in_10k", |b| {
        b.iter(|| {
            i += 1;
            device.log_contact(&group, contact(i)).unwrap()
        })
    });
}

fn page_and_cold_open(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (device, group) = store_with(dir.path(), 100_000);
    assert_eq!(device.contact_count(&group).unwrap(), 100_000);
    let first = ContactQuery {
        limit: 50,
        ..ContactQuery::default()
    };
    let middle = device
        .contacts(
            &group,
            &ContactQuery {
                limit: 50_000,
                ..ContactQuery::default()
            },
        )
        .unwrap()
        .pop()
        .unwrap()
        .contact_id;
    let deep = ContactQuery {
        limit: 50,
        after: Some(middle),
        ..ContactQuery::default()
    };
    let talked = ContactQuery {
        limit: 50,
        result: Some(ContactResult::Talked),
        ..ContactQuery::default()
    };
    c.bench_function("page_of_50_from_100k/first", |b| {
        b.iter(|| device.contacts(&group, &first).unwrap())
    });
    c.bench_function("page_of_50_from_100k/after_50k", |b| {
        b.iter(|| device.contacts(&group, &deep).unwrap())
    });
    c.bench_function("page_of_50_from_100k/filtered", |b| {
        b.iter(|| device.contacts(&group, &talked).unwrap())
    });
    drop(device);
    c.bench_function("cold_open_100k_to_first_page", |b| {
        b.iter(|| {
            let device = Device::open(dir.path()).unwrap();
            let page = device.contacts(&group, &first).unwrap();
            assert_eq!(page.len(), 50);
            page
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = log_contact, page_and_cold_open
}
criterion_main!(benches);
