use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldvisit_shared::api::{EnrolRequest, EnrolResponse, PersonSummary, TicketResponse};

use super::{ApiJson, AppProtocol, AppState, AuthDevice, ClientIp};
use crate::error::Result;
use crate::practice;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/enrol", post(enrol))
        .route("/api/sync/ticket", post(ticket))
        .route("/api/me", get(me))
}

async fn enrol(
    State(state): State<AppState>,
    _: AppProtocol,
    ip: ClientIp,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> Result<Json<EnrolResponse>> {
    ip.throttle(&state.throttles.enrol, true, &state.db, "enrolment")
        .await?;
    Ok(Json(
        practice::enrol(&state.db, &req.code, &req.label).await?,
    ))
}

async fn ticket(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
) -> Result<Json<TicketResponse>> {
    Ok(Json(TicketResponse {
        ticket: state.engine.buy_ticket(&device.id)?,
        expires_in_seconds: state.engine.ticket_lifetime().as_secs(),
    }))
}

async fn me(AuthDevice(device): AuthDevice) -> Json<PersonSummary> {
    Json(device.person)
}
