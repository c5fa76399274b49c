//! The one error type the mobile SDK throws: a variant per kind of failure an app handles
//! differently, each carrying core's message (which names what was wrong).

use groundwork_core::Error as Core;

/// Why a call failed. Kotlin sees `GroundworkException.NotFound` and so on; Swift a
/// `GroundworkError` enum. The message always says what was wrong; no personal data is in it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum GroundworkError {
    /// An argument was not acceptable (an unknown code, an empty name, a bad invite...).
    #[error("{0}")]
    InvalidInput(String),
    /// Personal details were given without the person's consent.
    #[error("{0}")]
    ConsentRequired(String),
    /// No group, meeting, target, action or contact with that id on this device.
    #[error("{0}")]
    NotFound(String),
    /// This device's role does not allow it (a canvasser editing the plan), or the relay refused.
    #[error("{0}")]
    NotAllowed(String),
    /// There is no store in that directory yet (call `create`).
    #[error("{0}")]
    NotInitialized(String),
    /// A store already exists there (call `open`); it was left untouched.
    #[error("{0}")]
    AlreadyInitialized(String),
    /// The key does not open this store; nothing was changed.
    #[error("{0}")]
    WrongKey(String),
    /// The store or one of its documents cannot be read, or was written by a newer version;
    /// nothing was changed.
    #[error("{0}")]
    CorruptStore(String),
    /// The relay could not be reached or broke off; saved edits wait for the next sync.
    #[error("{0}")]
    Relay(String),
    /// The server is a plain automerge-repo server: it cannot check invites or roles.
    #[error("{0}")]
    PlainRelay(String),
    /// Reading or writing the device's files failed (disk full, permissions...).
    #[error("{0}")]
    Storage(String),
    /// The call was cancelled before it finished (its coroutine or task was cancelled).
    #[error("cancelled")]
    Cancelled,
}

impl From<Core> for GroundworkError {
    fn from(e: Core) -> Self {
        let message = e.to_string();
        match e {
            Core::InvalidValue { .. }
            | Core::Invalid { .. }
            | Core::Ambiguous { .. }
            | Core::NoRelay
            | Core::OtherRelay { .. }
            | Core::DocumentTooLarge { .. } => Self::InvalidInput(message),
            Core::ConsentRequired => Self::ConsentRequired(message),
            Core::NotFound { .. } | Core::NoMatch { .. } => Self::NotFound(message),
            Core::NotAllowed { .. } | Core::NotHeld { .. } => Self::NotAllowed(message),
            Core::NotInitialized { .. } => Self::NotInitialized(message),
            Core::AlreadyInitialized { .. } => Self::AlreadyInitialized(message),
            Core::WrongKey { .. } => Self::WrongKey(message),
            Core::CorruptStore { .. }
            | Core::NewerStore { .. }
            | Core::CorruptChunk { .. }
            | Core::Schema { .. }
            | Core::Automerge(_) => Self::CorruptStore(message),
            Core::Relay { .. } | Core::UnexpectedAnswer { .. } => Self::Relay(message),
            Core::PlainRelay { .. } => Self::PlainRelay(message),
            Core::Random(_)
            | Core::NotADirectory { .. }
            | Core::ReadOnly { .. }
            | Core::StorageFull
            | Core::Sqlite(_)
            | Core::Io { .. }
            | Core::Csv(_) => Self::Storage(message),
        }
    }
}

/// What the SDK's calls return.
pub type Result<T, E = GroundworkError> = std::result::Result<T, E>;
