//! The Fieldvisit phone app. Its device core ([`core`]) is plain Rust with no
//! UI types: the local store, enrolment, and sync with the server. It runs
//! natively (tests drive it directly) and in the browser. The Dioxus UI
//! ([`ui`], behind the `ui` feature) reaches it through one handle in
//! context.

pub mod core;
pub mod route;
#[cfg(feature = "ui")]
pub mod ui;

pub use core::{CoreError, DeviceCore, SyncStatus};
