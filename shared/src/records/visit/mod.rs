//! A visit document: what the person said, what the worker saw and thought,
//! what they agreed to do, and what oversight added (annotations, review,
//! addenda after sign-off). A visit document stays small however long the
//! case lives, so opening one visit never pays for years of history.
//!
//! The three voices are separate fields: the person's own words
//! ([`OwnWords`]), the worker's `observations` and the worker's `analysis`.
//! Oversight (supervisor [`Annotation`]s) is a fourth, kept in its own map:
//! a supervisor never writes into the worker's text.

mod edit;
mod rules;
#[cfg(test)]
mod tests;

pub use edit::*;
pub use rules::*;

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, ChangeHash, ReadDoc};
use autosurgeon::{Hydrate, Reconcile, Text};

use super::review::{self, Review, ReviewDecision, ReviewStatus};
use super::{Accepted, Context, Refusal, SCHEMA_VERSION, signed_as, valid};
use crate::doc;
use crate::role::Role;
use crate::{ValidationError, validate};

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
    /// The free-text fields of a visit that can be edited by path and
    /// annotated by a supervisor.
    TextField { OwnWords => "own_words", Observations => "observations", Analysis => "analysis" }
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
    /// What the worker added after sign-off, dated and attributed: never an
    /// edit of signed-off words.
    #[autosurgeon(missing = "Default::default")]
    pub addenda: BTreeMap<String, Addendum>,
    /// Events the worker marks significant (a fall, a disclosure, a move):
    /// they stand in the case's chronology beside the visit itself.
    #[autosurgeon(missing = "Default::default")]
    pub significant: BTreeMap<String, SignificantEvent>,
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

/// A photo of the visit. The bytes are a blob named by `sha256`, made on
/// the phone by `crate::photo::process` (upright, scaled down, no
/// metadata); the document holds only this.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PhotoRef {
    pub sha256: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
    pub caption: Text,
    /// When it was taken or attached (the phone's clock), RFC 3339.
    pub captured_at: String,
    /// Who removed it from the visit and when; empty while it is part of
    /// it. A photo is never deleted from the record: its removal is.
    #[autosurgeon(missing = "Default::default")]
    pub removed_by: String,
    #[autosurgeon(missing = "Default::default")]
    pub removed_at: String,
}

/// A supervisor's comment on a passage. The anchors are automerge cursors
/// into the annotated text (see [`VisitEdit::Annotate`]), so the comment
/// stays on the same words when the text is edited afterwards, on any
/// device; `quote` keeps the words as they were, for when they are deleted.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Annotation {
    pub author: String,
    pub created_at: String,
    pub field: TextField,
    /// Cursor at the first annotated character.
    pub start: String,
    /// Cursor at the last annotated character.
    pub end: String,
    #[autosurgeon(missing = "Default::default")]
    pub quote: Text,
    pub body: Text,
    /// Who marked it resolved and when; empty while open. An annotation is
    /// never deleted.
    #[autosurgeon(missing = "Default::default")]
    pub resolved_by: String,
    #[autosurgeon(missing = "Default::default")]
    pub resolved_at: String,
}

/// Something that happened which the case's chronology must show: when it
/// happened (which may be before the visit) and what it was.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct SignificantEvent {
    /// RFC 3339 with offset.
    pub at: String,
    pub summary: Text,
    /// Who marked it: any worker of the case may mark an event on a
    /// colleague's visit, and the chronology must not show it as the
    /// visit's author's. Empty on events marked before it was kept (the
    /// visit's author is then the best the record can say).
    #[autosurgeon(missing = "Default::default")]
    pub marked_by: String,
}

/// Words a worker adds to a signed-off visit: dated, attributed, apart.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Addendum {
    pub author: String,
    pub at: String,
    pub text: Text,
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
            review: Review::draft(),
            addenda: BTreeMap::new(),
            significant: BTreeMap::new(),
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
    Action {
        id: String,
        part: ActionText,
    },
    Creative {
        id: String,
        part: CreativeText,
    },
    /// The summary of a significant event.
    Significant {
        id: String,
    },
    /// A photo's caption.
    PhotoCaption {
        sha256: String,
    },
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
            VisitText::Significant { id } => vec!["significant", id.as_str(), "summary"],
            VisitText::PhotoCaption { sha256 } => vec!["photos", sha256.as_str(), "caption"],
        }
    }

    /// A stable key for this text within its visit (the app's draft journal
    /// names pending text by it), read back by [`VisitText::from_key`].
    pub fn key(&self) -> String {
        match self {
            VisitText::Field(f) => format!("field:{}", f.as_str()),
            VisitText::Action { id, part } => format!("action:{id}:{}", part.as_str()),
            VisitText::Creative { id, part } => format!("creative:{id}:{}", part.as_str()),
            VisitText::Significant { id } => format!("significant:{id}"),
            VisitText::PhotoCaption { sha256 } => format!("photo:{sha256}"),
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
            ("significant", id, None) => Some(VisitText::Significant { id: id.to_owned() }),
            ("photo", sha256, None) => Some(VisitText::PhotoCaption {
                sha256: sha256.to_owned(),
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
            VisitText::Significant { .. } => "significant event",
            VisitText::PhotoCaption { .. } => "photo caption",
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
            VisitText::Significant { id } => visit.significant.get(id).map(|e| e.summary.as_str()),
            VisitText::PhotoCaption { sha256 } => {
                visit.photos.get(sha256).map(|p| p.caption.as_str())
            }
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

/// Reads a visit document, refusing newer schemas.
pub fn read_visit(doc: &Automerge) -> Result<VisitDoc, crate::Error> {
    crate::doc::read(doc)
}

/// Where an annotation's words are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchored {
    /// Characters `from..to` of its field's text.
    At { from: usize, to: usize },
    /// Every annotated word has been deleted; the quote remains.
    Deleted,
}

/// Finds an annotation's words in the document as it is now.
pub fn anchor(doc: &Automerge, annotation: &Annotation) -> Anchored {
    let position = |text: &automerge::ObjId, cursor: &str| {
        let cursor = automerge::Cursor::try_from(cursor).ok()?;
        doc.get_cursor_position(text, &cursor, None).ok()
    };
    let Ok(Some(text)) = doc::text_at(doc, annotation.field.path()) else {
        return Anchored::Deleted;
    };
    match (
        position(&text, &annotation.start),
        position(&text, &annotation.end),
    ) {
        // The end cursor sits on the last annotated character and moves
        // back when it is deleted; the start moves forward.
        (Some(from), Some(last)) if last >= from => Anchored::At { from, to: last + 1 },
        _ => Anchored::Deleted,
    }
}

/// A text whose words differ from what the sign-off attested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedSinceSignOff {
    pub field: TextField,
    pub at_sign_off: String,
    pub now: String,
}

/// What the worker's record says now that it did not say when it was
/// signed off: edits made beside the sign-off (offline at the time), which
/// the rules keep and the supervisor must see. Empty unless signed off.
pub fn since_sign_off(doc: &Automerge) -> Result<Vec<ChangedSinceSignOff>, crate::Error> {
    let now = read_visit(doc)?;
    if now.review.status != ReviewStatus::SignedOff {
        return Ok(Vec::new());
    }
    let heads: Vec<ChangeHash> = now
        .review
        .signed_off_heads
        .iter()
        .filter_map(|h| h.parse().ok())
        .collect();
    let then: VisitDoc = autosurgeon::hydrate(&doc.fork_at(&heads)?)?;
    Ok(TextField::ALL
        .iter()
        .filter(|f| then.text(**f) != now.text(**f))
        .map(|f| ChangedSinceSignOff {
            field: *f,
            at_sign_off: then.text(*f).to_owned(),
            now: now.text(*f).to_owned(),
        })
        .collect())
}

impl super::Record for VisitDoc {
    const KIND: super::Kind = super::Kind::Visit;
    const NAME: &'static str = "Visit";
    const PRIORITY: u8 = 2;
    const MADE_ON_DEVICES: bool = true;
    const REGISTERED: &'static str = "visit_registered";
    const SHAPE: &'static super::ops::Shape = &super::ops::VISIT;
    type Edit = VisitEdit;

    fn case_id(&self) -> &str {
        &self.case_id
    }

    fn check(
        before: &Option<Self>,
        after: &Self,
        after_doc: &Automerge,
        new: &HashSet<ChangeHash>,
        cx: &Context<'_>,
    ) -> Result<Accepted, Refusal> {
        check(before, after, after_doc, new, cx)
    }

    fn passages(&self) -> Vec<super::Passage> {
        VisitDoc::passages(self)
    }

    fn blobs(&self) -> Vec<String> {
        self.photos.keys().cloned().collect()
    }
}
