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

/// "27 Nov 2026, 14:03:07" in the device's time zone: authorship and the
/// audit log need the second.
pub fn when_exact(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%-d %b %Y, %H:%M:%S")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// "2026-11-27T09:30:05" in this device's time zone, for the time input.
pub fn local_input(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        })
        .unwrap_or_default()
}

/// The time input's local value as RFC 3339 in UTC.
pub fn from_local_input(value: &str) -> Option<String> {
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M"))
        .ok()?;
    let local = chrono::Local.from_local_datetime(&naive).earliest()?;
    Some(
        local
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

pub fn consent(c: fieldvisit_shared::records::concern::Consent) -> &'static str {
    use fieldvisit_shared::records::concern::Consent;
    match c {
        Consent::Given => "Yes: they agree to a referral",
        Consent::Refused => "No: they do not agree",
        Consent::CannotConsent => "They cannot consent (they lack capacity to decide this)",
        Consent::NotAsked => "Not asked: asking would put them or someone else at risk",
    }
}

/// "14:03" in the device's time zone: when something happened today.
pub fn clock(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&chrono::Local).format("%H:%M").to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// "27 Nov, 10:02" in the device's time zone: enough to tell two findings
/// recorded apart from each other.
pub fn day_time(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono::Local)
            .format("%-d %b, %H:%M")
            .to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

/// A part of the functional test as the screen heads it.
pub fn part(p: fieldvisit_shared::records::capacity::Part) -> &'static str {
    use fieldvisit_shared::records::capacity::Part;
    match p {
        Part::Understand => "Understand the relevant information",
        Part::Retain => "Retain the information",
        Part::UseOrWeigh => "Use or weigh the information",
        Part::Communicate => "Communicate the decision, by any means",
    }
}

pub fn finding(f: fieldvisit_shared::records::capacity::Finding) -> &'static str {
    use fieldvisit_shared::records::capacity::Finding;
    match f {
        Finding::Met => "Met",
        Finding::NotMet => "Not met",
    }
}

pub fn impairment(a: fieldvisit_shared::records::capacity::ImpairmentAnswer) -> &'static str {
    use fieldvisit_shared::records::capacity::ImpairmentAnswer;
    match a {
        ImpairmentAnswer::Yes => "Yes",
        ImpairmentAnswer::No => "No",
    }
}

/// The outcome, after "the person".
pub fn outcome(o: fieldvisit_shared::records::capacity::Outcome) -> &'static str {
    use fieldvisit_shared::records::capacity::Outcome;
    match o {
        Outcome::HasCapacity => "has capacity for this decision",
        Outcome::LacksCapacity => "lacks capacity for this decision",
    }
}

/// A sentence from the rules ("the functional test is not finished: …")
/// as the start of one on screen.
pub fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
