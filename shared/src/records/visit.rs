//! A visit document: what the person said, what the worker saw and thought,
//! what they agreed to do, and what oversight added (annotations, review,
//! addenda after sign-off). A visit document stays small however long the
//! case lives, so opening one visit never pays for years of history.
//!
//! The three voices are separate fields: the person's own words
//! ([`OwnWords`]), the worker's `observations` and the worker's `analysis`.
//! Oversight (supervisor [`Annotation`]s) is a fourth, kept in its own map:
//! a supervisor never writes into the worker's text.

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, ChangeHash, ReadDoc};
use autosurgeon::{Hydrate, Reconcile, Text};

use super::review::{self, Review, ReviewDecision, ReviewStatus};
use super::{Accepted, Context, Refusal, SCHEMA_VERSION, valid};
use crate::api::Role;
use crate::doc;

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

/// The typed edits of a visit. The app and the device core change a visit
/// only through these, never by raw path, so a UI bug cannot write into the
/// wrong part of a record; the rules below say who may make each.
#[derive(Debug, Clone, PartialEq)]
pub enum VisitEdit {
    SetText {
        text: VisitText,
        value: String,
    },
    SetCommunication(Vec<Communication>),
    AddAction {
        id: String,
    },
    SetActionDone {
        id: String,
        done: bool,
    },
    AddCreative {
        id: String,
        method: CreativeMethod,
    },
    SetCreativeMethod {
        id: String,
        method: CreativeMethod,
    },
    /// Marks an event significant, for the case's chronology; its summary
    /// is then text like any other (`SetText` on `VisitText::Significant`).
    AddSignificant {
        id: String,
        at: String,
    },
    /// A photo processed on the phone and stored as a blob; its caption is
    /// then text like any other (`VisitText::PhotoCaption`).
    AddPhoto(PhotoRef),
    /// Shows one of the visit's photos with a creative-method observation
    /// (a picture of the artwork, the object, the room).
    ShowInCreative {
        id: String,
        sha256: String,
    },
    /// Takes a photo out of the visit, dated and attributed; the record
    /// keeps that it was there.
    RemovePhoto {
        sha256: String,
        by: String,
        at: String,
    },
    /// A review decision by `by` at `at`: submit (the author), return with
    /// comments or sign off (a supervisor). A sign-off attests to the
    /// document's heads as they are when it is made.
    Decide {
        id: String,
        status: ReviewStatus,
        by: String,
        at: String,
        comment: String,
    },
    /// A supervisor's comment on characters `from..to` of a field.
    Annotate {
        id: String,
        field: TextField,
        from: usize,
        to: usize,
        body: String,
        author: String,
        at: String,
    },
    ResolveAnnotation {
        id: String,
        by: String,
        at: String,
    },
    AddAddendum {
        id: String,
        author: String,
        at: String,
        text: String,
    },
    SetAddendumText {
        id: String,
        value: String,
    },
}

impl VisitEdit {
    /// Whether `writer` may make this edit to `visit` as it stands: the
    /// app's check before it writes, from the same rules as [`check`].
    pub fn permitted(&self, visit: &VisitDoc, writer: &super::Writer<'_>) -> Result<(), Refusal> {
        match self {
            VisitEdit::SetText { .. }
            | VisitEdit::SetCommunication(_)
            | VisitEdit::AddAction { .. }
            | VisitEdit::SetActionDone { .. }
            | VisitEdit::AddCreative { .. }
            | VisitEdit::SetCreativeMethod { .. }
            | VisitEdit::AddSignificant { .. } => {
                may_change_content(writer)?;
                not_signed_off(visit)
            }
            VisitEdit::AddPhoto(photo) => {
                may_change_content(writer)?;
                not_signed_off(visit)?;
                // A photo once added stays as it was (`check_photos`): the
                // same picture again is not a second photo, and one
                // removed stays removed, with who removed it.
                match visit.photos.get(&photo.sha256) {
                    None => Ok(()),
                    Some(p) if p.removed_by.is_empty() => Err(Refusal::new(
                        "photo_already_added",
                        "this photo is already in the visit",
                    )),
                    Some(_) => Err(Refusal::new(
                        "photo_removed",
                        "this photo was removed from the visit, and the record keeps it removed",
                    )),
                }
            }
            VisitEdit::Decide { status, by, .. } => {
                signed_as(writer, by)?;
                review::transition(reviewer(visit, writer)?, visit.review.status, *status)
                    .map_err(|e| Refusal::new("review_transition", e.to_string()))
            }
            VisitEdit::Annotate { author, .. } => {
                signed_as(writer, author)?;
                may_annotate(writer)
            }
            VisitEdit::ResolveAnnotation { id, by, .. } => {
                signed_as(writer, by)?;
                match visit.annotations.get(id) {
                    Some(a) if a.resolved_by.is_empty() => Ok(()),
                    Some(_) => Err(Refusal::new(
                        "already_resolved",
                        "this annotation is already resolved",
                    )),
                    None => Err(Refusal::new(
                        "unknown_annotation",
                        format!("no annotation {id}"),
                    )),
                }
            }
            VisitEdit::AddAddendum { author, .. } => {
                signed_as(writer, author)?;
                may_add_addendum(visit, writer)
            }
            VisitEdit::ShowInCreative { id, sha256 } => {
                may_change_content(writer)?;
                not_signed_off(visit)?;
                if !visit.creative.contains_key(id) {
                    return Err(Refusal::new(
                        "unknown_observation",
                        format!("no creative-method observation {id}"),
                    ));
                }
                match visit.photos.get(sha256) {
                    Some(p) if p.removed_by.is_empty() => Ok(()),
                    _ => Err(Refusal::new(
                        "unknown_photo",
                        format!("no photo {sha256} in this visit"),
                    )),
                }
            }
            VisitEdit::RemovePhoto { sha256, by, .. } => {
                signed_as(writer, by)?;
                may_change_content(writer)?;
                not_signed_off(visit)?;
                match visit.photos.get(sha256) {
                    Some(p) if p.removed_by.is_empty() => Ok(()),
                    Some(_) => Err(Refusal::new(
                        "already_removed",
                        "this photo is already removed",
                    )),
                    None => Err(Refusal::new(
                        "unknown_photo",
                        format!("no photo {sha256} in this visit"),
                    )),
                }
            }
            VisitEdit::SetAddendumText { id, .. } => match visit.addenda.get(id) {
                Some(a) => signed_as(writer, &a.author),
                None => Err(Refusal::new(
                    "unknown_addendum",
                    format!("no addendum {id}"),
                )),
            },
        }
    }

    /// Makes the edit in `doc` (one transaction per step; the caller has
    /// set the device's actor).
    pub fn apply(&self, doc: &mut Automerge) -> Result<(), crate::Error> {
        match self {
            VisitEdit::SetText { text, value } => {
                crate::validate::text(text.name(), value)?;
                doc::update_text(doc, &text.path(), value)
            }
            VisitEdit::SetCommunication(modes) => {
                doc::put_at(doc, &["own_words"], "communication", modes)
            }
            VisitEdit::AddAction { id } => doc::put_at(doc, &["actions"], id, Action::new()),
            VisitEdit::SetActionDone { id, done } => {
                doc::put_at(doc, &["actions", id.as_str()], "done", done)
            }
            VisitEdit::AddCreative { id, method } => {
                doc::put_at(doc, &["creative"], id, CreativeObservation::new(*method))
            }
            VisitEdit::SetCreativeMethod { id, method } => {
                doc::put_at(doc, &["creative", id.as_str()], "method", method)
            }
            VisitEdit::AddPhoto(photo) => {
                crate::validate::sha256_hex("photo", &photo.sha256)?;
                crate::validate::timestamp("captured_at", &photo.captured_at)?;
                let fresh = PhotoRef {
                    removed_by: String::new(),
                    removed_at: String::new(),
                    ..photo.clone()
                };
                doc::put_in_map(doc, &[], "photos", &photo.sha256, &fresh)
            }
            VisitEdit::ShowInCreative { id, sha256 } => {
                let visit = read_visit(doc)?;
                let Some(observation) = visit.creative.get(id) else {
                    return Err(crate::Error::Invalid(
                        crate::ValidationError::UnknownPhoto {
                            sha256: sha256.clone(),
                        },
                    ));
                };
                if !visit.photos.contains_key(sha256) {
                    return Err(crate::Error::Invalid(
                        crate::ValidationError::UnknownPhoto {
                            sha256: sha256.clone(),
                        },
                    ));
                }
                if observation.photos.contains(sha256) {
                    return Ok(());
                }
                let mut photos = observation.photos.clone();
                photos.push(sha256.clone());
                doc::put_at(doc, &["creative", id.as_str()], "photos", &photos)
            }
            VisitEdit::RemovePhoto { sha256, by, at } => {
                crate::validate::timestamp("at", at)?;
                let photo = ["photos", sha256.as_str()];
                doc::put_pair_at(doc, &photo, ("removed_by", by), ("removed_at", at))
            }
            VisitEdit::AddSignificant { id, at } => {
                crate::validate::timestamp("at", at)?;
                let event = SignificantEvent {
                    at: at.clone(),
                    summary: Text::default(),
                };
                doc::put_in_map(doc, &[], "significant", id, &event)
            }
            VisitEdit::Decide {
                id,
                status,
                by,
                at,
                comment,
            } => {
                crate::validate::timestamp("at", at)?;
                crate::validate::text("comment", comment)?;
                let heads: Vec<String> = doc.get_heads().iter().map(|h| h.to_string()).collect();
                let decision = ReviewDecision {
                    status: *status,
                    by: by.clone(),
                    at: at.clone(),
                    comment: Text::with_value(comment),
                };
                // One change: a decision and the state it moves to are never
                // seen apart. Only what changes is written; reconciling the
                // whole review would rewrite texts others may be editing.
                doc::transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
                    use automerge::transaction::Transactable;
                    let Some(review) = doc::map_at(tx, &["review"])? else {
                        return Err(autosurgeon::ReconcileError::Automerge(
                            automerge::AutomergeError::InvalidObjId("no review".into()),
                        ));
                    };
                    let decisions = match tx.get(&review, "decisions")? {
                        Some((automerge::Value::Object(automerge::ObjType::Map), id)) => id,
                        _ => tx.put_object(&review, "decisions", automerge::ObjType::Map)?,
                    };
                    autosurgeon::reconcile_prop(tx, &decisions, id.as_str(), &decision)?;
                    if *status == ReviewStatus::SignedOff {
                        autosurgeon::reconcile_prop(tx, &review, "signed_off_heads", &heads)?;
                    }
                    autosurgeon::reconcile_prop(tx, &review, "changed_by", by)?;
                    autosurgeon::reconcile_prop(tx, &review, "changed_at", at)?;
                    autosurgeon::reconcile_prop(tx, &review, "status", status)
                })
                .map_err(|f| crate::Error::from(f.error))?;
                Ok(())
            }
            VisitEdit::Annotate {
                id,
                field,
                from,
                to,
                body,
                author,
                at,
            } => {
                crate::validate::timestamp("at", at)?;
                crate::validate::text("annotation", body)?;
                let annotation = anchor_new(doc, *field, *from, *to)?;
                let annotation = Annotation {
                    author: author.clone(),
                    created_at: at.clone(),
                    body: Text::with_value(body),
                    ..annotation
                };
                doc::put_in_map(doc, &[], "annotations", id, &annotation)
            }
            VisitEdit::ResolveAnnotation { id, by, at } => {
                crate::validate::timestamp("at", at)?;
                let annotation = ["annotations", id.as_str()];
                doc::put_pair_at(doc, &annotation, ("resolved_by", by), ("resolved_at", at))
            }
            VisitEdit::AddAddendum {
                id,
                author,
                at,
                text,
            } => {
                crate::validate::timestamp("at", at)?;
                crate::validate::text("addendum", text)?;
                let addendum = Addendum {
                    author: author.clone(),
                    at: at.clone(),
                    text: Text::with_value(text),
                };
                doc::put_in_map(doc, &[], "addenda", id, &addendum)
            }
            VisitEdit::SetAddendumText { id, value } => {
                crate::validate::text("addendum", value)?;
                doc::update_text(doc, &["addenda", id.as_str(), "text"], value)
            }
        }
    }
}

/// Cursors for characters `from..to` of `field`, and the quote.
fn anchor_new(
    doc: &Automerge,
    field: TextField,
    from: usize,
    to: usize,
) -> Result<Annotation, crate::Error> {
    let bad = |why: &str| {
        crate::Error::from(crate::ValidationError::BadAnchor {
            id: format!("{}: {why}", field.as_str()),
        })
    };
    let text = doc::text_at(doc, field.path())?.ok_or_else(|| bad("no text"))?;
    let whole = doc.text(&text)?;
    let chars: Vec<char> = whole.chars().collect();
    if from >= to || to > chars.len() {
        return Err(bad("select at least one character of the text"));
    }
    let start = doc.get_cursor_moving(&text, from, None, automerge::MoveCursor::After)?;
    let end = doc.get_cursor_moving(&text, to - 1, None, automerge::MoveCursor::Before)?;
    Ok(Annotation {
        author: String::new(),
        created_at: String::new(),
        field,
        start: start.to_string(),
        end: end.to_string(),
        quote: Text::with_value(chars[from..to].iter().collect::<String>()),
        body: Text::default(),
        resolved_by: String::new(),
        resolved_at: String::new(),
    })
}

// The rules, as predicates both the app (through `VisitEdit::permitted`)
// and the server (through `check`) use.

fn signed_as(writer: &super::Writer<'_>, named: &str) -> Result<(), Refusal> {
    if named == writer.person_id {
        Ok(())
    } else {
        Err(Refusal::new(
            "forged_author",
            format!(
                "{} can only sign as themselves, not as {named}",
                writer.person_id
            ),
        ))
    }
}

/// The worker's record (what was said, seen, thought, agreed) is written
/// by workers on the case; a supervisor annotates instead.
fn may_change_content(writer: &super::Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Worker {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_a_worker",
            "only a worker on the case writes a visit's record; a supervisor annotates it",
        ))
    }
}

fn not_signed_off(visit: &VisitDoc) -> Result<(), Refusal> {
    if visit.review.status == ReviewStatus::SignedOff {
        Err(Refusal::new(
            "signed_off",
            "this visit is signed off: its words cannot change; add an addendum instead",
        ))
    } else {
        Ok(())
    }
}

fn may_annotate(writer: &super::Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Supervisor {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_a_supervisor",
            "only a supervisor annotates a visit",
        ))
    }
}

fn may_add_addendum(visit: &VisitDoc, writer: &super::Writer<'_>) -> Result<(), Refusal> {
    may_change_content(writer)?;
    if visit.review.status == ReviewStatus::SignedOff {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_signed_off",
            "an addendum is for a signed-off visit; until then, edit the visit itself",
        ))
    }
}

/// Who `writer` is in the review of `visit`.
fn reviewer(visit: &VisitDoc, writer: &super::Writer<'_>) -> Result<review::Actor, Refusal> {
    match writer.role {
        Role::Supervisor => Ok(review::Actor::Supervisor),
        Role::Worker if writer.person_id == visit.author => Ok(review::Actor::Author),
        _ => Err(Refusal::new(
            "not_reviewer",
            "only the visit's author submits it and only a supervisor returns or signs it off",
        )),
    }
}

/// Everything the worker's record holds: what a sign-off closes.
fn content(v: &VisitDoc) -> impl PartialEq + '_ {
    (
        (&v.place, &v.present, &v.own_words),
        (&v.observations, &v.analysis),
        (&v.actions, &v.creative, &v.photos, &v.significant),
    )
}

/// Where the worker's record keeps its texts (the roots of the document
/// that a sign-off closes).
const RECORD_ROOTS: &[&str] = &[
    "own_words",
    "observations",
    "analysis",
    "actions",
    "creative",
    "present",
    "significant",
];

/// Typing, judged cheaply and before anything is applied: true when every
/// operation of `changes` inserts or deletes characters of a text that
/// `before` already has in the worker's record, written by a worker, on a
/// visit that is not signed off, and no text can grow past its limit.
/// Exactly then [`check`] accepts (nothing else changes), without copying,
/// applying or reading the document. False means "judge in full", never
/// "refuse". The caller has checked the changes' actor and that their
/// dependencies are in `before` or among `changes`.
pub fn only_typing(
    before: &Automerge,
    changes: &[automerge::Change],
    writer: &super::Writer<'_>,
) -> bool {
    use automerge::legacy::{ObjectId, OpId, OpType};
    use automerge::{ObjType, ScalarValue};
    if *writer.role != Role::Worker || changes.is_empty() {
        return false;
    }
    let status = doc::map_at(before, &["review"])
        .ok()
        .flatten()
        .and_then(|review| before.get(&review, "status").ok().flatten());
    match status {
        Some((automerge::Value::Scalar(s), _)) if s.as_str() != Some("signed_off") => {}
        _ => return false,
    }
    // Characters inserted per text, to bound its length.
    let mut inserted: std::collections::HashMap<String, (automerge::ObjId, usize)> =
        std::collections::HashMap::new();
    for change in changes {
        for op in change.decode().operations {
            // One character an op: automerge takes an element of any
            // length, and counts it as one.
            let typing = match (&op.action, op.insert) {
                (OpType::Put(ScalarValue::Str(s)), true) => s.len() <= super::ops::MAX_CHAR_BYTES,
                (OpType::Delete, false) => true,
                _ => false,
            };
            let ObjectId::Id(OpId(counter, actor)) = &op.obj else {
                return false;
            };
            if !typing {
                return false;
            }
            let id = format!("{counter}@{actor}");
            if let Some((_, n)) = inserted.get_mut(&id) {
                *n += usize::from(op.insert);
                continue;
            }
            let Ok((obj, ObjType::Text)) = before.import(&id) else {
                return false;
            };
            let root = before
                .parents(&obj)
                .ok()
                .and_then(|p| p.visible_path())
                .and_then(|path| {
                    path.into_iter().find_map(|(o, prop)| match (o, prop) {
                        (automerge::ObjId::Root, automerge::Prop::Map(key)) => Some(key),
                        _ => None,
                    })
                });
            if !root.is_some_and(|r| RECORD_ROOTS.contains(&r.as_str())) {
                return false;
            }
            inserted.insert(id, (obj, usize::from(op.insert)));
        }
    }
    inserted
        .values()
        .all(|(obj, n)| before.length(obj) + n <= crate::validate::MAX_TEXT_CHARS)
}

/// The rules of a visit document, for a batch of changes by one writer.
pub fn check(
    before: &Option<VisitDoc>,
    after: &VisitDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    let writer = &cx.writer;
    let Some(before) = before else {
        creation(after, cx)?;
        return Ok(Accepted {
            photos: after.photos.keys().cloned().collect(),
            ..Accepted::default()
        });
    };
    if (&after.case_id, &after.author, &after.started_at)
        != (&before.case_id, &before.author, &before.started_at)
    {
        return Err(Refusal::new(
            "fixed_field",
            "a visit's case, author and start time are set when it is made",
        ));
    }
    if content(before) != content(after) {
        may_change_content(writer)?;
        if before.review.status == ReviewStatus::SignedOff {
            after_sign_off_leaves_content(after, after_doc, new)?;
        }
    }
    check_annotations(before, after, writer)?;
    check_addenda(before, after, writer)?;
    check_photos(before, after, writer)?;
    let decisions = check_review(before, after, after_doc, writer)?;
    valid(crate::validate::visit(after))?;
    Ok(Accepted {
        decisions,
        photos: after
            .photos
            .keys()
            .filter(|sha| !before.photos.contains_key(*sha))
            .cloned()
            .collect(),
        ..Accepted::default()
    })
}

fn creation(after: &VisitDoc, cx: &Context<'_>) -> Result<(), Refusal> {
    may_change_content(&cx.writer)?;
    signed_as(&cx.writer, &after.author)?;
    if after.case_id != cx.case_id {
        return Err(Refusal::new(
            "wrong_case",
            "a visit names the case it was registered to",
        ));
    }
    if after.review != Review::draft() || !after.annotations.is_empty() || !after.addenda.is_empty()
    {
        return Err(Refusal::new(
            "not_a_draft",
            "a new visit starts as a draft, with no review, annotations or addenda",
        ));
    }
    // Its photos as any photo added later: named by their hash, not
    // already removed (in someone's name or another's).
    let mut without = after.clone();
    without.photos.clear();
    check_photos(&without, after, &cx.writer)?;
    valid(crate::validate::visit(after))
}

/// Changes that causally follow the sign-off may not alter the signed-off
/// record; changes made beside it (a worker offline while the supervisor
/// signed off) are kept, and shown as changed after sign-off.
fn after_sign_off_leaves_content(
    after: &VisitDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
) -> Result<(), Refusal> {
    let Ok(Some(sign_off)) = doc::change_that_wrote(after_doc, &["review"], "status") else {
        return Err(Refusal::new("signed_off", "this visit is signed off"));
    };
    let later: HashSet<ChangeHash> = doc::descendants_of(after_doc, sign_off)
        .intersection(new)
        .copied()
        .collect();
    if later.is_empty() {
        return Ok(());
    }
    let unchanged = autosurgeon::hydrate::<_, VisitDoc>(&doc::without(after_doc, &later))
        .map(|without_later| content(&without_later) == content(after))
        .unwrap_or(false);
    if unchanged {
        Ok(())
    } else {
        Err(Refusal::new(
            "signed_off",
            "this visit is signed off: its words cannot change; add an addendum instead",
        ))
    }
}

fn check_annotations(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &super::Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.annotations {
        let Some(now) = after.annotations.get(id) else {
            return Err(Refusal::new(
                "removed",
                format!("annotation {id} cannot be removed"),
            ));
        };
        fn fixed(a: &Annotation) -> impl PartialEq + '_ {
            (
                &a.author,
                &a.created_at,
                a.field,
                &a.start,
                &a.end,
                &a.quote,
                &a.body,
            )
        }
        if fixed(now) != fixed(was) {
            return Err(Refusal::new(
                "annotation_changed",
                format!("annotation {id} cannot be rewritten"),
            ));
        }
        if (&now.resolved_by, &now.resolved_at) != (&was.resolved_by, &was.resolved_at) {
            if !was.resolved_by.is_empty() {
                return Err(Refusal::new(
                    "already_resolved",
                    format!("annotation {id} is already resolved"),
                ));
            }
            signed_as(writer, &now.resolved_by)?;
            crate::validate::timestamp("resolved_at", &now.resolved_at)
                .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
        }
    }
    for (_, new) in after
        .annotations
        .iter()
        .filter(|(id, _)| !before.annotations.contains_key(*id))
    {
        may_annotate(writer)?;
        signed_as(writer, &new.author)?;
        if !new.resolved_by.is_empty() || !new.resolved_at.is_empty() {
            return Err(Refusal::new("invalid_value", "a new annotation is open"));
        }
    }
    Ok(())
}

/// A photo stays in the record once added; its removal is signed by the
/// one who removes it, and never undone or re-dated; a new photo is not
/// already removed.
fn check_photos(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &super::Writer<'_>,
) -> Result<(), Refusal> {
    let fixed = |p: &PhotoRef| {
        (
            p.sha256.clone(),
            p.size,
            p.width,
            p.height,
            p.captured_at.clone(),
        )
    };
    for (sha, was) in &before.photos {
        let Some(now) = after.photos.get(sha) else {
            return Err(Refusal::new(
                "removed",
                format!("photo {sha} cannot be deleted from the record; remove it instead"),
            ));
        };
        if fixed(now) != fixed(was) {
            return Err(Refusal::new(
                "photo_changed",
                format!("photo {sha} is what it was when added"),
            ));
        }
        if (&now.removed_by, &now.removed_at) != (&was.removed_by, &was.removed_at) {
            if !was.removed_by.is_empty() {
                return Err(Refusal::new(
                    "photo_changed",
                    format!("the removal of photo {sha} stands as it was made"),
                ));
            }
            signed_as(writer, &now.removed_by)?;
        }
    }
    for (sha, new) in after
        .photos
        .iter()
        .filter(|(s, _)| !before.photos.contains_key(*s))
    {
        if &new.sha256 != sha || !new.removed_by.is_empty() || !new.removed_at.is_empty() {
            return Err(Refusal::new(
                "photo_changed",
                format!("a new photo is named by its own hash and not already removed ({sha})"),
            ));
        }
    }
    Ok(())
}

fn check_addenda(
    before: &VisitDoc,
    after: &VisitDoc,
    writer: &super::Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.addenda {
        let Some(now) = after.addenda.get(id) else {
            return Err(Refusal::new(
                "removed",
                format!("addendum {id} cannot be removed"),
            ));
        };
        if (&now.author, &now.at) != (&was.author, &was.at) {
            return Err(Refusal::new(
                "addendum_changed",
                format!("addendum {id} cannot be re-dated or re-attributed"),
            ));
        }
        if now.text != was.text {
            signed_as(writer, &now.author)?;
        }
    }
    for (_, new) in after
        .addenda
        .iter()
        .filter(|(id, _)| !before.addenda.contains_key(*id))
    {
        signed_as(writer, &new.author)?;
        may_add_addendum(before, writer)?;
    }
    Ok(())
}

fn check_review(
    before: &VisitDoc,
    after: &VisitDoc,
    after_doc: &Automerge,
    writer: &super::Writer<'_>,
) -> Result<Vec<(String, ReviewDecision)>, Refusal> {
    let (was, now) = (&before.review, &after.review);
    for (id, decision) in &was.decisions {
        if now.decisions.get(id) != Some(decision) {
            return Err(Refusal::new(
                "decision_changed",
                format!("review decision {id} cannot be changed or removed"),
            ));
        }
    }
    let added: Vec<(&String, &ReviewDecision)> = now
        .decisions
        .iter()
        .filter(|(id, _)| !was.decisions.contains_key(*id))
        .collect();
    if was.status == now.status {
        let same = (&was.changed_by, &was.changed_at, &was.signed_off_heads)
            == (&now.changed_by, &now.changed_at, &now.signed_off_heads);
        if !same || !added.is_empty() {
            return Err(Refusal::new(
                "review_changed",
                "a review is changed only by a decision that moves the visit on",
            ));
        }
        return Ok(Vec::new());
    }
    review::transition(reviewer(after, writer)?, was.status, now.status)
        .map_err(|e| Refusal::new("review_transition", e.to_string()))?;
    signed_as(writer, &now.changed_by)?;
    match added.as_slice() {
        [(_, d)] if d.status == now.status && d.by == now.changed_by && d.at == now.changed_at => {}
        _ => {
            return Err(Refusal::new(
                "review_unrecorded",
                "every review decision is recorded once, as made",
            ));
        }
    }
    if now.status == ReviewStatus::SignedOff {
        let known = |h: &String| {
            h.parse::<ChangeHash>()
                .is_ok_and(|h| after_doc.get_change_meta_by_hash(&h).is_some())
        };
        if now.signed_off_heads.is_empty() || !now.signed_off_heads.iter().all(known) {
            return Err(Refusal::new(
                "sign_off_heads",
                "a sign-off names the version of the visit it attests to",
            ));
        }
    } else if now.signed_off_heads != was.signed_off_heads {
        return Err(Refusal::new(
            "review_changed",
            "only a sign-off attests to a version",
        ));
    }
    Ok(added
        .into_iter()
        .map(|(id, d)| (id.clone(), d.clone()))
        .collect())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{new_document, update_text};

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
        let doc = new_document(&v, automerge::ActorId::random()).unwrap();
        assert_eq!(read_visit(&doc).unwrap(), v);
    }

    #[test]
    fn enums_are_snake_case_strings_in_the_document() {
        use automerge::ReadDoc;
        let mut v = visit();
        v.place = PlaceKind::CareHome;
        let doc = new_document(&v, automerge::ActorId::random()).unwrap();
        let (value, _) = doc.get(automerge::ROOT, "place").unwrap().unwrap();
        assert_eq!(value.into_string().unwrap(), "care_home");
    }

    #[test]
    fn human_text_is_automerge_text() {
        use automerge::ReadDoc;
        let doc = new_document(&visit(), automerge::ActorId::random()).unwrap();
        let (value, _) = doc.get(automerge::ROOT, "observations").unwrap().unwrap();
        assert_eq!(value, automerge::Value::Object(automerge::ObjType::Text));
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_message() {
        use automerge::transaction::Transactable;
        let mut doc = new_document(&visit(), automerge::ActorId::random()).unwrap();
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
        let base = new_document(&visit(), automerge::ActorId::random()).unwrap();
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
    fn action_and_creative_text_live_where_the_schema_reads_them() {
        let mut v = visit();
        v.actions.insert("a1".into(), Action::new());
        v.creative
            .insert("c1".into(), CreativeObservation::new(CreativeMethod::Music));
        let mut doc = new_document(&v, automerge::ActorId::random()).unwrap();
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
        let mut doc = new_document(&visit(), automerge::ActorId::random()).unwrap();
        let gone = VisitText::Action {
            id: "removed".into(),
            part: ActionText::Text,
        };
        assert!(update_text(&mut doc, &gone.path(), "orphan").is_err());
        assert!(read_visit(&doc).unwrap().actions.is_empty());
    }

    // The rules, through `records::check` on real documents: one device
    // (and so one actor) per person.

    use crate::api::Role;
    use crate::provenance::device_actor;
    use crate::records::{self, Kind, Writer};

    const WORKER: (&str, Role) = ("w-1", Role::Worker);
    const COLLEAGUE: (&str, Role) = ("w-2", Role::Worker);
    const SUPERVISOR: (&str, Role) = ("sup-1", Role::Supervisor);
    const AT: &str = "2026-11-25T12:00:00Z";

    fn stored() -> Automerge {
        let mut v = visit();
        v.author = WORKER.0.into();
        let mut doc = new_document(&v, device_actor(WORKER.0)).unwrap();
        update_text(
            &mut doc,
            TextField::Observations.path(),
            "She smiled at the garden.",
        )
        .unwrap();
        doc
    }

    /// `who` makes `edit` on a copy of `doc` (bypassing the app's own check,
    /// as a hand-made peer would): the document after and the rules' verdict.
    fn by(
        who: &(&str, Role),
        doc: &Automerge,
        edit: VisitEdit,
    ) -> (Automerge, Result<(), Refusal>) {
        let mut after = doc.fork().with_actor(device_actor(who.0));
        edit.apply(&mut after).unwrap();
        let verdict = judged(who, doc, &after);
        (after, verdict)
    }

    fn judged(who: &(&str, Role), before: &Automerge, after: &Automerge) -> Result<(), Refusal> {
        records::judged_as(Kind::Visit, who.0, &who.1, before, after).map(|_| ())
    }

    fn code(r: Result<(), Refusal>) -> &'static str {
        r.map(|_| "accepted").unwrap_or_else(|e| e.code)
    }

    fn decide(who: &(&str, Role), status: ReviewStatus, id: &str) -> VisitEdit {
        VisitEdit::Decide {
            id: id.into(),
            status,
            by: who.0.into(),
            at: AT.into(),
            comment: String::new(),
        }
    }

    fn text(value: &str) -> VisitEdit {
        VisitEdit::SetText {
            text: TextField::Observations.into(),
            value: value.into(),
        }
    }

    #[test]
    fn photos_stay_in_the_record_and_their_removal_is_signed() {
        let doc = stored();
        let sha = "ab".repeat(32);
        let photo = PhotoRef {
            sha256: sha.clone(),
            size: 10,
            width: 4,
            height: 3,
            caption: Text::default(),
            captured_at: AT.into(),
            removed_by: String::new(),
            removed_at: String::new(),
        };
        let (with_photo, verdict) = by(&WORKER, &doc, VisitEdit::AddPhoto(photo.clone()));
        assert_eq!(code(verdict), "accepted");
        assert_eq!(
            code(by(&SUPERVISOR, &doc, VisitEdit::AddPhoto(photo.clone())).1),
            "not_a_worker"
        );
        // Shown with a creative-method observation.
        let (with_obs, _) = by(
            &WORKER,
            &with_photo,
            VisitEdit::AddCreative {
                id: "c1".into(),
                method: CreativeMethod::Art,
            },
        );
        let show = VisitEdit::ShowInCreative {
            id: "c1".into(),
            sha256: sha.clone(),
        };
        let (shown, verdict) = by(&WORKER, &with_obs, show);
        assert_eq!(code(verdict), "accepted");
        assert_eq!(
            read_visit(&shown).unwrap().creative["c1"].photos,
            vec![sha.clone()]
        );
        // Removed: signed by the one who removes it; never deleted.
        let remove = |who: &str| VisitEdit::RemovePhoto {
            sha256: sha.clone(),
            by: who.into(),
            at: AT.into(),
        };
        let (removed, verdict) = by(&WORKER, &with_photo, remove(WORKER.0));
        assert_eq!(code(verdict), "accepted");
        let p = &read_visit(&removed).unwrap().photos[&sha];
        assert_eq!(
            (p.removed_by.as_str(), p.removed_at.as_str()),
            (WORKER.0, AT)
        );
        assert_eq!(
            code(by(&WORKER, &with_photo, remove(COLLEAGUE.0)).1),
            "forged_author"
        );
        let mut deleted = with_photo.fork().with_actor(device_actor(WORKER.0));
        doc::put_at(
            &mut deleted,
            &[],
            "photos",
            BTreeMap::<String, PhotoRef>::new(),
        )
        .unwrap();
        assert_eq!(code(judged(&WORKER, &with_photo, &deleted)), "removed");
        // Added again, it would change what was added: the server refuses
        // that, and the app refuses it first.
        let again = PhotoRef {
            captured_at: "2026-03-02T10:00:00Z".into(),
            ..photo.clone()
        };
        assert_eq!(
            code(by(&WORKER, &with_photo, VisitEdit::AddPhoto(again.clone())).1),
            "photo_changed"
        );
        let writer = Writer {
            person_id: WORKER.0,
            role: &WORKER.1,
        };
        let add = VisitEdit::AddPhoto(again);
        let refused = |d: &Automerge| add.permitted(&read_visit(d).unwrap(), &writer);
        assert_eq!(
            refused(&with_photo).unwrap_err().code,
            "photo_already_added"
        );
        assert_eq!(refused(&removed).unwrap_err().code, "photo_removed");
        assert!(refused(&doc).is_ok());
    }

    #[test]
    fn workers_write_the_record_and_supervisors_do_not() {
        let doc = stored();
        assert_eq!(code(by(&WORKER, &doc, text("She laughed.")).1), "accepted");
        assert_eq!(
            code(by(&COLLEAGUE, &doc, text("She laughed.")).1),
            "accepted"
        );
        assert_eq!(
            code(by(&SUPERVISOR, &doc, text("She laughed.")).1),
            "not_a_worker"
        );
        // A practice reviewer reads; they write nothing of a visit, nor
        // annotate, nor decide.
        const REVIEWER: (&str, Role) = ("r-1", Role::Reviewer);
        assert_eq!(
            code(by(&REVIEWER, &doc, text("She laughed.")).1),
            "not_a_worker"
        );
        let significant = VisitEdit::AddSignificant {
            id: "s1".into(),
            at: AT.into(),
        };
        assert_eq!(
            code(by(&REVIEWER, &doc, significant.clone()).1),
            "not_a_worker"
        );
        assert_eq!(code(by(&WORKER, &doc, significant).1), "accepted");
        assert_eq!(
            code(
                by(
                    &REVIEWER,
                    &doc,
                    decide(&REVIEWER, ReviewStatus::Submitted, "d1")
                )
                .1
            ),
            "not_reviewer"
        );
    }

    #[test]
    fn only_a_supervisor_annotates_and_annotations_stay() {
        let doc = stored();
        let note = |who: &(&str, Role)| VisitEdit::Annotate {
            id: "n1".into(),
            field: TextField::Observations,
            from: 4,
            to: 10,
            body: "How do you know?".into(),
            author: who.0.into(),
            at: AT.into(),
        };
        assert_eq!(code(by(&WORKER, &doc, note(&WORKER)).1), "not_a_supervisor");
        // Signed as someone else: refused whoever sends it.
        assert_eq!(
            code(by(&SUPERVISOR, &doc, note(&WORKER)).1),
            "forged_author"
        );
        let (annotated, ok) = by(&SUPERVISOR, &doc, note(&SUPERVISOR));
        assert_eq!(code(ok), "accepted");
        let resolve = |who: &(&str, Role)| VisitEdit::ResolveAnnotation {
            id: "n1".into(),
            by: who.0.into(),
            at: AT.into(),
        };
        assert_eq!(
            code(by(&WORKER, &annotated, resolve(&WORKER)).1),
            "accepted"
        );
        assert_eq!(
            code(by(&WORKER, &annotated, resolve(&SUPERVISOR)).1),
            "forged_author"
        );
        // Removing or rewriting it, as a hand-made peer would.
        let mut removed = annotated.fork().with_actor(device_actor(SUPERVISOR.0));
        removed
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                use automerge::transaction::Transactable;
                let (_, map) = tx.get(automerge::ROOT, "annotations")?.unwrap();
                tx.delete(&map, "n1")
            })
            .unwrap();
        assert_eq!(code(judged(&SUPERVISOR, &annotated, &removed)), "removed");
    }

    #[test]
    fn review_moves_only_along_its_paths_by_the_right_people() {
        let doc = stored();
        assert_eq!(
            code(
                by(
                    &SUPERVISOR,
                    &doc,
                    decide(&SUPERVISOR, ReviewStatus::SignedOff, "d1")
                )
                .1
            ),
            "review_transition"
        );
        assert_eq!(
            code(
                by(
                    &COLLEAGUE,
                    &doc,
                    decide(&COLLEAGUE, ReviewStatus::Submitted, "d1")
                )
                .1
            ),
            "not_reviewer"
        );
        let (submitted, ok) = by(
            &WORKER,
            &doc,
            decide(&WORKER, ReviewStatus::Submitted, "d1"),
        );
        assert_eq!(code(ok), "accepted");
        assert_eq!(
            code(
                by(
                    &WORKER,
                    &submitted,
                    decide(&WORKER, ReviewStatus::SignedOff, "d2")
                )
                .1
            ),
            "review_transition"
        );
        let (returned, ok) = by(
            &SUPERVISOR,
            &submitted,
            VisitEdit::Decide {
                id: "d2".into(),
                status: ReviewStatus::Returned,
                by: SUPERVISOR.0.into(),
                at: AT.into(),
                comment: "Say what she said about the garden.".into(),
            },
        );
        assert_eq!(code(ok), "accepted");
        let review = read_visit(&returned).unwrap().review;
        assert_eq!(
            review.return_comment().unwrap().comment.as_str(),
            "Say what she said about the garden."
        );
        assert_eq!(review.history().len(), 2);
        // A hand-made sign-off without a recorded decision.
        let mut forged = submitted.fork().with_actor(device_actor(SUPERVISOR.0));
        let mut r = read_visit(&submitted).unwrap().review;
        r.status = ReviewStatus::SignedOff;
        r.changed_by = SUPERVISOR.0.into();
        r.changed_at = AT.into();
        r.signed_off_heads = submitted
            .get_heads()
            .iter()
            .map(|h| h.to_string())
            .collect();
        crate::doc::put_at(&mut forged, &[], "review", &r).unwrap();
        assert_eq!(
            code(judged(&SUPERVISOR, &submitted, &forged)),
            "review_unrecorded"
        );
    }

    fn signed_off() -> Automerge {
        let (submitted, _) = by(
            &WORKER,
            &stored(),
            decide(&WORKER, ReviewStatus::Submitted, "d1"),
        );
        let (signed, ok) = by(
            &SUPERVISOR,
            &submitted,
            decide(&SUPERVISOR, ReviewStatus::SignedOff, "d2"),
        );
        assert_eq!(code(ok), "accepted");
        signed
    }

    #[test]
    fn after_sign_off_words_stay_and_addenda_are_added() {
        let signed = signed_off();
        assert_eq!(
            code(by(&WORKER, &signed, text("Rewritten.")).1),
            "signed_off"
        );
        let addendum = VisitEdit::AddAddendum {
            id: "a1".into(),
            author: WORKER.0.into(),
            at: AT.into(),
            text: "She rang the next day.".into(),
        };
        assert_eq!(code(by(&WORKER, &signed, addendum.clone()).1), "accepted");
        assert_eq!(code(by(&WORKER, &stored(), addendum).1), "not_signed_off");
        // The app refuses the same edit before it is made.
        let writer = Writer {
            person_id: WORKER.0,
            role: &WORKER.1,
        };
        let v = read_visit(&signed).unwrap();
        assert_eq!(
            text("x").permitted(&v, &writer).unwrap_err().code,
            "signed_off"
        );
    }

    #[test]
    fn edits_made_beside_a_sign_off_are_kept() {
        let (submitted, _) = by(
            &WORKER,
            &stored(),
            decide(&WORKER, ReviewStatus::Submitted, "d1"),
        );
        // The worker, offline, edits the submitted visit...
        let (offline, _) = by(
            &WORKER,
            &submitted,
            text("She smiled at the garden, and at me."),
        );
        // ...while the supervisor signs it off; the server has the sign-off.
        let (signed, _) = by(
            &SUPERVISOR,
            &submitted,
            decide(&SUPERVISOR, ReviewStatus::SignedOff, "d2"),
        );
        let mut merged = signed.fork();
        merged.merge(&mut offline.fork()).unwrap();
        assert_eq!(code(judged(&WORKER, &signed, &merged)), "accepted");
        // A decision on a document with two heads (edits merged from two
        // devices) is one change on top of both.
        let mut two_heads = submitted.fork();
        two_heads.merge(&mut offline.fork()).unwrap();
        let (_, both) = by(
            &SUPERVISOR,
            &two_heads,
            decide(&SUPERVISOR, ReviewStatus::Returned, "d3"),
        );
        assert_eq!(code(both), "accepted");
        // The supervisor sees exactly what changed beside the sign-off.
        let changed = since_sign_off(&merged).unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].field, TextField::Observations);
        assert_eq!(changed[0].at_sign_off, "She smiled at the garden.");
        assert_eq!(changed[0].now, "She smiled at the garden, and at me.");
        assert!(since_sign_off(&signed).unwrap().is_empty());
        // Knowing of the sign-off, the same edit is refused.
        let (after, verdict) = by(&WORKER, &signed, text("Rewritten after sign-off."));
        assert_eq!(
            code(verdict),
            "signed_off",
            "{:?}",
            read_visit(&after).unwrap().observations
        );
    }

    #[test]
    fn fixed_fields_and_a_new_visit() {
        let doc = stored();
        let mut moved = doc.fork().with_actor(device_actor(WORKER.0));
        crate::doc::put_at(&mut moved, &[], "author", "w-2").unwrap();
        assert_eq!(code(judged(&WORKER, &doc, &moved)), "fixed_field");
        let mut newer = doc.fork().with_actor(device_actor(WORKER.0));
        crate::doc::put_at(&mut newer, &[], "schema", 999_u64).unwrap();
        assert_eq!(code(judged(&WORKER, &doc, &newer)), "newer_schema");
        let mut wrong = doc.fork().with_actor(device_actor(WORKER.0));
        crate::doc::put_at(&mut wrong, &[], "place", 7_u64).unwrap();
        assert_eq!(code(judged(&WORKER, &doc, &wrong)), "wrong_shape");
        // Made by its author, in the registered case, as a draft.
        let empty = Automerge::new();
        assert_eq!(code(judged(&WORKER, &empty, &stored())), "accepted");
        // Made, written and submitted before it first synced: one batch.
        let (submitted, _) = by(
            &WORKER,
            &stored(),
            decide(&WORKER, ReviewStatus::Submitted, "d1"),
        );
        assert_eq!(code(judged(&WORKER, &empty, &submitted)), "accepted");
        let mut born_signed = visit();
        born_signed.author = WORKER.0.into();
        born_signed.review.status = ReviewStatus::SignedOff;
        let born_signed = new_document(&born_signed, device_actor(WORKER.0)).unwrap();
        assert_eq!(code(judged(&WORKER, &empty, &born_signed)), "not_a_draft");
        assert_eq!(
            code(judged(&COLLEAGUE, &empty, &{
                let mut v = visit();
                v.author = COLLEAGUE.0.into();
                v.case_id = "case-2".into();
                new_document(&v, device_actor(COLLEAGUE.0)).unwrap()
            })),
            "wrong_case"
        );
    }

    /// `edit` by `who` on `doc`: does the cheap path take it?
    fn typing(who: &(&str, Role), doc: &Automerge, edit: VisitEdit) -> bool {
        let mut after = doc.fork().with_actor(device_actor(who.0));
        edit.apply(&mut after).unwrap();
        let new = after.get_changes(&doc.get_heads());
        only_typing(
            doc,
            &new,
            &Writer {
                person_id: who.0,
                role: &who.1,
            },
        )
    }

    #[test]
    fn typing_takes_the_cheap_path_and_nothing_else_does() {
        let doc = stored();
        assert!(typing(
            &WORKER,
            &doc,
            text("She smiled at the garden, then at me.")
        ));
        assert!(
            typing(&WORKER, &doc, text("She smiled.")),
            "deleting is typing too"
        );
        assert!(!typing(&SUPERVISOR, &doc, text("x")));
        assert!(!typing(
            &WORKER,
            &doc,
            VisitEdit::AddAction { id: "a1".into() }
        ));
        assert!(!typing(
            &WORKER,
            &doc,
            decide(&WORKER, ReviewStatus::Submitted, "d1")
        ));
        assert!(!typing(&WORKER, &signed_off(), text("Rewritten.")));
        let (noted, _) = by(
            &SUPERVISOR,
            &doc,
            VisitEdit::Annotate {
                id: "n1".into(),
                field: TextField::Observations,
                from: 0,
                to: 3,
                body: "Who?".into(),
                author: SUPERVISOR.0.into(),
                at: AT.into(),
            },
        );
        let body_edit = {
            let mut d = noted.fork().with_actor(device_actor(WORKER.0));
            update_text(&mut d, &["annotations", "n1", "body"], "Changed.").unwrap();
            d
        };
        let new = body_edit.get_changes(&noted.get_heads());
        assert!(!only_typing(
            &noted,
            &new,
            &Writer {
                person_id: WORKER.0,
                role: &WORKER.1
            }
        ));
        assert_eq!(
            code(judged(&WORKER, &noted, &body_edit)),
            "annotation_changed"
        );
        // Thousands of characters in one element of a text are not typing
        // (and are refused when judged in full).
        let mut long = doc.fork().with_actor(device_actor(WORKER.0));
        long.transact::<_, _, automerge::AutomergeError>(|tx| {
            let (_, text) = tx.get(automerge::ROOT, "observations")?.unwrap();
            automerge::transaction::Transactable::insert(tx, &text, 0, "x".repeat(10_000))?;
            Ok(())
        })
        .unwrap();
        let new = long.get_changes(&doc.get_heads());
        let writer = Writer {
            person_id: WORKER.0,
            role: &WORKER.1,
        };
        assert!(!only_typing(&doc, &new, &writer));
        assert_eq!(code(judged(&WORKER, &doc, &long)), "text_too_long");
    }

    #[test]
    fn an_annotation_follows_its_words() {
        let doc = stored();
        let (mut annotated, _) = by(
            &SUPERVISOR,
            &doc,
            VisitEdit::Annotate {
                id: "n1".into(),
                field: TextField::Observations,
                from: 4,
                to: 10,
                body: "How?".into(),
                author: SUPERVISOR.0.into(),
                at: AT.into(),
            },
        );
        let note = read_visit(&annotated).unwrap().annotations["n1"].clone();
        assert_eq!(note.quote.as_str(), "smiled");
        let at = |doc: &Automerge| match anchor(doc, &note) {
            Anchored::At { from, to } => read_visit(doc)
                .unwrap()
                .observations
                .as_str()
                .chars()
                .skip(from)
                .take(to - from)
                .collect::<String>(),
            Anchored::Deleted => "<deleted>".into(),
        };
        assert_eq!(at(&annotated), "smiled");
        // Text inserted before, and an edit inside the words.
        annotated.set_actor(device_actor(WORKER.0));
        update_text(
            &mut annotated,
            TextField::Observations.path(),
            "Today she smiled at the garden.",
        )
        .unwrap();
        assert_eq!(at(&annotated), "smiled");
        update_text(
            &mut annotated,
            TextField::Observations.path(),
            "Today she smi-led at the garden.",
        )
        .unwrap();
        assert_eq!(at(&annotated), "smi-led");
        update_text(
            &mut annotated,
            TextField::Observations.path(),
            "Today she at the garden.",
        )
        .unwrap();
        assert_eq!(at(&annotated), "<deleted>");
    }
}
