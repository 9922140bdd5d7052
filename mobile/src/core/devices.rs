//! A lost or stolen phone: the person's devices as the server knows them,
//! what each has not yet sent (reported as it changes, so the admin knows
//! what revoking loses), and the wipe when the server says this device is
//! revoked: every record, photo and draft deleted, then confirmed to the
//! server, which audits it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fieldvisit_shared::api::{DeviceInfo, WipeReason};

use crate::core::device::DeviceCore;
use crate::core::store_files::delete_everything;
use crate::core::{CoreError, platform};

/// The idle minutes a worker may choose before the app locks. A quarter of
/// an hour at most: a phone left on a table at a home visit should not stay
/// open for long.
pub const LOCK_AFTER_MINUTES: [u32; 5] = [1, 2, 5, 10, 15];
const DEFAULT_LOCK_AFTER_MINUTES: u32 = 5;
const LOCK_AFTER_KEY: &str = "lock_after_minutes";

/// The chosen idle minutes, or the default where none (or no longer a
/// choice) was stored.
fn lock_after_minutes(stored: Option<&str>) -> u32 {
    stored
        .and_then(|v| v.parse().ok())
        .filter(|m| LOCK_AFTER_MINUTES.contains(m))
        .unwrap_or(DEFAULT_LOCK_AFTER_MINUTES)
}

impl DeviceCore {
    /// Whether the server has said this device is revoked: the app wipes it.
    pub fn revoked(&self) -> bool {
        self.api.revoked()
    }

    /// Anyone's devices: this person's own, or (the practice admin) anyone's.
    pub async fn devices_of(&self, person_id: &str) -> Result<Vec<DeviceInfo>, CoreError> {
        if person_id == self.person().id {
            self.api.devices().await
        } else {
            self.api.admin_devices(person_id).await
        }
    }

    /// The people a practice admin may look up devices for.
    pub async fn practice_people(
        &self,
    ) -> Result<Vec<fieldvisit_shared::api::PersonSummary>, CoreError> {
        self.api.people().await
    }

    /// Revokes a device of `person_id`: this person's own, or (the
    /// practice admin) anyone's. The PIN is asked again first: a phone
    /// left unlocked must not let whoever picks it up revoke the worker's
    /// other devices, which then delete what they had not sent. A wrong
    /// PIN is [`CoreError::WrongPin`] and counts towards the wipe.
    pub async fn revoke_device_of(
        &self,
        person_id: &str,
        device_id: &str,
        pin: &str,
    ) -> Result<(), CoreError> {
        self.confirm_pin(pin).await?;
        if person_id == self.person().id {
            self.api.revoke_device(device_id).await
        } else {
            self.api.admin_revoke(device_id).await
        }
    }

    /// Tells the server what this device holds unsent, when that changed
    /// since it last said (called while connected; never waits on it). A
    /// report that failed is tried again after ten seconds at the earliest.
    pub(super) fn report_unsynced(&self, unsynced: u64) {
        let reported = self.reported_unsynced.clone();
        if reported.swap(unsynced, Ordering::SeqCst) == unsynced {
            return;
        }
        let api = self.api.clone();
        platform::spawn(async move {
            if let Err(e) = api.report_status(unsynced).await {
                tracing::debug!(error = %e, "status not reported");
                platform::sleep(Duration::from_secs(10)).await;
                let _ = reported.compare_exchange(
                    unsynced,
                    u64::MAX,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
        });
    }

    /// How long the app may sit untouched before it asks for the PIN again.
    pub fn lock_after(&self) -> Duration {
        let chosen = self.local.meta(LOCK_AFTER_KEY).ok().flatten();
        Duration::from_secs(60 * u64::from(lock_after_minutes(chosen.as_deref())))
    }

    /// Chooses the idle time, in minutes: one of [`LOCK_AFTER_MINUTES`].
    pub fn set_lock_after(&self, minutes: u32) -> Result<(), CoreError> {
        if !LOCK_AFTER_MINUTES.contains(&minutes) {
            return Err(CoreError::Setting(format!(
                "the app locks after 1, 2, 5, 10 or 15 idle minutes, not {minutes}"
            )));
        }
        self.local.set_meta(LOCK_AFTER_KEY, &minutes.to_string())
    }

    /// Stops syncing and writing before the app locks (what was typed is in
    /// the store already); the core is not used again.
    pub async fn lock(&self) {
        self.go_offline();
        self.repo.stop().await;
        platform::store_durable().await;
    }

    /// Deletes everything this device stored (records, photos, drafts, its
    /// enrolment and token), then tells the server, which audits it. Sync
    /// stops first; the core is unusable afterwards (the app shows the
    /// sign-in screen: in a browser by reloading the page).
    pub async fn wipe(&self, reason: WipeReason) -> Result<(), CoreError> {
        self.go_offline();
        self.repo.stop().await;
        delete_everything(&self.dir, &self.local).await?;
        // Confirmed with the token still in memory: a revoked device may say
        // this and nothing else. A few tries, since it has just reached the
        // server; after that the admin's list shows it never confirmed.
        for attempt in 0..3u32 {
            match self.api.report_wiped(reason).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "the wipe was not confirmed to the server");
                    platform::sleep(Duration::from_secs(1 << attempt)).await;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_time_is_a_choice_or_five_minutes() {
        assert_eq!(lock_after_minutes(None), 5);
        assert_eq!(lock_after_minutes(Some("1")), 1);
        assert_eq!(lock_after_minutes(Some("15")), 15);
        for odd in ["0", "3", "60", "-1", "five", ""] {
            assert_eq!(lock_after_minutes(Some(odd)), 5, "{odd}");
        }
    }
}
