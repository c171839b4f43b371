//! The broker against librdkafka (the `rdkafka` crate): produce and consume with every codec,
//! offsets and timestamps, topic admin, limits, and restarts.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{consume, payloads, TestBroker, WAIT};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    common::client(bootstrap).create().expect("admin")
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(WAIT))
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let results = admin(bootstrap)
        .create_topics([&topic], &opts())
        .await
        .expect("create");
    assert_eq!(results, vec![Ok(name.to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_compression_codec_round_trips_keyed_and_unkeyed_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        create_topic(&broker.bootstrap, &topic, 2, &[]).await;
        let producer = common::producer(&broker.bootstrap, &[("compression.codec", codec)]);
        let mut deliveries = Vec::new();
        for i in 0..300 {
            let value = format!("{codec}-value-{i}");
            let key = format!("key-{i}");
            let headers = OwnedHeaders::new().insert(Header {
                key: "n",
                value: Some(&i.to_string()),
            });
            let mut record = FutureRecord::to(&topic).payload(&value).headers(headers);
            if i % 2 == 0 {
                record = record.key(&key);
            }
            deliveries.push(producer.send_result(record).expect("enqueue"));
        }
        for d in deliveries {
            d.await.expect("delivery future").expect("delivered");
        }
        let messages = consume(&broker.bootstrap, &topic, 2, Offset::Beginning, 300);
        assert_eq!(messages.len(), 300, "{codec}");
        let seen: BTreeSet<(Option<String>, String, String)> = messages
            .iter()
            .map(|m| {
                let header = m
                    .headers()
                    .and_then(|h| h.iter().next())
                    .and_then(|h| h.value)
                    .unwrap_or_default();
                (
                    m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                    String::from_utf8_lossy(header).into_owned(),
                )
            })
            .collect();
        let expected: BTreeSet<_> = (0..300)
            .map(|i| {
                (
                    (i % 2 == 0).then(|| format!("key-{i}")),
                    format!("{codec}-value-{i}"),
                    i.to_string(),
                )
            })
            .collect();
        assert_eq!(seen, expected, "{codec}");
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_start_at_an_offset_and_find_offsets_by_timestamp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    create_topic(&broker.bootstrap, "timeline", 1, &[]).await;
    let producer = common::producer(&broker.bootstrap, &[]);
    let t0 = 1_700_000_000_000i64;
    for i in 0..10i64 {
        // One batch per record, each with its own timestamp.
        let value = format!("m{i}");
        producer
            .send(
                FutureRecord::<(), _>::to("timeline")
                    .payload(&value)
                    .timestamp(t0 + i * 1000),
                WAIT,
            )
            .await
            .expect("delivered");
    }
    let from_seven = consume(&broker.bootstrap, "timeline", 1, Offset::Offset(7), 3);
    assert_eq!(payloads(&from_seven), ["m7", "m8", "m9"]);
    assert_eq!(from_seven[0].offset(), 7);

    let bootstrap = broker.bootstrap.clone();
    let (watermarks, at_3500, after_end) = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = common::client(&bootstrap).create().expect("consumer");
        let watermarks = consumer
            .fetch_watermarks("timeline", 0, WAIT)
            .expect("watermarks");
        let lookup = |ts: i64| {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("timeline", 0, Offset::Offset(ts))
                .expect("tpl");
            let found = consumer
                .offsets_for_times(tpl, WAIT)
                .expect("offsets_for_times");
            found
                .find_partition("timeline", 0)
                .expect("partition")
                .offset()
        };
        (watermarks, lookup(t0 + 3500), lookup(t0 + 60_000))
    })
    .await
    .expect("lookup task");
    assert_eq!(watermarks, (0, 10));
    assert_eq!(at_3500, Offset::Offset(4));
    assert_eq!(after_end, Offset::End);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_described_altered_grown_and_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    let admin = admin(&broker.bootstrap);
    create_topic(
        &broker.bootstrap,
        "orders",
        2,
        &[("retention.ms", "3600000")],
    )
    .await;

    let again = admin
        .create_topics(
            [&NewTopic::new("orders", 2, TopicReplication::Fixed(1))],
            &opts(),
        )
        .await
        .expect("create");
    assert_eq!(
        again,
        vec![Err((
            "orders".to_string(),
            RDKafkaErrorCode::TopicAlreadyExists
        ))]
    );
    let bad_name = admin
        .create_topics(
            [&NewTopic::new("no spaces!", 1, TopicReplication::Fixed(1))],
            &opts(),
        )
        .await
        .expect("create");
    assert_eq!(
        bad_name[0].as_ref().map_err(|e| e.1),
        Err(RDKafkaErrorCode::InvalidTopic)
    );
    let too_many_replicas = admin
        .create_topics(
            [&NewTopic::new("replicated", 1, TopicReplication::Fixed(3))],
            &opts(),
        )
        .await
        .expect("create");
    assert_eq!(
        too_many_replicas[0].as_ref().map_err(|e| e.1),
        Err(RDKafkaErrorCode::InvalidReplicationFactor)
    );
    let bad_config = admin
        .create_topics(
            [&NewTopic::new("typo", 1, TopicReplication::Fixed(1)).set("retention.msec", "1")],
            &opts(),
        )
        .await
        .expect("create");
    assert_eq!(
        bad_config[0].as_ref().map_err(|e| e.1),
        Err(RDKafkaErrorCode::InvalidConfig)
    );

    let describe = |admin: &AdminClient<DefaultClientContext>| {
        let admin_future = admin.describe_configs([&ResourceSpecifier::Topic("orders")], &opts());
        async move {
            let resource = admin_future
                .await
                .expect("describe")
                .remove(0)
                .expect("resource");
            resource
                .entries
                .into_iter()
                .map(|e| (e.name, (e.value.unwrap_or_default(), e.source)))
                .collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let configs = describe(&admin).await;
    assert_eq!(
        configs["retention.ms"],
        ("3600000".to_string(), ConfigSource::DynamicTopic)
    );
    assert_eq!(
        configs["segment.bytes"],
        ("1073741824".to_string(), ConfigSource::Default)
    );

    let alter =
        AlterConfig::new(ResourceSpecifier::Topic("orders")).set("cleanup.policy", "compact");
    let altered = admin.alter_configs([&alter], &opts()).await.expect("alter");
    assert!(altered[0].is_ok(), "{altered:?}");
    let configs = describe(&admin).await;
    assert_eq!(configs["cleanup.policy"].0, "compact");
    // AlterConfigs replaces the whole set, as in Kafka.
    assert_eq!(configs["retention.ms"].1, ConfigSource::Default);

    let grown = admin
        .create_partitions([&NewPartitions::new("orders", 5)], &opts())
        .await
        .expect("grow");
    assert_eq!(grown, vec![Ok("orders".to_string())]);
    let shrunk = admin
        .create_partitions([&NewPartitions::new("orders", 3)], &opts())
        .await
        .expect("shrink");
    assert_eq!(
        shrunk[0].as_ref().map_err(|e| e.1),
        Err(RDKafkaErrorCode::InvalidPartitions)
    );
    let partitions = {
        let consumer: BaseConsumer = common::client(&broker.bootstrap)
            .create()
            .expect("consumer");
        let metadata = consumer
            .fetch_metadata(Some("orders"), WAIT)
            .expect("metadata");
        metadata.topics()[0].partitions().len()
    };
    assert_eq!(partitions, 5);

    let deleted = admin
        .delete_topics(&["orders"], &opts())
        .await
        .expect("delete");
    assert_eq!(deleted, vec![Ok("orders".to_string())]);
    let missing = admin
        .delete_topics(&["orders"], &opts())
        .await
        .expect("delete");
    assert_eq!(
        missing[0].as_ref().map_err(|e| e.1),
        Err(RDKafkaErrorCode::UnknownTopicOrPartition)
    );
    assert!(!dir.path().join("orders-0").exists());
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_batches_are_refused_and_unknown_topics_follow_auto_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker =
        TestBroker::start_with(dir.path(), &[("auto.create.topics.enable", "false")]).await;
    create_topic(
        &broker.bootstrap,
        "small",
        1,
        &[("max.message.bytes", "1000")],
    )
    .await;
    let producer = common::producer(&broker.bootstrap, &[("message.timeout.ms", "5000")]);
    let big = vec![b'x'; 5000];
    let result = producer
        .send(FutureRecord::<(), _>::to("small").payload(&big), WAIT)
        .await;
    let error = result.expect_err("too large").0;
    assert_eq!(
        error,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge),
        "{error}"
    );
    let ok = producer
        .send(FutureRecord::<(), _>::to("small").payload("fits"), WAIT)
        .await;
    assert!(ok.is_ok());
    let unknown = producer
        .send(FutureRecord::<(), _>::to("nowhere").payload("x"), WAIT)
        .await;
    assert!(
        unknown.is_err(),
        "auto-creation is off, so the topic must not appear"
    );
    broker.stop().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start_with(dir.path(), &[("num.partitions", "3")]).await;
    let producer = common::producer(&broker.bootstrap, &[]);
    producer
        .send(FutureRecord::<(), _>::to("auto").payload("created"), WAIT)
        .await
        .expect("auto-created topic accepts the record");
    let consumer: BaseConsumer = common::client(&broker.bootstrap)
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some("auto"), WAIT)
        .expect("metadata");
    assert_eq!(metadata.topics()[0].partitions().len(), 3);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_configs_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start(dir.path()).await;
    create_topic(
        &broker.bootstrap,
        "durable",
        1,
        &[("segment.bytes", "4096")],
    )
    .await;
    let producer = common::producer(&broker.bootstrap, &[]);
    for i in 0..500 {
        let value = format!("before-{i}");
        producer
            .send(FutureRecord::<(), _>::to("durable").payload(&value), WAIT)
            .await
            .expect("delivered");
    }
    drop(producer);
    broker.stop().await;
    let segments = std::fs::read_dir(dir.path().join("durable-0"))
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count();
    assert!(
        segments > 1,
        "segment.bytes=4096 should have rolled, got {segments} segment(s)"
    );

    let broker = TestBroker::start(dir.path()).await;
    let producer = common::producer(&broker.bootstrap, &[]);
    let delivery = producer
        .send(FutureRecord::<(), _>::to("durable").payload("after"), WAIT)
        .await
        .expect("delivered");
    assert_eq!(delivery.offset, 500);
    let messages = consume(&broker.bootstrap, "durable", 1, Offset::Beginning, 501);
    let expected: Vec<String> = (0..500)
        .map(|i| format!("before-{i}"))
        .chain(["after".to_string()])
        .collect();
    assert_eq!(payloads(&messages), expected);
    let configs = admin(&broker.bootstrap)
        .describe_configs([&ResourceSpecifier::Topic("durable")], &opts())
        .await
        .expect("describe")
        .remove(0)
        .expect("resource");
    let segment_bytes = configs.get("segment.bytes").and_then(|e| e.value.clone());
    assert_eq!(segment_bytes.as_deref(), Some("4096"));
    broker.stop().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_segments_by_size_and_by_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker =
        TestBroker::start_with(dir.path(), &[("log.retention.check.interval.ms", "100")]).await;
    create_topic(
        &broker.bootstrap,
        "by-size",
        1,
        &[("segment.bytes", "2048"), ("retention.bytes", "4096")],
    )
    .await;
    create_topic(
        &broker.bootstrap,
        "by-time",
        1,
        &[("retention.ms", "60000")],
    )
    .await;
    let producer = common::producer(&broker.bootstrap, &[("linger.ms", "0")]);
    let value = vec![b'r'; 500];
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - 3_600_000;
    for _ in 0..40 {
        producer
            .send(FutureRecord::<(), _>::to("by-size").payload(&value), WAIT)
            .await
            .expect("delivered");
        producer
            .send(
                FutureRecord::<(), _>::to("by-time")
                    .payload(&value)
                    .timestamp(hour_ago),
                WAIT,
            )
            .await
            .expect("delivered");
    }
    let bootstrap = broker.bootstrap.clone();
    let (size, time) = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = common::client(&bootstrap).create().expect("consumer");
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let size = consumer
                .fetch_watermarks("by-size", 0, WAIT)
                .expect("watermarks");
            let time = consumer
                .fetch_watermarks("by-time", 0, WAIT)
                .expect("watermarks");
            if (size.0 > 0 && time.0 == time.1) || std::time::Instant::now() > deadline {
                return (size, time);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .expect("watermarks task");
    assert_eq!(size.1, 40);
    assert!(size.0 > 0, "nothing was deleted by size: {size:?}");
    assert!(
        (size.1 - size.0) * 570 >= 4096 - 2048,
        "too much was deleted by size: {size:?}"
    );
    assert_eq!(
        time,
        (40, 40),
        "records an hour old outlive retention.ms=60000"
    );
    let kept = consume(
        &broker.bootstrap,
        "by-size",
        1,
        Offset::Beginning,
        (size.1 - size.0) as usize,
    );
    assert_eq!(kept.first().map(|m| m.offset()), Some(size.0));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topics_keep_the_latest_value_per_key_and_refuse_null_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = TestBroker::start_with(dir.path(), &[("log.cleaner.backoff.ms", "100")]).await;
    let configs = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "1024"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ];
    create_topic(&broker.bootstrap, "latest", 1, &configs).await;
    let producer = common::producer(&broker.bootstrap, &[("linger.ms", "0")]);
    for i in 0..200 {
        let key = format!("key-{}", i % 10);
        let value = format!("value-{i}");
        producer
            .send(FutureRecord::to("latest").key(&key).payload(&value), WAIT)
            .await
            .expect("delivered");
    }
    let refused = producer
        .send(FutureRecord::<(), _>::to("latest").payload("no key"), WAIT)
        .await;
    assert_eq!(
        refused.expect_err("a null key").0,
        KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord)
    );
    let bootstrap = broker.bootstrap.clone();
    let kept = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let messages = common::consume_to_end(&bootstrap, "latest", 0);
            if messages.len() < 100 || std::time::Instant::now() > deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .expect("consume");
    assert!(
        kept.len() < 100,
        "the cleaner did not run: {} records remain",
        kept.len()
    );
    let mut latest = std::collections::BTreeMap::new();
    let mut last_offset = -1;
    for m in &kept {
        assert!(m.offset() > last_offset, "offsets stay in order");
        last_offset = m.offset();
        latest.insert(
            String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
        );
    }
    let expected: std::collections::BTreeMap<String, String> = (190..200)
        .map(|i| (format!("key-{}", i % 10), format!("value-{i}")))
        .collect();
    assert_eq!(latest, expected);
    broker.stop().await;
}

/// The Confluent compose layout: one listener for containers on an inner network, one for the
/// host. Each client must be told the address of the listener it came through, or a client on
/// the host would be sent to a name only containers resolve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_listener_advertises_its_own_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let outer = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let inner_port = inner.local_addr().expect("addr").port();
    let outer_port = outer.local_addr().expect("addr").port();
    let props: std::collections::BTreeMap<String, String> = [
        ("log.dirs", dir.path().display().to_string()),
        (
            "listeners",
            format!(
                "PLAINTEXT://127.0.0.1:{inner_port},CONTROLLER://127.0.0.1:1,PLAINTEXT_HOST://127.0.0.1:{outer_port}"
            ),
        ),
        (
            "advertised.listeners",
            format!("PLAINTEXT://127.0.0.1:{inner_port},PLAINTEXT_HOST://localhost:{outer_port}"),
        ),
        (
            "listener.security.protocol.map",
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT".into(),
        ),
        ("controller.listener.names", "CONTROLLER".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (config, warnings) = sluice_broker::BrokerConfig::from_properties(&props).expect("config");
    assert!(warnings.is_empty(), "{warnings:?}");
    let stop = tokio_util::sync::CancellationToken::new();
    let broker = tokio::spawn(sluice_broker::run(config, vec![inner, outer], stop.clone()));

    let inner_bootstrap = format!("127.0.0.1:{inner_port}");
    let outer_bootstrap = format!("127.0.0.1:{outer_port}");
    let told = |bootstrap: String| {
        tokio::task::spawn_blocking(move || {
            let consumer: BaseConsumer = common::client(&bootstrap).create().expect("consumer");
            let metadata = consumer.fetch_metadata(None, WAIT).expect("metadata");
            metadata
                .brokers()
                .iter()
                .map(|b| format!("{}:{}", b.host(), b.port()))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        told(inner_bootstrap.clone()).await.expect("join"),
        std::slice::from_ref(&inner_bootstrap)
    );
    assert_eq!(
        told(outer_bootstrap).await.expect("join"),
        [format!("localhost:{outer_port}")]
    );

    // Written through the host's listener, read through the inner one.
    create_topic(&inner_bootstrap, "both-ways", 1, &[]).await;
    let producer = common::producer(&format!("localhost:{outer_port}"), &[]);
    producer
        .send(
            FutureRecord::<(), _>::to("both-ways").payload("hello"),
            WAIT,
        )
        .await
        .expect("produce through the host listener");
    let read = tokio::task::spawn_blocking(move || {
        consume(&inner_bootstrap, "both-ways", 1, Offset::Beginning, 1)
    })
    .await
    .expect("join");
    assert_eq!(payloads(&read), ["hello"]);
    stop.cancel();
    broker.await.expect("join").expect("broker");
}
