//! Several relay nodes on one PostgreSQL database (a throw-away cluster this test starts): real
//! relay processes, real `groundwork` devices, each device talking to one node. What one node
//! takes reaches the devices of another as it happens; access is shared (a removal on one node
//! cuts the device off on another, a nonce used on one is refused on another); and the faults
//! of a cluster (a listener's connection killed, a transaction that commits after a later one,
//! a node SIGKILLed mid-burst, the database stopped at once) lose nothing acknowledged.

use groundwork_core::time::now_ms;
use groundwork_tests::pg::Cluster;
use groundwork_tests::{Device, Relay, Res, RunningSync, field};

/// A relay node on the database at `url`, with a data directory of its own (which it leaves
/// empty: everything is in the database).
fn node(root: &std::path::Path, name: &str, url: &str) -> Res<Relay> {
    Relay::options(&root.join(name))
        .arg("--database")
        .arg(url)
        .start()
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

/// `device` joins `group` through `relay` with a new invite of `lead`'s.
fn join(lead: &Device, device: &Device, group: &str, role: &str, relay: &Relay) -> Res<()> {
    let code = field(
        &lead.run(&["invite", "create", group, "--role", role])?,
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
    let (a, b, c) = (
        node(root.path(), "a", &url)?,
        node(root.path(), "b", &url)?,
        node(root.path(), "c", &url)?,
    );
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
    let proof = lead.identity()?.connect_proof(now_ms())?.to_query();
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
