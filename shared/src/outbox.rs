//! The device's outbox: how a record made on the phone joins its case.
//!
//! A state machine with no IO (events in, effects out), so every path is
//! tested without sockets or sleeps; the device core runs the effects and
//! feeds their outcomes back as events. A record is registered with the
//! server (with the proof that this device made it), then released to
//! sync; records register one at a time, most urgent kind first (see
//! [`Kind::priority`]), so a safeguarding concern never waits behind a
//! pile of visits. A refusal stops that record only, with a warning the
//! app shows on it; a failure to reach the server waits for the next
//! connection.

use std::collections::BTreeMap;

use crate::records::Kind;

/// A record this device made, as the outbox knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub document_id: String,
    pub kind: Kind,
    pub case_id: String,
    /// The nonce its id was made from (see [`crate::provenance`]).
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Made here; the server has not registered it yet.
    Waiting,
    /// A registration request is on its way.
    Registering,
    /// Registered: it syncs like any other document.
    Released,
    /// The server refused to register it, or refused its changes; the
    /// reason is shown on the record.
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A record was made on this device (or read back from the local
    /// store at start-up, still waiting).
    Made(Record),
    /// The server can be reached (a sync connection is being opened).
    Online,
    /// The server cannot be reached.
    Offline,
    Registered {
        document_id: String,
    },
    /// The server answered no (the case was unassigned, the proof failed).
    RegistrationRefused {
        document_id: String,
        reason: String,
    },
    /// The request did not get an answer (no signal, server down).
    RegistrationFailed {
        document_id: String,
    },
    /// The server refused changes to a released record.
    ChangesRefused {
        document_id: String,
        reason: String,
    },
    /// The server holds everything this device wrote in the record.
    Delivered {
        document_id: String,
    },
    /// An urgent record still not delivered long after it was made (the
    /// worker has been told to phone it in): the rest goes on, rather than
    /// wait behind it for ever.
    GiveWay {
        document_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Ask the server to register this record; answer with `Registered`,
    /// `RegistrationRefused` or `RegistrationFailed`.
    Register(Record),
    /// Let this record sync with the server.
    Release { document_id: String },
    /// Show this on the record.
    Warn {
        document_id: String,
        message: String,
    },
}

/// The priority of what jumps every queue (see [`Kind::priority`]).
const URGENT: u8 = 0;

#[derive(Debug, Default)]
pub struct Outbox {
    records: BTreeMap<String, (Record, State, u64)>,
    online: bool,
    /// Order of making, to keep registrations of one kind first come,
    /// first served.
    made: u64,
    /// Urgent records (a safeguarding concern) released but not yet known
    /// to be on the server, each with whether it gave way. Until they are
    /// there, nothing else is registered, so nothing else competes with
    /// them for a weak signal; one that gave way (overdue) holds nothing
    /// back any more, and its delivery is still noticed.
    urgent_on_the_way: BTreeMap<String, bool>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn state(&self, document_id: &str) -> Option<&State> {
        self.records.get(document_id).map(|(_, s, _)| s)
    }

    /// Whether everything but urgent records should wait (photos too):
    /// an urgent record is waiting or on its way to the server.
    pub fn holding_back(&self) -> bool {
        self.urgent_holding()
            || self.records.values().any(|(r, s, _)| {
                r.kind.priority() == URGENT && matches!(s, State::Waiting | State::Registering)
            })
    }

    /// Whether `document_id` is an urgent record released and not yet
    /// known to be delivered (also after it gave way: the worker still
    /// needs to see it delivered).
    pub fn on_its_way(&self, document_id: &str) -> bool {
        self.urgent_on_the_way.contains_key(document_id)
    }

    /// Whether `document_id` is on its way and already gave way.
    pub fn gave_way(&self, document_id: &str) -> bool {
        self.urgent_on_the_way.get(document_id) == Some(&true)
    }

    /// An urgent record on its way that has not given way.
    fn urgent_holding(&self) -> bool {
        self.urgent_on_the_way.values().any(|gave_way| !gave_way)
    }

    /// Records not yet registered (waiting or on their way).
    pub fn waiting(&self) -> usize {
        self.records
            .values()
            .filter(|(_, s, _)| matches!(s, State::Waiting | State::Registering))
            .count()
    }

    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        let mut effects = Vec::new();
        match event {
            Event::Made(record) => {
                if !self.records.contains_key(&record.document_id) {
                    self.made += 1;
                    let id = record.document_id.clone();
                    self.records.insert(id, (record, State::Waiting, self.made));
                }
            }
            Event::Online => self.online = true,
            Event::Offline => self.online = false,
            Event::Registered { document_id } => {
                if let Some((_, state, _)) = self.records.get_mut(&document_id)
                    && *state != State::Released
                {
                    *state = State::Released;
                    if self.records[&document_id].0.kind.priority() == URGENT {
                        self.urgent_on_the_way.insert(document_id.clone(), false);
                    }
                    effects.push(Effect::Release { document_id });
                }
            }
            Event::RegistrationRefused {
                document_id,
                reason,
            }
            | Event::ChangesRefused {
                document_id,
                reason,
            } => {
                self.urgent_on_the_way.remove(&document_id);
                if let Some((_, state, _)) = self.records.get_mut(&document_id) {
                    *state = State::Refused(reason.clone());
                    effects.push(Effect::Warn {
                        document_id,
                        message: reason,
                    });
                }
            }
            Event::Delivered { document_id } => {
                self.urgent_on_the_way.remove(&document_id);
            }
            Event::GiveWay { document_id } => {
                if let Some(gave_way) = self.urgent_on_the_way.get_mut(&document_id) {
                    *gave_way = true;
                }
            }
            Event::RegistrationFailed { document_id } => {
                if let Some((_, state, _)) = self.records.get_mut(&document_id)
                    && *state == State::Registering
                {
                    *state = State::Waiting;
                }
                // Try again when the next connection is made, not now.
                self.online = false;
            }
        }
        effects.extend(self.next_registration());
        effects
    }

    /// One registration at a time, the most urgent kind first.
    fn next_registration(&mut self) -> Option<Effect> {
        if !self.online
            || self
                .records
                .values()
                .any(|(_, s, _)| *s == State::Registering)
        {
            return None;
        }
        let urgent_only = self.urgent_holding();
        let (record, state, _) = self
            .records
            .values_mut()
            .filter(|(r, s, _)| {
                *s == State::Waiting && (!urgent_only || r.kind.priority() == URGENT)
            })
            .min_by_key(|(r, _, made)| (r.kind.priority(), *made))?;
        *state = State::Registering;
        Some(Effect::Register(record.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, kind: Kind) -> Record {
        Record {
            document_id: id.into(),
            kind,
            case_id: "case-1".into(),
            nonce: "00".repeat(16),
        }
    }

    fn made(outbox: &mut Outbox, id: &str) -> Vec<Effect> {
        outbox.handle(Event::Made(record(id, Kind::Visit)))
    }

    fn registered(id: &str) -> Event {
        Event::Registered {
            document_id: id.into(),
        }
    }

    #[test]
    fn made_offline_it_waits_and_registers_when_online() {
        let mut o = Outbox::new();
        assert_eq!(made(&mut o, "v1"), vec![]);
        assert_eq!(o.state("v1"), Some(&State::Waiting));
        assert_eq!(
            o.handle(Event::Online),
            vec![Effect::Register(record("v1", Kind::Visit))]
        );
        assert_eq!(o.state("v1"), Some(&State::Registering));
        assert_eq!(
            o.handle(registered("v1")),
            vec![Effect::Release {
                document_id: "v1".into()
            }]
        );
        assert_eq!(o.state("v1"), Some(&State::Released));
        assert_eq!(o.waiting(), 0);
    }

    #[test]
    fn made_online_it_registers_at_once() {
        let mut o = Outbox::new();
        o.handle(Event::Online);
        assert_eq!(
            made(&mut o, "v1"),
            vec![Effect::Register(record("v1", Kind::Visit))]
        );
    }

    #[test]
    fn one_at_a_time_most_urgent_kind_first_then_in_order_made() {
        let mut o = Outbox::new();
        made(&mut o, "v-b");
        made(&mut o, "v-a");
        o.handle(Event::Made(record("case-doc", Kind::Case)));
        assert_eq!(
            o.handle(Event::Online),
            vec![Effect::Register(record("case-doc", Kind::Case))]
        );
        // Nothing else starts while one is on its way.
        assert_eq!(made(&mut o, "v-c"), vec![]);
        assert_eq!(
            o.handle(registered("case-doc")),
            vec![
                Effect::Release {
                    document_id: "case-doc".into()
                },
                Effect::Register(record("v-b", Kind::Visit)),
            ]
        );
        assert_eq!(
            o.handle(registered("v-b")),
            vec![
                Effect::Release {
                    document_id: "v-b".into()
                },
                Effect::Register(record("v-a", Kind::Visit)),
            ]
        );
    }

    #[test]
    fn a_refusal_stops_that_record_only_and_says_why() {
        let mut o = Outbox::new();
        made(&mut o, "v1");
        made(&mut o, "v2");
        o.handle(Event::Online);
        let effects = o.handle(Event::RegistrationRefused {
            document_id: "v1".into(),
            reason: "case was not found".into(),
        });
        assert_eq!(
            effects,
            vec![
                Effect::Warn {
                    document_id: "v1".into(),
                    message: "case was not found".into()
                },
                Effect::Register(record("v2", Kind::Visit)),
            ]
        );
        assert_eq!(
            o.state("v1"),
            Some(&State::Refused("case was not found".into()))
        );
        // Reconnecting does not ask again for a refused record.
        o.handle(registered("v2"));
        assert_eq!(o.handle(Event::Online), vec![]);
    }

    #[test]
    fn no_signal_waits_for_the_next_connection() {
        let mut o = Outbox::new();
        made(&mut o, "v1");
        o.handle(Event::Online);
        assert_eq!(
            o.handle(Event::RegistrationFailed {
                document_id: "v1".into()
            }),
            vec![]
        );
        assert_eq!(o.state("v1"), Some(&State::Waiting));
        assert_eq!(made(&mut o, "v2"), vec![], "offline until told otherwise");
        assert_eq!(
            o.handle(Event::Online),
            vec![Effect::Register(record("v1", Kind::Visit))]
        );
    }

    #[test]
    fn going_offline_holds_what_has_not_started() {
        let mut o = Outbox::new();
        o.handle(Event::Online);
        assert_eq!(made(&mut o, "v1").len(), 1);
        o.handle(Event::Offline);
        made(&mut o, "v2");
        // The answer for v1 still counts; v2 waits for a connection.
        assert_eq!(
            o.handle(registered("v1")),
            vec![Effect::Release {
                document_id: "v1".into()
            }]
        );
        assert_eq!(o.state("v2"), Some(&State::Waiting));
    }

    #[test]
    fn refused_changes_warn_on_a_released_record() {
        let mut o = Outbox::new();
        made(&mut o, "v1");
        o.handle(Event::Online);
        o.handle(registered("v1"));
        assert_eq!(
            o.handle(Event::ChangesRefused {
                document_id: "v1".into(),
                reason: "signed off".into()
            }),
            vec![Effect::Warn {
                document_id: "v1".into(),
                message: "signed off".into()
            }]
        );
    }

    #[test]
    fn events_about_unknown_records_and_repeats_do_nothing() {
        let mut o = Outbox::new();
        for e in [
            registered("nope"),
            Event::RegistrationFailed {
                document_id: "nope".into(),
            },
            Event::RegistrationRefused {
                document_id: "nope".into(),
                reason: "x".into(),
            },
            Event::ChangesRefused {
                document_id: "nope".into(),
                reason: "x".into(),
            },
            Event::Offline,
        ] {
            assert_eq!(o.handle(e), vec![]);
        }
        made(&mut o, "v1");
        assert_eq!(made(&mut o, "v1"), vec![], "made twice is made once");
        o.handle(Event::Online);
        o.handle(registered("v1"));
        assert_eq!(o.handle(registered("v1")), vec![], "released once");
    }

    /// An outbox holding `v1` in `state` (online unless it is waiting).
    fn holding(state: &State) -> Outbox {
        let mut o = Outbox::new();
        made(&mut o, "v1");
        match state {
            State::Waiting => {}
            State::Registering => {
                o.handle(Event::Online);
            }
            State::Released => {
                o.handle(Event::Online);
                o.handle(registered("v1"));
            }
            State::Refused(_) => {
                o.handle(Event::Online);
                o.handle(Event::RegistrationRefused {
                    document_id: "v1".into(),
                    reason: "no".into(),
                });
            }
        }
        assert_eq!(o.state("v1"), Some(state));
        o
    }

    #[test]
    fn every_event_in_every_state() {
        use State::*;
        let no = || Refused("no".into());
        let register = || vec![Effect::Register(record("v1", Kind::Visit))];
        let release = || {
            vec![Effect::Release {
                document_id: "v1".into(),
            }]
        };
        let warn = || {
            vec![Effect::Warn {
                document_id: "v1".into(),
                message: "no".into(),
            }]
        };
        let events: [(&str, Event); 9] = [
            ("made", Event::Made(record("v1", Kind::Visit))),
            ("online", Event::Online),
            ("offline", Event::Offline),
            ("registered", registered("v1")),
            (
                "registration refused",
                Event::RegistrationRefused {
                    document_id: "v1".into(),
                    reason: "no".into(),
                },
            ),
            (
                "registration failed",
                Event::RegistrationFailed {
                    document_id: "v1".into(),
                },
            ),
            (
                "changes refused",
                Event::ChangesRefused {
                    document_id: "v1".into(),
                    reason: "no".into(),
                },
            ),
            (
                "delivered",
                Event::Delivered {
                    document_id: "v1".into(),
                },
            ),
            (
                "give way",
                Event::GiveWay {
                    document_id: "v1".into(),
                },
            ),
        ];
        /// After each event, in the order above: the state and the effects.
        type Outcomes = [(State, Vec<Effect>); 9];
        let table: Vec<(State, Outcomes)> = vec![
            (
                Waiting,
                [
                    (Waiting, vec![]),
                    (Registering, register()),
                    (Waiting, vec![]),
                    (Released, release()),
                    (no(), warn()),
                    (Waiting, vec![]),
                    (no(), warn()),
                    (Waiting, vec![]),
                    (Waiting, vec![]),
                ],
            ),
            (
                Registering,
                [
                    (Registering, vec![]),
                    (Registering, vec![]),
                    (Registering, vec![]),
                    (Released, release()),
                    (no(), warn()),
                    (Waiting, vec![]),
                    (no(), warn()),
                    (Registering, vec![]),
                    (Registering, vec![]),
                ],
            ),
            (
                Released,
                [
                    (Released, vec![]),
                    (Released, vec![]),
                    (Released, vec![]),
                    (Released, vec![]),
                    (no(), warn()),
                    (Released, vec![]),
                    (no(), warn()),
                    (Released, vec![]),
                    (Released, vec![]),
                ],
            ),
            (
                no(),
                [
                    (no(), vec![]),
                    (no(), vec![]),
                    (no(), vec![]),
                    (Released, release()),
                    (no(), warn()),
                    (no(), vec![]),
                    (no(), warn()),
                    (no(), vec![]),
                    (no(), vec![]),
                ],
            ),
        ];
        for (state, outcomes) in table {
            for ((name, event), (after, effects)) in events.iter().zip(outcomes) {
                let mut o = holding(&state);
                assert_eq!(o.handle(event.clone()), effects, "{name} in {state:?}");
                assert_eq!(o.state("v1"), Some(&after), "{name} in {state:?}");
            }
        }
    }

    #[test]
    fn a_concern_goes_first_and_everything_else_waits_until_it_is_delivered() {
        let mut o = Outbox::new();
        for id in ["v1", "v2"] {
            made(&mut o, id);
        }
        o.handle(Event::Made(record("c1", Kind::Concern)));
        assert!(o.holding_back());
        assert_eq!(
            o.handle(Event::Online),
            vec![Effect::Register(record("c1", Kind::Concern))]
        );
        assert_eq!(
            o.handle(registered("c1")),
            vec![Effect::Release {
                document_id: "c1".into()
            }],
            "nothing else registers while the concern is on its way"
        );
        assert!(o.holding_back());
        assert_eq!(
            o.handle(Event::Delivered {
                document_id: "c1".into()
            }),
            vec![Effect::Register(record("v1", Kind::Visit))]
        );
        assert!(!o.holding_back());
    }

    #[test]
    fn an_undeliverable_concern_gives_way_when_it_is_overdue() {
        let mut o = Outbox::new();
        made(&mut o, "v1");
        o.handle(Event::Made(record("c1", Kind::Concern)));
        o.handle(Event::Online);
        assert_eq!(
            o.handle(registered("c1")).len(),
            1,
            "released, nothing else"
        );
        assert_eq!(
            o.handle(Event::GiveWay {
                document_id: "c1".into()
            }),
            vec![Effect::Register(record("v1", Kind::Visit))]
        );
        assert!(!o.holding_back());
        // Still watched for: when the server has it, the worker is told
        // (this once went unnoticed, and the phone said "not yet
        // delivered" with the concern on the server).
        assert!(o.on_its_way("c1") && o.gave_way("c1"));
        assert_eq!(
            o.handle(Event::GiveWay {
                document_id: "c1".into()
            }),
            vec![],
            "giving way twice changes nothing"
        );
        o.handle(Event::Delivered {
            document_id: "c1".into(),
        });
        assert!(!o.on_its_way("c1") && !o.gave_way("c1"));
        assert!(!o.holding_back());
    }

    #[test]
    fn a_refused_concern_holds_nothing_back() {
        let mut o = Outbox::new();
        made(&mut o, "v1");
        o.handle(Event::Made(record("c1", Kind::Concern)));
        o.handle(Event::Online);
        o.handle(registered("c1"));
        assert_eq!(
            o.handle(Event::ChangesRefused {
                document_id: "c1".into(),
                reason: "no".into()
            }),
            vec![
                Effect::Warn {
                    document_id: "c1".into(),
                    message: "no".into()
                },
                Effect::Register(record("v1", Kind::Visit))
            ]
        );
    }
}
