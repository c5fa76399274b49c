//! The connections the hub thread serves: one table from a connection to its outgoing queue
//! and address, and the back-pressure rules (a peer that does not read is cut off; one that
//! opens too many documents is refused).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use groundwork_core::sync::hub::{ConnId, Hub};

use crate::access::RelayAccess;
use crate::channel::Outlet;
use crate::metrics::Metrics;

/// One open connection.
struct Conn {
    /// Where its frames go.
    outlet: Outlet,
    /// Its network address, for rate limits.
    addr: IpAddr,
}

/// The open connections and what this batch learned about them.
pub(super) struct Connections {
    open: BTreeMap<ConnId, Conn>,
    /// The most bytes one connection may have waiting to be sent.
    max_queued: usize,
    /// Documents one connection may sync.
    max_docs: usize,
    /// Connections cut off in this batch for not reading, to drop.
    not_reading: BTreeSet<ConnId>,
    /// Connections that sent frames in this batch, to check against the limits.
    busy: BTreeSet<ConnId>,
}

impl Connections {
    /// No connections yet, with the limits each will be held to.
    pub(super) fn new(max_queued: usize, max_docs: usize) -> Self {
        Self {
            open: BTreeMap::new(),
            max_queued,
            max_docs,
            not_reading: BTreeSet::new(),
            busy: BTreeSet::new(),
        }
    }

    /// A connection opened.
    pub(super) fn open(&mut self, conn: ConnId, outlet: Outlet, addr: IpAddr, metrics: &Metrics) {
        if self.open.insert(conn, Conn { outlet, addr }).is_none() {
            metrics.connections.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether `conn` is open (a message from one dropped meanwhile finds it closed).
    pub(super) fn is_open(&self, conn: ConnId) -> bool {
        self.open.contains_key(&conn)
    }

    /// The network address of `conn`.
    pub(super) fn addr(&self, conn: ConnId) -> Option<IpAddr> {
        self.open.get(&conn).map(|c| c.addr)
    }

    /// `conn` sent a frame in this batch.
    pub(super) fn busy(&mut self, conn: ConnId) {
        self.busy.insert(conn);
    }

    /// Queues a frame for `conn`; a peer with more than its bound waiting is cut off now and
    /// dropped at the end of the batch.
    pub(super) fn send(&mut self, conn: ConnId, frame: Vec<u8>, metrics: &Metrics) {
        let Some(c) = self.open.get(&conn) else {
            return;
        };
        metrics.messages_out.fetch_add(1, Ordering::Relaxed);
        metrics
            .bytes_out
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        if c.outlet.frame(frame) > self.max_queued && self.not_reading.insert(conn) {
            tracing::warn!(conn, "cutting off a connection that does not read");
            metrics.slow_peers_cut.fetch_add(1, Ordering::Relaxed);
            c.outlet.cut();
        }
    }

    /// Closes `conn` after what is queued, saying why.
    pub(super) fn close(&self, conn: ConnId, reason: &str) {
        if let Some(c) = self.open.get(&conn) {
            c.outlet.close(reason);
        }
    }

    /// Sends `conn` a protocol error, then closes it.
    pub(super) fn refuse(&self, conn: ConnId, reason: &str) {
        if let Some(c) = self.open.get(&conn) {
            c.outlet.refuse(reason);
        }
    }

    /// Forgets `conn` (its task lets go of the socket once the outlet is dropped).
    pub(super) fn forget(&mut self, conn: ConnId, metrics: &Metrics) {
        self.busy.remove(&conn);
        if self.open.remove(&conn).is_some() {
            metrics.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Refuses every connection with `reason` and forgets them all.
    pub(super) fn close_all(&mut self, reason: &str, metrics: &Metrics) {
        for c in std::mem::take(&mut self.open).into_values() {
            c.outlet.refuse(reason);
        }
        self.not_reading.clear();
        self.busy.clear();
        metrics.connections.store(0, Ordering::Relaxed);
    }

    /// The connections to drop at the end of a batch, with why: those cut off for not
    /// reading (no reason: they were cut already), and those that went over their document
    /// limit.
    pub(super) fn over_limits(&mut self, hub: &Hub<RelayAccess>) -> Vec<(ConnId, Option<String>)> {
        let mut out: Vec<(ConnId, Option<String>)> = std::mem::take(&mut self.not_reading)
            .into_iter()
            .map(|c| (c, None))
            .collect();
        for conn in std::mem::take(&mut self.busy) {
            if hub.docs_on(conn) > self.max_docs {
                let reason = format!("more than {} documents on one connection", self.max_docs);
                out.push((conn, Some(reason)));
            }
        }
        out
    }
}
