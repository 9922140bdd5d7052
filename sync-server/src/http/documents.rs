//! `POST /api/documents`: a record a device made joins its case.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use fieldvisit_shared::api::{RegisterDocumentRequest, RegisterDocumentResponse, Role};
use fieldvisit_shared::records::Kind;
use fieldvisit_shared::{provenance, validate};

use super::{ApiJson, AppState, AuthDevice};
use crate::error::{Error, Result};
use crate::secrets;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/documents", post(register))
}

async fn register(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    ApiJson(req): ApiJson<RegisterDocumentRequest>,
) -> Result<(StatusCode, Json<RegisterDocumentResponse>)> {
    validate::id("case_id", &req.case_id)?;
    // Only a worker makes a visit, a concern or an assessment (the rules
    // refuse anyone else's), so only a worker's device registers one.
    if req.kind != Kind::Case && device.person.role != Role::Worker {
        return Err(Error::Forbidden("a worker on the case"));
    }
    if req.kind == Kind::Concern {
        super::spend(
            &state.throttles.concerns,
            &device.id,
            "safeguarding concerns from this device in a short time; it is kept and sent again",
        )?;
    }
    if !req.kind.made_on_devices() {
        return Err(Error::InvalidJson(format!(
            "a {} is not made on a device, so it is not registered from one",
            req.kind
        )));
    }
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
    let (kind, c, d) = (req.kind, req.case_id.clone(), req.document_id.clone());
    let created = state
        .db
        .run(move |db| {
            db.register_document(&device, kind, &c, &d, |token_hash| {
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
        Json(RegisterDocumentResponse {
            kind: req.kind,
            case_id: req.case_id,
            document_id: req.document_id,
            created,
        }),
    ))
}
