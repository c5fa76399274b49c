//! Text and JSON shapes of command output. Times go out as RFC 3339 in both.

use std::fmt::Write;

use groundwork_core::rules::RULES;
use groundwork_core::schema::plan::Meeting;
use groundwork_core::schema::roster::RosterMember;
use groundwork_core::store::index::{ActionRow, ContactRow, MeetingRow, ScorecardRow, TargetRow};
use groundwork_core::sync::connection::ConnectionRecord;
use groundwork_core::time::format_rfc3339;
use groundwork_core::{DocSyncRecord, GroupSummary};
use serde_json::{Value, json};

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
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
            "{}  {}  ({}, {})",
            g.group_id,
            g.name,
            g.role,
            opt(&g.jurisdiction)
        );
    }
    s
}

pub fn targets(rows: &[TargetRow]) -> String {
    let mut s = String::new();
    for t in rows {
        let _ = writeln!(
            s,
            "{}  {}, {}  {}  [{}]",
            t.target_id,
            t.name,
            t.title,
            opt(&t.agency),
            t.level
        );
    }
    s
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
                    "location": m.location,
                    "status": m.status,
                    "agenda_items": m.agenda_items,
                })
            })
            .collect(),
    )
}

pub fn meetings(rows: &[MeetingRow]) -> String {
    let mut s = String::new();
    for m in rows {
        let at = m.at.map(format_rfc3339).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{}  {:<10} {:<11} {}  {}",
            m.meeting_id, m.kind, m.status, at, m.title
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
        "location": m.location,
        "host": m.host,
        "roles": m.roles,
        "status": m.status,
        "agenda": m.agenda.iter().map(|i| json!({ "item_id": i.id, "text": i.text })).collect::<Vec<_>>(),
        "attendees": m.attendees,
        "notes": m.notes.as_str(),
    })
}

pub fn meeting(m: &Meeting) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{} ({}, {})", m.title, m.kind, m.status);
    if let Some(at) = m.at {
        let _ = writeln!(s, "when:  {}", format_rfc3339(at));
    }
    if let Some(location) = &m.location {
        let _ = writeln!(s, "where: {location}");
    }
    if let Some(target) = &m.target {
        let _ = writeln!(s, "with:  {target}");
    }
    if !m.agenda.is_empty() {
        let _ = writeln!(s, "agenda:");
        for (i, item) in m.agenda.iter().enumerate() {
            let _ = writeln!(s, "  {}. {}", i + 1, item.text);
        }
    }
    if !m.notes.as_str().is_empty() {
        let _ = writeln!(s, "notes:\n{}", m.notes.as_str());
    }
    s
}

pub fn actions(rows: &[ActionRow]) -> String {
    let mut s = String::new();
    for a in rows {
        let _ = writeln!(
            s,
            "{}  [{}] {}  ({}, due {})",
            a.action_id,
            if a.done { "x" } else { " " },
            a.title,
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
            r.target_name,
            r.rule,
            r.existing,
            opt(&r.position),
            opt(&r.conditions)
        );
    }
    s
}

pub fn contacts_json(rows: &[ContactRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|c| {
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
            })
            .collect(),
    )
}

pub fn contacts(rows: &[ContactRow]) -> String {
    let mut s = String::new();
    for c in rows {
        let _ = writeln!(
            s,
            "{}  {}  {:<16} support {}  {}",
            c.contact_id,
            format_rfc3339(c.at),
            c.result,
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
                c.relay,
                c.state,
                format_rfc3339(c.since)
            );
            if let Some(at) = c.retry_at {
                let _ = write!(s, ", next attempt {}", format_rfc3339(at));
            }
            if let Some(e) = &c.last_error {
                let _ = write!(s, " (last error: {e})");
            }
            s.push('\n');
        }
    }
    for d in docs {
        let when = d
            .synced_at
            .map(format_rfc3339)
            .unwrap_or_else(|| "never".into());
        let _ = writeln!(
            s,
            "{}  {:<8} {}  (relay confirmed {})",
            d.doc_id,
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

/// A group's roster.
pub fn members(members: &[(String, RosterMember)]) -> String {
    let mut s = String::new();
    for (id, m) in members {
        let state = match m.removed_at {
            Some(at) => format!("removed {}", format_rfc3339(at)),
            None => format!("joined {}", format_rfc3339(m.joined_at)),
        };
        let name = if m.name.is_empty() { "-" } else { &m.name };
        let _ = writeln!(s, "{id}  {:<9} {name}  ({state})", m.role.as_str());
    }
    if members.is_empty() {
        s.push_str("no roster yet: run sync\n");
    }
    s
}
