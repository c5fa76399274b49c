//! What a group shares with the campaign, and the shapes campaign staff read. The one place
//! that decides what leaves a group: [`Shared::of`] takes a plan and keeps only what the group
//! chose to share (nothing at all when its sharing is off): its officials (by county and
//! office), its official meetings' status and time (the place only when the meeting is shared
//! or public, the title only when public), and its rule responses. Of canvassing, only counts
//! by result and support level ([`canvass_counts`]). Never a contact's name, phone, email or
//! note, never meeting notes, agendas or organizing meetings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::RuleCode;
use crate::schema::contacts::ContactsDoc;
use crate::schema::plan::Plan;
use crate::schema::vocab::{
    ContactResult, ExistingPolicy, MeetingKind, MeetingStatus, Office, Position, Visibility,
};

/// What one group shares, derived from its plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    /// The group.
    pub group_id: String,
    /// Its name, as other groups and staff see it.
    pub group_name: String,
    /// The officials it asks (targets named by county and office), one per official.
    pub officials: Vec<SharedOfficial>,
    /// Its meetings with those officials.
    pub meetings: Vec<SharedMeeting>,
    /// Its latest answer per official and rule.
    pub answers: Vec<SharedAnswer>,
}

/// An official a group asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedOfficial {
    /// `FIPS/office[/place]`.
    pub key: String,
    /// The county's FIPS code.
    pub county: String,
    /// The office.
    pub office: Office,
    /// The city or precinct.
    pub place: Option<String>,
    /// The official's name, as the group wrote it.
    pub name: String,
    /// Their title.
    pub title: String,
}

/// A group's meeting with an official.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedMeeting {
    /// The meeting's id in the group's plan.
    pub meeting_id: String,
    /// The official.
    pub official: String,
    /// Where it stands.
    pub status: MeetingStatus,
    /// When (Unix ms), once known.
    pub at: Option<i64>,
    /// Its IANA time zone ([`Plan::meeting_zone`]): what its time is shown in.
    pub zone: Option<String>,
    /// Where: only for a shared or public meeting.
    pub place: Option<String>,
    /// Its title: only for a public meeting.
    pub title: Option<String>,
    /// Who may see it.
    pub visibility: Visibility,
    /// The board meeting (`GROUP/MEETING`) it is the same as, if the office combined them.
    pub joins: Option<String>,
}

/// A group's answer from an official on one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedAnswer {
    /// The official.
    pub official: String,
    /// The rule.
    pub rule: RuleCode,
    /// Whether it is already policy.
    pub existing: ExistingPolicy,
    /// The official's position.
    pub position: Position,
    /// Conditions they named.
    pub conditions: Option<String>,
    /// The legal basis they cited.
    pub legal_basis: Option<String>,
    /// When the group recorded it (Unix ms).
    pub recorded_at: i64,
}

/// The parts of a plan document [`Shared::of`] reads, hydrated without the rest: a meeting's
/// notes, agenda, roles and attendees never leave the document on this path.
#[derive(autosurgeon::Hydrate)]
struct SharedView {
    group_id: String,
    profile: ProfileView,
    targets: BTreeMap<String, crate::schema::plan::Target>,
    meetings: BTreeMap<String, MeetingView>,
    responses: BTreeMap<String, crate::schema::plan::RuleResponse>,
}

#[derive(autosurgeon::Hydrate)]
struct ProfileView {
    name: String,
    #[autosurgeon(missing = "yes")]
    shares: bool,
    // The group's zone and where it works: a meeting from before zones takes its zone from
    // them when its official's county gives none.
    #[autosurgeon(missing = "Default::default")]
    jurisdiction: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    zone: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(autosurgeon::Hydrate)]
struct MeetingView {
    id: String,
    kind: MeetingKind,
    title: String,
    #[autosurgeon(missing = "Default::default")]
    target: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    at: Option<i64>,
    #[autosurgeon(missing = "Default::default")]
    zone: Option<String>,
    #[autosurgeon(missing = "Default::default")]
    location: Option<String>,
    status: MeetingStatus,
    #[autosurgeon(missing = "Default::default")]
    visibility: Visibility,
    #[autosurgeon(missing = "Default::default")]
    joins: Option<String>,
}

impl Shared {
    /// What the group of a plan document shares (`None` when its sharing is off), reading
    /// only the fields that can be shared.
    pub fn of_doc(doc: &automerge::AutoCommit, doc_id: &str) -> crate::Result<Option<Shared>> {
        let v: SharedView = crate::schema::hydrate(doc, doc_id, crate::schema::DocKind::Plan)?;
        let mut plan = Plan::new(&v.group_id, &v.profile.name, v.profile.jurisdiction, "", 0)?;
        plan.profile.shares = v.profile.shares;
        if v.profile.zone.is_some() {
            plan.profile.zone = v.profile.zone;
        }
        plan.targets = v.targets;
        plan.responses = v.responses;
        for (key, m) in v.meetings {
            let meeting = crate::schema::plan::Meeting {
                id: m.id,
                kind: m.kind,
                title: m.title,
                target: m.target,
                at: m.at,
                zone: m.zone,
                location: m.location,
                host: None,
                roles: BTreeMap::new(),
                agenda: Vec::new(),
                attendees: Vec::new(),
                status: m.status,
                visibility: m.visibility,
                canvassers: false,
                joins: m.joins,
                notes: autosurgeon::Text::default(),
                created_at: 0,
            };
            plan.meetings.insert(key, meeting);
        }
        Ok(Shared::of(&plan))
    }

    /// What `plan`'s group shares; `None` when its sharing is off.
    pub fn of(plan: &Plan) -> Option<Shared> {
        if !plan.profile.shares {
            return None;
        }
        // Targets named by county and office; two targets of one group naming the same
        // official are one official (the first by id names it).
        let mut key_of = BTreeMap::new();
        let mut officials: BTreeMap<String, SharedOfficial> = BTreeMap::new();
        for t in plan.targets.values() {
            let (Some(key), Some(county), Some(office)) =
                (t.official_key(), t.county.clone(), t.office)
            else {
                continue;
            };
            key_of.insert(t.id.clone(), key.clone());
            officials.entry(key.clone()).or_insert(SharedOfficial {
                key,
                county,
                office,
                place: t.place.clone(),
                name: t.name.clone(),
                title: t.title.clone(),
            });
        }
        let meetings = plan
            .meetings
            .values()
            .filter(|m| m.kind == MeetingKind::Official)
            .filter_map(|m| {
                let official = key_of.get(m.target.as_deref()?)?.clone();
                let open = matches!(m.visibility, Visibility::Shared | Visibility::Public);
                Some(SharedMeeting {
                    meeting_id: m.id.clone(),
                    official,
                    status: m.status,
                    at: m.at,
                    zone: plan.meeting_zone(m),
                    place: if open { m.location.clone() } else { None },
                    title: (m.visibility == Visibility::Public).then(|| m.title.clone()),
                    visibility: m.visibility,
                    joins: m.joins.clone(),
                })
            })
            .collect();
        let mut answers: BTreeMap<(String, RuleCode), SharedAnswer> = BTreeMap::new();
        for r in plan.responses.values() {
            let Some(official) = key_of.get(&r.target) else {
                continue;
            };
            let answer = SharedAnswer {
                official: official.clone(),
                rule: r.rule,
                existing: r.existing,
                position: r.position,
                conditions: r.conditions.clone(),
                legal_basis: r.legal_basis.clone(),
                recorded_at: r.recorded_at,
            };
            let slot = answers.entry((official.clone(), r.rule));
            match slot {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(answer);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    if (answer.recorded_at, &answer.position)
                        > (o.get().recorded_at, &o.get().position)
                    {
                        o.insert(answer);
                    }
                }
            }
        }
        Some(Shared {
            group_id: plan.group_id.clone(),
            group_name: plan.profile.name.clone(),
            officials: officials.into_values().collect(),
            meetings,
            answers: answers.into_values().collect(),
        })
    }
}

/// Whether a plan document's sharing choices (the group's `shares`, any meeting's
/// `visibility`) differ between `before` and now: changes only a lead may make. Fields a plan
/// lacks read as their defaults (sharing on, meetings private).
pub fn sharing_changed(doc: &automerge::AutoCommit, before: &[automerge::ChangeHash]) -> bool {
    use automerge::ReadDoc;
    let scalar = |v: Option<(automerge::Value<'_>, automerge::ObjId)>| match v {
        Some((automerge::Value::Scalar(s), _)) => Some(s.into_owned()),
        _ => None,
    };
    let shares = |heads: Option<&[automerge::ChangeHash]>| -> bool {
        let profile = match heads {
            Some(h) => doc.get_at(automerge::ROOT, "profile", h),
            None => doc.get(automerge::ROOT, "profile"),
        };
        let Ok(Some((_, profile))) = profile else {
            return true;
        };
        let v = match heads {
            Some(h) => doc.get_at(&profile, "shares", h),
            None => doc.get(&profile, "shares"),
        };
        !matches!(
            scalar(v.ok().flatten()),
            Some(automerge::ScalarValue::Boolean(false))
        )
    };
    if shares(Some(before)) != shares(None) {
        return true;
    }
    // How long the group keeps contacts is its leads' choice too.
    let retention = |heads: Option<&[automerge::ChangeHash]>| {
        let profile = match heads {
            Some(h) => doc.get_at(automerge::ROOT, "profile", h),
            None => doc.get(automerge::ROOT, "profile"),
        };
        let Ok(Some((_, profile))) = profile else {
            return None;
        };
        let v = match heads {
            Some(h) => doc.get_at(&profile, "retention_months", h),
            None => doc.get(&profile, "retention_months"),
        };
        scalar(v.ok().flatten())
    };
    if retention(Some(before)) != retention(None) {
        return true;
    }
    let Ok(Some((_, meetings))) = doc.get(automerge::ROOT, "meetings") else {
        return false;
    };
    // Who sees a meeting: its visibility (a scalar string, or a text object as JavaScript
    // writes one: both count) and whether canvassers are shown it.
    let seen_by = |meeting: &automerge::ObjId, heads: Option<&[automerge::ChangeHash]>| {
        let get = |key: &str| match heads {
            Some(h) => doc.get_at(meeting, key, h),
            None => doc.get(meeting, key),
        };
        let visibility = match get("visibility").ok().flatten() {
            Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
                automerge::ScalarValue::Str(s) => s.to_string(),
                _ => "private".to_owned(),
            },
            Some((automerge::Value::Object(automerge::ObjType::Text), text)) => match heads {
                Some(h) => doc.text_at(&text, h).unwrap_or_default(),
                None => doc.text(&text).unwrap_or_default(),
            },
            _ => "private".to_owned(),
        };
        let canvassers = matches!(
            scalar(get("canvassers").ok().flatten()),
            Some(automerge::ScalarValue::Boolean(true))
        );
        (visibility, canvassers)
    };
    doc.map_range(&meetings, ..).any(|item| {
        let id = item.id();
        let was = match doc.get_at(&meetings, item.key.as_ref(), before) {
            Ok(Some((_, obj))) => seen_by(&obj, Some(before)),
            _ => ("private".to_owned(), false),
        };
        was != seen_by(&id, None)
    })
}

/// A contacts document's counts by result and support level: all the campaign sees of
/// canvassing. `(result, support, count)`, in order.
pub fn canvass_counts(doc: &ContactsDoc) -> Vec<(ContactResult, Option<u8>, u64)> {
    let mut counts: BTreeMap<(ContactResult, Option<u8>), u64> = BTreeMap::new();
    for c in doc.contacts.values() {
        *counts.entry((c.result, c.support)).or_default() += 1;
    }
    counts.into_iter().map(|((r, s), n)| (r, s, n)).collect()
}

/// Whether every operation of `changes` writes to the text of a meeting's notes in `doc` (the
/// plan as it is with them). Notes are never shared and never briefed, so such changes (most
/// of a meeting's co-editing) leave the campaign index and the canvassers' brief as they
/// were, and the relay need not derive either again. Conservative: an operation on anything
/// else, or a change with no operations, answers `false`.
pub fn only_meeting_notes(doc: &automerge::AutoCommit, changes: &[automerge::Change]) -> bool {
    use automerge::ReadDoc;
    let Ok(Some((_, meetings))) = doc.get(automerge::ROOT, "meetings") else {
        return false;
    };
    // Every notes text of every meeting, conflicting ones included: "counter@actor".
    let mut notes = std::collections::BTreeSet::new();
    for meeting in doc.keys(&meetings) {
        let Ok(Some((_, meeting))) = doc.get(&meetings, meeting.as_str()) else {
            continue;
        };
        for (value, id) in doc.get_all(&meeting, "notes").unwrap_or_default() {
            if matches!(value, automerge::Value::Object(automerge::ObjType::Text)) {
                notes.insert(id.to_string());
            }
        }
    }
    let mut any = false;
    for change in changes {
        for op in change.decode().operations {
            if !notes.contains(&op.obj.to_string()) {
                return false;
            }
            any = true;
        }
    }
    any
}

/// The contacts that `changes` (applied to `doc`, a contacts document) created, with their
/// result and support level as `doc` has them now: what the campaign's counts need of a
/// change, found from its operations, so the work follows the change and not the document.
/// Contacts are logged once and not edited, so a change's new contact maps are all it adds.
///
/// The common case (a contact made once, each field put once, nothing deleted) is read from
/// the operations alone; anything else (a field put twice, a contact deleted or made twice
/// in the batch) is read from `doc`. Looking every contact and field up in the document was
/// a tenth of the relay's CPU on a canvass day. What this cannot see is a second map made
/// under the same id outside the batch, concurrently: only a modified client writing its
/// own document from two actors could, and it would count its own contacts twice.
pub fn touched_contacts(
    doc: &automerge::AutoCommit,
    changes: &[automerge::Change],
) -> Vec<(String, ContactResult, Option<u8>)> {
    use automerge::ReadDoc;
    use automerge::legacy::{Key, OpType};
    let Ok(Some((_, contacts))) = doc.get(automerge::ROOT, "contacts") else {
        return Vec::new();
    };
    let contacts_id = contacts.to_string();
    // The contact maps made, by object id ("counter@actor"), and their id in the map.
    let mut made: BTreeMap<String, String> = BTreeMap::new();
    // How often each id was made or deleted in the contacts map: once and never is the rule.
    let mut touched: BTreeMap<String, (u32, bool)> = BTreeMap::new();
    // What was put in each object's "result" and "support", in the order of the changes.
    let mut puts: BTreeMap<(String, &'static str), Vec<automerge::ScalarValue>> = BTreeMap::new();
    for change in changes {
        let change = change.decode();
        for (i, op) in change.operations.into_iter().enumerate() {
            let Key::Map(key) = &op.key else { continue };
            let in_contacts = || op.obj.to_string() == contacts_id;
            match op.action {
                OpType::Make(_) if in_contacts() => {
                    let id = format!("{}@{}", change.start_op.get() + i as u64, change.actor_id);
                    touched.entry(key.to_string()).or_default().0 += 1;
                    made.insert(id, key.to_string());
                }
                OpType::Delete if in_contacts() => {
                    touched.entry(key.to_string()).or_default().1 = true;
                }
                OpType::Put(value) => {
                    let field = match key.as_str() {
                        "result" => "result",
                        "support" => "support",
                        _ => continue,
                    };
                    puts.entry((op.obj.to_string(), field))
                        .or_default()
                        .push(value);
                }
                _ => {}
            }
        }
    }
    // From the document: a field, if the contact is still there and this map the one that won.
    let from_doc = |id: &str, oid: &str, name: &str| {
        let (_, obj) = doc.get(&contacts, id).ok()??;
        if obj.to_string() != oid {
            return None;
        }
        match doc.get(&obj, name).ok()?? {
            (automerge::Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    };
    made.into_iter()
        .filter_map(|(oid, id)| {
            // Made once and kept: what the batch put is all the map holds (a put before its
            // make cannot be, and a later one is a later batch's).
            let plain = touched.get(&id) == Some(&(1, false));
            let field = |name: &'static str| match (
                plain,
                puts.get(&(oid.clone(), name)).map(Vec::as_slice),
            ) {
                (true, None) => None,
                (true, Some([one])) => Some(one.clone()),
                _ => from_doc(&id, &oid, name),
            };
            let result = field("result")?.as_str()?.parse::<ContactResult>().ok()?;
            let support = match field("support") {
                Some(automerge::ScalarValue::Int(n)) => u8::try_from(n).ok(),
                Some(automerge::ScalarValue::Uint(n)) => u8::try_from(n).ok(),
                _ => None,
            };
            Some((id, result, support))
        })
        .collect()
}

/// An official as campaign staff see them: who they are, which groups ask them, and the
/// latest answer per rule across those groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Official {
    /// `FIPS/office[/place]`.
    pub key: String,
    /// The county's FIPS code.
    pub county: String,
    /// The county's name and state, e.g. "Travis, TX".
    pub county_name: String,
    /// The state's USPS code.
    pub state: String,
    /// The office.
    pub office: Office,
    /// The city or precinct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    /// The official's name, as the most recently updated group wrote it.
    pub name: String,
    /// Their title.
    pub title: String,
    /// The groups asking them, by name.
    pub groups: Vec<String>,
    /// The latest answer per rule, and who reported it.
    pub answers: Vec<Report>,
}

/// One group's report of an official's answer on one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The rule.
    pub rule: RuleCode,
    /// Whether it is already policy.
    pub existing: ExistingPolicy,
    /// The official's position.
    pub position: Position,
    /// Conditions they named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    /// The legal basis they cited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// The reporting group.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// When the group recorded it (Unix ms).
    pub recorded_at: i64,
}

/// An official's page: every sharing group's reports and meetings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficialDetail {
    /// Who they are, with the latest answers.
    pub official: Official,
    /// Every group's report, per rule and group.
    pub reports: Vec<Report>,
    /// Every group's meetings with them.
    pub meetings: Vec<MeetingReport>,
}

/// A group's meeting with an official, as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingReport {
    /// The group.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// Where it stands.
    pub status: MeetingStatus,
    /// When (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    /// Its IANA time zone, e.g. "America/Los_Angeles" (none: UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Its time in that zone, RFC 3339 with the day's offset (`2026-12-15T18:30:00-08:00`):
    /// [`crate::time::local_rfc3339`] of `at`, for readers of the JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    /// Where, when the group shared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

/// Which officials a staff query wants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficialFilter {
    /// Only this state (USPS code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Only this office.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<Office>,
    /// Only officials with at least one latest answer in this position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// Writes officials' latest answers as CSV, one row per official and rule, with a header:
/// the campaign's matrix as a spreadsheet (the CLI's `campaign export` and the dashboard's
/// download write the same rows), every cell safe to open in a spreadsheet
/// ([`crate::export::CsvWriter`]). Returns how many rows follow the header.
pub fn write_matrix_csv(rows: &[Official], out: impl std::io::Write) -> crate::Result<usize> {
    let mut w = crate::export::CsvWriter::new(out);
    w.write_row([
        "official_key",
        "county",
        "county_name",
        "state",
        "office",
        "place",
        "name",
        "title",
        "rule",
        "existing",
        "position",
        "conditions",
        "legal_basis",
        "reported_by",
        "recorded_at",
    ])?;
    let mut n = 0;
    for o in rows {
        for a in &o.answers {
            w.write_row([
                o.key.as_str(),
                &o.county,
                &o.county_name,
                &o.state,
                o.office.as_str(),
                o.place.as_deref().unwrap_or(""),
                &o.name,
                &o.title,
                a.rule.as_str(),
                a.existing.as_str(),
                a.position.as_str(),
                a.conditions.as_deref().unwrap_or(""),
                a.legal_basis.as_deref().unwrap_or(""),
                &a.group_name,
                &crate::time::format_rfc3339(a.recorded_at),
            ])?;
            n += 1;
        }
    }
    w.finish()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::plan::{NewMeeting, NewResponse, NewTarget};

    fn plan() -> crate::Result<Plan> {
        let mut p = Plan::new("g", "Riverside", None, "d", 0)?;
        p.add_target(
            "sheriff",
            NewTarget {
                county: Some("06065".into()),
                office: Some(Office::Sheriff),
                ..NewTarget::default()
            },
        )?;
        p.add_target(
            "free-text",
            NewTarget {
                name: "Someone".into(),
                title: "Chief".into(),
                ..NewTarget::default()
            },
        )?;
        for (id, target) in [("m1", "sheriff"), ("m2", "free-text")] {
            p.create_meeting(
                id,
                NewMeeting {
                    kind: MeetingKind::Official,
                    title: "Ask".into(),
                    target: Some(target.into()),
                    at: Some(5),
                    location: Some("County building".into()),
                },
                1,
            )?;
        }
        p.create_meeting(
            "m3",
            NewMeeting {
                kind: MeetingKind::Organizing,
                title: "Our own".into(),
                target: None,
                at: None,
                location: Some("A member's home".into()),
            },
            1,
        )?;
        p.append_notes("m1", "private notes")?;
        for target in ["sheriff", "free-text"] {
            p.record_response(
                NewResponse {
                    target: target.into(),
                    rule: RuleCode::R1,
                    existing: ExistingPolicy::None,
                    position: Position::WillSupport,
                    conditions: Some("if 'shall' read 'should'".into()),
                    legal_basis: None,
                    meeting: None,
                },
                "d",
                9,
            )?;
        }
        Ok(p)
    }

    #[test]
    fn a_group_shares_its_officials_meetings_and_answers_and_nothing_else() -> crate::Result<()> {
        let mut p = plan()?;
        let shared = Shared::of(&p).ok_or(crate::Error::Random("not shared".into()))?;
        assert_eq!(
            shared.officials.len(),
            1,
            "free-text targets have no official key"
        );
        assert_eq!(shared.officials[0].key, "06065/sheriff");
        assert_eq!(
            shared.meetings.len(),
            1,
            "only official meetings with a keyed official"
        );
        // Private by default: status and time, no place, no title.
        assert_eq!(
            (shared.meetings[0].at, &shared.meetings[0].place),
            (Some(5), &None)
        );
        assert_eq!(shared.meetings[0].title, None);
        assert_eq!(shared.answers.len(), 1);
        assert_eq!(shared.answers[0].position, Position::WillSupport);
        p.set_meeting_visibility("m1", Visibility::Shared)?;
        let shared = Shared::of(&p).ok_or(crate::Error::Random("not shared".into()))?;
        assert_eq!(shared.meetings[0].place.as_deref(), Some("County building"));
        assert_eq!(shared.meetings[0].title, None);
        p.set_meeting_visibility("m1", Visibility::Public)?;
        let shared = Shared::of(&p).ok_or(crate::Error::Random("not shared".into()))?;
        assert_eq!(shared.meetings[0].title.as_deref(), Some("Ask"));
        let all = format!("{shared:?}");
        for private in ["private notes", "A member's home", "Our own", "Someone"] {
            assert!(!all.contains(private), "{private:?} left the group: {all}");
        }
        let mut doc = crate::schema::new_doc();
        crate::schema::reconcile(&mut doc, &p, "g", crate::schema::DocKind::Plan)?;
        assert_eq!(
            Shared::of_doc(&doc, "g")?,
            Shared::of(&p),
            "the projection reads the same"
        );
        p.set_sharing(false);
        assert_eq!(Shared::of(&p), None);
        crate::schema::reconcile(&mut doc, &p, "g", crate::schema::DocKind::Plan)?;
        assert_eq!(Shared::of_doc(&doc, "g")?, None);
        Ok(())
    }

    /// A second meeting with the sheriff, "m4", private and without a time or place.
    fn another_meeting(p: &mut Plan) -> crate::Result<()> {
        p.create_meeting(
            "m4",
            NewMeeting {
                kind: MeetingKind::Official,
                title: "Another".into(),
                target: Some("sheriff".into()),
                at: None,
                location: None,
            },
            2,
        )?;
        Ok(())
    }

    #[test]
    fn sharing_changes_are_told_from_other_edits() -> crate::Result<()> {
        use crate::schema::{self, DocKind};
        let mut p = plan()?;
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &p, "g", DocKind::Plan)?;
        let step = |p: &Plan, doc: &mut automerge::AutoCommit| -> crate::Result<bool> {
            let before = doc.get_heads();
            schema::reconcile(doc, p, "g", DocKind::Plan)?;
            Ok(sharing_changed(doc, &before))
        };
        p.add_agenda_item("m1", "a1", "Question 1")?;
        p.append_notes("m1", "more")?;
        assert!(
            !step(&p, &mut doc)?,
            "an agenda item is not a sharing change"
        );
        p.set_meeting_visibility("m2", Visibility::Public)?;
        assert!(step(&p, &mut doc)?);
        p.set_sharing(false);
        assert!(step(&p, &mut doc)?);
        another_meeting(&mut p)?;
        assert!(
            !step(&p, &mut doc)?,
            "a new private meeting shares nothing new"
        );
        p.set_meeting_canvassers("m4", true)?;
        assert!(
            step(&p, &mut doc)?,
            "showing a meeting to canvassers is one"
        );
        // A visibility written as JavaScript writes strings (a text object) counts too.
        use automerge::ReadDoc;
        use automerge::transaction::Transactable;
        let before = doc.get_heads();
        let Some((_, meetings)) = doc.get(automerge::ROOT, "meetings")? else {
            return Err(crate::Error::Random("no meetings".into()));
        };
        let Some((_, m4)) = doc.get(&meetings, "m4")? else {
            return Err(crate::Error::Random("no m4".into()));
        };
        let text = doc.put_object(&m4, "visibility", automerge::ObjType::Text)?;
        doc.splice_text(&text, 0, 0, "public")?;
        doc.commit();
        assert!(sharing_changed(&doc, &before));
        Ok(())
    }

    #[test]
    fn only_meeting_notes_is_told_from_every_other_edit() -> crate::Result<()> {
        use crate::schema::{self, DocKind};
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &plan()?, "g", DocKind::Plan)?;
        doc.commit();
        // Edited as a device edits: the plan read from the document, changed, written back.
        let mut p: Plan = schema::hydrate(&doc, "g", DocKind::Plan)?;
        let mut step = |p: &mut Plan| -> crate::Result<bool> {
            let before = doc.get_heads();
            schema::reconcile(&mut doc, &*p, "g", DocKind::Plan)?;
            doc.commit();
            *p = schema::hydrate(&doc, "g", DocKind::Plan)?;
            let changes = doc.get_changes(&before);
            Ok(only_meeting_notes(&doc, &changes))
        };
        p.append_notes("m1", "more")?;
        p.append_notes("m2", "and more")?;
        assert!(step(&mut p)?, "notes of two meetings are notes only");
        p.append_notes("m1", "a line")?;
        p.set_meeting_visibility("m1", Visibility::Public)?;
        assert!(!step(&mut p)?, "notes with a visibility are not");
        p.add_agenda_item("m1", "a1", "Question 1")?;
        assert!(!step(&mut p)?, "an agenda item is not");
        another_meeting(&mut p)?;
        p.append_notes("m4", "first words")?;
        assert!(!step(&mut p)?, "a new meeting with its notes is not");
        assert!(!step(&mut p)?, "no change at all is not");
        Ok(())
    }

    /// What `touched_contacts` finds from a batch's operations is what the document holds of
    /// the contacts the batch made: contacts inserted by the schema code,
    /// a contact whose fields came in a later change of the batch, one whose result was put
    /// twice, one made twice and one the batch deleted again.
    #[test]
    fn touched_contacts_are_what_the_document_holds() -> crate::Result<()> {
        use crate::schema::contacts::{Contact, NewContact, insert_contact};
        use automerge::ReadDoc;
        use automerge::transaction::Transactable;
        let mut doc = crate::schema::new_doc();
        let header = ContactsDoc::new("g", "d", "2026-12");
        crate::schema::reconcile(&mut doc, &header, "c", crate::schema::DocKind::Contacts)?;
        let contact = |id: &str, result, support| -> crate::Result<Contact> {
            let mut new = NewContact::new(result);
            new.support = support;
            Contact::new(id, "d", new, 1)
        };
        insert_contact(
            &mut doc,
            &contact("before", ContactResult::Talked, Some(2))?,
            "c",
        )?;
        doc.commit();
        let before = doc.get_heads();
        for (id, result, support) in [
            ("a", ContactResult::Talked, Some(5)),
            ("b", ContactResult::NotHome, None),
        ] {
            insert_contact(&mut doc, &contact(id, result, support)?, "c")?;
            doc.commit();
        }
        let (_, contacts) = doc
            .get(automerge::ROOT, "contacts")?
            .ok_or(crate::Error::Invalid {
                what: "test document",
                reason: "no contacts map".into(),
            })?;
        // Made in one change, its fields in the next.
        let late = doc.put_object(&contacts, "late", automerge::ObjType::Map)?;
        doc.commit();
        doc.put(&late, "result", "refused")?;
        doc.put(&late, "support", 1_i64)?;
        doc.commit();
        // Its result put twice: the document's last value counts.
        let twice = doc.put_object(&contacts, "twice", automerge::ObjType::Map)?;
        doc.put(&twice, "result", "talked")?;
        doc.commit();
        doc.put(&twice, "result", "not-home")?;
        doc.commit();
        // Made twice under one id: the second map is the contact.
        let first = doc.put_object(&contacts, "dup", automerge::ObjType::Map)?;
        doc.put(&first, "result", "talked")?;
        doc.commit();
        let second = doc.put_object(&contacts, "dup", automerge::ObjType::Map)?;
        doc.put(&second, "result", "refused")?;
        doc.commit();
        // Made and deleted again.
        insert_contact(
            &mut doc,
            &contact("gone", ContactResult::Talked, None)?,
            "c",
        )?;
        doc.commit();
        doc.delete(&contacts, "gone")?;
        doc.commit();

        let changes = doc.get_changes(&before);
        let mut found = touched_contacts(&doc, &changes);
        found.sort();
        let mut expected = vec![
            ("a".to_owned(), ContactResult::Talked, Some(5)),
            ("b".to_owned(), ContactResult::NotHome, None),
            ("dup".to_owned(), ContactResult::Refused, None),
            ("late".to_owned(), ContactResult::Refused, Some(1)),
            ("twice".to_owned(), ContactResult::NotHome, None),
        ];
        expected.sort();
        assert_eq!(found, expected);
        // The whole history finds the contact from before the batch too.
        let all = doc.get_changes(&[]);
        assert_eq!(touched_contacts(&doc, &all).len(), 6);
        Ok(())
    }
}
