//! Delivery reports of a source task's producer, tracked by send sequence number. The producer
//! hands each record's number to librdkafka as its opaque and gets it back in the delivery
//! callback, so tracking a record costs no allocation and no channel: the callback marks a slot,
//! and the runner, which settles records in send order, reads the slots from the oldest.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio::sync::Notify;

/// The producer of a source task: delivery reports go to its [`Deliveries`].
pub type TrackedProducer = ThreadedProducer<DeliveryContext>;

/// Opaques from here up are offset-topic writes (see [`Deliveries::wait_writes`]), which are
/// waited for as a group rather than settled in order.
const WRITE_OPAQUE_BASE: usize = usize::MAX / 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pending,
    Delivered,
    Failed,
}

#[derive(Default)]
struct State {
    /// Sequence number of `slots[0]`: the oldest record not yet settled.
    base: u64,
    slots: VecDeque<Slot>,
    /// Why a record failed, for the few that do.
    errors: HashMap<u64, KafkaError>,
    /// Offset-topic writes reported so far, and the first error among them.
    writes_reported: usize,
    write_error: Option<KafkaError>,
    /// Whether the runner waits: only then does a report wake it.
    waiting: bool,
}

#[derive(Default)]
pub struct Deliveries {
    state: Mutex<State>,
    progress: Notify,
}

impl Deliveries {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self, opaque: usize, outcome: Result<(), KafkaError>) {
        let mut state = self.lock();
        if opaque >= WRITE_OPAQUE_BASE {
            state.writes_reported += 1;
            if let Err(e) = outcome {
                state.write_error.get_or_insert(e);
            }
        } else {
            let seq = opaque as u64;
            let Some(index) = seq.checked_sub(state.base).map(|i| i as usize) else {
                return;
            };
            if state.slots.len() <= index {
                state.slots.resize(index + 1, Slot::Pending);
            }
            state.slots[index] = match outcome {
                Ok(()) => Slot::Delivered,
                Err(e) => {
                    state.errors.insert(seq, e);
                    Slot::Failed
                }
            };
        }
        if state.waiting {
            state.waiting = false;
            self.progress.notify_one();
        }
    }

    /// Releases the delivered records at the front, oldest first, up to `max`: how many. A
    /// failed record at the front is released with its error (after none delivered).
    pub fn take_delivered(&self, max: usize) -> Result<usize, KafkaError> {
        let mut state = self.lock();
        let mut count = 0;
        while count < max {
            match state.slots.front() {
                Some(Slot::Delivered) => {}
                Some(Slot::Failed) if count == 0 => {
                    let seq = state.base;
                    state.slots.pop_front();
                    state.base += 1;
                    if let Some(e) = state.errors.remove(&seq) {
                        return Err(e);
                    }
                    count += 1;
                    continue;
                }
                _ => break,
            }
            state.slots.pop_front();
            state.base += 1;
            count += 1;
        }
        Ok(count)
    }

    /// Waits until the oldest record's outcome is known.
    pub async fn wait_oldest(&self) {
        loop {
            let notified = self.progress.notified();
            {
                let mut state = self.lock();
                if state.slots.front().is_some_and(|s| *s != Slot::Pending) {
                    return;
                }
                state.waiting = true;
            }
            notified.await;
        }
    }

    /// The opaque of the `n`th offset-topic write of a round.
    pub fn write_opaque(n: usize) -> usize {
        WRITE_OPAQUE_BASE + n
    }

    /// Waits until `count` offset-topic writes were reported since the last call, and returns
    /// the first error among them.
    pub async fn wait_writes(&self, count: usize) -> Result<(), KafkaError> {
        loop {
            let notified = self.progress.notified();
            {
                let mut state = self.lock();
                if state.writes_reported >= count {
                    state.writes_reported -= count;
                    return match state.write_error.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                }
                state.waiting = true;
            }
            notified.await;
        }
    }
}

/// Routes a producer's delivery reports to its [`Deliveries`].
pub struct DeliveryContext {
    pub deliveries: Arc<Deliveries>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let outcome = match result {
            Ok(_) => Ok(()),
            Err((e, message)) => {
                tracing::debug!(topic = message.topic(), error = %e, "delivery failed");
                Err(e.clone())
            }
        };
        self.deliveries.report(opaque, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::types::RDKafkaErrorCode;
    use std::time::Duration;

    #[test]
    fn records_settle_in_send_order_whatever_order_reports_arrive_in() {
        let d = Deliveries::default();
        d.report(1, Ok(()));
        assert_eq!(d.take_delivered(10).ok(), Some(0));
        d.report(0, Ok(()));
        d.report(3, Ok(()));
        assert_eq!(d.take_delivered(10).ok(), Some(2));
        let timed_out = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        d.report(2, Err(timed_out.clone()));
        assert_eq!(d.take_delivered(10).err(), Some(timed_out));
        assert_eq!(d.take_delivered(10).ok(), Some(1));
    }

    #[tokio::test]
    async fn a_waiting_runner_wakes_on_the_report_it_waits_for() {
        let d = Arc::new(Deliveries::default());
        let reporter = Arc::clone(&d);
        let handle = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            reporter.report(Deliveries::write_opaque(0), Ok(()));
            reporter.report(0, Ok(()));
        });
        tokio::time::timeout(Duration::from_secs(5), d.wait_oldest())
            .await
            .expect("woken by the report");
        assert_eq!(d.take_delivered(1).ok(), Some(1));
        tokio::time::timeout(Duration::from_secs(5), d.wait_writes(1))
            .await
            .expect("write reported")
            .expect("write succeeded");
        handle.await.expect("reporter finished");
    }
}
