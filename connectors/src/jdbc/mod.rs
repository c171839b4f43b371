//! Confluent's JDBC connectors (`io.confluent.connect.jdbc.*`) over sqlx: SQLite (the embedded
//! default), PostgreSQL and MySQL/MariaDB.

mod catalog;
mod columns;
mod connection;
mod dialect;
mod sink;
mod source;
mod url;

use sluice_connect_api::{PluginDesc, PluginKind};

pub use dialect::Dialect;
pub use sink::{JdbcSinkConnector, JdbcSinkTask};
pub use source::{JdbcSourceConnector, JdbcSourceTask};
pub use url::Database;

pub fn sink_plugin() -> PluginDesc {
    PluginDesc {
        class: "io.confluent.connect.jdbc.JdbcSinkConnector",
        aliases: &["JdbcSinkConnector", "JdbcSink"],
        version: crate::file::VERSION,
        kind: PluginKind::Sink(|| Box::new(JdbcSinkConnector::default())),
    }
}

pub fn source_plugin() -> PluginDesc {
    PluginDesc {
        class: "io.confluent.connect.jdbc.JdbcSourceConnector",
        aliases: &["JdbcSourceConnector", "JdbcSource"],
        version: crate::file::VERSION,
        kind: PluginKind::Source(|| Box::new(JdbcSourceConnector::default())),
    }
}
