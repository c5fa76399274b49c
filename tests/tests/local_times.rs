//! Meetings' times are local, through the real CLI and relay: a meeting typed as 18:30 for the
//! Yolo County (CA) sheriff is 18:30 PST on `meeting show`, `meeting list`, the county's board,
//! the staff dashboard and the public map (on its own day there), and its calendar event
//! starts at that instant (02:30 UTC the next day); one with the Maricopa County (AZ) sheriff
//! in July is MST (Arizona keeps no daylight saving time); on the night clocks go back (1 Nov
//! 2026) the repeated 01:30 is the first one, and on the night they go forward (8 Mar 2026)
//! 02:30 is refused, named.

use std::io::{Read, Write};
use std::process::Command;

use groundwork_tests::{Device, Relay, Res, bin, field, http_get};
use serde_json::Value;

/// A command's text output (no `--json`), which must succeed.
fn text(device: &Device, args: &[&str]) -> Res<String> {
    let out = Command::new(bin("groundwork"))
        .arg("--data")
        .arg(&device.dir)
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The day of the week of a date (Sakamoto's method), to check the views' without asking the
/// code under test.
fn weekday(year: i32, month: usize, day: i32) -> &'static str {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if month < 3 { year - 1 } else { year };
    let w = (y + y / 4 - y / 100 + y / 400 + T[month - 1] + day).rem_euclid(7);
    ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][w as usize]
}

/// A form POSTed to the relay: the status and the session cookie it set, if any.
fn post_form(addr: &str, path: &str, form: &str) -> Res<(u16, Option<String>)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let cookie = reply
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .and_then(|(_, v)| v.trim().split(';').next())
        .map(str::to_owned);
    Ok((status, cookie))
}

/// A GET with a cookie: the status and the body.
fn get_signed_in(addr: &str, path: &str, cookie: &str) -> Res<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("no status")?;
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    Ok((status, body.unwrap_or_default()))
}

/// The meeting `id` (`GROUP/MEETING`) with the official `key` on a board (JSON).
fn meeting_in(board: &Value, key: &str, id: &str) -> Res<Value> {
    board["officials"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["key"] == key)
        .flat_map(|o| o["meetings"].as_array().into_iter().flatten())
        .find(|m| m["id"] == id)
        .cloned()
        .ok_or_else(|| format!("no meeting {id} with {key} on {board}").into())
}

#[test]
fn meeting_times_are_local_everywhere_they_are_shown() -> Res<()> {
    // A December a year on: always ahead (the calendar feed lists meetings from a month back),
    // always standard time.
    let now = groundwork_core::time::format_rfc3339(groundwork_core::time::now_ms());
    let year: i32 = now.get(..4).ok_or("no year")?.parse::<i32>()? + 1;
    let yolo_day = format!("{} 15 Dec {year}, 18:30 PST", weekday(year, 12, 15));

    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&[
            "group",
            "create",
            "--name",
            "Yolo Rising",
            "--jurisdiction",
            "Yolo County, CA",
        ])?,
        "group_id",
    )?;
    let target = |county: &str| -> Res<String> {
        field(
            &lead.run(&[
                "target", "add", &group, "--county", county, "--office", "sheriff",
            ])?,
            "target_id",
        )
    };
    let yolo = target("06113")?;
    let maricopa = target("04013")?;
    let create = |target: &str, title: &str, at: &str| -> Res<String> {
        field(
            &lead.run(&[
                "meeting", "create", &group, "--kind", "official", "--title", title, "--target",
                target, "--at", at,
            ])?,
            "meeting_id",
        )
    };

    // 1. 18:30 with the Yolo sheriff is 18:30 Pacific time: on the CLI, in text and JSON.
    let at = format!("{year}-12-15T18:30");
    let town_hall = create(&yolo, "Town hall on the rules", &at)?;
    let shown = lead.run(&["meeting", "show", &town_hall])?;
    assert_eq!(shown["at"], format!("{year}-12-16T02:30:00Z"), "{shown}");
    assert_eq!(shown["zone"], "America/Los_Angeles");
    assert_eq!(shown["local"], format!("{year}-12-15T18:30:00-08:00"));
    let show = text(&lead, &["meeting", "show", &town_hall])?;
    assert!(
        show.contains(&format!("when:  {yolo_day} (America/Los_Angeles)")),
        "{show}"
    );
    let list = text(&lead, &["meeting", "list", &group])?;
    assert!(list.contains(&yolo_day), "{list}");
    lead.run(&["meeting", "status", &town_hall, "scheduled"])?;
    lead.run(&["meeting", "share", &town_hall, "public"])?;

    // 2. With the Maricopa sheriff in July: Mountain Standard Time, as Arizona keeps all year.
    let summit = create(&maricopa, "Summer summit", "2026-07-15 18:30")?;
    let shown = lead.run(&["meeting", "show", &summit])?;
    assert_eq!(shown["at"], "2026-07-16T01:30:00Z", "{shown}");
    assert_eq!(shown["zone"], "America/Phoenix");
    let show = text(&lead, &["meeting", "show", &summit])?;
    assert!(show.contains("when:  Wed 15 Jul 2026, 18:30 MST"), "{show}");

    // 3. The night clocks go back (1 Nov 2026): the evening is standard time, and the
    // repeated 01:30 is the first, still daylight time.
    let evening = create(&yolo, "After the change", "2026-11-01T18:30")?;
    let shown = lead.run(&["meeting", "show", &evening])?;
    assert_eq!(shown["at"], "2026-11-02T02:30:00Z", "{shown}");
    assert!(text(&lead, &["meeting", "show", &evening])?.contains("Sun 1 Nov 2026, 18:30 PST"));
    let twice = create(&yolo, "In the repeated hour", "2026-11-01T01:30")?;
    let shown = lead.run(&["meeting", "show", &twice])?;
    assert_eq!(shown["at"], "2026-11-01T08:30:00Z", "{shown}");
    assert_eq!(shown["local"], "2026-11-01T01:30:00-07:00");
    assert!(text(&lead, &["meeting", "show", &twice])?.contains("Sun 1 Nov 2026, 01:30 PDT"));

    // 4. The night clocks go forward (8 Mar 2026): 02:30 never happens there, and is refused.
    let refused = lead.refused(&[
        "meeting",
        "create",
        &group,
        "--kind",
        "official",
        "--title",
        "In the gap",
        "--target",
        &yolo,
        "--at",
        "2026-03-08T02:30",
    ])?;
    assert!(
        refused.contains("2026-03-08 02:30 does not exist in America/Los_Angeles"),
        "{refused}"
    );
    // An offset still reads as the instant it names, and an unknown zone is named.
    let offset = create(&yolo, "With an offset", "2026-12-15T18:30:00-08:00")?;
    assert_eq!(
        lead.run(&["meeting", "show", &offset])?["at"],
        "2026-12-16T02:30:00Z"
    );
    let refused = lead.refused(&["meeting", "edit", &offset, "--zone", "Mars/Olympus"])?;
    assert!(
        refused.contains("Mars/Olympus") && refused.contains("is not an IANA time zone"),
        "{refused}"
    );

    // 5. The group's own meeting is in its jurisdiction's zone; a lead moves it to another,
    // keeping the clock time.
    let own = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Our planning night",
            "--at",
            "2026-12-10 18:30",
        ])?,
        "meeting_id",
    )?;
    assert_eq!(
        lead.run(&["meeting", "show", &own])?["zone"],
        "America/Los_Angeles"
    );
    let moved = lead.run(&["meeting", "edit", &own, "--zone", "America/New_York"])?;
    assert_eq!(moved["at"], "2026-12-10T23:30:00Z", "{moved}");
    assert_eq!(moved["local"], "2026-12-10T18:30:00-05:00");

    // 6. Through the relay: the boards, read from the device once the relay wrote them.
    lead.sync(&relay)?;
    lead.sync(&relay)?;
    let board = lead.run(&["board", "show", "06113"])?;
    let m = meeting_in(&board, "06113/sheriff", &format!("{group}/{town_hall}"))?;
    assert_eq!(m["zone"], "America/Los_Angeles", "{board}");
    assert_eq!(m["local"], format!("{year}-12-15T18:30:00-08:00"));
    let board_text = text(&lead, &["board", "show", "06113"])?;
    assert!(board_text.contains(&yolo_day), "{board_text}");
    let board_text = text(&lead, &["board", "show", "04013"])?;
    assert!(
        board_text.contains("Wed 15 Jul 2026, 18:30 MST"),
        "{board_text}"
    );

    // 7. The staff dashboard: an official's page, signed in through a one-time link.
    let staff = Device::new(root.path(), "staff")?;
    let granted = Command::new(bin("groundwork-relay"))
        .arg("--data")
        .arg(&relay.data)
        .args(["staff", "add", &staff.id()?])
        .output()?;
    assert!(granted.status.success(), "{granted:?}");
    let link = field(
        &staff.run(&["dashboard", "login", "--relay", &relay.url()])?,
        "link",
    )?;
    let code = link.split_once("code=").ok_or("no code")?.1;
    let (status, cookie) = post_form(&relay.addr, "/campaign/login", &format!("code={code}"))?;
    let cookie = cookie.ok_or(format!("no session cookie ({status})"))?;
    let (status, page) = get_signed_in(&relay.addr, "/campaign/official/06113/sheriff", &cookie)?;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&yolo_day), "{page}");
    let (_, page) = get_signed_in(&relay.addr, "/campaign/official/04013/sheriff", &cookie)?;
    assert!(page.contains("Wed 15 Jul 2026, 18:30 MST"), "{page}");

    // 8. The public map lists it on its own day there (the 15th), not on the UTC day.
    let (status, map) = http_get(
        &relay.addr,
        &format!("/map?from={year}-12-15&to={year}-12-15"),
    )?;
    assert_eq!(status, 200, "{map}");
    assert!(map.contains("Town hall on the rules"), "{map}");
    assert!(map.contains(&yolo_day), "{map}");
    let (_, next_day) = http_get(
        &relay.addr,
        &format!("/map?from={year}-12-16&to={year}-12-16"),
    )?;
    assert!(!next_day.contains("Town hall on the rules"), "{next_day}");

    // 9. The calendar feed: the event starts at that instant, in UTC, which every calendar
    // shows in its reader's zone.
    let (status, ics) = http_get(&relay.addr, "/map/meetings.ics")?;
    assert_eq!(status, 200, "{ics}");
    let unfolded = ics.replace("\r\n ", "");
    let event = unfolded
        .split("BEGIN:VEVENT")
        .find(|e| e.contains("SUMMARY:Town hall on the rules"))
        .ok_or(format!("no event in {unfolded}"))?;
    let line = |name: &str| {
        event
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim_end)
            .map(str::to_owned)
    };
    assert_eq!(
        line("DTSTART:"),
        Some(format!("{year}1216T023000Z")),
        "{event}"
    );
    assert_eq!(
        line("DTEND:"),
        Some(format!("{year}1216T033000Z")),
        "{event}"
    );
    assert!(event.contains(&yolo_day.replace(',', "\\,")), "{event}");
    Ok(())
}

#[test]
fn a_relay_from_before_zones_gives_shared_meetings_theirs() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Valley Voices"])?,
        "group_id",
    )?;
    let sheriff = field(
        &lead.run(&[
            "target", "add", &group, "--county", "04013", "--office", "sheriff",
        ])?,
        "target_id",
    )?;
    lead.run(&[
        "meeting",
        "create",
        &group,
        "--kind",
        "official",
        "--title",
        "Summer summit",
        "--target",
        &sheriff,
        "--at",
        "2026-07-15T18:30",
    ])?;
    lead.sync(&relay)?;
    relay.kill()?;
    // The store as the relay before zones left it: no zone column, migration 9 the last.
    {
        let conn = groundwork_tests::relay_db(&data)?;
        conn.execute_batch(
            "ALTER TABLE campaign_meetings DROP COLUMN zone; PRAGMA user_version = 9;",
        )?;
    }
    let relay = Relay::start(&data)?;
    // The upgrade builds the index again from the plans as the relay starts: the meeting
    // has its zone.
    let conn = groundwork_tests::relay_db(&relay.data)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let zone = loop {
        let zone: Option<String> =
            conn.query_row("SELECT zone FROM campaign_meetings", [], |r| r.get(0))?;
        if zone.is_some() || std::time::Instant::now() > deadline {
            break zone;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(zone.as_deref(), Some("America/Phoenix"));
    Ok(())
}
