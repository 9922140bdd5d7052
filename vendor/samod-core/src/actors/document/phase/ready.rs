use std::time::Duration;

use automerge::{Automerge, sync};

use crate::{
    UnixTimestamp,
    actors::{document::peer_doc_connection::PeerDocConnection, messages::SyncMessage},
};

#[derive(Debug)]
pub(crate) struct Ready;

impl Ready {
    pub(crate) fn new() -> Self {
        Self
    }

    /// Also answers whether the message wants an answer at once (patched
    /// in by Fieldvisit): a request, or one that brings changes (owed an
    /// acknowledgement) or asks for some. An answer to anything else (an
    /// acknowledgement of ours) can wait for the next batch to every peer.
    pub(crate) fn receive_sync_message(
        &mut self,
        now: UnixTimestamp,
        doc: &mut Automerge,
        conn: &mut PeerDocConnection,
        msg: SyncMessage,
        answer_now: &mut bool,
    ) -> Option<Duration> {
        *answer_now = true;
        let request = matches!(msg, SyncMessage::Request { .. });
        match msg {
            SyncMessage::Request { data } | SyncMessage::Sync { data } => {
                let msg = match sync::Message::decode(&data) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(err=?e, conn_id=?conn.connection_id, "failed to decode sync message");
                        return None;
                    }
                };
                *answer_now = request || !msg.changes.is_empty() || !msg.need.is_empty();
                match conn.receive_sync_message(now, doc, msg) {
                    Ok(duration) => Some(duration),
                    Err(e) => {
                        tracing::warn!(conn_id=?conn.connection_id, err=?e, "failed to process sync message");
                        None
                    }
                }
            }
            SyncMessage::DocUnavailable => {
                tracing::debug!("received doc-unavailable message whilst we have a doc");
                None
            }
        }
    }

    pub(crate) fn generate_sync_messages(
        &mut self,
        now: UnixTimestamp,
        doc: &mut Automerge,
        conn: &mut PeerDocConnection,
    ) -> Vec<(SyncMessage, Duration)> {
        if !conn.can_send() {
            return Vec::new();
        }
        conn.generate_sync_messages(now, doc)
            .into_iter()
            .map(|(msg, duration)| (SyncMessage::Sync { data: msg.encode() }, duration))
            .collect()
    }
}
