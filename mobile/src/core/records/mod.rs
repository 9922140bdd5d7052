//! What the device core does with each record kind, behind [`DeviceCore`]:
//! one file per kind (and one for review, which spans visits).
//!
//! [`DeviceCore`]: super::DeviceCore

mod capacity;
mod casebook;
mod cases;
mod concerns;
mod photos;
mod record;
mod review;
mod texts;
mod visits;

pub use capacity::{AssessmentView, LinkedEvidence, own_words_passages};
pub(crate) use concerns::RAISED_HERE;
pub use concerns::{Delivery, PHONE_IT_IN_AFTER_MINUTES};
pub use photos::PhotoState;
pub use review::InReview;
pub use texts::TextOf;
