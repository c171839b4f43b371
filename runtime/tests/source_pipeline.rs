//! The source pipeline end to end against a real broker: FileStreamSource lines reach the topic,
//! offsets reach `connect-offsets`, and a task started again after a clean stop resumes where the
//! last one left off, with no line lost or repeated.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice_connect_api::{Connector, SourceConnector};
use sluice_connectors::file::FileStreamSourceConnector;
use sluice_runtime::converters::{SimpleHeaderConverter, StringConverter};
use sluice_runtime::transforms::TransformChain;
use sluice_runtime::worker::{
    ensure_compacted_topic, Converters, OffsetStore, SourceRunner, SourceSettings,
};
use tokio_util::sync::CancellationToken;

mod common;
use common::{eof_consumer, stop_cleanly, Broker, NoContext, WAIT};

fn lines_in_topic(bootstrap: &str) -> Vec<String> {
    let consumer = eof_consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("lines", 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned())
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return out,
            Some(Err(_)) | None => {}
        }
    }
    out
}

async fn wait_for_lines(bootstrap: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let b = bootstrap.to_string();
        let lines = tokio::task::spawn_blocking(move || lines_in_topic(&b))
            .await
            .expect("consume");
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn append(path: &std::path::Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    for i in range {
        writeln!(f, "line-{i:05}").expect("write");
    }
}

/// The offsets stored in `connect-offsets`, as a worker loads them at start.
async fn load_offsets(client: &ClientConfig) -> Arc<OffsetStore> {
    let c = client.clone();
    let store = tokio::task::spawn_blocking(move || OffsetStore::load(&c, "connect-offsets", WAIT))
        .await
        .expect("load")
        .expect("offsets");
    Arc::new(store)
}

/// Task 0 of `connector`, failing on the first error, with string converters.
fn settings_and_converters(connector: &str) -> (SourceSettings, Converters) {
    let settings = SourceSettings {
        connector: connector.into(),
        offsets_topic: "connect-offsets".into(),
        task: 0,
        offset_flush_interval: Duration::from_millis(200),
        idle_backoff: Duration::from_millis(20),
        errors: Arc::new(sluice_runtime::worker::errors::ErrorHandler::failing(
            "test", 0,
        )),
        topic_creation: None,
        topic_observer: None,
        status_observer: None,
    };
    let converters = Converters {
        key: Box::new(StringConverter),
        value: Box::new(StringConverter),
        header: Box::new(SimpleHeaderConverter),
        classes: Default::default(),
    };
    (settings, converters)
}

async fn start_task(
    client: &ClientConfig,
    file: &std::path::Path,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), sluice_runtime::worker::WorkerError>> {
    let props: BTreeMap<String, String> = [
        ("file".to_string(), file.display().to_string()),
        ("topic".to_string(), "lines".to_string()),
    ]
    .into();
    let mut connector = FileStreamSourceConnector::default();
    connector
        .start(&props, Arc::new(NoContext))
        .expect("connector");
    let task_props = connector.task_configs(1).expect("tasks").remove(0);
    let store = load_offsets(client).await;
    let task = connector.new_task();
    let (settings, converters) = settings_and_converters("file-src");
    let reader = store.reader("file-src");
    let runner = SourceRunner::new(
        settings,
        task,
        task_props,
        reader,
        converters,
        TransformChain::from_config(&BTreeMap::new()).expect("no transforms"),
        client,
        store,
    )
    .expect("runner");
    tokio::spawn(runner.run(shutdown))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_lines_reach_the_topic_and_a_restarted_task_resumes_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let bootstrap = broker.bootstrap.clone();
    let client = broker.client();
    ensure_compacted_topic(&client, "connect-offsets", 25)
        .await
        .expect("offsets topic");

    let file = dir.path().join("input.txt");
    append(&file, 0..1000);
    let stop = CancellationToken::new();
    let task = start_task(&client, &file, stop.clone()).await;
    assert_eq!(wait_for_lines(&bootstrap, 1000).await.len(), 1000);
    append(&file, 1000..1500);
    assert_eq!(wait_for_lines(&bootstrap, 1500).await.len(), 1500);
    stop_cleanly(stop, task).await;

    // Lines written while no task ran, then a new task.
    append(&file, 1500..1600);
    let stop = CancellationToken::new();
    let task = start_task(&client, &file, stop.clone()).await;
    let lines = wait_for_lines(&bootstrap, 1600).await;
    stop_cleanly(stop, task).await;
    let expected: Vec<String> = (0..1600).map(|i| format!("line-{i:05}")).collect();
    assert_eq!(lines, expected, "every line once, in order");

    broker.stop().await;
}

/// A task that polls 50 records once and keeps what `commit_record` is given. Record `n` comes
/// from the source partition `{"source": source_of(n)}` with offset `{"n": n}`.
struct Counting {
    source_of: fn(i64) -> &'static str,
    reads_data: bool,
    polled: bool,
    committed: Arc<std::sync::Mutex<Vec<sluice_connect_api::SourceRecord>>>,
}

impl sluice_connect_api::SourceTask for Counting {
    fn start(
        &mut self,
        _props: &BTreeMap<String, String>,
        _offsets: Arc<dyn sluice_connect_api::OffsetReader>,
    ) -> sluice_connect_api::Result<()> {
        Ok(())
    }
    fn poll(
        &mut self,
    ) -> sluice_connect_api::BoxFuture<
        '_,
        sluice_connect_api::Result<Vec<sluice_connect_api::SourceRecord>>,
    > {
        let records = if std::mem::replace(&mut self.polled, true) {
            Vec::new()
        } else {
            let partition_of = |i: i64| -> Arc<sluice_connect_api::SourceMap> {
                Arc::new(
                    [("source".to_string(), (self.source_of)(i).into())]
                        .into_iter()
                        .collect(),
                )
            };
            (0..50)
                .map(|i| {
                    let partition = partition_of(i);
                    let offset =
                        sluice_connect_api::SourceOffset::at(Arc::clone(&partition), "n", i);
                    sluice_connect_api::SourceRecord::new(
                        Arc::clone(&partition),
                        offset,
                        "counted",
                        Some(sluice_connect_api::Schema::string()),
                        sluice_connect_api::Value::String(format!("v-{i}")),
                    )
                })
                .collect()
        };
        Box::pin(std::future::ready(Ok(records)))
    }
    fn commit_record(
        &mut self,
        record: &sluice_connect_api::SourceRecord,
    ) -> sluice_connect_api::Result<()> {
        self.committed.lock().expect("lock").push(record.clone());
        Ok(())
    }
    fn commit_record_reads_data(&self) -> bool {
        self.reads_data
    }
    fn stop(&mut self) -> sluice_connect_api::Result<()> {
        Ok(())
    }
}

/// What a run of [`Counting`] left: the records `commit_record` was given, and the offsets
/// stored in `connect-offsets` (source partition, offset).
struct CountingRun {
    committed: Vec<sluice_connect_api::SourceRecord>,
    stored: Vec<(sluice_connect_api::SourceMap, sluice_connect_api::SourceMap)>,
}

/// Runs [`Counting`] through a chain that routes its records to another topic.
async fn run_counting(source_of: fn(i64) -> &'static str, reads_data: bool) -> CountingRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let client = broker.client();
    ensure_compacted_topic(&client, "connect-offsets", 25)
        .await
        .expect("offsets topic");
    let store = load_offsets(&client).await;
    let committed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let task = Box::new(Counting {
        source_of,
        reads_data,
        polled: false,
        committed: Arc::clone(&committed),
    });
    let (settings, converters) = settings_and_converters("counting");
    let chain: BTreeMap<String, String> = [
        ("transforms", "route"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", "counted"),
        ("transforms.route.replacement", "routed"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let reader = store.reader("counting");
    let runner = SourceRunner::new(
        settings,
        task,
        BTreeMap::new(),
        reader,
        converters,
        TransformChain::from_config(&chain).expect("chain"),
        &client,
        store,
    )
    .expect("runner");
    let stop = CancellationToken::new();
    let running = tokio::spawn(runner.run(stop.clone()));
    let deadline = Instant::now() + WAIT;
    while committed.lock().expect("lock").len() < 50 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_cleanly(stop, running).await;
    let stored = load_offsets(&client).await.of_connector("counting");
    broker.stop().await;
    let committed = std::mem::take(&mut *committed.lock().expect("lock"));
    CountingRun { committed, stored }
}

async fn committed_through_a_chain(reads_data: bool) -> Vec<sluice_connect_api::SourceRecord> {
    run_counting(|_| "counting", reads_data).await.committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_record_gets_each_record_as_polled_with_its_data_only_when_it_reads_it() {
    let positions = committed_through_a_chain(false).await;
    let offsets: Vec<Option<i64>> = positions
        .iter()
        .map(|r| r.source_offset.position())
        .collect();
    assert_eq!(
        offsets,
        (0..50).map(Some).collect::<Vec<_>>(),
        "every record once, in order"
    );
    assert!(
        positions
            .iter()
            .all(|r| r.topic == "counted" && r.value == sluice_connect_api::Value::Null),
        "the topic as polled, not as routed; no value kept"
    );

    let whole = committed_through_a_chain(true).await;
    let values: Vec<String> = whole
        .iter()
        .map(|r| r.value.to_java_string().unwrap_or_default())
        .collect();
    assert_eq!(
        values,
        (0..50).map(|i| format!("v-{i}")).collect::<Vec<_>>()
    );
    assert!(whole.iter().all(|r| r.topic == "counted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_from_several_source_partitions_stores_the_last_offset_of_each() {
    // Runs of ten: a, b, a, b, a. b's last record is not the batch's last.
    let run = run_counting(|n| if (n / 10) % 2 == 0 { "a" } else { "b" }, false).await;
    assert_eq!(run.committed.len(), 50, "every record committed");
    let mut stored: Vec<(String, String)> = run
        .stored
        .iter()
        .map(|(partition, offset)| {
            (
                serde_json::Value::Object(partition.clone()).to_string(),
                serde_json::Value::Object(offset.clone()).to_string(),
            )
        })
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        [
            (
                r#"{"source":"a"}"#.to_string(),
                r#"{"source":"a","n":49}"#.to_string()
            ),
            (
                r#"{"source":"b"}"#.to_string(),
                r#"{"source":"b","n":39}"#.to_string()
            ),
        ]
    );
}
