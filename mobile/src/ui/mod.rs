//! The app's screens, one file each. Every screen reaches the device core
//! through the one handle in context ([`use_core`], under [`Open`], which
//! only exists while the device is open), and a record's screen starts
//! from [`use_record`]; nothing here touches storage or the network
//! itself.

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

/// The device core, once the device is enrolled and its store open: what
/// the app's frame, sign-in and unlock hold.
pub type Core = Signal<Option<Rc<DeviceCore>>>;

/// The open device core, for everything shown while the device is open:
/// it exists only under [`Open`], which exists only while the store is
/// open, so it always holds a core. Copies like a signal, for closures and
/// futures.
#[derive(Clone, Copy, PartialEq)]
pub struct OpenCore(Signal<Rc<DeviceCore>>);

impl OpenCore {
    pub fn get(&self) -> Rc<DeviceCore> {
        self.0.peek().clone()
    }
}

/// The open device core (for a component under [`Open`]).
pub fn use_core() -> OpenCore {
    use_context::<OpenCore>()
}

/// An open core as a component's property: equal when it is the same core.
#[derive(Clone)]
pub struct Opened(Rc<DeviceCore>);

impl PartialEq for Opened {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Provides the open core to what is shown beneath it. Locking unmounts it
/// (the app shows the unlock screen instead), so no screen outlives its
/// core.
#[component]
fn Open(core: Opened, children: Element) -> Element {
    use_context_provider(|| OpenCore(Signal::new(core.0.clone())));
    children
}

/// A record as this device holds it, read again whenever it changes (here
/// or by sync): `None` while it is first read, then the record or why it
/// could not be read. What every screen of a record starts from.
pub fn use_record<R>(id: String) -> Signal<Option<Result<R, String>>>
where
    R: fieldvisit_shared::records::Record + Clone + 'static,
{
    use futures::StreamExt;
    let core = use_core();
    let mut record = use_signal(|| None::<Result<R, String>>);
    use_future(move || {
        let id = id.clone();
        async move {
            let core = core.get();
            let first = core.read::<R>(&id).await.map_err(|e| e.to_string());
            let readable = first.is_ok();
            record.set(Some(first));
            if !readable {
                return;
            }
            let Ok(mut changes) = core.watch(&id).await else {
                return;
            };
            while changes.next().await.is_some() {
                match core.read::<R>(&id).await {
                    Ok(fresh) => record.set(Some(Ok(fresh))),
                    Err(e) => tracing::warn!(record = %id, error = %e, "could not be read again"),
                }
            }
        }
    });
    record
}

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
        _ => match core.read().clone() {
            None => rsx! { sign_in::SignIn {} },
            Some(open) => {
                let role = open.person().role;
                rsx! {
                    Open { core: Opened(open),
                        if role == fieldvisit_shared::api::Role::Supervisor {
                            alerts::AlertBanner {}
                        }
                        if role == fieldvisit_shared::api::Role::Worker {
                            alerts::OverdueConcerns {}
                        }
                        Screen { route: route() }
                    }
                }
            }
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
        main { id: "content", tabindex: "-1", {body} }
    }
}

/// The screen a route shows, once the device is open.
#[component]
fn Screen(route: Route) -> Element {
    match route {
        Route::Cases => rsx! { cases::Cases {} },
        Route::Case { case_id } => rsx! { case::CaseScreen { case_id } },
        Route::Visit { case_id, visit_id } => {
            rsx! { visit::VisitScreen { case_id, visit_id } }
        }
        Route::Record { case_id, at, focus } => {
            rsx! { record::RecordScreen { case_id, at, focus } }
        }
        Route::Concern {
            case_id,
            concern_id,
        } => {
            rsx! { concern::ConcernScreen { case_id, concern_id } }
        }
        Route::Capacity {
            case_id,
            assessment_id,
        } => {
            rsx! { capacity::CapacityScreen { case_id, assessment_id } }
        }
        Route::Search => rsx! { search::SearchScreen {} },
        Route::Audit => rsx! { audit::AuditScreen {} },
        Route::Devices => rsx! { devices::DevicesScreen {} },
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
