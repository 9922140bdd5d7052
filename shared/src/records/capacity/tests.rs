use super::*;
use crate::doc::{new_document, update_text};
use crate::provenance::device_actor;
use crate::records::Edit;
use crate::records::{self, Kind, PlaceKind, VisitDoc};

// The outcome, on every combination of findings and claims.

/// The law as a truth table, written apart from `outcome`: `None` is
/// "not yet decided".
fn expected(
    all_recorded: bool,
    some_not_met: bool,
    imp: Option<ImpairmentAnswer>,
) -> Option<Outcome> {
    use ImpairmentAnswer::{No, Yes};
    use Outcome::{HasCapacity, LacksCapacity};
    match (all_recorded, some_not_met, imp) {
        (false, _, _) => None,
        (true, false, _) => Some(HasCapacity),
        (true, true, None) => None,
        (true, true, Some(Yes)) => Some(LacksCapacity),
        (true, true, Some(No)) => Some(HasCapacity),
    }
}

#[test]
fn the_outcome_on_every_combination() {
    let states = [None, Some(Finding::Met), Some(Finding::NotMet)];
    let answers = [
        None,
        Some(ImpairmentAnswer::Yes),
        Some(ImpairmentAnswer::No),
    ];
    let mut seen = 0;
    for n in 0..81 {
        let p: Vec<Option<Finding>> = (0..4).map(|i| states[n / 3usize.pow(i) % 3]).collect();
        for imp in answers {
            let findings = Findings {
                understand: p[0],
                retain: p[1],
                use_or_weigh: p[2],
                communicate: p[3],
                impairment: imp,
            };
            let all_recorded = p.iter().all(Option::is_some);
            let some_not_met = p.contains(&Some(Finding::NotMet));
            let want = expected(all_recorded, some_not_met, imp);
            match (want, outcome(&findings)) {
                (Some(o), Computed::Decided(got)) => assert_eq!(o, got, "{findings:?}"),
                (None, Computed::Incomplete(why)) => assert!(!why.is_empty()),
                (want, got) => panic!("{findings:?}: expected {want:?}, got {got:?}"),
            }
            for claimed in [Outcome::HasCapacity, Outcome::LacksCapacity] {
                seen += 1;
                let verdict = may_complete(claimed, &findings);
                match want {
                    None => assert_eq!(
                        verdict.unwrap_err().code,
                        "findings_incomplete",
                        "{findings:?} {claimed}"
                    ),
                    Some(o) if o == claimed => {
                        assert_eq!(verdict, Ok(()), "{findings:?} {claimed}")
                    }
                    Some(_) => {
                        let refusal = verdict.unwrap_err();
                        assert_eq!(refusal.code, "outcome_contradicts_findings");
                        // The message names what contradicts the claim.
                        if some_not_met {
                            for part in findings.not_met() {
                                assert!(
                                    refusal.message.contains(part.inability()),
                                    "{}",
                                    refusal.message
                                );
                            }
                            assert!(refusal.message.contains("impairment"));
                        } else {
                            assert!(
                                refusal
                                    .message
                                    .starts_with("every part of the functional test is met"),
                                "{}",
                                refusal.message
                            );
                        }
                    }
                }
            }
        }
    }
    assert_eq!(seen, 81 * 3 * 2);
}

#[test]
fn messages_say_what_is_missing_and_what_contradicts() {
    let mut f = Findings {
        understand: Some(Finding::Met),
        ..Findings::default()
    };
    assert_eq!(
        outcome(&f),
        Computed::Incomplete(
            "the functional test is not finished: record a finding for retain, use or weigh and communicate".into()
        )
    );
    f.retain = Some(Finding::Met);
    f.use_or_weigh = Some(Finding::NotMet);
    f.communicate = Some(Finding::Met);
    assert_eq!(
        outcome(&f),
        Computed::Incomplete(format!(
            "the person cannot use or weigh the information: answer whether that is because of {IMPAIRMENT}"
        ))
    );
    f.impairment = Some(ImpairmentAnswer::Yes);
    assert_eq!(
        may_complete(Outcome::HasCapacity, &f).unwrap_err().message,
        format!(
            "the person cannot use or weigh the information because of {IMPAIRMENT}: they lack capacity for this decision"
        )
    );
    f.impairment = Some(ImpairmentAnswer::No);
    assert!(
        may_complete(Outcome::LacksCapacity, &f)
            .unwrap_err()
            .message
            .contains("but not because of")
    );
    f.use_or_weigh = Some(Finding::Met);
    assert_eq!(
        may_complete(Outcome::LacksCapacity, &f)
            .unwrap_err()
            .message,
        "every part of the functional test is met (understand, retain, use or weigh, communicate): the person cannot be found to lack capacity"
    );
}

#[test]
fn text_keys_read_back() {
    for t in CapacityText::ALL {
        assert_eq!(CapacityText::from_key(&t.key()), Some(t));
    }
    assert_eq!(CapacityText::from_key("part:nonsense"), None);
    assert_eq!(CapacityText::from_key("understand"), None);
}

// The document and the rules, through `records::check`: one device
// (and so one actor) per person.

const W1: (&str, Role) = ("w-1", Role::Worker);
const W2: (&str, Role) = ("w-2", Role::Worker);
const SUPERVISOR: (&str, Role) = ("sup-1", Role::Supervisor);
const ADMIN: (&str, Role) = ("admin-1", Role::Admin);
const AT: &str = "2026-11-25T12:00:00Z";

fn fresh() -> Automerge {
    new_document(
        &CapacityDoc::new("case-1", "visit-1", W1.0, AT),
        device_actor(W1.0),
    )
    .unwrap()
}

fn writer<'a>(who: &'a (&'static str, Role)) -> Writer<'a> {
    Writer {
        person_id: who.0,
        role: &who.1,
    }
}

fn judged(who: &(&str, Role), before: &Automerge, after: &Automerge) -> Result<Accepted, Refusal> {
    records::judged_as(Kind::Capacity, who.0, &who.1, before, after)
}

/// `who` makes `edits` on a copy of `doc` (bypassing the app's own
/// check, as a hand-made peer would): the document after and the
/// rules' verdict on the whole batch.
fn by_all(
    who: &(&str, Role),
    doc: &Automerge,
    edits: &[CapacityEdit],
) -> (Automerge, Result<Accepted, Refusal>) {
    let mut after = doc.fork().with_actor(device_actor(who.0));
    for edit in edits {
        edit.apply(&mut after).unwrap();
    }
    let verdict = judged(who, doc, &after);
    (after, verdict)
}

fn by(
    who: &(&str, Role),
    doc: &Automerge,
    edit: CapacityEdit,
) -> (Automerge, Result<Accepted, Refusal>) {
    by_all(who, doc, &[edit])
}

fn code<T>(r: &Result<T, Refusal>) -> &'static str {
    r.as_ref().map(|_| "accepted").unwrap_or_else(|e| e.code)
}

fn set(text: CapacityText, value: &str) -> CapacityEdit {
    CapacityEdit::SetText {
        text,
        value: value.into(),
    }
}

fn find(who: &(&str, Role), part: Part, finding: Finding, at: &str) -> CapacityEdit {
    CapacityEdit::RecordFinding {
        part,
        finding,
        by: who.0.into(),
        at: at.into(),
    }
}

fn impairment(who: &(&str, Role), answer: ImpairmentAnswer) -> CapacityEdit {
    CapacityEdit::RecordImpairment {
        answer,
        by: who.0.into(),
        at: AT.into(),
    }
}

fn complete(who: &(&str, Role), id: &str, outcome: Outcome) -> CapacityEdit {
    CapacityEdit::Complete {
        id: id.into(),
        outcome,
        by: who.0.into(),
        at: AT.into(),
    }
}

fn reopen(who: &(&str, Role), id: &str, reason: &str) -> CapacityEdit {
    CapacityEdit::Reopen {
        id: id.into(),
        by: who.0.into(),
        at: AT.into(),
        reason: reason.into(),
    }
}

/// An assessment with its details written and `parts` recorded by W1.
fn assessed(parts: [Finding; 4]) -> Automerge {
    let mut edits = vec![
        set(CapacityText::Decision, "Whether to move into a care home"),
        CapacityEdit::SetAssessedAt(AT.into()),
        set(
            CapacityText::RelevantInformation,
            "What the care home offers, the cost, and staying at home with more support",
        ),
    ];
    for (part, finding) in Part::ALL.iter().zip(parts) {
        edits.push(find(&W1, *part, finding, AT));
    }
    let (doc, verdict) = by_all(&W1, &fresh(), &edits);
    assert_eq!(code(&verdict), "accepted");
    doc
}

const ALL_MET: [Finding; 4] = [Finding::Met; 4];
const CANNOT_WEIGH: [Finding; 4] = [Finding::Met, Finding::Met, Finding::NotMet, Finding::Met];

fn permitted(
    who: &(&'static str, Role),
    doc: &Automerge,
    edit: &CapacityEdit,
) -> Result<(), Refusal> {
    edit.permitted(&read_capacity(doc).unwrap(), doc, &writer(who))
}

#[test]
fn an_assessment_round_trips_and_starts_in_progress() {
    let doc = fresh();
    let read = read_capacity(&doc).unwrap();
    assert_eq!(read, CapacityDoc::new("case-1", "visit-1", W1.0, AT));
    assert_eq!(judged(&W1, &Automerge::new(), &doc).map(|_| ()), Ok(()));
    // Made and completed before it first synced: one batch.
    let (done, _) = by(
        &W1,
        &assessed(ALL_MET),
        complete(&W1, "c1", Outcome::HasCapacity),
    );
    assert_eq!(
        judged(&W1, &Automerge::new(), &done).unwrap().completed(),
        Some(Outcome::HasCapacity)
    );
    let made = |d: CapacityDoc| new_document(&d, device_actor(W1.0)).unwrap();
    let mut done = CapacityDoc::new("case-1", "visit-1", W1.0, AT);
    done.status = Status::Complete;
    assert_eq!(
        code(&judged(&W1, &Automerge::new(), &made(done))),
        "not_in_progress"
    );
    let mut found = CapacityDoc::new("case-1", "visit-1", W1.0, AT);
    found.test.retain.finding = Some(Recorded {
        value: Finding::Met,
        by: W2.0.into(),
        at: AT.into(),
    });
    assert_eq!(
        code(&judged(&W1, &Automerge::new(), &made(found))),
        "forged_author"
    );
    let elsewhere = made(CapacityDoc::new("case-2", "visit-1", W1.0, AT));
    assert_eq!(
        code(&judged(&W1, &Automerge::new(), &elsewhere)),
        "wrong_case"
    );
    let theirs = made(CapacityDoc::new("case-1", "visit-1", W2.0, AT));
    assert_eq!(
        code(&judged(&W1, &Automerge::new(), &theirs)),
        "forged_author"
    );
    let mut moved = doc.fork().with_actor(device_actor(W1.0));
    doc::put_at(&mut moved, &[], "visit_id", "visit-2").unwrap();
    assert_eq!(code(&judged(&W1, &doc, &moved)), "fixed_field");
}

#[test]
fn only_workers_write_an_assessment() {
    let doc = fresh();
    let edit = set(
        CapacityText::Steps,
        "We met in her garden, where she is calmer.",
    );
    assert_eq!(code(&by(&W1, &doc, edit.clone()).1), "accepted");
    assert_eq!(code(&by(&W2, &doc, edit.clone()).1), "accepted");
    for who in [SUPERVISOR, ADMIN] {
        assert_eq!(code(&by(&who, &doc, edit.clone()).1), "not_a_worker");
        assert_eq!(
            permitted(&who, &doc, &edit).unwrap_err().code,
            "not_a_worker"
        );
        let theirs = new_document(
            &CapacityDoc::new("case-1", "visit-1", who.0, AT),
            device_actor(who.0),
        )
        .unwrap();
        assert_eq!(
            code(&judged(&who, &Automerge::new(), &theirs)),
            "not_a_worker"
        );
    }
}

#[test]
fn findings_are_signed_by_whoever_records_them() {
    let doc = fresh();
    let forged = find(&W2, Part::Retain, Finding::Met, AT);
    assert_eq!(code(&by(&W1, &doc, forged.clone()).1), "forged_author");
    assert_eq!(
        permitted(&W1, &doc, &forged).unwrap_err().code,
        "forged_author"
    );
    let (found, verdict) = by(&W1, &doc, find(&W1, Part::Retain, Finding::Met, AT));
    assert_eq!(code(&verdict), "accepted");
    // A colleague records it again, as themselves: that stands.
    assert_eq!(
        code(&by(&W2, &found, find(&W2, Part::Retain, Finding::NotMet, AT)).1),
        "accepted"
    );
    // Rewriting an existing finding in place, as a hand-made peer
    // would, is refused even when it then names the writer.
    for (key, value) in [("by", W2.0), ("value", "not_met")] {
        let mut rewritten = found.fork().with_actor(device_actor(W2.0));
        doc::put_at(&mut rewritten, &["test", "retain", "finding"], key, value).unwrap();
        assert_eq!(code(&judged(&W2, &found, &rewritten)), "finding_changed");
    }
    // Removed, rather than recorded again.
    let mut removed = found.fork().with_actor(device_actor(W1.0));
    doc::put_at(
        &mut removed,
        &["test", "retain"],
        "finding",
        None::<Recorded<Finding>>,
    )
    .unwrap();
    assert_eq!(code(&judged(&W1, &found, &removed)), "removed");
    // Evidence and completions are signed too.
    let complete_as_other = complete(&W2, "c1", Outcome::HasCapacity);
    assert_eq!(
        code(&by(&W1, &assessed(ALL_MET), complete_as_other).1),
        "forged_author"
    );
}

#[test]
fn a_change_built_beside_a_completion_is_kept_and_the_completion_no_longer_stands() {
    let all_met = assessed(ALL_MET);
    let (completed, verdict) = by(&W1, &all_met, complete(&W1, "c1", Outcome::HasCapacity));
    assert_eq!(code(&verdict), "accepted");
    let a = read_capacity(&completed).unwrap();
    assert!(completion_stands(&completed, &a));
    // Built on the heads before the completion: another assessor
    // offline at the time, or a hand-made peer choosing its deps.
    let (beside, _) = by(
        &W2,
        &all_met,
        find(
            &W2,
            Part::Understand,
            Finding::NotMet,
            "2026-11-25T12:05:00Z",
        ),
    );
    let mut merged = completed.fork();
    merged.merge(&mut beside.fork()).unwrap();
    assert_eq!(code(&judged(&W2, &completed, &merged)), "accepted");
    let now = read_capacity(&merged).unwrap();
    assert_eq!(now.status, Status::Complete);
    assert!(!completion_stands(&merged, &now));
}

#[test]
fn an_assessment_cannot_be_grown_without_end() {
    let (_, twice) = by(
        &W1,
        &fresh(),
        CapacityEdit::SetMethods(vec![CreativeMethod::Music, CreativeMethod::Music]),
    );
    assert_eq!(code(&twice), "accepted", "a merge may leave a method twice");
    let (_, many) = by(
        &W1,
        &fresh(),
        CapacityEdit::SetMethods(vec![CreativeMethod::Music; MAX_METHODS + 1]),
    );
    assert_eq!(code(&many), "too_large");
    let mut a = CapacityDoc::new("case-1", "visit-1", W1.0, AT);
    let link = Evidence {
        kind: EvidenceKind::Creative,
        visit_id: "visit-1".into(),
        observation: "o1".into(),
        start: String::new(),
        end: String::new(),
        quote: Text::default(),
        note: Text::default(),
        added_by: W1.0.into(),
        added_at: AT.into(),
    };
    for n in 0..MAX_EVIDENCE {
        a.evidence.insert(format!("e{n}"), link.clone());
    }
    assert!(bounded(&a).is_ok());
    a.evidence.insert("one-more".into(), link);
    assert_eq!(bounded(&a).unwrap_err().code, "too_large");
}

#[test]
fn the_impairment_question_is_asked_only_where_a_part_is_not_met() {
    let met = assessed(ALL_MET);
    assert_eq!(
        permitted(&W1, &met, &impairment(&W1, ImpairmentAnswer::Yes))
            .unwrap_err()
            .code,
        "impairment_not_asked"
    );
    let not_met = assessed(CANNOT_WEIGH);
    assert!(permitted(&W1, &not_met, &impairment(&W1, ImpairmentAnswer::Yes)).is_ok());
    // The server's rules too: a hand-made peer cannot skip the order.
    let (_, verdict) = by(&W1, &met, impairment(&W1, ImpairmentAnswer::Yes));
    assert_eq!(code(&verdict), "impairment_not_asked");
    let (_, verdict) = by(&W1, &not_met, impairment(&W1, ImpairmentAnswer::Yes));
    assert_eq!(code(&verdict), "accepted");
}

#[test]
fn findings_recorded_apart_conflict_until_recorded_again() {
    let base = assessed(ALL_MET);
    let mut a = base.fork().with_actor(device_actor(W1.0));
    find(
        &W1,
        Part::UseOrWeigh,
        Finding::NotMet,
        "2026-11-25T13:00:00Z",
    )
    .apply(&mut a)
    .unwrap();
    let mut b = base.fork().with_actor(device_actor(W2.0));
    find(&W2, Part::UseOrWeigh, Finding::Met, "2026-11-25T14:00:00Z")
        .apply(&mut b)
        .unwrap();
    // The server has the first; the second is a colleague's own
    // finding, and merging the first is not writing it.
    assert_eq!(code(&judged(&W1, &base, &a)), "accepted");
    let mut merged = a.fork();
    merged.merge(&mut b.fork()).unwrap();
    assert_eq!(code(&judged(&W2, &a, &merged)), "accepted");
    let found = conflicts(&merged);
    assert_eq!(
        found,
        vec![FindingConflict::Part {
            part: Part::UseOrWeigh,
            values: vec![
                Recorded {
                    value: Finding::NotMet,
                    by: W1.0.into(),
                    at: "2026-11-25T13:00:00Z".into()
                },
                Recorded {
                    value: Finding::Met,
                    by: W2.0.into(),
                    at: "2026-11-25T14:00:00Z".into()
                },
            ],
        }]
    );
    assert!(found[0].to_string().contains("use or weigh"));
    // Whatever outcome is claimed, and whichever value hydration picked.
    for claimed in [Outcome::HasCapacity, Outcome::LacksCapacity] {
        let mut edits = vec![set(
            CapacityText::BestInterests,
            "Her daughter, with the GP",
        )];
        if claimed == Outcome::LacksCapacity {
            edits.push(impairment(&W1, ImpairmentAnswer::Yes));
        }
        let (ready, _) = by_all(&W1, &merged, &edits);
        let edit = complete(&W1, "c1", claimed);
        assert_eq!(
            permitted(&W1, &ready, &edit).unwrap_err().code,
            "findings_in_conflict"
        );
        let (_, verdict) = by(&W1, &ready, edit);
        assert_eq!(code(&verdict), "findings_in_conflict");
    }
    // Recorded again, knowing both: settled.
    let (settled, verdict) = by(
        &W2,
        &merged,
        find(&W2, Part::UseOrWeigh, Finding::Met, "2026-11-25T15:00:00Z"),
    );
    assert_eq!(code(&verdict), "accepted");
    assert!(conflicts(&settled).is_empty());
    let (_, verdict) = by(&W1, &settled, complete(&W1, "c1", Outcome::HasCapacity));
    assert_eq!(verdict.unwrap().completed(), Some(Outcome::HasCapacity));
    // The impairment question conflicts the same way.
    let base = assessed(CANNOT_WEIGH);
    let mut a = base.fork().with_actor(device_actor(W1.0));
    impairment(&W1, ImpairmentAnswer::Yes)
        .apply(&mut a)
        .unwrap();
    let mut b = base.fork().with_actor(device_actor(W2.0));
    impairment(&W2, ImpairmentAnswer::No).apply(&mut b).unwrap();
    a.merge(&mut b).unwrap();
    assert!(matches!(
        conflicts(&a)[..],
        [FindingConflict::Impairment { ref values }] if values.len() == 2
    ));
}

#[test]
fn a_contradictory_completion_is_refused_naming_the_finding() {
    let met = assessed(ALL_MET);
    let claim = complete(&W1, "c1", Outcome::LacksCapacity);
    let (_, verdict) = by(&W1, &met, claim.clone());
    let refusal = verdict.unwrap_err();
    assert_eq!(refusal.code, "outcome_contradicts_findings");
    assert!(
        refusal
            .message
            .contains("every part of the functional test is met")
    );
    assert_eq!(permitted(&W1, &met, &claim), Err(refusal));

    let (impaired, _) = by(
        &W1,
        &assessed(CANNOT_WEIGH),
        impairment(&W1, ImpairmentAnswer::Yes),
    );
    let (_, verdict) = by(&W1, &impaired, complete(&W1, "c1", Outcome::HasCapacity));
    let refusal = verdict.unwrap_err();
    assert_eq!(refusal.code, "outcome_contradicts_findings");
    assert!(
        refusal
            .message
            .starts_with("the person cannot use or weigh the information because of an impairment"),
        "{}",
        refusal.message
    );
    // Lacking capacity needs a pointer to the best-interests decision.
    let lacks = complete(&W1, "c1", Outcome::LacksCapacity);
    assert_eq!(
        code(&by(&W1, &impaired, lacks.clone()).1),
        "best_interests_missing"
    );
    let (pointed, _) = by(
        &W1,
        &impaired,
        set(
            CapacityText::BestInterests,
            "Best-interests meeting with her son, 2 December",
        ),
    );
    assert!(permitted(&W1, &pointed, &lacks).is_ok());
    assert_eq!(
        by(&W1, &pointed, lacks).1.unwrap().completed(),
        Some(Outcome::LacksCapacity)
    );
    // Not before the details are written.
    let (bare, _) = by(&W1, &fresh(), find(&W1, Part::Retain, Finding::Met, AT));
    assert_eq!(
        code(&by(&W1, &bare, complete(&W1, "c1", Outcome::HasCapacity)).1),
        "details_missing"
    );
    // A completion written by hand, with no history entry.
    let mut forged = met.fork().with_actor(device_actor(W1.0));
    doc::put_at(&mut forged, &[], "status", Status::Complete).unwrap();
    doc::put_at(&mut forged, &[], "outcome", Some(Outcome::HasCapacity)).unwrap();
    assert_eq!(code(&judged(&W1, &met, &forged)), "status_unrecorded");
}

#[test]
fn evidence_stays_on_the_persons_words() {
    let mut visit = new_document(
        &VisitDoc::new("case-1", W1.0, AT, PlaceKind::Home),
        device_actor(W1.0),
    )
    .unwrap();
    let said = "I want to stay in my own home.";
    update_text(&mut visit, TextField::OwnWords.path(), said).unwrap();
    let from = said.find("stay").unwrap();
    let to = said.find('.').unwrap();
    let evidence = Evidence::own_words(&visit, "visit-1", from, to, W1.0, AT).unwrap();
    let (linked, verdict) = by(
        &W1,
        &fresh(),
        CapacityEdit::AddEvidence {
            id: "e1".into(),
            evidence: Box::new(evidence),
        },
    );
    assert_eq!(code(&verdict), "accepted");
    let stored = read_capacity(&linked).unwrap().evidence["e1"].clone();
    assert_eq!(stored.quote.as_str(), "stay in my own home");
    let words = |visit: &Automerge| match locate(visit, &stored) {
        Anchored::At { from, to } => super::super::visit::read_visit(visit)
            .unwrap()
            .own_words
            .text
            .as_str()
            .chars()
            .skip(from)
            .take(to - from)
            .collect::<String>(),
        Anchored::Deleted => "<deleted>".into(),
    };
    assert_eq!(words(&visit), "stay in my own home");
    update_text(
        &mut visit,
        TextField::OwnWords.path(),
        "She told me: I want to stay in my own home.",
    )
    .unwrap();
    assert_eq!(words(&visit), "stay in my own home");
    update_text(
        &mut visit,
        TextField::OwnWords.path(),
        "She told me: I want to.",
    )
    .unwrap();
    assert_eq!(words(&visit), "<deleted>");
    // A note is the assessor's to edit; where it points is not.
    let note = CapacityEdit::SetEvidenceNote {
        id: "e1".into(),
        value: "Said twice, unprompted.".into(),
    };
    assert_eq!(code(&by(&W2, &linked, note).1), "accepted");
    let mut moved = linked.fork().with_actor(device_actor(W1.0));
    doc::put_at(&mut moved, &["evidence", "e1"], "start", "elsewhere").unwrap();
    assert_eq!(code(&judged(&W1, &linked, &moved)), "evidence_changed");
    // Linked by someone else's name.
    let theirs = Evidence::own_words(&visit, "visit-1", 0, 3, W2.0, AT).unwrap();
    assert_eq!(
        code(
            &by(
                &W1,
                &fresh(),
                CapacityEdit::AddEvidence {
                    id: "e2".into(),
                    evidence: Box::new(theirs)
                }
            )
            .1
        ),
        "forged_author"
    );
    // A creative-method observation keeps what was expressed.
    let mut with_drum = visit.fork();
    super::super::visit::VisitEdit::AddCreative {
        id: "c1".into(),
        method: CreativeMethod::Music,
    }
    .apply(&mut with_drum)
    .unwrap();
    update_text(
        &mut with_drum,
        &["creative", "c1", "expressed"],
        "She beat the drum hard when we spoke of moving",
    )
    .unwrap();
    let drum = Evidence::creative(&with_drum, "visit-1", "c1", W1.0, AT).unwrap();
    assert_eq!(
        drum.quote.as_str(),
        "She beat the drum hard when we spoke of moving"
    );
    assert_eq!(
        code(
            &by(
                &W1,
                &linked,
                CapacityEdit::AddEvidence {
                    id: "e3".into(),
                    evidence: Box::new(drum)
                }
            )
            .1
        ),
        "accepted"
    );
    assert!(Evidence::creative(&with_drum, "visit-1", "c9", W1.0, AT).is_err());
}

#[test]
fn after_completion_changes_wait_for_a_reopening_but_those_made_beside_it_stay() {
    let ready = assessed(ALL_MET);
    let (done, verdict) = by(&W1, &ready, complete(&W1, "c1", Outcome::HasCapacity));
    assert_eq!(verdict.unwrap().completed(), Some(Outcome::HasCapacity));
    assert!(since_completion(&done).unwrap().is_empty());
    // Knowing it complete, a finding or a text changes only after a
    // reopening.
    let change = find(&W1, Part::Retain, Finding::NotMet, AT);
    assert_eq!(code(&by(&W1, &done, change.clone()).1), "completed");
    assert_eq!(
        permitted(&W1, &done, &change).unwrap_err().code,
        "completed"
    );
    assert_eq!(
        code(&by(&W2, &done, set(CapacityText::Decision, "Something else")).1),
        "completed"
    );
    // A colleague offline since before the completion recorded a
    // finding and wrote steps beside it: kept, and shown.
    let (offline, _) = by_all(
        &W2,
        &ready,
        &[
            set(CapacityText::Steps, "We used pictures of the home."),
            find(&W2, Part::Retain, Finding::NotMet, "2026-11-25T12:30:00Z"),
            CapacityEdit::AddEvidence {
                id: "e1".into(),
                evidence: Box::new(Evidence {
                    kind: EvidenceKind::Creative,
                    visit_id: "visit-1".into(),
                    observation: "c1".into(),
                    start: String::new(),
                    end: String::new(),
                    quote: Text::with_value("She painted the house, then a door"),
                    note: Text::default(),
                    added_by: W2.0.into(),
                    added_at: AT.into(),
                }),
            },
        ],
    );
    let mut merged = done.fork();
    merged.merge(&mut offline.fork()).unwrap();
    assert_eq!(code(&judged(&W2, &done, &merged)), "accepted");
    let changed = since_completion(&merged).unwrap();
    assert_eq!(changed.len(), 3, "{changed:?}");
    assert_eq!(
        changed[0],
        ChangedSinceCompletion::Text {
            text: CapacityText::Steps,
            at_completion: String::new(),
            now: "We used pictures of the home.".into(),
        }
    );
    assert_eq!(
        changed[1],
        ChangedSinceCompletion::EvidenceLinked { id: "e1".into() }
    );
    let ChangedSinceCompletion::Finding {
        part,
        at_completion,
        now,
    } = &changed[2]
    else {
        panic!("{changed:?}");
    };
    assert_eq!(*part, Part::Retain);
    assert_eq!(at_completion[0].by, W1.0);
    assert_eq!((now[0].value, now[0].by.as_str()), (Finding::NotMet, W2.0));
    // Reopened, with a reason, it changes again.
    assert_eq!(
        code(&by(&W1, &done, reopen(&W1, "r1", " ")).1),
        "reason_required"
    );
    assert_eq!(
        code(&by(&W1, &ready, reopen(&W1, "r1", "Why not")).1),
        "status_transition"
    );
    assert_eq!(
        code(&by(&W1, &done, reopen(&W2, "r1", "New information")).1),
        "forged_author"
    );
    let (reopened, verdict) = by(&W1, &done, reopen(&W1, "r1", "Her sister told us more."));
    assert_eq!(verdict.unwrap().completed(), None);
    let read = read_capacity(&reopened).unwrap();
    assert_eq!((read.status, read.outcome), (Status::InProgress, None));
    assert_eq!(code(&by(&W1, &reopened, change).1), "accepted");
    // Completed, reopened, changed and completed again offline: one
    // batch, judged step by step.
    let (twice, verdict) = by_all(
        &W1,
        &ready,
        &[
            complete(&W1, "c1", Outcome::HasCapacity),
            reopen(&W1, "r1", "She asked to think again."),
            find(&W1, Part::Communicate, Finding::NotMet, AT),
            impairment(&W1, ImpairmentAnswer::Yes),
            set(CapacityText::BestInterests, "Her son decides, with the GP"),
            complete(&W1, "c2", Outcome::LacksCapacity),
        ],
    );
    assert_eq!(verdict.unwrap().completed(), Some(Outcome::LacksCapacity));
    assert_eq!(read_capacity(&twice).unwrap().history().len(), 3);
    // ... but not a change slipped between a completion and its
    // reopening.
    let (_, verdict) = by_all(
        &W1,
        &ready,
        &[
            complete(&W1, "c1", Outcome::HasCapacity),
            find(&W1, Part::Communicate, Finding::NotMet, AT),
            reopen(&W1, "r1", "She asked to think again."),
        ],
    );
    assert_eq!(code(&verdict), "completed");
    // The history stands as made.
    let mut erased = done.fork().with_actor(device_actor(W1.0));
    doc::put_at(
        &mut erased,
        &[],
        "history",
        BTreeMap::<String, StatusChange>::new(),
    )
    .unwrap();
    assert_eq!(code(&judged(&W1, &done, &erased)), "history_changed");
}
