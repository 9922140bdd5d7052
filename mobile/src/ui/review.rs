//! Oversight on a visit, as the worker and the supervisor see it: the
//! review (submit, return with comments, sign off, and its history), the
//! supervisor's annotations on passages, and addenda after sign-off. What
//! each person may do comes from the record's rules in `shared`, the same
//! ones the server enforces.

use dioxus::prelude::*;
use fieldvisit_shared::VisitDoc;
use fieldvisit_shared::api::Role;
use fieldvisit_shared::records::{
    Anchored, Annotation, ChangedSinceSignOff, ReviewStatus, TextField,
};

use super::{OpenCore, labels, use_core};

/// Who is using the app: (person id, role).
fn me(core: &OpenCore) -> (String, Role) {
    let c = core.get();
    (c.person().id.clone(), c.person().role)
}

/// A person's name for an id a record holds.
fn name(core: &OpenCore, id: &str) -> String {
    core.get().name_of(id)
}

/// The latest return's comments, at the top of a returned visit, so the
/// worker opens the visit at them.
#[component]
pub fn ReturnedBanner(visit: ReadSignal<Option<VisitDoc>>) -> Element {
    let core = use_core();
    let Some(v) = visit() else {
        return rsx! {};
    };
    let Some(returned) = v.review.return_comment() else {
        return rsx! {};
    };
    rsx! {
        section { class: "returned", role: "alert", aria_labelledby: "returned-h",
            h2 { id: "returned-h", "Returned for changes" }
            p { class: "quiet", "By {name(&core, &returned.by)}, {labels::when(&returned.at)}" }
            blockquote { "{returned.comment.as_str()}" }
        }
    }
}

#[component]
pub fn ReviewPanel(visit_id: String, visit: ReadSignal<Option<VisitDoc>>) -> Element {
    let core = use_core();
    let (my_id, my_role) = me(&core);
    let mut comment = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let since = {
        let visit_id = visit_id.clone();
        use_resource(move || {
            let visit_id = visit_id.clone();
            // Re-read whenever the visit changes.
            let _ = visit.read();
            async move {
                let core = core.get();
                core.since_sign_off(&visit_id).await.ok()
            }
        })
    };
    let Some(v) = visit() else {
        return rsx! {};
    };
    let status = v.review.status;
    let decide = {
        let visit_id = visit_id.clone();
        move |to: ReviewStatus| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                let said = comment.peek().trim().to_owned();
                if to == ReviewStatus::Returned && said.is_empty() {
                    error.set(Some(
                        "Say what needs changing before returning the visit.".into(),
                    ));
                    return;
                }
                match core.decide(&visit_id, to, &said).await {
                    Ok(()) => {
                        comment.set(String::new());
                        error.set(None);
                    }
                    Err(e) => error.set(Some(format!("Not done: {e}"))),
                }
            }
        }
    };
    let is_author = my_role == Role::Worker && v.author == my_id;
    let can_submit = is_author && matches!(status, ReviewStatus::Draft | ReviewStatus::Returned);
    let can_decide = my_role == Role::Supervisor && status == ReviewStatus::Submitted;
    let changed: Vec<ChangedSinceSignOff> = since().flatten().unwrap_or_default();

    rsx! {
        section { aria_labelledby: "review-h",
            h2 { id: "review-h", "Review and supervision" }
            p { class: "status", "{labels::review(status)}" }
            if let Some(why) = error() {
                p { class: "error", role: "alert", "{why}" }
            }
            if can_submit {
                button {
                    class: "primary",
                    r#type: "button",
                    onclick: {
                        let decide = decide.clone();
                        move |_| decide(ReviewStatus::Submitted)
                    },
                    "Submit for review"
                }
            }
            if can_decide {
                div { class: "field",
                    label { r#for: "review-comment", "Comments for the worker" }
                    p { id: "review-comment-hint", class: "hint", "Needed to return the visit; kept with the decision." }
                    textarea {
                        autocomplete: "off",
                        id: "review-comment",
                        rows: "3",
                        aria_describedby: "review-comment-hint",
                        value: "{comment}",
                        oninput: move |e| comment.set(e.value()),
                    }
                }
                div { class: "actions",
                    button {
                        class: "secondary",
                        r#type: "button",
                        onclick: {
                            let decide = decide.clone();
                            move |_| decide(ReviewStatus::Returned)
                        },
                        "Return with comments"
                    }
                    button {
                        class: "primary",
                        r#type: "button",
                        onclick: {
                            let decide = decide.clone();
                            move |_| decide(ReviewStatus::SignedOff)
                        },
                        "Sign off"
                    }
                }
            }
            if !changed.is_empty() {
                section { class: "after-sign-off", aria_labelledby: "after-h",
                    h3 { id: "after-h", "Changed after sign-off" }
                    p { class: "hint", "Written on a device that had not yet heard of the sign-off. Nothing was lost; read what changed." }
                    for c in changed {
                        div { key: "{c.field.as_str()}", class: "item",
                            h4 { "{labels::field(c.field)}" }
                            p { class: "quiet", "At sign-off:" }
                            blockquote { "{c.at_sign_off}" }
                            p { class: "quiet", "Now:" }
                            blockquote { "{c.now}" }
                        }
                    }
                }
            }
            if !v.review.decisions.is_empty() {
                h3 { "History" }
                ol { class: "history",
                    for (id, d) in v.review.history() {
                        li { key: "{id}",
                            "{labels::decision(d.status)} by {name(&core, &d.by)}, {labels::when(&d.at)}"
                            if !d.comment.as_str().is_empty() {
                                blockquote { "{d.comment.as_str()}" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Character index in `text` of a UTF-16 offset (what a text box reports).
fn char_index(text: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (n, c) in text.chars().enumerate() {
        if units >= utf16 {
            return n;
        }
        units += c.len_utf16();
    }
    text.chars().count()
}

/// The supervisor's comments on one text of the visit, under it, each on
/// the words it was made on (wherever they are now); and, for a
/// supervisor, a comment on the words selected in that text.
#[component]
pub fn Annotations(
    visit_id: String,
    field: TextField,
    /// The id of the text box the words are selected in.
    text_id: String,
    visit: ReadSignal<Option<VisitDoc>>,
) -> Element {
    let core = use_core();
    let (_, my_role) = me(&core);
    let mut selection = use_signal(|| None::<(usize, usize, String)>);
    let mut body = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let notes = {
        let visit_id = visit_id.clone();
        use_resource(move || {
            let visit_id = visit_id.clone();
            let _ = visit.read();
            async move {
                let core = core.get();
                core.annotations(&visit_id).await.ok()
            }
        })
    };
    let text = visit()
        .map(|v| v.text(field).to_owned())
        .unwrap_or_default();
    let mine: Vec<(String, Annotation, Anchored)> = notes()
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, a, _)| a.field == field)
        .collect();

    let pick = {
        let (text_id, text) = (text_id.clone(), text.clone());
        move |_| {
            let (text_id, text) = (text_id.clone(), text.clone());
            async move {
                let js = format!(
                    "const e = document.getElementById({text_id:?}); return e ? [e.selectionStart, e.selectionEnd] : [0, 0];"
                );
                let picked: Result<Vec<usize>, _> = document::eval(&js).join().await;
                match picked.as_deref() {
                    Ok([a, b]) if a < b => {
                        let (from, to) = (char_index(&text, *a), char_index(&text, *b));
                        let quote: String = text.chars().skip(from).take(to - from).collect();
                        selection.set(Some((from, to, quote)));
                        error.set(None);
                    }
                    _ => error.set(Some(
                        "Select the words in the text first, then choose Comment.".into(),
                    )),
                }
            }
        }
    };
    let save = {
        let visit_id = visit_id.clone();
        move |_| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                let Some((from, to, _)) = selection() else {
                    return;
                };
                let said = body.peek().trim().to_owned();
                if said.is_empty() {
                    error.set(Some("Write the comment first.".into()));
                    return;
                }
                match core.annotate(&visit_id, field, from, to, &said).await {
                    Ok(_) => {
                        selection.set(None);
                        body.set(String::new());
                        error.set(None);
                    }
                    Err(e) => error.set(Some(format!("Not saved: {e}"))),
                }
            }
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let words = |at: &Anchored| match at {
        Anchored::At { from, to } if *to <= chars.len() => {
            Some(chars[*from..*to].iter().collect::<String>())
        }
        _ => None,
    };
    let input_id = format!("{text_id}-comment");

    rsx! {
        if !mine.is_empty() {
            ul { class: "annotations", aria_label: "Supervisor comments on {labels::field(field)}",
                for (id, a, at) in mine {
                    li { key: "{id}", class: if a.resolved_by.is_empty() { "annotation" } else { "annotation resolved" },
                        match words(&at) {
                            Some(w) => rsx! { p { "On " mark { "{w}" } } },
                            None => rsx! { p { class: "quiet", "The words this was on have been deleted. They read: " q { "{a.quote.as_str()}" } } },
                        }
                        p { class: "comment", "{a.body.as_str()}" }
                        p { class: "quiet", "{name(&core, &a.author)}, {labels::when(&a.created_at)}" }
                        if a.resolved_by.is_empty() {
                            button {
                                class: "link",
                                r#type: "button",
                                onclick: {
                                    let (visit_id, id) = (visit_id.clone(), id.clone());
                                    move |_| {
                                        let (visit_id, id) = (visit_id.clone(), id.clone());
                                        async move {
                                            let core = core.get();
                                            if let Err(e) = core.resolve_annotation(&visit_id, &id).await {
                                                error.set(Some(format!("Not saved: {e}")));
                                            }
                                        }
                                    }
                                },
                                "Mark resolved"
                            }
                        } else {
                            p { class: "quiet", "Resolved by {name(&core, &a.resolved_by)}, {labels::when(&a.resolved_at)}" }
                        }
                    }
                }
            }
        }
        if my_role == Role::Supervisor {
            match selection() {
                None => rsx! {
                    button { class: "secondary", r#type: "button", onclick: pick, "Comment on words selected in {labels::field(field)}" }
                },
                Some((_, _, quote)) => rsx! {
                    div { class: "field",
                        p { "On " mark { "{quote}" } }
                        label { r#for: "{input_id}", "Your comment" }
                        textarea {
                            autocomplete: "off",
                            id: "{input_id}",
                            rows: "2",
                            value: "{body}",
                            oninput: move |e| body.set(e.value()),
                        }
                        div { class: "actions",
                            button { class: "primary", r#type: "button", onclick: save, "Save comment" }
                            button { class: "link", r#type: "button", onclick: move |_| selection.set(None), "Cancel" }
                        }
                    }
                },
            }
        }
        if let Some(why) = error() {
            p { class: "error", role: "alert", "{why}" }
        }
    }
}

/// Words added after sign-off: dated, attributed, never an edit of what
/// was signed off.
#[component]
pub fn Addenda(visit_id: String, visit: ReadSignal<Option<VisitDoc>>) -> Element {
    let core = use_core();
    let (my_id, my_role) = me(&core);
    let mut draft = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let Some(v) = visit() else {
        return rsx! {};
    };
    if v.review.status != ReviewStatus::SignedOff {
        return rsx! {};
    }
    let mut addenda: Vec<_> = v.addenda.iter().collect();
    addenda.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(b.0)));
    let add = {
        let visit_id = visit_id.clone();
        move |_| {
            let visit_id = visit_id.clone();
            async move {
                let core = core.get();
                let text = draft.peek().trim().to_owned();
                if text.is_empty() {
                    error.set(Some("Write the addendum first.".into()));
                    return;
                }
                match core.add_addendum(&visit_id, &text).await {
                    Ok(_) => {
                        draft.set(String::new());
                        error.set(None);
                    }
                    Err(e) => error.set(Some(format!("Not saved: {e}"))),
                }
            }
        }
    };
    rsx! {
        section { aria_labelledby: "addenda-h",
            h2 { id: "addenda-h", "Addenda" }
            p { class: "hint", "This visit is signed off, so its words stay as they were signed. Anything you add is dated and kept apart." }
            if addenda.is_empty() {
                p { class: "quiet", "No addenda." }
            }
            ol { class: "addenda",
                for (id, a) in addenda {
                    li { key: "{id}", class: "addendum",
                        p { class: "quiet", "Addendum by {name(&core, &a.author)}, {labels::when(&a.at)}" }
                        p { "{a.text.as_str()}" }
                    }
                }
            }
            if my_role == Role::Worker && !my_id.is_empty() {
                div { class: "field",
                    label { r#for: "addendum", "Add an addendum" }
                    textarea {
                        autocomplete: "off",
                        id: "addendum",
                        rows: "3",
                        value: "{draft}",
                        oninput: move |e| draft.set(e.value()),
                    }
                }
                button { class: "primary", r#type: "button", onclick: add, "Add addendum" }
                if let Some(why) = error() {
                    p { class: "error", role: "alert", "{why}" }
                }
            }
        }
    }
}

/// On the case list: for a supervisor, the visits waiting for their
/// review; for a worker, their visits returned for changes. Re-read when
/// `refreshed` moves.
#[component]
pub fn ReviewQueue(refreshed: Signal<u64>) -> Element {
    let core = use_core();
    let (my_id, my_role) = me(&core);
    let queue = use_resource(move || {
        let my_id = my_id.clone();
        let _ = refreshed.read();
        async move {
            let core = core.get();
            let (status, author) = match core.person().role {
                Role::Supervisor => (ReviewStatus::Submitted, None),
                _ => (ReviewStatus::Returned, Some(my_id.as_str())),
            };
            core.visits_in_review(status, author).await.ok()
        }
    });
    let items = queue().flatten().unwrap_or_default();
    let (title, empty) = match my_role {
        Role::Supervisor => (
            "Waiting for your review",
            "Nothing is waiting for your review.",
        ),
        _ => ("Returned to you for changes", ""),
    };
    if items.is_empty() && empty.is_empty() {
        return rsx! {};
    }
    rsx! {
        section { aria_labelledby: "queue-h", class: if my_role == Role::Supervisor { "queue" } else { "queue returned" },
            h2 { id: "queue-h", "{title}" }
            if items.is_empty() {
                p { class: "quiet", "{empty}" }
            }
            ul { class: "list", aria_label: "{title}",
                for item in items {
                    li { key: "{item.visit_id}",
                        button {
                            class: "row",
                            r#type: "button",
                            onclick: {
                                let (case_id, visit_id) = (item.case_id.clone(), item.visit_id.clone());
                                move |_| super::navigate(super::Route::Visit { case_id: case_id.clone(), visit_id: visit_id.clone() })
                            },
                            span { class: "title", "{item.person_name}: visit on {labels::when(&item.started_at)}" }
                            span { class: "quiet", "by {name(&core, &item.author)}, {labels::when(&item.changed_at)}" }
                        }
                    }
                }
            }
        }
    }
}
