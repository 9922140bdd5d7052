//! One case: the person's key details and the visits, newest first (a
//! colleague's visit appears as it syncs). A new visit is created here,
//! offline if need be.

use dioxus::prelude::*;
use fieldvisit_shared::records::capacity::CapacityDoc;
use fieldvisit_shared::records::concern::ConcernDoc;
use fieldvisit_shared::records::{CaseDoc, PlaceKind};
use futures::StreamExt;

use super::{Route, labels, navigate, use_core};

#[component]
pub fn CaseScreen(case_id: String) -> Element {
    let core = use_core();
    let mut case = use_signal(|| None::<Result<CaseDoc, String>>);
    let mut place = use_signal(|| PlaceKind::Home);
    let mut error = use_signal(|| None::<String>);
    let mut concerns = use_signal(Vec::<(String, ConcernDoc)>::new);
    let mut assessments = use_signal(Vec::<(String, CapacityDoc)>::new);

    let load_id = case_id.clone();
    use_future(move || {
        let case_id = load_id.clone();
        async move {
            let core = core.get();
            case.set(Some(core.case(&case_id).await.map_err(|e| e.to_string())));
            if let Ok(list) = core.concerns_of_case(&case_id).await {
                concerns.set(list);
            }
            if let Ok(list) = core.assessments_of_case(&case_id).await {
                assessments.set(list);
            }
            let Ok(mut changes) = core.case_changes(&case_id).await else {
                return;
            };
            while changes.next().await.is_some() {
                if let Ok(fresh) = core.case(&case_id).await {
                    case.set(Some(Ok(fresh)));
                }
                if let Ok(list) = core.concerns_of_case(&case_id).await {
                    concerns.set(list);
                }
                if let Ok(list) = core.assessments_of_case(&case_id).await {
                    assessments.set(list);
                }
            }
        }
    });

    let start_visit = {
        let case_id = case_id.clone();
        move |_| {
            let case_id = case_id.clone();
            async move {
                let core = core.get();
                match core.create_visit(&case_id, place()).await {
                    Ok(visit_id) => navigate(Route::Visit { case_id, visit_id }),
                    Err(e) => error.set(Some(format!("The visit could not be started: {e}"))),
                }
            }
        }
    };

    let own_id = core.get().person().id.clone();

    let body = match case() {
        None => rsx! { p { role: "status", "Opening the case…" } },
        Some(Err(why)) => rsx! {
            p { role: "alert", "This case is not on this device yet: {why}" }
            p { "Connect to the internet and refresh your cases." }
        },
        Some(Ok(c)) => {
            let visits: Vec<(String, String, String)> = c
                .visits_newest_first()
                .into_iter()
                .map(|(id, v)| {
                    let by = if v.author == own_id {
                        "you".to_string()
                    } else {
                        core.get().name_of(&v.author)
                    };
                    (id.to_owned(), labels::when(&v.started_at), by)
                })
                .collect();
            let person = &c.person;
            let details: Vec<(&str, String)> = [
                ("Preferred name", person.preferred_name.as_str().to_owned()),
                ("Date of birth", person.date_of_birth.clone()),
                (
                    "Communication needs",
                    person.communication_needs.as_str().to_owned(),
                ),
                ("Key details", person.key_details.as_str().to_owned()),
            ]
            .into_iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
            rsx! {
                h1 { "{person.name.as_str()}" }
                p { class: "quiet", "Case {c.reference}" }
                p {
                    a {
                        class: "button",
                        href: Route::Record { case_id: case_id.clone(), at: None, focus: None }.to_fragment(),
                        "Case record: chronology, who wrote what, as at a date"
                    }
                }
                section { aria_labelledby: "details-h",
                    h2 { id: "details-h", "Key details" }
                    if details.is_empty() && c.key_people.is_empty() {
                        p { class: "quiet", "No key details recorded yet." }
                    }
                    dl {
                        for (term, value) in details {
                            dt { "{term}" }
                            dd { "{value}" }
                        }
                        for (id, kp) in c.key_people.iter() {
                            dt { key: "{id}", "{kp.relationship.as_str()}" }
                            dd { "{kp.name.as_str()}" }
                        }
                    }
                }
                section { aria_labelledby: "new-h",
                    h2 { id: "new-h", "Start a visit" }
                    label { r#for: "place", "Where" }
                    select {
                        id: "place",
                        onchange: move |e| {
                            if let Some(p) = PlaceKind::parse(&e.value()) {
                                place.set(p);
                            }
                        },
                        for p in PlaceKind::ALL.iter().copied() {
                            option { value: "{p.as_str()}", selected: p == place(), "{labels::place(p)}" }
                        }
                    }
                    if let Some(why) = error() {
                        p { class: "error", role: "alert", "{why}" }
                    }
                    button { class: "primary", r#type: "button", onclick: start_visit, "Start a visit" }
                }
                section { aria_labelledby: "concerns-h",
                    h2 { id: "concerns-h", "Safeguarding concerns" }
                    if concerns().is_empty() {
                        p { class: "quiet", "None raised." }
                    }
                    ul { class: "list", aria_label: "Safeguarding concerns, newest first",
                        for (concern_id, c) in concerns() {
                            li { key: "{concern_id}",
                                button {
                                    class: "row",
                                    r#type: "button",
                                    onclick: {
                                        let (case_id, concern_id) = (case_id.clone(), concern_id.clone());
                                        move |_| navigate(Route::Concern { case_id: case_id.clone(), concern_id: concern_id.clone() })
                                    },
                                    span { class: "title",
                                        if c.raised() { "Concern raised {labels::when(&c.raised_at)}" } else { "Draft concern, not raised" }
                                    }
                                    span { class: "quiet",
                                        if c.acknowledged_by.is_empty() { "not yet acknowledged" } else { "acknowledged" }
                                    }
                                }
                            }
                        }
                    }
                }
                section { aria_labelledby: "assessments-h",
                    h2 { id: "assessments-h", "Capacity assessments" }
                    if assessments().is_empty() {
                        p { class: "quiet", "None yet. Start one from a visit." }
                    }
                    ul { class: "list", aria_label: "Capacity assessments, newest first",
                        for (assessment_id, a) in assessments() {
                            li { key: "{assessment_id}",
                                button {
                                    class: "row",
                                    r#type: "button",
                                    onclick: {
                                        let (case_id, assessment_id) = (case_id.clone(), assessment_id.clone());
                                        move |_| navigate(Route::Capacity { case_id: case_id.clone(), assessment_id: assessment_id.clone() })
                                    },
                                    span { class: "title", "{super::capacity::summary_title(&a)}" }
                                    span { class: "quiet", "{super::capacity::summary_state(&a)}" }
                                }
                            }
                        }
                    }
                }
                section { aria_labelledby: "visits-h",
                    h2 { id: "visits-h", "Visits" }
                    if visits.is_empty() {
                        p { class: "quiet", "No visits yet." }
                    }
                    ul { class: "list", aria_label: "Visits, newest first",
                        for (visit_id, when, by) in visits {
                            li { key: "{visit_id}",
                                button {
                                    class: "row",
                                    r#type: "button",
                                    onclick: {
                                        let (case_id, visit_id) = (case_id.clone(), visit_id.clone());
                                        move |_| navigate(Route::Visit { case_id: case_id.clone(), visit_id: visit_id.clone() })
                                    },
                                    span { class: "title", "Visit on {when}" }
                                    span { class: "quiet", "by {by}" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };

    rsx! {
        nav { aria_label: "Back",
            button { class: "link", r#type: "button", onclick: move |_| navigate(Route::Cases), "← My cases" }
        }
        {body}
    }
}
