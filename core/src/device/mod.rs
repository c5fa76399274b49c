//! The device: one person's phone or laptop, its identity, and every operation a group member
//! can do offline. Each edit is one store transaction; when a method returns `Ok`, it is saved.
//!
//! This file holds the [`Device`] itself (opening, the documents it keeps loaded, index
//! rebuilds, compaction, applying changes) and the helpers every concern shares; the methods
//! live by concern: [`plan`] (groups, targets, meetings, actions, responses), [`contacts`],
//! [`membership`] (joining, the roster, wipes, invites), [`resolve`] (names typed for ids) and
//! [`sync`] (what the network code needs from the store).

mod boards;
mod contacts;
mod membership;
mod plan;
mod resolve;
mod sync;

pub use membership::JoinRelay;
pub use sync::DocSyncRecord;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use automerge::AutoCommit;
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::compaction::{self, Compactor};
use crate::error::{Error, Result};
use crate::identity::Role;
use crate::ids::{DocumentId, random_bytes};
use crate::schema::contacts::ContactsDoc;
use crate::schema::plan::Plan;
use crate::schema::roster::Roster;
use crate::schema::{self, DocKind};
use crate::store::index::{self};
use crate::store::{self, DocRecord, STORE_FILE, Store, StoreKey};
use crate::time::now_ms;

/// Who this device is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// The device's id: bs58 of its Ed25519 public key.
    pub device_id: String,
    /// The name its owner gave it.
    pub name: String,
}

/// A group as this device knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    /// The group's id.
    pub group_id: String,
    /// Its name.
    pub name: String,
    /// Where it works.
    pub jurisdiction: Option<String>,
    /// This device's role in it.
    pub role: Role,
    /// The id of its plan document.
    pub plan_doc: String,
    /// Whether it shares with the campaign (its plan's setting).
    pub shares: bool,
}

/// A document loaded in memory, and how far into its stored chunks it has read.
struct Loaded {
    /// The document.
    doc: AutoCommit,
    /// The highest chunk seq applied to `doc`; chunks above it were written by someone else.
    seq: i64,
    /// Chunks written since the last compaction request, to decide when to ask for another.
    chunks: i64,
}

/// An opened device store: the entry point of groundwork-core.
pub struct Device {
    /// The SQLite store all edits go through.
    store: Store,
    /// This device's identity, read once at open.
    info: DeviceInfo,
    /// Documents loaded so far, kept so that a second edit does not load again.
    docs: HashMap<DocumentId, Loaded>,
    /// Folds chunks into snapshots in the background.
    compactor: Compactor,
    /// Documents erased here since the sync code last asked ([`Device::take_erased`]).
    erased: Vec<DocumentId>,
}

impl Device {
    /// Creates a new device in `dir`: the store file, encrypted with `key`, and an Ed25519
    /// identity.
    pub fn init(dir: &Path, name: &str, store_key: &StoreKey) -> Result<Self> {
        let name = schema::non_empty("device name", name)?;
        store::check_data_dir(dir)?;
        store::create_data_dir(dir)?;
        let path = dir.join(STORE_FILE);
        let mut store = Store::create(&path, store_key)?;
        let key = SigningKey::from_bytes(&random_bytes::<32>()?);
        let device_id = bs58::encode(key.verifying_key().to_bytes()).into_string();
        let tx = store.begin()?;
        tx.execute(
            "INSERT INTO device (id, device_id, name, signing_key, created_at)
             VALUES (1, ?1, ?2, ?3, ?4)",
            params![device_id, name, key.to_bytes().to_vec(), now_ms()],
        )?;
        tx.commit()?;
        tracing::info!("device initialised");
        Ok(Self::with_store(
            store,
            DeviceInfo { device_id, name },
            path,
            store_key,
        ))
    }

    /// Opens the device in `dir` with its store key.
    pub fn open(dir: &Path, key: &StoreKey) -> Result<Self> {
        store::check_data_dir(dir)?;
        let path = dir.join(STORE_FILE);
        let store = Store::open(&path, key)?;
        let info = store
            .conn()
            .query_row("SELECT device_id, name FROM device WHERE id = 1", [], |r| {
                Ok(DeviceInfo {
                    device_id: r.get(0)?,
                    name: r.get(1)?,
                })
            })
            .optional()?
            .ok_or_else(|| Error::NotInitialized { path: path.clone() })?;
        let mut device = Self::with_store(store, info, path, key);
        // Time passes while a phone is closed: contacts its groups no longer keep are erased
        // as it opens.
        device.apply_retention()?;
        Ok(device)
    }

    fn with_store(store: Store, info: DeviceInfo, path: PathBuf, key: &StoreKey) -> Self {
        Self {
            store,
            info,
            docs: HashMap::new(),
            compactor: Compactor::new(path, key.clone()),
            erased: Vec::new(),
        }
    }

    /// The documents this device erased (past their group's retention, or a canvasser's old
    /// plan and roster) since the last call: the sync code stops syncing them.
    pub fn take_erased(&mut self) -> Vec<DocumentId> {
        std::mem::take(&mut self.erased)
    }

    /// Who this device is.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The store file's path.
    pub fn store_path(&self) -> &Path {
        self.store.path()
    }

    // ----- groups -----------------------------------------------------------------------------

    // ----- plan -------------------------------------------------------------------------------

    // ----- contacts ---------------------------------------------------------------------------

    // ----- the index and storage ----------------------------------------------------------------

    /// Holds the store file to at most `max_bytes` from now on (`None`: only the disk limits
    /// it), for apps that budget their storage. Past it an edit fails with
    /// [`Error::StorageFull`](crate::Error::StorageFull), exactly as on a full disk: that edit
    /// is not saved and everything saved before is kept. A limit below the file's present size
    /// holds it at that size.
    pub fn limit_storage(&self, max_bytes: Option<u64>) -> Result<()> {
        self.store.limit(max_bytes)
    }

    /// Drops the whole index and rebuilds it from the documents, in one transaction.
    pub fn rebuild_index(&mut self) -> Result<()> {
        let records = store::documents(self.store.conn())?;
        self.docs.clear();
        let tx = self.store.begin()?;
        index::clear(&tx)?;
        for record in &records {
            let (loaded, _) = catch_up(&tx, &mut self.docs, &record.doc_id)?;
            reindex(&tx, record.kind, &record.doc_id, &loaded.doc)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Every index row as text, in a stable order (for tests and diagnostics).
    pub fn index_dump(&self) -> Result<Vec<String>> {
        index::dump(self.store.conn())
    }

    /// Compacts every document now, on this thread; returns how many were compacted.
    pub fn compact_all(&mut self) -> Result<usize> {
        let records = store::documents(self.store.conn())?;
        let mut n = 0;
        for record in records {
            if compaction::compact(&mut self.store, &record.doc_id)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Compacts the documents waiting for it, on this thread; returns how many were compacted.
    /// Where threads run (native), a background thread compacts and nothing waits. In the
    /// browser the host calls this when the app is idle.
    pub fn compact_waiting(&mut self) -> Result<usize> {
        let mut n = 0;
        for doc in self.compactor.take_waiting() {
            if compaction::compact(&mut self.store, &doc)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Forgets every document loaded in memory; the next use loads from the store.
    pub fn unload_documents(&mut self) {
        self.docs.clear();
    }

    /// Every document on this device.
    pub fn documents(&self) -> Result<Vec<DocRecord>> {
        store::documents(self.store.conn())
    }

    /// A document's saved bytes (a whole `save()`), loaded from the store.
    pub fn document_bytes(&mut self, doc_id: &DocumentId) -> Result<Vec<u8>> {
        let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, doc_id)?;
        Ok(loaded.doc.save())
    }

    fn request_compaction(&mut self, doc_id: &DocumentId) {
        if let Some(loaded) = self.docs.get_mut(doc_id) {
            loaded.chunks = 0;
        }
        self.compactor.request(*doc_id);
    }
}

/// Commits pending operations as one change and returns its bytes, or `None` if nothing changed.
fn commit_change(doc: &mut AutoCommit, now_ms: i64) -> Option<Vec<u8>> {
    let options = automerge::transaction::CommitOptions::default().with_time(now_ms / 1000);
    let hash = doc.commit_with(options)?;
    let mut change = doc.get_change_by_hash(&hash)?;
    Some(change.bytes().into_owned())
}

/// Makes sure `doc_id` is loaded and has applied every stored chunk, including chunks another
/// process wrote since. Returns the document and whether such foreign chunks were applied (then
/// its index rows must be rewritten).
fn catch_up<'a>(
    conn: &Connection,
    docs: &'a mut HashMap<DocumentId, Loaded>,
    doc_id: &DocumentId,
) -> Result<(&'a mut Loaded, bool)> {
    use std::collections::hash_map::Entry;
    match docs.entry(*doc_id) {
        Entry::Vacant(slot) => {
            let chunks = store::chunks_after(conn, doc_id, 0)?;
            let Some(last) = chunks.last() else {
                return Err(Error::NotFound {
                    kind: "document",
                    id: doc_id.to_string(),
                });
            };
            let seq = last.seq;
            let doc = compaction::load(doc_id, &chunks)?;
            let count = chunks.len() as i64;
            Ok((
                slot.insert(Loaded {
                    doc,
                    seq,
                    chunks: count,
                }),
                false,
            ))
        }
        Entry::Occupied(slot) => {
            let loaded = slot.into_mut();
            if store::chunks_after(conn, doc_id, loaded.seq)?.is_empty() {
                return Ok((loaded, false));
            }
            // Another process wrote since (a running sync beside a command, the compactor):
            // the document is read again whole, as on first load, which checks every chunk and
            // names a damaged one. Its chunks may be several changes at once (one sync
            // message's) or a snapshot that replaced earlier ones, and only a whole load
            // parses them all with their dependencies in place.
            let chunks = store::chunks_after(conn, doc_id, 0)?;
            let seq = chunks.last().map_or(loaded.seq, |c| c.seq);
            *loaded = Loaded {
                doc: compaction::load(doc_id, &chunks)?,
                seq,
                chunks: chunks.len() as i64,
            };
            Ok((loaded, true))
        }
    }
}

/// Rewrites the index rows of one document from its content.
fn reindex(
    tx: &Transaction<'_>,
    kind: DocKind,
    doc_id: &DocumentId,
    doc: &AutoCommit,
) -> Result<()> {
    let id = doc_id.to_string();
    match kind {
        // A board is read whole when shown; it checks here that it is one.
        DocKind::Board => schema::board::Board::read(doc, &id).map(|_| ()),
        DocKind::Brief => {
            let brief = schema::brief::Brief::read(doc, &id)?;
            index::replace_brief(tx, &brief)?;
            // A canvasser's device from before briefs holds the group's plan and roster: they
            // go, as in a wipe (the relay serves canvassers neither any more).
            let role: Option<String> = tx
                .query_row(
                    "SELECT role FROM groups WHERE group_id = ?1",
                    [&brief.brief_of],
                    |r| r.get(0),
                )
                .optional()?;
            if role.as_deref() == Some("canvasser") {
                store::drop_group_documents(tx, &brief.brief_of, &["plan", "roster"])?;
            }
            Ok(())
        }
        DocKind::Plan => index::replace_plan(tx, &schema::hydrate::<Plan>(doc, &id, kind)?),
        DocKind::Contacts => {
            index::replace_contacts(tx, &id, &schema::hydrate::<ContactsDoc>(doc, &id, kind)?)
        }
        DocKind::Roster => {
            // The roster is the relay's word on this device's role.
            let roster = Roster::read(doc, &id)?;
            let me: String =
                tx.query_row("SELECT device_id FROM device WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
            if let Some(m) = roster.members.get(&me)
                && m.removed_at.is_none()
            {
                tx.execute(
                    "UPDATE groups SET role = ?1 WHERE group_id = ?2",
                    params![m.role.as_str(), roster.roster_of],
                )?;
            }
            Ok(())
        }
    }
}

fn heads_text(heads: &[automerge::ChangeHash]) -> String {
    let mut v: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    v.sort();
    v.join(",")
}

fn apply_known(
    tx: &Transaction<'_>,
    docs: &mut HashMap<DocumentId, Loaded>,
    doc_id: &DocumentId,
    changes: &[u8],
) -> Result<()> {
    let kind = store::documents(tx)?
        .into_iter()
        .find(|d| d.doc_id == *doc_id)
        .map(|d| d.kind)
        .ok_or_else(|| Error::NotFound {
            kind: "document",
            id: doc_id.to_string(),
        })?;
    let (loaded, _) = catch_up(tx, docs, doc_id)?;
    loaded.doc.load_incremental(changes)?;
    let seq = store::append_chunk(tx, doc_id, changes)?;
    // FIXME(perf): a merge rewrites the whole document's index rows; a diff of the heads
    // (automerge patches) would touch only the contacts that changed.
    reindex(tx, kind, doc_id, &loaded.doc)?;
    loaded.seq = seq;
    loaded.chunks += 1;
    Ok(())
}

fn apply_new(
    tx: &Transaction<'_>,
    docs: &mut HashMap<DocumentId, Loaded>,
    doc_id: &DocumentId,
    changes: &[u8],
) -> Result<()> {
    let id = doc_id.to_string();
    let mut doc = schema::new_doc();
    doc.load_incremental(changes)?;
    let not_ours = |reason: &str| Error::Schema {
        doc: id.clone(),
        kind: "plan, contacts, roster, brief or board",
        reason: reason.to_owned(),
    };
    use automerge::ReadDoc;
    let (kind, owner, period, group_id) = if doc.get(automerge::ROOT, "brief_of")?.is_some() {
        // A canvasser's view of its group, in place of the plan and the roster.
        let b = schema::brief::Brief::read(&doc, &id)?;
        (DocKind::Brief, None, None, Some(b.brief_of))
    } else if doc.get(automerge::ROOT, "board_of")?.is_some() {
        // A board belongs to no group: the relay offers it because a group of this device
        // asks an official in its county, because this device follows the county, or to
        // campaign staff; it drops it (answers it missing) when none of these holds.
        schema::board::Board::read(&doc, &id)?;
        (DocKind::Board, None, None, None)
    } else if doc.get(automerge::ROOT, "roster_of")?.is_some() {
        let r = Roster::read(&doc, &id)?;
        (DocKind::Roster, None, None, Some(r.roster_of))
    } else if doc.get(automerge::ROOT, "contacts")?.is_some() {
        let c: ContactsDoc = schema::hydrate(&doc, &id, DocKind::Contacts)?;
        (
            DocKind::Contacts,
            Some(c.canvasser),
            Some(c.period),
            Some(c.group_id),
        )
    } else if doc.get(automerge::ROOT, "profile")?.is_some() {
        let p: Plan = schema::hydrate(&doc, &id, DocKind::Plan)?;
        tx.execute(
            "INSERT INTO groups (group_id, plan_doc, name, jurisdiction, role, joined_at)
             VALUES (?1, ?2, ?3, ?4, 'member', ?5)
             ON CONFLICT (group_id) DO UPDATE SET name = excluded.name,
                                                  jurisdiction = excluded.jurisdiction",
            params![
                p.group_id,
                id,
                p.profile.name,
                p.profile.jurisdiction,
                now_ms()
            ],
        )?;
        (DocKind::Plan, None, None, Some(p.group_id))
    } else {
        return Err(not_ours(
            "it is neither a plan, a contacts document, a roster, a brief nor a board",
        ));
    };
    let known_group = match &group_id {
        None => true,
        Some(group) => tx
            .query_row("SELECT 1 FROM groups WHERE group_id = ?1", [group], |_| {
                Ok(())
            })
            .optional()?
            .is_some(),
    };
    if !known_group {
        return Err(not_ours("it belongs to a group this device is not in"));
    }
    let record = DocRecord {
        doc_id: *doc_id,
        group_id,
        kind,
    };
    store::insert_document(tx, &record, owner.as_deref(), period.as_deref())?;
    let seq = store::append_chunk(tx, doc_id, changes)?;
    reindex(tx, kind, doc_id, &doc)?;
    docs.insert(
        *doc_id,
        Loaded {
            doc,
            seq,
            chunks: 1,
        },
    );
    Ok(())
}
