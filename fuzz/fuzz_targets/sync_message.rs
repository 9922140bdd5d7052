//! One inbound sync message, as a hostile device would send it: the repo
//! envelope and the sync payload go through the server's own checks
//! (`wire::inspect`, which runs `payload::check`), and whatever passes is
//! applied to a real automerge document and answered, as samod's document
//! actor does. A panic there is contained by the server (samod runs each
//! actor step under `catch_unwind`, patch 4 in vendor/README.md) and is
//! caught here the same way; what the fuzzer reports is what would still
//! take the server down: an abort, an allocation past the limit, a hang.

#![no_main]

use std::sync::Once;

use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use fieldvisit_sync_server::sync::{payload, wire};
use libfuzzer_sys::fuzz_target;

const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// A small visit-like document with some history, to sync against.
fn document() -> Automerge {
    let mut doc = Automerge::new();
    let _ = doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        let text = tx.put_object(ROOT, "observations", automerge::ObjType::Text)?;
        tx.splice_text(&text, 0, 0, "She hummed the tune again.")?;
        tx.put(ROOT, "schema", 1)?;
        Ok(())
    });
    doc
}

fn quiet_panics() {
    static ONCE: Once = Once::new();
    // libfuzzer-sys aborts on any panic; the server contains them, so a
    // contained panic is not a finding. Aborts still are.
    ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

fuzz_target!(|bytes: &[u8]| {
    quiet_panics();
    let limits = payload::Limits::default();
    let Ok(inbound) = wire::inspect(bytes, MAX_MESSAGE_BYTES, &limits) else {
        return;
    };
    if inbound.kind != "sync" && inbound.kind != "request" {
        return;
    }
    // The payload that passed, exactly as samod would take it.
    let Some(data) = wire::sync_payload(bytes) else {
        return;
    };
    let Ok(message) = Message::decode(data) else {
        return;
    };
    let _ = std::panic::catch_unwind(move || {
        let mut doc = document();
        let mut state = State::new();
        if doc.receive_sync_message(&mut state, message).is_ok() {
            let _ = doc.generate_sync_message(&mut state);
        }
    });
});

