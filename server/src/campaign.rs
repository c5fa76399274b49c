//! The relay's campaign index: tables beside its store holding what sharing groups share
//! (core's [`Shared`]: officials, official meetings, latest answers per rule) and canvass
//! counts, and the queries campaign staff make of them. A group's rows are replaced whenever
//! the relay persists a change to its plan (work proportional to that group's plan, never to
//! every group) and deleted at once when it stops sharing; a contacts document's counts are
//! updated from the contacts a change touched.

use crate::db::{DbError, Row, Sql};
use groundwork_core::campaign::{
    MeetingReport, Official, OfficialDetail, OfficialFilter, Report, Shared,
};
use groundwork_core::schema::vocab::ContactResult;

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

/// Each shared meeting's IANA time zone (the store's migration 10). Forgetting that the index
/// was built makes the relay build it again from every group's plan at its next start
/// ([`built`]): meetings shared before the column get their zone, and boards theirs.
pub const MEETING_ZONES: &str = "
    ALTER TABLE campaign_meetings ADD COLUMN zone TEXT;
    DELETE FROM campaign_built;
";

/// Replaces everything the index holds of `group` with `shared` (nothing, when it does not
/// share).
pub fn write_group(
    tx: &mut dyn Sql,
    group: &str,
    shared: Option<&Shared>,
    now: i64,
) -> Result<(), DbError> {
    for table in [
        "campaign_groups",
        "campaign_officials",
        "campaign_meetings",
        "campaign_answers",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE group_id = $1"),
            &[&group],
        )?;
    }
    let Some(s) = shared else {
        tx.execute(
            "DELETE FROM campaign_canvass WHERE group_id = $1",
            &[&group],
        )?;
        // Other groups' meetings marked as the same as one of its meetings no longer name it.
        tx.execute(
            "UPDATE campaign_meetings SET joins = NULL
             WHERE substr(joins, 1, length($1) + 1) = $1 || '/'",
            &[&group],
        )?;
        return Ok(());
    };
    tx.execute(
        "INSERT INTO campaign_groups (group_id, name, updated_at) VALUES ($1, $2, $3)",
        &[&group, &s.group_name, &now],
    )?;
    for o in &s.officials {
        let state = groundwork_core::places::county(&o.county).map_or("", |c| c.state);
        tx.execute(
            "INSERT INTO campaign_officials
               (group_id, official_key, county, state, office, place, name, title)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &group,
                &o.key,
                &o.county,
                &state,
                &o.office.as_str(),
                &o.place,
                &o.name,
                &o.title,
            ],
        )?;
    }
    for m in &s.meetings {
        // A meeting joined to a group that does not share names nothing of it.
        let joins = match &m.joins {
            Some(j) => {
                let other = j.split('/').next().unwrap_or_default();
                shares(tx, other)?.then_some(j.as_str())
            }
            None => None,
        };
        tx.execute(
            "INSERT INTO campaign_meetings
               (group_id, meeting_id, official_key, status, at, place, title, visibility, joins,
                zone)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &group,
                &m.meeting_id,
                &m.official,
                &m.status.as_str(),
                &m.at,
                &m.place,
                &m.title,
                &m.visibility.as_str(),
                &joins,
                &m.zone,
            ],
        )?;
    }
    for a in &s.answers {
        tx.execute(
            "INSERT INTO campaign_answers
               (group_id, official_key, rule, existing, position, conditions, legal_basis,
                recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &group,
                &a.official,
                &a.rule.as_str(),
                &a.existing.as_str(),
                &a.position.as_str(),
                &a.conditions,
                &a.legal_basis,
                &a.recorded_at,
            ],
        )?;
    }
    Ok(())
}

/// Whether the index was built from every group stored before it existed.
pub fn built(conn: &mut dyn Sql) -> Result<bool, DbError> {
    conn.exists("SELECT 1 FROM campaign_built LIMIT 1", &[])
}

/// Records that it was.
pub fn mark_built(tx: &mut dyn Sql, now: i64) -> Result<(), DbError> {
    tx.execute("INSERT INTO campaign_built (built_at) VALUES ($1)", &[&now])?;
    Ok(())
}

/// Whether `group` is in the index (it shares).
pub fn shares(conn: &mut dyn Sql, group: &str) -> Result<bool, DbError> {
    conn.exists(
        "SELECT 1 FROM campaign_groups WHERE group_id = $1",
        &[&group],
    )
}

/// Records the result and support level of contacts a change touched.
pub fn write_canvass(
    tx: &mut dyn Sql,
    doc: &str,
    group: &str,
    period: &str,
    contacts: &[(String, ContactResult, Option<u8>)],
) -> Result<(), DbError> {
    for (id, result, support) in contacts {
        tx.execute(
            "INSERT INTO campaign_canvass (doc_id, contact_id, group_id, period, result, support)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (doc_id, contact_id) DO UPDATE SET result = excluded.result,
                 support = excluded.support",
            &[
                &doc,
                id,
                &group,
                &period,
                &result.as_str(),
                &support.unwrap_or(0),
            ],
        )?;
    }
    Ok(())
}

/// Whether `device` is campaign staff now.
pub fn is_staff(conn: &mut dyn Sql, device: &str) -> Result<bool, DbError> {
    conn.exists(
        "SELECT 1 FROM staff WHERE device_id = $1 AND revoked_at IS NULL",
        &[&device],
    )
}

/// Grants or revokes the staff role.
pub fn set_staff(conn: &mut dyn Sql, device: &str, staff: bool, now: i64) -> Result<bool, DbError> {
    let changed = if staff {
        conn.execute(
            "INSERT INTO staff (device_id, added_at) VALUES ($1, $2)
             ON CONFLICT (device_id) DO UPDATE SET added_at = excluded.added_at, revoked_at = NULL
             WHERE staff.revoked_at IS NOT NULL",
            &[&device, &now],
        )?
    } else {
        // Its dashboard sessions and unused sign-in links end with the role.
        conn.execute(
            "UPDATE web_sessions SET ended_at = $2 WHERE device_id = $1 AND ended_at IS NULL",
            &[&device, &now],
        )?;
        conn.execute(
            "DELETE FROM web_links WHERE device_id = $1 AND used_at IS NULL",
            &[&device],
        )?;
        conn.execute(
            "UPDATE staff SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
            &[&device, &now],
        )?
    };
    Ok(changed > 0)
}

/// Staff now, by device id, with when they were added.
pub fn staff(conn: &mut dyn Sql) -> Result<Vec<(String, i64)>, DbError> {
    conn.query(
        "SELECT device_id, added_at FROM staff WHERE revoked_at IS NULL ORDER BY device_id",
        &[],
    )?
    .into_iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}

/// Reads a stored vocabulary value (an office, a position...), or an error naming it.
pub(crate) fn parse<T: std::str::FromStr>(s: String) -> Result<T, DbError> {
    s.parse()
        .map_err(|_| DbError::Type(format!("unexpected stored value {s:?}")))
}

/// The latest report per rule on an official (ties: the first group by id).
fn latest_reports(conn: &mut dyn Sql, key: &str) -> Result<Vec<Report>, DbError> {
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

fn report_row(r: &Row, first: usize) -> Result<Report, DbError> {
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
fn reports(conn: &mut dyn Sql, key: &str) -> Result<Vec<Report>, DbError> {
    let mut out = conn
        .query(
            "SELECT a.rule, a.existing, a.position, a.conditions, a.legal_basis, a.group_id,
                    g.name, a.recorded_at
             FROM campaign_answers a JOIN campaign_groups g ON g.group_id = a.group_id
             WHERE a.official_key = $1 ORDER BY a.rule, a.group_id",
            &[&key],
        )?
        .iter()
        .map(|r| report_row(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    // Rules in catalogue order (R1..R9, R1373), not text order.
    out.sort_by(|a, b| (a.rule, &a.group_id).cmp(&(b.rule, &b.group_id)));
    Ok(out)
}

/// One official as staff see them, if any sharing group asks them.
fn official_row(conn: &mut dyn Sql, key: &str) -> Result<Option<Official>, DbError> {
    let rows = conn.query(
        "SELECT o.county, o.state, o.office, o.place, o.name, o.title, g.name
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id
         WHERE o.official_key = $1 ORDER BY g.updated_at DESC, g.name",
        &[&key],
    )?;
    let mut official: Option<Official> = None;
    for r in rows {
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
pub fn officials(conn: &mut dyn Sql, filter: &OfficialFilter) -> Result<Vec<Official>, DbError> {
    let rows = conn.query(
        "SELECT o.official_key, o.county, o.state, o.office, o.place, o.name, o.title, g.name
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id
         WHERE (CAST($1 AS TEXT) IS NULL OR o.state = $1)
           AND (CAST($2 AS TEXT) IS NULL OR o.office = $2)
         ORDER BY o.official_key, g.updated_at DESC, g.name",
        &[&filter.state, &filter.office.map(|o| o.as_str())],
    )?;
    let mut by_key: std::collections::BTreeMap<String, Official> = Default::default();
    for r in rows {
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
    for r in conn.query(
        "SELECT a.official_key, a.rule, a.existing, a.position, a.conditions, a.legal_basis,
                a.group_id, g.name, a.recorded_at
         FROM campaign_answers a JOIN campaign_groups g ON g.group_id = a.group_id",
        &[],
    )? {
        let key: String = r.get(0)?;
        if by_key.contains_key(&key) {
            reports.entry(key).or_default().push(report_row(&r, 1)?);
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
pub fn official(conn: &mut dyn Sql, key: &str) -> Result<Option<OfficialDetail>, DbError> {
    let Some(official) = official_row(conn, key)? else {
        return Ok(None);
    };
    let county_zone = groundwork_core::places::county(&official.county)
        .ok()
        .map(|c| c.zone);
    let meetings = conn
        .query(
            "SELECT m.group_id, g.name, m.status, m.at, m.place, m.zone
             FROM campaign_meetings m JOIN campaign_groups g ON g.group_id = m.group_id
             WHERE m.official_key = $1 ORDER BY m.at IS NULL, m.at, g.name",
            &[&key],
        )?
        .into_iter()
        .map(|r| {
            let at: Option<i64> = r.get(3)?;
            let zone = r
                .get::<Option<String>>(5)?
                .or(county_zone.map(str::to_owned));
            Ok(MeetingReport {
                group_id: r.get(0)?,
                group_name: r.get(1)?,
                status: parse(r.get(2)?)?,
                local: at.map(|at| groundwork_core::time::local_rfc3339(at, zone.as_deref())),
                at,
                zone,
                place: r.get(4)?,
            })
        })
        .collect::<Result<_, DbError>>()?;
    Ok(Some(OfficialDetail {
        reports: reports(conn, key)?,
        official,
        meetings,
    }))
}

/// Every row of the campaign tables, as text in a stable order: what the index tests compare
/// (the same on both engines).
pub fn dump(conn: &mut dyn Sql) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    for (table, columns, order) in [
        ("campaign_groups", "group_id, name", "group_id"),
        (
            "campaign_officials",
            "group_id, official_key, county, state, office, place, name, title",
            "group_id, official_key",
        ),
        (
            "campaign_meetings",
            "group_id, meeting_id, official_key, status, at, place, title, visibility, joins, \
             zone",
            "group_id, meeting_id",
        ),
        (
            "campaign_answers",
            "group_id, official_key, rule, existing, position, conditions, legal_basis, \
             recorded_at",
            "group_id, official_key, rule",
        ),
        (
            "campaign_canvass",
            "doc_id, contact_id, group_id, period, result, support",
            "doc_id, contact_id",
        ),
    ] {
        // `updated_at` is when a group's rows were written, not what they say: left out.
        for row in conn.query(
            &format!("SELECT {columns} FROM {table} ORDER BY {order}"),
            &[],
        )? {
            let mut line = format!("{table}:");
            for v in row.values() {
                line.push_str(&format!(" {v:?}"));
            }
            out.push(line);
        }
    }
    Ok(out)
}

/// The counties in which `group` shares an official now.
pub fn counties_of(conn: &mut dyn Sql, group: &str) -> Result<Vec<String>, DbError> {
    conn.query(
        "SELECT DISTINCT county FROM campaign_officials WHERE group_id = $1 ORDER BY county",
        &[&group],
    )?
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

/// Every (county, group) pair of the index: which groups share an official where.
pub fn county_groups(conn: &mut dyn Sql) -> Result<Vec<(String, String)>, DbError> {
    conn.query(
        "SELECT DISTINCT county, group_id FROM campaign_officials",
        &[],
    )?
    .into_iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}

/// Every county's board document.
pub fn board_docs(conn: &mut dyn Sql) -> Result<Vec<(String, String)>, DbError> {
    conn.query("SELECT county, doc_id FROM boards", &[])?
        .into_iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect()
}

/// Records a county's board document (replacing a previous one).
pub fn set_board_doc(tx: &mut dyn Sql, county: &str, doc: &str, now: i64) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO boards (county, doc_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (county) DO UPDATE SET doc_id = excluded.doc_id,
             created_at = excluded.created_at",
        &[&county, &doc, &now],
    )?;
    Ok(())
}

/// A county's board as the index says now.
pub fn board(
    conn: &mut dyn Sql,
    county: &str,
) -> Result<groundwork_core::schema::board::Board, DbError> {
    use groundwork_core::schema::board::{Board, BoardAnswer, BoardMeeting, BoardOfficial};
    let county_name = groundwork_core::places::county(county)
        .map_or_else(|_| county.to_owned(), ToString::to_string);
    let mut board = Board::new(county, &county_name);
    let keys = conn
        .query(
            "SELECT DISTINCT official_key FROM campaign_officials WHERE county = $1",
            &[&county],
        )?
        .into_iter()
        .map(|r| r.get::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    for key in keys {
        let Some(detail) = official(conn, &key)? else {
            continue;
        };
        let o = detail.official;
        let mut groups = std::collections::BTreeMap::new();
        for r in conn.query(
            "SELECT o.group_id, g.name FROM campaign_officials o
             JOIN campaign_groups g ON g.group_id = o.group_id WHERE o.official_key = $1",
            &[&key],
        )? {
            groups.insert(r.get::<String>(0)?, r.get::<String>(1)?);
        }
        let mut meetings = std::collections::BTreeMap::new();
        let mut joins = std::collections::BTreeMap::new();
        for r in conn.query(
            "SELECT m.group_id, g.name, m.meeting_id, m.status, m.at, m.place, m.joins, m.zone
             FROM campaign_meetings m JOIN campaign_groups g ON g.group_id = m.group_id
             WHERE m.official_key = $1",
            &[&key],
        )? {
            let group_id: String = r.get(0)?;
            let group_name: String = r.get(1)?;
            let meeting: String = r.get(2)?;
            let id = format!("{group_id}/{meeting}");
            if let Some(other) = r.get::<Option<String>>(6)? {
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
                    status: parse(r.get(3)?)?,
                    at: r.get(4)?,
                    zone: r.get(7)?,
                    place: r.get(5)?,
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
