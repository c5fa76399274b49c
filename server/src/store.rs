//! The relay's store: one SQLite file under the data directory holding every document as
//! chunks, which group each document belongs to, and which devices sync each group.

use std::path::{Path, PathBuf};

use groundwork_core::ids::DocumentId;
use rusqlite::{Connection, OptionalExtension, params};

/// Relay store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("relay store {}: {source}", path.display())]
    Sqlite {
        /// The store file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The data directory could not be made.
    #[error("creating data directory {}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS chunks (
    doc_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    bytes   BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;
-- Which group a document belongs to (read from its root `group_id`; a plan's id is its group's).
CREATE TABLE IF NOT EXISTS documents (
    doc_id   TEXT PRIMARY KEY,
    group_id TEXT
) WITHOUT ROWID;
-- Devices that sync a group. FIXME(access control): today a device joins a group by asking for
-- any of its documents; the access-control issue replaces this with invites and roles.
CREATE TABLE IF NOT EXISTS members (
    group_id TEXT NOT NULL,
    peer_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, peer_id)
) WITHOUT ROWID;
";

/// The relay's SQLite store.
pub struct RelayStore {
    conn: Connection,
    path: PathBuf,
}

/// One write the relay must make durable before it acknowledges anything after it.
pub enum Write {
    /// New changes of a document.
    Chunk(DocumentId, Vec<u8>),
    /// A document's group, once known.
    DocGroup(DocumentId, String),
    /// A device syncs a group.
    Member(String, String),
}

impl RelayStore {
    /// Opens (or creates) `relay.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join("relay.db");
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "wal")
            .map_err(sql)?;
        // Durable before acknowledged: every commit reaches the disk.
        conn.pragma_update(None, "synchronous", "full")
            .map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Self { conn, path })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Everything stored of a document, concatenated, or `None`.
    pub fn load(&self, doc: &DocumentId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([doc.to_string()], |r| r.get::<_, Vec<u8>>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        let mut any = false;
        for row in rows {
            out.extend(row.map_err(|e| self.err(e))?);
            any = true;
        }
        Ok(any.then_some(out))
    }

    /// Makes a batch of writes durable in one transaction (group commit).
    pub fn commit(&mut self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let sql = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        for w in writes {
            match w {
                Write::Chunk(doc, bytes) => tx
                    .execute(
                        "INSERT INTO chunks (doc_id, seq, bytes) VALUES (?1,
                         (SELECT COALESCE(MAX(seq), 0) + 1 FROM chunks WHERE doc_id = ?1), ?2)",
                        params![doc.to_string(), bytes],
                    )
                    .map_err(sql)?,
                Write::DocGroup(doc, group) => tx
                    .execute(
                        "INSERT INTO documents (doc_id, group_id) VALUES (?1, ?2)
                         ON CONFLICT (doc_id) DO UPDATE SET group_id = excluded.group_id",
                        params![doc.to_string(), group],
                    )
                    .map_err(sql)?,
                Write::Member(group, peer) => tx
                    .execute(
                        "INSERT OR IGNORE INTO members (group_id, peer_id) VALUES (?1, ?2)",
                        params![group, peer],
                    )
                    .map_err(sql)?,
            };
        }
        tx.commit().map_err(sql)
    }

    /// The group of a document, if known.
    pub fn group_of(&self, doc: &DocumentId) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT group_id FROM documents WHERE doc_id = ?1")
            .and_then(|mut s| s.query_row([doc.to_string()], |r| r.get(0)).optional())
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// The documents of a group.
    pub fn docs_of(&self, group: &str) -> Result<Vec<DocumentId>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id FROM documents WHERE group_id = ?1 ORDER BY doc_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([group], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(id) = row.map_err(|e| self.err(e))?.parse() {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The devices that sync a group.
    pub fn members_of(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT peer_id FROM members WHERE group_id = ?1 ORDER BY peer_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([group], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The groups a device syncs.
    pub fn groups_of(&self, peer: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT group_id FROM members WHERE peer_id = ?1 ORDER BY group_id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([peer], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
