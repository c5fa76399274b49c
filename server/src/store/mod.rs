//! The relay's store: every document as chunks, and the tables access control decides from:
//! groups, members and their roles, which group and kind each document is, invite
//! redemptions, connection nonces and tokens (the campaign index's tables are `campaign.rs`'s).
//! By default one SQLite file under the data directory; with `--database postgres://...`, a
//! PostgreSQL database that several relay nodes share. The queries are written once over
//! [`crate::db::Sql`]; what differs per engine (opening, the schema, quotas, compaction of
//! the files) is here, matched on [`Db`].

use std::path::{Path, PathBuf};

use groundwork_core::ids::DocumentId;
use groundwork_core::store::StoreKey;
use rusqlite::Connection;

mod schema;
mod write;

use crate::access::{AccessChange, AccessRows};
use crate::cluster::Append;
use crate::db::{Db, DbError, Engine, Postgres, Sql};
use schema::{MIGRATIONS, migrate_postgres};
pub use write::Write;
use write::write;

/// Relay store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("relay store {place}: {source}")]
    Db {
        /// The SQLite file, or the PostgreSQL URL without its password.
        place: String,
        /// What the engine said.
        source: DbError,
    },
    /// The data directory could not be made.
    #[error("creating data directory {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file could not be read or made (unreadable, readable by others, not 64 hex
    /// digits).
    #[error("relay key {}: {source}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why (boxed: the core's error is large, and this one is rare).
        source: Box<groundwork_core::Error>,
    },
    /// The store is encrypted and its key file is not there.
    #[error(
        "{} is encrypted and its key file {} does not exist: restore the key file, or name it \
         with --key-file (or GROUNDWORK_RELAY_KEY)",
        db.display(),
        path.display()
    )]
    KeyMissing {
        /// The key file looked for.
        path: PathBuf,
        /// The store.
        db: PathBuf,
    },
    /// The key does not open the store.
    #[error(
        "{} cannot be opened with this key (a wrong key, or not a relay's database); \
         nothing was changed",
        path.display()
    )]
    WrongKey {
        /// The store.
        path: PathBuf,
    },
}

/// The store's file name in the data directory.
pub const DB_FILE: &str = "relay.db";

/// Whether `path` is an unencrypted SQLite file (a relay from before encryption at rest).
pub fn is_plaintext(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// A SQLite failure on the file at `path`.
fn sqlite_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Db {
        place: path.display().to_string(),
        source: DbError::Sqlite(source),
    }
}

/// Opens `path` with `key`, checking the key opens it (the first read decrypts page 1).
fn connect(path: &Path, key: &StoreKey) -> Result<Connection, StoreError> {
    let sql = sqlite_err(path);
    groundwork_core::store::ensure_sqlite_ready();
    let conn = Connection::open(path).map_err(&sql)?;
    conn.execute_batch(&key.pragma()).map_err(&sql)?;
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(conn),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::NotADatabase =>
        {
            Err(StoreError::WrongKey {
                path: path.to_owned(),
            })
        }
        Err(e) => Err(sql(e)),
    }
}

/// Encrypts a relay's store from before encryption at rest: exports it into an encrypted copy,
/// makes that durable, and renames it over the original (so a crash leaves one or the other
/// whole). The plaintext file's blocks are freed, not overwritten: SECURITY.md says what that
/// means for an old disk.
fn encrypt_in_place(path: &Path, key: &StoreKey) -> Result<(), StoreError> {
    let sql = sqlite_err(path);
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".encrypting");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    {
        groundwork_core::store::ensure_sqlite_ready();
        let plain = Connection::open(path).map_err(&sql)?;
        // Everything in the write-ahead log goes into the main file first.
        plain
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(&sql)?;
        let version: i64 = plain
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&sql)?;
        plain
            .execute(
                &format!(
                    "ATTACH DATABASE ?1 AS encrypted KEY \"x'{}'\"",
                    key.to_hex()
                ),
                [tmp.to_string_lossy()],
            )
            .map_err(&sql)?;
        plain
            .query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))
            .map_err(&sql)?;
        plain
            .execute_batch(&format!(
                "PRAGMA encrypted.user_version = {version}; DETACH DATABASE encrypted;"
            ))
            .map_err(&sql)?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
    }
    tracing::info!(file = %path.display(), "encrypted the relay's store at rest");
    Ok(())
}

/// The least a storage probe writes: room for a typical batch of changes.
pub const PROBE_MIN_BYTES: u64 = 256 * 1024;
/// The most it writes.
pub const PROBE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Where the relay keeps its data.
#[derive(Clone)]
pub enum Location {
    /// `relay.db` in a data directory, encrypted with a key (the default).
    Sqlite {
        /// The data directory.
        dir: PathBuf,
        /// The key of the file at rest.
        key: StoreKey,
    },
    /// A PostgreSQL database (a `postgres://` URL), which several relay nodes may share.
    Postgres {
        /// The URL.
        url: String,
    },
}

impl std::fmt::Debug for Location {
    /// Never the key nor the database's password: locations reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite { dir, .. } => f.debug_struct("Sqlite").field("dir", dir).finish(),
            Location::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &crate::db::redact(url))
                .finish(),
        }
    }
}

/// The relay's store. Owned by the hub thread alone; its methods take `&self` (the
/// connection is behind a `RefCell`, as rusqlite's statement cache is) so that a read can
/// happen while the hub's documents are borrowed.
pub struct RelayStore {
    db: std::cell::RefCell<Db>,
    /// Where it is, for errors (the file, or the URL without its password).
    place: String,
    /// This node's name in the change log (PostgreSQL): random per process, so that a node
    /// skips its own rows and a restarted node reads everything it did not write itself.
    node: String,
}

impl StoreError {
    /// Whether the storage is full (the disk, or the operator's quota).
    pub fn is_full(&self) -> bool {
        matches!(self, StoreError::Db { source, .. } if source.is_full())
    }

    /// Whether the database could not be reached (PostgreSQL down or cut off).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Db { source, .. } if source.is_unavailable())
    }
}

/// Rows as (text, text) pairs.
fn pairs(rows: Vec<crate::db::Row>) -> Result<Vec<(String, String)>, DbError> {
    rows.into_iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect()
}

impl RelayStore {
    /// Opens (or creates) `relay.db` in `dir`, encrypted with `key`. A store from before
    /// encryption at rest is encrypted with it first; a wrong key is refused by name, with
    /// nothing changed.
    pub fn open(dir: &Path, key: &StoreKey) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        if is_plaintext(&path) {
            encrypt_in_place(&path, key)?;
        }
        let sql = sqlite_err(&path);
        let conn = connect(&path, key)?;
        // Deleted rows are overwritten where that costs no extra I/O.
        conn.pragma_update(None, "secure_delete", "fast")
            .map_err(&sql)?;
        conn.pragma_update(None, "journal_mode", "wal")
            .map_err(&sql)?;
        // Durable before acknowledged: every commit reaches the disk.
        conn.pragma_update(None, "synchronous", "full")
            .map_err(&sql)?;
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .map_err(&sql)? as usize;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.unchecked_transaction().map_err(&sql)?;
            tx.execute_batch(migration).map_err(&sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(&sql)?;
            tx.commit().map_err(&sql)?;
        }
        drop(sql);
        Ok(Self::new(Db::Sqlite { conn, path }))
    }

    /// Connects to the PostgreSQL database at `url` and brings its schema up to date. The
    /// database must exist; the relay makes its tables.
    pub fn open_postgres(url: &str) -> Result<Self, StoreError> {
        let err = |source| StoreError::Db {
            place: crate::db::redact(url),
            source,
        };
        let mut pg = Postgres::connect(url).map_err(err)?;
        migrate_postgres(&mut pg).map_err(err)?;
        Ok(Self::new(Db::Postgres(Box::new(pg))))
    }

    fn new(db: Db) -> Self {
        let node = DocumentId::random().map_or_else(|_| "node".into(), |d| d.to_string());
        Self {
            place: db.describe(),
            db: std::cell::RefCell::new(db),
            node,
        }
    }

    /// This node's name in the change log.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Opens the store at `location`.
    pub fn open_at(location: &Location) -> Result<Self, StoreError> {
        match location {
            Location::Sqlite { dir, key } => Self::open(dir, key),
            Location::Postgres { url } => Self::open_postgres(url),
        }
    }

    fn err(&self, source: DbError) -> StoreError {
        StoreError::Db {
            place: self.place.clone(),
            source,
        }
    }

    /// Which engine holds the store.
    pub fn engine(&self) -> Engine {
        self.db.borrow().engine()
    }

    /// Everything stored of a document, concatenated, or `None`.
    pub fn load(&self, doc: &DocumentId) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self
            .db
            .borrow_mut()
            .query(
                "SELECT bytes FROM chunks WHERE doc_id = $1 ORDER BY seq",
                &[&doc.to_string()],
            )
            .map_err(|e| self.err(e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for row in rows {
            out.extend(row.get::<Vec<u8>>(0).map_err(|e| self.err(e))?);
        }
        Ok(Some(out))
    }

    /// The operator's quota for the store, in MiB (`None`: only the disk limits it).
    pub fn quota_mib(&self) -> Result<Option<u64>, StoreError> {
        quota_mib(&mut *self.db.borrow_mut()).map_err(|e| self.err(e))
    }

    /// Records the operator's quota (`None` clears it); a running relay applies it within a
    /// second.
    pub fn set_quota_mib(&self, quota: Option<u64>) -> Result<(), StoreError> {
        set_quota_mib(&mut *self.db.borrow_mut(), quota).map_err(|e| self.err(e))
    }

    /// Holds the store to `quota` MiB from now on (`None`: no limit but the disk's). SQLite
    /// refuses to grow the file past it ("database or disk is full"), as a full disk would; a
    /// quota below the file's present size holds it at that size. On PostgreSQL the
    /// database's own limits apply (its disk, its operator's tablespace quotas), and this
    /// does nothing.
    pub fn apply_quota(&self, quota: Option<u64>) -> Result<(), StoreError> {
        let db = self.db.borrow();
        let Db::Sqlite { conn, path } = &*db else {
            return Ok(());
        };
        let sql = sqlite_err(path);
        let page_size: i64 = conn
            .pragma_query_value(None, "page_size", |r| r.get::<_, String>(0))
            .map_err(&sql)?
            .parse()
            .unwrap_or(4096);
        // SQLite's own largest page count when there is no quota.
        let pages = quota.map_or(4_294_967_294, |mib| {
            (mib.saturating_mul(1024 * 1024) / page_size.max(512) as u64).max(1)
        });
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(&sql)
    }

    /// Whether the store can take a batch of `bytes` again: writes (and durably commits) a
    /// probe that size (within [`PROBE_MIN_BYTES`] and [`PROBE_MAX_BYTES`]), then frees it for
    /// the next real write.
    pub fn probe_write(&self, bytes: u64) -> Result<(), StoreError> {
        let bytes = bytes.clamp(PROBE_MIN_BYTES, PROBE_MAX_BYTES);
        let mut db = self.db.borrow_mut();
        let probe = match db.engine() {
            Engine::Sqlite => db.execute(
                "INSERT INTO storage_probe (bytes) VALUES (zeroblob($1))",
                &[&bytes],
            ),
            Engine::Postgres => db.execute(
                "INSERT INTO storage_probe (bytes) VALUES ($1)",
                &[&vec![0u8; bytes as usize]],
            ),
        };
        probe
            .and_then(|_| db.execute("DELETE FROM storage_probe", &[]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Contacts documents whose period is not recorded yet (from before it was).
    pub fn contacts_without_period(&self) -> Result<Vec<DocumentId>, StoreError> {
        let rows = self
            .db
            .borrow_mut()
            .query(
                "SELECT doc_id FROM documents WHERE kind = 'contacts' AND period IS NULL",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(doc) = row.get::<String>(0).map_err(|e| self.err(e))?.parse() {
                out.push(doc);
            }
        }
        Ok(out)
    }

    /// Makes erased documents' bytes leave the files: on SQLite the write-ahead log is
    /// emptied and the file rebuilt without free pages (VACUUM; its time grows with the
    /// store). On PostgreSQL the deleted rows' space is reclaimed by its autovacuum, and the
    /// operator's backups keep what they kept: README, "Past one machine", says so.
    pub fn compact_files(&self) -> Result<(), StoreError> {
        let db = self.db.borrow();
        let Db::Sqlite { conn, path } = &*db else {
            return Ok(());
        };
        conn.execute_batch(
            "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .map_err(sqlite_err(path))
    }

    /// Runs a read (or a small write) of the campaign tables.
    pub fn campaign<T>(
        &self,
        read: impl FnOnce(&mut dyn Sql) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        read(&mut *self.db.borrow_mut()).map_err(|e| self.err(e))
    }

    /// Makes a batch of writes durable in one transaction (group commit).
    pub fn commit(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut db = self.db.borrow_mut();
        if db.engine() == Engine::Sqlite {
            return db
                .transaction(|tx| writes.iter().try_for_each(|w| write(tx, w)))
                .map_err(|e: DbError| self.err(e));
        }
        // PostgreSQL: another node's batch may take the same rows in another order. Each
        // batch takes its documents' sequence rows first, in one order, which leaves few
        // deadlocks; one that still happens (or a serialization failure) rolled the whole
        // batch back, and it is tried again.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let done = db.transaction(|tx| {
                writes.iter().try_for_each(|w| write(tx, w))?;
                let batch: Vec<Append<'_>> = writes
                    .iter()
                    .filter_map(|w| match w {
                        Write::Chunk(doc, bytes) => Some(Append::Chunk(doc, bytes)),
                        other => other.access_change().map(Append::Change),
                    })
                    .collect();
                crate::cluster::append(tx, &self.node, &batch)
            });
            match done {
                Err(e) if attempt < 5 && e.is_transient() => {
                    tracing::debug!(error = %e, attempt, "a batch met another node's; trying again");
                }
                done => return done.map_err(|e: DbError| self.err(e)),
            }
        }
    }

    /// How many bytes the store takes: the SQLite file, or the PostgreSQL database.
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let mut db = self.db.borrow_mut();
        if let Db::Sqlite { path, .. } = &*db {
            return std::fs::metadata(path)
                .map(|m| m.len())
                .map_err(|source| StoreError::Io {
                    path: path.clone(),
                    source,
                });
        }
        db.query_opt("SELECT pg_database_size(current_database())", &[])
            .and_then(|r| r.map_or(Ok(0), |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    /// The storage id every node on this database shares (made by the first node to ask).
    pub fn shared_storage_id(&self) -> Result<String, StoreError> {
        let fresh = DocumentId::random()
            .map(|d| d.to_string())
            .map_err(|e| StoreError::Db {
                place: self.place.clone(),
                source: DbError::Type(format!("no randomness for a storage id: {e}")),
            })?;
        let read = |db: &mut Db| -> Result<String, DbError> {
            db.execute(
                "INSERT INTO settings (key, value) VALUES ('storage_id', $1)
                 ON CONFLICT (key) DO NOTHING",
                &[&fresh],
            )?;
            match db.query_opt("SELECT value FROM settings WHERE key = 'storage_id'", &[])? {
                Some(r) => r.get(0),
                None => Err(DbError::Type("the storage id was not kept".into())),
            }
        };
        read(&mut self.db.borrow_mut()).map_err(|e| self.err(e))
    }

    /// Where a node starts reading the change log: the oldest transaction still running now
    /// (PostgreSQL's snapshot xmin). Taken before the node reads its tables, so whatever
    /// commits meanwhile is read again from the log, and applied twice at worst. `None` on
    /// SQLite: one node, no log.
    pub fn log_cursor(&self) -> Result<Option<u64>, StoreError> {
        if self.engine() != Engine::Postgres {
            return Ok(None);
        }
        let mut db = self.db.borrow_mut();
        crate::cluster::xmin(&mut *db)
            .map(Some)
            .map_err(|e| self.err(e))
    }

    /// Other nodes' change log rows from transactions at or past `since` (a cursor from
    /// [`RelayStore::log_cursor`] or from the previous read), and the next cursor. One
    /// snapshot for both, so a transaction still running now is read next time, whatever the
    /// order its rows were numbered in. Rows come again while their transaction may be in
    /// flight: the caller skips ids it applied. Also records how far this node has read.
    pub fn read_log(&self, since: u64) -> Result<(u64, Vec<crate::cluster::LogEntry>), StoreError> {
        let node = self.node.clone();
        self.db
            .borrow_mut()
            .transaction(|tx| crate::cluster::read(tx, &node, since))
            .map_err(|e: DbError| self.err(e))
    }

    /// Folds a document's chunks into one snapshot when it has more than `over`, deleting
    /// exactly the chunks it read (a chunk written meanwhile, by this node or another, stays);
    /// how many it folded. On PostgreSQL a per-document advisory lock, held for the
    /// transaction, makes two nodes compacting the same document take turns: the second reads
    /// the first's snapshot, and has nothing to fold. A chunk automerge cannot read leaves the
    /// document as it is.
    pub fn compact(&self, doc: &DocumentId, over: usize) -> Result<usize, StoreError> {
        let id = doc.to_string();
        let mut db = self.db.borrow_mut();
        // Most documents unload with a few chunks: a count (from the index) settles them.
        let count: i64 = db
            .query_opt("SELECT COUNT(*) FROM chunks WHERE doc_id = $1", &[&id])
            .and_then(|r| r.map_or(Ok(0), |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        if count <= over as i64 {
            return Ok(0);
        }
        db.transaction(|tx| {
                let engine = tx.engine();
                if engine == Engine::Postgres {
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7270611))",
                        &[&id],
                    )?;
                }
                // A chunk's key: its place on SQLite, its content on PostgreSQL.
                let column = match engine {
                    Engine::Sqlite => "seq",
                    Engine::Postgres => "hash",
                };
                let rows = tx.query(
                    &format!("SELECT {column}, bytes FROM chunks WHERE doc_id = $1 ORDER BY seq"),
                    &[&id],
                )?;
                if rows.len() <= over {
                    return Ok(0);
                }
                let mut all = Vec::new();
                for r in &rows {
                    all.extend(r.get::<Vec<u8>>(1)?);
                }
                let snapshot = match groundwork_core::schema::guarded(|| {
                    automerge::AutoCommit::load(&all).map(|mut d| d.save())
                }) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(doc = %doc, error = %e, "a document's chunks cannot be folded; left as they are");
                        return Ok(0);
                    }
                };
                for r in &rows {
                    let key = r.values().first().cloned().unwrap_or(crate::db::Value::Null);
                    tx.execute(
                        &format!("DELETE FROM chunks WHERE doc_id = $1 AND {column} = $2"),
                        &[&id, &key],
                    )?;
                }
                write(tx, &Write::Chunk(*doc, snapshot))?;
                Ok(rows.len())
            })
            .map_err(|e: DbError| self.err(e))
    }

    /// A chunk by its content key, if it is still stored.
    pub fn chunk(&self, doc: &DocumentId, hash: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.db
            .borrow_mut()
            .query_opt(
                "SELECT bytes FROM chunks WHERE doc_id = $1 AND hash = $2",
                &[&doc.to_string(), &hash],
            )
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(|e| self.err(e))
    }

    /// Deletes change log rows every live node has read (a node is live while it read the log
    /// in the last `live_for`), and forgets nodes gone for a day. A node that comes back after
    /// its rows were pruned rebuilds its tables from the database before it serves.
    pub fn prune_log(&self, live_for: std::time::Duration) -> Result<u64, StoreError> {
        crate::cluster::prune(&mut *self.db.borrow_mut(), live_for).map_err(|e| self.err(e))
    }

    /// Everything access decisions need.
    pub fn access_rows(&self) -> Result<AccessRows, StoreError> {
        self.read_access_rows().map_err(|e| self.err(e))
    }

    fn read_access_rows(&self) -> Result<AccessRows, DbError> {
        let mut guard = self.db.borrow_mut();
        let db = &mut *guard;
        let mut rows = AccessRows::default();
        for r in db.query("SELECT doc_id FROM documents", &[])? {
            let text: String = r.get(0)?;
            match text.parse() {
                Ok(doc) => rows.known.push(doc),
                Err(e) => rows.unreadable(&format!("documents.doc_id: {e}")),
            }
        }
        for r in db.query("SELECT device_id FROM creators", &[])? {
            rows.changes
                .push(AccessChange::Creator { device: r.get(0)? });
        }
        for (device, county) in
            pairs(db.query("SELECT device_id, county FROM board_followers", &[])?)?
        {
            rows.changes.push(AccessChange::Follow {
                device,
                county,
                follow: true,
                at: 0,
            });
        }
        rows.staff = crate::campaign::staff(db)?
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        Ok(rows)
    }

    /// The access rows of `groups`: each one's roster, members (removed ones included) and
    /// documents with their periods. The relay holds a group's rows while one of its members
    /// is connected, and reads them here as the first one connects.
    pub fn group_rows(&self, groups: &[String]) -> Result<AccessRows, StoreError> {
        self.read_group_rows(groups).map_err(|e| self.err(e))
    }

    fn read_group_rows(&self, groups: &[String]) -> Result<AccessRows, DbError> {
        let mut guard = self.db.borrow_mut();
        let db = &mut *guard;
        let mut rows = AccessRows::default();
        for group in groups {
            for r in db.query(
                "SELECT roster_doc, created_by, created_at FROM groups WHERE group_id = $1",
                &[group],
            )? {
                match r.get::<String>(0)?.parse() {
                    Ok(roster) => rows.changes.push(AccessChange::Group {
                        group: group.clone(),
                        roster,
                        created_by: r.get(1)?,
                        at: r.get(2)?,
                    }),
                    Err(e) => rows.unreadable(&format!("groups.roster_doc: {e}")),
                }
            }
            for r in db.query(
                "SELECT device_id, role, name, joined_at, removed_at, wiped_at, person
                 FROM members WHERE group_id = $1 ORDER BY device_id",
                &[group],
            )? {
                let device: String = r.get(0)?;
                let role: String = r.get(1)?;
                let role = match role.parse() {
                    Ok(role) => role,
                    Err(e) => {
                        rows.unreadable(&format!("members.role: {e}"));
                        continue;
                    }
                };
                let person: Option<String> = r.get(6)?;
                rows.changes.push(AccessChange::Member {
                    group: group.clone(),
                    device: device.clone(),
                    role,
                    name: r.get(2)?,
                    person: person.unwrap_or_else(|| device.clone()),
                    at: r.get(3)?,
                });
                if let Some(at) = r.get::<Option<i64>>(4)? {
                    rows.changes.push(AccessChange::Removed {
                        group: group.clone(),
                        device: device.clone(),
                        at,
                    });
                }
                if let Some(at) = r.get::<Option<i64>>(5)? {
                    rows.changes.push(AccessChange::Wiped {
                        group: group.clone(),
                        device,
                        at,
                    });
                }
            }
            let mut periods = Vec::new();
            for r in db.query(
                "SELECT doc_id, kind, owner, period FROM documents WHERE group_id = $1
                 ORDER BY doc_id",
                &[group],
            )? {
                let doc = match r.get::<String>(0)?.parse() {
                    Ok(doc) => doc,
                    Err(e) => {
                        rows.unreadable(&format!("documents.doc_id: {e}"));
                        continue;
                    }
                };
                let kind: String = r.get(1)?;
                let Some(kind) = groundwork_core::schema::DocKind::parse(&kind) else {
                    // Still known (every id is, from startup): answered as hidden, never as new.
                    rows.known.push(doc);
                    rows.unreadable(&format!("documents.kind: unknown kind {kind:?}"));
                    continue;
                };
                rows.changes.push(AccessChange::Document {
                    doc,
                    group: group.clone(),
                    kind,
                    owner: r.get(2)?,
                });
                if let Some(period) = r.get::<Option<String>>(3)? {
                    periods.push(AccessChange::Period { doc, period });
                }
            }
            // After the documents they are of.
            rows.changes.extend(periods);
        }
        Ok(rows)
    }

    /// The groups `device` is in or was removed from (until it wipes them).
    pub fn groups_of(&self, device: &str) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .borrow_mut()
            .query(
                "SELECT group_id FROM members WHERE device_id = $1",
                &[&device],
            )
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|r| r.get(0).map_err(|e| self.err(e)))
            .collect()
    }

    /// Every group's id (a group's id is its plan's document id), in order.
    pub fn group_ids(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .borrow_mut()
            .query("SELECT group_id FROM groups ORDER BY group_id", &[])
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|r| r.get(0).map_err(|e| self.err(e)))
            .collect()
    }

    /// A second connection to the same database, for the web pages: reads the campaign
    /// index, writes sign-in links' use and sessions. The hub thread keeps the store open
    /// meanwhile (SQLite's WAL lets both work at once).
    pub fn web_connection(location: &Location) -> Result<Db, StoreError> {
        match location {
            Location::Sqlite { dir, key } => {
                let conn = Self::connect_raw(dir, key)?;
                Ok(Db::Sqlite {
                    conn,
                    path: dir.join(DB_FILE),
                })
            }
            Location::Postgres { url } => Postgres::connect(url)
                .map(|pg| Db::Postgres(Box::new(pg)))
                .map_err(|source| StoreError::Db {
                    place: crate::db::redact(url),
                    source,
                }),
        }
    }

    /// A plain connection to `relay.db` in `dir`, unlocked with `key` (a wrong key refused by
    /// name): for the web pages, inspection tools and tests.
    pub fn connect_raw(dir: &Path, key: &StoreKey) -> Result<Connection, StoreError> {
        let path = dir.join(DB_FILE);
        let conn = connect(&path, key)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite_err(&path))?;
        Ok(conn)
    }

    /// Campaign staff now, by device id (the operator's tool may change them while the relay
    /// runs; the relay reads them again on its tick).
    pub fn staff(&self) -> Result<Vec<String>, StoreError> {
        crate::campaign::staff(&mut *self.db.borrow_mut())
            .map(|rows| rows.into_iter().map(|(d, _)| d).collect())
            .map_err(|e| self.err(e))
    }

    /// Takes one use of an invite that may be used `max` times; `false` if they are all used.
    /// One statement, so that of two nodes taking the last use at once, one gets it.
    pub fn take_invite_use(&self, invite: &str, max: u32) -> Result<bool, StoreError> {
        if max == 0 {
            return Ok(false);
        }
        self.db
            .borrow_mut()
            .query_opt(
                "INSERT INTO invite_uses (invite_id, uses) VALUES ($1, 1)
                 ON CONFLICT (invite_id) DO UPDATE SET uses = invite_uses.uses + 1
                 WHERE invite_uses.uses < $2
                 RETURNING uses",
                &[&invite, &max],
            )
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// How many times an invite was redeemed.
    pub fn invite_uses(&self, invite: &str) -> Result<u32, StoreError> {
        self.db
            .borrow_mut()
            .query_opt(
                "SELECT uses FROM invite_uses WHERE invite_id = $1",
                &[&invite],
            )
            .and_then(|r| r.map_or(Ok(0), |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    /// Records a connection nonce until `expires_at`; `false` if it was already recorded (a
    /// replay, here or on another node sharing the database). One statement, so that of two
    /// nodes recording the same nonce at once, one wins.
    pub fn use_nonce(&self, nonce: &str, expires_at: i64) -> Result<bool, StoreError> {
        self.db
            .borrow_mut()
            .execute(
                "INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&nonce, &expires_at],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Whether a nonce was seen (and not yet expired).
    pub fn nonce_seen(&self, nonce: &str) -> Result<bool, StoreError> {
        self.db
            .borrow_mut()
            .exists("SELECT 1 FROM nonces WHERE nonce = $1", &[&nonce])
            .map_err(|e| self.err(e))
    }

    /// Forgets nonces and tokens that expired before `now`.
    pub fn purge_expired(&self, now: i64) -> Result<(), StoreError> {
        let mut db = self.db.borrow_mut();
        db.execute("DELETE FROM nonces WHERE expires_at < $1", &[&now])
            .and_then(|_| db.execute("DELETE FROM tokens WHERE expires_at < $1", &[&now]))
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The device and group a token opens, if it is live.
    pub fn token(&self, hash: &str, now: i64) -> Result<Option<(String, String, i64)>, StoreError> {
        self.db
            .borrow_mut()
            .query_opt(
                "SELECT device_id, group_id, expires_at FROM tokens
                 WHERE token_hash = $1 AND expires_at >= $2",
                &[&hash, &now],
            )
            .and_then(|row| {
                row.map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .transpose()
            })
            .map_err(|e| self.err(e))
    }
}

/// The operator's quota for the store in MiB, as recorded in `settings`.
pub fn quota_mib(db: &mut dyn Sql) -> Result<Option<u64>, DbError> {
    let value: Option<String> =
        match db.query_opt("SELECT value FROM settings WHERE key = 'quota_mib'", &[])? {
            Some(r) => r.get(0)?,
            None => None,
        };
    Ok(value.and_then(|v| v.parse().ok()))
}

/// Records the operator's quota (`None` clears it); a running relay applies it on its next
/// tick.
pub fn set_quota_mib(db: &mut dyn Sql, quota: Option<u64>) -> Result<(), DbError> {
    match quota {
        Some(mib) => db.execute(
            "INSERT INTO settings (key, value) VALUES ('quota_mib', $1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&mib.to_string()],
        )?,
        None => db.execute("DELETE FROM settings WHERE key = 'quota_mib'", &[])?,
    };
    Ok(())
}
