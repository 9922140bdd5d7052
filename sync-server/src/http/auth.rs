use fieldvisit_shared::api::ErrorCode;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use fieldvisit_shared::api::{PROTOCOL_HEADER, PROTOCOL_VERSION};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::db::{Audit, Db, Device};
use crate::error::Error;
use crate::secrets;
use crate::throttle::{Throttle, Verdict};

/// The address a request came from, when the server knows it: behind a
/// trusted proxy, the client's (`crate::proxy`).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| crate::proxy::client_ip(c.0.ip(), &parts.headers, &state.trusted_proxies)),
        ))
    }
}

impl ClientIp {
    /// Spends one attempt (`spend`) or checks there is one left, refusing
    /// with `rate_limited` when the address has none; the first refusal of
    /// a streak is audited.
    pub async fn throttle(
        &self,
        throttle: &Throttle,
        spend: bool,
        db: &Db,
        what: &'static str,
    ) -> Result<(), Error> {
        let Some(ip) = self.0 else {
            return Ok(());
        };
        let verdict = if spend {
            throttle.spend(ip, Instant::now())
        } else {
            throttle.check(ip, Instant::now())
        };
        match verdict {
            Verdict::Allowed => Ok(()),
            Verdict::Refused { first } => {
                if first {
                    let detail = format!("{what} from {ip}");
                    let db = db.clone();
                    let result = db
                        .run(move |db| {
                            db.audit(&Audit {
                                action: "rate_limited",
                                detail: &detail,
                                ..Default::default()
                            })
                        })
                        .await;
                    if let Err(e) = result {
                        tracing::error!(error = %e, "could not write audit entry");
                    }
                }
                Err(Error::RateLimited)
            }
        }
    }
}

/// The enrolled, unrevoked device behind a `Bearer` token.
pub struct AuthDevice(pub Device);

/// The app's protocol version (see `fieldvisit_shared::api::PROTOCOL_VERSION`):
/// any other is refused with 426 and a message that says what to update.
pub struct AppProtocol;

impl FromRequestParts<AppState> for AppProtocol {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Error> {
        let app = parts
            .headers
            .get(PROTOCOL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        match app {
            Some(v) if v == PROTOCOL_VERSION => Ok(AppProtocol),
            app => Err(Error::Outdated { app }),
        }
    }
}

impl FromRequestParts<AppState> for AuthDevice {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let device = device_for_token(parts, state).await?;
        if device.revoked {
            return Err(Error::DeviceRevoked);
        }
        // When it was last seen, for finding a lost phone: written at most
        // once a minute per device, and never at the request's expense.
        let now = Instant::now();
        if state.throttles.seen.spend(device.id.clone(), now) == Verdict::Allowed {
            let id = device.id.clone();
            if let Err(e) = state.db.run(move |db| db.device_seen(&id)).await {
                tracing::warn!(error = %e, "could not note when a device was last seen");
            }
        }
        Ok(AuthDevice(device))
    }
}

/// The device behind a `Bearer` token, revoked or not: only for a revoked
/// device to say that it wiped itself.
pub struct AnyDevice(pub Device);

impl FromRequestParts<AppState> for AnyDevice {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        Ok(AnyDevice(device_for_token(parts, state).await?))
    }
}

async fn device_for_token(parts: &mut Parts, state: &AppState) -> Result<Device, Error> {
    AppProtocol::from_request_parts(parts, state).await?;
    let ip = ClientIp::from_request_parts(parts, state).await?;
    ip.throttle(
        &state.throttles.auth_failures,
        false,
        &state.db,
        "authentication",
    )
    .await?;
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
        .await?;
    let Some(device) = device else {
        // A failed guess costs the address one attempt.
        let _ = ip
            .throttle(
                &state.throttles.auth_failures,
                true,
                &state.db,
                "authentication",
            )
            .await;
        return Err(Error::UnknownToken);
    };
    Ok(device)
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

/// `Query` whose rejection is our error body rather than axum's plain text.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(Error::BadRequest(
                ErrorCode::BadQuery,
                rejection.body_text(),
            )),
        }
    }
}
