use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use fieldvisit_shared::api::{CaseSummary, PersonSummary};

use super::{AppState, AuthDevice};
use crate::error::Result;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cases", get(list))
        .route("/api/people", get(people))
}

async fn list(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
) -> Result<Json<Vec<CaseSummary>>> {
    let person = device.person.id;
    Ok(Json(
        state.db.run(move |db| db.cases_visible_to(&person)).await?,
    ))
}

/// `GET /api/people`: the people this device's person works alongside, so
/// the app can show names where records hold ids.
async fn people(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
) -> Result<Json<Vec<PersonSummary>>> {
    let person = device.person.id;
    Ok(Json(
        state.db.run(move |db| db.people_around(&person)).await?,
    ))
}
