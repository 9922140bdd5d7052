//! Attempts per key: per source address for what a stranger can try
//! without a token (enrolment codes, tokens), per device for what an
//! enrolled device can make the server do at length (read and audit whole
//! case records, search). A token bucket per key: a burst of `burst`
//! attempts, then one every `refill`. Pure: the caller passes the time, so
//! it is tested without sleeping.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered at most; past this, those with a full bucket again are
/// forgotten (they have nothing to remember).
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug)]
pub struct Throttle<K = IpAddr> {
    burst: f64,
    refill: Duration,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
    /// The address was refused since it last had a token: audit once.
    refusing: bool,
}

/// What one attempt met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; `first` is true for the first refusal of a streak (write it
    /// to the audit log; the rest of the streak is not).
    Refused {
        first: bool,
    },
}

impl<K: Hash + Eq> Throttle<K> {
    pub fn new(burst: u32, refill: Duration) -> Self {
        Throttle {
            burst: f64::from(burst),
            refill,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` may try now, without spending anything (for failed
    /// authentication, spent only when it fails).
    pub fn check(&self, ip: K, now: Instant) -> Verdict {
        self.with_bucket(ip, now, |b| {
            if b.tokens >= 1.0 {
                Verdict::Allowed
            } else {
                Self::refuse(b)
            }
        })
    }

    /// Spends `weight` attempts of `key` at once: refused (with what was
    /// left spent) when fewer remain.
    pub fn spend_weighted(&self, key: K, weight: f64, now: Instant) -> Verdict {
        self.with_bucket(key, now, |b| {
            if b.tokens >= weight {
                b.tokens -= weight;
                Verdict::Allowed
            } else {
                b.tokens = 0.0;
                Self::refuse(b)
            }
        })
    }

    /// Spends one attempt of `ip`.
    pub fn spend(&self, ip: K, now: Instant) -> Verdict {
        self.with_bucket(ip, now, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Verdict::Allowed
            } else {
                Self::refuse(b)
            }
        })
    }

    fn refuse(b: &mut Bucket) -> Verdict {
        let first = !b.refusing;
        b.refusing = true;
        Verdict::Refused { first }
    }

    fn with_bucket(&self, ip: K, now: Instant, f: impl FnOnce(&mut Bucket) -> Verdict) -> Verdict {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_ADDRESSES && !buckets.contains_key(&ip) {
            let (burst, refill) = (self.burst, self.refill);
            buckets.retain(|_, b| refilled(b, now, burst, refill).tokens < burst);
        }
        let burst = self.burst;
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
            refusing: false,
        });
        *b = refilled(b, now, self.burst, self.refill);
        if b.tokens >= 1.0 {
            b.refusing = false;
        }
        f(b)
    }
}

fn refilled(b: &Bucket, now: Instant, burst: f64, refill: Duration) -> Bucket {
    let earned = now.saturating_duration_since(b.at).as_secs_f64() / refill.as_secs_f64();
    Bucket {
        tokens: (b.tokens + earned).min(burst),
        at: now,
        refusing: b.refusing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The refusal budget weighs a refusal by what judging it cost: the
    /// largest message there is spends the whole burst at once.
    #[test]
    fn a_weighted_spend_takes_what_it_costs_and_refuses_past_what_is_left() {
        let t = Throttle::<String>::new(200, Duration::from_secs(1));
        let start = Instant::now();
        let device = || "device-1".to_owned();
        assert_eq!(t.spend_weighted(device(), 150.0, start), Verdict::Allowed);
        assert_eq!(t.spend_weighted(device(), 50.0, start), Verdict::Allowed);
        assert_eq!(
            t.spend_weighted(device(), 1.0, start),
            Verdict::Refused { first: true }
        );
        let later = start + Duration::from_secs(10);
        assert!(matches!(
            t.spend_weighted(device(), 201.0, later),
            Verdict::Refused { .. }
        ));
        // What was left went with the refusal: nothing remains.
        assert!(matches!(t.spend(device(), later), Verdict::Refused { .. }));
    }

    #[test]
    fn a_burst_then_one_per_refill_and_one_audit_per_streak() {
        let t = Throttle::new(3, Duration::from_secs(10));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.spend(ip, start), Verdict::Allowed);
        }
        assert_eq!(t.spend(ip, start), Verdict::Refused { first: true });
        assert_eq!(t.check(ip, start), Verdict::Refused { first: false });
        assert_eq!(t.spend(other, start), Verdict::Allowed, "per address");
        let later = start + Duration::from_secs(10);
        assert_eq!(t.check(ip, later), Verdict::Allowed);
        assert_eq!(t.spend(ip, later), Verdict::Allowed);
        assert_eq!(t.spend(ip, later), Verdict::Refused { first: true });
    }

    #[test]
    fn memory_is_bounded_by_addresses_with_something_to_remember() {
        let t = Throttle::new(2, Duration::from_secs(1));
        let start = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 + 50) {
            t.spend(IpAddr::from(i.to_be_bytes()), start);
        }
        // A second later every bucket is full again and can be forgotten.
        t.spend(
            "198.51.100.1".parse().unwrap(),
            start + Duration::from_secs(2),
        );
        assert!(t.buckets.lock().unwrap().len() <= 2);
    }
}
