//! A safeguarding concern, end to end: raised on a phone with no signal
//! behind five visits and ten photos, it reaches the server first; the
//! supervisor's open app is told at once; the practice's webhook receiver
//! on 127.0.0.1 gets a signed call, retried after failures and across a
//! `kill -9` of the server; the supervisor's acknowledgement reaches the
//! worker's devices.

use std::sync::{Arc, Mutex};

use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server, admin, eventually, str_of};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_mobile::core::{AlertEvent, Delivery, TextOf};
use fieldvisit_shared::api::ConcernWebhook;
use fieldvisit_shared::records::concern::ConcernDoc;
use fieldvisit_shared::records::concern::{ConcernText, Consent};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One call the receiver took: its headers (lower-cased names) and body.
#[derive(Debug, Clone)]
struct Call {
    headers: Vec<(String, String)>,
    body: String,
}

impl Call {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// A webhook receiver on 127.0.0.1 that answers 500 to its first
/// `failures` calls and 200 after, keeping every call.
async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Call>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
    let kept = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break (String::new(), String::new());
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_owned(), body[..length].to_owned());
                    }
                }
            };
            let headers = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            let n = {
                let mut calls = kept.lock().unwrap();
                calls.push(Call { headers, body });
                calls.len()
            };
            let status = if n <= failures {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    (url, calls)
}

/// A small picture, different for each `n` (ten photos are ten blobs).
fn picture(n: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([n.wrapping_mul(23), (x * 3) as u8, (y * 5) as u8])
    });
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

fn audit_ids(practice: &Practice, action: &str) -> Vec<i64> {
    practice
        .audit(action)
        .iter()
        .filter_map(|e| e["id"].as_i64())
        .collect()
}

async fn write_concern(phone: &DeviceCore, concern: &str) {
    for (text, value) in [
        (
            ConcernText::WhatHappened,
            "Bruises on both forearms; said her nephew grabs her when he wants money.",
        ),
        (ConcernText::WhoIsAtRisk, "Casey Synthetic"),
        (
            ConcernText::ImmediateActions,
            "Stayed until the nephew left; the GP is visiting tomorrow.",
        ),
        (
            ConcernText::WithoutConsentReason,
            "Her grandchildren visit the house and may be at risk too.",
        ),
    ] {
        let target = TextOf::Concern {
            concern_id: concern.to_owned(),
            text,
        };
        phone.save(&target, value).await.unwrap();
    }
    phone
        .set_concern_consent(concern, Consent::Refused)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concern_raised_offline_goes_first_alerts_the_supervisor_and_reaches_the_webhook() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let alex = practice.person("Alex Worker", "worker", Some(&sam));
    practice.assign(&alex);
    let (url, calls) = receiver(2).await;
    let hook = admin(&practice.data(), &["webhook", "--url", &url]);
    let secret = str_of(&hook, "secret");
    admin(
        &practice.data(),
        &["safeguarding-phone", "--phone", "0161 496 0000"],
    );
    // Attempts at 0, 1 and 4 seconds: the kill below falls between.
    let retry = ["--webhook-retry-base-ms", "1000"];
    let server = Server::start_with(&practice.data(), &retry);

    let phone = Arc::new(practice.device(&server, &alex, "phone").await);
    phone.go_online().unwrap();
    phone.refresh_cases().await.unwrap();
    assert_eq!(
        phone.safeguarding_phone().unwrap().as_deref(),
        Some("0161 496 0000")
    );
    let supervisor = practice.online_device(&server, &sam, "supervisor").await;
    let mut alerts = Box::pin(supervisor.alert_events().await.unwrap());

    // No signal: five visits, ten photos, then the concern.
    phone.go_offline();
    let mut visits = Vec::new();
    for n in 0..5u8 {
        let visit = practice.visit(&phone).await;
        for m in 0..2u8 {
            phone
                .add_photo(&visit, &picture(n * 2 + m), "")
                .await
                .unwrap();
        }
        visits.push(visit);
    }
    let concern = phone
        .start_concern(&practice.case_id, &visits[4])
        .await
        .unwrap();
    assert_eq!(
        phone.concern_delivery(&concern).await.unwrap(),
        Delivery::Draft
    );
    let refused = phone.raise_concern(&concern).await.unwrap_err();
    assert!(refused.to_string().contains("what happened"), "{refused}");
    write_concern(&phone, &concern).await;
    phone.raise_concern(&concern).await.unwrap();
    assert!(matches!(
        phone.concern_delivery(&concern).await.unwrap(),
        Delivery::Waiting { .. }
    ));

    // Back in signal: the concern is on the server before any of the rest.
    // Photos are offered as the app does, every moment from the start.
    phone.go_online().unwrap();
    let sender = phone.clone();
    let sending = tokio::spawn(async move {
        loop {
            let _ = sender.send_photos().await;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    phone.refresh_cases().await.unwrap();
    let alert = tokio::time::timeout(SYNC_TIMEOUT, alerts.next())
        .await
        .expect("the supervisor's stream told of the concern")
        .unwrap()
        .unwrap();
    let AlertEvent::Alert(alert) = alert else {
        panic!("an alert, not {alert:?}");
    };
    assert_eq!(alert.document_id, concern);
    assert_eq!(alert.raised_by.name, "Alex Worker");
    eventually("every photo stored", || async {
        practice.audit("blob_stored").len() == 10
    })
    .await;
    sending.abort();
    let raised = audit_ids(&practice, "concern_raised");
    assert_eq!(raised.len(), 1);
    let registered = audit_ids(&practice, "concern_registered");
    let visits_registered = audit_ids(&practice, "visit_registered");
    let blobs = audit_ids(&practice, "blob_stored");
    assert_eq!(visits_registered.len(), 5);
    for later in visits_registered.iter().chain(&blobs) {
        assert!(
            raised[0] < *later && registered[0] < *later,
            "the concern (registered {registered:?}, raised {raised:?}) came after visits {visits_registered:?} or photos {blobs:?}"
        );
    }
    eventually("the phone says delivered", || async {
        matches!(
            phone.concern_delivery(&concern).await.unwrap(),
            Delivery::Delivered { .. }
        )
    })
    .await;

    // The webhook: failed once, then the server is killed mid-retries and
    // comes back; the pending call is still made, and succeeds on the third.
    eventually("the first webhook attempt", || async {
        !calls.lock().unwrap().is_empty()
    })
    .await;
    let data = server.kill9();
    let before_restart = calls.lock().unwrap().len();
    assert!(
        before_restart < 3,
        "still pending at the kill: {before_restart} calls made"
    );
    let server = Server::start_with(&data, &retry);
    eventually("the webhook delivered", || async {
        calls.lock().unwrap().len() >= 3
    })
    .await;
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "delivered once it succeeded: {calls:?}");
    let now = chrono::Utc::now().timestamp();
    for call in &calls {
        assert_eq!(call.header("fieldvisit-delivery"), alert.id);
        assert!(
            fieldvisit_sync_server::webhook::verify(
                &secret,
                call.header("fieldvisit-signature"),
                &call.body,
                now,
                300
            ),
            "a correctly signed call: {call:?}"
        );
        assert!(!fieldvisit_sync_server::webhook::verify(
            "another secret",
            call.header("fieldvisit-signature"),
            &call.body,
            now,
            300
        ));
    }
    let body: ConcernWebhook = serde_json::from_str(&calls[2].body).unwrap();
    assert_eq!(body.id, alert.id);
    assert_eq!(body.document_id, concern);
    assert_eq!(body.case_reference, "TEST-001");
    assert!(
        !calls[2].body.contains("Bruises"),
        "the call names the concern, not its words"
    );
    assert_eq!(practice.audit("webhook_failed").len(), 2);
    assert_eq!(practice.audit("webhook_delivered").len(), 1);

    // The supervisor acknowledges it; the worker's phone shows who and when.
    let supervisor = practice.online_device(&server, &sam, "supervisor-2").await;
    eventually("the concern on the supervisor's device", || async {
        supervisor
            .read::<ConcernDoc>(&concern)
            .await
            .is_ok_and(|c| c.raised())
    })
    .await;
    supervisor.acknowledge_concern(&concern).await.unwrap();
    supervisor.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    // The server came back on another port: the worker reads it on their
    // tablet.
    let tablet = practice.online_device(&server, &alex, "tablet").await;
    eventually("the acknowledgement on the worker's tablet", || async {
        tablet
            .read::<ConcernDoc>(&concern)
            .await
            .is_ok_and(|c| c.acknowledged_by == sam)
    })
    .await;
    let acknowledged: Vec<Value> = practice.audit("concern_acknowledged");
    assert_eq!(acknowledged.len(), 1);
    let listed = admin(&practice.data(), &["audit", "--action", "concern_raised"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    drop(server);
}

/// "Raise this concern now" with signal: once the concern says it is
/// delivered, the header must not go on saying a change is waiting. The
/// concern holds every other document back while it travels (the case's
/// list of records, written as it is raised, included); released, that
/// document starts its exchange afresh, and the server, already in step,
/// used not to answer, so the phone never learnt it was (vendor patch 12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_agrees_with_the_concern_once_delivered() {
    let practice = Practice::new();
    let sam = practice.person("Sam Supervisor", "supervisor", None);
    let alex = practice.person("Alex Worker", "worker", Some(&sam));
    practice.assign(&alex);
    let server = Server::start(&practice.data());
    let phone = practice.online_device(&server, &alex, "phone").await;
    let visit = practice.visit(&phone).await;
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let concern = phone
        .start_concern(&practice.case_id, &visit)
        .await
        .unwrap();
    write_concern(&phone, &concern).await;
    phone.raise_concern(&concern).await.unwrap();
    eventually("the concern says it is delivered", || async {
        let _ = phone.sync_status().await;
        matches!(
            phone.concern_delivery(&concern).await.unwrap(),
            Delivery::Delivered { .. }
        )
    })
    .await;
    // Within the usual wait for sync (the patch's absence left it waiting
    // for over a minute, every run).
    let status = phone.wait_until_synced(SYNC_TIMEOUT).await;
    assert!(
        status.is_ok(),
        "still waiting: {:?}",
        phone.sync_status().await
    );
}

/// A device cannot flood its supervisors with concerns: each alert is one
/// registered concern, and past ten registrations at once the server
/// answers 429 (the phone keeps the concern and tries later). Real
/// concerns, with ids only this device can make: each of the first ten is
/// registered and audited; the eleventh is not.
#[tokio::test]
async fn a_device_cannot_flood_the_alert_channel() {
    let practice = Practice::new();
    let alex = practice.person("Alex Worker", "worker", None);
    practice.assign(&alex);
    let server = Server::start(&practice.data());
    let (_, code) = practice.enrolment_code(&alex);
    let (token, _) = fieldvisit_e2e::raw::enrol(&server.url, &code).await;
    let key = fieldvisit_shared::provenance::creator_key(&token);
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let nonce: [u8; fieldvisit_shared::provenance::NONCE_LEN] = rand::random();
        let id = fieldvisit_shared::provenance::document_id(&key, &nonce);
        let id = samod::DocumentId::try_from(id.to_vec())
            .unwrap()
            .to_string();
        let resp = fieldvisit_e2e::raw::client()
            .post(format!("{}/api/documents", server.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "kind": "safeguarding_concern",
                "case_id": practice.case_id,
                "document_id": id,
                "nonce": hex::encode(nonce),
            }))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        statuses.push((
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    assert!(
        statuses[..10].iter().all(|(s, _)| *s == 201),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], (429, "too_many".to_owned()));
    assert_eq!(practice.audit("concern_registered").len(), 10);
}
