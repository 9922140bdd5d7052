use super::samples::*;
use super::*;

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn honest_sync_messages_pass() {
    let mut saw_changes = false;
    for m in honest() {
        let summary = check(&m, &limits()).unwrap_or_else(|e| panic!("refused: {e}"));
        saw_changes |= summary.carries_changes;
    }
    assert!(saw_changes);
}

#[test]
fn every_hostile_sample_is_refused_for_its_field() {
    let expected = |name: &str, r: &Refused| match name {
        "bloom_num_bits_per_entry_zero" => *r == Refused::BloomBitsPerEntry(0),
        "bloom_num_probes_huge" => *r == Refused::BloomProbes(u64::from(u32::MAX)),
        "bloom_num_probes_zero" => *r == Refused::BloomProbes(0),
        "need_repeated" => *r == Refused::Unsorted("need"),
        "heads_unsorted" => *r == Refused::Unsorted("heads"),
        "have_count" => *r == Refused::Haves(2),
        "change_ops_run_length" => matches!(r, Refused::Rows { spec: 0x42, .. }),
        "change_start_op" => *r == Refused::StartOp,
        "compressed_change_chunk" => matches!(r, Refused::Chunk(_)),
        "chunk_magic" => *r == Refused::Chunk("wrong magic bytes"),
        "document_column_inflated_size" => matches!(r, Refused::Inflated(_)),
        "document_actor_null_run" => *r == Refused::NullRun(0x01),
        "document_dep_index" => *r == Refused::ChangeColumns("a dep is out of range"),
        _ => false,
    };
    for (name, bytes) in hostile() {
        let r = check(&bytes, &limits()).expect_err(name);
        assert!(expected(name, &r), "{name}: {r}");
    }
}

#[test]
fn ops_are_counted_across_all_chunks_of_a_message() {
    // Each chunk's ops are within the rows a column may hold; together
    // they are over the message's limit.
    let chunk_of = |start_op: u64| chunk(1, &change_body(start_op, &rle(&[(150_000, 1)])));
    let one = message(&[], &[], None, &[chunk_of(1)]);
    assert_eq!(check(&one, &limits()).map(|s| s.carries_changes), Ok(true));
    let two = message(&[], &[], None, &[chunk_of(1), chunk_of(150_001)]);
    assert_eq!(check(&two, &limits()), Err(Refused::Ops(200_000)));
}

#[test]
fn bloom_num_entries_huge() {
    // automerge needs the bits to be there, so a huge filter is also a
    // huge message; the count alone is refused here.
    let m = message(&[], &[], Some(&bloom(1 << 30, 1, 7, 0)), &[]);
    assert!(matches!(
        check(&m, &limits()),
        Err(Refused::Undecodable(_) | Refused::BloomEntries(_))
    ));
}

#[test]
fn a_zero_start_op_and_other_chunk_types() {
    let body = change_body(0, &rle(&[(1, 1)]));
    let m = message(&[], &[], None, &[chunk(1, &body)]);
    assert_eq!(check(&m, &limits()), Err(Refused::StartOp));
    for kind in [3, 9] {
        let m = message(&[], &[], None, &[chunk(kind, &[1, 2, 3])]);
        assert!(matches!(check(&m, &limits()), Err(Refused::Chunk(_))));
    }
    let actor_out_of_range = document_body(1, &[(0x01, rle(&[(1, 3)]))]);
    let m = message(&[], &[], None, &[chunk(0, &actor_out_of_range)]);
    assert!(matches!(
        check(&m, &limits()),
        Err(Refused::ChangeColumns(_))
    ));
}

#[test]
fn truncated_and_random_bytes_never_panic() {
    for m in honest() {
        for cut in 0..m.len() {
            let _ = check(&m[..cut], &limits());
        }
        for i in 0..m.len().min(400) {
            let mut bad = m.clone();
            bad[i] ^= 0xff;
            let _ = check(&bad, &limits());
        }
    }
}
