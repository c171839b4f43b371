//! The plugins a worker offers: connectors (given by the binary), and the converters, header
//! converter, transforms and predicates built into the runtime. Connector classes are found by
//! their Java name or an alias: the simple class name, or that name without `Connector`.

use serde_json::{json, Value as Json};
use sluice_connect_api::{find_named, ConfigDef, PluginDesc, PluginKind, SourceRecord};

use crate::converters::{CONVERTERS, HEADER_CONVERTERS};
use crate::transforms::catalogue::{PREDICATES, TRANSFORMS};
use crate::transforms::ChainRecord;

/// Connectors are either sources or sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorType {
    Source,
    Sink,
}

impl ConnectorType {
    pub fn name(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        }
    }
}

pub struct Plugins {
    connectors: Vec<PluginDesc>,
}

impl Plugins {
    pub fn new(connectors: Vec<PluginDesc>) -> Self {
        Self { connectors }
    }

    /// The connector plugin a `connector.class` value names.
    pub fn connector(&self, name: &str) -> Option<&PluginDesc> {
        let name = name.trim();
        self.connectors.iter().find(|p| {
            let simple = p.class.rsplit('.').next().unwrap_or(p.class);
            p.matches(name) || simple == name || simple.strip_suffix("Connector") == Some(name)
        })
    }

    pub fn connector_type(plugin: &PluginDesc) -> ConnectorType {
        match plugin.kind {
            PluginKind::Source(_) => ConnectorType::Source,
            PluginKind::Sink(_) => ConnectorType::Sink,
        }
    }

    /// A connector's own config definition.
    pub fn config_def(plugin: &PluginDesc) -> ConfigDef {
        match plugin.kind {
            PluginKind::Source(new) => new().config_def(),
            PluginKind::Sink(new) => new().config_def(),
        }
    }

    /// Class names of every connector, for error messages.
    pub fn connector_classes(&self) -> Vec<&'static str> {
        self.connectors.iter().map(|p| p.class).collect()
    }

    /// `GET /connector-plugins`: connectors, and with `connectors_only=false` everything else.
    pub fn list(&self, connectors_only: bool) -> Json {
        let mut out: Vec<Json> = self
            .connectors
            .iter()
            .map(|p| {
                json!({"class": p.class, "type": Self::connector_type(p).name(), "version": p.version})
            })
            .collect();
        out.sort_by(|a, b| a["class"].as_str().cmp(&b["class"].as_str()));
        if !connectors_only {
            let version = env!("CARGO_PKG_VERSION");
            let others = CONVERTERS
                .iter()
                .map(|d| (d.class, "converter"))
                .chain(
                    HEADER_CONVERTERS
                        .iter()
                        .map(|d| (d.class, "header_converter")),
                )
                .chain(TRANSFORMS.iter().map(|d| (d.class, "transformation")))
                .chain(PREDICATES.iter().map(|d| (d.class, "predicate")));
            for (class, kind) in others {
                out.push(json!({"class": class, "type": kind, "version": version}));
            }
        }
        Json::Array(out)
    }

    /// The config definition of any plugin by name (`GET /connector-plugins/{plugin}/config`):
    /// a connector, converter, header converter, transformation or predicate.
    pub fn any_config_def(&self, name: &str) -> Option<ConfigDef> {
        if let Some(connector) = self.connector(name) {
            return Some(Self::config_def(connector));
        }
        if let Some(d) = find_named(CONVERTERS, name) {
            return Some((d.new)().config_def());
        }
        if find_named(HEADER_CONVERTERS, name).is_some() {
            return Some(ConfigDef::new());
        }
        if let Some(d) = find_named(TRANSFORMS, name) {
            return Some(SourceRecord::new_transform(d).config_def());
        }
        find_named(PREDICATES, name).map(|d| SourceRecord::new_predicate(d).config_def())
    }
}
