//! The practice database: people, cases, assignments, devices, the document
//! registry and the audit log, in SQLite (WAL). The backend is chosen by a
//! URI so another (`postgres://`) can follow behind the same methods.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fieldvisit_shared::api::Role;
use fieldvisit_sqlite_store::{Durability, apply_migrations, open_connection};
use rusqlite::Connection;

use crate::error::{Error, Result};

mod alerts;
mod audit;
mod blobs;
mod cases;
mod devices;
mod documents;
mod people;
mod receipts;
mod search;

pub use alerts::{Attempted, Delivery};
pub use audit::Audit;
use audit::{audit_budgeted, audit_tx};
pub use blobs::BlobRow;
pub use devices::Device;
pub use documents::CaseDocuments;
pub use fieldvisit_shared::api::{AuditEntry, AuditFilter};
pub use receipts::Receipt;
pub use search::{MATCH_END, MATCH_START};

/// Numbered migrations, applied in order at start-up; never edit one that
/// has shipped, add the next.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../migrations/0001_practice.sql")),
    (2, include_str!("../../migrations/0002_record.sql")),
    (
        3,
        include_str!("../../migrations/0003_receipts_by_time.sql"),
    ),
    (4, include_str!("../../migrations/0004_blobs.sql")),
    (5, include_str!("../../migrations/0005_devices.sql")),
    (6, include_str!("../../migrations/0006_concerns.sql")),
    (7, include_str!("../../migrations/0007_revoked_by.sql")),
];

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
    /// For long reads (search, the case record, the audit log), so that
    /// the writes every change waits for (its receipt) never queue behind
    /// them: WAL lets a reader and the writer run at once.
    reader: Arc<Mutex<Connection>>,
    /// Each device's refusals audited this minute (`audit::RefusalBudget`).
    refusals: Arc<audit::RefusalBudget>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
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
        // Migrations run with foreign keys off, as SQLite's procedure for
        // rebuilding a table asks (a referenced table cannot be replaced
        // otherwise); the keys are checked before anything else runs.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        apply_migrations(&mut conn, MIGRATIONS)?;
        let broken: i64 =
            conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            return Err(Error::Internal(format!(
                "{broken} rows break a foreign key after the migrations"
            )));
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let reader = open_connection(path, Durability::Full)?;
        reader.pragma_update(None, "query_only", "ON")?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            reader: Arc::new(Mutex::new(reader)),
            refusals: Default::default(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn)
    }

    /// Like `with`, on the read-only connection.
    fn reading<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        f(&conn)
    }

    /// Since when the server has kept the time it received each change
    /// (the migration that made the table ran then).
    pub fn receipts_kept_since(&self) -> Result<String> {
        self.reading(|c| {
            Ok(c.query_row(
                "SELECT applied_at FROM schema_migrations WHERE version = 2",
                [],
                |r| r.get(0),
            )?)
        })
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
    fn a_practice_from_before_reviewers_keeps_its_people_and_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fieldvisit.sqlite");
        {
            let mut c = open_connection(&path, Durability::Full).unwrap();
            apply_migrations(&mut c, &MIGRATIONS[..1]).unwrap();
            c.execute_batch(
                "INSERT INTO people VALUES ('sup', 'Sam', 'supervisor', NULL, 'x');
                 INSERT INTO people VALUES ('w1', 'Wren', 'worker', 'sup', 'x');
                 INSERT INTO devices (id, person_id, label, created_at) VALUES ('d1', 'w1', 'Phone', 'x');",
            )
            .unwrap();
        }
        let db = Db::open(&DatabaseUri::Sqlite(path)).unwrap();
        assert_eq!(db.person("w1").unwrap().name, "Wren");
        db.insert_person("r1", "Rae", &Role::Reviewer, None)
            .unwrap();
        assert_eq!(db.person("r1").unwrap().role, Role::Reviewer);
        // The rebuilt table is still what devices and people point at.
        let refused = db.with(|c| {
            Ok(c.execute(
                "INSERT INTO devices (id, person_id, label, created_at) VALUES ('d2', 'nobody', 'x', 'x')",
                [],
            )?)
        });
        assert!(refused.is_err(), "foreign keys are on after the migration");
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
