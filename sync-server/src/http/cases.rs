use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use fieldvisit_shared::api::CaseSummary;

use super::{AppState, AuthDevice};
use crate::error::Result;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/cases", get(list))
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
