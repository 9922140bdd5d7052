//! Initial sync of a worker's whole caseload to a fresh phone store: the
//! real server (release build, run as a process on 127.0.0.1) holds C cases
//! of 40 visits each, assigned to one worker; a newly enrolled device core
//! (native, SQLite store in a temporary directory) refreshes its cases,
//! which fetches every case and visit document. Sizes 3, 10 and 30 cases
//! show how the cost grows; 30 x 40 is the caseload.
//!
//! `cargo build --release -p fieldvisit-sync-server && cargo bench -p fieldvisit-bench --bench caseload`

use std::path::PathBuf;
use std::time::Instant;

use fieldvisit_bench::servers;
use fieldvisit_bench::table::{Table, ms};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::records::{PlaceKind, TextField};

const VISITS_PER_CASE: usize = 40;

fn server_bin() -> PathBuf {
    servers::release_server_bin()
}

use servers::{field, release_admin as admin};

async fn run(cases: usize) -> (std::time::Duration, u64) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let worker = field(
        &admin(
            &data,
            &["add-person", "--name", "Bench Worker", "--role", "worker"],
        ),
        "id",
    );
    for c in 0..cases {
        let reference = format!("BENCH-{c:03}");
        let case = admin(
            &data,
            &[
                "add-case",
                "--reference",
                &reference,
                "--person-name",
                "Synthetic Person",
            ],
        );
        admin(
            &data,
            &[
                "assign",
                "--case",
                &field(&case, "case_id"),
                "--person",
                &worker,
            ],
        );
    }
    let (mut child, url) = servers::serve_practice(&server_bin(), &data).await.unwrap();

    // The caseload, written by the worker's first phone.
    let code = field(
        &admin(
            &data,
            &["enrol-device", "--person", &worker, "--label", "first"],
        ),
        "code",
    );
    let first = DeviceCore::enrol(&dir.path().join("first"), &url, &code, "first", "472913")
        .await
        .unwrap();
    first.go_online().unwrap();
    let summaries = first.refresh_cases().await.unwrap();
    for case in &summaries {
        for v in 0..VISITS_PER_CASE {
            let visit = first
                .create_visit(&case.case_id, PlaceKind::Home)
                .await
                .unwrap();
            first
                .set_text(
                    &visit,
                    TextField::Observations,
                    &format!("Synthetic observation {v} for {}.", case.reference),
                )
                .await
                .unwrap();
        }
    }
    first
        .wait_until_synced(std::time::Duration::from_secs(300))
        .await
        .unwrap();
    first.close().await;

    // The measured part: a new phone, enrolled, fetches everything.
    let code = field(
        &admin(
            &data,
            &["enrol-device", "--person", &worker, "--label", "fresh"],
        ),
        "code",
    );
    let fresh_dir = dir.path().join("fresh");
    let started = Instant::now();
    let fresh = DeviceCore::enrol(&fresh_dir, &url, &code, "fresh", "472913")
        .await
        .unwrap();
    fresh.go_online().unwrap();
    let fetched = fresh.refresh_cases().await.unwrap();
    let took = started.elapsed();
    assert_eq!(fetched.len(), cases);
    for case in &fetched {
        assert_eq!(
            fresh.case(&case.case_id).await.unwrap().visits.len(),
            VISITS_PER_CASE
        );
    }
    fresh.close().await;
    let store = std::fs::metadata(fresh_dir.join("documents.sqlite"))
        .map(|m| m.len())
        .unwrap_or(0);
    let _ = child.kill().await;
    (took, store)
}

#[tokio::main]
async fn main() {
    let mut t = Table::new(&[
        "cases",
        "visits",
        "initial sync ms",
        "ms per visit",
        "phone store KiB",
        "growth",
    ]);
    let mut before: Option<std::time::Duration> = None;
    for cases in std::env::var("CASELOAD_SIZES")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<usize>>()
        })
        .unwrap_or_else(|| vec![3, 10, 30])
    {
        let (took, store) = run(cases).await;
        let visits = cases * VISITS_PER_CASE;
        t.row(vec![
            cases.to_string(),
            visits.to_string(),
            ms(took),
            format!("{:.2}", took.as_secs_f64() * 1000.0 / visits as f64),
            (store / 1024).to_string(),
            before
                .map(|b| format!("x{:.1}", took.as_secs_f64() / b.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
        ]);
        before = Some(took);
    }
    println!(
        "Initial sync of a caseload to a fresh phone (native device core, SQLite store)\n\n{}",
        t.render()
    );
}
