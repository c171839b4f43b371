//! The sink pipeline end to end: records from a topic reach a FileStreamSink file through the
//! group `connect-<name>`, its commits follow what was written, and a new task after a clean stop
//! continues from them without writing anything twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use sluice_connect_api::{BoxFuture, ConnectError, Connector, SinkConnector, SinkRecord, SinkTask};
use sluice_connectors::file::FileStreamSinkConnector;
use sluice_runtime::converters::SimpleHeaderConverter;
use sluice_runtime::converters::StringConverter;
use sluice_runtime::transforms::TransformChain;
use sluice_runtime::worker::errors::{ErrorCounters, ErrorHandler, ErrorSettings};
use sluice_runtime::worker::sink::SinkTopics;
use sluice_runtime::worker::{Converters, SinkRunner, SinkSettings, WorkerError};
use tokio_util::sync::CancellationToken;

mod common;
use common::{stop_cleanly, Broker, NoContext, WAIT};

async fn produce(broker: &Broker, range: std::ops::Range<usize>) {
    produce_to(broker, None, range).await;
}

/// `produce` into one partition, or where the producer puts them.
async fn produce_to(broker: &Broker, partition: Option<i32>, range: std::ops::Range<usize>) {
    let producer: FutureProducer = broker.client().create().expect("producer");
    // All queued before any is awaited, so they travel in batches as a real producer's do.
    let sends: Vec<_> = range
        .map(|i| {
            let value = format!("record-{i:04}");
            let mut record = FutureRecord::<(), _>::to("out").payload(&value);
            record.partition = partition;
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("queued")
        })
        .collect();
    for sent in sends {
        sent.await.expect("delivered").expect("written");
    }
}

fn start(
    broker: &Broker,
    file: &std::path::Path,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    start_with(&broker.client(), file, stop)
}

/// `start` with the consumer settings of `client`.
fn start_with(
    client: &ClientConfig,
    file: &std::path::Path,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    let props: BTreeMap<String, String> = [("file".to_string(), file.display().to_string())].into();
    let mut connector = FileStreamSinkConnector::default();
    connector
        .start(&props, Arc::new(NoContext))
        .expect("connector");
    let task = connector.new_task();
    let task_props = connector.task_configs(1).expect("tasks").remove(0);
    start_task(
        client,
        task,
        task_props,
        stop,
        ErrorHandler::failing("test", 0),
    )
}

fn start_task(
    client: &ClientConfig,
    task: Box<dyn SinkTask>,
    task_props: BTreeMap<String, String>,
    stop: CancellationToken,
    errors: ErrorHandler,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    let commits_every = Duration::from_millis(200);
    start_task_committing(client, task, task_props, stop, errors, commits_every)
}

/// `start_task` with `offset.flush.interval.ms` set to `commits_every`.
fn start_task_committing(
    client: &ClientConfig,
    task: Box<dyn SinkTask>,
    task_props: BTreeMap<String, String>,
    stop: CancellationToken,
    errors: ErrorHandler,
    commits_every: Duration,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    let settings = SinkSettings {
        connector: "file-sink".into(),
        task: 0,
        topics: SinkTopics::List(vec!["out".into()]),
        offset_flush_interval: commits_every,
        max_batch: 500,
        connector_class: "FileStreamSink".into(),
        errors: Arc::new(errors),
        topic_observer: None,
    };
    let converters = Converters {
        key: Box::new(StringConverter),
        value: Box::new(StringConverter),
        header: Box::new(SimpleHeaderConverter),
        classes: Default::default(),
    };
    let runner = SinkRunner::new(
        settings,
        task,
        task_props,
        converters,
        TransformChain::from_config(&BTreeMap::new()).expect("no transforms"),
        client,
    )
    .expect("runner");
    tokio::spawn(runner.run(stop))
}

async fn wait_for_lines(file: &std::path::Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_reach_the_file_and_a_new_task_continues_from_the_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    produce(&broker, 0..300).await;
    let file = dir.path().join("sink.txt");
    let stop = CancellationToken::new();
    let task = start(&broker, &file, stop.clone());
    assert_eq!(wait_for_lines(&file, 300).await.len(), 300);
    stop_cleanly(stop, task).await;

    produce(&broker, 300..350).await;
    let stop = CancellationToken::new();
    let task = start(&broker, &file, stop.clone());
    let lines = wait_for_lines(&file, 350).await;
    // Give a wrongly rewound consumer time to write duplicates before checking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_cleanly(stop, task).await;
    let lines = if lines.len() == 350 {
        wait_for_lines(&file, 350).await
    } else {
        lines
    };
    let expected: Vec<String> = (0..350).map(|i| format!("record-{i:04}")).collect();
    assert_eq!(lines, expected, "every record once, in order");
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_set_to_latest_writes_only_what_arrives_after_it_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    produce(&broker, 0..100).await;
    let file = dir.path().join("sink.txt");
    let stop = CancellationToken::new();
    let mut client = broker.client();
    client.set("auto.offset.reset", "latest");
    let task = start_with(&client, &file, stop.clone());
    // Where the sink starts is fixed when its partition is assigned, which this test cannot
    // see: one record at a time is produced until the sink has written one.
    let deadline = Instant::now() + WAIT;
    let mut next = 100;
    while std::fs::read_to_string(&file)
        .unwrap_or_default()
        .is_empty()
        && Instant::now() < deadline
    {
        produce(&broker, next..next + 1).await;
        next += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = format!("record-{:04}", next - 1);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        lines = wait_for_lines(&file, 1).await;
        if lines.last() == Some(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_cleanly(stop, task).await;
    let first = lines
        .first()
        .and_then(|l| l.strip_prefix("record-"))
        .and_then(|n| n.parse::<usize>().ok())
        .expect("the sink wrote records");
    assert!(
        first >= 100,
        "the records produced before the sink started were written: {lines:?}"
    );
    let expected: Vec<String> = (first..next).map(|i| format!("record-{i:04}")).collect();
    assert_eq!(
        lines, expected,
        "every record from where it started, once, in order"
    );
    broker.stop().await;
}

/// A sink whose every `put` fails, as a database that refuses a batch would.
struct RefusingSink;

impl SinkTask for RefusingSink {
    fn start(&mut self, _props: &BTreeMap<String, String>) -> sluice_connect_api::Result<()> {
        Ok(())
    }
    fn put(&mut self, _records: Vec<SinkRecord>) -> BoxFuture<'_, sluice_connect_api::Result<()>> {
        Box::pin(async { Err(ConnectError::Fatal("the target refused the batch".into())) })
    }
    fn stop(&mut self) -> sluice_connect_api::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_put_failed_is_read_again_by_the_next_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    produce(&broker, 0..300).await;
    // The task fails on its first put; its offsets must not be committed on the way out.
    let failed = start_task(
        &broker.client(),
        Box::new(RefusingSink),
        BTreeMap::new(),
        CancellationToken::new(),
        ErrorHandler::failing("test", 0),
    );
    let outcome = tokio::time::timeout(WAIT, failed)
        .await
        .expect("fails in time")
        .expect("join");
    let err = outcome.expect_err("the put failed");
    assert!(err.to_string().contains("TASK_PUT"), "{err}");

    let file = dir.path().join("sink.txt");
    let stop = CancellationToken::new();
    let task = start(&broker, &file, stop.clone());
    let lines = wait_for_lines(&file, 300).await;
    stop_cleanly(stop, task).await;
    let expected: Vec<String> = (0..300).map(|i| format!("record-{i:04}")).collect();
    assert_eq!(lines, expected, "the refused batch reached the next task");
    broker.stop().await;
}

/// A sink that refuses any batch holding a record ending in 7, as a database refuses a row that
/// breaks a constraint, and keeps what it accepted.
struct PickySink {
    accepted: Arc<std::sync::Mutex<Vec<String>>>,
}

impl SinkTask for PickySink {
    fn start(&mut self, _props: &BTreeMap<String, String>) -> sluice_connect_api::Result<()> {
        Ok(())
    }
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, sluice_connect_api::Result<()>> {
        let values: Vec<String> = records
            .iter()
            .map(|r| r.value.to_java_string().unwrap_or_default())
            .collect();
        let refused = values.iter().find(|v| v.ends_with('7')).cloned();
        let accepted = Arc::clone(&self.accepted);
        Box::pin(async move {
            if let Some(v) = refused {
                return Err(ConnectError::data(format!("constraint violated by {v}")));
            }
            accepted.lock().expect("lock").extend(values);
            Ok(())
        })
    }
    fn stop(&mut self) -> sluice_connect_api::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_a_put_refuses_go_to_the_dead_letter_queue_and_the_rest_are_put() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    produce(&broker, 0..100).await;
    let props: BTreeMap<String, String> = [
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", "refused"),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let counters = Arc::new(ErrorCounters::default());
    let errors = ErrorHandler::new(
        ErrorSettings::from_config(&props),
        "picky",
        0,
        &props,
        &broker.client(),
        Arc::clone(&counters),
    );
    let accepted = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let task = start_task(
        &broker.client(),
        Box::new(PickySink {
            accepted: Arc::clone(&accepted),
        }),
        BTreeMap::new(),
        stop.clone(),
        errors,
    );
    let deadline = Instant::now() + WAIT;
    while accepted.lock().expect("lock").len() < 90 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_cleanly(stop, task).await;
    let expected: Vec<String> = (0..100)
        .filter(|i| i % 10 != 7)
        .map(|i| format!("record-{i:04}"))
        .collect();
    assert_eq!(
        *accepted.lock().expect("lock"),
        expected,
        "every other record, once, in order"
    );
    assert_eq!(counters.skipped(), 10);

    let consumer: rdkafka::consumer::BaseConsumer = broker
        .client()
        .set("group.id", "dlq-check")
        .create()
        .expect("consumer");
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment
        .add_partition_offset("refused", 0, rdkafka::Offset::Beginning)
        .expect("partition");
    rdkafka::consumer::Consumer::assign(&consumer, &assignment).expect("assign");
    let mut refused = Vec::new();
    let deadline = Instant::now() + WAIT;
    while refused.len() < 10 && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            use rdkafka::message::{Headers as _, Message as _};
            let stage = m
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == "__connect.errors.stage"))
                .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()));
            assert_eq!(stage.as_deref(), Some("TASK_PUT"));
            refused.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    let expected: Vec<String> = (0..100)
        .filter(|i| i % 10 == 7)
        .map(|i| format!("record-{i:04}"))
        .collect();
    assert_eq!(refused, expected, "the refused records' original bytes");
    drop(consumer);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_started_before_its_topic_exists_waits_for_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let file = dir.path().join("sink.txt");
    let stop = CancellationToken::new();
    let task = start(&broker, &file, stop.clone());
    // Long enough for the consumer to learn the topic is missing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !task.is_finished(),
        "the task must not fail on a topic that is not there yet"
    );
    produce(&broker, 0..50).await;
    let lines = wait_for_lines(&file, 50).await;
    stop_cleanly(stop, task).await;
    let expected: Vec<String> = (0..50).map(|i| format!("record-{i:04}")).collect();
    assert_eq!(lines, expected);
    broker.stop().await;
}

/// A sink that keeps every batch it is given, as it was given.
struct BatchRecorder {
    batches: Arc<std::sync::Mutex<Vec<Vec<String>>>>,
}

impl SinkTask for BatchRecorder {
    fn start(&mut self, _props: &BTreeMap<String, String>) -> sluice_connect_api::Result<()> {
        Ok(())
    }
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, sluice_connect_api::Result<()>> {
        let values = records
            .iter()
            .map(|r| r.value.to_java_string().unwrap_or_default())
            .collect();
        self.batches.lock().expect("lock").push(values);
        Box::pin(std::future::ready(Ok(())))
    }
    fn stop(&mut self) -> sluice_connect_api::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_put_holds_more_than_max_poll_records_even_from_one_partition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    // Already in the topic, so the first fetch brings far more than one batch's worth.
    produce(&broker, 0..3000).await;
    let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let task = start_recorder(&broker, &batches, stop.clone());
    let deadline = Instant::now() + WAIT;
    let put = || {
        batches
            .lock()
            .expect("lock")
            .iter()
            .map(Vec::len)
            .sum::<usize>()
    };
    while put() < 3000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_cleanly(stop, task).await;
    let batches = std::mem::take(&mut *batches.lock().expect("lock"));
    let largest = batches.iter().map(Vec::len).max().unwrap_or(0);
    assert!(
        largest <= 500,
        "a put of {largest} records; max.poll.records is 500"
    );
    let expected: Vec<String> = (0..3000).map(|i| format!("record-{i:04}")).collect();
    assert_eq!(batches.concat(), expected, "every record once, in order");
    broker.stop().await;
}

fn records_put(batches: &std::sync::Mutex<Vec<Vec<String>>>) -> std::collections::BTreeSet<String> {
    batches
        .lock()
        .expect("lock")
        .iter()
        .flatten()
        .cloned()
        .collect()
}

type Recorded = Arc<std::sync::Mutex<Vec<Vec<String>>>>;

fn start_recorder(
    broker: &Broker,
    batches: &Recorded,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    start_recorder_committing(broker, batches, stop, Duration::from_millis(200))
}

/// `start_recorder` with `offset.flush.interval.ms` set to `commits_every`.
fn start_recorder_committing(
    broker: &Broker,
    batches: &Recorded,
    stop: CancellationToken,
    commits_every: Duration,
) -> tokio::task::JoinHandle<Result<(), WorkerError>> {
    start_task_committing(
        &broker.client(),
        Box::new(BatchRecorder {
            batches: Arc::clone(batches),
        }),
        BTreeMap::new(),
        stop,
        ErrorHandler::failing("test", 0),
        commits_every,
    )
}

/// Two recording tasks of one connector after the group moved a partition from the first to
/// the second.
struct Handover {
    first: Recorded,
    second: Recorded,
    tasks: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<Result<(), WorkerError>>,
    )>,
    /// The first record produced once the second task had a partition: it went to partition 0,
    /// and record `next + 100` to partition 1.
    next: usize,
    /// Records produced so far.
    total: usize,
    deadline: Instant,
}

/// Topic `out` with two partitions of 100 records; a first task (committing every
/// `commits_every`) puts all 200, then a second joins and the group gives it one partition;
/// then 100 more records go to each partition, and every record has been put by one or the
/// other.
async fn hand_a_partition_over(broker: &Broker, commits_every: Duration) -> Handover {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};

    let admin: AdminClient<_> = broker.client().create().expect("admin");
    admin
        .create_topics(
            &[NewTopic::new("out", 2, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create topics")
        .into_iter()
        .for_each(|created| {
            created.expect("topic created");
        });
    produce_to(broker, Some(0), 0..100).await;
    produce_to(broker, Some(1), 100..200).await;
    let deadline = Instant::now() + WAIT;

    let first: Recorded = Arc::default();
    let stop_first = CancellationToken::new();
    let first_task = start_recorder_committing(broker, &first, stop_first.clone(), commits_every);
    while records_put(&first).len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(records_put(&first).len(), 200);

    // A second task joins the group, which gives it one of the two partitions. Records go to both
    // until it has some; the next ones on its partition reach it alone.
    let second: Recorded = Arc::default();
    let stop_second = CancellationToken::new();
    let second_task =
        start_recorder_committing(broker, &second, stop_second.clone(), commits_every);
    let mut next = 200;
    while records_put(&second).is_empty() && Instant::now() < deadline {
        produce_to(broker, Some(0), next..next + 1).await;
        produce_to(broker, Some(1), next + 1..next + 2).await;
        next += 2;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !records_put(&second).is_empty(),
        "the second task was never given a partition"
    );
    produce_to(broker, Some(0), next..next + 100).await;
    produce_to(broker, Some(1), next + 100..next + 200).await;
    let handover = Handover {
        first,
        second,
        tasks: vec![(stop_second, second_task), (stop_first, first_task)],
        next,
        total: next + 200,
        deadline,
    };
    assert_eq!(
        handover.wait_until_put(handover.total).await,
        handover.total,
        "every record put"
    );
    handover
}

impl Handover {
    /// Waits until the two tasks together have put `count` distinct records; returns how many
    /// they have.
    async fn wait_until_put(&self, count: usize) -> usize {
        let put = || {
            records_put(&self.first)
                .union(&records_put(&self.second))
                .count()
        };
        while put() < count && Instant::now() < self.deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        put()
    }

    async fn stop(self) {
        for (stop, task) in self.tasks {
            stop_cleanly(stop, task).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_does_not_rewind_a_partition_the_group_moved_to_another_task() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let handover = hand_a_partition_over(&broker, Duration::from_millis(200)).await;
    let (next, total, deadline) = (handover.next, handover.total, handover.deadline);

    let group: BaseConsumer = broker
        .client()
        .set("group.id", "connect-file-sink")
        .create()
        .expect("consumer");
    let committed_at_end = |partition: i32| {
        let (_, end) = group
            .fetch_watermarks("out", partition, WAIT)
            .expect("watermarks");
        let mut list = TopicPartitionList::new();
        list.add_partition("out", partition);
        let committed = group.committed_offsets(list, WAIT).expect("committed");
        let at = committed
            .find_partition("out", partition)
            .expect("listed")
            .offset();
        (at, Offset::Offset(end))
    };
    // The partition the second task was given: the one its last records were produced to.
    let moved = if records_put(&handover.second).contains(&format!("record-{:04}", next + 100)) {
        1
    } else {
        0
    };
    let kept = 1 - moved;
    let settled = |partition: i32| {
        let (at, end) = committed_at_end(partition);
        at == end
    };
    while !settled(moved) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The first task puts and commits more of the partition it kept: that commit must leave the
    // moved partition where its new owner committed it.
    produce_to(&broker, Some(kept), total..total + 10).await;
    assert_eq!(
        handover.wait_until_put(total + 10).await,
        total + 10,
        "every record put"
    );
    while !settled(kept) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for partition in [kept, moved] {
        let (at, end) = committed_at_end(partition);
        assert_eq!(
            at, end,
            "partition {partition}: the group's committed offset is not its end"
        );
    }
    handover.stop().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_commits_a_partition_before_the_group_moves_it_to_another_task() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    // Kafka Connect's default interval: no periodic commit happens while the test runs, so only
    // a commit made as the group moves a partition keeps its new owner from reading it again.
    let handover = hand_a_partition_over(&broker, Duration::from_secs(60)).await;

    let put_twice: Vec<String> = {
        let mut seen = std::collections::BTreeSet::new();
        [&handover.first, &handover.second]
            .iter()
            .flat_map(|batches| batches.lock().expect("lock").concat())
            .filter(|record| !seen.insert(record.clone()))
            .collect()
    };
    assert!(
        put_twice.is_empty(),
        "{} records put twice across the two tasks, from {:?} to {:?}",
        put_twice.len(),
        put_twice.first(),
        put_twice.last()
    );
    handover.stop().await;
    broker.stop().await;
}
