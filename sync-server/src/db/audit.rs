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

impl Db {
    pub fn audit(&self, entry: &Audit<'_>) -> Result<()> {
        self.with(|c| {
            audit_tx(c, entry)?;
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
                 ORDER BY l.id DESC LIMIT ?6",
            )?;
            let rows = stmt.query_map(
                params![
                    blank(&f.action),
                    blank(&f.person_id),
                    blank(&f.case_id),
                    blank(&f.since),
                    blank(&f.until),
                    limit
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

pub(super) fn audit_tx(c: &Connection, e: &Audit<'_>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO audit_log (at, device_id, person_id, action, document_id, case_id, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now(),
        e.device_id,
        e.person_id,
        e.action,
        e.document_id,
        e.case_id,
        e.detail
    ])?;
    Ok(())
}
