//! Records as connectors see them: what a source task produces and what a sink task receives.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::headers::Headers;
use crate::offset::SourceOffset;
use crate::schema::SchemaRef;
use crate::value::Value;

/// Where a source record came from (`{"filename": ...}`) and how far reading got
/// (`{"position": ...}`): the maps the worker stores in the offsets topic.
pub type SourceMap = Map<String, Json>;

/// A record from a source task, before transforms and converters. The source partition is
/// shared: the records of one file or table all carry the same one.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source_partition: Arc<SourceMap>,
    pub source_offset: SourceOffset,
    pub topic: String,
    /// None lets the producer's partitioner choose.
    pub kafka_partition: Option<i32>,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    pub timestamp: Option<i64>,
    pub headers: Headers,
}

impl SourceRecord {
    /// A record with no key, headers or timestamp.
    pub fn new(
        source_partition: impl Into<Arc<SourceMap>>,
        source_offset: impl Into<SourceOffset>,
        topic: &str,
        value_schema: Option<SchemaRef>,
        value: Value,
    ) -> Self {
        Self {
            source_partition: source_partition.into(),
            source_offset: source_offset.into(),
            topic: topic.to_string(),
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Headers::new(),
        }
    }

    /// What locates the record, without its key, value or headers: what the worker keeps of a
    /// polled record for `SourceTask::commit_record` when the task reads no more.
    ///
    /// The source partition and offset move to what is returned, and `placeholder` (an empty
    /// map) takes their place here. This record goes on through the transforms to the producer,
    /// which read neither, and is freed on another thread than the position. Had both held
    /// the file's shared maps, each map's reference count would move between the CPUs twice
    /// per record.
    pub fn take_position(&mut self, placeholder: &Arc<SourceMap>) -> Self {
        Self {
            source_partition: std::mem::replace(
                &mut self.source_partition,
                Arc::clone(placeholder),
            ),
            source_offset: std::mem::replace(
                &mut self.source_offset,
                SourceOffset::shared(Arc::clone(placeholder)),
            ),
            topic: self.topic.clone(),
            kafka_partition: self.kafka_partition,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value: Value::Null,
            timestamp: self.timestamp,
            headers: Headers::new(),
        }
    }
}

/// How a sink record's timestamp was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    NoTimestampType,
    CreateTime,
    LogAppendTime,
}

/// A record for a sink task, after converters and transforms.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub topic: String,
    pub kafka_partition: i32,
    pub kafka_offset: i64,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    pub timestamp: Option<i64>,
    pub timestamp_type: TimestampType,
    pub headers: Headers,
}

/// What transforms and predicates see and change, on source and sink records alike (Kafka's
/// `ConnectRecord` getters and `newRecord`): a transform takes a record, changes what it must and
/// returns it.
pub trait ConnectRecord: Clone + Send {
    fn topic(&self) -> &str;
    fn set_topic(&mut self, topic: String);
    /// The partition; for a source record, `None` until something sets one.
    fn kafka_partition(&self) -> Option<i32>;
    /// The record's offset in its partition: sink records only.
    fn kafka_offset(&self) -> Option<i64> {
        None
    }
    fn key_schema(&self) -> Option<&SchemaRef>;
    fn key(&self) -> &Value;
    fn set_key(&mut self, schema: Option<SchemaRef>, key: Value);
    /// The key and its schema, leaving null in their place.
    fn take_key(&mut self) -> (Option<SchemaRef>, Value);
    fn value_schema(&self) -> Option<&SchemaRef>;
    fn value(&self) -> &Value;
    fn set_value(&mut self, schema: Option<SchemaRef>, value: Value);
    /// The value and its schema, leaving null in their place.
    fn take_value(&mut self) -> (Option<SchemaRef>, Value);
    fn timestamp(&self) -> Option<i64>;
    fn set_timestamp(&mut self, timestamp: Option<i64>);
    fn headers(&self) -> &Headers;
    fn headers_mut(&mut self) -> &mut Headers;
}

macro_rules! connect_record {
    ($record:ty, $partition:expr, $offset:expr) => {
        impl ConnectRecord for $record {
            fn topic(&self) -> &str {
                &self.topic
            }
            fn set_topic(&mut self, topic: String) {
                self.topic = topic;
            }
            fn kafka_partition(&self) -> Option<i32> {
                $partition(self)
            }
            fn kafka_offset(&self) -> Option<i64> {
                $offset(self)
            }
            fn key_schema(&self) -> Option<&SchemaRef> {
                self.key_schema.as_ref()
            }
            fn key(&self) -> &Value {
                &self.key
            }
            fn set_key(&mut self, schema: Option<SchemaRef>, key: Value) {
                self.key_schema = schema;
                self.key = key;
            }
            fn take_key(&mut self) -> (Option<SchemaRef>, Value) {
                (
                    self.key_schema.take(),
                    std::mem::replace(&mut self.key, Value::Null),
                )
            }
            fn value_schema(&self) -> Option<&SchemaRef> {
                self.value_schema.as_ref()
            }
            fn value(&self) -> &Value {
                &self.value
            }
            fn set_value(&mut self, schema: Option<SchemaRef>, value: Value) {
                self.value_schema = schema;
                self.value = value;
            }
            fn take_value(&mut self) -> (Option<SchemaRef>, Value) {
                (
                    self.value_schema.take(),
                    std::mem::replace(&mut self.value, Value::Null),
                )
            }
            fn timestamp(&self) -> Option<i64> {
                self.timestamp
            }
            fn set_timestamp(&mut self, timestamp: Option<i64>) {
                self.timestamp = timestamp;
            }
            fn headers(&self) -> &Headers {
                &self.headers
            }
            fn headers_mut(&mut self) -> &mut Headers {
                &mut self.headers
            }
        }
    };
}

connect_record!(SourceRecord, |r: &SourceRecord| r.kafka_partition, |_| None);
connect_record!(
    SinkRecord,
    |r: &SinkRecord| Some(r.kafka_partition),
    |r: &SinkRecord| Some(r.kafka_offset)
);
