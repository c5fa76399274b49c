//! The relay's hub thread: owns the sync [`Hub`] and the store, takes connection events from the
//! WebSocket tasks, and runs the hub's effects, writing each batch of changes in one
//! transaction (group commit) before sending anything that follows them.
//!
//! FIXME(access control): which documents a device may sync is decided here by the temporary
//! rule "a device that asks for any document of a group syncs the whole group". The access
//! control issue replaces it with the relay's member and role tables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use automerge::ReadDoc;
use groundwork_core::ids::DocumentId;
use groundwork_core::sync::hub::{ConnId, Effect, Hub};
use groundwork_core::sync::wire::PeerMetadata;
use tokio::sync::mpsc::UnboundedSender;

use crate::store::{RelayStore, StoreError, Write};

/// What the WebSocket tasks tell the hub thread.
pub enum Inbound {
    /// A connection opened; frames for it go to `tx`.
    Open {
        /// Its id.
        conn: ConnId,
        /// Where its outgoing frames go.
        tx: UnboundedSender<Outbound>,
    },
    /// A binary frame arrived.
    Frame {
        /// From.
        conn: ConnId,
        /// The frame.
        bytes: Vec<u8>,
    },
    /// The connection closed.
    Closed {
        /// Which.
        conn: ConnId,
    },
}

/// What the hub thread tells a WebSocket task.
#[derive(Debug)]
pub enum Outbound {
    /// Send this binary frame.
    Frame(Vec<u8>),
    /// Close the connection, saying why.
    Close(String),
}

/// Counters for `/metrics`. Never labelled by document, group or device: no personal data.
#[derive(Default)]
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: AtomicU64,
    /// Documents in memory.
    pub documents_loaded: AtomicU64,
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
             # TYPE groundwork_messages_received_total counter\ngroundwork_messages_received_total {}\n\
             # TYPE groundwork_messages_sent_total counter\ngroundwork_messages_sent_total {}\n\
             # TYPE groundwork_bytes_received_total counter\ngroundwork_bytes_received_total {}\n\
             # TYPE groundwork_bytes_sent_total counter\ngroundwork_bytes_sent_total {}\n\
             # HELP groundwork_persist_batches_total Group commits.\n\
             # TYPE groundwork_persist_batches_total counter\ngroundwork_persist_batches_total {}\n\
             # HELP groundwork_persist_seconds_total Time spent in group commits.\n\
             # TYPE groundwork_persist_seconds_total counter\ngroundwork_persist_seconds_total {:.6}\n\
             # TYPE groundwork_protocol_errors_total counter\ngroundwork_protocol_errors_total {}\n\
             # HELP groundwork_resident_memory_bytes Resident set size of the relay.\n\
             # TYPE groundwork_resident_memory_bytes gauge\ngroundwork_resident_memory_bytes {}\n",
            g(&self.connections),
            g(&self.documents_loaded),
            g(&self.messages_in),
            g(&self.messages_out),
            g(&self.bytes_in),
            g(&self.bytes_out),
            g(&self.persist_batches),
            g(&self.persist_micros) as f64 / 1e6,
            g(&self.protocol_errors),
            rss,
        )
    }
}

/// The resident set size of this process, from /proc (0 where there is none).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

struct HubThread {
    hub: Hub,
    store: RelayStore,
    metrics: Arc<Metrics>,
    started: Instant,
    /// Where each connection's frames go.
    conns: BTreeMap<ConnId, UnboundedSender<Outbound>>,
    /// Connections by device, to offer a group's new documents to its members.
    by_peer: BTreeMap<String, BTreeSet<ConnId>>,
    /// Connections that asked for a document whose group is not known yet.
    waiting: BTreeMap<DocumentId, BTreeSet<ConnId>>,
    /// When each idle document was first seen idle.
    idle_since: BTreeMap<DocumentId, Instant>,
    /// Documents no connection syncs leave memory after this long.
    unload_after: Duration,
}

/// Runs the hub thread until every sender of `rx` is gone; returns after the last write.
pub fn run(
    store: RelayStore,
    rx: Receiver<Inbound>,
    metrics: Arc<Metrics>,
    storage_id: String,
    unload_after: Duration,
) {
    let hub = Hub::new(
        format!("groundwork-relay-{storage_id}"),
        PeerMetadata {
            storage_id: Some(storage_id),
            is_ephemeral: false,
        },
    );
    let mut t = HubThread {
        hub,
        store,
        metrics,
        started: Instant::now(),
        conns: BTreeMap::new(),
        by_peer: BTreeMap::new(),
        waiting: BTreeMap::new(),
        idle_since: BTreeMap::new(),
        unload_after,
    };
    // Ticks (retries, unloading idle documents) run on time, busy or not.
    let tick_every = Duration::from_secs(1).min(unload_after.max(Duration::from_millis(50)));
    let mut last_tick = Instant::now();
    loop {
        match rx.recv_timeout(tick_every) {
            Ok(first) => {
                t.input(first);
                // Everything already queued joins this batch, and so this group commit.
                for next in rx.try_iter().take(1024) {
                    t.input(next);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if last_tick.elapsed() >= tick_every {
            last_tick = Instant::now();
            let now = t.now();
            t.hub.handle_tick(now);
            t.unload_idle();
        }
        if let Err(e) = t.drive() {
            // The store failed: nothing more can be acknowledged safely. Close everyone; the
            // devices keep their changes and retry.
            tracing::error!(error = %e, "relay store failed; closing all connections");
            for tx in t.conns.values() {
                let _ = tx.send(Outbound::Close("relay storage failure".into()));
            }
        }
    }
    tracing::info!("hub thread stopped");
}

impl HubThread {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn input(&mut self, event: Inbound) {
        let now = self.now();
        match event {
            Inbound::Open { conn, tx } => {
                self.conns.insert(conn, tx);
                self.metrics.connections.fetch_add(1, Ordering::Relaxed);
                self.hub
                    .connect(conn, groundwork_core::sync::hub::Side::Server, now);
            }
            Inbound::Frame { conn, bytes } => {
                self.metrics.messages_in.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .bytes_in
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                self.hub.handle_frame(conn, &bytes, now);
            }
            Inbound::Closed { conn } => {
                if self.conns.remove(&conn).is_some() {
                    self.metrics.connections.fetch_sub(1, Ordering::Relaxed);
                }
                if let Some(peer) = self.hub.peer_of(conn).map(str::to_owned)
                    && let Some(set) = self.by_peer.get_mut(&peer)
                {
                    set.remove(&conn);
                    if set.is_empty() {
                        self.by_peer.remove(&peer);
                    }
                }
                for set in self.waiting.values_mut() {
                    set.remove(&conn);
                }
                self.waiting.retain(|_, s| !s.is_empty());
                self.hub.handle_disconnect(conn);
            }
        }
    }

    /// Runs effects until there are none: first every write of the batch in one transaction,
    /// then everything else, in order.
    fn drive(&mut self) -> Result<(), StoreError> {
        loop {
            let effects: Vec<Effect> = std::iter::from_fn(|| self.hub.poll_effect()).collect();
            if effects.is_empty() {
                break;
            }
            let mut writes = Vec::new();
            let mut offers: Vec<(ConnId, DocumentId)> = Vec::new();
            let mut offers_after: Vec<(ConnId, DocumentId)> = Vec::new();
            for e in &effects {
                match e {
                    Effect::Persist { doc, changes } => {
                        writes.push(Write::Chunk(*doc, changes.clone()));
                    }
                    Effect::DocChanged {
                        doc,
                        from,
                        new: true,
                    } => {
                        self.learn_group(*doc, *from, &mut writes, &mut offers)?;
                    }
                    Effect::Subscribed { conn, doc } => {
                        self.subscribed(*conn, *doc, &mut writes, &mut offers)?;
                    }
                    Effect::PeerReady { conn, peer } => {
                        // After the handshake's answer, which is among this batch's sends.
                        self.by_peer.entry(peer.clone()).or_default().insert(*conn);
                        for group in self.store.groups_of(peer)? {
                            for doc in self.store.docs_of(&group)? {
                                offers_after.push((*conn, doc));
                            }
                        }
                    }
                    _ => {}
                }
            }
            let start = Instant::now();
            if !writes.is_empty() {
                self.store.commit(&writes)?;
                self.metrics.persist_batches.fetch_add(1, Ordering::Relaxed);
                self.metrics
                    .persist_micros
                    .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            // Documents offered in this batch go out before the batch's own answers, so a
            // device that asked for one document of a group learns of the others before it sees
            // that one settle (a `sync --once` would otherwise finish without them).
            let now = self.now();
            for (conn, doc) in offers {
                self.hub.offer(conn, doc, now);
            }
            let mut first = Vec::new();
            while let Some(e) = self.hub.poll_effect() {
                match e {
                    Effect::Load { doc } => {
                        let bytes = self.store.load(&doc)?;
                        self.hub.handle_loaded(doc, bytes.as_deref(), now);
                    }
                    other => first.push(other),
                }
            }
            for e in first.into_iter().chain(effects) {
                self.execute(e, now)?;
            }
            for (conn, doc) in offers_after {
                self.hub.offer(conn, doc, now);
            }
        }
        let loaded = self.hub.doc_ids().count() as u64;
        self.metrics
            .documents_loaded
            .store(loaded, Ordering::Relaxed);
        Ok(())
    }

    /// Runs one effect that is not a write (writes were committed before).
    fn execute(&mut self, effect: Effect, now: u64) -> Result<(), StoreError> {
        match effect {
            Effect::Send { conn, frame } => {
                if let Some(tx) = self.conns.get(&conn) {
                    self.metrics.messages_out.fetch_add(1, Ordering::Relaxed);
                    self.metrics
                        .bytes_out
                        .fetch_add(frame.len() as u64, Ordering::Relaxed);
                    let _ = tx.send(Outbound::Frame(frame));
                }
            }
            Effect::Close { conn, reason } => {
                self.metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
                if let Some(tx) = self.conns.get(&conn) {
                    let _ = tx.send(Outbound::Close(reason));
                }
            }
            Effect::Load { doc } => {
                let bytes = self.store.load(&doc)?;
                self.hub.handle_loaded(doc, bytes.as_deref(), now);
            }
            _ => {}
        }
        Ok(())
    }

    /// A document arrived for the first time: read its group, record it, make the sender (and
    /// whoever waited for it) members, and offer it to the group's connected members.
    fn learn_group(
        &mut self,
        doc: DocumentId,
        from: ConnId,
        writes: &mut Vec<Write>,
        offers: &mut Vec<(ConnId, DocumentId)>,
    ) -> Result<(), StoreError> {
        let Some(group) = self.hub.doc(&doc).and_then(group_id_of) else {
            return Ok(());
        };
        writes.push(Write::DocGroup(doc, group.clone()));
        let mut newcomers: BTreeSet<ConnId> = self.waiting.remove(&doc).unwrap_or_default();
        newcomers.insert(from);
        for conn in newcomers {
            if let Some(peer) = self.hub.peer_of(conn).map(str::to_owned) {
                writes.push(Write::Member(group.clone(), peer));
                for other in self.store.docs_of(&group)? {
                    offers.push((conn, other));
                }
            }
        }
        let mut members: BTreeSet<String> = self.store_members(&group)?;
        members.extend(self.hub.peer_of(from).map(str::to_owned));
        for peer in members {
            for conn in self.by_peer.get(&peer).into_iter().flatten() {
                offers.push((*conn, doc));
            }
        }
        Ok(())
    }

    /// The group's members that are connected now: one indexed query, not a scan of every
    /// connection.
    fn store_members(&self, group: &str) -> Result<BTreeSet<String>, StoreError> {
        Ok(self
            .store
            .members_of(group)?
            .into_iter()
            .filter(|peer| self.by_peer.contains_key(peer))
            .collect())
    }

    /// A connection asked about a document: if its group is known, the device joins the group
    /// (see the FIXME at the top) and is offered all of it.
    fn subscribed(
        &mut self,
        conn: ConnId,
        doc: DocumentId,
        writes: &mut Vec<Write>,
        offers: &mut Vec<(ConnId, DocumentId)>,
    ) -> Result<(), StoreError> {
        let Some(peer) = self.hub.peer_of(conn).map(str::to_owned) else {
            return Ok(());
        };
        match self.store.group_of(&doc)? {
            Some(group) => {
                if !self.store.groups_of(&peer)?.contains(&group) {
                    writes.push(Write::Member(group.clone(), peer));
                    for other in self.store.docs_of(&group)? {
                        offers.push((conn, other));
                    }
                }
            }
            None => {
                self.waiting.entry(doc).or_default().insert(conn);
            }
        }
        Ok(())
    }

    fn unload_idle(&mut self) {
        let now = Instant::now();
        let idle: BTreeSet<DocumentId> = self.hub.idle_docs().into_iter().collect();
        self.idle_since.retain(|d, _| idle.contains(d));
        for doc in idle {
            let since = *self.idle_since.entry(doc).or_insert(now);
            if now.duration_since(since) >= self.unload_after && self.hub.unload(&doc) {
                self.idle_since.remove(&doc);
            }
        }
        let loaded = self.hub.doc_ids().count() as u64;
        self.metrics
            .documents_loaded
            .store(loaded, Ordering::Relaxed);
    }
}

/// The `group_id` at a document's root, if it has one.
fn group_id_of(doc: &automerge::AutoCommit) -> Option<String> {
    match doc.get(automerge::ROOT, "group_id").ok()?? {
        (automerge::Value::Scalar(s), _) => match s.as_ref() {
            automerge::ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}
