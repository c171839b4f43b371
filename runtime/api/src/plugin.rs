//! The traits plugins implement: connectors and their tasks, converters, header converters,
//! transformations and predicates. The worker drives them; they never see Kafka clients.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::ConfigDef;
use crate::error::{ConnectError, Result};
use crate::record::{SinkRecord, SourceMap, SourceRecord};
use crate::schema::SchemaRef;
use crate::value::Value;

/// A boxed, sendable future: what async trait methods return so plugins stay object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// String properties, as connector configs are.
pub type Props = BTreeMap<String, String>;

/// Props from literal pairs, for tests and examples.
pub fn props_of(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A topic partition.
pub type TopicPartition = (String, i32);

/// What a connector may ask of the worker.
pub trait ConnectorContext: Send + Sync {
    /// The connector's inputs changed: ask it for task configs again.
    fn request_task_reconfiguration(&self);
    /// The connector cannot go on; the worker marks it FAILED with this error.
    fn raise_error(&self, error: ConnectError);
}

/// Reads the offsets the worker stored for a source partition.
pub trait OffsetReader: Send + Sync {
    fn offset(&self, partition: &SourceMap) -> Option<SourceMap>;
}

/// Shared behaviour of source and sink connectors.
pub trait Connector: Send {
    fn version(&self) -> String;
    fn config_def(&self) -> ConfigDef;
    fn start(&mut self, props: &Props, context: Arc<dyn ConnectorContext>) -> Result<()>;
    /// Configs for up to `max_tasks` tasks.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>>;
    fn stop(&mut self) -> Result<()>;
    /// Checks beyond each key's own type and validator: keys that depend on each other, paths
    /// that must exist. Each error names its key. Validate reports them, and create refuses them.
    fn validate_config(&self, _props: &Props) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Checks offsets a user sets through the REST API before the worker stores them (`None`
    /// resets a partition). Returns true when the connector vouches for them (Kafka's
    /// `alterOffsets`); false means only the framework's copy changes.
    fn alter_offsets(
        &self,
        _props: &Props,
        _offsets: &[(SourceMap, Option<SourceMap>)],
    ) -> Result<bool> {
        Ok(false)
    }
}

pub trait SourceConnector: Connector {
    fn new_task(&self) -> Box<dyn SourceTask>;
}

pub trait SinkConnector: Connector {
    fn new_task(&self) -> Box<dyn SinkTask>;
}

pub trait SourceTask: Send {
    fn start(&mut self, props: &Props, offsets: Arc<dyn OffsetReader>) -> Result<()>;
    /// The next records, or none for now. Must be cancel-safe: the worker may drop the future
    /// to stop the task, and no record may be lost by that.
    fn poll(&mut self) -> BoxFuture<'_, Result<Vec<SourceRecord>>>;
    /// A record was acknowledged by Kafka, or dropped by a transform or the error policy.
    /// Unless [`SourceTask::commit_record_reads_data`] says otherwise, the record given here
    /// holds what locates it (topic, Kafka partition, source partition and offset, timestamp)
    /// but not its key, value or headers.
    fn commit_record(&mut self, _record: &SourceRecord) -> Result<()> {
        Ok(())
    }
    /// Whether `commit_record` reads the key, value or headers of the record as polled. Kafka
    /// Connect hands `commitRecord` the whole record from before the transforms; keeping that
    /// costs a copy of every record a transform changes, so the worker keeps one only for a task
    /// that says it needs it.
    fn commit_record_reads_data(&self) -> bool {
        false
    }
    /// Offsets up to here were stored.
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
    /// Something users should see in the task's status while it keeps running (a file set
    /// aside, say); taken once. The worker shows it as the task's `trace`.
    fn take_status_note(&mut self) -> Option<String> {
        None
    }
    fn stop(&mut self) -> Result<()>;
}

/// A record a sink task asks the worker to write to Kafka (the HTTP sink's result and error
/// topics): bytes as they go on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Writes records to Kafka for a sink task, with the worker's producer: plugins never hold
/// Kafka clients.
pub trait Reporter: Send + Sync {
    /// Resolves once Kafka stored every record.
    fn report(&self, records: Vec<Report>) -> BoxFuture<'static, Result<()>>;
}

pub trait SinkTask: Send {
    /// Called before `start` with the worker's reporter, for tasks that write results to topics.
    fn set_reporter(&mut self, _reporter: Arc<dyn Reporter>) {}
    fn start(&mut self, props: &Props) -> Result<()>;
    fn open(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }
    fn put(&mut self, records: Vec<SinkRecord>) -> BoxFuture<'_, Result<()>>;
    /// Offsets (next to read) that are safe to commit, given what was put so far. The default
    /// flushes and commits everything.
    fn pre_commit(
        &mut self,
        offsets: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.flush()?;
        Ok(offsets.clone())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn close(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }
    fn stop(&mut self) -> Result<()>;
    /// Whether `put` reads its records' headers. Kafka Connect converts every record's headers
    /// whether anything reads them or not, and for a topic whose records carry several that is
    /// much of a sink's work. A task that never reads them answers false: then, when the
    /// connector has no transforms and its header converter cannot fail, the worker does not
    /// convert them and the task's records arrive with none.
    fn reads_headers(&self) -> bool {
        true
    }
}

/// Turns Connect data into bytes and back (`org.apache.kafka.connect.storage.Converter`).
pub trait Converter: Send + Sync {
    /// The converter's own keys (given without the `value.converter.` prefix).
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _props: &Props, _is_key: bool) -> Result<()> {
        Ok(())
    }
    // Kafka's method name, kept so connector authors find it.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_data(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>>;
    fn to_connect_data(
        &self,
        topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)>;
    /// The bytes `from_connect_data` would return when they are `value`'s own (a string's text,
    /// a byte array), lent instead of copied: the worker hands them to the producer as they
    /// are. None means "call `from_connect_data`", which also reports any error.
    fn lend_bytes<'v>(&self, _schema: Option<&SchemaRef>, _value: &'v Value) -> Option<&'v [u8]> {
        None
    }
}

/// Turns header values into bytes and back.
pub trait HeaderConverter: Send + Sync {
    fn configure(&mut self, props: &Props) -> Result<()>;
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_header(
        &self,
        topic: &str,
        key: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>>;
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value)>;
    /// Whether `to_connect_header` can fail. Headers that nothing reads are converted only by a
    /// converter that can, so that skipping them never changes which records fail.
    fn may_fail(&self) -> bool {
        true
    }
}

/// A single message transform. It changes the record it is given in place, and a chain hands
/// the same record from transform to transform: a record is a few hundred bytes, and moving it
/// in and out of each transform cost more than most transforms' own work.
pub trait Transformation<R>: Send {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> Result<()>;
    /// Kafka's `apply`; [`Verdict::Discard`] is its `null`, dropping the record. On an error the
    /// record may be left half changed: the caller discards it.
    fn apply(&mut self, record: &mut R) -> Result<Verdict>;
}

/// What a transform decided about the record it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Discard,
}

/// Decides whether a transform applies to a record.
pub trait Predicate<R>: Send {
    fn config_def(&self) -> ConfigDef;
    fn configure(&mut self, props: &Props) -> Result<()>;
    fn test(&self, record: &R) -> bool;
}

/// What a plugin table entry is looked up by: its Java class name and the short aliases Kafka
/// Connect accepts for it.
pub trait Named {
    fn class(&self) -> &'static str;
    fn aliases(&self) -> &'static [&'static str];

    /// Whether `name` (a class name or an alias, as in a config) names this plugin.
    fn is_named(&self, name: &str) -> bool {
        let name = name.trim();
        self.class() == name || self.aliases().contains(&name)
    }
}

/// The entry of `table` that `name` names.
pub fn find_named<'a, D: Named>(table: &'a [D], name: &str) -> Option<&'a D> {
    table.iter().find(|d| d.is_named(name))
}

/// A single message transform on offer, with a constructor for each kind of record.
pub struct TransformDesc {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub source: fn() -> Box<dyn Transformation<SourceRecord>>,
    pub sink: fn() -> Box<dyn Transformation<SinkRecord>>,
}

/// A predicate on offer, with a constructor for each kind of record.
pub struct PredicateDesc {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub source: fn() -> Box<dyn Predicate<SourceRecord>>,
    pub sink: fn() -> Box<dyn Predicate<SinkRecord>>,
}

/// A converter on offer.
pub struct ConverterDesc {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub new: fn() -> Box<dyn Converter>,
}

/// A header converter on offer.
pub struct HeaderConverterDesc {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub new: fn() -> Box<dyn HeaderConverter>,
}

macro_rules! named {
    ($($desc:ty),*) => {$(
        impl Named for $desc {
            fn class(&self) -> &'static str {
                self.class
            }
            fn aliases(&self) -> &'static [&'static str] {
                self.aliases
            }
        }
    )*};
}

named!(
    PluginDesc,
    TransformDesc,
    PredicateDesc,
    ConverterDesc,
    HeaderConverterDesc
);

/// Whether a connector reads into Kafka or writes out of it.
pub enum PluginKind {
    Source(fn() -> Box<dyn SourceConnector>),
    Sink(fn() -> Box<dyn SinkConnector>),
}

/// A connector class on offer: its Java name, short aliases, version and constructor.
pub struct PluginDesc {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub version: &'static str,
    pub kind: PluginKind,
}

impl PluginDesc {
    /// Whether `name` (a class name or an alias, as in a connector config) names this plugin.
    pub fn matches(&self, name: &str) -> bool {
        self.class == name || self.aliases.contains(&name)
    }
}
