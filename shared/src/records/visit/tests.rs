use super::*;
use crate::doc::{new_document, update_text};
use crate::records::Edit;

#[test]
fn a_fresh_visit_is_valid() {
    let v = VisitDoc::new(
        "case-1",
        "w-1",
        "2026-11-25T10:00:00+00:00",
        PlaceKind::Home,
    );
    assert_eq!(problems(&v), vec![]);
}

#[test]
fn every_problem_is_reported() {
    let mut v = VisitDoc::new("case 1", "w-1", "yesterday", PlaceKind::Home);
    v.creative.insert(
        "c1".into(),
        CreativeObservation {
            method: CreativeMethod::Music,
            expressed: Default::default(),
            how: Default::default(),
            reading: Default::default(),
            photos: vec!["ab".into()],
        },
    );
    let errors = problems(&v);
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.contains(&ValidationError::UnknownPhoto {
        sha256: "ab".into()
    }));
}

#[test]
fn text_keys_read_back() {
    let texts = [
        VisitText::Field(TextField::OwnWords),
        VisitText::Action {
            id: "a1b2".into(),
            part: ActionText::Owner,
        },
        VisitText::Creative {
            id: "c3d4".into(),
            part: CreativeText::Reading,
        },
    ];
    for t in texts {
        assert_eq!(VisitText::from_key(&t.key()), Some(t));
    }
    assert_eq!(VisitText::from_key("field:nonsense"), None);
    assert_eq!(VisitText::from_key("action:x"), None);
}

fn visit() -> VisitDoc {
    VisitDoc::new(
        "case-1",
        "worker-1",
        "2026-11-25T10:00:00Z",
        PlaceKind::Home,
    )
}

#[test]
fn a_visit_round_trips_through_a_document() {
    let mut v = visit();
    v.own_words.text = Text::with_value("I want to stay here");
    v.own_words.communication = vec![Communication::Speech, Communication::Art];
    let doc = new_document(&v, automerge::ActorId::random()).unwrap();
    assert_eq!(read_visit(&doc).unwrap(), v);
}

#[test]
fn enums_are_snake_case_strings_in_the_document() {
    use automerge::ReadDoc;
    let mut v = visit();
    v.place = PlaceKind::CareHome;
    let doc = new_document(&v, automerge::ActorId::random()).unwrap();
    let (value, _) = doc.get(automerge::ROOT, "place").unwrap().unwrap();
    assert_eq!(value.into_string().unwrap(), "care_home");
}

#[test]
fn human_text_is_automerge_text() {
    use automerge::ReadDoc;
    let doc = new_document(&visit(), automerge::ActorId::random()).unwrap();
    let (value, _) = doc.get(automerge::ROOT, "observations").unwrap().unwrap();
    assert_eq!(value, automerge::Value::Object(automerge::ObjType::Text));
}

#[test]
fn a_newer_schema_is_refused_with_a_message() {
    use automerge::transaction::Transactable;
    let mut doc = new_document(&visit(), automerge::ActorId::random()).unwrap();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(automerge::ROOT, "schema", 99_u64)?;
        Ok(())
    })
    .unwrap();
    let err = read_visit(&doc).unwrap_err();
    assert!(matches!(err, crate::Error::NewerSchema { found: 99, .. }));
    assert!(err.to_string().contains("update the app"));
}

#[test]
fn a_document_without_schema_is_not_a_record() {
    let doc = automerge::Automerge::new();
    assert!(matches!(read_visit(&doc), Err(crate::Error::MissingSchema)));
}

#[test]
fn concurrent_text_edits_merge_character_by_character() {
    let base = new_document(&visit(), automerge::ActorId::random()).unwrap();
    let mut a = base.fork();
    let mut b = base.fork();
    update_text(&mut a, TextField::Observations.path(), "She smiled.").unwrap();
    let mut b2 = b.fork();
    b2.merge(&mut a).unwrap();
    b = b2;
    let mut a2 = b.fork();
    update_text(
        &mut a2,
        TextField::Observations.path(),
        "She smiled warmly.",
    )
    .unwrap();
    update_text(&mut b, TextField::Observations.path(), "Today she smiled.").unwrap();
    a2.merge(&mut b).unwrap();
    assert_eq!(
        read_visit(&a2).unwrap().observations.as_str(),
        "Today she smiled warmly."
    );
}

#[test]
fn action_and_creative_text_live_where_the_schema_reads_them() {
    let mut v = visit();
    v.actions.insert("a1".into(), Action::new());
    v.creative
        .insert("c1".into(), CreativeObservation::new(CreativeMethod::Music));
    let mut doc = new_document(&v, automerge::ActorId::random()).unwrap();
    let texts = [
        VisitText::Field(TextField::Analysis),
        VisitText::Action {
            id: "a1".into(),
            part: ActionText::Owner,
        },
        VisitText::Creative {
            id: "c1".into(),
            part: CreativeText::Reading,
        },
    ];
    for (n, t) in texts.iter().enumerate() {
        update_text(&mut doc, &t.path(), &format!("value {n}")).unwrap();
    }
    let read = read_visit(&doc).unwrap();
    for (n, t) in texts.iter().enumerate() {
        assert_eq!(t.read(&read), Some(format!("value {n}").as_str()));
    }
}

#[test]
fn text_for_a_missing_action_is_refused_not_invented() {
    let mut doc = new_document(&visit(), automerge::ActorId::random()).unwrap();
    let gone = VisitText::Action {
        id: "removed".into(),
        part: ActionText::Text,
    };
    assert!(update_text(&mut doc, &gone.path(), "orphan").is_err());
    assert!(read_visit(&doc).unwrap().actions.is_empty());
}

// The rules, through `records::check` on real documents: one device
// (and so one actor) per person.

use crate::provenance::device_actor;
use crate::records::{self, Kind, Writer};
use crate::role::Role;

const WORKER: (&str, Role) = ("w-1", Role::Worker);
const COLLEAGUE: (&str, Role) = ("w-2", Role::Worker);
const SUPERVISOR: (&str, Role) = ("sup-1", Role::Supervisor);
const AT: &str = "2026-11-25T12:00:00Z";

fn stored() -> Automerge {
    let mut v = visit();
    v.author = WORKER.0.into();
    let mut doc = new_document(&v, device_actor(WORKER.0)).unwrap();
    update_text(
        &mut doc,
        TextField::Observations.path(),
        "She smiled at the garden.",
    )
    .unwrap();
    doc
}

/// `who` makes `edit` on a copy of `doc` (bypassing the app's own check,
/// as a hand-made peer would): the document after and the rules' verdict.
fn by(who: &(&str, Role), doc: &Automerge, edit: VisitEdit) -> (Automerge, Result<(), Refusal>) {
    let mut after = doc.fork().with_actor(device_actor(who.0));
    edit.apply(&mut after).unwrap();
    let verdict = judged(who, doc, &after);
    (after, verdict)
}

fn judged(who: &(&str, Role), before: &Automerge, after: &Automerge) -> Result<(), Refusal> {
    records::judged_as(Kind::Visit, who.0, &who.1, before, after).map(|_| ())
}

fn code(r: Result<(), Refusal>) -> &'static str {
    r.map(|_| "accepted").unwrap_or_else(|e| e.code)
}

fn decide(who: &(&str, Role), status: ReviewStatus, id: &str) -> VisitEdit {
    VisitEdit::Decide {
        id: id.into(),
        status,
        by: who.0.into(),
        at: AT.into(),
        comment: String::new(),
    }
}

fn text(value: &str) -> VisitEdit {
    VisitEdit::SetText {
        text: TextField::Observations.into(),
        value: value.into(),
    }
}

#[test]
fn photos_stay_in_the_record_and_their_removal_is_signed() {
    let doc = stored();
    let sha = "ab".repeat(32);
    let photo = PhotoRef {
        sha256: sha.clone(),
        size: 10,
        width: 4,
        height: 3,
        caption: Text::default(),
        captured_at: AT.into(),
        removed_by: String::new(),
        removed_at: String::new(),
    };
    let (with_photo, verdict) = by(&WORKER, &doc, VisitEdit::AddPhoto(photo.clone()));
    assert_eq!(code(verdict), "accepted");
    assert_eq!(
        code(by(&SUPERVISOR, &doc, VisitEdit::AddPhoto(photo.clone())).1),
        "not_a_worker"
    );
    // Shown with a creative-method observation.
    let (with_obs, _) = by(
        &WORKER,
        &with_photo,
        VisitEdit::AddCreative {
            id: "c1".into(),
            method: CreativeMethod::Art,
        },
    );
    let show = VisitEdit::ShowInCreative {
        id: "c1".into(),
        sha256: sha.clone(),
    };
    let (shown, verdict) = by(&WORKER, &with_obs, show);
    assert_eq!(code(verdict), "accepted");
    assert_eq!(
        read_visit(&shown).unwrap().creative["c1"].photos,
        vec![sha.clone()]
    );
    // Removed: signed by the one who removes it; never deleted.
    let remove = |who: &str| VisitEdit::RemovePhoto {
        sha256: sha.clone(),
        by: who.into(),
        at: AT.into(),
    };
    let (removed, verdict) = by(&WORKER, &with_photo, remove(WORKER.0));
    assert_eq!(code(verdict), "accepted");
    let p = &read_visit(&removed).unwrap().photos[&sha];
    assert_eq!(
        (p.removed_by.as_str(), p.removed_at.as_str()),
        (WORKER.0, AT)
    );
    assert_eq!(
        code(by(&WORKER, &with_photo, remove(COLLEAGUE.0)).1),
        "forged_author"
    );
    let mut deleted = with_photo.fork().with_actor(device_actor(WORKER.0));
    doc::put_at(
        &mut deleted,
        &[],
        "photos",
        BTreeMap::<String, PhotoRef>::new(),
    )
    .unwrap();
    assert_eq!(code(judged(&WORKER, &with_photo, &deleted)), "removed");
    // Added again, it would change what was added: the server refuses
    // that, and the app refuses it first.
    let again = PhotoRef {
        captured_at: "2026-03-02T10:00:00Z".into(),
        ..photo.clone()
    };
    assert_eq!(
        code(by(&WORKER, &with_photo, VisitEdit::AddPhoto(again.clone())).1),
        "photo_changed"
    );
    let writer = Writer {
        person_id: WORKER.0,
        role: &WORKER.1,
    };
    let add = VisitEdit::AddPhoto(again);
    let refused = |d: &Automerge| add.permitted(&read_visit(d).unwrap(), d, &writer);
    assert_eq!(
        refused(&with_photo).unwrap_err().code,
        "photo_already_added"
    );
    assert_eq!(refused(&removed).unwrap_err().code, "photo_removed");
    assert!(refused(&doc).is_ok());
}

#[test]
fn workers_write_the_record_and_supervisors_do_not() {
    let doc = stored();
    assert_eq!(code(by(&WORKER, &doc, text("She laughed.")).1), "accepted");
    assert_eq!(
        code(by(&COLLEAGUE, &doc, text("She laughed.")).1),
        "accepted"
    );
    assert_eq!(
        code(by(&SUPERVISOR, &doc, text("She laughed.")).1),
        "not_a_worker"
    );
    // A practice reviewer reads; they write nothing of a visit, nor
    // annotate, nor decide.
    const REVIEWER: (&str, Role) = ("r-1", Role::Reviewer);
    assert_eq!(
        code(by(&REVIEWER, &doc, text("She laughed.")).1),
        "not_a_worker"
    );
    let significant = |marker: &str| VisitEdit::AddSignificant {
        id: "s1".into(),
        at: AT.into(),
        by: marker.into(),
    };
    assert_eq!(
        code(by(&REVIEWER, &doc, significant(REVIEWER.0)).1),
        "not_a_worker"
    );
    assert_eq!(code(by(&WORKER, &doc, significant(WORKER.0)).1), "accepted");
    // A colleague marks an event on the worker's visit in their own
    // name, never in the worker's.
    assert_eq!(
        code(by(&COLLEAGUE, &doc, significant(COLLEAGUE.0)).1),
        "accepted"
    );
    assert_eq!(
        code(by(&COLLEAGUE, &doc, significant(WORKER.0)).1),
        "forged_author"
    );
    // Marked by nobody, or re-attributed once marked, it would show under
    // the visit's author or under someone who did not mark it.
    assert_eq!(
        code(by(&COLLEAGUE, &doc, significant("")).1),
        "forged_author"
    );
    let (marked, _) = by(&WORKER, &doc, significant(WORKER.0));
    let mut taken = marked.fork().with_actor(device_actor(COLLEAGUE.0));
    doc::put_at(&mut taken, &["significant", "s1"], "marked_by", COLLEAGUE.0).unwrap();
    assert_eq!(
        code(judged(&COLLEAGUE, &marked, &taken)),
        "significant_changed"
    );
    let colleague = Writer {
        person_id: COLLEAGUE.0,
        role: &COLLEAGUE.1,
    };
    assert_eq!(
        code(significant(WORKER.0).permitted(&read_visit(&doc).unwrap(), &doc, &colleague)),
        "forged_author",
        "the phone refuses it before it is written"
    );
    assert_eq!(
        code(
            by(
                &REVIEWER,
                &doc,
                decide(&REVIEWER, ReviewStatus::Submitted, "d1")
            )
            .1
        ),
        "not_reviewer"
    );
}

#[test]
fn only_a_supervisor_annotates_and_annotations_stay() {
    let doc = stored();
    let note = |who: &(&str, Role)| VisitEdit::Annotate {
        id: "n1".into(),
        field: TextField::Observations,
        from: 4,
        to: 10,
        body: "How do you know?".into(),
        author: who.0.into(),
        at: AT.into(),
    };
    assert_eq!(code(by(&WORKER, &doc, note(&WORKER)).1), "not_a_supervisor");
    // Signed as someone else: refused whoever sends it.
    assert_eq!(
        code(by(&SUPERVISOR, &doc, note(&WORKER)).1),
        "forged_author"
    );
    let (annotated, ok) = by(&SUPERVISOR, &doc, note(&SUPERVISOR));
    assert_eq!(code(ok), "accepted");
    let resolve = |who: &(&str, Role)| VisitEdit::ResolveAnnotation {
        id: "n1".into(),
        by: who.0.into(),
        at: AT.into(),
    };
    assert_eq!(
        code(by(&WORKER, &annotated, resolve(&WORKER)).1),
        "accepted"
    );
    assert_eq!(
        code(by(&WORKER, &annotated, resolve(&SUPERVISOR)).1),
        "forged_author"
    );
    // Removing or rewriting it, as a hand-made peer would.
    let mut removed = annotated.fork().with_actor(device_actor(SUPERVISOR.0));
    removed
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            use automerge::transaction::Transactable;
            let (_, map) = tx.get(automerge::ROOT, "annotations")?.unwrap();
            tx.delete(&map, "n1")
        })
        .unwrap();
    assert_eq!(code(judged(&SUPERVISOR, &annotated, &removed)), "removed");
}

#[test]
fn review_moves_only_along_its_paths_by_the_right_people() {
    let doc = stored();
    assert_eq!(
        code(
            by(
                &SUPERVISOR,
                &doc,
                decide(&SUPERVISOR, ReviewStatus::SignedOff, "d1")
            )
            .1
        ),
        "review_transition"
    );
    assert_eq!(
        code(
            by(
                &COLLEAGUE,
                &doc,
                decide(&COLLEAGUE, ReviewStatus::Submitted, "d1")
            )
            .1
        ),
        "not_reviewer"
    );
    let (submitted, ok) = by(
        &WORKER,
        &doc,
        decide(&WORKER, ReviewStatus::Submitted, "d1"),
    );
    assert_eq!(code(ok), "accepted");
    assert_eq!(
        code(
            by(
                &WORKER,
                &submitted,
                decide(&WORKER, ReviewStatus::SignedOff, "d2")
            )
            .1
        ),
        "review_transition"
    );
    let (returned, ok) = by(
        &SUPERVISOR,
        &submitted,
        VisitEdit::Decide {
            id: "d2".into(),
            status: ReviewStatus::Returned,
            by: SUPERVISOR.0.into(),
            at: AT.into(),
            comment: "Say what she said about the garden.".into(),
        },
    );
    assert_eq!(code(ok), "accepted");
    let review = read_visit(&returned).unwrap().review;
    assert_eq!(
        review.return_comment().unwrap().comment.as_str(),
        "Say what she said about the garden."
    );
    assert_eq!(review.history().len(), 2);
    // A hand-made sign-off without a recorded decision.
    let mut forged = submitted.fork().with_actor(device_actor(SUPERVISOR.0));
    let mut r = read_visit(&submitted).unwrap().review;
    r.status = ReviewStatus::SignedOff;
    r.changed_by = SUPERVISOR.0.into();
    r.changed_at = AT.into();
    r.signed_off_heads = submitted
        .get_heads()
        .iter()
        .map(|h| h.to_string())
        .collect();
    crate::doc::put_at(&mut forged, &[], "review", &r).unwrap();
    assert_eq!(
        code(judged(&SUPERVISOR, &submitted, &forged)),
        "review_unrecorded"
    );
}

fn signed_off() -> Automerge {
    let (submitted, _) = by(
        &WORKER,
        &stored(),
        decide(&WORKER, ReviewStatus::Submitted, "d1"),
    );
    let (signed, ok) = by(
        &SUPERVISOR,
        &submitted,
        decide(&SUPERVISOR, ReviewStatus::SignedOff, "d2"),
    );
    assert_eq!(code(ok), "accepted");
    signed
}

#[test]
fn after_sign_off_words_stay_and_addenda_are_added() {
    let signed = signed_off();
    assert_eq!(
        code(by(&WORKER, &signed, text("Rewritten.")).1),
        "signed_off"
    );
    let addendum = VisitEdit::AddAddendum {
        id: "a1".into(),
        author: WORKER.0.into(),
        at: AT.into(),
        text: "She rang the next day.".into(),
    };
    assert_eq!(code(by(&WORKER, &signed, addendum.clone()).1), "accepted");
    assert_eq!(code(by(&WORKER, &stored(), addendum).1), "not_signed_off");
    // The app refuses the same edit before it is made.
    let writer = Writer {
        person_id: WORKER.0,
        role: &WORKER.1,
    };
    let v = read_visit(&signed).unwrap();
    assert_eq!(
        text("x")
            .permitted(&v, &Automerge::new(), &writer)
            .unwrap_err()
            .code,
        "signed_off"
    );
}

#[test]
fn edits_made_beside_a_sign_off_are_kept() {
    let (submitted, _) = by(
        &WORKER,
        &stored(),
        decide(&WORKER, ReviewStatus::Submitted, "d1"),
    );
    // The worker, offline, edits the submitted visit...
    let (offline, _) = by(
        &WORKER,
        &submitted,
        text("She smiled at the garden, and at me."),
    );
    // ...while the supervisor signs it off; the server has the sign-off.
    let (signed, _) = by(
        &SUPERVISOR,
        &submitted,
        decide(&SUPERVISOR, ReviewStatus::SignedOff, "d2"),
    );
    let mut merged = signed.fork();
    merged.merge(&mut offline.fork()).unwrap();
    assert_eq!(code(judged(&WORKER, &signed, &merged)), "accepted");
    // A decision on a document with two heads (edits merged from two
    // devices) is one change on top of both.
    let mut two_heads = submitted.fork();
    two_heads.merge(&mut offline.fork()).unwrap();
    let (_, both) = by(
        &SUPERVISOR,
        &two_heads,
        decide(&SUPERVISOR, ReviewStatus::Returned, "d3"),
    );
    assert_eq!(code(both), "accepted");
    // The supervisor sees exactly what changed beside the sign-off.
    let changed = since_sign_off(&merged).unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].field, TextField::Observations);
    assert_eq!(changed[0].at_sign_off, "She smiled at the garden.");
    assert_eq!(changed[0].now, "She smiled at the garden, and at me.");
    assert!(since_sign_off(&signed).unwrap().is_empty());
    // Knowing of the sign-off, the same edit is refused.
    let (after, verdict) = by(&WORKER, &signed, text("Rewritten after sign-off."));
    assert_eq!(
        code(verdict),
        "signed_off",
        "{:?}",
        read_visit(&after).unwrap().observations
    );
}

#[test]
fn fixed_fields_and_a_new_visit() {
    let doc = stored();
    let mut moved = doc.fork().with_actor(device_actor(WORKER.0));
    crate::doc::put_at(&mut moved, &[], "author", "w-2").unwrap();
    assert_eq!(code(judged(&WORKER, &doc, &moved)), "fixed_field");
    let mut newer = doc.fork().with_actor(device_actor(WORKER.0));
    crate::doc::put_at(&mut newer, &[], "schema", 999_u64).unwrap();
    assert_eq!(code(judged(&WORKER, &doc, &newer)), "newer_schema");
    let mut wrong = doc.fork().with_actor(device_actor(WORKER.0));
    crate::doc::put_at(&mut wrong, &[], "place", 7_u64).unwrap();
    assert_eq!(code(judged(&WORKER, &doc, &wrong)), "wrong_shape");
    // Made by its author, in the registered case, as a draft.
    let empty = Automerge::new();
    assert_eq!(code(judged(&WORKER, &empty, &stored())), "accepted");
    // Made, written and submitted before it first synced: one batch.
    let (submitted, _) = by(
        &WORKER,
        &stored(),
        decide(&WORKER, ReviewStatus::Submitted, "d1"),
    );
    assert_eq!(code(judged(&WORKER, &empty, &submitted)), "accepted");
    let mut born_signed = visit();
    born_signed.author = WORKER.0.into();
    born_signed.review.status = ReviewStatus::SignedOff;
    let born_signed = new_document(&born_signed, device_actor(WORKER.0)).unwrap();
    assert_eq!(code(judged(&WORKER, &empty, &born_signed)), "not_a_draft");
    assert_eq!(
        code(judged(&COLLEAGUE, &empty, &{
            let mut v = visit();
            v.author = COLLEAGUE.0.into();
            v.case_id = "case-2".into();
            new_document(&v, device_actor(COLLEAGUE.0)).unwrap()
        })),
        "wrong_case"
    );
}

/// `edit` by `who` on `doc`: does the cheap path take it?
fn typing(who: &(&str, Role), doc: &Automerge, edit: VisitEdit) -> bool {
    let mut after = doc.fork().with_actor(device_actor(who.0));
    edit.apply(&mut after).unwrap();
    let new = after.get_changes(&doc.get_heads());
    only_typing(
        doc,
        &new,
        &Writer {
            person_id: who.0,
            role: &who.1,
        },
    )
}

#[test]
fn typing_takes_the_cheap_path_and_nothing_else_does() {
    let doc = stored();
    assert!(typing(
        &WORKER,
        &doc,
        text("She smiled at the garden, then at me.")
    ));
    assert!(
        typing(&WORKER, &doc, text("She smiled.")),
        "deleting is typing too"
    );
    assert!(!typing(&SUPERVISOR, &doc, text("x")));
    assert!(!typing(
        &WORKER,
        &doc,
        VisitEdit::AddAction { id: "a1".into() }
    ));
    assert!(!typing(
        &WORKER,
        &doc,
        decide(&WORKER, ReviewStatus::Submitted, "d1")
    ));
    assert!(!typing(&WORKER, &signed_off(), text("Rewritten.")));
    let (noted, _) = by(
        &SUPERVISOR,
        &doc,
        VisitEdit::Annotate {
            id: "n1".into(),
            field: TextField::Observations,
            from: 0,
            to: 3,
            body: "Who?".into(),
            author: SUPERVISOR.0.into(),
            at: AT.into(),
        },
    );
    let body_edit = {
        let mut d = noted.fork().with_actor(device_actor(WORKER.0));
        update_text(&mut d, &["annotations", "n1", "body"], "Changed.").unwrap();
        d
    };
    let new = body_edit.get_changes(&noted.get_heads());
    assert!(!only_typing(
        &noted,
        &new,
        &Writer {
            person_id: WORKER.0,
            role: &WORKER.1
        }
    ));
    assert_eq!(
        code(judged(&WORKER, &noted, &body_edit)),
        "annotation_changed"
    );
    // Thousands of characters in one element of a text are not typing
    // (and are refused when judged in full).
    let mut long = doc.fork().with_actor(device_actor(WORKER.0));
    long.transact::<_, _, automerge::AutomergeError>(|tx| {
        let (_, text) = tx.get(automerge::ROOT, "observations")?.unwrap();
        automerge::transaction::Transactable::insert(tx, &text, 0, "x".repeat(10_000))?;
        Ok(())
    })
    .unwrap();
    let new = long.get_changes(&doc.get_heads());
    let writer = Writer {
        person_id: WORKER.0,
        role: &WORKER.1,
    };
    assert!(!only_typing(&doc, &new, &writer));
    assert_eq!(code(judged(&WORKER, &doc, &long)), "text_too_long");
}

#[test]
fn an_annotation_follows_its_words() {
    let doc = stored();
    let (mut annotated, _) = by(
        &SUPERVISOR,
        &doc,
        VisitEdit::Annotate {
            id: "n1".into(),
            field: TextField::Observations,
            from: 4,
            to: 10,
            body: "How?".into(),
            author: SUPERVISOR.0.into(),
            at: AT.into(),
        },
    );
    let note = read_visit(&annotated).unwrap().annotations["n1"].clone();
    assert_eq!(note.quote.as_str(), "smiled");
    let at = |doc: &Automerge| match anchor(doc, &note) {
        Anchored::At { from, to } => read_visit(doc)
            .unwrap()
            .observations
            .as_str()
            .chars()
            .skip(from)
            .take(to - from)
            .collect::<String>(),
        Anchored::Deleted => "<deleted>".into(),
    };
    assert_eq!(at(&annotated), "smiled");
    // Text inserted before, and an edit inside the words.
    annotated.set_actor(device_actor(WORKER.0));
    update_text(
        &mut annotated,
        TextField::Observations.path(),
        "Today she smiled at the garden.",
    )
    .unwrap();
    assert_eq!(at(&annotated), "smiled");
    update_text(
        &mut annotated,
        TextField::Observations.path(),
        "Today she smi-led at the garden.",
    )
    .unwrap();
    assert_eq!(at(&annotated), "smi-led");
    update_text(
        &mut annotated,
        TextField::Observations.path(),
        "Today she at the garden.",
    )
    .unwrap();
    assert_eq!(at(&annotated), "<deleted>");
}
