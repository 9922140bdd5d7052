//! The audit log: who did what to which record, when.

use rusqlite::{Connection, params};

use super::{Db, now};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub device_id: Option<String>,
    pub person_id: Option<String>,
    pub action: String,
    pub document_id: Option<String>,
    pub case_id: Option<String>,
    pub detail: String,
}

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

    pub fn audit_entries(&self, action: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, device_id, person_id, action, document_id, case_id, detail
                 FROM audit_log WHERE ?1 IS NULL OR action = ?1 ORDER BY id DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![action, limit], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    device_id: r.get(2)?,
                    person_id: r.get(3)?,
                    action: r.get(4)?,
                    document_id: r.get(5)?,
                    case_id: r.get(6)?,
                    detail: r.get(7)?,
                })
            })?;
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
