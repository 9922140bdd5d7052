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
    /// Rows one column of a chunk may hold: ops in a change or a document,
    /// changes in a document. Columns are run-length encoded, so a few
    /// bytes could otherwise claim billions of ops.
    pub max_rows: u64,
    /// Ops in one message, all its chunks together: each is decoded,
    /// applied to a copy and judged, so this bounds the work one message
    /// makes (a chunk's rows alone allowed 4 million ops, times 100,000
    /// chunks).
    pub max_ops: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hashes: 4096,
            max_haves: 1,
            max_bloom_parameter: 64,
            max_bloom_entries: 1 << 20,
            max_chunks: 100_000,
            max_inflated_bytes: 64 * 1024 * 1024,
            max_rows: 4_000_000,
            max_ops: 200_000,
        }
    }
}

/// What a payload that passed is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub carries_changes: bool,
    /// The operations its changes claim, across chunks.
    pub ops: u64,
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
    #[error("{0} lists a hash twice or out of order")]
    Unsorted(&'static str),
    #[error("a chunk's column {spec:#x} holds over {limit} rows")]
    Rows { spec: u32, limit: u64 },
    #[error("a column holds a run of nulls where nulls cannot be: {0:#x}")]
    NullRun(u32),
    #[error("the message holds over {0} ops, all its chunks together")]
    Ops(u64),
    #[error("a change's ops would number past u32::MAX")]
    StartOp,
    #[error("a document's change columns disagree: {0}")]
    ChangeColumns(&'static str),
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
    // automerge writes each list sorted; a repeated `need` makes the answer
    // build one change twice and panic.
    ascending("heads", &msg.heads)?;
    ascending("need", &msg.need)?;
    if msg.have.len() > limits.max_haves {
        return Err(Refused::Haves(msg.have.len()));
    }
    for have in &msg.have {
        if have.last_sync.len() > limits.max_hashes {
            return Err(Refused::LastSync(have.last_sync.len()));
        }
        ascending("last_sync", &have.last_sync)?;
        check_bloom(&have.bloom.to_bytes(), limits)?;
    }
    let mut budget = Budget {
        chunks: 0,
        inflated: 0,
        ops: 0,
    };
    for entry in msg.changes.iter() {
        check_chunks(entry, limits, &mut budget)?;
    }
    Ok(Summary {
        carries_changes: !msg.changes.is_empty(),
        ops: budget.ops,
    })
}

fn ascending(field: &'static str, hashes: &[automerge::ChangeHash]) -> Result<(), Refused> {
    if hashes.windows(2).all(|w| w[0] < w[1]) {
        Ok(())
    } else {
        Err(Refused::Unsorted(field))
    }
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
    ops: u64,
}

impl Budget {
    fn ops(&mut self, n: u64, limits: &Limits) -> Result<(), Refused> {
        self.ops = self.ops.saturating_add(n);
        if self.ops > limits.max_ops {
            return Err(Refused::Ops(limits.max_ops));
        }
        Ok(())
    }
}

/// Walks the chunks of one change-list entry (automerge applies an entry
/// as a sequence of chunks): each has the magic bytes, a checksum, a type
/// and a LEB128 length. Compressed parts are inflated here, against the
/// limit, and thrown away.
fn check_chunks(entry: &[u8], limits: &Limits, budget: &mut Budget) -> Result<(), Refused> {
    if entry.is_empty() {
        return Err(Refused::Chunk("an empty entry in the change list"));
    }
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
            0 => columns::document(body, limits, budget)?,
            1 => {
                let ops = columns::change(body, limits)?;
                budget.ops(ops, limits)?;
            }
            // automerge's sync sends changes uncompressed and documents
            // with compressed columns; never these.
            2 => return Err(Refused::Chunk("a compressed change chunk")),
            3 => return Err(Refused::Chunk("a bundle chunk")),
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

    /// A count of hashes (at most the limit) and the hashes.
    fn hashes(&mut self, limits: &Limits) -> Option<usize> {
        let n = usize::try_from(self.uleb()?).ok()?;
        if n > limits.max_hashes {
            return None;
        }
        self.take(n.checked_mul(32)?)?;
        Some(n)
    }

    /// A LEB128 length and that many bytes.
    fn prefixed(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.uleb()?).ok()?;
        self.take(n)
    }

    /// A signed LEB128 number of at most 64 bits.
    fn sleb(&mut self) -> Option<i64> {
        let mut value: i64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift == 63 && b != 0 && b != 0x7f {
                return None;
            }
            value |= i64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                if shift < 64 && b & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Some(value);
            }
            if shift > 63 {
                return None;
            }
        }
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

/// Automerge's column-oriented chunks: a change (its ops) and a document
/// (its changes' metadata and all ops), walked without building anything.
mod columns {
    use super::{Budget, Limits, Reader, Refused, inflate};

    /// The deflate bit of a column spec; the low three bits are its type.
    const DEFLATE: u32 = 0x08;
    /// Column specs (id << 4 | type) that automerge indexes or divides by,
    /// in a document's change columns.
    const CHANGE_ACTOR: u32 = 0x01;
    const CHANGE_SEQ: u32 = 0x03;
    const CHANGE_MAX_OP: u32 = 0x13;
    const CHANGE_DEPS_COUNT: u32 = 0x40;
    const CHANGE_DEPS: u32 = 0x43;
    /// The action column of an op: one row per op.
    const OP_ACTION: u32 = 0x42;
    const MAX_ACTORS: u64 = 100_000;

    /// A change chunk's body: its header fields, then its op columns,
    /// which may not be compressed.
    /// Returns how many ops the change holds.
    pub(super) fn change(body: &[u8], limits: &Limits) -> Result<u64, Refused> {
        let mut r = Reader(body);
        let bad = Refused::Chunk;
        r.hashes(limits).ok_or(bad("change deps"))?;
        r.prefixed().ok_or(bad("change actor"))?;
        r.uleb().ok_or(bad("change seq"))?;
        let start_op = r.uleb().ok_or(bad("change start_op"))?;
        if start_op == 0 || start_op > u64::from(u32::MAX) {
            return Err(Refused::StartOp);
        }
        r.sleb().ok_or(bad("change timestamp"))?;
        r.prefixed().ok_or(bad("change message"))?;
        let others = r.uleb().ok_or(bad("change other_actors"))?;
        if others > MAX_ACTORS {
            return Err(bad("change other_actors"));
        }
        for _ in 0..others {
            r.prefixed().ok_or(bad("change other_actors"))?;
        }
        let specs = metadata(&mut r)?;
        let mut ops = 0;
        for (spec, data) in split(&mut r, &specs)? {
            if spec & DEFLATE != 0 {
                return Err(bad("a compressed column in a change"));
            }
            let walked = walk(spec, data, limits, Of::Ops)?;
            if spec == OP_ACTION {
                ops = walked.rows;
            }
            // Actor columns index the change's actor and its other actors.
            if spec & 0x07 == 1 && walked.max > i128::from(others) {
                return Err(bad("an op's actor index is out of range"));
            }
        }
        if start_op + ops > u64::from(u32::MAX) + 1 {
            return Err(Refused::StartOp);
        }
        Ok(ops)
    }

    /// A document chunk's body: actors, heads, the change columns and the
    /// op columns (compressed ones are inflated against the budget), then
    /// optional head indices.
    pub(super) fn document(
        body: &[u8],
        limits: &Limits,
        budget: &mut Budget,
    ) -> Result<(), Refused> {
        let mut r = Reader(body);
        let bad = Refused::Chunk;
        let actors = r.uleb().ok_or(bad("document actors"))?;
        if actors > MAX_ACTORS {
            return Err(bad("document actors"));
        }
        for _ in 0..actors {
            r.prefixed().ok_or(bad("document actors"))?;
        }
        r.hashes(limits).ok_or(bad("document heads"))?;
        let change_specs = metadata(&mut r)?;
        let op_specs = metadata(&mut r)?;
        let change_columns = split(&mut r, &change_specs)?;
        let op_columns = split(&mut r, &op_specs)?;
        let mut changes = ChangeColumns::default();
        for (spec, data) in change_columns {
            let walked = walk_maybe_compressed(spec, data, limits, budget, Of::DocumentChanges)?;
            // An empty column stands for defaults; only written ones count.
            if !data.is_empty() {
                changes.add(spec & !DEFLATE, walked);
            }
        }
        changes.agree(actors)?;
        for (spec, data) in op_columns {
            let walked = walk_maybe_compressed(spec, data, limits, budget, Of::Ops)?;
            if spec & !DEFLATE == OP_ACTION {
                budget.ops(walked.rows, limits)?;
            }
        }
        Ok(())
    }

    fn walk_maybe_compressed(
        spec: u32,
        data: &[u8],
        limits: &Limits,
        budget: &mut Budget,
        of: Of,
    ) -> Result<Walked, Refused> {
        if spec & DEFLATE == 0 {
            return walk(spec, data, limits, of);
        }
        let inflated = inflate(data, limits, budget)?;
        walk(spec & !DEFLATE, &inflated, limits, of)
    }

    /// What a document's change columns said, to check they agree.
    #[derive(Default)]
    struct ChangeColumns {
        counts: Vec<(u32, u64)>,
        deps_total: Option<u64>,
        deps: Option<Walked>,
        actor: Option<Walked>,
    }

    impl ChangeColumns {
        fn add(&mut self, spec: u32, walked: Walked) {
            match spec {
                CHANGE_ACTOR | CHANGE_SEQ | CHANGE_MAX_OP | CHANGE_DEPS_COUNT => {
                    self.counts.push((spec, walked.rows));
                    if spec == CHANGE_DEPS_COUNT {
                        self.deps_total = Some(walked.sum);
                    }
                    if spec == CHANGE_ACTOR {
                        self.actor = Some(walked);
                    }
                }
                CHANGE_DEPS => self.deps = Some(walked),
                _ => {}
            }
        }

        /// One row per change in each, as many deps as the counts say, and
        /// every index (actor, dep) in range: automerge indexes with them.
        fn agree(&self, actors: u64) -> Result<(), Refused> {
            let changes = self.counts.first().map_or(0, |(_, n)| *n);
            if self.counts.iter().any(|(_, n)| *n != changes) {
                return Err(Refused::ChangeColumns("their row counts differ"));
            }
            let deps_rows = self.deps.as_ref().map_or(0, |d| d.rows);
            if self.deps_total.unwrap_or(0) != deps_rows {
                return Err(Refused::ChangeColumns("the deps do not add up"));
            }
            if let Some(deps) = &self.deps
                && deps.rows > 0
                && (deps.min < 0 || deps.max >= changes as i128)
            {
                return Err(Refused::ChangeColumns("a dep is out of range"));
            }
            if let Some(actor) = &self.actor
                && actor.rows > 0
                && actor.max >= i128::from(actors.min(i64::MAX as u64) as i64)
            {
                return Err(Refused::ChangeColumns("an actor index is out of range"));
            }
            Ok(())
        }
    }

    /// Column metadata: a count, then (spec, length) pairs.
    fn metadata(r: &mut Reader<'_>) -> Result<Vec<(u32, usize)>, Refused> {
        let bad = || Refused::Chunk("column metadata");
        let n = r.uleb().ok_or_else(bad)?;
        if n > 1024 {
            return Err(bad());
        }
        (0..n)
            .map(|_| {
                let spec = u32::try_from(r.uleb().ok_or_else(bad)?).map_err(|_| bad())?;
                let len = usize::try_from(r.uleb().ok_or_else(bad)?).map_err(|_| bad())?;
                Ok((spec, len))
            })
            .collect()
    }

    /// The columns' bytes, one after the other in the order listed.
    fn split<'a>(
        r: &mut Reader<'a>,
        specs: &[(u32, usize)],
    ) -> Result<Vec<(u32, &'a [u8])>, Refused> {
        specs
            .iter()
            .map(|&(spec, len)| {
                let data = r.take(len).ok_or(Refused::Chunk("a column is truncated"))?;
                Ok((spec, data))
            })
            .collect()
    }

    /// Which columns a column is among: the same spec means different
    /// things in a document's change columns and in op columns.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Of {
        Ops,
        DocumentChanges,
    }

    /// What walking one column found: its rows, and for integer columns the
    /// sum of its values and their range (as absolute values for delta
    /// columns).
    #[derive(Debug, Default, Clone)]
    struct Walked {
        rows: u64,
        sum: u64,
        min: i128,
        max: i128,
    }

    /// Walks one column by its type, counting rows against the limit and
    /// refusing truncated values and (where automerge cannot take them)
    /// runs of nulls.
    fn walk(spec: u32, data: &[u8], limits: &Limits, of: Of) -> Result<Walked, Refused> {
        let mut r = Reader(data);
        let mut w = Walked {
            min: i128::MAX,
            max: i128::MIN,
            ..Walked::default()
        };
        let too_many = Refused::Rows {
            spec,
            limit: limits.max_rows,
        };
        let truncated = Refused::Chunk("a column value is truncated");
        let non_nullable = of == Of::DocumentChanges
            && matches!(
                spec,
                CHANGE_ACTOR | CHANGE_SEQ | CHANGE_MAX_OP | CHANGE_DEPS_COUNT | CHANGE_DEPS
            );
        let add_rows = |w: &mut Walked, n: u64| -> Result<(), Refused> {
            w.rows = w
                .rows
                .checked_add(n)
                .filter(|r| *r <= limits.max_rows)
                .ok_or(too_many.clone())?;
            Ok(())
        };
        match spec & 0x07 {
            // Raw values: their length comes from the metadata column.
            7 => {}
            // Booleans: alternating run lengths.
            4 => {
                while !r.0.is_empty() {
                    let run = r.uleb().ok_or(truncated.clone())?;
                    add_rows(&mut w, run)?;
                }
            }
            kind => {
                // Run-length encoded: uleb values (0, 1, 2, 6), sleb deltas
                // (3) or strings (5).
                let mut absolute: i128 = 0;
                while !r.0.is_empty() {
                    let count = r.sleb().ok_or(truncated.clone())?;
                    if count == 0 {
                        let nulls = r.uleb().ok_or(truncated.clone())?;
                        if non_nullable && nulls > 0 {
                            return Err(Refused::NullRun(spec));
                        }
                        add_rows(&mut w, nulls)?;
                        continue;
                    }
                    let (repeats, literals) = if count > 0 {
                        (count.unsigned_abs(), 1)
                    } else {
                        (1, count.unsigned_abs())
                    };
                    add_rows(&mut w, repeats * literals)?;
                    for _ in 0..literals {
                        let value: i128 = match kind {
                            5 => {
                                r.prefixed().ok_or(truncated.clone())?;
                                0
                            }
                            3 => i128::from(r.sleb().ok_or(truncated.clone())?),
                            _ => i128::from(r.uleb().ok_or(truncated.clone())?),
                        };
                        if kind == 3 {
                            // A delta repeated: the values move monotonically,
                            // so the ends of the run bound them.
                            let first = absolute + value;
                            absolute += value * i128::from(repeats);
                            w.min = w.min.min(first).min(absolute);
                            w.max = w.max.max(first).max(absolute);
                        } else {
                            w.min = w.min.min(value);
                            w.max = w.max.max(value);
                            let total = u64::try_from(value)
                                .unwrap_or(u64::MAX)
                                .saturating_mul(repeats);
                            w.sum = w.sum.saturating_add(total);
                        }
                    }
                }
            }
        }
        Ok(w)
    }
}

pub mod samples;

#[cfg(test)]
mod tests;
