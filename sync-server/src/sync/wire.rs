//! A look at each inbound sync message before samod gets it, as a pure
//! function: refuse what is too large or not a well-formed automerge-repo
//! message (with a reason the client can read in the close frame), check
//! the automerge sync payload inside it ([`super::payload`]), and say which
//! document it concerns and whether it carries changes, so the gate can
//! decide and refused writes can be audited.

use super::payload;

/// What an acceptable message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub kind: String,
    pub document_id: Option<String>,
    /// A sync or request message whose automerge payload holds changes.
    pub carries_changes: bool,
    /// The operations those changes claim (what judging them costs).
    pub ops: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("message of {len} bytes is over the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("{0}")]
    Malformed(String),
}

impl Rejection {
    /// WebSocket close code: 1009 (too big) or 1007 (invalid payload).
    pub fn close_code(&self) -> u16 {
        match self {
            Rejection::TooLarge { .. } => 1009,
            Rejection::Malformed(_) => 1007,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Rejection::TooLarge { .. } => "message_too_large",
            Rejection::Malformed(_) => "malformed_message",
        }
    }
}

const KNOWN_TYPES: &[&str] = &[
    "join",
    "peer",
    "leave",
    "request",
    "sync",
    "doc-unavailable",
    "ephemeral",
    "error",
    "remote-subscription-change",
    "remote-heads-changed",
];

/// A document id in its one canonical spelling (bs58check, as samod writes
/// it), or `None`. Other spellings of the same id would otherwise slip past
/// the registry and the audit log as different ids.
pub fn canonical_document_id(s: &str) -> Option<samod::DocumentId> {
    let id: samod::DocumentId = s.parse().ok()?;
    (id.to_string() == s).then_some(id)
}

/// The answer for a document the device may not see or that does not
/// exist: the same bytes either way.
pub fn doc_unavailable(sender: &str, target: &str, document_id: &str) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = e
        .map(4)
        .and_then(|e| e.str("type")?.str("doc-unavailable"))
        .and_then(|e| e.str("senderId")?.str(sender))
        .and_then(|e| e.str("targetId")?.str(target))
        .and_then(|e| e.str("documentId")?.str(document_id));
    e.into_writer()
}

/// A sync message from the server about `document_id` that samod did not
/// write: the server's own question for changes it lacks (`super::held`).
pub fn sync_message(sender: &str, target: &str, document_id: &str, data: &[u8]) -> Vec<u8> {
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = e
        .map(5)
        .and_then(|e| e.str("type")?.str("sync"))
        .and_then(|e| e.str("documentId")?.str(document_id))
        .and_then(|e| e.str("senderId")?.str(sender))
        .and_then(|e| e.str("targetId")?.str(target))
        .and_then(|e| e.str("data")?.bytes(data));
    e.into_writer()
}

/// Tells a device that the server refused its changes to `document_id`,
/// and why: an ephemeral message from the server (samod hands its `data`
/// to the document's handle), so the device can show the reason on the
/// record. `data` is a JSON `api::RefusalNotice`: `{"refused": {"code": ..., "message": ...}}`.
pub fn refusal_notice(
    sender: &str,
    target: &str,
    document_id: &str,
    session: &str,
    count: u64,
    refusal: &fieldvisit_shared::records::Refusal,
) -> Vec<u8> {
    let notice = fieldvisit_shared::api::RefusalNotice {
        refused: fieldvisit_shared::api::RefusedChanges {
            code: refusal.code.to_owned(),
            message: refusal.message.clone(),
        },
    };
    // A struct of two strings always serialises.
    let data = serde_json::to_string(&notice).unwrap_or_default();
    let mut e = minicbor::Encoder::new(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = e
        .map(7)
        .and_then(|e| e.str("type")?.str("ephemeral"))
        .and_then(|e| e.str("senderId")?.str(sender))
        .and_then(|e| e.str("targetId")?.str(target))
        .and_then(|e| e.str("count")?.u64(count))
        .and_then(|e| e.str("sessionId")?.str(session))
        .and_then(|e| e.str("documentId")?.str(document_id))
        .and_then(|e| e.str("data")?.bytes(data.as_bytes()));
    e.into_writer()
}

/// The `data` field of a repo message (the automerge sync payload of a
/// `sync` or `request`), for tests and the fuzzer.
pub fn sync_payload(bytes: &[u8]) -> Option<&[u8]> {
    let mut d = minicbor::Decoder::new(bytes);
    let len = d.map().ok()??;
    for _ in 0..len {
        if d.str().ok()? == "data" {
            return d.bytes().ok();
        }
        d.skip().ok()?;
    }
    None
}

/// `message` (a repo message that [`inspect`] passed) with `data` as its
/// payload: every other key and value as the device wrote them. `None` if
/// it has no `data` or does not read as a repo message.
pub fn with_data(message: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut d = minicbor::Decoder::new(message);
    let len = d.map().ok()??;
    let mut out = message[..d.position()].to_vec();
    let mut replaced = false;
    for _ in 0..len {
        let key_start = d.position();
        let key = d.str().ok()?;
        let value_start = d.position();
        d.skip().ok()?;
        if key == "data" {
            out.extend_from_slice(&message[key_start..value_start]);
            let mut e = minicbor::Encoder::new(&mut out);
            e.bytes(data).ok()?;
            replaced = true;
        } else {
            out.extend_from_slice(&message[key_start..d.position()]);
        }
    }
    replaced.then_some(out)
}

/// Keys a repo message may have (automerge-repo's carry at most eight).
const MAX_KEYS: u64 = 16;

pub fn inspect(bytes: &[u8], max: usize, limits: &payload::Limits) -> Result<Inbound, Rejection> {
    if bytes.len() > max {
        return Err(Rejection::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let bad = |what: &str| Rejection::Malformed(format!("not an automerge-repo message: {what}"));
    let mut d = minicbor::Decoder::new(bytes);
    let len = d
        .map()
        .map_err(|_| bad("expected a CBOR map"))?
        .ok_or_else(|| bad("indefinite-length map"))?;
    if len > MAX_KEYS {
        return Err(bad("more keys than any repo message has"));
    }
    let mut kind = None;
    let mut document_id = None;
    let mut data = None;
    // A key given twice would let what is checked here (and judged by the
    // rules) differ from what samod applies, which keeps the last.
    let mut seen: Vec<&str> = Vec::new();
    for _ in 0..len {
        let key = d.str().map_err(|_| bad("map key is not a string"))?;
        if seen.contains(&key) {
            return Err(bad(&format!("the key {key:?} appears twice")));
        }
        seen.push(key);
        match key {
            "type" => kind = Some(d.str().map_err(|_| bad("type is not a string"))?.to_owned()),
            "documentId" => {
                // JS sends the bs58check string; the protocol also allows raw bytes.
                let id = match d.datatype() {
                    Ok(minicbor::data::Type::Bytes) => {
                        let raw = d.bytes().map_err(|_| bad("documentId is truncated"))?;
                        samod::DocumentId::try_from(raw.to_vec())
                            .map_err(|_| bad("documentId is not a document id"))?
                            .to_string()
                    }
                    _ => {
                        let s = d.str().map_err(|_| bad("documentId is not a string"))?;
                        canonical_document_id(s)
                            .ok_or_else(|| bad("documentId is not a canonical document id"))?
                            .to_string()
                    }
                };
                document_id = Some(id);
            }
            "data" => data = Some(d.bytes().map_err(|_| bad("data is not bytes"))?),
            _ => d.skip().map_err(|_| bad("truncated value"))?,
        }
    }
    if d.position() != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    let kind = kind.ok_or_else(|| bad("no type"))?;
    if !KNOWN_TYPES.contains(&kind.as_str()) {
        return Err(bad(&format!("unknown type {kind:?}")));
    }
    let mut carries_changes = false;
    let mut ops = 0;
    if kind == "sync" || kind == "request" {
        if document_id.is_none() {
            return Err(bad("sync message without documentId"));
        }
        let data = data.ok_or_else(|| bad("sync message without data"))?;
        let summary = payload::check(data, limits)
            .map_err(|e| Rejection::Malformed(format!("the sync payload is refused: {e}")))?;
        carries_changes = summary.carries_changes;
        ops = summary.ops;
    }
    Ok(Inbound {
        kind,
        document_id,
        carries_changes,
        ops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "pEbmSWqJdBuPadRGm8tDZXgWR6";

    #[test]
    fn only_the_canonical_spelling_of_a_document_id_is_accepted() {
        let id = samod::DocumentId::new(&mut rand::rng()).to_string();
        assert!(canonical_document_id(&id).is_some());
        // The same id in samod's legacy UUID spelling.
        let hex = hex::encode(canonical_document_id(&id).unwrap().as_bytes());
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        assert!(uuid.parse::<samod::DocumentId>().is_ok());
        assert!(canonical_document_id(&uuid).is_none());
        assert!(canonical_document_id(&format!(" {id}")).is_none());
        assert!(canonical_document_id(&format!("automerge:{id}")).is_none());
        assert!(canonical_document_id("abc").is_none());
        let m = encode(&[
            ("type", Value::Str("request")),
            ("documentId", Value::Str("abc")),
            ("data", Value::Bytes(sync_data(false))),
        ]);
        let r = inspect(&m, 1 << 20, &payload::Limits::default()).unwrap_err();
        assert!(r.to_string().contains("canonical"), "{r}");
    }

    fn encode(fields: &[(&str, Value)]) -> Vec<u8> {
        let mut e = minicbor::Encoder::new(Vec::new());
        e.map(fields.len() as u64).unwrap();
        for (k, v) in fields {
            e.str(k).unwrap();
            match v {
                Value::Str(s) => e.str(s).unwrap(),
                Value::Bytes(b) => e.bytes(b).unwrap(),
            };
        }
        e.into_writer()
    }

    enum Value {
        Str(&'static str),
        Bytes(Vec<u8>),
    }

    fn sync_data(with_change: bool) -> Vec<u8> {
        use automerge::sync::SyncDoc;
        use automerge::transaction::Transactable;
        let mut doc = automerge::Automerge::new();
        if with_change {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(automerge::ROOT, "x", 1)?;
                Ok(())
            })
            .unwrap();
        }
        let mut state = automerge::sync::State::new();
        let first = doc.generate_sync_message(&mut state).unwrap();
        if !with_change {
            return first.encode();
        }
        // Pretend the peer answered "I have nothing", so changes follow.
        let mut peer = automerge::Automerge::new();
        let mut peer_state = automerge::sync::State::new();
        peer.receive_sync_message(&mut peer_state, first).unwrap();
        let reply = peer.generate_sync_message(&mut peer_state).unwrap();
        doc.receive_sync_message(&mut state, reply).unwrap();
        doc.generate_sync_message(&mut state).unwrap().encode()
    }

    #[test]
    fn a_sync_message_with_changes_is_recognised() {
        let m = encode(&[
            ("type", Value::Str("sync")),
            ("documentId", Value::Str(DOC)),
            ("senderId", Value::Str("p")),
            ("targetId", Value::Str("q")),
            ("data", Value::Bytes(sync_data(true))),
        ]);
        let got = inspect(&m, 1 << 20, &payload::Limits::default()).unwrap();
        assert_eq!(got.kind, "sync");
        assert_eq!(got.document_id.as_deref(), Some(DOC));
        assert!(got.carries_changes);
        let m = encode(&[
            ("type", Value::Str("request")),
            ("documentId", Value::Str(DOC)),
            ("data", Value::Bytes(sync_data(false))),
        ]);
        assert!(
            !inspect(&m, 1 << 20, &payload::Limits::default())
                .unwrap()
                .carries_changes
        );
    }

    #[test]
    fn a_new_payload_replaces_data_and_keeps_every_other_key() {
        let fields = |data: Vec<u8>| {
            encode(&[
                ("type", Value::Str("sync")),
                ("documentId", Value::Str(DOC)),
                ("data", Value::Bytes(data)),
                ("senderId", Value::Str("p")),
                ("targetId", Value::Str("q")),
            ])
        };
        let sent = fields(sync_data(true));
        let replaced = with_data(&sent, &sync_data(false)).unwrap();
        assert_eq!(replaced, fields(sync_data(false)));
        assert_eq!(sync_payload(&replaced), Some(&sync_data(false)[..]));
        // No data: nothing to replace.
        let no_data = encode(&[("type", Value::Str("sync"))]);
        assert_eq!(with_data(&no_data, b"x"), None);
    }

    #[test]
    fn garbage_and_oversize_are_refused_with_reasons() {
        assert_eq!(
            inspect(&[0u8; 10], 5, &payload::Limits::default()),
            Err(Rejection::TooLarge { len: 10, max: 5 })
        );
        let r = inspect(b"hello", 100, &payload::Limits::default()).unwrap_err();
        assert_eq!(r.code(), "malformed_message");
        let r = inspect(
            &encode(&[("type", Value::Str("nonsense"))]),
            100,
            &payload::Limits::default(),
        )
        .unwrap_err();
        assert!(r.to_string().contains("unknown type"));
        let r = inspect(
            &encode(&[
                ("type", Value::Str("sync")),
                ("documentId", Value::Str(DOC)),
                ("data", Value::Bytes(vec![1, 2, 3])),
            ]),
            100,
            &payload::Limits::default(),
        )
        .unwrap_err();
        assert!(r.to_string().contains("sync payload"), "{r}");
        let mut m = encode(&[("type", Value::Str("leave"))]);
        m.push(0);
        assert!(inspect(&m, 100, &payload::Limits::default()).is_err());
        // Harmless data for the checks, changes behind it for samod.
        let twice = encode(&[
            ("type", Value::Str("sync")),
            ("documentId", Value::Str(DOC)),
            ("data", Value::Bytes(sync_data(false))),
            ("data", Value::Bytes(sync_data(true))),
        ]);
        let r = inspect(&twice, 1 << 20, &payload::Limits::default()).unwrap_err();
        assert!(r.to_string().contains("appears twice"), "{r}");
    }

    /// Writes the hostile payload samples, each in a `sync` envelope, as
    /// seeds for the fuzzer: `FIELDVISIT_SEEDS=fuzz/corpus/sync_message
    /// cargo test -p fieldvisit-sync-server write_fuzz_seeds -- --ignored`.
    #[test]
    #[ignore]
    fn write_fuzz_seeds() {
        let dir =
            std::path::PathBuf::from(std::env::var("FIELDVISIT_SEEDS").expect("FIELDVISIT_SEEDS"));
        for (name, data) in payload::samples::hostile() {
            if data.len() > 64 * 1024 {
                continue;
            }
            let m = encode(&[
                ("type", Value::Str("sync")),
                ("senderId", Value::Str("device-seed")),
                ("targetId", Value::Str("fieldvisit-server")),
                ("documentId", Value::Str(DOC)),
                ("data", Value::Bytes(data)),
            ]);
            std::fs::write(dir.join(format!("hostile-{name}")), m).unwrap();
        }
    }

    /// What the server does with one inbound message: refuse it with 1007
    /// or 1009, or accept it; an accepted sync payload is applied and
    /// answered as samod's document actor does, where a panic is contained
    /// (as samod's actor runner contains it).
    /// What the server does with `bytes`: refused at the gate with one of
    /// its two codes and a reason a close frame can carry the start of, or
    /// passed and, carrying changes, judged by the rules under the server's
    /// own guard (`judge::contained`, the one the connection uses), never
    /// the test's: a panic that escapes it would end the connection's task.
    fn refused_or_contained(bytes: &[u8]) {
        let limits = payload::Limits::default();
        match inspect(bytes, 1 << 20, &limits) {
            Err(r) => {
                assert!(
                    ["message_too_large", "malformed_message"].contains(&r.code()),
                    "{r}"
                );
                assert!(!r.to_string().is_empty(), "a reason");
            }
            Ok(m) if m.carries_changes => {
                use fieldvisit_shared::records::{Context, Kind, Writer};
                let data = sync_payload(bytes).expect("an accepted sync message has data");
                let actor = fieldvisit_shared::provenance::device_actor("device-x");
                let made = |_: &str, _: &str| true;
                let cx = Context {
                    writer: Writer {
                        person_id: "w-1",
                        role: &fieldvisit_shared::api::Role::Worker,
                    },
                    case_id: "case-1",
                    actor: &actor,
                    created_by_writer: &made,
                };
                let judged = super::super::judge::contained(
                    || crate::rules::judge(Kind::Visit, &automerge::Automerge::new(), data, &cx),
                    |refused| refused,
                );
                if let crate::rules::Judgement::Accept(accepted) = judged {
                    // What samod would get decodes.
                    assert!(automerge::sync::Message::decode(&accepted.forward).is_ok());
                }
            }
            Ok(_) => {}
        }
    }

    fn envelope(data: &[u8]) -> Vec<u8> {
        encode(&[
            ("type", Value::Str("sync")),
            ("senderId", Value::Str("device-x")),
            ("targetId", Value::Str("server")),
            ("documentId", Value::Str(DOC)),
            ("data", Value::Bytes(data.to_vec())),
        ])
    }

    #[test]
    fn every_fuzz_seed_is_refused_or_contained() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sync_message");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("the fuzz corpus") {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            refused_or_contained(&bytes);
            n += 1;
        }
        assert!(n > 20, "{n} seeds");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_are_refused_or_contained(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            refused_or_contained(&bytes);
        }

        #[test]
        fn any_mutation_of_an_honest_message_is_refused_or_contained(
            which in 0usize..64,
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let honest = payload::samples::honest();
            let mut m = envelope(&honest[which % honest.len()]);
            for (at, byte) in flips {
                let i = at % m.len();
                m[i] ^= byte;
            }
            let keep = m.len() - cut % (m.len() / 4 + 1);
            m.truncate(keep);
            refused_or_contained(&m);
        }
    }
}
