//! Several relay nodes on one PostgreSQL database (a throw-away cluster this test starts): real
//! relay processes, real `groundwork` devices, each device talking to one node. What one node
//! takes reaches the devices of another as it happens; access is shared (a removal on one node
//! cuts the device off on another, a nonce used on one is refused on another, a token minted
//! on one works on another); and the faults
//! of a cluster (a listener's connection killed, a transaction that commits after a later one,
//! a node SIGKILLed mid-burst, the database stopped at once) lose nothing acknowledged.

use groundwork_core::time::now_ms;
use groundwork_tests::pg::Cluster;
use groundwork_tests::{Device, Relay, Res, RunningSync, field};

/// The nodes of one relay on the database at `url`, one per name, each with a data directory of
/// its own (which it leaves empty: everything is in the database). Each names every node's
/// address as its own (`--public-url`), as the nodes behind one relay's addresses do, so a
/// device takes them for one relay.
fn nodes<const N: usize>(root: &std::path::Path, names: [&str; N], url: &str) -> Res<[Relay; N]> {
    let addrs = groundwork_tests::free_addrs(N)?;
    let urls: Vec<String> = addrs
        .iter()
        .map(|a| groundwork_tests::sync_url(a))
        .collect();
    let mut started = Vec::new();
    for (name, addr) in names.iter().zip(&addrs) {
        started.push(
            Relay::options(&root.join(name))
                .listen(addr)
                .public_urls(&urls)
                .arg("--database")
                .arg(url)
                .start()?,
        );
    }
    started
        .try_into()
        .map_err(|_| "a node did not start".into())
}

/// A group made by `lead` through `relay`, with one organizing meeting: (group, meeting).
fn group(lead: &Device, relay: &Relay) -> Res<(String, String)> {
    let group = field(
        &lead.run(&["group", "create", "--name", "Riverside"])?,
        "group_id",
    )?;
    let meeting = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Plan",
        ])?,
        "meeting_id",
    )?;
    assert_eq!(lead.sync(relay)?["synced"], true);
    Ok((group, meeting))
}

/// `device` joins `group` through `relay` with a new invite of `lead`'s, made for that node.
fn join(lead: &Device, device: &Device, group: &str, role: &str, relay: &Relay) -> Res<()> {
    let code = field(
        &lead.run(&[
            "invite",
            "create",
            group,
            "--role",
            role,
            "--relay",
            &relay.url(),
        ])?,
        "code",
    )?;
    device.run(&["join", &code, "--relay", &relay.url()])?;
    assert_eq!(device.sync(relay)?["synced"], true);
    Ok(())
}

fn agenda(device: &Device, meeting: &str) -> Res<String> {
    Ok(device.run(&["meeting", "show", meeting])?["agenda"].to_string())
}

/// Waits for `running`'s next `changed` events until `device`'s agenda holds `item`.
fn receives(running: &mut RunningSync, device: &Device, meeting: &str, item: &str) -> Res<()> {
    while !agenda(device, meeting)?.contains(item) {
        running.wait_for("changed", |e| e["event"] == "changed")?;
    }
    Ok(())
}

#[test]
fn three_nodes_serve_one_group_and_share_access() -> Res<()> {
    let cluster = Cluster::start()?;
    let url = cluster.create_database("relay")?;
    let root = tempfile::tempdir()?;
    let [a, b, c] = nodes(root.path(), ["a", "b", "c"], &url)?;
    let lead = Device::new(root.path(), "lead")?;
    let member = Device::new(root.path(), "member")?;
    let other = Device::new(root.path(), "other")?;

    // 1. The lead makes the group through A; the member joins through B, the other through C
    //    (each node learns of the new members from the log, or reads them when it starts).
    let (group, meeting) = group(&lead, &a)?;
    join(&lead, &member, &group, "member", &b)?;
    join(&lead, &other, &group, "member", &c)?;

    // 2. The member stays connected to B; the lead's edit through A reaches it as it is made.
    let mut running = RunningSync::start(&member.dir, &b.url())?;
    running.state("connected")?;
    running.synced()?;
    lead.run(&["meeting", "agenda", &meeting, "--add", "through A"])?;
    assert_eq!(lead.sync(&a)?["synced"], true);
    receives(&mut running, &member, &meeting, "through A")?;

    // 3. The other's edit through C too; then everyone converges across A, B and C.
    other.run(&["meeting", "agenda", &meeting, "--add", "through C"])?;
    assert_eq!(other.sync(&c)?["synced"], true);
    receives(&mut running, &member, &meeting, "through C")?;
    assert_eq!(lead.sync(&a)?["synced"], true);
    assert_eq!(other.sync(&c)?["synced"], true);
    let shown: Vec<String> = [&lead, &member, &other]
        .iter()
        .map(|d| agenda(d, &meeting))
        .collect::<Res<_>>()?;
    assert!(shown.windows(2).all(|w| w[0] == w[1]), "{shown:?}");
    assert!(shown[0].contains("through A") && shown[0].contains("through C"));

    // 4. A connection request used on A is refused on B.
    let proof = lead
        .identity()?
        .connect_proof(&a.url(), now_ms())?
        .to_query();
    let runtime = tokio::runtime::Runtime::new()?;
    let (first, replay) = runtime.block_on(async {
        let first = tokio_tungstenite::connect_async(format!("{}?{proof}", a.url())).await;
        let replay = tokio_tungstenite::connect_async(format!("{}?{proof}", b.url())).await;
        (first.map(drop), replay.map(drop))
    });
    first?;
    match replay {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned();
            assert_eq!(resp.status().as_u16(), 401, "{body}");
            assert!(body.contains("replayed"), "{body}");
        }
        other => return Err(format!("a replayed request on B: {other:?}").into()),
    }

    // A token minted through A opens the group on B; an unknown one is refused there.
    let token = field(&lead.run(&["token", &group, "--relay", &a.url()])?, "token")?;
    let (minted, unknown) = runtime.block_on(async {
        let minted = tokio_tungstenite::connect_async(format!("{}?token={token}", b.url())).await;
        let unknown = tokio_tungstenite::connect_async(format!("{}?token=0{token}", b.url())).await;
        (minted.map(drop), unknown.map(drop))
    });
    minted?;
    assert!(
        matches!(&unknown, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status().as_u16() == 401),
        "{unknown:?}"
    );

    // 5. The lead removes the member through A: B cuts the member's connection at once, and
    //    when it connects again it is told to wipe the group.
    let member_id = member.id()?;
    lead.run(&["member", "remove", &group, &member_id, "--relay", &a.url()])?;
    running.wait_for("wiped", |e| e["event"] == "wiped" && e["group"] == group)?;
    drop(running);
    let groups = member.run(&["group", "list"])?.to_string();
    assert!(!groups.contains(&group), "{groups}");
    // The others go on.
    other.run(&["meeting", "agenda", &meeting, "--add", "after the removal"])?;
    assert_eq!(other.sync(&c)?["synced"], true);
    assert_eq!(lead.sync(&b)?["synced"], true);
    assert!(agenda(&lead, &meeting)?.contains("after the removal"));
    // Nothing was kept in a local file by any node.
    for name in ["a", "b", "c"] {
        assert!(!root.path().join(name).join("relay.db").exists());
    }
    Ok(())
}

/// Polls `check` (every 50 ms, for at most 30 s) until it holds: for states a test cannot be
/// told of, such as a relay's health while its database is down.
fn until(what: &str, mut check: impl FnMut() -> Res<bool>) -> Res<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !check()? {
        if std::time::Instant::now() > deadline {
            return Err(format!("never: {what}").into());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

#[test]
fn a_killed_listener_a_late_commit_and_a_stopped_database_lose_nothing() -> Res<()> {
    let cluster = Cluster::start()?;
    let url = cluster.create_database("relay")?;
    let root = tempfile::tempdir()?;
    let [a, b] = nodes(root.path(), ["a", "b"], &url)?;
    let lead = Device::new(root.path(), "lead")?;
    let member = Device::new(root.path(), "member")?;
    let offline = Device::new(root.path(), "offline")?;
    let (group, meeting) = group(&lead, &a)?;
    join(&lead, &member, &group, "member", &b)?;
    join(&lead, &offline, &group, "member", &a)?;
    let mut running = RunningSync::start(&member.dir, &b.url())?;
    running.state("connected")?;
    running.synced()?;

    // 1. Every node's listening connection is killed: B still delivers A's edits (it reads the
    //    log on a timer, and again once its listener is back).
    let killed = cluster
        .admin_of("relay")?
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = 'relay' AND query LIKE 'LISTEN%'",
            &[],
        )?
        .len();
    assert_eq!(killed, 2, "one listener per node");
    lead.run(&[
        "meeting",
        "agenda",
        &meeting,
        "--add",
        "after the listeners died",
    ])?;
    assert_eq!(lead.sync(&a)?["synced"], true);
    receives(&mut running, &member, &meeting, "after the listeners died")?;

    // 2. A transaction that took its place in the log first commits last: a node's batch
    //    (here written by hand: the offline member's edit) is held open while the lead's
    //    later one commits through A. B delivers the later one at once, and the earlier one
    //    when it commits.
    offline.run(&["meeting", "agenda", &meeting, "--add", "committed last"])?;
    let plan: groundwork_core::ids::DocumentId = group.parse()?;
    let bytes = offline.document(&plan)?;
    let hash = <sha2::Sha256 as sha2::Digest>::digest(&bytes).to_vec();
    let mut held = cluster.admin_of("relay")?;
    let mut tx = held.transaction()?;
    tx.execute("SELECT pg_current_xact_id()", &[])?;
    tx.execute(
        "INSERT INTO chunks (doc_id, hash, bytes) VALUES ($1, $2, $3)",
        &[&group, &hash, &bytes],
    )?;
    tx.execute(
        "INSERT INTO change_log (node, doc_id, hash) VALUES ('by hand', $1, $2)",
        &[&group, &hash],
    )?;
    lead.run(&["meeting", "agenda", &meeting, "--add", "committed first"])?;
    assert_eq!(lead.sync(&a)?["synced"], true);
    receives(&mut running, &member, &meeting, "committed first")?;
    assert!(!agenda(&member, &meeting)?.contains("committed last"));
    tx.commit()?;
    receives(&mut running, &member, &meeting, "committed last")?;

    // 3. PostgreSQL stops at once: A says so in /healthz and its metrics, and takes no
    //    changes; the lead keeps its edit. PostgreSQL comes back: A takes changes again, the
    //    edit reaches the member through B, and everything acknowledged before survived.
    cluster.stop_immediately()?;
    until("A reports its database lost", || {
        let (status, body) = groundwork_tests::http_get(&a.addr, "/healthz")?;
        Ok(status == 503 && body.contains("cannot reach its database"))
    })?;
    let (_, metrics) = groundwork_tests::http_get(&a.addr, "/metrics")?;
    assert!(
        !metrics.contains("groundwork_storage_failures_total 0\n"),
        "{metrics}"
    );
    lead.run(&[
        "meeting",
        "agenda",
        &meeting,
        "--add",
        "while the database was down",
    ])?;
    assert!(
        lead.cmd(&["sync", "--relay", &a.url(), "--once", "--timeout", "3"])?
            .status
            .code()
            != Some(0)
    );
    cluster.start_server()?;
    until("A is healthy again", || {
        Ok(groundwork_tests::http_get(&a.addr, "/healthz")?.0 == 200)
    })?;
    until("B is healthy again", || {
        Ok(groundwork_tests::http_get(&b.addr, "/healthz")?.0 == 200)
    })?;
    assert_eq!(lead.sync(&a)?["synced"], true);
    receives(
        &mut running,
        &member,
        &meeting,
        "while the database was down",
    )?;
    let fresh = Device::new(root.path(), "fresh")?;
    join(&lead, &fresh, &group, "member", &b)?;
    let seen = agenda(&fresh, &meeting)?;
    for item in [
        "after the listeners died",
        "committed first",
        "committed last",
        "while the database was down",
    ] {
        assert!(seen.contains(item), "{item}: {seen}");
    }
    Ok(())
}

#[test]
fn every_change_a_killed_node_acknowledged_is_served_by_another() -> Res<()> {
    let cluster = Cluster::start()?;
    let url = cluster.create_database("relay")?;
    let root = tempfile::tempdir()?;
    let [a, b] = nodes(root.path(), ["a", "b"], &url)?;
    let lead = Device::new(root.path(), "lead")?;
    let canvasser = Device::new(root.path(), "canvasser")?;
    let (group, _) = group(&lead, &a)?;
    join(&lead, &canvasser, &group, "canvasser", &a)?;

    // 1. The canvasser stays connected to A and logs a burst of contacts; A is SIGKILLed in
    //    the middle of it (some contacts acknowledged, some in flight), and the canvasser logs
    //    on, offline.
    let mut running = RunningSync::start(&canvasser.dir, &a.url())?;
    running.state("connected")?;
    running.synced()?;
    let log = || {
        canvasser.run(&[
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--support",
            "4",
        ])
    };
    for _ in 0..8 {
        log()?;
    }
    // A has taken some of them for certain; more are in flight when it dies.
    running.synced()?;
    for _ in 8..16 {
        log()?;
    }
    a.kill()?;
    for _ in 16..30 {
        log()?;
    }
    drop(running);

    // 2. What A acknowledged, as the canvasser recorded it.
    let status = canvasser.run(&["status"])?;
    let contacts = status["documents"]
        .as_array()
        .and_then(|docs| docs.iter().find(|d| d["kind"] == "contacts"))
        .ok_or("no contacts document")?;
    let doc: groundwork_core::ids::DocumentId = field(contacts, "doc_id")?.parse()?;
    let acknowledged: Vec<automerge::ChangeHash> = contacts["relay_heads"]
        .as_str()
        .ok_or("A acknowledged nothing")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    assert!(!acknowledged.is_empty());

    // 3. A fresh lead's device, joining through B, is served every change A acknowledged.
    let second = Device::new(root.path(), "second-lead")?;
    join(&lead, &second, &group, "lead", &b)?;
    let mut served = automerge::AutoCommit::load(&second.document(&doc)?)?;
    for hash in &acknowledged {
        assert!(
            served.get_change_by_hash(hash).is_some(),
            "A acknowledged {hash}, and B does not have it"
        );
    }
    // 4. And the rest arrives through B.
    assert_eq!(canvasser.sync(&b)?["synced"], true);
    assert_eq!(second.sync(&b)?["synced"], true);
    let listed = second.run(&["contact", "list", &group, "--limit", "100"])?;
    assert_eq!(listed["total"], 30, "{listed}");
    Ok(())
}
