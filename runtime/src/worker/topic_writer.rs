//! Writing records to topics a task does not own: the dead letter queue, and the result and
//! error topics sink tasks report to. The producer is made on first use (most connectors never
//! write one), and each topic is created once, with one partition as Kafka creates such topics.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{NewTopic, TopicReplication};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;
use sluice_connect_api::{BoxFuture, ConnectError, Props, Report, Reporter};

use super::{create_topic, WorkerError};

/// How long one write may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A record to write: borrowed bytes, as the dead letter queue has them.
pub struct Outgoing<'a> {
    pub topic: &'a str,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

pub struct TopicWriter {
    client: ClientConfig,
    replication_factor: i16,
    producer: tokio::sync::OnceCell<FutureProducer>,
    created: Mutex<HashSet<String>>,
}

impl TopicWriter {
    /// `client` has the producer settings; topics get `replication_factor` replicas (-1: the
    /// broker's default).
    pub fn new(client: &ClientConfig, replication_factor: i16) -> Self {
        Self {
            client: client.clone(),
            replication_factor,
            producer: tokio::sync::OnceCell::new(),
            created: Mutex::new(HashSet::new()),
        }
    }

    async fn producer(&self) -> Result<&FutureProducer, WorkerError> {
        self.producer
            .get_or_try_init(|| async {
                let mut config = self.client.clone();
                config.set("acks", "all").set("enable.idempotence", "true");
                Ok::<_, WorkerError>(config.create::<FutureProducer>()?)
            })
            .await
    }

    /// Creates `topic` unless it was already. A replication factor the cluster cannot meet (the
    /// default 3 on a single broker) falls back to the broker's default, with a warning.
    async fn ensure_topic(&self, topic: &str) -> Result<(), WorkerError> {
        if self.created.lock().is_ok_and(|c| c.contains(topic)) {
            return Ok(());
        }
        let wanted = NewTopic::new(
            topic,
            1,
            TopicReplication::Fixed(self.replication_factor.into()),
        );
        match create_topic(&self.client, wanted).await {
            Err(WorkerError::Kafka(KafkaError::AdminOp(
                RDKafkaErrorCode::InvalidReplicationFactor,
            ))) => {
                tracing::warn!(topic, replication_factor = self.replication_factor, "the cluster has too few brokers for the replication factor; creating the topic with the broker default");
                create_topic(
                    &self.client,
                    NewTopic::new(topic, 1, TopicReplication::Fixed(-1)),
                )
                .await?
            }
            other => other?,
        }
        if let Ok(mut created) = self.created.lock() {
            created.insert(topic.to_string());
        }
        Ok(())
    }

    pub async fn send(&self, record: Outgoing<'_>) -> Result<(), WorkerError> {
        self.ensure_topic(record.topic).await?;
        let producer = self.producer().await?;
        let mut headers = OwnedHeaders::new();
        for (key, value) in &record.headers {
            headers = headers.insert(Header { key, value: *value });
        }
        let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(record.topic).headers(headers);
        if let Some(key) = record.key {
            out = out.key(key);
        }
        if let Some(value) = record.value {
            out = out.payload(value);
        }
        producer
            .send(out, WRITE_TIMEOUT)
            .await
            .map(|_| ())
            .map_err(|(e, _)| WorkerError::Kafka(e))
    }
}

/// The reporter a sink task gets: the worker's producer settings, pointed elsewhere by the
/// connector's `reporter.bootstrap.servers` and tuned by its `reporter.producer.*` keys, as
/// Confluent's reporters are.
pub struct TopicReporter(Arc<TopicWriter>);

impl TopicReporter {
    pub fn new(producer_client: &ClientConfig, props: &Props) -> Self {
        let mut client = producer_client.clone();
        for (key, value) in props {
            if key == "reporter.bootstrap.servers" && !value.trim().is_empty() {
                client.set("bootstrap.servers", value.trim());
            } else if let Some(setting) = key.strip_prefix("reporter.producer.") {
                client.set(setting, value);
            }
        }
        Self(Arc::new(TopicWriter::new(&client, -1)))
    }
}

impl Reporter for TopicReporter {
    fn report(&self, records: Vec<Report>) -> BoxFuture<'static, sluice_connect_api::Result<()>> {
        let writer = Arc::clone(&self.0);
        Box::pin(async move {
            for record in &records {
                let headers = record
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), Some(v.as_slice())))
                    .collect();
                writer
                    .send(Outgoing {
                        topic: &record.topic,
                        key: record.key.as_deref(),
                        value: record.value.as_deref(),
                        headers,
                    })
                    .await
                    .map_err(|e| {
                        ConnectError::Retriable(format!("writing to {}: {e}", record.topic))
                    })?;
            }
            Ok(())
        })
    }
}
