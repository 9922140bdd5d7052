//! A JavaScript `@automerge/automerge-repo` client, given a valid ticket,
//! syncs a case document with our server: wire compatibility.

use std::process::Command;

use fieldvisit_e2e::raw;
use fieldvisit_e2e::{Practice, Server, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_automerge_repo_client_syncs_with_our_server() {
    let js_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    assert!(
        js_dir.join("node_modules").is_dir(),
        "run `npm ci --prefix tests/js` first (the README's test command does)"
    );
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (device_id, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let actor = fieldvisit_shared::provenance::device_actor(&device_id).to_hex_string();

    let marker = "Written-by-JS-client";
    let url = server.url.clone();
    let doc = practice.case_document_id.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(js_dir.join("interop.mjs"))
            .args([&url, &token, &peer_id, &doc, marker, &actor])
            .arg(fieldvisit_shared::api::PROTOCOL_VERSION.to_string())
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "JS client failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("TEST-001"), "JS read the case: {stdout}");

    // The change made in JavaScript is on the server: a Rust device reads it.
    let device = practice.online_device(&server, &wren, "reader").await;
    eventually("the JS edit to reach a Rust device", || async {
        device
            .case(&practice.case_id)
            .await
            .map(|c| c.person.key_details.as_str().contains(marker))
            .unwrap_or(false)
    })
    .await;
    device.close().await;
}
