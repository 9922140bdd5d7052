//! Where a change meets a rule. A sync message that carries changes is
//! judged by the record kind's rules (`fieldvisit_shared::records`, the same
//! ones the app checks) for the person behind the sending device, before
//! samod sees it: typing on a visit on the document as it stands, anything
//! else applied to a copy of the document and read before and after.
//!
//! This is pure: the caller finds the document as the server holds it and
//! acts on the judgement (forward, refuse for that document only, or wait
//! for what the changes build on).

use std::collections::HashSet;

use automerge::{Automerge, ChangeHash, ReadDoc};
use fieldvisit_shared::records::concern::ConcernEvent;
use fieldvisit_shared::records::{self, Context, Kind, Refusal, ReviewDecision};

pub mod decoded;

pub use decoded::Decoded;

#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Nothing new, or nothing the rules refuse: hand samod
    /// [`Accepted::forward`].
    Accept(Accepted),
    /// Refused for this document; samod never sees the message.
    Refuse(Refusal),
    /// Some changes build on changes the server does not hold (an earlier
    /// message still on its way into samod, or a change the device left
    /// out): these are the ones missing.
    MissingDeps(Vec<ChangeHash>),
}

/// What an accepted message brings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accepted {
    /// The review decisions it records, for the audit log.
    pub decisions: Vec<(String, ReviewDecision)>,
    /// Its changes the server did not have: their receipt is recorded
    /// before they are handed on.
    pub new: Vec<ChangeHash>,
    /// A safeguarding concern it raised or acknowledged, with the case.
    pub concern: Option<(ConcernEvent, String)>,
    /// The photos it newly refers to (`records::Accepted::photos`).
    pub photos: Vec<String>,
    /// The completions and reopenings of a capacity assessment it
    /// recorded, with their history ids, for the audit log.
    pub status_changes: Vec<(String, fieldvisit_shared::records::capacity::StatusChange)>,
    /// The sync payload samod gets in place of the one received: its
    /// header with exactly the changes in `new` ([`Decoded::payload`]).
    pub forward: Vec<u8>,
}

/// The first look at a message, taken on the document as the server holds
/// it, while samod's lock on that document is held: either the verdict,
/// where reading is enough (nothing new, typing on a visit), or a copy of
/// the document to apply the changes to once the lock is let go
/// ([`judge_copy`]). A message full of changes (up to the size limit) then
/// holds nobody else's sync to that document while it is applied.
pub enum FirstLook {
    Judged(Judgement),
    /// Boxed: `Pending` holds a whole `Automerge` inline, and most
    /// messages end in a verdict.
    Copy(Box<Pending>),
}

/// A message that needs its changes applied: the document as it stood, the
/// changes it lacks, and the payload that carries exactly those.
pub struct Pending {
    before: Automerge,
    fresh: Vec<automerge::Change>,
    forward: Vec<u8>,
}

impl Pending {
    /// The heads of the document as it stood.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.before.get_heads()
    }
}

/// Judges the automerge sync `payload` (already checked by
/// `sync::payload`) against `before`, the document as the server holds it:
/// decoded once ([`Decoded`]), then [`first_look`], then [`judge_copy`] if
/// it needs one.
pub fn judge(kind: Kind, before: &Automerge, payload: &[u8], cx: &Context<'_>) -> Judgement {
    let decoded = match Decoded::decode([payload]) {
        Ok(decoded) => decoded,
        Err(refusal) => return Judgement::Refuse(refusal),
    };
    match first_look(kind, before, &decoded, cx) {
        FirstLook::Judged(judged) => judged,
        FirstLook::Copy(pending) => judge_copy(kind, *pending, cx),
    }
}

/// What can be judged by reading `before` alone; anything else gets a copy
/// of it to apply the changes to (see [`FirstLook`]).
pub fn first_look(
    kind: Kind,
    before: &Automerge,
    decoded: &Decoded,
    cx: &Context<'_>,
) -> FirstLook {
    let fresh = decoded.fresh(before);
    if fresh.is_empty() {
        return FirstLook::Judged(Judgement::Accept(Accepted {
            forward: decoded.payload(),
            ..Accepted::default()
        }));
    }
    if typing(kind, before, &fresh, cx) {
        return FirstLook::Judged(Judgement::Accept(Accepted {
            new: decoded::hashes(&fresh),
            forward: decoded.payload(),
            ..Accepted::default()
        }));
    }
    let forward = decoded.payload();
    FirstLook::Copy(Box::new(Pending {
        before: before.clone(),
        fresh,
        forward,
    }))
}

/// Applies the payload samod would get to a copy of the document, as samod
/// applies it, and asks the record kind's rules about the document before
/// and after.
pub fn judge_copy(kind: Kind, pending: Pending, cx: &Context<'_>) -> Judgement {
    let Pending {
        before,
        fresh,
        forward,
    } = pending;
    let after = match decoded::apply(&before, &forward, &fresh) {
        Ok(after) => after,
        Err(refusal) => return Judgement::Refuse(refusal),
    };
    let missing = after.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Judgement::MissingDeps(missing);
    }
    match records::check(kind, &before, &after, &fresh, cx) {
        Ok(accepted) => Judgement::Accept(Accepted {
            decisions: accepted.decisions,
            new: decoded::hashes(&fresh),
            concern: accepted.concern.map(|e| (e, cx.case_id.to_owned())),
            photos: accepted.photos,
            status_changes: accepted.status_changes,
            forward,
        }),
        Err(refusal) => Judgement::Refuse(refusal),
    }
}

/// Typing on a visit (most of what a server receives), judged without
/// copying or applying anything: see `records::visit::only_typing`.
/// `new`: the message's changes that `before` lacks.
fn typing(kind: Kind, before: &Automerge, new: &[automerge::Change], cx: &Context<'_>) -> bool {
    if kind != Kind::Visit || before.get_heads().is_empty() {
        return false;
    }
    let hashes: HashSet<ChangeHash> = new.iter().map(|c| c.hash()).collect();
    let own = new.iter().all(|c| c.actor_id() == cx.actor);
    let deps_known = new.iter().all(|c| {
        c.deps()
            .iter()
            .all(|d| hashes.contains(d) || before.get_change_meta_by_hash(d).is_some())
    });
    own && deps_known
        && in_order(before, new)
        && records::visit::only_typing(before, new, &cx.writer)
}

/// Whether each change directly follows its writer's previous one (in
/// `before` or among `new`, named among its deps): the next seq, its ops
/// after that change's. What the cheap path hands samod is never applied
/// to a copy first, and automerge panics on a change out of order; honest
/// typing nearly always names its previous change (the rest is judged on a
/// copy, which finds it out).
fn in_order(before: &Automerge, new: &[automerge::Change]) -> bool {
    new.iter().all(|c| {
        let follows = |actor: &automerge::ActorId, seq: u64, max_op: u64| {
            actor == c.actor_id() && seq + 1 == c.seq() && c.start_op().get() > max_op
        };
        c.deps()
            .iter()
            .any(|d| match before.get_change_meta_by_hash(d) {
                Some(m) => follows(&m.actor, m.seq, m.max_op),
                None => new
                    .iter()
                    .any(|n| n.hash() == *d && follows(n.actor_id(), n.seq(), n.max_op())),
            })
    })
}

/// The same judgement for a server run with authentication off (load
/// generator comparisons only): there is no person or registry, so every
/// document is taken for a visit written by its own author, as a worker,
/// under the actor of the message's first change. The rules run in full, so
/// a comparison pays what a practice's server pays per change.
pub fn judge_for_benchmarks(before: &Automerge, payload: &[u8]) -> Judgement {
    let decoded = match Decoded::decode([payload]) {
        Ok(decoded) => decoded,
        Err(refusal) => return Judgement::Refuse(refusal),
    };
    let fresh = decoded.fresh(before);
    let Some(actor) = fresh.first().map(|c| c.actor_id().clone()) else {
        return Judgement::Accept(Accepted {
            forward: decoded.payload(),
            ..Accepted::default()
        });
    };
    // Who wrote it and where it belongs, read from the document as stored
    // (or, for a new one, as the message makes it).
    let scalar = |doc: &Automerge, key: &str| match doc.get(automerge::ROOT, key) {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().map(str::to_owned),
        _ => None,
    };
    let created;
    let source = if before.get_heads().is_empty() {
        match decoded::apply(before, &decoded.payload(), &fresh) {
            Ok(after) => created = after,
            Err(refusal) => return Judgement::Refuse(refusal),
        }
        &created
    } else {
        before
    };
    let (Some(author), Some(case_id)) = (scalar(source, "author"), scalar(source, "case_id"))
    else {
        // Not a record of the load generator's: taken as it is.
        return Judgement::Accept(Accepted {
            new: decoded::hashes(&fresh),
            forward: decoded.payload(),
            ..Accepted::default()
        });
    };
    let made = |_: &str, _: &str| true;
    let cx = Context {
        writer: records::Writer {
            person_id: &author,
            role: &fieldvisit_shared::api::Role::Worker,
        },
        case_id: &case_id,
        actor: &actor,
        created_by_writer: &made,
    };
    match first_look(Kind::Visit, before, &decoded, &cx) {
        FirstLook::Judged(judged) => judged,
        FirstLook::Copy(pending) => judge_copy(Kind::Visit, *pending, &cx),
    }
}

/// The sync message a peer holding `theirs` sends to one holding `ours`:
/// every change `ours` lacks, in one message (for tests and benches).
pub fn changes_message(ours: &Automerge, theirs: &Automerge) -> Vec<u8> {
    let chunks: Vec<Vec<u8>> = theirs
        .get_changes(&ours.get_heads())
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    automerge::sync::Message {
        heads: theirs.get_heads(),
        need: Vec::new(),
        have: Vec::new(),
        changes: chunks.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldvisit_shared::api::Role;
    use fieldvisit_shared::doc;
    use fieldvisit_shared::provenance::device_actor;
    use fieldvisit_shared::records::{Edit, PlaceKind, TextField, VisitDoc, VisitEdit, Writer};

    fn judge_as(
        person: &str,
        role: &Role,
        device: &str,
        before: &Automerge,
        after: &Automerge,
    ) -> Judgement {
        let actor = device_actor(device);
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
        judge(Kind::Visit, before, &changes_message(before, after), &cx)
    }

    /// Worker w-1 writing on case-1 under `actor`.
    fn worker_on_case_1<'a>(
        actor: &'a automerge::ActorId,
        made: &'a dyn Fn(&str, &str) -> bool,
    ) -> Context<'a> {
        Context {
            writer: Writer {
                person_id: "w-1",
                role: &Role::Worker,
            },
            case_id: "case-1",
            actor,
            created_by_writer: made,
        }
    }

    fn stored_visit() -> Automerge {
        let visit = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
        doc::new_document(&visit, device_actor("d-1")).unwrap()
    }

    fn edited(base: &Automerge, device: &str, edit: VisitEdit) -> Automerge {
        let mut doc = base.fork().with_actor(device_actor(device));
        edit.apply(&mut doc).unwrap();
        doc
    }

    #[test]
    fn a_workers_own_edit_passes_and_a_forged_actor_does_not() {
        let before = stored_visit();
        let edit = VisitEdit::SetText {
            text: TextField::Observations.into(),
            value: "She smiled.".into(),
        };
        let after = edited(&before, "d-1", edit.clone());
        match judge_as("w-1", &Role::Worker, "d-1", &before, &after) {
            Judgement::Accept(a) => {
                assert!(a.decisions.is_empty());
                // The one new change, so its receipt is recorded.
                assert_eq!(a.new, after.get_heads());
            }
            other => panic!("{other:?}"),
        }
        // The same change sent by another device is not its own.
        match judge_as("w-2", &Role::Worker, "d-2", &before, &after) {
            Judgement::Refuse(r) => assert_eq!(r.code, "not_own_change"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_worker_cannot_sign_off() {
        let before = stored_visit();
        let mut after = before.fork().with_actor(device_actor("d-1"));
        let mut visit: VisitDoc = records::read_visit(&after).unwrap();
        visit.review.status = records::ReviewStatus::SignedOff;
        visit.review.changed_by = "sup-1".into();
        visit.review.changed_at = "2026-11-25T12:00:00Z".into();
        doc::put_at(&mut after, &[], "review", &visit.review).unwrap();
        match judge_as("w-1", &Role::Worker, "d-1", &before, &after) {
            Judgement::Refuse(r) => assert!(
                ["review_transition", "forged_author"].contains(&r.code),
                "{r:?}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn typing_is_judged_in_place_and_anything_else_on_a_copy() {
        let before = stored_visit();
        let actor = device_actor("d-1");
        let made = |_: &str, _: &str| false;
        let cx = worker_on_case_1(&actor, &made);
        let typed = edited(
            &before,
            "d-1",
            VisitEdit::SetText {
                text: TextField::Observations.into(),
                value: "She smiled.".into(),
            },
        );
        let typing = Decoded::decode([changes_message(&before, &typed).as_slice()]).unwrap();
        assert!(matches!(
            first_look(Kind::Visit, &before, &typing, &cx),
            FirstLook::Judged(Judgement::Accept(_))
        ));
        // An action added is not typing: applied to a copy, outside the
        // lock on the document, and judged the same as in one step.
        let acted = edited(&before, "d-1", VisitEdit::AddAction { id: "a1".into() });
        let action = changes_message(&before, &acted);
        let decoded = Decoded::decode([action.as_slice()]).unwrap();
        let FirstLook::Copy(pending) = first_look(Kind::Visit, &before, &decoded, &cx) else {
            panic!("judged without applying the changes");
        };
        assert_eq!(pending.heads(), before.get_heads());
        let judged = judge_copy(Kind::Visit, *pending, &cx);
        assert_eq!(judged, judge(Kind::Visit, &before, &action, &cx));
        assert!(matches!(judged, Judgement::Accept(a) if a.new == acted.get_heads()));
        // Unreadable bytes are refused before any look.
        assert!(matches!(
            judge(Kind::Visit, &before, b"not a sync message", &cx),
            Judgement::Refuse(r) if r.code == "malformed_changes"
        ));
    }

    #[test]
    fn typing_out_of_order_is_not_handed_on_unapplied() {
        let before = stored_visit();
        let actor = device_actor("d-1");
        let made = |_: &str, _: &str| false;
        let cx = worker_on_case_1(&actor, &made);
        let typed = edited(
            &before,
            "d-1",
            VisitEdit::SetText {
                text: TextField::Observations.into(),
                value: "She smiled.".into(),
            },
        );
        let honest = typed.get_changes(&before.get_heads());
        let message = |changes: &[automerge::Change]| {
            automerge::sync::Message {
                heads: vec![],
                need: vec![],
                have: vec![],
                changes: changes
                    .iter()
                    .map(|c| c.raw_bytes().to_vec())
                    .collect::<Vec<_>>()
                    .into(),
                flags: None,
                version: automerge::sync::MessageVersion::V1,
            }
            .encode()
        };
        let decoded = Decoded::decode([message(&honest).as_slice()]).unwrap();
        assert!(matches!(
            first_look(Kind::Visit, &before, &decoded, &cx),
            FirstLook::Judged(Judgement::Accept(_))
        ));
        // The same typing with a seq that skips one.
        let mut skipped = honest[0].decode();
        skipped.seq += 1;
        skipped.hash = None;
        let skipped = automerge::Change::from(skipped);
        let decoded = Decoded::decode([message(&[skipped]).as_slice()]).unwrap();
        assert!(matches!(
            first_look(Kind::Visit, &before, &decoded, &cx),
            FirstLook::Copy(_)
        ));
    }

    #[test]
    fn changes_on_changes_the_server_lacks_wait() {
        let before = stored_visit();
        let one = edited(&before, "d-1", VisitEdit::AddAction { id: "a1".into() });
        let two = edited(&one, "d-1", VisitEdit::AddAction { id: "a2".into() });
        // Only the second change, as if the first were still on its way.
        let mut only_second =
            automerge::sync::Message::decode(&changes_message(&one, &two)).unwrap();
        only_second.heads.clear();
        let actor = device_actor("d-1");
        let made = |_: &str, _: &str| false;
        let cx = worker_on_case_1(&actor, &made);
        let first = one.get_heads();
        assert_eq!(
            judge(Kind::Visit, &before, &only_second.encode(), &cx),
            Judgement::MissingDeps(first),
            "the change left out is named"
        );
    }
}
