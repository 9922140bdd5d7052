//! The server's HTTP API, as the device uses it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fieldvisit_shared::api::{
    AuditEntry, AuditFilter, Authorship, BlobUpload, CaseRecord, CaseSummary, DeviceInfo,
    DeviceStatus, EnrolRequest, EnrolResponse, ErrorBody, PROTOCOL_HEADER, PROTOCOL_VERSION,
    PersonSummary, RegisterDocumentRequest, RegisterDocumentResponse, SearchHit, TicketResponse,
    WipeReason, Wiped,
};
use fieldvisit_shared::outbox::Record;
use serde::de::DeserializeOwned;

use super::CoreError;

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
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
            .map_err(|e| CoreError::Protocol(format!("server address {base:?}: {e}")))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        // The browser's fetch has its own timeouts and no builder for ours.
        #[cfg(not(target_arch = "wasm32"))]
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| CoreError::Protocol(e.to_string()))?;
        #[cfg(target_arch = "wasm32")]
        let http = reqwest::Client::new();
        Ok(ApiClient {
            http,
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
            .map_err(|e| CoreError::Protocol(e.to_string()))
    }

    /// The WebSocket address of `/sync` with a ticket.
    pub fn sync_url(&self, ticket: &str) -> Result<url::Url, CoreError> {
        let mut url = self.url("sync")?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|_| CoreError::Protocol("cannot make a WebSocket address".into()))?;
        url.query_pairs_mut().append_pair("ticket", ticket);
        Ok(url)
    }

    /// The request with this build's protocol version and the token.
    fn authorised(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let req = req.header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CoreError> {
        let resp = self
            .authorised(req)
            .send()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        self.answer(resp).await
    }

    async fn answer<T: DeserializeOwned>(&self, resp: reqwest::Response) -> Result<T, CoreError> {
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| CoreError::Protocol(e.to_string()))
        } else {
            Err(self.error_of(status, &bytes))
        }
    }

    pub async fn enrol(&self, code: &str, label: &str) -> Result<EnrolResponse, CoreError> {
        let body = EnrolRequest {
            code: code.to_owned(),
            label: label.to_owned(),
        };
        self.send(self.http.post(self.url("api/enrol")?).json(&body))
            .await
    }

    pub async fn ticket(&self) -> Result<TicketResponse, CoreError> {
        self.send(self.http.post(self.url("api/sync/ticket")?))
            .await
    }

    pub async fn practice(&self) -> Result<fieldvisit_shared::api::PracticeInfo, CoreError> {
        self.send(self.http.get(self.url("api/practice")?)).await
    }

    pub async fn alerts(&self) -> Result<Vec<fieldvisit_shared::api::AlertView>, CoreError> {
        self.send(self.http.get(self.url("api/alerts")?)).await
    }

    /// The live alert stream's bytes (server-sent events), as they come.
    pub async fn alert_stream(
        &self,
    ) -> Result<impl futures::Stream<Item = Result<bytes::Bytes, CoreError>> + use<>, CoreError>
    {
        let req = self
            .http
            .get(self.url("api/alerts/stream")?)
            .header("Accept", "text/event-stream");
        let resp = self
            .authorised(req)
            .send()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| CoreError::Offline(e.to_string()))?;
            return Err(self.error_of(status, &bytes));
        }
        use futures::StreamExt;
        Ok(resp
            .bytes_stream()
            .map(|chunk| chunk.map_err(|e| CoreError::Offline(e.to_string()))))
    }

    pub async fn cases(&self) -> Result<Vec<CaseSummary>, CoreError> {
        self.send(self.http.get(self.url("api/cases")?)).await
    }

    pub async fn people(&self) -> Result<Vec<PersonSummary>, CoreError> {
        self.send(self.http.get(self.url("api/people")?)).await
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
        let url = self.url("api/documents")?;
        self.send(self.http.post(url).json(&body)).await
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
        self.send(self.http.get(url)).await
    }

    /// Who wrote each stretch of one passage of a record.
    pub async fn authorship(
        &self,
        document_id: &str,
        passage: &str,
    ) -> Result<Authorship, CoreError> {
        let mut url = self.url(&format!("api/documents/{document_id}/authorship"))?;
        url.query_pairs_mut().append_pair("passage", passage);
        self.send(self.http.get(url)).await
    }

    /// Passages matching every word of `query`, from the cases this
    /// device's person may see.
    pub async fn search(&self, query: &str) -> Result<Vec<SearchHit>, CoreError> {
        let mut url = self.url("api/search")?;
        url.query_pairs_mut().append_pair("q", query);
        self.send(self.http.get(url)).await
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
        self.send(self.http.get(url)).await
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
            .http
            .put(url)
            .header("upload-length", total.to_string())
            .header("upload-offset", offset.to_string())
            .body(chunk.to_vec());
        let resp = self
            .authorised(req)
            .send()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        if resp.status() == reqwest::StatusCode::CONFLICT
            && let Some(at) = resp
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        {
            return Ok(BlobUpload {
                received: at,
                complete: false,
            });
        }
        self.answer(resp).await
    }

    /// A photo's bytes, or a thumbnail `width` wide.
    pub async fn blob(&self, sha256: &str, width: Option<u32>) -> Result<Vec<u8>, CoreError> {
        let mut url = self.url(&format!("api/blobs/{sha256}"))?;
        if let Some(w) = width {
            url.query_pairs_mut().append_pair("width", &w.to_string());
        }
        let resp = self
            .authorised(self.http.get(url))
            .send()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        if status.is_success() {
            Ok(bytes.to_vec())
        } else {
            Err(self.error_of(status, &bytes))
        }
    }
}

impl ApiClient {
    fn error_of(&self, status: reqwest::StatusCode, bytes: &[u8]) -> CoreError {
        match serde_json::from_slice::<ErrorBody>(bytes) {
            Ok(body) => {
                if body.error == "device_revoked" {
                    self.revoked.store(true, Ordering::SeqCst);
                }
                CoreError::Server(body)
            }
            Err(_) => CoreError::Protocol(format!("HTTP {status} without an error body")),
        }
    }

    /// A request answered with no body (204).
    async fn send_empty(&self, req: reqwest::RequestBuilder) -> Result<(), CoreError> {
        let resp = self
            .authorised(req)
            .send()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| CoreError::Offline(e.to_string()))?;
        Err(self.error_of(status, &bytes))
    }

    /// Tells the server how many changes this device holds unsent.
    pub async fn report_status(&self, unsynced_changes: u64) -> Result<(), CoreError> {
        let body = DeviceStatus { unsynced_changes };
        let url = self.url("api/devices/me/status")?;
        self.send_empty(self.http.post(url).json(&body)).await
    }

    /// Tells the server this device deleted everything it stored.
    pub async fn report_wiped(&self, reason: WipeReason) -> Result<(), CoreError> {
        let body = Wiped { reason };
        let url = self.url("api/devices/me/wiped")?;
        self.send_empty(self.http.post(url).json(&body)).await
    }

    /// This person's devices.
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, CoreError> {
        self.send(self.http.get(self.url("api/devices")?)).await
    }

    /// A person's devices, for the practice admin.
    pub async fn admin_devices(&self, person_id: &str) -> Result<Vec<DeviceInfo>, CoreError> {
        let url = self.url(&format!("api/admin/people/{person_id}/devices"))?;
        self.send(self.http.get(url)).await
    }

    /// Revokes any device, for the practice admin.
    pub async fn admin_revoke(&self, device_id: &str) -> Result<(), CoreError> {
        let url = self.url(&format!("api/admin/devices/{device_id}/revoke"))?;
        self.send::<serde_json::Value>(self.http.post(url))
            .await
            .map(|_| ())
    }

    /// Revokes another device of this person.
    pub async fn revoke_device(&self, device_id: &str) -> Result<(), CoreError> {
        let url = self.url(&format!("api/devices/{device_id}/revoke"))?;
        self.send::<serde_json::Value>(self.http.post(url))
            .await
            .map(|_| ())
    }
}
