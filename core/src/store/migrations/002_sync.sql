-- 002: what sync remembers between connections.

-- automerge's sync state per peer and document, so a reconnect sends only what is new.
CREATE TABLE sync_states (
    peer_id     TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    state       BLOB NOT NULL,
    PRIMARY KEY (peer_id, doc_id)
) WITHOUT ROWID;

-- What the relay last confirmed having of each document, and when.
CREATE TABLE sync_status (
    doc_id      TEXT PRIMARY KEY,
    relay_heads TEXT NOT NULL,      -- comma-separated change hashes, sorted
    synced_at   INTEGER NOT NULL
) WITHOUT ROWID;
