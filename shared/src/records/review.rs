//! The review of a visit (management oversight): its state, the record of
//! every decision, and the state machine both the app and the server
//! enforce.
//!
//! draft -> submitted (the worker), submitted -> returned or signed_off (a
//! supervisor), returned -> submitted (the worker). A signed-off visit is
//! closed: later words are dated addenda and annotations, never edits.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile, Text};

use crate::Error;

string_enum! {
    /// Where a visit stands in management oversight.
    ReviewStatus { Draft => "draft", Submitted => "submitted", Returned => "returned", SignedOff => "signed_off" }
}

#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct Review {
    pub status: ReviewStatus,
    /// Person id and time of the last transition; empty while a draft.
    pub changed_by: String,
    pub changed_at: String,
    /// The document heads the last sign-off attests to (hex change
    /// hashes): what changed after them is known exactly.
    #[autosurgeon(missing = "Default::default")]
    pub signed_off_heads: Vec<String>,
    /// Every decision ever made on the visit, keyed by a random id: the
    /// record of oversight that the chronology and inspectors read.
    #[autosurgeon(missing = "Default::default")]
    pub decisions: BTreeMap<String, ReviewDecision>,
}

/// One step of the review: who moved the visit to which state, when, and
/// what they said (a return's comments).
#[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
pub struct ReviewDecision {
    pub status: ReviewStatus,
    pub by: String,
    pub at: String,
    #[autosurgeon(missing = "Default::default")]
    pub comment: Text,
}

impl Review {
    pub fn draft() -> Self {
        Review {
            status: ReviewStatus::Draft,
            changed_by: String::new(),
            changed_at: String::new(),
            signed_off_heads: Vec::new(),
            decisions: BTreeMap::new(),
        }
    }

    /// The decisions, oldest first.
    pub fn history(&self) -> Vec<(&str, &ReviewDecision)> {
        let mut all: Vec<_> = self
            .decisions
            .iter()
            .map(|(k, d)| (k.as_str(), d))
            .collect();
        all.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(b.0)));
        all
    }

    /// The comments of the latest return, when the visit is returned.
    pub fn return_comment(&self) -> Option<&ReviewDecision> {
        if self.status != ReviewStatus::Returned {
            return None;
        }
        self.history()
            .into_iter()
            .rev()
            .map(|(_, d)| d)
            .find(|d| d.status == ReviewStatus::Returned)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Author,
    Supervisor,
}

impl Actor {
    fn name(self) -> &'static str {
        match self {
            Actor::Author => "the visit's author",
            Actor::Supervisor => "a supervisor",
        }
    }
}

pub fn transition(actor: Actor, from: ReviewStatus, to: ReviewStatus) -> Result<(), Error> {
    use ReviewStatus::*;
    let allowed = matches!(
        (actor, from, to),
        (Actor::Author, Draft | Returned, Submitted)
            | (Actor::Supervisor, Submitted, Returned | SignedOff)
    );
    if allowed {
        Ok(())
    } else {
        Err(Error::ReviewTransition {
            role: actor.name(),
            from: from.as_str(),
            to: to.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReviewStatus::*;

    #[test]
    fn the_allowed_paths() {
        assert!(transition(Actor::Author, Draft, Submitted).is_ok());
        assert!(transition(Actor::Supervisor, Submitted, Returned).is_ok());
        assert!(transition(Actor::Author, Returned, Submitted).is_ok());
        assert!(transition(Actor::Supervisor, Submitted, SignedOff).is_ok());
    }

    #[test]
    fn everything_else_is_refused() {
        for &from in ReviewStatus::ALL {
            for &to in ReviewStatus::ALL {
                for actor in [Actor::Author, Actor::Supervisor] {
                    let expected = matches!(
                        (actor, from, to),
                        (Actor::Author, Draft, Submitted)
                            | (Actor::Author, Returned, Submitted)
                            | (Actor::Supervisor, Submitted, Returned)
                            | (Actor::Supervisor, Submitted, SignedOff)
                    );
                    assert_eq!(
                        transition(actor, from, to).is_ok(),
                        expected,
                        "{actor:?} {from} {to}"
                    );
                }
            }
        }
        let msg = transition(Actor::Author, SignedOff, Draft)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "the visit's author cannot move a visit from signed_off to draft"
        );
    }
}
