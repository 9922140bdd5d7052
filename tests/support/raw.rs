//! A hand-made automerge-repo peer over a raw WebSocket: what an attacker or
//! a broken client would send, byte for byte.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct RawPeer {
    pub socket: Socket,
    pub peer_id: String,
}

/// An HTTP client that speaks this build's protocol version, as the app does.
pub fn client() -> reqwest::Client {
    use fieldvisit_shared::api::{PROTOCOL_HEADER, PROTOCOL_VERSION};
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(PROTOCOL_HEADER, PROTOCOL_VERSION.into());
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// Enrols through HTTP: returns (token, peer id).
pub async fn enrol(url: &str, code: &str) -> (String, String) {
    let resp: serde_json::Value = client()
        .post(format!("{url}/api/enrol"))
        .json(&serde_json::json!({"code": code, "label": "raw"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        resp["token"].as_str().expect("token").to_owned(),
        resp["peer_id"].as_str().expect("peer_id").to_owned(),
    )
}

pub async fn ticket(url: &str, token: &str) -> reqwest::Response {
    client()
        .post(format!("{url}/api/sync/ticket"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn ws_url(url: &str) -> String {
    url.replacen("http://", "ws://", 1)
}

/// An honest `request`: the first sync message of an empty document.
pub fn request_data() -> Vec<u8> {
    use automerge::sync::SyncDoc;
    automerge::Automerge::new()
        .generate_sync_message(&mut automerge::sync::State::new())
        .expect("a first message")
        .encode()
}

pub fn encode(fields: &[(&str, Field<'_>)]) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    e.map(fields.len() as u64).unwrap();
    for (k, v) in fields {
        e.str(k).unwrap();
        match v {
            Field::Str(s) => {
                e.str(s).unwrap();
            }
            Field::Bytes(b) => {
                e.bytes(b).unwrap();
            }
            Field::Uint(n) => {
                e.u64(*n).unwrap();
            }
            Field::Strs(items) => {
                e.array(items.len() as u64).unwrap();
                for i in *items {
                    e.str(i).unwrap();
                }
            }
        }
    }
    e.into_writer()
}

pub enum Field<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
    Strs(&'a [&'a str]),
    Uint(u64),
}

/// A sync message that carries every change of `doc` (as if answering a
/// peer that has nothing).
pub fn sync_data_with_changes(doc: &mut automerge::Automerge) -> Vec<u8> {
    use automerge::sync::SyncDoc;
    let mut state = automerge::sync::State::new();
    let first = doc.generate_sync_message(&mut state).unwrap();
    let mut empty = automerge::Automerge::new();
    let mut empty_state = automerge::sync::State::new();
    empty.receive_sync_message(&mut empty_state, first).unwrap();
    let reply = empty.generate_sync_message(&mut empty_state).unwrap();
    doc.receive_sync_message(&mut state, reply).unwrap();
    doc.generate_sync_message(&mut state).unwrap().encode()
}

impl RawPeer {
    /// Buys a ticket, opens `/sync` and completes the join handshake.
    pub async fn connect(url: &str, token: &str, peer_id: &str) -> RawPeer {
        let t: serde_json::Value = ticket(url, token).await.json().await.unwrap();
        let ticket = t["ticket"].as_str().expect("ticket");
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("{}/sync?ticket={ticket}", ws_url(url)))
                .await
                .expect("websocket");
        let mut peer = RawPeer {
            socket,
            peer_id: peer_id.to_owned(),
        };
        let join = encode(&[
            ("type", Field::Str("join")),
            ("senderId", Field::Str(peer_id)),
            ("supportedProtocolVersions", Field::Strs(&["1"])),
        ]);
        peer.send(join).await;
        let reply = peer.next_binary().await.expect("peer message");
        assert!(
            String::from_utf8_lossy(&reply).contains("peer"),
            "handshake reply"
        );
        peer
    }

    pub async fn send(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    pub async fn send_sync(&mut self, document_id: &str, data: &[u8]) {
        self.send_to_server("sync", document_id, data).await;
    }

    /// A `sync` or `request` message for one document.
    pub async fn send_to_server(&mut self, kind: &str, document_id: &str, data: &[u8]) {
        let msg = encode(&[
            ("type", Field::Str(kind)),
            ("senderId", Field::Str(&self.peer_id.clone())),
            (
                "targetId",
                Field::Str(fieldvisit_shared::api::SERVER_PEER_ID),
            ),
            ("documentId", Field::Str(document_id)),
            ("data", Field::Bytes(data)),
        ]);
        self.send(msg).await;
    }

    /// An ephemeral message (presence, cursors) for one document.
    pub async fn send_ephemeral(&mut self, document_id: &str, session: &str, data: &[u8]) {
        let msg = encode(&[
            ("type", Field::Str("ephemeral")),
            ("senderId", Field::Str(&self.peer_id.clone())),
            (
                "targetId",
                Field::Str(fieldvisit_shared::api::SERVER_PEER_ID),
            ),
            ("count", Field::Uint(1)),
            ("sessionId", Field::Str(session)),
            ("documentId", Field::Str(document_id)),
            ("data", Field::Bytes(data)),
        ]);
        self.send(msg).await;
    }

    pub async fn next_binary(&mut self) -> Option<Vec<u8>> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => return Some(b.to_vec()),
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                    return None;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    /// Reads until the server answers about `document_id` with anything but
    /// a notice; returns the answer's type (`sync`, `doc-unavailable`).
    pub async fn answer_for(&mut self, document_id: &str) -> Option<String> {
        loop {
            let (kind, doc, _) = fields(&self.next_binary().await?);
            if doc.as_deref() == Some(document_id) && kind.as_deref() != Some("ephemeral") {
                return kind;
            }
        }
    }

    /// Reads until the server says it refused this peer's changes to
    /// `document_id` (an ephemeral notice); returns the refusal's code.
    pub async fn refusal_for(&mut self, document_id: &str) -> Option<String> {
        loop {
            let (kind, doc, data) = fields(&self.next_binary().await?);
            if kind.as_deref() == Some("ephemeral") && doc.as_deref() == Some(document_id) {
                let notice: serde_json::Value = serde_json::from_slice(&data?).ok()?;
                return notice["refused"]["code"].as_str().map(str::to_owned);
            }
        }
    }

    /// Reads until the server asks for changes of `document_id` (a sync
    /// message whose `need` is not empty); returns what it asks for.
    pub async fn asked_for(&mut self, document_id: &str) -> Option<Vec<automerge::ChangeHash>> {
        loop {
            let (kind, doc, data) = fields(&self.next_binary().await?);
            if kind.as_deref() == Some("sync") && doc.as_deref() == Some(document_id) {
                let message = automerge::sync::Message::decode(&data?).ok()?;
                if !message.need.is_empty() {
                    return Some(message.need);
                }
            }
        }
    }

    /// Reads until the server closes; returns its close code and reason.
    pub async fn closed_with(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await {
                Ok(Some(Ok(Message::Close(Some(frame))))) => {
                    return Some((frame.code.into(), frame.reason.to_string()));
                }
                Ok(Some(Ok(Message::Close(None)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                    return None;
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// A repo message's type, document and data.
fn fields(bytes: &[u8]) -> (Option<String>, Option<String>, Option<Vec<u8>>) {
    let mut d = minicbor::Decoder::new(bytes);
    let (mut kind, mut doc, mut data) = (None, None, None);
    let Ok(Some(len)) = d.map() else {
        return (kind, doc, data);
    };
    for _ in 0..len {
        match d.str() {
            Ok("type") => kind = d.str().ok().map(str::to_owned),
            Ok("documentId") => doc = d.str().ok().map(str::to_owned),
            Ok("data") => data = d.bytes().ok().map(<[u8]>::to_vec),
            Ok(_) => {
                let _ = d.skip();
            }
            Err(_) => break,
        }
    }
    (kind, doc, data)
}
