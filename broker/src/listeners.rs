//! Named listeners as Kafka configures them: `listeners`, `advertised.listeners`,
//! `listener.security.protocol.map` and `controller.listener.names`.
//!
//! A client is told the advertised address of the listener it connected through, so one broker
//! can serve containers on an inner network (`PLAINTEXT://broker:29092`) and the host
//! (`PLAINTEXT_HOST://localhost:9092`) at once, as the Confluent images' compose files set it up.

use std::collections::BTreeMap;

use crate::config::ConfigError;

/// An address `NAME://host:port`; the name is a listener name, not necessarily a protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn parse(key: &str, spec: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            key: key.to_string(),
            value: spec.to_string(),
            reason: reason.to_string(),
        };
        let (name, addr) = spec
            .split_once("://")
            .ok_or_else(|| invalid("expected NAME://host:port"))?;
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing :port"))?;
        let port = port.parse().map_err(|_| invalid("port is not a number"))?;
        Ok(Self {
            name: name.to_ascii_uppercase(),
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
        })
    }

    pub fn bind_address(&self) -> String {
        let host = if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        };
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.name, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.name, self.host, self.port)
        }
    }
}

/// One listener the broker accepts clients on, and the address those clients are told to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub bind: Listener,
    /// Its port may be 0 until the socket is bound.
    pub advertised: Listener,
}

/// Kafka's default `listener.security.protocol.map`: each protocol names itself.
const DEFAULT_PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// The endpoints `listeners` and `advertised.listeners` describe. Controller listeners are left
/// out: a single Sluice node has no KRaft quorum to serve.
pub fn endpoints(
    listeners: &str,
    advertised: Option<&str>,
    protocol_map: Option<&str>,
    controller_names: Option<&str>,
) -> Result<Vec<Endpoint>, ConfigError> {
    let protocols = protocol_map_of(protocol_map)?;
    let controllers: Vec<String> = split_list(controller_names.unwrap_or(""))
        .map(str::to_ascii_uppercase)
        .collect();
    let bound = parse_list("listeners", listeners)?;
    let mut advertised = parse_list("advertised.listeners", advertised.unwrap_or(""))?;
    let mut endpoints = Vec::new();
    for bind in bound {
        if controllers.contains(&bind.name) {
            continue;
        }
        let protocol = protocols
            .get(&bind.name)
            .ok_or_else(|| ConfigError::Invalid {
                key: "listeners".into(),
                value: bind.to_string(),
                reason: format!(
                    "listener name {} is not in listener.security.protocol.map",
                    bind.name
                ),
            })?;
        if protocol != "PLAINTEXT" {
            return Err(ConfigError::Unsupported(format!(
                "listener '{bind}' uses {protocol}: only PLAINTEXT listeners are supported"
            )));
        }
        let shown = match advertised.iter().position(|a| a.name == bind.name) {
            Some(i) => advertised.remove(i),
            None => {
                let mut a = bind.clone();
                if a.host.is_empty() || a.host == "0.0.0.0" || a.host == "::" {
                    a.host = "127.0.0.1".to_string();
                }
                a
            }
        };
        endpoints.push(Endpoint {
            bind,
            advertised: shown,
        });
    }
    if let Some(stray) = advertised.iter().find(|a| !controllers.contains(&a.name)) {
        return Err(ConfigError::Invalid {
            key: "advertised.listeners".into(),
            value: stray.to_string(),
            reason: format!("no listener is named {}", stray.name),
        });
    }
    if endpoints.is_empty() {
        return Err(ConfigError::Invalid {
            key: "listeners".into(),
            value: listeners.to_string(),
            reason: "no listener for clients (every one is a controller listener)".into(),
        });
    }
    Ok(endpoints)
}

fn split_list(spec: &str) -> impl Iterator<Item = &str> {
    spec.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_list(key: &str, spec: &str) -> Result<Vec<Listener>, ConfigError> {
    let mut listeners: Vec<Listener> = Vec::new();
    for item in split_list(spec) {
        let listener = Listener::parse(key, item)?;
        if listeners.iter().any(|l| l.name == listener.name) {
            return Err(ConfigError::Invalid {
                key: key.into(),
                value: spec.into(),
                reason: format!("listener name {} appears twice", listener.name),
            });
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

fn protocol_map_of(spec: Option<&str>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut map: BTreeMap<String, String> = DEFAULT_PROTOCOLS
        .iter()
        .map(|p| (p.to_string(), p.to_string()))
        .collect();
    let Some(spec) = spec else {
        return Ok(map);
    };
    map.clear();
    for pair in split_list(spec) {
        let (name, protocol) = pair.split_once(':').ok_or_else(|| ConfigError::Invalid {
            key: "listener.security.protocol.map".into(),
            value: spec.into(),
            reason: format!("'{pair}' is not NAME:PROTOCOL"),
        })?;
        let protocol = protocol.trim().to_ascii_uppercase();
        if !DEFAULT_PROTOCOLS.contains(&protocol.as_str()) {
            return Err(ConfigError::Invalid {
                key: "listener.security.protocol.map".into(),
                value: spec.into(),
                reason: format!("unknown security protocol {protocol}"),
            });
        }
        map.insert(name.trim().to_ascii_uppercase(), protocol);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confluent_compose_pair_of_listeners_advertises_each_by_name() {
        let endpoints = endpoints(
            "PLAINTEXT://broker:29092,CONTROLLER://broker:29093,PLAINTEXT_HOST://0.0.0.0:9092",
            Some("PLAINTEXT://broker:29092,PLAINTEXT_HOST://localhost:9092"),
            Some("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT"),
            Some("CONTROLLER"),
        )
        .expect("endpoints");
        let shown: Vec<String> = endpoints.iter().map(|e| e.advertised.to_string()).collect();
        assert_eq!(
            shown,
            [
                "PLAINTEXT://broker:29092",
                "PLAINTEXT_HOST://localhost:9092"
            ]
        );
        assert_eq!(endpoints[1].bind.bind_address(), "0.0.0.0:9092");
    }

    #[test]
    fn an_unadvertised_wildcard_listener_is_shown_as_loopback() {
        let endpoints = endpoints("PLAINTEXT://:9092", None, None, None).expect("endpoints");
        assert_eq!(
            endpoints[0].advertised.to_string(),
            "PLAINTEXT://127.0.0.1:9092"
        );
    }

    #[test]
    fn mistakes_are_refused_with_the_reason() {
        let err = |l: &str, a: Option<&str>, m: Option<&str>| {
            endpoints(l, a, m, None).expect_err(l).to_string()
        };
        assert!(err("SSL://:9093", None, None).contains("only PLAINTEXT"));
        assert!(err("INTERNAL://:9093", None, None).contains("not in listener.security"));
        assert!(err("PLAINTEXT://:1,PLAINTEXT://:2", None, None).contains("appears twice"));
        assert!(err("PLAINTEXT://:1", Some("OTHER://h:1"), None).contains("no listener"));
        assert!(err("A://:1", None, Some("A:PLAINTEXT,B:SPDY")).contains("SPDY"));
    }
}
