//! JSON bodies of the sync server's HTTP API, shared by the server and the
//! device so both sides compile against one definition.

use serde::{Deserialize, Serialize};

/// What the app and the server must agree on beyond the wire protocol (the
/// record rules, how a record registers): the app sends it on every request
/// in [`PROTOCOL_HEADER`], and the server refuses any other version with a
/// message that says which side to update. Raise it whenever an app built
/// before a change would have its work refused by the server.
pub const PROTOCOL_VERSION: u32 = 2;
pub const PROTOCOL_HEADER: &str = "fieldvisit-protocol";

/// The sync server's samod peer id; devices bind their connection to it.
pub const SERVER_PEER_ID: &str = "fieldvisit-sync-server";

/// Every HTTP error: a stable code for programs, a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Worker,
    Supervisor,
    Admin,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "worker" => Some(Role::Worker),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// `POST /api/enrol`: a one-time code from an admin becomes a device token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: String,
    /// The bearer token; shown once, only its hash is kept by the server.
    pub token: String,
    /// The samod peer id this device must use; the server binds it.
    pub peer_id: String,
    pub person: PersonSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub id: String,
    pub name: String,
    pub role: Role,
}

/// `POST /api/sync/ticket`: a single-use, short-lived ticket for `/sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketResponse {
    pub ticket: String,
    pub expires_in_seconds: u64,
}

/// `GET /api/cases`: the cases this device's person may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub reference: String,
    pub person_name: String,
    pub document_id: String,
}

/// `POST /api/documents`: claims a record this device made (offline,
/// perhaps) for its case. Every kind a device makes joins its case this way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterDocumentRequest {
    pub kind: crate::records::Kind,
    pub case_id: String,
    pub document_id: String,
    /// The nonce the device made `document_id` from: the proof that this
    /// device created it (see [`crate::provenance`]). Hex, 32 digits.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterDocumentResponse {
    pub kind: crate::records::Kind,
    pub case_id: String,
    pub document_id: String,
    /// False when the same device had already registered it (idempotent).
    pub created: bool,
}
