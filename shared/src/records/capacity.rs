//! A mental capacity assessment under the Mental Capacity Act 2005: one
//! decision, assessed at one time, in its own automerge document, linked
//! from the visit it was started from and from its case.
//!
//! The assessment follows the order the Act and the courts set. First what
//! was done to help the person decide for themselves (s.1(3)): the
//! practicable steps, the creative methods, and evidence linked to the
//! person's own words and to creative-method observations of a visit. Then
//! the functional test (s.3(1)): can they understand, retain, use or weigh
//! the information, and communicate their decision. Only where some part is
//! not met is it asked whether that inability is because of an impairment
//! of, or a disturbance in the functioning of, the mind or brain (s.2(1),
//! in the order of A Local Authority v JB [2021] UKSC 52). The outcome
//! follows from the findings ([`outcome`]); a completion that contradicts
//! them is refused by the app and by the server alike ([`may_complete`]).
//!
//! Findings are where two assessors can disagree while offline. Each one is
//! written as a fresh map object, so two made apart stand side by side as an
//! automerge conflict instead of one silently winning; [`conflicts`] shows
//! them, and the assessment cannot be completed until someone records the
//! finding again, knowing both.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::RangeInclusive;

use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, ReadDoc, Value};
use autosurgeon::{Hydrate, Reconcile, Text};

use super::visit::{Anchored, CreativeMethod, TextField};
use super::{Accepted, Context, Refusal, SCHEMA_VERSION, Writer, valid};
use crate::api::Role;
use crate::{ValidationError, doc};

string_enum! {
    /// The four parts of the functional test (s.3(1)), in the order they
    /// are asked.
    Part {
        Understand => "understand", Retain => "retain",
        UseOrWeigh => "use_or_weigh", Communicate => "communicate",
    }
}

string_enum! {
    /// Whether the person can do what a part of the functional test asks.
    Finding { Met => "met", NotMet => "not_met" }
}

string_enum! {
    /// Whether the person's inability to decide is because of an impairment
    /// of, or a disturbance in the functioning of, the mind or brain.
    ImpairmentAnswer { Yes => "yes", No => "no" }
}

string_enum! {
    /// Where an assessment stands.
    Status { InProgress => "in_progress", Complete => "complete" }
}

string_enum! {
    /// What the assessment found, for this decision at this time.
    Outcome { HasCapacity => "has_capacity", LacksCapacity => "lacks_capacity" }
}

string_enum! {
    /// What a piece of evidence points at in a visit.
    EvidenceKind { OwnWords => "own_words", Creative => "creative_observation" }
}

/// The phrase the Act's wording and every message share.
const IMPAIRMENT: &str =
    "an impairment of, or a disturbance in the functioning of, the mind or brain";

impl Part {
    /// A name for people, as the test is usually spoken of.
    pub fn name(self) -> &'static str {
        match self {
            Part::Understand => "understand",
            Part::Retain => "retain",
            Part::UseOrWeigh => "use or weigh",
            Part::Communicate => "communicate",
        }
    }

    /// What the person cannot do when this part is not met, after
    /// "the person cannot".
    pub fn inability(self) -> &'static str {
        match self {
            Part::Understand => "understand the information relevant to the decision",
            Part::Retain => "retain the information",
            Part::UseOrWeigh => "use or weigh the information",
            Part::Communicate => "communicate their decision",
        }
    }
}

impl Finding {
    pub fn name(self) -> &'static str {
        match self {
            Finding::Met => "met",
            Finding::NotMet => "not met",
        }
    }
}

impl ImpairmentAnswer {
    pub fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::HasCapacity => "has capacity",
            Outcome::LacksCapacity => "lacks capacity",
        }
    }
}

/// One assessment of one decision.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct CapacityDoc {
    pub schema: u64,
    pub case_id: String,
    /// The visit document it was started from.
    pub visit_id: String,
    /// Person id of the assessor who made it.
    pub author: String,
    /// RFC 3339 with offset.
    pub created_at: String,
    /// Capacity is decision-specific: the assessment names the one decision.
    pub decision: Text,
    /// RFC 3339: capacity is time-specific too. Empty until set.
    #[autosurgeon(missing = "Default::default")]
    pub assessed_at: String,
    /// What the person was given to decide with.
    pub relevant_information: Text,
    /// The practicable steps taken to help the person decide (s.1(3)):
    /// nobody is treated as unable to decide until they have been tried.
    pub steps: Text,
    #[autosurgeon(missing = "Default::default")]
    pub methods: Vec<CreativeMethod>,
    /// Links to what the person said or expressed in visits, keyed by a
    /// random id so that two assessors adding evidence offline both keep it.
    #[autosurgeon(missing = "Default::default")]
    pub evidence: BTreeMap<String, Evidence>,
    pub test: FunctionalTest,
    pub impairment: ImpairmentQuestion,
    pub status: Status,
    /// Set by a completion, cleared by a reopening.
    #[autosurgeon(missing = "Default::default")]
    pub outcome: Option<Outcome>,
    /// Where a person lacks capacity someone else decides in their best
    /// interests: who, and what happens next.
    #[autosurgeon(missing = "Default::default")]
    pub best_interests: Text,
    #[autosurgeon(missing = "Default::default")]
    pub completed_by: String,
    #[autosurgeon(missing = "Default::default")]
    pub completed_at: String,
    /// Every completion and reopening, keyed by a random id: what an
    /// inspector reads to see how the assessment was reached.
    #[autosurgeon(missing = "Default::default")]
    pub history: BTreeMap<String, StatusChange>,
}

/// A passage of a visit or a creative-method observation the assessment
/// relies on. A passage is anchored with automerge cursors into the visit's
/// `own_words.text`, exactly as a supervisor's annotation is, so it stays on
/// the same words when the visit is edited later; `quote` keeps the words as
/// they were when linked.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub visit_id: String,
    /// The creative-method observation's id; empty for own words.
    #[autosurgeon(missing = "Default::default")]
    pub observation: String,
    /// Cursor at the first character of the passage; empty for an
    /// observation.
    #[autosurgeon(missing = "Default::default")]
    pub start: String,
    /// Cursor at the last character of the passage.
    #[autosurgeon(missing = "Default::default")]
    pub end: String,
    #[autosurgeon(missing = "Default::default")]
    pub quote: Text,
    /// The assessor's reason for linking it.
    #[autosurgeon(missing = "Default::default")]
    pub note: Text,
    pub added_by: String,
    pub added_at: String,
}

/// The four parts of the functional test, each at the key its [`Part`]
/// names.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct FunctionalTest {
    pub understand: PartRecord,
    pub retain: PartRecord,
    pub use_or_weigh: PartRecord,
    pub communicate: PartRecord,
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct PartRecord {
    pub evidence: Text,
    /// Where findings conflict this is one of them; see [`conflicts`].
    #[autosurgeon(missing = "Default::default")]
    pub finding: Option<Recorded<Finding>>,
}

/// Asked only where a part of the functional test is not met.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ImpairmentQuestion {
    pub evidence: Text,
    #[autosurgeon(missing = "Default::default")]
    pub finding: Option<Recorded<ImpairmentAnswer>>,
}

/// A finding with who recorded it and when. Each recording is a new map
/// object, so its three fields always belong together, even in a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Recorded<T> {
    pub value: T,
    pub by: String,
    pub at: String,
}

/// A completion or a reopening.
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct StatusChange {
    pub status: Status,
    /// What a completion found; `None` for a reopening.
    #[autosurgeon(missing = "Default::default")]
    pub outcome: Option<Outcome>,
    pub by: String,
    pub at: String,
    /// Why it was reopened; empty for a completion.
    #[autosurgeon(missing = "Default::default")]
    pub reason: Text,
}

impl CapacityDoc {
    /// A fresh assessment by `author`, started from `visit_id` in `case_id`.
    pub fn new(case_id: &str, visit_id: &str, author: &str, created_at: &str) -> Self {
        let part = || PartRecord {
            evidence: Text::default(),
            finding: None,
        };
        CapacityDoc {
            schema: SCHEMA_VERSION,
            case_id: case_id.to_owned(),
            visit_id: visit_id.to_owned(),
            author: author.to_owned(),
            created_at: created_at.to_owned(),
            decision: Text::default(),
            assessed_at: String::new(),
            relevant_information: Text::default(),
            steps: Text::default(),
            methods: Vec::new(),
            evidence: BTreeMap::new(),
            test: FunctionalTest {
                understand: part(),
                retain: part(),
                use_or_weigh: part(),
                communicate: part(),
            },
            impairment: ImpairmentQuestion {
                evidence: Text::default(),
                finding: None,
            },
            status: Status::InProgress,
            outcome: None,
            best_interests: Text::default(),
            completed_by: String::new(),
            completed_at: String::new(),
            history: BTreeMap::new(),
        }
    }

    pub fn text(&self, text: CapacityText) -> &str {
        match text {
            CapacityText::Decision => self.decision.as_str(),
            CapacityText::RelevantInformation => self.relevant_information.as_str(),
            CapacityText::Steps => self.steps.as_str(),
            CapacityText::PartEvidence(p) => self.test.part(p).evidence.as_str(),
            CapacityText::ImpairmentEvidence => self.impairment.evidence.as_str(),
            CapacityText::BestInterests => self.best_interests.as_str(),
        }
    }

    /// The completions and reopenings, oldest first.
    pub fn history(&self) -> Vec<(&str, &StatusChange)> {
        let mut all: Vec<_> = self.history.iter().map(|(k, c)| (k.as_str(), c)).collect();
        all.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(b.0)));
        all
    }

    /// Who recorded the finding for `question` and when, if anyone did.
    fn signature(&self, question: Question) -> Option<(&str, &str)> {
        match question {
            Question::Part(p) => self
                .test
                .part(p)
                .finding
                .as_ref()
                .map(|r| (r.by.as_str(), r.at.as_str())),
            Question::Impairment => self
                .impairment
                .finding
                .as_ref()
                .map(|r| (r.by.as_str(), r.at.as_str())),
        }
    }
}

impl FunctionalTest {
    pub fn part(&self, part: Part) -> &PartRecord {
        match part {
            Part::Understand => &self.understand,
            Part::Retain => &self.retain,
            Part::UseOrWeigh => &self.use_or_weigh,
            Part::Communicate => &self.communicate,
        }
    }
}

/// Reads an assessment, refusing newer schemas.
pub fn read_capacity(doc: &Automerge) -> Result<CapacityDoc, crate::Error> {
    doc::read(doc)
}

/// A question the assessment records a finding for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Question {
    Part(Part),
    Impairment,
}

impl Question {
    pub const ALL: [Question; 5] = [
        Question::Part(Part::Understand),
        Question::Part(Part::Retain),
        Question::Part(Part::UseOrWeigh),
        Question::Part(Part::Communicate),
        Question::Impairment,
    ];

    /// The map whose `finding` key holds the finding.
    fn path(self) -> &'static [&'static str] {
        match self {
            Question::Part(Part::Understand) => &["test", "understand"],
            Question::Part(Part::Retain) => &["test", "retain"],
            Question::Part(Part::UseOrWeigh) => &["test", "use_or_weigh"],
            Question::Part(Part::Communicate) => &["test", "communicate"],
            Question::Impairment => &["impairment"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Question::Part(p) => p.name(),
            Question::Impairment => "the impairment question",
        }
    }
}

/// Every value recorded for `question`, conflicting ones included, in the
/// order they were recorded. Values that do not read as a finding are left
/// out: the rules refuse any batch that writes one.
fn recorded<T: Hydrate>(doc: &Automerge, question: Question) -> Vec<Recorded<T>> {
    let Ok(Some(holder)) = doc::map_at(doc, question.path()) else {
        return Vec::new();
    };
    let mut values: Vec<Recorded<T>> = doc
        .get_all(&holder, "finding")
        .unwrap_or_default()
        .into_iter()
        .filter(|(v, _)| matches!(v, Value::Object(ObjType::Map)))
        .filter_map(|(_, id)| Recorded::<T>::hydrate_map(doc, &id).ok())
        .collect();
    values.sort_by(|a, b| (&a.at, &a.by).cmp(&(&b.at, &b.by)));
    values
}

/// Findings recorded apart that disagree. Until one is recorded again the
/// assessment cannot be completed: which finding stands is for the
/// assessors to say, not for automerge's tie-break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingConflict {
    Part {
        part: Part,
        values: Vec<Recorded<Finding>>,
    },
    Impairment {
        values: Vec<Recorded<ImpairmentAnswer>>,
    },
}

impl FindingConflict {
    pub fn question(&self) -> Question {
        match self {
            FindingConflict::Part { part, .. } => Question::Part(*part),
            FindingConflict::Impairment { .. } => Question::Impairment,
        }
    }
}

impl fmt::Display for FindingConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<String> = match self {
            FindingConflict::Part { values, .. } => values
                .iter()
                .map(|r| format!("{} ({}, {})", r.value.name(), r.by, r.at))
                .collect(),
            FindingConflict::Impairment { values } => values
                .iter()
                .map(|r| format!("{} ({}, {})", r.value.name(), r.by, r.at))
                .collect(),
        };
        write!(
            f,
            "different findings were recorded apart for {}: {}; record the finding again to settle it",
            self.question().name(),
            values.join(", ")
        )
    }
}

/// The findings that disagree, in the order of the test. Two assessors who
/// recorded the same value apart do not disagree: the outcome does not
/// depend on which of them stands, and the history keeps both.
pub fn conflicts(doc: &Automerge) -> Vec<FindingConflict> {
    fn disagree<T: PartialEq>(values: &[Recorded<T>]) -> bool {
        values
            .first()
            .is_some_and(|first| values.iter().any(|v| v.value != first.value))
    }
    let mut found = Vec::new();
    for &part in Part::ALL {
        let values = recorded::<Finding>(doc, Question::Part(part));
        if disagree(&values) {
            found.push(FindingConflict::Part { part, values });
        }
    }
    let values = recorded::<ImpairmentAnswer>(doc, Question::Impairment);
    if disagree(&values) {
        found.push(FindingConflict::Impairment { values });
    }
    found
}

/// The findings the outcome follows from, apart from the document, so the
/// app can show the outcome as the assessor goes and the rules can be
/// tested on every combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Findings {
    pub understand: Option<Finding>,
    pub retain: Option<Finding>,
    pub use_or_weigh: Option<Finding>,
    pub communicate: Option<Finding>,
    pub impairment: Option<ImpairmentAnswer>,
}

impl Findings {
    pub fn of(doc: &CapacityDoc) -> Self {
        let part = |p| doc.test.part(p).finding.as_ref().map(|r| r.value);
        Findings {
            understand: part(Part::Understand),
            retain: part(Part::Retain),
            use_or_weigh: part(Part::UseOrWeigh),
            communicate: part(Part::Communicate),
            impairment: doc.impairment.finding.as_ref().map(|r| r.value),
        }
    }

    pub fn part(&self, part: Part) -> Option<Finding> {
        match part {
            Part::Understand => self.understand,
            Part::Retain => self.retain,
            Part::UseOrWeigh => self.use_or_weigh,
            Part::Communicate => self.communicate,
        }
    }

    /// The parts found not met, in the order of the test.
    pub fn not_met(&self) -> Vec<Part> {
        Part::ALL
            .iter()
            .copied()
            .filter(|p| self.part(*p) == Some(Finding::NotMet))
            .collect()
    }
}

/// Whether a completed assessment still says what was completed: no
/// findings recorded apart that differ, the outcome still the one its
/// findings give, and nothing changed beside the completion (a change made
/// offline at the time, or sent by a hand-made peer built on the heads
/// before it, is kept by the rules). Where not, the record shows it as
/// needing review, never as complete.
pub fn completion_stands(doc: &Automerge, a: &CapacityDoc) -> bool {
    a.status == Status::Complete
        && conflicts(doc).is_empty()
        && a.outcome
            .is_some_and(|o| outcome(&Findings::of(a)) == Computed::Decided(o))
        && since_completion(doc).is_ok_and(|changed| changed.is_empty())
}

/// What the findings say so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Computed {
    /// What the assessor has still to record, next step first.
    Incomplete(String),
    Decided(Outcome),
}

/// "a, b and c" or "a, or b" as `last` says.
fn list(items: &[&str], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., final_] => format!("{}{last}{final_}", rest.join(", ")),
    }
}

fn inabilities(parts: &[Part]) -> String {
    let phrases: Vec<&str> = parts.iter().map(|p| p.inability()).collect();
    list(&phrases, ", or ")
}

/// The outcome the findings lead to. Every part of the functional test is
/// asked first; where all are met the person has capacity and the
/// impairment question does not arise. Where some part is not met, the
/// person lacks capacity only if that is because of an impairment of the
/// mind or brain (s.2(1)): otherwise the Act does not apply and the
/// presumption of capacity stands.
pub fn outcome(findings: &Findings) -> Computed {
    let missing: Vec<&str> = Part::ALL
        .iter()
        .filter(|p| findings.part(**p).is_none())
        .map(|p| p.name())
        .collect();
    if !missing.is_empty() {
        return Computed::Incomplete(format!(
            "the functional test is not finished: record a finding for {}",
            list(&missing, " and ")
        ));
    }
    let not_met = findings.not_met();
    if not_met.is_empty() {
        return Computed::Decided(Outcome::HasCapacity);
    }
    match findings.impairment {
        None => Computed::Incomplete(format!(
            "the person cannot {}: answer whether that is because of {IMPAIRMENT}",
            inabilities(&not_met)
        )),
        Some(ImpairmentAnswer::Yes) => Computed::Decided(Outcome::LacksCapacity),
        Some(ImpairmentAnswer::No) => Computed::Decided(Outcome::HasCapacity),
    }
}

/// Whether an assessor may complete with `claimed`: only when the findings
/// are complete and lead to it. The refusal names the finding that
/// contradicts, so the assessor knows what to look at again.
pub fn may_complete(claimed: Outcome, findings: &Findings) -> Result<(), Refusal> {
    let found = match outcome(findings) {
        Computed::Incomplete(why) => return Err(Refusal::new("findings_incomplete", why)),
        Computed::Decided(found) => found,
    };
    if found == claimed {
        return Ok(());
    }
    // Decided otherwise: lacking capacity needs a part not met because of
    // an impairment; having it, that no part is or none is for that reason.
    let not_met = findings.not_met();
    let why = if not_met.is_empty() {
        format!(
            "every part of the functional test is met ({}): the person cannot be found to lack capacity",
            Part::ALL
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if claimed == Outcome::LacksCapacity {
        format!(
            "the person cannot {}, but not because of {IMPAIRMENT}: they cannot be found to lack capacity for this decision (s.2(1))",
            inabilities(&not_met)
        )
    } else {
        format!(
            "the person cannot {} because of {IMPAIRMENT}: they lack capacity for this decision",
            inabilities(&not_met)
        )
    };
    Err(Refusal::new("outcome_contradicts_findings", why))
}

/// Everything a completion needs, in the order the app guides the
/// assessor: what and when, what they were told, findings that agree and
/// lead to the outcome, and who decides for a person who lacks capacity.
fn ready_to_complete(
    doc: &CapacityDoc,
    conflicts: &[FindingConflict],
    claimed: Outcome,
) -> Result<(), Refusal> {
    let missing = |why: &str| Err(Refusal::new("details_missing", why));
    if doc.decision.as_str().trim().is_empty() {
        return missing("say which decision the person was assessed for");
    }
    if doc.assessed_at.is_empty() {
        return missing("say when the person was assessed");
    }
    if doc.relevant_information.as_str().trim().is_empty() {
        return missing("record the information the person was given to decide with");
    }
    if let Some(conflict) = conflicts.first() {
        return Err(Refusal::new("findings_in_conflict", conflict.to_string()));
    }
    may_complete(claimed, &Findings::of(doc))?;
    if claimed == Outcome::LacksCapacity && doc.best_interests.as_str().trim().is_empty() {
        return Err(Refusal::new(
            "best_interests_missing",
            "the person lacks capacity for this decision: say who will decide in their best interests and what happens next",
        ));
    }
    Ok(())
}

impl Evidence {
    /// A link to characters `from..to` of the person's own words in the
    /// visit `visit_id` (whose document is `visit`).
    pub fn own_words(
        visit: &Automerge,
        visit_id: &str,
        from: usize,
        to: usize,
        added_by: &str,
        added_at: &str,
    ) -> Result<Self, crate::Error> {
        let bad = |why: &str| {
            crate::Error::from(ValidationError::BadAnchor {
                id: format!("evidence in {visit_id}: {why}"),
            })
        };
        let text = doc::text_at(visit, TextField::OwnWords.path())?
            .ok_or_else(|| bad("the visit has no own words"))?;
        let chars: Vec<char> = visit.text(&text)?.chars().collect();
        if from >= to || to > chars.len() {
            return Err(bad("select at least one character of the person's words"));
        }
        // The start moves forward and the end back when their characters
        // are deleted, so the passage shrinks to what is left of it.
        let start = visit.get_cursor_moving(&text, from, None, automerge::MoveCursor::After)?;
        let end = visit.get_cursor_moving(&text, to - 1, None, automerge::MoveCursor::Before)?;
        Ok(Evidence {
            kind: EvidenceKind::OwnWords,
            visit_id: visit_id.to_owned(),
            observation: String::new(),
            start: start.to_string(),
            end: end.to_string(),
            quote: Text::with_value(chars[from..to].iter().collect::<String>()),
            note: Text::default(),
            added_by: added_by.to_owned(),
            added_at: added_at.to_owned(),
        })
    }

    /// A link to the creative-method observation `observation` of the visit
    /// `visit_id`; the quote keeps what the person expressed, as it was.
    pub fn creative(
        visit: &Automerge,
        visit_id: &str,
        observation: &str,
        added_by: &str,
        added_at: &str,
    ) -> Result<Self, crate::Error> {
        let read = super::visit::read_visit(visit)?;
        let Some(found) = read.creative.get(observation) else {
            return Err(ValidationError::BadAnchor {
                id: format!("evidence in {visit_id}: no creative-method observation {observation}"),
            }
            .into());
        };
        Ok(Evidence {
            kind: EvidenceKind::Creative,
            visit_id: visit_id.to_owned(),
            observation: observation.to_owned(),
            start: String::new(),
            end: String::new(),
            quote: Text::with_value(found.expressed.as_str()),
            note: Text::default(),
            added_by: added_by.to_owned(),
            added_at: added_at.to_owned(),
        })
    }
}

/// Where a passage of own words is now in its visit. A creative-method
/// observation is not a passage: it reads as `Deleted`, and the app shows
/// its quote and the observation itself.
pub fn locate(visit_doc: &Automerge, e: &Evidence) -> Anchored {
    if e.kind != EvidenceKind::OwnWords {
        return Anchored::Deleted;
    }
    let Ok(Some(text)) = doc::text_at(visit_doc, TextField::OwnWords.path()) else {
        return Anchored::Deleted;
    };
    let position = |cursor: &str| {
        let cursor = automerge::Cursor::try_from(cursor).ok()?;
        visit_doc.get_cursor_position(&text, &cursor, None).ok()
    };
    match (position(&e.start), position(&e.end)) {
        (Some(from), Some(last)) if last >= from => Anchored::At { from, to: last + 1 },
        _ => Anchored::Deleted,
    }
}

/// One piece of text an assessor edits, named rather than addressed by raw
/// path, so a UI bug cannot write text into the wrong part of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapacityText {
    Decision,
    RelevantInformation,
    Steps,
    /// The evidence for a part of the functional test.
    PartEvidence(Part),
    /// The evidence for the answer to the impairment question.
    ImpairmentEvidence,
    BestInterests,
}

impl CapacityText {
    pub const ALL: [CapacityText; 9] = [
        CapacityText::Decision,
        CapacityText::RelevantInformation,
        CapacityText::Steps,
        CapacityText::PartEvidence(Part::Understand),
        CapacityText::PartEvidence(Part::Retain),
        CapacityText::PartEvidence(Part::UseOrWeigh),
        CapacityText::PartEvidence(Part::Communicate),
        CapacityText::ImpairmentEvidence,
        CapacityText::BestInterests,
    ];

    /// Where the text object lives in an assessment.
    pub fn path(self) -> Vec<&'static str> {
        match self {
            CapacityText::Decision => vec!["decision"],
            CapacityText::RelevantInformation => vec!["relevant_information"],
            CapacityText::Steps => vec!["steps"],
            CapacityText::PartEvidence(p) => {
                let mut path = Question::Part(p).path().to_vec();
                path.push("evidence");
                path
            }
            CapacityText::ImpairmentEvidence => vec!["impairment", "evidence"],
            CapacityText::BestInterests => vec!["best_interests"],
        }
    }

    /// A stable key within its assessment (the app's draft journal names
    /// pending text by it), read back by [`CapacityText::from_key`].
    pub fn key(self) -> String {
        match self {
            CapacityText::Decision => "decision".into(),
            CapacityText::RelevantInformation => "relevant_information".into(),
            CapacityText::Steps => "steps".into(),
            CapacityText::PartEvidence(p) => format!("part:{}", p.as_str()),
            CapacityText::ImpairmentEvidence => "impairment".into(),
            CapacityText::BestInterests => "best_interests".into(),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key.split_once(':') {
            Some(("part", part)) => Part::parse(part).map(CapacityText::PartEvidence),
            Some(_) => None,
            None => CapacityText::ALL
                .into_iter()
                .find(|t| !matches!(t, CapacityText::PartEvidence(_)) && t.key() == key),
        }
    }

    /// The current value in `doc`.
    pub fn read(self, doc: &CapacityDoc) -> &str {
        doc.text(self)
    }

    /// A name for error messages and validation.
    pub fn name(self) -> &'static str {
        match self {
            CapacityText::Decision => "decision",
            CapacityText::RelevantInformation => "relevant information",
            CapacityText::Steps => "practicable steps",
            CapacityText::PartEvidence(Part::Understand) => "evidence for understand",
            CapacityText::PartEvidence(Part::Retain) => "evidence for retain",
            CapacityText::PartEvidence(Part::UseOrWeigh) => "evidence for use or weigh",
            CapacityText::PartEvidence(Part::Communicate) => "evidence for communicate",
            CapacityText::ImpairmentEvidence => "evidence of impairment",
            CapacityText::BestInterests => "best interests",
        }
    }
}

/// The typed edits of an assessment. The app changes one only through
/// these, never by raw path; the rules below say who may make each.
#[derive(Debug, Clone, PartialEq)]
pub enum CapacityEdit {
    SetText {
        text: CapacityText,
        value: String,
    },
    /// RFC 3339.
    SetAssessedAt(String),
    SetMethods(Vec<CreativeMethod>),
    /// Made by [`Evidence::own_words`] or [`Evidence::creative`], which
    /// read the visit; this edit only needs the assessment.
    AddEvidence {
        id: String,
        evidence: Box<Evidence>,
    },
    SetEvidenceNote {
        id: String,
        value: String,
    },
    /// Recorded again, it settles a conflict: the new value has every
    /// earlier one in its history.
    RecordFinding {
        part: Part,
        finding: Finding,
        by: String,
        at: String,
    },
    RecordImpairment {
        answer: ImpairmentAnswer,
        by: String,
        at: String,
    },
    Complete {
        id: String,
        outcome: Outcome,
        by: String,
        at: String,
    },
    Reopen {
        id: String,
        by: String,
        at: String,
        reason: String,
    },
}

impl CapacityEdit {
    /// Whether `writer` may make this edit to `doc` as it stands: the app's
    /// check before it writes, from the same rules as [`check`].
    /// `conflicts` are those of the document `doc` was read from.
    pub fn permitted(
        &self,
        doc: &CapacityDoc,
        conflicts: &[FindingConflict],
        writer: &Writer<'_>,
    ) -> Result<(), Refusal> {
        may_write(writer)?;
        match self {
            CapacityEdit::SetText { .. }
            | CapacityEdit::SetAssessedAt(_)
            | CapacityEdit::SetMethods(_) => not_complete(doc),
            CapacityEdit::AddEvidence { id, evidence } => {
                signed_as(writer, &evidence.added_by)?;
                not_complete(doc)?;
                if doc.evidence.contains_key(id) {
                    return Err(Refusal::new(
                        "evidence_exists",
                        format!("evidence {id} is already linked"),
                    ));
                }
                Ok(())
            }
            CapacityEdit::SetEvidenceNote { id, .. } => {
                not_complete(doc)?;
                if doc.evidence.contains_key(id) {
                    Ok(())
                } else {
                    Err(Refusal::new(
                        "unknown_evidence",
                        format!("no evidence {id}"),
                    ))
                }
            }
            CapacityEdit::RecordFinding { by, .. } => {
                signed_as(writer, by)?;
                not_complete(doc)
            }
            CapacityEdit::RecordImpairment { by, .. } => {
                signed_as(writer, by)?;
                not_complete(doc)?;
                if Findings::of(doc).not_met().is_empty() {
                    return Err(Refusal::new(
                        "impairment_not_asked",
                        "the impairment question is asked only where a part of the functional test is not met",
                    ));
                }
                Ok(())
            }
            CapacityEdit::Complete { outcome, by, .. } => {
                signed_as(writer, by)?;
                if doc.status == Status::Complete {
                    return Err(Refusal::new(
                        "status_transition",
                        "this assessment is already complete",
                    ));
                }
                ready_to_complete(doc, conflicts, *outcome)
            }
            CapacityEdit::Reopen { by, reason, .. } => {
                signed_as(writer, by)?;
                if doc.status != Status::Complete {
                    return Err(Refusal::new(
                        "status_transition",
                        "only a complete assessment is reopened",
                    ));
                }
                reason_given(reason)
            }
        }
    }

    /// Makes the edit in `doc` in one change (the caller has set the
    /// device's actor).
    pub fn apply(&self, doc: &mut Automerge) -> Result<(), crate::Error> {
        use crate::validate::{text, timestamp};
        match self {
            CapacityEdit::SetText { text: t, value } => {
                text(t.name(), value)?;
                doc::update_text(doc, &t.path(), value)
            }
            CapacityEdit::SetAssessedAt(at) => {
                timestamp("assessed_at", at)?;
                doc::put_at(doc, &[], "assessed_at", at)
            }
            CapacityEdit::SetMethods(methods) => doc::put_at(doc, &[], "methods", methods),
            CapacityEdit::AddEvidence { id, evidence } => {
                if let Some(e) = evidence_problems(id, evidence).into_iter().next() {
                    return Err(e.into());
                }
                // Fresh texts: a hydrated one belongs to the document it
                // was read from.
                let evidence = Evidence {
                    quote: Text::with_value(evidence.quote.as_str()),
                    note: Text::with_value(evidence.note.as_str()),
                    ..(**evidence).clone()
                };
                doc::put_in_map(doc, &[], "evidence", id, &evidence)
            }
            CapacityEdit::SetEvidenceNote { id, value } => {
                text("evidence note", value)?;
                doc::update_text(doc, &["evidence", id.as_str(), "note"], value)
            }
            CapacityEdit::RecordFinding {
                part,
                finding,
                by,
                at,
            } => record(doc, Question::Part(*part), finding.as_str(), by, at),
            CapacityEdit::RecordImpairment { answer, by, at } => {
                record(doc, Question::Impairment, answer.as_str(), by, at)
            }
            CapacityEdit::Complete {
                id,
                outcome,
                by,
                at,
            } => {
                timestamp("at", at)?;
                let entry = StatusChange {
                    status: Status::Complete,
                    outcome: Some(*outcome),
                    by: by.clone(),
                    at: at.clone(),
                    reason: Text::default(),
                };
                change_status(doc, id, &entry, by, at)
            }
            CapacityEdit::Reopen { id, by, at, reason } => {
                timestamp("at", at)?;
                text("reason", reason)?;
                let entry = StatusChange {
                    status: Status::InProgress,
                    outcome: None,
                    by: by.clone(),
                    at: at.clone(),
                    reason: Text::with_value(reason),
                };
                change_status(doc, id, &entry, "", "")
            }
        }
    }
}

/// Writes a finding as a fresh map object at `finding`, in one change: two
/// written apart become a conflict that [`conflicts`] sees, each with its
/// own `by` and `at`, never a mix of the two.
fn record(
    doc: &mut Automerge,
    question: Question,
    value: &str,
    by: &str,
    at: &str,
) -> Result<(), crate::Error> {
    use automerge::transaction::Transactable;
    crate::validate::timestamp("at", at)?;
    let path = question.path();
    doc::transact::<_, automerge::AutomergeError>(doc, |tx| {
        let Some(holder) = doc::map_at(tx, path)? else {
            return Err(automerge::AutomergeError::InvalidObjId(format!(
                "no map at {}",
                path.join(".")
            )));
        };
        let finding = tx.put_object(&holder, "finding", ObjType::Map)?;
        tx.put(&finding, "value", value)?;
        tx.put(&finding, "by", by)?;
        tx.put(&finding, "at", at)?;
        Ok(())
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}

/// A completion or reopening and the state it moves to, in one change:
/// never seen apart. Only what changes is written, so texts others are
/// editing are left alone.
fn change_status(
    doc: &mut Automerge,
    id: &str,
    entry: &StatusChange,
    completed_by: &str,
    completed_at: &str,
) -> Result<(), crate::Error> {
    use automerge::transaction::Transactable;
    doc::transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
        let history = match tx.get(automerge::ROOT, "history")? {
            Some((Value::Object(ObjType::Map), history)) => history,
            _ => tx.put_object(automerge::ROOT, "history", ObjType::Map)?,
        };
        autosurgeon::reconcile_prop(tx, &history, id, entry)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "status", entry.status)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "outcome", entry.outcome)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "completed_by", completed_by)?;
        autosurgeon::reconcile_prop(tx, automerge::ROOT, "completed_at", completed_at)
    })
    .map_err(|f| crate::Error::from(f.error))?;
    Ok(())
}

// The rules, as predicates both the app (through `CapacityEdit::permitted`)
// and the server (through `check`) use.

/// An assessment is the assessor's own professional judgement: workers on
/// the case make it; a supervisor discusses it in supervision instead.
fn may_write(writer: &Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Worker {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_a_worker",
            "only a worker on the case writes a capacity assessment",
        ))
    }
}

fn signed_as(writer: &Writer<'_>, named: &str) -> Result<(), Refusal> {
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

const COMPLETED: &str = "this assessment is complete: reopen it, with a reason, to change it";

fn not_complete(doc: &CapacityDoc) -> Result<(), Refusal> {
    if doc.status == Status::Complete {
        Err(Refusal::new("completed", COMPLETED))
    } else {
        Ok(())
    }
}

fn reason_given(reason: &str) -> Result<(), Refusal> {
    if reason.trim().is_empty() {
        Err(Refusal::new(
            "reason_required",
            "say why the assessment is reopened",
        ))
    } else {
        Ok(())
    }
}

/// Everything the assessment records: what a completion closes.
fn content(d: &CapacityDoc) -> impl PartialEq + '_ {
    (
        (&d.decision, &d.assessed_at, &d.relevant_information),
        (&d.steps, &d.methods, &d.evidence),
        (&d.test, &d.impairment, &d.best_interests),
    )
}

/// What stays as the evidence was linked: where it points and who linked
/// it when (its note may be edited).
fn evidence_fixed(e: &Evidence) -> impl PartialEq + '_ {
    (
        e.kind,
        (&e.visit_id, &e.observation, &e.start, &e.end),
        (&e.quote, &e.added_by, &e.added_at),
    )
}

fn evidence_problems(id: &str, e: &Evidence) -> Vec<ValidationError> {
    use crate::validate::{text, timestamp};
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(crate::validate::id("evidence.visit_id", &e.visit_id));
    check(timestamp("evidence.added_at", &e.added_at));
    check(text("evidence.quote", e.quote.as_str()));
    check(text("evidence.note", e.note.as_str()));
    let points = match e.kind {
        EvidenceKind::OwnWords => {
            !e.start.is_empty() && !e.end.is_empty() && e.observation.is_empty()
        }
        EvidenceKind::Creative => {
            crate::validate::id("evidence.observation", &e.observation).is_ok()
                && e.start.is_empty()
                && e.end.is_empty()
        }
    };
    if !points {
        check(Err(ValidationError::BadAnchor {
            id: format!("evidence {id}"),
        }));
    }
    errors
}

/// Every problem with an assessment, not just the first.
fn problems(d: &CapacityDoc) -> Vec<ValidationError> {
    use crate::validate::{id, text, timestamp};
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(id("case_id", &d.case_id));
    check(id("visit_id", &d.visit_id));
    check(id("author", &d.author));
    check(timestamp("created_at", &d.created_at));
    if !d.assessed_at.is_empty() {
        check(timestamp("assessed_at", &d.assessed_at));
    }
    for t in CapacityText::ALL {
        check(text(t.name(), d.text(t)));
    }
    for question in Question::ALL {
        if let Some((_, at)) = d.signature(question) {
            check(timestamp("finding.at", at));
        }
    }
    for change in d.history.values() {
        check(timestamp("history.at", &change.at));
        check(text("history.reason", change.reason.as_str()));
    }
    if d.status == Status::Complete {
        check(timestamp("completed_at", &d.completed_at));
    }
    errors.extend(
        d.evidence
            .iter()
            .flat_map(|(key, e)| evidence_problems(key, e)),
    );
    errors
}

fn unreadable(e: impl fmt::Display) -> Refusal {
    Refusal::new(
        "wrong_shape",
        format!("the record does not have the shape of its kind: {e}"),
    )
}

/// The assessment as it was at `heads`.
fn state_at(doc: &Automerge, heads: &[ChangeHash]) -> Result<(Automerge, CapacityDoc), Refusal> {
    let at = doc.fork_at(heads).map_err(unreadable)?;
    let read = autosurgeon::hydrate(&at).map_err(unreadable)?;
    Ok((at, read))
}

/// Which change made each operation: automerge names objects and values by
/// the operation that made them, and the rules ask who wrote what.
struct Writes(Vec<(ActorId, RangeInclusive<u64>, ChangeHash, u64)>);

impl Writes {
    fn of<'a>(changes: impl IntoIterator<Item = automerge::ChangeMetadata<'a>>) -> Self {
        Writes(
            changes
                .into_iter()
                .map(|c| (c.actor.into_owned(), c.start_op..=c.max_op, c.hash, c.seq))
                .collect(),
        )
    }

    /// The batch's own changes.
    fn in_batch(doc: &Automerge, new: &HashSet<ChangeHash>) -> Self {
        Writes::of(new.iter().filter_map(|h| doc.get_change_meta_by_hash(h)))
    }

    /// The change (and its sequence number) that made `id`, if it is one
    /// of these.
    fn change(&self, id: &ObjId) -> Option<(ChangeHash, u64)> {
        let ObjId::Id(counter, actor, _) = id else {
            return None;
        };
        self.0
            .iter()
            .find(|(a, ops, _, _)| a == actor && ops.contains(counter))
            .map(|(_, _, hash, seq)| (*hash, *seq))
    }

    fn made(&self, id: &ObjId) -> bool {
        self.change(id).is_some()
    }
}

/// The object of history entry `id`.
fn entry_object(doc: &Automerge, id: &str) -> Option<ObjId> {
    let history = doc::map_at(doc, &["history"]).ok().flatten()?;
    match doc.get(&history, id) {
        Ok(Some((Value::Object(ObjType::Map), entry))) => Some(entry),
        _ => None,
    }
}

/// The rules of an assessment, for a batch of changes by one writer.
pub fn check(
    before: &Option<CapacityDoc>,
    after: &CapacityDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    let writer = &cx.writer;
    may_write(writer)?;
    let batch = Writes::in_batch(after_doc, new);
    let Some(before) = before else {
        creation(after, after_doc, &batch, cx)?;
        return Ok(Accepted::default());
    };
    if (
        &after.case_id,
        &after.visit_id,
        &after.author,
        &after.created_at,
    ) != (
        &before.case_id,
        &before.visit_id,
        &before.author,
        &before.created_at,
    ) {
        return Err(Refusal::new(
            "fixed_field",
            "an assessment's case, visit, author and creation time are set when it is made",
        ));
    }
    check_evidence(before, after, writer)?;
    check_findings(Some(before), after, after_doc, &batch, writer)?;
    let completed = check_status(before, after, after_doc, new, &batch, writer)?;
    after_completion_leaves_content(after, after_doc, new)?;
    bounded(after)?;
    valid(problems(after))?;
    Ok(Accepted {
        completed,
        ..Accepted::default()
    })
}

/// The most evidence links and status changes an assessment holds:
/// generous for any real assessment, and a hand-made peer cannot grow one
/// without end (every phone on the case syncs it, every case record reads
/// it).
const MAX_EVIDENCE: usize = 200;
const MAX_HISTORY: usize = 100;
const MAX_METHODS: usize = 24;

fn bounded(a: &CapacityDoc) -> Result<(), Refusal> {
    if a.evidence.len() > MAX_EVIDENCE || a.history.len() > MAX_HISTORY {
        return Err(Refusal::new(
            "too_large",
            format!(
                "an assessment holds at most {MAX_EVIDENCE} pieces of evidence and {MAX_HISTORY} completions and reopenings"
            ),
        ));
    }
    // Counted, not deduplicated: two assessors naming the same method
    // offline may leave it twice in the merged list, and their next edit
    // must not be refused for it.
    if a.methods.len() > MAX_METHODS {
        return Err(Refusal::new(
            "too_large",
            format!("an assessment names at most {MAX_METHODS} creative methods"),
        ));
    }
    Ok(())
}

fn creation(
    after: &CapacityDoc,
    after_doc: &Automerge,
    batch: &Writes,
    cx: &Context<'_>,
) -> Result<(), Refusal> {
    signed_as(&cx.writer, &after.author)?;
    if after.case_id != cx.case_id {
        return Err(Refusal::new(
            "wrong_case",
            "an assessment names the case it was registered to",
        ));
    }
    if after.status != Status::InProgress
        || after.outcome.is_some()
        || !after.completed_by.is_empty()
        || !after.completed_at.is_empty()
        || !after.history.is_empty()
    {
        return Err(Refusal::new(
            "not_in_progress",
            "a new assessment starts in progress, with nothing completed",
        ));
    }
    for e in after.evidence.values() {
        signed_as(&cx.writer, &e.added_by)?;
    }
    check_findings(None, after, after_doc, batch, &cx.writer)?;
    valid(problems(after))
}

fn check_evidence(
    before: &CapacityDoc,
    after: &CapacityDoc,
    writer: &Writer<'_>,
) -> Result<(), Refusal> {
    for (id, was) in &before.evidence {
        let Some(now) = after.evidence.get(id) else {
            return Err(Refusal::new(
                "removed",
                format!("evidence {id} cannot be removed"),
            ));
        };
        if evidence_fixed(now) != evidence_fixed(was) {
            return Err(Refusal::new(
                "evidence_changed",
                format!("evidence {id} points where it pointed when it was linked"),
            ));
        }
    }
    for new in after
        .evidence
        .iter()
        .filter(|(id, _)| !before.evidence.contains_key(*id))
        .map(|(_, e)| e)
    {
        signed_as(writer, &new.added_by)?;
    }
    Ok(())
}

/// A finding the batch writes is signed by its writer; one recorded before
/// stands as recorded. Judged by object, not by value: a finding merged in
/// from another assessor was written by them, in an earlier batch.
fn check_findings(
    before: Option<&CapacityDoc>,
    after: &CapacityDoc,
    after_doc: &Automerge,
    batch: &Writes,
    writer: &Writer<'_>,
) -> Result<(), Refusal> {
    for question in Question::ALL {
        if before.is_some_and(|b| b.signature(question).is_some())
            && after.signature(question).is_none()
        {
            return Err(Refusal::new(
                "removed",
                format!(
                    "the finding for {} cannot be removed; record it again instead",
                    question.name()
                ),
            ));
        }
        let Ok(Some(holder)) = doc::map_at(after_doc, question.path()) else {
            continue;
        };
        for (value, id) in after_doc.get_all(&holder, "finding").map_err(unreadable)? {
            let is_map = matches!(value, Value::Object(ObjType::Map));
            if !batch.made(&id) {
                if is_map && touched(after_doc, &id, batch)? {
                    return Err(Refusal::new(
                        "finding_changed",
                        format!(
                            "a finding for {} stands as it was recorded; record it again instead",
                            question.name()
                        ),
                    ));
                }
                continue;
            }
            if !is_map {
                // Null is "no finding": what a new assessment starts with;
                // written over a finding it is a removal, refused above.
                if matches!(&value, Value::Scalar(s) if s.is_null()) {
                    continue;
                }
                return Err(Refusal::new(
                    "invalid_value",
                    format!(
                        "a finding for {} is recorded whole, with who recorded it and when",
                        question.name()
                    ),
                ));
            }
            let (by, at) = match question {
                Question::Part(_) => {
                    Recorded::<Finding>::hydrate_map(after_doc, &id).map(|r| (r.by, r.at))
                }
                Question::Impairment => {
                    Recorded::<ImpairmentAnswer>::hydrate_map(after_doc, &id).map(|r| (r.by, r.at))
                }
            }
            .map_err(unreadable)?;
            signed_as(writer, &by)?;
            crate::validate::timestamp("finding.at", &at)
                .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
            if question == Question::Impairment && !impairment_asked(after, after_doc) {
                return Err(Refusal::new(
                    "impairment_not_asked",
                    "the impairment question is asked only where a part of the functional test is not met",
                ));
            }
        }
    }
    Ok(())
}

/// Whether some part is not met, in the winning findings or in findings
/// recorded apart that differ (an assessor who found a part not met and
/// answered the impairment question offline is not refused because a
/// colleague's "met" won the merge).
fn impairment_asked(after: &CapacityDoc, after_doc: &Automerge) -> bool {
    !Findings::of(after).not_met().is_empty()
        || conflicts(after_doc).iter().any(|c| {
            matches!(c, FindingConflict::Part { values, .. }
                if values.iter().any(|v| v.value == Finding::NotMet))
        })
}

/// Whether the batch wrote any field of the object `obj`.
fn touched(doc: &Automerge, obj: &ObjId, batch: &Writes) -> Result<bool, Refusal> {
    for key in doc.keys(obj) {
        if doc
            .get_all(obj, key.as_str())
            .map_err(unreadable)?
            .iter()
            .any(|(_, op)| batch.made(op))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The keys a completion or reopening sets; nothing else may.
const STATUS_KEYS: [&str; 4] = ["status", "outcome", "completed_by", "completed_at"];

fn status_fields(d: &CapacityDoc) -> impl PartialEq + '_ {
    (d.status, d.outcome, &d.completed_by, &d.completed_at)
}

/// History entries stand as made; each completion or reopening the batch
/// adds is signed by its writer, moves the assessment on from the state
/// that writer saw, and is made together with the state it moves to. A
/// completion must be one the app would permit, judged both as its writer
/// saw the assessment and as it now is (a conflict that arrived beside it
/// included). Returns the outcome when the batch leaves it complete.
fn check_status(
    before: &CapacityDoc,
    after: &CapacityDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
    batch: &Writes,
    writer: &Writer<'_>,
) -> Result<Option<Outcome>, Refusal> {
    for (id, was) in &before.history {
        if after.history.get(id) != Some(was) {
            return Err(Refusal::new(
                "history_changed",
                format!("completion or reopening {id} cannot be changed or removed"),
            ));
        }
    }
    let unrecorded = || {
        Refusal::new(
            "status_unrecorded",
            "an assessment is completed or reopened only as recorded in its history, as made",
        )
    };
    let mut added = Vec::new();
    for (id, entry) in after
        .history
        .iter()
        .filter(|(id, _)| !before.history.contains_key(*id))
    {
        let made = entry_object(after_doc, id).and_then(|obj| batch.change(&obj));
        let Some((hash, seq)) = made else {
            return Err(unrecorded());
        };
        added.push((seq, hash, entry));
    }
    if added.is_empty() {
        return if status_fields(before) == status_fields(after) {
            Ok(None)
        } else {
            Err(unrecorded())
        };
    }
    // One writer's changes follow one another: their sequence numbers are
    // the order the entries were made in.
    added.sort_by_key(|(seq, _, _)| *seq);
    let mut state = before.status;
    let mut entry_changes = HashSet::new();
    for (_, hash, entry) in &added {
        signed_as(writer, &entry.by)?;
        crate::validate::timestamp("history.at", &entry.at)
            .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
        let deps = after_doc
            .get_change_meta_by_hash(hash)
            .map(|c| c.deps)
            .unwrap_or_default();
        let (_, seen) = state_at(after_doc, &deps)?;
        if entry.status == state || entry.status == seen.status {
            return Err(Refusal::new(
                "status_transition",
                match entry.status {
                    Status::Complete => "this assessment is already complete",
                    Status::InProgress => "only a complete assessment is reopened",
                },
            ));
        }
        let (then_doc, then) = state_at(after_doc, &[*hash])?;
        match (entry.status, entry.outcome) {
            (Status::Complete, Some(outcome)) => {
                if (
                    then.status,
                    then.outcome,
                    &then.completed_by,
                    &then.completed_at,
                ) != (Status::Complete, Some(outcome), &entry.by, &entry.at)
                {
                    return Err(unrecorded());
                }
                ready_to_complete(&then, &conflicts(&then_doc), outcome)?;
            }
            (Status::InProgress, None) => {
                reason_given(entry.reason.as_str())?;
                let cleared = then.completed_by.is_empty() && then.completed_at.is_empty();
                if (then.status, then.outcome, cleared) != (Status::InProgress, None, true) {
                    return Err(unrecorded());
                }
            }
            _ => return Err(unrecorded()),
        }
        state = entry.status;
        entry_changes.insert(*hash);
    }
    // What the batch leaves is what its last entry recorded, written by
    // an entry's own change.
    for key in STATUS_KEYS {
        let wrote = doc::change_that_wrote(after_doc, &[], key).map_err(unreadable)?;
        if wrote.is_some_and(|h| new.contains(&h) && !entry_changes.contains(&h)) {
            return Err(unrecorded());
        }
    }
    let Some((_, _, last)) = added.last() else {
        return Ok(None);
    };
    if after.status != last.status {
        return Err(unrecorded());
    }
    match (after.status, last.outcome) {
        (Status::Complete, Some(outcome)) => {
            if (after.outcome, &after.completed_by, &after.completed_at)
                != (Some(outcome), &last.by, &last.at)
            {
                return Err(unrecorded());
            }
            ready_to_complete(after, &conflicts(after_doc), outcome)?;
            Ok(Some(outcome))
        }
        _ => Ok(None),
    }
}

/// A change made knowing the assessment complete may not alter what it
/// records: reopen first. Each change is judged against the state it was
/// made on, so a change made beside a completion (an assessor offline at
/// the time) is kept, and shown by [`since_completion`].
fn after_completion_leaves_content(
    after: &CapacityDoc,
    after_doc: &Automerge,
    new: &HashSet<ChangeHash>,
) -> Result<(), Refusal> {
    if !after.history.values().any(|e| e.status == Status::Complete) {
        return Ok(());
    }
    let all = Writes::of(after_doc.get_changes_meta(&[]));
    let made_by = |status: Status| -> Vec<ChangeHash> {
        after
            .history
            .iter()
            .filter(|(_, e)| e.status == status)
            .filter_map(|(id, _)| entry_object(after_doc, id).and_then(|obj| all.change(&obj)))
            .map(|(hash, _)| hash)
            .collect()
    };
    let reopenings = made_by(Status::InProgress);
    // Candidates: the batch's changes after a completion and not after a
    // reopening of it. Only they need the state they were made on, so a
    // worker typing in a reopened assessment costs nothing here.
    let mut later = HashSet::new();
    for completion in made_by(Status::Complete) {
        let mut after_it = doc::descendants_of(after_doc, completion);
        for reopening in &reopenings {
            if after_it.contains(reopening) {
                for reopened in doc::descendants_of(after_doc, *reopening) {
                    after_it.remove(&reopened);
                }
            }
        }
        later.extend(after_it.intersection(new).copied());
    }
    for change in later {
        let deps = after_doc
            .get_change_meta_by_hash(&change)
            .map(|c| c.deps)
            .unwrap_or_default();
        let (_, seen) = state_at(after_doc, &deps)?;
        if seen.status != Status::Complete {
            continue;
        }
        let (_, made) = state_at(after_doc, &[change])?;
        if content(&made) != content(&seen) {
            return Err(Refusal::new("completed", COMPLETED));
        }
    }
    Ok(())
}

/// Something the assessment records now that it did not when it was
/// completed: made beside the completion, by someone who had not seen it.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangedSinceCompletion {
    Text {
        text: CapacityText,
        at_completion: String,
        now: String,
    },
    AssessedAt {
        at_completion: String,
        now: String,
    },
    Methods {
        at_completion: Vec<CreativeMethod>,
        now: Vec<CreativeMethod>,
    },
    /// Evidence linked since (what it points at never changes).
    EvidenceLinked {
        id: String,
    },
    EvidenceNote {
        id: String,
        at_completion: String,
        now: String,
    },
    /// Every value recorded, then and now: more than one is a conflict.
    Finding {
        part: Part,
        at_completion: Vec<Recorded<Finding>>,
        now: Vec<Recorded<Finding>>,
    },
    Impairment {
        at_completion: Vec<Recorded<ImpairmentAnswer>>,
        now: Vec<Recorded<ImpairmentAnswer>>,
    },
}

/// What differs from the assessment as it was completed, in the order of
/// the assessment. Empty unless complete.
pub fn since_completion(doc: &Automerge) -> Result<Vec<ChangedSinceCompletion>, crate::Error> {
    let now = read_capacity(doc)?;
    if now.status != Status::Complete {
        return Ok(Vec::new());
    }
    let Some(completion) = doc::change_that_wrote(doc, &[], "status")? else {
        return Ok(Vec::new());
    };
    let then_doc = doc.fork_at(&[completion])?;
    let then: CapacityDoc = autosurgeon::hydrate(&then_doc)?;
    let mut changed = Vec::new();
    let text = |t: CapacityText| {
        (then.text(t) != now.text(t)).then(|| ChangedSinceCompletion::Text {
            text: t,
            at_completion: then.text(t).to_owned(),
            now: now.text(t).to_owned(),
        })
    };
    changed.extend(
        [
            CapacityText::Decision,
            CapacityText::RelevantInformation,
            CapacityText::Steps,
        ]
        .into_iter()
        .filter_map(text),
    );
    if then.assessed_at != now.assessed_at {
        changed.push(ChangedSinceCompletion::AssessedAt {
            at_completion: then.assessed_at.clone(),
            now: now.assessed_at.clone(),
        });
    }
    if then.methods != now.methods {
        changed.push(ChangedSinceCompletion::Methods {
            at_completion: then.methods.clone(),
            now: now.methods.clone(),
        });
    }
    for (id, e) in &now.evidence {
        match then.evidence.get(id) {
            None => changed.push(ChangedSinceCompletion::EvidenceLinked { id: id.clone() }),
            Some(was) if was.note != e.note => changed.push(ChangedSinceCompletion::EvidenceNote {
                id: id.clone(),
                at_completion: was.note.as_str().to_owned(),
                now: e.note.as_str().to_owned(),
            }),
            Some(_) => {}
        }
    }
    for &part in Part::ALL {
        changed.extend(text(CapacityText::PartEvidence(part)));
        let question = Question::Part(part);
        let (was, is) = (recorded(&then_doc, question), recorded(doc, question));
        if was != is {
            changed.push(ChangedSinceCompletion::Finding {
                part,
                at_completion: was,
                now: is,
            });
        }
    }
    changed.extend(text(CapacityText::ImpairmentEvidence));
    let (was, is) = (
        recorded(&then_doc, Question::Impairment),
        recorded(doc, Question::Impairment),
    );
    if was != is {
        changed.push(ChangedSinceCompletion::Impairment {
            at_completion: was,
            now: is,
        });
    }
    changed.extend(text(CapacityText::BestInterests));
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{new_document, update_text};
    use crate::provenance::device_actor;
    use crate::records::{self, Kind, PlaceKind, VisitDoc};

    // The outcome, on every combination of findings and claims.

    /// The law as a truth table, written apart from `outcome`: `None` is
    /// "not yet decided".
    fn expected(
        all_recorded: bool,
        some_not_met: bool,
        imp: Option<ImpairmentAnswer>,
    ) -> Option<Outcome> {
        use ImpairmentAnswer::{No, Yes};
        use Outcome::{HasCapacity, LacksCapacity};
        match (all_recorded, some_not_met, imp) {
            (false, _, _) => None,
            (true, false, _) => Some(HasCapacity),
            (true, true, None) => None,
            (true, true, Some(Yes)) => Some(LacksCapacity),
            (true, true, Some(No)) => Some(HasCapacity),
        }
    }

    #[test]
    fn the_outcome_on_every_combination() {
        let states = [None, Some(Finding::Met), Some(Finding::NotMet)];
        let answers = [
            None,
            Some(ImpairmentAnswer::Yes),
            Some(ImpairmentAnswer::No),
        ];
        let mut seen = 0;
        for n in 0..81 {
            let p: Vec<Option<Finding>> = (0..4).map(|i| states[n / 3usize.pow(i) % 3]).collect();
            for imp in answers {
                let findings = Findings {
                    understand: p[0],
                    retain: p[1],
                    use_or_weigh: p[2],
                    communicate: p[3],
                    impairment: imp,
                };
                let all_recorded = p.iter().all(Option::is_some);
                let some_not_met = p.contains(&Some(Finding::NotMet));
                let want = expected(all_recorded, some_not_met, imp);
                match (want, outcome(&findings)) {
                    (Some(o), Computed::Decided(got)) => assert_eq!(o, got, "{findings:?}"),
                    (None, Computed::Incomplete(why)) => assert!(!why.is_empty()),
                    (want, got) => panic!("{findings:?}: expected {want:?}, got {got:?}"),
                }
                for claimed in [Outcome::HasCapacity, Outcome::LacksCapacity] {
                    seen += 1;
                    let verdict = may_complete(claimed, &findings);
                    match want {
                        None => assert_eq!(
                            verdict.unwrap_err().code,
                            "findings_incomplete",
                            "{findings:?} {claimed}"
                        ),
                        Some(o) if o == claimed => {
                            assert_eq!(verdict, Ok(()), "{findings:?} {claimed}")
                        }
                        Some(_) => {
                            let refusal = verdict.unwrap_err();
                            assert_eq!(refusal.code, "outcome_contradicts_findings");
                            // The message names what contradicts the claim.
                            if some_not_met {
                                for part in findings.not_met() {
                                    assert!(
                                        refusal.message.contains(part.inability()),
                                        "{}",
                                        refusal.message
                                    );
                                }
                                assert!(refusal.message.contains("impairment"));
                            } else {
                                assert!(
                                    refusal
                                        .message
                                        .starts_with("every part of the functional test is met"),
                                    "{}",
                                    refusal.message
                                );
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(seen, 81 * 3 * 2);
    }

    #[test]
    fn messages_say_what_is_missing_and_what_contradicts() {
        let mut f = Findings {
            understand: Some(Finding::Met),
            ..Findings::default()
        };
        assert_eq!(
            outcome(&f),
            Computed::Incomplete(
                "the functional test is not finished: record a finding for retain, use or weigh and communicate".into()
            )
        );
        f.retain = Some(Finding::Met);
        f.use_or_weigh = Some(Finding::NotMet);
        f.communicate = Some(Finding::Met);
        assert_eq!(
            outcome(&f),
            Computed::Incomplete(format!(
                "the person cannot use or weigh the information: answer whether that is because of {IMPAIRMENT}"
            ))
        );
        f.impairment = Some(ImpairmentAnswer::Yes);
        assert_eq!(
            may_complete(Outcome::HasCapacity, &f).unwrap_err().message,
            format!(
                "the person cannot use or weigh the information because of {IMPAIRMENT}: they lack capacity for this decision"
            )
        );
        f.impairment = Some(ImpairmentAnswer::No);
        assert!(
            may_complete(Outcome::LacksCapacity, &f)
                .unwrap_err()
                .message
                .contains("but not because of")
        );
        f.use_or_weigh = Some(Finding::Met);
        assert_eq!(
            may_complete(Outcome::LacksCapacity, &f)
                .unwrap_err()
                .message,
            "every part of the functional test is met (understand, retain, use or weigh, communicate): the person cannot be found to lack capacity"
        );
    }

    #[test]
    fn text_keys_read_back() {
        for t in CapacityText::ALL {
            assert_eq!(CapacityText::from_key(&t.key()), Some(t));
        }
        assert_eq!(CapacityText::from_key("part:nonsense"), None);
        assert_eq!(CapacityText::from_key("understand"), None);
    }

    // The document and the rules, through `records::check`: one device
    // (and so one actor) per person.

    const W1: (&str, Role) = ("w-1", Role::Worker);
    const W2: (&str, Role) = ("w-2", Role::Worker);
    const SUPERVISOR: (&str, Role) = ("sup-1", Role::Supervisor);
    const ADMIN: (&str, Role) = ("admin-1", Role::Admin);
    const AT: &str = "2026-11-25T12:00:00Z";

    fn fresh() -> Automerge {
        new_document(
            &CapacityDoc::new("case-1", "visit-1", W1.0, AT),
            device_actor(W1.0),
        )
        .unwrap()
    }

    fn writer<'a>(who: &'a (&'static str, Role)) -> Writer<'a> {
        Writer {
            person_id: who.0,
            role: &who.1,
        }
    }

    fn judged(
        who: &(&str, Role),
        before: &Automerge,
        after: &Automerge,
    ) -> Result<Accepted, Refusal> {
        records::judged_as(Kind::Capacity, who.0, &who.1, before, after)
    }

    /// `who` makes `edits` on a copy of `doc` (bypassing the app's own
    /// check, as a hand-made peer would): the document after and the
    /// rules' verdict on the whole batch.
    fn by_all(
        who: &(&str, Role),
        doc: &Automerge,
        edits: &[CapacityEdit],
    ) -> (Automerge, Result<Accepted, Refusal>) {
        let mut after = doc.fork().with_actor(device_actor(who.0));
        for edit in edits {
            edit.apply(&mut after).unwrap();
        }
        let verdict = judged(who, doc, &after);
        (after, verdict)
    }

    fn by(
        who: &(&str, Role),
        doc: &Automerge,
        edit: CapacityEdit,
    ) -> (Automerge, Result<Accepted, Refusal>) {
        by_all(who, doc, &[edit])
    }

    fn code<T>(r: &Result<T, Refusal>) -> &'static str {
        r.as_ref().map(|_| "accepted").unwrap_or_else(|e| e.code)
    }

    fn set(text: CapacityText, value: &str) -> CapacityEdit {
        CapacityEdit::SetText {
            text,
            value: value.into(),
        }
    }

    fn find(who: &(&str, Role), part: Part, finding: Finding, at: &str) -> CapacityEdit {
        CapacityEdit::RecordFinding {
            part,
            finding,
            by: who.0.into(),
            at: at.into(),
        }
    }

    fn impairment(who: &(&str, Role), answer: ImpairmentAnswer) -> CapacityEdit {
        CapacityEdit::RecordImpairment {
            answer,
            by: who.0.into(),
            at: AT.into(),
        }
    }

    fn complete(who: &(&str, Role), id: &str, outcome: Outcome) -> CapacityEdit {
        CapacityEdit::Complete {
            id: id.into(),
            outcome,
            by: who.0.into(),
            at: AT.into(),
        }
    }

    fn reopen(who: &(&str, Role), id: &str, reason: &str) -> CapacityEdit {
        CapacityEdit::Reopen {
            id: id.into(),
            by: who.0.into(),
            at: AT.into(),
            reason: reason.into(),
        }
    }

    /// An assessment with its details written and `parts` recorded by W1.
    fn assessed(parts: [Finding; 4]) -> Automerge {
        let mut edits = vec![
            set(CapacityText::Decision, "Whether to move into a care home"),
            CapacityEdit::SetAssessedAt(AT.into()),
            set(
                CapacityText::RelevantInformation,
                "What the care home offers, the cost, and staying at home with more support",
            ),
        ];
        for (part, finding) in Part::ALL.iter().zip(parts) {
            edits.push(find(&W1, *part, finding, AT));
        }
        let (doc, verdict) = by_all(&W1, &fresh(), &edits);
        assert_eq!(code(&verdict), "accepted");
        doc
    }

    const ALL_MET: [Finding; 4] = [Finding::Met; 4];
    const CANNOT_WEIGH: [Finding; 4] = [Finding::Met, Finding::Met, Finding::NotMet, Finding::Met];

    fn permitted(
        who: &(&'static str, Role),
        doc: &Automerge,
        edit: &CapacityEdit,
    ) -> Result<(), Refusal> {
        edit.permitted(&read_capacity(doc).unwrap(), &conflicts(doc), &writer(who))
    }

    #[test]
    fn an_assessment_round_trips_and_starts_in_progress() {
        let doc = fresh();
        let read = read_capacity(&doc).unwrap();
        assert_eq!(read, CapacityDoc::new("case-1", "visit-1", W1.0, AT));
        assert_eq!(judged(&W1, &Automerge::new(), &doc).map(|_| ()), Ok(()));
        // Made and completed before it first synced: one batch.
        let (done, _) = by(
            &W1,
            &assessed(ALL_MET),
            complete(&W1, "c1", Outcome::HasCapacity),
        );
        assert_eq!(
            judged(&W1, &Automerge::new(), &done).unwrap().completed,
            Some(Outcome::HasCapacity)
        );
        let made = |d: CapacityDoc| new_document(&d, device_actor(W1.0)).unwrap();
        let mut done = CapacityDoc::new("case-1", "visit-1", W1.0, AT);
        done.status = Status::Complete;
        assert_eq!(
            code(&judged(&W1, &Automerge::new(), &made(done))),
            "not_in_progress"
        );
        let mut found = CapacityDoc::new("case-1", "visit-1", W1.0, AT);
        found.test.retain.finding = Some(Recorded {
            value: Finding::Met,
            by: W2.0.into(),
            at: AT.into(),
        });
        assert_eq!(
            code(&judged(&W1, &Automerge::new(), &made(found))),
            "forged_author"
        );
        let elsewhere = made(CapacityDoc::new("case-2", "visit-1", W1.0, AT));
        assert_eq!(
            code(&judged(&W1, &Automerge::new(), &elsewhere)),
            "wrong_case"
        );
        let theirs = made(CapacityDoc::new("case-1", "visit-1", W2.0, AT));
        assert_eq!(
            code(&judged(&W1, &Automerge::new(), &theirs)),
            "forged_author"
        );
        let mut moved = doc.fork().with_actor(device_actor(W1.0));
        doc::put_at(&mut moved, &[], "visit_id", "visit-2").unwrap();
        assert_eq!(code(&judged(&W1, &doc, &moved)), "fixed_field");
    }

    #[test]
    fn only_workers_write_an_assessment() {
        let doc = fresh();
        let edit = set(
            CapacityText::Steps,
            "We met in her garden, where she is calmer.",
        );
        assert_eq!(code(&by(&W1, &doc, edit.clone()).1), "accepted");
        assert_eq!(code(&by(&W2, &doc, edit.clone()).1), "accepted");
        for who in [SUPERVISOR, ADMIN] {
            assert_eq!(code(&by(&who, &doc, edit.clone()).1), "not_a_worker");
            assert_eq!(
                permitted(&who, &doc, &edit).unwrap_err().code,
                "not_a_worker"
            );
            let theirs = new_document(
                &CapacityDoc::new("case-1", "visit-1", who.0, AT),
                device_actor(who.0),
            )
            .unwrap();
            assert_eq!(
                code(&judged(&who, &Automerge::new(), &theirs)),
                "not_a_worker"
            );
        }
    }

    #[test]
    fn findings_are_signed_by_whoever_records_them() {
        let doc = fresh();
        let forged = find(&W2, Part::Retain, Finding::Met, AT);
        assert_eq!(code(&by(&W1, &doc, forged.clone()).1), "forged_author");
        assert_eq!(
            permitted(&W1, &doc, &forged).unwrap_err().code,
            "forged_author"
        );
        let (found, verdict) = by(&W1, &doc, find(&W1, Part::Retain, Finding::Met, AT));
        assert_eq!(code(&verdict), "accepted");
        // A colleague records it again, as themselves: that stands.
        assert_eq!(
            code(&by(&W2, &found, find(&W2, Part::Retain, Finding::NotMet, AT)).1),
            "accepted"
        );
        // Rewriting an existing finding in place, as a hand-made peer
        // would, is refused even when it then names the writer.
        for (key, value) in [("by", W2.0), ("value", "not_met")] {
            let mut rewritten = found.fork().with_actor(device_actor(W2.0));
            doc::put_at(&mut rewritten, &["test", "retain", "finding"], key, value).unwrap();
            assert_eq!(code(&judged(&W2, &found, &rewritten)), "finding_changed");
        }
        // Removed, rather than recorded again.
        let mut removed = found.fork().with_actor(device_actor(W1.0));
        doc::put_at(
            &mut removed,
            &["test", "retain"],
            "finding",
            None::<Recorded<Finding>>,
        )
        .unwrap();
        assert_eq!(code(&judged(&W1, &found, &removed)), "removed");
        // Evidence and completions are signed too.
        let complete_as_other = complete(&W2, "c1", Outcome::HasCapacity);
        assert_eq!(
            code(&by(&W1, &assessed(ALL_MET), complete_as_other).1),
            "forged_author"
        );
    }

    #[test]
    fn a_change_built_beside_a_completion_is_kept_and_the_completion_no_longer_stands() {
        let all_met = assessed(ALL_MET);
        let (completed, verdict) = by(&W1, &all_met, complete(&W1, "c1", Outcome::HasCapacity));
        assert_eq!(code(&verdict), "accepted");
        let a = read_capacity(&completed).unwrap();
        assert!(completion_stands(&completed, &a));
        // Built on the heads before the completion: another assessor
        // offline at the time, or a hand-made peer choosing its deps.
        let (beside, _) = by(
            &W2,
            &all_met,
            find(
                &W2,
                Part::Understand,
                Finding::NotMet,
                "2026-11-25T12:05:00Z",
            ),
        );
        let mut merged = completed.fork();
        merged.merge(&mut beside.fork()).unwrap();
        assert_eq!(code(&judged(&W2, &completed, &merged)), "accepted");
        let now = read_capacity(&merged).unwrap();
        assert_eq!(now.status, Status::Complete);
        assert!(!completion_stands(&merged, &now));
    }

    #[test]
    fn an_assessment_cannot_be_grown_without_end() {
        let (_, twice) = by(
            &W1,
            &fresh(),
            CapacityEdit::SetMethods(vec![CreativeMethod::Music, CreativeMethod::Music]),
        );
        assert_eq!(code(&twice), "accepted", "a merge may leave a method twice");
        let (_, many) = by(
            &W1,
            &fresh(),
            CapacityEdit::SetMethods(vec![CreativeMethod::Music; MAX_METHODS + 1]),
        );
        assert_eq!(code(&many), "too_large");
        let mut a = CapacityDoc::new("case-1", "visit-1", W1.0, AT);
        let link = Evidence {
            kind: EvidenceKind::Creative,
            visit_id: "visit-1".into(),
            observation: "o1".into(),
            start: String::new(),
            end: String::new(),
            quote: Text::default(),
            note: Text::default(),
            added_by: W1.0.into(),
            added_at: AT.into(),
        };
        for n in 0..MAX_EVIDENCE {
            a.evidence.insert(format!("e{n}"), link.clone());
        }
        assert!(bounded(&a).is_ok());
        a.evidence.insert("one-more".into(), link);
        assert_eq!(bounded(&a).unwrap_err().code, "too_large");
    }

    #[test]
    fn the_impairment_question_is_asked_only_where_a_part_is_not_met() {
        let met = assessed(ALL_MET);
        assert_eq!(
            permitted(&W1, &met, &impairment(&W1, ImpairmentAnswer::Yes))
                .unwrap_err()
                .code,
            "impairment_not_asked"
        );
        let not_met = assessed(CANNOT_WEIGH);
        assert!(permitted(&W1, &not_met, &impairment(&W1, ImpairmentAnswer::Yes)).is_ok());
        // The server's rules too: a hand-made peer cannot skip the order.
        let (_, verdict) = by(&W1, &met, impairment(&W1, ImpairmentAnswer::Yes));
        assert_eq!(code(&verdict), "impairment_not_asked");
        let (_, verdict) = by(&W1, &not_met, impairment(&W1, ImpairmentAnswer::Yes));
        assert_eq!(code(&verdict), "accepted");
    }

    #[test]
    fn findings_recorded_apart_conflict_until_recorded_again() {
        let base = assessed(ALL_MET);
        let mut a = base.fork().with_actor(device_actor(W1.0));
        find(
            &W1,
            Part::UseOrWeigh,
            Finding::NotMet,
            "2026-11-25T13:00:00Z",
        )
        .apply(&mut a)
        .unwrap();
        let mut b = base.fork().with_actor(device_actor(W2.0));
        find(&W2, Part::UseOrWeigh, Finding::Met, "2026-11-25T14:00:00Z")
            .apply(&mut b)
            .unwrap();
        // The server has the first; the second is a colleague's own
        // finding, and merging the first is not writing it.
        assert_eq!(code(&judged(&W1, &base, &a)), "accepted");
        let mut merged = a.fork();
        merged.merge(&mut b.fork()).unwrap();
        assert_eq!(code(&judged(&W2, &a, &merged)), "accepted");
        let found = conflicts(&merged);
        assert_eq!(
            found,
            vec![FindingConflict::Part {
                part: Part::UseOrWeigh,
                values: vec![
                    Recorded {
                        value: Finding::NotMet,
                        by: W1.0.into(),
                        at: "2026-11-25T13:00:00Z".into()
                    },
                    Recorded {
                        value: Finding::Met,
                        by: W2.0.into(),
                        at: "2026-11-25T14:00:00Z".into()
                    },
                ],
            }]
        );
        assert!(found[0].to_string().contains("use or weigh"));
        // Whatever outcome is claimed, and whichever value hydration picked.
        for claimed in [Outcome::HasCapacity, Outcome::LacksCapacity] {
            let mut edits = vec![set(
                CapacityText::BestInterests,
                "Her daughter, with the GP",
            )];
            if claimed == Outcome::LacksCapacity {
                edits.push(impairment(&W1, ImpairmentAnswer::Yes));
            }
            let (ready, _) = by_all(&W1, &merged, &edits);
            let edit = complete(&W1, "c1", claimed);
            assert_eq!(
                permitted(&W1, &ready, &edit).unwrap_err().code,
                "findings_in_conflict"
            );
            let (_, verdict) = by(&W1, &ready, edit);
            assert_eq!(code(&verdict), "findings_in_conflict");
        }
        // Recorded again, knowing both: settled.
        let (settled, verdict) = by(
            &W2,
            &merged,
            find(&W2, Part::UseOrWeigh, Finding::Met, "2026-11-25T15:00:00Z"),
        );
        assert_eq!(code(&verdict), "accepted");
        assert!(conflicts(&settled).is_empty());
        let (_, verdict) = by(&W1, &settled, complete(&W1, "c1", Outcome::HasCapacity));
        assert_eq!(verdict.unwrap().completed, Some(Outcome::HasCapacity));
        // The impairment question conflicts the same way.
        let base = assessed(CANNOT_WEIGH);
        let mut a = base.fork().with_actor(device_actor(W1.0));
        impairment(&W1, ImpairmentAnswer::Yes)
            .apply(&mut a)
            .unwrap();
        let mut b = base.fork().with_actor(device_actor(W2.0));
        impairment(&W2, ImpairmentAnswer::No).apply(&mut b).unwrap();
        a.merge(&mut b).unwrap();
        assert!(matches!(
            conflicts(&a)[..],
            [FindingConflict::Impairment { ref values }] if values.len() == 2
        ));
    }

    #[test]
    fn a_contradictory_completion_is_refused_naming_the_finding() {
        let met = assessed(ALL_MET);
        let claim = complete(&W1, "c1", Outcome::LacksCapacity);
        let (_, verdict) = by(&W1, &met, claim.clone());
        let refusal = verdict.unwrap_err();
        assert_eq!(refusal.code, "outcome_contradicts_findings");
        assert!(
            refusal
                .message
                .contains("every part of the functional test is met")
        );
        assert_eq!(permitted(&W1, &met, &claim), Err(refusal));

        let (impaired, _) = by(
            &W1,
            &assessed(CANNOT_WEIGH),
            impairment(&W1, ImpairmentAnswer::Yes),
        );
        let (_, verdict) = by(&W1, &impaired, complete(&W1, "c1", Outcome::HasCapacity));
        let refusal = verdict.unwrap_err();
        assert_eq!(refusal.code, "outcome_contradicts_findings");
        assert!(
            refusal.message.starts_with(
                "the person cannot use or weigh the information because of an impairment"
            ),
            "{}",
            refusal.message
        );
        // Lacking capacity needs a pointer to the best-interests decision.
        let lacks = complete(&W1, "c1", Outcome::LacksCapacity);
        assert_eq!(
            code(&by(&W1, &impaired, lacks.clone()).1),
            "best_interests_missing"
        );
        let (pointed, _) = by(
            &W1,
            &impaired,
            set(
                CapacityText::BestInterests,
                "Best-interests meeting with her son, 2 December",
            ),
        );
        assert!(permitted(&W1, &pointed, &lacks).is_ok());
        assert_eq!(
            by(&W1, &pointed, lacks).1.unwrap().completed,
            Some(Outcome::LacksCapacity)
        );
        // Not before the details are written.
        let (bare, _) = by(&W1, &fresh(), find(&W1, Part::Retain, Finding::Met, AT));
        assert_eq!(
            code(&by(&W1, &bare, complete(&W1, "c1", Outcome::HasCapacity)).1),
            "details_missing"
        );
        // A completion written by hand, with no history entry.
        let mut forged = met.fork().with_actor(device_actor(W1.0));
        doc::put_at(&mut forged, &[], "status", Status::Complete).unwrap();
        doc::put_at(&mut forged, &[], "outcome", Some(Outcome::HasCapacity)).unwrap();
        assert_eq!(code(&judged(&W1, &met, &forged)), "status_unrecorded");
    }

    #[test]
    fn evidence_stays_on_the_persons_words() {
        let mut visit = new_document(
            &VisitDoc::new("case-1", W1.0, AT, PlaceKind::Home),
            device_actor(W1.0),
        )
        .unwrap();
        let said = "I want to stay in my own home.";
        update_text(&mut visit, TextField::OwnWords.path(), said).unwrap();
        let from = said.find("stay").unwrap();
        let to = said.find('.').unwrap();
        let evidence = Evidence::own_words(&visit, "visit-1", from, to, W1.0, AT).unwrap();
        let (linked, verdict) = by(
            &W1,
            &fresh(),
            CapacityEdit::AddEvidence {
                id: "e1".into(),
                evidence: Box::new(evidence),
            },
        );
        assert_eq!(code(&verdict), "accepted");
        let stored = read_capacity(&linked).unwrap().evidence["e1"].clone();
        assert_eq!(stored.quote.as_str(), "stay in my own home");
        let words = |visit: &Automerge| match locate(visit, &stored) {
            Anchored::At { from, to } => super::super::visit::read_visit(visit)
                .unwrap()
                .own_words
                .text
                .as_str()
                .chars()
                .skip(from)
                .take(to - from)
                .collect::<String>(),
            Anchored::Deleted => "<deleted>".into(),
        };
        assert_eq!(words(&visit), "stay in my own home");
        update_text(
            &mut visit,
            TextField::OwnWords.path(),
            "She told me: I want to stay in my own home.",
        )
        .unwrap();
        assert_eq!(words(&visit), "stay in my own home");
        update_text(
            &mut visit,
            TextField::OwnWords.path(),
            "She told me: I want to.",
        )
        .unwrap();
        assert_eq!(words(&visit), "<deleted>");
        // A note is the assessor's to edit; where it points is not.
        let note = CapacityEdit::SetEvidenceNote {
            id: "e1".into(),
            value: "Said twice, unprompted.".into(),
        };
        assert_eq!(code(&by(&W2, &linked, note).1), "accepted");
        let mut moved = linked.fork().with_actor(device_actor(W1.0));
        doc::put_at(&mut moved, &["evidence", "e1"], "start", "elsewhere").unwrap();
        assert_eq!(code(&judged(&W1, &linked, &moved)), "evidence_changed");
        // Linked by someone else's name.
        let theirs = Evidence::own_words(&visit, "visit-1", 0, 3, W2.0, AT).unwrap();
        assert_eq!(
            code(
                &by(
                    &W1,
                    &fresh(),
                    CapacityEdit::AddEvidence {
                        id: "e2".into(),
                        evidence: Box::new(theirs)
                    }
                )
                .1
            ),
            "forged_author"
        );
        // A creative-method observation keeps what was expressed.
        let mut with_drum = visit.fork();
        super::super::visit::VisitEdit::AddCreative {
            id: "c1".into(),
            method: CreativeMethod::Music,
        }
        .apply(&mut with_drum)
        .unwrap();
        update_text(
            &mut with_drum,
            &["creative", "c1", "expressed"],
            "She beat the drum hard when we spoke of moving",
        )
        .unwrap();
        let drum = Evidence::creative(&with_drum, "visit-1", "c1", W1.0, AT).unwrap();
        assert_eq!(
            drum.quote.as_str(),
            "She beat the drum hard when we spoke of moving"
        );
        assert_eq!(
            code(
                &by(
                    &W1,
                    &linked,
                    CapacityEdit::AddEvidence {
                        id: "e3".into(),
                        evidence: Box::new(drum)
                    }
                )
                .1
            ),
            "accepted"
        );
        assert!(Evidence::creative(&with_drum, "visit-1", "c9", W1.0, AT).is_err());
    }

    #[test]
    fn after_completion_changes_wait_for_a_reopening_but_those_made_beside_it_stay() {
        let ready = assessed(ALL_MET);
        let (done, verdict) = by(&W1, &ready, complete(&W1, "c1", Outcome::HasCapacity));
        assert_eq!(verdict.unwrap().completed, Some(Outcome::HasCapacity));
        assert!(since_completion(&done).unwrap().is_empty());
        // Knowing it complete, a finding or a text changes only after a
        // reopening.
        let change = find(&W1, Part::Retain, Finding::NotMet, AT);
        assert_eq!(code(&by(&W1, &done, change.clone()).1), "completed");
        assert_eq!(
            permitted(&W1, &done, &change).unwrap_err().code,
            "completed"
        );
        assert_eq!(
            code(&by(&W2, &done, set(CapacityText::Decision, "Something else")).1),
            "completed"
        );
        // A colleague offline since before the completion recorded a
        // finding and wrote steps beside it: kept, and shown.
        let (offline, _) = by_all(
            &W2,
            &ready,
            &[
                set(CapacityText::Steps, "We used pictures of the home."),
                find(&W2, Part::Retain, Finding::NotMet, "2026-11-25T12:30:00Z"),
                CapacityEdit::AddEvidence {
                    id: "e1".into(),
                    evidence: Box::new(Evidence {
                        kind: EvidenceKind::Creative,
                        visit_id: "visit-1".into(),
                        observation: "c1".into(),
                        start: String::new(),
                        end: String::new(),
                        quote: Text::with_value("She painted the house, then a door"),
                        note: Text::default(),
                        added_by: W2.0.into(),
                        added_at: AT.into(),
                    }),
                },
            ],
        );
        let mut merged = done.fork();
        merged.merge(&mut offline.fork()).unwrap();
        assert_eq!(code(&judged(&W2, &done, &merged)), "accepted");
        let changed = since_completion(&merged).unwrap();
        assert_eq!(changed.len(), 3, "{changed:?}");
        assert_eq!(
            changed[0],
            ChangedSinceCompletion::Text {
                text: CapacityText::Steps,
                at_completion: String::new(),
                now: "We used pictures of the home.".into(),
            }
        );
        assert_eq!(
            changed[1],
            ChangedSinceCompletion::EvidenceLinked { id: "e1".into() }
        );
        let ChangedSinceCompletion::Finding {
            part,
            at_completion,
            now,
        } = &changed[2]
        else {
            panic!("{changed:?}");
        };
        assert_eq!(*part, Part::Retain);
        assert_eq!(at_completion[0].by, W1.0);
        assert_eq!((now[0].value, now[0].by.as_str()), (Finding::NotMet, W2.0));
        // Reopened, with a reason, it changes again.
        assert_eq!(
            code(&by(&W1, &done, reopen(&W1, "r1", " ")).1),
            "reason_required"
        );
        assert_eq!(
            code(&by(&W1, &ready, reopen(&W1, "r1", "Why not")).1),
            "status_transition"
        );
        assert_eq!(
            code(&by(&W1, &done, reopen(&W2, "r1", "New information")).1),
            "forged_author"
        );
        let (reopened, verdict) = by(&W1, &done, reopen(&W1, "r1", "Her sister told us more."));
        assert_eq!(verdict.unwrap().completed, None);
        let read = read_capacity(&reopened).unwrap();
        assert_eq!((read.status, read.outcome), (Status::InProgress, None));
        assert_eq!(code(&by(&W1, &reopened, change).1), "accepted");
        // Completed, reopened, changed and completed again offline: one
        // batch, judged step by step.
        let (twice, verdict) = by_all(
            &W1,
            &ready,
            &[
                complete(&W1, "c1", Outcome::HasCapacity),
                reopen(&W1, "r1", "She asked to think again."),
                find(&W1, Part::Communicate, Finding::NotMet, AT),
                impairment(&W1, ImpairmentAnswer::Yes),
                set(CapacityText::BestInterests, "Her son decides, with the GP"),
                complete(&W1, "c2", Outcome::LacksCapacity),
            ],
        );
        assert_eq!(verdict.unwrap().completed, Some(Outcome::LacksCapacity));
        assert_eq!(read_capacity(&twice).unwrap().history().len(), 3);
        // ... but not a change slipped between a completion and its
        // reopening.
        let (_, verdict) = by_all(
            &W1,
            &ready,
            &[
                complete(&W1, "c1", Outcome::HasCapacity),
                find(&W1, Part::Communicate, Finding::NotMet, AT),
                reopen(&W1, "r1", "She asked to think again."),
            ],
        );
        assert_eq!(code(&verdict), "completed");
        // The history stands as made.
        let mut erased = done.fork().with_actor(device_actor(W1.0));
        doc::put_at(
            &mut erased,
            &[],
            "history",
            BTreeMap::<String, StatusChange>::new(),
        )
        .unwrap();
        assert_eq!(code(&judged(&W1, &done, &erased)), "history_changed");
    }
}
