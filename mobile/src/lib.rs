//! The Fieldvisit phone app. Its device core ([`core`]) is plain Rust with no
//! UI types: the local store, enrolment, and sync with the server. It runs
//! natively (tests drive it directly); the Dioxus UI reaches it through one
//! handle.

pub mod core;

pub use core::{CoreError, DeviceCore, SyncStatus};
