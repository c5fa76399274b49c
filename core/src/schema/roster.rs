//! The roster: one per group, written by the relay alone, read by every member. It says who is
//! in the group with which role, so a device knows its group's members while offline.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use crate::error::Result;
use crate::identity::Role;
use crate::schema::{self, DocKind, SCHEMA_VERSION};

/// A group's members, as the relay records them.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Roster {
    /// The schema version that wrote this document.
    pub schema: u64,
    /// Marks the document as a roster.
    pub roster_of: String,
    /// Members by device id, removed ones included (with when they were removed).
    pub members: BTreeMap<String, RosterMember>,
}

/// One device in a group.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct RosterMember {
    /// The device's name, as it gave it when joining.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it joined (Unix ms).
    pub joined_at: i64,
    /// When it was removed (Unix ms), if it was.
    #[autosurgeon(missing = "Default::default")]
    pub removed_at: Option<i64>,
}

impl Roster {
    /// An empty roster of `group`.
    pub fn new(group: &str) -> Self {
        Roster {
            schema: SCHEMA_VERSION,
            roster_of: group.to_owned(),
            members: BTreeMap::new(),
        }
    }

    /// Reads a roster document.
    pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Self> {
        schema::hydrate(doc, doc_id, DocKind::Roster)
    }

    /// Writes this roster over `doc`, returning the change (`None` if nothing changed).
    pub fn write(
        &self,
        doc: &mut AutoCommit,
        doc_id: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>> {
        schema::reconcile(doc, self, doc_id, DocKind::Roster)?;
        let options = automerge::transaction::CommitOptions::default().with_time(now_ms / 1000);
        let Some(hash) = doc.commit_with(options) else {
            return Ok(None);
        };
        Ok(doc
            .get_change_by_hash(&hash)
            .map(|mut c| c.bytes().into_owned()))
    }
}
