-- People, cases, assignments, devices, the document registry and the audit log.
CREATE TABLE people (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'admin')),
    supervisor_id TEXT REFERENCES people(id),
    created_at TEXT NOT NULL
);

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    person_name TEXT NOT NULL,
    document_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

CREATE TABLE assignments (
    case_id TEXT NOT NULL REFERENCES cases(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (case_id, person_id)
);
CREATE INDEX assignments_by_person ON assignments(person_id);

-- Every automerge document the server will share, and the case it belongs to.
CREATE TABLE documents (
    document_id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL CHECK (kind IN ('case', 'visit')),
    registered_by_device TEXT,
    registered_at TEXT NOT NULL
);
CREATE INDEX documents_by_case ON documents(case_id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    person_id TEXT NOT NULL REFERENCES people(id),
    label TEXT NOT NULL,
    enrol_code_hash TEXT UNIQUE,
    enrol_expires_at TEXT,
    token_hash TEXT UNIQUE,
    enrolled_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    device_id TEXT,
    person_id TEXT,
    action TEXT NOT NULL,
    document_id TEXT,
    case_id TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_action ON audit_log(action);
