//! The document registry: which case each document belongs to, and who
//! registered it.

use fieldvisit_shared::records::Kind;
use rusqlite::{OptionalExtension, params};

use super::cases::VISIBLE_CASES;
use super::{Audit, Db, Device, audit_budgeted, audit_tx, now};
use crate::error::{Error, Result};

/// The one answer for a document a device may not register: the same
/// whether the id exists elsewhere or nowhere.
fn not_registrable(document_id: &str) -> Error {
    Error::NotFound(format!("document {document_id} created on this device"))
}

impl Db {
    /// Claims a document for a case for the device that created it:
    /// `proves` answers whether the document id was made by the device whose
    /// stored token hash it is given (see `fieldvisit_shared::provenance`).
    /// Idempotent for the same case. A device that did not create the id
    /// gets the same answer whether or not the id is registered anywhere.
    pub fn register_document(
        &self,
        device: &Device,
        kind: Kind,
        case_id: &str,
        document_id: &str,
        proves: impl FnOnce(&str) -> bool,
    ) -> Result<bool> {
        let visible = self
            .cases_visible_to(&device.person.id)?
            .iter()
            .any(|c| c.case_id == case_id);
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let refuse = |detail: &str| -> Result<()> {
                audit_budgeted(&tx, &self.refusals, &Audit { device_id: Some(&device.id), person_id: Some(&device.person.id), action: "register_refused", document_id: Some(document_id), case_id: Some(case_id), detail })?;
                Ok(())
            };
            if !visible {
                refuse("not_assigned")?;
                tx.commit()?;
                return Err(Error::NotFound(format!("case {case_id}")));
            }
            let token_hash: Option<String> = tx
                .query_row("SELECT token_hash FROM devices WHERE id = ?1", [&device.id], |r| r.get(0))
                .optional()?
                .flatten();
            let existing: Option<(String, String, Option<String>)> = tx
                .query_row("SELECT case_id, kind, registered_by_device FROM documents WHERE document_id = ?1", [document_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            if !token_hash.as_deref().is_some_and(proves) {
                refuse(if existing.is_some() { "not_creator:registered" } else { "not_creator" })?;
                tx.commit()?;
                return Err(not_registrable(document_id));
            }
            match existing {
                Some((existing_case, existing_kind, _)) if existing_case == case_id && existing_kind == kind.as_str() => return Ok(false),
                Some((_, _, by)) if by.as_deref() == Some(device.id.as_str()) => {
                    // Its own document, already in another of its cases.
                    refuse("already_registered")?;
                    tx.commit()?;
                    return Err(Error::Conflict(format!("document {document_id} already belongs to another record")));
                }
                Some(_) => {
                    refuse("registered_by_another")?;
                    tx.commit()?;
                    return Err(not_registrable(document_id));
                }
                None => {}
            }
            tx.execute(
                "INSERT INTO documents (document_id, case_id, kind, registered_by_device, registered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![document_id, case_id, kind.as_str(), device.id, now()],
            )?;
            audit_tx(&tx, &Audit { device_id: Some(&device.id), person_id: Some(&device.person.id), action: kind.registered(), document_id: Some(document_id), case_id: Some(case_id), detail: "" })?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// What a registered document is and the case it belongs to.
    pub fn document_record(&self, document_id: &str) -> Result<Option<(String, String)>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT kind, case_id FROM documents WHERE document_id = ?1",
                [document_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
    }

    /// Registers a visit document created on the server (the demo seed).
    pub fn register_seeded_visit(
        &self,
        case_id: &str,
        document_id: &str,
        author: &str,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO documents (document_id, case_id, kind, registered_at) VALUES (?1, ?2, 'visit', ?3)",
                params![document_id, case_id, now()],
            )?;
            audit_tx(&tx, &Audit { person_id: Some(author), action: "visit_registered", document_id: Some(document_id), case_id: Some(case_id), detail: "seeded", ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }
}

impl Db {
    /// A case's own document and its visits' documents, in the order they
    /// were registered; `None` when there is no such case.
    /// A case's own document, its visits, and its other records with
    /// their kinds, oldest first.
    /// `None` alike for a case that does not exist and one `person_id` may
    /// not see, after the same one query: the time taken says nothing.
    pub fn case_documents(&self, person_id: &str, case_id: &str) -> Result<Option<CaseDocuments>> {
        self.reading(|c| {
            // Both questions asked every time, each on its own: one query
            // with both in it let SQLite skip the visibility part for a
            // case that does not exist.
            let case_doc: Option<String> = c
                .prepare_cached("SELECT document_id FROM cases WHERE id = ?1")?
                .query_row([case_id], |r| r.get(0))
                .optional()?;
            let visible: bool = c
                .prepare_cached(&format!(
                    "SELECT EXISTS(SELECT 1 FROM ({VISIBLE_CASES}) v WHERE v.case_id = ?2)"
                ))?
                .query_row([person_id, case_id], |r| r.get(0))?;
            let (Some(case_doc), true) = (case_doc, visible) else {
                return Ok(None);
            };
            let mut stmt = c.prepare_cached(
                "SELECT document_id, kind FROM documents WHERE case_id = ?1 AND kind != 'case' ORDER BY registered_at, document_id",
            )?;
            let all = stmt
                .query_map([case_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let (visits, others): (Vec<_>, Vec<_>) = all.into_iter().partition(|(_, k)| k == "visit");
            Ok(Some(CaseDocuments {
                case: case_doc,
                visits: visits.into_iter().map(|(d, _)| d).collect(),
                others: others
                    .into_iter()
                    .filter_map(|(d, k)| Some((d, Kind::parse(&k)?)))
                    .collect(),
            }))
        })
    }
}

/// The documents of one case, as the case record reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDocuments {
    pub case: String,
    pub visits: Vec<String>,
    pub others: Vec<(String, Kind)>,
}
