//! Single-use tickets for `/sync`: browsers cannot set headers on a
//! WebSocket, so a device buys a ticket with its token and presents it in
//! the URL.

use std::time::{Duration, Instant};

use super::SyncEngine;
use crate::error::{Error, Result};
use crate::secrets;

const TICKET_LIFETIME: Duration = Duration::from_secs(60);
const MAX_TICKETS_PER_DEVICE: usize = 8;

/// Tickets a device may buy: 30 at once (a phone's dialer reconnecting
/// through a bad afternoon), then one every two seconds. Each connection
/// costs the server a socket, a task and its first sync.
pub fn ticket_rate() -> crate::throttle::Throttle<String> {
    crate::throttle::Throttle::new(30, Duration::from_secs(2))
}

/// Messages of a device the server may refuse (rules, malformed, out of
/// order) before it stops listening to it for [`COOL_DOWN`]: 200 at once,
/// then one a second. Each refused message cost a judgement; an honest
/// phone is refused a handful of times in a bad day. Counted per device,
/// across its connections.
pub fn refusal_rate() -> crate::throttle::Throttle<String> {
    crate::throttle::Throttle::new(200, Duration::from_secs(1))
}

/// Operations judged and refused that cost as much as one more refusal.
pub const OPS_PER_REFUSAL: u64 = 1_000;

/// How long a device whose refusals ran out waits before it may sync again.
pub const COOL_DOWN: Duration = Duration::from_secs(60);

/// The close code and reason when a device is cooled down.
pub const CLOSE_COOLING_DOWN: u16 = 1008;
pub const COOLING_DOWN: &str =
    "cooling_down: this device's messages were refused too often; it may sync again in a minute";

impl SyncEngine {
    /// A single-use ticket for `/sync`; a device holds at most a few
    /// unredeemed at once, so buying tickets in a loop costs nothing.
    pub fn buy_ticket(&self, device_id: &str) -> Result<String> {
        self.not_cooling_down(device_id)?;
        if self.ticket_rate.spend(device_id.to_owned(), Instant::now())
            != crate::throttle::Verdict::Allowed
        {
            return Err(Error::TooMany(
                "sync tickets bought by this device; reconnect a little later",
            ));
        }
        let ticket = secrets::token();
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tickets.retain(|_, (_, expires)| *expires > now);
        let held = tickets.values().filter(|(d, _)| d == device_id).count();
        if held >= MAX_TICKETS_PER_DEVICE {
            return Err(Error::TooMany(
                "unredeemed sync tickets for this device; use one or wait a minute",
            ));
        }
        tickets.insert(
            secrets::hash(&ticket),
            (device_id.to_owned(), now + TICKET_LIFETIME),
        );
        Ok(ticket)
    }

    /// `Err` while `device_id` is cooled down.
    pub fn not_cooling_down(&self, device_id: &str) -> Result<()> {
        let mut cooling = self.cooling.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        cooling.retain(|_, until| *until > now);
        if cooling.contains_key(device_id) {
            return Err(Error::TooMany(
                "refused messages from this device; it may sync again in a minute",
            ));
        }
        Ok(())
    }

    /// Counts one refused message of `device_id`; `true` when that spent
    /// its last: the device is cooled down from now, and its connection
    /// should close ([`COOLING_DOWN`]).
    pub fn refused_once(&self, device_id: &str) -> bool {
        self.refused_weighing(device_id, 0)
    }

    /// [`Self::refused_once`] for a message whose changes claimed `ops`
    /// operations: a refusal costs what judging it cost, one more for
    /// every [`OPS_PER_REFUSAL`], so a device refused with the largest
    /// message there is cools down at once instead of after 200 of them
    /// (each a second of a core).
    pub fn refused_weighing(&self, device_id: &str, ops: u64) -> bool {
        let now = Instant::now();
        let weight = 1.0 + (ops / OPS_PER_REFUSAL) as f64;
        if self
            .refusals
            .spend_weighted(device_id.to_owned(), weight, now)
            == crate::throttle::Verdict::Allowed
        {
            return false;
        }
        self.cooling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(device_id.to_owned(), now + COOL_DOWN);
        true
    }

    /// Single use: a ticket is gone once presented, valid or not.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<String> {
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        match tickets.remove(&secrets::hash(ticket)) {
            Some((device, expires)) if expires > Instant::now() => Some(device),
            _ => None,
        }
    }

    pub fn ticket_lifetime(&self) -> Duration {
        TICKET_LIFETIME
    }
}
