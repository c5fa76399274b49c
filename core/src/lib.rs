//! groundwork-core: a group's documents, the durable device store, and (soon) the sync protocol.
//!
//! A group's data is a few automerge documents, typed with autosurgeon:
//! - the **plan** ([`schema::plan::Plan`]): targets, meetings, action items, rule responses;
//! - **contacts** ([`schema::contacts::ContactsDoc`]): one per canvasser per month.
//!
//! A [`Device`] owns one SQLite file. Every edit is one transaction holding the automerge change
//! and the index rows it implies, so that when a method returns, the edit is saved. Lists and
//! the scorecard read the index ([`store::index`]), never whole documents; the index can be
//! rebuilt from the documents at any time ([`Device::rebuild_index`]).
//!
//! ```no_run
//! # fn main() -> groundwork_core::Result<()> {
//! use groundwork_core::{Device, schema::contacts::NewContact, schema::vocab::ContactResult};
//! // The key comes from the platform's keystore; here, a new one.
//! let key = groundwork_core::store::StoreKey::generate()?;
//! let mut device = Device::init(std::path::Path::new("/tmp/gw"), "Ana's phone", &key)?;
//! let group = device.create_group("Riverside Freedom City", None)?;
//! device.log_contact(&group, NewContact::new(ContactResult::NotHome))?;
//! # Ok(()) }
//! ```
//!
//! Nothing here knows about networks, FFI or command lines.

pub mod campaign;
mod compaction;
mod device;
mod error;
pub mod export;
pub mod identity;
pub mod ids;
pub mod logging;
#[cfg(feature = "net")]
pub mod net;
pub mod places;
pub mod relay;
pub mod requests;
pub mod rules;
pub mod schema;
pub mod store;
pub mod sync;
pub mod time;

pub use compaction::COMPACT_AFTER_CHUNKS;
pub use device::{Device, DeviceInfo, DocSyncRecord, GroupSummary, JoinRelay};
pub use error::{Candidate, Error, Result};
pub use requests::{Join, Joined};
