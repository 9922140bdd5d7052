//! Unlock: the PIN opens the device's store (its data key is wrapped under
//! it), on every start. Nothing of a case shows before.

use dioxus::prelude::*;

use super::{Core, store_dir, take_core};
use crate::{CoreError, DeviceCore};

#[component]
pub fn Unlock(on_forgotten: EventHandler<()>) -> Element {
    let core: Core = use_context();
    let mut pin = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let mut lost = use_signal(|| false);

    let submit = move |e: FormEvent| async move {
        e.prevent_default();
        if busy() {
            return;
        }
        busy.set(true);
        error.set(None);
        let opened = DeviceCore::open(&store_dir(), &pin.read()).await;
        busy.set(false);
        match opened {
            Ok(Some(opened)) => take_core(core, opened),
            Ok(None) => on_forgotten.call(()),
            Err(CoreError::WrongPin { left, unsent }) => {
                pin.set(String::new());
                error.set(Some(wrong_pin(left, unsent)));
            }
            Err(CoreError::WipedAfterWrongPins) => {
                let reloading = super::browser::start_over(
                    "Five wrong PINs in a row: everything this device stored has been deleted. Records that had synced are safe with your practice. Ask your practice admin for a new code to sign in again.",
                );
                if !reloading {
                    on_forgotten.call(());
                }
            }
            Err(CoreError::PlatformKeyLost) => {
                pin.set(String::new());
                lost.set(true);
            }
            Err(e) => error.set(Some(format!("The app could not be unlocked: {e}"))),
        }
    };

    if lost() {
        return rsx! {
            h1 { "This device can no longer open its records" }
            p { role: "alert",
                "The key this browser kept for Fieldvisit is gone (its site data was cleared), so what this device stored cannot be opened with any PIN. Nothing was counted as a wrong PIN."
            }
            p {
                "What had synced is safe with your practice. Ask your practice admin for a new code and sign in again: signing in deletes what is left here."
            }
            if let Some(why) = error() {
                p { class: "error", role: "alert", "{why}" }
            }
            button {
                class: "primary",
                onclick: move |_| async move {
                    match DeviceCore::discard(&store_dir()).await {
                        Ok(()) => on_forgotten.call(()),
                        Err(e) => error.set(Some(format!("What is left could not be deleted: {e}"))),
                    }
                },
                "Sign in with a new code"
            }
        };
    }

    rsx! {
        h1 { "Unlock Fieldvisit" }
        form { class: "stack", onsubmit: submit,
            label { r#for: "unlock-pin", "Your PIN" }
            input {
                id: "unlock-pin",
                r#type: "password",
                inputmode: "numeric",
                autocomplete: "current-password",
                value: "{pin}",
                oninput: move |e| pin.set(e.value()),
            }
            if let Some(why) = error() {
                p { class: "error", role: "alert", "{why}" }
            }
            button { class: "primary", r#type: "submit", disabled: busy(),
                if busy() { "Unlocking…" } else { "Unlock" }
            }
        }
        p { class: "quiet",
            "Forgot your PIN? Ask your practice admin for a new code and sign in again: what this device had synced is safe with your practice; anything it had not sent cannot be read without the PIN."
        }
    }
}

/// What a wrong PIN says: the tries left, and before the last one, what a
/// wipe would lose.
fn wrong_pin(left: u32, unsent: Option<u64>) -> String {
    match left {
        1 => {
            let lost =
                match unsent {
                    Some(0) => "Everything on it had reached your practice when it last checked."
                        .to_owned(),
                    Some(n) => format!(
                        "It holds {n} change{} your practice does not have yet: {} lost.",
                        if n == 1 { "" } else { "s" },
                        if n == 1 {
                            "it would be"
                        } else {
                            "they would be"
                        }
                    ),
                    None => "What it holds that your practice does not have yet would be lost."
                        .to_owned(),
                };
            format!(
                "That PIN is not this device's. One more wrong PIN deletes everything this device stores. {lost}"
            )
        }
        n => format!("That PIN is not this device's. {n} tries left."),
    }
}
