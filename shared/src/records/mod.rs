//! The record kinds of a case record: what each holds, how it is edited,
//! who may change what in which state, and how soon it syncs.
//!
//! A case record is one case document and one document per visit, per
//! safeguarding concern and per mental capacity assessment. Each kind is one
//! type behind one trait ([`Record`], with its typed edits behind [`Edit`])
//! in a module of its own (a folder for the big ones: `mod`, `edit`,
//! `rules`, `tests`), and one line of the `kinds!` declaration below, which
//! makes [`Kind`] and the dispatch from a kind to its type; the automerge
//! mechanics they use are in [`crate::doc`].
//!
//! The rules are pure functions of the document before and after a batch of
//! changes and of who wrote the batch. The server runs them on every inbound
//! sync message that carries changes, before samod sees it; the app runs the
//! same ones before it writes, so an honest device never makes a change the
//! server refuses.
//!
//! Two conventions keep JavaScript readers and concurrent editors happy:
//! - everything a person writes is automerge **text**, so offline edits merge
//!   character by character and each passage can be attributed from the
//!   history; identifiers, timestamps and enum values are scalar strings;
//! - collections that several devices add to concurrently (visits of a case,
//!   actions, annotations, decisions) are maps keyed by a random id, never
//!   lists reconciled by index: two offline additions both survive.

use std::collections::HashSet;

use automerge::{Automerge, ChangeHash};

use crate::role::Role;

#[macro_use]
mod kind;

pub mod capacity;
pub mod case;
pub mod concern;
pub mod ops;
pub mod passage;
pub mod review;
pub mod visit;

pub use capacity::CapacityDoc;
pub use case::{
    CaseDoc, CaseEdit, ChronologyEntry, KeyPerson, Person, RecordIndexEntry, VisitIndexEntry,
    read_case,
};
pub use concern::ConcernDoc;
pub use kind::{Edit, Event, ForKind, Record, Said, Summary};
pub use passage::{Passage, Voice};
pub use review::{Review, ReviewDecision, ReviewStatus};
pub use visit::{
    Action, ActionText, Addendum, Anchored, Annotation, ChangedSinceSignOff, Communication,
    CreativeMethod, CreativeObservation, CreativeText, OwnWords, PhotoRef, PlaceKind,
    PresentPerson, SignificantEvent, TextField, VisitDoc, VisitEdit, VisitText, read_visit,
};

pub use crate::doc::SCHEMA_VERSION;

kinds! {
    /// What a document is. The server's registry records it when a device
    /// registers the document, and the rules follow from it.
    Case => "case": CaseDoc,
    Visit => "visit": VisitDoc,
    Concern => "safeguarding_concern": ConcernDoc,
    Capacity => "capacity_assessment": CapacityDoc,
}

/// Who wrote a batch of changes: the person behind the device that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer<'a> {
    pub person_id: &'a str,
    pub role: &'a Role,
}

/// What the rules need to know besides the document itself.
pub struct Context<'a> {
    pub writer: Writer<'a>,
    /// The case the document is registered to.
    pub case_id: &'a str,
    /// The automerge actor bound to the writer's device: every change in
    /// the batch must be its own.
    pub actor: &'a automerge::ActorId,
    /// Whether the writer's device made `document_id` from `nonce` (see
    /// [`crate::provenance`]).
    pub created_by_writer: &'a dyn Fn(&str, &str) -> bool,
}

/// What an accepted batch did that the practice must be able to find
/// later (the server audits it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accepted {
    /// Review decisions the batch recorded, with their ids.
    pub decisions: Vec<(String, ReviewDecision)>,
    /// A safeguarding concern the batch raised or acknowledged.
    pub concern: Option<concern::ConcernEvent>,
    /// The completions and reopenings of a capacity assessment the batch
    /// recorded, with their history ids: the server audits each.
    pub status_changes: Vec<(String, capacity::StatusChange)>,
    /// The photos (SHA-256) the batch newly refers to: the server checks
    /// they are this device's own or already in the case, which a pure
    /// rule cannot know.
    pub photos: Vec<String>,
}

/// A batch of changes that breaks a record's rules: refused for that
/// document only, with a reason the device shows on the record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Stable, snake_case: for programs and the audit log.
    pub code: &'static str,
    /// A sentence for the person whose change was refused.
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Checks a batch of changes to a document of `kind`: `before` is the
/// document as the server holds it, `after` with the batch applied, and
/// `new` the hashes of the batch's changes.
pub fn check(
    kind: Kind,
    before: &Automerge,
    after: &Automerge,
    changes: &[automerge::Change],
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    if changes.is_empty() {
        return Ok(Accepted::default());
    }
    let new: HashSet<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
    let accepted = check_typed(kind, before, after, &new, cx)?;
    // Whatever the kind: a reviewer's access is read-only, and a kind's
    // rules that missed a change of theirs must not open the record to them.
    if *cx.writer.role == Role::Reviewer {
        return Err(Refusal::new(
            "read_only",
            "a practice reviewer reads the cases assigned to them and writes nothing",
        ));
    }
    let steps = ops::check(kind, before, after, changes, &cx.writer)?;
    if changes.len() > 1 {
        each_step(kind, before, after, &steps, cx)?;
    }
    Ok(accepted)
}

/// Most changes more than typing one message may carry, each judged on
/// its own. A phone's day offline on one record is a few dozen.
pub const MAX_STEPS: usize = 256;

/// Every state a message passes through is stored (the record as at any
/// time shows it), not only the one it ends in: each change of the
/// message that is more than typing is judged by its kind's rules as if
/// it had come alone, on the record as it stood just before it (the
/// stored record and the message's earlier changes). A change that signs
/// a visit off in a supervisor's name, or edits a supervisor's decision,
/// is refused even when a later change of the same message takes it back.
/// Typing in one's own texts needs no step of its own: the op rules say
/// who may type where, and the message's end state is judged as a whole.
fn each_step(
    kind: Kind,
    before: &Automerge,
    after: &Automerge,
    steps: &[ChangeHash],
    cx: &Context<'_>,
) -> Result<(), Refusal> {
    if steps.is_empty() {
        return Ok(());
    }
    if steps.len() > MAX_STEPS {
        return Err(Refusal::new(
            "too_many_steps",
            format!(
                "one message may carry at most {MAX_STEPS} changes that are more than typing to one record ({} here)",
                steps.len()
            ),
        ));
    }
    let steps: HashSet<ChangeHash> = steps.iter().copied().collect();
    let mut now = before.clone();
    // In the order automerge gives them: each after what it depends on.
    for change in after.get_changes(&before.get_heads()) {
        let hash = change.hash();
        let was = steps.contains(&hash).then(|| now.clone());
        now.apply_changes([change.clone()])
            .map_err(|e| Refusal::new("not_a_record", e.to_string()))?;
        if let Some(was) = was {
            check_typed(kind, &was, &now, &HashSet::from([hash]), cx)?;
        }
    }
    Ok(())
}

/// The rules over the record as hydration reads it, before and after.
fn check_typed(
    kind: Kind,
    before: &Automerge,
    after: &Automerge,
    new: &HashSet<ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    for hash in new {
        let actor = after
            .get_change_meta_by_hash(hash)
            .map(|c| c.actor.into_owned());
        if actor.as_ref() != Some(cx.actor) {
            return Err(Refusal::new(
                "not_own_change",
                "a device may only send changes it wrote itself",
            ));
        }
    }
    if before.get_heads().is_empty() {
        // The batch makes the record: its first change must make a record
        // of this kind as the rules allow, and what follows is judged as
        // any later batch is.
        let roots: Vec<ChangeHash> = new
            .iter()
            .filter(|h| {
                after
                    .get_change_meta_by_hash(h)
                    .is_some_and(|c| c.deps.is_empty())
            })
            .copied()
            .collect();
        let [root] = roots[..] else {
            return Err(Refusal::new(
                "not_a_record",
                "a new record starts from one change",
            ));
        };
        let made = after
            .fork_at(&[root])
            .map_err(|e| Refusal::new("not_a_record", e.to_string()))?;
        let first = check_batch(kind, before, &made, &HashSet::from([root]), cx)?;
        let rest: HashSet<ChangeHash> = new.iter().filter(|h| **h != root).copied().collect();
        if rest.is_empty() {
            return Ok(first);
        }
        let then = check_batch(kind, &made, after, &rest, cx)?;
        return Ok(first.and(then));
    }
    check_batch(kind, before, after, new, cx)
}

impl Accepted {
    /// The outcome a capacity assessment was left completed with, when the
    /// batch's last status change completed it.
    pub fn completed(&self) -> Option<capacity::Outcome> {
        self.status_changes
            .last()
            .and_then(|(_, change)| change.outcome)
    }

    /// What two parts of one batch did, together: a record made and raised
    /// in one batch is raised (the server alerts on it).
    fn and(mut self, then: Accepted) -> Accepted {
        self.decisions.extend(then.decisions);
        self.concern = match (self.concern, then.concern) {
            // Raised and acknowledged in one batch cannot be one writer's
            // (a worker raises, a supervisor acknowledges); the raise matters.
            (Some(first @ concern::ConcernEvent::Raised { .. }), _) => Some(first),
            (first, then) => then.or(first),
        };
        self.status_changes.extend(then.status_changes);
        self.photos.extend(then.photos);
        self
    }
}

fn check_batch(
    kind: Kind,
    before: &Automerge,
    after: &Automerge,
    new: &HashSet<ChangeHash>,
    cx: &Context<'_>,
) -> Result<Accepted, Refusal> {
    struct Batch<'a> {
        before: &'a Automerge,
        after: &'a Automerge,
        new: &'a HashSet<ChangeHash>,
        cx: &'a Context<'a>,
    }
    impl ForKind for Batch<'_> {
        type Out = Result<Accepted, Refusal>;
        fn run<R: Record>(self) -> Self::Out {
            R::check(
                &read_before(self.before)?,
                &read_after::<R>(self.before, self.after)?,
                self.after,
                self.new,
                self.cx,
            )
        }
    }
    kind.with(Batch {
        before,
        after,
        new,
        cx,
    })
}

/// The document before the batch, or `None` when the server has nothing
/// of it yet (the batch creates it).
fn read_before<T: Record>(before: &Automerge) -> Result<Option<T>, Refusal> {
    if before.get_heads().is_empty() {
        return Ok(None);
    }
    T::read(before).map(Some).map_err(|e| {
        // What is stored passed these rules; only an older rule set
        // could have let it in. Say so rather than refuse forever.
        Refusal::new(
            "unreadable_record",
            format!("the stored record cannot be read: {e}"),
        )
    })
}

/// The document after the batch, as its kind; anything else is refused.
fn read_after<T: Record>(before: &Automerge, after: &Automerge) -> Result<T, Refusal> {
    let schema = crate::doc::check_schema(after).map_err(|e| match e {
        crate::Error::NewerSchema { .. } => Refusal::new("newer_schema", e.to_string()),
        _ => Refusal::new("not_a_record", e.to_string()),
    })?;
    let stored = crate::doc::check_schema(before).ok();
    if stored.is_some_and(|s| s != schema) || (stored.is_none() && schema != SCHEMA_VERSION) {
        return Err(Refusal::new(
            "schema_changed",
            format!("a record's schema version is set when it is made (found {schema})"),
        ));
    }
    autosurgeon::hydrate(after).map_err(|e| {
        Refusal::new(
            "wrong_shape",
            format!("the record does not have the shape of its kind: {e}"),
        )
    })
}

/// The rules' verdict on everything `after` has that `before` lacks, as
/// written by `person` (with `role`) through their own device on case
/// `case-1`: how each kind's tests judge a batch.
#[cfg(test)]
pub(crate) fn judged_as(
    kind: Kind,
    person: &str,
    role: &Role,
    before: &Automerge,
    after: &Automerge,
) -> Result<Accepted, Refusal> {
    let new = after.get_changes(&before.get_heads());
    let actor = crate::provenance::device_actor(person);
    let made = |_: &str, _: &str| false;
    let cx = Context {
        writer: Writer {
            person_id: person,
            role,
        },
        case_id: "case-1",
        actor: &actor,
        created_by_writer: &made,
    };
    check(kind, before, after, &new, &cx)
}

/// Refuses a record, a decision or a mark that names anyone but its
/// writer: nobody signs, acknowledges, completes or removes in another's
/// name.
pub(crate) fn signed_as(writer: &Writer<'_>, named: &str) -> Result<(), Refusal> {
    if named == writer.person_id {
        return Ok(());
    }
    Err(Refusal::new(
        "forged_author",
        format!(
            "{} can only sign as themselves, not as {named}",
            writer.person_id
        ),
    ))
}

/// The first validation problem, as a refusal.
fn valid(errors: Vec<crate::ValidationError>) -> Result<(), Refusal> {
    match errors.into_iter().next() {
        None => Ok(()),
        Some(e) => Err(Refusal::new("invalid_value", e.to_string())),
    }
}
