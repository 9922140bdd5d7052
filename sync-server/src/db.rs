//! The practice database: people, cases, assignments, devices, the document
//! registry and the audit log, in SQLite (WAL). The backend is chosen by a
//! URI so another (`postgres://`) can follow behind the same methods.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fieldvisit_shared::api::{CaseSummary, PersonSummary, Role};
use fieldvisit_shared::records::Kind;
use fieldvisit_sqlite_store::{Durability, apply_migrations, open_connection};
use rusqlite::{Connection, OptionalExtension, params};

use crate::access::{self, Facts};
use crate::error::{Error, Result};

/// Numbered migrations, applied in order at start-up; never edit one that
/// has shipped, add the next.
const MIGRATIONS: &[(u32, &str)] = &[(1, include_str!("../migrations/0001_practice.sql"))];

/// Where the database lives, parsed from a URI.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUri {
    Sqlite(PathBuf),
}

impl std::fmt::Debug for DatabaseUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUri::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
        }
    }
}

impl DatabaseUri {
    pub fn parse(uri: &str) -> Result<Self> {
        match uri.split_once(':') {
            Some(("sqlite", path)) if !path.is_empty() => Ok(DatabaseUri::Sqlite(path.into())),
            // Never echo the rest of the URI: it may carry a password.
            Some((scheme, _)) => Err(Error::UnsupportedBackend(format!("{scheme}:"))),
            None => Err(Error::UnsupportedBackend("(no scheme)".into())),
        }
    }

    pub fn for_data_dir(dir: &Path) -> Self {
        DatabaseUri::Sqlite(dir.join("fieldvisit.sqlite"))
    }

    pub fn sqlite_path(&self) -> &Path {
        match self {
            DatabaseUri::Sqlite(p) => p,
        }
    }
}

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub person: PersonSummary,
    pub label: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub device_id: Option<String>,
    pub person_id: Option<String>,
    pub action: String,
    pub document_id: Option<String>,
    pub case_id: Option<String>,
    pub detail: String,
}

/// What to write to the audit log.
#[derive(Debug, Clone, Default)]
pub struct Audit<'a> {
    pub device_id: Option<&'a str>,
    pub person_id: Option<&'a str>,
    pub action: &'a str,
    pub document_id: Option<&'a str>,
    pub case_id: Option<&'a str>,
    pub detail: &'a str,
}

/// The one answer for a document a device may not register: the same
/// whether the id exists elsewhere or nowhere.
fn not_registrable(document_id: &str) -> Error {
    Error::NotFound(format!("document {document_id} created on this device"))
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn role(s: &str) -> rusqlite::Result<Role> {
    Role::parse(s).ok_or_else(|| rusqlite::Error::InvalidColumnName(format!("role {s}")))
}

impl Db {
    pub fn open(uri: &DatabaseUri) -> Result<Self> {
        let path = uri.sqlite_path();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = open_connection(path, Durability::Full)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        apply_migrations(&mut conn, MIGRATIONS)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Runs `f` on a blocking thread: SQLite calls must not stall the runtime.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Moves whenever who may see what may have changed, whichever process
    /// changed it (the server's API or the admin command line): the newest
    /// audit entry of an access change. Unlike `PRAGMA data_version` it does
    /// not move for every enrolment or audit entry.
    pub fn access_stamp(&self) -> Result<i64> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT coalesce(max(id), 0) FROM audit_log WHERE action IN
                 ('assigned', 'unassigned', 'supervisor_changed', 'device_revoked')",
                [],
                |r| r.get(0),
            )?)
        })
    }

    pub fn insert_person(
        &self,
        id: &str,
        name: &str,
        role: &Role,
        supervisor_id: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if let Some(sup) = supervisor_id {
                require_supervisor(&tx, sup)?;
            }
            tx.execute(
                "INSERT INTO people (id, name, role, supervisor_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name, role.as_str(), supervisor_id, now()],
            )?;
            audit_tx(&tx, &Audit { person_id: Some(id), action: "person_added", detail: role.as_str(), ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn person(&self, id: &str) -> Result<PersonSummary> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, role FROM people WHERE id = ?1",
                [id],
                |r| {
                    Ok(PersonSummary {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        role: role(&r.get::<_, String>(2)?)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("person {id}")))
        })
    }

    pub fn insert_case(
        &self,
        id: &str,
        reference: &str,
        person_name: &str,
        document_id: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM cases WHERE reference = ?1)",
                [reference],
                |r| r.get(0),
            )?;
            if exists {
                return Err(Error::Conflict(format!("a case with reference {reference} already exists")));
            }
            let at = now();
            tx.execute(
                "INSERT INTO cases (id, reference, person_name, document_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, reference, person_name, document_id, at],
            )?;
            tx.execute(
                "INSERT INTO documents (document_id, case_id, kind, registered_at) VALUES (?1, ?2, 'case', ?3)",
                params![document_id, id, at],
            )?;
            audit_tx(&tx, &Audit { action: "case_added", case_id: Some(id), document_id: Some(document_id), ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn reference_taken(&self, reference: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS(SELECT 1 FROM cases WHERE reference = ?1)",
                [reference],
                |r| r.get(0),
            )?)
        })
    }

    pub fn assign(&self, case_id: &str, person_id: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let case_exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM cases WHERE id = ?1)", [case_id], |r| r.get(0))?;
            if !case_exists {
                return Err(Error::NotFound(format!("case {case_id}")));
            }
            let role_: Option<String> = tx
                .query_row("SELECT role FROM people WHERE id = ?1", [person_id], |r| r.get(0))
                .optional()?;
            match role_ {
                None => return Err(Error::NotFound(format!("person {person_id}"))),
                Some(r) if r == "admin" => {
                    return Err(Error::Conflict("an admin cannot be assigned to a case".into()));
                }
                Some(_) => {}
            }
            tx.execute(
                "INSERT OR IGNORE INTO assignments (case_id, person_id, assigned_at) VALUES (?1, ?2, ?3)",
                params![case_id, person_id, now()],
            )?;
            audit_tx(&tx, &Audit { person_id: Some(person_id), action: "assigned", case_id: Some(case_id), ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Ends an assignment; returns false when there was none.
    pub fn unassign(&self, case_id: &str, person_id: &str) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let removed = tx.execute(
                "DELETE FROM assignments WHERE case_id = ?1 AND person_id = ?2",
                params![case_id, person_id],
            )?;
            if removed > 0 {
                audit_tx(
                    &tx,
                    &Audit {
                        person_id: Some(person_id),
                        action: "unassigned",
                        case_id: Some(case_id),
                        ..Default::default()
                    },
                )?;
            }
            tx.commit()?;
            Ok(removed > 0)
        })
    }

    /// Gives a worker another supervisor (or none).
    pub fn set_supervisor(&self, person_id: &str, supervisor_id: Option<&str>) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let role_: Option<String> = tx
                .query_row("SELECT role FROM people WHERE id = ?1", [person_id], |r| {
                    r.get(0)
                })
                .optional()?;
            match role_.as_deref() {
                None => return Err(Error::NotFound(format!("person {person_id}"))),
                Some("worker") => {}
                Some(_) => return Err(Error::Conflict(format!("{person_id} is not a worker"))),
            }
            if let Some(sup) = supervisor_id {
                require_supervisor(&tx, sup)?;
            }
            tx.execute(
                "UPDATE people SET supervisor_id = ?1 WHERE id = ?2",
                params![supervisor_id, person_id],
            )?;
            audit_tx(
                &tx,
                &Audit {
                    person_id: Some(person_id),
                    action: "supervisor_changed",
                    detail: supervisor_id.unwrap_or("none"),
                    ..Default::default()
                },
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Cases visible to a person: assigned to them, or to a worker they supervise.
    pub fn cases_visible_to(&self, person_id: &str) -> Result<Vec<CaseSummary>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, reference, person_name, document_id FROM cases WHERE id IN (
                     SELECT a.case_id FROM assignments a WHERE a.person_id = ?1
                     UNION
                     SELECT a.case_id FROM assignments a JOIN people w ON w.id = a.person_id
                     JOIN people s ON s.id = ?1 AND s.role = 'supervisor'
                     WHERE w.supervisor_id = ?1)
                 ORDER BY reference",
            )?;
            let rows = stmt.query_map([person_id], |r| {
                Ok(CaseSummary {
                    case_id: r.get(0)?,
                    reference: r.get(1)?,
                    person_name: r.get(2)?,
                    document_id: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The facts [`access::decide`] needs for one device and one document.
    pub fn access_facts(&self, device_id: &str, document_id: &str) -> Result<Option<Facts>> {
        self.with(|c| {
            let device: Option<(String, String, bool)> = c
                .query_row(
                    "SELECT p.id, p.role, d.revoked_at IS NOT NULL FROM devices d JOIN people p ON p.id = d.person_id WHERE d.id = ?1",
                    [device_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((person_id, role_, revoked)) = device else {
                return Ok(None);
            };
            let document_case: Option<String> = c
                .query_row("SELECT case_id FROM documents WHERE document_id = ?1", [document_id], |r| r.get(0))
                .optional()?;
            let (assigned, supervises_assignee) = match &document_case {
                None => (false, false),
                Some(case_id) => c.query_row(
                    "SELECT
                        EXISTS(SELECT 1 FROM assignments WHERE case_id = ?1 AND person_id = ?2),
                        EXISTS(SELECT 1 FROM assignments a JOIN people w ON w.id = a.person_id
                               WHERE a.case_id = ?1 AND w.supervisor_id = ?2)",
                    params![case_id, person_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?,
            };
            Ok(Some(Facts {
                device_revoked: revoked,
                role: match role(&role_)? {
                    Role::Worker => access::Role::Worker,
                    Role::Supervisor => access::Role::Supervisor,
                    Role::Admin => access::Role::Admin,
                },
                document_case,
                assigned,
                supervises_assignee,
            }))
        })
    }

    /// Claims a document for a case for the device that created it:
    /// `proves` answers whether the document id was made by the device whose
    /// stored token hash it is given (see `fieldvisit_shared::provenance`).
    /// Idempotent for the same case. A device that did not create the id
    /// gets the same answer whether or not the id is registered anywhere.
    pub fn register_document(
        &self,
        device: &Device,
        kind: Kind,
        case_id: &str,
        document_id: &str,
        proves: impl FnOnce(&str) -> bool,
    ) -> Result<bool> {
        let visible = self
            .cases_visible_to(&device.person.id)?
            .iter()
            .any(|c| c.case_id == case_id);
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let refuse = |detail: &str| -> Result<()> {
                audit_tx(&tx, &Audit { device_id: Some(&device.id), person_id: Some(&device.person.id), action: "register_refused", document_id: Some(document_id), case_id: Some(case_id), detail })?;
                Ok(())
            };
            if !visible {
                refuse("not_assigned")?;
                tx.commit()?;
                return Err(Error::NotFound(format!("case {case_id}")));
            }
            let token_hash: Option<String> = tx
                .query_row("SELECT token_hash FROM devices WHERE id = ?1", [&device.id], |r| r.get(0))
                .optional()?
                .flatten();
            let existing: Option<(String, String, Option<String>)> = tx
                .query_row("SELECT case_id, kind, registered_by_device FROM documents WHERE document_id = ?1", [document_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            if !token_hash.as_deref().is_some_and(proves) {
                refuse(if existing.is_some() { "not_creator:registered" } else { "not_creator" })?;
                tx.commit()?;
                return Err(not_registrable(document_id));
            }
            match existing {
                Some((existing_case, existing_kind, _)) if existing_case == case_id && existing_kind == kind.as_str() => return Ok(false),
                Some((_, _, by)) if by.as_deref() == Some(device.id.as_str()) => {
                    // Its own document, already in another of its cases.
                    refuse("already_registered")?;
                    tx.commit()?;
                    return Err(Error::Conflict(format!("document {document_id} already belongs to another record")));
                }
                Some(_) => {
                    refuse("registered_by_another")?;
                    tx.commit()?;
                    return Err(not_registrable(document_id));
                }
                None => {}
            }
            tx.execute(
                "INSERT INTO documents (document_id, case_id, kind, registered_by_device, registered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![document_id, case_id, kind.as_str(), device.id, now()],
            )?;
            let action = match kind {
                Kind::Case => "case_registered",
                Kind::Visit => "visit_registered",
            };
            audit_tx(&tx, &Audit { device_id: Some(&device.id), person_id: Some(&device.person.id), action, document_id: Some(document_id), case_id: Some(case_id), detail: "" })?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// What a registered document is and the case it belongs to.
    pub fn document_record(&self, document_id: &str) -> Result<Option<(String, String)>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT kind, case_id FROM documents WHERE document_id = ?1",
                [document_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
    }

    /// The stored hash of a device's token: its creator key (see
    /// `fieldvisit_shared::provenance`).
    pub fn token_hash(&self, device_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT token_hash FROM devices WHERE id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
        })
    }

    /// Registers a visit document created on the server (the demo seed).
    pub fn register_seeded_visit(
        &self,
        case_id: &str,
        document_id: &str,
        author: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO documents (document_id, case_id, kind, registered_at) VALUES (?1, ?2, 'visit', ?3)",
                params![document_id, case_id, now()],
            )?;
            audit_tx(&tx, &Audit { person_id: Some(author), action: "visit_registered", document_id: Some(document_id), case_id: Some(case_id), detail: "seeded", ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn people(&self) -> Result<Vec<PersonSummary>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, name, role FROM people ORDER BY created_at, id")?;
            let rows = stmt.query_map([], |r| {
                Ok(PersonSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: role(&r.get::<_, String>(2)?)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    pub fn insert_device(
        &self,
        id: &str,
        person_id: &str,
        label: &str,
        code_hash: &str,
        expires_at: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM people WHERE id = ?1)", [person_id], |r| r.get(0))?;
            if !exists {
                return Err(Error::NotFound(format!("person {person_id}")));
            }
            tx.execute(
                "INSERT INTO devices (id, person_id, label, enrol_code_hash, enrol_expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, person_id, label, code_hash, expires_at, now()],
            )?;
            audit_tx(&tx, &Audit { device_id: Some(id), person_id: Some(person_id), action: "device_added", detail: label, ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Turns a valid, unexpired enrolment code into a token (single use).
    pub fn enrol(&self, code_hash: &str, token_hash: &str, label: &str) -> Result<Device> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT id, person_id FROM devices WHERE enrol_code_hash = ?1 AND revoked_at IS NULL AND enrol_expires_at > ?2",
                    params![code_hash, now()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((device_id, person_id)) = row else {
                return Err(Error::InvalidEnrolmentCode);
            };
            tx.execute(
                "UPDATE devices SET token_hash = ?1, enrol_code_hash = NULL, enrol_expires_at = NULL, enrolled_at = ?2, label = ?3 WHERE id = ?4",
                params![token_hash, now(), label, device_id],
            )?;
            audit_tx(&tx, &Audit { device_id: Some(&device_id), person_id: Some(&person_id), action: "device_enrolled", detail: label, ..Default::default() })?;
            tx.commit()?;
            Ok(device_id)
        })
        .and_then(|id| self.device(&id))
    }

    pub fn device(&self, id: &str) -> Result<Device> {
        self.device_where("d.id = ?1", id)?
            .ok_or_else(|| Error::NotFound(format!("device {id}")))
    }

    pub fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        self.device_where("d.token_hash = ?1", token_hash)
    }

    fn device_where(&self, condition: &str, value: &str) -> Result<Option<Device>> {
        self.with(|c| {
            let sql = format!(
                "SELECT d.id, d.label, d.revoked_at IS NOT NULL, p.id, p.name, p.role
                 FROM devices d JOIN people p ON p.id = d.person_id WHERE {condition}"
            );
            Ok(c.query_row(&sql, [value], |r| {
                Ok(Device {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    revoked: r.get(2)?,
                    person: PersonSummary {
                        id: r.get(3)?,
                        name: r.get(4)?,
                        role: role(&r.get::<_, String>(5)?)?,
                    },
                })
            })
            .optional()?)
        })
    }

    /// Revokes a device; returns false when it already was.
    pub fn revoke_device(&self, id: &str) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM devices WHERE id = ?1)", [id], |r| r.get(0))?;
            if !exists {
                return Err(Error::NotFound(format!("device {id}")));
            }
            let changed = tx.execute(
                "UPDATE devices SET revoked_at = ?1, enrol_code_hash = NULL WHERE id = ?2 AND revoked_at IS NULL",
                params![now(), id],
            )?;
            if changed > 0 {
                audit_tx(&tx, &Audit { device_id: Some(id), action: "device_revoked", ..Default::default() })?;
            }
            tx.commit()?;
            Ok(changed > 0)
        })
    }

    pub fn revoked_device_ids(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id FROM devices WHERE revoked_at IS NOT NULL")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    pub fn audit(&self, entry: &Audit<'_>) -> Result<()> {
        self.with(|c| {
            audit_tx(c, entry)?;
            Ok(())
        })
    }

    pub fn audit_entries(&self, action: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, device_id, person_id, action, document_id, case_id, detail
                 FROM audit_log WHERE ?1 IS NULL OR action = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![action, limit], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    device_id: r.get(2)?,
                    person_id: r.get(3)?,
                    action: r.get(4)?,
                    document_id: r.get(5)?,
                    case_id: r.get(6)?,
                    detail: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// `sup` is a person whose role is supervisor.
fn require_supervisor(c: &Connection, sup: &str) -> Result<()> {
    let role: Option<String> = c
        .query_row("SELECT role FROM people WHERE id = ?1", [sup], |r| r.get(0))
        .optional()?;
    match role.as_deref() {
        Some("supervisor") => Ok(()),
        Some(_) => Err(Error::Conflict(format!("{sup} is not a supervisor"))),
        None => Err(Error::NotFound(format!("supervisor {sup}"))),
    }
}

fn audit_tx(c: &Connection, e: &Audit<'_>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO audit_log (at, device_id, person_id, action, document_id, case_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now(),
        e.device_id,
        e.person_id,
        e.action,
        e.document_id,
        e.case_id,
        e.detail
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_select_the_backend_and_hide_secrets() {
        assert_eq!(
            DatabaseUri::parse("sqlite:/tmp/x.sqlite").unwrap(),
            DatabaseUri::Sqlite("/tmp/x.sqlite".into())
        );
        let err = DatabaseUri::parse("postgres://user:secret@host/db").unwrap_err();
        assert!(!err.to_string().contains("secret"));
        assert_eq!(err.code(), "unsupported_backend");
    }

    #[test]
    fn migrations_apply_once_and_visibility_follows_assignment() {
        let dir = tempfile::tempdir().unwrap();
        let uri = DatabaseUri::for_data_dir(dir.path());
        let db = Db::open(&uri).unwrap();
        drop(db);
        let db = Db::open(&uri).unwrap();
        db.insert_person("sup", "Sam Supervisor", &Role::Supervisor, None)
            .unwrap();
        db.insert_person("w1", "Wren Worker", &Role::Worker, Some("sup"))
            .unwrap();
        db.insert_person("w2", "Ash Worker", &Role::Worker, None)
            .unwrap();
        assert!(matches!(
            db.insert_person("w3", "X", &Role::Worker, Some("w2")),
            Err(Error::Conflict(_))
        ));
        db.insert_case("c1", "REF-1", "Alex", "docA").unwrap();
        db.assign("c1", "w1").unwrap();
        let ids = |p: &str| -> Vec<String> {
            db.cases_visible_to(p)
                .unwrap()
                .into_iter()
                .map(|c| c.case_id)
                .collect()
        };
        assert_eq!(ids("w1"), ["c1"]);
        assert_eq!(ids("sup"), ["c1"]);
        assert!(ids("w2").is_empty());
        assert!(matches!(
            db.insert_case("c2", "REF-1", "B", "docB"),
            Err(Error::Conflict(_))
        ));
    }
}
