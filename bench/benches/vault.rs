//! The phone's encryption at rest, natively (release build): what opening
//! the vault with the worker's PIN costs (Argon2id at the phone settings),
//! and what sealing and opening a value costs at the sizes the store
//! writes (a keystroke's change, a compacted visit, a photo). Medians.
//!
//! `cargo bench -p fieldvisit-bench --bench vault`

use fieldvisit_bench::stats::time_median;
use fieldvisit_bench::table::{Table, ms};
use fieldvisit_mobile::core::vault::{DataKey, KdfParams};

fn main() {
    let key = DataKey::generate();
    let pin = "472913";
    let mut unlock = Table::new(&["Argon2id settings", "wrap (ms)", "unlock (ms)"]);
    let stronger = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 1,
    };
    for (name, params) in [
        ("phone (19 MiB, t=2, p=1)", KdfParams::PHONE),
        ("stronger (64 MiB, t=3, p=1)", stronger),
    ] {
        let wrapped = key.wrap_with_pin(pin, params).expect("wrap");
        let wrap = time_median(5, || key.wrap_with_pin(pin, params).expect("wrap"));
        let open = time_median(5, || wrapped.unwrap_with_pin(pin).expect("unlock"));
        unlock.row(vec![name.into(), ms(wrap), ms(open)]);
    }
    println!("{}", unlock.render());

    let mut seal = Table::new(&["value", "bytes", "seal (µs)", "open (µs)", "MB/s (seal)"]);
    for (what, size) in [
        ("a keystroke's change", 120usize),
        ("a short visit, compacted", 4 * 1024),
        ("a long visit, compacted", 64 * 1024),
        ("a photo", 116 * 1024),
    ] {
        let plain = vec![0x5a; size];
        let context = b"samod_storage:doc/incremental/abc";
        let sealed = key.seal(context, &plain);
        let runs = if size > 10_000 { 200 } else { 2000 };
        let s = time_median(runs, || key.seal(context, &plain));
        let o = time_median(runs, || key.open(context, &sealed).expect("open"));
        let us = |d: std::time::Duration| format!("{:.1}", d.as_secs_f64() * 1e6);
        let rate = size as f64 / s.as_secs_f64() / 1e6;
        seal.row(vec![
            what.into(),
            size.to_string(),
            us(s),
            us(o),
            format!("{rate:.0}"),
        ]);
    }
    println!("{}", seal.render());
    keystroke_commits();
}

/// A keystroke's change committed to the device's document store (a real
/// SQLite file, fsynced as on a phone), with and without the data key:
/// the typing budget is twice the plain time at most.
fn keystroke_commits() {
    use fieldvisit_sqlite_store::{Durability, SqliteStorage};
    use samod::storage::{Storage, StorageKey};
    use std::sync::Arc;

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut table = Table::new(&["store", "commits", "per keystroke (ms, median)"]);
    let change = vec![0x5a; 120];
    for (name, sealed) in [("plain", false), ("sealed (XChaCha20-Poly1305)", true)] {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let mut store = SqliteStorage::open(&dir.path().join("documents.sqlite"), Durability::Full)
            .expect("a store");
        if sealed {
            store = store.with_cipher(Arc::new(DataKey::generate()));
        }
        let mut n = 0u32;
        let per = time_median(300, || {
            n += 1;
            let key =
                StorageKey::from_parts(["doc1", "incremental", &format!("{n:08}")]).expect("a key");
            runtime.block_on(store.put(key, change.clone()));
        });
        table.row(vec![name.into(), "300".into(), ms(per)]);
    }
    println!("{}", table.render());
}
