//! What the hub thread keeps in memory: documents load as they are synced and unload once idle
//! (folded into one snapshot on the way out), groups' access rows are read as a member connects
//! or a request needs them and let go once no connected device is in them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use groundwork_core::ids::DocumentId;
use groundwork_core::sync::hub::Hub;

use crate::access::RelayAccess;
use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError};

/// A document unloaded with more chunks than this is folded into one snapshot.
const COMPACT_OVER: usize = 32;

/// When idle documents leave memory, and giving their pages back to the system.
pub(super) struct Residency {
    /// When each idle document was first seen idle.
    idle_since: BTreeMap<DocumentId, Instant>,
    /// Documents no connection syncs leave memory after this long.
    unload_after: Duration,
    /// Gives the pages of unloaded documents back to the system.
    trimmer: crate::memory::Trimmer,
}

impl Residency {
    /// Idle documents leave memory after `unload_after`.
    pub(super) fn new(unload_after: Duration) -> Self {
        Self {
            idle_since: BTreeMap::new(),
            unload_after,
            trimmer: Default::default(),
        }
    }

    /// `doc` is gone (erased, dropped by another node): no longer watched.
    pub(super) fn forget(&mut self, doc: &DocumentId) {
        self.idle_since.remove(doc);
    }

    /// The hub was made afresh: nothing is watched.
    pub(super) fn clear(&mut self, metrics: &Metrics) {
        self.idle_since.clear();
        metrics.documents_loaded.store(0, Ordering::Relaxed);
    }

    /// On each tick: unloads the documents idle for `unload_after`, compacting each.
    pub(super) fn unload_idle(
        &mut self,
        hub: &mut Hub<RelayAccess>,
        store: &RelayStore,
        metrics: &Metrics,
        now: Instant,
    ) {
        let idle: BTreeSet<DocumentId> = hub.idle_docs().into_iter().collect();
        self.idle_since.retain(|d, _| idle.contains(d));
        for doc in idle {
            let since = *self.idle_since.entry(doc).or_insert(now);
            if now.duration_since(since) >= self.unload_after && hub.unload(&doc) {
                self.idle_since.remove(&doc);
                self.trimmer.unloaded();
                // Idle, so folding its chunks costs no one a wait; the next load reads one.
                if let Err(e) = store.compact(&doc, COMPACT_OVER) {
                    tracing::warn!(doc = %doc, error = %e, "compacting a document failed");
                }
            }
        }
        self.trimmer.tick();
        count_loaded(hub, metrics);
    }

    /// Lets go of the groups no connected device is in (and none of `keep`): a relay that
    /// served many groups once holds only those in use.
    pub(super) fn evict_groups(
        &mut self,
        policy: &mut RelayAccess,
        keep: &BTreeSet<String>,
        metrics: &Metrics,
    ) {
        if policy.evict_idle(|g| keep.contains(g)) > 0 {
            self.trimmer.unloaded();
        }
        metrics
            .groups_held
            .store(policy.groups_held() as u64, Ordering::Relaxed);
    }
}

/// Publishes how many documents are in memory.
pub(super) fn count_loaded(hub: &Hub<RelayAccess>, metrics: &Metrics) {
    metrics
        .documents_loaded
        .store(hub.doc_ids().count() as u64, Ordering::Relaxed);
}

/// Reads from the store those of `groups` the access tables do not hold.
pub(super) fn hold_groups(
    policy: &mut RelayAccess,
    store: &RelayStore,
    groups: &[String],
) -> Result<(), StoreError> {
    let missing = policy.missing(groups);
    if missing.is_empty() {
        return Ok(());
    }
    let rows = store.group_rows(&missing)?;
    policy.admit(rows);
    Ok(())
}

/// Reads every group `device` is in (or was removed from) that the tables do not hold.
pub(super) fn hold_groups_of(
    policy: &mut RelayAccess,
    store: &RelayStore,
    device: &str,
) -> Result<(), StoreError> {
    let groups = store.groups_of(device)?;
    hold_groups(policy, store, &groups)
}

/// Puts a stored document into the hub now, unless it is there or loading (a failure leaves
/// it to the hub's own load).
pub(super) fn load_into_hub(hub: &mut Hub<RelayAccess>, store: &RelayStore, doc: DocumentId) {
    if hub.doc_ids().any(|d| *d == doc) {
        return;
    }
    let mut am = groundwork_core::schema::new_doc();
    match store.load(&doc) {
        Ok(Some(bytes))
            if groundwork_core::schema::guarded(|| am.load_incremental(&bytes)).is_ok() =>
        {
            hub.insert_doc(doc, am)
        }
        Ok(None) => {}
        _ => tracing::warn!(doc = %doc, "a stored document cannot be loaded to offer it"),
    }
}
