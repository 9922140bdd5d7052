//! Everything the phone app and the sync server must agree on: the case-record
//! schema, its validation, the review state machine, and the JSON shapes of the
//! HTTP API. No IO happens here, so both sides (and the browser build) use it
//! as it is.

pub mod api;
pub mod chronology;
pub mod error;
pub mod provenance;
pub mod review;
pub mod schema;
pub mod validate;

pub use error::{Error, ValidationError};
pub use schema::{CaseDoc, SCHEMA_VERSION, VisitDoc};
