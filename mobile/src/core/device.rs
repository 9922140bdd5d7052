use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::ReadDoc;
use fieldvisit_shared::api::{CaseSummary, PersonSummary, SERVER_PEER_ID};
use fieldvisit_shared::doc;
use fieldvisit_shared::outbox::{Event, Record};
use fieldvisit_shared::records::Kind;
use fieldvisit_shared::records::{
    self, Anchored, Annotation, CaseDoc, CaseEdit, ChangedSinceSignOff, Communication,
    CreativeMethod, PlaceKind, ReviewStatus, TextField, VisitDoc, VisitEdit, VisitIndexEntry,
    VisitText, Writer,
};
use fieldvisit_shared::{provenance, validate};
use fieldvisit_sqlite_store::SqliteStorage;
use samod::{BackoffConfig, ConnectionState, DialerHandle, DocHandle, DocumentId, PeerId};

use super::CoreError;
use super::api_client::ApiClient;
use super::dialer::{DialFailed, SyncDialer, share_policy};
use super::local::{Enrolment, Local};
use super::outbox::OutboxDriver;
use super::platform;

/// What the sync indicator shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub connected: bool,
    /// Changes made on this device that the server is not yet known to hold.
    pub pending_changes: usize,
    /// Visits created offline whose registration has not reached the server.
    pub registrations_waiting: usize,
    /// When everything on this device was last known to be on the server.
    pub last_synced_at: Option<String>,
}

/// A visit waiting on someone in its review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InReview {
    pub case_id: String,
    pub person_name: String,
    pub visit_id: String,
    pub started_at: String,
    pub author: String,
    /// When it reached this state.
    pub changed_at: String,
}

/// The device core: one per enrolled device and data directory.
pub struct DeviceCore {
    local: Local,
    /// The automerge actor this device writes every change as (bound to it
    /// at enrolment; the server refuses changes under any other).
    actor: automerge::ActorId,
    enrolment: Enrolment,
    api: ApiClient,
    repo: samod::Repo,
    handles: Mutex<HashMap<String, DocHandle>>,
    dialer: Mutex<Option<DialerHandle<DialFailed>>>,
    /// How records made here join their case (see `outbox.rs`).
    outbox: Arc<OutboxDriver>,
    was_synced: AtomicBool,
}

impl std::fmt::Debug for DeviceCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCore")
            .field("enrolment", &self.enrolment)
            .finish_non_exhaustive()
    }
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("device.sqlite"), dir.join("documents.sqlite"))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Ids of actions and observations inside a visit: random, so two devices
/// adding offline never collide.
fn new_item_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// Natively the store is a folder of SQLite files; in the browser the files
/// live in IndexedDB through SQLite's VFS, which must be registered first.
async fn prepare_store(dir: &Path) -> Result<(), CoreError> {
    #[cfg(not(target_arch = "wasm32"))]
    std::fs::create_dir_all(dir)
        .map_err(|e| CoreError::Protocol(format!("cannot create {}: {e}", dir.display())))?;
    #[cfg(target_arch = "wasm32")]
    {
        let _ = dir;
        super::browser::install_store().await?;
    }
    Ok(())
}

fn parse_doc_id(id: &str) -> Result<DocumentId, CoreError> {
    id.parse()
        .map_err(|_| CoreError::UnknownDocument(id.to_owned()))
}

impl DeviceCore {
    /// Enrols this device with a one-time code and opens its store.
    pub async fn enrol(
        dir: &Path,
        server_url: &str,
        code: &str,
        label: &str,
    ) -> Result<Self, CoreError> {
        prepare_store(dir).await?;
        let local = Local::open(&paths(dir).0)?;
        let response = ApiClient::new(server_url, None)?.enrol(code, label).await?;
        local.save_enrolment(server_url, &response)?;
        let enrolment = local.enrolment()?.ok_or(CoreError::NotEnrolled)?;
        Self::start(dir, local, enrolment).await
    }

    /// Opens an enrolled device's store; `None` when it was never enrolled.
    pub async fn open(dir: &Path) -> Result<Option<Self>, CoreError> {
        let (local_path, _) = paths(dir);
        #[cfg(not(target_arch = "wasm32"))]
        if !local_path.exists() {
            return Ok(None);
        }
        prepare_store(dir).await?;
        let local = Local::open(&local_path)?;
        match local.enrolment()? {
            Some(enrolment) => Ok(Some(Self::start(dir, local, enrolment).await?)),
            None => Ok(None),
        }
    }

    async fn start(dir: &Path, local: Local, enrolment: Enrolment) -> Result<Self, CoreError> {
        let storage = SqliteStorage::open(&paths(dir).1, platform::DURABILITY)
            .map_err(|e| CoreError::Protocol(e.to_string()))?;
        let (share_changed, _) = tokio::sync::watch::channel(0);
        #[cfg(not(target_arch = "wasm32"))]
        let builder = samod::Repo::build_tokio();
        #[cfg(target_arch = "wasm32")]
        let builder = samod::Repo::builder(super::browser::BrowserRuntime);
        let repo = builder
            .with_storage(storage)
            .with_peer_id(PeerId::from(enrolment.peer_id.clone()))
            .with_share_policy(share_policy(local.clone(), share_changed.clone()))
            .load()
            .await;
        let api = ApiClient::new(&enrolment.server_url, Some(enrolment.token.clone()))?;
        let outbox = Arc::new(OutboxDriver::restore(
            api.clone(),
            local.clone(),
            share_changed.clone(),
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
        };
        // Load every local document so samod syncs all of them on connect.
        for doc in core.local.documents()? {
            if let Err(e) = core.handle(&doc).await {
                tracing::warn!(%doc, error = %e, "local document could not be loaded");
            }
        }
        core.replay_drafts().await;
        Ok(core)
    }

    /// The journal's name for the text of one visit (see [`platform::journal`]).
    pub fn draft_key(visit_id: &str, text: &VisitText) -> String {
        format!("{visit_id}/{}", text.key())
    }

    /// Saves `value` as a text of a visit and resolves once it is durable in
    /// the store; then its draft in the journal, if still the latest, goes.
    pub async fn save_text(
        &self,
        visit_id: &str,
        text: VisitText,
        value: &str,
    ) -> Result<(), CoreError> {
        let key = Self::draft_key(visit_id, &text);
        self.set_text(visit_id, text, value).await?;
        platform::store_durable().await;
        platform::journal::settle(&key, value);
        Ok(())
    }

    /// Writes into the store whatever a previous page typed but did not get
    /// to store durably (it was reloaded, closed or killed at once). A draft
    /// that cannot be written stays in the journal, never dropped.
    async fn replay_drafts(&self) {
        for (key, value) in platform::journal::entries() {
            let parsed = key
                .split_once('/')
                .and_then(|(visit, text)| Some((visit.to_owned(), VisitText::from_key(text)?)));
            let Some((visit_id, text)) = parsed else {
                tracing::warn!(%key, "a draft under a name this version does not know");
                continue;
            };
            match self.save_text(&visit_id, text, &value).await {
                Ok(()) => tracing::info!(%key, "typing from before the page went is saved"),
                Err(e) => tracing::error!(%key, error = %e, "a draft could not be saved; kept"),
            }
        }
    }

    pub fn person(&self) -> &PersonSummary {
        &self.enrolment.person
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

    /// Fetches the list of cases this device may see (needs a connection),
    /// then loads each case and its visits so they are there offline.
    pub async fn refresh_cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.outbox.feed(Event::Online).await?;
        let cases = self.api.cases().await?;
        self.wait_for_connection(Duration::from_secs(10)).await;
        self.local.replace_cases(&cases)?;
        for case in &cases {
            let c = self.case(&case.case_id).await?;
            for visit_id in c.visits.keys() {
                self.local.add_document(visit_id, &case.case_id, "visit")?;
                if let Err(e) = self.handle(visit_id).await {
                    tracing::warn!(visit = %visit_id, error = %e, "visit not available yet");
                }
            }
        }
        Ok(cases)
    }

    /// Waits (bounded) for the sync connection, so documents that are not
    /// yet local are asked of the server rather than given up on.
    async fn wait_for_connection(&self, timeout: Duration) {
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

    /// The cases this device knows, as of the last refresh.
    pub fn cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.local.cases()
    }

    async fn handle(&self, document_id: &str) -> Result<DocHandle, CoreError> {
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
    fn hear_refusals(&self, handle: &DocHandle) {
        use futures::StreamExt;
        let outbox = self.outbox.clone();
        let document_id = handle.document_id().to_string();
        let mut notices = Box::pin(handle.ephemera());
        platform::spawn(async move {
            while let Some(bytes) = notices.next().await {
                let Ok(notice) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                    continue;
                };
                let Some(reason) = notice["refused"]["message"].as_str() else {
                    continue;
                };
                tracing::warn!(%document_id, %reason, "the server refused changes");
                if let Err(e) = outbox.changes_refused(&document_id, reason).await {
                    tracing::warn!(error = %e, "could not keep a refusal");
                }
            }
        });
    }

    /// What the server refused about a record, to show on it.
    pub fn warning(&self, document_id: &str) -> Result<Option<String>, CoreError> {
        self.local.warning(document_id)
    }

    fn case_summary(&self, case_id: &str) -> Result<CaseSummary, CoreError> {
        self.local
            .cases()?
            .into_iter()
            .find(|c| c.case_id == case_id)
            .ok_or_else(|| CoreError::UnknownCase(case_id.to_owned()))
    }

    pub async fn case(&self, case_id: &str) -> Result<CaseDoc, CoreError> {
        let summary = self.case_summary(case_id)?;
        let handle = self.handle(&summary.document_id).await?;
        Ok(handle.with_document(|doc| records::read_case(doc))?)
    }

    /// Creates a draft visit, offline: it is in the local store, listed in
    /// its case, and queued for registration before this returns.
    pub async fn create_visit(&self, case_id: &str, place: PlaceKind) -> Result<String, CoreError> {
        let summary = self.case_summary(case_id)?;
        let case_handle = self.handle(&summary.document_id).await?;
        let started_at = now();
        let visit = VisitDoc::new(case_id, &self.enrolment.person.id, &started_at, place);
        // The id is made from a fresh nonce and this device's creator key,
        // so that only this device can register it; it is queued for
        // registration before samod makes it, so samod's share policy never
        // offers it to the server unregistered.
        let nonce: [u8; provenance::NONCE_LEN] = rand::random();
        let key = provenance::creator_key(&self.enrolment.token);
        let id = DocumentId::try_from(provenance::document_id(&key, &nonce).to_vec())
            .map_err(|e| CoreError::Protocol(format!("{e:?}")))?;
        let record = Record {
            document_id: id.to_string(),
            kind: Kind::Visit,
            case_id: case_id.to_owned(),
            nonce: hex::encode(nonce),
        };
        let visit_id = record.document_id.clone();
        self.local
            .add_record(&visit_id, Kind::Visit.as_str(), case_id, &record.nonce)?;
        let created = match self
            .repo
            .create_with_id(id, doc::new_document(&visit, self.actor.clone())?)
            .await
        {
            Ok(handle) => Ok(handle),
            Err(samod::CreateError::Stopped) => Err(CoreError::Stopped),
            Err(e @ samod::CreateError::Exists(_)) => Err(CoreError::Protocol(e.to_string())),
        };
        let handle = match created {
            Ok(handle) => handle,
            Err(e) => {
                self.local.forget_record(&visit_id)?;
                return Err(e);
            }
        };
        self.hear_refusals(&handle);
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(visit_id.clone(), handle);
        let edit = CaseEdit::IndexVisit {
            visit_document_id: visit_id.clone(),
            entry: VisitIndexEntry {
                started_at,
                author: self.enrolment.person.id.clone(),
                nonce: record.nonce.clone(),
            },
        };
        case_handle.with_document(|doc| {
            doc.set_actor(self.actor.clone());
            edit.apply(doc)
        })?;
        // Registered now when online, else when the next connection opens.
        let outbox = self.outbox.clone();
        platform::spawn(async move {
            if let Err(e) = outbox.feed(Event::Made(record)).await {
                tracing::warn!(error = %e, "the outbox could not take a new record");
            }
        });
        Ok(visit_id)
    }

    pub async fn visit(&self, visit_id: &str) -> Result<VisitDoc, CoreError> {
        let handle = self.handle(visit_id).await?;
        Ok(handle.with_document(|doc| records::read_visit(doc))?)
    }

    /// Sets a piece of text to what the person now sees in it; only the
    /// difference is recorded, so concurrent edits elsewhere survive.
    pub async fn set_text(
        &self,
        visit_id: &str,
        text: impl Into<VisitText>,
        value: &str,
    ) -> Result<(), CoreError> {
        let text = text.into();
        validate::text(text.name(), value)?;
        self.edit_visit(
            visit_id,
            VisitEdit::SetText {
                text,
                value: value.to_owned(),
            },
        )
        .await
    }

    pub async fn set_communication(
        &self,
        visit_id: &str,
        modes: &[Communication],
    ) -> Result<(), CoreError> {
        self.edit_visit(visit_id, VisitEdit::SetCommunication(modes.to_vec()))
            .await
    }

    /// Adds an empty action and returns its id.
    pub async fn add_action(&self, visit_id: &str) -> Result<String, CoreError> {
        let id = new_item_id();
        self.edit_visit(visit_id, VisitEdit::AddAction { id: id.clone() })
            .await?;
        Ok(id)
    }

    pub async fn set_action_done(
        &self,
        visit_id: &str,
        action_id: &str,
        done: bool,
    ) -> Result<(), CoreError> {
        let id = action_id.to_owned();
        self.edit_visit(visit_id, VisitEdit::SetActionDone { id, done })
            .await
    }

    /// Adds a creative-method observation and returns its id.
    pub async fn add_creative(
        &self,
        visit_id: &str,
        method: CreativeMethod,
    ) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::AddCreative {
            id: id.clone(),
            method,
        };
        self.edit_visit(visit_id, edit).await?;
        Ok(id)
    }

    pub async fn set_creative_method(
        &self,
        visit_id: &str,
        observation_id: &str,
        method: CreativeMethod,
    ) -> Result<(), CoreError> {
        let id = observation_id.to_owned();
        self.edit_visit(visit_id, VisitEdit::SetCreativeMethod { id, method })
            .await
    }

    /// Moves a visit on in its review, as this device's person: the author
    /// submits; a supervisor returns it (with `comment`) or signs it off.
    pub async fn decide(
        &self,
        visit_id: &str,
        status: ReviewStatus,
        comment: &str,
    ) -> Result<(), CoreError> {
        let edit = VisitEdit::Decide {
            id: new_item_id(),
            status,
            by: self.enrolment.person.id.clone(),
            at: now(),
            comment: comment.to_owned(),
        };
        self.edit_visit(visit_id, edit).await
    }

    /// A supervisor's comment on characters `from..to` of a field; returns
    /// the annotation's id.
    pub async fn annotate(
        &self,
        visit_id: &str,
        field: TextField,
        from: usize,
        to: usize,
        body: &str,
    ) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::Annotate {
            id: id.clone(),
            field,
            from,
            to,
            body: body.to_owned(),
            author: self.enrolment.person.id.clone(),
            at: now(),
        };
        self.edit_visit(visit_id, edit).await?;
        Ok(id)
    }

    pub async fn resolve_annotation(&self, visit_id: &str, id: &str) -> Result<(), CoreError> {
        let edit = VisitEdit::ResolveAnnotation {
            id: id.to_owned(),
            by: self.enrolment.person.id.clone(),
            at: now(),
        };
        self.edit_visit(visit_id, edit).await
    }

    /// Words added to a signed-off visit, dated and attributed; returns
    /// the addendum's id.
    pub async fn add_addendum(&self, visit_id: &str, text: &str) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::AddAddendum {
            id: id.clone(),
            author: self.enrolment.person.id.clone(),
            at: now(),
            text: text.to_owned(),
        };
        self.edit_visit(visit_id, edit).await?;
        Ok(id)
    }

    /// A visit's annotations, each with where its words are now.
    pub async fn annotations(
        &self,
        visit_id: &str,
    ) -> Result<Vec<(String, Annotation, Anchored)>, CoreError> {
        let handle = self.handle(visit_id).await?;
        handle.with_document(|doc| {
            let visit = records::read_visit(doc)?;
            let mut all: Vec<_> = visit
                .annotations
                .into_iter()
                .map(|(id, a)| {
                    let at = records::visit::anchor(doc, &a);
                    (id, a, at)
                })
                .collect();
            all.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then(a.0.cmp(&b.0)));
            Ok(all)
        })
    }

    /// The words of a signed-off visit that changed beside its sign-off.
    pub async fn since_sign_off(
        &self,
        visit_id: &str,
    ) -> Result<Vec<ChangedSinceSignOff>, CoreError> {
        let handle = self.handle(visit_id).await?;
        Ok(handle.with_document(|doc| records::visit::since_sign_off(doc))?)
    }

    /// Visits on this device's cases whose review stands at `status`
    /// (for a supervisor: submitted; for a worker: their own, returned),
    /// oldest first. Only visits already on this device are seen.
    pub async fn visits_in_review(
        &self,
        status: ReviewStatus,
        authored_by: Option<&str>,
    ) -> Result<Vec<InReview>, CoreError> {
        let mut found = Vec::new();
        for case in self.local.cases()? {
            let Ok(c) = self.case(&case.case_id).await else {
                continue;
            };
            for (visit_id, entry) in c.visits.iter() {
                if authored_by.is_some_and(|a| a != entry.author) {
                    continue;
                }
                let Ok(v) = self.visit(visit_id).await else {
                    continue;
                };
                if v.review.status == status {
                    found.push(InReview {
                        case_id: case.case_id.clone(),
                        person_name: case.person_name.clone(),
                        visit_id: visit_id.clone(),
                        started_at: v.started_at.clone(),
                        author: v.author.clone(),
                        changed_at: v.review.changed_at.clone(),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.changed_at.cmp(&b.changed_at));
        Ok(found)
    }

    /// Makes one typed edit to a visit, written as this device's actor,
    /// once the record's rules (the ones the server checks too) allow it
    /// to this device's person.
    pub async fn edit_visit(&self, visit_id: &str, edit: VisitEdit) -> Result<(), CoreError> {
        let handle = self.handle(visit_id).await?;
        let person = &self.enrolment.person;
        let writer = Writer {
            person_id: &person.id,
            role: &person.role,
        };
        handle.with_document(|doc| {
            let visit = records::read_visit(doc)?;
            edit.permitted(&visit, &writer)?;
            doc.set_actor(self.actor.clone());
            edit.apply(doc)?;
            Ok::<_, CoreError>(())
        })
    }

    /// Fires whenever the visit changes, here or by sync, so a screen can
    /// show a colleague's words as they arrive.
    pub async fn visit_changes(
        &self,
        visit_id: &str,
    ) -> Result<futures::channel::mpsc::UnboundedReceiver<()>, CoreError> {
        self.changes(visit_id).await
    }

    /// Fires whenever the case document changes (a colleague's new visit).
    pub async fn case_changes(
        &self,
        case_id: &str,
    ) -> Result<futures::channel::mpsc::UnboundedReceiver<()>, CoreError> {
        let summary = self.case_summary(case_id)?;
        self.changes(&summary.document_id).await
    }

    async fn changes(
        &self,
        document_id: &str,
    ) -> Result<futures::channel::mpsc::UnboundedReceiver<()>, CoreError> {
        use futures::StreamExt;
        let handle = self.handle(document_id).await?;
        let (tx, rx) = futures::channel::mpsc::unbounded();
        // samod's stream borrows its handle; this task owns both and stops
        // at the first change after the screen has gone.
        platform::spawn(async move {
            let mut changes = std::pin::pin!(handle.changes());
            while changes.next().await.is_some() {
                if tx.unbounded_send(()).is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// What the sync indicator shows now. Also records what the server is
    /// known to hold, so the count stays right offline and after a restart.
    pub async fn sync_status(&self) -> Result<SyncStatus, CoreError> {
        let (connections, _) = self.repo.connected_peers();
        let server = connections.iter().find(|c| {
            matches!(&c.state, ConnectionState::Connected { their_peer_id } if their_peer_id.as_str() == SERVER_PEER_ID)
        });
        let mut pending = 0;
        let handles: Vec<(String, DocHandle)> = self
            .handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut server_moved = false;
        for (doc_id, handle) in handles {
            let mut server_heads = self.local.server_heads(&doc_id)?;
            if let Some(their) = server
                .and_then(|c| c.docs.get(handle.document_id()))
                .and_then(|s| s.their_heads.clone())
                && their != server_heads
            {
                // Written only when it moves: in the browser every commit is
                // an IndexedDB transaction, and this runs about every second.
                self.local.set_server_heads(&doc_id, &their)?;
                server_heads = their;
                server_moved = true;
            }
            pending += handle.with_document(|doc| {
                let known: Vec<_> = server_heads
                    .iter()
                    .copied()
                    .filter(|h| doc.get_change_by_hash(h).is_some())
                    .collect();
                doc.get_changes(&known).len()
            });
        }
        let registrations_waiting = self.outbox.waiting();
        // Typing still on its way from the journal into the store is not
        // synced either (the browser gathers keystrokes for a moment).
        pending += platform::journal::entries().len();
        let connected = server.is_some();
        let synced = connected && pending == 0 && registrations_waiting == 0;
        // "Last synced" is when this device last saw the server catch up:
        // on becoming synced, and whenever the server takes in more while
        // synced.
        let was_synced = self.was_synced.swap(synced, Ordering::SeqCst);
        if synced && (server_moved || !was_synced) {
            self.local.set_meta("last_synced_at", &now())?;
        }
        Ok(SyncStatus {
            connected,
            pending_changes: pending,
            registrations_waiting,
            last_synced_at: self.local.meta("last_synced_at")?,
        })
    }

    /// Waits until every local change is known to be on the server.
    pub async fn wait_until_synced(&self, timeout: Duration) -> Result<SyncStatus, CoreError> {
        let deadline = web_time::Instant::now() + timeout;
        loop {
            let status = self.sync_status().await?;
            if status.connected && status.pending_changes == 0 && status.registrations_waiting == 0
            {
                return Ok(status);
            }
            if web_time::Instant::now() >= deadline {
                return Err(CoreError::Timeout("sync"));
            }
            platform::sleep(Duration::from_millis(50)).await;
        }
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
