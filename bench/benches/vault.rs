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
}
