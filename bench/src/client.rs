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

/// A peer that costs the client almost nothing: a plain WebSocket that
/// speaks just enough of automerge-repo's protocol (join, then request one
/// document) to be a real connection on the server, then sits idle. Many
/// thousands of these measure what the server keeps per connection, which
/// a samod repo per connection would drown in its own memory and CPU.
pub type IdleSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What every idle peer asks for: one document and the sync message an
/// empty document opens with (the same bytes for every peer).
pub struct Fetch {
    pub document_id: String,
    pub opening: Vec<u8>,
}

impl Fetch {
    /// The opening is generated once, as a fresh device with nothing of the
    /// document would send it.
    pub fn new(document_id: String) -> Result<Self> {
        use automerge::sync::SyncDoc;
        let opening = automerge::Automerge::new()
            .generate_sync_message(&mut automerge::sync::State::new())
            .context("an empty document had no opening sync message")?
            .encode();
        Ok(Fetch {
            document_id,
            opening,
        })
    }
}

/// The fields of a repo message an idle peer looks at.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub kind: String,
    pub sender: Option<String>,
    pub document_id: Option<String>,
    /// The text of an `error` message.
    pub message: Option<String>,
}

/// `join` as automerge-repo's clients send it (no metadata: neither server
/// needs it to answer).
pub fn join_message(peer_id: &str) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = e
        .map(3)
        .and_then(|e| e.str("type")?.str("join"))
        .and_then(|e| e.str("senderId")?.str(peer_id))
        .and_then(|e| e.str("supportedProtocolVersions")?.array(1)?.str("1"));
    e.into_writer()
}

/// `request` for a document, carrying an automerge sync message.
pub fn request_message(sender: &str, target: &str, document_id: &str, data: &[u8]) -> Vec<u8> {
    repo_message("request", sender, target, document_id, data)
}

/// A repo message of `kind` (`request`, `sync`) carrying an automerge sync
/// message.
pub fn repo_message(
    kind: &str,
    sender: &str,
    target: &str,
    document_id: &str,
    data: &[u8],
) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = e
        .map(5)
        .and_then(|e| e.str("type")?.str(kind))
        .and_then(|e| e.str("documentId")?.str(document_id))
        .and_then(|e| e.str("senderId")?.str(sender))
        .and_then(|e| e.str("targetId")?.str(target))
        .and_then(|e| e.str("data")?.bytes(data));
    e.into_writer()
}

/// The header of a repo message from the server; `None` when the bytes are
/// not a CBOR map with a string `type`. A field of another type than
/// expected is skipped rather than trusted.
pub fn header(bytes: &[u8]) -> Option<Header> {
    let mut d = minicbor::Decoder::new(bytes);
    let len = d.map().ok()??;
    let mut h = Header::default();
    let mut kind = None;
    for _ in 0..len {
        let key = d.str().ok()?;
        let field = match key {
            "type" => &mut kind,
            "senderId" => &mut h.sender,
            "documentId" => &mut h.document_id,
            "message" => &mut h.message,
            _ => {
                d.skip().ok()?;
                continue;
            }
        };
        if d.datatype().ok()? == minicbor::data::Type::String {
            *field = Some(d.str().ok()?.to_owned());
        } else {
            d.skip().ok()?;
        }
    }
    h.kind = kind?;
    Some(h)
}

/// The next repo message on `socket`, its header read; pings are answered
/// by the socket itself on the next read.
async fn next_header(socket: &mut IdleSocket) -> Result<Header> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Binary(bytes))) => {
                return header(&bytes)
                    .context("the server sent a message that is not a repo message");
            }
            Some(Ok(Message::Close(frame))) => {
                bail!("the server closed the connection: {frame:?}")
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("reading from the server"),
            None => bail!("the server closed the connection"),
        }
    }
}

/// Dials `url` as the idle peer `peer_id`, joins, and requests the
/// document until the server answers with a `sync` message for it: the
/// server then holds this peer and its interest in the document as a real
/// device's. The socket's buffers are kept small (the server's are what is
/// measured); the caller keeps it open with [`stay_idle`]. Taking longer
/// than `patience` is an error.
pub async fn open_idle(
    url: &url::Url,
    peer_id: &str,
    fetch: &Fetch,
    patience: Duration,
) -> Result<IdleSocket> {
    loopback_only(url)?;
    tokio::time::timeout(patience, async {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4 * 1024)
            .write_buffer_size(0);
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                .await
                .context("connecting")?;
        socket
            .send(Message::Binary(join_message(peer_id).into()))
            .await
            .context("sending join")?;
        let server = loop {
            let h = next_header(&mut socket).await?;
            match h.kind.as_str() {
                "peer" => break h.sender.context("the peer message has no senderId")?,
                "error" => bail!("the server refused the join: {:?}", h.message),
                _ => {}
            }
        };
        let request = request_message(peer_id, &server, &fetch.document_id, &fetch.opening);
        socket
            .send(Message::Binary(request.into()))
            .await
            .context("sending request")?;
        loop {
            let h = next_header(&mut socket).await?;
            let ours = h.document_id.as_deref() == Some(fetch.document_id.as_str());
            match h.kind.as_str() {
                "sync" if ours => return Ok(socket),
                "doc-unavailable" if ours => {
                    bail!("the server does not have {}", fetch.document_id)
                }
                "error" => bail!("the server sent an error: {:?}", h.message),
                _ => {}
            }
        }
    })
    .await
    .with_context(|| format!("joining and fetching took over {} s", patience.as_secs()))?
}

/// What reached the idle peers after they had their document, and how many
/// of them the server closed: an idle measurement is only one if both stay
/// (near) zero.
#[derive(Debug, Default)]
pub struct Idling {
    /// Pings (the reference server sends one every 5 s), answered.
    pub pings: AtomicU64,
    /// Anything else, repo messages above all.
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub closed: AtomicU64,
}

/// Keeps an idle peer's socket open until the server closes it or the task
/// is dropped: whatever arrives is counted and discarded, and reading is
/// what sends the socket's pong to a ping.
pub async fn stay_idle(mut socket: IdleSocket, idling: Arc<Idling>) {
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Close(_) => break,
            Message::Ping(_) => {
                idling.pings.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            _ => {}
        }
        idling.messages.fetch_add(1, Ordering::Relaxed);
        idling
            .bytes
            .fetch_add(message.len() as u64, Ordering::Relaxed);
    }
    idling.closed.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_an_idle_peer_sends_read_back() {
        let join = header(&join_message("idle-7")).unwrap();
        assert_eq!(join.kind, "join");
        assert_eq!(join.sender.as_deref(), Some("idle-7"));
        let request = header(&request_message("idle-7", "server", "doc", b"\x42")).unwrap();
        assert_eq!(request.kind, "request");
        assert_eq!(request.document_id.as_deref(), Some("doc"));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_skipped() {
        let mut e = minicbor::Encoder::new(Vec::new());
        e.map(3).unwrap();
        e.str("senderId").unwrap().u64(7).unwrap();
        e.str("type").unwrap().str("peer").unwrap();
        e.str("extra").unwrap().array(1).unwrap().str("x").unwrap();
        let h = header(&e.into_writer()).unwrap();
        assert_eq!(h.kind, "peer");
        assert_eq!(h.sender, None);
        assert_eq!(header(b"\x01"), None);
    }

    #[test]
    fn an_empty_document_has_an_opening() {
        assert!(!Fetch::new("doc".into()).unwrap().opening.is_empty());
    }
}
