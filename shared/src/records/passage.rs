//! Every piece of text people wrote in a record, wherever it lives: what
//! the server's search indexes, what authorship attributes and what the
//! record as at a time compares. One list per kind, so a new text field is
//! searchable, attributable and dated the moment it is listed here.

use super::{CaseDoc, TextField, VisitDoc, VisitText};

/// One piece of text in a record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Passage {
    /// Stable within its document: links and requests name a passage by it
    /// (never by a raw path, so a request cannot point anywhere else).
    pub key: String,
    /// What it is, for people.
    pub label: String,
    /// Whose voice it is: the person's own words are kept apart from the
    /// worker's observations and analysis, and from oversight.
    pub voice: Voice,
    /// Where its text object lives in the document.
    pub path: Vec<String>,
    pub text: String,
}

string_enum! {
    /// Whose words a passage holds.
    Voice {
        Person => "person", Worker => "worker", Oversight => "oversight", Record => "record",
    }
}

fn passage(key: String, label: &str, voice: Voice, path: &[&str], text: &str) -> Passage {
    Passage {
        key,
        label: label.to_owned(),
        voice,
        path: path.iter().map(|p| (*p).to_owned()).collect(),
        text: text.to_owned(),
    }
}

fn text_passage(text: VisitText, label: &str, voice: Voice, visit: &VisitDoc) -> Passage {
    let value = text.read(visit).unwrap_or_default().to_owned();
    Passage {
        key: text.key(),
        label: label.to_owned(),
        voice,
        path: text.path().into_iter().map(str::to_owned).collect(),
        text: value,
    }
}

impl VisitDoc {
    /// The visit's passages in the order the record reads.
    pub fn passages(&self) -> Vec<Passage> {
        use super::{ActionText, CreativeText};
        let mut out = vec![
            text_passage(
                TextField::OwnWords.into(),
                "The person's own words",
                Voice::Person,
                self,
            ),
            text_passage(
                TextField::Observations.into(),
                "Observations",
                Voice::Worker,
                self,
            ),
            text_passage(TextField::Analysis.into(), "Analysis", Voice::Worker, self),
        ];
        for id in self.creative.keys() {
            for (part, label, voice) in [
                (
                    CreativeText::Expressed,
                    "What they expressed",
                    Voice::Person,
                ),
                (CreativeText::How, "How they expressed it", Voice::Person),
                (CreativeText::Reading, "The worker's reading", Voice::Worker),
            ] {
                let text = VisitText::Creative {
                    id: id.clone(),
                    part,
                };
                out.push(text_passage(text, label, voice, self));
            }
        }
        for id in self.actions.keys() {
            for (part, label) in [
                (ActionText::Text, "Action"),
                (ActionText::Owner, "Action owner"),
            ] {
                let text = VisitText::Action {
                    id: id.clone(),
                    part,
                };
                out.push(text_passage(text, label, Voice::Worker, self));
            }
        }
        for id in self.significant.keys() {
            let text = VisitText::Significant { id: id.clone() };
            out.push(text_passage(text, "Significant event", Voice::Worker, self));
        }
        for sha256 in self.photos.keys() {
            let text = VisitText::PhotoCaption {
                sha256: sha256.clone(),
            };
            out.push(text_passage(text, "Photo caption", Voice::Worker, self));
        }
        for (id, a) in &self.annotations {
            out.push(passage(
                format!("annotation:{id}"),
                "Supervisor's annotation",
                Voice::Oversight,
                &["annotations", id, "body"],
                a.body.as_str(),
            ));
        }
        for (id, d) in &self.review.decisions {
            out.push(passage(
                format!("decision:{id}"),
                "Review comment",
                Voice::Oversight,
                &["review", "decisions", id, "comment"],
                d.comment.as_str(),
            ));
        }
        for (id, a) in &self.addenda {
            out.push(passage(
                format!("addendum:{id}"),
                "Addendum",
                Voice::Worker,
                &["addenda", id, "text"],
                a.text.as_str(),
            ));
        }
        out
    }
}

impl CaseDoc {
    /// The case's passages: the person's details, the people around them
    /// and the chronology entries that are not visits.
    pub fn passages(&self) -> Vec<Passage> {
        let p = &self.person;
        let mut out = vec![
            passage(
                "person:name".into(),
                "Name",
                Voice::Record,
                &["person", "name"],
                p.name.as_str(),
            ),
            passage(
                "person:preferred_name".into(),
                "Preferred name",
                Voice::Record,
                &["person", "preferred_name"],
                p.preferred_name.as_str(),
            ),
            passage(
                "person:communication_needs".into(),
                "Communication needs",
                Voice::Record,
                &["person", "communication_needs"],
                p.communication_needs.as_str(),
            ),
            passage(
                "person:key_details".into(),
                "Key details",
                Voice::Record,
                &["person", "key_details"],
                p.key_details.as_str(),
            ),
        ];
        for (id, k) in &self.key_people {
            out.push(passage(
                format!("key_person:{id}:name"),
                "Key person",
                Voice::Record,
                &["key_people", id, "name"],
                k.name.as_str(),
            ));
            out.push(passage(
                format!("key_person:{id}:relationship"),
                "Relationship",
                Voice::Record,
                &["key_people", id, "relationship"],
                k.relationship.as_str(),
            ));
        }
        for (id, e) in &self.chronology {
            out.push(passage(
                format!("entry:{id}"),
                "Chronology entry",
                Voice::Worker,
                &["chronology", id, "summary"],
                e.summary.as_str(),
            ));
        }
        out
    }
}

impl super::ConcernDoc {
    /// A concern is the worker's account, in the order the form asks.
    pub fn passages(&self) -> Vec<Passage> {
        super::concern::ConcernText::ALL
            .iter()
            .map(|t| {
                passage(
                    t.as_str().to_owned(),
                    match t {
                        super::concern::ConcernText::WhatHappened => "What happened",
                        super::concern::ConcernText::WhoIsAtRisk => "Who is at risk",
                        super::concern::ConcernText::ImmediateActions => "Immediate actions taken",
                        super::concern::ConcernText::WithoutConsentReason => {
                            "Why a referral goes ahead without consent"
                        }
                    },
                    Voice::Worker,
                    &[t.as_str()],
                    t.read(self),
                )
            })
            .collect()
    }
}

impl super::CapacityDoc {
    /// The assessor's words, in the order the assessment is made. The
    /// evidence is the assessor's account (the person's own words stay in
    /// the visit they were recorded in, linked from here).
    pub fn passages(&self) -> Vec<Passage> {
        use super::capacity::{CapacityText, Part};
        CapacityText::ALL
            .into_iter()
            .map(|t| {
                let label = match t {
                    CapacityText::Decision => "The decision",
                    CapacityText::RelevantInformation => "The relevant information given",
                    CapacityText::Steps => "Practicable steps to support the decision",
                    CapacityText::PartEvidence(Part::Understand) => "Understand: evidence",
                    CapacityText::PartEvidence(Part::Retain) => "Retain: evidence",
                    CapacityText::PartEvidence(Part::UseOrWeigh) => "Use or weigh: evidence",
                    CapacityText::PartEvidence(Part::Communicate) => "Communicate: evidence",
                    CapacityText::ImpairmentEvidence => "Impairment of the mind or brain: evidence",
                    CapacityText::BestInterests => "Best interests",
                };
                passage(
                    format!("capacity:{}", t.key()),
                    label,
                    Voice::Worker,
                    &t.path(),
                    t.read(self),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::PlaceKind;

    #[test]
    fn every_visit_text_is_a_passage_with_a_path_that_holds_it() {
        let mut v = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
        v.observations = autosurgeon::Text::with_value("She smiled.");
        v.significant.insert(
            "s1".into(),
            crate::records::SignificantEvent {
                at: "2026-11-25T09:00:00Z".into(),
                summary: autosurgeon::Text::with_value("A fall."),
                marked_by: "w-1".into(),
            },
        );
        let d = crate::doc::new_document(&v, automerge::ActorId::random()).unwrap();
        for p in v.passages() {
            let path: Vec<&str> = p.path.iter().map(String::as_str).collect();
            assert!(
                crate::doc::text_at(&d, &path).unwrap().is_some(),
                "{} at {path:?}",
                p.key
            );
        }
        let keys: Vec<String> = v.passages().into_iter().map(|p| p.key).collect();
        assert!(keys.contains(&"significant:s1".to_owned()));
        assert_eq!(v.passages()[1].text, "She smiled.");
        assert_eq!(v.passages()[0].voice, Voice::Person);
    }
}
