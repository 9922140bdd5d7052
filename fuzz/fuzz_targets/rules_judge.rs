//! The record rules, as the server runs them on every message that carries
//! changes (`rules::judge`: decoded once, `first_look`, then `judge_copy`),
//! given changes a device with a valid enrolment could really send. Random
//! bytes seldom make an automerge change (each carries a checksum), so the
//! input is read as a script of edits that this harness makes through
//! automerge's own API on a copy of a stored record (`common`): puts,
//! nested objects, text splices, deletions, list inserts and commits, on the
//! record's own keys and on keys it does not have, by a worker, a
//! supervisor, a reviewer or an admin, under the device's actor or another.
//!
//! Findings: a panic (the server contains one by refusing the message as
//! `malformed_changes`, but these changes are well formed, so it would
//! refuse what a real device could send); a missing dependency (the message
//! carries every change it builds on); a reviewer's change accepted (a
//! reviewer writes nothing); and an accepted message whose payload for samod
//! stores other changes than the ones judged.

#![no_main]

mod common;

use common::{Script, Setting};
use fieldvisit_shared::api::Role;
use fieldvisit_sync_server::rules::{self, Judgement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut s = Script(bytes);
    let setting = Setting::read(&mut s);
    let Setting {
        role,
        before,
        after,
        ..
    } = &setting;
    let payload = rules::changes_message(before, after);
    let wrote_something = !after.get_changes(&before.get_heads()).is_empty();
    match setting.judge(&payload) {
        Judgement::MissingDeps(missing) => panic!("missing dependencies {missing:?}"),
        Judgement::Accept(accepted) => {
            assert!(
                !(wrote_something && *role == Role::Reviewer),
                "a reviewer's change was accepted"
            );
            common::assert_stores_what_was_judged(before, &accepted);
        }
        Judgement::Refuse(_) => {}
    }
});
