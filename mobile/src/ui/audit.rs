//! The audit log, for the practice admin: who opened which case record,
//! every review decision, every refusal, filtered by what, who, which case
//! and when. Names, not ids.

use dioxus::prelude::*;
use fieldvisit_shared::api::{AuditEntry, AuditFilter};

use super::{Core, labels};

/// The actions worth picking from; the log holds others too.
const ACTIONS: &[(&str, &str)] = &[
    ("", "Everything"),
    ("case_opened", "Case record opened"),
    ("searched", "Search"),
    ("review_decision", "Review decision"),
    ("change_refused", "Change refused"),
    ("assigned", "Assigned to a case"),
    ("unassigned", "Taken off a case"),
    ("device_enrolled", "Device enrolled"),
    ("device_revoked", "Device revoked"),
];

#[component]
pub fn AuditScreen() -> Element {
    let core: Core = use_context();
    let mut action = use_signal(String::new);
    let mut person = use_signal(String::new);
    let mut case = use_signal(String::new);
    let mut since = use_signal(String::new);
    let mut until = use_signal(String::new);
    let mut entries = use_signal(|| None::<Result<Vec<AuditEntry>, String>>);
    let load = move || {
        let filter = AuditFilter {
            action: Some(action()),
            person_id: Some(person()),
            case_id: Some(case()),
            since: day_start(&since()),
            until: day_end(&until()),
            limit: Some(500),
        };
        spawn(async move {
            let Some(core) = core.peek().clone() else {
                return;
            };
            entries.set(Some(
                core.audit_log(&filter).await.map_err(|e| e.to_string()),
            ));
        });
    };
    use_hook(move || load());
    // Whom and which cases to pick from: those the log names.
    let all = match &*entries.read() {
        Some(Ok(e)) => e.clone(),
        _ => Vec::new(),
    };
    let mut people: Vec<(String, String)> = all
        .iter()
        .filter_map(|e| Some((e.person_id.clone()?, e.person_name.clone()?)))
        .collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    people.dedup();
    let mut cases: Vec<(String, String)> = all
        .iter()
        .filter_map(|e| Some((e.case_id.clone()?, e.case_reference.clone()?)))
        .collect();
    cases.sort_by(|a, b| a.1.cmp(&b.1));
    cases.dedup();
    if !person().is_empty() && !people.iter().any(|p| p.0 == person()) {
        people.push((person(), "(chosen person)".into()));
    }
    if !case().is_empty() && !cases.iter().any(|c| c.0 == case()) {
        cases.push((case(), "(chosen case)".into()));
    }

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
            div {
                label { r#for: "f-person", "Who" }
                select { id: "f-person", value: "{person}", onchange: move |e| person.set(e.value()),
                    option { value: "", "Anyone" }
                    for (id, name) in people {
                        option { key: "{id}", value: "{id}", "{name}" }
                    }
                }
            }
            div {
                label { r#for: "f-case", "Case" }
                select { id: "f-case", value: "{case}", onchange: move |e| case.set(e.value()),
                    option { value: "", "Any case" }
                    for (id, reference) in cases {
                        option { key: "{id}", value: "{id}", "{reference}" }
                    }
                }
            }
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
                p { class: "quiet", role: "status", "{list.len()} entries, newest first" }
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
