//! A county's board: one per county, written by the relay alone from its campaign index and
//! read by the devices of groups that share an official there. For each official in the county:
//! the groups asking, their meetings (status and time; the place when shared), and the latest
//! answer per rule with the group that reported it. A group that leaves a board (it stopped
//! sharing) is not edited out of it: the relay starts a fresh document, so no history keeps it.

use std::collections::BTreeMap;

use automerge::AutoCommit;
use autosurgeon::{Hydrate, Reconcile};

use crate::error::Result;
use crate::rules::RuleCode;
use crate::schema::vocab::{ExistingPolicy, MeetingStatus, Office, Position};
use crate::schema::{self, DocKind, SCHEMA_VERSION};

/// A county's board.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, serde::Serialize)]
pub struct Board {
    /// The schema version that wrote this document.
    pub schema: u64,
    /// Marks the document as a board: the county's FIPS code.
    pub board_of: String,
    /// The county's name and state, e.g. "Riverside, CA".
    pub county_name: String,
    /// The officials of the county that sharing groups ask, by key.
    pub officials: BTreeMap<String, BoardOfficial>,
}

/// One official on a board.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, serde::Serialize)]
pub struct BoardOfficial {
    /// The office.
    pub office: Office,
    /// The city or precinct.
    #[autosurgeon(missing = "Default::default")]
    pub place: Option<String>,
    /// Their name, as a group wrote it.
    pub name: String,
    /// Their title.
    pub title: String,
    /// The groups asking, by group id: their names.
    pub groups: BTreeMap<String, String>,
    /// Meetings requested or set with them, by `GROUP/MEETING`.
    pub meetings: BTreeMap<String, BoardMeeting>,
    /// The latest answer per rule (by rule code).
    pub answers: BTreeMap<String, BoardAnswer>,
}

/// A group's meeting with an official.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, serde::Serialize)]
pub struct BoardMeeting {
    /// The group.
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// Where it stands.
    pub status: MeetingStatus,
    /// When (Unix ms).
    #[autosurgeon(missing = "Default::default")]
    pub at: Option<i64>,
    /// Its IANA time zone, what `at` is shown in; `None` on boards from before zones, read as
    /// the county's ([`Board::zone_of`]).
    #[autosurgeon(missing = "Default::default")]
    pub zone: Option<String>,
    /// Where, when the group shared it.
    #[autosurgeon(missing = "Default::default")]
    pub place: Option<String>,
    /// Every group attending, by id: the group whose meeting it is and those that marked
    /// theirs as the same (the office combined them).
    #[autosurgeon(missing = "Default::default")]
    pub attending: BTreeMap<String, String>,
}

/// The latest answer on one rule, and who reported it.
#[derive(Clone, Debug, PartialEq, Reconcile, Hydrate, serde::Serialize)]
pub struct BoardAnswer {
    /// The rule.
    pub rule: RuleCode,
    /// Whether it is already policy.
    pub existing: ExistingPolicy,
    /// The official's position.
    pub position: Position,
    /// Conditions they named.
    #[autosurgeon(missing = "Default::default")]
    pub conditions: Option<String>,
    /// The reporting group's name.
    pub group_name: String,
    /// When it was recorded (Unix ms).
    pub recorded_at: i64,
}

impl Board {
    /// An empty board of a county.
    pub fn new(county: &str, county_name: &str) -> Self {
        Board {
            schema: SCHEMA_VERSION,
            board_of: county.to_owned(),
            county_name: county_name.to_owned(),
            officials: BTreeMap::new(),
        }
    }

    /// Reads a board document.
    pub fn read(doc: &AutoCommit, doc_id: &str) -> Result<Self> {
        schema::hydrate(doc, doc_id, DocKind::Board)
    }

    /// The zone a meeting's time is shown in: its own, else the county's.
    pub fn zone_of<'a>(&'a self, meeting: &'a BoardMeeting) -> Option<&'a str> {
        meeting
            .zone
            .as_deref()
            .or_else(|| crate::places::county(&self.board_of).ok().map(|c| c.zone))
    }

    /// Every group on the board.
    pub fn groups(&self) -> std::collections::BTreeSet<&str> {
        self.officials
            .values()
            .flat_map(|o| o.groups.keys().map(String::as_str))
            .collect()
    }

    /// Writes this board over `doc`, returning the change (`None` if nothing changed).
    pub fn write(
        &self,
        doc: &mut AutoCommit,
        doc_id: &str,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>> {
        schema::reconcile(doc, self, doc_id, DocKind::Board)?;
        let options = automerge::transaction::CommitOptions::default().with_time(now_ms / 1000);
        let Some(hash) = doc.commit_with(options) else {
            return Ok(None);
        };
        Ok(doc
            .get_change_by_hash(&hash)
            .map(|mut c| c.bytes().into_owned()))
    }
}
