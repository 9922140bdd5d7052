//! A safeguarding concern: written in a few taps, even with no signal;
//! raised, it goes before anything else the phone has waiting, and the
//! screen says plainly whether it has reached the practice, and when.
//! (Fifteen minutes after raising with no delivery, every screen tells the
//! worker to phone it in: see `alerts.rs`.) A supervisor acknowledges it
//! here.

use std::time::Duration;

use dioxus::prelude::*;
use fieldvisit_shared::api::Role;
use fieldvisit_shared::records::concern::{ConcernDoc, ConcernText, Consent};

use super::auto_text::{AutoText, Source};
use super::{labels, use_core, use_record};
use crate::core::{Delivery, platform};

#[component]
pub fn ConcernScreen(case_id: String, concern_id: String) -> Element {
    let core = use_core();
    let mut delivery = use_signal(|| None::<Delivery>);
    let mut error = use_signal(|| None::<String>);

    let record = use_record::<ConcernDoc>(concern_id.clone());
    // The record once read (what the handlers below read from).
    let concern = use_memo(move || {
        record
            .read()
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .cloned()
    });
    let poll_id = concern_id.clone();
    use_future(move || {
        let concern_id = poll_id.clone();
        async move {
            loop {
                if let Ok(d) = core.get().concern_delivery(&concern_id).await
                    && delivery.peek().as_ref() != Some(&d)
                {
                    delivery.set(Some(d));
                }
                platform::sleep(Duration::from_secs(1)).await;
            }
        }
    });

    let nav = rsx! { super::BackToCase { case_id: case_id.clone() } };
    if let Some(Err(why)) = record() {
        return rsx! {
            {nav}
            h1 { "Safeguarding concern" }
            p { role: "alert", "This concern is not on this device yet: {why}" }
        };
    }
    let Some(c) = concern() else {
        return rsx! { {nav} p { role: "status", "Opening the concern…" } };
    };
    let handle = core.get();
    let me = handle.person().clone();
    let writing = !c.raised() && c.author == me.id;

    let choose = {
        let concern_id = concern_id.clone();
        move |consent: Consent| {
            let concern_id = concern_id.clone();
            async move {
                let core = core.get();
                if let Err(e) = core.set_concern_consent(&concern_id, consent).await {
                    error.set(Some(format!("Not saved: {e}")));
                }
            }
        }
    };
    let raise = {
        let concern_id = concern_id.clone();
        move |_| {
            let concern_id = concern_id.clone();
            async move {
                let core = core.get();
                match core.raise_concern(&concern_id).await {
                    Ok(()) => error.set(None),
                    Err(e) => error.set(Some(format!("Not raised: {e}"))),
                }
            }
        }
    };
    let acknowledge = {
        let concern_id = concern_id.clone();
        move |_| {
            let concern_id = concern_id.clone();
            async move {
                let core = core.get();
                if let Err(e) = core.acknowledge_concern(&concern_id).await {
                    error.set(Some(format!("Not acknowledged: {e}")));
                }
            }
        }
    };

    let text = |t: ConcernText, id: &str, label: &str, hint: Option<&str>| {
        rsx! {
            AutoText {
                key: "{id}",
                source: Source::concern(&concern_id, t, concern),
                id: id.to_owned(),
                label: label.to_owned(),
                hint: hint.map(str::to_owned),
                read_only: !writing,
            }
        }
    };
    let consent = c.consent();
    let missing = c.missing();

    rsx! {
        {nav}
        h1 { "Safeguarding concern" }
        p { class: "quiet",
            "Raised by {handle.name_of(&c.author)} · started {labels::when(&c.created_at)}"
        }
        if let Some(why) = error() {
            p { class: "error", role: "alert", "{why}" }
        }
        {delivery_state(delivery(), &c, &handle.name_of(&c.acknowledged_by))}
        if me.role == Role::Supervisor && c.raised() && c.acknowledged_by.is_empty() {
            button { class: "primary", r#type: "button", onclick: acknowledge, "Acknowledge this concern" }
        }
        form { class: "stack", onsubmit: move |e| e.prevent_default(),
            {text(ConcernText::WhatHappened, "what-happened", "What happened", Some("What you saw, heard or were told, and when."))}
            {text(ConcernText::WhoIsAtRisk, "who-at-risk", "Who is at risk", None)}
            {text(ConcernText::ImmediateActions, "immediate-actions", "Immediate actions taken", Some("Who you called, what you did to make them safe now."))}
            fieldset { class: "choices",
                legend { "Does the person consent to a referral?" }
                for option in Consent::ALL.iter().copied() {
                    label { key: "{option.as_str()}", class: "choice",
                        input {
                            r#type: "radio",
                            name: "consent",
                            value: "{option.as_str()}",
                            checked: consent == Some(option),
                            disabled: !writing,
                            onchange: {
                                let choose = choose.clone();
                                move |_| choose(option)
                            },
                        }
                        " {labels::consent(option)}"
                    }
                }
            }
            if consent.is_some() && consent != Some(Consent::Given) {
                {text(ConcernText::WithoutConsentReason, "without-consent", "Why a referral goes ahead without their consent", Some("For example: others are at risk, a crime, coercion, they lack capacity to decide."))}
            }
            if writing {
                if !missing.is_empty() {
                    p { class: "hint", "Still to say: {missing.join(\", \")}." }
                }
                button {
                    class: "danger",
                    r#type: "button",
                    disabled: !missing.is_empty(),
                    onclick: raise,
                    "Raise this concern now"
                }
                p { class: "quiet", "Raised, it goes to your practice before anything else on this phone, as soon as there is signal. What it says then stands." }
            }
        }
    }
}

/// Whether the practice has it, and whether a supervisor has seen it, in
/// plain words.
fn delivery_state(delivery: Option<Delivery>, c: &ConcernDoc, acknowledged_by: &str) -> Element {
    let Some(delivery) = delivery else {
        return rsx! {};
    };
    rsx! {
        match &delivery {
            Delivery::Draft => rsx! {
                p { class: "notice", role: "status", "Not raised yet: only on this phone." }
            },
            Delivery::Waiting { raised_at } => rsx! {
                p { class: "notice", role: "status",
                    strong { "Not yet delivered. " }
                    "Raised {labels::when(raised_at)}; it goes as soon as there is signal."
                }
            },
            Delivery::OnServer { raised_at } => rsx! {
                p { class: "notice ok", role: "status",
                    "Raised {labels::when(raised_at)}; on your practice's server."
                }
            },
            Delivery::Delivered { at, .. } => rsx! {
                p { class: "notice ok", role: "status",
                    strong { "Delivered to the server at {labels::clock(at)}." }
                }
            },
        }
        if c.raised() {
            if c.acknowledged_by.is_empty() {
                p { class: "quiet", "Not yet acknowledged by a supervisor." }
            } else {
                p { class: "notice ok", role: "status",
                    "Acknowledged by {acknowledged_by} at {labels::when(&c.acknowledged_at)}."
                }
            }
        }
    }
}
