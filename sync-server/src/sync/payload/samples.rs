//! Payloads for tests and the fuzzer's seeds: honest ones from automerge,
//! and one hostile payload per field the checks in `payload` read, named
//! after it.

use super::MAGIC;

pub fn uleb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub fn sleb(out: &mut Vec<u8>, mut v: i64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A v1 sync message by hand: heads, need, one have (or none) and chunks.
pub fn message(
    heads: &[[u8; 32]],
    need: &[[u8; 32]],
    bloom: Option<&[u8]>,
    chunks: &[Vec<u8>],
) -> Vec<u8> {
    let mut m = vec![0x42];
    uleb(&mut m, heads.len() as u64);
    heads.iter().for_each(|h| m.extend(h));
    uleb(&mut m, need.len() as u64);
    need.iter().for_each(|h| m.extend(h));
    match bloom {
        None => uleb(&mut m, 0),
        Some(b) => {
            uleb(&mut m, 1);
            uleb(&mut m, 0);
            uleb(&mut m, b.len() as u64);
            m.extend(b);
        }
    }
    uleb(&mut m, chunks.len() as u64);
    for c in chunks {
        uleb(&mut m, c.len() as u64);
        m.extend(c);
    }
    m
}

pub fn bloom(entries: u64, bits_per_entry: u64, probes: u64, bits: usize) -> Vec<u8> {
    let mut b = Vec::new();
    uleb(&mut b, entries);
    uleb(&mut b, bits_per_entry);
    uleb(&mut b, probes);
    b.extend(vec![0u8; bits]);
    b
}

pub fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut c = MAGIC.to_vec();
    c.extend([0, 0, 0, 0, kind]);
    uleb(&mut c, body.len() as u64);
    c.extend(body);
    c
}

/// A change chunk's body with one op column (the action column) of the
/// given bytes.
pub fn change_body(start_op: u64, action_column: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    uleb(&mut b, 0); // deps
    uleb(&mut b, 16);
    b.extend([7u8; 16]); // actor
    uleb(&mut b, 1); // seq
    uleb(&mut b, start_op);
    sleb(&mut b, 0); // time
    uleb(&mut b, 0); // message
    uleb(&mut b, 0); // other actors
    uleb(&mut b, 1);
    uleb(&mut b, 0x42);
    uleb(&mut b, action_column.len() as u64);
    b.extend(action_column);
    b
}

/// A document chunk's body with the given change columns and no ops.
pub fn document_body(actors: u64, columns: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut b = Vec::new();
    uleb(&mut b, actors);
    for _ in 0..actors {
        uleb(&mut b, 16);
        b.extend([9u8; 16]);
    }
    uleb(&mut b, 0); // heads
    uleb(&mut b, columns.len() as u64);
    for (spec, data) in columns {
        uleb(&mut b, u64::from(*spec));
        uleb(&mut b, data.len() as u64);
    }
    uleb(&mut b, 0); // op columns
    for (_, data) in columns {
        b.extend(data);
    }
    b
}

pub fn rle(runs: &[(i64, u64)]) -> Vec<u8> {
    let mut c = Vec::new();
    for &(count, value) in runs {
        // A run's value, or the length of a null run (count 0).
        sleb(&mut c, count);
        uleb(&mut c, value);
    }
    c
}

/// Honest payloads: both directions of a sync between a full document
/// (long text, so its columns are compressed) and an empty one.
pub fn honest() -> Vec<Vec<u8>> {
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};

    let mut doc = Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let text = tx.put_object(ROOT, "notes", automerge::ObjType::Text)?;
        // Long enough that save() compresses its columns.
        tx.splice_text(&text, 0, 0, &"She hummed the tune again. ".repeat(200))?;
        tx.put(ROOT, "n", 3)?;
        Ok(())
    })
    .expect("a change");
    let mut other = doc.fork();
    other
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "m", "x").map(|_| ()))
        .unwrap();
    doc.merge(&mut other).unwrap();
    let mut out = Vec::new();
    // Both directions of a sync between a full and an empty peer, until quiet.
    let (mut a, mut b) = (doc, Automerge::new());
    let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
    for _ in 0..10 {
        let ma = a.generate_sync_message(&mut sa);
        if let Some(m) = ma {
            let bytes = m.encode();
            out.push(bytes.clone());
            b.receive_sync_message(&mut sb, automerge::sync::Message::decode(&bytes).unwrap())
                .unwrap();
        }
        if let Some(m) = b.generate_sync_message(&mut sb) {
            let bytes = m.encode();
            out.push(bytes.clone());
            a.receive_sync_message(&mut sa, automerge::sync::Message::decode(&bytes).unwrap())
                .unwrap();
        }
    }
    assert!(out.len() >= 3);
    out
}

/// One payload per inconsistent field, each refused by [`super::check`].
pub fn hostile() -> Vec<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let h = [5u8; 32];
    let mut two_haves = message(&[], &[], None, &[]);
    two_haves.splice(3..4, [2u8, 0, 0, 0, 0]);
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(&vec![0u8; 100 << 20]);
    let bomb = z.finish().unwrap_or_default();
    let mut dep_column = Vec::new();
    sleb(&mut dep_column, 1);
    sleb(&mut dep_column, 7);
    vec![
        (
            "bloom_num_bits_per_entry_zero",
            message(&[], &[], Some(&bloom(1, 0, 7, 0)), &[]),
        ),
        (
            "bloom_num_probes_huge",
            message(&[], &[], Some(&bloom(1, 10, u64::from(u32::MAX), 2)), &[]),
        ),
        (
            "bloom_num_probes_zero",
            message(&[], &[], Some(&bloom(1, 10, 0, 2)), &[]),
        ),
        ("need_repeated", message(&[], &[h, h], None, &[])),
        (
            "heads_unsorted",
            message(&[[9u8; 32], [1u8; 32]], &[], None, &[]),
        ),
        ("have_count", two_haves),
        (
            "change_ops_run_length",
            message(
                &[],
                &[],
                None,
                &[chunk(1, &change_body(1, &rle(&[(1 << 40, 1)])))],
            ),
        ),
        (
            "change_start_op",
            message(
                &[],
                &[],
                None,
                &[chunk(1, &change_body(u64::from(u32::MAX), &rle(&[(2, 1)])))],
            ),
        ),
        (
            "compressed_change_chunk",
            message(&[], &[], None, &[chunk(2, &[1, 2, 3])]),
        ),
        (
            "chunk_magic",
            message(&[], &[], None, &[vec![1, 2, 3, 4, 5, 6, 7, 8, 9]]),
        ),
        (
            "document_column_inflated_size",
            message(
                &[],
                &[],
                None,
                &[chunk(0, &document_body(0, &[(0x7f | 0x08, bomb)]))],
            ),
        ),
        (
            "document_actor_null_run",
            message(
                &[],
                &[],
                None,
                &[chunk(0, &document_body(1, &[(0x01, rle(&[(0, 5)]))]))],
            ),
        ),
        (
            "document_dep_index",
            message(
                &[],
                &[],
                None,
                &[chunk(
                    0,
                    &document_body(
                        1,
                        &[
                            (0x01, rle(&[(2, 0)])),
                            (0x40, rle(&[(1, 0), (1, 1)])),
                            (0x43, dep_column),
                        ],
                    ),
                )],
            ),
        ),
    ]
}
