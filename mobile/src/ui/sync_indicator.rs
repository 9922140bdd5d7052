//! Always on screen: whether this device is connected, how many of its
//! changes the server does not have yet, and when everything last was.
//! Its poll also sends the photos once the words are on the server.
//!
//! "Synced" must never be shown over typing it has not counted: a worker
//! may read it and switch the phone off. A keystroke marks the status
//! stale at once ([`Typed`]), and a status that had nothing waiting is
//! asked again at once rather than at its next round.

use std::rc::Rc;
use std::time::Duration;

use dioxus::prelude::*;

use super::{Core, labels};
use crate::SyncStatus;
use crate::core::platform;

/// How long the status stands before it is asked again, unless typing
/// wakes it sooner.
const POLL: Duration = Duration::from_millis(700);

/// Counts keystrokes in any text box, so that the indicator can tell a
/// status from before the latest one, and wakes its poll. In context from
/// the app's root.
#[derive(Clone)]
pub struct Typed {
    count: Signal<u64>,
    wake: Rc<tokio::sync::Notify>,
}

impl Typed {
    pub fn provide() -> Typed {
        use_context_provider(|| Typed {
            count: Signal::new(0),
            wake: Rc::default(),
        })
    }

    /// Called as a keystroke is taken in.
    pub fn note(&self) {
        let mut count = self.count;
        *count.write() += 1;
        self.wake.notify_one();
    }
}

/// A status, with the keystroke count when it was asked for and its place
/// in the order of polls (shown as `data-check`, so a test can wait for a
/// status asked after its last keystroke).
struct Shown {
    status: SyncStatus,
    typed_at: u64,
    check: u64,
}

#[component]
pub fn SyncIndicator() -> Element {
    let core: Core = use_context();
    let Typed { count: typed, wake } = use_context();
    let mut status = use_signal(|| None::<Shown>);

    use_future(move || {
        let wake = wake.clone();
        async move {
            let mut check = 0;
            loop {
                let typed_at = *typed.peek();
                // Only a status with nothing waiting is woken by typing: one
                // already waiting stays right, and a poll per keystroke would
                // cost a phone's battery for nothing.
                let mut nothing_waiting = false;
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
                            nothing_waiting = s.pending_changes + s.registrations_waiting == 0;
                            check += 1;
                            status.set(Some(Shown {
                                status: s,
                                typed_at,
                                check,
                            }));
                        }
                        Err(e) => tracing::warn!(error = %e, "sync status unavailable"),
                    }
                }
                if nothing_waiting {
                    platform::timeout(POLL, wake.notified()).await;
                } else {
                    platform::sleep(POLL).await;
                }
            }
        }
    });

    let Some(Shown {
        status: s,
        typed_at,
        check,
    }) = &*status.read()
    else {
        return rsx! { span { class: "sync", role: "status", "Checking sync…" } };
    };
    let mut waiting = s.pending_changes + s.registrations_waiting;
    if typed() != *typed_at {
        // Typed since it was asked: at least that keystroke is not synced.
        waiting = waiting.max(1);
    }
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
        span { class: "{class}", role: "status", "data-waiting": "{waiting}", "data-check": "{check}",
            strong { "{state}" }
            if !waiting_text.is_empty() {
                span { " · {waiting_text}" }
            }
            span { class: "last", " · {last}" }
        }
    }
}
