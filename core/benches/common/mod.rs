//! What the store benchmarks share: synthetic contacts and pre-filled stores.

use std::path::Path;
use std::time::Duration;

use groundwork_core::Device;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::vocab::{ContactResult, Interest};

pub fn contact(i: usize) -> NewContact {
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
/// after months of use: a thousand contacts a month, each month its own document (a document
/// holds at most `store::MAX_DOCUMENT_BYTES`).
pub fn store_with(dir: &Path, n: usize) -> (Device, String) {
    let mut device = Device::init(
        dir,
        "bench",
        &groundwork_core::store::StoreKey::from_bytes([7; 32]),
    )
    .unwrap();
    let group = device.create_group("Bench group", None).unwrap();
    let mut i = 0;
    while i < n {
        // The month `i / 1000` months ago (31 days a month is close enough for a date).
        let at = groundwork_core::time::now_ms() - (i / 1000) as i64 * 31 * 86_400_000;
        let batch: Vec<NewContact> = (i..(i + 1000).min(n))
            .map(|j| NewContact {
                at: Some(at),
                ..contact(j)
            })
            .collect();
        i += batch.len();
        device.log_contacts(&group, batch).unwrap();
    }
    device.compact_all().unwrap();
    (device, group)
}

#[allow(dead_code)] // used by one of the two benches
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
