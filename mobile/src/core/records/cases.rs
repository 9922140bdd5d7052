//! The cases this device may see, and their case documents.

use std::time::Duration;

use fieldvisit_shared::api::CaseSummary;
use fieldvisit_shared::outbox::Event;
use fieldvisit_shared::records::{self, CaseDoc, Record};

use crate::core::CoreError;
use crate::core::device::DeviceCore;

impl DeviceCore {
    /// Fetches the list of cases this device may see (needs a connection),
    /// then loads each case and its visits so they are there offline.
    pub async fn refresh_cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.outbox.feed(Event::Online).await?;
        let cases = self.api.cases().await?;
        // Names are a nicety: a server without them still gives the cases.
        match self.api.people().await {
            Ok(people) => self.local.replace_people(&people)?,
            Err(e) => tracing::warn!(error = %e, "names of colleagues not refreshed"),
        }
        self.wait_for_connection(Duration::from_secs(10)).await;
        self.local.replace_cases(&cases)?;
        if let Err(e) = self.refresh_practice().await {
            tracing::warn!(error = %e, "the practice's safeguarding number not refreshed");
        }
        for case in &cases {
            let c = self.case(&case.case_id).await?;
            let visits = c.visits.keys().map(|id| (id, "visit"));
            let others = c.records.iter().map(|(id, r)| (id, r.kind.as_str()));
            for (id, kind) in visits.chain(others) {
                self.local.add_document(id, &case.case_id, kind)?;
                if let Err(e) = self.handle(id).await {
                    tracing::warn!(record = %id, error = %e, "record not available yet");
                }
            }
        }
        Ok(cases)
    }

    /// The cases this device knows, as of the last refresh.
    pub fn cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.local.cases()
    }

    pub(crate) fn case_summary(&self, case_id: &str) -> Result<CaseSummary, CoreError> {
        self.local
            .cases()?
            .into_iter()
            .find(|c| c.case_id == case_id)
            .ok_or_else(|| CoreError::UnknownCase(case_id.to_owned()))
    }

    pub async fn case(&self, case_id: &str) -> Result<CaseDoc, CoreError> {
        let summary = self.case_summary(case_id)?;
        let handle = self.handle(&summary.document_id).await?;
        Ok(handle.with_document(|doc| records::read_case(doc))?)
    }

    /// The records of kind `R` of a case this device holds, drafts
    /// included, newest first by `made_at`; one not here yet (a
    /// colleague's, still syncing) is left out for now.
    pub(crate) async fn records_of<R: Record>(
        &self,
        case_id: &str,
        made_at: fn(&R) -> &str,
    ) -> Result<Vec<(String, R)>, CoreError> {
        let kind = R::KIND;
        let mut out = Vec::new();
        for id in self.local.records_of_case(case_id, kind.as_str())? {
            let read = match self.handle(&id).await {
                Ok(handle) => handle
                    .with_document(|doc| R::read(doc))
                    .map_err(CoreError::from),
                Err(e) => Err(e),
            };
            match read {
                Ok(record) => out.push((id, record)),
                Err(e) => tracing::debug!(record = %id, %kind, error = %e, "record not here yet"),
            }
        }
        out.sort_by(|a, b| made_at(&b.1).cmp(made_at(&a.1)));
        Ok(out)
    }

    /// Fires whenever the case document changes (a colleague's new visit).
    pub async fn case_changes(
        &self,
        case_id: &str,
    ) -> Result<futures::channel::mpsc::UnboundedReceiver<()>, CoreError> {
        let summary = self.case_summary(case_id)?;
        self.watch(&summary.document_id).await
    }
}
