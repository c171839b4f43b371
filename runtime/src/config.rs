//! The worker's own configuration (Kafka Connect's worker keys), from a `.properties` file, the
//! `CONNECT_*` environment and flags, layered by the binary.

use std::time::Duration;

use rdkafka::ClientConfig;
use sluice_connect_api::config::closest;
use sluice_connect_api::Props;

use crate::client_keys;

/// A worker config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WorkerConfigError {
    #[error("invalid value '{value}' for {key}: {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
}

/// Keys the worker reads; anything else (outside the client prefixes) draws a warning.
const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "group.id",
    "config.storage.topic",
    "offset.storage.topic",
    "status.storage.topic",
    "offset.storage.partitions",
    "status.storage.partitions",
    "config.storage.replication.factor",
    "offset.storage.replication.factor",
    "status.storage.replication.factor",
    "offset.storage.file.filename",
    "key.converter",
    "value.converter",
    "header.converter",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    "listeners",
    "rest.host.name",
    "rest.port",
    "admin.listeners",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "plugin.path",
    "plugin.discovery",
    "task.shutdown.graceful.timeout.ms",
    "tasks.max.limit",
    "topic.creation.enable",
    "topic.tracking.enable",
    "topic.tracking.allow.reset",
    "connector.client.config.override.policy",
    "client.id",
];

/// Prefixes whose keys go to other components.
const PASSTHROUGH_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.",
    "consumer.",
    "admin.",
    "listeners.",
];

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Every key as given, for converter prefixes and client settings.
    pub props: Props,
    pub bootstrap_servers: String,
    pub group_id: String,
    pub config_topic: String,
    pub offsets_topic: String,
    pub status_topic: String,
    pub offsets_partitions: i32,
    pub status_partitions: i32,
    pub key_converter: String,
    pub value_converter: String,
    pub header_converter: String,
    pub offset_flush_interval: Duration,
    /// Where the REST API listens (`host:port`; an empty host is every interface).
    pub rest_bind: String,
    /// `host:port` other workers and status records name this worker by.
    pub worker_id: String,
    pub topic_creation_enable: bool,
    pub topic_tracking_enable: bool,
    pub topic_tracking_allow_reset: bool,
    pub task_shutdown_timeout: Duration,
    /// `tasks.max.limit` (Sluice's): the most tasks one connector may ask for. Each task is a
    /// thread and a Kafka client; a connector asking for thousands would take the worker down.
    pub tasks_max_limit: usize,
    /// The registry an AvroConverter uses when its config names none: the embedded one in
    /// `sluice standalone`, unset otherwise.
    pub schema_registry_url: Option<String>,
}

/// What a worker warns about but still starts with.
pub struct Warning(pub String);

impl WorkerConfig {
    /// Reads the worker keys; `default_listener` is used when `listeners` is not set.
    pub fn from_properties(
        props: &Props,
        default_listener: &str,
    ) -> Result<(Self, Vec<Warning>), WorkerConfigError> {
        let get = |key: &str, default: &str| {
            props
                .get(key)
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let number = |key: &str, default: i64| -> Result<i64, WorkerConfigError> {
            match props.get(key) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| WorkerConfigError::Invalid {
                    key: key.to_string(),
                    value: v.clone(),
                    reason: "not a number".into(),
                }),
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool, WorkerConfigError> {
            match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
                None => Ok(default),
                Some(v) if v == "true" => Ok(true),
                Some(v) if v == "false" => Ok(false),
                Some(v) => Err(WorkerConfigError::Invalid {
                    key: key.to_string(),
                    value: v,
                    reason: "expected true or false".into(),
                }),
            }
        };
        // `rest.host.name` and `rest.port` are the older keys `listeners` replaced; images
        // configured through CONNECT_REST_PORT still use them.
        let legacy_listener =
            (props.contains_key("rest.port") || props.contains_key("rest.host.name")).then(|| {
                format!(
                    "http://{}:{}",
                    get("rest.host.name", ""),
                    get("rest.port", "8083")
                )
            });
        let listeners = match props.get("listeners") {
            Some(listeners) => listeners.trim().to_string(),
            None => legacy_listener.unwrap_or_else(|| default_listener.to_string()),
        };
        let rest_bind = parse_listener(&listeners)?;
        let (bind_host, bind_port) = rest_bind.rsplit_once(':').unwrap_or(("", "8083"));
        let advertised_host = props
            .get("rest.advertised.host.name")
            .cloned()
            .unwrap_or_else(|| {
                if bind_host.is_empty() || bind_host == "0.0.0.0" {
                    local_hostname()
                } else {
                    bind_host.to_string()
                }
            });
        let advertised_port = get("rest.advertised.port", bind_port);
        let mut warnings = Vec::new();
        for key in props.keys() {
            if KNOWN_KEYS.contains(&key.as_str())
                || PASSTHROUGH_PREFIXES.iter().any(|p| key.starts_with(p))
            {
                continue;
            }
            let hint = closest(key, KNOWN_KEYS.iter().copied())
                .map(|n| format!("; did you mean '{n}'?"))
                .unwrap_or_default();
            warnings.push(Warning(format!(
                "unknown worker config '{key}' is ignored{hint}"
            )));
        }
        let config = Self {
            props: props.clone(),
            bootstrap_servers: get("bootstrap.servers", "localhost:9092"),
            group_id: get("group.id", "connect-cluster"),
            config_topic: get("config.storage.topic", "connect-configs"),
            offsets_topic: get("offset.storage.topic", "connect-offsets"),
            status_topic: get("status.storage.topic", "connect-status"),
            offsets_partitions: number("offset.storage.partitions", 25)? as i32,
            status_partitions: number("status.storage.partitions", 5)? as i32,
            key_converter: get(
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            value_converter: get(
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            header_converter: get(
                "header.converter",
                "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            ),
            offset_flush_interval: Duration::from_millis(
                number("offset.flush.interval.ms", 60_000)?.max(1) as u64,
            ),
            rest_bind,
            worker_id: format!("{advertised_host}:{advertised_port}"),
            topic_creation_enable: flag("topic.creation.enable", true)?,
            topic_tracking_enable: flag("topic.tracking.enable", true)?,
            topic_tracking_allow_reset: flag("topic.tracking.allow.reset", true)?,
            tasks_max_limit: number("tasks.max.limit", 1000)?.max(1) as usize,
            schema_registry_url: None,
            task_shutdown_timeout: Duration::from_millis(
                number("task.shutdown.graceful.timeout.ms", 5000)?.max(0) as u64,
            ),
        };
        Ok((config, warnings))
    }

    /// Settings every Kafka client of the worker starts from.
    pub fn base_client(&self) -> ClientConfig {
        let mut client = java_client();
        client.set("bootstrap.servers", &self.bootstrap_servers);
        client
    }

    /// Worker-wide `<prefix>*` client settings (`producer.`, `consumer.`, `admin.`), then the
    /// connector's `<prefix>override.*` on top.
    pub fn client(&self, prefix: &str, connector: &Props) -> ClientConfig {
        let mut client = self.base_client();
        for (k, v) in &self.props {
            if let Some(key) = k.strip_prefix(prefix) {
                if !key.starts_with("override.") {
                    client_keys::set(&mut client, key, v);
                }
            }
        }
        let overrides = format!("{prefix}override.");
        for (k, v) in connector {
            if let Some(key) = k.strip_prefix(&overrides) {
                client_keys::set(&mut client, key, v);
            }
        }
        client
    }

    /// A client setting by its Java name, as `client` would resolve it (the connector's
    /// override first, then the worker's): for the settings the worker reads itself.
    pub fn client_setting(&self, prefix: &str, connector: &Props, key: &str) -> Option<String> {
        connector
            .get(&format!("{prefix}override.{key}"))
            .or_else(|| self.props.get(&format!("{prefix}{key}")))
            .map(|v| v.trim().to_string())
    }
}

/// Where librdkafka's defaults differ from the Java clients' that Kafka Connect runs, and a user
/// would notice: a Connect worker's clients reconnect after 50 ms, backing off to at most a
/// second, where librdkafka waits 100 ms and up to ten seconds. librdkafka also holds back the
/// connection to the brokers its first metadata names for half of `reconnect.backoff.ms`, so
/// every new task's first records waited 50 ms for it. The worker's and the connector's
/// `producer.`/`consumer.`/`admin.` settings still override these.
pub const JAVA_CLIENT_DEFAULTS: [(&str, &str); 2] = [
    ("reconnect.backoff.ms", "50"),
    ("reconnect.backoff.max.ms", "1000"),
];

/// A client configuration holding [`JAVA_CLIENT_DEFAULTS`] and nothing else: what every client
/// of the worker starts from.
pub fn java_client() -> ClientConfig {
    let mut client = ClientConfig::new();
    for (key, value) in JAVA_CLIENT_DEFAULTS {
        client.set(key, value);
    }
    client
}

/// The first `http://host:port` of `listeners`, as `host:port`.
fn parse_listener(listeners: &str) -> Result<String, WorkerConfigError> {
    let invalid = |reason: &str| WorkerConfigError::Invalid {
        key: "listeners".into(),
        value: listeners.to_string(),
        reason: reason.to_string(),
    };
    let first = listeners
        .split(',')
        .map(str::trim)
        .find(|l| !l.is_empty())
        .ok_or_else(|| invalid("no listener"))?;
    // Kafka's own sample files spell it `HTTP://`.
    let scheme_end = first.find("://").map_or(0, |i| i + 3);
    let Some(address) = first
        .get(..scheme_end)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &first[scheme_end..])
    else {
        return Err(invalid(
            "only http:// listeners are supported (https is not yet)",
        ));
    };
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected http://host:port"))?;
    port.parse::<u16>()
        .map_err(|_| invalid("the port is not a number"))?;
    Ok(format!("{host}:{port}"))
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_connect_api::props_of;

    #[test]
    fn defaults_match_kafka_connect() {
        let (c, warnings) =
            WorkerConfig::from_properties(&props_of(&[]), "http://127.0.0.1:8083").expect("config");
        assert!(warnings.is_empty());
        assert_eq!(c.bootstrap_servers, "localhost:9092");
        assert_eq!(c.config_topic, "connect-configs");
        assert_eq!(c.offsets_topic, "connect-offsets");
        assert_eq!(c.status_topic, "connect-status");
        assert_eq!(c.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(c.rest_bind, "127.0.0.1:8083");
        assert_eq!(c.worker_id, "127.0.0.1:8083");
    }

    #[test]
    fn the_older_rest_port_keys_still_place_the_rest_api() {
        let (c, warnings) = WorkerConfig::from_properties(
            &props_of(&[
                ("rest.port", "18083"),
                ("rest.advertised.host.name", "connect"),
            ]),
            "http://127.0.0.1:8083",
        )
        .expect("config");
        assert!(warnings.is_empty());
        assert_eq!(c.rest_bind, ":18083");
        assert_eq!(c.worker_id, "connect:18083");
        // As Kafka's connect-distributed.properties spells it.
        let (c, _) = WorkerConfig::from_properties(
            &props_of(&[("listeners", "HTTP://:8084")]),
            "http://127.0.0.1:8083",
        )
        .expect("config");
        assert_eq!(c.rest_bind, ":8084");
    }

    #[test]
    fn typos_warn_and_bad_values_fail() {
        let (_, warnings) = WorkerConfig::from_properties(
            &props_of(&[("offset.flush.interval", "10")]),
            "http://:8083",
        )
        .expect("config");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .0
                .contains("did you mean 'offset.flush.interval.ms'"),
            "{}",
            warnings[0].0
        );
        assert!(WorkerConfig::from_properties(
            &props_of(&[("listeners", "https://:8443")]),
            "http://:8083"
        )
        .is_err());
        assert!(WorkerConfig::from_properties(
            &props_of(&[("topic.creation.enable", "yes")]),
            "http://:8083"
        )
        .is_err());
    }

    #[test]
    fn connector_overrides_beat_worker_client_settings() {
        let (c, _) = WorkerConfig::from_properties(
            &props_of(&[("producer.linger.ms", "5"), ("producer.batch.size", "1000")]),
            "http://:8083",
        )
        .expect("config");
        let client = c.client(
            "producer.",
            &props_of(&[("producer.override.linger.ms", "50")]),
        );
        assert_eq!(client.get("linger.ms"), Some("50"));
        assert_eq!(client.get("batch.size"), Some("1000"));
    }

    #[test]
    fn clients_reconnect_as_java_clients_do_unless_told_otherwise() {
        let (c, _) = WorkerConfig::from_properties(
            &props_of(&[("consumer.reconnect.backoff.ms", "200")]),
            "http://:8083",
        )
        .expect("config");
        let producer = c.client("producer.", &props_of(&[]));
        assert_eq!(producer.get("reconnect.backoff.ms"), Some("50"));
        assert_eq!(producer.get("reconnect.backoff.max.ms"), Some("1000"));
        let consumer = c.client("consumer.", &props_of(&[]));
        assert_eq!(consumer.get("reconnect.backoff.ms"), Some("200"));
        let overridden = c.client(
            "producer.",
            &props_of(&[("producer.override.reconnect.backoff.max.ms", "30000")]),
        );
        assert_eq!(overridden.get("reconnect.backoff.max.ms"), Some("30000"));
    }
}
