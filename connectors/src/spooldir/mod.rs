//! jcustenborder's kafka-connect-spooldir connectors
//! (`com.github.jcustenborder.kafka.connect.spooldir.*`): files dropped into `input.path` become
//! records, then move to `finished.path` (or `error.path`). Same classes, keys, defaults,
//! headers, partitions (`{"fileName"}`) and offsets (`{"offset"}`) as the original, with
//! these differences where the original loses or repeats data:
//! - a file is finished only after the offsets of all its records are stored;
//! - every format resumes from the stored offset after a crash;
//! - `.PROCESSING` flags left by a crash are recovered;
//! - a file's identity includes its size and modification time, so a new file reusing a name is
//!   read in full (an offset in the original's form resumes where the original would);
//! - a file still being written is not read before it is complete (`readiness`);
//! - a file set aside for an error gets a sidecar saying which line failed and why.

mod avro;
mod config;
mod csv;
mod dates;
mod elf;
mod files;
mod formats;
mod input;
mod readiness;
mod schema;
mod task;

use std::sync::Arc;

use sluice_connect_api::{
    ConfigDef, Connector, ConnectorContext, PluginDesc, PluginKind, Props, Result, SourceConnector,
    SourceTask,
};

pub use config::Settings;
pub use input::unlzw;
pub use task::SpoolDirTask;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The kind of file a connector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    LineDelimited,
    Csv,
    Json,
    SchemaLessJson,
    Avro,
    Binary,
    /// W3C Extended Log Format (web server logs).
    Elf,
}

/// A spooldir source connector for one format.
pub struct SpoolDirConnector {
    format: Format,
    props: Props,
}

impl SpoolDirConnector {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            props: Props::new(),
        }
    }
}

impl Connector for SpoolDirConnector {
    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def(self.format)
    }

    fn start(&mut self, props: &Props, _context: Arc<dyn ConnectorContext>) -> Result<()> {
        let settings = Settings::parse(self.format, props)?;
        if let Some((key, message)) = settings.check_directories().into_iter().next() {
            return Err(sluice_connect_api::ConnectError::Config { key, message });
        }
        self.props = props.clone();
        Ok(())
    }

    /// `tasks.max` tasks; each reads the files whose name hashes to its index.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        let count = max_tasks.max(1);
        Ok((0..count)
            .map(|i| {
                let mut props = self.props.clone();
                props.insert("task.index".into(), i.to_string());
                props.insert("task.count".into(), count.to_string());
                props
            })
            .collect())
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }

    fn validate_config(&self, props: &Props) -> Vec<(String, String)> {
        match Settings::parse(self.format, props) {
            Ok(settings) => settings.check_directories(),
            Err(sluice_connect_api::ConnectError::Config { key, message }) => vec![(key, message)],
            Err(other) => vec![("input.path".into(), other.to_string())],
        }
    }

    fn alter_offsets(
        &self,
        _props: &Props,
        offsets: &[(
            sluice_connect_api::SourceMap,
            Option<sluice_connect_api::SourceMap>,
        )],
    ) -> Result<bool> {
        for (partition, offset) in offsets {
            let invalid = |message: &str| sluice_connect_api::ConnectError::Config {
                key: "offsets".into(),
                message: message.into(),
            };
            if !partition.get("fileName").is_some_and(|n| n.is_string()) {
                return Err(invalid(
                    "Partition objects should contain the key 'fileName'",
                ));
            }
            if let Some(offset) = offset {
                if offset.get("offset").is_none_or(|o| o.as_u64().is_none()) {
                    return Err(invalid(
                        "Offset objects should either be null or contain the key 'offset' with a non-negative integer",
                    ));
                }
            }
        }
        Ok(true)
    }
}

impl SourceConnector for SpoolDirConnector {
    fn new_task(&self) -> Box<dyn SourceTask> {
        Box::new(SpoolDirTask::new(self.format))
    }
}

macro_rules! plugin {
    ($class:literal, $format:expr) => {
        plugin!(
            $class,
            $format,
            "com.github.jcustenborder.kafka.connect.spooldir."
        )
    };
    ($class:literal, $format:expr, $package:literal) => {
        PluginDesc {
            class: concat!($package, $class),
            aliases: &[],
            version: VERSION,
            kind: PluginKind::Source(|| Box::new(SpoolDirConnector::new($format))),
        }
    };
}

/// Every spooldir connector class.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        plugin!(
            "SpoolDirLineDelimitedSourceConnector",
            Format::LineDelimited
        ),
        plugin!("SpoolDirCsvSourceConnector", Format::Csv),
        plugin!("SpoolDirJsonSourceConnector", Format::Json),
        plugin!(
            "SpoolDirSchemaLessJsonSourceConnector",
            Format::SchemaLessJson
        ),
        plugin!("SpoolDirAvroSourceConnector", Format::Avro),
        plugin!("SpoolDirBinaryFileSourceConnector", Format::Binary),
        plugin!(
            "SpoolDirELFSourceConnector",
            Format::Elf,
            "com.github.jcustenborder.kafka.connect.spooldir.elf."
        ),
    ]
}
