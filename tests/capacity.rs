//! Capacity assessments end to end, through the real server: two assessors
//! work on one assessment offline and everything they wrote merges; a
//! finding they recorded differently is kept from both, shown, and holds
//! completion back on both phones until one of them records it again; and
//! a completion that contradicts the findings, sent by a hand-made peer
//! that skips the app's own check, is refused by the server and never
//! stored.

use automerge::Automerge;
use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, eventually, str_of};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_mobile::core::TextOf;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::capacity::CapacityDoc;
use fieldvisit_shared::records::capacity::{
    CapacityEdit, CapacityText, ChangedSinceCompletion, Finding, FindingConflict, Outcome, Part,
    Status, read_capacity,
};
use fieldvisit_shared::records::{CreativeMethod, CreativeText, Edit, TextField, VisitText};

async fn write(device: &DeviceCore, assessment: &str, text: CapacityText, value: &str) {
    device
        .save(
            &TextOf::Capacity {
                assessment_id: assessment.to_owned(),
                text,
            },
            value,
        )
        .await
        .unwrap();
}

/// Writes the details a completion needs and records `parts` as this
/// device's person.
async fn assess(device: &DeviceCore, assessment: &str, parts: [(Part, Finding); 4]) {
    write(
        device,
        assessment,
        CapacityText::Decision,
        "Whether to move into a care home",
    )
    .await;
    device
        .set_assessed_at(assessment, "2026-11-27T10:00:00Z")
        .await
        .unwrap();
    write(
        device,
        assessment,
        CapacityText::RelevantInformation,
        "What the care home offers, what it costs, and staying at home with more support.",
    )
    .await;
    for (part, finding) in parts {
        device
            .record_finding(assessment, part, finding)
            .await
            .unwrap();
    }
}

fn refusal_code<T: std::fmt::Debug>(result: Result<T, fieldvisit_mobile::CoreError>) -> String {
    match result {
        Err(fieldvisit_mobile::CoreError::Refused(r)) => r.code.to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn same_heads(a: &DeviceCore, b: &DeviceCore, id: &str) -> bool {
    a.document_heads(id).await.ok() == b.document_heads(id).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_assessors_offline_merge_and_a_conflicting_finding_holds_completion_until_settled() {
    let practice = Practice::new();
    let alex = practice.person("Alex Assessor", "worker", None);
    let sam = practice.person("Sam Assessor", "worker", None);
    practice.assign(&alex);
    practice.assign(&sam);
    let server = Server::start(&practice.data());

    let a = practice.device(&server, &alex, "phone-alex").await;
    let b = practice.device(&server, &sam, "phone-sam").await;
    a.go_online().unwrap();
    b.go_online().unwrap();
    a.refresh_cases().await.unwrap();
    b.refresh_cases().await.unwrap();

    // Alex visits, writes the person's words and a creative observation,
    // and starts an assessment from the visit.
    let visit = practice.visit(&a).await;
    a.set_text(
        &visit,
        TextField::OwnWords,
        "I want to stay here. My cat needs me.",
    )
    .await
    .unwrap();
    let hummed = a.add_creative(&visit, CreativeMethod::Music).await.unwrap();
    a.set_text(
        &visit,
        VisitText::Creative {
            id: hummed.clone(),
            part: CreativeText::Expressed,
        },
        "She hummed the song she sings to her cat, smiling.",
    )
    .await
    .unwrap();
    let id = a.start_assessment(&practice.case_id, &visit).await.unwrap();
    assess(
        &a,
        &id,
        [
            (Part::Understand, Finding::Met),
            (Part::Retain, Finding::Met),
            (Part::UseOrWeigh, Finding::Met),
            (Part::Communicate, Finding::Met),
        ],
    )
    .await;
    a.set_assessment_methods(&id, &[CreativeMethod::Music])
        .await
        .unwrap();
    let words = a.link_own_words(&id, &visit, 0, 20).await.unwrap();
    a.link_creative(&id, &visit, &hummed).await.unwrap();
    // The case lists it at once, on this phone, offline or not.
    let listed = a.assessments_of_case(&practice.case_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, id);
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    // Sam's phone finds it through the case, as a colleague's.
    eventually(
        "the assessment to reach Sam's phone through its case",
        || async {
            b.assessments_of_case(&practice.case_id)
                .await
                .is_ok_and(|l| l.iter().any(|(i, d)| *i == id && d.evidence.len() == 2))
        },
    )
    .await;
    let evidence = b.linked_evidence(&id).await.unwrap();
    let quoted = evidence.iter().find(|e| e.id == words).unwrap();
    assert_eq!(quoted.evidence.quote.as_str(), "I want to stay here.");
    assert_eq!(quoted.at, Some((0, 20)));
    eventually("both phones to hold the same assessment", || async {
        same_heads(&a, &b, &id).await
    })
    .await;

    // Both go offline. Each records a different finding for use or weigh
    // and writes different text.
    a.go_offline();
    b.go_offline();
    a.record_finding(&id, Part::UseOrWeigh, Finding::NotMet)
        .await
        .unwrap();
    write(
        &a,
        &id,
        CapacityText::PartEvidence(Part::UseOrWeigh),
        "She could not weigh the cost against staying.",
    )
    .await;
    b.record_finding(&id, Part::UseOrWeigh, Finding::Met)
        .await
        .unwrap();
    write(
        &b,
        &id,
        CapacityText::Steps,
        "We met in her garden, where she is calmer, with her cat.",
    )
    .await;
    // The visit is edited later: the linked words stay on the same words.
    a.set_text(
        &visit,
        TextField::OwnWords,
        "Well. I want to stay here. My cat needs me.",
    )
    .await
    .unwrap();
    assert!(a.assessment_conflicts(&id).await.unwrap().is_empty());

    a.go_online().unwrap();
    b.go_online().unwrap();
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    b.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("both phones to merge everything", || async {
        same_heads(&a, &b, &id).await && same_heads(&a, &b, &visit).await
    })
    .await;

    for (who, device) in [("Alex", &a), ("Sam", &b)] {
        let merged = device.read::<CapacityDoc>(&id).await.unwrap();
        assert_eq!(
            merged.test.use_or_weigh.evidence.as_str(),
            "She could not weigh the cost against staying.",
            "{who}"
        );
        assert_eq!(
            merged.steps.as_str(),
            "We met in her garden, where she is calmer, with her cat.",
            "{who}"
        );
        let conflicts = device.assessment_conflicts(&id).await.unwrap();
        let [FindingConflict::Part { part, values }] = &conflicts[..] else {
            panic!("{who}: one conflict expected, got {conflicts:?}");
        };
        assert_eq!(*part, Part::UseOrWeigh);
        let mut seen: Vec<(&str, Finding)> =
            values.iter().map(|r| (r.by.as_str(), r.value)).collect();
        seen.sort_by_key(|(by, _)| *by);
        let mut want = vec![
            (alex.as_str(), Finding::NotMet),
            (sam.as_str(), Finding::Met),
        ];
        want.sort_by_key(|(by, _)| *by);
        assert_eq!(
            seen, want,
            "{who}: both findings kept, each with its assessor"
        );
        assert_eq!(
            refusal_code(device.complete_assessment(&id).await),
            "findings_in_conflict",
            "{who} cannot complete while the findings differ"
        );
        let view = device.assessment_view(&id).await.unwrap();
        assert_eq!(
            device.completion(&view).unwrap_err().code,
            "findings_in_conflict",
            "{who}'s screen says so before they try"
        );
        // The passage moved with the words.
        let linked = device.linked_evidence(&id).await.unwrap();
        let quoted = linked.iter().find(|e| e.id == words).unwrap();
        assert_eq!(quoted.at, Some((6, 26)), "{who}");
        assert_eq!(quoted.now.as_deref(), Some("I want to stay here."));
    }

    // Sam, having seen both, records the finding again: it stands.
    b.record_finding(&id, Part::UseOrWeigh, Finding::Met)
        .await
        .unwrap();
    b.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("the settled finding to reach Alex", || async {
        a.assessment_conflicts(&id)
            .await
            .is_ok_and(|c| c.is_empty())
    })
    .await;
    assert!(b.assessment_conflicts(&id).await.unwrap().is_empty());
    let view = a.assessment_view(&id).await.unwrap();
    assert_eq!(a.completion(&view), Ok(Outcome::HasCapacity));

    // Alex completes while Sam, offline and not knowing, adds a sentence.
    b.go_offline();
    assert_eq!(
        a.complete_assessment(&id).await.unwrap(),
        Outcome::HasCapacity
    );
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    // The completion is in the practice's audit log, by whom and how.
    let completed = practice.audit("assessment_completed");
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(str_of(&completed[0], "document_id"), id);
    assert!(
        str_of(&completed[0], "detail").starts_with(&format!("has_capacity by {alex} at ")),
        "{completed:?}"
    );
    write(
        &b,
        &id,
        CapacityText::Steps,
        "We met in her garden, where she is calmer, with her cat and her daughter.",
    )
    .await;
    b.go_online().unwrap();
    b.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("the completion and the late sentence to meet", || async {
        same_heads(&a, &b, &id).await
    })
    .await;
    for (who, device) in [("Alex", &a), ("Sam", &b)] {
        let view = device.assessment_view(&id).await.unwrap();
        assert_eq!(view.doc.status, Status::Complete, "{who}");
        assert_eq!(view.doc.outcome, Some(Outcome::HasCapacity), "{who}");
        assert_eq!(view.doc.completed_by, alex, "{who}");
        assert!(
            matches!(
                &view.since_completion[..],
                [ChangedSinceCompletion::Text { text: CapacityText::Steps, now, .. }]
                    if now.ends_with("and her daughter.")
            ),
            "{who}: the sentence made beside the completion is kept and shown: {:?}",
            view.since_completion
        );
    }
    // Complete, it is closed to edits until someone reopens it.
    assert_eq!(
        refusal_code(b.record_finding(&id, Part::Retain, Finding::NotMet).await),
        "completed"
    );
    assert_eq!(
        refusal_code(b.reopen_assessment(&id, " ").await),
        "reason_required"
    );
    b.reopen_assessment(&id, "Her daughter says she was very tired that day.")
        .await
        .unwrap();
    b.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    // The reopening is audited too, by whom (the reason is the record's).
    let reopened = practice.audit("assessment_reopened");
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    assert!(str_of(&reopened[0], "detail").starts_with("reopened by "));
    eventually("the reopening to reach Alex", || async {
        a.read::<CapacityDoc>(&id)
            .await
            .is_ok_and(|d| d.status == Status::InProgress && d.history.len() == 2)
    })
    .await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_contradicting_the_findings_is_refused_in_the_app_and_by_the_server() {
    let practice = Practice::new();
    let alex = practice.person("Alex Assessor", "worker", None);
    let morgan = practice.person("Morgan Worker", "worker", None);
    practice.assign(&alex);
    practice.assign(&morgan);
    let server = Server::start(&practice.data());

    let a = practice.online_device(&server, &alex, "phone-alex").await;
    let visit = practice.visit(&a).await;
    let id = a.start_assessment(&practice.case_id, &visit).await.unwrap();
    assess(
        &a,
        &id,
        [
            (Part::Understand, Finding::Met),
            (Part::Retain, Finding::Met),
            (Part::UseOrWeigh, Finding::Met),
            (Part::Communicate, Finding::Met),
        ],
    )
    .await;
    write(
        &a,
        &id,
        CapacityText::BestInterests,
        "Best-interests meeting with her son",
    )
    .await;
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    // The app will not write it: every part is met.
    let claim = CapacityEdit::Complete {
        id: "c1".into(),
        outcome: Outcome::LacksCapacity,
        by: alex.clone(),
        at: "2026-11-27T11:00:00Z".into(),
    };
    assert_eq!(
        refusal_code(a.edit_assessment(&id, claim).await),
        "outcome_contradicts_findings"
    );

    // Morgan, on the case, writes it by hand and sends it as their device.
    let (device_id, code) = practice.enrolment_code(&morgan);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let base: Automerge = a
        .try_fetch(&id)
        .await
        .unwrap()
        .expect("the assessment on Alex's phone");
    let heads = base.get_heads();
    let mut forged = base.fork().with_actor(device_actor(&device_id));
    CapacityEdit::Complete {
        id: "c1".into(),
        outcome: Outcome::LacksCapacity,
        by: morgan.clone(),
        at: "2026-11-27T11:00:00Z".into(),
    }
    .apply(&mut forged)
    .unwrap();
    assert_eq!(
        read_capacity(&forged).unwrap().status,
        Status::Complete,
        "the hand-made change completes it"
    );
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    peer.send_sync(&id, &raw::sync_data_with_changes(&mut forged))
        .await;
    assert_eq!(
        peer.refusal_for(&id).await.as_deref(),
        Some("outcome_contradicts_findings"),
        "refused, and the peer is told why"
    );
    assert!(
        practice.audit("change_refused").iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("outcome_contradicts_findings"))),
        "the refusal is audited"
    );

    // The server's copy is as it was: a phone that never saw the assessment
    // gets it from the server, in progress, with exactly Alex's changes.
    let fresh = practice
        .online_device(&server, &morgan, "phone-morgan")
        .await;
    eventually("the server's copy to reach a fresh phone", || async {
        fresh.document_heads(&id).await.ok() == Some(heads.clone())
    })
    .await;
    let stored = fresh.read::<CapacityDoc>(&id).await.unwrap();
    assert_eq!(stored.status, Status::InProgress);
    assert_eq!(stored.outcome, None);
    assert!(stored.history.is_empty());
    assert_eq!(a.document_heads(&id).await.unwrap(), heads);

    // What the findings do support is accepted, from the app.
    assert_eq!(
        a.complete_assessment(&id).await.unwrap(),
        Outcome::HasCapacity
    );
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("the honest completion to reach the fresh phone", || async {
        fresh
            .read::<CapacityDoc>(&id)
            .await
            .is_ok_and(|d| d.outcome == Some(Outcome::HasCapacity))
    })
    .await;
    a.close().await;
    fresh.close().await;
}
