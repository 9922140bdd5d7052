//! The review state machine of a visit (management oversight), as a pure
//! function so both the app and the server enforce the same rules.
//!
//! draft -> submitted (the worker), submitted -> returned or signed_off (a
//! supervisor), returned -> submitted (the worker). A signed-off visit is
//! closed: later corrections are new visits or annotations, never edits.

use crate::Error;
use crate::schema::ReviewStatus;

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
