//! Who wrote which words of a text, and how a text stood at an earlier point
//! of its history: the questions a supervisor, an inspector or a court asks
//! of a record ("who wrote this sentence?", "was it there when the visit was
//! signed off?").
//!
//! Both are answered from the automerge operations themselves, never by
//! diffing snapshots of the text: when two devices type into one paragraph a
//! diff can only guess which device wrote which letters, and a word deleted
//! and typed again looks unchanged to a diff although it is new. Every
//! character of an automerge text is the operation that inserted it, and that
//! operation belongs to exactly one change, signed with its device's actor.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use automerge::{
    ActorId, Automerge, AutomergeError, ChangeHash, ChangeMetadata, ObjId, ObjType, ReadDoc,
    ScalarValueRef, Value, ValueRef,
};

use crate::Error;

/// One stretch of text written by one change, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub text: String,
    pub actor: ActorId,
    pub change: ChangeHash,
    /// The change's own timestamp, as the writing device's clock had it:
    /// the device's claim, not the server's knowledge (a clock can be wrong
    /// or set back). Seconds since the epoch, as `doc::transact` (and
    /// automerge's JavaScript library) stamp it; 0 for a change committed
    /// without a time.
    pub device_time: i64,
}

/// Who wrote each character of the text object at `path` (e.g.
/// `&["observations"]` or `&["own_words", "text"]`): each visible character
/// is attributed to the change whose operation inserted it, and consecutive
/// characters from the same change make one [`Run`]. `heads`: the text as it
/// stood at those heads, or as it stands now when `None`. Empty when the path
/// holds no text (then or now).
pub fn authorship(
    doc: &Automerge,
    path: &[&str],
    heads: Option<&[ChangeHash]>,
) -> Result<Vec<Run>, Error> {
    if let Some(heads) = heads {
        known(doc, heads)?;
    }
    let Some(obj) = text_obj(doc, path, heads)? else {
        return Ok(Vec::new());
    };
    let mut runs: Vec<Run> = Vec::new();
    // The op counters of the change that wrote the last run: the next
    // character is usually from the same change, and this spares looking it
    // up.
    let mut ops = 0..0;
    let mut found: HashMap<ChangeHash, (std::ops::Range<u64>, i64)> = HashMap::new();
    for (id, text) in characters(doc, &obj, heads) {
        let ObjId::Id(counter, actor, _) = &id else {
            continue;
        };
        if let Some(last) = runs.last_mut()
            && last.actor == *actor
            && ops.contains(counter)
        {
            last.text.push_str(&text);
            continue;
        }
        let change = doc
            .hash_for_opid(&id)
            .ok_or_else(|| AutomergeError::InvalidObjId(id.to_string()))?;
        let (range, time) = match found.get(&change) {
            Some(seen) => seen.clone(),
            None => {
                let meta = doc
                    .get_change_meta_by_hash(&change)
                    .ok_or(AutomergeError::MissingHash(change))?;
                let seen = (meta.start_op..meta.max_op + 1, meta.timestamp);
                found.insert(change, seen.clone());
                seen
            }
        };
        ops = range;
        runs.push(Run {
            text: text.into_owned(),
            actor: actor.clone(),
            change,
            device_time: time,
        });
    }
    Ok(runs)
}

/// The heads of the document as it stood when only the changes `included`
/// says yes to had arrived, closed under dependencies: a change counts only
/// when it is included and all its dependencies count, so the result is
/// always a state the document really passed through or could have (a
/// change cannot be applied before what it depends on, whatever the receipt
/// times say). Empty when none counts.
///
/// The predicate sees the change's metadata (hash, actor, device timestamp,
/// deps), not the change itself: building every change's operations is what
/// would make this slow at thousands of changes, and no caller needs them.
pub fn heads_where(
    doc: &Automerge,
    included: impl Fn(&ChangeMetadata<'_>) -> bool,
) -> Vec<ChangeHash> {
    let changes = doc.get_changes_meta(&[]);
    let mut counts: HashMap<ChangeHash, bool> = HashMap::with_capacity(changes.len());
    // Automerge lists changes in the order they were applied, so each
    // change's deps come before it and one pass decides all; the loop only
    // guards against an order that does not.
    let mut pending: Vec<(&ChangeMetadata<'_>, bool)> =
        changes.iter().map(|c| (c, included(c))).collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(change, yes)| {
            let decided = if !yes {
                Some(false)
            } else {
                let mut all = Some(true);
                for dep in &change.deps {
                    match counts.get(dep) {
                        Some(true) => {}
                        Some(false) => {
                            all = Some(false);
                            break;
                        }
                        None => all = None,
                    }
                }
                all
            };
            match decided {
                Some(c) => {
                    counts.insert(change.hash, c);
                    false
                }
                None => true,
            }
        });
        if pending.len() == before {
            // Deps this document does not hold: such changes never count.
            break;
        }
    }
    let counted = |h: &ChangeHash| counts.get(h).copied().unwrap_or(false);
    let covered: HashSet<ChangeHash> = changes
        .iter()
        .filter(|c| counted(&c.hash))
        .flat_map(|c| c.deps.iter().copied())
        .collect();
    let mut heads: Vec<ChangeHash> = changes
        .iter()
        .map(|c| c.hash)
        .filter(|h| counted(h) && !covered.contains(h))
        .collect();
    // Sorted as `Automerge::get_heads` sorts, so equal states compare equal.
    heads.sort_unstable();
    heads
}

/// How a piece of text stands now against how it stood at the earlier heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Since {
    /// There then and now.
    Same,
    /// There then, deleted since.
    Removed,
    /// Written since.
    Added,
}

/// A stretch of the text, all of one [`Since`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    pub text: String,
    pub since: Since,
}

/// The text at `path` as it stood at `heads`, against how it stands now:
/// [`Since::Same`], [`Since::Removed`] and [`Since::Added`] segments in
/// document order, adjacent segments of one kind merged. The Same and
/// Removed segments together are exactly the text as it stood at `heads`;
/// the Same and Added ones the text now. A text that did not exist at
/// `heads` is all Added.
///
/// Characters are matched by the operation that inserted them, not by
/// their letters, so a word deleted and typed again shows as removed and
/// added: the record says it was rewritten, which it was.
pub fn as_at(doc: &Automerge, path: &[&str], heads: &[ChangeHash]) -> Result<Vec<Segment>, Error> {
    known(doc, heads)?;
    // Resolved separately: a map key overwritten since may name another text
    // object now, which then shares no characters with the old one.
    let then = match text_obj(doc, path, Some(heads))? {
        Some(obj) => characters(doc, &obj, Some(heads)),
        None => Vec::new(),
    };
    let now = match text_obj(doc, path, None)? {
        Some(obj) => characters(doc, &obj, None),
        None => Vec::new(),
    };
    let in_then: HashSet<&ObjId> = then.iter().map(|(id, _)| id).collect();
    let in_now: HashSet<&ObjId> = now.iter().map(|(id, _)| id).collect();
    let mut segments: Vec<Segment> = Vec::new();
    let mut push = |since: Since, text: &str| match segments.last_mut() {
        Some(last) if last.since == since => last.text.push_str(text),
        _ => segments.push(Segment {
            text: text.to_owned(),
            since,
        }),
    };
    // Both texts are subsequences of the one order automerge keeps its
    // characters in, so the characters common to both come in the same
    // order in each and serve as anchors; between two anchors, what was
    // removed comes before what was added.
    let (mut i, mut j) = (0, 0);
    loop {
        match (then.get(i), now.get(j)) {
            (None, None) => break,
            (Some((id, text)), _) if !in_now.contains(id) => {
                push(Since::Removed, text);
                i += 1;
            }
            (_, Some((id, text))) if !in_then.contains(id) => {
                push(Since::Added, text);
                j += 1;
            }
            (Some((a, text)), Some((b, _))) if a == b => {
                push(Since::Same, text);
                i += 1;
                j += 1;
            }
            // Anchors out of step cannot happen with one order; should they,
            // the texts still come out whole, only less finely matched.
            (Some((_, text)), _) => {
                push(Since::Removed, text);
                i += 1;
            }
            (None, Some((_, text))) => {
                push(Since::Added, text);
                j += 1;
            }
        }
    }
    Ok(segments)
}

/// Refuses heads this document does not hold: automerge would quietly
/// ignore them and answer for some other, earlier state.
fn known(doc: &Automerge, heads: &[ChangeHash]) -> Result<(), Error> {
    match heads
        .iter()
        .find(|h| doc.get_change_meta_by_hash(h).is_none())
    {
        Some(h) => Err(AutomergeError::MissingHash(*h).into()),
        None => Ok(()),
    }
}

/// The text object at `path` as it stood at `heads` (now when `None`).
fn text_obj(
    doc: &Automerge,
    path: &[&str],
    heads: Option<&[ChangeHash]>,
) -> Result<Option<ObjId>, Error> {
    let Some(heads) = heads else {
        return crate::doc::text_at(doc, path);
    };
    let Some((last, parents)) = path.split_last() else {
        return Ok(None);
    };
    let mut obj = automerge::ROOT;
    for step in parents {
        obj = match doc.get_at(&obj, *step, heads)? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => return Ok(None),
        };
    }
    Ok(match doc.get_at(&obj, *last, heads)? {
        Some((Value::Object(ObjType::Text), id)) => Some(id),
        _ => None,
    })
}

/// The visible characters of the text `obj` with the id of the operation
/// that wrote each, borrowed from the document. A block marker reads as
/// U+FFFC, as automerge's own `text()` shows it, so that the pieces always
/// add up to the text everyone else reads.
fn characters<'a>(
    doc: &'a Automerge,
    obj: &ObjId,
    heads: Option<&[ChangeHash]>,
) -> Vec<(ObjId, Cow<'a, str>)> {
    let items = match heads {
        Some(heads) => doc.list_range_at(obj, .., heads),
        None => doc.list_range(obj, ..),
    };
    let mut marked = false;
    let mut found = Vec::new();
    for item in items {
        let id = item.id();
        match item.value {
            ValueRef::Scalar(ScalarValueRef::Str(s)) => found.push((id, s)),
            ValueRef::Object(_) => found.push((id, Cow::Borrowed("\u{fffc}"))),
            // Automerge lists the anchors of marks (bold, links) among the
            // characters; a mark's end anchor is always null.
            ValueRef::Scalar(_) => marked = true,
        }
    }
    if marked {
        // A mark's begin anchor holds the mark's value, which may be a
        // string (a link's address) and then looks like a character: only
        // the operation's action in its change tells them apart. Texts
        // without marks, all of Fieldvisit's own, never pay for this.
        let mut begins: HashMap<ChangeHash, HashSet<u64>> = HashMap::new();
        found.retain(|(id, _)| !is_mark_begin(doc, id, &mut begins));
    }
    found
}

/// Whether `id` is the begin anchor of a mark, by the change that made it
/// (`begins` caches each change's mark begins by op counter).
fn is_mark_begin(
    doc: &Automerge,
    id: &ObjId,
    begins: &mut HashMap<ChangeHash, HashSet<u64>>,
) -> bool {
    let (ObjId::Id(counter, ..), Some(hash)) = (id, doc.hash_for_opid(id)) else {
        return false;
    };
    begins
        .entry(hash)
        .or_insert_with(|| {
            let Some(change) = doc.get_change_by_hash(&hash) else {
                return HashSet::new();
            };
            let start = change.start_op().get();
            change
                .decode()
                .operations
                .iter()
                .zip(start..)
                .filter(|(op, _)| matches!(op.action, automerge::legacy::OpType::MarkBegin(..)))
                .map(|(_, counter)| counter)
                .collect()
        })
        .contains(counter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::{new_document, put_in_map, update_text};
    use crate::provenance::device_actor;
    use crate::records::{Action, PlaceKind, TextField, VisitDoc};
    use automerge::transaction::{CommitOptions, Transactable};

    fn visit() -> Automerge {
        let v = VisitDoc::new("case-1", "w-1", "2026-11-25T10:00:00Z", PlaceKind::Home);
        new_document(&v, device_actor("d-1")).unwrap()
    }

    fn obs() -> &'static [&'static str] {
        TextField::Observations.path()
    }

    /// `update_text` with the device's clock reading `time`.
    fn write(doc: &mut Automerge, value: &str, time: i64) -> ChangeHash {
        doc.transact_with::<_, _, AutomergeError, _>(
            |_| CommitOptions::default().with_time(time),
            |tx| {
                let text = match tx.get(automerge::ROOT, "observations")? {
                    Some((Value::Object(ObjType::Text), id)) => id,
                    _ => tx.put_object(automerge::ROOT, "observations", ObjType::Text)?,
                };
                tx.update_text(&text, value)
            },
        )
        .unwrap()
        .hash
        .unwrap()
    }

    fn run(text: &str, actor: &ActorId, change: ChangeHash, time: i64) -> Run {
        Run {
            text: text.to_owned(),
            actor: actor.clone(),
            change,
            device_time: time,
        }
    }

    fn seg(text: &str, since: Since) -> Segment {
        Segment {
            text: text.to_owned(),
            since,
        }
    }

    fn joined(segments: &[Segment], kinds: &[Since]) -> String {
        segments
            .iter()
            .filter(|s| kinds.contains(&s.since))
            .map(|s| s.text.as_str())
            .collect()
    }

    fn observations(doc: &Automerge) -> String {
        let obj = crate::doc::text_at(doc, obs()).unwrap().unwrap();
        doc.text(&obj).unwrap()
    }

    /// Two devices type into one paragraph at once, then the second
    /// replaces a word the first wrote.
    struct Story {
        doc: Automerge,
        d1: ActorId,
        d2: ActorId,
        first: ChangeHash,
        tidy: ChangeHash,
        today: ChangeHash,
        quiet: ChangeHash,
        after_first: Vec<ChangeHash>,
        merged: Vec<ChangeHash>,
    }

    fn story() -> Story {
        let (d1, d2) = (device_actor("d-1"), device_actor("d-2"));
        let mut a = visit();
        let first = write(&mut a, "Sam was calm.", 1_000);
        let after_first = a.get_heads();
        let mut b = a.fork().with_actor(d2.clone());
        let tidy = write(&mut a, "Sam was calm and tidy.", 2_000);
        let today = write(&mut b, "Today Sam was calm.", 3_000);
        a.merge(&mut b).unwrap();
        let merged = a.get_heads();
        let mut b = a.fork().with_actor(d2.clone());
        let quiet = write(&mut b, "Today Sam was quiet and tidy.", 4_000);
        a.merge(&mut b).unwrap();
        Story {
            doc: a,
            d1,
            d2,
            first,
            tidy,
            today,
            quiet,
            after_first,
            merged,
        }
    }

    #[test]
    fn authorship_tells_concurrent_typists_apart_by_character() {
        let s = story();
        assert_eq!(observations(&s.doc), "Today Sam was quiet and tidy.");
        let runs = authorship(&s.doc, obs(), None).unwrap();
        assert_eq!(
            runs,
            vec![
                run("Today ", &s.d2, s.today, 3_000),
                run("Sam was ", &s.d1, s.first, 1_000),
                run("quiet", &s.d2, s.quiet, 4_000),
                run(" and tidy", &s.d1, s.tidy, 2_000),
                run(".", &s.d1, s.first, 1_000),
            ]
        );
    }

    #[test]
    fn authorship_at_older_heads_keeps_words_deleted_since() {
        let s = story();
        assert_eq!(
            authorship(&s.doc, obs(), Some(&s.merged)).unwrap(),
            vec![
                run("Today ", &s.d2, s.today, 3_000),
                run("Sam was calm", &s.d1, s.first, 1_000),
                run(" and tidy", &s.d1, s.tidy, 2_000),
                run(".", &s.d1, s.first, 1_000),
            ]
        );
        assert_eq!(
            authorship(&s.doc, obs(), Some(&s.after_first)).unwrap(),
            vec![run("Sam was calm.", &s.d1, s.first, 1_000)]
        );
        assert_eq!(authorship(&s.doc, obs(), Some(&[])).unwrap(), vec![]);
    }

    #[test]
    fn authorship_of_no_text_is_empty() {
        let s = story();
        assert_eq!(authorship(&s.doc, &["nowhere"], None).unwrap(), vec![]);
        assert_eq!(authorship(&s.doc, &["case_id"], None).unwrap(), vec![]);
        assert_eq!(authorship(&s.doc, &[], None).unwrap(), vec![]);
        assert_eq!(
            authorship(&s.doc, TextField::Analysis.path(), None).unwrap(),
            vec![]
        );
    }

    #[test]
    fn runs_add_up_to_the_text_with_block_markers_and_marks() {
        let mut doc = visit();
        write(&mut doc, "Sam, calm.", 1_000);
        doc.transact::<_, _, AutomergeError>(|tx| {
            let Some((_, text)) = tx.get(automerge::ROOT, "observations")? else {
                return Err(AutomergeError::Fail);
            };
            tx.split_block(&text, 4)?;
            tx.mark(
                &text,
                automerge::marks::Mark::new("bold".into(), true, 0, 3),
                automerge::marks::ExpandMark::None,
            )?;
            // A mark whose value is the very letter it starts before.
            tx.mark(
                &text,
                automerge::marks::Mark::new("link".into(), "c", 6, 10),
                automerge::marks::ExpandMark::Both,
            )
        })
        .unwrap();
        let now: String = authorship(&doc, obs(), None)
            .unwrap()
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(now, "Sam,\u{fffc} calm.");
        assert_eq!(now, observations(&doc));
        let added: String = as_at(&doc, obs(), &[])
            .unwrap()
            .iter()
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(added, now);
    }

    #[test]
    fn unknown_heads_are_refused() {
        let s = story();
        let stranger = write(&mut visit().with_actor(device_actor("d-9")), "x", 5);
        assert!(authorship(&s.doc, obs(), Some(&[stranger])).is_err());
        assert!(as_at(&s.doc, obs(), &[stranger]).is_err());
    }

    #[test]
    fn heads_where_between_two_edits_is_the_first_edit() {
        let mut doc = visit();
        let created = doc.get_heads()[0];
        let one = write(&mut doc, "First.", 1_000);
        let first = doc.get_heads();
        let two = write(&mut doc, "First. Second.", 2_000);
        // The server's receipt times, looked up by hash as it does.
        let receipt = HashMap::from([(created, 100), (one, 1_000), (two, 2_000)]);
        let at = |t: i64| heads_where(&doc, |c| receipt.get(&c.hash).is_some_and(|r| *r <= t));
        assert_eq!(at(1_500), first);
        assert_eq!(at(2_000), doc.get_heads());
        assert_eq!(at(99), Vec::<ChangeHash>::new());
        // The device's own clock serves as well, when it is to be believed.
        assert_eq!(
            heads_where(&doc, |c| c.hash == created || c.timestamp <= 1_500),
            first
        );
        assert_eq!(
            doc.fork_at(&first).unwrap().get_heads(),
            first,
            "a state the document passed through"
        );
    }

    #[test]
    fn heads_where_excludes_what_depends_on_an_excluded_change() {
        // The server's view: included when its receipt time is <= T.
        let mut a = visit();
        let created = a.get_heads();
        let mut b = a.fork().with_actor(device_actor("d-2"));
        let late = write(&mut a, "Arrived late.", 1_000);
        let after = write(&mut a, "Arrived late. Then this.", 2_000);
        let beside = write(&mut b, "Written beside.", 1_500);
        a.merge(&mut b).unwrap();
        let receipt: HashMap<ChangeHash, i64> = a
            .get_changes_meta(&[])
            .iter()
            .map(|c| {
                let at = match c.hash {
                    h if h == late => 900,
                    h if h == after || h == beside => 100,
                    _ => 0,
                };
                (c.hash, at)
            })
            .collect();
        let at = |t: i64| heads_where(&a, |c| receipt.get(&c.hash).is_some_and(|r| *r <= t));
        // `after` arrived before `late`, which it depends on: not yet a state.
        assert_eq!(at(100), vec![beside]);
        assert_eq!(at(0), created);
        assert_eq!(at(900), a.get_heads());
    }

    #[test]
    fn as_at_shows_what_was_removed_and_added_since() {
        let mut doc = visit();
        write(&mut doc, "The cat sat.", 1_000);
        let then = doc.get_heads();
        write(&mut doc, "The dog sat down.", 2_000);
        let segments = as_at(&doc, obs(), &then).unwrap();
        assert_eq!(
            segments,
            vec![
                seg("The ", Since::Same),
                seg("cat", Since::Removed),
                seg("dog", Since::Added),
                seg(" sat", Since::Same),
                seg(" down", Since::Added),
                seg(".", Since::Same),
            ]
        );
        assert_eq!(
            joined(&segments, &[Since::Same, Since::Removed]),
            "The cat sat."
        );
        assert_eq!(
            joined(&segments, &[Since::Same, Since::Added]),
            "The dog sat down."
        );
        assert_eq!(
            as_at(&doc, obs(), &doc.get_heads()).unwrap(),
            vec![seg("The dog sat down.", Since::Same)]
        );
    }

    #[test]
    fn as_at_knows_a_retyped_word_from_one_left_alone() {
        let mut doc = visit();
        write(&mut doc, "He said no.", 1_000);
        let then = doc.get_heads();
        write(&mut doc, "He said.", 2_000);
        write(&mut doc, "He said no.", 3_000);
        assert_eq!(
            as_at(&doc, obs(), &then).unwrap(),
            vec![
                seg("He said", Since::Same),
                seg(" no", Since::Removed),
                seg(" no", Since::Added),
                seg(".", Since::Same),
            ]
        );
    }

    #[test]
    fn as_at_across_a_merge_keeps_both_texts_whole() {
        let s = story();
        let segments = as_at(&s.doc, obs(), &s.after_first).unwrap();
        assert_eq!(
            joined(&segments, &[Since::Same, Since::Removed]),
            "Sam was calm."
        );
        assert_eq!(
            joined(&segments, &[Since::Same, Since::Added]),
            "Today Sam was quiet and tidy."
        );
    }

    #[test]
    fn as_at_a_text_that_did_not_exist_then_is_all_added() {
        let mut doc = visit();
        let then = doc.get_heads();
        put_in_map(&mut doc, &[], "actions", "a-1", Action::new()).unwrap();
        update_text(&mut doc, &["actions", "a-1", "text"], "Call the GP").unwrap();
        assert_eq!(
            as_at(&doc, &["actions", "a-1", "text"], &then).unwrap(),
            vec![seg("Call the GP", Since::Added)]
        );
        assert_eq!(
            as_at(&doc, &["actions", "a-9", "text"], &then).unwrap(),
            vec![]
        );
        assert_eq!(
            as_at(&doc, obs(), &[]).unwrap(),
            vec![],
            "an empty text now and nothing then"
        );
    }
}
