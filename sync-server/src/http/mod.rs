//! The HTTP layer: one state type, one `router()` per resource, thin handlers.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;

use crate::db::Db;
use crate::sync::SyncEngine;

mod admin;
mod auth;
mod cases;
mod devices;
mod health;
mod sync;
mod web;

pub use auth::{ApiJson, AuthDevice};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub engine: Arc<SyncEngine>,
    /// The built web app, when there is one.
    pub web_dir: Option<PathBuf>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(devices::router())
        .merge(cases::router())
        .merge(admin::router())
        .merge(sync::router())
        .merge(web::router(&state))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .with_state(state)
}
