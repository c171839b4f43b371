//! The sending half of a source task's pipeline. Each polled record goes through the
//! transforms and converters and is sent with acks=all by an idempotent producer, without
//! waiting: up to `MAX_IN_FLIGHT` records are in flight. Acknowledgements are taken in send
//! order, so the offsets that become committable are always a prefix of what was sent; they
//! are written to the offsets topic every `offset.flush.interval.ms` and at a stop. Settled
//! records go back to the polling half, which owns the task (`commit_record`, `commit`).

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_connect_api::{SchemaRef, SourceMap, SourceOffset, SourceRecord, Value};
use tokio::sync::mpsc::{Receiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::deliveries::{Deliveries, DeliveryContext, TrackedProducer};
use super::errors::{Failure, RawRecord};
use super::partitioning::KeylessPartitions;
use super::producer_id;
use super::source::SourceSettings;
use super::{create_topic, Converters, OffsetStore, Stage, WorkerError};
use crate::converters::JsonConverter;
use crate::storage::records;
use crate::transforms::TransformError;
use sluice_connect_api::Converter;

/// Records sent but not yet acknowledged before the task waits for the oldest. Enough to keep
/// librdkafka's five requests in flight full while the next batches queue behind them (half
/// as many cost about a sixth of the throughput of a spooldir source), about 1.2 kB each.
const MAX_IN_FLIGHT: usize = 40_000;

/// The class Kafka Connect names for the `KAFKA_PRODUCE` stage.
const PRODUCER_CLASS: &str = "org.apache.kafka.clients.producer.KafkaProducer";

/// What a transform chain made of one polled record: the record to send, `None` when a
/// transform dropped it, or the failure.
pub type Transformed = Result<Option<SourceRecord>, TransformError>;

/// A polled batch, and what the chain made of each record when the connector has transforms
/// (run on the task's thread, so the sending half only converts and sends).
pub struct PolledBatch {
    pub records: Vec<SourceRecord>,
    pub transformed: Option<Vec<Transformed>>,
}

/// What the sending half reports to the polling half, in order.
pub enum Settled {
    /// Records acknowledged (or set aside), oldest first: for the task's `commit_record`.
    Records(Vec<SourceRecord>),
    /// The offsets of every record reported before were written: for the task's `commit`.
    OffsetsWritten,
}

/// A header value and the bytes the header converter made of it.
struct CachedHeader {
    key: Cow<'static, str>,
    schema: Option<SchemaRef>,
    value: Value,
    bytes: Option<Vec<u8>>,
}

/// A polled batch waiting for its acknowledgements, kept whole so its records are not moved
/// one by one. Records a transform dropped or the error policy skipped were not `sent`: they
/// only wait for their turn.
struct InFlightBatch {
    records: Vec<SourceRecord>,
    sent: Vec<bool>,
    /// Positions, rising, of the records followed by one from another source partition: only
    /// their offsets, and the batch's last, become committable. Found while the batch is sent,
    /// when its records are in cache, so settling does not read every record again.
    run_ends: Vec<usize>,
    /// How many of `run_ends` are settled (a prefix).
    run_ends_settled: usize,
    /// How many records of the batch are settled (a prefix).
    settled: usize,
}

pub struct RecordSender {
    settings: SourceSettings,
    /// Where settled records and written offsets are reported, in order.
    settled: UnboundedSender<Settled>,
    converters: Converters,
    producer: Arc<TrackedProducer>,
    deliveries: Arc<Deliveries>,
    /// None when the worker configured librdkafka's `partitioner`: it then places every record.
    keyless: Option<KeylessPartitions>,
    /// Sequence number of the next record sent: its opaque for the delivery report.
    next_seq: usize,
    /// Records at the front of `in_flight` known delivered (released from `deliveries`).
    delivered: usize,
    admin_config: ClientConfig,
    offsets: Arc<OffsetStore>,
    in_flight: VecDeque<InFlightBatch>,
    /// Records in `in_flight` not yet settled.
    in_flight_records: usize,
    /// Latest acknowledged offset per source partition, not yet written.
    committable: Vec<(Arc<SourceMap>, SourceOffset)>,
    /// Topics this task has written to (created first when topic creation is on).
    known_topics: HashSet<String>,
    last_topic: String,
    /// The last header converted at each position: headers that repeat record after record
    /// (a file name) are converted once. By position, as records of one source list their
    /// headers in the same order.
    header_cache: Vec<CachedHeader>,
    /// The shared headers (see `Headers::shared`) whose conversions lead `header_cache`.
    last_shared: Option<Arc<[sluice_connect_api::Header]>>,
    /// Writes a failed record to the dead letter queue as JsonConverter envelopes.
    envelopes: JsonConverter,
}

impl RecordSender {
    pub fn new(
        settings: SourceSettings,
        settled: UnboundedSender<Settled>,
        converters: Converters,
        client: &ClientConfig,
        offsets: Arc<OffsetStore>,
    ) -> Result<Self, WorkerError> {
        // As Kafka Connect does: every record acknowledged by all replicas, in order.
        let deliveries = Arc::new(Deliveries::default());
        let (config, own_partitioner) = source_producer_config(client);
        let producer: Arc<TrackedProducer> =
            Arc::new(config.create_with_context(DeliveryContext {
                deliveries: Arc::clone(&deliveries),
            })?);
        producer_id::request_early(&producer, &settings.offsets_topic);
        Ok(Self {
            settings,
            settled,
            converters,
            keyless: own_partitioner.then(|| KeylessPartitions::new(Arc::clone(&producer))),
            producer,
            deliveries,
            next_seq: 0,
            delivered: 0,
            admin_config: client.clone(),
            offsets,
            in_flight: VecDeque::new(),
            in_flight_records: 0,
            committable: Vec::new(),
            known_topics: HashSet::new(),
            last_topic: String::new(),
            header_cache: Vec::new(),
            last_shared: None,
            envelopes: JsonConverter::default(),
        })
    }

    /// Sends the batches the polling half hands over until it stops (or `stop`), then waits for
    /// what is in flight and writes the offsets of what was acknowledged. An empty batch means
    /// the task had nothing: what is in flight is settled then.
    pub async fn run(
        mut self,
        mut batches: Receiver<PolledBatch>,
        stop: CancellationToken,
    ) -> Result<(), WorkerError> {
        let interval = self.settings.offset_flush_interval;
        let mut next_flush = tokio::time::Instant::now() + interval;
        let result = loop {
            let sent = tokio::select! {
                _ = stop.cancelled() => break Ok(()),
                batch = batches.recv() => match batch {
                    None => break Ok(()),
                    Some(batch) if batch.records.is_empty() => self.settle(0).await,
                    Some(batch) => self.send(batch).await,
                },
                _ = tokio::time::sleep_until(next_flush) => Ok(()),
            };
            if let Err(e) = sent {
                break Err(e);
            }
            if tokio::time::Instant::now() >= next_flush {
                if let Err(e) = self.commit_offsets().await {
                    break Err(e);
                }
                next_flush = tokio::time::Instant::now() + interval;
            }
        };
        let settled = self.settle(0).await;
        let committed = self.commit_offsets().await;
        result.and(settled).and(committed)
    }

    /// Transforms, converts and sends a batch, after waiting for room when too much is in
    /// flight.
    async fn send(&mut self, batch: PolledBatch) -> Result<(), WorkerError> {
        let PolledBatch {
            mut records,
            transformed,
        } = batch;
        if records.is_empty() {
            return Ok(());
        }
        if self.in_flight_records + records.len() > MAX_IN_FLIGHT {
            self.settle(MAX_IN_FLIGHT.saturating_sub(records.len()))
                .await?;
        }
        if let Some(keyless) = &mut self.keyless {
            keyless.next_batch();
        }
        let mut sent = Vec::with_capacity(records.len());
        let mut run_ends = Vec::new();
        let mut failure = None;
        let mut transformed = transformed.map(Vec::into_iter);
        for (i, record) in records.iter().enumerate() {
            if let Some(previous) = i.checked_sub(1).and_then(|p| records.get(p)) {
                if !same_map(&previous.source_partition, &record.source_partition) {
                    run_ends.push(i - 1);
                }
            }
            let outcome = transformed.as_mut().and_then(Iterator::next);
            match self.send_one(record, outcome).await {
                Ok(was_sent) => sent.push(was_sent),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        // What went out before a failure is still settled, so its offsets are stored.
        records.truncate(sent.len());
        if !records.is_empty() {
            self.in_flight_records += records.len();
            self.in_flight.push_back(InFlightBatch {
                records,
                sent,
                run_ends,
                run_ends_settled: 0,
                settled: 0,
            });
        }
        failure.map_or(Ok(()), Err)
    }

    /// Sends one record (as `transformed` when the connector has transforms); false when it was
    /// set aside: dropped by a transform, or failed and tolerated by the error policy. Either
    /// way it waits its turn, so offsets never run ahead.
    async fn send_one(
        &mut self,
        record: &SourceRecord,
        transformed: Option<Transformed>,
    ) -> Result<bool, WorkerError> {
        let coordinates = || {
            format!(
                "topic={} source partition={} offset={}",
                record.topic,
                serde_json::Value::Object((*record.source_partition).clone()),
                serde_json::Value::Object(record.source_offset.to_map())
            )
        };
        // Without transforms the record is sent as polled, with no copy.
        let transformed = match transformed {
            None => None,
            Some(Ok(Some(r))) => Some(r),
            // Dropped by a transform: its offset counts once those before it do.
            Some(Ok(None)) => return Ok(false),
            Some(Err(e)) => {
                let errors = Arc::clone(&self.settings.errors);
                let class = errors.transform_class(&e.alias).to_string();
                self.set_aside(
                    record,
                    record,
                    Stage::Transformation,
                    &class,
                    coordinates(),
                    &e,
                )
                .await?;
                return Ok(false);
            }
        };
        let out = transformed.as_ref().unwrap_or(record);
        let encoded = match self.encode(out) {
            Ok(encoded) => encoded,
            Err((stage, error)) => {
                let errors = Arc::clone(&self.settings.errors);
                let retried = errors
                    .retry_after(error, || {
                        std::future::ready(Ok(self.encode(out).map_err(|(_, e)| e)))
                    })
                    .await?;
                match retried {
                    Ok(encoded) => encoded,
                    Err(error) => {
                        let class = self.converters.classes.of(stage).to_string();
                        self.set_aside(out, record, stage, &class, coordinates(), &error)
                            .await?;
                        return Ok(false);
                    }
                }
            }
        };
        self.prepare_topic(&out.topic).await?;
        let partition = match (out.kafka_partition, &encoded.0) {
            (None, None) => self.keyless.as_mut().and_then(|k| k.partition(&out.topic)),
            (given, _) => given,
        };
        if let Err(e) = enqueue(&self.producer, out, partition, encoded, self.next_seq).await {
            // Refused before it was sent (a record over `message.max.bytes`): the error policy
            // decides, as for a converter's failure.
            let at = format!("topic={}", out.topic);
            self.set_aside(out, record, Stage::KafkaProduce, PRODUCER_CLASS, at, &e)
                .await?;
            return Ok(false);
        }
        self.next_seq += 1;
        Ok(true)
    }

    /// Reports a record that failed for good (log, dead letter queue as a JsonConverter envelope
    /// of the Connect record) and skips it, or fails the task, as `errors.tolerance` says. The
    /// source partition and offset are `polled`'s: a transformed record no longer holds them.
    async fn set_aside(
        &self,
        record: &SourceRecord,
        polled: &SourceRecord,
        stage: Stage,
        class: &str,
        coordinates: String,
        error: &(dyn std::error::Error + Send + Sync + 'static),
    ) -> Result<(), WorkerError> {
        let envelope = |schema: Option<&SchemaRef>, value: &Value| {
            self.envelopes
                .from_connect_data(&record.topic, schema, value)
                .ok()
                .flatten()
        };
        let key = envelope(record.key_schema.as_ref(), &record.key);
        let value = envelope(record.value_schema.as_ref(), &record.value);
        let failure = Failure {
            stage,
            class,
            coordinates,
            record: RawRecord {
                topic: &record.topic,
                partition: record.kafka_partition,
                offset: None,
                key: key.as_deref(),
                value: value.as_deref(),
                headers: Vec::new(),
                source_position: Some((
                    serde_json::Value::Object((*polled.source_partition).clone()),
                    serde_json::Value::Object(polled.source_offset.to_map()),
                )),
            },
        };
        self.settings.errors.fail(failure, error).await
    }

    fn encode<'r>(
        &mut self,
        record: &'r SourceRecord,
    ) -> Result<Encoded<'r>, (Stage, sluice_connect_api::ConnectError)> {
        let topic = &record.topic;
        let key = convert(
            &*self.converters.key,
            topic,
            record.key_schema.as_ref(),
            &record.key,
        )
        .map_err(|e| (Stage::KeyConverter, e))?;
        let value = convert(
            &*self.converters.value,
            topic,
            record.value_schema.as_ref(),
            &record.value,
        )
        .map_err(|e| (Stage::ValueConverter, e))?;
        let headers = if record.headers.is_empty() {
            None
        } else {
            let mut out = OwnedHeaders::new_with_capacity(record.headers.len());
            // Shared headers already converted for an earlier record need no look.
            let shared = record.headers.shared();
            let known = match (shared, &self.last_shared) {
                (Some(s), Some(last)) if Arc::ptr_eq(s, last) => s.len(),
                _ => 0,
            };
            if known == 0 {
                // The slots are about to change: until they all match, no shared set matches them.
                self.last_shared = None;
            }
            for (i, h) in record.headers.iter().enumerate() {
                if i < known {
                    out = out.insert(Header {
                        key: &h.key,
                        value: self.header_cache.get(i).and_then(|c| c.bytes.as_deref()),
                    });
                    continue;
                }
                let convert = |h: &sluice_connect_api::Header| {
                    self.converters
                        .header
                        .from_connect_header(topic, &h.key, h.schema.as_ref(), &h.value)
                        .map_err(|e| (Stage::HeaderConverter, e))
                };
                let same_slot = self
                    .header_cache
                    .get_mut(i)
                    .filter(|c| same_text(&c.key, &h.key) && same_schema(&c.schema, &h.schema));
                match same_slot {
                    // A header whose value changes per record (an offset) keeps its slot.
                    Some(cached) => {
                        if cached.value != h.value {
                            cached.bytes = convert(h)?;
                            cached.value.clone_from(&h.value);
                        }
                    }
                    None => {
                        let entry = CachedHeader {
                            key: h.key.clone(),
                            schema: h.schema.clone(),
                            value: h.value.clone(),
                            bytes: convert(h)?,
                        };
                        if i < self.header_cache.len() {
                            self.header_cache[i] = entry;
                        } else {
                            self.header_cache.push(entry);
                        }
                    }
                }
                out = out.insert(Header {
                    key: &h.key,
                    value: self.header_cache.get(i).and_then(|c| c.bytes.as_deref()),
                });
            }
            self.last_shared = shared.cloned();
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

/// A source task's producer settings, on top of the worker's and the connector's: acks=all and
/// idempotence as Kafka Connect sets them; unless they say else, Kafka's own partitioner
/// (murmur2) for keys, and connections to the brokers the first metadata names at once. In its
/// default sparse mode librdkafka connects to them one at a time, at most every half
/// `reconnect.backoff.ms`, and a new task's first records waited those 25 ms. Also whether the
/// partitioner is ours, which places keyless records by batch.
pub fn source_producer_config(client: &ClientConfig) -> (ClientConfig, bool) {
    let mut config = client.clone();
    config.set("acks", "all").set("enable.idempotence", "true");
    let own_partitioner = config.get("partitioner").is_none();
    if own_partitioner {
        config.set("partitioner", "murmur2_random");
    }
    if config.get("enable.sparse.connections").is_none() {
        config.set("enable.sparse.connections", "false");
    }
    (config, own_partitioner)
}

/// A record's key, value and headers as the producer takes them.
type Encoded<'r> = (
    Option<Cow<'r, [u8]>>,
    Option<Cow<'r, [u8]>>,
    Option<OwnedHeaders>,
);

/// `value` as `converter` writes it; lent, not copied, when the bytes are the value's own.
fn convert<'r>(
    converter: &dyn Converter,
    topic: &str,
    schema: Option<&SchemaRef>,
    value: &'r Value,
) -> Result<Option<Cow<'r, [u8]>>, sluice_connect_api::ConnectError> {
    if let Some(bytes) = converter.lend_bytes(schema, value) {
        return Ok(Some(Cow::Borrowed(bytes)));
    }
    Ok(converter
        .from_connect_data(topic, schema, value)?
        .map(Cow::Owned))
}

/// Map equality: usually the same shared map; else the cheap ordered comparison first, as maps
/// from one task are built the same way, so this rarely needs the key lookups of `==`.
fn same_map(a: &Arc<SourceMap>, b: &Arc<SourceMap>) -> bool {
    Arc::ptr_eq(a, b)
        || (a.len() == b.len() && (a.iter().zip(b.iter()).all(|(x, y)| x == y) || a == b))
}

/// Header keys a connector names in its code are the same borrowed text record after record.
fn same_text(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// Schemas are shared, so the same one is usually the same pointer.
fn same_schema(a: &Option<SchemaRef>, b: &Option<SchemaRef>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
        (None, None) => true,
        _ => false,
    }
}

/// Hands one record to the producer (to `partition`, or where its partitioner says), waiting
/// while its queue is full; `seq` comes back with its delivery report.
async fn enqueue(
    producer: &TrackedProducer,
    record: &SourceRecord,
    partition: Option<i32>,
    (key, value, headers): Encoded<'_>,
    seq: usize,
) -> Result<(), KafkaError> {
    let mut out: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(&record.topic, seq);
    if let Some(k) = key.as_deref() {
        out = out.key(k);
    }
    if let Some(v) = value.as_deref() {
        out = out.payload(v);
    }
    if let Some(p) = partition {
        out = out.partition(p);
    }
    if let Some(ts) = record.timestamp {
        out = out.timestamp(ts);
    }
    if let Some(h) = headers {
        out = out.headers(h);
    }
    loop {
        match producer.send(out) {
            Ok(()) => return Ok(()),
            // The client's queue is full: let it drain, then offer the same record again.
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                out = back;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((e, _)) => return Err(e),
        }
    }
}

impl RecordSender {
    /// Waits, oldest first, until at most `keep` records are in flight. Whole settled batches
    /// go back to the polling half; the offsets of everything settled become committable.
    async fn settle(&mut self, keep: usize) -> Result<(), WorkerError> {
        let result = self.settle_records(keep).await;
        if let Some(front) = self.in_flight.front() {
            if let Some(last) = front
                .settled
                .checked_sub(1)
                .and_then(|i| front.records.get(i))
            {
                mark_done(&mut self.committable, last);
            }
        }
        result
    }

    async fn settle_records(&mut self, keep: usize) -> Result<(), WorkerError> {
        while self.in_flight_records > keep {
            let Some(front) = self.in_flight.front_mut() else {
                break;
            };
            let i = front.settled;
            let Some(record) = front.records.get(i) else {
                break;
            };
            // As Kafka does: a record that was dropped is committed all the same.
            if front.sent.get(i).copied().unwrap_or(false) {
                if self.delivered == 0 {
                    let topic = &record.topic;
                    let failed =
                        |e| WorkerError::record(Stage::KafkaProduce, format!("topic={topic}"), e);
                    self.delivered = self
                        .deliveries
                        .take_delivered(MAX_IN_FLIGHT)
                        .map_err(failed)?;
                    if self.delivered == 0 {
                        self.deliveries.wait_oldest().await;
                        self.delivered = self
                            .deliveries
                            .take_delivered(MAX_IN_FLIGHT)
                            .map_err(failed)?;
                    }
                }
                // Released from the tracker: this one was delivered.
                self.delivered = self.delivered.saturating_sub(1);
            }
            // Only the last record of a run from one source partition needs its offset copied.
            if front.run_ends.get(front.run_ends_settled) == Some(&i) {
                mark_done(&mut self.committable, record);
                front.run_ends_settled += 1;
            }
            front.settled += 1;
            self.in_flight_records -= 1;
            if front.settled == front.records.len() {
                if let Some(batch) = self.in_flight.pop_front() {
                    if let Some(last) = batch.records.last() {
                        mark_done(&mut self.committable, last);
                    }
                    // The polling half is gone only once this half stopped: nothing to tell then.
                    let _ = self.settled.send(Settled::Records(batch.records));
                }
            }
        }
        Ok(())
    }

    /// Writes the latest acknowledged offset of each source partition.
    async fn commit_offsets(&mut self) -> Result<(), WorkerError> {
        if self.committable.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.committable);
        let mut written = Vec::with_capacity(pending.len());
        for (n, (partition, offset)) in pending.iter().enumerate() {
            let (key, value) =
                records::source_offset(&self.settings.connector, partition, Some(&offset.to_map()));
            let mut record: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(
                &self.settings.offsets_topic,
                Deliveries::write_opaque(n),
            )
            .key(key.as_slice());
            if let Some(payload) = value.as_deref() {
                record = record.payload(payload);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err((e, _)) => return Err(e.into()),
                }
            }
            written.push((key, value));
        }
        self.deliveries.wait_writes(written.len()).await?;
        for (key, value) in &written {
            self.offsets.apply(key, value.as_deref());
        }
        let _ = self.settled.send(Settled::OffsetsWritten);
        Ok(())
    }
}

/// Makes `record`'s offset the committable one of its source partition.
fn mark_done(committable: &mut Vec<(Arc<SourceMap>, SourceOffset)>, record: &SourceRecord) {
    if record.source_partition.is_empty() && record.source_offset.is_empty() {
        return;
    }
    // Tasks have few partitions: a linear search from the most recent is cheaper than keying by
    // the serialized map.
    match committable
        .iter_mut()
        .rev()
        .find(|(partition, _)| same_map(partition, &record.source_partition))
    {
        Some(entry) => entry.1.clone_from(&record.source_offset),
        None => committable.push((
            Arc::clone(&record.source_partition),
            record.source_offset.clone(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_producers_connect_at_once_and_place_keys_as_kafka_does_unless_told_otherwise() {
        let (config, own_partitioner) = source_producer_config(&ClientConfig::new());
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("partitioner"), Some("murmur2_random"));
        assert!(own_partitioner);
        assert_eq!(config.get("enable.sparse.connections"), Some("false"));

        let mut told = ClientConfig::new();
        told.set("partitioner", "random")
            .set("enable.sparse.connections", "true");
        let (config, own_partitioner) = source_producer_config(&told);
        assert_eq!(config.get("partitioner"), Some("random"));
        assert!(!own_partitioner, "librdkafka places keyless records then");
        assert_eq!(config.get("enable.sparse.connections"), Some("true"));
    }
}
