//! The practice's webhook: when a safeguarding concern arrives, a signed
//! POST to a URL the practice configures, so that someone is told even when
//! no supervisor has the app open.
//!
//! The call is queued in the same transaction as the alert (see
//! `db/alerts.rs`), so it survives a restart; this sender only reads the
//! queue, calls, and records every attempt (each one lands in the audit
//! log). Delivery is at least once: a call whose answer is lost is made
//! again, with the same `Fieldvisit-Delivery` id, so a receiver can drop the
//! second.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::db::{Attempted, Db, Delivery};

type HmacSha256 = Hmac<Sha256>;

/// The header carrying `t=<unix seconds>,v1=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "Fieldvisit-Signature";
/// The header carrying the alert id, the same on every attempt.
pub const DELIVERY_HEADER: &str = "Fieldvisit-Delivery";
/// The header carrying the attempt's number, from 1.
pub const ATTEMPT_HEADER: &str = "Fieldvisit-Attempt";

/// A receiver that hangs must not hold up the calls behind it; one that is
/// merely slow gets the next attempt.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// However far off the next due call, look at the queue again this often:
/// it costs nothing and covers a queue changed where `wake` cannot reach.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// The value of `Fieldvisit-Signature` for `body` sent at `timestamp`
/// (unix seconds). The timestamp is signed with the body so that a call
/// captured on the way cannot be replayed later (see [`verify`]). The key is
/// the secret's bytes as the admin command printed it.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &str, timestamp: i64, body: &str) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// The receiver's recipe, written as code so that it is tested: whether
/// `header` (the `Fieldvisit-Signature` value) signs `body` (the request's
/// bytes exactly as received, before any JSON parsing) under `secret`, at a
/// time within `tolerance_secs` of `now` (unix seconds; 300 is usual).
///
/// A receiver should then drop a call whose `Fieldvisit-Delivery` id it has
/// already handled: calls are made at least once, not exactly once.
///
/// 1. Split the header on `,` into `key=value` pairs; take `t` and every
///    `v1` (more than one may come, e.g. while a secret is being changed).
/// 2. Refuse when `t` is further than the tolerance from now: a captured
///    call replayed later fails here.
/// 3. Compute HMAC-SHA256 over `"<t>.<body>"` with the secret as key, and
///    compare it with each `v1` (hex) in constant time, so that the time a
///    refusal takes tells an attacker nothing about the right value.
pub fn verify(secret: &str, header: &str, body: &str, now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else {
        return false;
    };
    if now.abs_diff(t) > tolerance_secs.max(0).unsigned_abs() {
        return false;
    }
    let expected = mac(secret, t, body);
    candidates
        .into_iter()
        .any(|v| hex::decode(v).is_ok_and(|bytes| expected.clone().verify_slice(&bytes).is_ok()))
}

/// Why a URL cannot be the practice's webhook, in words for the admin.
pub fn check_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| match e {
        // Host names are read as ASCII only (idna_adapter 1.0, see
        // mobile/Cargo.toml).
        url::ParseError::IdnaError => format!(
            "{url:?}: write its host name in ASCII (an international name in its xn-- form)"
        ),
        e => format!("{url:?} is not a URL: {e}"),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the webhook must be an http or https URL, not {}:",
            parsed.scheme()
        ));
    }
    if parsed.host().is_none() {
        return Err(format!("{url:?} names no host"));
    }
    // The URL is written to the audit log and shown to admins; the
    // signature is what tells the receiver the call is ours.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "put no user name or password in the webhook URL: it is written to the audit log; \
             the receiver checks the signature instead"
                .into(),
        );
    }
    Ok(parsed)
}

/// How long to wait before trying a failed call again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The first wait; later ones are multiples of it, and so is how long
    /// the sender keeps trying. Tests shrink it to see the retries quickly.
    pub base: Duration,
}

/// The default base: with it, 10 s, 30 s, 1, 2, 5 minutes, then every 10
/// minutes, for 75 minutes in all.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(10);

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            base: DEFAULT_RETRY_BASE,
        }
    }
}

/// Each wait as a multiple of the base; the last repeats. Quick at first
/// (a receiver restarting), then spaced out (a receiver down for a while).
const STEPS: [u32; 6] = [1, 3, 6, 12, 30, 60];

/// How long to keep trying, as a multiple of the base: over an hour at the
/// default, because the product promises "at least an hour".
const GIVE_UP_AFTER: u32 = 450;

impl Schedule {
    /// The wait before the next attempt, after `attempts_made` attempts
    /// that all failed, the first of them `since_first` ago; `None` once
    /// the sender has tried long enough.
    pub fn next(&self, attempts_made: u32, since_first: Duration) -> Option<Duration> {
        if since_first >= self.times(GIVE_UP_AFTER) {
            return None;
        }
        let Some(last) = attempts_made.checked_sub(1) else {
            return Some(Duration::ZERO);
        };
        let step = STEPS[(last as usize).min(STEPS.len() - 1)];
        Some(self.times(step))
    }

    /// How long `attempts_made` failed attempts took, by the schedule: for
    /// a delivery whose stored start cannot be read.
    fn elapsed_after(&self, attempts_made: u32) -> Duration {
        (1..attempts_made)
            .filter_map(|n| self.next(n, Duration::ZERO))
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    fn times(&self, n: u32) -> Duration {
        self.base.checked_mul(n).unwrap_or(Duration::MAX)
    }
}

/// The webhook sender: forever, make the calls that are due, record each
/// attempt, then sleep until the next is due or `wake` says one was queued.
pub async fn run(db: Db, wake: Arc<Notify>, schedule: Schedule) {
    let client = match reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        // A redirected POST may arrive as a GET, or somewhere the practice
        // never configured: a 3xx is a failed attempt, in the audit log.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            "fieldvisit-sync-server/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "the webhook sender cannot start: no safeguarding webhook calls will be made");
            return;
        }
    };
    loop {
        // Listening before reading the queue, so that a call queued while we
        // read is not missed (a `notify_one` also leaves a permit).
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();

        let mut trouble = false;
        match db.run(|db| db.due_deliveries(&crate::db::now())).await {
            Ok(due) => {
                for delivery in due {
                    trouble |= !attempt(&client, &db, &schedule, delivery).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the webhook calls due");
                trouble = true;
            }
        }
        let wait = match db.run(|db| db.next_delivery_at()).await {
            Ok(Some(at)) => until(&at).unwrap_or_else(|| {
                tracing::error!(at, "a queued webhook call has an unreadable due time");
                LONGEST_WAIT
            }),
            Ok(None) => LONGEST_WAIT,
            Err(e) => {
                tracing::error!(error = %e, "could not read when the next webhook call is due");
                LONGEST_WAIT
            }
        };
        // An attempt that could not be recorded stays due: without a pause
        // the receiver would be called again at once, over and over.
        let wait = if trouble {
            wait.max(schedule.base)
        } else {
            wait
        }
        .min(LONGEST_WAIT);
        tokio::select! {
            _ = &mut woken => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One attempt at one call, recorded. False when the record could not be
/// written (the call stays due).
async fn attempt(client: &reqwest::Client, db: &Db, schedule: &Schedule, d: Delivery) -> bool {
    let number = d.attempts.saturating_add(1);
    let outcome = match db.run(|db| db.webhook()).await {
        Err(e) => {
            tracing::error!(error = %e, "could not read the practice's webhook secret");
            return false;
        }
        Ok(None) => Attempted::GaveUp {
            error: "the practice has no webhook any more".into(),
        },
        Ok(Some((_, secret))) => match call(client, &d, number, &secret).await {
            Ok(status) => Attempted::Delivered { status },
            Err(Failure::Permanent(error)) => Attempted::GaveUp { error },
            Err(Failure::Transient(error)) => {
                let since_first = since(&d.created_at).unwrap_or_else(|| {
                    tracing::warn!(alert = %d.alert_id, created_at = %d.created_at, "a queued webhook call has an unreadable start; counting by its attempts");
                    schedule.elapsed_after(number)
                });
                match schedule.next(number, since_first) {
                    Some(wait) => Attempted::Failed {
                        error,
                        next_at: after(wait),
                    },
                    None => Attempted::GaveUp { error },
                }
            }
        },
    };
    match &outcome {
        Attempted::Delivered { status } => {
            tracing::info!(alert = %d.alert_id, attempt = number, status, "safeguarding webhook delivered")
        }
        Attempted::Failed { error, next_at } => {
            tracing::warn!(alert = %d.alert_id, attempt = number, error, next_at, "safeguarding webhook failed; will try again")
        }
        Attempted::GaveUp { error } => {
            tracing::error!(alert = %d.alert_id, attempt = number, error, "safeguarding webhook given up")
        }
    }
    let alert_id = d.alert_id.clone();
    match db
        .run(move |db| db.delivery_attempted(&alert_id, &outcome))
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(alert = %d.alert_id, error = %e, "could not record a webhook attempt");
            false
        }
    }
}

enum Failure {
    /// Worth trying again.
    Transient(String),
    /// No retry can succeed.
    Permanent(String),
}

async fn call(
    client: &reqwest::Client,
    d: &Delivery,
    number: u32,
    secret: &str,
) -> Result<u16, Failure> {
    let url = check_url(&d.url).map_err(Failure::Permanent)?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(secret, Utc::now().timestamp(), &d.body),
        )
        .header(DELIVERY_HEADER, &d.alert_id)
        .header(ATTEMPT_HEADER, number.to_string())
        .body(d.body.clone())
        .send()
        .await
        .map_err(|e| Failure::Transient(describe(e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(Failure::Transient(format!("HTTP {}", status.as_u16())))
    }
}

/// An error for the audit log: the cause (refused, unknown host, a TLS
/// problem), never the URL, which may carry a receiver's token.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", CALL_TIMEOUT.as_secs());
    }
    let e = e.without_url();
    // reqwest's own message is generic ("error sending request"); the
    // cause is further down the chain.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if text.len() > 500 {
        let mut cut = 500;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// How long ago `at` (RFC 3339) was; zero if it is in the future.
fn since(at: &str) -> Option<Duration> {
    let at = DateTime::parse_from_rfc3339(at).ok()?;
    Some(
        (Utc::now() - at.with_timezone(&Utc))
            .to_std()
            .unwrap_or_default(),
    )
}

/// How long until `at` (RFC 3339); zero if it is past.
fn until(at: &str) -> Option<Duration> {
    let at = DateTime::parse_from_rfc3339(at).ok()?;
    Some(
        (at.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or_default(),
    )
}

/// The time `wait` from now, written as `crate::db::now()` writes times, so
/// that the queue's string comparisons order it correctly.
fn after(wait: Duration) -> String {
    // No schedule waits a day; a base set absurdly high must not overflow.
    let wait = chrono::TimeDelta::from_std(wait.min(Duration::from_secs(86_400)))
        .unwrap_or(chrono::TimeDelta::zero());
    (Utc::now() + wait).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use fieldvisit_shared::api::{AlertView, AuditFilter, ConcernWebhook, Role};

    use super::*;
    use crate::db::DatabaseUri;

    const SECRET: &str = "whsec-test";

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec-test',
        //   b'1700000000.{\"id\":\"alert-1\"}', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature(SECRET, 1_700_000_000, r#"{"id":"alert-1"}"#),
            "t=1700000000,v1=82c6982a7c8781db6ee5173a8fbaa7732e342c962e5b5e92d2c4a302b5f4acdb"
        );
    }

    #[test]
    fn a_receiver_accepts_only_the_right_secret_body_and_time() {
        let body = r#"{"id":"alert-1","event":"safeguarding_concern.raised"}"#;
        let t = 1_700_000_000;
        let header = signature(SECRET, t, body);
        assert!(verify(SECRET, &header, body, t, 300));
        assert!(verify(SECRET, &header, body, t + 300, 300));
        assert!(verify(SECRET, &header, body, t - 300, 300));
        assert!(!verify("another secret", &header, body, t, 300));
        assert!(!verify(
            SECRET,
            &header,
            &body.replace("alert-1", "alert-2"),
            t,
            300
        ));
        assert!(!verify(SECRET, &header, body, t + 301, 300), "stale");
        assert!(
            !verify(SECRET, &header, body, t - 301, 300),
            "from the future"
        );
        // The timestamp is signed too: moving it forward breaks the signature.
        let moved = header.replace("t=1700000000", "t=1700000200");
        assert!(!verify(SECRET, &moved, body, t + 200, 300));
        // While a secret is changed, either signature may be the good one.
        let v1 = header.split_once(",v1=").unwrap().1;
        assert!(verify(
            SECRET,
            &format!("t={t},v1=00ff,v1={v1}"),
            body,
            t,
            300
        ));
        for garbage in [
            "",
            "t=abc,v1=00",
            &format!("v1={v1}"),
            &format!("t={t}"),
            &format!("t={t},v1=zz"),
        ] {
            assert!(!verify(SECRET, garbage, body, t, 300), "{garbage:?}");
        }
    }

    #[test]
    fn retries_back_off_and_go_on_for_over_an_hour() {
        let s = Schedule::default();
        let secs = |n: u32| s.next(n, Duration::ZERO).map(|d| d.as_secs());
        assert_eq!(
            (1..=8).map(secs).collect::<Vec<_>>(),
            [10, 30, 60, 120, 300, 600, 600, 600].map(Some)
        );
        assert_eq!(s.next(0, Duration::ZERO), Some(Duration::ZERO));
        assert_eq!(secs(u32::MAX), Some(600));
        assert!(s.next(9, Duration::from_secs(4499)).is_some());
        assert_eq!(s.next(9, Duration::from_secs(4500)), None);

        // A receiver that never answers: the attempts span over an hour.
        let (mut at, mut attempts) = (Duration::ZERO, 0);
        let last = loop {
            attempts += 1;
            match s.next(attempts, at) {
                Some(wait) => at += wait,
                None => break at,
            }
        };
        assert!(last >= Duration::from_secs(3600), "{last:?}");
        assert_eq!(s.elapsed_after(attempts), last);

        // Everything scales with the base.
        let fast = Schedule {
            base: Duration::from_millis(50),
        };
        assert_eq!(
            fast.next(2, Duration::ZERO),
            Some(Duration::from_millis(150))
        );
        assert_eq!(fast.next(2, Duration::from_millis(22_500)), None);
        let huge = Schedule {
            base: Duration::MAX,
        };
        assert_eq!(huge.next(3, Duration::ZERO), Some(Duration::MAX));
    }

    #[test]
    fn only_http_urls_without_credentials_are_webhooks() {
        assert!(check_url("https://hooks.example.org/fieldvisit?team=1").is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        for bad in [
            "",
            "hooks.example.org",
            "ftp://example.org/x",
            "file:///etc/passwd",
            "https://user:pw@example.org/",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?}");
        }
        // An international host name, in its ASCII form only.
        let why = check_url("https://bücher.example/hook").unwrap_err();
        assert!(why.contains("xn--"), "{why}");
        assert!(check_url("https://xn--bcher-kva.example/hook").is_ok());
    }

    /// What the receiver was sent.
    struct Call {
        headers: HeaderMap,
        body: String,
    }

    #[derive(Clone)]
    struct Receiver {
        calls: Arc<Mutex<Vec<Call>>>,
        /// Answer 500 this many more times, then 200.
        failures: Arc<AtomicU32>,
    }

    impl Receiver {
        fn count(&self) -> usize {
            self.calls.lock().unwrap().len()
        }
    }

    async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
        let fail = r
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        r.calls.lock().unwrap().push(Call { headers, body });
        if fail {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }

    /// A receiver on 127.0.0.1 and its URL.
    async fn receiver(failures: u32) -> (Receiver, String) {
        let r = Receiver {
            calls: Arc::default(),
            failures: Arc::new(AtomicU32::new(failures)),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (r, url)
    }

    /// A practice with a worker, their supervisor and a case.
    fn practice(uri: &DatabaseUri) -> Db {
        let db = Db::open(uri).unwrap();
        db.insert_person("sup", "Sam Supervisor", &Role::Supervisor, None)
            .unwrap();
        db.insert_person("w1", "Wren Worker", &Role::Worker, Some("sup"))
            .unwrap();
        db.insert_case("c1", "REF-1", "Alex", "docCase").unwrap();
        db.assign("c1", "w1").unwrap();
        db
    }

    fn raise(db: &Db) -> AlertView {
        db.raise_alert("dev1", "docConcern", "c1", "w1", "2025-01-01T09:00:00.000Z")
            .unwrap()
            .expect("a new alert")
    }

    fn audited(db: &Db, action: &str) -> usize {
        db.audit_entries(&AuditFilter {
            action: Some(action.into()),
            ..Default::default()
        })
        .unwrap()
        .len()
    }

    /// Polls `done` until it holds; generous, because CI machines are slow.
    async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn header<'a>(call: &'a Call, name: &str) -> &'a str {
        call.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_failing_receiver_gets_signed_retries_until_it_answers() {
        let dir = tempfile::tempdir().unwrap();
        let db = practice(&DatabaseUri::for_data_dir(dir.path()));
        let (receiver, url) = receiver(2).await;
        db.set_webhook(Some((&url, SECRET))).unwrap();
        let wake = Arc::new(Notify::new());
        let sender = tokio::spawn(run(
            db.clone(),
            wake.clone(),
            Schedule {
                base: Duration::from_millis(50),
            },
        ));

        // The sender is likely asleep with nothing to do by now: then the
        // wake is what starts it.
        let alert = raise(&db);
        wake.notify_one();
        eventually("the delivery", || audited(&db, "webhook_delivered") == 1).await;
        sender.abort();

        let calls = receiver.calls.lock().unwrap();
        assert_eq!(calls.len(), 3);
        let now = Utc::now().timestamp();
        for (n, call) in calls.iter().enumerate() {
            assert_eq!(header(call, "content-type"), "application/json");
            assert_eq!(header(call, DELIVERY_HEADER), alert.id);
            assert_eq!(header(call, ATTEMPT_HEADER), (n + 1).to_string());
            assert!(
                verify(SECRET, header(call, SIGNATURE_HEADER), &call.body, now, 300),
                "attempt {}",
                n + 1
            );
            assert!(!verify(
                "not the secret",
                header(call, SIGNATURE_HEADER),
                &call.body,
                now,
                300
            ));
        }
        let body: ConcernWebhook = serde_json::from_str(&calls[2].body).unwrap();
        assert_eq!(body.id, alert.id);
        assert_eq!(body.event, "safeguarding_concern.raised");
        assert_eq!(
            (body.case_id.as_str(), body.case_reference.as_str()),
            ("c1", "REF-1")
        );
        assert!(
            calls.iter().all(|c| c.body == calls[0].body),
            "every attempt sends the same bytes"
        );
        assert_eq!(audited(&db, "webhook_failed"), 2);
        assert_eq!(audited(&db, "webhook_delivered"), 1);
        assert_eq!(db.next_delivery_at().unwrap(), None, "nothing left to send");
    }

    #[tokio::test]
    async fn a_restart_loses_no_pending_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let uri = DatabaseUri::for_data_dir(dir.path());
        let (receiver, url) = receiver(1).await;
        let alert = {
            let db = practice(&uri);
            db.set_webhook(Some((&url, SECRET))).unwrap();
            let alert = raise(&db);
            // A slow schedule, so that the retry is not made before the stop.
            let sender = tokio::spawn(run(
                db.clone(),
                Arc::new(Notify::new()),
                Schedule {
                    base: Duration::from_secs(2),
                },
            ));
            eventually("the first failure", || audited(&db, "webhook_failed") == 1).await;
            sender.abort();
            let _ = sender.await;
            alert
        };
        assert_eq!(receiver.count(), 1);

        // The restarted server knows only what is in the file.
        let db = Db::open(&uri).unwrap();
        let sender = tokio::spawn(run(
            db.clone(),
            Arc::new(Notify::new()),
            Schedule {
                base: Duration::from_millis(50),
            },
        ));
        eventually("the delivery after the restart", || {
            audited(&db, "webhook_delivered") == 1
        })
        .await;
        sender.abort();
        let calls = receiver.calls.lock().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(header(&calls[1], DELIVERY_HEADER), alert.id);
        assert_eq!(header(&calls[1], ATTEMPT_HEADER), "2");
        assert!(verify(
            SECRET,
            header(&calls[1], SIGNATURE_HEADER),
            &calls[1].body,
            Utc::now().timestamp(),
            300
        ));
    }

    #[tokio::test]
    async fn an_unreachable_receiver_is_a_failed_attempt_that_keeps_its_url_out_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let db = practice(&DatabaseUri::for_data_dir(dir.path()));
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hook?token=receiver-secret",
            closed.local_addr().unwrap()
        );
        drop(closed);
        db.set_webhook(Some((&url, SECRET))).unwrap();
        raise(&db);
        let sender = tokio::spawn(run(
            db.clone(),
            Arc::new(Notify::new()),
            Schedule::default(),
        ));
        eventually("the failure", || audited(&db, "webhook_failed") == 1).await;
        sender.abort();
        let failed = db
            .audit_entries(&AuditFilter {
                action: Some("webhook_failed".into()),
                ..Default::default()
            })
            .unwrap();
        let detail = &failed[0].detail;
        assert!(detail.contains("attempt 1"), "{detail}");
        assert!(!detail.contains("receiver-secret"), "{detail}");
        // Due again after the first step of the schedule, not at once.
        let next = db.next_delivery_at().unwrap().unwrap();
        assert!(until(&next).unwrap() > Duration::from_secs(5), "{next}");
    }

    #[tokio::test]
    async fn a_removed_webhook_is_given_up_not_called() {
        let dir = tempfile::tempdir().unwrap();
        let db = practice(&DatabaseUri::for_data_dir(dir.path()));
        let (receiver, url) = receiver(0).await;
        db.set_webhook(Some((&url, SECRET))).unwrap();
        raise(&db);
        db.set_webhook(None).unwrap();
        let sender = tokio::spawn(run(
            db.clone(),
            Arc::new(Notify::new()),
            Schedule::default(),
        ));
        eventually("giving up", || audited(&db, "webhook_given_up") == 1).await;
        sender.abort();
        assert_eq!(receiver.count(), 0);
        assert_eq!(db.next_delivery_at().unwrap(), None);
    }
}
