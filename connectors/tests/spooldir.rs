//! The spooldir task on real directories, without a broker: what it reads from each format and
//! compression, where files go and when, resuming, flags left by a crash, and errors.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;
use sluice_connect_api::{
    props_of, Connector, OffsetReader, Props, SourceMap, SourceRecord, SourceTask, Value,
};
use sluice_connectors::spooldir::{Format, SpoolDirConnector, SpoolDirTask};

/// Offsets as the worker would store them: the latest per partition, set by the test.
#[derive(Default)]
struct Offsets(Mutex<HashMap<String, SourceMap>>);

impl Offsets {
    fn store(&self, records: &[SourceRecord]) {
        let mut map = self.0.lock().expect("offsets");
        for r in records {
            map.insert(
                json!(*r.source_partition).to_string(),
                r.source_offset.to_map(),
            );
        }
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

struct Dirs {
    _root: tempfile::TempDir,
    input: PathBuf,
    finished: PathBuf,
    error: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().expect("tempdir");
    let make = |name: &str| {
        let p = root.path().join(name);
        std::fs::create_dir(&p).expect("mkdir");
        p
    };
    Dirs {
        input: make("input"),
        finished: make("finished"),
        error: make("error"),
        _root: root,
    }
}

fn config(d: &Dirs, pattern: &str, extra: &[(&str, &str)]) -> Props {
    let mut props = props_of(&[
        ("name", "spool"),
        ("topic", "spool"),
        ("input.path", &d.input.display().to_string()),
        ("finished.path", &d.finished.display().to_string()),
        ("error.path", &d.error.display().to_string()),
        ("input.file.pattern", pattern),
        ("empty.poll.wait.ms", "1"),
    ]);
    props.extend(props_of(extra));
    props
}

fn start(format: Format, props: &Props, offsets: Arc<Offsets>) -> SpoolDirTask {
    let mut task = SpoolDirTask::new(format);
    task.start(props, offsets).expect("start");
    task
}

/// The poll futures are ready at once; run one to completion.
fn poll(task: &mut SpoolDirTask) -> sluice_connect_api::Result<Vec<SourceRecord>> {
    let mut future = task.poll();
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => panic!("poll was not ready"),
    }
}

/// Polls until `count` records came, or for a few seconds: files written just before are read
/// once they have been quiet for a second (see `readiness`).
fn poll_records(task: &mut SpoolDirTask, count: usize) -> Vec<SourceRecord> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while out.len() < count && std::time::Instant::now() < deadline {
        let batch = poll(task).expect("poll");
        if batch.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        out.extend(batch);
    }
    out
}

/// Polls until a writer sets `closing`, which it does while its file is still open, just before
/// it closes it. Returns what was read while the file was open for sure, and what a poll that the
/// close may have overlapped read (a read of a closed file, which is allowed).
fn poll_until_closing(
    task: &mut SpoolDirTask,
    closing: &std::sync::atomic::AtomicBool,
) -> (Vec<SourceRecord>, Vec<SourceRecord>) {
    let is_open = || !closing.load(std::sync::atomic::Ordering::SeqCst);
    let (mut early, mut overlapping) = (Vec::new(), Vec::new());
    while is_open() {
        let polled = poll(task).expect("poll");
        if is_open() {
            early.extend(polled);
        } else {
            overlapping.extend(polled);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (early, overlapping)
}

/// Acknowledges and commits records as the worker does after Kafka took them.
fn commit(task: &mut SpoolDirTask, offsets: &Offsets, records: &[SourceRecord]) {
    for r in records {
        task.commit_record(r).expect("commit_record");
    }
    offsets.store(records);
    task.commit().expect("commit");
}

fn values(records: &[SourceRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| match &r.value {
            Value::String(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn write_lines(path: &Path, from: usize, to: usize) {
    let mut f = std::fs::File::create(path).expect("create");
    for i in from..to {
        writeln!(f, "line {i}").expect("write");
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn files_finish_only_after_their_offsets_are_committed() {
    let d = dirs();
    write_lines(&d.input.join("a.txt"), 0, 3);
    write_lines(&d.input.join("b.txt"), 3, 5);
    std::fs::write(d.input.join("ignored.csv"), "x\n").expect("write");
    let offsets = Arc::new(Offsets::default());
    let mut task = start(
        Format::LineDelimited,
        &config(&d, ".*\\.txt", &[]),
        offsets.clone(),
    );
    let first = poll_records(&mut task, 3);
    assert_eq!(values(&first), ["line 0", "line 1", "line 2"]);
    assert_eq!(
        *first[0].source_partition,
        json!({"fileName": "a.txt"})
            .as_object()
            .cloned()
            .expect("map")
    );
    assert_eq!(first[2].source_offset.get("offset"), Some(json!(3)));
    let header = |r: &SourceRecord, k: &str| r.headers.last_with_name(k).map(|h| h.value.clone());
    assert_eq!(
        header(&first[1], "file.name"),
        Some(Value::String("a.txt".into()))
    );
    assert_eq!(header(&first[1], "file.offset"), Some(Value::Int64(2)));
    assert_eq!(
        header(&first[1], "file.name.without.extension"),
        Some(Value::String("a".into()))
    );
    assert!(matches!(
        header(&first[1], "file.last.modified"),
        Some(Value::Timestamp(_))
    ));

    // Read to the end but not committed: still in place, flagged.
    let second = poll_records(&mut task, 2);
    assert_eq!(values(&second), ["line 3", "line 4"]);
    assert!(d.input.join("a.txt").exists(), "not committed yet");
    assert!(d.input.join("a.txt.PROCESSING").exists());
    assert!(listing(&d.finished).is_empty());

    commit(&mut task, &offsets, &first);
    assert_eq!(listing(&d.finished), ["a.txt"]);
    assert!(
        d.input.join("b.txt").exists(),
        "b's records are not committed"
    );
    commit(&mut task, &offsets, &second);
    assert_eq!(listing(&d.finished), ["a.txt", "b.txt"]);
    assert_eq!(
        listing(&d.input),
        ["ignored.csv"],
        "flags removed, the unmatched file left"
    );
    task.stop().expect("stop");
}

#[test]
fn a_crash_resumes_from_the_stored_offset_and_flags_are_recovered() {
    let d = dirs();
    write_lines(&d.input.join("big.txt"), 0, 10);
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.txt", &[("batch.size", "4")]);
    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    let batch = poll_records(&mut task, 4);
    commit(&mut task, &offsets, &batch);
    // The process dies here: no stop, the flag stays.
    drop(task);
    assert!(d.input.join("big.txt.PROCESSING").exists());

    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    let note = task.take_status_note().expect("the recovery is reported");
    assert!(note.contains("recovered"), "{note}");
    let rest = poll_records(&mut task, 6);
    assert_eq!(
        values(&rest),
        (4..10).map(|i| format!("line {i}")).collect::<Vec<_>>()
    );
    commit(&mut task, &offsets, &rest);
    assert_eq!(listing(&d.finished), ["big.txt"]);

    // A new file under the old name is read in full.
    write_lines(&d.input.join("big.txt"), 100, 103);
    let again = poll_records(&mut task, 3);
    assert_eq!(values(&again), ["line 100", "line 101", "line 102"]);
    task.stop().expect("stop");
    assert!(
        !d.input.join("big.txt.PROCESSING").exists(),
        "a clean stop removes the flag"
    );
}

#[test]
fn compressed_inputs_are_read_on_the_fly() {
    let d = dirs();
    let text: String = (0..50).map(|i| format!("row {i}\n")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("gz");
    std::fs::write(d.input.join("a.txt.gz"), gz.finish().expect("gz")).expect("write");
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(text.as_bytes()).expect("bz2");
    std::fs::write(d.input.join("b.txt.bz2"), bz.finish().expect("bz2")).expect("write");
    let mut lz = lz4::EncoderBuilder::new().build(Vec::new()).expect("lz4");
    lz.write_all(text.as_bytes()).expect("lz4");
    let (lz_bytes, done) = lz.finish();
    done.expect("lz4");
    std::fs::write(d.input.join("c.txt.lz4"), lz_bytes).expect("write");
    let mut sn = snap::write::FrameEncoder::new(Vec::new());
    sn.write_all(text.as_bytes()).expect("snappy");
    std::fs::write(
        d.input.join("d.txt.snappy"),
        sn.into_inner().expect("snappy"),
    )
    .expect("write");
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.txt\\..*", &[("batch.size", "1000")]);
    let mut task = start(Format::LineDelimited, &props, offsets);
    let records = poll_records(&mut task, 200);
    let expected: Vec<String> = (0..4)
        .flat_map(|_| (0..50).map(|i| format!("row {i}")))
        .collect();
    assert_eq!(values(&records), expected);
    task.stop().expect("stop");
}

/// The lines the `.Z` fixtures hold (made with ncompress's `compress -b 10` and `-b 16`).
fn z_fixture_text() -> String {
    let words = [
        "alpha", "beta", "gamma", "delta", "spool", "kafka", "line", "river", "stone", "cloud",
    ];
    (0..3000)
        .map(|i: usize| {
            let row: Vec<&str> = (0..8)
                .map(|j| words[(i * 7 + j * 3 + i / 10) % 10])
                .collect();
            format!("{i:05} {}\n", row.join(" "))
        })
        .collect()
}

#[test]
fn unix_compress_files_decode_with_widening_and_cleared_tables() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for name in ["lines-b10.txt.Z", "lines-b16.txt.Z"] {
        let file = std::fs::File::open(fixtures.join(name)).expect("fixture");
        let decoded = sluice_connectors::spooldir::unlzw(file).expect("decode");
        assert_eq!(
            String::from_utf8(decoded).expect("utf-8"),
            z_fixture_text(),
            "{name}"
        );
    }
    let err = sluice_connectors::spooldir::unlzw(&b"\x1f\x9d\x90\xff\xff\xff\xff"[..]);
    assert!(err.is_err(), "corrupt data is an error, not a panic");
}

fn csv_schema() -> &'static str {
    r#"{"name":"com.example.Order","type":"STRUCT","isOptional":false,"fieldSchemas":{
        "id":{"type":"INT64","isOptional":false},
        "customer":{"type":"STRING","isOptional":true},
        "amount":{"name":"org.apache.kafka.connect.data.Decimal","type":"BYTES","isOptional":true,"parameters":{"scale":"2"}},
        "paid":{"type":"BOOLEAN","isOptional":true},
        "at":{"name":"org.apache.kafka.connect.data.Timestamp","type":"INT64","isOptional":false}}}"#
}

#[test]
fn csv_rows_become_typed_structs_and_bad_rows_are_set_aside_with_a_reason() {
    let d = dirs();
    std::fs::write(
        d.input.join("orders.csv"),
        "id,customer,amount,paid,at\n1,\"Smith, J\",10.50,true,2023-11-14T22:13:20\n2,,7,false,2023-11-14 22:13:21\n",
    )
    .expect("write");
    std::fs::write(
        d.input.join("orders2.csv"),
        "id,customer,amount,paid,at\n3,x,1.00,true,2023-11-14T22:13:20\nfour,y,2.00,true,2023-11-14T22:13:20\n5,z,3,true,2023-11-14T22:13:20\n",
    )
    .expect("write");
    let offsets = Arc::new(Offsets::default());
    let props = config(
        &d,
        ".*\\.csv",
        &[
            ("value.schema", csv_schema()),
            (
                "key.schema",
                r#"{"name":"com.example.Key","type":"STRUCT","isOptional":false,"fieldSchemas":{"id":{"type":"INT64","isOptional":false}}}"#,
            ),
            ("csv.first.row.as.header", "true"),
            ("csv.null.field.indicator", "EMPTY_SEPARATORS"),
            ("halt.on.error", "false"),
            ("timestamp.mode", "FIELD"),
            ("timestamp.field", "at"),
        ],
    );
    let mut task = start(Format::Csv, &props, offsets.clone());
    let records = poll_records(&mut task, 3);
    assert_eq!(
        records.len(),
        3,
        "two good rows, then the one before the bad row"
    );
    let Value::Struct(first) = &records[0].value else {
        panic!("not a struct: {:?}", records[0].value);
    };
    assert_eq!(first.get("id").ok(), Some(&Value::Int64(1)));
    assert_eq!(
        first.get("customer").ok(),
        Some(&Value::String("Smith, J".into()))
    );
    assert_eq!(
        first.get("amount").ok(),
        Some(&Value::Decimal(sluice_connect_api::Decimal {
            unscaled: 1050,
            scale: 2
        }))
    );
    assert_eq!(first.get("paid").ok(), Some(&Value::Boolean(true)));
    assert_eq!(records[0].timestamp, Some(1_700_000_000_000));
    let Value::Struct(key) = &records[0].key else {
        panic!("no key struct");
    };
    assert_eq!(key.get("id").ok(), Some(&Value::Int64(1)));
    let Value::Struct(second) = &records[1].value else {
        panic!("not a struct");
    };
    assert_eq!(
        second.get("customer").ok(),
        Some(&Value::Null),
        "empty separators are null"
    );
    assert_eq!(records[1].source_offset.get("offset"), Some(json!(2)));

    let note = task.take_status_note().expect("the bad file is reported");
    assert!(
        note.contains("orders2.csv") && note.contains("line 3") && note.contains("field 'id'"),
        "{note}"
    );
    assert!(
        note.contains("1 record(s) from this file had been produced"),
        "{note}"
    );
    commit(&mut task, &offsets, &records);
    assert_eq!(listing(&d.finished), ["orders.csv"]);
    assert_eq!(listing(&d.error), ["orders2.csv", "orders2.csv.error.txt"]);
    let sidecar = std::fs::read_to_string(d.error.join("orders2.csv.error.txt")).expect("sidecar");
    assert!(
        sidecar.contains("line 3: field 'id': 'four' is not a valid INT64"),
        "{sidecar}"
    );
    task.stop().expect("stop");
}

#[test]
fn halt_on_error_fails_the_task_with_the_reason() {
    let d = dirs();
    std::fs::write(
        d.input.join("bad.csv"),
        "1,a,1,true,2023-11-14T22:13:20\nnope\n",
    )
    .expect("write");
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.csv", &[("value.schema", csv_schema())]);
    let mut task = start(Format::Csv, &props, offsets.clone());
    let first = poll_records(&mut task, 1);
    assert_eq!(first.len(), 1, "the good row goes out first");
    let err = poll(&mut task).expect_err("then the task fails");
    assert!(err.to_string().contains("bad.csv: line 2"), "{err}");
    commit(&mut task, &offsets, &first);
    assert_eq!(listing(&d.error), ["bad.csv", "bad.csv.error.txt"]);
}

#[test]
fn json_schemaless_json_binary_and_avro_files() {
    let d = dirs();
    std::fs::write(
        d.input.join("a.json"),
        r#"{"id":1,"name":"x","extra":true} {"id":2,"name":null}"#,
    )
    .expect("write");
    let schema = r#"{"name":"com.example.V","type":"STRUCT","isOptional":false,"fieldSchemas":{"id":{"type":"INT32","isOptional":false},"name":{"type":"STRING","isOptional":true}}}"#;
    let offsets = Arc::new(Offsets::default());
    let mut json_task = start(
        Format::Json,
        &config(&d, ".*\\.json", &[("value.schema", schema)]),
        offsets.clone(),
    );
    let records = poll_records(&mut json_task, 2);
    let Value::Struct(second) = &records[1].value else {
        panic!("not a struct");
    };
    assert_eq!(second.get("id").ok(), Some(&Value::Int32(2)));
    assert_eq!(second.get("name").ok(), Some(&Value::Null));
    json_task.stop().expect("stop");

    std::fs::write(d.input.join("b.jsonl"), "{\"a\": [1, 2]}\n{\"b\":\"c\"}\n").expect("write");
    let mut schemaless = start(
        Format::SchemaLessJson,
        &config(&d, ".*\\.jsonl", &[]),
        offsets.clone(),
    );
    assert_eq!(
        values(&poll_records(&mut schemaless, 2)),
        [r#"{"a":[1,2]}"#, r#"{"b":"c"}"#]
    );
    schemaless.stop().expect("stop");

    std::fs::write(d.input.join("c.bin"), [0u8, 1, 2, 255]).expect("write");
    let mut binary = start(
        Format::Binary,
        &config(&d, ".*\\.bin", &[]),
        offsets.clone(),
    );
    let records = poll_records(&mut binary, 1);
    assert_eq!(records[0].value, Value::Bytes(vec![0, 1, 2, 255]));
    assert_eq!(records[0].source_offset.get("offset"), Some(json!(0)));
    commit(&mut binary, &offsets, &records);
    assert!(d.finished.join("c.bin").exists());
    binary.stop().expect("stop");

    let avro_schema = apache_avro::Schema::parse_str(
        r#"{"type":"record","name":"Reading","namespace":"com.example","fields":[
            {"name":"sensor","type":"string"},
            {"name":"value","type":["null","double"]},
            {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#,
    )
    .expect("avro schema");
    let mut writer = apache_avro::Writer::new(&avro_schema, Vec::new());
    for (i, v) in [Some(1.5), None].into_iter().enumerate() {
        let mut r = apache_avro::types::Record::new(&avro_schema).expect("record");
        r.put("sensor", format!("s{i}"));
        r.put("value", v);
        r.put(
            "at",
            apache_avro::types::Value::TimestampMillis(1_700_000_000_000 + i as i64),
        );
        writer.append(r).expect("append");
    }
    std::fs::write(d.input.join("d.avro"), writer.into_inner().expect("avro")).expect("write");
    let mut avro = start(Format::Avro, &config(&d, ".*\\.avro", &[]), offsets);
    let records = poll_records(&mut avro, 2);
    let schema = records[0].value_schema.clone().expect("schema");
    assert_eq!(schema.name.as_deref(), Some("com.example.Reading"));
    let Value::Struct(first) = &records[0].value else {
        panic!("not a struct");
    };
    assert_eq!(first.get("value").ok(), Some(&Value::Float64(1.5)));
    assert_eq!(
        first.get("at").ok(),
        Some(&Value::Timestamp(1_700_000_000_000))
    );
    let Value::Struct(second) = &records[1].value else {
        panic!("not a struct");
    };
    assert_eq!(second.get("value").ok(), Some(&Value::Null));
    avro.stop().expect("stop");
}

#[test]
fn tasks_split_files_and_configs_are_checked() {
    let d = dirs();
    for i in 0..20 {
        write_lines(&d.input.join(format!("f{i}.txt")), i, i + 1);
    }
    let mut connector = SpoolDirConnector::new(Format::LineDelimited);
    let props = config(&d, ".*\\.txt", &[]);
    struct Quiet;
    impl sluice_connect_api::ConnectorContext for Quiet {
        fn request_task_reconfiguration(&self) {}
        fn raise_error(&self, _error: sluice_connect_api::ConnectError) {}
    }
    connector.start(&props, Arc::new(Quiet)).expect("start");
    // Four tasks: the original's adler32-by-name split gives each of these names a task.
    let configs = connector.task_configs(4).expect("configs");
    assert_eq!(configs.len(), 4);
    let mut seen = Vec::new();
    for c in &configs {
        let mut task = start(Format::LineDelimited, c, Arc::new(Offsets::default()));
        let records = poll_records(&mut task, 20);
        assert!(
            !records.is_empty() && records.len() < 20,
            "{} records",
            records.len()
        );
        seen.extend(values(&records));
        task.stop().expect("stop");
    }
    seen.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    expected.sort();
    assert_eq!(seen, expected, "every file read by exactly one task");

    let missing = config(&d, ".*", &[("error.path", "/no/such/dir")]);
    let errors = connector.validate_config(&missing);
    assert_eq!(
        errors,
        [(
            "error.path".to_string(),
            "error.path: path '/no/such/dir' does not exist".to_string()
        )]
    );
    let file_not_dir = config(
        &d,
        ".*",
        &[("input.path", &d.input.join("f1.txt").display().to_string())],
    );
    assert!(connector.validate_config(&file_not_dir)[0]
        .1
        .contains("is not a directory"));
    let no_finished = config(&d, ".*", &[("finished.path", "")]);
    assert_eq!(
        connector.validate_config(&no_finished)[0].0,
        "finished.path"
    );
    let csv = SpoolDirConnector::new(Format::Csv);
    assert_eq!(
        csv.validate_config(&config(&d, ".*", &[]))[0].0,
        "value.schema"
    );
    assert_eq!(
        csv.validate_config(&config(
            &d,
            ".*",
            &[("value.schema", "{\"type\":\"STRUCTURE\"}")]
        ))[0]
            .0,
        "value.schema"
    );
}

#[test]
fn schemaless_json_resumes_from_its_stored_offset_too() {
    let d = dirs();
    let objects: String = (0..5).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    std::fs::write(d.input.join("a.json"), objects).expect("write");
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.json", &[("batch.size", "2")]);
    let mut task = start(Format::SchemaLessJson, &props, offsets.clone());
    let first = poll_records(&mut task, 2);
    assert_eq!(values(&first), [r#"{"n":0}"#, r#"{"n":1}"#]);
    commit(&mut task, &offsets, &first);
    // A crash: the task is gone without a stop. The original would send all five again.
    drop(task);
    let mut task = start(Format::SchemaLessJson, &props, offsets.clone());
    let rest = poll_records(&mut task, 3);
    assert_eq!(values(&rest), [r#"{"n":2}"#, r#"{"n":3}"#, r#"{"n":4}"#]);
    commit(&mut task, &offsets, &rest);
    assert_eq!(listing(&d.finished), ["a.json"]);
    task.stop().expect("stop");
}

fn set_mtime(path: &Path, ms_since_epoch: u64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms_since_epoch);
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(time)
        .expect("set mtime");
}

#[test]
fn move_by_date_recursive_walking_and_minimum_age() {
    let d = dirs();
    // MOVEBYDATE files go under finished.path/<yyyy-MM-dd of the file's mtime>/.
    write_lines(&d.input.join("old.txt"), 0, 1);
    set_mtime(&d.input.join("old.txt"), 1_700_000_000_000);
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.txt", &[("cleanup.policy", "MOVEBYDATE")]);
    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    let records = poll_records(&mut task, 1);
    commit(&mut task, &offsets, &records);
    assert!(
        d.finished.join("2023-11-14").join("old.txt").exists(),
        "{:?}",
        listing(&d.finished)
    );
    task.stop().expect("stop");

    // Sub-directories are walked; their path is a header and is kept under finished.path.
    let sub = d.input.join("region").join("eu");
    std::fs::create_dir_all(&sub).expect("mkdir");
    write_lines(&sub.join("deep.txt"), 5, 7);
    let props = config(
        &d,
        ".*\\.txt",
        &[
            ("input.path.walk.recursively", "true"),
            ("cleanup.policy.maintain.relative.path", "true"),
        ],
    );
    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    let records = poll_records(&mut task, 2);
    assert_eq!(values(&records), ["line 5", "line 6"]);
    let relative = records[0]
        .headers
        .last_with_name("file.relative.path")
        .map(|h| h.value.clone());
    // As the original gives it: the path below input.path, the file's name included.
    assert_eq!(relative, Some(Value::String("region/eu/deep.txt".into())));
    commit(&mut task, &offsets, &records);
    assert!(d.finished.join("region/eu/deep.txt").exists());
    task.stop().expect("stop");

    // A file younger than file.minimum.age.ms waits; once old enough it is read.
    write_lines(&d.input.join("fresh.txt"), 9, 10);
    let props = config(&d, "fresh\\.txt", &[("file.minimum.age.ms", "3600000")]);
    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    assert!(
        poll_records(&mut task, 1).is_empty(),
        "still being written, as far as we know"
    );
    set_mtime(&d.input.join("fresh.txt"), 1_700_000_000_000);
    assert_eq!(values(&poll_records(&mut task, 1)), ["line 9"]);
    task.stop().expect("stop");
}

/// A file written in place by a slow writer is read only once its writer closed it, even with
/// `file.minimum.age.ms=0` and pauses between writes longer than a poll interval.
#[test]
fn a_file_still_being_written_is_not_read_until_its_writer_closes_it() {
    let d = dirs();
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.txt", &[("file.minimum.age.ms", "0")]);
    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    let path = d.input.join("slow.txt");
    // The writer's thread ends only after it closed the file: `closing` marks the close itself.
    let closing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = std::thread::spawn({
        let closing = Arc::clone(&closing);
        move || {
            let mut file = std::fs::File::create(path).expect("create");
            for i in 0..8 {
                writeln!(file, "line {i}").expect("write");
                file.flush().expect("flush");
                // Longer than the task's quiet period between some writes.
                let pause = if i % 3 == 2 { 1_300 } else { 150 };
                std::thread::sleep(std::time::Duration::from_millis(pause));
            }
            closing.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(file);
        }
    });
    let (early, mut records) = poll_until_closing(&mut task, &closing);
    writer.join().expect("writer");
    assert!(
        early.is_empty(),
        "read while being written: {:?}",
        values(&early)
    );
    let rest = 8 - records.len().min(8);
    records.extend(poll_records(&mut task, rest));
    assert_eq!(
        values(&records),
        (0..8).map(|i| format!("line {i}")).collect::<Vec<_>>()
    );
    commit(&mut task, &offsets, &records);
    assert_eq!(listing(&d.finished), ["slow.txt"]);
    task.stop().expect("stop");
}

/// A file that grows between listing and opening is left for the next listing, and one a writer
/// still holds open when the task starts (nothing heard of it yet) is read once it is complete.
#[test]
fn a_file_being_written_when_the_task_starts_waits_for_its_writer() {
    let d = dirs();
    let path = d.input.join("started.txt");
    let mut file = std::fs::File::create(&path).expect("create");
    writeln!(file, "line 0").expect("write");
    file.flush().expect("flush");
    let offsets = Arc::new(Offsets::default());
    let props = config(&d, ".*\\.txt", &[]);
    let mut task = start(Format::LineDelimited, &props, offsets.clone());
    let closing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = std::thread::spawn({
        let closing = Arc::clone(&closing);
        move || {
            for i in 1..6 {
                std::thread::sleep(std::time::Duration::from_millis(300));
                writeln!(file, "line {i}").expect("write");
                file.flush().expect("flush");
            }
            closing.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(file);
        }
    });
    let (early, mut records) = poll_until_closing(&mut task, &closing);
    writer.join().expect("writer");
    assert!(early.is_empty(), "read early: {:?}", values(&early));
    let rest = 6 - records.len().min(6);
    records.extend(poll_records(&mut task, rest));
    assert_eq!(records.len(), 6, "{:?}", values(&records));
    task.stop().expect("stop");
}
