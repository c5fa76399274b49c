//! The documents the relay derives from what groups write, in the batch that changed them: the
//! campaign index (a sharing group's plan and counts, never a person), each county's board of
//! the groups asking its officials, and each group's canvassers' brief.

use std::collections::{BTreeMap, BTreeSet};

use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use groundwork_core::sync::hub::{ConnId, Hub};

use crate::access::{AccessChange, RelayAccess};
use crate::store::{RelayStore, StoreError, Write};

use super::residency::hold_groups;

/// The groups whose canvassers' brief may have changed (their plan or members did), to write
/// on this turn.
#[derive(Debug, Default)]
pub(super) struct Briefs {
    due: BTreeSet<String>,
}

impl Briefs {
    /// `group`'s brief is to be checked on this turn.
    pub(super) fn due(&mut self, group: &str) {
        self.due.insert(group.to_owned());
    }

    /// Every one of `groups` is due (at startup: briefs of groups from before briefs).
    pub(super) fn all_due(&mut self, groups: impl IntoIterator<Item = String>) {
        self.due.extend(groups);
    }

    /// The groups due a brief (kept in memory until it is written).
    pub(super) fn pending(&self) -> &BTreeSet<String> {
        &self.due
    }

    /// Writes the canvassers' brief of every group due one whose brief no longer says
    /// what its plan and members do: always as a fresh document, the old one dropped and
    /// withdrawn, so a canvasser's phone never holds what was taken out of it. Returns the
    /// offers of the new briefs to the canvassers connected, and whether a group's retention
    /// changed (its plan says it).
    pub(super) fn write(
        &mut self,
        hub: &mut Hub<RelayAccess>,
        store: &RelayStore,
    ) -> Result<(Vec<(ConnId, DocumentId)>, bool), StoreError> {
        use groundwork_core::schema::brief::Brief;
        use groundwork_core::schema::plan::Plan;
        let now = hub.policy().now();
        let mut writes = Vec::new();
        let mut offers = Vec::new();
        let mut retention_changed = false;
        for group in std::mem::take(&mut self.due) {
            let Ok(plan_doc) = group.parse::<DocumentId>() else {
                continue;
            };
            hold_groups(hub.policy_mut(), store, std::slice::from_ref(&group))?;
            let Some(am) = current(hub, store, &plan_doc, &[])? else {
                continue;
            };
            // A plan the relay cannot read briefs no one until it can (fail closed); the
            // reason stays out of the log, as it may quote what the group wrote.
            let Ok(plan) = groundwork_core::schema::hydrate::<Plan>(&am, &group, DocKind::Plan)
            else {
                tracing::warn!(doc = %plan_doc, "a plan the relay cannot read: its canvassers' brief waits");
                continue;
            };
            if hub
                .policy_mut()
                .set_retention(&group, plan.profile.retention_months)
            {
                retention_changed = true;
            }
            let brief = Brief::of(&plan, hub.policy().members_of(&group));
            let old = hub
                .policy()
                .group_docs(&group, DocKind::Brief)
                .into_iter()
                .next();
            if let Some(old) = old {
                let same = current(hub, store, &old, &[])?
                    .and_then(|doc| Brief::read(&doc, &old.to_string()).ok())
                    .is_some_and(|b| b == brief);
                if same {
                    continue;
                }
            }
            let Ok(id) = DocumentId::random() else {
                continue;
            };
            let change = match brief.write_new(&id.to_string(), now) {
                Ok(change) => change,
                Err(e) => {
                    tracing::error!(error = %e, "writing a brief failed");
                    continue;
                }
            };
            writes.push(Write::Access(AccessChange::Document {
                doc: id,
                group: group.clone(),
                kind: DocKind::Brief,
                owner: None,
            }));
            writes.push(Write::Chunk(id, change));
            if let Some(old) = old {
                writes.push(Write::Access(AccessChange::Dropped { doc: old }));
                hub.withdraw(&old);
            }
            hub.policy_mut().set_brief(&group, id, old);
            for conn in hub.policy().readers(&id) {
                offers.push((conn, id));
            }
        }
        if !writes.is_empty() {
            store.commit(&writes)?;
        }
        Ok((offers, retention_changed))
    }
}

/// Whether `changes` to `doc` are a plan's and wrote only its meetings' notes (see
/// [`groundwork_core::campaign::only_meeting_notes`]).
pub(super) fn notes_only(
    hub: &Hub<RelayAccess>,
    doc: &DocumentId,
    changes: &[automerge::Change],
) -> bool {
    matches!(
        hub.policy().doc_kind(doc),
        Some((_, groundwork_core::schema::DocKind::Plan))
    ) && hub
        .doc(doc)
        .is_some_and(|am| groundwork_core::campaign::only_meeting_notes(am, changes))
}

/// What the campaign index must write for the documents this batch changed: a plan's
/// group's shared rows (replaced, or deleted when it stopped sharing) and the contacts a
/// change logged, for groups that share. A group that starts sharing has every contacts
/// document counted.
pub(super) fn campaign_writes(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    changed: &[(DocumentId, Vec<automerge::Change>)],
    pending: &[Write],
) -> Result<(Vec<Write>, BTreeSet<String>), StoreError> {
    use groundwork_core::campaign::{Shared, touched_contacts};
    let now = hub.policy().now();
    let mut out = Vec::new();
    // Counties whose boards this batch changes: where a group's officials were or are.
    let mut counties = BTreeSet::new();
    // Groups whose sharing this batch decided, and whether they were counted whole.
    let mut sharing: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for (doc, _) in changed {
        let Some((group, DocKind::Plan)) = hub.policy().doc_kind(doc) else {
            continue;
        };
        let group = group.to_owned();
        if sharing.contains_key(&group) {
            continue;
        }
        let am = current(hub, store, doc, pending)?;
        // A plan the index cannot read shares nothing until it can (fail closed). The
        // reason stays out of the log: it may quote what the group wrote.
        let shared = match am.as_deref().map(|am| Shared::of_doc(am, &group)) {
            Some(Ok(shared)) => shared,
            _ => {
                tracing::warn!(doc = %doc, "a plan the campaign index cannot read: it shares nothing until it can");
                None
            }
        };
        let was = store.campaign(|c| crate::campaign::shares(c, &group))?;
        let counted = shared.is_some() && !was;
        if counted {
            for contacts in hub.policy().group_docs(&group, DocKind::Contacts) {
                out.extend(canvass_all(hub, store, &contacts, &group)?);
            }
        }
        sharing.insert(group.clone(), (shared.is_some(), counted));
        let before = store.campaign(|c| crate::campaign::counties_of(c, &group))?;
        let after: BTreeSet<String> = shared
            .iter()
            .flat_map(|s| s.officials.iter().map(|o| o.county.clone()))
            .collect();
        counties.extend(before);
        counties.extend(after.iter().cloned());
        hub.policy_mut().set_group_counties(&group, after);
        out.push(Write::Campaign {
            group,
            shared: shared.map(Box::new),
            at: now,
        });
    }
    for (doc, changes) in changed {
        let Some((group, DocKind::Contacts)) = hub.policy().doc_kind(doc) else {
            continue;
        };
        let group = group.to_owned();
        let shares = match sharing.get(&group) {
            Some((_, true)) => continue,
            Some((shares, false)) => *shares,
            None => store.campaign(|c| crate::campaign::shares(c, &group))?,
        };
        if !shares {
            continue;
        }
        let Some(am) = current(hub, store, doc, pending)? else {
            continue;
        };
        let contacts = touched_contacts(&am, changes);
        if contacts.is_empty() {
            continue;
        }
        out.push(Write::Canvass {
            doc: *doc,
            period: period_of_contacts(&am),
            group,
            contacts,
        });
    }
    Ok((out, counties))
}

/// Rewrites the boards of `counties` from the index: a change to each board that only
/// gained or changed entries, or a fresh document (new id; the old one dropped, chunks and
/// all) for a board a group has left. Returns the changes to boards in memory and the
/// boards to offer to their readers.
#[allow(clippy::type_complexity)]
pub(super) fn write_boards(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    counties: &BTreeSet<String>,
) -> Result<(Vec<(DocumentId, Vec<u8>)>, Vec<(ConnId, DocumentId)>), StoreError> {
    use groundwork_core::schema::board::Board;
    let now = hub.policy().now();
    let mut writes = Vec::new();
    let mut changes = Vec::new();
    let mut offers = Vec::new();
    for county in counties {
        let board = store.campaign(|c| crate::campaign::board(c, county))?;
        let existing = hub.policy().board(county);
        let mut fresh = existing.is_none();
        let mut doc = groundwork_core::schema::new_doc();
        if let Some(id) = existing {
            match current(hub, store, &id, &[])? {
                Some(am) => doc = am.into_owned(),
                None => fresh = true,
            }
            let old = Board::read(&doc, &id.to_string()).ok();
            let left = old.is_none_or(|old| {
                let now = board.groups();
                old.groups().iter().any(|g| !now.contains(g))
            });
            if left {
                fresh = true;
            }
        }
        if fresh {
            if board.officials.is_empty() && existing.is_none() {
                continue;
            }
            let Ok(id) = DocumentId::random() else {
                continue;
            };
            let mut new_doc = groundwork_core::schema::new_doc();
            let change = match board.write(&mut new_doc, &id.to_string(), now) {
                Ok(Some(change)) => change,
                _ => continue,
            };
            writes.push(Write::Access(AccessChange::Document {
                doc: id,
                group: county.clone(),
                kind: DocKind::Board,
                owner: None,
            }));
            writes.push(Write::Chunk(id, change));
            writes.push(Write::Access(AccessChange::Board {
                county: county.clone(),
                doc: id,
                at: now,
            }));
            if let Some(old) = existing {
                writes.push(Write::Access(AccessChange::Dropped { doc: old }));
                hub.withdraw(&old);
            }
            hub.policy_mut().set_board(county, id);
            for conn in hub.policy().readers(&id) {
                offers.push((conn, id));
            }
        } else if let Some(id) = existing {
            match board.write(&mut doc, &id.to_string(), now) {
                Ok(Some(change)) => {
                    writes.push(Write::Chunk(id, change.clone()));
                    changes.push((id, change));
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "writing a board failed"),
            }
            // Readers who joined the county since get it too.
            for conn in hub.policy().readers(&id) {
                if !hub.syncing(conn, &id) {
                    offers.push((conn, id));
                }
            }
        }
    }
    if !writes.is_empty() {
        store.commit(&writes)?;
    }
    Ok((changes, offers))
}

/// Once, on a relay from before contacts' periods were recorded: reads each one's period.
pub(super) fn record_periods(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
) -> Result<(), StoreError> {
    let docs = store.contacts_without_period()?;
    let mut writes = Vec::new();
    for doc in docs {
        if let Some(am) = current(hub, store, &doc, &[])? {
            let period = period_of_contacts(&am);
            if !period.is_empty() {
                hub.policy_mut().set_period(&doc, &period);
                writes.push(Write::Access(AccessChange::Period { doc, period }));
            }
        }
    }
    if !writes.is_empty() {
        tracing::info!(
            documents = writes.len(),
            "recorded the periods of stored contacts"
        );
    }
    store.commit(&writes)
}

/// A document as it is with this batch's changes: the hub's copy, or (when a refusal sent
/// it back to storage) the stored one with the batch's pending chunks applied.
fn current<'a>(
    hub: &'a Hub<RelayAccess>,
    store: &RelayStore,
    doc: &DocumentId,
    pending: &[Write],
) -> Result<Option<std::borrow::Cow<'a, automerge::AutoCommit>>, StoreError> {
    if let Some(am) = hub.doc(doc) {
        return Ok(Some(std::borrow::Cow::Borrowed(am)));
    }
    let mut am = groundwork_core::schema::new_doc();
    let stored = store.load(doc)?;
    let chunks = stored
        .iter()
        .map(Vec::as_slice)
        .chain(pending.iter().filter_map(|w| match w {
            Write::Chunk(d, bytes) if d == doc => Some(bytes.as_slice()),
            _ => None,
        }));
    for bytes in chunks {
        if groundwork_core::schema::guarded(|| am.load_incremental(bytes)).is_err() {
            tracing::warn!(doc = %doc, "a stored document cannot be loaded for the campaign index");
            return Ok(None);
        }
    }
    Ok(Some(std::borrow::Cow::Owned(am)))
}

/// Once, on a relay whose store predates the campaign index: every stored group's plan and
/// contacts go into it (work proportional to everything stored, this one time).
pub(super) fn build_campaign_index(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
) -> Result<(), StoreError> {
    if store.campaign(crate::campaign::built)? {
        return Ok(());
    }
    let groups = store.group_ids()?;
    let mut writes = Vec::new();
    let mut counties = BTreeSet::new();
    for group in &groups {
        let Ok(plan) = group.parse::<DocumentId>() else {
            continue;
        };
        hold_groups(hub.policy_mut(), store, std::slice::from_ref(group))?;
        let changed = [(plan, Vec::new())];
        // As if the whole plan had just arrived: a sharing group is counted whole.
        let (more, touched) = campaign_writes(hub, store, &changed, &[])?;
        writes.extend(more);
        counties.extend(touched);
    }
    writes.push(Write::CampaignBuilt(hub.policy().now()));
    store.commit(&writes)?;
    write_boards(hub, store, &counties)?;
    tracing::info!(
        groups = groups.len(),
        "campaign index built from the stored groups"
    );
    Ok(())
}

/// Every contact of a contacts document, for a group that starts sharing.
fn canvass_all(
    hub: &Hub<RelayAccess>,
    store: &RelayStore,
    doc: &DocumentId,
    group: &str,
) -> Result<Vec<Write>, StoreError> {
    let mut am = match hub.doc(doc) {
        Some(d) => d.clone(),
        None => {
            let mut d = groundwork_core::schema::new_doc();
            // Guarded: malformed stored bytes must not panic the hub thread.
            if let Some(bytes) = store.load(doc)?
                && let Err(e) = groundwork_core::schema::guarded(|| d.load_incremental(&bytes))
            {
                tracing::warn!(doc = %doc, error = %e, "a stored contacts document cannot be loaded");
                return Ok(Vec::new());
            }
            d
        }
    };
    let changes = am.get_changes(&[]);
    let contacts = groundwork_core::campaign::touched_contacts(&am, &changes);
    Ok(vec![Write::Canvass {
        doc: *doc,
        period: period_of_contacts(&am),
        group: group.to_owned(),
        contacts,
    }])
}

/// A contacts document's period (YYYY-MM), read from the document ("" if it has none).
pub(super) fn period_of_contacts(doc: &automerge::AutoCommit) -> String {
    use automerge::ReadDoc;
    match doc.get(automerge::ROOT, "period") {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}
