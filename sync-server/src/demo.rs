//! `serve --demo`: a synthetic practice to try Fieldvisit with. Every name
//! and word here is invented.

use fieldvisit_shared::api::Role;
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::server_actor;
use fieldvisit_shared::records::{
    CaseEdit, Communication, Edit, PlaceKind, VisitDoc, VisitIndexEntry,
};
use serde::Serialize;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::practice;

#[derive(Debug, Clone, Serialize)]
pub struct DemoSignIn {
    pub name: String,
    pub role: String,
    pub code: String,
}

/// Seeds an empty practice (once), then issues a fresh enrolment code for
/// each demo person, so every start prints codes that work.
pub async fn seed(db: &Db, repo: &samod::Repo) -> Result<Vec<DemoSignIn>> {
    let people = db.run(|db| db.people()).await?;
    let people = if people.is_empty() {
        create_practice(db, repo).await?;
        db.run(|db| db.people()).await?
    } else {
        people
    };
    let mut sign_ins = Vec::new();
    for person in people {
        let code = practice::add_device(db, &person.id, "Demo device").await?;
        sign_ins.push(DemoSignIn {
            name: person.name,
            role: person.role.as_str().to_owned(),
            code: code.code,
        });
    }
    Ok(sign_ins)
}

async fn create_practice(db: &Db, repo: &samod::Repo) -> Result<()> {
    practice::add_person(db, "Ada Admin", Role::Admin, None).await?;
    let sam = practice::add_person(db, "Sam Supervisor", Role::Supervisor, None).await?;
    let wren = practice::add_person(db, "Wren Worker", Role::Worker, Some(&sam.id)).await?;
    let ash = practice::add_person(db, "Ash Worker", Role::Worker, Some(&sam.id)).await?;
    let cases = [
        ("DEMO-001", "Morgan Example", vec![&wren.id]),
        ("DEMO-002", "Riley Sample", vec![&wren.id, &ash.id]),
        ("DEMO-003", "Jordan Placeholder", vec![&ash.id]),
    ];
    for (i, (reference, name, workers)) in cases.into_iter().enumerate() {
        let case = practice::add_case(db, repo, reference, name).await?;
        for w in &workers {
            practice::assign(db, &case.case_id, w).await?;
        }
        let author = workers[0];
        let started_at = format!("2026-11-{:02}T10:30:00Z", 10 + i);
        let mut visit = VisitDoc::new(&case.case_id, author, &started_at, PlaceKind::Home);
        visit.own_words.text =
            autosurgeon::Text::with_value("I like my garden. I don't want to move.");
        visit.own_words.communication = vec![Communication::Speech, Communication::Objects];
        visit.observations = autosurgeon::Text::with_value(
            "Met in the kitchen. Showed me photographs of the garden and smiled when talking about it.",
        );
        visit.analysis = autosurgeon::Text::with_value(
            "The garden matters a great deal; any plan should keep access to it.",
        );
        let handle = repo
            .create(doc::new_document(&visit, server_actor())?)
            .await
            .map_err(|_| Error::Stopped)?;
        let visit_doc = handle.document_id().to_string();
        let (c, v, a) = (case.case_id.clone(), visit_doc.clone(), author.to_owned());
        db.run(move |db| db.register_seeded_visit(&c, &v, &a))
            .await?;
        let case_handle = repo
            .find(
                case.document_id
                    .parse()
                    .map_err(|_| Error::Internal("bad case id".into()))?,
            )
            .await
            .map_err(|_| Error::Stopped)?
            .ok_or_else(|| Error::Internal("seeded case document vanished".into()))?;
        let edit = CaseEdit::IndexVisit {
            visit_document_id: visit_doc,
            entry: VisitIndexEntry {
                started_at,
                author: author.to_owned(),
                // Made on the server, registered directly: no device proof.
                nonce: String::new(),
            },
        };
        case_handle.with_document(|doc| {
            doc.set_actor(server_actor());
            edit.apply(doc)
        })?;
    }
    Ok(())
}
