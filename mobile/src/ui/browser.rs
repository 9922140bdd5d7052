//! What the app needs from its surroundings: the address fragment, and
//! whether there is a network. In the browser these are the page's
//! location and its `online`/`offline` events; in a desktop window there is
//! no address bar and the network is assumed.

use std::rc::Rc;

use crate::DeviceCore;

use super::Route;

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::rc::Rc;

    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    use crate::DeviceCore;

    pub fn fragment() -> String {
        web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default()
    }

    pub fn set_fragment(fragment: &str) {
        if let Some(w) = web_sys::window() {
            let _ = w.location().set_hash(fragment);
        }
    }

    /// The listener lives as long as the page.
    fn listen(event: &str, f: impl FnMut() + 'static) {
        if let Some(w) = web_sys::window() {
            let f = Closure::<dyn FnMut()>::new(f);
            let _ = w.add_event_listener_with_callback(event, f.as_ref().unchecked_ref());
            f.forget();
        }
    }

    pub fn on_fragment_change(mut f: impl FnMut(String) + 'static) {
        listen("hashchange", move || f(fragment()));
    }

    pub fn on_connectivity_change(core: Rc<DeviceCore>) {
        let c = core.clone();
        listen("online", move || super::super::go_online_if_possible(&c));
        listen("offline", move || core.go_offline());
    }

    pub fn online() -> bool {
        crate::core::browser_online()
    }

    thread_local! {
        static LAST_ACTIVITY: std::cell::Cell<f64> = std::cell::Cell::new(js_sys::Date::now());
    }

    /// Every touch, key or typed character counts as the worker being there.
    pub fn watch_activity() {
        for event in ["pointerdown", "keydown", "input", "scroll"] {
            listen(event, || LAST_ACTIVITY.with(|t| t.set(js_sys::Date::now())));
        }
    }

    pub fn idle_for() -> std::time::Duration {
        let ms = js_sys::Date::now() - LAST_ACTIVITY.with(|t| t.get());
        std::time::Duration::from_millis(ms.max(0.0) as u64)
    }

    /// Locked: the page starts again at the PIN, with nothing of the old
    /// session in memory.
    pub fn lock() -> bool {
        web_sys::window().is_some_and(|w| w.location().reload().is_ok())
    }

    /// Hidden (another app, the app switcher, a locked screen), the page
    /// shows nothing of a case: the switcher's snapshot is of a blank page.
    pub fn veil_when_hidden() {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let target = document.clone();
        let f = Closure::<dyn FnMut()>::new(move || {
            let hidden = target.visibility_state() == web_sys::VisibilityState::Hidden;
            if let Some(body) = target.body() {
                let _ = body.class_list().toggle_with_force("veiled", hidden);
            }
        });
        let _ = document
            .add_event_listener_with_callback("visibilitychange", f.as_ref().unchecked_ref());
        f.forget();
    }

    pub fn origin() -> Option<String> {
        web_sys::window().and_then(|w| w.location().origin().ok())
    }

    const NOTICE: &str = "fieldvisit.notice";

    /// Kept in the tab's session storage: it outlives the reload, not the tab.
    pub fn start_over(notice: &str) -> bool {
        let Some(w) = web_sys::window() else {
            return false;
        };
        if let Ok(Some(s)) = w.session_storage() {
            let _ = s.set_item(NOTICE, notice);
        }
        let _ = w.location().set_hash("");
        w.location().reload().is_ok()
    }

    pub fn take_notice() -> Option<String> {
        let s = web_sys::window()?.session_storage().ok()??;
        let notice = s.get_item(NOTICE).ok()??;
        let _ = s.remove_item(NOTICE);
        Some(notice)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::rc::Rc;

    use crate::DeviceCore;

    pub fn fragment() -> String {
        String::new()
    }
    pub fn set_fragment(_: &str) {}
    pub fn on_fragment_change(_: impl FnMut(String) + 'static) {}
    pub fn on_connectivity_change(_: Rc<DeviceCore>) {}
    pub fn online() -> bool {
        true
    }
    pub fn veil_when_hidden() {}

    /// A desktop window: activity is not watched yet, so the idle lock
    /// never fires there.
    pub fn watch_activity() {}

    pub fn idle_for() -> std::time::Duration {
        std::time::Duration::ZERO
    }

    pub fn lock() -> bool {
        false
    }
    pub fn origin() -> Option<String> {
        None
    }

    static NOTICE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

    /// The window stays; the caller takes the device core out of context.
    pub fn start_over(notice: &str) -> bool {
        *NOTICE.lock().unwrap_or_else(|p| p.into_inner()) = Some(notice.to_owned());
        false
    }

    pub fn take_notice() -> Option<String> {
        NOTICE.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

pub fn initial_route() -> Route {
    Route::from_fragment(&imp::fragment())
}

pub fn set_fragment(fragment: &str) {
    imp::set_fragment(fragment);
}

pub fn on_fragment_change(f: impl FnMut(String) + 'static) {
    imp::on_fragment_change(f);
}

pub fn on_connectivity_change(core: Rc<DeviceCore>) {
    imp::on_connectivity_change(core);
}

pub fn online() -> bool {
    imp::online()
}

/// The server the app was loaded from, the natural default to enrol with.
pub fn origin() -> Option<String> {
    imp::origin()
}

/// Starts the app again from sign-in, with `notice` shown there once: in
/// the browser by reloading the page (nothing of the old session stays in
/// memory), which returns true; otherwise the caller drops the device core.
pub fn start_over(notice: &str) -> bool {
    imp::start_over(notice)
}

/// What the sign-in screen must say first, once.
pub fn take_notice() -> Option<String> {
    imp::take_notice()
}

/// From the start: a hidden page shows nothing of a case (see `imp`).
pub fn veil_when_hidden() {
    imp::veil_when_hidden();
}

/// Starts counting the worker's activity, for the idle lock.
pub fn watch_activity() {
    imp::watch_activity();
}

/// How long since the worker last touched or typed.
pub fn idle_for() -> std::time::Duration {
    imp::idle_for()
}

/// Locks the app: in the browser by starting the page again at the PIN
/// (true); otherwise the caller drops the device core.
pub fn lock() -> bool {
    imp::lock()
}
