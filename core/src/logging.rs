//! What a host's log may show: the dependencies that write document content or credentials
//! into their own log lines at their most verbose levels, and the most verbose level each may
//! log at. Groundwork's own log lines carry ids, counts and sizes, never content, at any level.

use tracing::Level;

/// Targets held below their most verbose levels, whatever the log filter asks, and the most
/// verbose level each keeps. Every host that installs a log subscriber on a device (the CLI)
/// applies them on top of its filter: `GROUNDWORK_LOG=trace` must not print a contact.
pub const DEPENDENCY_LOG_CAPS: &[(&str, Level)] = &[
    // At trace: every WebSocket frame, payload and all (sync messages carry contacts and
    // notes), and the handshake request with the device's connection proof in its query.
    ("tungstenite", Level::DEBUG),
    ("tokio_tungstenite", Level::DEBUG),
    // At trace: the operations and values of changes as they are encoded, committed and
    // loaded.
    ("automerge", Level::DEBUG),
];
