//! The tokio runtime the SDK owns, and the two ways a call reaches it: SQLite work on its
//! blocking pool, network work that stops when the caller stops waiting.
//!
//! The app's thread never waits on I/O: every store call is an `async` function whose future
//! only awaits a task on this runtime. uniffi drops that future when the Kotlin coroutine or
//! Swift task awaiting it is cancelled; [`Cancelled`] turns the drop into a signal the network
//! work selects on, so a cancelled sync closes its socket and releases the store at once.

use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;

use crate::error::{GroundworkError, Result};

/// The SDK's runtime: two workers (phones and this project's CI machine have few cores to
/// spare, and the work is I/O), and tokio's blocking pool for SQLite.
pub(crate) fn handle() -> Result<Handle> {
    static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("groundwork")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map(|rt| rt.handle().clone())
        .map_err(|e| GroundworkError::Storage(format!("cannot start the SDK's runtime: {e}")))
}

/// Runs `work` on the runtime's blocking pool and waits for it without blocking anyone.
///
/// A blocking task cannot be stopped half way, which suits SQLite: every edit is one short
/// transaction, and once started it should be saved.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    handle()?
        .spawn_blocking(work)
        .await
        .map_err(|e| GroundworkError::Storage(format!("the SDK's worker failed: {e}")))?
}

/// Runs network `work` (given the runtime and a cancellation signal) on the blocking pool,
/// which may hold the store's lock for as long as the exchange lasts. When the future this
/// returns is dropped before it finishes, the signal fires and `work` is expected to return
/// promptly (it selects on [`Cancelled::wait`]).
pub(crate) async fn cancellable<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Handle, Cancelled) -> Result<T> + Send + 'static,
{
    let rt = handle()?;
    let (guard, signal) = watch::channel(());
    let task = {
        let rt = rt.clone();
        rt.clone()
            .spawn_blocking(move || work(&rt, Cancelled(signal)))
    };
    let result = task.await;
    // Dropping the sender is the cancellation signal; keep it alive until the work is done.
    drop(guard);
    result.map_err(|e| GroundworkError::Storage(format!("the SDK's worker failed: {e}")))?
}

/// Resolves when the caller of a [`cancellable`] call stopped waiting for it.
pub(crate) struct Cancelled(watch::Receiver<()>);

impl Cancelled {
    /// Waits until the caller is gone (its sender was dropped with its future).
    pub(crate) async fn wait(mut self) {
        while self.0.changed().await.is_ok() {}
    }
}
