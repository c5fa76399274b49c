//! The roster: one per group, written by the relay alone, read by every member. It says who is
//! in the group with which role, so a device knows its group's members while offline.

use std::collections::BTreeMap;

use automerge::{AutoCommit, ReadDoc};
use autosurgeon::{Hydrate, Reconcile};

use crate::error::{Error, Result};
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

    /// Writes one device's entry of this roster over `doc` (after a join or a removal),
    /// returning the change (`None` if nothing changed). Its work is that entry's, where
    /// [`Roster::write`] reads every member of a large group; a document that has no members
    /// map yet, or a device this roster lacks, gets the whole roster.
    pub fn write_member(
        &self,
        doc: &mut AutoCommit,
        doc_id: &str,
        device: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>> {
        match self.members.get(device) {
            Some(member) if Self::has_members(doc) => {
                Self::write_entry(doc, doc_id, device, member, now_ms)
            }
            _ => self.write(doc, doc_id, now_ms),
        }
    }

    /// Whether `doc` is a roster written before (it has its members map), so that one entry
    /// may be written alone ([`Roster::write_entry`]).
    pub fn has_members(doc: &AutoCommit) -> bool {
        matches!(
            doc.get(automerge::ROOT, "members"),
            Ok(Some((automerge::Value::Object(automerge::ObjType::Map), _)))
        )
    }

    /// Writes `device`'s entry alone over `doc`, a roster written before (see
    /// [`Roster::has_members`]; one without its members map is refused as off-schema),
    /// returning the change (`None` if nothing changed). Needs neither the rest of the roster
    /// nor a read of it: a join to a group of 500 costs what a join to a group of 5 does.
    pub fn write_entry(
        doc: &mut AutoCommit,
        doc_id: &str,
        device: &str,
        member: &RosterMember,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>> {
        let schema_error = |reason: String| Error::Schema {
            doc: doc_id.to_owned(),
            kind: DocKind::Roster.as_str(),
            reason,
        };
        let members = match doc.get(automerge::ROOT, "members")? {
            Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
            _ => return Err(schema_error("no members map to write an entry in".into())),
        };
        autosurgeon::reconcile_prop(doc, &members, device, member)
            .map_err(|e| schema_error(e.to_string()))?;
        Self::commit(doc, now_ms)
    }

    /// Writes this roster over `doc`, returning the change (`None` if nothing changed).
    pub fn write(
        &self,
        doc: &mut AutoCommit,
        doc_id: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>> {
        schema::reconcile(doc, self, doc_id, DocKind::Roster)?;
        Self::commit(doc, now_ms)
    }

    fn commit(doc: &mut AutoCommit, now_ms: i64) -> Result<Option<Vec<u8>>> {
        let options = automerge::transaction::CommitOptions::default().with_time(now_ms / 1000);
        let Some(hash) = doc.commit_with(options) else {
            return Ok(None);
        };
        Ok(doc
            .get_change_by_hash(&hash)
            .map(|mut c| c.bytes().into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, joined_at: i64) -> RosterMember {
        RosterMember {
            name: name.into(),
            role: Role::Member,
            joined_at,
            removed_at: None,
        }
    }

    /// One member's entry written alone reads back as the whole roster written whole, for a
    /// join and for a removal, and a document with no roster yet gets all of it.
    #[test]
    fn a_members_entry_written_alone_matches_the_whole_roster() -> Result<()> {
        let mut roster = Roster::new("g");
        roster.members.insert("lead".into(), member("Lead", 1));
        let mut doc = schema::new_doc();
        assert!(roster.write_member(&mut doc, "r", "lead", 1_000)?.is_some());
        assert_eq!(Roster::read(&doc, "r")?, roster);
        for i in 0..20 {
            let device = format!("d{i}");
            roster
                .members
                .insert(device.clone(), member(&format!("M{i}"), i));
            let change = roster.write_member(&mut doc, "r", &device, 2_000)?;
            assert!(change.is_some(), "a join writes a change");
            assert_eq!(Roster::read(&doc, "r")?, roster);
        }
        if let Some(m) = roster.members.get_mut("d3") {
            m.removed_at = Some(9);
        }
        roster.write_member(&mut doc, "r", "d3", 3_000)?;
        assert_eq!(Roster::read(&doc, "r")?, roster);
        assert_eq!(
            roster.write_member(&mut doc, "r", "d3", 4_000)?,
            None,
            "nothing changed, no change"
        );
        Ok(())
    }
}
