//! Automerge mechanics, apart from what the records mean: making a document,
//! writing into it without disturbing concurrent edits, reading its schema
//! version, and the causal questions the rules ask of its history.

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ReadDoc, Value};

use crate::Error;

/// The schema version this build writes and reads. A reader meets a newer one
/// with [`crate::Error::NewerSchema`], never a crash.
pub const SCHEMA_VERSION: u64 = 1;

/// Reads the `schema` field first, so a newer record is refused with a
/// clear message before its shape is assumed.
pub fn check_schema(doc: &Automerge) -> Result<u64, Error> {
    let found = match doc.get(automerge::ROOT, "schema")? {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            automerge::ScalarValue::Uint(v) => *v,
            automerge::ScalarValue::Int(v) if *v >= 0 => *v as u64,
            _ => return Err(Error::MissingSchema),
        },
        _ => return Err(Error::MissingSchema),
    };
    if found > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Reads a record, refusing newer schemas.
pub fn read<T: autosurgeon::Hydrate>(doc: &Automerge) -> Result<T, Error> {
    check_schema(doc)?;
    Ok(autosurgeon::hydrate(doc)?)
}

/// Makes one change, stamped with the writing device's clock in seconds
/// since the epoch (as automerge's JavaScript library stamps its own).
/// Authorship shows that time beside the time the server received the
/// change; automerge's plain `transact` would stamp 0.
pub fn transact<O, E>(
    doc: &mut Automerge,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<O, E>,
) -> automerge::transaction::Result<O, E> {
    let time = chrono::Utc::now().timestamp();
    doc.transact_with(
        |_| automerge::transaction::CommitOptions::default().with_time(time),
        f,
    )
}

/// Builds a new automerge document holding `value`, written by `actor`.
pub fn new_document<T: autosurgeon::Reconcile>(
    value: &T,
    actor: ActorId,
) -> Result<Automerge, Error> {
    let mut doc = Automerge::new().with_actor(actor);
    transact::<_, autosurgeon::ReconcileError>(&mut doc, |tx| autosurgeon::reconcile(tx, value))
        .map_err(|f| f.error)?;
    Ok(doc)
}

/// Finds the map at `path` from the root, or `None` when a step is missing
/// or not a map.
pub(crate) fn map_at<R: ReadDoc>(
    doc: &R,
    path: &[&str],
) -> Result<Option<automerge::ObjId>, automerge::AutomergeError> {
    let mut obj = automerge::ROOT;
    for step in path {
        obj = match doc.get(&obj, *step)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => return Ok(None),
        };
    }
    Ok(Some(obj))
}

/// Reconciles `value` into `key` of the map at `path` (which must exist),
/// leaving the rest of the document alone.
pub fn put_at<R: autosurgeon::Reconcile>(
    doc: &mut Automerge,
    path: &[&str],
    key: &str,
    value: R,
) -> Result<(), Error> {
    transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
        let Some(obj) = map_at(tx, path)? else {
            return Err(autosurgeon::ReconcileError::Automerge(
                automerge::AutomergeError::InvalidObjId(format!("no map at {}", path.join("."))),
            ));
        };
        autosurgeon::reconcile_prop(tx, &obj, key, value)
    })
    .map_err(|f| Error::from(f.error))?;
    Ok(())
}

/// Puts two fields of the map at `path` in one change: a pair that means
/// one thing (who and when) is never seen half written, which the server's
/// rules, judging every change of a message, would refuse.
pub fn put_pair_at<R: autosurgeon::Reconcile>(
    doc: &mut Automerge,
    path: &[&str],
    (first, first_value): (&str, R),
    (second, second_value): (&str, R),
) -> Result<(), Error> {
    transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
        let Some(obj) = map_at(tx, path)? else {
            return Err(autosurgeon::ReconcileError::Automerge(
                automerge::AutomergeError::InvalidObjId(format!("no map at {}", path.join("."))),
            ));
        };
        autosurgeon::reconcile_prop(tx, &obj, first, first_value)?;
        autosurgeon::reconcile_prop(tx, &obj, second, second_value)
    })
    .map_err(|f| Error::from(f.error))?;
    Ok(())
}

/// Reconciles `value` into `key` of the map `map` inside the map at
/// `path`, creating `map` when it is missing: how concurrent additions to a
/// collection (the visits of a case, annotations) all survive.
pub fn put_in_map<R: autosurgeon::Reconcile>(
    doc: &mut Automerge,
    path: &[&str],
    map: &str,
    key: &str,
    value: R,
) -> Result<(), Error> {
    transact::<_, autosurgeon::ReconcileError>(doc, |tx| {
        let Some(parent) = map_at(tx, path)? else {
            return Err(autosurgeon::ReconcileError::Automerge(
                automerge::AutomergeError::InvalidObjId(format!("no map at {}", path.join("."))),
            ));
        };
        let obj = match tx.get(&parent, map)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => tx.put_object(&parent, map, ObjType::Map)?,
        };
        autosurgeon::reconcile_prop(tx, &obj, key, value)
    })
    .map_err(|f| Error::from(f.error))?;
    Ok(())
}

/// Replaces a text's content with `value` as a minimal diff, so concurrent
/// edits elsewhere in the same text survive the merge.
pub fn update_text(doc: &mut Automerge, path: &[&str], value: &str) -> Result<(), Error> {
    transact::<_, automerge::AutomergeError>(doc, |tx| {
        let Some((last, parents)) = path.split_last() else {
            return Err(automerge::AutomergeError::InvalidObjId("empty path".into()));
        };
        let Some(obj) = map_at(tx, parents)? else {
            return Err(automerge::AutomergeError::InvalidObjId(format!(
                "no map at {}",
                parents.join(".")
            )));
        };
        // Only the text itself may be created here, never a missing parent:
        // an action removed elsewhere must not come back as a bare text.
        let text = match tx.get(&obj, *last)? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => tx.put_object(&obj, *last, ObjType::Text)?,
        };
        tx.update_text(&text, value)?;
        Ok(())
    })
    .map_err(|f| Error::from(f.error))?;
    Ok(())
}

/// The text object at `path`, if there is one.
pub fn text_at(doc: &Automerge, path: &[&str]) -> Result<Option<automerge::ObjId>, Error> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(None);
    };
    let Some(obj) = map_at(doc, parents)? else {
        return Ok(None);
    };
    Ok(match doc.get(&obj, *last)? {
        Some((Value::Object(ObjType::Text), id)) => Some(id),
        _ => None,
    })
}

/// The change that wrote the current value of `key` in the map at `path`:
/// e.g. the sign-off of a visit, found from its `review.status`.
pub fn change_that_wrote(
    doc: &Automerge,
    path: &[&str],
    key: &str,
) -> Result<Option<ChangeHash>, Error> {
    let Some(obj) = map_at(doc, path)? else {
        return Ok(None);
    };
    let Some((_, automerge::ObjId::Id(counter, actor, _))) = doc.get(&obj, key)? else {
        return Ok(None);
    };
    Ok(doc
        .get_changes_meta(&[])
        .into_iter()
        .find(|c| *c.actor == actor && (c.start_op..=c.max_op).contains(&counter))
        .map(|c| c.hash))
}

/// Every change in `doc` that has `ancestor` in its history.
pub fn descendants_of(doc: &Automerge, ancestor: ChangeHash) -> HashSet<ChangeHash> {
    let mut found = HashSet::new();
    // Changes not in `ancestor`'s history, in causal order: a change
    // descends from it when one of its deps is it or descends from it.
    for change in doc.get_changes_meta(&[ancestor]) {
        if change
            .deps
            .iter()
            .any(|d| *d == ancestor || found.contains(d))
        {
            found.insert(change.hash);
        }
    }
    found
}

/// The document as it would be without `left_out` (a set closed under
/// descent within the document: nothing kept depends on it).
pub fn without(doc: &Automerge, left_out: &HashSet<ChangeHash>) -> Automerge {
    let kept: Vec<_> = doc
        .get_changes_meta(&[])
        .into_iter()
        .filter(|c| !left_out.contains(&c.hash))
        .collect();
    let deps: HashSet<ChangeHash> = kept.iter().flat_map(|c| c.deps.iter().copied()).collect();
    let heads: Vec<ChangeHash> = kept
        .iter()
        .map(|c| c.hash)
        .filter(|h| !deps.contains(h))
        .collect();
    doc.fork_at(&heads).unwrap_or_else(|_| Automerge::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(doc: &mut Automerge, key: &str, value: &str) -> ChangeHash {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, key, value)?;
            Ok(())
        })
        .unwrap();
        doc.get_heads()[0]
    }

    #[test]
    fn descendants_are_what_came_after_not_what_ran_beside() {
        let mut a = Automerge::new();
        put(&mut a, "x", "1");
        let mut b = a.fork();
        let mark = put(&mut a, "status", "signed_off");
        let after = put(&mut a, "y", "2");
        let beside = put(&mut b, "z", "3");
        a.merge(&mut b).unwrap();
        let d = descendants_of(&a, mark);
        assert!(d.contains(&after));
        assert!(!d.contains(&beside));
        assert!(!d.contains(&mark));
        assert_eq!(change_that_wrote(&a, &[], "status").unwrap(), Some(mark));
        let view = without(&a, &d);
        assert!(view.get(automerge::ROOT, "y").unwrap().is_none());
        assert!(view.get(automerge::ROOT, "z").unwrap().is_some());
    }
}
