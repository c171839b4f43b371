//! The Kafka-backed store. A reader thread tails the `_schemas` topic into the in-memory
//! [`State`]; a write is produced to the topic and acknowledged only once that reader has
//! applied it, so what a caller was told is stored is what every reader of the topic sees,
//! after a restart and on other registry processes alike.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::RegistryError;
use crate::records;
use crate::state::State;

/// How long the registry waits for the topic to be read at start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Store {
    state: Arc<RwLock<State>>,
    /// The Kafka cluster's id, for `/v1/metadata/id`.
    pub cluster_id: String,
    producer: FutureProducer,
    topic: String,
    /// The offset after the last record the reader applied (a compacted topic's last record is
    /// never removed, so the reader always reaches the end it was shown).
    applied: watch::Receiver<i64>,
    timeout: Duration,
}

impl Store {
    /// Creates the topic if needed (one partition, compacted), then reads it to its end before
    /// returning; the reader keeps tailing it until `shutdown`.
    pub async fn open(
        client: &ClientConfig,
        topic: &str,
        replication_factor: i32,
        timeout: Duration,
        shutdown: CancellationToken,
    ) -> Result<(Self, Reader), RegistryError> {
        create_topic(client, topic, replication_factor).await?;
        let state = Arc::new(RwLock::new(State::default()));
        // An empty topic is read to its end from the start: offset 0.
        let (applied_tx, applied) = watch::channel(0);
        let consumer: BaseConsumer = client
            .clone()
            .set("group.id", "sluice-schema-registry-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(store_error)?;
        // The start is asked for before assigning, and given as an offset: assigned at
        // `Beginning` before the client knows the partition's leader, librdkafka retries the
        // offset lookup only after half a second, which every restart would wait out.
        let (start, end) = consumer
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .map_err(store_error)?;
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, Offset::Offset(start))
            .map_err(store_error)?;
        consumer.assign(&assignment).map_err(store_error)?;
        applied_tx.send_replace(start);
        let cluster_id = consumer
            .client()
            .fetch_cluster_id(Duration::from_secs(10))
            .unwrap_or_default();
        let reader_state = Arc::clone(&state);
        let reader = std::thread::Builder::new()
            .name("schemas-reader".into())
            .spawn(move || tail(consumer, reader_state, applied_tx, shutdown))
            .map_err(|e| RegistryError::Store(format!("starting the reader: {e}")))?;
        let producer: FutureProducer = client
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .create()
            .map_err(store_error)?;
        let store = Self {
            state,
            cluster_id,
            producer,
            topic: topic.to_string(),
            applied,
            timeout,
        };
        store.wait_applied(end, STARTUP_TIMEOUT).await?;
        Ok((store, Reader(Some(reader))))
    }

    pub fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes records in order and returns once the reader has applied the last one.
    pub async fn write(
        &self,
        records: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<(), RegistryError> {
        let mut last = -1;
        for (key, value) in &records {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic)
                .key(key.as_slice())
                .partition(0);
            if let Some(v) = value {
                record = record.payload(v.as_slice());
            }
            let delivery = self
                .producer
                .send(record, self.timeout)
                .await
                .map_err(|(e, _)| store_error(e))?;
            last = delivery.offset;
        }
        self.wait_applied(last + 1, self.timeout).await
    }

    async fn wait_applied(&self, offset: i64, timeout: Duration) -> Result<(), RegistryError> {
        let mut applied = self.applied.clone();
        let reached = tokio::time::timeout(timeout, applied.wait_for(|a| *a >= offset)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(RegistryError::Store("the topic reader stopped".into())),
            Err(_) => Err(RegistryError::StoreTimeout),
        }
    }
}

fn store_error(e: KafkaError) -> RegistryError {
    RegistryError::Store(e.to_string())
}

async fn create_topic(
    client: &ClientConfig,
    topic: &str,
    replication_factor: i32,
) -> Result<(), RegistryError> {
    let admin: AdminClient<DefaultClientContext> = client.create().map_err(store_error)?;
    // As many replicas as asked for, but no more than there are brokers (a single machine).
    let brokers = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(store_error)?
        .brokers()
        .len();
    let replicas = replication_factor.clamp(1, i32::try_from(brokers.max(1)).unwrap_or(1));
    let new_topic =
        NewTopic::new(topic, 1, TopicReplication::Fixed(replicas)).set("cleanup.policy", "compact");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(store_error)?
    {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(store_error(KafkaError::AdminOp(code))),
        }
    }
    Ok(())
}

/// The reader thread, stopped by the `shutdown` token given to [`Store::open`].
pub struct Reader(Option<std::thread::JoinHandle<()>>);

impl Reader {
    /// Waits for the reader thread to end (its token must be cancelled), so its client is
    /// closed before whatever comes next, such as the broker stopping.
    pub async fn join(mut self) {
        if let Some(handle) = self.0.take() {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// The reader thread: applies every record in order and publishes how far it got.
fn tail(
    consumer: BaseConsumer,
    state: Arc<RwLock<State>>,
    applied: watch::Sender<i64>,
    shutdown: CancellationToken,
) {
    let mut logged_error: Option<Instant> = None;
    while !shutdown.is_cancelled() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                if let Some(key) = message.key() {
                    match records::decode(key, message.payload()) {
                        Some(record) => state
                            .write()
                            .unwrap_or_else(|p| p.into_inner())
                            .apply(record),
                        None => tracing::warn!(
                            offset = message.offset(),
                            "skipping a record of the schemas topic that is not understood"
                        ),
                    }
                }
                applied.send_replace(message.offset() + 1);
            }
            // Logged at most every ten seconds: a broker that is away reports often.
            Some(Err(e)) if logged_error.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) => {
                tracing::warn!(error = %e, "reading the schemas topic");
                logged_error = Some(Instant::now());
            }
            Some(Err(_)) => {}
            None => {}
        }
    }
}

/// Client settings for the store from the registry's config.
pub fn client_config(bootstrap: &str, extra: &BTreeMap<String, String>) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", bootstrap);
    for (k, v) in extra {
        client.set(k, v);
    }
    client
}
