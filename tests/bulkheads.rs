//! Bad input against a whole `sluice` process: a connector task that never finds a line, huge
//! compatibility checks, oversized admin requests, ids beyond int32, decompression bombs, huge
//! fetches, a flood of idle connections, and secrets in configs. Each test runs the bad input
//! while a normal client keeps asking the broker (and the REST APIs) for an answer, which must
//! come within a second.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value as Json};

mod common;
use common::raw::{api_versions_round_trip, Raw};
use common::{eventually, rss_mib, ChildBroker, Standalone};

const SECOND: Duration = Duration::from_secs(1);

/// Asks the broker, the Connect REST API and the registry in turn for `how_long`; every answer
/// must come within a second. Returns the slowest broker answer.
fn keeps_answering(sluice: &Standalone, http: &Client, how_long: Duration) -> Duration {
    let until = Instant::now() + how_long;
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        let broker = api_versions_round_trip(&sluice.bootstrap);
        assert!(broker < SECOND, "the broker took {broker:?} to answer");
        slowest = slowest.max(broker);
        for url in [
            sluice.url("/connectors"),
            format!("{}/subjects", sluice.registry),
        ] {
            let asked = Instant::now();
            let response = http.get(&url).timeout(SECOND).send();
            assert!(
                response.is_ok_and(|r| r.status() == StatusCode::OK),
                "{url} did not answer within a second"
            );
            assert!(asked.elapsed() < SECOND);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    slowest
}

fn post_connector(http: &Client, sluice: &Standalone, body: &Json) -> (StatusCode, Json) {
    let response = http
        .post(sluice.url("/connectors"))
        .json(body)
        .send()
        .expect("POST");
    let status = response.status();
    (status, response.json().unwrap_or(Json::Null))
}

fn task_states(http: &Client, sluice: &Standalone, name: &str) -> Vec<(String, String)> {
    let status: Json = http
        .get(sluice.url(&format!("/connectors/{name}/status")))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Json::Null);
    status["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["state"].as_str().unwrap_or_default().to_string(),
                t["trace"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Two FileStreamSource connectors reading `/dev/zero` (no newline ever comes) used to spin a
/// core each on the threads that serve the broker, grow memory without bound, and ignore SIGTERM.
/// Now each task runs on its own thread, a line longer than 1 MiB fails the task, the process
/// stays small, everything keeps answering, a clean stop works, and after `kill -9` the stored
/// connectors fail the same way again instead of spinning.
#[test]
fn tasks_reading_an_endless_line_cost_only_themselves() {
    let root = tempfile::tempdir().expect("tempdir");
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    for name in ["zero-1", "zero-2"] {
        let (status, body) = post_connector(
            &http,
            &sluice,
            &json!({"name": name, "config": {
                "connector.class": "FileStreamSource", "file": "/dev/zero", "topic": name,
                "value.converter": "org.apache.kafka.connect.storage.StringConverter"}}),
        );
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    keeps_answering(&sluice, &http, Duration::from_secs(3));
    for name in ["zero-1", "zero-2"] {
        let (state, trace) = eventually("the task to fail", || {
            task_states(&http, &sluice, name)
                .into_iter()
                .find(|(s, _)| s == "FAILED")
        });
        assert_eq!(state, "FAILED");
        assert!(
            trace.contains("longer than 1048576 bytes"),
            "{name}: {trace}"
        );
    }
    let rss = rss_mib(sluice.pid());
    assert!(rss < 300, "the process holds {rss} MiB");
    sluice.kill();

    // The connectors come back from connect-configs, and fail again without taking anything down.
    let sluice = Standalone::spawn(root.path());
    keeps_answering(&sluice, &http, Duration::from_secs(2));
    for name in ["zero-1", "zero-2"] {
        eventually("the task to fail again", || {
            task_states(&http, &sluice, name)
                .into_iter()
                .find(|(s, _)| s == "FAILED")
        });
    }
    let stopping = Instant::now();
    sluice.stop();
    assert!(stopping.elapsed() < Duration::from_secs(15));
}

/// A union of `n` records; `extra` gives each a field with a default.
fn wide_union_schema(n: usize, extra: bool) -> String {
    let branches: Vec<Json> = (0..n)
        .map(|i| {
            let mut fields = vec![json!({"name": "a", "type": "long"})];
            if extra {
                fields.push(json!({"name": "b", "type": "int", "default": 0}));
            }
            json!({"type": "record", "name": format!("R{i}"), "fields": fields})
        })
        .collect();
    let mut union = vec![json!("null")];
    union.extend(branches);
    json!({"type": "record", "name": "Envelope", "fields": [{"name": "body", "type": union}]})
        .to_string()
}

/// Union-against-union checks of 3,000 and 4,000 branches (requests of about 160 KB) used to take
/// ten seconds and gigabytes each, under the registry's write lock, and stall the broker. Now
/// they run off the threads that answer requests and in work linear in the schemas.
#[test]
fn huge_union_checks_do_not_stall_anything() {
    let root = tempfile::tempdir().expect("tempdir");
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let registry = sluice.registry.clone();
    let register = |subject: &str, schema: String| {
        http.post(format!("{registry}/subjects/{subject}/versions"))
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .json(&json!({"schema": schema}))
            .send()
            .expect("register")
    };
    assert_eq!(
        register("wide", wide_union_schema(4000, false)).status(),
        StatusCode::OK
    );
    let checks: Vec<std::thread::JoinHandle<(u16, Json)>> = [3000, 4000]
        .into_iter()
        .map(|n| {
            let url = format!("{registry}/compatibility/subjects/wide/versions/latest");
            std::thread::spawn(move || {
                let response = Client::new()
                    .post(url)
                    .json(&json!({"schema": wide_union_schema(n, true)}))
                    .timeout(Duration::from_secs(120))
                    .send()
                    .expect("check");
                (
                    response.status().as_u16(),
                    response.json().unwrap_or(Json::Null),
                )
            })
        })
        .collect();
    while !checks.iter().all(|c| c.is_finished()) {
        keeps_answering(&sluice, &http, Duration::from_millis(300));
    }
    for check in checks {
        let (status, body) = check.join().expect("check thread");
        assert_eq!(status, 200, "{body}");
        assert!(body["is_compatible"].is_boolean(), "{body}");
    }
    // A compatible evolution registers as version 2.
    let evolved = register("wide", wide_union_schema(4000, true));
    assert_eq!(evolved.status(), StatusCode::OK);
    sluice.stop();
}

fn create_topics(raw: &mut Raw, topics: &[(&str, i32)]) -> Vec<(i16, Option<String>)> {
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    let mut request = CreateTopicsRequest::default();
    request.timeout_ms = 60_000;
    for (name, partitions) in topics {
        let mut topic = create_topics_request::CreatableTopic::default();
        topic.name = TopicName(StrBytes::from_string(name.to_string()));
        topic.num_partitions = *partitions;
        topic.replication_factor = 1;
        request.topics.push(topic);
    }
    let Some(ResponseKind::CreateTopics(response)) =
        raw.request(RequestKind::CreateTopics(request), 5)
    else {
        panic!("no CreateTopics response");
    };
    response
        .topics
        .iter()
        .map(|t| {
            (
                t.error_code,
                t.error_message.as_ref().map(|m| m.to_string()),
            )
        })
        .collect()
}

/// `tasks.max=100000` used to block the worker's REST API for minutes; a CreateTopics of 16,000
/// partitions blocked the broker for 30 s and failed with EMFILE. Now the first is refused by
/// validation (each task is a thread and a client), the second with Kafka's POLICY_VIOLATION, and
/// a large allowed creation runs off the threads that answer other requests.
#[test]
fn oversized_admin_requests_are_refused_and_large_ones_run_aside() {
    let root = tempfile::tempdir().expect("tempdir");
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let (status, body) = post_connector(
        &http,
        &sluice,
        &json!({"name": "many", "config": {
            "connector.class": "FileStreamSource", "file": "/tmp/none", "topic": "t",
            "tasks.max": "100000"}}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 1000 tasks per connector (tasks.max.limit)")),
        "{body}"
    );

    let mut raw = Raw::connect(&sluice.bootstrap);
    let refused = create_topics(&mut raw, &[("huge-a", 8000), ("huge-b", 8000)]);
    for (code, message) in refused {
        assert_eq!(code, 44, "POLICY_VIOLATION");
        assert_eq!(
            message.as_deref(),
            Some("Excessively large number of partitions per request.")
        );
    }
    let bootstrap = sluice.bootstrap.clone();
    let creating = std::thread::spawn(move || {
        let mut raw = Raw::connect(&bootstrap);
        create_topics(&mut raw, &[("large", 3000)])
    });
    let mut slowest = Duration::ZERO;
    while !creating.is_finished() {
        slowest = slowest.max(keeps_answering(&sluice, &http, Duration::from_millis(200)));
    }
    let created = creating.join().expect("create thread");
    assert_eq!(created.iter().map(|c| c.0).collect::<Vec<_>>(), [0]);
    eprintln!("slowest ApiVersions while creating 3,000 partitions: {slowest:?}");
    sluice.stop();
}

/// IMPORT mode accepted id 4294967295, and the next registrations all got id 0. Ids are Java
/// ints: one outside 1..=2147483647 is refused, the last id is kept, and a registration after it
/// is refused rather than given an id that wraps round.
#[test]
fn schema_ids_stay_within_int32_and_never_wrap() {
    let root = tempfile::tempdir().expect("tempdir");
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let registry = sluice.registry.clone();
    let send = |method: reqwest::Method, path: &str, body: Json| -> (u16, Json) {
        let response = http
            .request(method, format!("{registry}{path}"))
            .json(&body)
            .send()
            .expect("request");
        (
            response.status().as_u16(),
            response.json().unwrap_or(Json::Null),
        )
    };
    assert_eq!(
        send(
            reqwest::Method::PUT,
            "/mode/imported",
            json!({"mode": "IMPORT"})
        )
        .0,
        200
    );
    let (status, body) = send(
        reqwest::Method::POST,
        "/subjects/imported/versions",
        json!({"schema": "\"string\"", "id": 4294967295u64, "version": 1}),
    );
    assert_eq!(
        (status, body["error_code"].as_i64()),
        (422, Some(42205)),
        "{body}"
    );
    let (status, body) = send(
        reqwest::Method::POST,
        "/subjects/imported/versions",
        json!({"schema": "\"string\"", "id": 2147483647, "version": 1}),
    );
    assert_eq!(
        (status, body["id"].as_i64()),
        (200, Some(2147483647)),
        "{body}"
    );
    let (status, body) = send(
        reqwest::Method::POST,
        "/subjects/fresh/versions",
        json!({"schema": "\"long\""}),
    );
    assert_eq!(status, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("no schema id left")),
        "{body}"
    );
    let (status, _) = send(reqwest::Method::GET, "/schemas/ids/0", Json::Null);
    assert_eq!(status, 404);
    sluice.stop();
}

/// A 1.7 MB gzip holding one 400 MB line took the process to 1.18 GB, failed the task at the
/// producer and left the file in `input.path` to fail again for ever. Now the line is refused
/// when it passes 1 MiB, without reading the rest, and the file goes to `error.path` with its
/// sidecar.
#[test]
fn a_compressed_file_with_a_huge_line_goes_to_the_error_path() {
    let root = tempfile::tempdir().expect("tempdir");
    let dirs: Vec<std::path::PathBuf> = ["input", "finished", "error", "staging"]
        .iter()
        .map(|d| {
            let p = root.path().join(d);
            std::fs::create_dir_all(&p).expect("mkdir");
            p
        })
        .collect();
    let staged = dirs[3].join("bomb.txt.gz");
    {
        let file = std::fs::File::create(&staged).expect("create");
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..400 {
            gz.write_all(&chunk).expect("write");
        }
        gz.write_all(b"\n").expect("write");
        gz.finish().expect("finish");
    }
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let (status, body) = post_connector(
        &http,
        &sluice,
        &json!({"name": "bomb", "config": {
            "connector.class": "SpoolDirLineDelimitedSourceConnector",
            "input.path": dirs[0], "finished.path": dirs[1], "error.path": dirs[2],
            "input.file.pattern": ".*\\.gz", "topic": "bomb", "halt.on.error": "false",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter"}}),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    std::fs::rename(&staged, dirs[0].join("bomb.txt.gz")).expect("rename");
    let sidecar = eventually("the file set aside", || {
        std::fs::read_to_string(dirs[2].join("bomb.txt.gz.error.txt")).ok()
    });
    assert!(sidecar.contains("longer than 1048576 bytes"), "{sidecar}");
    assert!(dirs[2].join("bomb.txt.gz").exists());
    assert!(!dirs[0].join("bomb.txt.gz").exists());
    let rss = rss_mib(sluice.pid());
    assert!(rss < 300, "the process holds {rss} MiB");
    keeps_answering(&sluice, &http, Duration::from_millis(500));
    sluice.stop();
}

/// Fetches as big as a client may ask (`max_bytes` and `partition_max_bytes` of 2 GiB) from a
/// 108 MB partition, eight at once: the answers are cut at `fetch.max.bytes` and sent from the
/// log's files, not built in memory, so the broker stays small.
#[test]
fn huge_concurrent_fetches_stream_from_the_log() {
    use kafka_protocol::messages::*;
    let root = tempfile::tempdir().expect("tempdir");
    let broker = ChildBroker::spawn(root.path());
    let producer = common::producer(
        &broker.bootstrap,
        &[("batch.size", "1000000"), ("linger.ms", "50")],
    );
    let value = vec![b'v'; 100_000];
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let sends: Vec<_> = (0..1080)
            .map(|_| {
                producer.send(
                    rdkafka::producer::FutureRecord::<(), [u8]>::to("big").payload(&value),
                    Duration::from_secs(30),
                )
            })
            .collect();
        for send in sends {
            send.await.expect("delivered");
        }
    });
    let before = rss_mib(broker.pid());
    let fetches: Vec<std::thread::JoinHandle<usize>> = (0..8)
        .map(|_| {
            let bootstrap = broker.bootstrap.clone();
            std::thread::spawn(move || {
                let mut raw = Raw::connect(&bootstrap);
                let mut partition = fetch_request::FetchPartition::default();
                partition.fetch_offset = 0;
                partition.partition_max_bytes = i32::MAX;
                let mut topic = fetch_request::FetchTopic::default();
                topic.topic = TopicName(kafka_protocol::protocol::StrBytes::from_static_str("big"));
                topic.partitions = vec![partition];
                let mut fetch = FetchRequest::default();
                fetch.max_bytes = i32::MAX;
                fetch.max_wait_ms = 100;
                fetch.topics = vec![topic];
                let Some(ResponseKind::Fetch(response)) =
                    raw.request(RequestKind::Fetch(fetch), 12)
                else {
                    panic!("no fetch response");
                };
                response.responses[0].partitions[0]
                    .records
                    .as_ref()
                    .map_or(0, |r| r.len())
            })
        })
        .collect();
    let mut peak = before;
    while !fetches.iter().all(|f| f.is_finished()) {
        peak = peak.max(rss_mib(broker.pid()));
        assert!(api_versions_round_trip(&broker.bootstrap) < SECOND);
        std::thread::sleep(Duration::from_millis(20));
    }
    for fetch in fetches {
        let bytes = fetch.join().expect("fetch");
        assert!(
            bytes > 50_000_000 && bytes <= 57_671_680,
            "{bytes} bytes: fetch.max.bytes is 55 MiB"
        );
    }
    eprintln!("broker RSS {before} MiB before the fetches, {peak} MiB at most during them");
    assert!(
        peak < before + 120,
        "the broker grew from {before} to {peak} MiB"
    );
}

/// 1,000 idle sockets under a 1,024 open-file limit used to make every new client time out for as
/// long as they stayed open. Now the broker sizes its connection limit to the files it has, and a
/// new client takes the place of a connection that never sent a request.
#[test]
fn a_flood_of_idle_connections_does_not_lock_clients_out() {
    let root = tempfile::tempdir().expect("tempdir");
    let broker = ChildBroker::spawn_with_open_file_limit(root.path(), 1024);
    let idle: Vec<TcpStream> = (0..1000)
        .filter_map(|_| TcpStream::connect(&broker.bootstrap).ok())
        .collect();
    assert!(idle.len() > 500, "{} idle sockets open", idle.len());
    std::thread::sleep(Duration::from_millis(1500));
    for _ in 0..5 {
        let took = api_versions_round_trip(&broker.bootstrap);
        assert!(took < SECOND, "a new client waited {took:?}");
    }
    let warnings = broker
        .log
        .lock()
        .expect("log")
        .iter()
        .filter(|l| l.contains("WARN"))
        .count();
    assert!(
        warnings <= 3,
        "{warnings} warnings: refusals are logged once, not per socket"
    );
    drop(idle);
}

fn wait_for_topic_values(bootstrap: &str, topic: &str, count: usize) -> Vec<String> {
    eventually("the records", || {
        let values = common::payloads(&common::consume_if_exists(bootstrap, topic, 0));
        (values.len() >= count).then_some(values)
    })
}

/// Passwords came back in plain text from the create response, `GET .../config` and
/// `.../tasks-config`, and a JAAS string with its password reached the ERROR log. Every key
/// Kafka's clients type as PASSWORD (with any prefix), and keys named as passwords, are hidden,
/// and no secret value reaches the log, even at TRACE, nor do record contents.
#[test]
fn secrets_are_never_shown_or_logged() {
    let root = tempfile::tempdir().expect("tempdir");
    let input = root.path().join("in.txt");
    std::fs::write(&input, "record-content-7f3a\n").expect("write");
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let traced = http
        .put(sluice.url("/admin/loggers/root"))
        .json(&json!({"level": "TRACE"}))
        .send()
        .expect("loggers");
    assert_eq!(traced.status(), StatusCode::OK);
    let secrets = ["hunter2-conn", "kspass-9931", "jaas-pw-5512"];
    let config = json!({
        "connector.class": "FileStreamSource", "file": input, "topic": "secrets",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "connection.password": secrets[0],
        "consumer.override.ssl.key.password": secrets[1],
        "consumer.override.sasl.jaas.config": format!("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"{}\";", secrets[2]),
    });
    let (status, created) = post_connector(&http, &sluice, &json!({"name": "s", "config": config}));
    assert_eq!(status, StatusCode::CREATED, "{created}");
    wait_for_topic_values(&sluice.bootstrap, "secrets", 1);
    let shown: Vec<String> = [
        "/connectors/s",
        "/connectors/s/config",
        "/connectors/s/tasks",
        "/connectors/s/tasks-config",
    ]
    .iter()
    .map(|path| {
        http.get(sluice.url(path))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    })
    .chain([created.to_string()])
    .collect();
    for text in &shown {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
        assert!(text.contains("[hidden]"), "{text}");
    }
    // A task that cannot start: librdkafka's error repeats the value it refused, and the log and
    // the status get it without the secrets.
    let failing = json!({
        "connector.class": "FileStreamSource", "file": input, "topic": "secrets2",
        "producer.override.ssl.key.password": secrets[1],
        "producer.override.sasl.jaas.config": format!("PlainLoginModule required password=\"{}\";", secrets[2]),
        "connection.password": secrets[0],
    });
    let (status, _) = post_connector(&http, &sluice, &json!({"name": "f", "config": failing}));
    assert_eq!(status, StatusCode::CREATED);
    let (_, trace) = eventually("the task to fail", || {
        task_states(&http, &sluice, "f")
            .into_iter()
            .find(|(s, _)| s == "FAILED")
    });
    std::thread::sleep(Duration::from_millis(500));
    let log = sluice.log_text();
    for secret in secrets {
        assert!(!trace.contains(secret), "{secret} in the trace: {trace}");
        assert!(!log.contains(secret), "{secret} in the log");
    }
    assert!(
        !log.contains("record-content-7f3a"),
        "a record's content in the log"
    );
    sluice.stop();
}

/// A connection that sends nothing is closed after `connections.max.idle.ms`, and one that starts
/// a request and trickles the rest after `socket.request.read.timeout.ms`; a client that keeps
/// talking stays.
#[test]
fn silent_and_trickling_connections_are_closed() {
    use std::io::Read;
    let root = tempfile::tempdir().expect("tempdir");
    let broker = ChildBroker::spawn_with(
        root.path(),
        &[
            "connections.max.idle.ms=700",
            "socket.request.read.timeout.ms=700",
        ],
    );
    let closed = |stream: &mut TcpStream| {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        matches!(stream.read(&mut byte), Ok(0) | Err(_))
    };
    let mut silent = TcpStream::connect(&broker.bootstrap).expect("connect");
    let mut trickling = TcpStream::connect(&broker.bootstrap).expect("connect");
    trickling.write_all(&100i32.to_be_bytes()).expect("write");
    trickling.write_all(&[0, 18]).expect("write");
    let mut talking = Raw::connect(&broker.bootstrap);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        assert!(talking
            .request(
                kafka_protocol::messages::RequestKind::ApiVersions(Default::default()),
                3
            )
            .is_some());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(closed(&mut silent), "the silent connection is closed");
    assert!(closed(&mut trickling), "the trickling one is closed");
    assert!(talking
        .request(
            kafka_protocol::messages::RequestKind::ApiVersions(Default::default()),
            3
        )
        .is_some());
}
