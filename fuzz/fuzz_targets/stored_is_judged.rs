//! Differential: what samod stores of a message equals what the rules
//! judged, for any message a device could send.
//!
//! The input is read as the shape of a message (a byte per change: sent
//! once, twice, left out, broken by one flipped byte, or joined to the
//! chunk before it in one entry; and whether the whole document rides
//! along as a document chunk), then as the script of edits that makes the
//! changes (`common`). The message goes through `rules::judge` as the
//! server runs it. Findings:
//! - accepted, and the payload handed to samod, applied as samod applies a
//!   sync message, stores other changes than the ones judged, or leaves one
//!   waiting for a dependency;
//! - accepted, or refused for another reason than its chunks, though a
//!   chunk of it does not load;
//! - a dependency reported missing that the message did leave out.

#![no_main]

mod common;

use std::collections::HashSet;

use common::{Script, Setting};
use fieldvisit_sync_server::rules::{Judgement, decoded::DO_NOT_LOAD};
use libfuzzer_sys::fuzz_target;

/// How one change travels in the message.
enum Way {
    Once,
    Twice,
    LeftOut,
    /// One byte flipped, at this position (modulo its length).
    Broken(usize),
    /// In the same entry of the change list as the chunk before it.
    Joined,
}

fn way(byte: u8) -> Way {
    match byte % 8 {
        0..=2 => Way::Once,
        3 => Way::Twice,
        4 => Way::LeftOut,
        5 => Way::Broken(usize::from(byte / 8)),
        _ => Way::Joined,
    }
}

fuzz_target!(|bytes: &[u8]| {
    let mut s = Script(bytes);
    let shape: Vec<u8> = (0..8).map(|_| s.byte()).collect();
    let setting = Setting::read(&mut s);
    let Setting { before, after, .. } = &setting;
    let changes = after.get_changes(&before.get_heads());
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut broken = false;
    let mut left_out = HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        let bytes = change.raw_bytes().to_vec();
        match way(shape[i % shape.len()].wrapping_add(i as u8 / 8)) {
            Way::Once => entries.push(bytes),
            Way::Twice => {
                entries.push(bytes.clone());
                entries.push(bytes);
            }
            Way::LeftOut => {
                left_out.insert(change.hash());
            }
            Way::Broken(at) => {
                let mut bytes = bytes;
                let at = at % bytes.len();
                bytes[at] ^= 0x5a;
                broken = true;
                entries.push(bytes);
            }
            Way::Joined => match entries.last_mut() {
                Some(last) => last.extend_from_slice(&bytes),
                None => entries.push(bytes),
            },
        }
    }
    // The whole document as a document chunk: first, last, or not at all.
    let whole = shape[0] & 0x30;
    if whole == 0x10 {
        entries.insert(0, after.save());
    } else if whole == 0x20 {
        entries.push(after.save());
    }
    let carried_whole = whole == 0x10 || whole == 0x20;
    if entries.is_empty() {
        return;
    }
    let payload = automerge::sync::Message {
        heads: after.get_heads(),
        need: Vec::new(),
        have: Vec::new(),
        changes: entries.into(),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    }
    .encode();

    match setting.judge(&payload) {
        Judgement::Accept(accepted) => {
            assert!(
                !broken,
                "a message with a chunk that does not load was accepted"
            );
            common::assert_stores_what_was_judged(before, &accepted);
        }
        Judgement::Refuse(refusal) => {
            assert!(
                !broken || refusal.code == DO_NOT_LOAD,
                "a message with a broken chunk refused as {}, not {DO_NOT_LOAD}",
                refusal.code
            );
        }
        Judgement::MissingDeps(missing) => {
            assert!(!broken, "a broken chunk was not refused first");
            assert!(
                !carried_whole,
                "the whole document rode along: nothing is missing"
            );
            for hash in &missing {
                assert!(left_out.contains(hash), "{hash} reported missing but sent");
            }
        }
    }
});
