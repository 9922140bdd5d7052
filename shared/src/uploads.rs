//! When and how a device sends its photos: after its words, in chunks that
//! go on from where the server says it stands. No IO: the device core asks
//! what to send next and tells this what the server answered.

/// Bytes per chunk: small enough that a dropped connection on a phone
/// loses little and the app can show progress; large enough that a 600 KB
/// photo takes ten requests.
pub const CHUNK: u64 = 64 * 1024;

/// A photo's upload: its size, and how much the server is known to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upload {
    pub total: u64,
    pub received: u64,
}

/// What the server said to a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It has `received` bytes (perhaps more than sent: another attempt
    /// got through before the connection dropped), and is `complete`.
    Took { received: u64, complete: bool },
    /// It does not know the photo yet: the words that refer to it have not
    /// reached it, or not been read yet.
    NotKnownYet,
    /// No, for good (not a photo it accepts): the reason, shown on it.
    Refused(String),
    /// No answer (no signal, the server busy): try again later.
    NoAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Then {
    /// Send the next chunk.
    Continue(Upload),
    /// The server has it all.
    Done,
    /// Leave this photo for now; go on with the next.
    Later,
    Refused(String),
    /// Stop sending anything until the next connection.
    Stop,
}

impl Upload {
    /// The next chunk: its start and end, or `None` when all is sent.
    pub fn next(&self) -> Option<(u64, u64)> {
        (self.received < self.total)
            .then(|| (self.received, (self.received + CHUNK).min(self.total)))
    }

    pub fn after(self, answer: Answer) -> Then {
        match answer {
            Answer::Took { complete: true, .. } => Then::Done,
            Answer::Took { received, .. } if received <= self.total => {
                Then::Continue(Upload { received, ..self })
            }
            // More than there is: not this photo's upload; start again.
            Answer::Took { .. } => Then::Continue(Upload {
                received: 0,
                ..self
            }),
            Answer::NotKnownYet => Then::Later,
            Answer::Refused(reason) => Then::Refused(reason),
            Answer::NoAnswer => Then::Stop,
        }
    }
}

/// Photos go only when none of the words is waiting: a photo never holds
/// up what a worker typed.
pub fn may_send(connected: bool, pending_changes: usize, registrations_waiting: usize) -> bool {
    connected && pending_changes == 0 && registrations_waiting == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_go_on_from_where_the_server_stands() {
        let up = Upload {
            total: 150_000,
            received: 0,
        };
        assert_eq!(up.next(), Some((0, CHUNK)));
        let Then::Continue(up) = up.after(Answer::Took {
            received: CHUNK,
            complete: false,
        }) else {
            panic!()
        };
        assert_eq!(up.next(), Some((CHUNK, 2 * CHUNK)));
        // A chunk whose answer was lost got through: the server says so.
        let Then::Continue(up) = up.after(Answer::Took {
            received: 2 * CHUNK,
            complete: false,
        }) else {
            panic!()
        };
        assert_eq!(up.next(), Some((2 * CHUNK, 150_000)));
        assert_eq!(
            up.after(Answer::Took {
                received: 150_000,
                complete: true
            }),
            Then::Done
        );
        assert_eq!(
            Upload {
                total: 10,
                received: 10
            }
            .next(),
            None
        );
    }

    #[test]
    fn every_answer_has_its_next_step() {
        let up = Upload {
            total: 100,
            received: 50,
        };
        assert_eq!(up.after(Answer::NotKnownYet), Then::Later);
        assert_eq!(up.after(Answer::NoAnswer), Then::Stop);
        assert_eq!(
            up.after(Answer::Refused("has_metadata".into())),
            Then::Refused("has_metadata".into())
        );
        assert_eq!(
            up.after(Answer::Took {
                received: 500,
                complete: false
            }),
            Then::Continue(Upload {
                total: 100,
                received: 0
            })
        );
    }

    #[test]
    fn photos_wait_for_the_words() {
        assert!(may_send(true, 0, 0));
        assert!(!may_send(false, 0, 0));
        assert!(!may_send(true, 1, 0), "typing still on its way");
        assert!(!may_send(true, 0, 1), "a visit not yet registered");
    }
}
