//! The store's health as the hub thread sees it, and the one owner of "the relay takes no
//! changes now": the reason, the access policy's read-only flag and `/healthz` are set together
//! here, never apart. Also the operator's quota, and the connection nonces kept in memory while
//! the store cannot record them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use crate::access::RelayAccess;
use crate::metrics::Metrics;
use crate::store::{RelayStore, StoreError, Write};

/// What devices are told while the store takes no changes.
const FULL: &str = "the relay's storage is full, so it takes no changes now: yours are kept on \
                    this device and sent when the relay has room again";

/// Whether the store takes changes, and what it needs to again.
#[derive(Debug, Default)]
pub(super) struct StorageHealth {
    /// Why the store takes no changes now, while it does not.
    failing: Option<String>,
    /// The size of the batch being committed (after a failure: the one that failed, which the
    /// store must have room for before it takes changes again).
    batch_bytes: u64,
    /// The quota (MiB) applied to the store.
    quota: Option<u64>,
    /// Connection nonces seen while the store could not record them (replays stay refused).
    unrecorded_nonces: BTreeMap<String, i64>,
}

/// What a probe of a failing store found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Probe {
    /// The store was taking changes all along.
    Healthy,
    /// It still takes none.
    Failing,
    /// It takes changes again: memory may be behind what other nodes wrote meanwhile.
    Recovered,
}

impl StorageHealth {
    /// Why changes are refused now (`None`: they are taken).
    pub(super) fn refusing(&self) -> Option<&str> {
        self.failing.as_deref()
    }

    /// Records the size of the batch about to be committed (what a failing store must have
    /// room for before it is tried again).
    pub(super) fn batch(&mut self, bytes: u64) {
        self.batch_bytes = bytes;
    }

    /// A write failed: from now on changes are refused with the reason, everywhere the reason
    /// is shown. Returns the reason, for the connections to be closed with.
    pub(super) fn failed(
        &mut self,
        e: &StoreError,
        policy: &mut RelayAccess,
        metrics: &Metrics,
    ) -> String {
        metrics.storage_failures.fetch_add(1, Ordering::Relaxed);
        let reason = if e.is_full() {
            FULL.to_owned()
        } else if e.is_unavailable() {
            format!("the relay cannot reach its database, so it takes no changes now: {e}")
        } else {
            format!("the relay's storage is failing, so it takes no changes now: {e}")
        };
        tracing::error!(error = %e, "a write to the relay's store failed; it takes no changes until one succeeds");
        self.set(Some(reason.clone()), policy, metrics);
        reason
    }

    /// After the hub was made afresh from the store: the refusal, if any, applies to it too.
    pub(super) fn reapply(&self, policy: &mut RelayAccess) {
        policy.set_read_only(self.failing.clone());
    }

    fn set(&mut self, reason: Option<String>, policy: &mut RelayAccess, metrics: &Metrics) {
        policy.set_read_only(reason.clone());
        metrics.set_storage_problem(reason.clone());
        self.failing = reason;
    }

    /// On each tick: applies the operator's quota if it changed, and while the store takes no
    /// changes, probes whether it can again (the disk has room, or the quota was raised).
    pub(super) fn check(&mut self, store: &RelayStore, metrics: &Metrics) -> Probe {
        match store.quota_mib() {
            Ok(quota) if quota != self.quota => match store.apply_quota(quota) {
                Ok(()) => {
                    tracing::info!(quota_mib = ?quota, "the store's quota applied");
                    self.quota = quota;
                    metrics.storage_quota_bytes.store(
                        quota.unwrap_or(0).saturating_mul(1024 * 1024),
                        Ordering::Relaxed,
                    );
                }
                Err(e) => tracing::warn!(error = %e, "applying the store's quota failed"),
            },
            Ok(_) => {}
            // While the database is out of reach this fails on every tick; the failure is
            // already reported (health, metrics, the error when it began).
            Err(e) if self.failing.is_some() => {
                tracing::debug!(error = %e, "reading the store's quota failed")
            }
            Err(e) => tracing::warn!(error = %e, "reading the store's quota failed"),
        }
        if self.failing.is_none() {
            return Probe::Healthy;
        }
        // Room for the batch that failed, not only for a small one: a relay that took small
        // changes and failed on that batch again at each retry would close every connection
        // each time.
        match store.probe_write(self.batch_bytes) {
            Ok(()) => Probe::Recovered,
            Err(e) => {
                tracing::debug!(error = %e, "the relay's store still takes no changes");
                Probe::Failing
            }
        }
    }

    /// The store takes changes again ([`Probe::Recovered`], once memory is read afresh where
    /// it must be): the refusal ends, and the nonces kept in memory meanwhile are written (best
    /// effort: they expire within minutes anyway).
    pub(super) fn recovered(
        &mut self,
        store: &RelayStore,
        policy: &mut RelayAccess,
        metrics: &Metrics,
    ) {
        tracing::info!("the relay's store takes changes again");
        self.set(None, policy, metrics);
        let nonces: Vec<Write> = std::mem::take(&mut self.unrecorded_nonces)
            .into_iter()
            .map(|(n, e)| Write::Nonce(n, e))
            .collect();
        if let Err(e) = store.commit(&nonces) {
            tracing::warn!(error = %e, "recording nonces failed");
        }
    }

    /// Whether `nonce` was seen while the store could not record it.
    pub(super) fn nonce_seen(&self, nonce: &str) -> bool {
        self.unrecorded_nonces.contains_key(nonce)
    }

    /// Keeps `nonce` in memory until `expires` (the store could not record it).
    pub(super) fn keep_nonce(&mut self, nonce: &str, expires: i64) {
        self.unrecorded_nonces.insert(nonce.to_owned(), expires);
    }

    /// Forgets the nonces kept in memory that have expired.
    pub(super) fn purge_nonces(&mut self, now: i64) {
        self.unrecorded_nonces.retain(|_, expires| *expires >= now);
    }
}
