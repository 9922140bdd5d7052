//! The practice's case record, read from the server (it needs a
//! connection: it is the merged record as the practice holds it, with
//! authorship and receipts only the server knows), and the events a worker
//! marks significant for the case's chronology.

use fieldvisit_shared::api::{AuditEntry, AuditFilter, Authorship, CaseRecord, SearchHit};
use fieldvisit_shared::records::{VisitEdit, VisitText};

use crate::core::CoreError;
use crate::core::device::{DeviceCore, new_item_id};

impl DeviceCore {
    /// The case record as the server holds it, or as it stood at `as_at`.
    pub async fn case_record(
        &self,
        case_id: &str,
        as_at: Option<&str>,
    ) -> Result<CaseRecord, CoreError> {
        self.api.case_record(case_id, as_at).await
    }

    pub async fn authorship(
        &self,
        document_id: &str,
        passage: &str,
    ) -> Result<Authorship, CoreError> {
        self.api.authorship(document_id, passage).await
    }

    pub async fn search(&self, query: &str) -> Result<Vec<SearchHit>, CoreError> {
        self.api.search(query).await
    }

    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CoreError> {
        self.api.audit(filter).await
    }

    /// Marks an event of this visit significant (for the case's
    /// chronology) as having happened `at`; its summary is then text like
    /// any other (`VisitText::Significant`). Returns its id.
    pub async fn add_significant(&self, visit_id: &str, at: &str) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::AddSignificant {
            id: id.clone(),
            at: at.to_owned(),
            by: self.enrolment.person.id.clone(),
        };
        self.edit(visit_id, edit).await?;
        Ok(id)
    }

    /// [`Self::add_significant`] with its summary.
    pub async fn mark_significant(
        &self,
        visit_id: &str,
        at: &str,
        summary: &str,
    ) -> Result<String, CoreError> {
        let id = self.add_significant(visit_id, at).await?;
        let text = VisitText::Significant { id: id.clone() };
        self.set_text(visit_id, text, summary).await?;
        Ok(id)
    }
}
