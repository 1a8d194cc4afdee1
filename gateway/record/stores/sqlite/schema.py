"""The SQLite record's schema as a new record gets it (``migrate`` brings an older one to it),
and the writer connection's settings."""

from __future__ import annotations

__all__ = ["CACHE_KIB", "CHECKPOINT_PAGES", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION = 3
#: The writer connection's page cache (negative: KiB) and its WAL checkpoint interval (pages).
CACHE_KIB = -65536
CHECKPOINT_PAGES = 10000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    body BLOB NOT NULL,
    leaf BLOB NOT NULL,
    sealed BLOB,
    kind TEXT NOT NULL,
    time TEXT NOT NULL,
    subject TEXT,
    order_ref TEXT,
    recipient TEXT,
    disclosure TEXT,
    tally TEXT
);
CREATE INDEX IF NOT EXISTS entries_subject ON entries (subject, seq) WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_order ON entries (order_ref, seq) WHERE order_ref IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_disclosure ON entries (disclosure) WHERE disclosure IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS entries_in_order BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries)
BEGIN SELECT RAISE(ABORT, 'the record is append-only: positions must follow on'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_only_drop_sealed BEFORE UPDATE OF sealed ON entries
WHEN NEW.sealed IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'the record is append-only: a sealed value may only be dropped'); END;

-- Hashes of the tree's complete perfect subtrees of SUBTREE_MIN leaves or more (start, leaves):
-- written with the batch that completes them, so a proof reads a few instead of every leaf.
-- Append-only like the entries; a changed one is never trusted: opening checks the ones it
-- resumes from against the newest signed checkpoint, and a proof from them against its root.
CREATE TABLE IF NOT EXISTS subtrees (start INTEGER NOT NULL, size INTEGER NOT NULL,
                                     hash BLOB NOT NULL, PRIMARY KEY (start, size))
    WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS subtrees_no_delete BEFORE DELETE ON subtrees
BEGIN SELECT RAISE(ABORT, 'subtrees are append-only'); END;
CREATE TRIGGER IF NOT EXISTS subtrees_no_update BEFORE UPDATE ON subtrees
BEGIN SELECT RAISE(ABORT, 'subtrees are append-only'); END;

CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, time TEXT NOT NULL,
                                        note TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;

-- The signed tree head of the record as last committed (one row, replaced by every batch).
CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL,
                                 note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, wrapped BLOB NOT NULL,
                                         created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS legal_holds (subject TEXT NOT NULL, until TEXT NOT NULL,
                                        basis TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS legal_holds_subject ON legal_holds (subject, until);
CREATE TABLE IF NOT EXISTS pending_erasures (subject TEXT PRIMARY KEY, requested TEXT NOT NULL,
                                             due TEXT NOT NULL, basis TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS authority_requests (id TEXT PRIMARY KEY, state TEXT NOT NULL,
                                               deadline TEXT NOT NULL, doc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS hooks (
    webhook_id TEXT PRIMARY KEY,
    disclosure TEXT NOT NULL,
    subject TEXT,
    status INTEGER,
    answer BLOB
);
-- Hooks still waiting for their outcome: start-up recovery reads only these.
CREATE INDEX IF NOT EXISTS hooks_open ON hooks (webhook_id) WHERE status IS NULL;
"""
