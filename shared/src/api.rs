//! JSON bodies of the sync server's HTTP API, shared by the server and the
//! device so both sides compile against one definition.

use serde::{Deserialize, Serialize};

/// What the app and the server must agree on beyond the wire protocol (the
/// record rules, how a record registers): the app sends it on every request
/// in [`PROTOCOL_HEADER`], and the server refuses any other version with a
/// message that says which side to update. Raise it whenever an app built
/// before a change would have its work refused by the server.
///
/// 3: every change of a message that is more than typing is judged on its
/// own, so a photo's removal and an annotation's resolution are one change
/// each (an app of 2 wrote two, and the first alone is refused); a
/// significant event names who marked it.
pub const PROTOCOL_VERSION: u32 = 3;
pub const PROTOCOL_HEADER: &str = "fieldvisit-protocol";

/// The sync server's samod peer id; devices bind their connection to it.
pub const SERVER_PEER_ID: &str = "fieldvisit-sync-server";

/// Every HTTP error: a stable code for programs, a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// An [`ErrorCode`] as its string (a string, so that an app meets a
    /// code from a newer server as unknown rather than as a broken body).
    pub error: String,
    pub message: String,
}

impl ErrorBody {
    /// The code, when this build knows it.
    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::parse(&self.error)
    }
}

string_enum! {
    /// Every code the server answers an HTTP request with: the server
    /// writes them and the app matches on them from this one list, never
    /// as strings.
    ErrorCode {
        InvalidJson => "invalid_json", InvalidInput => "invalid_input",
        BadQuery => "bad_query", BadTime => "bad_time", BadWidth => "bad_width",
        BeforeReceipts => "before_receipts", MissingPassage => "missing_passage",
        BadPassage => "bad_passage", BadUpload => "bad_upload", WrongHash => "wrong_hash",
        MissingToken => "missing_token", UnknownToken => "unknown_token",
        DeviceRevoked => "device_revoked", MissingTicket => "missing_ticket",
        InvalidTicket => "invalid_ticket", NotWebsocket => "not_websocket",
        InvalidEnrolmentCode => "invalid_enrolment_code", Forbidden => "forbidden",
        NotFound => "not_found", Conflict => "conflict",
        UnsupportedBackend => "unsupported_backend", Stopped => "stopped",
        TooMany => "too_many", RateLimited => "rate_limited",
        UpdateServer => "update_server", UpdateApp => "update_app",
        UploadOffset => "upload_offset", StorageUnavailable => "storage_unavailable",
        Internal => "internal",
        NotAnImage => "not_an_image", TooLarge => "too_large",
        TooManyPixels => "too_many_pixels", Truncated => "truncated",
        CorruptImage => "corrupt_image", BrowserCannotMakePhotos => "browser_cannot_make_photos",
        NotJpeg => "not_jpeg", HasMetadata => "has_metadata", NotScaledDown => "not_scaled_down",
    }
}

pub use crate::role::Role;

/// The data of the ephemeral message in which the server tells a device,
/// on a document, that it refused the device's changes to it (JSON): the
/// device keeps the reason on the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalNotice {
    pub refused: RefusedChanges,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedChanges {
    /// The rule's stable code (`records::Refusal::code`).
    pub code: String,
    pub message: String,
}

/// What `Debug` prints in place of a token, a ticket or an enrolment
/// code: logs and panics are read by more people than the phone's owner.
pub const REDACTED: &str = "[redacted]";

/// `POST /api/enrol`: a one-time code from an admin becomes a device token.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub code: String,
    pub label: String,
}

impl std::fmt::Debug for EnrolRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolRequest")
            .field("code", &REDACTED)
            .field("label", &self.label)
            .finish()
    }
}

impl std::fmt::Debug for EnrolResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolResponse")
            .field("device_id", &self.device_id)
            .field("token", &REDACTED)
            .field("peer_id", &self.peer_id)
            .field("person", &self.person)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketResponse {
    pub ticket: String,
    pub expires_in_seconds: u64,
}

impl std::fmt::Debug for TicketResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketResponse")
            .field("ticket", &REDACTED)
            .field("expires_in_seconds", &self.expires_in_seconds)
            .finish()
    }
}

/// A device as its person and the practice admin see it: enough to find a
/// lost phone and to know what revoking it loses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: String,
    pub person_id: String,
    pub label: String,
    pub enrolled_at: Option<String>,
    /// Its last request to the server (to the minute).
    pub last_seen_at: Option<String>,
    /// When it last said it had nothing left to send.
    pub last_synced_at: Option<String>,
    /// Changes it held that the server did not have, as it last said
    /// (`reported_at`): what revoking it now would lose.
    pub unsynced_changes: Option<u64>,
    pub reported_at: Option<String>,
    pub revoked_at: Option<String>,
    /// Who revoked it: a person and the device they did it from, or the
    /// admin command line (absent for revocations older than this field).
    #[serde(default)]
    pub revoked_by: Option<String>,
    /// When it confirmed it had deleted everything it stored.
    pub wiped_at: Option<String>,
}

/// `POST /api/devices/me/status`: what a device has not yet sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceStatus {
    pub unsynced_changes: u64,
}

/// Why a device wiped itself (`POST /api/devices/me/wiped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WipeReason {
    /// The server said it was revoked.
    Revoked,
    /// Too many wrong PINs in a row.
    WrongPin,
}

/// `POST /api/devices/me/wiped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wiped {
    pub reason: WipeReason,
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

// The practice's case record, as the server holds it (the desktop view).
// People are named here, never given by id: the server resolves ids.

/// `GET /api/search?q=`: one passage that matches, from a case the
/// searcher may see. `snippet` marks matched words between `\u{2}` and
/// `\u{3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub case_id: String,
    pub case_reference: String,
    pub person_name: String,
    pub document_id: String,
    pub kind: String,
    /// The passage's key within its document (a link target).
    pub passage: String,
    pub label: String,
    pub snippet: String,
}

/// `GET /api/cases/{case_id}/record[?as_at=RFC 3339]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub case_id: String,
    /// The case's own document (its details and entries live there).
    pub document_id: String,
    pub reference: String,
    /// The person's details (the case document's passages).
    pub details: Vec<PassageView>,
    /// Newest first: visits, chronology entries, significant events and
    /// review decisions.
    pub chronology: Vec<ChronologyRow>,
    pub visits: Vec<VisitRecord>,
    /// Safeguarding concerns and capacity assessments, newest first.
    #[serde(default)]
    pub records: Vec<OtherRecord>,
    /// When the record is shown as it stood at a time: that time, and how
    /// many visits were received after it (not shown).
    pub as_at: Option<String>,
    pub visits_since: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChronologyRow {
    pub at: String,
    /// `visit`, `entry`, `significant`, `decision`, `concern` or
    /// `assessment`.
    pub kind: String,
    pub title: String,
    /// Who (a name).
    pub by: String,
    pub summary: String,
    /// Where it comes from: a visit's document (the case's own for a case
    /// entry) and a passage in it.
    pub document_id: Option<String>,
    pub passage: Option<String>,
}

/// A record of the case that is not a visit: a safeguarding concern or a
/// capacity assessment, with its words and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtherRecord {
    pub document_id: String,
    /// Its kind, as `crate::records::Kind` stores it.
    pub kind: String,
    /// "Safeguarding concern", "Capacity assessment: <the decision>".
    pub title: String,
    /// When it was raised (a concern) or made (an assessment).
    pub at: String,
    pub by: String,
    /// Where it stands ("Acknowledged by Sam Supervisor", "Complete: lacks
    /// capacity for this decision, by …"), and since when (RFC 3339).
    pub status: String,
    pub status_at: Option<String>,
    pub passages: Vec<PassageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRecord {
    pub document_id: String,
    pub started_at: String,
    pub author: String,
    pub place: crate::records::PlaceKind,
    pub communication: Vec<crate::records::Communication>,
    pub review: crate::records::ReviewStatus,
    pub decisions: Vec<DecisionView>,
    pub passages: Vec<PassageView>,
    pub annotations: Vec<AnnotationView>,
    pub photos: Vec<PhotoView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoView {
    pub sha256: String,
    pub caption: String,
    pub captured_at: String,
    /// Who removed it from the visit (a name) and when.
    pub removed: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassageView {
    pub key: String,
    pub label: String,
    pub voice: crate::records::Voice,
    pub text: String,
    /// As at a time: the text then, against now (see
    /// [`crate::history::as_at`]); empty when shown as it stands.
    pub since: Vec<crate::history::Segment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    pub id: String,
    pub status: crate::records::ReviewStatus,
    pub by: String,
    pub at: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationView {
    pub id: String,
    pub author: String,
    pub at: String,
    pub field: crate::records::TextField,
    pub quote: String,
    pub body: String,
    pub resolved_by: Option<String>,
}

/// `GET /api/documents/{document_id}/authorship?passage=KEY`: who wrote
/// each stretch of a passage, from the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorship {
    pub passage: String,
    pub label: String,
    pub runs: Vec<AuthorRun>,
}

/// One stretch written by one person on one device (consecutive changes
/// of theirs run together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorRun {
    pub text: String,
    pub person: String,
    pub device: String,
    /// Written by the server itself (a case the admin made).
    pub made_on_server: bool,
    /// When the writing device says it wrote the stretch (its own clock);
    /// `None` when its changes carry no time (made before changes were
    /// stamped).
    pub device_time: Option<TimeSpan>,
    /// When the server first received it (the server's clock); `None` for
    /// what was made on the server itself.
    pub received: Option<TimeSpan>,
}

/// The first and last time of a stretch's changes (equal for one change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSpan {
    pub from: String,
    pub to: String,
}

/// One entry of the audit log: who did what to which record, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub device_id: Option<String>,
    pub person_id: Option<String>,
    /// The person's name, so the admin reads who, not an id.
    pub person_name: Option<String>,
    pub action: String,
    pub document_id: Option<String>,
    /// The entry's case, or the case of its document.
    pub case_id: Option<String>,
    pub case_reference: Option<String>,
    pub detail: String,
}

/// `GET /api/admin/audit`: which entries to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub person_id: Option<String>,
    pub case_id: Option<String>,
    /// RFC 3339 bounds, inclusive.
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u32>,
    /// Only entries older than this one (its `id`): the next page.
    #[serde(default)]
    pub before: Option<i64>,
}

/// `PUT /api/blobs/{sha256}` (headers `Upload-Length`, the whole size, and
/// `Upload-Offset`, where this chunk starts): where the upload stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobUpload {
    pub received: u64,
    /// Stored, checked and whole: nothing more to send.
    pub complete: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_tickets_and_codes_never_reach_a_log() {
        let secret = "s3cr3t-never-printed";
        let person = PersonSummary {
            id: "worker-1".into(),
            name: "Alex".into(),
            role: Role::Worker,
        };
        let printed = [
            format!(
                "{:?}",
                EnrolRequest {
                    code: secret.into(),
                    label: "phone".into()
                }
            ),
            format!(
                "{:?}",
                EnrolResponse {
                    device_id: "device-1".into(),
                    token: secret.into(),
                    peer_id: "peer".into(),
                    person,
                }
            ),
            format!(
                "{:#?}",
                TicketResponse {
                    ticket: secret.into(),
                    expires_in_seconds: 30
                }
            ),
        ];
        for p in printed {
            assert!(!p.contains(secret) && p.contains(REDACTED), "{p}");
        }
    }
}

/// A safeguarding concern that reached the server, as the case's
/// supervisors see it (live, `GET /api/alerts/stream`, and listed,
/// `GET /api/alerts`). No words of the concern: those are in its document,
/// which the supervisor's app opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    /// Also the webhook delivery's id.
    pub id: String,
    /// The concern's document.
    pub document_id: String,
    pub case_id: String,
    pub case_reference: String,
    pub raised_by: PersonSummary,
    /// The phone's time of raising (RFC 3339).
    pub raised_at: String,
    /// The server's time of arrival.
    pub arrived_at: String,
    pub acknowledged_by: Option<PersonSummary>,
    pub acknowledged_at: Option<String>,
}

/// `GET /api/practice`: what every device keeps for when it has no signal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeInfo {
    /// The number a worker phones a safeguarding concern in to, when the
    /// app cannot send it.
    pub safeguarding_phone: Option<String>,
}

/// The body of the practice's webhook call when a safeguarding concern
/// arrives. Signed: `Fieldvisit-Signature: t=<unix seconds>,v1=<hex
/// HMAC-SHA256 of "<t>.<body>" under the practice's webhook secret>`; the
/// same `id` on every attempt (`Fieldvisit-Delivery`), so a receiver
/// called twice can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConcernWebhook {
    pub id: String,
    /// Always `safeguarding_concern.raised`.
    pub event: String,
    pub case_id: String,
    pub case_reference: String,
    pub document_id: String,
    pub raised_by: String,
    pub raised_at: String,
    pub arrived_at: String,
}
