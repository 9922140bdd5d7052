//! A hostile neighbour: one enrolled device sends the worst message it can
//! (one change of 199,999 text inserts and, last, one op the rules refuse,
//! so the server decodes it, applies it to a copy and walks every op before
//! refusing it), in a loop, on four connections, reconnecting whenever it
//! is let; meanwhile an honest worker on another case types, and each edit
//! is timed to the server's acknowledgement. The same edits are timed with
//! the hostile device quiet first. The real server (release build, a
//! process on 127.0.0.1) and the real device core for the honest worker.
//!
//! `cargo build --release -p fieldvisit-sync-server && cargo bench -p fieldvisit-bench --bench hostile`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT, ReadDoc};
use fieldvisit_bench::client;
use fieldvisit_bench::servers;
use fieldvisit_bench::stats::percentile;
use fieldvisit_bench::table::{Table, ms};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::api::SERVER_PEER_ID;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::{PlaceKind, TextField};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Edits timed in each phase.
const EDITS: usize = 300;
/// Connections the hostile device holds (the server's default limit).
const CONNECTIONS: usize = 4;
/// Text inserts in the worst message: the server's cap on operations in
/// one message is 200,000.
const INSERTS: usize = 199_999;
const PIN: &str = "472913";

fn server_bin() -> PathBuf {
    servers::release_server_bin()
}

use servers::{field, release_admin as admin};

/// A worker assigned to a new case: (person id, case id).
fn worker_on_a_case(data: &Path, name: &str, reference: &str) -> (String, String) {
    let person = field(
        &admin(data, &["add-person", "--name", name, "--role", "worker"]),
        "id",
    );
    let case = field(
        &admin(
            data,
            &[
                "add-case",
                "--reference",
                reference,
                "--person-name",
                "Synthetic Person",
            ],
        ),
        "case_id",
    );
    admin(data, &["assign", "--case", &case, "--person", &person]);
    (person, case)
}

fn code_for(data: &Path, person: &str, label: &str) -> String {
    field(
        &admin(
            data,
            &["enrol-device", "--person", person, "--label", label],
        ),
        "code",
    )
}

/// An honest worker's edits, each appended to the observations and timed
/// until the server says it holds it.
async fn type_and_time(phone: &DeviceCore, visit: &str, text: &mut String) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(EDITS);
    for i in 0..EDITS {
        text.push_str(&format!("word{i} "));
        let started = Instant::now();
        phone
            .set_text(visit, TextField::Observations, text)
            .await
            .expect("an edit");
        phone
            .until_acknowledged(visit, Duration::from_secs(120))
            .await
            .expect("an edit acknowledged within 120 s");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

/// The worst message: the change and the repo frame that carries it.
fn worst_message(visit: &Automerge, device_id: &str, peer_id: &str, doc_id: &str) -> Vec<u8> {
    let mut doc = visit.fork().with_actor(device_actor(device_id));
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    let (_, text) = tx
        .get(ROOT, "observations")
        .expect("read")
        .expect("observations");
    tx.splice_text(&text, 0, 0, &"x".repeat(INSERTS))
        .expect("splice");
    // Last, one op no record has: refused only once everything before it
    // was decoded, applied and checked.
    tx.put(ROOT, "zz_not_a_field", "refused at the end")
        .expect("put");
    tx.commit();
    let changes: Vec<automerge::Change> = doc.get_changes(&before);
    let message = automerge::sync::Message {
        heads: doc.get_heads(),
        need: vec![],
        have: vec![],
        changes: changes
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect::<Vec<_>>()
            .into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    client::repo_message("sync", peer_id, SERVER_PEER_ID, doc_id, &message.encode())
}

#[derive(Default)]
struct Hostile {
    sent: AtomicU64,
    connections: AtomicU64,
    refused_connections: AtomicU64,
    closes: AtomicU64,
    stop: AtomicBool,
}

/// One of the hostile device's connections: connect whenever a ticket and
/// a slot are to be had, send the worst message as fast as the socket
/// takes it, reconnect when closed.
async fn hostile_connection(
    base: String,
    token: String,
    peer_id: String,
    frame: Arc<Vec<u8>>,
    hostile: Arc<Hostile>,
) {
    let http = reqwest::Client::new();
    let protocol = (
        fieldvisit_shared::api::PROTOCOL_HEADER,
        fieldvisit_shared::api::PROTOCOL_VERSION.to_string(),
    );
    let ws = base.replacen("http://", "ws://", 1);
    while !hostile.stop.load(Ordering::SeqCst) {
        let bought = http
            .post(format!("{base}/api/sync/ticket"))
            .header(protocol.0, &protocol.1)
            .bearer_auth(&token)
            .send()
            .await;
        let ticket = match bought {
            Ok(r) if r.status().is_success() => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["ticket"].as_str().map(str::to_owned)),
            _ => None,
        };
        let Some(ticket) = ticket else {
            hostile.refused_connections.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        let Ok((socket, _)) =
            tokio_tungstenite::connect_async(format!("{ws}/sync?ticket={ticket}")).await
        else {
            hostile.refused_connections.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        hostile.connections.fetch_add(1, Ordering::SeqCst);
        let (mut sink, mut stream) = socket.split();
        if sink
            .send(Message::Binary(client::join_message(&peer_id).into()))
            .await
            .is_err()
        {
            continue;
        }
        // Whatever the server says is read and dropped, so its writes
        // never wait on us.
        let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        while !hostile.stop.load(Ordering::SeqCst) && !reader.is_finished() {
            let frame = Message::Binary(frame.as_ref().clone().into());
            if sink.send(frame).await.is_err() {
                break;
            }
            hostile.sent.fetch_add(1, Ordering::SeqCst);
        }
        reader.abort();
        hostile.closes.fetch_add(1, Ordering::SeqCst);
    }
}

async fn enrol_raw(base: &str, code: &str) -> (String, String, String) {
    let resp: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/enrol"))
        .header(
            fieldvisit_shared::api::PROTOCOL_HEADER,
            fieldvisit_shared::api::PROTOCOL_VERSION.to_string(),
        )
        .json(&serde_json::json!({ "code": code, "label": "hostile" }))
        .send()
        .await
        .expect("enrol")
        .json()
        .await
        .expect("enrolment JSON");
    (
        field(&resp, "token"),
        field(&resp, "peer_id"),
        field(&resp, "device_id"),
    )
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let (honest, honest_case) = worker_on_a_case(&data, "Honest Worker", "BENCH-001");
    let (mallory, mallory_case) = worker_on_a_case(&data, "Hostile Worker", "BENCH-002");
    let (mut child, url) = servers::serve_practice(&server_bin(), &data).await.unwrap();

    // The honest worker's visit, synced.
    let code = code_for(&data, &honest, "phone");
    let phone = DeviceCore::enrol(&dir.path().join("phone"), &url, &code, "phone", PIN)
        .await
        .unwrap();
    phone.go_online().unwrap();
    phone.refresh_cases().await.unwrap();
    let visit = phone
        .create_visit(&honest_case, PlaceKind::Home)
        .await
        .unwrap();
    let mut text = String::from("Observations: ");
    phone
        .set_text(&visit, TextField::Observations, &text)
        .await
        .unwrap();
    phone
        .wait_until_synced(Duration::from_secs(60))
        .await
        .unwrap();

    // The hostile worker's own visit (made by one of their devices), and a
    // second device of theirs, by hand, to attack it.
    let code = code_for(&data, &mallory, "first");
    let first = DeviceCore::enrol(&dir.path().join("mallory"), &url, &code, "first", PIN)
        .await
        .unwrap();
    first.go_online().unwrap();
    first.refresh_cases().await.unwrap();
    let target = first
        .create_visit(&mallory_case, PlaceKind::Home)
        .await
        .unwrap();
    first
        .wait_until_synced(Duration::from_secs(60))
        .await
        .unwrap();
    let target_doc = first.try_fetch(&target).await.unwrap().expect("the visit");
    first.close().await;
    let code = code_for(&data, &mallory, "hand-made");
    let (token, peer_id, device_id) = enrol_raw(&url, &code).await;
    let frame = Arc::new(worst_message(&target_doc, &device_id, &peer_id, &target));
    let server_pid = child.id();

    let cpu = || fieldvisit_bench::stats::cpu_seconds(server_pid);
    let mut table = Table::new(&[
        "phase",
        "edits",
        "ack p50 ms",
        "ack p99 ms",
        "ack max ms",
        "server CPU s",
        "worst messages sent",
        "hostile connections (refused)",
    ]);
    let cpu_before = cpu();
    let quiet = type_and_time(&phone, &visit, &mut text).await;
    let cpu_quiet = cpu();
    table.row(vec![
        "alone".into(),
        EDITS.to_string(),
        ms(percentile(&quiet, 50.0).unwrap_or_default()),
        ms(percentile(&quiet, 99.0).unwrap_or_default()),
        ms(*quiet.last().unwrap_or(&Duration::ZERO)),
        seconds(cpu_before, cpu_quiet),
        "0".into(),
        "0".into(),
    ]);

    let hostile = Arc::new(Hostile::default());
    let attackers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tokio::spawn(hostile_connection(
                url.clone(),
                token.clone(),
                peer_id.clone(),
                frame.clone(),
                hostile.clone(),
            ))
        })
        .collect();
    // Typing starts once the attack has.
    while hostile.sent.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let attacked = type_and_time(&phone, &visit, &mut text).await;
    let cpu_attacked = cpu();
    hostile.stop.store(true, Ordering::SeqCst);
    for a in attackers {
        let _ = a.await;
    }
    table.row(vec![
        "beside the hostile device".into(),
        EDITS.to_string(),
        ms(percentile(&attacked, 50.0).unwrap_or_default()),
        ms(percentile(&attacked, 99.0).unwrap_or_default()),
        ms(*attacked.last().unwrap_or(&Duration::ZERO)),
        seconds(cpu_quiet, cpu_attacked),
        hostile.sent.load(Ordering::SeqCst).to_string(),
        format!(
            "{} ({})",
            hostile.connections.load(Ordering::SeqCst),
            hostile.refused_connections.load(Ordering::SeqCst)
        ),
    ]);
    println!(
        "One worst message: {} bytes, {INSERTS} inserts and one refused op; {CONNECTIONS} connections.",
        frame.len()
    );
    println!("{}", table.render());
    let p99 = |s: &[Duration]| percentile(s, 99.0).unwrap_or_default().as_secs_f64();
    println!(
        "ack p99 beside the hostile device / alone: {:.2}",
        p99(&attacked) / p99(&quiet).max(f64::EPSILON)
    );
    phone.close().await;
    let _ = child.kill().await;
}

fn seconds(from: Option<f64>, to: Option<f64>) -> String {
    match (from, to) {
        (Some(a), Some(b)) => format!("{:.2}", b - a),
        _ => "?".into(),
    }
}
