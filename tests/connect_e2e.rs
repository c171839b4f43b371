//! The Connect worker end to end, driven only through the REST API and Kafka clients, with
//! `sluice standalone` as a real process: FileStreamSource lines reach the topic, a
//! FileStreamSink writes them back byte for byte, the lifecycle endpoints work, a restarted
//! process brings every connector back in its state, and a `kill -9` loses no acknowledged line.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value as Json};

mod common;
use common::{consume_if_exists, eventually, payloads, Standalone};

fn append(path: &Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    for i in range {
        writeln!(f, "line-{i:06} {}", "x".repeat(i % 7)).expect("write");
    }
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!("line-{i:06} {}", "x".repeat(i % 7)))
        .collect()
}

fn topic_lines(bootstrap: &str, topic: &str) -> Vec<String> {
    payloads(&consume_if_exists(bootstrap, topic, 0))
}

fn wait_for_lines(bootstrap: &str, topic: &str, count: usize) -> Vec<String> {
    eventually(&format!("{count} lines in {topic}"), || {
        let lines = topic_lines(bootstrap, topic);
        (lines.len() >= count).then_some(lines)
    })
}

fn get(http: &Client, url: &str) -> (StatusCode, Json) {
    let response = http.get(url).send().expect("GET");
    let status = response.status();
    (status, response.json().unwrap_or(Json::Null))
}

fn wait_for_state(
    http: &Client,
    sluice: &Standalone,
    name: &str,
    connector: &str,
    task: Option<&str>,
) {
    eventually(&format!("{name} {connector}/{task:?}"), || {
        let (status, body) = get(http, &sluice.url(&format!("/connectors/{name}/status")));
        let connector_ok = status == StatusCode::OK && body["connector"]["state"] == connector;
        let task_ok = match task {
            Some(t) => body["tasks"][0]["state"] == t,
            None => body["tasks"].as_array().is_some_and(Vec::is_empty),
        };
        (connector_ok && task_ok).then_some(())
    });
}

fn create(http: &Client, sluice: &Standalone, body: Json) -> reqwest::blocking::Response {
    http.post(sluice.url("/connectors"))
        .json(&body)
        .send()
        .expect("POST /connectors")
}

fn source_config(file: &Path, topic: &str) -> Json {
    json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "file": file.display().to_string(),
        "topic": topic,
        "tasks.max": 1,
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    })
}

#[test]
fn file_lines_flow_through_source_and_sink_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    append(&input, 0..100);
    let http = Client::new();
    let sluice = Standalone::spawn(dir.path());

    // 1. Create a FileStreamSource.
    let response = create(
        &http,
        &sluice,
        json!({"name": "src", "config": source_config(&input, "lines")}),
    );
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok()),
        Some("/connectors/src")
    );
    wait_for_state(&http, &sluice, "src", "RUNNING", Some("RUNNING"));

    // 2-3. Lines appended later reach the topic too, read with rdkafka.
    append(&input, 100..200);
    assert_eq!(
        wait_for_lines(&sluice.bootstrap, "lines", 200),
        expected(0..200)
    );

    // 4. A FileStreamSink writes them to a file that matches byte for byte.
    let response = create(
        &http,
        &sluice,
        json!({"name": "sink", "config": {
            "connector.class": "FileStreamSink",
            "file": output.display().to_string(),
            "topics": "lines",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }}),
    );
    assert_eq!(response.status(), StatusCode::CREATED);
    let source_bytes = std::fs::read(&input).expect("input");
    eventually("the sink file to match the source file", || {
        (std::fs::read(&output).ok()? == source_bytes).then_some(())
    });

    // 5. Pause: nothing flows. Resume: it does again.
    let response = http
        .put(sluice.url("/connectors/src/pause"))
        .send()
        .expect("pause");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    wait_for_state(&http, &sluice, "src", "PAUSED", Some("PAUSED"));
    append(&input, 200..250);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        topic_lines(&sluice.bootstrap, "lines").len(),
        200,
        "a paused source sends nothing"
    );
    let response = http
        .put(sluice.url("/connectors/src/resume"))
        .send()
        .expect("resume");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        wait_for_lines(&sluice.bootstrap, "lines", 250),
        expected(0..250)
    );

    // Restart with tasks: 202 and the instances shown RESTARTING, then RUNNING again.
    let response = http
        .post(sluice.url("/connectors/src/restart?includeTasks=true"))
        .send()
        .expect("restart");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let plan: Json = response.json().expect("plan");
    assert_eq!(plan["connector"]["state"], "RESTARTING");
    assert_eq!(plan["tasks"][0]["state"], "RESTARTING");
    wait_for_state(&http, &sluice, "src", "RUNNING", Some("RUNNING"));

    // Leave the sink paused, so the restart below must bring it back paused.
    let source_bytes = std::fs::read(&input).expect("input");
    eventually("the sink to catch up", || {
        (std::fs::read(&output).ok()? == source_bytes).then_some(())
    });
    http.put(sluice.url("/connectors/sink/pause"))
        .send()
        .expect("pause sink");
    wait_for_state(&http, &sluice, "sink", "PAUSED", Some("PAUSED"));

    // 6. A clean stop; lines written while the worker is down; a new process.
    sluice.stop();
    append(&input, 250..300);
    let sluice = Standalone::spawn(dir.path());
    wait_for_state(&http, &sluice, "src", "RUNNING", Some("RUNNING"));
    wait_for_state(&http, &sluice, "sink", "PAUSED", Some("PAUSED"));
    let lines = wait_for_lines(&sluice.bootstrap, "lines", 300);
    std::thread::sleep(Duration::from_millis(500));
    let lines_after = topic_lines(&sluice.bootstrap, "lines");
    assert_eq!(lines, expected(0..300), "resumed from the stored offset");
    assert_eq!(lines_after, lines, "no duplicates after a clean stop");

    // The sink resumes where its group left off and the file matches again.
    http.put(sluice.url("/connectors/sink/resume"))
        .send()
        .expect("resume sink");
    let source_bytes = std::fs::read(&input).expect("input");
    eventually("the sink file to match after the restart", || {
        (std::fs::read(&output).ok()? == source_bytes).then_some(())
    });

    // Delete: 204, then 404.
    let response = http
        .delete(sluice.url("/connectors/src"))
        .send()
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = get(&http, &sluice.url("/connectors/src"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error_code": 404, "message": "Connector src not found"})
    );
    let (_, list) = get(&http, &sluice.url("/connectors"));
    assert_eq!(list, json!(["sink"]));
    sluice.stop();
}

#[test]
fn kill_minus_nine_loses_no_acknowledged_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.txt");
    let total = 30_000;
    append(&input, 0..total);
    let http = Client::new();
    let sluice = Standalone::spawn(dir.path());
    let mut config = source_config(&input, "crash");
    // Small polls, so the kill lands mid-stream.
    config["batch.size"] = json!(100);
    let response = create(&http, &sluice, json!({"name": "src", "config": config}));
    assert_eq!(response.status(), StatusCode::CREATED);
    let seen_before = eventually("some lines before the kill", || {
        let n = topic_lines(&sluice.bootstrap, "crash").len();
        (n > 0).then_some(n)
    });
    sluice.kill();

    let sluice = Standalone::spawn(dir.path());
    let lines = wait_for_lines(&sluice.bootstrap, "crash", total);
    // At least once: every line is there, and the first copies are in file order.
    let mut firsts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in &lines {
        if seen.insert(line.clone()) {
            firsts.push(line.clone());
        }
    }
    assert_eq!(
        firsts,
        expected(0..total),
        "every line, in order (killed after {seen_before})"
    );
    sluice.stop();
}

/// A SIGTERM with connectors running and the registry used logs nothing a user would read as
/// something broken: the worker's and registry's clients close before the broker does, and a
/// sink started before its topic exists waits for it.
#[test]
fn a_clean_stop_logs_no_error_or_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.txt");
    let output = dir.path().join("output.txt");
    append(&input, 0..10);
    let sluice = Standalone::spawn(dir.path());
    let http = Client::new();
    // The sink first: a topic that does not exist yet is waited for, not an error.
    assert!(create(
        &http,
        &sluice,
        json!({"name": "lines-out", "config": {
            "connector.class": "FileStreamSink", "file": output.display().to_string(),
            "topics": "lines", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }})
    )
    .status()
    .is_success());
    assert!(create(
        &http,
        &sluice,
        json!({"name": "lines-in", "config": source_config(&input, "lines")})
    )
    .status()
    .is_success());
    let registered = http
        .post(format!("{}/subjects/lines-value/versions", sluice.registry))
        .header("Content-Type", "application/vnd.schemaregistry.v1+json")
        .body(r#"{"schema": "\"string\""}"#)
        .send()
        .expect("register");
    assert!(registered.status().is_success());
    eventually("the lines written back", || {
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        (text.lines().count() >= 10).then_some(())
    });
    let log = std::sync::Arc::clone(&sluice.log);
    sluice.stop();
    // The stderr reader may still be taking the last lines.
    std::thread::sleep(Duration::from_millis(300));
    let lines = log.lock().expect("log lock").clone();
    let noisy: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" ERROR ") || l.contains(" WARN "))
        .collect();
    assert!(noisy.is_empty(), "{noisy:#?}");
    assert!(
        lines.iter().any(|l| l.contains("broker stopped cleanly")),
        "{lines:#?}"
    );
}

/// Sends `values` to `topic` (partition 0), each with the headers `marked` gives it.
fn produce_with_headers(
    bootstrap: &str,
    topic: &str,
    values: &[&str],
    marked: impl Fn(usize) -> bool,
) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::FutureRecord;
    let producer = common::producer(bootstrap, &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for (i, value) in values.iter().enumerate() {
            let mut headers = OwnedHeaders::new().insert(Header {
                key: "origin",
                value: Some("/data/in/orders.csv"),
            });
            if marked(i) {
                headers = headers.insert(Header {
                    key: "skip",
                    value: Some("true"),
                });
            }
            let record = FutureRecord::<(), _>::to(topic)
                .partition(0)
                .payload(*value)
                .headers(headers);
            producer
                .send(record, Duration::from_secs(10))
                .await
                .expect("delivered");
        }
    });
}

/// FileStreamSink never reads headers, so with no transforms the worker does not convert them;
/// a transform whose predicate reads a header still sees it, and both sinks write what Kafka
/// Connect's would.
#[test]
fn a_file_sink_gets_headers_converted_only_when_a_transform_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sluice = Standalone::spawn(dir.path());
    let values = ["a", "b", "c", "d", "e"];
    produce_with_headers(&sluice.bootstrap, "marked", &values, |i| i % 2 == 1);
    let http = Client::new();
    let sink = |name: &str, extra: Json| {
        let output = dir.path().join(format!("{name}.txt"));
        let mut config = json!({
            "connector.class": "FileStreamSink", "file": output.display().to_string(),
            "topics": "marked", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        });
        if let (Some(config), Json::Object(extra)) = (config.as_object_mut(), extra) {
            config.extend(extra);
        }
        let created = create(&http, &sluice, json!({"name": name, "config": config}));
        assert_eq!(created.status(), StatusCode::CREATED, "{name}");
        output
    };
    let plain = sink("plain", json!({}));
    let filtered = sink(
        "filtered",
        json!({
            "transforms": "dropSkipped",
            "transforms.dropSkipped.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.dropSkipped.predicate": "skipped",
            "predicates": "skipped",
            "predicates.skipped.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
            "predicates.skipped.name": "skip",
        }),
    );
    let lines = |path: &Path, count: usize| {
        eventually(&format!("{count} lines in {}", path.display()), || {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            (lines.len() >= count).then_some(lines)
        })
    };
    assert_eq!(lines(&plain, 5), values);
    // One partition, read in order: by the time its third line is written the filtered sink has
    // passed the first two marked records.
    assert_eq!(lines(&filtered, 3), ["a", "c", "e"]);
    sluice.stop();
}
