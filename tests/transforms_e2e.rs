//! Transforms end to end: `sluice transform` as a real process (chains with predicates, both
//! input forms, converter and configuration errors, exit statuses), Kafka's JsonConverter test
//! cases run through it in both directions, and a worker whose source and sink chains reshape
//! and route records.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use sluice_connect_api::base64;

mod common;

/// Runs `sluice transform` with `config` (written as a JSON file) on `lines`; returns the exit
/// status and the output lines.
fn transform(dir: &Path, config: &Json, args: &[&str], lines: &[String]) -> (i32, Vec<Json>) {
    let path = dir.join(format!("config-{}.json", lines.len()));
    std::fs::write(&path, config.to_string()).expect("write config");
    transform_file(&path, args, lines)
}

fn transform_file(config: &Path, args: &[&str], lines: &[String]) -> (i32, Vec<Json>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("transform")
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice transform");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = lines.join("\n");
    // Written apart from the reading, so a full pipe cannot stall both ends.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
        let _ = stdin.write_all(b"\n");
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let output = loop {
        match child.try_wait().expect("wait") {
            Some(_) => break child.wait_with_output().expect("output"),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("sluice transform did not finish");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    writer.join().expect("writer");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let parsed = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (output.status.code().unwrap_or(-1), parsed)
}

fn b64(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::decode(text).expect("base64")
}

fn string_envelope(s: &str) -> Json {
    json!({"schema": {"type": "string", "optional": false}, "payload": s})
}

// ----- sluice transform ----------------------------------------------------------------------

#[test]
fn a_chain_with_predicates_and_negate_runs_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({
        "name": "dry",
        "connector.class": "FileStreamSource",
        "transforms": "hoist,insert,onlyOrders,route",
        "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
        "transforms.hoist.field": "line",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.topic.field": "from",
        "transforms.insert.offset.field": "offset",
        "transforms.insert.predicate": "isSink",
        "transforms.onlyOrders.type": "Filter",
        "transforms.onlyOrders.predicate": "orders",
        "transforms.onlyOrders.negate": "true",
        "transforms.route.type": "RegexRouter",
        "transforms.route.regex": "(.*)-raw",
        "transforms.route.replacement": "$1",
        "predicates": "orders,isSink",
        "predicates.orders.type": "TopicNameMatches",
        "predicates.orders.pattern": "orders-.*",
        "predicates.isSink.type": "HasHeaderKey",
        "predicates.isSink.name": "sink",
    });
    let lines = vec![
        json!({"topic": "orders-raw", "value": string_envelope("a")}).to_string(),
        json!({"topic": "audit-raw", "value": string_envelope("b")}).to_string(),
        json!({"topic": "orders-raw", "partition": 2, "offset": 7, "timestamp": 1000,
               "value": string_envelope("c"),
               "headers": [["sink", {"schema": null, "payload": true}]]})
        .to_string(),
    ];
    let (status, out) = transform(dir.path(), &config, &[], &lines);
    assert_eq!(status, 0, "{out:?}");
    assert_eq!(out.len(), 3);
    assert_eq!(out[0]["topic"], "orders");
    assert_eq!(out[0]["value"]["payload"], json!({"line": "a"}));
    assert_eq!(
        out[1],
        Json::Null,
        "the negated predicate drops what is not an order"
    );
    assert_eq!(out[2]["topic"], "orders");
    assert_eq!(
        out[2]["offset"], 7,
        "a record with an offset is a sink record"
    );
    assert_eq!(
        out[2]["value"]["payload"],
        json!({"line": "c", "from": "orders-raw", "offset": 7})
    );
    assert_eq!(out[2]["headers"][0][0], "sink");
}

#[test]
fn raw_input_is_read_by_the_configs_converters_and_written_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "transforms": "key",
        "transforms.key.type": "ValueToKey",
        "transforms.key.fields": "id",
    });
    let line = json!({"topic": "t", "partition": 0, "offset": 3,
                      "key": {"bytes": b64(b"old")},
                      "value": {"bytes": b64(br#"{"id":7,"name":"x"}"#)}})
    .to_string();
    let (status, out) = transform(
        dir.path(),
        &config,
        &["--input", "raw"],
        std::slice::from_ref(&line),
    );
    assert_eq!(status, 0, "{out:?}");
    assert_eq!(out[0]["key"], json!({"schema": null, "payload": {"id": 7}}));
    assert_eq!(
        out[0]["value"],
        json!({"schema": null, "payload": {"id": 7, "name": "x"}})
    );
    let (status, out) = transform(
        dir.path(),
        &config,
        &["--input", "raw", "--output", "raw"],
        &[line],
    );
    assert_eq!(status, 0, "{out:?}");
    let key = String::from_utf8(unb64(out[0]["key"]["bytes"].as_str().expect("key bytes")))
        .expect("utf-8");
    assert_eq!(
        key, "{id=7}",
        "StringConverter writes the key map as Java prints it"
    );
    let value: Json = serde_json::from_slice(&unb64(
        out[0]["value"]["bytes"].as_str().expect("value bytes"),
    ))
    .expect("json");
    assert_eq!(value, json!({"id": 7, "name": "x"}));
}

#[test]
fn failed_records_do_not_stop_the_others_and_set_the_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({
        "value.converter": "JsonConverter",
        "transforms": "extract",
        "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
        "transforms.extract.field": "id",
    });
    let lines = vec![
        json!({"topic": "t", "offset": 0, "value": {"bytes": b64(b"{not json")}}).to_string(),
        json!({"topic": "t", "offset": 1, "value": {"bytes": b64(br#"{"schema":null,"payload":5}"#)}}).to_string(),
        json!({"topic": "t", "offset": 2, "value": {"bytes": b64(br#"{"schema":null,"payload":{"id":9}}"#)}}).to_string(),
        "not a record".to_string(),
    ];
    let (status, out) = transform(dir.path(), &config, &["--input", "raw"], &lines);
    assert_eq!(status, 1);
    assert_eq!(out.len(), 4, "one line per record, in order");
    assert_eq!(out[0]["error"]["phase"], "apply");
    assert_eq!(out[0]["error"]["stage"], "VALUE_CONVERTER");
    assert!(out[0]["error"]["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Converting byte[] to Kafka Connect data failed")));
    assert_eq!(out[1]["error"]["stage"], "TRANSFORMATION");
    assert_eq!(
        out[1]["error"]["message"],
        "Only Map objects supported in absence of schema for [field extraction], found: java.lang.Long"
    );
    assert_eq!(out[2]["value"], json!({"schema": null, "payload": 9}));
    assert_eq!(out[3]["error"]["phase"], "read");
}

#[test]
fn configuration_errors_exit_2_before_reading() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            json!({"transforms": "c", "transforms.c.type": "org.apache.kafka.connect.transforms.Cast$Value", "transforms.c.spec": "a:array"}),
            "Cast transformation does not support casting to ARRAY; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]",
        ),
        (
            json!({"transforms": "c", "transforms.c.type": "org.apache.kafka.connect.transforms.Cast$Value"}),
            "Missing required configuration \"transforms.c.spec\" which has no default value.",
        ),
        (
            json!({"transforms": "r", "transforms.r.type": "RegexRoutr"}),
            "Class RegexRoutr could not be found. Did you mean 'RegexRouter'?",
        ),
        (
            json!({"transforms": "t", "transforms.t.type": "org.apache.kafka.connect.transforms.TimestampConverter$Value", "transforms.t.target.type": "string", "transforms.t.format": "yyyy-MM-dd Q"}),
            "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: yyyy-MM-dd Q",
        ),
    ];
    for (config, message) in cases {
        let (status, out) = transform(dir.path(), &config, &[], &["{}".to_string()]);
        assert_eq!(status, 2, "{config}");
        assert_eq!(out.len(), 1, "nothing is read after a configuration error");
        assert_eq!(out[0]["error"]["phase"], "configure");
        let got = out[0]["error"]["message"].as_str().unwrap_or_default();
        assert!(
            got.starts_with(message),
            "{got} does not start with {message}"
        );
    }
    // A converter that does not exist matters only when raw forms need it.
    let config = json!({"value.converter": "org.example.Nope"});
    let (status, _) = transform(dir.path(), &config, &[], &[]);
    assert_eq!(status, 0);
    let (status, out) = transform(dir.path(), &config, &["--input", "raw"], &[]);
    assert_eq!(status, 2);
    assert_eq!(out[0]["error"]["key"], "value.converter");
    // Properties files work as connect-standalone takes them.
    let properties = dir.path().join("c.properties");
    std::fs::write(&properties, "transforms=f\ntransforms.f.type=Filter\n").expect("write");
    let (status, out) = transform_file(&properties, &[], &[json!({"topic": "t"}).to_string()]);
    assert_eq!((status, out), (0, vec![Json::Null]));
}

// ----- JsonConverter conformance ---------------------------------------------------------------

#[test]
fn kafkas_json_converter_cases_hold_in_both_directions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let groups: Json =
        serde_json::from_str(include_str!("data/json_converter_cases.json")).expect("cases");
    let mut failures = Vec::new();
    let mut checked = 0;
    for group in groups.as_array().expect("groups") {
        let name = group["group"].as_str().unwrap_or_default();
        let mut config = json!({"value.converter": "org.apache.kafka.connect.json.JsonConverter"});
        for (k, v) in group["converter"].as_object().expect("converter") {
            config[format!("value.converter.{k}")] = v.clone();
        }
        let cases = group["cases"].as_array().expect("cases");
        let to_connect = group["direction"] == "to_connect";
        let lines: Vec<String> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                let value = if to_connect {
                    match case["bytes"].as_str() {
                        Some(text) => json!({"bytes": b64(text.as_bytes())}),
                        None => Json::Null,
                    }
                } else {
                    case["envelope"].clone()
                };
                json!({"topic": "t", "partition": 0, "offset": i, "value": value}).to_string()
            })
            .collect();
        let args: &[&str] = if to_connect {
            &["--input", "raw", "--output", "envelope"]
        } else {
            &["--input", "envelope", "--output", "raw"]
        };
        let (status, out) = transform(dir.path(), &config, args, &lines);
        let errors_expected = cases.iter().any(|c| c.get("error").is_some());
        if status != i32::from(errors_expected) {
            failures.push(format!("{name}: exit status {status}"));
        }
        for (case, line) in cases.iter().zip(&out) {
            checked += 1;
            let label = format!("{name} / {}", case["name"].as_str().unwrap_or_default());
            if let Some(error) = case.get("error").and_then(Json::as_str) {
                let got = line["error"]["message"].as_str().unwrap_or_default();
                if line["error"]["stage"] != "VALUE_CONVERTER" || !got.contains(error) {
                    failures.push(format!(
                        "{label}: expected an error with {error:?}, got {line}"
                    ));
                }
                continue;
            }
            if line.get("error").is_some() {
                failures.push(format!("{label}: {line}"));
                continue;
            }
            let value = &line["value"];
            if to_connect {
                if *value != case["expect"] {
                    failures.push(format!("{label}: expected {}, got {value}", case["expect"]));
                }
                continue;
            }
            let text = value["bytes"]
                .as_str()
                .map(|b| String::from_utf8(unb64(b)).expect("utf-8"));
            match (case.get("text_contains").and_then(Json::as_str), &text) {
                (Some(needle), Some(text)) if text.contains(needle) => {}
                (Some(needle), _) => failures.push(format!("{label}: {text:?} lacks {needle}")),
                (None, None) if case["expect"].is_null() => {}
                (None, None) => failures.push(format!("{label}: no bytes written")),
                (None, Some(text)) => {
                    let parsed: Json = serde_json::from_str(text).unwrap_or(Json::Null);
                    if parsed != case["expect"] {
                        failures.push(format!("{label}: expected {}, got {text}", case["expect"]));
                    }
                }
            }
        }
        if out.len() != cases.len() {
            failures.push(format!(
                "{name}: {} lines for {} cases",
                out.len(),
                cases.len()
            ));
        }
    }
    assert!(checked > 80, "only {checked} cases ran");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ----- a worker with source and sink chains ----------------------------------------------------

/// Two FileStreamSource connectors read orders and noise through one chain (HoistField,
/// InsertField, ReplaceField, RegexRouter, and a Filter whose predicate drops the noise); a
/// FileStreamSink reads the routed topic back through a chain of its own.
#[test]
fn a_worker_reshapes_routes_and_filters_records_on_both_sides() {
    use reqwest::blocking::Client;
    use reqwest::StatusCode;

    let dir = tempfile::tempdir().expect("tempdir");
    let sluice = common::Standalone::spawn(dir.path());
    let http = Client::new();
    let count = 300;
    let write_lines = |name: &str, prefix: &str| {
        let path = dir.path().join(name);
        let text: String = (0..count).map(|i| format!("{prefix}-{i}\n")).collect();
        std::fs::write(&path, text).expect("write input");
        path
    };
    let orders = write_lines("orders.txt", "order");
    let noise = write_lines("noise.txt", "noise");
    let chain = json!({
        "transforms": "hoist,insert,rename,route,dropNoise",
        "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
        "transforms.hoist.field": "line",
        "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.insert.topic.field": "source_topic",
        "transforms.rename.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
        "transforms.rename.renames": "line:text",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)-raw",
        "transforms.route.replacement": "$1",
        "transforms.dropNoise.type": "org.apache.kafka.connect.transforms.Filter",
        "transforms.dropNoise.predicate": "isNoise",
        "predicates": "isNoise",
        "predicates.isNoise.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicates.isNoise.pattern": "noise",
    });
    let create = |name: &str, mut config: Json| {
        config
            .as_object_mut()
            .expect("object")
            .extend(chain.as_object().expect("chain").clone());
        let response = http
            .post(sluice.url("/connectors"))
            .json(&json!({"name": name, "config": config}))
            .send()
            .expect("POST /connectors");
        assert_eq!(response.status(), StatusCode::CREATED, "{name}");
    };
    for (name, file, topic) in [
        ("orders", &orders, "orders-raw"),
        ("noise", &noise, "noise-raw"),
    ] {
        create(
            name,
            json!({
                "connector.class": "FileStreamSource",
                "file": file.display().to_string(),
                "topic": topic,
            }),
        );
    }
    let records = common::eventually("the routed orders", || {
        let values = common::payloads(&common::consume_if_exists(&sluice.bootstrap, "orders", 0));
        (values.len() >= count).then_some(values)
    });
    assert_eq!(records.len(), count, "each order once");
    for (i, record) in records.iter().enumerate() {
        let envelope: Json = serde_json::from_str(record).expect("json");
        assert_eq!(
            envelope["payload"],
            json!({"text": format!("order-{i}"), "source_topic": "orders-raw"}),
            "record {i}"
        );
    }
    // The noise connector read every line too, and the filter dropped them all.
    let noise_size = std::fs::metadata(&noise).expect("noise file").len() as i64;
    common::eventually("the noise connector's offsets", || {
        let response = http
            .get(sluice.url("/connectors/noise/offsets"))
            .send()
            .ok()?;
        let body: Json = response.json().ok()?;
        let position = body["offsets"][0]["offset"]["position"].as_i64()?;
        (position == noise_size).then_some(())
    });
    assert!(common::consume_if_exists(&sluice.bootstrap, "noise", 0).is_empty());
    assert!(common::consume_if_exists(&sluice.bootstrap, "orders-raw", 0).is_empty());

    let output = dir.path().join("out.txt");
    let response = http
        .post(sluice.url("/connectors"))
        .json(&json!({"name": "sink", "config": {
            "connector.class": "FileStreamSink",
            "file": output.display().to_string(),
            "topics": "orders",
            "transforms": "offset,drop",
            "transforms.offset.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.offset.offset.field": "kafka_offset",
            "transforms.drop.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
            "transforms.drop.exclude": "source_topic",
        }}))
        .send()
        .expect("POST sink");
    assert_eq!(response.status(), StatusCode::CREATED);
    let written = common::eventually("the sink's file", || {
        let text = std::fs::read_to_string(&output).ok()?;
        (text.lines().count() >= count).then_some(text)
    });
    let expected: Vec<String> = (0..count)
        .map(|i| format!("Struct{{text=order-{i},kafka_offset={i}}}"))
        .collect();
    assert_eq!(written.lines().collect::<Vec<_>>(), expected);
    sluice.stop();
}
