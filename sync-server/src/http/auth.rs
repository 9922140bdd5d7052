use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::db::Device;
use crate::error::Error;
use crate::secrets;

/// The enrolled, unrevoked device behind a `Bearer` token.
pub struct AuthDevice(pub Device);

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(Error::MissingToken)?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Error::MissingToken)?;
        let hash = secrets::hash(token);
        let device = state
            .db
            .run(move |db| db.device_by_token_hash(&hash))
            .await?
            .ok_or(Error::UnknownToken)?;
        if device.revoked {
            return Err(Error::DeviceRevoked);
        }
        Ok(AuthDevice(device))
    }
}

impl AuthDevice {
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.0.person.role == fieldvisit_shared::api::Role::Admin {
            Ok(())
        } else {
            Err(Error::Forbidden("a practice admin"))
        }
    }
}

/// `Json` whose rejection is our error body rather than axum's plain text.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Error> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(Error::InvalidJson(rejection.body_text())),
        }
    }
}
