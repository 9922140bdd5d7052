//! The app's screens, one file each. Every screen reaches the device core
//! through the one [`Core`] handle in context; nothing here touches storage
//! or the network itself.

mod alerts;
mod audit;
mod auto_text;
mod browser;
mod capacity;
mod case;
mod cases;
mod concern;
mod devices;
mod labels;
mod photos;
mod record;
mod review;
mod search;
mod sign_in;
mod sync_indicator;
mod unlock;
mod visit;

use std::rc::Rc;

use dioxus::prelude::*;

use crate::DeviceCore;
pub use crate::route::Route;

/// Where the app keeps its store: a folder natively, a name inside
/// IndexedDB in the browser.
fn store_dir() -> std::path::PathBuf {
    std::env::var_os("FIELDVISIT_APP_DATA")
        .map(Into::into)
        .unwrap_or_else(|| "fieldvisit".into())
}

/// The device core, once the device is enrolled and its store open.
pub type Core = Signal<Option<Rc<DeviceCore>>>;

/// The way back from a record to its case.
#[component]
fn BackToCase(case_id: String) -> Element {
    rsx! {
        nav { aria_label: "Back",
            button {
                class: "link",
                r#type: "button",
                onclick: move |_| navigate(Route::Case { case_id: case_id.clone() }),
                "← Case"
            }
        }
    }
}

/// Moves to a screen (and records it in the address, in the browser).
pub fn navigate(route: Route) {
    browser::set_fragment(&route.to_fragment());
    consume_context::<Signal<Route>>().set(route);
}

enum Start {
    Opening,
    /// Enrolled here: the PIN opens the store.
    Locked,
    Ready,
    Failed(String),
}

#[component]
pub fn App() -> Element {
    let core: Core = use_context_provider(|| Signal::new(None));
    let mut route = use_context_provider(|| Signal::new(browser::initial_route()));
    sync_indicator::Typed::provide();
    let mut start = use_signal(|| Start::Opening);

    use_hook(move || {
        browser::on_fragment_change(move |fragment| route.set(Route::from_fragment(&fragment)));
        browser::veil_when_hidden();
        browser::watch_activity();
    });

    // The idle lock: after the chosen idle time with no touch or key, the
    // PIN again (checked every 15 seconds).
    use_future(move || async move {
        loop {
            crate::core::platform::sleep(std::time::Duration::from_secs(15)).await;
            let opened = core.peek().clone();
            if let Some(opened) = opened
                && browser::idle_for() >= opened.lock_after()
            {
                opened.lock().await;
                if !browser::lock() {
                    let mut core = core;
                    core.set(None);
                    start.set(Start::Locked);
                }
            }
        }
    });

    use_future(move || async move {
        start.set(match DeviceCore::enrolled(&store_dir()).await {
            Ok(true) => Start::Locked,
            Ok(false) => Start::Ready,
            Err(e) => Start::Failed(e.to_string()),
        });
    });

    let body = match &*start.read() {
        Start::Opening => rsx! {
            p { class: "quiet", role: "status", "Opening your records…" }
        },
        Start::Failed(why) => rsx! {
            h1 { "Fieldvisit could not open its records" }
            p { role: "alert", "{why}" }
            p { "Nothing has been deleted. Close the app and open it again; if this keeps happening, tell your practice admin." }
        },
        Start::Locked if core.read().is_none() => rsx! {
            unlock::Unlock { on_forgotten: move |_| start.set(Start::Ready) }
        },
        _ => match (core.read().clone(), route.read().clone()) {
            (None, _) => rsx! { sign_in::SignIn {} },
            (Some(_), Route::Cases) => rsx! { cases::Cases {} },
            (Some(_), Route::Case { case_id }) => rsx! { case::CaseScreen { case_id } },
            (Some(_), Route::Visit { case_id, visit_id }) => {
                rsx! { visit::VisitScreen { case_id, visit_id } }
            }
            (Some(_), Route::Record { case_id, at, focus }) => {
                rsx! { record::RecordScreen { case_id, at, focus } }
            }
            (
                Some(_),
                Route::Concern {
                    case_id,
                    concern_id,
                },
            ) => {
                rsx! { concern::ConcernScreen { case_id, concern_id } }
            }
            (
                Some(_),
                Route::Capacity {
                    case_id,
                    assessment_id,
                },
            ) => {
                rsx! { capacity::CapacityScreen { case_id, assessment_id } }
            }
            (Some(_), Route::Search) => rsx! { search::SearchScreen {} },
            (Some(_), Route::Audit) => rsx! { audit::AuditScreen {} },
            (Some(_), Route::Devices) => rsx! { devices::DevicesScreen {} },
        },
    };

    rsx! {
        a { class: "skip", href: "#content", "Skip to content" }
        header { class: "bar",
            span { class: "brand", "Fieldvisit" }
            if let Some(c) = core.read().as_ref() {
                nav { class: "top", aria_label: "Main",
                    a { href: "{Route::Cases.to_fragment()}", "Cases" }
                    a { href: "{Route::Search.to_fragment()}", "Search" }
                    if c.person().role == fieldvisit_shared::api::Role::Admin {
                        a { href: "{Route::Audit.to_fragment()}", "Audit log" }
                    }
                }
                sync_indicator::SyncIndicator {}
            }
        }
        main { id: "content", tabindex: "-1",
            if core.read().as_ref().is_some_and(|c| c.person().role == fieldvisit_shared::api::Role::Supervisor) {
                alerts::AlertBanner {}
            }
            if core.read().as_ref().is_some_and(|c| c.person().role == fieldvisit_shared::api::Role::Worker) {
                alerts::OverdueConcerns {}
            }
            {body}
        }
    }
}

/// Puts an opened device core in context and keeps sync following the
/// network from then on.
pub fn take_core(mut core: Core, opened: DeviceCore) {
    let opened = Rc::new(opened);
    go_online_if_possible(&opened);
    browser::on_connectivity_change(opened.clone());
    core.set(Some(opened));
}

/// The server said this device is revoked: everything it stored goes, the
/// server is told, and the app starts again at sign-in, saying why.
pub async fn wipe_revoked(mut core: Core, opened: Rc<DeviceCore>) {
    let notice = match opened
        .wipe(fieldvisit_shared::api::WipeReason::Revoked)
        .await
    {
        Ok(()) => "Your practice revoked this device, so everything it stored has been deleted from it. Records that had synced are safe with your practice. To use Fieldvisit here again, ask your practice admin for a new code.".to_owned(),
        Err(e) => format!("Your practice revoked this device, but deleting what it stored failed ({e}). Tell your practice admin."),
    };
    // Anything typed while the wipe ran went to the draft journal: gone too.
    crate::core::platform::journal::clear();
    if !browser::start_over(&notice) {
        core.set(None);
    }
}

/// Starts sync unless the browser knows it has no network; sync never
/// blocks work, so this returns at once either way.
pub fn go_online_if_possible(core: &DeviceCore) {
    if browser::online()
        && let Err(e) = core.go_online()
    {
        tracing::warn!(error = %e, "sync could not start");
    }
}
