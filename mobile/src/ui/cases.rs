//! My cases: what this device may see, from the local store at once, then
//! refreshed from the server when there is a connection.

use dioxus::prelude::*;
use fieldvisit_shared::api::CaseSummary;

use super::review::ReviewQueue;
use super::{Route, browser, navigate, use_core};

#[component]
pub fn Cases() -> Element {
    let core = use_core();
    let mut cases = use_signal(Vec::<CaseSummary>::new);
    let mut note = use_signal(|| None::<String>);
    let mut refreshing = use_signal(|| false);
    // Moves after each refresh, so the review queue reads again.
    let mut refreshed = use_signal(|| 0_u64);

    let mut refresh = move || {
        let core = core.get();
        if let Ok(local) = core.cases() {
            cases.set(local);
        }
        if !browser::online() {
            note.set(Some("Offline: showing the cases on this device.".into()));
            return;
        }
        refreshing.set(true);
        spawn(async move {
            match core.refresh_cases().await {
                Ok(fresh) => {
                    cases.set(fresh);
                    note.set(None);
                }
                Err(e) => note.set(Some(format!(
                    "Could not refresh from the server ({e}); showing the cases on this device."
                ))),
            }
            refreshing.set(false);
            refreshed += 1;
        });
    };
    use_hook(refresh);

    let (person, reviewer) = {
        let c = core.get();
        let p = c.person();
        (
            p.name.clone(),
            p.role == fieldvisit_shared::api::Role::Reviewer,
        )
    };

    rsx! {
        h1 { "My cases" }
        p { class: "quiet", "Signed in as {person}" }
        if let Some(n) = note() {
            p { class: "note", role: "status", "{n}" }
        }
        ReviewQueue { refreshed }
        if cases.read().is_empty() {
            p {
                if refreshing() {
                    "Fetching your cases…"
                } else {
                    "No cases are assigned to you on this device yet."
                }
            }
        }
        ul { class: "list", aria_label: "Cases",
            for case in cases() {
                li { key: "{case.case_id}",
                    button {
                        class: "row",
                        r#type: "button",
                        onclick: {
                            let case_id = case.case_id.clone();
                            // A reviewer reads the practice's record; a
                            // worker or supervisor opens the case to work.
                            move |_| navigate(if reviewer {
                                Route::Record { case_id: case_id.clone(), at: None, focus: None }
                            } else {
                                Route::Case { case_id: case_id.clone() }
                            })
                        },
                        span { class: "title", "{case.person_name}" }
                        span { class: "quiet", "Case {case.reference}" }
                    }
                }
            }
        }
        button {
            class: "secondary",
            r#type: "button",
            disabled: refreshing(),
            onclick: move |_| refresh(),
            if refreshing() { "Refreshing…" } else { "Refresh cases" }
        }
        p {
            a { class: "link", href: "{Route::Devices.to_fragment()}", "Your devices" }
            " · lost a phone? Revoke it there."
        }
    }
}
