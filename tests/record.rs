//! The practice's case record on a real server: who wrote which words
//! (two people in one paragraph), the record as it stood between two edits,
//! search that finds a word typed offline and never anything from a case
//! the searcher may not see, a practice reviewer who reads and cannot
//! write, and an audit log that shows every opening.

use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, eventually};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::api::{AuditFilter, CaseRecord};
use fieldvisit_shared::doc;
use fieldvisit_shared::history::Since;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::VisitDoc;
use fieldvisit_shared::records::{PlaceKind, TextField};

fn observations(record: &CaseRecord, visit: &str) -> fieldvisit_shared::api::PassageView {
    record
        .visits
        .iter()
        .find(|v| v.document_id == visit)
        .and_then(|v| v.passages.iter().find(|p| p.key == "field:observations"))
        .cloned()
        .expect("the visit's observations")
}

async fn found(device: &DeviceCore, word: &str) -> Vec<String> {
    device
        .search(word)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.case_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_record_attributes_dates_and_finds_words_only_for_those_who_may_see_them() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let wren = practice.person("Wren Worker", "worker", Some(&sam));
    let ash = practice.person("Ash Worker", "worker", Some(&sam));
    let robin = practice.person("Robin Worker", "worker", None);
    let rae = practice.person("Rae Reviewer", "reviewer", None);
    let ada = practice.person("Ada Admin", "admin", None);
    practice.assign(&wren);
    practice.assign(&ash);
    practice.assign(&rae);
    let (other_case, _) = practice.add_case("TEST-002");
    practice.assign_to(&other_case, &robin);
    let server = Server::start(&practice.data());

    // Robin, on the other case, writes the same word there.
    let robin_phone = practice.online_device(&server, &robin, "robin").await;
    let robin_visit = robin_phone
        .create_visit(&other_case, PlaceKind::Home)
        .await
        .unwrap();
    robin_phone
        .set_text(
            &robin_visit,
            TextField::Observations,
            "Robin saw marmalade.",
        )
        .await
        .unwrap();
    robin_phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    // Wren writes offline, in someone's home, then comes back into signal.
    let wren_phone = practice.online_device(&server, &wren, "wren").await;
    wren_phone.go_offline();
    let visit = practice.visit(&wren_phone).await;
    wren_phone
        .set_text(
            &visit,
            TextField::Observations,
            "She made marmalade with her daughter.",
        )
        .await
        .unwrap();
    wren_phone
        .mark_significant(&visit, "2026-11-20T08:00:00.000Z", "A fall on the stairs.")
        .await
        .unwrap();
    wren_phone.go_online().unwrap();
    wren_phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    // Search finds it once synced, for those who may see the case only.
    let case = practice.case_id.clone();
    eventually("the word typed offline to be found", || async {
        found(&wren_phone, "marmalade").await == vec![case.clone()]
    })
    .await;
    assert_eq!(
        found(&robin_phone, "marmalade").await,
        vec![other_case.clone()]
    );
    let rae_desk = practice.device(&server, &rae, "rae").await;
    assert_eq!(found(&rae_desk, "marmalade").await, vec![case.clone()]);
    let sam_desk = practice.device(&server, &sam, "sam").await;
    assert_eq!(
        found(&sam_desk, "marm").await,
        vec![case.clone()],
        "a word's start"
    );
    let hit = &wren_phone.search("MARMALADE daughter").await.unwrap()[0];
    assert_eq!(
        (hit.document_id.as_str(), hit.passage.as_str()),
        (visit.as_str(), "field:observations")
    );
    assert!(
        hit.snippet.contains("\u{2}marmalade\u{3}"),
        "{:?}",
        hit.snippet
    );
    assert!(
        found(&wren_phone, "stairs").await == vec![case.clone()],
        "significant events too"
    );
    // The case's own details, made before the server started, are indexed too.
    assert_eq!(found(&wren_phone, "Casey").await, vec![case.clone()]);

    // Between two edits: the record as it stood then.
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let ash_phone = practice.online_device(&server, &ash, "ash").await;
    eventually("Wren's visit to reach Ash", || async {
        ash_phone
            .read::<VisitDoc>(&visit)
            .await
            .is_ok_and(|v| v.observations.as_str().contains("daughter"))
    })
    .await;
    ash_phone
        .set_text(
            &visit,
            TextField::Observations,
            "She made tofu with her daughter. Ash was there too",
        )
        .await
        .unwrap();
    ash_phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("Ash's words on the server", || async {
        rae_desk
            .case_record(&case, None)
            .await
            .is_ok_and(|r| observations(&r, &visit).text.contains("Ash was there"))
    })
    .await;

    let then = rae_desk.case_record(&case, Some(&between)).await.unwrap();
    let passage = observations(&then, &visit);
    assert_eq!(passage.text, "She made marmalade with her daughter.");
    let text_of = |kinds: &[Since]| -> String {
        passage
            .since
            .iter()
            .filter(|s| kinds.contains(&s.since))
            .map(|s| s.text.as_str())
            .collect()
    };
    assert_eq!(text_of(&[Since::Same, Since::Removed]), passage.text);
    assert_eq!(
        text_of(&[Since::Same, Since::Added]),
        "She made tofu with her daughter. Ash was there too"
    );
    assert!(text_of(&[Since::Removed]).contains("marmalade"));
    // Before anything arrived, the visit is not in the record at all.
    let before = rae_desk
        .case_record(&case, Some("2020-01-01T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        before.to_string().contains("kept the time it received"),
        "nothing is known of what the server held before it kept receipts: {before}"
    );

    // Who wrote what, character by character, with both times.
    let record = rae_desk.case_record(&case, None).await.unwrap();
    let names: Vec<&str> = record.chronology.iter().map(|r| r.by.as_str()).collect();
    assert!(names.iter().all(|n| !n.starts_with("worker-")), "{names:?}");
    assert!(
        record
            .chronology
            .iter()
            .any(|r| r.kind == "significant" && r.summary == "A fall on the stairs."),
        "{:?}",
        record.chronology
    );
    let who = rae_desk
        .authorship(&visit, "field:observations")
        .await
        .unwrap();
    let by = |person: &str| -> String {
        who.runs
            .iter()
            .filter(|r| r.person == person)
            .map(|r| r.text.as_str())
            .collect()
    };
    let all: String = who.runs.iter().map(|r| r.text.as_str()).collect();
    // One stretch per person and place: Wren, Ash, Wren, Ash.
    assert_eq!(who.runs.len(), 4, "{:?}", who.runs);
    assert_eq!(all, "She made tofu with her daughter. Ash was there too");
    assert_eq!(by("Wren Worker"), "She made  with her daughter.");
    // ("tofu" shares no letter with "marmalade", so the diff is unambiguous.)
    assert_eq!(by("Ash Worker"), "tofu Ash was there too");
    for run in &who.runs {
        let written = run.device_time.as_ref().expect("the device's clock");
        assert!(written.from.starts_with("20"), "{run:?}");
        let received = run.received.as_ref().expect("the server's receipt");
        assert!(received.from <= received.to, "{run:?}");
        assert_ne!(run.device, "unknown");
    }

    // A practice reviewer sees only the cases given to them...
    let denied = rae_desk.case_record(&other_case, None).await.unwrap_err();
    assert!(
        denied.to_string().contains("not_found") || denied.to_string().contains("was not found"),
        "{denied}"
    );
    assert!(
        rae_desk
            .authorship(&robin_visit, "field:observations")
            .await
            .is_err()
    );
    // ...and cannot write a visit, even with a hand-made peer.
    rae_desk.go_online().unwrap();
    rae_desk.refresh_cases().await.unwrap();
    let visit_doc = loop {
        if let Some(d) = rae_desk.try_fetch(&visit).await.unwrap() {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (rae_device, code) = practice.enrolment_code(&rae);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    let mut forged = visit_doc.fork().with_actor(device_actor(&rae_device));
    doc::update_text(
        &mut forged,
        TextField::Observations.path(),
        "A reviewer's rewrite.",
    )
    .unwrap();
    peer.send_sync(&visit, &raw::sync_data_with_changes(&mut forged))
        .await;
    assert_eq!(
        peer.refusal_for(&visit).await.as_deref(),
        Some("not_a_worker")
    );

    // Every opening of a case record is audited; the admin filters them.
    let admin = practice.device(&server, &ada, "ada").await;
    let opened = admin
        .audit_log(&AuditFilter {
            action: Some("case_opened".into()),
            person_id: Some(rae.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(opened.len() >= 3, "{opened:?}");
    assert!(
        opened
            .iter()
            .all(|e| e.person_name.as_deref() == Some("Rae Reviewer"))
    );
    assert!(
        opened
            .iter()
            .all(|e| e.case_id.as_deref() == Some(case.as_str()))
    );
    assert!(opened.iter().any(|e| e.detail.starts_with("as at ")));
    let for_case = admin
        .audit_log(&AuditFilter {
            case_id: Some(other_case.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        for_case
            .iter()
            .all(|e| e.case_id.as_deref() == Some(other_case.as_str()))
    );
    // Every read of the case is there: the record, who wrote a passage,
    // and a search that showed its words.
    let for_ours = admin
        .audit_log(&AuditFilter {
            case_id: Some(case.clone()),
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    for action in ["case_opened", "authorship_viewed", "searched"] {
        assert!(
            for_ours.iter().any(|e| e.action == action),
            "{action} filed under the case: {:?}",
            for_ours.iter().map(|e| &e.action).collect::<Vec<_>>()
        );
    }
    assert!(
        rae_desk.audit_log(&AuditFilter::default()).await.is_err(),
        "only an admin reads the audit log"
    );
    // A search is audited with the cases it showed, never its words.
    let searches = admin
        .audit_log(&AuditFilter {
            action: Some("searched".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(searches.iter().all(|e| !e.detail.contains("marmalade")));
}

/// The order of a search's hits says nothing of other cases: ranked by
/// FTS5's bm25, a word's weight came from how often it appears in every
/// case of the practice, so two of one's own passages swapped places when
/// someone else's case filled up with one of the words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_of_search_hits_says_nothing_of_other_cases() {
    async fn write(phone: &DeviceCore, case: &str, words: &str) -> String {
        let visit = phone.create_visit(case, PlaceKind::Home).await.unwrap();
        phone
            .set_text(&visit, TextField::Observations, words)
            .await
            .unwrap();
        phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
        visit
    }
    async fn order(phone: &DeviceCore, words: &str) -> Vec<String> {
        let hits = phone.search(words).await.unwrap();
        hits.into_iter().map(|h| h.document_id).collect()
    }
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let robin = practice.person("Robin Worker", "worker", None);
    practice.assign(&wren);
    let (other_case, _) = practice.add_case("TEST-002");
    practice.assign_to(&other_case, &robin);
    let server = Server::start(&practice.data());
    let wren_phone = practice.online_device(&server, &wren, "wren").await;
    let robin_phone = practice.online_device(&server, &robin, "robin").await;
    let case = practice.case_id.clone();

    // Two of Wren's passages with both words, each with one of them twice;
    // Robin's case has "quartz" everywhere, so "willow" weighs more.
    let more_quartz = write(&wren_phone, &case, "quartz quartz willow").await;
    let more_willow = write(&wren_phone, &case, "quartz willow willow").await;
    for _ in 0..4 {
        write(&robin_phone, &other_case, "quartz").await;
    }
    eventually("every passage indexed", || async {
        order(&wren_phone, "quartz willow").await.len() == 2
            && order(&robin_phone, "quartz").await.len() == 4
    })
    .await;
    let before = order(&wren_phone, "quartz willow").await;
    assert!(before.contains(&more_quartz) && before.contains(&more_willow));

    // Now "willow" everywhere in Robin's case instead.
    for _ in 0..8 {
        write(&robin_phone, &other_case, "willow").await;
    }
    eventually("Robin's new passages indexed", || async {
        order(&robin_phone, "willow").await.len() == 8
    })
    .await;
    let after = order(&wren_phone, "quartz willow").await;
    assert_eq!(before, after, "the order moved with another case's words");
}
