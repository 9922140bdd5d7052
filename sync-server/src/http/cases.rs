use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldvisit_shared::api::{CaseSummary, RegisterVisitRequest, RegisterVisitResponse};
use fieldvisit_shared::{provenance, validate};

use super::{ApiJson, AppState, AuthDevice};
use crate::error::{Error, Result};
use crate::secrets;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cases", get(list))
        .route("/api/cases/{case_id}/visits", post(register_visit))
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

async fn register_visit(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    Path(case_id): Path<String>,
    ApiJson(req): ApiJson<RegisterVisitRequest>,
) -> Result<(StatusCode, Json<RegisterVisitResponse>)> {
    validate::id("case_id", &case_id)?;
    if crate::sync::wire::canonical_document_id(&req.document_id).is_none() {
        return Err(Error::InvalidJson(format!(
            "document_id is not an automerge document id in its canonical (bs58check) form: {}",
            req.document_id
        )));
    }
    let Some(nonce) = provenance::parse_nonce(&req.nonce) else {
        return Err(Error::InvalidJson(format!(
            "nonce must be {} lowercase hex digits",
            provenance::NONCE_LEN * 2
        )));
    };
    let (c, d) = (case_id.clone(), req.document_id.clone());
    let created = state
        .db
        .run(move |db| {
            db.register_visit(&device, &c, &d, |token_hash| {
                secrets::created_by(token_hash, &nonce, &d)
            })
        })
        .await?;
    state.engine.pull(&req.document_id);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(RegisterVisitResponse {
            case_id,
            document_id: req.document_id,
            created,
        }),
    ))
}
