//! Photos of a visit on the device: processed before anything is stored
//! (`fieldvisit_shared::photo`: upright, at most 2048 px, no metadata; the
//! original is dropped), kept in the local store by their SHA-256, referred
//! to from the visit, and sent to the server after the visit's words.

use std::sync::atomic::Ordering;

use fieldvisit_shared::api::ErrorCode;
use fieldvisit_shared::records::{PhotoRef, VisitEdit, VisitText};
use fieldvisit_shared::uploads::{self, Answer, Then, Upload};

use crate::core::device::{DeviceCore, now};
use crate::core::{CoreError, platform};
use fieldvisit_shared::records::VisitDoc;

/// Where a photo made here stands, for the app to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoState {
    /// Kept on this device; sent once the visit's words are on the server.
    Waiting,
    Uploading {
        percent: u8,
    },
    Uploaded,
    Refused(String),
}

impl DeviceCore {
    /// Adds a photo to a visit from what the camera or gallery gave.
    pub async fn add_photo(
        &self,
        visit_id: &str,
        original: &[u8],
        caption: &str,
    ) -> Result<PhotoRef, CoreError> {
        let processed = platform::process_photo(original).await?;
        // The same picture picked twice is the one photo (for a creative
        // observation, the photo the visit already has).
        let visit = self.read::<VisitDoc>(visit_id).await?;
        if let Some(photo) = visit.photos.get(&processed.sha256)
            && photo.removed_by.is_empty()
        {
            return Ok(photo.clone());
        }
        let photo = PhotoRef {
            sha256: processed.sha256.clone(),
            size: processed.jpeg.len() as u64,
            width: processed.width,
            height: processed.height,
            caption: Default::default(),
            captured_at: now(),
            removed_by: String::new(),
            removed_at: String::new(),
        };
        // Refused (a removed photo, a signed-off visit) before its bytes
        // are kept: nothing is left waiting to upload that no record needs.
        let add = VisitEdit::AddPhoto(photo.clone());
        add.allowed(&visit, &self.writer())?;
        self.local
            .put_blob(&processed.sha256, visit_id, &processed.jpeg, true)?;
        self.edit(visit_id, add).await?;
        if !caption.is_empty() {
            let text = VisitText::PhotoCaption {
                sha256: processed.sha256,
            };
            self.set_text(visit_id, text, caption).await?;
        }
        // Kept like typing: a reload or a killed browser from here on
        // loses nothing.
        platform::store_durable().await;
        Ok(photo)
    }

    /// Takes a photo out of a visit (the record keeps that it was there,
    /// who removed it and when).
    pub async fn remove_photo(&self, visit_id: &str, sha256: &str) -> Result<(), CoreError> {
        let edit = VisitEdit::RemovePhoto {
            sha256: sha256.to_owned(),
            by: self.person().id.clone(),
            at: now(),
        };
        self.edit(visit_id, edit).await?;
        platform::store_durable().await;
        Ok(())
    }

    /// A photo's bytes: from this device, or fetched from the server (and
    /// kept) for a colleague's; `width` asks the server for a thumbnail.
    pub async fn photo(
        &self,
        visit_id: &str,
        sha256: &str,
        width: Option<u32>,
    ) -> Result<Vec<u8>, CoreError> {
        if let Some(bytes) = self.local.blob(sha256)? {
            return Ok(bytes);
        }
        let bytes = self.api.blob(sha256, width).await?;
        if width.is_none() {
            self.local.put_blob(sha256, visit_id, &bytes, false)?;
        }
        Ok(bytes)
    }

    /// Photos made here that the server does not have yet (and did not
    /// refuse).
    pub(crate) fn photos_unsent(&self) -> Result<usize, CoreError> {
        Ok(self
            .local
            .blob_progress()?
            .iter()
            .filter(|p| !p.sent && p.error.is_none())
            .count())
    }

    /// Where each photo made on this device stands, by SHA-256.
    pub fn photo_states(&self) -> Result<Vec<(String, PhotoState)>, CoreError> {
        Ok(self
            .local
            .blob_progress()?
            .into_iter()
            .map(|p| {
                let state = match (&p.error, p.sent, p.received) {
                    (Some(why), _, _) => PhotoState::Refused(why.clone()),
                    (None, true, _) => PhotoState::Uploaded,
                    (None, false, 0) => PhotoState::Waiting,
                    (None, false, got) => PhotoState::Uploading {
                        percent: u8::try_from(got * 100 / p.size.max(1))
                            .unwrap_or(99)
                            .min(99),
                    },
                };
                (p.sha256, state)
            })
            .collect())
    }

    /// Sends what photos it can now, after the words: returns how many
    /// reached the server. Stops at once when words are waiting or the
    /// server cannot be reached; one run at a time.
    pub async fn send_photos(&self) -> Result<usize, CoreError> {
        if self.sending_photos.swap(true, Ordering::SeqCst) {
            return Ok(0);
        }
        let result = self.send_photos_now().await;
        self.sending_photos.store(false, Ordering::SeqCst);
        result
    }

    async fn send_photos_now(&self) -> Result<usize, CoreError> {
        let mut sent = 0;
        let waiting = self.local.blob_progress()?.into_iter();
        for p in waiting.filter(|p| !p.sent && p.error.is_none()) {
            let Some(bytes) = self.local.blob(&p.sha256)? else {
                continue;
            };
            let mut up = Upload {
                total: bytes.len() as u64,
                received: p.received,
            };
            loop {
                let status = self.sync_status().await?;
                if !uploads::may_send(
                    status.connected,
                    status.pending_changes,
                    status.registrations_waiting,
                ) {
                    return Ok(sent);
                }
                let answer = match up.next() {
                    None => Answer::Took {
                        received: up.total,
                        complete: false,
                    },
                    Some((from, to)) => {
                        let chunk = &bytes[from as usize..to as usize];
                        let total = bytes.len();
                        match self
                            .api
                            .put_blob(&p.sha256, total, from as usize, chunk)
                            .await
                        {
                            Ok(b) => Answer::Took {
                                received: b.received,
                                complete: b.complete,
                            },
                            Err(CoreError::Server(body))
                                if body.code() == Some(ErrorCode::NotFound) =>
                            {
                                Answer::NotKnownYet
                            }
                            Err(CoreError::Server(body)) if refusal(&body.error) => {
                                Answer::Refused(body.message)
                            }
                            Err(_) => Answer::NoAnswer,
                        }
                    }
                };
                match up.after(answer) {
                    Then::Continue(next) => {
                        self.local.blob_received(&p.sha256, next.received, false)?;
                        up = next;
                    }
                    Then::Done => {
                        self.local.blob_received(&p.sha256, up.total, true)?;
                        sent += 1;
                        break;
                    }
                    Then::Later => break,
                    Then::Refused(reason) => {
                        self.local.blob_refused(&p.sha256, &reason)?;
                        break;
                    }
                    Then::Stop => return Ok(sent),
                }
            }
        }
        Ok(sent)
    }
}

/// What the server says no to for good (anything else is "not now").
fn refusal(code: &str) -> bool {
    matches!(
        code,
        "wrong_hash"
            | "not_an_image"
            | "not_jpeg"
            | "has_metadata"
            | "truncated"
            | "corrupt_image"
            | "not_scaled_down"
            | "too_large"
            | "too_many_pixels"
            | "bad_upload"
            | "invalid_input"
    )
}

impl DeviceCore {
    /// Adds a photo and shows it with a creative-method observation.
    pub async fn add_creative_photo(
        &self,
        visit_id: &str,
        observation_id: &str,
        original: &[u8],
    ) -> Result<PhotoRef, CoreError> {
        let photo = self.add_photo(visit_id, original, "").await?;
        let edit = VisitEdit::ShowInCreative {
            id: observation_id.to_owned(),
            sha256: photo.sha256.clone(),
        };
        self.edit(visit_id, edit).await?;
        platform::store_durable().await;
        Ok(photo)
    }
}
