//! One sink task's pipeline: a consumer in group `connect-<connector>` reads the topics, the
//! converters decode each record, the task gets it in `put`, and every
//! `offset.flush.interval.ms` (and at a clean stop) the consumer commits exactly what
//! `pre_commit` says is safe.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Timestamp};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice_connect_api::{Converter, Headers, SinkRecord, SinkTask, TimestampType, TopicPartition};
use tokio_util::sync::CancellationToken;

use super::WorkerError;

#[derive(Debug, Clone)]
pub struct SinkSettings {
    pub connector: String,
    pub topics: Vec<String>,
    pub offset_flush_interval: Duration,
    /// Most records handed to one `put`.
    pub max_batch: usize,
}

pub struct SinkRunner {
    settings: SinkSettings,
    task: Box<dyn SinkTask>,
    key_converter: Box<dyn Converter>,
    value_converter: Box<dyn Converter>,
    consumer: StreamConsumer,
    /// Next offset to read, per partition, for everything put so far.
    consumed: BTreeMap<TopicPartition, i64>,
}

impl SinkRunner {
    pub fn new(
        settings: SinkSettings,
        task: Box<dyn SinkTask>,
        key_converter: Box<dyn Converter>,
        value_converter: Box<dyn Converter>,
        client: &ClientConfig,
    ) -> Result<Self, WorkerError> {
        let consumer: StreamConsumer = client
            .clone()
            .set("group.id", format!("connect-{}", settings.connector))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics)?;
        Ok(Self {
            settings,
            task,
            key_converter,
            value_converter,
            consumer,
            consumed: BTreeMap::new(),
        })
    }

    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let mut last_flush = Instant::now();
        let result = loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                batch = self.next_batch() => batch,
            };
            match batch {
                Ok(records) if !records.is_empty() => {
                    if let Err(e) = self.task.put(records).await {
                        break Err(e.into());
                    }
                }
                Ok(_) => {}
                Err(e) => break Err(e),
            }
            if last_flush.elapsed() >= self.settings.offset_flush_interval {
                // As Kafka Connect does: periodic commits are asynchronous.
                if let Err(e) = self.commit(CommitMode::Async) {
                    break Err(e);
                }
                last_flush = Instant::now();
            }
        };
        // The last commit must land before the task is reported stopped; it blocks, so it runs
        // where blocking is allowed.
        let committed = tokio::task::block_in_place(|| self.commit(CommitMode::Sync));
        let stopped = self.task.stop().map_err(WorkerError::from);
        result.and(committed).and(stopped)
    }

    /// Waits for one record, then takes whatever else is ready, up to `max_batch`.
    async fn next_batch(&mut self) -> Result<Vec<SinkRecord>, WorkerError> {
        let mut records = Vec::new();
        let first = tokio::time::timeout(Duration::from_millis(200), self.consumer.recv()).await;
        let Ok(first) = first else { return Ok(records) };
        let first = first?;
        let mut consumed = Vec::new();
        records.push(self.convert(&first, &mut consumed)?);
        drop(first);
        while records.len() < self.settings.max_batch {
            match tokio::time::timeout(Duration::ZERO, self.consumer.recv()).await {
                Ok(Ok(m)) => {
                    let record = self.convert(&m, &mut consumed)?;
                    records.push(record);
                }
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => break,
            }
        }
        self.consumed.extend(consumed);
        Ok(records)
    }

    fn convert(
        &self,
        m: &BorrowedMessage<'_>,
        consumed: &mut Vec<(TopicPartition, i64)>,
    ) -> Result<SinkRecord, WorkerError> {
        let topic = m.topic().to_string();
        let (key_schema, key) = self.key_converter.to_connect_data(&topic, m.key())?;
        let (value_schema, value) = self.value_converter.to_connect_data(&topic, m.payload())?;
        let (timestamp, timestamp_type) = match m.timestamp() {
            Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
            Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
            Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        };
        consumed.push(((topic.clone(), m.partition()), m.offset() + 1));
        Ok(SinkRecord {
            topic,
            kafka_partition: m.partition(),
            kafka_offset: m.offset(),
            key_schema,
            key,
            value_schema,
            value,
            timestamp,
            timestamp_type,
            headers: Headers::new(),
        })
    }

    /// Commits what the task says is safe.
    fn commit(&mut self, mode: CommitMode) -> Result<(), WorkerError> {
        if self.consumed.is_empty() {
            return Ok(());
        }
        let safe = self.task.pre_commit(&self.consumed)?;
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &safe {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
        }
        if tpl.count() > 0 {
            self.consumer.commit(&tpl, mode)?;
        }
        Ok(())
    }
}
