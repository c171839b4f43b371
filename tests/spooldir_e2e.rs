//! Spooldir pipelines end to end through the REST API and the real `sluice standalone` process:
//! the walkthrough's config (with and without its trailing comma), files dropped before and
//! while the connector runs, CSV typed into JsonConverter's envelope, `kill -9` mid-file, and
//! the error cases (bad rows, missing directories, permissions, a pattern matching nothing).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value as Json};

mod common;
use common::{consume_if_exists, eventually, payloads, Standalone};

struct Dirs {
    input: PathBuf,
    finished: PathBuf,
    error: PathBuf,
}

fn dirs(root: &Path) -> Dirs {
    use std::os::unix::fs::PermissionsExt;
    // Open to everyone: one test runs the worker unprivileged.
    let make = |name: &str| {
        let p = root.join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        for dir in [p.as_path(), p.parent().expect("parent")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        p
    };
    Dirs {
        input: make("spool/input"),
        finished: make("spool/finished"),
        error: make("spool/error"),
    }
}

/// Writes a file elsewhere and renames it in, as producers of spool files should.
fn drop_file(dir: &Path, name: &str, text: &str) {
    let staging = dir.parent().expect("parent").join(format!(".{name}.tmp"));
    std::fs::write(&staging, text).expect("write");
    std::fs::rename(&staging, dir.join(name)).expect("rename");
}

fn lines(prefix: &str, count: usize) -> String {
    (0..count).map(|i| format!("{prefix}-{i:06}\n")).collect()
}

/// The topic's end offset (partition 0), 0 while it does not exist.
fn topic_end(bootstrap: &str, topic: &str) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = common::client(bootstrap).create().expect("consumer");
    consumer
        .fetch_watermarks(topic, 0, Duration::from_secs(5))
        .map_or(0, |(_, high)| high)
}

fn topic_values(bootstrap: &str, topic: &str) -> Vec<String> {
    payloads(&consume_if_exists(bootstrap, topic, 0))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn post(http: &Client, sluice: &Standalone, body: &str) -> (StatusCode, Json) {
    let response = http
        .post(sluice.url("/connectors"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("POST");
    let status = response.status();
    (status, response.json().unwrap_or(Json::Null))
}

/// The walkthrough's config, pointed at real directories; `trailing_comma` keeps its typo.
fn seed_config(d: &Dirs, name: &str, topic: &str, trailing_comma: bool) -> String {
    format!(
        r#"{{"name": "{name}",
 "config": {{
   "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirLineDelimitedSourceConnector",
   "tasks.max": "10",
   "input.path": "{}", "finished.path": "{}", "error.path": "{}",
   "input.file.pattern": ".*\\.txt", "halt.on.error": false, "cleanup.policy": "MOVE",
   "topic": "{topic}",
   "key.converter": "org.apache.kafka.connect.storage.StringConverter",
   "value.converter": "org.apache.kafka.connect.storage.StringConverter",
   "key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"{}}}}}"#,
        d.input.display(),
        d.finished.display(),
        d.error.display(),
        if trailing_comma { "," } else { "" }
    )
}

#[test]
fn the_walkthrough_config_runs_and_every_line_arrives_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let d = dirs(root.path());
    drop_file(&d.input, "a.txt", &lines("a", 300));
    drop_file(&d.input, "b.txt", &lines("b", 200));
    drop_file(&d.input, "skip.log", "not matched\n");
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());

    // As printed in the walkthrough: a trailing comma. 400, naming where.
    let (status, body) = post(
        &http,
        &sluice,
        &seed_config(&d, "file-source-connector-1", "file-topic", true),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Malformed JSON at line 10 column"),
        "{body}"
    );

    let (status, body) = post(
        &http,
        &sluice,
        &seed_config(&d, "file-source-connector-1", "file-topic", false),
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["tasks"].as_array().map(Vec::len), Some(10));

    // A file that appears while the connector runs.
    eventually("a.txt and b.txt finished", || {
        let done = listing(&d.finished);
        (done.len() == 2).then_some(())
    });
    drop_file(&d.input, "c.txt", &lines("c", 100));
    eventually("c.txt finished", || {
        listing(&d.finished)
            .contains(&"c.txt".to_string())
            .then_some(())
    });

    let mut got = eventually("600 lines in the topic", || {
        let values = topic_values(&sluice.bootstrap, "file-topic");
        (values.len() >= 600).then_some(values)
    });
    // Lines of one file keep their order; files interleave across tasks.
    for prefix in ["a-", "b-", "c-"] {
        let of_file: Vec<&String> = got.iter().filter(|l| l.starts_with(prefix)).collect();
        let mut sorted = of_file.clone();
        sorted.sort();
        assert_eq!(of_file, sorted, "{prefix} lines in order");
    }
    got.sort();
    let mut expected: Vec<String> = [lines("a", 300), lines("b", 200), lines("c", 100)]
        .concat()
        .lines()
        .map(str::to_string)
        .collect();
    expected.sort();
    assert_eq!(got, expected, "every line once");
    assert_eq!(listing(&d.finished), ["a.txt", "b.txt", "c.txt"]);
    assert_eq!(
        listing(&d.input),
        ["skip.log"],
        "unmatched files stay, no flags left"
    );
    assert!(listing(&d.error).is_empty());
    sluice.stop();
}

#[test]
fn csv_rows_reach_the_topic_typed_in_jsonconverters_envelope() {
    let root = tempfile::tempdir().expect("tempdir");
    let d = dirs(root.path());
    drop_file(
        &d.input,
        "orders.csv",
        "id,customer,amount,paid,day\n1,\"Smith, J\",10.50,true,2024-02-29\n2,Lee,0.99,false,2024-03-01\n",
    );
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let value_schema = r#"{"name":"com.example.Order","type":"STRUCT","isOptional":false,"fieldSchemas":{"id":{"type":"INT64","isOptional":false},"customer":{"type":"STRING","isOptional":true},"amount":{"name":"org.apache.kafka.connect.data.Decimal","type":"BYTES","isOptional":false,"parameters":{"scale":"2"}},"paid":{"type":"BOOLEAN","isOptional":false},"day":{"name":"org.apache.kafka.connect.data.Date","type":"INT32","isOptional":false}}}"#;
    let config = json!({"name": "orders", "config": {
        "connector.class": "SpoolDirCsvSourceConnector",
        "input.path": d.input, "finished.path": d.finished, "error.path": d.error,
        "input.file.pattern": ".*\\.csv", "topic": "orders",
        "csv.first.row.as.header": "true",
        "value.schema": value_schema,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
        "value.converter.decimal.format": "NUMERIC",
    }});
    let (status, body) = post(&http, &sluice, &config.to_string());
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let values = eventually("two rows", || {
        let v = topic_values(&sluice.bootstrap, "orders");
        (v.len() >= 2).then_some(v)
    });
    let first: Json = serde_json::from_str(&values[0]).expect("JSON");
    assert_eq!(first["schema"]["type"], "struct");
    assert_eq!(first["schema"]["name"], "com.example.Order");
    let fields = first["schema"]["fields"].as_array().expect("fields");
    assert_eq!(fields[2]["name"], "org.apache.kafka.connect.data.Decimal");
    assert_eq!(fields[4]["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(
        first["payload"],
        json!({"id": 1, "customer": "Smith, J", "amount": 10.50, "paid": true, "day": 19782})
    );
    let second: Json = serde_json::from_str(&values[1]).expect("JSON");
    assert_eq!(second["payload"]["amount"], json!(0.99));
    assert_eq!(second["payload"]["paid"], json!(false));
    sluice.stop();
}

/// How often each line of `expected` arrived; panics on a missing or unknown line.
fn duplicates(got: &[String], expected: &[String]) -> usize {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in got {
        *counts.entry(line.as_str()).or_default() += 1;
    }
    for line in expected {
        assert!(counts.contains_key(line.as_str()), "line {line} is missing");
    }
    assert_eq!(counts.len(), expected.len(), "no unknown lines");
    got.len() - expected.len()
}

#[test]
fn kill_minus_nine_mid_file_loses_nothing_and_a_clean_stop_repeats_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let d = dirs(root.path());
    let total = 300_000;
    drop_file(&d.input, "big.txt", &lines("big", total));
    let expected: Vec<String> = lines("big", total).lines().map(str::to_string).collect();
    let http = Client::new();
    let config = |name: &str, topic: &str| {
        json!({"name": name, "config": {
            "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirLineDelimitedSourceConnector",
            "input.path": d.input, "finished.path": d.finished, "error.path": d.error,
            "input.file.pattern": ".*\\.txt", "topic": topic, "batch.size": "100",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        }})
        .to_string()
    };
    let sluice = Standalone::spawn(root.path());
    assert_eq!(
        post(&http, &sluice, &config("crash", "crash")).0,
        StatusCode::CREATED
    );
    let before = eventually("part of the file", || {
        let n = topic_end(&sluice.bootstrap, "crash");
        (n > 0).then_some(n)
    });
    sluice.kill();

    let sluice = Standalone::spawn(root.path());
    let got = eventually("every line after the restart", || {
        let v = topic_values(&sluice.bootstrap, "crash");
        let done = listing(&d.finished).contains(&"big.txt".to_string());
        (done && v.len() >= total).then_some(v)
    });
    let repeated = duplicates(&got, &expected);
    eprintln!("kill -9 after {before} of {total} lines: {repeated} duplicates");

    // The same with a clean stop in the middle: nothing repeated.
    let deleted = http
        .delete(sluice.url("/connectors/crash"))
        .send()
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    drop_file(&d.input, "big2.txt", &lines("big", total));
    assert_eq!(
        post(&http, &sluice, &config("clean", "clean")).0,
        StatusCode::CREATED
    );
    let stopped_at = eventually("part of the second file", || {
        let n = topic_end(&sluice.bootstrap, "clean");
        (n > 0).then_some(n)
    });
    sluice.stop();
    let sluice = Standalone::spawn(root.path());
    let got = eventually("every line of the second file", || {
        let v = topic_values(&sluice.bootstrap, "clean");
        let done = listing(&d.finished).contains(&"big2.txt".to_string());
        (done && v.len() >= total).then_some(v)
    });
    assert_eq!(
        duplicates(&got, &expected),
        0,
        "a clean stop (after {stopped_at} lines) repeats nothing"
    );
    sluice.stop();
}

#[test]
fn bad_input_is_reported_clearly() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("tempdir");
    let d = dirs(root.path());
    let http = Client::new();
    let sluice = Standalone::spawn_unprivileged(root.path(), &[]);
    let csv = |name: &str, pattern: &str, input: &Path| {
        json!({"name": name, "config": {
            "connector.class": "SpoolDirCsvSourceConnector",
            "input.path": input, "finished.path": d.finished, "error.path": d.error,
            "input.file.pattern": pattern, "topic": name, "halt.on.error": "false",
            "value.schema": r#"{"name":"R","type":"STRUCT","isOptional":false,"fieldSchemas":{"id":{"type":"INT32","isOptional":false},"name":{"type":"STRING","isOptional":true}}}"#,
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        }})
        .to_string()
    };

    // A missing directory: 400 naming it.
    let (status, body) = post(
        &http,
        &sluice,
        &csv("missing", ".*", &root.path().join("nope")),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("input.path: path '") && message.contains("nope' does not exist"),
        "{body}"
    );

    // A malformed row: the file goes to error.path with a sidecar, the status says so, and the
    // next file is read.
    drop_file(&d.input, "1-bad.csv", "1,a\n2,b\nthree,c\n4,d\n");
    drop_file(&d.input, "2-good.csv", "5,e\n");
    let (status, body) = post(&http, &sluice, &csv("rows", ".*\\.csv", &d.input));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually("the good file finished", || {
        listing(&d.finished)
            .contains(&"2-good.csv".to_string())
            .then_some(())
    });
    assert_eq!(listing(&d.error), ["1-bad.csv", "1-bad.csv.error.txt"]);
    let sidecar = std::fs::read_to_string(d.error.join("1-bad.csv.error.txt")).expect("sidecar");
    assert!(
        sidecar.contains("line 3: field 'id': 'three' is not a valid INT32"),
        "{sidecar}"
    );
    assert!(
        sidecar.contains("2 record(s) from this file had been produced"),
        "{sidecar}"
    );
    let status: Json = http
        .get(sluice.url("/connectors/rows/status"))
        .send()
        .expect("status")
        .json()
        .expect("json");
    let reported = status["tasks"].as_array().into_iter().flatten().any(|t| {
        t["state"] == "RUNNING"
            && t["trace"]
                .as_str()
                .is_some_and(|tr| tr.contains("1-bad.csv moved to"))
    });
    assert!(reported, "{status}");
    assert_eq!(
        topic_values(&sluice.bootstrap, "rows").len(),
        3,
        "rows 1, 2 and 5"
    );

    // A pattern that matches nothing: the connector runs and leaves the files alone.
    let other = root.path().join("spool/other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    drop_file(&other, "data.csv", "1,a\n");
    let (status, _) = post(&http, &sluice, &csv("nothing", ".*\\.tsv", &other));
    assert_eq!(status, StatusCode::CREATED);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(listing(&other), ["data.csv"]);
    let status: Json = http
        .get(sluice.url("/connectors/nothing/status"))
        .send()
        .expect("status")
        .json()
        .expect("json");
    assert_eq!(status["tasks"][0]["state"], "RUNNING");

    // Permissions (the worker runs unprivileged): an unreadable file is set aside with the
    // reason, and a directory it cannot write to is refused up front.
    drop_file(&d.input, "3-locked.csv", "6,f\n");
    std::fs::set_permissions(
        d.input.join("3-locked.csv"),
        std::fs::Permissions::from_mode(0o000),
    )
    .expect("chmod");
    eventually("the unreadable file set aside", || {
        listing(&d.error)
            .contains(&"3-locked.csv".to_string())
            .then_some(())
    });
    let sidecar = std::fs::read_to_string(d.error.join("3-locked.csv.error.txt")).expect("sidecar");
    assert!(
        sidecar.to_lowercase().contains("permission denied"),
        "{sidecar}"
    );
    let locked = root.path().join("spool/locked");
    std::fs::create_dir_all(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let (status, body) = post(&http, &sluice, &csv("locked", ".*", &locked));
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("is not writable")),
        "{body}"
    );
    sluice.stop();
}

/// The stored source offset of `file` for `connector`, through `GET /connectors/<name>/offsets`.
fn stored_offset(http: &Client, sluice: &Standalone, connector: &str, file: &str) -> Option<Json> {
    let body: Json = http
        .get(sluice.url(&format!("/connectors/{connector}/offsets")))
        .send()
        .ok()?
        .json()
        .ok()?;
    body["offsets"]
        .as_array()?
        .iter()
        .find(|o| o["partition"]["fileName"] == file)
        .map(|o| o["offset"].clone())
}

/// The walkthrough's config (ten tasks, MOVE, `.*\.txt`, StringConverter): five files of 20,000
/// lines are read and finished; then new, smaller files reuse two of the names, one moved in
/// atomically and one written in place by a script. Every line of both must arrive, and the
/// stored offsets must follow the new files.
#[test]
fn a_new_file_reusing_a_finished_name_is_read_in_full() {
    let root = tempfile::tempdir().expect("tempdir");
    let d = dirs(root.path());
    for i in 1..=5 {
        drop_file(
            &d.input,
            &format!("f{i}.txt"),
            &lines(&format!("f{i}"), 20_000),
        );
    }
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let (status, body) = post(&http, &sluice, &seed_config(&d, "reuse", "reuse", false));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually("the five files finished", || {
        (listing(&d.finished).len() == 5).then_some(())
    });
    eventually("100,000 lines in the topic", || {
        (topic_end(&sluice.bootstrap, "reuse") >= 100_000).then_some(())
    });
    eventually("f1.txt's offset stored", || {
        stored_offset(&http, &sluice, "reuse", "f1.txt")
            .filter(|o| o["offset"] == 20_000)
            .map(|_| ())
    });

    // Moved in atomically.
    drop_file(&d.input, "f1.txt", &lines("again1", 500));
    // Written in place, a line at a time, by a script.
    {
        use std::io::Write;
        let mut file = std::fs::File::create(d.input.join("f2.txt")).expect("create");
        for line in lines("again2", 500).lines() {
            writeln!(file, "{line}").expect("write");
            file.flush().expect("flush");
        }
    }
    eventually("the new files finished", || {
        let done = listing(&d.finished);
        (done.contains(&"f1.txt.1".to_string()) && done.contains(&"f2.txt.1".to_string()))
            .then_some(())
    });
    let got = eventually("101,000 lines in the topic", || {
        let v = topic_values(&sluice.bootstrap, "reuse");
        (v.len() >= 101_000).then_some(v)
    });
    for prefix in ["again1-", "again2-"] {
        let of_file: Vec<&String> = got.iter().filter(|l| l.starts_with(prefix)).collect();
        assert_eq!(
            of_file.len(),
            500,
            "every line of the new {prefix} file, once"
        );
    }
    assert_eq!(got.len(), 101_000, "nothing repeated");
    for file in ["f1.txt", "f2.txt"] {
        eventually("the new file's offset stored", || {
            stored_offset(&http, &sluice, "reuse", file)
                .filter(|o| o["offset"] == 500)
                .map(|_| ())
        });
    }
    assert!(listing(&d.error).is_empty());
    sluice.stop();
}

/// The ELF connector by the original's class name, on a web server log dropped while it runs.
#[test]
fn elf_logs_become_typed_entries() {
    let root = tempfile::tempdir().expect("tempdir");
    let d = dirs(root.path());
    let http = Client::new();
    let sluice = Standalone::spawn(root.path());
    let config = json!({"name": "weblogs", "config": {
        "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.elf.SpoolDirELFSourceConnector",
        "input.path": d.input, "finished.path": d.finished, "error.path": d.error,
        "input.file.pattern": ".*\\.log", "topic": "weblogs",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }});
    let (status, body) = post(&http, &sluice, &config.to_string());
    assert_eq!(status, StatusCode::CREATED, "{body}");
    drop_file(
        &d.input,
        "u_ex240301.log",
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2024-03-01 00:00:00\n\
         #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-bytes time-taken\n\
         2024-03-01 00:00:05 10.0.0.9 GET /default.htm - 80 - 192.168.0.7 Mozilla/5.0+(Windows+NT+10.0) 200 1432 0.031\n\
         2024-03-01 00:00:06 10.0.0.9 GET /missing.png - 80 - 192.168.0.7 - 404 0 0.002\n",
    );
    let values = eventually("two entries", || {
        let v = topic_values(&sluice.bootstrap, "weblogs");
        (v.len() >= 2).then_some(v)
    });
    let first: Json = serde_json::from_str(&values[0]).expect("JSON");
    assert_eq!(first["cs_uri_stem"], "/default.htm");
    assert_eq!(first["sc_status"], 200);
    assert_eq!(first["time_taken"], 0.031);
    assert_eq!(first["cs_user_agent"], "Mozilla/5.0+(Windows+NT+10.0)");
    assert_eq!(first["cs_uri_query"], Json::Null);
    assert_eq!(first["date"], 19_783);
    assert_eq!(first["datetime"], 19_783_i64 * 86_400_000 + 5_000);
    let second: Json = serde_json::from_str(&values[1]).expect("JSON");
    assert_eq!(second["sc_status"], 404);
    eventually("the log finished", || {
        listing(&d.finished)
            .contains(&"u_ex240301.log".to_string())
            .then_some(())
    });
    sluice.stop();
}
