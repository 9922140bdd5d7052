//! Single-use tickets for `/sync`: browsers cannot set headers on a
//! WebSocket, so a device buys a ticket with its token and presents it in
//! the URL.

use std::time::{Duration, Instant};

use super::SyncEngine;
use crate::error::{Error, Result};
use crate::secrets;

const TICKET_LIFETIME: Duration = Duration::from_secs(60);
const MAX_TICKETS_PER_DEVICE: usize = 8;

impl SyncEngine {
    /// A single-use ticket for `/sync`; a device holds at most a few
    /// unredeemed at once, so buying tickets in a loop costs nothing.
    pub fn buy_ticket(&self, device_id: &str) -> Result<String> {
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
