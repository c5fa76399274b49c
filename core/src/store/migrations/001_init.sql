-- 001: the device, its groups and documents, document chunks, and the query index.

-- This device: exactly one row, written by `init`.
CREATE TABLE device (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    device_id   TEXT NOT NULL,      -- bs58 of the Ed25519 public key
    name        TEXT NOT NULL,
    signing_key BLOB NOT NULL,      -- the Ed25519 secret key (32 bytes)
    created_at  INTEGER NOT NULL
);

-- Groups this device belongs to.
CREATE TABLE groups (
    group_id    TEXT PRIMARY KEY,
    plan_doc    TEXT NOT NULL,      -- DocumentId of the group's plan
    name        TEXT NOT NULL,
    jurisdiction TEXT,
    role        TEXT NOT NULL,      -- this device's role: lead | member | canvasser
    joined_at   INTEGER NOT NULL
);

-- Every automerge document on this device and what it is.
CREATE TABLE documents (
    doc_id      TEXT PRIMARY KEY,
    group_id    TEXT NOT NULL REFERENCES groups(group_id),
    kind        TEXT NOT NULL,      -- plan | contacts
    owner       TEXT,               -- contacts: the canvasser's device id
    period      TEXT                -- contacts: YYYY-MM
);
CREATE UNIQUE INDEX documents_contacts ON documents(group_id, owner, period) WHERE kind = 'contacts';

-- The stored form of each document: a snapshot (a whole `save()`) and/or incremental changes.
-- Loading concatenates them in seq order. Compaction replaces chunks up to some seq by one
-- snapshot that carries the highest seq it replaced.
CREATE TABLE chunks (
    doc_id      TEXT NOT NULL REFERENCES documents(doc_id),
    seq         INTEGER NOT NULL,
    snapshot    INTEGER NOT NULL,   -- 1 for a whole-document save, 0 for a change
    bytes       BLOB NOT NULL,
    PRIMARY KEY (doc_id, seq)
) WITHOUT ROWID;

-- The index: rows derived from the documents, for queries that must not load documents.
-- Everything below can be dropped and rebuilt from the chunks.
CREATE TABLE idx_targets (
    target_id   TEXT PRIMARY KEY,
    group_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    title       TEXT NOT NULL,
    agency      TEXT,
    jurisdiction TEXT,
    level       TEXT NOT NULL
);
CREATE INDEX idx_targets_group ON idx_targets(group_id, name);

CREATE TABLE idx_meetings (
    meeting_id  TEXT PRIMARY KEY,
    group_id    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    title       TEXT NOT NULL,
    target_id   TEXT,
    at          INTEGER,
    location    TEXT,
    status      TEXT NOT NULL,
    agenda_items INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_meetings_group ON idx_meetings(group_id, at);

CREATE TABLE idx_actions (
    action_id   TEXT PRIMARY KEY,
    group_id    TEXT NOT NULL,
    title       TEXT NOT NULL,
    assignee    TEXT,
    due         TEXT,
    done        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_actions_group ON idx_actions(group_id, done, due);

CREATE TABLE idx_responses (
    group_id    TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    rule        TEXT NOT NULL,
    existing    TEXT NOT NULL,
    position    TEXT NOT NULL,
    conditions  TEXT,
    legal_basis TEXT,
    meeting_id  TEXT,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, target_id, rule)
) WITHOUT ROWID;

CREATE TABLE idx_contacts (
    contact_id  TEXT PRIMARY KEY,
    group_id    TEXT NOT NULL,
    doc_id      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    canvasser   TEXT NOT NULL,
    place       TEXT,
    result      TEXT NOT NULL,
    support     INTEGER,
    interests   TEXT NOT NULL,      -- comma-separated interest codes
    follow_up   INTEGER NOT NULL,
    note        TEXT,
    name        TEXT,
    phone       TEXT,
    email       TEXT,
    consent_at  INTEGER
);
CREATE INDEX idx_contacts_page ON idx_contacts(group_id, at DESC, contact_id DESC);
CREATE INDEX idx_contacts_result ON idx_contacts(group_id, result, at DESC, contact_id DESC);
CREATE INDEX idx_contacts_doc ON idx_contacts(doc_id);
