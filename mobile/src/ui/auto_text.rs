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
use fieldvisit_shared::records::capacity::{CapacityDoc, CapacityText};
use fieldvisit_shared::records::concern::{ConcernDoc, ConcernText};

use super::sync_indicator::Typed;
use super::use_core;
use crate::core::{TextOf, platform};

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

/// What a text box edits: the text, and how to read it from the record the
/// screen holds in a signal.
#[derive(Clone)]
pub struct Source {
    target: TextOf,
    /// With `true`, read without subscribing (the first value); with
    /// `false`, so that the box follows the record as sync changes it. A
    /// plain closure, not a `Callback`: those made while a screen renders
    /// stay until the screen goes, one more at every render.
    current: Rc<dyn Fn(bool) -> Option<String>>,
}

/// One text is one box: the screen's signal for it never changes.
impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.target == other.target
    }
}

impl Source {
    pub fn visit(
        visit_id: &str,
        text: VisitText,
        visit: impl Into<ReadSignal<Option<VisitDoc>>>,
    ) -> Source {
        let target = TextOf::Visit {
            visit_id: visit_id.to_owned(),
            text: text.clone(),
        };
        let current = reader(visit.into(), move |v| text.read(v).map(str::to_owned));
        Source { target, current }
    }

    pub fn concern(
        concern_id: &str,
        text: ConcernText,
        concern: impl Into<ReadSignal<Option<ConcernDoc>>>,
    ) -> Source {
        let target = TextOf::Concern {
            concern_id: concern_id.to_owned(),
            text,
        };
        let current = reader(concern.into(), move |c| Some(text.read(c).to_owned()));
        Source { target, current }
    }

    pub fn capacity(
        assessment_id: &str,
        text: CapacityText,
        assessment: impl Into<ReadSignal<Option<CapacityDoc>>>,
    ) -> Source {
        let target = TextOf::Capacity {
            assessment_id: assessment_id.to_owned(),
            text,
        };
        let current = reader(assessment.into(), move |a| Some(text.read(a).to_owned()));
        Source { target, current }
    }
}

fn reader<T: 'static>(
    record: ReadSignal<Option<T>>,
    read: impl Fn(&T) -> Option<String> + 'static,
) -> Rc<dyn Fn(bool) -> Option<String>> {
    Rc::new(move |peek: bool| {
        let held = if peek { record.peek() } else { record.read() };
        held.as_ref().and_then(&read)
    })
}

#[component]
pub fn AutoText(
    source: Source,
    /// The element id, also how its label refers to it.
    id: String,
    label: String,
    hint: Option<String>,
    #[props(default = true)] multiline: bool,
    /// Shown but not editable (a signed-off visit).
    #[props(default = false)]
    read_only: bool,
) -> Element {
    let core = use_core();
    let typed: Typed = use_context();
    let Source { target, current } = source;
    let initial = current(true).unwrap_or_default();
    let mut value = use_signal(|| initial);
    let draft = use_hook(|| Rc::new(Draft::default()));
    let mut error = use_signal(|| None::<String>);

    {
        let draft = draft.clone();
        use_effect(move || {
            if let Some(remote) = current(false)
                && !draft.unsaved.get()
                && *value.peek() != remote
            {
                value.set(remote);
            }
        });
    }

    let journal_key = target.journal_key();
    let oninput = {
        let (draft, target) = (draft.clone(), target.clone());
        move |e: FormEvent| {
            let text = e.value();
            // Durable before anything else happens: the page may go now.
            platform::journal::put(&journal_key, &text);
            typed.note();
            value.set(text.clone());
            *draft.latest.borrow_mut() = text;
            draft.unsaved.set(true);
            if draft.scheduled.replace(true) {
                return;
            }
            let core = core.get();
            let (draft, target) = (draft.clone(), target.clone());
            // Not tied to this screen: leaving it must not cancel the write.
            dioxus::core::spawn_forever(async move {
                platform::sleep(SAVE_AFTER).await;
                draft.scheduled.set(false);
                let saving = draft.latest.borrow().clone();
                let result = core.save(&target, &saving).await;
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
