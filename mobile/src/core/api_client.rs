//! The server's HTTP API, as the device uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldvisit_shared::api::{
    AuditEntry, AuditFilter, Authorship, BlobUpload, CaseRecord, CaseSummary, DeviceInfo,
    DeviceStatus, EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, PROTOCOL_HEADER,
    PROTOCOL_VERSION, PersonSummary, RegisterDocumentRequest, RegisterDocumentResponse, SearchHit,
    TicketResponse, WipeReason, Wiped,
};
use fieldvisit_shared::outbox::Record;
use serde::de::DeserializeOwned;

use super::CoreError;
use super::http::{Client, Method, Request, Response, Streamed};

#[derive(Clone)]
pub struct ApiClient {
    http: Client,
    base: url::Url,
    token: Option<String>,
    /// The server said this device is revoked (to any request; a revoked
    /// device's sync socket is closed and its next ticket refused, so this
    /// is how the socket's news arrives too).
    revoked: Arc<AtomicBool>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ApiClient {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CoreError> {
        let mut base = url::Url::parse(base)
            .map_err(|e| CoreError::ServerAddress(format!("{base:?}: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(ApiClient {
            http: Client::new()?,
            base,
            token,
            revoked: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// Whether the server has said this device is revoked.
    pub fn revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    fn url(&self, path: &str) -> Result<url::Url, CoreError> {
        self.base
            .join(path)
            .map_err(|e| CoreError::ServerAddress(e.to_string()))
    }

    /// The WebSocket address of `/sync` with a ticket.
    pub fn sync_url(&self, ticket: &str) -> Result<url::Url, CoreError> {
        let mut url = self.url("sync")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|_| CoreError::ServerAddress("no WebSocket address from it".into()))?;
        url.query_pairs_mut().append_pair("ticket", ticket);
        Ok(url)
    }

    /// A request to `url`, with this build's protocol version and the token.
    fn request(&self, method: Method, url: url::Url) -> Request {
        let req = Request::new(method, url).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        match &self.token {
            Some(t) => req.header("authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    fn get(&self, path: &str) -> Result<Request, CoreError> {
        Ok(self.request(Method::Get, self.url(path)?))
    }

    fn post(&self, path: &str) -> Result<Request, CoreError> {
        Ok(self.request(Method::Post, self.url(path)?))
    }

    async fn send<T: DeserializeOwned>(&self, req: Request) -> Result<T, CoreError> {
        let resp = self.http.send(req).await?;
        self.answer(resp)
    }

    fn answer<T: DeserializeOwned>(&self, resp: Response) -> Result<T, CoreError> {
        if resp.is_success() {
            serde_json::from_slice(&resp.body).map_err(|e| CoreError::Protocol(e.to_string()))
        } else {
            Err(self.error_of(&resp))
        }
    }

    pub async fn enrol(&self, code: &str, label: &str) -> Result<EnrolResponse, CoreError> {
        let body = EnrolRequest {
            code: code.to_owned(),
            label: label.to_owned(),
        };
        self.send(self.post("api/enrol")?.json(&body)?).await
    }

    pub async fn ticket(&self) -> Result<TicketResponse, CoreError> {
        self.send(self.post("api/sync/ticket")?).await
    }

    pub async fn practice(&self) -> Result<fieldvisit_shared::api::PracticeInfo, CoreError> {
        self.send(self.get("api/practice")?).await
    }

    pub async fn alerts(&self) -> Result<Vec<fieldvisit_shared::api::AlertView>, CoreError> {
        self.send(self.get("api/alerts")?).await
    }

    /// The live alert stream's bytes (server-sent events), as they come.
    pub async fn alert_stream(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<bytes::Bytes, CoreError>> + use<>, CoreError>
    {
        let req = self
            .get("api/alerts/stream")?
            .header("accept", "text/event-stream");
        match self.http.open(req).await? {
            Streamed::Open(bytes) => Ok(bytes),
            Streamed::Refused(resp) => Err(self.error_of(&resp)),
        }
    }

    pub async fn cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.send(self.get("api/cases")?).await
    }

    pub async fn people(&self) -> Result<Vec<PersonSummary>, CoreError> {
        self.send(self.get("api/people")?).await
    }

    /// Registers a record this device made with its case (see the outbox).
    pub async fn register_document(
        &self,
        record: &Record,
    ) -> Result<RegisterDocumentResponse, CoreError> {
        let body = RegisterDocumentRequest {
            kind: record.kind,
            case_id: record.case_id.clone(),
            document_id: record.document_id.clone(),
            nonce: record.nonce.clone(),
        };
        self.send(self.post("api/documents")?.json(&body)?).await
    }

    /// The practice's case record as the server holds it, or as it stood
    /// at `as_at` (RFC 3339). The server audits the opening.
    pub async fn case_record(
        &self,
        case_id: &str,
        as_at: Option<&str>,
    ) -> Result<CaseRecord, CoreError> {
        let mut url = self.url(&format!("api/cases/{case_id}/record"))?;
        if let Some(at) = as_at {
            url.query_pairs_mut().append_pair("as_at", at);
        }
        self.send(self.request(Method::Get, url)).await
    }

    /// Who wrote each stretch of one passage of a record.
    pub async fn authorship(
        &self,
        document_id: &str,
        passage: &str,
    ) -> Result<Authorship, CoreError> {
        let mut url = self.url(&format!("api/documents/{document_id}/authorship"))?;
        url.query_pairs_mut().append_pair("passage", passage);
        self.send(self.request(Method::Get, url)).await
    }

    /// Passages matching every word of `query`, from the cases this
    /// device's person may see.
    pub async fn search(&self, query: &str) -> Result<Vec<SearchHit>, CoreError> {
        let mut url = self.url("api/search")?;
        url.query_pairs_mut().append_pair("q", query);
        self.send(self.request(Method::Get, url)).await
    }

    /// The audit log (a practice admin's device only).
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CoreError> {
        let mut url = self.url("api/admin/audit")?;
        {
            let mut q = url.query_pairs_mut();
            let fields = [
                ("action", &filter.action),
                ("person_id", &filter.person_id),
                ("case_id", &filter.case_id),
                ("since", &filter.since),
                ("until", &filter.until),
            ];
            for (key, value) in fields {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    q.append_pair(key, v);
                }
            }
            if let Some(limit) = filter.limit {
                q.append_pair("limit", &limit.to_string());
            }
        }
        self.send(self.request(Method::Get, url)).await
    }

    /// Sends one chunk of a photo, from `offset` of its `total` bytes.
    /// Where the server says the upload stands elsewhere (it already has
    /// more, after a dropped connection), that is the answer.
    pub async fn put_blob(
        &self,
        sha256: &str,
        total: usize,
        offset: usize,
        chunk: &[u8],
    ) -> Result<BlobUpload, CoreError> {
        let url = self.url(&format!("api/blobs/{sha256}"))?;
        let req = self
            .request(Method::Put, url)
            .header("upload-length", total.to_string())
            .header("upload-offset", offset.to_string())
            .body(chunk.to_vec());
        let resp = self.http.send(req).await?;
        if resp.status == 409
            && let Some(at) = resp.header("upload-offset").and_then(|v| v.parse().ok())
        {
            return Ok(BlobUpload {
                received: at,
                complete: false,
            });
        }
        self.answer(resp)
    }

    /// A photo's bytes, or a thumbnail `width` wide.
    pub async fn blob(&self, sha256: &str, width: Option<u32>) -> Result<Vec<u8>, CoreError> {
        let mut url = self.url(&format!("api/blobs/{sha256}"))?;
        if let Some(w) = width {
            url.query_pairs_mut().append_pair("width", &w.to_string());
        }
        let resp = self.http.send(self.request(Method::Get, url)).await?;
        if resp.is_success() {
            Ok(resp.body)
        } else {
            Err(self.error_of(&resp))
        }
    }
}

impl ApiClient {
    fn error_of(&self, resp: &Response) -> CoreError {
        match serde_json::from_slice::<ErrorBody>(&resp.body) {
            Ok(body) => {
                if body.code() == Some(ErrorCode::DeviceRevoked) {
                    self.revoked.store(true, Ordering::SeqCst);
                }
                CoreError::Server(body)
            }
            Err(_) => CoreError::Protocol(format!("HTTP {} without an error body", resp.status)),
        }
    }

    /// A request answered with no body (204).
    async fn send_empty(&self, req: Request) -> Result<(), CoreError> {
        let resp = self.http.send(req).await?;
        if resp.is_success() {
            Ok(())
        } else {
            Err(self.error_of(&resp))
        }
    }

    /// Tells the server how many changes this device holds unsent.
    pub async fn report_status(&self, unsynced_changes: u64) -> Result<(), CoreError> {
        let body = DeviceStatus { unsynced_changes };
        self.send_empty(self.post("api/devices/me/status")?.json(&body)?)
            .await
    }

    /// Tells the server this device deleted everything it stored.
    pub async fn report_wiped(&self, reason: WipeReason) -> Result<(), CoreError> {
        let body = Wiped { reason };
        self.send_empty(self.post("api/devices/me/wiped")?.json(&body)?)
            .await
    }

    /// This person's devices.
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, CoreError> {
        self.send(self.get("api/devices")?).await
    }

    /// A person's devices, for the practice admin.
    pub async fn admin_devices(&self, person_id: &str) -> Result<Vec<DeviceInfo>, CoreError> {
        self.send(self.get(&format!("api/admin/people/{person_id}/devices"))?)
            .await
    }

    /// Revokes any device, for the practice admin.
    pub async fn admin_revoke(&self, device_id: &str) -> Result<(), CoreError> {
        self.send::<serde_json::Value>(self.post(&format!("api/admin/devices/{device_id}/revoke"))?)
            .await
            .map(|_| ())
    }

    /// Revokes another device of this person.
    pub async fn revoke_device(&self, device_id: &str) -> Result<(), CoreError> {
        self.send::<serde_json::Value>(self.post(&format!("api/devices/{device_id}/revoke"))?)
            .await
            .map(|_| ())
    }
}
