//! The device's own tables beside the document store: who it is enrolled
//! as, the cases it may see, the documents it holds, visit registrations
//! waiting for a connection, and what the server is known to have.

use std::path::Path;
use std::sync::{Arc, Mutex};

use fieldvisit_shared::api::{CaseSummary, EnrolResponse, PersonSummary, Role};
use fieldvisit_sqlite_store::{apply_migrations, open_connection};
use rusqlite::{Connection, OptionalExtension, params};

use super::CoreError;

const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        "CREATE TABLE enrolment (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        server_url TEXT NOT NULL,
        device_id TEXT NOT NULL,
        token TEXT NOT NULL,
        peer_id TEXT NOT NULL,
        person_id TEXT NOT NULL,
        person_name TEXT NOT NULL,
        role TEXT NOT NULL
    );
    CREATE TABLE cases (
        case_id TEXT PRIMARY KEY NOT NULL,
        reference TEXT NOT NULL,
        person_name TEXT NOT NULL,
        document_id TEXT NOT NULL
    );
    CREATE TABLE documents (
        document_id TEXT PRIMARY KEY NOT NULL,
        case_id TEXT NOT NULL,
        kind TEXT NOT NULL
    );
    CREATE TABLE pending_registrations (
        document_id TEXT PRIMARY KEY NOT NULL,
        case_id TEXT NOT NULL,
        last_error TEXT
    );
    CREATE TABLE server_heads (
        document_id TEXT PRIMARY KEY NOT NULL,
        heads TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);",
    ),
    // The nonce a new document's id was made from: the registration's proof
    // that this device created it (`fieldvisit_shared::provenance`).
    (
        2,
        "ALTER TABLE pending_registrations ADD COLUMN nonce TEXT NOT NULL DEFAULT ''",
    ),
    // Every kind of record joins its case through the outbox; what the
    // server refused is kept to show on the record.
    (
        3,
        "ALTER TABLE pending_registrations ADD COLUMN kind TEXT NOT NULL DEFAULT 'visit';
         CREATE TABLE warnings (
             document_id TEXT PRIMARY KEY NOT NULL,
             message TEXT NOT NULL,
             at TEXT NOT NULL
         );",
    ),
    // Names for the ids records hold, as of the last refresh.
    (
        4,
        "CREATE TABLE people (
             id TEXT PRIMARY KEY NOT NULL,
             name TEXT NOT NULL,
             role TEXT NOT NULL
         );",
    ),
    // Photos: the processed JPEG named by its SHA-256 (never the original).
    // `mine`: made here, so it is sent; `received`: how much of it the
    // server has; `error`: why the server refused it.
    (
        5,
        "CREATE TABLE blobs (
             sha256 TEXT PRIMARY KEY NOT NULL,
             document_id TEXT NOT NULL,
             bytes BLOB NOT NULL,
             mine INTEGER NOT NULL,
             received INTEGER NOT NULL DEFAULT 0,
             sent INTEGER NOT NULL DEFAULT 0,
             error TEXT,
             added_at TEXT NOT NULL
         );",
    ),
];

/// How far a photo made here has got to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProgress {
    pub sha256: String,
    pub document_id: String,
    pub size: u64,
    pub received: u64,
    pub sent: bool,
    pub error: Option<String>,
}

/// A document made on this device that the server has not yet accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRegistration {
    pub case_id: String,
    pub document_id: String,
    pub nonce: String,
    pub kind: String,
    /// Why the server refused it, when it did.
    pub last_error: Option<String>,
}

#[derive(Clone)]
pub struct Enrolment {
    pub server_url: String,
    pub device_id: String,
    pub token: String,
    pub peer_id: String,
    pub person: PersonSummary,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("server_url", &self.server_url)
            .field("device_id", &self.device_id)
            .field("token", &"[redacted]")
            .field("person", &self.person)
            .finish()
    }
}

#[derive(Clone)]
pub struct Local {
    conn: Arc<Mutex<Connection>>,
}

impl Local {
    pub fn open(path: &Path) -> Result<Self, CoreError> {
        let mut conn = open_connection(path, super::platform::DURABILITY)?;
        apply_migrations(&mut conn, MIGRATIONS)?;
        Ok(Local {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, CoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(f(&conn)?)
    }

    pub fn save_enrolment(&self, server_url: &str, e: &EnrolResponse) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO enrolment (id, server_url, device_id, token, peer_id, person_id, person_name, role)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![server_url, e.device_id, e.token, e.peer_id, e.person.id, e.person.name, e.person.role.as_str()],
            )
            .map(|_| ())
        })
    }

    pub fn enrolment(&self) -> Result<Option<Enrolment>, CoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT server_url, device_id, token, peer_id, person_id, person_name, role FROM enrolment WHERE id = 1",
                [],
                |r| {
                    let role: String = r.get(6)?;
                    Ok(Enrolment {
                        server_url: r.get(0)?,
                        device_id: r.get(1)?,
                        token: r.get(2)?,
                        peer_id: r.get(3)?,
                        person: PersonSummary {
                            id: r.get(4)?,
                            name: r.get(5)?,
                            role: Role::parse(&role).unwrap_or(Role::Worker),
                        },
                    })
                },
            )
            .optional()
        })
    }

    pub fn replace_cases(&self, cases: &[CaseSummary]) -> Result<(), CoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM cases", [])?;
        for case in cases {
            tx.execute(
                "INSERT INTO cases (case_id, reference, person_name, document_id) VALUES (?1, ?2, ?3, ?4)",
                params![case.case_id, case.reference, case.person_name, case.document_id],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO documents (document_id, case_id, kind) VALUES (?1, ?2, 'case')",
                params![case.document_id, case.case_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT case_id, reference, person_name, document_id FROM cases ORDER BY reference",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(CaseSummary {
                    case_id: r.get(0)?,
                    reference: r.get(1)?,
                    person_name: r.get(2)?,
                    document_id: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn add_document(
        &self,
        document_id: &str,
        case_id: &str,
        kind: &str,
    ) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO documents (document_id, case_id, kind) VALUES (?1, ?2, ?3)",
                params![document_id, case_id, kind],
            )
            .map(|_| ())
        })
    }

    pub fn documents(&self) -> Result<Vec<String>, CoreError> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT document_id FROM documents ORDER BY document_id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Creates a new record's bookkeeping in one transaction: known
    /// document and queued registration with the nonce its id was made from.
    pub fn add_record(
        &self,
        document_id: &str,
        kind: &str,
        case_id: &str,
        nonce: &str,
    ) -> Result<(), CoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO documents (document_id, case_id, kind) VALUES (?1, ?2, ?3)",
            params![document_id, case_id, kind],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO pending_registrations (document_id, case_id, nonce, kind) VALUES (?1, ?2, ?3, ?4)",
            params![document_id, case_id, nonce, kind],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn pending_registrations(&self) -> Result<Vec<PendingRegistration>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT case_id, document_id, nonce, kind, last_error FROM pending_registrations ORDER BY rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(PendingRegistration {
                    case_id: r.get(0)?,
                    document_id: r.get(1)?,
                    nonce: r.get(2)?,
                    kind: r.get(3)?,
                    last_error: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn is_pending_registration(&self, document_id: &str) -> Result<bool, CoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM pending_registrations WHERE document_id = ?1)",
                [document_id],
                |r| r.get(0),
            )
        })
    }

    pub fn registration_done(&self, document_id: &str) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM pending_registrations WHERE document_id = ?1",
                [document_id],
            )
            .map(|_| ())
        })
    }

    pub fn registration_failed(&self, document_id: &str, error: &str) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE pending_registrations SET last_error = ?2 WHERE document_id = ?1",
                params![document_id, error],
            )
            .map(|_| ())
        })
    }

    /// Keeps the names of the people around this device's person.
    pub fn replace_people(&self, people: &[PersonSummary]) -> Result<(), CoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM people", [])?;
        for p in people {
            tx.execute(
                "INSERT INTO people (id, name, role) VALUES (?1, ?2, ?3)",
                params![p.id, p.name, p.role.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn person_name(&self, id: &str) -> Result<Option<String>, CoreError> {
        self.with(|c| {
            c.query_row("SELECT name FROM people WHERE id = ?1", [id], |r| r.get(0))
                .optional()
        })
    }

    /// Forgets a record that could not be made after its bookkeeping was.
    pub fn forget_record(&self, document_id: &str) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM pending_registrations WHERE document_id = ?1",
                [document_id],
            )?;
            c.execute(
                "DELETE FROM documents WHERE document_id = ?1",
                [document_id],
            )?;
            Ok(())
        })
    }

    /// Keeps what the server refused about a record, to show on it.
    pub fn set_warning(&self, document_id: &str, message: &str) -> Result<(), CoreError> {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO warnings (document_id, message, at) VALUES (?1, ?2, ?3)",
                params![document_id, message, at],
            )
            .map(|_| ())
        })
    }

    pub fn warning(&self, document_id: &str) -> Result<Option<String>, CoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT message FROM warnings WHERE document_id = ?1",
                [document_id],
                |r| r.get(0),
            )
            .optional()
        })
    }

    pub fn server_heads(&self, document_id: &str) -> Result<Vec<automerge::ChangeHash>, CoreError> {
        let joined: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT heads FROM server_heads WHERE document_id = ?1",
                [document_id],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(joined
            .unwrap_or_default()
            .split(',')
            .filter_map(|h| h.parse().ok())
            .collect())
    }

    pub fn set_server_heads(
        &self,
        document_id: &str,
        heads: &[automerge::ChangeHash],
    ) -> Result<(), CoreError> {
        let joined = heads
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(",");
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO server_heads (document_id, heads) VALUES (?1, ?2)",
                params![document_id, joined],
            )
            .map(|_| ())
        })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, CoreError> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )
            .map(|_| ())
        })
    }

    /// Keeps a photo's bytes; `mine` when made on this device (to send).
    pub fn put_blob(
        &self,
        sha256: &str,
        document_id: &str,
        bytes: &[u8],
        mine: bool,
    ) -> Result<(), CoreError> {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO blobs (sha256, document_id, bytes, mine, sent, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![sha256, document_id, bytes, mine, !mine, at],
            )
            .map(|_| ())
        })
    }

    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, CoreError> {
        self.with(|c| {
            c.query_row("SELECT bytes FROM blobs WHERE sha256 = ?1", [sha256], |r| {
                r.get(0)
            })
            .optional()
        })
    }

    /// Photos made here, with how far each has got.
    pub fn blob_progress(&self) -> Result<Vec<BlobProgress>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT sha256, document_id, length(bytes), received, sent, error
                 FROM blobs WHERE mine = 1 ORDER BY added_at, sha256",
            )?;
            let rows = stmt.query_map([], |r| {
                let (size, received): (i64, i64) = (r.get(2)?, r.get(3)?);
                Ok(BlobProgress {
                    sha256: r.get(0)?,
                    document_id: r.get(1)?,
                    size: size.unsigned_abs(),
                    received: received.unsigned_abs(),
                    sent: r.get(4)?,
                    error: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    pub fn blob_received(&self, sha256: &str, received: u64, sent: bool) -> Result<(), CoreError> {
        let received = i64::try_from(received).unwrap_or(i64::MAX);
        self.with(|c| {
            c.execute(
                "UPDATE blobs SET received = ?2, sent = ?3, error = NULL WHERE sha256 = ?1",
                params![sha256, received, sent],
            )
            .map(|_| ())
        })
    }

    pub fn blob_refused(&self, sha256: &str, reason: &str) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE blobs SET error = ?2 WHERE sha256 = ?1",
                params![sha256, reason],
            )
            .map(|_| ())
        })
    }
}
