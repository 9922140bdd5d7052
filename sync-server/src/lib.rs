//! The Fieldvisit sync server: merges what every device captured into one
//! shared case record, over SQLite, speaking automerge-repo's protocol.

pub mod access;
pub mod alerts;
pub mod blobs;
pub mod casebook;
pub mod db;
pub mod demo;
pub mod error;
pub mod health;
pub mod http;
pub mod practice;
pub mod proxy;
pub mod rules;
pub mod secrets;
pub mod server;
pub mod sync;
pub mod throttle;
pub mod webhook;

pub use error::{Error, Result};
