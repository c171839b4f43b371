//! The offsets API (KIP-875): read, alter and reset a connector's offsets. Source offsets live in
//! the offsets topic; a sink's are its consumer group `connect-<name>`. Changes need the
//! connector STOPPED.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value as Json};
use sluice_connect_api::{Props, SourceMap};

use super::plugins::{ConnectorType, Plugins};
use super::{Herder, HerderError, Inner, Result, WRITE_TIMEOUT};
use crate::storage::{records, TargetState};
use crate::worker::sink::SinkTopics;

const ALTERED: &str = "The offsets for this connector have been altered successfully";
const ALTERED_FRAMEWORK: &str = "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.";
const RESET: &str = "The offsets for this connector have been reset successfully";
const RESET_FRAMEWORK: &str = "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.";

/// One entry of an alter request: a partition and its new offset (`None` resets it).
pub type OffsetChange = (SourceMap, Option<SourceMap>);

impl Herder {
    fn kind(&self, inner: &Inner, name: &str) -> Result<(Props, ConnectorType)> {
        let props = inner
            .configs
            .connectors
            .get(name)
            .cloned()
            .ok_or_else(|| HerderError::NotFound(format!("Connector {name} not found")))?;
        let kind = props
            .get("connector.class")
            .and_then(|c| self.shared.plugins.connector(c))
            .map(Plugins::connector_type)
            .ok_or_else(|| {
                HerderError::BadRequest(format!("The connector class of {name} is not known"))
            })?;
        Ok((props, kind))
    }

    fn require_stopped(&self, inner: &Inner, name: &str) -> Result<()> {
        if inner.configs.target_states.get(name) == Some(&TargetState::Stopped) {
            return Ok(());
        }
        Err(HerderError::BadRequest(format!(
            "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
        )))
    }

    /// `GET /connectors/{name}/offsets`.
    pub async fn offsets(&self, name: &str) -> Result<Json> {
        let (props, kind) = {
            let inner = self.inner.lock().await;
            self.kind(&inner, name)?
        };
        let entries: Vec<Json> = match kind {
            ConnectorType::Source => self
                .shared
                .offsets
                .of_connector(name)
                .into_iter()
                .map(|(p, o)| json!({"partition": p, "offset": o}))
                .collect(),
            ConnectorType::Sink => {
                let client = self.shared.config.base_client();
                let group = format!("connect-{name}");
                tokio::task::spawn_blocking(move || sink_offsets(&client, &group, &props))
                    .await
                    .map_err(|e| HerderError::Internal(e.to_string()))??
                    .into_iter()
                    .map(|(topic, partition, offset)| {
                        json!({"partition": {"kafka_topic": topic, "kafka_partition": partition}, "offset": {"kafka_offset": offset}})
                    })
                    .collect()
            }
        };
        Ok(json!({ "offsets": entries }))
    }

    /// `PATCH /connectors/{name}/offsets`.
    pub async fn alter_offsets(&self, name: &str, changes: Vec<OffsetChange>) -> Result<Json> {
        let inner = self.inner.lock().await;
        let (props, kind) = self.kind(&inner, name)?;
        self.require_stopped(&inner, name)?;
        if changes.is_empty() {
            return Err(HerderError::BadRequest(
                "Partitions / offsets need to be provided for an alter offsets request".into(),
            ));
        }
        let vouched = self.connector_alter_offsets(&props, &changes)?;
        match kind {
            ConnectorType::Source => {
                for (partition, offset) in &changes {
                    self.write_offset(name, partition, offset.as_ref()).await?;
                }
            }
            ConnectorType::Sink => {
                let mut commits = Vec::new();
                for (partition, offset) in &changes {
                    let (topic, p) = sink_partition(partition)?;
                    let Some(offset) = offset else {
                        return Err(HerderError::BadRequest(
                            "Resetting single sink partitions is not supported yet; use DELETE /connectors/{name}/offsets to reset them all".replace("{name}", name),
                        ));
                    };
                    let value = offset
                        .get("kafka_offset")
                        .and_then(Json::as_i64)
                        .filter(|o| *o >= 0)
                        .ok_or_else(|| {
                            HerderError::BadRequest(
                                "Offset objects should either be null or contain the key 'kafka_offset' with a non-negative integer value".into(),
                            )
                        })?;
                    commits.push((topic, p, value));
                }
                let client = self.shared.config.base_client();
                let group = format!("connect-{name}");
                tokio::task::spawn_blocking(move || commit_sink_offsets(&client, &group, &commits))
                    .await
                    .map_err(|e| HerderError::Internal(e.to_string()))??;
            }
        }
        Ok(json!({"message": if vouched { ALTERED } else { ALTERED_FRAMEWORK }}))
    }

    /// `DELETE /connectors/{name}/offsets`.
    pub async fn reset_offsets(&self, name: &str) -> Result<Json> {
        let inner = self.inner.lock().await;
        let (props, kind) = self.kind(&inner, name)?;
        self.require_stopped(&inner, name)?;
        let vouched = match kind {
            ConnectorType::Source => {
                let current = self.shared.offsets.of_connector(name);
                let changes: Vec<OffsetChange> =
                    current.into_iter().map(|(p, _)| (p, None)).collect();
                let vouched = self.connector_alter_offsets(&props, &changes)?;
                for (partition, _) in &changes {
                    self.write_offset(name, partition, None).await?;
                }
                vouched
            }
            ConnectorType::Sink => {
                let vouched = self.connector_alter_offsets(&props, &[])?;
                let admin: AdminClient<DefaultClientContext> = self
                    .shared
                    .config
                    .base_client()
                    .create()
                    .map_err(|e| HerderError::Internal(e.to_string()))?;
                let group = format!("connect-{name}");
                let options = AdminOptions::new().operation_timeout(Some(WRITE_TIMEOUT));
                let results = admin
                    .delete_groups(&[group.as_str()], &options)
                    .await
                    .map_err(|e| HerderError::Internal(e.to_string()))?;
                for result in results {
                    match result {
                        Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                        Err((_, code)) => {
                            return Err(HerderError::Internal(format!(
                                "could not delete the consumer group {group}: {code}"
                            )))
                        }
                    }
                }
                vouched
            }
        };
        Ok(json!({"message": if vouched { RESET } else { RESET_FRAMEWORK }}))
    }

    /// Lets the connector check the change; true when it vouches for it.
    fn connector_alter_offsets(&self, props: &Props, changes: &[OffsetChange]) -> Result<bool> {
        let plugin = props
            .get("connector.class")
            .and_then(|c| self.shared.plugins.connector(c))
            .ok_or_else(|| HerderError::BadRequest("unknown connector class".into()))?;
        let result = match plugin.kind {
            sluice_connect_api::PluginKind::Source(new) => new().alter_offsets(props, changes),
            sluice_connect_api::PluginKind::Sink(new) => new().alter_offsets(props, changes),
        };
        result.map_err(|e| match e {
            sluice_connect_api::ConnectError::Config { message, .. } => {
                HerderError::BadRequest(message)
            }
            other => HerderError::BadRequest(other.to_string()),
        })
    }

    async fn write_offset(
        &self,
        name: &str,
        partition: &SourceMap,
        offset: Option<&SourceMap>,
    ) -> Result<()> {
        let (key, value) = records::source_offset(name, partition, offset);
        let topic = self.shared.config.offsets_topic.clone();
        self.send_internal(&topic, &key, value.as_deref())
            .await
            .map_err(|e| HerderError::Internal(format!("could not write offsets: {e}")))?;
        self.shared.offsets.apply(&key, value.as_deref());
        Ok(())
    }
}

fn sink_partition(partition: &SourceMap) -> Result<(String, i32)> {
    let topic = partition.get("kafka_topic").and_then(Json::as_str);
    let p = partition
        .get("kafka_partition")
        .and_then(Json::as_i64)
        .and_then(|p| i32::try_from(p).ok());
    match (topic, p) {
        (Some(t), Some(p)) => Ok((t.to_string(), p)),
        _ => Err(HerderError::BadRequest(
            "Partition objects for sink connectors should contain the keys 'kafka_topic' and 'kafka_partition'".into(),
        )),
    }
}

/// A consumer that reads and commits the group's offsets without joining it.
fn group_consumer(client: &rdkafka::ClientConfig, group: &str) -> Result<BaseConsumer> {
    client
        .clone()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| HerderError::Internal(e.to_string()))
}

/// The committed offsets of the sink's group over every partition of its topics.
fn sink_offsets(
    client: &rdkafka::ClientConfig,
    group: &str,
    props: &Props,
) -> Result<Vec<(String, i32, i64)>> {
    let internal = |e: rdkafka::error::KafkaError| HerderError::Internal(e.to_string());
    let consumer = group_consumer(client, group)?;
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(None, timeout).map_err(internal)?;
    let topics = SinkTopics::from_config(props);
    let mut tpl = TopicPartitionList::new();
    for topic in metadata.topics() {
        if topics.matches(topic.name()) {
            for p in topic.partitions() {
                tpl.add_partition(topic.name(), p.id());
            }
        }
    }
    if tpl.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer.committed_offsets(tpl, timeout).map_err(internal)?;
    let mut out: Vec<(String, i32, i64)> = committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.topic().to_string(), e.partition(), o)),
            _ => None,
        })
        .collect();
    out.sort();
    Ok(out)
}

fn commit_sink_offsets(
    client: &rdkafka::ClientConfig,
    group: &str,
    commits: &[(String, i32, i64)],
) -> Result<()> {
    let internal = |e: rdkafka::error::KafkaError| HerderError::Internal(e.to_string());
    let consumer = group_consumer(client, group)?;
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, offset) in commits {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(internal)?;
    }
    consumer.commit(&tpl, CommitMode::Sync).map_err(internal)
}
