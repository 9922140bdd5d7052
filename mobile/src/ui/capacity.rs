//! A mental capacity assessment, in the order the Act and the courts set:
//! the decision and when; what the person was told; what was done to help
//! them decide, with evidence from the visit; the functional test, part by
//! part; only where a part is not met, whether that is because of an
//! impairment of the mind or brain (A Local Authority v JB [2021] UKSC 52);
//! then the outcome, computed from the findings as the assessor goes, never
//! chosen. Findings two assessors recorded apart that differ are shown
//! side by side, and completing waits until one of them is chosen.

use dioxus::prelude::*;
use fieldvisit_shared::VisitDoc;
use fieldvisit_shared::api::Role;
use fieldvisit_shared::records::CreativeMethod;
use fieldvisit_shared::records::capacity::{
    CapacityDoc, CapacityText, ChangedSinceCompletion, Computed, EvidenceKind, Finding,
    FindingConflict, Findings, ImpairmentAnswer, Part, Question, Recorded, Status, outcome,
};
use futures::StreamExt;

use super::auto_text::{AutoText, Source};
use super::{Route, labels, navigate, use_core};
use crate::DeviceCore;
use crate::core::{AssessmentView, CoreError, LinkedEvidence, own_words_passages};

/// What the assessor asks of the device core, one kind of edit each.
#[derive(Debug, Clone)]
enum Op {
    AssessedAt(String),
    Methods(Vec<CreativeMethod>),
    OwnWords {
        visit_id: String,
        from: usize,
        to: usize,
    },
    Creative {
        visit_id: String,
        observation: String,
    },
    Finding(Part, Finding),
    Impairment(ImpairmentAnswer),
}

async fn perform(core: &DeviceCore, id: &str, op: Op) -> Result<(), CoreError> {
    match op {
        Op::AssessedAt(at) => core.set_assessed_at(id, &at).await,
        Op::Methods(methods) => core.set_assessment_methods(id, &methods).await,
        Op::OwnWords { visit_id, from, to } => core
            .link_own_words(id, &visit_id, from, to)
            .await
            .map(|_| ()),
        Op::Creative {
            visit_id,
            observation,
        } => core
            .link_creative(id, &visit_id, &observation)
            .await
            .map(|_| ()),
        Op::Finding(part, finding) => core.record_finding(id, part, finding).await,
        Op::Impairment(answer) => core.record_impairment(id, answer).await,
    }
}

/// Everything the screen shows, reread together whenever the assessment
/// or its visit changes.
#[derive(Clone, Copy)]
struct Shown {
    /// For the text boxes, which follow the record through it.
    assessment: Signal<Option<CapacityDoc>>,
    view: Signal<Option<AssessmentView>>,
    visit: Signal<Option<VisitDoc>>,
    evidence: Signal<Vec<LinkedEvidence>>,
}

impl Shown {
    async fn reload(mut self, core: &DeviceCore, id: &str) -> Result<String, CoreError> {
        let view = core.assessment_view(id).await?;
        let visit_id = view.doc.visit_id.clone();
        if self.assessment.peek().as_ref() != Some(&view.doc) {
            self.assessment.set(Some(view.doc.clone()));
        }
        if self.view.peek().as_ref() != Some(&view) {
            self.view.set(Some(view));
        }
        // The visit may not be on this device (a colleague's, not yet
        // fetched): the assessment is still shown, without its evidence
        // choices.
        match core.read::<VisitDoc>(&visit_id).await {
            Ok(v) if self.visit.peek().as_ref() != Some(&v) => self.visit.set(Some(v)),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "the assessment's visit is not here"),
        }
        if let Ok(linked) = core.linked_evidence(id).await
            && *self.evidence.peek() != linked
        {
            self.evidence.set(linked);
        }
        Ok(visit_id)
    }
}

#[component]
pub fn CapacityScreen(case_id: String, assessment_id: String) -> Element {
    let core = use_core();
    let shown = Shown {
        assessment: use_signal(|| None),
        view: use_signal(|| None),
        visit: use_signal(|| None),
        evidence: use_signal(Vec::new),
    };
    let mut failed = use_signal(|| None::<String>);
    let mut error = use_signal(|| None::<String>);
    let mut refused = use_signal(|| None::<String>);
    let mut reason = use_signal(String::new);

    let watch_id = assessment_id.clone();
    use_future(move || {
        let id = watch_id.clone();
        async move {
            let core = core.get();
            let visit_id = match shown.reload(&core, &id).await {
                Ok(v) => v,
                Err(e) => {
                    failed.set(Some(e.to_string()));
                    return;
                }
            };
            let Ok(own) = core.watch(&id).await else {
                return;
            };
            // The visit's words are the evidence: follow its edits too.
            let mut changes = match core.watch(&visit_id).await {
                Ok(visit) => futures::stream::select(own, visit).boxed_local(),
                Err(_) => own.boxed_local(),
            };
            while changes.next().await.is_some() {
                if let Err(e) = shown.reload(&core, &id).await {
                    tracing::warn!(error = %e, "assessment could not be reread");
                }
            }
        }
    });

    let act = {
        let id = assessment_id.clone();
        move |op: Op| {
            let id = id.clone();
            async move {
                let core = core.get();
                match perform(&core, &id, op).await {
                    Ok(()) => error.set(None),
                    Err(e) => error.set(Some(format!("Not saved: {e}"))),
                }
            }
        }
    };
    let complete = {
        let id = assessment_id.clone();
        move |_| {
            let id = id.clone();
            async move {
                let core = core.get();
                match core.complete_assessment(&id).await {
                    Ok(_) => refused.set(None),
                    Err(e) => refused.set(Some(e.to_string())),
                }
            }
        }
    };
    let reopen = {
        let id = assessment_id.clone();
        move |_| {
            let id = id.clone();
            async move {
                let core = core.get();
                match core.reopen_assessment(&id, &reason()).await {
                    Ok(()) => {
                        reason.set(String::new());
                        refused.set(None);
                    }
                    Err(e) => refused.set(Some(e.to_string())),
                }
            }
        }
    };

    let nav = rsx! { super::BackToCase { case_id: case_id.clone() } };
    if let Some(why) = failed() {
        return rsx! {
            {nav}
            h1 { "Mental capacity assessment" }
            p { role: "alert", "This assessment is not on this device yet: {why}" }
        };
    }
    let Some(AssessmentView {
        doc: a,
        conflicts,
        since_completion,
    }) = shown.view.read().clone()
    else {
        return rsx! { {nav} p { role: "status", "Opening the assessment…" } };
    };
    let handle = core.get();
    let me = handle.person().clone();
    let writing = me.role == Role::Worker && a.status != Status::Complete;
    let name = |id: &str| handle.name_of(id);
    let warning = handle.warning(&assessment_id).ok().flatten();

    let text = |t: CapacityText, id: &str, label: &str, hint: Option<&str>| {
        rsx! {
            AutoText {
                key: "{id}",
                source: Source::capacity(&assessment_id, t, shown.assessment),
                id: id.to_owned(),
                label: label.to_owned(),
                hint: hint.map(str::to_owned),
                read_only: !writing,
            }
        }
    };

    let findings = Findings::of(&a);
    let conflict_of = |q: Question| conflicts.iter().find(|c| c.question() == q);
    // Asked once any part is found not met, by whoever recorded it: a
    // conflict over a part may be settled either way.
    let not_met: Vec<Part> = Part::ALL
        .iter()
        .copied()
        .filter(|p| {
            findings.part(*p) == Some(Finding::NotMet)
                || matches!(conflict_of(Question::Part(*p)),
                    Some(FindingConflict::Part { values, .. })
                        if values.iter().any(|r| r.value == Finding::NotMet))
        })
        .collect();
    let computed = outcome(&findings);
    let lacks = matches!(
        computed,
        Computed::Decided(fieldvisit_shared::records::capacity::Outcome::LacksCapacity)
    ) || a.outcome
        == Some(fieldvisit_shared::records::capacity::Outcome::LacksCapacity);
    let computed_text = if conflicts.is_empty() {
        match &computed {
            Computed::Decided(o) => format!("Computed from the findings: {}.", labels::outcome(*o)),
            Computed::Incomplete(why) => format!(
                "Computed from the findings: not yet decided. {}.",
                labels::sentence(why)
            ),
        }
    } else {
        format!(
            "Computed from the findings: not yet decided. Different findings were recorded apart for {}.",
            conflict_names(&conflicts)
        )
    };
    // What completing now would meet, from the same rule the Complete
    // button and the server apply: the next thing to do, as the assessor
    // goes.
    let still_to_do = match shown.view.read().as_ref().map(|v| handle.completion(v)) {
        Some(Err(r)) if writing && conflicts.is_empty() => Some(r.message),
        _ => None,
    };
    let visit_id = a.visit_id.clone();
    let visit = shown.visit.read().clone();

    rsx! {
        {nav}
        h1 { "Mental capacity assessment" }
        p { class: "quiet",
            "Started by {name(&a.author)} on {labels::when(&a.created_at)}"
            if let Some(v) = visit.as_ref() {
                ", from the visit on {labels::when(&v.started_at)}. "
                a {
                    class: "link",
                    href: Route::Visit { case_id: case_id.clone(), visit_id: visit_id.clone() }.to_fragment(),
                    "Open the visit"
                }
            } else {
                "."
            }
        }
        if let Some(why) = error() {
            p { class: "error", role: "alert", "{why}" }
        }
        if let Some(why) = warning {
            p { class: "error", role: "alert", "The server did not accept a change to this assessment: {why}" }
        }
        if me.role != Role::Worker {
            p { class: "notice", "Only a worker on the case writes a capacity assessment; it is shown here to read." }
        }
        if a.status == Status::Complete {
            Completed { a: a.clone(), since: since_completion.clone() }
        }

        section { aria_labelledby: "decision-h",
            h2 { id: "decision-h", "The decision" }
            {text(CapacityText::Decision, "decision", "The specific decision", Some("Capacity is decision-specific: name one decision, such as whether to move into a care home."))}
            label { r#for: "assessed-at", "When it is assessed" }
            p { id: "assessed-at-hint", class: "hint", "Capacity is time-specific too: the date and time of this assessment." }
            div { class: "inline",
                input {
                    id: "assessed-at",
                    r#type: "datetime-local",
                    aria_describedby: "assessed-at-hint",
                    readonly: !writing,
                    value: "{labels::local_input(&a.assessed_at)}",
                    onchange: {
                        let act = act.clone();
                        move |e: FormEvent| {
                            let act = act.clone();
                            async move {
                                match labels::from_local_input(&e.value()) {
                                    Some(at) => act(Op::AssessedAt(at)).await,
                                    None => error.set(Some("Say when it is assessed: a date and a time.".into())),
                                }
                            }
                        }
                    },
                }
                if writing {
                    button {
                        r#type: "button",
                        onclick: {
                            let act = act.clone();
                            move |_| act(Op::AssessedAt(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
                        },
                        "Use the time now"
                    }
                }
            }
        }

        section { aria_labelledby: "information-h",
            h2 { id: "information-h", "Relevant information" }
            {text(CapacityText::RelevantInformation, "relevant-information", "The information the person was given", Some("The options, and what is likely to follow from deciding one way, the other, or not at all."))}
        }

        section { aria_labelledby: "support-h",
            h2 { id: "support-h", "Supporting the person to decide" }
            p { class: "hint", "Nobody is treated as unable to decide until all practicable steps to help them have been taken without success (s.1(3))." }
            {text(CapacityText::Steps, "steps", "Practicable steps taken to help them decide", Some("For example: a quiet room, the time of day they are most alert, an interpreter, pictures, someone they trust."))}
            fieldset { class: "chips",
                legend { "Creative methods used" }
                for method in CreativeMethod::ALL.iter().copied() {
                    button {
                        key: "{method.as_str()}",
                        class: "chip",
                        r#type: "button",
                        disabled: !writing,
                        aria_pressed: if a.methods.contains(&method) { "true" } else { "false" },
                        onclick: {
                            let act = act.clone();
                            let mut methods = a.methods.clone();
                            if let Some(i) = methods.iter().position(|m| *m == method) {
                                methods.remove(i);
                            } else {
                                methods.push(method);
                            }
                            move |_| act(Op::Methods(methods.clone()))
                        },
                        "{labels::creative_method(method)}"
                    }
                }
            }
            Evidence {
                evidence: shown.evidence,
                visit: visit.clone(),
                visit_id: visit_id.clone(),
                writing,
                act: {
                    let act = act.clone();
                    move |op: Op| act(op)
                },
            }
        }

        section { aria_labelledby: "test-h",
            h2 { id: "test-h", "The functional test" }
            p { class: "hint", "For each part: what shows it, and whether it is met, with the support above (s.3(1))." }
            for part in Part::ALL.iter().copied() {
                div { key: "{part.as_str()}", class: "item",
                    h3 { id: "part-{part.as_str()}-h", "{labels::part(part)}" }
                    {text(CapacityText::PartEvidence(part), &format!("part-{}-evidence", part.as_str()), &labels::sentence(CapacityText::PartEvidence(part).name()), None)}
                    Choice {
                        name: format!("finding-{}", part.as_str()),
                        legend: format!("Can the person {}?", part.inability()),
                        options: vec![(Finding::Met.as_str().to_owned(), labels::finding(Finding::Met).to_owned()), (Finding::NotMet.as_str().to_owned(), labels::finding(Finding::NotMet).to_owned())],
                        chosen: a.test.part(part).finding.as_ref().map(|r| r.value.as_str().to_owned()),
                        recorded: a.test.part(part).finding.as_ref().map(|r| signed(&handle, r)),
                        conflict: match conflict_of(Question::Part(part)) {
                            Some(FindingConflict::Part { values, .. }) => Some(values.iter().map(|r| format!("{}: {} ({})", handle.name_of(&r.by), r.value.name(), labels::day_time(&r.at))).collect()),
                            _ => None,
                        },
                        disabled: !writing,
                        on_choose: {
                            let act = act.clone();
                            move |value: String| {
                                let act = act.clone();
                                async move {
                                    if let Some(f) = Finding::parse(&value) {
                                        act(Op::Finding(part, f)).await;
                                    }
                                }
                            }
                        },
                    }
                }
            }
        }

        if !not_met.is_empty() {
            section { aria_labelledby: "impairment-h",
                h2 { id: "impairment-h", "Impairment of the mind or brain" }
                p { class: "hint",
                    "Asked because the person cannot {inabilities(&not_met)}. The functional test comes first; then whether that inability is because of the impairment (s.2(1); A Local Authority v JB [2021] UKSC 52)."
                }
                {text(CapacityText::ImpairmentEvidence, "impairment-evidence", "Evidence of an impairment or disturbance, and of how it causes the inability", None)}
                Choice {
                    name: "impairment".to_owned(),
                    legend: "Is the inability to decide because of an impairment of, or a disturbance in the functioning of, the mind or brain?".to_owned(),
                    options: vec![(ImpairmentAnswer::Yes.as_str().to_owned(), labels::impairment(ImpairmentAnswer::Yes).to_owned()), (ImpairmentAnswer::No.as_str().to_owned(), labels::impairment(ImpairmentAnswer::No).to_owned())],
                    chosen: a.impairment.finding.as_ref().map(|r| r.value.as_str().to_owned()),
                    recorded: a.impairment.finding.as_ref().map(|r| signed(&handle, r)),
                    conflict: match conflict_of(Question::Impairment) {
                        Some(FindingConflict::Impairment { values }) => Some(values.iter().map(|r| format!("{}: {} ({})", handle.name_of(&r.by), r.value.name(), labels::day_time(&r.at))).collect()),
                        _ => None,
                    },
                    disabled: !writing,
                    on_choose: {
                        let act = act.clone();
                        move |value: String| {
                            let act = act.clone();
                            async move {
                                if let Some(answer) = ImpairmentAnswer::parse(&value) {
                                    act(Op::Impairment(answer)).await;
                                }
                            }
                        }
                    },
                }
            }
        }

        section { aria_labelledby: "outcome-h",
            h2 { id: "outcome-h", "Outcome" }
            if a.status != Status::Complete {
                p { class: "notice", role: "status", "{computed_text}" }
            }
            if lacks || !a.best_interests.as_str().is_empty() {
                {text(CapacityText::BestInterests, "best-interests", "Best interests: who will decide, and what happens next", Some("The person lacks capacity for this decision, so it is made for them in their best interests (s.4)."))}
            }
            if writing {
                if !conflicts.is_empty() {
                    p { id: "complete-why", class: "error",
                        "It cannot be completed while findings recorded apart differ: choose the finding that stands for {conflict_names(&conflicts)}."
                    }
                }
                if let Some(next) = still_to_do.as_ref() {
                    p { id: "complete-why", class: "hint", "Still to do before it can be completed: {next}." }
                }
                button {
                    class: "primary",
                    r#type: "button",
                    disabled: !conflicts.is_empty(),
                    aria_describedby: if conflicts.is_empty() && still_to_do.is_none() { None } else { Some("complete-why") },
                    onclick: complete,
                    "Complete the assessment"
                }
            }
            if a.status == Status::Complete && me.role == Role::Worker {
                label { r#for: "reopen-reason", "Why reopen it" }
                input {
                    id: "reopen-reason",
                    r#type: "text",
                    autocomplete: "off",
                    value: "{reason}",
                    oninput: move |e| reason.set(e.value()),
                }
                button { class: "secondary", r#type: "button", onclick: reopen, "Reopen the assessment" }
            }
            if let Some(why) = refused() {
                p { class: "error", role: "alert",
                    if a.status == Status::Complete { "Not reopened: {why}." } else { "Not completed: {why}." }
                }
            }
            History { a: a.clone() }
        }
    }
}

/// "Alex Worker (27 Nov, 10:02)": who recorded a finding, and when.
fn signed<T>(core: &DeviceCore, r: &Recorded<T>) -> String {
    format!("{} ({})", core.name_of(&r.by), labels::day_time(&r.at))
}

fn conflict_names(conflicts: &[FindingConflict]) -> String {
    conflicts
        .iter()
        .map(|c| c.question().name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn inabilities(parts: &[Part]) -> String {
    parts
        .iter()
        .map(|p| p.inability())
        .collect::<Vec<_>>()
        .join(", or ")
}

/// One finding as a group of radio buttons. In a conflict no option is
/// checked: choosing one, knowing both, is recording it again, which
/// settles it.
#[component]
fn Choice(
    name: String,
    legend: String,
    /// (value, label)
    options: Vec<(String, String)>,
    chosen: Option<String>,
    /// Who recorded the finding that stands, and when.
    recorded: Option<String>,
    /// Every finding recorded apart, as "who: value (when)", when they
    /// differ.
    conflict: Option<Vec<String>>,
    disabled: bool,
    on_choose: EventHandler<String>,
) -> Element {
    let in_conflict = conflict.is_some();
    let recorded = recorded.filter(|_| !in_conflict);
    let conflict_id = format!("{name}-conflict");
    rsx! {
        fieldset { class: "choices",
            aria_describedby: if in_conflict { Some(conflict_id.clone()) } else { None },
            legend { "{legend}" }
            if let Some(values) = conflict {
                p { id: "{conflict_id}", class: "notice urgent conflict",
                    strong { "Findings recorded apart differ. " }
                    "{values.join(\" · \")} — choose the finding that stands."
                }
            }
            for (value, label) in options {
                label { key: "{value}", class: "choice",
                    input {
                        r#type: "radio",
                        name: "{name}",
                        value: "{value}",
                        checked: !in_conflict && chosen.as_deref() == Some(value.as_str()),
                        disabled,
                        onchange: {
                            let value = value.clone();
                            move |_| on_choose.call(value.clone())
                        },
                    }
                    " {label}"
                }
            }
            if let Some(by) = recorded {
                p { class: "quiet", "Recorded by {by}." }
            }
        }
    }
}

/// The evidence linked so far, and what of the visit can be linked: its
/// own words, a sentence at a time, and its creative-method observations.
#[component]
fn Evidence(
    evidence: Signal<Vec<LinkedEvidence>>,
    visit: Option<VisitDoc>,
    visit_id: String,
    writing: bool,
    act: EventHandler<Op>,
) -> Element {
    let core = use_core();
    let name = |id: &str| core.get().name_of(id);
    let linked = evidence.read().clone();
    let items: Vec<(String, &str, String, Option<String>, String)> = linked
        .iter()
        .map(|e| {
            let kind = match e.evidence.kind {
                EvidenceKind::OwnWords => "Their own words",
                EvidenceKind::Creative => "A creative-method observation",
            };
            let quote = e.evidence.quote.as_str();
            let note = match (e.evidence.kind, &e.now) {
                (EvidenceKind::OwnWords, None) => Some(
                    "These words have since been deleted from the visit; the quote is kept as linked."
                        .to_owned(),
                ),
                (_, Some(now)) if now != quote => Some(format!("The visit now reads: “{now}”")),
                _ => None,
            };
            let by = format!(
                "Linked by {}, {}",
                name(&e.evidence.added_by),
                labels::day_time(&e.evidence.added_at)
            );
            (e.id.clone(), kind, quote.to_owned(), note, by)
        })
        .collect();
    let linked_at: Vec<(usize, usize)> = linked.iter().filter_map(|e| e.at).collect();
    let linked_observations: Vec<&str> = linked
        .iter()
        .filter(|e| e.evidence.kind == EvidenceKind::Creative)
        .map(|e| e.evidence.observation.as_str())
        .collect();
    let words = visit
        .as_ref()
        .map(|v| v.own_words.text.as_str().to_owned())
        .unwrap_or_default();
    let chars: Vec<char> = words.chars().collect();
    let passages: Vec<(usize, usize, String)> = own_words_passages(&words)
        .into_iter()
        .map(|r| (r.start, r.end, chars[r.clone()].iter().collect()))
        .collect();
    let whole = passages
        .first()
        .zip(passages.last())
        .map(|(f, l)| (f.0, l.1))
        .filter(|_| passages.len() > 1);
    let observations: Vec<(String, CreativeMethod, String)> = visit
        .as_ref()
        .map(|v| {
            v.creative
                .iter()
                .map(|(id, o)| (id.clone(), o.method, o.expressed.as_str().to_owned()))
                .collect()
        })
        .unwrap_or_default();

    rsx! {
        h3 { id: "evidence-h", "Evidence" }
        if linked.is_empty() {
            p { class: "quiet", "No evidence linked yet." }
        }
        ul { class: "list evidence", aria_labelledby: "evidence-h",
            for (id, kind, quote, note, by) in items {
                li { key: "{id}", class: "passage person",
                    p { class: "label", "{kind}" }
                    blockquote { "{quote}" }
                    if let Some(note) = note {
                        p { class: "since-note", "{note}" }
                    }
                    p { class: "quiet", "{by}" }
                }
            }
        }
        if writing && visit.is_some() {
            h4 { id: "own-words-h", "Their own words in the visit" }
            if passages.is_empty() {
                p { class: "quiet", "The visit has none of their own words yet." }
            }
            ul { class: "list", aria_labelledby: "own-words-h",
                for (n, (from, to, quote)) in passages.into_iter().enumerate() {
                    li { key: "{from}-{to}",
                        blockquote { id: "own-words-{n}", "{quote}" }
                        if linked_at.contains(&(from, to)) {
                            p { class: "quiet", "Linked as evidence." }
                        } else {
                            button {
                                class: "secondary",
                                r#type: "button",
                                aria_describedby: "own-words-{n}",
                                onclick: {
                                    let visit_id = visit_id.clone();
                                    move |_| act.call(Op::OwnWords { visit_id: visit_id.clone(), from, to })
                                },
                                "Use these words as evidence"
                            }
                        }
                    }
                }
            }
            if let Some((from, to)) = whole.filter(|w| !linked_at.contains(w)) {
                button {
                    class: "secondary",
                    r#type: "button",
                    onclick: {
                        let visit_id = visit_id.clone();
                        move |_| act.call(Op::OwnWords { visit_id: visit_id.clone(), from, to })
                    },
                    "Use all of their words as evidence"
                }
            }
            h4 { id: "observations-h", "Creative-method observations in the visit" }
            if observations.is_empty() {
                p { class: "quiet", "The visit has no creative-method observations." }
            }
            ul { class: "list", aria_labelledby: "observations-h",
                for (n, (id, method, expressed)) in observations.into_iter().enumerate() {
                    li { key: "{id}",
                        p { id: "observation-{n}",
                            strong { "{labels::creative_method(method)}: " }
                            if expressed.trim().is_empty() { "nothing written yet" } else { "{expressed}" }
                        }
                        if linked_observations.contains(&id.as_str()) {
                            p { class: "quiet", "Linked as evidence." }
                        } else {
                            button {
                                class: "secondary",
                                r#type: "button",
                                aria_describedby: "observation-{n}",
                                onclick: {
                                    let (visit_id, id) = (visit_id.clone(), id.clone());
                                    move |_| act.call(Op::Creative { visit_id: visit_id.clone(), observation: id.clone() })
                                },
                                "Use this observation as evidence"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A complete assessment: what it found, who completed it and when, and
/// anything recorded since by someone who had not seen the completion.
#[component]
fn Completed(a: CapacityDoc, since: Vec<ChangedSinceCompletion>) -> Element {
    let core = use_core();
    let name = |id: &str| core.get().name_of(id);
    let found = a.outcome.map(labels::outcome).unwrap_or("not recorded");
    rsx! {
        div { class: "notice ok", role: "status",
            p {
                strong { "Complete: the person {found}. " }
                "Completed by {name(&a.completed_by)} on {labels::when(&a.completed_at)}. It is read-only until it is reopened, with a reason."
            }
        }
        if !since.is_empty() {
            div { class: "notice urgent",
                h2 { id: "since-h", "Changed since it was completed" }
                p { "Recorded on a device that had not yet seen the completion. Reopen the assessment to take it into account." }
                ul { aria_labelledby: "since-h",
                    for (n, change) in since.iter().enumerate() {
                        li { key: "{n}", "{describe(change, &name)}" }
                    }
                }
            }
        }
    }
}

fn describe(change: &ChangedSinceCompletion, name: &dyn Fn(&str) -> String) -> String {
    let values = |values: &[String]| -> String {
        if values.is_empty() {
            "none".to_owned()
        } else {
            values.join(" · ")
        }
    };
    match change {
        ChangedSinceCompletion::Text {
            text,
            at_completion,
            now,
        } => format!(
            "{}: “{at_completion}” is now “{now}”",
            labels::sentence(text.name())
        ),
        ChangedSinceCompletion::AssessedAt { at_completion, now } => format!(
            "When it is assessed: {} is now {}",
            labels::when(at_completion),
            labels::when(now)
        ),
        ChangedSinceCompletion::Methods { now, .. } => format!(
            "Creative methods used are now: {}",
            values(
                &now.iter()
                    .map(|m| labels::creative_method(*m).to_owned())
                    .collect::<Vec<_>>()
            )
        ),
        ChangedSinceCompletion::EvidenceLinked { .. } => "More evidence was linked".to_owned(),
        ChangedSinceCompletion::EvidenceNote { now, .. } => {
            format!("A note on the evidence is now “{now}”")
        }
        ChangedSinceCompletion::Finding { part, now, .. } => format!(
            "The finding for {}: {}",
            part.name(),
            values(
                &now.iter()
                    .map(|r| format!("{}: {}", name(&r.by), r.value.name()))
                    .collect::<Vec<_>>()
            )
        ),
        ChangedSinceCompletion::Impairment { now, .. } => format!(
            "The answer to the impairment question: {}",
            values(
                &now.iter()
                    .map(|r| format!("{}: {}", name(&r.by), r.value.name()))
                    .collect::<Vec<_>>()
            )
        ),
    }
}

/// Every completion and reopening, oldest first.
#[component]
fn History(a: CapacityDoc) -> Element {
    let core = use_core();
    let name = |id: &str| core.get().name_of(id);
    let entries: Vec<(String, String)> = a
        .history()
        .into_iter()
        .map(|(id, c)| {
            let line = match (c.status, c.outcome) {
                (Status::Complete, Some(o)) => format!(
                    "Completed by {} on {}: {}",
                    name(&c.by),
                    labels::when(&c.at),
                    labels::outcome(o)
                ),
                _ => format!(
                    "Reopened by {} on {}: {}",
                    name(&c.by),
                    labels::when(&c.at),
                    c.reason.as_str()
                ),
            };
            (id.to_owned(), line)
        })
        .collect();
    rsx! {
        if !entries.is_empty() {
            h3 { id: "history-h", "History" }
            ol { class: "history", aria_labelledby: "history-h",
                for (id, line) in entries {
                    li { key: "{id}", "{line}" }
                }
            }
        }
    }
}

/// The assessments started from one visit, for the visit screen: an
/// assessment is its own record, and the visit links to it.
#[component]
pub fn FromVisit(case_id: String, visit_id: String) -> Element {
    let core = use_core();
    let mut assessments = use_signal(Vec::<(String, CapacityDoc)>::new);
    let load = (case_id.clone(), visit_id.clone());
    use_future(move || {
        let (case_id, visit_id) = load.clone();
        async move {
            let core = core.get();
            let mut changes = core.case_changes(&case_id).await.ok();
            loop {
                if let Ok(all) = core.assessments_of_case(&case_id).await {
                    let from_here = all.into_iter().filter(|(_, a)| a.visit_id == visit_id);
                    assessments.set(from_here.collect());
                }
                let Some(changes) = changes.as_mut() else {
                    return;
                };
                if changes.next().await.is_none() {
                    return;
                }
            }
        }
    });
    let list = assessments();
    if list.is_empty() {
        return rsx! {};
    }
    rsx! {
        ul { class: "list", aria_label: "Capacity assessments started from this visit",
            for (id, a) in list {
                li { key: "{id}",
                    button {
                        class: "row",
                        r#type: "button",
                        onclick: {
                            let (case_id, id) = (case_id.clone(), id.clone());
                            move |_| navigate(Route::Capacity { case_id: case_id.clone(), assessment_id: id.clone() })
                        },
                        span { class: "title", "{summary_title(&a)}" }
                        span { class: "quiet", "{summary_state(&a)}" }
                    }
                }
            }
        }
    }
}

/// What the case and visit lists call an assessment.
pub fn summary_title(a: &CapacityDoc) -> String {
    let decision = a.decision.as_str().trim();
    if decision.is_empty() {
        "Capacity assessment: decision not yet named".to_owned()
    } else {
        format!("Capacity assessment: {decision}")
    }
}

pub fn summary_state(a: &CapacityDoc) -> String {
    match (a.status, a.outcome) {
        (Status::Complete, Some(o)) => {
            format!(
                "complete: {} · {}",
                labels::outcome(o),
                labels::when(&a.completed_at)
            )
        }
        _ => format!("in progress · started {}", labels::when(&a.created_at)),
    }
}
