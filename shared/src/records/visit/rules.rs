use super::*;

// The rules, as predicates both the app (through `VisitEdit::permitted`)
// and the server (through `check`) use.

/// The worker's record (what was said, seen, thought, agreed) is written
/// by workers on the case; a supervisor annotates instead.
pub(super) fn may_change_content(writer: &crate::records::Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Worker {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_a_worker",
            "only a worker on the case writes a visit's record; a supervisor annotates it",
        ))
    }
}

pub(super) fn not_signed_off(visit: &VisitDoc) -> Result<(), Refusal> {
    if visit.review.status == ReviewStatus::SignedOff {
        Err(Refusal::new(
            "signed_off",
            "this visit is signed off: its words cannot change; add an addendum instead",
        ))
    } else {
        Ok(())
    }
}

pub(super) fn may_annotate(writer: &crate::records::Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Supervisor {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_a_supervisor",
            "only a supervisor annotates a visit",
        ))
    }
}

pub(super) fn may_add_addendum(
    visit: &VisitDoc,
    writer: &crate::records::Writer<'_>,
) -> Result<(), Refusal> {
    may_change_content(writer)?;
    if visit.review.status == ReviewStatus::SignedOff {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_signed_off",
            "an addendum is for a signed-off visit; until then, edit the visit itself",
        ))
    }
}

/// Who `writer` is in the review of `visit`.
pub(super) fn reviewer(
    visit: &VisitDoc,
    writer: &crate::records::Writer<'_>,
) -> Result<review::Actor, Refusal> {
    match writer.role {
        Role::Supervisor => Ok(review::Actor::Supervisor),
        Role::Worker if writer.person_id == visit.author => Ok(review::Actor::Author),
        _ => Err(Refusal::new(
            "not_reviewer",
            "only the visit's author submits it and only a supervisor returns or signs it off",
        )),
    }
}

/// Everything the worker's record holds: what a sign-off closes.
pub(super) fn content(v: &VisitDoc) -> impl PartialEq + '_ {
    (
        (&v.place, &v.present, &v.own_words),
        (&v.observations, &v.analysis),
        (&v.actions, &v.creative, &v.photos, &v.significant),
    )
}

/// Where the worker's record keeps its texts (the roots of the document
/// that a sign-off closes).
pub(super) const RECORD_ROOTS: &[&str] = &[
    "own_words",
    "observations",
    "analysis",
    "actions",
    "creative",
    "present",
    "significant",
];

/// Typing, judged cheaply and before anything is applied: true when every
/// operation of `changes` inserts or deletes characters of a text that
/// `before` already has in the worker's record, written by a worker, on a
/// visit that is not signed off, and no text can grow past its limit.
/// Exactly then [`check`] accepts (nothing else changes), without copying,
/// applying or reading the document. False means "judge in full", never
/// "refuse". The caller has checked the changes' actor and that their
/// dependencies are in `before` or among `changes`.
pub fn only_typing(
    before: &Automerge,
    changes: &[automerge::Change],
    writer: &crate::records::Writer<'_>,
) -> bool {
    use automerge::legacy::{ObjectId, OpId, OpType};
    use automerge::{ObjType, ScalarValue};
    if *writer.role != Role::Worker || changes.is_empty() {
        return false;
    }
    let status = doc::map_at(before, &["review"])
        .ok()
        .flatten()
        .and_then(|review| before.get(&review, "status").ok().flatten());
    match status {
        Some((automerge::Value::Scalar(s), _)) if s.as_str() != Some("signed_off") => {}
        _ => return false,
    }
    // Characters inserted per text, to bound its length.
    let mut inserted: std::collections::HashMap<String, (automerge::ObjId, usize)> =
        std::collections::HashMap::new();
    for change in changes {
        for op in change.decode().operations {
            // One character an op: automerge takes an element of any
            // length, and counts it as one.
            let typing = match (&op.action, op.insert) {
                (OpType::Put(ScalarValue::Str(s)), true) => {
                    s.len() <= crate::records::ops::MAX_CHAR_BYTES
                }
                (OpType::Delete, false) => true,
                _ => false,
            };
            let ObjectId::Id(OpId(counter, actor)) = &op.obj else {
                return false;
            };
            if !typing {
                return false;
            }
            let id = format!("{counter}@{actor}");
            if let Some((_, n)) = inserted.get_mut(&id) {
                *n += usize::from(op.insert);
                continue;
            }
            let Ok((obj, ObjType::Text)) = before.import(&id) else {
                return false;
            };
            let root = before
                .parents(&obj)
                .ok()
                .and_then(|p| p.visible_path())
                .and_then(|path| {
                    path.into_iter().find_map(|(o, prop)| match (o, prop) {
                        (automerge::ObjId::Root, automerge::Prop::Map(key)) => Some(key),
                        _ => None,
                    })
                });
            if !root.is_some_and(|r| RECORD_ROOTS.contains(&r.as_str())) {
                return false;
            }
            inserted.insert(id, (obj, usize::from(op.insert)));
        }
    }
    inserted
        .values()
        .all(|(obj, n)| before.length(obj) + n <= crate::validate::MAX_TEXT_CHARS)
}

/// The rules of a visit document, for a batch of changes by one writer.
pub fn check(
    before: &Option<VisitDoc>,
    after: &VisitDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    let writer = &cx.writer;
    let Some(before) = before else {
        creation(after, cx)?;
        return Ok(Accepted {
            photos: after.photos.keys().cloned().collect(),
            ..Accepted::default()
        });
    };
    if (&after.case_id, &after.author, &after.started_at)
        != (&before.case_id, &before.author, &before.started_at)
    {
        return Err(Refusal::new(
            "fixed_field",
            "a visit's case, author and start time are set when it is made",
        ));
    }
    if content(before) != content(after) {
        may_change_content(writer)?;
        if before.review.status == ReviewStatus::SignedOff {
            after_sign_off_leaves_content(after, after_doc, new)?;
        }
    }
    check_annotations(before, after, writer)?;
    check_addenda(before, after, writer)?;
    check_significant(before, after, writer)?;
    check_photos(before, after, writer)?;
    let decisions = check_review(before, after, after_doc, writer)?;
    valid(problems(after))?;
    Ok(Accepted {
        decisions,
        photos: after
            .photos
            .keys()
            .filter(|sha| !before.photos.contains_key(*sha))
            .cloned()
            .collect(),
        ..Accepted::default()
    })
}

pub(super) fn creation(after: &VisitDoc, cx: &Context<'_>) -> Result<(), Refusal> {
    may_change_content(&cx.writer)?;
    signed_as(&cx.writer, &after.author)?;
    for event in after.significant.values() {
        signed_as(&cx.writer, &event.marked_by)?;
    }
    if after.case_id != cx.case_id {
        return Err(Refusal::new(
            "wrong_case",
            "a visit names the case it was registered to",
        ));
    }
    if after.review != Review::draft() || !after.annotations.is_empty() || !after.addenda.is_empty()
    {
        return Err(Refusal::new(
            "not_a_draft",
            "a new visit starts as a draft, with no review, annotations or addenda",
        ));
    }
    // Its photos as any photo added later: named by their hash, not
    // already removed (in someone's name or another's).
    let mut without = after.clone();
    without.photos.clear();
    check_photos(&without, after, &cx.writer)?;
    valid(problems(after))
}

/// Changes that causally follow the sign-off may not alter the signed-off
/// record; changes made beside it (a worker offline while the supervisor
/// signed off) are kept, and shown as changed after sign-off.
pub(super) fn after_sign_off_leaves_content(
    after: &VisitDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
) -> Result<(), Refusal> {
    let Ok(Some(sign_off)) = doc::change_that_wrote(after_doc, &["review"], "status") else {
        return Err(Refusal::new("signed_off", "this visit is signed off"));
    };
    let later: HashSet<ChangeHash> = doc::descendants_of(after_doc, sign_off)
        .intersection(new)
        .copied()
        .collect();
    if later.is_empty() {
        return Ok(());
    }
    let unchanged = autosurgeon::hydrate::<_, VisitDoc>(&doc::without(after_doc, &later))
        .map(|without_later| content(&without_later) == content(after))
        .unwrap_or(false);
    if unchanged {
        Ok(())
    } else {
        Err(Refusal::new(
            "signed_off",
            "this visit is signed off: its words cannot change; add an addendum instead",
        ))
    }
}

pub(super) fn check_annotations(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &crate::records::Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.annotations {
        let Some(now) = after.annotations.get(id) else {
            return Err(Refusal::new(
                "removed",
                format!("annotation {id} cannot be removed"),
            ));
        };
        fn fixed(a: &Annotation) -> impl PartialEq + '_ {
            (
                &a.author,
                &a.created_at,
                a.field,
                &a.start,
                &a.end,
                &a.quote,
                &a.body,
            )
        }
        if fixed(now) != fixed(was) {
            return Err(Refusal::new(
                "annotation_changed",
                format!("annotation {id} cannot be rewritten"),
            ));
        }
        if (&now.resolved_by, &now.resolved_at) != (&was.resolved_by, &was.resolved_at) {
            if !was.resolved_by.is_empty() {
                return Err(Refusal::new(
                    "already_resolved",
                    format!("annotation {id} is already resolved"),
                ));
            }
            signed_as(writer, &now.resolved_by)?;
            crate::validate::timestamp("resolved_at", &now.resolved_at)
                .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
        }
    }
    for (_, new) in after
        .annotations
        .iter()
        .filter(|(id, _)| !before.annotations.contains_key(*id))
    {
        may_annotate(writer)?;
        signed_as(writer, &new.author)?;
        if !new.resolved_by.is_empty() || !new.resolved_at.is_empty() {
            return Err(Refusal::new("invalid_value", "a new annotation is open"));
        }
    }
    Ok(())
}

/// A photo stays in the record once added; its removal is signed by the
/// one who removes it, and never undone or re-dated; a new photo is not
/// already removed.
pub(super) fn check_photos(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &crate::records::Writer<'_>,
) -> Result<(), Refusal> {
    let fixed = |p: &PhotoRef| {
        (
            p.sha256.clone(),
            p.size,
            p.width,
            p.height,
            p.captured_at.clone(),
        )
    };
    for (sha, was) in &before.photos {
        let Some(now) = after.photos.get(sha) else {
            return Err(Refusal::new(
                "removed",
                format!("photo {sha} cannot be deleted from the record; remove it instead"),
            ));
        };
        if fixed(now) != fixed(was) {
            return Err(Refusal::new(
                "photo_changed",
                format!("photo {sha} is what it was when added"),
            ));
        }
        if (&now.removed_by, &now.removed_at) != (&was.removed_by, &was.removed_at) {
            if !was.removed_by.is_empty() {
                return Err(Refusal::new(
                    "photo_changed",
                    format!("the removal of photo {sha} stands as it was made"),
                ));
            }
            signed_as(writer, &now.removed_by)?;
        }
    }
    for (sha, new) in after
        .photos
        .iter()
        .filter(|(s, _)| !before.photos.contains_key(*s))
    {
        if &new.sha256 != sha || !new.removed_by.is_empty() || !new.removed_at.is_empty() {
            return Err(Refusal::new(
                "photo_changed",
                format!("a new photo is named by its own hash and not already removed ({sha})"),
            ));
        }
    }
    Ok(())
}

/// A significant event names whoever marked it (the chronology shows it
/// under them): a new one its writer, never nobody, and no one names
/// another once it is marked. The op rules let a who-field be empty, as
/// most are until something happens; this one never is.
pub(super) fn check_significant(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &crate::records::Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.significant {
        if after
            .significant
            .get(id)
            .is_some_and(|now| now.marked_by != was.marked_by)
        {
            return Err(Refusal::new(
                "significant_changed",
                format!("significant event {id} cannot be re-attributed"),
            ));
        }
    }
    for (_, new) in after
        .significant
        .iter()
        .filter(|(id, _)| !before.significant.contains_key(*id))
    {
        signed_as(writer, &new.marked_by)?;
    }
    Ok(())
}

pub(super) fn check_addenda(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &crate::records::Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.addenda {
        let Some(now) = after.addenda.get(id) else {
            return Err(Refusal::new(
                "removed",
                format!("addendum {id} cannot be removed"),
            ));
        };
        if (&now.author, &now.at) != (&was.author, &was.at) {
            return Err(Refusal::new(
                "addendum_changed",
                format!("addendum {id} cannot be re-dated or re-attributed"),
            ));
        }
        if now.text != was.text {
            signed_as(writer, &now.author)?;
        }
    }
    for (_, new) in after
        .addenda
        .iter()
        .filter(|(id, _)| !before.addenda.contains_key(*id))
    {
        signed_as(writer, &new.author)?;
        may_add_addendum(before, writer)?;
    }
    Ok(())
}

pub(super) fn check_review(
    before: &VisitDoc,
    after: &VisitDoc,
    after_doc: &Automerge,
    writer: &crate::records::Writer<'_>,
) -> Result<Vec<(String, ReviewDecision)>, Refusal> {
    let (was, now) = (&before.review, &after.review);
    for (id, decision) in &was.decisions {
        if now.decisions.get(id) != Some(decision) {
            return Err(Refusal::new(
                "decision_changed",
                format!("review decision {id} cannot be changed or removed"),
            ));
        }
    }
    let added: Vec<(&String, &ReviewDecision)> = now
        .decisions
        .iter()
        .filter(|(id, _)| !was.decisions.contains_key(*id))
        .collect();
    if was.status == now.status {
        let same = (&was.changed_by, &was.changed_at, &was.signed_off_heads)
            == (&now.changed_by, &now.changed_at, &now.signed_off_heads);
        if !same || !added.is_empty() {
            return Err(Refusal::new(
                "review_changed",
                "a review is changed only by a decision that moves the visit on",
            ));
        }
        return Ok(Vec::new());
    }
    review::transition(reviewer(after, writer)?, was.status, now.status)
        .map_err(|e| Refusal::new("review_transition", e.to_string()))?;
    signed_as(writer, &now.changed_by)?;
    match added.as_slice() {
        [(_, d)] if d.status == now.status && d.by == now.changed_by && d.at == now.changed_at => {}
        _ => {
            return Err(Refusal::new(
                "review_unrecorded",
                "every review decision is recorded once, as made",
            ));
        }
    }
    if now.status == ReviewStatus::SignedOff {
        let known = |h: &String| {
            h.parse::<ChangeHash>()
                .is_ok_and(|h| after_doc.get_change_meta_by_hash(&h).is_some())
        };
        if now.signed_off_heads.is_empty() || !now.signed_off_heads.iter().all(known) {
            return Err(Refusal::new(
                "sign_off_heads",
                "a sign-off names the version of the visit it attests to",
            ));
        }
    } else if now.signed_off_heads != was.signed_off_heads {
        return Err(Refusal::new(
            "review_changed",
            "only a sign-off attests to a version",
        ));
    }
    Ok(added
        .into_iter()
        .map(|(id, d)| (id.clone(), d.clone()))
        .collect())
}
/// Every problem with a visit, not just the first, so a form can show them all.
pub fn problems(v: &VisitDoc) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(validate::id("case_id", &v.case_id));
    check(validate::id("author", &v.author));
    check(validate::timestamp("started_at", &v.started_at));
    check(validate::text("own_words", v.own_words.text.as_str()));
    check(validate::text("observations", v.observations.as_str()));
    check(validate::text("analysis", v.analysis.as_str()));
    for action in v.actions.values() {
        check(validate::date("actions.due", &action.due));
        check(validate::text("actions.text", action.text.as_str()));
    }
    for event in v.significant.values() {
        check(validate::timestamp("significant.at", &event.at));
        check(validate::text(
            "significant.summary",
            event.summary.as_str(),
        ));
    }
    for (sha, photo) in &v.photos {
        check(validate::sha256_hex("photos", sha));
        if sha != &photo.sha256 {
            check(Err(ValidationError::BadSha256 {
                field: "photos.sha256",
                value: photo.sha256.clone(),
            }));
        }
    }
    for creative in v.creative.values() {
        for sha in &creative.photos {
            if !v.photos.contains_key(sha) {
                check(Err(ValidationError::UnknownPhoto {
                    sha256: sha.clone(),
                }));
            }
        }
    }
    for (id_, annotation) in &v.annotations {
        check(validate::timestamp(
            "annotations.created_at",
            &annotation.created_at,
        ));
        if annotation.start.is_empty() || annotation.end.is_empty() {
            check(Err(ValidationError::BadAnchor { id: id_.clone() }));
        }
    }
    if v.review.status != crate::records::ReviewStatus::Draft {
        check(validate::timestamp(
            "review.changed_at",
            &v.review.changed_at,
        ));
    }
    errors
}
