//! Words the screens show for stored values: the record keeps stable
//! snake_case codes, people read these.

use fieldvisit_shared::records::{
    Communication, CreativeMethod, PlaceKind, ReviewStatus, TextField,
};

pub fn communication(c: Communication) -> &'static str {
    match c {
        Communication::Speech => "Speech",
        Communication::Sign => "Sign",
        Communication::Music => "Music",
        Communication::Movement => "Movement",
        Communication::Art => "Art",
        Communication::Objects => "Objects",
        Communication::Other => "Other",
    }
}

pub fn creative_method(m: CreativeMethod) -> &'static str {
    match m {
        CreativeMethod::Music => "Music",
        CreativeMethod::DanceOrMovement => "Dance or movement",
        CreativeMethod::Art => "Art",
        CreativeMethod::Sound => "Sound",
        CreativeMethod::Objects => "Objects",
        CreativeMethod::Other => "Other",
    }
}

pub fn place(p: PlaceKind) -> &'static str {
    match p {
        PlaceKind::Home => "Home",
        PlaceKind::Hospital => "Hospital",
        PlaceKind::CareHome => "Care home",
        PlaceKind::Other => "Somewhere else",
    }
}

pub fn review(s: ReviewStatus) -> &'static str {
    match s {
        ReviewStatus::Draft => "Draft: not yet submitted",
        ReviewStatus::Submitted => "Submitted for review",
        ReviewStatus::Returned => "Returned for changes",
        ReviewStatus::SignedOff => "Signed off",
    }
}

/// A review decision, as the history lists it.
pub fn decision(s: ReviewStatus) -> &'static str {
    match s {
        ReviewStatus::Draft => "Reopened",
        ReviewStatus::Submitted => "Submitted",
        ReviewStatus::Returned => "Returned",
        ReviewStatus::SignedOff => "Signed off",
    }
}

pub fn field(f: TextField) -> &'static str {
    match f {
        TextField::OwnWords => "their own words",
        TextField::Observations => "my observations",
        TextField::Analysis => "my analysis",
    }
}

/// "25 Nov 2026, 14:03" in the device's time zone, from an RFC 3339 time.
pub fn when(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%-d %b %Y, %H:%M")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}
