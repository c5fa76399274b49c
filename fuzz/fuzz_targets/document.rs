//! Documents from stored chunks or a peer's changes: any bytes load (or fail) without a panic,
//! and a loaded document reads as each schema (or is refused by name), leniently as for
//! JavaScript clients.
#![no_main]

use groundwork_core::schema::{self, DocKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut doc = schema::new_doc();
    if doc.load_incremental(data).is_err() {
        return;
    }
    let _ = schema::hydrate::<schema::plan::Plan>(&doc, "d", DocKind::Plan);
    let _ = schema::hydrate::<schema::contacts::ContactsDoc>(&doc, "d", DocKind::Contacts);
    let _ = schema::roster::Roster::read(&doc, "d");
    let _ = schema::board::Board::read(&doc, "d");
    let _ = schema::brief::Brief::read(&doc, "d");
    let _ = groundwork_core::campaign::Shared::of_doc(&doc, "d");
    let _ = groundwork_core::campaign::sharing_changed(&doc, &[]);
});
