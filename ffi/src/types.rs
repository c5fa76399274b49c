//! The records and enums the SDK passes across the FFI: core's own types where they cross as
//! they are (declared here as uniffi "remote" types, mirroring core's definitions field for
//! field, so the compiler checks they agree; core's read rows keep the names the SDK gave
//! them), and SDK records where a core type cannot cross as it is (maps keyed by id, static
//! strings), each with its one `From`. Core's rows carry vocabulary typed: nothing here parses
//! a stored spelling.

use std::collections::HashMap;

use groundwork_core::identity::Role;
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::plan::{AgendaItem, NewAction, NewMeeting, NewResponse, NewTarget};
use groundwork_core::schema::vocab::{
    ContactResult, ExistingPolicy, Interest, Level, MeetingKind, MeetingStatus, Office, Position,
    Visibility,
};
use groundwork_core::store::index::{ActionRow, ContactRow, MeetingRow, ScorecardRow, TargetRow};
use groundwork_core::sync::connection::ConnectionState;
use groundwork_core::{DeviceInfo, GroupSummary};

// --- core's vocabularies, as native enums ---

/// The level of government an official answers to.
#[uniffi::remote(Enum)]
pub enum Level {
    State,
    County,
    City,
    Town,
    Precinct,
    Campus,
    Other,
}

/// The office an official holds.
#[uniffi::remote(Enum)]
pub enum Office {
    Sheriff,
    PoliceChief,
    PrecinctCommander,
    Mayor,
    CityCouncil,
    StateLegislator,
    SchoolBoard,
    Other,
}

/// Who beyond the group sees a meeting: no one (the campaign sees an official meeting's status
/// and time), the campaign (its place too), or the public map.
#[uniffi::remote(Enum)]
pub enum Visibility {
    Private,
    Shared,
    Public,
}

/// A meeting of the group itself, or one with an official.
#[uniffi::remote(Enum)]
pub enum MeetingKind {
    Organizing,
    Official,
}

/// Where a meeting stands: draft, requested, scheduled, held; or declined, no response,
/// cancelled.
#[uniffi::remote(Enum)]
pub enum MeetingStatus {
    Draft,
    Requested,
    Scheduled,
    Held,
    Declined,
    NoResponse,
    Cancelled,
}

/// Whether a rule is already policy: written, in practice, in part, not at all, or unknown.
#[uniffi::remote(Enum)]
pub enum ExistingPolicy {
    InPlace,
    InPractice,
    Partial,
    None,
    Unknown,
}

/// What an official said they will do about a rule.
#[uniffi::remote(Enum)]
pub enum Position {
    AlreadyInPlace,
    WillSupport,
    SupportsWithChanges,
    WillConsider,
    Opposes,
    NoAnswer,
}

/// What happened at a door.
#[uniffi::remote(Enum)]
pub enum ContactResult {
    Talked,
    NotHome,
    Refused,
    Moved,
    Inaccessible,
    LanguageBarrier,
    WrongAddress,
    Other,
}

/// What a person at the door would like to do next.
#[uniffi::remote(Enum)]
pub enum Interest {
    Attend,
    Host,
    Volunteer,
}

/// What a device may do in a group: a lead runs it, a member edits the plan, a canvasser reads
/// the plan and logs contacts.
#[uniffi::remote(Enum)]
pub enum Role {
    Lead,
    Member,
    Canvasser,
}

/// The code of one of the model rules (R1 to R9, and the optional 1373).
#[uniffi::remote(Enum)]
pub enum RuleCode {
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R1373,
}

/// Where the device's connection to its relay stands.
#[uniffi::remote(Enum)]
pub enum ConnectionState {
    Connecting,
    Connected,
    Waiting,
    Offline,
}

// --- core's input records ---

/// Who this device is: its id (its public key) and the name its owner gave it.
#[uniffi::remote(Record)]
pub struct DeviceInfo {
    pub device_id: String,
    pub name: String,
}

/// An official the group asks to adopt the rules: by `county` (FIPS) and `office`, so groups
/// asking the same official find each other (name and title then default from them), or by
/// name and title alone.
#[uniffi::remote(Record)]
pub struct NewTarget {
    #[uniffi(default = "")]
    pub name: String,
    #[uniffi(default = "")]
    pub title: String,
    #[uniffi(default)]
    pub agency: Option<String>,
    #[uniffi(default)]
    pub jurisdiction: Option<String>,
    #[uniffi(default)]
    pub level: Option<Level>,
    #[uniffi(default)]
    pub county: Option<String>,
    #[uniffi(default)]
    pub office: Option<Office>,
    #[uniffi(default)]
    pub place: Option<String>,
}

/// A new meeting: `target` is required for official meetings; `at` is Unix milliseconds.
#[uniffi::remote(Record)]
pub struct NewMeeting {
    pub kind: MeetingKind,
    pub title: String,
    #[uniffi(default)]
    pub target: Option<String>,
    #[uniffi(default)]
    pub at: Option<i64>,
    #[uniffi(default)]
    pub location: Option<String>,
}

/// A new action item; `due` is an ISO date (YYYY-MM-DD).
#[uniffi::remote(Record)]
pub struct NewAction {
    pub title: String,
    #[uniffi(default)]
    pub assignee: Option<String>,
    #[uniffi(default)]
    pub due: Option<String>,
}

/// An official's answer on one rule.
#[uniffi::remote(Record)]
pub struct NewResponse {
    pub target: String,
    pub rule: RuleCode,
    pub existing: ExistingPolicy,
    pub position: Position,
    #[uniffi(default)]
    pub conditions: Option<String>,
    #[uniffi(default)]
    pub legal_basis: Option<String>,
    #[uniffi(default)]
    pub meeting: Option<String>,
}

/// A contact as a canvasser logs it. Name, phone and email may only be given with `consent`.
#[uniffi::remote(Record)]
pub struct NewContact {
    pub result: ContactResult,
    #[uniffi(default)]
    pub support: Option<u8>,
    #[uniffi(default)]
    pub place: Option<String>,
    #[uniffi(default)]
    pub interests: Vec<Interest>,
    #[uniffi(default)]
    pub follow_up: bool,
    #[uniffi(default)]
    pub note: Option<String>,
    #[uniffi(default)]
    pub consent: bool,
    #[uniffi(default)]
    pub name: Option<String>,
    #[uniffi(default)]
    pub phone: Option<String>,
    #[uniffi(default)]
    pub email: Option<String>,
    #[uniffi(default)]
    pub at: Option<i64>,
}

/// A task someone in the group took on.
#[uniffi::remote(Record)]
pub struct ActionRow {
    pub action_id: String,
    pub title: String,
    pub assignee: Option<String>,
    pub due: Option<String>,
    pub done: bool,
}

// --- core's read rows, under the names the SDK has always given them (fields in the SDK's
// order, new ones last: uniffi matches them by name) ---

/// A group as this device knows it.
#[uniffi::remote(Record)]
#[uniffi(name = "Group")]
pub struct GroupSummary {
    /// Its id.
    pub group_id: String,
    /// Its name.
    pub name: String,
    /// Where it works.
    pub jurisdiction: Option<String>,
    /// This device's role in it.
    pub role: Role,
    /// Whether it shares with the campaign.
    pub shares: bool,
    /// The id of its plan document (a [`DocumentSync`]'s `document_id`).
    pub plan_doc: String,
}

/// An official the group asks.
#[uniffi::remote(Record)]
#[uniffi(name = "Target")]
pub struct TargetRow {
    /// Its id.
    pub target_id: String,
    /// The official's name.
    pub name: String,
    /// Their title.
    pub title: String,
    /// Their agency.
    pub agency: Option<String>,
    /// Their jurisdiction.
    pub jurisdiction: Option<String>,
    /// The level of government.
    pub level: Level,
    /// Its county's FIPS code, if it names one.
    pub county: Option<String>,
    /// Its office, if it names one.
    pub office: Option<Office>,
    /// Its city or precinct.
    pub place: Option<String>,
    /// The key it shares with the same official in other groups (`FIPS/office[/place]`).
    pub official_key: Option<String>,
}

/// A meeting as lists show it.
#[uniffi::remote(Record)]
#[uniffi(name = "MeetingSummary")]
pub struct MeetingRow {
    /// Its id.
    pub meeting_id: String,
    /// Organizing or official.
    pub kind: MeetingKind,
    /// Its title.
    pub title: String,
    /// The official met, for official meetings.
    pub target_id: Option<String>,
    /// When (Unix milliseconds).
    pub at: Option<i64>,
    /// Where.
    pub location: Option<String>,
    /// Where it stands.
    pub status: MeetingStatus,
    /// Who beyond the group sees it.
    pub visibility: Visibility,
    /// How many agenda items it has.
    pub agenda_items: u32,
    /// Its IANA time zone, the one `at` is shown in (`None`: UTC).
    pub zone: Option<String>,
}

/// One cell of the scorecard: a target and a rule, with the answer if one was recorded.
#[uniffi::remote(Record)]
#[uniffi(name = "ScorecardEntry")]
pub struct ScorecardRow {
    /// The target.
    pub target_id: String,
    /// The target's name.
    pub target_name: String,
    /// The rule.
    pub rule: RuleCode,
    /// The rule's title.
    pub rule_title: String,
    /// Whether it is already policy (`Unknown` when nothing was recorded).
    pub existing: ExistingPolicy,
    /// The official's position; none when nothing was recorded.
    pub position: Option<Position>,
    /// Conditions they named.
    pub conditions: Option<String>,
    /// The legal basis they cited.
    pub legal_basis: Option<String>,
    /// When the answer was recorded (Unix milliseconds).
    pub recorded_at: Option<i64>,
}

/// A logged contact.
#[uniffi::remote(Record)]
#[uniffi(name = "Contact")]
pub struct ContactRow {
    /// Its id.
    pub contact_id: String,
    /// When it was logged (Unix milliseconds).
    pub at: i64,
    /// The canvasser's device.
    pub canvasser: String,
    /// A turf name or address.
    pub place: Option<String>,
    /// What happened at the door.
    pub result: ContactResult,
    /// Support, 1 to 5.
    pub support: Option<u8>,
    /// What the person would like to do next.
    pub interests: Vec<Interest>,
    /// Whether someone should follow up.
    pub follow_up: bool,
    /// The canvasser's note.
    pub note: Option<String>,
    /// Name (only recorded with consent).
    pub name: Option<String>,
    /// Phone (only recorded with consent).
    pub phone: Option<String>,
    /// Email (only recorded with consent).
    pub email: Option<String>,
}

/// One item of a meeting's agenda.
#[uniffi::remote(Record)]
pub struct AgendaItem {
    pub id: String,
    pub text: String,
}

// --- the SDK's records ---

/// A county of the directory that ships with the SDK.
#[derive(Clone, Debug, uniffi::Record)]
pub struct County {
    /// Its 5-digit FIPS code.
    pub fips: String,
    /// Its name, e.g. "Travis".
    pub name: String,
    /// Its state's USPS code, e.g. "TX".
    pub state: String,
    /// Its state's name.
    pub state_name: String,
}

impl From<&groundwork_core::places::County> for County {
    fn from(c: &groundwork_core::places::County) -> Self {
        County {
            fips: c.fips.into(),
            name: c.name.into(),
            state: c.state.into(),
            state_name: c.state_name.into(),
        }
    }
}

/// A whole meeting: its agenda, roles and notes.
#[derive(Clone, Debug, uniffi::Record)]
pub struct Meeting {
    /// Its id.
    pub meeting_id: String,
    /// Organizing or official.
    pub kind: MeetingKind,
    /// Its title.
    pub title: String,
    /// The official met, for official meetings.
    pub target_id: Option<String>,
    /// When (Unix milliseconds).
    pub at: Option<i64>,
    /// Where.
    pub location: Option<String>,
    /// Who hosts it.
    pub host: Option<String>,
    /// Roles (facilitator, note taker...) and who holds them.
    pub roles: HashMap<String, String>,
    /// The agenda, in order.
    pub agenda: Vec<AgendaItem>,
    /// Who came.
    pub attendees: Vec<String>,
    /// Where it stands.
    pub status: MeetingStatus,
    /// Who beyond the group sees it.
    pub visibility: Visibility,
    /// The shared notes.
    pub notes: String,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
}

/// Which contacts to list, newest first, a page at a time.
#[derive(Clone, Debug, Default, uniffi::Record)]
pub struct ContactFilter {
    /// Only contacts with this result.
    #[uniffi(default)]
    pub result: Option<ContactResult>,
    /// At most this many (0 means 50).
    #[uniffi(default)]
    pub limit: u32,
    /// Start after this contact (the last of the previous page).
    #[uniffi(default)]
    pub after: Option<String>,
}

/// A member of a group, as the roster the relay keeps shows them.
#[derive(Clone, Debug, uniffi::Record)]
pub struct Member {
    /// Their device.
    pub device_id: String,
    /// The device's name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// When they joined (Unix milliseconds).
    pub joined_at: i64,
    /// When they were removed, if they were.
    pub removed_at: Option<i64>,
}

/// A signed invite to pass on (as a QR code, a message...).
#[derive(Clone, Debug, uniffi::Record)]
pub struct InviteCode {
    /// The code to give the invitee.
    pub code: String,
    /// The app-scheme join link (`groundwork://join?invite=...`) carrying the code, for an app
    /// that registers the scheme; [`crate::store::GroundworkStore::join`] takes it, the web
    /// link or the code alike.
    pub link: String,
    /// The link to share (`https://RELAY/join#CODE`, what `invite create --qr` draws): on any
    /// phone it opens the relay's web app, which joins; the code rides in the fragment, which
    /// reaches no server log. `None` when the invite names no relay.
    pub web_link: Option<String>,
    /// The relay the invite names (signed with it), if this device knew one.
    pub relay: Option<String>,
    /// The role it grants.
    pub role: Role,
    /// How many devices may redeem it.
    pub uses: u32,
    /// Until when it can be redeemed (Unix milliseconds).
    pub expires_at: i64,
}

/// A group joined with an invite.
#[derive(Clone, Debug, uniffi::Record)]
pub struct Joined {
    /// The group.
    pub group_id: String,
    /// This device's role in it.
    pub role: Role,
    /// Whether the group's data arrived already (if not, the next sync brings it).
    pub synced: bool,
}

/// One model rule.
#[derive(Clone, Debug, uniffi::Record)]
pub struct Rule {
    /// Its code.
    pub code: RuleCode,
    /// Its title in the model rules.
    pub title: String,
    /// A one-line summary.
    pub summary: String,
}

/// What kind of document changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum DocumentKind {
    /// The plan: targets, meetings, action items, rule responses (on a canvasser's device, the
    /// brief the relay writes for canvassers: targets and the meetings shown to them).
    Plan,
    /// A canvasser's contacts.
    Contacts,
    /// Who is in the group.
    Roster,
    /// The board of a county the group has an official in.
    Board,
}

impl From<groundwork_core::schema::DocKind> for DocumentKind {
    fn from(kind: groundwork_core::schema::DocKind) -> Self {
        use groundwork_core::schema::DocKind as K;
        match kind {
            // A canvasser's brief is its view of the plan (targets, meetings shown to it):
            // apps refresh the same lists for it.
            K::Plan | K::Brief => Self::Plan,
            K::Contacts => Self::Contacts,
            K::Roster => Self::Roster,
            K::Board => Self::Board,
        }
    }
}

/// Where a change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// An edit made through this store.
    Local,
    /// Edits of other devices, received from the relay.
    Relay,
    /// This device was removed from the group and deleted its data.
    Wiped,
}

/// Something in a group (or a board) changed: lists showing it should be read again.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct ChangeEvent {
    /// The group; `None` when a county board changed (kind `Board`), which belongs to no
    /// group: read `boards()` again.
    pub group_id: Option<String>,
    /// The kind of document that changed.
    pub kind: DocumentKind,
    /// Where the change came from.
    pub origin: ChangeOrigin,
}

/// Where syncing stands, as observers see it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// The relay, once a sync was started.
    pub relay: Option<String>,
    /// The connection's state.
    pub state: ConnectionState,
    /// Whether this device and the relay are in step: each has everything of the other's that
    /// it may read. It turns false as soon as an edit is saved here (until it is sent) and when
    /// the connection drops (the others may be editing); a `sync_once` that ends in step sets
    /// it while no connection is kept.
    pub synced: bool,
    /// Documents synced at the last `synced`.
    pub documents: u32,
    /// Failed attempts since the last successful connection.
    pub attempt: u32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When the next attempt is due (Unix milliseconds), while waiting.
    pub retry_at: Option<i64>,
}

impl SyncStatus {
    /// No sync running.
    pub(crate) fn offline() -> Self {
        SyncStatus {
            relay: None,
            state: ConnectionState::Offline,
            synced: false,
            documents: 0,
            attempt: 0,
            last_error: None,
            retry_at: None,
        }
    }
}

/// One document's sync standing.
#[derive(Clone, Debug, uniffi::Record)]
pub struct DocumentSync {
    /// The document.
    pub document_id: String,
    /// Its group; `None` for a county board, which belongs to no group.
    pub group_id: Option<String>,
    /// Its kind.
    pub kind: DocumentKind,
    /// Whether the relay has everything this device has of it.
    pub synced: bool,
    /// When the relay last confirmed it (Unix milliseconds).
    pub synced_at: Option<i64>,
}

/// The honest answer to "is everything sent?": the connection as last recorded, and each
/// document's standing.
#[derive(Clone, Debug, uniffi::Record)]
pub struct StoreStatus {
    /// The connection as last recorded (also by a sync that has since stopped).
    pub connection: Option<SyncStatus>,
    /// Each document's standing.
    pub documents: Vec<DocumentSync>,
    /// How many of them the relay has in full.
    pub synced: u32,
}

/// What one `sync_once` did.
#[derive(Clone, Debug, uniffi::Record)]
pub struct SyncReport {
    /// Whether every document ended synced both ways.
    pub synced: bool,
    /// Documents synced.
    pub documents: u32,
    /// Documents not synced when it ended.
    pub pending: u32,
    /// Documents that changed here because of the relay.
    pub received_changes: u32,
    /// Network round trips it took.
    pub round_trips: u32,
    /// How long it took, in milliseconds.
    pub millis: u64,
    /// Groups this device was removed from, whose data it deleted on the relay's order.
    pub wiped: Vec<String>,
}

// --- conversions ---

fn count(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

impl From<groundwork_core::schema::plan::Meeting> for Meeting {
    fn from(m: groundwork_core::schema::plan::Meeting) -> Self {
        Meeting {
            meeting_id: m.id,
            kind: m.kind,
            title: m.title,
            target_id: m.target,
            at: m.at,
            location: m.location,
            host: m.host,
            roles: m.roles.into_iter().collect(),
            agenda: m.agenda,
            attendees: m.attendees,
            status: m.status,
            visibility: m.visibility,
            notes: m.notes.as_str().to_owned(),
            created_at: m.created_at,
        }
    }
}

impl From<ContactFilter> for groundwork_core::store::index::ContactQuery {
    fn from(f: ContactFilter) -> Self {
        groundwork_core::store::index::ContactQuery {
            result: f.result,
            limit: f.limit,
            after: f.after,
        }
    }
}

impl From<groundwork_core::sync::connection::ConnectionRecord> for SyncStatus {
    fn from(r: groundwork_core::sync::connection::ConnectionRecord) -> Self {
        SyncStatus {
            relay: Some(r.relay),
            state: r.state,
            synced: false,
            documents: 0,
            attempt: r.attempt,
            last_error: r.last_error,
            retry_at: r.retry_at,
        }
    }
}

impl From<groundwork_core::net::SyncSummary> for SyncReport {
    fn from(s: groundwork_core::net::SyncSummary) -> Self {
        SyncReport {
            synced: s.synced,
            documents: count(s.documents),
            pending: count(s.pending.len()),
            received_changes: count(s.received_changes),
            round_trips: s.round_trips,
            millis: s.millis,
            wiped: s.wiped,
        }
    }
}

impl From<&groundwork_core::rules::Rule> for Rule {
    fn from(r: &groundwork_core::rules::Rule) -> Self {
        Rule {
            code: r.code,
            title: r.title.to_owned(),
            summary: r.summary.to_owned(),
        }
    }
}

/// A county's board, as last synced: every sharing group's officials there, who asks them,
/// their meetings and the latest answer per rule.
#[derive(Clone, Debug, uniffi::Record)]
pub struct Board {
    /// The county's FIPS code.
    pub county: String,
    /// Its name and state, e.g. "Riverside, CA".
    pub county_name: String,
    /// The officials, by key.
    pub officials: Vec<BoardOfficial>,
}

/// An official on a board.
#[derive(Clone, Debug, uniffi::Record)]
pub struct BoardOfficial {
    /// `FIPS/office[/place]`.
    pub key: String,
    /// The office.
    pub office: Office,
    /// The city or precinct.
    pub place: Option<String>,
    /// Their name.
    pub name: String,
    /// Their title.
    pub title: String,
    /// The groups asking, by name.
    pub groups: Vec<String>,
    /// Meetings requested or set with them.
    pub meetings: Vec<BoardMeeting>,
    /// The latest answer per rule.
    pub answers: Vec<BoardAnswer>,
}

/// A group's meeting on a board.
#[derive(Clone, Debug, uniffi::Record)]
pub struct BoardMeeting {
    /// The group's name.
    pub group_name: String,
    /// Where it stands.
    pub status: MeetingStatus,
    /// When (Unix milliseconds).
    pub at: Option<i64>,
    /// Where, when the group shared it.
    pub place: Option<String>,
}

/// The latest answer on a rule, and who reported it.
#[derive(Clone, Debug, uniffi::Record)]
pub struct BoardAnswer {
    /// The rule.
    pub rule: RuleCode,
    /// Whether it is already policy.
    pub existing: ExistingPolicy,
    /// The official's position.
    pub position: Position,
    /// Conditions they named.
    pub conditions: Option<String>,
    /// The reporting group's name.
    pub group_name: String,
    /// When it was recorded (Unix milliseconds).
    pub recorded_at: i64,
}

impl From<groundwork_core::schema::board::Board> for Board {
    fn from(b: groundwork_core::schema::board::Board) -> Self {
        Board {
            county: b.board_of,
            county_name: b.county_name,
            officials: b
                .officials
                .into_iter()
                .map(|(key, o)| {
                    let mut groups: Vec<String> = o.groups.into_values().collect();
                    groups.sort();
                    BoardOfficial {
                        key,
                        office: o.office,
                        place: o.place,
                        name: o.name,
                        title: o.title,
                        groups,
                        meetings: o
                            .meetings
                            .into_values()
                            .map(|m| BoardMeeting {
                                group_name: m.group_name,
                                status: m.status,
                                at: m.at,
                                place: m.place,
                            })
                            .collect(),
                        answers: o
                            .answers
                            .into_values()
                            .map(|a| BoardAnswer {
                                rule: a.rule,
                                existing: a.existing,
                                position: a.position,
                                conditions: a.conditions,
                                group_name: a.group_name,
                                recorded_at: a.recorded_at,
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}
