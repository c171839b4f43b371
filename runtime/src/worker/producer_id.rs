//! An idempotent producer asks for its producer id as soon as a broker is up, rather than on
//! librdkafka's retry timer.
//!
//! librdkafka asks for the id when a metadata response arrives from a broker that is up, or
//! else every 500 ms. The first response comes over the bootstrap connection, and librdkafka
//! then replaces that connection with one to the broker the response names, which is not up yet
//! when the id would be asked for. Whether the producer's first records then wait for the timer
//! depends on what else asks for metadata, and when: with `reconnect.backoff.ms` at 50, a
//! FileStreamSource's first record reached the topic 52-117 ms after the connector was created in
//! three runs of four, and 518 ms after in the fourth.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::Producer;

use super::deliveries::TrackedProducer;

/// How long the metadata requests below may take in all. Past that the timer has asked anyway;
/// short, as the request holds the producer (and a runtime shutting down waits for it).
const WAIT: Duration = Duration::from_secs(2);
/// A response from the bootstrap connection, then one from a named broker: two suffice, a third
/// covers a response that raced the switch between them.
const ATTEMPTS: usize = 3;

/// Asks, on the blocking pool, for `topic`'s metadata until a named broker (not a bootstrap
/// connection) answers: that response makes librdkafka ask that broker for the producer id.
/// `topic` should exist already (the offsets topic), so that asking does not create it.
pub fn request_early(producer: &Arc<TrackedProducer>, topic: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let producer = Arc::clone(producer);
    let topic = topic.to_string();
    runtime.spawn_blocking(move || {
        let deadline = Instant::now() + WAIT;
        for _ in 0..ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            match producer.client().fetch_metadata(Some(&topic), left) {
                // librdkafka numbers bootstrap connections below zero.
                Ok(metadata) if metadata.orig_broker_id() >= 0 => return,
                Ok(_) => {}
                // The producer's own requests keep trying; this was only to hurry them.
                Err(_) => return,
            }
        }
    });
}
