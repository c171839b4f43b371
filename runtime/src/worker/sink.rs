//! One sink task's pipeline: a consumer in group `connect-<connector>` reads the topics (or the
//! topics matching `topics.regex`), the converters decode each record, the transforms run, the
//! task gets it in `put`, and every
//! `offset.flush.interval.ms` (and at a clean stop) the consumer commits exactly what
//! `pre_commit` says is safe.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_core::Stream;
use rdkafka::consumer::{CommitMode, Consumer, MessageStream, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Headers as _, Timestamp};
use rdkafka::{ClientConfig, Message};
use sluice_connect_api::{Headers, Props, SinkRecord, SinkTask, TimestampType, TopicPartition};
use tokio_util::sync::CancellationToken;

use super::errors::{transform_alias, ErrorHandler, Failure, RawRecord};
use super::sink_assignment::{offset_list, RevokeHook, SinkConsumerContext};
use super::sink_progress::SinkProgress;
use super::task_thread::TaskThread;
use super::{Converters, Stage, TopicObserver, WorkerError};
use crate::transforms::TransformChain;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future's output if it is ready without waiting; a timer per message would cost more
/// than the message.
fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

/// The topics a sink reads: a list, or every topic matching a pattern.
#[derive(Debug, Clone)]
pub enum SinkTopics {
    List(Vec<String>),
    Regex(String),
}

impl SinkTopics {
    /// `topics.regex` when set, else the `topics` list.
    pub fn from_config(props: &sluice_connect_api::Props) -> Self {
        match props.get("topics.regex").filter(|r| !r.trim().is_empty()) {
            Some(pattern) => SinkTopics::Regex(pattern.trim().to_string()),
            None => SinkTopics::List(sluice_connect_api::config::split_list(
                props.get("topics").map(String::as_str).unwrap_or_default(),
            )),
        }
    }

    /// Whether the sink reads `topic` (the whole name must match a pattern).
    pub fn matches(&self, topic: &str) -> bool {
        match self {
            SinkTopics::List(topics) => topics.iter().any(|t| t == topic),
            SinkTopics::Regex(pattern) => {
                regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|r| r.is_match(topic))
            }
        }
    }
}

#[derive(Clone)]
pub struct SinkSettings {
    pub connector: String,
    pub task: usize,
    pub topics: SinkTopics,
    pub offset_flush_interval: Duration,
    /// Most records handed to one `put`.
    pub max_batch: usize,
    /// The connector's class, named when `put` fails.
    pub connector_class: String,
    pub errors: Arc<ErrorHandler>,
    pub topic_observer: Option<TopicObserver>,
}

/// A consumed record's bytes, kept while its batch is put when a dead letter queue may need them.
#[derive(Clone)]
struct RawCopy {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

impl RawCopy {
    fn of(m: &BorrowedMessage<'_>) -> Self {
        Self {
            topic: m.topic().to_string(),
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn raw(&self) -> RawRecord<'_> {
        RawRecord {
            topic: &self.topic,
            partition: Some(self.partition),
            offset: Some(self.offset),
            key: self.key.as_deref(),
            value: self.value.as_deref(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect(),
            source_position: None,
        }
    }
}

/// A batch read from the topics: its records, the next offset per partition once it is put, and
/// the records' raw bytes when failures may need them.
struct Batch {
    records: Vec<SinkRecord>,
    consumed: Vec<(TopicPartition, i64)>,
    raw: Option<Vec<RawCopy>>,
    /// Partitions revoked while the batch was read; `consumed` holds nothing read of them
    /// before that.
    revoked: Vec<TopicPartition>,
}

fn coordinates(topic: &str, partition: i32, offset: i64) -> String {
    format!("topic={topic} partition={partition} offset={offset}")
}

pub struct SinkRunner {
    /// The task, on its own thread (see `task_thread`).
    task: TaskThread<Box<dyn SinkTask>>,
    /// Its config, to start it with when the runner runs.
    start: Option<Props>,
    consumer: Arc<StreamConsumer<SinkConsumerContext>>,
    decoder: Decoder,
    /// What was put and what was committed, per partition.
    progress: Arc<SinkProgress>,
}

/// Turns consumed messages into sink records. Apart from the consumer, whose messages borrow it.
struct Decoder {
    settings: Arc<SinkSettings>,
    converters: Converters,
    transforms: TransformChain<SinkRecord>,
    seen_topics: HashSet<String>,
    /// Whether records get their headers: false only when no one could tell (see
    /// `SinkTask::reads_headers`).
    converts_headers: bool,
}

impl SinkRunner {
    pub fn new(
        settings: SinkSettings,
        task: Box<dyn SinkTask>,
        props: Props,
        converters: Converters,
        transforms: TransformChain<SinkRecord>,
        client: &ClientConfig,
    ) -> Result<Self, WorkerError> {
        let mut client = with_sink_defaults(client);
        let converts_headers =
            task.reads_headers() || !transforms.is_empty() || converters.header.may_fail();
        let task = TaskThread::spawn(&settings.task_name(), task)?;
        let progress = Arc::new(SinkProgress::default());
        let context = SinkConsumerContext::new(client.get("auto.offset.reset").unwrap_or_default());
        context.commit_before_revoke(revoke_hook(task.clone(), Arc::clone(&progress)));
        let consumer: StreamConsumer<SinkConsumerContext> = client
            .set("group.id", format!("connect-{}", settings.connector))
            .set("enable.auto.commit", "false")
            .create_with_context(context)?;
        match &settings.topics {
            SinkTopics::List(topics) => {
                let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                consumer.subscribe(&topics)?;
            }
            // librdkafka treats a leading `^` as a pattern; anchored so the whole name must
            // match, as Java's Matcher.matches() does.
            SinkTopics::Regex(pattern) => consumer.subscribe(&[&format!("^({pattern})$")])?,
        }
        Ok(Self {
            task,
            start: Some(props),
            consumer: Arc::new(consumer),
            decoder: Decoder {
                settings: Arc::new(settings),
                converters,
                transforms,
                seen_topics: HashSet::new(),
                converts_headers,
            },
            progress,
        })
    }

    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        if let Some(props) = self.start.take() {
            self.task.call(move |t, _| t.start(&props)).await??;
        }
        // Shared with the decoder, which the reading half borrows while the putting half runs.
        let settings = Arc::clone(&self.decoder.settings);
        let mut last_flush = Instant::now();
        // The batch read while the one before it was being put.
        let mut pending: Option<Batch> = None;
        let result = loop {
            // The next batch is read and decoded on this thread while the task's thread puts the
            // last one: the two work at once, and `put` still sees the records in order.
            let putting = async {
                match pending.take() {
                    Some(batch) => deliver(&self.task, &settings, &self.progress, batch).await,
                    None => Ok(()),
                }
            };
            // An idle topic must not hold up the commit that is due, as Kafka Connect's poll
            // waits no longer than the next commit.
            let wait = settings
                .offset_flush_interval
                .saturating_sub(last_flush.elapsed())
                .clamp(Duration::from_millis(1), IDLE_WAIT);
            let reading = next_batch(&self.consumer, &mut self.decoder, wait);
            let (delivered, read) = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                both = async { tokio::join!(putting, reading) } => both,
            };
            if let Err(e) = delivered {
                break Err(e);
            }
            match read {
                Ok(mut batch) => {
                    // The group took these partitions while the batch was read: they are their
                    // new owner's to commit, and committing what this task last read of them
                    // would rewind the new owner's progress. What was put of them was committed
                    // before they went (`revoke_hook`).
                    self.progress.forget(&std::mem::take(&mut batch.revoked));
                    pending = Some(batch);
                }
                Err(e) => break Err(e),
            }
            if last_flush.elapsed() >= settings.offset_flush_interval {
                // As Kafka Connect does: periodic commits are asynchronous.
                if let Err(e) = self.commit(CommitMode::Async).await {
                    break Err(e);
                }
                last_flush = Instant::now();
            }
        };
        // The last commit must land before the task is reported stopped; whoever stops the task
        // bounds the wait.
        let committed = self.commit(CommitMode::Sync).await;
        self.consumer.context().stop_committing_before_revoke();
        let stopped = match self.task.call(|t, _| t.stop()).await {
            Ok(stopped) => stopped.map_err(WorkerError::from),
            Err(e) => Err(e.into()),
        };
        // The consumer's close blocks while the cluster is unreachable: off the runtime's threads.
        let closing = tokio::task::spawn_blocking(move || drop(self)).await;
        if let Err(e) = closing {
            tracing::warn!(error = %e, "closing a sink consumer failed");
        }
        result.and(committed).and(stopped)
    }
}

/// Puts a batch and records in `progress` the offsets it consumed; only then may they be
/// committed (a batch whose put failed is read again by the task that follows). A retriable
/// failure is retried within `errors.retry.timeout`; under `errors.tolerance=all` a batch that
/// still fails is put record by record, and the records that fail alone are reported (log, dead
/// letter queue) and skipped.
async fn deliver(
    task: &TaskThread<Box<dyn SinkTask>>,
    settings: &SinkSettings,
    progress: &Arc<SinkProgress>,
    batch: Batch,
) -> Result<(), WorkerError> {
    let Batch {
        records,
        consumed,
        raw,
        ..
    } = batch;
    if records.is_empty() {
        progress.record_put(&consumed);
        return Ok(());
    }
    let errors = &settings.errors;
    let failed = |e| WorkerError::record(Stage::TaskPut, settings.task_name(), e);
    // A put consumes its records: a copy is kept only when a failure could use it.
    let spare = errors.may_redeliver().then(|| records.clone());
    let done = || Some((Arc::clone(progress), consumed.clone()));
    let error = match put(task, records, done()).await? {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let Some(spare) = spare else {
        return Err(failed(error));
    };
    let retried = errors
        .retry_after(error, || put(task, spare.clone(), done()))
        .await?;
    let Err(error) = retried else {
        return Ok(());
    };
    if !errors.tolerates() {
        return Err(failed(error));
    }
    tracing::warn!(connector = %settings.connector, task = settings.task, error = %error, "put failed for a batch; putting its records one by one");
    let class = &settings.connector_class;
    for (i, record) in spare.into_iter().enumerate() {
        let at = coordinates(&record.topic, record.kafka_partition, record.kafka_offset);
        let topic = record.topic.clone();
        let Err(e) = put(task, vec![record], None).await? else {
            continue;
        };
        let copy = raw.as_ref().and_then(|r| r.get(i));
        let record = match copy {
            Some(copy) => copy.raw(),
            None => RawRecord::bare(&topic),
        };
        let failure = Failure {
            stage: Stage::TaskPut,
            class,
            coordinates: at,
            record,
        };
        errors.fail(failure, &e).await?;
    }
    progress.record_put(&consumed);
    Ok(())
}

/// The prefetch a sink's consumer gets unless the worker's or the connector's consumer settings
/// say otherwise. librdkafka fetches a partition until it holds `queued.min.messages` records,
/// then checks again after `fetch.queue.backoff.ms` (a second by default). A sink that drains its
/// queue in less than the pause waits for the next fetch: with 5,000 records and 10 ms, a sink
/// writing 100-byte lines to a file stalled at about 650k records/s. 20,000 records refilled
/// every 5 ms keep it fed past 1M records/s, at a fifth of librdkafka's default queue (100,000
/// records). Whatever the partition count, `queued.max.messages.kbytes` (64 MB by default) still
/// bounds the whole queue of the consumer.
pub const SINK_PREFETCH: [(&str, &str); 2] = [
    ("queued.min.messages", "20000"),
    ("fetch.queue.backoff.ms", "5"),
];

/// The consumer settings of a sink: `client` (the worker's and the connector's), and where they
/// say nothing, the sink's prefetch and a start from the beginning of what its group never
/// committed, as Kafka Connect's sink does.
fn with_sink_defaults(client: &ClientConfig) -> ClientConfig {
    let mut client = client.clone();
    for (key, value) in SINK_PREFETCH
        .into_iter()
        .chain([("auto.offset.reset", "earliest")])
    {
        if client.get(key).is_none() {
            client.set(key, value);
        }
    }
    client
}

/// The longest a sink waits for a record before it looks at its commits and its stop signal.
const IDLE_WAIT: Duration = Duration::from_millis(200);

/// Waits up to `wait` for one record, then takes whatever else is ready, up to `max.poll.records`. One stream
/// serves the whole batch: each new one registers with the consumer under a lock.
async fn next_batch(
    consumer: &StreamConsumer<SinkConsumerContext>,
    decoder: &mut Decoder,
    wait: Duration,
) -> Result<Batch, WorkerError> {
    let settings = Arc::clone(&decoder.settings);
    let mut batch = Batch {
        records: Vec::with_capacity(settings.max_batch),
        consumed: Vec::new(),
        raw: settings.errors.keeps_raw().then(Vec::new),
        revoked: Vec::new(),
    };
    let failed = |e| WorkerError::record(Stage::KafkaConsume, settings.task_name(), e);
    let mut stream = consumer.stream();
    let first = tokio::time::timeout(wait, next_message(&mut stream)).await;
    batch.note_revoked(consumer);
    let Ok(Some(first)) = first else {
        return Ok(batch);
    };
    let first = match first {
        Ok(m) => m,
        // A subscribed topic that does not exist yet: the sink waits for it, as Kafka
        // Connect's does.
        Err(e) if topic_not_there_yet(&e) => return Ok(batch),
        Err(e) => return Err(failed(e)),
    };
    decoder.take(&first, &mut batch).await?;
    drop(first);
    for _ in 1..settings.max_batch {
        let next = ready_now(next_message(&mut stream));
        batch.note_revoked(consumer);
        match next {
            Some(Some(Ok(m))) => decoder.take(&m, &mut batch).await?,
            Some(Some(Err(e))) if topic_not_there_yet(&e) => break,
            Some(Some(Err(e))) => return Err(failed(e)),
            Some(None) | None => break,
        }
    }
    Ok(batch)
}

impl Batch {
    /// Takes note of partitions revoked during the last poll (where librdkafka runs the
    /// rebalance), before any message that poll returned is taken.
    fn note_revoked(&mut self, consumer: &StreamConsumer<SinkConsumerContext>) {
        let revoked = consumer.context().take_revoked();
        if revoked.is_empty() {
            return;
        }
        self.consumed
            .retain(|(partition, _)| !revoked.contains(partition));
        self.revoked.extend(revoked);
    }
}

/// The stream's next message (`StreamExt::next` without the dependency).
fn next_message<'s, 'c>(
    stream: &'s mut MessageStream<'c, SinkConsumerContext>,
) -> impl std::future::Future<Output = Option<KafkaResult<BorrowedMessage<'c>>>> + 's {
    std::future::poll_fn(move |cx| std::pin::Pin::new(&mut *stream).poll_next(cx))
}

/// A commit refused because the group's membership moved on (a rebalance under way, or this
/// member's generation gone).
fn group_changed(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode;
    matches!(
        e,
        rdkafka::error::KafkaError::ConsumerCommit(
            RDKafkaErrorCode::RebalanceInProgress
                | RDKafkaErrorCode::IllegalGeneration
                | RDKafkaErrorCode::UnknownMemberId
        )
    )
}

/// librdkafka's report that a subscribed topic does not exist (yet): not an error for a sink.
fn topic_not_there_yet(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode;
    matches!(
        e,
        rdkafka::error::KafkaError::MessageConsumption(
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
        )
    )
}

/// Where a successful put records the offsets of its records.
type PutOffsets = (Arc<SinkProgress>, Vec<(TopicPartition, i64)>);

/// One `put` on the task's thread: a put that never returns holds up only that thread. When it
/// succeeds, `done` records its offsets there and then (not once the runner hears of it), so
/// that a revocation waiting behind it on that thread commits them too.
async fn put(
    task: &TaskThread<Box<dyn SinkTask>>,
    records: Vec<SinkRecord>,
    done: Option<PutOffsets>,
) -> Result<Result<(), sluice_connect_api::ConnectError>, WorkerError> {
    Ok(task
        .call(move |t, runtime| {
            let put = runtime.block_on(t.put(records));
            if let (Ok(()), Some((progress, offsets))) = (&put, done) {
                progress.record_put(&offsets);
            }
            put
        })
        .await?)
}

/// The longest a revocation waits for the task to finish its put and flush. It blocks the
/// consumer's poll (librdkafka's callback), so it is bounded; past it, the partitions' next
/// owner reads again what was put since their last commit.
const REVOKE_FLUSH_WAIT: Duration = Duration::from_secs(5);

/// Flushes what the task put of partitions about to be revoked, as Kafka Connect does in
/// `onPartitionsRevoked`, and answers the offsets to commit for them. Called by the consumer's
/// rebalance callback while the task may still be putting a batch: the flush queues behind it.
fn revoke_hook(task: TaskThread<Box<dyn SinkTask>>, progress: Arc<SinkProgress>) -> RevokeHook {
    Box::new(move |revoked| {
        // The batch being put is not in `progress` yet: it is recorded on the task's thread
        // when its put returns, before the flush below runs there.
        let flushed = task.call_waiting(REVOKE_FLUSH_WAIT, {
            let progress = Arc::clone(&progress);
            let revoked = revoked.to_vec();
            move |t, _| {
                let pending = progress.uncommitted(&revoked);
                if pending.is_empty() {
                    return Ok(pending);
                }
                t.pre_commit(&pending)
            }
        });
        match flushed {
            Ok(Ok(safe)) => safe
                .into_iter()
                .filter(|(partition, _)| revoked.contains(partition))
                .collect(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "flushing partitions before they were revoked failed");
                BTreeMap::new()
            }
            Err(e) => {
                tracing::warn!(error = %e, "flushing partitions before they were revoked did not finish");
                BTreeMap::new()
            }
        }
    })
}

impl SinkSettings {
    fn task_name(&self) -> String {
        format!("{}-{}", self.connector, self.task)
    }
}

impl Decoder {
    /// Decodes and transforms one message into `batch`; a failure is retried or reported as the
    /// connector's `errors.*` keys say. Either way its offset counts as consumed.
    async fn take(
        &mut self,
        m: &BorrowedMessage<'_>,
        batch: &mut Batch,
    ) -> Result<(), WorkerError> {
        let topic = m.topic();
        match batch.consumed.last_mut() {
            Some(((t, p), next)) if t == topic && *p == m.partition() => *next = m.offset() + 1,
            _ => {
                batch
                    .consumed
                    .push(((topic.to_string(), m.partition()), m.offset() + 1));
                // Looked up only where a run of one partition's records starts.
                if !self.seen_topics.contains(topic) {
                    if let Some(observer) = &self.settings.topic_observer {
                        observer(topic);
                    }
                    self.seen_topics.insert(topic.to_string());
                }
            }
        }
        let converted = match self.convert(m) {
            Ok(converted) => converted,
            // The shared settings are counted once more only on this path, not per record.
            Err((stage, error)) => match Arc::clone(&self.settings.errors)
                .retry_after(error, || {
                    std::future::ready(Ok(self.convert(m).map_err(|(_, e)| e)))
                })
                .await?
            {
                Ok(converted) => converted,
                Err(error) => {
                    let errors = &self.settings.errors;
                    let class = match stage {
                        Stage::Transformation => transform_alias(&*error)
                            .map(|alias| errors.transform_class(alias).to_string())
                            .unwrap_or_default(),
                        _ => self.converters.classes.of(stage).to_string(),
                    };
                    let copy = RawCopy::of(m);
                    let failure = Failure {
                        stage,
                        class: &class,
                        coordinates: coordinates(topic, m.partition(), m.offset()),
                        record: copy.raw(),
                    };
                    errors.fail(failure, &*error).await?;
                    return Ok(());
                }
            },
        };
        if let Some(record) = converted {
            batch.records.push(record);
            if let Some(raw) = &mut batch.raw {
                raw.push(RawCopy::of(m));
            }
        }
        Ok(())
    }

    /// Decodes and transforms one message; `None` when a transform dropped it.
    fn convert(
        &mut self,
        m: &BorrowedMessage<'_>,
    ) -> Result<Option<SinkRecord>, (Stage, BoxError)> {
        let record = self.decode(m)?;
        self.transforms
            .apply(record)
            .map_err(|e| (Stage::Transformation, Box::new(e) as BoxError))
    }

    fn decode(&self, m: &BorrowedMessage<'_>) -> Result<SinkRecord, (Stage, BoxError)> {
        let topic = m.topic();
        let boxed = |stage: Stage| {
            move |e: sluice_connect_api::ConnectError| (stage, Box::new(e) as BoxError)
        };
        let (key_schema, key) = self
            .converters
            .key
            .to_connect_data(topic, m.key())
            .map_err(boxed(Stage::KeyConverter))?;
        let (value_schema, value) = self
            .converters
            .value
            .to_connect_data(topic, m.payload())
            .map_err(boxed(Stage::ValueConverter))?;
        let mut headers = Headers::new();
        // librdkafka parses a message's headers when first asked for them.
        let raw = if self.converts_headers {
            m.headers()
        } else {
            None
        };
        if let Some(raw) = raw {
            for h in raw.iter() {
                let (schema, value) = self
                    .converters
                    .header
                    .to_connect_header(topic, h.key, h.value)
                    .map_err(boxed(Stage::HeaderConverter))?;
                headers.add(h.key.to_string(), schema, value);
            }
        }
        let (timestamp, timestamp_type) = match m.timestamp() {
            Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
            Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
            Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        };
        Ok(SinkRecord {
            topic: topic.to_string(),
            kafka_partition: m.partition(),
            kafka_offset: m.offset(),
            key_schema,
            key,
            value_schema,
            value,
            timestamp,
            timestamp_type,
            headers,
        })
    }
}

impl SinkRunner {
    /// Commits what the task says is safe. A synchronous commit waits on the cluster, so it runs
    /// on a blocking thread.
    async fn commit(&mut self, mode: CommitMode) -> Result<(), WorkerError> {
        let consumed = self.progress.put();
        if consumed.is_empty() {
            return Ok(());
        }
        let safe = self
            .task
            .call(move |t, _| t.pre_commit(&consumed))
            .await??;
        // A task may answer for partitions it no longer has.
        let assigned = self.consumer.assignment()?;
        let safe: BTreeMap<TopicPartition, i64> = safe
            .into_iter()
            .filter(|((topic, partition), _)| assigned.find_partition(topic, *partition).is_some())
            .collect();
        // The last commit at a stop is always sent: an asynchronous one before it may have failed.
        if matches!(mode, CommitMode::Async) && self.progress.is_committed(&safe) {
            return Ok(());
        }
        if safe.is_empty() {
            return Ok(());
        }
        let tpl = offset_list(&safe)?;
        match mode {
            CommitMode::Async => self.consumer.commit(&tpl, mode)?,
            CommitMode::Sync => {
                let consumer = Arc::clone(&self.consumer);
                let committed = tokio::task::spawn_blocking(move || consumer.commit(&tpl, mode))
                    .await
                    .map_err(|e| WorkerError::Timeout(format!("committing offsets: {e}")))?;
                match committed {
                    Ok(()) => {}
                    // As in Kafka Connect, not the task's failure: the partitions' next owner
                    // reads again what was put since the last commit.
                    Err(e) if group_changed(&e) => {
                        tracing::warn!(error = %e, "the group was rebalancing; offsets not committed");
                        return Ok(());
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        self.progress.note_committed(safe);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sink_consumer_gets_its_defaults_only_where_the_user_set_nothing() {
        let mut client = ClientConfig::new();
        client.set("queued.min.messages", "1000");
        client.set("auto.offset.reset", "latest");
        let sink = with_sink_defaults(&client);
        assert_eq!(sink.get("queued.min.messages"), Some("1000"));
        assert_eq!(sink.get("auto.offset.reset"), Some("latest"));
        assert_eq!(sink.get("fetch.queue.backoff.ms"), Some("5"));
        let bare = with_sink_defaults(&ClientConfig::new());
        assert_eq!(bare.get("queued.min.messages"), Some("20000"));
        assert_eq!(bare.get("auto.offset.reset"), Some("earliest"));
    }
}
