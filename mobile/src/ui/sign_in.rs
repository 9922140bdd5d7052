//! Sign in: the practice's server and the one-time code an admin issued.
//! The code is exchanged for this device's own token, kept in the local
//! store; the code itself is spent.

use dioxus::prelude::*;
use fieldvisit_shared::api::ErrorCode;

use super::{Core, Route, browser, navigate, store_dir, take_core};
use crate::DeviceCore;

#[component]
pub fn SignIn() -> Element {
    let core: Core = use_context();
    let mut server = use_signal(|| browser::origin().unwrap_or_default());
    let mut code = use_signal(String::new);
    let mut label = use_signal(|| "My phone".to_string());
    let mut pin = use_signal(String::new);
    let mut pin_again = use_signal(String::new);
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let notice = use_hook(browser::take_notice);

    let submit = move |e: FormEvent| async move {
        e.prevent_default();
        if busy() {
            return;
        }
        let code_now = code.read().trim().to_uppercase();
        if code_now.is_empty() {
            error.set(Some(
                "Enter the enrolment code your practice admin gave you.".into(),
            ));
            return;
        }
        if *pin.read() != *pin_again.read() {
            error.set(Some("The two PINs are not the same. Type it again.".into()));
            return;
        }
        if let Err(why) = crate::core::vault::pin_acceptable(&pin.read()) {
            error.set(Some(format!("Choose another PIN: {why}.")));
            return;
        }
        busy.set(true);
        error.set(None);
        let result = DeviceCore::enrol(
            &store_dir(),
            server.read().trim(),
            &code_now,
            label.read().trim(),
            &pin.read(),
        )
        .await;
        busy.set(false);
        match result {
            Ok(enrolled) => {
                take_core(core, enrolled);
                navigate(Route::Cases);
            }
            Err(e) => error.set(Some(sign_in_error(&e))),
        }
    };

    rsx! {
        h1 { "Sign in to Fieldvisit" }
        if let Some(notice) = notice {
            p { class: "notice", role: "alert", "{notice}" }
        }
        p { "Your practice admin gives you a one-time code. It links this device to you; you will not need it again." }
        form { class: "stack", onsubmit: submit,
            label { r#for: "server", "Practice server address" }
            input {
                id: "server",
                r#type: "url",
                inputmode: "url",
                autocomplete: "url",
                value: "{server}",
                oninput: move |e| server.set(e.value()),
            }
            label { r#for: "code", "Enrolment code" }
            input {
                id: "code",
                r#type: "text",
                autocomplete: "one-time-code",
                autocapitalize: "characters",
                spellcheck: "false",
                value: "{code}",
                oninput: move |e| code.set(e.value()),
            }
            label { r#for: "label", "Name for this device" }
            input {
                id: "label",
                r#type: "text",
                value: "{label}",
                oninput: move |e| label.set(e.value()),
            }
            label { r#for: "pin", "Choose a PIN for this device" }
            p { id: "pin-hint", class: "hint",
                "At least 6 characters. It unlocks the app, and without it nothing the app stores here can be read. If you forget it, your practice admin gives you a new code."
            }
            input {
                id: "pin",
                r#type: "password",
                inputmode: "numeric",
                autocomplete: "new-password",
                aria_describedby: "pin-hint",
                value: "{pin}",
                oninput: move |e| pin.set(e.value()),
            }
            label { r#for: "pin-again", "The same PIN again" }
            input {
                id: "pin-again",
                r#type: "password",
                inputmode: "numeric",
                autocomplete: "new-password",
                value: "{pin_again}",
                oninput: move |e| pin_again.set(e.value()),
            }
            if let Some(why) = error() {
                p { class: "error", role: "alert", "{why}" }
            }
            button { class: "primary", r#type: "submit", disabled: busy(),
                if busy() { "Signing in…" } else { "Sign in" }
            }
        }
    }
}

fn sign_in_error(e: &crate::CoreError) -> String {
    match e.server_code() {
        Some(ErrorCode::InvalidEnrolmentCode) => {
            "That code was not accepted: it may be mistyped, used already or expired. Ask your practice admin for a new one.".into()
        }
        _ => match e {
            crate::CoreError::Offline(_) => {
                "The server could not be reached. Check the address and your connection, then try again.".into()
            }
            other => other.to_string(),
        },
    }
}
