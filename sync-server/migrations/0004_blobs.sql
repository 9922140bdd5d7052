-- Photos: stored as files beside the database (blobs/ab/abcdef...), named
-- by their SHA-256; these rows say what each is and who uploaded it.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    uploaded_by_device TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
);

-- Uploads under way, one per blob and device: the bytes so far are in
-- blobs/partial/, and the next chunk must start where they end.
CREATE TABLE blob_uploads (
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    received INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (sha256, device_id)
);

-- Which records refer to which blobs, kept with the search index: a blob
-- is served to a device whose person may see a record that refers to it.
CREATE TABLE document_blobs (
    document_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (document_id, sha256)
) WITHOUT ROWID;
CREATE INDEX document_blobs_by_blob ON document_blobs(sha256);
