//! What an operator and an attacker with one enrolment find at the edges of
//! a real server process: flags meant for a test bench refused on a public
//! address, a device's connections and tickets bounded, no secret in the
//! log, and a database the server cannot write refused at start with a
//! sentence that says why.

use std::process::Command;

use fieldvisit_e2e::raw::{self, RawPeer};
use fieldvisit_e2e::{Practice, Server, admin, server_bin, str_of};
use serde_json::Value;

/// The flags that switch off protection exist for benchmarks and tests on
/// the loopback address; on any other they stop the server at once.
#[test]
fn test_bench_flags_are_refused_off_the_loopback_address() {
    let practice = Practice::new();
    for flag in [
        vec!["--insecure-no-auth-for-benchmarks"],
        vec!["--test-panic-on-document", "4NMNnkMhL8jXrdJ9jamS58PAVdXu"],
    ] {
        for listen in ["0.0.0.0:0", "192.0.2.1:0"] {
            let out = Command::new(server_bin())
                .args(["serve", "--data"])
                .arg(practice.data())
                .args(["--listen", listen])
                .args(&flag)
                .output()
                .expect("run the server");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{flag:?} on {listen} started");
            assert!(
                stderr.contains("only listens on a loopback address"),
                "{flag:?} on {listen}: {stderr}"
            );
        }
    }
}

/// One device holds at most four sync connections and eight unredeemed
/// tickets, and buys at most thirty tickets at once: a hand-made peer
/// cannot take every socket or task of the server, and another device of
/// the same person is not held up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_holds_a_bounded_number_of_connections_and_tickets() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (_, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;

    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(RawPeer::connect(&server.url, &token, &peer_id).await);
    }
    let fifth = raw::ticket(&server.url, &token).await;
    assert_eq!(fifth.status(), 200, "a ticket is still sold");
    let ticket: Value = fifth.json().await.unwrap();
    let url = server.url.replacen("http://", "ws://", 1);
    let refused = tokio_tungstenite::connect_async(format!(
        "{url}/sync?ticket={}",
        str_of(&ticket, "ticket")
    ))
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap_or_default())
                .expect("a JSON error body");
            assert_eq!(body["error"], "too_many", "{body}");
        }
        other => panic!("a fifth connection was not refused with 429: {other:?}"),
    }
    // Another device of the same person connects meanwhile.
    let (_, other_code) = practice.enrolment_code(&wren);
    let (other_token, other_peer) = raw::enrol(&server.url, &other_code).await;
    let other = RawPeer::connect(&server.url, &other_token, &other_peer).await;
    drop(other);
    // A closed connection gives its slot back.
    drop(open.pop());
    fieldvisit_e2e::eventually("the slot to come back", || async {
        let t: Value = raw::ticket(&server.url, &token).await.json().await.unwrap();
        let Some(ticket) = t["ticket"].as_str() else {
            return false;
        };
        tokio_tungstenite::connect_async(format!("{url}/sync?ticket={ticket}"))
            .await
            .is_ok()
    })
    .await;
    drop(open);

    // Unredeemed tickets: eight at most.
    let (_, code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(raw::ticket(&server.url, &token).await.status().as_u16());
    }
    assert_eq!(statuses[..8], [200; 8]);
    assert_eq!(statuses[8], 429);

    // Bought and used at once: thirty, then one every two seconds.
    let (_, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    for n in 0..30 {
        let peer = RawPeer::connect(&server.url, &token, &peer_id).await;
        drop(peer);
        assert!(n < 30);
    }
    let resp = raw::ticket(&server.url, &token).await;
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "too_many", "{body}");
}

/// Tokens, enrolment codes, sync tickets, the webhook's secret and the
/// health key never reach the server's log, even at debug level, whether
/// they were used rightly or wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let hook = admin(
        &practice.data(),
        &["webhook", "--url", "http://127.0.0.1:9/hook"],
    );
    let webhook_secret = str_of(&hook, "secret");
    let log = practice.dir.path().join("server.log");
    let server = Server::start_logging_to(
        &practice.data(),
        &log,
        &[("RUST_LOG", "debug,hyper=info,h2=info,rustls=info")],
    );
    let health_key = std::fs::read_to_string(practice.data().join("health.key")).unwrap();

    let (_, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let ticket: Value = raw::ticket(&server.url, &token).await.json().await.unwrap();
    let ticket = str_of(&ticket, "ticket");
    // Used rightly: a connection, a health report.
    let peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    drop(peer);
    let (status, _) = server.health().await;
    assert_eq!(status, 200);
    // And wrongly: the code again, the ticket twice, a token that is
    // almost right, the health key as a bearer token elsewhere.
    let client = raw::client();
    let again = client
        .post(format!("{}/api/enrol", server.url))
        .json(&serde_json::json!({ "code": code, "label": "again" }))
        .send()
        .await
        .unwrap();
    assert!(again.status().is_client_error());
    let url = server.url.replacen("http://", "ws://", 1);
    for _ in 0..2 {
        let _ = tokio_tungstenite::connect_async(format!("{url}/sync?ticket={ticket}")).await;
    }
    let almost = format!("{}x", &token[..token.len() - 1]);
    for bearer in [almost.as_str(), health_key.trim()] {
        let resp = client
            .get(format!("{}/api/me", server.url))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    drop(server);

    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("sync connection opened"),
        "the log was captured"
    );
    for (what, secret) in [
        ("the token", token.as_str()),
        ("the almost-right token", almost.as_str()),
        ("the enrolment code", code.as_str()),
        ("the sync ticket", ticket.as_str()),
        ("the webhook secret", webhook_secret.as_str()),
        ("the health key", health_key.trim()),
    ] {
        assert!(!written.contains(secret), "{what} is in the log");
    }
}

/// A data directory the server cannot write (a read-only mount, a copy
/// restored with the wrong owner) stops the server at start with a
/// sentence naming the directory, never a server that acknowledges
/// nothing. Needs root to mount (CI runs as root).
#[test]
fn a_database_the_server_cannot_write_stops_it_at_start() {
    let practice = Practice::new();
    let mount = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let status = Command::new("mount").args(args).status().expect("mount");
        assert!(
            status.success(),
            "mount {args:?} failed; this test mounts a tmpfs and needs root"
        );
    };
    let target = mount.path().to_str().unwrap().to_owned();
    run(&["-t", "tmpfs", "-o", "size=32m", "tmpfs", &target]);
    let data = mount.path().join("data");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(practice.data())
        .arg(&data)
        .status()
        .unwrap();
    assert!(copied.success());
    run(&["-o", "remount,ro", &target]);
    let out = Command::new(server_bin())
        .args(["serve", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("run the server");
    run(&["-o", "remount,rw", &target]);
    let _ = Command::new("umount").arg(&target).status();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a read-only database");
    assert!(
        stderr.contains(&format!(
            "the data directory {} cannot be written",
            data.display()
        )),
        "the message names the directory and says why: {stderr}"
    );
}
