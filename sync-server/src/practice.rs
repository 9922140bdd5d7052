//! What a practice admin does (people, cases, assignments, devices), shared
//! by the command line, the admin HTTP API and the demo seed, so each rule
//! is written once.

use fieldvisit_shared::api::{CaseSummary, DeviceInfo, EnrolResponse, PersonSummary, Role};
use fieldvisit_shared::doc;
use fieldvisit_shared::provenance::server_actor;
use fieldvisit_shared::records::CaseDoc;
use fieldvisit_shared::validate;
use serde::Serialize;

use crate::db::Db;
use crate::error::{Error, Result};
use crate::{secrets, sync};

/// How long an enrolment code stays valid.
pub const ENROLMENT_CODE_HOURS: i64 = 72;

#[derive(Clone, Serialize)]
pub struct EnrolmentCode {
    pub device_id: String,
    pub person_id: String,
    pub code: String,
    pub expires_at: String,
}

impl std::fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolmentCode")
            .field("device_id", &self.device_id)
            .field("person_id", &self.person_id)
            .field("code", &fieldvisit_shared::api::REDACTED)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    pub device_id: String,
    pub was_already_revoked: bool,
}

pub async fn add_person(
    db: &Db,
    name: &str,
    role: Role,
    supervisor: Option<&str>,
) -> Result<PersonSummary> {
    validate::label("name", name)?;
    if let Some(s) = supervisor {
        validate::id("supervisor", s)?;
        if role != Role::Worker {
            return Err(Error::Conflict("only a worker has a supervisor".into()));
        }
    }
    let (name, supervisor) = (name.trim().to_owned(), supervisor.map(str::to_owned));
    let id = secrets::id(role.as_str());
    db.run(move |db| {
        db.insert_person(&id, &name, &role, supervisor.as_deref())?;
        db.person(&id)
    })
    .await
}

/// Creates the case's automerge document and registers it.
pub async fn add_case(
    db: &Db,
    repo: &samod::Repo,
    reference: &str,
    person_name: &str,
) -> Result<CaseSummary> {
    validate::label("reference", reference)?;
    validate::label("person_name", person_name)?;
    let (reference, person_name) = (reference.trim().to_owned(), person_name.trim().to_owned());
    let r = reference.clone();
    if db.run(move |db| db.reference_taken(&r)).await? {
        return Err(Error::Conflict(format!(
            "a case with reference {reference} already exists"
        )));
    }
    let case_id = secrets::id("case");
    let doc = doc::new_document(
        &CaseDoc::new(&case_id, &reference, &person_name),
        server_actor(),
    )?;
    let handle = repo.create(doc).await.map_err(|_| Error::Stopped)?;
    let summary = CaseSummary {
        case_id,
        reference,
        person_name,
        document_id: handle.document_id().to_string(),
    };
    let s = summary.clone();
    db.run(move |db| db.insert_case(&s.case_id, &s.reference, &s.person_name, &s.document_id))
        .await?;
    Ok(summary)
}

pub async fn assign(db: &Db, case_id: &str, person_id: &str) -> Result<()> {
    validate::id("case_id", case_id)?;
    validate::id("person_id", person_id)?;
    let (c, p) = (case_id.to_owned(), person_id.to_owned());
    db.run(move |db| db.assign(&c, &p)).await
}

/// Ends an assignment: the person's devices stop syncing the case's
/// documents (open connections follow within a second).
pub async fn unassign(db: &Db, case_id: &str, person_id: &str) -> Result<()> {
    validate::id("case_id", case_id)?;
    validate::id("person_id", person_id)?;
    let (c, p) = (case_id.to_owned(), person_id.to_owned());
    if db.run(move |db| db.unassign(&c, &p)).await? {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "an assignment of {person_id} to {case_id}"
        )))
    }
}

/// Gives a worker another supervisor, or none.
pub async fn set_supervisor(db: &Db, person_id: &str, supervisor_id: Option<&str>) -> Result<()> {
    validate::id("person_id", person_id)?;
    if let Some(s) = supervisor_id {
        validate::id("supervisor_id", s)?;
    }
    let (p, s) = (person_id.to_owned(), supervisor_id.map(str::to_owned));
    db.run(move |db| db.set_supervisor(&p, s.as_deref())).await
}

/// Issues a one-time enrolment code for a new device of `person_id`.
pub async fn add_device(db: &Db, person_id: &str, label: &str) -> Result<EnrolmentCode> {
    validate::id("person_id", person_id)?;
    validate::label("label", label)?;
    let code = secrets::enrolment_code();
    let device_id = secrets::id("device");
    let expires_at = (chrono::Utc::now() + chrono::Duration::hours(ENROLMENT_CODE_HOURS))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let out = EnrolmentCode {
        device_id,
        person_id: person_id.to_owned(),
        code,
        expires_at,
    };
    let (o, label) = (out.clone(), label.trim().to_owned());
    db.run(move |db| {
        db.insert_device(
            &o.device_id,
            &o.person_id,
            &label,
            &secrets::hash(&o.code),
            &o.expires_at,
        )
    })
    .await?;
    Ok(out)
}

pub async fn enrol(db: &Db, code: &str, label: &str) -> Result<EnrolResponse> {
    validate::label("label", label)?;
    let code_hash = secrets::hash(&secrets::normalise_code(code));
    let token = secrets::token();
    let token_hash = secrets::hash(&token);
    let label = label.trim().to_owned();
    let device = db
        .run(move |db| db.enrol(&code_hash, &token_hash, &label))
        .await?;
    Ok(EnrolResponse {
        peer_id: sync::peer_id_for(&device.id),
        device_id: device.id,
        token,
        person: device.person,
    })
}

/// Revokes a device; `by` is who did it (a person's id, or "the admin
/// command line"), for the audit log.
/// Revokes a device; `by` is the device it was done from (`None`: the
/// admin command line), kept with the revocation and audited.
pub async fn revoke(db: &Db, device_id: &str, by: Option<&str>) -> Result<Revoked> {
    validate::id("device_id", device_id)?;
    let (d, by) = (device_id.to_owned(), by.map(str::to_owned));
    let changed = db
        .run(move |db| db.revoke_device(&d, by.as_deref()))
        .await?;
    Ok(Revoked {
        device_id: device_id.to_owned(),
        was_already_revoked: !changed,
    })
}

/// A person's devices, newest first (unknown people: an error, not an
/// empty list, so a mistyped id is noticed).
pub async fn devices_of(db: &Db, person_id: &str) -> Result<Vec<DeviceInfo>> {
    validate::id("person_id", person_id)?;
    let p = person_id.to_owned();
    db.run(move |db| {
        db.person(&p)?;
        db.devices_of(&p)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrolment_code_is_not_printed() {
        let code = EnrolmentCode {
            device_id: "device-1".into(),
            person_id: "worker-1".into(),
            code: "ABCD-EFGH-never".into(),
            expires_at: "2026-11-30T00:00:00Z".into(),
        };
        let printed = format!("{code:?}");
        assert!(!printed.contains("never") && printed.contains("device-1"));
    }
}
