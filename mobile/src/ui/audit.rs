//! The audit log, for the practice admin: who opened which case record,
//! every review decision, every refusal, filtered by what, who, which case
//! and when. Names, not ids.

use dioxus::prelude::*;
use fieldvisit_shared::api::{AuditEntry, AuditFilter};

use super::{labels, use_core};

/// Entries a page.
const PAGE: u32 = 100;

/// The actions worth picking from; the log holds others too.
const ACTIONS: &[(&str, &str)] = &[
    ("", "Everything"),
    ("case_opened", "Case record opened"),
    ("searched", "Search"),
    ("review_decision", "Review decision"),
    ("assessment_completed", "Capacity assessment completed"),
    ("assessment_reopened", "Capacity assessment reopened"),
    ("change_refused", "Change refused"),
    ("assigned", "Assigned to a case"),
    ("unassigned", "Taken off a case"),
    ("device_enrolled", "Device enrolled"),
    ("device_revoked", "Device revoked"),
    ("device_wiped", "Device wiped"),
    ("audit_withheld", "Refusals counted, not written"),
];

#[component]
pub fn AuditScreen() -> Element {
    let core = use_core();
    let mut action = use_signal(String::new);
    let person = use_signal(String::new);
    let case = use_signal(String::new);
    let mut since = use_signal(String::new);
    let mut until = use_signal(String::new);
    let mut entries = use_signal(|| None::<Result<Vec<AuditEntry>, String>>);
    // Whom and which cases to pick from: those the log has named so far
    // (kept across filters, so another can be picked).
    let mut people = use_signal(Vec::<(String, String)>::new);
    let mut cases = use_signal(Vec::<(String, String)>::new);
    // A page at a time: a hostile device's refusals (one row each, within
    // its budget) can make the log long.
    let mut more = use_signal(|| false);
    let filter = move |before: Option<i64>| AuditFilter {
        action: Some(action()),
        person_id: Some(person()),
        case_id: Some(case()),
        since: day_start(&since()),
        until: day_end(&until()),
        limit: Some(PAGE),
        before,
    };
    // `before`: the oldest entry shown, to add the page after it; `None`
    // starts the list again.
    let load_page = move |before: Option<i64>| {
        let filter = filter(before);
        spawn(async move {
            let core = core.get();
            let found = core.audit_log(&filter).await.map_err(|e| e.to_string());
            if let Ok(list) = &found {
                let people_now = named(&people.peek(), list, |e| {
                    Some((e.person_id.clone()?, e.person_name.clone()?))
                });
                people.set(people_now);
                let cases_now = named(&cases.peek(), list, |e| {
                    Some((e.case_id.clone()?, e.case_reference.clone()?))
                });
                cases.set(cases_now);
                more.set(list.len() == PAGE as usize);
            }
            let shown = entries.peek().clone();
            match (before, shown, found) {
                (Some(_), Some(Ok(mut shown)), Ok(page)) => {
                    shown.extend(page);
                    entries.set(Some(Ok(shown)));
                }
                (_, _, found) => entries.set(Some(found)),
            }
        });
    };
    let load = move || load_page(None);
    use_hook(load);
    rsx! {
        h1 { "Audit log" }
        form {
            class: "filters",
            aria_label: "Filter the audit log",
            onsubmit: move |e: FormEvent| {
                e.prevent_default();
                load();
            },
            div {
                label { r#for: "f-action", "What" }
                select { id: "f-action", value: "{action}", onchange: move |e| action.set(e.value()),
                    for (code, label) in ACTIONS {
                        option { key: "{code}", value: "{code}", "{label}" }
                    }
                }
            }
            Choice { id: "f-person", label: "Who", any: "Anyone", value: person, options: people() }
            Choice { id: "f-case", label: "Case", any: "Any case", value: case, options: cases() }
            div {
                label { r#for: "f-since", "From" }
                input { id: "f-since", r#type: "date", value: "{since}", oninput: move |e| since.set(e.value()) }
            }
            div {
                label { r#for: "f-until", "To" }
                input { id: "f-until", r#type: "date", value: "{until}", oninput: move |e| until.set(e.value()) }
            }
            button { r#type: "submit", "Show" }
        }
        match &*entries.read() {
            None => rsx! { p { role: "status", "Reading the audit log…" } },
            Some(Err(why)) => rsx! { p { class: "error", role: "alert", "The audit log could not be read: {why}" } },
            Some(Ok(list)) if list.is_empty() => rsx! { p { role: "status", "Nothing matches." } },
            Some(Ok(list)) => rsx! {
                p { class: "quiet", role: "status",
                    if more() { "The newest {list.len()} entries" } else { "{list.len()} entries, newest first" }
                }
                div { class: "table-wrap", tabindex: "0", role: "region", aria_label: "Audit entries",
                    table { class: "audit",
                        thead {
                            tr {
                                th { scope: "col", "When" }
                                th { scope: "col", "Who" }
                                th { scope: "col", "What" }
                                th { scope: "col", "Case" }
                                th { scope: "col", "Detail" }
                            }
                        }
                        tbody {
                            for e in list.iter() {
                                tr { key: "{e.id}", class: "entry", "data-action": "{e.action}",
                                    td { "{labels::when_exact(&e.at)}" }
                                    td { {e.person_name.clone().unwrap_or_else(|| "the practice".into())} }
                                    td { {action_label(&e.action)} }
                                    td { {e.case_reference.clone().unwrap_or_default()} }
                                    td { class: "detail", "{e.detail}" }
                                }
                            }
                        }
                    }
                }
                if more() {
                    button {
                        r#type: "button",
                        onclick: move |_| {
                            let oldest = match &*entries.peek() {
                                Some(Ok(list)) => list.last().map(|e| e.id),
                                _ => None,
                            };
                            if oldest.is_some() {
                                load_page(oldest);
                            }
                        },
                        "Show older entries"
                    }
                }
            },
        }
    }
}

fn action_label(code: &str) -> String {
    ACTIONS
        .iter()
        .find(|(c, _)| *c == code && !c.is_empty())
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| code.replace('_', " "))
}

/// A date input's day as the first and last moments of that day, local.
fn day_start(date: &str) -> Option<String> {
    day_bound(date, chrono::NaiveTime::MIN)
}

fn day_end(date: &str) -> Option<String> {
    day_bound(
        date,
        chrono::NaiveTime::from_hms_milli_opt(23, 59, 59, 999)?,
    )
}

fn day_bound(date: &str, time: chrono::NaiveTime) -> Option<String> {
    use chrono::TimeZone;
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let local = chrono::Local
        .from_local_datetime(&day.and_time(time))
        .earliest()?;
    Some(
        local
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

/// `known` and what `list` names, each once, by name.
fn named(
    known: &[(String, String)],
    list: &[AuditEntry],
    pick: fn(&AuditEntry) -> Option<(String, String)>,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = known
        .iter()
        .cloned()
        .chain(list.iter().filter_map(pick))
        .collect();
    all.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    all.dedup();
    all
}

/// A filter picked from what the log names: (id, what people read).
#[component]
fn Choice(
    id: String,
    label: String,
    any: String,
    value: Signal<String>,
    options: Vec<(String, String)>,
) -> Element {
    let mut value = value;
    rsx! {
        div {
            label { r#for: "{id}", "{label}" }
            select { id: "{id}", value: "{value}", onchange: move |e| value.set(e.value()),
                option { value: "", "{any}" }
                for (key, name) in options {
                    option { key: "{key}", value: "{key}", "{name}" }
                }
            }
        }
    }
}
