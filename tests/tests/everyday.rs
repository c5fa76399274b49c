//! Everyday use as a new user meets it, through the real CLI and the real relay: a link alone
//! joins a group, a device remembers its relay, a link pointed elsewhere is refused as forged,
//! a relay URL without its path is answered with the right one, and a sync shows progress.

use std::net::TcpListener;
use std::process::Command;

use groundwork_core::identity::{Invite, join_link};
use groundwork_tests::{Device, Relay, Res, bin, field};
use serde_json::Value;

type TestResult = Res<()>;

/// A command of `device` without `--json`, as a person types it; GROUNDWORK_RELAY unset.
fn typed(device: &Device, args: &[&str]) -> Res<std::process::Output> {
    Ok(Command::new(bin("groundwork"))
        .arg("--data")
        .arg(&device.dir)
        .args(args)
        .env_remove("GROUNDWORK_RELAY")
        .output()?)
}

/// `code` re-signed by nobody: the same invite with its relay changed.
fn redirected(code: &str, relay: &str) -> Res<String> {
    let mut invite = Invite::verify_code(code)?;
    invite.relay = Some(relay.to_owned());
    let payload = serde_json::to_vec(&invite)?;
    let sig = code.rsplit('.').next().ok_or("no signature")?;
    Ok(join_link(&format!(
        "gw1.{}.{sig}",
        bs58::encode(payload).into_string()
    )))
}

#[test]
fn a_link_alone_joins_and_the_relay_is_remembered_by_every_command() -> TestResult {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let url = relay.url();
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Riverside"])?,
        "group_id",
    )?;
    // The first sync names the relay; from then on the device knows it.
    lead.run(&["sync", "--relay", &url, "--once"])?;
    let invite = lead.run(&["invite", "create", &group, "--role", "member"])?;
    assert_eq!(
        invite["relay"],
        url.as_str(),
        "the invite carries the relay"
    );
    let link = field(&invite, "link")?;

    // 1. A new device joins with the link and nothing else.
    let member = Device::new(root.path(), "member")?;
    let out = typed(&member, &["join", &link, "--json"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let joined: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        (joined["group_id"].as_str(), joined["relay"].as_str()),
        (Some(group.as_str()), Some(url.as_str()))
    );
    assert_eq!(joined["synced"], true);

    // 2. Every command that talks to the relay finds it: sync, token.
    let out = typed(&member, &["sync", "--once", "--json"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let synced: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(synced["relay"], url.as_str());
    let out = typed(&member, &["token", &group, "--json"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 3. GROUNDWORK_RELAY and --relay override what is remembered (here, to a closed port).
    let closed = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let elsewhere = format!("ws://{closed}/v1/sync");
    let out = Command::new(bin("groundwork"))
        .arg("--data")
        .arg(&member.dir)
        .args(["sync", "--once", "--timeout", "5"])
        .env("GROUNDWORK_RELAY", &elsewhere)
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&closed.to_string()));
    let out = Command::new(bin("groundwork"))
        .arg("--data")
        .arg(&member.dir)
        .args(["sync", "--once", "--relay", &url])
        .env("GROUNDWORK_RELAY", &elsewhere)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // 4. A URL without the sync path is answered with the right one, and not remembered.
    let bare = format!("ws://{}", relay.addr);
    let out = typed(&member, &["sync", "--once", "--relay", &bare])?;
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("no sync endpoint at {bare}; the relay's is {url}")),
        "{said}"
    );
    assert!(typed(&member, &["sync", "--once"])?.status.success());

    // 5. The lead removes the member without naming the relay; the member's next sync wipes.
    let member_id = member.id()?;
    let out = typed(&lead, &["member", "remove", &group, &member_id])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = typed(&member, &["sync", "--once", "--json"])?;
    let wiped: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(wiped["wiped"][0], group.as_str(), "{wiped}");
    Ok(())
}

#[test]
fn a_link_pointed_at_another_relay_is_refused_as_forged_before_anything_is_dialled() -> TestResult {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(&lead.run(&["group", "create", "--name", "G"])?, "group_id")?;
    lead.run(&["sync", "--relay", &relay.url(), "--once"])?;
    let code = field(
        &lead.run(&["invite", "create", &group, "--role", "member"])?,
        "code",
    )?;
    // Someone rewrites the link to send the joiner to their own server.
    let trap = TcpListener::bind("127.0.0.1:0")?;
    trap.set_nonblocking(true)?;
    let forged = redirected(&code, &format!("ws://{}/v1/sync", trap.local_addr()?))?;
    let joiner = Device::new(root.path(), "joiner")?;
    let err = joiner.refused(&["join", &forged])?;
    assert!(err.contains("forged or altered"), "{err}");
    assert!(
        matches!(trap.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the joiner dialled the forged relay"
    );
    assert!(
        joiner
            .run(&["group", "list"])?
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    // The genuine link still works.
    joiner.run(&["join", &join_link(&code)])?;
    Ok(())
}

#[test]
fn a_device_with_no_relay_to_go_by_is_told_to_name_one() -> TestResult {
    let root = tempfile::tempdir()?;
    // A lead that never synced signs an invite with no relay in it (as invites were before).
    let lead = Device::new(root.path(), "lead")?;
    let group = field(&lead.run(&["group", "create", "--name", "G"])?, "group_id")?;
    let invite = lead.run(&["invite", "create", &group, "--role", "member"])?;
    assert_eq!(invite["relay"], Value::Null);
    let joiner = Device::new(root.path(), "joiner")?;
    for args in [
        &["join", invite["link"].as_str().unwrap_or_default()][..],
        &["sync", "--once"],
    ] {
        let out = typed(&joiner, args)?;
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--relay URL") && err.contains("GROUNDWORK_RELAY"),
            "{err}"
        );
    }
    // The old spelling still works: the code and --relay.
    let relay = Relay::start(&root.path().join("relay"))?;
    lead.run(&["sync", "--relay", &relay.url(), "--once"])?;
    joiner.run(&["join", &field(&invite, "code")?, "--relay", &relay.url()])?;
    Ok(())
}

#[test]
fn a_sync_shows_its_progress_on_stderr_but_not_with_json() -> TestResult {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(&lead.run(&["group", "create", "--name", "G"])?, "group_id")?;
    for _ in 0..5 {
        lead.run(&["contact", "log", &group, "--result", "not-home"])?;
    }
    let out = typed(&lead, &["sync", "--relay", &relay.url(), "--once"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr)?;
    // Not a terminal: plain lines, the last one saying everything is done.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("syncing: "))
        .collect();
    let last = lines
        .last()
        .ok_or_else(|| format!("no progress in {stderr:?}"))?;
    assert!(last.starts_with("syncing: 3 of 3 documents, "), "{last}");
    assert!(
        last.contains(" received, ") && last.ends_with(" sent"),
        "{last}"
    );
    assert!(
        !stderr.contains('\r'),
        "a redrawn line where no terminal is"
    );
    let stdout = String::from_utf8(out.stdout)?;
    assert!(stdout.starts_with("synced 3 documents"), "{stdout}");
    // With --json: the one JSON value, and no progress.
    let out = typed(&lead, &["sync", "--once", "--json"])?;
    assert!(out.status.success());
    assert!(!String::from_utf8(out.stderr)?.contains("syncing:"));
    serde_json::from_slice::<Value>(&out.stdout)?;
    Ok(())
}

#[test]
fn a_link_to_another_relay_cannot_move_a_device_that_has_groups() -> TestResult {
    let root = tempfile::tempdir()?;
    let home = Relay::start(&root.path().join("home"))?;
    let other = Relay::start(&root.path().join("other"))?;
    // A device with a group on its home relay.
    let device = Device::new(root.path(), "device")?;
    let mine = field(
        &device.run(&["group", "create", "--name", "Mine"])?,
        "group_id",
    )?;
    device.run(&["sync", "--relay", &home.url(), "--once"])?;
    // A group elsewhere invites it with a link naming the other relay.
    let lead = Device::new(root.path(), "lead")?;
    let theirs = field(
        &lead.run(&["group", "create", "--name", "Theirs"])?,
        "group_id",
    )?;
    lead.run(&["sync", "--relay", &other.url(), "--once"])?;
    let link = field(
        &lead.run(&["invite", "create", &theirs, "--role", "member"])?,
        "link",
    )?;
    // Following the link would send "Mine" to the other relay: refused, nothing changes.
    let err = device.refused(&["join", &link])?;
    assert!(err.contains("a device syncs with one relay"), "{err}");
    let groups = device.run(&["group", "list"])?;
    assert_eq!(groups.as_array().map(Vec::len), Some(1));
    assert_eq!(groups[0]["group_id"], mine.as_str());
    assert_eq!(
        device.run(&["sync", "--once"])?["relay"],
        home.url().as_str()
    );
    // A device of its own joins with the same link.
    let fresh = Device::new(root.path(), "fresh")?;
    fresh.run(&["join", &link])?;
    Ok(())
}

#[test]
fn the_relay_says_where_to_go_and_its_front_page_links_there() -> TestResult {
    use std::io::{BufRead, BufReader};
    let root = tempfile::tempdir()?;
    let mut child = Command::new(bin("groundwork-relay"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(root.path().join("relay"))
        .env("GROUNDWORK_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .take(5)
        .collect::<Result<_, _>>()?;
    let result = (|| -> TestResult {
        let addr = lines[0]
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("first line {:?}", lines[0]))?;
        assert_eq!(lines[1], format!("devices sync at ws://{addr}/v1/sync"));
        assert_eq!(
            lines[2],
            format!("the campaign dashboard (staff): http://{addr}/campaign")
        );
        assert_eq!(
            lines[3],
            format!("the public map of meetings: http://{addr}/map")
        );
        assert_eq!(lines[4], format!("this relay's front page: http://{addr}/"));
        let (status, body) = groundwork_tests::http_get(addr, "/")?;
        assert_eq!(status, 200, "{body}");
        for link in [
            "href=\"/map\"",
            "href=\"/campaign\"",
            "href=\"/map/meetings.ics\"",
        ] {
            assert!(body.contains(link), "{link} missing from {body}");
        }
        assert!(body.contains(&format!("ws://{addr}/v1/sync")), "{body}");
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
