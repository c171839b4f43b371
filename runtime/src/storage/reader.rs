//! Reads an internal topic from the beginning to its current end, record by record.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

use crate::client_errors::ExpectedErrors;
use crate::worker::WorkerError;

/// Calls `apply(key, value)` for every keyed record of `topic`, every partition, up to the end
/// the topic had when reading began. Blocks; run it where blocking is allowed.
pub fn read_to_end(
    client: &ClientConfig,
    topic: &str,
    timeout: Duration,
    apply: impl FnMut(&[u8], Option<&[u8]>),
) -> Result<(), WorkerError> {
    Reader::connect(client, timeout)?.read(topic, apply)
}

/// A consumer for reading internal topics, connected before it is needed: a client's first
/// requests cost a round of client timers, which can pass while the topics are being created.
pub struct Reader {
    consumer: BaseConsumer<ExpectedErrors>,
    timeout: Duration,
}

impl Reader {
    /// Creates the consumer and waits until it knows the cluster.
    pub fn connect(client: &ClientConfig, timeout: Duration) -> Result<Self, WorkerError> {
        let consumer: BaseConsumer<ExpectedErrors> = client
            .clone()
            .set("group.id", "sluice-internal-reader")
            .set("enable.auto.commit", "false")
            .create_with_context(ExpectedErrors)?;
        consumer.fetch_metadata(None, timeout)?;
        Ok(Self { consumer, timeout })
    }

    /// [`read_to_end`] with this reader's consumer.
    ///
    /// The ends are asked for first and only partitions holding records are read, up to their
    /// last record: waiting for an end-of-partition event would cost a fetch that waits out
    /// `fetch.wait.max.ms` for data that never comes, on every start.
    pub fn read(
        self,
        topic: &str,
        mut apply: impl FnMut(&[u8], Option<&[u8]>),
    ) -> Result<(), WorkerError> {
        let Self { consumer, timeout } = self;
        let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        // The offset each partition must be read up to (its high watermark), for those not empty.
        let mut ends = std::collections::HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            let (low, high) = consumer.fetch_watermarks(topic, *p, timeout)?;
            if high > low {
                ends.insert(*p, high);
                assignment.add_partition_offset(topic, *p, Offset::Offset(low))?;
            }
        }
        if ends.is_empty() {
            return Ok(());
        }
        consumer.assign(&assignment)?;
        let deadline = Instant::now() + timeout;
        while !ends.is_empty() {
            if Instant::now() > deadline {
                return Err(WorkerError::Timeout(format!("reading {topic}")));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    if let Some(key) = m.key() {
                        apply(key, m.payload());
                    }
                    if ends
                        .get(&m.partition())
                        .is_some_and(|end| m.offset() + 1 >= *end)
                    {
                        ends.remove(&m.partition());
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                // Nothing came: a partition whose last offsets hold no record (compacted away,
                // or a control record) is done once the consumer's position passed its end.
                None => {
                    for element in consumer.position()?.elements() {
                        if let (Offset::Offset(at), Some(end)) =
                            (element.offset(), ends.get(&element.partition()))
                        {
                            if at >= *end {
                                ends.remove(&element.partition());
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
