use super::*;

/// One piece of text an assessor edits, named rather than addressed by raw
/// path, so a UI bug cannot write text into the wrong part of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapacityText {
    Decision,
    RelevantInformation,
    Steps,
    /// The evidence for a part of the functional test.
    PartEvidence(Part),
    /// The evidence for the answer to the impairment question.
    ImpairmentEvidence,
    BestInterests,
}

impl CapacityText {
    pub const ALL: [CapacityText; 9] = [
        CapacityText::Decision,
        CapacityText::RelevantInformation,
        CapacityText::Steps,
        CapacityText::PartEvidence(Part::Understand),
        CapacityText::PartEvidence(Part::Retain),
        CapacityText::PartEvidence(Part::UseOrWeigh),
        CapacityText::PartEvidence(Part::Communicate),
        CapacityText::ImpairmentEvidence,
        CapacityText::BestInterests,
    ];

    /// Where the text object lives in an assessment.
    pub fn path(self) -> Vec<&'static str> {
        match self {
            CapacityText::Decision => vec!["decision"],
            CapacityText::RelevantInformation => vec!["relevant_information"],
            CapacityText::Steps => vec!["steps"],
            CapacityText::PartEvidence(p) => {
                let mut path = Question::Part(p).path().to_vec();
                path.push("evidence");
                path
            }
            CapacityText::ImpairmentEvidence => vec!["impairment", "evidence"],
            CapacityText::BestInterests => vec!["best_interests"],
        }
    }

    /// A stable key within its assessment (the app's draft journal names
    /// pending text by it), read back by [`CapacityText::from_key`].
    pub fn key(self) -> String {
        match self {
            CapacityText::Decision => "decision".into(),
            CapacityText::RelevantInformation => "relevant_information".into(),
            CapacityText::Steps => "steps".into(),
            CapacityText::PartEvidence(p) => format!("part:{}", p.as_str()),
            CapacityText::ImpairmentEvidence => "impairment".into(),
            CapacityText::BestInterests => "best_interests".into(),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key.split_once(':') {
            Some(("part", part)) => Part::parse(part).map(CapacityText::PartEvidence),
            Some(_) => None,
            None => CapacityText::ALL
                .into_iter()
                .find(|t| !matches!(t, CapacityText::PartEvidence(_)) && t.key() == key),
        }
    }

    /// The current value in `doc`.
    pub fn read(self, doc: &CapacityDoc) -> &str {
        doc.text(self)
    }

    /// A name for error messages and validation.
    pub fn name(self) -> &'static str {
        match self {
            CapacityText::Decision => "decision",
            CapacityText::RelevantInformation => "relevant information",
            CapacityText::Steps => "practicable steps",
            CapacityText::PartEvidence(Part::Understand) => "evidence for understand",
            CapacityText::PartEvidence(Part::Retain) => "evidence for retain",
            CapacityText::PartEvidence(Part::UseOrWeigh) => "evidence for use or weigh",
            CapacityText::PartEvidence(Part::Communicate) => "evidence for communicate",
            CapacityText::ImpairmentEvidence => "evidence of impairment",
            CapacityText::BestInterests => "best interests",
        }
    }
}

/// The typed edits of an assessment. The app changes one only through
/// these, never by raw path; the rules below say who may make each.
#[derive(Debug, Clone, PartialEq)]
pub enum CapacityEdit {
    SetText {
        text: CapacityText,
        value: String,
    },
    /// RFC 3339.
    SetAssessedAt(String),
    SetMethods(Vec<CreativeMethod>),
    /// Made by [`Evidence::own_words`] or [`Evidence::creative`], which
    /// read the visit; this edit only needs the assessment.
    AddEvidence {
        id: String,
        evidence: Box<Evidence>,
    },
    SetEvidenceNote {
        id: String,
        value: String,
    },
    /// Recorded again, it settles a conflict: the new value has every
    /// earlier one in its history.
    RecordFinding {
        part: Part,
        finding: Finding,
        by: String,
        at: String,
    },
    RecordImpairment {
        answer: ImpairmentAnswer,
        by: String,
        at: String,
    },
    Complete {
        id: String,
        outcome: Outcome,
        by: String,
        at: String,
    },
    Reopen {
        id: String,
        by: String,
        at: String,
        reason: String,
    },
}

impl CapacityEdit {
    /// [`crate::records::Edit::permitted`] with the document's conflicts already
    /// found (a screen that shows them has them): whether `writer` may
    /// make this edit to `doc` as it stands, from the same rules as
    /// [`check`]. `conflicts` are those of the document `doc` was read
    /// from.
    pub fn allowed(
        &self,
        doc: &CapacityDoc,
        conflicts: &[FindingConflict],
        writer: &Writer<'_>,
    ) -> Result<(), Refusal> {
        may_write(writer)?;
        match self {
            CapacityEdit::SetText { .. }
            | CapacityEdit::SetAssessedAt(_)
            | CapacityEdit::SetMethods(_) => not_complete(doc),
            CapacityEdit::AddEvidence { id, evidence } => {
                signed_as(writer, &evidence.added_by)?;
                not_complete(doc)?;
                if doc.evidence.contains_key(id) {
                    return Err(Refusal::new(
                        "evidence_exists",
                        format!("evidence {id} is already linked"),
                    ));
                }
                Ok(())
            }
            CapacityEdit::SetEvidenceNote { id, .. } => {
                not_complete(doc)?;
                if doc.evidence.contains_key(id) {
                    Ok(())
                } else {
                    Err(Refusal::new(
                        "unknown_evidence",
                        format!("no evidence {id}"),
                    ))
                }
            }
            CapacityEdit::RecordFinding { by, .. } => {
                signed_as(writer, by)?;
                not_complete(doc)
            }
            CapacityEdit::RecordImpairment { by, .. } => {
                signed_as(writer, by)?;
                not_complete(doc)?;
                if Findings::of(doc).not_met().is_empty() {
                    return Err(Refusal::new(
                        "impairment_not_asked",
                        "the impairment question is asked only where a part of the functional test is not met",
                    ));
                }
                Ok(())
            }
            CapacityEdit::Complete { outcome, by, .. } => {
                signed_as(writer, by)?;
                if doc.status == Status::Complete {
                    return Err(Refusal::new(
                        "status_transition",
                        "this assessment is already complete",
                    ));
                }
                ready_to_complete(doc, conflicts, *outcome)
            }
            CapacityEdit::Reopen { by, reason, .. } => {
                signed_as(writer, by)?;
                if doc.status != Status::Complete {
                    return Err(Refusal::new(
                        "status_transition",
                        "only a complete assessment is reopened",
                    ));
                }
                reason_given(reason)
            }
        }
    }
}

impl crate::records::Edit for CapacityEdit {
    type Of = CapacityDoc;

    fn permitted(
        &self,
        record: &CapacityDoc,
        doc: &Automerge,
        writer: &Writer<'_>,
    ) -> Result<(), Refusal> {
        self.allowed(record, &conflicts(doc), writer)
    }

    /// Makes the edit in `doc` in one change (the caller has set the
    /// device's actor).
    fn apply(&self, doc: &mut Automerge) -> Result<(), crate::Error> {
        use crate::validate::{text, timestamp};
        match self {
            CapacityEdit::SetText { text: t, value } => {
                text(t.name(), value)?;
                doc::update_text(doc, &t.path(), value)
            }
            CapacityEdit::SetAssessedAt(at) => {
                timestamp("assessed_at", at)?;
                doc::put_at(doc, &[], "assessed_at", at)
            }
            CapacityEdit::SetMethods(methods) => doc::put_at(doc, &[], "methods", methods),
            CapacityEdit::AddEvidence { id, evidence } => {
                if let Some(e) = evidence_problems(id, evidence).into_iter().next() {
                    return Err(e.into());
                }
                // Fresh texts: a hydrated one belongs to the document it
                // was read from.
                let evidence = Evidence {
                    quote: Text::with_value(evidence.quote.as_str()),
                    note: Text::with_value(evidence.note.as_str()),
                    ..(**evidence).clone()
                };
                doc::put_in_map(doc, &[], "evidence", id, &evidence)
            }
            CapacityEdit::SetEvidenceNote { id, value } => {
                text("evidence note", value)?;
                doc::update_text(doc, &["evidence", id.as_str(), "note"], value)
            }
            CapacityEdit::RecordFinding {
                part,
                finding,
                by,
                at,
            } => record(doc, Question::Part(*part), finding.as_str(), by, at),
            CapacityEdit::RecordImpairment { answer, by, at } => {
                record(doc, Question::Impairment, answer.as_str(), by, at)
            }
            CapacityEdit::Complete {
                id,
                outcome,
                by,
                at,
            } => {
                timestamp("at", at)?;
                let entry = StatusChange {
                    status: Status::Complete,
                    outcome: Some(*outcome),
                    by: by.clone(),
                    at: at.clone(),
                    reason: Text::default(),
                };
                change_status(doc, id, &entry, by, at)
            }
            CapacityEdit::Reopen { id, by, at, reason } => {
                timestamp("at", at)?;
                text("reason", reason)?;
                let entry = StatusChange {
                    status: Status::InProgress,
                    outcome: None,
                    by: by.clone(),
                    at: at.clone(),
                    reason: Text::with_value(reason),
                };
                change_status(doc, id, &entry, "", "")
            }
        }
    }
}

/// Writes a finding as a fresh map object at `finding`, in one change: two
/// written apart become a conflict that [`conflicts`] sees, each with its
/// own `by` and `at`, never a mix of the two.
pub(super) fn record(
    doc: &mut Automerge,
    question: Question,
    value: &str,
    by: &str,
    at: &str,
) -> Result<(), crate::Error> {
    use automerge::transaction::Transactable;
    crate::validate::timestamp("at", at)?;
    let path = question.path();
    doc::transact::<_, automerge::AutomergeError>(doc, |tx| {
        let Some(holder) = doc::map_at(tx, path)? else {
            return Err(automerge::AutomergeError::InvalidObjId(format!(
                "no map at {}",
                path.join(".")
            )));
        };
        let finding = tx.put_object(&holder, "finding", ObjType::Map)?;
        tx.put(&finding, "value", value)?;
        tx.put(&finding, "by", by)?;
        tx.put(&finding, "at", at)?;
        Ok(())
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}

/// A completion or reopening and the state it moves to, in one change:
/// never seen apart. Only what changes is written, so texts others are
/// editing are left alone.
pub(super) fn change_status(
    doc: &mut Automerge,
    id: &str,
    entry: &StatusChange,
    completed_by: &str,
    completed_at: &str,
) -> Result<(), crate::Error> {
    use automerge::transaction::Transactable;
    doc::transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
        let history = match tx.get(automerge::ROOT, "history")? {
            Some((Value::Object(ObjType::Map), history)) => history,
            _ => tx.put_object(automerge::ROOT, "history", ObjType::Map)?,
        };
        autosurgeon::reconcile_prop(tx, &history, id, entry)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "status", entry.status)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "outcome", entry.outcome)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "completed_by", completed_by)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "completed_at", completed_at)
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}
