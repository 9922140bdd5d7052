//! Which connection's sync state a document actor is working on, so that a
//! panic there can be pinned on the peer whose message caused it (patched
//! in by Fieldvisit). Set before automerge takes a peer's message or
//! answers a peer, cleared after; after a panic it still names the peer.

use std::cell::Cell;

use crate::ConnectionId;

thread_local! {
    static CURRENT: Cell<Option<ConnectionId>> = const { Cell::new(None) };
}

pub fn set(connection: Option<ConnectionId>) {
    CURRENT.with(|c| c.set(connection));
}

/// The connection being worked on when the current step stopped, and
/// forgets it.
pub fn take() -> Option<ConnectionId> {
    CURRENT.with(|c| c.take())
}
