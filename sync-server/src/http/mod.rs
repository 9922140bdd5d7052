//! The HTTP layer: one state type, one `router()` per resource, thin handlers.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

use crate::db::Db;
use crate::sync::SyncEngine;
use crate::throttle::Throttle;

mod admin;
mod alerts;
mod auth;
mod blobs;
mod cases;
mod devices;
mod documents;
mod health;
mod record;
mod sync;
mod web;

pub use auth::{AnyDevice, ApiJson, ApiQuery, AppProtocol, AuthDevice, ClientIp};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub engine: Arc<SyncEngine>,
    /// Photos, as files beside the database.
    pub blobs: Arc<crate::blobs::BlobStore>,
    /// The built web app, when there is one.
    pub web_dir: Option<PathBuf>,
    pub throttles: Arc<Throttles>,
    /// What the local command line shows to read `/health` in full
    /// (`crate::health::write_key`).
    pub health_key: Arc<crate::health::Key>,
    /// Proxies whose forwarding headers are believed (`crate::proxy`).
    pub trusted_proxies: Arc<Vec<crate::proxy::Cidr>>,
}

/// What a stranger may try per source address.
#[derive(Debug)]
pub struct Throttles {
    /// Enrolment attempts: 30 at once (an admin enrolling a team's phones
    /// from one office), then one every 2 seconds.
    pub enrol: Throttle,
    /// Failed authentications (unknown tokens, tickets): 30 at once, then
    /// one a second.
    pub auth_failures: Throttle,
    /// Case records, authorship and searches per device: each reads whole
    /// documents and writes an audit row. 120 at once (a reviewer working
    /// through a caseload), then two a second.
    pub reads: Throttle<String>,
    /// When a device was last seen is written once a minute at most.
    pub seen: Throttle<String>,
    /// A device's reports of what it has not yet sent: 10 at once, then
    /// one every 10 seconds (it reports when that changes).
    pub reports: Throttle<String>,
    /// A wiped device's confirmation (audited once; its own bucket, so
    /// status reports just before cannot crowd it out): 3 at once, then
    /// one every 10 seconds.
    pub wipes: Throttle<String>,
    /// Safeguarding concerns a device registers: each alerts every
    /// supervisor of the case and calls the practice's webhook, so a
    /// device cannot flood them. 10 at once (a bad day), then one every
    /// five minutes; past that the phone keeps it and tries again.
    pub concerns: Throttle<String>,
}

/// Spends one of a device's attempts at `throttle`: past its rate, 429
/// `too_many`, saying what there was too much of.
pub fn spend(
    throttle: &Throttle<String>,
    device_id: &str,
    what: &'static str,
) -> Result<(), crate::error::Error> {
    match throttle.spend(device_id.to_owned(), std::time::Instant::now()) {
        crate::throttle::Verdict::Allowed => Ok(()),
        crate::throttle::Verdict::Refused { .. } => Err(crate::error::Error::TooMany(what)),
    }
}

impl Default for Throttles {
    fn default() -> Self {
        Throttles {
            enrol: Throttle::new(30, std::time::Duration::from_secs(2)),
            auth_failures: Throttle::new(30, std::time::Duration::from_secs(1)),
            reads: Throttle::new(120, std::time::Duration::from_millis(500)),
            seen: Throttle::new(1, std::time::Duration::from_secs(60)),
            reports: Throttle::new(10, std::time::Duration::from_secs(10)),
            wipes: Throttle::new(3, std::time::Duration::from_secs(10)),
            concerns: Throttle::new(10, std::time::Duration::from_secs(300)),
        }
    }
}

/// Nothing the server answers outside the app's own files may be kept by
/// the browser: the HTTP cache is a plain file in the browser's profile, so
/// a case record, a photo or a search cached there would be readable on a
/// closed, lost phone (the app's own store is sealed). The app's files say
/// `no-cache` of their own (`web`); everything else is `no-store`.
async fn never_stored(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    let app_file = headers
        .get(header::CACHE_CONTROL)
        .is_some_and(|v| v.as_bytes() == b"no-cache");
    if !app_file {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(devices::router())
        .merge(alerts::router())
        .merge(cases::router())
        .merge(documents::router())
        .merge(blobs::router())
        .merge(record::router())
        .merge(admin::router())
        .merge(sync::router())
        .merge(web::router(&state))
        .layer(axum::middleware::map_response(never_stored))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}
