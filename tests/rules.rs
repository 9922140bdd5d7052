//! The server applies every record's rules to the changes a device sends,
//! before they are stored or shared: a hand-made peer of an assigned worker
//! cannot sign a visit off, forge an author, rewrite signed-off words,
//! change a record's schema or shape, or list a visit it did not make.

use automerge::Automerge;
use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, still_serving};
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::VisitDoc;
use fieldvisit_shared::records::{
    CaseEdit, Edit, ReviewStatus, TextField, VisitIndexEntry, read_visit,
};

/// `base` with one change by `actor_of` made by `edit`.
fn forged(base: &Automerge, actor_of: &str, edit: impl FnOnce(&mut Automerge)) -> Automerge {
    let mut doc = base.fork().with_actor(device_actor(actor_of));
    edit(&mut doc);
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_peer_breaking_a_records_rules_is_refused_audited_and_never_shared() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let wren = practice.person("Wren Worker", "worker", Some(&sam));
    let morgan = practice.person("Morgan Worker", "worker", Some(&sam));
    practice.assign(&wren);
    practice.assign(&morgan);
    let server = Server::start(&practice.data());

    // Wren writes a visit; Sam signs another off.
    let owner = practice.online_device(&server, &wren, "owner").await;
    let visit = practice.visit(&owner).await;
    owner
        .set_text(&visit, TextField::Observations, "She showed me her garden.")
        .await
        .unwrap();
    let closed = practice.visit(&owner).await;
    owner
        .set_text(&closed, TextField::Analysis, "She wants to stay.")
        .await
        .unwrap();
    owner
        .decide(&closed, ReviewStatus::Submitted, "")
        .await
        .unwrap();
    owner.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let supervisor = practice.online_device(&server, &sam, "supervisor").await;
    fieldvisit_e2e::eventually("the submitted visit to reach the supervisor", || async {
        supervisor
            .read::<VisitDoc>(&closed)
            .await
            .is_ok_and(|v| v.review.status == ReviewStatus::Submitted)
    })
    .await;
    supervisor
        .decide(&closed, ReviewStatus::SignedOff, "")
        .await
        .unwrap();
    supervisor.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    // Morgan, assigned to the case, reads what an honest app would...
    let reader = practice.online_device(&server, &morgan, "reader").await;
    let fetch = |id: String| {
        let reader = &reader;
        async move {
            for _ in 0..200 {
                if let Some(doc) = reader.try_fetch(&id).await.unwrap() {
                    return doc;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{id} did not reach the reader");
        }
    };
    let case_doc = fetch(practice.case_document_id.clone()).await;
    let visit_doc = fetch(visit.clone()).await;
    fieldvisit_e2e::eventually("the sign-off to reach the reader", || async {
        reader
            .read::<VisitDoc>(&closed)
            .await
            .is_ok_and(|v| v.review.status == ReviewStatus::SignedOff)
    })
    .await;
    let closed_doc = fetch(closed.clone()).await;

    // ...and then writes with a hand-made peer, as its own device.
    let (device_id, code) = practice.enrolment_code(&morgan);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    let me = device_id.as_str();
    let visit_review = |status: ReviewStatus, by: &str| {
        let mut review = read_visit(&visit_doc).unwrap().review;
        review.status = status;
        review.changed_by = by.to_owned();
        review.changed_at = "2026-11-27T10:00:00Z".to_owned();
        review
    };
    let attacks: Vec<(&str, &str, Automerge, &str)> = vec![
        (
            "a sign-off by a worker, in the supervisor's name",
            &visit,
            forged(&visit_doc, me, |d| {
                doc::put_at(
                    d,
                    &[],
                    "review",
                    visit_review(ReviewStatus::SignedOff, &sam),
                )
                .unwrap()
            }),
            "not_reviewer",
        ),
        (
            "a forged author on the visit",
            &visit,
            forged(&visit_doc, me, |d| {
                doc::put_at(d, &[], "author", sam.as_str()).unwrap()
            }),
            "fixed_field",
        ),
        (
            "an edit of signed-off words",
            &closed,
            forged(&closed_doc, me, |d| {
                doc::update_text(d, TextField::Analysis.path(), "She wants to move.").unwrap()
            }),
            "signed_off",
        ),
        (
            "a newer schema in the case",
            &practice.case_document_id,
            forged(&case_doc, me, |d| {
                doc::put_at(d, &[], "schema", 999_u64).unwrap()
            }),
            "newer_schema",
        ),
        (
            "a value of the wrong type in the case",
            &practice.case_document_id,
            forged(&case_doc, me, |d| {
                doc::put_at(d, &["person"], "date_of_birth", 1999_u64).unwrap()
            }),
            "wrong_shape",
        ),
        (
            "a visit listed with another author",
            &practice.case_document_id,
            forged(&case_doc, me, |d| {
                CaseEdit::IndexVisit {
                    visit_document_id: "4NMNnkG3ZgNHYAVN6rmKkDYkChHX".into(),
                    entry: VisitIndexEntry {
                        started_at: "2026-11-27T10:00:00Z".into(),
                        author: sam.clone(),
                        nonce: String::new(),
                    },
                }
                .apply(d)
                .unwrap()
            }),
            "forged_author",
        ),
        (
            "a visit listed that this device did not make",
            &practice.case_document_id,
            forged(&case_doc, me, |d| {
                CaseEdit::IndexVisit {
                    visit_document_id: "4NMNnkG3ZgNHYAVN6rmKkDYkChHX".into(),
                    entry: VisitIndexEntry {
                        started_at: "2026-11-27T10:00:00Z".into(),
                        author: morgan.clone(),
                        nonce: "00".repeat(16),
                    },
                }
                .apply(d)
                .unwrap()
            }),
            "not_creator",
        ),
        (
            "a change under another device's actor",
            &visit,
            forged(&visit_doc, "someone-elses-device", |d| {
                doc::update_text(d, TextField::Observations.path(), "Not my words.").unwrap()
            }),
            "not_own_change",
        ),
    ];
    for (what, doc_id, mut forged, expected) in attacks {
        peer.send_sync(doc_id, &raw::sync_data_with_changes(&mut forged))
            .await;
        assert_eq!(
            peer.refusal_for(doc_id).await.as_deref(),
            Some(expected),
            "{what}: refused, and the peer is told why"
        );
    }

    // The same connection may still write what the rules allow.
    let allowed = forged(&visit_doc, me, |d| {
        doc::update_text(
            d,
            TextField::Observations.path(),
            "She showed me her garden. Morgan.",
        )
        .unwrap()
    });
    // Every refusal is audited with its reason.
    let audited: Vec<String> = practice
        .audit("change_refused")
        .iter()
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    for expected in [
        "not_reviewer",
        "fixed_field",
        "signed_off",
        "newer_schema",
        "wrong_shape",
        "forged_author",
        "not_creator",
        "not_own_change",
    ] {
        assert!(
            audited.iter().any(|d| d.starts_with(expected)),
            "{expected} audited: {audited:?}"
        );
    }

    // No other device ever sees a refused change, and everyone keeps syncing.
    still_serving(&owner, &visit, "She showed me her garden, and the shed.").await;
    let mut allowed = allowed;
    peer.send_sync(&visit, &raw::sync_data_with_changes(&mut allowed))
        .await;
    fieldvisit_e2e::eventually("the allowed edit from the same connection", || async {
        owner
            .read::<VisitDoc>(&visit)
            .await
            .is_ok_and(|v| v.observations.as_str().contains("Morgan."))
    })
    .await;
    owner.refresh_cases().await.unwrap();
    let case = owner.case(&practice.case_id).await.unwrap();
    assert_eq!(case.schema, 1);
    assert_eq!(case.person.date_of_birth, "");
    assert_eq!(
        case.visits.len(),
        2,
        "no forged listing: {:?}",
        case.visits.keys()
    );
    let v = owner.read::<VisitDoc>(&visit).await.unwrap();
    assert_eq!(v.author, wren);
    assert_eq!(v.review.status, ReviewStatus::Draft);
    assert!(!v.observations.as_str().contains("Not my words"));
    let c = owner.read::<VisitDoc>(&closed).await.unwrap();
    assert_eq!(c.analysis.as_str(), "She wants to stay.");

    // Records hold ids; the app shows names of the people on its cases.
    assert_eq!(owner.name_of(&sam), "Sam Supervisor");
    assert_eq!(owner.name_of(&morgan), "Morgan Worker");

    // Every review decision is in the audit log, attributed.
    let decisions: Vec<String> = practice
        .audit("review_decision")
        .iter()
        .filter(|e| e["document_id"] == closed.as_str())
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert!(
        decisions[0].starts_with(&format!("signed_off by {sam}")),
        "{decisions:?}"
    );
    assert!(
        decisions[1].starts_with(&format!("submitted by {wren}")),
        "{decisions:?}"
    );
}
