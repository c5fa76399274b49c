//! The device: one person's phone or laptop, its identity, and every operation a group member
//! can do offline. Each edit is one store transaction; when a method returns `Ok`, it is saved.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use automerge::{AutoCommit, LoadOptions, OnPartialLoad, TextEncoding};
use ed25519_dalek::SigningKey;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::compaction::{self, COMPACT_AFTER_CHUNKS, Compactor};
use crate::error::{Error, Result};
use crate::identity::{Identity, Invite, Role};
use crate::ids::{DocumentId, new_entity_id, random_bytes};
use crate::schema::contacts::{Contact, ContactsDoc, NewContact, insert_contact};
use crate::schema::plan::{Meeting, NewAction, NewMeeting, NewResponse, NewTarget, Plan};
use crate::schema::roster::{Roster, RosterMember};
use crate::schema::vocab::MeetingStatus;
use crate::schema::{self, DocKind};
use crate::store::index::{
    self, ActionRow, ContactPage, ContactQuery, ContactRow, Entity, MeetingRow, ScorecardRow,
    TargetRow,
};
use crate::store::{self, DocRecord, STORE_FILE, Store, StoreKey};
use crate::sync::connection::ConnectionRecord;
use crate::time::{now_ms, period_of};

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
    pub role: String,
    /// The id of its plan document.
    pub plan_doc: String,
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
}

impl Device {
    /// Creates a new device in `dir`: the store file, encrypted with `key`, and an Ed25519
    /// identity.
    pub fn init(dir: &Path, name: &str, store_key: &StoreKey) -> Result<Self> {
        let name = schema::non_empty("device name", name)?;
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "creating directory",
            path: dir.to_owned(),
            source,
        })?;
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
        Ok(Self::with_store(store, info, path, key))
    }

    fn with_store(store: Store, info: DeviceInfo, path: PathBuf, key: &StoreKey) -> Self {
        Self {
            store,
            info,
            docs: HashMap::new(),
            compactor: Compactor::new(path, key.clone()),
        }
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

    /// Creates a group with this device as its lead, and its plan.
    pub fn create_group(&mut self, name: &str, jurisdiction: Option<String>) -> Result<String> {
        // A group is named by its plan's document id: knowing the group is knowing where its
        // plan is, for this device and for the relay.
        let plan_doc = DocumentId::random()?;
        let group_id = plan_doc.to_string();
        let now = now_ms();
        let plan = Plan::new(&group_id, name, jurisdiction, &self.info.device_id, now)?;
        let mut doc = schema::new_doc();
        schema::reconcile(&mut doc, &plan, &plan_doc.to_string(), DocKind::Plan)?;
        let change = commit_change(&mut doc, now).ok_or_else(|| Error::Invalid {
            what: "group",
            reason: "the new plan is empty".into(),
        })?;
        let tx = self.store.begin()?;
        tx.execute(
            "INSERT INTO groups (group_id, plan_doc, name, jurisdiction, role, joined_at)
             VALUES (?1, ?2, ?3, ?4, 'lead', ?5)",
            params![
                group_id,
                plan_doc.to_string(),
                plan.profile.name,
                plan.profile.jurisdiction,
                now
            ],
        )?;
        let record = DocRecord {
            doc_id: plan_doc,
            group_id: group_id.clone(),
            kind: DocKind::Plan,
        };
        store::insert_document(&tx, &record, None, None)?;
        let seq = store::append_chunk(&tx, &plan_doc, &change)?;
        index::replace_plan(&tx, &plan)?;
        tx.commit()?;
        self.docs.insert(
            plan_doc,
            Loaded {
                doc,
                seq,
                chunks: 1,
            },
        );
        Ok(group_id)
    }

    /// The groups on this device.
    pub fn groups(&self) -> Result<Vec<GroupSummary>> {
        let mut stmt = self.store.conn().prepare_cached(
            "SELECT group_id, name, jurisdiction, role, plan_doc FROM groups ORDER BY name, group_id",
        )?;
        let rows = stmt.query_map([], group_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// One group.
    pub fn group(&self, group_id: &str) -> Result<GroupSummary> {
        self.store
            .conn()
            .prepare_cached(
                "SELECT group_id, name, jurisdiction, role, plan_doc FROM groups WHERE group_id = ?1",
            )?
            .query_row([group_id], group_row)
            .optional()?
            .ok_or_else(|| Error::NotFound {
                kind: "group",
                id: group_id.to_owned(),
            })
    }

    // ----- plan -------------------------------------------------------------------------------

    /// Adds a target (an official) to a group's plan.
    pub fn add_target(&mut self, group_id: &str, new: NewTarget) -> Result<String> {
        let id = new_entity_id()?;
        self.edit_plan(group_id, |plan, _| plan.add_target(&id, new).map(|_| ()))?;
        Ok(id)
    }

    /// A group's targets.
    pub fn targets(&self, group_id: &str) -> Result<Vec<TargetRow>> {
        self.group(group_id)?;
        index::targets(self.store.conn(), group_id)
    }

    /// Creates a meeting in a group's plan.
    pub fn create_meeting(&mut self, group_id: &str, new: NewMeeting) -> Result<String> {
        let id = new_entity_id()?;
        self.edit_plan(group_id, |plan, now| {
            plan.create_meeting(&id, new, now).map(|_| ())
        })?;
        Ok(id)
    }

    /// Appends an item to a meeting's agenda; returns the item's id.
    pub fn add_agenda_item(&mut self, meeting_id: &str, text: &str) -> Result<String> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        let item = new_entity_id()?;
        self.edit_plan(&group_id, |plan, _| {
            plan.add_agenda_item(meeting_id, &item, text)
        })?;
        Ok(item)
    }

    /// Appends a paragraph to a meeting's shared notes.
    pub fn append_notes(&mut self, meeting_id: &str, text: &str) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.edit_plan(&group_id, |plan, _| plan.append_notes(meeting_id, text))
    }

    /// Moves a meeting to a new status.
    pub fn set_meeting_status(&mut self, meeting_id: &str, status: MeetingStatus) -> Result<()> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        self.edit_plan(&group_id, |plan, _| {
            plan.set_meeting_status(meeting_id, status)
        })
    }

    /// A meeting in full (agenda, roles, notes), read from the plan document.
    pub fn meeting(&mut self, meeting_id: &str) -> Result<Meeting> {
        let group_id = self.group_of(Entity::Meeting, meeting_id)?;
        let plan = self.plan(&group_id)?;
        plan.meeting(meeting_id).cloned()
    }

    /// A group's meetings.
    pub fn meetings(&self, group_id: &str) -> Result<Vec<MeetingRow>> {
        self.group(group_id)?;
        index::meetings(self.store.conn(), group_id)
    }

    /// Adds an action item.
    pub fn add_action(&mut self, group_id: &str, new: NewAction) -> Result<String> {
        let id = new_entity_id()?;
        self.edit_plan(group_id, |plan, now| {
            plan.add_action(&id, new, now).map(|_| ())
        })?;
        Ok(id)
    }

    /// Marks an action item done or not done.
    pub fn set_action_done(&mut self, action_id: &str, done: bool) -> Result<()> {
        let group_id = self.group_of(Entity::Action, action_id)?;
        self.edit_plan(&group_id, |plan, _| plan.set_action_done(action_id, done))
    }

    /// A group's action items.
    pub fn actions(&self, group_id: &str) -> Result<Vec<ActionRow>> {
        self.group(group_id)?;
        index::actions(self.store.conn(), group_id)
    }

    /// Records what a target answered for a rule.
    pub fn record_response(&mut self, group_id: &str, new: NewResponse) -> Result<()> {
        let me = self.info.device_id.clone();
        self.edit_plan(group_id, |plan, now| {
            plan.record_response(new, &me, now).map(|_| ())
        })
    }

    /// The scorecard: one row per target and rule.
    pub fn scorecard(&self, group_id: &str, target: Option<&str>) -> Result<Vec<ScorecardRow>> {
        self.group(group_id)?;
        if let Some(target) = target {
            let known = index::targets(self.store.conn(), group_id)?
                .iter()
                .any(|t| t.target_id == target);
            if !known {
                return Err(Error::NotFound {
                    kind: "target",
                    id: target.to_owned(),
                });
            }
        }
        index::scorecard(self.store.conn(), group_id, target)
    }

    /// The whole plan of a group, read from its document.
    pub fn plan(&mut self, group_id: &str) -> Result<Plan> {
        let group = self.group(group_id)?;
        let doc_id: DocumentId = group.plan_doc.parse()?;
        let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &doc_id)?;
        schema::hydrate(&loaded.doc, &group.plan_doc, DocKind::Plan)
    }

    // ----- contacts ---------------------------------------------------------------------------

    /// Logs a contact in this device's contacts document for the current period. The contact is
    /// checked (support range, consent for personal details) before anything is written.
    pub fn log_contact(&mut self, group_id: &str, new: NewContact) -> Result<String> {
        let mut ids = self.log_contacts(group_id, vec![new])?;
        ids.pop().ok_or_else(|| Error::Invalid {
            what: "contact",
            reason: "nothing was logged".into(),
        })
    }

    /// Logs several contacts as one change in one transaction (an import of a paper walk list):
    /// either all are saved or, if any is refused, none is.
    pub fn log_contacts(&mut self, group_id: &str, new: Vec<NewContact>) -> Result<Vec<String>> {
        self.group(group_id)?;
        let now = now_ms();
        let me = self.info.device_id.clone();
        let contacts = new
            .into_iter()
            .map(|c| Contact::new(&new_entity_id()?, &me, c, now))
            .collect::<Result<Vec<_>>>()?;
        let period = period_of(now);
        let tx = self.store.begin()?;
        let mut created = None;
        let doc_id = match store::contacts_doc(&tx, group_id, &me, &period)? {
            Some(doc_id) => doc_id,
            None => {
                let doc_id = create_contacts_doc(&tx, &mut self.docs, group_id, &me, &period, now)?;
                created = Some(doc_id);
                doc_id
            }
        };
        match write_contacts(tx, &mut self.docs, group_id, &doc_id, &contacts, now) {
            Ok(chunks) => {
                if chunks >= COMPACT_AFTER_CHUNKS {
                    self.request_compaction(&doc_id);
                }
                Ok(contacts.into_iter().map(|c| c.id).collect())
            }
            Err(e) => {
                // The in-memory document may hold a change the store does not: drop it, and
                // the next use reloads what was really saved.
                self.docs.remove(&doc_id);
                if let Some(doc_id) = created {
                    self.docs.remove(&doc_id);
                }
                Err(e)
            }
        }
    }

    /// A page of a group's contacts, newest first.
    pub fn contacts(&self, group_id: &str, query: &ContactQuery) -> Result<Vec<ContactRow>> {
        self.group(group_id)?;
        index::contacts(self.store.conn(), group_id, query)
    }

    /// A page of a group's contacts, newest first, with the cursor of the next page and the
    /// number of contacts matching the filter.
    pub fn contact_page(&self, group_id: &str, query: &ContactQuery) -> Result<ContactPage> {
        self.group(group_id)?;
        index::contact_page(self.store.conn(), group_id, query)
    }

    /// How many contacts a group has on this device.
    pub fn contact_count(&self, group_id: &str) -> Result<i64> {
        self.group(group_id)?;
        index::contact_count(self.store.conn(), group_id)
    }

    /// Writes every contact of a group to a CSV file; returns how many.
    pub fn export_contacts_csv(&self, group_id: &str, path: &Path) -> Result<usize> {
        self.group(group_id)?;
        let rows = index::all_contacts(self.store.conn(), group_id)?;
        let mut out = csv::Writer::from_path(path).map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                action: "creating",
                path: path.to_owned(),
                source,
            },
            other => Error::Invalid {
                what: "csv file",
                reason: format!("{other:?}"),
            },
        })?;
        out.write_record([
            "contact_id",
            "time",
            "canvasser",
            "place",
            "result",
            "support",
            "interests",
            "follow_up",
            "note",
            "name",
            "phone",
            "email",
        ])?;
        for r in &rows {
            out.write_record([
                r.contact_id.as_str(),
                &crate::time::format_rfc3339(r.at),
                &r.canvasser,
                r.place.as_deref().unwrap_or(""),
                &r.result,
                &r.support.map(|s| s.to_string()).unwrap_or_default(),
                &r.interests.join(";"),
                if r.follow_up { "yes" } else { "no" },
                r.note.as_deref().unwrap_or(""),
                r.name.as_deref().unwrap_or(""),
                r.phone.as_deref().unwrap_or(""),
                r.email.as_deref().unwrap_or(""),
            ])?;
        }
        out.flush().map_err(|source| Error::Io {
            action: "writing",
            path: path.to_owned(),
            source,
        })?;
        Ok(rows.len())
    }

    // ----- the index and storage ----------------------------------------------------------------

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

    /// The group a meeting belongs to.
    pub fn group_of_meeting(&self, meeting_id: &str) -> Result<String> {
        self.group_of(Entity::Meeting, meeting_id)
    }

    /// The group an action item belongs to.
    pub fn group_of_action(&self, action_id: &str) -> Result<String> {
        self.group_of(Entity::Action, action_id)
    }

    fn group_of(&self, entity: Entity, id: &str) -> Result<String> {
        index::group_of(self.store.conn(), entity, id)?.ok_or_else(|| Error::NotFound {
            kind: match entity {
                Entity::Meeting => "meeting",
                Entity::Action => "action item",
            },
            id: id.to_owned(),
        })
    }

    /// Runs one plan edit as one transaction: read the plan, let `edit` change the typed value
    /// (it may refuse: then nothing is written), write the difference as one change, rewrite the
    /// plan's index rows, commit.
    fn edit_plan<R>(
        &mut self,
        group_id: &str,
        edit: impl FnOnce(&mut Plan, i64) -> Result<R>,
    ) -> Result<R> {
        let group = self.group(group_id)?;
        let role: Role = group.role.parse()?;
        if !role.edits_plan() {
            return Err(Error::NotAllowed {
                reason: format!(
                    "this device is a {role} in group {group_id}; only leads and members edit the plan"
                ),
            });
        }
        let doc_id: DocumentId = group.plan_doc.parse()?;
        let now = now_ms();
        let tx = self.store.begin()?;
        let result = edit_plan_in(tx, &mut self.docs, &doc_id, now, edit);
        match result {
            Ok((out, chunks)) => {
                if chunks >= COMPACT_AFTER_CHUNKS {
                    self.request_compaction(&doc_id);
                }
                Ok(out)
            }
            Err(e) => {
                self.docs.remove(&doc_id);
                Err(e)
            }
        }
    }
}

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupSummary> {
    Ok(GroupSummary {
        group_id: r.get(0)?,
        name: r.get(1)?,
        jurisdiction: r.get(2)?,
        role: r.get(3)?,
        plan_doc: r.get(4)?,
    })
}

fn edit_plan_in<R>(
    tx: Transaction<'_>,
    docs: &mut HashMap<DocumentId, Loaded>,
    doc_id: &DocumentId,
    now: i64,
    edit: impl FnOnce(&mut Plan, i64) -> Result<R>,
) -> Result<(R, i64)> {
    let id = doc_id.to_string();
    let (loaded, _) = catch_up(&tx, docs, doc_id)?;
    let mut plan: Plan = schema::hydrate(&loaded.doc, &id, DocKind::Plan)?;
    let out = edit(&mut plan, now)?;
    schema::reconcile(&mut loaded.doc, &plan, &id, DocKind::Plan)?;
    if let Some(change) = commit_change(&mut loaded.doc, now) {
        let seq = store::append_chunk(&tx, doc_id, &change)?;
        index::replace_plan(&tx, &plan)?;
        tx.commit()?;
        loaded.seq = seq;
        loaded.chunks += 1;
    }
    Ok((out, loaded.chunks))
}

fn create_contacts_doc(
    tx: &Transaction<'_>,
    docs: &mut HashMap<DocumentId, Loaded>,
    group_id: &str,
    owner: &str,
    period: &str,
    now: i64,
) -> Result<DocumentId> {
    let doc_id = DocumentId::random()?;
    let mut doc = schema::new_doc();
    let value = ContactsDoc::new(group_id, owner, period);
    schema::reconcile(&mut doc, &value, &doc_id.to_string(), DocKind::Contacts)?;
    let change = commit_change(&mut doc, now).ok_or_else(|| Error::Invalid {
        what: "contacts document",
        reason: "the new document is empty".into(),
    })?;
    let record = DocRecord {
        doc_id,
        group_id: group_id.to_owned(),
        kind: DocKind::Contacts,
    };
    store::insert_document(tx, &record, Some(owner), Some(period))?;
    let seq = store::append_chunk(tx, &doc_id, &change)?;
    docs.insert(
        doc_id,
        Loaded {
            doc,
            seq,
            chunks: 1,
        },
    );
    Ok(doc_id)
}

fn write_contacts(
    tx: Transaction<'_>,
    docs: &mut HashMap<DocumentId, Loaded>,
    group_id: &str,
    doc_id: &DocumentId,
    contacts: &[Contact],
    now: i64,
) -> Result<i64> {
    let id = doc_id.to_string();
    let (loaded, foreign) = catch_up(&tx, docs, doc_id)?;
    if foreign {
        reindex(&tx, DocKind::Contacts, doc_id, &loaded.doc)?;
    }
    for contact in contacts {
        insert_contact(&mut loaded.doc, contact, &id)?;
    }
    let Some(change) = commit_change(&mut loaded.doc, now) else {
        return Ok(loaded.chunks);
    };
    let seq = store::append_chunk(&tx, doc_id, &change)?;
    for contact in contacts {
        index::put_contact(&tx, group_id, &id, contact)?;
    }
    tx.commit()?;
    loaded.seq = seq;
    loaded.chunks += 1;
    Ok(loaded.chunks)
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
            let chunks = store::chunks_after(conn, doc_id, loaded.seq)?;
            for chunk in &chunks {
                // load_incremental skips what it cannot parse; check first, so a damaged chunk
                // is reported instead of silently missing.
                let checked = if chunk.snapshot {
                    let options = LoadOptions::new()
                        .text_encoding(TextEncoding::Utf8CodeUnit)
                        .on_partial_load(OnPartialLoad::Error);
                    AutoCommit::load_with_options(&chunk.bytes, options).map(|_| ())
                } else {
                    automerge::Change::from_bytes(chunk.bytes.clone())
                        .map(|_| ())
                        .map_err(automerge::AutomergeError::from)
                };
                checked.map_err(|e| Error::CorruptChunk {
                    doc: doc_id.to_string(),
                    seq: chunk.seq,
                    reason: e.to_string(),
                })?;
                loaded.doc.load_incremental(&chunk.bytes)?;
                loaded.seq = chunk.seq;
                loaded.chunks += 1;
            }
            Ok((loaded, !chunks.is_empty()))
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

/// What sync needs from the device store. The network code (`net`) drives these; they are
/// plain store operations, each one transaction.
impl Device {
    /// Records that the relay accepted this device into a group with `role` (after redeeming
    /// an invite), so that the next sync receives the group's documents.
    pub fn joined_group(&mut self, group_id: &str, role: Role) -> Result<()> {
        let _: DocumentId = group_id.parse()?;
        let tx = self.store.begin()?;
        tx.execute(
            "INSERT INTO groups (group_id, plan_doc, name, jurisdiction, role, joined_at)
             VALUES (?1, ?1, '', NULL, ?2, ?3)
             ON CONFLICT (group_id) DO UPDATE SET role = excluded.role",
            params![group_id, role.as_str(), now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes everything of a group from this device: its documents and their chunks, index
    /// rows and sync states, and the group itself. Returns how many documents were deleted.
    /// The relay orders this when the device was removed from the group.
    pub fn wipe_group(&mut self, group_id: &str) -> Result<usize> {
        let docs: Vec<DocumentId> = self
            .documents()?
            .into_iter()
            .filter(|d| d.group_id == group_id)
            .map(|d| d.doc_id)
            .collect();
        let tx = self.store.begin()?;
        for doc in &docs {
            let id = doc.to_string();
            tx.execute("DELETE FROM chunks WHERE doc_id = ?1", [&id])?;
            tx.execute("DELETE FROM sync_states WHERE doc_id = ?1", [&id])?;
            tx.execute("DELETE FROM sync_status WHERE doc_id = ?1", [&id])?;
            tx.execute("DELETE FROM idx_contacts WHERE doc_id = ?1", [&id])?;
            tx.execute("DELETE FROM documents WHERE doc_id = ?1", [&id])?;
        }
        for table in [
            "idx_targets",
            "idx_meetings",
            "idx_actions",
            "idx_responses",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE group_id = ?1"),
                [group_id],
            )?;
        }
        tx.execute("DELETE FROM groups WHERE group_id = ?1", [group_id])?;
        tx.commit()?;
        for doc in &docs {
            self.docs.remove(doc);
        }
        // Freed pages are overwritten with zeros (secure_delete) and the file shrinks, so the
        // group's data does not linger in the file.
        self.store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        tracing::info!(documents = docs.len(), "group wiped");
        Ok(docs.len())
    }

    /// A group's members, from its roster (empty until the roster has arrived from the relay).
    pub fn members(&mut self, group_id: &str) -> Result<Vec<(String, RosterMember)>> {
        self.group(group_id)?;
        let roster = self
            .documents()?
            .into_iter()
            .find(|d| d.group_id == group_id && d.kind == DocKind::Roster);
        let Some(record) = roster else {
            return Ok(Vec::new());
        };
        let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &record.doc_id)?;
        let roster = Roster::read(&loaded.doc, &record.doc_id.to_string())?;
        Ok(roster.members.into_iter().collect())
    }

    /// This device's key pair.
    pub fn identity(&self) -> Result<Identity> {
        let secret: Vec<u8> = self.store.conn().query_row(
            "SELECT signing_key FROM device WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        Identity::from_secret(&secret)
    }

    /// The relay URL with a fresh signed proof that this device is connecting.
    pub fn connect_url(&self, relay: &str) -> Result<String> {
        let proof = self.identity()?.connect_proof(now_ms())?;
        let sep = if relay.contains('?') { "&" } else { "?" };
        // `ws://host:port` has no path: the query needs one (`ws://host:port/?...`).
        let after_scheme = relay.split_once("://").map_or(relay, |(_, rest)| rest);
        let sep = if !after_scheme.contains('/') && sep == "?" {
            "/?"
        } else {
            sep
        };
        Ok(format!("{relay}{sep}{}", proof.to_query()))
    }

    /// The relay this device last reached, if it ever did (remembered by [`Self::remember_relay`]).
    pub fn relay(&self) -> Result<Option<String>> {
        Ok(self
            .store
            .conn()
            .query_row("SELECT relay FROM device WHERE id = 1", [], |r| r.get(0))?)
    }

    /// Remembers `relay` as the one this device syncs with. Called once a connection to it
    /// was accepted, so a mistyped address is never remembered.
    pub fn remember_relay(&mut self, relay: &str) -> Result<()> {
        crate::relay::check(relay)?;
        self.store.conn().execute(
            "UPDATE device SET relay = ?1 WHERE id = 1 AND relay IS NOT ?1",
            [relay],
        )?;
        Ok(())
    }

    /// The relay to talk to: `explicit` (a flag, an environment variable, an invite's) when
    /// given, else the one this device remembers. Checked either way.
    pub fn relay_or(&self, explicit: Option<&str>) -> Result<String> {
        let relay = match explicit {
            Some(relay) => relay.to_owned(),
            None => self.relay()?.ok_or(Error::NoRelay)?,
        };
        crate::relay::check(&relay)?;
        Ok(relay)
    }

    /// Signs an invite to a group this device leads, naming `relay` (or, without one, the
    /// relay this device remembers) as where it is redeemed.
    pub fn create_invite(
        &self,
        group_id: &str,
        role: Role,
        uses: u32,
        valid_for_ms: i64,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        let group = self.group(group_id)?;
        if group.role != Role::Lead.as_str() {
            return Err(Error::NotAllowed {
                reason: format!(
                    "only a lead can invite; this device is a {} in group {group_id}",
                    group.role
                ),
            });
        }
        let expires_at = expires_at(valid_for_ms)?;
        let relay = self.invite_relay(relay)?;
        self.identity()?
            .invite(group_id, role, expires_at, uses, relay.as_deref())
    }

    fn invite_relay(&self, explicit: Option<&str>) -> Result<Option<String>> {
        match explicit {
            Some(relay) => Ok(Some(relay.to_owned())),
            None => self.relay(),
        }
    }

    /// Signs a one-use invite for another device of this device's own person, at this
    /// device's role (any member may). Either device can later report the other lost.
    pub fn create_own_device_invite(
        &self,
        group_id: &str,
        valid_for_ms: i64,
        relay: Option<&str>,
    ) -> Result<(Invite, String)> {
        let group = self.group(group_id)?;
        let role: Role = group.role.parse()?;
        let expires_at = expires_at(valid_for_ms)?;
        let relay = self.invite_relay(relay)?;
        self.identity()?
            .own_device_invite(group_id, role, expires_at, relay.as_deref())
    }

    /// Every document this device should sync, with its stored bytes (`None` for a group's
    /// plan not received yet).
    pub fn sync_documents(&mut self) -> Result<Vec<(DocumentId, Option<Vec<u8>>)>> {
        let mut out = Vec::new();
        for (id, stored) in self.sync_document_ids()? {
            let bytes = if stored {
                Some(self.document_bytes(&id)?)
            } else {
                None
            };
            out.push((id, bytes));
        }
        Ok(out)
    }

    /// Every document this device should sync, plans first, and whether it has any of it yet
    /// (a group just joined has no plan until the relay sends it). Reads only the registry.
    pub fn sync_document_ids(&self) -> Result<Vec<(DocumentId, bool)>> {
        let mut records = self.documents()?;
        // Plans first: the relay creates a group from its plan, and accepts the group's other
        // documents only after that.
        records.sort_by_key(|d| d.kind != DocKind::Plan);
        let known: std::collections::BTreeSet<DocumentId> =
            records.iter().map(|d| d.doc_id).collect();
        let mut out: Vec<(DocumentId, bool)> = records.iter().map(|d| (d.doc_id, true)).collect();
        for g in self.groups()? {
            let plan: DocumentId = g.plan_doc.parse()?;
            if !known.contains(&plan) {
                out.push((plan, false));
            }
        }
        Ok(out)
    }

    /// The sync states saved for a peer.
    pub fn sync_states(&self, peer: &str) -> Result<Vec<(DocumentId, Vec<u8>)>> {
        let mut stmt = self
            .store
            .conn()
            .prepare_cached("SELECT doc_id, state FROM sync_states WHERE peer_id = ?1")?;
        let rows = stmt.query_map([peer], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (doc, state) = row?;
            out.push((doc.parse()?, state));
        }
        Ok(out)
    }

    /// Saves the sync state of a document with a peer; a document this device does not hold
    /// (one of a group it just wiped, say) is skipped.
    pub fn save_sync_state(&mut self, peer: &str, doc: &DocumentId, state: &[u8]) -> Result<()> {
        let id = doc.to_string();
        let held = self
            .store
            .conn()
            .prepare_cached(
                "SELECT 1 FROM documents WHERE doc_id = ?1
                 UNION ALL SELECT 1 FROM groups WHERE plan_doc = ?1 LIMIT 1",
            )?
            .query_row([&id], |_| Ok(()))
            .optional()?
            .is_some();
        if !held {
            return Ok(());
        }
        self.store.conn().execute(
            "INSERT OR REPLACE INTO sync_states (peer_id, doc_id, state) VALUES (?1, ?2, ?3)",
            params![peer, doc.to_string(), state],
        )?;
        Ok(())
    }

    /// Records that the relay has `heads` of a document.
    pub fn record_relay_heads(
        &mut self,
        doc: &DocumentId,
        heads: &[automerge::ChangeHash],
    ) -> Result<()> {
        self.store.conn().execute(
            "INSERT OR REPLACE INTO sync_status (doc_id, relay_heads, synced_at) VALUES (?1, ?2, ?3)",
            params![doc.to_string(), heads_text(heads), now_ms()],
        )?;
        Ok(())
    }

    /// The changes this device has of a document beyond `heads` (what a running sync last
    /// handed the relay), or `None` when there are none. Catches up on edits other processes
    /// stored, so a long-lived sync picks up edits made by the CLI.
    pub fn changes_since(
        &mut self,
        doc: &DocumentId,
        heads: &[automerge::ChangeHash],
    ) -> Result<Option<Vec<u8>>> {
        let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, doc)?;
        if loaded.doc.get_heads() == heads {
            return Ok(None);
        }
        Ok(Some(loaded.doc.save_after(heads)))
    }

    /// Records the relay connection's state, for `status` (in this process or another).
    pub fn record_connection(&mut self, record: &ConnectionRecord) -> Result<()> {
        self.store.conn().execute(
            "INSERT OR REPLACE INTO sync_connection
               (id, relay, state, since, attempt, last_error, retry_at, heartbeat)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                record.relay,
                record.state.as_str(),
                record.since,
                record.attempt,
                record.last_error,
                record.retry_at,
                record.heartbeat
            ],
        )?;
        Ok(())
    }

    /// The relay connection as last recorded, judged now (a sync that stopped refreshing its
    /// record reads as offline); `None` if this device never ran sync.
    pub fn connection(&self) -> Result<Option<ConnectionRecord>> {
        let row = self
            .store
            .conn()
            .prepare_cached(
                "SELECT relay, state, since, attempt, last_error, retry_at, heartbeat
                 FROM sync_connection WHERE id = 1",
            )?
            .query_row([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .optional()?;
        let Some((relay, state, since, attempt, last_error, retry_at, heartbeat)) = row else {
            return Ok(None);
        };
        let record = ConnectionRecord {
            relay,
            state: state.parse()?,
            since,
            attempt,
            last_error,
            retry_at,
            heartbeat,
        };
        Ok(Some(record.at(now_ms())))
    }

    /// Per document: its local heads, the heads the relay last confirmed, and when.
    pub fn sync_status(&mut self) -> Result<Vec<DocSyncRecord>> {
        let records = self.documents()?;
        let mut out = Vec::new();
        for record in records {
            let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &record.doc_id)?;
            let local = heads_text(&loaded.doc.get_heads());
            let relay: Option<(String, i64)> = self
                .store
                .conn()
                .prepare_cached("SELECT relay_heads, synced_at FROM sync_status WHERE doc_id = ?1")?
                .query_row([record.doc_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            out.push(DocSyncRecord {
                doc_id: record.doc_id.to_string(),
                group_id: record.group_id,
                kind: record.kind.as_str(),
                synced: relay.as_ref().is_some_and(|(h, _)| *h == local),
                local_heads: local,
                relay_heads: relay.as_ref().map(|(h, _)| h.clone()),
                synced_at: relay.map(|(_, t)| t),
            });
        }
        Ok(out)
    }

    /// Stores changes that came from the relay: one transaction holding the chunk and the
    /// document's index rows. A document seen for the first time is registered by what it is
    /// (a plan or a contacts document), and its group too if this device only knew its id.
    pub fn apply_remote_changes(&mut self, doc_id: &DocumentId, changes: &[u8]) -> Result<()> {
        let registered = self.documents()?.iter().any(|d| d.doc_id == *doc_id);
        let tx = self.store.begin()?;
        let result = if registered {
            apply_known(&tx, &mut self.docs, doc_id, changes)
        } else {
            apply_new(&tx, &mut self.docs, doc_id, changes)
        };
        match result.and_then(|()| Ok(tx.commit()?)) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.docs.remove(doc_id);
                Err(e)
            }
        }
    }
}

/// A document's sync standing, for `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocSyncRecord {
    /// The document.
    pub doc_id: String,
    /// Its group.
    pub group_id: String,
    /// plan | contacts.
    pub kind: &'static str,
    /// Whether the relay has everything this device has of it.
    pub synced: bool,
    /// This device's heads.
    pub local_heads: String,
    /// The heads the relay last confirmed.
    pub relay_heads: Option<String>,
    /// When (Unix milliseconds).
    pub synced_at: Option<i64>,
}

/// When an invite valid for `valid_for_ms` from now expires (Unix ms).
fn expires_at(valid_for_ms: i64) -> Result<i64> {
    let invalid = |reason: &str| Error::Invalid {
        what: "invite expiry",
        reason: reason.into(),
    };
    if valid_for_ms <= 0 {
        return Err(invalid("it must be in the future"));
    }
    now_ms()
        .checked_add(valid_for_ms)
        .ok_or_else(|| invalid("it is too far in the future"))
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
        kind: "plan, contacts or roster",
        reason: reason.to_owned(),
    };
    use automerge::ReadDoc;
    let (kind, owner, period, group_id) = if doc.get(automerge::ROOT, "roster_of")?.is_some() {
        let r = Roster::read(&doc, &id)?;
        (DocKind::Roster, None, None, r.roster_of)
    } else if doc.get(automerge::ROOT, "contacts")?.is_some() {
        let c: ContactsDoc = schema::hydrate(&doc, &id, DocKind::Contacts)?;
        (
            DocKind::Contacts,
            Some(c.canvasser),
            Some(c.period),
            c.group_id,
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
        (DocKind::Plan, None, None, p.group_id)
    } else {
        return Err(not_ours(
            "it is neither a plan, a contacts document nor a roster",
        ));
    };
    let known_group: bool = tx
        .query_row(
            "SELECT 1 FROM groups WHERE group_id = ?1",
            [&group_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
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
