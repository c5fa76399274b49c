//! groundwork-ffi: the mobile SDK's Rust side, a thin uniffi layer over groundwork-core.
//!
//! - [`GroundworkStore`]: one opened, encrypted device store, and everything the CLI can do
//!   with it (groups, targets, meetings and their agendas and notes, action items, rule
//!   responses and the scorecard, contacts, invites, joining, syncing, status);
//! - records and enums mirroring core's types ([`types`]), one error type ([`GroundworkError`]);
//! - observers as foreign traits ([`ChangeObserver`], [`SyncStatusObserver`]), each subscription
//!   a [`Subscription`] that ends when cancelled or dropped.
//!
//! Every call that touches SQLite or the network is `async` and runs on a tokio runtime this
//! crate owns ([`runtime`]): Kotlin sees `suspend` functions, Swift `async` ones, and the app's
//! threads never wait on I/O. The Kotlin library (mobile/android) and the Swift package
//! (mobile/ios) wrap observers in `Flow` and `AsyncStream`.

mod error;
mod observe;
mod runtime;
mod store;
pub mod types;

pub use error::{GroundworkError, Result};
pub use observe::{ChangeObserver, Subscription, SyncStatusObserver};
pub use store::{GroundworkStore, generate_store_key, rules};

uniffi::setup_scaffolding!();
