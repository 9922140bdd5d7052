//! A text box that saves itself. Each keystroke is written to the local
//! store within [`SAVE_AFTER`], while typing continues (not only after a
//! pause), with no save button; text arriving from sync is shown whenever
//! there is no unsaved typing in the box.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use dioxus::prelude::*;
use fieldvisit_shared::VisitDoc;
use fieldvisit_shared::records::VisitText;

use super::Core;
use crate::core::{DeviceCore, platform};

/// Longest a keystroke waits before it is written to the local store. In
/// the browser every keystroke is in the draft journal at once (see
/// `platform::journal`), so writes can be gathered; natively the store
/// itself is the only place, so each keystroke is written as it comes.
const SAVE_AFTER: Duration = if cfg!(target_arch = "wasm32") {
    Duration::from_millis(200)
} else {
    Duration::ZERO
};

/// What the box holds beyond what it shows. Not a signal: the write that
/// is under way must finish even if the screen has gone.
#[derive(Default)]
struct Draft {
    latest: RefCell<String>,
    scheduled: Cell<bool>,
    unsaved: Cell<bool>,
}

#[component]
pub fn AutoText(
    visit_id: String,
    text: VisitText,
    /// The element id, also how its label refers to it.
    id: String,
    label: String,
    hint: Option<String>,
    visit: Signal<Option<VisitDoc>>,
    #[props(default = true)] multiline: bool,
    /// Shown but not editable (a signed-off visit).
    #[props(default = false)]
    read_only: bool,
) -> Element {
    let core: Core = use_context();
    let initial = visit
        .peek()
        .as_ref()
        .and_then(|v| text.read(v).map(str::to_owned))
        .unwrap_or_default();
    let mut value = use_signal(|| initial);
    let draft = use_hook(|| Rc::new(Draft::default()));
    let mut error = use_signal(|| None::<String>);

    {
        let (draft, text) = (draft.clone(), text.clone());
        use_effect(move || {
            let remote = visit
                .read()
                .as_ref()
                .and_then(|v| text.read(v).map(str::to_owned));
            if let Some(remote) = remote
                && !draft.unsaved.get()
                && *value.peek() != remote
            {
                value.set(remote);
            }
        });
    }

    let journal_key = DeviceCore::draft_key(&visit_id, &text);
    let oninput = {
        let (draft, text, visit_id) = (draft.clone(), text.clone(), visit_id.clone());
        move |e: FormEvent| {
            let typed = e.value();
            // Durable before anything else happens: the page may go now.
            platform::journal::put(&journal_key, &typed);
            value.set(typed.clone());
            *draft.latest.borrow_mut() = typed;
            draft.unsaved.set(true);
            if draft.scheduled.replace(true) {
                return;
            }
            let Some(core) = core.peek().clone() else {
                return;
            };
            let (draft, text, visit_id) = (draft.clone(), text.clone(), visit_id.clone());
            // Not tied to this screen: leaving it must not cancel the write.
            dioxus::core::spawn_forever(async move {
                platform::sleep(SAVE_AFTER).await;
                draft.scheduled.set(false);
                let saving = draft.latest.borrow().clone();
                let result = core.save_text(&visit_id, text, &saving).await;
                if *draft.latest.borrow() == saving {
                    draft.unsaved.set(false);
                }
                let shown = match result {
                    Ok(()) => None,
                    Err(e) => {
                        tracing::error!(error = %e, "text not saved");
                        Some(format!("Not saved: {e}"))
                    }
                };
                // The screen may have gone; then there is nothing to show.
                if let Ok(mut slot) = error.try_write() {
                    *slot = shown;
                }
            });
        }
    };

    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = match (hint.is_some(), error.read().is_some()) {
        (true, true) => Some(format!("{hint_id} {error_id}")),
        (true, false) => Some(hint_id.clone()),
        (false, true) => Some(error_id.clone()),
        (false, false) => None,
    };

    rsx! {
        div { class: "field",
            label { r#for: "{id}", "{label}" }
            if let Some(h) = hint {
                p { id: "{hint_id}", class: "hint", "{h}" }
            }
            if multiline {
                textarea {
                    // Case text is never kept in the browser's saved form
                    // state (its session files outlive a wipe and a lock).
                    autocomplete: "off",
                    id: "{id}",
                    rows: "4",
                    readonly: read_only,
                    aria_describedby: described.clone(),
                    value: "{value}",
                    oninput: oninput.clone(),
                }
            } else {
                input {
                    autocomplete: "off",
                    id: "{id}",
                    r#type: "text",
                    readonly: read_only,
                    aria_describedby: described,
                    value: "{value}",
                    oninput,
                }
            }
            if let Some(why) = error() {
                p { id: "{error_id}", class: "error", role: "alert", "{why}" }
            }
        }
    }
}
