//! The relay's access decisions: who is in which group with which role, what each document is,
//! and from those, what each connection may read and write. Held in memory (changed together
//! with the store) because the hub asks at every step.
//!
//! Only groups in use are held: a group is read from the store as one of its members connects
//! (the relay calls [`RelayAccess::admit`]) and let go once none is connected
//! ([`RelayAccess::evict_idle`]). What stays for every document is its id alone, so that one the
//! relay holds no group for is told apart from a new one. The invariant the decisions rest on:
//! every group of a connected device is held, so a document the tables know but do not hold is
//! in a group the asking device is not in.
//!
//! The rules:
//! - plan: leads and members read and write.
//! - contacts: the canvasser who owns the document reads and writes; leads read.
//! - roster: leads and members read; only the relay writes.
//! - brief (what canvassers see of the group: its name, leads, officials and the meetings shown
//!   to them): canvassers read; only the relay writes. Canvassers read no plan and no roster.
//! - anything else, and anyone else: hidden, answered exactly as a missing document.
//!
//! A new plan creates its group, with its creator as lead (if the operator's sign-up code, when
//! there is one, was presented). A new contacts document is accepted from a member who names
//! itself as its canvasser.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use automerge::AutoCommit;
use groundwork_core::identity::Role;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::contacts::ContactsDoc;
use groundwork_core::schema::plan::Plan;
use groundwork_core::schema::roster::{Roster, RosterMember};
use groundwork_core::schema::{self, DocKind};
use groundwork_core::sync::hub::{Access, ConnId, Policy, Refused};

pub mod change;

pub use change::{AccessChange, AccessRows};

/// Who is on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No proof and no token: may read nothing.
    Anonymous,
    /// A device that proved its key.
    Device(String),
    /// A plain automerge-repo client with a token acting for a device, in one group only.
    Token {
        /// The device it acts for.
        device: String,
        /// The only group it may touch.
        group: String,
        /// When the token stops working (Unix ms): its session ends then too.
        expires_at: i64,
    },
}

impl Principal {
    /// Whom its frames count against: its device, or for an anonymous peer its address.
    pub fn rate_key(&self, addr: std::net::IpAddr) -> String {
        match self {
            Principal::Anonymous => format!("addr:{addr}"),
            Principal::Device(d) | Principal::Token { device: d, .. } => format!("device:{d}"),
        }
    }

    /// The device it is, or acts for.
    pub fn device(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Device(d) | Principal::Token { device: d, .. } => Some(d),
        }
    }
}

/// Every document id the store records, at 16 bytes each (a hash set of them took twice that,
/// which at 100,000 groups was most of an idle relay's memory): a sorted run, searched by
/// bisection, and the ids added since it was last rebuilt.
#[derive(Debug, Default)]
struct KnownDocs {
    sorted: Vec<DocumentId>,
    recent: HashSet<DocumentId>,
}

/// How many recent ids wait before the sorted run is rebuilt with them (each rebuild sorts the
/// whole run: a few milliseconds at 300,000 ids, once per this many new documents).
const KNOWN_REBUILD_AT: usize = 4096;

impl KnownDocs {
    fn contains(&self, doc: &DocumentId) -> bool {
        self.recent.contains(doc) || self.sorted.binary_search(doc).is_ok()
    }

    fn insert(&mut self, doc: DocumentId) {
        if !self.contains(&doc) {
            self.recent.insert(doc);
            if self.recent.len() >= KNOWN_REBUILD_AT {
                self.rebuild(Vec::new());
            }
        }
    }

    fn extend(&mut self, docs: Vec<DocumentId>) {
        if !docs.is_empty() {
            self.rebuild(docs);
        }
    }

    /// Rare (an erased or replaced document): the run shifts down by one.
    fn remove(&mut self, doc: &DocumentId) {
        self.recent.remove(doc);
        if let Ok(i) = self.sorted.binary_search(doc) {
            self.sorted.remove(i);
        }
    }

    /// One sorted run of everything, sized to fit (the old run is freed whole).
    fn rebuild(&mut self, more: Vec<DocumentId>) {
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
struct DocEntry {
    group: String,
    kind: Option<DocKind>,
    owner: Option<String>,
    /// A contacts document's period (YYYY-MM), once known.
    period: Option<String>,
}

#[derive(Clone, Debug)]
struct Member {
    role: Role,
    name: String,
    joined_at: i64,
    removed_at: Option<i64>,
    wiped_at: Option<i64>,
    /// The person the device belongs to: the id of that person's first device.
    person: String,
}

#[derive(Clone, Debug)]
struct GroupEntry {
    roster: DocumentId,
    members: BTreeMap<String, Member>,
    docs: BTreeSet<DocumentId>,
}

/// The relay's access tables and the [`Policy`] the hub asks.
#[derive(Debug, Default)]
pub struct RelayAccess {
    conns: HashMap<ConnId, Principal>,
    /// Every document the store records (groups' and boards'), held or not.
    known: KnownDocs,
    /// The documents of the groups held.
    docs: HashMap<DocumentId, DocEntry>,
    /// The groups held: every group of a connected device, and those just used.
    groups: HashMap<String, GroupEntry>,
    /// The held groups each device is in (removed ones too, until wiped): for a connected
    /// device, all of its groups.
    by_device: HashMap<String, BTreeSet<String>>,
    signup_code: Option<String>,
    creators: HashSet<String>,
    /// Changes decided inside the hub, for the host to commit with the batch.
    pending: Vec<AccessChange>,
    /// Groups created inside the hub, whose rosters the host must write.
    new_groups: Vec<String>,
    /// Each county's board document.
    boards: BTreeMap<String, DocumentId>,
    /// The county of each board document.
    board_of: HashMap<DocumentId, String>,
    /// The groups sharing an official in each county: who may read its board.
    county_groups: HashMap<String, BTreeSet<String>>,
    /// The counties each sharing group has an official in.
    group_counties: HashMap<String, BTreeSet<String>>,
    /// Boards replaced by fresh ones since the relay started: answered as missing.
    retired_boards: HashSet<DocumentId>,
    /// The counties each device follows (its boards it reads while it is a lead or member).
    follows: HashMap<String, BTreeSet<String>>,
    /// Campaign staff: they read every board.
    staff: HashSet<String>,
    /// Why no change can be taken now (the store is full or failing), while it cannot.
    read_only: Option<String>,
    /// How many months of contacts each group keeps, where a lead set it.
    retention: HashMap<String, u64>,
    /// Stored rows that did not read as access changes since the host last asked.
    unreadable: u64,
    /// The wall clock (Unix ms) as the host last set it ([`RelayAccess::set_time`]): the
    /// policy reads no clock of its own, so a test or the simulator sets time as it likes.
    now: i64,
}

impl RelayAccess {
    /// The tables as stored; `signup_code` is the operator's code, if group creation needs one.
    pub fn from_rows(rows: AccessRows, signup_code: Option<String>) -> Self {
        let mut a = RelayAccess {
            signup_code,
            ..Default::default()
        };
        a.admit(rows);
        a
    }

    /// Takes in rows read from the store: the startup tables, or groups read as a member
    /// connects. A group already held is kept as it is (its rows in memory are the newer).
    pub fn admit(&mut self, rows: AccessRows) {
        self.unreadable += rows.unreadable as u64;
        self.known.extend(rows.known);
        self.staff.extend(rows.staff);
        // The groups these rows bring: only their own rows are taken.
        let mut admitted = HashSet::new();
        for change in &rows.changes {
            if let AccessChange::Group { group, roster, .. } = change
                && !self.groups.contains_key(group)
            {
                self.known.insert(*roster);
                self.groups.insert(
                    group.clone(),
                    GroupEntry {
                        roster: *roster,
                        members: BTreeMap::new(),
                        docs: BTreeSet::new(),
                    },
                );
                admitted.insert(group.clone());
            }
        }
        for change in rows.changes {
            match &change {
                AccessChange::Group { .. } => {}
                AccessChange::Member { group, .. }
                | AccessChange::Removed { group, .. }
                | AccessChange::Wiped { group, .. }
                    if !admitted.contains(group) => {}
                AccessChange::Document { doc, group, .. } if !admitted.contains(group) => {
                    self.known.insert(*doc);
                }
                AccessChange::Period { doc, .. }
                    if self
                        .docs
                        .get(doc)
                        .is_none_or(|entry| !admitted.contains(&entry.group)) => {}
                _ => self.apply(&change),
            }
        }
    }

    /// The wall clock is now `now` (Unix ms): the time changes are stamped with, and retention
    /// counts from. The host sets it before each batch.
    pub fn set_time(&mut self, now: i64) {
        self.now = now;
    }

    /// How many stored rows did not read as access changes since the last call (each was
    /// logged as it was read), for the host's counters.
    pub fn take_unreadable(&mut self) -> u64 {
        std::mem::take(&mut self.unreadable)
    }

    /// Which of `groups` are not held now (for the caller to read with
    /// [`crate::store::RelayStore::group_rows`] and [`RelayAccess::admit`]).
    pub fn missing(&self, groups: &[String]) -> Vec<String> {
        groups
            .iter()
            .filter(|g| !self.groups.contains_key(*g))
            .cloned()
            .collect()
    }

    /// Lets go of every group held that no connected device is in (removed members count: a
    /// removed device is told to wipe as it connects), except those `keep` names (work still
    /// due for them). They are read again from the store when a member connects. Returns how
    /// many were let go.
    pub fn evict_idle(&mut self, keep: impl Fn(&str) -> bool) -> usize {
        let online: HashSet<&str> = self.conns.values().filter_map(Principal::device).collect();
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

    /// How many groups are held now.
    pub fn groups_held(&self) -> usize {
        self.groups.len()
    }

    /// The groups that set a retention (their contacts past it are erased).
    pub fn retention_groups(&self) -> Vec<String> {
        self.retention.keys().cloned().collect()
    }

    /// The boards and which groups share where, as the campaign index says.
    pub fn set_boards(
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
    pub fn set_board(&mut self, county: &str, doc: DocumentId) {
        if let Some(old) = self.boards.insert(county.to_owned(), doc) {
            self.board_of.remove(&old);
            self.retired_boards.insert(old);
        }
        self.board_of.insert(doc, county.to_owned());
    }

    /// A group's canvassers' brief is now `new`: `old` (the one before, if any) is no one's to
    /// read again, and is answered as missing.
    pub fn set_brief(&mut self, group: &str, new: DocumentId, old: Option<DocumentId>) {
        if let Some(old) = old {
            self.docs.remove(&old);
            if let Some(g) = self.groups.get_mut(group) {
                g.docs.remove(&old);
            }
            self.retired_boards.insert(old);
        }
        self.known.insert(new);
        let Some(g) = self.groups.get_mut(group) else {
            return;
        };
        g.docs.insert(new);
        self.docs.insert(
            new,
            DocEntry {
                group: group.to_owned(),
                kind: Some(DocKind::Brief),
                owner: None,
                period: None,
            },
        );
    }

    /// Records a contacts document's period.
    pub fn set_period(&mut self, doc: &DocumentId, period: &str) {
        if let Some(entry) = self.docs.get_mut(doc) {
            entry.period = Some(period.to_owned());
        }
    }

    /// Records a group's retention (`None`: it keeps everything); whether it changed.
    pub fn set_retention(&mut self, group: &str, months: Option<u64>) -> bool {
        let before = match months {
            Some(m) => self.retention.insert(group.to_owned(), m),
            None => self.retention.remove(group),
        };
        before != months
    }

    /// The oldest period `group` keeps now, if it set a retention.
    fn oldest_kept(&self, group: &str) -> Option<String> {
        let months = *self.retention.get(group)?;
        Some(groundwork_core::time::oldest_kept_period(self.now, months))
    }

    /// Contacts documents past their group's retention, to erase.
    pub fn expired_contacts(&self) -> Vec<DocumentId> {
        self.docs
            .iter()
            .filter(|(_, e)| e.kind == Some(DocKind::Contacts))
            .filter(|(_, e)| {
                let (Some(period), Some(oldest)) = (&e.period, self.oldest_kept(&e.group)) else {
                    return false;
                };
                *period < oldest
            })
            .map(|(d, _)| *d)
            .collect()
    }

    /// Forgets an erased document: it is answered as missing from now on.
    pub fn forget_doc(&mut self, doc: &DocumentId) {
        self.known.remove(doc);
        if let Some(entry) = self.docs.remove(doc)
            && let Some(g) = self.groups.get_mut(&entry.group)
        {
            g.docs.remove(doc);
        }
    }

    /// A group's current members: (device, name, role).
    pub fn members_of(&self, group: &str) -> Vec<(&str, &str, Role)> {
        self.groups.get(group).map_or_else(Vec::new, |g| {
            g.members
                .iter()
                .filter(|(_, m)| m.removed_at.is_none())
                .map(|(d, m)| (d.as_str(), m.name.as_str(), m.role))
                .collect()
        })
    }

    /// Whether `doc` is a county's board now.
    pub fn is_board(&self, doc: &DocumentId) -> bool {
        self.board_of.contains_key(doc)
    }

    /// A county's board document, if it has one.
    pub fn board(&self, county: &str) -> Option<DocumentId> {
        self.boards.get(county).copied()
    }

    /// The counties in which `group` shares an official now (none: it does not share).
    pub fn set_group_counties(&mut self, group: &str, counties: BTreeSet<String>) {
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

    /// Whether `device` may follow boards: campaign staff, or a lead or member of a group now
    /// (a canvasser's phone holds its own group's boards and no more).
    pub fn may_follow(&self, device: &str) -> Result<(), String> {
        if self.staff.contains(device) || self.edits_somewhere(device) {
            Ok(())
        } else {
            Err(
                "only a group's leads and members (and campaign staff) follow boards; \
                 a canvasser reads the boards of its own group's counties"
                    .into(),
            )
        }
    }

    /// Whether `device` is a lead or member of some group now.
    fn edits_somewhere(&self, device: &str) -> bool {
        self.by_device.get(device).is_some_and(|groups| {
            groups
                .iter()
                .any(|g| self.role(g, device).is_some_and(|r| r != Role::Canvasser))
        })
    }

    /// `device` follows `county` now (or, with `follow` false, no longer): the record to
    /// commit. The caller checked [`RelayAccess::may_follow`] and the county's code.
    pub fn follow(&mut self, device: &str, county: &str, follow: bool) -> AccessChange {
        let counties = self.follows.entry(device.to_owned()).or_default();
        if follow {
            counties.insert(county.to_owned());
        } else {
            counties.remove(county);
        }
        AccessChange::Follow {
            device: device.to_owned(),
            county: county.to_owned(),
            follow,
            at: self.now,
        }
    }

    /// The counties `device` follows.
    pub fn followed(&self, device: &str) -> Vec<String> {
        self.follows
            .get(device)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Campaign staff are these devices now (the operator's tool writes the table; the relay
    /// reads it again on its tick). Returns the devices that stopped being staff.
    pub fn set_staff(&mut self, staff: HashSet<String>) -> Vec<String> {
        let revoked = self.staff.difference(&staff).cloned().collect();
        self.staff = staff;
        revoked
    }

    /// Whether `device` is campaign staff now (read again as it connects).
    pub fn set_one_staff(&mut self, device: &str, staff: bool) {
        if staff {
            self.staff.insert(device.to_owned());
        } else {
            self.staff.remove(device);
        }
    }

    /// Whether `device` is campaign staff.
    pub fn is_staff(&self, device: &str) -> bool {
        self.staff.contains(device)
    }

    /// Whether the device on `conn` may read the board of `county`: it is in a group that
    /// shares an official there (a token, only for its own group), it follows the county and
    /// is a lead or member somewhere, or it is campaign staff.
    fn reads_board(&self, principal: &Principal, county: &str) -> bool {
        let Some(device) = principal.device() else {
            return false;
        };
        if let Principal::Device(_) = principal
            && (self.staff.contains(device)
                || (self.follows.get(device).is_some_and(|c| c.contains(county))
                    && self.edits_somewhere(device)))
        {
            return true;
        }
        self.county_groups.get(county).is_some_and(|groups| {
            groups.iter().any(|g| {
                let own = match principal {
                    Principal::Token { group, .. } => group == g,
                    _ => true,
                };
                // Canvassers do not read boards: their phones hold their group's brief.
                own && self.role(g, device).is_some_and(|r| r != Role::Canvasser)
            })
        })
    }

    /// While `reason` is set, every change is refused with it (the store cannot take writes);
    /// reads go on.
    pub fn set_read_only(&mut self, reason: Option<String>) {
        self.read_only = reason;
    }

    /// A connection was authenticated as `principal`.
    pub fn connect(&mut self, conn: ConnId, principal: Principal) {
        self.conns.insert(conn, principal);
    }

    /// A connection closed.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// Who is on a connection.
    pub fn principal(&self, conn: ConnId) -> Option<&Principal> {
        self.conns.get(&conn)
    }

    /// Connections opened with a token that has expired by `now` (Unix ms).
    pub fn expired_token_conns(&self, now: i64) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, p)| matches!(p, Principal::Token { expires_at, .. } if *expires_at < now))
            .map(|(c, _)| *c)
            .collect()
    }

    /// Every connection of a device (its own and its tokens').
    pub fn conns_of(&self, device: &str) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, p)| p.device() == Some(device))
            .map(|(c, _)| *c)
            .collect()
    }

    /// A device's role in a group, if it is a member now.
    pub fn role(&self, group: &str, device: &str) -> Option<Role> {
        self.groups
            .get(group)?
            .members
            .get(device)
            .filter(|m| m.removed_at.is_none())
            .map(|m| m.role)
    }

    /// Whether a group exists and is held (the caller reads it from the store first).
    pub fn group_exists(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }

    /// The documents the peer on `conn` may read.
    pub fn readable(&self, conn: ConnId) -> Vec<DocumentId> {
        let Some(device) = self.conns.get(&conn).and_then(Principal::device) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for group in self.by_device.get(device).into_iter().flatten() {
            for doc in self.groups.get(group).into_iter().flat_map(|g| &g.docs) {
                if self.access(conn, doc).reads() {
                    out.push(*doc);
                }
            }
            for county in self.group_counties.get(group).into_iter().flatten() {
                if let Some(board) = self.boards.get(county)
                    && !out.contains(board)
                    && self.access(conn, board).reads()
                {
                    out.push(*board);
                }
            }
        }
        let boards: Vec<&DocumentId> = if self.staff.contains(device) {
            self.boards.values().collect()
        } else {
            let followed = self.follows.get(device).into_iter().flatten();
            followed.filter_map(|c| self.boards.get(c)).collect()
        };
        for board in boards {
            if !out.contains(board) && self.access(conn, board).reads() {
                out.push(*board);
            }
        }
        out
    }

    /// The connections that may read `doc` now.
    pub fn readers(&self, doc: &DocumentId) -> Vec<ConnId> {
        self.conns
            .keys()
            .copied()
            .filter(|c| self.access(*c, doc).reads())
            .collect()
    }

    /// Groups a device was removed from and has not yet confirmed wiping.
    pub fn wipes_owed(&self, device: &str) -> Vec<String> {
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
    pub fn doc_kind(&self, doc: &DocumentId) -> Option<(&str, DocKind)> {
        let entry = self.docs.get(doc)?;
        Some((entry.group.as_str(), entry.kind?))
    }

    /// A group's documents of one kind.
    pub fn group_docs(&self, group: &str, kind: DocKind) -> Vec<DocumentId> {
        self.groups.get(group).map_or_else(Vec::new, |g| {
            g.docs
                .iter()
                .filter(|d| self.docs.get(d).and_then(|e| e.kind) == Some(kind))
                .copied()
                .collect()
        })
    }

    /// The group's roster document.
    pub fn roster_doc(&self, group: &str) -> Option<DocumentId> {
        self.groups.get(group).map(|g| g.roster)
    }

    /// The roster as the tables say.
    pub fn roster(&self, group: &str) -> Option<Roster> {
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
    pub fn roster_len(&self, group: &str) -> usize {
        self.groups.get(group).map_or(0, |g| g.members.len())
    }

    /// One device's roster entry as the tables say (removed devices keep theirs).
    pub fn roster_entry(&self, group: &str, device: &str) -> Option<RosterMember> {
        let m = self.groups.get(group)?.members.get(device)?;
        Some(RosterMember {
            name: m.name.clone(),
            role: m.role,
            joined_at: m.joined_at,
            removed_at: m.removed_at,
        })
    }

    /// Whether two devices are the same person's (each a current member of the group).
    pub fn same_person(&self, group: &str, a: &str, b: &str) -> bool {
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
    pub fn person(&self, group: &str, device: &str) -> Option<String> {
        self.groups
            .get(group)?
            .members
            .get(device)
            .map(|m| m.person.clone())
    }

    /// Adds (or re-adds) a device to a group, as a device of `person`.
    pub fn add_member(
        &mut self,
        group: &str,
        device: &str,
        role: Role,
        name: &str,
        person: &str,
    ) -> AccessChange {
        let at = self.now;
        self.insert_member(group, device, role, name, person, at);
        AccessChange::Member {
            group: group.to_owned(),
            device: device.to_owned(),
            role,
            name: name.to_owned(),
            person: person.to_owned(),
            at,
        }
    }

    fn insert_member(
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

    /// Applies a change to the tables: one another relay node on the same database committed,
    /// or a row read from the store (the tables only; the caller does what it implies for
    /// connections and documents). A change about a group not held touches nothing of it: the
    /// group is read whole, with the change, when it is next needed.
    pub fn apply(&mut self, change: &AccessChange) {
        match change {
            // A new group is held once one of its members connects here.
            AccessChange::Group { roster, .. } => self.known.insert(*roster),
            // A board's readers follow its county (`AccessChange::Board`), not a group.
            AccessChange::Document {
                doc,
                kind: DocKind::Board,
                ..
            } => self.known.insert(*doc),
            AccessChange::Document {
                doc,
                group,
                kind,
                owner,
            } => self.insert_doc(*doc, group, *kind, owner.clone()),
            AccessChange::Member {
                group,
                device,
                role,
                name,
                person,
                at,
            } => self.insert_member(group, device, *role, name, person, *at),
            AccessChange::Removed { group, device, at }
            | AccessChange::Wiped { group, device, at } => {
                if let Some(m) = self
                    .groups
                    .get_mut(group)
                    .and_then(|g| g.members.get_mut(device))
                {
                    match change {
                        AccessChange::Removed { .. } => m.removed_at = Some(*at),
                        _ => m.wiped_at = Some(*at),
                    }
                }
            }
            AccessChange::Creator { device } => {
                self.creators.insert(device.clone());
            }
            AccessChange::Follow {
                device,
                county,
                follow,
                ..
            } => {
                self.follow(device, county, *follow);
            }
            AccessChange::Board { county, doc, .. } => self.set_board(county, *doc),
            AccessChange::Period { doc, period } => self.set_period(doc, period),
            AccessChange::Dropped { doc } => self.forget_doc(doc),
            AccessChange::Counties { group, counties } => {
                self.set_group_counties(group, counties.iter().cloned().collect());
            }
        }
    }

    /// Removes a device from a group; it keeps its row until it confirms its wipe.
    pub fn remove_member(&mut self, group: &str, device: &str) -> AccessChange {
        let at = self.now;
        if let Some(m) = self
            .groups
            .get_mut(group)
            .and_then(|g| g.members.get_mut(device))
        {
            m.removed_at = Some(at);
        }
        AccessChange::Removed {
            group: group.to_owned(),
            device: device.to_owned(),
            at,
        }
    }

    /// A removed device wiped the group.
    pub fn wiped(&mut self, group: &str, device: &str) -> Option<AccessChange> {
        let m = self.groups.get_mut(group)?.members.get_mut(device)?;
        if m.removed_at.is_none() || m.wiped_at.is_some() {
            return None;
        }
        let at = self.now;
        m.wiped_at = Some(at);
        Some(AccessChange::Wiped {
            group: group.to_owned(),
            device: device.to_owned(),
            at,
        })
    }

    /// A device presented the sign-up code (checked by the caller).
    pub fn add_creator(&mut self, device: &str) -> AccessChange {
        self.creators.insert(device.to_owned());
        AccessChange::Creator {
            device: device.to_owned(),
        }
    }

    /// The operator's sign-up code, if there is one.
    pub fn signup_code(&self) -> Option<&str> {
        self.signup_code.as_deref()
    }

    /// What the hub decided since the last call: changes to commit, and new groups whose
    /// rosters must be written.
    pub fn take_pending(&mut self) -> (Vec<AccessChange>, Vec<String>) {
        (
            std::mem::take(&mut self.pending),
            std::mem::take(&mut self.new_groups),
        )
    }

    fn record_doc(&mut self, doc: DocumentId, group: &str, kind: DocKind, owner: Option<String>) {
        self.insert_doc(doc, group, kind, owner.clone());
        self.pending.push(AccessChange::Document {
            doc,
            group: group.to_owned(),
            kind,
            owner,
        });
    }

    /// A document of a group in the tables (a new one's record is the caller's to write).
    fn insert_doc(&mut self, doc: DocumentId, group: &str, kind: DocKind, owner: Option<String>) {
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

    /// Creates a group (and records its roster document) for a plan its lead brought.
    fn create_group(&mut self, group: &str, plan: DocumentId, lead: &str, name: &str) -> bool {
        let Ok(roster) = DocumentId::random() else {
            return false;
        };
        self.groups.insert(
            group.to_owned(),
            GroupEntry {
                roster,
                members: BTreeMap::new(),
                docs: BTreeSet::new(),
            },
        );
        self.pending.push(AccessChange::Group {
            group: group.to_owned(),
            roster,
            created_by: lead.to_owned(),
            at: self.now,
        });
        let member = self.add_member(group, lead, Role::Lead, name.trim(), lead);
        self.pending.push(member);
        self.record_doc(plan, group, DocKind::Plan, None);
        self.record_doc(roster, group, DocKind::Roster, None);
        self.new_groups.push(group.to_owned());
        true
    }
}

/// The rule that decided what a connection may do with a document: [`RelayAccess::decide`]
/// returns it beside the access, and [`Rule::refused`] says it for the log. One decision, so
/// what is allowed and what the log says about a refusal cannot disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// No principal on the connection, or one that is no device.
    Unauthenticated,
    /// A board or brief replaced by a fresh one: no one's to read again.
    Retired,
    /// A county's board; `reads`: the principal is one of its readers.
    Board { reads: bool },
    /// A document the store records, in a group not held (so of no connected device's).
    NotHeld,
    /// A document the relay does not know; `device`: a device asks (which may create it).
    New { device: bool },
    /// A token acting in another group.
    TokenOtherGroup,
    /// A device removed from the document's group.
    Removed,
    /// A device that is not in the document's group.
    NotMember,
    /// A member of the group: its role, the document's kind, and whether it owns the document
    /// (a canvasser's own contacts).
    Role {
        role: Role,
        kind: Option<DocKind>,
        owner: bool,
    },
}

/// What a member of a group may do with one of the group's documents, by role and kind (and,
/// for contacts, whether it is the member's own): the rule matrix, in one place.
fn role_access(role: Role, kind: Option<DocKind>, owner: bool) -> Access {
    match kind {
        // Least privilege on a canvasser's phone: its brief, never the plan or the roster.
        Some(DocKind::Brief) if role == Role::Canvasser => Access::Read,
        Some(DocKind::Plan | DocKind::Roster) if role == Role::Canvasser => Access::Hidden,
        Some(DocKind::Plan) if role.edits_plan() => Access::Write,
        Some(DocKind::Plan) => Access::Read,
        Some(DocKind::Contacts) if owner => Access::Write,
        Some(DocKind::Contacts) if role == Role::Lead => Access::Read,
        Some(DocKind::Roster) => Access::Read,
        _ => Access::Hidden,
    }
}

impl Rule {
    /// What the rule says of a refused change (`access`: what the hub was told the connection
    /// may do), for the relay's log: the rule, never the content.
    fn refused(self, access: Access) -> Refused {
        let why = |s: &str| Refused(s.to_owned());
        match self {
            Rule::Unauthenticated => why("an unauthenticated connection"),
            Rule::Retired => why("a board or brief the relay has replaced with a fresh one"),
            Rule::Board { .. } if access == Access::Read => {
                why("a change to a board, which only the relay writes")
            }
            Rule::Board { .. } => why(
                "a board of a county the device's groups share nothing in, which it does not \
                 follow (or follows while a lead or member of no group)",
            ),
            Rule::NotHeld | Rule::NotMember => why("not a member of the group"),
            Rule::New { .. } => why("a document the relay does not know"),
            Rule::TokenOtherGroup => why("a token for another group"),
            Rule::Removed => why("a device removed from the group"),
            Rule::Role { role, kind, .. } => {
                let name = kind.map_or("unknown", DocKind::as_str);
                Refused(match (access, kind) {
                    (_, Some(DocKind::Roster)) if role == Role::Canvasser => {
                        "a canvasser may not see the roster (it reads the group's brief)".into()
                    }
                    (_, Some(DocKind::Roster)) => {
                        "a change to the roster, which only the relay writes".into()
                    }
                    (_, Some(DocKind::Brief)) if role == Role::Canvasser => {
                        "a change to the brief, which only the relay writes".into()
                    }
                    (_, Some(DocKind::Brief)) => {
                        format!("a {role} does not read the canvassers' brief")
                    }
                    (_, Some(DocKind::Plan)) if role == Role::Canvasser => {
                        "a canvasser may not see the plan (it reads the group's brief)".into()
                    }
                    (_, Some(DocKind::Contacts)) if role == Role::Lead => {
                        "a lead's change to a canvasser's contacts (leads read them)".into()
                    }
                    (_, Some(DocKind::Contacts)) => {
                        format!("a {role}'s change to another canvasser's contacts")
                    }
                    (Access::Read, _) => {
                        format!("a {role}'s change to the {name} (read only for a {role})")
                    }
                    _ => format!("a {role} may not see this {name} document"),
                })
            }
        }
    }
}

impl RelayAccess {
    /// What the peer on `conn` may do with `doc`, and the rule that says so: behind both
    /// [`Policy::access`] and [`Policy::why_not`].
    fn decide(&self, conn: ConnId, doc: &DocumentId) -> (Access, Rule) {
        let Some(principal) = self.conns.get(&conn) else {
            return (Access::Hidden, Rule::Unauthenticated);
        };
        if self.retired_boards.contains(doc) {
            return (Access::Hidden, Rule::Retired);
        }
        if let Some(county) = self.board_of.get(doc) {
            // Boards are the relay's to write; readers are the groups sharing there.
            let reads = self.reads_board(principal, county);
            let access = if reads { Access::Read } else { Access::Hidden };
            return (access, Rule::Board { reads });
        }
        let Some(entry) = self.docs.get(doc) else {
            // Known but not held: in a group of no connected device, so not the asker's.
            if self.known.contains(doc) {
                return (Access::Hidden, Rule::NotHeld);
            }
            // Only a device (or a token) may bring a new document; an anonymous peer's changes
            // are refused unread.
            let device = principal.device().is_some();
            let access = if device {
                Access::Unknown
            } else {
                Access::Hidden
            };
            return (access, Rule::New { device });
        };
        let Some(device) = principal.device() else {
            return (Access::Hidden, Rule::Unauthenticated);
        };
        if let Principal::Token { group, .. } = principal
            && *group != entry.group
        {
            return (Access::Hidden, Rule::TokenOtherGroup);
        }
        let Some(role) = self.role(&entry.group, device) else {
            let removed = self
                .groups
                .get(&entry.group)
                .and_then(|g| g.members.get(device))
                .is_some();
            let rule = if removed {
                Rule::Removed
            } else {
                Rule::NotMember
            };
            return (Access::Hidden, rule);
        };
        let owner = entry.owner.as_deref() == Some(device);
        let rule = Rule::Role {
            role,
            kind: entry.kind,
            owner,
        };
        (role_access(role, entry.kind, owner), rule)
    }
}

impl Policy for RelayAccess {
    fn refuses_changes(&self) -> Option<String> {
        self.read_only.clone()
    }

    fn access(&self, conn: ConnId, doc: &DocumentId) -> Access {
        self.decide(conn, doc).0
    }

    fn may_create(
        &mut self,
        conn: ConnId,
        doc: &DocumentId,
        content: &AutoCommit,
    ) -> Result<(), Refused> {
        let refused = |why: &str| Err(Refused(why.to_owned()));
        // A device creates groups (plans) and its contacts; a token, acting for a device in
        // one group, only that device's contacts there.
        let (device, token_group) = match self.conns.get(&conn) {
            Some(Principal::Device(device)) => (device.clone(), None),
            Some(Principal::Token { device, group, .. }) => (device.clone(), Some(group.clone())),
            Some(Principal::Anonymous) => return refused("an anonymous connection"),
            None => return refused("an unauthenticated connection"),
        };
        let id = doc.to_string();
        use automerge::ReadDoc;
        let has = |key: &str| content.get(automerge::ROOT, key).ok().flatten().is_some();
        if has("profile") && token_group.is_some() {
            return refused("a token may not create groups");
        }
        if has("profile") {
            let plan = match schema::hydrate::<Plan>(content, &id, DocKind::Plan) {
                Ok(plan) => plan,
                Err(e) => return refused(&format!("a new plan that fails the plan schema: {e}")),
            };
            if plan.group_id != id {
                return refused("a new plan whose group id is not its document id");
            }
            if plan.profile.created_by != device {
                return refused("a new plan created by another device");
            }
            if self.groups.contains_key(&id) || self.known.contains(doc) {
                return refused("a plan for a group that already exists");
            }
            if self.signup_code.is_some() && !self.creators.contains(&device) {
                return refused("a new group from a device that has not signed up");
            }
            let name = plan.profile.created_by_name.as_deref().unwrap_or_default();
            if !self.create_group(&id, *doc, &device, name) {
                return refused("no randomness for the group's roster id");
            }
            return Ok(());
        }
        if has("contacts") {
            let c = match schema::hydrate::<ContactsDoc>(content, &id, DocKind::Contacts) {
                Ok(c) => c,
                // The reason names the field and, for a code, the value (never free text).
                Err(e) => {
                    return refused(&format!(
                        "a new contacts document that fails its schema: {e}"
                    ));
                }
            };
            if c.canvasser != device {
                return refused("a contacts document naming another canvasser");
            }
            if self.known.contains(doc) {
                return refused("a contacts document with the id of one that exists");
            }
            if token_group.is_some_and(|g| g != c.group_id) {
                return refused("a token's contacts for another group than its own");
            }
            if self.role(&c.group_id, &device).is_none() {
                return refused("contacts for a group the device is not a member of");
            }
            if self
                .oldest_kept(&c.group_id)
                .is_some_and(|oldest| c.period < oldest)
            {
                return refused("a contacts document of a month past the group's retention");
            }
            self.record_doc(*doc, &c.group_id, DocKind::Contacts, Some(device));
            self.set_period(doc, &c.period);
            self.pending.push(AccessChange::Period {
                doc: *doc,
                period: c.period.clone(),
            });
            return Ok(());
        }
        refused("a new document that is neither a plan nor a contacts document")
    }

    fn may_change(
        &mut self,
        conn: ConnId,
        doc: &DocumentId,
        before: &[automerge::ChangeHash],
        after: &AutoCommit,
        changes: &[automerge::Change],
    ) -> Result<(), Refused> {
        // What a group shares is its leads' choice: a member may edit the plan, not that.
        let (Some(entry), Some(device)) = (
            self.docs.get(doc),
            self.conns.get(&conn).and_then(Principal::device),
        ) else {
            return Ok(());
        };
        if entry.kind != Some(DocKind::Plan) || self.role(&entry.group, device) == Some(Role::Lead)
        {
            return Ok(());
        }
        // Notes alone cannot change what is shared; telling so from the changes' operations
        // spares reading the plan as it was (a walk of its history).
        if !groundwork_core::campaign::only_meeting_notes(after, changes)
            && groundwork_core::campaign::sharing_changed(after, before)
        {
            return Err(Refused(
                "a member's change to what the group shares or keeps (its sharing, a \
                 meeting's visibility or who sees it, its retention: leads only)"
                    .into(),
            ));
        }
        Ok(())
    }

    fn why_not(&self, conn: ConnId, doc: &DocumentId, access: Access) -> Refused {
        self.decide(conn, doc).1.refused(access)
    }
}

#[cfg(test)]
mod tests;
