//! The registry's settings, under the keys of Confluent's `schema-registry.properties`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::avro::Level;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Address to bind, `host:port`.
    pub bind: String,
    pub bootstrap_servers: String,
    pub topic: String,
    pub replication_factor: i32,
    /// How long a write may take to be read back before the caller gets 50002.
    pub store_timeout: Duration,
    /// Level for subjects with none of their own, until `PUT /config` sets one.
    pub default_level: Level,
    /// Whether `PUT /mode` is allowed.
    pub mode_mutable: bool,
    /// Client settings passed through to the Kafka clients (`kafkastore.` prefix removed).
    pub client: BTreeMap<String, String>,
}

/// Keys this registry reads; others are reported as ignored.
const KNOWN: &[&str] = &[
    "listeners",
    "host.name",
    "kafkastore.bootstrap.servers",
    "kafkastore.topic",
    "kafkastore.topic.replication.factor",
    "kafkastore.timeout.ms",
    "schema.compatibility.level",
    "avro.compatibility.level",
    "mode.mutability",
];

/// Kafka client keys a `kafkastore.` prefix may carry through to librdkafka.
const CLIENT_KEYS: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
];

impl RegistryConfig {
    /// Reads `props` (file keys; `SCHEMA_REGISTRY_*` variables already turned into keys),
    /// returning the config and the keys it ignored.
    pub fn from_properties(
        props: &BTreeMap<String, String>,
        default_listener: &str,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let get = |k: &str| props.get(k).map(|v| v.trim().to_string());
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.to_string(),
            message,
        };
        let listener = get("listeners")
            .and_then(|l| l.split(',').next().map(|s| s.trim().to_string()))
            .unwrap_or_else(|| default_listener.to_string());
        let bind = listener
            .strip_prefix("http://")
            .ok_or_else(|| invalid("listeners", format!("{listener} is not an http:// URL")))?
            .trim_end_matches('/')
            .to_string();
        let bind = match bind.strip_prefix(':') {
            Some(port) => format!("0.0.0.0:{port}"),
            None => bind,
        };
        let bootstrap_servers = get("kafkastore.bootstrap.servers")
            .map(|s| {
                s.split(',')
                    .map(|b| b.trim().trim_start_matches("PLAINTEXT://"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_else(|| "127.0.0.1:9092".to_string());
        let number = |key: &str, default: u64| -> Result<u64, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| invalid(key, format!("{v} is not a number"))),
            }
        };
        let level_text = get("schema.compatibility.level")
            .or_else(|| get("avro.compatibility.level"))
            .unwrap_or_else(|| "backward".into());
        let default_level = level_text.parse().map_err(|_| {
            invalid(
                "schema.compatibility.level",
                format!("{level_text} is not a compatibility level"),
            )
        })?;
        let mode_mutable = match get("mode.mutability").as_deref() {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => return Err(invalid("mode.mutability", format!("{v} is not a boolean"))),
        };
        let mut client = BTreeMap::new();
        let mut ignored = Vec::new();
        for (key, value) in props {
            if KNOWN.contains(&key.as_str()) {
                continue;
            }
            match key.strip_prefix("kafkastore.") {
                Some(k) if CLIENT_KEYS.contains(&k) => {
                    client.insert(k.to_string(), value.clone());
                }
                _ => ignored.push(key.clone()),
            }
        }
        let config = Self {
            bind,
            bootstrap_servers,
            topic: get("kafkastore.topic").unwrap_or_else(|| "_schemas".into()),
            replication_factor: number("kafkastore.topic.replication.factor", 3)? as i32,
            store_timeout: Duration::from_millis(number("kafkastore.timeout.ms", 500)?),
            default_level,
            mode_mutable,
            client,
        };
        Ok((config, ignored))
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
    fn confluent_keys_are_read_and_others_reported() {
        let (config, ignored) = RegistryConfig::from_properties(
            &props(&[
                ("listeners", "http://0.0.0.0:18081"),
                (
                    "kafkastore.bootstrap.servers",
                    "PLAINTEXT://k1:9092,k2:9092",
                ),
                ("kafkastore.topic", "_s"),
                ("schema.compatibility.level", "full_transitive"),
                ("debug", "true"),
            ]),
            "http://127.0.0.1:8081",
        )
        .expect("valid");
        assert_eq!(config.bind, "0.0.0.0:18081");
        assert_eq!(config.bootstrap_servers, "k1:9092,k2:9092");
        assert_eq!(config.topic, "_s");
        assert_eq!(config.default_level, Level::FullTransitive);
        assert_eq!(ignored, ["debug"]);
    }

    #[test]
    fn a_bad_level_names_the_key() {
        let error = RegistryConfig::from_properties(
            &props(&[("schema.compatibility.level", "sideways")]),
            "http://127.0.0.1:8081",
        )
        .expect_err("invalid");
        assert!(error.to_string().starts_with("schema.compatibility.level"));
    }
}
