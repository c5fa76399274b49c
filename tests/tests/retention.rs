//! Retention that erases: a lead's setting (months of contacts kept) drops whole contacts
//! documents of older months on the relay and on every device, after exporting them if the
//! lead asks; afterwards no store holds their bytes, read as an attacker with the key would
//! read it (every table decrypted, every document's history decoded), and the files hold no
//! free pages where they could linger.

use groundwork_tests::{Device, Relay, Res, field, relay_contains, relay_db, store_contains};

/// How many contacts documents the relay holds.
fn relay_contacts_docs(relay: &Relay) -> Res<i64> {
    Ok(relay_db(&relay.data)?.query_row(
        "SELECT COUNT(*) FROM documents WHERE kind = 'contacts'",
        [],
        |r| r.get(0),
    )?)
}

#[test]
fn a_groups_retention_erases_older_months_everywhere() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "lead")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Keeps a year"])?,
        "group_id",
    )?;
    lead.sync(&relay)?;
    let invite = |role: &str| -> Res<String> {
        field(
            &lead.run(&[
                "invite",
                "create",
                &group,
                "--role",
                role,
                "--relay",
                &relay.url(),
            ])?,
            "link",
        )
    };
    let canvasser = Device::new(root.path(), "canvasser")?;
    canvasser.run(&["join", &invite("canvasser")?])?;
    let late = Device::new(root.path(), "late")?;
    late.run(&["join", &invite("canvasser")?])?;
    let member = Device::new(root.path(), "member")?;
    member.run(&["join", &invite("member")?])?;

    // Contacts of this month and of two old ones (typed in from paper, dated).
    let log = |d: &Device, at: Option<&str>, name: &str| -> Res<()> {
        let mut args = vec![
            "contact",
            "log",
            &group,
            "--result",
            "talked",
            "--consent",
            "--name",
            name,
            "--note",
            name,
        ];
        if let Some(at) = at {
            args.extend(["--at", at]);
        }
        d.run(&args)?;
        Ok(())
    };
    log(&canvasser, None, "Marker-Kept-Now")?;
    log(&canvasser, Some("2025-06-14T10:00:00Z"), "Marker-Old-June")?;
    log(
        &canvasser,
        Some("2024-01-20T10:00:00Z"),
        "Marker-Old-January",
    )?;
    canvasser.sync(&relay)?;
    lead.sync(&relay)?;
    assert_eq!(relay_contacts_docs(&relay)?, 3);
    assert!(store_contains(&lead.dir, "Marker-Old-June")?);
    // The late canvasser logs an old contact and stays offline through what follows.
    log(&late, Some("2024-03-02T10:00:00Z"), "Marker-Late-Old")?;

    // A member may not choose; the lead keeps 12 months, exporting what goes first.
    let refused = member.refused(&["group", "retention", &group, "12"])?;
    assert!(refused.contains("lead"), "{refused}");
    let export = root.path().join("old-contacts.csv");
    let set = lead.run(&[
        "group",
        "retention",
        &group,
        "12",
        "--export",
        &export.to_string_lossy(),
    ])?;
    assert_eq!(set["exported"], 2, "{set}");
    let csv = std::fs::read_to_string(&export)?;
    assert!(
        csv.contains("Marker-Old-June") && csv.contains("Marker-Old-January"),
        "{csv}"
    );
    assert!(!csv.contains("Marker-Kept-Now"), "{csv}");
    // Erased on the lead's device at once.
    let listed = lead.run(&["contact", "list", &group])?.to_string();
    assert!(
        listed.contains("Marker-Kept-Now") && !listed.contains("Marker-Old"),
        "{listed}"
    );

    // The relay erases as the setting reaches it, and compacts its files.
    lead.sync(&relay)?;
    assert_eq!(relay_contacts_docs(&relay)?, 1);
    let free: i64 = relay_db(&relay.data)?.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    assert_eq!(
        free, 0,
        "the relay's file keeps free pages where erased bytes could linger"
    );

    // The canvasser erases its own as the brief brings the setting; its sync settles.
    assert_eq!(canvasser.sync(&relay)?["synced"], true);
    // The late one: the relay refuses its old month, and the device erases it itself.
    assert_eq!(late.sync(&relay)?["synced"], true);
    assert_eq!(relay_contacts_docs(&relay)?, 1);

    for marker in ["Marker-Old-June", "Marker-Old-January", "Marker-Late-Old"] {
        assert!(
            !relay_contains(&relay.data, marker)?,
            "{marker} on the relay"
        );
        for d in [&lead, &canvasser, &late, &member] {
            assert!(
                !store_contains(&d.dir, marker)?,
                "{marker} on {}",
                d.dir.display()
            );
        }
    }
    assert!(store_contains(&canvasser.dir, "Marker-Kept-Now")?);
    assert!(store_contains(&lead.dir, "Marker-Kept-Now")?);
    assert!(relay_contains(&relay.data, "Marker-Kept-Now")?);
    // A bad setting is named.
    let bad = lead.refused(&["group", "retention", &group, "0"])?;
    assert!(bad.contains("outside 1 to 120"), "{bad}");
    let bad = lead.refused(&["group", "retention", &group, "a year"])?;
    assert!(bad.contains("not a number of months"), "{bad}");
    Ok(())
}
