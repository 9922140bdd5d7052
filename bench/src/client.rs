//! A lean device for load: a samod repo in memory, dialling a WebSocket
//! URL on 127.0.0.1 (ours or the reference server), counting every message
//! and byte it sends and receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt};
use samod::{BackoffConfig, ConnectionId, DialError, PeerId, Repo, Transport};
use tokio_tungstenite::tungstenite::Message;

/// Traffic at the clients' sockets, shared by every device of a run.
/// Messages are counted as well as bytes because a server can spend its
/// time on many small messages that the byte count hides.
#[derive(Debug, Default)]
pub struct Bytes {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    /// WebSocket binary messages (samod's frames; pings are not counted).
    pub messages_sent: AtomicU64,
    pub messages_received: AtomicU64,
}

/// Load only ever goes to this machine: a URL elsewhere is refused.
pub fn loopback_only(url: &url::Url) -> Result<()> {
    match url.host_str() {
        Some("127.0.0.1" | "localhost" | "[::1]") => Ok(()),
        other => bail!("load is only sent to 127.0.0.1, not {other:?}"),
    }
}

struct CountingDialer {
    url: url::Url,
    bytes: Arc<Bytes>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failed(String);

impl samod::Dialer for CountingDialer {
    type Error = Failed;

    fn url(&self) -> url::Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Failed>>> {
        let url = self.url.clone();
        let bytes = self.bytes.clone();
        Box::pin(async move {
            let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(|e| DialError::transient(Failed(e.to_string())))?;
            let (sink, stream) = socket.split();
            let received = bytes.clone();
            let stream = stream.filter_map(move |m| {
                let received = received.clone();
                async move {
                    match m {
                        Ok(Message::Binary(b)) => {
                            received
                                .received
                                .fetch_add(b.len() as u64, Ordering::Relaxed);
                            received.messages_received.fetch_add(1, Ordering::Relaxed);
                            Some(Ok(b.to_vec()))
                        }
                        Ok(_) => None,
                        Err(e) => Some(Err(e)),
                    }
                }
            });
            let sink = sink.with(move |b: Vec<u8>| {
                let bytes = bytes.clone();
                async move {
                    bytes.sent.fetch_add(b.len() as u64, Ordering::Relaxed);
                    bytes.messages_sent.fetch_add(1, Ordering::Relaxed);
                    Ok::<_, tokio_tungstenite::tungstenite::Error>(Message::Binary(b.into()))
                }
            });
            Ok(Transport::new(Box::pin(stream), Box::pin(sink)))
        })
    }
}

/// A connected in-memory device and its connection to the server.
pub struct Device {
    pub repo: Repo,
    pub connection: ConnectionId,
    _dialer: samod::DialerHandle<Failed>,
}

pub async fn connect(url: &url::Url, name: &str, bytes: Arc<Bytes>) -> Result<Device> {
    loopback_only(url)?;
    let repo = Repo::build_tokio()
        .with_peer_id(PeerId::from(name.to_owned()))
        .load()
        .await;
    let backoff = BackoffConfig {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(1),
        max_retries: Some(20),
    };
    let dialer = repo
        .dial(
            backoff,
            Arc::new(CountingDialer {
                url: url.clone(),
                bytes,
            }),
        )
        .map_err(|_| anyhow::anyhow!("the repo stopped"))?;
    tokio::time::timeout(Duration::from_secs(30), dialer.established())
        .await
        .context("connecting took over 30 s")?
        .map_err(|e| anyhow::anyhow!("could not connect to {url}: {e}"))?;
    let connection = dialer
        .connection_id()
        .context("connected but no connection id")?;
    Ok(Device {
        repo,
        connection,
        _dialer: dialer,
    })
}
