//! Keeps the search index following the documents: a document is read
//! again once the changes just received are in it (samod applies them a
//! moment after the receipt is written), and its passages replace what the
//! index held. At start-up and every 30 s, documents the index is behind on
//! (never read, or changed after it last read them) are read again.

use std::collections::{HashMap, HashSet};
use std::sync::Weak;
use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use fieldvisit_shared::records::{AnyRecord, Kind};
use samod::DocumentId;
use tokio::sync::mpsc;

use super::SyncEngine;

/// How long changes are gathered before documents are read again.
const SETTLE: Duration = Duration::from_millis(150);
/// How often documents that changed without a device (a case the admin
/// command line made while the server ran) are looked for.
const SWEEP: Duration = Duration::from_secs(30);
/// Rounds a document waits for its received changes to be applied before
/// it is indexed as it stands (they may have been held back after all).
const ROUNDS: u32 = 60;

pub(super) async fn run(
    engine: Weak<SyncEngine>,
    mut rx: mpsc::UnboundedReceiver<(String, Vec<ChangeHash>)>,
) {
    sweep(&engine).await;
    let mut pending: HashMap<String, (HashSet<ChangeHash>, u32)> = HashMap::new();
    // A document's kind and case never change once registered.
    let mut records: HashMap<String, (Kind, String)> = HashMap::new();
    loop {
        if pending.is_empty() {
            match tokio::time::timeout(SWEEP, rx.recv()).await {
                Ok(Some((doc, hashes))) => pending.entry(doc).or_default().0.extend(hashes),
                Ok(None) => return,
                Err(_) => {
                    sweep(&engine).await;
                    continue;
                }
            }
        }
        tokio::time::sleep(SETTLE).await;
        while let Ok((doc, hashes)) = rx.try_recv() {
            pending.entry(doc).or_default().0.extend(hashes);
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        for (doc, (hashes, rounds)) in std::mem::take(&mut pending) {
            let Ok(id) = doc.parse::<DocumentId>() else {
                continue;
            };
            // Only records are indexed (and a benchmark's documents are none).
            let Some(record) = engine.record_kind(&doc, &mut records).await else {
                continue;
            };
            let current = engine.stored_document(&id).await;
            let applied = hashes
                .iter()
                .all(|h| current.get_change_meta_by_hash(h).is_some());
            if applied || rounds >= ROUNDS {
                engine.index(&doc, &record, &current).await;
            } else {
                pending.insert(doc, (hashes, rounds + 1));
            }
        }
    }
}

/// Indexes what the index is behind on (see `Db::documents_to_index`):
/// at start-up, and now and then for what changed without a device.
async fn sweep(engine: &Weak<SyncEngine>) {
    let Some(db) = engine.upgrade().map(|e| e.db.clone()) else {
        return;
    };
    match db.run(|db| db.documents_to_index()).await {
        Ok(documents) => index_changed(engine, &db, documents).await,
        Err(e) => tracing::error!(error = %e, "could not list documents to index"),
    }
}

/// Indexes those of `documents` whose heads moved since they were indexed.
async fn index_changed(
    engine: &Weak<SyncEngine>,
    db: &crate::db::Db,
    documents: Vec<(String, String, String)>,
) {
    for (doc, kind, case_id) in documents {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let Some(kind) = Kind::parse(&kind) else {
            continue;
        };
        let Ok(id) = doc.parse::<DocumentId>() else {
            continue;
        };
        let current = engine.stored_document(&id).await;
        let d = doc.clone();
        let indexed = db.run(move |db| db.indexed_heads(&d)).await.ok().flatten();
        if indexed.as_deref() != Some(heads_text(&current).as_str()) {
            engine.index(&doc, &(kind, case_id), &current).await;
        }
    }
}

fn heads_text(doc: &Automerge) -> String {
    let mut heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
    heads.sort();
    heads.join(",")
}

impl SyncEngine {
    /// The kind and case `document_id` is registered with, remembered in
    /// `known`; `None` when it is no record.
    async fn record_kind(
        &self,
        document_id: &str,
        known: &mut HashMap<String, (Kind, String)>,
    ) -> Option<(Kind, String)> {
        if let Some(record) = known.get(document_id) {
            return Some(record.clone());
        }
        let d = document_id.to_owned();
        let record = match self.db.run(move |db| db.document_record(&d)).await {
            Ok(r) => r.and_then(|(kind, case)| Some((Kind::parse(&kind)?, case)))?,
            // Asked again with the document's next change.
            Err(_) => return None,
        };
        // Only records are remembered: a benchmark's many documents are not.
        known.insert(document_id.to_owned(), record.clone());
        Some(record)
    }

    /// Replaces what the search index holds of `document_id` by its
    /// passages in `doc`.
    async fn index(&self, document_id: &str, (kind, case_id): &(Kind, String), doc: &Automerge) {
        let (kind, copy) = (*kind, doc.clone());
        let read = tokio::task::spawn_blocking(move || {
            AnyRecord::read(kind, &copy).map(|r| (r.passages(), r.blobs()))
        });
        let passages = match read.await {
            Ok(passages) => passages,
            Err(e) => {
                tracing::error!(error = %e, document = document_id, "reading for the index panicked");
                return;
            }
        };
        // Nothing received yet, or a document the rules let in under older
        // rules: nothing to index, noted at these heads so that it is not
        // read again until it changes.
        let (passages, blobs) = passages.unwrap_or_else(|e| {
            tracing::debug!(error = %e, document = document_id, "nothing to index");
            (Vec::new(), Vec::new())
        });
        let heads = heads_text(doc);
        let (d, case_id) = (document_id.to_owned(), case_id.clone());
        if let Err(e) = self
            .db
            .run(move |db| db.index_document(&d, &case_id, &heads, &passages, &blobs))
            .await
        {
            tracing::error!(error = %e, document = document_id, "could not update the search index");
        }
    }
}
