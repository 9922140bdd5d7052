//! People and who supervises whom.

use fieldvisit_shared::api::{PersonSummary, Role};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Audit, Db, audit_tx, now, role};
use crate::error::{Error, Result};

impl Db {
    /// The people a person works alongside: everyone assigned to a case
    /// they may see, those people's supervisors, and themselves. Records name
    /// people by id; this is how an app shows names instead.
    pub fn people_around(&self, person_id: &str) -> Result<Vec<PersonSummary>> {
        let cases: Vec<String> = self
            .cases_visible_to(person_id)?
            .into_iter()
            .map(|c| c.case_id)
            .collect();
        self.with(|c| {
            let mut on_case = c.prepare_cached(
                "SELECT p.id, p.supervisor_id FROM assignments a JOIN people p ON p.id = a.person_id
                 WHERE a.case_id = ?1",
            )?;
            let mut ids = std::collections::BTreeSet::from([person_id.to_owned()]);
            for case in &cases {
                let rows = on_case.query_map([case], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })?;
                for row in rows {
                    let (id, sup) = row?;
                    ids.insert(id);
                    ids.extend(sup);
                }
            }
            let mut one = c.prepare_cached("SELECT id, name, role FROM people WHERE id = ?1")?;
            let mut people = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(p) = one
                    .query_row([id], |r| {
                        Ok(PersonSummary {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            role: role(&r.get::<_, String>(2)?)?,
                        })
                    })
                    .optional()?
                {
                    people.push(p);
                }
            }
            Ok(people)
        })
    }

    pub fn insert_person(
        &self,
        id: &str,
        name: &str,
        role: &Role,
        supervisor_id: Option<&str>,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if let Some(sup) = supervisor_id {
                require_supervisor(&tx, sup)?;
            }
            tx.execute(
                "INSERT INTO people (id, name, role, supervisor_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name, role.as_str(), supervisor_id, now()],
            )?;
            audit_tx(&tx, &Audit { person_id: Some(id), action: "person_added", detail: role.as_str(), ..Default::default() })?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn person(&self, id: &str) -> Result<PersonSummary> {
        self.with(|c| {
            c.query_row(
                "SELECT id, name, role FROM people WHERE id = ?1",
                [id],
                |r| {
                    Ok(PersonSummary {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        role: role(&r.get::<_, String>(2)?)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| Error::NotFound(format!("person {id}")))
        })
    }

    /// Gives a worker another supervisor (or none).
    pub fn set_supervisor(&self, person_id: &str, supervisor_id: Option<&str>) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let role_: Option<String> = tx
                .query_row("SELECT role FROM people WHERE id = ?1", [person_id], |r| {
                    r.get(0)
                })
                .optional()?;
            match role_.as_deref() {
                None => return Err(Error::NotFound(format!("person {person_id}"))),
                Some("worker") => {}
                Some(_) => return Err(Error::Conflict(format!("{person_id} is not a worker"))),
            }
            if let Some(sup) = supervisor_id {
                require_supervisor(&tx, sup)?;
            }
            tx.execute(
                "UPDATE people SET supervisor_id = ?1 WHERE id = ?2",
                params![supervisor_id, person_id],
            )?;
            audit_tx(
                &tx,
                &Audit {
                    person_id: Some(person_id),
                    action: "supervisor_changed",
                    detail: supervisor_id.unwrap_or("none"),
                    ..Default::default()
                },
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn people(&self) -> Result<Vec<PersonSummary>> {
        self.with(|c| {
            let mut stmt =
                c.prepare_cached("SELECT id, name, role FROM people ORDER BY created_at, id")?;
            let rows = stmt.query_map([], |r| {
                Ok(PersonSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    role: role(&r.get::<_, String>(2)?)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

/// `sup` is a person whose role is supervisor.
fn require_supervisor(c: &Connection, sup: &str) -> Result<()> {
    let role: Option<String> = c
        .query_row("SELECT role FROM people WHERE id = ?1", [sup], |r| r.get(0))
        .optional()?;
    match role.as_deref() {
        Some("supervisor") => Ok(()),
        Some(_) => Err(Error::Conflict(format!("{sup} is not a supervisor"))),
        None => Err(Error::NotFound(format!("supervisor {sup}"))),
    }
}
