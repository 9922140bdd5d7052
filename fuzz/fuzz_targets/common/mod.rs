//! What the fuzz targets over the record rules share: the stored record of
//! each kind, and a script read from the input that makes edits a device
//! could really make, through automerge's own API.

use std::sync::OnceLock;

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use fieldvisit_shared::api::Role;
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::device_actor;
use fieldvisit_shared::records::{CapacityDoc, CaseDoc, ConcernDoc, Kind, PlaceKind, VisitDoc};

/// At most this many edits per input: enough to reach any rule, and every
/// run stays short.
pub const MAX_EDITS: usize = 48;

/// Keys the records use, and some they do not: an edit picks one by index.
const KEYS: &[&str] = &[
    "schema",
    "case_id",
    "author",
    "created_at",
    "observations",
    "analysis",
    "own_words",
    "actions",
    "review",
    "decisions",
    "status",
    "outcome",
    "questions",
    "raised_at",
    "acknowledged_by",
    "photos",
    "creative",
    "passages",
    "text",
    "by",
    "at",
    "id",
    "kind",
    "x",
];

const WORDS: &[&str] = &[
    "",
    "She hummed.",
    "w-1",
    "s-1",
    "case-1",
    "visit-1",
    "2026-11-25T10:00:00Z",
    "submitted",
    "signed_off",
    "returned",
    "raised",
    "acknowledged",
    "lacks",
    "has",
    "worker",
    "supervisor",
    "\u{1F3B5}",
    "é",
];

/// The stored record of each kind, made once.
pub fn stored(kind: Kind) -> Automerge {
    static STORED: OnceLock<[Automerge; 4]> = OnceLock::new();
    let all =
        STORED.get_or_init(|| [Kind::Visit, Kind::Case, Kind::Concern, Kind::Capacity].map(make));
    let at = match kind {
        Kind::Visit => 0,
        Kind::Case => 1,
        Kind::Concern => 2,
        Kind::Capacity => 3,
    };
    all[at].clone()
}

fn make(kind: Kind) -> Automerge {
    let author = device_actor("d-1");
    let made = match kind {
        Kind::Visit => doc::new_document(
            &VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home),
            author,
        ),
        Kind::Case => doc::new_document(&CaseDoc::new("case-1", "REF-1", "Alex Example"), author),
        Kind::Concern => doc::new_document(
            &ConcernDoc::new("case-1", "visit-1", "w-1", "2026-11-25T10:00:00Z"),
            author,
        ),
        Kind::Capacity => doc::new_document(
            &CapacityDoc::new("case-1", "visit-1", "w-1", "2026-11-25T10:00:00Z"),
            author,
        ),
    };
    made.expect("a new record is made")
}

/// Every object in the document (up to 256), the root first.
pub fn objects(doc: &Automerge) -> Vec<(ObjId, ObjType)> {
    let mut found = vec![(ROOT, ObjType::Map)];
    let mut at = 0;
    while at < found.len() && found.len() < 256 {
        let (obj, ty) = found[at].clone();
        at += 1;
        let values: Vec<(Value<'_>, ObjId)> = match ty {
            ObjType::Map | ObjType::Table => doc
                .keys(&obj)
                .filter_map(|key| doc.get(&obj, key).ok().flatten())
                .collect(),
            ObjType::List => (0..doc.length(&obj))
                .filter_map(|i| doc.get(&obj, i).ok().flatten())
                .collect(),
            ObjType::Text => Vec::new(),
        };
        for (value, id) in values {
            if let Value::Object(ty) = value {
                found.push((id, ty));
            }
        }
    }
    found
}

/// Reads the input a byte at a time; past its end, zeros.
pub struct Script<'a>(pub &'a [u8]);

impl Script<'_> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
        &from[self.byte() as usize % from.len()]
    }

    fn scalar(&mut self) -> ScalarValue {
        match self.byte() % 5 {
            0 => ScalarValue::Str((*self.pick(WORDS)).into()),
            1 => ScalarValue::Int(i64::from(self.byte() as i8)),
            2 => ScalarValue::Boolean(self.byte() & 1 == 1),
            3 => ScalarValue::Null,
            _ => ScalarValue::Timestamp(1_764_064_800_000 + i64::from(self.byte()) * 60_000),
        }
    }
}

/// One edit, as a device's app could make it. Errors (a key on a list, an
/// index past the end) are the harness asking for something automerge does
/// not allow: skipped.
pub fn edit(tx: &mut Transaction<'_>, targets: &[(ObjId, ObjType)], s: &mut Script<'_>) {
    let (obj, ty) = s.pick(targets).clone();
    let op = s.byte();
    let _ = match (ty, op % 6) {
        (ObjType::Map | ObjType::Table, 0 | 1) => {
            let key = *s.pick(KEYS);
            let value = s.scalar();
            tx.put(&obj, key, value)
        }
        (ObjType::Map | ObjType::Table, 2) => {
            let key = *s.pick(KEYS);
            let ty = *s.pick(&[ObjType::Map, ObjType::List, ObjType::Text]);
            tx.put_object(&obj, key, ty).map(|_| ())
        }
        (ObjType::Map | ObjType::Table, _) => {
            let key = *s.pick(KEYS);
            tx.delete(&obj, key)
        }
        (ObjType::List, 0 | 1) => {
            let at = s.byte() as usize % (tx.length(&obj) + 1);
            let value = s.scalar();
            tx.insert(&obj, at, value)
        }
        (ObjType::List, 2) => {
            let at = s.byte() as usize % (tx.length(&obj) + 1);
            let ty = *s.pick(&[ObjType::Map, ObjType::List, ObjType::Text]);
            tx.insert_object(&obj, at, ty).map(|_| ())
        }
        (ObjType::List, _) => {
            let len = tx.length(&obj);
            if len == 0 {
                return;
            }
            tx.delete(&obj, s.byte() as usize % len)
        }
        (ObjType::Text, _) => {
            let len = tx.length(&obj);
            let at = s.byte() as usize % (len + 1);
            let delete = (s.byte() as usize % 4).min(len - at);
            let words = *s.pick(WORDS);
            tx.splice_text(&obj, at, delete as isize, words)
        }
    };
}

/// Who writes, on what: read from the start of the input.
pub struct Setting {
    pub kind: Kind,
    pub role: Role,
    pub person: &'static str,
    pub device: &'static str,
    /// The record is new: the message makes it.
    pub new_record: bool,
    pub before: Automerge,
    /// `before` with the script's edits, made on `device`.
    pub after: Automerge,
}

impl Setting {
    pub fn read(s: &mut Script<'_>) -> Setting {
        let head = s.byte();
        let kind = *s.pick(&[Kind::Visit, Kind::Case, Kind::Concern, Kind::Capacity]);
        let role = s
            .pick(&[Role::Worker, Role::Supervisor, Role::Reviewer, Role::Admin])
            .clone();
        let person = *s.pick(&["w-1", "w-2", "s-1"]);
        // The stored record was made on d-1; most inputs write as d-1.
        let device = if head & 7 == 0 { "d-2" } else { "d-1" };
        let new_record = head & 8 == 8;
        let before = if new_record {
            Automerge::new()
        } else {
            stored(kind)
        };
        let mut after = before.fork().with_actor(device_actor(device));
        if new_record {
            // A new record arrives with the change that made it.
            let _ = after.merge(&mut stored(kind));
        }
        let mut edits = 0;
        while !s.0.is_empty() && edits < MAX_EDITS {
            let targets = objects(&after);
            let mut tx = after.transaction();
            for _ in 0..1 + s.byte() % 4 {
                edit(&mut tx, &targets, s);
                edits += 1;
            }
            tx.commit();
        }
        Setting {
            kind,
            role,
            person,
            device,
            new_record,
            before,
            after,
        }
    }

    /// `rules::judge` on `payload`, as the server runs it for this
    /// setting's writer and device, on case-1.
    pub fn judge(&self, payload: &[u8]) -> fieldvisit_sync_server::rules::Judgement {
        let actor = device_actor(self.device);
        let new_record = self.new_record;
        let made = |_: &str, _: &str| new_record;
        let cx = fieldvisit_shared::records::Context {
            writer: fieldvisit_shared::records::Writer {
                person_id: self.person,
                role: &self.role,
            },
            case_id: "case-1",
            actor: &actor,
            created_by_writer: &made,
        };
        fieldvisit_sync_server::rules::judge(self.kind, &self.before, payload, &cx)
    }
}

/// What samod stores of an accepted message (its payload for samod,
/// applied to `before` as samod's document actor applies a sync message)
/// is exactly the changes the judgement accepted, and nothing waits in
/// automerge's queue for a dependency.
pub fn assert_stores_what_was_judged(
    before: &Automerge,
    accepted: &fieldvisit_sync_server::rules::Accepted,
) {
    use automerge::sync::SyncDoc;
    let message =
        automerge::sync::Message::decode(&accepted.forward).expect("the payload for samod decodes");
    let mut stored = before.clone();
    stored
        .receive_sync_message(&mut automerge::sync::State::new(), message)
        .expect("samod applies the payload");
    assert!(
        stored.get_missing_deps(&[]).is_empty(),
        "a change waits for a dependency in samod's document"
    );
    let mut got: Vec<_> = stored
        .get_changes(&before.get_heads())
        .iter()
        .map(|c| c.hash())
        .collect();
    let mut judged = accepted.new.clone();
    got.sort();
    judged.sort();
    assert_eq!(got, judged, "samod stores other changes than were judged");
}
