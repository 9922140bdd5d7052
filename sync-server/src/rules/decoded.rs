//! A sync payload decoded once, into the changes it carries, and the
//! payload samod gets in its place.
//!
//! The rules must judge exactly what samod stores. automerge loads a
//! message's chunks joined, keeping whatever loaded before the first chunk
//! that fails (and, into an empty document, skipping failures altogether),
//! while a judge that read them one by one would skip a failing chunk and
//! go on: a forged value, a broken chunk and the value put back would be
//! judged as no change and stored as a forgery. So the server never hands
//! samod the bytes a device sent. It decodes every chunk here, strictly
//! (any chunk that does not load, or whose checksum is wrong, refuses the
//! whole message), judges the changes that come out, and gives samod a
//! payload of its own making ([`Decoded::payload`]): the same heads, needs
//! and Bloom filter, and each judged change as one chunk of automerge's own
//! encoding. samod then loads only bytes that load, every change of them.

use std::collections::HashSet;

use automerge::sync::{ChunkList, Message};
use automerge::{
    Automerge, Change, ChangeHash, LoadOptions, OnPartialLoad, ReadDoc, VerificationMode,
};
use fieldvisit_shared::records::Refusal;

/// The code of a message refused because its chunks do not all load.
pub const DO_NOT_LOAD: &str = "changes_do_not_load";

/// A sync message's header (heads, needs, haves, flags) and its changes.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The message with its change list emptied.
    header: Message,
    /// Every change its chunks hold, each once, in the order they came.
    changes: Vec<Change>,
    /// The document chunks among them, each whole (it loaded strictly),
    /// with the hashes of the changes it holds. samod gets such a chunk as
    /// it came: the changes automerge rebuilds from a document chunk do not
    /// always load again from their own encoding ("unexpected null in
    /// column pred:actor"), and a device sends a new document whole.
    documents: Vec<(Vec<u8>, Vec<ChangeHash>)>,
}

impl Decoded {
    /// Decodes `payloads` (held messages first, the newest last: its
    /// header is the one kept), refusing all of them if any chunk of any
    /// fails to load.
    pub fn decode<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Result<Self, Refusal> {
        let mut header = None;
        let mut changes = Vec::new();
        let mut documents = Vec::new();
        let mut seen = HashSet::new();
        for payload in payloads {
            let mut message = Message::decode(payload)
                .map_err(|e| Refusal::new("malformed_changes", e.to_string()))?;
            let chunks = std::mem::replace(&mut message.changes, ChunkList::empty());
            for entry in chunks.iter() {
                for chunk in split(entry)? {
                    let (loaded, whole) = load(chunk)?;
                    if whole {
                        documents.push((chunk.to_vec(), hashes(&loaded)));
                    }
                    for change in loaded {
                        if seen.insert(change.hash()) {
                            changes.push(change);
                        }
                    }
                }
            }
            header = Some(message);
        }
        let header = header.ok_or_else(|| refused("there is no message"))?;
        Ok(Decoded {
            header,
            changes,
            documents,
        })
    }

    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The changes `doc` does not hold yet.
    pub fn fresh(&self, doc: &Automerge) -> Vec<Change> {
        self.changes
            .iter()
            .filter(|c| doc.get_change_meta_by_hash(&c.hash()).is_none())
            .cloned()
            .collect()
    }

    /// The payload to hand samod: this message's header with every change
    /// decoded, each that came in a change chunk as one chunk of
    /// automerge's own encoding, and each document chunk whole.
    ///
    /// Changes the server already holds stay in: automerge skips them, and
    /// a message stripped of them could arrive with no changes and the
    /// server's own heads, which automerge takes for a peer already told
    /// everything (`last_sent_heads`): the server would never again tell
    /// the device that it has them, and the device would wait for ever.
    pub fn payload(&self) -> Vec<u8> {
        let mut in_documents = HashSet::new();
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        for (bytes, held) in &self.documents {
            chunks.push(bytes.clone());
            in_documents.extend(held.iter().copied());
        }
        chunks.extend(
            self.changes
                .iter()
                .filter(|c| !in_documents.contains(&c.hash()))
                .map(|c| c.raw_bytes().to_vec()),
        );
        let mut message = self.header.clone();
        message.changes = ChunkList::from(chunks);
        message.encode()
    }

    /// The total of operations the changes hold.
    pub fn ops(&self) -> usize {
        self.changes.iter().map(Change::len).sum()
    }
}

/// What [`Decoded::payload`] made, applied as samod applies a message
/// (`receive_sync_message`, which loads the changes joined), to a copy:
/// the document samod will hold. `Err` if the payload does not apply or
/// leaves out a change of `fresh` for another reason than a missing
/// dependency (the caller asks [`Automerge::get_missing_deps`]).
pub fn apply(before: &Automerge, payload: &[u8], fresh: &[Change]) -> Result<Automerge, Refusal> {
    let message = Message::decode(payload).map_err(|e| refused(&e.to_string()))?;
    let mut after = before.clone();
    let mut state = automerge::sync::State::new();
    automerge::sync::SyncDoc::receive_sync_message(&mut after, &mut state, message)
        .map_err(|e| refused(&e.to_string()))?;
    if after.get_missing_deps(&[]).is_empty()
        && fresh
            .iter()
            .any(|c| after.get_change_meta_by_hash(&c.hash()).is_none())
    {
        return Err(refused("a change did not apply"));
    }
    Ok(after)
}

/// The hashes of `changes`.
pub fn hashes(changes: &[Change]) -> Vec<ChangeHash> {
    changes.iter().map(Change::hash).collect()
}

fn refused(why: &str) -> Refusal {
    Refusal::new(
        DO_NOT_LOAD,
        format!("this message's changes do not all load ({why}); none of them is kept"),
    )
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The chunks of one entry of a change list (an entry may hold several,
/// one after the other), each whole: magic, checksum, type, length, body.
fn split(entry: &[u8]) -> Result<Vec<&[u8]>, Refusal> {
    let mut chunks = Vec::new();
    let mut rest = entry;
    if rest.is_empty() {
        return Err(refused("an empty entry"));
    }
    while !rest.is_empty() {
        if rest.get(..4) != Some(&MAGIC[..]) {
            return Err(refused("wrong magic bytes"));
        }
        // Magic, checksum, type, then the body's length as LEB128.
        let mut at = 9;
        let mut len: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *rest.get(at).ok_or_else(|| refused("a truncated header"))?;
            at += 1;
            if shift > 63 {
                return Err(refused("a bad length"));
            }
            len |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|end| *end <= rest.len())
            .ok_or_else(|| refused("a chunk shorter than its length"))?;
        chunks.push(&rest[..end]);
        rest = &rest[end..];
    }
    Ok(chunks)
}

/// The changes one chunk holds, and whether it is a document chunk: a
/// change chunk's one change, with its checksum checked (automerge's
/// `Change::from_bytes` does not, its loader does), or all a document
/// chunk's.
fn load(chunk: &[u8]) -> Result<(Vec<Change>, bool), Refusal> {
    match chunk.get(8) {
        Some(1) => {
            let change = Change::from_bytes(chunk.to_vec()).map_err(|e| refused(&e.to_string()))?;
            if chunk.get(4..8) != change.hash().as_ref().get(..4) {
                return Err(refused("a change's checksum is wrong"));
            }
            Ok((vec![change], false))
        }
        Some(0) => {
            let options = LoadOptions::new()
                .on_partial_load(OnPartialLoad::Error)
                .verification_mode(VerificationMode::Check);
            let doc = Automerge::load_with_options(chunk, options)
                .map_err(|e| refused(&e.to_string()))?;
            Ok((doc.get_changes(&[]), true))
        }
        _ => Err(refused("a chunk of a type sync does not send")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};

    fn doc_with(values: &[i64]) -> Automerge {
        let mut doc = Automerge::new();
        for v in values {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, "n", *v)?;
                Ok(())
            })
            .unwrap();
        }
        doc
    }

    fn message(entries: Vec<Vec<u8>>) -> Vec<u8> {
        Message {
            heads: vec![],
            need: vec![],
            have: vec![],
            changes: ChunkList::from(entries),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
        .encode()
    }

    #[test]
    fn a_broken_chunk_between_two_good_ones_refuses_them_all() {
        let doc = doc_with(&[1, 999, 1]);
        let c: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let mut broken = c[1].clone();
        let last = broken.len() - 1;
        broken[last] ^= 0xff;
        let refused =
            Decoded::decode([message(vec![c[0].clone(), broken, c[2].clone()]).as_slice()])
                .unwrap_err();
        assert_eq!(refused.code, DO_NOT_LOAD);
        // The same changes whole decode, each once.
        let whole = message(vec![c[0].clone(), c[1].clone(), c[1].clone(), c[2].clone()]);
        let decoded = Decoded::decode([whole.as_slice()]).unwrap();
        let all: Vec<Change> = doc.get_changes(&[]);
        assert_eq!(hashes(decoded.changes()), hashes(&all));
    }

    #[test]
    fn a_wrong_checksum_is_refused_though_the_change_reads() {
        let doc = doc_with(&[1]);
        let mut bytes = doc.get_changes(&[])[0].raw_bytes().to_vec();
        bytes[4] ^= 0x01;
        assert!(
            Change::from_bytes(bytes.clone()).is_ok(),
            "automerge reads it"
        );
        let refused = Decoded::decode([message(vec![bytes]).as_slice()]).unwrap_err();
        assert_eq!(refused.code, DO_NOT_LOAD);
    }

    #[test]
    fn a_document_chunk_is_judged_by_its_changes_and_handed_on_whole() {
        let doc = doc_with(&[1, 2, 3]);
        let decoded = Decoded::decode([message(vec![doc.save()]).as_slice()]).unwrap();
        assert_eq!(decoded.changes().len(), 3);
        let fresh = decoded.fresh(&Automerge::new());
        let payload = decoded.payload();
        let after = apply(&Automerge::new(), &payload, &fresh).unwrap();
        assert_eq!(after.get_heads(), doc.get_heads());
        assert_eq!(
            after
                .get(ROOT, "n")
                .unwrap()
                .unwrap()
                .0
                .as_scalar()
                .and_then(|s| s.as_i64()),
            Some(3)
        );
        // samod gets the document chunk as it came.
        let forwarded = Message::decode(&payload).unwrap();
        assert_eq!(
            forwarded.changes.iter().collect::<Vec<_>>(),
            vec![&doc.save()]
        );
    }

    #[test]
    fn trailing_bytes_and_truncation_are_refused() {
        let doc = doc_with(&[1]);
        let bytes = doc.get_changes(&[])[0].raw_bytes().to_vec();
        let mut trailing = bytes.clone();
        trailing.push(0);
        for entry in [trailing, bytes[..bytes.len() - 1].to_vec(), vec![]] {
            let refused = Decoded::decode([message(vec![entry]).as_slice()]).unwrap_err();
            assert_eq!(refused.code, DO_NOT_LOAD);
        }
    }
}

#[cfg(test)]
mod captured {
    use super::*;

    /// Every honest message captured from the app and the JavaScript
    /// client (the fuzz corpus's `captured-*`), decoded and made again for
    /// samod, says what it said: the same heads, needs, haves and flags,
    /// and the same changes.
    #[test]
    fn an_honest_message_made_again_says_what_it_said() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sync_message");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("the fuzz corpus") {
            let path = entry.unwrap().path();
            if !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("captured-")
            {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let Some(payload) = crate::sync::wire::sync_payload(&bytes) else {
                continue;
            };
            let Ok(original) = Message::decode(payload) else {
                continue;
            };
            let decoded = Decoded::decode([payload]).unwrap_or_else(|r| panic!("{path:?}: {r}"));
            let again = Message::decode(&decoded.payload()).unwrap();
            assert_eq!(again.heads, original.heads, "{path:?}");
            assert_eq!(again.need, original.need, "{path:?}");
            assert_eq!(again.have.len(), original.have.len(), "{path:?}");
            assert_eq!(again.flags, original.flags, "{path:?}");
            assert_eq!(again.version, original.version, "{path:?}");
            let mut a = Automerge::new();
            let mut b = Automerge::new();
            a.load_incremental(
                &original
                    .changes
                    .iter()
                    .flatten()
                    .copied()
                    .collect::<Vec<u8>>(),
            )
            .unwrap();
            b.load_incremental(&again.changes.iter().flatten().copied().collect::<Vec<u8>>())
                .unwrap();
            assert_eq!(a.get_heads(), b.get_heads(), "{path:?}");
            let forwarded = crate::sync::wire::with_data(&bytes, &decoded.payload()).unwrap();
            assert_eq!(
                crate::sync::wire::sync_payload(&forwarded),
                Some(&decoded.payload()[..])
            );
            n += 1;
        }
        assert!(n > 10, "{n} captured messages");
    }
}
