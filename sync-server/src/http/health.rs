//! `GET /health`: 200 while the server does its job (`ok`, or `degraded`
//! when something failed and was contained), 503 when it does not (sync
//! has stopped answering, or the document store cannot write).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::health::{Report, Status};

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> (StatusCode, Json<Report>) {
    let report = state.engine.health().await;
    let status = match report.status {
        Status::Ok | Status::Degraded => StatusCode::OK,
        Status::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(report))
}
