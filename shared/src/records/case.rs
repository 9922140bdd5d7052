//! The case document: the person, the people around them, the index of the
//! case's visits and the chronology entries that are not visits. The practice
//! admin makes it; workers add to it.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

use super::{Context, Refusal, SCHEMA_VERSION, valid};
use crate::role::Role;
use crate::{ValidationError, validate};

/// One case: the person, the people around them, and the index of its visits.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct CaseDoc {
    pub schema: u64,
    /// The server's case id (also the key of assignments).
    pub case_id: String,
    /// The commissioning council's reference for the case.
    pub reference: String,
    pub person: Person,
    #[autosurgeon(missing = "Default::default")]
    pub key_people: BTreeMap<String, KeyPerson>,
    /// Visit document ids of this case, with enough to list them offline.
    #[autosurgeon(missing = "Default::default")]
    pub visits: BTreeMap<String, VisitIndexEntry>,
    /// Chronology entries that are not visits (a phone call, a letter, a meeting).
    #[autosurgeon(missing = "Default::default")]
    pub chronology: BTreeMap<String, ChronologyEntry>,
    /// The case's other records made on devices (safeguarding concerns,
    /// capacity assessments), by document id: how a colleague's device
    /// finds them, as it finds visits.
    #[autosurgeon(missing = "Default::default")]
    pub records: BTreeMap<String, RecordIndexEntry>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Person {
    pub name: Text,
    #[autosurgeon(missing = "Default::default")]
    pub preferred_name: Text,
    /// YYYY-MM-DD, or empty when unknown.
    #[autosurgeon(missing = "Default::default")]
    pub date_of_birth: String,
    /// How best to communicate with the person: read before every visit.
    #[autosurgeon(missing = "Default::default")]
    pub communication_needs: Text,
    #[autosurgeon(missing = "Default::default")]
    pub key_details: Text,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct KeyPerson {
    pub name: Text,
    pub relationship: Text,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct VisitIndexEntry {
    /// RFC 3339; lets a case list its visits newest first without opening them.
    pub started_at: String,
    /// Person id of the worker who created the visit.
    pub author: String,
    /// The nonce the visit's id was made from: the server checks that the
    /// device adding the entry made the visit (see [`crate::provenance`]).
    #[autosurgeon(missing = "Default::default")]
    pub nonce: String,
}

/// A record of the case that is not a visit, listed as its device made it.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct RecordIndexEntry {
    /// Its [`super::Kind`], as stored.
    pub kind: String,
    /// RFC 3339: when it was made.
    pub created_at: String,
    /// Person id of whoever made it.
    pub author: String,
    /// As for a visit: proof that the listing device made it.
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ChronologyEntry {
    pub at: String,
    pub author: String,
    pub kind: String,
    pub summary: Text,
}

impl CaseDoc {
    pub fn new(case_id: &str, reference: &str, person_name: &str) -> Self {
        CaseDoc {
            schema: SCHEMA_VERSION,
            case_id: case_id.to_owned(),
            reference: reference.to_owned(),
            person: Person {
                name: Text::with_value(person_name),
                preferred_name: Text::default(),
                date_of_birth: String::new(),
                communication_needs: Text::default(),
                key_details: Text::default(),
            },
            key_people: BTreeMap::new(),
            visits: BTreeMap::new(),
            chronology: BTreeMap::new(),
            records: BTreeMap::new(),
        }
    }

    /// Visit document ids, newest first.
    pub fn visits_newest_first(&self) -> Vec<(&str, &VisitIndexEntry)> {
        let mut visits: Vec<_> = self.visits.iter().map(|(k, v)| (k.as_str(), v)).collect();
        visits.sort_by(|a, b| b.1.started_at.cmp(&a.1.started_at).then(a.0.cmp(b.0)));
        visits
    }
}

/// Reads a case document, refusing newer schemas.
pub fn read_case(doc: &automerge::Automerge) -> Result<CaseDoc, crate::Error> {
    crate::doc::read(doc)
}

/// The edits a device makes to a case document.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseEdit {
    /// Lists a visit this device made, without touching the rest, so
    /// concurrent additions from several devices all survive.
    IndexVisit {
        visit_document_id: String,
        entry: VisitIndexEntry,
    },
    /// Lists a concern or an assessment this device made.
    IndexRecord {
        document_id: String,
        entry: RecordIndexEntry,
    },
}

impl super::Edit for CaseEdit {
    type Of = CaseDoc;

    /// A device indexes its own records in its case; the rules
    /// ([`check`]) say which entries and in whose name.
    fn permitted(
        &self,
        _case: &CaseDoc,
        _doc: &automerge::Automerge,
        writer: &super::Writer<'_>,
    ) -> Result<(), Refusal> {
        may_write(writer)
    }

    fn apply(&self, doc: &mut automerge::Automerge) -> Result<(), crate::Error> {
        match self {
            CaseEdit::IndexVisit {
                visit_document_id,
                entry,
            } => crate::doc::put_in_map(doc, &[], "visits", visit_document_id, entry),
            CaseEdit::IndexRecord { document_id, entry } => {
                crate::doc::put_in_map(doc, &[], "records", document_id, entry)
            }
        }
    }
}

/// The rules of a case document. The admin makes it on the server, so a
/// device never creates one; workers and supervisors on the case add
/// visits of their own and chronology entries signed as themselves, edit the
/// person's details, and never rewrite or remove what is listed.
/// Listed entries are never rewritten or removed; a new one names the
/// writer as its author and was made by the writer's device.
fn listings<E: PartialEq>(
    before: &BTreeMap<String, E>,
    after: &BTreeMap<String, E>,
    what: &str,
    cx: &Context<'_>,
    signature: impl Fn(&E) -> (&String, &String),
) -> Result<(), Refusal> {
    for (id, entry) in before {
        match after.get(id) {
            Some(now) if now == entry => {}
            Some(_) => {
                return Err(Refusal::new(
                    "listed_entry_changed",
                    format!("the listing of {what} {id} cannot be changed"),
                ));
            }
            None => {
                return Err(Refusal::new(
                    "listed_entry_removed",
                    format!("{what} {id} cannot be removed from its case"),
                ));
            }
        }
    }
    for (id, entry) in after.iter().filter(|(id, _)| !before.contains_key(*id)) {
        let (author, nonce) = signature(entry);
        if author != cx.writer.person_id {
            return Err(Refusal::new(
                "forged_author",
                format!(
                    "a {what} listed by {} must name them as its author",
                    cx.writer.person_id
                ),
            ));
        }
        if !(cx.created_by_writer)(id, nonce) {
            return Err(Refusal::new(
                "not_creator",
                format!("only the device that made {what} {id} can list it"),
            ));
        }
    }
    Ok(())
}

/// A practice admin or reviewer reads case records; workers and
/// supervisors add to them (their visits, records and entries).
fn may_write(writer: &super::Writer<'_>) -> Result<(), Refusal> {
    if matches!(writer.role, Role::Admin | Role::Reviewer) {
        return Err(Refusal::new(
            "read_only",
            "a practice admin or reviewer reads case records and does not write them",
        ));
    }
    Ok(())
}

pub fn check(before: &Option<CaseDoc>, after: &CaseDoc, cx: &Context<'_>) -> Result<(), Refusal> {
    let Some(before) = before else {
        return Err(Refusal::new(
            "not_creatable",
            "a case is made by the practice admin, not on a device",
        ));
    };
    may_write(&cx.writer)?;
    if after.case_id != before.case_id || after.reference != before.reference {
        return Err(Refusal::new(
            "server_field",
            "the case id and reference are set by the practice admin",
        ));
    }
    listings(&before.visits, &after.visits, "visit", cx, |e| {
        (&e.author, &e.nonce)
    })?;
    listings(&before.records, &after.records, "record", cx, |e| {
        (&e.author, &e.nonce)
    })?;
    for (id, entry) in after
        .records
        .iter()
        .filter(|(id, _)| !before.records.contains_key(*id))
    {
        match super::Kind::parse(&entry.kind) {
            Some(kind) if kind.made_on_devices() && kind != super::Kind::Visit => {}
            _ => {
                return Err(Refusal::new(
                    "invalid_value",
                    format!("record {id} is of no kind a case lists ({})", entry.kind),
                ));
            }
        }
    }
    for (id, entry) in &before.chronology {
        match after.chronology.get(id) {
            Some(now)
                if now.at == entry.at && now.author == entry.author && now.kind == entry.kind =>
            {
                if now.summary != entry.summary && now.author != cx.writer.person_id {
                    return Err(Refusal::new(
                        "not_author",
                        "only its author can change a chronology entry",
                    ));
                }
            }
            Some(_) => {
                return Err(Refusal::new(
                    "listed_entry_changed",
                    format!("chronology entry {id} cannot be re-dated or re-attributed"),
                ));
            }
            None => {
                return Err(Refusal::new(
                    "listed_entry_removed",
                    format!("chronology entry {id} cannot be removed"),
                ));
            }
        }
    }
    for entry in after
        .chronology
        .iter()
        .filter(|(id, _)| !before.chronology.contains_key(*id))
        .map(|(_, e)| e)
    {
        if entry.author != cx.writer.person_id {
            return Err(Refusal::new(
                "forged_author",
                format!(
                    "a chronology entry by {} must name them as its author",
                    cx.writer.person_id
                ),
            ));
        }
    }
    valid(problems(after))
}

/// Every problem with a case document, not just the first.
pub fn problems(c: &CaseDoc) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(validate::id("case_id", &c.case_id));
    check(validate::label("reference", &c.reference));
    check(validate::label("person.name", c.person.name.as_str()));
    check(validate::date(
        "person.date_of_birth",
        &c.person.date_of_birth,
    ));
    let mut seen = std::collections::HashSet::new();
    for (visit_id, entry) in &c.visits {
        if !seen.insert(visit_id) {
            check(Err(ValidationError::DuplicateId {
                field: "visits",
                id: visit_id.clone(),
            }));
        }
        check(validate::timestamp("visits.started_at", &entry.started_at));
    }
    errors
}

impl super::Record for CaseDoc {
    const KIND: super::Kind = super::Kind::Case;
    const NAME: &'static str = "Case";
    const PRIORITY: u8 = 1;
    const MADE_ON_DEVICES: bool = false;
    const REGISTERED: &'static str = "case_registered";
    const SHAPE: &'static super::ops::Shape = &super::ops::CASE;
    type Edit = CaseEdit;

    fn case_id(&self) -> &str {
        &self.case_id
    }

    fn check(
        before: &Option<Self>,
        after: &Self,
        _after_doc: &automerge::Automerge,
        _new: &std::collections::HashSet<automerge::ChangeHash>,
        cx: &Context<'_>,
    ) -> Result<super::Accepted, Refusal> {
        check(before, after, cx).map(|()| super::Accepted::default())
    }

    fn passages(&self) -> Vec<super::Passage> {
        CaseDoc::passages(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Writer;

    #[test]
    fn case_lists_visits_newest_first() {
        let mut case = CaseDoc::new("case-1", "REF-1", "Alex Example");
        for (id, at) in [("a", "2026-01-02T00:00:00Z"), ("b", "2026-03-01T00:00:00Z")] {
            case.visits.insert(
                id.into(),
                VisitIndexEntry {
                    started_at: at.into(),
                    author: "w".into(),
                    nonce: String::new(),
                },
            );
        }
        let ids: Vec<_> = case.visits_newest_first().iter().map(|v| v.0).collect();
        assert_eq!(ids, ["b", "a"]);
    }

    fn entry(author: &str, nonce: &str) -> VisitIndexEntry {
        VisitIndexEntry {
            started_at: "2026-11-25T10:00:00Z".into(),
            author: author.into(),
            nonce: nonce.into(),
        }
    }

    fn with(role: &Role, f: impl FnOnce(&Context<'_>)) {
        let actor = automerge::ActorId::random();
        let made = |id: &str, nonce: &str| id == "v-mine" && nonce == "n-mine";
        f(&Context {
            writer: Writer {
                person_id: "w-1",
                role,
            },
            case_id: "case-1",
            actor: &actor,
            created_by_writer: &made,
        })
    }

    #[test]
    fn a_worker_lists_only_visits_their_device_made_as_themselves() {
        let before = CaseDoc::new("case-1", "REF-1", "Alex Example");
        with(&Role::Worker, |cx| {
            let mut after = before.clone();
            after.visits.insert("v-mine".into(), entry("w-1", "n-mine"));
            assert_eq!(check(&Some(before.clone()), &after, cx), Ok(()));

            let mut forged = before.clone();
            forged
                .visits
                .insert("v-mine".into(), entry("supervisor-1", "n-mine"));
            assert_eq!(
                check(&Some(before.clone()), &forged, cx).unwrap_err().code,
                "forged_author"
            );

            let mut theirs = before.clone();
            theirs
                .visits
                .insert("v-theirs".into(), entry("w-1", "n-mine"));
            assert_eq!(
                check(&Some(before.clone()), &theirs, cx).unwrap_err().code,
                "not_creator"
            );
        });
    }

    #[test]
    fn listed_visits_are_never_rewritten_or_removed() {
        let mut before = CaseDoc::new("case-1", "REF-1", "Alex Example");
        before.visits.insert("v-old".into(), entry("w-2", ""));
        with(&Role::Worker, |cx| {
            let mut removed = before.clone();
            removed.visits.clear();
            assert_eq!(
                check(&Some(before.clone()), &removed, cx).unwrap_err().code,
                "listed_entry_removed"
            );
            let mut taken = before.clone();
            taken.visits.insert("v-old".into(), entry("w-1", ""));
            assert_eq!(
                check(&Some(before.clone()), &taken, cx).unwrap_err().code,
                "listed_entry_changed"
            );
            let mut renamed = before.clone();
            renamed.reference = "OTHER".into();
            assert_eq!(
                check(&Some(before.clone()), &renamed, cx).unwrap_err().code,
                "server_field"
            );
        });
    }

    #[test]
    fn a_device_never_makes_a_case() {
        let after = CaseDoc::new("case-1", "REF-1", "Alex Example");
        with(&Role::Worker, |cx| {
            assert_eq!(check(&None, &after, cx).unwrap_err().code, "not_creatable");
        });
    }
}
