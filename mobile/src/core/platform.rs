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

/// The draft journal: text typed but perhaps not yet durable in the store,
/// kept where a synchronous write survives a reload, a closed tab or a
/// killed browser at once. In the browser the store's commits reach
/// IndexedDB a moment after they are made, and a page can go at any
/// keystroke, so every keystroke is written here first (`localStorage`,
/// synchronous) and removed only once the store has it durably. Natively
/// every store commit is fsynced and text is saved as it is typed, so the
/// journal is empty.
/// Every value is sealed under the device's data key (bound to its draft's
/// name), like the store: `localStorage` is a plain file in the profile.
pub mod journal {
    use std::sync::Arc;

    use crate::core::vault::DataKey;

    #[cfg(target_arch = "wasm32")]
    const PREFIX: &str = "fieldvisit.draft.";

    #[cfg(target_arch = "wasm32")]
    thread_local! {
        static KEY: std::cell::RefCell<Option<Arc<DataKey>>> = const { std::cell::RefCell::new(None) };
    }

    /// The data key, once the PIN has opened it.
    pub fn unlock(key: Arc<DataKey>) {
        #[cfg(target_arch = "wasm32")]
        KEY.with(|k| *k.borrow_mut() = Some(key));
        #[cfg(not(target_arch = "wasm32"))]
        let _ = key;
    }

    #[cfg(target_arch = "wasm32")]
    fn storage() -> Option<web_sys::Storage> {
        web_sys::window()?.local_storage().ok()?
    }

    #[cfg(target_arch = "wasm32")]
    fn sealed(key: &str, value: &str) -> Option<String> {
        KEY.with(|k| {
            let k = k.borrow();
            Some(
                k.as_ref()?
                    .seal_text(format!("journal:{key}").as_bytes(), value),
            )
        })
    }

    #[cfg(target_arch = "wasm32")]
    fn opened(key: &str, stored: &str) -> Option<String> {
        KEY.with(|k| {
            let k = k.borrow();
            k.as_ref()?
                .open_text(format!("journal:{key}").as_bytes(), stored)
                .ok()
                .map(|mut plain| std::mem::take(&mut *plain))
        })
    }

    /// Records `value` as the latest text of `key`, synchronously.
    pub fn put(key: &str, value: &str) {
        #[cfg(target_arch = "wasm32")]
        if let (Some(s), Some(sealed)) = (storage(), sealed(key, value))
            && s.set_item(&format!("{PREFIX}{key}"), &sealed).is_err()
        {
            tracing::error!("the draft journal is full; typing is saved a moment later");
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (key, value);
    }

    /// Forgets `key`, when the store holds `value` durably and nothing newer
    /// was typed since.
    pub fn settle(key: &str, value: &str) {
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = storage() {
            let name = format!("{PREFIX}{key}");
            let stored = s.get_item(&name).ok().flatten();
            if stored.and_then(|v| opened(key, &v)).as_deref() == Some(value) {
                let _ = s.remove_item(&name);
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (key, value);
    }

    /// Forgets every draft (a wipe).
    pub fn clear() {
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = storage() {
            let n = s.length().unwrap_or(0);
            let names: Vec<String> = (0..n)
                .filter_map(|i| s.key(i).ok().flatten())
                .filter(|name| name.starts_with(PREFIX))
                .collect();
            for name in names {
                let _ = s.remove_item(&name);
            }
        }
    }

    /// Every draft: (key, value).
    pub fn entries() -> Vec<(String, String)> {
        #[cfg(target_arch = "wasm32")]
        {
            let Some(s) = storage() else {
                return Vec::new();
            };
            let n = s.length().unwrap_or(0);
            (0..n)
                .filter_map(|i| s.key(i).ok().flatten())
                .filter_map(|name| {
                    let key = name.strip_prefix(PREFIX)?.to_owned();
                    let stored = s.get_item(&name).ok().flatten()?;
                    let value = opened(&key, &stored)?;
                    Some((key, value))
                })
                .collect()
        }
        #[cfg(not(target_arch = "wasm32"))]
        Vec::new()
    }
}

/// Resolves once every store commit made so far is durable: in the
/// browser, once the IndexedDB VFS has written them; natively at once
/// (commits are fsynced as they are made).
pub async fn store_durable() {
    #[cfg(target_arch = "wasm32")]
    super::browser::store_durable().await;
}

/// Makes the photo to store from what the camera or gallery gave: natively
/// with `fieldvisit_shared::photo`; in a browser with the browser's own
/// decoder (`browser_photo`), checked the same way.
pub async fn process_photo(
    original: &[u8],
) -> Result<fieldvisit_shared::photo::Processed, fieldvisit_shared::photo::PhotoError> {
    #[cfg(target_arch = "wasm32")]
    {
        super::browser_photo::process(original).await
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        fieldvisit_shared::photo::process(original)
    }
}
