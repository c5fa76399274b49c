//! Text and JSON shapes of command output. A meeting's time is shown where the meeting is, with
//! its zone's abbreviation ("Tue 15 Dec 2026, 18:30 PST"); its JSON keeps the instant (`at`,
//! RFC 3339 in UTC) beside its `zone` and its `local` time (RFC 3339 with the day's offset).
//! Other times go out as RFC 3339 in both. Every string
//! that comes from a document, the relay or another device is printed through [`clean_line`]
//! or [`clean_prose`], so that it cannot drive the terminal.

use std::borrow::Cow;
use std::fmt::{self, Write};

use groundwork_core::net::SyncProgress;
use groundwork_core::rules::RULES;
use groundwork_core::schema::plan::Meeting;
use groundwork_core::schema::roster::RosterMember;
use groundwork_core::store::index::{
    ActionRow, ContactPage, ContactRow, MeetingRow, ScorecardRow, TargetRow,
};
use groundwork_core::sync::connection::ConnectionRecord;
use groundwork_core::time::{format_local, format_rfc3339, local_rfc3339};
use groundwork_core::{DocSyncRecord, GroupSummary};
use serde_json::{Value, json};

/// Text from a document, the relay or another device, as it is safe to print on a terminal:
/// control characters that would move the cursor, recolour, retitle the window, ring the bell
/// or overwrite the line (C0 but a kept newline, DEL, C1), and the bidi overrides and isolates
/// that make text read in another order than it is stored, are shown as escapes (`\u{1b}`,
/// `\r`, `\u{202e}`) instead. Honours width and alignment (`{:<20}`). `--json` output does
/// not use it: serde_json escapes control characters itself.
pub struct Clean<'a> {
    /// The text as stored.
    text: &'a str,
    /// Whether a newline is printed as one (multi-line prose) or escaped (one-line fields).
    newlines: bool,
}

/// A one-line field (a title, a name, a place, an id): every control character escaped,
/// newlines too, so that a field cannot start a line that looks like another.
pub fn clean_line(text: &str) -> Clean<'_> {
    Clean {
        text,
        newlines: false,
    }
}

/// Multi-line prose (meeting notes, an error message): newlines kept, every other control
/// character escaped.
pub fn clean_prose(text: &str) -> Clean<'_> {
    Clean {
        text,
        newlines: true,
    }
}

impl Clean<'_> {
    fn escapes(&self, c: char) -> bool {
        match c {
            '\n' => !self.newlines,
            // C0, DEL, C1.
            '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => true,
            // Bidi embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI,
            // FSI, PDI).
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
            _ => false,
        }
    }

    fn escaped(&self) -> Cow<'_, str> {
        if !self.text.chars().any(|c| self.escapes(c)) {
            return Cow::Borrowed(self.text);
        }
        let mut out = String::with_capacity(self.text.len() + 16);
        for c in self.text.chars() {
            match c {
                c if !self.escapes(c) => out.push(c),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        }
        Cow::Owned(out)
    }
}

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.escaped())
    }
}

/// An optional one-line field, `-` when absent.
fn opt(v: &Option<String>) -> Clean<'_> {
    clean_line(v.as_deref().unwrap_or("-"))
}

/// A list of names (groups, attendees) on one line.
fn names<'a>(names: impl IntoIterator<Item = &'a str>, sep: &str) -> String {
    names
        .into_iter()
        .map(|n| clean_line(n).to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

pub fn rules() -> String {
    let mut s = String::new();
    for r in RULES {
        let _ = writeln!(s, "{:<6} {:<42} {}", r.code.as_str(), r.title, r.summary);
    }
    s
}

pub fn groups(rows: &[GroupSummary]) -> String {
    let mut s = String::new();
    for g in rows {
        let _ = writeln!(
            s,
            "{}  {}  ({}, {}{})",
            clean_line(&g.group_id),
            clean_line(&g.name),
            g.role,
            opt(&g.jurisdiction),
            if g.shares { "" } else { ", not sharing" }
        );
    }
    s
}

pub fn targets(rows: &[TargetRow]) -> String {
    let mut s = String::new();
    for t in rows {
        let _ = write!(
            s,
            "{}  {}  {}  [{}]",
            clean_line(&t.target_id),
            official_name(&t.name, &t.title),
            opt(&t.agency),
            t.level
        );
        if let Some(key) = &t.official_key {
            let _ = write!(s, "  {}", clean_line(key));
        }
        s.push('\n');
    }
    s
}

/// Counties found in the directory.
pub fn counties(rows: &[&groundwork_core::places::County]) -> String {
    let mut s = String::new();
    for c in rows {
        let _ = writeln!(s, "{}  {}, {} ({})", c.fips, c.name, c.state, c.state_name);
    }
    s
}

/// A meeting's time for people, in its zone ("Tue 15 Dec 2026, 18:30 PST"), or "-".
pub fn when(at: Option<i64>, zone: Option<&str>) -> String {
    at.map_or_else(|| "-".into(), |at| format_local(at, zone))
}

/// A meeting's local time for programs, RFC 3339 with the zone's offset that day.
fn local(at: Option<i64>, zone: Option<&str>) -> Option<String> {
    at.map(|at| local_rfc3339(at, zone))
}

pub fn meetings_json(rows: &[MeetingRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|m| {
                json!({
                    "meeting_id": m.meeting_id,
                    "kind": m.kind,
                    "title": m.title,
                    "target_id": m.target_id,
                    "at": m.at.map(format_rfc3339),
                    "zone": m.zone,
                    "local": local(m.at, m.zone.as_deref()),
                    "location": m.location,
                    "status": m.status,
                    "visibility": m.visibility,
                    "agenda_items": m.agenda_items,
                })
            })
            .collect(),
    )
}

pub fn meetings(rows: &[MeetingRow]) -> String {
    let mut s = String::new();
    for m in rows {
        let at = when(m.at, m.zone.as_deref());
        let _ = writeln!(
            s,
            "{}  {:<10} {:<11} {}  {}",
            clean_line(&m.meeting_id),
            m.kind.as_str(),
            m.status.as_str(),
            at,
            clean_line(&m.title)
        );
    }
    s
}

pub fn meeting_json(m: &Meeting) -> Value {
    json!({
        "meeting_id": m.id,
        "kind": m.kind,
        "title": m.title,
        "target_id": m.target,
        "at": m.at.map(format_rfc3339),
        "zone": m.zone,
        "local": local(m.at, m.zone.as_deref()),
        "location": m.location,
        "host": m.host,
        "roles": m.roles,
        "status": m.status,
        "visibility": m.visibility,
        "agenda": m.agenda.iter().map(|i| json!({ "item_id": i.id, "text": i.text })).collect::<Vec<_>>(),
        "attendees": m.attendees,
        "notes": m.notes.as_str(),
    })
}

/// A meeting in full; `with` is its official as the index has them (the id alone if the
/// target is not on this device).
pub fn meeting(m: &Meeting, with: Option<&TargetRow>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}, {}, {})",
        clean_line(&m.title),
        m.kind,
        m.status,
        m.visibility
    );
    if let Some(at) = m.at {
        let _ = write!(s, "when:  {}", format_local(at, m.zone.as_deref()));
        match &m.zone {
            Some(zone) => {
                let _ = writeln!(s, " ({})", clean_line(zone));
            }
            None => s.push('\n'),
        }
    }
    if let Some(location) = &m.location {
        let _ = writeln!(s, "where: {}", clean_line(location));
    }
    match (with, &m.target) {
        (Some(t), _) => {
            let _ = writeln!(s, "with:  {}", official_name(&t.name, &t.title));
        }
        (None, Some(target)) => {
            let _ = writeln!(s, "with:  {}", clean_line(target));
        }
        (None, None) => {}
    }
    if !m.agenda.is_empty() {
        let _ = writeln!(s, "agenda:");
        for (i, item) in m.agenda.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", i + 1, clean_line(&item.text));
        }
    }
    if !m.notes.as_str().is_empty() {
        let _ = writeln!(s, "notes:\n{}", clean_prose(m.notes.as_str()));
    }
    s
}

pub fn actions(rows: &[ActionRow]) -> String {
    let mut s = String::new();
    for a in rows {
        let _ = writeln!(
            s,
            "{}  [{}] {}  ({}, due {})",
            clean_line(&a.action_id),
            if a.done { "x" } else { " " },
            clean_line(&a.title),
            opt(&a.assignee),
            opt(&a.due)
        );
    }
    s
}

pub fn scorecard(rows: &[ScorecardRow]) -> String {
    let mut s = String::new();
    for r in rows {
        let _ = writeln!(
            s,
            "{:<20} {:<6} {:<12} {:<22} {}",
            clean_line(&r.target_name),
            r.rule.as_str(),
            r.existing.as_str(),
            r.position.map_or("-", |p| p.as_str()),
            opt(&r.conditions)
        );
    }
    s
}

/// One contact as JSON.
pub fn contact_json(c: &ContactRow) -> Value {
    json!({
        "contact_id": c.contact_id,
        "at": format_rfc3339(c.at),
        "canvasser": c.canvasser,
        "place": c.place,
        "result": c.result,
        "support": c.support,
        "interests": c.interests,
        "follow_up": c.follow_up,
        "note": c.note,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
    })
}

/// A page of contacts: `{"items": [...], "next": CURSOR or null, "total": N}`. An array could
/// not say that more exist, and a script counting it was silently wrong.
pub fn contact_page_json(page: &ContactPage) -> Value {
    json!({
        "items": page.items.iter().map(contact_json).collect::<Vec<_>>(),
        "next": page.next,
        "total": page.total,
    })
}

/// A page of contacts, and how to get the next one.
pub fn contact_page(page: &ContactPage) -> String {
    let mut s = contacts(&page.items);
    match &page.next {
        Some(next) => {
            let _ = writeln!(
                s,
                "{} of {}; --after {} for more (or --all)",
                page.items.len(),
                page.total,
                clean_line(next)
            );
        }
        None if page.items.is_empty() && page.total == 0 => s.push_str("no contacts\n"),
        None => {
            let _ = writeln!(s, "{} of {}", page.items.len(), page.total);
        }
    }
    s
}

pub fn contacts(rows: &[ContactRow]) -> String {
    let mut s = String::new();
    for c in rows {
        let _ = writeln!(
            s,
            "{}  {}  {:<16} support {}  {}",
            clean_line(&c.contact_id),
            here(c.at),
            c.result.as_str(),
            c.support.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            opt(&c.place)
        );
    }
    s
}

pub fn status(connection: Option<&ConnectionRecord>, docs: &[DocSyncRecord]) -> String {
    let mut s = String::new();
    match connection {
        None => s.push_str("relay: never connected\n"),
        Some(c) => {
            let _ = write!(
                s,
                "relay {}: {} since {}",
                clean_line(&c.relay),
                c.state,
                here(c.since)
            );
            if let Some(at) = c.retry_at {
                let _ = write!(s, ", next attempt {}", here(at));
            }
            if let Some(e) = &c.last_error {
                let _ = write!(s, " (last error: {})", clean_line(e));
            }
            s.push('\n');
        }
    }
    for d in docs {
        let when = d.synced_at.map(here).unwrap_or_else(|| "never".into());
        let _ = writeln!(
            s,
            "{}  {:<8} {}  (relay confirmed {})",
            clean_line(&d.doc_id),
            d.kind,
            if d.synced {
                "synced"
            } else {
                "local changes not on the relay"
            },
            when
        );
    }
    s
}

/// A moment that belongs to no meeting (a contact logged, a member joined, a sync), in this
/// machine's own zone: `Tue 8 Dec 2026, 18:30 CST`. JSON keeps the instant in UTC.
fn here(ms: i64) -> String {
    crate::local::when(ms, &crate::local::zone())
}

/// A group's roster.
pub fn members(members: &[(String, RosterMember)]) -> String {
    let mut s = String::new();
    for (id, m) in members {
        let state = match m.removed_at {
            Some(at) => format!("removed {}", here(at)),
            None => format!("joined {}", here(m.joined_at)),
        };
        let name = if m.name.is_empty() { "-" } else { &m.name };
        let _ = writeln!(
            s,
            "{}  {:<9} {}  ({state})",
            clean_line(id),
            m.role.as_str(),
            clean_line(name)
        );
    }
    if members.is_empty() {
        s.push_str("no roster yet: run sync\n");
    }
    s
}

/// A QR code of `text` for the terminal: two modules per character cell (half blocks), light
/// modules drawn as blocks so it reads on the usual dark terminal, with the quiet zone the
/// standard asks for. Low error correction: a screen is clean, and it keeps the code small
/// enough for an 80-column terminal.
pub fn qr(text: &str) -> anyhow::Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L)
        .map_err(|e| anyhow::anyhow!("drawing the QR code: {e}"))?;
    let drawn = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Ok(format!("{drawn}\n"))
}

/// `sync --once`'s progress on stderr: a line redrawn in place on a terminal, plain lines
/// (at most one a second, and the last) otherwise, nothing at all with `--json`.
pub struct Progress {
    enabled: bool,
    terminal: bool,
    /// When a line was last written, and what it said.
    shown: Option<(std::time::Instant, SyncProgress)>,
    /// The latest progress, written or not.
    latest: Option<SyncProgress>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        use std::io::IsTerminal;
        Self {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            shown: None,
            latest: None,
        }
    }

    pub fn show(&mut self, p: &SyncProgress) {
        if !self.enabled {
            return;
        }
        self.latest = Some(*p);
        let every = std::time::Duration::from_millis(if self.terminal { 100 } else { 1000 });
        if let Some((at, seen)) = &self.shown
            && (seen == p || at.elapsed() < every)
        {
            return;
        }
        self.write(p);
    }

    fn write(&mut self, p: &SyncProgress) {
        self.shown = Some((std::time::Instant::now(), *p));
        let line = format!(
            "syncing: {} of {} documents, {} received, {} sent",
            p.synced,
            p.documents,
            bytes(p.bytes_received),
            bytes(p.bytes_sent)
        );
        if self.terminal {
            eprint!("\r\x1b[K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    /// Writes where it ended, if that was not written yet, and ends a redrawn line.
    pub fn finish(&mut self) {
        if let Some(p) = self.latest
            && self.shown.is_none_or(|(_, seen)| seen != p)
        {
            self.write(&p);
        }
        if self.terminal && self.shown.is_some() {
            eprintln!();
        }
    }
}

fn bytes(n: u64) -> String {
    match n {
        0..1_024 => format!("{n} B"),
        1_024..1_048_576 => format!("{:.1} KiB", n as f64 / 1_024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// Officials with their latest answers, one line per official and one per answer.
pub fn officials(rows: &[groundwork_core::campaign::Official]) -> String {
    let mut s = String::new();
    for o in rows {
        let _ = writeln!(
            s,
            "{}  {}, {} ({})  asked by {}",
            clean_line(&o.key),
            clean_line(&o.name),
            clean_line(&o.title),
            clean_line(&o.county_name),
            names(o.groups.iter().map(String::as_str), ", ")
        );
        for a in &o.answers {
            let _ = writeln!(
                s,
                "    {:<6} {:<12} {:<22} ({})",
                a.rule.as_str(),
                a.existing.as_str(),
                a.position.as_str(),
                clean_line(&a.group_name)
            );
        }
    }
    if rows.is_empty() {
        s.push_str("no sharing group asks an official yet\n");
    }
    s
}

/// An official's page.
pub fn official(d: &groundwork_core::campaign::OfficialDetail) -> String {
    let o = &d.official;
    let mut s = format!(
        "{}, {}  ({}; {})\n",
        clean_line(&o.name),
        clean_line(&o.title),
        clean_line(&o.county_name),
        clean_line(&o.key)
    );
    let _ = writeln!(
        s,
        "asked by: {}",
        names(o.groups.iter().map(String::as_str), ", ")
    );
    if !d.reports.is_empty() {
        s.push_str("reports:\n");
    }
    for r in &d.reports {
        let _ = writeln!(
            s,
            "  {:<6} {:<12} {:<22} {}  {}{}",
            r.rule.as_str(),
            r.existing.as_str(),
            r.position.as_str(),
            clean_line(&r.group_name),
            here(r.recorded_at),
            r.conditions
                .as_deref()
                .map(|c| format!("  conditions: {}", clean_line(c)))
                .unwrap_or_default()
        );
    }
    if !d.meetings.is_empty() {
        s.push_str("meetings:\n");
    }
    for m in &d.meetings {
        let at = when(m.at, m.zone.as_deref());
        let _ = writeln!(
            s,
            "  {:<11} {}  {}  {}",
            m.status.as_str(),
            at,
            clean_line(&m.group_name),
            clean_line(m.place.as_deref().unwrap_or(""))
        );
    }
    s
}

/// Writes the officials' matrix as CSV (one row per official and rule) to `path`, a file only
/// its owner can read.
pub fn write_officials_csv(
    rows: &[groundwork_core::campaign::Official],
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    use anyhow::Context;
    let file = groundwork_core::export::create_private_file(path)?;
    let n = groundwork_core::campaign::write_matrix_csv(rows, std::io::BufWriter::new(file))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(n)
}

/// A board as JSON: officials with their groups, meetings (times as RFC 3339) and answers.
pub fn board_json(b: &groundwork_core::schema::board::Board) -> Value {
    json!({
        "county": b.board_of,
        "county_name": b.county_name,
        "officials": b.officials.iter().map(|(key, o)| json!({
            "key": key,
            "office": o.office,
            "place": o.place,
            "name": o.name,
            "title": o.title,
            "groups": sorted_names(&o.groups),
            "meetings": o.meetings.iter().map(|(id, m)| json!({
                "id": id,
                "group_name": m.group_name,
                "status": m.status,
                "at": m.at.map(format_rfc3339),
                "zone": b.zone_of(m),
                "local": local(m.at, b.zone_of(m)),
                "place": m.place,
                "attending": sorted_names(&m.attending),
            })).collect::<Vec<_>>(),
            "answers": o.answers.values().map(|a| json!({
                "rule": a.rule,
                "existing": a.existing,
                "position": a.position,
                "conditions": a.conditions,
                "group_name": a.group_name,
                "recorded_at": format_rfc3339(a.recorded_at),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// A board for a person.
pub fn board(b: &groundwork_core::schema::board::Board) -> String {
    let mut s = format!(
        "{} ({})\n",
        clean_line(&b.county_name),
        clean_line(&b.board_of)
    );
    for (key, o) in &b.officials {
        let _ = writeln!(
            s,
            "\n{}, {}  [{}]",
            clean_line(&o.name),
            clean_line(&o.title),
            clean_line(key)
        );
        let _ = writeln!(s, "  asked by: {}", names(sorted_names(&o.groups), ", "));
        for m in o.meetings.values() {
            let at = when(m.at, b.zone_of(m));
            let _ = writeln!(
                s,
                "  meeting: {:<11} {at}  {}{}",
                m.status.as_str(),
                names(sorted_names(&m.attending), " + "),
                m.place
                    .as_deref()
                    .map(|p| format!("  at {}", clean_line(p)))
                    .unwrap_or_default()
            );
        }
        for a in o.answers.values() {
            let _ = writeln!(
                s,
                "  {:<6} {:<12} {:<22} ({})",
                a.rule.as_str(),
                a.existing.as_str(),
                a.position.as_str(),
                clean_line(&a.group_name)
            );
        }
    }
    s
}

fn sorted_names(groups: &std::collections::BTreeMap<String, String>) -> Vec<&str> {
    let mut names: Vec<&str> = groups.values().map(String::as_str).collect();
    names.sort_unstable();
    names
}

/// `n` things, in the singular for one: "1 official", "2 groups".
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// An official as a line names them: "Sheriff Example, Sheriff", or the name alone when it is
/// the default made from the title and the county ("Sheriff of Riverside, CA"), which already
/// says it.
pub fn official_name(name: &str, title: &str) -> String {
    let says_title = !title.is_empty()
        && name
            .to_lowercase()
            .starts_with(&format!("{} of ", title.to_lowercase()));
    if says_title || title.is_empty() {
        clean_line(name).to_string()
    } else {
        format!("{}, {}", clean_line(name), clean_line(title))
    }
}
