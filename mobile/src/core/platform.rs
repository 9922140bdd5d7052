//! The few things that differ between running natively (on tokio) and in a
//! browser page (one thread, the page's event loop): spawning a task,
//! waiting, and how hard the local store can push a commit to disk.

use std::future::Future;
use std::time::Duration;

use fieldvisit_sqlite_store::Durability;

#[cfg(not(target_arch = "wasm32"))]
pub fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(task);
}

#[cfg(target_arch = "wasm32")]
pub fn spawn(task: impl Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(task);
}

#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

#[cfg(target_arch = "wasm32")]
pub async fn sleep(duration: Duration) {
    gloo_timers::future::sleep(duration).await;
}

/// `Some(output)`, or `None` when `duration` passed first.
pub async fn timeout<F: Future>(duration: Duration, work: F) -> Option<F::Output> {
    use futures::FutureExt;
    let work = std::pin::pin!(work.fuse());
    let timer = std::pin::pin!(sleep(duration).fuse());
    match futures::future::select(work, timer).await {
        futures::future::Either::Left((out, _)) => Some(out),
        futures::future::Either::Right(_) => None,
    }
}

/// Natively every commit is fsynced; in the browser the IndexedDB VFS
/// decides (see [`Durability::Browser`]).
pub const DURABILITY: Durability = if cfg!(target_arch = "wasm32") {
    Durability::Browser
} else {
    Durability::Full
};
