//! What the server stores is exactly what its rules judged: a hand-made peer
//! with a worker's valid enrolment cannot get a forged change stored by
//! wrapping it in a message the rules read one way and samod another.

use automerge::transaction::Transactable;
use automerge::{Automerge, Change, ChangeHash, ROOT, ReadDoc};
use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, Server};
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::VisitDoc;
use fieldvisit_shared::records::{CaseEdit, Edit, VisitIndexEntry};

/// The changes `doc` has that `base` lacks, in order.
fn new_changes(base: &Automerge, doc: &Automerge) -> Vec<Change> {
    doc.get_changes(&base.get_heads())
}

/// A sync payload carrying `chunks` as its change list, heads `heads`.
fn payload(heads: Vec<ChangeHash>, chunks: Vec<Vec<u8>>) -> Vec<u8> {
    automerge::sync::Message {
        heads,
        need: vec![],
        have: vec![],
        changes: chunks.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

/// A change chunk that does not load: an honest change with one byte of
/// its body flipped (its checksum no longer matches).
fn broken(change: &Change) -> Vec<u8> {
    let mut bytes = change.raw_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgery_wrapped_around_a_chunk_that_fails_is_refused_whole_and_never_stored() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let morgan = practice.person("Morgan Worker", "worker", Some(&sam));
    practice.assign(&morgan);
    let server = Server::start(&practice.data());

    // A reader on the case: what the server shares is what it stores.
    let reader = practice.online_device(&server, &morgan, "reader").await;
    let case_id = practice.case_document_id.clone();
    let mut case_doc = None;
    for _ in 0..200 {
        case_doc = reader.try_fetch(&case_id).await.unwrap();
        if case_doc.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let case_doc = case_doc.expect("the case reaches the reader");

    let (device_id, code) = practice.enrolment_code(&morgan);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    let me = device_actor(&device_id);

    // 1. The schema forged, a chunk that fails, the schema put back.
    let mut forged = case_doc.fork().with_actor(me.clone());
    doc::put_at(&mut forged, &[], "schema", 999_u64).unwrap();
    let forge = new_changes(&case_doc, &forged).remove(0);
    let mut restored = forged.fork();
    doc::put_at(&mut restored, &[], "schema", 1_u64).unwrap();
    let restore = new_changes(&forged, &restored).remove(0);
    let mut other = case_doc.fork().with_actor(me.clone());
    other
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "note", "x").map(|_| ()))
        .unwrap();
    let failing = broken(&new_changes(&case_doc, &other)[0]);
    let schema_attack = payload(
        restored.get_heads(),
        vec![
            forge.raw_bytes().to_vec(),
            failing.clone(),
            restore.raw_bytes().to_vec(),
        ],
    );
    peer.send_sync(&case_id, &schema_attack).await;
    assert_eq!(
        peer.refusal_for(&case_id).await.as_deref(),
        Some("changes_do_not_load"),
        "the schema attack is refused whole, with its own code"
    );

    // 2. A visit listed under another person as its author, then unlisted,
    //    around the same failing chunk.
    let visit_id = "4NMNnkG3ZgNHYAVN6rmKkDYkChHX";
    let mut listed = case_doc.fork().with_actor(me.clone());
    CaseEdit::IndexVisit {
        visit_document_id: visit_id.into(),
        entry: VisitIndexEntry {
            started_at: "2026-11-27T10:00:00Z".into(),
            author: sam.clone(),
            nonce: String::new(),
        },
    }
    .apply(&mut listed)
    .unwrap();
    let list = new_changes(&case_doc, &listed).remove(0);
    let mut unlisted = listed.fork();
    let (_, visits) = unlisted.get(ROOT, "visits").unwrap().expect("visits");
    unlisted
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.delete(&visits, visit_id))
        .unwrap();
    let unlist = new_changes(&listed, &unlisted).remove(0);
    let listing_attack = payload(
        unlisted.get_heads(),
        vec![
            list.raw_bytes().to_vec(),
            failing,
            unlist.raw_bytes().to_vec(),
        ],
    );
    peer.send_sync(&case_id, &listing_attack).await;
    assert_eq!(
        peer.refusal_for(&case_id).await.as_deref(),
        Some("changes_do_not_load")
    );

    // Positive control: the same connection's allowed edit reaches the
    // reader, so both attacks were handled before it (one connection's
    // messages are taken in order), and none of their changes is there.
    let mut allowed = case_doc.fork().with_actor(me.clone());
    doc::update_text(
        &mut allowed,
        &["person", "communication_needs"],
        "Prefers to talk in the garden.",
    )
    .unwrap();
    let allowed_changes = new_changes(&case_doc, &allowed);
    assert!(!allowed_changes.is_empty(), "the control makes a change");
    peer.send_sync(
        &case_id,
        &payload(
            allowed.get_heads(),
            allowed_changes
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect(),
        ),
    )
    .await;
    let arrived = |d: &Automerge| {
        allowed_changes
            .iter()
            .all(|c| d.get_change_by_hash(&c.hash()).is_some())
    };
    fieldvisit_e2e::eventually("the allowed edit to reach the reader", || async {
        let doc = reader.try_fetch(&case_id).await.unwrap();
        doc.as_ref().is_some_and(arrived)
    })
    .await;
    let shared = reader.try_fetch(&case_id).await.unwrap().unwrap();
    for (what, change) in [
        ("the forged schema", &forge),
        ("the schema put back", &restore),
        ("the forged listing", &list),
        ("the unlisting", &unlist),
    ] {
        assert!(
            shared.get_change_by_hash(&change.hash()).is_none(),
            "{what} was stored"
        );
    }
    let case = reader.case(&practice.case_id).await.unwrap();
    assert_eq!(case.schema, 1);
    assert!(!case.visits.contains_key(visit_id));
    assert!(
        practice.audit("change_refused").iter().any(|e| e["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("changes_do_not_load")),
        "the refusal is audited"
    );
}

/// The map at `path` from the root.
fn map_at(doc: &Automerge, path: &[&str]) -> automerge::ObjId {
    path.iter().fold(ROOT, |obj, key| {
        doc.get(&obj, *key).unwrap().expect("a map there").1
    })
}

/// `base` with one change by `actor` that puts `value` at `key` of the map
/// at `path`, made to overlook the value already there (an empty `pred`)
/// and, starting at op 1, to lose the conflict against it: the typed
/// record still shows the old value, every reader of the document holds
/// the new one.
fn made_to_lose(
    base: &Automerge,
    actor: &automerge::ActorId,
    path: &[&str],
    key: &str,
    value: &str,
) -> Change {
    let mut honest = base.fork().with_actor(actor.clone());
    let obj = map_at(&honest, path);
    honest
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(&obj, key, value).map(|_| ()))
        .unwrap();
    let mut change = new_changes(base, &honest).remove(0).decode();
    for op in &mut change.operations {
        op.pred = automerge::legacy::SortedVec::new();
    }
    change.start_op = std::num::NonZeroU64::new(1).unwrap();
    change.hash = None;
    Change::from(change)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_hydration_does_not_read_is_refused_op_by_op_and_never_shared() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let wren = practice.person("Wren Worker", "worker", Some(&sam));
    let rae = practice.person("Rae Reviewer", "reviewer", None);
    practice.assign(&wren);
    practice.assign(&rae);
    let server = Server::start(&practice.data());

    // Wren's visit, from her phone; the case as the server shares it.
    let phone = practice.online_device(&server, &wren, "phone").await;
    let visit = phone
        .create_visit(
            &practice.case_id,
            fieldvisit_shared::records::PlaceKind::Home,
        )
        .await
        .unwrap();
    phone
        .set_text(
            &visit,
            fieldvisit_shared::records::TextField::Observations,
            "She smiled.",
        )
        .await
        .unwrap();
    phone
        .wait_until_synced(fieldvisit_e2e::SYNC_TIMEOUT)
        .await
        .unwrap();
    let visit_doc = phone.try_fetch(&visit).await.unwrap().unwrap();
    let case_id = practice.case_document_id.clone();
    let case_doc = phone.try_fetch(&case_id).await.unwrap().unwrap();

    // A hand-made peer of Wren's, enrolled as her second device.
    let (device_id, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    let me = device_actor(&device_id);
    let send = |doc: &Automerge, changes: &[Change]| {
        let mut heads = doc.get_heads();
        heads.extend(changes.iter().map(|c| c.hash()));
        heads.sort();
        payload(
            heads,
            changes.iter().map(|c| c.raw_bytes().to_vec()).collect(),
        )
    };
    let mut attacks: Vec<(&str, String, Vec<u8>, &str)> = Vec::new();

    // A map the schema does not have, in the case document.
    let mut shadow = case_doc.fork().with_actor(me.clone());
    shadow
        .transact::<_, _, automerge::AutomergeError>(|tx| {
            let m = tx.put_object(ROOT, "shadow", automerge::ObjType::Map)?;
            tx.put(&m, "note", "kept beside the record")?;
            Ok(())
        })
        .unwrap();
    attacks.push((
        "a map the case does not have",
        case_id.clone(),
        send(&case_doc, &new_changes(&case_doc, &shadow)),
        "unknown_path",
    ));
    // A submission hidden in a conflict it loses.
    let hidden = made_to_lose(&visit_doc, &me, &["review"], "status", "submitted");
    attacks.push((
        "a submission made to lose a conflict",
        visit.clone(),
        send(&visit_doc, std::slice::from_ref(&hidden)),
        "hidden_conflict",
    ));
    // A sign-off in a supervisor's name, taken back by the next change of
    // the same message: together they change nothing, yet the history
    // would hold the visit signed off by someone who never did.
    let mut taken_back = visit_doc.fork().with_actor(me.clone());
    for (status, by) in [("signed_off", "someone-else"), ("draft", "")] {
        taken_back
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                let (_, review) = tx.get(ROOT, "review")?.unwrap();
                tx.put(&review, "status", status)?;
                tx.put(&review, "changed_by", by)?;
                Ok(())
            })
            .unwrap();
    }
    // The worker's own id put into the review with no decision, and taken
    // back: each op is the writer's own, only the state between is forged.
    let mut own_then_back = visit_doc.fork().with_actor(me.clone());
    for by in [wren.as_str(), ""] {
        own_then_back
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                let (_, review) = tx.get(ROOT, "review")?.unwrap();
                tx.put(&review, "changed_by", by)?;
                Ok(())
            })
            .unwrap();
    }
    attacks.push((
        "a review changed without a decision and changed back within one message",
        visit.clone(),
        send(&visit_doc, &new_changes(&visit_doc, &own_then_back)),
        "review_changed",
    ));
    attacks.push((
        "a sign-off taken back within one message",
        visit.clone(),
        send(&visit_doc, &new_changes(&visit_doc, &taken_back)),
        "not_your_decision",
    ));
    // Megabytes in one character of a text.
    let mut long = visit_doc.fork().with_actor(me.clone());
    long.transact::<_, _, automerge::AutomergeError>(|tx| {
        let (_, text) = tx.get(ROOT, "analysis")?.unwrap();
        tx.insert(&text, 0, "x".repeat(150_000))?;
        Ok(())
    })
    .unwrap();
    attacks.push((
        "150,000 characters in one element of a text",
        visit.clone(),
        send(&visit_doc, &new_changes(&visit_doc, &long)),
        "text_too_long",
    ));
    for (what, doc_id, message, expected) in &attacks {
        peer.send_sync(doc_id, message).await;
        assert_eq!(
            peer.refusal_for(doc_id).await.as_deref(),
            Some(*expected),
            "{what}"
        );
    }

    // A reviewer's device writes nothing, whatever it writes.
    let (rae_device, rae_code) = practice.enrolment_code(&rae);
    let (rae_token, rae_peer) = raw::enrol(&server.url, &rae_code).await;
    let mut reviewer = RawPeer::connect(&server.url, &rae_token, &rae_peer).await;
    let mut theirs = visit_doc.fork().with_actor(device_actor(&rae_device));
    doc::update_text(
        &mut theirs,
        fieldvisit_shared::records::TextField::Analysis.path(),
        "A reviewer's view.",
    )
    .unwrap();
    reviewer
        .send_sync(&visit, &send(&visit_doc, &new_changes(&visit_doc, &theirs)))
        .await;
    let code = reviewer.refusal_for(&visit).await;
    assert!(
        matches!(code.as_deref(), Some("read_only" | "not_a_worker")),
        "{code:?}"
    );

    // Positive control: the same hand-made peer's honest edit arrives, so
    // everything before it was handled; nothing refused was kept.
    let mut allowed = visit_doc.fork().with_actor(me.clone());
    doc::update_text(
        &mut allowed,
        fieldvisit_shared::records::TextField::Observations.path(),
        "She smiled. She made tea.",
    )
    .unwrap();
    let allowed_changes = new_changes(&visit_doc, &allowed);
    peer.send_sync(&visit, &send(&visit_doc, &allowed_changes))
        .await;
    fieldvisit_e2e::eventually("the honest edit on the phone", || async {
        phone
            .read::<VisitDoc>(&visit)
            .await
            .is_ok_and(|v| v.observations.as_str().contains("made tea"))
    })
    .await;
    let shared_visit = phone.try_fetch(&visit).await.unwrap().unwrap();
    assert!(shared_visit.get_change_by_hash(&hidden.hash()).is_none());
    assert_eq!(
        shared_visit
            .get_all(map_at(&shared_visit, &["review"]), "status")
            .unwrap()
            .len(),
        1,
        "no hidden value beside the review's status"
    );
    let long_text = shared_visit.get(ROOT, "analysis").unwrap().unwrap().1;
    assert_eq!(shared_visit.length(&long_text), 0);
    phone.refresh_cases().await.unwrap();
    let shared_case = phone.try_fetch(&case_id).await.unwrap().unwrap();
    assert!(shared_case.get(ROOT, "shadow").unwrap().is_none());
}
