//! Reads an internal topic from the beginning to its current end, record by record.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};

use crate::worker::WorkerError;

/// Calls `apply(key, value)` for every keyed record of `topic`, every partition, up to the end
/// the topic had when reading began. Blocks; run it where blocking is allowed.
pub fn read_to_end(
    client: &ClientConfig,
    topic: &str,
    timeout: Duration,
    mut apply: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<(), WorkerError> {
    let consumer: BaseConsumer<EndIsNotAnError> = client
        .clone()
        .set("group.id", "sluice-internal-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create_with_context(EndIsNotAnError)?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut assignment = TopicPartitionList::new();
    for p in &partitions {
        assignment.add_partition_offset(topic, *p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let mut at_end = 0;
    let deadline = Instant::now() + timeout;
    while at_end < partitions.len() {
        if Instant::now() > deadline {
            return Err(WorkerError::Timeout(format!("reading {topic}")));
        }
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                if let Some(key) = m.key() {
                    apply(key, m.payload());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => at_end += 1,
            Some(Err(e)) => return Err(e.into()),
            None => {}
        }
    }
    Ok(())
}

/// librdkafka also reports each partition end as a client error, which would be logged at ERROR
/// level on every start; here the end is what the reader waits for, so it is not logged.
struct EndIsNotAnError;

impl ClientContext for EndIsNotAnError {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end {
            tracing::error!(error = %error, "{reason}");
        }
    }
}

impl ConsumerContext for EndIsNotAnError {}
