//! Everything the phone app and the sync server must agree on: the record
//! kinds of a case record (their types, typed edits and rules), validation,
//! document ids that prove their creator, and the JSON shapes of the HTTP
//! API. No IO happens here, so both sides (and the browser build) use it as
//! it is.

#[macro_use]
mod string_enum;

pub mod api;
pub mod chronology;
pub mod doc;
pub mod error;
pub mod history;
pub mod outbox;
pub mod photo;
pub mod provenance;
pub mod records;
pub mod role;
pub mod uploads;
pub mod validate;

pub use error::{Error, ValidationError};
pub use records::{CaseDoc, SCHEMA_VERSION, VisitDoc};
