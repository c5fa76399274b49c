-- 003: the relay connection as the process running sync last recorded it, for `status`.
CREATE TABLE sync_connection (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    relay       TEXT NOT NULL,
    state       TEXT NOT NULL,      -- connecting | connected | waiting | offline
    since       INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    last_error  TEXT,
    retry_at    INTEGER,
    heartbeat   INTEGER NOT NULL    -- refreshed while sync runs; a stale one reads as offline
);
