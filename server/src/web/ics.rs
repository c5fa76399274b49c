//! The public meetings as an iCalendar feed (RFC 5545) a person can subscribe to. Times are
//! UTC (`DTSTART:20261216T023000Z`), which every calendar shows in its reader's zone; the
//! description says the time where the meeting is, with its zone's abbreviation.

use super::data::PublicMeeting;

/// How long a meeting is taken to last: groups record when it starts, not when it ends.
const ASSUMED_MS: i64 = 60 * 60 * 1000;

/// The feed: one event per meeting, stamped `now` (Unix ms).
pub fn calendar(meetings: &[PublicMeeting], now: i64) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Groundwork//Public meetings//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "X-WR-CALNAME:Freedom Cities public meetings".to_owned(),
    ];
    for m in meetings {
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}@groundwork", m.id.replace('/', "-")));
        lines.push(format!("DTSTAMP:{}", stamp(now)));
        lines.push(format!("DTSTART:{}", stamp(m.at)));
        lines.push(format!("DTEND:{}", stamp(m.at + ASSUMED_MS)));
        lines.push(format!("SUMMARY:{}", text(&m.title)));
        if let Some(place) = &m.place {
            lines.push(format!("LOCATION:{}", text(place)));
        }
        lines.push(format!(
            "DESCRIPTION:{}",
            text(&format!(
                "With {}, {}. Hosted by {}. Status: {}. Local time: {}.",
                m.with,
                m.county_name,
                m.group_name,
                m.status,
                m.when()
            ))
        ));
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    let mut out = String::new();
    for line in lines {
        fold(&line, &mut out);
    }
    out
}

/// A UTC time as `20261210T180000Z`.
fn stamp(ms: i64) -> String {
    // "2026-12-10T18:00:00Z" -> "20261210T180000Z"
    let t = groundwork_core::time::format_rfc3339(ms.div_euclid(1000) * 1000);
    t.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(15)
        .collect::<String>()
        + "Z"
}

/// Escapes TEXT values: backslash, semicolon, comma and newlines.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes one content line, folded at 75 octets (never inside a character), ending in CRLF.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_escaped_folded_and_in_utc() {
        let m = PublicMeeting {
            id: "g/m".into(),
            title: "Town hall; the sheriff, and us".into(),
            at: 1_796_925_600_000,
            zone: Some("America/Los_Angeles".into()),
            place: Some("Library, room 1".into()),
            status: "scheduled".into(),
            county: "06065".into(),
            county_name: "Riverside, CA".into(),
            state: "CA".into(),
            with: "Sheriff Example".into(),
            group_name: "Riverside Freedom City, a group with a rather long name indeed".into(),
        };
        let cal = calendar(&[m], 0);
        assert!(cal.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(cal.contains("SUMMARY:Town hall\\; the sheriff\\, and us\r\n"));
        assert!(cal.contains("DTSTART:20261210T180000Z\r\n"), "{cal}");
        assert!(cal.contains("DTEND:20261210T190000Z\r\n"));
        assert!(cal.contains("UID:g-m@groundwork\r\n"));
        let unfolded = cal.replace("\r\n ", "");
        assert!(
            unfolded.contains("Local time: Thu 10 Dec 2026\\, 10:00 PST."),
            "{unfolded}"
        );
        assert!(
            cal.lines().all(|l| l.trim_end_matches('\r').len() <= 75),
            "{cal}"
        );
        assert!(cal.contains("\r\n "), "a long line is folded");
        assert!(cal.ends_with("END:VCALENDAR\r\n"));
    }
}
