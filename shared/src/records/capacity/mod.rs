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

mod edit;
mod evidence;
mod findings;
mod rules;
#[cfg(test)]
mod tests;

pub use edit::*;
pub use evidence::*;
pub use findings::*;
pub use rules::*;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::RangeInclusive;

use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, ReadDoc, Value};
use autosurgeon::{Hydrate, Reconcile, Text};

use super::visit::{Anchored, CreativeMethod, TextField};
use super::{Accepted, Context, Refusal, SCHEMA_VERSION, Writer, signed_as, valid};
use crate::role::Role;
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

impl super::Record for CapacityDoc {
    const KIND: super::Kind = super::Kind::Capacity;
    const NAME: &'static str = "Capacity assessment";
    const PRIORITY: u8 = 2;
    const MADE_ON_DEVICES: bool = true;
    const REGISTERED: &'static str = "assessment_registered";
    const SHAPE: &'static super::ops::Shape = &super::ops::CAPACITY;
    type Edit = CapacityEdit;

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
        CapacityDoc::passages(self)
    }

    /// Titled by its decision; its status says whether the completion
    /// still stands (`completion_stands`), which needs the document.
    fn summary(&self, doc: &Automerge) -> Option<super::Summary> {
        use super::{Event, Said};
        let decision = self.decision.as_str().trim().to_owned();
        let title = if decision.is_empty() {
            Self::NAME.to_owned()
        } else {
            format!("{}: {decision}", Self::NAME)
        };
        let (status, status_at) = match (self.status, self.outcome) {
            (Status::Complete, Some(outcome)) if completion_stands(doc, self) => (
                vec![
                    Said::Words(format!("Complete: {}, by ", outcome.name())),
                    Said::Person(self.completed_by.clone()),
                ],
                Some(self.completed_at.clone()),
            ),
            (Status::Complete, _) => (
                vec![
                    Said::words("Completed by "),
                    Said::Person(self.completed_by.clone()),
                    Said::words(", then changed beside the completion: needs review"),
                ],
                Some(self.completed_at.clone()),
            ),
            _ => (vec![Said::words("In progress")], None),
        };
        let mut events = vec![Event {
            at: self.created_at.clone(),
            kind: "assessment",
            title: "Capacity assessment started".into(),
            by: self.author.clone(),
            summary: decision,
        }];
        for (_, change) in self.history() {
            let title = match (change.status, change.outcome) {
                (Status::Complete, Some(o)) => {
                    format!("Capacity assessment completed: {}", o.name())
                }
                _ => "Capacity assessment reopened".to_owned(),
            };
            events.push(Event {
                at: change.at.clone(),
                kind: "assessment",
                title,
                by: change.by.clone(),
                summary: change.reason.as_str().to_owned(),
            });
        }
        Some(super::Summary {
            title,
            at: self.created_at.clone(),
            by: self.author.clone(),
            status,
            status_at,
            events,
        })
    }
}
