//! A person's devices: when each was last seen and last synced, and what
//! it held unsent as it last said, so a lost phone is found and revoked in
//! one step, and whoever revokes it knows first what that loses. A worker
//! sees their own; the practice admin picks anyone.

use dioxus::prelude::*;
use fieldvisit_shared::api::{DeviceInfo, PersonSummary, Role};

use super::{Core, labels, use_core};
use crate::CoreError;

#[component]
pub fn DevicesScreen() -> Element {
    let core = use_core();
    // The app's own hold on the core, let go when a wipe has emptied it.
    let frame: Core = use_context();
    let me = {
        let c = core.get();
        (c.person().clone(), c.device_id().to_owned())
    };
    let (person, this_device) = me;
    let admin = person.role == Role::Admin;
    let mut whose = use_signal(|| person.id.clone());
    let mut people = use_signal(Vec::<PersonSummary>::new);
    let mut devices = use_signal(|| None::<Result<Vec<DeviceInfo>, String>>);
    let mut confirming = use_signal(|| None::<String>);
    let mut message = use_signal(|| None::<String>);
    let lock_minutes = core.get().lock_after().as_secs() / 60;
    let mut lock_said = use_signal(|| None::<Result<String, String>>);

    let load = move || {
        spawn(async move {
            let core = core.get();
            let found = core
                .devices_of(&whose.peek())
                .await
                .map_err(|e| e.to_string());
            devices.set(Some(found));
        });
    };
    use_hook(move || {
        load();
        if admin {
            spawn(async move {
                let core = core.get();
                if let Ok(list) = core.practice_people().await {
                    people.set(list);
                }
            });
        }
    });

    let mut pin = use_signal(String::new);
    let mut pin_error = use_signal(|| None::<String>);
    let mut revoking = use_signal(|| false);
    let mut revoke = move |device_id: String| {
        if revoking() {
            return;
        }
        revoking.set(true);
        spawn(async move {
            let opened = core.get();
            let typed = std::mem::take(&mut *pin.write());
            let result = opened
                .revoke_device_of(&whose.peek(), &device_id, &typed)
                .await;
            revoking.set(false);
            match result {
                Err(CoreError::WrongPin { left, .. }) => {
                    pin_error.set(Some(format!(
                        "That PIN is not this device's; nothing was revoked. {left} {} left before this device deletes everything it holds.",
                        if left == 1 { "try" } else { "tries" }
                    )));
                    return;
                }
                Err(CoreError::WipedAfterWrongPins) => {
                    let reloading = super::browser::start_over(
                        "Five wrong PINs in a row: everything this device stored has been deleted, and nothing was revoked. Records that had synced are safe with your practice. Ask your practice admin for a new code to sign in again.",
                    );
                    if !reloading {
                        let mut gone = frame;
                        gone.set(None);
                    }
                    return;
                }
                _ => {}
            }
            pin_error.set(None);
            confirming.set(None);
            message.set(Some(match result {
                Ok(()) => "Revoked. The device deletes everything it holds the next time it reaches the server.".into(),
                Err(e) => format!("Not revoked: {e}"),
            }));
            load();
        });
    };

    let choose_lock = move |e: FormEvent| {
        let core = core.get();
        let said = match e.value().parse::<u32>() {
            Ok(minutes) => core
                .set_lock_after(minutes)
                .map(|()| {
                    format!(
                        "This device now locks after {minutes} idle minute{}.",
                        if minutes == 1 { "" } else { "s" }
                    )
                })
                .map_err(|e| e.to_string()),
            Err(_) => Err(format!("\"{}\" is not a number of minutes.", e.value())),
        };
        lock_said.set(Some(said));
    };

    rsx! {
        h1 { "Devices" }
        section { class: "stack", aria_labelledby: "this-device",
            h2 { id: "this-device", "This device" }
            label { r#for: "lock-after", "Ask for the PIN after" }
            select { id: "lock-after", onchange: choose_lock,
                for m in crate::core::LOCK_AFTER_MINUTES {
                    option { key: "{m}", value: "{m}", selected: u64::from(m) == lock_minutes,
                        if m == 1 { "1 minute idle" } else { "{m} minutes idle" }
                    }
                }
            }
            match lock_said() {
                Some(Ok(said)) => rsx! { p { class: "quiet", role: "status", "{said}" } },
                Some(Err(why)) => rsx! { p { class: "error", role: "alert", "Not changed: {why}" } },
                None => rsx! {},
            }
        }
        h2 { "Revoking a lost device" }
        p { "A lost or stolen device is revoked here, with your PIN. The next time it reaches the server it deletes every record, photo and draft it holds. Anything it had not yet sent is lost with it, so a revocation is final; your practice admin sees who revoked it and from which device." }
        if admin {
            label { r#for: "whose", "Whose devices" }
            select {
                id: "whose",
                onchange: move |e| {
                    whose.set(e.value());
                    message.set(None);
                    load();
                },
                option { value: "{person.id}", selected: whose() == person.id, "{person.name} (you)" }
                for p in people().into_iter().filter(|p| p.id != person.id) {
                    option { key: "{p.id}", value: "{p.id}", selected: whose() == p.id, "{p.name}" }
                }
            }
        }
        if let Some(m) = message() {
            p { class: "notice", role: "status", "{m}" }
        }
        match devices() {
            None => rsx! { p { class: "quiet", role: "status", "Loading devices…" } },
            Some(Err(why)) => rsx! { p { class: "error", role: "alert", "The devices could not be loaded: {why}" } },
            Some(Ok(list)) => rsx! {
                ul { class: "list", aria_label: "Devices",
                    for d in list {
                        li { key: "{d.device_id}", class: "device",
                            h3 { class: "title",
                                "{d.label}"
                                if d.device_id == this_device { " (this device)" }
                            }
                            p { class: "quiet", {facts(&d)} }
                            if d.revoked_at.is_none() && d.device_id != this_device {
                                if confirming().as_deref() == Some(d.device_id.as_str()) {
                                    p { class: "notice", role: "alert", {warning(&d)} }
                                    form {
                                        class: "stack",
                                        onsubmit: {
                                            let id = d.device_id.clone();
                                            move |e: FormEvent| {
                                                e.prevent_default();
                                                revoke(id.clone());
                                            }
                                        },
                                        label { r#for: "revoke-pin", "Your PIN, to confirm it is you" }
                                        input {
                                            id: "revoke-pin",
                                            r#type: "password",
                                            inputmode: "numeric",
                                            autocomplete: "current-password",
                                            value: "{pin}",
                                            oninput: move |e| pin.set(e.value()),
                                        }
                                        if let Some(why) = pin_error() {
                                            p { class: "error", role: "alert", "{why}" }
                                        }
                                        div { class: "actions",
                                            button { class: "danger", r#type: "submit", disabled: revoking(),
                                                if revoking() { "Revoking…" } else { "Revoke {d.label}" }
                                            }
                                            button {
                                                class: "secondary",
                                                r#type: "button",
                                                onclick: move |_| {
                                                    confirming.set(None);
                                                    pin.set(String::new());
                                                    pin_error.set(None);
                                                },
                                                "Keep it"
                                            }
                                        }
                                    }
                                } else {
                                    button {
                                        class: "secondary",
                                        r#type: "button",
                                        onclick: {
                                            let id = d.device_id.clone();
                                            move |_| {
                                                confirming.set(Some(id.clone()));
                                                pin.set(String::new());
                                                pin_error.set(None);
                                            }
                                        },
                                        "Revoke…"
                                    }
                                }
                            }
                        }
                    }
                }
            },
        }
    }
}

/// Enrolled, seen, synced; revoked and wiped when they happened.
fn facts(d: &DeviceInfo) -> String {
    let at = |v: &Option<String>, none: &str| v.as_deref().map_or(none.to_owned(), labels::when);
    let mut out = vec![
        format!("Enrolled {}", at(&d.enrolled_at, "not yet")),
        format!("last seen {}", at(&d.last_seen_at, "never")),
        format!("last synced {}", at(&d.last_synced_at, "never")),
    ];
    if let Some(at) = &d.revoked_at {
        out.push(match &d.revoked_by {
            Some(by) => format!("revoked {} by {by}", labels::when(at)),
            None => format!("revoked {}", labels::when(at)),
        });
    }
    match &d.wiped_at {
        Some(at) => out.push(format!("wiped {}", labels::when(at))),
        None if d.revoked_at.is_some() => out.push("not yet wiped".into()),
        None => {}
    }
    out.join(" · ")
}

/// What revoking loses, said before it is done.
fn warning(d: &DeviceInfo) -> String {
    let synced = d
        .last_synced_at
        .as_deref()
        .map_or("has never synced".to_owned(), |at| {
            format!("last synced {}", labels::when(at))
        });
    let unsent = match (d.unsynced_changes, &d.reported_at) {
        (Some(0), Some(at)) => format!("As of {} it had nothing unsent.", labels::when(at)),
        (Some(n), Some(at)) => format!(
            "As of {} it held {n} change{} not yet sent: {} lost.",
            labels::when(at),
            if n == 1 { "" } else { "s" },
            if n == 1 { "it will be" } else { "they will be" }
        ),
        _ => "It has not said what it holds unsent.".into(),
    };
    format!(
        "{} {synced}. {unsent} Anything typed on it since it last synced is lost when it is revoked.",
        d.label
    )
}
