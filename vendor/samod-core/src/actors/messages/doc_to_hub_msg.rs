use std::collections::HashMap;

use crate::{
    ConnectionId, DocumentId, doc_search::DocSearchPhase, ephemera::EphemeralMessage,
    network::PeerDocState,
};

use super::SyncMessage;

/// Messages sent from document actors to Samod.
#[derive(Debug, Clone)]
pub struct DocToHubMsg(pub(crate) DocToHubMsgPayload);

impl DocToHubMsg {
    /// The message a document actor's runner sends on the actor's behalf when
    /// the actor can no longer run (it panicked): the hub forgets the actor,
    /// and the next message for the document spawns a fresh one that loads
    /// from storage. Patched in by Fieldvisit.
    pub fn terminated() -> Self {
        DocToHubMsg(DocToHubMsgPayload::Terminated)
    }

    /// The connection a sync message is for, if it is one.
    pub fn to_connection(&self) -> Option<ConnectionId> {
        match &self.0 {
            DocToHubMsgPayload::SendSyncMessage { connection_id, .. } => Some(*connection_id),
            _ => None,
        }
    }

    /// Whether this is the last message of an actor.
    pub fn is_terminated(&self) -> bool {
        matches!(self.0, DocToHubMsgPayload::Terminated)
    }
}

#[derive(Debug, Clone)]
pub(crate) enum DocToHubMsgPayload {
    DocSearchChanged(DocSearchPhase),

    PeerStatesChanged(HashMap<ConnectionId, PeerDocState>),

    SendSyncMessage {
        connection_id: ConnectionId,
        document_id: DocumentId,
        message: SyncMessage,
    },

    Broadcast {
        connections: Vec<ConnectionId>,
        msg: Broadcast,
    },

    /// Close a connection which exceeded document-level resource limits.
    Disconnect {
        connection_id: ConnectionId,
        reason: String,
    },

    Terminated,
}

#[derive(Debug, Clone)]
pub enum Broadcast {
    New { msg: Vec<u8> },
    Gossip { msg: EphemeralMessage },
}
