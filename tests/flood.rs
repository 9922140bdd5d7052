//! A hostile device with a valid enrolment, flooding: what it costs the
//! server's disk.

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use fieldvisit_e2e::raw::{self, Field, RawPeer};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server};
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::TextField;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// What the data directory holds: each database's write-ahead log folded
/// into it first (the log's file is reused up to a few MB whatever is
/// written, so its size says nothing), then every file's size.
fn size_of(dir: &std::path::Path) -> u64 {
    for db in ["fieldvisit.sqlite", "documents.sqlite"] {
        let c = rusqlite::Connection::open(dir.join(db)).expect("the database");
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        let _: (i64, i64, i64) = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("a checkpoint");
    }
    files_size(dir)
}

fn files_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => files_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_hostile_frames_of_a_megabyte_leave_the_disk_as_it_was() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let phone = practice.online_device(&server, &wren, "phone").await;
    let visit = practice.visit(&phone).await;
    phone
        .set_text(&visit, TextField::Observations, "She smiled.")
        .await
        .unwrap();
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let visit_doc: Automerge = phone.try_fetch(&visit).await.unwrap().unwrap();

    // A megabyte-long repo message type: it closes the connection (a new
    // one starts the next round, as a device that reconnects does).
    let megabyte_type = raw::encode(&[("type", Field::Str(&"t".repeat(1 << 20)))]);
    // A change that writes a key of a megabyte beside the record, made on
    // `device`.
    let megabyte_key = |device: &str| {
        let mut big = visit_doc.fork().with_actor(device_actor(device));
        big.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "k".repeat(1 << 20), "v")?;
            Ok(())
        })
        .unwrap();
        let change = big.get_changes(&visit_doc.get_heads()).remove(0);
        automerge::sync::Message {
            heads: big.get_heads(),
            need: vec![],
            have: vec![],
            changes: vec![change.raw_bytes().to_vec()].into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
        .encode()
    };

    // Five of Wren's devices, two hundred frames each (within the refusals
    // a device may have before it is cooled down), over four connections.
    let before = size_of(&practice.data());
    let mut hostile = Vec::new();
    for _ in 0..5 {
        let (device_id, code) = practice.enrolment_code(&wren);
        let (token, peer_id) = raw::enrol(&server.url, &code).await;
        let frame = megabyte_key(&device_id);
        for _ in 0..4 {
            let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
            for _ in 0..49 {
                peer.send_sync(&visit, &frame).await;
            }
            for n in 0..49 {
                assert_eq!(
                    peer.refusal_for(&visit).await.as_deref(),
                    Some("unknown_path"),
                    "refusal {n}"
                );
            }
            peer.send(megabyte_type.clone()).await;
            let (code, reason) = peer.closed_with().await.expect("closed");
            assert_eq!(code, 1007);
            assert!(reason.len() <= 123, "{reason}");
        }
        hostile.push((device_id, token, peer_id, frame));
    }
    let grown = size_of(&practice.data()).saturating_sub(before);
    assert!(
        grown < 1 << 20,
        "1,000 frames of a megabyte grew the data directory by {grown} bytes"
    );
    // What the audit log keeps of each device: a budget's worth of short
    // rows (across its connections), and one that says the rest were
    // counted.
    let refused: Vec<_> = ["change_refused", "malformed_message"]
        .iter()
        .flat_map(|a| practice.audit(a))
        .collect();
    for (device_id, ..) in &hostile {
        let rows = refused
            .iter()
            .filter(|e| e["device_id"] == device_id.as_str())
            .count();
        assert!((1..=30).contains(&rows), "{rows} rows for {device_id}");
    }
    for e in &refused {
        let detail = e["detail"].as_str().unwrap_or_default();
        assert!(detail.len() <= 300, "{} bytes of detail", detail.len());
    }
    let withheld = practice.audit("audit_withheld");
    for (device_id, ..) in &hostile {
        assert!(
            withheld
                .iter()
                .any(|e| e["device_id"] == device_id.as_str()),
            "{device_id}: the rest were counted, and it says so"
        );
    }

    // A device that goes on is cooled down: closed, and no ticket for a
    // minute, whichever connection it tries.
    let (device_id, token, peer_id, frame) = hostile.remove(0);
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    let (code, reason) = loop {
        peer.send_sync(&visit, &frame).await;
        // One answer a message: its refusal notice, or the close.
        match tokio::time::timeout(SYNC_TIMEOUT, peer.socket.next()).await {
            Ok(Some(Ok(Message::Binary(_)))) => {}
            Ok(Some(Ok(Message::Close(Some(f))))) => {
                break (u16::from(f.code), f.reason.to_string());
            }
            other => panic!("neither a refusal nor a close: {other:?}"),
        }
    };
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.starts_with("cooling_down"), "{reason}");
    let ticket = raw::ticket(&server.url, &token).await;
    assert_eq!(
        ticket.status(),
        429,
        "{device_id} buys no ticket while cooled down"
    );
    // The honest phone still syncs.
    fieldvisit_e2e::still_serving(&phone, &visit, "She smiled. Tea.").await;
}
