//! Safeguarding alerts for the case's supervisors: the list, and a live
//! stream (server-sent events) an open app reads, so a concern shows on
//! the supervisor's screen the moment it reaches the server. And what
//! every device keeps for when it has no signal (the number to phone a
//! concern in to).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use fieldvisit_shared::api::{AlertView, PracticeInfo, Role};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::{AppState, AuthDevice};
use crate::error::{Error, Result};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/alerts", get(list))
        .route("/api/alerts/stream", get(stream))
        .route("/api/practice", get(practice))
}

fn supervisor(role: &Role) -> Result<()> {
    if *role == Role::Supervisor {
        Ok(())
    } else {
        Err(Error::Forbidden("a supervisor"))
    }
}

async fn list(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
) -> Result<Json<Vec<AlertView>>> {
    supervisor(&device.person.role)?;
    let person = device.person.id.clone();
    Ok(Json(state.db.run(move |db| db.alerts_for(&person)).await?))
}

/// Every alert still waiting for acknowledgement first, then each alert
/// raised or acknowledged from now on, of the cases this supervisor may
/// see. A stream that falls behind is told to read the list again
/// (`event: resync`).
async fn stream(
    State(state): State<AppState>,
    AuthDevice(device): AuthDevice,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    supervisor(&device.person.role)?;
    let slot = state
        .engine
        .alerts
        .open_stream(&device.id)
        .ok_or(Error::TooMany("open alert streams for this device"))?;
    // Subscribed before reading the list, so nothing falls between.
    let mut live = state.engine.alerts.subscribe();
    let person = device.person.id.clone();
    let waiting: Vec<AlertView> = state
        .db
        .run(move |db| db.alerts_for(&person))
        .await?
        .into_iter()
        .filter(|a| a.acknowledged_at.is_none())
        .collect();
    let db = state.db.clone();
    let engine = state.engine.clone();
    let mut revoked = engine.revocations();
    let (person, device_id) = (device.person.id, device.id);
    let events = async_stream_of(move |tx| async move {
        let _slot = slot;
        for alert in waiting {
            if tx.send(alert_event(&alert)).await.is_err() {
                return;
            }
        }
        loop {
            // Ends as soon as the app goes or the device is revoked, not at
            // the next alert it may see: a quiet practice would otherwise
            // keep every stream ever opened.
            let got = tokio::select! {
                _ = tx.closed() => return,
                id = revoked.recv() => match id {
                    Ok(id) if id == device_id => return,
                    Err(RecvError::Lagged(_)) if engine.is_revoked(&device_id) => return,
                    Err(RecvError::Closed) => return,
                    _ => continue,
                },
                got = live.recv() => got,
            };
            let event = match got {
                Ok(alert) => {
                    let (p, c) = (person.clone(), alert.case_id.clone());
                    match db.run(move |db| db.sees_case(&p, &c)).await {
                        Ok(true) => alert_event(&alert),
                        Ok(false) => continue,
                        Err(e) => {
                            tracing::error!(error = %e, "could not check an alert's case");
                            Event::default().event("resync").data("{}")
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                Err(RecvError::Closed) => return,
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20))))
}

fn alert_event(alert: &AlertView) -> Event {
    Event::default()
        .event("alert")
        .id(alert.id.clone())
        .json_data(alert)
        .unwrap_or_else(|_| Event::default().event("resync").data("{}"))
}

/// A stream fed by a task; the task ends when the client goes.
fn async_stream_of<F, Fut>(produce: F) -> impl Stream<Item = std::result::Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(produce(tx));
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

async fn practice(
    State(state): State<AppState>,
    AuthDevice(_device): AuthDevice,
) -> Result<Json<PracticeInfo>> {
    Ok(Json(PracticeInfo {
        safeguarding_phone: state.db.run(|db| db.safeguarding_phone()).await?,
    }))
}
