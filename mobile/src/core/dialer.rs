//! The sync connection as samod's [`samod::Dialer`]: samod calls `connect()`
//! for the first dial and for every reconnection, so each attempt first sends
//! the visit registrations made offline, then buys a fresh single-use ticket,
//! then opens the WebSocket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
#[cfg(not(target_arch = "wasm32"))]
use futures::{SinkExt, StreamExt};
use samod::{DialError, PeerId, Transport};

use super::CoreError;
use super::api_client::ApiClient;
use super::local::Local;
use fieldvisit_shared::api::SERVER_PEER_ID;

pub struct SyncDialer {
    pub api: ApiClient,
    pub local: Local,
    pub share_changed: tokio::sync::watch::Sender<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DialFailed(String);

/// Sends queued registrations. A refusal (the case was unassigned, the id
/// clashed) is kept with its reason and does not stop sync of the rest.
/// Each success bumps `share_changed`, which releases the document to sync
/// (see [`share_policy`]).
pub async fn flush_registrations(
    api: &ApiClient,
    local: &Local,
    share_changed: &tokio::sync::watch::Sender<u64>,
) -> Result<(), CoreError> {
    for pending in local.pending_registrations()? {
        let document_id = &pending.document_id;
        match api.register_visit(&pending).await {
            Ok(_) => {
                local.registration_done(document_id)?;
                share_changed.send_modify(|v| *v += 1);
            }
            Err(CoreError::Server(body)) => {
                tracing::warn!(%document_id, error = %body.message, "visit registration refused");
                local.registration_failed(document_id, &body.message)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl samod::Dialer for SyncDialer {
    type Error = DialFailed;

    fn url(&self) -> url::Url {
        self.api.base().clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<DialFailed>>> {
        let api = self.api.clone();
        let local = self.local.clone();
        let share_changed = self.share_changed.clone();
        let work = async move {
            let permanent_or_transient = |e: CoreError| match e.server_code() {
                Some("device_revoked" | "unknown_token") => {
                    DialError::PermanentFailure(DialFailed(e.to_string()))
                }
                _ => DialError::transient(DialFailed(e.to_string())),
            };
            flush_registrations(&api, &local, &share_changed)
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

/// The device's share policy. A visit created here is offered to the
/// server only once the server has registered it to its case: offered
/// earlier, the server would refuse it for that connection. So a pending
/// visit starts as "not shared" and flips to read-write when its
/// registration lands.
///
/// samod asks about a new document inside `create`, before its id is known
/// to us and so before its registration can be queued. While a visit is
/// being created (`creating` above zero) documents this device does not
/// know yet are held back too; the creation ends with a bump of
/// `share_changed`, which re-asks. Documents from elsewhere (a colleague's
/// visit the server announces) are otherwise shared as usual.
pub fn share_policy(
    local: Local,
    share_changed: tokio::sync::watch::Sender<u64>,
    creating: Arc<AtomicUsize>,
) -> impl samod::SharePolicy {
    move |doc: samod::DocumentId, peer: PeerId| {
        let local = local.clone();
        let creating = creating.clone();
        let rx = share_changed.subscribe();
        let doc = doc.to_string();
        let to_server = peer.as_str() == SERVER_PEER_ID;
        futures::stream::unfold(Some((true, rx)), move |state| {
            let local = local.clone();
            let creating = creating.clone();
            let doc = doc.clone();
            async move {
                let (first, mut rx) = state?;
                if !to_server {
                    return Some((samod::ShareConfig::none(), None));
                }
                loop {
                    let pending = local.is_pending_registration(&doc).unwrap_or(true);
                    let maybe_being_created = creating.load(Ordering::SeqCst) > 0
                        && !local.is_known(&doc).unwrap_or(false);
                    if !pending && !maybe_being_created {
                        return Some((samod::ShareConfig::read_write(), None));
                    }
                    if first {
                        return Some((samod::ShareConfig::none(), Some((false, rx))));
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
        let creating = Arc::new(AtomicUsize::new(0));
        let policy = share_policy(local.clone(), changed.clone(), creating.clone());
        let server = PeerId::from(SERVER_PEER_ID);

        // samod asks while the visit is being created, before we know its id.
        creating.fetch_add(1, Ordering::SeqCst);
        let mut made_here = Box::pin(policy.share(id(MADE_HERE), server.clone()));
        assert_eq!(next(&mut made_here).await, Some(ShareConfig::none()));

        // The creation ends with the registration queued: still withheld.
        local.add_visit(MADE_HERE, "case-1", "").unwrap();
        creating.fetch_sub(1, Ordering::SeqCst);
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
    }
}
