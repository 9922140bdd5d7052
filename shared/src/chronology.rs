//! A case's chronology: its visits and its other entries (a phone call, a
//! letter, a meeting) on one timeline, newest first, as a practice team and
//! a court read it. Built from the case document alone, so it never opens a
//! visit document.

use crate::records::CaseDoc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChronologyItem<'a> {
    Visit {
        document_id: &'a str,
        at: &'a str,
        author: &'a str,
    },
    Entry {
        id: &'a str,
        at: &'a str,
        author: &'a str,
        kind: &'a str,
        summary: &'a str,
    },
}

impl ChronologyItem<'_> {
    pub fn at(&self) -> &str {
        match self {
            ChronologyItem::Visit { at, .. } | ChronologyItem::Entry { at, .. } => at,
        }
    }

    fn key(&self) -> &str {
        match self {
            ChronologyItem::Visit { document_id, .. } => document_id,
            ChronologyItem::Entry { id, .. } => id,
        }
    }
}

/// Newest first; ties in time keep a stable order by id, so every device
/// shows the same chronology for the same record.
pub fn chronology(case: &CaseDoc) -> Vec<ChronologyItem<'_>> {
    let visits = case.visits.iter().map(|(id, v)| ChronologyItem::Visit {
        document_id: id,
        at: &v.started_at,
        author: &v.author,
    });
    let entries = case.chronology.iter().map(|(id, e)| ChronologyItem::Entry {
        id,
        at: &e.at,
        author: &e.author,
        kind: &e.kind,
        summary: e.summary.as_str(),
    });
    let mut items: Vec<_> = visits.chain(entries).collect();
    // RFC 3339 in UTC ("Z") sorts as text; that is what the apps write.
    items.sort_by(|a, b| b.at().cmp(a.at()).then_with(|| a.key().cmp(b.key())));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ChronologyEntry, VisitIndexEntry};

    #[test]
    fn visits_and_entries_interleave_newest_first() {
        let mut case = CaseDoc::new("case-1", "REF", "Casey Synthetic");
        for (id, at) in [
            ("v1", "2026-01-02T10:00:00Z"),
            ("v2", "2026-03-01T10:00:00Z"),
        ] {
            case.visits.insert(
                id.into(),
                VisitIndexEntry {
                    started_at: at.into(),
                    author: "w".into(),
                    nonce: String::new(),
                },
            );
        }
        case.chronology.insert(
            "e1".into(),
            ChronologyEntry {
                at: "2026-02-01T09:00:00Z".into(),
                author: "w".into(),
                kind: "phone_call".into(),
                summary: autosurgeon::Text::with_value("Daughter rang."),
            },
        );
        let items = chronology(&case);
        let order: Vec<&str> = items.iter().map(|i| i.key()).collect();
        assert_eq!(order, ["v2", "e1", "v1"]);
    }
}
