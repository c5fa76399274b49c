//! The CLI contract, through the real binary: every command with `--json` prints one JSON value
//! on stdout; errors go to stderr with a non-zero exit, and change nothing.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Gw<'a> {
    data: &'a Path,
}

impl Gw<'_> {
    fn run(&self, args: &[&str]) -> std::io::Result<Output> {
        Command::new(env!("CARGO_BIN_EXE_groundwork"))
            .arg("--data")
            .arg(self.data)
            .args(args)
            .env_remove("GROUNDWORK_DATA")
            .output()
    }

    /// Runs a command with `--json`; it must succeed and print exactly one JSON value.
    fn json(&self, args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?} failed: {stderr}");
        let stdout = String::from_utf8(out.stdout)?;
        assert_eq!(stdout.trim_end().lines().count(), 1, "{args:?}: {stdout}");
        Ok(serde_json::from_str(&stdout)?)
    }

    /// Runs a command that must fail; returns its stderr.
    fn fails(&self, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
        let out = self.run(args)?;
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed on stdout");
        Ok(String::from_utf8(out.stderr)?)
    }
}

fn field(v: &Value, key: &str) -> Result<String, String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key:?} in {v}"))
}

#[test]
fn a_lead_plans_a_meeting_records_answers_and_logs_contacts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    let me = gw.json(&["init", "--name", "Lead"])?;
    assert_eq!(gw.json(&["whoami"])?, me);
    assert_eq!(me["name"], "Lead");

    let group = field(
        &gw.json(&[
            "group",
            "create",
            "--name",
            "Riverside",
            "--jurisdiction",
            "Riverside County",
        ])?,
        "group_id",
    )?;
    assert_eq!(gw.json(&["group", "list"])?[0]["role"], "lead");
    let target = field(
        &gw.json(&[
            "target",
            "add",
            &group,
            "--name",
            "Sheriff Example",
            "--title",
            "Sheriff",
            "--level",
            "county",
        ])?,
        "target_id",
    )?;
    assert_eq!(gw.json(&["target", "list", &group])?[0]["level"], "county");
    let meeting = field(
        &gw.json(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "official",
            "--title",
            "Ask the sheriff",
            "--target",
            &target,
            "--at",
            "2026-12-01T18:30:00-06:00",
            "--location",
            "County hall",
        ])?,
        "meeting_id",
    )?;
    gw.json(&[
        "meeting",
        "agenda",
        &meeting,
        "--add",
        "Question 1: existing policy",
    ])?;
    gw.json(&[
        "meeting",
        "agenda",
        &meeting,
        "--add",
        "Question 2: the model rules",
    ])?;
    gw.json(&["meeting", "notes", &meeting, "--append", "Open to R1."])?;
    gw.json(&["meeting", "status", &meeting, "requested"])?;
    let shown = gw.json(&["meeting", "show", &meeting])?;
    assert_eq!(shown["status"], "requested");
    assert_eq!(shown["at"], "2026-12-02T00:30:00Z");
    assert_eq!(shown["agenda"][1]["text"], "Question 2: the model rules");
    assert_eq!(shown["notes"], "Open to R1.");
    assert_eq!(gw.json(&["meeting", "list", &group])?[0]["agenda_items"], 2);

    let action = field(
        &gw.json(&[
            "action",
            "add",
            &group,
            "--title",
            "Send letter",
            "--due",
            "2026-12-05",
        ])?,
        "action_id",
    )?;
    gw.json(&["action", "done", &action])?;
    assert_eq!(gw.json(&["action", "list", &group])?[0]["done"], true);

    gw.json(&[
        "response",
        "record",
        &group,
        "--target",
        &target,
        "--rule",
        "R6",
        "--existing",
        "partial",
        "--position",
        "supports-with-changes",
        "--conditions",
        "only with 'should'",
        "--meeting",
        &meeting,
    ])?;
    let card = gw.json(&["scorecard", &group, "--target", &target])?;
    let rows = card.as_array().ok_or("scorecard is not a list")?;
    assert_eq!(rows.len(), 10);
    let r6 = rows.iter().find(|r| r["rule"] == "R6").ok_or("no R6")?;
    assert_eq!(r6["position"], "supports-with-changes");
    assert_eq!(r6["conditions"], "only with 'should'");
    assert_eq!(rows[0]["existing"], "unknown");

    gw.json(&[
        "contact", "log", &group, "--result", "not-home", "--place", "Elm St",
    ])?;
    let c = field(
        &gw.json(&[
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--support",
            "5",
            "--interest",
            "host",
            "--interest",
            "attend",
            "--consent",
            "--name",
            "Test Person",
            "--email",
            "person@example.org",
        ])?,
        "contact_id",
    )?;
    let talked = gw.json(&["contact", "list", &group, "--result", "talked"])?;
    assert_eq!(talked["items"][0]["contact_id"], c.as_str());
    assert_eq!(
        talked["items"][0]["interests"],
        serde_json::json!(["attend", "host"])
    );
    assert_eq!(talked["total"], 1);
    let all = gw.json(&["contact", "list", &group])?;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (all["next"].clone(), all["total"].clone()),
        (Value::Null, 2.into())
    );
    let csv = dir.path().join("contacts.csv");
    let exported = gw.json(&["contact", "export", &group, "--csv", &csv.to_string_lossy()])?;
    assert_eq!(exported["exported"], 2);
    assert!(std::fs::read_to_string(&csv)?.contains("Test Person"));
    assert_eq!(gw.json(&["rules"])?.as_array().map(Vec::len), Some(10));
    Ok(())
}

#[test]
fn errors_go_to_stderr_name_the_problem_and_change_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    assert!(
        gw.fails(&["whoami"])?
            .contains("run `groundwork init --name NAME` first")
    );
    gw.json(&["init", "--name", "Lead"])?;
    assert!(
        gw.fails(&["init", "--name", "Again"])?
            .contains("already exists")
    );
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    let target = field(
        &gw.json(&["target", "add", &group, "--name", "N", "--title", "Chief"])?,
        "target_id",
    )?;
    gw.json(&["contact", "log", &group, "--result", "talked"])?;
    let before = (
        gw.json(&["contact", "list", &group])?,
        gw.json(&["scorecard", &group])?,
    );

    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "response",
                "record",
                &group,
                "--target",
                &target,
                "--rule",
                "R10",
                "--existing",
                "none",
                "--position",
                "opposes",
            ],
            "invalid rule code \"R10\"",
        ),
        (
            &[
                "response",
                "record",
                &group,
                "--target",
                &target,
                "--rule",
                "R1",
                "--existing",
                "none",
                "--position",
                "maybe",
            ],
            "invalid position \"maybe\"",
        ),
        (
            &["contact", "log", &group, "--result", "asleep"],
            "invalid contact result \"asleep\"",
        ),
        (
            &[
                "meeting",
                "create",
                &group,
                "--kind",
                "organizing",
                "--title",
                "T",
                "--at",
                "next tuesday",
            ],
            "is not an RFC 3339 time",
        ),
        (
            &["meeting", "list", "no-such-group"],
            "no group with id \"no-such-group\"",
        ),
        (
            &[
                "contact", "log", &group, "--result", "talked", "--phone", "555-0100",
            ],
            "consent",
        ),
        (
            &[
                "contact",
                "log",
                &group,
                "--result",
                "talked",
                "--support",
                "9",
            ],
            "outside 1 to 5",
        ),
        (&["meeting", "show", "nope"], "no meeting with id \"nope\""),
    ];
    for (args, expected) in cases {
        let stderr = gw.fails(args)?;
        assert!(
            stderr.contains(expected),
            "{args:?}: {stderr:?} should say {expected:?}"
        );
    }
    // With --json the error is JSON on stderr.
    let out = gw.run(&["meeting", "show", "nope", "--json"])?;
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr)?;
    assert!(field(&err, "error")?.contains("no meeting"));

    let after = (
        gw.json(&["contact", "list", &group])?,
        gw.json(&["scorecard", &group])?,
    );
    assert_eq!(before, after);
    Ok(())
}

#[test]
fn a_paged_contact_list_says_what_is_next_and_all_streams_every_row() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Canvasser"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    for i in 0..20 {
        let result = if i % 4 == 0 { "talked" } else { "not-home" };
        gw.json(&["contact", "log", &group, "--result", result])?;
    }
    // Pages of 7: 7, 7, 6, each naming the next page's cursor; the last says there is none.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = Vec::new();
    loop {
        let mut args = vec!["contact", "list", group.as_str(), "--limit", "7"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let page = gw.json(&args)?;
        assert_eq!(page["total"], 20, "{page}");
        let items = page["items"].as_array().ok_or("no items")?;
        pages.push(items.len());
        seen.extend(
            items
                .iter()
                .filter_map(|c| c["contact_id"].as_str().map(str::to_owned)),
        );
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(Some(next), seen.last().map(String::as_str));
                after = Some(next.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, [7, 7, 6]);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    // A filter's total counts what matches it.
    let talked = gw.json(&[
        "contact", "list", &group, "--result", "talked", "--limit", "2",
    ])?;
    assert_eq!(
        (
            talked["total"].clone(),
            talked["items"].as_array().map(Vec::len)
        ),
        (5.into(), Some(2))
    );
    // --all: one JSON value with every row, in the same order as the pages.
    let all = gw.json(&["contact", "list", &group, "--all"])?;
    let all_ids: Vec<String> = all["items"]
        .as_array()
        .ok_or("no items")?
        .iter()
        .filter_map(|c| c["contact_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(all_ids, seen);
    assert_eq!(
        (all["next"].clone(), all["total"].clone()),
        (Value::Null, 20.into())
    );
    // Text says how many there are and how to get more.
    let text = String::from_utf8(gw.run(&["contact", "list", &group, "--limit", "7"])?.stdout)?;
    let last = text.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("7 of 20; --after {} for more (or --all)", seen[6])
    );
    let text = String::from_utf8(gw.run(&["contact", "list", &group, "--all"])?.stdout)?;
    assert_eq!(text.lines().count(), 21, "{text}");
    // A cursor that names no contact is refused by name.
    assert!(
        gw.fails(&["contact", "list", &group, "--after", "nope"])?
            .contains("no contact")
    );
    Ok(())
}

#[test]
fn meetings_and_answers_name_the_official_not_its_id() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    let target = field(
        &gw.json(&[
            "target",
            "add",
            &group,
            "--name",
            "Sheriff Example",
            "--title",
            "Sheriff",
        ])?,
        "target_id",
    )?;
    let meeting = field(
        &gw.json(&[
            "meeting", "create", &group, "--kind", "official", "--title", "Ask", "--target",
            &target,
        ])?,
        "meeting_id",
    )?;
    let shown = String::from_utf8(gw.run(&["meeting", "show", &meeting])?.stdout)?;
    assert!(shown.contains("with:  Sheriff Example, Sheriff"), "{shown}");
    assert!(!shown.contains(&target), "{shown}");
    // Ids stay in JSON.
    assert_eq!(
        gw.json(&["meeting", "show", &meeting])?["target_id"],
        target.as_str()
    );
    let out = gw.run(&[
        "response",
        "record",
        &group,
        "--target",
        &target,
        "--rule",
        "R1",
        "--existing",
        "none",
        "--position",
        "will-support",
    ])?;
    let said = String::from_utf8(out.stdout)?;
    assert_eq!(said, "Sheriff Example, Sheriff R1: none / will-support\n");
    Ok(())
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_definitions() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    for shell in ["bash", "zsh", "fish"] {
        let out = gw.run(&["completions", shell])?;
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout)?;
        for word in ["invite", "contact", "sync", "relay"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
        if shell == "bash" {
            // The script parses as bash.
            let file = dir.path().join("groundwork.bash");
            std::fs::write(&file, &script)?;
            let checked = Command::new("bash").arg("-n").arg(&file).output()?;
            assert!(
                checked.status.success(),
                "{}",
                String::from_utf8_lossy(&checked.stderr)
            );
        }
    }
    assert!(gw.fails(&["completions", "tcsh"])?.contains("tcsh"));
    let man = String::from_utf8(gw.run(&["man"])?.stdout)?;
    assert!(man.contains(".TH groundwork 1"), "{man}");
    assert!(man.contains("invite"));
    // Neither needs a device.
    assert!(!dir.path().join("groundwork.db").exists());
    Ok(())
}

/// Reads a QR code drawn with half blocks (light modules as blocks) back into the text it
/// holds, with a decoder that shares nothing with the encoder.
fn read_terminal_qr(drawn: &str) -> Result<String, Box<dyn std::error::Error>> {
    let rows: Vec<Vec<char>> = drawn
        .lines()
        .filter(|l| !l.is_empty() && l.chars().all(|c| " █▀▄".contains(c)))
        .map(|l| l.chars().collect())
        .collect();
    let width = rows
        .iter()
        .map(Vec::len)
        .max()
        .ok_or("no QR code printed")?;
    // Each cell is two modules: (top, bottom), true where light.
    let light = |x: usize, y: usize| -> bool {
        let c = rows
            .get(y / 2)
            .and_then(|r| r.get(x))
            .copied()
            .unwrap_or(' ');
        matches!((c, y % 2), ('█', _) | ('▀', 0) | ('▄', 1))
    };
    let scale = 4;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(
        width * scale,
        rows.len() * 2 * scale,
        |x, y| {
            if light(x / scale, y / scale) { 255 } else { 0 }
        },
    );
    let grids = img.detect_grids();
    let grid = grids.first().ok_or("no QR code found in the output")?;
    let (_, text) = grid.decode()?;
    Ok(text)
}

#[test]
fn an_invite_prints_its_join_link_and_draws_it_as_a_qr_code() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    let relay = "wss://relay.example.org/v1/sync";
    let invite = gw.json(&[
        "invite",
        "create",
        &group,
        "--role",
        "canvasser",
        "--relay",
        relay,
    ])?;
    let link = field(&invite, "link")?;
    assert_eq!(
        link,
        format!("groundwork://join?invite={}", field(&invite, "code")?)
    );
    assert_eq!(invite["relay"], relay);
    let out = gw.run(&[
        "invite", "create", &group, "--role", "member", "--relay", relay, "--qr",
    ])?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)?;
    let printed = text.lines().next().ok_or("nothing printed")?;
    assert!(
        printed.starts_with("groundwork://join?invite=gw1."),
        "{printed}"
    );
    assert!(
        text.lines().skip(1).all(|l| l.chars().count() <= 80),
        "wider than a terminal:\n{text}"
    );
    assert_eq!(read_terminal_qr(&text)?, printed);
    // With --json the code goes to stderr and stdout stays one JSON value.
    let out = gw.run(&[
        "invite", "create", &group, "--role", "member", "--relay", relay, "--qr", "--json",
    ])?;
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        read_terminal_qr(&String::from_utf8(out.stderr)?)?,
        field(&v, "link")?
    );
    // A web address is refused, with the address to use instead; nothing is signed.
    let err = gw.fails(&[
        "invite",
        "create",
        &group,
        "--role",
        "member",
        "--relay",
        "https://relay.example.org/v1/sync",
    ])?;
    assert!(err.contains("wss://relay.example.org/v1/sync"), "{err}");
    // Without a relay known, the invite is still made (offline), and says what it lacks.
    let out = gw.run(&["invite", "create", &group, "--role", "member"])?;
    assert!(out.status.success());
    assert!(String::from_utf8(out.stderr)?.contains("names no relay"));
    Ok(())
}

#[test]
fn a_device_that_never_reached_a_relay_is_told_to_name_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "New"])?;
    for args in [
        &["sync", "--once"][..],
        &["token", "some-group"],
        &["signup", "code"],
        &["member", "remove", "g", "d"],
    ] {
        let err = gw.fails(args)?;
        assert!(err.contains("--relay"), "{args:?}: {err}");
        assert!(err.contains("GROUNDWORK_RELAY"), "{args:?}: {err}");
    }
    // A relay URL that is not one is named before anything is dialled.
    let err = gw.fails(&["sync", "--once", "--relay", "127.0.0.1:7878"])?;
    assert!(err.contains("no scheme"), "{err}");
    Ok(())
}

#[test]
fn a_county_is_found_offline_and_a_target_named_by_county_and_office() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    // No device is needed to search the directory.
    let found = gw.json(&["places", "search", "Travis County, TX"])?;
    assert_eq!(found[0]["fips"], "48453");
    assert_eq!(found[0]["state_name"], "Texas");
    let text = String::from_utf8(gw.run(&["places", "search", "orleans parish"])?.stdout)?;
    assert!(text.starts_with("22071  Orleans, LA (Louisiana)"), "{text}");
    assert!(
        gw.fails(&["places", "search", "Nowhere At All"])?
            .contains("no county matches")
    );

    gw.json(&["init", "--name", "Lead"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    gw.json(&[
        "target", "add", &group, "--county", "48453", "--office", "sheriff",
    ])?;
    gw.json(&[
        "target",
        "add",
        &group,
        "--county",
        "48453",
        "--office",
        "police-chief",
        "--place",
        "Austin",
        "--name",
        "Chief Example",
    ])?;
    let targets = gw.json(&["target", "list", &group])?;
    let keys: Vec<&str> = targets
        .as_array()
        .ok_or("no targets")?
        .iter()
        .filter_map(|t| t["official_key"].as_str())
        .collect();
    assert_eq!(keys, ["48453/police-chief/austin", "48453/sheriff"]);
    assert_eq!(targets[1]["name"], "Sheriff of Travis, TX");
    // Half an official, or a county that does not exist, is refused and nothing is added.
    assert!(
        gw.fails(&["target", "add", &group, "--county", "48453"])?
            .contains("--office")
    );
    assert!(
        gw.fails(&[
            "target", "add", &group, "--county", "99999", "--office", "sheriff"
        ])?
        .contains("99999")
    );
    assert!(
        gw.fails(&[
            "target", "add", &group, "--county", "48453", "--office", "king"
        ])?
        .contains("police-chief")
    );
    assert!(gw.fails(&["target", "add", &group])?.contains("--name"));
    assert_eq!(
        gw.json(&["target", "list", &group])?
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    Ok(())
}

#[test]
fn a_lead_turns_sharing_off_and_makes_a_meeting_public() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    assert_eq!(gw.json(&["group", "list"])?[0]["shares"], true);
    assert_eq!(
        gw.json(&["group", "share", &group, "off"])?["shares"],
        false
    );
    assert_eq!(gw.json(&["group", "list"])?[0]["shares"], false);
    let text = String::from_utf8(gw.run(&["group", "list"])?.stdout)?;
    assert!(text.contains("not sharing"), "{text}");
    let meeting = field(
        &gw.json(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Open house",
        ])?,
        "meeting_id",
    )?;
    assert_eq!(
        gw.json(&["meeting", "show", &meeting])?["visibility"],
        "private"
    );
    gw.json(&["meeting", "share", &meeting, "public"])?;
    assert_eq!(
        gw.json(&["meeting", "list", &group])?[0]["visibility"],
        "public"
    );
    assert!(
        gw.fails(&["meeting", "share", &meeting, "everyone"])?
            .contains("shared")
    );
    assert!(
        gw.fails(&["group", "share", &group, "maybe"])?
            .contains("on")
    );
    Ok(())
}
