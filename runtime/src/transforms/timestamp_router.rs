//! `org.apache.kafka.connect.transforms.TimestampRouter`: the topic becomes `topic.format` with
//! `${topic}` and `${timestamp}` (the record's timestamp in `timestamp.format`, UTC) filled in.

use sluice_connect_api::time::SimpleDateFormat;
use sluice_connect_api::{
    ConfigDef, ConfigType, ConnectError, ConnectRecord, Importance, Props, Result, Transformation,
    Verdict,
};

use super::support::{invalid, Settings};

#[derive(Default)]
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: Option<SimpleDateFormat>,
}

impl<R: ConnectRecord> Transformation<R> for TimestampRouter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
            .define(
                "topic.format",
                ConfigType::String,
                Some("${topic}-${timestamp}"),
                Importance::High,
                "Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively.",
            )
            .define(
                "timestamp.format",
                ConfigType::String,
                Some("yyyyMMdd"),
                Importance::High,
                "Format string for the timestamp that is compatible with java.text.SimpleDateFormat.",
            )
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let settings = Settings::parse(&Transformation::<R>::config_def(self), props)?;
        self.topic_format = settings.string("topic.format");
        let pattern = settings.string("timestamp.format");
        self.timestamp_format = Some(
            SimpleDateFormat::new(&pattern)
                .map_err(|e| invalid("timestamp.format", &pattern, &e))?,
        );
        Ok(())
    }

    fn apply(&mut self, record: &mut R) -> Result<Verdict> {
        let Some(timestamp) = record.timestamp() else {
            return Err(ConnectError::data(format!(
                "Timestamp missing on record: {}",
                describe(record)
            )));
        };
        let formatted = self
            .timestamp_format
            .as_ref()
            .map(|f| f.format(timestamp, 0))
            .unwrap_or_default();
        let topic = self
            .topic_format
            .replace("${topic}", record.topic())
            .replace("${timestamp}", &formatted);
        record.set_topic(topic);
        Ok(Verdict::Keep)
    }
}

/// Enough of a record to find it: its topic, partition and offset.
fn describe<R: ConnectRecord>(record: &R) -> String {
    let mut out = format!("topic={}", record.topic());
    if let Some(p) = record.kafka_partition() {
        out.push_str(&format!(", partition={p}"));
    }
    if let Some(o) = record.kafka_offset() {
        out.push_str(&format!(", offset={o}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::test_support::Applied;
    use sluice_connect_api::{props_of, SourceMap, SourceRecord, Value};

    fn route(pairs: &[(&str, &str)], timestamp: Option<i64>) -> Result<String> {
        let mut t = TimestampRouter::default();
        Transformation::<SourceRecord>::configure(&mut t, &props_of(pairs))?;
        let mut r = SourceRecord::new(
            SourceMap::new(),
            SourceMap::new(),
            "test",
            None,
            Value::Null,
        );
        r.timestamp = timestamp;
        Ok(t.applied(r)?.expect("kept").topic)
    }

    #[test]
    fn the_topic_takes_the_formatted_timestamp() {
        assert_eq!(
            route(&[], Some(1_483_425_001_864)).expect("default"),
            "test-20170103"
        );
        assert_eq!(
            route(
                &[
                    ("topic.format", "archive_${timestamp}_${topic}_${timestamp}"),
                    ("timestamp.format", "yyyy-MM-dd")
                ],
                Some(0)
            )
            .expect("both"),
            "archive_1970-01-01_test_1970-01-01"
        );
        assert_eq!(
            route(&[], Some(-1)).expect("before the epoch"),
            "test-19691231"
        );
        assert!(route(&[], None)
            .expect_err("no timestamp")
            .message()
            .starts_with("Timestamp missing on record: "));
        assert!(
            route(&[("timestamp.format", "bad")], Some(0)).is_err(),
            "refused when configured"
        );
    }
}
