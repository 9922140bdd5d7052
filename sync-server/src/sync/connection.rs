//! One device's sync connection: the socket's two directions, the inbound
//! gate between the socket and samod, and the close with a reason.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{FutureExt, SinkExt, StreamExt};
use samod::PeerId;
use tokio::sync::broadcast;

use super::gate::{AuditNote, Gate, Step, Verdict};
use super::held::{self, Held, Hold};
use super::judge::{CLOSE_OUT_OF_ORDER, Judging, Outcome};
use super::{CLOSE_REVOKED, SERVER_PEER_ID, SyncEngine, peer_id_for, wire};
use crate::db::{Audit, Device};
use crate::error::Error;

/// Counts a device's open connection for as long as it lives.
struct Slot {
    engine: Arc<SyncEngine>,
    device_id: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .engine
            .open_connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.device_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.device_id);
            }
        }
    }
}

/// A connection's state between messages (see `serve_connection`).
struct Conn {
    device: Option<Device>,
    device_id: String,
    to_samod: futures::channel::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    answers: futures::channel::mpsc::Sender<Vec<u8>>,
    gate: Gate,
    judging: Judging,
    held: Held,
    session: String,
    notices: u64,
}

/// What the connection does after a message.
enum Next {
    Go,
    /// End it, with a close frame's code and reason, or without one.
    Close(Option<(u16, String)>),
}

impl SyncEngine {
    /// Takes one of a device's connection slots, or `Err` when it holds
    /// every one already.
    pub fn open_slot(self: &Arc<Self>, device_id: &str) -> Result<impl Send + 'static, Error> {
        self.not_cooling_down(device_id)?;
        let mut open = self
            .open_connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = open.entry(device_id.to_owned()).or_default();
        if *n >= self.limits.max_connections_per_device {
            return Err(Error::TooMany(
                "open sync connections for this device; close one first",
            ));
        }
        *n += 1;
        Ok(Slot {
            engine: self.clone(),
            device_id: device_id.to_owned(),
        })
    }

    /// Runs one device connection until it ends: an authenticated device,
    /// or `None` only when [`super::Limits::insecure_open_access`] is on.
    /// `slot` is the device's connection slot, held until the end.
    pub async fn serve_connection(
        self: Arc<Self>,
        socket: WebSocket,
        device: Option<Device>,
        slot: impl Send + 'static,
    ) {
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
        // Subscribe before looking: a revocation that lands during the
        // upgrade is either already known or still to be heard.
        let mut revoked = self.revoked.subscribe();
        if device.is_some() && self.is_revoked(&device_id) {
            return;
        }
        let Ok(accepted) = self.acceptor.accept(transport) else {
            return;
        };
        // A document that panics on this connection's message closes it.
        let (culprit_tx, culprit) = tokio::sync::oneshot::channel::<String>();
        // Fused: a oneshot polled again once it has answered panics.
        let mut culprit = culprit.fuse();
        let connection_id = accepted.id();
        self.culprits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(connection_id, culprit_tx);
        let (ws_tx, mut ws_rx) = socket.split();
        // The two directions run as two tasks. In one loop, waiting for samod
        // to take an inbound message would stop us draining its outbound
        // queue; samod, waiting to send, stops taking inbound: a deadlock
        // that stalls every connection once a busy device fills both queues.
        let (close_tx, close_rx) = tokio::sync::oneshot::channel::<(u16, String)>();
        let (writer_done_tx, mut writer_done) = tokio::sync::oneshot::channel::<()>();
        let (answers, answers_rx) = futures::channel::mpsc::channel::<Vec<u8>>(16);
        let writer = tokio::spawn(write_to_socket(
            ws_tx,
            from_samod,
            answers_rx,
            close_rx,
            writer_done_tx,
        ));
        // What the connection keeps between messages. The work on one
        // message runs in its own boxed future, so an idle connection holds
        // only this and the select below, not the largest state any message
        // ever needed (10 KB of futures, most of an idle connection's cost).
        let gate = Gate::new(device.is_none());
        let mut conn = Conn {
            device,
            device_id,
            to_samod,
            answers,
            gate,
            judging: Judging::default(),
            // Messages waiting for changes the device left out: at most one
            // message's worth per connection.
            held: Held::new(self.limits.max_message_bytes),
            // Refusal notices are ephemeral messages from the server: samod
            // tells them apart by session and count.
            session: crate::secrets::token()[..16].to_owned(),
            notices: 0,
        };
        tracing::info!(device = %conn.device_id, "sync connection opened");
        let close: Option<(u16, String)> = loop {
            tokio::select! {
                inbound = ws_rx.next() => match inbound {
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Next::Close(close) = Box::pin(self.on_message(&mut conn, &bytes)).await {
                            break close;
                        }
                    }
                    Some(Ok(Message::Text(_))) => {
                        break Some((1003, "binary_only: sync messages are binary CBOR".into()));
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                },
                _ = &mut writer_done => break None,
                Ok(doc) = &mut culprit => {
                    let detail = format!("document {doc} could not apply this connection's message (it panicked and was reloaded)");
                    if let Some(device) = &conn.device {
                        Box::pin(self.write_audit(device, "malformed_message", Some(doc), detail.clone())).await;
                        // A message that panics a document is a refusal too:
                        // a device sending one on every reconnect cools down.
                        let _ = self.refused_once(&device.id);
                    }
                    break Some((1007, format!("malformed_message: {detail}")));
                }
                id = revoked.recv() => {
                    let lagged = matches!(id, Err(broadcast::error::RecvError::Lagged(_)));
                    let is_me = matches!(&id, Ok(id) if *id == conn.device_id);
                    if conn.device.is_some() && (is_me || (lagged && self.is_revoked(&conn.device_id))) {
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
        let Conn {
            device,
            device_id,
            gate,
            to_samod,
            ..
        } = conn;
        drop(to_samod);
        self.culprits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&connection_id);
        let _ = writer.await;
        if let Some(device) = &device {
            Box::pin(self.audit_summary(device, &gate)).await;
        }
        drop(slot);
        tracing::info!(device = %device_id, "sync connection closed");
    }

    /// One binary message from the device: checked, judged, answered or
    /// handed on to samod.
    async fn on_message(&self, conn: &mut Conn, bytes: &[u8]) -> Next {
        capture(bytes);
        let msg = match wire::inspect(bytes, self.limits.max_message_bytes, &self.limits.payload) {
            Ok(msg) => msg,
            Err(rejection) => {
                match &conn.device {
                    Some(device) => {
                        self.audit_rejection(device, &rejection).await;
                        if self.refused_once(&device.id) {
                            return cool_down();
                        }
                    }
                    None => tracing::warn!(%rejection, "inbound message refused"),
                }
                return Next::Close(Some((
                    rejection.close_code(),
                    format!("{}: {}", rejection.code(), rejection),
                )));
            }
        };
        match self.pass(&mut conn.gate, conn.device.as_ref(), &msg).await {
            Verdict::Forward => {
                let mut new_changes = Vec::new();
                // What samod gets: the message as sent when it carries no
                // changes, else the same message with the payload the
                // rules judged (`rules::Decoded`), never the device's bytes.
                let mut forward = None;
                // The sync payload of a message that carries changes (the
                // gate found one there).
                let changes = match (&msg.document_id, msg.carries_changes) {
                    (Some(doc), true) => match wire::sync_payload(bytes) {
                        Some(payload) => Some((doc, payload)),
                        None => return no_payload(),
                    },
                    _ => None,
                };
                if let (None, Some((doc, payload))) = (&conn.device, changes) {
                    match self.judge_for_benchmarks(doc, payload).await {
                        Outcome::Forward(accepted) => {
                            new_changes = accepted.new;
                            forward = Some(accepted.forward);
                        }
                        Outcome::Refused(refusal) => {
                            tracing::warn!(document = %doc, code = refusal.code, "a benchmark change broke the rules: {}", refusal.message);
                            return Next::Go;
                        }
                        Outcome::Close { code, reason } => {
                            return Next::Close(Some((code, reason)));
                        }
                        Outcome::Missing { .. } => return Next::Go,
                    }
                }
                if let (Some(device), Some((doc, own))) = (&conn.device, changes) {
                    let mut payloads = conn.held.payloads(doc);
                    payloads.push(own);
                    let judged = self.judge(device, &mut conn.judging, doc, &payloads).await;
                    match judged {
                        Outcome::Forward(accepted) => {
                            conn.held.forget(doc);
                            // Every review decision is in the audit log.
                            for (id, d) in accepted.decisions {
                                if !conn.judging.audited_decisions.insert((doc.clone(), id.clone())) {
                                    continue;
                                }
                                let detail = format!("{} by {} at {} (decision {id})", d.status, d.by, d.at);
                                self.write_audit(device, "review_decision", Some(doc.clone()), detail).await;
                            }
                            // So is every completion and reopening of a capacity
                            // assessment (each once, as a decision is).
                            for (id, change) in accepted.status_changes {
                                if !conn.judging.audited_decisions.insert((doc.clone(), id.clone())) {
                                    continue;
                                }
                                let (action, what) = match change.outcome {
                                    Some(outcome) => ("assessment_completed", outcome.as_str()),
                                    None => ("assessment_reopened", "reopened"),
                                };
                                let detail = format!("{what} by {} at {} (entry {id})", change.by, change.at);
                                self.write_audit(device, action, Some(doc.clone()), detail).await;
                            }
                            // The alert is committed before the concern is handed
                            // on, so a stored concern always has one; when it cannot
                            // be, the concern is not taken now (the phone keeps it
                            // and sends it again).
                            if let Some((event, case_id)) = accepted.concern
                                && !self.alerts.concern_event(&self.db, device, doc, &case_id, event).await
                            {
                                return Next::Close(Some((super::gate::CLOSE_STORAGE_UNAVAILABLE, "storage_unavailable: the server cannot record this safeguarding concern just now; it stays on this device and is sent again".into())));
                            }
                            new_changes = accepted.new;
                            forward = Some(accepted.forward);
                        }
                        Outcome::Refused(refusal) => {
                            conn.held.forget(doc);
                            tracing::info!(device = %conn.device_id, document = %doc, code = refusal.code, reason = %refusal.message, "change refused by the record's rules");
                            if let Some(note) = conn.gate.refused_change(doc, refusal.code) {
                                self.write_audit(device, note.action, Some(doc.clone()), format!("{}: {}", refusal.code, refusal.message)).await;
                            }
                            if self.refused_weighing(&device.id, msg.ops) {
                                return cool_down();
                            }
                            conn.notices += 1;
                            let notice = wire::refusal_notice(SERVER_PEER_ID, &peer_id_for(&conn.device_id), doc, &conn.session, conn.notices, &refusal);
                            if conn.answers.send(notice).await.is_err() {
                                return Next::Close(None);
                            }
                            return Next::Go;
                        }
                        Outcome::Missing { heads, missing } => match conn.held.hold(doc, bytes.to_vec()) {
                            Hold::Ask => {
                                tracing::info!(device = %conn.device_id, document = %doc, missing = missing.len(), "changes build on changes the device left out; asking for them");
                                let question = wire::sync_message(SERVER_PEER_ID, &peer_id_for(&conn.device_id), doc, &held::ask(heads, missing));
                                if conn.answers.send(question).await.is_err() {
                                    return Next::Close(None);
                                }
                                return Next::Go;
                            }
                            Hold::GiveUp if self.refused_once(&device.id) => return cool_down(),
                            Hold::GiveUp => return Next::Close(Some((CLOSE_OUT_OF_ORDER, "changes_out_of_order: these changes build on changes the server asked for and did not get; reconnect to sync afresh".into()))),
                        },
                        Outcome::Close { code, reason } => return Next::Close(Some((code, reason))),
                    }
                }
                // The receipt first: a change the server stores always has one.
                if let Some(doc) = &msg.document_id
                    && !self
                        .receipts
                        .record(
                            doc,
                            &new_changes,
                            conn.device.as_ref().map(|d| d.id.as_str()),
                        )
                        .await
                {
                    return Next::Close(Some((super::gate::CLOSE_STORAGE_UNAVAILABLE, "storage_unavailable: the server cannot record changes just now; they stay on this device and are sent again".into())));
                }
                let message = match forward {
                    None => bytes.to_vec(),
                    Some(payload) => match wire::with_data(bytes, &payload) {
                        Some(message) => message,
                        None => return no_payload(),
                    },
                };
                if conn.to_samod.send(Ok(message)).await.is_err() {
                    return Next::Close(None);
                }
            }
            Verdict::Unavailable(doc) => {
                let answer =
                    wire::doc_unavailable(SERVER_PEER_ID, &peer_id_for(&conn.device_id), &doc);
                if conn.answers.send(answer).await.is_err() {
                    return Next::Close(None);
                }
            }
            Verdict::Drop => {}
            Verdict::Close { code, reason } => return Next::Close(Some((code, reason))),
        }
        Next::Go
    }

    /// Runs the gate for one message, asking the database what it needs.
    async fn pass(&self, gate: &mut Gate, device: Option<&Device>, msg: &wire::Inbound) -> Verdict {
        let generation = self.access_generation();
        let (step, mut note) = gate.check(msg, generation, self.store_failing());
        let verdict = match step {
            Step::Decided(verdict) => verdict,
            Step::Ask(doc) => {
                let answer = match device {
                    Some(device) => self.may_see(device, &doc).await,
                    None => Ok(()),
                };
                let (verdict, asked) = gate.answer(msg, answer, generation);
                note = asked;
                verdict
            }
        };
        if let (Some(note), Some(device)) = (note, device) {
            self.audit_note(device, note).await;
        }
        verdict
    }

    /// `Ok(())` when the device may see the document, or why not.
    async fn may_see(&self, device: &Device, doc: &str) -> Result<(), &'static str> {
        super::visibility(&self.db, &device.id, doc).await
    }

    async fn write_audit(
        &self,
        device: &Device,
        action: &'static str,
        document_id: Option<String>,
        detail: String,
    ) {
        let (device_id, person_id) = (device.id.clone(), device.person.id.clone());
        let result = self
            .db
            .run(move |db| {
                db.audit(&Audit {
                    device_id: Some(&device_id),
                    person_id: Some(&person_id),
                    action,
                    document_id: document_id.as_deref(),
                    detail: &detail,
                    ..Default::default()
                })
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, action, "could not write audit entry");
        }
    }

    async fn audit_rejection(&self, device: &Device, rejection: &wire::Rejection) {
        self.write_audit(device, rejection.code(), None, rejection.to_string())
            .await;
    }

    async fn audit_note(&self, device: &Device, note: AuditNote) {
        self.write_audit(
            device,
            note.action,
            note.document_id,
            note.reason.to_owned(),
        )
        .await;
    }

    /// One row per kind of refusal counted beyond the first.
    async fn audit_summary(&self, device: &Device, gate: &Gate) {
        for s in gate.summary() {
            let detail = format!("{}; {} more on this connection", s.reason, s.count);
            self.write_audit(device, s.action, None, detail).await;
        }
    }
}

/// The close for a sync message that carries changes and no payload to
/// read them from (the gate let it through; it cannot be handed on).
fn no_payload() -> Next {
    Next::Close(Some((1007, "malformed_message: no sync payload".into())))
}

/// The close for a device whose refusals ran out (`tickets::refusal_rate`).
fn cool_down() -> Next {
    Next::Close(Some((
        super::tickets::CLOSE_COOLING_DOWN,
        super::tickets::COOLING_DOWN.to_owned(),
    )))
}

/// Seeds for the fuzzer: with `FIELDVISIT_CAPTURE_INBOUND=<dir>` in the
/// environment (tests only), every inbound message is also written there,
/// one file each. See fuzz/README.md.
fn capture(bytes: &[u8]) {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(dir) =
        DIR.get_or_init(|| std::env::var_os("FIELDVISIT_CAPTURE_INBOUND").map(Into::into))
    else {
        return;
    };
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{}-{n}.bin", std::process::id());
    if let Err(e) = std::fs::write(dir.join(name), bytes) {
        tracing::warn!(error = %e, "could not capture an inbound message");
    }
}

/// The outbound half of a connection: samod's messages and the gate's own
/// answers to the socket, then a close frame with a reason when the inbound
/// half asks for one.
async fn write_to_socket(
    mut ws_tx: futures::stream::SplitSink<WebSocket, Message>,
    mut from_samod: futures::channel::mpsc::Receiver<Vec<u8>>,
    mut answers: futures::channel::mpsc::Receiver<Vec<u8>>,
    mut close_rx: tokio::sync::oneshot::Receiver<(u16, String)>,
    done: tokio::sync::oneshot::Sender<()>,
) {
    let close = loop {
        let bytes = tokio::select! {
            biased;
            close = &mut close_rx => break close.ok(),
            Some(answer) = answers.next() => answer,
            outbound = from_samod.next() => match outbound {
                Some(bytes) => bytes,
                None => break Some((1000, "closed".to_string())),
            },
        };
        if ws_tx.send(Message::Binary(bytes.into())).await.is_err() {
            break None;
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
