//! The practice's case record: the whole record of a case (as it stands
//! or as it stood), who wrote a passage, and search. Reading a case record
//! and searching are audited before anything is answered.

use fieldvisit_shared::api::ErrorCode;
use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use fieldvisit_shared::api::{Authorship, CaseRecord, SearchHit};
use fieldvisit_shared::records::{AnyRecord, Kind};
use fieldvisit_shared::validate;

use super::{ApiQuery, AppState, AuthDevice};
use crate::casebook::{self, Held, Names};
use crate::db::{Audit, Device};
use crate::error::{Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/cases/{case_id}/record", get(record))
        .route("/api/documents/{document_id}/authorship", get(authorship))
        .route("/api/search", get(search))
}

type Params = ApiQuery<HashMap<String, String>>;

/// Spends one of the device's reads; refused (429) past its rate.
fn spend_read(state: &AppState, device: &Device) -> Result<()> {
    super::spend(
        &state.throttles.reads,
        &device.id,
        "case records and searches from this device at once; wait a few seconds",
    )
}

/// The same answer whether the case exists elsewhere or nowhere.
fn no_case(case_id: &str) -> Error {
    Error::NotFound(format!("case {case_id}"))
}

async fn record(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    Path(case_id): Path<String>,
    ApiQuery(params): Params,
) -> Result<Json<CaseRecord>> {
    spend_read(&state, &device)?;
    validate::id("case_id", &case_id).map_err(|_| no_case(&case_id))?;
    let as_at = match params.get("as_at").filter(|v| !v.is_empty()) {
        Some(v) => {
            casebook::normalise_time(v)?;
            let since = state.db.run(|db| db.receipts_kept_since()).await?;
            Some(casebook::AsAt::new(v, &since)?)
        }
        None => None,
    };
    let (c, p) = (case_id.clone(), device.person.id.clone());
    let Some(documents) = state.db.run(move |db| db.case_documents(&p, &c)).await? else {
        return Err(no_case(&case_id));
    };
    let (case_doc, visit_ids) = (documents.case, documents.visits);
    if !state.engine.visible_to(&device.id, &case_doc).await {
        return Err(no_case(&case_id));
    }
    let detail = match &as_at {
        Some(a) => format!("as at {}", a.at),
        None => String::new(),
    };
    audit(&state, &device, "case_opened", Some(&case_id), None, detail).await?;
    // Receipts only say when changes arrived: the record as it stands
    // needs none of them.
    let with_receipts = as_at.is_some();
    let case = load(&state, &case_doc, with_receipts).await?;
    let mut visits = Vec::with_capacity(visit_ids.len());
    for id in &visit_ids {
        visits.push(load(&state, id, with_receipts).await?);
    }
    let mut others = Vec::with_capacity(documents.others.len());
    for (id, kind) in &documents.others {
        others.push((load(&state, id, with_receipts).await?, *kind));
    }
    let names = names(&state).await?;
    let built = tokio::task::spawn_blocking(move || {
        let visits: Vec<Held<'_>> = visits.iter().map(held).collect();
        let others: Vec<(Held<'_>, Kind)> = others.iter().map(|(l, k)| (held(l), *k)).collect();
        casebook::case_record(
            &case_id,
            &held(&case),
            &visits,
            &others,
            &names,
            as_at.as_ref(),
        )
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(Json(built))
}

async fn authorship(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    Path(document_id): Path<String>,
    ApiQuery(params): Params,
) -> Result<Json<Authorship>> {
    spend_read(&state, &device)?;
    let unknown = || Error::NotFound(format!("document {document_id}"));
    if crate::sync::wire::canonical_document_id(&document_id).is_none()
        || !state.engine.visible_to(&device.id, &document_id).await
    {
        return Err(unknown());
    }
    let Some(key) = params.get("passage").cloned() else {
        return Err(Error::BadRequest(
            ErrorCode::MissingPassage,
            "say which passage: ?passage=<key>".into(),
        ));
    };
    if key.len() > 128 {
        return Err(Error::BadRequest(
            ErrorCode::BadPassage,
            "a passage key is at most 128 characters".into(),
        ));
    }
    let d = document_id.clone();
    let Some((kind, case_id)) = state.db.run(move |db| db.document_record(&d)).await? else {
        return Err(unknown());
    };
    // It shows the words themselves: a read like the record's.
    let detail = format!("who wrote {key}");
    audit(
        &state,
        &device,
        "authorship_viewed",
        Some(&case_id),
        Some(&document_id),
        detail,
    )
    .await?;
    let (id, doc, receipts) = load(&state, &document_id, true).await?;
    let names = names(&state).await?;
    let built = tokio::task::spawn_blocking(move || {
        let passages = match Kind::parse(&kind) {
            Some(kind) => AnyRecord::read(kind, &doc)?.passages(),
            None => Vec::new(),
        };
        let Some(passage) = passages.into_iter().find(|p| p.key == key) else {
            return Err(Error::NotFound(format!("passage {key} in this record")));
        };
        let held = Held {
            document_id: &id,
            doc: &doc,
            receipts: &receipts,
        };
        casebook::authorship(&held, &passage, &names)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    Ok(Json(built))
}

async fn search(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
    ApiQuery(params): Params,
) -> Result<Json<Vec<SearchHit>>> {
    spend_read(&state, &device)?;
    let query = params.get("q").cloned().unwrap_or_default();
    if query.chars().count() > 200 {
        return Err(Error::BadRequest(
            ErrorCode::BadQuery,
            "a search is at most 200 characters".into(),
        ));
    }
    let limit = match params.get("limit") {
        None => 20,
        Some(l) => l.parse::<u32>().map_err(|_| {
            Error::BadRequest(
                ErrorCode::BadQuery,
                format!("limit must be a number, not {l:?}"),
            )
        })?,
    }
    .clamp(1, 50);
    let person = device.person.id.clone();
    let hits = state
        .db
        .run(move |db| db.search(&person, &query, limit))
        .await?;
    // One row per case whose words it showed, so that filtering the log by
    // a case finds every read of it (never the words searched for).
    let mut cases: Vec<&str> = hits.iter().map(|h| h.case_id.as_str()).collect();
    cases.sort_unstable();
    cases.dedup();
    if cases.is_empty() {
        audit(
            &state,
            &device,
            "searched",
            None,
            None,
            "nothing found".into(),
        )
        .await?;
    }
    for case in cases {
        let shown = hits.iter().filter(|h| h.case_id == case).count();
        let detail = format!("{shown} passages shown");
        audit(&state, &device, "searched", Some(case), None, detail).await?;
    }
    Ok(Json(hits))
}

async fn audit(
    state: &AppState,
    device: &Device,
    action: &'static str,
    case_id: Option<&str>,
    document_id: Option<&str>,
    detail: String,
) -> Result<()> {
    let (d, p, c, doc) = (
        device.id.clone(),
        device.person.id.clone(),
        case_id.map(str::to_owned),
        document_id.map(str::to_owned),
    );
    state
        .db
        .run(move |db| {
            db.audit(&Audit {
                device_id: Some(&d),
                person_id: Some(&p),
                action,
                case_id: c.as_deref(),
                document_id: doc.as_deref(),
                detail: &detail,
            })
        })
        .await
}

type Loaded = (String, automerge::Automerge, HashMap<String, String>);

fn held((document_id, doc, receipts): &Loaded) -> Held<'_> {
    Held {
        document_id,
        doc,
        receipts,
    }
}

/// A document as the server holds it, with its receipts when asked.
async fn load(state: &AppState, document_id: &str, with_receipts: bool) -> Result<Loaded> {
    let doc = state
        .engine
        .document(document_id)
        .await
        .ok_or_else(|| Error::NotFound(format!("document {document_id}")))?;
    let d = document_id.to_owned();
    let receipts = if with_receipts {
        state.db.run(move |db| db.receipts_of(&d)).await?
    } else {
        HashMap::new()
    };
    Ok((document_id.to_owned(), doc, receipts))
}

async fn names(state: &AppState) -> Result<Names> {
    let (people, devices) = state
        .db
        .run(|db| Ok((db.people()?, db.device_names()?)))
        .await?;
    Ok(Names::new(
        people.into_iter().map(|p| (p.id, p.name)),
        devices,
    ))
}
