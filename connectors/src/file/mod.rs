//! Apache Kafka's FileStream connectors (`org.apache.kafka.connect.file.*`): a file's lines into
//! a topic, and a topic's values into a file, with the same configs, partition and offset maps.

mod sink;
mod source;

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

use sluice_connect_api::{PluginDesc, PluginKind};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn source_plugin() -> PluginDesc {
    PluginDesc {
        class: "org.apache.kafka.connect.file.FileStreamSourceConnector",
        aliases: &["FileStreamSourceConnector", "FileStreamSource"],
        version: VERSION,
        kind: PluginKind::Source(|| Box::new(FileStreamSourceConnector::default())),
    }
}

pub fn sink_plugin() -> PluginDesc {
    PluginDesc {
        class: "org.apache.kafka.connect.file.FileStreamSinkConnector",
        aliases: &["FileStreamSinkConnector", "FileStreamSink"],
        version: VERSION,
        kind: PluginKind::Sink(|| Box::new(FileStreamSinkConnector::default())),
    }
}
