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

#[cfg(test)]
mod tests {
    use super::*;

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
