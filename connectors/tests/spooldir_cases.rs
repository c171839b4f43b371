//! The spooldir connectors against data-driven cases (`tests/data/spooldir/<format>/*.case.json`),
//! in the shape of the original connector's own task tests: a file is dropped into `input.path`
//! of a running task (with an offset stored for its name, or none), and every record it gives is
//! compared with the case: key and value as JsonConverter envelopes with their schemas, the source
//! partition and offset, `file.name`, `file.offset` and `file.relative.path`, and the presence of
//! the other `file.*` headers. Once the records are committed the file must be in
//! `finished.path` (in its folders with `cleanup.policy.maintain.relative.path`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use sluice_connect_api::{
    props_of, Converter, OffsetReader, Props, SourceMap, SourceRecord, SourceTask, Value,
};
use sluice_connectors::spooldir::{Format, SpoolDirTask};
use sluice_runtime::converters::JsonConverter;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/spooldir");

/// Offsets as the worker stores them, keyed by the partition's JSON.
#[derive(Default)]
struct Offsets(Mutex<HashMap<String, SourceMap>>);

impl Offsets {
    fn set(&self, partition: &Json, offset: SourceMap) {
        self.0
            .lock()
            .expect("offsets")
            .insert(partition.to_string(), offset);
    }
}

impl OffsetReader for Offsets {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
        self.0
            .lock()
            .expect("offsets")
            .get(&json!(partition).to_string())
            .cloned()
    }
}

fn poll(task: &mut SpoolDirTask) -> Vec<SourceRecord> {
    let mut future = task.poll();
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(r) => r.expect("poll"),
        std::task::Poll::Pending => panic!("poll was not ready"),
    }
}

/// The records of the file: polls until `expected` arrived (or ten seconds passed), then a
/// little longer to catch any extra.
fn poll_file(task: &mut SpoolDirTask, expected: usize) -> Vec<SourceRecord> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < expected && Instant::now() < deadline {
        let batch = poll(task);
        if batch.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        out.extend(batch);
    }
    for _ in 0..20 {
        out.extend(poll(task));
        std::thread::sleep(Duration::from_millis(2));
    }
    out
}

fn envelope(
    converter: &JsonConverter,
    schema: Option<&sluice_connect_api::SchemaRef>,
    value: &Value,
) -> Json {
    match converter
        .from_connect_data("testing", schema, value)
        .expect("JsonConverter")
    {
        Some(bytes) => serde_json::from_slice(&bytes).expect("JSON"),
        None => Json::Null,
    }
}

fn expected_envelope(schema: &Json, payload: &Json) -> Json {
    if schema.is_null() && payload.is_null() {
        Json::Null
    } else {
        json!({"schema": schema, "payload": payload})
    }
}

fn header(record: &SourceRecord, name: &str) -> Option<Value> {
    record.headers.last_with_name(name).map(|h| h.value.clone())
}

fn format_of(folder: &str) -> Format {
    match folder {
        "csv" => Format::Csv,
        "json" => Format::Json,
        "schemalessjson" => Format::SchemaLessJson,
        "linedelimited" => Format::LineDelimited,
        "binary" => Format::Binary,
        "avro" => Format::Avro,
        "elf" => Format::Elf,
        other => panic!("no format for {other}"),
    }
}

/// Runs one case with one of its data files; returns what differed.
fn run(folder: &str, case_name: &str, case: &Json, file: &str) {
    let label = format!("{folder}/{case_name} ({file})");
    let root = tempfile::tempdir().expect("tempdir");
    let make = |name: &str| {
        let p = root.path().join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    };
    let (input, finished, error, staging) = (
        make("input"),
        make("finished"),
        make("error"),
        make("staging"),
    );
    let relative = case["drop_as"]
        .as_str()
        .map_or_else(|| PathBuf::from(file), PathBuf::from);
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("file name");
    if let Some(parent) = relative.parent() {
        std::fs::create_dir_all(input.join(parent)).expect("mkdir");
    }

    let mut props: Props = props_of(&[
        ("name", "cases"),
        ("topic", "testing"),
        ("input.path", &input.display().to_string()),
        ("finished.path", &finished.display().to_string()),
        ("error.path", &error.display().to_string()),
        ("input.file.pattern", ".*"),
        ("empty.poll.wait.ms", "10"),
        ("halt.on.error", "true"),
    ]);
    for (k, v) in case["settings"].as_object().expect("settings") {
        props.insert(k.clone(), v.as_str().expect("string setting").to_string());
    }
    let offsets = Arc::new(Offsets::default());
    let mut task = SpoolDirTask::new(format_of(folder));
    task.start(&props, offsets.clone()).expect("start");

    // Written elsewhere, then renamed in, as spool files should be.
    let staged = staging.join(&name);
    std::fs::copy(Path::new(DATA).join(folder).join(file), &staged).expect("copy");
    let meta = std::fs::metadata(&staged).expect("stat");
    let partition = json!({"fileName": name});
    if let Some(stored) = case["offset"].as_object() {
        let mut offset = stored.clone();
        for (k, v) in offset.iter_mut() {
            *v = match v.as_str() {
                Some("$length") => json!(meta.len()),
                Some("$lastModified") => json!(meta
                    .modified()
                    .expect("mtime")
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("after the epoch")
                    .as_millis() as i64),
                _ => v.clone(),
            };
            let _ = k;
        }
        offsets.set(&partition, offset);
    }
    std::fs::rename(&staged, input.join(&relative)).expect("rename");

    let expected = case["records"].as_array().expect("records");
    let records = poll_file(&mut task, expected.len());
    assert_eq!(records.len(), expected.len(), "{label}: record count");
    let mut converter = JsonConverter::default();
    converter
        .configure(&Props::new(), false)
        .expect("configure");
    for (n, (record, want)) in records.iter().zip(expected).enumerate() {
        let at = format!("{label}, record {n}");
        assert_eq!(
            json!(*record.source_partition),
            partition,
            "{at}: partition"
        );
        assert_eq!(
            record.source_offset.get("offset"),
            Some(want["offset"].clone()),
            "{at}: source offset"
        );
        let offset = want["offset"].as_i64().expect("offset");
        assert_eq!(
            header(record, "file.offset"),
            Some(Value::Int64(offset)),
            "{at}: file.offset"
        );
        assert_eq!(
            header(record, "file.name"),
            Some(Value::String(name.clone())),
            "{at}: file.name"
        );
        assert_eq!(
            header(record, "file.relative.path"),
            Some(Value::String(relative.display().to_string())),
            "{at}: file.relative.path"
        );
        for present in [
            "file.name.without.extension",
            "file.path",
            "file.parent.dir.name",
            "file.length",
            "file.last.modified",
        ] {
            assert!(
                header(record, present).is_some(),
                "{at}: no {present} header"
            );
        }
        assert_eq!(
            envelope(&converter, record.key_schema.as_ref(), &record.key),
            expected_envelope(&case["keySchema"], &want["key"]),
            "{at}: key"
        );
        assert_eq!(
            envelope(&converter, record.value_schema.as_ref(), &record.value),
            expected_envelope(&case["valueSchema"], &want["value"]),
            "{at}: value"
        );
    }

    // Committed: the file is finished, where the case says.
    for record in &records {
        task.commit_record(record).expect("commit_record");
    }
    task.commit().expect("commit");
    let _ = poll(&mut task);
    let keeps_folders = case["settings"]["cleanup.policy.maintain.relative.path"] == "true";
    let target = if keeps_folders {
        finished.join(&relative)
    } else {
        finished.join(&name)
    };
    assert!(
        target.is_file(),
        "{label}: not in finished.path as {}",
        target.display()
    );
    assert!(
        !input.join(&relative).exists(),
        "{label}: still in input.path"
    );
    let mut flag = input.join(&relative).into_os_string();
    flag.push(".PROCESSING");
    assert!(!PathBuf::from(flag).exists(), "{label}: flag left behind");
    assert!(
        std::fs::read_dir(&error)
            .expect("error dir")
            .next()
            .is_none(),
        "{label}: something went to error.path"
    );
    task.stop().expect("stop");
}

fn run_folder(folder: &str) {
    let dir = Path::new(DATA).join(folder);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".case.json"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", dir.display());
    for path in cases {
        let case: Json = serde_json::from_str(&std::fs::read_to_string(&path).expect("read"))
            .expect("case JSON");
        let case_name = path
            .file_name()
            .map(|n| n.to_string_lossy().replace(".case.json", ""))
            .expect("name");
        for file in case["files"].as_array().expect("files") {
            run(folder, &case_name, &case, file.as_str().expect("file"));
        }
    }
}

#[test]
fn csv_cases() {
    run_folder("csv");
}

#[test]
fn json_cases() {
    run_folder("json");
}

#[test]
fn schemaless_json_cases() {
    run_folder("schemalessjson");
}

#[test]
fn line_delimited_cases() {
    run_folder("linedelimited");
}

#[test]
fn binary_cases() {
    run_folder("binary");
}

#[test]
fn avro_cases_with_every_codec_and_union() {
    run_folder("avro");
}

#[test]
fn elf_cases() {
    run_folder("elf");
}
