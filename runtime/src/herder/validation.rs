//! Connector config validation: the framework's common keys (Kafka's `ConnectorConfig`,
//! `SinkConnectorConfig`, `SourceConnectorConfig`) merged with the connector's own, plus the
//! checks that span components: converters, transforms, sink topics and topic creation. The same
//! result serves `PUT /connector-plugins/{type}/config/validate` and create/update.

use sluice_connect_api::{
    ConfigDef, ConfigInfos, ConfigType, ConnectError, Importance, PluginDesc, Props, SinkRecord,
    SourceRecord, Validator, Width,
};

use super::plugins::{ConnectorType, Plugins};
use crate::converters;
use crate::transforms::{self, TransformChain};
use crate::worker::TopicCreation;

fn common() -> ConfigDef {
    const COMMON: &str = "Common";
    ConfigDef::new()
        .define("name", ConfigType::String, None, Importance::High, "Globally unique name to use for this connector.")
        .validator(Validator::NonEmptyString)
        .layout(COMMON, 1, Width::Medium, "Connector name")
        .define("connector.class", ConfigType::String, None, Importance::High, "Name or alias of the class for this connector. Must be a subclass of org.apache.kafka.connect.connector.Connector.")
        .layout(COMMON, 2, Width::Long, "Connector class")
        .define("tasks.max", ConfigType::Int, Some("1"), Importance::High, "Maximum number of tasks to use for this connector.")
        .validator(Validator::AtLeast(1.0))
        .layout(COMMON, 3, Width::Short, "Tasks max")
        .define("tasks.max.enforce", ConfigType::Boolean, Some("true"), Importance::Low, "(Deprecated) Whether to enforce that the tasks.max property is respected by the connector.")
        .layout(COMMON, 4, Width::Short, "Enforce tasks max")
        .define("key.converter", ConfigType::Class, Some(""), Importance::Low, "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. Defaults to the worker's.")
        .layout(COMMON, 5, Width::Short, "Key converter class")
        .define("value.converter", ConfigType::Class, Some(""), Importance::Low, "Converter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. Defaults to the worker's.")
        .layout(COMMON, 6, Width::Short, "Value converter class")
        .define("header.converter", ConfigType::Class, Some(""), Importance::Low, "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka. Defaults to the worker's.")
        .layout(COMMON, 7, Width::Short, "Header converter class")
        .define("config.action.reload", ConfigType::String, Some("restart"), Importance::Low, "The action that Connect should take on the connector when changes in external configuration providers result in a change in the connector's configuration properties.")
        .validator(Validator::OneOf(vec!["none".into(), "restart".into()]))
        .layout(COMMON, 8, Width::Medium, "Reload Action")
        .define("transforms", ConfigType::List, Some(""), Importance::Low, "Aliases for the transformations to be applied to records.")
        .layout("Transforms", 1, Width::Long, "Transforms")
        .define("predicates", ConfigType::List, Some(""), Importance::Low, "Aliases for the predicates used by transformations.")
        .layout("Predicates", 1, Width::Long, "Predicates")
        .define("errors.retry.timeout", ConfigType::Long, Some("0"), Importance::Medium, "The maximum duration in milliseconds that a failed operation will be reattempted.")
        .layout("Error Handling", 1, Width::Medium, "Retry Timeout for Errors")
        .define("errors.retry.delay.max.ms", ConfigType::Long, Some("60000"), Importance::Medium, "The maximum duration in milliseconds between consecutive retry attempts.")
        .layout("Error Handling", 2, Width::Medium, "Maximum Delay Between Retries for Errors")
        .define("errors.tolerance", ConfigType::String, Some("none"), Importance::Medium, "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.")
        .validator(Validator::OneOf(vec!["none".into(), "all".into()]))
        .layout("Error Handling", 3, Width::Short, "Error Tolerance")
        .define("errors.log.enable", ConfigType::Boolean, Some("false"), Importance::Medium, "If true, write each error and the details of the failed operation and problematic record to the Connect application log.")
        .layout("Error Handling", 4, Width::Short, "Log Errors")
        .define("errors.log.include.messages", ConfigType::Boolean, Some("false"), Importance::Medium, "Whether to include in the log the Connect record that resulted in a failure.")
        .layout("Error Handling", 5, Width::Short, "Log Error Details")
        .define("errors.deadletterqueue.topic.name", ConfigType::String, Some(""), Importance::Medium, "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. On a source connector (Sluice's), records that fail in transformations or converters, as JsonConverter envelopes.")
        .layout("Error Handling", 6, Width::Medium, "Dead Letter Queue Topic Name")
        .define("errors.deadletterqueue.topic.replication.factor", ConfigType::Short, Some("3"), Importance::Medium, "Replication factor used to create the dead letter queue topic when it doesn't already exist.")
        .layout("Error Handling", 7, Width::Medium, "Dead Letter Queue Topic Replication Factor")
        .define("errors.deadletterqueue.context.headers.enable", ConfigType::Boolean, Some("false"), Importance::Medium, "If true, add headers containing error context to the messages written to the dead letter queue.")
        .layout("Error Handling", 8, Width::Medium, "Enable Error Context Headers")
        .define("errors.task.restart.max", ConfigType::Int, Some("0"), Importance::Medium, "Sluice's: how many times a FAILED task is restarted on its own, with exponential backoff, before it stays FAILED. 0 (the default) never restarts it, as Kafka Connect does.")
        .validator(Validator::AtLeast(0.0))
        .layout("Error Handling", 9, Width::Short, "Task Restarts")
        // Checked by the converters and clients they configure.
        .foreign("key.converter.")
        .foreign("value.converter.")
        .foreign("header.converter.")
        .foreign("producer.override.")
        .foreign("consumer.override.")
        .foreign("admin.override.")
        .foreign("topic.creation.")
}

fn sink_keys() -> ConfigDef {
    ConfigDef::new()
        .define(
            "topics",
            ConfigType::List,
            Some(""),
            Importance::High,
            "List of topics to consume, separated by commas",
        )
        .layout("Common", 4, Width::Long, "Topics")
        .define(
            "topics.regex",
            ConfigType::String,
            Some(""),
            Importance::High,
            "Regular expression giving topics to consume.",
        )
        .layout("Common", 4, Width::Long, "Topics regex")
}

fn source_keys() -> ConfigDef {
    ConfigDef::new()
        .define(
            "topic.creation.groups",
            ConfigType::List,
            Some(""),
            Importance::Low,
            "Groups of configurations for topics created by source connectors",
        )
        .layout("Topic Creation", 1, Width::Long, "Topic Creation Groups")
        .define(
            "exactly.once.support",
            ConfigType::String,
            Some("requested"),
            Importance::Medium,
            "Permitted values are requested, required.",
        )
        .validator(Validator::OneOf(vec![
            "requested".into(),
            "required".into(),
        ]))
        .layout(
            "Exactly Once Support",
            1,
            Width::Short,
            "Exactly once support",
        )
        .define(
            "transaction.boundary",
            ConfigType::String,
            Some("poll"),
            Importance::Medium,
            "Permitted values are: poll, interval, connector.",
        )
        .validator(Validator::OneOf(vec![
            "poll".into(),
            "interval".into(),
            "connector".into(),
        ]))
        .layout(
            "Exactly Once Support",
            2,
            Width::Short,
            "Transaction Boundary",
        )
        .define(
            "offsets.storage.topic",
            ConfigType::String,
            Some(""),
            Importance::Low,
            "The name of a separate offsets topic to use for this connector.",
        )
        .layout("offsets.storage", 1, Width::Long, "Offsets topic")
}

/// The whole definition a connector of this plugin is validated against.
pub fn definition(plugin: &PluginDesc) -> ConfigDef {
    let framework = match Plugins::connector_type(plugin) {
        ConnectorType::Source => common().merge(&source_keys()),
        ConnectorType::Sink => common().merge(&sink_keys()),
    };
    framework.merge(&Plugins::config_def(plugin))
}

/// Validates `props` against `plugin`: every key of the definition, the keys of each transform
/// and predicate, and the checks that span components.
pub fn validate(
    plugin: &PluginDesc,
    class_as_given: &str,
    props: &Props,
    config: &crate::config::WorkerConfig,
) -> ConfigInfos {
    let tasks_max_limit = config.tasks_max_limit;
    let def = definition(plugin).merge(&transforms::definition(props));
    let mut result = def.validate(class_as_given, props);
    let mut extra: Vec<(String, String)> = Vec::new();
    if let Some(asked) = props
        .get("tasks.max")
        .and_then(|t| t.trim().parse::<i64>().ok())
        .filter(|&n| n > tasks_max_limit as i64)
    {
        extra.push((
            "tasks.max".into(),
            format!("Invalid value {asked} for configuration tasks.max: this worker runs at most {tasks_max_limit} tasks per connector (tasks.max.limit)"),
        ));
    }
    for (key, is_key) in [("key.converter", true), ("value.converter", false)] {
        if let Some(class) = props.get(key).filter(|c| !c.trim().is_empty()) {
            let prefix = format!("{key}.");
            let props = converters::with_registry_default(
                props,
                &prefix,
                config.schema_registry_url.as_deref(),
            );
            if let Err(e) = converters::create(class.trim(), &props, &prefix, is_key) {
                extra.push(config_error(key, e));
            }
        }
    }
    if let Some(class) = props
        .get("header.converter")
        .filter(|c| !c.trim().is_empty())
    {
        if let Err(e) = converters::create_header(class.trim(), props, "header.converter.") {
            extra.push(config_error("header.converter", e));
        }
    }
    let chain = match Plugins::connector_type(plugin) {
        ConnectorType::Sink => {
            let has = |k: &str| props.get(k).is_some_and(|v| !v.trim().is_empty());
            match (has("topics"), has("topics.regex")) {
                (true, true) => extra.push((
                    "topics".into(),
                    "topics and topics.regex are mutually exclusive options, but both are set."
                        .into(),
                )),
                (false, false) => extra.push((
                    "topics".into(),
                    "Must configure one of topics or topics.regex".into(),
                )),
                (false, true) => {
                    if let Err(e) = regex::Regex::new(&props["topics.regex"]) {
                        extra.push(("topics.regex".into(), format!("Invalid regex: {e}")));
                    }
                }
                (true, false) => {}
            }
            // Kafka's rule: a sink must not read its own dead letter queue.
            let dlq = props
                .get("errors.deadletterqueue.topic.name")
                .map(|t| t.trim())
                .filter(|t| !t.is_empty());
            if let Some(dlq) = dlq {
                let topics = props.get("topics").map(String::as_str).unwrap_or_default();
                if sluice_connect_api::config::split_list(topics)
                    .iter()
                    .any(|t| t == dlq)
                {
                    extra.push(("errors.deadletterqueue.topic.name".into(), format!("The DLQ topic '{dlq}' may not be included in the list of topics ('topics={topics}') to be consumed.")));
                } else if let Some(pattern) =
                    props.get("topics.regex").filter(|p| !p.trim().is_empty())
                {
                    if crate::worker::sink::SinkTopics::Regex(pattern.trim().to_string())
                        .matches(dlq)
                    {
                        extra.push(("errors.deadletterqueue.topic.name".into(), format!("The DLQ topic '{dlq}' may not be included in the regex matching the topics ('topics.regex={pattern}') to be consumed.")));
                    }
                }
            }
            TransformChain::<SinkRecord>::from_config(props).err()
        }
        ConnectorType::Source => {
            if let Err(e) = TopicCreation::from_config(props) {
                extra.push(config_error("topic.creation.groups", e));
            }
            TransformChain::<SourceRecord>::from_config(props).err()
        }
    };
    if let Some(e) = chain {
        let (key, message) = config_error("transforms", e);
        // The definition may already have found it (a missing key); one report is enough.
        if !result.is_invalid(&key) {
            extra.push((key, message));
        }
    }
    extra.extend(connector_checks(plugin, props));
    for (key, message) in extra {
        result.add_invalid(&key, &message);
    }
    result
}

/// The connector's own cross-key and environment checks.
fn connector_checks(plugin: &PluginDesc, props: &Props) -> Vec<(String, String)> {
    match plugin.kind {
        sluice_connect_api::PluginKind::Source(new) => new().validate_config(props),
        sluice_connect_api::PluginKind::Sink(new) => new().validate_config(props),
    }
}

fn config_error(fallback_key: &str, e: ConnectError) -> (String, String) {
    match e {
        ConnectError::Config { key, message } => (key, message),
        other => (fallback_key.to_string(), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::props_of;

    fn sink_plugin() -> PluginDesc {
        PluginDesc {
            class: "org.example.NullSinkConnector",
            aliases: &[],
            version: "1",
            kind: sluice_connect_api::PluginKind::Sink(|| unreachable_sink()),
        }
    }

    fn unreachable_sink() -> Box<dyn sluice_connect_api::SinkConnector> {
        struct Null;
        impl sluice_connect_api::Connector for Null {
            fn version(&self) -> String {
                "1".into()
            }
            fn config_def(&self) -> ConfigDef {
                ConfigDef::new()
            }
            fn start(
                &mut self,
                _props: &Props,
                _context: std::sync::Arc<dyn sluice_connect_api::ConnectorContext>,
            ) -> sluice_connect_api::Result<()> {
                Ok(())
            }
            fn task_configs(&self, _max: usize) -> sluice_connect_api::Result<Vec<Props>> {
                Ok(Vec::new())
            }
            fn stop(&mut self) -> sluice_connect_api::Result<()> {
                Ok(())
            }
        }
        impl sluice_connect_api::SinkConnector for Null {
            fn new_task(&self) -> Box<dyn sluice_connect_api::SinkTask> {
                unimplemented!("not used by validation")
            }
        }
        Box::new(Null)
    }

    #[test]
    fn sink_topics_converters_and_transforms_are_checked() {
        let plugin = sink_plugin();
        let result = validate(
            &plugin,
            "NullSink",
            &props_of(&[
                ("name", "a"),
                ("connector.class", "NullSink"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConvertr",
                ),
                ("transforms", "x"),
            ]),
            &worker_config(),
        );
        let errors = result.blocking_errors();
        assert_eq!(result.error_count(), errors.len(), "{result:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("Must configure one of topics or topics.regex")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("Did you mean 'JsonConverter'?")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("transforms.x.type")),
            "{errors:?}"
        );
        assert!(result.groups.starts_with(&[
            "Common".to_string(),
            "Transforms".to_string(),
            "Predicates".to_string(),
            "Error Handling".to_string()
        ]));
        assert!(
            result.groups.contains(&"Transforms: x".to_string()),
            "{:?}",
            result.groups
        );
    }

    fn worker_config() -> crate::config::WorkerConfig {
        crate::config::WorkerConfig::from_properties(&Props::new(), "http://127.0.0.1:0")
            .expect("defaults")
            .0
    }

    #[test]
    fn unknown_keys_are_reported_but_do_not_block() {
        let plugin = sink_plugin();
        let result = validate(
            &plugin,
            "NullSink",
            &props_of(&[
                ("name", "a"),
                ("connector.class", "NullSink"),
                ("topics", "t"),
                ("task.max", "2"),
            ]),
            &worker_config(),
        );
        assert_eq!(result.error_count(), 1);
        assert!(result.blocking_errors().is_empty());
        assert_eq!(
            result.unknown_keys(),
            ["Unknown configuration 'task.max'. Did you mean 'tasks.max'?"]
        );
    }
}
