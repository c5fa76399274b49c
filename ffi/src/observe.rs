//! Observers: the app implements a trait, subscribes, and holds the returned [`Subscription`]
//! for as long as it wants to hear. Cancelling it, or dropping it, ends the task that calls the
//! observer (matrix-rust-sdk's task-handle pattern).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::{broadcast, watch};
use tokio::task::AbortHandle;

use crate::error::Result;
use crate::runtime;
use crate::types::{ChangeEvent, SyncStatus};

/// Told when something in a group changed, here or on another device.
#[uniffi::export(with_foreign)]
pub trait ChangeObserver: Send + Sync {
    /// A group's documents changed: lists showing it should be read again. Called on one of
    /// the SDK's threads, one event at a time, in order; return quickly.
    fn on_change(&self, event: ChangeEvent);
}

/// Told where syncing stands, first at once, then at every change.
#[uniffi::export(with_foreign)]
pub trait SyncStatusObserver: Send + Sync {
    /// The status changed. Called on one of the SDK's threads, in order; return quickly.
    fn on_status(&self, status: SyncStatus);
}

/// A live subscription. The observer hears nothing more once it is cancelled or dropped.
#[derive(uniffi::Object)]
pub struct Subscription {
    task: AbortHandle,
    /// Checked before every call of the observer: aborting a task takes effect only at its
    /// next await, and the observer must not be called after `cancel` returns.
    cancelled: Arc<AtomicBool>,
    live: Arc<AtomicUsize>,
}

#[uniffi::export]
impl Subscription {
    /// Ends the subscription now; the observer is not called again once this returns, apart
    /// from a call already under way. Calling it twice is harmless.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.task.abort();
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts live subscriptions, so a leak shows in [`crate::GroundworkStore::live_subscriptions`].
#[derive(Default)]
pub(crate) struct Subscriptions {
    live: Arc<AtomicUsize>,
}

impl Subscriptions {
    /// How many subscriptions have not been dropped.
    pub(crate) fn live(&self) -> u32 {
        u32::try_from(self.live.load(Ordering::Relaxed)).unwrap_or(u32::MAX)
    }

    /// Forwards every change to `observer` until the subscription ends (or the store is closed).
    pub(crate) fn changes(
        &self,
        mut events: broadcast::Receiver<ChangeEvent>,
        observer: Arc<dyn ChangeObserver>,
    ) -> Result<Arc<Subscription>> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let live = cancelled.clone();
        let task = runtime::handle()?.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(_) if live.load(Ordering::SeqCst) => break,
                    Ok(event) => observer.on_change(event),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        // The observer returned too slowly for 1,024 events in a row; those
                        // are gone (logged), and it carries on with the next one.
                        tracing::warn!(missed, "a change observer fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(self.track(task.abort_handle(), cancelled))
    }

    /// Sends the current status to `observer`, then every change, until the subscription ends.
    pub(crate) fn status(
        &self,
        mut status: watch::Receiver<SyncStatus>,
        observer: Arc<dyn SyncStatusObserver>,
    ) -> Result<Arc<Subscription>> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let live = cancelled.clone();
        let task = runtime::handle()?.spawn(async move {
            loop {
                let current = status.borrow_and_update().clone();
                if live.load(Ordering::SeqCst) {
                    break;
                }
                observer.on_status(current);
                if status.changed().await.is_err() {
                    break;
                }
            }
        });
        Ok(self.track(task.abort_handle(), cancelled))
    }

    fn track(&self, task: AbortHandle, cancelled: Arc<AtomicBool>) -> Arc<Subscription> {
        self.live.fetch_add(1, Ordering::Relaxed);
        Arc::new(Subscription {
            task,
            cancelled,
            live: self.live.clone(),
        })
    }
}
