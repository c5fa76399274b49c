//! The campaign layer through the real relay and CLI: two groups ask the same sheriff, the
//! relay's campaign index gathers what they share, campaign staff read it (officials, every
//! report, meetings, CSV), and nothing private ever reaches it: markers planted in contacts,
//! notes, agendas and an organizing meeting are searched for in the relay's campaign tables
//! and the staff device's files. A group that stops sharing is gone from the index at once.

use std::process::Command;

use groundwork_tests::{Device, Relay, Res, bin, field, files_contain, relay_db};
use serde_json::Value;

/// Every row of the relay's campaign tables, as text.
fn campaign_rows(relay: &Relay) -> Res<String> {
    let conn = relay_db(&relay.data)?;
    let mut out = String::new();
    for table in [
        "campaign_groups",
        "campaign_officials",
        "campaign_meetings",
        "campaign_answers",
        "campaign_canvass",
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            out.push_str(table);
            for i in 0..columns {
                let v: rusqlite::types::Value = row.get(i)?;
                out.push_str(&format!(" {v:?}"));
            }
            out.push('\n');
        }
    }
    Ok(out)
}

fn count(relay: &Relay, sql: &str) -> Res<i64> {
    let conn = relay_db(&relay.data)?;
    Ok(conn.query_row(sql, [], |r| r.get(0))?)
}

/// `groundwork-relay staff ...` against the running relay's data directory.
fn staff(relay: &Relay, args: &[&str]) -> Res<String> {
    let out = Command::new(bin("groundwork-relay"))
        .arg("--data")
        .arg(&relay.data)
        .arg("staff")
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The board document a device holds, if any.
fn board_doc(device: &Device) -> Res<Option<String>> {
    let status = device.run(&["status"])?;
    Ok(status["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["kind"] == "board")
        .and_then(|d| d["doc_id"].as_str())
        .map(str::to_owned))
}

/// A document's stored chunks on the relay, concatenated (empty when it has none).
fn relay_doc(relay: &Relay, doc: &str) -> Res<Vec<u8>> {
    let conn = relay_db(&relay.data)?;
    let mut stmt = conn.prepare("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let chunks = stmt.query_map([doc], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for c in chunks {
        out.extend(c?);
    }
    Ok(out)
}

const MARKERS: &[&str] = &[
    "Marker-Contact-Name",
    "555-0199",
    "marker@example.org",
    "Marker contact note",
    "Marker meeting notes",
    "Marker agenda item",
    "Marker organizing meeting",
    "Marker member's kitchen",
    "Marker private place",
];

#[test]
fn two_groups_asking_one_sheriff_reach_staff_and_nothing_private_does() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let url = relay.url();

    // 1. Two groups in Riverside County (06065) target its sheriff, by county and office.
    let north = Device::new(root.path(), "north")?;
    let south = Device::new(root.path(), "south")?;
    let mut groups = Vec::new();
    for (lead, name) in [(&north, "Riverside North"), (&south, "Riverside South")] {
        let group = field(&lead.run(&["group", "create", "--name", name])?, "group_id")?;
        let target = field(
            &lead.run(&[
                "target", "add", &group, "--county", "06065", "--office", "sheriff",
            ])?,
            "target_id",
        )?;
        groups.push((group, target));
    }
    let (north_group, north_target) = groups[0].clone();
    let (south_group, south_target) = groups[1].clone();

    // North: a requested meeting (private), answers, and private things of every kind.
    let north_meeting = field(
        &north.run(&[
            "meeting",
            "create",
            &north_group,
            "--kind",
            "official",
            "--title",
            "Ask the sheriff",
            "--target",
            &north_target,
            "--at",
            "2026-12-10T18:00:00Z",
            "--location",
            "Marker private place",
        ])?,
        "meeting_id",
    )?;
    north.run(&["meeting", "status", &north_meeting, "requested"])?;
    north.run(&[
        "meeting",
        "notes",
        &north_meeting,
        "--append",
        "Marker meeting notes",
    ])?;
    north.run(&[
        "meeting",
        "agenda",
        &north_meeting,
        "--add",
        "Marker agenda item",
    ])?;
    north.run(&[
        "meeting",
        "create",
        &north_group,
        "--kind",
        "organizing",
        "--title",
        "Marker organizing meeting",
        "--location",
        "Marker member's kitchen",
    ])?;
    north.run(&[
        "response",
        "record",
        &north_group,
        "--target",
        &north_target,
        "--rule",
        "R1",
        "--existing",
        "none",
        "--position",
        "will-consider",
    ])?;
    north.run(&[
        "contact",
        "log",
        &north_group,
        "--result",
        "talked",
        "--support",
        "4",
        "--consent",
        "--name",
        "Marker-Contact-Name",
        "--phone",
        "555-0199",
        "--email",
        "marker@example.org",
        "--note",
        "Marker contact note",
    ])?;
    north.run(&["contact", "log", &north_group, "--result", "not-home"])?;
    north.run(&["sync", "--relay", &url, "--once"])?;

    // South: the office set a date; South shares the place, and reports later answers.
    let south_meeting = field(
        &south.run(&[
            "meeting",
            "create",
            &south_group,
            "--kind",
            "official",
            "--title",
            "Meet the sheriff",
            "--target",
            &south_target,
            "--at",
            "2026-12-12T17:00:00Z",
            "--location",
            "County building, room 2",
        ])?,
        "meeting_id",
    )?;
    south.run(&["meeting", "status", &south_meeting, "scheduled"])?;
    south.run(&["meeting", "share", &south_meeting, "shared"])?;
    for (rule, existing, position) in [
        ("R1", "partial", "supports-with-changes"),
        ("R6", "none", "opposes"),
    ] {
        south.run(&[
            "response",
            "record",
            &south_group,
            "--target",
            &south_target,
            "--rule",
            rule,
            "--existing",
            existing,
            "--position",
            position,
            "--conditions",
            "would sign if 'shall' read 'should'",
        ])?;
    }
    south.run(&["sync", "--relay", &url, "--once"])?;

    // 1b. Each lead syncs again and holds its county's board: the other group's request and
    // the office's scheduled meeting are there, read from the device alone.
    north.run(&["sync", "--once"])?;
    south.run(&["sync", "--once"])?;
    let board = north.run(&["board", "show", "06065"])?;
    let sheriff = &board["officials"][0];
    assert_eq!(sheriff["key"], "06065/sheriff", "{board}");
    assert_eq!(
        sheriff["groups"],
        serde_json::json!(["Riverside North", "Riverside South"])
    );
    let meetings = sheriff["meetings"].as_array().ok_or("no meetings")?;
    let seen: Vec<(&str, &str, Option<&str>)> = meetings
        .iter()
        .map(|m| {
            (
                m["group_name"].as_str().unwrap_or(""),
                m["status"].as_str().unwrap_or(""),
                m["place"].as_str(),
            )
        })
        .collect();
    assert!(
        seen.contains(&(
            "Riverside South",
            "scheduled",
            Some("County building, room 2")
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("Riverside North", "requested", None)),
        "{seen:?}"
    );
    assert_eq!(
        south.run(&["board", "show", "06065"])?,
        board,
        "both leads see one board"
    );
    let board_text = String::from_utf8(
        Command::new(bin("groundwork"))
            .arg("--data")
            .arg(&north.dir)
            .args(["board", "show", "06065"])
            .output()?
            .stdout,
    )?;
    assert!(
        board_text.contains("asked by: Riverside North, Riverside South"),
        "{board_text}"
    );
    let old_board = board_doc(&north)?.ok_or("north has no board")?;

    // 1c. The office combined the requests: North marks its meeting as South's, and the board
    // shows one meeting, South's date, with both groups attending.
    let combined = format!("{south_group}/{south_meeting}");
    assert!(
        north
            .refused(&["meeting", "join-board", &north_meeting, "no-slash"])?
            .contains("GROUP/MEETING")
    );
    north.run(&["meeting", "join-board", &north_meeting, &combined])?;
    north.run(&["sync", "--once"])?;
    south.run(&["sync", "--once"])?;
    for lead in [&north, &south] {
        let board = lead.run(&["board", "show", "06065"])?;
        let meetings = board["officials"][0]["meetings"]
            .as_array()
            .ok_or("no meetings")?;
        assert_eq!(meetings.len(), 1, "{board}");
        assert_eq!(meetings[0]["id"], combined.as_str());
        assert_eq!(meetings[0]["status"], "scheduled");
        assert_eq!(
            meetings[0]["attending"],
            serde_json::json!(["Riverside North", "Riverside South"])
        );
    }
    assert_eq!(
        board_doc(&north)?.as_deref(),
        Some(old_board.as_str()),
        "an edit, not a fresh board"
    );

    // 2. Campaign staff: granted by the operator, on the running relay.
    let organizer = Device::new(root.path(), "organizer")?;
    let refused = organizer.refused(&["campaign", "officials", "--relay", &url])?;
    assert!(refused.contains("not campaign staff"), "{refused}");
    assert!(staff(&relay, &["add", &organizer.id()?])?.contains("staff added"));
    let officials = organizer.run(&["campaign", "officials", "--relay", &url])?;
    let list = officials.as_array().ok_or("no officials")?;
    assert_eq!(
        list.len(),
        1,
        "one sheriff, asked by two groups: {officials}"
    );
    let sheriff = &list[0];
    assert_eq!(sheriff["key"], "06065/sheriff");
    assert_eq!(sheriff["county_name"], "Riverside, CA");
    assert_eq!(
        sheriff["groups"],
        serde_json::json!(["Riverside North", "Riverside South"])
    );
    // The latest answer per rule: South's R1 came after North's.
    let answers = sheriff["answers"].as_array().ok_or("no answers")?;
    let by_rule: Vec<(&str, &str, &str)> = answers
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap_or(""),
                a["position"].as_str().unwrap_or(""),
                a["group_name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        by_rule,
        [
            ("R1", "supports-with-changes", "Riverside South"),
            ("R6", "opposes", "Riverside South")
        ]
    );
    // Filters: by state, office and position.
    let none = organizer.run(&["campaign", "officials", "--state", "TX", "--relay", &url])?;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let opposes = organizer.run(&[
        "campaign",
        "officials",
        "--position",
        "opposes",
        "--relay",
        &url,
    ])?;
    assert_eq!(opposes.as_array().map(Vec::len), Some(1));
    let mayors = organizer.run(&[
        "campaign",
        "officials",
        "--office",
        "mayor",
        "--relay",
        &url,
    ])?;
    assert_eq!(mayors.as_array().map(Vec::len), Some(0));

    // 3. The official's page: every group's report, and both meetings; only South's place.
    let page = organizer.run(&["campaign", "official", "06065/sheriff", "--relay", &url])?;
    let reports = page["reports"].as_array().ok_or("no reports")?;
    assert_eq!(reports.len(), 3, "{page}");
    let meetings = page["meetings"].as_array().ok_or("no meetings")?;
    assert_eq!(meetings.len(), 2, "{page}");
    assert_eq!(meetings[0]["group_name"], "Riverside North");
    assert_eq!(meetings[0]["status"], "requested");
    assert_eq!(
        meetings[0].get("place"),
        None,
        "a private meeting's place left the group"
    );
    assert_eq!(meetings[1]["status"], "scheduled");
    assert_eq!(meetings[1]["place"], "County building, room 2");
    assert!(
        organizer
            .refused(&["campaign", "official", "06065/mayor", "--relay", &url])?
            .contains("no sharing group")
    );

    // 4. CSV: one row per official and rule, as the index has them.
    let csv = root.path().join("matrix.csv");
    let exported = organizer.run(&[
        "campaign",
        "export",
        "--csv",
        &csv.to_string_lossy(),
        "--relay",
        &url,
    ])?;
    assert_eq!(exported["exported"], 2);
    let text = std::fs::read_to_string(&csv)?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("official_key,county,county_name,state,office"));
    assert!(
        lines[1].starts_with("06065/sheriff,06065,\"Riverside, CA\",CA,sheriff,,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(
        ",R1,partial,supports-with-changes,would sign if 'shall' read 'should',,Riverside South,"
    ));

    // 5. Canvassing reaches the index as counts only.
    assert_eq!(count(&relay, "SELECT COUNT(*) FROM campaign_canvass")?, 2);
    assert_eq!(
        count(
            &relay,
            "SELECT COUNT(*) FROM campaign_canvass WHERE result = 'talked' AND support = 4"
        )?,
        1
    );

    // 6. Nothing private reached the index, the board (on the relay and on South's device) or
    // the staff device.
    let rows = campaign_rows(&relay)?;
    let board_bytes = relay_doc(&relay, &old_board)?;
    let south_board = south.run(&["board", "show", "06065"])?.to_string();
    for marker in MARKERS {
        assert!(
            !rows.contains(marker),
            "{marker:?} reached the campaign index:\n{rows}"
        );
        assert!(
            !board_bytes
                .windows(marker.len())
                .any(|w| w == marker.as_bytes()),
            "{marker:?} reached the board"
        );
        assert!(
            !files_contain(&organizer.dir, marker)?,
            "{marker:?} reached the staff device"
        );
        assert!(
            !south_board.contains(marker),
            "{marker:?} reached South's board"
        );
    }

    // 7. South stops sharing: it leaves the index at once, canvass counts and all.
    south.run(&["group", "share", &south_group, "off"])?;
    south.run(&["sync", "--once"])?;
    let rows = campaign_rows(&relay)?;
    assert!(
        !rows.contains(&south_group),
        "South is still in the index:\n{rows}"
    );
    let sheriff = organizer.run(&["campaign", "officials", "--relay", &url])?;
    assert_eq!(sheriff[0]["groups"], serde_json::json!(["Riverside North"]));
    assert_eq!(sheriff[0]["answers"][0]["position"], "will-consider");
    // The board is a fresh document without South, history and all: the relay dropped the
    // old one, North's device replaced it, South's has none.
    north.run(&["sync", "--once"])?;
    let board = north.run(&["board", "show", "06065"])?;
    assert_eq!(
        board["officials"][0]["groups"],
        serde_json::json!(["Riverside North"]),
        "{board}"
    );
    let new_board = board_doc(&north)?.ok_or("north has no board")?;
    assert_ne!(new_board, old_board);
    assert!(
        relay_doc(&relay, &old_board)?.is_empty(),
        "the old board is still stored"
    );
    assert!(
        !relay_doc(&relay, &new_board)?
            .windows(b"Riverside South".len())
            .any(|w| w == b"Riverside South")
    );
    assert_eq!(
        north.run(&["board", "list"])?.as_array().map(Vec::len),
        Some(1)
    );
    assert!(
        south
            .refused(&["board", "show", "06065"])?
            .contains("no board")
    );
    assert_eq!(south.run(&["board", "list"])?, Value::Array(vec![]));
    // North turns sharing off and on again: its canvass counts come back, counted whole.
    north.run(&["group", "share", &north_group, "off"])?;
    north.run(&["sync", "--once"])?;
    assert_eq!(count(&relay, "SELECT COUNT(*) FROM campaign_canvass")?, 0);
    assert_eq!(
        organizer.run(&["campaign", "officials", "--relay", &url])?,
        Value::Array(vec![])
    );
    north.run(&["group", "share", &north_group, "on"])?;
    north.run(&["sync", "--once"])?;
    assert_eq!(count(&relay, "SELECT COUNT(*) FROM campaign_canvass")?, 2);

    // 8. Revoking the role ends staff access at once.
    assert!(staff(&relay, &["list"])?.contains(&organizer.id()?));
    staff(&relay, &["remove", &organizer.id()?])?;
    assert!(
        organizer
            .refused(&["campaign", "officials", "--relay", &url])?
            .contains("not campaign staff")
    );
    assert!(staff(&relay, &["add", "not-a-device-id"]).is_err());
    Ok(())
}

#[test]
fn a_relay_from_before_the_index_builds_it_from_its_stored_groups() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Early group"])?,
        "group_id",
    )?;
    let target = field(
        &lead.run(&[
            "target", "add", &group, "--county", "48453", "--office", "sheriff",
        ])?,
        "target_id",
    )?;
    lead.run(&[
        "response",
        "record",
        &group,
        "--target",
        &target,
        "--rule",
        "R5",
        "--existing",
        "in-practice",
        "--position",
        "already-in-place",
    ])?;
    lead.run(&[
        "contact",
        "log",
        &group,
        "--result",
        "talked",
        "--support",
        "5",
    ])?;
    lead.run(&["sync", "--relay", &relay.url(), "--once"])?;
    relay.kill()?;
    // The store as a relay from before the index left it: tables empty, never built.
    {
        let conn = relay_db(&data)?;
        conn.execute_batch(
            "DELETE FROM campaign_groups; DELETE FROM campaign_officials;
             DELETE FROM campaign_meetings; DELETE FROM campaign_answers;
             DELETE FROM campaign_canvass; DELETE FROM campaign_built;",
        )?;
    }
    let relay = Relay::start(&data)?;
    let organizer = Device::new(root.path(), "organizer")?;
    staff(&relay, &["add", &organizer.id()?])?;
    let officials = organizer.run(&["campaign", "officials", "--relay", &relay.url()])?;
    assert_eq!(officials[0]["key"], "48453/sheriff", "{officials}");
    assert_eq!(officials[0]["answers"][0]["position"], "already-in-place");
    assert_eq!(count(&relay, "SELECT COUNT(*) FROM campaign_canvass")?, 1);
    assert_eq!(count(&relay, "SELECT COUNT(*) FROM campaign_built")?, 1);
    Ok(())
}

/// The counties of the boards a device holds.
fn board_counties(device: &Device) -> Res<Vec<String>> {
    Ok(device
        .run(&["board", "list"])?
        .as_array()
        .ok_or("board list is not a list")?
        .iter()
        .filter(|b| b["officials"].as_u64().unwrap_or(0) > 0)
        .filter_map(|b| b["county"].as_str().map(str::to_owned))
        .collect())
}

#[test]
fn followers_and_staff_read_boards_and_lose_them_when_they_may_not() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let url = relay.url();

    // Travis County (48453): a group asks its sheriff.
    let travis = Device::new(root.path(), "travis")?;
    let travis_group = field(
        &travis.run(&["group", "create", "--name", "Travis Together"])?,
        "group_id",
    )?;
    travis.run(&[
        "target",
        "add",
        &travis_group,
        "--county",
        "48453",
        "--office",
        "sheriff",
    ])?;
    travis.sync(&relay)?;

    // Next door, Williamson County (48491): a group with a lead, a member and a canvasser.
    let lead = Device::new(root.path(), "williamson-lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Williamson Welcomes"])?,
        "group_id",
    )?;
    lead.run(&[
        "target", "add", &group, "--county", "48491", "--office", "sheriff",
    ])?;
    lead.sync(&relay)?;
    let member = Device::new(root.path(), "williamson-member")?;
    let canvasser = Device::new(root.path(), "williamson-canvasser")?;
    for (d, role) in [(&member, "member"), (&canvasser, "canvasser")] {
        let code = field(
            &lead.run(&["invite", "create", &group, "--role", role])?,
            "code",
        )?;
        d.run(&["join", &code, "--relay", &url])?;
        d.sync(&relay)?;
    }
    assert_eq!(board_counties(&lead)?, ["48491"]);
    assert_eq!(
        board_counties(&canvasser)?,
        Vec::<String>::new(),
        "a canvasser's phone holds its group's brief, no board"
    );

    // A typo is named before anything is dialled; a canvasser may not follow.
    let typo = lead.refused(&["board", "follow", "4845"])?;
    assert!(typo.contains("not a 5-digit county FIPS code"), "{typo}");
    let unknown = lead.refused(&["board", "follow", "99999"])?;
    assert!(unknown.contains("no county has the FIPS code"), "{unknown}");
    let refused = canvasser.refused(&["board", "follow", "48453"])?;
    assert!(refused.contains("leads and members"), "{refused}");

    // The lead and the member follow Travis, and read its board offline after a sync.
    for d in [&lead, &member] {
        let followed = d.run(&["board", "follow", "48453"])?;
        assert_eq!(followed["followed"], serde_json::json!(["48453"]));
        d.sync(&relay)?;
        assert_eq!(board_counties(d)?, ["48453", "48491"]);
        let board = d.run(&["board", "show", "48453"])?;
        assert_eq!(board["officials"][0]["key"], "48453/sheriff", "{board}");
        assert_eq!(
            board["officials"][0]["groups"],
            serde_json::json!(["Travis Together"])
        );
    }
    canvasser.sync(&relay)?;
    assert_eq!(
        board_counties(&canvasser)?,
        Vec::<String>::new(),
        "no boards"
    );

    // A county followed before anyone asks there: listed as followed, and its board arrives
    // once a sharing group asks an official there.
    lead.run(&["board", "follow", "06065"])?;
    let list = lead.run(&["board", "list"])?;
    let riverside = list
        .as_array()
        .and_then(|l| l.iter().find(|b| b["county"] == "06065"))
        .ok_or_else(|| format!("06065 not listed: {list}"))?;
    assert_eq!(riverside["followed"], true);
    assert_eq!(riverside["officials"], 0);
    travis.run(&[
        "target",
        "add",
        &travis_group,
        "--county",
        "06065",
        "--office",
        "sheriff",
    ])?;
    travis.sync(&relay)?;
    lead.sync(&relay)?;
    assert_eq!(board_counties(&lead)?, ["06065", "48453", "48491"]);

    // Unfollowing drops the board at once, and the next sync does not bring it back.
    let left = lead.run(&["board", "unfollow", "06065"])?;
    assert_eq!(left["followed"], serde_json::json!(["48453"]));
    assert_eq!(board_counties(&lead)?, ["48453", "48491"]);
    lead.sync(&relay)?;
    assert_eq!(board_counties(&lead)?, ["48453", "48491"]);

    // A removed member loses the boards it followed: its wipe drops them, and the relay no
    // longer lets it follow.
    lead.run(&["member", "remove", &group, &member.id()?, "--relay", &url])?;
    let synced = member.sync(&relay)?;
    assert_eq!(synced["wiped"], serde_json::json!([group]), "{synced}");
    assert_eq!(board_counties(&member)?, Vec::<String>::new());
    let refused = member.refused(&["board", "follow", "48453", "--relay", &url])?;
    assert!(refused.contains("leads and members"), "{refused}");

    // Campaign staff, on a device in no group, read every board; revoked, they lose them.
    let organizer = Device::new(root.path(), "organizer")?;
    staff(&relay, &["add", &organizer.id()?])?;
    organizer.sync(&relay)?;
    assert_eq!(board_counties(&organizer)?, ["06065", "48453", "48491"]);
    let board = organizer.run(&["board", "show", "48491"])?;
    assert_eq!(
        board["officials"][0]["groups"],
        serde_json::json!(["Williamson Welcomes"])
    );
    staff(&relay, &["remove", &organizer.id()?])?;
    organizer.sync(&relay)?;
    assert_eq!(board_counties(&organizer)?, Vec::<String>::new());

    // Nothing of the groups' contacts reached a follower's or the organizer's files.
    lead.run(&[
        "contact",
        "log",
        &group,
        "--result",
        "talked",
        "--consent",
        "--name",
        "Marker-Follower-Contact",
    ])?;
    lead.sync(&relay)?;
    travis.run(&[
        "contact",
        "log",
        &travis_group,
        "--result",
        "talked",
        "--consent",
        "--name",
        "Marker-Travis-Contact",
    ])?;
    travis.sync(&relay)?;
    lead.sync(&relay)?;
    assert!(!files_contain(&lead.dir, "Marker-Travis-Contact")?);
    assert!(!files_contain(&organizer.dir, "Marker-Travis-Contact")?);
    Ok(())
}
