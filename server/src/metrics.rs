//! The relay's counters for `/metrics` (Prometheus text), never labelled by document, group or
//! device, and the one place that reads the process's resident memory.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters for `/metrics`. Never labelled by document, group or device: no personal data.
#[derive(Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// Documents in memory.
    pub documents_loaded: AtomicU64,
    /// Groups whose access rows are in memory (those with a member connected, or just used).
    pub groups_held: AtomicU64,
    /// Frames received.
    pub messages_in: AtomicU64,
    /// Frames sent.
    pub messages_out: AtomicU64,
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Bytes sent.
    pub bytes_out: AtomicU64,
    /// Group commits made.
    pub persist_batches: AtomicU64,
    /// Total time spent in group commits, in microseconds.
    pub persist_micros: AtomicU64,
    /// Connections closed for a protocol error.
    pub protocol_errors: AtomicU64,
    /// Connections cut off for not reading what they were sent.
    pub slow_peers_cut: AtomicU64,
    /// Frames a connection's task waited to forward, its budget of frames in flight spent.
    pub inbound_waits: AtomicU64,
    /// Frames read late because their device was over its frames per second.
    pub frames_slowed: AtomicU64,
    /// Writes the store failed (a full disk or quota, or an I/O error).
    pub storage_failures: AtomicU64,
    /// The operator's quota for the store in bytes, as applied (0: none).
    pub storage_quota_bytes: AtomicU64,
    /// Why the store takes no changes now, while it does not (for `/healthz`).
    pub storage_problem: std::sync::Mutex<Option<String>>,
    /// Rows of other nodes' change log applied (PostgreSQL).
    pub log_applied: AtomicU64,
    /// Reads of the change log that failed (the database unreachable).
    pub log_failures: AtomicU64,
    /// Change log rows and stored access rows that did not read as an access change (left
    /// out, each logged).
    pub unreadable_records: AtomicU64,
    /// Sync messages answered from the hub's memo rather than built again by automerge.
    pub sync_messages_reused: AtomicU64,
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let rss = resident_bytes();
        format!(
            "# HELP groundwork_connections Open WebSocket connections.\n\
             # TYPE groundwork_connections gauge\ngroundwork_connections {}\n\
             # HELP groundwork_documents_loaded Documents in memory.\n\
             # TYPE groundwork_documents_loaded gauge\ngroundwork_documents_loaded {}\n\
             # HELP groundwork_groups_held Groups whose access rows are in memory.\n\
             # TYPE groundwork_groups_held gauge\ngroundwork_groups_held {}\n\
             # TYPE groundwork_messages_received_total counter\ngroundwork_messages_received_total {}\n\
             # TYPE groundwork_messages_sent_total counter\ngroundwork_messages_sent_total {}\n\
             # TYPE groundwork_bytes_received_total counter\ngroundwork_bytes_received_total {}\n\
             # TYPE groundwork_bytes_sent_total counter\ngroundwork_bytes_sent_total {}\n\
             # HELP groundwork_persist_batches_total Group commits.\n\
             # TYPE groundwork_persist_batches_total counter\ngroundwork_persist_batches_total {}\n\
             # HELP groundwork_persist_seconds_total Time spent in group commits.\n\
             # TYPE groundwork_persist_seconds_total counter\ngroundwork_persist_seconds_total {:.6}\n\
             # TYPE groundwork_protocol_errors_total counter\ngroundwork_protocol_errors_total {}\n\
             # HELP groundwork_slow_peers_cut_total Connections cut off for not reading.\n\
             # TYPE groundwork_slow_peers_cut_total counter\ngroundwork_slow_peers_cut_total {}\n\
             # HELP groundwork_inbound_waits_total Frames held in their socket while the connection's budget of frames in flight was spent.\n\
             # TYPE groundwork_inbound_waits_total counter\ngroundwork_inbound_waits_total {}\n\
             # HELP groundwork_frames_slowed_total Frames read late: their device was over its frames per second.\n\
             # TYPE groundwork_frames_slowed_total counter\ngroundwork_frames_slowed_total {}\n\
             # HELP groundwork_storage_failures_total Writes the store failed.\n\
             # TYPE groundwork_storage_failures_total counter\ngroundwork_storage_failures_total {}\n\
             # HELP groundwork_storage_healthy 1 while the store takes changes, 0 while it refuses them.\n\
             # TYPE groundwork_storage_healthy gauge\ngroundwork_storage_healthy {}\n\
             # HELP groundwork_storage_quota_bytes The store's quota as applied (0: none).\n\
             # TYPE groundwork_storage_quota_bytes gauge\ngroundwork_storage_quota_bytes {}\n\
             # HELP groundwork_resident_memory_bytes Resident set size of the relay.\n\
             # TYPE groundwork_resident_memory_bytes gauge\ngroundwork_resident_memory_bytes {}\n\
             # HELP groundwork_log_applied_total Rows of other relay nodes' change log applied.\n\
             # TYPE groundwork_log_applied_total counter\ngroundwork_log_applied_total {}\n\
             # HELP groundwork_log_failures_total Reads of the change log that failed.\n\
             # TYPE groundwork_log_failures_total counter\ngroundwork_log_failures_total {}\n\
             # HELP groundwork_unreadable_records_total Change log rows and stored access rows the relay could not read (each left out and logged).\n\
             # TYPE groundwork_unreadable_records_total counter\ngroundwork_unreadable_records_total {}\n\
             # HELP groundwork_sync_messages_reused_total Sync messages answered from memory: peers in the same state after a change share one.\n\
             # TYPE groundwork_sync_messages_reused_total counter\ngroundwork_sync_messages_reused_total {}\n",
            g(&self.connections),
            g(&self.documents_loaded),
            g(&self.groups_held),
            g(&self.messages_in),
            g(&self.messages_out),
            g(&self.bytes_in),
            g(&self.bytes_out),
            g(&self.persist_batches),
            g(&self.persist_micros) as f64 / 1e6,
            g(&self.protocol_errors),
            g(&self.slow_peers_cut),
            g(&self.inbound_waits),
            g(&self.frames_slowed),
            g(&self.storage_failures),
            u8::from(self.storage_problem().is_none()),
            g(&self.storage_quota_bytes),
            rss,
            g(&self.log_applied),
            g(&self.log_failures),
            g(&self.unreadable_records),
            g(&self.sync_messages_reused),
        )
    }
}

impl Metrics {
    /// Why the store takes no changes now (`None`: it does).
    pub fn storage_problem(&self) -> Option<String> {
        self.storage_problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_storage_problem(&self, problem: Option<String>) {
        *self
            .storage_problem
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = problem;
    }
}

/// The resident set size of this process, from /proc (0 where there is none).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}
