//! `FileStreamSourceConnector`: each line of a file becomes a STRING record. Partition
//! `{"filename": <file>}`, offset `{"position": <byte offset after the line>}`; always one task.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use serde_json::json;
use sluice_connect_api::{
    BoxFuture, ConfigDef, ConfigType, ConfigValue, ConnectError, Connector, ConnectorContext,
    Importance, OffsetReader, Props, Result, Schema, SourceConnector, SourceMap, SourceOffset,
    SourceRecord, SourceTask, Validator, Value,
};

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define("file", ConfigType::String, Some(""), Importance::High, "Source filename. If not specified, the standard input will be used")
        .define("topic", ConfigType::List, None, Importance::High, "The topic to publish data to")
        .define("batch.size", ConfigType::Int, Some("2000"), Importance::Low, "The maximum number of records the source task can read from the file each time it is polled")
        .validator(Validator::AtLeast(1.0))
}

#[derive(Debug, Default)]
pub struct FileStreamSourceConnector {
    props: Props,
}

impl Connector for FileStreamSourceConnector {
    fn version(&self) -> String {
        super::VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, props: &Props, _context: Arc<dyn ConnectorContext>) -> Result<()> {
        Settings::parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    /// One task, whatever `tasks.max` says: a file has one reader.
    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }

    /// Offsets must name a file and a non-negative byte position, as Kafka's connector checks.
    fn alter_offsets(
        &self,
        _props: &Props,
        offsets: &[(SourceMap, Option<SourceMap>)],
    ) -> Result<bool> {
        let invalid = |message: &str| ConnectError::Config {
            key: "offsets".into(),
            message: message.into(),
        };
        for (partition, offset) in offsets {
            if !partition.contains_key("filename") {
                return Err(invalid(
                    "Partition objects should contain the key 'filename'",
                ));
            }
            let Some(offset) = offset else { continue };
            let Some(position) = offset.get("position") else {
                return Err(invalid(
                    "Offset objects should either be null or contain the key 'position'",
                ));
            };
            match position.as_i64() {
                Some(p) if p >= 0 => {}
                Some(_) => return Err(invalid(
                    "The value for the 'position' key in the offset should be a non-negative value",
                )),
                None => return Err(invalid(
                    "The value for the 'position' key in the offset is expected to be a Long value",
                )),
            }
        }
        Ok(true)
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for FileStreamSourceConnector {
    fn new_task(&self) -> Box<dyn SourceTask> {
        Box::new(FileStreamSourceTask::default())
    }
}

struct Settings {
    file: String,
    topic: String,
    batch_size: usize,
}

impl Settings {
    fn parse(props: &Props) -> Result<Self> {
        let parsed = config_def().parse_or_error(props)?;
        let file = match parsed.get("file") {
            Some(ConfigValue::String(f)) if !f.is_empty() => f.clone(),
            _ => {
                return Err(ConnectError::Config {
                    key: "file".into(),
                    message: "reading standard input is not supported; set a file".into(),
                })
            }
        };
        let topic = match parsed.get("topic") {
            Some(ConfigValue::List(topics)) if topics.len() == 1 => topics[0].clone(),
            _ => {
                return Err(ConnectError::Config {
                    key: "topic".into(),
                    message: "'topic' in FileStreamSourceConnector configuration requires definition of a single topic"
                        .into(),
                })
            }
        };
        let batch_size = match parsed.get("batch.size") {
            Some(ConfigValue::Int(n)) => *n as usize,
            _ => 2000,
        };
        Ok(Self {
            file,
            topic,
            batch_size,
        })
    }
}

/// The longest line read: Kafka's default `max.request.size`.
const MAX_LINE_BYTES: usize = 1024 * 1024;

#[derive(Default)]
pub struct FileStreamSourceTask {
    settings: Option<Settings>,
    file: Option<File>,
    /// Byte offset of the first unread byte.
    position: u64,
    /// Bytes read past `position` that do not yet end in a newline.
    pending: Vec<u8>,
}

impl FileStreamSourceTask {
    fn partition(file: &str) -> SourceMap {
        let mut map = SourceMap::new();
        map.insert("filename".into(), json!(file));
        map
    }

    /// Reads complete lines, at most `batch_size`, from where the last poll stopped.
    fn read_lines(&mut self) -> Result<Vec<SourceRecord>> {
        let Some(settings) = &self.settings else {
            return Err(ConnectError::Fatal("task polled before start".into()));
        };
        let io =
            |e: std::io::Error| ConnectError::Retriable(format!("reading {}: {e}", settings.file));
        if self.file.is_none() {
            match File::open(&settings.file) {
                Ok(mut f) => {
                    f.seek(SeekFrom::Start(self.position + self.pending.len() as u64))
                        .map_err(io)?;
                    self.file = Some(f);
                }
                // The file may not exist yet; try again on the next poll.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io(e)),
            }
        }
        let mut chunk = vec![0u8; 64 * 1024];
        let mut records = Vec::new();
        let partition = Arc::new(Self::partition(&settings.file));
        // Records share the offset's map and differ only in their position.
        let mut fields = SourceMap::new();
        fields.insert("position".into(), json!(0));
        let fields = Arc::new(fields);
        let schema = Schema::string();
        // One wall-clock reading per poll: the lines of a poll are read together.
        let timestamp = now_ms();
        // Lines are taken from `pending` by a cursor and the buffer is compacted once per poll,
        // so reading stays linear in the bytes read.
        let mut start = 0;
        while records.len() < settings.batch_size {
            if let Some(newline) = memchr::memchr(b'\n', &self.pending[start..]) {
                let line = &self.pending[start..start + newline];
                start += newline + 1;
                self.position += newline as u64 + 1;
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                // Valid text, nearly every line, is checked a word at a time; only an invalid
                // line takes the lossy path, which checks byte by byte.
                let text = match std::str::from_utf8(line) {
                    Ok(text) => text.to_owned(),
                    Err(_) => String::from_utf8_lossy(line).into_owned(),
                };
                let offset = SourceOffset::at(
                    Arc::clone(&fields),
                    "position",
                    i64::try_from(self.position).unwrap_or(i64::MAX),
                );
                let mut record = SourceRecord::new(
                    Arc::clone(&partition),
                    offset,
                    &settings.topic,
                    Some(schema.clone()),
                    Value::String(text),
                );
                record.timestamp = Some(timestamp);
                records.push(record);
                continue;
            }
            if self.pending.len() - start > MAX_LINE_BYTES {
                // Kept in memory until its newline comes: past this it could not be sent anyway.
                return Err(ConnectError::Fatal(format!(
                    "{}: the line at byte {} is longer than {MAX_LINE_BYTES} bytes (Kafka's default max.request.size); FileStreamSource does not read lines that long",
                    settings.file, self.position
                )));
            }
            let file = self
                .file
                .as_mut()
                .ok_or_else(|| ConnectError::Fatal("file not open".into()))?;
            let n = file.read(&mut chunk).map_err(io)?;
            if n == 0 {
                break;
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
        self.pending.drain(..start);
        Ok(records)
    }
}

impl SourceTask for FileStreamSourceTask {
    fn start(&mut self, props: &Props, offsets: Arc<dyn OffsetReader>) -> Result<()> {
        let settings = Settings::parse(props)?;
        let stored = offsets.offset(&Self::partition(&settings.file));
        self.position = stored
            .and_then(|o| o.get("position").and_then(|p| p.as_u64()))
            .unwrap_or(0);
        self.settings = Some(settings);
        Ok(())
    }

    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>> {
        // Reading a local file is quick; the work happens before the future is returned, so
        // dropping the future cannot lose lines already read.
        let result = self.read_lines();
        Box::pin(std::future::ready(result))
    }

    fn stop(&mut self) -> Result<()> {
        self.file = None;
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    struct Stored(Option<u64>);

    impl OffsetReader for Stored {
        fn offset(&self, partition: &SourceMap) -> Option<SourceMap> {
            assert!(partition.contains_key("filename"));
            self.0.map(|p| {
                let mut m = SourceMap::new();
                m.insert("position".into(), json!(p));
                m
            })
        }
    }

    fn props(file: &std::path::Path, batch: &str) -> Props {
        [
            ("file".to_string(), file.display().to_string()),
            ("topic".to_string(), "lines".to_string()),
            ("batch.size".to_string(), batch.to_string()),
        ]
        .into()
    }

    fn poll(task: &mut FileStreamSourceTask) -> Vec<SourceRecord> {
        let fut = task.poll();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = fut;
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r.expect("poll"),
            std::task::Poll::Pending => panic!("file reads are ready at once"),
        }
    }

    /// A task started, with no stored offset, on a file holding `contents`; the directory lives
    /// as long as the returned guard.
    fn started_on(
        contents: &[u8],
    ) -> (tempfile::TempDir, std::path::PathBuf, FileStreamSourceTask) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("in.txt");
        std::fs::write(&path, contents).expect("write");
        let mut task = FileStreamSourceTask::default();
        task.start(&props(&path, "10"), Arc::new(Stored(None)))
            .expect("start");
        (dir, path, task)
    }

    fn values(records: &[SourceRecord]) -> Vec<Value> {
        records.iter().map(|r| r.value.clone()).collect()
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters_and_positions_count_bytes() {
        let (_dir, _, mut task) = started_on(b"caf\xc3\xa9\nbad \xff\xfe end\nok\n");
        let records = poll(&mut task);
        assert_eq!(
            values(&records),
            [
                Value::String("caf\u{e9}".into()),
                Value::String("bad \u{fffd}\u{fffd} end".into()),
                Value::String("ok".into()),
            ]
        );
        assert_eq!(records[1].source_offset.get("position"), Some(json!(17)));
    }

    #[test]
    fn lines_become_records_with_byte_positions_and_partial_lines_wait() {
        let (_dir, path, mut task) = started_on(b"one\r\ntwo\nthr");
        let records = poll(&mut task);
        assert_eq!(
            values(&records),
            [Value::String("one".into()), Value::String("two".into())]
        );
        assert_eq!(records[0].source_offset.get("position"), Some(json!(5)));
        assert_eq!(records[1].source_offset.get("position"), Some(json!(9)));
        assert_eq!(
            records[1].source_partition["filename"],
            json!(path.display().to_string())
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open")
            .write_all(b"ee\n")
            .expect("append");
        let records = poll(&mut task);
        assert_eq!(records[0].value, Value::String("three".into()));
        assert_eq!(records[0].source_offset.get("position"), Some(json!(15)));
    }

    #[test]
    fn a_restarted_task_resumes_from_its_stored_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "a\nb\nc\n").expect("write");
        let mut task = FileStreamSourceTask::default();
        task.start(&props(&path, "1"), Arc::new(Stored(Some(2))))
            .expect("start");
        assert_eq!(
            poll(&mut task)[0].value,
            Value::String("b".into()),
            "batch.size 1, resuming after 'a'"
        );
        assert_eq!(poll(&mut task)[0].value, Value::String("c".into()));
        assert!(poll(&mut task).is_empty());
    }

    #[test]
    fn configs_are_checked() {
        let mut c = FileStreamSourceConnector::default();
        struct Ctx;
        impl ConnectorContext for Ctx {
            fn request_task_reconfiguration(&self) {}
            fn raise_error(&self, _error: ConnectError) {}
        }
        let two_topics: Props = [
            ("file".to_string(), "/x".to_string()),
            ("topic".to_string(), "a,b".to_string()),
        ]
        .into();
        let err = c.start(&two_topics, Arc::new(Ctx)).expect_err("two topics");
        assert!(err.to_string().contains("single topic"), "{err}");
        let good: Props = [
            ("file".to_string(), "/x".to_string()),
            ("topic".to_string(), "a".to_string()),
        ]
        .into();
        c.start(&good, Arc::new(Ctx)).expect("start");
        assert_eq!(c.task_configs(10).expect("tasks").len(), 1);
    }
}
