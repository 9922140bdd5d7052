//! The device core: everything the app does except drawing it.
//!
//! Work is offline first. Every edit goes into the local automerge document
//! (and so into the local SQLite store) before the call returns; sync with
//! the server happens whenever a connection exists, and never blocks an edit.

mod alerts;
mod api_client;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod browser_photo;
mod device;
mod devices;
mod dialer;
mod error;
mod http;
mod keystore;
mod local;
mod outbox;
pub mod platform;
mod records;
mod store_files;
mod sync_status;
pub mod vault;

pub use alerts::AlertEvent;
#[cfg(target_arch = "wasm32")]
pub use browser::browser_online;
pub use device::DeviceCore;
pub use devices::LOCK_AFTER_MINUTES;
pub use error::CoreError;
pub use records::{
    AssessmentView, Delivery, InReview, LinkedEvidence, PHONE_IT_IN_AFTER_MINUTES, PhotoState,
    TextOf, own_words_passages,
};
pub use sync_status::SyncStatus;
