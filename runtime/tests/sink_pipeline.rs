//! The sink pipeline end to end: records from a topic reach a FileStreamSink file through the
//! group `connect-<name>`, its commits follow what was written, and a new task after a clean stop
//! continues from them without writing anything twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use sluice_connect_api::{Connector, SinkConnector};
use sluice_connectors::file::FileStreamSinkConnector;
use sluice_runtime::converters::SimpleHeaderConverter;
use sluice_runtime::converters::StringConverter;
use sluice_runtime::transforms::TransformChain;
use sluice_runtime::worker::sink::SinkTopics;
use sluice_runtime::worker::{Converters, ErrorPolicy, SinkRunner, SinkSettings, WorkerError};
use tokio_util::sync::CancellationToken;

mod common;
use common::{Broker, NoContext, WAIT};

async fn produce(broker: &Broker, range: std::ops::Range<usize>) {
    let producer: FutureProducer = broker.client().create().expect("producer");
    for i in range {
        let value = format!("record-{i:04}");
        producer
            .send(FutureRecord::<(), _>::to("out").payload(&value), WAIT)
            .await
            .expect("delivered");
    }
}

fn start(
    broker: &Broker,
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
    let settings = SinkSettings {
        connector: "file-sink".into(),
        task: 0,
        topics: SinkTopics::List(vec!["out".into()]),
        offset_flush_interval: Duration::from_millis(200),
        max_batch: 500,
        errors: ErrorPolicy::default(),
        topic_observer: None,
    };
    let converters = Converters {
        key: Box::new(StringConverter),
        value: Box::new(StringConverter),
        header: Box::new(SimpleHeaderConverter),
    };
    let runner = SinkRunner::new(
        settings,
        task,
        task_props,
        converters,
        TransformChain::from_config(&BTreeMap::new()).expect("no transforms"),
        &broker.client(),
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
    stop.cancel();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("clean stop");

    produce(&broker, 300..350).await;
    let stop = CancellationToken::new();
    let task = start(&broker, &file, stop.clone());
    let lines = wait_for_lines(&file, 350).await;
    // Give a wrongly rewound consumer time to write duplicates before checking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    tokio::time::timeout(WAIT, task)
        .await
        .expect("stops in time")
        .expect("join")
        .expect("clean stop");
    let lines = if lines.len() == 350 {
        wait_for_lines(&file, 350).await
    } else {
        lines
    };
    let expected: Vec<String> = (0..350).map(|i| format!("record-{i:04}")).collect();
    assert_eq!(lines, expected, "every record once, in order");
    broker.stop().await;
}
