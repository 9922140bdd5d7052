//! A lost phone on a real server: the admin (and the worker, from another
//! device) lists a person's devices with when each was last seen and
//! synced and what it held unsent; revoking one makes it wipe itself the
//! next time it reaches the server, which audits the confirmation once.

use fieldvisit_e2e::raw::{self, client};
use fieldvisit_e2e::{PIN, Practice, SYNC_TIMEOUT, Server, admin, eventually};
use fieldvisit_mobile::CoreError;
use fieldvisit_shared::api::WipeReason;
use fieldvisit_shared::records::TextField;
use fieldvisit_shared::records::VisitDoc;
use serde_json::Value;

fn devices_of(practice: &Practice, person: &str) -> Vec<Value> {
    admin(&practice.data(), &["devices", "--person", person])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn device<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|d| d["device_id"] == id)
        .unwrap_or_else(|| panic!("device {id} in {list:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_phone_hears_it_on_contact_and_its_wipe_leaves_nothing() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    let server = Server::start(&practice.data());
    let dir = practice.dir.path().join("lost-phone");
    let lost = practice.device(&server, &wren, "lost-phone").await;
    let other = practice.device(&server, &wren, "tablet").await;
    let ashs = practice.device(&server, &ash, "ash-phone").await;
    let lost_id = lost.device_id().to_owned();

    // Synced once, then out of signal with a visit not yet sent.
    lost.go_online().unwrap();
    lost.refresh_cases().await.unwrap();
    lost.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    eventually("the phone reports it has nothing unsent", || async {
        device(&devices_of(&practice, &wren), &lost_id)["unsynced_changes"] == 0
    })
    .await;
    lost.go_offline();
    let visit = practice.visit(&lost).await;
    lost.set_text(
        &visit,
        TextField::Observations,
        "Words that never left the phone.",
    )
    .await
    .unwrap();

    // The admin's list: enrolled, seen, synced, nothing unsent as it last said.
    let list = devices_of(&practice, &wren);
    assert_eq!(list.len(), 2);
    let d = device(&list, &lost_id);
    for key in [
        "enrolled_at",
        "last_seen_at",
        "last_synced_at",
        "reported_at",
    ] {
        assert!(d[key].is_string(), "{key} in {d}");
    }
    assert!(d["revoked_at"].is_null() && d["wiped_at"].is_null());

    // The worker, from the tablet: sees both, revokes the phone; Ash's
    // devices are not Wren's to see or revoke.
    let mine = other.devices_of(&wren).await.unwrap();
    assert_eq!(mine.len(), 2);
    let refused = other
        .revoke_device_of(&wren, ashs.device_id(), PIN)
        .await
        .unwrap_err();
    assert_eq!(
        refused.server_code(),
        Some(fieldvisit_shared::api::ErrorCode::NotFound)
    );
    // Whoever holds the unlocked tablet needs the PIN too: a wrong one
    // revokes nothing and counts as at unlock; the right one resets it.
    for left in [4, 3] {
        match other.revoke_device_of(&wren, &lost_id, "000000").await {
            Err(CoreError::WrongPin { left: l, .. }) => assert_eq!(l, left),
            other => panic!("a wrong PIN revoked or failed otherwise: {other:?}"),
        }
    }
    assert!(device(&devices_of(&practice, &wren), &lost_id)["revoked_at"].is_null());
    assert!(practice.audit("device_revoked").is_empty());
    other.revoke_device_of(&wren, &lost_id, PIN).await.unwrap();
    let revoked = practice.audit("device_revoked");
    assert_eq!(revoked.len(), 1);
    let detail = revoked[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&wren) && detail.contains(other.device_id()),
        "{detail}"
    );
    // The admin's list says who did it and from which device.
    let by = device(&devices_of(&practice, &wren), &lost_id)["revoked_by"].clone();
    assert_eq!(by, "Wren Worker, from their device \u{201c}tablet\u{201d}");

    // The phone comes back into signal: told it is revoked, it wipes.
    assert!(!lost.revoked());
    lost.go_online().unwrap();
    eventually("the phone hears it is revoked", || async { lost.revoked() }).await;
    lost.wipe(WipeReason::Revoked).await.unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let wiped = practice.audit("device_wiped");
    assert_eq!(wiped.len(), 1, "{wiped:?}");
    assert_eq!(wiped[0]["device_id"], lost_id.as_str());
    assert!(device(&devices_of(&practice, &wren), &lost_id)["wiped_at"].is_string());

    // Its words never reached the server (lost by design, as the admin
    // screen warns); the tablet goes on working.
    other.go_online().unwrap();
    other.refresh_cases().await.unwrap();
    other.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_wipes_from_a_hand_made_peer_are_bounded() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let server = Server::start(&practice.data());
    let (device_id, code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let post = |path: &str, body: Value| {
        client()
            .post(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let code_of = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body["error"].as_str().unwrap_or("").to_owned())
    };

    // A bad report is refused whole.
    let (status, code) = code_of(
        post(
            "/api/devices/me/status",
            serde_json::json!({"unsynced_changes": -1}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "invalid_json"));
    // Reports are writes: past a burst the device is told to wait.
    let mut statuses = Vec::new();
    for n in 0..14 {
        let resp = post(
            "/api/devices/me/status",
            serde_json::json!({"unsynced_changes": n}),
        )
        .await
        .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert!(
        statuses.contains(&204) && statuses.contains(&429),
        "{statuses:?}"
    );

    // A device that says it wiped itself (too many wrong PINs) is revoked
    // with it; saying so again writes nothing more. (Its own bucket: the
    // status reports above cannot crowd it out.)
    for _ in 0..2 {
        let resp = post(
            "/api/devices/me/wiped",
            serde_json::json!({"reason": "wrong_pin"}),
        )
        .await
        .unwrap();
        assert_eq!(resp.status().as_u16(), 204);
    }
    assert_eq!(practice.audit("device_wiped").len(), 1);
    // Revoked, it may say that and nothing else.
    let (status, code) = code_of(raw::ticket(&server.url, &token).await).await;
    assert_eq!((status, code.as_str()), (403, "device_revoked"));
    let (status, code) = code_of(
        post(
            "/api/devices/me/status",
            serde_json::json!({"unsynced_changes": 0}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "device_revoked"));
    let (status, code) = code_of(
        post(&format!("/api/devices/{device_id}/revoke"), Value::Null)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "device_revoked"));
    let listed = client()
        .get(format!("{}/api/devices", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status().as_u16(), 403);
    let list = devices_of(&practice, &wren);
    let d = device(&list, &device_id);
    assert!(d["revoked_at"].is_string() && d["wiped_at"].is_string());

    // An unknown person's devices: an error, not an empty list.
    let out = std::process::Command::new(fieldvisit_e2e::server_bin())
        .args(["admin", "--data"])
        .arg(practice.data())
        .args(["--json", "devices", "--person", "worker-nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// Every file under `dir` holding `needle`.
fn files_holding(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// `person`'s phone, enrolled with the test PIN, with its case synced: its
/// store folder and its core.
async fn synced_phone(
    practice: &Practice,
    server: &Server,
    person: &str,
) -> (std::path::PathBuf, fieldvisit_mobile::DeviceCore) {
    let phone = practice.online_device(server, person, "phone").await;
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    (practice.dir.path().join("phone"), phone)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_phones_files_without_the_pin_reveals_no_case_text() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (dir, phone) = synced_phone(&practice, &server, &wren).await;
    let visit = practice.visit(&phone).await;
    let sentence = "She keeps her savings in the biscuit tin.";
    phone
        .set_text(&visit, TextField::Observations, sentence)
        .await
        .unwrap();
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    phone.close().await;
    for needle in [sentence, "Casey Synthetic", "TEST-001", "Wren Worker"] {
        assert_eq!(
            files_holding(&dir, needle),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    // The PIN opens it again, with everything in it; a wrong one does not.
    let wrong = fieldvisit_mobile::DeviceCore::open(&dir, "000111").await;
    assert!(matches!(
        wrong,
        Err(fieldvisit_mobile::CoreError::WrongPin { left: 4, .. })
    ));
    let phone = fieldvisit_mobile::DeviceCore::open(&dir, fieldvisit_e2e::PIN)
        .await
        .unwrap()
        .expect("enrolled");
    assert_eq!(
        phone
            .read::<VisitDoc>(&visit)
            .await
            .unwrap()
            .observations
            .as_str(),
        sentence
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_in_a_row_delete_everything_after_a_warning() {
    use fieldvisit_mobile::{CoreError, DeviceCore};
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    practice.assign(&wren);
    let server = Server::start(&practice.data());
    let (dir, phone) = synced_phone(&practice, &server, &wren).await;
    phone.go_offline();
    let visit = practice.visit(&phone).await;
    phone
        .set_text(&visit, TextField::Observations, "Not yet sent.")
        .await
        .unwrap();
    let waiting = phone.sync_status().await.unwrap();
    assert!(waiting.pending_changes > 0);
    phone.close().await;

    // Wrong, wrong, then right: the count starts again.
    for left in [4, 3] {
        let e = DeviceCore::open(&dir, "000111").await.unwrap_err();
        assert!(
            matches!(e, CoreError::WrongPin { left: l, .. } if l == left),
            "{e:?}"
        );
    }
    let opened = DeviceCore::open(&dir, fieldvisit_e2e::PIN)
        .await
        .unwrap()
        .unwrap();
    opened.close().await;
    // Four wrong: the last warning says what would be lost.
    for left in [4, 3, 2, 1] {
        let e = DeviceCore::open(&dir, "000111").await.unwrap_err();
        match e {
            CoreError::WrongPin { left: l, unsent } => {
                assert_eq!(l, left);
                assert!(unsent.is_some_and(|n| n > 0), "{unsent:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    // The fifth deletes everything: even the right PIN finds nothing now.
    let e = DeviceCore::open(&dir, "000111").await.unwrap_err();
    assert!(matches!(e, CoreError::WipedAfterWrongPins), "{e:?}");
    assert!(!DeviceCore::enrolled(&dir).await.unwrap());
    assert!(
        DeviceCore::open(&dir, fieldvisit_e2e::PIN)
            .await
            .unwrap()
            .is_none()
    );
}
