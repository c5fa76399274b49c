//! Erasing a group's documents from a device, through the paths the product uses: a wipe the
//! relay orders after a lead removed the device, a group's retention past a contacts period,
//! and unfollowing a county's board. Distinct markers are planted in every table that holds a
//! group's document data (the group's name, officials, meetings with their notes and agendas,
//! action items, answers, contacts with names, phones, emails, notes and places, the roster's
//! names, the county board) and, as markers of their own, the erased documents' ids (which key
//! their chunks, sync states, sync status, index rows and registration). Each erase is checked
//! by reading the store as someone holding its key would: every column of every row of every
//! table, decrypted, and every document decoded (its current content and every change of its
//! history). Markers of documents that must stay are looked for too, and must be found, so
//! that no check passes because the scan sees nothing.
//!
//! Why a scan with the key through SQL is enough: what SQL cannot see of an encrypted file is
//! (1) pages on SQLite's free list, (2) deleted cells inside live pages, (3) old frames in the
//! write-ahead log and (4) pages past the end of the database. The store runs with
//! `secure_delete = fast`, which zeroes (2) as it deletes; the checks after each erase assert
//! that the free list is empty (1), that no write-ahead log is left once every process closed
//! the store (3: the last connection checkpoints it into the file and deletes it), and that the
//! file is exactly its page count long (4). Markers are random (a fresh id in each), so none
//! can be found by chance, and they are looked for in decoded documents rather than in
//! automerge's compressed bytes alone. The raw files are scanned as well, for a marker in
//! plain text (the store being encrypted, none must be).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use groundwork_tests::{Device, Relay, Res, cli_key, field, relay_contains};

/// Where each needle was found in the store of `dir`: `table.column` for a stored value,
/// `doc:KIND` for a document's current content or history.
type Found = BTreeMap<String, BTreeSet<String>>;

/// A fresh marker: `Marker-WHAT-` and a random id.
fn marker(what: &str) -> Res<String> {
    Ok(format!(
        "Marker-{what}-{}",
        groundwork_core::ids::new_entity_id()?
    ))
}

/// About 4 KB of random text, appended to a contact's note and an answer's conditions: a
/// document holding it no longer fits in one page's cell, so erasing it frees whole pages,
/// where its bytes would linger unless the store is compacted (the free-page check sees them).
fn bulk() -> Res<String> {
    let mut text = String::new();
    while text.len() < 4000 {
        text.push_str(&groundwork_core::ids::new_entity_id()?);
        text.push(' ');
    }
    Ok(text)
}

/// Reads the store of `dir` with its key: every text and blob of every table, and every
/// document decoded (its content as JSON, and every change of its history), and says where
/// each of `needles` is.
fn scan(dir: &Path, needles: &[String]) -> Res<Found> {
    let path = dir.join(groundwork_core::store::STORE_FILE);
    let conn = groundwork_core::store::connect_raw(&path, &cli_key(dir))?;
    let mut found = Found::new();
    let mut hit = |needle: &String, place: String| {
        found.entry(needle.clone()).or_default().insert(place);
    };
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert!(
        tables.len() >= 10,
        "the scan sees too few tables: {tables:?}"
    );
    for table in &tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            for (i, column) in columns.iter().enumerate() {
                if let rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) =
                    row.get_ref(i)?
                {
                    for needle in needles {
                        if contains(b, needle) {
                            hit(needle, format!("{table}.{column}"));
                        }
                    }
                }
            }
        }
    }
    // Every document, decoded: what it holds now, and every change it ever had.
    let kinds: BTreeMap<String, String> = conn
        .prepare("SELECT doc_id, kind FROM documents")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut docs: BTreeMap<String, automerge::AutoCommit> = BTreeMap::new();
    let mut stmt = conn.prepare("SELECT doc_id, bytes FROM chunks ORDER BY doc_id, seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let bytes: Vec<u8> = row.get(1)?;
        docs.entry(row.get(0)?)
            .or_default()
            .load_incremental(&bytes)?;
    }
    for (id, doc) in &mut docs {
        let kind = kinds.get(id).map_or("unregistered", String::as_str);
        let mut text = serde_json::to_string(&automerge::AutoSerde::from(&*doc))?;
        for change in doc.get_changes(&[]) {
            text.push_str(&format!("{:?}", change.decode()));
        }
        for needle in needles {
            if text.contains(needle.as_str()) {
                hit(needle, format!("doc:{kind}"));
            }
        }
    }
    Ok(found)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The checks that make the scan through SQL sound (see the file's comment): run with every
/// process that had the store open gone. No write-ahead log left, no free pages, no pages past
/// the database's end, and no marker in plain text in any file.
fn nothing_outside_sql(dir: &Path, needles: &[String]) -> Res<()> {
    let path = dir.join(groundwork_core::store::STORE_FILE);
    let wal = dir.join(format!("{}-wal", groundwork_core::store::STORE_FILE));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "a write-ahead log is left in {}", dir.display());
    for entry in std::fs::read_dir(dir)? {
        let file = entry?.path();
        if file.is_file() {
            let bytes = std::fs::read(&file)?;
            for needle in needles {
                assert!(
                    !contains(&bytes, needle),
                    "{needle} in plain text in {}",
                    file.display()
                );
            }
        }
    }
    let conn = groundwork_core::store::connect_raw(&path, &cli_key(dir))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    assert_eq!(
        free,
        0,
        "{} keeps {free} free pages, where erased bytes can linger (unreadable through SQL)",
        path.display()
    );
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    // SQLCipher answers `page_size` as text.
    let page_size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, String>(0))?
        .parse()?;
    assert_eq!(
        std::fs::metadata(&path)?.len(),
        pages.unsigned_abs() * page_size,
        "the file holds pages past the database's end"
    );
    Ok(())
}

/// Asserts that every one of `gone` is nowhere in the store of `dir` and every one of `kept`
/// is somewhere in it.
fn erased_and_kept(dir: &Path, gone: &[String], kept: &[String], after: &str) -> Res<()> {
    nothing_outside_sql(dir, gone)?;
    let all: Vec<String> = gone.iter().chain(kept).cloned().collect();
    let found = scan(dir, &all)?;
    for needle in gone {
        assert!(
            !found.contains_key(needle),
            "after {after}, {needle} is still in {:?} ({})",
            found[needle],
            dir.display()
        );
    }
    for needle in kept {
        assert!(
            found.contains_key(needle),
            "after {after}, {needle} is gone though it should stay ({}): the scan proves nothing",
            dir.display()
        );
    }
    Ok(())
}

/// Asserts, before an erase, that the markers to be erased sit in every place in `places`
/// (`table.column` or `doc:KIND`): the planting reached every table the erase must clear.
fn planted_in(found: &Found, needles: &[String], places: &[&str]) {
    let reached: BTreeSet<&str> = needles
        .iter()
        .filter_map(|n| found.get(n))
        .flatten()
        .map(String::as_str)
        .collect();
    for place in places {
        assert!(
            reached.contains(place),
            "no marker was planted in {place}; reached: {reached:?}"
        );
    }
}

/// The ids of a device's documents (read with its key), with their kinds and groups.
fn documents(dir: &Path) -> Res<Vec<(String, String, Option<String>)>> {
    let path = dir.join(groundwork_core::store::STORE_FILE);
    let conn = groundwork_core::store::connect_raw(&path, &cli_key(dir))?;
    let rows = conn
        .prepare("SELECT doc_id, kind, group_id FROM documents ORDER BY doc_id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A group's plan filled with a marker in each of its fields that the index or a board keeps:
/// an official in `county` (name, agency, jurisdiction), an official meeting (title, place,
/// shared so the board shows it, notes, agenda), an organizing meeting, an action item (title,
/// assignee), an answer (conditions, legal basis), and a contact with every detail, logged by
/// the lead. Returns the markers (the contact's last: members do not read a lead's contacts).
fn fill_group(lead: &Device, group: &str, county: &str, tag: &str) -> Res<Vec<String>> {
    let m = |what: &str| marker(&format!("{tag}-{what}"));
    let (official, agency, jurisdiction) = (m("Official")?, m("Agency")?, m("Jurisdiction")?);
    let target = field(
        &lead.run(&[
            "target",
            "add",
            group,
            "--county",
            county,
            "--office",
            "sheriff",
            "--name",
            &official,
            "--agency",
            &agency,
            "--jurisdiction",
            &jurisdiction,
        ])?,
        "target_id",
    )?;
    let (title, place, notes, agenda) = (m("Meeting")?, m("Place")?, m("Notes")?, m("Agenda")?);
    let meeting = field(
        &lead.run(&[
            "meeting",
            "create",
            group,
            "--kind",
            "official",
            "--title",
            &title,
            "--target",
            &target,
            "--at",
            "2026-12-10T18:00:00Z",
            "--location",
            &place,
        ])?,
        "meeting_id",
    )?;
    lead.run(&["meeting", "status", &meeting, "scheduled"])?;
    lead.run(&["meeting", "share", &meeting, "shared"])?;
    lead.run(&["meeting", "notes", &meeting, "--append", &notes])?;
    lead.run(&["meeting", "agenda", &meeting, "--add", &agenda])?;
    let organizing = m("Organizing")?;
    lead.run(&[
        "meeting",
        "create",
        group,
        "--kind",
        "organizing",
        "--title",
        &organizing,
    ])?;
    let (action, assignee) = (m("Action")?, m("Assignee")?);
    lead.run(&[
        "action",
        "add",
        group,
        "--title",
        &action,
        "--assignee",
        &assignee,
        "--due",
        "2026-12-20",
    ])?;
    let (conditions, basis) = (m("Conditions")?, m("LegalBasis")?);
    lead.run(&[
        "response",
        "record",
        group,
        "--target",
        &target,
        "--rule",
        "R1",
        "--existing",
        "none",
        "--position",
        "supports-with-changes",
        "--conditions",
        &format!("{conditions} {}", bulk()?),
        "--legal-basis",
        &basis,
        "--meeting",
        &meeting,
    ])?;
    let mut markers = vec![
        official,
        agency,
        jurisdiction,
        title,
        place,
        notes,
        agenda,
        organizing,
        action,
        assignee,
        conditions,
        basis,
    ];
    markers.extend(log_contact(lead, group, &format!("{tag}-Lead"), None)?);
    Ok(markers)
}

/// Logs a contact with a marker in every detail (name, phone, email, note, place), at `at`
/// (RFC 3339; default now). Returns the markers.
fn log_contact(device: &Device, group: &str, tag: &str, at: Option<&str>) -> Res<Vec<String>> {
    let m = |what: &str| marker(&format!("{tag}-{what}"));
    let (name, phone, email, note, place) = (
        m("ContactName")?,
        m("Phone")?,
        format!("{}@example.org", m("Email")?),
        m("ContactNote")?,
        m("Turf")?,
    );
    let long_note = format!("{note} {}", bulk()?);
    let mut args = vec![
        "contact",
        "log",
        group,
        "--result",
        "talked",
        "--support",
        "4",
        "--consent",
        "--name",
        &name,
        "--phone",
        &phone,
        "--email",
        &email,
        "--note",
        &long_note,
        "--place",
        &place,
    ];
    if let Some(at) = at {
        args.extend(["--at", at]);
    }
    device.run(&args)?;
    Ok(vec![name, phone, email, note, place])
}

/// A group created by `lead`, its name a marker; returns its id and the name.
fn new_group(lead: &Device, tag: &str) -> Res<(String, String)> {
    let name = marker(&format!("{tag}-GroupName"))?;
    let group = field(
        &lead.run(&["group", "create", "--name", &name])?,
        "group_id",
    )?;
    Ok((group, name))
}

/// A join link to `group` for `role`, made by `lead`.
fn invite(lead: &Device, group: &str, role: &str, relay: &Relay) -> Res<String> {
    field(
        &lead.run(&[
            "invite",
            "create",
            group,
            "--role",
            role,
            "--relay",
            &relay.url(),
        ])?,
        "link",
    )
}

/// A member removed from a group: the relay orders its device to wipe the group at its next
/// sync. Everything of the group's documents leaves the device (plan, roster, contacts, the
/// board of the group's county); another group of the same device, and its board, stay.
#[test]
fn a_wipe_leaves_nothing_of_the_group_in_any_table() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    // The group the device will be removed from, in Williamson County (48491).
    let lead_name = marker("Wipe-LeadName")?;
    let lead = Device::new(root.path(), &lead_name)?;
    let (group, group_name) = new_group(&lead, "Wipe")?;
    let mut gone = vec![lead_name, group_name];
    let mut planted = fill_group(&lead, &group, "48491", "Wipe")?;
    // The lead's contact (the last five): only leads read others' contacts, so it never
    // reaches the member; its place in the index is covered by the member's own contact.
    planted.truncate(planted.len() - 5);
    gone.extend(planted);
    lead.sync(&relay)?;
    // The device: a member of it, with contacts of its own there, and the lead of another
    // group (Riverside County, 06065) whose documents must all stay.
    let member = Device::new(root.path(), "member")?;
    member.run(&["join", &invite(&lead, &group, "member", &relay)?])?;
    let (kept_group, kept_name) = new_group(&member, "Kept")?;
    let mut kept = vec![kept_name];
    kept.extend(fill_group(&member, &kept_group, "06065", "Kept")?);
    gone.extend(log_contact(&member, &group, "Wipe-Member", None)?);
    member.sync(&relay)?;
    lead.sync(&relay)?;
    member.sync(&relay)?;

    let docs = documents(&member.dir)?;
    let of_group = |g: &str| -> Vec<String> {
        docs.iter()
            .filter(|(_, _, of)| of.as_deref() == Some(g))
            .map(|(id, _, _)| id.clone())
            .collect()
    };
    let kinds = |ids: &[String]| -> BTreeSet<String> {
        docs.iter()
            .filter(|(id, _, _)| ids.contains(id))
            .map(|(_, kind, _)| kind.clone())
            .collect()
    };
    let gone_docs = of_group(&group);
    let kept_docs = of_group(&kept_group);
    let boards: Vec<&String> = docs
        .iter()
        .filter(|(_, kind, _)| kind == "board")
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(
        kinds(&gone_docs),
        ["contacts", "plan", "roster"].map(String::from).into(),
        "{docs:?}"
    );
    assert_eq!(boards.len(), 2, "a board per county: {docs:?}");
    let before = scan(&member.dir, &gone)?;
    // Which board is the wiped group's: the one of its county (the board's `board_of`).
    let wipe_board: Vec<String> = {
        let conn = groundwork_core::store::connect_raw(
            &member.dir.join(groundwork_core::store::STORE_FILE),
            &cli_key(&member.dir),
        )?;
        let mut out = Vec::new();
        for board in &boards {
            let mut doc = automerge::AutoCommit::new();
            let mut stmt =
                conn.prepare("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?;
            for bytes in stmt.query_map([board], |r| r.get::<_, Vec<u8>>(0))? {
                doc.load_incremental(&bytes?)?;
            }
            let content = serde_json::to_string(&automerge::AutoSerde::from(&doc))?;
            if content.contains("\"48491\"") {
                out.push(board.to_string());
            }
        }
        out
    };
    assert_eq!(wipe_board.len(), 1, "no board of 48491: {docs:?}");
    let kept_board: Vec<String> = boards
        .iter()
        .map(|b| b.to_string())
        .filter(|b| !wipe_board.contains(b))
        .collect();
    planted_in(
        &before,
        &gone,
        &[
            "groups.name",
            "idx_targets.name",
            "idx_targets.agency",
            "idx_targets.jurisdiction",
            "idx_meetings.title",
            "idx_meetings.location",
            "idx_actions.title",
            "idx_actions.assignee",
            "idx_responses.conditions",
            "idx_responses.legal_basis",
            "idx_contacts.name",
            "idx_contacts.phone",
            "idx_contacts.email",
            "idx_contacts.note",
            "idx_contacts.place",
            "doc:plan",
            "doc:roster",
            "doc:contacts",
            "doc:board",
        ],
    );
    // The documents' ids and the group's id are markers too: they key every row kept of them.
    let mut ids: Vec<String> = gone_docs.iter().chain(&wipe_board).cloned().collect();
    ids.push(group.clone());
    let before_ids = scan(&member.dir, &ids)?;
    planted_in(
        &before_ids,
        &ids,
        &[
            "documents.doc_id",
            "documents.group_id",
            "chunks.doc_id",
            "sync_states.doc_id",
            "sync_status.doc_id",
            "idx_contacts.doc_id",
            "idx_contacts.group_id",
            "idx_targets.group_id",
            "idx_meetings.group_id",
            "idx_actions.group_id",
            "idx_responses.group_id",
            "groups.group_id",
        ],
    );
    for needle in &gone {
        assert!(
            before.contains_key(needle),
            "{needle} never reached the member"
        );
    }
    let found = scan(&member.dir, &kept)?;
    for needle in &kept {
        assert!(
            found.contains_key(needle),
            "{needle} is not on the member's device"
        );
    }

    // Removed: the relay orders the wipe at the member's next sync.
    lead.run(&[
        "member",
        "remove",
        &group,
        &member.id()?,
        "--relay",
        &relay.url(),
    ])?;
    let synced = member.sync(&relay)?;
    assert_eq!(synced["wiped"], serde_json::json!([group]), "{synced}");

    gone.extend(ids);
    let mut kept_all = kept;
    kept_all.extend(kept_docs);
    kept_all.extend(kept_board);
    kept_all.push(kept_group);
    erased_and_kept(&member.dir, &gone, &kept_all, "the wipe")?;
    Ok(())
}

/// A lead keeps 12 months of contacts: the older months' documents leave the lead's device at
/// once and a canvasser's at its next sync (and the relay's), with every detail of every
/// contact and every row kept of the documents; this month's contacts and the plan stay.
#[test]
fn retention_leaves_nothing_of_older_months_in_any_table() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    let lead = Device::new(root.path(), "lead")?;
    let (group, group_name) = new_group(&lead, "Retention")?;
    let mut kept = vec![group_name];
    kept.extend(fill_group(&lead, &group, "48491", "Retention")?);
    lead.sync(&relay)?;
    let canvasser = Device::new(root.path(), "canvasser")?;
    canvasser.run(&["join", &invite(&lead, &group, "canvasser", &relay)?])?;
    let mut gone = log_contact(&canvasser, &group, "Old-June", Some("2024-06-14T10:00:00Z"))?;
    gone.extend(log_contact(
        &canvasser,
        &group,
        "Old-January",
        Some("2023-01-20T10:00:00Z"),
    )?);
    kept.extend(log_contact(&canvasser, &group, "Now", None)?);
    canvasser.sync(&relay)?;
    lead.sync(&relay)?;

    // The old months' documents, by id, on both devices.
    let old = |dir: &Path| -> Res<Vec<String>> {
        let conn = groundwork_core::store::connect_raw(
            &dir.join(groundwork_core::store::STORE_FILE),
            &cli_key(dir),
        )?;
        let ids = conn
            .prepare(
                "SELECT doc_id FROM documents WHERE kind = 'contacts' AND period < '2025-01'
                 ORDER BY doc_id",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    };
    let old_docs = old(&lead.dir)?;
    assert_eq!(old_docs.len(), 2, "{:?}", documents(&lead.dir)?);
    assert_eq!(old(&canvasser.dir)?, old_docs);
    let this_month: Vec<String> = documents(&lead.dir)?
        .into_iter()
        .filter(|(id, kind, _)| kind == "contacts" && !old_docs.contains(id))
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(this_month.len(), 2, "the lead's and the canvasser's");
    for d in [&lead, &canvasser] {
        let found = scan(&d.dir, &gone)?;
        planted_in(
            &found,
            &gone,
            &[
                "idx_contacts.name",
                "idx_contacts.phone",
                "idx_contacts.email",
                "idx_contacts.note",
                "idx_contacts.place",
                "doc:contacts",
            ],
        );
        let found = scan(&d.dir, &old_docs)?;
        planted_in(
            &found,
            &old_docs,
            &[
                "documents.doc_id",
                "chunks.doc_id",
                "sync_states.doc_id",
                "sync_status.doc_id",
                "idx_contacts.doc_id",
            ],
        );
    }

    lead.run(&["group", "retention", &group, "12"])?;
    gone.extend(old_docs);
    kept.extend(this_month);
    erased_and_kept(&lead.dir, &gone, &kept, "retention on the lead's device")?;
    lead.sync(&relay)?;
    assert_eq!(canvasser.sync(&relay)?["synced"], true);
    // The canvasser holds its own contacts and the brief, not the plan or the lead's contacts.
    let canvasser_kept: Vec<String> = kept
        .iter()
        .filter(|k| k.contains("-Now-"))
        .cloned()
        .collect();
    assert_eq!(canvasser_kept.len(), 5);
    erased_and_kept(
        &canvasser.dir,
        &gone,
        &canvasser_kept,
        "retention on the canvasser's device",
    )?;
    for needle in &gone {
        assert!(
            !relay_contains(&relay.data, needle)?,
            "{needle} on the relay"
        );
    }
    Ok(())
}

/// Unfollowing a county drops its board from the device at once, with everything the board
/// told of the groups asking there; the board of the device's own group's county stays.
#[test]
fn unfollowing_a_board_leaves_nothing_of_it_in_any_table() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"))?;
    // A group in Travis County (48453), whose board another device follows.
    let travis = Device::new(root.path(), "travis")?;
    let (travis_group, travis_name) = new_group(&travis, "Followed")?;
    let followed = fill_group(&travis, &travis_group, "48453", "Followed")?;
    travis.sync(&relay)?;
    // The follower leads a group in Williamson County (48491), with a board of its own.
    let follower = Device::new(root.path(), "follower")?;
    let (group, group_name) = new_group(&follower, "Own")?;
    let mut kept = vec![group_name];
    kept.extend(fill_group(&follower, &group, "48491", "Own")?);
    follower.sync(&relay)?;
    follower.run(&["board", "follow", "48453"])?;
    follower.sync(&relay)?;

    let boards = |dir: &Path| -> Res<Vec<String>> {
        Ok(documents(dir)?
            .into_iter()
            .filter(|(_, kind, _)| kind == "board")
            .map(|(id, _, _)| id)
            .collect())
    };
    let before = boards(&follower.dir)?;
    assert_eq!(before.len(), 2, "{:?}", documents(&follower.dir)?);
    // What the followed board shows of Travis's group: its name, its official, the shared
    // meeting's place, the answer's conditions (the rest of its plan never reaches a board).
    let mut gone = vec![travis_name, travis_group];
    gone.extend(followed.into_iter().filter(|m| {
        ["-Official-", "-Place-", "-Conditions-"]
            .iter()
            .any(|w| m.contains(w))
    }));
    assert_eq!(gone.len(), 5);
    let found = scan(&follower.dir, &gone)?;
    for needle in &gone {
        // In the board alone (its bytes may show it too, where automerge left it plain).
        let places = found.get(needle).cloned().unwrap_or_default();
        assert!(places.contains("doc:board"), "{needle}: {places:?}");
        assert!(
            places
                .iter()
                .all(|p| p == "doc:board" || p == "chunks.bytes"),
            "{needle}: {places:?}"
        );
    }

    let found = scan(&follower.dir, &before)?;
    planted_in(
        &found,
        &before,
        &[
            "documents.doc_id",
            "chunks.doc_id",
            "sync_states.doc_id",
            "sync_status.doc_id",
        ],
    );

    follower.run(&["board", "unfollow", "48453"])?;
    let after = boards(&follower.dir)?;
    assert_eq!(after.len(), 1);
    let dropped: Vec<String> = before.into_iter().filter(|b| !after.contains(b)).collect();
    assert_eq!(dropped.len(), 1);
    gone.extend(dropped);
    kept.extend(after);
    erased_and_kept(&follower.dir, &gone, &kept, "unfollowing the board")?;
    Ok(())
}
