//! Photos on a real server: a visit's photo uploads in chunks that resume
//! where they stopped, is checked (hash, a clean scaled-down JPEG) before
//! anything is kept, is served (and thumbnailed) only to those who may see
//! a record that refers to it, and every bad upload gets a clear error and
//! leaves nothing behind.

use fieldvisit_e2e::raw::{self, client};
use fieldvisit_e2e::{Practice, SYNC_TIMEOUT, Server};
use fieldvisit_mobile::DeviceCore;
use fieldvisit_shared::api::BlobUpload;
use fieldvisit_shared::photo;
use fieldvisit_shared::records::VisitDoc;
use fieldvisit_shared::records::{Edit, PhotoRef, PlaceKind, VisitEdit};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/photos")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Puts a reference to `bytes` (by their hash) into the visit, as the app
/// does once it has processed a photo; returns the hash.
async fn refer(device: &DeviceCore, visit: &str, bytes: &[u8]) -> String {
    let sha256 = photo::sha256_hex(bytes);
    let photo = PhotoRef {
        sha256: sha256.clone(),
        size: bytes.len() as u64,
        width: 1,
        height: 1,
        caption: Default::default(),
        captured_at: "2026-11-27T10:00:00.000Z".into(),
        removed_by: String::new(),
        removed_at: String::new(),
    };
    device
        .edit(visit, VisitEdit::AddPhoto(photo))
        .await
        .unwrap();
    device.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    sha256
}

/// What a bad upload is, the bytes its reference names, the bytes sent
/// instead (if other), and the answer expected.
type BadUpload = (&'static str, Vec<u8>, Option<Vec<u8>>, u16, &'static str);

struct Http {
    url: String,
    token: String,
}

impl Http {
    async fn put(&self, sha: &str, total: usize, offset: usize, chunk: &[u8]) -> reqwest::Response {
        client()
            .put(format!("{}/api/blobs/{sha}", self.url))
            .bearer_auth(&self.token)
            .header("upload-length", total.to_string())
            .header("upload-offset", offset.to_string())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Sends `bytes` in chunks of `size` from the start; the last answer.
    async fn upload(&self, sha: &str, bytes: &[u8], size: usize) -> reqwest::Response {
        let mut offset = 0;
        loop {
            let end = (offset + size).min(bytes.len());
            let resp = self
                .put(sha, bytes.len(), offset, &bytes[offset..end])
                .await;
            if end == bytes.len() || !resp.status().is_success() {
                return resp;
            }
            offset = end;
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        client()
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }
}

/// Asks until the server knows of the reference (it indexes a visit a
/// moment after its changes arrive); the first other answer.
async fn known<F, Fut>(mut ask: F) -> reqwest::Response
where
    F: FnMut() -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    for _ in 0..400 {
        let resp = ask().await;
        if resp.status() != 404 {
            return resp;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server never learnt of the photo's reference");
}

async fn code_of(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.expect("a JSON error body");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.len() > 10, "a sentence ({status}): {body}");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_uploads_in_resumable_chunks_and_reaches_only_those_who_may_see_it() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let robin = practice.person("Robin Worker", "worker", None);
    practice.assign(&wren);
    let (other_case, _) = practice.add_case("TEST-002");
    practice.assign_to(&other_case, &robin);
    let server = Server::start(&practice.data());
    let phone = practice.online_device(&server, &wren, "phone").await;
    let visit = practice.visit(&phone).await;
    let processed = photo::process(&fixture("phone-12mp-orientation6-gps.jpg")).unwrap();
    let jpeg = processed.jpeg.clone();
    let sha = refer(&phone, &visit, &jpeg).await;

    let (_, code) = practice.enrolment_code(&wren);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let wren_http = Http {
        url: server.url.clone(),
        token,
    };
    let (_, code) = practice.enrolment_code(&robin);
    let (token, _) = raw::enrol(&server.url, &code).await;
    let robin_http = Http {
        url: server.url.clone(),
        token,
    };

    // Not there yet: the same answer as for a photo that does not exist.
    let (status, unknown) = code_of(
        wren_http
            .get(&format!("/api/blobs/{}", "0".repeat(64)))
            .await,
    )
    .await;
    assert_eq!((status, unknown.as_str()), (404, "not_found"));

    // The first chunk, once the server has indexed the visit's reference.
    let chunk = 64 * 1024;
    let first = known(|| wren_http.put(&sha, jpeg.len(), 0, &jpeg[..chunk])).await;
    assert_eq!(first.status(), 200);
    assert_eq!(
        first.json::<BlobUpload>().await.unwrap(),
        BlobUpload {
            received: chunk as u64,
            complete: false
        }
    );
    // The connection drops; the phone, unsure, starts again from zero and
    // is told where the upload stands.
    let resp = wren_http.put(&sha, jpeg.len(), 0, &jpeg[..chunk]).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(
        resp.headers()["upload-offset"].to_str().unwrap(),
        chunk.to_string()
    );
    // It goes on from there to the end.
    let mut offset = chunk;
    let mut last = None;
    while offset < jpeg.len() {
        let end = (offset + chunk).min(jpeg.len());
        let resp = wren_http
            .put(&sha, jpeg.len(), offset, &jpeg[offset..end])
            .await;
        assert!(resp.status().is_success(), "{}", resp.status());
        last = Some((
            resp.status().as_u16(),
            resp.json::<BlobUpload>().await.unwrap(),
        ));
        offset = end;
    }
    assert_eq!(
        last,
        Some((
            201,
            BlobUpload {
                received: jpeg.len() as u64,
                complete: true
            }
        ))
    );
    // Sending it again stores nothing twice.
    let again = wren_http.upload(&sha, &jpeg, chunk).await;
    assert_eq!(again.status(), 200);
    assert!(again.json::<BlobUpload>().await.unwrap().complete);

    // Served whole to those who may see the visit, with a thumbnail.
    let served = wren_http.get(&format!("/api/blobs/{sha}")).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.bytes().await.unwrap().to_vec(), jpeg);
    let thumb = wren_http.get(&format!("/api/blobs/{sha}?width=160")).await;
    assert_eq!(thumb.status(), 200);
    let thumb = thumb.bytes().await.unwrap();
    assert_eq!(photo::check_stored(&thumb).unwrap(), (160, 213));
    let (status, code) = code_of(wren_http.get(&format!("/api/blobs/{sha}?width=999")).await).await;
    assert_eq!((status, code.as_str()), (400, "bad_width"));

    // Someone on another case gets exactly the answer for nothing.
    let (status, hidden) = code_of(robin_http.get(&format!("/api/blobs/{sha}")).await).await;
    assert_eq!((status, hidden.as_str()), (404, unknown.as_str()));
    let (status, _) = code_of(robin_http.upload(&sha, &jpeg, chunk).await).await;
    assert_eq!(status, 404);
    // Nor can they bring it into their own case by its hash: a reference
    // to a photo of another case is refused, and the photo stays unread.
    let robins = practice.online_device(&server, &robin, "robin").await;
    let theirs = robins
        .create_visit(&other_case, PlaceKind::Home)
        .await
        .unwrap();
    robins.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let theirs_doc = robins.try_fetch(&theirs).await.unwrap().unwrap();
    let (robin_device, code) = practice.enrolment_code(&robin);
    let (token, peer_id) = raw::enrol(&server.url, &code).await;
    let mut peer = raw::RawPeer::connect(&server.url, &token, &peer_id).await;
    let mut referring = theirs_doc
        .fork()
        .with_actor(fieldvisit_shared::provenance::device_actor(&robin_device));
    VisitEdit::AddPhoto(PhotoRef {
        sha256: sha.clone(),
        size: jpeg.len() as u64,
        width: 1,
        height: 1,
        caption: Default::default(),
        captured_at: "2026-11-27T10:00:00.000Z".into(),
        removed_by: String::new(),
        removed_at: String::new(),
    })
    .apply(&mut referring)
    .unwrap();
    peer.send_sync(&theirs, &raw::sync_data_with_changes(&mut referring))
        .await;
    assert_eq!(
        peer.refusal_for(&theirs).await.as_deref(),
        Some("photo_not_yours")
    );
    let (status, hidden) = code_of(robin_http.get(&format!("/api/blobs/{sha}")).await).await;
    assert_eq!((status, hidden.as_str()), (404, unknown.as_str()));
    let (status, _) = code_of(robin_http.upload(&sha, &jpeg, chunk).await).await;
    assert_eq!(status, 404);
    robins.close().await;

    // Bad uploads: each refused with its reason, nothing kept.
    let clean = photo::process(&fixture("small-upright.png")).unwrap().jpeg;
    let cases: Vec<BadUpload> = vec![
        (
            "another picture under this one's hash",
            clean.clone(),
            Some(jpeg.clone()),
            400,
            "wrong_hash",
        ),
        (
            "not a picture",
            fixture("not-an-image.jpg"),
            None,
            422,
            "not_an_image",
        ),
        (
            "a decompression bomb",
            fixture("bomb-50000x50000.png"),
            None,
            422,
            "not_jpeg",
        ),
        (
            "a camera's JPEG with its GPS position",
            fixture("small-upright-gps.jpg"),
            None,
            422,
            "has_metadata",
        ),
        (
            "a cut-off JPEG",
            clean[..clean.len() / 2].to_vec(),
            None,
            422,
            "truncated",
        ),
    ];
    for (what, named, sent, status, expected) in cases {
        let sha = refer(&phone, &visit, &named).await;
        let sent = sent.unwrap_or(named);
        let answer = code_of(known(|| wren_http.upload(&sha, &sent, chunk)).await).await;
        assert_eq!(answer, (status, expected.to_owned()), "{what}");
        let (status, _) = code_of(wren_http.get(&format!("/api/blobs/{sha}")).await).await;
        assert_eq!(status, 404, "{what}: nothing stored");
    }
    // Too large to be a photo at all, before a byte is taken.
    let resp = wren_http
        .put(&sha, photo::MAX_STORED_BYTES + 1, 0, b"x")
        .await;
    assert_eq!(code_of(resp).await, (413, "too_large".to_owned()));

    // A photo of another case cannot be uploaded by someone not on it.
    let robin_phone = practice.online_device(&server, &robin, "robin").await;
    let robin_visit = robin_phone
        .create_visit(&other_case, PlaceKind::Home)
        .await
        .unwrap();
    let other = photo::process(&fixture("small-upright-gps.jpg"))
        .unwrap()
        .jpeg;
    assert_ne!(other, clean);
    let theirs = refer(&robin_phone, &robin_visit, &other).await;
    let (status, _) = code_of(wren_http.upload(&theirs, &other, chunk).await).await;
    assert_eq!(status, 404);

    // No half-written upload is left, and each upload is audited.
    let partial = practice.data().join("blobs/partial");
    let left: Vec<_> = std::fs::read_dir(&partial).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(practice.audit("blob_stored").len(), 1);
    assert!(practice.audit("blob_refused").len() >= 5);

    // Uploads left half-way hold disk: a device has a few under way at most.
    let mut answers = Vec::new();
    for n in 0..9u8 {
        let made_up = vec![n; 200];
        let sha = refer(&phone, &visit, &made_up).await;
        let resp = known(|| wren_http.put(&sha, made_up.len(), 0, &made_up[..100])).await;
        answers.push(resp.status().as_u16());
        if resp.status() != 200 {
            assert_eq!(code_of(resp).await, (429, "too_many".to_owned()));
        }
    }
    assert_eq!(answers, [200, 200, 200, 200, 200, 200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_taken_offline_follows_the_words_and_reaches_a_colleague() {
    let practice = Practice::new();
    let wren = practice.person("Wren Worker", "worker", None);
    let ash = practice.person("Ash Worker", "worker", None);
    practice.assign(&wren);
    practice.assign(&ash);
    let server = Server::start(&practice.data());
    let phone = practice.online_device(&server, &wren, "phone").await;
    phone.go_offline();

    // In someone's home with no signal: a photo, then more words.
    let visit = practice.visit(&phone).await;
    let original = fixture("phone-12mp-orientation6-gps.jpg");
    let added = phone
        .add_photo(&visit, &original, "Her garden, from the kitchen")
        .await
        .unwrap();
    assert_eq!((added.width, added.height), (1512, 2016), "upright");
    phone
        .set_text(
            &visit,
            fieldvisit_shared::records::TextField::Observations,
            "She showed me the garden she planted.",
        )
        .await
        .unwrap();
    // A drawing the person made, with the observation of it.
    let drawing = phone
        .add_creative(&visit, fieldvisit_shared::records::CreativeMethod::Art)
        .await
        .unwrap();
    let of_drawing = phone
        .add_creative_photo(&visit, &drawing, &fixture("small-upright.webp"))
        .await
        .unwrap();
    let v = phone.read::<VisitDoc>(&visit).await.unwrap();
    assert_eq!(v.creative[&drawing].photos, vec![of_drawing.sha256.clone()]);
    let states = phone.photo_states().unwrap();
    assert_eq!(states.len(), 2);
    assert!(
        states
            .iter()
            .all(|(_, s)| *s == fieldvisit_mobile::core::PhotoState::Waiting)
    );
    // Stored as processed: never the original.
    let kept = phone.photo(&visit, &added.sha256, None).await.unwrap();
    assert_eq!(photo::sha256_hex(&kept), added.sha256);
    assert_eq!(photo::metadata_in(&kept).unwrap(), None);

    // Back in signal: the words go first.
    phone.go_online().unwrap();
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    let colleague = practice.online_device(&server, &ash, "colleague").await;
    fieldvisit_e2e::eventually("the words on the colleague's phone", || async {
        colleague.read::<VisitDoc>(&visit).await.is_ok_and(|v| {
            v.observations.as_str().contains("garden she planted")
                && v.photos
                    .get(&added.sha256)
                    .is_some_and(|p| p.caption.as_str() == "Her garden, from the kitchen")
        })
    })
    .await;
    assert!(
        colleague
            .photo(&visit, &added.sha256, Some(160))
            .await
            .is_err(),
        "the photo is not on the server before it is sent"
    );

    // Then the photo, in chunks, until the server has it all.
    let mut sent = 0;
    for _ in 0..200 {
        sent += phone.send_photos().await.unwrap();
        if sent == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(sent, 2);
    assert!(
        phone
            .photo_states()
            .unwrap()
            .iter()
            .all(|(_, s)| *s == fieldvisit_mobile::core::PhotoState::Uploaded)
    );
    let thumb = colleague
        .photo(&visit, &added.sha256, Some(160))
        .await
        .unwrap();
    assert_eq!(photo::check_stored(&thumb).unwrap(), (160, 213));
    let whole = colleague.photo(&visit, &added.sha256, None).await.unwrap();
    assert_eq!(whole, kept);

    // The same picture picked again is the same photo, not a second one
    // (nor a change the server would refuse).
    let photos = phone.read::<VisitDoc>(&visit).await.unwrap().photos.len();
    let again = phone.add_photo(&visit, &original, "").await.unwrap();
    assert_eq!(
        (&again.sha256, &again.captured_at),
        (&added.sha256, &added.captured_at)
    );
    assert_eq!(
        phone.read::<VisitDoc>(&visit).await.unwrap().photos.len(),
        photos
    );

    // Removing it is recorded and attributed, not silent.
    phone.remove_photo(&visit, &added.sha256).await.unwrap();
    phone.wait_until_synced(SYNC_TIMEOUT).await.unwrap();
    fieldvisit_e2e::eventually("the removal on the colleague's phone", || async {
        colleague.read::<VisitDoc>(&visit).await.is_ok_and(|v| {
            v.photos
                .get(&added.sha256)
                .is_some_and(|p| p.removed_by == wren && !p.removed_at.is_empty())
        })
    })
    .await;
    // And it stays removed: picked again, the app says so.
    let refused = phone.add_photo(&visit, &original, "").await.unwrap_err();
    assert!(refused.to_string().contains("removed"), "{refused}");
    assert_eq!(
        phone.read::<VisitDoc>(&visit).await.unwrap().photos.len(),
        photos
    );
}
