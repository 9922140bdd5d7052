//! What opening records costs as they grow: a visit document with 1, 100
//! and 10,000 changes, and a case with 10, 100 and 1,000 visits (its visit
//! list and its chronology). Each size is timed as the median of repeated
//! runs and printed with its growth over the size before.
//!
//! `cargo bench -p fieldvisit-bench --bench documents`

use std::collections::BTreeMap;
use std::time::Duration;

use fieldvisit_bench::stats::time_median;
use fieldvisit_bench::synthetic_visit;
use fieldvisit_bench::table::{Table, ms};
use fieldvisit_shared::chronology::chronology;
use fieldvisit_shared::doc;
use fieldvisit_shared::records::{self, CaseDoc, ChronologyEntry, TextField, VisitIndexEntry};

/// A visit edited `changes` times (counting its creation), a few
/// characters appended to one of the three voices per change, as typing
/// with the app's save cadence makes it.
fn visit_with_changes(changes: usize) -> Vec<u8> {
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};
    let mut doc = synthetic_visit("case-1");
    let text_at = |doc: &automerge::Automerge, field: TextField| {
        let mut obj = ROOT;
        for key in field.path() {
            obj = doc.get(&obj, *key).unwrap().unwrap().1;
        }
        obj
    };
    let fields = [
        TextField::OwnWords,
        TextField::Observations,
        TextField::Analysis,
    ];
    let objs: Vec<_> = fields.iter().map(|f| text_at(&doc, *f)).collect();
    for i in 1..changes {
        let obj = &objs[i % 3];
        let mut tx = doc.transaction();
        let end = tx.length(obj);
        tx.splice_text(obj, end, 0, &format!("w{i} ")).unwrap();
        tx.commit();
    }
    doc.save()
}

fn case_with_visits(visits: usize) -> Vec<u8> {
    let mut case = CaseDoc::new("case-1", "REF-1", "Casey Synthetic");
    case.visits = (0..visits)
        .map(|i| {
            (
                format!("visit-{i:05}"),
                VisitIndexEntry {
                    started_at: format!(
                        "2026-{:02}-{:02}T10:{:02}:00Z",
                        1 + i % 12,
                        1 + i % 28,
                        i % 60
                    ),
                    author: format!("worker-{}", i % 4),
                    nonce: String::new(),
                },
            )
        })
        .collect();
    case.chronology = (0..visits / 2)
        .map(|i| {
            (
                format!("entry-{i:05}"),
                ChronologyEntry {
                    at: format!("2026-{:02}-{:02}T09:00:00Z", 1 + i % 12, 1 + i % 28),
                    author: "worker-1".into(),
                    kind: "phone_call".into(),
                    summary: autosurgeon::Text::with_value("A synthetic call about arrangements."),
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    doc::new_document(&case, automerge::ActorId::random())
        .unwrap()
        .save()
}

fn growth(now: Duration, before: Option<Duration>) -> String {
    before
        .map(|b| format!("x{:.1}", now.as_secs_f64() / b.as_secs_f64()))
        .unwrap_or_else(|| "-".into())
}

fn main() {
    let mut t = Table::new(&[
        "visit changes",
        "saved bytes",
        "load ms",
        "load + read ms",
        "growth",
    ]);
    let mut before = None;
    for changes in [1, 100, 10_000] {
        let bytes = visit_with_changes(changes);
        let runs = if changes > 1000 { 10 } else { 50 };
        let load = time_median(runs, || automerge::Automerge::load(&bytes).unwrap());
        let open = time_median(runs, || {
            let doc = automerge::Automerge::load(&bytes).unwrap();
            records::read_visit(&doc).unwrap()
        });
        t.row(vec![
            changes.to_string(),
            bytes.len().to_string(),
            ms(load),
            ms(open),
            growth(open, before),
        ]);
        before = Some(open);
    }
    println!(
        "Opening a visit document (load from saved bytes, then hydrate)\n\n{}\n",
        t.render()
    );

    let mut t = Table::new(&[
        "case visits",
        "saved bytes",
        "open ms",
        "+ visit list ms",
        "+ chronology ms",
        "growth",
    ]);
    let mut before = None;
    for visits in [10, 100, 1000] {
        let bytes = case_with_visits(visits);
        let open = time_median(30, || {
            let doc = automerge::Automerge::load(&bytes).unwrap();
            records::read_case(&doc).unwrap()
        });
        let list = time_median(30, || {
            let doc = automerge::Automerge::load(&bytes).unwrap();
            let case = records::read_case(&doc).unwrap();
            case.visits_newest_first().len()
        });
        let chrono = time_median(30, || {
            let doc = automerge::Automerge::load(&bytes).unwrap();
            let case = records::read_case(&doc).unwrap();
            chronology(&case).len()
        });
        t.row(vec![
            visits.to_string(),
            bytes.len().to_string(),
            ms(open),
            ms(list),
            ms(chrono),
            growth(chrono, before),
        ]);
        before = Some(chrono);
    }
    println!(
        "Opening a case (with half as many other chronology entries as visits)\n\n{}",
        t.render()
    );
}
