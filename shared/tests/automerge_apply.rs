//! automerge 0.12 is vendored with patches (vendor/README.md, 10 and 11):
//! applying changes without a patch log neither builds the values a patch
//! log would have been given nor walks a text before the first element the
//! changes touch. Applying with an active log runs the code as
//! published, so the two must leave the same document behind, whatever the
//! changes: these tests hold one to the other on random concurrent editing
//! of text (with marks), a list, a map and a counter by three devices, and
//! both to a document loaded whole from every change.

use automerge::marks::{ExpandMark, Mark};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, Automerge, ObjId, ObjType, PatchLog, ROOT, ReadDoc};

/// xorshift64: the same edits on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

struct Objects {
    text: ObjId,
    list: ObjId,
}

fn objects(doc: &AutoCommit) -> Objects {
    let id = |key: &str| match doc.get(ROOT, key) {
        Ok(Some((_, id))) => id,
        other => panic!("{key} missing: {other:?}"),
    };
    Objects {
        text: id("observations"),
        list: id("actions"),
    }
}

/// One random edit of the kind a device makes, within what the document
/// holds now.
fn edit(doc: &mut AutoCommit, o: &Objects, rng: &mut Rng, word: usize) {
    let len = doc.length(&o.text);
    match rng.below(10) {
        0..=3 => {
            let at = rng.below(len + 1);
            doc.splice_text(&o.text, at, 0, &format!("w{word} "))
                .unwrap();
        }
        4 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(4));
            doc.splice_text(&o.text, at, n as isize, "").unwrap();
        }
        5 if len > 1 => {
            let start = rng.below(len - 1);
            let end = start + 1 + rng.below(len - start - 1);
            let expand = [ExpandMark::After, ExpandMark::Both, ExpandMark::None][rng.below(3)];
            let mark = Mark::new("bold".to_owned(), true, start, end);
            doc.mark(&o.text, mark, expand).unwrap();
        }
        6 => {
            let n = doc.length(&o.list);
            doc.insert(&o.list, rng.below(n + 1), format!("action {word}"))
                .unwrap();
        }
        7 if doc.length(&o.list) > 0 => {
            let n = doc.length(&o.list);
            let at = rng.below(n);
            if rng.below(2) == 0 {
                doc.delete(&o.list, at).unwrap();
            } else {
                doc.put(&o.list, at, format!("changed {word}")).unwrap();
            }
        }
        8 => doc.increment(ROOT, "visits", 1).unwrap(),
        _ => {
            let key = ["mood", "place", "next"][rng.below(3)];
            if rng.below(4) == 0 {
                doc.delete(ROOT, key).unwrap();
            } else {
                doc.put(ROOT, key, format!("{key} {word}")).unwrap();
            }
        }
    }
}

fn state(doc: &Automerge) -> (Vec<automerge::ChangeHash>, String, String) {
    let text = match doc.get(ROOT, "observations") {
        Ok(Some((_, id))) => doc.text(&id).unwrap(),
        other => panic!("observations missing: {other:?}"),
    };
    let mut heads = doc.get_heads();
    heads.sort();
    let whole = serde_json::to_string(&automerge::AutoSerde::from(doc)).unwrap();
    (heads, text, whole)
}

/// Three devices edit concurrently and swap changes now and then; a server
/// takes every change as it comes, in messages of one or several, once
/// with no patch log (the patched path) and once with an active one.
fn run(seed: u64, rounds: usize) {
    let mut rng = Rng(seed);
    let mut first = AutoCommit::new().with_actor(ActorId::from(b"device-0".as_slice()));
    first
        .put_object(ROOT, "observations", ObjType::Text)
        .unwrap();
    first.put_object(ROOT, "actions", ObjType::List).unwrap();
    first
        .put(ROOT, "visits", automerge::ScalarValue::counter(0))
        .unwrap();
    first.commit();
    let mut fork = |n: u8| {
        let actor = format!("device-{n}");
        first.fork().with_actor(ActorId::from(actor.as_bytes()))
    };
    let (second, third) = (fork(1), fork(2));
    let mut devices = [first, second, third];

    let mut quiet = Automerge::new();
    let mut logged = Automerge::new();
    let mut every_change = Vec::new();
    let mut sent = vec![Vec::new(); devices.len()];
    let mut word = 0;
    for _ in 0..rounds {
        let d = rng.below(devices.len());
        let o = objects(&devices[d]);
        for _ in 0..1 + rng.below(3) {
            word += 1;
            edit(&mut devices[d], &o, &mut rng, word);
            if rng.below(2) == 0 {
                devices[d].commit();
            }
        }
        devices[d].commit();
        // The device sends the server what it has not sent yet.
        if rng.below(3) > 0 {
            let changes = devices[d].get_changes(&sent[d]);
            sent[d] = devices[d].get_heads();
            let bytes: Vec<u8> = changes
                .iter()
                .flat_map(|c| c.raw_bytes().to_vec())
                .collect();
            every_change.extend(changes.iter().map(|c| c.raw_bytes().to_vec()));
            quiet.load_incremental(&bytes).unwrap();
            logged
                .load_incremental_log_patches(&bytes, &mut PatchLog::active())
                .unwrap();
            assert_eq!(state(&quiet), state(&logged), "seed {seed}");
        }
        // Now and then two devices sync with each other directly.
        if rng.below(4) == 0 {
            let (a, b) = (rng.below(devices.len()), rng.below(devices.len()));
            if a != b {
                let have = devices[a].get_heads();
                let theirs = devices[b].get_changes(&have);
                devices[a].apply_changes(theirs).unwrap();
            }
        }
    }
    assert_eq!(quiet.save(), logged.save(), "seed {seed}");
    let mut whole = Automerge::new();
    whole.load_incremental(&every_change.concat()).unwrap();
    assert_eq!(state(&whole), state(&quiet), "seed {seed}");
    let reloaded = Automerge::load(&quiet.save()).unwrap();
    assert_eq!(state(&reloaded), state(&quiet), "seed {seed}");
}

#[test]
fn applying_without_a_patch_log_leaves_the_document_applying_with_one_does() {
    for seed in 1..=40u64 {
        run(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15), 120);
    }
}

#[test]
fn a_longer_history_the_same() {
    // The server's case: a note that grows for a long time, a few changes
    // per message.
    run(0xDEAD_BEEF, 600);
}
