//! A supervisor's live safeguarding alerts: on every screen, the moment a
//! concern reaches the server, until someone acknowledges it. Read from the
//! server's event stream while connected, opened again whenever it drops.

use std::time::Duration;

use dioxus::prelude::*;
use fieldvisit_shared::api::AlertView;
use futures::StreamExt;

use super::{Route, labels, use_core};
use crate::core::{AlertEvent, PHONE_IT_IN_AFTER_MINUTES, platform};

#[component]
pub fn AlertBanner() -> Element {
    let core = use_core();
    let mut waiting = use_signal(Vec::<AlertView>::new);

    use_future(move || async move {
        let mut pause = Duration::from_secs(1);
        loop {
            let core = core.get();
            match core.alerts().await {
                Ok(list) => waiting.set(
                    list.into_iter()
                        .filter(|a| a.acknowledged_at.is_none())
                        .collect(),
                ),
                Err(e) => tracing::debug!(error = %e, "alerts not listed"),
            }
            match core.alert_events().await {
                Ok(events) => {
                    pause = Duration::from_secs(1);
                    let mut events = std::pin::pin!(events);
                    while let Some(event) = events.next().await {
                        match event {
                            Ok(AlertEvent::Alert(alert)) => {
                                let mut list = waiting.write();
                                list.retain(|a| a.id != alert.id);
                                if alert.acknowledged_at.is_none() {
                                    list.insert(0, *alert);
                                }
                            }
                            Ok(AlertEvent::Resync) => break,
                            Err(e) => {
                                tracing::debug!(error = %e, "the alert stream broke");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "no alert stream"),
            }
            platform::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    });

    let list = waiting();
    if list.is_empty() {
        return rsx! {};
    }
    rsx! {
        section { class: "alerts", role: "alert", aria_label: "Safeguarding alerts",
            for a in list {
                div { key: "{a.id}", class: "alert",
                    p {
                        strong { "Safeguarding concern: case {a.case_reference}. " }
                        "Raised by {a.raised_by.name} at {labels::clock(&a.raised_at)}; reached the practice at {labels::clock(&a.arrived_at)}."
                    }
                    a {
                        class: "button",
                        href: Route::Concern { case_id: a.case_id.clone(), concern_id: a.document_id.clone() }.to_fragment(),
                        "Open the concern"
                    }
                }
            }
        }
    }
}

/// A worker's concern that has not reached the practice fifteen minutes
/// after it was raised: on every screen, until it has, with the number to
/// phone it in to.
#[component]
pub fn OverdueConcerns() -> Element {
    let core = use_core();
    let mut overdue = use_signal(Vec::<(String, String)>::new);
    use_future(move || async move {
        loop {
            if let Ok(list) = core.get().overdue_concerns(chrono::Utc::now()).await
                && *overdue.peek() != list
            {
                overdue.set(list);
            }
            platform::sleep(Duration::from_secs(5)).await;
        }
    });
    let list = overdue();
    if list.is_empty() {
        return rsx! {};
    }
    let phone = core.get().safeguarding_phone().ok().flatten();
    rsx! {
        section { class: "notice urgent", role: "alert", aria_label: "Concerns not delivered",
            p {
                strong { "Phone it in now. " }
                if list.len() == 1 {
                    "A safeguarding concern you raised has not reached your practice after {PHONE_IT_IN_AFTER_MINUTES} minutes."
                } else {
                    "{list.len()} safeguarding concerns you raised have not reached your practice after {PHONE_IT_IN_AFTER_MINUTES} minutes."
                }
            }
            match phone {
                Some(number) => rsx! {
                    p { a { class: "button", href: "tel:{number}", "Call your practice: {number}" } }
                },
                None => rsx! { p { "Call your practice's safeguarding line." } },
            }
            for (case_id, concern_id) in list {
                p { key: "{concern_id}",
                    a {
                        class: "link",
                        href: Route::Concern { case_id, concern_id: concern_id.clone() }.to_fragment(),
                        "Open the concern"
                    }
                }
            }
        }
    }
}
