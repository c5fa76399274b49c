//! `sync` without `--once` (and without `--json`): a line a person can read for each event of
//! the running connection, stamped with this machine's clock, documents named by what they
//! are and whose (`--json` prints the events themselves, one JSON value a line).

use std::collections::HashMap;

use anyhow::Result;
use groundwork_core::Device;
use groundwork_core::net::SyncEvent;
use groundwork_core::schema::DocKind;
use groundwork_core::sync::connection::ConnectionState;
use groundwork_core::time::now_ms;

use crate::local;
use crate::render::{clean_line, count};

/// What the lines need to know, read before the connection starts (the device is locked
/// while it runs).
pub struct EventLines {
    /// This machine's time zone.
    zone: jiff::tz::TimeZone,
    /// What each document on this device is, by id: "the plan of Riverside".
    documents: HashMap<String, String>,
    /// Group names by id, for a group this device is removed from (gone once wiped).
    groups: HashMap<String, String>,
}

impl EventLines {
    /// Reads the names of the device's groups and documents.
    pub fn new(device: &Device) -> Result<Self> {
        let groups: HashMap<String, String> = device
            .groups()?
            .into_iter()
            .filter(|g| !g.name.is_empty())
            .map(|g| (g.group_id, g.name))
            .collect();
        let documents = device
            .documents()?
            .into_iter()
            .map(|d| {
                let group = d
                    .group_id
                    .as_ref()
                    .map(|g| groups.get(g).unwrap_or(g).clone())
                    .unwrap_or_default();
                let what = match d.kind {
                    DocKind::Plan => format!("the plan of {group}"),
                    DocKind::Contacts => format!("contacts in {group}"),
                    DocKind::Roster => format!("the roster of {group}"),
                    DocKind::Brief => format!("the canvassers' brief of {group}"),
                    DocKind::Board => "a county board".to_owned(),
                };
                (d.doc_id.to_string(), what)
            })
            .collect();
        Ok(Self {
            zone: local::zone(),
            documents,
            groups,
        })
    }

    /// One event as a line (without its newline).
    pub fn line(&self, event: &SyncEvent) -> String {
        let (at, said) = match event {
            SyncEvent::Connection(c) => {
                let relay = clean_line(&c.relay);
                let said = match c.state {
                    ConnectionState::Connecting if c.attempt > 0 => {
                        format!("connecting to {relay} (attempt {})", c.attempt + 1)
                    }
                    ConnectionState::Connecting => format!("connecting to {relay}"),
                    ConnectionState::Connected => format!("connected to {relay}"),
                    ConnectionState::Waiting => {
                        let why = c.last_error.as_deref().unwrap_or("the connection was lost");
                        match c.retry_at {
                            Some(retry) => format!(
                                "cannot reach {relay} ({}); trying again at {}",
                                clean_line(why),
                                local::clock(retry, &self.zone)
                            ),
                            None => format!("cannot reach {relay} ({})", clean_line(why)),
                        }
                    }
                    ConnectionState::Offline => "stopped: offline".to_owned(),
                };
                (c.since, said)
            }
            SyncEvent::Changed { document } => {
                let what = self
                    .documents
                    .get(document)
                    .map_or("a document new to this device", String::as_str);
                (
                    now_ms(),
                    format!("received changes to {}", clean_line(what)),
                )
            }
            SyncEvent::Synced {
                documents,
                received_changes,
            } => (
                now_ms(),
                format!(
                    "up to date: {} synced with the relay ({} changed here since connecting)",
                    count(*documents, "document"),
                    received_changes
                ),
            ),
            SyncEvent::Wiped { group } => (
                now_ms(),
                format!(
                    "removed from {}: its data was deleted from this device",
                    clean_line(self.groups.get(group).unwrap_or(group))
                ),
            ),
        };
        format!("{}  {said}", local::clock(at, &self.zone))
    }
}
