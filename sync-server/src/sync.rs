//! The sync engine: samod over the SQLite store, with authentication bound
//! at the WebSocket upgrade and authorisation in the share policy.
//!
//! ## How a visit created offline joins its case
//!
//! A phone creates a visit document with no signal, so the server cannot be
//! asked first. The phone records the new document id in the case document
//! (so the visit lists offline) and queues a registration. Before every sync
//! connection the phone sends its queued registrations
//! (`POST /api/cases/{case}/visits`), then buys a ticket and connects. The
//! server registers the document to the case only if the device's person may
//! see that case and the id is not already registered (the first claim wins;
//! a clash is refused and audited). Only registered documents are ever shared
//! (`documents` table, consulted by the share policy), so a device cannot
//! smuggle a document into a case, nor reach one by guessing its id: samod
//! answers "unavailable", exactly as for a document that does not exist.
//!
//! The registry is the authority; the case document's list of visits is for
//! display and is never trusted for access.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use fieldvisit_sqlite_store::SqliteStorage;
use futures::{SinkExt, StreamExt};
use samod::{DocumentId, PeerId, ShareConfig};
use tokio::sync::broadcast;

use crate::access::{self, Decision};
use crate::db::{Audit, Db, Device};
use crate::error::{Error, Result};
use crate::{secrets, wire};

pub use fieldvisit_shared::api::SERVER_PEER_ID;
const TICKET_LIFETIME: Duration = Duration::from_secs(60);
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

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    /// Benchmarks only (`--insecure-no-auth-for-benchmarks`): `/sync`
    /// takes connections without a ticket and shares every document with
    /// everyone, so the reference JavaScript server's clients' workload can
    /// run unchanged. Inbound messages are still checked for size and shape.
    pub insecure_open_access: bool,
}

pub struct SyncEngine {
    pub repo: samod::Repo,
    acceptor: samod::AcceptorHandle,
    db: Db,
    tickets: Mutex<HashMap<String, (String, Instant)>>,
    revoked: broadcast::Sender<String>,
    known_revoked: Mutex<HashSet<String>>,
    pub limits: Limits,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine").finish_non_exhaustive()
    }
}

/// Share documents only with devices whose person may see their case.
fn share_policy(db: Db) -> impl samod::SharePolicy {
    move |doc_id: DocumentId, peer: PeerId| {
        let db = db.clone();
        futures::stream::once(async move {
            let Some(device_id) = device_of(&peer).map(str::to_owned) else {
                return ShareConfig::none();
            };
            let doc = doc_id.to_string();
            match db.run(move |db| db.access_facts(&device_id, &doc)).await {
                Ok(Some(facts)) => match access::decide(&facts) {
                    Decision::Allow { .. } => ShareConfig::read_write(),
                    Decision::Deny(_) => ShareConfig::none(),
                },
                Ok(None) => ShareConfig::none(),
                Err(e) => {
                    tracing::error!(error = %e, "share policy lookup failed; denying");
                    ShareConfig::none()
                }
            }
        })
    }
}

/// Opens the samod repo over `storage`, for the server or the admin CLI.
pub async fn open_repo(storage: SqliteStorage, db: Db) -> samod::Repo {
    samod::Repo::build_tokio()
        .with_storage(storage)
        .with_peer_id(PeerId::from(SERVER_PEER_ID))
        .with_share_policy(share_policy(db))
        .load()
        .await
}

/// The repo of a benchmark run with authentication off: every peer may
/// read and write every document (see [`Limits::insecure_open_access`]).
/// Like the reference server it announces nothing: a peer gets the
/// documents it asks for, not every document every other peer writes.
async fn open_repo_for_benchmarks(storage: SqliteStorage) -> samod::Repo {
    samod::Repo::build_tokio()
        .with_storage(storage)
        .with_peer_id(PeerId::from(SERVER_PEER_ID))
        .with_share_policy(ShareConfig {
            access: samod::ShareAccess::ReadWrite,
            announce: false,
        })
        .load()
        .await
}

impl SyncEngine {
    pub async fn start(storage: SqliteStorage, db: Db, limits: Limits) -> Result<Arc<Self>> {
        let repo = if limits.insecure_open_access {
            open_repo_for_benchmarks(storage).await
        } else {
            open_repo(storage, db.clone()).await
        };
        let url = samod::Url::parse("ws://fieldvisit/sync")
            .map_err(|e| Error::Internal(e.to_string()))?;
        let acceptor = repo.make_acceptor(url).map_err(|_| Error::Stopped)?;
        let known: HashSet<String> = db.revoked_device_ids()?.into_iter().collect();
        let (revoked, _) = broadcast::channel(64);
        let engine = Arc::new(SyncEngine {
            repo,
            acceptor,
            db,
            tickets: Mutex::new(HashMap::new()),
            revoked,
            known_revoked: Mutex::new(known),
            limits,
        });
        tokio::spawn(watch_revocations(Arc::downgrade(&engine)));
        Ok(engine)
    }

    pub fn buy_ticket(&self, device_id: &str) -> String {
        let ticket = secrets::token();
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tickets.retain(|_, (_, expires)| *expires > now);
        tickets.insert(
            secrets::hash(&ticket),
            (device_id.to_owned(), now + TICKET_LIFETIME),
        );
        ticket
    }

    /// Single use: a ticket is gone once presented, valid or not.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<String> {
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        match tickets.remove(&secrets::hash(ticket)) {
            Some((device, expires)) if expires > Instant::now() => Some(device),
            _ => None,
        }
    }

    pub fn ticket_lifetime(&self) -> Duration {
        TICKET_LIFETIME
    }

    fn is_revoked(&self, device_id: &str) -> bool {
        self.known_revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(device_id)
    }

    /// Closes every open connection of a device now.
    pub fn disconnect_device(&self, device_id: &str) {
        self.known_revoked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(device_id.to_owned());
        let _ = self.revoked.send(device_id.to_owned());
    }

    /// Runs one device connection until it ends: an authenticated device,
    /// or `None` only when [`Limits::insecure_open_access`] is on.
    pub async fn serve_connection(self: Arc<Self>, socket: WebSocket, device: Option<Device>) {
        let (to_samod, samod_in) =
            futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(16);
        let (samod_out, from_samod) = futures::channel::mpsc::channel::<Vec<u8>>(16);
        let mut transport = samod::Transport::new(samod_in, samod_out);
        if let Some(device) = &device {
            transport = transport.with_expected_peer_id(PeerId::from(peer_id_for(&device.id)));
        }
        let device_id = device
            .as_ref()
            .map_or("anonymous", |d| d.id.as_str())
            .to_owned();
        if self.acceptor.accept(transport).is_err() {
            return;
        }
        let mut revoked = self.revoked.subscribe();
        let mut to_samod = to_samod;
        let (ws_tx, mut ws_rx) = socket.split();
        // The two directions run as two tasks. In one loop, waiting for samod
        // to take an inbound message would stop us draining its outbound
        // queue; samod, waiting to send, stops taking inbound: a deadlock
        // that stalls every connection once a busy device fills both queues.
        let (close_tx, close_rx) = tokio::sync::oneshot::channel::<(u16, String)>();
        let (writer_done_tx, mut writer_done) = tokio::sync::oneshot::channel::<()>();
        let writer = tokio::spawn(write_to_socket(ws_tx, from_samod, close_rx, writer_done_tx));
        let mut allowed_docs: HashSet<String> = HashSet::new();
        tracing::info!(device = %device_id, "sync connection opened");
        let close: Option<(u16, String)> = loop {
            tokio::select! {
                inbound = ws_rx.next() => match inbound {
                    Some(Ok(Message::Binary(bytes))) => {
                        match wire::inspect(&bytes, self.limits.max_message_bytes) {
                            Err(rejection) => {
                                match &device {
                                    Some(device) => self.audit_rejection(device, &rejection).await,
                                    None => tracing::warn!(%rejection, "inbound message refused"),
                                }
                                break Some((rejection.close_code(), format!("{}: {}", rejection.code(), rejection)));
                            }
                            Ok(msg) => {
                                if let Some(doc) = &msg.document_id
                                    && let Some(device) = &device
                                    && !allowed_docs.contains(doc)
                                    && self.check_and_audit(device, doc, &msg).await
                                {
                                    allowed_docs.insert(doc.clone());
                                }
                                if to_samod.send(Ok(bytes.to_vec())).await.is_err() {
                                    break None;
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        break Some((1003, "binary_only: sync messages are binary CBOR".into()));
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                },
                _ = &mut writer_done => break None,
                id = revoked.recv() => {
                    let lagged = matches!(id, Err(broadcast::error::RecvError::Lagged(_)));
                    let is_me = matches!(&id, Ok(id) if *id == device_id);
                    if device.is_some() && (is_me || (lagged && self.is_revoked(&device_id))) {
                        break Some((CLOSE_REVOKED, "device_revoked: this device has been revoked".into()));
                    }
                }
            }
        };
        // The reason first: once samod sees the inbound side end it closes
        // its outbound side, and the writer must not take that for a
        // normal close.
        if let Some(close) = close {
            let _ = close_tx.send(close);
        } else {
            drop(close_tx);
        }
        drop(to_samod);
        let _ = writer.await;
        tracing::info!(device = %device_id, "sync connection closed");
    }

    async fn audit_rejection(&self, device: &Device, rejection: &wire::Rejection) {
        let (device_id, person_id, detail) = (
            device.id.clone(),
            device.person.id.clone(),
            rejection.to_string(),
        );
        let action = rejection.code();
        let result = self
            .db
            .run(move |db| {
                db.audit(&Audit {
                    device_id: Some(&device_id),
                    person_id: Some(&person_id),
                    action,
                    detail: &detail,
                    ..Default::default()
                })
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not write audit entry");
        }
    }

    /// Whether the device may sync `doc`; a refused request or write is
    /// written to the audit log (samod's share policy does the refusing).
    async fn check_and_audit(&self, device: &Device, doc: &str, msg: &wire::Inbound) -> bool {
        let (device_id, person_id, doc) =
            (device.id.clone(), device.person.id.clone(), doc.to_owned());
        let action = if msg.carries_changes {
            "write_refused"
        } else {
            "request_refused"
        };
        let result = self
            .db
            .run(move |db| {
                let facts = db.access_facts(&device_id, &doc)?;
                let decision = facts.as_ref().map(access::decide);
                match decision {
                    Some(Decision::Allow { .. }) => Ok(true),
                    other => {
                        let reason = match other {
                            Some(Decision::Deny(r)) => r.as_str(),
                            _ => "unknown_device",
                        };
                        db.audit(&Audit {
                            device_id: Some(&device_id),
                            person_id: Some(&person_id),
                            action,
                            document_id: Some(&doc),
                            detail: reason,
                            ..Default::default()
                        })?;
                        Ok(false)
                    }
                }
            })
            .await;
        result.unwrap_or_else(|e| {
            tracing::error!(error = %e, "access check failed");
            false
        })
    }
}

/// The outbound half of a connection: samod's messages to the socket,
/// then a close frame with a reason when the inbound half asks for one.
async fn write_to_socket(
    mut ws_tx: futures::stream::SplitSink<WebSocket, Message>,
    mut from_samod: futures::channel::mpsc::Receiver<Vec<u8>>,
    mut close_rx: tokio::sync::oneshot::Receiver<(u16, String)>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let close = loop {
        tokio::select! {
            biased;
            close = &mut close_rx => break close.ok(),
            outbound = from_samod.next() => match outbound {
                Some(bytes) => {
                    if ws_tx.send(Message::Binary(bytes.into())).await.is_err() {
                        break None;
                    }
                }
                None => break Some((1000, "closed".to_string())),
            },
        }
    };
    if let Some((code, mut reason)) = close {
        // A close reason may hold at most 123 bytes.
        while reason.len() > 123 {
            reason.pop();
        }
        let _ = ws_tx
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    let _ = ws_tx.close().await;
    let _ = done.send(());
}

/// Picks up revocations made by another process (the admin command line
/// writing the same database) and disconnects those devices.
async fn watch_revocations(engine: std::sync::Weak<SyncEngine>) {
    let mut last_version = None;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let db = engine.db.clone();
        let seen = last_version;
        let result = db
            .run(move |db| {
                let version = db.data_version()?;
                if Some(version) == seen {
                    return Ok((version, Vec::new()));
                }
                Ok((version, db.revoked_device_ids()?))
            })
            .await;
        match result {
            Ok((version, ids)) if Some(version) != last_version => {
                last_version = Some(version);
                let fresh: Vec<String> = {
                    let known = engine
                        .known_revoked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    ids.into_iter().filter(|id| !known.contains(id)).collect()
                };
                for id in fresh {
                    tracing::info!(device = %id, "device revoked; closing its connections");
                    engine.disconnect_device(&id);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "revocation check failed"),
        }
    }
}
