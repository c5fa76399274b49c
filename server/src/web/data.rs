//! What the dashboard and the public map show, read from the campaign index: the overview's
//! counts, a page of the official-by-rule matrix, each county's status for the map, and the
//! meetings groups made public. Plain queries over the index tables; no HTML here.

use std::collections::HashMap;

use groundwork_core::rules::{RULES, RuleCode};
use groundwork_core::schema::vocab::{ExistingPolicy, Office, Position};
use serde::Serialize;

use crate::campaign::parse;
use crate::db::{DbError, Sql, Value};

/// A count and when what it counts last changed (Unix ms; `None` when there is nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figure {
    /// How many.
    pub count: u64,
    /// When the newest of them last changed.
    pub changed_at: Option<i64>,
}

/// The overview's headline figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Overview {
    /// Groups sharing with the campaign.
    pub groups: Figure,
    /// Officials they ask.
    pub officials: Figure,
    /// Meetings with officials by status (`requested`, `scheduled`, `held`, ...): a meeting the
    /// office combined for several groups counts once.
    pub meetings: Vec<(String, Figure)>,
    /// The latest answers per official and rule, by position.
    pub responses: Vec<(String, Figure)>,
    /// Doors knocked (every contact logged).
    pub doors: Figure,
    /// Conversations (contacts whose result is `talked`).
    pub conversations: Figure,
}

/// The overview. "Changed" is the last change of a group holding such items for groups,
/// officials, meetings and canvassing (the index keeps no time per row of those), and the
/// time of the newest answer for responses.
pub fn overview(conn: &mut dyn Sql) -> Result<Overview, DbError> {
    let figure = |conn: &mut dyn Sql, sql: &str| -> Result<Figure, DbError> {
        let r = conn
            .query_opt(sql, &[])?
            .ok_or_else(|| DbError::Type("an aggregate returned no row".into()))?;
        Ok(Figure {
            count: r.get::<i64>(0)?.max(0) as u64,
            changed_at: r.get(1)?,
        })
    };
    let groups = figure(
        conn,
        "SELECT COUNT(*), MAX(updated_at) FROM campaign_groups",
    )?;
    let officials = figure(
        conn,
        "SELECT COUNT(DISTINCT o.official_key), MAX(g.updated_at)
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id",
    )?;
    // By status in byte order, sorted here: PostgreSQL would order text by the database's
    // collation.
    let mut meetings = conn
        .query(
            "SELECT m.status, COUNT(*), MAX(g.updated_at)
             FROM campaign_meetings m JOIN campaign_groups g ON g.group_id = m.group_id
             WHERE m.joins IS NULL GROUP BY m.status",
            &[],
        )?
        .into_iter()
        .map(|r| {
            Ok((
                r.get::<String>(0)?,
                Figure {
                    count: r.get::<i64>(1)?.max(0) as u64,
                    changed_at: r.get(2)?,
                },
            ))
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    meetings.sort_by(|a, b| a.0.cmp(&b.0));
    // The latest answer per official and rule (as the matrix picks it), tallied by position
    // in byte order: how many, and the newest of them.
    let mut responses: std::collections::BTreeMap<&'static str, Figure> = Default::default();
    for answers in latest_answers(conn, None)?.into_values() {
        for a in answers {
            let f = responses.entry(a.cell.position.as_str()).or_default();
            f.count += 1;
            f.changed_at = f.changed_at.max(Some(a.at));
        }
    }
    let responses = responses
        .into_iter()
        .map(|(p, f)| (p.to_owned(), f))
        .collect();
    Ok(Overview {
        groups,
        officials,
        meetings,
        responses,
        doors: figure(
            conn,
            "SELECT COUNT(*), MAX(g.updated_at)
             FROM campaign_canvass c JOIN campaign_groups g ON g.group_id = c.group_id",
        )?,
        conversations: figure(
            conn,
            "SELECT COUNT(*), MAX(g.updated_at)
             FROM campaign_canvass c JOIN campaign_groups g ON g.group_id = c.group_id
             WHERE c.result = 'talked'",
        )?,
    })
}

/// Which officials a matrix page shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this state (USPS code).
    pub state: Option<String>,
    /// Only this county (FIPS).
    pub county: Option<String>,
    /// Only this office.
    pub office: Option<Office>,
    /// Only officials with a latest answer in this position.
    pub position: Option<Position>,
}

/// How a matrix page is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// By state, county and office (the default).
    #[default]
    Place,
    /// Most rules supported first.
    Support,
    /// Most groups asking first.
    Groups,
    /// By the official's name.
    Name,
}

impl Sort {
    /// Reads `place`, `support`, `groups` or `name`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "place" => Sort::Place,
            "support" => Sort::Support,
            "groups" => Sort::Groups,
            "name" => Sort::Name,
            _ => return None,
        })
    }

    /// Its spelling in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Place => "place",
            Sort::Support => "support",
            Sort::Groups => "groups",
            Sort::Name => "name",
        }
    }
}

/// One rule's latest answer in a matrix cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Whether it is already policy.
    pub existing: ExistingPolicy,
    /// The official's position.
    pub position: Position,
}

/// One row of the matrix: an official and a cell per rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// `FIPS/office[/place]`.
    pub key: String,
    /// The county (FIPS).
    pub county: String,
    /// "Travis, TX".
    pub county_name: String,
    /// The state (USPS).
    pub state: String,
    /// The office.
    pub office: Office,
    /// The city or precinct.
    pub place: Option<String>,
    /// Their name, as the most recently updated group wrote it.
    pub name: String,
    /// Their title.
    pub title: String,
    /// How many sharing groups ask them.
    pub groups: u64,
    /// The latest answer per rule, in [`RULES`] order.
    pub cells: Vec<Option<Cell>>,
}

impl Row {
    /// How many rules they support (already in place, will support, or with changes).
    pub fn supported(&self) -> usize {
        self.cells
            .iter()
            .flatten()
            .filter(|c| supports(c.position))
            .count()
    }
}

/// Whether a position counts as support.
pub fn supports(p: Position) -> bool {
    matches!(
        p,
        Position::AlreadyInPlace | Position::WillSupport | Position::SupportsWithChanges
    )
}

/// A page of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page {
    /// The rows on this page.
    pub rows: Vec<Row>,
    /// How many officials match the filter.
    pub total: usize,
    /// This page (from 1).
    pub page: usize,
    /// How many pages there are (at least 1).
    pub pages: usize,
}

/// A page of `per_page` officials matching `filter`, ordered by `sort`. Only the page's
/// officials' answers are read unless the filter or the order needs everyone's.
pub fn matrix(
    conn: &mut dyn Sql,
    filter: &Filter,
    sort: Sort,
    page: usize,
    per_page: usize,
) -> Result<Page, DbError> {
    let mut rows = officials(conn, filter)?;
    let everyone = filter.position.is_some() || sort == Sort::Support;
    if everyone {
        fill_cells(conn, &mut rows, false)?;
        if let Some(p) = filter.position {
            rows.retain(|r| r.cells.iter().flatten().any(|c| c.position == p));
        }
    }
    match sort {
        Sort::Place => {}
        Sort::Support => rows.sort_by_key(|r| std::cmp::Reverse(r.supported())),
        Sort::Groups => rows.sort_by_key(|r| std::cmp::Reverse(r.groups)),
        Sort::Name => rows.sort_by_key(|r| r.name.to_lowercase()),
    }
    let per_page = per_page.max(1);
    let total = rows.len();
    let pages = total.div_ceil(per_page).max(1);
    let page = page.clamp(1, pages);
    let mut rows: Vec<Row> = rows
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    if !everyone {
        fill_cells(conn, &mut rows, true)?;
    }
    Ok(Page {
        rows,
        total,
        page,
        pages,
    })
}

/// Every official matching the filter's state, county and office, by state, county, key
/// (in byte order); cells empty.
fn officials(conn: &mut dyn Sql, filter: &Filter) -> Result<Vec<Row>, DbError> {
    // One row per group asking an official; the official's columns are those of the most
    // recently updated group (of two updated at once, the first by name, then by id), picked
    // here, as the official's page picks them.
    let found = conn.query(
        "SELECT o.official_key, o.county, o.state, o.office, o.place, o.name, o.title,
                g.updated_at, g.name, g.group_id
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id
         WHERE (CAST($1 AS TEXT) IS NULL OR o.state = $1)
           AND (CAST($2 AS TEXT) IS NULL OR o.county = $2)
           AND (CAST($3 AS TEXT) IS NULL OR o.office = $3)",
        &[
            &filter.state,
            &filter.county,
            &filter.office.map(|o| o.as_str()),
        ],
    )?;
    // Per official: the winning row's index and how many groups ask them.
    let mut picked: HashMap<&str, (usize, u64)> = HashMap::new();
    for (i, r) in found.iter().enumerate() {
        let key = text(r, 0)?;
        match picked.get_mut(key) {
            None => {
                picked.insert(key, (i, 1));
            }
            Some((kept, groups)) => {
                *groups += 1;
                if first(r)? < first(&found[*kept])? {
                    *kept = i;
                }
            }
        }
    }
    let mut out = Vec::with_capacity(picked.len());
    for (i, groups) in picked.into_values() {
        let r = &found[i];
        let county: String = r.get(1)?;
        let county_name = groundwork_core::places::county(&county)
            .map_or_else(|_| county.clone(), ToString::to_string);
        out.push(Row {
            key: r.get(0)?,
            county,
            county_name,
            state: r.get(2)?,
            office: parse(r.get(3)?)?,
            place: r.get(4)?,
            name: r.get(5)?,
            title: r.get(6)?,
            groups,
            cells: vec![None; RULES.len()],
        });
    }
    out.sort_by(|a, b| (&a.state, &a.county, &a.key).cmp(&(&b.state, &b.county, &b.key)));
    Ok(out)
}

/// How an official's row from one group ranks: the most recently updated group first, then
/// by group name, then by group id.
fn first(r: &crate::db::Row) -> Result<(std::cmp::Reverse<i64>, &str, &str), DbError> {
    Ok((std::cmp::Reverse(r.get(7)?), text(r, 8)?, text(r, 9)?))
}

/// Fills each row's cells with the latest answer per rule (of the rows' officials only, or
/// read from everyone's).
fn fill_cells(conn: &mut dyn Sql, rows: &mut [Row], only_these: bool) -> Result<(), DbError> {
    let column: HashMap<RuleCode, usize> =
        RULES.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    let latest = if only_these {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        latest_answers(conn, Some(&keys))?
    } else {
        latest_answers(conn, None)?
    };
    let at: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.as_str(), i))
        .collect();
    let mut found: Vec<(usize, usize, Cell)> = Vec::new();
    for (key, answers) in &latest {
        let Some(&row) = at.get(key.as_str()) else {
            continue;
        };
        for a in answers {
            if let Some(&col) = column.get(&a.rule) {
                found.push((row, col, a.cell));
            }
        }
    }
    for (row, col, cell) in found {
        rows[row].cells[col] = Some(cell);
    }
    Ok(())
}

/// An official's latest answer to one rule.
struct Latest {
    /// The rule.
    rule: RuleCode,
    /// When it was recorded (Unix ms).
    at: i64,
    /// The group that reported it (the tie-breaker).
    group: String,
    /// The answer.
    cell: Cell,
}

/// The latest answer per rule of the officials in `keys` (of every official when `None`):
/// the newest report; of two at once, the first group by id, as the official's page picks
/// it. Picked in one pass here, the same on either engine (no bare columns beside MAX, and
/// no text ordering left to PostgreSQL's collation); a grouped MAX over every answer would
/// sort them all first and cost several times as much. Text is parsed in place, and a key
/// allocated once per official, not once per answer.
fn latest_answers(
    conn: &mut dyn Sql,
    keys: Option<&[&str]>,
) -> Result<HashMap<String, Vec<Latest>>, DbError> {
    const COLUMNS: &str = "SELECT official_key, rule, existing, position, recorded_at, group_id
         FROM campaign_answers";
    let found = match keys {
        None => conn.query(COLUMNS, &[])?,
        Some([]) => return Ok(HashMap::new()),
        Some(keys) => {
            let marks: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
            let params: Vec<&dyn crate::db::ToValue> =
                keys.iter().map(|k| k as &dyn crate::db::ToValue).collect();
            conn.query(
                &format!("{COLUMNS} WHERE official_key IN ({})", marks.join(", ")),
                &params,
            )?
        }
    };
    let mut newest: HashMap<String, Vec<Latest>> = HashMap::new();
    for r in &found {
        let rule: RuleCode = parse_ref(r, 1)?;
        let at: i64 = r.get(4)?;
        let group = text(r, 5)?;
        let key = text(r, 0)?;
        let answers = match newest.get_mut(key) {
            Some(a) => a,
            None => newest.entry(key.to_owned()).or_default(),
        };
        let cell = || -> Result<Cell, DbError> {
            Ok(Cell {
                existing: parse_ref(r, 2)?,
                position: parse_ref(r, 3)?,
            })
        };
        match answers.iter_mut().find(|a| a.rule == rule) {
            Some(kept) if at > kept.at || (at == kept.at && group < kept.group.as_str()) => {
                *kept = Latest {
                    rule,
                    at,
                    group: group.to_owned(),
                    cell: cell()?,
                };
            }
            Some(_) => {}
            None => answers.push(Latest {
                rule,
                at,
                group: group.to_owned(),
                cell: cell()?,
            }),
        }
    }
    Ok(newest)
}

/// A text column, borrowed.
fn text(r: &crate::db::Row, i: usize) -> Result<&str, DbError> {
    match r.values().get(i) {
        Some(Value::Text(s)) => Ok(s),
        // Not text: the row's own error, naming the column and what it holds.
        _ => Err(r
            .get::<String>(i)
            .err()
            .unwrap_or_else(|| DbError::Type(format!("column {i} is not text")))),
    }
}

/// Parses a text column in place.
fn parse_ref<T: std::str::FromStr>(r: &crate::db::Row, i: usize) -> Result<T, DbError> {
    let s = text(r, i)?;
    s.parse()
        .map_err(|_| DbError::Type(format!("unexpected stored value {s:?}")))
}

/// Where a county stands, for the map: the furthest any official there has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No sharing group asks an official there.
    NotAsked,
    /// Asked; no answer recorded yet.
    Asked,
    /// Answers recorded, none in support.
    NoSupport,
    /// Support for some of the rules.
    SomeRules,
    /// Support for all nine core rules (R1 to R9).
    AllRules,
}

impl Status {
    /// Every status, in the legend's order.
    pub const ALL: [Status; 5] = [
        Status::AllRules,
        Status::SomeRules,
        Status::NoSupport,
        Status::Asked,
        Status::NotAsked,
    ];

    /// Its words, for the legend and the tooltips.
    pub fn words(self) -> &'static str {
        match self {
            Status::NotAsked => "Not asked yet",
            Status::Asked => "Asked, no answers yet",
            Status::NoSupport => "Answered, no support yet",
            Status::SomeRules => "Supports some rules",
            Status::AllRules => "Supports all nine rules",
        }
    }

    /// Its CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Status::NotAsked => "s0",
            Status::Asked => "s1",
            Status::NoSupport => "s2",
            Status::SomeRules => "s3",
            Status::AllRules => "s4",
        }
    }
}

/// A county on the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct County {
    /// FIPS.
    pub fips: String,
    /// "Travis, TX".
    pub name: String,
    /// How many officials sharing groups ask there.
    pub officials: u64,
    /// Its status.
    pub status: Status,
}

/// Every county where a sharing group asks an official, with its status, by FIPS (counties
/// not listed are not asked).
pub fn counties(conn: &mut dyn Sql) -> Result<Vec<County>, DbError> {
    // Each official's latest answer per rule (as the matrix picks it), tallied here: how
    // many rules answered, and which of the nine core rules supported.
    let mut tally: HashMap<String, (u32, u16)> = HashMap::new();
    for (key, answers) in latest_answers(conn, None)? {
        let entry = tally.entry(key).or_default();
        for a in answers {
            entry.0 += 1;
            if let Some(bit) = core_rule_bit(a.rule)
                && supports(a.cell.position)
            {
                entry.1 |= 1 << bit;
            }
        }
    }
    let core = RULES.iter().filter_map(|r| core_rule_bit(r.code)).count() as u32;
    // By county in byte order, sorted here (not by PostgreSQL's collation).
    let mut pairs = conn
        .query(
            "SELECT DISTINCT county, official_key FROM campaign_officials",
            &[],
        )?
        .into_iter()
        .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))
        .collect::<Result<Vec<_>, DbError>>()?;
    pairs.sort();
    let mut out: Vec<County> = Vec::new();
    for (fips, key) in pairs {
        let (answered, supported) = tally.get(&key).copied().unwrap_or_default();
        let status = if answered == 0 {
            Status::Asked
        } else if supported == 0 {
            Status::NoSupport
        } else if supported.count_ones() >= core {
            Status::AllRules
        } else {
            Status::SomeRules
        };
        match out.last_mut() {
            Some(c) if c.fips == fips => {
                c.officials += 1;
                c.status = c.status.max(status);
            }
            _ => {
                let name = groundwork_core::places::county(&fips)
                    .map_or_else(|_| fips.clone(), ToString::to_string);
                out.push(County {
                    fips,
                    name,
                    officials: 1,
                    status,
                });
            }
        }
    }
    Ok(out)
}

/// The bit of a core rule (R1 to R9) in a support mask; `None` for the optional 1373 rule.
fn core_rule_bit(rule: RuleCode) -> Option<u32> {
    (rule != RuleCode::R1373)
        .then(|| RULES.iter().position(|r| r.code == rule))
        .flatten()
        .map(|i| i as u32)
}

/// A meeting a group made public, for the public map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PublicMeeting {
    /// `GROUP/MEETING`: a stable id (for the calendar).
    pub id: String,
    /// Its title.
    pub title: String,
    /// When (Unix ms).
    pub at: i64,
    /// Its IANA time zone (the group's choice, else its county's): what `at` is shown in.
    pub zone: Option<String>,
    /// Where.
    pub place: Option<String>,
    /// Its status (`requested`, `scheduled`, `held`).
    pub status: String,
    /// The county (FIPS) and its name.
    pub county: String,
    /// "Travis, TX".
    pub county_name: String,
    /// The state (USPS).
    pub state: String,
    /// The official's title and name, e.g. "Sheriff Example".
    pub with: String,
    /// The group hosting it.
    pub group_name: String,
}

impl PublicMeeting {
    /// Its time where it is: "Tue 15 Dec 2026, 18:30 PST".
    pub fn when(&self) -> String {
        groundwork_core::time::format_local(self.at, self.zone.as_deref())
    }

    /// The day it is on where it is (`YYYY-MM-DD`): what the map's dates select.
    pub fn day(&self) -> String {
        groundwork_core::time::local_date(self.at, self.zone.as_deref())
    }
}

/// Public meetings with a time, from `from` to `to` (Unix ms), optionally in one state, by
/// time, then by group name (in byte order), then by group and meeting id. Cancelled and
/// declined meetings are left out.
pub fn public_meetings(
    conn: &mut dyn Sql,
    state: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Vec<PublicMeeting>, DbError> {
    let found = conn.query(
        "SELECT m.group_id, m.meeting_id, m.title, m.at, m.place, m.status, o.county, o.state,
                o.title, o.name, g.name, m.zone
         FROM campaign_meetings m
         JOIN campaign_officials o ON o.group_id = m.group_id AND o.official_key = m.official_key
         JOIN campaign_groups g ON g.group_id = m.group_id
         WHERE m.visibility = 'public' AND m.at IS NOT NULL
           AND m.status IN ('requested', 'scheduled', 'held')
           AND (CAST($1 AS TEXT) IS NULL OR o.state = $1)
           AND (CAST($2 AS BIGINT) IS NULL OR m.at >= $2)
           AND (CAST($3 AS BIGINT) IS NULL OR m.at <= $3)",
        &[&state, &from, &to],
    )?;
    let mut out = Vec::with_capacity(found.len());
    for r in found {
        let group: String = r.get(0)?;
        let meeting: String = r.get(1)?;
        let county: String = r.get(6)?;
        let title: Option<String> = r.get(2)?;
        let (official_title, official_name): (String, String) = (r.get(8)?, r.get(9)?);
        let zone = r.get::<Option<String>>(11)?.or_else(|| {
            groundwork_core::places::county(&county)
                .ok()
                .map(|c| c.zone.to_owned())
        });
        let m = PublicMeeting {
            id: format!("{group}/{meeting}"),
            title: title.unwrap_or_else(|| format!("Meeting with {official_title}")),
            at: r.get(3)?,
            zone,
            place: r.get(4)?,
            status: r.get(5)?,
            county_name: groundwork_core::places::county(&county)
                .map_or_else(|_| county.clone(), ToString::to_string),
            county,
            state: r.get(7)?,
            with: official_label(&official_title, &official_name),
            group_name: r.get(10)?,
        };
        out.push((group, meeting, m));
    }
    // Ordered here: PostgreSQL would order the names by the database's collation.
    out.sort_by(|(ga, ma, a), (gb, mb, b)| {
        (a.at, &a.group_name, ga, ma).cmp(&(b.at, &b.group_name, gb, mb))
    });
    Ok(out.into_iter().map(|(_, _, m)| m).collect())
}

/// An official as people say it: "Sheriff Chad Example", or the name alone when it already
/// says the office ("Sheriff of Travis, TX").
pub fn official_label(title: &str, name: &str) -> String {
    if title.is_empty() || name.starts_with(title) {
        name.to_owned()
    } else {
        format!("{title} {name}")
    }
}
