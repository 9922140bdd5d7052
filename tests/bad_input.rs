//! Bad input gets a clear error, changes nothing, and the server keeps
//! serving everyone else.

use fieldvisit_e2e::raw::{self, RawPeer, client};
use fieldvisit_e2e::{Practice, Server, still_serving};
use fieldvisit_shared::records::VisitDoc;

async fn error_of(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.expect("a JSON error body");
    let code = body["error"].as_str().expect("error code").to_owned();
    let message = body["message"].as_str().expect("message").to_owned();
    assert!(message.len() > 10, "a human sentence: {message}");
    (status, code, message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sync_messages_close_only_their_own_connection() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start_with(&practice.data(), &["--max-message-bytes", "65536"]);
    let good = practice.online_device(&server, &wren, "good").await;
    let visit = practice.visit(&good).await;
    still_serving(&good, &visit, "before").await;

    let (_, code) = practice.enrolment_code(&wren);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;

    // Not CBOR at all.
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    peer.send(b"this is not a sync message".to_vec()).await;
    let (code, reason) = peer.closed_with().await.expect("close frame");
    assert_eq!(code, 1007);
    assert!(reason.starts_with("malformed_message"), "{reason}");
    still_serving(&good, &visit, "after garbage").await;

    // A sync message whose payload is not automerge.
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    peer.send_sync(&practice.case_document_id, &[0x42, 0, 1, 2])
        .await;
    let (code, _) = peer.closed_with().await.expect("close frame");
    assert_eq!(code, 1007);
    still_serving(&good, &visit, "after a bad payload").await;

    // Over the limit.
    let mut peer = RawPeer::connect(&server.url, &token, &peer_id).await;
    peer.send(vec![0xa1; 100_000]).await;
    let (code, reason) = peer.closed_with().await.expect("close frame");
    assert_eq!(code, 1009);
    assert!(reason.starts_with("message_too_large"), "{reason}");
    still_serving(&good, &visit, "after an oversized message").await;

    // Nothing of it reached the record.
    let v = good.read::<VisitDoc>(&visit).await.unwrap();
    assert_eq!(v.observations.as_str(), "after an oversized message");
    assert_eq!(practice.audit("malformed_message").len(), 2);
    assert_eq!(practice.audit("message_too_large").len(), 1);
    good.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_tickets_get_clear_errors() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let url = &server.url;

    // Unknown token.
    let (status, code, _) = error_of(raw::ticket(url, "not-a-real-token").await).await;
    assert_eq!((status, code.as_str()), (401, "unknown_token"));
    // No token.
    let resp = client()
        .post(format!("{url}/api/sync/ticket"))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (401, "missing_token"));
    // A used enrolment code.
    let (_, enrol_code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(url, &enrol_code).await;
    let resp = client()
        .post(format!("{url}/api/enrol"))
        .json(&serde_json::json!({"code": enrol_code, "label": "again"}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (401, "invalid_enrolment_code"));

    let ws = url.replacen("http://", "ws://", 1);
    // Missing ticket: refused before the upgrade, with our JSON body.
    let err = tokio_tungstenite::connect_async(format!("{ws}/sync"))
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
        panic!("expected an HTTP refusal, got {err}")
    };
    assert_eq!(resp.status().as_u16(), 401);
    let body: serde_json::Value =
        serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["error"], "missing_ticket");

    // A ticket works once.
    let t: serde_json::Value = raw::ticket(url, &token).await.json().await.unwrap();
    let ticket = t["ticket"].as_str().unwrap();
    tokio_tungstenite::connect_async(format!("{ws}/sync?ticket={ticket}"))
        .await
        .expect("first use");
    let err = tokio_tungstenite::connect_async(format!("{ws}/sync?ticket={ticket}"))
        .await
        .unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(resp) = err else {
        panic!("expected an HTTP refusal, got {err}")
    };
    assert_eq!(resp.status().as_u16(), 401);

    // The server still serves a good device.
    let good = practice.online_device(&server, &wren, "good").await;
    let visit = practice.visit(&good).await;
    still_serving(&good, &visit, "still fine").await;
    good.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_to_an_admin_endpoint_changes_nothing() {
    let practice = Practice::new();
    let ada = practice.person("Ada Admin", "admin", None);
    let wren = practice.person("Wren Worker", "worker", None);
    let server = Server::start(&practice.data());
    let url = &server.url;
    let (_, code) = practice.enrolment_code(&ada);
    let (admin_token, _) = raw::enrol(url, &code).await;
    let people = || async {
        fieldvisit_e2e::admin(&practice.data(), &["audit", "--action", "person_added"])
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    };
    let before = people().await;

    for body in [
        "{\"name\": ",
        "[1,2,3]",
        "{\"name\": \"X\", \"role\": \"wizard\"}",
        "{\"name\": \"X\", \"role\": \"worker\", \"extra\": 1}",
    ] {
        let resp = client()
            .post(format!("{url}/api/admin/people"))
            .bearer_auth(&admin_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(resp).await;
        assert!(status == 400 || status == 422, "{body}: {status}");
        assert_eq!(code, "invalid_json", "{body}");
    }
    // Valid JSON, invalid content: a clear validation error.
    let resp = client()
        .post(format!("{url}/api/admin/people"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"name": "   ", "role": "worker"}))
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (400, "invalid_input"));
    assert!(message.contains("name"), "{message}");
    assert_eq!(people().await, before, "nothing was added");

    // A worker's token is not an admin's.
    let (_, code) = practice.enrolment_code(&wren);
    let (worker_token, _) = raw::enrol(url, &code).await;
    let resp = client()
        .post(format!("{url}/api/admin/people"))
        .bearer_auth(&worker_token)
        .json(&serde_json::json!({"name": "Eve", "role": "admin"}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));

    // And a good request still works.
    let resp = client()
        .post(format!("{url}/api/admin/people"))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"name": "Nia Worker", "role": "worker"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(people().await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_and_tokens_from_one_address_is_slowed_and_audited() {
    let (practice, server) = Practice::serving();
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let resp = client()
            .post(format!("{}/api/enrol", server.url))
            .json(&serde_json::json!({"code": "WRONG-CODE", "label": "guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status().as_u16() == 429 {
            let (_, code, _) = error_of(resp).await;
            assert_eq!(code, "rate_limited");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        30,
        "{statuses:?}"
    );
    assert!(statuses[30..].iter().all(|s| *s == 429), "{statuses:?}");
    let mut token_statuses = Vec::new();
    for _ in 0..40 {
        let resp = raw::ticket(&server.url, "not-a-token").await;
        token_statuses.push(resp.status().as_u16());
    }
    assert!(
        token_statuses[..30].iter().all(|s| *s == 401),
        "{token_statuses:?}"
    );
    assert!(
        token_statuses[31..].iter().all(|s| *s == 429),
        "{token_statuses:?}"
    );
    // One audit row per streak, not one per attempt.
    let limited = practice.audit("rate_limited");
    assert_eq!(limited.len(), 2, "{limited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_without_a_valid_proof_is_refused_and_registers_nothing() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (_, code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let id = "2i8rPAmrn6KRFc4Z7DpXYgE7yvLb";
    let case = practice.case_id.as_str();
    let good = "ab".repeat(16);
    for (body, expected) in [
        (
            serde_json::json!({"kind": "visit", "case_id": case, "document_id": id}),
            "invalid_json",
        ),
        (
            serde_json::json!({"kind": "visit", "case_id": case, "document_id": id, "nonce": "00"}),
            "invalid_json",
        ),
        (
            serde_json::json!({"kind": "visit", "case_id": case, "document_id": id, "nonce": "AB".repeat(16)}),
            "invalid_json",
        ),
        (
            serde_json::json!({"kind": "photo", "case_id": case, "document_id": id, "nonce": good}),
            "invalid_json",
        ),
        // A case is made by the admin, never registered from a device.
        (
            serde_json::json!({"kind": "case", "case_id": case, "document_id": id, "nonce": good}),
            "invalid_json",
        ),
        // Well-formed, but not the nonce this device made the id from.
        (
            serde_json::json!({"kind": "visit", "case_id": case, "document_id": id, "nonce": good}),
            "not_found",
        ),
    ] {
        let resp = client()
            .post(format!("{}/api/documents", server.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(resp).await;
        assert_eq!(code, expected, "{body}");
        assert!(matches!(status, 400 | 422 | 404), "{body}: {status}");
    }
    assert!(practice.audit("visit_registered").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_of_another_version_is_told_what_to_update() {
    use fieldvisit_shared::api::{PROTOCOL_HEADER, PROTOCOL_VERSION};
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (_, code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let plain = reqwest::Client::new();
    for (version, expected) in [
        (None, "update_app"),
        (Some(PROTOCOL_VERSION - 1), "update_app"),
        (Some(PROTOCOL_VERSION + 1), "update_server"),
    ] {
        for path in ["/api/cases", "/api/sync/ticket"] {
            let mut req = if path == "/api/cases" {
                plain.get(format!("{}{path}", server.url))
            } else {
                plain.post(format!("{}{path}", server.url))
            };
            req = req.bearer_auth(&token);
            if let Some(v) = version {
                req = req.header(PROTOCOL_HEADER, v.to_string());
            }
            let (status, code, message) = error_of(req.send().await.unwrap()).await;
            assert_eq!(
                (status, code.as_str()),
                (426, expected),
                "{path} {version:?}"
            );
            assert!(
                message.contains("your work stays on this device"),
                "{message}"
            );
        }
    }
    // Enrolment too: an old app learns it before it is given a token.
    let (_, code) = practice.enrolment_code(&wren);
    let resp = plain
        .post(format!("{}/api/enrol", server.url))
        .json(&serde_json::json!({"code": code, "label": "old app"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.1, "update_app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_record_search_and_audit_refuse_bad_requests_clearly() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let robin = practice.person("Robin Worker", "worker", None);
    practice.assign(&wren);
    let (other_case, _) = practice.add_case("TEST-002");
    practice.assign_to(&other_case, &robin);
    let server = Server::start(&practice.data());
    let (_, code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let get = |path: String| {
        let (url, token) = (server.url.clone(), token.clone());
        async move {
            client()
                .get(format!("{url}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let case = &practice.case_id;
    let visit = "4NMNnkG3ZgNHYAVN6rmKkDYkChHX";
    let cases: [(String, u16, &str); 14] = [
        (
            format!("/api/cases/{case}/record?as_at=2001-01-01T00:00:00Z"),
            400,
            "before_receipts",
        ),
        ("/api/search?q=tea&limit=lots".into(), 400, "bad_query"),
        (
            format!(
                "/api/documents/{}/authorship?passage={}",
                practice.case_document_id,
                "x".repeat(200)
            ),
            400,
            "bad_passage",
        ),
        (
            format!("/api/cases/{case}/record?as_at=yesterday"),
            400,
            "bad_time",
        ),
        (format!("/api/cases/{other_case}/record"), 404, "not_found"),
        ("/api/cases/case-nowhere/record".into(), 404, "not_found"),
        ("/api/cases/%3Cscript%3E/record".into(), 404, "not_found"),
        ("/api/search?q=".into(), 400, "bad_query"),
        ("/api/search?q=*%22()".into(), 400, "bad_query"),
        (
            format!("/api/search?q={}", "word ".repeat(50)),
            400,
            "bad_query",
        ),
        (
            format!("/api/documents/{}/authorship", practice.case_document_id),
            400,
            "missing_passage",
        ),
        (
            format!(
                "/api/documents/{}/authorship?passage=field:nothing",
                practice.case_document_id
            ),
            404,
            "not_found",
        ),
        (
            format!("/api/documents/{visit}/authorship?passage=field:observations"),
            404,
            "not_found",
        ),
        ("/api/admin/audit".into(), 403, "forbidden"),
    ];
    for (path, status, expected) in cases {
        let (got, code, _) = error_of(get(path.clone()).await).await;
        assert_eq!((got, code.as_str()), (status, expected), "{path}");
    }
    // Nothing of the other case is given away, and an unknown case reads the same.
    let (_, _, hidden) = error_of(get(format!("/api/cases/{other_case}/record")).await).await;
    assert!(!hidden.contains("TEST-002"));

    // An admin's filters are checked too.
    let ada = practice.person("Ada Admin", "admin", None);
    let (_, code) = practice.enrolment_code(&ada);
    let (admin_token, _) = raw::enrol(&server.url, &code).await;
    for (query, expected) in [
        ("since=monday", "bad_time"),
        ("limit=many", "bad_query"),
        ("colour=red", "bad_query"),
    ] {
        let resp = client()
            .get(format!("{}/api/admin/audit?{query}", server.url))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(resp).await;
        assert_eq!((status, code.as_str()), (400, expected), "{query}");
    }

    // Reading whole records is limited per device, and says so.
    let mut limited = None;
    for _ in 0..200 {
        let resp = get("/api/search?q=anything".to_owned()).await;
        if resp.status() == 429 {
            limited = Some(error_of(resp).await);
            break;
        }
    }
    let (_, code, message) = limited.expect("a device searching without pause is slowed down");
    assert_eq!(code, "too_many");
    assert!(message.contains("this device"), "{message}");
    // Searches were audited: one row each, never their words.
    let searches = practice.audit("searched");
    assert!(searches.len() >= 50, "{}", searches.len());
    assert!(searches.iter().all(|e| {
        !e["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("anything")
    }));
}
