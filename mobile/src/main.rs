//! The Fieldvisit app: the web build (wasm32) is what the sync server
//! serves and the tests drive; `--features desktop` opens the same screens
//! in a desktop window.

fn main() {
    dioxus::launch(fieldvisit_mobile::ui::App);
}
