//! The photo pipeline natively (release build), on every fixture a phone
//! gives: processing (decode with limits, orientation, scale to 2048 px,
//! JPEG with no metadata), the server's check of what arrives, and a
//! thumbnail. Medians of repeated runs. The browser's numbers come from
//! the same code compiled to wasm (see BENCHMARKS.md).
//!
//! `cargo bench -p fieldvisit-bench --bench photos`

use fieldvisit_bench::stats::time_median;
use fieldvisit_bench::table::{Table, ms};
use fieldvisit_shared::photo;

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/photos")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn main() {
    let mut table = Table::new(&[
        "fixture",
        "bytes in",
        "bytes out",
        "size out",
        "process (ms)",
        "server check (ms)",
        "thumbnail 320 (ms)",
    ]);
    for name in [
        "phone-12mp-orientation6-gps.jpg",
        "small-upright-gps.jpg",
        "small-upright.png",
        "small-upright.webp",
    ] {
        let original = fixture(name);
        let runs = if original.len() > 1_000_000 { 10 } else { 50 };
        let p = photo::process(&original).expect("a fixture the pipeline accepts");
        let process = time_median(runs, || photo::process(&original).unwrap());
        let check = time_median(runs, || photo::check_stored(&p.jpeg).unwrap());
        let thumb = time_median(runs, || photo::thumbnail(&p.jpeg, 320).unwrap());
        table.row(vec![
            name.into(),
            original.len().to_string(),
            p.jpeg.len().to_string(),
            format!("{} x {}", p.width, p.height),
            ms(process),
            ms(check),
            ms(thumb),
        ]);
    }
    println!("The photo pipeline, natively (release)\n");
    println!("{}", table.render());
    // What is refused, and how fast: before allocating for the bomb.
    let mut refused = Table::new(&["fixture", "refused as", "time (ms)"]);
    for name in ["bomb-50000x50000.png", "truncated.jpg", "not-an-image.jpg"] {
        let original = fixture(name);
        let code = photo::process(&original).unwrap_err().code();
        let t = time_median(20, || photo::process(&original).unwrap_err());
        refused.row(vec![name.into(), code.as_str().into(), ms(t)]);
    }
    println!("{}", refused.render());
}
