//! The practice's case record as the server holds it: the person's
//! details, the chronology, every visit with its passages, annotations and
//! review, and who wrote each passage; as it stands, or as it stood at a
//! time. Pure: the caller reads the documents, the names and the receipts.
//!
//! "As it stood at a time" means as the server held it then: the changes
//! it had received by that time (its receipts; a change the server made
//! itself counts from its own timestamp). A device's clock says when a
//! worker wrote something, which the authorship view shows, but it is the
//! device's claim; what the practice's record said on a day is what the
//! server had.

use fieldvisit_shared::api::ErrorCode;
use std::collections::HashMap;

use automerge::{ActorId, Automerge, ChangeHash, ChangeMetadata};
use fieldvisit_shared::api::{
    AnnotationView, AuthorRun, Authorship, CaseRecord, ChronologyRow, DecisionView, OtherRecord,
    PassageView, PhotoView, TimeSpan, VisitRecord,
};
use fieldvisit_shared::chronology::{self, ChronologyItem};
use fieldvisit_shared::records::{
    self, AnyRecord, CaseDoc, Kind, Passage, ReviewStatus, Said, VisitDoc,
};
use fieldvisit_shared::{history, provenance};

use crate::error::{Error, Result};

/// People and devices by the ids the records hold.
#[derive(Debug, Default)]
pub struct Names {
    people: HashMap<String, String>,
    actors: HashMap<ActorId, (String, String)>,
}

impl Names {
    /// `people`: (person id, name); `devices`: (device id, label, person's
    /// name). Each device's automerge actor is derived from its id, as the
    /// rules bind it, so authorship never rests on what a device says.
    pub fn new(
        people: impl IntoIterator<Item = (String, String)>,
        devices: impl IntoIterator<Item = (String, String, String)>,
    ) -> Self {
        let mut actors: HashMap<ActorId, (String, String)> = devices
            .into_iter()
            .map(|(id, label, person)| (provenance::device_actor(&id), (person, label)))
            .collect();
        actors.insert(
            provenance::server_actor(),
            ("The practice (on the server)".into(), "the server".into()),
        );
        Names {
            people: people.into_iter().collect(),
            actors,
        }
    }

    pub fn person(&self, id: &str) -> String {
        match self.people.get(id) {
            Some(name) => name.clone(),
            None if id.is_empty() => String::new(),
            None => "someone outside the practice".into(),
        }
    }

    /// (person's name, device label) of an automerge actor.
    fn actor(&self, actor: &ActorId) -> (String, String) {
        self.actors
            .get(actor)
            .cloned()
            .unwrap_or_else(|| ("an unknown device".into(), "unknown".into()))
    }
}

/// One document with the server's receipts of its changes (change hash to
/// the time it first arrived).
pub struct Held<'a> {
    pub document_id: &'a str,
    pub doc: &'a Automerge,
    pub receipts: &'a HashMap<String, String>,
}

/// A time to show the record as it stood at.
#[derive(Debug, Clone)]
pub struct AsAt {
    /// Normalised RFC 3339.
    pub at: String,
    /// Since when the server has kept receipts (see
    /// `Db::receipts_kept_since`): a change it holds without one was
    /// stored before then.
    pub receipts_kept_since: String,
}

impl AsAt {
    /// Refuses a time before the server kept receipts: what it held then
    /// is not known.
    pub fn new(at: &str, receipts_kept_since: &str) -> Result<Self> {
        let at = normalise_time(at)?;
        let since = normalise_time(receipts_kept_since)?;
        if at < since {
            return Err(Error::BadRequest(
                ErrorCode::BeforeReceipts,
                format!(
                    "the server has kept the time it received each change since {since}; the record cannot be shown as it stood before then"
                ),
            ));
        }
        Ok(AsAt {
            at,
            receipts_kept_since: since,
        })
    }
}

impl Held<'_> {
    /// The heads as the server held the document at `as_at`, or `None`
    /// when it had nothing of it yet. A change counts from its receipt; one
    /// the server made itself from its own timestamp; any other change
    /// without a receipt was stored before receipts were kept.
    fn heads_at(&self, as_at: &AsAt) -> Option<Vec<ChangeHash>> {
        let at_ms = millis(&as_at.at)?;
        let before_receipts = millis(&as_at.receipts_kept_since)?;
        let server = provenance::server_actor();
        let received: HashMap<ChangeHash, i64> = self
            .receipts
            .iter()
            .filter_map(|(hash, when)| Some((hash.parse().ok()?, millis(when)?)))
            .collect();
        let heads = history::heads_where(self.doc, |m: &ChangeMetadata<'_>| {
            let arrived = match received.get(&m.hash) {
                Some(ms) => *ms,
                None if *m.actor == server => m.timestamp.saturating_mul(1000),
                None => before_receipts,
            };
            arrived <= at_ms
        });
        (!heads.is_empty()).then_some(heads)
    }
}

fn millis(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A time as the server writes its own (UTC, milliseconds), so times
/// compare as text.
pub fn normalise_time(value: &str) -> Result<String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .map_err(|_| {
            Error::BadRequest(
                ErrorCode::BadTime,
                format!("{value:?} is not a date and time (RFC 3339, e.g. 2026-11-27T09:30:00Z)"),
            )
        })
}

/// A change's own timestamp (seconds since the epoch) as RFC 3339.
fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The case record; `as_at` (normalised) shows it as the server held it
/// then, each passage marked with what changed since.
pub fn case_record(
    case_id: &str,
    case: &Held<'_>,
    visits: &[Held<'_>],
    others: &[(Held<'_>, Kind)],
    names: &Names,
    as_at: Option<&AsAt>,
) -> Result<CaseRecord> {
    let case_then = state(case, as_at)?;
    let Some((case_doc, case_heads)) = case_then else {
        return Err(Error::NotFound(format!("case {case_id} as at that time")));
    };
    let case_doc: CaseDoc = records::read_case(&case_doc)?;
    let mut shown: Vec<(String, VisitDoc)> = Vec::new();
    let mut views = Vec::new();
    let mut visits_since = 0;
    for held in visits {
        let Some((doc, heads)) = state(held, as_at)? else {
            // Only what had arrived by now counts as arriving later.
            if !held.doc.get_heads().is_empty() {
                visits_since += 1;
            }
            continue;
        };
        let Ok(visit) = records::read_visit(&doc) else {
            // Registered, but nothing of it received yet.
            continue;
        };
        views.push(visit_record(held, &visit, heads.as_deref(), names)?);
        shown.push((held.document_id.to_owned(), visit));
    }
    views.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    let mut chronology: Vec<ChronologyRow> = chronology::with_reviews(&case_doc, &shown)
        .into_iter()
        .map(|item| chronology_row(&item, case.document_id, names))
        .collect();
    let mut records = Vec::new();
    for (held, kind) in others {
        let Some((doc, heads)) = state(held, as_at)? else {
            continue;
        };
        // Registered, but nothing of it received yet: not yet a record.
        let Some((record, rows)) = other_record(held, *kind, &doc, heads.as_deref(), names)? else {
            continue;
        };
        chronology.extend(rows);
        records.push(record);
    }
    // Newest first, as the shared chronology orders its own rows.
    chronology.sort_by(|a, b| b.at.cmp(&a.at));
    records.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(CaseRecord {
        case_id: case_id.to_owned(),
        document_id: case.document_id.to_owned(),
        reference: case_doc.reference.clone(),
        details: passages(case, case_doc.passages(), case_heads.as_deref())?,
        chronology,
        visits: views,
        records,
        as_at: as_at.map(|a| a.at.clone()),
        visits_since,
    })
}

/// The document as it stood at `as_at` with those heads, or as it stands
/// (no heads); `None` when the server had nothing of it then.
fn state(
    held: &Held<'_>,
    as_at: Option<&AsAt>,
) -> Result<Option<(Automerge, Option<Vec<ChangeHash>>)>> {
    let Some(at) = as_at else {
        return Ok(Some((held.doc.clone(), None)));
    };
    let Some(heads) = held.heads_at(at) else {
        return Ok(None);
    };
    let then = held
        .doc
        .fork_at(&heads)
        .map_err(|e| Error::Record(e.into()))?;
    Ok(Some((then, Some(heads))))
}

fn passages(
    held: &Held<'_>,
    list: Vec<Passage>,
    heads: Option<&[ChangeHash]>,
) -> Result<Vec<PassageView>> {
    list.into_iter()
        .map(|p| {
            let since = match heads {
                Some(heads) => {
                    let path: Vec<&str> = p.path.iter().map(String::as_str).collect();
                    history::as_at(held.doc, &path, heads)?
                }
                None => Vec::new(),
            };
            Ok(PassageView {
                key: p.key,
                label: p.label,
                voice: p.voice,
                text: p.text,
                since,
            })
        })
        .collect()
}

fn visit_record(
    held: &Held<'_>,
    visit: &VisitDoc,
    heads: Option<&[ChangeHash]>,
    names: &Names,
) -> Result<VisitRecord> {
    let mut decisions: Vec<DecisionView> = visit
        .review
        .decisions
        .iter()
        .map(|(id, d)| DecisionView {
            id: id.clone(),
            status: d.status,
            by: names.person(&d.by),
            at: d.at.clone(),
            comment: d.comment.as_str().to_owned(),
        })
        .collect();
    decisions.sort_by(|a, b| a.at.cmp(&b.at));
    let mut annotations: Vec<AnnotationView> = visit
        .annotations
        .iter()
        .map(|(id, a)| AnnotationView {
            id: id.clone(),
            author: names.person(&a.author),
            at: a.created_at.clone(),
            field: a.field,
            quote: a.quote.as_str().to_owned(),
            body: a.body.as_str().to_owned(),
            resolved_by: (!a.resolved_by.is_empty()).then(|| names.person(&a.resolved_by)),
        })
        .collect();
    annotations.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(VisitRecord {
        document_id: held.document_id.to_owned(),
        started_at: visit.started_at.clone(),
        author: names.person(&visit.author),
        place: visit.place,
        communication: visit.own_words.communication.clone(),
        review: visit.review.status,
        decisions,
        passages: passages(held, visit.passages(), heads)?,
        annotations,
        photos: visit
            .photos
            .values()
            .map(|p| PhotoView {
                sha256: p.sha256.clone(),
                caption: p.caption.as_str().to_owned(),
                captured_at: p.captured_at.clone(),
                removed: (!p.removed_by.is_empty())
                    .then(|| (names.person(&p.removed_by), p.removed_at.clone())),
            })
            .collect(),
    })
}

/// A record of the case other than a visit, as the record shows it
/// ([`Record::summary`]), and the rows it adds to the chronology; `None`
/// when its kind is not listed so or nothing of it has arrived.
fn other_record(
    held: &Held<'_>,
    kind: Kind,
    doc: &Automerge,
    heads: Option<&[ChangeHash]>,
    names: &Names,
) -> Result<Option<(OtherRecord, Vec<ChronologyRow>)>> {
    let record = match AnyRecord::read(kind, doc) {
        Ok(record) => record,
        Err(e) => return Ok(unreadable(held, kind, doc, &e)),
    };
    let Some(summary) = record.summary(doc) else {
        return Ok(None);
    };
    let document_id = held.document_id.to_owned();
    let rows = summary
        .events
        .into_iter()
        .map(|e| ChronologyRow {
            at: e.at,
            kind: e.kind.to_owned(),
            title: e.title,
            by: names.person(&e.by),
            summary: e.summary,
            document_id: Some(document_id.clone()),
            passage: None,
        })
        .collect();
    let status = summary
        .status
        .iter()
        .map(|said| match said {
            Said::Words(words) => words.clone(),
            Said::Person(id) => names.person(id),
        })
        .collect();
    let shown = OtherRecord {
        document_id,
        kind: kind.as_str().to_owned(),
        title: summary.title,
        at: summary.at,
        by: names.person(&summary.by),
        status,
        status_at: summary.status_at,
        passages: passages(held, record.passages(), heads)?,
    };
    Ok(Some((shown, rows)))
}

/// A record the server holds but cannot read (written by a newer version,
/// say): the case record says it is there rather than leave it out. Nothing
/// received yet is no record.
fn unreadable(
    held: &Held<'_>,
    kind: Kind,
    doc: &Automerge,
    why: &fieldvisit_shared::Error,
) -> Option<(OtherRecord, Vec<ChronologyRow>)> {
    if doc.get_heads().is_empty() {
        return None;
    }
    Some((
        OtherRecord {
            document_id: held.document_id.to_owned(),
            kind: kind.as_str().to_owned(),
            title: format!("{} this server cannot show", kind.name()),
            at: String::new(),
            by: String::new(),
            status: format!("Kept whole, but not readable here ({why}): a newer server shows it."),
            status_at: None,
            passages: Vec::new(),
        },
        Vec::new(),
    ))
}

pub fn decision_title(status: ReviewStatus) -> &'static str {
    match status {
        ReviewStatus::Draft => "Reopened",
        ReviewStatus::Submitted => "Submitted for review",
        ReviewStatus::Returned => "Returned for changes",
        ReviewStatus::SignedOff => "Signed off",
    }
}

fn chronology_row(item: &ChronologyItem<'_>, case_document: &str, names: &Names) -> ChronologyRow {
    let row = |kind: &str, title: String, by: &str, summary: &str| ChronologyRow {
        at: item.at().to_owned(),
        kind: kind.to_owned(),
        title,
        by: names.person(by),
        summary: summary.to_owned(),
        document_id: None,
        passage: None,
    };
    match item {
        ChronologyItem::Visit {
            document_id,
            author,
            ..
        } => ChronologyRow {
            document_id: Some((*document_id).to_owned()),
            ..row("visit", "Visit".into(), author, "")
        },
        ChronologyItem::Entry {
            id,
            author,
            kind,
            summary,
            ..
        } => ChronologyRow {
            document_id: Some(case_document.to_owned()),
            passage: Some(format!("entry:{id}")),
            ..row("entry", entry_title(kind), author, summary)
        },
        ChronologyItem::Significant {
            document_id,
            id,
            author,
            summary,
            ..
        } => ChronologyRow {
            document_id: Some((*document_id).to_owned()),
            passage: Some(format!("significant:{id}")),
            ..row("significant", "Significant event".into(), author, summary)
        },
        ChronologyItem::Decision {
            document_id,
            id,
            by,
            status,
            comment,
            ..
        } => ChronologyRow {
            document_id: Some((*document_id).to_owned()),
            passage: Some(format!("decision:{id}")),
            ..row("decision", decision_title(*status).into(), by, comment)
        },
    }
}

/// "phone_call" reads "Phone call".
fn entry_title(kind: &str) -> String {
    let words = kind.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Entry".into(),
    }
}

/// Who wrote each stretch of `passage` in `held`, with the device's time
/// and the server's receipt of each; consecutive changes by one device run
/// together.
pub fn authorship(held: &Held<'_>, passage: &Passage, names: &Names) -> Result<Authorship> {
    let path: Vec<&str> = passage.path.iter().map(String::as_str).collect();
    let mut runs: Vec<(ActorId, AuthorRun)> = Vec::new();
    let server = provenance::server_actor();
    for run in history::authorship(held.doc, &path, None)? {
        // 0: a change committed without a time.
        let written = (run.device_time != 0).then(|| rfc3339(run.device_time));
        let received = held.receipts.get(&run.change.to_string());
        if let Some((actor, last)) = runs.last_mut()
            && *actor == run.actor
        {
            last.text.push_str(&run.text);
            include(&mut last.device_time, written.as_deref());
            include(&mut last.received, received.map(String::as_str));
            continue;
        }
        let (person, device) = names.actor(&run.actor);
        let made_on_server = run.actor == server;
        runs.push((
            run.actor,
            AuthorRun {
                text: run.text,
                person,
                device,
                made_on_server,
                device_time: written.as_deref().map(point),
                received: received.map(|at| point(at)),
            },
        ));
    }
    Ok(Authorship {
        passage: passage.key.clone(),
        label: passage.label.clone(),
        runs: runs.into_iter().map(|(_, run)| run).collect(),
    })
}

fn point(at: &str) -> TimeSpan {
    TimeSpan {
        from: at.to_owned(),
        to: at.to_owned(),
    }
}

/// Widens `span` to take in `at` (times are normalised RFC 3339, so they
/// compare as text).
fn include(span: &mut Option<TimeSpan>, at: Option<&str>) {
    let Some(at) = at else {
        return;
    };
    match span {
        None => *span = Some(point(at)),
        Some(span) => {
            if at < span.from.as_str() {
                span.from = at.to_owned();
            }
            if at > span.to.as_str() {
                span.to = at.to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvisit_shared::doc;
    use fieldvisit_shared::provenance::device_actor;
    use fieldvisit_shared::records::{PlaceKind, TextField};

    fn visit_doc() -> Automerge {
        let v = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
        doc::new_document(&v, device_actor("d-1")).unwrap()
    }

    fn typed(d: &mut Automerge, text: &str) -> ChangeHash {
        doc::update_text(d, TextField::Observations.path(), text).unwrap();
        d.get_heads()[0]
    }

    fn observations(held: &Held<'_>, at: &AsAt) -> String {
        let heads = held.heads_at(at).unwrap_or_default();
        let then = held.doc.fork_at(&heads).unwrap();
        records::read_visit(&then)
            .map(|v| v.observations.as_str().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn a_concern_this_server_cannot_read_is_shown_as_there_not_left_out() {
        use fieldvisit_shared::records::ConcernDoc;
        let receipts = HashMap::new();
        let names = Names::default();
        let mut newer = ConcernDoc::new("case-1", "", "w-1", "2026-11-25T10:00:00Z");
        newer.schema = 99;
        let newer = doc::new_document(&newer, device_actor("d-1")).unwrap();
        let held = Held {
            document_id: "c-1",
            doc: &newer,
            receipts: &receipts,
        };
        let (record, rows) = other_record(&held, Kind::Concern, &newer, None, &names)
            .unwrap()
            .expect("shown");
        assert!(record.title.contains("cannot show"), "{record:?}");
        assert!(rows.is_empty());
        let empty = Automerge::new();
        let nothing = Held {
            doc: &empty,
            ..held
        };
        assert!(
            other_record(&nothing, Kind::Concern, &empty, None, &names)
                .unwrap()
                .is_none(),
            "nothing received yet is no record"
        );
    }

    #[test]
    fn as_at_follows_receipts_and_counts_older_changes_from_when_receipts_began() {
        let mut d = visit_doc();
        // Stored before receipts were kept: no receipt.
        let first = typed(&mut d, "Before receipts.");
        let second = typed(&mut d, "Before receipts. Received at ten.");
        let third = typed(&mut d, "Before receipts. Received at ten. And at eleven.");
        let _ = first;
        let receipts = HashMap::from([
            (second.to_string(), "2026-11-27T10:00:00.000Z".to_owned()),
            (third.to_string(), "2026-11-27T11:00:00.000Z".to_owned()),
        ]);
        let held = Held {
            document_id: "doc",
            doc: &d,
            receipts: &receipts,
        };
        let since = "2026-11-27T09:00:00.000Z";
        let at = |t: &str| AsAt::new(t, since).unwrap();
        assert_eq!(
            observations(&held, &at("2026-11-27T09:30:00Z")),
            "Before receipts."
        );
        assert_eq!(
            observations(&held, &at("2026-11-27T10:30:00Z")),
            "Before receipts. Received at ten."
        );
        assert_eq!(
            observations(&held, &at("2026-11-27T12:00:00+01:00")),
            "Before receipts. Received at ten. And at eleven."
        );
        // Before receipts began, what the server held is not known.
        let err = AsAt::new("2026-11-27T08:00:00Z", since).unwrap_err();
        assert_eq!(err.code(), "before_receipts");
        assert_eq!(
            AsAt::new("yesterday", since).unwrap_err().code(),
            "bad_time"
        );
    }

    #[test]
    fn authorship_runs_one_device_together_and_names_it() {
        let mut d = visit_doc();
        let a = typed(&mut d, "One");
        let b = typed(&mut d, "One two");
        let mut other = d.fork().with_actor(device_actor("d-2"));
        let c = typed(&mut other, "One two three");
        d.merge(&mut other).unwrap();
        let receipts: HashMap<String, String> = [(a, "01"), (b, "02"), (c, "03")]
            .into_iter()
            .map(|(h, s)| (h.to_string(), format!("2026-11-27T10:00:{s}.000Z")))
            .collect();
        let held = Held {
            document_id: "doc",
            doc: &d,
            receipts: &receipts,
        };
        let names = Names::new(
            [("w-1".to_owned(), "Wren".to_owned())],
            [
                ("d-1".to_owned(), "Phone".to_owned(), "Wren".to_owned()),
                ("d-2".to_owned(), "Tablet".to_owned(), "Ash".to_owned()),
            ],
        );
        let passage = records::read_visit(&d)
            .unwrap()
            .passages()
            .into_iter()
            .find(|p| p.key == "field:observations")
            .unwrap();
        let who = authorship(&held, &passage, &names).unwrap();
        let runs: Vec<(&str, &str, &str)> = who
            .runs
            .iter()
            .map(|r| (r.text.as_str(), r.person.as_str(), r.device.as_str()))
            .collect();
        assert_eq!(
            runs,
            [("One two", "Wren", "Phone"), (" three", "Ash", "Tablet")]
        );
        let received = who.runs[0].received.clone().unwrap();
        assert_eq!(
            (received.from.as_str(), received.to.as_str()),
            ("2026-11-27T10:00:01.000Z", "2026-11-27T10:00:02.000Z")
        );
        assert!(!who.runs[0].made_on_server);
        assert!(who.runs[0].device_time.is_some());
    }
}
