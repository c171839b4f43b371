//! Bad records through the whole process (`sluice standalone`): poison records in a sink go to
//! the dead letter queue with Kafka's `__connect.errors.*` headers while good ones pass, or fail
//! the task naming stage and record; a source's failing records go to its own dead letter queue
//! as JsonConverter envelopes; the task's status counts it all while it runs; a registry that is
//! down for a few seconds loses nothing; a failed task is restarted when asked to.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::producer::FutureRecord;
use rdkafka::Message;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value as Json};

mod common;
use common::{consume_if_exists, eventually, producer, Standalone, WAIT};

fn create(http: &Client, sluice: &Standalone, name: &str, config: Json) {
    let response = http
        .post(sluice.url("/connectors"))
        .json(&json!({"name": name, "config": config}))
        .send()
        .expect("POST /connectors");
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        response.text().unwrap_or_default()
    );
}

fn status(http: &Client, sluice: &Standalone, name: &str) -> Json {
    http.get(sluice.url(&format!("/connectors/{name}/status")))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(Json::Null)
}

fn send(bootstrap: &str, topic: &str, values: &[&[u8]]) {
    let producer = producer(bootstrap, &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for value in values {
            producer
                .send(FutureRecord::<(), [u8]>::to(topic).payload(*value), WAIT)
                .await
                .expect("delivered");
        }
    });
}

fn headers(message: &OwnedMessage) -> BTreeMap<String, String> {
    message
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| {
                    let value = h.value.map(|v| String::from_utf8_lossy(v).into_owned());
                    (h.key.to_string(), value.unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Wire bytes of a string value registered as the Avro schema `"string"` under `id`.
fn avro_string(id: i32, text: &str) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    out.push((text.len() as u8) << 1);
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn poison_records_go_to_the_dead_letter_queue_and_good_ones_pass() {
    let root = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    let registered: Json = http
        .post(format!(
            "{}/subjects/in-avro-value/versions",
            sluice.registry
        ))
        .json(&json!({"schema": "\"string\""}))
        .send()
        .and_then(|r| r.json())
        .expect("registered");
    let id = registered["id"].as_i64().expect("id") as i32;

    // JSON: bad JSON fails in the converter, a number fails in ExtractField.
    send(
        &sluice.bootstrap,
        "in-json",
        &[br#"{"name":"a"}"#, b"{not json", b"42", br#"{"name":"b"}"#],
    );
    // Avro: a wrong magic byte, an id the registry does not know, and two good records.
    let good_first = avro_string(id, "first");
    let unknown_id = avro_string(9999, "lost");
    let good_last = avro_string(id, "last");
    send(
        &sluice.bootstrap,
        "in-avro",
        &[&good_first, b"plain text", &unknown_id, &good_last],
    );
    let json_out = root.path().join("json.txt");
    create(
        &http,
        &sluice,
        "json-sink",
        json!({
            "connector.class": "FileStreamSink", "topics": "in-json", "file": json_out,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "transforms": "name",
            "transforms.name.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
            "transforms.name.field": "name",
            "errors.tolerance": "all", "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": "dlq-json",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    );
    let avro_out = root.path().join("avro.txt");
    create(
        &http,
        &sluice,
        "avro-sink",
        json!({
            "connector.class": "FileStreamSink", "topics": "in-avro", "file": avro_out,
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "dlq-avro",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    );

    let got = eventually("the good JSON records", || {
        Some(lines(&json_out)).filter(|l| l.len() >= 2)
    });
    assert_eq!(got, ["a", "b"]);
    let got = eventually("the good Avro records", || {
        Some(lines(&avro_out)).filter(|l| l.len() >= 2)
    });
    assert_eq!(got, ["first", "last"]);

    let dlq = eventually("two records in dlq-json", || {
        Some(consume_if_exists(&sluice.bootstrap, "dlq-json", 0)).filter(|m| m.len() >= 2)
    });
    assert_eq!(dlq.len(), 2);
    assert_eq!(
        dlq[0].payload(),
        Some(&b"{not json"[..]),
        "the original bytes"
    );
    let first = headers(&dlq[0]);
    assert_eq!(first["__connect.errors.topic"], "in-json");
    assert_eq!(first["__connect.errors.partition"], "0");
    assert_eq!(first["__connect.errors.offset"], "1");
    assert_eq!(first["__connect.errors.connector.name"], "json-sink");
    assert_eq!(first["__connect.errors.task.id"], "0");
    assert_eq!(first["__connect.errors.stage"], "VALUE_CONVERTER");
    assert_eq!(
        first["__connect.errors.class.name"],
        "org.apache.kafka.connect.json.JsonConverter"
    );
    assert_eq!(
        first["__connect.errors.exception.class.name"],
        "org.apache.kafka.connect.errors.DataException"
    );
    assert!(!first["__connect.errors.exception.message"].is_empty());
    assert!(!first["__connect.errors.exception.stacktrace"].is_empty());
    let second = headers(&dlq[1]);
    assert_eq!(dlq[1].payload(), Some(&b"42"[..]));
    assert_eq!(second["__connect.errors.stage"], "TRANSFORMATION");
    assert_eq!(
        second["__connect.errors.class.name"],
        "org.apache.kafka.connect.transforms.ExtractField$Value"
    );
    assert_eq!(second["__connect.errors.offset"], "2");

    let dlq = eventually("two records in dlq-avro", || {
        Some(consume_if_exists(&sluice.bootstrap, "dlq-avro", 0)).filter(|m| m.len() >= 2)
    });
    assert_eq!(dlq[0].payload(), Some(&b"plain text"[..]));
    let magic = headers(&dlq[0]);
    assert_eq!(
        magic["__connect.errors.class.name"],
        "io.confluent.connect.avro.AvroConverter"
    );
    assert!(
        magic["__connect.errors.exception.message"].contains("Unknown magic byte!"),
        "{magic:?}"
    );
    assert_eq!(dlq[1].payload(), Some(&unknown_id[..]));
    assert!(
        headers(&dlq[1])["__connect.errors.exception.message"].contains("9999"),
        "{:?}",
        headers(&dlq[1])
    );

    // The status says what happened while the task keeps running.
    let task = &status(&http, &sluice, "json-sink")["tasks"][0];
    assert_eq!(task["state"], "RUNNING", "{task}");
    assert_eq!(task["errors"]["total-record-failures"], 2, "{task}");
    assert_eq!(task["errors"]["total-records-skipped"], 2, "{task}");
    assert_eq!(
        task["errors"]["deadletterqueue-produce-requests"], 2,
        "{task}"
    );
    assert_eq!(
        task["errors"]["last-error"]["stage"], "TRANSFORMATION",
        "{task}"
    );
    assert_eq!(
        task["errors"]["last-error"]["record"], "topic=in-json partition=0 offset=2",
        "{task}"
    );
    sluice.stop();
}

#[test]
fn without_tolerance_the_task_fails_naming_stage_and_record_and_restarts_when_asked() {
    let root = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    send(&sluice.bootstrap, "in", &[br#"{"ok":1}"#, b"{not json"]);
    create(
        &http,
        &sluice,
        "strict",
        json!({
            "connector.class": "FileStreamSink", "topics": "in", "file": root.path().join("strict.txt"),
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }),
    );
    let task = eventually("the task to fail", || {
        let task = status(&http, &sluice, "strict")["tasks"][0].clone();
        (task["state"] == "FAILED").then_some(task)
    });
    let trace = task["trace"].as_str().expect("trace");
    assert!(
        trace.contains("Tolerance exceeded in error handler"),
        "{trace}"
    );
    assert!(trace.contains("VALUE_CONVERTER"), "{trace}");
    assert!(trace.contains("topic=in partition=0 offset=1"), "{trace}");
    assert!(
        task.get("restarts").is_none(),
        "no restarts by default: {task}"
    );

    create(
        &http,
        &sluice,
        "restarting",
        json!({
            "connector.class": "FileStreamSink", "topics": "in", "file": root.path().join("restarting.txt"),
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "errors.task.restart.max": "2", "errors.retry.delay.max.ms": "200",
        }),
    );
    // The bad record is read again after each restart, so the task ends FAILED after two.
    let task = eventually("two restarts, then FAILED for good", || {
        let task = status(&http, &sluice, "restarting")["tasks"][0].clone();
        let done = task["state"] == "FAILED"
            && task["restarts"] == 2
            && task["trace"]
                .as_str()
                .is_some_and(|t| t.starts_with("Task is being killed"));
        done.then_some(task)
    });
    assert_eq!(task["errors"]["total-record-failures"], 3, "{task}");
    sluice.stop();
}

#[test]
fn a_source_record_that_fails_goes_to_the_source_dead_letter_queue_and_offsets_advance() {
    let root = tempfile::tempdir().expect("tempdir");
    let input = root.path().join("numbers.txt");
    std::fs::write(&input, "1\n2\nthree\n4\n").expect("input");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    create(
        &http,
        &sluice,
        "numbers",
        json!({
            "connector.class": "FileStreamSource", "file": input, "topic": "numbers",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "transforms": "int",
            "transforms.int.type": "org.apache.kafka.connect.transforms.Cast$Value",
            "transforms.int.spec": "int32",
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": "numbers-dlq",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    );
    let sent = eventually("three numbers", || {
        Some(consume_if_exists(&sluice.bootstrap, "numbers", 0)).filter(|m| m.len() >= 3)
    });
    let values: Vec<Json> = sent
        .iter()
        .map(|m| {
            serde_json::from_slice::<Json>(m.payload().unwrap_or_default()).expect("JSON")
                ["payload"]
                .clone()
        })
        .collect();
    assert_eq!(values, [json!(1), json!(2), json!(4)]);
    let dlq = eventually("the failed line in numbers-dlq", || {
        Some(consume_if_exists(&sluice.bootstrap, "numbers-dlq", 0)).filter(|m| !m.is_empty())
    });
    let envelope: Json =
        serde_json::from_slice(dlq[0].payload().unwrap_or_default()).expect("envelope");
    assert_eq!(
        envelope,
        json!({"schema": {"type": "string", "optional": false}, "payload": "three"})
    );
    let h = headers(&dlq[0]);
    assert_eq!(h["__connect.errors.stage"], "TRANSFORMATION");
    assert_eq!(
        h["__connect.errors.class.name"],
        "org.apache.kafka.connect.transforms.Cast$Value"
    );
    assert_eq!(h["__connect.errors.topic"], "numbers");
    assert!(
        h["__connect.errors.source.partition"].contains("numbers.txt"),
        "{h:?}"
    );
    // The offset moved past the failed line: once all are committed it stands after line 4.
    let offsets = eventually("the source offset past every line", || {
        let body: Json = http
            .get(sluice.url("/connectors/numbers/offsets"))
            .send()
            .and_then(|r| r.json())
            .ok()?;
        let position = body["offsets"][0]["offset"]["position"].as_i64()?;
        (position == 12).then_some(body)
    });
    assert_eq!(offsets["offsets"][0]["offset"]["position"], 12);
    sluice.stop();
}

#[test]
fn a_registry_down_for_a_few_seconds_loses_nothing_with_a_retry_timeout() {
    let root = tempfile::tempdir().expect("tempdir");
    let input = root.path().join("lines.txt");
    let text: String = (0..50).map(|i| format!("line-{i}\n")).collect();
    std::fs::write(&input, &text).expect("input");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    // A port nothing listens on yet; a registry starts there a few seconds after the connector.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    create(
        &http,
        &sluice,
        "late-registry",
        json!({
            "connector.class": "FileStreamSource", "file": input, "topic": "late",
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": format!("http://127.0.0.1:{port}"),
            "errors.retry.timeout": "60000", "errors.retry.delay.max.ms": "500",
        }),
    );
    std::thread::sleep(Duration::from_secs(3));
    let task = &status(&http, &sluice, "late-registry")["tasks"][0];
    assert_eq!(task["state"], "RUNNING", "still retrying: {task}");
    assert!(
        task["errors"]["total-retries"].as_u64().unwrap_or(0) > 0,
        "{task}"
    );
    let mut registry = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["registry", "--override"])
        .arg(format!("kafkastore.bootstrap.servers={}", sluice.bootstrap))
        .arg("--override")
        .arg(format!("listeners=http://127.0.0.1:{port}"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("registry");
    let sent = eventually("every line, as Avro", || {
        Some(consume_if_exists(&sluice.bootstrap, "late", 0)).filter(|m| m.len() >= 50)
    });
    assert_eq!(sent.len(), 50, "nothing lost, nothing repeated");
    for (i, m) in sent.iter().enumerate() {
        let value = m.payload().unwrap_or_default();
        assert_eq!(value[0], 0, "magic byte");
        assert_eq!(&value[6..], format!("line-{i}").as_bytes());
    }
    let task = &status(&http, &sluice, "late-registry")["tasks"][0];
    assert_eq!(task["state"], "RUNNING", "{task}");
    let _ = registry.kill();
    let _ = registry.wait();
    sluice.stop();
}

#[test]
fn a_source_record_the_producer_refuses_is_skipped_under_tolerance() {
    let root = tempfile::tempdir().expect("tempdir");
    let input = root.path().join("mixed.txt");
    std::fs::write(&input, format!("small-1\n{}\nsmall-2\n", "x".repeat(5000))).expect("input");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    create(
        &http,
        &sluice,
        "mixed",
        json!({
            "connector.class": "FileStreamSource", "file": input, "topic": "mixed",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "producer.override.message.max.bytes": "2000",
            "errors.tolerance": "all",
        }),
    );
    let sent = eventually("the two small lines", || {
        Some(consume_if_exists(&sluice.bootstrap, "mixed", 0)).filter(|m| m.len() >= 2)
    });
    let values: Vec<&[u8]> = sent
        .iter()
        .map(|m| m.payload().unwrap_or_default())
        .collect();
    assert_eq!(values, [&b"small-1"[..], &b"small-2"[..]]);
    let task = &status(&http, &sluice, "mixed")["tasks"][0];
    assert_eq!(task["state"], "RUNNING", "{task}");
    assert_eq!(task["errors"]["total-records-skipped"], 1, "{task}");
    assert_eq!(
        task["errors"]["last-error"]["stage"], "KAFKA_PRODUCE",
        "{task}"
    );
    sluice.stop();
}

/// A small HTTP/1.1 server on a thread: answers 400 to a body containing `bad`, 200 otherwise,
/// and keeps the bodies it accepted. Stops when the test process ends.
fn http_target() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = std::sync::Arc::clone(&kept);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let header = line.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length.min(1 << 20)];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let body = String::from_utf8_lossy(&body).into_owned();
                    let status = if body.contains("bad") {
                        "400 Bad Request"
                    } else {
                        "200 OK"
                    };
                    if status.starts_with("200") {
                        kept.lock().expect("lock").push(body);
                    }
                    let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 2\r\n\r\nok");
                    if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{address}"), accepted)
}

#[test]
fn an_http_sink_sends_a_permanently_refused_record_to_the_dead_letter_queue() {
    let root = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    let (url, accepted) = http_target();
    send(
        &sluice.bootstrap,
        "events",
        &[b"good-1", b"bad-2", b"good-3"],
    );
    create(
        &http,
        &sluice,
        "to-http",
        json!({
            "connector.class": "io.confluent.connect.http.HttpSinkConnector",
            "topics": "events", "http.api.url": format!("{url}/ingest"),
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "batch.max.size": "10", "retry.on.status.codes": "500-", "max.retries": "1",
            "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "events-dlq",
            "errors.deadletterqueue.context.headers.enable": "true",
        }),
    );
    let dlq = eventually("the refused record in events-dlq", || {
        Some(consume_if_exists(&sluice.bootstrap, "events-dlq", 0)).filter(|m| !m.is_empty())
    });
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].payload(), Some(&b"bad-2"[..]));
    let h = headers(&dlq[0]);
    assert_eq!(h["__connect.errors.stage"], "TASK_PUT");
    assert_eq!(
        h["__connect.errors.class.name"],
        "io.confluent.connect.http.HttpSinkConnector"
    );
    assert!(
        h["__connect.errors.exception.message"].contains("400"),
        "{h:?}"
    );
    let got = eventually("both good records accepted", || {
        let got = accepted.lock().expect("lock").clone();
        got.iter().any(|b| b == "good-3").then_some(got)
    });
    // The batch of three was refused whole, then put record by record.
    assert!(
        got.contains(&"good-1".to_string()) && got.contains(&"good-3".to_string()),
        "{got:?}"
    );
    assert!(!got.iter().any(|b| b.contains("bad")), "{got:?}");
    sluice.stop();
}

#[test]
fn an_http_sink_reports_each_record_to_its_result_or_error_topic() {
    let root = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(root.path());
    let http = Client::new();
    let (url, _accepted) = http_target();
    send(
        &sluice.bootstrap,
        "calls",
        &[b"good-1", b"bad-2", b"good-3"],
    );
    create(
        &http,
        &sluice,
        "reported",
        json!({
            "connector.class": "io.confluent.connect.http.HttpSinkConnector",
            "topics": "calls", "http.api.url": format!("{url}/ingest"),
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "retry.on.status.codes": "500-", "max.retries": "0", "behavior.on.error": "log",
            "reporter.bootstrap.servers": sluice.bootstrap,
        }),
    );
    let success = eventually("two results in reported-success", || {
        Some(consume_if_exists(&sluice.bootstrap, "reported-success", 0)).filter(|m| m.len() >= 2)
    });
    let errors = eventually("one error in reported-error", || {
        Some(consume_if_exists(&sluice.bootstrap, "reported-error", 0)).filter(|m| !m.is_empty())
    });
    assert_eq!(success.len(), 2);
    assert_eq!(success[0].payload(), Some(&b"ok"[..]), "the response body");
    let h = headers(&success[1]);
    assert_eq!(
        (
            h["input_record_topic"].as_str(),
            h["input_record_offset"].as_str(),
            h["status_code"].as_str()
        ),
        ("calls", "2", "200")
    );
    assert_eq!(errors.len(), 1);
    let h = headers(&errors[0]);
    assert_eq!(h["input_record_offset"], "1");
    assert_eq!(h["status_code"], "400");
    assert_eq!(h["payload"], "bad-2");
    let value = String::from_utf8_lossy(errors[0].payload().unwrap_or_default()).into_owned();
    assert!(value.contains("400"), "{value}");
    let task = &status(&http, &sluice, "reported")["tasks"][0];
    assert_eq!(task["state"], "RUNNING", "{task}");
    sluice.stop();
}
