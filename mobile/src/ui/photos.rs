//! A visit's photos: take one with the camera or pick one (processed on
//! the phone before anything is kept: upright, at most 2048 px, no
//! metadata), a caption, a thumbnail, where each stands (waiting for the
//! words, uploading, uploaded), and removal that the record keeps.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use dioxus::prelude::*;
use fieldvisit_shared::VisitDoc;
use fieldvisit_shared::records::VisitText;

use super::auto_text::{AutoText, Source};
use super::{OpenCore, labels, use_core};
use crate::core::{PhotoState, platform};

#[component]
pub fn Photos(visit_id: String, visit: ReadSignal<Option<VisitDoc>>, closed: bool) -> Element {
    let core = use_core();
    let mut error = use_signal(|| None::<String>);
    let mut states = use_signal(HashMap::<String, PhotoState>::new);
    use_future(move || async move {
        loop {
            if let Ok(now) = core.get().photo_states() {
                let now: HashMap<_, _> = now.into_iter().collect();
                if now != *states.peek() {
                    states.set(now);
                }
            }
            platform::sleep(Duration::from_millis(700)).await;
        }
    });
    let photos: Vec<(String, String, String, String)> = visit
        .read()
        .as_ref()
        .map(|v| {
            v.photos
                .values()
                .map(|p| {
                    (
                        p.sha256.clone(),
                        p.captured_at.clone(),
                        p.removed_by.clone(),
                        p.removed_at.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let (shown, removed): (Vec<_>, Vec<_>) = photos.into_iter().partition(|p| p.2.is_empty());

    rsx! {
        section { aria_labelledby: "photos-h",
            h2 { id: "photos-h", "Photos" }
            p { class: "hint", "Only with the person's consent. The location, the camera and the time are taken out before the photo is kept." }
            if shown.is_empty() {
                p { class: "quiet", "No photos." }
            }
            ul { class: "photos", aria_label: "Photos of this visit",
                for (n, (sha, captured, _, _)) in shown.into_iter().enumerate() {
                    li { key: "{sha}", class: "photo",
                        Thumbnail { visit_id: visit_id.clone(), sha256: sha.clone(), label: format!("Photo {}", n + 1) }
                        p { class: "quiet",
                            "Taken {labels::when(&captured)} · "
                            span { class: "photo-state",
                                {match states.read().get(&sha) {
                                    None => "on the server".to_owned(),
                                    Some(PhotoState::Waiting) => "waiting to upload, after the words".to_owned(),
                                    Some(PhotoState::Uploading { percent }) => format!("uploading {percent} %"),
                                    Some(PhotoState::Uploaded) => "uploaded".to_owned(),
                                    Some(PhotoState::Refused(why)) => format!("not accepted: {why}"),
                                }}
                            }
                        }
                        AutoText {
                            source: Source::visit(&visit_id, VisitText::PhotoCaption { sha256: sha.clone() }, visit),
                            id: format!("caption-{sha}"),
                            label: format!("Caption of photo {}", n + 1),
                            hint: None,
                            multiline: false,
                            read_only: closed,
                        }
                        if !closed {
                            button {
                                class: "link",
                                r#type: "button",
                                onclick: {
                                    let (visit_id, sha) = (visit_id.clone(), sha.clone());
                                    move |_| {
                                        let (visit_id, sha) = (visit_id.clone(), sha.clone());
                                        async move {
                                            let core = core.get();
                                            if let Err(e) = core.remove_photo(&visit_id, &sha).await {
                                                error.set(Some(format!("Not removed: {e}")));
                                            }
                                        }
                                    }
                                },
                                "Remove photo {n + 1}"
                            }
                        }
                    }
                }
            }
            if !removed.is_empty() {
                ul { class: "quiet", aria_label: "Photos removed",
                    for (sha, _, by, at) in removed {
                        li { key: "{sha}",
                            {format!("A photo removed by {}, {}", name(&core, &by), labels::when(&at))}
                        }
                    }
                }
            }
            if let Some(why) = error() {
                p { class: "error", role: "alert", "{why}" }
            }
            if !closed {
                AddPhoto { visit_id: visit_id.clone(), creative: None, input_id: "photo-input", label: "Take or add a photo" }
            }
        }
    }
}

/// Takes or picks a photo for the visit (or for one of its creative-method
/// observations), processes it and keeps it.
#[component]
pub fn AddPhoto(
    visit_id: String,
    creative: Option<String>,
    input_id: String,
    label: String,
) -> Element {
    let core = use_core();
    let mut error = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let input = input_id.clone();
    let add = move |e: FormEvent| {
        let (visit_id, creative) = (visit_id.clone(), creative.clone());
        let input = input.clone();
        let files = e.files();
        async move {
            let core = core.get();
            busy.set(true);
            for file in files {
                let added = match file.read_bytes().await {
                    Ok(bytes) => match &creative {
                        None => core.add_photo(&visit_id, &bytes, "").await.map(|_| ()),
                        Some(id) => core
                            .add_creative_photo(&visit_id, id, &bytes)
                            .await
                            .map(|_| ()),
                    }
                    .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                error.set(
                    added
                        .err()
                        .map(|why| format!("The photo was not added: {why}")),
                );
            }
            // Emptied, so that picking the same photo again (after
            // removing it) is a change the input reports.
            document::eval(&format!(
                "const i = document.getElementById({input:?}); if (i) i.value = '';"
            ));
            busy.set(false);
        }
    };
    rsx! {
        input {
            id: "{input_id}",
            class: "visually-hidden",
            r#type: "file",
            accept: "image/*",
            capture: "environment",
            disabled: busy(),
            onchange: add,
        }
        label { r#for: "{input_id}", class: "button",
            if busy() { "Preparing the photo…" } else { "{label}" }
        }
        if let Some(why) = error() {
            p { class: "error", role: "alert", "{why}" }
        }
    }
}

fn name(core: &OpenCore, id: &str) -> String {
    core.get().name_of(id)
}

/// A photo at thumbnail size: from this device, or from the server.
#[component]
pub fn Thumbnail(visit_id: String, sha256: String, label: String) -> Element {
    let core = use_core();
    // A colleague's photo may reach the server after its visit's words:
    // asked again until it is there.
    let source = use_resource(use_reactive!(|(visit_id, sha256)| async move {
        let core = core.get();
        loop {
            match core.photo(&visit_id, &sha256, Some(320)).await {
                Ok(bytes) => {
                    return Some(format!(
                        "data:image/jpeg;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(bytes)
                    ));
                }
                Err(_) => platform::sleep(Duration::from_secs(2)).await,
            }
        }
    }));
    match source().flatten() {
        Some(src) => rsx! { img { class: "thumb", src: "{src}", alt: "{label}" } },
        None => {
            rsx! { p { class: "thumb quiet", role: "img", aria_label: "{label}", "Not on this device yet" } }
        }
    }
}
