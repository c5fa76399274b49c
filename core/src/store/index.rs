//! The query index: rows derived from the documents, written in the same transaction as the
//! change they come from, read by every list, filter, count and the scorecard. It is derived
//! data: [`crate::Device::rebuild_index`] drops and rewrites it from the documents.
//!
//! Rows are typed as the documents are: vocabulary as core's enums (stored as their one
//! spelling, serialised as the same string). A row holding a spelling this build does not know
//! (written by a newer build) is left out of a list with a warning, never failing the list;
//! only the export of every contact refuses it, since an export must be whole.

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::error::Result;
use crate::rules::RuleCode;
use crate::schema::contacts::{Contact, ContactsDoc};
use crate::schema::plan::Plan;
use crate::schema::vocab::{
    ContactResult, ExistingPolicy, Interest, Level, MeetingKind, MeetingStatus, Office, Position,
    Visibility,
};

/// A target as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
    /// Its level.
    pub level: Level,
    /// Its county's FIPS code, if it names one.
    pub county: Option<String>,
    /// Its office, if it names one.
    pub office: Option<Office>,
    /// Its city or precinct.
    pub place: Option<String>,
    /// The key of the same official in other groups ([`crate::schema::plan::official_key`]).
    pub official_key: Option<String>,
}

/// A meeting as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MeetingRow {
    /// Its id.
    pub meeting_id: String,
    /// Organizing or official.
    pub kind: MeetingKind,
    /// Its title.
    pub title: String,
    /// The official met.
    pub target_id: Option<String>,
    /// When (Unix milliseconds).
    pub at: Option<i64>,
    /// Its IANA time zone, what `at` is shown in (`None`: UTC).
    pub zone: Option<String>,
    /// Where.
    pub location: Option<String>,
    /// Its status.
    pub status: MeetingStatus,
    /// How many agenda items it has.
    pub agenda_items: u32,
    /// Who beyond the group sees it.
    pub visibility: Visibility,
}

/// An action item as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionRow {
    /// Its id.
    pub action_id: String,
    /// What is to be done.
    pub title: String,
    /// Who does it.
    pub assignee: Option<String>,
    /// By when.
    pub due: Option<String>,
    /// Whether it is done.
    pub done: bool,
}

/// One cell of the scorecard: a target and a rule, with the answer if one was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScorecardRow {
    /// The target.
    pub target_id: String,
    /// The target's name.
    pub target_name: String,
    /// The rule's code.
    pub rule: RuleCode,
    /// The rule's title.
    pub rule_title: String,
    /// Whether it is already policy; `unknown` when nothing was recorded.
    pub existing: ExistingPolicy,
    /// The official's position; `None` when nothing was recorded.
    pub position: Option<Position>,
    /// Conditions they named.
    pub conditions: Option<String>,
    /// The legal basis they cited.
    pub legal_basis: Option<String>,
    /// When the answer was recorded.
    pub recorded_at: Option<i64>,
}

/// A contact as lists show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactRow {
    /// Its id.
    pub contact_id: String,
    /// When it was logged (Unix milliseconds).
    pub at: i64,
    /// The canvasser's device id.
    pub canvasser: String,
    /// Turf or address.
    pub place: Option<String>,
    /// What happened at the door.
    pub result: ContactResult,
    /// Support, 1 to 5.
    pub support: Option<u8>,
    /// What the person would like to do next.
    pub interests: Vec<Interest>,
    /// Whether to follow up.
    pub follow_up: bool,
    /// The canvasser's note.
    pub note: Option<String>,
    /// Name (only with consent).
    pub name: Option<String>,
    /// Phone (only with consent).
    pub phone: Option<String>,
    /// Email (only with consent).
    pub email: Option<String>,
}

/// A page request for contacts, newest first.
#[derive(Clone, Debug, Default)]
pub struct ContactQuery {
    /// Only contacts with this result.
    pub result: Option<ContactResult>,
    /// At most this many rows (0 means 50).
    pub limit: u32,
    /// Start after this contact (the last one of the previous page).
    pub after: Option<String>,
}

/// One page of contacts, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactPage {
    /// The contacts, newest first.
    pub items: Vec<ContactRow>,
    /// The cursor of the next page (pass it as [`ContactQuery::after`]); `None` on the last.
    pub next: Option<String>,
    /// How many contacts match the query's filter, on every page together.
    pub total: i64,
}

/// Rewrites a group's targets and meetings from its canvassers' brief (a canvasser's device,
/// which has no plan), and its name.
pub fn replace_brief(tx: &Transaction<'_>, brief: &crate::schema::brief::Brief) -> Result<()> {
    let g = &brief.brief_of;
    for table in ["idx_targets", "idx_meetings"] {
        tx.execute(&format!("DELETE FROM {table} WHERE group_id = ?1"), [g])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO idx_targets (target_id, group_id, name, title, agency, jurisdiction, level,
                                  county, office, place, official_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for t in brief.targets.values() {
        stmt.execute(params![
            t.id,
            g,
            t.name,
            t.title,
            t.agency,
            t.jurisdiction,
            t.level.as_str(),
            t.county,
            t.office.map(|o| o.as_str()),
            t.place,
            t.official_key(),
        ])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO idx_meetings
         (meeting_id, group_id, kind, title, target_id, at, location, status, agenda_items,
          created_at, visibility, zone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, 'private', ?9)",
    )?;
    for m in brief.meetings.values() {
        stmt.execute(params![
            m.id,
            g,
            m.kind.as_str(),
            m.title,
            m.target,
            m.at,
            m.location,
            m.status.as_str(),
            m.zone,
        ])?;
    }
    tx.prepare_cached(
        "UPDATE groups SET name = ?2, jurisdiction = ?3, retention_months = ?4 WHERE group_id = ?1",
    )?
    .execute(params![
        g,
        brief.name,
        brief.jurisdiction,
        brief.retention_months.map(|m| m as i64)
    ])?;
    Ok(())
}

/// Rewrites every index row derived from a group's plan.
pub fn replace_plan(tx: &Transaction<'_>, plan: &Plan) -> Result<()> {
    let g = &plan.group_id;
    for table in [
        "idx_targets",
        "idx_meetings",
        "idx_actions",
        "idx_responses",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE group_id = ?1"), [g])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO idx_targets (target_id, group_id, name, title, agency, jurisdiction, level,
                                  county, office, place, official_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for t in plan.targets.values() {
        stmt.execute(params![
            t.id,
            g,
            t.name,
            t.title,
            t.agency,
            t.jurisdiction,
            t.level.as_str(),
            t.county,
            t.office.map(|o| o.as_str()),
            t.place,
            t.official_key(),
        ])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO idx_meetings
         (meeting_id, group_id, kind, title, target_id, at, location, status, agenda_items,
          created_at, visibility, zone)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for m in plan.meetings.values() {
        stmt.execute(params![
            m.id,
            g,
            m.kind.as_str(),
            m.title,
            m.target,
            m.at,
            m.location,
            m.status.as_str(),
            m.agenda.len() as i64,
            m.created_at,
            m.visibility.as_str(),
            plan.meeting_zone(m),
        ])?;
    }
    // The group's row mirrors its profile (a rename, the sharing setting) as the plan says.
    tx.prepare_cached(
        "UPDATE groups SET name = ?2, jurisdiction = ?3, shares = ?4, retention_months = ?5
         WHERE group_id = ?1",
    )?
    .execute(params![
        g,
        plan.profile.name,
        plan.profile.jurisdiction,
        plan.profile.shares,
        plan.profile.retention_months.map(|m| m as i64)
    ])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO idx_actions (action_id, group_id, title, assignee, due, done, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for a in plan.actions.values() {
        stmt.execute(params![
            a.id,
            g,
            a.title,
            a.assignee,
            a.due,
            a.done,
            a.created_at
        ])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO idx_responses (group_id, target_id, rule, existing, position, conditions,
                                    legal_basis, meeting_id, recorded_by, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in plan.responses.values() {
        stmt.execute(params![
            g,
            r.target,
            r.rule.as_str(),
            r.existing.as_str(),
            r.position.as_str(),
            r.conditions,
            r.legal_basis,
            r.meeting,
            r.recorded_by,
            r.recorded_at
        ])?;
    }
    Ok(())
}

/// Writes (or rewrites) the index row of one contact.
pub fn put_contact(tx: &Transaction<'_>, group_id: &str, doc_id: &str, c: &Contact) -> Result<()> {
    let interests: Vec<&str> = c.interests.iter().map(|i| i.as_str()).collect();
    let person = c.person.as_ref();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO idx_contacts
         (contact_id, group_id, doc_id, at, canvasser, place, result, support, interests,
          follow_up, note, name, phone, email, consent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        c.id,
        group_id,
        doc_id,
        c.at,
        c.canvasser,
        c.place,
        c.result.as_str(),
        c.support,
        interests.join(","),
        c.follow_up,
        c.note,
        person.and_then(|p| p.name.as_deref()),
        person.and_then(|p| p.phone.as_deref()),
        person.and_then(|p| p.email.as_deref()),
        person.map(|p| p.consent_at),
    ])?;
    Ok(())
}

/// Rewrites every index row of one contacts document.
pub fn replace_contacts(tx: &Transaction<'_>, doc_id: &str, doc: &ContactsDoc) -> Result<()> {
    tx.execute("DELETE FROM idx_contacts WHERE doc_id = ?1", [doc_id])?;
    for c in doc.contacts.values() {
        put_contact(tx, &doc.group_id, doc_id, c)?;
    }
    Ok(())
}

/// Empties the whole index (before a rebuild).
pub fn clear(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "DELETE FROM idx_targets; DELETE FROM idx_meetings; DELETE FROM idx_actions;
         DELETE FROM idx_responses; DELETE FROM idx_contacts;",
    )?;
    Ok(())
}

/// A group's targets, by name.
pub fn targets(conn: &Connection, group_id: &str) -> Result<Vec<TargetRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT target_id, name, title, agency, jurisdiction, level, county, office, place,
                official_key
         FROM idx_targets WHERE group_id = ?1 ORDER BY name, target_id",
    )?;
    let rows = stmt.query_map([group_id], |r| {
        Ok(TargetRow {
            target_id: r.get(0)?,
            name: r.get(1)?,
            title: r.get(2)?,
            agency: r.get(3)?,
            jurisdiction: r.get(4)?,
            level: r.get(5)?,
            county: r.get(6)?,
            office: r.get(7)?,
            place: r.get(8)?,
            official_key: r.get(9)?,
        })
    })?;
    readable(rows, "target")
}

/// A group's meetings, soonest first (undated ones last, by creation).
pub fn meetings(conn: &Connection, group_id: &str) -> Result<Vec<MeetingRow>> {
    // A row from before zones (NULL) reads as its meeting's default zone: its official's
    // county's, else the group's jurisdiction's (see `Plan::meeting_zone`).
    let mut stmt = conn.prepare_cached(
        "SELECT m.meeting_id, m.kind, m.title, m.target_id, m.at, m.location, m.status,
                m.agenda_items, m.visibility, m.zone, t.county, g.jurisdiction
         FROM idx_meetings m
         LEFT JOIN idx_targets t ON t.target_id = m.target_id AND t.group_id = m.group_id
         LEFT JOIN groups g ON g.group_id = m.group_id
         WHERE m.group_id = ?1
         ORDER BY m.at IS NULL, m.at, m.created_at, m.meeting_id",
    )?;
    let rows = stmt.query_map([group_id], |r| {
        let zone: Option<String> = r.get(9)?;
        let county: Option<String> = r.get(10)?;
        let jurisdiction: Option<String> = r.get(11)?;
        let zone = zone.or_else(|| {
            county
                .and_then(|fips| crate::places::county(&fips).ok())
                .or_else(|| crate::places::jurisdiction_county(jurisdiction.as_deref()?))
                .map(|c| c.zone.to_owned())
        });
        Ok(MeetingRow {
            meeting_id: r.get(0)?,
            kind: r.get(1)?,
            title: r.get(2)?,
            target_id: r.get(3)?,
            at: r.get(4)?,
            zone,
            location: r.get(5)?,
            status: r.get(6)?,
            agenda_items: r.get(7)?,
            visibility: r.get(8)?,
        })
    })?;
    readable(rows, "meeting")
}

/// A group's action items: open ones first, by due date.
pub fn actions(conn: &Connection, group_id: &str) -> Result<Vec<ActionRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT action_id, title, assignee, due, done FROM idx_actions WHERE group_id = ?1
         ORDER BY done, due IS NULL, due, created_at, action_id",
    )?;
    let rows = stmt.query_map([group_id], |r| {
        Ok(ActionRow {
            action_id: r.get(0)?,
            title: r.get(1)?,
            assignee: r.get(2)?,
            due: r.get(3)?,
            done: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The group that holds a meeting (or an action item, with `table = "idx_actions"`).
pub fn group_of(conn: &Connection, kind: Entity, id: &str) -> Result<Option<String>> {
    let sql = match kind {
        Entity::Meeting => "SELECT group_id FROM idx_meetings WHERE meeting_id = ?1",
        Entity::Action => "SELECT group_id FROM idx_actions WHERE action_id = ?1",
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// Entities that commands name by id alone.
#[derive(Clone, Copy, Debug)]
pub enum Entity {
    /// A meeting.
    Meeting,
    /// An action item.
    Action,
}

/// The scorecard: every target (or one) times every rule, with what was recorded.
pub fn scorecard(
    conn: &Connection,
    group_id: &str,
    target: Option<&str>,
) -> Result<Vec<ScorecardRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.target_id, r.rule, r.existing, r.position, r.conditions, r.legal_basis,
                r.recorded_at
         FROM idx_responses r WHERE r.group_id = ?1 AND (?2 IS NULL OR r.target_id = ?2)",
    )?;
    // An answer this build cannot read (a newer build's spelling) is left out: its cell reads
    // as unanswered.
    let rows = stmt.query_map(params![group_id, target], |r| {
        Ok((
            (r.get::<_, String>(0)?, r.get::<_, RuleCode>(1)?),
            (
                r.get::<_, ExistingPolicy>(2)?,
                r.get::<_, Position>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
            ),
        ))
    })?;
    let mut recorded: std::collections::HashMap<_, _> =
        readable(rows, "rule response")?.into_iter().collect();
    let mut out = Vec::new();
    for t in targets(conn, group_id)? {
        if target.is_some_and(|want| want != t.target_id) {
            continue;
        }
        for &code in RuleCode::ALL {
            let answer = recorded.remove(&(t.target_id.clone(), code));
            out.push(ScorecardRow {
                target_id: t.target_id.clone(),
                target_name: t.name.clone(),
                rule: code,
                rule_title: code.rule().title.to_owned(),
                existing: answer.as_ref().map_or(ExistingPolicy::Unknown, |a| a.0),
                position: answer.as_ref().map(|a| a.1),
                conditions: answer.as_ref().and_then(|a| a.2.clone()),
                legal_basis: answer.as_ref().and_then(|a| a.3.clone()),
                recorded_at: answer.as_ref().map(|a| a.4),
            });
        }
    }
    Ok(out)
}

const CONTACT_COLUMNS: &str = "contact_id, at, canvasser, place, result, support, interests, \
                               follow_up, note, name, phone, email";

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContactRow> {
    let interests: String = r.get(6)?;
    let interests = interests
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_>>()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?;
    Ok(ContactRow {
        contact_id: r.get(0)?,
        at: r.get(1)?,
        canvasser: r.get(2)?,
        place: r.get(3)?,
        result: r.get(4)?,
        // Written from a `u8` (1 to 5); anything else reads as no answer.
        support: r
            .get::<_, Option<i64>>(5)?
            .and_then(|s| u8::try_from(s).ok()),
        interests,
        follow_up: r.get(7)?,
        note: r.get(8)?,
        name: r.get(9)?,
        phone: r.get(10)?,
        email: r.get(11)?,
    })
}

/// One page of a group's contacts, newest first; keyset pagination, so a page costs the same
/// at the start or the end of 100k contacts. A contact this build cannot read is left out (a
/// page may then hold fewer than `limit`).
pub fn contacts(conn: &Connection, group_id: &str, q: &ContactQuery) -> Result<Vec<ContactRow>> {
    let rows = contact_rows(conn, group_id, q)?;
    readable(rows.into_iter().map(|(_, row)| row), "contact")
}

/// The rows of [`contacts`], each with its id and whether it could be read, so that a page's
/// cursor counts a row left out too.
fn contact_rows(
    conn: &Connection,
    group_id: &str,
    q: &ContactQuery,
) -> Result<Vec<(String, rusqlite::Result<ContactRow>)>> {
    let limit = if q.limit == 0 { 50 } else { q.limit };
    let cursor: Option<(i64, String)> = match &q.after {
        Some(id) => conn
            .prepare_cached("SELECT at, contact_id FROM idx_contacts WHERE contact_id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
        None => None,
    };
    if q.after.is_some() && cursor.is_none() {
        return Err(crate::Error::NotFound {
            kind: "contact",
            id: q.after.clone().unwrap_or_default(),
        });
    }
    let (at, id) = cursor.unwrap_or((i64::MAX, String::new()));
    let after_clause = if q.after.is_some() {
        "AND (at < ?3 OR (at = ?3 AND contact_id < ?4))"
    } else {
        "AND ?3 IS NOT NULL AND ?4 IS NOT NULL"
    };
    let result_clause = if q.result.is_some() {
        "AND result = ?2"
    } else {
        "AND ?2 IS NULL"
    };
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM idx_contacts
         WHERE group_id = ?1 {result_clause} {after_clause}
         ORDER BY at DESC, contact_id DESC LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![group_id, q.result.map(|r| r.as_str()), at, id, limit],
        |r| Ok((r.get::<_, String>(0)?, contact_row(r))),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A page of contacts with its cursor: one row more than the page is read, so "is there a
/// next page" is known without a second query.
pub fn contact_page(conn: &Connection, group_id: &str, q: &ContactQuery) -> Result<ContactPage> {
    let limit = if q.limit == 0 { 50 } else { q.limit };
    let mut rows = contact_rows(
        conn,
        group_id,
        &ContactQuery {
            limit: limit.saturating_add(1),
            ..q.clone()
        },
    )?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    // The cursor is the page's last row, read or left out.
    let next = rows.last().filter(|_| more).map(|(id, _)| id.clone());
    let items = readable(rows.into_iter().map(|(_, row)| row), "contact")?;
    let total = match q.result {
        None => contact_count(conn, group_id)?,
        Some(result) => conn
            .prepare_cached(
                "SELECT COUNT(*) FROM idx_contacts WHERE group_id = ?1 AND result = ?2",
            )?
            .query_row(params![group_id, result.as_str()], |r| r.get(0))?,
    };
    Ok(ContactPage { items, next, total })
}

/// How many contacts a group has.
pub fn contact_count(conn: &Connection, group_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM idx_contacts WHERE group_id = ?1")?
        .query_row([group_id], |r| r.get(0))?)
}

/// Every contact of a group, oldest first, for export: a contact this build cannot read fails
/// it, since an export must be whole (retention erases what it exported).
pub fn all_contacts(conn: &Connection, group_id: &str) -> Result<Vec<ContactRow>> {
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM idx_contacts WHERE group_id = ?1 ORDER BY at, contact_id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([group_id], contact_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Collects a list's rows, leaving out (with a warning) each one holding a vocabulary spelling
/// this build does not know, written by a newer build; any other error fails the read.
pub(crate) fn readable<T>(
    rows: impl IntoIterator<Item = rusqlite::Result<T>>,
    what: &'static str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for row in rows {
        match row {
            Ok(row) => out.push(row),
            Err(e) if unknown_spelling(&e) => {
                tracing::warn!(what, error = %e, "index row left out: a value this build does not know");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// Whether a row failed on a vocabulary spelling this build does not know.
fn unknown_spelling(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::FromSqlConversionFailure(_, _, inner)
            if matches!(
                inner.downcast_ref::<crate::Error>(),
                Some(crate::Error::InvalidValue { .. })
            )
    )
}

/// Every index row, as text, in a stable order: what the rebuild test compares.
pub fn dump(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (table, order) in [
        ("idx_targets", "target_id"),
        ("idx_meetings", "meeting_id"),
        ("idx_actions", "action_id"),
        ("idx_responses", "group_id, target_id, rule"),
        ("idx_contacts", "contact_id"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let mut line = format!("{table}:");
            for i in 0..columns {
                let v: rusqlite::types::Value = row.get(i)?;
                line.push_str(&format!(" {v:?}"));
            }
            out.push(line);
        }
    }
    Ok(out)
}
