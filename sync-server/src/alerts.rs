//! What happens when a safeguarding concern reaches the server: the alert
//! is committed (with its webhook call, when the practice has a webhook),
//! then every open app of the case's supervisors is told at once, and the
//! webhook sender is woken. An acknowledgement, written by a supervisor in
//! the concern's document, is recorded and told the same way, so every
//! other supervisor's app stops showing it as waiting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fieldvisit_shared::api::AlertView;
use fieldvisit_shared::records::concern::ConcernEvent;
use tokio::sync::{Notify, broadcast};

use crate::db::{Db, Device};

#[derive(Debug)]
pub struct Alerts {
    live: broadcast::Sender<AlertView>,
    /// Wakes the webhook sender when a call was queued.
    pub wake: Arc<Notify>,
    /// Open live streams per device: each holds a task and a channel, so a
    /// device may keep only a few (an app open in two tabs, one reconnecting).
    streams: Arc<Mutex<HashMap<String, usize>>>,
}

/// Streams one device may hold open at once.
const STREAMS_PER_DEVICE: usize = 3;

/// A live stream's place, given back when the stream ends.
#[derive(Debug)]
pub struct StreamSlot {
    device_id: String,
    streams: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = streams.get_mut(&self.device_id) {
            *n -= 1;
            if *n == 0 {
                streams.remove(&self.device_id);
            }
        }
    }
}

impl Default for Alerts {
    fn default() -> Self {
        // An app that falls this far behind reads the list again.
        let (live, _) = broadcast::channel(256);
        Alerts {
            live,
            wake: Arc::new(Notify::new()),
            streams: Arc::default(),
        }
    }
}

impl Alerts {
    /// Every alert raised or acknowledged from now on; each listener
    /// filters by what its person may see.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertView> {
        self.live.subscribe()
    }

    /// A place for one more live stream of `device_id`, or `None` when it
    /// holds as many as it may.
    pub fn open_stream(&self, device_id: &str) -> Option<StreamSlot> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = streams.entry(device_id.to_owned()).or_default();
        if *n >= STREAMS_PER_DEVICE {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            device_id: device_id.to_owned(),
            streams: self.streams.clone(),
        })
    }

    /// A batch the rules accepted raised or acknowledged a concern; false
    /// when that could not be recorded (the batch must not be taken).
    pub async fn concern_event(
        &self,
        db: &Db,
        device: &Device,
        document_id: &str,
        case_id: &str,
        event: ConcernEvent,
    ) -> bool {
        let (device_id, person_id) = (device.id.clone(), device.person.id.clone());
        let (d, c) = (document_id.to_owned(), case_id.to_owned());
        let recorded = db
            .run(move |db| match event {
                ConcernEvent::Raised { raised_at } => {
                    db.raise_alert(&device_id, &d, &c, &person_id, &raised_at)
                }
                ConcernEvent::Acknowledged { by, at } => {
                    db.acknowledge_alert(&device_id, &d, &by, &at)
                }
            })
            .await;
        match recorded {
            Ok(Some(alert)) => {
                tracing::info!(alert = %alert.id, document = document_id, acknowledged = alert.acknowledged_at.is_some(), "safeguarding alert");
                self.wake.notify_one();
                let _ = self.live.send(alert);
                true
            }
            Ok(None) => true,
            Err(e) => {
                tracing::error!(error = %e, document = document_id, "a safeguarding alert could not be recorded");
                false
            }
        }
    }
}
