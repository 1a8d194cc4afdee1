"""The PostgreSQL store's schema: numbered migrations recorded in ``schema_version``, the
triggers that make the record append-only inside the database, and the grants of the role a
gateway should connect as.

Every object lives in one PostgreSQL schema (``[record] schema``, default ``gateway``), so
several records, or the tests, can share one database. The triggers hold against the owner too;
only a superuser (or the owner disabling triggers) can get past them, which is why the gateway
connects as a role holding just ``writer_grants`` and owning nothing.
"""

from __future__ import annotations

from typing import Final

from gateway.record.stores.postgres.cosignatures import COSIGNATURES_DDL

#: Namespace of the advisory lock that sequences appends (the second key is the schema's hash).
LOCK_CLASS: Final = 0x6777  # "gw"

_V1 = """
CREATE TABLE entries (
    seq BIGINT PRIMARY KEY,
    body BYTEA NOT NULL,
    leaf BYTEA NOT NULL,
    sealed BYTEA,
    kind TEXT NOT NULL,
    time TEXT NOT NULL,
    subject TEXT,
    order_ref TEXT,
    recipient TEXT,
    disclosure TEXT
);
CREATE INDEX entries_subject ON entries (subject, seq) WHERE subject IS NOT NULL;
CREATE INDEX entries_order ON entries (order_ref, seq) WHERE order_ref IS NOT NULL;
CREATE INDEX entries_disclosure ON entries (disclosure) WHERE disclosure IS NOT NULL;
CREATE INDEX entries_recipient ON entries (recipient, seq) WHERE recipient IS NOT NULL;
CREATE INDEX entries_kind ON entries (kind, seq);
CREATE INDEX entries_time ON entries (time);

-- Positions follow on: an insert takes the sequencer's lock (so raw inserts queue behind the
-- gateway's batches) and must name the next position.
CREATE FUNCTION entries_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(@LOCK@, hashtext(TG_TABLE_SCHEMA));
    IF NEW.seq IS DISTINCT FROM (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries) THEN
        RAISE EXCEPTION 'the record is append-only: positions must follow on'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER entries_in_order BEFORE INSERT ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_in_order();

-- The one allowed change to an entry: dropping its sealed value (an erased customer's).
CREATE FUNCTION entries_only_drop_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sealed IS NOT NULL OR (NEW.seq, NEW.body, NEW.leaf, NEW.kind, NEW.time)
            IS DISTINCT FROM (OLD.seq, OLD.body, OLD.leaf, OLD.kind, OLD.time)
        OR (NEW.subject, NEW.order_ref, NEW.recipient, NEW.disclosure)
            IS DISTINCT FROM (OLD.subject, OLD.order_ref, OLD.recipient, OLD.disclosure) THEN
        RAISE EXCEPTION 'the record is append-only: a sealed value may only be dropped'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    FOR EACH ROW EXECUTE FUNCTION entries_only_drop_sealed();

CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the record is append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();

CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, time TEXT NOT NULL, note TEXT NOT NULL);
CREATE TRIGGER checkpoints_no_change BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- The signed tree head of the record as last committed (one row, replaced by every batch).
CREATE TABLE head (id INTEGER PRIMARY KEY CHECK (id = 1), size BIGINT NOT NULL,
                   note TEXT NOT NULL);
CREATE TABLE subject_keys (subject TEXT PRIMARY KEY, wrapped BYTEA NOT NULL,
                           created TEXT NOT NULL);
CREATE TABLE legal_holds (subject TEXT NOT NULL, until TEXT NOT NULL, basis TEXT NOT NULL,
                          created TEXT NOT NULL);
CREATE INDEX legal_holds_subject ON legal_holds (subject, until);
CREATE TABLE pending_erasures (subject TEXT PRIMARY KEY, requested TEXT NOT NULL,
                               due TEXT NOT NULL, basis TEXT NOT NULL);
CREATE TABLE authority_requests (id TEXT PRIMARY KEY, state TEXT NOT NULL,
                                 deadline TEXT NOT NULL, doc BYTEA NOT NULL);
CREATE TABLE hooks (webhook_id TEXT PRIMARY KEY, disclosure TEXT NOT NULL, subject TEXT,
                    status INTEGER, answer BYTEA);
CREATE TABLE staff (username TEXT PRIMARY KEY, password TEXT NOT NULL, roles TEXT NOT NULL,
                    disabled BOOLEAN NOT NULL DEFAULT false, created TEXT NOT NULL);
CREATE TABLE staff_sessions (token_hash TEXT PRIMARY KEY,
                             username TEXT NOT NULL REFERENCES staff (username),
                             created TEXT NOT NULL, expires TEXT NOT NULL);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires);
""".replace("@LOCK@", str(LOCK_CLASS))

#: Migrations in order; ``schema_version`` holds how many have run. Append, never edit.
#: Open hooks (no answer yet) are what start-up recovery reads.
_V2 = "CREATE INDEX hooks_open ON hooks (webhook_id) WHERE status IS NULL;"

#: Hashes of the tree's complete perfect subtrees of ``merkle.SUBTREE_MIN`` leaves or more,
#: written with the batch that completes them (filled for the entries already there when it is
#: added: ``SUBTREES``), so a proof reads a few instead of every leaf.
_V4 = """
CREATE TABLE subtrees (start BIGINT NOT NULL, size BIGINT NOT NULL, hash BYTEA NOT NULL,
                       PRIMARY KEY (start, size));
CREATE TRIGGER subtrees_no_change BEFORE UPDATE OR DELETE ON subtrees
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER subtrees_no_truncate BEFORE TRUNCATE ON subtrees
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();
"""

#: What the transparency report counts an entry by (``record.tally``), kept beside the body (filled
#: for the entries already there when it is added: ``TALLY``) and unchangeable like the other
#: columns; the counts of a period read the index and no body.
_V5 = """
ALTER TABLE entries ADD COLUMN tally TEXT;
CREATE OR REPLACE FUNCTION entries_only_drop_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sealed IS NOT NULL OR (NEW.seq, NEW.body, NEW.leaf, NEW.kind, NEW.time)
            IS DISTINCT FROM (OLD.seq, OLD.body, OLD.leaf, OLD.kind, OLD.time)
        OR (NEW.subject, NEW.order_ref, NEW.recipient, NEW.disclosure, NEW.tally)
            IS DISTINCT FROM (OLD.subject, OLD.order_ref, OLD.recipient, OLD.disclosure,
                              OLD.tally) THEN
        RAISE EXCEPTION 'the record is append-only: a sealed value may only be dropped'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE INDEX entries_tally ON entries (time) INCLUDE (kind, recipient, tally)
    WHERE tally IS NOT NULL;
"""

MIGRATIONS: Final[tuple[str, ...]] = (_V1, _V2, COSIGNATURES_DDL, _V4, _V5)
#: The migration that adds the subtrees table (its number in ``schema_version``).
SUBTREES: Final = 4
#: The migration that adds the tally column.
TALLY: Final = 5

BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, applied TEXT NOT NULL DEFAULT now()::text);
"""


def writer_grants(schema: str, role: str) -> list[str]:
    """What the role a gateway connects as needs, and nothing more: entries and checkpoints
    may be read and appended (plus dropping a sealed value); the side tables are kept up."""
    s, r = quoted(schema), quoted(role)
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT ON {s}.entries, {s}.checkpoints, {s}.schema_version TO {r}",
        f"GRANT SELECT, INSERT ON {s}.cosignatures, {s}.subtrees TO {r}",
        f"GRANT UPDATE (sealed) ON {s}.entries TO {r}",
        f"GRANT SELECT, INSERT, UPDATE ON {s}.head, {s}.hooks, {s}.staff TO {r}",
        (f"GRANT SELECT, INSERT, UPDATE, DELETE ON {s}.subject_keys, {s}.legal_holds, "
         f"{s}.pending_erasures, {s}.authority_requests, {s}.staff_sessions TO {r}"),
    ]


def quoted(name: str) -> str:
    """A quoted SQL identifier (schema and role names come from config)."""
    return '"' + name.replace('"', '""') + '"'
