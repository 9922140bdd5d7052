-- The practice's case record: practice reviewers, when the server first
-- received each change, and the search index.

-- A practice reviewer reads the cases given to them and writes none.
-- SQLite cannot widen a CHECK in place: the table is rebuilt with the same
-- rows (this runs with foreign keys off, checked after: see db/mod.rs).
CREATE TABLE people_new (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'reviewer', 'admin')),
    supervisor_id TEXT REFERENCES people(id),
    created_at TEXT NOT NULL
);
INSERT INTO people_new (id, name, role, supervisor_id, created_at)
    SELECT id, name, role, supervisor_id, created_at FROM people;
DROP TABLE people;
ALTER TABLE people_new RENAME TO people;

-- When the server first received each change it accepted, and from which
-- device: a change's own timestamp is the device's clock, which a court
-- may doubt; this one is the server's. Written before the change is
-- handed on for storage, so every stored change from a device has one.
CREATE TABLE change_receipts (
    document_id TEXT NOT NULL,
    change_hash TEXT NOT NULL,
    received_at TEXT NOT NULL,
    device_id TEXT,
    PRIMARY KEY (document_id, change_hash)
) WITHOUT ROWID;

-- Full text of every passage of every record, rebuilt per document as its
-- changes arrive: the rows say where each passage is, the FTS5 table
-- (same rowid) holds its words. Who may see a case is decided at query
-- time from the assignments, never stored here.
CREATE TABLE passage_rows (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    passage TEXT NOT NULL,
    label TEXT NOT NULL
);
CREATE INDEX passage_rows_by_document ON passage_rows(document_id);
CREATE INDEX passage_rows_by_case ON passage_rows(case_id);
CREATE VIRTUAL TABLE passages USING fts5(
    text,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- What the index last saw of each document, so a restart indexes only
-- what changed while it was down.
CREATE TABLE indexed_documents (
    document_id TEXT PRIMARY KEY NOT NULL,
    heads TEXT NOT NULL,
    indexed_at TEXT NOT NULL
);

CREATE INDEX audit_by_case ON audit_log(case_id, id);
CREATE INDEX audit_by_person ON audit_log(person_id, id);
