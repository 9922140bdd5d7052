//! What the device core does with each record kind, behind [`DeviceCore`]:
//! one file per kind (and one for review, which spans visits).
//!
//! [`DeviceCore`]: super::DeviceCore

mod casebook;
mod cases;
mod photos;
mod review;
mod visits;

pub use photos::PhotoState;
pub use review::InReview;
