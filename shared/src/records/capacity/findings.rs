use super::*;

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
    pub(super) fn path(self) -> &'static [&'static str] {
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
pub(super) fn recorded<T: Hydrate>(doc: &Automerge, question: Question) -> Vec<Recorded<T>> {
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
pub(super) fn list(items: &[&str], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., final_] => format!("{}{last}{final_}", rest.join(", ")),
    }
}

pub(super) fn inabilities(parts: &[Part]) -> String {
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
pub(super) fn ready_to_complete(
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
