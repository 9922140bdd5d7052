//! Search across the cases this person may see (the server's full-text
//! index; it never returns anything from another case). Each hit links to
//! its passage in the case record.

use dioxus::prelude::*;
use fieldvisit_shared::api::SearchHit;

use super::record::link;
use super::use_core;

#[component]
pub fn SearchScreen() -> Element {
    let core = use_core();
    let mut query = use_signal(String::new);
    let mut hits = use_signal(|| None::<Result<Vec<SearchHit>, String>>);
    let mut busy = use_signal(|| false);
    let run = move |e: FormEvent| {
        e.prevent_default();
        let q = query();
        if q.trim().is_empty() {
            return;
        }
        busy.set(true);
        spawn(async move {
            let core = core.get();
            hits.set(Some(core.search(&q).await.map_err(|e| e.to_string())));
            busy.set(false);
        });
    };
    rsx! {
        h1 { "Search" }
        p { class: "hint", "Finds words in the records of the cases you may see." }
        form { class: "search", role: "search", onsubmit: run,
            label { r#for: "search-q", "Words to find" }
            div { class: "inline",
                input {
                    autocomplete: "off",
                    id: "search-q",
                    r#type: "search",
                    value: "{query}",
                    oninput: move |e| query.set(e.value()),
                }
                button { r#type: "submit", disabled: busy(), "Search" }
            }
        }
        match &*hits.read() {
            None => rsx! {},
            Some(Err(why)) => rsx! { p { class: "error", role: "alert", "The search did not work: {why}" } },
            Some(Ok(found)) if found.is_empty() => rsx! { p { role: "status", "Nothing found." } },
            Some(Ok(found)) => rsx! {
                p { role: "status", class: "quiet", "{found.len()} found" }
                ol { class: "hits", aria_label: "Results",
                    for (n, hit) in found.iter().enumerate() {
                        li { key: "{n}", class: "hit",
                            a { href: link(&hit.case_id, &hit.document_id, Some(&hit.passage), None),
                                "{hit.person_name} (case {hit.case_reference}): {hit.label}"
                            }
                            p { class: "snippet", {snippet(&hit.snippet)} }
                        }
                    }
                }
            },
        }
    }
}

/// The server marks matched words between U+0002 and U+0003.
fn snippet(text: &str) -> Element {
    let mut parts = Vec::new();
    for (n, piece) in text.split('\u{2}').enumerate() {
        match piece.split_once('\u{3}') {
            Some((matched, rest)) if n > 0 => {
                parts.push((true, matched.to_owned()));
                parts.push((false, rest.to_owned()));
            }
            _ => parts.push((false, piece.to_owned())),
        }
    }
    rsx! {
        for (n, (matched, piece)) in parts.into_iter().enumerate() {
            if matched {
                mark { key: "{n}", "{piece}" }
            } else {
                span { key: "{n}", "{piece}" }
            }
        }
    }
}
