//! `GET /health`: 200 while the server does its job (`ok`, or `degraded`
//! when something failed and was contained), 503 when it does not (sync
//! has stopped answering, or the document store cannot write).
//!
//! To anyone, that status alone: the report names documents and says what
//! failed, which tells a stranger what exists and where it hurts. The
//! whole report goes to a request bearing the key the server wrote into its
//! data directory (`crate::health::write_key`: the local command line, a
//! monitor on the same machine) and to a practice admin's device at
//! `GET /api/admin/health`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};

use super::{AppState, AuthDevice};
use crate::error::Result;
use crate::health::{Report, Status};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/api/admin/health", get(admin_health))
}

async fn health(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> (StatusCode, Json<serde_json::Value>) {
    let report = state.engine.health().await;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let body = if bearer.is_some_and(|b| state.health_key.matches(b)) {
        serde_json::to_value(&report).unwrap_or_default()
    } else {
        serde_json::json!({ "status": report.status })
    };
    (code(&report), Json(body))
}

async fn admin_health(
    State(state): State<AppState>,
    admin: AuthDevice,
) -> Result<(StatusCode, Json<Report>)> {
    admin.require_admin()?;
    let report = state.engine.health().await;
    Ok((code(&report), Json(report)))
}

fn code(report: &Report) -> StatusCode {
    match report.status {
        Status::Ok | Status::Degraded => StatusCode::OK,
        Status::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    }
}
