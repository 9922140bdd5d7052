//! Checks on records and on inputs, shared by the app (before a change is
//! made) and the server (before it accepts one through its API).

use std::collections::HashSet;

use crate::ValidationError;
use crate::records::{CaseDoc, VisitDoc};

/// Longest free text accepted in one field: a long visit note is a few
/// thousand words; this bounds a runaway paste, not a writer.
pub const MAX_TEXT_CHARS: usize = 200_000;
pub const MAX_LABEL_CHARS: usize = 200;

pub fn timestamp(field: &'static str, value: &str) -> Result<(), ValidationError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|_| ())
        .map_err(|_| ValidationError::BadTimestamp {
            field,
            value: value.to_owned(),
        })
}

/// An optional date: empty, or YYYY-MM-DD.
pub fn date(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() || chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
        Ok(())
    } else {
        Err(ValidationError::BadDate {
            field,
            value: value.to_owned(),
        })
    }
}

pub fn sha256_hex(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(ValidationError::BadSha256 {
            field,
            value: value.to_owned(),
        })
    }
}

/// Ids of people, cases and devices: safe in URLs, logs and file names.
pub fn id(field: &'static str, value: &str) -> Result<(), ValidationError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::BadId {
            field,
            value: value.to_owned(),
        })
    }
}

/// A short human label (a name, a case reference, a device label).
pub fn label(field: &'static str, value: &str) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if value.trim().is_empty() {
        Err(ValidationError::Empty { field })
    } else if len > MAX_LABEL_CHARS {
        Err(ValidationError::TooLong {
            field,
            len,
            max: MAX_LABEL_CHARS,
        })
    } else {
        Ok(())
    }
}

pub fn text(field: &'static str, value: &str) -> Result<(), ValidationError> {
    let len = value.chars().count();
    if len > MAX_TEXT_CHARS {
        Err(ValidationError::TooLong {
            field,
            len,
            max: MAX_TEXT_CHARS,
        })
    } else {
        Ok(())
    }
}

/// Every problem with a visit, not just the first, so a form can show them all.
pub fn visit(v: &VisitDoc) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(id("case_id", &v.case_id));
    check(id("author", &v.author));
    check(timestamp("started_at", &v.started_at));
    check(text("own_words", v.own_words.text.as_str()));
    check(text("observations", v.observations.as_str()));
    check(text("analysis", v.analysis.as_str()));
    for action in v.actions.values() {
        check(date("actions.due", &action.due));
        check(text("actions.text", action.text.as_str()));
    }
    for event in v.significant.values() {
        check(timestamp("significant.at", &event.at));
        check(text("significant.summary", event.summary.as_str()));
    }
    for (sha, photo) in &v.photos {
        check(sha256_hex("photos", sha));
        if sha != &photo.sha256 {
            check(Err(ValidationError::BadSha256 {
                field: "photos.sha256",
                value: photo.sha256.clone(),
            }));
        }
    }
    for creative in v.creative.values() {
        for sha in &creative.photos {
            if !v.photos.contains_key(sha) {
                check(Err(ValidationError::UnknownPhoto {
                    sha256: sha.clone(),
                }));
            }
        }
    }
    for (id_, annotation) in &v.annotations {
        check(timestamp("annotations.created_at", &annotation.created_at));
        if annotation.start.is_empty() || annotation.end.is_empty() {
            check(Err(ValidationError::BadAnchor { id: id_.clone() }));
        }
    }
    if v.review.status != crate::records::ReviewStatus::Draft {
        check(timestamp("review.changed_at", &v.review.changed_at));
    }
    errors
}

pub fn case(c: &CaseDoc) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut check = |r: Result<(), ValidationError>| {
        if let Err(e) = r {
            errors.push(e);
        }
    };
    check(id("case_id", &c.case_id));
    check(label("reference", &c.reference));
    check(label("person.name", c.person.name.as_str()));
    check(date("person.date_of_birth", &c.person.date_of_birth));
    let mut seen = HashSet::new();
    for (visit_id, entry) in &c.visits {
        if !seen.insert(visit_id) {
            check(Err(ValidationError::DuplicateId {
                field: "visits",
                id: visit_id.clone(),
            }));
        }
        check(timestamp("visits.started_at", &entry.started_at));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{PlaceKind, VisitDoc};

    #[test]
    fn a_fresh_visit_is_valid() {
        let v = VisitDoc::new(
            "case-1",
            "w-1",
            "2026-11-25T10:00:00+00:00",
            PlaceKind::Home,
        );
        assert_eq!(visit(&v), vec![]);
    }

    #[test]
    fn every_problem_is_reported() {
        let mut v = VisitDoc::new("case 1", "w-1", "yesterday", PlaceKind::Home);
        v.creative.insert(
            "c1".into(),
            crate::records::CreativeObservation {
                method: crate::records::CreativeMethod::Music,
                expressed: Default::default(),
                how: Default::default(),
                reading: Default::default(),
                photos: vec!["ab".into()],
            },
        );
        let errors = visit(&v);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors.contains(&ValidationError::UnknownPhoto {
            sha256: "ab".into()
        }));
    }

    #[test]
    fn ids_labels_and_hashes() {
        assert!(id("id", "case-01_a").is_ok());
        assert!(id("id", "").is_err());
        assert!(id("id", "a/b").is_err());
        assert!(label("name", "  ").is_err());
        assert!(label("name", &"x".repeat(201)).is_err());
        assert!(sha256_hex("h", &"a".repeat(64)).is_ok());
        assert!(sha256_hex("h", &"A".repeat(64)).is_err());
        assert!(date("d", "").is_ok());
        assert!(date("d", "2026-02-30").is_err());
    }
}
