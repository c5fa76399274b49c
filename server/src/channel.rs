//! The channels between the WebSocket tasks and the hub thread: what a task tells the hub
//! ([`Inbound`]), and each connection's outgoing queue ([`Outlet`] on the hub's side, [`Intake`]
//! on the writer's), which counts the bytes waiting so a peer that does not read is cut off.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use groundwork_core::identity::ConnectProof;
use groundwork_core::sync::hub::ConnId;
use tokio::sync::mpsc::UnboundedSender;

use crate::access::Principal;

/// What the WebSocket tasks tell the hub thread.
pub enum Inbound {
    /// Check a connection request before upgrading it; the answer is the principal, or why
    /// it is refused.
    Authenticate {
        /// The device's signed proof, if it sent one.
        proof: Option<ConnectProof>,
        /// A token, if it sent one.
        token: Option<String>,
        /// Where the answer goes.
        reply: tokio::sync::oneshot::Sender<Result<Principal, String>>,
    },
    /// A connection opened; frames for it go to `tx`.
    Open {
        /// Its id.
        conn: ConnId,
        /// Where its outgoing frames go.
        tx: Outlet,
        /// Who it is.
        principal: Principal,
        /// Its network address, for rate limits.
        addr: std::net::IpAddr,
    },
    /// A binary frame arrived.
    Frame {
        /// From.
        conn: ConnId,
        /// The frame.
        bytes: Vec<u8>,
        /// Its share of the connection's budget of frames in flight, given back as the hub
        /// drops it, after handling the frame: until then the connection's task reads no
        /// further than its budget, so one peer's flood waits in its own socket, not in the
        /// hub's queue ahead of everyone else.
        permit: tokio::sync::OwnedSemaphorePermit,
    },
    /// The connection closed.
    Closed {
        /// Which.
        conn: ConnId,
    },
    /// Another relay node on the same database committed changes (a hint: the change log is
    /// read on the next turn).
    LogChanged,
}

/// What the hub thread tells a WebSocket task.
#[derive(Debug)]
pub enum Outbound {
    /// Send this binary frame.
    Frame(Vec<u8>),
    /// Close the connection, saying why.
    Close(String),
}

/// A connection's outgoing queue as the hub sees it. The bytes waiting are counted, so a peer
/// that does not read what it asked for is cut off at a bound instead of growing the relay's
/// memory without one.
#[derive(Clone, Debug)]
pub struct Outlet {
    tx: UnboundedSender<Outbound>,
    queued: Arc<AtomicUsize>,
    cut: Arc<tokio::sync::Notify>,
}

/// The WebSocket task's end of an [`Outlet`].
#[derive(Debug)]
pub struct Intake {
    rx: tokio::sync::mpsc::UnboundedReceiver<Outbound>,
    queued: Arc<AtomicUsize>,
    cut: Arc<tokio::sync::Notify>,
}

/// A connection's outgoing queue: the hub's end and the writer's.
pub fn outlet() -> (Outlet, Intake) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let cut = Arc::new(tokio::sync::Notify::new());
    (
        Outlet {
            tx,
            queued: queued.clone(),
            cut: cut.clone(),
        },
        Intake { rx, queued, cut },
    )
}

impl Outlet {
    /// Queues a frame; returns the bytes now waiting.
    pub fn frame(&self, bytes: Vec<u8>) -> usize {
        let len = bytes.len();
        let waiting = self.queued.fetch_add(len, Ordering::Relaxed) + len;
        let _ = self.tx.send(Outbound::Frame(bytes));
        waiting
    }

    /// Sends a protocol error, then closes, saying why.
    pub fn refuse(&self, reason: &str) {
        self.frame(
            groundwork_core::sync::wire::Message::Error {
                message: reason.to_owned(),
            }
            .encode(),
        );
        self.close(reason);
    }

    /// Closes after what is queued, saying why.
    pub fn close(&self, reason: &str) {
        let _ = self.tx.send(Outbound::Close(reason.to_owned()));
    }

    /// Drops the connection now, with whatever is queued: for a peer that does not read.
    pub fn cut(&self) {
        self.cut.notify_one();
    }
}

impl Intake {
    /// What is queued now, without waiting (`None`: nothing, or the hub let go): for a caller
    /// with no runtime, such as the relay simulator.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let next = self.rx.try_recv().ok()?;
        if let Outbound::Frame(bytes) = &next {
            self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
        }
        Some(next)
    }

    /// The next thing to send, or `None` once the hub has let go of the connection or cut it.
    pub async fn recv(&mut self) -> Option<Outbound> {
        let next = tokio::select! {
            biased;
            () = self.cut.notified() => return None,
            next = self.rx.recv() => next?,
        };
        if let Outbound::Frame(bytes) = &next {
            self.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_outlet_counts_what_waits_and_a_cut_drops_it_at_once() {
        let (outlet, mut intake) = outlet();
        assert_eq!(outlet.frame(vec![0; 100]), 100);
        assert_eq!(outlet.frame(vec![0; 50]), 150, "the bytes waiting add up");
        assert!(matches!(intake.recv().await, Some(Outbound::Frame(f)) if f.len() == 100));
        assert_eq!(
            outlet.frame(vec![0; 10]),
            60,
            "what the writer took no longer counts"
        );
        outlet.cut();
        assert!(
            intake.recv().await.is_none(),
            "a cut ends the writer ahead of the frames still queued"
        );
    }
}
