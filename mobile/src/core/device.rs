use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldvisit_shared::api::{PersonSummary, RefusalNotice};
use fieldvisit_shared::provenance;
use fieldvisit_sqlite_store::SqliteStorage;
use samod::{BackoffConfig, DialerHandle, DocHandle, DocumentId, PeerId};

use super::CoreError;
use super::api_client::ApiClient;
use super::dialer::{DialFailed, SyncDialer, share_policy};
use super::keystore;
use super::local::{Enrolment, Local};
use super::outbox::OutboxDriver;
use super::platform;
use super::store_files::{delete_everything, delete_store, paths, prepare_store};
use super::vault::{DataKey, KdfParams, VaultError, WrappedKey};

/// The device core: one per enrolled device and data directory.
pub struct DeviceCore {
    pub(super) local: Local,
    /// The automerge actor this device writes every change as (bound to it
    /// at enrolment; the server refuses changes under any other).
    pub(super) actor: automerge::ActorId,
    pub(super) enrolment: Enrolment,
    pub(super) api: ApiClient,
    pub(super) repo: samod::Repo,
    pub(super) handles: Mutex<HashMap<String, DocHandle>>,
    pub(super) dialer: Mutex<Option<DialerHandle<DialFailed>>>,
    /// How records made here join their case (see `outbox.rs`).
    pub(super) outbox: Arc<OutboxDriver>,
    pub(super) was_synced: AtomicBool,
    /// A run of `send_photos` is under way.
    pub(super) sending_photos: AtomicBool,
    /// Where the store lives (a folder natively; names in IndexedDB).
    pub(super) dir: PathBuf,
    /// The unsent count last told to the server (`u64::MAX`: none yet).
    pub(super) reported_unsynced: Arc<AtomicU64>,
}

impl std::fmt::Debug for DeviceCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCore")
            .field("enrolment", &self.enrolment)
            .finish_non_exhaustive()
    }
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Ids of actions and observations inside a visit: random, so two devices
/// adding offline never collide.
pub(super) fn new_item_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

pub(super) fn parse_doc_id(id: &str) -> Result<DocumentId, CoreError> {
    id.parse()
        .map_err(|_| CoreError::UnknownDocument(id.to_owned()))
}

/// Wrong PINs in a row that delete everything the device stores.
pub const WRONG_PINS_BEFORE_WIPE: u32 = 5;

impl DeviceCore {
    /// Enrols this device with a one-time code and opens its store, every
    /// value of which is sealed under a new data key that only `pin`
    /// unlocks. A PIN too easy to guess is refused before the code is spent.
    pub async fn enrol(
        dir: &Path,
        server_url: &str,
        code: &str,
        label: &str,
        pin: &str,
    ) -> Result<Self, CoreError> {
        let key = DataKey::generate();
        let wrapped = key.wrap_with_pin(pin, KdfParams::PHONE)?;
        prepare_store(dir).await?;
        // A new enrolment starts from nothing: whatever a wipe cut short
        // (or an older enrolment) left here is not carried over.
        delete_store(dir).await?;
        let stored = keystore::seal_new(&wrapped.to_bytes()).await?;
        let key = Arc::new(key);
        let local = Local::open(&paths(dir).0)?;
        let response = ApiClient::new(server_url, None)?.enrol(code, label).await?;
        local.save_wrapped_key(&stored)?;
        let local = local.with_key(key.clone());
        local.save_enrolment(server_url, &response)?;
        // The key and the enrolment are on disk before anything is typed.
        platform::store_durable().await;
        let enrolment = local.enrolment()?.ok_or(CoreError::NotEnrolled)?;
        Self::start(dir, local, enrolment, key).await
    }

    /// Whether this device is enrolled here: its store waits for the PIN.
    pub async fn enrolled(dir: &Path) -> Result<bool, CoreError> {
        #[cfg(not(target_arch = "wasm32"))]
        if !paths(dir).0.exists() {
            return Ok(false);
        }
        prepare_store(dir).await?;
        Ok(Local::open(&paths(dir).0)?.wrapped_key()?.is_some())
    }

    /// Opens an enrolled device's store with the worker's PIN; `None` when
    /// it was never enrolled. A wrong PIN is [`CoreError::WrongPin`].
    pub async fn open(dir: &Path, pin: &str) -> Result<Option<Self>, CoreError> {
        #[cfg(not(target_arch = "wasm32"))]
        if !paths(dir).0.exists() {
            return Ok(None);
        }
        prepare_store(dir).await?;
        let local = Local::open(&paths(dir).0)?;
        let Some(stored) = local.wrapped_key()? else {
            return Ok(None);
        };
        // The platform's key first: without it no PIN is tried (or counted).
        let wrapped = WrappedKey::from_bytes(&keystore::open(&stored).await?)?;
        let key = Arc::new(unwrap_counted(dir, &local, &wrapped, pin).await?);
        let local = local.with_key(key.clone());
        match local.enrolment()? {
            Some(enrolment) => Ok(Some(Self::start(dir, local, enrolment, key).await?)),
            None => Ok(None),
        }
    }

    /// Asks for the PIN again before something a thief holding the
    /// unlocked phone must not do (revoking the worker's other devices):
    /// a wrong one counts towards the wipe exactly as at unlock, so the
    /// question cannot be used to guess the PIN either.
    pub async fn confirm_pin(&self, pin: &str) -> Result<(), CoreError> {
        let stored = self.local.wrapped_key()?.ok_or(CoreError::NotEnrolled)?;
        let wrapped = WrappedKey::from_bytes(&keystore::open(&stored).await?)?;
        match unwrap_counted(&self.dir, &self.local, &wrapped, pin).await {
            Err(CoreError::WipedAfterWrongPins) => {
                // The store's files are gone beneath the running core.
                self.go_offline();
                self.repo.stop().await;
                Err(CoreError::WipedAfterWrongPins)
            }
            other => other.map(drop),
        }
    }

    /// Deletes a store that can no longer be opened with any PIN (the
    /// platform's key that locked it is gone), so the device starts again
    /// at sign-in, also after a reload.
    pub async fn discard(dir: &Path) -> Result<(), CoreError> {
        prepare_store(dir).await?;
        let local = Local::open(&paths(dir).0)?;
        delete_everything(dir, &local).await
    }

    async fn start(
        dir: &Path,
        local: Local,
        enrolment: Enrolment,
        key: Arc<DataKey>,
    ) -> Result<Self, CoreError> {
        let storage = SqliteStorage::open(&paths(dir).1, platform::DURABILITY)
            .map_err(|e| CoreError::Files(e.to_string()))?
            .with_cipher(key.clone());
        platform::journal::unlock(key);
        let (share_changed, _) = tokio::sync::watch::channel(0);
        let holding = Arc::new(AtomicBool::new(false));
        #[cfg(not(target_arch = "wasm32"))]
        let builder = samod::Repo::build_tokio();
        #[cfg(target_arch = "wasm32")]
        let builder = samod::Repo::builder(super::browser::BrowserRuntime);
        let repo = builder
            .with_storage(storage)
            .with_peer_id(PeerId::from(enrolment.peer_id.clone()))
            .with_share_policy(share_policy(
                local.clone(),
                share_changed.clone(),
                holding.clone(),
            ))
            .load()
            .await;
        let api = ApiClient::new(&enrolment.server_url, Some(enrolment.token.clone()))?;
        let outbox = Arc::new(OutboxDriver::restore(
            api.clone(),
            local.clone(),
            share_changed.clone(),
            holding,
        )?);
        let core = DeviceCore {
            local,
            actor: provenance::device_actor(&enrolment.device_id),
            enrolment,
            api,
            repo,
            handles: Mutex::new(HashMap::new()),
            dialer: Mutex::new(None),
            outbox,
            was_synced: AtomicBool::new(false),
            sending_photos: AtomicBool::new(false),
            dir: dir.to_owned(),
            reported_unsynced: Arc::new(AtomicU64::new(u64::MAX)),
        };
        // Load every local document so samod syncs all of them on connect.
        for doc in core.local.documents()? {
            if let Err(e) = core.handle(&doc).await {
                tracing::warn!(%doc, error = %e, "local document could not be loaded");
            }
        }
        core.replay_drafts().await;
        core.resume_raised_concerns().await;
        Ok(core)
    }

    pub fn person(&self) -> &PersonSummary {
        &self.enrolment.person
    }

    /// The name to show for a person id a record holds: this device's own
    /// person, or a colleague as of the last refresh; the id when unknown.
    pub fn name_of(&self, person_id: &str) -> String {
        if person_id == self.enrolment.person.id {
            return self.enrolment.person.name.clone();
        }
        self.local
            .person_name(person_id)
            .ok()
            .flatten()
            .unwrap_or_else(|| person_id.to_owned())
    }

    pub fn device_id(&self) -> &str {
        &self.enrolment.device_id
    }

    /// Starts syncing whenever the server can be reached (samod reconnects
    /// with back-off). Never waits for the connection: work stays offline-first.
    pub fn go_online(&self) -> Result<(), CoreError> {
        let mut dialer = self.dialer.lock().unwrap_or_else(|p| p.into_inner());
        if dialer.is_none() {
            let backoff = BackoffConfig {
                initial_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(10),
                max_retries: None,
            };
            let d = SyncDialer {
                api: self.api.clone(),
                outbox: self.outbox.clone(),
            };
            *dialer = Some(
                self.repo
                    .dial(backoff, Arc::new(d))
                    .map_err(|_| CoreError::Stopped)?,
            );
        }
        Ok(())
    }

    /// Stops syncing (the phone is offline, or the user paused sync).
    pub fn go_offline(&self) {
        self.outbox.offline();
        if let Some(d) = self.dialer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            d.close();
        }
    }

    /// Waits (bounded) for the sync connection, so documents that are not
    /// yet local are asked of the server rather than given up on.
    pub(super) async fn wait_for_connection(&self, timeout: Duration) {
        let established = self
            .dialer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|d| d.established());
        if let Some(established) = established {
            let _ = platform::timeout(timeout, established).await;
        }
    }

    pub(super) async fn handle(&self, document_id: &str) -> Result<DocHandle, CoreError> {
        if let Some(h) = self
            .handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(document_id)
        {
            return Ok(h.clone());
        }
        let handle = self
            .repo
            .find(parse_doc_id(document_id)?)
            .await
            .map_err(|_| CoreError::Stopped)?
            .ok_or_else(|| CoreError::UnknownDocument(document_id.to_owned()))?;
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(document_id.to_owned(), handle.clone());
        self.hear_refusals(&handle);
        Ok(handle)
    }

    /// The server says, in an ephemeral message on the document, when it
    /// refused this device's changes to it; the outbox keeps the reason.
    pub(super) fn hear_refusals(&self, handle: &DocHandle) {
        use futures::StreamExt;
        let outbox = self.outbox.clone();
        let document_id = handle.document_id().to_string();
        let mut notices = Box::pin(handle.ephemera());
        platform::spawn(async move {
            while let Some(bytes) = notices.next().await {
                // Other ephemeral messages (none today) are not refusals.
                let Ok(notice) = serde_json::from_slice::<RefusalNotice>(&bytes) else {
                    continue;
                };
                let reason = notice.refused.message;
                tracing::warn!(%document_id, %reason, code = %notice.refused.code, "the server refused changes");
                if let Err(e) = outbox.changes_refused(&document_id, &reason).await {
                    tracing::warn!(error = %e, "could not keep a refusal");
                }
            }
        });
    }

    /// What the server refused about a record, to show on it.
    pub fn warning(&self, document_id: &str) -> Result<Option<String>, CoreError> {
        self.local.warning(document_id)
    }

    /// Looks a document up by id, locally and then from the server: `None`
    /// when no one will share it with this device.
    pub async fn try_fetch(
        &self,
        document_id: &str,
    ) -> Result<Option<automerge::Automerge>, CoreError> {
        let id = parse_doc_id(document_id)?;
        let found = self.repo.find(id).await.map_err(|_| CoreError::Stopped)?;
        Ok(found.map(|h| h.with_document(|d| d.clone())))
    }

    /// The raw automerge document, for tests that compare devices byte by byte.
    pub async fn document_heads(
        &self,
        document_id: &str,
    ) -> Result<Vec<automerge::ChangeHash>, CoreError> {
        let handle = self.handle(document_id).await?;
        Ok(handle.with_document(|doc| doc.get_heads()))
    }

    /// Flushes the store and stops sync.
    pub async fn close(self) {
        self.go_offline();
        self.repo.stop().await;
    }
}

/// The data key under `pin`; a wrong PIN is counted on disk (closing the
/// app does not reset it) and the fifth in a row deletes everything.
async fn unwrap_counted(
    dir: &Path,
    local: &Local,
    wrapped: &WrappedKey,
    pin: &str,
) -> Result<DataKey, CoreError> {
    match wrapped.unwrap_with_pin(pin) {
        Ok(key) => {
            local.right_pin()?;
            Ok(key)
        }
        Err(VaultError::WrongPin) => {
            let wrong = local.wrong_pin()?;
            platform::store_durable().await;
            if wrong >= WRONG_PINS_BEFORE_WIPE {
                delete_everything(dir, local).await?;
                return Err(CoreError::WipedAfterWrongPins);
            }
            Err(CoreError::WrongPin {
                left: WRONG_PINS_BEFORE_WIPE - wrong,
                unsent: local.unsent_as_last_counted()?,
            })
        }
        Err(e) => Err(e.into()),
    }
}
