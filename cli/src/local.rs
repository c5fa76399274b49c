//! The time zone of the machine the command runs on, for times that belong to no meeting (when
//! an invite expires, the lines a running `sync` prints): people read their own clock there.
//! A meeting's time is shown in the meeting's own zone, elsewhere.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// This machine's zone: `TZ` when it names an IANA zone (`America/Chicago`, or
/// `:America/Chicago`), else the zone `/etc/localtime` links to, else UTC. Looked up in the
/// time zone database compiled into the program, as meetings' zones are.
pub fn zone() -> TimeZone {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_owned());
    // `/etc/localtime` -> `/usr/share/zoneinfo/America/Chicago` (or a relative link).
    let from_link = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        let target = target.to_str()?;
        let (_, name) = target.split_once("zoneinfo/")?;
        Some(name.to_owned())
    };
    from_env
        .and_then(|name| TimeZone::get(&name).ok())
        .or_else(|| from_link().and_then(|name| TimeZone::get(&name).ok()))
        .unwrap_or(TimeZone::UTC)
}

/// Unix milliseconds in `zone`, formatted by `format` (strftime); the raw value if it is out of
/// range.
fn format(ms: i64, zone: &TimeZone, format: &str) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(zone.clone())
            .strftime(format)
            .to_string(),
        Err(_) => format!("@{ms}ms"),
    }
}

/// A moment for a line of a log: `18:30:05`.
pub fn clock(ms: i64, zone: &TimeZone) -> String {
    format(ms, zone, "%H:%M:%S")
}

/// A moment for a sentence: `Tue 8 Dec 2026, 18:30 CST`.
pub fn when(ms: i64, zone: &TimeZone) -> String {
    format(ms, zone, "%a %-d %b %Y, %H:%M %Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_the_zone_given() {
        let ms = 1_796_754_600_000; // 2026-12-08T18:30:00Z
        let chicago = TimeZone::get("America/Chicago").unwrap_or(TimeZone::UTC);
        assert_eq!(when(ms, &chicago), "Tue 8 Dec 2026, 12:30 CST");
        assert_eq!(clock(ms, &TimeZone::UTC), "18:30:00");
    }
}
