//! An HTTP sink under Confluent's class name (`io.confluent.connect.http.HttpSinkConnector`) and
//! keys: each record's value sent to `http.api.url` as text or JSON, batched, authenticated
//! (basic or OAuth2 client credentials), retried on the status codes asked for.

mod auth;
mod body;
mod config;
mod task;

use std::sync::Arc;

use sluice_connect_api::{
    ConfigDef, Connector, ConnectorContext, PluginDesc, PluginKind, Props, Result, SinkConnector,
    SinkTask,
};

pub use config::{HttpSinkConfig, StatusCodes};
pub use task::HttpSinkTask;

pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: "io.confluent.connect.http.HttpSinkConnector",
        aliases: &["HttpSinkConnector", "HttpSink"],
        version: crate::file::VERSION,
        kind: PluginKind::Sink(|| Box::new(HttpSinkConnector::default())),
    }
}

#[derive(Debug, Default)]
pub struct HttpSinkConnector {
    props: Props,
}

impl Connector for HttpSinkConnector {
    fn version(&self) -> String {
        crate::file::VERSION.to_string()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn start(&mut self, props: &Props, _context: Arc<dyn ConnectorContext>) -> Result<()> {
        HttpSinkConfig::parse(props)?;
        self.props = props.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        Ok(vec![self.props.clone(); max_tasks.max(1)])
    }

    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for HttpSinkConnector {
    fn new_task(&self) -> Box<dyn SinkTask> {
        Box::new(HttpSinkTask::default())
    }
}
