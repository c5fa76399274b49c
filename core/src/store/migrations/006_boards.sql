-- 006: county boards belong to no group. A device in no group (campaign staff) or following a
-- county none of its groups is in keeps boards too, so `documents.group_id` may be NULL, and
-- only for boards. SQLite cannot relax a column's constraint in place: the table is rebuilt
-- (SQLite's documented create-copy-drop-rename, which the migration runner does with foreign
-- keys off and checks with `foreign_key_check` before it commits).
CREATE TABLE documents_new (
    doc_id      TEXT PRIMARY KEY,
    group_id    TEXT REFERENCES groups(group_id),   -- NULL for a board, and only a board
    kind        TEXT NOT NULL,      -- plan | contacts | roster | board
    owner       TEXT,               -- contacts: the canvasser's device id
    period      TEXT,               -- contacts: YYYY-MM
    CHECK (group_id IS NOT NULL OR kind = 'board')
);
-- Boards filed under a group before are the device's own now.
INSERT INTO documents_new (doc_id, group_id, kind, owner, period)
    SELECT doc_id, CASE kind WHEN 'board' THEN NULL ELSE group_id END, kind, owner, period
    FROM documents;
DROP TABLE documents;
ALTER TABLE documents_new RENAME TO documents;
CREATE UNIQUE INDEX documents_contacts ON documents(group_id, owner, period) WHERE kind = 'contacts';

-- The counties this device follows (the relay keeps the same list and is the judge of it).
CREATE TABLE followed_counties (
    county      TEXT PRIMARY KEY,   -- FIPS
    followed_at INTEGER NOT NULL
) WITHOUT ROWID;
