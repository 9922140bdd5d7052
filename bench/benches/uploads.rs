//! Photo upload on loopback: the real server (release build, a practice on
//! a fresh data directory) and a device core that adds the 12 MP fixture
//! to a visit, syncs the words, then sends the photo in 64 KB chunks (each
//! written and fsynced by the server; the last one checked before the file
//! is kept). Throughput is the photo's bytes over the time `send_photos`
//! takes once the server knows the visit.
//!
//! `cargo build --release -p fieldvisit-sync-server && cargo bench -p fieldvisit-bench --bench uploads`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fieldvisit_bench::servers::{self, workspace_root};
use fieldvisit_bench::table::{Table, ms};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::records::PlaceKind;

fn server_bin() -> PathBuf {
    servers::release_server_bin()
}

use servers::field;

/// One photo sent: (bytes, time).
async fn one(original: &[u8]) -> (u64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let bin = server_bin();
    let admin = |args: &[&str]| servers::admin(&bin, &data, args).unwrap();
    let worker = field(
        &admin(&["add-person", "--name", "Bench Worker", "--role", "worker"]),
        "id",
    );
    let case = admin(&[
        "add-case",
        "--reference",
        "BENCH-1",
        "--person-name",
        "Synthetic",
    ]);
    admin(&[
        "assign",
        "--case",
        &field(&case, "case_id"),
        "--person",
        &worker,
    ]);
    let code = field(
        &admin(&["enrol-device", "--person", &worker, "--label", "phone"]),
        "code",
    );
    let (mut child, url) = servers::serve_practice(&bin, &data).await.unwrap();
    let phone = DeviceCore::enrol(&dir.path().join("phone"), &url, &code, "phone", "472913")
        .await
        .unwrap();
    phone.go_online().unwrap();
    phone.refresh_cases().await.unwrap();
    let visit = phone
        .create_visit(&field(&case, "case_id"), PlaceKind::Home)
        .await
        .unwrap();
    let photo = phone.add_photo(&visit, original, "").await.unwrap();
    phone
        .wait_until_synced(Duration::from_secs(30))
        .await
        .unwrap();
    // Until the server has read the visit's reference, it answers "not
    // known yet": wait for that before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut sent = 0;
    while sent == 0 {
        sent = phone.send_photos().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(30), "never sent");
        if sent == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let took = started.elapsed();
    phone.close().await;
    let _ = child.kill().await;
    (photo.size, took)
}

#[tokio::main]
async fn main() {
    let original = std::fs::read(
        workspace_root().join("../shared/fixtures/photos/phone-12mp-orientation6-gps.jpg"),
    )
    .expect("the 12 MP fixture");
    let mut runs = Vec::new();
    for _ in 0..5 {
        runs.push(one(&original).await);
    }
    runs.sort_by_key(|(_, t)| *t);
    let (bytes, median) = runs[runs.len() / 2];
    let mut t = Table::new(&["photo bytes", "chunks", "send (ms, median of 5)", "MB/s"]);
    t.row(vec![
        bytes.to_string(),
        bytes
            .div_ceil(fieldvisit_shared::uploads::CHUNK)
            .to_string(),
        ms(median),
        format!("{:.1}", bytes as f64 / median.as_secs_f64() / 1e6),
    ]);
    println!("Photo upload on loopback (release server, 64 KB chunks, fsync per chunk)\n");
    println!("{}", t.render());
}
