//! Broker configuration under Apache Kafka's key names, and the topic-level configs it backs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sluice_connect_api::config::closest;

use crate::listeners::endpoints;
pub use crate::listeners::{Endpoint, Listener};
use crate::log::compaction::CompactionPolicy;
use crate::log::LogPolicy;

/// A configuration problem, naming the key and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value '{value}' for configuration {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("unknown configuration '{key}'{}", suggestion(.near))]
    Unknown { key: String, near: Option<String> },
    #[error("{0}")]
    Unsupported(String),
}

fn suggestion(near: &Option<String>) -> String {
    near.as_ref()
        .map(|n| format!("; did you mean '{n}'?"))
        .unwrap_or_default()
}

/// The value type of a config, as DescribeConfigs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// One topic-level config: its name, the broker key that sets its default, and how to check it.
#[derive(Debug)]
pub struct TopicConfigDef {
    pub name: &'static str,
    pub broker_key: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    /// Allowed values for strings and list elements; empty means any.
    pub choices: &'static [&'static str],
    pub min: i64,
    pub doc: &'static str,
}

const fn def(
    name: &'static str,
    broker_key: &'static str,
    default: &'static str,
    kind: ConfigType,
    choices: &'static [&'static str],
    min: i64,
    doc: &'static str,
) -> TopicConfigDef {
    TopicConfigDef {
        name,
        broker_key,
        default,
        kind,
        choices,
        min,
        doc,
    }
}

use ConfigType::{Boolean, Double, Int, List, Long};

/// Every topic config Sluice accepts. Those about replication are accepted for compatibility and
/// have no effect on a single node. `min.compaction.lag.ms` and friends take effect with compaction.
pub static TOPIC_CONFIGS: &[TopicConfigDef] = &[
    def(
        "cleanup.policy",
        "log.cleanup.policy",
        "delete",
        List,
        &["delete", "compact"],
        0,
        "Whether old segments are deleted, compacted, or both.",
    ),
    def(
        "compression.type",
        "compression.type",
        "producer",
        ConfigType::String,
        &["producer"],
        0,
        "Only 'producer' is supported: batches are stored as the producer compressed them.",
    ),
    def(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        "86400000",
        Long,
        &[],
        0,
        "How long tombstones are kept in a compacted topic.",
    ),
    def(
        "file.delete.delay.ms",
        "log.segment.delete.delay.ms",
        "60000",
        Long,
        &[],
        0,
        "Accepted for compatibility; segments are deleted at once.",
    ),
    def(
        "flush.messages",
        "log.flush.interval.messages",
        "9223372036854775807",
        Long,
        &[],
        1,
        "Force an fsync after this many messages.",
    ),
    def(
        "flush.ms",
        "log.flush.interval.ms",
        "9223372036854775807",
        Long,
        &[],
        0,
        "Force an fsync after this long.",
    ),
    def(
        "index.interval.bytes",
        "log.index.interval.bytes",
        "4096",
        Int,
        &[],
        0,
        "Bytes between offset index entries.",
    ),
    def(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        "9223372036854775807",
        Long,
        &[],
        1,
        "The longest a record may stay uncompacted.",
    ),
    def(
        "max.message.bytes",
        "message.max.bytes",
        "1048588",
        Int,
        &[],
        0,
        "The largest record batch accepted.",
    ),
    def(
        "message.timestamp.type",
        "log.message.timestamp.type",
        "CreateTime",
        ConfigType::String,
        &["CreateTime", "LogAppendTime"],
        0,
        "Whether record timestamps are the producer's or the broker's.",
    ),
    def(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        "0.5",
        Double,
        &[],
        0,
        "How dirty a compacted log must be before it is cleaned.",
    ),
    def(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        "0",
        Long,
        &[],
        0,
        "The least time a record stays uncompacted.",
    ),
    def(
        "min.insync.replicas",
        "min.insync.replicas",
        "1",
        Int,
        &[],
        1,
        "Accepted for compatibility; a single node is always in sync.",
    ),
    def(
        "preallocate",
        "log.preallocate",
        "false",
        Boolean,
        &[],
        0,
        "Accepted for compatibility; segments are not preallocated.",
    ),
    def(
        "retention.bytes",
        "log.retention.bytes",
        "-1",
        Long,
        &[],
        -1,
        "Delete old segments once the partition is larger than this.",
    ),
    def(
        "retention.ms",
        "log.retention.ms",
        "604800000",
        Long,
        &[],
        -1,
        "Delete segments whose records are all older than this.",
    ),
    def(
        "segment.bytes",
        "log.segment.bytes",
        "1073741824",
        Int,
        &[],
        14,
        "Roll to a new segment at this size.",
    ),
    def(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        "10485760",
        Int,
        &[],
        4,
        "Accepted for compatibility; indexes grow as needed.",
    ),
    def(
        "segment.jitter.ms",
        "log.roll.jitter.ms",
        "0",
        Long,
        &[],
        0,
        "Accepted for compatibility; no jitter is applied.",
    ),
    def(
        "segment.ms",
        "log.roll.ms",
        "604800000",
        Long,
        &[],
        1,
        "Roll to a new segment after this long.",
    ),
    def(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        "false",
        Boolean,
        &[],
        0,
        "Accepted for compatibility; a single node has no other replicas.",
    ),
];

pub fn topic_config_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// Checks one topic config value, returning it normalised.
pub fn validate_topic_config(name: &str, value: &str) -> Result<String, ConfigError> {
    let Some(def) = topic_config_def(name) else {
        let near = closest(name, TOPIC_CONFIGS.iter().map(|d| d.name));
        return Err(ConfigError::Unknown {
            key: name.to_string(),
            near,
        });
    };
    check_value(name, value, def.kind, def.choices, def.min)
}

fn check_value(
    key: &str,
    value: &str,
    kind: ConfigType,
    choices: &[&str],
    min: i64,
) -> Result<String, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason,
    };
    let v = value.trim();
    match kind {
        ConfigType::Int | ConfigType::Long => {
            let n: i64 = v
                .parse()
                .map_err(|_| invalid("expected a whole number".into()))?;
            if kind == ConfigType::Int && i32::try_from(n).is_err() {
                return Err(invalid("out of range for an int".into()));
            }
            if n < min {
                return Err(invalid(format!("must be at least {min}")));
            }
        }
        ConfigType::Double => {
            let n: f64 = v.parse().map_err(|_| invalid("expected a number".into()))?;
            if !(0.0..=1.0).contains(&n) {
                return Err(invalid("must be between 0 and 1".into()));
            }
        }
        ConfigType::Boolean => {
            if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                return Err(invalid("expected true or false".into()));
            }
            return Ok(v.to_ascii_lowercase());
        }
        ConfigType::List => {
            let items: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            if items.is_empty() {
                return Err(invalid("expected at least one value".into()));
            }
            for item in &items {
                if !choices.is_empty() && !choices.contains(item) {
                    return Err(invalid(format!(
                        "'{item}' is not one of {}",
                        choices.join(", ")
                    )));
                }
            }
            return Ok(items.join(","));
        }
        ConfigType::String => {
            if !choices.is_empty() && !choices.contains(&v) {
                return Err(invalid(format!(
                    "not supported; accepted values: {}",
                    choices.join(", ")
                )));
            }
        }
    }
    Ok(v.to_string())
}

/// Where a config's effective value comes from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Topic = 1,
    StaticBroker = 4,
    Default = 5,
}

/// The broker's configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    /// Where clients connect, each with the address it advertises; at least one.
    pub endpoints: Vec<Endpoint>,
    pub log_dir: PathBuf,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: usize,
    pub retention_check_interval_ms: u64,
    pub flush_scheduler_interval_ms: u64,
    /// `log.flush.offset.checkpoint.interval.ms`: how often each partition's recovery point is
    /// written down.
    pub recovery_point_checkpoint_interval_ms: u64,
    pub cleaner_enable: bool,
    pub cleaner_backoff_ms: u64,
    pub group_initial_rebalance_delay_ms: u64,
    pub group_min_session_timeout_ms: u64,
    pub group_max_session_timeout_ms: u64,
    pub offsets_topic_partitions: i32,
    pub offset_metadata_max_bytes: usize,
    /// `fetch.max.bytes`: the most record bytes one fetch response carries (the first batch
    /// always goes whole).
    pub fetch_max_bytes: usize,
    /// `max.connections` and `max.connections.per.ip`: beyond them new connections are closed.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// `connections.max.idle.ms`: a connection with no request for this long is closed.
    pub connections_max_idle_ms: u64,
    /// How long the rest of a request may take to arrive once its first byte has.
    pub request_read_timeout_ms: u64,
    /// `max.broker.partitions` (KIP-578's name): the most partitions this broker holds; each
    /// costs open files. Per request, Kafka's fixed cap applies (`MAX_PARTITIONS_PER_REQUEST`).
    pub max_broker_partitions: usize,
    /// Broker-level values of topic configs, by topic config name, for keys set explicitly.
    topic_overrides: BTreeMap<String, String>,
}

static FALLBACK_LISTENER: Listener = Listener {
    name: String::new(),
    host: String::new(),
    port: 9092,
};

/// Broker keys that are not topic config synonyms.
const BROKER_KEYS: &[&str] = &[
    "advertised.listeners",
    "auto.create.topics.enable",
    "broker.id",
    "default.replication.factor",
    "delete.topic.enable",
    "listeners",
    "log.dir",
    "log.dirs",
    "log.flush.scheduler.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "group.initial.rebalance.delay.ms",
    "group.max.session.timeout.ms",
    "log.cleaner.backoff.ms",
    "log.cleaner.enable",
    "group.min.session.timeout.ms",
    "offset.metadata.max.bytes",
    "offsets.topic.num.partitions",
    "fetch.max.bytes",
    "max.connections",
    "max.connections.per.ip",
    "connections.max.idle.ms",
    "socket.request.read.timeout.ms",
    "max.broker.partitions",
    "log.retention.check.interval.ms",
    "log.retention.hours",
    "log.retention.minutes",
    "log.roll.hours",
    "node.id",
    "num.partitions",
    "socket.request.max.bytes",
    "controller.listener.names",
    "listener.security.protocol.map",
    // Accepted so that existing server.properties files load; they have no effect on one node.
    "controller.quorum.voters",
    "inter.broker.listener.name",
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
    "offsets.topic.replication.factor",
    "process.roles",
    "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes",
    "transaction.state.log.min.isr",
    "transaction.state.log.replication.factor",
    "zookeeper.connect",
];

impl BrokerConfig {
    /// The address to give a client that connected through endpoint `index`.
    pub fn advertised_for(&self, index: usize) -> &Listener {
        let endpoint = self.endpoints.get(index).or(self.endpoints.first());
        match endpoint {
            Some(e) => &e.advertised,
            // Parsing refuses a config without endpoints; kept total for hand-built configs.
            None => &FALLBACK_LISTENER,
        }
    }

    /// Builds the config from Kafka-named keys. Unknown keys are returned as warnings (with the
    /// nearest known key), as Kafka logs them, rather than refused.
    pub fn from_properties(
        props: &BTreeMap<String, String>,
    ) -> Result<(Self, Vec<ConfigError>), ConfigError> {
        let mut warnings = Vec::new();
        for key in props.keys() {
            let known = BROKER_KEYS.contains(&key.as_str())
                || TOPIC_CONFIGS.iter().any(|d| d.broker_key == key);
            if !known {
                let all = BROKER_KEYS
                    .iter()
                    .copied()
                    .chain(TOPIC_CONFIGS.iter().map(|d| d.broker_key));
                warnings.push(ConfigError::Unknown {
                    key: key.clone(),
                    near: closest(key, all),
                });
            }
        }
        let get = |k: &str| props.get(k).map(|v| v.trim());
        let endpoints = endpoints(
            get("listeners").unwrap_or("PLAINTEXT://127.0.0.1:9092"),
            get("advertised.listeners"),
            get("listener.security.protocol.map"),
            get("controller.listener.names"),
        )?;
        let dirs = get("log.dirs")
            .or_else(|| get("log.dir"))
            .unwrap_or("./data/broker");
        if dirs.contains(',') {
            return Err(ConfigError::Unsupported(format!(
                "log.dirs '{dirs}': more than one log directory is not supported yet"
            )));
        }
        let mut topic_overrides = BTreeMap::new();
        for def in TOPIC_CONFIGS {
            if let Some(v) = get(def.broker_key) {
                let value = check_value(def.broker_key, v, def.kind, def.choices, def.min)?;
                topic_overrides.insert(def.name.to_string(), value);
            }
        }
        // Kafka's coarser synonyms apply when the millisecond key is absent.
        for (ms_key, topic_key, coarse) in [
            (
                "log.retention.ms",
                "retention.ms",
                &[
                    ("log.retention.minutes", 60_000i64),
                    ("log.retention.hours", 3_600_000),
                ][..],
            ),
            (
                "log.roll.ms",
                "segment.ms",
                &[("log.roll.hours", 3_600_000)][..],
            ),
        ] {
            if props.contains_key(ms_key) {
                continue;
            }
            if let Some((key, unit, v)) =
                coarse.iter().find_map(|&(k, u)| get(k).map(|v| (k, u, v)))
            {
                let n = parse_num::<i64>(key, v)?;
                let ms = if n < 0 { -1 } else { n.saturating_mul(unit) };
                topic_overrides.insert(topic_key.to_string(), ms.to_string());
            }
        }
        let config = Self {
            node_id: match get("node.id").or_else(|| get("broker.id")) {
                Some(v) => parse_num("node.id", v)?,
                None => 1,
            },
            endpoints,
            log_dir: PathBuf::from(dirs),
            num_partitions: parse_at_least(props, "num.partitions", 1, 1)?,
            default_replication_factor: parse_at_least(props, "default.replication.factor", 1, 1)?,
            auto_create_topics: parse_bool(props, "auto.create.topics.enable", true)?,
            delete_topic_enable: parse_bool(props, "delete.topic.enable", true)?,
            socket_request_max_bytes: parse_at_least(
                props,
                "socket.request.max.bytes",
                104_857_600,
                1,
            )?,
            retention_check_interval_ms: parse_at_least(
                props,
                "log.retention.check.interval.ms",
                300_000,
                1,
            )?,
            flush_scheduler_interval_ms: parse_at_least(
                props,
                "log.flush.scheduler.interval.ms",
                1000,
                1,
            )?,
            recovery_point_checkpoint_interval_ms: parse_at_least(
                props,
                "log.flush.offset.checkpoint.interval.ms",
                60_000,
                1,
            )?,
            cleaner_enable: parse_bool(props, "log.cleaner.enable", true)?,
            cleaner_backoff_ms: parse_at_least(props, "log.cleaner.backoff.ms", 15_000, 1)?,
            group_initial_rebalance_delay_ms: parse_at_least(
                props,
                "group.initial.rebalance.delay.ms",
                3000,
                0,
            )?,
            group_min_session_timeout_ms: parse_at_least(
                props,
                "group.min.session.timeout.ms",
                6000,
                0,
            )?,
            group_max_session_timeout_ms: parse_at_least(
                props,
                "group.max.session.timeout.ms",
                1_800_000,
                1,
            )?,
            offsets_topic_partitions: parse_at_least(props, "offsets.topic.num.partitions", 50, 1)?,
            offset_metadata_max_bytes: parse_at_least(props, "offset.metadata.max.bytes", 4096, 0)?,
            fetch_max_bytes: parse_at_least(props, "fetch.max.bytes", 57_671_680, 1024)?,
            // Kafka's default is unlimited; here the default stays below what the process may
            // open (its file limit is raised to the hard limit at start), so that refusing a
            // connection is a choice and not a failing accept.
            max_connections: parse_at_least(props, "max.connections", 10_000, 1)?,
            max_connections_per_ip: parse_at_least(props, "max.connections.per.ip", 10_000, 1)?,
            connections_max_idle_ms: parse_at_least(props, "connections.max.idle.ms", 600_000, 1)?,
            request_read_timeout_ms: parse_at_least(
                props,
                "socket.request.read.timeout.ms",
                30_000,
                1,
            )?,
            max_broker_partitions: parse_at_least(props, "max.broker.partitions", 100_000, 1)?,
            topic_overrides,
        };
        Ok((config, warnings))
    }

    /// The broker-level value of a topic config and where it came from.
    pub fn topic_default(&self, def: &TopicConfigDef) -> (String, ConfigSource) {
        match self.topic_overrides.get(def.name) {
            Some(v) => (v.clone(), ConfigSource::StaticBroker),
            None => (def.default.to_string(), ConfigSource::Default),
        }
    }

    /// Resolves a topic's effective settings from its overrides and the broker's defaults.
    pub fn topic_settings(&self, overrides: &BTreeMap<String, String>) -> TopicSettings {
        let value = |name: &str| -> String {
            overrides
                .get(name)
                .cloned()
                .or_else(|| self.topic_overrides.get(name).cloned())
                .or_else(|| topic_config_def(name).map(|d| d.default.to_string()))
                .unwrap_or_default()
        };
        let num = |name: &str| value(name).parse::<i64>().unwrap_or(-1);
        let policy = value("cleanup.policy");
        TopicSettings {
            policy: LogPolicy {
                segment_bytes: num("segment.bytes").max(14) as u64,
                segment_ms: num("segment.ms").max(1),
                index_interval_bytes: num("index.interval.bytes").max(0) as u64,
                retention_ms: num("retention.ms"),
                retention_bytes: num("retention.bytes"),
                delete_old_segments: policy.split(',').any(|p| p == "delete"),
            },
            compact: policy.split(',').any(|p| p == "compact"),
            compaction: CompactionPolicy {
                min_cleanable_dirty_ratio: value("min.cleanable.dirty.ratio")
                    .parse()
                    .unwrap_or(0.5),
                min_compaction_lag_ms: num("min.compaction.lag.ms").max(0),
                max_compaction_lag_ms: num("max.compaction.lag.ms").max(1),
                delete_retention_ms: num("delete.retention.ms").max(0),
            },
            max_message_bytes: num("max.message.bytes").clamp(0, i64::from(i32::MAX)) as usize,
            log_append_time: value("message.timestamp.type") == "LogAppendTime",
            flush_messages: num("flush.messages").max(1) as u64,
            flush_ms: num("flush.ms").max(0),
        }
    }
}

/// A topic's effective settings, resolved once per config change rather than per request.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSettings {
    pub policy: LogPolicy,
    /// `cleanup.policy` includes `compact`.
    pub compact: bool,
    pub compaction: CompactionPolicy,
    pub max_message_bytes: usize,
    pub log_append_time: bool,
    pub flush_messages: u64,
    pub flush_ms: i64,
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: "expected a number".into(),
    })
}

fn parse_at_least<T>(
    props: &BTreeMap<String, String>,
    key: &str,
    default: T,
    min: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(v) = props.get(key) else {
        return Ok(default);
    };
    let n: T = parse_num(key, v)?;
    if n < min {
        return Err(ConfigError::Invalid {
            key: key.to_string(),
            value: v.clone(),
            reason: format!("must be at least {min}"),
        });
    }
    Ok(n)
}

fn parse_bool(
    props: &BTreeMap<String, String>,
    key: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(ConfigError::Invalid {
            key: key.to_string(),
            value: v,
            reason: "expected true or false".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_kafkas() {
        let (c, warnings) = BrokerConfig::from_properties(&BTreeMap::new()).expect("config");
        assert!(warnings.is_empty());
        assert_eq!(c.endpoints[0].bind.port, 9092);
        assert_eq!(c.num_partitions, 1);
        let s = c.topic_settings(&BTreeMap::new());
        assert_eq!(s.policy.segment_bytes, 1 << 30);
        assert_eq!(s.policy.retention_ms, 604_800_000);
        assert_eq!(s.max_message_bytes, 1_048_588);
    }

    #[test]
    fn broker_keys_set_topic_defaults_and_topic_overrides_win() {
        let (c, _) = BrokerConfig::from_properties(&props(&[
            ("log.segment.bytes", "1024"),
            ("log.retention.hours", "1"),
        ]))
        .expect("config");
        let s = c.topic_settings(&BTreeMap::new());
        assert_eq!(s.policy.segment_bytes, 1024);
        assert_eq!(s.policy.retention_ms, 3_600_000);
        let s = c.topic_settings(&props(&[("segment.bytes", "2048")]));
        assert_eq!(s.policy.segment_bytes, 2048);
    }

    #[test]
    fn typos_get_a_suggestion() {
        let (_, warnings) =
            BrokerConfig::from_properties(&props(&[("log.segment.byte", "1024")])).expect("config");
        assert_eq!(
            warnings[0].to_string(),
            "unknown configuration 'log.segment.byte'; did you mean 'log.segment.bytes'?"
        );
        let err = validate_topic_config("retention.msec", "1").expect_err("unknown");
        assert!(
            err.to_string().contains("did you mean 'retention.ms'"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let err =
            BrokerConfig::from_properties(&props(&[("num.partitions", "zero")])).expect_err("bad");
        assert!(err.to_string().contains("num.partitions"), "{err}");
        assert!(validate_topic_config("cleanup.policy", "compact, delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "shred").is_err());
        assert!(validate_topic_config("segment.bytes", "10").is_err());
        assert!(BrokerConfig::from_properties(&props(&[("listeners", "SSL://:9093")])).is_err());
    }
}
