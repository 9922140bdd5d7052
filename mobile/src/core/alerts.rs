//! Safeguarding alerts on a supervisor's device: the list, and the live
//! stream the server pushes (server-sent events) read through an ordinary
//! authorised request, so the token never goes in a URL.

use fieldvisit_shared::api::AlertView;
use futures::{Stream, StreamExt};

use super::CoreError;
use super::device::DeviceCore;

/// One thing the live stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertEvent {
    /// An alert raised or acknowledged (or still waiting, when the stream
    /// opens).
    Alert(Box<AlertView>),
    /// The stream fell behind: read the list again.
    Resync,
}

/// The most one event may hold: the server's are a few hundred bytes, and
/// a stream that never ends an event must not fill the memory.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Reads server-sent events from chunks as they arrive (an event may be
/// split anywhere, even inside a UTF-8 character).
#[derive(Debug, Default)]
pub struct EventParser {
    pending: Vec<u8>,
    event: String,
    data: String,
}

impl EventParser {
    /// Every complete event in `chunk` (and what came before it), as
    /// (event name, data).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<(String, String)>, CoreError> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    let event = std::mem::take(&mut self.event);
                    let data = std::mem::take(&mut self.data);
                    out.push((
                        if event.is_empty() {
                            "message".into()
                        } else {
                            event
                        },
                        data,
                    ));
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // a keep-alive comment
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = value.to_owned(),
                "data" => {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(value);
                }
                _ => {}
            }
        }
        if self.pending.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(CoreError::Protocol(
                "the alert stream sent an event too long to be one".into(),
            ));
        }
        Ok(out)
    }
}

impl DeviceCore {
    /// The alerts of the cases this supervisor may see, newest first.
    pub async fn alerts(&self) -> Result<Vec<AlertView>, CoreError> {
        self.api.alerts().await
    }

    /// The live alerts: every alert still waiting when it opens, then each
    /// one raised or acknowledged. Ends when the connection does (the
    /// caller opens it again).
    pub async fn alert_events(
        &self,
    ) -> Result<impl Stream<Item = Result<AlertEvent, CoreError>> + use<>, CoreError> {
        let bytes = self.api.alert_stream().await?;
        let mut parser = EventParser::default();
        Ok(bytes.flat_map(move |chunk| {
            let events: Vec<Result<AlertEvent, CoreError>> =
                match chunk.and_then(|c| parser.feed(&c)) {
                    Ok(events) => events
                        .into_iter()
                        .filter_map(|(name, data)| match name.as_str() {
                            "alert" => Some(
                                serde_json::from_str(&data)
                                    .map(|a| AlertEvent::Alert(Box::new(a)))
                                    .map_err(|e| CoreError::Protocol(e.to_string())),
                            ),
                            "resync" => Some(Ok(AlertEvent::Resync)),
                            _ => None,
                        })
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
            futures::stream::iter(events)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_read_whole() {
        let text = ": keep-alive\n\nevent: alert\nid: a1\ndata: {\"x\":\"é\"}\n\nevent: resync\ndata: {}\n\n";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let mut p = EventParser::default();
            let mut got = p.feed(&bytes[..cut]).unwrap();
            got.extend(p.feed(&bytes[cut..]).unwrap());
            assert_eq!(
                got,
                vec![
                    ("alert".to_owned(), "{\"x\":\"é\"}".to_owned()),
                    ("resync".to_owned(), "{}".to_owned())
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut p = EventParser::default();
        let line = format!("data: {}", "x".repeat(MAX_EVENT_BYTES));
        assert!(p.feed(line.as_bytes()).is_err());
    }
}
