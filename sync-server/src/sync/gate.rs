//! The inbound gate of one connection, as a state machine with no IO: every
//! message a device sends passes here after [`wire::inspect`] and before
//! samod sees it.
//!
//! samod creates a document actor (about 35 KiB, kept until unloaded) for
//! every document id a peer names, before its share policy is asked. So a
//! device naming ids it may not see (guessed, random, or of another case)
//! is answered here, exactly as a missing document is answered, and samod
//! never hears of them. The gate remembers the documents this connection
//! may see, so the database is asked once for each; a denial is asked
//! again every time, as an unknown id is (the two must cost the same). It
//! counts refusals so that a flood of them costs a bounded number of audit
//! rows: the first few of each kind are written at once (with their
//! document), the rest as one row with a count when the connection ends.
//!
//! Ephemeral messages (presence, cursors) are not relayed: the app sends
//! none, and relaying them would let any device broadcast to everyone on a
//! document while costing the server per-session state for every session
//! id a peer invents. They are dropped and counted.

use std::collections::{BTreeMap, HashSet};

use super::wire::Inbound;

/// The summary's reason for denials, counted together whatever each was
/// (another case's document, or none).
const DENIED: &str = "not_visible";
/// Refusals of one kind audited one by one per connection, before counting.
const AUDITED_ONE_BY_ONE: u64 = 10;

/// What to do with one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to samod.
    Forward,
    /// Answer `doc-unavailable` for this document ourselves; samod never
    /// sees the message.
    Unavailable(String),
    /// Drop it without an answer.
    Drop,
    /// Close the connection with this code and reason.
    Close { code: u16, reason: String },
}

/// The gate's question for the caller, which asks the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Decided(Verdict),
    /// May this connection's device see this document? Answer with
    /// [`Gate::answer`].
    Ask(String),
}

/// One refusal to write to the audit log now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditNote {
    pub action: &'static str,
    pub reason: &'static str,
    pub document_id: Option<String>,
}

/// One row to write when the connection ends: refusals of one kind beyond
/// the first, which was written at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    pub action: &'static str,
    pub reason: &'static str,
    pub count: u64,
}

/// Close code for a write refused while the document store cannot store it
/// (1013: try again later); the device keeps its changes and retries.
pub const CLOSE_STORAGE_UNAVAILABLE: u16 = 1013;

#[derive(Debug, Default)]
pub struct Gate {
    /// Every document is forwarded (benchmarks only; see `Limits`).
    open_access: bool,
    allowed: HashSet<String>,
    /// The access generation `allowed` was learnt in.
    generation: u64,
    refusals: BTreeMap<(&'static str, &'static str), Tally>,
}

impl Gate {
    pub fn new(open_access: bool) -> Self {
        Gate {
            open_access,
            ..Default::default()
        }
    }

    /// Decides on one inspected message. `generation` is the current access
    /// generation (it changes whenever an assignment, a supervisor or a
    /// revocation does): what was learnt in an older one is forgotten.
    /// `store_failing` is true while the document store cannot write.
    pub fn check(
        &mut self,
        msg: &Inbound,
        generation: u64,
        store_failing: bool,
    ) -> (Step, Option<AuditNote>) {
        if generation != self.generation {
            self.allowed.clear();
            self.generation = generation;
        }
        if msg.kind == "ephemeral" {
            self.count("ephemeral_dropped", "not_relayed");
            return (Step::Decided(Verdict::Drop), None);
        }
        if msg.carries_changes && store_failing {
            let note = self.refuse("write_deferred", "storage_unavailable", msg);
            let reason = "storage_unavailable: the server cannot store changes just now; \
                          they stay on this device and sync later"
                .to_owned();
            return (
                Step::Decided(Verdict::Close {
                    code: CLOSE_STORAGE_UNAVAILABLE,
                    reason,
                }),
                note,
            );
        }
        let Some(doc) = &msg.document_id else {
            return (Step::Decided(Verdict::Forward), None);
        };
        if self.open_access || self.allowed.contains(doc) {
            return (Step::Decided(Verdict::Forward), None);
        }
        // A denial is not remembered: a document of another case and an id
        // that is no document are asked about alike, every time, so how
        // fast the answer comes says nothing of which it is (the query is
        // the same for both: `Db::access_facts`).
        (Step::Ask(doc.clone()), None)
    }

    /// Decides on a message the gate asked about ([`Step::Ask`]), given the
    /// database's answer (`Ok(())`, or why the device may not see the
    /// document), and remembers the answer where it stays true.
    pub fn answer(
        &mut self,
        msg: &Inbound,
        answer: Result<(), &'static str>,
        generation: u64,
    ) -> (Verdict, Option<AuditNote>) {
        let Some(doc) = msg.document_id.clone() else {
            return (Verdict::Forward, None);
        };
        self.learn(&doc, answer, generation);
        match answer {
            Ok(()) => (Verdict::Forward, None),
            Err(reason) => self.refusal(msg, &doc, reason),
        }
    }

    fn refusal(
        &mut self,
        msg: &Inbound,
        doc: &str,
        reason: &'static str,
    ) -> (Verdict, Option<AuditNote>) {
        let action = if msg.carries_changes {
            "write_refused"
        } else {
            "request_refused"
        };
        // One budget for every denial, whatever its reason: with one per
        // reason, once the first ten unknown ids were audited (a write the
        // answer waits for) the next unknown id was answered faster than
        // an id of another case, still audited.
        let note = self
            .tally(action, DENIED, msg.document_id.clone())
            .map(|note| AuditNote { reason, ..note });
        let verdict = match msg.kind.as_str() {
            // Only requests and sync messages expect an answer.
            "request" | "sync" => Verdict::Unavailable(doc.to_owned()),
            _ => Verdict::Drop,
        };
        (verdict, note)
    }

    /// Records the database's answer for a document, in `generation`:
    /// `Ok(())` when the device may see it, or the reason it may not.
    fn learn(&mut self, document_id: &str, answer: Result<(), &'static str>, generation: u64) {
        if generation != self.generation {
            return;
        }
        if answer.is_ok() {
            self.allowed.insert(document_id.to_owned());
        }
    }

    /// The rows to write when the connection ends: what was counted and not
    /// yet written.
    pub fn summary(&self) -> Vec<AuditSummary> {
        self.refusals
            .iter()
            .map(|(&(action, reason), tally)| AuditSummary {
                action,
                reason,
                count: tally.count - tally.audited,
            })
            .filter(|s| s.count > 0)
            .collect()
    }

    /// Counts a refusal; the first few of its kind are audited at once.
    fn refuse(
        &mut self,
        action: &'static str,
        reason: &'static str,
        msg: &Inbound,
    ) -> Option<AuditNote> {
        self.tally(action, reason, msg.document_id.clone())
    }

    fn tally(
        &mut self,
        action: &'static str,
        reason: &'static str,
        document_id: Option<String>,
    ) -> Option<AuditNote> {
        let tally = self.refusals.entry((action, reason)).or_default();
        tally.count += 1;
        if tally.audited >= AUDITED_ONE_BY_ONE {
            return None;
        }
        tally.audited += 1;
        Some(AuditNote {
            action,
            reason,
            document_id,
        })
    }

    /// Counts a change the record's rules refused (`code`); the first few
    /// of each kind are audited at once.
    pub fn refused_change(&mut self, doc: &str, code: &'static str) -> Option<AuditNote> {
        self.tally("change_refused", code, Some(doc.to_owned()))
    }

    /// Counts something audited only in the summary.
    fn count(&mut self, action: &'static str, reason: &'static str) {
        self.refusals.entry((action, reason)).or_default().count += 1;
    }
}

#[derive(Debug, Default)]
struct Tally {
    count: u64,
    /// How many of `count` were audited one by one.
    audited: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the connection does on [`Step::Ask`], for a message about `doc`.
    fn tell(gate: &mut Gate, doc: &str, answer: Result<(), &'static str>, generation: u64) {
        gate.answer(&msg("sync", Some(doc), false), answer, generation);
    }

    fn msg(kind: &str, doc: Option<&str>, changes: bool) -> Inbound {
        Inbound {
            kind: kind.into(),
            document_id: doc.map(str::to_owned),
            carries_changes: changes,
            ops: 0,
        }
    }

    #[test]
    fn an_allowed_document_is_asked_about_once_and_a_denied_one_every_time() {
        let mut gate = Gate::new(false);
        let req = msg("request", Some("doc-a"), false);
        let mut first = None;
        // Asked every time, whether the id is another case's or nobody's,
        // and answered by the gate; past the first few only counted.
        for n in 0..AUDITED_ONE_BY_ONE + 5 {
            for (doc, reason) in [("doc-a", "not_assigned"), ("doc-x", "unknown_document")] {
                let req = msg("request", Some(doc), false);
                assert_eq!(gate.check(&req, 0, false), (Step::Ask(doc.into()), None));
                let (verdict, note) = gate.answer(&req, Err(reason), 0);
                assert_eq!(verdict, Verdict::Unavailable(doc.into()));
                let audited = 2 * n + u64::from(doc == "doc-x") < AUDITED_ONE_BY_ONE;
                assert_eq!(note.is_some(), audited, "{n} {doc}");
                if n == 0 && doc == "doc-a" {
                    first = note;
                }
            }
        }
        let first = first.unwrap();
        assert_eq!(
            (first.action, first.reason),
            ("request_refused", "not_assigned")
        );
        assert_eq!(gate.check(&req, 0, false).0, Step::Ask("doc-a".into()));
        // One budget for both reasons: the audit write (which the answer
        // waits for) stops for both at once.
        assert_eq!(
            gate.summary(),
            [AuditSummary {
                action: "request_refused",
                reason: DENIED,
                count: 2 * (AUDITED_ONE_BY_ONE + 5) - AUDITED_ONE_BY_ONE
            }]
        );
        tell(&mut gate, "doc-b", Ok(()), 0);
        let sync = msg("sync", Some("doc-b"), true);
        assert_eq!(
            gate.check(&sync, 0, false).0,
            Step::Decided(Verdict::Forward)
        );
    }

    #[test]
    fn an_access_change_forgets_what_was_learnt() {
        let mut gate = Gate::new(false);
        tell(&mut gate, "doc-a", Ok(()), 0);
        let sync = msg("sync", Some("doc-a"), false);
        assert_eq!(
            gate.check(&sync, 0, false).0,
            Step::Decided(Verdict::Forward)
        );
        assert_eq!(gate.check(&sync, 1, false).0, Step::Ask("doc-a".into()));
        // An answer from before the change is not learnt.
        tell(&mut gate, "doc-a", Ok(()), 0);
        assert_eq!(gate.check(&sync, 1, false).0, Step::Ask("doc-a".into()));
    }

    #[test]
    fn ephemeral_messages_are_dropped_and_only_counted() {
        let mut gate = Gate::new(true);
        for _ in 0..200 {
            let (step, note) = gate.check(&msg("ephemeral", Some("doc-a"), false), 0, false);
            assert_eq!(step, Step::Decided(Verdict::Drop));
            assert_eq!(note, None);
        }
        assert_eq!(
            gate.summary(),
            [AuditSummary {
                action: "ephemeral_dropped",
                reason: "not_relayed",
                count: 200
            }]
        );
    }

    #[test]
    fn writes_wait_while_the_store_fails_but_reads_go_on() {
        let mut gate = Gate::new(false);
        tell(&mut gate, "doc-a", Ok(()), 0);
        let read = msg("sync", Some("doc-a"), false);
        assert_eq!(
            gate.check(&read, 0, true).0,
            Step::Decided(Verdict::Forward)
        );
        let (step, note) = gate.check(&msg("sync", Some("doc-a"), true), 0, true);
        assert!(matches!(
            step,
            Step::Decided(Verdict::Close {
                code: CLOSE_STORAGE_UNAVAILABLE,
                ..
            })
        ));
        assert_eq!(note.unwrap().reason, "storage_unavailable");
    }
}
