//! Text people type, in any record: one name for it ([`TextOf`]), one way
//! to save it durably, and one draft journal for all of it, so a text box
//! behaves the same in a visit, a safeguarding concern or an assessment.

use fieldvisit_shared::records::VisitText;
use fieldvisit_shared::records::capacity::CapacityText;
use fieldvisit_shared::records::concern::ConcernText;

use crate::core::CoreError;
use crate::core::device::DeviceCore;
use crate::core::platform;

/// A piece of text in a record on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextOf {
    Visit {
        visit_id: String,
        text: VisitText,
    },
    Concern {
        concern_id: String,
        text: ConcernText,
    },
    Capacity {
        assessment_id: String,
        text: CapacityText,
    },
}

impl TextOf {
    /// Its name in the draft journal (see [`platform::journal`]): the
    /// record's id, then the text's key within it.
    pub fn journal_key(&self) -> String {
        match self {
            TextOf::Visit { visit_id, text } => format!("{visit_id}/{}", text.key()),
            TextOf::Concern { concern_id, text } => {
                format!("{concern_id}/concern:{}", text.as_str())
            }
            TextOf::Capacity {
                assessment_id,
                text,
            } => format!("{assessment_id}/capacity:{}", text.key()),
        }
    }

    /// Read back from a journal key; `None` for a name this version does
    /// not know.
    pub fn from_journal_key(key: &str) -> Option<TextOf> {
        let (record, text) = key.split_once('/')?;
        if let Some(concern) = text.strip_prefix("concern:") {
            return Some(TextOf::Concern {
                concern_id: record.to_owned(),
                text: ConcernText::parse(concern)?,
            });
        }
        if let Some(capacity) = text.strip_prefix("capacity:") {
            return Some(TextOf::Capacity {
                assessment_id: record.to_owned(),
                text: CapacityText::from_key(capacity)?,
            });
        }
        Some(TextOf::Visit {
            visit_id: record.to_owned(),
            text: VisitText::from_key(text)?,
        })
    }
}

impl DeviceCore {
    /// Saves `value` as the text and resolves once it is durable in the
    /// store; then its draft in the journal, if still the latest, goes.
    pub async fn save(&self, target: &TextOf, value: &str) -> Result<(), CoreError> {
        match target {
            TextOf::Visit { visit_id, text } => {
                self.set_text(visit_id, text.clone(), value).await?
            }
            TextOf::Concern { concern_id, text } => {
                self.set_concern_text(concern_id, *text, value).await?
            }
            TextOf::Capacity {
                assessment_id,
                text,
            } => {
                self.set_assessment_text(assessment_id, *text, value)
                    .await?
            }
        }
        platform::store_durable().await;
        platform::journal::settle(&target.journal_key(), value);
        Ok(())
    }

    /// Writes into the store whatever a previous page typed but did not get
    /// to store durably (it was reloaded, closed or killed at once). A draft
    /// that cannot be written stays in the journal, never dropped.
    pub(crate) async fn replay_drafts(&self) {
        self.replay_drafts_of("").await;
    }

    /// The same, for one record's drafts (keys starting `{record}/`):
    /// raising a concern or completing an assessment first stores what was
    /// typed a moment before, so the last words are in what stands.
    pub(crate) async fn settle_drafts_of(&self, record_id: &str) {
        self.replay_drafts_of(&format!("{record_id}/")).await;
    }

    async fn replay_drafts_of(&self, prefix: &str) {
        for (key, value) in platform::journal::entries() {
            if !key.starts_with(prefix) {
                continue;
            }
            let Some(target) = TextOf::from_journal_key(&key) else {
                tracing::warn!(%key, "a draft under a name this version does not know");
                continue;
            };
            match self.save(&target, &value).await {
                Ok(()) => tracing::info!(%key, "typing from before the page went is saved"),
                Err(e) => tracing::error!(%key, error = %e, "a draft could not be saved; kept"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvisit_shared::records::TextField;
    use fieldvisit_shared::records::capacity::Part;

    #[test]
    fn journal_keys_read_back() {
        for target in [
            TextOf::Visit {
                visit_id: "2X8oE1a9".into(),
                text: VisitText::Field(TextField::Observations),
            },
            TextOf::Concern {
                concern_id: "3Yq".into(),
                text: ConcernText::WhoIsAtRisk,
            },
            TextOf::Capacity {
                assessment_id: "4Zr".into(),
                text: CapacityText::Decision,
            },
            TextOf::Capacity {
                assessment_id: "4Zr".into(),
                text: CapacityText::PartEvidence(Part::UseOrWeigh),
            },
        ] {
            assert_eq!(
                TextOf::from_journal_key(&target.journal_key()),
                Some(target)
            );
        }
        assert_eq!(TextOf::from_journal_key("no-slash"), None);
        assert_eq!(TextOf::from_journal_key("id/concern:nothing"), None);
        assert_eq!(TextOf::from_journal_key("id/capacity:part:nothing"), None);
    }
}
