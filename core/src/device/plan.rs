//! The plan's side of the device: groups, targets, meetings, agendas and notes, action items
//! and rule responses; each edit one transaction holding the change and its index rows.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use crate::compaction::COMPACT_AFTER_CHUNKS;
use crate::error::{Error, Result};
use crate::identity::Role;
use crate::ids::{DocumentId, new_entity_id};
use crate::schema::plan::{Meeting, NewAction, NewMeeting, NewResponse, NewTarget, Plan};
use crate::schema::vocab::{MeetingStatus, Visibility};
use crate::schema::{self, DocKind};
use crate::store::index::{self, ActionRow, Entity, MeetingRow, ScorecardRow, TargetRow};
use crate::store::{self, DocRecord};
use crate::time::now_ms;

use super::{Device, GroupSummary, Loaded, catch_up, commit_change};

impl Device {
    /// Creates a group with this device as its lead, and its plan.
    pub fn create_group(&mut self, name: &str, jurisdiction: Option<String>) -> Result<String> {
        let lead = self.info.name.clone();
        self.create_group_as(name, jurisdiction, &lead)
    }

    /// [`Device::create_group`], the lead named `lead` in the group's roster (as a join names
    /// the joiner), not by this device's own name: the web app's device has no name of its
    /// own, its person gives theirs per group.
    pub fn create_group_as(
        &mut self,
        name: &str,
        jurisdiction: Option<String>,
        lead: &str,
    ) -> Result<String> {
        // A group is named by its plan's document id: knowing the group is knowing where its
        // plan is, for this device and for the relay.
        let plan_doc = DocumentId::random()?;
        let group_id = plan_doc.to_string();
        let now = now_ms();
        let mut plan = Plan::new(&group_id, name, jurisdiction, &self.info.device_id, now)?;
        plan.profile.created_by_name = Some(lead.to_owned());
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &plan, &plan_doc.to_string(), DocKind::Plan)?;
        let change = commit_change(&mut doc, now).ok_or_else(|| Error::Invalid {
            what: "group",
            reason: "the new plan is empty".into(),
        })?;
        let tx = self.store.begin()?;
        tx.execute(
            "INSERT INTO groups (group_id, plan_doc, name, jurisdiction, role, joined_at)
             VALUES (?1, ?2, ?3, ?4, 'lead', ?5)",
            params![
                group_id,
                plan_doc.to_string(),
                plan.profile.name,
                plan.profile.jurisdiction,
                now
            ],
        )?;
        let record = DocRecord {
            doc_id: plan_doc,
            group_id: Some(group_id.clone()),
            kind: DocKind::Plan,
        };
        store::insert_document(&tx, &record, None, None)?;
        let seq = store::append_chunk(&tx, &plan_doc, &change)?;
        index::replace_plan(&tx, &plan)?;
        tx.commit()?;
        self.docs.insert(
            plan_doc,
            Loaded {
                doc,
                seq,
                chunks: 1,
            },
        );
        Ok(group_id)
    }

    /// The groups on this device.
    pub fn groups(&self) -> Result<Vec<GroupSummary>> {
        let mut stmt = self.store.conn().prepare_cached(
            "SELECT group_id, name, jurisdiction, role, plan_doc, shares FROM groups ORDER BY name, group_id",
        )?;
        let rows = stmt.query_map([], group_row)?;
        index::readable(rows, "group")
    }

    /// One group.
    pub fn group(&self, group_id: &str) -> Result<GroupSummary> {
        self.store
            .conn()
            .prepare_cached(
                "SELECT group_id, name, jurisdiction, role, plan_doc, shares FROM groups WHERE group_id = ?1",
            )?
            .query_row([group_id], group_row)
            .optional()?
            .ok_or_else(|| Error::NotFound {
                kind: "group",
                id: group_id.to_owned(),
            })
    }

    /// Adds a target (an official) to a group's plan.
    pub fn add_target(&mut self, group_id: &str, new: NewTarget) -> Result<String> {
        let id = new_entity_id()?;
        self.edit_plan(group_id, |plan, _| plan.add_target(&id, new).map(|_| ()))?;
        Ok(id)
    }

    /// A group's targets.
    pub fn targets(&self, group_id: &str) -> Result<Vec<TargetRow>> {
        self.group(group_id)?;
        index::targets(self.store.conn(), group_id)
    }

    /// Creates a meeting in a group's plan, in its official's county's time zone, else the
    /// group's.
    pub fn create_meeting(&mut self, group_id: &str, new: NewMeeting) -> Result<String> {
        self.create_meeting_in(group_id, new, None)
    }

    /// Creates a meeting whose time is typed as the people meeting mean it: `at`
    /// (`2026-12-15T18:30`, or with an offset) is read in the zone the meeting will have:
    /// `zone` if given, else its official's county's, else the group's. `new.at` is used when
    /// `at` is `None`.
    pub fn create_meeting_local(
        &mut self,
        group_id: &str,
        new: NewMeeting,
        at: Option<&str>,
        zone: Option<&str>,
    ) -> Result<String> {
        let zone = self
            .plan(group_id)?
            .new_meeting_zone(new.target.as_deref(), zone)?;
        let at = at
            .map(|at| crate::time::parse_local(at, zone.as_deref()))
            .transpose()?;
        let new = NewMeeting {
            at: at.or(new.at),
            ..new
        };
        self.create_meeting_in(group_id, new, zone.as_deref())
    }

    /// Creates a meeting in a group's plan in `zone` (an IANA name; `None`: as
    /// [`Device::create_meeting`]). See [`Plan::create_meeting_in`].
    pub fn create_meeting_in(
        &mut self,
        group_id: &str,
        new: NewMeeting,
        zone: Option<&str>,
    ) -> Result<String> {
        let id = new_entity_id()?;
        self.edit_plan(group_id, |plan, now| {
            plan.create_meeting_in(&id, new, zone, now).map(|_| ())
        })?;
        Ok(id)
    }

    /// Sets when a meeting is and in which zone, as a person types them
    /// ([`Plan::set_meeting_time`]); returns the meeting.
    pub fn set_meeting_time(
        &mut self,
        meeting_id: &str,
        at: Option<&str>,
        zone: Option<&str>,
    ) -> Result<Meeting> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.edit_plan(&group_id, |plan, _| {
            plan.set_meeting_time(meeting_id, at, zone).cloned()
        })
    }

    /// Sets a group's time zone, for its meetings with no county (leads only); `None`: its
    /// jurisdiction's.
    pub fn set_group_zone(&mut self, group_id: &str, zone: Option<&str>) -> Result<()> {
        self.lead_only(group_id, "set the group's time zone")?;
        self.edit_plan(group_id, |plan, _| plan.set_group_zone(zone))
    }

    /// Appends an item to a meeting's agenda; returns the item's id.
    pub fn add_agenda_item(&mut self, meeting_id: &str, text: &str) -> Result<String> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        let item = new_entity_id()?;
        self.edit_plan(&group_id, |plan, _| {
            plan.add_agenda_item(meeting_id, &item, text)
        })?;
        Ok(item)
    }

    /// Appends a paragraph to a meeting's shared notes.
    pub fn append_notes(&mut self, meeting_id: &str, text: &str) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.edit_plan(&group_id, |plan, _| plan.append_notes(meeting_id, text))
    }

    /// Moves a meeting to a new status.
    pub fn set_meeting_status(&mut self, meeting_id: &str, status: MeetingStatus) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.edit_plan(&group_id, |plan, _| {
            plan.set_meeting_status(meeting_id, status)
        })
    }

    /// Turns the group's sharing with the campaign on or off (leads only).
    pub fn set_group_sharing(&mut self, group_id: &str, on: bool) -> Result<()> {
        self.lead_only(group_id, "turn the group's sharing on or off")?;
        self.edit_plan(group_id, |plan, _| {
            plan.set_sharing(on);
            Ok(())
        })
    }

    /// Sets who beyond the group may see a meeting (leads only).
    pub fn set_meeting_visibility(
        &mut self,
        meeting_id: &str,
        visibility: Visibility,
    ) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.lead_only(&group_id, "choose who sees a meeting")?;
        self.edit_plan(&group_id, |plan, _| {
            plan.set_meeting_visibility(meeting_id, visibility)
        })
    }

    /// Sets how many months of contacts a group keeps (leads only): see
    /// [`Device::set_retention`], which exports and erases too.
    pub(super) fn set_group_retention(
        &mut self,
        group_id: &str,
        months: Option<u64>,
    ) -> Result<()> {
        self.lead_only(group_id, "choose how long the group keeps contacts")?;
        self.edit_plan(group_id, |plan, _| plan.set_retention(months))
    }

    /// Shows a meeting to the group's canvassers, or stops (leads only).
    pub fn set_meeting_canvassers(&mut self, meeting_id: &str, shown: bool) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.lead_only(&group_id, "choose what canvassers see")?;
        self.edit_plan(&group_id, |plan, _| {
            plan.set_meeting_canvassers(meeting_id, shown)
        })
    }

    /// Marks a meeting as the same as another group's on the county's board (leads only):
    /// the office combined the requests. `None` makes it the group's own again.
    pub fn join_board_meeting(
        &mut self,
        meeting_id: &str,
        board_meeting: Option<&str>,
    ) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.lead_only(&group_id, "mark a meeting as the same as one on the board")?;
        self.edit_plan(&group_id, |plan, _| {
            plan.join_board_meeting(meeting_id, board_meeting)
        })
    }

    pub(super) fn lead_only(&self, group_id: &str, what: &str) -> Result<()> {
        let group = self.group(group_id)?;
        if group.role != Role::Lead {
            return Err(Error::NotAllowed {
                reason: format!(
                    "only a lead can {what}; this device is a {} in group {group_id}",
                    group.role
                ),
            });
        }
        Ok(())
    }

    /// A meeting in full (agenda, roles, notes), read from the plan document, its `zone`
    /// filled in when it has none of its own (a meeting from before zones:
    /// [`Plan::meeting_zone`]).
    pub fn meeting(&mut self, meeting_id: &str) -> Result<Meeting> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        let plan = self.plan(&group_id)?;
        let mut meeting = plan.meeting(meeting_id)?.clone();
        meeting.zone = plan.meeting_zone(&meeting);
        Ok(meeting)
    }

    /// A group's meetings.
    pub fn meetings(&self, group_id: &str) -> Result<Vec<MeetingRow>> {
        self.group(group_id)?;
        index::meetings(self.store.conn(), group_id)
    }

    /// Adds an action item.
    pub fn add_action(&mut self, group_id: &str, new: NewAction) -> Result<String> {
        let id = new_entity_id()?;
        self.edit_plan(group_id, |plan, now| {
            plan.add_action(&id, new, now).map(|_| ())
        })?;
        Ok(id)
    }

    /// Marks an action item done or not done.
    pub fn set_action_done(&mut self, action_id: &str, done: bool) -> Result<()> {
        let group_id = self.group_of(Entity::Action, action_id)?;
        self.edit_plan(&group_id, |plan, _| plan.set_action_done(action_id, done))
    }

    /// A group's action items.
    pub fn actions(&self, group_id: &str) -> Result<Vec<ActionRow>> {
        self.group(group_id)?;
        index::actions(self.store.conn(), group_id)
    }

    /// Records what a target answered for a rule.
    pub fn record_response(&mut self, group_id: &str, new: NewResponse) -> Result<()> {
        let me = self.info.device_id.clone();
        self.edit_plan(group_id, |plan, now| {
            plan.record_response(new, &me, now).map(|_| ())
        })
    }

    /// The scorecard: one row per target and rule. A canvasser's device holds no answers (its
    /// group's brief, not the plan): it is told so, rather than shown every rule as unknown.
    pub fn scorecard(&self, group_id: &str, target: Option<&str>) -> Result<Vec<ScorecardRow>> {
        let group = self.group(group_id)?;
        if group.role == Role::Canvasser {
            return Err(Error::NotHeld {
                what: "the officials' answers",
                reason: format!(
                    "this device is a canvasser in {}, and a canvasser's device holds the \
                     group's brief (its officials and the meetings shown to canvassers), not \
                     its plan, where the answers are; a lead or member can show the scorecard",
                    if group.name.is_empty() {
                        group_id
                    } else {
                        &group.name
                    }
                ),
            });
        }
        if let Some(target) = target {
            let known = index::targets(self.store.conn(), group_id)?
                .iter()
                .any(|t| t.target_id == target);
            if !known {
                return Err(Error::NotFound {
                    kind: "target",
                    id: target.to_owned(),
                });
            }
        }
        index::scorecard(self.store.conn(), group_id, target)
    }

    /// The whole plan of a group, read from its document.
    pub fn plan(&mut self, group_id: &str) -> Result<Plan> {
        let group = self.group(group_id)?;
        if group.role == Role::Canvasser {
            return self.plan_from_brief(group_id);
        }
        let doc_id: DocumentId = group.plan_doc.parse()?;
        let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &doc_id)?;
        schema::hydrate(&loaded.doc, &group.plan_doc, DocKind::Plan)
    }

    /// A canvasser's view of its group's plan, from the brief the relay writes for canvassers:
    /// the group's name, its officials and the meetings shown to canvassers (no agendas,
    /// notes, action items or answers: its phone holds none).
    fn plan_from_brief(&mut self, group_id: &str) -> Result<Plan> {
        use crate::schema::brief::Brief;
        use crate::schema::plan::Meeting;
        let record = self
            .documents()?
            .into_iter()
            .find(|d| d.group_id.as_deref() == Some(group_id) && d.kind == DocKind::Brief)
            .ok_or_else(|| Error::NotFound {
                kind: "canvassers' brief (sync first)",
                id: group_id.to_owned(),
            })?;
        let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &record.doc_id)?;
        let brief = Brief::read(&loaded.doc, &record.doc_id.to_string())?;
        let mut plan = Plan::new(group_id, &brief.name, brief.jurisdiction, "", 0)?;
        plan.targets = brief.targets;
        for (id, m) in brief.meetings {
            let meeting = Meeting {
                id: m.id,
                kind: m.kind,
                title: m.title,
                target: m.target,
                at: m.at,
                zone: m.zone,
                location: m.location,
                host: None,
                roles: Default::default(),
                agenda: Vec::new(),
                attendees: Vec::new(),
                status: m.status,
                visibility: Default::default(),
                canvassers: true,
                joins: None,
                notes: Default::default(),
                created_at: 0,
            };
            plan.meetings.insert(id, meeting);
        }
        Ok(plan)
    }

    /// The group a meeting belongs to.
    pub fn group_of_meeting(&self, meeting_id: &str) -> Result<String> {
        self.group_of(Entity::Meeting, meeting_id)
    }

    /// The group an action item belongs to.
    pub fn group_of_action(&self, action_id: &str) -> Result<String> {
        self.group_of(Entity::Action, action_id)
    }

    fn group_of(&self, entity: Entity, id: &str) -> Result<String> {
        index::group_of(self.store.conn(), entity, id)?.ok_or_else(|| Error::NotFound {
            kind: match entity {
                Entity::Meeting => "meeting",
                Entity::Action => "action item",
            },
            id: id.to_owned(),
        })
    }

    /// Runs one plan edit as one transaction: read the plan, let `edit` change the typed value
    /// (it may refuse: then nothing is written), write the difference as one change, rewrite the
    /// plan's index rows, commit.
    fn edit_plan<R>(
        &mut self,
        group_id: &str,
        edit: impl FnOnce(&mut Plan, i64) -> Result<R>,
    ) -> Result<R> {
        let group = self.group(group_id)?;
        let role = group.role;
        if !role.edits_plan() {
            return Err(Error::NotAllowed {
                reason: format!(
                    "this device is a {role} in group {group_id}; only leads and members edit the plan"
                ),
            });
        }
        let doc_id: DocumentId = group.plan_doc.parse()?;
        let now = now_ms();
        let tx = self.store.begin()?;
        let result = edit_plan_in(tx, &mut self.docs, &doc_id, now, edit);
        match result {
            Ok((out, chunks)) => {
                if chunks >= COMPACT_AFTER_CHUNKS {
                    self.request_compaction(&doc_id);
                }
                Ok(out)
            }
            Err(e) => {
                self.docs.remove(&doc_id);
                Err(e)
            }
        }
    }
}

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupSummary> {
    Ok(GroupSummary {
        group_id: r.get(0)?,
        name: r.get(1)?,
        jurisdiction: r.get(2)?,
        role: r.get(3)?,
        plan_doc: r.get(4)?,
        shares: r.get(5)?,
    })
}

fn edit_plan_in<R>(
    tx: Transaction<'_>,
    docs: &mut HashMap<DocumentId, Loaded>,
    doc_id: &DocumentId,
    now: i64,
    edit: impl FnOnce(&mut Plan, i64) -> Result<R>,
) -> Result<(R, i64)> {
    let id = doc_id.to_string();
    let (loaded, _) = catch_up(&tx, docs, doc_id)?;
    let mut plan: Plan = schema::hydrate(&loaded.doc, &id, DocKind::Plan)?;
    let out = edit(&mut plan, now)?;
    schema::reconcile(&mut loaded.doc, &plan, &id, DocKind::Plan)?;
    if let Some(change) = commit_change(&mut loaded.doc, now) {
        let seq = store::append_own_chunk(&tx, doc_id, "group's plan", &change)?;
        index::replace_plan(&tx, &plan)?;
        tx.commit()?;
        loaded.seq = seq;
        loaded.chunks += 1;
    }
    Ok((out, loaded.chunks))
}
