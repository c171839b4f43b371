//! `FileStreamSinkConnector`: each record's value, in its string form, as one line of a file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;

use sluice_connect_api::{
    BoxFuture, ConfigDef, ConfigType, ConfigValue, ConnectError, Connector, ConnectorContext,
    Importance, Props, Result, SinkConnector, SinkRecord, SinkTask, TopicPartition,
};

fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        "file",
        ConfigType::String,
        Some(""),
        Importance::High,
        "Destination filename. If not specified, the standard output will be used",
    )
}

#[derive(Debug, Default)]
pub struct FileStreamSinkConnector {
    props: Props,
}

impl Connector for FileStreamSinkConnector {
    fn version(&self) -> String {
        super::VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn start(&mut self, props: &Props, _context: Arc<dyn ConnectorContext>) -> Result<()> {
        config_def().parse_or_error(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }

    /// The file holds no offsets of its own: the consumer group's are all there is.
    fn alter_offsets(
        &self,
        _props: &Props,
        _offsets: &[(
            sluice_connect_api::SourceMap,
            Option<sluice_connect_api::SourceMap>,
        )],
    ) -> Result<bool> {
        Ok(true)
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for FileStreamSinkConnector {
    fn new_task(&self) -> Box<dyn SinkTask> {
        Box::new(FileStreamSinkTask::default())
    }
}

/// What the buffer of a put's lines keeps between puts: `consumer.max.poll.records` (500) lines
/// of a few hundred bytes.
const KEPT_BUFFER: usize = 256 * 1024;

#[derive(Default)]
pub struct FileStreamSinkTask {
    out: Option<File>,
    /// A put's lines, written to the file at once.
    lines: String,
}

impl FileStreamSinkTask {
    fn write(&mut self, records: &[SinkRecord]) -> Result<()> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| ConnectError::Fatal("task used before start".into()))?;
        let failed = |e: std::io::Error| ConnectError::Retriable(format!("writing: {e}"));
        // Kafka Connect's file sink writes each line straight through; here a put is one
        // write, and the commit still waits for the disk (`flush`).
        self.lines.clear();
        for record in records {
            record.value.write_java_text(&mut self.lines);
            self.lines.push('\n');
        }
        let written = out.write_all(self.lines.as_bytes()).map_err(failed);
        self.lines.shrink_to(KEPT_BUFFER);
        written
    }
}

impl SinkTask for FileStreamSinkTask {
    /// It writes keys and values only.
    fn reads_headers(&self) -> bool {
        false
    }

    fn start(&mut self, props: &Props) -> Result<()> {
        let parsed = config_def().parse_or_error(props)?;
        let path = match parsed.get("file") {
            Some(ConfigValue::String(f)) if !f.is_empty() => f.clone(),
            _ => {
                return Err(ConnectError::Config {
                    key: "file".into(),
                    message: "writing to standard output is not supported; set a file".into(),
                })
            }
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ConnectError::Config {
                key: "file".into(),
                message: format!("cannot open {path}: {e}"),
            })?;
        self.out = Some(file);
        Ok(())
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>> {
        let result = self.write(&records);
        Box::pin(std::future::ready(result))
    }

    /// Written lines reach the disk before their offsets are committed.
    fn flush(&mut self) -> Result<()> {
        if let Some(out) = self.out.as_ref() {
            out.sync_data()
                .map_err(|e| ConnectError::Retriable(format!("syncing: {e}")))?;
        }
        Ok(())
    }

    fn pre_commit(
        &mut self,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.flush()?;
        Ok(offsets.clone())
    }

    fn stop(&mut self) -> Result<()> {
        self.flush()?;
        self.out = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sluice_connect_api::{Headers, Schema, TimestampType, Value};

    use super::*;

    fn record(value: Value) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 0,
            key_schema: None,
            key: Value::Null,
            value_schema: Some(Schema::optional_string()),
            value,
            timestamp: None,
            timestamp_type: TimestampType::CreateTime,
            headers: Headers::new(),
        }
    }

    #[test]
    fn each_put_reaches_the_file_at_once_and_a_commit_syncs_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.txt");
        let mut task = FileStreamSinkTask::default();
        task.start(&[("file".to_string(), path.display().to_string())].into())
            .expect("start");
        let put = task.put(vec![
            record(Value::String("hello".into())),
            record(Value::Int32(7)),
            record(Value::Null),
        ]);
        drop(put);
        // As Kafka Connect's file sink: a reader of the file sees a put's lines without waiting
        // for the next offset commit (60 s apart by default).
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "hello\n7\nnull\n"
        );
        // The next put adds its own lines only; a timestamp prints as Java's `Date` does.
        drop(task.put(vec![record(Value::Timestamp(1_704_067_200_000))]));
        let both = "hello\n7\nnull\nMon Jan 01 00:00:00 UTC 2024\n";
        assert_eq!(std::fs::read_to_string(&path).expect("read"), both);
        let offsets: BTreeMap<TopicPartition, i64> = [(("t".to_string(), 0), 4)].into();
        assert_eq!(task.pre_commit(&offsets).expect("commit"), offsets);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), both);
        task.stop().expect("stop");
    }
}
