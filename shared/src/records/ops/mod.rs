//! The rules per operation: every op of every new change, checked against
//! the shape of its record kind and what the writer's role may touch.
//!
//! The kinds' rules compare the record as hydration reads it before and
//! after a batch, which cannot see what hydration does not read: a key the
//! schema does not have, an object nested where nobody looks, a value that
//! loses a conflict and so never shows. Yet all of that is stored, synced to
//! every device of the case, and read back by anything that reads the
//! document rather than the typed record (a JavaScript client, an export, a
//! later version of the app). So each operation must land on a path its
//! kind has ([`Shape`]), make the object or write the value that path holds,
//! within its size, by a role that may write there ([`Who`]); and a value
//! may not be made to lose a conflict against a value its own writer had
//! already seen (honest automerge overwrites what it has seen).
//! Anything else is refused with the path named. The typed rules run first
//! and keep their say over what needs the whole record (review transitions,
//! sign-off, authorship of entries); these run on top.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Automerge, Change, ObjType, Prop, ReadDoc, ScalarValue};

use super::{Kind, Refusal, Writer};
use crate::role::Role;

/// Who may write at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Written when the record is made (its first change) and never again.
    Fixed,
    Worker,
    Supervisor,
    /// A worker or a supervisor.
    Both,
}

/// What a path holds, as autosurgeon writes the record's type.
#[derive(Debug)]
pub enum Shape {
    /// A struct: a map with these keys only.
    Record(&'static [Field]),
    /// A `BTreeMap<String, T>`: a map keyed by ids.
    Keyed(&'static Shape),
    /// A `Vec<T>`.
    List(&'static Shape),
    /// Automerge text: what people write.
    Text,
    /// A scalar string: an id, a timestamp, an enum value.
    Str,
    /// Who did something: the writer's own person id (or empty, nobody).
    /// Per op, not only in the record after the batch: a change may not
    /// name someone else even when a later change of the same message
    /// takes it back, since the history keeps every state.
    Me,
    /// A review state, each value written by one role only (a worker
    /// submits; a supervisor returns or signs off). The draft a record
    /// starts in is written when it is made.
    Status(&'static [(&'static str, Who)]),
    /// A scalar unsigned integer.
    Uint,
    Bool,
    /// An `Option<T>`: null, or `T`.
    Maybe(&'static Shape),
}

#[derive(Debug)]
pub struct Field {
    pub key: &'static str,
    pub shape: Shape,
    /// `None`: as the field that holds it.
    pub who: Option<Who>,
}

const fn f(key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        who: None,
    }
}

const fn by(who: Who, key: &'static str, shape: Shape) -> Field {
    Field {
        key,
        shape,
        who: Some(who),
    }
}

/// The longest scalar string (ids, timestamps, cursors, enum values).
pub const MAX_SCALAR_BYTES: usize = 1024;
/// The longest map key (ids).
pub const MAX_KEY_BYTES: usize = 128;
/// The most bytes one element of a text may hold: one character as people
/// type it (a grapheme, an emoji with its modifiers). automerge would take
/// megabytes in one element, and count it as one character.
pub const MAX_CHAR_BYTES: usize = 64;

use Shape::{Bool, Keyed, List, Maybe, Me, Record, Status, Str, Text, Uint};
use Who::{Both, Fixed, Supervisor, Worker};

/// Who may put each review state (see `review::transition`).
const REVIEW_STATES: &[(&str, Who)] = &[
    ("submitted", Worker),
    ("returned", Supervisor),
    ("signed_off", Supervisor),
];

const REVIEW: Shape = Record(&[
    f("status", Status(REVIEW_STATES)),
    f("changed_by", Me),
    f("changed_at", Str),
    f("signed_off_heads", List(&Str)),
    f(
        "decisions",
        Keyed(&Record(&[
            f("status", Status(REVIEW_STATES)),
            f("by", Me),
            f("at", Str),
            f("comment", Text),
        ])),
    ),
]);

pub(super) const VISIT: Shape = Record(&[
    by(Fixed, "schema", Uint),
    by(Fixed, "case_id", Str),
    by(Fixed, "author", Str),
    by(Fixed, "started_at", Str),
    by(Worker, "place", Str),
    by(
        Worker,
        "present",
        Keyed(&Record(&[f("name", Text), f("role", Text)])),
    ),
    by(
        Worker,
        "own_words",
        Record(&[f("text", Text), f("communication", List(&Str))]),
    ),
    by(Worker, "observations", Text),
    by(Worker, "analysis", Text),
    by(
        Worker,
        "actions",
        Keyed(&Record(&[
            f("text", Text),
            f("owner", Text),
            f("due", Str),
            f("done", Bool),
        ])),
    ),
    by(
        Worker,
        "creative",
        Keyed(&Record(&[
            f("method", Str),
            f("expressed", Text),
            f("how", Text),
            f("reading", Text),
            f("photos", List(&Str)),
        ])),
    ),
    by(
        Worker,
        "photos",
        Keyed(&Record(&[
            f("sha256", Str),
            f("size", Uint),
            f("width", Uint),
            f("height", Uint),
            f("caption", Text),
            f("captured_at", Str),
            f("removed_by", Me),
            f("removed_at", Str),
        ])),
    ),
    by(
        Supervisor,
        "annotations",
        Keyed(&Record(&[
            f("author", Me),
            f("created_at", Str),
            f("field", Str),
            f("start", Str),
            f("end", Str),
            f("quote", Text),
            f("body", Text),
            // The worker resolves what the supervisor raised.
            by(Both, "resolved_by", Me),
            by(Both, "resolved_at", Str),
        ])),
    ),
    by(Both, "review", REVIEW),
    by(
        Worker,
        "addenda",
        Keyed(&Record(&[f("author", Me), f("at", Str), f("text", Text)])),
    ),
    by(
        Worker,
        "significant",
        Keyed(&Record(&[
            f("at", Str),
            f("summary", Text),
            f("marked_by", Me),
        ])),
    ),
]);

pub(super) const CASE: Shape = Record(&[
    by(Fixed, "schema", Uint),
    by(Fixed, "case_id", Str),
    by(Fixed, "reference", Str),
    by(
        Both,
        "person",
        Record(&[
            f("name", Text),
            f("preferred_name", Text),
            f("date_of_birth", Str),
            f("communication_needs", Text),
            f("key_details", Text),
        ]),
    ),
    by(
        Both,
        "key_people",
        Keyed(&Record(&[f("name", Text), f("relationship", Text)])),
    ),
    by(
        Both,
        "visits",
        Keyed(&Record(&[
            f("started_at", Str),
            f("author", Me),
            f("nonce", Str),
        ])),
    ),
    by(
        Both,
        "chronology",
        Keyed(&Record(&[
            f("at", Str),
            f("author", Me),
            f("kind", Str),
            f("summary", Text),
        ])),
    ),
    by(
        Both,
        "records",
        Keyed(&Record(&[
            f("kind", Str),
            f("created_at", Str),
            f("author", Me),
            f("nonce", Str),
        ])),
    ),
]);

pub(super) const CONCERN: Shape = Record(&[
    by(Fixed, "schema", Uint),
    by(Fixed, "case_id", Str),
    by(Fixed, "visit_id", Str),
    by(Fixed, "author", Str),
    by(Fixed, "created_at", Str),
    by(Worker, "what_happened", Text),
    by(Worker, "who_is_at_risk", Text),
    by(Worker, "immediate_actions", Text),
    by(Worker, "consent", Str),
    by(Worker, "without_consent_reason", Text),
    by(Worker, "raised_at", Str),
    by(Supervisor, "acknowledged_by", Me),
    by(Supervisor, "acknowledged_at", Str),
]);

const RECORDED: Shape = Maybe(&Record(&[f("value", Str), f("by", Me), f("at", Str)]));
const PART: Shape = Record(&[f("evidence", Text), f("finding", RECORDED)]);

pub(super) const CAPACITY: Shape = Record(&[
    by(Fixed, "schema", Uint),
    by(Fixed, "case_id", Str),
    by(Fixed, "visit_id", Str),
    by(Fixed, "author", Str),
    by(Fixed, "created_at", Str),
    by(Worker, "decision", Text),
    by(Worker, "assessed_at", Str),
    by(Worker, "relevant_information", Text),
    by(Worker, "steps", Text),
    by(Worker, "methods", List(&Str)),
    by(
        Worker,
        "evidence",
        Keyed(&Record(&[
            f("kind", Str),
            f("visit_id", Str),
            f("observation", Str),
            f("start", Str),
            f("end", Str),
            f("quote", Text),
            f("note", Text),
            f("added_by", Me),
            f("added_at", Str),
        ])),
    ),
    by(
        Worker,
        "test",
        Record(&[
            f("understand", PART),
            f("retain", PART),
            f("use_or_weigh", PART),
            f("communicate", PART),
        ]),
    ),
    by(Worker, "impairment", PART),
    by(Worker, "status", Str),
    by(Worker, "outcome", Maybe(&Str)),
    by(Worker, "best_interests", Text),
    by(Worker, "completed_by", Me),
    by(Worker, "completed_at", Str),
    by(
        Worker,
        "history",
        Keyed(&Record(&[
            f("status", Str),
            f("outcome", Maybe(&Str)),
            f("by", Me),
            f("at", Str),
            f("reason", Text),
        ])),
    ),
]);

/// Checks every op of `changes` (now applied to `before`, giving `after`)
/// against the shape of `kind` and what `role` may write. Only the change
/// that makes the record (into an empty `before`, with no dependencies)
/// writes its fixed fields. Returns the changes that are more than typing
/// (a character of a text in no one's entry): each is a step the kind's
/// rules judge on its own (see `records::check`).
pub fn check(
    kind: Kind,
    before: &Automerge,
    after: &Automerge,
    changes: &[Change],
    writer: &Writer<'_>,
) -> Result<Vec<automerge::ChangeHash>, Refusal> {
    let role = writer.role;
    let mut paths: HashMap<String, (Vec<Prop>, ObjType)> = HashMap::new();
    let creating = before.get_heads().is_empty();
    let mut steps = Vec::new();
    for change in changes {
        let first = creating && change.deps().is_empty();
        let mut plain = true;
        let expanded = change.decode();
        let actor = expanded.actor_id.to_hex_string();
        for (i, op) in expanded.operations.iter().enumerate() {
            let (obj_key, path, obj_type) = match &op.obj {
                ObjectId::Root => (String::new(), Vec::new(), ObjType::Map),
                ObjectId::Id(id) => {
                    let key = id.to_string();
                    if !paths.contains_key(&key) {
                        let (exid, ty) = after
                            .import(&key)
                            .map_err(|_| refused("unknown_object", &key, "no such object"))?;
                        let path = after
                            .parents(&exid)
                            .map_err(|e| refused("unknown_object", &key, &e.to_string()))?
                            .path()
                            .into_iter()
                            .map(|(_, prop)| prop)
                            .collect();
                        paths.insert(key.clone(), (path, ty));
                    }
                    let (path, ty) = &paths[&key];
                    (key, path.clone(), *ty)
                }
            };
            let (holder, who, in_entry) = walk(kind.shape(), &path)?;
            let at = describe(&path, &op.key);
            let (target, who) = target(holder, who, obj_type, &op.key, &at)?;
            // Typing: a character of a text that is no one's entry.
            plain &= target.is_none() && !in_entry;
            match who {
                // The change that makes the record writes all of it (the
                // kind's creation rules say what a new record may hold).
                _ if first => {}
                Some(Fixed) => {
                    return Err(refused(
                        "fixed_field",
                        &at,
                        "it is set when the record is made",
                    ));
                }
                Some(Worker) if *role != Role::Worker => {
                    return Err(refused("not_a_worker", &at, "only a worker writes it"));
                }
                Some(Supervisor) if *role != Role::Supervisor => {
                    return Err(refused(
                        "not_a_supervisor",
                        &at,
                        "only a supervisor writes it",
                    ));
                }
                _ if !matches!(role, Role::Worker | Role::Supervisor) => {
                    return Err(refused(
                        "read_only",
                        &at,
                        "only workers and supervisors write records",
                    ));
                }
                _ => {}
            }
            let me = Writing {
                person_id: writer.person_id,
                role,
                first,
            };
            value(target, obj_type, op.insert, &op.action, &at, &me)?;
            // An element of a list is overwritten only over the value its
            // writer saw: with no predecessor, the new value would stand
            // in conflict beside the old one, one of them hidden.
            if let (Key::Seq(_), false, OpType::Put(_) | OpType::Make(_)) =
                (&op.key, op.insert, &op.action)
                && op.pred.is_empty()
            {
                return Err(refused(
                    "hidden_conflict",
                    &at,
                    "an element is overwritten only over the value its writer saw",
                ));
            }
            if let (Key::Map(key), false, OpType::Put(_) | OpType::Make(_)) =
                (&op.key, op.insert, &op.action)
            {
                let id = format!("{}@{actor}", expanded.start_op.get() + i as u64);
                not_made_to_lose(after, change, &obj_key, key, &id, &op.pred, &at)?;
            }
        }
        if !plain {
            steps.push(change.hash());
        }
    }
    Ok(steps)
}

/// Follows `path` down `root`: the shape of the object there, and who may
/// write in it.
/// Also whether the path goes through an entry of a keyed map (someone's
/// decision, annotation, addendum, finding...).
fn walk(
    root: &'static Shape,
    path: &[Prop],
) -> Result<(&'static Shape, Option<Who>, bool), Refusal> {
    let mut shape = root;
    let mut who = None;
    let mut entry = false;
    for (depth, prop) in path.iter().enumerate() {
        let at = || describe_path(&path[..=depth]);
        shape = unwrap(shape);
        shape = match (shape, prop) {
            (Record(fields), Prop::Map(key)) => {
                let field = fields
                    .iter()
                    .find(|f| f.key == key.as_str())
                    .ok_or_else(|| {
                        refused("unknown_path", &at(), "this record has no such field")
                    })?;
                who = field.who.or(who);
                &field.shape
            }
            (Keyed(inner), Prop::Map(_)) => {
                entry = true;
                inner
            }
            (List(inner), Prop::Seq(_)) => inner,
            _ => return Err(refused("wrong_shape", &at(), "no object is held here")),
        };
    }
    Ok((unwrap(shape), who, entry))
}

fn unwrap(shape: &'static Shape) -> &'static Shape {
    match shape {
        Maybe(inner) => inner,
        other => other,
    }
}

/// What `key` of an object of shape `holder` (and type `obj_type`) holds.
/// `None` as the shape: one character of a text.
fn target(
    holder: &'static Shape,
    who: Option<Who>,
    obj_type: ObjType,
    key: &Key,
    at: &str,
) -> Result<(Option<&'static Shape>, Option<Who>), Refusal> {
    let wrong = || refused("wrong_shape", at, "the object there is of another type");
    match (holder, obj_type, key) {
        (Record(fields), ObjType::Map, Key::Map(k)) => {
            let field = fields
                .iter()
                .find(|f| f.key == k.as_str())
                .ok_or_else(|| refused("unknown_path", at, "this record has no such field"))?;
            Ok((Some(&field.shape), field.who.or(who)))
        }
        (Keyed(inner), ObjType::Map, Key::Map(k)) => {
            if k.len() > MAX_KEY_BYTES || k.is_empty() {
                return Err(refused("invalid_value", at, "an id of no fitting length"));
            }
            Ok((Some(inner), who))
        }
        (List(inner), ObjType::List, Key::Seq(_)) => Ok((Some(inner), who)),
        (Text, ObjType::Text, Key::Seq(_)) => Ok((None, who)),
        _ => Err(wrong()),
    }
}

/// Whether the op writes what `target` holds.
/// The writer as the values of one op are judged: who they are, and
/// whether the op is in the change that makes the record.
struct Writing<'a> {
    person_id: &'a str,
    role: &'a Role,
    first: bool,
}

fn value(
    target: Option<&'static Shape>,
    obj_type: ObjType,
    insert: bool,
    action: &OpType,
    at: &str,
    me: &Writing<'_>,
) -> Result<(), Refusal> {
    let wrong = |why: &str| refused("wrong_shape", at, why);
    let Some(target) = target else {
        // A character of a text: inserted or deleted, never overwritten.
        return match (action, insert) {
            (OpType::Delete, false) => Ok(()),
            (OpType::Put(ScalarValue::Str(s)), true) if s.len() <= MAX_CHAR_BYTES => Ok(()),
            (OpType::Put(ScalarValue::Str(_)), true) => Err(refused(
                "text_too_long",
                at,
                "one character of a text holds at most a few bytes",
            )),
            _ => Err(wrong("a text holds characters")),
        };
    };
    if insert && obj_type == ObjType::Map {
        return Err(wrong("a map is not a sequence"));
    }
    match action {
        OpType::Delete => Ok(()),
        OpType::Make(made) => {
            let fits = matches!(
                (unwrap(target), made),
                (Record(_) | Keyed(_), ObjType::Map)
                    | (List(_), ObjType::List)
                    | (Text, ObjType::Text)
            );
            if fits {
                Ok(())
            } else {
                Err(wrong("an object of another type belongs here"))
            }
        }
        OpType::Put(v) => scalar(target, v, me).map_err(|(code, why)| refused(code, at, why)),
        OpType::Increment(_) | OpType::MarkBegin(..) | OpType::MarkEnd(_) => {
            Err(wrong("records hold no counters or marks"))
        }
    }
}

fn scalar(
    target: &'static Shape,
    v: &ScalarValue,
    me: &Writing<'_>,
) -> Result<(), (&'static str, &'static str)> {
    let wrong = |why| Err(("wrong_shape", why));
    match (target, v) {
        (Maybe(_), ScalarValue::Null) => Ok(()),
        (Maybe(inner), v) => scalar(inner, v, me),
        (Str | Me | Status(_), ScalarValue::Str(s)) if s.len() > MAX_SCALAR_BYTES => {
            wrong("a value longer than any id or date")
        }
        (Str, ScalarValue::Str(_)) => Ok(()),
        // A record starts as a draft; what its kinds' rules do not read
        // in the first change (a photo's removal, say) is held to the same
        // rule for who-fields as every later change.
        (Status(_), ScalarValue::Str(s)) if me.first => {
            if s == "draft" {
                Ok(())
            } else {
                Err(("not_your_decision", "a record starts as a draft"))
            }
        }
        (Me, ScalarValue::Str(s)) if s.is_empty() || s == me.person_id => Ok(()),
        (Me, ScalarValue::Str(_)) => Err((
            "not_the_writer",
            "only the writer's own person id is written here",
        )),
        (Status(states), ScalarValue::Str(s)) => {
            let allowed = states.iter().any(|(state, who)| {
                state == s
                    && match who {
                        Worker => *me.role == Role::Worker,
                        Supervisor => *me.role == Role::Supervisor,
                        Both => matches!(me.role, Role::Worker | Role::Supervisor),
                        Fixed => false,
                    }
            });
            if allowed {
                Ok(())
            } else {
                Err((
                    "not_your_decision",
                    "this state is not one the writer's role puts a record in",
                ))
            }
        }
        (Uint, ScalarValue::Uint(_)) => Ok(()),
        (Uint, ScalarValue::Int(n)) if *n >= 0 => Ok(()),
        (Bool, ScalarValue::Boolean(_)) => Ok(()),
        _ => wrong("a value of another type belongs here"),
    }
}

/// A put on a map key that leaves the key in conflict is honest only when
/// the values it conflicts with were written beside it, unseen: automerge
/// overwrites every value its writer has seen (its `pred`). A value made to
/// lose against one its writer had seen stays hidden from the typed rules
/// while every reader of the document still holds it.
fn not_made_to_lose(
    after: &Automerge,
    change: &Change,
    obj: &str,
    key: &str,
    id: &str,
    pred: &automerge::legacy::SortedVec<automerge::legacy::OpId>,
    at: &str,
) -> Result<(), Refusal> {
    let exid = if obj.is_empty() {
        automerge::ROOT
    } else {
        match after.import(obj) {
            Ok((exid, _)) => exid,
            Err(_) => return Ok(()),
        }
    };
    let values = after.get_all(&exid, key).unwrap_or_default();
    if values.len() < 2 || !values.iter().any(|(_, v)| v.to_string() == id) {
        return Ok(());
    }
    let seen = after
        .get_all_at(&exid, key, change.deps())
        .unwrap_or_default();
    let pred: Vec<String> = pred.iter().map(|p| p.to_string()).collect();
    let overlooked_seen = seen.iter().any(|(_, v)| {
        let v = v.to_string();
        !pred.contains(&v) && values.iter().any(|(_, w)| w.to_string() == v)
    });
    // Nor beside a value of its own writer's, in this change or another:
    // honest automerge never leaves two of one actor's values standing at
    // one key (a forged value first, the true one after, in one change).
    let own = format!("@{}", change.actor_id().to_hex_string());
    let overlooked_own = values.iter().any(|(_, w)| {
        let w = w.to_string();
        w != id && w.ends_with(&own) && !pred.contains(&w)
    });
    let overlooked = overlooked_seen || overlooked_own;
    if overlooked {
        Err(refused(
            "hidden_conflict",
            at,
            "a value may not be written beside one its writer has already seen",
        ))
    } else {
        Ok(())
    }
}

fn refused(code: &'static str, at: &str, why: &str) -> Refusal {
    Refusal::new(code, format!("{at}: {why}"))
}

fn describe_path(path: &[Prop]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|p| match p {
            Prop::Map(k) => cut(k),
            Prop::Seq(i) => format!("[{i}]"),
        })
        .collect();
    if parts.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}", parts.join("/"))
    }
}

fn describe(path: &[Prop], key: &Key) -> String {
    let base = describe_path(path);
    let base = base.trim_end_matches('/');
    match key {
        Key::Map(k) => format!("{base}/{}", cut(k)),
        Key::Seq(_) => format!("{base}/[]"),
    }
}

/// A key as it may be named in a refusal: a device chose it, so it is cut
/// short and stripped of anything but plain characters.
fn cut(key: &str) -> String {
    let mut out: String = key.chars().filter(|c| !c.is_control()).take(40).collect();
    if key.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests;
