//! The device store: one SQLite file (WAL, synchronous=FULL) holding this device's identity, its
//! groups, every document as chunks, and the index that queries read.
//!
//! Durability rule: an edit is one SQLite transaction holding the document change and the index
//! rows it implies. When [`Store::commit`] returns, the edit survives `kill -9` and power loss.

mod disk;
pub mod index;
mod key;

use std::path::{Path, PathBuf};

use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::error::{Error, Result};
use crate::ids::DocumentId;
use crate::schema::DocKind;

/// Marks a SQLite file as a Groundwork device store (`PRAGMA application_id`, "GWrk").
const APPLICATION_ID: i32 = 0x4757_726b;

/// The migrations, in order; the store's `user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_sync.sql"),
    include_str!("migrations/003_connection.sql"),
    include_str!("migrations/004_relay.sql"),
    include_str!("migrations/005_campaign.sql"),
    include_str!("migrations/006_boards.sql"),
    include_str!("migrations/007_retention.sql"),
    include_str!("migrations/008_relay_aliases.sql"),
    include_str!("migrations/009_meeting_zones.sql"),
];

pub use disk::{check_data_dir, create_data_dir};
use disk::{check_not_truncated, check_size, exists, plaintext_sqlite, read_only};
pub use key::StoreKey;

/// The file name of the store inside a data directory.
pub const STORE_FILE: &str = "groundwork.db";

/// An open device store.
pub struct Store {
    /// The one connection this handle writes through.
    conn: Connection,
    /// Where the file is, for error messages.
    path: PathBuf,
}

/// One stored chunk of a document.
#[derive(Debug)]
pub struct Chunk {
    /// Its position in the document's chunk sequence.
    pub seq: i64,
    /// Whether it is a whole-document snapshot.
    pub snapshot: bool,
    /// The automerge bytes.
    pub bytes: Vec<u8>,
}

/// A document registered on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocRecord {
    /// Its id.
    pub doc_id: DocumentId,
    /// The group it belongs to; `None` for a county board, which belongs to no group.
    pub group_id: Option<String>,
    /// What kind of document it is.
    pub kind: DocKind,
}

impl Store {
    /// Creates a new store file at `path`, encrypted with `key`. Fails if a file is already
    /// there.
    pub fn create(path: &Path, key: &StoreKey) -> Result<Self> {
        if exists(path) {
            return Err(Error::AlreadyInitialized {
                path: path.to_owned(),
            });
        }
        ensure_sqlite_ready();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch(&key.pragma())?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure()?;
        store
            .conn
            .pragma_update(None, "application_id", APPLICATION_ID)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store file with its key. A file that is missing, not a store, opened
    /// with the wrong key, truncated, or from a newer version gives an error naming it; the file
    /// is never modified in that case.
    pub fn open(path: &Path, key: &StoreKey) -> Result<Self> {
        if !exists(path) {
            return Err(Error::NotInitialized {
                path: path.to_owned(),
            });
        }
        let corrupt = |reason: String| Error::CorruptStore {
            path: path.to_owned(),
            reason,
        };
        // SQLite's "malformed" is, for a file that decrypts, a damaged or cut-short file; its
        // "read-only" and "cannot open" are, for a directory or file this user cannot write,
        // no damage at all, and are named as what they are.
        let damaged = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                corrupt(format!("the file is damaged or truncated ({e})"))
            }
            Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => {
                read_only(path).unwrap_or_else(|| corrupt(e.to_string()))
            }
            _ => corrupt(e.to_string()),
        };
        check_size(path)?;
        ensure_sqlite_ready();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(damaged)?;
        conn.execute_batch(&key.pragma()).map_err(damaged)?;
        // SQLite opens a file it may not write read-only, without a word; the store writes in
        // every command (sync state, retention), so it says so now rather than half way.
        if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
            return Err(read_only(path).unwrap_or_else(|| Error::ReadOnly {
                what: "store file",
                path: path.to_owned(),
            }));
        }
        // The first read decrypts page 1: a wrong key (or a file that is no store at all) fails
        // here, before anything is written.
        let app_id: i32 = match conn.pragma_query_value(None, "application_id", |r| r.get(0)) {
            Ok(id) => id,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::NotADatabase =>
            {
                return Err(if plaintext_sqlite(path) {
                    corrupt("it is an unencrypted SQLite file, not a Groundwork store".into())
                } else {
                    Error::WrongKey {
                        path: path.to_owned(),
                    }
                });
            }
            Err(e) => return Err(damaged(e)),
        };
        check_not_truncated(&conn, path).map_err(|e| match e {
            Error::Sqlite(e) => damaged(e),
            other => other,
        })?;
        if app_id != APPLICATION_ID {
            return Err(corrupt(format!(
                "it is not a Groundwork store (application id {app_id:#x})"
            )));
        }
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure().map_err(|e| match e {
            Error::Sqlite(e) => damaged(e),
            other => other,
        })?;
        store.migrate()?;
        Ok(store)
    }

    /// The store file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read access for queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Holds the file to at most `max_bytes` (`None`: SQLite's own largest size).
    pub fn limit(&self, max_bytes: Option<u64>) -> Result<()> {
        // SQLCipher answers `page_size` as text.
        let page_size: u64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get::<_, String>(0))?
            .parse()
            .unwrap_or(4096);
        let pages = max_bytes.map_or(4_294_967_294, |b| (b / page_size.max(512)).max(1));
        self.conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        Ok(())
    }

    /// Starts a write transaction. `IMMEDIATE` takes the write lock at once, so that what the
    /// transaction reads (new chunks from another process) stays true until it commits.
    pub fn begin(&mut self) -> Result<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    fn configure(&mut self) -> Result<()> {
        // WAL lets queries run while a write is in progress; synchronous=FULL makes a commit
        // durable against power loss, not only against a crash of this process.
        self.conn
            .pragma_update(None, "journal_mode", disk::JOURNAL_MODE)?;
        self.conn.pragma_update(None, "synchronous", "full")?;
        // Deleted data is overwritten where that costs no extra I/O (a wipe also VACUUMs).
        self.conn.pragma_update(None, "secure_delete", "fast")?;
        // Pages in SQLite's cache are decrypted once; SQLCipher pays for every page it has to
        // read again, so the cache is larger than SQLite's 2 MiB default.
        self.conn.pragma_update(None, "cache_size", -16_000)?;
        self.conn.pragma_update(None, "foreign_keys", "on")?;
        self.conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(Error::NewerStore {
                path: self.path.clone(),
                found: version,
                supported,
            });
        }
        if version == supported {
            return Ok(());
        }
        // A migration may rebuild a table others refer to (SQLite cannot alter a column's
        // constraints in place): foreign keys are off while they run, as SQLite's procedure
        // says, and checked before each commits.
        self.conn.pragma_update(None, "foreign_keys", "off")?;
        let result = (|| {
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                let tx = self.begin()?;
                apply_migration(&tx, sql)?;
                tx.pragma_update(None, "user_version", i as i64 + 1)?;
                tx.commit()?;
                tracing::info!(migration = i + 1, "applied store migration");
            }
            Ok(())
        })();
        self.conn.pragma_update(None, "foreign_keys", "on")?;
        result
    }
}

/// Runs one migration in `tx` and refuses to let it commit if it broke a foreign key.
fn apply_migration(tx: &Transaction<'_>, sql: &str) -> Result<()> {
    tx.execute_batch(sql)?;
    let broken: i64 = tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if broken > 0 {
        return Err(Error::Invalid {
            what: "store migration",
            reason: format!(
                "it would leave {broken} rows pointing at nothing; nothing was changed"
            ),
        });
    }
    Ok(())
}

/// SQLite only notices a truncated file when a query reaches a missing page; a store that opens
/// and later fails half way through a command is worse than one that refuses to open. The header
/// says how many pages the main file holds (after the last checkpoint); the file must be at
/// least that long.
/// Initialises SQLite and SQLCipher once per process, before any connection is made. Two
/// threads opening their first connections at once (a relay and a device in one test process)
/// once made a `PRAGMA key` fail in CI with SQLCipher's "error occurred with PRAGMA key"; the
/// first keyed use is now done here, alone. Every opener (this crate's and the relay's) calls it.
///
/// It also silences SQLCipher's own log, which it writes straight to stderr (a wrong key
/// printed three `ERROR CORE` lines before our message): every failure it logs also comes
/// back as an SQLite error, which the caller turns into one that names its cause. The
/// setting is process-wide, and the first connection is the earliest it can be made.
pub fn ensure_sqlite_ready() {
    static READY: std::sync::Once = std::sync::Once::new();
    READY.call_once(|| {
        let warmed = Connection::open_in_memory().and_then(|c| {
            for quiet in ["PRAGMA cipher_log_level = NONE", "PRAGMA cipher_log = off"] {
                if let Err(e) = c.query_row(quiet, [], |_| Ok(())).optional() {
                    tracing::warn!(error = %e, "silencing SQLCipher's log failed");
                }
            }
            c.execute_batch(&StoreKey::from_bytes([0; 32]).pragma())?;
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        });
        if let Err(e) = warmed {
            tracing::warn!(error = %e, "warming SQLCipher up failed");
        }
    });
}

/// A plain SQLite connection to a store file, unlocked with its key: for inspection and repair
/// tools and tests. Everything else goes through [`Store`].
pub fn connect_raw(path: &Path, key: &StoreKey) -> Result<Connection> {
    ensure_sqlite_ready();
    let conn = Connection::open(path)?;
    conn.execute_batch(&key.pragma())?;
    Ok(conn)
}

/// The most a document may hold as this device stores it (the sum of its chunks), grown by
/// this device's own edits: a group's plan, or one device's contacts of one month. About a
/// thousand pages of meeting notes, or five thousand contacts. Every document must fit one
/// sync message to a device that has none of it, and be quick to open on a phone: a larger
/// one would be neither (README, "Limits").
pub const MAX_DOCUMENT_BYTES: u64 = 1024 * 1024;

/// Appends a chunk made by this device's own edit, refusing it (`Error::DocumentTooLarge`)
/// if it would grow the document past [`MAX_DOCUMENT_BYTES`]; returns its seq.
pub fn append_own_chunk(
    tx: &Transaction<'_>,
    doc: &DocumentId,
    what: &'static str,
    bytes: &[u8],
) -> Result<i64> {
    let stored: i64 = tx.query_row(
        "SELECT COALESCE(SUM(length(bytes)), 0) FROM chunks WHERE doc_id = ?1",
        params![doc.to_string()],
        |r| r.get(0),
    )?;
    let size = stored.unsigned_abs() + bytes.len() as u64;
    if size > MAX_DOCUMENT_BYTES {
        return Err(Error::DocumentTooLarge {
            what,
            bytes: size,
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    append_chunk(tx, doc, bytes)
}

/// Appends a chunk to a document and returns its seq.
pub fn append_chunk(tx: &Transaction<'_>, doc: &DocumentId, bytes: &[u8]) -> Result<i64> {
    let seq: i64 = tx.query_row(
        "INSERT INTO chunks (doc_id, seq, snapshot, bytes)
         VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM chunks WHERE doc_id = ?1), 0, ?2)
         RETURNING seq",
        params![doc.to_string(), bytes],
        |r| r.get(0),
    )?;
    Ok(seq)
}

/// The chunks of a document after `after_seq`, in order.
pub fn chunks_after(conn: &Connection, doc: &DocumentId, after_seq: i64) -> Result<Vec<Chunk>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, snapshot, bytes FROM chunks WHERE doc_id = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![doc.to_string(), after_seq], |r| {
        Ok(Chunk {
            seq: r.get(0)?,
            snapshot: r.get(1)?,
            bytes: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many chunks a document has.
pub fn chunk_count(conn: &Connection, doc: &DocumentId) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM chunks WHERE doc_id = ?1")?
        .query_row(params![doc.to_string()], |r| r.get(0))?)
}

/// Replaces the chunks of `doc` up to and including `upto` by one snapshot, if they are still
/// exactly the `count` chunks the snapshot was made from. Returns whether it did.
pub fn replace_with_snapshot(
    tx: &Transaction<'_>,
    doc: &DocumentId,
    upto: i64,
    count: i64,
    snapshot: &[u8],
) -> Result<bool> {
    let id = doc.to_string();
    let now: i64 = tx.query_row(
        "SELECT COUNT(*) FROM chunks WHERE doc_id = ?1 AND seq <= ?2",
        params![id, upto],
        |r| r.get(0),
    )?;
    if now != count {
        return Ok(false);
    }
    tx.execute(
        "DELETE FROM chunks WHERE doc_id = ?1 AND seq <= ?2",
        params![id, upto],
    )?;
    tx.execute(
        "INSERT INTO chunks (doc_id, seq, snapshot, bytes) VALUES (?1, ?2, 1, ?3)",
        params![id, upto, snapshot],
    )?;
    Ok(true)
}

/// Every table that keeps something of a document by its id, its registration last. Erasing a
/// document deletes its rows from each: retention, a removal's wipe and a replaced board all
/// erase through [`erase_document`], so a table added here is erased everywhere (a test checks
/// that every table with a `doc_id` column is listed).
pub const DOCUMENT_TABLES: &[&str] = &[
    "chunks",
    "sync_states",
    "sync_status",
    "idx_contacts",
    "documents",
];

/// Every index table that keeps a group's rows by its id (rebuilt from its plan or brief):
/// [`erase_group_index`] deletes them (a test checks every table with a `group_id` column is
/// here, in [`DOCUMENT_TABLES`], or is the group's own registration).
pub const GROUP_INDEX_TABLES: &[&str] = &[
    "idx_targets",
    "idx_meetings",
    "idx_actions",
    "idx_responses",
];

/// Deletes one document and everything kept of it by id: its chunks, sync states and status,
/// its contacts' index rows, and its registration. (The plan's index rows are kept by group:
/// see [`erase_group_index`].)
pub fn erase_document(tx: &Transaction<'_>, doc_id: &str) -> Result<()> {
    for table in DOCUMENT_TABLES {
        tx.execute(&format!("DELETE FROM {table} WHERE doc_id = ?1"), [doc_id])?;
    }
    Ok(())
}

/// Deletes a group's rows from the index tables kept by group.
pub fn erase_group_index(tx: &Transaction<'_>, group_id: &str) -> Result<()> {
    for table in GROUP_INDEX_TABLES {
        tx.execute(
            &format!("DELETE FROM {table} WHERE group_id = ?1"),
            [group_id],
        )?;
    }
    Ok(())
}

/// Deletes a group's documents of these kinds, with everything kept of them (chunks, sync
/// state, the plan's index rows); returns how many there were.
pub fn drop_group_documents(tx: &Transaction<'_>, group_id: &str, kinds: &[&str]) -> Result<usize> {
    let mut dropped = 0;
    for kind in kinds {
        let docs: Vec<String> = {
            let mut stmt = tx
                .prepare_cached("SELECT doc_id FROM documents WHERE group_id = ?1 AND kind = ?2")?;
            let rows = stmt.query_map(params![group_id, kind], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for id in &docs {
            erase_document(tx, id)?;
        }
        if *kind == "plan" && !docs.is_empty() {
            for table in ["idx_actions", "idx_responses"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE group_id = ?1"),
                    [group_id],
                )?;
            }
        }
        dropped += docs.len();
    }
    Ok(dropped)
}

/// Registers a document.
pub fn insert_document(
    tx: &Transaction<'_>,
    record: &DocRecord,
    owner: Option<&str>,
    period: Option<&str>,
) -> Result<()> {
    tx.execute(
        "INSERT INTO documents (doc_id, group_id, kind, owner, period) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            record.doc_id.to_string(),
            record.group_id,
            record.kind.as_str(),
            owner,
            period
        ],
    )?;
    Ok(())
}

/// The contacts document of a canvasser for a period, if it exists.
pub fn contacts_doc(
    conn: &Connection,
    group_id: &str,
    owner: &str,
    period: &str,
) -> Result<Option<DocumentId>> {
    let id: Option<String> = conn
        .prepare_cached(
            "SELECT doc_id FROM documents
             WHERE kind = 'contacts' AND group_id = ?1 AND owner = ?2 AND period = ?3",
        )?
        .query_row(params![group_id, owner, period], |r| r.get(0))
        .optional()?;
    id.map(|id| id.parse()).transpose()
}

/// Every document on this device.
pub fn documents(conn: &Connection) -> Result<Vec<DocRecord>> {
    let mut stmt = conn.prepare("SELECT doc_id, group_id, kind FROM documents ORDER BY doc_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (doc_id, group_id, kind) = row?;
        let kind = DocKind::parse(&kind).ok_or_else(|| Error::Invalid {
            what: "document kind",
            reason: format!("document {doc_id} has unknown kind {kind:?}"),
        })?;
        out.push(DocRecord {
            doc_id: doc_id.parse()?,
            group_id,
            kind,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{DOCUMENT_TABLES, GROUP_INDEX_TABLES, MIGRATIONS};
    use rusqlite::Connection;

    type Res = Result<(), Box<dyn std::error::Error>>;

    /// Retention, a removal's wipe and a replaced board erase through one function each: a
    /// table that keeps a document's or a group's rows and is missing from their lists would
    /// survive the erasing, breaking a privacy promise. Every table of the current schema
    /// with a `doc_id` column is erased with its document; every one with a `group_id` column,
    /// with its group.
    #[test]
    fn every_table_keeping_a_document_or_group_is_erased_with_it() -> Res {
        let conn = Connection::open_in_memory()?;
        for sql in MIGRATIONS {
            conn.execute_batch(sql)?;
        }
        let with = |column: &str| -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare(
                "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c
                 WHERE m.type = 'table' AND c.name = ?1 ORDER BY m.name",
            )?;
            let rows = stmt.query_map([column], |r| r.get(0))?;
            rows.collect()
        };
        let by_doc = with("doc_id")?;
        assert!(by_doc.len() >= 5, "{by_doc:?}");
        for table in &by_doc {
            assert!(
                DOCUMENT_TABLES.contains(&table.as_str()),
                "{table} keeps rows by doc_id and is not in DOCUMENT_TABLES"
            );
        }
        for table in with("group_id")? {
            assert!(
                table == "groups"
                    || GROUP_INDEX_TABLES.contains(&table.as_str())
                    || DOCUMENT_TABLES.contains(&table.as_str()),
                "{table} keeps rows by group_id and is not erased with its group"
            );
        }
        Ok(())
    }

    /// Migration 006 rebuilds `documents`: a board filed under a group before keeps its
    /// chunks and belongs to no group after; other documents keep their group, and foreign
    /// keys still hold.
    #[test]
    fn boards_leave_their_group_and_keep_their_chunks() -> Res {
        let mut conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "on")?;
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql)?;
        }
        conn.execute_batch(
            "INSERT INTO groups (group_id, plan_doc, name, role, joined_at)
                 VALUES ('g', 'p', 'A group', 'lead', 0);
             INSERT INTO documents (doc_id, group_id, kind) VALUES ('p', 'g', 'plan');
             INSERT INTO documents (doc_id, group_id, kind) VALUES ('b', 'g', 'board');
             INSERT INTO chunks (doc_id, seq, snapshot, bytes) VALUES ('p', 1, 0, x'01');
             INSERT INTO chunks (doc_id, seq, snapshot, bytes) VALUES ('b', 1, 0, x'02');",
        )?;
        conn.pragma_update(None, "foreign_keys", "off")?;
        let tx = conn.transaction()?;
        super::apply_migration(&tx, MIGRATIONS[5])?;
        tx.commit()?;
        conn.pragma_update(None, "foreign_keys", "on")?;
        let groups: Vec<(String, Option<String>)> = conn
            .prepare("SELECT doc_id, group_id FROM documents ORDER BY doc_id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        assert_eq!(
            groups,
            [("b".into(), None), ("p".into(), Some("g".to_owned()))]
        );
        let chunks: i64 = conn.query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get(0))?;
        assert_eq!(chunks, 2);
        let broken: i64 =
            conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        assert_eq!(broken, 0);
        // Only a board may belong to no group.
        let orphan = conn.execute(
            "INSERT INTO documents (doc_id, group_id, kind) VALUES ('c', NULL, 'contacts')",
            [],
        );
        assert!(orphan.is_err());
        Ok(())
    }
}
