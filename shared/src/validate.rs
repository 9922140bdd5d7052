//! Checks on records and on inputs, shared by the app (before a change is
//! made) and the server (before it accepts one through its API).

use crate::ValidationError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
