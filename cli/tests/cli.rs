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
    assert_eq!((all["next"].clone(), all["total"].clone()), (Value::Null, 2.into()));
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
