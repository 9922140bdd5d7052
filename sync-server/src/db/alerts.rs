//! Safeguarding alerts: one per concern that reached the server, the
//! supervisor's acknowledgement, and the webhook calls still to make.

use fieldvisit_shared::api::{AlertView, ConcernWebhook, PersonSummary};
use rusqlite::{OptionalExtension, params};

use super::cases::VISIBLE_CASES;
use super::{Audit, Db, audit_tx, now, role};
use crate::error::Result;

const WEBHOOK_URL: &str = "webhook_url";
const WEBHOOK_SECRET: &str = "webhook_secret";
const SAFEGUARDING_PHONE: &str = "safeguarding_phone";

/// A webhook call still to make.
#[derive(Clone, PartialEq, Eq)]
pub struct Delivery {
    pub alert_id: String,
    pub url: String,
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    pub created_at: String,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("alert_id", &self.alert_id)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// How one webhook attempt ended, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    Delivered {
        status: u16,
    },
    /// Tried again at `next_at` (RFC 3339).
    Failed {
        error: String,
        next_at: String,
    },
    /// The last attempt failed: no more.
    GaveUp {
        error: String,
    },
}

const ALERT_COLUMNS: &str =
    "a.id, a.document_id, a.case_id, c.reference, a.raised_by, r.name, r.role,
    a.raised_at, a.arrived_at, a.acknowledged_by, k.name, k.role, a.acknowledged_at";
const ALERT_FROM: &str = "alerts a JOIN cases c ON c.id = a.case_id
    JOIN people r ON r.id = a.raised_by LEFT JOIN people k ON k.id = a.acknowledged_by";

fn alert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertView> {
    let acknowledged_by = match (
        r.get::<_, Option<String>>(9)?,
        r.get::<_, Option<String>>(10)?,
        r.get::<_, Option<String>>(11)?,
    ) {
        (Some(id), Some(name), Some(r)) => Some(PersonSummary {
            id,
            name,
            role: role(&r)?,
        }),
        _ => None,
    };
    Ok(AlertView {
        id: r.get(0)?,
        document_id: r.get(1)?,
        case_id: r.get(2)?,
        case_reference: r.get(3)?,
        raised_by: PersonSummary {
            id: r.get(4)?,
            name: r.get(5)?,
            role: role(&r.get::<_, String>(6)?)?,
        },
        raised_at: r.get(7)?,
        arrived_at: r.get(8)?,
        acknowledged_by,
        acknowledged_at: r.get(12)?,
    })
}

impl Db {
    /// A concern arrived raised: its alert, audited, and (when the practice
    /// has a webhook) the call to make, all in one transaction, so a
    /// restart loses no pending delivery. `None` when it already had one
    /// (a concern alerts once, however often its changes arrive).
    pub fn raise_alert(
        &self,
        device_id: &str,
        document_id: &str,
        case_id: &str,
        raised_by: &str,
        raised_at: &str,
    ) -> Result<Option<AlertView>> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let id = format!("alert-{}", &crate::secrets::token()[..20]);
            let arrived_at = now();
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO alerts (id, document_id, case_id, raised_by, raised_at, arrived_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, document_id, case_id, raised_by, raised_at, arrived_at],
            )?;
            if inserted == 0 {
                return Ok(None);
            }
            let alert = tx.query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM {ALERT_FROM} WHERE a.id = ?1"),
                [&id],
                alert_row,
            )?;
            let detail = format!("alert {id}, raised at {raised_at}");
            audit_tx(&tx, &Audit { device_id: Some(device_id), person_id: Some(raised_by), action: "concern_raised", document_id: Some(document_id), case_id: Some(case_id), detail: &detail })?;
            let url: Option<String> = tx
                .query_row("SELECT value FROM settings WHERE key = ?1", [WEBHOOK_URL], |r| r.get(0))
                .optional()?;
            if let Some(url) = url {
                let body = ConcernWebhook {
                    id: id.clone(),
                    event: "safeguarding_concern.raised".into(),
                    case_id: case_id.into(),
                    case_reference: alert.case_reference.clone(),
                    document_id: document_id.into(),
                    raised_by: alert.raised_by.name.clone(),
                    raised_at: raised_at.into(),
                    arrived_at: arrived_at.clone(),
                };
                let body = serde_json::to_string(&body).map_err(|e| crate::error::Error::Internal(e.to_string()))?;
                tx.execute(
                    "INSERT INTO webhook_deliveries (alert_id, url, body, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![id, url, body, arrived_at],
                )?;
            }
            tx.commit()?;
            Ok(Some(alert))
        })
    }

    /// A supervisor acknowledged a concern (in its document); the first
    /// acknowledgement stands. `None` when it was already acknowledged.
    pub fn acknowledge_alert(
        &self,
        device_id: &str,
        document_id: &str,
        by: &str,
        at: &str,
    ) -> Result<Option<AlertView>> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let updated = tx.execute(
                "UPDATE alerts SET acknowledged_by = ?2, acknowledged_at = ?3
                 WHERE document_id = ?1 AND acknowledged_by IS NULL",
                params![document_id, by, at],
            )?;
            if updated == 0 {
                return Ok(None);
            }
            let alert = tx.query_row(
                &format!("SELECT {ALERT_COLUMNS} FROM {ALERT_FROM} WHERE a.document_id = ?1"),
                [document_id],
                alert_row,
            )?;
            let detail = format!("alert {} acknowledged at {at}", alert.id);
            audit_tx(
                &tx,
                &Audit {
                    device_id: Some(device_id),
                    person_id: Some(by),
                    action: "concern_acknowledged",
                    document_id: Some(document_id),
                    case_id: Some(&alert.case_id),
                    detail: &detail,
                },
            )?;
            tx.commit()?;
            Ok(Some(alert))
        })
    }

    /// The alerts of the cases `person_id` may see, newest first.
    pub fn alerts_for(&self, person_id: &str) -> Result<Vec<AlertView>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ALERT_COLUMNS} FROM {ALERT_FROM}
                 WHERE a.case_id IN ({VISIBLE_CASES}) ORDER BY a.arrived_at DESC LIMIT 200"
            ))?;
            let rows = stmt.query_map([person_id], alert_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Whether `person_id` may see case `case_id`'s alerts.
    pub fn sees_case(&self, person_id: &str, case_id: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT ?2 IN ({VISIBLE_CASES})"),
                params![person_id, case_id],
                |r| r.get(0),
            )?)
        })
    }

    /// The practice's webhook: URL and signing secret.
    pub fn webhook(&self) -> Result<Option<(String, String)>> {
        Ok(
            match (self.setting(WEBHOOK_URL)?, self.setting(WEBHOOK_SECRET)?) {
                (Some(url), Some(secret)) => Some((url, secret)),
                _ => None,
            },
        )
    }

    /// Sets (or, with `None`, removes) the practice's webhook. Calls
    /// already queued keep the URL they were made for.
    pub fn set_webhook(&self, webhook: Option<(&str, &str)>) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            match webhook {
                Some((url, secret)) => {
                    for (k, v) in [(WEBHOOK_URL, url), (WEBHOOK_SECRET, secret)] {
                        tx.execute(
                            "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                            params![k, v],
                        )?;
                    }
                    audit_tx(
                        &tx,
                        &Audit {
                            action: "webhook_set",
                            // Without its query: a receiver's token may ride there.
                            detail: url.split(['?', '#']).next().unwrap_or_default(),
                            ..Default::default()
                        },
                    )?;
                }
                None => {
                    tx.execute(
                        "DELETE FROM settings WHERE key IN (?1, ?2)",
                        params![WEBHOOK_URL, WEBHOOK_SECRET],
                    )?;
                    audit_tx(
                        &tx,
                        &Audit {
                            action: "webhook_removed",
                            ..Default::default()
                        },
                    )?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub fn safeguarding_phone(&self) -> Result<Option<String>> {
        self.setting(SAFEGUARDING_PHONE)
    }

    pub fn set_safeguarding_phone(&self, phone: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                params![SAFEGUARDING_PHONE, phone],
            )?;
            Ok(())
        })
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    /// Webhook calls due at `now` (RFC 3339), oldest first.
    pub fn due_deliveries(&self, now: &str) -> Result<Vec<Delivery>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT alert_id, url, body, attempts, created_at FROM webhook_deliveries
                 WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at LIMIT 20",
            )?;
            let rows = stmt.query_map([now], |r| {
                Ok(Delivery {
                    alert_id: r.get(0)?,
                    url: r.get(1)?,
                    body: r.get(2)?,
                    attempts: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// When the next pending call is due, if any.
    pub fn next_delivery_at(&self) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE delivered_at IS NULL AND given_up_at IS NULL",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Records one attempt, and audits it (every attempt is in the log).
    pub fn delivery_attempted(&self, alert_id: &str, outcome: &Attempted) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let at = now();
            let attempts: u32 = tx.query_row(
                "UPDATE webhook_deliveries SET attempts = attempts + 1 WHERE alert_id = ?1 RETURNING attempts",
                [alert_id],
                |r| r.get(0),
            )?;
            let (action, detail) = match outcome {
                Attempted::Delivered { status } => {
                    tx.execute("UPDATE webhook_deliveries SET delivered_at = ?2, last_error = NULL WHERE alert_id = ?1", params![alert_id, at])?;
                    ("webhook_delivered", format!("alert {alert_id}, attempt {attempts}: HTTP {status}"))
                }
                Attempted::Failed { error, next_at } => {
                    tx.execute("UPDATE webhook_deliveries SET next_attempt_at = ?2, last_error = ?3 WHERE alert_id = ?1", params![alert_id, next_at, error])?;
                    ("webhook_failed", format!("alert {alert_id}, attempt {attempts}: {error}; next at {next_at}"))
                }
                Attempted::GaveUp { error } => {
                    tx.execute("UPDATE webhook_deliveries SET given_up_at = ?2, last_error = ?3 WHERE alert_id = ?1", params![alert_id, at, error])?;
                    ("webhook_given_up", format!("alert {alert_id}, attempt {attempts}: {error}; no more attempts"))
                }
            };
            let case_id: Option<String> = tx.query_row("SELECT case_id FROM alerts WHERE id = ?1", [alert_id], |r| r.get(0)).optional()?;
            audit_tx(&tx, &Audit { action, case_id: case_id.as_deref(), detail: &detail, ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }
}
