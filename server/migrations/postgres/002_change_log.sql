-- Several relay nodes on one database: how each learns what the others wrote.

-- Each document's sequence of batches, taken inside the transaction that writes the batch (the
-- row lock also orders two nodes' batches of one document by commit).
CREATE TABLE doc_seqs (
    doc_id TEXT COLLATE "C" PRIMARY KEY,
    seq    BIGINT NOT NULL
);

-- One row per batch's chunk of a document, and per access record another node must apply to
-- its tables in memory (a member joined or removed, a document of a group made, ...). `xid` is
-- the writing transaction: a node reads every row whose transaction is at or past the oldest
-- one still running at its previous read, so a transaction that commits after a later one is
-- never skipped.
CREATE TABLE change_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    node    TEXT COLLATE "C" NOT NULL,
    doc_id  TEXT COLLATE "C",
    doc_seq BIGINT,
    hash    BYTEA,
    record  TEXT,
    at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX change_log_by_xid ON change_log (xid);

-- The nodes reading the log, and how far each has read: the log is pruned behind the slowest
-- live one.
CREATE TABLE relay_nodes (
    node    TEXT COLLATE "C" PRIMARY KEY,
    read_to TEXT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
