//! The herder against a real broker, with a test connector: passwords hidden wherever configs
//! are shown, headers and transforms in the source pipeline, readable traces for failed tasks,
//! topic creation, `tasks.max` enforcement and `request_task_reconfiguration`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::message::Headers as _;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use sluice_connect_api::{
    props_of, BoxFuture, ConfigDef, ConfigType, Connector, ConnectorContext, Importance,
    PluginDesc, PluginKind, Props, Result, Schema, SinkConnector, SinkRecord, SinkTask,
    SourceConnector, SourceMap, SourceRecord, SourceTask, Value,
};
use sluice_runtime::config::WorkerConfig;
use sluice_runtime::herder::{Herder, HerderError, InitialState};

mod common;
use common::{eof_consumer, Broker, WAIT};

/// Task counts and contexts of running test connectors, by connector name.
type Registry = Mutex<HashMap<String, (usize, Arc<dyn ConnectorContext>)>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

#[derive(Default)]
struct TestSource {
    props: Props,
}

impl Connector for TestSource {
    fn version(&self) -> String {
        "1".into()
    }

    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "topic",
                ConfigType::String,
                None,
                Importance::High,
                "Where records go",
            )
            .define(
                "secret",
                ConfigType::Password,
                Some(""),
                Importance::High,
                "A password",
            )
            .define(
                "tasks",
                ConfigType::Int,
                Some("1"),
                Importance::Low,
                "Tasks to ask for",
            )
            .define(
                "records",
                ConfigType::Int,
                Some("4"),
                Importance::Low,
                "Records per task",
            )
    }

    fn start(&mut self, props: &Props, context: Arc<dyn ConnectorContext>) -> Result<()> {
        self.props = props.clone();
        let tasks = props.get("tasks").and_then(|t| t.parse().ok()).unwrap_or(1);
        let name = props.get("name").cloned().unwrap_or_default();
        registry()
            .lock()
            .expect("registry")
            .insert(name, (tasks, context));
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>> {
        let name = self.props.get("name").cloned().unwrap_or_default();
        let tasks = registry()
            .lock()
            .expect("registry")
            .get(&name)
            .map_or(1, |(t, _)| *t);
        Ok((0..tasks)
            .map(|i| {
                let mut p = self.props.clone();
                p.insert("task.index".into(), i.to_string());
                p
            })
            .collect())
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for TestSource {
    fn new_task(&self) -> Box<dyn SourceTask> {
        Box::new(TestTask::default())
    }
}

#[derive(Default)]
struct TestTask {
    props: Props,
    polls: u32,
}

impl SourceTask for TestTask {
    fn start(
        &mut self,
        props: &Props,
        _offsets: Arc<dyn sluice_connect_api::OffsetReader>,
    ) -> Result<()> {
        self.props = props.clone();
        Ok(())
    }

    /// `records` records (4) in each of `batches` polls (1), `pause.ms` apart: value `v<i>`,
    /// header `h` = i, header `drop` on odd records, and key `k<i>` when `keyed`.
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>> {
        if let Some(ms) = self
            .props
            .get("spin.ms")
            .and_then(|m| m.parse::<u64>().ok())
        {
            // Task code gone wrong: a busy loop that never yields, bounded so the test's process
            // gets its core back.
            let until = Instant::now() + Duration::from_millis(ms);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        Box::pin(async move {
            let number = |key: &str, default: u32| {
                self.props
                    .get(key)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(default)
            };
            let (count, batches, pause) = (
                number("records", 4),
                number("batches", 1),
                number("pause.ms", 0),
            );
            if self.polls >= batches {
                return Ok(Vec::new());
            }
            if self.polls > 0 {
                tokio::time::sleep(Duration::from_millis(pause.into())).await;
            }
            let first = (self.polls * count) as i32;
            self.polls += 1;
            let keyed = self.props.get("keyed").is_some_and(|k| k == "true");
            let topic = self.props.get("topic").cloned().unwrap_or_default();
            let task = self.props.get("task.index").cloned().unwrap_or_default();
            Ok((first..first + count as i32)
                .map(|i| {
                    let mut partition = SourceMap::new();
                    partition.insert("task".into(), json!(task));
                    let mut offset = SourceMap::new();
                    offset.insert("i".into(), json!(i));
                    let mut r = SourceRecord::new(
                        partition,
                        offset,
                        &topic,
                        Some(Schema::string()),
                        Value::String(format!("v{i}")),
                    );
                    r.headers.add("h", Some(Schema::int32()), Value::Int32(i));
                    if i % 2 == 1 {
                        r.headers
                            .add("drop", Some(Schema::boolean()), Value::Boolean(true));
                    }
                    if keyed {
                        r.key_schema = Some(Schema::string());
                        r.key = Value::String(format!("k{i}"));
                    }
                    r
                })
                .collect())
        })
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What the test sink received, by connector name: (topic, value, headers as Connect values).
type Received = Mutex<HashMap<String, Vec<(String, Value, Vec<(String, Value)>)>>>;

fn received() -> &'static Received {
    static RECEIVED: OnceLock<Received> = OnceLock::new();
    RECEIVED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A sink that keeps what it is given, so tests can look at decoded records.
#[derive(Default)]
struct TestSink {
    props: Props,
}

impl Connector for TestSink {
    fn version(&self) -> String {
        "1".into()
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn start(&mut self, props: &Props, _context: Arc<dyn ConnectorContext>) -> Result<()> {
        self.props = props.clone();
        Ok(())
    }
    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }
    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for TestSink {
    fn new_task(&self) -> Box<dyn SinkTask> {
        Box::new(TestSinkTask::default())
    }
}

#[derive(Default)]
struct TestSinkTask {
    name: String,
}

impl SinkTask for TestSinkTask {
    fn start(&mut self, props: &Props) -> Result<()> {
        self.name = props.get("name").cloned().unwrap_or_default();
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>> {
        let mut received = received().lock().expect("received");
        let out = received.entry(self.name.clone()).or_default();
        for r in records {
            let headers = r
                .headers
                .iter()
                .map(|h| (h.key.to_string(), h.value.clone()))
                .collect();
            out.push((r.topic, r.value, headers));
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

fn plugins() -> Vec<PluginDesc> {
    let mut plugins = sluice_connectors::plugins();
    plugins.push(PluginDesc {
        class: "org.example.TestSourceConnector",
        aliases: &[],
        version: "1",
        kind: PluginKind::Source(|| Box::new(TestSource::default())),
    });
    plugins.push(PluginDesc {
        class: "org.example.TestSinkConnector",
        aliases: &[],
        version: "1",
        kind: PluginKind::Sink(|| Box::new(TestSink::default())),
    });
    plugins
}

async fn start(broker: &Broker) -> Arc<Herder> {
    start_with(broker, &[]).await
}

async fn start_with(broker: &Broker, extra: &[(&str, &str)]) -> Arc<Herder> {
    let props: Props = [
        ("bootstrap.servers", broker.bootstrap.as_str()),
        ("listeners", "http://127.0.0.1:8083"),
        ("offset.flush.interval.ms", "200"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (config, _) =
        WorkerConfig::from_properties(&props, "http://127.0.0.1:8083").expect("config");
    Herder::start(config, plugins()).await.expect("herder")
}

async fn wait_status(herder: &Herder, name: &str, check: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(status) = herder.status(name).await {
            if check(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "status never matched: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (value, headers) of every record in `topic` partition 0.
fn read(bootstrap: &str, topic: &str) -> Vec<(String, Vec<(String, String)>)> {
    let consumer = eof_consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                (
                                    h.key.to_string(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                    headers,
                ));
            }
            Some(Err(KafkaError::PartitionEOF(_))) => return out,
            _ => {}
        }
    }
    out
}

/// (partition, key, value) of every record in `topic`'s `partitions` partitions.
fn read_all(bootstrap: &str, topic: &str, partitions: i32) -> Vec<(i32, String, String)> {
    let consumer = eof_consumer(bootstrap);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let (mut out, mut ended) = (Vec::new(), 0);
    let deadline = Instant::now() + WAIT;
    while ended < partitions && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let text =
                    |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
                out.push((m.partition(), text(m.key()), text(m.payload())));
            }
            Some(Err(KafkaError::PartitionEOF(_))) => ended += 1,
            _ => {}
        }
    }
    out
}

/// Kafka's `Utils.murmur2`, which places keyed records in Java producers.
fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let chunks = data.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    if !tail.is_empty() {
        for (i, b) in tail.iter().enumerate().rev() {
            h ^= u32::from(*b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_records_land_where_kafka_puts_them_and_keyless_batches_stay_together() {
    // Kafka's own test vectors, so the placement checked below is Java's.
    assert_eq!(murmur2(b"21"), -973932308);
    assert_eq!(murmur2(b"foobar"), -790332482);
    assert_eq!(murmur2(b"abc"), 479470107);
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let herder = start(&broker).await;
    let (count, batches) = (25, 6);
    for (name, keyed) in [("keyed", "true"), ("keyless", "false")] {
        let config = props_of(&[
            ("connector.class", "org.example.TestSourceConnector"),
            ("topic", name),
            ("keyed", keyed),
            ("records", &count.to_string()),
            ("batches", &batches.to_string()),
            // Long enough for the partition count, fetched in the background, to be known
            // before the second poll on a loaded machine.
            ("pause.ms", "400"),
            (
                "key.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "1"),
        ]);
        herder
            .create(name, config, InitialState::Running)
            .await
            .expect("create");
    }
    let total = count * batches;
    let mut read = HashMap::new();
    for name in ["keyed", "keyless"] {
        let deadline = Instant::now() + WAIT;
        let records = loop {
            let b = broker.bootstrap.clone();
            let records = tokio::task::spawn_blocking(move || read_all(&b, name, 3))
                .await
                .expect("read");
            if records.len() >= total || Instant::now() > deadline {
                break records;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(records.len(), total, "{name}: every record once");
        read.insert(name, records);
    }
    for (partition, key, value) in &read["keyed"] {
        let expected = (murmur2(key.as_bytes()) & 0x7fff_ffff) % 3;
        assert_eq!(
            *partition, expected,
            "{key} (value {value}) is where Java's producer puts it"
        );
    }
    // Each poll's keyless records go to one partition, and polls move across partitions.
    // The first poll may come before the topic's partition count is known.
    let mut batch_partitions: Vec<Vec<i32>> = vec![Vec::new(); batches];
    for (partition, key, value) in &read["keyless"] {
        assert_eq!(key, "", "no key");
        let n: usize = value.trim_start_matches('v').parse().expect("value number");
        let batch = &mut batch_partitions[n / count];
        if !batch.contains(partition) {
            batch.push(*partition);
        }
    }
    for (n, partitions) in batch_partitions.iter().enumerate().skip(1) {
        assert_eq!(partitions.len(), 1, "poll {n} went to {partitions:?}");
    }
    // The first poll's records, placed by librdkafka, may cover every partition on their own:
    // the polls after it must move across them by themselves.
    let used: std::collections::HashSet<_> = batch_partitions.iter().skip(1).flatten().collect();
    assert_eq!(
        used.len(),
        3,
        "polls spread over every partition: {batch_partitions:?}"
    );
    herder.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_are_hidden_wherever_configs_are_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let herder = start(&broker).await;
    let config = props_of(&[
        ("connector.class", "org.example.TestSourceConnector"),
        ("topic", "secrets"),
        ("secret", "hunter2"),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
    ]);
    let info = herder
        .create("s", config, InitialState::Running)
        .await
        .expect("create");
    assert_eq!(info["config"]["secret"], "[hidden]");
    assert_eq!(
        herder.connector_config("s").await.expect("config")["secret"],
        "[hidden]"
    );
    assert_eq!(
        herder.tasks("s").await.expect("tasks")[0]["config"]["secret"],
        "[hidden]"
    );
    assert_eq!(
        herder.tasks_config("s").await.expect("tasks")["s-0"]["secret"],
        "[hidden]"
    );
    herder.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_and_transforms_run_in_the_source_pipeline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let herder = start(&broker).await;
    let config = props_of(&[
        ("connector.class", "org.example.TestSourceConnector"),
        ("topic", "filtered"),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
        ("transforms", "dropMarked"),
        (
            "transforms.dropMarked.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.dropMarked.predicate", "marked"),
        ("predicates", "marked"),
        (
            "predicates.marked.type",
            "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        ),
        ("predicates.marked.name", "drop"),
        ("topic.creation.default.partitions", "1"),
        ("topic.creation.default.replication.factor", "-1"),
        ("topic.creation.default.retention.ms", "86400000"),
    ]);
    herder
        .create("t", config, InitialState::Running)
        .await
        .expect("create");
    let deadline = Instant::now() + WAIT;
    let records = loop {
        let b = broker.bootstrap.clone();
        let records = tokio::task::spawn_blocking(move || read(&b, "filtered"))
            .await
            .expect("read");
        if records.len() >= 2 || Instant::now() > deadline {
            break records;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        records,
        vec![
            ("v0".to_string(), vec![("h".to_string(), "0".to_string())]),
            ("v2".to_string(), vec![("h".to_string(), "2".to_string())]),
        ],
        "odd records dropped by the filter; headers written by SimpleHeaderConverter"
    );
    let topics = herder.active_topics("t").await.expect("topics");
    assert_eq!(topics, json!({"t": {"topics": ["filtered"]}}));
    // The topic was created with the connector's settings before the first record.
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        broker.client().create().expect("admin");
    let described = admin
        .describe_configs(
            [&rdkafka::admin::ResourceSpecifier::Topic("filtered")],
            &rdkafka::admin::AdminOptions::new(),
        )
        .await
        .expect("describe");
    let policy = described[0]
        .as_ref()
        .ok()
        .and_then(|r| r.get("retention.ms"))
        .and_then(|e| e.value.clone());
    assert_eq!(policy.as_deref(), Some("86400000"));
    herder.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_names_the_stage_and_record_and_recovers_on_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let herder = start(&broker).await;
    let file = dir.path().join("in.txt");
    std::fs::write(&file, "a\nb\n").expect("input");
    let file_name = file.display().to_string();
    // ByteArrayConverter refuses STRING values: the task fails in VALUE_CONVERTER.
    let mut config = props_of(&[
        ("connector.class", "FileStreamSource"),
        ("file", &file_name),
        ("topic", "bytes"),
        (
            "value.converter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
    ]);
    herder
        .create("f", config.clone(), InitialState::Running)
        .await
        .expect("create");
    let status = wait_status(&herder, "f", |s| s["tasks"][0]["state"] == "FAILED").await;
    assert_eq!(
        status["connector"]["state"], "RUNNING",
        "a task failure leaves the connector running"
    );
    let trace = status["tasks"][0]["trace"].as_str().expect("trace");
    assert!(
        trace.starts_with("Task is being killed and will not recover until manually restarted."),
        "{trace}"
    );
    assert!(
        trace.contains("stage VALUE_CONVERTER failed on record topic=bytes"),
        "{trace}"
    );
    assert!(trace.contains(r#"offset={"position":2}"#), "{trace}");
    assert!(trace.contains("\nCaused by: "), "{trace}");

    // errors.tolerance=all skips the bad records instead.
    config.insert("errors.tolerance".into(), "all".into());
    herder.put_config("f", config).await.expect("update");
    let status = wait_status(&herder, "f", |s| s["tasks"][0]["state"] == "RUNNING").await;
    assert!(status["tasks"][0].get("trace").is_none(), "{status}");
    herder.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_max_is_enforced_and_reconfiguration_changes_the_tasks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let herder = start(&broker).await;
    let config = props_of(&[
        ("connector.class", "org.example.TestSourceConnector"),
        ("topic", "many"),
        ("tasks", "2"),
        ("tasks.max", "1"),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
    ]);
    herder
        .create("m", config.clone(), InitialState::Running)
        .await
        .expect("create");
    let status = wait_status(&herder, "m", |s| s["connector"]["state"] == "FAILED").await;
    assert!(
        status["connector"]["trace"]
            .as_str()
            .is_some_and(|t| t.contains("generated 2 tasks, which is greater than 1")),
        "{status}"
    );

    let mut config = config;
    config.insert("tasks".into(), "1".into());
    config.insert("tasks.max".into(), "3".into());
    herder.put_config("m", config).await.expect("update");
    wait_status(&herder, "m", |s| {
        s["tasks"].as_array().map(Vec::len) == Some(1)
    })
    .await;
    let context = {
        let mut registry = registry().lock().expect("registry");
        let entry = registry.get_mut("m").expect("started");
        entry.0 = 3;
        Arc::clone(&entry.1)
    };
    context.request_task_reconfiguration();
    let status = wait_status(&herder, "m", |s| {
        s["tasks"]
            .as_array()
            .is_some_and(|t| t.len() == 3 && t.iter().all(|t| t["state"] == "RUNNING"))
    })
    .await;
    assert_eq!(status["connector"]["state"], "RUNNING");
    assert_eq!(
        herder.info("m").await.expect("info")["tasks"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    let unknown = herder.restart_task("m", 7).await;
    assert!(matches!(unknown, Err(HerderError::NotFound(m)) if m == "Unknown task: m-7"));
    herder.shutdown().await;
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_sink_reads_every_matching_topic_and_decodes_headers() {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let producer: FutureProducer = broker.client().create().expect("producer");
    for topic in ["orders-eu", "orders-us", "other"] {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "count",
                value: Some("42"),
            })
            .insert(Header {
                key: "tags",
                value: Some("[\"a\",\"b\"]"),
            });
        producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .payload(topic)
                    .headers(headers),
                WAIT,
            )
            .await
            .expect("produce");
    }
    let herder = start(&broker).await;
    let config = props_of(&[
        ("connector.class", "org.example.TestSinkConnector"),
        ("topics.regex", "orders-.*"),
        (
            "value.converter",
            "org.apache.kafka.connect.storage.StringConverter",
        ),
    ]);
    herder
        .create("regex", config, InitialState::Running)
        .await
        .expect("create");
    let deadline = Instant::now() + WAIT;
    let mut got = loop {
        let got = received()
            .lock()
            .expect("received")
            .get("regex")
            .cloned()
            .unwrap_or_default();
        if got.len() >= 2 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let headers = vec![
        ("count".to_string(), Value::Int8(42)),
        (
            "tags".to_string(),
            Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
        ),
    ];
    assert_eq!(
        got,
        vec![
            (
                "orders-eu".to_string(),
                Value::String("orders-eu".into()),
                headers.clone()
            ),
            (
                "orders-us".to_string(),
                Value::String("orders-us".into()),
                headers
            ),
        ],
        "both matching topics, not 'other'; headers typed by SimpleHeaderConverter"
    );
    herder.shutdown().await;
    broker.stop().await;
}

/// Task code that spins without ever yielding runs on the task's own thread: the worker (here on
/// a two-thread runtime, which two such tasks used to fill) keeps answering, and a stop gives up
/// after `task.shutdown.graceful.timeout.ms`, reporting the task FAILED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spinning_tasks_cost_only_their_own_threads_and_are_abandoned_at_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(dir.path()).await;
    let herder = start_with(&broker, &[("task.shutdown.graceful.timeout.ms", "1000")]).await;
    let config = props_of(&[
        ("connector.class", "org.example.TestSourceConnector"),
        ("topic", "spin"),
        ("tasks", "2"),
        ("tasks.max", "2"),
        ("spin.ms", "20000"),
    ]);
    herder
        .create("spinner", config, InitialState::Running)
        .await
        .expect("create");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both tasks are spinning; the worker still answers at once, several times over.
    for _ in 0..5 {
        let asked = Instant::now();
        let status = tokio::time::timeout(Duration::from_secs(1), herder.status("spinner"))
            .await
            .expect("the worker answers within a second")
            .expect("status");
        assert_eq!(
            status["tasks"].as_array().map(Vec::len),
            Some(2),
            "{status}"
        );
        assert!(asked.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), herder.stop("spinner"))
        .await
        .expect("stop is bounded")
        .expect("stop");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "both tasks are waited for together, once: {:?}",
        stopping.elapsed()
    );
    herder.shutdown().await;
    broker.stop().await;
}
