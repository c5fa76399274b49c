//! Access control against the real relay binary: the access matrix (every document kind x every
//! kind of peer x read and write), refusals of forged, expired, used-up, replayed and misplaced
//! credentials, and a removed member's device wiping the group when it next connects.
//!
//! Devices are set up with the real CLI; the probing peers are raw automerge-repo clients (the
//! core's sync hub over a real WebSocket), signed with the devices' own keys.

use std::time::Duration;

use automerge::transaction::Transactable;
use futures_util::{SinkExt, StreamExt};
use groundwork_core::identity::{Identity, Role};
use groundwork_core::ids::DocumentId;
use groundwork_core::sync::hub::{Effect, Hub, Side};
use groundwork_core::sync::wire::{Message, PeerMetadata};
use groundwork_core::time::now_ms;
use groundwork_tests::{Device, Relay, field, relay_db};
use tokio_tungstenite::tungstenite::Message as Ws;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The relay's stored state: chunks per document, and (group, device, role, removed_at).
type Stored = (
    Vec<(String, i64)>,
    Vec<(String, String, String, Option<i64>)>,
);

/// What the relay has stored, for "nothing changed" checks: chunks per document, members.
fn stored(relay: &Relay) -> Res<Stored> {
    let conn = relay_db(&relay.data)?;
    let mut stmt =
        conn.prepare("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id ORDER BY doc_id")?;
    let chunks = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare(
        "SELECT group_id, device_id, role, removed_at FROM members ORDER BY group_id, device_id",
    )?;
    let members = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    Ok((chunks, members))
}

/// Who a probing connection is.
#[derive(Clone)]
enum Who {
    /// Signed with a device's key.
    Signed(std::sync::Arc<Identity>),
    /// A token in the URL.
    Token(String),
    /// Nothing.
    Anonymous,
}

impl Who {
    fn url(&self, base: &str) -> Res<String> {
        Ok(match self {
            Who::Signed(id) => format!("{base}?{}", id.connect_proof(base, now_ms())?.to_query()),
            Who::Token(t) => format!("{base}?token={t}"),
            Who::Anonymous => base.to_owned(),
        })
    }

    fn peer(&self) -> String {
        match self {
            Who::Signed(id) => format!("{}.probe", id.device_id()),
            _ => "probe-peer".into(),
        }
    }
}

/// What a probe saw.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Read: the document arrived. Write: the relay acknowledged the change.
    Allowed,
    /// The relay's answers about the document, in order, when it was refused.
    Refused(Vec<&'static str>),
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Sync { .. } => "sync",
        Message::Request { .. } => "request",
        Message::DocUnavailable { .. } => "doc-unavailable",
        _ => "other",
    }
}

/// Planted in every probe's change: the relay's log must never contain it.
const CONTENT_MARKER: &str = "probe-content-7f3a";

/// Connects as `who` and asks for `doc` (read: starting empty; write: starting from `copy`
/// with one new change). Returns whether the read or write succeeded, or what it was told.
async fn probe(base: &str, who: &Who, doc: DocumentId, copy: Option<&[u8]>) -> Res<Outcome> {
    let peer = who.peer();
    probe_with(base, who, doc, copy, |am| {
        am.put(automerge::ROOT, "probe", format!("{CONTENT_MARKER} {peer}"))?;
        Ok(())
    })
    .await
}

/// [`probe`], writing with `edit` instead of the probe's own change.
async fn probe_with(
    base: &str,
    who: &Who,
    doc: DocumentId,
    copy: Option<&[u8]>,
    edit: impl FnOnce(&mut automerge::AutoCommit) -> Res<()>,
) -> Res<Outcome> {
    let mut am = groundwork_core::schema::new_doc();
    let write = copy.is_some();
    if let Some(bytes) = copy {
        am.load_incremental(bytes)?;
        edit(&mut am)?;
        am.commit();
    }
    let mine = am.get_heads();
    let mut hub = Hub::new(who.peer(), PeerMetadata::default());
    hub.insert_doc(doc, am);
    let (ws, _) = tokio_tungstenite::connect_async(who.url(base)?).await?;
    let (mut sink, mut stream) = ws.split();
    hub.connect(1, Side::Client, 0);
    let mut answers = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        while let Some(e) = hub.poll_effect() {
            match e {
                Effect::Send { frame, .. } => sink.send(Ws::Binary(frame.into())).await?,
                Effect::PeerReady { .. } => hub.handle_sync_states(1, Vec::new(), 0),
                Effect::Close { reason, .. } => return Err(reason.into()),
                _ => {}
            }
        }
        if answers.contains(&"doc-unavailable") {
            return Ok(Outcome::Refused(answers));
        }
        if let Some(s) = hub.status(1, &doc) {
            let theirs = s.theirs.unwrap_or_default();
            if write && mine.iter().all(|h| theirs.contains(h)) {
                return Ok(Outcome::Allowed);
            }
            if !write && !s.ours.is_empty() && s.ours.iter().all(|h| theirs.contains(h)) {
                return Ok(Outcome::Allowed);
            }
        }
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| format!("no answer about {doc}; saw {answers:?}"))?;
        match next {
            Some(Ok(Ws::Binary(b))) => {
                if let Ok(m) = Message::decode(&b)
                    && matches!(
                        &m,
                        Message::Sync { document, .. } | Message::Request { document, .. } | Message::DocUnavailable { document, .. }
                        if *document == doc
                    )
                {
                    answers.push(kind(&m));
                }
                hub.handle_frame(1, &b, 0);
            }
            Some(Ok(_)) => {}
            other => return Err(format!("connection ended: {other:?}").into()),
        }
    }
}

/// The group every test here uses: a lead, a member, a canvasser (with contacts), a removed
/// member, an outsider who leads a group of its own, the lead of a group elsewhere who follows
/// the county's board, and campaign staff in no group.
struct World {
    _root: tempfile::TempDir,
    relay: Relay,
    lead: Device,
    member: Device,
    canvasser: Device,
    removed: Device,
    outsider: Device,
    /// The lead of a group elsewhere, following the county's board.
    follower: Device,
    /// Campaign staff, in no group.
    staff: Device,
    group: String,
    other_group: String,
    plan: DocumentId,
    contacts: DocumentId,
    roster: DocumentId,
    /// The board of the county the group's official is in (the relay writes it).
    board: DocumentId,
    brief: DocumentId,
}

fn world() -> Res<World> {
    let root = tempfile::tempdir()?;
    let relay = Relay::options(&root.path().join("relay"))
        .log_to(&root.path().join("relay.log"))
        .start()?;
    let url = relay.url();
    let lead = Device::new(root.path(), "lead")?;
    let member = Device::new(root.path(), "member")?;
    let canvasser = Device::new(root.path(), "canvasser")?;
    let removed = Device::new(root.path(), "removed")?;
    let outsider = Device::new(root.path(), "outsider")?;
    let group = field(
        &lead.run(&["group", "create", "--name", "Riverside"])?,
        "group_id",
    )?;
    lead.run(&[
        "meeting",
        "create",
        &group,
        "--kind",
        "organizing",
        "--title",
        "Quiet planning meeting",
    ])?;
    // An official by county, so the group is on its county's board.
    lead.run(&[
        "target", "add", &group, "--county", "06065", "--office", "sheriff",
    ])?;
    lead.sync(&relay)?;
    for (d, role) in [
        (&member, "member"),
        (&canvasser, "canvasser"),
        (&removed, "member"),
    ] {
        let code = field(
            &lead.run(&["invite", "create", &group, "--role", role])?,
            "code",
        )?;
        d.run(&["join", &code, "--relay", &url])?;
    }
    canvasser.run(&[
        "contact",
        "log",
        &group,
        "--result",
        "talked",
        "--note",
        "Lives near the school",
    ])?;
    canvasser.sync(&relay)?;
    let other_group = field(
        &outsider.run(&["group", "create", "--name", "Elsewhere"])?,
        "group_id",
    )?;
    outsider.sync(&relay)?;
    let follower = Device::new(root.path(), "follower")?;
    follower.run(&["group", "create", "--name", "Next county"])?;
    follower.sync(&relay)?;
    follower.run(&["board", "follow", "06065"])?;
    let staff = Device::new(root.path(), "staff")?;
    let granted = std::process::Command::new(groundwork_tests::bin("groundwork-relay"))
        .arg("--data")
        .arg(&relay.data)
        .args(["staff", "add", &staff.id()?])
        .output()?;
    assert!(granted.status.success(), "{granted:?}");
    lead.sync(&relay)?;
    let docs = lead.run(&["status"])?;
    let doc_of = |kind: &str| -> Res<DocumentId> {
        let id = docs["documents"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["kind"] == kind))
            .and_then(|d| d["doc_id"].as_str())
            .ok_or_else(|| format!("no {kind} document in {docs}"))?;
        Ok(id.parse()?)
    };
    let (plan, contacts, roster) = (doc_of("plan")?, doc_of("contacts")?, doc_of("roster")?);
    let board = doc_of("board")?;
    let brief = canvasser.run(&["status"])?["documents"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["kind"] == "brief"))
        .and_then(|d| d["doc_id"].as_str())
        .ok_or("no brief on the canvasser's device")?
        .parse()?;
    // The removed member synced while it was in, then is removed.
    removed.sync(&relay)?;
    lead.run(&["member", "remove", &group, &removed.id()?, "--relay", &url])?;
    Ok(World {
        _root: root,
        relay,
        lead,
        member,
        canvasser,
        removed,
        outsider,
        follower,
        staff,
        group,
        other_group,
        plan,
        contacts,
        roster,
        board,
        brief,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_matrix_holds_exactly() -> TestResult {
    let w = tokio::task::spawn_blocking(|| world().map_err(|e| e.to_string())).await??;
    let base = w.relay.url();
    let signed = |name: &str, d: &Device| -> Res<Who> {
        let _ = name;
        Ok(Who::Signed(std::sync::Arc::new(d.identity()?)))
    };
    let token = field(
        &w.member.run(&["token", &w.group, "--relay", &base])?,
        "token",
    )?;
    let peers: Vec<(&str, Who)> = vec![
        ("lead", signed("lead", &w.lead)?),
        ("member", signed("member", &w.member)?),
        ("canvasser", signed("canvasser", &w.canvasser)?),
        ("member's token", Who::Token(token)),
        ("non-member", signed("non-member", &w.outsider)?),
        ("board follower", signed("follower", &w.follower)?),
        ("campaign staff", signed("staff", &w.staff)?),
        ("removed member", signed("removed", &w.removed)?),
        ("unauthenticated", Who::Anonymous),
    ];
    let docs = [
        ("plan", w.plan),
        ("contacts", w.contacts),
        ("roster", w.roster),
        ("board", w.board),
        ("brief", w.brief),
    ];
    // The lead's copy of each document (the canvasser's of its brief), for write attempts.
    let copies: Vec<Vec<u8>> = docs
        .iter()
        .map(|(name, d)| {
            if *name == "brief" {
                w.canvasser.document(d)
            } else {
                w.lead.document(d)
            }
        })
        .collect::<Res<_>>()?;
    // What a missing document gets, read and written.
    let missing = DocumentId::random()?;
    let mut garbage = groundwork_core::schema::new_doc();
    garbage.put(automerge::ROOT, "not", "a groundwork document")?;
    let garbage = garbage.save();
    let member = &peers[1].1;
    let missing_read = probe(&base, member, missing, None).await?;
    let missing_write = probe(&base, member, missing, Some(&garbage)).await?;
    assert_eq!(missing_read, Outcome::Refused(vec!["doc-unavailable"]));
    assert!(matches!(&missing_write, Outcome::Refused(a) if a.last() == Some(&"doc-unavailable")));
    println!("a missing document: read {missing_read:?}, write {missing_write:?}");

    // Allowed cells: (peer, document) -> "RW", "R" or "".
    let allowed = |peer: &str, doc: &str| match (peer, doc) {
        ("lead" | "member" | "member's token", "plan") => "RW",
        ("canvasser", "contacts") => "RW",
        ("lead", "contacts") => "R",
        ("lead" | "member" | "member's token", "roster" | "board") => "R",
        // Least privilege: a canvasser reads its group's brief, no plan, roster or board.
        ("canvasser", "brief") => "R",
        ("board follower" | "campaign staff", "board") => "R",
        _ => "",
    };
    let mut table = format!("{:<16}", "");
    for (name, _) in &docs {
        table.push_str(&format!("{name:<12}"));
    }
    table.push('\n');
    let mut wrong = Vec::new();
    for (peer, who) in &peers {
        table.push_str(&format!("{peer:<16}"));
        for ((doc_name, doc), copy) in docs.iter().zip(&copies) {
            let before = stored(&w.relay)?;
            let read = probe(&base, who, *doc, None).await?;
            let write = probe(&base, who, *doc, Some(copy)).await?;
            let after = stored(&w.relay)?;
            let cell = match (&read, &write) {
                (Outcome::Allowed, Outcome::Allowed) => "RW",
                (Outcome::Allowed, _) => "R",
                (_, Outcome::Allowed) => "W",
                _ => "",
            };
            table.push_str(&format!("{:<12}", if cell.is_empty() { "-" } else { cell }));
            let expected = allowed(peer, doc_name);
            if cell != expected {
                wrong.push(format!(
                    "{peer} x {doc_name}: {cell:?}, expected {expected:?}"
                ));
            }
            // Denied cells look exactly like a missing document, and change nothing stored.
            if read != Outcome::Allowed && read != missing_read {
                wrong.push(format!("{peer} reading {doc_name} was told {read:?}"));
            }
            if write != Outcome::Allowed {
                // A peer that may not even read must hear exactly what a missing document
                // says. A reader may see the document's own sync messages (it may read it),
                // and its changes are refused with the same `doc-unavailable`.
                let same = if read == Outcome::Allowed {
                    matches!(&write, Outcome::Refused(a) if a.last() == Some(&"doc-unavailable"))
                } else {
                    write == missing_write
                };
                if !same {
                    wrong.push(format!("{peer} writing {doc_name} was told {write:?}"));
                }
                if before != after {
                    wrong.push(format!(
                        "{peer} writing {doc_name} changed the relay's store"
                    ));
                }
            }
        }
        table.push('\n');
    }
    println!("access matrix (R read, W write, - the same answer as a missing document):\n{table}");
    assert!(wrong.is_empty(), "{table}\n{}", wrong.join("\n"));

    // Every refusal is logged with its reason, and never with what the change said.
    let log = std::fs::read_to_string(w._root.path().join("relay.log"))?;
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused changes the peer may not make"))
        .collect();
    for reason in [
        "reason=a canvasser may not see the plan (it reads the group's brief)",
        "reason=a change to the brief, which only the relay writes",
        "reason=a member does not read the canvassers' brief",
        "reason=a lead's change to a canvasser's contacts (leads read them)",
        "reason=a member's change to another canvasser's contacts",
        "reason=a change to the roster, which only the relay writes",
        "reason=a change to a board, which only the relay writes",
        "reason=not a member of the group",
        "reason=a device removed from the group",
        "reason=an unauthenticated connection",
        "reason=a new document that is neither a plan nor a contacts document",
    ] {
        assert!(
            refusals.iter().any(|l| l.contains(reason)),
            "no refusal logged with {reason:?}:\n{}",
            refusals.join("\n")
        );
    }
    assert!(
        !log.contains(CONTENT_MARKER),
        "a change's content reached the log"
    );
    println!("refusals logged: {}", refusals.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_refused_and_change_nothing() -> TestResult {
    let w = tokio::task::spawn_blocking(|| world().map_err(|e| e.to_string())).await??;
    let url = w.relay.url();
    let before = stored(&w.relay)?;

    // A forged signature: another key's signature under the lead's device id.
    let forger = Identity::generate()?;
    let mut proof = forger.connect_proof(&url, now_ms())?;
    proof.device = w.lead.id()?;
    let forged = tokio_tungstenite::connect_async(format!("{url}?{}", proof.to_query())).await;
    let err = refusal(forged)?;
    assert!(err.contains("signature does not match"), "{err}");

    // A replayed handshake: the same signed request twice.
    let lead = w.lead.identity()?;
    let once = format!("{url}?{}", lead.connect_proof(&url, now_ms())?.to_query());
    drop(tokio_tungstenite::connect_async(&once).await?);
    let err = refusal(tokio_tungstenite::connect_async(&once).await)?;
    assert!(err.contains("replayed"), "{err}");

    // An expired invite, signed by the lead itself.
    let (_, expired) = lead.invite(&w.group, Role::Member, now_ms() - 1_000, 5, None)?;
    let latecomer = Device::new(w._root.path(), "latecomer")?;
    let err = latecomer.refused(&["join", &expired, "--relay", &url])?;
    assert!(err.contains("expired"), "{err}");

    // An invite used past its uses.
    let once_only = field(
        &w.lead.run(&[
            "invite",
            "create",
            &w.group,
            "--role",
            "canvasser",
            "--uses",
            "1",
        ])?,
        "code",
    )?;
    let first = Device::new(w._root.path(), "first")?;
    first.run(&["join", &once_only, "--relay", &url])?;
    let after_first = stored(&w.relay)?;
    let err = latecomer.refused(&["join", &once_only, "--relay", &url])?;
    assert!(err.contains("already used 1 of 1"), "{err}");

    // A forged invite: the outsider signs one for the lead's group.
    let (_, forged_invite) =
        w.outsider
            .identity()?
            .invite(&w.group, Role::Lead, now_ms() + 60_000, 1, None)?;
    let err = latecomer.refused(&["join", &forged_invite, "--relay", &url])?;
    assert!(err.contains("not a lead"), "{err}");

    // A token for another group: the outsider's token opens its own group only.
    let err = w.outsider.refused(&["token", &w.group, "--relay", &url])?;
    assert!(err.contains("not a member"), "{err}");
    let token = field(
        &w.outsider
            .run(&["token", &w.other_group, "--relay", &url])?,
        "token",
    )?;
    let seen = probe(&url, &Who::Token(token), w.plan, None).await?;
    assert_eq!(seen, Outcome::Refused(vec!["doc-unavailable"]));

    // The wrong role removing a member.
    let err = w.canvasser.refused(&[
        "member",
        "remove",
        &w.group,
        &w.member.id()?,
        "--relay",
        &url,
    ])?;
    assert!(err.contains("only a lead can remove members"), "{err}");

    // Nothing stored changed, except the one legitimate join.
    let end = stored(&w.relay)?;
    assert_eq!(end, after_first);
    assert_eq!(before.0.len(), end.0.len());
    assert_eq!(end.1.len(), before.1.len() + 1);
    Ok(())
}

fn refusal(
    r: Result<
        (
            tokio_tungstenite::WebSocketStream<
                tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
            >,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        tokio_tungstenite::tungstenite::Error,
    >,
) -> Res<String> {
    match r {
        Ok(_) => Err("the connection was accepted".into()),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 401);
            Ok(String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).into_owned())
        }
        Err(e) => Err(format!("unexpected failure: {e}").into()),
    }
}

#[test]
fn a_removed_device_wipes_the_group_while_the_others_keep_syncing() -> TestResult {
    let w = world()?;
    // The removed device still has the group from before.
    assert_eq!(
        w.removed.run(&["meeting", "list", &w.group])?[0]["title"],
        "Quiet planning meeting"
    );
    let summary = w.removed.sync(&w.relay)?;
    assert_eq!(summary["wiped"], serde_json::json!([w.group]), "{summary}");

    // On disk: no trace of the group in the store's tables or in the file's bytes.
    let store = w.removed.dir.join("groundwork.db");
    let conn =
        groundwork_core::store::connect_raw(&store, &groundwork_tests::cli_key(&w.removed.dir))?;
    for table in [
        "groups",
        "documents",
        "chunks",
        "idx_meetings",
        "sync_states",
    ] {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
        assert_eq!(n, 0, "{table} still has rows");
    }
    drop(conn);
    let mut bytes = std::fs::read(&store)?;
    for extra in ["groundwork.db-wal"] {
        if let Ok(more) = std::fs::read(w.removed.dir.join(extra)) {
            bytes.extend(more);
        }
    }
    for secret in ["Quiet planning meeting", "Riverside", w.group.as_str()] {
        assert!(
            !bytes
                .windows(secret.len())
                .any(|win| win == secret.as_bytes()),
            "{secret:?} is still in the removed device's files"
        );
    }
    assert!(
        w.removed
            .refused(&["meeting", "list", &w.group])?
            .contains("no group")
    );

    // Everyone else keeps syncing; the roster shows the removal.
    w.member.run(&[
        "meeting",
        "agenda",
        &first_meeting(&w.member, &w.group)?,
        "--add",
        "still here",
    ])?;
    assert_eq!(w.member.sync(&w.relay)?["synced"], true);
    assert_eq!(w.lead.sync(&w.relay)?["synced"], true);
    let roster = w.lead.run(&["member", "list", &w.group])?;
    let removed_id = w.removed.id()?;
    let entry = roster
        .as_array()
        .and_then(|a| a.iter().find(|m| m["device_id"] == removed_id.as_str()))
        .ok_or("the removed device is not on the roster")?;
    assert!(entry["removed_at"].is_i64(), "{entry}");
    // And the removed device, syncing again, receives nothing of the group.
    let again = w.removed.sync(&w.relay)?;
    assert_eq!(again["documents"], 0, "{again}");
    assert!(
        w.removed
            .run(&["group", "list"])?
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let _ = &w.canvasser;
    Ok(())
}

fn first_meeting(d: &Device, group: &str) -> Res<String> {
    field(&d.run(&["meeting", "list", group])?[0], "meeting_id")
}

#[test]
fn with_a_signup_code_only_signed_up_devices_create_groups() -> TestResult {
    let root = tempfile::tempdir()?;
    let relay = Relay::options(&root.path().join("relay"))
        .arg("--signup-code")
        .arg("open-sesame")
        .start()?;
    let url = relay.url();
    let d = Device::new(root.path(), "organizer")?;
    field(
        &d.run(&["group", "create", "--name", "Needs a code"])?,
        "group_id",
    )?;
    // Without signing up, the relay will not take the group: nothing is stored.
    let refused = d.refused(&["sync", "--relay", &url, "--once", "--timeout", "2"])?;
    assert!(refused.contains("not everything is synced"), "{refused}");
    assert!(stored(&relay)?.1.is_empty(), "a member was recorded");
    let wrong = d.refused(&["signup", "sesame", "--relay", &url])?;
    assert!(wrong.contains("wrong sign-up code"), "{wrong}");
    d.run(&["signup", "open-sesame", "--relay", &url])?;
    assert_eq!(d.sync(&relay)?["synced"], true);
    assert_eq!(
        stored(&relay)?.1.len(),
        1,
        "the organizer is the group's lead"
    );
    Ok(())
}

#[test]
fn a_member_reports_their_own_lost_device_from_another() -> TestResult {
    let w = world()?;
    let url = w.relay.url();
    // The member's second device joins with an own-device invite (no lead needed).
    let code = field(&w.member.run(&["invite", "own-device", &w.group])?, "code")?;
    let second = Device::new(w._root.path(), "member's second phone")?;
    let joined = second.run(&["join", &code, "--relay", &url])?;
    assert_eq!(joined["role"], "member");
    // It may not remove someone else's device...
    let err = second.refused(&[
        "member",
        "remove",
        &w.group,
        &w.canvasser.id()?,
        "--relay",
        &url,
    ])?;
    assert!(err.contains("only a lead can remove members"), "{err}");
    // ...but reports its owner's first phone lost, which then wipes the group when it connects.
    second.run(&[
        "member",
        "remove",
        &w.group,
        &w.member.id()?,
        "--relay",
        &url,
    ])?;
    let summary = w.member.sync(&w.relay)?;
    assert_eq!(summary["wiped"], serde_json::json!([w.group]), "{summary}");
    assert!(
        w.member
            .run(&["group", "list"])?
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    assert_eq!(second.sync(&w.relay)?["synced"], true);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_group_shares_is_changed_by_its_leads_alone() -> TestResult {
    use automerge::ReadDoc;
    let w = tokio::task::spawn_blocking(|| world().map_err(|e| e.to_string())).await??;
    let base = w.relay.url();
    let plan = w.lead.document(&w.plan)?;
    // Turning sharing off, written straight into the plan (as a stock client could).
    let share_off = |am: &mut automerge::AutoCommit| -> Res<()> {
        let (_, profile) = am.get(automerge::ROOT, "profile")?.ok_or("no profile")?;
        am.put(&profile, "shares", false)?;
        Ok(())
    };
    let member = Who::Signed(std::sync::Arc::new(w.member.identity()?));
    let before = stored(&w.relay)?;
    let refused = probe_with(&base, &member, w.plan, Some(&plan), share_off).await?;
    assert!(
        matches!(&refused, Outcome::Refused(a) if a.last() == Some(&"doc-unavailable")),
        "a member turned sharing off: {refused:?}"
    );
    assert_eq!(stored(&w.relay)?, before, "the member's change was stored");
    // The member's ordinary edits still go through.
    let edit = probe(&base, &member, w.plan, Some(&plan)).await?;
    assert_eq!(edit, Outcome::Allowed);
    // The lead may.
    let lead = Who::Signed(std::sync::Arc::new(w.lead.identity()?));
    let plan = w.lead.document(&w.plan)?;
    let allowed = probe_with(&base, &lead, w.plan, Some(&plan), share_off).await?;
    assert_eq!(allowed, Outcome::Allowed);
    let log = std::fs::read_to_string(w._root.path().join("relay.log"))?;
    assert!(
        log.contains("reason=a member's change to what the group shares"),
        "{log}"
    );
    Ok(())
}

/// One figure of the relay's `/metrics`.
fn metric(relay: &Relay, name: &str) -> Res<f64> {
    let text = groundwork_tests::http_get(&relay.addr, "/metrics")?.1;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .ok_or_else(|| format!("no {name} in /metrics").into())
}

/// Waits (polling `/metrics`, at most 20 s) until the relay holds no group in memory: none of
/// its devices is connected.
fn until_no_group_held(relay: &Relay) -> TestResult {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let held = metric(relay, "groundwork_groups_held")?;
        if held == 0.0 {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(
                format!("the relay still holds {held} groups with no device connected").into(),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The relay holds only the groups a connected device is in: once every member has gone it
/// lets a group go (so a relay that served many groups once keeps little memory), and reads it
/// back as a member connects. Decisions about a group it does not hold are the same: an
/// outsider still hears "missing", even for a plan forged with the group's id (which, with the
/// group not in memory, would otherwise look like a new group to create), and a newcomer joins
/// by invite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_no_device_is_connected_to_leaves_memory_and_is_decided_alike() -> TestResult {
    let w = tokio::task::spawn_blocking(|| world().map_err(|e| e.to_string())).await??;
    let base = w.relay.url();
    until_no_group_held(&w.relay)?;
    let before = stored(&w.relay)?;
    let outsider = Who::Signed(std::sync::Arc::new(w.outsider.identity()?));
    let missing_read = probe(&base, &outsider, DocumentId::random()?, None).await?;
    assert_eq!(probe(&base, &outsider, w.plan, None).await?, missing_read);
    assert_eq!(
        probe(&base, &outsider, w.contacts, None).await?,
        missing_read
    );

    // A plan of the outsider's own making, claiming the group's id as its document and group.
    until_no_group_held(&w.relay)?;
    let own_plan: DocumentId = w.other_group.parse()?;
    let forged = w.outsider.document(&own_plan)?;
    let group = w.group.clone();
    let hijack = probe_with(&base, &outsider, w.plan, Some(&forged), |am| {
        am.put(automerge::ROOT, "group_id", group.as_str())?;
        Ok(())
    })
    .await?;
    assert!(
        matches!(&hijack, Outcome::Refused(a) if a.last() == Some(&"doc-unavailable")),
        "{hijack:?}"
    );
    assert_eq!(
        stored(&w.relay)?,
        before,
        "a refused plan changed the store"
    );

    // A member connecting has its group read back: it reads and writes the plan.
    until_no_group_held(&w.relay)?;
    let member = Who::Signed(std::sync::Arc::new(w.member.identity()?));
    assert_eq!(probe(&base, &member, w.plan, None).await?, Outcome::Allowed);
    let copy = w.member.document(&w.plan)?;
    assert_eq!(
        probe(&base, &member, w.plan, Some(&copy)).await?,
        Outcome::Allowed
    );

    // A newcomer joins while no one of the group is connected, and receives its plan.
    until_no_group_held(&w.relay)?;
    let newcomer = Device::new(w._root.path(), "newcomer")?;
    let code = field(
        &w.lead
            .run(&["invite", "create", &w.group, "--role", "member"])?,
        "code",
    )?;
    newcomer.run(&["join", &code, "--relay", &base])?;
    assert_eq!(
        newcomer.run(&["meeting", "list", &w.group])?[0]["title"],
        "Quiet planning meeting"
    );
    let roster = w
        .lead
        .sync(&w.relay)
        .and_then(|_| w.lead.run(&["member", "list", &w.group]))?;
    let newcomer_id = newcomer.id()?;
    assert!(
        roster
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["device_id"] == newcomer_id.as_str())),
        "the newcomer is not on the roster: {roster}"
    );
    Ok(())
}
