//! What the sync indicator shows, and waiting until everything is synced.

use std::sync::atomic::Ordering;
use std::time::Duration;

use automerge::ReadDoc;
use samod::{ConnectionState, DocHandle};

use crate::core::CoreError;
use crate::core::device::{DeviceCore, now};
use crate::core::platform;
use fieldvisit_shared::api::SERVER_PEER_ID;

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

impl DeviceCore {
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
            let unsent = handle.with_document(|doc| {
                let known: Vec<_> = server_heads
                    .iter()
                    .copied()
                    .filter(|h| doc.get_change_by_hash(h).is_some())
                    .collect();
                doc.get_changes(&known).len()
            });
            pending += unsent;
            if self.outbox.on_its_way(&doc_id)
                && let Err(e) = self
                    .urgent_progress(&doc_id, unsent == 0 && server.is_some())
                    .await
            {
                // A count must still be given: photos wait on it.
                tracing::error!(document = %doc_id, error = %e, "a concern's delivery not noted");
            }
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
        let unsent = pending + registrations_waiting + self.photos_unsent()?;
        if connected {
            self.report_unsynced(unsent as u64);
        }
        // Kept where the unlock screen can read it before the PIN, to say
        // what five wrong PINs would lose (written only when it changes).
        let unsent = unsent.to_string();
        if self.local.meta("unsent")?.as_deref() != Some(unsent.as_str()) {
            self.local.set_meta("unsent", &unsent)?;
        }
        Ok(SyncStatus {
            connected,
            pending_changes: pending,
            registrations_waiting,
            last_synced_at: self.local.meta("last_synced_at")?,
        })
    }

    /// Waits until the server has said it holds every change this device
    /// has of `doc_id` (its sync heads include them), on the connection
    /// open now: the moment an edit is safe, to the change, where
    /// [`Self::wait_until_synced`] looks every 50 ms. What the benchmarks
    /// time an edit to.
    pub async fn until_acknowledged(
        &self,
        doc_id: &str,
        timeout: Duration,
    ) -> Result<(), CoreError> {
        let connection = self
            .dialer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|d| d.connection_id())
            .ok_or_else(|| CoreError::Offline("no sync connection".into()))?;
        let handle = self.handle(doc_id).await?;
        let acknowledged = std::pin::pin!(handle.they_have_our_changes(connection));
        let waited = std::pin::pin!(platform::sleep(timeout));
        match futures::future::select(acknowledged, waited).await {
            futures::future::Either::Left(((), _)) => Ok(()),
            futures::future::Either::Right(_) => Err(CoreError::Timeout("acknowledgement")),
        }
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
}
