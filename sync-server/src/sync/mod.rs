//! The sync engine: samod over the SQLite store, with authentication bound
//! at the WebSocket upgrade and authorisation in the share policy.
//!
//! ## How a visit created offline joins its case
//!
//! A phone creates a visit document with no signal, so the server cannot be
//! asked first. The phone records the new document id in the case document
//! (so the visit lists offline) and queues a registration. Before every sync
//! connection the phone sends its queued registrations
//! (`POST /api/documents`), then buys a ticket and connects. The
//! server registers the document to the case only if the device's person may
//! see that case and the device created the id: the phone makes a new id
//! from a fresh nonce and a key only it and the server hold, and sends the
//! nonce with the registration (`fieldvisit_shared::provenance`). A colleague
//! who has read the id in the case document cannot claim it first; the
//! refusal is audited and reads exactly like the answer for an id that exists
//! nowhere. Only registered documents are ever shared
//! (`documents` table, consulted by the share policy), so a device cannot
//! smuggle a document into a case, nor reach one by guessing its id: samod
//! answers "unavailable", exactly as for a document that does not exist.
//!
//! The registry is the authority; the case document's list of visits is for
//! display and is never trusted for access.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldvisit_sqlite_store::{SqliteStorage, StoreHealth};
use samod::{DocumentId, PeerId, ShareConfig};
use tokio::sync::{broadcast, watch};

use crate::access::{self, Decision};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::health::{self, Panics};

mod connection;
pub mod gate;
mod held;
mod index;
mod judge;
pub mod payload;
mod receipts;
mod revocation;
mod tickets;
pub mod wire;

pub use fieldvisit_shared::api::SERVER_PEER_ID;

/// Close code for a connection ended because its device was revoked.
pub const CLOSE_REVOKED: u16 = 4001;

/// The samod peer id a device must present (its device id, which starts
/// with `device-`); the server binds it at upgrade.
pub fn peer_id_for(device_id: &str) -> String {
    device_id.to_owned()
}

fn device_of(peer: &PeerId) -> Option<&str> {
    Some(peer.as_str()).filter(|p| p.starts_with("device-"))
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_bytes: usize,
    /// What a sync payload may hold (see [`payload`]).
    pub payload: payload::Limits,
    /// Open sync connections one device may hold at once.
    pub max_connections_per_device: usize,
    /// Documents nothing has touched for this long are unloaded from memory
    /// (about 35 KiB each); they load again from storage when next needed.
    pub unload_idle_after: Duration,
    /// FOR TESTS ONLY (`--test-panic-on-document`): the document actor of
    /// this document panics whenever it handles a sync message, to show that
    /// a panic in one document leaves the others syncing.
    pub test_panic_on_document: Option<DocumentId>,
    /// Benchmarks only (`--insecure-no-auth-for-benchmarks`): `/sync`
    /// takes connections without a ticket and shares every document with
    /// everyone, so the reference JavaScript server's clients' workload can
    /// run unchanged. Inbound messages are still checked for size and shape.
    pub insecure_open_access: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            payload: payload::Limits::default(),
            max_connections_per_device: 4,
            unload_idle_after: Duration::from_secs(600),
            insecure_open_access: false,
            test_panic_on_document: None,
        }
    }
}

pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// Sync tickets one device may hold unredeemed.
/// How long the engine has to answer the health probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct SyncEngine {
    pub repo: samod::Repo,
    acceptor: samod::AcceptorHandle,
    db: Db,
    tickets: Mutex<HashMap<String, (String, Instant)>>,
    /// Tickets each device bought lately (`tickets::ticket_rate`).
    ticket_rate: crate::throttle::Throttle<String>,
    /// Each device's refused messages, across its connections
    /// (`tickets::refusal_rate`), and the devices cooled down until when.
    refusals: crate::throttle::Throttle<String>,
    cooling: Mutex<HashMap<String, Instant>>,
    /// One judgement at a time per device, across its connections: four
    /// connections of one device do not judge four messages at once.
    judging_now: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    revoked: broadcast::Sender<String>,
    known_revoked: Mutex<HashSet<String>>,
    /// Changes whenever who may see what may have changed; connections
    /// forget what they learnt about access in an older generation.
    access_generation: watch::Sender<u64>,
    /// Open sync connections per device.
    open_connections: Mutex<HashMap<String, usize>>,
    store: StoreHealth,
    /// The document store samod writes, read directly when a document the
    /// rules need is not in memory (see `judge.rs`).
    storage: SqliteStorage,
    panics: Arc<Panics>,
    culprits: Culprits,
    /// A document of the engine's own, found and read by the health probe:
    /// it answers only while the hub and the document actors run.
    canary: samod::DocHandle,
    /// When each change first arrived (see `receipts.rs`).
    receipts: receipts::Receipts,
    pub limits: Limits,
    /// Safeguarding alerts, live.
    pub alerts: Arc<crate::alerts::Alerts>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine").finish_non_exhaustive()
    }
}

/// Share documents only with devices whose person may see their case, and
/// follow changes: samod keeps one stream per (document, peer) it syncs, so
/// each stream answers now and again whenever the access generation moves
/// (an assignment, a supervisor, a revocation). samod ignores an unchanged
/// answer and applies a changed one to the open connections at once.
fn share_policy(db: Db, generation: watch::Receiver<u64>) -> impl samod::SharePolicy {
    move |doc_id: DocumentId, peer: PeerId| {
        let db = db.clone();
        let mut generation = generation.clone();
        generation.borrow_and_update();
        futures::stream::unfold((true, generation), move |(first, mut generation)| {
            let (db, doc_id, peer) = (db.clone(), doc_id.clone(), peer.clone());
            async move {
                if !first && generation.changed().await.is_err() {
                    return None;
                }
                let config = decide_share(&db, &doc_id, &peer).await;
                tracing::debug!(%doc_id, %peer, ?config, "share decision");
                Some((config, (false, generation)))
            }
        })
    }
}

async fn decide_share(db: &Db, doc_id: &DocumentId, peer: &PeerId) -> ShareConfig {
    let Some(device_id) = device_of(peer) else {
        return ShareConfig::none();
    };
    match visibility(db, device_id, &doc_id.to_string()).await {
        Ok(()) => ShareConfig::read_write(),
        Err(_) => ShareConfig::none(),
    }
}

/// Whether a device may see a document (`Ok`), or why not: the one access
/// decision, asked by the share policy and by the inbound gate.
async fn visibility(db: &Db, device_id: &str, doc: &str) -> Result<(), &'static str> {
    let (device_id, doc) = (device_id.to_owned(), doc.to_owned());
    match db.run(move |db| db.access_facts(&device_id, &doc)).await {
        Ok(Some(facts)) => match access::decide(&facts) {
            Decision::Allow { .. } => Ok(()),
            Decision::Deny(reason) => Err(reason.as_str()),
        },
        Ok(None) => Err("unknown_device"),
        Err(e) => {
            tracing::error!(error = %e, "access check failed; denying");
            Err("access_check_failed")
        }
    }
}

/// Open connections by samod's id, each with a way to close it when a
/// document panicked on its message.
/// A oneshot, not a channel: the first panic closes the connection, and a
/// oneshot costs an idle connection a few bytes where a channel cost 800.
type Culprits = Arc<Mutex<HashMap<samod::ConnectionId, tokio::sync::oneshot::Sender<String>>>>;

/// Hears of the panics samod contained (and, in tests, injects one).
struct Observer {
    panics: Arc<Panics>,
    panic_on: Option<DocumentId>,
    culprits: Culprits,
}

impl samod::RepoObserver for Observer {
    fn observe(&self, event: &samod::RepoEvent) {
        match event {
            samod::RepoEvent::DocumentPanicked {
                document_id,
                connection_id,
                message,
            } => {
                self.panics
                    .record(Some(document_id.to_string()), message.clone());
                // The message that caused it came from a peer: close that
                // connection, so one peer cannot keep a document reloading.
                let culprit = connection_id.and_then(|c| {
                    self.culprits
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&c)
                });
                if let Some(close) = culprit {
                    let _ = close.send(document_id.to_string());
                }
            }
            samod::RepoEvent::HubPanicked { message } => self.panics.record(None, message.clone()),
            samod::RepoEvent::SyncMessageReceived { document_id, .. }
                if self.panic_on.as_ref() == Some(document_id) =>
            {
                panic!("test hook: a panic injected while handling {document_id}")
            }
            _ => {}
        }
    }
}

/// Opens the samod repo over `storage`, for the admin CLI (no peers).
pub async fn open_repo(storage: SqliteStorage, db: Db) -> samod::Repo {
    let (_, generation) = watch::channel(0);
    open_observed_repo(storage, db, generation, None).await
}

async fn open_observed_repo(
    storage: SqliteStorage,
    db: Db,
    generation: watch::Receiver<u64>,
    observer: Option<Observer>,
) -> samod::Repo {
    let builder = samod::Repo::build_tokio()
        .with_storage(storage)
        .with_peer_id(PeerId::from(SERVER_PEER_ID))
        .with_share_policy(share_policy(db, generation));
    match observer {
        Some(o) => builder.with_observer(o).load().await,
        None => builder.load().await,
    }
}

/// The repo of a benchmark run with authentication off: every peer may
/// read and write every document (see [`Limits::insecure_open_access`]).
/// Like the reference server it announces nothing: a peer gets the
/// documents it asks for, not every document every other peer writes.
async fn open_repo_for_benchmarks(storage: SqliteStorage, observer: Observer) -> samod::Repo {
    samod::Repo::build_tokio()
        .with_storage(storage)
        .with_peer_id(PeerId::from(SERVER_PEER_ID))
        .with_share_policy(ShareConfig {
            access: samod::ShareAccess::ReadWrite,
            announce: false,
        })
        .with_observer(observer)
        .load()
        .await
}

impl SyncEngine {
    pub async fn start(storage: SqliteStorage, db: Db, limits: Limits) -> Result<Arc<Self>> {
        let store = storage.health();
        let documents = storage.clone();
        let panics = Arc::new(Panics::default());
        let culprits = Culprits::default();
        let observer = Observer {
            panics: panics.clone(),
            panic_on: limits.test_panic_on_document.clone(),
            culprits: culprits.clone(),
        };
        let (access_generation, generation) = watch::channel(0);
        let repo = if limits.insecure_open_access {
            open_repo_for_benchmarks(storage, observer).await
        } else {
            open_observed_repo(storage, db.clone(), generation, Some(observer)).await
        };
        let canary = repo
            .create(automerge::Automerge::new())
            .await
            .map_err(|_| Error::Stopped)?;
        let url = samod::Url::parse("ws://fieldvisit/sync")
            .map_err(|e| Error::Internal(e.to_string()))?;
        let acceptor = repo.make_acceptor(url).map_err(|_| Error::Stopped)?;
        let known: HashSet<String> = db.revoked_device_ids()?.into_iter().collect();
        let (revoked, _) = broadcast::channel(64);
        let (changed, to_index) = tokio::sync::mpsc::unbounded_channel();
        let receipts = receipts::Receipts::start(db.clone(), changed);
        let engine = Arc::new(SyncEngine {
            repo,
            acceptor,
            db,
            tickets: Mutex::new(HashMap::new()),
            ticket_rate: tickets::ticket_rate(),
            refusals: tickets::refusal_rate(),
            cooling: Mutex::new(HashMap::new()),
            judging_now: Mutex::new(HashMap::new()),
            revoked,
            known_revoked: Mutex::new(known),
            access_generation,
            open_connections: Mutex::new(HashMap::new()),
            store,
            storage: documents,
            panics,
            culprits,
            canary,
            receipts,
            limits,
            alerts: Arc::new(crate::alerts::Alerts::default()),
        });
        // Read before serving: a change made from now on must be noticed.
        let stamp = engine.db.access_stamp()?;
        tokio::spawn(revocation::watch_access(Arc::downgrade(&engine), stamp));
        tokio::spawn(unload_idle(Arc::downgrade(&engine)));
        tokio::spawn(index::run(Arc::downgrade(&engine), to_index));
        Ok(engine)
    }

    /// Asks the devices that may see a newly registered document for it. A
    /// phone may have offered the document a moment before its registration
    /// was committed, and been answered "unavailable" (the gate answers so
    /// for any document no case has); its sync state then waits for a reply
    /// that never comes until it next changes the document. Asking for it
    /// starts the sync from this side instead.
    pub fn pull(&self, document_id: &str) {
        let Some(id) = wire::canonical_document_id(document_id) else {
            return;
        };
        let search = self.repo.find(id);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(30), search).await;
        });
    }

    /// Whether `device_id` may see `document_id` (the one access rule).
    pub async fn visible_to(&self, device_id: &str, document_id: &str) -> bool {
        visibility(&self.db, device_id, document_id).await.is_ok()
    }

    /// A document as the server holds it (empty when nothing of it has
    /// arrived); `None` for an id that is not a document id.
    pub async fn document(&self, document_id: &str) -> Option<automerge::Automerge> {
        let id = document_id.parse::<DocumentId>().ok()?;
        Some(self.stored_document(&id).await)
    }

    /// Whether the document store is failing to write now.
    fn store_failing(&self) -> bool {
        self.store.failing().is_some()
    }

    /// Everything `/health` reports. The probe finds and reads the canary
    /// document, which goes through the hub and a document actor: if either
    /// has stopped, it does not answer in time.
    pub async fn health(&self) -> health::Report {
        let probe = async {
            let handle = self
                .repo
                .find(self.canary.document_id().clone())
                .await
                .map_err(|_| "the repo has stopped".to_owned())?
                .ok_or_else(|| "its own document is missing".to_owned())?;
            handle
                .with_document_async(|d| d.get_heads().len())
                .await
                .map_err(|_| "the document actor has stopped".to_owned())
        };
        let engine = match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(why)) => Err(why),
            Err(_) => Err(format!("no answer in {} s", PROBE_TIMEOUT.as_secs())),
        };
        health::assess(&health::Facts {
            engine,
            store: self.store.failing(),
            practice_database: self.receipts.failing(),
            panics: self.panics.log(),
            documents_in_memory: self.repo.loaded_documents(),
        })
    }
}

/// Unloads idle documents now and then: samod keeps every document it ever
/// opened in memory otherwise, so memory grew with every document any device
/// ever synced.
async fn unload_idle(engine: std::sync::Weak<SyncEngine>) {
    loop {
        let Some(idle_for) = engine.upgrade().map(|e| e.limits.unload_idle_after) else {
            return;
        };
        let every = (idle_for / 2).clamp(Duration::from_millis(250), Duration::from_secs(30));
        tokio::time::sleep(every).await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let unloaded = engine.repo.unload_idle_documents(idle_for);
        if unloaded > 0 {
            tracing::debug!(unloaded, "idle documents unloaded from memory");
        }
    }
}
