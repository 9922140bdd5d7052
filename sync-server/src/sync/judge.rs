//! The rules step of the inbound gate: finds the document as the server
//! holds it and asks `crate::rules` about a message's changes.

use std::collections::HashMap;
use std::time::Duration;

use automerge::Automerge;
use fieldvisit_shared::provenance;
use fieldvisit_shared::records::{Context, Kind, Refusal, Writer};
use samod::DocumentId;
use samod::storage::{Storage, StorageKey};

use super::{SyncEngine, wire};
use crate::db::Device;
use crate::rules::{self, Decoded, FirstLook, Judgement, Pending};

/// How long a message whose changes build on changes still on their way
/// into samod waits (in steps of [`WAIT_STEP`]) before the server asks the
/// device for what is missing (`super::held`).
const WAITS: u32 = 100;
const WAIT_STEP: Duration = Duration::from_millis(20);

/// Close code when a device's changes keep building on changes the server
/// asked for and never received (1013: try again later; a new connection
/// syncs afresh).
pub const CLOSE_OUT_OF_ORDER: u16 = 1013;

/// What one connection has learnt for judging its messages.
#[derive(Default)]
pub struct Judging {
    token_hash: Option<Option<String>>,
    kinds: HashMap<String, Option<(Kind, String)>>,
    /// Review decisions already audited from this connection: a device
    /// may send the same change again before samod has applied it.
    pub audited_decisions: std::collections::HashSet<(String, String)>,
}

pub enum Outcome {
    /// Record the receipt of its new changes, then hand samod the
    /// message with `forward` as its payload.
    Forward(rules::Accepted),
    Refused(Refusal),
    /// Its changes build on `missing`, which the server does not hold:
    /// ask the device for them (`super::held`). `heads`: the server's.
    Missing {
        heads: Vec<automerge::ChangeHash>,
        missing: Vec<automerge::ChangeHash>,
    },
    Close {
        code: u16,
        reason: String,
    },
}

impl SyncEngine {
    /// Judges the automerge sync payloads of a message from `device` about
    /// `doc` that carries changes (those of any held messages first, the
    /// message's own last), decoded once ([`Decoded`]): what the judgement
    /// accepts is the payload samod gets in their place.
    pub(super) async fn judge(
        &self,
        device: &Device,
        judging: &mut Judging,
        doc: &str,
        payloads: &[&[u8]],
    ) -> Outcome {
        let turn = self
            .judging_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(device.id.clone())
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        // Cooled down while this message waited its turn: not judged.
        if self.not_cooling_down(&device.id).is_err() {
            return Outcome::Close {
                code: super::tickets::CLOSE_COOLING_DOWN,
                reason: super::tickets::COOLING_DOWN.into(),
            };
        }
        let (kind, case_id) = match self.record_of(judging, doc).await {
            Ok(Some(record)) => record,
            // The gate lets only registered documents through, so this is
            // a kind this build does not know: nothing to judge it by.
            Ok(None) => {
                return Outcome::Refused(Refusal::new(
                    "not_a_record",
                    "this document is not a record this server can judge",
                ));
            }
            Err(()) => return storage_unavailable(),
        };
        let Some(token_hash) = self.token_hash_of(judging, device).await else {
            return Outcome::Close {
                code: 1008,
                reason: "unknown_device: this device is not enrolled".into(),
            };
        };
        let Some(id) = wire::canonical_document_id(doc) else {
            return Outcome::Refused(Refusal::new(
                "not_a_record",
                "this document id is not canonical",
            ));
        };
        // automerge loads a device's document chunks here: under the same
        // guard as the judgement.
        let bytes: usize = payloads.iter().map(|p| p.len()).sum();
        let decoded = match off_the_workers(bytes > HEAVY_BYTES, || {
            contained(
                || Decoded::decode(payloads.iter().copied()),
                |refused| match refused {
                    Judgement::Refuse(refusal) => Err(refusal),
                    _ => Err(Refusal::new(
                        "malformed_changes",
                        "these changes could not be read",
                    )),
                },
            )
        }) {
            Ok(decoded) => decoded,
            Err(refusal) => return Outcome::Refused(refusal),
        };
        let actor = provenance::device_actor(&device.id);
        let made = |document_id: &str, nonce: &str| {
            provenance::parse_nonce(nonce)
                .is_some_and(|n| crate::secrets::created_by(&token_hash, &n, document_id))
        };
        // Made afresh for each step: a `Context` holds a `&dyn Fn`, which
        // may not be held across the waits below.
        let cx = || Context {
            writer: Writer {
                person_id: &device.person.id,
                role: &device.person.role,
            },
            case_id: &case_id,
            actor: &actor,
            created_by_writer: &made,
        };
        let heavy = decoded.ops() > HEAVY_OPS;
        let judged = self
            .judge_when_ready(
                &id,
                |before| rules::first_look(kind, before, &decoded, &cx()),
                |pending| off_the_workers(heavy, || rules::judge_copy(kind, pending, &cx())),
            )
            .await;
        match outcome(judged) {
            Outcome::Forward(accepted) if !accepted.photos.is_empty() => {
                self.photos_of_the_case(device, &case_id, accepted).await
            }
            other => other,
        }
    }

    /// An accepted message that newly refers to photos: forwarded when
    /// each may join the case (`Db::photo_may_join`), else refused whole.
    async fn photos_of_the_case(
        &self,
        device: &Device,
        case_id: &str,
        accepted: rules::Accepted,
    ) -> Outcome {
        for sha in &accepted.photos {
            let (d, c, s) = (device.id.clone(), case_id.to_owned(), sha.clone());
            match self.db.run(move |db| db.photo_may_join(&d, &c, &s)).await {
                Ok(true) => {}
                Ok(false) => {
                    return Outcome::Refused(Refusal::new(
                        "photo_not_yours",
                        "a record refers only to photos taken on this device or already in its case",
                    ));
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not check a photo reference");
                    return storage_unavailable();
                }
            }
        }
        Outcome::Forward(accepted)
    }

    /// [`crate::rules::judge_for_benchmarks`]: authentication is off.
    pub(super) async fn judge_for_benchmarks(&self, doc: &str, payload: &[u8]) -> Outcome {
        let Some(id) = wire::canonical_document_id(doc) else {
            return Outcome::Refused(Refusal::new(
                "not_a_record",
                "this document id is not canonical",
            ));
        };
        // Decided on the first look, copy and all: the load generator's
        // edits are typing, judged in place either way.
        let look =
            |before: &Automerge| FirstLook::Judged(rules::judge_for_benchmarks(before, payload));
        let never = |_: Pending| Judgement::Accept(Default::default());
        outcome(self.judge_when_ready(&id, look, never).await)
    }

    /// Judges the document as the server holds it: `look` in place, under
    /// samod's lock on the document, and `finish` on the copy it asks for,
    /// after the lock is let go. While the changes build on changes not yet
    /// in samod (an earlier message on its way in), asks again, up to
    /// [`WAITS`] times, then answers with what is still missing and the
    /// server's heads. Judged on this connection's task, not a blocking
    /// thread: a thread per judgement cost more memory (each its own
    /// allocator arena) than the few milliseconds it keeps a worker busy;
    /// only a large message's `finish` steps aside ([`off_the_workers`]).
    async fn judge_when_ready(
        &self,
        id: &DocumentId,
        look: impl Fn(&Automerge) -> FirstLook,
        finish: impl Fn(Pending) -> Judgement,
    ) -> (Judgement, Vec<automerge::ChangeHash>) {
        let mut waits = 0;
        // What the last judgement found missing: until the server holds it,
        // the next judgement would find the same, so only that is looked at
        // (a message of 200,000 ops built on one change left out would
        // otherwise be applied to a copy a hundred times over).
        let mut missing: Vec<automerge::ChangeHash> = Vec::new();
        loop {
            if !missing.is_empty() && waits < WAITS && !self.holds_all(id, &missing) {
                waits += 1;
                tokio::time::sleep(WAIT_STEP).await;
                continue;
            }
            let (judged, heads) = match self.with_stored_document(id, &look).await {
                FirstLook::Judged(judged) => (judged, Vec::new()),
                FirstLook::Copy(pending) => {
                    let heads = pending.heads();
                    (contained(|| finish(*pending), |refused| refused), heads)
                }
            };
            match judged {
                Judgement::MissingDeps(still) if waits >= WAITS => {
                    return (Judgement::MissingDeps(still), heads);
                }
                Judgement::MissingDeps(still) => {
                    missing = still;
                    waits += 1;
                    tokio::time::sleep(WAIT_STEP).await;
                }
                judged => return (judged, Vec::new()),
            }
        }
    }

    /// Whether samod's document holds every one of `hashes` (false while
    /// it is not loaded: the judgement loads it).
    fn holds_all(&self, id: &DocumentId, hashes: &[automerge::ChangeHash]) -> bool {
        self.repo.ready_document(id).is_some_and(|handle| {
            handle.with_document(|doc| {
                hashes
                    .iter()
                    .all(|h| doc.get_change_meta_by_hash(h).is_some())
            })
        })
    }

    /// Takes the first look at the document as the server holds it (see
    /// [`Self::stored_document`]), in place when samod has it ready: a copy
    /// per message cost time in the size of the document, and most
    /// messages are typing, judged without copying anything. A panic in
    /// `look` (automerge on a crafted change) is caught before it could
    /// poison samod's lock on the document, and refuses the message.
    async fn with_stored_document(
        &self,
        id: &DocumentId,
        look: impl Fn(&Automerge) -> FirstLook,
    ) -> FirstLook {
        let contained_look = |doc: &Automerge| contained(|| look(doc), FirstLook::Judged);
        match self.repo.ready_document(id) {
            Some(handle) => handle.with_document(|doc| contained_look(doc)),
            None => contained_look(&self.stored_document(id).await),
        }
    }

    /// The document's kind and case, `Ok(None)` when it is not a record,
    /// `Err` when the registry cannot be read (nothing is judged, or
    /// handed on, without it).
    async fn record_of(
        &self,
        judging: &mut Judging,
        doc: &str,
    ) -> Result<Option<(Kind, String)>, ()> {
        if let Some(known) = judging.kinds.get(doc) {
            return Ok(known.clone());
        }
        let d = doc.to_owned();
        let record = match self.db.run(move |db| db.document_record(&d)).await {
            Ok(r) => r.and_then(|(kind, case)| Kind::parse(&kind).map(|k| (k, case))),
            Err(e) => {
                tracing::error!(error = %e, "could not read the document registry");
                return Err(());
            }
        };
        // A document's kind and case never change once registered.
        if record.is_some() {
            judging.kinds.insert(doc.to_owned(), record.clone());
        }
        Ok(record)
    }

    async fn token_hash_of(&self, judging: &mut Judging, device: &Device) -> Option<String> {
        if let Some(known) = &judging.token_hash {
            return known.clone();
        }
        let id = device.id.clone();
        let hash = self
            .db
            .run(move |db| db.token_hash(&id))
            .await
            .ok()
            .flatten();
        judging.token_hash = Some(hash.clone());
        hash
    }

    /// The document as the server holds it: from memory when samod has it
    /// ready, else from the store (not loaded, or nothing received yet).
    /// Never asks a peer: the peer asked may be the one being judged.
    pub(super) async fn stored_document(&self, id: &DocumentId) -> Automerge {
        if let Some(handle) = self.repo.ready_document(id) {
            return handle.with_document(|d| d.clone());
        }
        let mut doc = Automerge::new();
        let Ok(prefix) = StorageKey::from_parts([id.to_string()]) else {
            return doc;
        };
        for bytes in self.storage.load_range(prefix).await.values() {
            if let Err(e) = doc.load_incremental(bytes) {
                tracing::error!(error = %e, document = %id, "a stored chunk does not load");
            }
        }
        doc
    }
}

fn outcome((judged, heads): (Judgement, Vec<automerge::ChangeHash>)) -> Outcome {
    match judged {
        Judgement::Accept(accepted) => Outcome::Forward(accepted),
        Judgement::Refuse(refusal) => Outcome::Refused(refusal),
        Judgement::MissingDeps(missing) => Outcome::Missing { heads, missing },
    }
}

fn storage_unavailable() -> Outcome {
    Outcome::Close {
        code: super::gate::CLOSE_STORAGE_UNAVAILABLE,
        reason: "storage_unavailable: the server cannot read its registry just now; these changes stay on this device and are sent again".into(),
    }
}

/// Messages past these sizes are judged off the runtime's workers.
const HEAVY_BYTES: usize = 64 * 1024;
const HEAVY_OPS: usize = 10_000;

/// Runs `step` where it does not hold up the other connections when
/// `heavy`: judging the largest message takes about a second of a core,
/// and on the runtime's worker it held up every connection queued there.
/// `block_in_place` hands this worker's other tasks to another thread
/// (no thread per judgement: the blocking pool's threads are reused).
/// Small messages, most of them, are judged in place.
fn off_the_workers<T>(heavy: bool, step: impl FnOnce() -> T) -> T {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if heavy && multi {
        tokio::task::block_in_place(step)
    } else {
        step()
    }
}

/// Runs a step of the rules; a panic there (automerge on a crafted change)
/// refuses the message, as `refused` puts it, rather than poison samod's
/// lock on the document or end the connection's task.
pub(super) fn contained<T>(step: impl FnOnce() -> T, refused: impl FnOnce(Judgement) -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|_| {
        refused(Judgement::Refuse(Refusal::new(
            "malformed_changes",
            "these changes could not be read".to_owned(),
        )))
    })
}
