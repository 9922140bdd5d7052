//! The device core's browser parts: samod's runtime on the page's event
//! loop, the WebSocket transport, and the SQLite VFS over IndexedDB.
//!
//! The page has one thread, so values that JavaScript owns (`WebSocket`,
//! closures) never leave the task that made them; samod sees only `Send`
//! channels. [`send_wrapper::SendWrapper`] marks futures that samod's API
//! requires to be `Send` but that only ever run on this one thread.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};
use samod::Transport;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use super::CoreError;

#[derive(Clone, Copy, Debug, Default)]
pub struct BrowserRuntime;

impl samod::runtime::RuntimeHandle for BrowserRuntime {
    fn spawn(&self, f: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        wasm_bindgen_futures::spawn_local(f);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(SendWrapper::new(gloo_timers::future::sleep(duration)))
    }
}

/// Registers the IndexedDB-backed SQLite VFS as the default, once per page.
/// Every database file is read into memory here, so it is awaited before
/// the first connection opens.
pub async fn install_store() -> Result<(), CoreError> {
    use sqlite_wasm_vfs::relaxed_idb::{RelaxedIdbCfg, install};
    if STORE.with(|s| s.borrow().is_some()) {
        return Ok(());
    }
    let util = install::<sqlite_wasm_rs::WasmOsCallback>(&RelaxedIdbCfg::default(), true)
        .await
        .map_err(|e| CoreError::Files(format!("the browser's storage is not available: {e}")))?;
    STORE.with(|s| *s.borrow_mut() = Some(util));
    Ok(())
}

thread_local! {
    static STORE: std::cell::RefCell<Option<sqlite_wasm_vfs::relaxed_idb::RelaxedIdbUtil>> =
        const { std::cell::RefCell::new(None) };
}

/// The name of a file that never exists, deleted to wait for the VFS.
const BARRIER: &str = "fieldvisit-durability-barrier";

/// Resolves once every commit made so far has reached IndexedDB. The VFS
/// writes commits to IndexedDB one after another in the order they were
/// made and offers no flush; deleting a file that does not exist queues
/// behind them and tells when it is done, which is the barrier we need.
pub async fn store_durable() {
    let wait = STORE.with(|s| s.borrow().as_ref().map(|u| u.delete_db(BARRIER)));
    match wait {
        Some(Ok(wait)) => {
            if let Err(e) = wait.await {
                tracing::error!(error = %e, "the browser's storage did not confirm a write");
            }
        }
        Some(Err(e)) => tracing::error!(error = %e, "the browser's storage is not available"),
        None => {}
    }
}

/// Deletes every file of the store from IndexedDB (a revoked device's
/// wipe), and waits until IndexedDB has done it.
pub async fn delete_store() -> Result<(), CoreError> {
    let wait = STORE.with(|s| s.borrow().as_ref().map(|u| u.clear_all()));
    let failed =
        |e: String| CoreError::Files(format!("the browser's storage could not be cleared: {e}"));
    match wait {
        Some(Ok(wait)) => wait.await.map_err(|e| failed(e.to_string())),
        Some(Err(e)) => Err(failed(e.to_string())),
        None => Ok(()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the sync connection closed: {0}")]
pub struct SocketClosed(String);

/// Opens a binary WebSocket and returns it as a samod [`Transport`] once it
/// is open. A task on the page owns the socket: it sends what samod queues
/// and ends, closing the socket, when samod drops the transport.
pub async fn connect_websocket(url: &str) -> Result<Transport, String> {
    let socket = WebSocket::new(url).map_err(|e| format!("{e:?}"))?;
    socket.set_binary_type(BinaryType::Arraybuffer);

    let (inbound_tx, inbound_rx) = mpsc::unbounded::<Result<Vec<u8>, SocketClosed>>();
    let (outbound_tx, mut outbound_rx) = mpsc::unbounded::<Vec<u8>>();
    let (opened_tx, opened_rx) = oneshot::channel::<Result<(), String>>();
    let opened_tx = Rc::new(Cell::new(Some(opened_tx)));
    // The browser fires both `error` and `close`; whichever comes first ends
    // the connection, once.
    let finished = Rc::new(Cell::new(false));

    let on_open = {
        let opened_tx = opened_tx.clone();
        Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(tx) = opened_tx.take() {
                let _ = tx.send(Ok(()));
            }
        })
    };
    let on_message = {
        let inbound_tx = inbound_tx.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(buffer) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                let _ = inbound_tx.unbounded_send(Ok(bytes));
            }
        })
    };
    let end = {
        let opened_tx = opened_tx.clone();
        let finished = finished.clone();
        let inbound_tx = inbound_tx.clone();
        move |why: String| {
            if finished.replace(true) {
                return;
            }
            if let Some(tx) = opened_tx.take() {
                let _ = tx.send(Err(why.clone()));
            }
            let _ = inbound_tx.unbounded_send(Err(SocketClosed(why)));
            inbound_tx.close_channel();
        }
    };
    let on_close = {
        let end = end.clone();
        Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            if e.code() != 1000 {
                tracing::warn!(code = e.code(), reason = %e.reason(), "server closed the sync connection");
            }
            end(format!("closed ({} {})", e.code(), e.reason()));
        })
    };
    let on_error = Closure::<dyn FnMut(Event)>::new(move |_| end("network error".into()));

    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    let owner = socket.clone();
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(bytes) = outbound_rx.next().await {
            if owner.send_with_u8_array(&bytes).is_err() {
                break;
            }
        }
        owner.set_onopen(None);
        owner.set_onmessage(None);
        owner.set_onclose(None);
        owner.set_onerror(None);
        let _ = owner.close();
        drop((on_open, on_message, on_close, on_error));
    });

    match opened_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(why),
        Err(_) => return Err("the connection attempt was abandoned".into()),
    }
    let sink = outbound_tx.sink_map_err(|e| SocketClosed(e.to_string()));
    Ok(Transport::new(inbound_rx, sink))
}

/// Whether the browser believes it has a network at all.
pub fn browser_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}
