//! Photos over HTTP. `PUT /api/blobs/{sha256}` uploads one in chunks that
//! resume where they stopped (headers `Upload-Length` and `Upload-Offset`;
//! a chunk elsewhere gets 409 `upload_offset` with the header saying where
//! to go on). Uploading is for a blob that a record the device's person may
//! see refers to, so a phone sends a visit's words first and its photos
//! after. When the last byte arrives the server checks the hash and that
//! the bytes are a stored photo (`photo::check_stored`: a JPEG, scaled
//! down, no metadata), and only then keeps it. `GET /api/blobs/{sha256}`
//! (`?width=160|320|640` for a thumbnail) serves it to a device whose
//! person may see a record that refers to it; to anyone else it reads
//! exactly like a blob that does not exist.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use fieldvisit_shared::api::BlobUpload;
use fieldvisit_shared::api::ErrorCode;
use fieldvisit_shared::photo::{self, PhotoError};
use fieldvisit_shared::validate;
use std::collections::HashMap;

use super::{ApiQuery, AppState, AuthDevice};
use crate::db::BlobRow;
use crate::error::{Error, Result};

/// The largest chunk taken at once.
pub const MAX_CHUNK: usize = 512 * 1024;
/// Uploads one device may have under way at once.
const MAX_UNDER_WAY: u64 = 8;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/blobs/{sha256}", get(fetch).put(upload))
}

/// The one answer for a blob a device may not have: the same as for one
/// that does not exist.
fn missing(sha256: &str) -> Error {
    Error::NotFound(format!("photo {sha256}"))
}

fn number(headers: &HeaderMap, name: &str) -> Result<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            Error::BadRequest(
                ErrorCode::BadUpload,
                format!("an upload says its whole size in Upload-Length and where this chunk starts in Upload-Offset (missing or not a number: {name})"),
            )
        })
}

async fn upload(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    chunk: Bytes,
) -> Result<(StatusCode, Json<BlobUpload>)> {
    validate::sha256_hex("sha256", &sha256)?;
    let total = number(&headers, "upload-length")?;
    let offset = number(&headers, "upload-offset")?;
    let max = photo::MAX_STORED_BYTES as u64;
    if total == 0 || total > max {
        return Err(PhotoError::TooManyBytes {
            size: usize::try_from(total).unwrap_or(usize::MAX),
            max: photo::MAX_STORED_BYTES,
        }
        .into());
    }
    if chunk.len() > MAX_CHUNK || offset + chunk.len() as u64 > total {
        return Err(Error::BadRequest(
            ErrorCode::BadUpload,
            format!("a chunk is at most {MAX_CHUNK} bytes and ends within Upload-Length"),
        ));
    }
    let (db, blobs) = (state.db.clone(), state.blobs.clone());
    // Who may not have it learns nothing, not even that it exists.
    let (person, s) = (device.person.id.clone(), sha256.clone());
    if !db
        .run(move |db| db.blob_referenced_for(&person, &s))
        .await?
    {
        return Err(missing(&sha256));
    }
    let s = sha256.clone();
    if let Some(stored) = db.run(move |db| db.blob(&s)).await? {
        // Idempotent: it is here already, whoever sent it.
        return Ok((
            StatusCode::OK,
            Json(BlobUpload {
                received: stored.size,
                complete: true,
            }),
        ));
    }
    // A device sends its photos one after another: a few under way at
    // once is plenty, and each holds up to a few MB of disk until done.
    let (s, d) = (sha256.clone(), device.id.clone());
    if db.run(move |db| db.uploads_under_way(&d, &s)).await? >= MAX_UNDER_WAY {
        return Err(Error::TooMany(
            "photo uploads under way from this device; finish one first",
        ));
    }
    let (s, d) = (sha256.clone(), device.id.clone());
    let received = match db.run(move |db| db.upload(&s, &d)).await? {
        Some((received, size)) if size == total => received,
        // Another length: a different upload; it starts again.
        _ => 0,
    };
    if offset != received {
        return Err(Error::UploadOffset { received });
    }
    let len = chunk.len() as u64;
    let (s, d) = (sha256.clone(), device.id.clone());
    let store = blobs.clone();
    blocking(move || store.write_chunk(&s, &d, offset, &chunk)).await?;
    let received = offset + len;
    if received < total {
        let (s, d) = (sha256.clone(), device.id.clone());
        db.run(move |db| db.set_upload(&s, &d, total, received))
            .await?;
        return Ok((
            StatusCode::OK,
            Json(BlobUpload {
                received,
                complete: false,
            }),
        ));
    }
    // The last byte: check everything before keeping anything.
    let (s, d) = (sha256.clone(), device.id.clone());
    let store = blobs.clone();
    let checked = blocking(move || {
        let bytes = store.uploaded(&s, &d)?;
        if photo::sha256_hex(&bytes) != s {
            return Err(Error::BadRequest(
                ErrorCode::WrongHash,
                "the bytes sent do not have the SHA-256 they were sent under".into(),
            ));
        }
        let (width, height) = photo::check_stored(&bytes)?;
        Ok(BlobRow {
            sha256: s,
            size: bytes.len() as u64,
            width,
            height,
        })
    })
    .await;
    let blob = match checked {
        Ok(blob) => blob,
        Err(refused) => {
            blobs.discard(&sha256, &device.id);
            let (s, d, p) = (sha256.clone(), device.id.clone(), device.person.id.clone());
            let detail = format!("{sha256}: {}: {refused}", refused.code());
            db.run(move |db| {
                db.drop_upload(&s, &d)?;
                db.audit(&crate::db::Audit {
                    device_id: Some(&d),
                    person_id: Some(&p),
                    action: "blob_refused",
                    detail: &detail,
                    ..Default::default()
                })
            })
            .await?;
            return Err(refused);
        }
    };
    let (s, d) = (sha256.clone(), device.id.clone());
    let store = blobs.clone();
    blocking(move || store.keep(&s, &d)).await?;
    let (d, p) = (device.id.clone(), device.person.id.clone());
    db.run(move |db| db.blob_stored(&blob, &d, &p)).await?;
    Ok((
        StatusCode::CREATED,
        Json(BlobUpload {
            received: total,
            complete: true,
        }),
    ))
}

/// File work off the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

async fn fetch(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    Path(sha256): Path<String>,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Response> {
    if validate::sha256_hex("sha256", &sha256).is_err() {
        return Err(missing(&sha256));
    }
    let width = match params.get("width") {
        None => None,
        Some(w) => match w.parse::<u32>() {
            Ok(w) if photo::THUMBNAIL_WIDTHS.contains(&w) => Some(w),
            _ => {
                return Err(Error::BadRequest(
                    ErrorCode::BadWidth,
                    format!(
                        "thumbnails come {} pixels wide",
                        photo::THUMBNAIL_WIDTHS
                            .iter()
                            .map(u32::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        },
    };
    let db = state.db.clone();
    let (s, person, d) = (sha256.clone(), device.person.id.clone(), device.id.clone());
    let permitted = db
        .run(move |db| {
            // Every question asked every time: a stored photo must not cost
            // more to refuse than one that does not exist.
            let stored = db.blob(&s)?.is_some();
            let referenced = db.blob_referenced_for(&person, &s)?;
            let uploaded = db.blob_uploaded_by(&d, &s)?;
            Ok(stored && (referenced || uploaded))
        })
        .await?;
    if !permitted {
        return Err(missing(&sha256));
    }
    let (store, s) = (state.blobs.clone(), sha256.clone());
    let bytes = blocking(move || match width {
        None => store.read(&s),
        Some(w) => store.thumbnail(&s, w),
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
            // A photo of someone's home: never into the browser's HTTP
            // cache, which a lost phone's thief could read.
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::ETAG, format!("\"{sha256}\"")),
        ],
        bytes,
    )
        .into_response())
}
