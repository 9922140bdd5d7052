use super::*;

impl Evidence {
    /// A link to characters `from..to` of the person's own words in the
    /// visit `visit_id` (whose document is `visit`).
    pub fn own_words(
        visit: &Automerge,
        visit_id: &str,
        from: usize,
        to: usize,
        added_by: &str,
        added_at: &str,
    ) -> Result<Self, crate::Error> {
        let bad = |why: &str| {
            crate::Error::from(ValidationError::BadAnchor {
                id: format!("evidence in {visit_id}: {why}"),
            })
        };
        let text = doc::text_at(visit, TextField::OwnWords.path())?
            .ok_or_else(|| bad("the visit has no own words"))?;
        let chars: Vec<char> = visit.text(&text)?.chars().collect();
        if from >= to || to > chars.len() {
            return Err(bad("select at least one character of the person's words"));
        }
        // The start moves forward and the end back when their characters
        // are deleted, so the passage shrinks to what is left of it.
        let start = visit.get_cursor_moving(&text, from, None, automerge::MoveCursor::After)?;
        let end = visit.get_cursor_moving(&text, to - 1, None, automerge::MoveCursor::Before)?;
        Ok(Evidence {
            kind: EvidenceKind::OwnWords,
            visit_id: visit_id.to_owned(),
            observation: String::new(),
            start: start.to_string(),
            end: end.to_string(),
            quote: Text::with_value(chars[from..to].iter().collect::<String>()),
            note: Text::default(),
            added_by: added_by.to_owned(),
            added_at: added_at.to_owned(),
        })
    }

    /// A link to the creative-method observation `observation` of the visit
    /// `visit_id`; the quote keeps what the person expressed, as it was.
    pub fn creative(
        visit: &Automerge,
        visit_id: &str,
        observation: &str,
        added_by: &str,
        added_at: &str,
    ) -> Result<Self, crate::Error> {
        let read = crate::records::visit::read_visit(visit)?;
        let Some(found) = read.creative.get(observation) else {
            return Err(ValidationError::BadAnchor {
                id: format!("evidence in {visit_id}: no creative-method observation {observation}"),
            }
            .into());
        };
        Ok(Evidence {
            kind: EvidenceKind::Creative,
            visit_id: visit_id.to_owned(),
            observation: observation.to_owned(),
            start: String::new(),
            end: String::new(),
            quote: Text::with_value(found.expressed.as_str()),
            note: Text::default(),
            added_by: added_by.to_owned(),
            added_at: added_at.to_owned(),
        })
    }
}

/// Where a passage of own words is now in its visit. A creative-method
/// observation is not a passage: it reads as `Deleted`, and the app shows
/// its quote and the observation itself.
pub fn locate(visit_doc: &Automerge, e: &Evidence) -> Anchored {
    if e.kind != EvidenceKind::OwnWords {
        return Anchored::Deleted;
    }
    let Ok(Some(text)) = doc::text_at(visit_doc, TextField::OwnWords.path()) else {
        return Anchored::Deleted;
    };
    let position = |cursor: &str| {
        let cursor = automerge::Cursor::try_from(cursor).ok()?;
        visit_doc.get_cursor_position(&text, &cursor, None).ok()
    };
    match (position(&e.start), position(&e.end)) {
        (Some(from), Some(last)) if last >= from => Anchored::At { from, to: last + 1 },
        _ => Anchored::Deleted,
    }
}
