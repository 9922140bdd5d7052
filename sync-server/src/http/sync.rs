//! `GET /sync?ticket=...`: the WebSocket speaking automerge-repo's protocol.
//! Browsers cannot set headers on a WebSocket, so the upgrade carries a
//! single-use ticket bought with the device token, never the token itself.

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::{AppState, ClientIp};
use crate::error::{Error, Result};

/// Bytes each sync socket's read buffer starts with, and reads at most at
/// a time (see `upgrade`).
const SOCKET_READ_BUFFER: usize = 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/sync", get(upgrade))
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    ip: ClientIp,
    Query(q): Query<TicketQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response> {
    let engine = state.engine.clone();
    let ticket = q.ticket.filter(|t| !t.is_empty());
    let open_without_ticket = ticket.is_none() && engine.limits.insecure_open_access;
    let ticket = if open_without_ticket {
        None
    } else {
        Some(ticket.ok_or(Error::MissingTicket)?)
    };
    let ws = ws.map_err(|_| Error::NotWebSocket)?;
    let device = match ticket {
        None => None,
        Some(ticket) => {
            ip.throttle(
                &state.throttles.auth_failures,
                false,
                &state.db,
                "sync ticket",
            )
            .await?;
            let Some(device_id) = engine.redeem_ticket(&ticket) else {
                let _ = ip
                    .throttle(
                        &state.throttles.auth_failures,
                        true,
                        &state.db,
                        "sync ticket",
                    )
                    .await;
                return Err(Error::InvalidTicket);
            };
            let device = state.db.run(move |db| db.device(&device_id)).await?;
            if device.revoked {
                return Err(Error::DeviceRevoked);
            }
            Some(device)
        }
    };
    // Twice our own limit: larger frames are cut off by the socket itself;
    // ours get a close frame that says why.
    let slot = match &device {
        Some(d) => Some(engine.open_slot(&d.id)?),
        None => None,
    };
    let hard_limit = engine.limits.max_message_bytes.saturating_mul(2);
    // The socket's read buffer is allocated whole when it opens: the
    // default 128 KiB made an idle connection cost about 144 KiB of the
    // server's memory, and 4 KiB still a quarter of it. Most sync messages
    // are smaller than 1 KiB. A larger message still arrives whole: the
    // buffer grows to its length, and it is read 1 KiB per call (a
    // megabyte costs about a thousand reads, a millisecond or two). Nothing is kept back for writing either: the writer
    // flushes every message.
    Ok(ws
        .read_buffer_size(SOCKET_READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| engine.serve_connection(socket, device, slot)))
}
