//! The sync connection as samod's [`samod::Dialer`]: samod calls `connect()`
//! for the first dial and for every reconnection, so each attempt first lets
//! the outbox register the records made offline, then buys a fresh
//! single-use ticket, then opens the WebSocket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
#[cfg(not(target_arch = "wasm32"))]
use futures::{SinkExt, StreamExt};
use samod::{DialError, PeerId, Transport};

use super::CoreError;
use super::api_client::ApiClient;
use super::local::Local;
use super::outbox::OutboxDriver;
use fieldvisit_shared::api::{ErrorCode, SERVER_PEER_ID};
use fieldvisit_shared::outbox::Event;
use fieldvisit_shared::records::Kind;

pub struct SyncDialer {
    pub api: ApiClient,
    pub outbox: Arc<OutboxDriver>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DialFailed(String);

impl samod::Dialer for SyncDialer {
    type Error = DialFailed;

    fn url(&self) -> url::Url {
        self.api.base().clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<DialFailed>>> {
        let api = self.api.clone();
        let outbox = self.outbox.clone();
        let work = async move {
            let permanent_or_transient = |e: CoreError| match e.server_code() {
                Some(ErrorCode::DeviceRevoked | ErrorCode::UnknownToken) => {
                    DialError::PermanentFailure(DialFailed(e.to_string()))
                }
                _ => DialError::transient(DialFailed(e.to_string())),
            };
            outbox
                .feed(Event::Online)
                .await
                .map_err(permanent_or_transient)?;
            let ticket = api.ticket().await.map_err(permanent_or_transient)?;
            let url = api
                .sync_url(&ticket.ticket)
                .map_err(|e| DialError::PermanentFailure(DialFailed(e.to_string())))?;
            let transport = open_websocket(url.as_str())
                .await
                .map_err(|e| DialError::transient(DialFailed(e)))?;
            Ok(transport.with_expected_peer_id(PeerId::from(SERVER_PEER_ID)))
        };
        // In the browser fetch and WebSocket futures are not `Send`; they
        // only ever run on the page's one thread.
        #[cfg(target_arch = "wasm32")]
        let work = send_wrapper::SendWrapper::new(work);
        Box::pin(work)
    }
}

#[cfg(target_arch = "wasm32")]
use super::browser::connect_websocket as open_websocket;

#[cfg(not(target_arch = "wasm32"))]
async fn open_websocket(url: &str) -> Result<Transport, String> {
    use tokio_tungstenite::tungstenite::Message;
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| e.to_string())?;
    let (sink, stream) = socket.split();
    let stream = stream.filter_map(|m| async move {
        match m {
            Ok(Message::Binary(b)) => Some(Ok(b.to_vec())),
            Ok(Message::Close(frame)) => {
                if let Some(f) = frame {
                    tracing::warn!(code = %f.code, reason = %f.reason, "server closed the sync connection");
                }
                None
            }
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        }
    });
    let sink = sink.with(|b: Vec<u8>| async move {
        Ok::<_, tokio_tungstenite::tungstenite::Error>(Message::Binary(b.into()))
    });
    Ok(Transport::new(Box::pin(stream), Box::pin(sink)))
}

/// The device's share policy. A record made here is offered to the server
/// only once the server has registered it to its case: offered earlier, the
/// server would refuse it for that connection. So a pending record starts
/// as "not shared" and flips to read-write when the outbox releases it. Its
/// registration is queued before samod makes it (the id is known in
/// advance), so samod's first question already sees it pending. Documents
/// from elsewhere (a colleague's visit the server announces) are shared as
/// usual. While a safeguarding concern is on its way (`holding`, kept by the
/// outbox), nothing else is offered: every other document, visits edited
/// offline included, waits until the server has the concern.
pub fn share_policy(
    local: Local,
    share_changed: tokio::sync::watch::Sender<u64>,
    holding: Arc<AtomicBool>,
) -> impl samod::SharePolicy {
    move |doc: samod::DocumentId, peer: PeerId| {
        let local = local.clone();
        let holding = holding.clone();
        let rx = share_changed.subscribe();
        let doc = doc.to_string();
        let to_server = peer.as_str() == SERVER_PEER_ID;
        futures::stream::unfold(Some((rx, None)), move |state| {
            let (local, holding, doc) = (local.clone(), holding.clone(), doc.clone());
            async move {
                let (mut rx, last): (_, Option<samod::ShareConfig>) = state?;
                if !to_server {
                    return Some((samod::ShareConfig::none(), None));
                }
                loop {
                    let pending = local.is_pending_registration(&doc).unwrap_or(true);
                    let waits = holding.load(Ordering::SeqCst)
                        && local.kind_of(&doc).ok().flatten().as_deref()
                            != Some(Kind::Concern.as_str());
                    let config = if pending || waits {
                        samod::ShareConfig::none()
                    } else {
                        samod::ShareConfig::read_write()
                    };
                    if last.as_ref() != Some(&config) {
                        return Some((config, Some((rx, Some(config)))));
                    }
                    if rx.changed().await.is_err() {
                        return None;
                    }
                }
            }
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use futures::StreamExt;
    use samod::{DocumentId, ShareConfig, SharePolicy};
    use std::time::Duration;

    const MADE_HERE: &str = "2MXzV18EEnx3ZrVNXvRsKgWQTQ72";
    const FROM_ELSEWHERE: &str = "37kszySSeLEH3GnZSM56nQgWfRof";
    const CONCERN: &str = "3gxACzKtahmwPtzDZdhfx6eho6Sq";

    fn id(s: &str) -> DocumentId {
        s.parse().unwrap()
    }

    async fn next(
        stream: &mut (impl futures::Stream<Item = ShareConfig> + Unpin),
    ) -> Option<ShareConfig> {
        tokio::time::timeout(Duration::from_millis(200), stream.next())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn a_visit_reaches_the_server_only_after_its_registration() {
        let dir = tempfile::tempdir().unwrap();
        let local = Local::open(&dir.path().join("device.sqlite")).unwrap();
        let (changed, _) = tokio::sync::watch::channel(0);
        let holding = Arc::new(AtomicBool::new(false));
        let policy = share_policy(local.clone(), changed.clone(), holding.clone());
        let server = PeerId::from(SERVER_PEER_ID);

        // The registration is queued before samod makes the document, so
        // samod's first question is answered "not yet".
        local
            .add_record(MADE_HERE, "visit", "case-1", "", false)
            .unwrap();
        let mut made_here = Box::pin(policy.share(id(MADE_HERE), server.clone()));
        assert_eq!(next(&mut made_here).await, Some(ShareConfig::none()));
        changed.send_modify(|v| *v += 1);
        assert_eq!(next(&mut made_here).await, None, "no answer while pending");

        // The server registers it: now it is shared.
        local.registration_done(MADE_HERE).unwrap();
        changed.send_modify(|v| *v += 1);
        assert_eq!(next(&mut made_here).await, Some(ShareConfig::read_write()));

        // A colleague's visit the server announces is shared at once.
        let mut announced = Box::pin(policy.share(id(FROM_ELSEWHERE), server));
        assert_eq!(next(&mut announced).await, Some(ShareConfig::read_write()));

        // Nothing is offered to any peer but the server.
        let mut other = Box::pin(policy.share(id(FROM_ELSEWHERE), PeerId::from("device-x")));
        assert_eq!(next(&mut other).await, Some(ShareConfig::none()));

        // A concern on its way: everything else waits, the concern goes.
        local
            .add_record(CONCERN, "safeguarding_concern", "case-1", "", false)
            .unwrap();
        local.registration_done(CONCERN).unwrap();
        holding.store(true, std::sync::atomic::Ordering::SeqCst);
        changed.send_modify(|v| *v += 1);
        assert_eq!(next(&mut made_here).await, Some(ShareConfig::none()));
        assert_eq!(next(&mut announced).await, Some(ShareConfig::none()));
        let mut concern = Box::pin(policy.share(id(CONCERN), PeerId::from(SERVER_PEER_ID)));
        assert_eq!(next(&mut concern).await, Some(ShareConfig::read_write()));
        holding.store(false, std::sync::atomic::Ordering::SeqCst);
        changed.send_modify(|v| *v += 1);
        assert_eq!(next(&mut made_here).await, Some(ShareConfig::read_write()));
        assert_eq!(next(&mut announced).await, Some(ShareConfig::read_write()));
        assert_eq!(next(&mut concern).await, None, "unchanged, not said again");
    }
}
