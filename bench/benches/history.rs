//! What the history questions cost as a visit's text grows: who wrote each
//! character (`history::authorship`), the document as the server held it at
//! a time (`history::heads_where`, with receipt times looked up by hash as
//! the server does) and the text then against now (`history::as_at`, from
//! halfway through). The observations are typed by two devices taking turns,
//! one change per word, so every word is its own run: the worst case for
//! authorship. Medians of repeated runs.
//!
//! `cargo bench -p fieldvisit-bench --bench history`

use std::collections::HashMap;
use std::time::Duration;

use automerge::{Automerge, ChangeHash};
use fieldvisit_bench::stats::time_median;
use fieldvisit_bench::table::Table;
use fieldvisit_shared::doc;
use fieldvisit_shared::history;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::{PlaceKind, TextField, VisitDoc};

/// A visit whose observations two devices typed into by turns, `changes`
/// changes in all, and the heads halfway through.
fn visit(changes: usize) -> (Automerge, Vec<ChangeHash>) {
    let v = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
    let mut d = doc::new_document(&v, device_actor("device-a")).unwrap();
    let devices = [device_actor("device-a"), device_actor("device-b")];
    let mut text = String::new();
    let mut halfway = d.get_heads();
    for i in 1..changes {
        d.set_actor(devices[i % 2].clone());
        text.push_str(&format!("w{i} "));
        doc::update_text(&mut d, TextField::Observations.path(), &text).unwrap();
        if i == changes / 2 {
            halfway = d.get_heads();
        }
    }
    (d, halfway)
}

fn main() {
    let mut t = Table::new(&[
        "changes",
        "authorship (ms)",
        "heads_where (ms)",
        "as_at (ms)",
        "runs returned",
    ]);
    let path = TextField::Observations.path();
    for changes in [100, 1_000, 10_000] {
        let (d, halfway) = visit(changes);
        // The server's receipt times: the change's position in arrival order.
        let received: HashMap<ChangeHash, i64> = d
            .get_changes_meta(&[])
            .iter()
            .enumerate()
            .map(|(i, c)| (c.hash, i as i64))
            .collect();
        let cutoff = (changes / 2) as i64;
        let at = history::heads_where(&d, |c| received.get(&c.hash).is_some_and(|r| *r <= cutoff));
        assert_eq!(
            at, halfway,
            "the heads as the server held them at the cutoff"
        );
        let runs = history::authorship(&d, path, None).unwrap();
        assert_eq!(runs.len(), changes - 1, "one run per word");
        let segments = history::as_at(&d, path, &halfway).unwrap();
        assert_eq!(segments.len(), 2, "the first half, then what was added");

        let n = if changes > 1000 { 10 } else { 50 };
        let authorship: Duration = time_median(n, || history::authorship(&d, path, None).unwrap());
        let heads_where: Duration = time_median(n, || {
            history::heads_where(&d, |c| received.get(&c.hash).is_some_and(|r| *r <= cutoff))
        });
        let as_at: Duration = time_median(n, || history::as_at(&d, path, &halfway).unwrap());
        t.row(vec![
            changes.to_string(),
            ms(authorship),
            ms(heads_where),
            ms(as_at),
            runs.len().to_string(),
        ]);
    }
    println!(
        "History questions on a visit typed by two devices in turn, one change per word\n\n{}\n",
        t.render()
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}
