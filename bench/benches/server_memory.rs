//! Server memory per open document: our server (release, a process on
//! 127.0.0.1, authentication off as in the comparison) is sent K small
//! visit documents by one client, which waits until each is acknowledged
//! (so samod holds each open); the growth of the server's resident memory
//! over its idle size, divided by K, is the cost of an open document.
//!
//! `cargo build --release -p fieldvisit-sync-server && cargo bench -p fieldvisit-bench --bench server_memory`

use std::sync::Arc;
use std::time::Duration;

use fieldvisit_bench::client::{self, Bytes};
use fieldvisit_bench::servers::{start_ours, workspace_root};
use fieldvisit_bench::stats::rss;
use fieldvisit_bench::synthetic_visit;
use fieldvisit_bench::table::{Table, mib};
use fieldvisit_shared::doc;
use fieldvisit_shared::records::TextField;

async fn run(documents: usize) -> (u64, u64) {
    let bin = workspace_root().join("target/release/fieldvisit-sync-server");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p fieldvisit-sync-server",
        bin.display()
    );
    let server = start_ours(&bin).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (idle, _) = rss(server.pid).unwrap();
    let device = client::connect(&server.url, "bench-memory", Arc::new(Bytes::default()))
        .await
        .unwrap();
    let mut handles = Vec::with_capacity(documents);
    for i in 0..documents {
        let mut doc = synthetic_visit("case-1");
        doc::update_text(
            &mut doc,
            TextField::Observations.path(),
            &format!("Synthetic note {i}."),
        )
        .unwrap();
        handles.push(device.repo.create(doc).await.unwrap());
    }
    for h in &handles {
        tokio::time::timeout(
            Duration::from_secs(120),
            h.they_have_our_changes(device.connection),
        )
        .await
        .expect("acknowledged");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (loaded, _) = rss(server.pid).unwrap();
    device.repo.stop().await;
    server.stop().await;
    (idle, loaded)
}

#[tokio::main]
async fn main() {
    let mut t = Table::new(&[
        "open documents",
        "idle RSS MiB",
        "loaded RSS MiB",
        "KiB per document",
    ]);
    for documents in [100, 1_000, 5_000] {
        let (idle, loaded) = run(documents).await;
        t.row(vec![
            documents.to_string(),
            mib(idle),
            mib(loaded),
            format!(
                "{:.1}",
                loaded.saturating_sub(idle) as f64 / 1024.0 / documents as f64
            ),
        ]);
    }
    println!(
        "Server memory per open document (fieldvisit-sync-server, release)\n\n{}",
        t.render()
    );
}
