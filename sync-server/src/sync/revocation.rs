//! Access that changes while devices are connected: a revoked device's
//! connections close at once, and every open connection checks its access
//! again when an assignment, a supervisor or a revocation changes (made
//! here or by the admin command line on the same database).

use std::time::Duration;

use super::SyncEngine;

impl SyncEngine {
    /// Devices revoked from now on, as they are (for long-lived streams
    /// outside the sync socket, which must end with the device).
    pub fn revocations(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.revoked.subscribe()
    }

    pub fn is_revoked(&self, device_id: &str) -> bool {
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
        self.access_changed();
        let _ = self.revoked.send(device_id.to_owned());
    }

    /// Who may see what may have changed (an assignment, a supervisor, a
    /// revocation): open connections check again.
    pub fn access_changed(&self) {
        tracing::debug!("access may have changed; open connections check again");
        self.access_generation.send_modify(|g| *g += 1);
    }

    pub(super) fn access_generation(&self) -> u64 {
        *self.access_generation.borrow()
    }
}

/// Picks up access changes made by another process (the admin command line
/// writing the same database): disconnects revoked devices, and has open
/// connections check their access again.
pub(super) async fn watch_access(engine: std::sync::Weak<SyncEngine>, mut last_stamp: i64) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let db = engine.db.clone();
        let seen = last_stamp;
        let result = db
            .run(move |db| {
                let stamp = db.access_stamp()?;
                if stamp == seen {
                    return Ok((stamp, Vec::new()));
                }
                Ok((stamp, db.revoked_device_ids()?))
            })
            .await;
        match result {
            Ok((stamp, ids)) if stamp != last_stamp => {
                engine.access_changed();
                last_stamp = stamp;
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
            Err(e) => tracing::error!(error = %e, "access check failed"),
        }
    }
}
