//! A supervisor's live safeguarding alerts: on every screen, the moment a
//! concern reaches the server, until someone acknowledges it. Read from the
//! server's event stream while connected, opened again whenever it drops.

use std::time::Duration;

use dioxus::prelude::*;
use fieldvisit_shared::api::AlertView;
use futures::StreamExt;

use super::{Core, Route, labels};
use crate::core::{AlertEvent, platform};

#[component]
pub fn AlertBanner() -> Element {
    let core: Core = use_context();
    let mut waiting = use_signal(Vec::<AlertView>::new);

    use_future(move || async move {
        let mut pause = Duration::from_secs(1);
        loop {
            let Some(core) = core.peek().clone() else {
                return;
            };
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
