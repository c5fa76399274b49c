//! What relay nodes sharing one PostgreSQL database tell each other, and the change log that
//! carries it (this module owns its SQL). Every batch a node commits appends to the log, in the
//! same transaction: a row per document chunk, and an [`AccessChange`] per write that changes
//! who may read what (a member joined or was
//! removed, a document of a group was made, a board replaced). The transaction also sends one
//! `NOTIFY`. A node's listener thread ([`listen`]) turns notifications into a wake-up of the
//! hub thread, which reads the log from where it was (`RelayStore::read_log`): the hint is
//! never the data, so a lost notification costs at most a tick's delay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use groundwork_core::ids::DocumentId;

use crate::access::AccessChange;
use crate::db::{DbError, Sql};

/// The channel every node listens on.
pub const CHANNEL: &str = "groundwork_changes";

/// One row of the change log another node wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The row's id (rows are read more than once while their transactions may be in
    /// flight; the id tells them apart).
    pub id: i64,
    /// The writing transaction's id.
    pub xid: u64,
    /// What it carries, or why it cannot be read (counted and logged by the reader; a row
    /// another version wrote in a shape this one does not know).
    pub body: Result<Logged, String>,
}

/// What a change log row carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logged {
    /// A chunk of a document: the document and the chunk's content key.
    Chunk(DocumentId, Vec<u8>),
    /// A change to the access tables.
    Change(AccessChange),
}

/// What a batch appends to the change log, in its order.
pub enum Append<'a> {
    /// A chunk of a document.
    Chunk(&'a DocumentId, &'a [u8]),
    /// A change to the access tables.
    Change(AccessChange),
}

/// A chunk's content key: SHA-256 of its bytes.
pub fn chunk_hash(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

/// The oldest transaction still running, as PostgreSQL's snapshot says: where a node starts
/// (or goes on) reading the log.
pub fn xmin(db: &mut dyn Sql) -> Result<u64, DbError> {
    let text: String = db
        .query_opt(
            "SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT)",
            &[],
        )?
        .map_or(Ok(String::new()), |r| r.get(0))?;
    text.parse()
        .map_err(|_| DbError::Type(format!("an unreadable snapshot xmin {text:?}")))
}

/// Appends a batch to the change log, inside its transaction: a row per chunk, with its
/// document's sequence number (taken here first, in document order: the first row locks a
/// batch takes, always in the same order, so two nodes' batches of one document are ordered by
/// commit), and a row per access change; then one notification, which PostgreSQL delivers when
/// the transaction commits.
pub fn append(tx: &mut dyn Sql, node: &str, batch: &[Append<'_>]) -> Result<(), DbError> {
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for entry in batch {
        if let Append::Chunk(doc, _) = entry {
            *counts.entry(doc.to_string()).or_default() += 1;
        }
    }
    let mut seqs = std::collections::BTreeMap::new();
    for (doc, n) in counts {
        let last: i64 = tx
            .query_opt(
                "INSERT INTO doc_seqs (doc_id, seq) VALUES ($1, $2)
                 ON CONFLICT (doc_id) DO UPDATE SET seq = doc_seqs.seq + $2
                 RETURNING seq",
                &[&doc, &n],
            )?
            .map_or(Ok(0), |r| r.get(0))?;
        seqs.insert(doc, last - n + 1);
    }
    for entry in batch {
        match entry {
            Append::Chunk(doc, bytes) => {
                let doc = doc.to_string();
                let seq = seqs.get(&doc).copied().unwrap_or_default();
                seqs.insert(doc.clone(), seq + 1);
                tx.execute(
                    "INSERT INTO change_log (node, doc_id, doc_seq, hash) VALUES ($1, $2, $3, $4)",
                    &[&node, &doc, &seq, &chunk_hash(bytes)],
                )?;
            }
            Append::Change(change) => {
                let json = serde_json::to_string(change)
                    .map_err(|e| DbError::Type(format!("encoding a change log record: {e}")))?;
                tx.execute(
                    "INSERT INTO change_log (node, record) VALUES ($1, $2)",
                    &[&node, &json],
                )?;
            }
        }
    }
    if !batch.is_empty() {
        tx.execute(&format!("SELECT pg_notify('{CHANNEL}', $1)"), &[&node])?;
    }
    Ok(())
}

/// Other nodes' rows from transactions at or past `since`, and the next cursor, in a
/// transaction of its own (`tx`, at REPEATABLE READ: one snapshot for both, so a transaction
/// still running now is read next time, whatever the order its rows were numbered in). Also
/// records how far `node` has read, for pruning.
pub fn read(tx: &mut dyn Sql, node: &str, since: u64) -> Result<(u64, Vec<LogEntry>), DbError> {
    tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", &[])?;
    let next = xmin(tx)?;
    let rows = tx.query(
        "SELECT id, CAST(xid AS TEXT), doc_id, hash, record FROM change_log
         WHERE xid >= CAST(CAST($1 AS TEXT) AS xid8) AND node <> $2 ORDER BY id",
        &[&since.to_string(), &node],
    )?;
    let mut entries = Vec::with_capacity(rows.len());
    for r in rows {
        let xid: String = r.get(1)?;
        let xid = xid
            .parse()
            .map_err(|_| DbError::Type(format!("an unreadable transaction id {xid:?}")))?;
        let doc: Option<String> = r.get(2)?;
        let hash: Option<Vec<u8>> = r.get(3)?;
        let record: Option<String> = r.get(4)?;
        let body = match (doc, hash, record) {
            (Some(doc), Some(hash), None) => doc
                .parse()
                .map(|doc| Logged::Chunk(doc, hash))
                .map_err(|e| format!("a chunk row's document: {e}")),
            (None, None, Some(json)) => serde_json::from_str(&json)
                .map(Logged::Change)
                .map_err(|e| format!("an access change: {e}")),
            _ => Err("a row that is neither a chunk nor an access change".into()),
        };
        entries.push(LogEntry {
            id: r.get(0)?,
            xid,
            body,
        });
    }
    tx.execute(
        "INSERT INTO relay_nodes (node, read_to, seen_at) VALUES ($1, $2, now())
         ON CONFLICT (node) DO UPDATE SET read_to = excluded.read_to, seen_at = now()",
        &[&node, &next.to_string()],
    )?;
    Ok((next, entries))
}

/// Deletes the rows every node live within `live_for` has read (and forgets nodes not seen for
/// a day); how many rows went.
pub fn prune(db: &mut dyn Sql, live_for: Duration) -> Result<u64, DbError> {
    let secs = live_for.as_secs().max(1) as i64;
    db.execute(
        "DELETE FROM relay_nodes WHERE seen_at < now() - interval '1 day'",
        &[],
    )?;
    db.execute(
        "DELETE FROM change_log WHERE at < now() - make_interval(secs => $1)
           AND xid < (SELECT MIN(CAST(read_to AS xid8)) FROM relay_nodes
                      WHERE seen_at > now() - make_interval(secs => $1))",
        &[&secs],
    )
}

/// Listens for other nodes' notifications on a connection of its own (never through a
/// pooler: LISTEN needs one session), calling `wake` on each and after every (re)connect, when
/// notifications may have been missed. Stops when `wake` returns `false` (the hub is gone) or
/// `stop` is set.
pub fn listen(
    url: String,
    node: String,
    stop: Arc<AtomicBool>,
    wake: impl Fn() -> bool + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("groundwork-listen".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(100);
            while !stop.load(Ordering::Relaxed) {
                let mut client = match crate::db::pg_connect(&url) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "the change listener cannot reach the database; retrying");
                        // Pacing reconnects to a database that is down; not a synchronisation.
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                };
                if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                    continue;
                }
                backoff = Duration::from_millis(100);
                tracing::info!("listening for other relay nodes' changes");
                // Whatever was notified while this connection was down is read now.
                if !wake() {
                    return;
                }
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = client
                        .notifications()
                        .timeout_iter(Duration::from_millis(500))
                        .next()
                        .map(|n| n.map(|n| n.payload() != node));
                    match next {
                        Ok(Some(others)) => {
                            if others && !wake() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the change listener's connection failed; reconnecting");
                            break;
                        }
                        Ok(None) if client.is_closed() => {
                            tracing::warn!("the change listener's connection closed; reconnecting");
                            break;
                        }
                        Ok(None) => {}
                    }
                }
            }
        })
}
