//! Per-case authorisation and revocation, against the real server.

use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, admin, eventually};
use fieldvisit_mobile::core::TextOf;
use fieldvisit_shared::records::VisitDoc;
use fieldvisit_shared::records::concern::{ConcernText, Consent};
use fieldvisit_shared::records::{PlaceKind, TextField};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassigned_device_gets_nothing_and_its_write_is_refused_and_audited() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let mallory = practice.person("Morgan Unassigned", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());

    let owner = practice.online_device(&server, &wren, "owner").await;
    let visit = practice.visit(&owner).await;
    owner
        .set_text(&visit, TextField::OwnWords, "Private words.")
        .await
        .unwrap();
    owner.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    // The outsider's device core: no cases listed, and the known ids lead nowhere.
    let outsider = practice.device(&server, &mallory, "outsider").await;
    outsider.go_online().unwrap();
    assert!(outsider.refresh_cases().await.unwrap().is_empty());
    for id in [&practice.case_document_id, &visit] {
        assert!(
            outsider.try_fetch(id).await.unwrap().is_none(),
            "the outsider must not obtain {id}"
        );
    }

    // A hand-made peer writes into the case document by id.
    let (_, code) = practice.enrolment_code(&mallory);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    // Nor does it learn who works on cases it may not see.
    let people: serde_json::Value = raw::client()
        .get(format!("{}/api/people", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = people
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Morgan Unassigned"]);
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    let mut forged = automerge::Automerge::new();
    {
        use automerge::transaction::Transactable;
        forged
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "reference", "FORGED")?;
                Ok(())
            })
            .unwrap();
    }
    let data = raw::sync_data_with_changes(&mut forged);
    peer.send_sync(&practice.case_document_id, &data).await;

    eventually("the refused write to reach the audit log", || async {
        practice.audit("write_refused").iter().any(|e| {
            e["document_id"] == practice.case_document_id.as_str() && e["detail"] == "not_assigned"
        })
    })
    .await;
    assert!(
        practice
            .audit("request_refused")
            .iter()
            .any(|e| e["document_id"] == visit.as_str()),
        "the outsider's requests are audited too"
    );
    // Nothing changed: the owner still reads the real reference.
    owner.refresh_cases().await.unwrap();
    assert_eq!(
        owner.case(&practice.case_id).await.unwrap().reference,
        "TEST-001"
    );
    owner.close().await;
    outsider.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_their_workers_cases() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let wren = practice.person("Wren Worker", "worker", Some(&sam));
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let sup = practice.device(&server, &sam, "supervisor").await;
    sup.go_online().unwrap();
    let cases = sup.refresh_cases().await.unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(
        sup.case(&practice.case_id).await.unwrap().reference,
        "TEST-001"
    );
    sup.close().await;
}

/// Two supervisors: each sees the cases of the workers they supervise and
/// none of the other's, and a concern raised on a case alerts only the
/// supervisor of its worker (the other's alert list stays empty, and the
/// case's documents are refused to them over sync as to anyone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_supervisor_sees_neither_the_others_cases_nor_their_alerts() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let sue = practice.person("Sue Supervisor", "supervisor", None);
    let wren = practice.person("Wren Worker", "worker", Some(&sam));
    let ash = practice.person("Ash Worker", "worker", Some(&sue));
    practice.assign(&wren);
    let (ash_case, ash_case_doc) = practice.add_case("TEST-002");
    practice.assign_to(&ash_case, &ash);
    let server = Server::start(&practice.data());

    let sams = practice.online_device(&server, &sam, "sam").await;
    let sues = practice.online_device(&server, &sue, "sue").await;
    let listed = |cases: Vec<fieldvisit_shared::api::CaseSummary>| {
        cases.into_iter().map(|c| c.case_id).collect::<Vec<_>>()
    };
    assert_eq!(
        listed(sams.refresh_cases().await.unwrap()),
        std::slice::from_ref(&practice.case_id)
    );
    assert_eq!(
        listed(sues.refresh_cases().await.unwrap()),
        std::slice::from_ref(&ash_case)
    );

    // Ash raises a concern on their case.
    let phone = practice.online_device(&server, &ash, "ash").await;
    let visit = phone
        .create_visit(&ash_case, PlaceKind::Home)
        .await
        .unwrap();
    let concern = phone.start_concern(&ash_case, &visit).await.unwrap();
    for (text, words) in [
        (ConcernText::WhatHappened, "A synthetic concern."),
        (ConcernText::WhoIsAtRisk, "Casey Synthetic"),
        (ConcernText::ImmediateActions, "Stayed with her."),
    ] {
        let target = TextOf::Concern {
            concern_id: concern.clone(),
            text,
        };
        phone.save(&target, words).await.unwrap();
    }
    phone
        .set_concern_consent(&concern, Consent::Given)
        .await
        .unwrap();
    phone.raise_concern(&concern).await.unwrap();
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("Sue's alert", || async {
        sues.alerts()
            .await
            .is_ok_and(|a| a.iter().any(|a| a.document_id == concern))
    })
    .await;
    // The positive control came first: the alert exists; Sam has none.
    assert_eq!(sams.alerts().await.unwrap().len(), 0);

    // Over sync, Ash's case document and the concern are refused to Sam.
    let (sam_device, code) = practice.enrolment_code(&sam);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    for doc in [ash_case_doc.as_str(), concern.as_str()] {
        peer.send_to_server("request", doc, &raw::request_data())
            .await;
        assert_eq!(
            peer.answer_for(doc).await.as_deref(),
            Some("doc-unavailable"),
            "{doc} to {sam_device}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_disconnected_and_refused() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (device_id, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;

    admin(&practice.data(), &["revoke-device", "--device", &device_id]);

    let (code, reason) = peer.closed_with().await.expect("a close frame");
    assert_eq!(code, 4001);
    assert!(reason.starts_with("device_revoked"), "{reason}");
    let resp = raw::ticket(&server.url, &token).await;
    assert_eq!(resp.status(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "device_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_follows_assignments_on_open_connections_within_a_second() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    let robin = practice.person("Robin Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    practice.assign(&robin);
    let server = Server::start(&practice.data());
    let writer = practice.device(&server, &wren, "writer").await;
    let colleague = practice.device(&server, &ash, "colleague").await;
    // Still assigned throughout: what it receives, Ash would have.
    let control = practice.device(&server, &robin, "control").await;
    for d in [&writer, &colleague, &control] {
        d.go_online().unwrap();
        d.refresh_cases().await.unwrap();
    }
    let visit = practice.visit(&writer).await;
    writer
        .set_text(&visit, TextField::Observations, "Seen by both.")
        .await
        .unwrap();
    writer.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    colleague.refresh_cases().await.unwrap();
    control.refresh_cases().await.unwrap();
    eventually("the colleague to have the visit", || async {
        matches!(colleague.read::<VisitDoc>(&visit).await, Ok(v) if v.observations.as_str() == "Seen by both.")
    })
    .await;
    eventually("the control to have the visit", || async {
        matches!(control.read::<VisitDoc>(&visit).await, Ok(v) if v.observations.as_str() == "Seen by both.")
    })
    .await;

    // Unassigned while connected: the next edit does not reach them.
    admin(
        &practice.data(),
        &["unassign", "--case", &practice.case_id, "--person", &ash],
    );
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    writer
        .set_text(&visit, TextField::Observations, "Seen by both. Not by Ash.")
        .await
        .unwrap();
    writer.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    // The positive control: the edit went out to the case's devices (a
    // slow server would fail here, not pass below); then a moment more.
    eventually("the control to have the edit", || async {
        matches!(control.read::<VisitDoc>(&visit).await, Ok(v) if v.observations.as_str() == "Seen by both. Not by Ash.")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        colleague
            .read::<VisitDoc>(&visit)
            .await
            .unwrap()
            .observations
            .as_str(),
        "Seen by both.",
        "an unassigned device must not receive later edits"
    );
    assert!(
        practice
            .audit("unassigned")
            .iter()
            .any(|e| e["person_id"] == ash.as_str())
    );

    // Assigned to another case while connected: it syncs without a reconnect.
    let (case2, _) = practice.add_case("TEST-002");
    practice.assign_to(&case2, &ash);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let cases = colleague.refresh_cases().await.unwrap();
    assert!(cases.iter().any(|c| c.case_id == case2), "{cases:?}");
    let case = tokio::time::timeout(SYNC_TIMEOUT, colleague.case(&case2))
        .await
        .expect("the new case loads")
        .unwrap();
    assert_eq!(case.reference, "TEST-002");
    writer.close().await;
    colleague.close().await;
    control.close().await;
}

/// What a colleague's hand-made client gets for `POST /api/documents` with
/// `document_id`: (status, error code, message with the id blanked out).
async fn try_register(
    server: &Server,
    token: &str,
    case_id: &str,
    document_id: &str,
) -> (u16, String, String) {
    let nonce: [u8; fieldvisit_shared::provenance::NONCE_LEN] = rand::random();
    let resp = raw::client()
        .post(format!("{}/api/documents", server.url))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "kind": "visit",
            "case_id": case_id,
            "document_id": document_id,
            "nonce": hex_of(&nonce),
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["message"]
            .as_str()
            .unwrap_or_default()
            .replace(document_id, "<id>"),
    )
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_race_a_colleague_cannot_claim_a_new_visit_and_learns_nothing_from_trying() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let colm = practice.person("Colm Colleague", "worker", None);
    practice.assign(&wren);
    practice.assign(&colm);
    let (other_case, _) = practice.add_case("TEST-002");
    practice.assign_to(&other_case, &colm);
    let server = Server::start(&practice.data());

    // The owner makes a visit while out of signal: its id exists, its
    // registration waits.
    let owner = practice.online_device(&server, &wren, "owner").await;
    owner.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    owner.go_offline();
    let visit = practice.visit(&owner).await;
    owner
        .set_text(&visit, TextField::OwnWords, "Words said at home.")
        .await
        .unwrap();

    // The colleague's hand-made client has the id (a case document lists
    // it) and tries to claim it first, for a case of theirs and for the
    // owner's own case; and, for comparison, an id that exists nowhere.
    let (_, code) = practice.enrolment_code(&colm);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let nowhere = {
        let id = fieldvisit_shared::provenance::document_id(&rand::random(), &rand::random());
        samod::DocumentId::try_from(id.to_vec())
            .unwrap()
            .to_string()
    };
    let unknown = try_register(&server, &token, &other_case, &nowhere).await;
    assert_eq!((unknown.0, unknown.1.as_str()), (404, "not_found"));
    for case in [&other_case, &practice.case_id] {
        assert_eq!(
            try_register(&server, &token, case, &visit).await,
            unknown,
            "claiming another device's id must read exactly like an unknown id"
        );
    }

    // The owner comes back into signal: the visit registers to its case
    // and its words reach the server.
    owner.go_online().unwrap();
    owner.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let colleague = practice.online_device(&server, &colm, "colleague").await;
    let at_server = colleague
        .read::<VisitDoc>(&visit)
        .await
        .expect("the owner's visit reached the server, in the owner's case");
    assert_eq!(at_server.case_id, practice.case_id);
    assert_eq!(at_server.own_words.text.as_str(), "Words said at home.");

    // Once registered, a claim still reads like an unknown id.
    assert_eq!(
        try_register(&server, &token, &other_case, &visit).await,
        unknown
    );

    let refused: Vec<_> = practice
        .audit("register_refused")
        .into_iter()
        .filter(|e| e["document_id"] == visit.as_str())
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        refused,
        ["not_creator:registered", "not_creator", "not_creator"],
        "every claim is audited (newest first), with what the device was not told"
    );
    let registered = practice.audit("visit_registered");
    let ours: Vec<_> = registered
        .iter()
        .filter(|e| e["document_id"] == visit.as_str())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["case_id"], practice.case_id.as_str());
    assert_eq!(ours[0]["person_id"], wren.as_str());
}
