//! The Connect data model and plugin traits. Connectors depend on this crate and nothing else of
//! Sluice's.

pub mod base64;
pub mod calendar;
pub mod config;
pub mod config_infos;
pub mod error;
pub mod headers;
pub mod java_regex;
mod java_text;
pub mod offset;
pub mod plugin;
pub mod record;
pub mod schema;
pub mod time;
pub mod value;

pub use config::{
    ConfigDef, ConfigKey, ConfigType, ConfigValue, ConfigValues, Importance, Validator, Width,
};
pub use config_infos::{ConfigInfo, ConfigInfos, ConfigProblem, ProblemKind};
pub use error::{ConnectError, Result};
pub use headers::{Header, Headers};
pub use offset::SourceOffset;
pub use plugin::{
    find_named, props_of, BoxFuture, Connector, ConnectorContext, Converter, ConverterDesc,
    HeaderConverter, HeaderConverterDesc, Named, OffsetReader, PluginDesc, PluginKind, Predicate,
    PredicateDesc, Props, Report, Reporter, SinkConnector, SinkTask, SourceConnector, SourceTask,
    TopicPartition, TransformDesc, Transformation, Verdict,
};
pub use record::{ConnectRecord, SinkRecord, SourceMap, SourceRecord, TimestampType};
pub use schema::{Field, Schema, SchemaBuilder, SchemaRef, SchemaType};
pub use value::{Decimal, Struct, Value};
