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

use std::collections::{BTreeMap, BTreeSet, HashSet};

use automerge::AutoCommit;
use groundwork_core::identity::Role;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::contacts::ContactsDoc;
use groundwork_core::schema::plan::Plan;
use groundwork_core::schema::roster::{Roster, RosterMember};
use groundwork_core::schema::{self, DocKind};
use groundwork_core::sync::hub::{Access, ConnId, Policy, Refused};

mod boards;
pub mod change;
mod principals;
mod retention;
mod tables;

use boards::Boards;
pub use change::{AccessChange, AccessRows};
pub use principals::Principal;
use principals::Principals;
use retention::Retention;
use tables::{DocEntry, GroupEntry, Tables};

/// The relay's access tables and the [`Policy`] the hub asks: a pure policy over its parts
/// (no clock, no IO); the host applies what it decides and sets its time.
#[derive(Debug, Default)]
pub struct RelayAccess {
    principals: Principals,
    tables: Tables,
    boards: Boards,
    retention: Retention,
    /// Changes decided inside the hub, for the host to commit with the batch.
    pending: Vec<AccessChange>,
    /// Groups created inside the hub, whose rosters the host must write.
    new_groups: Vec<String>,
    /// Why no change can be taken now (the store is full or failing), while it cannot.
    read_only: Option<String>,
    /// Stored rows that did not read as access changes since the host last asked.
    unreadable: u64,
    /// The wall clock (Unix ms) as the host last set it ([`RelayAccess::set_time`]): the
    /// policy reads no clock of its own, so a test or the simulator sets time as it likes.
    now: i64,
}

impl RelayAccess {
    /// Lets go of the groups no connected device is in (and none `keep` names); how many.
    pub fn evict_idle(&mut self, keep: impl Fn(&str) -> bool) -> usize {
        let online: HashSet<&str> = self
            .principals
            .conns
            .values()
            .filter_map(Principal::device)
            .collect();
        self.tables.evict_idle(keep, &online)
    }

    /// Which of `groups` are not held now (for the caller to read with
    /// [`crate::store::RelayStore::group_rows`] and [`RelayAccess::admit`]).
    pub fn missing(&self, groups: &[String]) -> Vec<String> {
        self.tables.missing(groups)
    }

    /// How many groups are held now.
    pub fn groups_held(&self) -> usize {
        self.tables.groups_held()
    }

    /// Records a contacts document's period.
    pub fn set_period(&mut self, doc: &DocumentId, period: &str) {
        self.tables.set_period(doc, period)
    }

    /// Forgets an erased document: it is answered as missing from now on.
    pub fn forget_doc(&mut self, doc: &DocumentId) {
        self.tables.forget_doc(doc)
    }

    /// A group's current members: (device, name, role).
    pub fn members_of(&self, group: &str) -> Vec<(&str, &str, Role)> {
        self.tables.members_of(group)
    }

    /// A device's role in a group, if it is a member now.
    pub fn role(&self, group: &str, device: &str) -> Option<Role> {
        self.tables.role(group, device)
    }

    /// Whether a group exists and is held (the caller reads it from the store first).
    pub fn group_exists(&self, group: &str) -> bool {
        self.tables.group_exists(group)
    }

    /// Groups a device was removed from and has not yet confirmed wiping.
    pub fn wipes_owed(&self, device: &str) -> Vec<String> {
        self.tables.wipes_owed(device)
    }

    /// A document's group and kind, if the relay knows it.
    pub fn doc_kind(&self, doc: &DocumentId) -> Option<(&str, DocKind)> {
        self.tables.doc_kind(doc)
    }

    /// A group's documents of one kind.
    pub fn group_docs(&self, group: &str, kind: DocKind) -> Vec<DocumentId> {
        self.tables.group_docs(group, kind)
    }

    /// The group's roster document.
    pub fn roster_doc(&self, group: &str) -> Option<DocumentId> {
        self.tables.roster_doc(group)
    }

    /// The roster as the tables say.
    pub fn roster(&self, group: &str) -> Option<Roster> {
        self.tables.roster(group)
    }

    /// How many devices a held group has on its roster (removed ones included).
    pub fn roster_len(&self, group: &str) -> usize {
        self.tables.roster_len(group)
    }

    /// One device's roster entry as the tables say (removed devices keep theirs).
    pub fn roster_entry(&self, group: &str, device: &str) -> Option<RosterMember> {
        self.tables.roster_entry(group, device)
    }

    /// Whether two devices are the same person's (each a current member of the group).
    pub fn same_person(&self, group: &str, a: &str, b: &str) -> bool {
        self.tables.same_person(group, a, b)
    }

    /// The person a member device belongs to.
    pub fn person(&self, group: &str, device: &str) -> Option<String> {
        self.tables.person(group, device)
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
        self.tables
            .insert_member(group, device, role, name, person, at)
    }

    /// A document of a group in the tables (a new one's record is the caller's to write).
    fn insert_doc(&mut self, doc: DocumentId, group: &str, kind: DocKind, owner: Option<String>) {
        self.tables.insert_doc(doc, group, kind, owner)
    }

    /// The boards and which groups share where, as the campaign index says.
    pub fn set_boards(
        &mut self,
        boards: Vec<(String, DocumentId)>,
        county_groups: Vec<(String, String)>,
    ) {
        self.boards.set_boards(boards, county_groups)
    }

    /// A county's board is now `doc` (a fresh one replaces the old, which no one reads again).
    pub fn set_board(&mut self, county: &str, doc: DocumentId) {
        self.boards.set_board(county, doc)
    }

    /// Whether `doc` is a county's board now.
    pub fn is_board(&self, doc: &DocumentId) -> bool {
        self.boards.is_board(doc)
    }

    /// A county's board document, if it has one.
    pub fn board(&self, county: &str) -> Option<DocumentId> {
        self.boards.board(county)
    }

    /// The counties in which `group` shares an official now (none: it does not share).
    pub fn set_group_counties(&mut self, group: &str, counties: BTreeSet<String>) {
        self.boards.set_group_counties(group, counties)
    }

    /// The counties `device` follows.
    pub fn followed(&self, device: &str) -> Vec<String> {
        self.boards.followed(device)
    }

    /// A connection was authenticated as `principal`.
    pub fn connect(&mut self, conn: ConnId, principal: Principal) {
        self.principals.connect(conn, principal)
    }

    /// A connection closed.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.principals.disconnect(conn)
    }

    /// Who is on a connection.
    pub fn principal(&self, conn: ConnId) -> Option<&Principal> {
        self.principals.principal(conn)
    }

    /// Connections opened with a token that has expired by `now` (Unix ms).
    pub fn expired_token_conns(&self, now: i64) -> Vec<ConnId> {
        self.principals.expired_token_conns(now)
    }

    /// Every connection of a device (its own and its tokens').
    pub fn conns_of(&self, device: &str) -> Vec<ConnId> {
        self.principals.conns_of(device)
    }

    /// Campaign staff are these devices now (the operator's tool writes the table; the relay
    /// reads it again on its tick). Returns the devices that stopped being staff.
    pub fn set_staff(&mut self, staff: HashSet<String>) -> Vec<String> {
        self.principals.set_staff(staff)
    }

    /// Whether `device` is campaign staff now (read again as it connects).
    pub fn set_one_staff(&mut self, device: &str, staff: bool) {
        self.principals.set_one_staff(device, staff)
    }

    /// Whether `device` is campaign staff.
    pub fn is_staff(&self, device: &str) -> bool {
        self.principals.is_staff(device)
    }

    /// The groups that set a retention (their contacts past it are erased).
    pub fn retention_groups(&self) -> Vec<String> {
        self.retention.retention_groups()
    }

    /// Records a group's retention (`None`: it keeps everything); whether it changed.
    pub fn set_retention(&mut self, group: &str, months: Option<u64>) -> bool {
        self.retention.set_retention(group, months)
    }

    /// The oldest period `group` keeps now, if it set a retention.
    fn oldest_kept(&self, group: &str) -> Option<String> {
        self.retention.oldest_kept(group, self.now)
    }

    /// The tables as stored; `signup_code` is the operator's code, if group creation needs one.
    pub fn from_rows(rows: AccessRows, signup_code: Option<String>) -> Self {
        let mut a = RelayAccess::default();
        a.principals.signup_code = signup_code;
        a.admit(rows);
        a
    }

    /// Takes in rows read from the store: the startup tables, or groups read as a member
    /// connects. A group already held is kept as it is (its rows in memory are the newer).
    pub fn admit(&mut self, rows: AccessRows) {
        self.unreadable += rows.unreadable as u64;
        self.tables.known.extend(rows.known);
        self.principals.staff.extend(rows.staff);
        // The groups these rows bring: only their own rows are taken.
        let mut admitted = HashSet::new();
        for change in &rows.changes {
            if let AccessChange::Group { group, roster, .. } = change
                && !self.tables.groups.contains_key(group)
            {
                self.tables.known.insert(*roster);
                self.tables.groups.insert(
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
                    self.tables.known.insert(*doc);
                }
                AccessChange::Period { doc, .. }
                    if self
                        .tables
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

    /// The wall clock (Unix ms) as the host last set it: the time of this turn.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// How many stored rows did not read as access changes since the last call (each was
    /// logged as it was read), for the host's counters.
    pub fn take_unreadable(&mut self) -> u64 {
        std::mem::take(&mut self.unreadable)
    }

    /// A group's canvassers' brief is now `new`: `old` (the one before, if any) is no one's to
    /// read again, and is answered as missing.
    pub fn set_brief(&mut self, group: &str, new: DocumentId, old: Option<DocumentId>) {
        if let Some(old) = old {
            self.tables.docs.remove(&old);
            if let Some(g) = self.tables.groups.get_mut(group) {
                g.docs.remove(&old);
            }
            self.boards.retired.insert(old);
        }
        self.tables.known.insert(new);
        let Some(g) = self.tables.groups.get_mut(group) else {
            return;
        };
        g.docs.insert(new);
        self.tables.docs.insert(
            new,
            DocEntry {
                group: group.to_owned(),
                kind: Some(DocKind::Brief),
                owner: None,
                period: None,
            },
        );
    }

    /// Contacts documents past their group's retention, to erase.
    pub fn expired_contacts(&self) -> Vec<DocumentId> {
        self.tables
            .docs
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

    /// Whether `device` may follow boards: campaign staff, or a lead or member of a group now
    /// (a canvasser's phone holds its own group's boards and no more).
    pub fn may_follow(&self, device: &str) -> Result<(), String> {
        if self.principals.staff.contains(device) || self.edits_somewhere(device) {
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
        self.tables.by_device.get(device).is_some_and(|groups| {
            groups
                .iter()
                .any(|g| self.role(g, device).is_some_and(|r| r != Role::Canvasser))
        })
    }

    /// `device` follows `county` now (or, with `follow` false, no longer): the record to
    /// commit. The caller checked [`RelayAccess::may_follow`] and the county's code.
    pub fn follow(&mut self, device: &str, county: &str, follow: bool) -> AccessChange {
        let counties = self.boards.follows.entry(device.to_owned()).or_default();
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

    /// Whether the device on `conn` may read the board of `county`: it is in a group that
    /// shares an official there (a token, only for its own group), it follows the county and
    /// is a lead or member somewhere, or it is campaign staff.
    fn reads_board(&self, principal: &Principal, county: &str) -> bool {
        let Some(device) = principal.device() else {
            return false;
        };
        if let Principal::Device(_) = principal
            && (self.principals.staff.contains(device)
                || (self
                    .boards
                    .follows
                    .get(device)
                    .is_some_and(|c| c.contains(county))
                    && self.edits_somewhere(device)))
        {
            return true;
        }
        self.boards.county_groups.get(county).is_some_and(|groups| {
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

    /// The documents the peer on `conn` may read.
    pub fn readable(&self, conn: ConnId) -> Vec<DocumentId> {
        let Some(device) = self.principals.conns.get(&conn).and_then(Principal::device) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for group in self.tables.by_device.get(device).into_iter().flatten() {
            for doc in self
                .tables
                .groups
                .get(group)
                .into_iter()
                .flat_map(|g| &g.docs)
            {
                if self.access(conn, doc).reads() {
                    out.push(*doc);
                }
            }
            for county in self.boards.group_counties.get(group).into_iter().flatten() {
                if let Some(board) = self.boards.by_county.get(county)
                    && !out.contains(board)
                    && self.access(conn, board).reads()
                {
                    out.push(*board);
                }
            }
        }
        let boards: Vec<&DocumentId> = if self.principals.staff.contains(device) {
            self.boards.by_county.values().collect()
        } else {
            let followed = self.boards.follows.get(device).into_iter().flatten();
            followed
                .filter_map(|c| self.boards.by_county.get(c))
                .collect()
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
        self.principals
            .conns
            .keys()
            .copied()
            .filter(|c| self.access(*c, doc).reads())
            .collect()
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

    /// Applies a change to the tables: one another relay node on the same database committed,
    /// or a row read from the store (the tables only; the caller does what it implies for
    /// connections and documents). A change about a group not held touches nothing of it: the
    /// group is read whole, with the change, when it is next needed.
    pub fn apply(&mut self, change: &AccessChange) {
        match change {
            // A new group is held once one of its members connects here.
            AccessChange::Group { roster, .. } => self.tables.known.insert(*roster),
            // A board's readers follow its county (`AccessChange::Board`), not a group.
            AccessChange::Document {
                doc,
                kind: DocKind::Board,
                ..
            } => self.tables.known.insert(*doc),
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
                    .tables
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
                self.principals.creators.insert(device.clone());
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
            .tables
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
        let m = self.tables.groups.get_mut(group)?.members.get_mut(device)?;
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
        self.principals.creators.insert(device.to_owned());
        AccessChange::Creator {
            device: device.to_owned(),
        }
    }

    /// The operator's sign-up code, if there is one.
    pub fn signup_code(&self) -> Option<&str> {
        self.principals.signup_code.as_deref()
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

    /// Creates a group (and records its roster document) for a plan its lead brought.
    fn create_group(&mut self, group: &str, plan: DocumentId, lead: &str, name: &str) -> bool {
        let Ok(roster) = DocumentId::random() else {
            return false;
        };
        self.tables.groups.insert(
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
        let Some(principal) = self.principals.conns.get(&conn) else {
            return (Access::Hidden, Rule::Unauthenticated);
        };
        if self.boards.retired.contains(doc) {
            return (Access::Hidden, Rule::Retired);
        }
        if let Some(county) = self.boards.board_of.get(doc) {
            // Boards are the relay's to write; readers are the groups sharing there.
            let reads = self.reads_board(principal, county);
            let access = if reads { Access::Read } else { Access::Hidden };
            return (access, Rule::Board { reads });
        }
        let Some(entry) = self.tables.docs.get(doc) else {
            // Known but not held: in a group of no connected device, so not the asker's.
            if self.tables.known.contains(doc) {
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
                .tables
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
        let (device, token_group) = match self.principals.conns.get(&conn) {
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
            if self.tables.groups.contains_key(&id) || self.tables.known.contains(doc) {
                return refused("a plan for a group that already exists");
            }
            if self.principals.signup_code.is_some() && !self.principals.creators.contains(&device)
            {
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
            if self.tables.known.contains(doc) {
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
            self.tables.docs.get(doc),
            self.principals.conns.get(&conn).and_then(Principal::device),
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
