//! What relay nodes sharing one PostgreSQL database tell each other. Every batch a node
//! commits appends to the database's change log, in the same transaction: a row per document
//! chunk, and a [`Record`] per write that changes who may read what (a member joined or was
//! removed, a document of a group was made, a board replaced). The transaction also sends one
//! `NOTIFY`. A node's listener thread ([`listen`]) turns notifications into a wake-up of the
//! hub thread, which reads the log from where it was (`RelayStore::read_log`): the hint is
//! never the data, so a lost notification costs at most a tick's delay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use serde::{Deserialize, Serialize};

use crate::store::Write;

/// The channel every node listens on.
pub const CHANNEL: &str = "groundwork_changes";

/// A write another node must apply to its access tables in memory. Chunks travel as log rows
/// of their own; writes that only the database keeps (nonces, tokens, invite uses, the
/// campaign index) are read from it where they are needed, and travel not at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A new group and its roster document.
    Group {
        /// The group.
        group: String,
        /// Its roster document.
        roster: String,
    },
    /// A document of a group (or a county's board), its kind and owner.
    Document {
        /// The document.
        doc: String,
        /// Its group (for a board, the county).
        group: String,
        /// plan | contacts | roster | brief | board.
        kind: String,
        /// Its canvasser, for contacts.
        owner: Option<String>,
    },
    /// A device joined a group (again).
    Member {
        /// The group.
        group: String,
        /// The device.
        device: String,
        /// Its role.
        role: String,
        /// Its name.
        name: String,
        /// The person it belongs to.
        person: String,
        /// When.
        at: i64,
    },
    /// A device was removed from a group: every node cuts it off at once.
    Removed {
        /// The group.
        group: String,
        /// The device.
        device: String,
        /// When.
        at: i64,
    },
    /// A removed device wiped the group.
    Wiped {
        /// The group.
        group: String,
        /// The device.
        device: String,
        /// When.
        at: i64,
    },
    /// A device may create groups.
    Creator {
        /// The device.
        device: String,
    },
    /// A device follows a county's board, or stops.
    Follow {
        /// The device.
        device: String,
        /// The county.
        county: String,
        /// Whether it follows now.
        follow: bool,
    },
    /// A county's board is now this document.
    Board {
        /// The county.
        county: String,
        /// The board document.
        doc: String,
    },
    /// A contacts document's period.
    Period {
        /// The document.
        doc: String,
        /// YYYY-MM.
        period: String,
    },
    /// A document is gone for good.
    Dropped {
        /// The document.
        doc: String,
    },
    /// The counties in which a group shares an official now (none: it stopped sharing).
    Counties {
        /// The group.
        group: String,
        /// The counties (FIPS).
        counties: Vec<String>,
    },
}

impl Record {
    /// What of `write` other nodes must apply, if anything.
    pub fn of(write: &Write) -> Option<Record> {
        Some(match write {
            Write::Group { group, roster, .. } => Record::Group {
                group: group.clone(),
                roster: roster.to_string(),
            },
            Write::Document {
                doc,
                group,
                kind,
                owner,
            } => Record::Document {
                doc: doc.to_string(),
                group: group.clone(),
                kind: kind.clone(),
                owner: owner.clone(),
            },
            Write::Member {
                group,
                device,
                role,
                name,
                person,
                at,
            } => Record::Member {
                group: group.clone(),
                device: device.clone(),
                role: role.clone(),
                name: name.clone(),
                person: person.clone(),
                at: *at,
            },
            Write::Removed { group, device, at } => Record::Removed {
                group: group.clone(),
                device: device.clone(),
                at: *at,
            },
            Write::Wiped { group, device, at } => Record::Wiped {
                group: group.clone(),
                device: device.clone(),
                at: *at,
            },
            Write::Creator(device) => Record::Creator {
                device: device.clone(),
            },
            Write::Follow {
                device,
                county,
                follow,
                ..
            } => Record::Follow {
                device: device.clone(),
                county: county.clone(),
                follow: *follow,
            },
            Write::Board { county, doc, .. } => Record::Board {
                county: county.clone(),
                doc: doc.to_string(),
            },
            Write::Period { doc, period } => Record::Period {
                doc: doc.to_string(),
                period: period.clone(),
            },
            Write::DropDocument(doc) => Record::Dropped {
                doc: doc.to_string(),
            },
            Write::Campaign { group, shared, .. } => {
                let mut counties: Vec<String> = shared
                    .iter()
                    .flat_map(|s| s.officials.iter().map(|o| o.county.clone()))
                    .collect();
                counties.sort();
                counties.dedup();
                Record::Counties {
                    group: group.clone(),
                    counties,
                }
            }
            Write::Chunk(..)
            | Write::CampaignBuilt(_)
            | Write::Canvass { .. }
            | Write::Nonce(..)
            | Write::Token { .. } => return None,
        })
    }
}

/// One row of the change log another node wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The row's id (rows are read more than once while their transactions may be in
    /// flight; the id tells them apart).
    pub id: i64,
    /// The writing transaction's id.
    pub xid: u64,
    /// A chunk: its document and content key.
    pub chunk: Option<(groundwork_core::ids::DocumentId, Vec<u8>)>,
    /// An access record, as JSON.
    pub record: Option<String>,
}

/// Listens for other nodes' notifications on a connection of its own (never through a
/// pooler: LISTEN needs one session), calling `wake` on each and after every (re)connect, when
/// notifications may have been missed. Stops when `wake` returns `false` (the hub is gone) or
/// `stop` is set.
pub fn listen(
    url: String,
    node: String,
    stop: Arc<AtomicBool>,
    wake: impl Fn() -> bool + Send + 'static,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("groundwork-listen".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(100);
            while !stop.load(Ordering::Relaxed) {
                let mut client = match crate::db::pg_connect(&url) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "the change listener cannot reach the database; retrying");
                        // Pacing reconnects to a database that is down; not a synchronisation.
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                        continue;
                    }
                };
                if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                    continue;
                }
                backoff = Duration::from_millis(100);
                tracing::info!("listening for other relay nodes' changes");
                // Whatever was notified while this connection was down is read now.
                if !wake() {
                    return;
                }
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = client
                        .notifications()
                        .timeout_iter(Duration::from_millis(500))
                        .next()
                        .map(|n| n.map(|n| n.payload() != node));
                    match next {
                        Ok(Some(others)) => {
                            if others && !wake() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the change listener's connection failed; reconnecting");
                            break;
                        }
                        Ok(None) if client.is_closed() => {
                            tracing::warn!("the change listener's connection closed; reconnecting");
                            break;
                        }
                        Ok(None) => {}
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json() -> Result<(), serde_json::Error> {
        let removed = Record::Removed {
            group: "g".into(),
            device: "d".into(),
            at: 5,
        };
        let json = serde_json::to_string(&removed)?;
        assert_eq!(
            json,
            r#"{"type":"removed","group":"g","device":"d","at":5}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&json)?, removed);
        Ok(())
    }
}
