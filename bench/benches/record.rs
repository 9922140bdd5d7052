//! What the case record costs the server, with no server process: the
//! search over a practice's visits (SQLite FTS5 in a fresh server database,
//! the searcher assigned to one case in ten, so the visibility filter
//! discards most matches), and the case record through the server's
//! casebook (as it stands, as the server held it halfway through, and who
//! wrote the observations) for a visit two devices typed into by turns.
//! Medians of repeated runs.
//!
//! `cargo bench -p fieldvisit-bench --bench record`

use std::collections::HashMap;
use std::time::Duration;

use automerge::Automerge;
use fieldvisit_bench::stats::time_median;
use fieldvisit_bench::table::Table;
use fieldvisit_shared::api::Role;
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::{
    self, CaseDoc, CaseEdit, Edit, PlaceKind, TextField, VisitDoc, VisitIndexEntry,
};
use fieldvisit_sync_server::casebook::{self, Held, Names};
use fieldvisit_sync_server::db::{DatabaseUri, Db};

/// Ordinary words of a visit note; none starts with "marm" and none is
/// [`COMMON`] or [`RARE`].
const VOCABULARY: &[&str] = &[
    "garden",
    "tea",
    "morning",
    "walked",
    "sister",
    "sofa",
    "window",
    "quiet",
    "smiled",
    "talked",
    "letter",
    "doctor",
    "bus",
    "shop",
    "cold",
    "warm",
    "tired",
    "happy",
    "worried",
    "medicine",
    "chair",
    "dog",
    "photographs",
    "music",
    "radio",
    "stairs",
    "bath",
    "meal",
    "bread",
    "neighbour",
    "visit",
    "plan",
    "move",
    "home",
    "friend",
    "church",
    "money",
    "bills",
    "sleep",
    "night",
    "school",
    "son",
    "daughter",
    "phone",
    "carer",
    "support",
    "choice",
    "wanted",
];
/// In the observations of about nine visits in ten.
const COMMON: &str = "kitchen";
/// In the observations of one visit in a hundred.
const RARE: &str = "marmalade";
const WORDS_PER_FIELD: usize = 80;
const CASES: usize = 10;

/// A small deterministic generator (Knuth's MMIX LCG), so runs compare.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `WORDS_PER_FIELD` words from the vocabulary, with `extra` put in at
    /// a random place.
    fn words(&mut self, extra: &[&str]) -> String {
        let mut words: Vec<&str> = (0..WORDS_PER_FIELD)
            .map(|_| VOCABULARY[self.below(VOCABULARY.len())])
            .collect();
        for w in extra {
            let at = self.below(words.len() + 1);
            words.insert(at, w);
        }
        words.join(" ")
    }
}

/// The heads as the server's index notes them (sorted, comma-separated).
fn heads_text(doc: &Automerge) -> String {
    let mut heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
    heads.sort();
    heads.join(",")
}

/// Visit `i` of a practice: 80 words in each of its three texts, the rare
/// word in every hundredth visit's observations, the common word in most.
fn synthetic_visit(i: usize, case_id: &str, rng: &mut Lcg) -> VisitDoc {
    let mut v = VisitDoc::new(case_id, "w-0", "2026-11-25T10:00:00Z", PlaceKind::Home);
    let mut extra = Vec::new();
    if rng.below(10) != 0 {
        extra.push(COMMON);
    }
    if i.is_multiple_of(100) {
        extra.push(RARE);
    }
    v.own_words.text = autosurgeon::Text::with_value(rng.words(&[]));
    v.observations = autosurgeon::Text::with_value(rng.words(&extra));
    v.analysis = autosurgeon::Text::with_value(rng.words(&[]));
    v
}

/// A fresh server database holding `visits` visits, indexed, in ten cases
/// (case `c` holds a block of `visits / 10`); "w-0" is assigned to case-0
/// only, "w-1" to the rest. Returns the database, its directory, and one
/// visit of case-0 to re-index (its id, heads and passages).
fn practice(
    visits: usize,
) -> (
    Db,
    tempfile::TempDir,
    (String, String, Vec<records::Passage>),
) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&DatabaseUri::for_data_dir(dir.path())).unwrap();
    db.insert_person("w-0", "Wren", &Role::Worker, None)
        .unwrap();
    db.insert_person("w-1", "Ash", &Role::Worker, None).unwrap();
    for c in 0..CASES {
        let case_id = format!("case-{c}");
        db.insert_case(
            &case_id,
            &format!("REF-{c}"),
            &format!("Person {c}"),
            &format!("case-doc-{c}"),
        )
        .unwrap();
        db.assign(&case_id, if c == 0 { "w-0" } else { "w-1" })
            .unwrap();
    }
    let per_case = visits / CASES;
    let mut rng = Lcg(42);
    let mut first = None;
    for i in 0..visits {
        let case_id = format!("case-{}", i / per_case);
        let document_id = format!("visit-{i:05}");
        let visit = synthetic_visit(i, &case_id, &mut rng);
        let heads = heads_text(&doc::new_document(&visit, device_actor("d-1")).unwrap());
        db.register_seeded_visit(&case_id, &document_id, "w-0")
            .unwrap();
        let passages = visit.passages();
        db.index_document(&document_id, &case_id, &heads, &passages, &[])
            .unwrap();
        if first.is_none() {
            first = Some((document_id, heads, passages));
        }
    }
    (db, dir, first.unwrap())
}

fn search_table() -> Table {
    let mut t = Table::new(&[
        "visits",
        "index one visit (ms)",
        "search rare word (ms)",
        "search common word (ms)",
        "search prefix \"marm\" (ms)",
        "hits (rare)",
    ]);
    for visits in [10, 100, 1_000] {
        let (db, _dir, (id, heads, passages)) = practice(visits);
        let search = |q: &str| db.search("w-0", q, 20).unwrap();
        let rare = search(RARE);
        // One in a hundred visits holds the rare word, in its block's case:
        // the searcher sees only case-0's.
        assert_eq!(rare.len(), 1, "visit-00000 only");
        let common = search(COMMON);
        assert!(!common.is_empty());
        assert!(
            rare.iter()
                .chain(&common)
                .all(|h| h.case_id == "case-0" && h.kind == "visit"),
            "only the searcher's case"
        );
        assert_eq!(search("marm").len(), rare.len(), "the prefix finds it");

        let runs = 50;
        let index: Duration = time_median(runs, || {
            db.index_document(&id, "case-0", &heads, &passages, &[])
                .unwrap()
        });
        let rare_t: Duration = time_median(runs, || search(RARE));
        let common_t: Duration = time_median(runs, || search(COMMON));
        let prefix_t: Duration = time_median(runs, || search("marm"));
        t.row(vec![
            visits.to_string(),
            ms(index),
            ms(rare_t),
            ms(common_t),
            ms(prefix_t),
            rare.len().to_string(),
        ]);
    }
    t
}

/// The server's receipt time of the `n`th thing it received: one
/// millisecond apart from 2026-11-25T10:00:00.000Z (RFC 3339, UTC, millis,
/// as the server writes them).
fn received(n: usize) -> String {
    let total = 10 * 3_600_000 + n;
    format!(
        "2026-11-25T{:02}:{:02}:{:02}.{:03}Z",
        total / 3_600_000,
        total / 60_000 % 60,
        total / 1000 % 60,
        total % 1000
    )
}

/// Receipts for every change of `doc`, one millisecond apart in the order
/// `get_changes` lists them, the first at `from`.
fn receipts(doc: &Automerge, from: usize) -> HashMap<String, String> {
    doc.get_changes(&[])
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash().to_string(), received(from + i)))
        .collect()
}

/// A visit whose observations devices d-1 and d-2 typed by turns,
/// `changes` changes in all (the first makes the visit).
fn typed_visit(changes: usize) -> Automerge {
    let v = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
    let mut d = doc::new_document(&v, device_actor("d-1")).unwrap();
    let devices = [device_actor("d-1"), device_actor("d-2")];
    let mut text = String::new();
    for i in 1..changes {
        d.set_actor(devices[i % 2].clone());
        text.push_str(&format!("w{i} "));
        doc::update_text(&mut d, TextField::Observations.path(), &text).unwrap();
    }
    d
}

fn case_doc(visit_document_id: &str) -> Automerge {
    let mut d = doc::new_document(
        &CaseDoc::new("case-1", "REF-1", "Casey Synthetic"),
        device_actor("d-1"),
    )
    .unwrap();
    CaseEdit::IndexVisit {
        visit_document_id: visit_document_id.into(),
        entry: VisitIndexEntry {
            started_at: "2026-11-25T10:00:00Z".into(),
            author: "w-1".into(),
            nonce: String::new(),
        },
    }
    .apply(&mut d)
    .unwrap();
    d
}

fn casebook_table() -> Table {
    let mut t = Table::new(&[
        "changes",
        "record now (ms)",
        "record as at the middle (ms)",
        "authorship of observations (ms)",
        "runs",
    ]);
    let names = || {
        Names::new(
            [
                ("w-1".to_owned(), "Wren".to_owned()),
                ("w-2".to_owned(), "Ash".to_owned()),
            ],
            [
                ("d-1".to_owned(), "Phone".to_owned(), "Wren".to_owned()),
                ("d-2".to_owned(), "Phone".to_owned(), "Ash".to_owned()),
            ],
        )
    };
    for changes in [100, 1_000, 10_000] {
        let visit = typed_visit(changes);
        let case = case_doc("visit-1");
        // The case document arrives first, then the visit's changes in turn.
        let case_receipts = receipts(&case, 0);
        let visit_receipts = receipts(&visit, 1000);
        assert_eq!(visit_receipts.len(), changes);
        let case_held = Held {
            document_id: "case-doc-1",
            doc: &case,
            receipts: &case_receipts,
        };
        let visits = [Held {
            document_id: "visit-1",
            doc: &visit,
            receipts: &visit_receipts,
        }];
        let names = names();
        // Halfway: the visit's first change and the next changes / 2.
        // Every change here has a receipt, so receipts were kept from the start.
        let middle = casebook::AsAt::new(&received(1000 + changes / 2), &received(0)).unwrap();

        let now = casebook::case_record("case-1", &case_held, &visits, &[], &names, None).unwrap();
        assert_eq!(now.visits.len(), 1);
        let then = casebook::case_record("case-1", &case_held, &visits, &[], &names, Some(&middle))
            .unwrap();
        let observations = then.visits[0]
            .passages
            .iter()
            .find(|p| p.key == "field:observations")
            .unwrap();
        assert!(
            observations.text.ends_with(&format!(" w{} ", changes / 2)),
            "the text as at the middle"
        );
        assert!(!observations.since.is_empty(), "marked against now");
        let passage = records::read_visit(&visit)
            .unwrap()
            .passages()
            .into_iter()
            .find(|p| p.key == "field:observations")
            .unwrap();
        let runs = casebook::authorship(&visits[0], &passage, &names).unwrap();
        assert_eq!(runs.runs.len(), changes - 1, "one run per word");
        assert!(runs.runs.iter().all(|r| r.received.is_some()));

        let n = if changes > 1000 { 10 } else { 30 };
        let now_t: Duration = time_median(n, || {
            casebook::case_record("case-1", &case_held, &visits, &[], &names, None).unwrap()
        });
        let then_t: Duration = time_median(n, || {
            casebook::case_record("case-1", &case_held, &visits, &[], &names, Some(&middle))
                .unwrap()
        });
        let authorship_t: Duration = time_median(n, || {
            casebook::authorship(&visits[0], &passage, &names).unwrap()
        });
        t.row(vec![
            changes.to_string(),
            ms(now_t),
            ms(then_t),
            ms(authorship_t),
            runs.runs.len().to_string(),
        ]);
    }
    t
}

fn main() {
    let search = search_table();
    println!(
        "Search over a practice's visits (10 cases, the searcher on 1; SQLite FTS5, synchronous=FULL; limit 20)\n\n{}\n",
        search.render()
    );
    let record = casebook_table();
    println!(
        "The case record through the server's casebook: one visit typed by two devices in turn, one change per word\n\n{}\n",
        record.render()
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}
