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

/// What transforms and predicates may look at, on source and sink records alike.
pub trait ConnectRecord: Clone + Send {
    fn topic(&self) -> &str;
    fn key(&self) -> &Value;
    fn value(&self) -> &Value;
    fn headers(&self) -> &Headers;
}

impl ConnectRecord for SourceRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn key(&self) -> &Value {
        &self.key
    }
    fn value(&self) -> &Value {
        &self.value
    }
    fn headers(&self) -> &Headers {
        &self.headers
    }
}

impl ConnectRecord for SinkRecord {
    fn topic(&self) -> &str {
        &self.topic
    }
    fn key(&self) -> &Value {
        &self.key
    }
    fn value(&self) -> &Value {
        &self.value
    }
    fn headers(&self) -> &Headers {
        &self.headers
    }
}
