//! One bad or broken peer never hurts anyone else: hostile sync payloads, a
//! panic inside one document, and floods of ids and ephemeral messages,
//! each against the real server process while honest devices keep syncing.

use std::time::Duration;

use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, eventually, still_serving};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::records::{PlaceKind, TextField};
use fieldvisit_sync_server::sync::payload::samples;
use futures::{SinkExt, StreamExt};

use fieldvisit_e2e::raw::request_data;
use fieldvisit_shared::records::VisitDoc;

/// Two workers on two cases: the first (who also has a raw peer) and a
/// colleague on the same case, and a third person on another case, each
/// with a visit that syncs. Returns the devices and their visits.
struct Scene {
    practice: Practice,
    wren: String,
    same_case: (DeviceCore, String),
    other_case: (DeviceCore, String),
}

async fn scene(server_args: &[&str], practice: Practice) -> (Scene, Server) {
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    let kit = practice.person("Kit Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    let (other_case, _) = practice.add_case("TEST-002");
    practice.assign_to(&other_case, &kit);
    let server = Server::start_with(&practice.data(), server_args);
    let mut devices = Vec::new();
    for (person, name, case) in [(&ash, "ash", &practice.case_id), (&kit, "kit", &other_case)] {
        let device = practice.online_device(&server, person, name).await;
        let visit = device.create_visit(case, PlaceKind::Home).await.unwrap();
        still_serving(&device, &visit, "before").await;
        devices.push((device, visit));
    }
    let other = devices.pop().unwrap();
    let same = devices.pop().unwrap();
    (
        Scene {
            practice,
            wren,
            same_case: same,
            other_case: other,
        },
        server,
    )
}

impl Scene {
    async fn both_still_sync(&self, text: &str) {
        still_serving(&self.same_case.0, &self.same_case.1, text).await;
        still_serving(&self.other_case.0, &self.other_case.1, text).await;
    }

    async fn raw_peer(&self, server: &Server) -> RawPeer {
        let (_, code) = self.practice.enrolment_code(&self.wren);
        let (token, peer_id) = raw::enrol(&server.url, &code).await;
        RawPeer::connect(&server.url, &token, &peer_id).await
    }

    async fn close(self) {
        self.same_case.0.close().await;
        self.other_case.0.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_inconsistent_payload_field_closes_only_its_own_connection() {
    let (scene, server) = scene(&[], Practice::new()).await;
    let hostile = samples::hostile();
    for (field, payload) in &hostile {
        let mut peer = scene.raw_peer(&server).await;
        peer.send_sync(&scene.practice.case_document_id, payload)
            .await;
        let (code, reason) = peer
            .closed_with()
            .await
            .unwrap_or_else(|| panic!("{field}: a close frame"));
        assert_eq!(code, 1007, "{field}: {reason}");
        assert!(
            reason.starts_with("malformed_message") && reason.contains("sync payload"),
            "{field}: {reason}"
        );
        scene.both_still_sync(&format!("after {field}")).await;
    }
    let audited = scene.practice.audit("malformed_message");
    assert_eq!(audited.len(), hostile.len(), "one audit entry each");
    let (status, report) = server.health().await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["status"], "ok", "{report}");
    scene.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_document_leaves_every_other_document_syncing() {
    // The test hook makes the second case's document panic on every sync
    // message; the server must be told its id before it starts.
    let practice = Practice::new();
    let (_, doomed) = practice.add_case("TEST-DOOMED");
    let args = ["--test-panic-on-document", doomed.as_str()];
    let (scene, server) = scene(&args, practice).await;
    let doomed_case = scene
        .practice
        .audit("case_added")
        .iter()
        .find(|e| e["document_id"] == doomed.as_str())
        .and_then(|e| e["case_id"].as_str().map(str::to_owned))
        .expect("the doomed case");
    scene.practice.assign_to(&doomed_case, &scene.wren);

    // The peer whose message made the document panic is closed, audited.
    let mut peer = scene.raw_peer(&server).await;
    peer.send_to_server("request", &doomed, &request_data())
        .await;
    let (code, reason) = peer.closed_with().await.expect("a close frame");
    assert_eq!(code, 1007, "{reason}");
    assert!(reason.contains("could not apply"), "{reason}");
    eventually("the panic to be reported by /health", || async {
        let (status, report) = server.health().await;
        status == 200
            && report["status"] == "degraded"
            && report["panics"]["last"]["document_id"] == doomed.as_str()
    })
    .await;
    // A stranger learns the verdict alone, not which document failed.
    let public: serde_json::Value = reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public, serde_json::json!({"status": "degraded"}));
    assert!(
        scene
            .practice
            .audit("malformed_message")
            .iter()
            .any(|e| e["document_id"] == doomed.as_str()),
        "the culprit is audited"
    );
    scene.both_still_sync("after the panic").await;
    // The same device, reconnected, is still served for other documents.
    let mut peer = scene.raw_peer(&server).await;
    peer.send_to_server("request", &scene.practice.case_document_id, &request_data())
        .await;
    assert!(peer.next_binary().await.is_some(), "the case still answers");
    scene.both_still_sync("and later").await;
    scene.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_of_unknown_ids_and_ephemeral_messages_leave_no_trace() {
    let (scene, server) = scene(&[], Practice::new()).await;
    // Warm up whatever the server allocates once, then measure.
    let mut peer = scene.raw_peer(&server).await;
    peer.send_to_server("request", &scene.practice.case_document_id, &request_data())
        .await;
    peer.next_binary().await;
    drop(peer);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib();

    let peer = scene.raw_peer(&server).await;
    let peer_id = peer.peer_id.clone();
    let (mut tx, mut rx) = peer.socket.split();
    let reader = tokio::spawn(async move {
        let mut answers = 0u64;
        while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), rx.next()).await {
            if m.is_binary() {
                answers += 1;
            }
        }
        answers
    });
    let data = request_data();
    for _ in 0..20_000 {
        let id = samod::DocumentId::new(&mut rand::rng()).to_string();
        let msg = raw::encode(&[
            ("type", raw::Field::Str("request")),
            ("senderId", raw::Field::Str(&peer_id)),
            (
                "targetId",
                raw::Field::Str(fieldvisit_shared::api::SERVER_PEER_ID),
            ),
            ("documentId", raw::Field::Str(&id)),
            ("data", raw::Field::Bytes(&data)),
        ]);
        tx.send(tokio_tungstenite::tungstenite::Message::Binary(msg.into()))
            .await
            .unwrap();
    }
    let mebibyte = vec![0x5a; 1 << 20];
    for i in 0..200 {
        let session = format!("session-{i}-{}", rand::random::<u64>());
        let msg = raw::encode(&[
            ("type", raw::Field::Str("ephemeral")),
            ("senderId", raw::Field::Str(&peer_id)),
            (
                "targetId",
                raw::Field::Str(fieldvisit_shared::api::SERVER_PEER_ID),
            ),
            ("count", raw::Field::Uint(1)),
            ("sessionId", raw::Field::Str(&session)),
            (
                "documentId",
                raw::Field::Str(&scene.practice.case_document_id),
            ),
            ("data", raw::Field::Bytes(&mebibyte)),
        ]);
        tx.send(tokio_tungstenite::tungstenite::Message::Binary(msg.into()))
            .await
            .unwrap();
    }
    let _ = tx.close().await;
    let answers = reader.await.unwrap();
    assert!(answers >= 20_000, "each unknown id is answered: {answers}");
    scene.both_still_sync("after the flood").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = server.rss_kib();
    eprintln!("server RSS before the flood {before} KiB, after {after} KiB");
    assert!(
        after <= before + 20 * 1024,
        "server memory grew from {before} KiB to {after} KiB"
    );
    let refused = scene.practice.audit("request_refused");
    assert!(
        (1..=12).contains(&refused.len()),
        "a bounded number of audit rows, not one per id: {}",
        refused.len()
    );
    assert!(
        refused.iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("19990 more"))),
        "the rest are counted in one row: {refused:?}"
    );
    let dropped = scene.practice.audit("ephemeral_dropped");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(dropped[0]["detail"].as_str().unwrap().contains("200 more"));
    scene.close().await;
}

/// A tmpfs of a few MiB mounted over a directory, unmounted on drop.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(dir: &std::path::Path, size: &str) -> SmallDisk {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it and needs root (CI runs as root)"
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut f = std::fs::File::create(&path).expect("create filler");
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_acknowledges_nothing_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(dir.path(), "24m");
    let practice = Practice::in_dir(dir);
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    let server = Server::start(&practice.data());
    // The phones' own stores are elsewhere: only the server's disk fills.
    let phones = tempfile::tempdir().unwrap();
    let enrol = |person: &str, name: &str| {
        let (_, code) = practice.enrolment_code(person);
        let dir = phones.path().join(name);
        let url = server.url.clone();
        let name = name.to_owned();
        async move {
            DeviceCore::enrol(&dir, &url, &code, &name, fieldvisit_e2e::PIN)
                .await
                .unwrap()
        }
    };
    let writer = enrol(&wren, "writer").await;
    let reader = enrol(&ash, "reader").await;
    writer.go_online().unwrap();
    writer.refresh_cases().await.unwrap();
    let visit = practice.visit(&writer).await;
    let before = "Stored before the disk filled.";
    writer
        .set_text(&visit, TextField::Observations, before)
        .await
        .unwrap();
    writer.wait_until_synced(SYNC_TIMEOUT).await.unwrap();

    let filler = disk.fill();
    let mut text = before.to_owned();
    for word in [" Typed", " while", " the", " disk", " was", " full."] {
        text.push_str(word);
        writer
            .set_text(&visit, TextField::Observations, &text)
            .await
            .unwrap();
    }
    // Whichever write meets the full disk first says so: the receipt of a
    // change (practice database) is written before the change is stored.
    eventually("/health to report the store failing", || async {
        let (status, report) = server.health().await;
        let failing = |part: &str| report[part].as_str().is_some_and(|s| s != "ok");
        status == 503 && (failing("document_store") || failing("practice_database"))
    })
    .await;
    assert!(
        writer
            .wait_until_synced(Duration::from_secs(3))
            .await
            .is_err(),
        "sync cannot finish while the disk is full"
    );
    // Not one of the six changes typed since is acknowledged: the heads
    // the server last told the phone include none of them (the server
    // closes a writer's connection while it cannot store: code 1013).
    let status = writer.sync_status().await.unwrap();
    assert_eq!(
        status.pending_changes, 6,
        "each change typed while the disk was full is unacknowledged: {status:?}"
    );
    // Reads go on: a colleague's phone opens the case.
    reader.go_online().unwrap();
    reader.refresh_cases().await.unwrap();
    let case = tokio::time::timeout(SYNC_TIMEOUT, reader.case(&practice.case_id))
        .await
        .expect("the case document is served while the disk is full")
        .unwrap();
    assert_eq!(case.reference, "TEST-001");

    std::fs::remove_file(&filler).unwrap();
    writer.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let (status, report) = server.health().await;
    assert_eq!(status, 200, "{report}");

    // Everything acknowledged survives a kill -9 and a restart.
    let server = server.restart_after_kill9();
    let (_, code) = practice.enrolment_code(&ash);
    let late = DeviceCore::enrol(
        &phones.path().join("late"),
        &server.url,
        &code,
        "late",
        fieldvisit_e2e::PIN,
    )
    .await
    .unwrap();
    late.go_online().unwrap();
    late.refresh_cases().await.unwrap();
    eventually("the whole text on a new phone", || async {
        matches!(late.read::<VisitDoc>(&visit).await, Ok(v) if v.observations.as_str() == text)
    })
    .await;
    writer.close().await;
    reader.close().await;
    late.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_documents_leave_memory_and_load_again_when_needed() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    let server = Server::start_with(&practice.data(), &["--unload-idle-after-seconds", "2"]);
    let writer = practice.online_device(&server, &wren, "writer").await;
    let in_memory = || async {
        server.health().await.1["documents_in_memory"]
            .as_u64()
            .unwrap()
    };
    // Each visit is in memory once written (beside the engine's own
    // health-probe document); earlier ones may already have left: how
    // long writing takes depends on the machine.
    let mut visits = Vec::new();
    for n in 0..5 {
        let visit = practice.visit(&writer).await;
        still_serving(&writer, &visit, &format!("Visit {n}.")).await;
        assert!(in_memory().await >= 2, "the visit just written is loaded");
        visits.push(visit);
    }
    // Only the engine's own health-probe document stays.
    eventually("idle documents to be unloaded", || async {
        in_memory().await == 1
    })
    .await;

    // They load again on demand: an edit, and a new phone reading all.
    still_serving(&writer, &visits[0], "Visit 0, written again.").await;
    let reader = practice.online_device(&server, &ash, "reader").await;
    for (n, visit) in visits.iter().enumerate() {
        let expected = if n == 0 {
            "Visit 0, written again.".to_owned()
        } else {
            format!("Visit {n}.")
        };
        eventually("the reader to have every visit", || async {
            matches!(reader.read::<VisitDoc>(visit).await, Ok(v) if v.observations.as_str() == expected)
        })
        .await;
    }
    writer.close().await;
    reader.close().await;
}
