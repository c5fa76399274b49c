//! Each county's board: its document, the groups sharing an official there (who reads it), the
//! counties each device follows, and the boards replaced by fresh ones (answered as missing).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use groundwork_core::ids::DocumentId;

/// The boards and who may read them.
#[derive(Debug, Default)]
pub(super) struct Boards {
    /// Each county's board document.
    pub(super) by_county: BTreeMap<String, DocumentId>,
    /// The county of each board document.
    pub(super) board_of: HashMap<DocumentId, String>,
    /// The groups sharing an official in each county: who may read its board.
    pub(super) county_groups: HashMap<String, BTreeSet<String>>,
    /// The counties each sharing group has an official in.
    pub(super) group_counties: HashMap<String, BTreeSet<String>>,
    /// Boards (and briefs) replaced by fresh ones since the relay started: answered as missing.
    pub(super) retired: HashSet<DocumentId>,
    /// The counties each device follows (its boards it reads while it is a lead or member).
    pub(super) follows: HashMap<String, BTreeSet<String>>,
}

impl Boards {
    /// The boards and which groups share where, as the campaign index says.
    pub(super) fn set_boards(
        &mut self,
        boards: Vec<(String, DocumentId)>,
        county_groups: Vec<(String, String)>,
    ) {
        for (county, doc) in boards {
            self.set_board(&county, doc);
        }
        for (county, group) in county_groups {
            self.group_counties
                .entry(group.clone())
                .or_default()
                .insert(county.clone());
            self.county_groups.entry(county).or_default().insert(group);
        }
    }

    /// A county's board is now `doc` (a fresh one replaces the old, which no one reads again).
    pub(super) fn set_board(&mut self, county: &str, doc: DocumentId) {
        if let Some(old) = self.by_county.insert(county.to_owned(), doc) {
            self.board_of.remove(&old);
            self.retired.insert(old);
        }
        self.board_of.insert(doc, county.to_owned());
    }

    /// Whether `doc` is a county's board now.
    pub(super) fn is_board(&self, doc: &DocumentId) -> bool {
        self.board_of.contains_key(doc)
    }

    /// A county's board document, if it has one.
    pub(super) fn board(&self, county: &str) -> Option<DocumentId> {
        self.by_county.get(county).copied()
    }

    /// The counties in which `group` shares an official now (none: it does not share).
    pub(super) fn set_group_counties(&mut self, group: &str, counties: BTreeSet<String>) {
        for county in self.group_counties.remove(group).unwrap_or_default() {
            if let Some(groups) = self.county_groups.get_mut(&county) {
                groups.remove(group);
            }
        }
        for county in &counties {
            self.county_groups
                .entry(county.clone())
                .or_default()
                .insert(group.to_owned());
        }
        if !counties.is_empty() {
            self.group_counties.insert(group.to_owned(), counties);
        }
    }

    /// The counties `device` follows.
    pub(super) fn followed(&self, device: &str) -> Vec<String> {
        self.follows
            .get(device)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }
}
