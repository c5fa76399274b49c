//! The relay's storage conformance suite: every case runs against the embedded SQLite store
//! and against a real PostgreSQL (a throw-away cluster this test starts, `groundwork_tests::pg`),
//! each on a fresh store. A case asserts what it must, and writes a transcript of everything
//! it read; the two engines' transcripts must be equal, so any query that answers differently
//! on one engine fails here by name.

use automerge::{AutoCommit, ReadDoc, transaction::Transactable};
use groundwork_core::campaign::{
    OfficialFilter, Shared, SharedAnswer, SharedMeeting, SharedOfficial,
};
use groundwork_core::identity::Role;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use groundwork_core::schema::vocab::{ContactResult, Office};
use groundwork_relay::access::AccessChange;
use groundwork_relay::store::{Location, RelayStore, Write};
use groundwork_relay::{campaign, session, web};
use groundwork_tests::Res;
use groundwork_tests::pg::Cluster;

/// One case: given a fresh store, exercise it, assert, and return a transcript.
type Case = fn(&RelayStore) -> Res<Vec<String>>;

const CASES: &[(&str, Case)] = &[
    ("chunks", chunks),
    ("access_tables", access_tables),
    ("invites_nonces_tokens", invites_nonces_tokens),
    ("batch_is_atomic", batch_is_atomic),
    ("drop_document", drop_document),
    ("campaign_index", campaign_index),
    ("staff_and_settings", staff_and_settings),
    ("compaction", compaction),
];

#[test]
fn every_case_answers_the_same_on_sqlite_and_postgresql() -> Res<()> {
    let cluster = Cluster::start()?;
    let key = groundwork_tests::test_key();
    let mut failures = Vec::new();
    for (i, (name, case)) in CASES.iter().enumerate() {
        let dir = tempfile::tempdir()?;
        let sqlite = RelayStore::open_at(&Location::Sqlite {
            dir: dir.path().to_owned(),
            key: key.clone(),
        })?;
        let url = cluster.create_database(&format!("case{i}"))?;
        let postgres = RelayStore::open_at(&Location::Postgres { url })?;
        let on_sqlite = case(&sqlite).map_err(|e| format!("{name} on SQLite: {e}"));
        let on_postgres = case(&postgres).map_err(|e| format!("{name} on PostgreSQL: {e}"));
        match (on_sqlite, on_postgres) {
            (Ok(a), Ok(b)) if a == b => eprintln!("{name}: ok ({} lines)", a.len()),
            (Ok(a), Ok(b)) => failures.push(format!(
                "{name}: the engines differ\nSQLite:\n  {}\nPostgreSQL:\n  {}",
                a.join("\n  "),
                b.join("\n  ")
            )),
            (a, b) => {
                failures.extend(a.err());
                failures.extend(b.err());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

fn doc(n: u8) -> DocumentId {
    DocumentId::from([n; 16])
}

/// A document saved in two chunks (a snapshot, then an incremental batch) loads whole.
fn chunks(store: &RelayStore) -> Res<Vec<String>> {
    // A fixed actor and time, so both engines' transcripts name the same heads.
    let mut am = AutoCommit::new().with_actor(automerge::ActorId::from(b"conformance".to_vec()));
    am.put(automerge::ROOT, "name", "Riverside")?;
    am.commit_with(automerge::transaction::CommitOptions::default().with_time(0));
    let first = am.save();
    am.put(automerge::ROOT, "county", "06065")?;
    am.commit_with(automerge::transaction::CommitOptions::default().with_time(0));
    let second = am.save_incremental();
    store.commit(&[Write::Chunk(doc(1), first.clone())])?;
    store.commit(&[Write::Chunk(doc(1), second)])?;
    // The same bytes again (a retried batch) change nothing.
    store.commit(&[Write::Chunk(doc(1), first)])?;
    let mut loaded = AutoCommit::load(&store.load(&doc(1))?.ok_or("doc 1 missing")?)?;
    assert_eq!(loaded.get_heads(), am.get_heads());
    assert!(store.load(&doc(2))?.is_none(), "a document never stored");
    let county = loaded
        .get(automerge::ROOT, "county")?
        .map(|(v, _)| v.to_string());
    Ok(vec![
        format!("heads {:?}", loaded.get_heads()),
        format!("county {county:?}"),
    ])
}

/// `n` changes of a document, each saved as its own chunk, by a fixed actor.
fn changes(am: &mut AutoCommit, from: usize, n: usize) -> Res<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for i in from..from + n {
        am.put(automerge::ROOT, format!("k{i}"), i as i64)?;
        am.commit_with(automerge::transaction::CommitOptions::default().with_time(0));
        out.push(am.save_incremental());
    }
    Ok(out)
}

/// Many chunks fold into one snapshot that loads as the same document; a chunk written after
/// is kept beside it.
fn compaction(store: &RelayStore) -> Res<Vec<String>> {
    let mut am = AutoCommit::new().with_actor(automerge::ActorId::from(b"compaction".to_vec()));
    for chunk in changes(&mut am, 0, 40)? {
        store.commit(&[Write::Chunk(doc(50), chunk)])?;
    }
    assert_eq!(store.compact(&doc(50), 100)?, 0, "under the threshold");
    assert_eq!(store.compact(&doc(50), 32)?, 40);
    assert_eq!(store.compact(&doc(50), 32)?, 0, "one snapshot now");
    for chunk in changes(&mut am, 40, 2)? {
        store.commit(&[Write::Chunk(doc(50), chunk)])?;
    }
    let mut loaded = AutoCommit::load(&store.load(&doc(50))?.ok_or("gone")?)?;
    assert_eq!(loaded.get_heads(), am.get_heads());
    assert_eq!(loaded.keys(automerge::ROOT).count(), 42);
    Ok(vec![format!("heads {:?}", loaded.get_heads())])
}

fn access_tables(store: &RelayStore) -> Res<Vec<String>> {
    let group = doc(10).to_string();
    store.commit(&[
        Write::Access(AccessChange::Group {
            group: group.clone(),
            roster: doc(11),
            created_by: "lead-device".into(),
            at: 1_000,
        }),
        Write::Access(AccessChange::Document {
            doc: doc(10),
            group: group.clone(),
            kind: DocKind::Plan,
            owner: None,
        }),
        Write::Access(AccessChange::Document {
            doc: doc(12),
            group: group.clone(),
            kind: DocKind::Contacts,
            owner: Some("canvasser-device".into()),
        }),
        Write::Access(AccessChange::Period {
            doc: doc(12),
            period: "2026-12".into(),
        }),
        Write::Access(AccessChange::Member {
            group: group.clone(),
            device: "lead-device".into(),
            role: Role::Lead,
            name: "Lead".into(),
            person: "lead-device".into(),
            at: 1_000,
        }),
        Write::Access(AccessChange::Member {
            group: group.clone(),
            device: "canvasser-device".into(),
            role: Role::Canvasser,
            name: "Canvasser".into(),
            person: "canvasser-device".into(),
            at: 2_000,
        }),
        Write::Access(AccessChange::Creator {
            device: "lead-device".into(),
        }),
        Write::Access(AccessChange::Creator {
            device: "lead-device".into(),
        }),
        Write::Access(AccessChange::Follow {
            device: "lead-device".into(),
            county: "06065".into(),
            follow: true,
            at: 3_000,
        }),
        Write::Access(AccessChange::Follow {
            device: "lead-device".into(),
            county: "48453".into(),
            follow: true,
            at: 3_000,
        }),
    ])?;
    store.commit(&[
        Write::Access(AccessChange::Removed {
            group: group.clone(),
            device: "canvasser-device".into(),
            at: 4_000,
        }),
        Write::Access(AccessChange::Wiped {
            group: group.clone(),
            device: "canvasser-device".into(),
            at: 5_000,
        }),
        Write::Access(AccessChange::Follow {
            device: "lead-device".into(),
            county: "48453".into(),
            follow: false,
            at: 6_000,
        }),
    ])?;
    // At startup: every document's id and the tables about devices; a group's own rows are
    // read as one of its devices connects.
    let startup = store.access_rows()?;
    let mut known = startup.known.clone();
    known.sort();
    assert_eq!(known, vec![doc(10), doc(12)]);
    assert_eq!(startup.unreadable, 0);
    // Startup reads the tables about devices only: who may create groups, who follows what.
    let mut devices = startup.changes.clone();
    devices.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        devices,
        vec![
            AccessChange::Creator {
                device: "lead-device".into()
            },
            AccessChange::Follow {
                device: "lead-device".into(),
                county: "06065".into(),
                follow: true,
                at: 0,
            },
        ]
    );
    assert_eq!(store.group_ids()?, vec![group.clone()]);
    assert_eq!(store.groups_of("canvasser-device")?, vec![group.clone()]);
    assert!(store.groups_of("stranger")?.is_empty());
    assert!(
        store
            .group_rows(&["no-such-group".into()])?
            .changes
            .is_empty()
    );
    let rows = store.group_rows(std::slice::from_ref(&group))?;
    assert_eq!(rows.unreadable, 0);
    let has = |change: &AccessChange| rows.changes.contains(change);
    // The canvasser's removal and wipe come after its join, as they happened.
    let at = |change: &AccessChange| rows.changes.iter().position(|c| c == change);
    let joined = at(&AccessChange::Member {
        group: group.clone(),
        device: "canvasser-device".into(),
        role: Role::Canvasser,
        name: "Canvasser".into(),
        person: "canvasser-device".into(),
        at: 2_000,
    });
    let removed = at(&AccessChange::Removed {
        group: group.clone(),
        device: "canvasser-device".into(),
        at: 4_000,
    });
    let wiped = at(&AccessChange::Wiped {
        group: group.clone(),
        device: "canvasser-device".into(),
        at: 5_000,
    });
    assert!(
        joined.is_some() && joined < removed && removed < wiped,
        "{:?}",
        rows.changes
    );
    assert!(has(&AccessChange::Group {
        group: group.clone(),
        roster: doc(11),
        created_by: "lead-device".into(),
        at: 1_000,
    }));
    // A period comes after the document it is of.
    let document = at(&AccessChange::Document {
        doc: doc(12),
        group: group.clone(),
        kind: DocKind::Contacts,
        owner: Some("canvasser-device".into()),
    });
    let period = at(&AccessChange::Period {
        doc: doc(12),
        period: "2026-12".into(),
    });
    assert!(document.is_some() && document < period);
    let mut out: Vec<String> = rows.changes.iter().map(|c| format!("{c:?}")).collect();
    out.sort();
    // A removed device invited again is a member again.
    let rejoined = AccessChange::Member {
        group: group.clone(),
        device: "canvasser-device".into(),
        role: Role::Member,
        name: "Canvasser".into(),
        person: "canvasser-device".into(),
        at: 7_000,
    };
    store.commit(&[Write::Access(rejoined.clone())])?;
    let again = store.group_rows(std::slice::from_ref(&group))?;
    assert!(again.changes.contains(&rejoined));
    assert!(
        !again.changes.iter().any(
            |c| matches!(c, AccessChange::Removed { device, .. } if device == "canvasser-device")
        ),
        "a member invited again is no longer removed"
    );
    out.push(format!("rejoined {:?}", again.changes));
    Ok(out)
}

fn invites_nonces_tokens(store: &RelayStore) -> Res<Vec<String>> {
    assert_eq!(store.invite_uses("invite-1")?, 0);
    assert!(store.take_invite_use("invite-1", 2)?);
    assert!(store.take_invite_use("invite-1", 2)?);
    assert!(!store.take_invite_use("invite-1", 2)?, "a third use of two");
    assert!(store.take_invite_use("invite-2", 1)?);
    assert!(!store.take_invite_use("invite-3", 0)?);
    assert_eq!(store.invite_uses("invite-1")?, 2);
    assert_eq!(store.invite_uses("invite-2")?, 1);
    store.commit(&[
        Write::Nonce("nonce-old".into(), 100),
        Write::Nonce("nonce-new".into(), 10_000),
        Write::Token {
            hash: "hash-old".into(),
            device: "device".into(),
            group: "group".into(),
            expires_at: 100,
        },
        Write::Token {
            hash: "hash-new".into(),
            device: "device".into(),
            group: "group".into(),
            expires_at: 10_000,
        },
    ])?;
    assert!(store.nonce_seen("nonce-old")? && store.nonce_seen("nonce-new")?);
    assert!(!store.nonce_seen("nonce-other")?);
    // A nonce is used once.
    assert!(store.use_nonce("nonce-fresh", 10_000)?);
    assert!(!store.use_nonce("nonce-fresh", 10_000)?);
    assert!(!store.use_nonce("nonce-new", 10_000)?);
    assert_eq!(store.token("hash-old", 1_000)?, None, "expired");
    assert_eq!(
        store.token("hash-new", 1_000)?,
        Some(("device".into(), "group".into(), 10_000))
    );
    store.purge_expired(1_000)?;
    assert!(!store.nonce_seen("nonce-old")? && store.nonce_seen("nonce-new")?);
    let kept = format!("token {:?}", store.token("hash-new", 1_000)?);
    // A removal takes the device's tokens in that group with it.
    store.commit(&[Write::Access(AccessChange::Removed {
        group: "group".into(),
        device: "device".into(),
        at: 2_000,
    })])?;
    assert_eq!(store.token("hash-new", 1_000)?, None, "removed");
    Ok(vec![kept])
}

/// A batch that fails part-way leaves nothing of itself behind.
fn batch_is_atomic(store: &RelayStore) -> Res<Vec<String>> {
    let group = |at| {
        Write::Access(AccessChange::Group {
            group: "g".into(),
            roster: doc(21),
            created_by: "lead".into(),
            at,
        })
    };
    store.commit(&[group(1)])?;
    let failed = store.commit(&[
        Write::Chunk(doc(20), b"bytes of a batch".to_vec()),
        Write::Access(AccessChange::Creator {
            device: "creator".into(),
        }),
        group(2),
    ]);
    let error = failed
        .err()
        .ok_or("a second group of the same id was accepted")?;
    assert!(!error.is_full() && !error.is_unavailable(), "{error}");
    assert!(
        store.load(&doc(20))?.is_none(),
        "a chunk of the failed batch stayed"
    );
    assert!(store.access_rows()?.changes.is_empty());
    Ok(vec!["rolled back".into()])
}

fn drop_document(store: &RelayStore) -> Res<Vec<String>> {
    store.commit(&[
        Write::Chunk(doc(30), b"a".to_vec()),
        Write::Chunk(doc(30), b"b".to_vec()),
        Write::Chunk(doc(31), b"c".to_vec()),
        Write::Access(AccessChange::Document {
            doc: doc(30),
            group: "g".into(),
            kind: DocKind::Contacts,
            owner: Some("d".into()),
        }),
        Write::Canvass {
            doc: doc(30),
            group: "g".into(),
            period: "2026-12".into(),
            contacts: vec![("c1".into(), ContactResult::Talked, Some(4))],
        },
    ])?;
    assert_eq!(store.load(&doc(30))?.as_deref(), Some(&b"ab"[..]));
    store.commit(&[Write::Access(AccessChange::Dropped { doc: doc(30) })])?;
    assert!(store.load(&doc(30))?.is_none());
    assert_eq!(store.load(&doc(31))?.as_deref(), Some(&b"c"[..]));
    assert!(!store.access_rows()?.known.contains(&doc(30)));
    let dump = store.campaign(campaign::dump)?;
    assert!(dump.is_empty(), "{dump:?}");
    Ok(vec![])
}

fn shared(group: &str, name: &str, county: &str, at: i64) -> Res<Shared> {
    let key = format!("{county}/sheriff");
    Ok(Shared {
        group_id: group.into(),
        group_name: name.into(),
        officials: vec![SharedOfficial {
            key: key.clone(),
            county: county.into(),
            office: Office::Sheriff,
            place: None,
            name: "Sheriff Example".into(),
            title: "Sheriff".into(),
        }],
        meetings: vec![SharedMeeting {
            meeting_id: format!("m-{group}"),
            official: key.clone(),
            status: "scheduled".parse()?,
            at: Some(at),
            zone: Some("America/Chicago".into()),
            place: Some("County building".into()),
            title: Some("Ask the sheriff".into()),
            visibility: "public".parse()?,
            joins: None,
        }],
        answers: vec![
            SharedAnswer {
                official: key.clone(),
                rule: "R1".parse()?,
                existing: "none".parse()?,
                position: "will-support".parse()?,
                conditions: None,
                legal_basis: None,
                recorded_at: at,
            },
            SharedAnswer {
                official: key,
                rule: "R6".parse()?,
                existing: "partial".parse()?,
                position: "supports-with-changes".parse()?,
                conditions: Some("would sign if 'shall' read 'should'".into()),
                legal_basis: None,
                recorded_at: at + 1,
            },
        ],
    })
}

/// The campaign index and every read of it (staff's, the boards', the dashboard's).
fn campaign_index(store: &RelayStore) -> Res<Vec<String>> {
    let a = shared(
        "group-a",
        "Riverside Freedom City",
        "06065",
        1_800_000_000_000,
    )?;
    let mut b = shared(
        "group-b",
        "Moreno Valley Neighbours",
        "06065",
        1_800_000_100_000,
    )?;
    // Group B's meeting is the one the office combined with A's.
    b.meetings[0].joins = Some("group-a/m-group-a".into());
    b.answers[0].position = "opposes".parse()?;
    let c = shared("group-c", "Austin Together", "48453", 1_800_000_200_000)?;
    store.commit(&[
        Write::Campaign {
            group: "group-a".into(),
            shared: Some(Box::new(a)),
            at: 10,
        },
        Write::Campaign {
            group: "group-b".into(),
            shared: Some(Box::new(b)),
            at: 20,
        },
        Write::Campaign {
            group: "group-c".into(),
            shared: Some(Box::new(c)),
            at: 30,
        },
        Write::Canvass {
            doc: doc(40),
            group: "group-a".into(),
            period: "2026-12".into(),
            contacts: vec![
                ("c1".into(), ContactResult::Talked, Some(5)),
                ("c2".into(), ContactResult::NotHome, None),
            ],
        },
        Write::Access(AccessChange::Board {
            county: "06065".into(),
            doc: doc(41),
            at: 40,
        }),
    ])?;
    let mut out = store.campaign(campaign::dump)?;
    let officials = store.campaign(|c| campaign::officials(c, &OfficialFilter::default()))?;
    assert_eq!(officials.len(), 2);
    let riverside = store
        .campaign(|c| campaign::official(c, "06065/sheriff"))?
        .ok_or("the Riverside sheriff is missing")?;
    assert_eq!(riverside.official.groups.len(), 2);
    // The latest answer on R1 is B's (recorded later): opposes.
    assert_eq!(riverside.official.answers[0].position.as_str(), "opposes");
    out.push(format!("officials {officials:?}"));
    out.push(format!("official {riverside:?}"));
    let board = store.campaign(|c| campaign::board(c, "06065"))?;
    assert_eq!(board.officials.len(), 1);
    out.push(format!("board {board:?}"));
    out.push(format!(
        "counties of a {:?}",
        store.campaign(|c| campaign::counties_of(c, "group-a"))?
    ));
    let mut pairs = store.campaign(campaign::county_groups)?;
    pairs.sort();
    out.push(format!("county groups {pairs:?}"));
    out.push(format!(
        "boards {:?}",
        store.campaign(campaign::board_docs)?
    ));
    out.push(format!(
        "shares {:?}",
        store.campaign(|c| campaign::shares(c, "group-a"))?
    ));
    // The dashboard's reads.
    let overview = store.campaign(web::data::overview)?;
    assert_eq!(overview.doors.count, 2);
    assert_eq!(overview.conversations.count, 1);
    out.push(format!("overview {overview:?}"));
    for sort in ["place", "support", "groups", "name"] {
        let sort = web::data::Sort::parse(sort).ok_or("a sort")?;
        let page =
            store.campaign(|c| web::data::matrix(c, &web::data::Filter::default(), sort, 1, 10))?;
        assert_eq!(page.total, 2);
        out.push(format!("matrix {page:?}"));
    }
    out.push(format!("map {:?}", store.campaign(web::data::counties)?));
    let public = store.campaign(|c| web::data::public_meetings(c, None, None, None))?;
    assert_eq!(public.len(), 3);
    out.push(format!("public {public:?}"));
    // A group that stops sharing leaves the index at once, and other groups' meetings no
    // longer name its meetings.
    store.commit(&[Write::Campaign {
        group: "group-a".into(),
        shared: None,
        at: 50,
    }])?;
    let dump = store.campaign(campaign::dump)?;
    assert!(!dump.iter().any(|l| l.contains("group-a")), "{dump:?}");
    out.extend(dump);
    Ok(out)
}

fn staff_and_settings(store: &RelayStore) -> Res<Vec<String>> {
    assert!(store.campaign(|c| campaign::set_staff(c, "staff-device", true, 1))?);
    assert!(!store.campaign(|c| campaign::set_staff(c, "staff-device", true, 2))?);
    assert_eq!(store.staff()?, vec!["staff-device".to_owned()]);
    let link = store.campaign(|c| session::create_link(c, "staff-device", 10))?;
    assert!(link.is_some());
    assert!(store.campaign(|c| campaign::set_staff(c, "staff-device", false, 3))?);
    assert!(store.staff()?.is_empty());
    assert!(!store.campaign(|c| campaign::is_staff(c, "staff-device"))?);
    assert_eq!(store.quota_mib()?, None);
    store.set_quota_mib(Some(512))?;
    assert_eq!(store.quota_mib()?, Some(512));
    store.set_quota_mib(None)?;
    assert_eq!(store.quota_mib()?, None);
    // Other settings are the operator's: an unreadable quota reads as none, never an error.
    store.campaign(|c| {
        c.execute(
            "INSERT INTO settings (key, value) VALUES ('quota_mib', 'lots')",
            &[],
        )
    })?;
    assert_eq!(store.quota_mib()?, None);
    store.probe_write(1)?;
    Ok(vec![])
}

/// What only PostgreSQL does: nodes share one storage id; a node whose connection was cut
/// (the server restarted) reconnects on its next statement, and what was acknowledged before
/// survived the immediate stop.
#[test]
fn postgresql_nodes_share_an_id_and_survive_a_restart() -> Res<()> {
    let cluster = Cluster::start()?;
    let url = cluster.create_database("shared")?;
    let a = RelayStore::open_at(&Location::Postgres { url: url.clone() })?;
    let b = RelayStore::open_at(&Location::Postgres { url: url.clone() })?;
    let id = a.shared_storage_id()?;
    assert_eq!(b.shared_storage_id()?, id);
    a.commit(&[Write::Chunk(doc(1), b"acknowledged".to_vec())])?;
    cluster.stop_immediately()?;
    let down = b.load(&doc(1)).err().ok_or("a stopped database answered")?;
    assert!(down.is_unavailable(), "{down}");
    cluster.start_server()?;
    assert_eq!(b.load(&doc(1))?.as_deref(), Some(&b"acknowledged"[..]));
    assert_eq!(a.load(&doc(1))?.as_deref(), Some(&b"acknowledged"[..]));
    // The schema is applied once, however many nodes open it.
    let c = RelayStore::open_at(&Location::Postgres { url })?;
    assert_eq!(c.shared_storage_id()?, id);
    Ok(())
}

/// Two nodes compact the same document at once while a third writes to it: the advisory lock
/// makes them take turns, each deletes only the chunks it read, and nothing is lost.
#[test]
fn two_nodes_compacting_one_document_lose_nothing() -> Res<()> {
    let cluster = Cluster::start()?;
    let url = cluster.create_database("compaction")?;
    let open = || RelayStore::open_at(&Location::Postgres { url: url.clone() });
    let writer = open()?;
    let mut am = AutoCommit::new().with_actor(automerge::ActorId::from(b"writer".to_vec()));
    for chunk in changes(&mut am, 0, 200)? {
        writer.commit(&[Write::Chunk(doc(60), chunk)])?;
    }
    let later = changes(&mut am, 200, 100)?;
    let folded = std::thread::scope(|s| -> Res<Vec<usize>> {
        let compactors: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| -> Result<usize, String> {
                    let node = open().map_err(|e| e.to_string())?;
                    let mut folded = 0;
                    for _ in 0..5 {
                        folded += node.compact(&doc(60), 8).map_err(|e| e.to_string())?;
                    }
                    Ok(folded)
                })
            })
            .collect();
        for chunk in &later {
            writer.commit(&[Write::Chunk(doc(60), chunk.clone())])?;
        }
        compactors
            .into_iter()
            .map(|c| {
                c.join()
                    .map_err(|_| "a compactor panicked")?
                    .map_err(Into::into)
            })
            .collect()
    })?;
    assert!(folded.iter().sum::<usize>() >= 200, "{folded:?}");
    let mut loaded = AutoCommit::load(&writer.load(&doc(60))?.ok_or("gone")?)?;
    assert_eq!(loaded.get_heads(), am.get_heads());
    assert_eq!(loaded.keys(automerge::ROOT).count(), 300);
    Ok(())
}

/// Over TCP the relay speaks TLS to PostgreSQL and checks its certificate: against the CA the
/// URL names as libpq does (`sslrootcert`), the session is TLS; without it, a server whose
/// certificate no known CA signed is refused by name, and so is a CA file that is not there.
#[test]
fn tls_to_postgresql_checks_the_servers_certificate() -> Res<()> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let cluster = Cluster::start_with_tls(&cert.cert.pem(), &cert.key_pair.serialize_pem())?;
    cluster.create_database("tls")?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.cert.pem())?;
    let base = format!(
        "postgres://{}@localhost:{}/tls",
        cluster.role(),
        cluster.tcp_port().ok_or("no TCP port")?
    );
    let verified = format!("{base}?sslmode=verify-full&sslrootcert={}", ca.display());
    let store = RelayStore::open_at(&Location::Postgres { url: verified })?;
    store.commit(&[Write::Chunk(doc(70), b"over TLS".to_vec())])?;
    let tls: bool = store.campaign(|c| {
        c.query_opt(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )?
        .map_or(Ok(false), |r| r.get(0))
    })?;
    assert!(tls, "the session is not TLS");
    let refused = |url: String| -> String {
        RelayStore::open_at(&Location::Postgres { url })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let unknown = refused(format!("{base}?sslmode=require"));
    assert!(unknown.contains("certificate"), "{unknown}");
    let missing = refused(format!("{base}?sslrootcert=/nowhere/ca.pem"));
    assert!(missing.contains("sslrootcert /nowhere/ca.pem"), "{missing}");
    Ok(())
}

/// A database URL that does not work is refused with what is wrong, the password left out.
#[test]
fn a_bad_database_url_is_refused_by_name() {
    let url = "postgres://relay:hunter2@127.0.0.1:1/groundwork";
    let error = RelayStore::open_at(&Location::Postgres { url: url.into() })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("postgres://relay:***@127.0.0.1:1/groundwork"),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}
