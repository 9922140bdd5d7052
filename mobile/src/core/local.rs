//! The device's own tables beside the document store: who it is enrolled
//! as, the cases it may see, the documents it holds, visit registrations
//! waiting for a connection, and what the server is known to have.

use std::path::Path;
use std::sync::{Arc, Mutex};

use fieldvisit_shared::api::{CaseSummary, EnrolResponse, PersonSummary, Role};
use fieldvisit_sqlite_store::{apply_migrations, open_connection};
use rusqlite::{Connection, OptionalExtension, params};

use super::CoreError;
use super::vault::DataKey;

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
    // A photo's size as made, kept apart from its bytes: sealed bytes are
    // longer than the photo (the upload's progress counts the photo).
    (
        6,
        "ALTER TABLE blobs ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
         UPDATE blobs SET size = length(bytes);",
    ),
    // The data key, wrapped under the worker's PIN (`vault::WrappedKey`):
    // only ciphertext. Here rather than beside the store because the
    // browser's localStorage reaches disk seconds late, and a key lost to
    // a killed browser would be every record lost with it.
    (
        7,
        "CREATE TABLE vault (
             id INTEGER PRIMARY KEY CHECK (id = 1),
             wrapped BLOB NOT NULL
         );",
    ),
    // A record held back on the phone: a safeguarding concern still being
    // written is not registered (so never shared) until it is raised.
    (
        8,
        "ALTER TABLE pending_registrations ADD COLUMN held INTEGER NOT NULL DEFAULT 0;",
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
    /// Seals every column that says something about a case or a person (the
    /// token, names, case references, refusals, photos), each bound to its
    /// table, column and row. Ids, heads and times stay plain: the store
    /// must find rows by them, and they name nobody.
    key: Option<Arc<DataKey>>,
}

impl Local {
    pub fn open(path: &Path) -> Result<Self, CoreError> {
        let mut conn = open_connection(path, super::platform::DURABILITY)?;
        apply_migrations(&mut conn, MIGRATIONS)?;
        Ok(Local {
            conn: Arc::new(Mutex::new(conn)),
            key: None,
        })
    }

    /// From now on what is written is sealed under `key`, and what is read
    /// must open with it.
    pub fn with_key(mut self, key: Arc<DataKey>) -> Self {
        self.key = Some(key);
        self
    }

    pub fn wrapped_key(&self) -> Result<Option<Vec<u8>>, CoreError> {
        self.with(|c| {
            c.query_row("SELECT wrapped FROM vault WHERE id = 1", [], |r| r.get(0))
                .optional()
        })
    }

    pub fn save_wrapped_key(&self, wrapped: &[u8]) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO vault (id, wrapped) VALUES (1, ?1)",
                [wrapped],
            )
            .map(|_| ())
        })
    }

    /// One more wrong PIN in a row; returns how many now.
    pub fn wrong_pin(&self) -> Result<u32, CoreError> {
        let n = self
            .meta("wrong_pins")?
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
            + 1;
        self.set_meta("wrong_pins", &n.to_string())?;
        Ok(n)
    }

    pub fn right_pin(&self) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute("DELETE FROM meta WHERE key = 'wrong_pins'", [])
                .map(|_| ())
        })
    }

    /// What the device held unsent when it last counted (a number only: it
    /// is read before the PIN, to warn before a wipe).
    pub fn unsent_as_last_counted(&self) -> Result<Option<u64>, CoreError> {
        Ok(self.meta("unsent")?.and_then(|v| v.parse().ok()))
    }

    /// The first step of a wipe: from here nothing sealed opens again.
    pub fn forget_key(&self) -> Result<(), CoreError> {
        self.with(|c| c.execute("DELETE FROM vault", []).map(|_| ()))
    }

    fn seal(&self, place: &str, value: &str) -> String {
        match &self.key {
            Some(k) => k.seal_text(place.as_bytes(), value),
            None => value.to_owned(),
        }
    }

    fn open_text(&self, place: &str, stored: String) -> Result<String, CoreError> {
        match &self.key {
            Some(k) => k
                .open_text(place.as_bytes(), &stored)
                .map(|mut plain| std::mem::take(&mut *plain))
                .map_err(|e| CoreError::Sealed(format!("{place}: {e}"))),
            None => Ok(stored),
        }
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
                params![
                    server_url,
                    e.device_id,
                    self.seal("enrolment:token", &e.token),
                    e.peer_id,
                    e.person.id,
                    self.seal("enrolment:person_name", &e.person.name),
                    e.person.role.as_str()
                ],
            )
            .map(|_| ())
        })
    }

    pub fn enrolment(&self) -> Result<Option<Enrolment>, CoreError> {
        let Some(mut e) = self.with(|c| {
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
        })?
        else {
            return Ok(None);
        };
        e.token = self.open_text("enrolment:token", std::mem::take(&mut e.token))?;
        e.person.name =
            self.open_text("enrolment:person_name", std::mem::take(&mut e.person.name))?;
        Ok(Some(e))
    }

    pub fn replace_cases(&self, cases: &[CaseSummary]) -> Result<(), CoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM cases", [])?;
        for case in cases {
            tx.execute(
                "INSERT INTO cases (case_id, reference, person_name, document_id) VALUES (?1, ?2, ?3, ?4)",
                params![
                    case.case_id,
                    self.seal(&format!("cases:reference:{}", case.case_id), &case.reference),
                    self.seal(&format!("cases:person_name:{}", case.case_id), &case.person_name),
                    case.document_id
                ],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO documents (document_id, case_id, kind) VALUES (?1, ?2, 'case')",
                params![case.document_id, case.case_id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// In reference order (sorted here: sealed references do not sort).
    pub fn cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        let stored: Vec<CaseSummary> = self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT case_id, reference, person_name, document_id FROM cases")?;
            let rows = stmt.query_map([], |r| {
                Ok(CaseSummary {
                    case_id: r.get(0)?,
                    reference: r.get(1)?,
                    person_name: r.get(2)?,
                    document_id: r.get(3)?,
                })
            })?;
            rows.collect()
        })?;
        let mut cases = stored
            .into_iter()
            .map(|mut case| {
                let id = case.case_id.clone();
                case.reference = self.open_text(
                    &format!("cases:reference:{id}"),
                    std::mem::take(&mut case.reference),
                )?;
                case.person_name = self.open_text(
                    &format!("cases:person_name:{id}"),
                    std::mem::take(&mut case.person_name),
                )?;
                Ok(case)
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        cases.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(cases)
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
    /// `held`: kept on the phone until [`Local::release_held`] (the
    /// outbox does not see it until then).
    pub fn add_record(
        &self,
        document_id: &str,
        kind: &str,
        case_id: &str,
        nonce: &str,
        held: bool,
    ) -> Result<(), CoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT OR IGNORE INTO documents (document_id, case_id, kind) VALUES (?1, ?2, ?3)",
            params![document_id, case_id, kind],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO pending_registrations (document_id, case_id, nonce, kind, held) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![document_id, case_id, nonce, kind, held],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Lets a held record go to the outbox; returns it (`None` when it was
    /// not held).
    pub fn release_held(
        &self,
        document_id: &str,
    ) -> Result<Option<PendingRegistration>, CoreError> {
        self.with(|c| {
            c.query_row(
                "UPDATE pending_registrations SET held = 0 WHERE document_id = ?1 AND held = 1
                 RETURNING case_id, document_id, nonce, kind, last_error",
                [document_id],
                |r| {
                    Ok(PendingRegistration {
                        case_id: r.get(0)?,
                        document_id: r.get(1)?,
                        nonce: r.get(2)?,
                        kind: r.get(3)?,
                        last_error: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    pub fn kind_of(&self, document_id: &str) -> Result<Option<String>, CoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT kind FROM documents WHERE document_id = ?1",
                [document_id],
                |r| r.get(0),
            )
            .optional()
        })
    }

    /// Records kept on the phone until they are let go.
    pub fn held_records(&self) -> Result<Vec<String>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT document_id FROM pending_registrations WHERE held = 1 ORDER BY rowid",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// The records of `kind` of a case this device knows (made here or
    /// fetched), drafts included.
    pub fn records_of_case(&self, case_id: &str, kind: &str) -> Result<Vec<String>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT document_id FROM documents WHERE case_id = ?1 AND kind = ?2 ORDER BY rowid",
            )?;
            let rows = stmt.query_map([case_id, kind], |r| r.get(0))?;
            rows.collect()
        })
    }

    pub fn pending_registrations(&self) -> Result<Vec<PendingRegistration>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT case_id, document_id, nonce, kind, last_error FROM pending_registrations WHERE held = 0 ORDER BY rowid",
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
                params![
                    p.id,
                    self.seal(&format!("people:name:{}", p.id), &p.name),
                    p.role.as_str()
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn person_name(&self, id: &str) -> Result<Option<String>, CoreError> {
        self.with(|c| {
            c.query_row("SELECT name FROM people WHERE id = ?1", [id], |r| r.get(0))
                .optional()
        })?
        .map(|name| self.open_text(&format!("people:name:{id}"), name))
        .transpose()
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
                params![
                    document_id,
                    self.seal(&format!("warnings:message:{document_id}"), message),
                    at
                ],
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
        })?
        .map(|m| self.open_text(&format!("warnings:message:{document_id}"), m))
        .transpose()
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

    /// The keys of `meta` that start with `prefix`, the prefix cut off.
    pub fn meta_keys(&self, prefix: &str) -> Result<Vec<String>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT substr(key, length(?1) + 1) FROM meta WHERE substr(key, 1, length(?1)) = ?1",
            )?;
            let rows = stmt.query_map([prefix], |r| r.get(0))?;
            rows.collect()
        })
    }

    pub fn delete_meta(&self, key: &str) -> Result<(), CoreError> {
        self.with(|c| {
            c.execute("DELETE FROM meta WHERE key = ?1", [key])
                .map(|_| ())
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
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let stored = match &self.key {
            Some(k) => k.seal(format!("blobs:bytes:{sha256}").as_bytes(), bytes),
            None => bytes.to_vec(),
        };
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO blobs (sha256, document_id, bytes, size, mine, sent, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![sha256, document_id, stored, size, mine, !mine, at],
            )
            .map(|_| ())
        })
    }

    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, CoreError> {
        let stored: Option<Vec<u8>> = self.with(|c| {
            c.query_row("SELECT bytes FROM blobs WHERE sha256 = ?1", [sha256], |r| {
                r.get(0)
            })
            .optional()
        })?;
        let (Some(stored), Some(k)) = (stored.as_ref(), &self.key) else {
            return Ok(stored);
        };
        let place = format!("blobs:bytes:{sha256}");
        k.open(place.as_bytes(), stored)
            .map(|mut plain| Some(std::mem::take(&mut *plain)))
            .map_err(|e| CoreError::Sealed(format!("{place}: {e}")))
    }

    /// Photos made here, with how far each has got.
    pub fn blob_progress(&self) -> Result<Vec<BlobProgress>, CoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT sha256, document_id, size, received, sent, error
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn with_a_key_nothing_about_a_person_is_plain_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.sqlite");
        let key = Arc::new(DataKey::generate());
        let secrets = [
            "token-9f8e7d6c5b4a",
            "Wren Synthetic-Worker",
            "REF-SECRET-42",
            "Casey Synthetic-Person",
            "Ash Synthetic-Colleague",
            "refused: she may not write this",
            "JPEG-BYTES-OF-A-PHOTO",
        ];
        {
            let local = Local::open(&path).unwrap().with_key(key.clone());
            let person = PersonSummary {
                id: "worker-1".into(),
                name: secrets[1].into(),
                role: Role::Worker,
            };
            let enrolled = EnrolResponse {
                device_id: "device-1".into(),
                token: secrets[0].into(),
                peer_id: "peer-1".into(),
                person,
            };
            local
                .save_enrolment("http://127.0.0.1:1", &enrolled)
                .unwrap();
            local
                .replace_cases(&[CaseSummary {
                    case_id: "case-1".into(),
                    reference: secrets[2].into(),
                    person_name: secrets[3].into(),
                    document_id: "doc-1".into(),
                }])
                .unwrap();
            local
                .replace_people(&[PersonSummary {
                    id: "worker-2".into(),
                    name: secrets[4].into(),
                    role: Role::Worker,
                }])
                .unwrap();
            local.set_warning("doc-1", secrets[5]).unwrap();
            local
                .put_blob("ab12", "doc-1", secrets[6].as_bytes(), true)
                .unwrap();

            // Read back as written.
            let e = local.enrolment().unwrap().unwrap();
            assert_eq!(
                (e.token.as_str(), e.person.name.as_str()),
                (secrets[0], secrets[1])
            );
            let cases = local.cases().unwrap();
            assert_eq!(cases[0].reference, secrets[2]);
            assert_eq!(cases[0].person_name, secrets[3]);
            assert_eq!(
                local.person_name("worker-2").unwrap().as_deref(),
                Some(secrets[4])
            );
            assert_eq!(local.warning("doc-1").unwrap().as_deref(), Some(secrets[5]));
            assert_eq!(local.blob("ab12").unwrap().unwrap(), secrets[6].as_bytes());
            // The upload counts the photo, not its sealed bytes.
            assert_eq!(
                local.blob_progress().unwrap()[0].size,
                secrets[6].len() as u64
            );
        }
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            for s in secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{s} is plain on disk"
                );
            }
        }
        // Another key opens nothing, and says so.
        let other = Local::open(&path)
            .unwrap()
            .with_key(Arc::new(DataKey::generate()));
        assert!(matches!(other.enrolment(), Err(CoreError::Sealed(_))));
        assert!(matches!(other.blob("ab12"), Err(CoreError::Sealed(_))));
    }
}
