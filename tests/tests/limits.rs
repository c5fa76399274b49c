//! The documented limits (README, "Limits"), at and past them: a group at its largest member
//! count syncs, and the next invite is refused by name; a plan grown to near the largest
//! document size syncs to another device, and the edit that would pass it is refused by name
//! with nothing saved lost.

use groundwork_core::store::MAX_DOCUMENT_BYTES;
use groundwork_tests::{Device, Relay, Res, cli_key, field};

#[test]
fn a_group_at_its_largest_syncs_and_the_next_invite_is_refused() -> Res<()> {
    // The relay's figure is 500 member devices (DEFAULT_MAX_GROUP_MEMBERS); CI holds it to a
    // smaller one set the same way, so that it runs in seconds.
    // `GROUNDWORK_LIMITS_MEMBERS=500 cargo test -p groundwork-tests --test limits` runs the
    // documented figure.
    let max: usize = std::env::var("GROUNDWORK_LIMITS_MEMBERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let root = tempfile::tempdir()?;
    let relay = Relay::options(&root.path().join("relay"))
        .arg("--max-group-members")
        .arg(max.to_string())
        // Every device of the test comes from one loopback address.
        .arg("--redemptions-per-minute")
        .arg("0")
        .arg("--handshakes-per-minute")
        .arg("0")
        .start()?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Full house"])?,
        "group_id",
    )?;
    lead.sync(&relay)?;
    let invite = || -> Res<String> {
        field(
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
        )
    };
    let mut members = Vec::new();
    let mut joins = Vec::new();
    for i in 1..max {
        let d = Device::new(root.path(), &format!("member-{i}"))?;
        let link = invite()?;
        let started = std::time::Instant::now();
        d.run(&["join", &link])?;
        joins.push(started.elapsed());
        members.push(d);
    }
    println!(
        "{max} member devices: the 2nd join took {:?}, the last {:?}",
        joins.first(),
        joins.last()
    );
    let late = Device::new(root.path(), "late")?;
    let refused = late.refused(&["join", &invite()?])?;
    assert!(
        refused.contains(&format!("the group has {max} member devices")),
        "the refusal names the limit: {refused}"
    );

    // At the limit everything syncs: the lead's meeting reaches every member, and every
    // member sees the whole roster.
    lead.run(&[
        "meeting",
        "create",
        &group,
        "--kind",
        "organizing",
        "--title",
        "Everyone's here",
    ])?;
    lead.sync(&relay)?;
    for m in &members {
        m.sync(&relay)?;
        let meetings = m.run(&["meeting", "list", &group])?;
        assert!(
            meetings.to_string().contains("Everyone's here"),
            "{meetings}"
        );
        let roster = m.run(&["member", "list", &group])?;
        assert_eq!(
            roster.as_array().map(Vec::len),
            Some(max),
            "every member device on the roster: {roster}"
        );
    }

    // A removal makes room, and the late device joins.
    let gone = members.pop().ok_or("no members")?;
    lead.run(&["member", "remove", &group, &gone.id()?])?;
    late.run(&["join", &invite()?])?;
    late.sync(&relay)?;
    Ok(())
}

#[test]
fn a_plan_near_the_largest_size_syncs_and_the_edit_past_it_is_refused() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Long minutes"])?,
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
            "Marathon",
        ])?,
        "meeting_id",
    )?;
    lead.sync(&relay)?;
    let member = Device::new(root.path(), "member")?;
    member.run(&[
        "join",
        &field(
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
        )?,
    ])?;

    // Notes of text that compresses little. The first piece measures how many bytes a
    // character costs stored; one piece then brings the plan to 95% of the limit, and the
    // next, of a tenth of the limit, must be refused.
    let mut device = groundwork_core::Device::open(&lead.dir, &cli_key(&lead.dir))?;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut piece = |len: usize| -> String {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b' ' + (seed % 95) as u8)
            })
            .collect()
    };
    let empty = plan_bytes(&lead.dir)?;
    let first = 64 * 1024;
    device.append_notes(&meeting, &piece(first))?;
    let per_char = (plan_bytes(&lead.dir)? - empty) as f64 / first as f64;
    let room = (MAX_DOCUMENT_BYTES as f64 * 0.95 - plan_bytes(&lead.dir)? as f64) / per_char;
    device.append_notes(&meeting, &piece(room as usize))?;
    let stored = plan_bytes(&lead.dir)?;
    let before = device.meeting(&meeting)?.notes.as_str().to_owned();
    let past = (MAX_DOCUMENT_BYTES as f64 * 0.1 / per_char) as usize;
    let refusal = match device.append_notes(&meeting, &piece(past)) {
        Ok(()) => {
            return Err(format!("an edit past the limit was taken ({stored} bytes before)").into());
        }
        Err(e) => e,
    };
    let message = refusal.to_string();
    assert!(
        matches!(refusal, groundwork_core::Error::DocumentTooLarge { limit, .. } if limit == MAX_DOCUMENT_BYTES),
        "refused by name: {message}"
    );
    assert!(
        message.contains("nothing was saved"),
        "says nothing was saved: {message}"
    );
    assert_eq!(
        device.meeting(&meeting)?.notes.as_str(),
        before,
        "the refused edit left no trace"
    );
    assert_eq!(plan_bytes(&lead.dir)?, stored, "nor any bytes");
    println!(
        "plan: {} characters of notes, {stored} bytes stored, limit {MAX_DOCUMENT_BYTES}",
        before.chars().count()
    );
    assert!(
        stored * 100 >= MAX_DOCUMENT_BYTES * 90,
        "the plan is near the limit: {stored} bytes"
    );
    // A small edit that fits still goes in.
    device.append_notes(&meeting, "Adjourned.")?;
    let ours = device.meeting(&meeting)?.notes.as_str().to_owned();
    drop(device);

    // It syncs whole to another device.
    lead.sync(&relay)?;
    member.sync(&relay)?;
    let theirs = member.run(&["meeting", "show", &meeting])?;
    assert_eq!(
        theirs["notes"].as_str(),
        Some(ours.as_str()),
        "the member's notes are the lead's"
    );
    Ok(())
}

/// The bytes a device stores of its groups' plans.
fn plan_bytes(dir: &std::path::Path) -> Res<u64> {
    let conn = groundwork_core::store::connect_raw(
        &dir.join(groundwork_core::store::STORE_FILE),
        &cli_key(dir),
    )?;
    Ok(conn
        .query_row(
            "SELECT COALESCE(SUM(length(bytes)), 0) FROM chunks c \
             JOIN documents d ON d.doc_id = c.doc_id WHERE d.kind = 'plan'",
            [],
            |r| r.get::<_, i64>(0),
        )?
        .unsigned_abs())
}
