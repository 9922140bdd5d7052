-- Safeguarding concerns and capacity assessments join the document
-- registry; a concern that arrives alerts the case's supervisors, live and
-- through the practice's webhook.

-- SQLite cannot widen a CHECK in place: the table is rebuilt with the same
-- rows (this runs with foreign keys off, checked after: see db/mod.rs).
CREATE TABLE documents_new (
    document_id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL CHECK (kind IN ('case', 'visit', 'safeguarding_concern', 'capacity_assessment')),
    registered_by_device TEXT,
    registered_at TEXT NOT NULL
);
INSERT INTO documents_new (document_id, case_id, kind, registered_by_device, registered_at)
    SELECT document_id, case_id, kind, registered_by_device, registered_at FROM documents;
DROP TABLE documents;
ALTER TABLE documents_new RENAME TO documents;
CREATE INDEX documents_by_case ON documents(case_id);

-- One alert per concern, made when the server first accepts the concern
-- raised. Its id is also the webhook delivery's id, so a receiver that is
-- called twice can tell.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    document_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL REFERENCES cases(id),
    raised_by TEXT NOT NULL REFERENCES people(id),
    raised_at TEXT NOT NULL,
    arrived_at TEXT NOT NULL,
    acknowledged_by TEXT REFERENCES people(id),
    acknowledged_at TEXT
);
CREATE INDEX alerts_by_case ON alerts(case_id);

-- The practice's settings (the webhook's URL and secret).
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Webhook calls still to make: written in the same transaction as the
-- alert, so a restart loses none. The body is fixed when the alert is
-- made, so every attempt signs the same bytes.
CREATE TABLE webhook_deliveries (
    alert_id TEXT PRIMARY KEY NOT NULL REFERENCES alerts(id),
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    given_up_at TEXT,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
