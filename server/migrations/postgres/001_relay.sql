-- The relay's tables on PostgreSQL: what SQLite's migrations 1 to 8 built, in one step (a
-- PostgreSQL database starts from this schema). Integers are BIGINT: the relay reads 64-bit
-- integers from both engines. Times are Unix milliseconds.

-- Documents as chunks (automerge's saved bytes, a batch of changes or a snapshot), keyed by
-- content: the same bytes written by two nodes, or twice by one, are one row.
CREATE TABLE chunks (
    doc_id TEXT COLLATE "C" NOT NULL,
    hash   BYTEA NOT NULL,
    seq    BIGINT GENERATED ALWAYS AS IDENTITY,
    bytes  BYTEA NOT NULL,
    PRIMARY KEY (doc_id, hash)
);
CREATE INDEX chunks_by_doc ON chunks (doc_id, seq);

-- Every document of a group: its kind (plan | contacts | roster | brief | board) and, for
-- contacts, its canvasser (owner) and month (period).
CREATE TABLE documents (
    doc_id   TEXT COLLATE "C" PRIMARY KEY,
    group_id TEXT COLLATE "C",
    kind     TEXT COLLATE "C" NOT NULL DEFAULT 'unknown',
    owner    TEXT COLLATE "C",
    period   TEXT COLLATE "C"
);

-- A group: created when its lead's device first brings its plan (the plan's id is the group's
-- id); the relay writes its roster document.
CREATE TABLE groups (
    group_id   TEXT COLLATE "C" PRIMARY KEY,
    roster_doc TEXT COLLATE "C" NOT NULL,
    created_by TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

-- Devices in groups. A removed device keeps its row (removed_at) until it has wiped the group
-- (wiped_at), so that it can be told to. person: the id of that person's first device.
CREATE TABLE members (
    group_id   TEXT COLLATE "C" NOT NULL,
    device_id  TEXT COLLATE "C" NOT NULL,
    role       TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    joined_at  BIGINT NOT NULL,
    removed_at BIGINT,
    wiped_at   BIGINT,
    person     TEXT COLLATE "C",
    PRIMARY KEY (group_id, device_id)
);
CREATE INDEX members_by_device ON members (device_id);

-- Redemptions per invite.
CREATE TABLE invite_uses (
    invite_id TEXT COLLATE "C" PRIMARY KEY,
    uses      BIGINT NOT NULL
);

-- Connection nonces seen, kept until they could no longer be accepted anyway.
CREATE TABLE nonces (
    nonce      TEXT COLLATE "C" PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- Tokens for plain automerge-repo clients, by SHA-256 of the token.
CREATE TABLE tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    device_id  TEXT COLLATE "C" NOT NULL,
    group_id   TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Devices that presented the operator's sign-up code.
CREATE TABLE creators (
    device_id TEXT COLLATE "C" PRIMARY KEY
);

-- The campaign index (campaign.rs): what sharing groups share, canvass counts, boards, staff.
CREATE TABLE campaign_groups (
    group_id   TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE campaign_officials (
    group_id     TEXT COLLATE "C" NOT NULL,
    official_key TEXT COLLATE "C" NOT NULL,
    county       TEXT COLLATE "C" NOT NULL,
    state        TEXT COLLATE "C" NOT NULL,
    office       TEXT COLLATE "C" NOT NULL,
    place        TEXT COLLATE "C",
    name         TEXT COLLATE "C" NOT NULL,
    title        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, official_key)
);
CREATE INDEX campaign_officials_by_key ON campaign_officials (official_key);
CREATE INDEX campaign_officials_by_county ON campaign_officials (county);
CREATE TABLE campaign_meetings (
    group_id     TEXT COLLATE "C" NOT NULL,
    meeting_id   TEXT COLLATE "C" NOT NULL,
    official_key TEXT COLLATE "C" NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    at           BIGINT,
    place        TEXT COLLATE "C",
    title        TEXT COLLATE "C",
    visibility   TEXT COLLATE "C" NOT NULL,
    joins        TEXT COLLATE "C",
    PRIMARY KEY (group_id, meeting_id)
);
CREATE INDEX campaign_meetings_by_official ON campaign_meetings (official_key);
CREATE TABLE campaign_answers (
    group_id     TEXT COLLATE "C" NOT NULL,
    official_key TEXT COLLATE "C" NOT NULL,
    rule         TEXT COLLATE "C" NOT NULL,
    existing     TEXT COLLATE "C" NOT NULL,
    position     TEXT COLLATE "C" NOT NULL,
    conditions   TEXT COLLATE "C",
    legal_basis  TEXT COLLATE "C",
    recorded_at  BIGINT NOT NULL,
    PRIMARY KEY (group_id, official_key, rule)
);
CREATE INDEX campaign_answers_by_official ON campaign_answers (official_key, rule);
CREATE TABLE campaign_canvass (
    doc_id     TEXT COLLATE "C" NOT NULL,
    contact_id TEXT COLLATE "C" NOT NULL,
    group_id   TEXT COLLATE "C" NOT NULL,
    period     TEXT COLLATE "C" NOT NULL,
    result     TEXT COLLATE "C" NOT NULL,
    support    BIGINT NOT NULL,
    PRIMARY KEY (doc_id, contact_id)
);
CREATE INDEX campaign_canvass_by_group ON campaign_canvass (group_id, result);
CREATE TABLE boards (
    county     TEXT COLLATE "C" PRIMARY KEY,
    doc_id     TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE campaign_built (
    built_at BIGINT NOT NULL
);
CREATE TABLE staff (
    device_id  TEXT COLLATE "C" PRIMARY KEY,
    added_at   BIGINT NOT NULL,
    revoked_at BIGINT
);

-- Devices following county boards.
CREATE TABLE board_followers (
    device_id   TEXT COLLATE "C" NOT NULL,
    county      TEXT COLLATE "C" NOT NULL,
    followed_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, county)
);

-- The dashboard's one-time sign-in links and its sessions (hashes only, as tokens).
CREATE TABLE web_links (
    code_hash  TEXT COLLATE "C" PRIMARY KEY,
    device_id  TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE TABLE web_sessions (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    device_id  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX web_sessions_by_device ON web_sessions (device_id);

-- The operator's settings (the storage id shared by every node, ...).
CREATE TABLE settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

-- The scratch table a node writes to learn that the database has room again.
CREATE TABLE storage_probe (
    id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bytes BYTEA NOT NULL
);
