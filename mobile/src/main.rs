//! The Fieldvisit app: the web build (wasm32) is what the sync server
//! serves and the tests drive; `--features desktop` opens the same screens
//! in a desktop window.

fn main() {
    // samod reports every sync step at info; a phone's console needs only
    // what went wrong.
    let _ = dioxus::logger::init(dioxus::logger::tracing::Level::WARN);
    dioxus::launch(fieldvisit_mobile::ui::App);
}
