//! Always on screen: whether this device is connected, how many of its
//! changes the server does not have yet, and when everything last was.
//! Its poll also sends the photos once the words are on the server.

use std::time::Duration;

use dioxus::prelude::*;

use super::{Core, labels};
use crate::SyncStatus;
use crate::core::platform;

#[component]
pub fn SyncIndicator() -> Element {
    let core: Core = use_context();
    let mut status = use_signal(|| None::<SyncStatus>);

    use_future(move || async move {
        loop {
            let current = core.peek().clone();
            if let Some(opened) = current.as_ref().filter(|c| c.revoked()) {
                super::wipe_revoked(core, opened.clone()).await;
                return;
            }
            if let Some(core) = current {
                match core.sync_status().await {
                    Ok(s) => {
                        // Photos follow once the words are on the server;
                        // a run goes on in the background, one at a time.
                        if fieldvisit_shared::uploads::may_send(
                            s.connected,
                            s.pending_changes,
                            s.registrations_waiting,
                        ) {
                            let core = core.clone();
                            spawn(async move {
                                if let Err(e) = core.send_photos().await {
                                    tracing::warn!(error = %e, "photos not sent");
                                }
                            });
                        }
                        status.set(Some(s));
                    }
                    Err(e) => tracing::warn!(error = %e, "sync status unavailable"),
                }
            }
            platform::sleep(Duration::from_millis(700)).await;
        }
    });

    let Some(s) = status() else {
        return rsx! { span { class: "sync", role: "status", "Checking sync…" } };
    };
    let waiting = s.pending_changes + s.registrations_waiting;
    let (state, class) = match (s.connected, waiting) {
        (false, _) => ("Offline", "sync offline"),
        (true, 0) => ("Synced", "sync synced"),
        (true, _) => ("Syncing", "sync syncing"),
    };
    let waiting_text = match waiting {
        0 => String::new(),
        1 => "1 change waiting".into(),
        n => format!("{n} changes waiting"),
    };
    let last = s
        .last_synced_at
        .as_deref()
        .map(|t| format!("last synced {}", labels::when(t)))
        .unwrap_or_else(|| "never synced".into());

    rsx! {
        span { class: "{class}", role: "status", "data-waiting": "{waiting}",
            strong { "{state}" }
            if !waiting_text.is_empty() {
                span { " · {waiting_text}" }
            }
            span { class: "last", " · {last}" }
        }
    }
}
