//! The case record as automerge documents.
//!
//! A case record is one [`CaseDoc`] and one [`VisitDoc`] per visit. A visit
//! document stays small however long the case lives, so opening one visit never
//! pays for years of history.
//!
//! Two rules keep JavaScript readers and concurrent editors happy:
//! - everything a person writes is automerge **text** ([`Text`]), so offline
//!   edits merge character by character and each passage can be attributed
//!   from the history;
//! - identifiers, timestamps and enum values are scalar strings.
//!
//! Collections that several devices add to concurrently (visits of a case,
//! actions, observations, photos, annotations) are maps keyed by a random id,
//! never lists reconciled by index: two offline additions both survive.
//!
//! The three voices are separate fields: the person's own words
//! ([`OwnWords`]), the worker's `observations` and the worker's `analysis`.
//! Oversight (supervisor [`Annotation`]s) is a fourth.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

/// The schema version this build writes and reads. A reader meets a newer one
/// with [`crate::Error::NewerSchema`], never a crash.
pub const SCHEMA_VERSION: u64 = 1;

/// Declares a closed set of values stored as snake_case strings, with the
/// conversions the API and the UI need.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Reconcile, Hydrate,
                 serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[autosurgeon(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Where the visit took place. Deliberately a kind, not an address: an
    /// address in free text is personal data the record rarely needs.
    PlaceKind { Home => "home", Hospital => "hospital", CareHome => "care_home", Other => "other" }
}

string_enum! {
    /// How the person communicated what is recorded as their own words.
    Communication {
        Speech => "speech", Sign => "sign", Music => "music", Movement => "movement",
        Art => "art", Objects => "objects", Other => "other",
    }
}

string_enum! {
    /// The creative method through which the person expressed themselves.
    CreativeMethod {
        Music => "music", DanceOrMovement => "dance_or_movement", Art => "art",
        Sound => "sound", Objects => "objects", Other => "other",
    }
}

string_enum! {
    /// Where a visit stands in management oversight.
    ReviewStatus { Draft => "draft", Submitted => "submitted", Returned => "returned", SignedOff => "signed_off" }
}

string_enum! {
    /// The free-text fields of a visit that can be edited by path and
    /// annotated by a supervisor.
    TextField { OwnWords => "own_words", Observations => "observations", Analysis => "analysis" }
}

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
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ChronologyEntry {
    pub at: String,
    pub author: String,
    pub kind: String,
    pub summary: Text,
}

/// One visit: what the person said, what the worker saw and thought, and
/// what oversight added.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct VisitDoc {
    pub schema: u64,
    pub case_id: String,
    /// Person id of the worker who made the visit.
    pub author: String,
    /// RFC 3339 with offset.
    pub started_at: String,
    pub place: PlaceKind,
    /// Who was present, keyed by id (names are text people type).
    #[autosurgeon(missing = "Default::default")]
    pub present: BTreeMap<String, PresentPerson>,
    pub own_words: OwnWords,
    pub observations: Text,
    pub analysis: Text,
    #[autosurgeon(missing = "Default::default")]
    pub actions: BTreeMap<String, Action>,
    #[autosurgeon(missing = "Default::default")]
    pub creative: BTreeMap<String, CreativeObservation>,
    /// Photo references keyed by their SHA-256; the bytes are a blob.
    #[autosurgeon(missing = "Default::default")]
    pub photos: BTreeMap<String, PhotoRef>,
    #[autosurgeon(missing = "Default::default")]
    pub annotations: BTreeMap<String, Annotation>,
    pub review: Review,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PresentPerson {
    pub name: Text,
    pub role: Text,
}

/// The person's own words, verbatim, and how they were expressed.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct OwnWords {
    pub text: Text,
    #[autosurgeon(missing = "Default::default")]
    pub communication: Vec<Communication>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Action {
    pub text: Text,
    pub owner: Text,
    /// YYYY-MM-DD, or empty when none was agreed.
    pub due: String,
    pub done: bool,
}

/// Something the person communicated through a creative method rather than
/// words, kept apart from the worker's reading of it.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct CreativeObservation {
    pub method: CreativeMethod,
    pub expressed: Text,
    pub how: Text,
    pub reading: Text,
    /// SHA-256s of photos of this visit that show it.
    #[autosurgeon(missing = "Default::default")]
    pub photos: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PhotoRef {
    pub sha256: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
    pub caption: Text,
    pub captured_at: String,
}

/// A supervisor's comment on a passage. The anchors are automerge cursors
/// into the annotated text, so the comment stays on the same words when the
/// text is edited afterwards.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Annotation {
    pub author: String,
    pub created_at: String,
    pub field: TextField,
    pub start: String,
    pub end: String,
    pub body: Text,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Review {
    pub status: ReviewStatus,
    /// Person id and time of the last transition; empty while a draft.
    pub changed_by: String,
    pub changed_at: String,
}

impl VisitDoc {
    /// A fresh draft visit by `author` in `case_id`.
    pub fn new(case_id: &str, author: &str, started_at: &str, place: PlaceKind) -> Self {
        VisitDoc {
            schema: SCHEMA_VERSION,
            case_id: case_id.to_owned(),
            author: author.to_owned(),
            started_at: started_at.to_owned(),
            place,
            present: BTreeMap::new(),
            own_words: OwnWords {
                text: Text::default(),
                communication: Vec::new(),
            },
            observations: Text::default(),
            analysis: Text::default(),
            actions: BTreeMap::new(),
            creative: BTreeMap::new(),
            photos: BTreeMap::new(),
            annotations: BTreeMap::new(),
            review: Review {
                status: ReviewStatus::Draft,
                changed_by: String::new(),
                changed_at: String::new(),
            },
        }
    }

    pub fn text(&self, field: TextField) -> &str {
        match field {
            TextField::OwnWords => self.own_words.text.as_str(),
            TextField::Observations => self.observations.as_str(),
            TextField::Analysis => self.analysis.as_str(),
        }
    }
}

impl TextField {
    /// Where the field's text object lives in a visit document.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            TextField::OwnWords => &["own_words", "text"],
            TextField::Observations => &["observations"],
            TextField::Analysis => &["analysis"],
        }
    }
}

string_enum! {
    /// The editable text of an action.
    ActionText { Text => "text", Owner => "owner" }
}

string_enum! {
    /// The editable texts of a creative-method observation: what the person
    /// expressed and how (their voice), and the worker's reading of it.
    CreativeText { Expressed => "expressed", How => "how", Reading => "reading" }
}

/// One piece of text a worker edits in a visit, wherever it lives: the app
/// and the device core name text by this rather than by raw paths, so a UI
/// bug cannot write text into the wrong part of a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VisitText {
    Field(TextField),
    Action { id: String, part: ActionText },
    Creative { id: String, part: CreativeText },
}

impl From<TextField> for VisitText {
    fn from(field: TextField) -> Self {
        VisitText::Field(field)
    }
}

impl VisitText {
    /// Where the text object lives in a visit document.
    pub fn path(&self) -> Vec<&str> {
        match self {
            VisitText::Field(f) => f.path().to_vec(),
            VisitText::Action { id, part } => vec!["actions", id.as_str(), part.as_str()],
            VisitText::Creative { id, part } => vec!["creative", id.as_str(), part.as_str()],
        }
    }

    /// A stable key for this text within its visit (the app's draft journal
    /// names pending text by it), read back by [`VisitText::from_key`].
    pub fn key(&self) -> String {
        match self {
            VisitText::Field(f) => format!("field:{}", f.as_str()),
            VisitText::Action { id, part } => format!("action:{id}:{}", part.as_str()),
            VisitText::Creative { id, part } => format!("creative:{id}:{}", part.as_str()),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        let mut parts = key.splitn(3, ':');
        match (parts.next()?, parts.next()?, parts.next()) {
            ("field", f, None) => TextField::parse(f).map(VisitText::Field),
            ("action", id, Some(part)) => Some(VisitText::Action {
                id: id.to_owned(),
                part: ActionText::parse(part)?,
            }),
            ("creative", id, Some(part)) => Some(VisitText::Creative {
                id: id.to_owned(),
                part: CreativeText::parse(part)?,
            }),
            _ => None,
        }
    }

    /// A name for error messages and validation.
    pub fn name(&self) -> &'static str {
        match self {
            VisitText::Field(f) => f.as_str(),
            VisitText::Action { part, .. } => match part {
                ActionText::Text => "action",
                ActionText::Owner => "action owner",
            },
            VisitText::Creative { part, .. } => match part {
                CreativeText::Expressed => "what was expressed",
                CreativeText::How => "how it was expressed",
                CreativeText::Reading => "worker's reading",
            },
        }
    }

    /// The current value in `visit`; `None` when the action or observation
    /// does not exist (removed elsewhere, or not synced yet).
    pub fn read<'a>(&self, visit: &'a VisitDoc) -> Option<&'a str> {
        match self {
            VisitText::Field(f) => Some(visit.text(*f)),
            VisitText::Action { id, part } => visit.actions.get(id).map(|a| match part {
                ActionText::Text => a.text.as_str(),
                ActionText::Owner => a.owner.as_str(),
            }),
            VisitText::Creative { id, part } => visit.creative.get(id).map(|c| match part {
                CreativeText::Expressed => c.expressed.as_str(),
                CreativeText::How => c.how.as_str(),
                CreativeText::Reading => c.reading.as_str(),
            }),
        }
    }
}

impl Action {
    pub fn new() -> Self {
        Action {
            text: Text::default(),
            owner: Text::default(),
            due: String::new(),
            done: false,
        }
    }
}

impl Default for Action {
    fn default() -> Self {
        Self::new()
    }
}

impl CreativeObservation {
    pub fn new(method: CreativeMethod) -> Self {
        CreativeObservation {
            method,
            expressed: Text::default(),
            how: Text::default(),
            reading: Text::default(),
            photos: Vec::new(),
        }
    }
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
        }
    }

    /// Visit document ids, newest first.
    pub fn visits_newest_first(&self) -> Vec<(&str, &VisitIndexEntry)> {
        let mut visits: Vec<_> = self.visits.iter().map(|(k, v)| (k.as_str(), v)).collect();
        visits.sort_by(|a, b| b.1.started_at.cmp(&a.1.started_at).then(a.0.cmp(b.0)));
        visits
    }
}

/// Reads the `schema` field first, so a newer record is refused with a
/// clear message before its shape is assumed.
pub fn check_schema(doc: &automerge::Automerge) -> Result<u64, crate::Error> {
    use automerge::ReadDoc;
    let found = match doc.get(automerge::ROOT, "schema")? {
        Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
            automerge::ScalarValue::Uint(v) => *v,
            automerge::ScalarValue::Int(v) if *v >= 0 => *v as u64,
            _ => return Err(crate::Error::MissingSchema),
        },
        _ => return Err(crate::Error::MissingSchema),
    };
    if found > SCHEMA_VERSION {
        return Err(crate::Error::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Reads a visit document, refusing newer schemas.
pub fn read_visit(doc: &automerge::Automerge) -> Result<VisitDoc, crate::Error> {
    check_schema(doc)?;
    Ok(autosurgeon::hydrate(doc)?)
}

/// Reads a case document, refusing newer schemas.
pub fn read_case(doc: &automerge::Automerge) -> Result<CaseDoc, crate::Error> {
    check_schema(doc)?;
    Ok(autosurgeon::hydrate(doc)?)
}

/// Builds a new automerge document holding `value`.
pub fn new_document<T: autosurgeon::Reconcile>(
    value: &T,
) -> Result<automerge::Automerge, crate::Error> {
    let mut doc = automerge::Automerge::new();
    doc.transact::<_, _, autosurgeon::ReconcileError>(|tx| autosurgeon::reconcile(tx, value))
        .map_err(|f| f.error)?;
    Ok(doc)
}

/// Adds a visit to a case document's index without touching the rest, so
/// concurrent additions from several devices all survive.
pub fn index_visit(
    doc: &mut automerge::Automerge,
    visit_document_id: &str,
    entry: &VisitIndexEntry,
) -> Result<(), crate::Error> {
    use automerge::{ReadDoc, transaction::Transactable};
    doc.transact::<_, _, autosurgeon::ReconcileError>(|tx| {
        let visits = match tx.get(automerge::ROOT, "visits")? {
            Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
            _ => tx.put_object(automerge::ROOT, "visits", automerge::ObjType::Map)?,
        };
        autosurgeon::reconcile_prop(tx, &visits, visit_document_id, entry)
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}

/// Reconciles `value` into `key` of the map at `path` (which must exist),
/// leaving the rest of the document alone.
pub fn put_at<R: autosurgeon::Reconcile>(
    doc: &mut automerge::Automerge,
    path: &[&str],
    key: &str,
    value: R,
) -> Result<(), crate::Error> {
    use automerge::ReadDoc;
    doc.transact::<_, _, autosurgeon::ReconcileError>(|tx| {
        let mut obj = automerge::ROOT;
        for step in path {
            obj = match tx.get(&obj, *step)? {
                Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
                _ => {
                    return Err(autosurgeon::ReconcileError::Automerge(
                        automerge::AutomergeError::InvalidObjId(format!("no map at {step}")),
                    ));
                }
            };
        }
        autosurgeon::reconcile_prop(tx, &obj, key, value)
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}

/// Replaces a text field's content with `value` as a minimal diff, so
/// concurrent edits elsewhere in the same text survive the merge.
pub fn update_text(
    doc: &mut automerge::Automerge,
    path: &[&str],
    value: &str,
) -> Result<(), crate::Error> {
    use automerge::{ReadDoc, transaction::Transactable};
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let Some((last, parents)) = path.split_last() else {
            return Err(automerge::AutomergeError::InvalidObjId("empty path".into()));
        };
        let mut obj = automerge::ROOT;
        for key in parents {
            obj = match tx.get(&obj, *key)? {
                Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
                _ => {
                    return Err(automerge::AutomergeError::InvalidObjId(format!(
                        "no map at {key}"
                    )));
                }
            };
        }
        // Only the text itself may be created here, never a missing parent:
        // an action removed elsewhere must not come back as a bare text.
        let text = match tx.get(&obj, *last)? {
            Some((automerge::Value::Object(automerge::ObjType::Text), id)) => id,
            _ => tx.put_object(&obj, *last, automerge::ObjType::Text)?,
        };
        tx.update_text(&text, value)?;
        Ok(())
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keys_read_back() {
        let texts = [
            VisitText::Field(TextField::OwnWords),
            VisitText::Action {
                id: "a1b2".into(),
                part: ActionText::Owner,
            },
            VisitText::Creative {
                id: "c3d4".into(),
                part: CreativeText::Reading,
            },
        ];
        for t in texts {
            assert_eq!(VisitText::from_key(&t.key()), Some(t));
        }
        assert_eq!(VisitText::from_key("field:nonsense"), None);
        assert_eq!(VisitText::from_key("action:x"), None);
    }

    fn visit() -> VisitDoc {
        VisitDoc::new(
            "case-1",
            "worker-1",
            "2026-11-25T10:00:00Z",
            PlaceKind::Home,
        )
    }

    #[test]
    fn a_visit_round_trips_through_a_document() {
        let mut v = visit();
        v.own_words.text = Text::with_value("I want to stay here");
        v.own_words.communication = vec![Communication::Speech, Communication::Art];
        let doc = new_document(&v).unwrap();
        assert_eq!(read_visit(&doc).unwrap(), v);
    }

    #[test]
    fn enums_are_snake_case_strings_in_the_document() {
        use automerge::ReadDoc;
        let mut v = visit();
        v.place = PlaceKind::CareHome;
        let doc = new_document(&v).unwrap();
        let (value, _) = doc.get(automerge::ROOT, "place").unwrap().unwrap();
        assert_eq!(value.into_string().unwrap(), "care_home");
    }

    #[test]
    fn human_text_is_automerge_text() {
        use automerge::ReadDoc;
        let doc = new_document(&visit()).unwrap();
        let (value, _) = doc.get(automerge::ROOT, "observations").unwrap().unwrap();
        assert_eq!(value, automerge::Value::Object(automerge::ObjType::Text));
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_message() {
        use automerge::transaction::Transactable;
        let mut doc = new_document(&visit()).unwrap();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "schema", 99_u64)?;
            Ok(())
        })
        .unwrap();
        let err = read_visit(&doc).unwrap_err();
        assert!(matches!(err, crate::Error::NewerSchema { found: 99, .. }));
        assert!(err.to_string().contains("update the app"));
    }

    #[test]
    fn a_document_without_schema_is_not_a_record() {
        let doc = automerge::Automerge::new();
        assert!(matches!(read_visit(&doc), Err(crate::Error::MissingSchema)));
    }

    #[test]
    fn concurrent_text_edits_merge_character_by_character() {
        let base = new_document(&visit()).unwrap();
        let mut a = base.fork();
        let mut b = base.fork();
        update_text(&mut a, TextField::Observations.path(), "She smiled.").unwrap();
        let mut b2 = b.fork();
        b2.merge(&mut a).unwrap();
        b = b2;
        let mut a2 = b.fork();
        update_text(
            &mut a2,
            TextField::Observations.path(),
            "She smiled warmly.",
        )
        .unwrap();
        update_text(&mut b, TextField::Observations.path(), "Today she smiled.").unwrap();
        a2.merge(&mut b).unwrap();
        assert_eq!(
            read_visit(&a2).unwrap().observations.as_str(),
            "Today she smiled warmly."
        );
    }

    #[test]
    fn case_lists_visits_newest_first() {
        let mut case = CaseDoc::new("case-1", "REF-1", "Alex Example");
        for (id, at) in [("a", "2026-01-02T00:00:00Z"), ("b", "2026-03-01T00:00:00Z")] {
            case.visits.insert(
                id.into(),
                VisitIndexEntry {
                    started_at: at.into(),
                    author: "w".into(),
                },
            );
        }
        let ids: Vec<_> = case.visits_newest_first().iter().map(|v| v.0).collect();
        assert_eq!(ids, ["b", "a"]);
    }

    #[test]
    fn action_and_creative_text_live_where_the_schema_reads_them() {
        let mut v = visit();
        v.actions.insert("a1".into(), Action::new());
        v.creative
            .insert("c1".into(), CreativeObservation::new(CreativeMethod::Music));
        let mut doc = new_document(&v).unwrap();
        let texts = [
            VisitText::Field(TextField::Analysis),
            VisitText::Action {
                id: "a1".into(),
                part: ActionText::Owner,
            },
            VisitText::Creative {
                id: "c1".into(),
                part: CreativeText::Reading,
            },
        ];
        for (n, t) in texts.iter().enumerate() {
            update_text(&mut doc, &t.path(), &format!("value {n}")).unwrap();
        }
        let read = read_visit(&doc).unwrap();
        for (n, t) in texts.iter().enumerate() {
            assert_eq!(t.read(&read), Some(format!("value {n}").as_str()));
        }
    }

    #[test]
    fn text_for_a_missing_action_is_refused_not_invented() {
        let mut doc = new_document(&visit()).unwrap();
        let gone = VisitText::Action {
            id: "removed".into(),
            part: ActionText::Text,
        };
        assert!(update_text(&mut doc, &gone.path(), "orphan").is_err());
        assert!(read_visit(&doc).unwrap().actions.is_empty());
    }
}
