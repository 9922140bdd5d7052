//! Messages held back because their changes build on a change the device
//! has not sent.
//!
//! Automerge's sync protocol leaves a change out when the receiver's bloom
//! filter wrongly says it has it (about one change in a hundred), sends the
//! changes built on it anyway, and expects the receiver to ask for what is
//! missing. The server judges every change before samod sees it, and it
//! cannot judge changes whose history it lacks. Closing the connection
//! instead left a device stuck: the same filter, rebuilt from the same
//! changes on every reconnect, hid the same change again, and the device's
//! edits never arrived. So the server holds such a message, asks the device
//! for the missing changes itself, and judges the held changes together with
//! the answer. Pure: the connection sends and forwards what this decides.

use std::collections::HashMap;

use automerge::ChangeHash;
use automerge::sync::{ChunkList, Message, MessageVersion};

use super::wire;

/// How often one document's missing changes are asked for on a connection
/// before the server gives up and closes it (changes_out_of_order).
pub const MAX_ASKS: u32 = 3;

/// What one connection holds back, per document.
#[derive(Debug)]
pub struct Held {
    docs: HashMap<String, HeldDoc>,
    bytes: usize,
    limit: usize,
}

#[derive(Debug, Default)]
struct HeldDoc {
    /// Whole repo messages, in the order they arrived.
    messages: Vec<Vec<u8>>,
    asks: u32,
}

/// What to do with a message whose changes lack some of their history.
#[derive(Debug, PartialEq, Eq)]
pub enum Hold {
    /// Held: ask the device for the missing changes.
    Ask,
    /// Asked too often, or too much held: nothing of the document is held
    /// any more; close the connection.
    GiveUp,
}

impl Held {
    /// `limit`: the most bytes of messages one connection may hold, all
    /// documents together (a device's memory on the server stays bounded).
    pub fn new(limit: usize) -> Self {
        Held {
            docs: HashMap::new(),
            bytes: 0,
            limit,
        }
    }

    /// The payloads of the messages held for `document`, in the order
    /// they came: judged together with the one that may complete them.
    pub fn payloads(&self, document: &str) -> Vec<&[u8]> {
        self.docs.get(document).map_or_else(Vec::new, |held| {
            held.messages
                .iter()
                .filter_map(|m| wire::sync_payload(m))
                .collect()
        })
    }

    /// Holds `message` back, counting one more ask for its document.
    pub fn hold(&mut self, document: &str, message: Vec<u8>) -> Hold {
        let held = self.docs.entry(document.to_owned()).or_default();
        held.asks += 1;
        if held.asks > MAX_ASKS || self.bytes + message.len() > self.limit {
            self.forget(document);
            return Hold::GiveUp;
        }
        self.bytes += message.len();
        held.messages.push(message);
        Hold::Ask
    }

    /// Drops what is held of `document`: its changes were judged with the
    /// message that completed them (and handed on in its payload), or
    /// refused.
    pub fn forget(&mut self, document: &str) {
        if let Some(held) = self.docs.remove(document) {
            self.bytes -= held.messages.iter().map(Vec::len).sum::<usize>();
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The server's question to a device: "my heads are these; send me these
/// changes". With no bloom filter (`have` empty), automerge answers with
/// exactly the changes asked for.
pub fn ask(server_heads: Vec<ChangeHash>, missing: Vec<ChangeHash>) -> Vec<u8> {
    Message {
        heads: server_heads,
        need: missing,
        have: Vec::new(),
        changes: ChunkList::empty(),
        flags: None,
        version: MessageVersion::V1,
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Decoded;
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT, ReadDoc};

    fn repo_message(payload: &[u8]) -> Vec<u8> {
        let mut e = minicbor::Encoder::new(Vec::new());
        e.map(2)
            .and_then(|e| e.str("type")?.str("sync"))
            .and_then(|e| e.str("data")?.bytes(payload))
            .unwrap();
        e.into_writer()
    }

    /// A document with three changes in a row, and the sync payload of each
    /// change on its own.
    fn three_changes() -> (Automerge, Vec<Vec<u8>>) {
        let mut doc = Automerge::new();
        let mut payloads = Vec::new();
        for i in 0..3 {
            let before = doc.get_heads();
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, format!("k{i}"), i)?;
                Ok(())
            })
            .unwrap();
            let change = doc.get_changes(&before).into_iter().next().unwrap();
            payloads.push(
                Message {
                    heads: doc.get_heads(),
                    need: vec![],
                    have: vec![],
                    changes: ChunkList::from(vec![change.raw_bytes().to_vec()]),
                    flags: None,
                    version: MessageVersion::V1,
                }
                .encode(),
            );
        }
        (doc, payloads)
    }

    #[test]
    fn held_changes_and_the_answer_are_judged_as_one() {
        let (whole, payloads) = three_changes();
        let mut held = Held::new(1 << 20);
        // The device left out the middle change: the third arrives first.
        assert!(held.payloads("d").is_empty());
        assert_eq!(held.hold("d", repo_message(&payloads[2])), Hold::Ask);
        // The answer brings the first and the second (the first twice).
        let mut together = held.payloads("d");
        assert_eq!(together, vec![payloads[2].as_slice()]);
        together.extend([payloads[0].as_slice(), payloads[1].as_slice()]);
        together.push(payloads[0].as_slice());
        let decoded = Decoded::decode(together).unwrap();
        assert_eq!(decoded.changes().len(), 3, "each change once");
        let fresh = decoded.fresh(&Automerge::new());
        let rebuilt =
            crate::rules::decoded::apply(&Automerge::new(), &decoded.payload(), &fresh).unwrap();
        assert!(rebuilt.get_missing_deps(&[]).is_empty());
        assert_eq!(rebuilt.get_heads(), whole.get_heads());
        // Judged, nothing is left held.
        held.forget("d");
        assert_eq!(held.bytes(), 0);
        assert!(held.payloads("d").is_empty());
    }

    #[test]
    fn asking_stops_after_three_times_or_past_the_byte_limit() {
        let (_, payloads) = three_changes();
        let message = repo_message(&payloads[2]);
        let mut held = Held::new(1 << 20);
        for _ in 0..MAX_ASKS {
            assert_eq!(held.hold("d", message.clone()), Hold::Ask);
        }
        assert_eq!(held.hold("d", message.clone()), Hold::GiveUp);
        assert_eq!(held.bytes(), 0, "nothing of the document is kept");

        let mut small = Held::new(message.len() + 10);
        assert_eq!(small.hold("a", message.clone()), Hold::Ask);
        assert_eq!(small.hold("b", message.clone()), Hold::GiveUp);
        assert_eq!(
            small.bytes(),
            message.len(),
            "the other document stays held"
        );
    }

    #[test]
    fn the_question_makes_a_device_send_exactly_what_is_missing() {
        let (device, _) = three_changes();
        let all = device.get_changes(&[]);
        let missing = vec![all[1].hash()];
        let server_heads = vec![all[0].hash()];
        let question = Message::decode(&ask(server_heads, missing.clone())).unwrap();
        let mut device = device;
        let mut state = automerge::sync::State::new();
        device.receive_sync_message(&mut state, question).unwrap();
        let answer = device.generate_sync_message(&mut state).expect("an answer");
        let sent: Vec<ChangeHash> = answer
            .changes
            .iter()
            .map(|c| automerge::Change::from_bytes(c.to_vec()).unwrap().hash())
            .collect();
        assert_eq!(sent, missing);
    }
}
