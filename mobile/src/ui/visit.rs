//! One visit, as the worker records it: the person's own words and how
//! they communicated, the worker's observations and analysis (three voices,
//! kept apart), actions, creative-method observations, and what review and
//! supervision have said.

use dioxus::prelude::*;
use fieldvisit_shared::VisitDoc;
use fieldvisit_shared::records::{
    ActionText, Communication, CreativeMethod, CreativeText, ReviewStatus, TextField, VisitText,
};

use super::auto_text::{AutoText, Source};
use super::review::{Addenda, Annotations, ReturnedBanner, ReviewPanel};
use super::{Route, labels, navigate, use_core, use_record};

#[component]
pub fn VisitScreen(case_id: String, visit_id: String) -> Element {
    let core = use_core();
    let mut error = use_signal(|| None::<String>);

    let record = use_record::<VisitDoc>(visit_id.clone());
    // The record once read (what the handlers below read from).
    let visit = use_memo(move || {
        record
            .read()
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .cloned()
    });

    let nav = rsx! { super::BackToCase { case_id: case_id.clone() } };

    if let Some(Err(why)) = record() {
        return rsx! {
            {nav}
            h1 { "Visit" }
            p { role: "alert", "This visit is not on this device yet: {why}" }
        };
    }
    let Some(v) = visit() else {
        return rsx! { {nav} p { role: "status", "Opening the visit…" } };
    };

    let toggle_mode = {
        let visit_id = visit_id.clone();
        move |mode: Communication| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                let mut modes = visit
                    .peek()
                    .as_ref()
                    .map(|v| v.own_words.communication.clone())
                    .unwrap_or_default();
                if let Some(i) = modes.iter().position(|m| *m == mode) {
                    modes.remove(i);
                } else {
                    modes.push(mode);
                }
                if let Err(e) = core.set_communication(&visit_id, &modes).await {
                    error.set(Some(format!("Not saved: {e}")));
                }
            }
        }
    };

    let add_action = {
        let visit_id = visit_id.clone();
        move |_| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                if let Err(e) = core.add_action(&visit_id).await {
                    error.set(Some(format!("The action could not be added: {e}")));
                }
            }
        }
    };

    let add_creative = {
        let visit_id = visit_id.clone();
        move |method: CreativeMethod| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                if let Err(e) = core.add_creative(&visit_id, method).await {
                    error.set(Some(format!("The observation could not be added: {e}")));
                }
            }
        }
    };

    let raise_concern = {
        let (case_id, visit_id) = (case_id.clone(), visit_id.clone());
        move |_| {
            let (case_id, visit_id) = (case_id.clone(), visit_id.clone());
            async move {
                let core = core.get();
                match core.start_concern(&case_id, &visit_id).await {
                    Ok(concern_id) => navigate(Route::Concern {
                        case_id,
                        concern_id,
                    }),
                    Err(e) => error.set(Some(format!("The concern could not be started: {e}"))),
                }
            }
        }
    };

    let start_assessment = {
        let (case_id, visit_id) = (case_id.clone(), visit_id.clone());
        move |_| {
            let (case_id, visit_id) = (case_id.clone(), visit_id.clone());
            async move {
                let core = core.get();
                match core.start_assessment(&case_id, &visit_id).await {
                    Ok(assessment_id) => navigate(Route::Capacity {
                        case_id,
                        assessment_id,
                    }),
                    Err(e) => error.set(Some(format!("The assessment could not be started: {e}"))),
                }
            }
        }
    };
    // Assessments are a worker's own judgement (the shared rules say so).
    let assesses = core.get().person().role == fieldvisit_shared::api::Role::Worker;

    let closed = v.review.status == ReviewStatus::SignedOff;
    let warning = core.get().warning(&visit_id).ok().flatten();
    let field = |f: TextField, id: &str, label: &str, hint: &str| {
        rsx! {
            AutoText {
                key: "{id}",
                source: Source::visit(&visit_id, VisitText::Field(f), visit),
                id: id.to_owned(),
                label: label.to_owned(),
                hint: Some(hint.to_owned()),
                read_only: closed,
            }
            Annotations { visit_id: visit_id.clone(), field: f, text_id: id.to_owned(), visit }
        }
    };

    rsx! {
        {nav}
        h1 { "Visit on {labels::when(&v.started_at)}" }
        p { class: "quiet", "{labels::place(v.place)} · {labels::review(v.review.status)}" }
        if let Some(why) = error() {
            p { class: "error", role: "alert", "{why}" }
        }
        if let Some(why) = warning {
            p { class: "error", role: "alert", "The server did not accept a change to this visit: {why}" }
        }
        p {
            button { class: "danger", r#type: "button", onclick: raise_concern, "Raise a safeguarding concern" }
        }
        if assesses {
            p {
                button { class: "secondary", r#type: "button", onclick: start_assessment, "Start a capacity assessment" }
            }
        }
        super::capacity::FromVisit { case_id: case_id.clone(), visit_id: visit_id.clone() }
        ReturnedBanner { visit }
        if closed {
            p { class: "notice", "Signed off: the record below is read-only. Add an addendum at the end." }
        }

        section { class: "voice person", aria_labelledby: "own-h",
            h2 { id: "own-h", "In their own words" }
            {field(TextField::OwnWords, "own-words", "What the person said or expressed, verbatim", "Their words only; your view goes below.")}
            fieldset { class: "chips",
                legend { "How they communicated" }
                for mode in Communication::ALL.iter().copied() {
                    button {
                        key: "{mode.as_str()}",
                        class: "chip",
                        r#type: "button",
                        disabled: closed,
                        aria_pressed: if v.own_words.communication.contains(&mode) { "true" } else { "false" },
                        onclick: {
                            let toggle = toggle_mode.clone();
                            move |_| toggle(mode)
                        },
                        "{labels::communication(mode)}"
                    }
                }
            }
        }

        section { class: "voice worker", aria_labelledby: "obs-h",
            h2 { id: "obs-h", "My observations" }
            {field(TextField::Observations, "observations", "What I saw and heard", "Facts: the home, the person's presentation, who was there.")}
        }

        section { class: "voice worker", aria_labelledby: "analysis-h",
            h2 { id: "analysis-h", "My analysis" }
            {field(TextField::Analysis, "analysis", "What I think it means", "Your professional judgement, kept apart from what you observed.")}
        }

        section { aria_labelledby: "actions-h",
            h2 { id: "actions-h", "Actions" }
            if v.actions.is_empty() {
                p { class: "quiet", "No actions yet." }
            }
            for (n, (id, action)) in v.actions.iter().enumerate() {
                div { key: "{id}", class: "item", role: "group", aria_label: "Action {n + 1}",
                    AutoText {
                        source: Source::visit(&visit_id, VisitText::Action { id: id.clone(), part: ActionText::Text }, visit),
                        id: format!("action-{id}-text"),
                        label: "What needs doing".to_string(),
                        hint: None,
                        read_only: closed,
                    }
                    AutoText {
                        source: Source::visit(&visit_id, VisitText::Action { id: id.clone(), part: ActionText::Owner }, visit),
                        id: format!("action-{id}-owner"),
                        label: "Who will do it".to_string(),
                        hint: None,
                        multiline: false,
                        read_only: closed,
                    }
                    label { class: "check",
                        input {
                            r#type: "checkbox",
                            checked: action.done,
                            disabled: closed,
                            onchange: {
                                let (visit_id, id) = (visit_id.clone(), id.clone());
                                move |e: FormEvent| {
                                    let (visit_id, id) = (visit_id.clone(), id.clone());
                                    async move {
                                        let core = core.get();
                                        if let Err(err) = core.set_action_done(&visit_id, &id, e.checked()).await {
                                            error.set(Some(format!("Not saved: {err}")));
                                        }
                                    }
                                }
                            },
                        }
                        "Done"
                    }
                }
            }
            if !closed {
                button { class: "secondary", r#type: "button", onclick: add_action, "Add an action" }
            }
        }

        Significant { visit_id: visit_id.clone(), visit, closed }

        super::photos::Photos { visit_id: visit_id.clone(), visit, closed }

        section { aria_labelledby: "creative-h",
            h2 { id: "creative-h", "Creative-method observations" }
            p { class: "hint", "When the person communicated through music, movement, art, sound or objects rather than words." }
            for (n, (id, obs)) in v.creative.iter().enumerate() {
                div { key: "{id}", class: "item", role: "group", aria_label: "Creative observation {n + 1}",
                    fieldset { class: "chips",
                        legend { "Method" }
                        for method in CreativeMethod::ALL.iter().copied() {
                            button {
                                key: "{method.as_str()}",
                                class: "chip",
                                r#type: "button",
                                disabled: closed,
                                aria_pressed: if obs.method == method { "true" } else { "false" },
                                onclick: {
                                    let (visit_id, id) = (visit_id.clone(), id.clone());
                                    move |_| {
                                        let (visit_id, id) = (visit_id.clone(), id.clone());
                                        async move {
                                            let core = core.get();
                                            if let Err(e) = core.set_creative_method(&visit_id, &id, method).await {
                                                error.set(Some(format!("Not saved: {e}")));
                                            }
                                        }
                                    }
                                },
                                "{labels::creative_method(method)}"
                            }
                        }
                    }
                    AutoText {
                        source: Source::visit(&visit_id, VisitText::Creative { id: id.clone(), part: CreativeText::Expressed }, visit),
                        id: format!("creative-{id}-expressed"),
                        label: "What they expressed".to_string(),
                        hint: None,
                        read_only: closed,
                    }
                    AutoText {
                        source: Source::visit(&visit_id, VisitText::Creative { id: id.clone(), part: CreativeText::How }, visit),
                        id: format!("creative-{id}-how"),
                        label: "How they expressed it".to_string(),
                        hint: None,
                        read_only: closed,
                    }
                    AutoText {
                        source: Source::visit(&visit_id, VisitText::Creative { id: id.clone(), part: CreativeText::Reading }, visit),
                        id: format!("creative-{id}-reading"),
                        label: "My reading of it".to_string(),
                        hint: Some("Your interpretation, kept apart from what they expressed.".to_string()),
                        read_only: closed,
                    }
                    ul { class: "photos", aria_label: "Photos of creative observation {n + 1}",
                        for sha in obs.photos.iter().filter(|s| v.photos.get(*s).is_some_and(|p| p.removed_by.is_empty())) {
                            li { key: "{sha}",
                                super::photos::Thumbnail {
                                    visit_id: visit_id.clone(),
                                    sha256: sha.clone(),
                                    label: format!("Photo of creative observation {}", n + 1),
                                }
                            }
                        }
                    }
                    if !closed {
                        super::photos::AddPhoto {
                            visit_id: visit_id.clone(),
                            creative: Some(id.clone()),
                            input_id: format!("creative-{id}-photo"),
                            label: "Add a photo of it",
                        }
                    }
                }
            }
            fieldset { class: "chips", hidden: closed,
                legend { "Add an observation through" }
                for method in CreativeMethod::ALL.iter().copied() {
                    button {
                        key: "{method.as_str()}",
                        class: "chip add",
                        r#type: "button",
                        onclick: {
                            let add = add_creative.clone();
                            move |_| add(method)
                        },
                        "+ {labels::creative_method(method)}"
                    }
                }
            }
        }

        ReviewPanel { visit_id: visit_id.clone(), visit }
        Addenda { visit_id: visit_id.clone(), visit }
    }
}

/// Events the worker marks significant: they stand in the case's
/// chronology beside the visit (a fall, a disclosure, a move).
#[component]
fn Significant(visit_id: String, visit: ReadSignal<Option<VisitDoc>>, closed: bool) -> Element {
    let core = use_core();
    let mut when = use_signal(|| chrono::Local::now().format("%Y-%m-%dT%H:%M").to_string());
    let mut error = use_signal(|| None::<String>);
    let events: Vec<(String, String)> = visit
        .read()
        .as_ref()
        .map(|v| {
            v.significant
                .iter()
                .map(|(id, e)| (id.clone(), e.at.clone()))
                .collect()
        })
        .unwrap_or_default();
    let add = {
        let visit_id = visit_id.clone();
        move |_| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                let Some(at) = labels::from_local_input(&when()) else {
                    error.set(Some("Say when it happened: a date and a time.".into()));
                    return;
                };
                match core.add_significant(&visit_id, &at).await {
                    Ok(_) => error.set(None),
                    Err(e) => error.set(Some(format!("Not saved: {e}"))),
                }
            }
        }
    };
    rsx! {
        section { aria_labelledby: "significant-h",
            h2 { id: "significant-h", "Significant events" }
            p { class: "hint", "Something the case chronology must show: a fall, a disclosure, a hospital admission, a move." }
            for (n, (id, at)) in events.into_iter().enumerate() {
                div { key: "{id}", class: "item", role: "group", aria_label: "Significant event {n + 1}",
                    p { class: "quiet", "Happened {labels::when(&at)}" }
                    AutoText {
                        source: Source::visit(&visit_id, VisitText::Significant { id: id.clone() }, visit),
                        id: format!("significant-{id}"),
                        label: "What happened".to_string(),
                        hint: None,
                        read_only: closed,
                    }
                }
            }
            if !closed {
                label { r#for: "significant-when", "When it happened" }
                input {
                    id: "significant-when",
                    r#type: "datetime-local",
                    value: "{when}",
                    oninput: move |e| when.set(e.value()),
                }
                if let Some(why) = error() {
                    p { class: "error", role: "alert", "{why}" }
                }
                button { class: "secondary", r#type: "button", onclick: add, "Mark a significant event" }
            }
        }
    }
}
