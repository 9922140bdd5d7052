//! Devices: enrolment, tokens, revocation.

use fieldvisit_shared::api::{DeviceInfo, PersonSummary, WipeReason};
use rusqlite::{OptionalExtension, params};

use super::{Audit, Db, audit_tx, now, role};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub person: PersonSummary,
    pub label: String,
    pub revoked: bool,
}

impl Db {
    /// The stored hash of a device's token: its creator key (see
    /// `fieldvisit_shared::provenance`).
    pub fn token_hash(&self, device_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT token_hash FROM devices WHERE id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
        })
    }

    pub fn insert_device(
        &self,
        id: &str,
        person_id: &str,
        label: &str,
        code_hash: &str,
        expires_at: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM people WHERE id = ?1)", [person_id], |r| r.get(0))?;
            if !exists {
                return Err(Error::NotFound(format!("person {person_id}")));
            }
            tx.execute(
                "INSERT INTO devices (id, person_id, label, enrol_code_hash, enrol_expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, person_id, label, code_hash, expires_at, now()],
            )?;
            audit_tx(&tx, &Audit { device_id: Some(id), person_id: Some(person_id), action: "device_added", detail: label, ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Turns a valid, unexpired enrolment code into a token (single use).
    pub fn enrol(&self, code_hash: &str, token_hash: &str, label: &str) -> Result<Device> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let row: Option<(String, String)> = tx
                .query_row(
                    "SELECT id, person_id FROM devices WHERE enrol_code_hash = ?1 AND revoked_at IS NULL AND enrol_expires_at > ?2",
                    params![code_hash, now()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((device_id, person_id)) = row else {
                return Err(Error::InvalidEnrolmentCode);
            };
            tx.execute(
                "UPDATE devices SET token_hash = ?1, enrol_code_hash = NULL, enrol_expires_at = NULL, enrolled_at = ?2, label = ?3 WHERE id = ?4",
                params![token_hash, now(), label, device_id],
            )?;
            audit_tx(&tx, &Audit { device_id: Some(&device_id), person_id: Some(&person_id), action: "device_enrolled", detail: label, ..Default::default() })?;
            tx.commit()?;
            Ok(device_id)
        })
        .and_then(|id| self.device(&id))
    }

    pub fn device(&self, id: &str) -> Result<Device> {
        self.device_where("d.id = ?1", id)?
            .ok_or_else(|| Error::NotFound(format!("device {id}")))
    }

    pub fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>> {
        self.device_where("d.token_hash = ?1", token_hash)
    }

    fn device_where(&self, condition: &str, value: &str) -> Result<Option<Device>> {
        self.with(|c| {
            let sql = format!(
                "SELECT d.id, d.label, d.revoked_at IS NOT NULL, p.id, p.name, p.role
                 FROM devices d JOIN people p ON p.id = d.person_id WHERE {condition}"
            );
            Ok(c.query_row(&sql, [value], |r| {
                Ok(Device {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    revoked: r.get(2)?,
                    person: PersonSummary {
                        id: r.get(3)?,
                        name: r.get(4)?,
                        role: role(&r.get::<_, String>(5)?)?,
                    },
                })
            })
            .optional()?)
        })
    }

    /// Revokes a device; returns false when it already was. `by` is the
    /// device it was done from (`None`: the admin command line), kept
    /// with the revocation and named in the audit log.
    pub fn revoke_device(&self, id: &str, by: Option<&str>) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM devices WHERE id = ?1)",
                [id],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(Error::NotFound(format!("device {id}")));
            }
            let changed = tx.execute(
                "UPDATE devices SET revoked_at = ?1, enrol_code_hash = NULL, revoked_by = ?3
                 WHERE id = ?2 AND revoked_at IS NULL",
                params![now(), id, by.unwrap_or(BY_COMMAND_LINE)],
            )?;
            if changed > 0 {
                let detail = match by {
                    Some(device) => {
                        let person: String = tx.query_row(
                            "SELECT person_id FROM devices WHERE id = ?1",
                            [device],
                            |r| r.get(0),
                        )?;
                        format!("by {person} from device {device}")
                    }
                    None => "by the admin command line".to_owned(),
                };
                audit_tx(
                    &tx,
                    &Audit {
                        device_id: Some(id),
                        action: "device_revoked",
                        detail: &detail,
                        ..Default::default()
                    },
                )?;
            }
            tx.commit()?;
            Ok(changed > 0)
        })
    }

    pub fn revoked_device_ids(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id FROM devices WHERE revoked_at IS NOT NULL")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }
}

impl Db {
    /// Every device ever enrolled (revoked ones too: their words stay in
    /// the records), with its label and its person's name.
    pub fn device_names(&self) -> Result<Vec<(String, String, String)>> {
        self.reading(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.label, p.name FROM devices d JOIN people p ON p.id = d.person_id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// A person's devices, newest first.
    pub fn devices_of(&self, person_id: &str) -> Result<Vec<DeviceInfo>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.id, d.person_id, d.label, d.enrolled_at, d.last_seen_at, d.last_synced_at,
                        d.unsynced_changes, d.reported_at, d.revoked_at, d.wiped_at,
                        d.revoked_by, p.name, b.label, b.person_id = d.person_id
                 FROM devices d
                 LEFT JOIN devices b ON b.id = d.revoked_by
                 LEFT JOIN people p ON p.id = b.person_id
                 WHERE d.person_id = ?1 ORDER BY d.created_at DESC, d.id",
            )?;
            let rows = stmt.query_map([person_id], |r| {
                Ok(DeviceInfo {
                    device_id: r.get(0)?,
                    person_id: r.get(1)?,
                    label: r.get(2)?,
                    enrolled_at: r.get(3)?,
                    last_seen_at: r.get(4)?,
                    last_synced_at: r.get(5)?,
                    unsynced_changes: r.get::<_, Option<i64>>(6)?.map(|n| n.max(0) as u64),
                    reported_at: r.get(7)?,
                    revoked_at: r.get(8)?,
                    wiped_at: r.get(9)?,
                    revoked_by: revoked_by(
                        r.get::<_, Option<String>>(10)?.as_deref(),
                        r.get(11)?,
                        r.get(12)?,
                        r.get::<_, Option<bool>>(13)?.unwrap_or(false),
                    ),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Notes a device's request (the caller writes at most once a minute).
    pub fn device_seen(&self, id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE devices SET last_seen_at = ?1 WHERE id = ?2",
                params![now(), id],
            )?;
            Ok(())
        })
    }

    /// What a device says it has not yet sent; nothing means it is synced.
    pub fn device_status(&self, id: &str, unsynced: u64) -> Result<()> {
        let at = now();
        let unsynced = i64::try_from(unsynced).unwrap_or(i64::MAX);
        self.with(|c| {
            c.execute(
                "UPDATE devices SET unsynced_changes = ?1, reported_at = ?2,
                        last_synced_at = CASE WHEN ?1 = 0 THEN ?2 ELSE last_synced_at END
                 WHERE id = ?3",
                params![unsynced, at, id],
            )?;
            Ok(())
        })
    }

    /// A device confirms it deleted everything it stored. Its token dies
    /// with it (a device wiped for wrong PINs is revoked too). Audited
    /// once; returns false when it had already said so.
    pub fn device_wiped(&self, id: &str, reason: WipeReason) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let at = now();
            let changed = tx.execute(
                "UPDATE devices SET wiped_at = ?1, revoked_at = coalesce(revoked_at, ?1),
                        enrol_code_hash = NULL
                 WHERE id = ?2 AND wiped_at IS NULL",
                params![at, id],
            )?;
            if changed > 0 {
                let detail = match reason {
                    WipeReason::Revoked => "after it was revoked",
                    WipeReason::WrongPin => "after too many wrong PINs",
                };
                audit_tx(
                    &tx,
                    &Audit {
                        device_id: Some(id),
                        action: "device_wiped",
                        detail,
                        ..Default::default()
                    },
                )?;
            }
            tx.commit()?;
            Ok(changed > 0)
        })
    }
}

/// `devices.revoked_by` for a revocation from the admin command line.
const BY_COMMAND_LINE: &str = "command line";

/// Who revoked a device, as its person's devices screen says it.
fn revoked_by(
    by: Option<&str>,
    person: Option<String>,
    label: Option<String>,
    same_person: bool,
) -> Option<String> {
    match (by?, person, label) {
        (BY_COMMAND_LINE, ..) => Some("the admin command line".into()),
        (_, Some(person), Some(label)) if same_person => Some(format!(
            "{person}, from their device \u{201c}{label}\u{201d}"
        )),
        (_, Some(person), Some(label)) => Some(format!("{person}, from \u{201c}{label}\u{201d}")),
        (device, ..) => Some(format!("device {device}")),
    }
}
