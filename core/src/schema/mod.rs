//! The typed documents of a group (plan, contacts, roster, the canvassers' brief) and how they are read from and written to
//! automerge.

pub mod board;
pub mod brief;
pub mod contacts;
pub mod lenient;
pub mod plan;
pub mod roster;
pub mod vocab;

use automerge::{AutoCommit, TextEncoding};
use autosurgeon::{Hydrate, Reconcile};

use crate::error::{Error, Result};

/// The schema version written into every new document. Readers accept documents of any version
/// whose fields they can read; fields they do not know are kept untouched.
pub const SCHEMA_VERSION: u64 = 1;

/// The kinds of document a group has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// The group's plan.
    Plan,
    /// One canvasser's contacts for one period.
    Contacts,
    /// Who is in the group (written by the relay).
    Roster,
    /// A county's board (written by the relay from its campaign index).
    Board,
    /// A group's brief for its canvassers (written by the relay from the plan and roster).
    Brief,
}

impl DocKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Plan => "plan",
            DocKind::Contacts => "contacts",
            DocKind::Roster => "roster",
            DocKind::Board => "board",
            DocKind::Brief => "brief",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plan" => Some(DocKind::Plan),
            "contacts" => Some(DocKind::Contacts),
            "roster" => Some(DocKind::Roster),
            "board" => Some(DocKind::Board),
            "brief" => Some(DocKind::Brief),
            _ => None,
        }
    }
}

/// A new, empty automerge document.
///
/// Text positions are UTF-8 byte offsets, which is what `autosurgeon::Text` counts in; the
/// encoding is a local reading of the document, not stored in it.
pub fn new_doc() -> AutoCommit {
    AutoCommit::new_with_encoding(TextEncoding::Utf8CodeUnit)
}

/// Runs automerge on bytes from outside (a peer's sync message, a stored chunk): automerge
/// 0.12 panics on some malformed input (a truncated column in a change bundle, found by the
/// `document` fuzz target and kept in fuzz/regressions), and a panic must not stop a relay or
/// an app. It becomes an error naming it; the document `work` touched must then be thrown
/// away (reloaded from what is stored), since a panic may have left it half-changed.
pub fn guarded<T>(
    work: impl FnOnce() -> std::result::Result<T, automerge::AutomergeError>,
) -> std::result::Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "malformed automerge data ({})",
            panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("automerge panicked")
        )),
    }
}

/// Loads bytes from outside into a new document (see [`guarded`]).
pub fn load(bytes: &[u8]) -> Result<AutoCommit> {
    guarded(|| {
        let mut doc = new_doc();
        doc.load_incremental(bytes)?;
        Ok(doc)
    })
    .map_err(|reason| Error::Invalid {
        what: "document data",
        reason,
    })
}

/// Reads a typed value out of a whole document, also when another client wrote it with
/// JavaScript's default types (see [`lenient`]).
pub fn hydrate<T: Hydrate>(doc: &AutoCommit, doc_id: &str, kind: DocKind) -> Result<T> {
    autosurgeon::hydrate(&lenient::Lenient(doc)).map_err(|e| Error::Schema {
        doc: doc_id.to_owned(),
        kind: kind.as_str(),
        reason: e.to_string(),
    })
}

/// Writes a typed value over a whole document, changing only what differs.
pub fn reconcile<T: Reconcile>(
    doc: &mut AutoCommit,
    value: &T,
    doc_id: &str,
    kind: DocKind,
) -> Result<()> {
    autosurgeon::reconcile(doc, value).map_err(|e| Error::Schema {
        doc: doc_id.to_owned(),
        kind: kind.as_str(),
        reason: e.to_string(),
    })
}

/// A trimmed, non-empty text, or an error naming the field.
pub(crate) fn non_empty(what: &'static str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::Invalid {
            what,
            reason: "it is empty".into(),
        });
    }
    Ok(value.to_owned())
}
