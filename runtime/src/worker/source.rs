//! One source task's pipeline. Each polled record goes through the transforms and converters
//! and is sent with acks=all by an idempotent producer. Sends are pipelined: the task polls
//! again while earlier records are in flight. Acknowledgements are taken in send order, so the
//! offsets that become committable are always a prefix of what was sent; they are written to
//! the offsets topic every `offset.flush.interval.ms` and at a clean stop. Nothing acknowledged
//! is lost; after a clean stop nothing is sent twice.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_connect_api::{SchemaRef, SourceMap, SourceRecord, SourceTask, Value};
use tokio_util::sync::CancellationToken;

use super::{
    create_topic, Converters, ErrorPolicy, OffsetStore, Stage, TopicCreation, TopicObserver,
    WorkerError,
};
use crate::storage::records;
use crate::transforms::TransformChain;

/// Records sent but not yet acknowledged before the task waits for the oldest.
const MAX_IN_FLIGHT: usize = 20_000;

/// How a source task is run.
#[derive(Clone)]
pub struct SourceSettings {
    pub connector: String,
    pub task: usize,
    pub offsets_topic: String,
    pub offset_flush_interval: Duration,
    /// Pause between polls that returned nothing.
    pub idle_backoff: Duration,
    pub errors: ErrorPolicy,
    pub topic_creation: Option<TopicCreation>,
    pub topic_observer: Option<TopicObserver>,
    /// Told of what the task wants shown in its status (see `SourceTask::take_status_note`).
    pub status_observer: Option<StatusObserver>,
}

/// Receives a running task's status notes.
pub type StatusObserver = Arc<dyn Fn(String) + Send + Sync>;

/// A header value and the bytes the header converter made of it.
struct CachedHeader {
    key: String,
    schema: Option<SchemaRef>,
    value: Value,
    bytes: Option<Vec<u8>>,
}

/// A polled record waiting for its acknowledgement; `None` for records a transform dropped or
/// the error policy skipped, which only wait for their turn.
struct InFlight {
    delivery: Option<DeliveryFuture>,
    record: SourceRecord,
}

pub struct SourceRunner {
    settings: SourceSettings,
    task: Box<dyn SourceTask>,
    converters: Converters,
    transforms: TransformChain<SourceRecord>,
    producer: FutureProducer,
    admin_config: ClientConfig,
    offsets: Arc<OffsetStore>,
    in_flight: VecDeque<InFlight>,
    /// Latest acknowledged offset per source partition, not yet written.
    committable: Vec<(SourceMap, SourceMap)>,
    /// Topics this task has written to (created first when topic creation is on).
    known_topics: HashSet<String>,
    last_topic: String,
    /// The last header converted at each position: headers that repeat record after record
    /// (a file name) are converted once. By position, as records of one source list their
    /// headers in the same order.
    header_cache: Vec<CachedHeader>,
}

impl SourceRunner {
    pub fn new(
        settings: SourceSettings,
        task: Box<dyn SourceTask>,
        converters: Converters,
        transforms: TransformChain<SourceRecord>,
        client: &ClientConfig,
        offsets: Arc<OffsetStore>,
    ) -> Result<Self, WorkerError> {
        // As Kafka Connect does: every record acknowledged by all replicas, in order.
        let producer: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .create()?;
        Ok(Self {
            settings,
            task,
            converters,
            transforms,
            producer,
            admin_config: client.clone(),
            offsets,
            in_flight: VecDeque::new(),
            committable: Vec::new(),
            known_topics: HashSet::new(),
            last_topic: String::new(),
            header_cache: Vec::new(),
        })
    }

    /// Polls until `shutdown`, then waits for what is in flight, commits the offsets of what was
    /// acknowledged and stops the task.
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
                Err(e) => break Err(WorkerError::record(Stage::TaskPoll, self.task_name(), e)),
            };
            if let Some(note) = self.task.take_status_note() {
                tracing::warn!(connector = %self.settings.connector, task = self.settings.task, "{note}");
                if let Some(observer) = &self.settings.status_observer {
                    observer(note);
                }
            }
            if records.is_empty() {
                // Nothing new: settle what is in flight, then rest.
                if let Err(e) = self.settle(0).await {
                    break Err(e);
                }
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
        let settled = self.settle(0).await;
        let committed = self.commit_offsets().await;
        let stopped = self.task.stop().map_err(WorkerError::from);
        result.and(settled).and(committed).and(stopped)
    }

    fn task_name(&self) -> String {
        format!("{}-{}", self.settings.connector, self.settings.task)
    }

    /// Transforms, converts and sends a batch; waits only when too much is in flight.
    async fn send(&mut self, records: Vec<SourceRecord>) -> Result<(), WorkerError> {
        for record in records {
            let coordinates = || {
                format!(
                    "topic={} source partition={} offset={}",
                    record.topic,
                    serde_json::Value::Object(record.source_partition.clone()),
                    serde_json::Value::Object(record.source_offset.clone())
                )
            };
            // Without transforms the record is sent as polled, with no copy.
            let transformed = if self.transforms.is_empty() {
                None
            } else {
                match self.transforms.apply(record.clone()) {
                    Ok(Some(r)) => Some(r),
                    Ok(None) => {
                        // Dropped by a transform: its offset counts once those before it do.
                        self.set_aside(record, None)?;
                        continue;
                    }
                    Err(e) => {
                        let error = WorkerError::record(Stage::Transformation, coordinates(), e);
                        self.set_aside(record, Some(error))?;
                        continue;
                    }
                }
            };
            let out = transformed.as_ref().unwrap_or(&record);
            let encoded = match self.encode(out) {
                Ok(encoded) => encoded,
                Err((stage, e)) => {
                    let error = WorkerError::record(stage, coordinates(), e);
                    self.set_aside(record, Some(error))?;
                    continue;
                }
            };
            self.prepare_topic(&out.topic).await?;
            let delivery = enqueue(&self.producer, out, encoded).await?;
            self.in_flight.push_back(InFlight {
                delivery: Some(delivery),
                record,
            });
            if self.in_flight.len() >= MAX_IN_FLIGHT {
                self.settle(MAX_IN_FLIGHT / 2).await?;
            }
        }
        Ok(())
    }

    /// A record that will not be sent: dropped by a transform (`error` None) or failed and
    /// tolerated by the error policy. It waits its turn in flight, so offsets never run ahead.
    fn set_aside(
        &mut self,
        record: SourceRecord,
        error: Option<WorkerError>,
    ) -> Result<(), WorkerError> {
        if let Some(error) = error {
            self.settings
                .errors
                .handle(&self.settings.connector, error)?;
        }
        self.in_flight.push_back(InFlight {
            delivery: None,
            record,
        });
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn encode(
        &mut self,
        record: &SourceRecord,
    ) -> Result<
        (Option<Vec<u8>>, Option<Vec<u8>>, Option<OwnedHeaders>),
        (Stage, sluice_connect_api::ConnectError),
    > {
        let topic = &record.topic;
        let key = self
            .converters
            .key
            .from_connect_data(topic, record.key_schema.as_ref(), &record.key)
            .map_err(|e| (Stage::KeyConverter, e))?;
        let value = self
            .converters
            .value
            .from_connect_data(topic, record.value_schema.as_ref(), &record.value)
            .map_err(|e| (Stage::ValueConverter, e))?;
        let headers = if record.headers.is_empty() {
            None
        } else {
            let mut out = OwnedHeaders::new_with_capacity(record.headers.len());
            for (i, h) in record.headers.iter().enumerate() {
                let hit = self
                    .header_cache
                    .get(i)
                    .is_some_and(|c| c.key == h.key && c.value == h.value && c.schema == h.schema);
                if !hit {
                    let bytes = self
                        .converters
                        .header
                        .from_connect_header(topic, &h.key, h.schema.as_ref(), &h.value)
                        .map_err(|e| (Stage::HeaderConverter, e))?;
                    let entry = CachedHeader {
                        key: h.key.clone(),
                        schema: h.schema.clone(),
                        value: h.value.clone(),
                        bytes,
                    };
                    if i < self.header_cache.len() {
                        self.header_cache[i] = entry;
                    } else {
                        self.header_cache.push(entry);
                    }
                }
                out = out.insert(Header {
                    key: &h.key,
                    value: self.header_cache.get(i).and_then(|c| c.bytes.as_deref()),
                });
            }
            Some(out)
        };
        Ok((key, value, headers))
    }

    /// Creates the topic on first use when the connector asked for topic creation, and tells the
    /// observer about it.
    async fn prepare_topic(&mut self, topic: &str) -> Result<(), WorkerError> {
        // Most records go to the topic of the record before.
        if self.last_topic == topic || self.known_topics.contains(topic) {
            if self.last_topic != topic {
                self.last_topic = topic.to_string();
            }
            return Ok(());
        }
        if let Some(creation) = &self.settings.topic_creation {
            let spec = creation.spec(topic);
            let mut new_topic = NewTopic::new(
                topic,
                spec.partitions,
                TopicReplication::Fixed(spec.replication_factor),
            );
            for (k, v) in spec.configs {
                new_topic = new_topic.set(k, v);
            }
            create_topic(&self.admin_config, new_topic).await?;
        }
        if let Some(observer) = &self.settings.topic_observer {
            observer(topic);
        }
        self.known_topics.insert(topic.to_string());
        self.last_topic = topic.to_string();
        Ok(())
    }
}

/// Map equality, trying the cheap ordered comparison first: maps from one task are built
/// the same way, so this rarely needs the key lookups of `==`.
fn same_map(a: &SourceMap, b: &SourceMap) -> bool {
    a.len() == b.len() && (a.iter().zip(b.iter()).all(|(x, y)| x == y) || a == b)
}

/// Hands one record to the producer, waiting while its queue is full.
async fn enqueue(
    producer: &FutureProducer,
    record: &SourceRecord,
    (key, value, headers): (Option<Vec<u8>>, Option<Vec<u8>>, Option<OwnedHeaders>),
) -> Result<DeliveryFuture, WorkerError> {
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
    if let Some(h) = headers {
        out = out.headers(h);
    }
    loop {
        match producer.send_result(out) {
            Ok(delivery) => return Ok(delivery),
            // The client's queue is full: let it drain, then offer the same record again.
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                out = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((e, _)) => {
                return Err(WorkerError::record(
                    Stage::KafkaProduce,
                    format!("topic={}", record.topic),
                    e,
                ))
            }
        }
    }
}

impl SourceRunner {
    /// Waits, oldest first, until at most `keep` records are in flight.
    async fn settle(&mut self, keep: usize) -> Result<(), WorkerError> {
        while self.in_flight.len() > keep {
            let Some(InFlight { delivery, record }) = self.in_flight.pop_front() else {
                break;
            };
            let Some(delivery) = delivery else {
                // As Kafka does: a record that was dropped is committed all the same.
                self.task.commit_record(&record)?;
                self.mark_done(&record);
                continue;
            };
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    return Err(WorkerError::record(
                        Stage::KafkaProduce,
                        format!("topic={}", record.topic),
                        e,
                    ))
                }
                Err(_) => return Err(WorkerError::Timeout("waiting for a delivery report".into())),
            }
            self.task.commit_record(&record)?;
            self.mark_done(&record);
        }
        Ok(())
    }

    fn mark_done(&mut self, record: &SourceRecord) {
        if record.source_partition.is_empty() && record.source_offset.is_empty() {
            return;
        }
        // Tasks have few partitions, and consecutive records usually share one: a linear search
        // from the most recent is cheaper than keying by the serialized map.
        match self
            .committable
            .iter_mut()
            .rev()
            .find(|(partition, _)| same_map(partition, &record.source_partition))
        {
            Some(entry) => entry.1.clone_from(&record.source_offset),
            None => self.committable.push((
                record.source_partition.clone(),
                record.source_offset.clone(),
            )),
        }
    }

    /// Writes the latest acknowledged offset of each source partition.
    async fn commit_offsets(&mut self) -> Result<(), WorkerError> {
        if self.committable.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.committable);
        for (partition, offset) in &pending {
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
