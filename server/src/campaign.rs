//! The relay's campaign index: tables beside its store holding what sharing groups share
//! (core's [`Shared`]: officials, official meetings, latest answers per rule) and canvass
//! counts, and the queries campaign staff make of them. A group's rows are replaced whenever
//! the relay persists a change to its plan (work proportional to that group's plan, never to
//! every group) and deleted at once when it stops sharing; a contacts document's counts are
//! updated from the contacts a change touched.

use groundwork_core::campaign::{
    MeetingReport, Official, OfficialDetail, OfficialFilter, Report, Shared,
};
use groundwork_core::schema::vocab::ContactResult;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// The campaign tables (the store's migration 4).
pub const MIGRATION: &str = "
    -- Groups that share, by name.
    CREATE TABLE campaign_groups (
        group_id   TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- The officials each sharing group asks (key: FIPS/office[/place]).
    CREATE TABLE campaign_officials (
        group_id     TEXT NOT NULL,
        official_key TEXT NOT NULL,
        county       TEXT NOT NULL,
        state        TEXT NOT NULL,
        office       TEXT NOT NULL,
        place        TEXT,
        name         TEXT NOT NULL,
        title        TEXT NOT NULL,
        PRIMARY KEY (group_id, official_key)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_officials_by_key ON campaign_officials(official_key);
    CREATE INDEX campaign_officials_by_county ON campaign_officials(county);
    -- Their meetings with those officials: status and time; place and title only as shared.
    CREATE TABLE campaign_meetings (
        group_id     TEXT NOT NULL,
        meeting_id   TEXT NOT NULL,
        official_key TEXT NOT NULL,
        status       TEXT NOT NULL,
        at           INTEGER,
        place        TEXT,
        title        TEXT,
        visibility   TEXT NOT NULL,
        joins        TEXT,
        PRIMARY KEY (group_id, meeting_id)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_meetings_by_official ON campaign_meetings(official_key);
    -- Each group's latest answer per official and rule.
    CREATE TABLE campaign_answers (
        group_id     TEXT NOT NULL,
        official_key TEXT NOT NULL,
        rule         TEXT NOT NULL,
        existing     TEXT NOT NULL,
        position     TEXT NOT NULL,
        conditions   TEXT,
        legal_basis  TEXT,
        recorded_at  INTEGER NOT NULL,
        PRIMARY KEY (group_id, official_key, rule)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_answers_by_official ON campaign_answers(official_key, rule);
    -- Canvassing, as counts only: each contact's result and support level (0: none given),
    -- by contacts document, for sharing groups.
    CREATE TABLE campaign_canvass (
        doc_id     TEXT NOT NULL,
        contact_id TEXT NOT NULL,
        group_id   TEXT NOT NULL,
        period     TEXT NOT NULL,
        result     TEXT NOT NULL,
        support    INTEGER NOT NULL,
        PRIMARY KEY (doc_id, contact_id)
    ) WITHOUT ROWID;
    CREATE INDEX campaign_canvass_by_group ON campaign_canvass(group_id, result);
    -- Each county's board document (the relay writes it from the tables above).
    CREATE TABLE boards (
        county     TEXT PRIMARY KEY,
        doc_id     TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- One row once the index holds every group stored before it existed.
    CREATE TABLE campaign_built (
        built_at INTEGER NOT NULL
    );
    -- Campaign staff: devices the operator granted, revocable.
    CREATE TABLE staff (
        device_id  TEXT PRIMARY KEY,
        added_at   INTEGER NOT NULL,
        revoked_at INTEGER
    ) WITHOUT ROWID;
";

/// Replaces everything the index holds of `group` with `shared` (nothing, when it does not
/// share).
pub fn write_group(
    tx: &Transaction<'_>,
    group: &str,
    shared: Option<&Shared>,
    now: i64,
) -> rusqlite::Result<()> {
    for table in [
        "campaign_groups",
        "campaign_officials",
        "campaign_meetings",
        "campaign_answers",
    ] {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE group_id = ?1"))?
            .execute([group])?;
    }
    let Some(s) = shared else {
        tx.prepare_cached("DELETE FROM campaign_canvass WHERE group_id = ?1")?
            .execute([group])?;
        // Other groups' meetings marked as the same as one of its meetings no longer name it.
        tx.prepare_cached(
            "UPDATE campaign_meetings SET joins = NULL
             WHERE substr(joins, 1, length(?1) + 1) = ?1 || '/'",
        )?
        .execute([group])?;
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO campaign_groups (group_id, name, updated_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![group, s.group_name, now])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO campaign_officials
           (group_id, official_key, county, state, office, place, name, title)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for o in &s.officials {
        let state = groundwork_core::places::county(&o.county).map_or("", |c| c.state);
        stmt.execute(params![
            group,
            o.key,
            o.county,
            state,
            o.office.as_str(),
            o.place,
            o.name,
            o.title
        ])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO campaign_meetings
           (group_id, meeting_id, official_key, status, at, place, title, visibility, joins)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for m in &s.meetings {
        // A meeting joined to a group that does not share names nothing of it.
        let joins = match &m.joins {
            Some(j) => {
                let other = j.split('/').next().unwrap_or_default();
                shares_in(tx, other)?.then_some(j.as_str())
            }
            None => None,
        };
        stmt.execute(params![
            group,
            m.meeting_id,
            m.official,
            m.status.as_str(),
            m.at,
            m.place,
            m.title,
            m.visibility.as_str(),
            joins
        ])?;
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO campaign_answers
           (group_id, official_key, rule, existing, position, conditions, legal_basis, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for a in &s.answers {
        stmt.execute(params![
            group,
            a.official,
            a.rule.as_str(),
            a.existing.as_str(),
            a.position.as_str(),
            a.conditions,
            a.legal_basis,
            a.recorded_at
        ])?;
    }
    Ok(())
}

/// Whether the index was built from every group stored before it existed.
pub fn built(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM campaign_built LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Records that it was.
pub fn mark_built(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<()> {
    tx.execute("INSERT INTO campaign_built (built_at) VALUES (?1)", [now])?;
    Ok(())
}

fn shares_in(tx: &Transaction<'_>, group: &str) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM campaign_groups WHERE group_id = ?1")?
        .query_row([group], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether `group` is in the index (it shares).
pub fn shares(conn: &Connection, group: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM campaign_groups WHERE group_id = ?1")?
        .query_row([group], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Records the result and support level of contacts a change touched.
pub fn write_canvass(
    tx: &Transaction<'_>,
    doc: &str,
    group: &str,
    period: &str,
    contacts: &[(String, ContactResult, Option<u8>)],
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO campaign_canvass (doc_id, contact_id, group_id, period, result, support)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (doc_id, contact_id) DO UPDATE SET result = excluded.result,
             support = excluded.support",
    )?;
    for (id, result, support) in contacts {
        stmt.execute(params![
            doc,
            id,
            group,
            period,
            result.as_str(),
            support.unwrap_or(0)
        ])?;
    }
    Ok(())
}

/// Whether `device` is campaign staff now.
pub fn is_staff(conn: &Connection, device: &str) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM staff WHERE device_id = ?1 AND revoked_at IS NULL")?
        .query_row([device], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Grants or revokes the staff role.
pub fn set_staff(conn: &Connection, device: &str, staff: bool, now: i64) -> rusqlite::Result<bool> {
    let changed = if staff {
        conn.execute(
            "INSERT INTO staff (device_id, added_at) VALUES (?1, ?2)
             ON CONFLICT (device_id) DO UPDATE SET added_at = excluded.added_at, revoked_at = NULL
             WHERE revoked_at IS NOT NULL",
            params![device, now],
        )?
    } else {
        // Its dashboard sessions and unused sign-in links end with the role.
        conn.execute(
            "UPDATE web_sessions SET ended_at = ?2 WHERE device_id = ?1 AND ended_at IS NULL",
            params![device, now],
        )?;
        conn.execute(
            "DELETE FROM web_links WHERE device_id = ?1 AND used_at IS NULL",
            [device],
        )?;
        conn.execute(
            "UPDATE staff SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
            params![device, now],
        )?
    };
    Ok(changed > 0)
}

/// Staff now, by device id, with when they were added.
pub fn staff(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT device_id, added_at FROM staff WHERE revoked_at IS NULL ORDER BY device_id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Reads a stored vocabulary value (an office, a position...), or a conversion error naming it.
pub(crate) fn parse<T: std::str::FromStr>(s: String) -> rusqlite::Result<T> {
    s.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unexpected stored value {s:?}").into(),
        )
    })
}

/// The latest report per rule on an official (ties: the first group by id).
fn latest_reports(conn: &Connection, key: &str) -> rusqlite::Result<Vec<Report>> {
    Ok(latest(reports(conn, key)?))
}

/// Of one official's reports, the latest per rule, in rule order.
fn latest(mut reports: Vec<Report>) -> Vec<Report> {
    reports.sort_by(|a, b| {
        a.rule
            .cmp(&b.rule)
            .then(b.recorded_at.cmp(&a.recorded_at))
            .then(a.group_id.cmp(&b.group_id))
    });
    reports.dedup_by(|later, kept| later.rule == kept.rule);
    reports
}

fn report_row(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Report> {
    Ok(Report {
        rule: parse(r.get(first)?)?,
        existing: parse(r.get(first + 1)?)?,
        position: parse(r.get(first + 2)?)?,
        conditions: r.get(first + 3)?,
        legal_basis: r.get(first + 4)?,
        group_id: r.get(first + 5)?,
        group_name: r.get(first + 6)?,
        recorded_at: r.get(first + 7)?,
    })
}

/// Every sharing group's report on an official, by rule then group.
fn reports(conn: &Connection, key: &str) -> rusqlite::Result<Vec<Report>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.rule, a.existing, a.position, a.conditions, a.legal_basis, a.group_id, g.name,
                a.recorded_at
         FROM campaign_answers a JOIN campaign_groups g ON g.group_id = a.group_id
         WHERE a.official_key = ?1 ORDER BY a.rule, a.group_id",
    )?;
    let rows = stmt.query_map([key], |r| report_row(r, 0))?;
    let mut out: Vec<Report> = rows.collect::<rusqlite::Result<_>>()?;
    // Rules in catalogue order (R1..R9, R1373), not text order.
    out.sort_by(|a, b| (a.rule, &a.group_id).cmp(&(b.rule, &b.group_id)));
    Ok(out)
}

/// One official as staff see them, if any sharing group asks them.
fn official_row(conn: &Connection, key: &str) -> rusqlite::Result<Option<Official>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.county, o.state, o.office, o.place, o.name, o.title, g.name
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id
         WHERE o.official_key = ?1 ORDER BY g.updated_at DESC, g.name",
    )?;
    let mut rows = stmt.query([key])?;
    let mut official: Option<Official> = None;
    while let Some(r) = rows.next()? {
        let group: String = r.get(6)?;
        match &mut official {
            Some(o) => o.groups.push(group),
            None => {
                let county: String = r.get(0)?;
                let county_name = groundwork_core::places::county(&county)
                    .map_or_else(|_| county.clone(), ToString::to_string);
                official = Some(Official {
                    key: key.to_owned(),
                    county,
                    county_name,
                    state: r.get(1)?,
                    office: parse(r.get(2)?)?,
                    place: r.get(3)?,
                    name: r.get(4)?,
                    title: r.get(5)?,
                    groups: vec![group],
                    answers: Vec::new(),
                });
            }
        }
    }
    if let Some(o) = &mut official {
        o.groups.sort();
        o.answers = latest_reports(conn, key)?;
    }
    Ok(official)
}

/// Officials asked by sharing groups, matching `filter`, by state, county and key. Two scans
/// (the officials, then every answer), however many officials there are.
pub fn officials(conn: &Connection, filter: &OfficialFilter) -> rusqlite::Result<Vec<Official>> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.official_key, o.county, o.state, o.office, o.place, o.name, o.title, g.name
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id
         WHERE (?1 IS NULL OR o.state = ?1) AND (?2 IS NULL OR o.office = ?2)
         ORDER BY o.official_key, g.updated_at DESC, g.name",
    )?;
    let mut rows = stmt.query(params![filter.state, filter.office.map(|o| o.as_str())])?;
    let mut by_key: std::collections::BTreeMap<String, Official> = Default::default();
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        let group: String = r.get(7)?;
        if let Some(o) = by_key.get_mut(&key) {
            o.groups.push(group);
            continue;
        }
        let county: String = r.get(1)?;
        let county_name = groundwork_core::places::county(&county)
            .map_or_else(|_| county.clone(), ToString::to_string);
        by_key.insert(
            key.clone(),
            Official {
                key,
                county,
                county_name,
                state: r.get(2)?,
                office: parse(r.get(3)?)?,
                place: r.get(4)?,
                name: r.get(5)?,
                title: r.get(6)?,
                groups: vec![group],
                answers: Vec::new(),
            },
        );
    }
    let mut reports: std::collections::BTreeMap<String, Vec<Report>> = Default::default();
    let mut stmt = conn.prepare_cached(
        "SELECT a.official_key, a.rule, a.existing, a.position, a.conditions, a.legal_basis,
                a.group_id, g.name, a.recorded_at
         FROM campaign_answers a JOIN campaign_groups g ON g.group_id = a.group_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let key: String = r.get(0)?;
        if by_key.contains_key(&key) {
            reports.entry(key).or_default().push(report_row(r, 1)?);
        }
    }
    let mut out: Vec<Official> = by_key
        .into_values()
        .map(|mut o| {
            o.groups.sort();
            o.answers = latest(reports.remove(&o.key).unwrap_or_default());
            o
        })
        .filter(|o| {
            filter
                .position
                .is_none_or(|p| o.answers.iter().any(|a| a.position == p))
        })
        .collect();
    out.sort_by(|a, b| (&a.state, &a.county, &a.key).cmp(&(&b.state, &b.county, &b.key)));
    Ok(out)
}

/// An official's page: every sharing group's reports and meetings.
pub fn official(conn: &Connection, key: &str) -> rusqlite::Result<Option<OfficialDetail>> {
    let Some(official) = official_row(conn, key)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT m.group_id, g.name, m.status, m.at, m.place
         FROM campaign_meetings m JOIN campaign_groups g ON g.group_id = m.group_id
         WHERE m.official_key = ?1 ORDER BY m.at IS NULL, m.at, g.name",
    )?;
    let meetings = stmt
        .query_map([key], |r| {
            Ok(MeetingReport {
                group_id: r.get(0)?,
                group_name: r.get(1)?,
                status: parse(r.get(2)?)?,
                at: r.get(3)?,
                place: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(OfficialDetail {
        reports: reports(conn, key)?,
        official,
        meetings,
    }))
}

/// Every row of the campaign tables, as text in a stable order: what the index tests compare.
pub fn dump(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut out = Vec::new();
    for (table, order) in [
        ("campaign_groups", "group_id"),
        ("campaign_officials", "group_id, official_key"),
        ("campaign_meetings", "group_id, meeting_id"),
        ("campaign_answers", "group_id, official_key, rule"),
        ("campaign_canvass", "doc_id, contact_id"),
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let mut line = format!("{table}:");
            for i in 0..columns {
                let v: rusqlite::types::Value = row.get(i)?;
                // `updated_at` is when the row was written, not what it says.
                if table == "campaign_groups" && i == 2 {
                    continue;
                }
                line.push_str(&format!(" {v:?}"));
            }
            out.push(line);
        }
    }
    Ok(out)
}

/// The counties in which `group` shares an official now.
pub fn counties_of(conn: &Connection, group: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT county FROM campaign_officials WHERE group_id = ?1 ORDER BY county",
    )?;
    let rows = stmt.query_map([group], |r| r.get(0))?;
    rows.collect()
}

/// Every (county, group) pair of the index: which groups share an official where.
pub fn county_groups(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT DISTINCT county, group_id FROM campaign_officials")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Every county's board document.
pub fn board_docs(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare("SELECT county, doc_id FROM boards")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Records a county's board document (replacing a previous one).
pub fn set_board_doc(
    tx: &Transaction<'_>,
    county: &str,
    doc: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO boards (county, doc_id, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (county) DO UPDATE SET doc_id = excluded.doc_id, created_at = excluded.created_at",
        params![county, doc, now],
    )?;
    Ok(())
}

/// A county's board as the index says now.
pub fn board(
    conn: &Connection,
    county: &str,
) -> rusqlite::Result<groundwork_core::schema::board::Board> {
    use groundwork_core::schema::board::{Board, BoardAnswer, BoardMeeting, BoardOfficial};
    let county_name = groundwork_core::places::county(county)
        .map_or_else(|_| county.to_owned(), ToString::to_string);
    let mut board = Board::new(county, &county_name);
    let mut stmt = conn
        .prepare_cached("SELECT DISTINCT official_key FROM campaign_officials WHERE county = ?1")?;
    let keys = stmt
        .query_map([county], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for key in keys {
        let Some(detail) = official(conn, &key)? else {
            continue;
        };
        let o = detail.official;
        let mut groups = std::collections::BTreeMap::new();
        let mut stmt = conn.prepare_cached(
            "SELECT o.group_id, g.name FROM campaign_officials o
             JOIN campaign_groups g ON g.group_id = o.group_id WHERE o.official_key = ?1",
        )?;
        for row in stmt.query_map([&key], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (id, name) = row?;
            groups.insert(id, name);
        }
        let mut stmt = conn.prepare_cached(
            "SELECT m.group_id, g.name, m.meeting_id, m.status, m.at, m.place, m.joins
             FROM campaign_meetings m JOIN campaign_groups g ON g.group_id = m.group_id
             WHERE m.official_key = ?1",
        )?;
        let mut meetings = std::collections::BTreeMap::new();
        let mut joins = std::collections::BTreeMap::new();
        let rows = stmt.query_map([&key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        for row in rows {
            let (group_id, group_name, meeting, status, at, place, joined) = row?;
            let id = format!("{group_id}/{meeting}");
            if let Some(other) = joined {
                joins.insert(id.clone(), other);
            }
            meetings.insert(
                id,
                BoardMeeting {
                    attending: std::collections::BTreeMap::from([(
                        group_id.clone(),
                        group_name.clone(),
                    )]),
                    group_id,
                    group_name,
                    status: parse(status)?,
                    at,
                    place,
                },
            );
        }
        // A meeting marked as the same as another with this official (one that is itself its
        // own) is that meeting: listed once, with every group attending.
        for (id, other) in &joins {
            if id == other || joins.contains_key(other) || !meetings.contains_key(other) {
                continue;
            }
            if let Some(m) = meetings.remove(id)
                && let Some(target) = meetings.get_mut(other)
            {
                target.attending.insert(m.group_id, m.group_name);
            }
        }
        let answers = o
            .answers
            .into_iter()
            .map(|a| {
                (
                    a.rule.as_str().to_owned(),
                    BoardAnswer {
                        rule: a.rule,
                        existing: a.existing,
                        position: a.position,
                        conditions: a.conditions,
                        group_name: a.group_name,
                        recorded_at: a.recorded_at,
                    },
                )
            })
            .collect();
        board.officials.insert(
            key,
            BoardOfficial {
                office: o.office,
                place: o.place,
                name: o.name,
                title: o.title,
                groups,
                meetings,
                answers,
            },
        );
    }
    Ok(board)
}
