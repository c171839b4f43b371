//! One source task's pipeline. Records are converted and sent with acks=all; once a batch is
//! acknowledged its offsets become committable, and they are written to the offsets topic every
//! `offset.flush.interval.ms` and at a clean stop. Nothing acknowledged is lost; after a clean
//! stop nothing is sent twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_connect_api::{Converter, SourceMap, SourceRecord, SourceTask};
use tokio_util::sync::CancellationToken;

use super::{OffsetStore, WorkerError};
use crate::storage::records;

/// How a source task is run.
#[derive(Debug, Clone)]
pub struct SourceSettings {
    pub connector: String,
    pub offsets_topic: String,
    pub offset_flush_interval: Duration,
    /// Pause between polls that returned nothing.
    pub idle_backoff: Duration,
}

pub struct SourceRunner {
    settings: SourceSettings,
    task: Box<dyn SourceTask>,
    key_converter: Box<dyn Converter>,
    value_converter: Box<dyn Converter>,
    producer: FutureProducer,
    offsets: Arc<OffsetStore>,
    /// Latest acknowledged offset per source partition, not yet written.
    committable: BTreeMap<String, (SourceMap, SourceMap)>,
}

impl SourceRunner {
    pub fn new(
        settings: SourceSettings,
        task: Box<dyn SourceTask>,
        key_converter: Box<dyn Converter>,
        value_converter: Box<dyn Converter>,
        client: &ClientConfig,
        offsets: Arc<OffsetStore>,
    ) -> Result<Self, WorkerError> {
        // As Kafka Connect does: every record acknowledged by all replicas, in order.
        let producer: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()?;
        Ok(Self {
            settings,
            task,
            key_converter,
            value_converter,
            producer,
            offsets,
            committable: BTreeMap::new(),
        })
    }

    /// Polls until `shutdown`, then commits what was acknowledged and stops the task.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let mut last_flush = Instant::now();
        let result = loop {
            let records = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                records = self.task.poll() => records,
            };
            let records = match records {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    tracing::warn!(connector = %self.settings.connector, error = %e, "poll failed; retrying");
                    Vec::new()
                }
                Err(e) => break Err(e.into()),
            };
            if records.is_empty() {
                tokio::select! {
                    _ = shutdown.cancelled() => break Ok(()),
                    _ = tokio::time::sleep(self.settings.idle_backoff) => {}
                }
            } else if let Err(e) = self.send(records).await {
                break Err(e);
            }
            if last_flush.elapsed() >= self.settings.offset_flush_interval {
                if let Err(e) = self.commit_offsets().await {
                    break Err(e);
                }
                last_flush = Instant::now();
            }
        };
        let committed = self.commit_offsets().await;
        let stopped = self.task.stop().map_err(WorkerError::from);
        result.and(committed).and(stopped)
    }

    /// Converts and sends a batch, waiting until Kafka acknowledged all of it.
    async fn send(&mut self, records: Vec<SourceRecord>) -> Result<(), WorkerError> {
        let mut encoded = Vec::with_capacity(records.len());
        for record in &records {
            let key = self.key_converter.from_connect_data(
                &record.topic,
                record.key_schema.as_ref(),
                &record.key,
            )?;
            let value = self.value_converter.from_connect_data(
                &record.topic,
                record.value_schema.as_ref(),
                &record.value,
            )?;
            encoded.push((key, value));
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for (record, (key, value)) in records.iter().zip(&encoded) {
            loop {
                let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic);
                if let Some(k) = key.as_deref() {
                    out = out.key(k);
                }
                if let Some(v) = value.as_deref() {
                    out = out.payload(v);
                }
                if let Some(p) = record.kafka_partition {
                    out = out.partition(p);
                }
                if let Some(ts) = record.timestamp {
                    out = out.timestamp(ts);
                }
                match self.producer.send_result(out) {
                    Ok(delivery) => {
                        deliveries.push(delivery);
                        break;
                    }
                    // The client's queue is full: let it drain.
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
        }
        for (delivery, record) in deliveries.into_iter().zip(&records) {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(e.into()),
                Err(_) => return Err(WorkerError::Timeout("waiting for a delivery report".into())),
            }
            self.task.commit_record(record)?;
            let key = serde_json::to_string(&record.source_partition).unwrap_or_default();
            self.committable.insert(
                key,
                (
                    record.source_partition.clone(),
                    record.source_offset.clone(),
                ),
            );
        }
        Ok(())
    }

    /// Writes the latest acknowledged offset of each source partition.
    async fn commit_offsets(&mut self) -> Result<(), WorkerError> {
        if self.committable.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.committable);
        for (partition, offset) in pending.values() {
            let (key, value) =
                records::source_offset(&self.settings.connector, partition, Some(offset));
            let payload = value.as_deref().unwrap_or_default();
            let record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&self.settings.offsets_topic)
                    .key(key.as_slice())
                    .payload(payload);
            self.producer
                .send(record, Duration::from_secs(60))
                .await
                .map_err(|(e, _)| e)?;
            self.offsets.apply(&key, value.as_deref());
        }
        self.task.commit()?;
        Ok(())
    }
}
