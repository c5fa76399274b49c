//! What sync needs from the device store: documents and their bytes, sync states per peer,
//! what the relay confirmed, the connection record, and the relay this device remembers. The
//! network code (`net`) drives these; each is one store operation.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::DocumentId;
use crate::schema::DocKind;
use crate::sync::connection::ConnectionRecord;
use crate::time::now_ms;

use super::{Device, apply_known, apply_new, catch_up, heads_text};

impl Device {
    /// The relay URL with a fresh signed proof that this device is connecting to that relay.
    pub fn connect_url(&self, relay: &str) -> Result<String> {
        let proof = self.identity()?.connect_proof(relay, now_ms())?;
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
    /// was accepted, so a mistyped address is never remembered. Callers dial only what
    /// [`Self::relay_or`] allows, so for a device with groups this is its own relay (perhaps
    /// at another of its addresses), unless the person moved it on purpose (`relay move`).
    /// The addresses another relay said were its own are forgotten.
    pub fn remember_relay(&mut self, relay: &str) -> Result<()> {
        crate::relay::check(relay)?;
        // Another address of the same relay (a node the relay named as its own) keeps the
        // addresses it named; only a move to another relay forgets them.
        let same = match self.relay()? {
            Some(home) => self.is_home_relay(&home, relay)?,
            None => false,
        };
        if same {
            self.store.conn().execute(
                "UPDATE device SET relay = ?1 WHERE id = 1 AND relay IS NOT ?1",
                [relay],
            )?;
        } else {
            self.store.conn().execute(
                "UPDATE device SET relay = ?1, relay_aliases = '' WHERE id = 1",
                [relay],
            )?;
        }
        Ok(())
    }

    /// Records the addresses `relay` says are its own (`--public-url` on each of its nodes),
    /// when `relay` is this device's relay (or it has none yet): a later `--relay` naming one of
    /// them is the same relay, not a move.
    pub fn remember_relay_aliases(&mut self, relay: &str, urls: &[String]) -> Result<()> {
        match self.relay()? {
            // The relay answered this connection: it is this device's relay from now on.
            None => self.remember_relay(relay)?,
            Some(home) if !self.is_home_relay(&home, relay)? => return Ok(()),
            Some(_) => {}
        }
        let mut audiences: Vec<String> = urls
            .iter()
            .filter_map(|u| crate::relay::audience(u).ok())
            .collect();
        audiences.sort();
        audiences.dedup();
        self.store.conn().execute(
            "UPDATE device SET relay_aliases = ?1 WHERE id = 1",
            [audiences.join("\n")],
        )?;
        Ok(())
    }

    /// Deletes every document a relay writes (rosters, canvassers' briefs, county boards):
    /// before a move to another relay, which writes its own under other ids (the old ones
    /// would be refused there as documents no device may create, and never sync). Returns how
    /// many were deleted; the group's own documents (plans, contacts) are untouched.
    pub fn forget_relay_written(&mut self) -> Result<usize> {
        let tx = self.store.begin()?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare(
                "SELECT doc_id FROM documents WHERE kind IN ('roster', 'brief', 'board')",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for id in &ids {
            crate::store::erase_document(&tx, id)?;
        }
        tx.commit()?;
        for id in &ids {
            if let Ok(doc) = id.parse::<DocumentId>() {
                self.docs.remove(&doc);
            }
        }
        Ok(ids.len())
    }

    /// The other addresses this device's relay said it answers at (as audiences).
    pub fn relay_aliases(&self) -> Result<Vec<String>> {
        let aliases: String = self.store.conn().query_row(
            "SELECT relay_aliases FROM device WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(aliases.lines().map(str::to_owned).collect())
    }

    /// Whether `url` is this device's relay: its remembered address or one the relay named as
    /// its own, compared by [audience](crate::relay::audience).
    pub(crate) fn is_home_relay(&self, home: &str, url: &str) -> Result<bool> {
        let asked = crate::relay::audience(url)?;
        if crate::relay::audience(home)? == asked {
            return Ok(true);
        }
        Ok(self.relay_aliases()?.contains(&asked))
    }

    /// The relay to talk to: `explicit` (a flag, an environment variable, an invite's) when
    /// given, else the one this device remembers. Checked either way, before anything is
    /// dialled: a device with groups has one relay, and an `explicit` naming another is
    /// refused ([`Error::OtherRelay`]) rather than handed the groups' plans and contacts (a
    /// mistyped `--relay`, a wrong `GROUNDWORK_RELAY`). Moving on purpose (`relay move`) dials
    /// the new relay without asking this. A device with no groups may try any relay.
    pub fn relay_or(&self, explicit: Option<&str>) -> Result<String> {
        let relay = match explicit {
            Some(relay) => relay.to_owned(),
            None => self.relay()?.ok_or(Error::NoRelay)?,
        };
        crate::relay::check(&relay)?;
        if explicit.is_some()
            && let Some(home) = self.relay()?
            && !self.is_home_relay(&home, &relay)?
            && !self.groups()?.is_empty()
        {
            return Err(Error::OtherRelay { home, asked: relay });
        }
        Ok(relay)
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
            // A canvasser is sent its group's brief, never the plan: it does not ask for it.
            if !known.contains(&plan) && g.role != crate::identity::Role::Canvasser {
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

    /// How many contacts this device logged in `group_id` that the relay does not have yet: in
    /// each of its own contacts documents, the contacts there now that were not there at the
    /// heads the relay last confirmed (all of them, if it never confirmed any). What a
    /// canvasser's "12 contacts not sent yet" says, exactly.
    pub fn unsent_contacts(&mut self, group_id: &str) -> Result<usize> {
        use automerge::ReadDoc;
        let me = self.info.device_id.clone();
        let mut unsent = 0;
        for record in self.documents()? {
            if record.kind != DocKind::Contacts || record.group_id.as_deref() != Some(group_id) {
                continue;
            }
            let relay: Option<String> = self
                .store
                .conn()
                .prepare_cached("SELECT relay_heads FROM sync_status WHERE doc_id = ?1")?
                .query_row([record.doc_id.to_string()], |r| r.get(0))
                .optional()?;
            let (loaded, _) = catch_up(self.store.conn(), &mut self.docs, &record.doc_id)?;
            let doc = &loaded.doc;
            let canvasser = match doc.get(automerge::ROOT, "canvasser")? {
                Some((automerge::Value::Scalar(s), _)) => s.as_str().map(str::to_owned),
                _ => None,
            };
            if canvasser.as_deref() != Some(me.as_str()) {
                continue;
            }
            let contacts = |at: Option<&[automerge::ChangeHash]>| -> Result<Vec<String>> {
                let Some((_, obj)) = doc.get(automerge::ROOT, "contacts")? else {
                    return Ok(Vec::new());
                };
                Ok(match at {
                    Some(heads) => doc.keys_at(&obj, heads).collect(),
                    None => doc.keys(&obj).collect(),
                })
            };
            let now = contacts(None)?;
            let heads: Vec<automerge::ChangeHash> = relay
                .as_deref()
                .unwrap_or("")
                .split(',')
                .filter_map(|h| h.parse().ok())
                .collect();
            // Heads the document does not hold (a relay's view this device never had) count
            // as nothing confirmed.
            let known =
                !heads.is_empty() && heads.iter().all(|h| doc.get_change_by_hash(h).is_some());
            let sent: std::collections::BTreeSet<String> = if known {
                contacts(Some(&heads))?.into_iter().collect()
            } else {
                Default::default()
            };
            unsent += now.iter().filter(|c| !sent.contains(*c)).count();
        }
        Ok(unsent)
    }

    /// Stores changes that came from the relay: one transaction holding the chunk and the
    /// document's index rows. A document seen for the first time is registered by what it is
    /// (a plan or a contacts document), and its group too if this device only knew its id.
    pub fn apply_remote_changes(&mut self, doc_id: &DocumentId, changes: &[u8]) -> Result<()> {
        let documents = self.documents()?;
        let registered = documents.iter().any(|d| d.doc_id == *doc_id);
        let tx = self.store.begin()?;
        let result = if registered {
            apply_known(&tx, &mut self.docs, doc_id, changes)
        } else {
            apply_new(&tx, &mut self.docs, doc_id, changes)
        };
        match result.and_then(|()| Ok(tx.commit()?)) {
            Ok(()) => {
                // A brief may have dropped documents (a canvasser's old plan and roster): they
                // leave memory too, and the file is compacted so their bytes do not linger.
                // (A new document may be a brief; a registered one's kind is known.)
                let kind = documents
                    .iter()
                    .find(|d| d.doc_id == *doc_id)
                    .map(|d| d.kind);
                let is_brief = kind.is_none_or(|k| k == DocKind::Brief);
                // A plan or brief may bring a retention: contacts it no longer keeps go.
                if kind.is_none_or(|k| matches!(k, DocKind::Plan | DocKind::Brief)) {
                    self.apply_retention()?;
                }
                if is_brief {
                    let kept: std::collections::BTreeSet<DocumentId> =
                        self.documents()?.into_iter().map(|d| d.doc_id).collect();
                    if kept.len() < documents.len() + usize::from(!registered) {
                        self.docs.retain(|d, _| kept.contains(d));
                        self.erased.extend(
                            documents
                                .iter()
                                .map(|d| d.doc_id)
                                .filter(|d| !kept.contains(d)),
                        );
                        self.store
                            .conn()
                            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
                    }
                }
                Ok(())
            }
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
    /// Its group (`None`: a county board, which belongs to no group).
    pub group_id: Option<String>,
    /// plan | contacts | roster | board.
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
