//! Mental capacity assessments: started from a visit, made and registered
//! at once as a visit is (an assessment is not urgent, so nothing holds it
//! back), listed in its case when made, and changed only through the typed
//! edits of `shared`, so the phone refuses exactly what the server's rules
//! would. Each edit is judged against the findings that conflict in the
//! document itself, so a completion waits while two assessors disagree.

use automerge::Automerge;
use fieldvisit_shared::records::capacity::{
    CapacityDoc, CapacityEdit, CapacityText, ChangedSinceCompletion, Computed, Evidence,
    EvidenceKind, Finding, FindingConflict, Findings, ImpairmentAnswer, Outcome, Part, conflicts,
    locate, outcome, read_capacity, since_completion,
};
use fieldvisit_shared::records::{
    Anchored, CaseEdit, CreativeMethod, Edit, Kind, RecordIndexEntry, Refusal,
};

use crate::core::CoreError;
use crate::core::device::{DeviceCore, new_item_id, now};
use crate::core::platform;
use fieldvisit_shared::records::VisitDoc;

/// Everything a screen shows of an assessment, read from one state of its
/// document, so the findings, their conflicts and what changed since
/// completion never disagree with one another.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentView {
    pub doc: CapacityDoc,
    pub conflicts: Vec<FindingConflict>,
    pub since_completion: Vec<ChangedSinceCompletion>,
}

/// A piece of evidence and where it stands in its visit now: the visit may
/// have been edited since it was linked, and the assessor must see both
/// the words relied on and what the record says today.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedEvidence {
    pub id: String,
    pub evidence: Evidence,
    /// The own-words passage's characters in the visit now; `None` when
    /// its words have all been deleted, or for an observation.
    pub at: Option<(usize, usize)>,
    /// What the visit says there now (the passage, or what the person
    /// expressed in the observation); `None` when gone or not on this
    /// device.
    pub now: Option<String>,
}

impl DeviceCore {
    /// Starts an assessment from a visit of the case, offline: it is in the
    /// local store, listed in its case, and queued for registration before
    /// this returns.
    pub async fn start_assessment(
        &self,
        case_id: &str,
        visit_id: &str,
    ) -> Result<String, CoreError> {
        let summary = self.case_summary(case_id)?;
        let visit = self.read::<VisitDoc>(visit_id).await?;
        if visit.case_id != case_id {
            return Err(CoreError::UnknownDocument(visit_id.to_owned()));
        }
        let created_at = now();
        let me = self.enrolment.person.id.clone();
        let assessment = CapacityDoc::new(case_id, visit_id, &me, &created_at);
        // Who may write one is the shared rule's to say (workers, not their
        // supervisors), asked here before anything is made.
        CapacityEdit::SetMethods(Vec::new()).allowed(&assessment, &[], &self.writer())?;
        let case_handle = self.handle(&summary.document_id).await?;
        let record = self
            .make_record(Kind::Capacity, case_id, &assessment, false)
            .await?;
        let edit = CaseEdit::IndexRecord {
            document_id: record.document_id.clone(),
            entry: RecordIndexEntry {
                kind: Kind::Capacity.as_str().to_owned(),
                created_at,
                author: me,
                nonce: record.nonce.clone(),
            },
        };
        case_handle.with_document(|doc| {
            doc.set_actor(self.actor.clone());
            edit.apply(doc)
        })?;
        platform::store_durable().await;
        let id = record.document_id.clone();
        self.to_outbox(record);
        Ok(id)
    }

    /// The findings recorded apart that disagree, as merged here.
    pub async fn assessment_conflicts(
        &self,
        assessment_id: &str,
    ) -> Result<Vec<FindingConflict>, CoreError> {
        let handle = self.handle(assessment_id).await?;
        Ok(handle.with_document(|doc| conflicts(doc)))
    }

    pub async fn assessment_view(&self, assessment_id: &str) -> Result<AssessmentView, CoreError> {
        let handle = self.handle(assessment_id).await?;
        Ok(handle.with_document(|doc| {
            Ok::<_, fieldvisit_shared::Error>(AssessmentView {
                doc: read_capacity(doc)?,
                conflicts: conflicts(doc),
                since_completion: since_completion(doc)?,
            })
        })?)
    }

    /// The assessments of a case, newest first: those this device knows,
    /// and any the case lists that a colleague made since the last refresh.
    pub async fn assessments_of_case(
        &self,
        case_id: &str,
    ) -> Result<Vec<(String, CapacityDoc)>, CoreError> {
        let kind = Kind::Capacity.as_str();
        if let Ok(case) = self.case(case_id).await {
            for (id, entry) in &case.records {
                if entry.kind == kind {
                    self.local.add_document(id, case_id, kind)?;
                }
            }
        }
        self.records_of(case_id, |a: &CapacityDoc| &a.created_at)
            .await
    }

    /// Makes one typed edit, written as this device's actor, once the
    /// shared rules allow it to this device's person on the assessment as
    /// merged here, conflicts included.
    pub async fn edit_assessment(
        &self,
        assessment_id: &str,
        edit: CapacityEdit,
    ) -> Result<(), CoreError> {
        self.edit(assessment_id, edit).await?;
        platform::store_durable().await;
        Ok(())
    }

    pub(crate) async fn set_assessment_text(
        &self,
        assessment_id: &str,
        text: CapacityText,
        value: &str,
    ) -> Result<(), CoreError> {
        // Made durable by `save`, which writes every text this way.
        let edit = CapacityEdit::SetText {
            text,
            value: value.to_owned(),
        };
        self.edit(assessment_id, edit).await
    }

    /// Records (or records again, settling a conflict) this person's
    /// finding for a part of the functional test.
    pub async fn record_finding(
        &self,
        assessment_id: &str,
        part: Part,
        finding: Finding,
    ) -> Result<(), CoreError> {
        let edit = CapacityEdit::RecordFinding {
            part,
            finding,
            by: self.enrolment.person.id.clone(),
            at: now(),
        };
        self.edit_assessment(assessment_id, edit).await
    }

    /// Answers whether the inability is because of an impairment of the
    /// mind or brain (asked only once a part is not met).
    pub async fn record_impairment(
        &self,
        assessment_id: &str,
        answer: ImpairmentAnswer,
    ) -> Result<(), CoreError> {
        let edit = CapacityEdit::RecordImpairment {
            answer,
            by: self.enrolment.person.id.clone(),
            at: now(),
        };
        self.edit_assessment(assessment_id, edit).await
    }

    /// `at`: RFC 3339.
    pub async fn set_assessed_at(&self, assessment_id: &str, at: &str) -> Result<(), CoreError> {
        self.edit_assessment(assessment_id, CapacityEdit::SetAssessedAt(at.to_owned()))
            .await
    }

    pub async fn set_assessment_methods(
        &self,
        assessment_id: &str,
        methods: &[CreativeMethod],
    ) -> Result<(), CoreError> {
        self.edit_assessment(assessment_id, CapacityEdit::SetMethods(methods.to_vec()))
            .await
    }

    /// Completes the assessment with the outcome its findings lead to: the
    /// assessor never states it, so it cannot contradict them. Refused with
    /// the shared rule's reason while anything is missing or in conflict.
    pub async fn complete_assessment(&self, assessment_id: &str) -> Result<Outcome, CoreError> {
        // What was typed a moment ago belongs in what is completed.
        self.settle_drafts_of(assessment_id).await;
        let by = self.enrolment.person.id.clone();
        let edit = self
            .edit_with(assessment_id, |assessment: &CapacityDoc, _| {
                Ok(CapacityEdit::Complete {
                    id: new_item_id(),
                    outcome: claim(assessment),
                    by,
                    at: now(),
                })
            })
            .await?;
        platform::store_durable().await;
        match edit {
            CapacityEdit::Complete { outcome, .. } => Ok(outcome),
            _ => Err(CoreError::Internal("a completion that was not one".into())),
        }
    }

    /// What completing `view` now would record, or the shared rule's
    /// reason it cannot be completed yet: what a screen shows as the next
    /// thing to do, with no write.
    pub fn completion(&self, view: &AssessmentView) -> Result<Outcome, Refusal> {
        let claimed = claim(&view.doc);
        let edit = CapacityEdit::Complete {
            id: String::new(),
            outcome: claimed,
            by: self.enrolment.person.id.clone(),
            at: now(),
        };
        edit.allowed(&view.doc, &view.conflicts, &self.writer())?;
        Ok(claimed)
    }

    /// Reopens a complete assessment; `reason` stays in its history.
    pub async fn reopen_assessment(
        &self,
        assessment_id: &str,
        reason: &str,
    ) -> Result<(), CoreError> {
        let edit = CapacityEdit::Reopen {
            id: new_item_id(),
            by: self.enrolment.person.id.clone(),
            at: now(),
            reason: reason.to_owned(),
        };
        self.edit_assessment(assessment_id, edit).await
    }

    /// Links characters `from..to` of the person's own words in `visit_id`
    /// as evidence, anchored so it stays on those words as the visit is
    /// edited. Returns the evidence id.
    pub async fn link_own_words(
        &self,
        assessment_id: &str,
        visit_id: &str,
        from: usize,
        to: usize,
    ) -> Result<String, CoreError> {
        let visit = self.handle(visit_id).await?;
        let by = self.enrolment.person.id.clone();
        let evidence =
            visit.with_document(|doc| Evidence::own_words(doc, visit_id, from, to, &by, &now()))?;
        self.add_evidence(assessment_id, evidence).await
    }

    /// Links a creative-method observation of `visit_id` as evidence.
    /// Returns the evidence id.
    pub async fn link_creative(
        &self,
        assessment_id: &str,
        visit_id: &str,
        observation_id: &str,
    ) -> Result<String, CoreError> {
        let visit = self.handle(visit_id).await?;
        let by = self.enrolment.person.id.clone();
        let evidence = visit
            .with_document(|doc| Evidence::creative(doc, visit_id, observation_id, &by, &now()))?;
        self.add_evidence(assessment_id, evidence).await
    }

    async fn add_evidence(
        &self,
        assessment_id: &str,
        evidence: Evidence,
    ) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = CapacityEdit::AddEvidence {
            id: id.clone(),
            evidence: Box::new(evidence),
        };
        self.edit_assessment(assessment_id, edit).await?;
        Ok(id)
    }

    /// The assessment's evidence, oldest first, each with where it stands
    /// in its visit now.
    pub async fn linked_evidence(
        &self,
        assessment_id: &str,
    ) -> Result<Vec<LinkedEvidence>, CoreError> {
        let assessment = self.read::<CapacityDoc>(assessment_id).await?;
        let mut out = Vec::new();
        for (id, evidence) in assessment.evidence {
            let (at, now) = match self.handle(&evidence.visit_id).await {
                Ok(visit) => visit.with_document(|doc| where_now(doc, &evidence)),
                Err(e) => {
                    tracing::debug!(visit = %evidence.visit_id, error = %e, "evidence's visit not here");
                    (None, None)
                }
            };
            out.push(LinkedEvidence {
                id,
                evidence,
                at,
                now,
            });
        }
        out.sort_by(|a, b| (&a.evidence.added_at, &a.id).cmp(&(&b.evidence.added_at, &b.id)));
        Ok(out)
    }
}

/// The outcome a completion claims: the one the findings lead to. While
/// they lead to none, any claim is refused with what is still to record
/// (after anything that comes before it), so which is claimed is moot.
fn claim(assessment: &CapacityDoc) -> Outcome {
    match outcome(&Findings::of(assessment)) {
        Computed::Decided(found) => found,
        Computed::Incomplete(_) => Outcome::HasCapacity,
    }
}

/// Where a piece of evidence is in its visit's document now, and what is
/// written there.
fn where_now(visit: &Automerge, evidence: &Evidence) -> (Option<(usize, usize)>, Option<String>) {
    let Ok(read) = fieldvisit_shared::records::read_visit(visit) else {
        return (None, None);
    };
    match evidence.kind {
        EvidenceKind::OwnWords => match locate(visit, evidence) {
            Anchored::At { from, to } => {
                let words: String = read
                    .own_words
                    .text
                    .as_str()
                    .chars()
                    .skip(from)
                    .take(to.saturating_sub(from))
                    .collect();
                (Some((from, to)), Some(words))
            }
            Anchored::Deleted => (None, None),
        },
        EvidenceKind::Creative => (
            None,
            read.creative
                .get(&evidence.observation)
                .map(|o| o.expressed.as_str().to_owned()),
        ),
    }
}

/// The person's own words cut into passages an assessor can link one by
/// one (sentences and lines), as character ranges with their edges'
/// spaces left out: selecting characters on a phone is fiddly and
/// inaccessible, choosing a sentence is neither.
pub fn own_words_passages(text: &str) -> Vec<std::ops::Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut push = |from: usize, to: usize| {
        let from = (from..to)
            .find(|&i| !chars[i].is_whitespace())
            .unwrap_or(to);
        let to = (from..to)
            .rev()
            .find(|&i| !chars[i].is_whitespace())
            .map_or(from, |i| i + 1);
        if from < to {
            out.push(from..to);
        }
    };
    for (i, c) in chars.iter().enumerate() {
        let ends = match c {
            '\n' => true,
            '.' | '!' | '?' => chars.get(i + 1).is_none_or(|n| n.is_whitespace()),
            _ => false,
        };
        if ends {
            push(start, i + 1);
            start = i + 1;
        }
    }
    push(start, chars.len());
    out
}

#[cfg(test)]
mod tests {
    use super::own_words_passages;

    #[test]
    fn own_words_are_cut_at_sentences_and_lines() {
        let text = "I want to stay here.  My cat needs me!\nNo home 2.5 miles away ";
        let got: Vec<String> = own_words_passages(text)
            .into_iter()
            .map(|r| text.chars().skip(r.start).take(r.len()).collect())
            .collect();
        assert_eq!(
            got,
            [
                "I want to stay here.",
                "My cat needs me!",
                "No home 2.5 miles away"
            ]
        );
        assert!(own_words_passages("  \n ").is_empty());
        let accents = "Café é bom. Sí.";
        assert_eq!(own_words_passages(accents), [0..11, 12..15]);
    }
}
