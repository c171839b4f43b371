//! Source offsets: read from `connect-offsets` at start, and written there (in order, after the
//! records they cover were acknowledged) while tasks run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use sluice_connect_api::{OffsetReader, SourceMap};

use crate::storage::{reader, records};
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
        Self::load_with(reader::Reader::connect(client, timeout)?, topic)
    }

    /// [`load`](Self::load) with a reader already connected.
    pub fn load_with(reader: reader::Reader, topic: &str) -> Result<Self, WorkerError> {
        let store = Self::default();
        reader.read(topic, |key, value| store.apply(key, value))?;
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

impl OffsetStore {
    /// Every stored (partition, offset) of `connector`.
    pub fn of_connector(&self, connector: &str) -> Vec<(SourceMap, SourceMap)> {
        let offsets = self.offsets.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(SourceMap, SourceMap)> = offsets
            .iter()
            .filter_map(|(key, offset)| {
                let (name, partition) = records::parse_offset_key(key)?;
                (name == connector).then(|| (partition, offset.clone()))
            })
            .collect();
        out.sort_by_key(|(p, _)| serde_json::Value::Object(p.clone()).to_string());
        out
    }
}
