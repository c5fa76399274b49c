//! Offering a connection the documents it may read: once its handshake is done and its opening
//! burst is over, and again as its rights grow (a board followed, a staff role granted).

use std::collections::BTreeMap;
use std::time::Duration;

use groundwork_core::sync::control::Control;
use groundwork_core::sync::hub::{ConnId, Hub};

use crate::access::{Principal, RelayAccess};
use crate::store::RelayStore;

use super::residency::load_into_hub;

/// How long the relay waits for a new connection's first document messages before offering it
/// its documents anyway (milliseconds).
const OFFER_WAIT_MS: u64 = 300;

/// Connections whose readable documents are still to be offered.
#[derive(Debug, Default)]
pub(super) struct Offers {
    /// By when, and how many documents each had opened at the last look.
    pending: BTreeMap<ConnId, (u64, usize)>,
}

impl Offers {
    /// `conn` finished its handshake at `now` (hub milliseconds): it is offered what it may
    /// read once it has said what it has.
    pub(super) fn after_handshake(&mut self, conn: ConnId, now: u64) {
        self.pending.insert(conn, (now + OFFER_WAIT_MS, 0));
    }

    /// `conn` is gone.
    pub(super) fn forget(&mut self, conn: ConnId) {
        self.pending.remove(&conn);
    }

    /// Every connection is gone.
    pub(super) fn clear(&mut self) {
        self.pending.clear();
    }

    /// How long after `now` the first connection waiting for its offers is due them.
    pub(super) fn next_due_in(&self, now: u64) -> Option<Duration> {
        self.pending
            .values()
            .map(|(due, _)| Duration::from_millis(due.saturating_sub(now)))
            .min()
    }

    /// Offers each connection that finished its handshake the documents it may read, once its
    /// opening burst of document messages is over (a batch added none), or after
    /// `OFFER_WAIT_MS` if it sends none. A device opens every document it has at once;
    /// offering those too would cross its messages and cost their exchanges an extra round
    /// trip, so only the others are offered.
    pub(super) fn flush(&mut self, hub: &mut Hub<RelayAccess>, store: &RelayStore, now: u64) {
        let mut ready = Vec::new();
        for (conn, (due, seen)) in self.pending.iter_mut() {
            let count = hub.docs_on(*conn);
            if (count > 0 && count == *seen) || *due <= now {
                ready.push(*conn);
            }
            *seen = count;
        }
        for conn in ready {
            self.pending.remove(&conn);
            for doc in hub.policy().readable(conn) {
                // Loaded first, so that its first sync message goes out before `Offered`
                // (a document still loading would answer after it, and a device would stop
                // waiting before it arrived).
                load_into_hub(hub, store, doc);
                if !hub.syncing(conn, &doc) {
                    hub.offer(conn, doc, now);
                }
            }
            if matches!(hub.policy().principal(conn), Some(Principal::Device(_))) {
                hub.send_control(conn, Control::Offered.to_json());
            }
        }
    }
}

/// Offers the boards `device` may read, on each of its connections, that it is not syncing
/// yet (after it followed a county, or became staff).
pub(super) fn offer_readable_boards(
    hub: &mut Hub<RelayAccess>,
    store: &RelayStore,
    device: &str,
    now: u64,
) {
    for conn in hub.policy().conns_of(device) {
        for doc in hub.policy().readable(conn) {
            if hub.policy().is_board(&doc) && !hub.syncing(conn, &doc) {
                load_into_hub(hub, store, doc);
                hub.offer(conn, doc, now);
            }
        }
    }
}
