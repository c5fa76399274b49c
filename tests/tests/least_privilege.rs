//! Least privilege on a seized phone: a canvasser's device holds its group's name, its leads'
//! names, the officials the group asks, the meetings the group shows canvassers (title, time,
//! place, status) and its own contacts; not the membership list, other canvassers' names,
//! agendas, notes, action items or meetings kept from canvassers. Checked by reading the
//! canvasser's store as an attacker with its key would: every table decrypted and every
//! document's whole history.

use groundwork_tests::{Device, Relay, Res, field, store_contains};

/// What must never reach a canvasser's phone.
const KEPT_FROM_CANVASSERS: &[&str] = &[
    "Marker-Member-Name",
    "Marker-Other-Canvasser",
    "Marker-Hidden-Meeting",
    "Marker-Agenda",
    "Marker-Notes",
    "Marker-Action",
    "Marker-Shown-Then-Hidden",
];

#[test]
fn a_canvassers_phone_holds_what_a_canvasser_needs_and_no_more() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "Lead-Ana")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Riverside Freedom City"])?,
        "group_id",
    )?;
    lead.run(&[
        "target", "add", &group, "--county", "06065", "--office", "sheriff",
    ])?;
    let hidden = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Marker-Hidden-Meeting",
        ])?,
        "meeting_id",
    )?;
    lead.run(&["meeting", "agenda", &hidden, "--add", "Marker-Agenda"])?;
    lead.run(&["meeting", "notes", &hidden, "--append", "Marker-Notes"])?;
    lead.run(&["action", "add", &group, "--title", "Marker-Action"])?;
    let kickoff = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Canvass kickoff",
            "--location",
            "Library steps",
            "--at",
            "2026-12-05T10:00:00Z",
        ])?,
        "meeting_id",
    )?;
    lead.run(&["meeting", "canvassers", &kickoff, "show"])?;
    let fleeting = field(
        &lead.run(&[
            "meeting",
            "create",
            &group,
            "--kind",
            "organizing",
            "--title",
            "Marker-Shown-Then-Hidden",
        ])?,
        "meeting_id",
    )?;
    lead.run(&["meeting", "canvassers", &fleeting, "show"])?;
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
    let member = Device::new(root.path(), "Marker-Member-Name")?;
    member.run(&["join", &invite("member")?])?;
    let other = Device::new(root.path(), "Marker-Other-Canvasser")?;
    other.run(&["join", &invite("canvasser")?])?;
    let canvasser = Device::new(root.path(), "Canvasser-One")?;
    canvasser.run(&["join", &invite("canvasser")?])?;
    canvasser.sync(&relay)?;
    // What the canvasser's device shows: the group, the leads, the official, the shown
    // meetings, with their time and place.
    let groups = canvasser.run(&["group", "list"])?;
    assert_eq!(groups[0]["name"], "Riverside Freedom City", "{groups}");
    assert_eq!(groups[0]["role"], "canvasser", "{groups}");
    let members = canvasser.run(&["member", "list", &group])?;
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{members}");
    assert_eq!(members[0]["name"], "Lead-Ana", "{members}");
    assert_eq!(members[0]["role"], "lead", "{members}");
    let targets = canvasser.run(&["target", "list", &group])?.to_string();
    assert!(targets.contains("Sheriff"), "{targets}");
    let meetings = canvasser.run(&["meeting", "list", &group])?.to_string();
    assert!(
        meetings.contains("Canvass kickoff") && meetings.contains("Library steps"),
        "{meetings}"
    );
    assert!(meetings.contains("Marker-Shown-Then-Hidden"), "{meetings}");
    // A meeting hidden again leaves the phone at its next sync, history and all: the relay
    // wrote a fresh brief and the device dropped the old one.
    lead.run(&["meeting", "canvassers", &fleeting, "hide"])?;
    lead.sync(&relay)?;
    canvasser.run(&[
        "contact", "log", &group, "--result", "talked", "--note", "Own note",
    ])?;
    canvasser.sync(&relay)?;
    let meetings = canvasser.run(&["meeting", "list", &group])?.to_string();
    assert!(!meetings.contains("Marker-Shown-Then-Hidden"), "{meetings}");
    assert!(meetings.contains("Canvass kickoff"), "{meetings}");
    assert!(
        store_contains(&canvasser.dir, "Own note")?,
        "the scan finds nothing at all"
    );
    for marker in KEPT_FROM_CANVASSERS {
        assert!(
            !store_contains(&canvasser.dir, marker)?,
            "{marker} is on the canvasser's phone"
        );
    }
    // The member's device holds the roster and the plan, as it needs them.
    member.sync(&relay)?;
    assert!(store_contains(&member.dir, "Marker-Other-Canvasser")?);
    assert!(store_contains(&member.dir, "Marker-Notes")?);
    // A canvasser may not ask for the plan or the roster: the relay answers them as missing,
    // and `member list` keeps to the leads.
    let plan = canvasser.cmd(&["meeting", "show", &hidden])?;
    assert!(
        !plan.status.success(),
        "a canvasser's device showed a hidden meeting"
    );
    Ok(())
}
