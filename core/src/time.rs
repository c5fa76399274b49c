//! Times as the documents hold them (Unix milliseconds, UTC) and as people type them (RFC 3339),
//! and meetings' local times: a meeting carries an IANA time zone (`America/Los_Angeles`), a
//! time typed without an offset means that zone, and every view shows the local time with the
//! zone's abbreviation. Zones are jiff's, from the time zone database compiled into the binary:
//! the same answer on a relay, a phone or a machine without `/usr/share/zoneinfo`.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Parses an RFC 3339 time such as `2026-12-01T18:30:00-06:00` into Unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Result<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| Error::Invalid {
        what: "time",
        reason: format!("{text:?} is not an RFC 3339 time like 2026-12-01T18:30:00-06:00 ({e})"),
    })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Formats Unix milliseconds as RFC 3339 in UTC.
pub fn format_rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{ms}ms"))
}

/// Checks an IANA time zone name and returns it as the database spells it
/// (`america/phoenix` is `America/Phoenix`).
pub fn zone(name: &str) -> Result<String> {
    let name = name.trim();
    let tz = TimeZone::get(name).map_err(|_| Error::Invalid {
        what: "time zone",
        reason: format!(
            "{name:?} is not an IANA time zone name like America/Los_Angeles or America/Phoenix"
        ),
    })?;
    Ok(tz.iana_name().unwrap_or(name).to_owned())
}

/// A zone to show or read times in: `None`, or a name this build's database does not know
/// (another device may have a newer one), is UTC, shown as such.
fn tz_or_utc(zone: Option<&str>) -> TimeZone {
    zone.and_then(|z| TimeZone::get(z).ok())
        .unwrap_or(TimeZone::UTC)
}

/// Reads a meeting's time as a person types it, into Unix milliseconds. With an offset or `Z`
/// (`2026-12-15T18:30:00-08:00`) it is that instant; without one (`2026-12-15T18:30`, or with
/// a space: `2026-12-15 18:30`; seconds optional) it is a local time in `zone` (UTC when
/// `None`). On the day clocks change, a time the clocks skip (02:30 on a spring-forward night)
/// is refused, naming it; a time they repeat (01:30 on a fall-back night) is the first of the
/// two, the one before the clocks go back.
pub fn parse_local(text: &str, zone: Option<&str>) -> Result<i64> {
    let text = text.trim();
    let zone_name = zone.unwrap_or("UTC");
    let refused = |why: &str| Error::Invalid {
        what: "time",
        reason: format!(
            "{text:?} {why}; give a local time like 2026-12-15T18:30 (in {zone_name}) or one \
             with its offset like 2026-12-15T18:30:00-08:00"
        ),
    };
    // `2026-12-15` then `T`, `t` or a space and a time of day: a date alone is no meeting time.
    let tail = match (text.get(..10), text.get(10..11), text.get(11..)) {
        (Some(_), Some("T" | "t" | " "), Some(tail)) if !tail.is_empty() => tail,
        _ => return Err(refused("is not a date and time")),
    };
    if tail.contains('[') {
        return Err(refused(
            "names its zone in brackets, which is not read (a meeting's zone is its --zone)",
        ));
    }
    if tail.contains(['Z', 'z', '+', '-']) {
        let instant: Timestamp = text
            .parse()
            .map_err(|e| refused(&format!("is not a time with an offset ({e})")))?;
        return Ok(instant.as_millisecond());
    }
    let local: DateTime = text
        .parse()
        .map_err(|e| refused(&format!("is not a local date and time ({e})")))?;
    let tz = match zone {
        Some(z) => TimeZone::get(z).map_err(|_| Error::Invalid {
            what: "time zone",
            reason: format!("{z:?} is not an IANA time zone name like America/Los_Angeles"),
        })?,
        None => TimeZone::UTC,
    };
    let offset = match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        // The repeated hour: the first pass, before the clocks go back.
        AmbiguousOffset::Fold { before, .. } => before,
        AmbiguousOffset::Gap { before, after } => {
            return Err(Error::Invalid {
                what: "time",
                reason: format!(
                    "{} does not exist in {zone_name}: that night the clocks go forward from \
                     {} to {} and skip it; give a time before or after the change",
                    local.strftime("%Y-%m-%d %H:%M"),
                    offset_text(before),
                    offset_text(after)
                ),
            });
        }
    };
    let instant = offset
        .to_timestamp(local)
        .map_err(|e| refused(&e.to_string()))?;
    Ok(instant.as_millisecond())
}

/// An offset as `-08:00`.
fn offset_text(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let abs = seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
}

/// Unix milliseconds as a local time in `zone`, formatted by `format` (strftime).
fn local_text(ms: i64, zone: Option<&str>, format: &str) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(t) => t
            .to_zoned_datetime(tz_or_utc(zone))
            .strftime(format)
            .to_string(),
        Err(_) => format!("@{ms}ms"),
    }
}

/// A meeting's time for people: `Tue 15 Dec 2026, 18:30 PST`, in `zone` with its abbreviation
/// (UTC, said so, when `None`).
pub fn format_local(ms: i64, zone: Option<&str>) -> String {
    local_text(ms, zone, "%a %-d %b %Y, %H:%M %Z")
}

/// A meeting's local time for programs: RFC 3339 with the zone's offset that day,
/// `2026-12-15T18:30:00-08:00` (beside the UTC instant and the zone's name in JSON).
pub fn local_rfc3339(ms: i64, zone: Option<&str>) -> String {
    local_text(ms, zone, "%Y-%m-%dT%H:%M:%S%:z")
}

/// The local date (`YYYY-MM-DD`) of a time in `zone`: the day a meeting is on where it is.
pub fn local_date(ms: i64, zone: Option<&str>) -> String {
    local_text(ms, zone, "%Y-%m-%d")
}

/// The same local time (date and clock) in another zone: what a meeting's time becomes when a
/// lead corrects its zone without retyping it (18:30 stays 18:30, now in `to`).
pub fn same_local_time(ms: i64, from: Option<&str>, to: Option<&str>) -> Result<i64> {
    let local = local_text(ms, from, "%Y-%m-%dT%H:%M:%S");
    parse_local(&local, to)
}

/// Checks an ISO date such as `2026-12-01`.
pub fn parse_date(text: &str) -> Result<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).map_err(|e| Error::Invalid {
        what: "date",
        reason: format!("{text:?} is not a date like 2026-12-01 ({e})"),
    })
}

/// The contacts period (`YYYY-MM`, UTC) that a time falls in.
pub fn period_of(ms: i64) -> String {
    match OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!("{:04}-{:02}", t.year(), u8::from(t.month())),
        Err(_) => "0000-00".to_owned(),
    }
}

/// The oldest period a retention of `months` keeps at `now_ms`: the current month and the
/// `months - 1` before it. Periods before it are dropped.
pub fn oldest_kept_period(now_ms: i64, months: u64) -> String {
    let now = period_of(now_ms);
    let (year, month) = now.split_once('-').unwrap_or(("0", "0"));
    let index = year.parse::<i64>().unwrap_or(0) * 12 + month.parse::<i64>().unwrap_or(1) - 1;
    let oldest = index - (months.max(1) as i64 - 1);
    format!(
        "{:04}-{:02}",
        oldest.div_euclid(12),
        oldest.rem_euclid(12) + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_current_month_and_those_before_it() {
        let dec = parse_rfc3339("2026-12-15T00:00:00Z").unwrap_or_default();
        assert_eq!(oldest_kept_period(dec, 12), "2026-01");
        assert_eq!(oldest_kept_period(dec, 1), "2026-12");
        assert_eq!(oldest_kept_period(dec, 13), "2025-12");
        assert_eq!(oldest_kept_period(dec, 24), "2025-01");
    }

    #[test]
    fn rfc3339_round_trips_in_utc() {
        let ms = parse_rfc3339("2026-12-01T18:30:00-06:00").ok();
        assert_eq!(
            ms.map(format_rfc3339).as_deref(),
            Some("2026-12-02T00:30:00Z")
        );
        assert_eq!(ms.map(period_of).as_deref(), Some("2026-12"));
    }

    fn local(text: &str, zone: &str) -> Result<String> {
        parse_local(text, Some(zone)).map(|ms| format_local(ms, Some(zone)))
    }

    #[test]
    fn a_time_without_an_offset_is_local_to_its_zone() -> Result<()> {
        let la = Some("America/Los_Angeles");
        let ms = parse_local("2026-12-15T18:30", la)?;
        assert_eq!(format_rfc3339(ms), "2026-12-16T02:30:00Z");
        assert_eq!(format_local(ms, la), "Tue 15 Dec 2026, 18:30 PST");
        assert_eq!(local_rfc3339(ms, la), "2026-12-15T18:30:00-08:00");
        assert_eq!(local_date(ms, la), "2026-12-15");
        // A space for the T, seconds, and an offset (which wins over the zone) all read.
        assert_eq!(parse_local("2026-12-15 18:30", la)?, ms);
        assert_eq!(parse_local("2026-12-15T18:30:00", la)?, ms);
        assert_eq!(parse_local("2026-12-15T18:30:00-08:00", None)?, ms);
        assert_eq!(parse_local("2026-12-16T02:30:00Z", la)?, ms);
        // No zone: UTC, and said so.
        assert_eq!(format_local(ms, None), "Wed 16 Dec 2026, 02:30 UTC");
        assert_eq!(parse_local("2026-12-16 02:30", None)?, ms);
        // Arizona keeps standard time all summer.
        assert_eq!(
            local("2026-07-15T18:30", "America/Phoenix")?,
            "Wed 15 Jul 2026, 18:30 MST"
        );
        assert_eq!(
            local("2026-07-15T18:30", "America/Los_Angeles")?,
            "Wed 15 Jul 2026, 18:30 PDT"
        );
        Ok(())
    }

    #[test]
    fn the_days_clocks_change_are_read_one_way() -> Result<()> {
        let la = Some("America/Los_Angeles");
        // Fall back (1 Nov 2026): 01:30 happens twice; the first, still daylight time.
        let fold = parse_local("2026-11-01T01:30", la)?;
        assert_eq!(format_rfc3339(fold), "2026-11-01T08:30:00Z");
        assert_eq!(format_local(fold, la), "Sun 1 Nov 2026, 01:30 PDT");
        let evening = parse_local("2026-11-01T18:30", la)?;
        assert_eq!(format_rfc3339(evening), "2026-11-02T02:30:00Z");
        assert_eq!(format_local(evening, la), "Sun 1 Nov 2026, 18:30 PST");
        // Spring forward (8 Mar 2026): 02:30 never happens.
        let gap = parse_local("2026-03-08T02:30", la)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            gap.contains("2026-03-08 02:30 does not exist in America/Los_Angeles")
                && gap.contains("from -08:00 to -07:00"),
            "{gap}"
        );
        assert_eq!(
            local("2026-03-08T03:30", "America/Los_Angeles")?,
            "Sun 8 Mar 2026, 03:30 PDT"
        );
        Ok(())
    }

    #[test]
    fn zones_and_malformed_times_are_named() {
        assert_eq!(
            zone("america/phoenix").ok().as_deref(),
            Some("America/Phoenix")
        );
        let bad = zone("Mars/Olympus")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            bad.contains("\"Mars/Olympus\" is not an IANA time zone"),
            "{bad}"
        );
        for text in [
            "2026-12-15",
            "18:30",
            "next tuesday",
            "2026-12-15T18:30[America/Denver]",
        ] {
            let e = parse_local(text, Some("America/Denver"))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains(&format!("{text:?}")) && e.contains("2026-12-15T18:30"),
                "{e}"
            );
        }
        // An unknown zone in a document shows the time in UTC rather than failing.
        assert_eq!(
            format_local(0, Some("Mars/Olympus")),
            "Thu 1 Jan 1970, 00:00 UTC"
        );
    }

    #[test]
    fn a_zone_correction_keeps_the_clock_time() -> Result<()> {
        let la = Some("America/Los_Angeles");
        let ms = parse_local("2026-12-15T18:30", la)?;
        let phoenix = same_local_time(ms, la, Some("America/Phoenix"))?;
        assert_eq!(
            format_local(phoenix, Some("America/Phoenix")),
            "Tue 15 Dec 2026, 18:30 MST"
        );
        Ok(())
    }

    #[test]
    fn a_malformed_time_is_named_in_the_error() {
        let err = parse_rfc3339("next tuesday").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("\"next tuesday\" is not an RFC 3339 time")));
    }
}
