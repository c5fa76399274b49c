//! Canvass contacts on the device: logging (one map entry into the canvasser's document of
//! the month), pages and counts from the index, CSV export.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::Transaction;

use crate::compaction::COMPACT_AFTER_CHUNKS;
use crate::error::{Error, Result};
use crate::ids::{DocumentId, new_entity_id};
use crate::schema::contacts::{Contact, ContactsDoc, NewContact, insert_contact};
use crate::schema::{self, DocKind};
use crate::store::index::{self, ContactPage, ContactQuery, ContactRow};
use crate::store::{self, DocRecord};
use crate::time::{now_ms, period_of};

use super::{Device, Loaded, catch_up, commit_change, reindex};

impl Device {
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
        // One call writes one document: that of the month the contacts happened in.
        let period = period_of(contacts.first().map_or(now, |c| c.at));
        if contacts.iter().any(|c| period_of(c.at) != period) {
            return Err(Error::Invalid {
                what: "contacts",
                reason: "contacts of different months go in separate calls".into(),
            });
        }
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

    /// Writes every contact of a group to a CSV file only its owner can read, every cell safe
    /// to open in a spreadsheet ([`crate::export`]); returns how many. Each row names its
    /// canvasser by device id and by the name on the group's roster.
    pub fn export_contacts_csv(&mut self, group_id: &str, path: &Path) -> Result<usize> {
        self.group(group_id)?;
        let rows = index::all_contacts(self.store.conn(), group_id)?;
        let names = self.canvasser_names(group_id)?;
        write_csv(&rows, &names, crate::export::CsvWriter::create(path)?)
    }

    /// The same CSV as [`Device::export_contacts_csv`], as text: for an app that hands it to
    /// its user as a download, made on the device. Returns how many contacts and the text.
    pub fn contacts_csv(&mut self, group_id: &str) -> Result<(usize, String)> {
        self.group(group_id)?;
        let rows = index::all_contacts(self.store.conn(), group_id)?;
        let names = self.canvasser_names(group_id)?;
        let mut text = Vec::new();
        let n = write_csv(&rows, &names, crate::export::CsvWriter::new(&mut text))?;
        // Every cell was a `str`, so the bytes are UTF-8.
        Ok((n, String::from_utf8_lossy(&text).into_owned()))
    }

    /// The names of a group's devices by id, from its roster (as last synced), and this
    /// device's own: who logged each contact, for exports.
    fn canvasser_names(&mut self, group_id: &str) -> Result<HashMap<String, String>> {
        let mut names: HashMap<String, String> = self
            .members(group_id)?
            .into_iter()
            .map(|(id, m)| (id, m.name))
            .collect();
        names.insert(self.info.device_id.clone(), self.info.name.clone());
        Ok(names)
    }

    /// Sets how many months of contacts a group keeps (`None`: all; leads only), after
    /// writing the contacts it is about to erase to `export` (a CSV file), if given. The
    /// older periods' documents are erased from this device at once, and from the relay and
    /// every other device as the setting reaches them. Returns how many contacts were
    /// exported.
    pub fn set_retention(
        &mut self,
        group_id: &str,
        months: Option<u64>,
        export: Option<&Path>,
    ) -> Result<usize> {
        self.lead_only(group_id, "choose how long the group keeps contacts")?;
        let mut exported = 0;
        if let (Some(months), Some(path)) = (months, export) {
            let oldest = crate::time::oldest_kept_period(now_ms(), months);
            let rows: Vec<ContactRow> = index::all_contacts(self.store.conn(), group_id)?
                .into_iter()
                .filter(|r| period_of(r.at) < oldest)
                .collect();
            let names = self.canvasser_names(group_id)?;
            exported = write_csv(&rows, &names, crate::export::CsvWriter::create(path)?)?;
        }
        self.set_group_retention(group_id, months)?;
        self.apply_retention()?;
        Ok(exported)
    }

    /// Erases the contacts documents of periods older than its groups' retention keeps, from
    /// this store (with their chunks, sync state and index rows), then compacts the file so
    /// their bytes do not linger in it. Runs as the store opens and as a group's retention
    /// arrives; returns how many documents were erased.
    pub fn apply_retention(&mut self) -> Result<usize> {
        let now = now_ms();
        let groups: Vec<(String, i64)> = {
            let mut stmt = self.store.conn().prepare_cached(
                "SELECT group_id, retention_months FROM groups WHERE retention_months IS NOT NULL",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut erased = Vec::new();
        for (group, months) in groups {
            let oldest = crate::time::oldest_kept_period(now, months.max(1) as u64);
            let tx = self.store.begin()?;
            let docs: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT doc_id FROM documents
                     WHERE group_id = ?1 AND kind = 'contacts' AND period < ?2",
                )?;
                let rows = stmt.query_map(rusqlite::params![group, oldest], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for id in &docs {
                store::erase_document(&tx, id)?;
            }
            tx.commit()?;
            erased.extend(docs);
        }
        for id in &erased {
            if let Ok(doc) = id.parse::<DocumentId>() {
                self.docs.remove(&doc);
                self.erased.push(doc);
            }
        }
        if !erased.is_empty() {
            self.store
                .conn()
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
            tracing::info!(
                documents = erased.len(),
                "contacts past the group's retention erased"
            );
        }
        Ok(erased.len())
    }

    /// Whether `doc` was a contacts document past its group's retention, now erased here (the
    /// relay withdrew it for that reason).
    pub fn erase_if_expired(&mut self, doc: &DocumentId) -> Result<bool> {
        let held =
            |d: &Self| -> Result<bool> { Ok(d.documents()?.iter().any(|r| r.doc_id == *doc)) };
        let before = held(self)?;
        self.apply_retention()?;
        Ok(before && !held(self)?)
    }
}

/// Writes contacts to a CSV file only its owner can read, every cell safe to open in a
/// spreadsheet ([`crate::export`]); returns how many. `names` gives canvassers' names by device
/// id (a device missing from it, say one removed before the roster was synced, gets none).
fn write_csv<W: std::io::Write>(
    rows: &[ContactRow],
    names: &HashMap<String, String>,
    mut out: crate::export::CsvWriter<W>,
) -> Result<usize> {
    out.write_row([
        "contact_id",
        "time",
        "canvasser",
        "canvasser_name",
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
    for r in rows {
        out.write_row([
            r.contact_id.as_str(),
            &crate::time::format_rfc3339(r.at),
            &r.canvasser,
            names.get(&r.canvasser).map_or("", String::as_str),
            r.place.as_deref().unwrap_or(""),
            r.result.as_str(),
            &r.support.map(|s| s.to_string()).unwrap_or_default(),
            &r.interests
                .iter()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(";"),
            if r.follow_up { "yes" } else { "no" },
            r.note.as_deref().unwrap_or(""),
            r.name.as_deref().unwrap_or(""),
            r.phone.as_deref().unwrap_or(""),
            r.email.as_deref().unwrap_or(""),
        ])?;
    }
    out.finish()?;
    Ok(rows.len())
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
        group_id: Some(group_id.to_owned()),
        kind: DocKind::Contacts,
    };
    store::insert_document(tx, &record, Some(owner), Some(period))?;
    let seq = store::append_own_chunk(tx, &doc_id, "contacts of this month", &change)?;
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
    let seq = store::append_own_chunk(&tx, doc_id, "contacts of this month", &change)?;
    for contact in contacts {
        index::put_contact(&tx, group_id, &id, contact)?;
    }
    tx.commit()?;
    loaded.seq = seq;
    loaded.chunks += 1;
    Ok(loaded.chunks)
}
