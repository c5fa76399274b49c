//! Queries on a store of 100k contacts: a page of 50 (target <= 5 ms) and a cold open to the
//! first page (target <= 50 ms).

// Benchmarks are binaries: a failed setup should stop them loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Duration;

use common::store_with;
use criterion::{Criterion, criterion_group, criterion_main};
use groundwork_core::Device;
use groundwork_core::schema::vocab::ContactResult;
use groundwork_core::store::index::ContactQuery;

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
            let device = Device::open(
                dir.path(),
                &groundwork_core::store::StoreKey::from_bytes([7; 32]),
            )
            .unwrap();
            let page = device.contacts(&group, &first).unwrap();
            assert_eq!(page.len(), 50);
            page
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = page_and_cold_open
}
criterion_main!(benches);
