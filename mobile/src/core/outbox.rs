//! Runs the device's outbox (`fieldvisit_shared::outbox`, a state machine
//! with no IO): feeds it events, carries out its effects (a registration
//! request, releasing a record to sync, a warning kept on the record) and
//! feeds their outcomes back. The local store is its memory: what waits is
//! in `pending_registrations`, so a restart resumes where it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use fieldvisit_shared::outbox::{Effect, Event, Outbox, Record};
use fieldvisit_shared::records::Kind;

use super::CoreError;
use super::api_client::ApiClient;
use super::local::Local;

pub struct OutboxDriver {
    outbox: Mutex<Outbox>,
    api: ApiClient,
    local: Local,
    /// Bumped when a record is released, so the share policy asks again.
    share_changed: tokio::sync::watch::Sender<u64>,
    /// Whether a concern is on its way, everything else waiting (the share
    /// policy reads it).
    holding: Arc<AtomicBool>,
}

impl OutboxDriver {
    /// The outbox as the local store left it.
    pub fn restore(
        api: ApiClient,
        local: Local,
        share_changed: tokio::sync::watch::Sender<u64>,
        holding: Arc<AtomicBool>,
    ) -> Result<Self, CoreError> {
        let mut outbox = Outbox::new();
        for pending in local.pending_registrations()? {
            let Some(kind) = Kind::parse(&pending.kind) else {
                // Not a kind this build knows (a store written by a newer
                // build, then downgraded): kept as it is, for the build
                // that knows it, never registered as some other kind (a
                // concern taken for a visit would lose its place at the
                // front). This build cannot show it, so it is only logged.
                tracing::error!(document = %pending.document_id, kind = %pending.kind, "a record of an unknown kind waits for an app that knows it");
                continue;
            };
            let document_id = pending.document_id.clone();
            outbox.handle(Event::Made(Record {
                document_id: document_id.clone(),
                kind,
                case_id: pending.case_id,
                nonce: pending.nonce,
            }));
            if let Some(reason) = pending.last_error {
                outbox.handle(Event::RegistrationRefused {
                    document_id,
                    reason,
                });
            }
        }
        // A concern raised here and registered, but not yet known to be on
        // the server when the app last stopped, still goes first.
        for document_id in local.meta_keys(super::records::RAISED_HERE)? {
            // Waiting for registration, it is restored above; refused, it
            // holds nothing back (its warning is on it).
            if local.is_pending_registration(&document_id)?
                || local.warning(&document_id)?.is_some()
            {
                continue;
            }
            outbox.handle(Event::Made(Record {
                document_id: document_id.clone(),
                kind: Kind::Concern,
                case_id: String::new(),
                nonce: String::new(),
            }));
            outbox.handle(Event::Registered { document_id });
        }
        holding.store(outbox.holding_back(), Ordering::SeqCst);
        Ok(OutboxDriver {
            outbox: Mutex::new(outbox),
            api,
            local,
            share_changed,
            holding,
        })
    }

    /// Whether `document_id` is an urgent record released and not yet
    /// known to be on the server.
    pub fn on_its_way(&self, document_id: &str) -> bool {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .on_its_way(document_id)
    }

    /// Whether `document_id` is on its way and already gave way.
    pub fn gave_way(&self, document_id: &str) -> bool {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gave_way(document_id)
    }

    /// Records not yet registered with the server.
    pub fn waiting(&self) -> usize {
        self.outbox
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiting()
    }

    /// Feeds `event` and everything that follows from it until the outbox
    /// has nothing more to do now. Registrations run one after another, so
    /// this returns once the ones it could make are made.
    pub async fn feed(&self, event: Event) -> Result<(), CoreError> {
        self.run(self.handle(event)).await
    }

    /// Takes `event` now, and returns the work it starts (for [`Self::run`]):
    /// a record made is in the outbox's order before the caller goes on,
    /// so a connection opening a moment later cannot register anything
    /// that should wait behind it.
    pub fn take(&self, event: Event) -> Vec<Effect> {
        self.handle(event)
    }

    /// Carries out `effects` and everything that follows from them.
    pub async fn run(&self, mut effects: Vec<Effect>) -> Result<(), CoreError> {
        while !effects.is_empty() {
            let effect = effects.remove(0);
            let next = match effect {
                Effect::Register(record) => {
                    let document_id = record.document_id.clone();
                    match self.api.register_document(&record).await {
                        Ok(_) => Event::Registered { document_id },
                        Err(CoreError::Server(body)) if !transient(&body.error) => {
                            tracing::warn!(%document_id, error = %body.message, "registration refused");
                            Event::RegistrationRefused {
                                document_id,
                                reason: body.message,
                            }
                        }
                        Err(e) => {
                            tracing::info!(%document_id, error = %e, "registration deferred");
                            Event::RegistrationFailed { document_id }
                        }
                    }
                }
                Effect::Release { document_id } => {
                    self.local.registration_done(&document_id)?;
                    self.share_changed.send_modify(|v| *v += 1);
                    continue;
                }
                Effect::Warn {
                    document_id,
                    message,
                } => {
                    self.local.registration_failed(&document_id, &message)?;
                    self.local.set_warning(&document_id, &message)?;
                    continue;
                }
            };
            effects.extend(self.handle(next));
        }
        Ok(())
    }

    /// Sync was stopped: registrations wait for the next connection.
    pub fn offline(&self) {
        let effects = self.handle(Event::Offline);
        debug_assert!(effects.is_empty(), "going offline starts nothing");
    }

    /// The server refused changes to a record (it told this device so).
    pub async fn changes_refused(&self, document_id: &str, reason: &str) -> Result<(), CoreError> {
        self.feed(Event::ChangesRefused {
            document_id: document_id.to_owned(),
            reason: reason.to_owned(),
        })
        .await?;
        // Records made elsewhere are not in the outbox: keep the warning.
        self.local.set_warning(document_id, reason)
    }

    fn handle(&self, event: Event) -> Vec<Effect> {
        let mut outbox = self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let effects = outbox.handle(event);
        let holding = outbox.holding_back();
        if self.holding.swap(holding, Ordering::SeqCst) != holding {
            self.share_changed.send_modify(|v| *v += 1);
        }
        effects
    }
}

/// Refusals that say "no" to this record; anything else (no signal, a
/// server that cannot write now, a revoked device) says "not now", and the
/// next connection tries again.
fn transient(code: &str) -> bool {
    !matches!(
        code,
        "not_found" | "invalid_json" | "invalid_input" | "conflict" | "forbidden"
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::core::vault::DataKey;

    #[test]
    fn a_record_of_a_kind_this_build_does_not_know_waits_unsent() {
        let dir = tempfile::tempdir().unwrap();
        let local = Local::open(&dir.path().join("device.sqlite"))
            .unwrap()
            .with_key(Arc::new(DataKey::generate()));
        local
            .add_record("doc-new", "report", "case-1", "00", false)
            .unwrap();
        local
            .add_record("doc-visit", "visit", "case-1", "00", false)
            .unwrap();
        let (share_changed, _) = tokio::sync::watch::channel(0);
        let api = ApiClient::new("http://127.0.0.1:9", None).unwrap();
        let holding = Arc::new(AtomicBool::new(false));
        let driver = OutboxDriver::restore(api, local.clone(), share_changed, holding).unwrap();
        assert_eq!(
            driver.waiting(),
            1,
            "the visit waits; the unknown kind is not taken for one"
        );
        assert!(!driver.on_its_way("doc-new"));
        assert!(
            local.is_pending_registration("doc-new").unwrap(),
            "kept for a build that knows its kind"
        );
    }
}
