//! One samod [`Storage`] over SQLite for the sync server and the native app.
//!
//! It lives beside `fieldvisit-shared` rather than in it because the shared
//! crate does no IO (and builds for the browser, where the store differs).
//!
//! Every `put` and `delete` is its own committed transaction before its future
//! resolves. samod (as patched in `vendor/`) holds the sync messages of a
//! step until that step's writes have resolved, so a peer is only ever told
//! about changes that are already on disk.
//!
//! samod's `Storage` cannot report a failure, and a write that resolved is
//! taken as done (its sync messages go out, and after a compaction snapshot
//! the older chunks are deleted). So a failed operation never resolves: it is
//! retried, with back-off, until it succeeds (the disk has room again, the
//! file is writable again). Meanwhile [`StoreHealth`] says why writes fail,
//! so the server can report unhealthy and refuse new writes, and nothing
//! that was not stored is ever acknowledged or deleted.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use samod::storage::{Storage, StorageKey};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the document store could not be opened: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// How hard a commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: survives power loss; the server's setting.
    Full,
    /// `synchronous=NORMAL` in WAL: survives a killed process but may lose
    /// the last commits on power loss; for benchmarks that compare the two.
    Normal,
    /// The browser: sqlite-wasm-vfs's IndexedDB VFS keeps the database in
    /// memory and writes each commit's pages to IndexedDB in one IndexedDB
    /// transaction a moment later. It accepts only `synchronous=off` and has
    /// no shared memory for WAL, so the journal stays in memory.
    Browser,
}

/// Opens a SQLite file the way every Fieldvisit database is opened: WAL,
/// the given durability, and a busy timeout so that a second process (the
/// admin command line) waits rather than fails.
pub fn open_connection(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let (journal, synchronous) = match durability {
        Durability::Full => ("WAL", "FULL"),
        Durability::Normal => ("WAL", "NORMAL"),
        Durability::Browser => ("MEMORY", "OFF"),
    };
    conn.pragma_update(None, "journal_mode", journal)?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(conn)
}

/// Applies numbered migrations that have not been applied yet, each in its
/// own transaction with its record in `schema_migrations`.
pub fn apply_migrations(conn: &mut Connection, migrations: &[(u32, &str)]) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        )",
    )?;
    for (version, sql) in migrations {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let applied: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM schema_migrations WHERE version = ?1)",
            [version],
            |r| r.get(0),
        )?;
        if !applied {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES (?1)",
                [version],
            )?;
            tracing::info!(version, "applied database migration");
        }
        tx.commit()?;
    }
    Ok(())
}

/// Whether the store's operations are failing now, and why: read by the
/// server's `/health` and by its inbound gate (which refuses new writes
/// while the store cannot take them).
#[derive(Clone, Default)]
pub struct StoreHealth(Arc<Mutex<Option<StoreFailure>>>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure {
    /// `put`, `delete`, `load` or `load_range`.
    pub operation: &'static str,
    pub error: String,
    /// Failed attempts in a row.
    pub attempts: u64,
}

impl std::fmt::Debug for StoreHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StoreHealth").field(&self.failing()).finish()
    }
}

impl StoreHealth {
    /// The current failure, if operations are failing.
    pub fn failing(&self) -> Option<StoreFailure> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn failed(&self, operation: &'static str, error: &str) -> u64 {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let attempts = state.as_ref().map_or(0, |f| f.attempts) + 1;
        *state = Some(StoreFailure {
            operation,
            error: error.to_owned(),
            attempts,
        });
        attempts
    }

    fn succeeded(&self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(failure) = state.take() {
            tracing::warn!(
                after_failed_attempts = failure.attempts,
                "the document store works again"
            );
        }
    }
}

/// The wait before retrying a failed operation: from 50 ms, doubling, to 5 s.
pub fn retry_delay(attempt: u64) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(5))
}

/// Seals what the store writes and opens what it reads: the phone's
/// encryption at rest (its vault's data key). The server stores plain, and
/// so does a store opened without one. `key` is the storage key: sealed
/// with the value, so a value moved to another key no longer opens.
pub trait ValueCipher: Send + Sync + 'static {
    fn seal(&self, key: &str, plain: &[u8]) -> Vec<u8>;
    fn open(&self, key: &str, sealed: &[u8]) -> Result<Vec<u8>, String>;
}

#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
    health: StoreHealth,
    cipher: Option<Arc<dyn ValueCipher>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage").finish_non_exhaustive()
    }
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS samod_storage (
    key TEXT PRIMARY KEY NOT NULL,
    data BLOB NOT NULL
) WITHOUT ROWID;";

impl SqliteStorage {
    /// Opens (creating if needed) the store in the SQLite file at `path`.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let conn = open_connection(path, durability)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self::over(conn))
    }

    /// A private in-memory store, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self::over(conn))
    }

    fn over(conn: Connection) -> Self {
        SqliteStorage {
            conn: Arc::new(Mutex::new(conn)),
            health: StoreHealth::default(),
            cipher: None,
        }
    }

    /// Every value written from now on is sealed with `cipher`, and every
    /// value read must open with it.
    pub fn with_cipher(mut self, cipher: Arc<dyn ValueCipher>) -> Self {
        self.cipher = Some(cipher);
        self
    }

    fn sealed(&self, key: &str, data: Vec<u8>) -> Vec<u8> {
        match &self.cipher {
            Some(c) => c.seal(key, &data),
            None => data,
        }
    }

    /// A value as read. One that does not open (damaged, or sealed under
    /// another key) is not handed to samod as if it were absent without a
    /// word: it is reported as a failing store and logged, and it stays on
    /// disk untouched.
    fn opened(&self, key: &str, data: Vec<u8>) -> Option<Vec<u8>> {
        let Some(c) = &self.cipher else {
            return Some(data);
        };
        match c.open(key, &data) {
            Ok(plain) => Some(plain),
            Err(error) => {
                self.health.failed("open", &error);
                tracing::error!(%error, key, "a stored value does not open; it is left as it is");
                None
            }
        }
    }

    pub fn health(&self) -> StoreHealth {
        self.health.clone()
    }

    /// Runs `f` until it succeeds (natively; see the module's comment). In
    /// the browser there is no thread to wait on: one attempt, and a failure
    /// is logged and recorded (the page's store is in memory, written to
    /// IndexedDB later, so a SQLite-level failure there is exceptional).
    fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl Fn(&Connection) -> rusqlite::Result<T> + Send + Sync + 'static,
    ) -> impl Future<Output = Option<T>> + Send + 'static {
        let conn = self.conn.clone();
        let health = self.health.clone();
        let f = Arc::new(f);
        let attempt = move || {
            let (conn, f) = (conn.clone(), f.clone());
            move || {
                let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                f(&conn).map_err(|e| e.to_string())
            }
        };
        async move {
            #[cfg(target_arch = "wasm32")]
            {
                let result = attempt()();
                match result {
                    Ok(value) => {
                        health.succeeded();
                        Some(value)
                    }
                    Err(error) => {
                        health.failed(what, &error);
                        tracing::error!(%error, operation = what, "document store operation failed");
                        None
                    }
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            {
                let mut failures = 0;
                loop {
                    let result = match tokio::task::spawn_blocking(attempt()).await {
                        Ok(r) => r,
                        Err(e) => Err(e.to_string()),
                    };
                    match result {
                        Ok(value) => {
                            if failures > 0 {
                                health.succeeded();
                            }
                            return Some(value);
                        }
                        Err(error) => {
                            failures = health.failed(what, &error);
                            // Once at the start of a run of failures, then now and then.
                            if failures == 1 || failures % 100 == 0 {
                                tracing::error!(
                                    %error,
                                    operation = what,
                                    attempt = failures,
                                    "document store operation failed; it is retried until it succeeds, and nothing it holds is acknowledged meanwhile"
                                );
                            }
                            tokio::time::sleep(retry_delay(failures)).await;
                        }
                    }
                }
            }
        }
    }

    /// Number of stored chunks (a cheap health figure for benchmarks).
    pub fn chunk_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let n: i64 = conn.query_row("SELECT count(*) FROM samod_storage", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

fn encode(key: &StorageKey) -> String {
    // StorageKey guarantees no component contains '/'.
    key.to_string()
}

fn decode(key: &str) -> Option<StorageKey> {
    StorageKey::from_parts(key.split('/')).ok()
}

impl Storage for SqliteStorage {
    fn load(&self, key: StorageKey) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let k = encode(&key);
        let kq = k.clone();
        let fut = self.run("load", move |c| {
            c.query_row(
                "SELECT data FROM samod_storage WHERE key = ?1",
                [&kq],
                |r| r.get(0),
            )
            .optional()
        });
        let this = self.clone();
        async move { fut.await.flatten().and_then(|v| this.opened(&k, v)) }
    }

    fn load_range(
        &self,
        prefix: StorageKey,
    ) -> impl Future<Output = HashMap<StorageKey, Vec<u8>>> + Send {
        let p = encode(&prefix);
        let fut = self.run("load_range", move |c| {
            // Keys under `p/` sort between `p/` and `p0` ('0' follows '/').
            let mut stmt = c.prepare_cached(
                "SELECT key, data FROM samod_storage
                 WHERE key = ?1 OR (key >= ?1 || '/' AND key < ?1 || '0')",
            )?;
            let rows = stmt.query_map([&p], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            rows.collect::<rusqlite::Result<Vec<(String, Vec<u8>)>>>()
        });
        let this = self.clone();
        async move {
            fut.await
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| {
                    let v = this.opened(&k, v)?;
                    decode(&k).map(|k| (k, v))
                })
                .collect()
        }
    }

    fn put(&self, key: StorageKey, data: Vec<u8>) -> impl Future<Output = ()> + Send {
        let k = encode(&key);
        let data = self.sealed(&k, data);
        let fut = self.run("put", move |c| {
            c.prepare_cached(
                "INSERT INTO samod_storage (key, data) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET data = excluded.data",
            )?
            .execute(params![k, &data])
        });
        async move {
            fut.await;
        }
    }

    fn delete(&self, key: StorageKey) -> impl Future<Output = ()> + Send {
        let k = encode(&key);
        let fut = self.run("delete", move |c| {
            c.prepare_cached("DELETE FROM samod_storage WHERE key = ?1")?
                .execute([&k])
        });
        async move {
            fut.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[&str]) -> StorageKey {
        StorageKey::from_parts(parts.iter().copied()).unwrap()
    }

    #[tokio::test]
    async fn put_load_range_delete_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        {
            let s = SqliteStorage::open(&path, Durability::Full).unwrap();
            s.put(key(&["doc1", "incremental", "a"]), vec![1]).await;
            s.put(key(&["doc1", "snapshot", "b"]), vec![2]).await;
            s.put(key(&["doc10", "incremental", "c"]), vec![3]).await;
            s.put(key(&["doc1", "incremental", "a"]), vec![4]).await;
        }
        let s = SqliteStorage::open(&path, Durability::Full).unwrap();
        assert_eq!(
            s.load(key(&["doc1", "incremental", "a"])).await,
            Some(vec![4])
        );
        let range = s.load_range(key(&["doc1"])).await;
        assert_eq!(range.len(), 2, "doc10 is not under doc1: {range:?}");
        s.delete(key(&["doc1", "snapshot", "b"])).await;
        assert_eq!(s.load(key(&["doc1", "snapshot", "b"])).await, None);
        assert_eq!(s.chunk_count().unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failed_write_never_resolves_until_it_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let s = SqliteStorage::open(&path, Durability::Full).unwrap();
        s.put(key(&["doc1", "incremental", "a"]), vec![1]).await;
        // The file refuses writes, as a full disk or a read-only mount would.
        let set_read_only = |on: bool| {
            let conn = s.conn.lock().unwrap();
            conn.pragma_update(None, "query_only", on).unwrap();
        };
        set_read_only(true);
        let put = tokio::spawn({
            let s = s.clone();
            async move { s.put(key(&["doc1", "snapshot", "b"]), vec![2]).await }
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!put.is_finished(), "a write that failed must not resolve");
        let failure = s.health().failing().expect("the failure is reported");
        assert_eq!(failure.operation, "put");
        assert!(failure.attempts >= 2, "{failure:?}");
        // Reads still work meanwhile.
        assert_eq!(
            s.load(key(&["doc1", "incremental", "a"])).await,
            Some(vec![1])
        );
        set_read_only(false);
        put.await.unwrap();
        assert_eq!(s.health().failing(), None);
        assert_eq!(s.load(key(&["doc1", "snapshot", "b"])).await, Some(vec![2]));
    }

    /// A stand-in for the phone's vault, enough to tell sealed from plain:
    /// it binds the value to its key and scrambles it.
    struct TestCipher;

    impl ValueCipher for TestCipher {
        fn seal(&self, key: &str, plain: &[u8]) -> Vec<u8> {
            let mut out = key.as_bytes().to_vec();
            out.push(0);
            out.extend(plain.iter().map(|b| b ^ 0xA5));
            out
        }
        fn open(&self, key: &str, sealed: &[u8]) -> Result<Vec<u8>, String> {
            let body = sealed
                .strip_prefix(key.as_bytes())
                .and_then(|rest| rest.strip_prefix(&[0]))
                .ok_or("sealed under another key")?;
            Ok(body.iter().map(|b| b ^ 0xA5).collect())
        }
    }

    #[tokio::test]
    async fn with_a_cipher_nothing_plain_reaches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        let words = b"She said the garden was hers.".to_vec();
        {
            let s = SqliteStorage::open(&path, Durability::Full)
                .unwrap()
                .with_cipher(Arc::new(TestCipher));
            s.put(key(&["doc1", "incremental", "a"]), words.clone())
                .await;
            s.put(key(&["doc1", "snapshot", "b"]), words.clone()).await;
            assert_eq!(
                s.load(key(&["doc1", "incremental", "a"])).await,
                Some(words.clone())
            );
            assert_eq!(s.load_range(key(&["doc1"])).await.len(), 2);
        }
        // On disk (the file and its WAL), only sealed bytes.
        for file in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            assert!(!bytes.windows(words.len()).any(|w| w == words.as_slice()));
        }
        // A value moved to another key does not open: reported, not
        // passed off as absent in silence, and left on disk.
        let s = SqliteStorage::open(&path, Durability::Full)
            .unwrap()
            .with_cipher(Arc::new(TestCipher));
        {
            let conn = s.conn.lock().unwrap();
            conn.execute(
                "UPDATE samod_storage SET key = 'doc1/incremental/z' WHERE key = 'doc1/incremental/a'",
                [],
            )
            .unwrap();
        }
        assert_eq!(s.load(key(&["doc1", "incremental", "z"])).await, None);
        assert_eq!(s.load_range(key(&["doc1"])).await.len(), 1);
        assert_eq!(s.health().failing().map(|f| f.operation), Some("open"));
        assert_eq!(s.chunk_count().unwrap(), 2);
    }

    #[test]
    fn retries_back_off_to_five_seconds() {
        assert_eq!(retry_delay(1), Duration::from_millis(100));
        assert_eq!(retry_delay(3), Duration::from_millis(400));
        assert_eq!(retry_delay(1_000), Duration::from_secs(5));
    }
}
