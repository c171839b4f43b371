//! DescribeConfigs, IncrementalAlterConfigs and AlterConfigs for topics (and describing the broker).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::config::{ConfigSource, ConfigType, TopicConfigDef, TOPIC_CONFIGS};
use crate::server::Broker;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// Every topic config with its effective value and where that value comes from.
pub fn topic_entries<'a>(
    broker: &'a Broker,
    overrides: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = (&'static TopicConfigDef, String, ConfigSource)> + 'a {
    TOPIC_CONFIGS
        .iter()
        .map(move |def| match overrides.get(def.name) {
            Some(v) => (def, v.clone(), ConfigSource::Topic),
            None => {
                let (v, source) = broker.config.topic_default(def);
                (def, v, source)
            }
        })
}

struct Entry {
    name: String,
    value: String,
    source: ConfigSource,
    kind: ConfigType,
    doc: &'static str,
    synonyms: Vec<(String, String, ConfigSource)>,
}

fn topic_config(broker: &Broker, name: &str) -> Result<Vec<Entry>, (ResponseError, String)> {
    let topic = broker.topics.get(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {name} does not exist."),
        )
    })?;
    let overrides = topic.overrides();
    Ok(topic_entries(broker, &overrides)
        .map(|(def, value, source)| {
            let mut synonyms = Vec::new();
            if let Some(v) = overrides.get(def.name) {
                synonyms.push((def.name.to_string(), v.clone(), ConfigSource::Topic));
            }
            let (broker_value, broker_source) = broker.config.topic_default(def);
            if broker_source == ConfigSource::StaticBroker {
                synonyms.push((def.broker_key.to_string(), broker_value, broker_source));
            }
            synonyms.push((
                def.broker_key.to_string(),
                def.default.to_string(),
                ConfigSource::Default,
            ));
            Entry {
                name: def.name.to_string(),
                value,
                source,
                kind: def.kind,
                doc: def.doc,
                synonyms,
            }
        })
        .collect())
}

fn broker_config(broker: &Broker, name: &str) -> Result<Vec<Entry>, (ResponseError, String)> {
    let c = &broker.config;
    if !name.is_empty() && name != c.node_id.to_string() {
        return Err((
            ResponseError::InvalidRequest,
            format!("Unknown broker {name}; this is broker {}.", c.node_id),
        ));
    }
    let listeners = |pick: fn(&crate::config::Endpoint) -> &crate::config::Listener| {
        let shown: Vec<String> = c.endpoints.iter().map(|e| pick(e).to_string()).collect();
        shown.join(",")
    };
    let plain = [
        ("node.id", c.node_id.to_string(), ConfigType::Int),
        ("listeners", listeners(|e| &e.bind), ConfigType::String),
        (
            "advertised.listeners",
            listeners(|e| &e.advertised),
            ConfigType::String,
        ),
        (
            "log.dirs",
            c.log_dir.display().to_string(),
            ConfigType::String,
        ),
        (
            "num.partitions",
            c.num_partitions.to_string(),
            ConfigType::Int,
        ),
        (
            "default.replication.factor",
            c.default_replication_factor.to_string(),
            ConfigType::Int,
        ),
        (
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
            ConfigType::Boolean,
        ),
        (
            "delete.topic.enable",
            c.delete_topic_enable.to_string(),
            ConfigType::Boolean,
        ),
        (
            "socket.request.max.bytes",
            c.socket_request_max_bytes.to_string(),
            ConfigType::Int,
        ),
        (
            "log.retention.check.interval.ms",
            c.retention_check_interval_ms.to_string(),
            ConfigType::Long,
        ),
    ];
    let mut entries: Vec<Entry> = plain
        .into_iter()
        .map(|(name, value, kind)| Entry {
            name: name.to_string(),
            value,
            source: ConfigSource::StaticBroker,
            kind,
            doc: "",
            synonyms: Vec::new(),
        })
        .collect();
    entries.extend(TOPIC_CONFIGS.iter().map(|def| {
        let (value, source) = c.topic_default(def);
        Entry {
            name: def.broker_key.to_string(),
            value,
            source,
            kind: def.kind,
            doc: def.doc,
            synonyms: Vec::new(),
        }
    }));
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    Ok(entries)
}

pub fn describe(
    broker: &Broker,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut response = DescribeConfigsResponse::default();
    for resource in req.resources {
        let mut result = DescribeConfigsResult::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        let entries = match resource.resource_type {
            TOPIC => topic_config(broker, resource.resource_name.as_str()),
            BROKER => broker_config(broker, resource.resource_name.as_str()),
            other => Err((
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}."),
            )),
        };
        match entries {
            Ok(entries) => {
                let keys = resource.configuration_keys.as_ref();
                result.configs = entries
                    .into_iter()
                    .filter(|e| keys.is_none_or(|k| k.iter().any(|k| k.as_str() == e.name)))
                    .map(|e| {
                        let mut r = DescribeConfigsResourceResult::default();
                        r.name = str_bytes(e.name);
                        r.value = Some(str_bytes(e.value));
                        r.config_source = e.source as i8;
                        r.read_only = resource.resource_type == BROKER;
                        if version >= 3 {
                            r.config_type = e.kind as i8;
                        }
                        if req.include_documentation && !e.doc.is_empty() {
                            r.documentation = Some(str_bytes(e.doc));
                        }
                        if req.include_synonyms {
                            r.synonyms = e
                                .synonyms
                                .into_iter()
                                .map(|(name, value, source)| {
                                    let mut s = DescribeConfigsSynonym::default();
                                    s.name = str_bytes(name);
                                    s.value = Some(str_bytes(value));
                                    s.source = source as i8;
                                    s
                                })
                                .collect();
                        }
                        r
                    })
                    .collect();
            }
            Err((error, message)) => {
                result.error_code = error.code();
                result.error_message = Some(str_bytes(message));
            }
        }
        response.results.push(result);
    }
    response
}

/// One requested change to a topic config.
enum Change {
    Set(String),
    Delete,
    Append(String),
    Subtract(String),
}

/// Applies changes to a topic's overrides and stores the result.
fn alter_topic(
    broker: &Broker,
    resource_type: i8,
    name: &StrBytes,
    changes: Vec<(String, Change)>,
    replace_all: bool,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    if resource_type != TOPIC {
        return Err((
            ResponseError::InvalidRequest.code(),
            "Only topic configs can be altered; broker configs are static.".to_string(),
        ));
    }
    let topic = broker.topics.get(name.as_str()).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition.code(),
            format!("Topic {name} does not exist."),
        )
    })?;
    let mut overrides = if replace_all {
        BTreeMap::new()
    } else {
        topic.overrides()
    };
    for (key, change) in changes {
        let current = || {
            overrides.get(&key).cloned().unwrap_or_else(|| {
                crate::config::topic_config_def(&key)
                    .map(|d| broker.config.topic_default(d).0)
                    .unwrap_or_default()
            })
        };
        let is_list =
            crate::config::topic_config_def(&key).is_some_and(|d| d.kind == ConfigType::List);
        let list_only = |op: &str| {
            Err((
                ResponseError::InvalidConfig.code(),
                format!("{op} is only allowed for list configs, and {key} is not one."),
            ))
        };
        match change {
            Change::Set(value) => {
                overrides.insert(key, value);
            }
            Change::Delete => {
                overrides.remove(&key);
            }
            Change::Append(value) if is_list => {
                let mut items: Vec<String> = current().split(',').map(str::to_string).collect();
                for v in value.split(',') {
                    if !items.iter().any(|i| i == v) {
                        items.push(v.to_string());
                    }
                }
                overrides.insert(key, items.join(","));
            }
            Change::Subtract(value) if is_list => {
                let drop: Vec<&str> = value.split(',').collect();
                let items: Vec<String> = current()
                    .split(',')
                    .filter(|i| !drop.contains(i))
                    .map(str::to_string)
                    .collect();
                overrides.insert(key, items.join(","));
            }
            Change::Append(_) => return list_only("APPEND"),
            Change::Subtract(_) => return list_only("SUBTRACT"),
        }
    }
    broker
        .topics
        .set_configs(name.as_str(), overrides, validate_only)
        .map_err(|e| (e.code(), e.to_string()))
}

pub fn incremental_alter(
    broker: &Broker,
    req: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let mut response = IncrementalAlterConfigsResponse::default();
    for resource in req.resources {
        let mut result =
            incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        let mut changes = Vec::new();
        let mut bad_op = None;
        for c in resource.configs {
            let value = c.value.map(|v| v.to_string()).unwrap_or_default();
            let change = match c.config_operation {
                0 => Change::Set(value),
                1 => Change::Delete,
                2 => Change::Append(value),
                3 => Change::Subtract(value),
                op => {
                    bad_op = Some(op);
                    break;
                }
            };
            changes.push((c.name.to_string(), change));
        }
        let outcome = match bad_op {
            Some(op) => Err((
                ResponseError::InvalidRequest.code(),
                format!("Unknown config operation {op}."),
            )),
            None => alter_topic(
                broker,
                resource.resource_type,
                &resource.resource_name,
                changes,
                false,
                req.validate_only,
            ),
        };
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(str_bytes(message));
        }
        response.responses.push(result);
    }
    response
}

pub fn alter(broker: &Broker, req: AlterConfigsRequest, _version: i16) -> AlterConfigsResponse {
    let mut response = AlterConfigsResponse::default();
    for resource in req.resources {
        let mut result = alter_configs_response::AlterConfigsResourceResponse::default();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name.clone();
        let changes = resource
            .configs
            .into_iter()
            .filter_map(|c| {
                c.value
                    .map(|v| (c.name.to_string(), Change::Set(v.to_string())))
            })
            .collect();
        let outcome = alter_topic(
            broker,
            resource.resource_type,
            &resource.resource_name,
            changes,
            true,
            req.validate_only,
        );
        if let Err((code, message)) = outcome {
            result.error_code = code;
            result.error_message = Some(str_bytes(message));
        }
        response.responses.push(result);
    }
    response
}
