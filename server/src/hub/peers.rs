//! Other relay nodes on the same database (PostgreSQL): this node reads the change log they
//! write, from where it was, and applies it here. Chunks of documents in memory reach the
//! devices syncing them on this node; access records change who may read what here (a device
//! removed through another node is cut off here at once).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use groundwork_core::ids::DocumentId;
use groundwork_core::sync::hub::{ConnId, Hub};

use crate::access::AccessChange;
use crate::access::RelayAccess;
pub(super) use crate::cluster::Logged;
use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError};

use super::residency::{Residency, hold_groups};

/// How long a node that stopped reading the log still holds back its pruning.
const LOG_LIVE_FOR: Duration = Duration::from_secs(300);

/// This node's place in the change log.
pub(super) struct Peers {
    /// Rows from transactions at or past this one are read next time.
    xmin: u64,
    /// Rows applied that may be read again (their transaction was at or past the cursor),
    /// with their transaction: forgotten once the cursor passes it.
    applied: BTreeMap<i64, u64>,
}

impl Peers {
    /// Where the change log starts now (`None` on SQLite, where this node is the only one).
    /// Taken before the tables are read: whatever commits meanwhile is read again from the log.
    pub(super) fn start(store: &RelayStore) -> Result<Option<Self>, StoreError> {
        Ok(store.log_cursor()?.map(|xmin| Self {
            xmin,
            applied: BTreeMap::new(),
        }))
    }

    /// Reads the log from where this node was: what other nodes wrote, in the order they
    /// wrote it, for [`apply_chunk`] and [`apply`] (in that order: a chunk written after a
    /// removal must find the removed device's connections closed). A read that fails is
    /// returned only when the database is out of reach (the caller stops taking changes).
    pub(super) fn read(
        &mut self,
        hub: &Hub<RelayAccess>,
        store: &RelayStore,
        metrics: &Metrics,
    ) -> Result<Vec<Logged>, StoreError> {
        let (next, entries) = match store.read_log(self.xmin) {
            Ok(read) => read,
            Err(e) => {
                metrics.log_failures.fetch_add(1, Ordering::Relaxed);
                if e.is_unavailable() {
                    return Err(e);
                }
                tracing::warn!(error = %e, "reading the change log failed");
                return Ok(Vec::new());
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            if self.applied.insert(entry.id, entry.xid).is_some() {
                continue;
            }
            match entry.body {
                Ok(Logged::Chunk(doc, hash)) => {
                    metrics.log_applied.fetch_add(1, Ordering::Relaxed);
                    if hub.doc(&doc).is_some() {
                        out.push(Logged::Chunk(doc, hash));
                    }
                }
                Ok(change) => {
                    metrics.log_applied.fetch_add(1, Ordering::Relaxed);
                    out.push(change);
                }
                Err(problem) => {
                    // Written by a newer version, or damaged: what it says is not applied here
                    // (this node may be behind until it is upgraded), and the operator is told.
                    metrics.unreadable_records.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(%problem, row = entry.id, "a change log row this node cannot read");
                }
            }
        }
        self.applied.retain(|_, xid| *xid >= next);
        self.xmin = next;
        Ok(out)
    }

    /// Prunes the rows every node has read (on its timer).
    pub(super) fn prune(store: &RelayStore) {
        match store.prune_log(LOG_LIVE_FOR) {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "change log pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning the change log failed"),
        }
    }
}

/// Another node's chunk of a document in memory here goes to the devices syncing it.
pub(super) fn apply_chunk(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    doc: &DocumentId,
    hash: &[u8],
    now: u64,
) {
    match store.chunk(doc, hash) {
        // Another node's change: stored, so it may go to this node's devices.
        Ok(Some(bytes)) => {
            if let Err(e) = hub.handle_local_change(*doc, &bytes, now) {
                tracing::warn!(doc = %doc, error = %e, "another node's chunk cannot be applied");
            }
        }
        // Folded into a snapshot meanwhile (another node compacted the document): the stored
        // document holds it, so what is stored is applied (what this node has already costs
        // nothing).
        Ok(None) => match store.load(doc) {
            Ok(Some(bytes)) => {
                if let Err(e) = hub.handle_local_change(*doc, &bytes, now) {
                    tracing::warn!(doc = %doc, error = %e, "a stored document cannot be applied");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading a compacted document failed"),
        },
        Err(e) => tracing::warn!(error = %e, "reading another node's chunk failed"),
    }
}

/// Applies what another node changed in the access tables, with what it implies here. Returns
/// the connections to close, with why (a device removed through another node).
pub(super) fn apply(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    residency: &mut Residency,
    change: AccessChange,
    now: u64,
) -> Vec<(ConnId, &'static str)> {
    let mut close = Vec::new();
    match &change {
        AccessChange::Removed { device, .. } => {
            hub.policy_mut().apply(&change);
            // Service stops at once on every node: the device's connections here close, and
            // it is told to wipe the group when it comes back.
            for conn in hub.policy().conns_of(device) {
                close.push((conn, "removed from a group"));
            }
        }
        AccessChange::Document { doc, .. } | AccessChange::Board { doc, .. } => {
            let old = match &change {
                AccessChange::Board { county, .. } => hub.policy().board(county),
                _ => None,
            };
            hub.policy_mut().apply(&change);
            let doc = *doc;
            if let Some(old) = old.filter(|old| *old != doc) {
                hub.withdraw(&old);
            }
            for conn in hub.policy().readers(&doc) {
                if !hub.syncing(conn, &doc) {
                    hub.offer(conn, doc, now);
                }
            }
        }
        AccessChange::Member { device, group, .. } => {
            // A group held here takes the record; one that is not is read whole (with it) if
            // the device is connected here, and otherwise waits until it is.
            if hub.policy().missing(std::slice::from_ref(group)).is_empty() {
                hub.policy_mut().apply(&change);
            } else if !hub.policy().conns_of(device).is_empty()
                && let Err(e) = hold_groups(hub.policy_mut(), store, std::slice::from_ref(group))
            {
                tracing::warn!(error = %e, "reading a group another node changed failed");
            }
            // A device connected here that joined through another node reads its group's
            // documents from now on, without connecting again.
            for conn in hub.policy().conns_of(device) {
                for doc in hub.policy().readable(conn) {
                    if !hub.syncing(conn, &doc) {
                        hub.offer(conn, doc, now);
                    }
                }
            }
        }
        AccessChange::Dropped { doc } => {
            hub.withdraw(doc);
            residency.forget(doc);
            hub.policy_mut().apply(&change);
        }
        _ => hub.policy_mut().apply(&change),
    }
    close
}
