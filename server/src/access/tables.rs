//! The access tables of the groups held: each group's roster document, members (removed ones
//! until they wipe) and documents, with every document id the store records. Held only for
//! groups in use (see the module above); the rules that read them are `super::decide`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use groundwork_core::identity::Role;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use groundwork_core::schema::roster::{Roster, RosterMember};

/// Every document id the store records, at 16 bytes each (a hash set of them took twice that,
/// which at 100,000 groups was most of an idle relay's memory): a sorted run, searched by
/// bisection, and the ids added since it was last rebuilt.
#[derive(Debug, Default)]
pub(super) struct KnownDocs {
    sorted: Vec<DocumentId>,
    recent: HashSet<DocumentId>,
}

/// How many recent ids wait before the sorted run is rebuilt with them (each rebuild sorts the
/// whole run: a few milliseconds at 300,000 ids, once per this many new documents).
pub(super) const KNOWN_REBUILD_AT: usize = 4096;

impl KnownDocs {
    pub(super) fn contains(&self, doc: &DocumentId) -> bool {
        self.recent.contains(doc) || self.sorted.binary_search(doc).is_ok()
    }

    pub(super) fn insert(&mut self, doc: DocumentId) {
        if !self.contains(&doc) {
            self.recent.insert(doc);
            if self.recent.len() >= KNOWN_REBUILD_AT {
                self.rebuild(Vec::new());
            }
        }
    }

    pub(super) fn extend(&mut self, docs: Vec<DocumentId>) {
        if !docs.is_empty() {
            self.rebuild(docs);
        }
    }

    /// Rare (an erased or replaced document): the run shifts down by one.
    pub(super) fn remove(&mut self, doc: &DocumentId) {
        self.recent.remove(doc);
        if let Ok(i) = self.sorted.binary_search(doc) {
            self.sorted.remove(i);
        }
    }

    /// One sorted run of everything, sized to fit (the old run is freed whole).
    pub(super) fn rebuild(&mut self, more: Vec<DocumentId>) {
        let mut all = Vec::with_capacity(self.sorted.len() + self.recent.len() + more.len());
        all.append(&mut self.sorted);
        all.extend(self.recent.drain());
        all.extend(more);
        all.sort_unstable();
        all.dedup();
        all.shrink_to_fit();
        self.sorted = all;
        self.recent.shrink_to(KNOWN_REBUILD_AT);
    }
}

#[derive(Clone, Debug)]
pub(super) struct DocEntry {
    pub(super) group: String,
    pub(super) kind: Option<DocKind>,
    pub(super) owner: Option<String>,
    /// A contacts document's period (YYYY-MM), once known.
    pub(super) period: Option<String>,
}

#[derive(Clone, Debug)]
pub(super) struct Member {
    pub(super) role: Role,
    pub(super) name: String,
    pub(super) joined_at: i64,
    pub(super) removed_at: Option<i64>,
    pub(super) wiped_at: Option<i64>,
    /// The person the device belongs to: the id of that person's first device.
    pub(super) person: String,
}

#[derive(Clone, Debug)]
pub(super) struct GroupEntry {
    pub(super) roster: DocumentId,
    pub(super) members: BTreeMap<String, Member>,
    pub(super) docs: BTreeSet<DocumentId>,
}

/// The tables of the groups held.
#[derive(Debug, Default)]
pub(super) struct Tables {
    /// Every document the store records (groups' and boards'), held or not.
    pub(super) known: KnownDocs,
    /// The documents of the groups held.
    pub(super) docs: HashMap<DocumentId, DocEntry>,
    /// The groups held: every group of a connected device, and those just used.
    pub(super) groups: HashMap<String, GroupEntry>,
    /// The held groups each device is in (removed ones too, until wiped): for a connected
    /// device, all of its groups.
    pub(super) by_device: HashMap<String, BTreeSet<String>>,
}

impl Tables {
    /// Lets go of every group held that no connected device is in (removed members count: a
    /// removed device is told to wipe as it connects), except those `keep` names (work still
    /// due for them). They are read again from the store when a member connects. Returns how
    /// many were let go.
    pub(super) fn evict_idle(
        &mut self,
        keep: impl Fn(&str) -> bool,
        online: &HashSet<&str>,
    ) -> usize {
        let idle: Vec<String> = self
            .groups
            .iter()
            .filter(|(id, g)| !keep(id) && !g.members.keys().any(|d| online.contains(d.as_str())))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            let Some(g) = self.groups.remove(id) else {
                continue;
            };
            for doc in &g.docs {
                self.docs.remove(doc);
            }
            for device in g.members.keys() {
                if let Some(groups) = self.by_device.get_mut(device) {
                    groups.remove(id);
                    if groups.is_empty() {
                        self.by_device.remove(device);
                    }
                }
            }
        }
        idle.len()
    }

    /// Which of `groups` are not held now (for the caller to read with
    /// [`crate::store::RelayStore::group_rows`] and [`RelayAccess::admit`]).
    pub(super) fn missing(&self, groups: &[String]) -> Vec<String> {
        groups
            .iter()
            .filter(|g| !self.groups.contains_key(*g))
            .cloned()
            .collect()
    }

    /// How many groups are held now.
    pub(super) fn groups_held(&self) -> usize {
        self.groups.len()
    }

    /// Records a contacts document's period.
    pub(super) fn set_period(&mut self, doc: &DocumentId, period: &str) {
        if let Some(entry) = self.docs.get_mut(doc) {
            entry.period = Some(period.to_owned());
        }
    }

    /// Forgets an erased document: it is answered as missing from now on.
    pub(super) fn forget_doc(&mut self, doc: &DocumentId) {
        self.known.remove(doc);
        if let Some(entry) = self.docs.remove(doc)
            && let Some(g) = self.groups.get_mut(&entry.group)
        {
            g.docs.remove(doc);
        }
    }

    /// A group's current members: (device, name, role).
    pub(super) fn members_of(&self, group: &str) -> Vec<(&str, &str, Role)> {
        self.groups.get(group).map_or_else(Vec::new, |g| {
            g.members
                .iter()
                .filter(|(_, m)| m.removed_at.is_none())
                .map(|(d, m)| (d.as_str(), m.name.as_str(), m.role))
                .collect()
        })
    }

    /// A device's role in a group, if it is a member now.
    pub(super) fn role(&self, group: &str, device: &str) -> Option<Role> {
        self.groups
            .get(group)?
            .members
            .get(device)
            .filter(|m| m.removed_at.is_none())
            .map(|m| m.role)
    }

    /// Whether a group exists and is held (the caller reads it from the store first).
    pub(super) fn group_exists(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// Groups a device was removed from and has not yet confirmed wiping.
    pub(super) fn wipes_owed(&self, device: &str) -> Vec<String> {
        self.by_device
            .get(device)
            .into_iter()
            .flatten()
            .filter(|g| {
                self.groups
                    .get(*g)
                    .and_then(|e| e.members.get(device))
                    .is_some_and(|m| m.removed_at.is_some() && m.wiped_at.is_none())
            })
            .cloned()
            .collect()
    }

    /// A document's group and kind, if the relay knows it.
    pub(super) fn doc_kind(&self, doc: &DocumentId) -> Option<(&str, DocKind)> {
        let entry = self.docs.get(doc)?;
        Some((entry.group.as_str(), entry.kind?))
    }

    /// A group's documents of one kind.
    pub(super) fn group_docs(&self, group: &str, kind: DocKind) -> Vec<DocumentId> {
        self.groups.get(group).map_or_else(Vec::new, |g| {
            g.docs
                .iter()
                .filter(|d| self.docs.get(d).and_then(|e| e.kind) == Some(kind))
                .copied()
                .collect()
        })
    }

    /// The group's roster document.
    pub(super) fn roster_doc(&self, group: &str) -> Option<DocumentId> {
        self.groups.get(group).map(|g| g.roster)
    }

    /// The roster as the tables say.
    pub(super) fn roster(&self, group: &str) -> Option<Roster> {
        let g = self.groups.get(group)?;
        let mut roster = Roster::new(group);
        for (device, m) in &g.members {
            roster.members.insert(
                device.clone(),
                RosterMember {
                    name: m.name.clone(),
                    role: m.role,
                    joined_at: m.joined_at,
                    removed_at: m.removed_at,
                },
            );
        }
        Some(roster)
    }

    /// How many devices a held group has on its roster (removed ones included).
    pub(super) fn roster_len(&self, group: &str) -> usize {
        self.groups.get(group).map_or(0, |g| g.members.len())
    }

    /// One device's roster entry as the tables say (removed devices keep theirs).
    pub(super) fn roster_entry(&self, group: &str, device: &str) -> Option<RosterMember> {
        let m = self.groups.get(group)?.members.get(device)?;
        Some(RosterMember {
            name: m.name.clone(),
            role: m.role,
            joined_at: m.joined_at,
            removed_at: m.removed_at,
        })
    }

    /// Whether two devices are the same person's (each a current member of the group).
    pub(super) fn same_person(&self, group: &str, a: &str, b: &str) -> bool {
        let person = |d: &str| {
            self.groups
                .get(group)?
                .members
                .get(d)
                .filter(|m| m.removed_at.is_none())
                .map(|m| m.person.clone())
        };
        person(a).is_some() && person(a) == person(b)
    }

    /// The person a member device belongs to.
    pub(super) fn person(&self, group: &str, device: &str) -> Option<String> {
        self.groups
            .get(group)?
            .members
            .get(device)
            .map(|m| m.person.clone())
    }

    pub(super) fn insert_member(
        &mut self,
        group: &str,
        device: &str,
        role: Role,
        name: &str,
        person: &str,
        at: i64,
    ) {
        // A group not held is read whole from the store when it is next needed.
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        g.members.insert(
            device.to_owned(),
            Member {
                role,
                name: name.to_owned(),
                joined_at: at,
                removed_at: None,
                wiped_at: None,
                person: person.to_owned(),
            },
        );
        self.by_device
            .entry(device.to_owned())
            .or_default()
            .insert(group.to_owned());
    }

    /// A document of a group in the tables (a new one's record is the caller's to write).
    pub(super) fn insert_doc(
        &mut self,
        doc: DocumentId,
        group: &str,
        kind: DocKind,
        owner: Option<String>,
    ) {
        self.known.insert(doc);
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        g.docs.insert(doc);
        self.docs.insert(
            doc,
            DocEntry {
                group: group.to_owned(),
                kind: Some(kind),
                owner,
                period: None,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_documents_are_found_across_rebuilds_and_after_removal() {
        let mut known = KnownDocs::default();
        let first: Vec<DocumentId> = (0..1000)
            .filter_map(|_| DocumentId::random().ok())
            .collect();
        known.extend(first.clone());
        let later: Vec<DocumentId> = (0..2 * KNOWN_REBUILD_AT + 7)
            .filter_map(|_| DocumentId::random().ok())
            .collect();
        for doc in &later {
            known.insert(*doc);
            known.insert(*doc);
        }
        assert!(first.iter().chain(&later).all(|d| known.contains(d)));
        assert_eq!(
            known.sorted.len() + known.recent.len(),
            first.len() + later.len()
        );
        assert!(known.recent.len() < KNOWN_REBUILD_AT, "rebuilt as it grew");
        let (gone, recent_gone) = (first[500], later[later.len() - 1]);
        known.remove(&gone);
        known.remove(&recent_gone);
        assert!(!known.contains(&gone) && !known.contains(&recent_gone));
        assert!(known.contains(&first[499]) && known.contains(&later[0]));
        let stranger = DocumentId::random().map_err(|e| e.to_string());
        assert!(stranger.is_ok_and(|d| !known.contains(&d)));
    }
}
