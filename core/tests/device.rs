//! The device store end to end: edits, the index and its rebuild, bad input, damaged files.

use std::path::Path;

use groundwork_core::rules::RuleCode;
use groundwork_core::schema::contacts::NewContact;
use groundwork_core::schema::plan::{NewAction, NewMeeting, NewResponse, NewTarget};
use groundwork_core::schema::vocab::{
    ContactResult, ExistingPolicy, Interest, Level, MeetingKind, MeetingStatus, Position,
};
use groundwork_core::store::index::ContactQuery;
use groundwork_core::store::{STORE_FILE, StoreKey};
use groundwork_core::{Device, Error};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The key of every store these tests make.
fn key() -> StoreKey {
    StoreKey::from_bytes([7; 32])
}

struct Fixture {
    dir: tempfile::TempDir,
    device: Device,
    group: String,
    target: String,
    meeting: String,
}

/// A device with one group, one target and one official meeting.
fn fixture() -> Result<Fixture, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut device = Device::init(dir.path(), "Test device", &key())?;
    let group = device.create_group("Riverside Freedom City", Some("Riverside County".into()))?;
    let target = device.add_target(
        &group,
        NewTarget {
            name: "Sheriff Example".into(),
            title: "Sheriff".into(),
            agency: Some("Riverside County Sheriff's Office".into()),
            jurisdiction: Some("Riverside County".into()),
            level: Some(Level::County),
            ..Default::default()
        },
    )?;
    let meeting = device.create_meeting(
        &group,
        NewMeeting {
            kind: MeetingKind::Official,
            title: "Ask the sheriff".into(),
            target: Some(target.clone()),
            at: Some(1_796_000_000_000),
            location: Some("County building".into()),
        },
    )?;
    Ok(Fixture {
        dir,
        device,
        group,
        target,
        meeting,
    })
}

fn contact(i: usize) -> NewContact {
    let results = ContactResult::ALL;
    let mut c = NewContact::new(results[i % results.len()]);
    c.support = Some((i % 5) as u8 + 1);
    c.place = Some(format!("Turf {}", i % 7));
    c.note = Some(format!("note {i}"));
    if i.is_multiple_of(3) {
        c.consent = true;
        c.name = Some(format!("Person {i}"));
        c.interests = vec![Interest::Attend, Interest::Volunteer];
    }
    c
}

fn chunk_count(path: &Path) -> Result<i64, Box<dyn std::error::Error>> {
    let conn = groundwork_core::store::connect_raw(path, &key())?;
    Ok(conn.query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get(0))?)
}

#[test]
fn every_edit_is_indexed_and_a_rebuild_from_the_documents_matches() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        target,
        meeting,
    } = fixture()?;
    device.add_agenda_item(&meeting, "Two questions")?;
    device.add_agenda_item(&meeting, "Ask about R1 and R6")?;
    device.append_notes(&meeting, "Arrived early.")?;
    device.set_meeting_status(&meeting, MeetingStatus::Held)?;
    let action = device.add_action(
        &group,
        NewAction {
            title: "Send thank-you letter".into(),
            assignee: Some("Ana".into()),
            due: Some("2026-12-05".into()),
        },
    )?;
    device.set_action_done(&action, true)?;
    for (rule, position) in [
        (RuleCode::R1, Position::WillSupport),
        (RuleCode::R6, Position::SupportsWithChanges),
        (RuleCode::R1373, Position::Opposes),
    ] {
        device.record_response(
            &group,
            NewResponse {
                target: target.clone(),
                rule,
                existing: ExistingPolicy::Partial,
                position,
                conditions: Some("would sign if 'shall' read 'should'".into()),
                legal_basis: None,
                meeting: Some(meeting.clone()),
            },
        )?;
    }
    for i in 0..120 {
        device.log_contact(&group, contact(i))?;
    }

    let scorecard = device.scorecard(&group, None)?;
    assert_eq!(scorecard.len(), RuleCode::ALL.len());
    let r6 = scorecard
        .iter()
        .find(|r| r.rule == RuleCode::R6)
        .ok_or("no R6 row")?;
    assert_eq!(r6.position, Some(Position::SupportsWithChanges));
    assert_eq!(device.contact_count(&group)?, 120);
    assert_eq!(device.meetings(&group)?[0].agenda_items, 2);
    assert!(device.actions(&group)?[0].done);

    let incremental = device.index_dump()?;
    device.rebuild_index()?;
    assert_eq!(device.index_dump()?, incremental);

    // The same after compaction and a cold reopen.
    drop(device);
    let mut device = Device::open(dir.path(), &key())?;
    device.compact_all()?;
    assert_eq!(chunk_count(&dir.path().join(STORE_FILE))?, 2);
    device.rebuild_index()?;
    assert_eq!(device.index_dump()?, incremental);
    let notes = device.meeting(&meeting)?.notes;
    assert_eq!(notes.as_str(), "Arrived early.");
    Ok(())
}

#[test]
fn contacts_page_newest_first_and_filter_by_result() -> TestResult {
    let Fixture {
        mut device, group, ..
    } = fixture()?;
    let mut ids = Vec::new();
    for i in 0..130 {
        ids.push(device.log_contact(&group, contact(i))?);
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = device.contacts(
            &group,
            &ContactQuery {
                result: None,
                limit: 50,
                after: after.clone(),
            },
        )?;
        let Some(last) = page.last() else { break };
        after = Some(last.contact_id.clone());
        seen.extend(page.iter().map(|c| (c.at, c.contact_id.clone())));
    }
    assert_eq!(seen.len(), 130);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "pages are newest first with no gaps");
    let refused = device.contacts(
        &group,
        &ContactQuery {
            result: Some(ContactResult::Refused),
            limit: 500,
            after: None,
        },
    )?;
    assert_eq!(refused.len(), (0..130usize).filter(|i| i % 8 == 2).count());
    assert!(refused.iter().all(|c| c.result == ContactResult::Refused));
    Ok(())
}

#[test]
fn bad_input_is_refused_by_name_and_nothing_saved_changes() -> TestResult {
    let Fixture {
        mut device,
        group,
        target,
        meeting,
        ..
    } = fixture()?;
    device.log_contact(&group, contact(1))?;
    let before = device.index_dump()?;
    let plan_before = device.plan(&group)?;

    let mut errors = vec!["R10".parse::<RuleCode>().map(|_| ())];
    errors.push("maybe".parse::<Position>().map(|_| ()));
    errors.push(groundwork_core::time::parse_rfc3339("next tuesday").map(|_| ()));
    errors.push(
        device
            .add_target("no-such-group", NewTarget::default())
            .map(|_| ()),
    );
    errors.push(
        device
            .add_target(
                &group,
                NewTarget {
                    name: " ".into(),
                    title: "Sheriff".into(),
                    ..NewTarget::default()
                },
            )
            .map(|_| ()),
    );
    errors.push(
        device
            .create_meeting(
                &group,
                NewMeeting {
                    kind: MeetingKind::Official,
                    title: "No target".into(),
                    target: None,
                    at: None,
                    location: None,
                },
            )
            .map(|_| ()),
    );
    errors.push(device.add_agenda_item("no-such-meeting", "x").map(|_| ()));
    errors.push(device.set_action_done("no-such-action", true));
    errors.push(device.record_response(
        &group,
        NewResponse {
            target: "no-such-target".into(),
            rule: RuleCode::R1,
            existing: ExistingPolicy::None,
            position: Position::Opposes,
            conditions: None,
            legal_basis: None,
            meeting: Some(meeting.clone()),
        },
    ));
    errors.push(
        device
            .add_action(
                &group,
                NewAction {
                    title: "Due someday".into(),
                    assignee: None,
                    due: Some("someday".into()),
                },
            )
            .map(|_| ()),
    );
    let mut no_consent = contact(2);
    no_consent.name = Some("Someone".into());
    no_consent.consent = false;
    errors.push(device.log_contact(&group, no_consent).map(|_| ()));
    let mut too_high = contact(2);
    too_high.support = Some(6);
    errors.push(device.log_contact(&group, too_high).map(|_| ()));
    errors.push(device.log_contact("no-such-group", contact(3)).map(|_| ()));
    errors.push(device.scorecard(&group, Some("no-such-target")).map(|_| ()));

    let messages: Vec<String> = errors
        .into_iter()
        .map(|r| r.err().map(|e| e.to_string()).unwrap_or_default())
        .collect();
    let expected = [
        "invalid rule code \"R10\"",
        "invalid position \"maybe\"",
        "\"next tuesday\" is not an RFC 3339 time",
        "no group with id \"no-such-group\"",
        "invalid target name: it is empty",
        "an official meeting needs a target",
        "no meeting with id \"no-such-meeting\"",
        "no action item with id \"no-such-action\"",
        "no target with id \"no-such-target\"",
        "\"someday\" is not a date",
        "only be recorded with the person's consent",
        "invalid support level: 6 is outside 1 to 5",
        "no group with id \"no-such-group\"",
        "no target with id \"no-such-target\"",
    ];
    assert_eq!(messages.len(), expected.len());
    for (message, expected) in messages.iter().zip(expected) {
        assert!(
            message.contains(expected),
            "{message:?} should say {expected:?}"
        );
    }
    assert_eq!(device.index_dump()?, before);
    assert_eq!(device.plan(&group)?, plan_before);
    assert_eq!(device.targets(&group)?[0].target_id, target);
    Ok(())
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_untouched() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(STORE_FILE);
    let garbage = b"this is not a database, and it must not be overwritten".repeat(100);
    std::fs::write(&path, &garbage)?;
    let err = Device::open(dir.path(), &key())
        .err()
        .ok_or("opened garbage")?;
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot be opened with this key"),
        "{err}"
    );
    let err = Device::init(dir.path(), "x", &key())
        .err()
        .ok_or("init over garbage")?;
    assert!(matches!(err, Error::AlreadyInitialized { .. }), "{err}");
    assert_eq!(std::fs::read(&path)?, garbage);

    let empty = tempfile::tempdir()?;
    let err = Device::open(empty.path(), &key())
        .err()
        .ok_or("opened nothing")?;
    assert!(err.to_string().contains("run `groundwork init"), "{err}");
    Ok(())
}

#[test]
fn a_truncated_store_is_refused_and_left_untouched() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        ..
    } = fixture()?;
    for i in 0..300 {
        device.log_contact(&group, contact(i))?;
    }
    drop(device);
    // Fold the WAL into the main file, as a checkpoint does, then cut the file in half.
    let path = dir.path().join(STORE_FILE);
    groundwork_core::store::connect_raw(&path, &key())?.pragma_update(
        None,
        "wal_checkpoint",
        "TRUNCATE",
    )?;
    let len = std::fs::metadata(&path)?.len();
    let file = std::fs::OpenOptions::new().write(true).open(&path)?;
    file.set_len(len / 2)?;
    drop(file);
    let truncated = std::fs::read(&path)?;
    let err = Device::open(dir.path(), &key())
        .err()
        .ok_or("opened a truncated store")?;
    assert!(matches!(err, Error::CorruptStore { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(std::fs::read(&path)?, truncated);
    Ok(())
}

#[test]
fn a_damaged_chunk_is_named_and_everything_else_keeps_working() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        ..
    } = fixture()?;
    let plan_doc = device.group(&group)?.plan_doc;
    for i in 0..5 {
        device.log_contact(&group, contact(i))?;
    }
    drop(device);
    let path = dir.path().join(STORE_FILE);
    let conn = groundwork_core::store::connect_raw(&path, &key())?;
    let (seq, mut bytes): (i64, Vec<u8>) = conn.query_row(
        "SELECT seq, bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq DESC LIMIT 1",
        [&plan_doc],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    bytes[middle + 1] ^= 0xff;
    conn.execute(
        "UPDATE chunks SET bytes = ?1 WHERE doc_id = ?2 AND seq = ?3",
        rusqlite::params![bytes, plan_doc, seq],
    )?;
    drop(conn);

    let mut device = Device::open(dir.path(), &key())?;
    let err = device.plan(&group).err().ok_or("loaded a damaged plan")?;
    match &err {
        Error::CorruptChunk { doc, seq: s, .. } => {
            assert_eq!(doc, &plan_doc);
            assert_eq!(*s, seq);
        }
        other => return Err(format!("expected CorruptChunk, got {other}").into()),
    }
    assert!(err.to_string().contains("left untouched"));
    // Queries read the index; the contacts document is unharmed and still takes edits.
    assert_eq!(device.targets(&group)?.len(), 1);
    device.log_contact(&group, contact(6))?;
    assert_eq!(device.contact_count(&group)?, 6);
    // A failed edit of the damaged plan stores nothing and keeps the damaged chunk for repair.
    assert!(device.add_target(&group, NewTarget::default()).is_err());
    let conn = groundwork_core::store::connect_raw(&path, &key())?;
    let kept: Vec<u8> = conn.query_row(
        "SELECT bytes FROM chunks WHERE doc_id = ?1 AND seq = ?2",
        rusqlite::params![plan_doc, seq],
        |r| r.get(0),
    )?;
    assert_eq!(kept, bytes);
    Ok(())
}

#[test]
fn two_handles_on_one_store_see_each_others_edits() -> TestResult {
    let Fixture {
        dir,
        device: mut a,
        group,
        meeting,
        ..
    } = fixture()?;
    let mut b = Device::open(dir.path(), &key())?;
    a.log_contact(&group, contact(1))?;
    b.log_contact(&group, contact(2))?;
    a.log_contact(&group, contact(3))?;
    a.append_notes(&meeting, "from a")?;
    b.append_notes(&meeting, "from b")?;
    a.add_agenda_item(&meeting, "item from a")?;
    assert_eq!(a.contact_count(&group)?, 3);
    assert_eq!(b.contact_count(&group)?, 3);
    assert_eq!(a.meeting(&meeting)?.notes.as_str(), "from a\nfrom b");
    assert_eq!(b.meeting(&meeting)?.agenda.len(), 1);
    let dump = a.index_dump()?;
    b.rebuild_index()?;
    assert_eq!(b.index_dump()?, dump);
    Ok(())
}

#[test]
fn background_compaction_keeps_every_contact() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        ..
    } = fixture()?;
    let n = 2 * groundwork_core::COMPACT_AFTER_CHUNKS as usize + 10;
    for i in 0..n {
        device.log_contact(&group, contact(i))?;
    }
    let dump = device.index_dump()?;
    drop(device); // joins the compaction thread
    let chunks = chunk_count(&dir.path().join(STORE_FILE))?;
    assert!(
        chunks < n as i64,
        "{chunks} chunks for {n} contacts: compaction did not run"
    );
    let mut device = Device::open(dir.path(), &key())?;
    device.rebuild_index()?;
    assert_eq!(device.index_dump()?, dump);
    assert_eq!(device.contact_count(&group)?, n as i64);
    Ok(())
}

#[test]
fn csv_export_has_a_row_per_contact() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        ..
    } = fixture()?;
    for i in 0..7 {
        device.log_contact(&group, contact(i))?;
    }
    let file = dir.path().join("out.csv");
    assert_eq!(device.export_contacts_csv(&group, &file)?, 7);
    let text = std::fs::read_to_string(&file)?;
    assert_eq!(text.lines().count(), 8);
    assert!(text.starts_with("contact_id,time,canvasser,canvasser_name,place,result"));
    // The canvasser by name too: here, this device's own.
    let name = &device.info().name;
    assert!(
        text.lines()
            .skip(1)
            .all(|l| l.contains(&format!(",{name},")))
    );
    assert!(text.contains("Person 3"));
    Ok(())
}

/// A spelling this build does not know (a newer build wrote the row) leaves that row out of
/// its list, never failing the list; the export of every contact refuses it, since an export
/// must be whole.
#[test]
fn an_index_row_with_an_unknown_spelling_is_left_out_of_lists() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        target,
        meeting,
    } = fixture()?;
    let second = device.add_target(
        &group,
        NewTarget {
            name: "Chief Example".into(),
            title: "Chief of Police".into(),
            level: Some(Level::City),
            ..Default::default()
        },
    )?;
    device.record_response(
        &group,
        NewResponse {
            target: target.clone(),
            rule: RuleCode::R1,
            existing: ExistingPolicy::Partial,
            position: Position::WillSupport,
            conditions: None,
            legal_basis: None,
            meeting: None,
        },
    )?;
    for i in 0..3 {
        device.log_contact(&group, contact(i))?;
    }
    let newest = device.contacts(&group, &ContactQuery::default())?[0]
        .contact_id
        .clone();
    let conn = groundwork_core::store::connect_raw(&dir.path().join(STORE_FILE), &key())?;
    conn.execute(
        "UPDATE idx_targets SET level = 'borough' WHERE target_id = ?1",
        [&second],
    )?;
    conn.execute("UPDATE idx_meetings SET status = 'postponed'", [])?;
    conn.execute("UPDATE idx_responses SET position = 'maybe'", [])?;
    conn.execute(
        "UPDATE idx_contacts SET result = 'door-hanger' WHERE contact_id = ?1",
        [&newest],
    )?;
    drop(conn);

    let targets = device.targets(&group)?;
    assert_eq!(
        targets
            .iter()
            .map(|t| t.target_id.as_str())
            .collect::<Vec<_>>(),
        [target.as_str()]
    );
    assert!(device.meetings(&group)?.is_empty(), "{meeting}");
    // The answer is unreadable: its cell reads as unanswered.
    let r1 = device.scorecard(&group, Some(&target))?;
    assert_eq!(r1.len(), RuleCode::ALL.len());
    assert_eq!(
        (r1[0].existing, r1[0].position),
        (ExistingPolicy::Unknown, None)
    );
    let contacts = device.contacts(&group, &ContactQuery::default())?;
    assert_eq!(contacts.len(), 2);
    assert!(contacts.iter().all(|c| c.contact_id != newest));
    // A page whose last row is left out still points past it.
    let page = device.contact_page(
        &group,
        &ContactQuery {
            limit: 1,
            ..ContactQuery::default()
        },
    )?;
    assert!(page.items.is_empty());
    assert_eq!(
        (page.next.as_deref(), page.total),
        (Some(newest.as_str()), 3)
    );
    let err = device
        .export_contacts_csv(&group, &dir.path().join("out.csv"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("door-hanger"), "{err}");
    Ok(())
}

#[test]
fn the_store_holds_no_plaintext_and_a_wrong_key_is_refused() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        ..
    } = fixture()?;
    // Made-up details, distinctive enough that finding them by chance is impossible.
    let name = "Quillon Vexmarrow";
    let note = "asked about the zephyrine clinic hours";
    let mut c = NewContact::new(ContactResult::Talked);
    c.consent = true;
    c.name = Some(name.into());
    c.note = Some(note.into());
    device.log_contact(&group, c)?;
    device.compact_all()?;
    drop(device);
    let path = dir.path().join(STORE_FILE);
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            files.push((suffix, bytes));
        }
    }
    assert!(!files.is_empty());
    for (suffix, bytes) in &files {
        for secret in [name, note, "Riverside Freedom City", "SQLite format 3"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret:?} is readable in groundwork.db{suffix}"
            );
        }
    }
    // The right key reads it back; a wrong key is refused by name, and nothing changes.
    let before = std::fs::read(&path)?;
    let err = Device::open(dir.path(), &StoreKey::from_bytes([8; 32]))
        .err()
        .ok_or("opened with a wrong key")?;
    assert!(matches!(err, Error::WrongKey { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot be opened with this key"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path)?, before);
    let device = Device::open(dir.path(), &key())?;
    let found = device.contacts(&group, &ContactQuery::default())?;
    assert!(found.iter().any(|c| c.name.as_deref() == Some(name)));
    Ok(())
}

#[test]
fn an_invite_refuses_a_bad_expiry_or_relay_by_name_and_carries_the_remembered_relay() -> TestResult
{
    let mut f = fixture()?;
    for valid_for in [0, -1, i64::MAX] {
        let err = f
            .device
            .create_invite(
                &f.group,
                groundwork_core::identity::Role::Member,
                1,
                valid_for,
                None,
            )
            .err()
            .ok_or("an invite with an impossible expiry was signed")?;
        assert!(err.to_string().contains("invite expiry"), "{err}");
    }
    let (invite, _) = f.device.create_invite(
        &f.group,
        groundwork_core::identity::Role::Member,
        1,
        3_600_000,
        None,
    )?;
    assert!(invite.expires_at > groundwork_core::time::now_ms());
    // A device that never reached a relay signs none in; one named is signed in and checked.
    assert_eq!(invite.relay, None);
    let (invite, _) = f.device.create_invite(
        &f.group,
        groundwork_core::identity::Role::Member,
        1,
        3_600_000,
        Some("ws://127.0.0.1:7878/v1/sync"),
    )?;
    assert_eq!(invite.relay.as_deref(), Some("ws://127.0.0.1:7878/v1/sync"));
    let err = f
        .device
        .create_invite(
            &f.group,
            groundwork_core::identity::Role::Member,
            1,
            3_600_000,
            Some("http://127.0.0.1:7878/v1/sync"),
        )
        .err()
        .ok_or("an invite naming a web address was signed")?;
    assert!(
        err.to_string().contains("ws://127.0.0.1:7878/v1/sync"),
        "{err}"
    );
    // The remembered relay: none yet, then the one remembered, which invites then carry.
    assert!(matches!(
        f.device.relay_or(None),
        Err(groundwork_core::Error::NoRelay)
    ));
    f.device.remember_relay("wss://relay.example.org/v1/sync")?;
    assert_eq!(f.device.relay_or(None)?, "wss://relay.example.org/v1/sync");
    // This device has a group: another relay is refused before anything is dialled, the same
    // relay at another form of its address is not, nor an address the relay named as its own.
    assert!(matches!(
        f.device.relay_or(Some("ws://other:1/v1/sync")),
        Err(groundwork_core::Error::OtherRelay { .. })
    ));
    assert_eq!(
        f.device.relay_or(Some("wss://Relay.example.org:443"))?,
        "wss://Relay.example.org:443"
    );
    f.device.remember_relay_aliases(
        "wss://relay.example.org/v1/sync",
        &["ws://other:1".to_owned()],
    )?;
    assert_eq!(
        f.device.relay_or(Some("ws://other:1/v1/sync"))?,
        "ws://other:1/v1/sync"
    );
    // Reaching the relay at one of its other addresses keeps them (a node may die before it
    // names them again); a move to another relay forgets them.
    f.device.remember_relay("ws://other:1/v1/sync")?;
    assert_eq!(f.device.relay_aliases()?, vec!["ws://other:1".to_owned()]);
    f.device
        .remember_relay("wss://elsewhere.example.org/v1/sync")?;
    assert!(f.device.relay_aliases()?.is_empty());
    f.device.remember_relay("wss://relay.example.org/v1/sync")?;
    let (invite, _) = f.device.create_invite(
        &f.group,
        groundwork_core::identity::Role::Member,
        1,
        3_600_000,
        None,
    )?;
    assert_eq!(
        invite.relay.as_deref(),
        Some("wss://relay.example.org/v1/sync")
    );
    Ok(())
}

#[test]
fn a_lead_chooses_what_the_group_shares_and_a_member_cannot() -> TestResult {
    use groundwork_core::schema::vocab::Visibility;
    let mut f = fixture()?;
    // On by default; meetings private by default.
    assert!(f.device.group(&f.group)?.shares);
    assert_eq!(
        f.device.meetings(&f.group)?[0].visibility,
        Visibility::Private
    );
    f.device.set_group_sharing(&f.group, false)?;
    f.device
        .set_meeting_visibility(&f.meeting, Visibility::Public)?;
    assert!(!f.device.group(&f.group)?.shares);
    assert!(!f.device.plan(&f.group)?.profile.shares);
    assert_eq!(
        f.device.meetings(&f.group)?[0].visibility,
        Visibility::Public
    );
    assert_eq!(f.device.meeting(&f.meeting)?.visibility, Visibility::Public);
    // The index rebuilt from the documents says the same.
    let before = f.device.index_dump()?;
    f.device.rebuild_index()?;
    assert_eq!(f.device.index_dump()?, before);
    assert!(!f.device.group(&f.group)?.shares);
    // A member may edit the plan, but not choose what the group shows the campaign.
    f.device
        .joined_group(&f.group, groundwork_core::identity::Role::Member)?;
    let e = f
        .device
        .set_group_sharing(&f.group, true)
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("only a lead")));
    let e = f
        .device
        .set_meeting_visibility(&f.meeting, Visibility::Private)
        .err()
        .map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("only a lead")));
    assert!(!f.device.group(&f.group)?.shares);
    assert_eq!(f.device.meeting(&f.meeting)?.visibility, Visibility::Public);
    Ok(())
}

/// A full disk (here the store's limit, which SQLite answers exactly as a full disk): the edit
/// that does not fit fails with a clear error, nothing saved before is lost (in this session
/// and after reopening), and the next edit once there is room succeeds.
#[test]
fn a_full_store_refuses_the_edit_keeps_everything_and_recovers() -> TestResult {
    let Fixture {
        dir,
        mut device,
        group,
        ..
    } = fixture()?;
    let size = |d: &Path| std::fs::metadata(d.join(STORE_FILE)).map(|m| m.len());
    device.limit_storage(Some(size(dir.path())? + 256 * 1024))?;
    let note = |i: usize| -> String {
        // Poorly compressible, so each contact takes about its length.
        let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect()
    };
    let mut saved = Vec::new();
    let error = loop {
        let mut c = contact(saved.len());
        c.note = Some(note(saved.len()));
        match device.log_contact(&group, c) {
            Ok(id) => saved.push(id),
            Err(e) => break e,
        }
        assert!(saved.len() < 500, "the limit never bit");
    };
    assert!(matches!(error, Error::StorageFull), "{error:?}");
    let said = error.to_string();
    assert!(said.contains("storage is full") && said.contains("everything saved before is kept"));
    assert!(saved.len() >= 3, "only {} fitted", saved.len());
    // Everything saved is there, and the failed one is not.
    let listed = |d: &Device| -> Result<Vec<String>, Error> {
        Ok(d.contacts(&group, &ContactQuery::default())?
            .into_iter()
            .map(|c| c.contact_id)
            .collect())
    };
    let mut shown = listed(&device)?;
    shown.sort();
    let mut expected = saved.clone();
    expected.sort();
    assert_eq!(shown, expected);
    // Still full: the next edit fails the same way, and a plan edit too.
    let mut c = contact(0);
    c.note = Some(note(999));
    assert!(matches!(
        device.log_contact(&group, c),
        Err(Error::StorageFull)
    ));
    // Reopened (as after the app was killed), nothing is lost.
    drop(device);
    let mut device = Device::open(dir.path(), &key())?;
    let mut shown = listed(&device)?;
    shown.sort();
    assert_eq!(shown, expected);
    // Room again (a fresh session has no limit): the next edit succeeds.
    let mut c = contact(1);
    c.note = Some(note(1000));
    let id = device.log_contact(&group, c)?;
    let now = listed(&device)?;
    assert!(now.contains(&id));
    // The edits that failed never surface later: only what was saved, and the new one.
    assert_eq!(now.len(), saved.len() + 1);
    Ok(())
}

#[test]
fn contacts_not_sent_are_those_past_the_heads_the_relay_confirmed() -> TestResult {
    let mut f = fixture()?;
    assert_eq!(f.device.unsent_contacts(&f.group)?, 0);
    for i in 0..3 {
        f.device.log_contact(&f.group, contact(i))?;
    }
    assert_eq!(
        f.device.unsent_contacts(&f.group)?,
        3,
        "never confirmed: all"
    );
    // The relay confirms what the document holds now (as a sync's settle records it).
    let contacts_doc = f
        .device
        .documents()?
        .into_iter()
        .find(|d| d.kind == groundwork_core::schema::DocKind::Contacts)
        .ok_or("no contacts document")?
        .doc_id;
    let status = f.device.sync_status()?;
    let local = status
        .iter()
        .find(|s| s.doc_id == contacts_doc.to_string())
        .ok_or("no status")?
        .local_heads
        .clone();
    let heads: Vec<automerge::ChangeHash> =
        local.split(',').map(str::parse).collect::<Result<_, _>>()?;
    f.device.record_relay_heads(&contacts_doc, &heads)?;
    assert_eq!(f.device.unsent_contacts(&f.group)?, 0, "all confirmed");
    for i in 3..5 {
        f.device.log_contact(&f.group, contact(i))?;
    }
    assert_eq!(f.device.unsent_contacts(&f.group)?, 2, "two since");
    assert_eq!(f.device.unsent_contacts("another group")?, 0);
    Ok(())
}
