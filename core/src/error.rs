//! The one error type of groundwork-core: every failure names what was wrong.

use std::path::PathBuf;

/// Everything that can go wrong in groundwork-core.
///
/// Messages are written for the person at the keyboard: they name the value, the document or the
/// file at fault, and never contain personal data from a contact.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value is not one of the allowed spellings (a rule code, a status, a result code...).
    #[error("invalid {what} {value:?}: expected one of {}", expected.join(", "))]
    InvalidValue {
        /// What kind of value was expected, e.g. "rule code".
        what: &'static str,
        /// The value that was given.
        value: String,
        /// Every accepted spelling.
        expected: &'static [&'static str],
    },
    /// A value is malformed (a time, a number out of range, an empty name...).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which input was wrong, e.g. "time" or "support level".
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// Personal details were given without the person's recorded consent.
    #[error(
        "personal details (name, phone, email) can only be recorded with the person's consent; \
         record consent or leave them out"
    )]
    ConsentRequired,
    /// Nothing with this id exists on this device.
    #[error("no {kind} with id {id:?} on this device")]
    NotFound {
        /// "group", "target", "meeting", ...
        kind: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// A name or id typed for a group, meeting, official, action item or member matched
    /// nothing on this device; `known` is what there is to choose from.
    #[error(
        "no {kind} with id {text:?} on this device, nor one whose name starts with it; {}",
        listing(kind, known)
    )]
    NoMatch {
        /// "group", "meeting", "target", "action item", "member".
        kind: &'static str,
        /// What was typed.
        text: String,
        /// Every one of that kind there is (in the group, where the kind belongs to one).
        known: Vec<Candidate>,
    },
    /// A name or the start of one (or of an id) fits several: none was picked.
    #[error(
        "{text:?} could be any of {} {kind}s: {}; give more of the name, or the id",
        candidates.len(),
        names(candidates)
    )]
    Ambiguous {
        /// "group", "meeting", "target", "action item", "member".
        kind: &'static str,
        /// What was typed.
        text: String,
        /// Those it fits.
        candidates: Vec<Candidate>,
    },
    /// What was asked for is not kept on this device, by design (a canvasser's phone holds
    /// its group's brief, not the plan with the answers).
    #[error("{what} {verb} not on this device: {reason}", verb = if what.ends_with('s') { "are" } else { "is" })]
    NotHeld {
        /// What is missing, e.g. "the officials' answers".
        what: &'static str,
        /// Why, and where to find it.
        reason: String,
    },
    /// The data directory has no device yet.
    #[error("no device store at {}: run `groundwork init --name NAME` first", path.display())]
    NotInitialized {
        /// The store file that was expected.
        path: PathBuf,
    },
    /// `init` was called on a directory that already has a device.
    #[error("a device store already exists at {}; it was left untouched", path.display())]
    AlreadyInitialized {
        /// The existing store file.
        path: PathBuf,
    },
    /// The store file exists but is not a readable Groundwork store.
    #[error("the store at {} cannot be read ({reason}); it was left untouched", path.display())]
    CorruptStore {
        /// The store file.
        path: PathBuf,
        /// What SQLite or the schema check reported.
        reason: String,
    },
    /// The store cannot be decrypted with the key given.
    #[error(
        "the store at {} cannot be opened with this key (a wrong key, or not a Groundwork store); \
         it was left untouched",
        path.display()
    )]
    WrongKey {
        /// The store file.
        path: PathBuf,
    },
    /// The store was written by a newer version of Groundwork.
    #[error(
        "the store at {} has schema version {found}, newer than this build supports ({supported})",
        path.display()
    )]
    NewerStore {
        /// The store file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The data directory, or a directory above it, is a file (or anything but a directory).
    #[error(
        "{} is not a directory: a device's data directory must be one (a missing one is created)",
        path.display()
    )]
    NotADirectory {
        /// The file in the way.
        path: PathBuf,
    },
    /// The store cannot be written: its directory or its file is read-only for this user (or
    /// on a read-only file system). SQLite writes beside the store even to read it (its
    /// write-ahead log), and every command may write.
    #[error(
        "the {what} {} is read-only: the device store must be able to write there; it was \
         left untouched",
        path.display()
    )]
    ReadOnly {
        /// "data directory" or "store file".
        what: &'static str,
        /// The directory or file.
        path: PathBuf,
    },
    /// A stored chunk of a document could not be loaded.
    #[error(
        "document {doc} cannot be loaded: stored chunk {seq} is damaged ({reason}); \
         the stored data was left untouched"
    )]
    CorruptChunk {
        /// The document id.
        doc: String,
        /// The chunk's sequence number in the store.
        seq: i64,
        /// What automerge reported.
        reason: String,
    },
    /// A document does not have the shape its schema requires.
    #[error("document {doc} does not match the {kind} schema: {reason}")]
    Schema {
        /// The document id.
        doc: String,
        /// "plan" or "contacts".
        kind: &'static str,
        /// What did not match.
        reason: String,
    },
    /// The operating system could not supply random bytes.
    #[error("no randomness available: {0}")]
    Random(String),
    /// This device (or the requester) may not do this.
    #[error("not allowed: {reason}")]
    NotAllowed {
        /// Why.
        reason: String,
    },
    /// The relay could not be reached, or the connection to it failed. Sync retries these.
    #[error("relay {relay}: {reason}")]
    Relay {
        /// The relay's URL.
        relay: String,
        /// What went wrong.
        reason: String,
    },
    /// The relay answered a request with an answer of another kind than the request has (a
    /// relay of another version, or a bug): nothing was recorded. [`crate::requests`] is the
    /// one place that says so.
    #[error("the relay answered the {request} request unexpectedly (with {answer:?})")]
    UnexpectedAnswer {
        /// The request, as the wire spells its kind, e.g. "mint-token".
        request: &'static str,
        /// The kind of answer that came, e.g. "done".
        answer: &'static str,
    },
    /// No relay was named and this device has never reached one.
    #[error(
        "no relay given and this device has not reached one yet: pass --relay URL (e.g. \
         ws://HOST:7878/v1/sync) or set GROUNDWORK_RELAY; once a join or a sync reaches it, \
         it is remembered"
    )]
    NoRelay,
    /// A device with groups was asked to dial a relay other than its own. Nothing was dialled.
    #[error(
        "this device syncs its groups with {home}; it will not dial {asked}, which is another \
         relay: a mistyped address would hand that server every group's plan and this device's \
         contacts. To move this device's groups to {asked} on purpose, run: groundwork relay \
         move {asked}"
    )]
    OtherRelay {
        /// The relay this device syncs with.
        home: String,
        /// The one it was asked to dial.
        asked: String,
    },
    /// The server is a plain automerge-repo sync server, which has no invites, roles or
    /// members: it cannot answer Groundwork's requests.
    #[error(
        "{relay} is a plain automerge-repo server, not a Groundwork relay: it cannot check invites or roles"
    )]
    PlainRelay {
        /// The server's URL.
        relay: String,
    },
    /// The device's storage is full (SQLite's SQLITE_FULL): this edit was not saved (its
    /// transaction rolled back); everything saved before is untouched.
    #[error(
        "the device's storage is full: this change was not saved, and everything saved before \
         is kept; free some space and try again"
    )]
    StorageFull,
    /// An edit would grow a document past the most a document may hold.
    #[error(
        "this edit would make the {what} {bytes} bytes, past the {limit} bytes a document may \
         hold: nothing was saved, and everything saved before is kept"
    )]
    DocumentTooLarge {
        /// Which document: "group's plan", "contacts of this month".
        what: &'static str,
        /// Its size with the edit.
        bytes: u64,
        /// The limit ([`crate::store::MAX_DOCUMENT_BYTES`]).
        limit: u64,
    },
    /// SQLite failed.
    #[error("device store: {0}")]
    Sqlite(rusqlite::Error),
    /// automerge failed.
    #[error("document: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "creating directory".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing CSV failed.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
}

impl From<rusqlite::Error> for Error {
    /// A full disk gets its own error, which says that nothing saved was lost.
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            Error::StorageFull
        } else {
            Error::Sqlite(e)
        }
    }
}

/// One thing a name or id could mean, as errors list it: its name and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its name (a group's, an official's, a meeting's title, a member's device name); empty
    /// when not known yet (a group joined but not synced).
    pub name: String,
    /// Its id.
    pub id: String,
    /// The group it is in, named when the search spanned several (a meeting typed without
    /// its group).
    pub group: Option<String>,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.name.is_empty(), &self.group) {
            (true, _) => write!(f, "{}", self.id),
            (false, Some(group)) => write!(f, "{} in {group} ({})", self.name, self.id),
            (false, None) => write!(f, "{} ({})", self.name, self.id),
        }
    }
}

/// At most this many candidates are named in an error; the rest are counted.
const NAMED: usize = 12;

/// Candidates as an error names them: `A (id), B (id)`, and how many more.
fn names(candidates: &[Candidate]) -> String {
    let mut out = candidates
        .iter()
        .take(NAMED)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if candidates.len() > NAMED {
        out.push_str(&format!(" and {} more", candidates.len() - NAMED));
    }
    out
}

/// What there is to choose from, for [`Error::NoMatch`].
fn listing(kind: &str, known: &[Candidate]) -> String {
    if known.is_empty() {
        format!("there are no {kind}s here yet")
    } else {
        format!("the {kind}s here: {}", names(known))
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
