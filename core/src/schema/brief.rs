//! The canvassers' brief: one per group, written by the relay alone from the group's plan and
//! its tables, and the only group document a canvasser's device receives besides its own
//! contacts. It holds what a canvasser needs at the door and no more: the group's name, its
//! leads' names, the officials it asks, and the meetings the group shows its canvassers (their
//! title, time, place and status; never agendas, notes, roles or who attends). A seized
//! canvasser's phone so holds neither the membership list nor the group's plans.
//!
//! The relay writes every new brief as a fresh document with a single change, and drops the
//! one before: a meeting hidden again or a lead removed is gone from the phone, not kept in the
//! document's history.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use crate::error::Result;
use crate::identity::Role;
use crate::schema::plan::{Plan, Target};
use crate::schema::vocab::{MeetingKind, MeetingStatus, Visibility};
use crate::schema::{self, DocKind, SCHEMA_VERSION};

/// A group's brief for its canvassers.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct Brief {
    /// The schema version that wrote this document.
    pub schema: u64,
    /// Marks the document as a brief: the group's id.
    pub brief_of: String,
    /// The group's name.
    pub name: String,
    /// Where it works.
    #[autosurgeon(missing = "Default::default")]
    pub jurisdiction: Option<String>,
    /// The group's leads, by device id: their names.
    pub leads: BTreeMap<String, String>,
    /// The officials the group asks, by id.
    pub targets: BTreeMap<String, Target>,
    /// The meetings shown to canvassers, by id.
    pub meetings: BTreeMap<String, BriefMeeting>,
    /// The group's retention (months of contacts kept): a canvasser's phone erases its own
    /// older contacts by it.
    #[autosurgeon(hydrate = "crate::schema::lenient::opt_uint_or_int")]
    pub retention_months: Option<u64>,
}

/// A meeting as a canvasser sees it.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate)]
pub struct BriefMeeting {
    /// Its id in the plan.
    pub id: String,
    /// Organizing or official.
    pub kind: MeetingKind,
    /// Its title.
    pub title: String,
    /// The official met.
    #[autosurgeon(missing = "Default::default")]
    pub target: Option<String>,
    /// When (Unix ms).
    #[autosurgeon(missing = "Default::default")]
    pub at: Option<i64>,
    /// Its IANA time zone ([`Plan::meeting_zone`]): what its time is shown in.
    #[autosurgeon(missing = "Default::default")]
    pub zone: Option<String>,
    /// Where.
    #[autosurgeon(missing = "Default::default")]
    pub location: Option<String>,
    /// Where it stands.
    pub status: MeetingStatus,
}

impl Brief {
    /// The brief of `plan`'s group, whose leads are `leads` (device id, name, role: only
    /// current leads are named).
    pub fn of<'a>(
        plan: &Plan,
        members: impl IntoIterator<Item = (&'a str, &'a str, Role)>,
    ) -> Self {
        let meetings = plan
            .meetings
            .values()
            .filter(|m| m.canvassers || m.visibility != Visibility::Private)
            .map(|m| {
                (
                    m.id.clone(),
                    BriefMeeting {
                        id: m.id.clone(),
                        kind: m.kind,
                        title: m.title.clone(),
                        target: m.target.clone(),
                        at: m.at,
                        zone: plan.meeting_zone(m),
                        location: m.location.clone(),
                        status: m.status,
                    },
                )
            })
            .collect();
        Brief {
            schema: SCHEMA_VERSION,
            brief_of: plan.group_id.clone(),
            name: plan.profile.name.clone(),
            jurisdiction: plan.profile.jurisdiction.clone(),
            leads: members
                .into_iter()
                .filter(|(_, _, role)| *role == Role::Lead)
                .map(|(device, name, _)| (device.to_owned(), name.to_owned()))
                .collect(),
            targets: plan.targets.clone(),
            meetings,
            retention_months: plan.profile.retention_months,
        }
    }

    /// Reads a brief document.
    pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Self> {
        schema::hydrate(doc, doc_id, DocKind::Brief)
    }

    /// A new document holding this brief: its one change.
    pub fn write_new(&self, doc_id: &str, now_ms: i64) -> Result<Vec<u8>> {
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, self, doc_id, DocKind::Brief)?;
        let options = automerge::transaction::CommitOptions::default().with_time(now_ms / 1000);
        let hash = doc.commit_with(options);
        Ok(hash
            .and_then(|h| {
                doc.get_change_by_hash(&h)
                    .map(|mut c| c.bytes().into_owned())
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::plan::NewMeeting;

    #[test]
    fn a_brief_holds_what_canvassers_need_and_no_more() -> Result<()> {
        let mut plan = Plan::new("g", "Riverside", Some("Riverside County".into()), "lead", 1)?;
        for (id, title) in [
            ("m1", "Canvass kickoff"),
            ("m2", "Members only"),
            ("m3", "Ask"),
        ] {
            plan.create_meeting(
                id,
                NewMeeting {
                    kind: MeetingKind::Organizing,
                    title: title.into(),
                    target: None,
                    at: Some(5),
                    location: Some("Library".into()),
                },
                1,
            )?;
        }
        plan.append_notes("m1", "Secret-note")?;
        plan.add_agenda_item("m1", "a1", "Secret-agenda")?;
        plan.set_meeting_canvassers("m1", true)?;
        plan.set_meeting_visibility("m3", Visibility::Shared)?;
        let brief = Brief::of(
            &plan,
            [
                ("lead", "Ana", Role::Lead),
                ("member", "Secret-member", Role::Member),
                ("canvasser", "Secret-canvasser", Role::Canvasser),
            ],
        );
        assert_eq!(brief.name, "Riverside");
        assert_eq!(brief.leads.values().collect::<Vec<_>>(), ["Ana"]);
        assert_eq!(brief.meetings.keys().collect::<Vec<_>>(), ["m1", "m3"]);
        let bytes = brief.write_new("b", 1)?;
        let mut doc = schema::new_doc();
        doc.load_incremental(&bytes)?;
        assert_eq!(Brief::read(&doc, "b")?, brief);
        let all = format!("{brief:?}");
        for secret in [
            "Secret-note",
            "Secret-agenda",
            "Secret-member",
            "Secret-canvasser",
        ] {
            assert!(!all.contains(secret), "{secret} in the brief");
        }
        Ok(())
    }
}
