//! Visits: made offline, written through typed edits under the record's
//! rules, and the draft journal that keeps typing through a reload.

use fieldvisit_shared::doc;
use fieldvisit_shared::outbox::{Event, Record};
use fieldvisit_shared::records::{
    CaseEdit, Communication, CreativeMethod, Edit, Kind, PlaceKind, VisitDoc, VisitEdit,
    VisitIndexEntry, VisitText,
};
use fieldvisit_shared::{provenance, validate};
use samod::DocumentId;

use crate::core::CoreError;
use crate::core::device::{DeviceCore, new_item_id, now};
use crate::core::platform;

impl DeviceCore {
    /// Creates a draft visit, offline: it is in the local store, listed in
    /// its case, and queued for registration before this returns.
    pub async fn create_visit(&self, case_id: &str, place: PlaceKind) -> Result<String, CoreError> {
        let summary = self.case_summary(case_id)?;
        let case_handle = self.handle(&summary.document_id).await?;
        let started_at = now();
        let visit = VisitDoc::new(case_id, &self.enrolment.person.id, &started_at, place);
        let record = self
            .make_record(Kind::Visit, case_id, &visit, false)
            .await?;
        let visit_id = record.document_id.clone();
        let edit = CaseEdit::IndexVisit {
            visit_document_id: visit_id.clone(),
            entry: VisitIndexEntry {
                started_at,
                author: self.enrolment.person.id.clone(),
                nonce: record.nonce.clone(),
            },
        };
        case_handle.with_document(|doc| {
            doc.set_actor(self.actor.clone());
            edit.apply(doc)
        })?;
        self.to_outbox(record);
        Ok(visit_id)
    }

    /// Makes a record of `kind` in the local store: its id comes from a
    /// fresh nonce and this device's creator key, so only this device can
    /// register it, and it is queued for registration (or `held`) before
    /// samod makes it, so samod's share policy never offers it to the
    /// server unregistered.
    pub(crate) async fn make_record(
        &self,
        kind: Kind,
        case_id: &str,
        content: &impl autosurgeon::Reconcile,
        held: bool,
    ) -> Result<Record, CoreError> {
        let nonce: [u8; provenance::NONCE_LEN] = rand::random();
        let key = provenance::creator_key(&self.enrolment.token);
        let id = DocumentId::try_from(provenance::document_id(&key, &nonce).to_vec())
            .map_err(|e| CoreError::Internal(format!("a document id from a nonce: {e:?}")))?;
        let record = Record {
            document_id: id.to_string(),
            kind,
            case_id: case_id.to_owned(),
            nonce: hex::encode(nonce),
        };
        let document_id = record.document_id.clone();
        self.local
            .add_record(&document_id, kind.as_str(), case_id, &record.nonce, held)?;
        let created = match self
            .repo
            .create_with_id(id, doc::new_document(content, self.actor.clone())?)
            .await
        {
            Ok(handle) => Ok(handle),
            Err(samod::CreateError::Stopped) => Err(CoreError::Stopped),
            Err(e @ samod::CreateError::Exists(_)) => Err(CoreError::Internal(e.to_string())),
        };
        let handle = match created {
            Ok(handle) => handle,
            Err(e) => {
                self.local.forget_record(&document_id)?;
                return Err(e);
            }
        };
        self.hear_refusals(&handle);
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(document_id, handle);
        Ok(record)
    }

    /// Queues a record for registration: now when online, else when the
    /// next connection opens.
    pub(crate) fn to_outbox(&self, record: Record) {
        let effects = self.outbox.take(Event::Made(record));
        let outbox = self.outbox.clone();
        platform::spawn(async move {
            if let Err(e) = outbox.run(effects).await {
                tracing::warn!(error = %e, "the outbox could not register a new record");
            }
        });
    }

    /// Sets a piece of text to what the person now sees in it; only the
    /// difference is recorded, so concurrent edits elsewhere survive.
    pub async fn set_text(
        &self,
        visit_id: &str,
        text: impl Into<VisitText>,
        value: &str,
    ) -> Result<(), CoreError> {
        let text = text.into();
        validate::text(text.name(), value)?;
        self.edit(
            visit_id,
            VisitEdit::SetText {
                text,
                value: value.to_owned(),
            },
        )
        .await
    }

    pub async fn set_communication(
        &self,
        visit_id: &str,
        modes: &[Communication],
    ) -> Result<(), CoreError> {
        self.edit(visit_id, VisitEdit::SetCommunication(modes.to_vec()))
            .await
    }

    /// Adds an empty action and returns its id.
    pub async fn add_action(&self, visit_id: &str) -> Result<String, CoreError> {
        let id = new_item_id();
        self.edit(visit_id, VisitEdit::AddAction { id: id.clone() })
            .await?;
        Ok(id)
    }

    pub async fn set_action_done(
        &self,
        visit_id: &str,
        action_id: &str,
        done: bool,
    ) -> Result<(), CoreError> {
        let id = action_id.to_owned();
        self.edit(visit_id, VisitEdit::SetActionDone { id, done })
            .await
    }

    /// Adds a creative-method observation and returns its id.
    pub async fn add_creative(
        &self,
        visit_id: &str,
        method: CreativeMethod,
    ) -> Result<String, CoreError> {
        let id = new_item_id();
        let edit = VisitEdit::AddCreative {
            id: id.clone(),
            method,
        };
        self.edit(visit_id, edit).await?;
        Ok(id)
    }

    pub async fn set_creative_method(
        &self,
        visit_id: &str,
        observation_id: &str,
        method: CreativeMethod,
    ) -> Result<(), CoreError> {
        let id = observation_id.to_owned();
        self.edit(visit_id, VisitEdit::SetCreativeMethod { id, method })
            .await
    }
}
