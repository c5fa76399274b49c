//! The public map: meetings groups chose to publish, by state and county and day, and the same
//! meetings as a calendar feed. No sign-in; nothing a group did not publish.

use super::*;

/// The public map's query string: every part optional.
#[derive(Deserialize, Default)]
pub struct PublicQuery {
    /// A state's USPS code.
    pub state: Option<String>,
    /// A county's FIPS code.
    pub county: Option<String>,
    /// The first day (YYYY-MM-DD; default today).
    pub from: Option<String>,
    /// The last day.
    pub to: Option<String>,
}

/// The public map's days as Unix ms (from the start of `from`, default `today`, to the end
/// of `to`), or which one is wrong.
pub fn public_days(q: &PublicQuery, today: &str) -> Result<(i64, Option<i64>), String> {
    let from = day("from", given(&q.from).unwrap_or(today))?;
    let to = match given(&q.to) {
        None => None,
        Some(to) => Some(day("to", to)? + 24 * 60 * 60 * 1000 - 1),
    };
    Ok((from, to))
}

/// A day (YYYY-MM-DD) as Unix ms at its start, or which input is wrong.
fn day(what: &str, text: &str) -> Result<i64, String> {
    groundwork_core::time::parse_rfc3339(&format!("{text}T00:00:00Z"))
        .map_err(|_| format!("{what} {text:?} is not a date like 2026-12-01"))
}

pub(super) async fn map(State(web): State<Web>, Query(q): Query<PublicQuery>) -> Response {
    // Filters are read as the staff matrix reads them: a wrong one is a 400 with the reason,
    // not an empty map that looks like "no meetings".
    let (state, county) =
        match state_filter(&q.state).and_then(|s| Ok((s, county_filter(&q.county)?))) {
            Ok(filters) => filters,
            Err(e) => return problem(StatusCode::BAD_REQUEST, &e),
        };
    // Today where it is earliest (American Samoa, UTC-11): a meeting later today anywhere in
    // the country is still listed by default.
    let today = groundwork_core::time::local_date(now_ms(), Some("Pacific/Pago_Pago"));
    let (from, to) = match public_days(&q, &today) {
        Ok(days) => days,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e),
    };
    let from_text = given(&q.from).map_or(today, str::to_owned);
    let to_text = given(&q.to).unwrap_or_default().to_owned();
    let wanted = state.clone();
    // The dates are days where each meeting is (18:30 in California on the 15th is the 15th,
    // though 02:30 UTC on the 16th): a day more is read on each side (no county is a day
    // from UTC), and each meeting's own day decides.
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let found = web
        .db(move |c| {
            let all = data::public_meetings(c, None, Some(from - DAY_MS), to.map(|t| t + DAY_MS))?;
            Ok(all)
        })
        .await;
    let all: Vec<_> = match found {
        Ok(m) => m
            .into_iter()
            .filter(|m| {
                let day = m.day();
                day >= from_text && (to_text.is_empty() || day <= to_text)
            })
            .collect(),
        Err(r) => return r,
    };
    let mut states: Vec<String> = all.iter().map(|m| m.state.clone()).collect();
    states.sort();
    states.dedup();
    let meetings: Vec<_> = all
        .into_iter()
        .filter(|m| wanted.as_ref().is_none_or(|s| *s == m.state))
        .filter(|m| county.as_ref().is_none_or(|c| *c == m.county))
        .collect();
    let mut per_county: HashMap<String, (String, usize)> = HashMap::new();
    for m in &meetings {
        per_county
            .entry(m.county.clone())
            .or_insert_with(|| (m.county_name.clone(), 0))
            .1 += 1;
    }
    let shades = per_county
        .into_iter()
        .map(|(fips, (name, n))| {
            let href = format!(
                "/map?state={}&county={fips}&from={}&to={}",
                pages::encode(state.as_deref().unwrap_or("")),
                pages::encode(&from_text),
                pages::encode(&to_text)
            );
            let shade = map::Shade {
                class: "s3",
                title: format!(
                    "{name}: {n} public {}",
                    if n == 1 { "meeting" } else { "meetings" }
                ),
                href: Some(href),
            };
            (fips, shade)
        })
        .collect();
    html(
        StatusCode::OK,
        pages::Public {
            svg: map::svg(
                "Counties of the United States with public meetings",
                &shades,
            ),
            states,
            selected_state: state.unwrap_or_default(),
            from: from_text,
            to: to_text,
            meetings,
        },
    )
}

pub(super) async fn ics(State(web): State<Web>) -> Response {
    // Meetings from a month back on: a subscriber's calendar keeps what it had.
    let since = now_ms() - 31 * 24 * 60 * 60 * 1000;
    match web
        .db(move |c| data::public_meetings(c, None, Some(since), None))
        .await
    {
        Ok(meetings) => (
            [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
            ics::calendar(&meetings, now_ms()),
        )
            .into_response(),
        Err(r) => r,
    }
}
