//! Safeguarding concerns: written on the phone in a few taps (kept on the
//! phone, never shared, while a draft), raised (then registered and sent
//! before anything else waiting), delivered, and acknowledged by a
//! supervisor, which the worker's phone reads from the record itself.

use fieldvisit_shared::api::PracticeInfo;
use fieldvisit_shared::outbox::{Event, Record};
use fieldvisit_shared::records::concern::{ConcernDoc, ConcernEdit, ConcernText, Consent};
use fieldvisit_shared::records::{CaseEdit, Edit, Kind, RecordIndexEntry};

use crate::core::CoreError;
use crate::core::device::{DeviceCore, now};
use crate::core::platform;

/// Where a concern stands, as the worker's phone shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Still being written; only on this phone.
    Draft,
    /// Raised, not yet on the server.
    Waiting { raised_at: String },
    /// On the server since `at` (this phone's clock when it saw so).
    Delivered { raised_at: String, at: String },
    /// Raised on another device; this phone has it from the server.
    OnServer { raised_at: String },
}

/// Minutes after raising, with no delivery, when the phone says to phone
/// the concern in.
pub const PHONE_IT_IN_AFTER_MINUTES: i64 = 15;

impl Delivery {
    /// Whether the worker must phone it in now: raised at least
    /// [`PHONE_IT_IN_AFTER_MINUTES`] ago and still not on the server.
    pub fn overdue(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        match self {
            Delivery::Waiting { raised_at } => chrono::DateTime::parse_from_rfc3339(raised_at)
                .map(|raised| {
                    now.signed_duration_since(raised)
                        >= chrono::Duration::minutes(PHONE_IT_IN_AFTER_MINUTES)
                })
                .unwrap_or(true),
            _ => false,
        }
    }
}

fn delivered_key(document_id: &str) -> String {
    format!("delivered:{document_id}")
}

/// Marks a concern raised on this phone: until it is delivered, the outbox
/// holds everything else back, also after a restart.
pub(crate) const RAISED_HERE: &str = "raised_here:";

impl DeviceCore {
    /// Starts a concern from a visit (or from the case, with no visit):
    /// a draft on this phone only.
    pub async fn start_concern(&self, case_id: &str, visit_id: &str) -> Result<String, CoreError> {
        self.case_summary(case_id)?;
        let concern = ConcernDoc::new(case_id, visit_id, &self.enrolment.person.id, &now());
        let record = self
            .make_record(Kind::Concern, case_id, &concern, true)
            .await?;
        platform::store_durable().await;
        Ok(record.document_id)
    }

    /// The concerns of a case this phone knows, drafts included, newest
    /// first.
    pub async fn concerns_of_case(
        &self,
        case_id: &str,
    ) -> Result<Vec<(String, ConcernDoc)>, CoreError> {
        self.records_of(case_id, |c: &ConcernDoc| &c.created_at)
            .await
    }

    pub(crate) async fn set_concern_text(
        &self,
        concern_id: &str,
        text: ConcernText,
        value: &str,
    ) -> Result<(), CoreError> {
        self.edit(
            concern_id,
            ConcernEdit::SetText {
                text,
                value: value.to_owned(),
            },
        )
        .await
    }

    pub async fn set_concern_consent(
        &self,
        concern_id: &str,
        consent: Consent,
    ) -> Result<(), CoreError> {
        self.edit(concern_id, ConcernEdit::SetConsent(consent))
            .await?;
        platform::store_durable().await;
        Ok(())
    }

    /// Raises a concern: from now on what it says stands; it is listed in
    /// its case and sent before anything else this phone has waiting.
    ///
    /// Safe to call again: a concern raised but not yet let go (the app
    /// stopped in between) is let go, which start-up does for every such.
    pub async fn raise_concern(&self, concern_id: &str) -> Result<(), CoreError> {
        self.settle_drafts_of(concern_id).await;
        let concern = self.read::<ConcernDoc>(concern_id).await?;
        let raised_at = if concern.raised() {
            concern.raised_at
        } else {
            let at = now();
            self.edit(concern_id, ConcernEdit::Raise { at: at.clone() })
                .await?;
            at
        };
        if self.local.meta(&delivered_key(concern_id))?.is_none() {
            self.local
                .set_meta(&format!("{RAISED_HERE}{concern_id}"), &raised_at)?;
        }
        let Some(pending) = self.local.release_held(concern_id)? else {
            // Raised before (a second tap): already on its way.
            return Ok(());
        };
        let summary = self.case_summary(&pending.case_id)?;
        let case_handle = self.handle(&summary.document_id).await?;
        let edit = CaseEdit::IndexRecord {
            document_id: concern_id.to_owned(),
            entry: RecordIndexEntry {
                kind: Kind::Concern.as_str().to_owned(),
                created_at: self.read::<ConcernDoc>(concern_id).await?.created_at,
                author: self.enrolment.person.id.clone(),
                nonce: pending.nonce.clone(),
            },
        };
        case_handle.with_document(|doc| {
            doc.set_actor(self.actor.clone());
            edit.apply(doc)
        })?;
        platform::store_durable().await;
        self.to_outbox(Record {
            document_id: pending.document_id,
            kind: Kind::Concern,
            case_id: pending.case_id,
            nonce: pending.nonce,
        });
        Ok(())
    }

    /// Lets go every concern raised but still held (the app stopped
    /// between raising it and queueing it).
    pub(crate) async fn resume_raised_concerns(&self) {
        let held = match self.local.held_records() {
            Ok(held) => held,
            Err(e) => {
                tracing::error!(error = %e, "held records not read");
                return;
            }
        };
        for id in held {
            if self.read::<ConcernDoc>(&id).await.is_ok_and(|c| c.raised())
                && let Err(e) = self.raise_concern(&id).await
            {
                tracing::error!(concern = %id, error = %e, "a raised concern could not be queued");
            }
        }
    }

    /// A supervisor acknowledges a concern, in its document.
    pub async fn acknowledge_concern(&self, concern_id: &str) -> Result<(), CoreError> {
        self.edit(
            concern_id,
            ConcernEdit::Acknowledge {
                by: self.enrolment.person.id.clone(),
                at: now(),
            },
        )
        .await
    }

    /// Where a concern stands on its way to the server.
    pub async fn concern_delivery(&self, concern_id: &str) -> Result<Delivery, CoreError> {
        let concern = self.read::<ConcernDoc>(concern_id).await?;
        if !concern.raised() {
            return Ok(Delivery::Draft);
        }
        let raised_here = format!("{RAISED_HERE}{concern_id}");
        Ok(match self.local.meta(&delivered_key(concern_id))? {
            Some(at) => Delivery::Delivered {
                raised_at: concern.raised_at,
                at,
            },
            None if self.local.meta(&raised_here)?.is_some() => Delivery::Waiting {
                raised_at: concern.raised_at,
            },
            None => Delivery::OnServer {
                raised_at: concern.raised_at,
            },
        })
    }

    /// Concerns raised on this phone that should have reached the server
    /// by `now` and have not: (case id, concern id), for a warning shown
    /// on every screen.
    pub async fn overdue_concerns(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(String, String)>, CoreError> {
        // Only what this phone raised can be undelivered: a concern from
        // the server (a colleague's, or this worker's from another device)
        // is there already.
        let mut overdue = Vec::new();
        for id in self.local.meta_keys(RAISED_HERE)? {
            if self.concern_delivery(&id).await?.overdue(now) {
                let case_id = self.read::<ConcernDoc>(&id).await?.case_id;
                overdue.push((case_id, id));
            }
        }
        Ok(overdue)
    }

    /// Called as the sync status is counted, for a concern on its way: on
    /// the server (`synced`), it is delivered; overdue, the rest of the
    /// outbox stops waiting behind it, and its delivery is still noted
    /// when it comes.
    pub(crate) async fn urgent_progress(
        &self,
        concern_id: &str,
        synced: bool,
    ) -> Result<(), CoreError> {
        if synced {
            return self.concern_synced(concern_id).await;
        }
        if !self.outbox.gave_way(concern_id)
            && self
                .concern_delivery(concern_id)
                .await?
                .overdue(chrono::Utc::now())
        {
            self.outbox
                .feed(Event::GiveWay {
                    document_id: concern_id.to_owned(),
                })
                .await?;
        }
        Ok(())
    }

    /// A raised concern whose changes the server holds is delivered (noted
    /// once, with the time), and the outbox lets everything else go.
    async fn concern_synced(&self, concern_id: &str) -> Result<(), CoreError> {
        let key = delivered_key(concern_id);
        if self.local.meta(&key)?.is_some() || !self.read::<ConcernDoc>(concern_id).await?.raised()
        {
            return Ok(());
        }
        self.local.set_meta(&key, &now())?;
        self.local
            .delete_meta(&format!("{RAISED_HERE}{concern_id}"))?;
        self.outbox
            .feed(Event::Delivered {
                document_id: concern_id.to_owned(),
            })
            .await
    }

    /// The number to phone a concern in to, as last fetched.
    pub fn safeguarding_phone(&self) -> Result<Option<String>, CoreError> {
        self.local.meta("safeguarding_phone")
    }

    /// Fetches what the phone keeps about its practice (needs a connection).
    pub(crate) async fn refresh_practice(&self) -> Result<(), CoreError> {
        let PracticeInfo { safeguarding_phone } = self.api.practice().await?;
        match safeguarding_phone {
            Some(phone) => self.local.set_meta("safeguarding_phone", &phone),
            None => Ok(()),
        }
    }
}
