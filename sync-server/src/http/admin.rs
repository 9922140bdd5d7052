//! The practice admin's API: the same operations as `fieldvisit-sync-server
//! admin ...`, for an admin's enrolled device.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use fieldvisit_shared::api::{CaseSummary, DeviceInfo, PersonSummary, Role};
use serde::Deserialize;

use super::{ApiJson, ApiQuery, AppState, AuthDevice};
use crate::db::{AuditEntry, AuditFilter};
use crate::error::Result;
use crate::practice::{self, EnrolmentCode, Revoked};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/people", post(add_person))
        .route("/api/admin/cases", post(add_case))
        .route("/api/admin/assignments", post(assign))
        .route(
            "/api/admin/assignments/{case_id}/{person_id}",
            delete(unassign),
        )
        .route(
            "/api/admin/people/{person_id}/supervisor",
            put(set_supervisor),
        )
        .route("/api/admin/devices", post(add_device))
        .route("/api/admin/devices/{device_id}/revoke", post(revoke))
        .route("/api/admin/people/{person_id}/devices", get(devices_of))
        .route("/api/admin/audit", get(audit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPerson {
    name: String,
    role: Role,
    supervisor: Option<String>,
}

async fn add_person(
    State(state): State<AppState>,
    admin: AuthDevice,
    ApiJson(p): ApiJson<NewPerson>,
) -> Result<(StatusCode, Json<PersonSummary>)> {
    admin.require_admin()?;
    let person = practice::add_person(&state.db, &p.name, p.role, p.supervisor.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(person)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCase {
    reference: String,
    person_name: String,
}

async fn add_case(
    State(state): State<AppState>,
    admin: AuthDevice,
    ApiJson(c): ApiJson<NewCase>,
) -> Result<(StatusCode, Json<CaseSummary>)> {
    admin.require_admin()?;
    let case =
        practice::add_case(&state.db, &state.engine.repo, &c.reference, &c.person_name).await?;
    Ok((StatusCode::CREATED, Json(case)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assignment {
    case_id: String,
    person_id: String,
}

async fn assign(
    State(state): State<AppState>,
    admin: AuthDevice,
    ApiJson(a): ApiJson<Assignment>,
) -> Result<StatusCode> {
    admin.require_admin()?;
    practice::assign(&state.db, &a.case_id, &a.person_id).await?;
    state.engine.access_changed();
    Ok(StatusCode::NO_CONTENT)
}

async fn unassign(
    State(state): State<AppState>,
    admin: AuthDevice,
    Path((case_id, person_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    admin.require_admin()?;
    practice::unassign(&state.db, &case_id, &person_id).await?;
    state.engine.access_changed();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Supervisor {
    supervisor_id: Option<String>,
}

async fn set_supervisor(
    State(state): State<AppState>,
    admin: AuthDevice,
    Path(person_id): Path<String>,
    ApiJson(s): ApiJson<Supervisor>,
) -> Result<StatusCode> {
    admin.require_admin()?;
    practice::set_supervisor(&state.db, &person_id, s.supervisor_id.as_deref()).await?;
    state.engine.access_changed();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    person_id: String,
    label: String,
}

async fn add_device(
    State(state): State<AppState>,
    admin: AuthDevice,
    ApiJson(d): ApiJson<NewDevice>,
) -> Result<(StatusCode, Json<EnrolmentCode>)> {
    admin.require_admin()?;
    Ok((
        StatusCode::CREATED,
        Json(practice::add_device(&state.db, &d.person_id, &d.label).await?),
    ))
}

async fn revoke(
    State(state): State<AppState>,
    admin: AuthDevice,
    Path(device_id): Path<String>,
) -> Result<Json<Revoked>> {
    admin.require_admin()?;
    let revoked = practice::revoke(&state.db, &device_id, Some(&admin.0.id)).await?;
    state.engine.disconnect_device(&device_id);
    Ok(Json(revoked))
}

/// A person's devices: when each was last seen and synced, and what it
/// held unsent, so a lost phone is found and revoked in one step.
async fn devices_of(
    State(state): State<AppState>,
    admin: AuthDevice,
    Path(person_id): Path<String>,
) -> Result<Json<Vec<DeviceInfo>>> {
    admin.require_admin()?;
    Ok(Json(practice::devices_of(&state.db, &person_id).await?))
}

/// `GET /api/admin/audit?action=&person_id=&case_id=&since=&until=&limit=`
async fn audit(
    State(state): State<AppState>,
    admin: AuthDevice,
    ApiQuery(mut filter): ApiQuery<AuditFilter>,
) -> Result<Json<Vec<AuditEntry>>> {
    admin.require_admin()?;
    for bound in [&mut filter.since, &mut filter.until].into_iter().flatten() {
        if !bound.is_empty() {
            *bound = crate::casebook::normalise_time(bound)?;
        }
    }
    Ok(Json(
        state.db.run(move |db| db.audit_entries(&filter)).await?,
    ))
}
