//! One way to read, watch and change a record of any kind. A change reads
//! the record as merged here, asks its rules (the ones the server judges
//! by) whether this device's person may make the edit, and writes it as
//! this device's actor, in one step under samod's lock on the document, so
//! nothing changes in between.

use automerge::Automerge;
use fieldvisit_shared::records::{Edit, Record, Writer};

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;

use crate::core::device::DeviceCore;
use crate::core::{CoreError, platform};

impl DeviceCore {
    /// The record `record_id` as merged here, as its kind `R`.
    pub async fn read<R: Record>(&self, record_id: &str) -> Result<R, CoreError> {
        let handle = self.handle(record_id).await?;
        Ok(handle.with_document(|doc| R::read(doc))?)
    }

    /// Fires whenever the document changes, here or by sync (a colleague's
    /// words arriving, a supervisor's acknowledgement), until the receiver
    /// is dropped (the screen has gone).
    pub async fn watch(&self, document_id: &str) -> Result<UnboundedReceiver<()>, CoreError> {
        let handle = self.handle(document_id).await?;
        let (tx, rx) = futures::channel::mpsc::unbounded();
        // samod's stream borrows its handle; this task owns both and stops
        // at the first change after the receiver has gone.
        platform::spawn(async move {
            let mut changes = std::pin::pin!(handle.changes());
            while changes.next().await.is_some() {
                if tx.unbounded_send(()).is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// This device's person, as the rules see a writer.
    pub(crate) fn writer(&self) -> Writer<'_> {
        let person = &self.enrolment.person;
        Writer {
            person_id: &person.id,
            role: &person.role,
        }
    }

    /// Makes one typed edit to the record `record_id` (its kind is the
    /// edit's), once its rules allow it.
    pub async fn edit<E: Edit>(&self, record_id: &str, edit: E) -> Result<(), CoreError> {
        self.edit_with(record_id, |_, _| Ok(edit)).await.map(|_| ())
    }

    /// Like [`Self::edit`], with the edit made from the record as it is
    /// read inside the write, so that what it is computed from cannot
    /// change before it is written. Returns the edit made.
    pub(crate) async fn edit_with<E: Edit>(
        &self,
        record_id: &str,
        make: impl FnOnce(&E::Of, &Automerge) -> Result<E, CoreError>,
    ) -> Result<E, CoreError> {
        let handle = self.handle(record_id).await?;
        let writer = self.writer();
        handle.with_document(|doc| {
            let record = E::Of::read(doc)?;
            let edit = make(&record, doc)?;
            edit.permitted(&record, doc, &writer)?;
            doc.set_actor(self.actor.clone());
            edit.apply(doc)?;
            Ok::<_, CoreError>(edit)
        })
    }
}
