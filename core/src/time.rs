//! Times as the documents hold them (Unix milliseconds, UTC) and as people type them (RFC 3339).

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

    #[test]
    fn a_malformed_time_is_named_in_the_error() {
        let err = parse_rfc3339("next tuesday").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("\"next tuesday\" is not an RFC 3339 time")));
    }
}
