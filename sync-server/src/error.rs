use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldvisit_shared::api::{ErrorBody, ErrorCode, PROTOCOL_VERSION};

/// The one error enum of the server. Each variant maps to a stable code and
/// an HTTP status, so every failure reaches a client as our JSON error body.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the request body is not valid JSON for this endpoint: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    Invalid(#[from] fieldvisit_shared::ValidationError),
    /// A request that makes no sense as it stands, with its own code.
    #[error("{1}")]
    BadRequest(ErrorCode, String),
    #[error("this request needs a device token: send 'Authorization: Bearer <token>'")]
    MissingToken,
    #[error("this device token is not known to the server")]
    UnknownToken,
    #[error("this device has been revoked; ask your practice admin to enrol it again")]
    DeviceRevoked,
    #[error(
        "the sync connection needs a ticket: POST /api/sync/ticket with your device token, then open /sync?ticket=..."
    )]
    MissingTicket,
    #[error("/sync speaks WebSocket only: open it with a WebSocket client")]
    NotWebSocket,
    #[error("this ticket is unknown, expired or already used; buy a new one")]
    InvalidTicket,
    #[error(
        "this enrolment code is unknown, expired or already used; ask your practice admin for a new one"
    )]
    InvalidEnrolmentCode,
    #[error("only {0} may do this")]
    Forbidden(&'static str),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the storage backend '{0}' is not supported (use sqlite:PATH)")]
    UnsupportedBackend(String),
    #[error("the sync engine has stopped")]
    Stopped,
    #[error("too many {0}")]
    TooMany(&'static str),
    #[error("too many attempts from this address; wait a minute and try again")]
    RateLimited,
    #[error("{}", outdated(*.app))]
    Outdated { app: Option<u32> },
    /// A photo that is not what a stored photo must be.
    #[error("{0}")]
    Photo(#[from] fieldvisit_shared::photo::PhotoError),
    /// A chunk that does not start where the upload stands.
    #[error("this upload stands at byte {received}; send from there")]
    UploadOffset { received: u64 },
    /// Files beside the database cannot be written or read.
    #[error("file storage: {0}")]
    Storage(String),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("record error: {0}")]
    Record(#[from] fieldvisit_shared::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The header that says where an upload stands (`PUT /api/blobs/...`).
pub const UPLOAD_OFFSET: &str = "upload-offset";

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidJson(_) => ErrorCode::InvalidJson,
            Error::Invalid(_) => ErrorCode::InvalidInput,
            Error::BadRequest(code, _) => *code,
            Error::MissingToken => ErrorCode::MissingToken,
            Error::UnknownToken => ErrorCode::UnknownToken,
            Error::DeviceRevoked => ErrorCode::DeviceRevoked,
            Error::MissingTicket => ErrorCode::MissingTicket,
            Error::InvalidTicket => ErrorCode::InvalidTicket,
            Error::NotWebSocket => ErrorCode::NotWebsocket,
            Error::InvalidEnrolmentCode => ErrorCode::InvalidEnrolmentCode,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::UnsupportedBackend(_) => ErrorCode::UnsupportedBackend,
            Error::Stopped => ErrorCode::Stopped,
            Error::TooMany(_) => ErrorCode::TooMany,
            Error::RateLimited => ErrorCode::RateLimited,
            Error::Outdated { app } if app.is_some_and(|v| v > PROTOCOL_VERSION) => {
                ErrorCode::UpdateServer
            }
            Error::Outdated { .. } => ErrorCode::UpdateApp,
            Error::Photo(e) => e.code(),
            Error::UploadOffset { .. } => ErrorCode::UploadOffset,
            Error::Storage(_) => ErrorCode::StorageUnavailable,
            Error::Database(e) if storage_unavailable(e) => ErrorCode::StorageUnavailable,
            Error::Database(_) | Error::Record(_) | Error::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidJson(_)
            | Error::Invalid(_)
            | Error::BadRequest(..)
            | Error::NotWebSocket => StatusCode::BAD_REQUEST,
            Error::MissingToken
            | Error::UnknownToken
            | Error::MissingTicket
            | Error::InvalidTicket
            | Error::InvalidEnrolmentCode => StatusCode::UNAUTHORIZED,
            Error::DeviceRevoked | Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            Error::TooMany(_) | Error::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Error::Outdated { .. } => StatusCode::UPGRADE_REQUIRED,
            Error::Photo(fieldvisit_shared::photo::PhotoError::TooManyBytes { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Error::Photo(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::UploadOffset { .. } => StatusCode::CONFLICT,
            Error::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(e) if storage_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Error::UnsupportedBackend(_)
            | Error::Database(_)
            | Error::Record(_)
            | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

fn outdated(app: Option<u32>) -> String {
    match app {
        Some(v) if v > PROTOCOL_VERSION => format!(
            "this app is newer than the practice's server (app {v}, server {PROTOCOL_VERSION}): ask your practice admin to update the server; your work stays on this device"
        ),
        Some(v) => format!(
            "this app is older than the practice's server (app {v}, server {PROTOCOL_VERSION}): update the app; your work stays on this device"
        ),
        None => format!(
            "this app is older than the practice's server (it does not say its version; the server speaks {PROTOCOL_VERSION}): update the app; your work stays on this device"
        ),
    }
}

/// The database cannot take writes just now (a full disk, a read-only file
/// or an IO error): the client should retry later; nothing was changed.
fn storage_unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(DiskFull | ReadOnly | SystemIoFailure | CannotOpen | DatabaseBusy | DatabaseLocked)
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Error::UploadOffset { received } = &self {
            let body = ErrorBody {
                error: self.code().as_str().to_owned(),
                message: self.to_string(),
            };
            let offset = [(UPLOAD_OFFSET, received.to_string())];
            return (status, offset, axum::Json(body)).into_response();
        }
        if self.code() == ErrorCode::StorageUnavailable {
            tracing::error!(error = %self, "the practice database cannot write; the request is refused");
            let body = ErrorBody {
                error: self.code().as_str().to_owned(),
                message: "the server cannot store anything just now; nothing was changed, try again later".to_owned(),
            };
            return (status, axum::Json(body)).into_response();
        }
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Details go to the log, not to the client.
            tracing::error!(error = %self, "request failed");
            "something went wrong on the server; nothing was changed".to_owned()
        } else {
            self.to_string()
        };
        let body = ErrorBody {
            error: self.code().as_str().to_owned(),
            message,
        };
        (status, axum::Json(body)).into_response()
    }
}
