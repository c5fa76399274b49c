//! The relay store's schema: SQLite's migrations by version (`PRAGMA user_version` counts
//! them) and PostgreSQL's numbered SQL files (`schema_migrations` records them), each applied
//! once, in order.

use crate::db::{DbError, Postgres};

/// The SQLite schema, by version (`PRAGMA user_version` counts how many have been applied).
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: documents as chunks; the temporary "ask for a group's document to join it" rule.
    "
    CREATE TABLE IF NOT EXISTS chunks (
        doc_id  TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        bytes   BLOB NOT NULL,
        PRIMARY KEY (doc_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS documents (
        doc_id   TEXT PRIMARY KEY,
        group_id TEXT
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS members (
        group_id TEXT NOT NULL,
        peer_id  TEXT NOT NULL,
        PRIMARY KEY (group_id, peer_id)
    ) WITHOUT ROWID;
    ",
    // 2: access control. Memberships made by the old rule are not trusted and are dropped;
    // documents whose kind is unknown are served to no one.
    "
    DROP TABLE members;
    ALTER TABLE documents ADD COLUMN kind TEXT NOT NULL DEFAULT 'unknown';
    ALTER TABLE documents ADD COLUMN owner TEXT;
    -- A group: created when its lead's device first brings its plan (the plan's id is the
    -- group's id); the relay writes its roster document.
    CREATE TABLE groups (
        group_id   TEXT PRIMARY KEY,
        roster_doc TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- Devices in groups. A removed device keeps its row (removed_at) until it has wiped the
    -- group (wiped_at), so that it can be told to.
    CREATE TABLE members (
        group_id   TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        role       TEXT NOT NULL,
        name       TEXT NOT NULL,
        joined_at  INTEGER NOT NULL,
        removed_at INTEGER,
        wiped_at   INTEGER,
        PRIMARY KEY (group_id, device_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_device ON members(device_id);
    -- Redemptions per invite.
    CREATE TABLE invite_uses (
        invite_id TEXT PRIMARY KEY,
        uses      INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- Connection nonces seen, kept until they could no longer be accepted anyway.
    CREATE TABLE nonces (
        nonce      TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- Tokens for plain automerge-repo clients, by SHA-256 of the token.
    CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        device_id  TEXT NOT NULL,
        group_id   TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    -- Devices that presented the operator's sign-up code.
    CREATE TABLE creators (
        device_id TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    ",
    // 3: which devices are one person's (the first device's id), so either can report the
    // other lost.
    "
    ALTER TABLE members ADD COLUMN person TEXT;
    ",
    // 4: the campaign index and campaign staff.
    crate::campaign::MIGRATION,
    // 5: devices following county boards.
    "
    CREATE TABLE board_followers (
        device_id   TEXT NOT NULL,
        county      TEXT NOT NULL,
        followed_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, county)
    ) WITHOUT ROWID;
    ",
    // 6: the dashboard's one-time sign-in links and its sessions (hashes only, as tokens).
    "
    CREATE TABLE web_links (
        code_hash  TEXT PRIMARY KEY,
        device_id  TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        device_id  TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        ended_at   INTEGER
    ) WITHOUT ROWID;
    CREATE INDEX web_sessions_by_device ON web_sessions(device_id);
    ",
    // 7: the operator's settings (the store's quota), and the scratch table the relay writes
    // to learn that its storage has room again.
    "
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE storage_probe (
        id    INTEGER PRIMARY KEY,
        bytes BLOB NOT NULL
    );
    ",
    // 8: each contacts document's period, so that a group's retention erases older ones
    // without reading them (filled from the documents for relays from before).
    "
    ALTER TABLE documents ADD COLUMN period TEXT;
    ",
    // 9: a group's documents found by its id: the relay reads a group's access rows when a
    // member connects, not all of them at startup.
    "
    CREATE INDEX documents_by_group ON documents(group_id);
    ",
    // 10: each shared meeting's time zone; the campaign index is built again from every
    // group's plan at the next start, so that meetings shared before have theirs too.
    crate::campaign::MEETING_ZONES,
];

/// The PostgreSQL schema, by version (`schema_migrations` records each one applied), as
/// numbered SQL files.
pub(super) const PG_MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/001_relay.sql"),
    include_str!("../../migrations/postgres/002_change_log.sql"),
    include_str!("../../migrations/postgres/003_documents_by_group.sql"),
    include_str!("../../migrations/postgres/004_meeting_zones.sql"),
];

/// Applies PostgreSQL's migrations not applied yet, all in one transaction (PostgreSQL's DDL
/// is transactional: a failed migration leaves the schema as it was). Several nodes may start
/// at once: an advisory lock held for the transaction makes them take turns.
pub(super) fn migrate_postgres(pg: &mut Postgres) -> Result<(), DbError> {
    let mut tx = pg.client().transaction()?;
    // "groundwork-relay migrations", as one 64-bit key.
    tx.execute("SELECT pg_advisory_xact_lock(7270610)", &[])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )?;
    for (i, migration) in PG_MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[&version],
            )?
            .is_some();
        if !done {
            tx.batch_execute(migration)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )?;
            tracing::info!(version, "applied a PostgreSQL migration");
        }
    }
    tx.commit()?;
    Ok(())
}
