//! Cases, assignments, and the facts the access rule decides on.

use fieldvisit_shared::api::{CaseSummary, Role};
use rusqlite::{OptionalExtension, params};

use super::{Audit, Db, audit_tx, now, role};
use crate::access::{self, Facts};
use crate::error::{Error, Result};

/// The ids of the cases person `?1` may see, as [`access::decide`] has it:
/// assigned to them, or to a worker they supervise. Every query that lists
/// what a person may see (cases, search) selects through this one.
pub(super) const VISIBLE_CASES: &str = "
    SELECT a.case_id FROM assignments a WHERE a.person_id = ?1
    UNION
    SELECT a.case_id FROM assignments a JOIN people w ON w.id = a.person_id
    JOIN people s ON s.id = ?1 AND s.role = 'supervisor'
    WHERE w.supervisor_id = ?1";

impl Db {
    pub fn insert_case(
        &self,
        id: &str,
        reference: &str,
        person_name: &str,
        document_id: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM cases WHERE reference = ?1)",
                [reference],
                |r| r.get(0),
            )?;
            if exists {
                return Err(Error::Conflict(format!("a case with reference {reference} already exists")));
            }
            let at = now();
            tx.execute(
                "INSERT INTO cases (id, reference, person_name, document_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, reference, person_name, document_id, at],
            )?;
            tx.execute(
                "INSERT INTO documents (document_id, case_id, kind, registered_at) VALUES (?1, ?2, 'case', ?3)",
                params![document_id, id, at],
            )?;
            audit_tx(&tx, &Audit { action: "case_added", case_id: Some(id), document_id: Some(document_id), ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn reference_taken(&self, reference: &str) -> Result<bool> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT EXISTS(SELECT 1 FROM cases WHERE reference = ?1)",
                [reference],
                |r| r.get(0),
            )?)
        })
    }

    pub fn assign(&self, case_id: &str, person_id: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let case_exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM cases WHERE id = ?1)", [case_id], |r| r.get(0))?;
            if !case_exists {
                return Err(Error::NotFound(format!("case {case_id}")));
            }
            let role_: Option<String> = tx
                .query_row("SELECT role FROM people WHERE id = ?1", [person_id], |r| r.get(0))
                .optional()?;
            match role_ {
                None => return Err(Error::NotFound(format!("person {person_id}"))),
                Some(r) if r == "admin" => {
                    return Err(Error::Conflict("an admin cannot be assigned to a case".into()));
                }
                Some(_) => {}
            }
            tx.execute(
                "INSERT OR IGNORE INTO assignments (case_id, person_id, assigned_at) VALUES (?1, ?2, ?3)",
                params![case_id, person_id, now()],
            )?;
            audit_tx(&tx, &Audit { person_id: Some(person_id), action: "assigned", case_id: Some(case_id), ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    /// Ends an assignment; returns false when there was none.
    pub fn unassign(&self, case_id: &str, person_id: &str) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let removed = tx.execute(
                "DELETE FROM assignments WHERE case_id = ?1 AND person_id = ?2",
                params![case_id, person_id],
            )?;
            if removed > 0 {
                audit_tx(
                    &tx,
                    &Audit {
                        person_id: Some(person_id),
                        action: "unassigned",
                        case_id: Some(case_id),
                        ..Default::default()
                    },
                )?;
            }
            tx.commit()?;
            Ok(removed > 0)
        })
    }

    /// Cases visible to a person: assigned to them, or to a worker they supervise.
    pub fn cases_visible_to(&self, person_id: &str) -> Result<Vec<CaseSummary>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT id, reference, person_name, document_id FROM cases
                     WHERE id IN ({VISIBLE_CASES}) ORDER BY reference"
            ))?;
            let rows = stmt.query_map([person_id], |r| {
                Ok(CaseSummary {
                    case_id: r.get(0)?,
                    reference: r.get(1)?,
                    person_name: r.get(2)?,
                    document_id: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// The facts [`access::decide`] needs for one device and one document.
    pub fn access_facts(&self, device_id: &str, document_id: &str) -> Result<Option<Facts>> {
        self.with(|c| {
            let device: Option<(String, String, bool)> = c
                .query_row(
                    "SELECT p.id, p.role, d.revoked_at IS NOT NULL FROM devices d JOIN people p ON p.id = d.person_id WHERE d.id = ?1",
                    [device_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((person_id, role_, revoked)) = device else {
                return Ok(None);
            };
            // One query whether the document exists or not: the time an
            // answer takes must not tell a device which ids are documents.
            let (document_case, assigned, supervises_assignee): (Option<String>, bool, bool) = c
                .prepare_cached(
                    "SELECT d.case_id,
                        EXISTS(SELECT 1 FROM assignments WHERE case_id = d.case_id AND person_id = ?2),
                        EXISTS(SELECT 1 FROM assignments a JOIN people w ON w.id = a.person_id
                               WHERE a.case_id = d.case_id AND w.supervisor_id = ?2)
                     FROM (SELECT ?1 AS id) q LEFT JOIN documents d ON d.document_id = q.id",
                )?
                .query_row(params![document_id, person_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(Some(Facts {
                device_revoked: revoked,
                role: match role(&role_)? {
                    Role::Worker => access::Role::Worker,
                    Role::Supervisor => access::Role::Supervisor,
                    Role::Reviewer => access::Role::Reviewer,
                    Role::Admin => access::Role::Admin,
                },
                document_case,
                assigned,
                supervises_assignee,
            }))
        })
    }
}
