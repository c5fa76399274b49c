//! The pages, as askama templates (`server/templates/`) and the words they show: positions,
//! existing policy and offices in plain English, meetings' times where they are (with the
//! zone's abbreviation), an official's reports in their county's time, other times in UTC.

use askama::Template;
use groundwork_core::campaign::OfficialDetail;
use groundwork_core::rules::Rule;
use groundwork_core::schema::vocab::{ExistingPolicy, Office, Position};

pub use super::data::official_label;
use super::data::{County, Figure, Page, PublicMeeting};

/// The relay's front page (`/`): where people go, and the address devices sync at.
#[derive(Template)]
#[template(path = "home.html")]
pub struct Home {
    /// The sync URL devices dial (the relay's first public address).
    pub sync_url: String,
}

/// The sign-in page: instructions, or the button that spends a link's code.
#[derive(Template)]
#[template(path = "login.html")]
pub struct Login {
    /// The code from the link, if the browser came with one.
    pub code: Option<String>,
    /// Why the last attempt failed.
    pub problem: Option<String>,
}

/// The overview's headline figures.
#[derive(Template)]
#[template(path = "overview.html")]
pub struct Overview {
    /// Which page the navigation marks.
    pub here: &'static str,
    /// (what, figure), in reading order.
    pub figures: Vec<(String, Figure)>,
}

/// The matrix, for every official or one county's.
#[derive(Template)]
#[template(path = "officials.html")]
pub struct Officials {
    /// Which page the navigation marks.
    pub here: &'static str,
    /// The page's heading.
    pub heading: String,
    /// Where the filter form goes.
    pub action: String,
    /// Whether the state filter applies (not on a county's page).
    pub show_state: bool,
    /// The states that have officials.
    pub states: Vec<String>,
    /// The filter's choices: (value, words).
    pub offices: Vec<(&'static str, &'static str)>,
    /// The filter's choices: (value, words).
    pub positions: Vec<(&'static str, &'static str)>,
    /// The orders: (value, words).
    pub sorts: Vec<(&'static str, &'static str)>,
    /// What is selected ("" for all).
    pub selected_state: String,
    /// What is selected ("" for all).
    pub selected_office: &'static str,
    /// What is selected ("" for any).
    pub selected_position: &'static str,
    /// The order.
    pub selected_sort: &'static str,
    /// The filter as a query string (for the CSV and the page links), already escaped.
    pub query: String,
    /// The rules, as columns.
    pub rules: &'static [Rule],
    /// The rows.
    pub page: Page,
}

/// The county map for staff.
#[derive(Template)]
#[template(path = "map.html")]
pub struct Map {
    /// Which page the navigation marks.
    pub here: &'static str,
    /// The map.
    pub svg: String,
    /// (class, words, how many counties).
    pub legend: Vec<(&'static str, &'static str, usize)>,
    /// The asked counties, as a list.
    pub counties: Vec<County>,
}

/// An official's page.
#[derive(Template)]
#[template(path = "official.html")]
pub struct Official {
    /// Which page the navigation marks.
    pub here: &'static str,
    /// Everything about them.
    pub d: OfficialDetail,
}

/// The public meetings map.
#[derive(Template)]
#[template(path = "public.html")]
pub struct Public {
    /// The map.
    pub svg: String,
    /// The states with public meetings.
    pub states: Vec<String>,
    /// What is selected ("" for all).
    pub selected_state: String,
    /// The date range, as typed (YYYY-MM-DD or empty).
    pub from: String,
    /// The date range, as typed (YYYY-MM-DD or empty).
    pub to: String,
    /// The meetings.
    pub meetings: Vec<PublicMeeting>,
}

/// A time as "2026-12-10 18:00 UTC".
pub fn when(ms: &i64) -> String {
    let t = groundwork_core::time::format_rfc3339(*ms);
    match (t.get(..10), t.get(11..16)) {
        (Some(day), Some(hm)) => format!("{day} {hm} UTC"),
        _ => t,
    }
}

/// A time, or "never" / "not set".
pub fn when_opt(ms: &Option<i64>) -> String {
    ms.as_ref().map_or_else(|| "—".to_owned(), when)
}

/// A meeting's time in its zone: "Tue 15 Dec 2026, 18:30 PST" (UTC, said so, without one).
pub fn local(ms: &i64, zone: &Option<String>) -> String {
    groundwork_core::time::format_local(*ms, zone.as_deref())
}

/// A meeting's time in its zone, or "—" when it has none yet.
pub fn local_opt(ms: &Option<i64>, zone: &Option<String>) -> String {
    ms.map_or_else(|| "—".to_owned(), |ms| local(&ms, zone))
}

/// A time in a county's zone (by FIPS code): when an official's answer was recorded, as the
/// people of that county would say it.
pub fn in_county(ms: &i64, county: &str) -> String {
    let zone = groundwork_core::places::county(county).ok().map(|c| c.zone);
    groundwork_core::time::format_local(*ms, zone)
}

/// A position in words.
pub fn position_words(p: &Position) -> &'static str {
    match p {
        Position::AlreadyInPlace => "Already in place",
        Position::WillSupport => "Will support",
        Position::SupportsWithChanges => "Supports with changes",
        Position::WillConsider => "Will consider",
        Position::Opposes => "Opposes",
        Position::NoAnswer => "No answer",
    }
}

/// A position's colour class.
pub fn position_class(p: &Position) -> &'static str {
    match p {
        Position::AlreadyInPlace => "p-in-place",
        Position::WillSupport => "p-support",
        Position::SupportsWithChanges => "p-changes",
        Position::WillConsider => "p-consider",
        Position::Opposes => "p-opposes",
        Position::NoAnswer => "p-none",
    }
}

/// Whether a rule is already policy, in words.
pub fn existing_words(e: &ExistingPolicy) -> &'static str {
    match e {
        ExistingPolicy::InPlace => "written policy",
        ExistingPolicy::InPractice => "in practice",
        ExistingPolicy::Partial => "partly policy",
        ExistingPolicy::None => "not policy",
        ExistingPolicy::Unknown => "policy unknown",
    }
}

/// An office in words.
pub fn office_words(o: &Office) -> &'static str {
    match o {
        Office::Sheriff => "Sheriff",
        Office::PoliceChief => "Police chief",
        Office::PrecinctCommander => "Precinct commander",
        Office::Mayor => "Mayor",
        Office::CityCouncil => "City council",
        Office::StateLegislator => "State legislator",
        Office::SchoolBoard => "School board",
        Office::Other => "Other office",
    }
}

/// Every office: (value, words).
pub fn offices() -> Vec<(&'static str, &'static str)> {
    [
        Office::Sheriff,
        Office::PoliceChief,
        Office::PrecinctCommander,
        Office::Mayor,
        Office::CityCouncil,
        Office::StateLegislator,
        Office::SchoolBoard,
        Office::Other,
    ]
    .iter()
    .map(|o| (o.as_str(), office_words(o)))
    .collect()
}

/// Every position: (value, words).
pub fn positions() -> Vec<(&'static str, &'static str)> {
    [
        Position::AlreadyInPlace,
        Position::WillSupport,
        Position::SupportsWithChanges,
        Position::WillConsider,
        Position::Opposes,
        Position::NoAnswer,
    ]
    .iter()
    .map(|p| (p.as_str(), position_words(p)))
    .collect()
}

/// An official's key as a URL path (`06065/police-chief/Palm%20Springs`): each segment
/// percent-encoded.
pub fn key_path(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
