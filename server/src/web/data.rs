//! What the dashboard and the public map show, read from the campaign index: the overview's
//! counts, a page of the official-by-rule matrix, each county's status for the map, and the
//! meetings groups made public. Plain queries over the index tables; no HTML here.

use std::collections::HashMap;

use groundwork_core::rules::{RULES, RuleCode};
use groundwork_core::schema::vocab::{ExistingPolicy, Office, Position};
use rusqlite::{Connection, params};
use serde::Serialize;

use crate::campaign::parse;

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
pub fn overview(conn: &Connection) -> rusqlite::Result<Overview> {
    let figure = |sql: &str| -> rusqlite::Result<Figure> {
        conn.prepare_cached(sql)?.query_row([], |r| {
            Ok(Figure {
                count: r.get::<_, i64>(0)?.max(0) as u64,
                changed_at: r.get(1)?,
            })
        })
    };
    let grouped = |sql: &str| -> rusqlite::Result<Vec<(String, Figure)>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                Figure {
                    count: r.get::<_, i64>(1)?.max(0) as u64,
                    changed_at: r.get(2)?,
                },
            ))
        })?;
        rows.collect()
    };
    Ok(Overview {
        groups: figure("SELECT COUNT(*), MAX(updated_at) FROM campaign_groups")?,
        officials: figure(
            "SELECT COUNT(DISTINCT o.official_key), MAX(g.updated_at)
             FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id",
        )?,
        meetings: grouped(
            "SELECT m.status, COUNT(*), MAX(g.updated_at)
             FROM campaign_meetings m JOIN campaign_groups g ON g.group_id = m.group_id
             WHERE m.joins IS NULL GROUP BY m.status ORDER BY m.status",
        )?,
        responses: grouped(
            "SELECT position, COUNT(*), MAX(at) FROM (
                 SELECT position, MAX(recorded_at) AS at FROM campaign_answers
                 GROUP BY official_key, rule)
             GROUP BY position ORDER BY position",
        )?,
        doors: figure(
            "SELECT COUNT(*), MAX(g.updated_at)
             FROM campaign_canvass c JOIN campaign_groups g ON g.group_id = c.group_id",
        )?,
        conversations: figure(
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
    conn: &Connection,
    filter: &Filter,
    sort: Sort,
    page: usize,
    per_page: usize,
) -> rusqlite::Result<Page> {
    let mut rows = officials(conn, filter)?;
    let everyone = filter.position.is_some() || sort == Sort::Support;
    if everyone {
        fill_cells(conn, &mut rows, None)?;
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
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let keys = serde_json::to_string(&keys).unwrap_or_default();
        fill_cells(conn, &mut rows, Some(&keys))?;
    }
    Ok(Page {
        rows,
        total,
        page,
        pages,
    })
}

/// Every official matching the filter's state, county and office, by state, county, key;
/// cells empty.
fn officials(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<Row>> {
    // The bare columns come from the row of the most recently updated group (SQLite's rule
    // for MAX with bare columns).
    let mut stmt = conn.prepare_cached(
        "SELECT o.official_key, o.county, o.state, o.office, o.place, o.name, o.title,
                COUNT(*), MAX(g.updated_at)
         FROM campaign_officials o JOIN campaign_groups g ON g.group_id = o.group_id
         WHERE (?1 IS NULL OR o.state = ?1) AND (?2 IS NULL OR o.county = ?2)
           AND (?3 IS NULL OR o.office = ?3)
         GROUP BY o.official_key
         ORDER BY o.state, o.county, o.official_key",
    )?;
    let mut out = Vec::new();
    let mut rows = stmt.query(params![
        filter.state,
        filter.county,
        filter.office.map(|o| o.as_str())
    ])?;
    while let Some(r) = rows.next()? {
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
            groups: r.get::<_, i64>(7)?.max(0) as u64,
            cells: vec![None; RULES.len()],
        });
    }
    Ok(out)
}

/// Fills each row's cells with the latest answer per rule (of the officials in `keys`, a JSON
/// array, or of everyone).
fn fill_cells(conn: &Connection, rows: &mut [Row], keys: Option<&str>) -> rusqlite::Result<()> {
    let column: HashMap<RuleCode, usize> =
        RULES.iter().enumerate().map(|(i, r)| (r.code, i)).collect();
    let at: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.key.as_str(), i))
        .collect();
    let mut found: Vec<(usize, usize, Cell)> = Vec::new();
    let mut read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
        let key: String = r.get(0)?;
        let rule: RuleCode = parse(r.get(1)?)?;
        if let (Some(&row), Some(&col)) = (at.get(key.as_str()), column.get(&rule)) {
            found.push((
                row,
                col,
                Cell {
                    existing: parse(r.get(2)?)?,
                    position: parse(r.get(3)?)?,
                },
            ));
        }
        Ok(())
    };
    // The latest answer per official and rule: the bare columns of MAX(recorded_at).
    match keys {
        Some(keys) => {
            let mut stmt = conn.prepare_cached(
                "SELECT official_key, rule, existing, position, MAX(recorded_at)
                 FROM campaign_answers
                 WHERE official_key IN (SELECT value FROM json_each(?1))
                 GROUP BY official_key, rule",
            )?;
            let mut q = stmt.query([keys])?;
            while let Some(r) = q.next()? {
                read(r)?;
            }
        }
        None => {
            for (key, answers) in latest_answers(conn)? {
                let Some(&row) = at.get(key.as_str()) else {
                    continue;
                };
                for (rule, cell) in answers {
                    if let Some(&col) = column.get(&rule) {
                        found.push((row, col, cell));
                    }
                }
            }
        }
    }
    for (row, col, cell) in found {
        rows[row].cells[col] = Some(cell);
    }
    Ok(())
}

/// Every official's latest answer per rule (the newest report; of two at once, the first
/// read). One scan of the answers, kept here: SQLite's GROUP BY with MAX over every answer
/// sorts them all first and costs several times as much. Text is parsed in place, and a key
/// allocated once per official, not once per answer.
fn latest_answers(conn: &Connection) -> rusqlite::Result<HashMap<String, Vec<(RuleCode, Cell)>>> {
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
        Ok(r.get_ref(i)?.as_str()?.to_owned())
    };
    let mut newest: HashMap<String, Vec<(RuleCode, i64, Cell)>> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT official_key, rule, existing, position, recorded_at FROM campaign_answers",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let rule: RuleCode = parse_ref(r, 1)?;
        let at: i64 = r.get(4)?;
        let cell = Cell {
            existing: parse_ref(r, 2)?,
            position: parse_ref(r, 3)?,
        };
        let key = r.get_ref(0)?.as_str()?;
        let answers = match newest.get_mut(key) {
            Some(a) => a,
            None => newest.entry(text(r, 0)?).or_default(),
        };
        match answers.iter_mut().find(|(r, ..)| *r == rule) {
            Some(kept) if at > kept.1 => *kept = (rule, at, cell),
            Some(_) => {}
            None => answers.push((rule, at, cell)),
        }
    }
    Ok(newest
        .into_iter()
        .map(|(key, answers)| {
            let cells = answers
                .into_iter()
                .map(|(rule, _, cell)| (rule, cell))
                .collect();
            (key, cells)
        })
        .collect())
}

/// Parses a text column in place.
fn parse_ref<T: std::str::FromStr>(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
    let s = r.get_ref(i)?.as_str()?;
    s.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unexpected stored value {s:?}").into(),
        )
    })
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
pub fn counties(conn: &Connection) -> rusqlite::Result<Vec<County>> {
    // Each official's latest answer per rule (the bare columns of MAX), tallied here: how
    // many rules answered, and which of the nine core rules supported.
    let mut tally: HashMap<String, (u32, u16)> = HashMap::new();
    for (key, answers) in latest_answers(conn)? {
        let entry = tally.entry(key).or_default();
        for (rule, cell) in answers {
            entry.0 += 1;
            if let Some(bit) = core_rule_bit(rule)
                && supports(cell.position)
            {
                entry.1 |= 1 << bit;
            }
        }
    }
    let core = RULES.iter().filter_map(|r| core_rule_bit(r.code)).count() as u32;
    let mut out: Vec<County> = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT county, official_key FROM campaign_officials ORDER BY county",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let fips: String = r.get(0)?;
        let key: String = r.get(1)?;
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

/// Public meetings with a time, from `from` to `to` (Unix ms), optionally in one state, by
/// time. Cancelled and declined meetings are left out.
pub fn public_meetings(
    conn: &Connection,
    state: Option<&str>,
    from: Option<i64>,
    to: Option<i64>,
) -> rusqlite::Result<Vec<PublicMeeting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.group_id, m.meeting_id, m.title, m.at, m.place, m.status, o.county, o.state,
                o.title, o.name, g.name
         FROM campaign_meetings m
         JOIN campaign_officials o ON o.group_id = m.group_id AND o.official_key = m.official_key
         JOIN campaign_groups g ON g.group_id = m.group_id
         WHERE m.visibility = 'public' AND m.at IS NOT NULL
           AND m.status IN ('requested', 'scheduled', 'held')
           AND (?1 IS NULL OR o.state = ?1) AND (?2 IS NULL OR m.at >= ?2)
           AND (?3 IS NULL OR m.at <= ?3)
         ORDER BY m.at, g.name",
    )?;
    let rows = stmt.query_map(params![state, from, to], |r| {
        let county: String = r.get(6)?;
        let title: Option<String> = r.get(2)?;
        let (official_title, official_name): (String, String) = (r.get(8)?, r.get(9)?);
        Ok(PublicMeeting {
            id: format!("{}/{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?),
            title: title.unwrap_or_else(|| format!("Meeting with {official_title}")),
            at: r.get(3)?,
            place: r.get(4)?,
            status: r.get(5)?,
            county_name: groundwork_core::places::county(&county)
                .map_or_else(|_| county.clone(), ToString::to_string),
            county,
            state: r.get(7)?,
            with: official_label(&official_title, &official_name),
            group_name: r.get(10)?,
        })
    })?;
    rows.collect()
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
