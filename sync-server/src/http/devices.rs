use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldvisit_shared::api::{
    DeviceInfo, DeviceStatus, EnrolRequest, EnrolResponse, PersonSummary, TicketResponse, Wiped,
};

use super::{AnyDevice, ApiJson, AppProtocol, AppState, AuthDevice, ClientIp};
use crate::error::{Error, Result};
use crate::practice::{self, Revoked};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/enrol", post(enrol))
        .route("/api/sync/ticket", post(ticket))
        .route("/api/me", get(me))
        .route("/api/devices", get(my_devices))
        .route("/api/devices/{device_id}/revoke", post(revoke_mine))
        .route("/api/devices/me/status", post(status))
        .route("/api/devices/me/wiped", post(wiped))
}

/// The devices of this device's person: a worker finds and revokes a lost
/// phone from another.
async fn my_devices(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
) -> Result<Json<Vec<DeviceInfo>>> {
    Ok(Json(
        practice::devices_of(&state.db, &device.person.id).await?,
    ))
}

/// Revokes another device of the same person; someone else's device gets
/// exactly the answer of one that does not exist.
async fn revoke_mine(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    Path(device_id): Path<String>,
) -> Result<Json<Revoked>> {
    let mine = practice::devices_of(&state.db, &device.person.id).await?;
    if !mine.iter().any(|d| d.device_id == device_id) {
        return Err(Error::NotFound(format!("device {device_id}")));
    }
    // Which device did it, too: a worker's other device revoking this one
    // is either the worker or whoever holds that device.
    let revoked = practice::revoke(&state.db, &device_id, Some(&device.id)).await?;
    state.engine.disconnect_device(&device_id);
    Ok(Json(revoked))
}

/// What the device has not yet sent, as it counts it.
async fn status(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    ApiJson(report): ApiJson<DeviceStatus>,
) -> Result<StatusCode> {
    spend_report(&state, &device.id)?;
    let id = device.id;
    state
        .db
        .run(move |db| db.device_status(&id, report.unsynced_changes))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A device says it deleted everything it stored: accepted from a revoked
/// device (that is when it happens), and it revokes one that was not.
async fn wiped(
    State(state): State<AppState>,
    AnyDevice(device): AnyDevice,
    ApiJson(report): ApiJson<Wiped>,
) -> Result<(StatusCode, [(axum::http::HeaderName, &'static str); 1])> {
    super::spend(
        &state.throttles.wipes,
        &device.id,
        "wipe confirmations from this device at once",
    )?;
    let id = device.id.clone();
    let first = state
        .db
        .run(move |db| db.device_wiped(&id, report.reason))
        .await?;
    if first {
        state.engine.disconnect_device(&device.id);
    }
    // The browser then drops what it kept for this site besides the app's
    // own store (its HTTP cache of photos, the service worker's cache).
    Ok((
        StatusCode::NO_CONTENT,
        [(
            axum::http::HeaderName::from_static("clear-site-data"),
            "\"cache\", \"storage\"",
        )],
    ))
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

/// Each report is a write: a device that reports in a loop is told to wait.
fn spend_report(state: &AppState, device_id: &str) -> Result<()> {
    super::spend(
        &state.throttles.reports,
        device_id,
        "reports from this device at once; wait a few seconds",
    )
}
