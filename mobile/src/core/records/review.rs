//! Oversight on visits: review decisions, annotations, addenda, and what
//! waits on whom.

use fieldvisit_shared::records::{
    self, Anchored, Annotation, ChangedSinceSignOff, ReviewStatus, TextField, VisitEdit,
};

use crate::core::CoreError;
use crate::core::device::{DeviceCore, new_item_id, now};
use fieldvisit_shared::records::VisitDoc;

/// A visit waiting on someone in its review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InReview {
    pub case_id: String,
    pub person_name: String,
    pub visit_id: String,
    pub started_at: String,
    pub author: String,
    /// When it reached this state.
    pub changed_at: String,
}

impl DeviceCore {
    /// Moves a visit on in its review, as this device's person: the author
    /// submits; a supervisor returns it (with `comment`) or signs it off.
    pub async fn decide(
        &self,
        visit_id: &str,
        status: ReviewStatus,
        comment: &str,
    ) -> Result<(), CoreError> {
        let edit = VisitEdit::Decide {
            id: new_item_id(),
            status,
            by: self.enrolment.person.id.clone(),
            at: now(),
            comment: comment.to_owned(),
        };
        self.edit(visit_id, edit).await
    }

    /// A supervisor's comment on characters `from..to` of a field; returns
    /// the annotation's id.
    pub async fn annotate(
        &self,
        visit_id: &str,
        field: TextField,
        from: usize,
        to: usize,
        body: &str,
    ) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::Annotate {
            id: id.clone(),
            field,
            from,
            to,
            body: body.to_owned(),
            author: self.enrolment.person.id.clone(),
            at: now(),
        };
        self.edit(visit_id, edit).await?;
        Ok(id)
    }

    pub async fn resolve_annotation(&self, visit_id: &str, id: &str) -> Result<(), CoreError> {
        let edit = VisitEdit::ResolveAnnotation {
            id: id.to_owned(),
            by: self.enrolment.person.id.clone(),
            at: now(),
        };
        self.edit(visit_id, edit).await
    }

    /// Words added to a signed-off visit, dated and attributed; returns
    /// the addendum's id.
    pub async fn add_addendum(&self, visit_id: &str, text: &str) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::AddAddendum {
            id: id.clone(),
            author: self.enrolment.person.id.clone(),
            at: now(),
            text: text.to_owned(),
        };
        self.edit(visit_id, edit).await?;
        Ok(id)
    }

    /// A visit's annotations, each with where its words are now.
    pub async fn annotations(
        &self,
        visit_id: &str,
    ) -> Result<Vec<(String, Annotation, Anchored)>, CoreError> {
        let handle = self.handle(visit_id).await?;
        handle.with_document(|doc| {
            let visit = records::read_visit(doc)?;
            let mut all: Vec<_> = visit
                .annotations
                .into_iter()
                .map(|(id, a)| {
                    let at = records::visit::anchor(doc, &a);
                    (id, a, at)
                })
                .collect();
            all.sort_by(|a, b| a.1.created_at.cmp(&b.1.created_at).then(a.0.cmp(&b.0)));
            Ok(all)
        })
    }

    /// The words of a signed-off visit that changed beside its sign-off.
    pub async fn since_sign_off(
        &self,
        visit_id: &str,
    ) -> Result<Vec<ChangedSinceSignOff>, CoreError> {
        let handle = self.handle(visit_id).await?;
        Ok(handle.with_document(|doc| records::visit::since_sign_off(doc))?)
    }

    /// Visits on this device's cases whose review stands at `status`
    /// (for a supervisor: submitted; for a worker: their own, returned),
    /// oldest first. Only visits already on this device are seen.
    pub async fn visits_in_review(
        &self,
        status: ReviewStatus,
        authored_by: Option<&str>,
    ) -> Result<Vec<InReview>, CoreError> {
        let mut found = Vec::new();
        for case in self.local.cases()? {
            let Ok(c) = self.case(&case.case_id).await else {
                continue;
            };
            for (visit_id, entry) in c.visits.iter() {
                if authored_by.is_some_and(|a| a != entry.author) {
                    continue;
                }
                let Ok(v) = self.read::<VisitDoc>(visit_id).await else {
                    continue;
                };
                if v.review.status == status {
                    found.push(InReview {
                        case_id: case.case_id.clone(),
                        person_name: case.person_name.clone(),
                        visit_id: visit_id.clone(),
                        started_at: v.started_at.clone(),
                        author: v.author.clone(),
                        changed_at: v.review.changed_at.clone(),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.changed_at.cmp(&b.changed_at));
        Ok(found)
    }
}
