//! Multi-process sync: the real relay binary and real `groundwork` CLI processes. Three devices
//! edit the same plan offline and log contacts, reconnect in turn, and converge; the relay is
//! killed with SIGKILL in the middle of a sync and restarted, and nothing it acknowledged is lost.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use groundwork_tests::{Relay, RunningSync, bin};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

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
        self.run(&["sync", "--relay", &relay.url(), "--once", "--timeout", "20"])
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
    // Restarted at the same address, as a relay is: devices dial only their own relay.
    let [addr] = groundwork_tests::free_addrs(1)?
        .try_into()
        .map_err(|_| "no address")?;
    three_devices_converge(&root, &|| Relay::options(&relay_data).listen(&addr).start())
}

/// The same, with the relay on PostgreSQL (a throw-away cluster): the relay process is killed
/// mid-sync and a new one started on the same database.
#[test]
fn three_devices_converge_through_a_relay_on_postgresql() -> TestResult {
    let cluster = groundwork_tests::pg::Cluster::start()?;
    let url = cluster.create_database("relay")?;
    let root = tempfile::tempdir()?;
    let relay_data = root.path().join("relay");
    let [addr] = groundwork_tests::free_addrs(1)?
        .try_into()
        .map_err(|_| "no address")?;
    three_devices_converge(&root, &|| {
        Relay::options(&relay_data)
            .listen(&addr)
            .arg("--database")
            .arg(&url)
            .start()
    })?;
    // Nothing of the group went to a local file beside the database.
    assert!(!relay_data.join("relay.db").exists());
    Ok(())
}

/// Three devices edit apart and converge through the relay `start` starts; the relay is killed
/// in the middle of a sync and started again.
fn three_devices_converge(
    root: &tempfile::TempDir,
    start: &dyn Fn() -> Result<Relay, Box<dyn std::error::Error>>,
) -> TestResult {
    let mut relay = start()?;
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
    // The canvasser is shown the meeting (a canvasser's phone holds no plan: the group's
    // brief, with the meetings shown to canvassers).
    lead.run(&["meeting", "canvassers", &meeting, "show"])?;
    assert_eq!(lead.sync(&relay)?["synced"], true);

    // 2. The others join with the lead's invites and receive the plan (the canvasser, the
    // brief).
    for (d, role) in [(&member, "member"), (&canvasser, "canvasser")] {
        let code = id(
            &lead.run(&["invite", "create", &group, "--role", role])?,
            "code",
        )?;
        let joined = d.run(&["join", &code, "--relay", &relay.url()])?;
        assert_eq!(joined["group_id"], group.as_str());
        assert_eq!(joined["role"], role);
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
        .cmd(&["sync", "--relay", &relay.url(), "--once", "--timeout", "10"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    relay.kill()?;
    let _ = in_flight.wait()?;
    relay = start()?;

    // 6. Reconnect in turn, twice round, so every device hears every other.
    for _ in 0..2 {
        for d in [&member, &lead, &canvasser] {
            let summary = d.sync(&relay)?;
            assert_eq!(summary["synced"], true, "{summary}");
        }
    }

    // 7. Apart again, once for every order of reconnecting: each device adds an agenda item
    //    offline, then they reconnect in that order (twice round); every item arrives everywhere.
    let devices = [&lead, &member, &canvasser];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for (round, order) in orders.iter().enumerate() {
        for (i, d) in devices.iter().enumerate() {
            if i == 2 {
                // The canvasser cannot edit the plan; it logs a contact.
                let c = d.run(&["contact", "log", &group, "--result", "not-home"])?;
                contacts.push(id(&c, "contact_id")?);
            } else {
                let item = format!("round {round} from device {i}");
                d.run(&["meeting", "agenda", &meeting, "--add", &item])?;
            }
        }
        for _ in 0..2 {
            for &i in order {
                let summary = devices[i].sync(&relay)?;
                assert_eq!(summary["synced"], true, "order {order:?}: {summary}");
            }
        }
        // The canvasser's phone holds the meeting as its brief shows it (no agenda); the lead
        // and the member, all of it.
        let brief = canvasser.run(&["meeting", "show", &meeting])?;
        assert_eq!(brief["title"], "Ask");
        assert_eq!(brief["agenda"], serde_json::json!([]));
        let shown: Vec<Value> = devices[..2]
            .iter()
            .map(|d| d.run(&["meeting", "show", &meeting]))
            .collect::<Result<_, _>>()?;
        assert!(
            shown.windows(2).all(|w| w[0] == w[1]),
            "order {order:?} diverged"
        );
        let texts = shown[0]["agenda"].to_string();
        for i in 0..2 {
            assert!(
                texts.contains(&format!("round {round} from device {i}")),
                "order {order:?} lost device {i}'s item: {texts}"
            );
        }
    }

    // 8. All converge, and nothing acknowledged was lost.
    let shown: Vec<Value> = [&lead, &member]
        .iter()
        .map(|d| d.run(&["meeting", "show", &meeting]))
        .collect::<Result<_, _>>()?;
    assert_eq!(shown[0], shown[1]);
    let brief = canvasser.run(&["meeting", "show", &meeting])?;
    assert_eq!(
        (&brief["title"], &brief["status"]),
        (&shown[0]["title"], &shown[0]["status"])
    );
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
    assert_eq!(listed["next"], Value::Null, "more than one page");
    let listed: Vec<&str> = listed["items"]
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
    // The lead holds the plan, the roster and the canvasser's contacts; the canvasser its
    // contacts and the group's brief (no plan, no roster); the member the plan and the
    // roster, and never receives the contacts.
    let lead_heads = heads(&lead)?;
    assert_eq!(
        lead_heads.len(),
        3,
        "plan, roster, contacts: {lead_heads:?}"
    );
    let canvasser_heads = heads(&canvasser)?;
    assert_eq!(
        canvasser_heads.len(),
        2,
        "brief, contacts: {canvasser_heads:?}"
    );
    assert_eq!(
        canvasser_heads
            .iter()
            .filter(|h| lead_heads.contains(h))
            .count(),
        1,
        "the contacts, the same on both"
    );
    let member_heads = heads(&member)?;
    assert_eq!(member_heads.len(), 2, "{member_heads:?}");
    assert!(member_heads.iter().all(|h| lead_heads.contains(h)));
    assert!(
        member.run(&["contact", "list", &group])?["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    Ok(())
}

#[test]
fn a_running_sync_pushes_edits_as_made_and_reconnects_after_the_relay_dies() -> TestResult {
    let root = tempfile::tempdir()?;
    let relay_data = root.path().join("relay");
    // A port for the relay, which is not running yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("ws://{listen}/v1/sync");
    let a = Device {
        dir: root.path().join("a"),
    };
    let b = Device {
        dir: root.path().join("b"),
    };
    a.run(&["init", "--name", "A"])?;
    b.run(&["init", "--name", "B"])?;
    let group = id(&a.run(&["group", "create", "--name", "Live"])?, "group_id")?;

    // 1. No relay: the sync waits and retries, and `status` says so honestly.
    let mut running = RunningSync::start(&a.dir, &url)?;
    let waiting = running.state("waiting")?;
    assert!(waiting["last_error"].is_string(), "{waiting}");
    assert!(waiting["retry_at"].is_i64(), "{waiting}");
    let status = a.run(&["status"])?;
    assert_ne!(status["connection"]["state"], "connected", "{status}");
    assert!(status["connection"]["last_error"].is_string(), "{status}");
    assert_eq!(status["synced"], 0, "{status}");

    // 2. The relay comes up: the sync connects and gets everything there.
    let relay = Relay::options(&relay_data).listen(&listen).start()?;
    running.state("connected")?;
    running.synced()?;
    assert_eq!(a.run(&["status"])?["connection"]["state"], "connected");

    // 3. An edit made by another process on A reaches the relay without another command.
    let meeting = id(
        &a.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Live",
        ])?,
        "meeting_id",
    )?;
    running.synced()?;
    let code = id(
        &a.run(&["invite", "create", &group, "--role", "member"])?,
        "code",
    )?;
    b.run(&["join", &code, "--relay", &relay.url()])?;
    assert_eq!(b.sync(&relay)?["synced"], true);
    assert_eq!(b.run(&["meeting", "show", &meeting])?["title"], "Live");

    // 4. B's edit comes to A as it reaches the relay.
    b.run(&["meeting", "agenda", &meeting, "--add", "from B"])?;
    assert_eq!(b.sync(&relay)?["synced"], true);
    running.wait_for("changed", |e| e["event"] == "changed")?;
    let agenda = a.run(&["meeting", "show", &meeting])?["agenda"].to_string();
    assert!(agenda.contains("from B"), "{agenda}");

    // 5. The relay dies: A waits, edits offline, and delivers once the relay is back.
    relay.kill()?;
    running.state("waiting")?;
    a.run(&["meeting", "agenda", &meeting, "--add", "offline on A"])?;
    let relay = Relay::options(&relay_data).listen(&listen).start()?;
    running.state("connected")?;
    running.synced()?;
    assert_eq!(b.sync(&relay)?["synced"], true);
    let agenda = b.run(&["meeting", "show", &meeting])?["agenda"].to_string();
    assert!(agenda.contains("offline on A"), "{agenda}");

    // 6. SIGTERM: the sync stops cleanly and records that it is offline.
    let pid = running.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()?
            .success()
    );
    running.state("offline")?;
    assert!(running.child.wait()?.success());
    let status = a.run(&["status"])?;
    assert_eq!(status["connection"]["state"], "offline", "{status}");
    assert_eq!(status["synced"], status["total"], "{status}");
    Ok(())
}
