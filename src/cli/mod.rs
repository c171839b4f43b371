//! The client subcommands, modelled on Kafka's console tools, built on librdkafka.

pub mod consume;
pub mod groups;
pub mod produce;
pub mod topics;
pub mod transform;

use std::time::Duration;

use anyhow::Result;
use rdkafka::ClientConfig;

use crate::properties;

pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Client settings shared by every client subcommand.
pub fn client_config(bootstrap: &str, extra: &[String], flag: &str) -> Result<ClientConfig> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config.set("client.id", "sluice-cli");
    for (key, value) in properties::parse_overrides(extra, flag)? {
        config.set(key, value);
    }
    Ok(config)
}
