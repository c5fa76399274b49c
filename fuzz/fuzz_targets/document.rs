//! Documents from stored chunks or a peer's changes: any bytes load (or fail) without a panic
//! through `schema::load`, the guard every loader uses (automerge 0.12 itself panics on some
//! malformed bundles: fuzz/regressions/document), and a loaded document reads as each schema
//! (or is refused by name), leniently as for JavaScript clients.
#![no_main]

use groundwork_core::schema::{self, DocKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // libFuzzer's hook aborts on every panic, even one the code catches on purpose (the
        // guard around automerge, which panics on some malformed input). A quiet hook keeps
        // caught panics caught; one that escapes still aborts, in libfuzzer-sys's wrapper.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let Ok(doc) = schema::load(data) else {
        return;
    };
    let _ = schema::hydrate::<schema::plan::Plan>(&doc, "d", DocKind::Plan);
    let _ = schema::hydrate::<schema::contacts::ContactsDoc>(&doc, "d", DocKind::Contacts);
    let _ = schema::roster::Roster::read(&doc, "d");
    let _ = schema::board::Board::read(&doc, "d");
    let _ = schema::brief::Brief::read(&doc, "d");
    let _ = groundwork_core::campaign::Shared::of_doc(&doc, "d");
    let _ = groundwork_core::campaign::sharing_changed(&doc, &[]);
});
