//! What the server's rule check costs per inbound change (issue 13), as the
//! document grows: a keystroke's change to a visit (judged on the document
//! as it stands, nothing applied), any other change to a visit, and a new
//! visit listed in a case (copy the document, apply the change, read both
//! versions into their kind, check the rules). Medians of repeated runs.
//!
//! `cargo bench -p fieldvisit-bench --bench rules`

use std::time::Duration;

use automerge::Automerge;
use fieldvisit_bench::stats::time_median;
use fieldvisit_bench::table::Table;
use fieldvisit_shared::api::Role;
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::{
    CaseDoc, CaseEdit, Context, Edit, Kind, PlaceKind, TextField, VisitDoc, VisitEdit,
    VisitIndexEntry, Writer,
};
use fieldvisit_sync_server::rules::{self, Judgement, changes_message as payload};

const DEVICE: &str = "device-bench";

/// A visit typed into `changes` times by one worker's device.
fn visit(changes: usize) -> Automerge {
    let v = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
    let mut d = doc::new_document(&v, device_actor(DEVICE)).unwrap();
    let mut text = String::new();
    for i in 1..changes {
        text.push_str(&format!("w{i} "));
        doc::update_text(&mut d, TextField::Observations.path(), &text).unwrap();
    }
    d
}

fn case(visits: usize) -> Automerge {
    let mut d = doc::new_document(
        &CaseDoc::new("case-1", "REF-1", "Casey Synthetic"),
        device_actor(DEVICE),
    )
    .unwrap();
    for i in 0..visits {
        CaseEdit::IndexVisit {
            visit_document_id: format!("visit-{i}"),
            entry: VisitIndexEntry {
                started_at: "2026-11-25T10:00:00Z".into(),
                author: "w-1".into(),
                nonce: String::new(),
            },
        }
        .apply(&mut d)
        .unwrap();
    }
    d
}

fn judge(kind: Kind, before: &Automerge, payload: &[u8]) -> Judgement {
    let actor = device_actor(DEVICE);
    let made = |_: &str, _: &str| true;
    let cx = Context {
        writer: Writer {
            person_id: "w-1",
            role: &Role::Worker,
        },
        case_id: "case-1",
        actor: &actor,
        created_by_writer: &made,
    };
    rules::judge(kind, before, payload, &cx)
}

/// `doc` as the server holds it: loaded from the store, and written to by
/// sync since (automerge builds part of its indexes on the first change it
/// applies to a loaded document, which a copy of a never-written document
/// then pays for on every judgement).
fn as_served(doc: &Automerge) -> Automerge {
    let mut served = Automerge::load(&doc.save()).unwrap();
    let mut warm = served.fork();
    doc::put_at(&mut warm, &[], "warm", true).ok();
    served
        .load_incremental(&warm.save_after(&doc.get_heads()))
        .unwrap();
    served
}

fn row(t: &mut Table, what: &str, size: usize, before: &Automerge, kind: Kind, next: &Automerge) {
    let before = &as_served(before);
    let mut next = next.fork();
    next.merge(&mut before.fork()).unwrap();
    let p = payload(before, &next);
    let carried = automerge::sync::Message::decode(&p).unwrap().changes.len();
    assert!(carried > 0, "the message carries the change");
    assert!(
        matches!(judge(kind, before, &p), Judgement::Accept(_)),
        "the benchmarked change is one the rules accept"
    );
    let runs = if size > 1000 { 20 } else { 100 };
    let copy: Duration = time_median(runs, || before.clone());
    let judged: Duration = time_median(runs, || judge(kind, before, &p));
    let read: Duration = time_median(runs, || match kind {
        Kind::Visit => drop(fieldvisit_shared::records::read_visit(before).unwrap()),
        Kind::Case => drop(fieldvisit_shared::records::read_case(before).unwrap()),
        Kind::Concern => drop(fieldvisit_shared::records::concern::read_concern(before).unwrap()),
        Kind::Capacity => {
            drop(fieldvisit_shared::records::capacity::read_capacity(before).unwrap())
        }
    });
    t.row(vec![
        what.to_owned(),
        size.to_string(),
        us(judged),
        us(copy),
        us(read),
    ]);
}

fn main() {
    let mut t = Table::new(&[
        "document",
        "size",
        "judge one change µs",
        "copy µs",
        "read into its kind µs",
    ]);
    for changes in [10, 1_000, 10_000] {
        let before = visit(changes);
        let mut next = before.fork().with_actor(device_actor(DEVICE));
        VisitEdit::SetText {
            text: TextField::Observations.into(),
            value: format!("{} typed", read_observations(&before)),
        }
        .apply(&mut next)
        .unwrap();
        row(
            &mut t,
            "visit: typing (changes)",
            changes,
            &before,
            Kind::Visit,
            &next,
        );
        let mut other = before.fork().with_actor(device_actor(DEVICE));
        VisitEdit::AddAction { id: "a-new".into() }
            .apply(&mut other)
            .unwrap();
        row(
            &mut t,
            "visit: an action added (changes)",
            changes,
            &before,
            Kind::Visit,
            &other,
        );
    }
    for visits in [10, 100, 1_000] {
        let before = case(visits);
        let mut next = before.fork().with_actor(device_actor(DEVICE));
        CaseEdit::IndexVisit {
            visit_document_id: "visit-new".into(),
            entry: VisitIndexEntry {
                started_at: "2026-11-26T10:00:00Z".into(),
                author: "w-1".into(),
                nonce: "00".repeat(16),
            },
        }
        .apply(&mut next)
        .unwrap();
        row(
            &mut t,
            "case (visits listed)",
            visits,
            &before,
            Kind::Case,
            &next,
        );
    }
    println!(
        "The server's rule check per inbound change (copy, apply, read before and after, check)\n\n{}\n",
        t.render()
    );
}

fn us(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e6)
}

fn read_observations(d: &Automerge) -> String {
    fieldvisit_shared::records::read_visit(d)
        .unwrap()
        .observations
        .as_str()
        .to_owned()
}
