//! A case's chronology: its visits and its other entries (a phone call, a
//! letter, a meeting) on one timeline, newest first, as a practice team and
//! a court read it. Built from the case document alone, so it never opens a
//! visit document.

use crate::records::{CaseDoc, ReviewStatus, VisitDoc};

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
    /// An event a worker of the case marked significant on a visit.
    Significant {
        document_id: &'a str,
        id: &'a str,
        at: &'a str,
        author: &'a str,
        summary: &'a str,
    },
    /// A review decision on a visit (submitted, returned, signed off).
    Decision {
        document_id: &'a str,
        id: &'a str,
        at: &'a str,
        by: &'a str,
        status: ReviewStatus,
        comment: &'a str,
    },
}

impl ChronologyItem<'_> {
    pub fn at(&self) -> &str {
        match self {
            ChronologyItem::Visit { at, .. }
            | ChronologyItem::Entry { at, .. }
            | ChronologyItem::Significant { at, .. }
            | ChronologyItem::Decision { at, .. } => at,
        }
    }

    fn key(&self) -> &str {
        match self {
            ChronologyItem::Visit { document_id, .. } => document_id,
            ChronologyItem::Entry { id, .. }
            | ChronologyItem::Significant { id, .. }
            | ChronologyItem::Decision { id, .. } => id,
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
    sorted(visits.chain(entries).collect())
}

/// The chronology with every significant event and review decision of the
/// visits given (those on hand: both live in their visit's document).
pub fn with_reviews<'a>(
    case: &'a CaseDoc,
    visits: &'a [(String, VisitDoc)],
) -> Vec<ChronologyItem<'a>> {
    let mut items = chronology(case);
    for (document_id, visit) in visits {
        for (id, e) in &visit.significant {
            // Marked by whoever marked it; the visit's author only for
            // events marked before that was kept.
            let author = match e.marked_by.as_str() {
                "" => visit.author.as_str(),
                by => by,
            };
            items.push(ChronologyItem::Significant {
                document_id,
                id,
                at: &e.at,
                author,
                summary: e.summary.as_str(),
            });
        }
        for (id, d) in &visit.review.decisions {
            items.push(ChronologyItem::Decision {
                document_id,
                id,
                at: &d.at,
                by: &d.by,
                status: d.status,
                comment: d.comment.as_str(),
            });
        }
    }
    sorted(items)
}

fn sorted(mut items: Vec<ChronologyItem<'_>>) -> Vec<ChronologyItem<'_>> {
    // RFC 3339 in UTC ("Z") sorts as text; that is what the apps write.
    items.sort_by(|a, b| b.at().cmp(a.at()).then_with(|| a.key().cmp(b.key())));
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{ChronologyEntry, PlaceKind, ReviewDecision, VisitIndexEntry};

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

        // Review decisions take their place in time.
        let mut visit = VisitDoc::new("case-1", "w", "2026-01-02T10:00:00Z", PlaceKind::Home);
        visit.review.decisions.insert(
            "d1".into(),
            ReviewDecision {
                status: ReviewStatus::SignedOff,
                by: "s".into(),
                at: "2026-02-15T12:00:00Z".into(),
                comment: Default::default(),
            },
        );
        // So do the events a worker marked significant, each under whoever
        // marked it: here a colleague ("c") on w's visit, and one marked
        // before the marker was kept (the visit's author is all there is).
        visit.significant.insert(
            "s1".into(),
            crate::records::SignificantEvent {
                at: "2026-01-01T22:00:00Z".into(),
                summary: autosurgeon::Text::with_value("Fell in the night."),
                marked_by: "c".into(),
            },
        );
        visit.significant.insert(
            "s0".into(),
            crate::records::SignificantEvent {
                at: "2025-12-24T22:00:00Z".into(),
                summary: autosurgeon::Text::with_value("Moved in."),
                marked_by: String::new(),
            },
        );
        let visits = [("v1".to_owned(), visit)];
        let items = with_reviews(&case, &visits);
        let order: Vec<&str> = items.iter().map(|i| i.key()).collect();
        assert_eq!(order, ["v2", "d1", "e1", "v1", "s1", "s0"]);
        let marked: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                ChronologyItem::Significant { author, .. } => Some(*author),
                _ => None,
            })
            .collect();
        assert_eq!(marked, ["c", "w"]);
    }
}
