//! The practice's case record: the person's details, the chronology (each
//! item linking to where it comes from), every visit with its passages,
//! annotations and review, who wrote each passage, and the record as it
//! stood at a chosen time with what changed since marked. Read from the
//! server (the merged record, as the practice holds it), which audits every
//! opening; two columns on a desktop, one on a phone.

use std::collections::HashMap;

use dioxus::prelude::*;
use fieldvisit_shared::api::{
    Authorship, CaseRecord, OtherRecord, PassageView, TimeSpan, VisitRecord,
};
use fieldvisit_shared::history::Since;
use fieldvisit_shared::records::Voice;

use super::{Route, labels, navigate, use_core};

/// The element id of a passage (or, without one, of a document's section).
pub fn anchor(document_id: &str, passage: Option<&str>) -> String {
    match passage {
        Some(p) => format!("p-{document_id}-{}", p.replace(':', "_")),
        None => format!("d-{document_id}"),
    }
}

/// The route to a passage of a case's record (as it stood at `at`).
pub fn link(case_id: &str, document_id: &str, passage: Option<&str>, at: Option<&str>) -> String {
    let focus = match passage {
        Some(p) => format!("{document_id}~{p}"),
        None => document_id.to_owned(),
    };
    Route::Record {
        case_id: case_id.to_owned(),
        at: at.map(str::to_owned),
        focus: Some(focus),
    }
    .to_fragment()
}

#[component]
pub fn RecordScreen(case_id: String, at: Option<String>, focus: Option<String>) -> Element {
    let core = use_core();
    let record = {
        let (case_id, at) = (case_id.clone(), at.clone());
        use_resource(use_reactive!(|(case_id, at)| async move {
            let core = core.get();
            Some(
                core.case_record(&case_id, at.as_deref())
                    .await
                    .map_err(|e| e.to_string()),
            )
        }))
    };
    // Once the record is shown, bring the linked passage into view.
    let target = focus.as_deref().map(|f| match f.split_once('~') {
        Some((doc, passage)) => anchor(doc, Some(passage)),
        None => anchor(f, None),
    });
    let loaded = matches!(&*record.read(), Some(Some(Ok(_))));
    use_effect(use_reactive!(|(loaded, target)| {
        if let (true, Some(id)) = (loaded, target) {
            document::eval(&format!(
                "document.querySelectorAll('.focused').forEach(x => x.classList.remove('focused')); const e = document.getElementById({id:?}); if (e) {{ e.scrollIntoView({{block: 'center'}}); e.classList.add('focused'); e.focus({{preventScroll: true}}); }}"
            ));
        }
    }));

    let back = rsx! {
        nav { aria_label: "Back",
            a { class: "link", href: "{Route::Cases.to_fragment()}", "← Cases" }
        }
    };
    let r = match &*record.read() {
        None | Some(None) => {
            return rsx! { {back} p { role: "status", "Opening the case record…" } };
        }
        Some(Some(Err(why))) => {
            return rsx! {
                {back}
                h1 { "Case record" }
                p { role: "alert", "The case record could not be opened: {why}" }
                p { class: "hint", "The case record is read from the practice's server, so it needs a connection." }
            };
        }
        Some(Some(Ok(r))) => r.clone(),
    };
    let name = r
        .details
        .iter()
        .find(|p| p.key == "person:name")
        .map(|p| p.text.clone())
        .unwrap_or_default();

    rsx! {
        {back}
        h1 { "{name}" }
        p { class: "quiet", "Case {r.reference} · the practice's record" }
        AsAtForm { case_id: case_id.clone(), at: at.clone() }
        if let Some(when) = &r.as_at {
            p { class: "note as-at-note", role: "status",
                "As the practice's server held it at {labels::when(when)}. "
                "Marked: words changed or removed since. "
                if r.visits_since > 0 {
                    "{r.visits_since} visit(s) arrived later and are not shown."
                }
            }
        }
        div { class: "record",
            div { class: "record-side",
                section { aria_labelledby: "details-h",
                    h2 { id: "details-h", "Details" }
                    dl {
                        for p in r.details.iter().filter(|p| !p.text.is_empty() || !p.since.is_empty()) {
                            div { key: "{p.key}", id: anchor(&r.document_id, Some(&p.key)), tabindex: "-1",
                                dt { "{p.label}" }
                                dd { PassageText { passage: p.clone() } }
                            }
                        }
                    }
                }
                Chronology { record: r.clone() }
            }
            div { class: "record-main",
                h2 { "Visits" }
                if r.visits.is_empty() {
                    p { class: "quiet", "No visits in the record yet." }
                }
                for v in r.visits.iter() {
                    VisitPanel { key: "{v.document_id}", visit: v.clone(), as_at: r.as_at.is_some() }
                }
                if !r.records.is_empty() {
                    h2 { "Safeguarding concerns and capacity assessments" }
                    for o in r.records.iter() {
                        OtherPanel { key: "{o.document_id}", record: o.clone(), as_at: r.as_at.is_some() }
                    }
                }
            }
        }
    }
}

#[component]
fn AsAtForm(case_id: String, at: Option<String>) -> Element {
    let mut value = use_signal(|| at.as_deref().map(labels::local_input).unwrap_or_default());
    let mut error = use_signal(|| None::<String>);
    let show = {
        let case_id = case_id.clone();
        move |e: FormEvent| {
            e.prevent_default();
            match labels::from_local_input(&value()) {
                Some(at) => {
                    error.set(None);
                    navigate(Route::Record {
                        case_id: case_id.clone(),
                        at: Some(at),
                        focus: None,
                    });
                }
                None => error.set(Some("Pick a date and a time.".into())),
            }
        }
    };
    rsx! {
        form { class: "as-at", onsubmit: show,
            label { r#for: "as-at", "Show the record as it stood at" }
            div { class: "inline",
                input {
                    id: "as-at",
                    r#type: "datetime-local",
                    step: "1",
                    value: "{value}",
                    oninput: move |e| value.set(e.value()),
                }
                button { r#type: "submit", "Show" }
                if at.is_some() {
                    a { class: "button", href: Route::Record { case_id: case_id.clone(), at: None, focus: None }.to_fragment(), "As it stands now" }
                }
            }
            if let Some(why) = error() {
                p { class: "error", role: "alert", "{why}" }
            }
        }
    }
}

#[component]
fn Chronology(record: CaseRecord) -> Element {
    rsx! {
        section { aria_labelledby: "chronology-h", class: "chronology",
            h2 { id: "chronology-h", "Chronology" }
            if record.chronology.is_empty() {
                p { class: "quiet", "Nothing yet." }
            }
            ol { class: "chronology", aria_label: "Chronology, newest first",
                for (n, row) in record.chronology.iter().enumerate() {
                    li { key: "{n}", class: "event {row.kind}", "data-at": "{row.at}",
                        time { datetime: "{row.at}", "{labels::when(&row.at)}" }
                        " "
                        a {
                            href: match &row.document_id {
                                Some(doc) => link(&record.case_id, doc, row.passage.as_deref(), record.as_at.as_deref()),
                                None => Route::Record { case_id: record.case_id.clone(), at: None, focus: None }.to_fragment(),
                            },
                            class: "title",
                            "{row.title}"
                        }
                        if !row.by.is_empty() {
                            span { class: "quiet", " · {row.by}" }
                        }
                        if !row.summary.is_empty() {
                            p { class: "summary", "{row.summary}" }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn VisitPanel(visit: VisitRecord, as_at: bool) -> Element {
    let v = visit;
    let heading = format!("Visit on {}", labels::when(&v.started_at));
    rsx! {
        section { class: "visit", id: anchor(&v.document_id, None), tabindex: "-1",
            aria_label: "{heading}",
            h3 { "{heading}" }
            p { class: "quiet",
                "By {v.author} · {labels::place(v.place)} · {labels::review(v.review)}"
                if !v.communication.is_empty() {
                    " · communicated through "
                    {v.communication.iter().map(|c| labels::communication(*c)).collect::<Vec<_>>().join(", ")}
                }
            }
            // Photos, annotations and review comments are shown with their
            // own lists below.
            for p in v.passages.iter().filter(|p| {
                (!p.text.is_empty() || !p.since.is_empty())
                    && !p.key.starts_with("annotation:")
                    && !p.key.starts_with("decision:")
                    && !p.key.starts_with("photo:")
            }) {
                Passage { key: "{p.key}", document_id: v.document_id.clone(), passage: p.clone(), as_at }
            }
            if !v.photos.is_empty() {
                h4 { "Photos" }
                ul { class: "photos", aria_label: "Photos of this visit",
                    for (n, p) in v.photos.iter().enumerate() {
                        li { key: "{p.sha256}", class: "photo",
                            if let Some((by, at)) = &p.removed {
                                p { class: "quiet", "A photo removed by {by}, {labels::when(at)}" }
                            } else {
                                super::photos::Thumbnail {
                                    visit_id: v.document_id.clone(),
                                    sha256: p.sha256.clone(),
                                    label: if p.caption.is_empty() { format!("Photo {}", n + 1) } else { p.caption.clone() },
                                }
                                if !p.caption.is_empty() {
                                    p { "{p.caption}" }
                                }
                                p { class: "quiet", "Taken {labels::when(&p.captured_at)}" }
                            }
                        }
                    }
                }
            }
            if !v.annotations.is_empty() {
                h4 { "Supervisor's annotations" }
                ul { class: "annotations",
                    for a in v.annotations.iter() {
                        li { key: "{a.id}", id: anchor(&v.document_id, Some(&format!("annotation:{}", a.id))), tabindex: "-1",
                            class: if a.resolved_by.is_some() { "annotation resolved" } else { "annotation" },
                            p { class: "quiet", "{a.author}, {labels::when(&a.at)}, on {labels::field(a.field)}" }
                            blockquote { mark { "{a.quote}" } }
                            p { class: "comment", "{a.body}" }
                            if let Some(by) = &a.resolved_by {
                                p { class: "quiet", "Resolved by {by}" }
                            }
                        }
                    }
                }
            }
            if !v.decisions.is_empty() {
                h4 { "Review" }
                ol { class: "history",
                    for d in v.decisions.iter() {
                        li { key: "{d.id}", id: anchor(&v.document_id, Some(&format!("decision:{}", d.id))), tabindex: "-1",
                            "{labels::decision(d.status)} by {d.by}, {labels::when(&d.at)}"
                            if !d.comment.is_empty() {
                                ": “{d.comment}”"
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A concern or an assessment: where it stands, then its words.
#[component]
fn OtherPanel(record: OtherRecord, as_at: bool) -> Element {
    let o = record;
    rsx! {
        section { class: "visit {o.kind}", id: anchor(&o.document_id, None), tabindex: "-1",
            aria_label: "{o.title}",
            h3 { "{o.title}" }
            if !o.by.is_empty() {
                p { class: "quiet", "By {o.by}, {labels::when(&o.at)}" }
            }
            p { class: "note",
                "{o.status}"
                if let Some(at) = &o.status_at {
                    ", {labels::when(at)}"
                }
            }
            for p in o.passages.iter().filter(|p| !p.text.is_empty() || !p.since.is_empty()) {
                Passage { key: "{p.key}", document_id: o.document_id.clone(), passage: p.clone(), as_at }
            }
        }
    }
}

fn voice_class(voice: Voice) -> &'static str {
    match voice {
        Voice::Person => "passage person",
        Voice::Worker => "passage worker",
        Voice::Oversight => "passage oversight",
        Voice::Record => "passage",
    }
}

#[component]
fn Passage(document_id: String, passage: PassageView, as_at: bool) -> Element {
    let core = use_core();
    let mut who = use_signal(|| None::<Result<Authorship, String>>);
    let p = passage;
    let id = anchor(&document_id, Some(&p.key));
    let ask = {
        let (document_id, key) = (document_id.clone(), p.key.clone());
        move |_| {
            if who.peek().is_some() {
                who.set(None);
                return;
            }
            let (document_id, key) = (document_id.clone(), key.clone());
            spawn(async move {
                let core = core.get();
                who.set(Some(
                    core.authorship(&document_id, &key)
                        .await
                        .map_err(|e| e.to_string()),
                ));
            });
        }
    };
    rsx! {
        div { class: voice_class(p.voice), id: "{id}", tabindex: "-1", role: "group", aria_label: "{p.label}",
            p { class: "label", "{p.label}" }
            PassageText { passage: p.clone() }
            if !as_at {
                button {
                    class: "link who",
                    r#type: "button",
                    aria_expanded: if who.read().is_some() { "true" } else { "false" },
                    onclick: ask,
                    if who.read().is_some() { "Hide who wrote this" } else { "Who wrote this?" }
                }
            }
            // Authorship is of the text as it stands: not shown as at a time.
            match &*who.read() {
                _ if as_at => rsx! {},
                Some(Ok(a)) => rsx! { AuthorshipView { authorship: a.clone() } },
                Some(Err(why)) => rsx! { p { class: "error", role: "alert", "Authorship could not be read: {why}" } },
                None => rsx! {},
            }
        }
    }
}

/// A passage's text; as at a time, the text then with what changed since
/// marked (words since removed or rewritten; a mark where words were added).
#[component]
fn PassageText(passage: PassageView) -> Element {
    let p = passage;
    if p.since.is_empty() {
        return rsx! { p { class: "text", "{p.text}" } };
    }
    let changed = p.since.iter().any(|s| s.since != Since::Same);
    let added: Vec<String> = p
        .since
        .iter()
        .filter(|s| s.since == Since::Added)
        .map(|s| s.text.clone())
        .collect();
    rsx! {
        p { class: "text then",
            for (n, s) in p.since.iter().enumerate() {
                match s.since {
                    Since::Same => rsx! { span { key: "{n}", "{s.text}" } },
                    Since::Removed => rsx! { mark { key: "{n}", class: "changed-since", title: "changed or removed since", "{s.text}" } },
                    Since::Added => rsx! { span { key: "{n}", class: "added-since", role: "img", aria_label: "words added here since", title: "added since: {s.text}" } },
                }
            }
        }
        if changed {
            p { class: "since-note",
                if added.is_empty() {
                    "Changed since: the marked words were removed."
                } else {
                    "Changed since: the marked words were removed or rewritten; added since: "
                    for (n, a) in added.iter().enumerate() {
                        span { key: "{n}",
                            if n > 0 { "; " }
                            q { "{a}" }
                        }
                    }
                }
            }
        }
    }
}

#[component]
fn AuthorshipView(authorship: Authorship) -> Element {
    // One colour per person, in the order they first wrote.
    let mut order: HashMap<String, usize> = HashMap::new();
    for run in &authorship.runs {
        let n = order.len();
        order.entry(run.person.clone()).or_insert(n);
    }
    let class = |person: &str| format!("run a{}", order.get(person).copied().unwrap_or(0) % 6);
    rsx! {
        div { class: "authorship", role: "region", aria_label: "Who wrote {authorship.label}",
            p { class: "runs",
                for (n, run) in authorship.runs.iter().enumerate() {
                    span { key: "{n}", class: class(&run.person), title: "{run.person}", "{run.text}" }
                }
            }
            ol { class: "authors",
                for (n, run) in authorship.runs.iter().enumerate() {
                    li { key: "{n}", class: "author",
                        span { class: class(&run.person), "“{run.text}”" }
                        " "
                        strong { class: "person", "{run.person}" }
                        span { class: "quiet", " on {run.device}" }
                        br {}
                        span { class: "times",
                            match &run.device_time {
                                Some(t) => rsx! { "Written {span(t)} (the device's clock); " },
                                None => rsx! { "The device did not record when; " },
                            }
                            match &run.received {
                                Some(at) => rsx! { "received by the server {span(at)}" },
                                None if run.made_on_server => rsx! { "made on the server" },
                                None => rsx! { "received before the server kept receipts" },
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "27 Nov 2026, 14:03:07", or a range when the stretch took longer.
fn span(t: &TimeSpan) -> String {
    if t.from == t.to {
        labels::when_exact(&t.from)
    } else {
        format!(
            "{} to {}",
            labels::when_exact(&t.from),
            labels::when_exact(&t.to)
        )
    }
}
