//! What `/health` reports, from three sources: a probe of the sync engine
//! (can its hub and its document actors still answer?), the document store
//! (are its writes failing?), and the panics samod contained (a document
//! that panicked is stopped and reloads from storage, but someone should
//! look). The verdict is a pure function of those facts.

use std::sync::Mutex;

use fieldvisit_sqlite_store::StoreFailure;
use serde::Serialize;

/// Panics samod contained since the server started.
#[derive(Debug, Default)]
pub struct Panics {
    inner: Mutex<PanicLog>,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct PanicLog {
    pub documents: u64,
    pub hub: u64,
    /// The most recent one: where, what, when.
    pub last: Option<PanicRecord>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PanicRecord {
    pub document_id: Option<String>,
    pub message: String,
    pub at: String,
}

impl Panics {
    pub fn record(&self, document_id: Option<String>, message: String) {
        let mut log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if document_id.is_some() {
            log.documents += 1;
        } else {
            log.hub += 1;
        }
        log.last = Some(PanicRecord {
            document_id,
            message,
            at: crate::db::now(),
        });
    }

    pub fn log(&self) -> PanicLog {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Everything `/health` knows.
#[derive(Debug, Clone)]
pub struct Facts {
    /// `Err(why)` when the engine did not answer its probe in time.
    pub engine: Result<(), String>,
    pub store: Option<StoreFailure>,
    /// Why the practice database last failed to take a change's receipt,
    /// while it still fails (no change is taken meanwhile).
    pub practice_database: Option<String>,
    pub panics: PanicLog,
    pub documents_in_memory: usize,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Everything works.
    Ok,
    /// Serving, but something failed and was contained: look at the log.
    Degraded,
    /// Not doing its job: sync has stopped, or nothing can be stored.
    Unhealthy,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: Status,
    pub version: &'static str,
    pub sync_engine: String,
    pub document_store: String,
    pub practice_database: String,
    pub panics: PanicLog,
    /// Documents the engine holds in memory now (idle ones are unloaded).
    pub documents_in_memory: usize,
}

/// The key to `/health`'s whole report: written at every start, readable
/// only by the server's own user, never logged (`Debug` hides it).
pub struct Key(String);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Key {
    /// Compared as hashes: how long the comparison takes says nothing
    /// of the key.
    pub fn matches(&self, presented: &str) -> bool {
        crate::secrets::hash(presented) == crate::secrets::hash(&self.0)
    }
}

/// The file in the data directory that holds [`Key`].
pub const KEY_FILE: &str = "health.key";

/// Makes a new key and writes it to [`KEY_FILE`] in `data_dir`, mode 0600.
pub fn write_key(data_dir: &std::path::Path) -> crate::error::Result<Key> {
    let key = crate::secrets::token();
    let path = data_dir.join(KEY_FILE);
    let _ = std::fs::remove_file(&path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, key.as_bytes()));
    written.map_err(|e| {
        crate::error::Error::Internal(format!("cannot write {}: {e}", path.display()))
    })?;
    Ok(Key(key))
}

pub fn assess(facts: &Facts) -> Report {
    let status =
        if facts.engine.is_err() || facts.store.is_some() || facts.practice_database.is_some() {
            Status::Unhealthy
        } else if facts.panics.documents + facts.panics.hub > 0 {
            Status::Degraded
        } else {
            Status::Ok
        };
    Report {
        status,
        version: env!("CARGO_PKG_VERSION"),
        sync_engine: match &facts.engine {
            Ok(()) => "ok".into(),
            Err(why) => format!("not answering: {why}"),
        },
        document_store: match &facts.store {
            None => "ok".into(),
            Some(f) => format!(
                "{} failing ({} attempts): {}; new writes are refused until it recovers",
                f.operation, f.attempts, f.error
            ),
        },
        practice_database: match &facts.practice_database {
            None => "ok".into(),
            Some(why) => format!(
                "cannot record what arrives: {why}; new changes are refused until it recovers"
            ),
        },
        panics: facts.panics.clone(),
        documents_in_memory: facts.documents_in_memory,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Facts {
        Facts {
            engine: Ok(()),
            store: None,
            practice_database: None,
            panics: PanicLog::default(),
            documents_in_memory: 1,
        }
    }

    #[test]
    fn the_verdict_follows_the_worst_fact() {
        assert_eq!(assess(&healthy()).status, Status::Ok);
        let panics = Panics::default();
        panics.record(Some("doc".into()), "boom".into());
        let f = Facts {
            panics: panics.log(),
            ..healthy()
        };
        assert_eq!(assess(&f).status, Status::Degraded);
        let f = Facts {
            engine: Err("no answer in 3 s".into()),
            ..f
        };
        let report = assess(&f);
        assert_eq!(report.status, Status::Unhealthy);
        assert!(report.sync_engine.contains("no answer"));
        let f = Facts {
            store: Some(StoreFailure {
                operation: "put",
                error: "database or disk is full".into(),
                attempts: 3,
            }),
            ..healthy()
        };
        let report = assess(&f);
        assert_eq!(report.status, Status::Unhealthy);
        assert!(report.document_store.contains("disk is full"));
        let f = Facts {
            practice_database: Some("database or disk is full".into()),
            ..healthy()
        };
        let report = assess(&f);
        assert_eq!(report.status, Status::Unhealthy);
        assert!(report.practice_database.contains("disk is full"));
    }
}
