//! Source offsets: read from `connect-offsets` at start, and written there (in order, after the
//! records they cover were acknowledged) while tasks run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice_connect_api::{OffsetReader, SourceMap};

use crate::storage::records;
use crate::worker::WorkerError;

/// Every stored source offset, by the exact key bytes of the offsets topic.
#[derive(Debug, Default)]
pub struct OffsetStore {
    offsets: Mutex<HashMap<Vec<u8>, SourceMap>>,
}

impl OffsetStore {
    /// Reads the whole offsets topic (every partition, to its end).
    pub fn load(
        client: &ClientConfig,
        topic: &str,
        timeout: Duration,
    ) -> Result<Self, WorkerError> {
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", "sluice-offsets-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()?;
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
        let store = Self::default();
        let mut at_end = 0;
        let deadline = Instant::now() + timeout;
        while at_end < partitions.len() {
            if Instant::now() > deadline {
                return Err(WorkerError::Timeout(format!("reading {topic}")));
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    if let Some(key) = m.key() {
                        store.apply(key, m.payload());
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => at_end += 1,
                Some(Err(e)) => return Err(e.into()),
                None => {}
            }
        }
        Ok(store)
    }

    pub fn apply(&self, key: &[u8], value: Option<&[u8]>) {
        let mut offsets = self.offsets.lock().unwrap_or_else(|p| p.into_inner());
        match value.and_then(records::parse_object) {
            Some(offset) => {
                offsets.insert(key.to_vec(), offset);
            }
            None => {
                offsets.remove(key);
            }
        }
    }

    /// The reader a task of `connector` gets.
    pub fn reader(self: &Arc<Self>, connector: &str) -> Arc<dyn OffsetReader> {
        Arc::new(ConnectorOffsets {
            store: Arc::clone(self),
            connector: connector.to_string(),
        })
    }
}

struct ConnectorOffsets {
    store: Arc<OffsetStore>,
    connector: String,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        let (key, _) = records::source_offset(&self.connector, partition, None);
        self.store
            .offsets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned()
    }
}
