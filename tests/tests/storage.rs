//! Failing storage on the relay: when its database cannot grow (the disk is full, or the
//! operator's quota is reached), the relay acknowledges nothing it did not persist, refuses new
//! changes with a reason the device shows, keeps serving reads, says so in `/healthz` and
//! `/metrics`, and takes changes again once there is room, all without a restart.
//!
//! The quota (`groundwork-relay quota set MIB`, applied by the running relay within a second)
//! makes "the disk is full" exact and repeatable: SQLite answers a write past it as it answers
//! a full disk (SQLITE_FULL).

use std::path::Path;
use std::process::Command;

use groundwork_tests::{Device, Relay, Res, bin, field, http_get, relay_db};

/// Runs `groundwork-relay quota ...` on the relay's data directory.
fn quota(data: &Path, args: &[&str]) -> Res<()> {
    let out = Command::new(bin("groundwork-relay"))
        .arg("--data")
        .arg(data)
        .arg("quota")
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(())
}

/// One metric's value from `/metrics`.
fn metric(relay: &Relay, name: &str) -> Res<f64> {
    let (_, body) = http_get(&relay.addr, "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .ok_or_else(|| format!("no {name} in /metrics").into())
}

/// Polls `/metrics` (the relay's own report, not a sleep) until `name` is `value`.
fn wait_for_metric(relay: &Relay, name: &str, value: f64) -> Res<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while metric(relay, name)? != value {
        if std::time::Instant::now() > deadline {
            return Err(format!("{name} never became {value}").into());
        }
        std::thread::yield_now();
    }
    Ok(())
}

/// Text that compresses poorly, so its size on the relay is about its length.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// The contacts a lead's contacts document holds on the relay, read from its stored chunks.
fn contacts_on_relay(data: &Path, doc: &str) -> Res<usize> {
    use automerge::ReadDoc;
    let conn = relay_db(data)?;
    let mut stmt = conn.prepare("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
    let mut bytes = Vec::new();
    for chunk in stmt.query_map([doc], |r| r.get::<_, Vec<u8>>(0))? {
        bytes.extend(chunk?);
    }
    let mut am = automerge::AutoCommit::new();
    am.load_incremental(&bytes)?;
    Ok(match am.get(automerge::ROOT, "contacts")? {
        Some((_, map)) => am.length(&map),
        None => 0,
    })
}

/// The lead's contacts document in `status`, and whether the relay holds all of it.
fn contacts_doc(status: &serde_json::Value) -> Res<(String, bool)> {
    let doc = status["documents"]
        .as_array()
        .and_then(|docs| docs.iter().find(|d| d["kind"] == "contacts"))
        .ok_or_else(|| format!("no contacts document in {status}"))?;
    Ok((field(doc, "doc_id")?, doc["synced"] == true))
}

#[test]
fn a_full_relay_refuses_changes_keeps_serving_reads_and_recovers() -> Res<()> {
    let root = tempfile::tempdir()?;
    let data = root.path().join("relay");
    let relay = Relay::start(&data)?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Storage"])?,
        "group_id",
    )?;
    lead.run(&["contact", "log", &group, "--result", "not-home"])?;
    let link = field(
        &lead.run(&[
            "invite",
            "create",
            &group,
            "--role",
            "member",
            "--relay",
            &relay.url(),
        ])?,
        "link",
    )?;
    lead.sync(&relay)?;
    let member = Device::new(root.path(), "member")?;
    member.run(&["join", &link])?;
    // Half a megabyte on the relay before the quota, so that what the lead brings later passes
    // it while each document stays under the most a document may hold.
    for i in 100..105 {
        member.run(&[
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--note",
            &noise(i, 100_000),
        ])?;
    }
    member.sync(&relay)?;
    let (doc, _) = contacts_doc(&lead.run(&["status"])?)?;
    assert_eq!(contacts_on_relay(&data, &doc)?, 1);

    // The operator holds the store to 1 MiB on the running relay.
    quota(&data, &["set", "1"])?;
    wait_for_metric(&relay, "groundwork_storage_quota_bytes", 1_048_576.0)?;
    assert_eq!(http_get(&relay.addr, "/healthz")?, (200, "ok\n".into()));

    // The lead logs more than fits, offline, then syncs: refused, with the reason. (Nine
    // contacts of 100 KB: more than the quota leaves, less than a document may hold.)
    for i in 0..9 {
        lead.run(&[
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--note",
            &noise(i, 100_000),
        ])?;
    }
    let out = lead.cmd(&["sync", "--relay", &relay.url(), "--once", "--timeout", "20"])?;
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the sync succeeded");
    assert!(said.contains("storage is full"), "{said}");
    let (status, body) = http_get(&relay.addr, "/healthz")?;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("storage is full"), "{body}");
    assert!(metric(&relay, "groundwork_storage_failures_total")? >= 1.0);
    assert_eq!(metric(&relay, "groundwork_storage_healthy")?, 0.0);
    // Nothing it did not persist was acknowledged: the device still counts its contacts as
    // not on the relay, and the relay's store holds what it held.
    let (_, synced) = contacts_doc(&lead.run(&["status"])?)?;
    assert!(!synced, "the device counts its contacts as on the relay");
    assert_eq!(contacts_on_relay(&data, &doc)?, 1);

    // Reads go on: the member syncs, and a change it tries is refused with the reason (the
    // relay takes changes again only when the batch it could not take would fit).
    member.sync(&relay)?;
    let meeting = member.cmd(&[
        "meeting",
        "create",
        &group,
        "--kind",
        "organizing",
        "--title",
        "Plan the canvass",
    ])?;
    assert!(meeting.status.success());
    let out = member.cmd(&["sync", "--relay", &relay.url(), "--once", "--timeout", "20"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("storage is full"));

    // Room again: the relay notices by itself and takes everything.
    quota(&data, &["set", "200"])?;
    wait_for_metric(&relay, "groundwork_storage_healthy", 1.0)?;
    assert_eq!(http_get(&relay.addr, "/healthz")?, (200, "ok\n".into()));
    lead.sync(&relay)?;
    member.sync(&relay)?;
    let (_, synced) = contacts_doc(&lead.run(&["status"])?)?;
    assert!(synced);
    assert_eq!(contacts_on_relay(&data, &doc)?, 10);
    // And it survives a crash: what the relay acknowledged is on its disk.
    let addr = relay.addr.clone();
    relay.kill()?;
    let relay = Relay::options(&data).listen(&addr).start()?;
    assert_eq!(contacts_on_relay(&data, &doc)?, 10);
    lead.sync(&relay)?;
    let plan = member.run(&["meeting", "list", &group])?;
    assert!(plan.to_string().contains("Plan the canvass"), "{plan}");
    Ok(())
}
