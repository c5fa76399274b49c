//! One access fact, one type: [`AccessChange`] is what changes who may read what (a group made,
//! a member joined or removed, a document recorded, a board replaced...). The hub's policy
//! decides one and applies it in memory ([`super::RelayAccess::apply`]); the store writes it in
//! the batch's transaction; the change log carries it to other relay nodes as JSON; the store's
//! rows read back at startup are the same changes again ([`AccessRows`]). A row or a log record
//! that does not parse as one is an error the reader counts and logs, never a silent skip.

use groundwork_core::identity::Role;
use groundwork_core::ids::DocumentId;
use groundwork_core::schema::DocKind;
use serde::{Deserialize, Serialize};

/// A change to the access tables. Its JSON (the change log's `record` column) is the format
/// nodes of different versions on one database exchange: fields are only ever added, with a
/// default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccessChange {
    /// A new group and its roster document.
    Group {
        /// The group (its plan document's id).
        group: String,
        /// Its roster document.
        #[serde(with = "text")]
        roster: DocumentId,
        /// Its creator (its first lead).
        #[serde(default)]
        created_by: String,
        /// When.
        #[serde(default)]
        at: i64,
    },
    /// A document of a group (or a county's board), its kind and owner.
    Document {
        /// The document.
        #[serde(with = "text")]
        doc: DocumentId,
        /// Its group (for a board, the county).
        group: String,
        /// What it is.
        #[serde(with = "kind")]
        kind: DocKind,
        /// The device that writes it (contacts).
        owner: Option<String>,
    },
    /// A device joined a group (again, if it had been removed).
    Member {
        /// The group.
        group: String,
        /// The device.
        device: String,
        /// Its role.
        role: Role,
        /// Its name.
        name: String,
        /// The person it belongs to (the id of that person's first device).
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
    /// A removed device confirmed it wiped the group.
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
        /// The county (FIPS).
        county: String,
        /// Whether it follows now.
        follow: bool,
        /// When.
        #[serde(default)]
        at: i64,
    },
    /// A county's board is now this document.
    Board {
        /// The county (FIPS).
        county: String,
        /// The board document.
        #[serde(with = "text")]
        doc: DocumentId,
        /// When.
        #[serde(default)]
        at: i64,
    },
    /// A contacts document's period.
    Period {
        /// The document.
        #[serde(with = "text")]
        doc: DocumentId,
        /// YYYY-MM.
        period: String,
    },
    /// A document is gone for good: its chunks, its record and its campaign counts (a board or
    /// brief replaced by a fresh one, contacts past their group's retention), so that no
    /// history keeps what it held.
    Dropped {
        /// The document.
        #[serde(with = "text")]
        doc: DocumentId,
    },
    /// The counties in which a group shares an official now (none: it stopped sharing).
    Counties {
        /// The group.
        group: String,
        /// The counties (FIPS).
        counties: Vec<String>,
    },
}

/// What access decisions need from the store: at startup every document's id and the tables
/// about devices; for a group read as its first member connects, its own rows. Both as
/// [`AccessChange`]s, applied as the change log's are.
#[derive(Debug, Default)]
pub struct AccessRows {
    /// Every document the store records, of any group.
    pub known: Vec<DocumentId>,
    /// Campaign staff now.
    pub staff: Vec<String>,
    /// The rows as changes: groups, members (a removal and a wipe after the join), documents,
    /// periods, creators, boards followed.
    pub changes: Vec<AccessChange>,
    /// Rows that did not read as a change, left out (each was logged as it was read).
    pub unreadable: usize,
}

impl AccessRows {
    /// A row that does not read as a change: counted, and logged with what is wrong (an id or
    /// a name of a kind or role, never a person's name).
    pub fn unreadable(&mut self, what: &str) {
        self.unreadable += 1;
        tracing::error!(%what, "an access row the relay cannot read is left out");
    }
}

/// An id as its text, as everywhere else the relay stores or sends one.
mod text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<T: std::fmt::Display, S: Serializer>(
        value: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A document's kind as its name (`plan`, `contacts`, `roster`, `brief`, `board`).
mod kind {
    use groundwork_core::schema::DocKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(kind: &DocKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DocKind, D::Error> {
        let text = String::deserialize(d)?;
        DocKind::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown document kind {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_keep_the_change_logs_json() -> Result<(), serde_json::Error> {
        let removed = AccessChange::Removed {
            group: "g".into(),
            device: "d".into(),
            at: 5,
        };
        let json = serde_json::to_string(&removed)?;
        assert_eq!(
            json,
            r#"{"type":"removed","group":"g","device":"d","at":5}"#
        );
        assert_eq!(serde_json::from_str::<AccessChange>(&json)?, removed);
        Ok(())
    }

    #[test]
    fn a_record_from_a_node_before_typed_changes_still_reads() -> Result<(), serde_json::Error> {
        let doc = DocumentId::from([3u8; 16]);
        // As the earlier `Record` wrote them: ids and roles as text, no `at` on a board.
        let old = format!(
            r#"{{"type":"member","group":"g","device":"d","role":"canvasser","name":"N","person":"d","at":7}}
{{"type":"board","county":"06065","doc":"{doc}"}}
{{"type":"document","doc":"{doc}","group":"g","kind":"contacts","owner":"d"}}"#
        );
        let read: Vec<AccessChange> = old
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(
            read,
            vec![
                AccessChange::Member {
                    group: "g".into(),
                    device: "d".into(),
                    role: Role::Canvasser,
                    name: "N".into(),
                    person: "d".into(),
                    at: 7,
                },
                AccessChange::Board {
                    county: "06065".into(),
                    doc,
                    at: 0,
                },
                AccessChange::Document {
                    doc,
                    group: "g".into(),
                    kind: DocKind::Contacts,
                    owner: Some("d".into()),
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn a_record_that_names_no_real_role_or_id_is_an_error_not_a_skip() {
        for bad in [
            r#"{"type":"member","group":"g","device":"d","role":"owner","name":"N","person":"d","at":7}"#,
            r#"{"type":"dropped","doc":"not an id"}"#,
            r#"{"type":"document","doc":"2ZpY3ge3bFSzDLJ5kVsDn4","group":"g","kind":"poster","owner":null}"#,
        ] {
            let read = serde_json::from_str::<AccessChange>(bad);
            assert!(read.is_err(), "{bad} read as {read:?}");
        }
    }
}
