use super::*;
use crate::doc;
use crate::provenance::device_actor;
use crate::records::{PlaceKind, TextField, VisitDoc, judged_as};
use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};

const W: &str = "w-1";

/// W's visit, made on W's other device (so W's actor here starts
/// afresh).
fn stored() -> Automerge {
    let visit = VisitDoc::new("case-1", W, "2026-11-25T10:00:00Z", PlaceKind::Home);
    doc::new_document(&visit, device_actor("w-1-tablet")).unwrap()
}

fn by_worker(before: &Automerge, edit: impl FnOnce(&mut Automerge)) -> Result<(), Refusal> {
    let mut after = before.fork().with_actor(device_actor(W));
    edit(&mut after);
    judged_as(Kind::Visit, W, &Role::Worker, before, &after).map(|_| ())
}

fn tx(doc: &mut Automerge, f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) {
    doc.transact::<_, _, automerge::AutomergeError>(|t| {
        f(t);
        Ok(())
    })
    .unwrap();
}

fn code(r: Result<(), Refusal>) -> String {
    match r {
        Ok(()) => "accepted".into(),
        Err(e) => format!("{}: {}", e.code, e.message),
    }
}

#[test]
fn what_hydration_does_not_read_is_refused_with_its_path() {
    let before = stored();
    let extra_root = by_worker(&before, |d| {
        tx(d, |t| {
            t.put_object(ROOT, "shadow", ObjType::Map).unwrap();
        })
    });
    assert_eq!(
        code(extra_root),
        "unknown_path: /shadow: this record has no such field"
    );
    let nested = by_worker(&before, |d| {
        let (_, own) = d.get(ROOT, "own_words").unwrap().unwrap();
        tx(d, |t| {
            t.put(&own, "aside", "read by nobody").unwrap();
        })
    });
    assert_eq!(
        code(nested),
        "unknown_path: /own_words/aside: this record has no such field"
    );
    let wrong_type = by_worker(&before, |d| {
        tx(d, |t| {
            t.put_object(ROOT, "observations", ObjType::Map).unwrap();
        })
    });
    assert!(code(wrong_type).starts_with("wrong_shape"));
    // What the record's own edits write passes.
    let honest = by_worker(&before, |d| {
        doc::update_text(d, TextField::Observations.path(), "She smiled.").unwrap()
    });
    assert_eq!(code(honest), "accepted");
}

#[test]
fn one_character_of_a_text_holds_a_character_not_megabytes() {
    let before = stored();
    let long = by_worker(&before, |d| {
        let (_, text) = d.get(ROOT, "observations").unwrap().unwrap();
        tx(d, |t| {
            t.insert(&text, 0, "x".repeat(100_000)).unwrap();
        })
    });
    assert!(code(long).starts_with("text_too_long: /observations/[]"));
    let emoji = by_worker(&before, |d| {
        doc::update_text(d, TextField::Observations.path(), "👩‍👩‍👧‍👦 é").unwrap()
    });
    assert_eq!(code(emoji), "accepted");
}

#[test]
fn a_second_root_cannot_write_the_fixed_fields() {
    let before = stored();
    // A change with no dependencies: as if it made the record anew.
    let mut root = Automerge::new().with_actor(device_actor(W));
    tx(&mut root, |t| {
        t.put(ROOT, "author", "s-1").unwrap();
    });
    let mut after = before.clone();
    after.merge(&mut root).unwrap();
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ());
    assert!(code(judged).starts_with("fixed_field: /author"));
}

/// `doc` with one change by `W` that puts `value` at `key` of the root,
/// made to overlook every value already there (an empty `pred`) and,
/// with `start_op` 1, to lose the conflict against them.
fn made_to_lose(doc: &Automerge, key: &str, value: &str) -> Automerge {
    let mut honest = doc.fork().with_actor(device_actor(W));
    tx(&mut honest, |t| {
        t.put(ROOT, key, value).unwrap();
    });
    let mut change = honest.get_changes(&doc.get_heads())[0].decode();
    for op in &mut change.operations {
        op.pred = automerge::legacy::SortedVec::new();
    }
    change.start_op = std::num::NonZeroU64::new(1).unwrap();
    change.hash = None;
    let mut after = doc.clone();
    after
        .apply_changes([automerge::Change::from(change)])
        .unwrap();
    after
}

#[test]
fn a_value_made_to_lose_a_conflict_is_refused() {
    let before = stored();
    let after = made_to_lose(&before, "place", "office");
    let values = after.get_all(ROOT, "place").unwrap();
    assert_eq!(values.len(), 2, "a conflict");
    let (shown, _) = after.get(ROOT, "place").unwrap().unwrap();
    assert_eq!(shown.as_str(), Some("home"), "the forged value loses");
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ());
    assert!(code(judged).starts_with("hidden_conflict: /place"));
}

#[test]
fn two_values_of_one_writer_at_one_key_are_refused() {
    // One change puts a forged place and then the true one, each
    // overwriting only what was there before: both stand, the true one
    // shows, the forged one is held by every reader of the document.
    let before = stored();
    let mut honest = before.fork().with_actor(device_actor(W));
    tx(&mut honest, |t| {
        t.put(ROOT, "place", "office").unwrap();
        t.put(ROOT, "place", "home").unwrap();
    });
    let mut change = honest.get_changes(&before.get_heads())[0].decode();
    let first_pred = change.operations[0].pred.clone();
    change.operations[1].pred = first_pred;
    change.hash = None;
    let mut after = before.clone();
    after
        .apply_changes([automerge::Change::from(change)])
        .unwrap();
    assert_eq!(after.get_all(ROOT, "place").unwrap().len(), 2);
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ());
    assert!(code(judged).starts_with("hidden_conflict: /place"));
}

#[test]
fn a_list_element_overwritten_beside_its_value_is_refused() {
    let mut before = stored();
    let mut with_mode = before.fork().with_actor(device_actor(W));
    tx(&mut with_mode, |t| {
        let (_, own) = t.get(ROOT, "own_words").unwrap().unwrap();
        let (_, modes) = t.get(&own, "communication").unwrap().unwrap();
        t.insert(&modes, 0, "speech").unwrap();
    });
    before.merge(&mut with_mode).unwrap();
    let mut honest = before.fork().with_actor(device_actor(W));
    tx(&mut honest, |t| {
        let (_, own) = t.get(ROOT, "own_words").unwrap().unwrap();
        let (_, modes) = t.get(&own, "communication").unwrap().unwrap();
        t.put(&modes, 0, "music").unwrap();
    });
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &honest).map(|_| ());
    assert_eq!(code(judged), "accepted");
    let mut change = honest.get_changes(&before.get_heads())[0].decode();
    for op in &mut change.operations {
        op.pred = automerge::legacy::SortedVec::new();
    }
    change.hash = None;
    let mut after = before.clone();
    after
        .apply_changes([automerge::Change::from(change)])
        .unwrap();
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ());
    let said = code(judged);
    assert!(
        said.starts_with("hidden_conflict: /own_words/communication/"),
        "{said}"
    );
}

/// Each change of a message that is more than typing is judged on its
/// own: the worker's own id put into the review without a decision,
/// and taken back by the next change, ends where it started and was
/// accepted whole; the state between is a forgery.
#[test]
fn every_step_of_a_message_is_judged_not_only_its_end() {
    let before = stored();
    let mut after = before.fork().with_actor(device_actor(W));
    let r = after.get(ROOT, "review").unwrap().unwrap().1;
    for by in [W, ""] {
        tx(&mut after, |t| {
            t.put(&r, "changed_by", by).unwrap();
        });
    }
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ());
    let said = code(judged);
    assert!(said.starts_with("review_changed"), "{said}");
    // Typing in two changes is judged at its end alone, and accepted.
    let mut typed = before.fork().with_actor(device_actor(W));
    for words in ["The kettle", "The kettle was on."] {
        doc::update_text(&mut typed, TextField::Observations.path(), words).unwrap();
    }
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &typed).map(|_| ());
    assert_eq!(code(judged), "accepted");
}

#[test]
fn a_new_visit_may_not_hold_a_photo_removed_in_someone_elses_name() {
    let mut visit = VisitDoc::new("case-1", W, "2026-11-25T10:00:00Z", PlaceKind::Home);
    let sha = "ab".repeat(32);
    visit.photos.insert(
        sha.clone(),
        crate::records::visit::PhotoRef {
            sha256: sha.clone(),
            size: 10,
            width: 1,
            height: 1,
            caption: Default::default(),
            captured_at: "2026-11-25T10:00:00Z".into(),
            removed_by: "s-1".into(),
            removed_at: "2026-11-25T10:01:00Z".into(),
        },
    );
    let made = doc::new_document(&visit, device_actor(W)).unwrap();
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &Automerge::new(), &made);
    let said = code(judged.map(|_| ()));
    assert!(said.starts_with("photo_changed"), "{said}");
    // And per op, whatever the kind's rules read: the first change
    // names no one but its writer.
    let writer = Writer {
        person_id: W,
        role: &Role::Worker,
    };
    let changes: Vec<Change> = made.get_changes(&[]);
    let said = code(check(Kind::Visit, &Automerge::new(), &made, &changes, &writer).map(|_| ()));
    assert!(said.starts_with("not_the_writer: /photos/"), "{said}");
}

/// A state in the middle of a message is stored too (the record as it
/// stood then shows it): a worker's change that signs the visit off in
/// a supervisor's name, taken back by the next change of the same
/// message, is refused although the two together change nothing.
#[test]
fn a_review_state_taken_back_within_one_message_is_still_judged() {
    let before = stored();
    let mut after = before.fork().with_actor(device_actor(W));
    let review = |d: &Automerge| d.get(ROOT, "review").unwrap().unwrap().1;
    let r = review(&after);
    tx(&mut after, |t| {
        t.put(&r, "status", "signed_off").unwrap();
        t.put(&r, "changed_by", "s-1").unwrap();
    });
    tx(&mut after, |t| {
        t.put(&r, "status", "draft").unwrap();
        t.put(&r, "changed_by", "").unwrap();
    });
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ());
    assert!(
        code(judged).starts_with("not_your_decision: /review/status"),
        "{}",
        code(judged_as(Kind::Visit, W, &Role::Worker, &before, &after).map(|_| ()))
    );
    // A supervisor who names the worker as the one who decided, and
    // takes it back in the next change.
    let mut named = before.fork().with_actor(device_actor("s-1"));
    tx(&mut named, |t| {
        t.put(&r, "changed_by", W).unwrap();
    });
    tx(&mut named, |t| {
        t.put(&r, "changed_by", "").unwrap();
    });
    let judged = judged_as(Kind::Visit, "s-1", &Role::Supervisor, &before, &named);
    let said = code(judged.map(|_| ()));
    assert!(
        said.starts_with("not_the_writer: /review/changed_by"),
        "{said}"
    );
}

#[test]
fn an_honest_conflict_between_two_offline_devices_is_kept() {
    let before = stored();
    let mut tablet = before.fork().with_actor(device_actor("w-1-tablet"));
    tx(&mut tablet, |t| {
        t.put(ROOT, "place", "hospital").unwrap();
    });
    let mut phone = before.fork().with_actor(device_actor(W));
    tx(&mut phone, |t| {
        t.put(ROOT, "place", "office").unwrap();
    });
    // The tablet synced first; the phone's change arrives beside it.
    let mut stored_now = before.clone();
    stored_now.merge(&mut tablet).unwrap();
    let mut after = stored_now.clone();
    after.merge(&mut phone).unwrap();
    assert_eq!(after.get_all(ROOT, "place").unwrap().len(), 2);
    let judged = judged_as(Kind::Visit, W, &Role::Worker, &stored_now, &after).map(|_| ());
    assert_eq!(code(judged), "accepted");
}

#[test]
fn a_supervisor_writes_only_what_oversight_writes() {
    let before = stored();
    let mut after = before.fork().with_actor(device_actor("s-1"));
    tx(&mut after, |t| {
        let (_, text) = t.get(ROOT, "analysis").unwrap().unwrap();
        t.splice_text(&text, 0, 0, "Mine.").unwrap();
    });
    let judged = judged_as(Kind::Visit, "s-1", &Role::Supervisor, &before, &after);
    // The kind's own rule says so first.
    assert_eq!(judged.unwrap_err().code, "not_a_worker");
    let role_of = |path: &[&str]| {
        let props: Vec<Prop> = path.iter().map(|k| Prop::Map((*k).into())).collect();
        walk(Kind::Visit.shape(), &props).map(|(_, who, _)| who)
    };
    assert_eq!(role_of(&["annotations", "a1"]).unwrap(), Some(Supervisor));
    assert_eq!(role_of(&["review", "decisions"]).unwrap(), Some(Both));
    assert_eq!(role_of(&["observations"]).unwrap(), Some(Worker));
}
