//! The audit log: who did what to which record, when.

use fieldvisit_shared::api::{AuditEntry, AuditFilter};
use rusqlite::{Connection, params};

use super::{Db, now};
use crate::error::Result;

/// What to write to the audit log.
#[derive(Debug, Clone, Default)]
pub struct Audit<'a> {
    pub device_id: Option<&'a str>,
    pub person_id: Option<&'a str>,
    pub action: &'a str,
    pub document_id: Option<&'a str>,
    pub case_id: Option<&'a str>,
    pub detail: &'a str,
}

/// The most bytes of detail a row keeps: enough for any reason the server
/// writes; a device's own strings (a type, a key, an error text) are cut
/// there, and their control characters shown as escapes, never kept whole.
pub const MAX_DETAIL_BYTES: usize = 300;

/// What a device's refusals may write per minute: past this, they are
/// counted, and one row says how many were not written.
pub const REFUSALS_PER_MINUTE: u32 = 30;

/// Actions that record something a device did and the server refused: a
/// hostile device can make as many as it likes, so they are budgeted
/// ([`RefusalBudget`]). Everything else (reads, decisions, enrolments) is
/// written whole, always.
const REFUSALS: &[&str] = &[
    "malformed_message",
    "message_too_large",
    "change_refused",
    "request_refused",
    "ephemeral_dropped",
    "write_deferred",
    "rate_limited",
    "register_refused",
    "blob_refused",
];

/// Each device's refusals written in the current minute, remembered across
/// its connections (a device that reconnects does not start afresh).
#[derive(Debug, Default)]
pub struct RefusalBudget {
    devices: std::sync::Mutex<std::collections::HashMap<String, Minute>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Minute {
    started: i64,
    written: u32,
    withheld: u64,
}

/// What to do with one refusal row.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    Write,
    /// Write it, after a row saying how many the last minute withheld.
    WriteAfter {
        withheld: u64,
        since: i64,
    },
    /// The budget is spent: say so once, in this row's stead.
    Spent,
    /// Counted, not written.
    Withhold,
}

impl RefusalBudget {
    /// Whether a row of `action` for `device` (at `now`, Unix seconds) is
    /// written.
    pub fn admit(&self, device: Option<&str>, action: &str, now: i64) -> Admit {
        let (Some(device), true) = (device, REFUSALS.contains(&action)) else {
            return Admit::Write;
        };
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        // Forget devices quiet for over a minute: the map holds only those
        // refused lately.
        if devices.len() > 10_000 {
            devices.retain(|_, m| now - m.started < 60 || m.withheld > 0);
        }
        let m = devices.entry(device.to_owned()).or_default();
        if now - m.started >= 60 {
            let was = *m;
            *m = Minute {
                started: now,
                written: 1,
                withheld: 0,
            };
            return if was.withheld > 0 {
                Admit::WriteAfter {
                    withheld: was.withheld,
                    since: was.started,
                }
            } else {
                Admit::Write
            };
        }
        m.written += 1;
        match m.written.cmp(&(REFUSALS_PER_MINUTE + 1)) {
            std::cmp::Ordering::Less => Admit::Write,
            std::cmp::Ordering::Equal => Admit::Spent,
            std::cmp::Ordering::Greater => {
                m.withheld += 1;
                Admit::Withhold
            }
        }
    }
}

impl Db {
    /// Writes `entry`, within its device's refusal budget.
    pub fn audit(&self, entry: &Audit<'_>) -> Result<()> {
        self.with(|c| {
            audit_budgeted(c, &self.refusals, entry)?;
            Ok(())
        })
    }

    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let limit = f.limit.unwrap_or(100).clamp(1, 1000);
        let blank = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        self.reading(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT l.id, l.at, l.device_id, l.person_id, p.name, l.action, l.document_id,
                        coalesce(l.case_id, d.case_id), cs.reference, l.detail
                 FROM audit_log l
                 LEFT JOIN people p ON p.id = l.person_id
                 LEFT JOIN documents d ON d.document_id = l.document_id
                 LEFT JOIN cases cs ON cs.id = coalesce(l.case_id, d.case_id)
                 WHERE (?1 IS NULL OR l.action = ?1)
                   AND (?2 IS NULL OR l.person_id = ?2)
                   AND (?3 IS NULL OR coalesce(l.case_id, d.case_id) = ?3)
                   AND (?4 IS NULL OR l.at >= ?4)
                   AND (?5 IS NULL OR l.at <= ?5)
                   AND (?7 IS NULL OR l.id < ?7)
                 ORDER BY l.id DESC LIMIT ?6",
            )?;
            let rows = stmt.query_map(
                params![
                    blank(&f.action),
                    blank(&f.person_id),
                    blank(&f.case_id),
                    blank(&f.since),
                    blank(&f.until),
                    limit,
                    f.before
                ],
                |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        device_id: r.get(2)?,
                        person_id: r.get(3)?,
                        person_name: r.get(4)?,
                        action: r.get(5)?,
                        document_id: r.get(6)?,
                        case_id: r.get(7)?,
                        case_reference: r.get(8)?,
                        detail: r.get(9)?,
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// [`audit_tx`], within the device's refusal budget.
pub(super) fn audit_budgeted(
    c: &Connection,
    budget: &RefusalBudget,
    e: &Audit<'_>,
) -> rusqlite::Result<()> {
    match budget.admit(e.device_id, e.action, chrono::Utc::now().timestamp()) {
        Admit::Write => audit_tx(c, e),
        Admit::WriteAfter { withheld, since } => {
            let since = chrono::DateTime::from_timestamp(since, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
            let detail = format!(
                "{withheld} more refusals of this device in the minute from {since} were counted, not written"
            );
            audit_tx(
                c,
                &Audit {
                    action: "audit_withheld",
                    detail: &detail,
                    document_id: None,
                    case_id: None,
                    ..e.clone()
                },
            )?;
            audit_tx(c, e)
        }
        Admit::Spent => audit_tx(
            c,
            &Audit {
                action: "audit_withheld",
                detail: &format!(
                    "over {REFUSALS_PER_MINUTE} refusals of this device within a minute; the rest of the minute's are counted, not written"
                ),
                document_id: None,
                case_id: None,
                ..e.clone()
            },
        ),
        Admit::Withhold => Ok(()),
    }
}

/// `detail` as a row keeps it: at most [`MAX_DETAIL_BYTES`], control
/// characters escaped.
pub fn clip(detail: &str) -> std::borrow::Cow<'_, str> {
    if detail.len() <= MAX_DETAIL_BYTES && !detail.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(detail);
    }
    let mut out = String::new();
    for c in detail.chars() {
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        if out.len() + piece.len() > MAX_DETAIL_BYTES - '…'.len_utf8() {
            out.push('…');
            break;
        }
        out.push_str(&piece);
    }
    std::borrow::Cow::Owned(out)
}

pub(super) fn audit_tx(c: &Connection, e: &Audit<'_>) -> rusqlite::Result<()> {
    let detail = clip(e.detail);
    let action = clip(e.action);
    c.prepare_cached(
        "INSERT INTO audit_log (at, device_id, person_id, action, document_id, case_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now(),
        e.device_id,
        e.person_id,
        action.as_ref(),
        e.document_id,
        e.case_id,
        detail.as_ref()
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_or_strange_detail_is_cut_and_escaped() {
        assert_eq!(clip("visit signed off"), "visit signed off");
        let long = clip(&"x".repeat(1 << 20)).into_owned();
        assert!(long.len() <= MAX_DETAIL_BYTES && long.ends_with('…'));
        let strange = clip("a\u{0}b\nc\u{1b}[31m").into_owned();
        assert_eq!(strange, "a\\u{0}b\\nc\\u{1b}[31m");
        // Cut on a character, never inside one.
        let wide = clip(&"é".repeat(400)).into_owned();
        assert!(wide.len() <= MAX_DETAIL_BYTES && wide.chars().count() > 100);
    }

    #[test]
    fn a_devices_refusals_are_budgeted_per_minute_and_summed_up() {
        let budget = RefusalBudget::default();
        let t = 1_000_000;
        for _ in 0..REFUSALS_PER_MINUTE {
            assert_eq!(budget.admit(Some("d-1"), "change_refused", t), Admit::Write);
        }
        assert_eq!(
            budget.admit(Some("d-1"), "malformed_message", t + 5),
            Admit::Spent
        );
        for _ in 0..500 {
            assert_eq!(
                budget.admit(Some("d-1"), "change_refused", t + 10),
                Admit::Withhold
            );
        }
        // What is not a refusal is always written, and other devices have
        // budgets of their own.
        assert_eq!(
            budget.admit(Some("d-1"), "review_decision", t + 10),
            Admit::Write
        );
        assert_eq!(budget.admit(None, "change_refused", t + 10), Admit::Write);
        assert_eq!(
            budget.admit(Some("d-2"), "change_refused", t + 10),
            Admit::Write
        );
        // The next minute starts with the count of what was withheld.
        assert_eq!(
            budget.admit(Some("d-1"), "change_refused", t + 61),
            Admit::WriteAfter {
                withheld: 500,
                since: t
            }
        );
        assert_eq!(
            budget.admit(Some("d-1"), "change_refused", t + 62),
            Admit::Write
        );
    }
}
