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
use common::{eof_consumer, Broker, NoContext, WAIT};

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
    let c = client.clone();
    let store = tokio::task::spawn_blocking(move || OffsetStore::load(&c, "connect-offsets", WAIT))
        .await
        .expect("load")
        .expect("offsets");
    let store = Arc::new(store);
    let task = connector.new_task();
    let settings = SourceSettings {
        connector: "file-src".into(),
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
    stop.cancel();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("clean stop");

    // Lines written while no task ran, then a new task.
    append(&file, 1500..1600);
    let stop = CancellationToken::new();
    let task = start_task(&client, &file, stop.clone()).await;
    let lines = wait_for_lines(&bootstrap, 1600).await;
    stop.cancel();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("clean stop");
    let expected: Vec<String> = (0..1600).map(|i| format!("line-{i:05}")).collect();
    assert_eq!(lines, expected, "every line once, in order");

    broker.stop().await;
}
