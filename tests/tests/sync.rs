//! Multi-process sync: the real relay binary and real `groundwork` CLI processes. Three devices
//! edit the same plan offline and log contacts, reconnect in turn, and converge; the relay is
//! killed with SIGKILL in the middle of a sync and restarted, and nothing it acknowledged is lost.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use groundwork_tests::bin;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Relay {
    child: Child,
    url: String,
}

impl Relay {
    fn start(data: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(bin("groundwork-relay"))
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("GROUNDWORK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?;
        Ok(Self {
            url: format!("ws://{addr}/v1/sync"),
            child,
        })
    }

    fn kill(mut self) -> std::io::Result<()> {
        self.child.kill()?; // SIGKILL
        self.child.wait().map(|_| ())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Device {
    dir: PathBuf,
}

impl Device {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("groundwork"));
        c.arg("--data").arg(&self.dir).args(args).arg("--json");
        c
    }

    fn run(&self, args: &[&str]) -> Result<Value, Box<dyn std::error::Error>> {
        let out = self.cmd(args).output()?;
        if !out.status.success() {
            return Err(
                format!("{args:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    fn sync(&self, relay: &Relay) -> Result<Value, Box<dyn std::error::Error>> {
        self.run(&["sync", "--relay", &relay.url, "--once", "--timeout", "20"])
    }
}

fn id(v: &Value, key: &str) -> Result<String, String> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {key} in {v}"))
}

#[test]
fn three_devices_edit_apart_converge_and_survive_a_relay_crash() -> TestResult {
    let root = tempfile::tempdir()?;
    let relay_data = root.path().join("relay");
    let mut relay = Relay::start(&relay_data)?;
    let device = |name: &str| -> Result<Device, Box<dyn std::error::Error>> {
        let d = Device {
            dir: root.path().join(name),
        };
        d.run(&["init", "--name", name])?;
        Ok(d)
    };
    let (lead, member, canvasser) = (device("lead")?, device("member")?, device("canvasser")?);

    // 1. The lead makes the group and its first plan, and syncs.
    let group = id(
        &lead.run(&["group", "create", "--name", "Riverside"])?,
        "group_id",
    )?;
    let target = id(
        &lead.run(&[
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
    let meeting = id(
        &lead.run(&[
            "meeting", "create", &group, "--kind", "official", "--title", "Ask", "--target",
            &target,
        ])?,
        "meeting_id",
    )?;
    assert_eq!(lead.sync(&relay)?["synced"], true);

    // 2. The others join by the group's id and receive the plan.
    for d in [&member, &canvasser] {
        d.run(&["group", "add", &group])?;
        assert_eq!(d.sync(&relay)?["synced"], true);
        assert_eq!(d.run(&["meeting", "show", &meeting])?["title"], "Ask");
    }

    // 3. Apart: everyone edits the same plan; the canvasser logs contacts.
    lead.run(&["meeting", "agenda", &meeting, "--add", "from the lead"])?;
    lead.run(&["meeting", "notes", &meeting, "--append", "lead's notes"])?;
    lead.run(&[
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
    member.run(&["meeting", "agenda", &meeting, "--add", "from the member"])?;
    member.run(&["meeting", "notes", &meeting, "--append", "member's notes"])?;
    member.run(&[
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
        "'should'",
    ])?;
    let mut contacts = Vec::new();
    for i in 0..5 {
        let support = (i % 5 + 1).to_string();
        let c = canvasser.run(&[
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--support",
            &support,
        ])?;
        contacts.push(id(&c, "contact_id")?);
    }

    // 4. The canvasser syncs: exit 0 means the relay acknowledged every contact.
    assert_eq!(canvasser.sync(&relay)?["synced"], true);

    // 5. The member starts syncing and the relay is killed under it.
    let mut in_flight = member
        .cmd(&["sync", "--relay", &relay.url, "--once", "--timeout", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    relay.kill()?;
    let _ = in_flight.wait()?;
    relay = Relay::start(&relay_data)?;

    // 6. Reconnect in turn, twice round, so every device hears every other.
    for _ in 0..2 {
        for d in [&member, &lead, &canvasser] {
            let summary = d.sync(&relay)?;
            assert_eq!(summary["synced"], true, "{summary}");
        }
    }

    // 7. All converge, and nothing acknowledged was lost.
    let shown: Vec<Value> = [&lead, &member, &canvasser]
        .iter()
        .map(|d| d.run(&["meeting", "show", &meeting]))
        .collect::<Result<_, _>>()?;
    assert_eq!(shown[0], shown[1]);
    assert_eq!(shown[1], shown[2]);
    let agenda: Vec<&str> = shown[0]["agenda"]
        .as_array()
        .ok_or("no agenda")?
        .iter()
        .filter_map(|i| i["text"].as_str())
        .collect();
    assert!(
        agenda.contains(&"from the lead") && agenda.contains(&"from the member"),
        "{agenda:?}"
    );
    let notes = shown[0]["notes"].as_str().ok_or("no notes")?;
    assert!(
        notes.contains("lead's notes") && notes.contains("member's notes"),
        "{notes}"
    );
    let card = lead.run(&["scorecard", &group])?;
    let position = |rule: &str| {
        card.as_array()
            .and_then(|rows| rows.iter().find(|r| r["rule"] == rule))
            .map(|r| r["position"].clone())
    };
    assert_eq!(position("R1"), Some(Value::from("will-support")));
    assert_eq!(position("R6"), Some(Value::from("supports-with-changes")));
    assert_eq!(member.run(&["scorecard", &group])?, card);
    let listed = lead.run(&["contact", "list", &group, "--limit", "100"])?;
    let listed: Vec<&str> = listed
        .as_array()
        .ok_or("no contacts")?
        .iter()
        .filter_map(|c| c["contact_id"].as_str())
        .collect();
    for c in &contacts {
        assert!(
            listed.contains(&c.as_str()),
            "contact {c} was acknowledged, then lost"
        );
    }
    // Every device reports every document synced, with the same heads.
    let heads = |d: &Device| -> Result<Vec<(String, String)>, Box<dyn std::error::Error>> {
        let status = d.run(&["status"])?;
        assert_eq!(status["synced"], status["total"], "{status}");
        let mut v: Vec<(String, String)> = status["documents"]
            .as_array()
            .ok_or("no documents")?
            .iter()
            .map(|d| (d["doc_id"].to_string(), d["local_heads"].to_string()))
            .collect();
        v.sort();
        Ok(v)
    };
    let lead_heads = heads(&lead)?;
    assert_eq!(lead_heads.len(), 2, "the plan and the canvasser's contacts");
    assert_eq!(heads(&member)?, lead_heads);
    assert_eq!(heads(&canvasser)?, lead_heads);
    Ok(())
}
