//! When the server first received each change: written before the change
//! is handed to samod, so every change from a device that the server
//! stores has a receipt, and a receipt that could not be written holds the
//! change back (the device still has it and sends it again).
//!
//! Receipts from every connection are committed together (one transaction
//! for whatever arrived while the last one was being written), so a busy
//! server pays one disk flush per batch rather than one per keystroke.

use automerge::ChangeHash;
use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, Receipt, now};

/// Receipts written in one transaction at most.
const BATCH: usize = 512;

struct Pending {
    receipt: Receipt,
    done: oneshot::Sender<bool>,
}

/// The handle connections record receipts through.
#[derive(Clone)]
pub struct Receipts {
    tx: mpsc::Sender<Pending>,
    failing: Failing,
}

/// Why the last batch could not be written, until one is (for `/health`).
type Failing = std::sync::Arc<std::sync::Mutex<Option<String>>>;

impl Receipts {
    /// Starts the writer; each committed batch's documents go to `changed`
    /// (the search index follows them).
    pub fn start(db: Db, changed: mpsc::UnboundedSender<(String, Vec<ChangeHash>)>) -> Self {
        let (tx, rx) = mpsc::channel(BATCH);
        let failing = Failing::default();
        tokio::spawn(write(db, rx, changed, failing.clone()));
        Receipts { tx, failing }
    }

    /// Why receipts cannot be written now, if they cannot.
    pub fn failing(&self) -> Option<String> {
        self.failing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records that `hashes` of `document_id` arrived now from `device_id`;
    /// true once committed.
    pub async fn record(
        &self,
        document_id: &str,
        hashes: &[ChangeHash],
        device_id: Option<&str>,
    ) -> bool {
        if hashes.is_empty() {
            return true;
        }
        let (done, committed) = oneshot::channel();
        let pending = Pending {
            receipt: Receipt {
                document_id: document_id.to_owned(),
                change_hashes: hashes.iter().map(ToString::to_string).collect(),
                device_id: device_id.map(str::to_owned),
                received_at: now(),
            },
            done,
        };
        if self.tx.send(pending).await.is_err() {
            return false;
        }
        committed.await.unwrap_or(false)
    }
}

async fn write(
    db: Db,
    mut rx: mpsc::Receiver<Pending>,
    changed: mpsc::UnboundedSender<(String, Vec<ChangeHash>)>,
    failing: Failing,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let receipts: Vec<Receipt> = batch.iter().map(|p| p.receipt.clone()).collect();
        let written = db.run(move |db| db.record_receipts(&receipts)).await;
        *failing.lock().unwrap_or_else(|p| p.into_inner()) = match &written {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(error = %e, "could not record change receipts; those changes are held back");
                Some(e.to_string())
            }
        };
        for p in batch {
            if written.is_ok() {
                let hashes = p
                    .receipt
                    .change_hashes
                    .iter()
                    .filter_map(|h| h.parse().ok())
                    .collect();
                let _ = changed.send((p.receipt.document_id.clone(), hashes));
            }
            let _ = p.done.send(written.is_ok());
        }
    }
}
