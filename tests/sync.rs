//! Offline edits on two phones merge through the real server, and nothing
//! acknowledged is lost when the server is killed.

use automerge::Automerge;
use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, eventually};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::VisitDoc;
use fieldvisit_shared::records::{PlaceKind, TextField};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offline_devices_merge_every_character() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    let server = Server::start(&practice.data());

    let a = practice.device(&server, &wren, "phone-a").await;
    let b = practice.device(&server, &ash, "phone-b").await;
    a.go_online().unwrap();
    b.go_online().unwrap();
    a.refresh_cases().await.unwrap();
    b.refresh_cases().await.unwrap();

    let visit = practice.visit(&a).await;
    a.set_text(&visit, TextField::Observations, "The kitchen was tidy.")
        .await
        .unwrap();
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    b.refresh_cases().await.unwrap();
    let seen = b.read::<VisitDoc>(&visit).await.unwrap();
    assert_eq!(seen.observations.as_str(), "The kitchen was tidy.");

    // Both offline: each writes its own section and both edit one sentence.
    a.go_offline();
    b.go_offline();
    a.set_text(
        &visit,
        TextField::OwnWords,
        "I want to stay in my own home.",
    )
    .await
    .unwrap();
    b.set_text(
        &visit,
        TextField::Analysis,
        "Home is central to her sense of self.",
    )
    .await
    .unwrap();
    a.set_text(
        &visit,
        TextField::Observations,
        "The kitchen was very tidy.",
    )
    .await
    .unwrap();
    b.set_text(
        &visit,
        TextField::Observations,
        "The kitchen was tidy and warm.",
    )
    .await
    .unwrap();
    assert!(
        a.sync_status().await.unwrap().pending_changes > 0,
        "A has changes waiting"
    );
    assert!(!a.sync_status().await.unwrap().connected);

    a.go_online().unwrap();
    b.go_online().unwrap();
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    b.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("both phones to hold the same document", || async {
        a.document_heads(&visit).await.unwrap() == b.document_heads(&visit).await.unwrap()
    })
    .await;

    let on_a = a.read::<VisitDoc>(&visit).await.unwrap();
    let on_b = b.read::<VisitDoc>(&visit).await.unwrap();
    assert_eq!(on_a, on_b);
    assert_eq!(
        on_a.own_words.text.as_str(),
        "I want to stay in my own home."
    );
    assert_eq!(
        on_a.analysis.as_str(),
        "Home is central to her sense of self."
    );
    assert_eq!(
        on_a.observations.as_str(),
        "The kitchen was very tidy and warm."
    );

    // The server holds the same: a third phone that never saw either edit
    // gets exactly these heads from it.
    let c = practice.online_device(&server, &wren, "phone-c").await;
    eventually("the server's copy to reach a fresh phone", || async {
        c.document_heads(&visit).await.ok() == Some(a.document_heads(&visit).await.unwrap())
    })
    .await;
    assert_eq!(c.read::<VisitDoc>(&visit).await.unwrap(), on_a);
    a.close().await;
    b.close().await;
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_after_acknowledgement_loses_nothing() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let a = practice.online_device(&server, &wren, "phone-a").await;
    let visit = a
        .create_visit(&practice.case_id, PlaceKind::CareHome)
        .await
        .unwrap();
    let mut words = String::new();
    for i in 0..20 {
        words.push_str(&format!("Sentence {i} of the visit. "));
        a.set_text(&visit, TextField::Observations, &words)
            .await
            .unwrap();
    }
    // Acknowledged: the server's sync heads include every change...
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let heads = a.document_heads(&visit).await.unwrap();
    // ...so killing it at once must lose none of them.
    let server = server.restart_after_kill9();
    a.close().await;

    let b = practice.online_device(&server, &wren, "phone-b").await;
    eventually("the restarted server to serve the visit", || async {
        b.document_heads(&visit).await.ok() == Some(heads.clone())
    })
    .await;
    assert_eq!(
        b.read::<VisitDoc>(&visit)
            .await
            .unwrap()
            .observations
            .as_str(),
        words
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_visits_created_online_in_a_row_all_reach_the_server() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let phone = practice.online_device(&server, &wren, "phone").await;
    let mut visits = Vec::new();
    for n in 0..40 {
        let visit = practice.visit(&phone).await;
        phone
            .set_text(&visit, TextField::Observations, &format!("Visit {n}."))
            .await
            .unwrap();
        visits.push(visit);
    }
    let status = phone.wait_until_synced(SYNC_TIMEOUT).await;
    assert!(
        status.is_ok(),
        "{:?}; refused: {:?}",
        phone.sync_status().await,
        practice.audit("request_refused")
    );
    // On the server: a second device of Wren's reads every one back.
    let tablet = practice.online_device(&server, &wren, "tablet").await;
    for (n, visit) in visits.iter().enumerate() {
        let expected = format!("Visit {n}.");
        fieldvisit_e2e::eventually(&format!("visit {n} on the tablet"), || async {
            matches!(tablet.read::<VisitDoc>(visit).await, Ok(v) if v.observations.as_str() == expected)
        })
        .await;
    }
    tablet.close().await;
    phone.close().await;
}

/// Automerge's sync leaves a change out when the other side's bloom filter
/// wrongly claims it (about one in a hundred) and sends what builds on it.
/// The server cannot judge changes without their history: it holds them,
/// asks the device for what is missing, and takes them all once it has it.
/// It used to close the connection, and the same filter hid the same change
/// on every reconnect: the device's edits never arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_device_left_out_is_asked_for_and_nothing_is_lost() {
    let (practice, server, wren, phone, visit) = worker_with_a_synced_visit("phone").await;

    // Wren's tablet types three times; its message leaves out the second.
    let (device_id, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let base: Automerge = phone.try_fetch(&visit).await.unwrap().expect("the visit");
    let mut tablet = base.fork().with_actor(device_actor(&device_id));
    let mut changes = Vec::new();
    for text in ["The garden", "The garden was", "The garden was overgrown."] {
        let before = tablet.get_heads();
        doc::update_text(&mut tablet, TextField::Observations.path(), text).unwrap();
        changes.push(tablet.get_changes(&before).remove(0).clone());
    }
    let message = |chosen: &[usize]| {
        automerge::sync::Message {
            heads: tablet.get_heads(),
            need: vec![],
            have: vec![],
            changes: chosen
                .iter()
                .map(|&i| changes[i].raw_bytes().to_vec())
                .collect::<Vec<_>>()
                .into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
        .encode()
    };
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    peer.send_sync(&visit, &message(&[0, 2])).await;
    assert_eq!(
        peer.asked_for(&visit).await,
        Some(vec![changes[1].hash()]),
        "the server asks for the change left out, and does not close"
    );
    peer.send_sync(&visit, &message(&[1])).await;

    // All three are taken: the phone gets them from the server.
    eventually("the tablet's words to reach the phone", || async {
        phone
            .read::<VisitDoc>(&visit)
            .await
            .unwrap()
            .observations
            .as_str()
            == "The garden was overgrown."
    })
    .await;
    assert_eq!(
        phone.document_heads(&visit).await.unwrap(),
        tablet.get_heads()
    );
}

/// A passage pasted in (a transcript, say) is one sync message about a
/// hundred times the socket's 1 KiB read buffer: the server reads it whole,
/// stores it, and a phone that never saw it gets every character back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_many_times_the_socket_read_buffer_arrives_whole() {
    let (practice, server, wren, a, visit) = worker_with_a_synced_visit("phone-a").await;

    a.go_offline();
    // Words of random letters: automerge compresses a change's columns, and
    // a repeated line would shrink to a few hundred bytes.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let passage: String = (0..30_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let word: String = (0..2 + seed % 7)
                .map(|i| char::from(b'a' + ((seed >> (8 * i)) % 26) as u8))
                .collect();
            word + " "
        })
        .collect();
    assert!(
        passage.len() > 150 * 1024 && passage.len() < 200_000,
        "{} bytes",
        passage.len()
    );
    a.set_text(&visit, TextField::Observations, &passage)
        .await
        .unwrap();
    a.go_online().unwrap();
    a.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    let b = practice.online_device(&server, &wren, "phone-b").await;
    eventually("the whole passage to reach a fresh phone", || async {
        b.document_heads(&visit).await.ok() == Some(a.document_heads(&visit).await.unwrap())
    })
    .await;
    assert_eq!(
        b.read::<VisitDoc>(&visit)
            .await
            .unwrap()
            .observations
            .as_str(),
        passage
    );
    a.close().await;
    b.close().await;
}

/// Wren, a worker on the case, on one phone (`label`) online with a new
/// visit the server holds: the practice, its server, Wren, the phone and
/// the visit's id.
async fn worker_with_a_synced_visit(label: &str) -> (Practice, Server, String, DeviceCore, String) {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let phone = practice.online_device(&server, &wren, label).await;
    let visit = practice.visit(&phone).await;
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    (practice, server, wren, phone, visit)
}
