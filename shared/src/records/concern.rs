//! A safeguarding concern: raised from a visit in a few taps, even offline,
//! and sent before anything else the phone has waiting.
//!
//! Its own small document, so it syncs on its own and first (see
//! [`super::Kind::priority`]). The worker writes it while it is a draft
//! (on the phone only: a draft is not registered, so it never leaves it);
//! raising it fixes what it says, as a referral does once made. A
//! supervisor then acknowledges it, in the document, so the worker's phone
//! shows who acknowledged it and when, from the record itself.

use autosurgeon::{Hydrate, Reconcile, Text};

use super::{Accepted, Context, Refusal, SCHEMA_VERSION, valid};
use crate::role::Role;

string_enum! {
    /// Making Safeguarding Personal: whether the person agrees to a
    /// referral. `CannotConsent`: they lack capacity to decide about it;
    /// `NotAsked`: asking would put them or someone else at risk.
    Consent {
        Given => "given",
        Refused => "refused",
        CannotConsent => "cannot_consent",
        NotAsked => "not_asked",
    }
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ConcernDoc {
    pub schema: u64,
    pub case_id: String,
    /// The visit it was raised from (its document id), when there was one.
    #[autosurgeon(missing = "Default::default")]
    pub visit_id: String,
    /// Person id of the worker who raised it.
    pub author: String,
    /// When the worker started writing it (RFC 3339).
    pub created_at: String,
    pub what_happened: Text,
    pub who_is_at_risk: Text,
    pub immediate_actions: Text,
    /// Empty until the worker has asked (or said why they did not).
    #[autosurgeon(missing = "Default::default")]
    pub consent: String,
    /// Why a referral goes ahead without the person's consent; required
    /// whenever consent is not given.
    #[autosurgeon(missing = "Default::default")]
    pub without_consent_reason: Text,
    /// When the worker raised it (the phone's clock); empty while a draft.
    #[autosurgeon(missing = "Default::default")]
    pub raised_at: String,
    /// The supervisor who acknowledged it, and when; empty until then.
    #[autosurgeon(missing = "Default::default")]
    pub acknowledged_by: String,
    #[autosurgeon(missing = "Default::default")]
    pub acknowledged_at: String,
}

/// What a batch did to a concern that the practice must hear of at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcernEvent {
    Raised { raised_at: String },
    Acknowledged { by: String, at: String },
}

string_enum! {
    /// The texts of a concern the worker writes.
    ConcernText {
        WhatHappened => "what_happened",
        WhoIsAtRisk => "who_is_at_risk",
        ImmediateActions => "immediate_actions",
        WithoutConsentReason => "without_consent_reason",
    }
}

impl ConcernText {
    pub fn read(self, c: &ConcernDoc) -> &str {
        match self {
            ConcernText::WhatHappened => c.what_happened.as_str(),
            ConcernText::WhoIsAtRisk => c.who_is_at_risk.as_str(),
            ConcernText::ImmediateActions => c.immediate_actions.as_str(),
            ConcernText::WithoutConsentReason => c.without_consent_reason.as_str(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ConcernText::WhatHappened => "what happened",
            ConcernText::WhoIsAtRisk => "who is at risk",
            ConcernText::ImmediateActions => "immediate actions taken",
            ConcernText::WithoutConsentReason => "why a referral goes ahead without consent",
        }
    }
}

impl ConcernDoc {
    pub fn new(case_id: &str, visit_id: &str, author: &str, created_at: &str) -> Self {
        ConcernDoc {
            schema: SCHEMA_VERSION,
            case_id: case_id.to_owned(),
            visit_id: visit_id.to_owned(),
            author: author.to_owned(),
            created_at: created_at.to_owned(),
            what_happened: Text::default(),
            who_is_at_risk: Text::default(),
            immediate_actions: Text::default(),
            consent: String::new(),
            without_consent_reason: Text::default(),
            raised_at: String::new(),
            acknowledged_by: String::new(),
            acknowledged_at: String::new(),
        }
    }

    pub fn raised(&self) -> bool {
        !self.raised_at.is_empty()
    }

    pub fn consent(&self) -> Option<Consent> {
        Consent::parse(&self.consent)
    }

    /// What still stops it being raised, in the order the form asks; empty
    /// when it can be.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        for text in [ConcernText::WhatHappened, ConcernText::WhoIsAtRisk] {
            if text.read(self).trim().is_empty() {
                missing.push(text.name());
            }
        }
        match self.consent() {
            None => missing.push("whether the person consents to a referral"),
            Some(Consent::Given) => {}
            Some(_) if self.without_consent_reason.as_str().trim().is_empty() => {
                missing.push(ConcernText::WithoutConsentReason.name())
            }
            Some(_) => {}
        }
        missing
    }
}

/// Reads a concern document, refusing newer schemas.
pub fn read_concern(doc: &automerge::Automerge) -> Result<ConcernDoc, crate::Error> {
    crate::doc::read(doc)
}

/// The edits a device makes to a concern.
#[derive(Debug, Clone, PartialEq)]
pub enum ConcernEdit {
    SetText { text: ConcernText, value: String },
    SetConsent(Consent),
    Raise { at: String },
    Acknowledge { by: String, at: String },
}

impl super::Edit for ConcernEdit {
    type Of = ConcernDoc;

    /// Whether `writer` may make this edit now: the app's check before it
    /// writes, from the same rules as [`check`].
    fn permitted(
        &self,
        c: &ConcernDoc,
        _doc: &automerge::Automerge,
        writer: &super::Writer<'_>,
    ) -> Result<(), Refusal> {
        match self {
            ConcernEdit::SetText { .. } | ConcernEdit::SetConsent(_) => {
                author_of(c, writer)?;
                still_a_draft(c)
            }
            ConcernEdit::Raise { .. } => {
                author_of(c, writer)?;
                still_a_draft(c)?;
                complete(c)
            }
            ConcernEdit::Acknowledge { by, .. } => {
                super::signed_as(writer, by)?;
                may_acknowledge(c, writer)
            }
        }
    }

    fn apply(&self, doc: &mut automerge::Automerge) -> Result<(), crate::Error> {
        use crate::doc::put_at;
        match self {
            ConcernEdit::SetText { text, value } => {
                crate::validate::text(text.name(), value)?;
                crate::doc::update_text(doc, &[text.as_str()], value)
            }
            ConcernEdit::SetConsent(consent) => put_at(doc, &[], "consent", consent.as_str()),
            ConcernEdit::Raise { at } => {
                crate::validate::timestamp("raised_at", at)?;
                put_at(doc, &[], "raised_at", at)
            }
            ConcernEdit::Acknowledge { by, at } => {
                crate::validate::timestamp("acknowledged_at", at)?;
                // One change: an acknowledgement is never seen without its time.
                crate::doc::transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
                    autosurgeon::reconcile_prop(tx, automerge::ROOT, "acknowledged_by", by)?;
                    autosurgeon::reconcile_prop(tx, automerge::ROOT, "acknowledged_at", at)
                })
                .map_err(|f| crate::Error::from(f.error))?;
                Ok(())
            }
        }
    }
}

fn author_of(c: &ConcernDoc, writer: &super::Writer<'_>) -> Result<(), Refusal> {
    if *writer.role == Role::Worker && c.author == writer.person_id {
        Ok(())
    } else {
        Err(Refusal::new(
            "not_author",
            "only the worker who raises a safeguarding concern writes it",
        ))
    }
}

fn still_a_draft(c: &ConcernDoc) -> Result<(), Refusal> {
    if c.raised() {
        Err(Refusal::new(
            "raised",
            "this concern has been raised: what it says stands as it was raised",
        ))
    } else {
        Ok(())
    }
}

fn complete(c: &ConcernDoc) -> Result<(), Refusal> {
    match c.missing().as_slice() {
        [] => Ok(()),
        missing => Err(Refusal::new(
            "concern_incomplete",
            format!("a concern is raised once it says {}", missing.join(", ")),
        )),
    }
}

fn may_acknowledge(c: &ConcernDoc, writer: &super::Writer<'_>) -> Result<(), Refusal> {
    if *writer.role != Role::Supervisor {
        return Err(Refusal::new(
            "not_a_supervisor",
            "a supervisor acknowledges a safeguarding concern",
        ));
    }
    if !c.raised() {
        return Err(Refusal::new(
            "not_raised",
            "this concern has not been raised",
        ));
    }
    if !c.acknowledged_by.is_empty() {
        return Err(Refusal::new(
            "already_acknowledged",
            "this concern has already been acknowledged",
        ));
    }
    Ok(())
}

/// Once raised, a concern takes one thing more: its acknowledgement, two
/// values at its root. Judged on the operations themselves, so nothing a
/// typed reading would not see (a key of no field, a value hidden behind
/// another in a conflict) can be added to what was raised.
fn only_acknowledgement(
    after_doc: &automerge::Automerge,
    new: &std::collections::HashSet<automerge::ChangeHash>,
) -> Result<(), Refusal> {
    use automerge::legacy::{Key, ObjectId, OpType};
    use automerge::{ReadDoc, ScalarValue};
    for hash in new {
        let Some(change) = after_doc.get_change_by_hash(hash) else {
            return Err(Refusal::new(
                "not_a_record",
                "a change of the batch is missing",
            ));
        };
        for op in change.decode().operations {
            let allowed = op.obj == ObjectId::Root
                && matches!(&op.key, Key::Map(k) if k == "acknowledged_by" || k == "acknowledged_at")
                && matches!(op.action, OpType::Put(ScalarValue::Str(_)))
                && !op.insert;
            if !allowed {
                return Err(Refusal::new(
                    "raised",
                    "this concern has been raised: what it says stands, and only a supervisor's acknowledgement is added",
                ));
            }
        }
    }
    Ok(())
}

/// The rules of a concern: the author writes it while a draft and raises
/// it once it says what happened, who is at risk and where consent stands;
/// then only a supervisor's acknowledgement is added, once. Nothing else
/// ever changes.
pub fn check(
    before: &Option<ConcernDoc>,
    after: &ConcernDoc,
    after_doc: &automerge::Automerge,
    new: &std::collections::HashSet<automerge::ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    let writer = &cx.writer;
    if before.as_ref().is_some_and(ConcernDoc::raised) {
        only_acknowledgement(after_doc, new)?;
    }
    let draft = ConcernDoc::new(
        &after.case_id,
        &after.visit_id,
        &after.author,
        &after.created_at,
    );
    let before = match before {
        Some(before) => before.clone(),
        None => {
            super::signed_as(writer, &after.author)?;
            if after.case_id != cx.case_id {
                return Err(Refusal::new(
                    "wrong_case",
                    "a concern names the case it was registered to",
                ));
            }
            crate::validate::timestamp("created_at", &after.created_at)
                .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
            // Judged as the author's edits to an empty draft.
            draft
        }
    };
    let fixed = |c: &ConcernDoc| {
        (
            c.schema,
            c.case_id.clone(),
            c.visit_id.clone(),
            c.author.clone(),
            c.created_at.clone(),
        )
    };
    if fixed(&before) != fixed(after) {
        return Err(Refusal::new(
            "fixed_field",
            "a concern's case, visit, author and start are set when it is made",
        ));
    }
    let content = |c: &ConcernDoc| {
        (
            c.what_happened.clone(),
            c.who_is_at_risk.clone(),
            c.immediate_actions.clone(),
            c.consent.clone(),
            c.without_consent_reason.clone(),
            c.raised_at.clone(),
        )
    };
    let mut event = None;
    if content(&before) != content(after) {
        author_of(&before, writer)?;
        still_a_draft(&before)?;
        if !after.consent.is_empty() && after.consent().is_none() {
            return Err(Refusal::new(
                "invalid_value",
                format!("{:?} is not an answer about consent", after.consent),
            ));
        }
        if after.raised() {
            crate::validate::timestamp("raised_at", &after.raised_at)
                .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
            complete(after)?;
            event = Some(ConcernEvent::Raised {
                raised_at: after.raised_at.clone(),
            });
        }
    }
    if (&before.acknowledged_by, &before.acknowledged_at)
        != (&after.acknowledged_by, &after.acknowledged_at)
    {
        super::signed_as(writer, &after.acknowledged_by)?;
        may_acknowledge(&before, writer)?;
        crate::validate::timestamp("acknowledged_at", &after.acknowledged_at)
            .map_err(|e| Refusal::new("invalid_value", e.to_string()))?;
        event = Some(ConcernEvent::Acknowledged {
            by: after.acknowledged_by.clone(),
            at: after.acknowledged_at.clone(),
        });
    }
    let texts = ConcernText::ALL
        .iter()
        .filter_map(|t| crate::validate::text(t.name(), t.read(after)).err())
        .collect();
    valid(texts)?;
    Ok(Accepted {
        concern: event,
        ..Accepted::default()
    })
}

impl super::Record for ConcernDoc {
    const KIND: super::Kind = super::Kind::Concern;
    const NAME: &'static str = "Safeguarding concern";
    /// Before everything, photos included: the practice must hear of it.
    const PRIORITY: u8 = 0;
    const MADE_ON_DEVICES: bool = true;
    const REGISTERED: &'static str = "concern_registered";
    const SHAPE: &'static super::ops::Shape = &super::ops::CONCERN;
    type Edit = ConcernEdit;

    fn case_id(&self) -> &str {
        &self.case_id
    }

    fn check(
        before: &Option<Self>,
        after: &Self,
        after_doc: &automerge::Automerge,
        new: &std::collections::HashSet<automerge::ChangeHash>,
        cx: &Context<'_>,
    ) -> Result<Accepted, Refusal> {
        check(before, after, after_doc, new, cx)
    }

    fn passages(&self) -> Vec<super::Passage> {
        ConcernDoc::passages(self)
    }

    /// Listed once raised: a draft is the worker's alone.
    fn summary(&self, _doc: &automerge::Automerge) -> Option<super::Summary> {
        use super::{Event, Said};
        if !self.raised() {
            return None;
        }
        let acknowledged = !self.acknowledged_by.is_empty();
        let mut events = vec![Event {
            at: self.raised_at.clone(),
            kind: "concern",
            title: "Safeguarding concern raised".into(),
            by: self.author.clone(),
            summary: self.who_is_at_risk.as_str().to_owned(),
        }];
        if acknowledged {
            events.push(Event {
                at: self.acknowledged_at.clone(),
                kind: "concern",
                title: "Safeguarding concern acknowledged".into(),
                by: self.acknowledged_by.clone(),
                summary: String::new(),
            });
        }
        Some(super::Summary {
            title: Self::NAME.into(),
            at: self.raised_at.clone(),
            by: self.author.clone(),
            status: if acknowledged {
                vec![
                    Said::words("Acknowledged by "),
                    Said::Person(self.acknowledged_by.clone()),
                ]
            } else {
                vec![Said::words("Not yet acknowledged by a supervisor")]
            },
            status_at: acknowledged.then(|| self.acknowledged_at.clone()),
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Edit, Writer};

    const AT: &str = "2026-11-27T10:00:00+00:00";

    /// The typed rules alone (no operations to judge).
    fn typed(
        before: &Option<ConcernDoc>,
        after: &ConcernDoc,
        cx: &Context<'_>,
    ) -> Result<Accepted, Refusal> {
        check(
            before,
            after,
            &automerge::Automerge::new(),
            &std::collections::HashSet::new(),
            cx,
        )
    }

    fn with(person: &str, role: &Role, f: impl FnOnce(&Context<'_>)) {
        let actor = automerge::ActorId::random();
        let made = |_: &str, _: &str| true;
        f(&Context {
            writer: Writer {
                person_id: person,
                role,
            },
            case_id: "case-1",
            actor: &actor,
            created_by_writer: &made,
        })
    }

    fn written() -> ConcernDoc {
        let mut c = ConcernDoc::new("case-1", "visit-1", "w-1", AT);
        c.what_happened = Text::with_value("Bruising on both arms; said her son grabs her.");
        c.who_is_at_risk = Text::with_value("Mrs Example");
        c.consent = Consent::Refused.as_str().into();
        c.without_consent_reason = Text::with_value("Others in the house are at risk.");
        c
    }

    fn raised() -> ConcernDoc {
        ConcernDoc {
            raised_at: AT.into(),
            ..written()
        }
    }

    #[test]
    fn a_concern_made_and_raised_offline_arrives_in_one_batch() {
        with("w-1", &Role::Worker, |cx| {
            let accepted = typed(&None, &raised(), cx).unwrap();
            assert_eq!(
                accepted.concern,
                Some(ConcernEvent::Raised {
                    raised_at: AT.into()
                })
            );
            assert_eq!(typed(&None, &written(), cx).unwrap().concern, None);
        });
    }

    #[test]
    fn a_concern_is_raised_only_once_it_says_enough() {
        let mut no_reason = raised();
        no_reason.without_consent_reason = Text::default();
        let mut no_consent = raised();
        no_consent.consent = String::new();
        let mut no_risk = raised();
        no_risk.who_is_at_risk = Text::default();
        with("w-1", &Role::Worker, |cx| {
            for c in [no_reason, no_consent, no_risk] {
                assert_eq!(typed(&None, &c, cx).unwrap_err().code, "concern_incomplete");
            }
            let consenting = ConcernDoc {
                consent: Consent::Given.as_str().into(),
                without_consent_reason: Text::default(),
                ..raised()
            };
            assert!(typed(&None, &consenting, cx).is_ok());
        });
    }

    #[test]
    fn what_was_raised_stands() {
        with("w-1", &Role::Worker, |cx| {
            let mut changed = raised();
            changed.what_happened = Text::with_value("Something else.");
            assert_eq!(
                typed(&Some(raised()), &changed, cx).unwrap_err().code,
                "raised"
            );
        });
        with("w-2", &Role::Worker, |cx| {
            let mut theirs = written();
            theirs.immediate_actions = Text::with_value("Called the police.");
            assert_eq!(
                typed(&Some(written()), &theirs, cx).unwrap_err().code,
                "not_author"
            );
            assert_eq!(
                typed(&None, &written(), cx).unwrap_err().code,
                "forged_author"
            );
        });
    }

    #[test]
    fn only_a_supervisor_acknowledges_once_and_as_themselves() {
        let acknowledged = |by: &str| ConcernDoc {
            acknowledged_by: by.into(),
            acknowledged_at: AT.into(),
            ..raised()
        };
        with("s-1", &Role::Supervisor, |cx| {
            let accepted = typed(&Some(raised()), &acknowledged("s-1"), cx).unwrap();
            assert_eq!(
                accepted.concern,
                Some(ConcernEvent::Acknowledged {
                    by: "s-1".into(),
                    at: AT.into()
                })
            );
            assert_eq!(
                typed(&Some(raised()), &acknowledged("s-2"), cx)
                    .unwrap_err()
                    .code,
                "forged_author"
            );
            assert_eq!(
                typed(&Some(acknowledged("s-2")), &acknowledged("s-1"), cx)
                    .unwrap_err()
                    .code,
                "already_acknowledged"
            );
            let draft_ack = ConcernDoc {
                acknowledged_by: "s-1".into(),
                acknowledged_at: AT.into(),
                ..written()
            };
            assert_eq!(
                typed(&Some(written()), &draft_ack, cx).unwrap_err().code,
                "not_raised"
            );
        });
        with("w-1", &Role::Worker, |cx| {
            assert_eq!(
                typed(&Some(raised()), &acknowledged("w-1"), cx)
                    .unwrap_err()
                    .code,
                "not_a_supervisor"
            );
        });
    }

    #[test]
    fn the_edits_follow_the_rules_and_write_what_they_say() {
        let mut doc = crate::doc::new_document(&written(), automerge::ActorId::random()).unwrap();
        let w = Writer {
            person_id: "w-1",
            role: &Role::Worker,
        };
        let raise = ConcernEdit::Raise { at: AT.into() };
        raise
            .permitted(&written(), &automerge::Automerge::new(), &w)
            .unwrap();
        raise.apply(&mut doc).unwrap();
        let now = read_concern(&doc).unwrap();
        assert!(now.raised());
        assert_eq!(
            ConcernEdit::SetConsent(Consent::Given)
                .permitted(&now, &automerge::Automerge::new(), &w)
                .unwrap_err()
                .code,
            "raised"
        );
        let s = Writer {
            person_id: "s-1",
            role: &Role::Supervisor,
        };
        let ack = ConcernEdit::Acknowledge {
            by: "s-1".into(),
            at: AT.into(),
        };
        ack.permitted(&now, &automerge::Automerge::new(), &s)
            .unwrap();
        ack.apply(&mut doc).unwrap();
        assert_eq!(read_concern(&doc).unwrap().acknowledged_by, "s-1");
    }

    #[test]
    fn once_raised_only_the_acknowledgement_is_added_whatever_the_operations() {
        use crate::provenance::device_actor;
        use crate::records::Kind;
        let stored = crate::doc::new_document(&raised(), device_actor("w-1")).unwrap();
        let judge = |after: &automerge::Automerge| {
            crate::records::judged_as(Kind::Concern, "s-1", &Role::Supervisor, &stored, after)
        };
        // A key of no field, which a typed reading would never see.
        let mut extra = stored.fork().with_actor(device_actor("s-1"));
        crate::doc::put_at(&mut extra, &[], "note_to_self", "hidden").unwrap();
        assert_eq!(judge(&extra).unwrap_err().code, "raised");
        // The acknowledgement itself.
        let mut acknowledged = stored.fork().with_actor(device_actor("s-1"));
        ConcernEdit::Acknowledge {
            by: "s-1".into(),
            at: AT.into(),
        }
        .apply(&mut acknowledged)
        .unwrap();
        assert!(matches!(
            judge(&acknowledged).unwrap().concern,
            Some(ConcernEvent::Acknowledged { .. })
        ));
    }
}
