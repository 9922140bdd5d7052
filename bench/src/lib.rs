//! What the load generator and the benches share: a lean samod client
//! that counts its bytes, the servers under test as child processes, the
//! process figures we read from /proc, and plain tables.
//!
//! Nothing here asserts a time: it measures and prints.

pub mod client;
pub mod servers;
pub mod stats;
pub mod table;

/// A fresh synthetic visit document in `case_id`, as every workload starts
/// one: the same author, time and place, so runs compare.
pub fn synthetic_visit(case_id: &str) -> automerge::Automerge {
    use fieldvisit_shared::records::{PlaceKind, VisitDoc};
    let visit = VisitDoc::new(
        case_id,
        "bench-worker",
        "2026-11-25T09:00:00Z",
        PlaceKind::Home,
    );
    fieldvisit_shared::doc::new_document(&visit, automerge::ActorId::random())
        .expect("a fresh visit always reconciles")
}
