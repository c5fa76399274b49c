//! The dashboard's and the public map's routes against a real relay on a real port, over
//! plain HTTP/1.1: every page and API route's status and content, signing in with one-time
//! links (expired, reused, unknown and non-staff links refused), sessions ended by sign-out
//! and by revoking the staff role, cross-site sign-in and sign-out refused, the security
//! headers, the public map's filters, and the CSV equal to the index.

use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpStream};

use groundwork_core::campaign::{OfficialFilter, Shared};
use groundwork_core::rules::RuleCode;
use groundwork_core::schema::plan::{NewMeeting, NewResponse, NewTarget, Plan};
use groundwork_core::schema::vocab::{
    ExistingPolicy, MeetingKind, MeetingStatus, Office, Position, Visibility,
};
use groundwork_core::time::now_ms;
use groundwork_relay::session;
use groundwork_relay::store::{RelayStore, Write};
use groundwork_relay::{Config, campaign, serve};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// An HTTP response: status, headers (lower-cased names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`, so the body ends at EOF).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> Res<Reply> {
    http_with(addr, method, path, cookie, form, &[])
}

/// [`http`] with more headers (`Origin`, `Sec-Fetch-Site`), as a browser would send them.
fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
    extra: &[(&str, &str)],
) -> Res<Reply> {
    let mut s = TcpStream::connect(addr)?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in extra {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: gw_session={c}\r\n"));
    }
    if let Some(f) = form {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            f.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(form.unwrap_or(""));
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status")?
        .parse()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    // axum sends bodies of known length as is; a chunked body would need decoding.
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Res<Reply> {
    http(addr, "GET", path, cookie, None)
}

/// A sharing group in Riverside County asking its sheriff: answers on three rules, a public
/// meeting and a private one.
fn riverside() -> Res<Plan> {
    let mut p = Plan::new("group-riverside", "Riverside Rises", None, "lead", 0)?;
    p.add_target(
        "sheriff",
        NewTarget {
            county: Some("06065".into()),
            office: Some(Office::Sheriff),
            name: "Chad Example".into(),
            title: "Sheriff".into(),
            ..NewTarget::default()
        },
    )?;
    for (i, (rule, position)) in [
        (RuleCode::R1, Position::WillSupport),
        (RuleCode::R2, Position::Opposes),
        (RuleCode::R6, Position::SupportsWithChanges),
    ]
    .into_iter()
    .enumerate()
    {
        p.record_response(
            NewResponse {
                target: "sheriff".into(),
                rule,
                existing: ExistingPolicy::Partial,
                position,
                conditions: Some("if 'shall' reads 'should'".into()),
                legal_basis: None,
                meeting: None,
            },
            "lead",
            1_000 + i as i64,
        )?;
    }
    p.create_meeting(
        "town-hall",
        NewMeeting {
            kind: MeetingKind::Official,
            title: "Town hall with the sheriff".into(),
            target: Some("sheriff".into()),
            at: Some(now_ms() + 7 * 86_400_000),
            location: Some("Central Library, room 1".into()),
        },
        1,
    )?;
    p.set_meeting_status("town-hall", MeetingStatus::Scheduled)?;
    p.set_meeting_visibility("town-hall", Visibility::Public)?;
    p.create_meeting(
        "quiet",
        NewMeeting {
            kind: MeetingKind::Official,
            title: "Marker private meeting".into(),
            target: Some("sheriff".into()),
            at: Some(now_ms() + 8 * 86_400_000),
            location: Some("Marker private place".into()),
        },
        1,
    )?;
    p.set_meeting_status("quiet", MeetingStatus::Requested)?;
    Ok(p)
}

/// A second group, in Travis County, asking its sheriff: no answers yet.
fn travis() -> Res<Plan> {
    let mut p = Plan::new("group-travis", "Travis Together", None, "lead", 0)?;
    p.add_target(
        "sheriff",
        NewTarget {
            county: Some("48453".into()),
            office: Some(Office::Sheriff),
            ..NewTarget::default()
        },
    )?;
    Ok(p)
}

struct Site {
    addr: SocketAddr,
    data: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Site {
    fn store(&self) -> Res<rusqlite::Connection> {
        let dir = self.data.path();
        Ok(RelayStore::connect_raw(
            dir,
            &groundwork_relay::key::KeySource::InDataDir.resolve(dir)?,
        )?)
    }

    /// A sign-in link for `device`, made `ago_ms` in the past.
    fn link(&self, device: &str, ago_ms: i64) -> Res<String> {
        let mut c = self.store()?;
        Ok(session::create_link(&mut c, device, now_ms() - ago_ms)?
            .ok_or("no randomness")?
            .0)
    }

    /// Signs in with a fresh link; returns the session cookie.
    fn sign_in(&self, device: &str) -> Res<String> {
        let code = self.link(device, 0)?;
        let reply = http(
            self.addr,
            "POST",
            "/campaign/login",
            None,
            Some(&format!("code={code}")),
        )?;
        assert_eq!(reply.status, 303, "{}", reply.body);
        let cookie = reply.header("set-cookie").ok_or("no cookie")?;
        let token = cookie
            .strip_prefix("gw_session=")
            .and_then(|c| c.split(';').next())
            .ok_or("no session in the cookie")?;
        Ok(token.to_owned())
    }
}

fn site() -> Res<Site> {
    let data = tempfile::tempdir()?;
    {
        let store = RelayStore::open(
            data.path(),
            &groundwork_relay::key::KeySource::InDataDir.resolve(data.path())?,
        )?;
        let writes: Vec<Write> = [riverside()?, travis()?]
            .iter()
            .map(|p| Write::Campaign {
                group: p.group_id.clone(),
                shared: Shared::of(p).map(Box::new),
                at: now_ms(),
            })
            .chain([Write::CampaignBuilt(now_ms())])
            .collect();
        store.commit(&writes)?;
        store.campaign(|c| campaign::set_staff(c, "organizer", true, now_ms() - 60_000))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let config = Config::new(data.path().to_owned());
    runtime.spawn(serve(listener, config, std::future::pending()));
    Ok(Site {
        addr,
        data,
        _runtime: runtime,
    })
}

#[test]
fn nobody_signed_out_sees_data_and_links_work_once() -> Res<()> {
    let s = site()?;
    for path in [
        "/campaign",
        "/campaign/officials",
        "/campaign/officials.csv",
        "/campaign/map",
        "/campaign/county/06065",
        "/campaign/official/06065/sheriff",
    ] {
        let reply = get(s.addr, path, None)?;
        assert_eq!(reply.status, 401, "{path}");
        assert!(reply.body.contains("groundwork dashboard login"), "{path}");
        assert!(!reply.body.contains("Chad Example"), "{path} leaked data");
    }
    for path in [
        "/api/v1/overview",
        "/api/v1/officials",
        "/api/v1/officials/06065/sheriff",
        "/api/v1/counties",
    ] {
        let reply = get(s.addr, path, None)?;
        assert_eq!(reply.status, 401, "{path}");
        assert!(
            reply.body.starts_with("{\"error\""),
            "{path}: {}",
            reply.body
        );
    }
    // A forged cookie is no session.
    assert_eq!(get(s.addr, "/campaign", Some("forged"))?.status, 401);

    // The link's page shows a button; spending it signs in with a strict cookie.
    let code = s.link("organizer", 0)?;
    let page = get(s.addr, &format!("/campaign/login?code={code}"), None)?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&format!("value=\"{code}\"")));
    let reply = http(
        s.addr,
        "POST",
        "/campaign/login",
        None,
        Some(&format!("code={code}")),
    )?;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/campaign"));
    let cookie = reply.header("set-cookie").ok_or("no cookie")?;
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "no TLS here: {cookie}");

    // Used, expired, unknown and non-staff links are refused, and sign no one in.
    let refused = |form: String, why: &str| -> Res<()> {
        let reply = http(s.addr, "POST", "/campaign/login", None, Some(&form))?;
        assert_eq!(reply.status, 401, "{form}");
        assert!(reply.body.contains(why), "{why}: {}", reply.body);
        assert!(reply.header("set-cookie").is_none());
        Ok(())
    };
    refused(format!("code={code}"), "used already")?;
    refused(
        format!("code={}", s.link("organizer", 11 * 60_000)?),
        "expired",
    )?;
    refused("code=not-a-code".into(), "not one the relay made")?;
    refused(
        format!("code={}", s.link("canvasser", 0)?),
        "no longer campaign staff",
    )?;

    // Signing out ends the session; revoking the role ends the others at once.
    let first = s.sign_in("organizer")?;
    let second = s.sign_in("organizer")?;
    assert_eq!(get(s.addr, "/campaign", Some(&first))?.status, 200);
    let out = http(s.addr, "POST", "/campaign/logout", Some(&first), None)?;
    assert_eq!(out.status, 303);
    assert_eq!(get(s.addr, "/campaign", Some(&first))?.status, 401);
    assert_eq!(get(s.addr, "/campaign", Some(&second))?.status, 200);
    campaign::set_staff(&mut s.store()?, "organizer", false, now_ms())?;
    let revoked = get(s.addr, "/campaign", Some(&second))?;
    assert_eq!(revoked.status, 401);
    assert!(revoked.body.contains("session ended"));
    assert_eq!(get(s.addr, "/api/v1/officials", Some(&second))?.status, 401);
    // Granted again, the old session stays ended.
    campaign::set_staff(&mut s.store()?, "organizer", true, now_ms())?;
    assert_eq!(get(s.addr, "/campaign", Some(&second))?.status, 401);
    Ok(())
}

#[test]
fn every_page_and_api_route_shows_the_index() -> Res<()> {
    let s = site()?;
    let me = s.sign_in("organizer")?;
    let page = |path: &str| -> Res<Reply> {
        let reply = get(s.addr, path, Some(&me))?;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        Ok(reply)
    };

    let overview = page("/campaign")?;
    assert!(
        overview
            .body
            .contains("<th scope=\"row\">Groups sharing</th><td class=\"n\">2</td>"),
        "{}",
        overview.body
    );
    assert!(
        overview
            .body
            .contains("<th scope=\"row\">Officials asked</th><td class=\"n\">2</td>")
    );
    assert!(
        overview
            .body
            .contains("<th scope=\"row\">Meetings scheduled</th><td class=\"n\">1</td>")
    );
    assert!(
        overview
            .body
            .contains("<th scope=\"row\">Answers: opposes</th><td class=\"n\">1</td>")
    );
    // Security headers on every page.
    let csp = overview.header("content-security-policy").ok_or("no CSP")?;
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        !csp.contains("script-src"),
        "no script is allowed at all: {csp}"
    );
    assert_eq!(overview.header("x-content-type-options"), Some("nosniff"));
    // Not `no-referrer`, under which browsers send `Origin: null` on the relay's own forms.
    assert_eq!(overview.header("referrer-policy"), Some("same-origin"));
    assert_eq!(overview.header("cache-control"), Some("no-store"));

    let matrix = page("/campaign/officials")?;
    assert!(matrix.body.contains("2 officials"));
    assert!(matrix.body.contains("Sheriff Chad Example"));
    assert!(
        matrix
            .body
            .contains("<td class=\"c p-opposes\">Opposes<small>partly policy</small></td>")
    );
    assert!(
        matrix
            .body
            .contains("<th scope=\"col\" title=\"Judicial Warrant\">R1</th>")
    );
    assert!(
        matrix
            .body
            .contains("href=\"/campaign/official/06065/sheriff\"")
    );
    let tx = page("/campaign/officials?state=TX")?;
    assert!(tx.body.contains("1 officials") && tx.body.contains("Travis, TX"));
    assert!(!tx.body.contains("Chad Example"));
    let opposes = page("/campaign/officials?position=opposes&sort=support")?;
    assert!(opposes.body.contains("1 officials") && opposes.body.contains("Chad Example"));
    for (query, named) in [
        ("office=boss", "office"),
        ("position=maybe", "position"),
        ("sort=height", "sort"),
        ("page=0", "page"),
        ("state=California", "state"),
    ] {
        let bad = get(s.addr, &format!("/campaign/officials?{query}"), Some(&me))?;
        assert_eq!(bad.status, 400, "{query}");
        assert!(bad.body.contains(named), "{query}: {}", bad.body);
    }

    let map = page("/campaign/map")?;
    assert!(map.body.contains("<svg class=\"map\""));
    assert!(
        map.body
            .contains("<a href=\"/campaign/county/06065\"><path class=\"s3\"")
    );
    assert!(
        map.body
            .contains("<title>Riverside, CA: Supports some rules (1 official)</title>")
    );
    assert!(
        map.body
            .contains("<a href=\"/campaign/county/48453\"><path class=\"s1\"")
    );
    assert!(map.body.contains("Asked, no answers yet: 1 county"));
    assert!(map.body.len() < 1_000_000, "{} bytes", map.body.len());

    let county = page("/campaign/county/06065")?;
    assert!(
        county
            .body
            .contains("Riverside, CA: the officials groups ask")
    );
    assert!(county.body.contains("1 officials"));
    assert_eq!(
        get(s.addr, "/campaign/county/99999", Some(&me))?.status,
        404
    );

    let official = page("/campaign/official/06065/sheriff")?;
    assert!(official.body.contains("Asked by Riverside Rises"));
    assert!(
        official
            .body
            .contains("if &#39;shall&#39; reads &#39;should&#39;")
            || official.body.contains("if &#x27;shall"),
        "{}",
        official.body
    );
    assert!(official.body.contains("Central Library, room 1"));
    assert!(
        official.body.contains("not shared"),
        "the private meeting's place is not shown"
    );
    assert!(!official.body.contains("Marker private place"));
    assert_eq!(
        get(s.addr, "/campaign/official/06065/mayor", Some(&me))?.status,
        404
    );

    // CSV: the rows the index holds, byte for byte as the CLI's export writes them.
    let csv = page("/campaign/officials.csv")?;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let officials = campaign::officials(&mut s.store()?, &OfficialFilter::default())?;
    let mut expected = Vec::new();
    let rows = groundwork_core::campaign::write_matrix_csv(&officials, &mut expected)?;
    assert_eq!(rows, 3);
    assert_eq!(csv.body, String::from_utf8(expected)?);
    assert_eq!(csv.body.lines().count(), 4);

    // The API: the same data as JSON.
    let api: serde_json::Value = serde_json::from_str(&page("/api/v1/officials")?.body)?;
    assert_eq!(api, serde_json::to_value(&officials)?);
    let one: serde_json::Value =
        serde_json::from_str(&page("/api/v1/officials/06065/sheriff")?.body)?;
    assert_eq!(one["official"]["name"], "Chad Example");
    let overview: serde_json::Value = serde_json::from_str(&page("/api/v1/overview")?.body)?;
    assert_eq!(overview["groups"]["count"], 2);
    let counties: serde_json::Value = serde_json::from_str(&page("/api/v1/counties")?.body)?;
    assert_eq!(counties[0]["fips"], "06065");
    assert_eq!(counties[0]["status"], "some-rules");
    let missing = get(s.addr, "/api/v1/officials/06065/mayor", Some(&me))?;
    assert_eq!(missing.status, 404);

    let css = get(s.addr, "/static/style.css", None)?;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    Ok(())
}

#[test]
fn the_public_map_shows_public_meetings_and_nothing_else() -> Res<()> {
    let s = site()?;
    let map = get(s.addr, "/map", None)?;
    assert_eq!(map.status, 200);
    assert!(map.body.contains("Town hall with the sheriff"));
    assert!(map.body.contains("Central Library, room 1"));
    assert!(map.body.contains("Riverside Rises"));
    assert!(map.body.contains("<path class=\"s3\""));
    for private in ["Marker private", "Chad Example\">", "Opposes"] {
        assert!(!map.body.contains(private), "{private} on the public map");
    }
    assert!(map.header("content-security-policy").is_some());
    let tx = get(s.addr, "/map?state=TX", None)?;
    assert!(tx.body.contains("0 public meetings"), "{}", tx.body);
    let past = get(s.addr, "/map?from=2020-01-01&to=2020-01-31", None)?;
    assert!(past.body.contains("0 public meetings"));
    let bad = get(s.addr, "/map?from=tomorrow", None)?;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("from \"tomorrow\" is not a date"));
    // Wrong filters are refused with the reason, as the staff matrix refuses them.
    for (query, why) in [
        ("state=ZZ", "state \"ZZ\" is not a US state"),
        (
            "state=California",
            "state \"CALIFORNIA\" is not a two-letter code",
        ),
        ("county=abc", "\"abc\" is not a 5-digit county FIPS code"),
        ("county=99999", "no county has the FIPS code \"99999\""),
    ] {
        let bad = get(s.addr, &format!("/map?{query}"), None)?;
        assert_eq!(bad.status, 400, "{query}");
        assert!(bad.body.contains(why), "{query}: {}", bad.body);
    }
    let riverside = get(s.addr, "/map?state=ca&county=06065", None)?;
    assert_eq!(riverside.status, 200);
    assert!(riverside.body.contains("Town hall with the sheriff"));
    // Empty fields, as the form sends them, mean "all".
    assert_eq!(
        get(s.addr, "/map?state=&county=&from=&to=", None)?.status,
        200
    );

    let ics = get(s.addr, "/map/meetings.ics", None)?;
    assert_eq!(ics.status, 200);
    assert_eq!(
        ics.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert_eq!(ics.body.matches("BEGIN:VEVENT").count(), 1);
    assert!(ics.body.contains("SUMMARY:Town hall with the sheriff\r\n"));
    assert!(ics.body.contains("LOCATION:Central Library\\, room 1\r\n"));
    assert!(!ics.body.contains("Marker"));
    Ok(())
}

#[test]
fn cross_site_sign_in_and_sign_out_are_refused() -> Res<()> {
    let s = site()?;
    let own = format!("http://{}", s.addr);
    let post = |path: &str, cookie: Option<&str>, form: Option<&str>, extra: &[(&str, &str)]| {
        http_with(s.addr, "POST", path, cookie, form, extra)
    };

    // Login CSRF: another site's page posting a valid link is refused before it is spent.
    let code = s.link("organizer", 0)?;
    let form = format!("code={code}");
    let other_port = format!("http://127.0.0.1:{}", s.addr.port().wrapping_add(1));
    let https_other_port = other_port.replace("http:", "https:");
    for (headers, why) in [
        (
            vec![("Origin", "http://evil.example")],
            "came from a page on http://evil.example",
        ),
        (
            vec![("Sec-Fetch-Site", "cross-site")],
            "Sec-Fetch-Site: cross-site",
        ),
        (
            vec![("Sec-Fetch-Site", "same-site")],
            "Sec-Fetch-Site: same-site",
        ),
        (
            vec![("Sec-Fetch-Site", "same-origin"), ("Origin", "null")],
            "came from a page on null",
        ),
        (vec![("Origin", other_port.as_str())], "not on this relay"),
        (
            vec![("Origin", https_other_port.as_str())],
            "not on this relay",
        ),
    ] {
        let reply = post("/campaign/login", None, Some(&form), &headers)?;
        assert_eq!(reply.status, 403, "{headers:?}: {}", reply.body);
        assert!(reply.body.contains(why), "{headers:?}: {}", reply.body);
        assert!(reply.header("set-cookie").is_none(), "{headers:?}");
    }
    // The relay's own page (as a browser sends it), and a tool sending neither header.
    let reply = post(
        "/campaign/login",
        None,
        Some(&form),
        &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
    )?;
    assert_eq!(reply.status, 303, "the link was not spent: {}", reply.body);
    assert!(reply.header("set-cookie").is_some());
    let me = s.sign_in("organizer")?;

    // A forced sign-out from another site is refused; the session lives on.
    for headers in [
        vec![("Origin", "http://evil.example")],
        vec![
            ("Sec-Fetch-Site", "same-site"),
            ("Origin", other_port.as_str()),
        ],
    ] {
        let reply = post("/campaign/logout", Some(&me), None, &headers)?;
        assert_eq!(reply.status, 403, "{headers:?}");
        assert!(reply.header("set-cookie").is_none());
    }
    assert_eq!(get(s.addr, "/campaign", Some(&me))?.status, 200);

    // Signing out with no session, or a forged one, ends nothing and clears only a cookie
    // that was sent.
    let none = post("/campaign/logout", None, None, &[])?;
    assert_eq!(none.status, 303);
    assert!(none.header("set-cookie").is_none());
    let sessions = |c: &rusqlite::Connection| -> Res<i64> {
        Ok(c.query_row(
            "SELECT count(*) FROM web_sessions WHERE ended_at IS NULL",
            [],
            |r| r.get(0),
        )?)
    };
    let open = sessions(&s.store()?)?;
    let forged = post(
        "/campaign/logout",
        Some("forged"),
        None,
        &[("Origin", &own)],
    )?;
    assert_eq!(forged.status, 303);
    assert_eq!(sessions(&s.store()?)?, open);
    assert_eq!(get(s.addr, "/campaign", Some(&me))?.status, 200);
    // The real sign-out from the relay's own page still works.
    let out = post(
        "/campaign/logout",
        Some(&me),
        None,
        &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
    )?;
    assert_eq!(out.status, 303);
    assert_eq!(get(s.addr, "/campaign", Some(&me))?.status, 401);
    assert_eq!(sessions(&s.store()?)?, open - 1);

    // GETs are not checked: a link from another site to a page still opens it.
    let linked = http_with(
        s.addr,
        "GET",
        "/map",
        None,
        None,
        &[("Sec-Fetch-Site", "cross-site")],
    )?;
    assert_eq!(linked.status, 200);
    Ok(())
}
