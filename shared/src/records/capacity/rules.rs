use super::*;

// The rules, as predicates both the app (through `CapacityEdit::permitted`)
// and the server (through `check`) use.

/// An assessment is the assessor's own professional judgement: workers on
/// the case make it; a supervisor discusses it in supervision instead.
pub(super) fn may_write(writer: &Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Worker {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_a_worker",
            "only a worker on the case writes a capacity assessment",
        ))
    }
}

pub(super) const COMPLETED: &str =
    "this assessment is complete: reopen it, with a reason, to change it";

pub(super) fn not_complete(doc: &CapacityDoc) -> Result<(), Refusal> {
    if doc.status == Status::Complete {
        Err(Refusal::new("completed", COMPLETED))
    } else {
        Ok(())
    }
}

pub(super) fn reason_given(reason: &str) -> Result<(), Refusal> {
    if reason.trim().is_empty() {
        Err(Refusal::new(
            "reason_required",
            "say why the assessment is reopened",
        ))
    } else {
        Ok(())
    }
}

/// Everything the assessment records: what a completion closes.
pub(super) fn content(d: &CapacityDoc) -> impl PartialEq + '_ {
    (
        (&d.decision, &d.assessed_at, &d.relevant_information),
        (&d.steps, &d.methods, &d.evidence),
        (&d.test, &d.impairment, &d.best_interests),
    )
}

/// What stays as the evidence was linked: where it points and who linked
/// it when (its note may be edited).
pub(super) fn evidence_fixed(e: &Evidence) -> impl PartialEq + '_ {
    (
        e.kind,
        (&e.visit_id, &e.observation, &e.start, &e.end),
        (&e.quote, &e.added_by, &e.added_at),
    )
}

pub(super) fn evidence_problems(id: &str, e: &Evidence) -> Vec<ValidationError> {
    use crate::validate::{text, timestamp};
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(crate::validate::id("evidence.visit_id", &e.visit_id));
    check(timestamp("evidence.added_at", &e.added_at));
    check(text("evidence.quote", e.quote.as_str()));
    check(text("evidence.note", e.note.as_str()));
    let points = match e.kind {
        EvidenceKind::OwnWords => {
            !e.start.is_empty() && !e.end.is_empty() && e.observation.is_empty()
        }
        EvidenceKind::Creative => {
            crate::validate::id("evidence.observation", &e.observation).is_ok()
                && e.start.is_empty()
                && e.end.is_empty()
        }
    };
    if !points {
        check(Err(ValidationError::BadAnchor {
            id: format!("evidence {id}"),
        }));
    }
    errors
}

/// Every problem with an assessment, not just the first.
pub(super) fn problems(d: &CapacityDoc) -> Vec<ValidationError> {
    use crate::validate::{id, text, timestamp};
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(id("case_id", &d.case_id));
    check(id("visit_id", &d.visit_id));
    check(id("author", &d.author));
    check(timestamp("created_at", &d.created_at));
    if !d.assessed_at.is_empty() {
        check(timestamp("assessed_at", &d.assessed_at));
    }
    for t in CapacityText::ALL {
        check(text(t.name(), d.text(t)));
    }
    for question in Question::ALL {
        if let Some((_, at)) = d.signature(question) {
            check(timestamp("finding.at", at));
        }
    }
    for change in d.history.values() {
        check(timestamp("history.at", &change.at));
        check(text("history.reason", change.reason.as_str()));
    }
    if d.status == Status::Complete {
        check(timestamp("completed_at", &d.completed_at));
    }
    errors.extend(
        d.evidence
            .iter()
            .flat_map(|(key, e)| evidence_problems(key, e)),
    );
    errors
}

pub(super) fn unreadable(e: impl fmt::Display) -> Refusal {
    Refusal::new(
        "wrong_shape",
        format!("the record does not have the shape of its kind: {e}"),
    )
}

/// The assessment as it was at `heads`.
pub(super) fn state_at(
    doc: &Automerge,
    heads: &[ChangeHash],
) -> Result<(Automerge, CapacityDoc), Refusal> {
    let at = doc.fork_at(heads).map_err(unreadable)?;
    let read = autosurgeon::hydrate(&at).map_err(unreadable)?;
    Ok((at, read))
}

/// Which change made each operation: automerge names objects and values by
/// the operation that made them, and the rules ask who wrote what.
pub(super) struct Writes(Vec<(ActorId, RangeInclusive<u64>, ChangeHash, u64)>);

impl Writes {
    fn of<'a>(changes: impl IntoIterator<Item = automerge::ChangeMetadata<'a>>) -> Self {
        Writes(
            changes
                .into_iter()
                .map(|c| (c.actor.into_owned(), c.start_op..=c.max_op, c.hash, c.seq))
                .collect(),
        )
    }

    /// The batch's own changes.
    fn in_batch(doc: &Automerge, new: &HashSet<ChangeHash>) -> Self {
        Writes::of(new.iter().filter_map(|h| doc.get_change_meta_by_hash(h)))
    }

    /// The change (and its sequence number) that made `id`, if it is one
    /// of these.
    fn change(&self, id: &ObjId) -> Option<(ChangeHash, u64)> {
        let ObjId::Id(counter, actor, _) = id else {
            return None;
        };
        self.0
            .iter()
            .find(|(a, ops, _, _)| a == actor && ops.contains(counter))
            .map(|(_, _, hash, seq)| (*hash, *seq))
    }

    fn made(&self, id: &ObjId) -> bool {
        self.change(id).is_some()
    }
}

/// The object of history entry `id`.
pub(super) fn entry_object(doc: &Automerge, id: &str) -> Option<ObjId> {
    let history = doc::map_at(doc, &["history"]).ok().flatten()?;
    match doc.get(&history, id) {
        Ok(Some((Value::Object(ObjType::Map), entry))) => Some(entry),
        _ => None,
    }
}

/// The rules of an assessment, for a batch of changes by one writer.
pub fn check(
    before: &Option<CapacityDoc>,
    after: &CapacityDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    let writer = &cx.writer;
    may_write(writer)?;
    let batch = Writes::in_batch(after_doc, new);
    let Some(before) = before else {
        creation(after, after_doc, &batch, cx)?;
        return Ok(Accepted::default());
    };
    if (
        &after.case_id,
        &after.visit_id,
        &after.author,
        &after.created_at,
    ) != (
        &before.case_id,
        &before.visit_id,
        &before.author,
        &before.created_at,
    ) {
        return Err(Refusal::new(
            "fixed_field",
            "an assessment's case, visit, author and creation time are set when it is made",
        ));
    }
    check_evidence(before, after, writer)?;
    check_findings(Some(before), after, after_doc, &batch, writer)?;
    let status_changes = check_status(before, after, after_doc, new, &batch, writer)?;
    after_completion_leaves_content(after, after_doc, new)?;
    bounded(after)?;
    valid(problems(after))?;
    Ok(Accepted {
        status_changes,
        ..Accepted::default()
    })
}

/// The most evidence links and status changes an assessment holds:
/// generous for any real assessment, and a hand-made peer cannot grow one
/// without end (every phone on the case syncs it, every case record reads
/// it).
pub(super) const MAX_EVIDENCE: usize = 200;
pub(super) const MAX_HISTORY: usize = 100;
pub(super) const MAX_METHODS: usize = 24;

pub(super) fn bounded(a: &CapacityDoc) -> Result<(), Refusal> {
    if a.evidence.len() > MAX_EVIDENCE || a.history.len() > MAX_HISTORY {
        return Err(Refusal::new(
            "too_large",
            format!(
                "an assessment holds at most {MAX_EVIDENCE} pieces of evidence and {MAX_HISTORY} completions and reopenings"
            ),
        ));
    }
    // Counted, not deduplicated: two assessors naming the same method
    // offline may leave it twice in the merged list, and their next edit
    // must not be refused for it.
    if a.methods.len() > MAX_METHODS {
        return Err(Refusal::new(
            "too_large",
            format!("an assessment names at most {MAX_METHODS} creative methods"),
        ));
    }
    Ok(())
}

pub(super) fn creation(
    after: &CapacityDoc,
    after_doc: &Automerge,
    batch: &Writes,
    cx: &Context<'_>,
) -> Result<(), Refusal> {
    signed_as(&cx.writer, &after.author)?;
    if after.case_id != cx.case_id {
        return Err(Refusal::new(
            "wrong_case",
            "an assessment names the case it was registered to",
        ));
    }
    if after.status != Status::InProgress
        || after.outcome.is_some()
        || !after.completed_by.is_empty()
        || !after.completed_at.is_empty()
        || !after.history.is_empty()
    {
        return Err(Refusal::new(
            "not_in_progress",
            "a new assessment starts in progress, with nothing completed",
        ));
    }
    for e in after.evidence.values() {
        signed_as(&cx.writer, &e.added_by)?;
    }
    check_findings(None, after, after_doc, batch, &cx.writer)?;
    valid(problems(after))
}

pub(super) fn check_evidence(
    before: &CapacityDoc,
    after: &CapacityDoc,
    writer: &Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.evidence {
        let Some(now) = after.evidence.get(id) else {
            return Err(Refusal::new(
                "removed",
                format!("evidence {id} cannot be removed"),
            ));
        };
        if evidence_fixed(now) != evidence_fixed(was) {
            return Err(Refusal::new(
                "evidence_changed",
                format!("evidence {id} points where it pointed when it was linked"),
            ));
        }
    }
    for new in after
        .evidence
        .iter()
        .filter(|(id, _)| !before.evidence.contains_key(*id))
        .map(|(_, e)| e)
    {
        signed_as(writer, &new.added_by)?;
    }
    Ok(())
}

/// A finding the batch writes is signed by its writer; one recorded before
/// stands as recorded. Judged by object, not by value: a finding merged in
/// from another assessor was written by them, in an earlier batch.
pub(super) fn check_findings(
    before: Option<&CapacityDoc>,
    after: &CapacityDoc,
    after_doc: &Automerge,
    batch: &Writes,
    writer: &Writer<'_>,
) -> Result<(), Refusal> {
    for question in Question::ALL {
        if before.is_some_and(|b| b.signature(question).is_some())
            && after.signature(question).is_none()
        {
            return Err(Refusal::new(
                "removed",
                format!(
                    "the finding for {} cannot be removed; record it again instead",
                    question.name()
                ),
            ));
        }
        let Ok(Some(holder)) = doc::map_at(after_doc, question.path()) else {
            continue;
        };
        for (value, id) in after_doc.get_all(&holder, "finding").map_err(unreadable)? {
            let is_map = matches!(value, Value::Object(ObjType::Map));
            if !batch.made(&id) {
                if is_map && touched(after_doc, &id, batch)? {
                    return Err(Refusal::new(
                        "finding_changed",
                        format!(
                            "a finding for {} stands as it was recorded; record it again instead",
                            question.name()
                        ),
                    ));
                }
                continue;
            }
            if !is_map {
                // Null is "no finding": what a new assessment starts with;
                // written over a finding it is a removal, refused above.
                if matches!(&value, Value::Scalar(s) if s.is_null()) {
                    continue;
                }
                return Err(Refusal::new(
                    "invalid_value",
                    format!(
                        "a finding for {} is recorded whole, with who recorded it and when",
                        question.name()
                    ),
                ));
            }
            let (by, at) = match question {
                Question::Part(_) => {
                    Recorded::<Finding>::hydrate_map(after_doc, &id).map(|r| (r.by, r.at))
                }
                Question::Impairment => {
                    Recorded::<ImpairmentAnswer>::hydrate_map(after_doc, &id).map(|r| (r.by, r.at))
                }
            }
            .map_err(unreadable)?;
            signed_as(writer, &by)?;
            crate::validate::timestamp("finding.at", &at)
                .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
            if question == Question::Impairment && !impairment_asked(after, after_doc) {
                return Err(Refusal::new(
                    "impairment_not_asked",
                    "the impairment question is asked only where a part of the functional test is not met",
                ));
            }
        }
    }
    Ok(())
}

/// Whether some part is not met, in the winning findings or in findings
/// recorded apart that differ (an assessor who found a part not met and
/// answered the impairment question offline is not refused because a
/// colleague's "met" won the merge).
pub(super) fn impairment_asked(after: &CapacityDoc, after_doc: &Automerge) -> bool {
    !Findings::of(after).not_met().is_empty()
        || conflicts(after_doc).iter().any(|c| {
            matches!(c, FindingConflict::Part { values, .. }
                if values.iter().any(|v| v.value == Finding::NotMet))
        })
}

/// Whether the batch wrote any field of the object `obj`.
pub(super) fn touched(doc: &Automerge, obj: &ObjId, batch: &Writes) -> Result<bool, Refusal> {
    for key in doc.keys(obj) {
        if doc
            .get_all(obj, key.as_str())
            .map_err(unreadable)?
            .iter()
            .any(|(_, op)| batch.made(op))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The keys a completion or reopening sets; nothing else may.
pub(super) const STATUS_KEYS: [&str; 4] = ["status", "outcome", "completed_by", "completed_at"];

pub(super) fn status_fields(d: &CapacityDoc) -> impl PartialEq + '_ {
    (d.status, d.outcome, &d.completed_by, &d.completed_at)
}

/// History entries stand as made; each completion or reopening the batch
/// adds is signed by its writer, moves the assessment on from the state
/// that writer saw, and is made together with the state it moves to. A
/// completion must be one the app would permit, judged both as its writer
/// saw the assessment and as it now is (a conflict that arrived beside it
/// included). Returns the outcome when the batch leaves it complete.
pub(super) fn check_status(
    before: &CapacityDoc,
    after: &CapacityDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
    batch: &Writes,
    writer: &Writer<'_>,
) -> Result<Vec<(String, StatusChange)>, Refusal> {
    for (id, was) in &before.history {
        if after.history.get(id) != Some(was) {
            return Err(Refusal::new(
                "history_changed",
                format!("completion or reopening {id} cannot be changed or removed"),
            ));
        }
    }
    let unrecorded = || {
        Refusal::new(
            "status_unrecorded",
            "an assessment is completed or reopened only as recorded in its history, as made",
        )
    };
    let mut added = Vec::new();
    for (id, entry) in after
        .history
        .iter()
        .filter(|(id, _)| !before.history.contains_key(*id))
    {
        let made = entry_object(after_doc, id).and_then(|obj| batch.change(&obj));
        let Some((hash, seq)) = made else {
            return Err(unrecorded());
        };
        added.push((seq, hash, id, entry));
    }
    if added.is_empty() {
        return if status_fields(before) == status_fields(after) {
            Ok(Vec::new())
        } else {
            Err(unrecorded())
        };
    }
    // One writer's changes follow one another: their sequence numbers are
    // the order the entries were made in.
    added.sort_by_key(|(seq, _, _, _)| *seq);
    let mut state = before.status;
    let mut entry_changes = HashSet::new();
    for (_, hash, _, entry) in &added {
        signed_as(writer, &entry.by)?;
        crate::validate::timestamp("history.at", &entry.at)
            .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
        let deps = after_doc
            .get_change_meta_by_hash(hash)
            .map(|c| c.deps)
            .unwrap_or_default();
        let (_, seen) = state_at(after_doc, &deps)?;
        if entry.status == state || entry.status == seen.status {
            return Err(Refusal::new(
                "status_transition",
                match entry.status {
                    Status::Complete => "this assessment is already complete",
                    Status::InProgress => "only a complete assessment is reopened",
                },
            ));
        }
        let (then_doc, then) = state_at(after_doc, &[*hash])?;
        match (entry.status, entry.outcome) {
            (Status::Complete, Some(outcome)) => {
                if (
                    then.status,
                    then.outcome,
                    &then.completed_by,
                    &then.completed_at,
                ) != (Status::Complete, Some(outcome), &entry.by, &entry.at)
                {
                    return Err(unrecorded());
                }
                ready_to_complete(&then, &conflicts(&then_doc), outcome)?;
            }
            (Status::InProgress, None) => {
                reason_given(entry.reason.as_str())?;
                let cleared = then.completed_by.is_empty() && then.completed_at.is_empty();
                if (then.status, then.outcome, cleared) != (Status::InProgress, None, true) {
                    return Err(unrecorded());
                }
            }
            _ => return Err(unrecorded()),
        }
        state = entry.status;
        entry_changes.insert(*hash);
    }
    // What the batch leaves is what its last entry recorded, written by
    // an entry's own change.
    for key in STATUS_KEYS {
        let wrote = doc::change_that_wrote(after_doc, &[], key).map_err(unreadable)?;
        if wrote.is_some_and(|h| new.contains(&h) && !entry_changes.contains(&h)) {
            return Err(unrecorded());
        }
    }
    let Some((_, _, _, last)) = added.last() else {
        return Ok(Vec::new());
    };
    if after.status != last.status {
        return Err(unrecorded());
    }
    if let (Status::Complete, Some(outcome)) = (after.status, last.outcome) {
        if (after.outcome, &after.completed_by, &after.completed_at)
            != (Some(outcome), &last.by, &last.at)
        {
            return Err(unrecorded());
        }
        ready_to_complete(after, &conflicts(after_doc), outcome)?;
    }
    Ok(added
        .into_iter()
        .map(|(_, _, id, entry)| (id.clone(), entry.clone()))
        .collect())
}

/// A change made knowing the assessment complete may not alter what it
/// records: reopen first. Each change is judged against the state it was
/// made on, so a change made beside a completion (an assessor offline at
/// the time) is kept, and shown by [`since_completion`].
pub(super) fn after_completion_leaves_content(
    after: &CapacityDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
) -> Result<(), Refusal> {
    if !after.history.values().any(|e| e.status == Status::Complete) {
        return Ok(());
    }
    let all = Writes::of(after_doc.get_changes_meta(&[]));
    let made_by = |status: Status| -> Vec<ChangeHash> {
        after
            .history
            .iter()
            .filter(|(_, e)| e.status == status)
            .filter_map(|(id, _)| entry_object(after_doc, id).and_then(|obj| all.change(&obj)))
            .map(|(hash, _)| hash)
            .collect()
    };
    let reopenings = made_by(Status::InProgress);
    // Candidates: the batch's changes after a completion and not after a
    // reopening of it. Only they need the state they were made on, so a
    // worker typing in a reopened assessment costs nothing here.
    let mut later = HashSet::new();
    for completion in made_by(Status::Complete) {
        let mut after_it = doc::descendants_of(after_doc, completion);
        for reopening in &reopenings {
            if after_it.contains(reopening) {
                for reopened in doc::descendants_of(after_doc, *reopening) {
                    after_it.remove(&reopened);
                }
            }
        }
        later.extend(after_it.intersection(new).copied());
    }
    for change in later {
        let deps = after_doc
            .get_change_meta_by_hash(&change)
            .map(|c| c.deps)
            .unwrap_or_default();
        let (_, seen) = state_at(after_doc, &deps)?;
        if seen.status != Status::Complete {
            continue;
        }
        let (_, made) = state_at(after_doc, &[change])?;
        if content(&made) != content(&seen) {
            return Err(Refusal::new("completed", COMPLETED));
        }
    }
    Ok(())
}

/// Something the assessment records now that it did not when it was
/// completed: made beside the completion, by someone who had not seen it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangedSinceCompletion {
    Text {
        text: CapacityText,
        at_completion: String,
        now: String,
    },
    AssessedAt {
        at_completion: String,
        now: String,
    },
    Methods {
        at_completion: Vec<CreativeMethod>,
        now: Vec<CreativeMethod>,
    },
    /// Evidence linked since (what it points at never changes).
    EvidenceLinked {
        id: String,
    },
    EvidenceNote {
        id: String,
        at_completion: String,
        now: String,
    },
    /// Every value recorded, then and now: more than one is a conflict.
    Finding {
        part: Part,
        at_completion: Vec<Recorded<Finding>>,
        now: Vec<Recorded<Finding>>,
    },
    Impairment {
        at_completion: Vec<Recorded<ImpairmentAnswer>>,
        now: Vec<Recorded<ImpairmentAnswer>>,
    },
}

/// What differs from the assessment as it was completed, in the order of
/// the assessment. Empty unless complete.
pub fn since_completion(doc: &Automerge) -> Result<Vec<ChangedSinceCompletion>, crate::Error> {
    let now = read_capacity(doc)?;
    if now.status != Status::Complete {
        return Ok(Vec::new());
    }
    let Some(completion) = doc::change_that_wrote(doc, &[], "status")? else {
        return Ok(Vec::new());
    };
    let then_doc = doc.fork_at(&[completion])?;
    let then: CapacityDoc = autosurgeon::hydrate(&then_doc)?;
    let mut changed = Vec::new();
    let text = |t: CapacityText| {
        (then.text(t) != now.text(t)).then(|| ChangedSinceCompletion::Text {
            text: t,
            at_completion: then.text(t).to_owned(),
            now: now.text(t).to_owned(),
        })
    };
    changed.extend(
        [
            CapacityText::Decision,
            CapacityText::RelevantInformation,
            CapacityText::Steps,
        ]
        .into_iter()
        .filter_map(text),
    );
    if then.assessed_at != now.assessed_at {
        changed.push(ChangedSinceCompletion::AssessedAt {
            at_completion: then.assessed_at.clone(),
            now: now.assessed_at.clone(),
        });
    }
    if then.methods != now.methods {
        changed.push(ChangedSinceCompletion::Methods {
            at_completion: then.methods.clone(),
            now: now.methods.clone(),
        });
    }
    for (id, e) in &now.evidence {
        match then.evidence.get(id) {
            None => changed.push(ChangedSinceCompletion::EvidenceLinked { id: id.clone() }),
            Some(was) if was.note != e.note => changed.push(ChangedSinceCompletion::EvidenceNote {
                id: id.clone(),
                at_completion: was.note.as_str().to_owned(),
                now: e.note.as_str().to_owned(),
            }),
            Some(_) => {}
        }
    }
    for &part in Part::ALL {
        changed.extend(text(CapacityText::PartEvidence(part)));
        let question = Question::Part(part);
        let (was, is) = (recorded(&then_doc, question), recorded(doc, question));
        if was != is {
            changed.push(ChangedSinceCompletion::Finding {
                part,
                at_completion: was,
                now: is,
            });
        }
    }
    changed.extend(text(CapacityText::ImpairmentEvidence));
    let (was, is) = (
        recorded(&then_doc, Question::Impairment),
        recorded(doc, Question::Impairment),
    );
    if was != is {
        changed.push(ChangedSinceCompletion::Impairment {
            at_completion: was,
            now: is,
        });
    }
    changed.extend(text(CapacityText::BestInterests));
    Ok(changed)
}
